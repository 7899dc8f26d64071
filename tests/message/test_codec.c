/*
 * test_codec - base64 and quoted-printable decoders, the one-shot helpers
 * and the base64 encoder.  Every streaming case is decoded whole, split at
 * every position, split at every pair of positions, and one byte at a time;
 * all must give the same bytes and the same ->bad count.  Output buffers are
 * allocated at exactly CODEC_DEC_MAX(len) so the sanitizer build catches a
 * decoder that writes more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/codec.h"
#include "util/buf.h"

struct dec_case {
    const char *in;
    size_t inlen;        /* 0: strlen(in) */
    const char *out;
    size_t outlen;       /* 0: strlen(out) */
    size_t bad;
};

#define S(x) x, sizeof(x) - 1

static const struct dec_case b64_cases[] = {
    { "", 0, "", 0, 0 },
    { "QUJD", 0, "ABC", 0, 0 },
    { "QUI=", 0, "AB", 0, 0 },
    { "QQ==", 0, "A", 0, 0 },
    { "QUJDREVG", 0, "ABCDEF", 0, 0 },
    { "QUJD\r\nREVG\r\n", 0, "ABCDEF", 0, 0 },
    { "QUJD\nREVG\n", 0, "ABCDEF", 0, 0 },
    { " Q U\tJ D ", 0, "ABC", 0, 0 },
    { "QU*JD", 0, "ABC", 0, 1 },
    { "QU\xffJ\x01" "D", 0, "ABC", 0, 2 },
    { "QUJDR", 0, "ABC", 0, 1 },                 /* dangling 6 bits */
    { "QUJ", 0, "AB", 0, 0 },                    /* missing padding is fine */
    { "QQ", 0, "A", 0, 0 },
    { "QUI=\r\n", 0, "AB", 0, 0 },
    { "QQ==\r\n==", 0, "A", 0, 0 },
    { "QUI=QUJD", 0, "AB", 0, 4 },               /* data after padding is ignored */
    { "=QUJD", 0, "", 0, 5 },                    /* stray '=' then ignored data */
    { "QUJDR=", 0, "ABC", 0, 1 },                /* '=' after a lone 6-bit group */
    { "/+/+", 0, S("\xff\xef\xfe") , 0 },
    { "AAEC/w==", 0, S("\x00\x01\x02\xff"), 0 },
    { "aGVsbG8gd29ybGQ-_", 0, "hello world", 0, 2 },   /* base64url chars are junk */
    { "SGVs\r\nbG8=\r\n", 0, "Hello", 0, 0 },
};

static const struct dec_case qp_cases[] = {
    { "", 0, "", 0, 0 },
    { "abc", 0, "abc", 0, 0 },
    { "a=3Db", 0, "a=b", 0, 0 },
    { "a=3db", 0, "a=b", 0, 0 },                 /* lowercase hex accepted */
    { "caf=C3=A9", 0, "caf\xc3\xa9", 0, 0 },
    { "soft=\r\nbreak", 0, "softbreak", 0, 0 },
    { "soft=\nbreak", 0, "softbreak", 0, 0 },
    { "soft= \t\r\nbreak", 0, "softbreak", 0, 0 },  /* white space after '=' */
    { "soft=\t\nbreak", 0, "softbreak", 0, 0 },
    { "soft=\rbreak", 0, "softbreak", 0, 0 },     /* bare CR after '=' */
    { "hard\r\nline", 0, "hard\r\nline", 0, 0 },
    { "hard\nline", 0, "hard\nline", 0, 0 },
    { "trail  \r\nx", 0, "trail\r\nx", 0, 0 },   /* trailing white space dropped */
    { "trail \nx", 0, "trail\nx", 0, 0 },
    { "trail\t\r\n", 0, "trail\r\n", 0, 0 },
    { "x  ", 0, "x", 0, 0 },                     /* ... also at the end */
    { "a b\tc", 0, "a b\tc", 0, 0 },
    { "a  b", 0, "a  b", 0, 0 },
    { "  =\r\nx", 0, "  x", 0, 0 },              /* white space before a soft break stays */
    { "a=20\r\n", 0, "a \r\n", 0, 0 },           /* encoded white space stays */
    { "end=", 0, "end", 0, 0 },                  /* '=' at the end: soft break */
    { "end=4", 0, "end=4", 0, 1 },
    { "=ZZ", 0, "=ZZ", 0, 1 },
    { "=4Z", 0, "=4Z", 0, 1 },
    { "=4=41", 0, "=4A", 0, 1 },
    { "==41", 0, "=A", 0, 1 },
    { "= x", 0, "=x", 0, 1 },                    /* '=' and space inside a line */
    { "100%=\r\n=3D=20ok", 0, "100%= ok", 0, 0 },
    { "=00=FF", 0, S("\x00\xff"), 0 },
    { "8bit \xe9t\xe9", 0, "8bit \xe9t\xe9", 0, 0 },   /* raw 8-bit passes */
    { "a \t\r\n=\r\nb", 0, "a\r\nb", 0, 0 },
};

