/*
 * rules_cond_hdr - the header conditions (table entries in rules_cond.c;
 * helpers in rules_cond_int.h).
 *
 *   header_contains: {name: H, words: PHRASE | [PHRASE, ...]}
 *       a phrase occurs (as subject_contains matches, see keyword.h) in
 *       the decoded value of a top-level header field named H (any case)
 *   header_matches: {name: H, patterns: PATTERN | [PATTERN, ...]}
 *       a PCRE2 pattern matches such a decoded value
 *   subject_matches: PATTERN | [PATTERN, ...]
 *       a PCRE2 pattern matches the decoded subject
 *
 * Each is unknown when it did not hold but header fields were dropped or
 * cut (MSG_INC_HEADERS), or a pattern hit the match limit.  Parsers report
 * at the node and return -1; the compiled data is released by
 * cond_hdr_free().  Explain excerpts name the header and show the match
 * with at most RULES_EXCERPT_CONTEXT characters either side.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/keyword.h"
#include "rules/rules_cond_int.h"
#include "rules/text_norm.h"

#define HDR_NAME_MAX 76
#define HDR_NORM_MAX (16u * 1024 * 1024)

struct hdr_cond {
    char *name;
    struct kw_set *ks;        /* header_contains */
    struct re_set *re;        /* header_matches */
};

/* cond_hdr_free - release a header condition */
void cond_hdr_free(struct rule_cond *c)
{
    struct hdr_cond *h = c->data;

    if (h != NULL) {
        free(h->name);
        kw_set_free(h->ks);
        re_set_free(h->re);
        free(h);
    }
    c->data = NULL;
}

/* hdr_name_ok - printable ASCII without ':' or space, at most 76 bytes */
static int hdr_name_ok(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F || *s == ':')
            return 0;
    return n > 0 && n <= HDR_NAME_MAX;
}

/* hdr_parse - {name: H, LISTKEY: ...} for header_contains / header_matches */
static int hdr_parse(const char *what, const char *listkey, struct rule_cond *c,
                     const struct ynode *arg, struct diag *d)
{
    const char *keys[] = { "name", listkey };
    const struct ynode *name, *list;
    struct hdr_cond *h;
    int bad = 0;

    if (arg->type != YNODE_MAP) {
        ynode_error(d, arg, "%s: expected {name: HEADER, %s: [...]}, not %s", what, listkey,
                    ynode_kind(arg));
        return -1;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    c->data = h;
    if (ymap_check_keys(arg, what, keys, 2, d) > 0)
        bad = 1;
    if ((name = ymap_get(arg, "name")) == NULL) {
        ynode_error(d, arg, "%s: missing 'name'", what);
        bad = 1;
    } else if (!ynode_is_string(name) || !hdr_name_ok(name->value)) {
        if (name->type == YNODE_SCALAR)
            ynode_error(d, name, "%s: invalid header name '%s' (printable ASCII without ':', "
                        "at most %d characters)", what, name->value, HDR_NAME_MAX);
        else
            ynode_error(d, name, "%s: name: expected a header name, not %s", what,
                        ynode_kind(name));
        bad = 1;
    } else if ((h->name = strdup(name->value)) == NULL) {
        ynode_error(d, name, "%s: out of memory", what);
        bad = 1;
    }
    if ((list = ymap_get(arg, listkey)) == NULL) {
        ynode_error(d, arg, "%s: missing '%s'", what, listkey);
        bad = 1;
    } else if (strcmp(listkey, "words") == 0) {
        if ((h->ks = rules_kw_parse(what, list, d)) == NULL)
            bad = 1;
    } else if (re_set_parse(what, list, &h->re, d) < 0) {
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* hdr_find - the first top-level header named like h whose value matches:
 * 1 (*hit, the match at norm or value [*at, *at + *mlen), norm filled for
 * phrases), 0 none, 2 a pattern hit its limit, -1 fault */
static int hdr_find(const struct hdr_cond *h, struct rules_ctx *ctx,
                    const struct msg_header **hit, struct buf *norm, size_t *at, size_t *mlen)
{
    const struct msg_part *root = ctx->m ? ctx->m->root : NULL;
    int limited = 0;

    for (size_t i = 0; root != NULL && i < root->nheaders; i++) {
        const struct msg_header *hd = &root->headers[i];
        const char *v = hd->value ? hd->value : "";
        int m;

        if (hd->name == NULL || strcasecmp(hd->name, h->name) != 0)
            continue;
        if (h->ks != NULL) {
            buf_reset(norm);
            if (text_norm(v, strlen(v), norm) < 0) {
                ctx->fault = errno ? errno : ENOMEM;
                return -1;
            }
            m = kw_find(h->ks, buf_str(norm), norm->len, at, mlen) >= 0;
        } else {
            m = re_set_match(h->re, ctx, v, strlen(v), at, mlen);
        }
        if (m < 0)
            return -1;
        if (m == 1) {
            *hit = hd;
            return 1;
        }
        if (m == 2)
            limited = 1;
    }
    return limited ? 2 : 0;
}

/* hdr_eval - TRUE on a match, else UNKNOWN when header fields were lost */
static enum rules_tri hdr_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    struct buf norm = BUF_INIT(HDR_NORM_MAX);
    const struct msg_header *hd;
    size_t at, mlen;
    int m = hdr_find(c->data, ctx, &hd, &norm, &at, &mlen);
    enum rules_tri t;

    buf_free(&norm);
    if (m == 1)
        return TRI_TRUE;
    if (m < 0)
        return TRI_FALSE;
    t = rules_ctx_unknown(ctx, MSG_INC_HEADERS, inc);
    return m == 2 ? TRI_UNKNOWN : t;
}

/* hdr_explain - "Name: " and the match with context */
static int hdr_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct hdr_cond *h = c->data;
    struct buf norm = BUF_INIT(HDR_NORM_MAX);
    const struct msg_header *hd;
    size_t at = 0, mlen = 0;
    int m = hdr_find(h, ctx, &hd, &norm, &at, &mlen), r = 0;

    if (m == 1) {
        const char *v = h->ks ? buf_str(&norm) : (hd->value ? hd->value : "");
        size_t len = h->ks ? norm.len : strlen(v);

        r = buf_printf(out, "%s: ", hd->name) < 0 || rules_excerpt(out, v, len, at, mlen) < 0
            ? -1 : 0;
    } else if (m < 0) {
        r = -1;
    }
    buf_free(&norm);
    return r;
}

/* cond_hdr_contains_parse - header_contains: {name, words} */
int cond_hdr_contains_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return hdr_parse("header_contains", "words", c, arg, d);
}

