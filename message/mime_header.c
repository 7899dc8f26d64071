/*
 * mime_header - MIME header values and header blocks, parsed without I/O
 * (see mime_header.h).
 *
 * Interface: mime_params_parse(), mime_ctype_parse(), mime_disp_parse(),
 * mime_cte_parse(), mime_unfold(), and the header block collector
 * mime_hdrs_*().  Results own their strings; free them with the matching
 * *_free().  Only memory exhaustion fails (-1, errno ENOMEM); bad input is
 * parsed leniently and reported in flags.
 *
 * Parameter values are read in two passes: first every "name=value" is
 * collected as written (quotes removed, escapes applied, RFC 2231 section
 * number and '*' noted); then each name is resolved once: RFC 2231 sections
 * are joined in section order, %XX-decoded where marked and converted from
 * their charset; plain values are decoded with rfc2047_decode() when they
 * carry encoded words or 8-bit bytes.  An RFC 2231 value wins over a plain
 * one of the same name; of duplicates the first wins.  Control characters
 * in values become spaces.  "boundary" is kept byte for byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message/charset.h"
#include "message/mime_header.h"
#include "message/rfc2047.h"

#define RAWP_MAX 128              /* name=value items read per field value */
#define SECTION_NUM_MAX 9999      /* highest RFC 2231 section number accepted */

/* one name=value as written */
struct rawp {
    char *name;                   /* lowercase base name */
    char *value;                  /* unquoted bytes */
    size_t len;
    int section;                  /* RFC 2231 section, -1 when none */
    int ext;                      /* RFC 2231 extended (charset'lang'%XX) */
    int done;
};

/* mime_hdrs.mode: what the rest of the current line, and its continuations, are */
enum {
    M_SKIP,                       /* not part of a field: skipped */
    M_FIELD,                      /* part of the field in cur */
    M_DROP                        /* part of a field over max_headers: skipped */
};

