/*
 * test_charset - conversion to UTF-8: native UTF-8 and Windows-1252, iconv
 * charsets (Cyrillic, Japanese, Korean, Chinese, UTF-16), aliases and
 * mislabels, invalid bytes, the unknown-charset fallback and hostile names.
 * Every case is converted whole, with one cut at every position, with two
 * cuts at every pair of positions and one byte at a time: all must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <iconv.h>

#include <cmocka.h>

#include "message/charset.h"
#include "util/buf.h"

#define R "\xef\xbf\xbd"      /* U+FFFD */

struct cs_case {
    const char *charset;      /* NULL: absent */
    const char *in;
    size_t inlen;             /* 0: strlen(in) */
    const char *out;
    int unknown;
};

static const struct cs_case cases[] = {
    /* UTF-8, validated natively */
    { "utf-8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0 },
    { "UTF-8", "plain ascii", 0, "plain ascii", 0 },
    { "utf8", "\xc3\xa9", 0, "\xc3\xa9", 0 },
    { "utf-8", "a\xff" "b", 0, "a" R "b", 0 },
    { "utf-8", "a\xc3", 0, "a" R, 0 },                       /* incomplete at the end */
    { "utf-8", "\xe2\x82x", 0, R "x", 0 },                   /* one U+FFFD per maximal subpart */
    { "utf-8", "\xc0\xaf", 0, R R, 0 },                      /* overlong */
    { "utf-8", "\xe0\x80\xaf", 0, R R R, 0 },                /* overlong */
    { "utf-8", "\xed\xa0\x80", 0, R R R, 0 },                /* surrogate */
    { "utf-8", "\xf4\x90\x80\x80", 0, R R R R, 0 },          /* above U+10FFFF */
    { "utf-8", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf", 0 },   /* U+10FFFF */
    { "utf-8", "\x80\xbf", 0, R R, 0 },                      /* lone continuations */
    { "utf-8", "\xf0\x9f\x98", 0, R, 0 },
    { "utf-8", "x\xf0\x9f\x98" "y", 0, "x" R "y", 0 },
    { "utf-8", "nul\0byte", 8, "nul\0byte", 0 },
    /* Windows-1252 for Latin-1 and ASCII labels, as browsers do */
    { "iso-8859-1", "caf\xe9 \x80 \x93q\x94", 0, "caf\xc3\xa9 \xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d", 0 },
    { "ISO-8859-1", "\xfc\xdf", 0, "\xc3\xbc\xc3\x9f", 0 },
    { "latin1", "\xe9", 0, "\xc3\xa9", 0 },
    { "us-ascii", "\x93hi\x94", 0, "\xe2\x80\x9chi\xe2\x80\x9d", 0 },
    { "windows-1252", "\x81\x8d", 0, "\xc2\x81\xc2\x8d", 0 },    /* holes: C1 controls */
    { "iso-8859-15", "\xa4 \xbd", 0, "\xe2\x82\xac \xc5\x93", 0 },
    { "iso-8859-2", "\xb1", 0, "\xc4\x85", 0 },
    { "cp-850", "\x82", 0, "\xc3\xa9", 0 },
    /* Cyrillic */
    { "windows-1251", "\xcf\xf0\xe8\xe2\xe5\xf2, \xec\xe8\xf0", 0,
      "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80", 0 },
    { "KOI8-R", "\xf0\xd2\xc9\xd7\xc5\xd4", 0, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", 0 },
    /* Japanese: trail bytes in the ASCII range, stateful ISO-2022-JP */
    { "shift_jis", "\x93\xfa\x96\x7b x", 0, "\xe6\x97\xa5\xe6\x9c\xac x", 0 },
    { "x-sjis", "a\x93\xfa" "b", 0, "a\xe6\x97\xa5" "b", 0 },
    { "Shift-JIS", "\\~", 0, "\\~", 0 },
    { "shift_jis", "a\xff" "b", 0, "a" R "b", 0 },
    { "shift_jis", "a\x93", 0, "a" R, 0 },                   /* incomplete at the end */
    { "iso-2022-jp", "A\x1b$BF|K\\\x1b(B B", 0, "A\xe6\x97\xa5\xe6\x9c\xac B", 0 },
    { "ISO-2022-JP", "\x1b(I1\x1b(B", 0, "\xef\xbd\xb1", 0 },  /* half-width katakana */
    /* Korean */
    { "euc-kr", "\xc7\xd1\xb1\xb9", 0, "\xed\x95\x9c\xea\xb5\xad", 0 },
    { "ks_c_5601-1987", "\xc7\xd1\xb1\xb9 \x81\x41", 0, "\xed\x95\x9c\xea\xb5\xad \xea\xb0\x82", 0 },
    /* Chinese */
    { "gb2312", "\xd6\xd0\xce\xc4", 0, "\xe4\xb8\xad\xe6\x96\x87", 0 },
    { "gbk", "\x81\x30\x81\x30\x90\x30\x81\x30!", 0, "\xc2\x80\xf0\x90\x80\x80!", 0 },  /* GB18030 four-byte */
    { "big5", "\xa4\xa4\xa4\xe5\xb3\\", 0, "\xe4\xb8\xad\xe6\x96\x87\xe8\xa8\xb1", 0 },
    /* UTF-16 with a byte order mark */
    { "utf-16", "\xff\xfeh\0i\0\x3d\xd8\x00\xde", 10, "hi\xf0\x9f\x98\x80", 0 },
    { "UTF-16", "\xfe\xff\0h\0i", 6, "hi", 0 },
    { "utf-16", "\xff\xfeh\0i\0j", 7, "hi" R, 0 },
    { "utf-16", "\xff\xfe\x3d\xd8h\0i\0", 8, R "hi", 0 },        /* unpaired surrogate */
    { "utf-16le", "h\0i\0", 4, "hi", 0 },                /* odd byte at the end */
    /* unknown or absent: UTF-8 where valid, else Windows-1252 */
    { NULL, "caf\xc3\xa9", 0, "caf\xc3\xa9", 1 },
    { NULL, "caf\xe9", 0, "caf\xc3\xa9", 1 },
    { "x-unknown", "\xc3\xa9 \xe9 \x80", 0, "\xc3\xa9 \xc3\xa9 \xe2\x82\xac", 1 },
    { "", "\xe2\x82", 0, "\xc3\xa2\xe2\x80\x9a", 1 },
    { "unknown-8bit", "\xe2\x82\xac", 0, "\xe2\x82\xac", 1 },
    { "x-no-such-charset", "\xe9t\xe9", 0, "\xc3\xa9t\xc3\xa9", 1 },
    /* hostile names never reach iconv */
    { "utf-8//IGNORE", "a\xff", 0, "a\xc3\xbf", 1 },
    { "UTF-8//TRANSLIT", "\xe9", 0, "\xc3\xa9", 1 },
    { "../../../../tmp/x", "\xe9", 0, "\xc3\xa9", 1 },
    { "iso-8859-1 x", "\xe9", 0, "\xc3\xa9", 1 },
    { "koi8-r\n", "\xe9", 0, "\xc3\xa9", 1 },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "\xe9", 0, "\xc3\xa9", 1 },
    /* quoting and white space around a name are tolerated */
    { " \"utf-8\" ", "\xc3\xa9", 0, "\xc3\xa9", 0 },
};

/* convert - run a case through a converter with cuts at the given positions */
static void convert(const struct cs_case *c, size_t len, const size_t *cuts, size_t ncuts,
                    struct buf *out)
{
    struct charset_conv *cv = charset_conv_new(c->charset);
    size_t pos = 0;

    assert_non_null(cv);
    assert_int_equal(charset_conv_unknown(cv), c->unknown);
    for (size_t i = 0; i <= ncuts; i++) {
        /* cppcheck-suppress nullPointer ; the last pass (i == ncuts) takes len, so cuts is read only when ncuts > 0 */
        size_t stop = i < ncuts ? cuts[i] : len;

        assert_int_equal(charset_conv_push(cv, c->in + pos, stop - pos, out), 0);
        pos = stop;
    }
    assert_int_equal(charset_conv_finish(cv, out), 0);
    charset_conv_free(cv);
}

/* check - compare out with the case's expected text */
static void check(const struct cs_case *c, const struct buf *out, const char *how,
                  size_t a, size_t b)
{
    size_t want = strlen(c->out);

    if (out->len != want || memcmp(buf_str(out), c->out, want) != 0)
        fail_msg("%s \"%s\" %s %zu %zu: got \"%s\" want \"%s\"", c->charset ? c->charset : "(null)",
                 c->in, how, a, b, buf_str(out), c->out);
}

/* test_cases - every case, split in every way */
static void test_cases(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct cs_case *c = &cases[k];
        size_t len = c->inlen ? c->inlen : strlen(c->in);
        size_t cuts[256];
        struct buf out = BUF_INIT(1 << 16);

        /* the NUL case compares 8 bytes */
        if (c->inlen == 8 && c->in[3] == 0) {
            convert(c, len, NULL, 0, &out);
            assert_int_equal(out.len, 8);
            assert_memory_equal(out.data, "nul\0byte", 8);
            buf_free(&out);
            continue;
        }
        convert(c, len, NULL, 0, &out);
        check(c, &out, "whole", 0, 0);
        for (size_t i = 0; i <= len; i++) {
            buf_reset(&out);
            cuts[0] = i;
            convert(c, len, cuts, 1, &out);
            check(c, &out, "cut", i, 0);
        }
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i; j <= len; j++) {
                buf_reset(&out);
                cuts[0] = i;
                cuts[1] = j;
                convert(c, len, cuts, 2, &out);
                check(c, &out, "cuts", i, j);
            }
        assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
        for (size_t i = 0; i < len; i++)
            cuts[i] = i + 1;
        buf_reset(&out);
        convert(c, len, cuts, len, &out);
        check(c, &out, "bytewise", 0, 0);
        buf_free(&out);
    }
}

