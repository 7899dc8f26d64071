/*
 * text_norm - NFKC + case folding with zero-width characters removed and
 * white space collapsed, plus the character classes used for word
 * boundaries (see text_norm.h).
 *
 * The input is first made valid UTF-8 (invalid bytes become U+FFFD, the
 * zero-width characters are dropped) because utf8proc refuses invalid
 * input as a whole; then utf8proc decomposes (compatibility, case fold,
 * ignorables stripped) and recomposes; then white space runs are folded
 * while encoding.  The intermediate code point array is bounded by
 * TEXT_NORM_MAX_CP.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rules/text_norm.h"

#define TEXT_NORM_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT \
                        | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/* text_is_zero_width - invisible characters that split words without showing */
static int text_is_zero_width(int32_t cp)
{
    return (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF
        || cp == 0x00AD;
}

/* text_is_space - white space as collapsed by text_norm */
int text_is_space(int32_t cp)
{
    utf8proc_category_t cat;

    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85)
        return 1;
    if (cp < 0x80)
        return 0;
    cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL
        || cat == UTF8PROC_CATEGORY_ZP;
}

/* text_is_word - letters, digits and combining marks */
int text_is_word(int32_t cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')
            || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* text_is_unspaced - scripts written without spaces between words */
int text_is_unspaced(int32_t cp)
{
    static const struct { int32_t lo, hi; } ranges[] = {
        { 0x0E00, 0x0EFF },     /* Thai, Lao */
        { 0x1000, 0x109F },     /* Myanmar */
        { 0x1780, 0x17FF },     /* Khmer */
        { 0x19E0, 0x19FF },     /* Khmer symbols */
        { 0x2E80, 0x2FDF },     /* CJK radicals, Kangxi radicals */
        { 0x3005, 0x3007 },     /* ideographic iteration mark, closing mark, zero */
        { 0x3021, 0x3029 },     /* Hangzhou numerals */
        { 0x3038, 0x303C },
        { 0x3040, 0x30FF },     /* Hiragana, Katakana */
        { 0x31F0, 0x31FF },     /* Katakana phonetic extensions */
        { 0x3400, 0x4DBF },     /* CJK extension A */
        { 0x4E00, 0x9FFF },     /* CJK unified ideographs */
        { 0xF900, 0xFAFF },     /* CJK compatibility ideographs */
        { 0xFF66, 0xFF9F },     /* halfwidth Katakana */
        { 0x1B000, 0x1B16F },   /* Kana supplement and extensions */
        { 0x20000, 0x323AF },   /* CJK extensions B..H */
    };

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (cp >= ranges[i].lo && cp <= ranges[i].hi)
            return 1;
    return 0;
}

/* text_cp_at - the code point starting at s[i] */
int32_t text_cp_at(const char *s, size_t len, size_t i)
{
    utf8proc_int32_t cp;

    if (i >= len)
        return -1;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                         (utf8proc_ssize_t)(len - i), &cp) < 0)
        return 0xFFFD;
    return cp;
}

/* text_cp_before - the code point ending just before s[i] */
int32_t text_cp_before(const char *s, size_t i)
{
    size_t j;
    utf8proc_int32_t cp;

    if (i == 0)
        return -1;
    j = i - 1;
    while (j > 0 && i - j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80)
        j--;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + j,
                         (utf8proc_ssize_t)(i - j), &cp) != (utf8proc_ssize_t)(i - j))
        return 0xFFFD;
    return cp;
}

/* text_clean - valid UTF-8 without zero-width characters */
static int text_clean(const char *in, size_t len, struct buf *clean)
{
    size_t pos = 0;

    while (pos < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)in + pos,
                                              (utf8proc_ssize_t)(len - pos), &cp);

        if (r <= 0) {
            if (buf_add(clean, "\xEF\xBF\xBD", 3) < 0)
                return -1;
            pos++;
            continue;
        }
        if (!text_is_zero_width(cp) && buf_add(clean, in + pos, (size_t)r) < 0)
            return -1;
        pos += (size_t)r;
    }
    return 0;
}

