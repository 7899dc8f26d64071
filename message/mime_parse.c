/*
 * mime_parse - a pure streaming MIME parser (see mime_parse.h).
 *
 * Interface: mime_parse_new(), _push(), _finish(), _free(); events go to
 * the callbacks given to _new().  The parser owns everything it allocates;
 * what it hands to a callback is valid during that call only.  Failures:
 * ENOMEM, or a callback's -1; after one, every call returns -1.
 *
 * How it works.  The parser is in one of two states: reading the header
 * block of a part that is not yet open (ST_HEADERS), or reading the body
 * of the part on top of an explicit stack of open parts (ST_BODY).  Each
 * multipart on the stack that has not seen its closing delimiter has a
 * live boundary; a line is a delimiter when it starts with "--", matches a
 * live boundary exactly (then optional "--", then optional white space)
 * and the match is searched from the innermost multipart outwards, so an
 * outer boundary closes the parts inside it (MSG_PART_NO_END).
 *
 * Bodies are not split into lines: memmem() finds the next "\n--" and
 * everything up to it is passed on as one run.  The line break before a
 * line start is held back (pend) until the line is known not to be a
 * delimiter, because a delimiter owns the line break before it.  A line
 * start near the end of a pushed chunk that might be a delimiter is copied
 * to the carry buffer (at most MIME_LINE_CAP bytes) and completed by the
 * next push; all other bytes are handed on straight from the caller's
 * memory.  Header lines go to mime_hdrs, long ones in pieces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "message/mime_parse.h"

enum { ST_HEADERS, ST_BODY, ST_DONE };

/* multipart phases */
enum {
    MP_PREAMBLE,                  /* before the first delimiter: ignored */
    MP_PART,                      /* a child is open */
    MP_SKIP,                      /* a child over max_parts: ignored */
    MP_EPILOGUE                   /* after the closing delimiter: ignored */
};

struct frame {
    struct mime_part part;
    int phase;                    /* multipart: MP_* */
    int digest;                   /* multipart/digest: children default to message/rfc822 */
    char *boundary;               /* multipart only */
    size_t blen;
};

struct mime_parser {
    struct msg_limits lim;
    struct mime_callbacks cb;
    struct frame *fr;             /* the stack of open parts */
    size_t nfr, frcap;
    int state;
    struct mime_hdrs hdrs;        /* ST_HEADERS: the block being read */
    unsigned hdepth;              /* ST_HEADERS: depth of its part */
    uint64_t hoff;                /* ST_HEADERS: where the block started */
    uint64_t off;                 /* bytes pushed so far */
    struct buf carry;             /* the start of a line, completed by the next push */
    uint64_t carry_off;
    int whole;                    /* the data being processed ends at its line's end */
    int bol;                      /* the next byte starts a line */
    char pend[2];                 /* body bytes held back: a line break, or a lone CR */
    unsigned pend_len;
    size_t nactive;               /* live boundaries on the stack */
    size_t nparts;
    unsigned inc;                 /* MSG_INC_* */
    int err;                      /* errno of a failure, 0 while healthy */
    int stopped;
};

/* fail - remember a failure; returns -1 */
static int fail(struct mime_parser *p, int err)
{
    if (p->err == 0)
        p->err = err ? err : EIO;
    return -1;
}

/* cb_result - turn a callback's result into 0 (go on) or -1 (stop or fail) */
static int cb_result(struct mime_parser *p, int rc)
{
    if (rc == MIME_STOP) {
        p->stopped = 1;
        return -1;
    }
    if (rc < 0)
        return fail(p, errno);
    return 0;
}

/* emit - hand body bytes of the top part on, if it is a leaf */
static int emit(struct mime_parser *p, const char *s, size_t n)
{
    struct frame *f;

    if (n == 0 || p->nfr == 0 || p->cb.body == NULL)
        return 0;
    f = &p->fr[p->nfr - 1];
    if (f->part.kind != MIME_LEAF)
        return 0;
    return cb_result(p, p->cb.body(p->cb.arg, &f->part, s, n));
}

/* flush_pend - the held-back bytes turned out to be body */
static int flush_pend(struct mime_parser *p)
{
    char tmp[2];
    unsigned n = p->pend_len;

    if (n == 0)
        return 0;
    memcpy(tmp, p->pend, n);
    p->pend_len = 0;
    return emit(p, tmp, n);
}

/* hold - keep a line break (or a lone CR) back until the next line is known */
static void hold(struct mime_parser *p, const char *s, size_t n)
{
    memcpy(p->pend, s, n);
    p->pend_len = (unsigned)n;
}

