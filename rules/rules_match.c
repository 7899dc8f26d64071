/*
 * rules_match - helpers of the condition modules: string lists, PCRE2
 * pattern sets, sizes and excerpts (see rules_cond_int.h).
 *
 * Patterns are compiled once at load in UTF mode (PCRE2_MATCH_INVALID_UTF,
 * so an address with bad bytes cannot make matching fail) and JIT-compiled
 * when the platform allows it (else the interpreter is used).  Matching uses
 * the ruleset's match context (RULES_MATCH_LIMIT, RULES_DEPTH_LIMIT) and
 * the evaluation's match data; a pattern that hits a limit is undecided,
 * never an error.  Everything parsed is owned by the returned object and
 * released by its free function; parsers report at the node and return -1.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/rules_cond_int.h"

/* str_list_free - release a string list */
void str_list_free(struct str_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l);
}

/* str_item - check and copy one item into l */
static int str_item(const char *what, const struct ynode *item, size_t max,
                    int (*check)(const char *, const struct ynode *, struct diag *),
                    struct str_list *l, struct diag *d)
{
    if (rules_text_ok(item, what, max, RULES_TEXT_TAB, d) < 0)
        return -1;
    if (check != NULL && check(what, item, d) < 0)
        return -1;
    if ((l->s[l->n] = strdup(item->value)) == NULL) {
        ynode_error(d, item, "%s: out of memory", what);
        return -1;
    }
    l->n++;
    return 0;
}

/* str_list_parse - a scalar or a non-empty list of scalars */
int str_list_parse(const char *what, const struct ynode *arg, size_t max,
                   int (*check)(const char *what, const struct ynode *item, struct diag *d),
                   struct str_list **out, struct diag *d)
{
    struct str_list *l = calloc(1, sizeof(*l));
    size_t n = arg->type == YNODE_SEQ ? arg->n : 1;
    int bad = 0;

    *out = NULL;
    if (l == NULL || (l->s = calloc(n ? n : 1, sizeof(*l->s))) == NULL) {
        free(l);
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    if (arg->type == YNODE_SEQ) {
        if (arg->n == 0) {
            ynode_error(d, arg, "%s: expected at least one value", what);
            bad = 1;
        }
        for (size_t i = 0; i < arg->n; i++)
            if (str_item(what, arg->items[i], max, check, l, d) < 0)
                bad = 1;
    } else if (arg->type == YNODE_MAP) {
        ynode_error(d, arg, "%s: expected a string or a list of strings, not a mapping", what);
        bad = 1;
    } else {
        bad = str_item(what, arg, max, check, l, d) < 0;
    }
    if (bad) {
        str_list_free(l);
        return -1;
    }
    *out = l;
    return 0;
}

/* re_set_free - release compiled patterns */
void re_set_free(struct re_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++) {
        pcre2_code_free(set->re[i]);
        free(set->src[i]);
    }
    free(set->re);
    free(set->src);
    free(set);
}

/* re_item - compile one pattern node into set */
static int re_item(const char *what, const struct ynode *item, uint32_t opts,
                   struct re_set *set, struct diag *d)
{
    pcre2_code *re;
    int err;
    PCRE2_SIZE off;

    if (rules_text_ok(item, what, RULES_PATTERN_MAX, RULES_TEXT_TAB, d) < 0)
        return -1;
    re = pcre2_compile((PCRE2_SPTR)item->value, item->len,
                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | opts, &err, &off, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];

        if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "unknown error");
        ynode_error(d, item, "%s: bad pattern at offset %zu: %s", what, (size_t)off,
                    (const char *)msg);
        return -1;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* the interpreter when it fails */
    if ((set->src[set->n] = strndup(item->value, item->len)) == NULL) {
        pcre2_code_free(re);
        ynode_error(d, item, "%s: out of memory", what);
        return -1;
    }
    set->re[set->n++] = re;
    return 0;
}

/* cond_patterns_parse - the parser of every "*_matches: PATTERN | [PATTERN, ...]" condition */
int cond_patterns_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    struct re_set *set;

    if (re_set_parse(c->kind->name, arg, &set, d) < 0)
        return -1;
    c->data = set;
    return 0;
}

/* re_set_parse - a pattern or a list of patterns */
int re_set_parse(const char *what, const struct ynode *arg, struct re_set **out,
                 struct diag *d)
{
    return re_set_parse_opt(what, arg, 0, out, d);
}

/* re_set_parse_opt - a pattern or a list of patterns, caseless or not */
int re_set_parse_opt(const char *what, const struct ynode *arg, int caseless,
                     struct re_set **out, struct diag *d)
{
    uint32_t opts = caseless ? PCRE2_CASELESS : 0;
    struct re_set *set = calloc(1, sizeof(*set));
    size_t n = arg->type == YNODE_SEQ ? arg->n : 1;
    int bad = 0;

