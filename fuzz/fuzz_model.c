/*
 * fuzz_model - libFuzzer harness for the MIME message model
 * (message/model.h): the input is a whole message, kept in a spool and
 * parsed by msg_model_build() with a text sink, as milter/decide.c does.
 *
 * Each input is built twice: once held in memory and once spilled to a
 * private file in /dev/shm (spool_new() with a 64-byte memory limit), and
 * the two models must agree (tree, sizes, flags, names, headers, and the
 * text delivered to the sink); the decoded header values must be UTF-8
 * without CR, LF or NUL, file names UTF-8, and text may reach the sink
 * only for text parts.  Limits are tighter than the defaults so that
 * every MSG_INC_* path is reachable with small inputs.  Interface: LLVMFuzzerTestOneInput() (fuzz.h); a broken
 * invariant aborts; transient faults (ENOMEM) skip the input.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "message/charset.h"
#include "message/model.h"
#include "message/spool.h"

#define FUZZ_SPOOL_DIR "/dev/shm"

/* What the sink saw: a hash of the text per part id, in order. */
struct model_seen {
    uint64_t hash;
    uint64_t bytes;
    size_t calls;
    size_t ends;
};

/* seen_mix - fold bytes into an FNV-1a hash */
static uint64_t seen_mix(uint64_t h, const void *p, size_t len)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* seen_text - the sink's text callback: only text parts, hash what comes */
static int seen_text(void *arg, const struct msg_part *part, const char *utf8, size_t len)
{
    struct model_seen *s = arg;

    if (!(part->flags & MSG_PART_TEXT))
        fuzz_fail("text delivered for a part that is not a text part");
    s->hash = seen_mix(s->hash, &part->id, sizeof(part->id));
    s->hash = seen_mix(s->hash, utf8, len);
    s->bytes += len;
    s->calls++;
    return 0;
}

/* seen_end - the sink's part end callback */
static void seen_end(void *arg, const struct msg_part *part)
{
    struct model_seen *s = arg;

    s->hash = seen_mix(s->hash, &part->id, sizeof(part->id));
    s->ends++;
}

/* str_eq - two optional strings are equal */
static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* check_value - a decoded header value has no CR, LF or NUL inside */
static void check_value(const struct msg_header *h)
{
    if (h->name == NULL || h->raw == NULL || h->value == NULL)
        fuzz_fail("header without name, raw or value");
    if (strpbrk(h->value, "\r\n") != NULL)
        fuzz_fail("decoded header value holds CR or LF");
    if (!utf8_valid(h->value, strlen(h->value)))
        fuzz_fail("decoded header value is not UTF-8");
}

/* same_part - two parts (and their subtrees) are modelled alike */
static void same_part(const struct msg_part *a, const struct msg_part *b, unsigned depth)
{
    const struct msg_part *ca, *cb;

    if (depth > 1000)
        fuzz_fail("model deeper than any limit");
    if (a->id != b->id || a->depth != b->depth || a->flags != b->flags
        || a->body_offset != b->body_offset || a->raw_size != b->raw_size
        || a->decoded_size != b->decoded_size || a->nheaders != b->nheaders)
        fuzz_fail("memory and file spool give different parts");
    if (!str_eq(a->content_type, b->content_type) || !str_eq(a->charset, b->charset)
        || !str_eq(a->disposition, b->disposition) || !str_eq(a->filename, b->filename)
        || !str_eq(a->encoding, b->encoding) || a->content_type == NULL || a->encoding == NULL)
        fuzz_fail("memory and file spool give different part fields");
    if (a->filename != NULL && !utf8_valid(a->filename, strlen(a->filename)))
        fuzz_fail("file name is not UTF-8");
    for (size_t i = 0; i < a->nheaders; i++) {
        check_value(&a->headers[i]);
        if (!str_eq(a->headers[i].name, b->headers[i].name)
            || !str_eq(a->headers[i].raw, b->headers[i].raw)
            || !str_eq(a->headers[i].value, b->headers[i].value))
            fuzz_fail("memory and file spool give different headers");
    }
    for (ca = a->children, cb = b->children; ca != NULL && cb != NULL; ca = ca->next, cb = cb->next) {
        if (ca->parent != a || cb->parent != b)
            fuzz_fail("child with a wrong parent");
        same_part(ca, cb, depth + 1);
    }
    if (ca != NULL || cb != NULL)
        fuzz_fail("memory and file spool give different children");
}

/* build - the model of data held in a spool with mem_limit; NULL on a transient fault */
static struct msg_model *build(const uint8_t *data, size_t size, size_t mem_limit,
                               const struct msg_limits *lim, struct model_seen *seen)
{
    struct msg_text_sink sink = { seen_text, seen_end, seen };
    struct spool *sp = spool_new(FUZZ_SPOOL_DIR, mem_limit);
    struct msg_model *m = NULL;

    memset(seen, 0, sizeof(*seen));
    seen->hash = 0xcbf29ce484222325ull;
    if (sp == NULL)
        return NULL;
    if (spool_write(sp, data, size) == 0 && msg_model_build(sp, lim, &sink, &m) < 0)
        m = NULL;
    spool_free(sp);
    return m;
}

/* LLVMFuzzerTestOneInput - one message, in memory and spilled */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msg_limits lim;
    struct model_seen sa = { 0 }, sb = { 0 };   /* zeroed for cppcheck's CTU check too */
    struct msg_model *a, *b;

    msg_limits_default(&lim);
    lim.max_size = 48u << 10;
    lim.max_headers = 50;
    lim.max_header_len = 2048;
    lim.max_depth = 8;
    lim.max_parts = 100;
    lim.scan_limit = 16u << 10;

    a = build(data, size, size + 1, &lim, &sa);
    b = build(data, size, 64, &lim, &sb);
    if (a != NULL && b != NULL) {
        if (a->nparts != b->nparts || a->size != b->size || a->incomplete != b->incomplete
            || a->text_bytes != b->text_bytes || !str_eq(a->subject, b->subject))
            fuzz_fail("memory and file spool give different models");
        if (a->subject == NULL || a->root == NULL)
            fuzz_fail("model without root or subject");
        if (a->size != size)
            fuzz_fail("model size is not the message size");
        if (sa.hash != sb.hash || sa.bytes != sb.bytes || sa.ends != sb.ends)
            fuzz_fail("memory and file spool deliver different text");
        if (a->text_bytes != sa.bytes || sa.bytes > lim.scan_limit)
            fuzz_fail("text_bytes is not what the sink received");
        same_part(a->root, b->root, 0);
        (void)msg_header_find(a->root, "subject", 0);
        (void)msg_header_find(a->root, "Content-Type", 1);
    }
    msg_model_free(a);
    msg_model_free(b);
    return 0;
}