/* carry - keep the start of a line (shorter than MIME_LINE_CAP) for the next push */
static int carry(struct mime_parser *p, const char *s, size_t n, uint64_t off)
{
    buf_reset(&p->carry);
    if (n > 0 && buf_add(&p->carry, s, n) < 0)
        return fail(p, errno);
    p->carry_off = off;
    return 0;
}

/* match_boundary - index of the frame whose delimiter line s is, or -1 */
static long match_boundary(const struct mime_parser *p, const char *s, size_t n, int *closing)
{
    size_t k;

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < 3 || s[0] != '-' || s[1] != '-')
        return -1;
    for (k = p->nfr; k-- > 0;) {
        const struct frame *f = &p->fr[k];

        if (f->part.kind != MIME_MULTIPART || f->phase == MP_EPILOGUE)
            continue;
        if (n == f->blen + 2 && memcmp(s + 2, f->boundary, f->blen) == 0) {
            *closing = 0;
            return (long)k;
        }
        if (n == f->blen + 4 && s[n - 1] == '-' && s[n - 2] == '-' &&
            memcmp(s + 2, f->boundary, f->blen) == 0) {
            *closing = 1;
            return (long)k;
        }
    }
    return -1;
}

/*
 * line_at - is the line starting at d[ls] a delimiter?  Returns the frame
 * index, -1 when not, -2 when more bytes are needed to know; *len receives
 * the line's length with its line break.
 */
static long line_at(const struct mime_parser *p, const char *d, size_t n, size_t ls,
                    size_t *len, int *closing)
{
    size_t avail = n - ls, lim;
    const char *e;

    if (avail == 0)
        return p->whole ? -1 : -2;
    if (d[ls] != '-')
        return -1;
    if (avail == 1)
        return p->whole ? -1 : -2;
    if (d[ls + 1] != '-')
        return -1;
    lim = avail < MIME_LINE_CAP ? avail : MIME_LINE_CAP;
    e = memchr(d + ls + 2, '\n', lim - 2);
    if (e != NULL)
        *len = (size_t)(e - (d + ls)) + 1;
    else if (avail >= MIME_LINE_CAP)
        return -1;
    else if (!p->whole)
        return -2;
    else
        *len = avail;
    return match_boundary(p, d + ls, *len, closing);
}

/* end_headers - the header block is complete: open its part */
static int end_headers(struct mime_parser *p, uint64_t body_off)
{
    const struct frame *parent = p->nfr ? &p->fr[p->nfr - 1] : NULL;
    unsigned parent_id = parent ? parent->part.id : 0;
    int digest = parent != NULL && parent->part.kind == MIME_MULTIPART && parent->digest;
    const struct mime_hdr *h;
    struct mime_ctype ct;
    struct frame *f;
    int rc;

    /* parent points into p->fr, which may move below: only its values are used */
    if (mime_hdrs_end(&p->hdrs) < 0)
        return fail(p, ENOMEM);
    h = mime_hdrs_find(&p->hdrs, "Content-Type", 0);
    if (mime_ctype_parse(h ? h->raw : NULL, h ? strlen(h->raw) : 0, digest, &ct) < 0)
        return fail(p, ENOMEM);
    if (p->nfr == p->frcap) {
        size_t ncap = p->frcap ? p->frcap * 2 : 8;
        struct frame *nf = realloc(p->fr, ncap * sizeof(*nf));

        if (nf == NULL) {
            mime_ctype_free(&ct);
            return fail(p, ENOMEM);
        }
        p->fr = nf;
        p->frcap = ncap;
    }
    f = &p->fr[p->nfr];
    memset(f, 0, sizeof(*f));
    f->part.id = (unsigned)p->nparts;
    f->part.depth = p->hdepth;
    f->part.parent = parent_id;
    f->part.hdrs = &p->hdrs;
    f->part.ct = &ct;
    h = mime_hdrs_find(&p->hdrs, "Content-Transfer-Encoding", 0);
    f->part.cte = mime_cte_parse(h ? h->raw : NULL, h ? strlen(h->raw) : 0, f->part.cte_name);
    f->part.header_offset = p->hoff;
    f->part.body_offset = body_off;
    if (p->hdrs.flags & (MIME_HF_TOO_MANY | MIME_HF_TOO_LONG)) {
        f->part.flags |= MSG_PART_HEADERS_CUT;
        p->inc |= MSG_INC_HEADERS;
    }
    f->part.kind = MIME_LEAF;
    if (ct.boundary != NULL)
        f->part.kind = MIME_MULTIPART;
    else if ((strcmp(ct.type, "message/rfc822") == 0 || strcmp(ct.type, "message/global") == 0) &&
             f->part.cte != MIME_CTE_BASE64 && f->part.cte != MIME_CTE_QP)
        f->part.kind = MIME_MESSAGE;
    if (f->part.kind != MIME_LEAF) {
        if (p->hdepth >= p->lim.max_depth) {
            f->part.limited = MSG_INC_DEPTH;
        } else if (p->nparts + 2 > p->lim.max_parts) {
            f->part.limited = MSG_INC_PARTS;
        }
        if (f->part.limited) {
            f->part.kind = MIME_LEAF;
            p->inc |= f->part.limited;
        }
    }
    if (f->part.kind == MIME_MULTIPART) {
        f->blen = strlen(ct.boundary);
        if ((f->boundary = strdup(ct.boundary)) == NULL) {
            mime_ctype_free(&ct);
            return fail(p, ENOMEM);
        }
        f->digest = strcmp(ct.type, "multipart/digest") == 0;
        f->phase = MP_PREAMBLE;
        p->nactive++;
    }
    p->nfr++;
    p->nparts++;
    rc = p->cb.part_begin ? p->cb.part_begin(p->cb.arg, &f->part) : 0;
    f = &p->fr[p->nfr - 1];
    f->part.hdrs = NULL;
    f->part.ct = NULL;
    mime_ctype_free(&ct);
    mime_hdrs_free(&p->hdrs);
    p->hdrs.mbox = 0;
    if (cb_result(p, rc) < 0)
        return -1;
    if (f->part.kind == MIME_MESSAGE) {
        p->state = ST_HEADERS;
        p->hdepth = f->part.depth + 1;
        p->hoff = body_off;
    } else {
        p->state = ST_BODY;
    }
    p->bol = 1;
    p->pend_len = 0;
    return 0;
}

