/*
 * test_mime_header - structured MIME header values and header blocks:
 * Content-Type with defaults, parameters (quoting, comments, RFC 2231
 * with charsets and continuations, RFC 2047 inside quoted values, caps),
 * Content-Disposition, Content-Transfer-Encoding, unfolding, and the
 * header block collector (folding, bare LF, lines without a colon, mbox
 * "From ", NUL bytes, max_headers, max_header_len, pieces of long lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/mime_header.h"

struct ct_case {
    const char *value;        /* NULL: header absent */
    int digest;
    const char *type;
    const char *boundary;     /* NULL: none */
    const char *charset;      /* NULL: none */
    unsigned flags;           /* exact MIME_CT_* and MIME_PF_* bits */
};

static const struct ct_case ct_cases[] = {
    { NULL, 0, "text/plain", NULL, NULL, MIME_CT_ABSENT },
    { NULL, 1, "message/rfc822", NULL, NULL, MIME_CT_ABSENT },
    { "Text/HTML; Charset=\"UTF-8\"", 0, "text/html", NULL, "UTF-8", 0 },
    { "text/plain", 1, "text/plain", NULL, NULL, 0 },
    { " text / plain (a comment) ; charset = us-ascii (Plain text)", 0, "text/plain", NULL,
      "us-ascii", 0 },
    { "(lead) text/plain;\r\n\tcharset=\"iso-8859-1\"", 0, "text/plain", NULL, "iso-8859-1", 0 },
    { "multipart/mixed; boundary=\"abc def\"", 0, "multipart/mixed", "abc def", NULL, 0 },
    { "multipart/alternative;\r\n\tboundary=\"b1\"", 0, "multipart/alternative", "b1", NULL, 0 },
    { "multipart/mixed; boundary=----=_NextPart_000_0001_01C2", 0, "multipart/mixed",
      "----=_NextPart_000_0001_01C2", NULL, 0 },
    { "multipart/mixed; boundary=\"=?not-decoded?=\"", 0, "multipart/mixed", "=?not-decoded?=",
      NULL, 0 },
    { "multipart/mixed", 0, "text/plain", NULL, NULL, MIME_CT_INVALID },
    { "multipart/mixed", 1, "message/rfc822", NULL, NULL, MIME_CT_INVALID },
    { "multipart/mixed; boundary=\"\"", 0, "text/plain", NULL, NULL, MIME_CT_INVALID },
    { "text", 0, "text/plain", NULL, NULL, MIME_CT_INVALID },
    { "/plain", 0, "text/plain", NULL, NULL, MIME_CT_INVALID },
    { "", 0, "text/plain", NULL, NULL, MIME_CT_INVALID },
    { "text/plain charset=utf-8", 0, "text/plain", NULL, "utf-8", MIME_PF_SYNTAX },
    { "text/plain; charset", 0, "text/plain", NULL, NULL, MIME_PF_SYNTAX },
    { "text/plain; charset=\"utf-8", 0, "text/plain", NULL, "utf-8", MIME_PF_SYNTAX },
    { "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 0,
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document", NULL, NULL, 0 },
};

/* test_ctype - Content-Type: type, defaults, boundary, charset, flags */
static void test_ctype(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ct_cases) / sizeof(ct_cases[0]); i++) {
        const struct ct_case *c = &ct_cases[i];
        struct mime_ctype ct;

        assert_int_equal(mime_ctype_parse(c->value, c->value ? strlen(c->value) : 0, c->digest,
                                          &ct), 0);
        if (strcmp(ct.type, c->type) != 0 || ct.flags != c->flags)
            print_error("case %zu: '%s' -> %s flags %x\n", i, c->value ? c->value : "(null)",
                        ct.type, ct.flags);
        assert_string_equal(ct.type, c->type);
        if (c->boundary)
            assert_string_equal(ct.boundary, c->boundary);
        else
            assert_null(ct.boundary);
        if (c->charset)
            assert_string_equal(ct.charset, c->charset);
        else
            assert_null(ct.charset);
        assert_int_equal(ct.flags, c->flags);
        mime_ctype_free(&ct);
    }
}

