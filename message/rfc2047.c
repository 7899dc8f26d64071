/*
 * rfc2047 - header values: decoding of encoded words to UTF-8, and
 * encoding of UTF-8 values for writing headers back (see rfc2047.h).
 *
 * Interface: rfc2047_decode(value, len, out) and
 * rfc2047_encode(field_name, utf8, out) both append to out.
 *
 * Decoding unfolds the value (a CR/LF followed by white space is removed,
 * any other CR or LF becomes a space), drops white space at both ends and
 * then scans for encoded words "=?charset[*lang]?B|Q?text?=" anywhere (also
 * inside words, as mail readers do).  The text ends at the first "?=" and
 * may not hold another "?"; white space inside it is tolerated.  A word
 * that does not parse is kept literally.  White space between two encoded
 * words is dropped, and the decoded bytes of adjacent words with the same
 * charset are joined before conversion (charset.c), so a character split
 * between words survives.  Raw text is read as UTF-8 where valid, else as
 * Windows-1252.  Finally C0 controls other than tab, DEL and C1 controls
 * become a space: the output holds no CR, LF or NUL.
 *
 * Encoding replaces CR, LF, tab and other controls by spaces.  Printable
 * ASCII that does not contain "=?" is written as is, folded before white
 * space so that no line, the first one counted with "Name: ", exceeds 78
 * characters.  Anything else (or ASCII that cannot be folded that way) is
 * written as "=?UTF-8?B?...?=" words that never split a UTF-8 character,
 * on lines of at most 76 characters (the first one counted with "Name: ";
 * only a field name longer than 54 characters can make the first line
 * longer, as it must still hold one character).  The fold separator is
 * "\n " (LF and a space), as libmilter expects in smfi_addheader() and
 * smfi_chgheader() values: Postfix and Sendmail write CRLF on the wire.
 * Invalid UTF-8 in the input is read as Windows-1252 first.
 *
 * Memory: intermediate buffers are capped by the input size and out->max.
 * Failure: -1 when out (or an intermediate buffer) failed, see buf.h.
 */
#include <string.h>

#include "message/charset.h"
#include "message/codec.h"
#include "message/rfc2047.h"

#define EW_CHARSET_MAX  64      /* longest charset (with *lang) in an encoded word */
#define ASCII_LINE_MAX  78      /* folded ASCII lines */
#define EW_LINE_MAX     76      /* lines of encoded words */
#define EW_OVERHEAD     12      /* "=?UTF-8?B?" and "?=" */

/* a parsed encoded word */
struct ew {
    const char *charset;        /* without the *lang suffix */
    size_t charset_len;
    int enc;                    /* 'B' or 'Q' */
    const char *text;
    size_t text_len;
    const char *end;            /* just past "?=" */
};

