/*
 * json - JSON string escaping into a capped buffer (see json.h).
 *
 * Bytes are staged with buf_stage, so long plain runs cost one append.
 * Validation follows the well-formed UTF-8 table of Unicode (chapter 3,
 * table 3-7): the second byte's range depends on the first, which rules
 * out overlong forms, surrogates and code points past U+10FFFF.
 */
#include <errno.h>
#include <string.h>

#include "cli/json.h"

/* utf8_seq - length of the well-formed sequence at s, or 0 with *bad set
 * to the length of the maximal invalid subsequence there (at least 1) */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        need = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        need = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        need = 4;
    else {
        *bad = 1;
        return 0;
    }
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    for (i = 1; i < need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

/* json_add_string - s[0..len) as a quoted, escaped JSON string */
int json_add_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    struct buf_stage st;
    size_t i = 0;

    buf_stage_init(&st, b);
    buf_stage_add(&st, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        size_t n, bad = 0;

        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };

            buf_stage_add(&st, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            const char *e = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

            if (e != NULL) {
                buf_stage_add(&st, e, 2);
            } else {
                char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF] };

                buf_stage_add(&st, u, 6);
            }
            i++;
        } else if ((n = utf8_seq(p + i, len - i, &bad)) > 0) {
            buf_stage_add(&st, p + i, n);
            i += n;
        } else {
            buf_stage_add(&st, "\\ufffd", 6);
            i += bad;
        }
    }
    buf_stage_add(&st, "\"", 1);
    return buf_stage_flush(&st);
}

/* json_add_str - a C string, or null */
int json_add_str(struct buf *b, const char *s)
{
    if (s == NULL)
        return buf_adds(b, "null");
    return json_add_string(b, s, strlen(s));
}