/* test_boundary_cap - 1000 bytes accepted, 1001 refused */
static void test_boundary_cap(void **state)
{
    char v[MIME_BOUNDARY_MAX + 64];
    struct mime_ctype ct;
    int n;

    (void)state;
    n = snprintf(v, sizeof(v), "multipart/mixed; boundary=\"%0*d\"", MIME_BOUNDARY_MAX, 7);
    assert_int_equal(mime_ctype_parse(v, (size_t)n, 0, &ct), 0);
    assert_string_equal(ct.type, "multipart/mixed");
    assert_int_equal(strlen(ct.boundary), MIME_BOUNDARY_MAX);
    mime_ctype_free(&ct);
    n = snprintf(v, sizeof(v), "multipart/mixed; boundary=\"%0*d\"", MIME_BOUNDARY_MAX + 1, 7);
    assert_int_equal(mime_ctype_parse(v, (size_t)n, 0, &ct), 0);
    assert_string_equal(ct.type, "text/plain");
    assert_null(ct.boundary);
    assert_int_equal(ct.flags, MIME_CT_INVALID);
    mime_ctype_free(&ct);
}

struct param_case {
    const char *input;        /* what follows the main value */
    const char *name;
    const char *value;        /* NULL: absent */
    unsigned flags;
};

static const struct param_case param_cases[] = {
    /* quoting, escapes, comments, lenient unquoted values */
    { "; a=\"x\\\"y\"", "a", "x\"y", 0 },
    { "; a=b (comment)", "a", "b", 0 },
    { "; a=(c)b", "a", "b", 0 },
    { "; name=my file.pdf", "name", "my file.pdf", 0 },
    { "; a=1; a=2", "a", "1", 0 },
    { "; A=Up", "a", "Up", 0 },
    { "; a=\"abc", "a", "abc", MIME_PF_SYNTAX },
    { ";; ; a=1 ;", "a", "1", 0 },
    { "; =x; a=1", "a", "1", MIME_PF_SYNTAX },
    { "; a=\"x\\\ty\"", "a", "x y", 0 },
    { "; a=\"folded\r\n value\"", "a", "folded value", 0 },
    /* RFC 2231 */
    { "; filename*=utf-8''%E2%82%AC%20rates.txt", "filename", "\xE2\x82\xAC rates.txt", 0 },
    { "; filename*=iso-8859-1'de'Fr%F6sche.txt", "filename", "Fr\xC3\xB6sche.txt", 0 },
    { "; filename*=\"iso-8859-1''HasenundFr%F6sche.txt\"", "filename",
      "HasenundFr\xC3\xB6sche.txt", 0 },
    { "; name*1=\"world\"; name*0=\"hello \"", "name", "hello world", 0 },
    { "; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; "
      "title*2=\"isn't it!\"", "title", "This is even more ***fun*** isn't it!", 0 },
    { "; f*2*=%82%AC; f*0*=utf-8''%E2; f*1*=", "f", "\xE2\x82\xAC", 0 },
    { "; filename=\"plain.txt\"; filename*=utf-8''ext.txt", "filename", "ext.txt", 0 },
    { "; filename*=utf-8''ext.txt; filename=\"plain.txt\"", "filename", "ext.txt", 0 },
    { "; a*=utf-8''100%zz%4", "a", "100%zz%4", 0 },
    { "; a*=no-quotes%41", "a", "no-quotesA", 0 },
    { "; a*99999=x", "a", NULL, MIME_PF_SYNTAX },
    { "; a*0=x; a*0=y; a*1=z", "a", "xz", 0 },
    /* RFC 2047 inside values, raw 8-bit */
    { "; name=\"=?ISO-8859-1?Q?Fr=F6sche.txt?=\"", "name", "Fr\xC3\xB6sche.txt", 0 },
    { "; name=\"=?utf-8?B?44GL44GN?=\r\n =?utf-8?B?44GP?=\"", "name",
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F", 0 },
    { "; name=\xE7\xAE\xA1\xE7\x90\x86.doc", "name", "\xE7\xAE\xA1\xE7\x90\x86.doc", 0 },
    { "; name=\"caf\xE9.txt\"", "name", "caf\xC3\xA9.txt", 0 },
    { "; boundary=\"=?utf-8?B?eA==?=\"", "boundary", "=?utf-8?B?eA==?=", 0 },
};

/* test_params - parameter values */
static void test_params(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
        const struct param_case *c = &param_cases[i];
        struct mime_params ps;
        const char *v;

        assert_int_equal(mime_params_parse(c->input, strlen(c->input), &ps), 0);
        v = mime_params_get(&ps, c->name);
        if ((v == NULL) != (c->value == NULL) || (v && strcmp(v, c->value) != 0) ||
            ps.flags != c->flags)
            print_error("case %zu: '%s' -> '%s' flags %x\n", i, c->input, v ? v : "(null)",
                        ps.flags);
        if (c->value)
            assert_string_equal(v, c->value);
        else
            assert_null(v);
        assert_int_equal(ps.flags, c->flags);
        mime_params_free(&ps);
    }
}

