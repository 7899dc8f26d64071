/*
 * rules_load - loading a rules file written by a test (needs tmpdir.h's
 * directory and ms_rules).
 *
 * test_rules_try(yaml, d, path, len) writes yaml to test_tmpdir/r.yaml
 * (path gets its name) and loads it, diagnostics into d (initialised
 * here; the caller frees it).  test_rules_load(yaml) does the same for
 * rules that must be valid: it prints the diagnostics and fails the test
 * otherwise.  The caller frees the ruleset with rules_free().
 *
 * test_rules_outcome(rs, m, env, scan, excerpt) evaluates rs (the policy
 * RULES_INCOMPLETE_ENCRYPT) and returns the outcome as a string the caller
 * frees: "T" (a rule matched), "U:BITS" (undecided: the incomplete bits)
 * or "F"; *excerpt (when not NULL) gets a copy of the first evidence's
 * excerpt, or NULL.
 */
#ifndef MAILSEAL_TESTS_SUPPORT_RULES_LOAD_H
#define MAILSEAL_TESTS_SUPPORT_RULES_LOAD_H

#include <stddef.h>

#include "rules/rules.h"
#include "util/diag.h"

struct ruleset *test_rules_try(const char *yaml, struct diag *d, char *path, size_t len);
struct ruleset *test_rules_load(const char *yaml);
char *test_rules_outcome(const struct ruleset *rs, const struct msg_model *m,
                         const struct msg_envelope *env, struct rules_scan *scan, char **excerpt);

#endif
