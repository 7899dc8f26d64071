/*
 * test_marker_v2 - the v=2 loop marker: the body MAC is exactly the GMAC
 * the spec names (key HMAC-SHA256(loop secret, label || nonce), IV zero,
 * body as additional data) over the canonical body, also for random
 * bodies in random pieces and through the no-CR path; made markers
 * verify and every change of key, Message-ID, recipients, body, nonce or
 * time fails; malformed values; and marker_check: v1 and v2 markers
 * against one body, a replayed marker with another body, expired and
 * malformed ones hashing nothing, and the cap on v2 nonces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/marker.h"
#include "tests/support/crlf_body.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char key2[32] = "0123456789abcdef0123456789abcdeX";
static const unsigned char nonce1[16] = "nonce-number-one";
static const char *const rcpts[] = { "bob@partner.test", "Carol@Example.com" };
static const char *const rcpts_swapped[] = { "carol@example.com", "bob@partner.test" };
static const char *const rcpts_more[] = { "bob@partner.test", "carol@example.com", "eve@evil.test" };
static const char msgid[] = "<id1@example.com>";

/* auth_of - nonce || tag of body s under key k (nonce NULL: random) */
static void auth_of(const unsigned char *k, const unsigned char *nonce, const char *s,
                    unsigned char out[MARKER_BODY_AUTH_LEN])
{
    struct body_mac *bm = body_mac_new(k, 32, nonce);

    assert_non_null(bm);
    assert_int_equal(body_mac_update(bm, s, strlen(s)), 0);
    assert_int_equal(body_mac_final(bm, out), 0);
    body_mac_free(bm);
}

