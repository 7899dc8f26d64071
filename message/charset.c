/*
 * charset - conversion of text in any charset to UTF-8 (see charset.h).
 *
 * Interface: charset_conv_new(name) opens a converter, charset_conv_push()
 * converts a piece of input, charset_conv_finish() ends the text (and
 * resets the converter for reuse), charset_conv_free() releases it.
 * charset_to_utf8() does all of that once; utf8_valid() checks bytes.
 *
 * Three decoders do the work.  UTF-8 input is validated here and every
 * invalid sequence (a maximal subpart, as the Unicode standard and browsers
 * count them) becomes U+FFFD.  Windows-1252, which browsers also use for
 * ISO-8859-1 and US-ASCII, is a table here too.  Everything else goes to
 * iconv(3), without //TRANSLIT or //IGNORE: an invalid byte (EILSEQ)
 * becomes U+FFFD and is skipped, an incomplete sequence at the end of a push
 * (EINVAL) is carried to the next push, and at the end it becomes U+FFFD.
 * For charsets in which bytes below 0x80 between characters are always
 * ASCII (checked once per converter by probing iconv), ASCII runs are copied
 * without calling iconv.  An unknown or absent charset decodes valid UTF-8
 * sequences as UTF-8 and every other byte as Windows-1252.
 *
 * Charset names come from mail: they are trimmed, length-capped and limited
 * to letters, digits and "-_.:+()" before any lookup, so nothing like
 * "//IGNORE" or a path reaches iconv_open().  Names are matched against an
 * alias table of common labels and mislabels first.
 *
 * Memory: a converter holds at most CS_CARRY_MAX carried bytes; output goes
 * to the caller's buf.  Ownership: the converter belongs to the caller.
 * Failure: only buf failures (-1, see buf.h) and ENOMEM in _new() (NULL).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message/charset.h"

#define CS_NAME_MAX   40      /* longest charset name looked up */
#define CS_CARRY_MAX  16      /* longest incomplete sequence carried */
#define CS_WINDOW     16      /* bytes of a new push joined to the carry */

enum cs_kind {
    CS_UTF8,                  /* validated here */
    CS_W1252,                 /* table here */
    CS_UNKNOWN,               /* UTF-8 where valid, else Windows-1252 */
    CS_ICONV,                 /* iconv(3) */
};

struct charset_conv {
    enum cs_kind kind;
    int ascii_ok;             /* iconv: ASCII runs may bypass iconv */
    int flush_segments;       /* iconv: flush buffered output after each segment */
    unsigned unit;            /* iconv: bytes skipped after an invalid sequence */
    iconv_t cd;
    unsigned char carry[CS_CARRY_MAX];
    size_t ncarry;
};

/* labels and mislabels seen in mail, lowercase; "" target means native */
struct cs_alias {
    const char *label;
    enum cs_kind kind;
    const char *iconv_name;
};