/* cond_hdr_contains_eval - does a phrase occur in the header? */
enum rules_tri cond_hdr_contains_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                      unsigned *inc)
{
    return hdr_eval(c, ctx, inc);
}

/* cond_hdr_contains_explain - the header and the phrase */
int cond_hdr_contains_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return hdr_explain(c, ctx, out);
}

/* cond_hdr_matches_parse - header_matches: {name, patterns} */
int cond_hdr_matches_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return hdr_parse("header_matches", "patterns", c, arg, d);
}

/* cond_hdr_matches_eval - does a pattern match the header? */
enum rules_tri cond_hdr_matches_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                     unsigned *inc)
{
    return hdr_eval(c, ctx, inc);
}

/* cond_hdr_matches_explain - the header and the match */
int cond_hdr_matches_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return hdr_explain(c, ctx, out);
}

/* cond_subj_matches_eval - does a pattern match the decoded subject? */
enum rules_tri cond_subj_matches_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                      unsigned *inc)
{
    const char *s = ctx->m && ctx->m->subject ? ctx->m->subject : "";
    int m = re_set_match(c->data, ctx, s, strlen(s), NULL, NULL);

    if (m == 1)
        return TRI_TRUE;
    if (m == 2)
        return TRI_UNKNOWN;
    if (m < 0)
        return TRI_FALSE;
    return rules_ctx_unknown(ctx, MSG_INC_HEADERS, inc);
}

/* cond_subj_matches_explain - the match in the subject */
int cond_subj_matches_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const char *s = ctx->m && ctx->m->subject ? ctx->m->subject : "";
    size_t at, mlen;
    int m = re_set_match(c->data, ctx, s, strlen(s), &at, &mlen);

    if (m != 1)
        return m < 0 ? -1 : 0;
    return rules_excerpt(out, s, strlen(s), at, mlen);
}