/* reference_tag - the spec's GMAC of canonical bytes, computed here independently */
static void reference_tag(const unsigned char nonce[16], const char *canon, size_t len,
                          unsigned char tag[16])
{
    static const unsigned char iv[12];
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mac = EVP_MAC_CTX_new(alg);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    unsigned char bkey[32], none[16];
    size_t n = 0;
    int outl = 0;
    EVP_CIPHER_CTX *gcm = EVP_CIPHER_CTX_new();

    assert_int_equal(EVP_MAC_init(mac, key, 32, params), 1);
    assert_int_equal(EVP_MAC_update(mac, (const unsigned char *)"mailseal-loop-v2 body", 21), 1);
    assert_int_equal(EVP_MAC_update(mac, nonce, 16), 1);
    assert_int_equal(EVP_MAC_final(mac, bkey, &n, sizeof(bkey)), 1);
    assert_int_equal(EVP_EncryptInit_ex(gcm, EVP_aes_256_gcm(), NULL, bkey, iv), 1);
    if (len > 0)
        assert_int_equal(EVP_EncryptUpdate(gcm, NULL, &outl, (const unsigned char *)canon, (int)len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(gcm, none, &outl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(gcm);
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(alg);
}

static void test_body_mac_is_the_specified_gmac(void **state)
{
    unsigned char a[MARKER_BODY_AUTH_LEN], b[MARKER_BODY_AUTH_LEN], want[16];
    const char *same[] = { "line1\nline2", "line1\r\nline2\r\n", "line1\r\nline2\r\n\r\n\r\n",
                           "\rline1\r\r\nline2\n\n" };

    (void)state;
    reference_tag(nonce1, "line1\nline2", 11, want);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        auth_of(key, nonce1, same[i], a);
        assert_memory_equal(a, nonce1, 16);
        assert_memory_equal(a + 16, want, 16);
    }
    /* an inner empty line is content; another nonce or key gives another tag */
    auth_of(key, nonce1, "line1\r\n\r\nline2", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    auth_of(key2, nonce1, "line1\nline2", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    auth_of(key, NULL, "line1\nline2", b);
    assert_memory_not_equal(a, b, 16);            /* a fresh random nonce */
    assert_memory_not_equal(a + 16, b + 16, 16);
    /* the empty body */
    reference_tag(nonce1, "", 0, want);
    auth_of(key, nonce1, "\r\n\r\n", a);
    assert_memory_equal(a + 16, want, 16);
}

/* test_body_mac_random - random bodies of text, CRs and LFs (long runs
 * too, across the 16 KB stage and the in-place threshold) in random
 * pieces; the no-CR path on the same body without CRs */
static void test_body_mac_random(void **state)
{
    unsigned seed = 4711;
    char *body = malloc(90000), *canon = malloc(90000);

    (void)state;
    assert_non_null(body);
    assert_non_null(canon);
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(rand_r(&seed) % (round < 60 ? 200 : 90000)), n = 0;
        unsigned char want[16], got[MARKER_BODY_AUTH_LEN], got2[MARKER_BODY_AUTH_LEN];
        struct body_mac *bm = body_mac_new(key, 32, nonce1), *bm2 = body_mac_new(key, 32, nonce1);

        assert_non_null(bm);
        assert_non_null(bm2);
        n = test_crlf_body(&seed, body, len, canon);
        for (size_t off = 0, k; off < len; off += k) {
            k = 1 + (size_t)(rand_r(&seed) % (len - off < 30000 ? len - off : 30000));
            assert_int_equal(body_mac_update(bm, body + off, k), 0);
        }
        for (size_t off = 0, k; off < n; off += k) {
            k = 1 + (size_t)(rand_r(&seed) % (n - off < 30000 ? n - off : 30000));
            assert_int_equal(body_mac_update_canon(bm2, canon + off, k), 0);
        }
        while (n > 0 && canon[n - 1] == '\n')
            n--;
        reference_tag(nonce1, canon, n, want);
        assert_int_equal(body_mac_final(bm, got), 0);
        assert_int_equal(body_mac_final(bm2, got2), 0);
        body_mac_free(bm);
        body_mac_free(bm2);
        if (memcmp(want, got + 16, 16) != 0 || memcmp(want, got2 + 16, 16) != 0)
            fail_msg("round %d: %zu bytes: tag differs", round, len);
    }
    free(body);
    free(canon);
}

static void test_v2_roundtrip_and_tampering(void **state)
{
    unsigned char a[MARKER_BODY_AUTH_LEN], other_body[MARKER_BODY_AUTH_LEN];
    unsigned char other_nonce[MARKER_BODY_AUTH_LEN];
    struct buf m = BUF_INIT(512);
    time_t now = 1700000000;

    (void)state;
    auth_of(key, NULL, "hello\r\nworld\r\n", a);
    auth_of(key, a, "hello\r\nworld!\r\n", other_body);       /* same nonce, other body */
    auth_of(key, NULL, "hello\r\nworld\r\n", other_nonce);     /* same body, other nonce */
    assert_int_equal(marker_make_v2(key, 32, now, msgid, rcpts, 2, a, &m), 0);
    assert_true(strncmp(m.data, "v=2; t=1700000000; n=", 21) == 0);
    assert_int_equal(m.len, 21 + 24 + 4 + 44);
    assert_int_equal(marker_verify_v2(key, 32, m.data, now + 10, 3600, msgid, rcpts, 2, a), MARKER_VALID);
    assert_int_equal(marker_verify_v2(key, 32, m.data, now, 3600, " <id1@example.com> ", rcpts, 2, a),
                     MARKER_VALID);
    assert_int_equal(marker_verify_v2(key, 32, m.data, now, 3600, msgid, rcpts_swapped, 2, a), MARKER_VALID);
    /* the v1 verifier does not take v2 values */
    assert_int_equal(marker_verify(key, 32, m.data, now, 3600, msgid, rcpts, 2, a), MARKER_MALFORMED);

    struct { const unsigned char *k; const char *id; const char *const *r; size_t nr;
             const unsigned char *auth; time_t now; enum marker_status want; } cases[] = {
        { key2, msgid, rcpts, 2, a, now, MARKER_BAD_SIGNATURE },
        { key, "<id2@example.com>", rcpts, 2, a, now, MARKER_BAD_SIGNATURE },
        { key, msgid, rcpts_more, 3, a, now, MARKER_BAD_SIGNATURE },
        { key, msgid, rcpts, 1, a, now, MARKER_BAD_SIGNATURE },
        { key, msgid, rcpts, 2, other_body, now, MARKER_BAD_SIGNATURE },
        { key, msgid, rcpts, 2, other_nonce, now, MARKER_BAD_SIGNATURE },
        { key, NULL, rcpts, 2, a, now, MARKER_BAD_SIGNATURE },
        { key, msgid, rcpts, 2, a, now + 3601, MARKER_EXPIRED },
        { key, msgid, rcpts, 2, a, now - 3600, MARKER_EXPIRED },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(marker_verify_v2(cases[i].k, 32, m.data, cases[i].now, 3600, cases[i].id,
                                          cases[i].r, cases[i].nr, cases[i].auth), cases[i].want);
    buf_free(&m);
}

static void test_v2_malformed(void **state)
{
    unsigned char a[MARKER_BODY_AUTH_LEN];
    time_t now = 1700000000;
    const char *bad[] = {
        "", "v=2", "v=3; t=1700000000; n=AAAAAAAAAAAAAAAAAAAAAA==; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=2; t=1700000000; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=2; t=1700000000; n=AAAA; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=2; t=1700000000; n=AAAAAAAAAAAAAAAAAAAAAA==, s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v=2; t=1700000000; n=AAAAAAAAAAAAAAAAAAAAAA==; s=AAAA",
        "v=2; t=1700000000; n=AAAAAAAAAAAAAAAAAAAAAA==; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= x",
        "v=2; t=; n=AAAAAAAAAAAAAAAAAAAAAA==; s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };

    (void)state;
    auth_of(key, NULL, "body", a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(marker_verify_v2(key, 32, bad[i], now, 3600, msgid, rcpts, 2, a), MARKER_MALFORMED);
}

/* feed_check - the whole body s into a marker check */
static void feed_check(struct marker_check *c, const char *s)
{
    size_t len = strlen(s);

    for (size_t off = 0; off < len; off += 3)
        assert_int_equal(marker_check_update(c, s + off, len - off < 3 ? len - off : 3), 0);
}

static void test_check_many_markers(void **state)
{
    const char *body = "Hello\r\nthis is the body\r\n", *forged_body = "Hello\r\nanother body\r\n";
    unsigned char d[MARKER_DIGEST_LEN], a[MARKER_BODY_AUTH_LEN], f[MARKER_BODY_AUTH_LEN];
    struct buf v1 = BUF_INIT(512), v2 = BUF_INIT(512), replay = BUF_INIT(512), old = BUF_INIT(512);
    struct body_digest *bd = body_digest_new();
    time_t now = 1700000000;
    struct marker_check *c;

    (void)state;
    assert_non_null(bd);
    assert_int_equal(body_digest_update(bd, body, strlen(body)), 0);
    assert_int_equal(body_digest_final(bd, d), 0);
    body_digest_free(bd);
    auth_of(key, NULL, body, a);
    auth_of(key, NULL, forged_body, f);
    assert_int_equal(marker_make(key, 32, now, msgid, rcpts, 2, d, &v1), 0);
    assert_int_equal(marker_make_v2(key, 32, now, msgid, rcpts, 2, a, &v2), 0);
    assert_int_equal(marker_make_v2(key, 32, now, msgid, rcpts, 2, f, &replay), 0);
    assert_int_equal(marker_make_v2(key, 32, now - 7200, msgid, rcpts, 2, a, &old), 0);

    const char *values[] = { "garbage", old.data, replay.data, v1.data, v2.data };
    const enum marker_status want[] = { MARKER_MALFORMED, MARKER_EXPIRED, MARKER_BAD_SIGNATURE,
                                        MARKER_VALID, MARKER_VALID };

    c = marker_check_new(key, 32, values, 5, now + 5, 3600);
    assert_non_null(c);
    assert_int_equal(marker_check_needs_body(c), 1);
    feed_check(c, body);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(marker_check_status(c, i, msgid, rcpts_swapped, 2), want[i]);
    assert_int_equal(marker_check_status(c, 5, msgid, rcpts, 2), MARKER_NOT_CHECKED);
    /* other recipients: the genuine ones fail too */
    assert_int_equal(marker_check_status(c, 4, msgid, rcpts_more, 3), MARKER_BAD_SIGNATURE);
    assert_int_equal(marker_check_status(c, 3, msgid, rcpts_more, 3), MARKER_BAD_SIGNATURE);
    assert_int_equal(marker_check_update(c, "x", 1), -1);     /* the body is over */
    marker_check_free(c);

    /* the replayed marker checked against the body it was made for is fine, the genuine one not */
    c = marker_check_new(key, 32, values + 2, 3, now, 3600);
    assert_non_null(c);
    feed_check(c, forged_body);
    assert_int_equal(marker_check_status(c, 0, msgid, rcpts, 2), MARKER_VALID);
    assert_int_equal(marker_check_status(c, 1, msgid, rcpts, 2), MARKER_BAD_SIGNATURE);
    assert_int_equal(marker_check_status(c, 2, msgid, rcpts, 2), MARKER_BAD_SIGNATURE);
    marker_check_free(c);

    /* only malformed and expired markers: nothing to hash */
    c = marker_check_new(key, 32, values, 2, now, 3600);
    assert_non_null(c);
    assert_int_equal(marker_check_needs_body(c), 0);
    assert_int_equal(marker_check_status(c, 0, msgid, rcpts, 2), MARKER_MALFORMED);
    assert_int_equal(marker_check_status(c, 1, msgid, rcpts, 2), MARKER_EXPIRED);
    marker_check_free(c);
    marker_check_free(NULL);
    buf_free(&v1);
    buf_free(&v2);
    buf_free(&replay);
    buf_free(&old);
}

static void test_check_caps_v2_nonces(void **state)
{
    const char *body = "capped body";
    struct buf v[MARKER_CHECK_MAX_MACS + 2];
    const char *values[MARKER_CHECK_MAX_MACS + 2];
    unsigned char a[MARKER_BODY_AUTH_LEN];
    size_t n = MARKER_CHECK_MAX_MACS + 2;
    time_t now = 1700000000;
    struct marker_check *c;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        buf_init(&v[i], 512);
        if (i != 1)
            auth_of(key, NULL, body, a);        /* v[1] repeats v[0]'s nonce: no extra MAC */
        assert_int_equal(marker_make_v2(key, 32, now, msgid, rcpts, 2, a, &v[i]), 0);
        values[i] = v[i].data;
    }
    c = marker_check_new(key, 32, values, n, now, 3600);
    assert_non_null(c);
    feed_check(c, body);
    /* values 0..MAX hold MAX distinct nonces and all verify; the last is beyond the cap */
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(marker_check_status(c, i, msgid, rcpts, 2), MARKER_VALID);
    assert_int_equal(marker_check_status(c, n - 1, msgid, rcpts, 2), MARKER_NOT_CHECKED);
    assert_string_equal(marker_status_str(MARKER_NOT_CHECKED), "not checked (too many markers)");
    marker_check_free(c);
    for (size_t i = 0; i < n; i++)
        buf_free(&v[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_mac_is_the_specified_gmac),
        cmocka_unit_test(test_body_mac_random),
        cmocka_unit_test(test_v2_roundtrip_and_tampering),
        cmocka_unit_test(test_v2_malformed),
        cmocka_unit_test(test_check_many_markers),
        cmocka_unit_test(test_check_caps_v2_nonces),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
