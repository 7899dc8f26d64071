/*
 * test_rules_explain - the evidence rules_eval() records after
 * rules_set_explain(): which condition of which rule held, with a short
 * excerpt (the matched phrase between >> and << with at most 20
 * characters of context either side, "..." where cut; the recipient of the wanted scope), the
 * undecided conditions of rules the on_incomplete policy acted on, and
 * nothing at all when explaining is off (the milter's default).
 *
 * Each case's evidence is summarised as one string:
 *   "rule/condition{excerpt} ..."
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
#include <unistd.h>

#include <cmocka.h>

#include "message/model.h"
#include "rules/rules.h"
#include "tests/support/rules_load.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

struct explain_case {
    const char *subject;
    unsigned incomplete;      /* MSG_INC_* */
    const char *rcpts;        /* one letter per recipient: i internal, e external */
    enum rules_on_incomplete policy;
    const char *want;         /* the evidence summary */
};

/* summarize - the evidence as one comparable string (caller frees) */
static char *summarize(const struct rules_result *res)
{
    struct buf b = BUF_INIT(8192);

    for (size_t i = 0; i < res->nevidence; i++)
        assert_int_equal(buf_printf(&b, "%s%s/%s{%s}", i ? " " : "", res->evidence[i].rule,
                                    res->evidence[i].condition, res->evidence[i].excerpt), 0);
    return buf_steal(&b);
}

/* eval_one - evaluate one case; explain switches evidence on */
static char *eval_one(struct ruleset *rs, const struct explain_case *c, int explain,
                      struct rules_result *res)
{
    struct msg_model m;
    struct msg_envelope env;
    struct msg_rcpt rc[8];
    static const char *const ext[] = { "x@other.example", "z@third.example" };
    struct rules_scan *scan = rules_scan_new(rs);
    size_t next = 0;

    assert_non_null(scan);
    memset(&m, 0, sizeof(m));
    m.subject = c->subject;
    m.incomplete = c->incomplete;
    memset(&env, 0, sizeof(env));
    env.from = (char *)"sender@example.com";
    env.from_domain = (char *)"example.com";
    for (size_t j = 0; j < 8 && c->rcpts[j]; j++) {
        int e = c->rcpts[j] == 'e';

        rc[j].addr = e ? (char *)ext[next++ % 2] : (char *)"y@example.com";
        rc[j].domain = (char *)"";
        rc[j].external = e;
        env.nrcpts++;
    }
    env.rcpts = rc;
    rules_set_explain(rs, explain);
    assert_int_equal(rules_eval(rs, &m, &env, scan, c->policy, res), 0);
    rules_scan_free(scan);
    return summarize(res);
}

static const char explain_yaml[] =
    "rules:\n"
    "  - name: enc\n"
    "    priority: 10\n"
    "    if: {subject_contains: [\"[secure]\", \"[encrypt]\"], recipient_scope: external}\n"
    "    then: {prepend_subject: \"[Secure] \"}\n"
    "  - name: conf-audit\n"
    "    mode: audit\n"
    "    if: {subject_contains: \"top secret\"}\n"
    "    then: {add_header: {name: X-Audit, value: yes}}\n"
    "  - name: block\n"
    "    priority: 50\n"
    "    if: {subject_contains: block, recipient_scope: [internal, external]}\n"
    "    then: {reject: {message: blocked}}\n"
    "  - name: internal-only\n"
    "    if: {recipient_scope: internal}\n"
    "    then: {add_header: {name: X-Int, value: yes}}\n";