/* decode - run a decoder over in with cuts at the given positions */
static void decode(int qp, const char *in, size_t len, const size_t *cuts, size_t ncuts,
                   struct buf *out, size_t *bad)
{
    struct b64_dec bd;
    struct qp_dec qd;
    size_t pos = 0, i, n;
    unsigned char *tmp;

    b64_dec_init(&bd);
    qp_dec_init(&qd);
    for (i = 0; i <= ncuts; i++) {
        /* cppcheck-suppress nullPointer ; the last pass (i == ncuts) takes len, so cuts is read only when ncuts > 0 */
        size_t stop = i < ncuts ? cuts[i] : len;
        size_t chunk = stop - pos;

        tmp = malloc(CODEC_DEC_MAX(chunk));
        assert_non_null(tmp);
        n = qp ? qp_dec_update(&qd, in + pos, chunk, tmp)
               : b64_dec_update(&bd, in + pos, chunk, tmp);
        assert_true(n <= CODEC_DEC_MAX(chunk));
        assert_int_equal(buf_add(out, tmp, n), 0);
        free(tmp);
        pos = stop;
    }
    tmp = malloc(3);
    assert_non_null(tmp);
    n = qp ? qp_dec_final(&qd, tmp) : b64_dec_final(&bd, tmp);
    assert_true(n <= 3);
    assert_int_equal(buf_add(out, tmp, n), 0);
    free(tmp);
    *bad = qp ? qd.bad : bd.bad;
}

/* check_case - decode c whole and split in every way, compare with expected */
static void check_case(int qp, const struct dec_case *c)
{
    size_t len = c->inlen ? c->inlen : strlen(c->in);
    size_t outlen = c->outlen ? c->outlen : strlen(c->out);
    size_t cuts[4096];
    size_t i, j, bad;
    struct buf out = BUF_INIT(1 << 20);

    decode(qp, c->in, len, NULL, 0, &out, &bad);
    if (out.len != outlen || memcmp(buf_str(&out), c->out, outlen) != 0 || bad != c->bad)
        fail_msg("%s(\"%s\"): got \"%s\" bad %zu, want \"%s\" bad %zu",
                 qp ? "qp" : "b64", c->in, buf_str(&out), bad, c->out, c->bad);
    /* one cut at every position */
    for (i = 0; i <= len; i++) {
        buf_reset(&out);
        cuts[0] = i;
        decode(qp, c->in, len, cuts, 1, &out, &bad);
        if (out.len != outlen || memcmp(buf_str(&out), c->out, outlen) != 0 || bad != c->bad)
            fail_msg("%s(\"%s\") cut at %zu: got \"%s\" bad %zu", qp ? "qp" : "b64",
                     c->in, i, buf_str(&out), bad);
    }
    /* two cuts at every pair of positions */
    for (i = 0; i <= len; i++)
        for (j = i; j <= len; j++) {
            buf_reset(&out);
            cuts[0] = i;
            cuts[1] = j;
            decode(qp, c->in, len, cuts, 2, &out, &bad);
            if (out.len != outlen || memcmp(buf_str(&out), c->out, outlen) != 0 ||
                bad != c->bad)
                fail_msg("%s(\"%s\") cuts at %zu,%zu: got \"%s\" bad %zu",
                         qp ? "qp" : "b64", c->in, i, j, buf_str(&out), bad);
        }
    /* one byte at a time */
    assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
    for (i = 0; i < len; i++)
        cuts[i] = i + 1;
    buf_reset(&out);
    decode(qp, c->in, len, cuts, len, &out, &bad);
    assert_int_equal(out.len, outlen);
    assert_memory_equal(buf_str(&out), c->out, outlen);
    assert_int_equal(bad, c->bad);
    buf_free(&out);
}

