/*
 * rules_cond_int - helpers shared by the condition modules (rules_cond.c,
 * rules_cond_env.c, rules_cond_hdr.c) and the functions of their table
 * entries.  Not for other modules.
 *
 * rules_match.c holds the helpers: lists of strings (a scalar or a list,
 * each item checked), compiled PCRE2 pattern sets (UTF mode, JIT, one
 * compile at load; matched with the ruleset's match context, which caps
 * the work per match, and the evaluation's match data), sizes ("10MB"),
 * and the excerpt writer of the explain functions.
 */
#ifndef MAILSEAL_RULES_RULES_COND_INT_H
#define MAILSEAL_RULES_RULES_COND_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rules/rules_int.h"

#define RULES_PATTERN_MAX 1024          /* bytes of a pattern as written */
#define RULES_MATCH_LIMIT 1000000u      /* PCRE2 match limit per match */
#define RULES_DEPTH_LIMIT 10000u        /* PCRE2 depth (backtracking memory) limit */

/* A list of strings as written (owned). */
struct str_list {
    char **s;
    size_t n;
};

/* Compiled patterns (owned). */
struct re_set {
    void **re;                /* pcre2_code_8 * */
    char **src;               /* the patterns as written (for re_prefilter.c) */
    size_t n;
    int caseless;
};

/* str_list_parse - a scalar or a non-empty list of scalars; each item is
 * checked by check (may be NULL: any string without control characters,
 * at most max bytes), which reports at the item and returns -1.  0, or -1
 * after reporting (*out is then NULL). */
int str_list_parse(const char *what, const struct ynode *arg, size_t max,
                   int (*check)(const char *what, const struct ynode *item, struct diag *d),
                   struct str_list **out, struct diag *d);
void str_list_free(struct str_list *l);

/* re_set_parse - a pattern or a list of patterns, each compiled once (bad
 * ones reported as "WHAT: bad pattern at offset N: MESSAGE" at the
 * scalar); 0, or -1 after reporting. */
int re_set_parse(const char *what, const struct ynode *arg, struct re_set **out,
                 struct diag *d);
/* re_set_parse_opt - re_set_parse(), caseless when caseless is not 0 */
int re_set_parse_opt(const char *what, const struct ynode *arg, int caseless,
                     struct re_set **out, struct diag *d);
void re_set_free(struct re_set *rs);
/* re_set_match - 1 when a pattern matches s[0..len) (the first match at
 * s[*at .. *at + *mlen) when at is not NULL), 0 when none does, 2 when a
 * pattern hit the match limit (undecided), -1 with ctx->fault on a fault. */
int re_set_match(const struct re_set *set, struct rules_ctx *ctx, const char *s,
                 size_t len, size_t *at, size_t *mlen);

/* The ruleset's match context (NULL: ENOMEM) and its release; the
 * release of an evaluation's match data (ctx->md). */
void *rules_re_context(void);
void rules_re_context_free(void *mc);
void rules_re_match_data_free(void *md);

/* rules_size_parse - "512", "64K", "10MB", "1GiB" (1K = 1024); 0 or -1 */
int rules_size_parse(const char *s, uint64_t *out);

/* rules_date_parse - "YYYY-MM-DD" (midnight UTC; with end_of_day the
 * midnight after) or ISO 8601 with time and zone; 0, or -1 (rules_date.c) */
int rules_date_parse(const char *s, int end_of_day, time_t *out);

/* rules_excerpt - s[at .. at+mlen) between >> and << with at most
 * RULES_EXCERPT_CONTEXT characters of context either side, "..." where
 * cut, the match itself cut to half of RULES_EXCERPT_MAX; 0 or -1. */
int rules_excerpt(struct buf *out, const char *s, size_t len, size_t at, size_t mlen);

/* rules_ctx_unknown - TRI_UNKNOWN with the bits of bits that are set in
 * the model's incomplete, else TRI_FALSE */
enum rules_tri rules_ctx_unknown(struct rules_ctx *ctx, unsigned bits, unsigned *inc);

/* A body condition (rules_cond_body.c), matched while the model is built
 * by the scan (rules_scan.c) in its slot. */
enum body_target { BODY_TEXT, BODY_SUBJECT_OR_TEXT, BODY_ATTACHMENT };
struct body_cond {
    size_t slot;              /* index in ruleset->scan_conds */
    size_t sslot;             /* subject slot (subject_or_body_contains) */
    enum body_target target;
    struct kw_set *ks;        /* the phrases of *_contains, NULL for *_matches */
    struct re_set *re;        /* the patterns of *_matches, NULL for *_contains */
};

/* rules_scan_result - 1 when body condition slot matched (its excerpt, if
 * the ruleset explains, in *excerpt), 2 when it did not but a pattern hit
 * the PCRE2 match limit on some window, 0, or -1 with errno when scanning
 * failed (rules_scan.c) */
