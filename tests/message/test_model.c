/*
 * test_model - msg_model_build() on small real-world-style messages: the
 * tree (ids, depths, types, charsets, dispositions, file names, encodings,
 * sizes, flags), decoded headers in several charsets, the text that
 * reaches the sink (quoted-printable, base64, charsets, HTML entities),
 * malformed input, every limit, a message spilled to disk giving the same
 * model as in memory, and the envelope helpers.
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

#include "message/model.h"
#include "message/spool.h"
#include "util/buf.h"

#define MAXP 64

/* a collecting text sink: the text of each part, by id */
struct collect {
    struct buf text[MAXP];
    unsigned ends[MAXP];
    size_t calls;
    size_t stop_after;        /* return -1 after this many calls (0: never) */
    unsigned wrong_part;      /* text for a part that is not MSG_PART_TEXT */
};

/* c_text - keep text */
static int c_text(void *arg, const struct msg_part *part, const char *utf8, size_t len)
{
    struct collect *c = arg;

    if (!(part->flags & MSG_PART_TEXT))
        c->wrong_part++;
    if (part->id < MAXP)
        buf_add(&c->text[part->id], utf8, len);
    c->calls++;
    if (c->stop_after && c->calls >= c->stop_after)
        return -1;
    return 0;
}

/* c_end - count part ends */
static void c_end(void *arg, const struct msg_part *part)
{
    struct collect *c = arg;

    if (part->id < MAXP)
        c->ends[part->id]++;
}

/* collect_init - an empty collector */
static void collect_init(struct collect *c)
{
    size_t i;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < MAXP; i++)
        buf_init(&c->text[i], 64 << 20);
}

/* collect_free - release the collector */
static void collect_free(struct collect *c)
{
    size_t i;

    for (i = 0; i < MAXP; i++)
        buf_free(&c->text[i]);
}

/* text_of - the text collected for part id */
static const char *text_of(const struct collect *c, unsigned id)
{
    return buf_str(&c->text[id]);
}

/* build_mem - build the model of msg (len bytes) with a spool of the given memory limit */
static struct msg_model *build_mem(const char *msg, size_t len, const struct msg_limits *lim,
                                   size_t memlimit, struct collect *c, int *spilled)
{
    struct spool *sp = spool_new("/tmp", memlimit);
    struct msg_text_sink sink = { c_text, c_end, c };
    struct msg_model *m = NULL;
    size_t off;

    assert_non_null(sp);
    for (off = 0; off < len; off += 1000)
        assert_int_equal(spool_write(sp, msg + off, len - off < 1000 ? len - off : 1000), 0);
    if (spilled)
        *spilled = spool_in_file(sp);
    assert_int_equal(msg_model_build(sp, lim, c ? &sink : NULL, &m), 0);
    assert_non_null(m);
    spool_free(sp);
    return m;
}

/* build - build the model of a C string message in memory */
static struct msg_model *build(const char *msg, const struct msg_limits *lim, struct collect *c)
{
    return build_mem(msg, strlen(msg), lim, 1 << 20, c, NULL);
}

/* next_part - the part after p in document order (pre-order), NULL at the end */
static const struct msg_part *next_part(const struct msg_part *p)
{
    if (p->children)
        return p->children;
    while (p != NULL && p->next == NULL)
        p = p->parent;
    return p ? p->next : NULL;
}

/* part_by_id - the part with that id */
static const struct msg_part *part_by_id(const struct msg_model *m, unsigned id)
{
    const struct msg_part *p;

    for (p = m->root; p != NULL; p = next_part(p))
        if (p->id == id)
            return p;
    return NULL;
}

/* check_tree - ids in document order, depths, flags and sizes consistent */
static void check_tree(const struct msg_model *m)
{
    const struct msg_part *p;
    unsigned id = 0;

    assert_non_null(m->root);
    assert_null(m->root->parent);
    for (p = m->root; p != NULL; p = next_part(p), id++) {
        assert_int_equal(p->id, id);
        assert_int_equal(p->depth, p->parent ? p->parent->depth + 1 : 0);
        assert_non_null(p->content_type);
        assert_non_null(p->encoding);
        assert_true(p->body_offset + p->raw_size <= m->size);
        if (p->flags & (MSG_PART_MULTIPART | MSG_PART_MESSAGE)) {
            assert_int_equal(p->flags & (MSG_PART_TEXT | MSG_PART_ATTACHMENT), 0);
            assert_int_equal(p->decoded_size, 0);
        } else {
            assert_null(p->children);
        }
        if (p->flags & MSG_PART_MESSAGE)
            assert_true(p->children == NULL || p->children->next == NULL);
    }
    assert_int_equal(id, m->nparts);
}

