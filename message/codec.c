/*
 * codec - streaming Content-Transfer-Encoding decoders (base64 and
 * quoted-printable) and a base64 encoder (see codec.h).
 *
 * Interface: b64_dec_init/_update/_final and qp_dec_init/_update/_final
 * decode into a caller buffer of CODEC_DEC_MAX(len) bytes (3 for _final);
 * the one-shot helpers b64_decode_buf(), qp_decode_word() and
 * b64_encode_buf() append to a struct buf.
 *
 * Ownership: the decoder structs are plain values owned by the caller; no
 * memory is allocated except through the caller's buf.
 *
 * Failure: the decoders never fail.  Base64: characters outside the
 * alphabet (other than white space) are skipped and counted in ->bad, as
 * are a dangling single character and anything after the padding.
 * Quoted-printable: "=" not followed by two hex digits (or a line break) is
 * passed through literally and counted.  Per RFC 2045, a soft line break
 * is "=" followed by optional white space and CRLF or a bare LF, and white
 * space before a hard line break (or the end of the data) is dropped.
 * White space held at the end of a push is limited to QP_WS_HOLD bytes so
 * that the next push stays within CODEC_DEC_MAX(); a longer trailing run
 * that straddles a push boundary keeps its first bytes.  The buf helpers
 * return -1 only when the buf failed.
 */
#include <string.h>

#include "message/codec.h"

/* qp_dec.state values beyond those listed in codec.h */
#define QP_TEXT      0   /* plain text, no white space held */
#define QP_EQ        1   /* after '=' */
#define QP_EQ_HEX    2   /* after '=' and one hex digit (hold[0]) */
#define QP_SOFT_CR   3   /* after '=' [ws] CR: soft break, LF may follow */
#define QP_EQ_WS     4   /* after '=' and white space: a soft break if CRLF follows */
#define QP_WS1       5   /* text, one white space byte held in hold[0] */
#define QP_WS2       6   /* text, two white space bytes held in hold[0..1] */
#define QP_WS_HOLD   2   /* most white space bytes held across pushes */

/* 0..63 for base64 alphabet bytes, 64 for white space, 65 for '=', 66 otherwise */
#define B64_WS   64
#define B64_PAD  65
#define B64_BAD  66

static const unsigned char b64_table[256] = {
    66, 66, 66, 66, 66, 66, 66, 66, 66, 64, 64, 64, 64, 64, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    64, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 62, 66, 66, 66, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 66, 66, 65, 66, 66,
    66,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 66, 66, 66, 66, 66,
    66, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
};

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_dec_init - reset a base64 decoder */
void b64_dec_init(struct b64_dec *d)
{
    d->acc = 0;
    d->nbits = 0;
    d->done = 0;
    d->bad = 0;
}

/* b64_dec_update - decode len bytes of base64, return the bytes written */
size_t b64_dec_update(struct b64_dec *d, const char *in, size_t len, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    const unsigned char *end = p + len;
    unsigned char *o = out;
    uint32_t acc = d->acc;
    unsigned nbits = d->nbits;

    if (d->done) {
        for (; p < end; p++) {
            unsigned v = b64_table[*p];

            if (v != B64_WS && v != B64_PAD)
                d->bad++;
        }
        return 0;
    }
    while (p < end) {
        /* fast path: four alphabet characters at a quantum boundary */
        if (nbits == 0 && end - p >= 4) {
            unsigned a = b64_table[p[0]], b = b64_table[p[1]];
            unsigned c = b64_table[p[2]], e = b64_table[p[3]];

            if ((a | b | c | e) < 64) {
                uint32_t v = (a << 18) | (b << 12) | (c << 6) | e;

                o[0] = (unsigned char)(v >> 16);
                o[1] = (unsigned char)(v >> 8);
                o[2] = (unsigned char)v;
                o += 3;
                p += 4;
                continue;
            }
        }
        {
            unsigned v = b64_table[*p++];

            if (v < 64) {
                acc = (acc << 6) | v;
                nbits += 6;
                if (nbits >= 8) {
                    nbits -= 8;
                    *o++ = (unsigned char)(acc >> nbits);
                    acc &= (1u << nbits) - 1;
                }
            } else if (v == B64_WS) {
                continue;
            } else if (v == B64_PAD) {
                /* padding ends the data; a lone 6-bit group or a stray '=' is bad */
                if (nbits == 0 || nbits == 6)
                    d->bad++;
                acc = 0;
                nbits = 0;
                d->done = 1;
                for (; p < end; p++) {
                    v = b64_table[*p];
                    if (v != B64_WS && v != B64_PAD)
                        d->bad++;
                }
                break;
            } else {
                d->bad++;
            }
        }
    }
    d->acc = acc;
    d->nbits = nbits;
    return (size_t)(o - out);
}

