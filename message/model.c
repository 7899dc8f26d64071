/*
 * model - the message model: envelope, decoded top-level headers, the MIME
 * tree and the decoded text of the text parts (see model.h).
 *
 * Interface: msg_model_build() reads the spool where it lies in memory
 * (spool_peek()), else in 64 KiB chunks with spool_pread(), and feeds it
 * to the streaming parser (mime_parse.h); the parser's events build the
 * tree of struct msg_part, ids in document order.  msg_model_free()
 * releases the model (all strings are owned by it), msg_header_find()
 * looks a header up, msg_limits_default() gives the default limits, and
 * msg_envelope_*() keep the envelope addresses.
 *
 * Definitions.
 *   leaf:       a part that is not modelled as a container, i.e. without
 *               MSG_PART_MULTIPART or MSG_PART_MESSAGE (a container cut by
 *               max_depth or max_parts, or a base64 message/rfc822, is a
 *               leaf; its content is opaque).
 *   text part:  a leaf whose type is "text/..." (text/plain, text/html,
 *               text/calendar ...), attachment or not: MSG_PART_TEXT, and
 *               MSG_PART_HTML for text/html.  Its body is transfer-decoded,
 *               converted from its charset to UTF-8 (an absent charset is
 *               read as UTF-8 where valid, else Windows-1252) and, for
 *               HTML, reduced to its text; the result goes to the sink.
 *   attachment: a leaf with Content-Disposition "attachment", or with a
 *               file name (Content-Disposition filename, else Content-Type
 *               name, RFC 2231 or RFC 2047 encoded), or whose type is not
 *               "text/...".  So an inline image is an attachment, and so is a
 *               text/plain part sent as a file (it is text too).
 * decoded_size is counted for every leaf: attachments are decoded to count
 * it, their bytes are not kept.  Containers have decoded_size 0.
 * envelope:   a text/html leaf whose first SNIFF_MAX decoded bytes hold
 *             ENVELOPE_SIGNATURE, the generator tag of mailseal's envelope
 *             page (crypto/viewer/viewer.html): MSG_PART_ENVELOPE.  Only
 *             those bytes are kept while the leaf is read.
 *
 * Limits: a message larger than lim->max_size gets only its top-level
 * header block parsed (MSG_INC_SIZE; root->raw_size is then the rest of the
 * message); the parser's MSG_INC_HEADERS, _DEPTH and _PARTS are copied;
 * a non-empty multipart in which no part was found, and a non-empty
 * message/rfc822 or message/global in base64 or quoted-printable (an
 * opaque leaf, RFC 2046 allows neither encoding there), set MSG_INC_OPAQUE:
 * their content is not read, yet readers may show it;
 * text beyond lim->scan_limit bytes is not delivered (MSG_INC_SCAN), though
 * sizes are still counted.  Text reaches the sink in chunks produced from
 * at most 32 KiB of raw body at a time; a chunk is cut at a UTF-8
 * character boundary when it meets the scan limit.
 *
 * Failure: -1 with errno only for transient faults: ENOMEM, a spool read
 * error (EIO when the spool is shorter than it said).  Bad input is never
 * an error.  The sink returning -1 stops text delivery, not the build.
 * Nothing recurses on the input (the tree is freed iteratively).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message/charset.h"
#include "message/codec.h"
#include "message/html_text.h"
#include "message/mime_parse.h"
#include "message/model.h"
#include "message/rfc2047.h"
#include "message/spool.h"

#define READ_CHUNK   (64 * 1024)        /* bytes read from the spool at a time */
#define DEC_CHUNK    (32 * 1024)        /* raw body bytes decoded at a time: the text
                                           * buffers stay well below malloc's mmap
                                           * threshold, so no page is mapped per message */
#define TEXT_BUF_MAX (4u << 20)         /* UTF-8 made from one DEC_CHUNK (at most ~3x) */
#define ADDR_MAX     (64 * 1024)        /* longest envelope address accepted */
#define SNIFF_MAX    1024               /* decoded bytes of a text/html leaf sniffed */
/* How a mailseal envelope page starts (crypto/viewer/viewer.html): looked
 * for in the first SNIFF_MAX decoded bytes of every text/html leaf. */
#define ENVELOPE_SIGNATURE "<meta name=\"generator\" content=\"mailseal-envelope/"

