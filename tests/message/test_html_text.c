/*
 * test_html_text - HTML to text: character references, tags, dropped
 * content (script, style, template, comments), CDATA, RCDATA (title,
 * textarea), white space, unterminated constructs and huge attributes.
 * Every table case is converted whole, one byte at a time and with one cut
 * at every position; all must give exactly the expected text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/charset.h"
#include "message/html_text.h"
#include "util/buf.h"

#define R "\xef\xbf\xbd"      /* U+FFFD */

struct html_case {
    const char *in;
    size_t inlen;             /* 0: strlen(in) */
    const char *out;
};

static const struct html_case cases[] = {
    /* numeric references */
    { "&#52;&#53;", 0, "45" },
    { "&#x34;", 0, "4" },
    { "&#X34;&#x4a;", 0, "4J" },
    { "&#52", 0, "4" },
    { "&#52 x", 0, "4 x" },
    { "&#52<b>x</b>", 0, "4x" },
    { "&#52abc", 0, "4abc" },                        /* HTML5: ends at the first non-digit */
    { "&#0;", 0, R },
    { "&#xD800;", 0, R },
    { "&#x110000;", 0, R },
    { "&#99999999999999999999;", 0, R },
    { "&#x10FFFF;", 0, "\xf4\x8f\xbf\xbf" },
    { "&#128512;", 0, "\xf0\x9f\x98\x80" },
    { "&#150;&#146;", 0, "\xe2\x80\x93\xe2\x80\x99" },   /* 0x80-0x9F as Windows-1252 */
    { "&#129;", 0, "\xc2\x81" },
    { "&#;", 0, "&#;" },
    { "&#x;", 0, "&#x;" },
    { "&#xg", 0, "&#xg" },
    { "&#", 0, "&#" },
    { "&#32;&#32;x", 0, "x" },                        /* spaces collapse like any white space */
    /* named references */
    { "&amp;&lt;&gt;&quot;&apos;", 0, "&<>\"'" },
    { "a&nbsp;b", 0, "a\xc2\xa0" "b" },
    { "&eacute;&auml;&szlig;&Eacute;&AElig;", 0, "\xc3\xa9\xc3\xa4\xc3\x9f\xc3\x89\xc3\x86" },
    { "&euro;&hellip;&mdash;&ndash;&bull;&middot;&trade;&copy;&reg;", 0,
      "\xe2\x82\xac\xe2\x80\xa6\xe2\x80\x94\xe2\x80\x93\xe2\x80\xa2\xc2\xb7\xe2\x84\xa2\xc2\xa9\xc2\xae" },
    { "&lsquo;&rsquo;&ldquo;&rdquo;", 0, "\xe2\x80\x98\xe2\x80\x99\xe2\x80\x9c\xe2\x80\x9d" },
    { "&alpha;&Omega;&pi;", 0, "\xce\xb1\xce\xa9\xcf\x80" },
    { "john&commat;example&period;com", 0, "john@example.com" },
    { "&amp", 0, "&" },                               /* legacy name without ';' */
    { "&amp x", 0, "& x" },
    { "&eacute", 0, "\xc3\xa9" },
    { "&copy2024", 0, "\xc2\xa9" "2024" },            /* longest legacy prefix */
    { "&notit;", 0, "\xc2\xac" "it;" },
    { "&hellip", 0, "&hellip" },                      /* not a legacy name: needs ';' */
    { "AT&T", 0, "AT&T" },
    { "AT&T;", 0, "AT&T;" },
    { "&unknown;", 0, "&unknown;" },
    { "& x", 0, "& x" },
    { "&&amp;", 0, "&&" },
    { "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;", 0, "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;" },
    { "&ampaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;", 0, "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;" },
    /* tags and line breaks */
    { "a<br>b<br/>c<BR />d", 0, "a\nb\nc\nd" },
    { "<p>Hello</p><p>World</p>", 0, "\nHello\n\nWorld\n" },
    { "<div>x</div>", 0, "\nx\n" },
    { "<b>bold</b> and <i>it</i>", 0, "bold and it" },
    { "<a href=x>lin</a>k", 0, "link" },
    { "<P CLASS=\"x\">Up</P>", 0, "\nUp\n" },
    { "<h1>T</h1><ul><li>a</li></ul>", 0, "\nT\n\n\na\n\n" },
    { "<table><tr><td>A</td><td>B</td></tr></table>", 0, "\n\nA B \n\n" },
    { "<a title='a>b' href=\"x>y\">link</a>", 0, "link" },
    { "<img alt=\"<secret>\" src=x>x", 0, "x" },
    { "<a b=c d = 'e' f>g</a>", 0, "g" },
    { "<a b\"c>x", 0, "x" },
    { "<span\tclass=x\n>y</span>", 0, "y" },
    { "<averyveryverylongtagnamethatisunknown attr=1>x", 0, "x" },
    /* dropped content */
    { "a<script>var x = '<p>'; if (a < b) {}</script>b", 0, "ab" },
    { "a<SCRIPT type=x>y</SCRIPT >b", 0, "ab" },
    { "a<script>x</scriptfoo>y</script>z", 0, "az" },
    { "a<script>x</script/>b", 0, "ab" },
    { "a<script><!-- x </script> -->b", 0, "a -->b" },
    { "<style>p { color: red }</style>Text", 0, "Text" },
    { "a<template><p>hidden</p><template>x</template>y</template>b", 0, "ab" },
    { "a</template>b", 0, "ab" },
    { "a<!-- hidden -->b", 0, "ab" },
    { "a<!-- x -- y -->b", 0, "ab" },
    { "a<!---->b", 0, "ab" },
    { "a<!-->b", 0, "ab" },
    { "a<!--->b", 0, "ab" },
    { "a<!-- x --!>b", 0, "ab" },
    { "a<!-- <p>not</p> -->b", 0, "ab" },
    { "<!--[if mso]>x<![endif]-->y", 0, "y" },
    { "<![if !mso]>y<![endif]>", 0, "y" },
    { "<!DOCTYPE html>x", 0, "x" },
    { "<?xml version='1.0'?>x", 0, "x" },
    { "x</ y>z", 0, "xz" },
    { "x</>y", 0, "xy" },
    { "a<!>b", 0, "ab" },
    { "a<!->b", 0, "ab" },
    /* CDATA keeps its text verbatim */
    { "a<![CDATA[x<y &amp;]]>b", 0, "ax<y &amp;b" },
    { "<![CDATA[a]b]]>", 0, "a]b" },
    { "<![CDATA[]]]]>", 0, "]]" },
    { "<![CDATA[x]]", 0, "x]]" },
    { "<![cdata[x]]>y", 0, "y" },                      /* case matters: a bogus comment */
    /* title and textarea: text kept, no tags inside */
    { "<head><title>My &amp; Title</title></head><body>Body</body>", 0, "\nMy & Title\nBody" },
    { "<title>a <b> c</title>", 0, "\na <b> c\n" },
    { "<title>x</titlex></title>", 0, "\nx</titlex>\n" },
    { "<title>x</TITLE\n>y", 0, "\nx\ny" },
    { "<textarea>a &amp; <b>\n  x</textarea>", 0, "\na & <b>\n  x\n" },
    { "<title>x</tit", 0, "\nx</tit" },
    { "<title>a&amp</title>", 0, "\na&\n" },
    /* white space */
    { "a  \n\t b", 0, "a b" },
    { "  lead", 0, "lead" },
    { "a\r\nb", 0, "a b" },
    { "<pre>a  \n b</pre>", 0, "\na  \n b\n" },
    { "<p>\n  x\n</p>", 0, "\nx \n" },
    { "a\0b", 3, "ab" },
    /* unterminated at the end */
    { "text <b", 0, "text " },
    { "text <", 0, "text <" },
    { "text </", 0, "text </" },
    { "text <!-- open", 0, "text " },
    { "text <a href=\"x", 0, "text " },
    { "a < b", 0, "a < b" },
    { "a <3", 0, "a <3" },
    { "a<script>abc</scr", 0, "a" },
    { "a&", 0, "a&" },
    { "a&#x", 0, "a&#x" },
    /* UTF-8 passes */
    { "\xe6\x97\xa5\xe6\x9c\xac <b>\xe3\x83\x86</b>", 0, "\xe6\x97\xa5\xe6\x9c\xac \xe3\x83\x86" },
    { "<p>caf&eacute; &#233;t&eacute;</p>", 0, "\ncaf\xc3\xa9 \xc3\xa9t\xc3\xa9\n" },
};

