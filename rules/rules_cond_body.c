/*
 * rules_cond_body - the body text conditions (table entries in
 * rules_cond.c; matched while the model is built by rules_scan.c).
 *
 *   body_contains: PHRASE | [PHRASE, ...]
 *       a phrase occurs in the decoded text of a part that is not an
 *       attachment (plain text, and HTML reduced to text)
 *   subject_or_body_contains: PHRASE | [PHRASE, ...]
 *       ... in the decoded subject or in that text
 *   attachment_contains: PHRASE | [PHRASE, ...]
 *       ... in the decoded text of an attachment (text types only)
 *   body_matches: PATTERN | [PATTERN, ...]
 *   subject_or_body_matches: PATTERN | [PATTERN, ...]
 *   attachment_matches: PATTERN | [PATTERN, ...]
 *       as the three above, with PCRE2 patterns (compiled once at load,
 *       caseless, JIT, the match limit of rules_match.c) instead of phrases
 *
 * Patterns see the same text as phrases: the normal form of text_norm()
 * (lowercase, white space runs as one space, HTML already reduced to
 * text), so a pattern is written for lowercase text with single spaces.
 * The scan runs them over a sliding window per part: each chunk together
 * with the last RULES_SCAN_CARRY (4 KiB) bytes of the part's normal form
 * before it; a match longer than that overlap may be missed, and ^ and $
 * are the ends of the window, not of the text.  A pattern stops being run
 * once it matched.  A pattern that hit the match limit and matched nowhere
 * else makes its condition unknown (MSG_INC_SCAN).
 *
 * Phrases match as for subject_contains (keyword.h), on text in normal
 * form, across the chunks the model delivers.  A condition that did not
 * match is unknown when text was not delivered whole (MSG_INC_SCAN) or the
 * MIME tree was cut (MSG_INC_DEPTH, _PARTS, _SIZE) or holds an unread part
 * (MSG_INC_OPAQUE); subject_or_body also when header fields were cut
 * (MSG_INC_HEADERS).  The evaluation needs the
 * scan whose sink built the model; without one (NULL) no text was seen.
 * Parsers report at the node and return -1; cond_body_free() releases.
 * Excerpts: the matched phrase with at most RULES_EXCERPT_CONTEXT
 * characters either side, as recorded during the scan.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/keyword.h"
#include "rules/rules_cond_int.h"

#define BODY_CUT (MSG_INC_SCAN | MSG_INC_DEPTH | MSG_INC_PARTS | MSG_INC_SIZE | \
                  MSG_INC_OPAQUE)

/* cond_body_free - release a body condition */
void cond_body_free(struct rule_cond *c)
{
    struct body_cond *b = c->data;

    if (b != NULL) {
        kw_set_free(b->ks);
        re_set_free(b->re);
        free(b);
    }
    c->data = NULL;
}

/* rules_cond_is_body - is c a body condition? */
int rules_cond_is_body(const struct rule_cond *c)
{
    return c->kind != NULL && c->kind->free == cond_body_free;
}

/* body_parse - a phrase or a list of phrases */
static int body_parse(const char *what, enum body_target target, struct rule_cond *c,
                      const struct ynode *arg, struct diag *d)
{
    struct body_cond *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    b->target = target;
    c->data = b;
    return (b->ks = rules_kw_parse(what, arg, d)) == NULL ? -1 : 0;
}

/* body_re_parse - a pattern or a list of patterns */
static int body_re_parse(const char *what, enum body_target target, struct rule_cond *c,
                         const struct ynode *arg, struct diag *d)
{
    struct body_cond *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    b->target = target;
    c->data = b;
    return re_set_parse_opt(what, arg, 1, &b->re, d);
}

/* subject_find - the subject's first match of b (1), none (0), undecided
 * (2), or -1 with ctx->fault; the normal-form subject in *sp */
static int subject_find(const struct body_cond *b, struct rules_ctx *ctx,
                        const struct buf **sp, size_t *at, size_t *mlen)
{
    const struct buf *s = rules_ctx_subject(ctx);

    *sp = s;
    if (s == NULL)
        return -1;
    if (b->re != NULL)
        return re_set_match(b->re, ctx, buf_str(s), s->len, at, mlen);
    return rules_ctx_subject_find(ctx, b->sslot, at, mlen);
}

/* cond_body_eval - did the scan find a phrase or pattern?  (every body
 * condition: see the table in rules_cond.c) */
enum rules_tri cond_body_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                              unsigned *inc)
{
    const struct body_cond *b = c->data;
    unsigned bits = BODY_CUT;
    int r, limited = 0;

    if (b->target == BODY_SUBJECT_OR_TEXT) {
        const struct buf *s;
        size_t at, mlen;

        r = subject_find(b, ctx, &s, &at, &mlen);
        if (r < 0)
            return TRI_FALSE;
        if (r == 1)
            return TRI_TRUE;
        limited = r == 2;
        bits |= MSG_INC_HEADERS;
    }
    r = rules_scan_result(ctx->scan, b->slot, NULL);
    if (r < 0) {
        ctx->fault = errno ? errno : ENOMEM;
        return TRI_FALSE;
    }
    if (r == 1)
        return TRI_TRUE;
    if (r == 2 || limited) {
        *inc |= MSG_INC_SCAN;
        return TRI_UNKNOWN;
    }
    return rules_ctx_unknown(ctx, bits, inc);
}

/* cond_body_explain - the excerpt recorded during the scan (or the
 * subject's), for every body condition */
int cond_body_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct body_cond *b = c->data;
    const char *ex = NULL;

    if (b->target == BODY_SUBJECT_OR_TEXT) {
        const struct buf *s;
        size_t at, mlen;
        int r = subject_find(b, ctx, &s, &at, &mlen);

        if (r < 0)
            return -1;
        if (r == 1)
            return buf_adds(out, "subject: ") < 0 ? -1
                : rules_excerpt(out, buf_str(s), s->len, at, mlen);
    }
    if (rules_scan_result(ctx->scan, b->slot, &ex) == 1 && ex != NULL)
        return buf_adds(out, ex);
    return 0;
}

/* cond_body_parse - body_contains */
int cond_body_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_parse("body_contains", BODY_TEXT, c, arg, d);
}

/* cond_subj_body_parse - subject_or_body_contains */
int cond_subj_body_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_parse("subject_or_body_contains", BODY_SUBJECT_OR_TEXT, c, arg, d);
}

/* cond_att_text_parse - attachment_contains */
int cond_att_text_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_parse("attachment_contains", BODY_ATTACHMENT, c, arg, d);
}

/* cond_body_re_parse - body_matches */
int cond_body_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_re_parse("body_matches", BODY_TEXT, c, arg, d);
}

/* cond_subj_body_re_parse - subject_or_body_matches */
int cond_subj_body_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_re_parse("subject_or_body_matches", BODY_SUBJECT_OR_TEXT, c, arg, d);
}

/* cond_att_re_parse - attachment_matches */
int cond_att_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return body_re_parse("attachment_matches", BODY_ATTACHMENT, c, arg, d);
}