/* pop_frame - close the top part; its body ended at end */
static int pop_frame(struct mime_parser *p, uint64_t end)
{
    struct frame *f = &p->fr[p->nfr - 1];
    int rc;

    if (end < f->part.body_offset)
        end = f->part.body_offset;
    f->part.body_end = end;
    if (f->part.kind == MIME_MULTIPART && f->phase != MP_EPILOGUE) {
        f->part.flags |= MSG_PART_NO_END;
        p->nactive--;
    }
    rc = p->cb.part_end ? p->cb.part_end(p->cb.arg, &f->part) : 0;
    free(f->boundary);
    f->boundary = NULL;
    p->nfr--;
    return cb_result(p, rc);
}

/* at_boundary - a delimiter of frame k: close what is inside it, start the next part */
static int at_boundary(struct mime_parser *p, size_t k, int closing, uint64_t end, uint64_t next)
{
    struct frame *f;

    while (p->nfr > k + 1)
        if (pop_frame(p, end) < 0)
            return -1;
    f = &p->fr[k];
    p->bol = 1;
    p->pend_len = 0;
    if (closing) {
        f->phase = MP_EPILOGUE;
        p->nactive--;
        p->state = ST_BODY;
    } else if (p->nparts < p->lim.max_parts) {
        f->phase = MP_PART;
        p->state = ST_HEADERS;
        p->hdepth = f->part.depth + 1;
        p->hoff = next;
    } else {
        f->phase = MP_SKIP;
        p->inc |= MSG_INC_PARTS;
        p->state = ST_BODY;
    }
    return 0;
}

/* headers_chunk - read header lines; returns bytes used or -1 */
static ssize_t headers_chunk(struct mime_parser *p, const char *d, size_t n, uint64_t base)
{
    size_t i = 0;

    while (i < n) {
        size_t avail = n - i, lim, len;
        const char *e, *line = d + i;
        int complete, closing, r;
        long k;

        if (!p->bol) {
            e = memchr(line, '\n', avail);
            len = e ? (size_t)(e - line) + 1 : avail;
            if (mime_hdrs_feed(&p->hdrs, line, len, 0) < 0)
                return fail(p, ENOMEM);
            i += len;
            p->bol = e != NULL;
            continue;
        }
        lim = avail < MIME_LINE_CAP ? avail : MIME_LINE_CAP;
        e = memchr(line, '\n', lim);
        if (e == NULL && avail < MIME_LINE_CAP && !p->whole)
            return carry(p, line, avail, base + i) < 0 ? -1 : (ssize_t)n;
        len = e ? (size_t)(e - line) + 1 : lim;
        complete = e != NULL || avail < MIME_LINE_CAP;
        if (e != NULL && (len == 1 || (len == 2 && line[0] == '\r'))) {
            i += len;
            return end_headers(p, base + i) < 0 ? -1 : (ssize_t)i;
        }
        if (complete && p->nactive > 0 && len >= 3 && line[0] == '-' && line[1] == '-' &&
            (k = match_boundary(p, line, len, &closing)) >= 0) {
            while (p->state == ST_HEADERS)
                if (end_headers(p, base + i) < 0)
                    return -1;
            if (at_boundary(p, (size_t)k, closing, base + i, base + i + len) < 0)
                return -1;
            return (ssize_t)(i + len);
        }
        if ((r = mime_hdrs_feed(&p->hdrs, line, len, 1)) < 0)
            return fail(p, ENOMEM);
        if (r == MIME_HDRS_BODY)
            return end_headers(p, base + i) < 0 ? -1 : (ssize_t)i;
        i += len;
        p->bol = e != NULL;
    }
    return (ssize_t)n;
}

