/*
 * buf - growable byte buffer with a hard maximum size.
 *
 * Every buffer is created with a maximum; appends that would exceed it, or
 * that fail to allocate, return -1 and FREE the buffer, wiped (it is left
 * empty and usable, never half-filled), with errno set to EOVERFLOW or
 * ENOMEM.  The data is always followed by a spare NUL byte, so buf_str()
 * is a C string.  The caller owns the buffer and releases it with
 * buf_free().
 */
#ifndef MAILSEAL_UTIL_BUF_H
#define MAILSEAL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;     /* NULL until the first append */
    size_t len;     /* bytes used, excluding the spare NUL */
    size_t cap;     /* bytes allocated, including the spare NUL */
    size_t max;     /* largest len allowed */
};

#define BUF_INIT(maxlen) { NULL, 0, 0, (maxlen) }

/*
 * buf_stage - a small staging area in front of a buf, for writers that emit
 * many tiny pieces (decoders): pieces are copied into s[] and moved to the
 * buf in one append when it fills; large runs go straight to the buf.
 * Writers may also fill s[n..] directly and advance n.  A failed append
 * sets failed, and later bytes are dropped; buf_stage_flush() reports it.
 */
#define BUF_STAGE_SIZE 2048

struct buf_stage {
    struct buf *b;
    size_t n;                 /* bytes staged in s */
    int failed;               /* an append to b failed */
    char s[BUF_STAGE_SIZE];
};

void buf_init(struct buf *b, size_t max);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, int c);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
void buf_truncate(struct buf *b, size_t len);
/* buf_reserve - allocate now for n more bytes (at most up to the maximum),
 * so appends of up to n bytes never move the data (buffers that will hold
 * secrets); 0, or -1 with the buffer freed */
int buf_reserve(struct buf *b, size_t n);
void buf_free(struct buf *b);
char *buf_steal(struct buf *b);
const char *buf_str(const struct buf *b);

void buf_stage_init(struct buf_stage *st, struct buf *b);
void buf_stage_add(struct buf_stage *st, const void *data, size_t len);
int buf_stage_flush(struct buf_stage *st);

/* hex_value - value of an ASCII hexadecimal digit, -1 for anything else */
static inline int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
