/*
 * rules_eval - deciding what to do with a message: the evaluation of a
 * ruleset against a model, envelope and scan state (rules_scan.c), and the
 * result (see rules.h).
 *
 * Rules are visited in priority order (the ruleset is sorted at load).  A
 * rule is FALSE outside its active: period (against the ruleset's clock,
 * read once per evaluation); otherwise it is the three-valued
 *     if: AND (OR of the if_any: groups, each an AND) AND NOT (OR of unless:)
 * (Kleene logic: FALSE AND x is FALSE, TRUE OR x is TRUE, NOT UNKNOWN is
 * UNKNOWN, so an undecided exception leaves an otherwise TRUE rule
 * UNKNOWN).  TRUE enforce rules add their actions (in action table
 * order) and name; with stop they end the evaluation.  TRUE audit rules
 * only add their name to audited.  An UNKNOWN enforce rule with actions is
 * resolved by the on_incomplete policy: encrypt applies its protective
 * actions (reject, quarantine, encrypt) as if it had matched; reject
 * rejects with a fixed 5xx reply (unless a reject was already decided).
 * An UNKNOWN rule never stops the evaluation: not stopping is the
 * protective choice.  res->incomplete gets the MSG_INC_* bits of UNKNOWN
 * rules that changed the result.  The first reject is res->reject; the first
 * encrypt sets res->encrypt and its template res->encrypt_template (a
 * message is encrypted once, with the template of the first rule).
 *
 * With rules_set_explain() the evaluator also records evidence: for each
 * TRUE rule every condition with its kind's excerpt, and for an UNKNOWN
 * rule the policy acted on its undecided conditions, naming the limits.
 * The conditions are evaluated again for that, only in this mode.
 *
 * The result's arrays are allocated here and released by
 * rules_result_free(); its strings and res->reject point into the ruleset
 * (or to a static action), which must outlive the result.  The only
 * failure is ENOMEM (rules_eval() returns -1, res is left empty).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/keyword.h"
#include "rules/rules_cond_int.h"
#include "rules/text_norm.h"

#define RULES_SUBJECT_NORM_MAX (64u * 1024 * 1024)

static const struct rule_action rules_incomplete_reject = {
    .kind = ACT_REJECT,
    .rule = "policy.on_incomplete",
    .code = 550,
    .status = "5.7.1",
    .text = "Message could not be fully checked by the mail encryption gateway",
};

/* rules_ctx_subject - the subject in normal form, computed once */
const struct buf *rules_ctx_subject(struct rules_ctx *ctx)
{
    const char *s;

    if (ctx->have_subject)
        return &ctx->subject;
    s = ctx->m && ctx->m->subject ? ctx->m->subject : "";
    buf_init(&ctx->subject, RULES_SUBJECT_NORM_MAX);
    if (text_norm(s, strlen(s), &ctx->subject) < 0) {
        ctx->fault = errno ? errno : ENOMEM;
        return NULL;
    }
    ctx->have_subject = 1;
    return &ctx->subject;
}

struct subj_scan {
    struct rules_subj_hit *hit;
};

/* subj_on_hit - the first occurrence of each subject slot's phrases */
static int subj_on_hit(void *arg, size_t owner, size_t at, size_t mlen)
{
    struct rules_subj_hit *h = &((struct subj_scan *)arg)->hit[owner];

    if (!h->found) {
        h->found = 1;
        h->at = at;
        h->len = mlen;
    }
    return 0;
}

/* rules_ctx_subject_find - the subject slot's first occurrence, from one
 * scan of the subject for every slot */