struct builder {
    struct msg_model *m;
    struct msg_limits lim;
    const struct msg_text_sink *sink;
    struct msg_part **open;             /* open[d]: the open part at depth d */
    struct msg_part **last;             /* last[d]: the last child of open[d] */
    size_t ncap;
    int headers_only;                   /* MSG_INC_SIZE: stop after the top-level headers */
    int sink_stopped;                   /* the sink returned -1 */
    int scan_done;                      /* scan_limit reached */
    /* the open leaf */
    struct msg_part *leaf;
    enum mime_cte cte;
    struct b64_dec b64;
    struct qp_dec qp;
    int text;                           /* its text goes to the sink now */
    int text_started;                   /* it was a text part while the sink took text */
    struct charset_conv *cv;
    struct html_text *html;
    struct buf u8, txt;
    char sniff[SNIFF_MAX];              /* first decoded bytes of a text/html leaf */
    size_t nsniff;
    unsigned char dec[CODEC_DEC_MAX(DEC_CHUNK)];
};

/* msg_limits_default - the default limits */
void msg_limits_default(struct msg_limits *lim)
{
    lim->max_size = 100u << 20;
    lim->max_headers = 1000;
    lim->max_header_len = 64u << 10;
    lim->max_depth = 32;
    lim->max_parts = 2000;
    lim->scan_limit = 32u << 20;
}

