/*
 * test_viewer_b64 - the viewer's base64 encoders against EVP_EncodeBlock:
 * the portable, SSSE3 and AVX2 encoders (as far as the CPU has them) for
 * every length up to 300 and random
 * ones; the writer's envelope lines for random lengths fed in random
 * pieces (block separators included) against lines made with
 * EVP_EncodeBlock, 57 bytes each; and the canonical output equal to the
 * page with its CRs dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "crypto/viewer.h"
#include "util/buf.h"

#define BLOCK_SEP "</script>\r\n" VIEWER_ENVELOPE_MORE "\r\n"

/* collect - viewer_out_fn appending to a buf */
static int collect(void *arg, const void *data, size_t len)
{
    return buf_add(arg, data, len);
}

/* next_rand - a small deterministic generator (xorshift64) */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* random_bytes - len pseudo-random bytes (caller frees) */
static unsigned char *random_bytes(size_t len, uint64_t *seed)
{
    unsigned char *p = malloc(len + 1);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(next_rand(seed) >> 32);
    return p;
}

/* check_encode - both encoders give EVP_EncodeBlock's text for in[0, len) */
static void check_encode(const unsigned char *in, size_t len)
{
    size_t want_len = 4 * ((len + 2) / 3);
    unsigned char *want = malloc(want_len + 1);
    char *got = malloc(want_len + 1);

    assert_non_null(want);
    assert_non_null(got);
    assert_int_equal((size_t)EVP_EncodeBlock(want, in, (int)len), want_len);
    for (int simd = 0; simd <= 2; simd++) {
        memset(got, '#', want_len + 1);
        assert_int_equal(viewer_b64_encode(got, in, len, simd), want_len);
        assert_memory_equal(got, want, want_len);
        assert_int_equal(got[want_len], '#');     /* nothing written past the end */
    }
    free(want);
    free(got);
}

static void test_encode_matches_openssl(void **state)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    unsigned char *in = random_bytes(70000, &seed);
    static const unsigned char edge[] = { 0x00, 0xff, 0xfb, 0xef, 0xbe, 0x3e, 0x3f, 0xfc };

    (void)state;
    for (size_t len = 0; len <= 300; len++)
        check_encode(in, len);
    for (int i = 0; i < 200; i++) {
        size_t off = (size_t)(next_rand(&seed) % 1000), len = (size_t)(next_rand(&seed) % 69000);

        check_encode(in + off, len);
    }
    /* the characters at the ends of the alphabet (+ / and the letter and digit edges) */
    for (size_t i = 0; i < sizeof(edge); i++) {
        unsigned char same[96];

        memset(same, edge[i], sizeof(same));
        check_encode(same, sizeof(same));
    }
    free(in);
}

/* expected_lines - the envelope text as the spec says: EVP_EncodeBlock of
 * each 57 bytes, CRLF, a block separator after every VIEWER_BLOCK_LINES lines */
static void expected_lines(const unsigned char *env, size_t len, struct buf *out)
{
    unsigned char line[80];
    size_t nline = 0;

    for (size_t off = 0; off < len; off += 57) {
        size_t n = len - off < 57 ? len - off : 57;
        int m = EVP_EncodeBlock(line, env + off, (int)n);

        if (nline > 0 && nline % VIEWER_BLOCK_LINES == 0)
            assert_int_equal(buf_adds(out, BLOCK_SEP), 0);
        assert_int_equal(buf_add(out, line, (size_t)m), 0);
        assert_int_equal(buf_adds(out, "\r\n"), 0);
        nline++;
    }
    assert_int_equal(buf_adds(out, "</script>"), 0);
}

/* drop_cr - s without its CR bytes, into out */
static void drop_cr(const struct buf *s, struct buf *out)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->data[i] != '\r')
            assert_int_equal(buf_addc(out, s->data[i]), 0);
}

static void test_writer_lines_in_random_pieces(void **state)
{
    static const char start[] = VIEWER_ENVELOPE_START "\r\n";
    uint64_t seed = 12345;
    size_t lens[] = { 0, 1, 56, 57, 58, 113, 114, 115, 4096, 65536,
                      (size_t)VIEWER_BLOCK_LINES * 57, (size_t)VIEWER_BLOCK_LINES * 57 + 1,
                      (size_t)VIEWER_BLOCK_LINES * 57 * 2 + 30, 0, 0, 0, 0 };
    size_t nlens = sizeof(lens) / sizeof(lens[0]);

    (void)state;
    for (size_t i = nlens - 4; i < nlens; i++)
        lens[i] = (size_t)(next_rand(&seed) % 300000);
    for (size_t i = 0; i < nlens; i++) {
        unsigned char *env = random_bytes(lens[i], &seed);
        struct buf page = BUF_INIT(64u * 1024 * 1024), canon = BUF_INIT(64u * 1024 * 1024);
        struct buf want = BUF_INIT(64u * 1024 * 1024), want_canon = BUF_INIT(64u * 1024 * 1024);
        struct viewer_writer *vw = viewer_writer_new(NULL, collect, &page);
        const char *at;

        assert_non_null(vw);
        assert_int_equal(viewer_writer_canon(vw, collect, &canon), 0);
        assert_int_equal(viewer_writer_begin(vw), 0);
        for (size_t off = 0; off < lens[i];) {
            /* pieces of 0 to 200 bytes, sometimes much larger */
            size_t k = (size_t)(next_rand(&seed) % 8 == 0 ? next_rand(&seed) % 20000
                                                           : next_rand(&seed) % 201);

            if (k > lens[i] - off)
                k = lens[i] - off;
            assert_int_equal(viewer_writer_data(vw, env + off, k), 0);
            off += k;
        }
        assert_int_equal(viewer_writer_finish(vw), 0);
        viewer_writer_free(vw);
        assert_int_equal(page.len, viewer_size(NULL, lens[i]));
        at = memmem(page.data, page.len, start, sizeof(start) - 1);
        assert_non_null(at);
        expected_lines(env, lens[i], &want);
        at += sizeof(start) - 1;
        assert_true((size_t)(page.data + page.len - at) >= want.len);
        assert_memory_equal(at, want.data, want.len);
        drop_cr(&page, &want_canon);
        assert_int_equal(canon.len, want_canon.len);
        assert_memory_equal(canon.data, want_canon.data, canon.len);
        buf_free(&page);
        buf_free(&canon);
        buf_free(&want);
        buf_free(&want_canon);
        free(env);
    }
}

static void test_canon_only_before_begin(void **state)
{
    struct buf page = BUF_INIT(1024 * 1024);
    struct viewer_writer *vw = viewer_writer_new(NULL, collect, &page);

    (void)state;
    assert_non_null(vw);
    assert_int_equal(viewer_writer_begin(vw), 0);
    assert_int_equal(viewer_writer_canon(vw, collect, &page), -1);
    assert_int_equal(viewer_writer_canon(NULL, collect, &page), -1);
    viewer_writer_free(vw);
    buf_free(&page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_openssl),
        cmocka_unit_test(test_writer_lines_in_random_pieces),
        cmocka_unit_test(test_canon_only_before_begin),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