/* test_param_caps - count of parameters, sections and value bytes are capped */
static void test_param_caps(void **state)
{
    const size_t cap = 64 * 1024;
    char *s = malloc(cap);
    struct mime_params ps;
    size_t n = 0, i;
    char want[MIME_2231_SECTIONS_MAX + 1];

    (void)state;
    /* 70 parameters: 64 kept */
    for (i = 0; i < 70; i++)
        n += (size_t)snprintf(s + n, cap - n, "; p%zu=%zu", i, i);
    assert_int_equal(mime_params_parse(s, n, &ps), 0);
    assert_int_equal(ps.n, MIME_PARAMS_MAX);
    assert_string_equal(mime_params_get(&ps, "p63"), "63");
    assert_null(mime_params_get(&ps, "p64"));
    assert_int_equal(ps.flags, MIME_PF_TRUNCATED);
    mime_params_free(&ps);

    /* 100 sections: the first 64 joined */
    n = 0;
    for (i = 100; i-- > 0;)
        n += (size_t)snprintf(s + n, cap - n, "; x*%zu=%c", i, (char)('a' + i % 26));
    for (i = 0; i < MIME_2231_SECTIONS_MAX; i++)
        want[i] = (char)('a' + i % 26);
    want[i] = 0;
    assert_int_equal(mime_params_parse(s, n, &ps), 0);
    /* sections arrive in reverse order; the 64 with the lowest numbers seen first are
       99..36, so the cap keeps those: check the length and the flag */
    assert_int_equal(strlen(mime_params_get(&ps, "x")), MIME_2231_SECTIONS_MAX);
    assert_int_equal(ps.flags, MIME_PF_TRUNCATED);
    mime_params_free(&ps);
    n = 0;
    for (i = 0; i < 100; i++)
        n += (size_t)snprintf(s + n, cap - n, "; x*%zu=%c", i, (char)('a' + i % 26));
    assert_int_equal(mime_params_parse(s, n, &ps), 0);
    assert_string_equal(mime_params_get(&ps, "x"), want);
    mime_params_free(&ps);

    /* a 9,000 byte value is cut at MIME_PARAM_VALUE_MAX */
    n = (size_t)snprintf(s, cap, "; v=\"");
    memset(s + n, 'v', 9000);
    n += 9000;
    s[n++] = '"';
    assert_int_equal(mime_params_parse(s, n, &ps), 0);
    assert_int_equal(strlen(mime_params_get(&ps, "v")), MIME_PARAM_VALUE_MAX);
    assert_int_equal(ps.flags, MIME_PF_TRUNCATED);
    mime_params_free(&ps);
    free(s);
}

struct disp_case {
    const char *value;
    const char *type;
    const char *filename;
};

static const struct disp_case disp_cases[] = {
    { NULL, NULL, NULL },
    { "", NULL, NULL },
    { "INLINE", "inline", NULL },
    { "attachment; filename=\"a.pdf\"", "attachment", "a.pdf" },
    { "attachment;\r\n\tfilename*0*=utf-8''%E3%81%8B; filename*1*=.txt", "attachment",
      "\xE3\x81\x8B.txt" },
    { "filename=x.pdf", NULL, "x.pdf" },
    { " attachment (with a comment) ; filename = \"b.zip\"", "attachment", "b.zip" },
};

/* test_disposition - Content-Disposition type and file name */
static void test_disposition(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(disp_cases) / sizeof(disp_cases[0]); i++) {
        const struct disp_case *c = &disp_cases[i];
        struct mime_disp d;
        const char *f;

        assert_int_equal(mime_disp_parse(c->value, c->value ? strlen(c->value) : 0, &d), 0);
        if (c->type)
            assert_string_equal(d.type, c->type);
        else
            assert_null(d.type);
        f = mime_params_get(&d.params, "filename");
        if (c->filename)
            assert_string_equal(f, c->filename);
        else
            assert_null(f);
        mime_disp_free(&d);
    }
}