int rules_scan_result(const struct rules_scan *scan, size_t slot, const char **excerpt);
/* rules_scan_pgp_inline - 1 when the first bytes of a text/plain body part
 * (not an attachment), after white space, were "-----BEGIN PGP MESSAGE-----" */
int rules_scan_pgp_inline(const struct rules_scan *scan);
/* rules_scan_scratch - the scan's scratch for the ruleset's phrase
 * matchers (body and subject), NULL when scan is NULL (rules_scan.c) */
struct kw_scratch;
struct kw_scratch *rules_scan_scratch(struct rules_scan *scan);
/* rules_scratch_pool_new - a lock-protected store of phrase matcher
 * scratches for a ruleset's scans to reuse (allocating a Hyperscan scratch
 * per message is costly); NULL: ENOMEM.  rules_scratch_pool_free() frees
 * the scratches in it, after every scan of the ruleset is freed
 * (rules_scan.c) */
struct rules_scratch_pool;
struct rules_scratch_pool *rules_scratch_pool_new(void);
void rules_scratch_pool_free(struct rules_scratch_pool *pool);
/* rules_bool_parse - true or false into c->arg (1 or 0); -1 after reporting
 * at arg, naming the condition what */
int rules_bool_parse(const char *what, struct rule_cond *c, const struct ynode *arg,
                     struct diag *d);
/* rules_kw_parse - a phrase or a non-empty list of phrases compiled into
 * a new set; NULL after reporting at the nodes (rules_cond.c) */
struct kw_set;
struct kw_set *rules_kw_parse(const char *what, const struct ynode *arg, struct diag *d);
/* rules_cond_is_body - is c a body condition? */
int rules_cond_is_body(const struct rule_cond *c);
/* rules_cond_subject_kw - the phrases c looks for in the subject
 * (subject_contains, subject_or_body_contains) and where its subject slot
 * is kept (*sslot), or NULL when c looks for none (rules_cond.c) */
struct kw_set *rules_cond_subject_kw(const struct rule_cond *c, size_t **sslot);

/* rules_scan_sens - the scan's detector state for sensitive_info (its open
 * part settled first) in *out, NULL when the ruleset uses none or there is
 * no scan; 0, or -1 with errno when scanning failed (rules_scan.c) */
struct sens_scan;
int rules_scan_sens(struct rules_scan *scan, const struct sens_scan **out);
/* rules_cond_sens.c: sensitive_types: declarations while loading, then
 * the sensitive_info items added to rs->sens and compiled; each 0, or -1
 * after reporting */
struct rules_sens_types;
int rules_sens_declare(struct rules_sens_types **st, struct ruleset *rs,
                       const struct ynode *map, struct diag *d);
int rules_sens_finish(const struct rules_sens_types *st, struct ruleset *rs, const char *path,
                      struct diag *d);
void rules_sens_types_free(struct rules_sens_types *st);
int rules_cond_is_sens(const struct rule_cond *c);

/* cond_patterns_parse - parser shared by the pattern-list conditions (names errors by the condition) */
int cond_patterns_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);

/* RULES_COND_DECL - the functions of one condition kind (pattern conditions use cond_patterns_parse) */
#define RULES_COND_DECL(p) \
    int p##_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d); \
    enum rules_tri p##_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc); \
    int p##_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)

/* rules_cond_env.c */
RULES_COND_DECL(cond_sender_is);
RULES_COND_DECL(cond_sender_domain);
RULES_COND_DECL(cond_sender_matches);
RULES_COND_DECL(cond_sender_scope);
RULES_COND_DECL(cond_rcpt_is);
RULES_COND_DECL(cond_rcpt_domain);
RULES_COND_DECL(cond_rcpt_matches);
RULES_COND_DECL(cond_has_att);
RULES_COND_DECL(cond_att_name);
RULES_COND_DECL(cond_att_ext);
RULES_COND_DECL(cond_att_type);
RULES_COND_DECL(cond_att_size);
RULES_COND_DECL(cond_size);
/* rules_cond_hdr.c */
RULES_COND_DECL(cond_hdr_contains);
RULES_COND_DECL(cond_hdr_matches);
RULES_COND_DECL(cond_subj_matches);
void cond_hdr_free(struct rule_cond *c);
/* rules_cond_body.c */
RULES_COND_DECL(cond_body);          /* its eval and explain serve every body condition */
int cond_subj_body_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);
int cond_att_text_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);
int cond_body_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);
int cond_subj_body_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);
int cond_att_re_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d);
void cond_body_free(struct rule_cond *c);
/* rules_cond_enc.c */
RULES_COND_DECL(cond_enc);
/* rules_cond_sens.c */
RULES_COND_DECL(cond_sens);
void cond_sens_free(struct rule_cond *c);
void cond_free_list(struct rule_cond *c);
void cond_free_re(struct rule_cond *c);
void cond_free_data(struct rule_cond *c);

#endif
