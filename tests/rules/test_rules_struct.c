/*
 * test_rules_struct - rule structure beyond if: the if_any: groups, the
 * unless: exceptions and the active: period.  Load errors with their
 * exact messages; three-valued outcomes through and/or/not (an undecided
 * exception leaves an otherwise matching rule undecided); the period
 * against an injected clock (rules_set_clock()); evidence of a matching
 * if_any group.
 *
 * The rule's action is quarantine, evaluated under on_incomplete: encrypt,
 * so the outcome shows the truth: "T", "U:BITS" or "F".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "message/model.h"
#include "rules/rules.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

static time_t fake_now;

/* fake_clock - the injected clock */
static time_t fake_clock(void)
{
    return fake_now;
}

/* try_load - a rule "r" with body (lines at indent 4) and a quarantine */
static struct ruleset *try_load(const char *body, struct diag *d, char *path, size_t len)
{
    FILE *fp;

    snprintf(path, len, "%s/r.yaml", test_tmpdir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "rules:\n  - name: r\n%s    then: {quarantine: held}\n", body);
    assert_int_equal(fclose(fp), 0);
    diag_init(d);
    return rules_load(path, d);
}

struct err_case {
    const char *body;
    const char *want;         /* the one message, after "FILE:" */
};

static const struct err_case err_cases[] = {
    { "    if_any: {subject_contains: a}\n",
      "3:13: if_any: expected a list of condition groups, not a mapping" },
    { "    if_any: []\n", "3:13: if_any: expected at least one condition group" },
    { "    if_any: [subject_contains]\n", "3:14: if_any: expected a mapping of conditions, not a string" },
    { "    if_any: [{subject_contains: a}, {}]\n", "3:37: if_any: expected at least one condition" },
    { "    if_any:\n      - subject_contains: a\n      - subjct_contains: b\n",
      "5:9: unknown condition 'subjct_contains' (did you mean 'subject_contains'?)" },
    { "    if_any:\n      - {sender_matches: \"(\"}\n",
      "4:26: sender_matches: bad pattern at offset 1: missing closing parenthesis" },
    { "    if: {subject_contains: a}\n    unless: [{subject_contains: b}]\n",
      "4:13: unless: expected a mapping of conditions, not a list" },
    { "    if: {subject_contains: a}\n    unless: {}\n", "4:13: unless: expected at least one condition" },
    { "    if: {subject_contains: a}\n    unless: {recipient_scop: internal}\n",
      "4:14: unknown condition 'recipient_scop' (did you mean 'recipient_scope'?)" },
    { "    unless: {subject_contains: b}\n", "2:5: rule 'r' is missing 'if'" },
    { "    if: {subject_contains: a}\n    active: 2026-01-01\n",
      "4:13: active: expected {from: DATE, until: DATE}, not a string" },
    { "    if: {subject_contains: a}\n    active: {}\n",
      "4:13: active: expected {from: DATE, until: DATE}, not an empty mapping" },
    { "    if: {subject_contains: a}\n    active: {from: 2026-02-29}\n",
      "4:20: active: from: invalid date '2026-02-29' (expected YYYY-MM-DD, or "
      "YYYY-MM-DDTHH:MM:SS with a zone such as Z or +01:00)" },
    { "    if: {subject_contains: a}\n    active: {until: \"2026-01-01T10:00:00\"}\n",
      "4:21: active: until: invalid date '2026-01-01T10:00:00' (expected YYYY-MM-DD, or "
      "YYYY-MM-DDTHH:MM:SS with a zone such as Z or +01:00)" },
    { "    if: {subject_contains: a}\n    active: {from: 2026-01-01T25:00Z}\n",
      "4:20: active: from: invalid date '2026-01-01T25:00Z' (expected YYYY-MM-DD, or "
      "YYYY-MM-DDTHH:MM:SS with a zone such as Z or +01:00)" },
    { "    if: {subject_contains: a}\n    active: {from: [2026-01-01]}\n",
      "4:20: active: from: expected a date, not a list" },
    { "    if: {subject_contains: a}\n    active: {from: 2026-01-01, untill: 2026-02-01}\n",
      "4:32: unknown key 'untill' in active (did you mean 'until'?)" },
    { "    if: {subject_contains: a}\n    active: {from: 2026-03-01, until: 2026-02-28}\n",
      "4:39: active: until (2026-02-28) is not after from (2026-03-01)" },
    { "    if: {subject_contains: a}\n    activ: {from: 2026-03-01}\n",
      "4:5: unknown key 'activ' in rule (did you mean 'active'?)" },
};

