/*
 * test_marker - the loop-protection marker: made markers verify; any change
 * of key, Message-ID, recipients, body or time makes them fail; forged and
 * malformed values fail; the body digest ignores CR and trailing breaks,
 * also for random bodies fed in random pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "crypto/marker.h"
#include "tests/support/crlf_body.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char key2[32] = "0123456789abcdef0123456789abcdeX";
static const char *const rcpts[] = { "bob@partner.test", "Carol@Example.com" };
static const char *const rcpts_swapped[] = { "carol@example.com", "bob@partner.test" };
static const char *const rcpts_more[] = { "bob@partner.test", "carol@example.com", "eve@evil.test" };

/* digest_of - the body digest of s */
static void digest_of(const char *s, unsigned char out[MARKER_DIGEST_LEN])
{
    struct body_digest *bd = body_digest_new();

    assert_non_null(bd);
    assert_int_equal(body_digest_update(bd, s, strlen(s)), 0);
    assert_int_equal(body_digest_final(bd, out), 0);
    body_digest_free(bd);
}

/* make - a marker for the standard message at time t */
static void make(struct buf *out, time_t t, const unsigned char digest[MARKER_DIGEST_LEN])
{
    buf_init(out, 512);
    assert_int_equal(marker_make(key, sizeof(key), t, "<id1@example.com>", rcpts, 2, digest, out), 0);
}