/* b64_dec_final - finish base64 data: count a dangling character, reset */
size_t b64_dec_final(struct b64_dec *d, unsigned char *out)
{
    (void)out;
    if (!d->done && d->nbits == 6)
        d->bad++;
    d->acc = 0;
    d->nbits = 0;
    d->done = 0;
    return 0;
}

/* qp_dec_init - reset a quoted-printable decoder */
void qp_dec_init(struct qp_dec *d)
{
    d->state = QP_TEXT;
    d->hold[0] = d->hold[1] = 0;
    d->bad = 0;
}

/* qp_dec_update - decode len bytes of quoted-printable, return the bytes written */
size_t qp_dec_update(struct qp_dec *d, const char *in, size_t len, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    const unsigned char *end = p + len;
    unsigned char *o = out;
    int state = d->state;
    unsigned held = 0;          /* white space bytes held from the last push */

    if (state == QP_WS1 || state == QP_WS2) {
        held = state == QP_WS1 ? 1 : 2;
        state = QP_TEXT;
    }
    while (p < end) {
        unsigned char c = *p;

        switch (state) {
        case QP_TEXT:
            if (c == ' ' || c == '\t') {
                const unsigned char *q = p;

                while (q < end && (*q == ' ' || *q == '\t'))
                    q++;
                if (q == end) {
                    /* the run reaches the end of the push: hold its last bytes */
                    size_t r = (size_t)(q - p), total = held + r, i;
                    size_t keep = total < QP_WS_HOLD ? total : QP_WS_HOLD;
                    char tmp[QP_WS_HOLD] = { 0 };

                    for (i = 0; i < total; i++) {
                        char ws = i < held ? d->hold[i] : (char)p[i - held];

                        if (i < total - keep)
                            *o++ = (unsigned char)ws;
                        else
                            tmp[i - (total - keep)] = ws;
                    }
                    memcpy(d->hold, tmp, keep);
                    held = (unsigned)keep;
                    p = q;
                    break;
                }
                if (*q == '\r' || *q == '\n') {
                    held = 0;           /* trailing white space: dropped */
                } else {
                    for (unsigned i = 0; i < held; i++)
                        *o++ = (unsigned char)d->hold[i];
                    held = 0;
                    memcpy(o, p, (size_t)(q - p));
                    o += q - p;
                }
                p = q;
                break;
            }
            if (held) {
                if (c != '\r' && c != '\n')
                    for (unsigned i = 0; i < held; i++)
                        *o++ = (unsigned char)d->hold[i];
                held = 0;
            }
            if (c == '=') {
                state = QP_EQ;
                p++;
                break;
            }
            /* copy a run of plain bytes */
            {
                const unsigned char *q = p;

                while (q < end && *q != '=' && *q != ' ' && *q != '\t')
                    q++;
                memcpy(o, p, (size_t)(q - p));
                o += q - p;
                p = q;
            }
            break;
        case QP_EQ:
            p++;
            if (hex_value(c) >= 0) {
                d->hold[0] = (char)c;
                state = QP_EQ_HEX;
            } else if (c == '\n') {
                state = QP_TEXT;                /* soft break, bare LF */
            } else if (c == '\r') {
                state = QP_SOFT_CR;
            } else if (c == ' ' || c == '\t') {
                state = QP_EQ_WS;
            } else {
                *o++ = '=';
                d->bad++;
                state = QP_TEXT;
                p--;                            /* c is text again */
            }
            break;
        case QP_EQ_HEX:
            if (hex_value(c) >= 0) {
                *o++ = (unsigned char)((unsigned)hex_value((unsigned char)d->hold[0]) << 4
                                       | (unsigned)hex_value(c));
                p++;
            } else {
                *o++ = '=';
                *o++ = (unsigned char)d->hold[0];
                d->bad++;
            }
            state = QP_TEXT;
            break;
        case QP_SOFT_CR:
            if (c == '\n')
                p++;
            state = QP_TEXT;
            break;
        case QP_EQ_WS:
            if (c == ' ' || c == '\t') {
                p++;
            } else if (c == '\n') {
                p++;
                state = QP_TEXT;
            } else if (c == '\r') {
                p++;
                state = QP_SOFT_CR;
            } else {
                /* "=" and white space inside a line: keep the '=' literally */
                *o++ = '=';
                d->bad++;
                state = QP_TEXT;
            }
            break;
        default:
            state = QP_TEXT;
            break;
        }
    }
    if (state == QP_TEXT && held)
        state = held == 1 ? QP_WS1 : QP_WS2;
    d->state = state;
    return (size_t)(o - out);
}

