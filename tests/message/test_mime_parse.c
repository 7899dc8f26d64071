/*
 * test_mime_parse - the streaming MIME parser: event traces for a table of
 * messages, each pushed whole and in chunks of 1, 2, 3, 7 and 64 bytes
 * (the trace must not depend on the chunking); offsets; callback stop and
 * failure; and scale: a 1 MB header line, a 100 MB body, 50,000 headers,
 * 1,000-deep nesting and 10,000 parts, in bounded memory.
 *
 * A trace is "(ID TYPE K)" at part_begin (K: L leaf, M multipart, R
 * message), the body bytes in "[...]", and "(/ID)" at part_end, with
 * " f=HEX" when the part has flags.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/mime_parse.h"
#include "util/buf.h"

struct trace {
    struct buf out;
    int in_body;
    int stop_at_begin;        /* return MIME_STOP at part_begin of this id + 1 */
    int fail_at_body;         /* return -1 (EIO) at the first body event */
    size_t maxmem;
    struct mime_parser *p;
};

/* t_begin - record part_begin */
static int t_begin(void *arg, struct mime_part *part)
{
    struct trace *t = arg;
    static const char kinds[] = "LMR";

    if (t->stop_at_begin && part->id + 1 == (unsigned)t->stop_at_begin)
        return MIME_STOP;
    buf_printf(&t->out, "(%u %s %c)", part->id, part->ct->type, kinds[part->kind]);
    return 0;
}

/* t_body - record body bytes */
static int t_body(void *arg, const struct mime_part *part, const char *data, size_t len)
{
    struct trace *t = arg;

    (void)part;
    if (t->fail_at_body) {
        errno = EIO;
        return -1;
    }
    if (!t->in_body)
        buf_addc(&t->out, '[');
    t->in_body = 1;
    buf_add(&t->out, data, len);
    return 0;
}

/* t_end - record part_end */
static int t_end(void *arg, const struct mime_part *part)
{
    struct trace *t = arg;

    if (t->in_body)
        buf_addc(&t->out, ']');
    t->in_body = 0;
    if (part->flags)
        buf_printf(&t->out, "(/%u f=%x)", part->id, part->flags);
    else
        buf_printf(&t->out, "(/%u)", part->id);
    return 0;
}

static const struct mime_callbacks trace_cb = { t_begin, t_body, t_end, NULL };

/* limits_with - default limits with the given overrides (0: default) */
static struct msg_limits limits_with(size_t max_headers, unsigned max_depth, size_t max_parts)
{
    struct msg_limits lim = {
        100u << 20, 1000, 64 << 10, 32, 2000, 32u << 20
    };

    if (max_headers)
        lim.max_headers = max_headers;
    if (max_depth)
        lim.max_depth = max_depth;
    if (max_parts)
        lim.max_parts = max_parts;
    return lim;
}

/* run_trace - parse msg pushed in chunks of step bytes (0: whole); returns the trace */
static char *run_trace(const char *msg, size_t len, size_t step, const struct msg_limits *lim,
                       unsigned *inc)
{
    struct trace t;
    struct mime_callbacks cb = trace_cb;
    struct mime_parser *p;
    size_t off = 0;

    memset(&t, 0, sizeof(t));
    buf_init(&t.out, 1 << 20);
    cb.arg = &t;
    p = mime_parse_new(lim, &cb);
    assert_non_null(p);
    while (off < len) {
        size_t n = step == 0 || len - off < step ? len - off : step;

        assert_int_equal(mime_parse_push(p, msg + off, n), 0);
        off += n;
    }
    assert_int_equal(mime_parse_finish(p), 0);
    *inc = mime_parse_incomplete(p);
    mime_parse_free(p);
    return buf_steal(&t.out);
}

struct trace_case {
    const char *name;
    const char *msg;
    size_t max_headers;
    unsigned max_depth;
    size_t max_parts;
    const char *trace;
    unsigned inc;
};

#define LONGB "0123456789012345678901234567890123456789012345678901234567890123456789" \
              "0123456789012345678901234567890123456789012345678901234567890123456789"

