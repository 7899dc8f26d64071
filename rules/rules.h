/*
 * rules - the rule language: loading rule files, and evaluating a message
 * model against them.
 *
 * A rules file is YAML: "rules:" holds an ordered list of rules, each with
 * name, if (conditions that must all hold) and/or if_any (groups of them,
 * one of which must hold), optional unless (conditions any of which skips
 * the rule) and active (a period), and then (actions); see the README's
 * rule language reference.  rules_load() takes a file or a
 * directory of *.yaml files (loaded in name order) and returns a compiled
 * ruleset, or NULL after adding every error to d as FILE:LINE:COLUMN.
 *
 * Evaluation: rules_scan_new() gives the per-message scanning state whose
 * text sink is passed to msg_model_build(); rules_eval() then decides.
 * Conditions are three-valued: a condition whose data was cut by a limit
 * (model->incomplete) and did not match is "unknown".  A rule that could
 * apply only if unknowns held is handled by the on_incomplete policy: with
 * RULES_INCOMPLETE_ENCRYPT its protective actions (encrypt, reject,
 * quarantine) are applied as if it matched; with RULES_INCOMPLETE_REJECT
 * the message is rejected with a 5xx text.  A ruleset is immutable after
 * loading and may be shared between threads; the result's strings point
 * into the ruleset.
 *
 * Explanations (for `mailseal test`): after rules_set_explain(rs, 1),
 * rules_eval() also fills res->evidence with one entry per condition of
 * each matching rule (and per undecided condition of a rule the
 * on_incomplete policy acted on): the rule, the condition's name and a
 * short excerpt (for subject_contains the matched phrase between >> and
 * << with at most 20 characters of context either side, in normal form,
 * "..." where cut; likewise the match of a *_matches pattern, a header or
 * body phrase; for recipient_scope and the other envelope conditions the
 * address, for attachment conditions the attachment's name and type).  Only tools call it, on a
 * ruleset of their own and before sharing it; the milter never does, so
 * its evaluation pays nothing for it.  The excerpts are owned by the
 * result and released by rules_result_free().
 */
#ifndef MAILSEAL_RULES_RULES_H
#define MAILSEAL_RULES_RULES_H

#include <stddef.h>
#include <time.h>

#include "message/model.h"
#include "util/buf.h"
#include "util/diag.h"

struct ruleset;
struct rules_scan;

/* The on_incomplete policy (config key policy.on_incomplete). */
enum rules_on_incomplete {
    RULES_INCOMPLETE_ENCRYPT = 0,
    RULES_INCOMPLETE_REJECT = 1
};

enum rule_action_kind {
    ACT_ADD_HEADER,           /* name, value */
    ACT_SET_HEADER,           /* name, value: replace every occurrence, add when absent */
    ACT_PREPEND_SUBJECT,      /* value */
    ACT_REJECT,               /* code, status, text */
    ACT_QUARANTINE,           /* value: the reason */
    ACT_ENCRYPT,              /* value: template name or NULL (issue: envelope) */
    ACT_REMOVE_SUBJECT_TAG,   /* items: the tags, stripped case-insensitively */
    ACT_REMOVE_HEADER,        /* items: header names, every occurrence deleted */
    ACT_BCC,                  /* items: addresses (local@domain) added as envelope recipients */
    ACT_LOG                   /* value: text for a notice-level audit line */
};

struct rule_action {
    enum rule_action_kind kind;
    const char *rule;         /* the rule it comes from */
    const char *name;
    const char *value;        /* UTF-8 */
    int code;                 /* reject: 5xx */
    const char *status;       /* reject: "5.7.1" */
    const char *text;         /* reject: checked at load, no control characters */
    const char **items;       /* remove_subject_tag, remove_header, bcc: the list */
    size_t nitems;
};

/* One reason a rule matched (see rules_set_explain()). */
struct rules_evidence {
    const char *rule;         /* the rule's name (points into the ruleset) */
    const char *condition;    /* the condition's name, e.g. "subject_contains" */
    char *excerpt;            /* UTF-8, short; owned by the result */
};

struct rules_result {
    const char **matched;     /* names of matching enforce rules, priority order */
    size_t nmatched;
    const char **audited;     /* names of matching audit rules */
    size_t naudited;
    struct rule_action *actions;  /* accumulated actions, priority order */
    size_t nactions;
    const struct rule_action *reject;  /* set: reject overrides everything */
    int quarantine;           /* some action is ACT_QUARANTINE */
    int encrypt;              /* some action is ACT_ENCRYPT */
    const char *encrypt_template; /* the first ACT_ENCRYPT's template (NULL: default) */
    unsigned incomplete;      /* MSG_INC_* bits that decided something */
    struct rules_evidence *evidence;  /* only with rules_set_explain(rs, 1) */
    size_t nevidence;
};

struct ruleset *rules_load(const char *path, struct diag *d);
void rules_free(struct ruleset *rs);
/* rules_action_name - the YAML name of an action kind ("?" for none) */
const char *rules_action_name(enum rule_action_kind kind);
/* rules_check_templates - every encrypt: {template: NAME} names a template
 * known(arg, NAME) accepts; 0, or -1 after reporting each unknown one at
 * its rule as FILE:LINE:COL */
int rules_check_templates(const struct ruleset *rs, int (*known)(void *arg, const char *name),
                          void *arg, struct diag *d);
size_t rules_count(const struct ruleset *rs);
/* Ask rules_eval() on rs to fill res->evidence (on != 0) or not (default). */
void rules_set_explain(struct ruleset *rs, int on);
/* Evaluate rules' active: periods against now() instead of time(NULL)
 * (tests, and tools that replay a message at another date); NULL restores
 * time().  Like rules_set_explain(), only before the ruleset is shared. */
void rules_set_clock(struct ruleset *rs, time_t (*now)(void));
/* Name of the i-th rule (priority order) and the position of that name,
 * for tools that check several rule sources; -1 when i is out of range. */
int rules_rule_at(const struct ruleset *rs, size_t i, const char **name,
                  const char **file, unsigned *line, unsigned *col);

struct rules_scan *rules_scan_new(const struct ruleset *rs);   /* NULL: ENOMEM */
const struct msg_text_sink *rules_scan_sink(struct rules_scan *scan);
void rules_scan_free(struct rules_scan *scan);

/* 0 ok; -1 with errno set on a transient fault (ENOMEM). */
int rules_eval(const struct ruleset *rs, const struct msg_model *m,
               const struct msg_envelope *env, struct rules_scan *scan,
               enum rules_on_incomplete on_incomplete,
               struct rules_result *res);
void rules_result_free(struct rules_result *res);

/* rules_strip_subject_tags - append to out the UTF-8 subject without any
 * of the tags (ASCII case-insensitive, wherever they occur, also where a
 * removal joins the pieces of one), the white space around each removed
 * tag collapsed to one space (none at either end).  Returns 1 when a tag
 * was removed, 0 when none was, -1 when out is full (out emptied). */
int rules_strip_subject_tags(const char *subject, const char *const *tags,
                             size_t ntags, struct buf *out);

#endif
