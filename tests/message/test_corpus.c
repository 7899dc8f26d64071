/*
 * test_corpus - msg_model_build() over every .eml of the shared real-world
 * corpus ($MAILSEAL_SOURCE_DIR/../shared/corpus; skipped when missing):
 * each must build (0), give a consistent tree, deliver only valid UTF-8,
 * and give the same model whether the spool stays in memory or spills to
 * disk; the parser's events must not depend on how the bytes are split.  For some files, known facts are checked (file names in RFC 2231
 * and RFC 2047, decoded sizes of base64 attachments, decoded text and
 * subjects in several charsets, nesting, limits).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/charset.h"
#include "message/mime_parse.h"
#include "message/model.h"
#include "message/spool.h"
#include "util/buf.h"

#define MAXP 512

struct text {
    struct buf part[MAXP];
    uint64_t total;
    size_t invalid;           /* chunks that were not valid UTF-8 */
};

/* t_text - keep the text of each part and check it is UTF-8 */
static int t_text(void *arg, const struct msg_part *part, const char *utf8, size_t len)
{
    struct text *t = arg;

    if (!utf8_valid(utf8, len))
        t->invalid++;
    t->total += len;
    if (part->id < MAXP)
        buf_add(&t->part[part->id], utf8, len);
    return 0;
}

/* text_init - empty collected text */
static void text_init(struct text *t)
{
    size_t i;

    memset(t, 0, sizeof(*t));
    for (i = 0; i < MAXP; i++)
        buf_init(&t->part[i], 8 << 20);
}

/* text_free - release collected text */
static void text_free(struct text *t)
{
    size_t i;

    for (i = 0; i < MAXP; i++)
        buf_free(&t->part[i]);
}

/* corpus_dir - the corpus folder, NULL when it is not there */
static char *corpus_dir(void)
{
    const char *src = getenv("MAILSEAL_SOURCE_DIR");
    struct buf b = BUF_INIT(4096);
    DIR *d;

    if (src == NULL || buf_printf(&b, "%s/../shared/corpus", src) < 0)
        return NULL;
    if ((d = opendir(b.data)) == NULL) {
        buf_free(&b);
        return NULL;
    }
    closedir(d);
    return buf_steal(&b);
}

/* load - a spool holding the file, with the given memory limit */
static struct spool *load(const char *path, size_t memlimit)
{
    struct spool *sp = spool_new("/tmp", memlimit);
    FILE *fp = fopen(path, "rb");
    char buf[16384];
    size_t n;

    assert_non_null(sp);
    assert_non_null(fp);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        assert_int_equal(spool_write(sp, buf, n), 0);
    fclose(fp);
    return sp;
}

/* next_part - the part after p in document order */
static const struct msg_part *next_part(const struct msg_part *p)
{
    if (p->children)
        return p->children;
    while (p != NULL && p->next == NULL)
        p = p->parent;
    return p ? p->next : NULL;
}

/* part_by_id - the part with that id, NULL when none */
static const struct msg_part *part_by_id(const struct msg_model *m, unsigned id)
{
    const struct msg_part *p;

    for (p = m->root; p != NULL; p = next_part(p))
        if (p->id == id)
            return p;
    return NULL;
}