/* sorted by label (strcmp order) for bsearch */
static const struct cs_alias cs_aliases[] = {
    { "", CS_UNKNOWN, NULL },
    { "646", CS_W1252, NULL },
    { "8bit", CS_UNKNOWN, NULL },
    { "ansi_x3.4-1968", CS_W1252, NULL },
    { "ascii", CS_W1252, NULL },
    { "big-5", CS_ICONV, "BIG5" },
    { "big5", CS_ICONV, "BIG5" },
    { "big5-hkscs", CS_ICONV, "BIG5-HKSCS" },
    { "chinese", CS_ICONV, "GB18030" },
    { "cn-big5", CS_ICONV, "BIG5" },
    { "cp-1250", CS_ICONV, "WINDOWS-1250" },
    { "cp-1251", CS_ICONV, "WINDOWS-1251" },
    { "cp-1252", CS_W1252, NULL },
    { "cp-850", CS_ICONV, "CP850" },
    { "cp-866", CS_ICONV, "CP866" },
    { "cp1252", CS_W1252, NULL },
    { "cp819", CS_W1252, NULL },
    { "cp932", CS_ICONV, "CP932" },
    { "cp936", CS_ICONV, "GB18030" },
    { "cp949", CS_ICONV, "CP949" },
    { "csbig5", CS_ICONV, "BIG5" },
    { "csgb2312", CS_ICONV, "GB18030" },
    { "csiso2022jp", CS_ICONV, "ISO-2022-JP-2" },
    { "csisolatin1", CS_W1252, NULL },
    { "csksc56011987", CS_ICONV, "CP949" },
    { "csshiftjis", CS_ICONV, "CP932" },
    { "default", CS_UNKNOWN, NULL },
    { "euc-cn", CS_ICONV, "GB18030" },
    { "euc-kr", CS_ICONV, "CP949" },
    { "euckr", CS_ICONV, "CP949" },
    { "gb18030", CS_ICONV, "GB18030" },
    { "gb2312", CS_ICONV, "GB18030" },
    { "gb_2312", CS_ICONV, "GB18030" },
    { "gb_2312-80", CS_ICONV, "GB18030" },
    { "gbk", CS_ICONV, "GB18030" },
    { "ibm819", CS_W1252, NULL },
    { "iso-2022-jp", CS_ICONV, "ISO-2022-JP-2" },
    { "iso-8859-1", CS_W1252, NULL },
    { "iso-8859-11", CS_ICONV, "WINDOWS-874" },
    { "iso-8859-8-i", CS_ICONV, "ISO-8859-8" },
    { "iso-8859-9", CS_ICONV, "WINDOWS-1254" },
    { "iso-ir-100", CS_W1252, NULL },
    { "iso-ir-149", CS_ICONV, "CP949" },
    { "iso-ir-58", CS_ICONV, "GB18030" },
    { "iso8859-1", CS_W1252, NULL },
    { "iso88591", CS_W1252, NULL },
    { "iso_8859-1", CS_W1252, NULL },
    { "iso_8859-1:1987", CS_W1252, NULL },
    { "koi8", CS_ICONV, "KOI8-R" },
    { "korean", CS_ICONV, "CP949" },
    { "ks_c_5601", CS_ICONV, "CP949" },
    { "ks_c_5601-1987", CS_ICONV, "CP949" },
    { "ks_c_5601-1989", CS_ICONV, "CP949" },
    { "ksc5601", CS_ICONV, "CP949" },
    { "ksc_5601", CS_ICONV, "CP949" },
    { "l1", CS_W1252, NULL },
    { "latin-1", CS_W1252, NULL },
    { "latin-9", CS_ICONV, "ISO-8859-15" },
    { "latin1", CS_W1252, NULL },
    { "latin9", CS_ICONV, "ISO-8859-15" },
    { "mac", CS_ICONV, "MACINTOSH" },
    { "macintosh", CS_ICONV, "MACINTOSH" },
    { "ms932", CS_ICONV, "CP932" },
    { "ms936", CS_ICONV, "GB18030" },
    { "ms_kanji", CS_ICONV, "CP932" },
    { "none", CS_UNKNOWN, NULL },
    { "shift-jis", CS_ICONV, "CP932" },
    { "shift_jis", CS_ICONV, "CP932" },
    { "sjis", CS_ICONV, "CP932" },
    { "tis-620", CS_ICONV, "WINDOWS-874" },
    { "uhc", CS_ICONV, "CP949" },
    { "unicode-1-1-utf-8", CS_UTF8, NULL },
    { "unknown", CS_UNKNOWN, NULL },
    { "unknown-8bit", CS_UNKNOWN, NULL },
    { "us", CS_W1252, NULL },
    { "us-ascii", CS_W1252, NULL },
    { "utf-8", CS_UTF8, NULL },
    { "utf8", CS_UTF8, NULL },
    { "windows-1252", CS_W1252, NULL },
    { "windows-31j", CS_ICONV, "CP932" },
    { "windows-936", CS_ICONV, "GB18030" },
    { "windows-949", CS_ICONV, "CP949" },
    { "x-cp1252", CS_W1252, NULL },
    { "x-euc-cn", CS_ICONV, "GB18030" },
    { "x-gbk", CS_ICONV, "GB18030" },
    { "x-mac-roman", CS_ICONV, "MACINTOSH" },
    { "x-ms-cp932", CS_ICONV, "CP932" },
    { "x-sjis", CS_ICONV, "CP932" },
    { "x-unicode20utf8", CS_UTF8, NULL },
    { "x-unknown", CS_UNKNOWN, NULL },
    { "x-user-defined", CS_UNKNOWN, NULL },
    { "x-windows-949", CS_ICONV, "CP949" },
    { "x-x-big5", CS_ICONV, "BIG5" },
};

/* Windows-1252 0x80..0x9F; the five holes map to C1 controls as in browsers */
static const uint16_t w1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

/* out_cp - append one code point as UTF-8 */
static void out_cp(struct buf_stage *o, uint32_t cp)
{
    unsigned char u[4];
    size_t n;

    n = utf8_encode(cp, u);
    buf_stage_add(o, u, n);
}

/* w1252_cp - the code point of a Windows-1252 byte */
static inline uint32_t w1252_cp(unsigned char c)
{
    return c >= 0x80 && c < 0xA0 ? w1252_c1[c - 0x80] : c;
}