/* test_errors - every invalid structure gives exactly its message */
static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        char path[512], want[1024];
        struct diag d;
        struct ruleset *rs = try_load(err_cases[i].body, &d, path, sizeof(path));

        snprintf(want, sizeof(want), "%s:%s", path, err_cases[i].want);
        if (rs != NULL || d.count != 1 || strcmp(d.items[0], want) != 0) {
            for (size_t j = 0; j < d.count; j++)
                print_message("  got[%zu]: %s\n", j, d.items[j]);
            fail_msg("case %zu (%s): want %s", i, err_cases[i].body, want);
        }
        diag_free(&d);
        rules_free(rs);
    }
}

struct eval_case {
    const char *body;
    const char *subject;
    unsigned incomplete;
    time_t now;
    const char *want;
};

#define T0 1767225600         /* 2026-01-01T00:00:00Z */
#define HDR MSG_INC_HEADERS
#define DAY 86400

static const struct eval_case eval_cases[] = {
    /* if_any: one group must hold, each group is an AND */
    { "    if_any: [{subject_contains: a}, {subject_contains: b}]\n", "x b", 0, T0, "T" },
    { "    if_any: [{subject_contains: a}, {subject_contains: b}]\n", "x c", 0, T0, "F" },
    { "    if_any: [{subject_contains: a}, {subject_contains: b}]\n", "x c", HDR, T0, "U:2" },
    { "    if_any: [{subject_contains: a}, {subject_contains: b}]\n", "x a", HDR, T0, "T" },
    { "    if_any:\n      - {subject_contains: a, recipient_scope: internal}\n"
      "      - {subject_contains: b}\n", "a", 0, T0, "F" },
    { "    if_any:\n      - {subject_contains: a, recipient_scope: external}\n"
      "      - {subject_contains: b}\n", "a", 0, T0, "T" },
    /* combined with if: both must hold */
    { "    if: {recipient_scope: internal}\n    if_any: [{subject_contains: a}]\n", "a", 0, T0, "F" },
    { "    if: {recipient_scope: external}\n    if_any: [{subject_contains: a}]\n", "a", 0, T0, "T" },
    { "    if: {subject_contains: a}\n    if_any: [{subject_contains: b}]\n", "a", HDR, T0, "U:2" },
    { "    if: {subject_contains: z}\n    if_any: [{subject_contains: b}]\n", "a", 0, T0, "F" },
    /* unless: any exception holding skips the rule */
    { "    if: {subject_contains: a}\n    unless: {subject_contains: b, size_over: 1MB}\n",
      "a", 0, T0, "T" },
    { "    if: {subject_contains: a}\n    unless: {subject_contains: b, size_over: 1MB}\n",
      "a b", 0, T0, "F" },
    { "    if: {subject_contains: a}\n    unless: {recipient_scope: external}\n", "a", 0, T0, "F" },
    /* an undecided exception: the rule is undecided when it would hold */
    { "    if: {recipient_scope: external}\n    unless: {subject_contains: b}\n", "a", HDR, T0, "U:2" },
    { "    if: {recipient_scope: internal}\n    unless: {subject_contains: b}\n", "a", HDR, T0, "F" },
    { "    if: {recipient_scope: external}\n    unless: {subject_contains: b, recipient_scope: external}\n",
      "a", HDR, T0, "F" },
    /* active: from inclusive, until (a date) through the end of that day */
    { "    if: {subject_contains: a}\n    active: {from: 2026-01-01}\n", "a", 0, T0, "T" },
    { "    if: {subject_contains: a}\n    active: {from: 2026-01-01}\n", "a", 0, T0 - 1, "F" },
    { "    if: {subject_contains: a}\n    active: {until: 2025-12-31}\n", "a", 0, T0 - 1, "T" },
    { "    if: {subject_contains: a}\n    active: {until: 2025-12-31}\n", "a", 0, T0, "F" },
    { "    if: {subject_contains: a}\n    active: {from: \"2026-01-01T09:00:00+01:00\", until: 2026-01-02}\n",
      "a", 0, T0 + 8 * 3600, "T" },
    { "    if: {subject_contains: a}\n    active: {from: \"2026-01-01T09:00:00+01:00\", until: 2026-01-02}\n",
      "a", 0, T0 + 8 * 3600 - 1, "F" },
    { "    if: {subject_contains: a}\n    active: {from: \"2026-01-01T09:00:00+01:00\", until: 2026-01-02}\n",
      "a", 0, T0 + 2 * DAY - 1, "T" },
    { "    if: {subject_contains: a}\n    active: {from: \"2026-01-01T09:00:00+01:00\", until: 2026-01-02}\n",
      "a", 0, T0 + 2 * DAY, "F" },
    { "    if: {subject_contains: a}\n    active: {until: \"2026-01-01 00:30:00.5-0130\"}\n",
      "a", 0, T0 + 2 * 3600 - 1, "T" },
    { "    if: {subject_contains: a}\n    active: {until: \"2026-01-01T00:30Z\"}\n",
      "a", 0, T0 + 1800, "F" },
    { "    if: {subject_contains: a}\n    active: {from: 2024-02-29}\n", "a", 0, T0, "T" },
    /* outside its period an undecided rule does nothing either */
    { "    if: {subject_contains: a}\n    active: {from: 2027-01-01}\n", "x", HDR, T0, "F" },
};