/* qp_dec_final - finish quoted-printable data: flush a dangling escape, reset */
size_t qp_dec_final(struct qp_dec *d, unsigned char *out)
{
    size_t n = 0;

    switch (d->state) {
    case QP_EQ_HEX:
        out[n++] = '=';
        out[n++] = (unsigned char)d->hold[0];
        d->bad++;
        break;
    default:
        /* "=" at the very end is a soft break; trailing white space is dropped */
        break;
    }
    d->state = QP_TEXT;
    d->hold[0] = d->hold[1] = 0;
    return n;
}

/* b64_decode_buf - decode base64 (white space and junk skipped), append to out */
int b64_decode_buf(const char *in, size_t len, struct buf *out)
{
    struct b64_dec d;
    unsigned char tmp[CODEC_DEC_MAX(1024)];
    size_t n;

    b64_dec_init(&d);
    while (len > 0) {
        size_t chunk = len < 1024 ? len : 1024;

        n = b64_dec_update(&d, in, chunk, tmp);
        if (n && buf_add(out, tmp, n) < 0)
            return -1;
        in += chunk;
        len -= chunk;
    }
    n = b64_dec_final(&d, tmp);
    if (n && buf_add(out, tmp, n) < 0)
        return -1;
    return 0;
}

/* qp_decode_word - decode an RFC 2047 "Q" word ('_' is a space), append to out */
int qp_decode_word(const char *in, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)in;
    const unsigned char *end = p + len;
    unsigned char tmp[256];
    size_t n = 0;

    while (p < end) {
        int hi, lo;

        if (n + 3 > sizeof(tmp)) {
            if (buf_add(out, tmp, n) < 0)
                return -1;
            n = 0;
        }
        if (*p == '_') {
            tmp[n++] = ' ';
            p++;
        } else if (*p == '=' && end - p >= 3 && (hi = hex_value(p[1])) >= 0 &&
                   (lo = hex_value(p[2])) >= 0) {
            tmp[n++] = (unsigned char)(hi << 4 | lo);
            p += 3;
        } else {
            tmp[n++] = *p++;      /* malformed escapes stay literal */
        }
    }
    if (n && buf_add(out, tmp, n) < 0)
        return -1;
    return 0;
}

/* b64_encode_buf - append the padded base64 form of in (no line breaks) */
int b64_encode_buf(const unsigned char *in, size_t len, struct buf *out)
{
    char tmp[256];
    size_t n = 0;

    while (len > 0) {
        uint32_t v;

        if (n + 4 > sizeof(tmp)) {
            if (buf_add(out, tmp, n) < 0)
                return -1;
            n = 0;
        }
        v = (uint32_t)in[0] << 16;
        if (len > 1)
            v |= (uint32_t)in[1] << 8;
        if (len > 2)
            v |= in[2];
        tmp[n++] = b64_alphabet[v >> 18 & 63];
        tmp[n++] = b64_alphabet[v >> 12 & 63];
        tmp[n++] = len > 1 ? b64_alphabet[v >> 6 & 63] : '=';
        tmp[n++] = len > 2 ? b64_alphabet[v & 63] : '=';
        if (len <= 3)
            break;
        in += 3;
        len -= 3;
    }
    if (n && buf_add(out, tmp, n) < 0)
        return -1;
    return 0;
}