/*
 * utf8_seq - classify the UTF-8 sequence at p: its length (> 0) when valid,
 * 0 when it is a valid but incomplete prefix running into end, or minus the
 * length of its maximal invalid subpart (at least 1).
 */
static inline int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    int need, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;                  /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F;                  /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;                  /* no overlongs */
        else if (c == 0xF4)
            hi = 0x8F;                  /* nothing above U+10FFFF */
    } else
        return -1;
    for (i = 1; i <= need; i++) {
        if (p + i >= end)
            return 0;
        if (p[i] < lo || p[i] > hi)
            return -i;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* utf8_encode - write code point cp (<= U+10FFFF) as UTF-8 into u; its length */
size_t utf8_encode(uint32_t cp, unsigned char u[4])
{
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return n;
}

/* utf8_valid - 1 when s[0..len) is valid UTF-8 */
int utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        int n;

        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((n = utf8_seq(p, end)) <= 0)
            return 0;
        p += n;
    }
    return 1;
}

/* ascii_run - length of the run of bytes below 0x80 at p */
static inline size_t ascii_run(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i + 8 <= n) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

/* decode_native - UTF-8, Windows-1252 or unknown; return the bytes consumed */
static size_t decode_native(struct charset_conv *cv, const unsigned char *in, size_t n,
                            int final, struct buf_stage *o)
{
    const unsigned char *p = in, *end = in + n;

    while (p < end) {
        size_t run = ascii_run(p, (size_t)(end - p));
        int r;

        if (run) {
            buf_stage_add(o, p, run);
            p += run;
            continue;
        }
        if (cv->kind == CS_W1252) {
            out_cp(o, w1252_cp(*p++));
            continue;
        }
        /* a run of valid UTF-8 is copied in one go */
        {
            const unsigned char *q = p;

            while (q < end && *q >= 0x80 && (r = utf8_seq(q, end)) > 0)
                q += r;
            if (q > p) {
                buf_stage_add(o, p, (size_t)(q - p));
                p = q;
                continue;
            }
        }
        r = utf8_seq(p, end);
        if (r == 0 && !final)
            break;                      /* incomplete: carried */
        if (cv->kind == CS_UNKNOWN) {
            out_cp(o, w1252_cp(*p++));  /* one byte as Windows-1252 */
        } else {
            buf_stage_add(o, fffd, 3);
            p += r < 0 ? (size_t)-r : (size_t)(end - p);
        }
    }
    return (size_t)(p - in);
}

/* iconv_drain - let iconv emit output it buffered (shift state, lookahead) */
static void iconv_drain(struct charset_conv *cv, struct buf_stage *o)
{
    char tmp[64];
    char *op = tmp;
    size_t oleft = sizeof(tmp);

    if (iconv(cv->cd, NULL, NULL, &op, &oleft) != (size_t)-1 || op > tmp)
        buf_stage_add(o, tmp, (size_t)(op - tmp));
}

/* iconv_clean - replace what iconv wrote since start that is not UTF-8 (glibc's
 * UCS-4 family passes code points above U+10FFFF on as 4 to 6 byte forms) by
 * U+FFFD: one per lead byte with its continuation bytes */
static void iconv_clean(struct buf_stage *o, size_t start)
{
    unsigned char tmp[BUF_STAGE_SIZE];
    size_t n = o->n - start, i = 0;

    if (utf8_valid(o->s + start, n))
        return;
    memcpy(tmp, o->s + start, n);
    o->n = start;
    while (i < n) {
        int l = utf8_seq(tmp + i, tmp + n);

        if (l > 0) {
            buf_stage_add(o, tmp + i, (size_t)l);
            i += (size_t)l;
        } else {
            buf_stage_add(o, fffd, 3);
            for (i++; i < n && (tmp[i] & 0xC0) == 0x80; i++)
                ;
        }
    }
}

