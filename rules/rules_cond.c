/*
 * rules_cond - the table of condition kinds: for each, the parser that
 * compiles its YAML argument and the three-valued evaluator.
 *
 * Interface: rules_cond_kinds[] / rules_ncond_kinds (see rules_int.h).
 * Compiled data hangs off struct rule_cond and is released by the kind's
 * free function.  Parsers report every problem at the offending node and
 * return -1; evaluators never fail except through ctx->fault (ENOMEM while
 * normalising text).
 *
 *   subject_contains: PHRASE | [PHRASE, ...]
 *       a phrase occurs in the decoded Subject (see keyword.h); unknown
 *       when it does not but header fields were dropped (MSG_INC_HEADERS)
 *   recipient_scope: internal | external | [internal, external]
 *       some recipient is internal (external); never unknown
 *
 * The envelope, attachment and size conditions are in rules_cond_env.c,
 * the header conditions in rules_cond_hdr.c, the body text conditions in
 * rules_cond_body.c, sensitive_info in rules_cond_sens.c.
 *
 * The explain functions (rules_set_explain()) describe a TRUE condition in
 * a short excerpt: never a whole header, at most RULES_EXCERPT_CONTEXT
 * characters either side of the matched phrase.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/keyword.h"
#include "rules/rules_cond_int.h"

struct subj_cond {
    struct kw_set *ks;
    size_t sslot;             /* subject slot: the ruleset scans the subject once */
};

/* kw_item - add one phrase node to ks */
static int kw_item(const char *what, struct kw_set *ks, const struct ynode *item, struct diag *d)
{
    if (rules_text_ok(item, what, KW_MAX_PHRASE, RULES_TEXT_TAB, d) < 0)
        return -1;
    if (kw_add(ks, item->value, item->len) == 0)
        return 0;
    if (errno == EINVAL)
        ynode_error(d, item, "%s: phrase '%s' has no visible characters", what, item->value);
    else if (errno == EOVERFLOW || errno == E2BIG)
        ynode_error(d, item, "%s: phrase too long", what);
    else
        ynode_error(d, item, "%s: out of memory", what);
    return -1;
}

/* rules_bool_parse - a condition that takes true or false: c->arg 1 or 0 */
int rules_bool_parse(const char *what, struct rule_cond *c, const struct ynode *arg,
                     struct diag *d)
{
    int v;

    if (ynode_bool(arg, &v) < 0) {
        if (arg->type == YNODE_SCALAR)
            ynode_error(d, arg, "%s: expected true or false, not '%s'", what, arg->value);
        else
            ynode_error(d, arg, "%s: expected true or false, not %s", what, ynode_kind(arg));
        return -1;
    }
    c->arg = v != 0;
    return 0;
}

/* rules_kw_parse - a phrase or a non-empty list of phrases */
struct kw_set *rules_kw_parse(const char *what, const struct ynode *arg, struct diag *d)
{
    struct kw_set *ks = kw_set_new();
    int bad = 0;

    if (ks == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return NULL;
    }
    if (arg->type == YNODE_SEQ) {
        if (arg->n == 0) {
            ynode_error(d, arg, "%s: expected at least one phrase", what);
            bad = 1;
        }
        for (size_t i = 0; i < arg->n; i++)
            if (kw_item(what, ks, arg->items[i], d) < 0)
                bad = 1;
    } else if (arg->type == YNODE_SCALAR) {
        bad = kw_item(what, ks, arg, d) < 0;
    } else {
        ynode_error(d, arg, "%s: expected a phrase or a list of phrases, not %s", what,
                    ynode_kind(arg));
        bad = 1;
    }
    if (bad) {
        kw_set_free(ks);
        return NULL;
    }
    return ks;
}

/* cond_subject_parse - a phrase or a list of phrases */
static int cond_subject_parse(struct rule_cond *c, const struct ynode *arg,
                              struct diag *d)
{
    struct subj_cond *sc = calloc(1, sizeof(*sc));

    if (sc == NULL) {
        ynode_error(d, arg, "subject_contains: out of memory");
        return -1;
    }
    if ((sc->ks = rules_kw_parse("subject_contains", arg, d)) == NULL) {
        free(sc);
        return -1;
    }
    c->data = sc;
    return 0;
}

/* cond_subject_eval - does a phrase occur in the subject? */
static enum rules_tri cond_subject_eval(const struct rule_cond *c,
                                        struct rules_ctx *ctx, unsigned *inc)
{
    const struct subj_cond *sc = c->data;
    size_t at, mlen;
    int r = rules_ctx_subject_find(ctx, sc->sslot, &at, &mlen);

    if (r < 0)
        return TRI_FALSE;
    if (r == 1)
        return TRI_TRUE;
    if (ctx->m != NULL && (ctx->m->incomplete & MSG_INC_HEADERS)) {
        *inc |= MSG_INC_HEADERS;
        return TRI_UNKNOWN;
    }
    return TRI_FALSE;
}

/* cond_subject_explain - the matched phrase with a little context */
static int cond_subject_explain(const struct rule_cond *c, struct rules_ctx *ctx,
                                struct buf *out)
{
    const struct subj_cond *sc = c->data;
    const struct buf *s = rules_ctx_subject(ctx);
    size_t at, mlen;
    int r = rules_ctx_subject_find(ctx, sc->sslot, &at, &mlen);

    if (s == NULL || r < 0)
        return -1;
    if (r == 0)
        return 0;
    return rules_excerpt(out, buf_str(s), s->len, at, mlen);
}

/* cond_subject_free - release the phrase set */
static void cond_subject_free(struct rule_cond *c)
{
    struct subj_cond *sc = c->data;

    if (sc != NULL)
        kw_set_free(sc->ks);
    free(sc);
    c->data = NULL;
}