/* convert - run in through one converter with cuts at the given positions */
static void convert(struct html_text *h, const char *in, size_t len, const size_t *cuts,
                    size_t ncuts, struct buf *out)
{
    size_t pos = 0;

    for (size_t i = 0; i <= ncuts; i++) {
        /* cppcheck-suppress nullPointer ; the last pass (i == ncuts) takes len, so cuts is read only when ncuts > 0 */
        size_t stop = i < ncuts ? cuts[i] : len;

        assert_int_equal(html_text_push(h, in + pos, stop - pos, out), 0);
        pos = stop;
    }
    assert_int_equal(html_text_finish(h, out), 0);
}

/* expect - out must equal want */
static void expect(const struct buf *out, const char *in, const char *want, const char *how,
                   size_t at)
{
    if (out->len != strlen(want) || memcmp(buf_str(out), want, out->len) != 0)
        fail_msg("html(\"%s\") %s %zu: got \"%s\", want \"%s\"", in, how, at, buf_str(out), want);
}

/* test_cases - the table, whole, byte by byte and cut at every position */
static void test_cases(void **state)
{
    struct html_text *h = html_text_new();
    size_t cuts[512];

    (void)state;
    assert_non_null(h);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct html_case *c = &cases[k];
        size_t len = c->inlen ? c->inlen : strlen(c->in);
        struct buf out = BUF_INIT(1 << 16);

        /* one converter for all cases: finish must reset it */
        convert(h, c->in, len, NULL, 0, &out);
        expect(&out, c->in, c->out, "whole", 0);
        assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
        for (size_t i = 0; i < len; i++)
            cuts[i] = i + 1;
        buf_reset(&out);
        convert(h, c->in, len, cuts, len, &out);
        expect(&out, c->in, c->out, "bytewise", 0);
        for (size_t i = 0; i <= len; i++) {
            buf_reset(&out);
            cuts[0] = i;
            convert(h, c->in, len, cuts, 1, &out);
            expect(&out, c->in, c->out, "cut at", i);
        }
        /* whatever the input, the output is valid UTF-8 when the input is */
        if (utf8_valid(c->in, len))
            assert_true(utf8_valid(out.data ? out.data : "", out.len));
        buf_free(&out);
    }
    html_text_free(h);
}