int rules_ctx_subject_find(struct rules_ctx *ctx, size_t sslot, size_t *at, size_t *mlen)
{
    if (ctx->subj == NULL) {
        const struct buf *s = rules_ctx_subject(ctx);
        struct kw_scratch *own = NULL, *sc = rules_scan_scratch(ctx->scan);
        struct subj_scan ss;
        int r;

        if (s == NULL)
            return -1;
        if ((ss.hit = calloc(ctx->rs->nsubj ? ctx->rs->nsubj : 1, sizeof(*ss.hit))) == NULL
            || (sc == NULL && (sc = own = kw_scratch_new(ctx->rs->kw_subject)) == NULL)) {
            free(ss.hit);
            ctx->fault = ENOMEM;
            return -1;
        }
        r = kw_multi_scan(ctx->rs->kw_subject, sc, buf_str(s), s->len, subj_on_hit, &ss);
        kw_scratch_free(own);
        if (r < 0) {
            free(ss.hit);
            ctx->fault = errno ? errno : EIO;
            return -1;
        }
        ctx->subj = ss.hit;
    }
    if (sslot >= ctx->rs->nsubj || !ctx->subj[sslot].found)
        return 0;
    *at = ctx->subj[sslot].at;
    *mlen = ctx->subj[sslot].len;
    return 1;
}

/* conds_and - three-valued AND of conditions (TRUE for none); the bits of
 * UNKNOWN ones go to *inc */
static enum rules_tri conds_and(const struct rule_cond *conds, size_t n,
                                struct rules_ctx *ctx, unsigned *inc)
{
    enum rules_tri res = TRI_TRUE;

    for (size_t i = 0; i < n; i++) {
        const struct rule_cond *c = &conds[i];
        unsigned ci = 0;
        enum rules_tri t = c->kind->eval(c, ctx, &ci);

        if (ctx->fault)
            return TRI_FALSE;
        if (t == TRI_FALSE)
            return TRI_FALSE;
        if (t == TRI_UNKNOWN) {
            res = TRI_UNKNOWN;
            *inc |= ci;
        }
    }
    return res;
}

/* conds_or - three-valued OR of conditions (FALSE for none) */
static enum rules_tri conds_or(const struct rule_cond *conds, size_t n,
                               struct rules_ctx *ctx, unsigned *inc)
{
    enum rules_tri res = TRI_FALSE;

    for (size_t i = 0; i < n; i++) {
        const struct rule_cond *c = &conds[i];
        unsigned ci = 0;
        enum rules_tri t = c->kind->eval(c, ctx, &ci);

        if (ctx->fault)
            return TRI_FALSE;
        if (t == TRI_TRUE)
            return TRI_TRUE;
        if (t == TRI_UNKNOWN) {
            res = TRI_UNKNOWN;
            *inc |= ci;
        }
    }
    return res;
}

/* tri_and - three-valued AND of two values */
static enum rules_tri tri_and(enum rules_tri a, enum rules_tri b)
{
    if (a == TRI_FALSE || b == TRI_FALSE)
        return TRI_FALSE;
    return a == TRI_UNKNOWN || b == TRI_UNKNOWN ? TRI_UNKNOWN : TRI_TRUE;
}

/* rule_active - is now inside the rule's active: period? */
static int rule_active(const struct rule *r, time_t now)
{
    return (!r->has_from || now >= r->from) && (!r->has_until || now < r->until);
}

/* rule_eval - a rule's truth: if: AND (some if_any: group) AND NOT (some
 * unless: condition), FALSE outside its active: period */
static enum rules_tri rule_eval(const struct rule *r, struct rules_ctx *ctx,
                                unsigned *inc)
{
    enum rules_tri res;
    unsigned ri = 0;

    if (!rule_active(r, ctx->now))
        return TRI_FALSE;
    res = conds_and(r->conds, r->nconds, ctx, &ri);
    if (res != TRI_FALSE && r->nany > 0) {
        enum rules_tri any = TRI_FALSE;

        for (size_t g = 0; g < r->nany && any != TRI_TRUE && !ctx->fault; g++) {
            unsigned gi = 0;
            enum rules_tri t = conds_and(r->any[g].conds, r->any[g].nconds, ctx, &gi);

            if (t == TRI_TRUE)
                any = TRI_TRUE;
            else if (t == TRI_UNKNOWN) {
                any = TRI_UNKNOWN;
                ri |= gi;
            }
        }
        res = tri_and(res, any);
    }
    if (res != TRI_FALSE && r->nunless > 0 && !ctx->fault) {
        enum rules_tri u = conds_or(r->unless, r->nunless, ctx, &ri);

        res = tri_and(res, u == TRI_TRUE ? TRI_FALSE : u == TRI_FALSE ? TRI_TRUE : TRI_UNKNOWN);
    }
    if (ctx->fault)
        return TRI_FALSE;
    if (res == TRI_UNKNOWN)
        *inc |= ri;
    return res;
}