/* outcome - evaluate rs on a message with subject and incomplete bits */
static char *outcome(struct ruleset *rs, const char *subject, unsigned incomplete,
                     struct rules_result *res)
{
    struct msg_model m;
    struct msg_envelope env;
    struct msg_rcpt rc;
    char out[64];

    memset(&m, 0, sizeof(m));
    m.subject = subject;
    m.incomplete = incomplete;
    m.size = 4096;
    memset(&env, 0, sizeof(env));
    env.from = (char *)"a@example.com";
    env.from_domain = (char *)"example.com";
    rc.addr = (char *)"x@other.example";
    rc.domain = (char *)"other.example";
    rc.external = 1;
    env.rcpts = &rc;
    env.nrcpts = 1;
    assert_int_equal(rules_eval(rs, &m, &env, NULL, RULES_INCOMPLETE_ENCRYPT, res), 0);
    if (res->nmatched == 1)
        snprintf(out, sizeof(out), "T");
    else if (res->quarantine)
        snprintf(out, sizeof(out), "U:%u", res->incomplete);
    else
        snprintf(out, sizeof(out), "F");
    return strdup(out);
}

/* test_eval - the three-valued structure and the period */
static void test_eval(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        char path[512];
        struct diag d;
        struct rules_result res;
        struct ruleset *rs = try_load(c->body, &d, path, sizeof(path));
        char *got;

        if (rs == NULL) {
            diag_print(&d, stderr);
            fail_msg("case %zu did not load", i);
        }
        diag_free(&d);
        rules_set_clock(rs, fake_clock);
        fake_now = c->now;
        got = outcome(rs, c->subject, c->incomplete, &res);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (%s, subject '%s', inc %u, now %lld): got %s, want %s", i, c->body,
                     c->subject, c->incomplete, (long long)c->now, got, c->want);
        free(got);
        rules_result_free(&res);
        rules_free(rs);
    }
}

/* test_real_clock - without an injected clock, time() decides */
static void test_real_clock(void **state)
{
    char path[512];
    struct diag d;
    struct rules_result res;
    struct ruleset *rs;
    char *got;

    (void)state;
    rs = try_load("    if: {subject_contains: a}\n    active: {from: 2000-01-01, until: 2001-01-01}\n",
                  &d, path, sizeof(path));
    assert_non_null(rs);
    diag_free(&d);
    got = outcome(rs, "a", 0, &res);
    assert_string_equal(got, "F");
    free(got);
    rules_result_free(&res);
    rules_set_clock(rs, fake_clock);
    fake_now = 946684800 + DAY;     /* 2000-01-02 */
    got = outcome(rs, "a", 0, &res);
    assert_string_equal(got, "T");
    free(got);
    rules_result_free(&res);
    rules_set_clock(rs, NULL);
    got = outcome(rs, "a", 0, &res);
    assert_string_equal(got, "F");
    free(got);
    rules_result_free(&res);
    rules_free(rs);
}

/* test_explain - evidence names the conditions of if: and of the first
 * matching if_any: group, and the undecided ones of an undecided rule */
static void test_explain(void **state)
{
    char path[512];
    struct diag d;
    struct rules_result res;
    struct ruleset *rs;
    char *got;

    (void)state;
    rs = try_load("    if: {recipient_scope: external}\n"
                  "    if_any: [{subject_contains: zz}, {subject_contains: b}, {subject_contains: c}]\n"
                  "    unless: {subject_contains: stop}\n", &d, path, sizeof(path));
    assert_non_null(rs);
    diag_free(&d);
    rules_set_explain(rs, 1);
    got = outcome(rs, "a b c", 0, &res);
    assert_string_equal(got, "T");
    assert_int_equal(res.nevidence, 2);
    assert_string_equal(res.evidence[0].condition, "recipient_scope");
    assert_string_equal(res.evidence[0].excerpt, "external recipient x@other.example");
    assert_string_equal(res.evidence[1].condition, "subject_contains");
    assert_string_equal(res.evidence[1].excerpt, "a >>b<< c");
    free(got);
    rules_result_free(&res);
    got = outcome(rs, "a", HDR, &res);
    assert_string_equal(got, "U:2");
    assert_int_equal(res.nevidence, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(res.evidence[i].condition, "subject_contains");
        assert_string_equal(res.evidence[i].excerpt, "undecided: limit max_headers/max_header_length");
    }
    free(got);
    rules_result_free(&res);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_eval, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_real_clock, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_explain, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