/* is_wsp - white space inside a structured value, folding included */
static int is_wsp(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_tspecial - RFC 2045 tspecials */
static int is_tspecial(int c)
{
    return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* is_token - RFC 2045 token character */
static int is_token(int c)
{
    return c > 32 && c < 127 && !is_tspecial(c);
}

/* lower - ASCII lowercase */
static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* skip_cfws - skip white space and (nested) comments from i */
static size_t skip_cfws(const char *s, size_t len, size_t i)
{
    while (i < len) {
        if (is_wsp((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '(') {
            size_t depth = 0;

            while (i < len) {
                if (s[i] == '\\' && i + 1 < len) {
                    i += 2;
                    continue;
                }
                if (s[i] == '(')
                    depth++;
                else if (s[i] == ')' && --depth == 0) {
                    i++;
                    break;
                }
                i++;
            }
        } else {
            break;
        }
    }
    return i;
}

/* skip_to_semi - move past junk to the next ';' outside quotes and comments */
static size_t skip_to_semi(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] != ';') {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\' && i + 1 < len)
                    i++;
            if (i < len)
                i++;
        } else if (s[i] == '(') {
            i = skip_cfws(s, len, i);
        } else {
            i++;
        }
    }
    return i;
}

/* cap_add - append up to the buffer's room; note truncation in *flags */
static int cap_add(struct buf *b, const char *s, size_t n, unsigned *flags)
{
    size_t room = b->max - b->len;

    if (n > room) {
        n = room;
        *flags |= MIME_PF_TRUNCATED;
    }
    return n ? buf_add(b, s, n) : 0;
}

/* read_quoted - read a quoted string at s[i] == '"' into v; returns the index after it */
static size_t read_quoted(const char *s, size_t len, size_t i, struct buf *v,
                          unsigned *flags, int *err)
{
    for (i++; i < len && s[i] != '"'; i++) {
        const char *c = s + i;

        if (*c == '\\' && i + 1 < len)
            c = s + ++i;
        else if (*c == '\r' || *c == '\n')
            continue;
        if (cap_add(v, c, 1, flags) < 0) {
            *err = 1;
            return len;
        }
    }
    if (i < len)
        i++;
    else
        *flags |= MIME_PF_SYNTAX;
    return i;
}

/* read_value - read a parameter value (quoted, or lenient unquoted words) */
static size_t read_value(const char *s, size_t len, size_t i, struct buf *v,
                         unsigned *flags, int *err)
{
    int words = 0;

    if (i < len && s[i] == '"') {
        i = read_quoted(s, len, i, v, flags, err);
        if (*err)
            return len;
        i = skip_cfws(s, len, i);
        if (i < len && s[i] != ';')
            *flags |= MIME_PF_SYNTAX;
        return skip_to_semi(s, len, i);
    }
    /* Unquoted: RFC 2045 wants a token, mail has "a b.pdf" and "==_x": take
     * words up to ';', comments removed, joined by one space. */
    for (;;) {
        size_t st;

        i = skip_cfws(s, len, i);
        if (i >= len || s[i] == ';')
            break;
        if (words++ && cap_add(v, " ", 1, flags) < 0)
            goto fail;
        if (s[i] == '"') {
            i = read_quoted(s, len, i, v, flags, err);
            if (*err)
                return len;
            continue;
        }
        for (st = i; i < len && s[i] != ';' && s[i] != '(' && s[i] != '"' &&
             !is_wsp((unsigned char)s[i]); i++)
            ;
        if (cap_add(v, s + st, i - st, flags) < 0)
            goto fail;
    }
    return i;
fail:
    *err = 1;
    return len;
}

/* rawp_name - split "name*3*" into base name, section and extended flag */
static int rawp_name(struct rawp *r, const char *s, size_t n)
{
    size_t k;

    r->section = -1;
    r->ext = 0;
    if (n > 0 && s[n - 1] == '*') {
        r->ext = 1;
        n--;
    }
    for (k = n; k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9'; k--)
        ;
    if (k > 1 && k < n && s[k - 1] == '*') {
        long sec = 0;
        size_t j;

        for (j = k; j < n && sec <= SECTION_NUM_MAX; j++)
            sec = sec * 10 + (s[j] - '0');
        if (sec > SECTION_NUM_MAX)
            return 1;
        r->section = (int)sec;
        n = k - 1;
    }
    if (n == 0)
        return 1;
    if ((r->name = malloc(n + 1)) == NULL)
        return -1;
    for (k = 0; k < n; k++)
        r->name[k] = (char)lower((unsigned char)s[k]);
    r->name[n] = 0;
    return 0;
}

/* rawp_free - release collected items */
static void rawp_free(struct rawp *r, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].value);
    }
    free(r);
}

/* pct_decode - append s with %XX decoded (malformed escapes kept) */
static int pct_decode(const char *s, size_t n, struct buf *out, unsigned *flags)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%' && i + 2 < n && hex_value((unsigned char)s[i + 1]) >= 0 &&
            hex_value((unsigned char)s[i + 2]) >= 0) {
            c = (char)(hex_value((unsigned char)s[i + 1]) * 16 + hex_value((unsigned char)s[i + 2]));
            i += 2;
        }
        if (cap_add(out, &c, 1, flags) < 0)
            return -1;
    }
    return 0;
}

/* needs_decode - 1 when a plain value has encoded words or 8-bit bytes */
static int needs_decode(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
            return 1;
    return 0;
}

/* decoded_value - convert in to UTF-8 as value text; charset NULL: plain rules */
static int decoded_value(const char *charset, const char *in, size_t n, int raw,
                         struct buf *out, unsigned *flags)
{
    int r;

    if (raw)
        return cap_add(out, in, n, flags);
    if (charset != NULL && *charset != 0)
        r = charset_to_utf8(charset, in, n, out);
    else if (!needs_decode(in, n))
        return cap_add(out, in, n, flags);
    else
        r = rfc2047_decode(in, n, out);
    if (r < 0 && errno == EOVERFLOW) {
        /* cannot happen with the sizes used; keep the bytes as written */
        *flags |= MIME_PF_TRUNCATED;
        buf_free(out);
        return cap_add(out, in, n, flags);
    }
    return r;
}