/* rules_is_protective - actions applied for an undecidable rule */
static int rules_is_protective(enum rule_action_kind kind)
{
    for (size_t i = 0; i < rules_naction_kinds; i++)
        if (rules_action_kinds[i].kind == kind)
            return rules_action_kinds[i].protective;
    return kind == ACT_ENCRYPT;
}

/* res_add_action - record one action of a rule */
static void res_add_action(struct rules_result *res, const struct rule_action *a)
{
    res->actions[res->nactions++] = *a;
    if (a->kind == ACT_REJECT && res->reject == NULL)
        res->reject = a;
    else if (a->kind == ACT_QUARANTINE)
        res->quarantine = 1;
    else if (a->kind == ACT_ENCRYPT && !res->encrypt) {
        res->encrypt = 1;     /* once; the first rule's template wins */
        res->encrypt_template = a->value;
    }
}

/* inc_names - the MSG_INC_* bits as words: the limits, then an unread part */
static int inc_names(struct buf *b, unsigned inc)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        { MSG_INC_SIZE, "max_message_size" }, { MSG_INC_HEADERS, "max_headers/max_header_length" },
        { MSG_INC_DEPTH, "max_mime_depth" }, { MSG_INC_PARTS, "max_mime_parts" },
        { MSG_INC_SCAN, "scan_limit" },
    };
    int first = 1;

    if (buf_adds(b, "undecided: ") < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(inc & names[i].bit))
            continue;
        if (buf_printf(b, "%s%s", first ? "limit " : ", ", names[i].name) < 0)
            return -1;
        first = 0;
    }
    if ((inc & MSG_INC_OPAQUE) && buf_printf(b, "%sopaque_part", first ? "" : "; ") < 0)
        return -1;
    return 0;
}

/* res_explain_conds - record the evidence of conditions: the TRUE ones, or
 * (unknown) the UNKNOWN ones; 0, or -1 with ctx->fault set */
static int res_explain_conds(struct rules_result *res, const struct rule *r,
                             const struct rule_cond *conds, size_t n,
                             struct rules_ctx *ctx, int unknown)
{
    for (size_t i = 0; i < n; i++) {
        const struct rule_cond *c = &conds[i];
        struct buf ex = BUF_INIT(RULES_EXCERPT_MAX);
        struct rules_evidence *p;
        unsigned ci = 0;
        enum rules_tri t = c->kind->eval(c, ctx, &ci);
        int bad;

        if (ctx->fault)
            return -1;
        if (t != (unknown ? TRI_UNKNOWN : TRI_TRUE))
            continue;
        if (unknown)
            bad = inc_names(&ex, ci);
        else
            bad = c->kind->explain ? c->kind->explain(c, ctx, &ex) : 0;
        if (bad < 0 && ctx->fault == 0 && errno == EOVERFLOW) {
            buf_free(&ex);      /* too long to show: no excerpt */
            bad = 0;
        }
        p = bad < 0 ? NULL
            : realloc(res->evidence, (res->nevidence + 1) * sizeof(*res->evidence));
        if (p == NULL) {
            buf_free(&ex);
            if (ctx->fault == 0)
                ctx->fault = errno ? errno : ENOMEM;
            return -1;
        }
        res->evidence = p;
        p = &res->evidence[res->nevidence];
        if ((p->excerpt = buf_steal(&ex)) == NULL) {
            ctx->fault = ENOMEM;
            return -1;
        }
        p->rule = r->name;
        p->condition = c->kind->name;
        res->nevidence++;
    }
    return 0;
}

/* res_explain - record the evidence of rule r: the conditions of if: and
 * of the first if_any: group that hold, or (unknown) every undecided
 * condition of if:, if_any: and unless:; 0, or -1 with ctx->fault set */