/* check_tree - ids, depths, extents and flags are consistent */
static void check_tree(const struct msg_model *m, const char *name)
{
    const struct msg_part *p;
    unsigned id = 0;

    assert_non_null(m->root);
    for (p = m->root; p != NULL; p = next_part(p), id++) {
        if (p->id != id)
            print_error("%s: part %u has id %u\n", name, id, p->id);
        assert_int_equal(p->id, id);
        assert_int_equal(p->depth, p->parent ? p->parent->depth + 1 : 0);
        assert_true(p->depth <= 32);
        assert_non_null(p->content_type);
        assert_non_null(strchr(p->content_type, '/'));
        assert_non_null(p->encoding);
        assert_true(p->body_offset + p->raw_size <= m->size);
        if (p->parent) {
            assert_true(p->body_offset >= p->parent->body_offset);
            assert_true(p->body_offset + p->raw_size <=
                        p->parent->body_offset + p->parent->raw_size);
        }
        if (p->flags & (MSG_PART_MULTIPART | MSG_PART_MESSAGE)) {
            assert_int_equal(p->flags & (MSG_PART_TEXT | MSG_PART_ATTACHMENT | MSG_PART_HTML), 0);
        } else {
            assert_null(p->children);
            if (strcmp(p->encoding, "base64") != 0 && strcmp(p->encoding, "quoted-printable") != 0)
                assert_int_equal(p->decoded_size, p->raw_size);
        }
        if (p->flags & MSG_PART_MESSAGE)
            assert_true(p->children != NULL && p->children->next == NULL);
        assert_int_equal(!!(p->flags & MSG_PART_TEXT), !strncmp(p->content_type, "text/", 5) &&
                         !(p->flags & (MSG_PART_MULTIPART | MSG_PART_MESSAGE)));
    }
    assert_int_equal(id, m->nparts);
}

/* dump - the model as text, to compare two builds */
static void dump(const struct msg_model *m, struct buf *b)
{
    const struct msg_part *p;

    buf_printf(b, "%zu %llu %llu %x %s\n", m->nparts, (unsigned long long)m->size,
               (unsigned long long)m->text_bytes, m->incomplete, m->subject);
    for (p = m->root; p != NULL; p = next_part(p))
        buf_printf(b, "%u %u %s %s %s %s %s %llu %llu %llu %x %zu\n", p->id, p->depth,
                   p->content_type, p->charset ? p->charset : "-",
                   p->disposition ? p->disposition : "-", p->filename ? p->filename : "-",
                   p->encoding, (unsigned long long)p->body_offset,
                   (unsigned long long)p->raw_size, (unsigned long long)p->decoded_size,
                   p->flags, p->nheaders);
}

/* build_file - build a file's model with the spool in memory or spilled */
static struct msg_model *build_file(const char *path, size_t memlimit, struct text *t)
{
    struct spool *sp = load(path, memlimit);
    struct msg_text_sink sink = { t_text, NULL, t };
    struct msg_model *m = NULL;
    int r = msg_model_build(sp, NULL, &sink, &m);

    if (r != 0)
        print_error("%s: msg_model_build: %s\n", path, strerror(errno));
    assert_int_equal(r, 0);
    spool_free(sp);
    return m;
}

/* test_all_files - every file builds, consistently, the same in memory and on disk */
static void test_all_files(void **state)
{
    char *dir = corpus_dir();
    struct dirent **names;
    int n, i, files = 0;

    (void)state;
    if (dir == NULL)
        skip();
    n = scandir(dir, &names, NULL, alphasort);
    assert_true(n > 0);
    for (i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        struct buf path = BUF_INIT(4096), d1 = BUF_INIT(1 << 20), d2 = BUF_INIT(1 << 20);
        struct text *t1, *t2;
        struct msg_model *m1, *m2;

        if (len < 4 || strcmp(name + len - 4, ".eml") != 0) {
            free(names[i]);
            continue;
        }
        files++;
        buf_printf(&path, "%s/%s", dir, name);
        t1 = malloc(sizeof(*t1));
        t2 = malloc(sizeof(*t2));
        text_init(t1);
        text_init(t2);
        m1 = build_file(path.data, 64 << 20, t1);
        m2 = build_file(path.data, 4096, t2);
        check_tree(m1, name);
        assert_int_equal(t1->invalid, 0);
        assert_int_equal(t1->total, m1->text_bytes);
        dump(m1, &d1);
        dump(m2, &d2);
        if (strcmp(buf_str(&d1), buf_str(&d2)) != 0)
            print_error("%s: in memory\n%s\nspilled\n%s\n", name, buf_str(&d1), buf_str(&d2));
        assert_string_equal(buf_str(&d1), buf_str(&d2));
        assert_int_equal(t1->total, t2->total);
        msg_model_free(m1);
        msg_model_free(m2);
        text_free(t1);
        text_free(t2);
        free(t1);
        free(t2);
        buf_free(&path);
        buf_free(&d1);
        buf_free(&d2);
        free(names[i]);
    }
    free(names);
    free(dir);
    assert_true(files >= 50);
}