static const struct explain_case explain_cases[] = {
    /* the phrase in >><< in normal form (case folded), context kept whole */
    { "Q3 [ENCRYPT] numbers", 0, "e", RULES_INCOMPLETE_ENCRYPT,
      "enc/subject_contains{q3 >>[encrypt]<< numbers} enc/recipient_scope{external recipient x@other.example}" },
    /* the first external recipient is named, not an internal one */
    { "[secure]", 0, "iee", RULES_INCOMPLETE_ENCRYPT,
      "enc/subject_contains{>>[secure]<<} enc/recipient_scope{external recipient x@other.example} "
      "internal-only/recipient_scope{internal recipient y@example.com}" },
    /* at most 20 characters either side, "..." where cut */
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa top secret bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0, "i",
      RULES_INCOMPLETE_ENCRYPT,
      "conf-audit/subject_contains{...aaaaaaaaaaaaaaaaaaa >>top secret<< bbbbbbbbbbbbbbbbbbb...} "
      "internal-only/recipient_scope{internal recipient y@example.com}" },
    /* context counted in characters, not bytes: 20 x U+00E4 before */
    { "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
      "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
      "\xc3\xa4 block", 0, "e", RULES_INCOMPLETE_ENCRYPT,
      "block/subject_contains{...\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
      "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
      "\xc3\xa4\xc3\xa4 >>block<<} block/recipient_scope{external recipient x@other.example}" },
    /* no match: no evidence */
    { "hello", 0, "e", RULES_INCOMPLETE_ENCRYPT, "" },
    /* undecided under on_incomplete: encrypt: only rules with protective
     * actions acted (block), with the limit named */
    { "hello", MSG_INC_HEADERS, "e", RULES_INCOMPLETE_ENCRYPT,
      "block/subject_contains{undecided: limit max_headers/max_header_length}" },
    /* on_incomplete: reject: the first undecided rule with actions decides */
    { "hello", MSG_INC_HEADERS, "e", RULES_INCOMPLETE_REJECT,
      "enc/subject_contains{undecided: limit max_headers/max_header_length}" },
};

/* test_explain - evidence for each case, and none when explaining is off */
static void test_explain(void **state)
{
    struct ruleset *rs = test_rules_load(explain_yaml);

    (void)state;
    for (size_t i = 0; i < sizeof(explain_cases) / sizeof(explain_cases[0]); i++) {
        const struct explain_case *c = &explain_cases[i];
        struct rules_result on, off;
        char *got = eval_one(rs, c, 1, &on);
        char *none = eval_one(rs, c, 0, &off);

        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (subject '%s'):\n  got:  %s\n  want: %s", i, c->subject, got, c->want);
        assert_string_equal(none, "");
        assert_null(off.evidence);
        /* the decision itself does not depend on explaining */
        assert_int_equal(on.nmatched, off.nmatched);
        assert_int_equal(on.naudited, off.naudited);
        assert_int_equal(on.nactions, off.nactions);
        assert_int_equal(on.incomplete, off.incomplete);
        assert_true((on.reject == NULL) == (off.reject == NULL));
        rules_result_free(&on);
        rules_result_free(&off);
        assert_null(on.evidence);
        assert_int_equal(on.nevidence, 0);
        free(got);
        free(none);
    }
    rules_free(rs);
}

/* test_rule_at - names and where they are written, priority order */
static void test_rule_at(void **state)
{
    struct ruleset *rs = test_rules_load(explain_yaml);
    const char *name, *file;
    unsigned line, col;

    (void)state;
    assert_int_equal(rules_rule_at(rs, 0, &name, &file, &line, &col), 0);
    assert_string_equal(name, "enc");
    assert_int_equal(line, 2);
    assert_int_equal(col, 11);
    assert_non_null(strstr(file, "/r.yaml"));
    assert_int_equal(rules_rule_at(rs, 1, &name, &file, &line, &col), 0);
    assert_string_equal(name, "block");
    assert_int_equal(line, 10);
    assert_int_equal(rules_rule_at(rs, 3, &name, &file, &line, &col), 0);
    assert_string_equal(name, "internal-only");
    assert_int_equal(rules_rule_at(rs, 4, &name, &file, &line, &col), -1);
    assert_int_equal(rules_rule_at(NULL, 0, &name, &file, &line, &col), -1);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_rule_at),
    };

    return cmocka_run_group_tests(tests, test_tmpdir_setup, test_tmpdir_teardown);
}