    *out = NULL;
    if (set == NULL || (set->re = calloc(n ? n : 1, sizeof(*set->re))) == NULL
        || (set->src = calloc(n ? n : 1, sizeof(*set->src))) == NULL) {
        if (set != NULL)
            free(set->re);
        free(set);
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    set->caseless = caseless != 0;
    if (arg->type == YNODE_SEQ) {
        if (arg->n == 0) {
            ynode_error(d, arg, "%s: expected at least one pattern", what);
            bad = 1;
        }
        for (size_t i = 0; i < arg->n; i++)
            if (re_item(what, arg->items[i], opts, set, d) < 0)
                bad = 1;
    } else if (arg->type == YNODE_MAP) {
        ynode_error(d, arg, "%s: expected a pattern or a list of patterns, not a mapping", what);
        bad = 1;
    } else {
        bad = re_item(what, arg, opts, set, d) < 0;
    }
    if (bad) {
        re_set_free(set);
        return -1;
    }
    *out = set;
    return 0;
}

/* re_set_match - does a pattern match s? */
int re_set_match(const struct re_set *set, struct rules_ctx *ctx, const char *s,
                 size_t len, size_t *at, size_t *mlen)
{
    int limited = 0;

    if (ctx->md == NULL && (ctx->md = pcre2_match_data_create(1, NULL)) == NULL) {
        ctx->fault = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < set->n; i++) {
        int rc = pcre2_match(set->re[i], (PCRE2_SPTR)s, len, 0, 0, ctx->md,
                             ctx->rs ? ctx->rs->re_mctx : NULL);

        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->md);

            if (at != NULL) {
                *at = ov[0] <= len ? ov[0] : len;
                *mlen = ov[1] >= *at && ov[1] <= len ? ov[1] - *at : 0;
            }
            return 1;
        }
        if (rc == PCRE2_ERROR_NOMEMORY) {
            ctx->fault = ENOMEM;
            return -1;
        }
        if (rc != PCRE2_ERROR_NOMATCH)
            limited = 1;      /* match, depth or heap limit, JIT stack */
    }
    return limited ? 2 : 0;
}

/* rules_re_context - the match context with the ruleset's limits (NULL: ENOMEM) */
void *rules_re_context(void)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);

    if (mc != NULL) {
        pcre2_set_match_limit(mc, RULES_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, RULES_DEPTH_LIMIT);
    }
    return mc;
}

/* rules_re_context_free - release it */
void rules_re_context_free(void *mc)
{
    pcre2_match_context_free(mc);
}

/* rules_re_match_data_free - release an evaluation's match data */
void rules_re_match_data_free(void *md)
{
    pcre2_match_data_free(md);
}

/* rules_size_parse - a byte count with an optional unit */
int rules_size_parse(const char *s, uint64_t *out)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        { "", 1 }, { "b", 1 },
        { "k", 1ull << 10 }, { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
        { "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
        { "g", 1ull << 30 }, { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
    };
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

/* excerpt_back - start of the at most n characters before s[at] */
static size_t excerpt_back(const char *s, size_t at, size_t n)
{
    while (at > 0 && n > 0) {
        at--;
        while (at > 0 && ((unsigned char)s[at] & 0xC0) == 0x80)
            at--;
        n--;
    }
    return at;
}

/* excerpt_fwd - end of the at most n characters from s[at] */
static size_t excerpt_fwd(const char *s, size_t len, size_t at, size_t n)
{
    while (at < len && n > 0) {
        at++;
        while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80)
            at++;
        n--;
    }
    return at;
}

/* rules_excerpt - the match with a little context */
int rules_excerpt(struct buf *out, const char *s, size_t len, size_t at, size_t mlen)
{
    size_t from, to;

    if (at > len)
        at = len;
    if (mlen > len - at)
        mlen = len - at;
    from = excerpt_back(s, at, RULES_EXCERPT_CONTEXT);
    to = excerpt_fwd(s, len, at + mlen, RULES_EXCERPT_CONTEXT);
    if (mlen > RULES_EXCERPT_MAX / 2) {
        mlen = excerpt_back(s + at, RULES_EXCERPT_MAX / 2, 1);
        to = at + mlen;
    }
    if ((from > 0 && buf_adds(out, "...") < 0)
        || buf_add(out, s + from, at - from) < 0
        || buf_adds(out, ">>") < 0
        || buf_add(out, s + at, mlen) < 0
        || buf_adds(out, "<<") < 0
        || buf_add(out, s + at + mlen, to - at - mlen) < 0
        || (to < len && buf_adds(out, "...") < 0))
        return -1;
    return 0;
}

/* rules_ctx_unknown - UNKNOWN when one of bits limited the model */
enum rules_tri rules_ctx_unknown(struct rules_ctx *ctx, unsigned bits, unsigned *inc)
{
    unsigned hit = ctx->m != NULL ? ctx->m->incomplete & bits : 0;

    if (hit == 0)
        return TRI_FALSE;
    *inc |= hit;
    return TRI_UNKNOWN;
}