/* limits - the defaults */
static struct msg_limits limits(void)
{
    struct msg_limits lim;

    msg_limits_default(&lim);
    return lim;
}

static const char nested_msg[] =
    "From: a@example.com\n"
    "To: b@example.org\n"
    "Subject: Quarterly report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"mix\"\n"
    "\n"
    "This is a multi-part message in MIME format.\n"
    "--mix\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe, the numbers are in.\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<html><head><style>p {color: red}</style></head>"
    "<body><p>Gr&uuml;&szlig;e, total &#52;2</p><script>var x = 'hidden';</script></body></html>\n"
    "--alt--\n"
    "\n"
    "--mix\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQK\n"
    "Jcfsj6IK\n"
    "--mix--\n";

/* test_nested - mixed > alternative > plain + html, then a PDF */
static void test_nested(void **state)
{
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;
    const struct msg_part *p;

    (void)state;
    collect_init(&c);
    m = build(nested_msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->nparts, 5);
    assert_int_equal(m->incomplete, 0);
    assert_string_equal(m->subject, "Quarterly report");
    assert_int_equal(m->size, strlen(nested_msg));

    p = part_by_id(m, 0);
    assert_string_equal(p->content_type, "multipart/mixed");
    assert_int_equal(p->flags, MSG_PART_MULTIPART);
    assert_int_equal(p->nheaders, 5);
    assert_string_equal(msg_header_find(p, "to", 0)->value, "b@example.org");

    p = part_by_id(m, 1);
    assert_string_equal(p->content_type, "multipart/alternative");
    assert_int_equal(p->depth, 1);
    assert_int_equal(p->flags, MSG_PART_MULTIPART);

    p = part_by_id(m, 2);
    assert_string_equal(p->content_type, "text/plain");
    assert_string_equal(p->charset, "utf-8");
    assert_string_equal(p->encoding, "quoted-printable");
    assert_int_equal(p->depth, 2);
    assert_int_equal(p->flags, MSG_PART_TEXT);
    assert_null(p->filename);
    assert_null(p->disposition);
    assert_string_equal(text_of(&c, 2), "Gr\xC3\xBC\xC3\x9F" "e, the numbers are in.");
    assert_int_equal(p->decoded_size, strlen("Gr\xC3\xBC\xC3\x9F" "e, the numbers are in."));
    assert_int_equal(p->raw_size, strlen("Gr=C3=BC=C3=9Fe, the numbers are in."));
    assert_int_equal(c.ends[2], 1);

    p = part_by_id(m, 3);
    assert_int_equal(p->flags, MSG_PART_TEXT | MSG_PART_HTML);
    assert_non_null(strstr(text_of(&c, 3), "Gr\xC3\xBC\xC3\x9F" "e, total 42"));
    assert_null(strstr(text_of(&c, 3), "hidden"));
    assert_null(strstr(text_of(&c, 3), "color"));
    assert_null(strstr(text_of(&c, 3), "<p>"));

    p = part_by_id(m, 4);
    assert_string_equal(p->content_type, "application/pdf");
    assert_string_equal(p->disposition, "attachment");
    assert_string_equal(p->filename, "report.pdf");
    assert_string_equal(p->encoding, "base64");
    assert_int_equal(p->flags, MSG_PART_ATTACHMENT);
    assert_int_equal(p->raw_size, strlen("JVBERi0xLjQK\nJcfsj6IK"));
    assert_int_equal(p->decoded_size, 15);
    assert_int_equal(p->body_offset, (uint64_t)(strstr(nested_msg, "JVBERi") - nested_msg));
    assert_int_equal(c.wrong_part, 0);
    assert_int_equal(c.ends[4], 0);
    assert_int_equal(m->text_bytes, strlen(text_of(&c, 2)) + strlen(text_of(&c, 3)));
    msg_model_free(m);
    collect_free(&c);
}