/* rules_cond_subject_kw - the subject phrases of c and its slot's place */
struct kw_set *rules_cond_subject_kw(const struct rule_cond *c, size_t **sslot)
{
    if (c->kind != NULL && c->kind->free == cond_subject_free) {
        struct subj_cond *sc = c->data;

        *sslot = &sc->sslot;
        return sc->ks;
    }
    if (rules_cond_is_body(c)) {
        struct body_cond *b = c->data;

        if (b->target == BODY_SUBJECT_OR_TEXT && b->ks != NULL) {
            *sslot = &b->sslot;
            return b->ks;
        }
    }
    return NULL;
}

#define SCOPE_INTERNAL 0x1u
#define SCOPE_EXTERNAL 0x2u

/* cond_scope_word - one of internal/external */
static int cond_scope_word(const struct ynode *n, unsigned *bits, struct diag *d)
{
    if (ynode_is_string(n) && strcmp(n->value, "internal") == 0) {
        *bits |= SCOPE_INTERNAL;
        return 0;
    }
    if (ynode_is_string(n) && strcmp(n->value, "external") == 0) {
        *bits |= SCOPE_EXTERNAL;
        return 0;
    }
    if (n->type == YNODE_SCALAR)
        ynode_error(d, n, "recipient_scope: expected internal or external, not '%s'",
                    n->value);
    else
        ynode_error(d, n, "recipient_scope: expected internal or external, not %s",
                    ynode_kind(n));
    return -1;
}

/* cond_scope_parse - internal, external, or a list of them */
static int cond_scope_parse(struct rule_cond *c, const struct ynode *arg,
                            struct diag *d)
{
    unsigned bits = 0;
    int bad = 0;

    if (arg->type == YNODE_SEQ) {
        if (arg->n == 0) {
            ynode_error(d, arg, "recipient_scope: expected internal or external, not an empty list");
            bad = 1;
        }
        for (size_t i = 0; i < arg->n; i++)
            if (cond_scope_word(arg->items[i], &bits, d) < 0)
                bad = 1;
    } else {
        bad = cond_scope_word(arg, &bits, d) < 0;
    }
    c->arg = bits;
    return bad ? -1 : 0;
}

/* cond_scope_eval - is some recipient of the wanted scope? */
static enum rules_tri cond_scope_eval(const struct rule_cond *c,
                                      struct rules_ctx *ctx, unsigned *inc)
{
    (void)inc;
    if (ctx->env == NULL)
        return TRI_FALSE;
    for (size_t i = 0; i < ctx->env->nrcpts; i++) {
        unsigned want = ctx->env->rcpts[i].external ? SCOPE_EXTERNAL : SCOPE_INTERNAL;

        if (c->arg & want)
            return TRI_TRUE;
    }
    return TRI_FALSE;
}

/* cond_scope_explain - the first recipient of the wanted scope */
static int cond_scope_explain(const struct rule_cond *c, struct rules_ctx *ctx,
                              struct buf *out)
{
    if (ctx->env == NULL)
        return 0;
    for (size_t i = 0; i < ctx->env->nrcpts; i++) {
        const struct msg_rcpt *r = &ctx->env->rcpts[i];
        unsigned want = r->external ? SCOPE_EXTERNAL : SCOPE_INTERNAL;

        if (c->arg & want)
            return buf_printf(out, "%s recipient %.200s", r->external ? "external" : "internal",
                              r->addr ? r->addr : "");
    }
    return 0;
}

const struct rules_cond_kind rules_cond_kinds[] = {
    { "subject_contains", cond_subject_parse, cond_subject_eval, cond_subject_free,
      cond_subject_explain },
    { "recipient_scope", cond_scope_parse, cond_scope_eval, NULL, cond_scope_explain },
#define COND(name, p, fr) { name, p##_parse, p##_eval, fr, p##_explain }
#define COND_RE(name, p) { name, cond_patterns_parse, p##_eval, cond_free_re, p##_explain }
#define COND_BODY(name, parse) { name, parse, cond_body_eval, cond_body_free, cond_body_explain }
    COND("sender_is", cond_sender_is, cond_free_list),
    COND("sender_domain_is", cond_sender_domain, cond_free_list),
    COND_RE("sender_matches", cond_sender_matches),
    COND("sender_scope", cond_sender_scope, NULL),
    COND("recipient_is", cond_rcpt_is, cond_free_list),
    COND("recipient_domain_is", cond_rcpt_domain, cond_free_list),
    COND_RE("recipient_matches", cond_rcpt_matches),
    COND("has_attachment", cond_has_att, NULL),
    COND_RE("attachment_name_matches", cond_att_name),
    COND("attachment_extension_is", cond_att_ext, cond_free_list),
    COND("attachment_type_is", cond_att_type, cond_free_list),
    COND("attachment_size_over", cond_att_size, cond_free_data),
    COND("size_over", cond_size, cond_free_data),
    COND("header_contains", cond_hdr_contains, cond_hdr_free),
    COND("header_matches", cond_hdr_matches, cond_hdr_free),
    COND_RE("subject_matches", cond_subj_matches),
    COND_BODY("body_contains", cond_body_parse),
    COND_BODY("subject_or_body_contains", cond_subj_body_parse),
    COND_BODY("attachment_contains", cond_att_text_parse),
    COND_BODY("body_matches", cond_body_re_parse),
    COND_BODY("subject_or_body_matches", cond_subj_body_re_parse),
    COND_BODY("attachment_matches", cond_att_re_parse),
    COND("already_encrypted", cond_enc, NULL),
    COND("sensitive_info", cond_sens, cond_sens_free),
#undef COND
};
const size_t rules_ncond_kinds = sizeof(rules_cond_kinds) / sizeof(rules_cond_kinds[0]);
