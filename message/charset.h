/*
 * charset - conversion of text in any charset to UTF-8 (iconv).
 *
 * Streaming: a multibyte sequence split across pushes is completed by the
 * next push.  Invalid input never fails: each invalid sequence becomes
 * U+FFFD.  An unknown or absent charset decodes as UTF-8 when the bytes are
 * valid UTF-8, else as Windows-1252; charset_conv_unknown() then says so.
 * Well-known aliases and mislabels (latin1, utf8, ks_c_5601-1987, x-sjis,
 * gb2312 as GB18030, iso-8859-1 as Windows-1252 ...) are mapped.
 * Output is appended to out; -1 means out failed (see buf.h).
 */
#ifndef MAILSEAL_MESSAGE_CHARSET_H
#define MAILSEAL_MESSAGE_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct charset_conv;

struct charset_conv *charset_conv_new(const char *charset);   /* NULL: ENOMEM */
int charset_conv_push(struct charset_conv *cv, const char *in, size_t len, struct buf *out);
int charset_conv_finish(struct charset_conv *cv, struct buf *out);
int charset_conv_unknown(const struct charset_conv *cv);
void charset_conv_free(struct charset_conv *cv);

/* One shot: convert in to UTF-8, appending to out. */
int charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);
/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);
/* Write code point cp (at most U+10FFFF) as UTF-8 into u; returns 1..4. */
size_t utf8_encode(uint32_t cp, unsigned char u[4]);

#endif