static const struct trace_case trace_cases[] = {
    { "single part, CRLF",
      "Subject: x\r\n\r\nHello\r\nWorld\r\n",
      0, 0, 0, "(0 text/plain L)[Hello\r\nWorld\r\n](/0)", 0 },
    { "single part, no final line break",
      "Subject: x\n\nHello",
      0, 0, 0, "(0 text/plain L)[Hello](/0)", 0 },
    { "headers only, no blank line",
      "Subject: x\nFrom: y\n",
      0, 0, 0, "(0 text/plain L)(/0)", 0 },
    { "empty message",
      "",
      0, 0, 0, "(0 text/plain L)(/0)", 0 },
    { "mbox From line skipped",
      "From someone@example.com Mon Jan  1 00:00:00 2024\nContent-Type: text/html\n\n<p>x</p>\n",
      0, 0, 0, "(0 text/html L)[<p>x</p>\n](/0)", 0 },
    { "multipart CRLF with preamble and epilogue",
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
      "preamble --b1 not here\r\n--b1\r\nContent-Type: text/plain\r\n\r\none\r\n"
      "--b1\r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n--b1--\r\nepilogue\r\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[one](/1)(2 text/html L)[<b>two</b>](/2)(/0)", 0 },
    { "multipart LF, body line break kept except the last",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\nline1\n\nline2\n\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[line1\n\nline2\n](/1)(/0)", 0 },
    { "boundary lines with trailing white space",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1  \t\nA: 1\n\nx\n--b1-- \n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[x](/1)(/0)", 0 },
    { "lines that only look like the boundary",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\n--b1x\n--b1-x\n--b\n--\n-\n--b1--x\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[--b1x\n--b1-x\n--b\n--\n-\n--b1--x](/1)(/0)", 0 },
    { "missing closing boundary",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\nlast part\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[last part\n](/1)(/0 f=80)", 0 },
    { "closing boundary at the end without line break",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\nx\n--b1--",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[x](/1)(/0)", 0 },
    { "nested mixed > alternative > plain + html, then an attachment",
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\nContent-Type: text/plain\n\nplain\n"
      "--inner\nContent-Type: text/html\n\n<p>html</p>\n--inner--\n\n"
      "--outer\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
      "--outer--\n",
      0, 0, 0,
      "(0 multipart/mixed M)(1 multipart/alternative M)(2 text/plain L)[plain](/2)"
      "(3 text/html L)[<p>html</p>](/3)(/1)(4 application/pdf L)[JVBERi0=](/4)(/0)", 0 },
    { "outer boundary closes an unclosed inner multipart",
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\n\na\n--outer\n\nb\n--outer--\n",
      0, 0, 0,
      "(0 multipart/mixed M)(1 multipart/alternative M)(2 text/plain L)[a](/2)(/1 f=80)"
      "(3 text/plain L)[b](/3)(/0)", 0 },
    { "message/rfc822 with its own attachment",
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\n\ncover\n"
      "--b1\nContent-Type: message/rfc822\n\n"
      "Subject: inner\nContent-Type: multipart/mixed; boundary=b2\n\n"
      "--b2\n\ninner text\n--b2\nContent-Type: image/png\n\nPNG\n--b2--\n"
      "--b1--\n",
      0, 0, 0,
      "(0 multipart/mixed M)(1 text/plain L)[cover](/1)(2 message/rfc822 R)(3 multipart/mixed M)"
      "(4 text/plain L)[inner text](/4)(5 image/png L)[PNG](/5)(/3)(/2)(/0)", 0 },
    { "base64 message/rfc822 is a leaf",
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA==\n--b1--\n",
      0, 0, 0,
      "(0 multipart/mixed M)(1 message/rfc822 L)[U3ViamVjdDogeA==](/1)(/0)", 0 },
    { "top-level message/rfc822",
      "Content-Type: message/rfc822\n\nSubject: in\n\nbody\n",
      0, 0, 0, "(0 message/rfc822 R)(1 text/plain L)[body\n](/1)(/0)", 0 },
    { "digest: parts default to message/rfc822",
      "Content-Type: multipart/digest; boundary=d\n\n"
      "--d\n\nSubject: one\n\nfirst\n"
      "--d\nContent-Type: text/plain\n\nsecond\n--d--\n",
      0, 0, 0,
      "(0 multipart/digest M)(1 message/rfc822 R)(2 text/plain L)[first](/2)(/1)"
      "(3 text/plain L)[second](/3)(/0)", 0 },
    { "part without headers: its first line is body",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nhello\nworld\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[hello\nworld](/1)(/0)", 0 },
    { "part whose header block runs into the boundary",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/html\n--b1\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/html L)(/1)(2 text/plain L)(/2)(/0)", 0 },
    { "empty body part",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/html\n\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/html L)(/1)(/0)", 0 },
    { "header line without colon is skipped",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/html\nno colon here\n"
      "Content-Disposition: inline\n\nx\n--b1--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/html L)[x](/1)(/0)", 0 },
    { "multipart without boundary is text/plain",
      "Content-Type: multipart/mixed\n\n--b1\n\nx\n",
      0, 0, 0, "(0 text/plain L)[--b1\n\nx\n](/0)", 0 },
    { "1000-byte boundary accepted",
      "Content-Type: multipart/mixed; boundary=\"" LONGB LONGB LONGB LONGB LONGB LONGB LONGB
      "01234567890123456789\"\n\n"
      "--" LONGB LONGB LONGB LONGB LONGB LONGB LONGB
      "01234567890123456789\n\nx\n"
      "--" LONGB LONGB LONGB LONGB LONGB LONGB LONGB
      "01234567890123456789--\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[x](/1)(/0)", 0 },
    { "1001-byte boundary refused: text/plain",
      "Content-Type: multipart/mixed; boundary=\"" LONGB LONGB LONGB LONGB LONGB LONGB LONGB
      "012345678901234567890\"\n\nx\n",
      0, 0, 0, "(0 text/plain L)[x\n](/0)", 0 },
    { "CR before a boundary belongs to it, a lone CR does not",
      "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\r\na\rb\r\r\n--b1--\r\n",
      0, 0, 0, "(0 multipart/mixed M)(1 text/plain L)[a\rb\r](/1)(/0)", 0 },
    { "depth limit: inner multipart is an opaque leaf",
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: multipart/mixed; boundary=b2\n\n--b2\n\ndeep\n--b2--\n"
      "--b1\n\nnext\n--b1--\n",
      0, 1, 0,
      "(0 multipart/mixed M)(1 multipart/mixed L)[--b2\n\ndeep\n--b2--](/1)(2 text/plain L)[next](/2)(/0)",
      MSG_INC_DEPTH },
    { "depth limit on message/rfc822",
      "Content-Type: multipart/mixed; boundary=b1\n\n"
      "--b1\nContent-Type: message/rfc822\n\nSubject: in\n\nbody\n--b1--\n",
      0, 1, 0, "(0 multipart/mixed M)(1 message/rfc822 L)[Subject: in\n\nbody](/1)(/0)",
      MSG_INC_DEPTH },
    { "parts limit: later parts skipped",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\n1\n--b1\n\n2\n--b1\n\n3\n--b1--\n",
      0, 0, 3, "(0 multipart/mixed M)(1 text/plain L)[1](/1)(2 text/plain L)[2](/2)(/0)",
      MSG_INC_PARTS },
    { "parts limit: container without room for a child is a leaf",
      "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\n1\n--b1--\n",
      0, 0, 1, "(0 multipart/mixed L)[--b1\n\n1\n--b1--\n](/0)", MSG_INC_PARTS },
    { "header limit flags the part",
      "A: 1\nB: 2\nC: 3\nContent-Type: text/html\n\nx",
      2, 0, 0, "(0 text/plain L)[x](/0 f=100)", MSG_INC_HEADERS },
};

/* test_traces - every case gives its trace, whatever the chunking */
static void test_traces(void **state)
{
    static const size_t steps[] = { 0, 1, 2, 3, 7, 64 };
    size_t i, s;

    (void)state;
    for (i = 0; i < sizeof(trace_cases) / sizeof(trace_cases[0]); i++) {
        const struct trace_case *c = &trace_cases[i];
        struct msg_limits lim = limits_with(c->max_headers, c->max_depth, c->max_parts);
        size_t len = strlen(c->msg);
        for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            unsigned inc = 0;
            char *got = run_trace(c->msg, len, steps[s], &lim, &inc);

            if (strlen(got) != strlen(c->trace) || memcmp(got, c->trace, strlen(c->trace)) != 0)
                print_error("case '%s' step %zu:\n got  %s\n want %s\n", c->name, steps[s], got,
                            c->trace);
            assert_string_equal(got, c->trace);
            assert_int_equal(inc, c->inc);
            free(got);
        }
    }
}

/* test_nul - NUL bytes: removed from headers, passed through in the body */
static void test_nul(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; bound\0ary=b1\n\n--b1\n\na\0b\n--b1--\n";
    static const char want[] = "(0 multipart/mixed M)(1 text/plain L)[a\0b](/1)(/0)";
    struct msg_limits lim = limits_with(0, 0, 0);
    size_t s;

    (void)state;
    for (s = 0; s < 4; s++) {
        unsigned inc;
        char *got = run_trace(msg, sizeof(msg) - 1, s, &lim, &inc);

        assert_memory_equal(got, want, sizeof(want));
        free(got);
    }
}

struct offs {
    uint64_t body_offset[8], body_end[8], header_offset[8];
};

/* o_begin - keep offsets */
static int o_begin(void *arg, struct mime_part *part)
{
    struct offs *o = arg;

    if (part->id < 8) {
        o->body_offset[part->id] = part->body_offset;
        o->header_offset[part->id] = part->header_offset;
    }
    return 0;
}

/* o_end - keep offsets */
static int o_end(void *arg, const struct mime_part *part)
{
    struct offs *o = arg;

    if (part->id < 8)
        o->body_end[part->id] = part->body_end;
    return 0;
}

/* test_offsets - header, body and end offsets of each part */
static void test_offsets(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\r\n"  /* 0..43 */
        "\r\n"                                            /* 43..45 */
        "--b\r\n"                                         /* 45..50 */
        "A: 1\r\n"                                        /* 50..56 */
        "\r\n"                                            /* 56..58 */
        "body\r\n"                                        /* 58..64 */
        "--b--\r\n";                                      /* 64..71 */
    struct offs o;
    struct mime_callbacks cb = { o_begin, NULL, o_end, &o };
    struct msg_limits lim = limits_with(0, 0, 0);
    struct mime_parser *p;

    (void)state;
    memset(&o, 0, sizeof(o));
    p = mime_parse_new(&lim, &cb);
    assert_non_null(p);
    assert_int_equal(mime_parse_push(p, msg, sizeof(msg) - 1), 0);
    assert_int_equal(mime_parse_finish(p), 0);
    assert_int_equal(o.header_offset[0], 0);
    assert_int_equal(o.body_offset[0], 45);
    assert_int_equal(o.body_end[0], 71);
    assert_int_equal(o.header_offset[1], 50);
    assert_int_equal(o.body_offset[1], 58);
    assert_int_equal(o.body_end[1], 62);
    assert_int_equal(mime_parse_nparts(p), 2);
    mime_parse_free(p);
}

/* test_stop_and_fail - MIME_STOP ends quietly, -1 fails every later call */
static void test_stop_and_fail(void **state)
{
    static const char msg[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n";
    struct msg_limits lim = limits_with(0, 0, 0);
    struct trace t;
    struct mime_callbacks cb = trace_cb;
    struct mime_parser *p;

    (void)state;
    memset(&t, 0, sizeof(t));
    buf_init(&t.out, 4096);
    cb.arg = &t;
    t.stop_at_begin = 2;                /* stop at part 1 */
    p = mime_parse_new(&lim, &cb);
    assert_int_equal(mime_parse_push(p, msg, sizeof(msg) - 1), 0);
    assert_int_equal(mime_parse_stopped(p), 1);
    assert_int_equal(mime_parse_push(p, "more", 4), 0);
    assert_int_equal(mime_parse_finish(p), 0);
    assert_string_equal(buf_str(&t.out), "(0 multipart/mixed M)");
    mime_parse_free(p);

    buf_reset(&t.out);
    t.stop_at_begin = 0;
    t.fail_at_body = 1;
    p = mime_parse_new(&lim, &cb);
    errno = 0;
    assert_int_equal(mime_parse_push(p, msg, sizeof(msg) - 1), -1);
    assert_int_equal(errno, EIO);
    errno = 0;
    assert_int_equal(mime_parse_push(p, "x", 1), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(mime_parse_finish(p), -1);
    mime_parse_free(p);
    buf_free(&t.out);
}

/* counting callbacks for the scale tests */
struct count {
    size_t begins, ends, leaves;
    uint64_t body;
    unsigned maxdepth;
    size_t maxmem;
    struct mime_parser *p;
};

/* c_begin - count a part */
static int c_begin(void *arg, struct mime_part *part)
{
    struct count *c = arg;

    c->begins++;
    if (part->depth > c->maxdepth)
        c->maxdepth = part->depth;
    if (part->kind == MIME_LEAF)
        c->leaves++;
    return 0;
}

/* c_body - count body bytes */
static int c_body(void *arg, const struct mime_part *part, const char *data, size_t len)
{
    struct count *c = arg;

    (void)part;
    (void)data;
    c->body += len;
    return 0;
}

/* c_end - count an end */
static int c_end(void *arg, const struct mime_part *part)
{
    struct count *c = arg;

    (void)part;
    c->ends++;
    return 0;
}

/* feed - push s in chunks of step, noting the parser's memory */
static void feed(struct count *c, const char *s, size_t len, size_t step)
{
    size_t off = 0, m;

    while (off < len) {
        size_t n = len - off < step ? len - off : step;

        assert_int_equal(mime_parse_push(c->p, s + off, n), 0);
        off += n;
        if ((m = mime_parse_memory(c->p)) > c->maxmem)
            c->maxmem = m;
    }
}

/* count_new - a counting parser */
static void count_new(struct count *c, const struct msg_limits *lim, struct mime_callbacks *cb)
{
    memset(c, 0, sizeof(*c));
    cb->part_begin = c_begin;
    cb->body = c_body;
    cb->part_end = c_end;
    cb->arg = c;
    c->p = mime_parse_new(lim, cb);
    assert_non_null(c->p);
}

/* test_huge_header_line - a 1 MB header line is cut, memory stays small */
static void test_huge_header_line(void **state)
{
    struct msg_limits lim = limits_with(0, 0, 0);
    struct mime_callbacks cb;
    struct count c;
    char *line = malloc(1 << 20);

    (void)state;
    memset(line, 'x', 1 << 20);
    count_new(&c, &lim, &cb);
    feed(&c, "Subject: ", 9, 9);
    feed(&c, line, 1 << 20, 65536);
    feed(&c, "\nContent-Type: text/html\n\nbody\n", 31, 7);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(c.begins, 1);
    assert_int_equal(c.body, 5);
    assert_int_equal(mime_parse_incomplete(c.p), MSG_INC_HEADERS);
    assert_true(c.maxmem < 200 * 1024);
    mime_parse_free(c.p);

    /* the same pushed as one piece */
    count_new(&c, &lim, &cb);
    feed(&c, "Subject: ", 9, 9);
    feed(&c, line, 1 << 20, 1 << 20);
    feed(&c, "\n\nbody\n", 7, 7);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(c.body, 5);
    assert_true(c.maxmem < 200 * 1024);
    mime_parse_free(c.p);
    free(line);
}

/* test_huge_body - a 100 MB part inside a multipart, pushed in 64 KiB chunks */
static void test_huge_body(void **state)
{
    static const char head[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                               "Content-Transfer-Encoding: base64\n\n";
    static const char tail[] = "\n--b--\n";
    struct msg_limits lim = limits_with(0, 0, 0);
    struct mime_callbacks cb;
    struct count c;
    size_t chunk = 65536, i, total = 100u << 20;
    char *line = malloc(chunk);

    (void)state;
    /* lines of 76 characters, each starting like a delimiter ("--bA...") */
    for (i = 0; i < chunk; i++)
        line[i] = i % 77 == 76 ? '\n' : i % 77 < 3 ? "--b"[i % 77] : (char)('A' + i % 26);
    count_new(&c, &lim, &cb);
    feed(&c, head, sizeof(head) - 1, sizeof(head) - 1);
    for (i = 0; i < total / chunk; i++)
        feed(&c, line, chunk, chunk);
    feed(&c, tail, sizeof(tail) - 1, sizeof(tail) - 1);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(c.begins, 2);
    assert_int_equal(c.ends, 2);
    assert_int_equal(c.body, total);
    assert_int_equal(mime_parse_incomplete(c.p), 0);
    assert_true(c.maxmem < 64 * 1024);
    mime_parse_free(c.p);
    free(line);
}

/* test_many_headers - 50,000 header fields: 1,000 kept, the body still found */
static void test_many_headers(void **state)
{
    struct msg_limits lim = limits_with(0, 0, 0);
    struct mime_callbacks cb;
    struct count c;
    char line[64];
    size_t i, maxmem_ok;

    (void)state;
    count_new(&c, &lim, &cb);
    for (i = 0; i < 50000; i++) {
        int n = snprintf(line, sizeof(line), "X-Header-%zu: value %zu\r\n", i, i);

        feed(&c, line, (size_t)n, (size_t)n);
    }
    feed(&c, "\r\nbody\r\n", 8, 8);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(c.begins, 1);
    assert_int_equal(c.body, 6);
    assert_int_equal(mime_parse_incomplete(c.p), MSG_INC_HEADERS);
    /* 1,000 short fields are kept, not 50,000 */
    maxmem_ok = 1000 * 64 + 64 * 1024;
    assert_true(c.maxmem < maxmem_ok);
    mime_parse_free(c.p);
}

/* nested - build a message of depth nested multiparts around one text part */
static char *nested(size_t depth, size_t *len)
{
    struct buf b = BUF_INIT(64 << 20);
    size_t i;

    for (i = 0; i < depth; i++)
        buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"lvl%zu\"\n\n--lvl%zu\n", i, i);
    buf_printf(&b, "Content-Type: text/plain\n\ninnermost\n");
    for (i = depth; i-- > 0;)
        buf_printf(&b, "--lvl%zu--\n", i);
    *len = b.len;
    return buf_steal(&b);
}

/* test_deep_nesting - 1,000 levels: cut at max_depth, or all parsed when allowed */
static void test_deep_nesting(void **state)
{
    struct msg_limits lim = limits_with(0, 0, 0);
    struct mime_callbacks cb;
    struct count c;
    size_t len;
    char *msg = nested(1000, &len);

    (void)state;
    count_new(&c, &lim, &cb);
    feed(&c, msg, len, 4096);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(mime_parse_incomplete(c.p), MSG_INC_DEPTH);
    assert_int_equal(c.maxdepth, 32);
    assert_int_equal(c.begins, 33);
    assert_int_equal(c.begins, c.ends);
    assert_true(c.maxmem < 64 * 1024);
    mime_parse_free(c.p);

    lim.max_depth = 5000;
    count_new(&c, &lim, &cb);
    feed(&c, msg, len, 4096);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(mime_parse_incomplete(c.p), 0);
    assert_int_equal(c.maxdepth, 1000);
    assert_int_equal(c.begins, 1001);
    assert_int_equal(c.leaves, 1);
    assert_int_equal(c.body, 9);
    mime_parse_free(c.p);
    free(msg);
}

/* test_many_parts - 10,000 parts: 2,000 modelled, or all when allowed */
static void test_many_parts(void **state)
{
    struct msg_limits lim = limits_with(0, 0, 0);
    struct buf b = BUF_INIT(64 << 20);
    struct mime_callbacks cb;
    struct count c;
    size_t i;

    (void)state;
    buf_adds(&b, "Content-Type: multipart/mixed; boundary=p\n\n");
    for (i = 0; i < 10000; i++)
        buf_printf(&b, "--p\nContent-Type: text/plain\n\npart %zu\n", i);
    buf_adds(&b, "--p--\n");
    count_new(&c, &lim, &cb);
    feed(&c, b.data, b.len, 65536);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(mime_parse_incomplete(c.p), MSG_INC_PARTS);
    assert_int_equal(c.begins, 2000);
    assert_int_equal(mime_parse_nparts(c.p), 2000);
    mime_parse_free(c.p);

    lim.max_parts = 20000;
    count_new(&c, &lim, &cb);
    feed(&c, b.data, b.len, 65536);
    assert_int_equal(mime_parse_finish(c.p), 0);
    assert_int_equal(mime_parse_incomplete(c.p), 0);
    assert_int_equal(c.begins, 10001);
    assert_int_equal(c.ends, 10001);
    assert_true(c.maxmem < 64 * 1024);
    mime_parse_free(c.p);
    buf_free(&b);
}

/* test_long_body_lines - lines far longer than MIME_LINE_CAP pass through whole */
static void test_long_body_lines(void **state)
{
    struct msg_limits lim = limits_with(0, 0, 0);
    struct buf b = BUF_INIT(1 << 20);
    size_t i, steps[] = { 1, 100, 4095, 4096, 4097, 0 };
    size_t s;

    (void)state;
    buf_adds(&b, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n");
    for (i = 0; i < 3 * MIME_LINE_CAP; i++)
        buf_addc(&b, i == MIME_LINE_CAP ? '\n' : '-');
    buf_adds(&b, "\n--b--\n");
    for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        unsigned inc;
        char *got = run_trace(b.data, b.len, steps[s], &lim, &inc);
        const char *body = strchr(got, '[');

        assert_non_null(body);
        assert_int_equal(strlen(body), 3 * MIME_LINE_CAP + 2 + strlen("(/1)(/0)"));
        free(got);
    }
    buf_free(&b);
}

/* main - run the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traces),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_stop_and_fail),
        cmocka_unit_test(test_huge_header_line),
        cmocka_unit_test(test_huge_body),
        cmocka_unit_test(test_many_headers),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_many_parts),
        cmocka_unit_test(test_long_body_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