/* decode_iconv - convert through iconv; return the bytes consumed */
static size_t decode_iconv(struct charset_conv *cv, const unsigned char *in, size_t n,
                           int final, struct buf_stage *o)
{
    size_t pos = 0;

    while (pos < n) {
        size_t seg_end = n;
        char *ip;
        size_t ileft;

        if (cv->ascii_ok) {
            size_t run = ascii_run(in + pos, n - pos);

            if (run) {
                buf_stage_add(o, in + pos, run);
                pos += run;
                continue;
            }
            /* the non-ASCII run plus a few bytes: trail bytes may be ASCII */
            seg_end = pos;
            while (seg_end < n && in[seg_end] >= 0x80)
                seg_end++;
            seg_end = n - seg_end > 3 ? seg_end + 3 : n;
        }
        ip = (char *)(uintptr_t)(in + pos);
        ileft = seg_end - pos;
        while (ileft > 0) {
            char *op;
            size_t oleft, r, start;

            if (BUF_STAGE_SIZE - o->n < 64)
                buf_stage_flush(o);
            op = o->s + o->n;
            oleft = BUF_STAGE_SIZE - o->n;
            start = o->n;
            r = iconv(cv->cd, &ip, &ileft, &op, &oleft);
            o->n = (size_t)(op - o->s);
            iconv_clean(o, start);
            if (r != (size_t)-1)
                break;
            if (errno == E2BIG) {
                buf_stage_flush(o);
            } else if (errno == EINVAL && seg_end < n) {
                /* incomplete inside the input: give iconv more */
                size_t more = n - seg_end < CS_WINDOW ? n - seg_end : CS_WINDOW;

                seg_end += more;
                ileft += more;
            } else if (errno == EINVAL && !final && ileft <= CS_CARRY_MAX) {
                break;                  /* incomplete at the end: carried */
            } else if (errno == EINVAL && final) {
                buf_stage_add(o, fffd, 3);  /* incomplete at the very end */
                ip += ileft;
                ileft = 0;
            } else {
                /* EILSEQ (or anything else): one replacement, skip a byte
                 * (a code unit in UTF-16/32, so the rest stays aligned) */
                size_t skip = ileft < cv->unit ? ileft : cv->unit;

                buf_stage_add(o, fffd, 3);
                ip += skip;
                ileft -= skip;
            }
        }
        pos = (size_t)((const unsigned char *)ip - in);
        if (ileft > 0)
            break;
        if (cv->flush_segments || final)
            iconv_drain(cv, o);
    }
    return pos;
}

/* decode_block - convert in[0..n); return the bytes consumed (rest is incomplete) */
static size_t decode_block(struct charset_conv *cv, const unsigned char *in, size_t n,
                           int final, struct buf_stage *o)
{
    if (cv->kind == CS_ICONV)
        return decode_iconv(cv, in, n, final, o);
    return decode_native(cv, in, n, final, o);
}

/* name_clean - trim and check a charset name into dst (lowercase); 0 or -1 */
static int name_clean(const char *name, char *dst, size_t dstsize)
{
    size_t len, i;

    while (*name == ' ' || *name == '\t' || *name == '"' || *name == '\'')
        name++;
    len = strlen(name);
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t' ||
                       name[len - 1] == '"' || name[len - 1] == '\''))
        len--;
    if (len >= dstsize)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!(isascii(c) && isalnum(c)) && c != '-' && c != '_' && c != '.' &&
            c != ':' && c != '+' && c != '(' && c != ')')
            return -1;
        dst[i] = (char)tolower(c);
    }
    dst[len] = 0;
    return 0;
}

/* alias_cmp - bsearch comparison of a label with an alias entry */
static int alias_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct cs_alias *)elem)->label);
}

/* probe_ascii - 1 when every byte below 0x80 converts to itself, alone and in a run */
static int probe_ascii(iconv_t cd)
{
    char in[128], outb[512];
    char *ip = in, *op = outb;
    size_t ileft = sizeof(in), oleft = sizeof(outb);
    int ok;

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)i;
    ok = iconv(cd, &ip, &ileft, &op, &oleft) != (size_t)-1 && ileft == 0 &&
         iconv(cd, NULL, NULL, &op, &oleft) != (size_t)-1 &&
         (size_t)(op - outb) == sizeof(in) && memcmp(in, outb, sizeof(in)) == 0;
    iconv(cd, NULL, NULL, NULL, NULL);
    return ok;
}

/* charset_conv_new - a converter for charset (NULL or unknown: UTF-8/Windows-1252) */
struct charset_conv *charset_conv_new(const char *charset)
{
    struct charset_conv *cv = calloc(1, sizeof(*cv));
    char name[CS_NAME_MAX + 1];
    const struct cs_alias *a;
    const char *iname;