/* test_cte - Content-Transfer-Encoding */
static void test_cte(void **state)
{
    static const struct {
        const char *value;
        enum mime_cte cte;
        const char *name;
    } cases[] = {
        { NULL, MIME_CTE_7BIT, "7bit" },
        { "", MIME_CTE_7BIT, "7bit" },
        { "  ", MIME_CTE_7BIT, "7bit" },
        { "Base64", MIME_CTE_BASE64, "base64" },
        { " quoted-printable (comment)", MIME_CTE_QP, "quoted-printable" },
        { "8bit", MIME_CTE_8BIT, "8bit" },
        { "BINARY", MIME_CTE_BINARY, "binary" },
        { "x-uuencode", MIME_CTE_OTHER, "x-uuencode" },
        { "base64; x=y", MIME_CTE_BASE64, "base64" },
        { "a-very-long-encoding-name-beyond-the-cap", MIME_CTE_OTHER,
          "a-very-long-encoding-name-beyon" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[MIME_CTE_NAME_MAX];

        assert_int_equal(mime_cte_parse(cases[i].value, cases[i].value ? strlen(cases[i].value) : 0,
                                        name), cases[i].cte);
        assert_string_equal(name, cases[i].name);
    }
}

/* test_unfold - line breaks removed, ends trimmed */
static void test_unfold(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { " a\r\n b", "a b" },
        { "a\n\tb\n c", "a\tb c" },
        { "  x  ", "x" },
        { "", "" },
        { "\r\n", "" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT(1024);

        assert_int_equal(mime_unfold(cases[i].in, strlen(cases[i].in), &b), 0);
        assert_string_equal(buf_str(&b), cases[i].out);
        buf_free(&b);
    }
}

struct block_case {
    const char *name;
    const char *block;
    size_t len;               /* 0: strlen */
    size_t max_headers, max_len;
    const char *fields;       /* "name=raw|name=raw|..." */
    size_t body;              /* offset of the body */
    unsigned flags;
};

static const struct block_case block_cases[] = {
    { "CRLF", "Subject: hi\r\nFrom: a\r\n\r\nbody", 0, 100, 1000,
      "Subject= hi|From= a|", 24, 0 },
    { "bare LF", "A: 1\nB: 2\n\nx", 0, 100, 1000, "A= 1|B= 2|", 11, 0 },
    { "folding kept in raw", "Subject: a\r\n b\r\n\tc\r\nX: y\r\n\r\n", 0, 100, 1000,
      "Subject= a\r\n b\r\n\tc|X= y|", 28, 0 },
    { "line without colon skipped", "A: 1\nnot a header\nB: 2\n\n", 0, 100, 1000,
      "A= 1|B= 2|", 24, MIME_HF_BAD_LINE },
    { "first line not a header: body", "hello\nA: 1\n\n", 0, 100, 1000, "", 0, 0 },
    { "first line a continuation: body", " x\nA: 1\n\n", 0, 100, 1000, "", 0, 0 },
    { "white space only first line skipped", "   \t \nA: 1\n\n", 0, 100, 1000, "A= 1|", 12,
      MIME_HF_BAD_LINE },
    { "mbox From line", "From x@y Mon Jan  1 00:00:00 2024\nA: 1\n\n", 0, 100, 1000,
      "A= 1|", 40, MIME_HF_MBOX },
    { "NUL removed", "A: x\0y\nB: 2\n\n", 13, 100, 1000, "A= xy|B= 2|", 13, MIME_HF_NUL },
    { "white space before colon", "Subject : x\n\n", 0, 100, 1000, "Subject= x|", 13, 0 },
    { "empty value", "X-Empty:\n\n", 0, 100, 1000, "X-Empty=|", 10, 0 },
    { "colon in value", "A: b:c\n\n", 0, 100, 1000, "A= b:c|", 8, 0 },
    { "too many: rest and its continuation dropped", "A: 1\nB: 2\nC: 3\n c\nD: 4\n\n", 0, 2,
      1000, "A= 1|B= 2|", 24, MIME_HF_TOO_MANY },
    { "too long: cut", "Subject: 0123456789\nB: 2\n\n", 0, 100, 10,
      "Subject= 0|B= 2|", 26, MIME_HF_TOO_LONG },
    { "too long over folding", "A: 12\n 34\n 56\n\n", 0, 100, 9, "A= 12\n 34|", 15,
      MIME_HF_TOO_LONG },
    { "no blank line", "A: 1\nB: 2", 0, 100, 1000, "A= 1|B= 2|", 9, 0 },
    { "header block then boundary-like body", "A: 1\n\n--b\n", 0, 100, 1000, "A= 1|", 6, 0 },
};

/* test_blocks - header blocks parsed in one go */
static void test_blocks(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(block_cases) / sizeof(block_cases[0]); i++) {
        const struct block_case *c = &block_cases[i];
        struct mime_hdrs h;
        struct buf got = BUF_INIT(4096);
        size_t body = 99999;

        mime_hdrs_init(&h, c->max_headers, c->max_len, 1);
        assert_int_equal(mime_hdrs_parse(c->block, c->len ? c->len : strlen(c->block), &h, &body), 0);
        for (k = 0; k < h.n; k++)
            buf_printf(&got, "%s=%s|", h.v[k].name, h.v[k].raw);
        if (strcmp(buf_str(&got), c->fields) != 0 || body != c->body || h.flags != c->flags)
            print_error("case '%s': fields '%s' body %zu flags %x\n", c->name, buf_str(&got), body,
                        h.flags);
        assert_string_equal(buf_str(&got), c->fields);
        assert_int_equal(body, c->body);
        assert_int_equal(h.flags, c->flags);
        buf_free(&got);
        mime_hdrs_free(&h);
    }
}