/* big_case - convert prefix + n copies of fill + suffix in chunks of size chunk */
static void big_case(const char *prefix, char fill, size_t n, const char *suffix,
                     size_t chunk, const char *want)
{
    struct html_text *h = html_text_new();
    struct buf out = BUF_INIT(1 << 16);
    char *block = malloc(chunk);

    assert_non_null(h);
    assert_non_null(block);
    memset(block, fill, chunk);
    assert_int_equal(html_text_push(h, prefix, strlen(prefix), &out), 0);
    for (size_t done = 0; done < n; done += chunk)
        assert_int_equal(html_text_push(h, block, n - done < chunk ? n - done : chunk, &out), 0);
    assert_int_equal(html_text_push(h, suffix, strlen(suffix), &out), 0);
    assert_int_equal(html_text_finish(h, &out), 0);
    assert_string_equal(buf_str(&out), want);
    free(block);
    buf_free(&out);
    html_text_free(h);
}

/* test_huge_constructs - 1 MB attributes, names, comments and scripts cost no memory */
static void test_huge_constructs(void **state)
{
    static const size_t chunks[] = { 1, 7, 4096, 1 << 20 };
    const size_t mb = 1 << 20;

    (void)state;
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        size_t n = chunks[i] == 1 ? mb / 16 : mb;   /* byte by byte: a smaller one */

        big_case("a<a title=\"", 'x', n, "\">text</a>b", chunks[i], "atextb");
        big_case("a<a title='", '>', n, "'>text</a>b", chunks[i], "atextb");
        big_case("a<a title=", 'x', n, ">text</a>b", chunks[i], "atextb");
        big_case("a<", 'x', n, " y>b", chunks[i], "ab");
        big_case("a<!--", '-', n, ">b", chunks[i], "ab");
        big_case("a<script>", '<', n, "</script>b", chunks[i], "ab");
    }
}

/* test_long_entity_literal - a reference longer than the cap stays literal */
static void test_long_entity_literal(void **state)
{
    struct html_text *h = html_text_new();
    struct buf in = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);

    (void)state;
    assert_non_null(h);
    assert_int_equal(buf_addc(&in, '&'), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_addc(&in, 'x'), 0);
    assert_int_equal(buf_adds(&in, ";b"), 0);
    for (size_t pos = 0; pos < in.len; pos += 3)
        assert_int_equal(html_text_push(h, in.data + pos, in.len - pos < 3 ? in.len - pos : 3, &out), 0);
    assert_int_equal(html_text_finish(h, &out), 0);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    html_text_free(h);
    buf_free(&in);
    buf_free(&out);
}

/* test_finish_resets - nothing of one document leaks into the next */
static void test_finish_resets(void **state)
{
    static const char *const first[] = {
        "<template>x", "<pre>", "<title>x</tit", "<script>", "<![CDATA[x]", "<a href='", "&am",
        "<textarea>", "<!--",
    };
    struct html_text *h = html_text_new();

    (void)state;
    assert_non_null(h);
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        struct buf out = BUF_INIT(1024);

        assert_int_equal(html_text_push(h, first[i], strlen(first[i]), &out), 0);
        assert_int_equal(html_text_finish(h, &out), 0);
        buf_reset(&out);
        assert_int_equal(html_text_push(h, "  a  b</title>c", 15, &out), 0);
        assert_int_equal(html_text_finish(h, &out), 0);
        if (strcmp(buf_str(&out), "a b\nc") != 0)
            fail_msg("after \"%s\": got \"%s\"", first[i], buf_str(&out));
        buf_free(&out);
    }
    html_text_free(h);
}

/* test_output_failure - a full output buffer is reported */
static void test_output_failure(void **state)
{
    struct html_text *h = html_text_new();
    struct buf out = BUF_INIT(4);

    (void)state;
    assert_non_null(h);
    assert_int_equal(html_text_push(h, "<p>too long for four bytes</p>", 30, &out), -1);
    html_text_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_huge_constructs),
        cmocka_unit_test(test_long_entity_literal),
        cmocka_unit_test(test_finish_resets),
        cmocka_unit_test(test_output_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