static int res_explain(struct rules_result *res, const struct rule *r,
                       struct rules_ctx *ctx, int unknown)
{
    if (res_explain_conds(res, r, r->conds, r->nconds, ctx, unknown) < 0)
        return -1;
    for (size_t g = 0; g < r->nany; g++) {
        unsigned gi = 0;

        if (!unknown && conds_and(r->any[g].conds, r->any[g].nconds, ctx, &gi) != TRI_TRUE) {
            if (ctx->fault)
                return -1;
            continue;
        }
        if (res_explain_conds(res, r, r->any[g].conds, r->any[g].nconds, ctx, unknown) < 0)
            return -1;
        if (!unknown)
            break;
    }
    if (unknown && res_explain_conds(res, r, r->unless, r->nunless, ctx, 1) < 0)
        return -1;
    return 0;
}

/* rules_set_clock - evaluate active: periods against now() */
void rules_set_clock(struct ruleset *rs, time_t (*now)(void))
{
    if (rs != NULL)
        rs->clock = now;
}

/* rules_set_explain - switch evidence recording on or off for rs */
void rules_set_explain(struct ruleset *rs, int on)
{
    if (rs != NULL)
        rs->explain = on != 0;
}

/* rules_result_free - release a result's arrays */
void rules_result_free(struct rules_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->nevidence; i++)
        free(res->evidence[i].excerpt);
    free(res->evidence);
    free(res->matched);
    free(res->audited);
    free(res->actions);
    memset(res, 0, sizeof(*res));
}

/* rules_eval - evaluate every enabled rule against a message */
int rules_eval(const struct ruleset *rs, const struct msg_model *m,
               const struct msg_envelope *env, struct rules_scan *scan,
               enum rules_on_incomplete on_incomplete,
               struct rules_result *res)
{
    struct rules_ctx ctx;
    size_t n = rs ? rs->n : 0;

    memset(res, 0, sizeof(*res));
    if (n == 0)
        return 0;
    res->matched = calloc(n, sizeof(*res->matched));
    res->audited = calloc(n, sizeof(*res->audited));
    res->actions = calloc(rs->nactions + 1, sizeof(*res->actions));
    if (res->matched == NULL || res->audited == NULL || res->actions == NULL) {
        rules_result_free(res);
        errno = ENOMEM;
        return -1;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.rs = rs;
    ctx.now = rs->clock ? rs->clock() : time(NULL);
    ctx.m = m;
    ctx.env = env;
    ctx.scan = scan;
    for (size_t i = 0; i < n; i++) {
        const struct rule *r = &rs->rules[i];
        unsigned inc = 0;
        enum rules_tri t;

        if (!r->enabled)
            continue;
        t = rule_eval(r, &ctx, &inc);
        if (ctx.fault)
            break;
        if (t == TRI_TRUE && rs->explain && res_explain(res, r, &ctx, 0) < 0)
            break;
        if (t == TRI_TRUE && r->audit) {
            res->audited[res->naudited++] = r->name;
        } else if (t == TRI_TRUE) {
            res->matched[res->nmatched++] = r->name;
            for (size_t j = 0; j < r->nactions; j++)
                res_add_action(res, &r->actions[j]);
            if (r->stop)
                break;
        } else if (t == TRI_UNKNOWN && !r->audit && r->nactions > 0) {
            int acted = 0;

            if (on_incomplete == RULES_INCOMPLETE_REJECT) {
                if (res->reject == NULL) {
                    res->reject = &rules_incomplete_reject;
                    res->incomplete |= inc;
                    acted = 1;
                }
            } else {
                for (size_t j = 0; j < r->nactions; j++) {
                    if (rules_is_protective(r->actions[j].kind)) {
                        res_add_action(res, &r->actions[j]);
                        res->incomplete |= inc;
                        acted = 1;
                    }
                }
            }
            if (acted && rs->explain && res_explain(res, r, &ctx, 1) < 0)
                break;
        }
    }
    if (ctx.have_subject || ctx.subject.data)
        buf_free(&ctx.subject);
    rules_re_match_data_free(ctx.md);
    free(ctx.subj);
    if (ctx.fault) {
        rules_result_free(res);
        errno = ctx.fault;
        return -1;
    }
    return 0;
}