static void test_roundtrip_and_tampering(void **state)
{
    unsigned char d[MARKER_DIGEST_LEN], d2[MARKER_DIGEST_LEN];
    struct buf m;
    time_t now = 1700000000;

    (void)state;
    digest_of("hello\r\nworld\r\n", d);
    digest_of("hello\r\nworld!\r\n", d2);
    make(&m, now, d);
    assert_true(strncmp(m.data, "v=1; t=1700000000; s=", 21) == 0);
    assert_int_equal(marker_verify(key, 32, m.data, now + 10, 3600, "<id1@example.com>", rcpts, 2, d), MARKER_VALID);
    /* the Message-ID is compared without surrounding white space */
    assert_int_equal(marker_verify(key, 32, m.data, now, 3600, " <id1@example.com> ", rcpts, 2, d), MARKER_VALID);
    /* recipient order and case do not matter */
    assert_int_equal(marker_verify(key, 32, m.data, now, 3600, "<id1@example.com>", rcpts_swapped, 2, d), MARKER_VALID);

    struct { const unsigned char *k; const char *id; const char *const *r; size_t nr;
             const unsigned char *dg; time_t now; enum marker_status want; } cases[] = {
        { key2, "<id1@example.com>", rcpts, 2, d, now, MARKER_BAD_SIGNATURE },
        { key, "<id2@example.com>", rcpts, 2, d, now, MARKER_BAD_SIGNATURE },
        { key, "<id1@example.com>", rcpts_more, 3, d, now, MARKER_BAD_SIGNATURE },
        { key, "<id1@example.com>", rcpts, 1, d, now, MARKER_BAD_SIGNATURE },
        { key, "<id1@example.com>", rcpts, 2, d2, now, MARKER_BAD_SIGNATURE },
        { key, NULL, rcpts, 2, d, now, MARKER_BAD_SIGNATURE },
        { key, "<id1@example.com>", rcpts, 2, d, now + 3601, MARKER_EXPIRED },
        { key, "<id1@example.com>", rcpts, 2, d, now - 3600, MARKER_EXPIRED },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(marker_verify(cases[i].k, 32, m.data, cases[i].now, 3600, cases[i].id,
                                       cases[i].r, cases[i].nr, cases[i].dg), cases[i].want);
    buf_free(&m);
}

static void test_forged_and_malformed(void **state)
{
    unsigned char d[MARKER_DIGEST_LEN];
    struct buf m, changed_t;
    time_t now = 1700000000;
    const char *bad[] = {
        "", "v=1", "v=2; t=1700000000; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=1; t=; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=1; t=1700000000; s=short",
        "v=1; t=1700000000; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= trailing",
        "v=1; t=-5; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=1; t=99999999999999999999999; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };

    (void)state;
    digest_of("body", d);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(marker_verify(key, 32, bad[i], now, 3600, "<id1@example.com>", rcpts, 2, d),
                         MARKER_MALFORMED);
    /* a well-formed marker with a random signature */
    assert_int_equal(marker_verify(key, 32, "v=1; t=1700000000; s=q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=",
                                   now, 3600, "<id1@example.com>", rcpts, 2, d), MARKER_BAD_SIGNATURE);
    /* moving the time of a genuine marker breaks it */
    make(&m, now, d);
    buf_init(&changed_t, 512);
    assert_int_equal(buf_printf(&changed_t, "v=1; t=%lld;%s", (long long)now + 1, strchr(m.data + 5, ';') + 1), 0);
    assert_int_equal(marker_verify(key, 32, changed_t.data, now, 3600, "<id1@example.com>", rcpts, 2, d),
                     MARKER_BAD_SIGNATURE);
    buf_free(&m);
    buf_free(&changed_t);
}

static void test_body_digest_canonical(void **state)
{
    unsigned char a[MARKER_DIGEST_LEN], b[MARKER_DIGEST_LEN];
    struct body_digest *bd;
    const char *same[] = { "line1\nline2", "line1\r\nline2\r\n", "line1\r\nline2\r\n\r\n\r\n" };

    (void)state;
    digest_of("line1\r\nline2", a);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        digest_of(same[i], b);
        assert_memory_equal(a, b, sizeof(a));
    }
    /* split anywhere, byte by byte */
    bd = body_digest_new();
    for (const char *p = "line1\r\nline2\r\n\r\n"; *p; p++)
        assert_int_equal(body_digest_update(bd, p, 1), 0);
    assert_int_equal(body_digest_final(bd, b), 0);
    body_digest_free(bd);
    assert_memory_equal(a, b, sizeof(a));
    /* an inner empty line is content */
    digest_of("line1\r\n\r\nline2", b);
    assert_memory_not_equal(a, b, sizeof(a));
}

/* test_body_digest_random - bodies of text, CRs and LFs (runs of each,
 * up to 70 KB, across the digest's 16 KB staging), fed in random pieces,
 * digest as SHA-256 of the body without CRs and trailing LFs */
static void test_body_digest_random(void **state)
{
    unsigned char want[MARKER_DIGEST_LEN], got[MARKER_DIGEST_LEN];
    unsigned seed = 12345;
    char *body = malloc(70000), *canon = malloc(70000);

    (void)state;
    assert_non_null(body);
    assert_non_null(canon);
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t)(rand_r(&seed) % (round < 100 ? 200 : 70000)), n = 0, off = 0;
        unsigned int dlen = 0;
        struct body_digest *bd = body_digest_new();

        n = test_crlf_body(&seed, body, len, canon);
        while (n > 0 && canon[n - 1] == '\n')
            n--;
        assert_int_equal(EVP_Digest(canon, n, want, &dlen, EVP_sha256(), NULL), 1);
        assert_non_null(bd);
        while (off < len) {
            size_t k = 1 + (size_t)(rand_r(&seed) % (len - off < 30000 ? len - off : 30000));

            assert_int_equal(body_digest_update(bd, body + off, k), 0);
            off += k;
        }
        assert_int_equal(body_digest_final(bd, got), 0);
        body_digest_free(bd);
        if (memcmp(want, got, sizeof(want)) != 0)
            fail_msg("round %d: %zu bytes: digest differs", round, len);
    }
    free(body);
    free(canon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_tampering),
        cmocka_unit_test(test_forged_and_malformed),
        cmocka_unit_test(test_body_digest_canonical),
        cmocka_unit_test(test_body_digest_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