/* norm_slow - the normal form of a piece with non-ASCII characters,
 * through utf8proc, white space folded with the state in *space */
static int norm_slow(const char *in, size_t len, struct buf_stage *st, int *space)
{
    struct buf clean;
    utf8proc_int32_t *u;
    utf8proc_ssize_t n, m;

    buf_init(&clean, 3 * (size_t)TEXT_NORM_MAX_CP);
    if (text_clean(in, len, &clean) < 0)
        return -1;
    n = utf8proc_decompose((const utf8proc_uint8_t *)buf_str(&clean),
                           (utf8proc_ssize_t)clean.len, NULL, 0, TEXT_NORM_OPTS);
    if (n < 0 || (size_t)n > TEXT_NORM_MAX_CP) {
        buf_free(&clean);
        errno = n < 0 ? ENOMEM : EOVERFLOW;
        return -1;
    }
    if ((u = malloc(((size_t)n + 1) * sizeof(*u))) == NULL) {
        buf_free(&clean);
        errno = ENOMEM;
        return -1;
    }
    m = utf8proc_decompose((const utf8proc_uint8_t *)buf_str(&clean),
                           (utf8proc_ssize_t)clean.len, u, n, TEXT_NORM_OPTS);
    buf_free(&clean);
    if (m < 0 || m > n) {
        free(u);
        errno = ENOMEM;
        return -1;
    }
    m = utf8proc_normalize_utf32(u, m, TEXT_NORM_OPTS);
    for (utf8proc_ssize_t i = 0; i < m; i++) {
        utf8proc_uint8_t enc[4];

        if (text_is_space(u[i])) {
            if (*space)
                continue;
            *space = 1;
            u[i] = ' ';
        } else {
            *space = 0;
        }
        buf_stage_add(st, enc, (size_t)utf8proc_encode_char(u[i], enc));
    }
    free(u);
    return 0;
}

#define W_ONES 0x0101010101010101ull
#define W_HIGH 0x8080808080808080ull

/* norm_word8 - the fast path for 8 bytes of plain ASCII at in (and an
 * ASCII byte after them, so none is the base of a combining sequence):
 * printable bytes with single spaces, none of them after a space already
 * written (*space), go out lower-cased in one 8-byte store; 1 when done,
 * 0 when the bytes need the per-byte path (controls, a run of spaces, a
 * byte of 0x80 or more).  Little-endian only: the word's first byte is its
 * lowest. */
static int norm_word8(const char *in, struct buf_stage *st, int *space)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w, sp, up;

    memcpy(&w, in, 8);
    if ((w & W_HIGH) != 0 || ((unsigned char)in[8] & 0x80) != 0)
        return 0;
    /* below 0x20 (controls, tab, line breaks): x + 0x60 keeps bit 7 clear */
    if ((~(w + 0x60 * W_ONES) & W_HIGH) != 0)
        return 0;
    /* spaces: the bytes of w ^ 0x20.. that are zero */
    sp = ~((w ^ 0x20 * W_ONES) + 0x7F * W_ONES) & W_HIGH;
    if ((sp & (sp << 8)) != 0 || (*space && (sp & 0x80)))
        return 0;
    /* 'A'..'Z': at least 0x41 (x + 0x3F sets bit 7), not above 0x5A (x + 0x25 does not) */
    up = (w + 0x3F * W_ONES) & ~(w + 0x25 * W_ONES) & W_HIGH;
    w |= up >> 2;
    if (BUF_STAGE_SIZE - st->n < 8)
        buf_stage_flush(st);
    memcpy(st->s + st->n, &w, 8);
    st->n += 8;
    *space = (int)(sp >> 63);
    return 1;
#else
    (void)in;
    (void)st;
    (void)space;
    return 0;
