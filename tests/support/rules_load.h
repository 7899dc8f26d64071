/*
 * rules_load - loading a rules file written by a test (needs tmpdir.h's
 * directory and ms_rules).
 *
 * test_rules_try(yaml, d, path, len) writes yaml to test_tmpdir/r.yaml
 * (path gets its name) and loads it, diagnostics into d (initialised
 * here; the caller frees it).  test_rules_load(yaml) does the same for
 * rules that must be valid: it prints the diagnostics and fails the test
 * otherwise.  The caller frees the ruleset with rules_free().
 */
#ifndef MAILSEAL_TESTS_SUPPORT_RULES_LOAD_H
#define MAILSEAL_TESTS_SUPPORT_RULES_LOAD_H

#include <stddef.h>

#include "rules/rules.h"
#include "util/diag.h"

struct ruleset *test_rules_try(const char *yaml, struct diag *d, char *path, size_t len);
struct ruleset *test_rules_load(const char *yaml);

#endif