/* is_wsp - space or tab */
static inline int is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* ew_parse - parse an encoded word at p (which starts "=?"); 1 when valid */
static int ew_parse(const char *p, const char *end, struct ew *w)
{
    const char *q = p + 2, *cs = q, *star = NULL, *t;

    while (q < end && *q != '?') {
        unsigned char c = (unsigned char)*q;

        if (c <= ' ' || c >= 0x7F || c == '=')
            return 0;
        if (c == '*' && star == NULL)
            star = q;
        q++;
    }
    if (q >= end || q == cs || (size_t)(q - cs) > EW_CHARSET_MAX)
        return 0;
    w->charset = cs;
    w->charset_len = (size_t)((star ? star : q) - cs);
    if (w->charset_len == 0)
        return 0;
    /* "?" B|Q "?" */
    if (end - q < 3 || q[2] != '?')
        return 0;
    switch (q[1]) {
    case 'B':
    case 'b':
        w->enc = 'B';
        break;
    case 'Q':
    case 'q':
        w->enc = 'Q';
        break;
    default:
        return 0;
    }
    t = q + 3;
    for (q = t; q < end; q++) {
        if (*q == '?') {
            if (q + 1 < end && q[1] == '=') {
                w->text = t;
                w->text_len = (size_t)(q - t);
                w->end = q + 2;
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

/* same_charset - case-insensitive comparison of two charset names */
static int same_charset(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* decoding state: text converted so far, and the pending encoded bytes */
struct dec {
    struct buf text;            /* UTF-8 before the final control clean-up */
    struct buf pend;            /* decoded bytes of adjacent words, one charset */
    char charset[EW_CHARSET_MAX + 1];
    int have_pend;
};

/* dec_flush - convert the pending encoded bytes */
static int dec_flush(struct dec *d)
{
    int r = 0;

    if (d->have_pend) {
        r = charset_to_utf8(d->charset, d->pend.data ? d->pend.data : "", d->pend.len, &d->text);
        buf_reset(&d->pend);
        d->have_pend = 0;
    }
    return r;
}

/* dec_raw - add raw header text (UTF-8 where valid, else Windows-1252) */
static int dec_raw(struct dec *d, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (dec_flush(d) < 0)
        return -1;
    return charset_to_utf8(NULL, s, n, &d->text);
}

/* dec_word - add the decoded bytes of an encoded word */
static int dec_word(struct dec *d, const struct ew *w)
{
    if (d->have_pend && !same_charset(d->charset, strlen(d->charset), w->charset, w->charset_len)) {
        if (dec_flush(d) < 0)
            return -1;
    }
    if (!d->have_pend) {
        memcpy(d->charset, w->charset, w->charset_len);
        d->charset[w->charset_len] = 0;
        d->have_pend = 1;
    }
    if (w->enc == 'B')
        return b64_decode_buf(w->text, w->text_len, &d->pend);
    return qp_decode_word(w->text, w->text_len, &d->pend);
}

/* clean_controls - append s to out with C0 (but tab), DEL and C1 as spaces */
static int clean_controls(const char *s, size_t n, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;

    while (p < end) {
        size_t skip = 0;

        if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
            skip = 1;
        else if (*p == 0xC2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9F)
            skip = 2;
        if (skip == 0) {
            p++;
            continue;
        }
        if (buf_add(out, run, (size_t)(p - run)) < 0 || buf_addc(out, ' ') < 0)
            return -1;
        p += skip;
        run = p;
    }
    return buf_add(out, run, (size_t)(p - run));
}

/* unfold - copy value to dst without folding; other CR and LF become spaces */
static int unfold(const char *value, size_t len, struct buf *dst)
{
    const char *p = value, *end = value + len, *run = value;

    while (p < end) {
        if (*p != '\r' && *p != '\n') {
            p++;
            continue;
        }
        if (buf_add(dst, run, (size_t)(p - run)) < 0)
            return -1;
        {
            const char *q = p;

            if (*q == '\r' && q + 1 < end && q[1] == '\n')
                q++;
            q++;
            if (!(q < end && is_wsp(*q)) && buf_addc(dst, ' ') < 0)
                return -1;
            p = q;
        }
        run = p;
    }
    return buf_add(dst, run, (size_t)(p - run));
}

/* rfc2047_decode - decode a raw header value to UTF-8, appending to out */
int rfc2047_decode(const char *value, size_t len, struct buf *out)
{
    struct buf unf = BUF_INIT(len);
    struct dec d;
    const char *p, *end, *raw;
    int prev_word = 0, r = -1;

    buf_init(&d.text, out->max);
    buf_init(&d.pend, len);
    d.have_pend = 0;
    d.charset[0] = 0;
    if (unfold(value, len, &unf) < 0)
        goto done;
    p = unf.data ? unf.data : "";
    end = p + unf.len;
    while (p < end && is_wsp(*p))
        p++;
    while (end > p && is_wsp(end[-1]))
        end--;
    raw = p;
    while (p < end) {
        struct ew w;
        const char *q = memchr(p, '=', (size_t)(end - p));

        if (q == NULL)
            break;
        if (q + 1 >= end || q[1] != '?' || !ew_parse(q, end, &w)) {
            p = q + 1;
            continue;
        }
        /* text before the word: dropped when only white space between words */
        {
            const char *s = raw;

            if (prev_word)
                while (s < q && is_wsp(*s))
                    s++;
            if (!(prev_word && s == q) && dec_raw(&d, raw, (size_t)(q - raw)) < 0)
                goto done;
        }
        if (dec_word(&d, &w) < 0)
            goto done;
        prev_word = 1;
        p = raw = w.end;
    }
    if (dec_raw(&d, raw, (size_t)(end - raw)) < 0 || dec_flush(&d) < 0)
        goto done;
    r = clean_controls(d.text.data ? d.text.data : "", d.text.len, out);
done:
    buf_free(&unf);
    buf_free(&d.text);
    buf_free(&d.pend);
    return r;
}

/* is_control_at - length of a control character (C0, DEL, C1) at p, else 0 */
static size_t is_control_at(const unsigned char *p, const unsigned char *end)
{
    if (*p < 0x20 || *p == 0x7F)
        return 1;
    if (*p == 0xC2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9F)
        return 2;
    return 0;
}

/* fold_ascii - write printable ASCII folded at white space; 1 if some line is too long */
static int fold_ascii(const char *s, size_t n, size_t prefix, struct buf *out, int *failed)
{
    size_t line = prefix, i = 0;

    *failed = 0;
    while (i < n) {
        /* a chunk: white space, then up to the next white space after a word */
        size_t j = i, k;

        while (j < n && s[j] == ' ')
            j++;
        k = j;
        while (k < n && s[k] != ' ')
            k++;
        /* fold before the chunk when it does not fit, but never before a
         * chunk of white space only or at the very start */
        if (i > 0 && s[i] == ' ' && k > j && line + (k - i) > ASCII_LINE_MAX) {
            if (buf_addc(out, '\n') < 0) {
                *failed = 1;
                return 0;
            }
            line = 0;
        }
        if (buf_add(out, s + i, k - i) < 0) {
            *failed = 1;
            return 0;
        }
        line += k - i;
        if (line > ASCII_LINE_MAX)
            return 1;
        i = k;
    }
    return 0;
}

/* utf8_char_len - length of the (valid) UTF-8 character starting with c */
static inline size_t utf8_char_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

/* encode_words - write s (valid UTF-8) as B encoded words, folded */
static int encode_words(const char *s, size_t n, size_t prefix, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    int first = 1;

    while (p < end) {
        size_t room = first ? (prefix + EW_OVERHEAD < EW_LINE_MAX ? EW_LINE_MAX - prefix : 0)
                            : EW_LINE_MAX - 1;         /* the leading space */
        size_t max_bytes, take = 0;

        /* base64 characters that fit, whole quanta, as bytes */
        max_bytes = room > EW_OVERHEAD ? (room - EW_OVERHEAD) / 4 * 3 : 0;
        while (p + take < end) {
            size_t cl = utf8_char_len(p[take]);

            if (cl > (size_t)(end - p) - take)
                cl = (size_t)(end - p) - take;
            if (take + cl > max_bytes) {
                if (take == 0)
                    take = cl;  /* a word holds at least one character */
                break;
            }
            take += cl;
        }
        if (!first && buf_add(out, "\n ", 2) < 0)
            return -1;
        if (buf_add(out, "=?UTF-8?B?", 10) < 0 ||
            b64_encode_buf(p, take, out) < 0 || buf_add(out, "?=", 2) < 0)
            return -1;
        p += take;
        first = 0;
    }
    return 0;
}

/* rfc2047_encode - write a header value for field_name, appending to out */
int rfc2047_encode(const char *field_name, const char *utf8, struct buf *out)
{
    size_t n = strlen(utf8), prefix = (field_name ? strlen(field_name) : 0) + 2;
    struct buf in = BUF_INIT(n * 3 + 1), clean = BUF_INIT(n * 3 + 1);
    const unsigned char *p, *end;
    size_t start = out->len;
    int ascii = 1, r = -1, failed;

    /* invalid UTF-8 is read as Windows-1252 first */
    if (utf8_valid(utf8, n)) {
        if (buf_add(&in, utf8, n) < 0)
            goto done;
    } else if (charset_to_utf8(NULL, utf8, n, &in) < 0) {
        goto done;
    }
    /* controls become spaces */
    p = (const unsigned char *)(in.data ? in.data : "");
    end = p + in.len;
    while (p < end) {
        size_t cl = is_control_at(p, end);

        if (cl) {
            if (buf_addc(&clean, ' ') < 0)
                goto done;
            p += cl;
            continue;
        }
        if (*p >= 0x80)
            ascii = 0;
        if (buf_addc(&clean, *p) < 0)
            goto done;
        p++;
    }
    if (clean.len == 0) {
        r = 0;
        goto done;
    }
    if (ascii && strstr(clean.data, "=?") == NULL) {
        int too_long = fold_ascii(clean.data, clean.len, prefix, out, &failed);

        if (failed)
            goto done;
        if (!too_long) {
            r = 0;
            goto done;
        }
        buf_truncate(out, start);       /* a word too long to fold: encode instead */
    }
    r = encode_words(clean.data, clean.len, prefix, out);
done:
    buf_free(&in);
    buf_free(&clean);
    return r;
}
