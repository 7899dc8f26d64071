/*
 * test_json - the JSON string escaper of `mailseal test --json`: quotes,
 * backslashes and control characters escaped, valid UTF-8 (2, 3 and 4
 * bytes, up to U+10FFFF) passed through, and each maximal invalid
 * subsequence (stray continuation bytes, overlong forms, surrogates, code
 * points past U+10FFFF, sequences cut short, bytes F5..FF) replaced by one
 * \ufffd; NUL inside the input; the buffer's cap; NULL as null.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/json.h"
#include "util/buf.h"

struct json_case {
    const char *in;
    size_t len;               /* 0: strlen(in) */
    const char *want;
};

#define FFFD "\\ufffd"

static const struct json_case json_cases[] = {
    { "", 0, "\"\"" },
    { "plain text", 0, "\"plain text\"" },
    { "say \"hi\"", 0, "\"say \\\"hi\\\"\"" },
    { "C:\\dir\\", 0, "\"C:\\\\dir\\\\\"" },
    { "/slash/", 0, "\"/slash/\"" },
    { "a\bb\fc\nd\re\tf", 0, "\"a\\bb\\fc\\nd\\re\\tf\"" },
    { "\x01\x1f\x7f", 0, "\"\\u0001\\u001f\\u007f\"" },
    { "\x1b[31mred", 0, "\"\\u001b[31mred\"" },
    { "a\0b", 3, "\"a\\u0000b\"" },
    /* valid UTF-8 passes through: 2, 3, 4 bytes, the edges of each range */
    { "\xc3\xa4rger", 0, "\"\xc3\xa4rger\"" },
    { "\xc2\x80\xdf\xbf", 0, "\"\xc2\x80\xdf\xbf\"" },
    { "\xe6\xa9\x9f\xe5\xaf\x86", 0, "\"\xe6\xa9\x9f\xe5\xaf\x86\"" },
    { "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", 0,
      "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"" },
    { "\xf0\x9f\x94\x92 \xf4\x8f\xbf\xbf", 0, "\"\xf0\x9f\x94\x92 \xf4\x8f\xbf\xbf\"" },
    /* invalid: stray continuation bytes, one replacement each */
    { "\x80", 0, "\"" FFFD "\"" },
    { "a\x80\xbf" "b", 0, "\"a" FFFD FFFD "b\"" },
    /* invalid lead bytes C0, C1, F5..FF */
    { "\xc0\xaf", 0, "\"" FFFD FFFD "\"" },
    { "\xc1\xbf", 0, "\"" FFFD FFFD "\"" },
    { "\xf5\x80\x80\x80", 0, "\"" FFFD FFFD FFFD FFFD "\"" },
    { "\xff\xfe", 0, "\"" FFFD FFFD "\"" },
    /* overlong 3- and 4-byte forms: the second byte is out of range */
    { "\xe0\x80\xaf", 0, "\"" FFFD FFFD FFFD "\"" },
    { "\xf0\x80\x80\xaf", 0, "\"" FFFD FFFD FFFD FFFD "\"" },
    /* surrogates U+D800, U+DFFF */
    { "\xed\xa0\x80", 0, "\"" FFFD FFFD FFFD "\"" },
    { "\xed\xbf\xbf", 0, "\"" FFFD FFFD FFFD "\"" },
    /* past U+10FFFF */
    { "\xf4\x90\x80\x80", 0, "\"" FFFD FFFD FFFD FFFD "\"" },
    /* cut short: the valid start is one replacement, the next byte is kept */
    { "\xe6\xa9", 0, "\"" FFFD "\"" },
    { "\xe6\xa9x", 0, "\"" FFFD "x\"" },
    { "\xf0\x9f\x94", 0, "\"" FFFD "\"" },
    { "\xf0\x9f\x94\"", 0, "\"" FFFD "\\\"\"" },
    { "\xc3", 0, "\"" FFFD "\"" },
    { "\xc3\xc3\xa4", 0, "\"" FFFD "\xc3\xa4\"" },
    /* a sequence cut by a control character */
    { "\xe2\x82\n", 0, "\"" FFFD "\\n\"" },
};

/* test_escape - each case appended to a buffer holding a prefix */
static void test_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        const struct json_case *c = &json_cases[i];
        struct buf b = BUF_INIT(4096);

        assert_int_equal(buf_adds(&b, "x="), 0);
        assert_int_equal(json_add_string(&b, c->in, c->len ? c->len : strlen(c->in)), 0);
        if (strcmp(buf_str(&b) + 2, c->want) != 0)
            fail_msg("case %zu: got %s, want %s", i, buf_str(&b) + 2, c->want);
        assert_memory_equal(buf_str(&b), "x=", 2);
        buf_free(&b);
    }
}

/* test_long_run - runs longer than the staging area come through whole */
static void test_long_run(void **state)
{
    static char in[10000], want[10000 + 2 * 1000 + 3];
    struct buf b = BUF_INIT(1 << 20);
    size_t w = 0;

    (void)state;
    want[w++] = '"';
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = i % 10 == 9 ? '"' : (char)('a' + i % 26);
        if (in[i] == '"')
            want[w++] = '\\';
        want[w++] = in[i];
    }
    want[w++] = '"';
    assert_int_equal(json_add_string(&b, in, sizeof(in)), 0);
    assert_int_equal(b.len, w);
    assert_memory_equal(b.data, want, w);
    buf_free(&b);
}

/* test_cap_and_null - the buffer's cap is an error; NULL is null */
static void test_cap_and_null(void **state)
{
    struct buf b = BUF_INIT(8);

    (void)state;
    assert_int_equal(json_add_str(&b, "1234567"), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_int_equal(b.len, 0);
    assert_int_equal(json_add_str(&b, "123456"), 0);
    assert_string_equal(buf_str(&b), "\"123456\"");
    buf_free(&b);
    assert_int_equal(json_add_str(&b, NULL), 0);
    assert_string_equal(buf_str(&b), "null");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_long_run),
        cmocka_unit_test(test_cap_and_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