static const char forward_msg[] =
    "Subject: Fwd: contract\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "See the forwarded message.\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: attachment; filename=\"original.eml\"\r\n"
    "\r\n"
    "Subject: =?UTF-8?B?VmVydHJhZyDDvGJlcmFyYmVpdGV0?=\r\n"
    "From: c@example.net\r\n"
    "Content-Type: multipart/mixed; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Anbei der Vertrag f=FCr Sie.\r\n"
    "--inner\r\n"
    "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''Vertrag%20%C3%BCber;\r\n"
    " filename*1*=arbeitet.docx\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "UEsDBBQABgAIAAAAIQA=\r\n"
    "--inner--\r\n"
    "\r\n"
    "--outer--\r\n";

/* test_forward - a message/rfc822 attachment containing its own attachment */
static void test_forward(void **state)
{
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;
    const struct msg_part *p;
    static const unsigned depths[] = { 0, 1, 1, 2, 3, 3 };
    unsigned i;

    (void)state;
    collect_init(&c);
    m = build(forward_msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->nparts, 6);
    for (i = 0; i < 6; i++)
        assert_int_equal(part_by_id(m, i)->depth, depths[i]);
    assert_string_equal(m->subject, "Fwd: contract");
    assert_string_equal(text_of(&c, 1), "See the forwarded message.");

    p = part_by_id(m, 2);
    assert_string_equal(p->content_type, "message/rfc822");
    assert_int_equal(p->flags, MSG_PART_MESSAGE);
    assert_string_equal(p->filename, "original.eml");
    assert_string_equal(p->disposition, "attachment");

    p = part_by_id(m, 3);
    assert_string_equal(p->content_type, "multipart/mixed");
    assert_int_equal(p->flags, MSG_PART_MULTIPART);
    assert_string_equal(msg_header_find(p, "subject", 0)->value, "Vertrag \xC3\xBC" "berarbeitet");
    assert_string_equal(msg_header_find(p, "subject", 0)->raw,
                        " =?UTF-8?B?VmVydHJhZyDDvGJlcmFyYmVpdGV0?=");

    p = part_by_id(m, 4);
    assert_string_equal(p->charset, "iso-8859-1");
    assert_string_equal(text_of(&c, 4), "Anbei der Vertrag f\xC3\xBCr Sie.");

    p = part_by_id(m, 5);
    assert_string_equal(p->filename, "Vertrag \xC3\xBC" "berarbeitet.docx");
    assert_int_equal(p->flags, MSG_PART_ATTACHMENT);
    assert_int_equal(p->decoded_size, 14);
    assert_int_equal(p->raw_size, 20);
    msg_model_free(m);
    collect_free(&c);
}