    if (cv == NULL)
        return NULL;
    cv->kind = CS_UNKNOWN;
    cv->cd = (iconv_t)-1;
    if (charset == NULL || name_clean(charset, name, sizeof(name)) < 0)
        return cv;
    a = bsearch(name, cs_aliases, sizeof(cs_aliases) / sizeof(cs_aliases[0]),
                sizeof(cs_aliases[0]), alias_cmp);
    if (a && a->kind != CS_ICONV) {
        cv->kind = a->kind;
        return cv;
    }
    iname = a ? a->iconv_name : name;
    cv->cd = iconv_open("UTF-8", iname);
    if (cv->cd == (iconv_t)-1 && a == NULL && strncmp(name, "x-", 2) == 0 && name[2])
        cv->cd = iconv_open("UTF-8", name + 2);
    if (cv->cd == (iconv_t)-1) {
        if (errno == ENOMEM) {
            free(cv);
            return NULL;
        }
        return cv;                      /* unknown to iconv */
    }
    cv->kind = CS_ICONV;
    /* stateful encodings: ASCII bytes may belong to a shifted character set */
    if (strstr(name, "2022") == NULL && strstr(name, "utf-7") == NULL &&
        strstr(name, "utf7") == NULL && strstr(name, "hz") == NULL)
        cv->ascii_ok = probe_ascii(cv->cd);
    cv->flush_segments = strcasestr(iname, "hkscs") != NULL;
    cv->unit = 1;
    if (strcasestr(iname, "utf-16") || strcasestr(iname, "utf16") ||
        strcasestr(iname, "ucs-2") || strcasestr(iname, "ucs2") || strcasestr(iname, "unicode"))
        cv->unit = 2;
    else if (strcasestr(iname, "utf-32") || strcasestr(iname, "utf32") ||
             strcasestr(iname, "ucs-4") || strcasestr(iname, "ucs4"))
        cv->unit = 4;
    return cv;
}

/* charset_conv_push - convert len more bytes, appending UTF-8 to out */
int charset_conv_push(struct charset_conv *cv, const char *in, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)in;
    struct buf_stage o;
    size_t c;

    buf_stage_init(&o, out);
    /* finish a sequence carried from the last push with the first new bytes */
    while (cv->ncarry > 0 && len > 0) {
        unsigned char tmp[CS_CARRY_MAX + CS_WINDOW];
        size_t k = len < CS_WINDOW ? len : CS_WINDOW, n = cv->ncarry + k;

        memcpy(tmp, cv->carry, cv->ncarry);
        memcpy(tmp + cv->ncarry, p, k);
        c = decode_block(cv, tmp, n, 0, &o);
        if (c >= cv->ncarry) {
            p += c - cv->ncarry;
            len -= c - cv->ncarry;
            cv->ncarry = 0;
        } else if (k == len && n - c <= CS_CARRY_MAX) {
            /* still incomplete and all new bytes used: carry the lot */
            memmove(cv->carry, tmp + c, n - c);
            cv->ncarry = n - c;
            len = 0;
        } else {
            /* cannot happen with real charsets: give up the first byte */
            buf_stage_add(&o, fffd, 3);
            memmove(cv->carry, cv->carry + 1, --cv->ncarry);
        }
    }
    if (len > 0) {
        c = decode_block(cv, p, len, 0, &o);
        /* the decoders leave at most CS_CARRY_MAX (UTF-8: 3) bytes */
        if (len - c > CS_CARRY_MAX)
            c = len - CS_CARRY_MAX;
        memcpy(cv->carry, p + c, len - c);
        cv->ncarry = len - c;
    }
    return buf_stage_flush(&o);
}

/* charset_conv_finish - end the text: an incomplete sequence becomes U+FFFD */
int charset_conv_finish(struct charset_conv *cv, struct buf *out)
{
    struct buf_stage o;

    buf_stage_init(&o, out);
    if (cv->ncarry > 0)
        decode_block(cv, cv->carry, cv->ncarry, 1, &o);
    cv->ncarry = 0;
    if (cv->kind == CS_ICONV) {
        iconv_drain(cv, &o);
        iconv(cv->cd, NULL, NULL, NULL, NULL);
    }
    return buf_stage_flush(&o);
}

/* charset_conv_unknown - 1 when the charset was absent or unknown */
int charset_conv_unknown(const struct charset_conv *cv)
{
    return cv->kind == CS_UNKNOWN;
}

/* charset_conv_free - release a converter (NULL is fine) */
void charset_conv_free(struct charset_conv *cv)
{
    if (cv == NULL)
        return;
    if (cv->cd != (iconv_t)-1)
        iconv_close(cv->cd);
    free(cv);
}

/* charset_to_utf8 - convert in from charset to UTF-8 in one go */
int charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
    struct charset_conv *cv = charset_conv_new(charset);
    int r;

    if (cv == NULL)
        return -1;
    r = charset_conv_push(cv, in, len, out);
    if (r == 0)
        r = charset_conv_finish(cv, out);
    charset_conv_free(cv);
    return r;
}