/* test_b64_cases - the base64 table */
static void test_b64_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++)
        check_case(0, &b64_cases[i]);
}

/* test_qp_cases - the quoted-printable table */
static void test_qp_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(qp_cases) / sizeof(qp_cases[0]); i++)
        check_case(1, &qp_cases[i]);
}

/* test_qp_long_trailing_ws - a long trailing run inside one push is dropped whole */
static void test_qp_long_trailing_ws(void **state)
{
    static const char in[] = "text          \t    \r\nnext";
    struct buf out = BUF_INIT(1024);
    size_t bad;

    (void)state;
    decode(1, in, sizeof(in) - 1, NULL, 0, &out, &bad);
    assert_string_equal(buf_str(&out), "text\r\nnext");
    assert_int_equal(bad, 0);
    /* across a push boundary at most two bytes are held: the rest is kept */
    buf_reset(&out);
    {
        size_t cut = 14;           /* after "text" and ten spaces */

        decode(1, in, sizeof(in) - 1, &cut, 1, &out, &bad);
    }
    assert_string_equal(buf_str(&out), "text        \r\nnext");
    buf_free(&out);
}

/* test_qp_bound - worst cases for the output bound (white space and escapes held) */
static void test_qp_bound(void **state)
{
    static const char *const pushes[][2] = {
        { "a  ", "b" },            /* two held spaces flushed by one byte */
        { "a=4", "Z" },            /* "=4" held, then invalid */
        { "a \t", "=" },
        { "a=", "=" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(pushes) / sizeof(pushes[0]); i++) {
        struct qp_dec d;
        unsigned char *o1, *o2;
        size_t l1 = strlen(pushes[i][0]), l2 = strlen(pushes[i][1]);

        qp_dec_init(&d);
        o1 = malloc(CODEC_DEC_MAX(l1));
        o2 = malloc(CODEC_DEC_MAX(l2));
        assert_non_null(o1);
        assert_non_null(o2);
        assert_true(qp_dec_update(&d, pushes[i][0], l1, o1) <= CODEC_DEC_MAX(l1));
        assert_true(qp_dec_update(&d, pushes[i][1], l2, o2) <= CODEC_DEC_MAX(l2));
        free(o1);
        free(o2);
    }
}

/* test_b64_binary_roundtrip - every byte value survives encode and decode */
static void test_b64_binary_roundtrip(void **state)
{
    unsigned char data[1000];
    struct buf enc = BUF_INIT(4096), dec = BUF_INIT(4096);
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (n = 0; n <= sizeof(data); n += (n < 10 ? 1 : 97)) {
        buf_reset(&enc);
        buf_reset(&dec);
        assert_int_equal(b64_encode_buf(data, n, &enc), 0);
        assert_int_equal(enc.len, (n + 2) / 3 * 4);
        assert_int_equal(b64_decode_buf(buf_str(&enc), enc.len, &dec), 0);
        assert_int_equal(dec.len, n);
        if (n)
            assert_memory_equal(dec.data, data, n);
    }
    buf_free(&enc);
    buf_free(&dec);
}

/* test_b64_encode_vectors - RFC 4648 section 10 */
static void test_b64_encode_vectors(void **state)
{
    static const char *const v[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf out = BUF_INIT(64);

        assert_int_equal(b64_encode_buf((const unsigned char *)v[i][0], strlen(v[i][0]), &out), 0);
        assert_string_equal(buf_str(&out), v[i][1]);
        buf_free(&out);
    }
}

/* test_b64_decode_buf - one-shot decoding, junk skipped */
static void test_b64_decode_buf(void **state)
{
    static const char *const v[][2] = {
        { "Zm9vYmFy", "foobar" }, { "Zm9v\r\nYmE=", "fooba" }, { "Zg", "f" },
        { "Z!m9v", "foo" }, { "", "" }, { "Zm9=v", "fo" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf out = BUF_INIT(64);

        assert_int_equal(b64_decode_buf(v[i][0], strlen(v[i][0]), &out), 0);
        assert_string_equal(buf_str(&out), v[i][1]);
        buf_free(&out);
    }
}

/* test_b64_decode_buf_long - input longer than the internal chunk */
static void test_b64_decode_buf_long(void **state)
{
    struct buf enc = BUF_INIT(1 << 20), dec = BUF_INIT(1 << 20);
    unsigned char data[5000];

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i ^ (i >> 8));
    assert_int_equal(b64_encode_buf(data, sizeof(data), &enc), 0);
    assert_int_equal(b64_decode_buf(enc.data, enc.len, &dec), 0);
    assert_int_equal(dec.len, sizeof(data));
    assert_memory_equal(dec.data, data, sizeof(data));
    buf_free(&enc);
    buf_free(&dec);
}

/* test_b64_decode_buf_overflow - a full output buffer is reported */
static void test_b64_decode_buf_overflow(void **state)
{
    struct buf out = BUF_INIT(3);

    (void)state;
    assert_int_equal(b64_decode_buf("Zm9vYmFy", 8, &out), -1);
    assert_int_equal(out.len, 0);
}

/* test_qp_decode_word - RFC 2047 "Q" */
static void test_qp_decode_word(void **state)
{
    static const char *const v[][2] = {
        { "hello_world", "hello world" },
        { "=5Bencrypt=5D", "[encrypt]" },
        { "caf=C3=A9", "caf\xc3\xa9" },
        { "caf=c3=a9", "caf\xc3\xa9" },
        { "=5F_=20", "_  " },
        { "bad=ZZ", "bad=ZZ" },
        { "end=", "end=" },
        { "end=4", "end=4" },
        { "", "" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf out = BUF_INIT(64);

        assert_int_equal(qp_decode_word(v[i][0], strlen(v[i][0]), &out), 0);
        assert_string_equal(buf_str(&out), v[i][1]);
        buf_free(&out);
    }
}

/* test_qp_decode_word_long - longer than the internal chunk */
static void test_qp_decode_word_long(void **state)
{
    struct buf in = BUF_INIT(1 << 16), out = BUF_INIT(1 << 16);

    (void)state;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_adds(&in, "=41_"), 0);
    assert_int_equal(qp_decode_word(in.data, in.len, &out), 0);
    assert_int_equal(out.len, 2000);
    for (size_t i = 0; i < out.len; i += 2) {
        assert_int_equal(out.data[i], 'A');
        assert_int_equal(out.data[i + 1], ' ');
    }
    buf_free(&in);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_cases),
        cmocka_unit_test(test_qp_cases),
        cmocka_unit_test(test_qp_long_trailing_ws),
        cmocka_unit_test(test_qp_bound),
        cmocka_unit_test(test_b64_binary_roundtrip),
        cmocka_unit_test(test_b64_encode_vectors),
        cmocka_unit_test(test_b64_decode_buf),
        cmocka_unit_test(test_b64_decode_buf_long),
        cmocka_unit_test(test_b64_decode_buf_overflow),
        cmocka_unit_test(test_qp_decode_word),
        cmocka_unit_test(test_qp_decode_word_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