/* finish_value - make a parameter value string: controls to spaces, capped at a UTF-8 boundary */
static char *finish_value(struct buf *v, unsigned *flags)
{
    size_t i, n = v->len;

    if (n > MIME_PARAM_VALUE_MAX) {
        n = MIME_PARAM_VALUE_MAX;
        while (n > 0 && ((unsigned char)v->data[n] & 0xC0) == 0x80)
            n--;
        buf_truncate(v, n);
        *flags |= MIME_PF_TRUNCATED;
    }
    for (i = 0; i < v->len; i++)
        if ((unsigned char)v->data[i] < 0x20 || v->data[i] == 0x7f)
            v->data[i] = ' ';
    return buf_steal(v);
}

/* join_2231 - join the RFC 2231 items of one name into a UTF-8 value */
static int join_2231(struct rawp *r, size_t nr, size_t first, struct buf *out, unsigned *flags)
{
    struct buf bytes = BUF_INIT(MIME_PARAM_VALUE_MAX);
    size_t idx[MIME_2231_SECTIONS_MAX];
    size_t n = 0, i, k, lone = SIZE_MAX;
    char charset[MIME_TOKEN_MAX + 1] = "";
    int rc;

    for (i = first; i < nr; i++) {
        if (r[i].done || strcmp(r[i].name, r[first].name) != 0)
            continue;
        if (r[i].section < 0 && !r[i].ext)
            continue;                           /* the plain form: ignored */
        r[i].done = 1;
        if (r[i].section < 0) {
            if (lone == SIZE_MAX)
                lone = i;
            continue;
        }
        for (k = 0; k < n && r[idx[k]].section != r[i].section; k++)
            ;
        if (k < n)
            continue;                           /* duplicate section: first wins */
        if (n == MIME_2231_SECTIONS_MAX) {
            *flags |= MIME_PF_TRUNCATED;
            continue;
        }
        /* insertion into section order */
        for (k = n; k > 0 && r[idx[k - 1]].section > r[i].section; k--)
            idx[k] = idx[k - 1];
        idx[k] = i;
        n++;
    }
    if (n == 0)
        idx[n++] = lone;
    for (k = 0; k < n; k++) {
        struct rawp *p = &r[idx[k]];
        const char *v = p->value;
        size_t vl = p->len;

        if (p->ext && k == 0) {
            const char *q1 = memchr(v, '\'', vl), *q2;

            if (q1 != NULL && (q2 = memchr(q1 + 1, '\'', vl - (size_t)(q1 + 1 - v))) != NULL) {
                size_t cl = (size_t)(q1 - v);

                if (cl > MIME_TOKEN_MAX)
                    cl = MIME_TOKEN_MAX;
                memcpy(charset, v, cl);
                charset[cl] = 0;
                vl -= (size_t)(q2 + 1 - v);
                v = q2 + 1;
            }
        }
        rc = p->ext ? pct_decode(v, vl, &bytes, flags) : cap_add(&bytes, v, vl, flags);
        if (rc < 0)
            return -1;
    }
    rc = decoded_value(charset, buf_str(&bytes), bytes.len, 0, out, flags);
    buf_free(&bytes);
    return rc;
}