/* encode - the test's own iconv conversion of UTF-8 text into charset */
static void encode(const char *charset, const char *utf8, struct buf *dst)
{
    iconv_t cd = iconv_open(charset, "UTF-8");
    char *ip = (char *)(uintptr_t)utf8, *op;
    size_t ileft = strlen(utf8), oleft;

    assert_true(cd != (iconv_t)-1);
    while (ileft > 0) {
        char tmp[256];

        op = tmp;
        oleft = sizeof(tmp);
        if (iconv(cd, &ip, &ileft, &op, &oleft) == (size_t)-1)
            assert_int_equal(errno, E2BIG);
        assert_int_equal(buf_add(dst, tmp, (size_t)(op - tmp)), 0);
    }
    {
        char tmp[64];

        op = tmp;
        oleft = sizeof(tmp);
        assert_true(iconv(cd, NULL, NULL, &op, &oleft) != (size_t)-1);
        assert_int_equal(buf_add(dst, tmp, (size_t)(op - tmp)), 0);
    }
    iconv_close(cd);
}

/* test_long_mixed - long mixed text in every chunk size converts back exactly */
static void test_long_mixed(void **state)
{
    static const struct { const char *label, *iconv_name, *sample; } v[] = {
        { "utf-8", "UTF-8", "Hello \xe6\x97\xa5\xe6\x9c\xac \xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x98\x80 caf\xc3\xa9\r\n" },
        { "shift_jis", "CP932", "Hello \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xef\xbd\xb1\xef\xbd\xb2 \xe8\xa1\xa8\\~ abc\r\n" },
        { "gb2312", "GB18030", "\xe4\xb8\xad\xe6\x96\x87 text \xd0\x9f\xd1\x80 \xf0\x9f\x98\x80 \xc2\x80!\r\n" },
        { "big5", "BIG5", "\xe4\xb8\xad\xe6\x96\x87\xe8\xa8\xb1\xe5\x8a\x9f\xe8\x93\x8b text\\\r\n" },
        { "iso-2022-jp", "ISO-2022-JP", "Hello \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text \xe3\x83\x86\r\n" },
        { "windows-1251", "WINDOWS-1251", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! ok\r\n" },
        { "koi8-r", "KOI8-R", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! ok\r\n" },
        { "ks_c_5601-1987", "CP949", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xea\xb0\x82 text\r\n" },
        { "euc-jp", "EUC-JP", "Hello \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xef\xbd\xb1 text\r\n" },
        { "utf-16", "UTF-16", "Hello \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 text\r\n" },
        { "iso-8859-15", "ISO-8859-15", "caf\xc3\xa9 \xe2\x82\xac \xc5\x93uvre\r\n" },
    };

    (void)state;
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        struct buf text = BUF_INIT(1 << 20), src = BUF_INIT(1 << 20), part = BUF_INIT(1 << 20);
        struct charset_conv *cv = charset_conv_new(v[k].label);

        assert_non_null(cv);
        assert_int_equal(charset_conv_unknown(cv), 0);
        for (int rep = 0; rep < 200; rep++)
            assert_int_equal(buf_adds(&text, v[k].sample), 0);
        encode(v[k].iconv_name, buf_str(&text), &src);
        for (size_t chunk = 1; chunk < 40; chunk += 2) {
            buf_reset(&part);
            for (size_t pos = 0; pos < src.len; pos += chunk) {
                size_t n = src.len - pos < chunk ? src.len - pos : chunk;

                assert_int_equal(charset_conv_push(cv, src.data + pos, n, &part), 0);
            }
            assert_int_equal(charset_conv_finish(cv, &part), 0);
            if (part.len != text.len || memcmp(part.data, text.data, text.len) != 0)
                fail_msg("%s chunk %zu: got %zu bytes, want %zu", v[k].label, chunk, part.len,
                         text.len);
        }
        charset_conv_free(cv);
        buf_free(&text);
        buf_free(&src);
        buf_free(&part);
    }
}

/* test_utf8_valid - the validity check */
static void test_utf8_valid(void **state)
{
    static const struct { const char *s; int valid; } v[] = {
        { "", 1 }, { "ascii", 1 }, { "caf\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
        { "\xf0\x9f\x98\x80", 1 }, { "\xf4\x8f\xbf\xbf", 1 }, { "\xef\xbf\xbd", 1 },
        { "\xc3", 0 }, { "\xc0\x80", 0 }, { "\xc1\xbf", 0 }, { "\xe0\x9f\xbf", 0 },
        { "\xed\xa0\x80", 0 }, { "\xed\xbf\xbf", 0 }, { "\xf0\x8f\xbf\xbf", 0 },
        { "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "\xff", 0 },
        { "\x80", 0 }, { "a\xe2\x82", 0 }, { "\xe2\x28\xa1", 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (utf8_valid(v[i].s, strlen(v[i].s)) != v[i].valid)
            fail_msg("utf8_valid(\"%s\") != %d", v[i].s, v[i].valid);
}

/* test_one_shot - charset_to_utf8 */
static void test_one_shot(void **state)
{
    struct buf out = BUF_INIT(64);

    (void)state;
    assert_int_equal(charset_to_utf8("koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", 6, &out), 0);
    assert_string_equal(buf_str(&out), "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    buf_free(&out);
    /* a full buffer is reported */
    {
        struct buf small = BUF_INIT(4);

        assert_int_equal(charset_to_utf8("iso-8859-1", "\xe9\xe9\xe9", 3, &small), -1);
    }
}

/* test_bounded_carry - a long run of incomplete input never grows the carry */
static void test_bounded_carry(void **state)
{
    struct charset_conv *cv = charset_conv_new("utf-16");
    struct buf out = BUF_INIT(1 << 20);
    char lead[2] = { (char)0x3d, (char)0xd8 };     /* high surrogate, little endian */

    (void)state;
    assert_non_null(cv);
    assert_int_equal(charset_conv_push(cv, "\xff\xfe", 2, &out), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(charset_conv_push(cv, lead, 2, &out), 0);
    assert_int_equal(charset_conv_finish(cv, &out), 0);
    /* every unpaired surrogate is one replacement, and the code units stay aligned */
    assert_int_equal(out.len, 3000);
    for (size_t i = 0; i < out.len; i += 3)
        assert_memory_equal(out.data + i, R, 3);
    charset_conv_free(cv);
    buf_free(&out);
}

/* test_reuse_after_finish - a converter is reset by finish */
static void test_reuse_after_finish(void **state)
{
    struct charset_conv *cv = charset_conv_new("iso-2022-jp");
    struct buf out = BUF_INIT(256);

    (void)state;
    assert_non_null(cv);
    /* left in the shifted state, then finished */
    assert_int_equal(charset_conv_push(cv, "\x1b$BF|", 5, &out), 0);
    assert_int_equal(charset_conv_finish(cv, &out), 0);
    assert_string_equal(buf_str(&out), "\xe6\x97\xa5");
    buf_reset(&out);
    assert_int_equal(charset_conv_push(cv, "F|", 2, &out), 0);   /* ASCII again */
    assert_int_equal(charset_conv_finish(cv, &out), 0);
    assert_string_equal(buf_str(&out), "F|");
    charset_conv_free(cv);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_long_mixed),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_one_shot),
        cmocka_unit_test(test_bounded_carry),
        cmocka_unit_test(test_reuse_after_finish),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