/* find_delim - the first "\n--" in s[0..n), or NULL: memchr() for each
 * line break (a boundary candidate is a line starting with "--"), which
 * is faster than memmem() on text with short lines */
static const char *find_delim(const char *s, size_t n)
{
    const char *end = s + n;

    while (end - s >= 3) {
        const char *c = memchr(s, '\n', (size_t)(end - s) - 2);

        if (c == NULL)
            return NULL;
        if (c[1] == '-' && c[2] == '-')
            return c;
        s = c + 1;
    }
    return NULL;
}

/* body_chunk - pass body bytes on up to the next delimiter; returns bytes used or -1 */
static ssize_t body_chunk(struct mime_parser *p, const char *d, size_t n, uint64_t base)
{
    size_t i = 0, run, len, end;
    int closing;
    long k;

    if (p->nactive == 0) {
        /* nothing can end this part but the end of the message */
        if (flush_pend(p) < 0 || emit(p, d, n) < 0)
            return -1;
        return (ssize_t)n;
    }
    if (p->pend_len == 1 && p->pend[0] == '\r') {
        if (d[0] == '\n') {
            hold(p, "\r\n", 2);
            p->bol = 1;
            i = 1;
        } else if (flush_pend(p) < 0) {
            return -1;
        }
    }
    if (p->bol) {
        k = line_at(p, d, n, i, &len, &closing);
        if (k == -2)
            return carry(p, d + i, n - i, base + i) < 0 ? -1 : (ssize_t)n;
        if (k >= 0) {
            uint64_t e = base + i - p->pend_len;

            if (at_boundary(p, (size_t)k, closing, e, base + i + len) < 0)
                return -1;
            return (ssize_t)(i + len);
        }
        if (flush_pend(p) < 0)
            return -1;
        p->bol = 0;
    }
    run = i;
    for (;;) {
        const char *c = find_delim(d + i, n - i);
        size_t nl, eol, ls;

        if (c == NULL)
            break;
        nl = (size_t)(c - d);
        eol = nl > run && d[nl - 1] == '\r' ? nl - 1 : nl;
        ls = nl + 1;
        k = line_at(p, d, n, ls, &len, &closing);
        if (k == -2) {
            if (emit(p, d + run, eol - run) < 0)
                return -1;
            hold(p, d + eol, ls - eol);
            p->bol = 1;
            return carry(p, d + ls, n - ls, base + ls) < 0 ? -1 : (ssize_t)n;
        }
        if (k >= 0) {
            if (emit(p, d + run, eol - run) < 0)
                return -1;
            if (at_boundary(p, (size_t)k, closing, base + eol, base + ls + len) < 0)
                return -1;
            return (ssize_t)(ls + len);
        }
        i = ls + 2;
    }
    /* hold back a final line break, a CR that may start one, or "\n-" */
    end = n;
    if (end > run && d[end - 1] == '\n') {
        size_t h = end - 1 > run && d[end - 2] == '\r' ? 2 : 1;

        end -= h;
        hold(p, d + end, h);
        p->bol = 1;
    } else if (end > run && d[end - 1] == '\r') {
        end--;
        hold(p, d + end, 1);
    } else if (!p->whole && end - run >= 2 && d[end - 1] == '-' && d[end - 2] == '\n') {
        size_t nl = end - 2, eol = nl > run && d[nl - 1] == '\r' ? nl - 1 : nl;

        if (emit(p, d + run, eol - run) < 0)
            return -1;
        hold(p, d + eol, end - 1 - eol);
        p->bol = 1;
        return carry(p, d + end - 1, 1, base + end - 1) < 0 ? -1 : (ssize_t)n;
    }
    if (emit(p, d + run, end - run) < 0)
        return -1;
    return (ssize_t)n;
}

