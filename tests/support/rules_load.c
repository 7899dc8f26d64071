/*
 * rules_load - loading a rules file written by a test (see rules_load.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/support/rules_load.h"
#include "tests/support/tmpdir.h"

/* test_rules_try - write yaml to r.yaml and load it, diagnostics into d */
struct ruleset *test_rules_try(const char *yaml, struct diag *d, char *path, size_t len)
{
    assert_int_equal(test_tmpdir_write("r.yaml", yaml, path, len), 0);
    diag_init(d);
    return rules_load(path, d);
}

/* test_rules_load - load rules that must be valid */
struct ruleset *test_rules_load(const char *yaml)
{
    char path[512];
    struct diag d;
    struct ruleset *rs = test_rules_try(yaml, &d, path, sizeof(path));

    if (rs == NULL) {
        diag_print(&d, stderr);
        fail_msg("rules did not load");
    }
    diag_free(&d);
    return rs;
}

/* test_rules_outcome - evaluate; "T", "U:BITS" or "F" (and the first excerpt) */
char *test_rules_outcome(const struct ruleset *rs, const struct msg_model *m,
                         const struct msg_envelope *env, struct rules_scan *scan, char **excerpt)
{
    struct rules_result res;
    char out[64];

    assert_int_equal(rules_eval(rs, m, env, scan, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    if (excerpt != NULL)
        *excerpt = NULL;
    if (res.nmatched == 1) {
        snprintf(out, sizeof(out), "T");
        if (excerpt != NULL && res.nevidence > 0 && res.evidence[0].excerpt != NULL)
            *excerpt = strdup(res.evidence[0].excerpt);
    } else if (res.quarantine) {
        snprintf(out, sizeof(out), "U:%u", res.incomplete);
    } else {
        snprintf(out, sizeof(out), "F");
    }
    rules_result_free(&res);
    return strdup(out);
}