/* lower_dup - lowercase copy of s */
static char *lower_dup(const char *s)
{
    char *d = strdup(s), *p;

    if (d != NULL)
        for (p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    return d;
}

/* decode_value - unfolded, trimmed, RFC 2047 decoded copy of a raw header value */
static char *decode_value(const char *raw)
{
    size_t len = strlen(raw), b, e;
    struct buf out = BUF_INIT(4 * len + 64);

    if (rfc2047_decode(raw, len, &out) < 0) {
        if (errno == ENOMEM)
            return NULL;
        buf_free(&out);
        if (mime_unfold(raw, len, &out) < 0)
            return NULL;
    }
    for (e = out.len; e > 0 && (out.data[e - 1] == ' ' || out.data[e - 1] == '\t'); e--)
        ;
    for (b = 0; b < e && (out.data[b] == ' ' || out.data[b] == '\t'); b++)
        ;
    if (b > 0)
        memmove(out.data, out.data + b, e - b);
    buf_truncate(&out, e - b);
    return buf_steal(&out);
}

/* grow_stack - room for depth in the open/last arrays */
static int grow_stack(struct builder *b, unsigned depth)
{
    size_t ncap = b->ncap ? b->ncap : 16;
    struct msg_part **o, **l;

    if (depth < b->ncap)
        return 0;
    while (ncap <= depth)
        ncap *= 2;
    if ((o = realloc(b->open, ncap * sizeof(*o))) == NULL)
        return -1;
    b->open = o;
    if ((l = realloc(b->last, ncap * sizeof(*l))) == NULL)
        return -1;
    b->last = l;
    b->ncap = ncap;
    return 0;
}

/* take_headers - move the parser's fields into the part, decoding values */
static int take_headers(struct msg_part *part, struct mime_hdrs *h)
{
    size_t i;

    if (h->n == 0)
        return 0;
    if ((part->headers = calloc(h->n, sizeof(*part->headers))) == NULL)
        return -1;
    for (i = 0; i < h->n; i++) {
        struct msg_header *mh = &part->headers[i];

        mh->name = h->v[i].name;
        mh->raw = h->v[i].raw;
        h->v[i].name = NULL;
        h->v[i].raw = NULL;
        part->nheaders++;
        if ((mh->value = decode_value(mh->raw)) == NULL)
            return -1;
    }
    return 0;
}

/* set_names - disposition and file name */
static int set_names(struct msg_part *part, const struct mime_part *mp)
{
    const struct mime_hdr *h = mime_hdrs_find(mp->hdrs, "Content-Disposition", 0);
    struct mime_disp d;
    const char *fn;
    int rc = 0;

    if (mime_disp_parse(h ? h->raw : NULL, h ? strlen(h->raw) : 0, &d) < 0)
        return -1;
    if (d.type != NULL) {
        part->disposition = d.type;
        d.type = NULL;
    }
    fn = mime_params_get(&d.params, "filename");
    if (fn == NULL || *fn == 0)
        fn = mime_params_get(&mp->ct->params, "name");
    if (fn != NULL && *fn != 0 && (part->filename = strdup(fn)) == NULL)
        rc = -1;
    mime_disp_free(&d);
    return rc;
}

/* start_leaf - set up decoding of the new leaf's body */
static int start_leaf(struct builder *b, struct msg_part *part, const struct mime_part *mp)
{
    b->leaf = part;
    b->cte = mp->cte;
    b64_dec_init(&b->b64);
    qp_dec_init(&b->qp);
    b->text = 0;
    b->text_started = 0;
    b->nsniff = 0;
    if (!(part->flags & MSG_PART_TEXT))
        return 0;
    if ((b->cv = charset_conv_new(part->charset)) == NULL)
        return -1;
    if (b->sink == NULL || b->sink->text == NULL || b->sink_stopped || b->scan_done)
        return 0;
    if ((part->flags & MSG_PART_HTML) && (b->html = html_text_new()) == NULL)
        return -1;
    b->text = b->text_started = 1;
    return 0;
}

/* utf8_cut - the longest prefix of s[0..n) of at most max bytes that ends on a character */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (max >= n)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* deliver - hand UTF-8 text to the sink, up to the scan limit */
static void deliver(struct builder *b, const char *s, size_t n)
{
    uint64_t room = b->lim.scan_limit - b->m->text_bytes;

    if (n == 0 || !b->text)
        return;
    if (n > room) {
        n = utf8_cut(s, n, (size_t)room);
        b->m->incomplete |= MSG_INC_SCAN;
        b->scan_done = 1;
        b->text = 0;
    }
    if (n == 0)
        return;
    b->m->text_bytes += n;
    if (b->sink->text(b->sink->arg, b->leaf, s, n) < 0) {
        b->sink_stopped = 1;
        b->text = 0;
    }
}

/* sniff - keep the first decoded bytes of a text/html leaf; when they are
 * all there, mark the leaf MSG_PART_ENVELOPE if they hold the signature */
static void sniff(struct builder *b, const char *s, size_t n, int last)
{
    size_t room = SNIFF_MAX - b->nsniff;

    if (!(b->leaf->flags & MSG_PART_HTML) || (room == 0 && !last))
        return;
    if (n > room)
        n = room;
    memcpy(b->sniff + b->nsniff, s, n);
    b->nsniff += n;
    if ((b->nsniff == SNIFF_MAX && n > 0) || last)
        if (memmem(b->sniff, b->nsniff, ENVELOPE_SIGNATURE, sizeof(ENVELOPE_SIGNATURE) - 1))
            b->leaf->flags |= MSG_PART_ENVELOPE;
}

/* text_push - convert decoded body bytes to text and deliver them */
static int text_push(struct builder *b, const char *s, size_t n)
{
    if (!b->text || n == 0)
        return 0;
    buf_reset(&b->u8);
    if (charset_conv_push(b->cv, s, n, &b->u8) < 0)
        return -1;
    if (b->html != NULL) {
        buf_reset(&b->txt);
        if (html_text_push(b->html, buf_str(&b->u8), b->u8.len, &b->txt) < 0)
            return -1;
        deliver(b, buf_str(&b->txt), b->txt.len);
    } else {
        deliver(b, buf_str(&b->u8), b->u8.len);
    }
    return 0;
}

/* finish_leaf - flush the decoders at the end of the leaf's body */
static int finish_leaf(struct builder *b)
{
    struct msg_part *part = b->leaf;
    size_t n = 0;
    int rc = 0;

    if (b->cte == MIME_CTE_BASE64) {
        n = b64_dec_final(&b->b64, b->dec);
        if (b->b64.bad)
            part->flags |= MSG_PART_BAD_ENCODING;
    } else if (b->cte == MIME_CTE_QP) {
        n = qp_dec_final(&b->qp, b->dec);
        if (b->qp.bad)
            part->flags |= MSG_PART_BAD_ENCODING;
    }
    part->decoded_size += n;
    if (b->nsniff < SNIFF_MAX)
        sniff(b, (const char *)b->dec, n, 1);
    if (text_push(b, (const char *)b->dec, n) < 0)
        rc = -1;
    if (rc == 0 && b->text) {
        buf_reset(&b->u8);
        if (charset_conv_finish(b->cv, &b->u8) < 0)
            rc = -1;
        else if (b->html != NULL) {
            buf_reset(&b->txt);
            if (html_text_push(b->html, buf_str(&b->u8), b->u8.len, &b->txt) < 0 ||
                html_text_finish(b->html, &b->txt) < 0)
                rc = -1;
            else
                deliver(b, buf_str(&b->txt), b->txt.len);
        } else {
            deliver(b, buf_str(&b->u8), b->u8.len);
        }
    }
    if (b->cv != NULL && part->charset != NULL && charset_conv_unknown(b->cv))
        part->flags |= MSG_PART_UNKNOWN_CHARSET;
    if (rc == 0 && b->text_started && !b->sink_stopped && b->sink->part_end != NULL)
        b->sink->part_end(b->sink->arg, part);
    charset_conv_free(b->cv);
    html_text_free(b->html);
    b->cv = NULL;
    b->html = NULL;
    b->leaf = NULL;
    b->text = 0;
    return rc;
}

/* on_begin - parser event: a part's header block was read */
static int on_begin(void *arg, struct mime_part *mp)
{
    struct builder *b = arg;
    struct msg_part *part = calloc(1, sizeof(*part));
    const char *type;

    if (part == NULL || grow_stack(b, mp->depth) < 0) {
        free(part);
        errno = ENOMEM;
        return -1;
    }
    part->id = mp->id;
    part->depth = mp->depth;
    if (mp->depth == 0) {
        b->m->root = part;
    } else {
        struct msg_part *parent = b->open[mp->depth - 1];

        part->parent = parent;
        if (b->last[mp->depth - 1] != NULL)
            b->last[mp->depth - 1]->next = part;
        else
            parent->children = part;
        b->last[mp->depth - 1] = part;
    }
    b->open[mp->depth] = part;
    b->last[mp->depth] = NULL;
    b->m->nparts++;
    part->body_offset = mp->body_offset;
    part->flags = mp->flags & MSG_PART_HEADERS_CUT;
    if ((part->content_type = strdup(mp->ct->type)) == NULL ||
        (part->encoding = strdup(mp->cte_name)) == NULL ||
        (mp->ct->charset != NULL && *mp->ct->charset != 0 &&
         (part->charset = lower_dup(mp->ct->charset)) == NULL) ||
        set_names(part, mp) < 0 || take_headers(part, mp->hdrs) < 0) {
        errno = ENOMEM;
        return -1;
    }
    type = part->content_type;
    if (mp->kind == MIME_MULTIPART) {
        part->flags |= MSG_PART_MULTIPART;
    } else if (mp->kind == MIME_MESSAGE) {
        part->flags |= MSG_PART_MESSAGE;
    } else {
        int is_text = strncmp(type, "text/", 5) == 0;

        if (is_text)
            part->flags |= MSG_PART_TEXT;
        if (strcmp(type, "text/html") == 0)
            part->flags |= MSG_PART_HTML;
        if (!is_text || part->filename != NULL ||
            (part->disposition != NULL && strcmp(part->disposition, "attachment") == 0))
            part->flags |= MSG_PART_ATTACHMENT;
    }
    if (mp->depth == 0) {
        const struct msg_header *s = msg_header_find(part, "Subject", 0);

        b->m->subject = s ? s->value : "";
        if (b->headers_only) {
            part->raw_size = b->m->size > part->body_offset ? b->m->size - part->body_offset : 0;
            return MIME_STOP;
        }
    }
    if (mp->kind == MIME_LEAF && start_leaf(b, part, mp) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* on_body - parser event: raw body bytes of the open leaf */
static int on_body(void *arg, const struct mime_part *mp, const char *data, size_t len)
{
    struct builder *b = arg;
    struct msg_part *part = b->leaf;

    (void)mp;
    if (part == NULL)
        return 0;
    while (len > 0) {
        size_t n = len < DEC_CHUNK ? len : DEC_CHUNK, on;
        const char *out = (const char *)b->dec;

        if (b->cte == MIME_CTE_BASE64) {
            on = b64_dec_update(&b->b64, data, n, b->dec);
        } else if (b->cte == MIME_CTE_QP) {
            on = qp_dec_update(&b->qp, data, n, b->dec);
        } else {
            out = data;
            on = n;
        }
        part->decoded_size += on;
        sniff(b, out, on, 0);
        if (text_push(b, out, on) < 0) {
            errno = ENOMEM;
            return -1;
        }
        data += n;
        len -= n;
    }
    return 0;
}

/* on_end - parser event: a part is complete */
static int on_end(void *arg, const struct mime_part *mp)
{
    struct builder *b = arg;
    struct msg_part *part = b->open[mp->depth];

    part->raw_size = mp->body_end - mp->body_offset;
    part->flags |= mp->flags & MSG_PART_NO_END;
    b->open[mp->depth] = NULL;
    /* a multipart in which no part was found (no boundary line: a wrong
     * boundary, or bare CR line ends) holds everything in its preamble,
     * and an encoded message is an opaque leaf: neither is read, yet a mail
     * reader may show it */
    if ((part->flags & MSG_PART_MULTIPART) && part->children == NULL && part->raw_size > 0)
        b->m->incomplete |= MSG_INC_OPAQUE;
    if (mp->kind == MIME_LEAF && !mp->limited && part->raw_size > 0
        && (mp->cte == MIME_CTE_BASE64 || mp->cte == MIME_CTE_QP)
        && (strcmp(part->content_type, "message/rfc822") == 0
            || strcmp(part->content_type, "message/global") == 0))
        b->m->incomplete |= MSG_INC_OPAQUE;
    if (b->leaf == part && finish_leaf(b) < 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* builder_free - release the builder (not the model) */
static void builder_free(struct builder *b)
{
    if (b == NULL)
        return;
    charset_conv_free(b->cv);
    html_text_free(b->html);
    buf_free(&b->u8);
    buf_free(&b->txt);
    free(b->open);
    free(b->last);
    free(b);
}

/* msg_model_build - parse the message in sp into a model */
int msg_model_build(struct spool *sp, const struct msg_limits *lim,
                    const struct msg_text_sink *sink, struct msg_model **out)
{
    struct mime_callbacks cb = { on_begin, on_body, on_end, NULL };
    struct builder *b = NULL;
    struct mime_parser *p = NULL;
    struct msg_model *m = NULL;
    char *chunk = NULL;
    uint64_t off = 0;
    int err;

    if (out != NULL)
        *out = NULL;
    if (sp == NULL || out == NULL) {
        errno = EINVAL;
        return -1;
    }
    if ((b = calloc(1, sizeof(*b))) == NULL || (m = calloc(1, sizeof(*m))) == NULL)
        goto nomem;
    if (lim != NULL)
        b->lim = *lim;
    else
        msg_limits_default(&b->lim);
    b->m = m;
    b->sink = sink;
    buf_init(&b->u8, TEXT_BUF_MAX);
    buf_init(&b->txt, TEXT_BUF_MAX);
    m->subject = "";
    m->size = spool_size(sp);
    if (m->size > b->lim.max_size) {
        b->headers_only = 1;
        m->incomplete |= MSG_INC_SIZE;
    }
    cb.arg = b;
    if ((p = mime_parse_new(&b->lim, &cb)) == NULL)
        goto nomem;
    while (off < m->size && !mime_parse_stopped(p)) {
        const char *data;
        ssize_t n = (ssize_t)spool_peek(sp, off, &data);

        if (n == 0) {           /* in the file: read a chunk */
            if (chunk == NULL && (chunk = malloc(READ_CHUNK)) == NULL)
                goto nomem;
            if ((n = spool_pread(sp, chunk, READ_CHUNK, off)) < 0)
                goto fail;
            if (n == 0) {
                errno = EIO;
                goto fail;
            }
            data = chunk;
        }
        if (mime_parse_push(p, data, (size_t)n) < 0)
            goto fail;
        off += (uint64_t)n;
    }
    if (mime_parse_finish(p) < 0)
        goto fail;
    m->incomplete |= mime_parse_incomplete(p);
    if (m->root == NULL) {
        errno = EIO;
        goto fail;
    }
    mime_parse_free(p);
    builder_free(b);
    free(chunk);
    *out = m;
    return 0;
nomem:
    errno = ENOMEM;
fail:
    err = errno ? errno : EIO;
    mime_parse_free(p);
    builder_free(b);
    free(chunk);
    msg_model_free(m);
    errno = err;
    return -1;
}

/* part_free - release one part's own memory */
static void part_free(struct msg_part *part)
{
    size_t i;

    for (i = 0; i < part->nheaders; i++) {
        free(part->headers[i].name);
        free(part->headers[i].raw);
        free(part->headers[i].value);
    }
    free(part->headers);
    free(part->content_type);
    free(part->charset);
    free(part->disposition);
    free(part->filename);
    free(part->encoding);
    free(part);
}

/* msg_model_free - release the model; the tree is walked without recursion */
void msg_model_free(struct msg_model *m)
{
    struct msg_part *p;

    if (m == NULL)
        return;
    p = m->root;
    while (p != NULL) {
        struct msg_part *next;

        if (p->children != NULL) {
            next = p->children;
            p->children = NULL;
            p = next;
            continue;
        }
        next = p->next != NULL ? p->next : p->parent;
        part_free(p);
        p = next;
    }
    free(m);
}

/* msg_header_find - the nth (from 0) header called name (any case) of a part */
const struct msg_header *msg_header_find(const struct msg_part *part, const char *name, size_t nth)
{
    size_t i;

    if (part == NULL || name == NULL)
        return NULL;
    for (i = 0; i < part->nheaders; i++)
        if (strcasecmp(part->headers[i].name, name) == 0 && nth-- == 0)
            return &part->headers[i];
    return NULL;
}

/* msg_envelope_init - an empty envelope */
void msg_envelope_init(struct msg_envelope *env)
{
    memset(env, 0, sizeof(*env));
}

/*
 * env_parse - split an SMTP path into the address without <> (and without
 * a source route) and its lowercase domain: the part after the last '@'
 * outside a quoted local part, "" when there is none.
 */
static int env_parse(const char *in, char **addr, char **domain)
{
    const char *s = in ? in : "", *e, *at = NULL, *q;
    int quoted = 0;
    char *d;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e > s && *s == '<') {
        s++;
        if (e > s && e[-1] == '>')
            e--;
    }
    if (e > s && *s == '@') {
        /* source route "@a,@b:user@c" */
        const char *colon = memchr(s, ':', (size_t)(e - s));

        if (colon != NULL)
            s = colon + 1;
    }
    if ((size_t)(e - s) > ADDR_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    for (q = s; q < e; q++) {
        if (*q == '\\' && quoted && q + 1 < e)
            q++;
        else if (*q == '"')
            quoted = !quoted;
        else if (*q == '@' && !quoted)
            at = q;
    }
    if ((*addr = strndup(s, (size_t)(e - s))) == NULL)
        return -1;
    d = at ? strndup(at + 1, (size_t)(e - at - 1)) : strdup("");
    if (d == NULL) {
        free(*addr);
        return -1;
    }
    for (q = d; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            d[q - d] = (char)(*q + 32);
    if (*d && d[strlen(d) - 1] == '.')
        d[strlen(d) - 1] = 0;
    *domain = d;
    return 0;
}

/* msg_envelope_set_from - set the envelope sender ("<>" gives "") */
int msg_envelope_set_from(struct msg_envelope *env, const char *addr)
{
    char *a, *d;

    if (env_parse(addr, &a, &d) < 0)
        return -1;
    free(env->from);
    free(env->from_domain);
    env->from = a;
    env->from_domain = d;
    env->from_external = 0;
    return 0;
}

/* msg_envelope_add_rcpt - add a recipient */
int msg_envelope_add_rcpt(struct msg_envelope *env, const char *addr)
{
    struct msg_rcpt *r;

    if (env->nrcpts == env->cap) {
        size_t ncap = env->cap ? env->cap * 2 : 8;

        if (ncap > SIZE_MAX / sizeof(*r) || (r = realloc(env->rcpts, ncap * sizeof(*r))) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        env->rcpts = r;
        env->cap = ncap;
    }
    r = &env->rcpts[env->nrcpts];
    if (env_parse(addr, &r->addr, &r->domain) < 0)
        return -1;
    r->external = 0;
    env->nrcpts++;
    return 0;
}

/* msg_envelope_has_rcpt - 1 when addr (any case) is one of the envelope recipients */
int msg_envelope_has_rcpt(const struct msg_envelope *env, const char *addr)
{
    for (size_t i = 0; i < env->nrcpts; i++)
        if (strcasecmp(env->rcpts[i].addr, addr) == 0)
            return 1;
    return 0;
}

/* msg_envelope_free - release the addresses; the envelope is empty again */
void msg_envelope_free(struct msg_envelope *env)
{
    size_t i;

    for (i = 0; i < env->nrcpts; i++) {
        free(env->rcpts[i].addr);
        free(env->rcpts[i].domain);
    }
    free(env->rcpts);
    free(env->from);
    free(env->from_domain);
    msg_envelope_init(env);
}
