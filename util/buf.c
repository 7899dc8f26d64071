/*
 * buf - growable byte buffer with a hard maximum size (see buf.h).
 *
 * Growth doubles the allocation, checks every size computation for
 * overflow, and never exceeds max + 1 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* buf_init - set up an empty buffer that may hold at most max bytes */
void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* buf_fail - free the buffer, wiped (it may hold a secret that was
 * being built), after a failed append and report err */
static int buf_fail(struct buf *b, int err)
{
    if (b->data != NULL)
        explicit_bzero(b->data, b->cap);
    buf_free(b);
    errno = err;
    return -1;
}

/* buf_grow - make room for extra more bytes plus the spare NUL */
static int buf_grow(struct buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return buf_fail(b, EOVERFLOW);
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    if ((p = realloc(b->data, ncap)) == NULL)
        return buf_fail(b, ENOMEM);
    b->data = p;
    b->cap = ncap;
    return 0;
}

/* buf_add - append len bytes */
int buf_add(struct buf *b, const void *data, size_t len)
{
    if (buf_grow(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

/* buf_adds - append a C string */
int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* buf_addc - append one byte */
int buf_addc(struct buf *b, int c)
{
    unsigned char ch = (unsigned char)c;

    return buf_add(b, &ch, 1);
}

/* buf_vprintf - append formatted text */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return buf_fail(b, EINVAL);
    if (buf_grow(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

/* buf_printf - append formatted text */
int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

/* buf_reset - empty the buffer, keeping its memory */
void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

/* buf_reserve - allocate for n more bytes, capped at the maximum */
int buf_reserve(struct buf *b, size_t n)
{
    return buf_grow(b, n > b->max - b->len ? b->max - b->len : n);
}

/* buf_truncate - shorten the buffer to len bytes (no-op if longer) */
void buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = 0;
    }
}

/* buf_free - release the memory; the buffer stays usable and empty */
void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* buf_steal - hand the data (NUL-terminated, caller frees) to the caller */
char *buf_steal(struct buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* buf_str - the contents as a C string ("" when empty) */
const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}

/* buf_stage_init - an empty staging area in front of b */
void buf_stage_init(struct buf_stage *st, struct buf *b)
{
    st->b = b;
    st->n = 0;
    st->failed = 0;
}

/* buf_stage_flush - move staged bytes to the buf; -1 if any append failed */
int buf_stage_flush(struct buf_stage *st)
{
    if (st->n && !st->failed && buf_add(st->b, st->s, st->n) < 0)
        st->failed = 1;
    st->n = 0;
    return st->failed ? -1 : 0;
}

/* buf_stage_add - stage bytes (large runs go straight to the buf) */
void buf_stage_add(struct buf_stage *st, const void *data, size_t len)
{
    if (len > BUF_STAGE_SIZE - st->n) {
        buf_stage_flush(st);
        if (len > BUF_STAGE_SIZE / 2) {
            if (!st->failed && buf_add(st->b, data, len) < 0)
                st->failed = 1;
            return;
        }
    }
    memcpy(st->s + st->n, data, len);
    st->n += len;
}