#endif
}

/* norm_word16 - the fast path for up to 16 bytes of plain ASCII at in
 * (with SSE2 where the compiler targets it, x86-64 always; 0 elsewhere):
 * the bytes before the first one that needs the per-byte path (a control,
 * the second space of a run or a space after one already written, a byte
 * of 0x80 or more or the byte before one, which may be the base of a
 * combining sequence; in[16] is looked at for that) go out lower-cased
 * with one 16-byte store; returns how many (0 to 16). */
static size_t norm_word16(const char *in, struct buf_stage *st, int *space)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)in), up;
    unsigned hi, bad, sp;
    size_t n;

    hi = (unsigned)_mm_movemask_epi8(v) | (((unsigned char)in[16] & 0x80u) << 9);
    sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    /* below 0x20 in a signed compare: controls, and every byte of 0x80 or more */
    bad = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)))
          | (hi >> 1) | (sp & (sp << 1)) | (*space ? sp & 1u : 0u);
    n = bad == 0 ? 16 : (size_t)__builtin_ctz(bad);
    if (n == 0)
        return 0;
    up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                       _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    v = _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
    if (BUF_STAGE_SIZE - st->n < 16)
        buf_stage_flush(st);
    _mm_storeu_si128((__m128i *)(void *)(st->s + st->n), v);
    st->n += n;
    *space = (int)((sp >> (n - 1)) & 1u);
    return n;
#else
    (void)in;
    (void)st;
    (void)space;
    return 0;
#endif
}

/* norm_impl - text_norm(), with the 16- and 8-byte ASCII fast paths or (fast == 0)
 * byte by byte only.  Runs of ASCII take a fast path (NFKC leaves ASCII
 * alone and case folding is tolower); the rest goes through utf8proc in
 * pieces that start with the ASCII character before them (combining marks
 * attach to it) and end before the next ASCII character (no composition
 * has an ASCII second character). */
static int norm_impl(const char *in, size_t len, struct buf *out, int fast)
{
    struct buf_stage st;
    size_t i = 0, slow_to = 0;
    int space = 0;

    if (len > TEXT_NORM_MAX_CP) {
        buf_free(out);
        errno = EOVERFLOW;
        return -1;
    }
    buf_stage_init(&st, out);
    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        size_t j;

        if (fast && len - i > 16 && (j = norm_word16(in + i, &st, &space)) > 0) {
            i += j;
            continue;
        }
        if (fast && i >= slow_to && len - i > 8 && len - i <= 16) {
            if (norm_word8(in + i, &st, &space)) {
                i += 8;
                continue;
            }
            slow_to = i + 8;    /* a line break or the like: these bytes one by one */
        }
        if (c >= 0x80 || (i + 1 < len && (unsigned char)in[i + 1] >= 0x80)) {
            for (j = i + 1; j < len && (unsigned char)in[j] >= 0x80; j++)
                ;
            if (norm_slow(in + i, j - i, &st, &space) < 0) {
                buf_free(out);
                return -1;
            }
            i = j;
            continue;
        }
        if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
            if (!space) {
                if (st.n == BUF_STAGE_SIZE)
                    buf_stage_flush(&st);
                st.s[st.n++] = ' ';
            }
            space = 1;
        } else {
            if (st.n == BUF_STAGE_SIZE)
                buf_stage_flush(&st);
            st.s[st.n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            space = 0;
        }
        i++;
    }
    if (buf_stage_flush(&st) < 0) {
        buf_free(out);
        return -1;
    }
    return 0;
}

/* text_norm - append the normal form of in[0..len) to out */
int text_norm(const char *in, size_t len, struct buf *out)
{
    return norm_impl(in, len, out, 1);
}

/* text_norm_reference - text_norm() byte by byte, without the fast path */
int text_norm_reference(const char *in, size_t len, struct buf *out)
{
    return norm_impl(in, len, out, 0);
}
