/*
 * test_rfc2047 - decoding of header values (encoded words, unfolding, raw
 * 8-bit text, neutralised controls) and encoding for writing headers back
 * (folding, line lengths, round trips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/charset.h"
#include "message/codec.h"
#include "message/rfc2047.h"
#include "util/buf.h"

struct dec_case {
    const char *in;
    const char *out;
};

static const struct dec_case dec_cases[] = {
    { "=?UTF-8?Q?=5Bencrypt=5D?= Quarterly", "[encrypt] Quarterly" },
    { " =?utf-8?b?SGVsbG8=?=", "Hello" },
    { "=?UTF-8?B?Y2Fmw6k=?=", "caf\xc3\xa9" },
    { "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9" },
    { "=?ISO-8859-1?Q?caf=E9?=", "caf\xc3\xa9" },
    { "=?utf-8?q?hello_world?=", "hello world" },
    /* white space between adjacent encoded words is dropped */
    { "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
    { "=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab" },
    { "=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=", "ab" },
    { "=?utf-8?q?a?=\n =?utf-8?b?Yg==?=", "ab" },
    { "=?utf-8?q?a?==?utf-8?q?b?=", "ab" },
    { "=?utf-8?q?a?=   \t =?utf-8?q?b?=", "ab" },
    /* ... but not white space next to other text */
    { "=?utf-8?q?a?= b", "a b" },
    { "a =?utf-8?q?b?=", "a b" },
    { "=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b" },
    { "=?utf-8?q?a_?= =?utf-8?q?_b?=", "a  b" },
    /* a character split between two words */
    { "=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "\xc3\xa9" },
    { "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
    { "=?utf-8?q?=E2?= =?UTF-8?b?gqw=?=", "\xe2\x82\xac" },       /* charset names compared without case */
    { "=?shift_jis?q?=93?= =?shift_jis?q?=FA?=", "\xe6\x97\xa5" },
    /* a split character that is not completed becomes U+FFFD */
    { "=?UTF-8?Q?=C3?= x", "\xef\xbf\xbd x" },
    /* adjacent words in different charsets */
    { "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "\xc3\xa9\xc3\xa9" },
    { "Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?iso-8859-1?q?K=F6ln?=", "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln" },
    /* charsets through charset.c */
    { "=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?=", "\xe6\x97\xa5\xe6\x9c\xac" },
    { "=?ks_c_5601-1987?B?x9GxuQ==?=", "\xed\x95\x9c\xea\xb5\xad" },
    { "=?gb2312?B?1tDOxA==?=", "\xe4\xb8\xad\xe6\x96\x87" },
    { "=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
    { "=?x-no-such?q?caf=E9?=", "caf\xc3\xa9" },                   /* unknown: Windows-1252 */
    { "=?utf-8//IGNORE?q?caf=E9?=", "caf\xc3\xa9" },
    /* RFC 2231 language suffix */
    { "=?utf-8*en?q?hello?=", "hello" },
    { "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
    { "=?utf-8*en-US?B?SGk=?= =?utf-8*de?q?=21?=", "Hi!" },
    /* malformed words stay literal */
    { "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
    { "=?utf-8?q?abc", "=?utf-8?q?abc" },
    { "=??q?abc?=", "=??q?abc?=" },
    { "=?*en?q?abc?=", "=?*en?q?abc?=" },
    { "=?utf-8?q?a?b?=", "=?utf-8?q?a?b?=" },
    { "=?utf 8?q?a?=", "=?utf 8?q?a?=" },
    { "=?utf-8?qq?a?=", "=?utf-8?qq?a?=" },
    { "=?utf-8?q?broken =?utf-8?q?ok?=", "=?utf-8?q?broken ok" },
    { "1 + 1 =? 2", "1 + 1 =? 2" },
    { "a = b ?=", "a = b ?=" },
    /* lenient forms seen in mail */
    { "foo=?utf-8?q?bar?=", "foobar" },
    { "=?utf-8?q?a b?=", "a b" },
    { "=?utf-8?b?Y!WJj?=", "abc" },
    { "=?utf-8?q?\?=", "" },                                        /* "\?" avoids a trigraph */
    /* CR, LF, NUL and other controls from encoded words become spaces; tab stays */
    { "=?utf-8?q?a=0D=0Ab?=", "a  b" },
    { "=?utf-8?b?YQBi?=", "a b" },
    { "=?utf-8?q?x=09y?=", "x\ty" },
    { "=?utf-8?q?bell=07=7F?=", "bell  " },
    { "=?windows-1252?q?a=81b?=", "a b" },                          /* U+0081 */
    { "=?utf-8?q?=C2=85?=", " " },                                  /* U+0085 */
    { "=?utf-8?q?Subject:_x=0D=0ABcc:_evil@example.com?=", "Subject: x  Bcc: evil@example.com" },
    /* raw text: unfolded, UTF-8 kept, other 8-bit read as Windows-1252 */
    { "caf\xe9", "caf\xc3\xa9" },
    { "caf\xc3\xa9", "caf\xc3\xa9" },
    { "\x93quoted\x94", "\xe2\x80\x9cquoted\xe2\x80\x9d" },
    { "Hello\r\n World", "Hello World" },
    { "Hello\n\tWorld", "Hello\tWorld" },
    { "a\rb", "a b" },
    { "a\r\nb", "a b" },
    { "a  b", "a  b" },
    { "  padded  ", "padded" },
    { "", "" },
    { "   ", "" },
    { "\r\n ", "" },
};

/* test_decode - the decoding table */
static void test_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
        struct buf out = BUF_INIT(4096);

        assert_int_equal(rfc2047_decode(dec_cases[i].in, strlen(dec_cases[i].in), &out), 0);
        if (strcmp(buf_str(&out), dec_cases[i].out) != 0)
            fail_msg("decode(\"%s\"): got \"%s\", want \"%s\"", dec_cases[i].in, buf_str(&out),
                     dec_cases[i].out);
        buf_free(&out);
    }
}

/* test_decode_appends - output is appended, a NUL in the raw value is neutralised */
static void test_decode_appends(void **state)
{
    struct buf out = BUF_INIT(64);

    (void)state;
    assert_int_equal(buf_adds(&out, "x:"), 0);
    assert_int_equal(rfc2047_decode("a\0b", 3, &out), 0);
    assert_int_equal(out.len, 5);
    assert_string_equal(buf_str(&out), "x:a b");
    buf_free(&out);
}

/* test_decode_overflow - a full output buffer is reported */
static void test_decode_overflow(void **state)
{
    struct buf out = BUF_INIT(4);

    (void)state;
    assert_int_equal(rfc2047_decode("=?utf-8?q?too_long?=", 20, &out), -1);
}

/* test_decode_no_controls - no decoded value ever holds CR, LF or NUL */
static void test_decode_no_controls(void **state)
{
    char in[64];

    (void)state;
    for (int c = 0; c < 256; c++) {
        struct buf out = BUF_INIT(256);
        int n = snprintf(in, sizeof(in), "=?utf-8?q?a=%02X?= =?iso-8859-1?b?%s?=", c,
                         c == 0 ? "AA==" : "DQo=");

        assert_int_equal(rfc2047_decode(in, (size_t)n, &out), 0);
        assert_null(memchr(out.data, '\r', out.len));
        assert_null(memchr(out.data, '\n', out.len));
        assert_null(memchr(out.data, 0, out.len));
        assert_true(utf8_valid(out.data, out.len));
        buf_free(&out);
    }
}

/* check_lines - every line within limit (first with "Name: "), folds are "\n " */
static void check_lines(const char *name, const char *v, size_t limit)
{
    size_t line = strlen(name) + 2;
    int first = 1;

    assert_null(strchr(v, '\r'));
    for (const char *p = v; *p; p++) {
        if (*p == '\n') {
            if (line > limit)
                fail_msg("line of %zu > %zu in \"%s\"", line, limit, v);
            assert_int_equal(p[1], ' ');
            line = 0;
            first = 0;
            continue;
        }
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F);
        line++;
    }
    if (line > limit)
        fail_msg("%s line of %zu > %zu in \"%s\"", first ? "first" : "last", line, limit, v);
}

/* check_words_whole - every encoded word decodes alone to valid UTF-8 */
static void check_words_whole(const char *v)
{
    const char *p = v;

    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        const char *e = strstr(p + 10, "?=");
        struct buf bytes = BUF_INIT(256);

        assert_non_null(e);
        assert_int_equal(b64_decode_buf(p + 10, (size_t)(e - p - 10), &bytes), 0);
        assert_true(bytes.len > 0);
        assert_true(utf8_valid(bytes.data, bytes.len));
        buf_free(&bytes);
        p = e + 2;
    }
}

/* test_encode_exact - exact encodings */
static void test_encode_exact(void **state)
{
    static const char *const v[][3] = {
        { "Subject", "Hello world", "Hello world" },
        { "Subject", "", "" },
        { "Subject", "caf\xc3\xa9", "=?UTF-8?B?Y2Fmw6k=?=" },
        { "Subject", "a\r\nb", "a  b" },                /* CR/LF can never start a header */
        { "Subject", "a\tb\x01" "c", "a b c" },
        { "Subject", "x\r\nBcc: evil", "x  Bcc: evil" },
        { "Subject", "=?utf-8?q?x?=", "=?UTF-8?B?PT91dGYtOD9xP3g/PQ==?=" },  /* would decode: encoded */
        { "Subject", "caf\xe9", "=?UTF-8?B?Y2Fmw6k=?=" },   /* invalid UTF-8 read as Windows-1252 */
        { "Subject", "a\xc2\x85" "b", "a b" },             /* C1 control */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct buf out = BUF_INIT(4096);

        assert_int_equal(rfc2047_encode(v[i][0], v[i][1], &out), 0);
        if (strcmp(buf_str(&out), v[i][2]) != 0)
            fail_msg("encode(\"%s\"): got \"%s\", want \"%s\"", v[i][1], buf_str(&out), v[i][2]);
        buf_free(&out);
    }
}

/* test_encode_roundtrip - encode then decode gives the text back, lines bounded */
static void test_encode_roundtrip(void **state)
{
    static const char *const texts[] = {
        "Hello",
        "Quarterly report for the board: figures, forecasts and the plan for the next "
        "three years of operations in all regions, with appendices and a summary",
        "[encrypt] Quarterly",
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80! "
        "\xd0\xad\xd1\x82\xd0\xbe \xd1\x82\xd0\xb5\xd1\x81\xd1\x82\xd0\xbe\xd0\xb2\xd0\xbe\xd0\xb5 "
        "\xd1\x81\xd0\xbe\xd0\xbe\xd0\xb1\xd1\x89\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5 \xd1\x81 "
        "\xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xbe\xd0\xb9 \xd1\x82\xd0\xb5\xd0\xbc\xd0\xbe\xd0\xb9",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88"
        "\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe9\x95\xb7\xe3\x81\x84\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xae"
        "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\xe3\x82\x92\xe3\x81\x97\xe3\x81\xa6\xe3\x81\x84\xe3\x81\xbe"
        "\xe3\x81\x99\xe3\x80\x82",
        "\xf0\x9f\x94\x92 Secure \xf0\x9f\x94\x90\xf0\x9f\x94\x91 \xf0\x9f\x94\x92\xf0\x9f\x94\x92"
        "\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92"
        "\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92\xf0\x9f\x94\x92 end",
        "Re: [Secure] caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "two  spaces and\ta tab",
        "=?utf-8?q?looks_encoded?=",
        "x",
    };
    static const char *const names[] = {
        "Subject", "X", "X-Mailseal-Classification", "A-Very-Long-Header-Name-That-Is-Quite-Long-Really-Yes",
    };

    (void)state;
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            struct buf enc = BUF_INIT(8192), dec = BUF_INIT(8192);
            size_t ascii = 1;
            const char *want = texts[i];

            assert_int_equal(rfc2047_encode(names[n], texts[i], &enc), 0);
            for (const char *p = texts[i]; *p; p++)
                if ((unsigned char)*p >= 0x80)
                    ascii = 0;
            check_lines(names[n], buf_str(&enc), strstr(buf_str(&enc), "=?UTF-8?B?") ? 76 : 78);
            if (ascii && strstr(buf_str(&enc), "=?UTF-8?B?") == NULL)
                assert_null(strstr(texts[i], "=?"));
            check_words_whole(buf_str(&enc));
            assert_int_equal(rfc2047_decode(enc.data, enc.len, &dec), 0);
            if (strcmp(texts[i], "two  spaces and\ta tab") == 0)
                want = "two  spaces and a tab";                 /* tab is a control */
            if (strcmp(buf_str(&dec), want) != 0)
                fail_msg("round trip %s: \"%s\" -> \"%s\" -> \"%s\"", names[n], texts[i],
                         buf_str(&enc), buf_str(&dec));
            buf_free(&enc);
            buf_free(&dec);
        }
}

/* test_encode_long_ascii_folds - long ASCII is folded, not encoded */
static void test_encode_long_ascii_folds(void **state)
{
    struct buf in = BUF_INIT(4096), out = BUF_INIT(8192), dec = BUF_INIT(8192);

    (void)state;
    for (int i = 0; i < 60; i++)
        assert_int_equal(buf_printf(&in, "%sword%d", i ? " " : "", i), 0);
    assert_int_equal(rfc2047_encode("Subject", in.data, &out), 0);
    assert_null(strstr(out.data, "=?"));
    assert_non_null(strchr(out.data, '\n'));
    check_lines("Subject", out.data, 78);
    assert_int_equal(rfc2047_decode(out.data, out.len, &dec), 0);
    assert_string_equal(dec.data, in.data);
    buf_free(&in);
    buf_free(&out);
    buf_free(&dec);
}

/* test_encode_all_name_lengths - lines stay within 76 for names up to 54 characters */
static void test_encode_all_name_lengths(void **state)
{
    static const char *const text =
        "\xf0\x9f\x98\x80\xe6\x97\xa5\xd0\x9f a\xf0\x9f\x98\x80\xe6\x97\xa5\xd0\x9f \xf0\x9f\x98\x80";
    char name[64];

    (void)state;
    for (size_t len = 1; len <= 54; len++) {
        struct buf out = BUF_INIT(4096), dec = BUF_INIT(4096);

        memset(name, 'N', len);
        name[len] = 0;
        assert_int_equal(rfc2047_encode(name, text, &out), 0);
        check_lines(name, out.data, 76);
        check_words_whole(out.data);
        assert_int_equal(rfc2047_decode(out.data, out.len, &dec), 0);
        assert_string_equal(dec.data, text);
        buf_free(&out);
        buf_free(&dec);
    }
}

/* test_encode_overflow - a full output buffer is reported */
static void test_encode_overflow(void **state)
{
    struct buf out = BUF_INIT(8);

    (void)state;
    assert_int_equal(rfc2047_encode("Subject", "caf\xc3\xa9 and more", &out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_appends),
        cmocka_unit_test(test_decode_overflow),
        cmocka_unit_test(test_decode_no_controls),
        cmocka_unit_test(test_encode_exact),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_encode_long_ascii_folds),
        cmocka_unit_test(test_encode_all_name_lengths),
        cmocka_unit_test(test_encode_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
