/*
 * codec - streaming Content-Transfer-Encoding decoders (base64 and
 * quoted-printable) and a base64 encoder.
 *
 * Decoders keep state across calls, so input may be split anywhere.  They
 * never fail: bytes that are not valid are skipped (base64) or passed
 * through literally (quoted-printable) and counted in ->bad, so a caller
 * can flag the part.  Output space: *_update() writes at most
 * CODEC_DEC_MAX(len) bytes, *_final() at most 3.
 */
#ifndef MAILSEAL_MESSAGE_CODEC_H
#define MAILSEAL_MESSAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CODEC_DEC_MAX(len) ((len) + 3)

struct b64_dec {
    uint32_t acc;             /* bits collected */
    unsigned nbits;           /* how many of them are valid */
    int done;                 /* padding seen: ignore the rest */
    size_t bad;               /* invalid characters skipped */
};

void b64_dec_init(struct b64_dec *d);
size_t b64_dec_update(struct b64_dec *d, const char *in, size_t len, unsigned char *out);
size_t b64_dec_final(struct b64_dec *d, unsigned char *out);

struct qp_dec {
    int state;                /* 0 text, 1 after '=', 2 after '=' + hex digit, 3 soft break CR */
    char hold[2];
    size_t bad;               /* malformed escapes passed through */
};

void qp_dec_init(struct qp_dec *d);
size_t qp_dec_update(struct qp_dec *d, const char *in, size_t len, unsigned char *out);
size_t qp_dec_final(struct qp_dec *d, unsigned char *out);

/* One-shot helpers for header words; append to out, -1 on buffer failure. */
int b64_decode_buf(const char *in, size_t len, struct buf *out);
int qp_decode_word(const char *in, size_t len, struct buf *out);  /* RFC 2047 "Q": '_' is space */
int b64_encode_buf(const unsigned char *in, size_t len, struct buf *out);

#endif