/* a running FNV-1a hash of parser events */
struct events {
    uint64_t h;
};

/* ev_mix - hash bytes */
static void ev_mix(struct events *e, const void *d, size_t n)
{
    const unsigned char *p = d;
    size_t i;

    for (i = 0; i < n; i++)
        e->h = (e->h ^ p[i]) * 1099511628211ULL;
}

/* ev_begin - hash a part_begin */
static int ev_begin(void *arg, struct mime_part *part)
{
    struct events *e = arg;

    ev_mix(e, "B", 1);
    ev_mix(e, part->ct->type, strlen(part->ct->type));
    ev_mix(e, &part->id, sizeof(part->id));
    ev_mix(e, &part->depth, sizeof(part->depth));
    ev_mix(e, &part->body_offset, sizeof(part->body_offset));
    return 0;
}

/* ev_body - hash body bytes (not how they were split) */
static int ev_body(void *arg, const struct mime_part *part, const char *data, size_t len)
{
    (void)part;
    ev_mix(arg, data, len);
    return 0;
}

/* ev_end - hash a part_end */
static int ev_end(void *arg, const struct mime_part *part)
{
    struct events *e = arg;

    ev_mix(e, "E", 1);
    ev_mix(e, &part->body_end, sizeof(part->body_end));
    ev_mix(e, &part->flags, sizeof(part->flags));
    return 0;
}

/* events_of - the event hash of data parsed in pieces of step bytes */
static uint64_t events_of(const char *data, size_t len, size_t step)
{
    struct events e = { 14695981039346656037ULL };
    struct mime_callbacks cb = { ev_begin, ev_body, ev_end, &e };
    struct msg_limits lim;
    struct mime_parser *p;
    size_t off;

    msg_limits_default(&lim);
    p = mime_parse_new(&lim, &cb);
    assert_non_null(p);
    for (off = 0; off < len; off += step)
        assert_int_equal(mime_parse_push(p, data + off, len - off < step ? len - off : step), 0);
    assert_int_equal(mime_parse_finish(p), 0);
    mime_parse_free(p);
    return e.h;
}

/* test_chunking - the same events however the file is split */
static void test_chunking(void **state)
{
    static const size_t steps[] = { 1, 2, 3, 61, MIME_LINE_CAP - 1, MIME_LINE_CAP + 3 };
    char *dir = corpus_dir();
    struct dirent **names;
    int n, i;

    (void)state;
    if (dir == NULL)
        skip();
    n = scandir(dir, &names, NULL, alphasort);
    assert_true(n > 0);
    for (i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name), s, size = 0;
        struct buf path = BUF_INIT(4096), data = BUF_INIT(64 << 20);
        char chunk[65536];
        uint64_t whole;
        FILE *fp;

        if (len < 4 || strcmp(name + len - 4, ".eml") != 0) {
            free(names[i]);
            continue;
        }
        buf_printf(&path, "%s/%s", dir, name);
        assert_non_null(fp = fopen(path.data, "rb"));
        while ((len = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            assert_int_equal(buf_add(&data, chunk, len), 0);
        fclose(fp);
        size = data.len;
        whole = events_of(data.data, size, size ? size : 1);
        for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            if (steps[s] < 4 && size > 300000)
                continue;                       /* keep the run short */
            if (events_of(data.data, size, steps[s]) != whole)
                print_error("%s: events differ with pieces of %zu bytes\n", name, steps[s]);
            assert_true(events_of(data.data, size, steps[s]) == whole);
        }
        buf_free(&path);
        buf_free(&data);
        free(names[i]);
    }
    free(names);
    free(dir);
}