/* test_encoded_words - top-level headers decoded from several charsets */
static void test_encoded_words(void **state)
{
    static const char msg[] =
        "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n"
        "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.com>\n"
        "X-Koi: =?KOI8-R?B?8NLJ18XU?=\n"
        "X-Jp: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\n"
        "X-Split: =?UTF-8?B?w7w=?=\n =?UTF-8?Q?ber?=\n"
        "X-Folded: a\n\tlong\n value  \n"
        "X-Plain:   plain text   \n"
        "X-Raw8: caf\xC3\xA9\n"
        "\n"
        "body\n";
    static const struct {
        const char *name, *value;
    } want[] = {
        { "Subject", "Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln" },
        { "From", "J\xC3\xB6rg M\xC3\xBCller <jm@example.com>" },
        { "X-Koi", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82" },
        { "X-Jp", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E" },
        { "X-Split", "\xC3\xBC" "ber" },
        { "X-Folded", "a\tlong value" },
        { "X-Plain", "plain text" },
        { "X-Raw8", "caf\xC3\xA9" },
    };
    struct msg_limits lim = limits();
    struct msg_model *m;
    size_t i;

    (void)state;
    m = build(msg, &lim, NULL);
    check_tree(m);
    assert_int_equal(m->root->nheaders, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct msg_header *h = msg_header_find(m->root, want[i].name, 0);

        assert_non_null(h);
        assert_string_equal(h->name, want[i].name);
        if (strcmp(h->value, want[i].value) != 0)
            print_error("%s: '%s'\n", want[i].name, h->value);
        assert_string_equal(h->value, want[i].value);
    }
    assert_string_equal(m->subject, want[0].value);
    assert_string_equal(msg_header_find(m->root, "x-folded", 0)->raw, " a\n\tlong\n value  ");
    msg_model_free(m);
}

/* test_bodies - transfer encodings, charsets, HTML, RFC 2231 names, attachment rules */
static void test_bodies(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "SGVsbG8sIFdv\n"
        "cmxkIQ==\n"
        "--b\n"
        "Content-Type: text/plain; charset=\"us-ascii\"\n"
        "Content-Transfer-Encoding: Quoted-Printable\n"
        "\n"
        "This is a long line=\n"
        " that continues.=3D\n"
        "--b\n"
        "Content-Type: text/plain; charset=koi8-r\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        "\xF0\xD2\xC9\xD7\xC5\xD4\n"
        "--b\n"
        "Content-Type: text/html\n"
        "\n"
        "<p>Code: &#52;&#x32; &amp; more</p>\n"
        "--b\n"
        "Content-Type: text/plain; name=notes.txt\n"
        "Content-Disposition: attachment\n"
        "\n"
        "attached notes\n"
        "--b\n"
        "Content-Type: image/png\n"
        "Content-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "iVBORw0KGgo=\n"
        "--b\n"
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment;\n"
        " filename*0*=ISO-8859-1''Gr%FC%DFe;\n"
        " filename*1*=%20und%20K%FCsse.txt\n"
        "\n"
        "x\n"
        "--b\n"
        "Content-Type: text/calendar; method=REQUEST; charset=x-unknown-charset\n"
        "\n"
        "BEGIN:VCALENDAR\n"
        "--b--\n";
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;
    const struct msg_part *p;

    (void)state;
    collect_init(&c);
    m = build(msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->nparts, 9);
    assert_string_equal(text_of(&c, 1), "Hello, World!");
    assert_int_equal(part_by_id(m, 1)->decoded_size, 13);
    assert_string_equal(text_of(&c, 2), "This is a long line that continues.=");
    assert_string_equal(part_by_id(m, 2)->encoding, "quoted-printable");
    assert_string_equal(text_of(&c, 3), "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
    assert_non_null(strstr(text_of(&c, 4), "Code: 42 & more"));

    p = part_by_id(m, 5);
    assert_int_equal(p->flags, MSG_PART_TEXT | MSG_PART_ATTACHMENT);
    assert_string_equal(p->filename, "notes.txt");
    assert_string_equal(text_of(&c, 5), "attached notes");

    p = part_by_id(m, 6);
    assert_int_equal(p->flags, MSG_PART_ATTACHMENT);
    assert_string_equal(p->disposition, "inline");
    assert_null(p->filename);
    assert_int_equal(p->decoded_size, 8);

    p = part_by_id(m, 7);
    assert_string_equal(p->filename, "Gr\xC3\xBC\xC3\x9F" "e und K\xC3\xBCsse.txt");
    assert_int_equal(p->decoded_size, 1);

    p = part_by_id(m, 8);
    assert_string_equal(p->content_type, "text/calendar");
    assert_string_equal(p->charset, "x-unknown-charset");
    assert_int_equal(p->flags, MSG_PART_TEXT | MSG_PART_UNKNOWN_CHARSET);
    assert_string_equal(text_of(&c, 8), "BEGIN:VCALENDAR");
    assert_int_equal(c.wrong_part, 0);
    msg_model_free(m);
    collect_free(&c);
}

/* test_malformed - bad input gives flags, never an error */
static void test_malformed(void **state)
{
    static const char msg[] =
        "Subject: broken\n"
        "X-Nul: a\0b\n"
        "Content-Type: multipart/mixed; boundary=b\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "this line has no colon\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "SGVsbG8*&^%sIFdvcmxkIQ==\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "bad =ZZ escape and a NUL \0 byte\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "\n"
        "never closed\n";
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;

    (void)state;
    collect_init(&c);
    m = build_mem(msg, sizeof(msg) - 1, &lim, 1 << 20, &c, NULL);
    check_tree(m);
    assert_int_equal(m->nparts, 4);
    assert_int_equal(m->incomplete, 0);
    assert_int_equal(m->root->flags, MSG_PART_MULTIPART | MSG_PART_NO_END);
    assert_string_equal(msg_header_find(m->root, "X-Nul", 0)->value, "ab");
    assert_int_equal(part_by_id(m, 1)->flags, MSG_PART_TEXT | MSG_PART_BAD_ENCODING);
    assert_string_equal(part_by_id(m, 1)->encoding, "base64");
    assert_string_equal(text_of(&c, 1), "Hello, World!");
    assert_int_equal(part_by_id(m, 2)->flags, MSG_PART_TEXT | MSG_PART_BAD_ENCODING);
    assert_non_null(strstr(text_of(&c, 2), "bad =ZZ escape"));
    assert_string_equal(text_of(&c, 3), "never closed\n");
    msg_model_free(m);
    collect_free(&c);
}

/* test_limit_headers - 51 headers with max_headers 50 */
static void test_limit_headers(void **state)
{
    struct msg_limits lim = limits();
    struct buf b = BUF_INIT(1 << 20);
    struct msg_model *m;
    int i;

    (void)state;
    for (i = 0; i < 51; i++)
        buf_printf(&b, "X-H%d: %d\n", i, i);
    buf_adds(&b, "\nbody\n");
    lim.max_headers = 50;
    m = build(b.data, &lim, NULL);
    check_tree(m);
    assert_int_equal(m->incomplete, MSG_INC_HEADERS);
    assert_int_equal(m->root->nheaders, 50);
    assert_int_equal(m->root->flags & MSG_PART_HEADERS_CUT, MSG_PART_HEADERS_CUT);
    assert_null(msg_header_find(m->root, "X-H50", 0));
    msg_model_free(m);
    lim.max_headers = 51;
    m = build(b.data, &lim, NULL);
    assert_int_equal(m->incomplete, 0);
    assert_int_equal(m->root->nheaders, 51);
    msg_model_free(m);
    buf_free(&b);
}

/* test_limit_depth - nesting deeper than max_depth */
static void test_limit_depth(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=l0\n\n--l0\n"
        "Content-Type: multipart/mixed; boundary=l1\n\n--l1\n"
        "Content-Type: multipart/mixed; boundary=l2\n\n--l2\n"
        "Content-Type: text/plain\n\ndeep text\n--l2--\n--l1--\n--l0--\n";
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;
    const struct msg_part *p;

    (void)state;
    collect_init(&c);
    lim.max_depth = 2;
    m = build(msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->incomplete, MSG_INC_DEPTH);
    assert_int_equal(m->nparts, 3);
    p = part_by_id(m, 2);
    assert_string_equal(p->content_type, "multipart/mixed");
    assert_int_equal(p->flags, MSG_PART_ATTACHMENT);
    assert_null(p->children);
    assert_string_equal(text_of(&c, 3), "");
    msg_model_free(m);

    lim.max_depth = 3;
    m = build(msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->incomplete, 0);
    assert_int_equal(m->nparts, 4);
    assert_string_equal(text_of(&c, 3), "deep text");
    msg_model_free(m);
    collect_free(&c);
}

/* test_limit_parts - more parts than max_parts */
static void test_limit_parts(void **state)
{
    struct msg_limits lim = limits();
    struct buf b = BUF_INIT(1 << 20);
    struct collect c;
    struct msg_model *m;
    int i;

    (void)state;
    buf_adds(&b, "Content-Type: multipart/mixed; boundary=p\n\n");
    for (i = 0; i < 10; i++)
        buf_printf(&b, "--p\n\npart %d\n", i);
    buf_adds(&b, "--p--\n");
    collect_init(&c);
    lim.max_parts = 5;
    m = build(b.data, &lim, &c);
    check_tree(m);
    assert_int_equal(m->incomplete, MSG_INC_PARTS);
    assert_int_equal(m->nparts, 5);
    assert_string_equal(text_of(&c, 4), "part 3");
    msg_model_free(m);
    collect_free(&c);
    buf_free(&b);
}

/* test_multipart_no_parts - a multipart in which no boundary line is found
 * (a wrong boundary, bare CR line ends) hides its text in the unread
 * preamble: MSG_INC_OPAQUE, so body rules are unknown (hostile mail: bare_cr) */
static void test_multipart_no_parts(void **state)
{
    static const struct {
        const char *msg;
        unsigned incomplete;
        size_t nparts;
    } cases[] = {
        { "Content-Type: multipart/mixed; boundary=p\n\n--q\n\npayroll\n--q--\n",
          MSG_INC_OPAQUE, 1 },
        { "Content-Type: multipart/mixed; boundary=c\n\n"
          "--c\rContent-Type: text/plain\r\rpayroll\r--c--\r", MSG_INC_OPAQUE, 1 },
        { "Content-Type: multipart/mixed; boundary=p\n\npayroll, no boundary at all",
          MSG_INC_OPAQUE, 1 },
        { "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
          "Content-Type: multipart/alternative; boundary=i\n\n--x\n\npayroll\n--o--\n",
          MSG_INC_OPAQUE, 2 },
        /* empty, or with a part: nothing hidden */
        { "Content-Type: multipart/mixed; boundary=p\n\n", 0, 1 },
        { "Content-Type: multipart/mixed; boundary=p\n\n--p\n\npayroll\n--p--\n", 0, 2 },
    };
    struct msg_limits lim = limits();

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct msg_model *m = build(cases[i].msg, &lim, NULL);

        check_tree(m);
        assert_int_equal(m->incomplete, cases[i].incomplete);
        assert_int_equal(m->nparts, cases[i].nparts);
        msg_model_free(m);
    }
}

/* test_encoded_message - a message/rfc822 or message/global in base64 or
 * quoted-printable is an opaque leaf whose text is not read: MSG_INC_OPAQUE
 * when it is not empty; in 7bit, 8bit or binary it is parsed */
static void test_encoded_message(void **state)
{
    static const struct {
        const char *type, *cte, *body;
        unsigned incomplete;
        size_t nparts;
    } cases[] = {
        /* "Subject: x\n\npayroll\n" */
        { "message/rfc822", "base64", "U3ViamVjdDogeAoKcGF5cm9sbAo=\n", MSG_INC_OPAQUE, 2 },
        { "message/global", "BASE64", "U3ViamVjdDogeAoKcGF5cm9sbAo=\n", MSG_INC_OPAQUE, 2 },
        { "message/rfc822", "quoted-printable", "Subject: x\n\npay=72oll\n", MSG_INC_OPAQUE, 2 },
        { "message/rfc822", "base64", "", 0, 2 },
        { "message/rfc822", "7bit", "Subject: x\n\npayroll\n", 0, 3 },
        { "message/rfc822", "8bit", "Subject: x\n\npayroll\n", 0, 3 },
        { "application/octet-stream", "base64", "U3ViamVjdDogeAoKcGF5cm9sbAo=\n", 0, 2 },
    };
    struct msg_limits lim = limits();

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT(4096);
        struct collect c;
        struct msg_model *m;

        buf_printf(&b, "Content-Type: multipart/mixed; boundary=p\n\n--p\n"
                   "Content-Type: %s\nContent-Transfer-Encoding: %s\n\n%s--p--\n",
                   cases[i].type, cases[i].cte, cases[i].body);
        collect_init(&c);
        m = build(b.data, &lim, &c);
        check_tree(m);
        if (m->incomplete != cases[i].incomplete || m->nparts != cases[i].nparts)
            fail_msg("case %zu: incomplete %#x, %zu parts", i, m->incomplete, m->nparts);
        msg_model_free(m);
        collect_free(&c);
        buf_free(&b);
    }
}

/* test_limit_scan - text beyond scan_limit is not delivered, cut on a character */
static void test_limit_scan(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain; charset=utf-8\n\n0123\xC3\xA4\xC3\xA4\n"
        "--b\nContent-Type: text/plain\n\nmore text\n"
        "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n"
        "--b--\n";
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;

    (void)state;
    collect_init(&c);
    lim.scan_limit = 7;                 /* "0123" + one "ä" (2 bytes), not half of the next */
    m = build(msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->incomplete, MSG_INC_SCAN);
    assert_string_equal(text_of(&c, 1), "0123\xC3\xA4");
    assert_string_equal(text_of(&c, 2), "");
    assert_int_equal(m->text_bytes, 6);
    assert_int_equal(part_by_id(m, 1)->decoded_size, 8);
    assert_int_equal(part_by_id(m, 2)->decoded_size, 9);
    assert_int_equal(part_by_id(m, 3)->decoded_size, 3);
    msg_model_free(m);
    collect_free(&c);

    collect_init(&c);
    lim.scan_limit = 17;                /* exactly all the text: complete */
    m = build(msg, &lim, &c);
    assert_int_equal(m->incomplete, 0);
    assert_int_equal(m->text_bytes, 17);
    assert_string_equal(text_of(&c, 2), "more text");
    msg_model_free(m);
    collect_free(&c);
}

/* test_limit_size - a message over max_size: top-level headers only */
static void test_limit_size(void **state)
{
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;

    (void)state;
    collect_init(&c);
    lim.max_size = 100;
    m = build(nested_msg, &lim, &c);
    check_tree(m);
    assert_int_equal(m->incomplete, MSG_INC_SIZE);
    assert_int_equal(m->nparts, 1);
    assert_string_equal(m->subject, "Quarterly report");
    assert_string_equal(m->root->content_type, "multipart/mixed");
    assert_null(m->root->children);
    assert_int_equal(m->text_bytes, 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(m->root->body_offset + m->root->raw_size, m->size);
    msg_model_free(m);
    collect_free(&c);
}

/* dump - the whole model as text, for comparisons */
static void dump(const struct msg_model *m, struct buf *b)
{
    const struct msg_part *p;
    size_t i;

    buf_printf(b, "n=%zu size=%llu text=%llu inc=%x subj=%s\n", m->nparts,
               (unsigned long long)m->size, (unsigned long long)m->text_bytes, m->incomplete,
               m->subject);
    for (p = m->root; p != NULL; p = next_part(p)) {
        buf_printf(b, "%u d%u %s %s %s %s %s off=%llu raw=%llu dec=%llu f=%x h=%zu\n", p->id,
                   p->depth, p->content_type, p->charset ? p->charset : "-",
                   p->disposition ? p->disposition : "-", p->filename ? p->filename : "-",
                   p->encoding, (unsigned long long)p->body_offset,
                   (unsigned long long)p->raw_size, (unsigned long long)p->decoded_size,
                   p->flags, p->nheaders);
        for (i = 0; i < p->nheaders; i++)
            buf_printf(b, "  %s: %s\n", p->headers[i].name, p->headers[i].value);
    }
}

/* test_spilled - a message spilled to disk gives the same model as in memory */
static void test_spilled(void **state)
{
    struct msg_limits lim = limits();
    struct buf msg = BUF_INIT(8 << 20), d1 = BUF_INIT(1 << 20), d2 = BUF_INIT(1 << 20);
    struct collect c1, c2;
    struct msg_model *m1, *m2;
    int spilled, i;

    (void)state;
    buf_adds(&msg, "Subject: big\nContent-Type: multipart/mixed; boundary=\"==big==\"\n\n"
                   "--==big==\nContent-Type: text/plain; charset=iso-8859-1\n"
                   "Content-Transfer-Encoding: quoted-printable\n\n");
    for (i = 0; i < 3000; i++)
        buf_printf(&msg, "Zeile %d mit Umlauten: =E4=F6=FC=DF und einem langen Text dahinter=\n"
                         " und weiter.\n", i);
    buf_adds(&msg, "--==big==\nContent-Type: application/zip\n"
                   "Content-Disposition: attachment; filename=\"data.zip\"\n"
                   "Content-Transfer-Encoding: base64\n\n");
    for (i = 0; i < 4000; i++)
        buf_adds(&msg, "UEsDBBQAAAAIAAAAIQBBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n");
    buf_adds(&msg, "--==big==--\n");
    assert_true(msg.len > 4 * 65536);

    collect_init(&c1);
    collect_init(&c2);
    m1 = build_mem(msg.data, msg.len, &lim, 16 << 20, &c1, &spilled);
    assert_int_equal(spilled, 0);
    m2 = build_mem(msg.data, msg.len, &lim, 4096, &c2, &spilled);
    assert_int_equal(spilled, 1);
    check_tree(m1);
    dump(m1, &d1);
    dump(m2, &d2);
    assert_string_equal(buf_str(&d1), buf_str(&d2));
    assert_int_equal(c1.text[1].len, c2.text[1].len);
    assert_memory_equal(c1.text[1].data, c2.text[1].data, c1.text[1].len);
    assert_non_null(strstr(text_of(&c1, 1), "Zeile 2999 mit Umlauten: \xC3\xA4\xC3\xB6\xC3\xBC\xC3\x9F"
                                            " und einem langen Text dahinter und weiter."));
    assert_int_equal(part_by_id(m1, 2)->decoded_size, 4000 * 51);
    msg_model_free(m1);
    msg_model_free(m2);
    collect_free(&c1);
    collect_free(&c2);
    buf_free(&msg);
    buf_free(&d1);
    buf_free(&d2);
}

/* test_sink_stop - a sink returning -1 gets nothing more; the build goes on */
static void test_sink_stop(void **state)
{
    struct msg_limits lim = limits();
    struct collect c;
    struct msg_model *m;

    (void)state;
    collect_init(&c);
    c.stop_after = 1;
    m = build(nested_msg, &lim, &c);
    check_tree(m);
    assert_int_equal(c.calls, 1);
    assert_int_equal(m->nparts, 5);
    assert_int_equal(m->incomplete, 0);
    assert_string_equal(text_of(&c, 3), "");
    assert_int_equal(part_by_id(m, 4)->decoded_size, 15);
    msg_model_free(m);
    collect_free(&c);
}

/* test_defaults_and_errors - default limits, header lookup, argument errors */
static void test_defaults_and_errors(void **state)
{
    struct msg_limits lim;
    struct msg_model *m = (struct msg_model *)1;
    struct spool *sp;

    (void)state;
    msg_limits_default(&lim);
    assert_int_equal(lim.max_size, 100u << 20);
    assert_int_equal(lim.max_headers, 1000);
    assert_int_equal(lim.max_header_len, 64u << 10);
    assert_int_equal(lim.max_depth, 32);
    assert_int_equal(lim.max_parts, 2000);
    assert_int_equal(lim.scan_limit, 32u << 20);

    errno = 0;
    assert_int_equal(msg_model_build(NULL, &lim, NULL, &m), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(m);

    /* an empty spool: one empty text/plain part; NULL limits mean the defaults */
    sp = spool_new("/tmp", 1024);
    assert_int_equal(msg_model_build(sp, NULL, NULL, &m), 0);
    check_tree(m);
    assert_string_equal(m->root->content_type, "text/plain");
    assert_string_equal(m->root->encoding, "7bit");
    assert_string_equal(m->subject, "");
    assert_null(msg_header_find(m->root, "Subject", 0));
    assert_null(msg_header_find(NULL, "Subject", 0));
    msg_model_free(m);
    msg_model_free(NULL);
    spool_free(sp);

    m = build("Received: 1\nreceived: 2\nRECEIVED: 3\n\n", &lim, NULL);
    assert_string_equal(msg_header_find(m->root, "Received", 2)->value, "3");
    assert_string_equal(msg_header_find(m->root, "received", 0)->name, "Received");
    assert_null(msg_header_find(m->root, "Received", 3));
    msg_model_free(m);
}

/* test_envelope - addresses without <>, lowercase domains, the null sender */
static void test_envelope(void **state)
{
    static const struct {
        const char *in, *addr, *domain;
    } cases[] = {
        { "<User@Example.COM>", "User@Example.COM", "example.com" },
        { "<>", "", "" },
        { "", "", "" },
        { " <a@b.c> ", "a@b.c", "b.c" },
        { "plain@Host.Example", "plain@Host.Example", "host.example" },
        { "<\"john@doe\"@Example.org>", "\"john@doe\"@Example.org", "example.org" },
        { "<\"no at\\\"@here\">", "\"no at\\\"@here\"", "" },
        { "postmaster", "postmaster", "" },
        { "<@relay.example,@r2.example:user@Host.Example>", "user@Host.Example", "host.example" },
        { "<user@example.com.>", "user@example.com.", "example.com" },
    };
    struct msg_envelope env;
    size_t i;
    char addr[32];

    (void)state;
    msg_envelope_init(&env);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(msg_envelope_set_from(&env, cases[i].in), 0);
        assert_string_equal(env.from, cases[i].addr);
        assert_string_equal(env.from_domain, cases[i].domain);
        assert_int_equal(msg_envelope_add_rcpt(&env, cases[i].in), 0);
        assert_string_equal(env.rcpts[i].addr, cases[i].addr);
        assert_string_equal(env.rcpts[i].domain, cases[i].domain);
        assert_int_equal(env.rcpts[i].external, 0);
    }
    for (; i < 40; i++) {
        snprintf(addr, sizeof(addr), "<r%zu@D%zu.example>", i, i);
        assert_int_equal(msg_envelope_add_rcpt(&env, addr), 0);
    }
    assert_int_equal(env.nrcpts, 40);
    assert_true(env.cap >= 40);
    assert_string_equal(env.rcpts[39].addr, "r39@D39.example");
    assert_string_equal(env.rcpts[39].domain, "d39.example");
    msg_envelope_free(&env);
    assert_int_equal(env.nrcpts, 0);
    assert_null(env.from);
    msg_envelope_free(&env);
}

/* main - run the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_encoded_words),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limit_headers),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_parts),
        cmocka_unit_test(test_multipart_no_parts),
        cmocka_unit_test(test_encoded_message),
        cmocka_unit_test(test_limit_scan),
        cmocka_unit_test(test_limit_size),
        cmocka_unit_test(test_spilled),
        cmocka_unit_test(test_sink_stop),
        cmocka_unit_test(test_defaults_and_errors),
        cmocka_unit_test(test_envelope),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
