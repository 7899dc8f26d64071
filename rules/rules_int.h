/*
 * rules_int - the inside of a compiled ruleset, shared by the loader, the
 * condition and action tables, and the evaluator.  Not for other modules.
 *
 * A condition kind and an action kind are each one table entry with a
 * parser (YAML node -> compiled form, errors to the diag at the node's
 * position); conditions also carry their evaluation function.  New
 * conditions and actions are added by adding an entry to
 * rules_cond_kinds[] (rules_cond.c) or rules_action_kinds[]
 * (rules_action.c); the loader and evaluator need no change.
 */
#ifndef MAILSEAL_RULES_RULES_INT_H
#define MAILSEAL_RULES_RULES_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rules/rules.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/yaml_tree.h"

#define RULES_DEFAULT_PRIORITY 100
#define RULES_MAX_PRIORITY 1000000
#define RULES_MAX_NAME 64
#define RULES_MAX_FILES 1000
#define RULES_LOOP_HEADER "X-Mailseal-Loop"
#define RULES_EXCERPT_CONTEXT 20  /* characters of context either side of a match */
#define RULES_EXCERPT_MAX 1024    /* bytes of an evidence excerpt */

/* Three-valued truth of a condition or rule. */
enum rules_tri {
    TRI_FALSE = 0,
    TRI_TRUE = 1,
    TRI_UNKNOWN = 2
};

/* Per-evaluation state: what the conditions look at, computed lazily. */
struct rules_ctx {
    const struct ruleset *rs;
    const struct msg_model *m;
    const struct msg_envelope *env;
    struct rules_scan *scan;
    struct buf subject;       /* the subject in text_norm() form */
    int have_subject;
    int fault;                /* errno of a transient failure, 0 when none */
    time_t now;               /* the time rules are evaluated at (active:) */
    void *md;                 /* pcre2_match_data_8 *, created on first use */
    struct rules_subj_hit *subj;  /* per subject slot, after the one subject scan */
};

/* Where a subject slot's phrases were first found in the subject. */
struct rules_subj_hit {
    size_t at, len;
    int found;
};

struct rule_cond;
struct body_cond;
struct sens_set;
struct re_prefilter;

struct rules_cond_kind {
    const char *name;
    /* Compile arg into c (c->kind is set); 0, or -1 after adding errors. */
    int (*parse)(struct rule_cond *c, const struct ynode *arg, struct diag *d);
    /* TRUE/FALSE/UNKNOWN; for UNKNOWN, *inc gets the MSG_INC_* bits that
     * made it so.  On a transient fault set ctx->fault and return FALSE. */
    enum rules_tri (*eval)(const struct rule_cond *c, struct rules_ctx *ctx,
                           unsigned *inc);
    void (*free)(struct rule_cond *c);   /* may be NULL */
    /* For rules_set_explain(): append to out a short excerpt saying why the
     * condition holds (called only when it evaluated TRUE); 0, or -1 with
     * errno on a failure.  May be NULL (no excerpt). */
    int (*explain)(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out);
};

struct rule_cond {
    const struct rules_cond_kind *kind;
    void *data;               /* owned; released by kind->free */
    unsigned arg;             /* small arguments (flags) */
};

/* One group of if_any: all its conditions must hold. */
struct rule_group {
    struct rule_cond *conds;
    size_t nconds;
};

struct rules_action_kind {
    const char *name;
    enum rule_action_kind kind;
    int protective;           /* applied for an undecidable rule under on_incomplete: encrypt */
    /* Fill a (kind set, strings owned by a); 0, or -1 after adding errors. */
    int (*parse)(struct rule_action *a, const struct ynode *arg, struct diag *d);
};

struct rule {
    char *name;
    char *description;        /* NULL when none */
    char *file;               /* where it was defined */
    unsigned line, col;
    unsigned name_line, name_col; /* where its name is written */
    long priority;
    size_t seq;               /* load order, the tie-break */
    int enabled;
    int audit;                /* mode: audit */
    int stop;
    struct rule_cond *conds;  /* if: all must hold */
    size_t nconds;
    struct rule_group *any;   /* if_any: one group must hold (none: no constraint) */
    size_t nany;
    struct rule_cond *unless; /* unless: any holding skips the rule */
    size_t nunless;
    int has_from, has_until;  /* active: */
    time_t from;              /* active from this time on */
    time_t until;             /* active before this time (exclusive) */
    struct rule_action *actions;  /* in the order of rules_action_kinds[] */
    size_t nactions;
};

struct ruleset {
    struct rule *rules;       /* sorted by priority, then load order */
    size_t n;
    size_t cap;
    size_t nactions;          /* sum over all rules */
    int explain;              /* rules_set_explain(): fill res->evidence */
    void *re_mctx;            /* pcre2_match_context_8 *: the match limits */
    time_t (*clock)(void);    /* rules_set_clock(); NULL: time() */
    const struct body_cond **scan_conds;  /* the body conditions, by slot */
    size_t nscan;
    size_t *scan_re;          /* the slots of the pattern (*_matches) body conditions */
    size_t nscan_re;
    struct re_prefilter *re_pre;  /* which of scan_re may match a window, owned */
    struct kw_multi *kw_text; /* the phrases of the keyword body conditions, owner: slot */
    struct kw_multi *kw_subject;  /* the phrases looked for in the subject, owner: subject slot */
    size_t nsubj;             /* subject slots */
    struct sens_set *sens;    /* the sensitive_info entries (NULL: none used), owned */
    struct rules_scratch_pool *pool;  /* scratches the scans reuse (NULL: none kept), owned */
};

extern const struct rules_cond_kind rules_cond_kinds[];
extern const size_t rules_ncond_kinds;
extern const struct rules_action_kind rules_action_kinds[];
extern const size_t rules_naction_kinds;

/* rules_action_clear - release the strings an action parser filled in */
void rules_action_clear(struct rule_action *a);
/* rules_ctx_subject - the normalised subject (NULL + ctx->fault on failure) */
const struct buf *rules_ctx_subject(struct rules_ctx *ctx);
/* rules_ctx_subject_find - did a phrase of subject slot sslot occur in the
 * subject (1, its place in the normalised subject in *at, *mlen), or not
 * (0)?  -1 with ctx->fault on failure.  The subject is scanned once for
 * all slots. */
int rules_ctx_subject_find(struct rules_ctx *ctx, size_t sslot, size_t *at, size_t *mlen);

/* rules_text_ok - n is a string of at most max bytes with no CR, LF or
 * other control characters (flags relax or tighten that); 0, or -1 after
 * reporting "WHAT: ..." at n. */
#define RULES_TEXT_ASCII 0x1      /* printable ASCII only */
#define RULES_TEXT_TAB   0x2      /* horizontal tab allowed */
#define RULES_TEXT_EMPTY 0x4      /* "" allowed */
int rules_text_ok(const struct ynode *n, const char *what, size_t max,
                  unsigned flags, struct diag *d);

#endif