/* process - run the state machine over d[0..n), which starts at stream offset base */
static int process(struct mime_parser *p, const char *d, size_t n, uint64_t base)
{
    size_t i = 0;

    while (i < n) {
        ssize_t c;

        if (p->state == ST_HEADERS)
            c = headers_chunk(p, d + i, n - i, base + i);
        else if (p->state == ST_BODY)
            c = body_chunk(p, d + i, n - i, base + i);
        else
            return 0;
        if (c < 0)
            return -1;
        i += (size_t)c;
    }
    return 0;
}

/* done - the result of a push or finish that was cut short */
static int done(struct mime_parser *p)
{
    if (p->err == 0 && p->stopped)
        return 0;
    errno = p->err;
    return -1;
}

/* mime_parse_new - a parser for one message */
struct mime_parser *mime_parse_new(const struct msg_limits *lim, const struct mime_callbacks *cb)
{
    struct mime_parser *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->lim = *lim;
    if (p->lim.max_parts < 1)
        p->lim.max_parts = 1;
    if (cb != NULL)
        p->cb = *cb;
    p->state = ST_HEADERS;
    p->bol = 1;
    mime_hdrs_init(&p->hdrs, p->lim.max_headers, p->lim.max_header_len, 1);
    buf_init(&p->carry, MIME_LINE_CAP);
    return p;
}

/* mime_parse_push - parse the next len bytes of the message */
int mime_parse_push(struct mime_parser *p, const char *data, size_t len)
{
    if (p->err) {
        errno = p->err;
        return -1;
    }
    if (p->stopped || p->state == ST_DONE)
        return 0;
    while (len > 0) {
        uint64_t base;

        if (p->carry.len > 0) {
            size_t room = MIME_LINE_CAP - p->carry.len;
            size_t lim = len < room ? len : room, take;
            const char *nl = memchr(data, '\n', lim);
            int r;

            take = nl ? (size_t)(nl - data) + 1 : lim;
            if (buf_add(&p->carry, data, take) < 0) {
                fail(p, errno);
                return done(p);
            }
            data += take;
            len -= take;
            p->off += take;
            if (nl == NULL && p->carry.len < MIME_LINE_CAP)
                return 0;
            p->whole = 1;
            r = process(p, p->carry.data, p->carry.len, p->carry_off);
            p->whole = 0;
            buf_reset(&p->carry);
            if (r < 0)
                return done(p);
            continue;
        }
        base = p->off;
        p->off += len;
        if (process(p, data, len, base) < 0)
            return done(p);
        break;
    }
    return 0;
}

/* mime_parse_finish - the message is complete: close every open part */
int mime_parse_finish(struct mime_parser *p)
{
    if (p->err) {
        errno = p->err;
        return -1;
    }
    if (p->stopped || p->state == ST_DONE)
        return 0;
    p->whole = 1;
    if (p->carry.len > 0) {
        int r = process(p, p->carry.data, p->carry.len, p->carry_off);

        buf_reset(&p->carry);
        if (r < 0)
            return done(p);
    }
    while (p->state == ST_HEADERS)
        if (end_headers(p, p->off) < 0)
            return done(p);
    if (flush_pend(p) < 0)
        return done(p);
    while (p->nfr > 0)
        if (pop_frame(p, p->off) < 0)
            return done(p);
    p->state = ST_DONE;
    return 0;
}

/* mime_parse_incomplete - the limits hit so far (MSG_INC_*) */
unsigned mime_parse_incomplete(const struct mime_parser *p)
{
    return p->inc;
}

/* mime_parse_nparts - parts opened so far */
size_t mime_parse_nparts(const struct mime_parser *p)
{
    return p->nparts;
}

/* mime_parse_stopped - 1 when a callback asked to stop */
int mime_parse_stopped(const struct mime_parser *p)
{
    return p->stopped;
}

/* mime_parse_memory - bytes the parser holds now (for tests of the bounds) */
size_t mime_parse_memory(const struct mime_parser *p)
{
    size_t n = sizeof(*p) + p->carry.cap + p->frcap * sizeof(*p->fr) + p->hdrs.cur.cap +
               p->hdrs.cap * sizeof(*p->hdrs.v), i;

    for (i = 0; i < p->nfr; i++)
        n += p->fr[i].blen + 1;
    for (i = 0; i < p->hdrs.n; i++)
        n += strlen(p->hdrs.v[i].name) + strlen(p->hdrs.v[i].raw) + 2;
    return n;
}

/* mime_parse_free - release the parser */
void mime_parse_free(struct mime_parser *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nfr; i++)
        free(p->fr[i].boundary);
    free(p->fr);
    mime_hdrs_free(&p->hdrs);
    buf_free(&p->carry);
    free(p);
}