struct fact {
    const char *file;
    unsigned part;            /* the part the facts are about */
    const char *subject;      /* model->subject, NULL: not checked */
    const char *type;
    const char *filename;
    long long decoded;        /* -1: not checked */
    unsigned flags;           /* exact part flags, ~0u: not checked */
    const char *text;         /* contained in the part's text, NULL: not checked */
    unsigned depth;
    size_t nparts;            /* 0: not checked */
    unsigned incomplete;
};

static const struct fact facts[] = {
    { "rubymail-japanese_attachment_long_name.eml", 1,
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82"
      "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82",
      "text/plain",
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F\xE3\x81\x91\xE3\x81\x93"
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F\xE3\x81\x91\xE3\x81\x93"
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F\xE3\x81\x91\xE3\x81\x93"
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F\xE3\x81\x91\xE3\x81\x93"
      "\xE3\x81\x8B\xE3\x81\x8D\xE3\x81\x8F\xE3\x81\x91\xE3\x81\x93.txt",
      18, MSG_PART_TEXT | MSG_PART_ATTACHMENT, "this is the data", 1, 2, 0 },
    { "mime4j-german-qp.eml", 0, "Testnachricht", "text/plain", NULL, 264, MSG_PART_TEXT,
      "Gr\xC3\xBC\xC3\x9F" "e,\n\nJ\xC3\xB6rn", 0, 1, 0 },
    { "mime4j-german-qp.eml", 0, NULL, NULL, NULL, -1, ~0u,
      "8 Bit S\xC3\xB6nderz\xC3\xA4ichen", 0, 0, 0 },
    { "rubymail-attachment_pdf.eml", 2,
      "Another PDF with \xF0\x9F\x8E\x89 Unicode chars in it \xF0\x9F\x8D\xBF",
      "application/pdf", "broken.pdf", 1026, MSG_PART_ATTACHMENT, NULL, 1, 3, 0 },
    { "mmp-m3004.eml", 2, "Die Hasen und die Fr\xC3\xB6sche", "text/plain",
      "HasenundFr\xC3\xB6sche.txt", 755, MSG_PART_TEXT | MSG_PART_ATTACHMENT, NULL, 1, 3, 0 },
    { "mimekit-japanese.eml", 0,
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x83\xA1\xE3\x83\xBC\xE3\x83\xAB"
      "\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88 (testing Japanese emails)",
      "text/plain", NULL, 111, MSG_PART_TEXT, NULL, 0, 1, 0 },
    { "flanker-bilingual-simple.eml", 0,
      "Simple text. How are you? \xD0\x9A\xD0\xB0\xD0\xBA \xD1\x82\xD1\x8B "
      "\xD0\xBF\xD0\xBE\xD0\xB6\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xB5\xD1\x88\xD1\x8C?",
      /* 71, not 74: the white space ending the last line is transport padding (RFC 2045) */
      "text/plain", NULL, 71, MSG_PART_TEXT, NULL, 0, 1, 0 },
    { "rspamd-spam.eml", 4, NULL, "text/plain",
      "\xD0\xA1\xD0\xBF\xD0\xB8\xD1\x81\xD0\xBE\xD0\xBA-\xD0\x90\xD1\x83\xD0\xB4\xD0\xB8"
      "\xD0\xBE\xD1\x8D\xD0\xBD\xD1\x86\xD0\xB8\xD0\xBA\xD0\xBB\xD0\xBE\xD0\xBF\xD0\xB5"
      "\xD0\xB4\xD0\xB8\xD0\xB8.txt",
      13470, MSG_PART_TEXT | MSG_PART_ATTACHMENT, NULL, 1, 5, 0 },
    { "mime4j-frag.eml", 11, "[Fwd: [Fwd: [Fwd: FW: Another Priceless  Moment]]]", "image/jpeg",
      "aprilfools.jpg", 60896, MSG_PART_ATTACHMENT, NULL, 7, 12, 0 },
    { "phpmmp-issue274.eml", 7, "test-localhost", "image/png",
      "Cours-Tutoriels-Serge-Tah\xC3\xA9-1568x268.png", 42264, MSG_PART_ATTACHMENT, NULL, 1, 9,
      MSG_INC_OPAQUE },
    /* SwiftMailer sent the forwarded message in base64: opaque, not read */
    { "phpmmp-issue274.eml", 8, NULL, "message/rfc822", "test-localhost.eml", -1,
      MSG_PART_ATTACHMENT, NULL, 1, 9, MSG_INC_OPAQUE },
    { "flanker-iphone.eml", 2, "Subject", "image/jpeg", "photo.JPG", 9023, MSG_PART_ATTACHMENT,
      NULL, 1, 4, 0 },
    { "mimekit-multipart-no-end-boundary.eml", 0, NULL, "multipart/alternative", NULL, -1,
      MSG_PART_MULTIPART | MSG_PART_NO_END, NULL, 0, 3, 0 },
    { "mimekit-stack-overflow.eml", 0, "Message Subject", NULL, NULL, -1, ~0u, NULL, 0, 1,
      MSG_INC_HEADERS },
    { "phpmmp-issue408.eml", 330, NULL, "text/plain", NULL, -1,
      MSG_PART_TEXT | MSG_PART_ATTACHMENT, NULL, 1, 330, 0 },
};