/* mime_params_parse - parse "; name=value ..." (leading junk skipped) */
int mime_params_parse(const char *s, size_t len, struct mime_params *ps)
{
    struct rawp *r = NULL;
    size_t nr = 0, i = 0, k;
    int err = 0;

    memset(ps, 0, sizeof(*ps));
    if (s == NULL)
        return 0;
    if ((r = calloc(RAWP_MAX, sizeof(*r))) == NULL)
        return -1;
    while (i < len) {
        struct buf v = BUF_INIT(MIME_PARAM_VALUE_MAX);
        size_t st, ne;
        int rc;

        i = skip_cfws(s, len, i);
        if (i >= len)
            break;
        if (s[i] == ';') {
            i++;
            continue;
        }
        for (st = i; i < len && (is_token((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80); i++)
            ;
        ne = i;
        k = skip_cfws(s, len, i);
        if (i == st || i - st > MIME_TOKEN_MAX || k >= len || s[k] != '=') {
            ps->flags |= MIME_PF_SYNTAX;
            i = skip_to_semi(s, len, i);
            continue;
        }
        i = read_value(s, len, skip_cfws(s, len, k + 1), &v, &ps->flags, &err);
        if (err)
            goto fail;
        if (nr == RAWP_MAX) {
            ps->flags |= MIME_PF_TRUNCATED;
            buf_free(&v);
            continue;
        }
        if ((rc = rawp_name(&r[nr], s + st, ne - st)) != 0) {
            buf_free(&v);
            if (rc < 0)
                goto fail;
            ps->flags |= MIME_PF_SYNTAX;
            continue;
        }
        r[nr].len = v.len;
        r[nr].value = buf_steal(&v);
        if (r[nr].value == NULL) {
            free(r[nr].name);
            r[nr].name = NULL;
            goto fail;
        }
        nr++;
    }
    if (nr > 0 && (ps->v = calloc(MIME_PARAMS_MAX, sizeof(*ps->v))) == NULL)
        goto fail;
    for (i = 0; i < nr; i++) {
        struct buf out = BUF_INIT(4 * MIME_PARAM_VALUE_MAX + 64);
        int rc = 0;

        if (r[i].done)
            continue;
        if (mime_params_get(ps, r[i].name) != NULL) {
            r[i].done = 1;
            continue;
        }
        if (ps->n == MIME_PARAMS_MAX) {
            ps->flags |= MIME_PF_TRUNCATED;
            break;
        }
        for (k = i; k < nr; k++)
            if (!r[k].done && (r[k].section >= 0 || r[k].ext) && strcmp(r[k].name, r[i].name) == 0)
                break;
        if (k < nr) {
            rc = join_2231(r, nr, i, &out, &ps->flags);
        } else {
            rc = decoded_value(NULL, r[i].value, r[i].len, strcmp(r[i].name, "boundary") == 0,
                               &out, &ps->flags);
            r[i].done = 1;
        }
        if (rc < 0)
            goto fail;
        ps->v[ps->n].value = finish_value(&out, &ps->flags);
        ps->v[ps->n].name = strdup(r[i].name);
        if (ps->v[ps->n].value == NULL || ps->v[ps->n].name == NULL) {
            ps->n++;
            goto fail;
        }
        ps->n++;
    }
    rawp_free(r, nr);
    return 0;
fail:
    rawp_free(r, nr);
    mime_params_free(ps);
    errno = ENOMEM;
    return -1;
}

/* mime_params_get - the value of parameter name (lowercase), NULL when absent */
const char *mime_params_get(const struct mime_params *ps, const char *name)
{
    size_t i;

    for (i = 0; i < ps->n; i++)
        /* the first ps->n names are set; the analyzer assumes a stale n */
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
        if (strcmp(ps->v[i].name, name) == 0)
            return ps->v[i].value;
    return NULL;
}

/* mime_params_free - release the parameters */
void mime_params_free(struct mime_params *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++) {
        free(ps->v[i].name);
        free(ps->v[i].value);
    }
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

/* read_token - the token at s[i] (strict RFC 2045 characters); returns its end */
static size_t read_token(const char *s, size_t len, size_t i)
{
    while (i < len && is_token((unsigned char)s[i]))
        i++;
    return i;
}

/* lower_dup - lowercase copy of s[0..n) */
static char *lower_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    size_t i;

    if (d == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        d[i] = (char)lower((unsigned char)s[i]);
    d[n] = 0;
    return d;
}

/* mime_ctype_parse - parse a Content-Type value, applying the RFC 2045 default */
int mime_ctype_parse(const char *value, size_t len, int digest, struct mime_ctype *ct)
{
    const char *deflt = digest ? "message/rfc822" : "text/plain";
    size_t t0, t1, s0, s1, i;

    memset(ct, 0, sizeof(*ct));
    if (value == NULL) {
        ct->flags = MIME_CT_ABSENT;
        return (ct->type = strdup(deflt)) == NULL ? -1 : 0;
    }
    t0 = skip_cfws(value, len, 0);
    t1 = read_token(value, len, t0);
    i = skip_cfws(value, len, t1);
    s0 = s1 = i;
    if (i < len && value[i] == '/') {
        s0 = skip_cfws(value, len, i + 1);
        s1 = read_token(value, len, s0);
        i = s1;
    }
    if (t1 == t0 || s1 == s0 || t1 - t0 + s1 - s0 + 1 > MIME_TOKEN_MAX) {
        ct->flags |= MIME_CT_INVALID;
    } else if ((ct->type = malloc(t1 - t0 + s1 - s0 + 2)) != NULL) {
        size_t k, n = 0;

        for (k = t0; k < t1; k++)
            ct->type[n++] = (char)lower((unsigned char)value[k]);
        ct->type[n++] = '/';
        for (k = s0; k < s1; k++)
            ct->type[n++] = (char)lower((unsigned char)value[k]);
        ct->type[n] = 0;
    } else {
        return -1;
    }
    i = skip_cfws(value, len, i);
    if (i < len && value[i] != ';')
        ct->flags |= MIME_PF_SYNTAX;
    if (mime_params_parse(value + i, len - i, &ct->params) < 0) {
        mime_ctype_free(ct);
        return -1;
    }
    ct->flags |= ct->params.flags;
    if (ct->type != NULL && strncmp(ct->type, "multipart/", 10) == 0) {
        const char *b = mime_params_get(&ct->params, "boundary");

        if (b == NULL || *b == 0 || strlen(b) > MIME_BOUNDARY_MAX) {
            ct->flags |= MIME_CT_INVALID;
            free(ct->type);
            ct->type = NULL;
        } else {
            ct->boundary = b;
        }
    }
    if (ct->type == NULL && (ct->type = strdup(deflt)) == NULL) {
        mime_ctype_free(ct);
        return -1;
    }
    ct->charset = mime_params_get(&ct->params, "charset");
    return 0;
}

/* mime_ctype_free - release a parsed Content-Type */
void mime_ctype_free(struct mime_ctype *ct)
{
    free(ct->type);
    ct->type = NULL;
    ct->boundary = NULL;
    ct->charset = NULL;
    mime_params_free(&ct->params);
}

/* mime_disp_parse - parse a Content-Disposition value */
int mime_disp_parse(const char *value, size_t len, struct mime_disp *d)
{
    size_t t0, t1, i;

    memset(d, 0, sizeof(*d));
    if (value == NULL)
        return 0;
    t0 = skip_cfws(value, len, 0);
    t1 = read_token(value, len, t0);
    i = skip_cfws(value, len, t1);
    if (i < len && value[i] == '=') {
        /* "Content-Disposition: filename=x": no type, only parameters */
        d->flags |= MIME_PF_SYNTAX;
        i = t0;
    } else if (t1 > t0 && t1 - t0 <= MIME_TOKEN_MAX) {
        if ((d->type = lower_dup(value + t0, t1 - t0)) == NULL)
            return -1;
    } else if (t1 > t0) {
        d->flags |= MIME_PF_TRUNCATED;
    }
    if (mime_params_parse(value + i, len - i, &d->params) < 0) {
        mime_disp_free(d);
        return -1;
    }
    d->flags |= d->params.flags;
    return 0;
}

/* mime_disp_free - release a parsed Content-Disposition */
void mime_disp_free(struct mime_disp *d)
{
    free(d->type);
    d->type = NULL;
    mime_params_free(&d->params);
}

/* mime_cte_parse - classify a Content-Transfer-Encoding value */
enum mime_cte mime_cte_parse(const char *value, size_t len, char name[MIME_CTE_NAME_MAX])
{
    static const struct {
        const char *name;
        enum mime_cte cte;
    } known[] = {
        { "7bit", MIME_CTE_7BIT },
        { "8bit", MIME_CTE_8BIT },
        { "binary", MIME_CTE_BINARY },
        { "quoted-printable", MIME_CTE_QP },
        { "base64", MIME_CTE_BASE64 },
    };
    size_t i = 0, n = 0, k;

    if (value != NULL) {
        i = skip_cfws(value, len, 0);
        while (i < len && n + 1 < MIME_CTE_NAME_MAX && value[i] != ';' && value[i] != '(' &&
               !is_wsp((unsigned char)value[i]) && (unsigned char)value[i] >= 0x20)
            name[n++] = (char)lower((unsigned char)value[i++]);
    }
    name[n] = 0;
    if (n == 0) {
        memcpy(name, "7bit", 5);
        return MIME_CTE_7BIT;
    }
    for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
        if (strcmp(name, known[k].name) == 0)
            return known[k].cte;
    return MIME_CTE_OTHER;
}

/* mime_unfold - drop CR and LF, trim white space at both ends */
int mime_unfold(const char *s, size_t len, struct buf *out)
{
    size_t b = 0, e = len, i, st;

    while (b < e && is_wsp((unsigned char)s[b]))
        b++;
    while (e > b && is_wsp((unsigned char)s[e - 1]))
        e--;
    for (i = b; i < e; i = st) {
        for (st = i; st < e && s[st] != '\r' && s[st] != '\n'; st++)
            ;
        if (st > i && buf_add(out, s + i, st - i) < 0)
            return -1;
        while (st < e && (s[st] == '\r' || s[st] == '\n'))
            st++;
    }
    return 0;
}

/* mime_hdrs_init - an empty header block collector */
void mime_hdrs_init(struct mime_hdrs *h, size_t max_headers, size_t max_len, int mbox)
{
    memset(h, 0, sizeof(*h));
    h->max_headers = max_headers;
    h->max_len = max_len;
    h->mbox = mbox;
    h->mode = M_SKIP;
    buf_init(&h->cur, max_len);
}

/* hdrs_add - append to the current field, cut at max_len, NUL bytes removed */
static int hdrs_add(struct mime_hdrs *h, const char *s, size_t n)
{
    while (n > 0) {
        const char *z = memchr(s, 0, n);
        size_t seg = z ? (size_t)(z - s) : n;
        size_t take = seg, room = h->max_len - h->cur.len;

        if (take > room) {
            take = room;
            h->flags |= MIME_HF_TOO_LONG;
        }
        if (take > 0 && buf_add(&h->cur, s, take) < 0)
            return -1;
        if (z != NULL) {
            h->flags |= MIME_HF_NUL;
            seg++;
        }
        s += seg;
        n -= seg;
    }
    return 0;
}

/* strip_eol - length of s without its line break, which goes to eol */
static size_t strip_eol(const char *s, size_t len, char eol[2], unsigned *eol_len)
{
    *eol_len = 0;
    if (len > 0 && s[len - 1] == '\n') {
        if (len > 1 && s[len - 2] == '\r') {
            eol[0] = '\r';
            eol[1] = '\n';
            *eol_len = 2;
        } else {
            eol[0] = '\n';
            *eol_len = 1;
        }
    }
    return len - *eol_len;
}

/* hdrs_store - move the collected field into the list */
static int hdrs_store(struct mime_hdrs *h)
{
    struct mime_hdr *f;
    size_t nl;

    if (h->mode != M_FIELD)
        return 0;
    h->mode = M_SKIP;
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        struct mime_hdr *v;

        if (ncap > h->max_headers)
            ncap = h->max_headers;
        if ((v = realloc(h->v, ncap * sizeof(*v))) == NULL)
            return -1;
        h->v = v;
        h->cap = ncap;
    }
    nl = h->name_len < h->cur.len ? h->name_len : h->cur.len;
    f = &h->v[h->n];
    f->name = strndup(buf_str(&h->cur), nl);
    f->raw = strdup(h->cur.len > nl + 1 ? h->cur.data + nl + 1 : "");
    buf_reset(&h->cur);
    if (f->name == NULL || f->raw == NULL) {
        free(f->name);
        free(f->raw);
        errno = ENOMEM;
        return -1;
    }
    h->n++;
    return 0;
}

/* is_ftext - RFC 5322 field name character */
static int is_ftext(int c)
{
    return c > 32 && c < 127 && c != ':';
}

/* mime_hdrs_feed - take one line (or a piece of one) of a header block */
int mime_hdrs_feed(struct mime_hdrs *h, const char *s, size_t len, int bol)
{
    char eol[2];
    unsigned el;
    size_t cl = strip_eol(s, len, eol, &el), n, j;
    int first;

    if (!bol) {
        if (h->mode != M_FIELD)
            return 0;
        if (hdrs_add(h, s, cl) < 0)
            return -1;
        memcpy(h->eol, eol, el);
        h->eol_len = el;
        return 0;
    }
    for (n = 0; n < cl && (s[n] == ' ' || s[n] == '\t'); n++)
        ;
    if (h->lines == 0 && cl > 0 && n == cl) {
        /* white space only before the first field (seen in real mail): skip */
        h->flags |= MIME_HF_BAD_LINE;
        h->mode = M_SKIP;
        return 0;
    }
    first = h->lines++ == 0;
    if (len > 0 && (s[0] == ' ' || s[0] == '\t') && !first) {
        /* continuation: keep the line break it folds */
        if (h->mode == M_DROP)
            return 0;
        if (h->mode != M_FIELD) {
            h->flags |= MIME_HF_BAD_LINE;
            return 0;
        }
        if (hdrs_add(h, h->eol, h->eol_len) < 0 || hdrs_add(h, s, cl) < 0)
            return -1;
        memcpy(h->eol, eol, el);
        h->eol_len = el;
        return 0;
    }
    if (hdrs_store(h) < 0)
        return -1;
    h->mode = M_SKIP;
    h->eol_len = 0;
    for (n = 0; n < cl && is_ftext((unsigned char)s[n]); n++)
        ;
    for (j = n; j < cl && (s[j] == ' ' || s[j] == '\t'); j++)
        ;
    if (n > 0 && j < cl && s[j] == ':') {
        if (h->n >= h->max_headers) {
            h->flags |= MIME_HF_TOO_MANY;
            h->mode = M_DROP;
            return 0;
        }
        h->mode = M_FIELD;
        h->name_len = n;
        buf_reset(&h->cur);
        if (hdrs_add(h, s, n) < 0 || hdrs_add(h, ":", 1) < 0 ||
            hdrs_add(h, s + j + 1, cl - j - 1) < 0)
            return -1;
        memcpy(h->eol, eol, el);
        h->eol_len = el;
        return 0;
    }
    if (first) {
        if (h->mbox && cl >= 5 && memcmp(s, "From ", 5) == 0) {
            h->flags |= MIME_HF_MBOX;
            return 0;
        }
        h->lines = 0;
        return MIME_HDRS_BODY;
    }
    h->flags |= MIME_HF_BAD_LINE;
    return 0;
}

/* mime_hdrs_end - the block is complete: store the last field */
int mime_hdrs_end(struct mime_hdrs *h)
{
    int r = hdrs_store(h);

    buf_free(&h->cur);
    h->eol_len = 0;
    return r;
}

/* mime_hdrs_find - the nth (from 0) field called name (any case), NULL when none */
const struct mime_hdr *mime_hdrs_find(const struct mime_hdrs *h, const char *name, size_t nth)
{
    size_t i;

    for (i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0 && nth-- == 0)
            return &h->v[i];
    return NULL;
}

/* mime_hdrs_parse - one shot: parse a whole header block */
int mime_hdrs_parse(const char *s, size_t len, struct mime_hdrs *h, size_t *body)
{
    size_t i = 0;

    while (i < len) {
        const char *e = memchr(s + i, '\n', len - i);
        size_t l = e ? (size_t)(e - (s + i)) + 1 : len - i;
        int r;

        if ((l == 1 && s[i] == '\n') || (l == 2 && s[i] == '\r' && s[i + 1] == '\n')) {
            i += l;
            break;
        }
        if ((r = mime_hdrs_feed(h, s + i, l, 1)) < 0)
            return -1;
        if (r == MIME_HDRS_BODY)
            break;
        i += l;
    }
    *body = i;
    return mime_hdrs_end(h);
}

/* mime_hdrs_free - release fields and state; the limits stay */
void mime_hdrs_free(struct mime_hdrs *h)
{
    size_t i;

    for (i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].raw);
    }
    free(h->v);
    buf_free(&h->cur);
    h->v = NULL;
    h->n = h->cap = 0;
    h->flags = 0;
    h->mode = M_SKIP;
    h->eol_len = 0;
    h->lines = 0;
}