/* test_pieces - a field fed in pieces equals the field fed whole; find is case-blind */
static void test_pieces(void **state)
{
    struct mime_hdrs h;
    const struct mime_hdr *f;

    (void)state;
    mime_hdrs_init(&h, 100, 1000, 0);
    /* the first piece of a line holds the name and colon (the parser's pieces are
       MIME_LINE_CAP bytes) */
    assert_int_equal(mime_hdrs_feed(&h, "Subject: h", 10, 1), 0);
    assert_int_equal(mime_hdrs_feed(&h, "el", 2, 0), 0);
    assert_int_equal(mime_hdrs_feed(&h, "lo\r\n", 4, 0), 0);
    assert_int_equal(mime_hdrs_feed(&h, " wor", 4, 1), 0);
    assert_int_equal(mime_hdrs_feed(&h, "ld\n", 3, 0), 0);
    assert_int_equal(mime_hdrs_feed(&h, "subject: second\n", 16, 1), 0);
    assert_int_equal(mime_hdrs_end(&h), 0);
    assert_int_equal(h.n, 2);
    f = mime_hdrs_find(&h, "SUBJECT", 0);
    assert_non_null(f);
    assert_string_equal(f->raw, " hello\r\n world");
    f = mime_hdrs_find(&h, "Subject", 1);
    assert_non_null(f);
    assert_string_equal(f->raw, " second");
    assert_null(mime_hdrs_find(&h, "Subject", 2));
    assert_null(mime_hdrs_find(&h, "From", 0));
    mime_hdrs_free(&h);

    /* without mbox, a first "From " line is the body */
    mime_hdrs_init(&h, 100, 1000, 0);
    assert_int_equal(mime_hdrs_feed(&h, "From x@y\n", 9, 1), MIME_HDRS_BODY);
    mime_hdrs_free(&h);
}

/* test_header_line_cap - a 1 MB field is kept to max_len bytes */
static void test_header_line_cap(void **state)
{
    struct mime_hdrs h;
    char *big = malloc(1 << 20);
    size_t i;

    (void)state;
    memset(big, 'z', 1 << 20);
    mime_hdrs_init(&h, 100, 64 << 10, 0);
    assert_int_equal(mime_hdrs_feed(&h, "X-Big: ", 7, 1), 0);
    for (i = 0; i < 16; i++)
        assert_int_equal(mime_hdrs_feed(&h, big, 1 << 16, 0), 0);
    assert_int_equal(mime_hdrs_feed(&h, "\n", 1, 0), 0);
    assert_int_equal(mime_hdrs_end(&h), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(strlen(h.v[0].name) + 1 + strlen(h.v[0].raw), 64 << 10);
    assert_int_equal(h.flags, MIME_HF_TOO_LONG);
    mime_hdrs_free(&h);
    free(big);
}

/* main - run the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctype),
        cmocka_unit_test(test_boundary_cap),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_param_caps),
        cmocka_unit_test(test_disposition),
        cmocka_unit_test(test_cte),
        cmocka_unit_test(test_unfold),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_header_line_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