/* test_facts - known facts about some corpus files */
static void test_facts(void **state)
{
    char *dir = corpus_dir();
    size_t i;

    (void)state;
    if (dir == NULL)
        skip();
    for (i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
        const struct fact *f = &facts[i];
        struct buf path = BUF_INIT(4096);
        struct text *t = malloc(sizeof(*t));
        struct msg_model *m;
        const struct msg_part *p;
        unsigned id = f->part;

        text_init(t);
        buf_printf(&path, "%s/%s", dir, f->file);
        m = build_file(path.data, 1 << 20, t);
        if (id >= m->nparts)
            id = (unsigned)m->nparts - 1;         /* "the last part" */
        p = part_by_id(m, id);
        assert_non_null(p);
        if (f->subject)
            assert_string_equal(m->subject, f->subject);
        if (f->type)
            assert_string_equal(p->content_type, f->type);
        if (f->filename)
            assert_string_equal(p->filename, f->filename);
        if (f->decoded >= 0)
            assert_int_equal(p->decoded_size, f->decoded);
        if (f->flags != ~0u)
            assert_int_equal(p->flags, f->flags);
        if (f->text && strstr(buf_str(&t->part[id]), f->text) == NULL) {
            print_error("%s: part %u text:\n%s\n", f->file, id, buf_str(&t->part[id]));
            fail();
        }
        assert_int_equal(p->depth, f->depth);
        if (f->nparts)
            assert_int_equal(m->nparts, f->nparts);
        assert_int_equal(m->incomplete, f->incomplete);
        msg_model_free(m);
        text_free(t);
        free(t);
        buf_free(&path);
    }
    free(dir);
}

/* test_attachment_count - the file with more than 300 attachments */
static void test_attachment_count(void **state)
{
    char *dir = corpus_dir();
    struct buf path = BUF_INIT(4096);
    struct text *t;
    struct msg_model *m;
    const struct msg_part *p;
    size_t att = 0, text = 0;

    (void)state;
    if (dir == NULL)
        skip();
    t = malloc(sizeof(*t));
    text_init(t);
    buf_printf(&path, "%s/phpmmp-issue408.eml", dir);
    m = build_file(path.data, 1 << 20, t);
    for (p = m->root; p != NULL; p = next_part(p)) {
        if (p->flags & MSG_PART_ATTACHMENT) {
            att++;
            assert_non_null(p->filename);
        }
        if (p->flags & MSG_PART_TEXT)
            text++;
    }
    assert_int_equal(att, 328);
    assert_int_equal(text, 329);
    msg_model_free(m);
    text_free(t);
    free(t);
    buf_free(&path);
    free(dir);
}

/* main - run the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_files),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_facts),
        cmocka_unit_test(test_attachment_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
