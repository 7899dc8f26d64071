/*
 * test_rules_eval - evaluating rules against hand-built message models and
 * envelopes: subject_contains semantics (word boundaries, punctuation,
 * case folding beyond ASCII, NFKC, zero-width characters, NBSP, Japanese),
 * recipient_scope with mixed recipients, priority order and ties, stop,
 * audit, disabled rules, the first reject winning, actions in table order,
 * and undecidable rules under both on_incomplete policies.
 *
 * Each case's result is summarised as one string:
 *   "m=[matched] a=[audited] act=[rule/action ...] rej=RULE q=0|1 inc=BITS"
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

/* action_name - the YAML name of an action kind */
static const char *action_name(enum rule_action_kind k)
{
    switch (k) {
    case ACT_ADD_HEADER: return "add_header";
    case ACT_SET_HEADER: return "set_header";
    case ACT_PREPEND_SUBJECT: return "prepend_subject";
    case ACT_REJECT: return "reject";
    case ACT_QUARANTINE: return "quarantine";
    case ACT_ENCRYPT: return "encrypt";
    case ACT_REMOVE_SUBJECT_TAG: return "remove_subject_tag";
    case ACT_REMOVE_HEADER: return "remove_header";
    case ACT_BCC: return "bcc";
    case ACT_LOG: return "log";
    }
    return "?";
}

/* summarize - a result as one comparable string (caller frees) */
static char *summarize(const struct rules_result *res)
{
    struct buf b = BUF_INIT(4096);

    assert_int_equal(buf_adds(&b, "m=["), 0);
    for (size_t i = 0; i < res->nmatched; i++)
        buf_printf(&b, "%s%s", i ? " " : "", res->matched[i]);
    buf_adds(&b, "] a=[");
    for (size_t i = 0; i < res->naudited; i++)
        buf_printf(&b, "%s%s", i ? " " : "", res->audited[i]);
    buf_adds(&b, "] act=[");
    for (size_t i = 0; i < res->nactions; i++)
        buf_printf(&b, "%s%s/%s", i ? " " : "", res->actions[i].rule,
                   action_name(res->actions[i].kind));
    buf_printf(&b, "] rej=%s q=%d inc=%u", res->reject ? res->reject->rule : "-",
               res->quarantine, res->incomplete);
    return buf_steal(&b);
}

struct eval_case {
    const char *subject;
    unsigned incomplete;      /* MSG_INC_* */
    const char *rcpts;        /* one letter per recipient: i internal, e external */
    enum rules_on_incomplete policy;
    const char *want;
};

/* run_cases - evaluate each case against the rules in yaml */
static void run_cases(const char *yaml, const struct eval_case *cases, size_t n)
{
    struct ruleset *rs = test_rules_load(yaml);

    for (size_t i = 0; i < n; i++) {
        const struct eval_case *c = &cases[i];
        struct msg_model m;
        struct msg_envelope env;
        struct msg_rcpt rc[8];
        struct rules_result res;
        struct rules_scan *scan = rules_scan_new(rs);
        char *got;

        assert_non_null(scan);
        memset(&m, 0, sizeof(m));
        m.subject = c->subject;
        m.incomplete = c->incomplete;
        memset(&env, 0, sizeof(env));
        env.from = (char *)"sender@example.com";
        env.from_domain = (char *)"example.com";
        for (size_t j = 0; j < 8 && c->rcpts[j]; j++) {
            rc[j].addr = c->rcpts[j] == 'e' ? (char *)"x@other.example" : (char *)"y@example.com";
            rc[j].domain = c->rcpts[j] == 'e' ? (char *)"other.example" : (char *)"example.com";
            rc[j].external = c->rcpts[j] == 'e';
            env.nrcpts++;
        }
        env.rcpts = rc;
        assert_int_equal(rules_eval(rs, &m, &env, scan, c->policy, &res), 0);
        got = summarize(&res);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (subject '%s', rcpts '%s', inc %u, policy %d):\n  got:  %s\n  want: %s",
                     i, c->subject, c->rcpts, c->incomplete, c->policy, got, c->want);
        free(got);
        rules_result_free(&res);
        assert_null(res.actions);
        assert_int_equal(res.nmatched, 0);
        rules_scan_free(scan);
    }
    rules_free(rs);
}

#define ENC RULES_INCOMPLETE_ENCRYPT
#define REJ RULES_INCOMPLETE_REJECT
#define HDR MSG_INC_HEADERS
#define NONE "m=[] a=[] act=[] rej=- q=0 inc=0"

static const char words_yaml[] =
    "rules:\n"
    "  - name: conf\n"
    "    if: {subject_contains: confidential}\n"
    "    then: {add_header: {name: X-Class, value: confidential}}\n"
    "  - name: enc\n"
    "    if: {subject_contains: [\"[encrypt]\", \"[secure]\"]}\n"
    "    then: {prepend_subject: \"[Secure] \"}\n"
    "  - name: aerger\n"
    "    if: {subject_contains: \"\\u00e4rger\"}\n"
    "    then: {set_header: {name: X-Mood, value: bad}}\n"
    "  - name: file\n"
    "    if: {subject_contains: file}\n"
    "    then: {add_header: {name: X-File, value: yes}}\n"
    "  - name: phrase\n"
    "    if: {subject_contains: \"top secret\"}\n"
    "    then: {add_header: {name: X-Top, value: yes}}\n"
    "  - name: jp\n"
    "    if: {subject_contains: \"\\u6a5f\\u5bc6\"}\n"
    "    then: {quarantine: jp}\n";

static const struct eval_case words_cases[] = {
    { "nonconfidential stuff", 0, "e", ENC, NONE },
    { "Confidential: Q3 numbers", 0, "e", ENC, "m=[conf] a=[] act=[conf/add_header] rej=- q=0 inc=0" },
    { "confidentiality", 0, "e", ENC, NONE },
    { "Re: [ENCRYPT]report", 0, "e", ENC, "m=[enc] a=[] act=[enc/prepend_subject] rej=- q=0 inc=0" },
    { "[Secure]", 0, "e", ENC, "m=[enc] a=[] act=[enc/prepend_subject] rej=- q=0 inc=0" },
    { "[encrypted]", 0, "e", ENC, NONE },
    { "\xc3\x84RGER im B\xc3\xbcro", 0, "e", ENC, "m=[aerger] a=[] act=[aerger/set_header] rej=- q=0 inc=0" },
    { "Kein \xc3\xa4rger", 0, "e", ENC, "m=[aerger] a=[] act=[aerger/set_header] rej=- q=0 inc=0" },
    { "Verärgert", 0, "e", ENC, NONE },
    { "\xef\xac\x81le attached", 0, "e", ENC, "m=[file] a=[] act=[file/add_header] rej=- q=0 inc=0" },
    { "profile", 0, "e", ENC, NONE },
    { "con\xe2\x80\x8b" "fi\xc2\xad" "dential", 0, "e", ENC,
      "m=[conf] a=[] act=[conf/add_header] rej=- q=0 inc=0" },
    { "TOP\xc2\xa0SECRET plan", 0, "e", ENC, "m=[phrase] a=[] act=[phrase/add_header] rej=- q=0 inc=0" },
    { "top\r\n\tsecret", 0, "e", ENC, "m=[phrase] a=[] act=[phrase/add_header] rej=- q=0 inc=0" },
    { "topsecret", 0, "e", ENC, NONE },
    { "\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf\xe6\xa9\x9f\xe5\xaf\x86\xe6\x96\x87\xe6\x9b\xb8"
      "\xe3\x81\xa7\xe3\x81\x99", 0, "e", ENC, "m=[jp] a=[] act=[jp/quarantine] rej=- q=1 inc=0" },
    { "CONFIDENTIAL top secret file", 0, "e", ENC,
      "m=[conf file phrase] a=[] act=[conf/add_header file/add_header phrase/add_header] rej=- q=0 inc=0" },
    { "", 0, "e", ENC, NONE },
    { "x\xff\xfe confidential", 0, "e", ENC, "m=[conf] a=[] act=[conf/add_header] rej=- q=0 inc=0" },
};

/* test_subject_contains - the keyword semantics through whole rules */
static void test_subject_contains(void **state)
{
    (void)state;
    run_cases(words_yaml, words_cases, sizeof(words_cases) / sizeof(words_cases[0]));
}

static const char scope_yaml[] =
    "rules:\n"
    "  - name: ext\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-Ext, value: yes}}\n"
    "  - name: int\n"
    "    if: {recipient_scope: internal}\n"
    "    then: {add_header: {name: X-Int, value: yes}}\n"
    "  - name: any\n"
    "    if: {recipient_scope: [internal, external]}\n"
    "    then: {add_header: {name: X-Any, value: yes}}\n"
    "  - name: ext-conf\n"
    "    if: {recipient_scope: external, subject_contains: confidential}\n"
    "    then: {quarantine: held}\n";

static const struct eval_case scope_cases[] = {
    { "x", 0, "", ENC, NONE },
    { "x", 0, "i", ENC, "m=[int any] a=[] act=[int/add_header any/add_header] rej=- q=0 inc=0" },
    { "x", 0, "e", ENC, "m=[ext any] a=[] act=[ext/add_header any/add_header] rej=- q=0 inc=0" },
    { "x", 0, "iie", ENC,
      "m=[ext int any] a=[] act=[ext/add_header int/add_header any/add_header] rej=- q=0 inc=0" },
    { "x", 0, "eei", ENC,
      "m=[ext int any] a=[] act=[ext/add_header int/add_header any/add_header] rej=- q=0 inc=0" },
    { "confidential", 0, "i", ENC, "m=[int any] a=[] act=[int/add_header any/add_header] rej=- q=0 inc=0" },
    { "confidential", 0, "ie", ENC,
      "m=[ext int any ext-conf] a=[] act=[ext/add_header int/add_header any/add_header "
      "ext-conf/quarantine] rej=- q=1 inc=0" },
    /* recipient_scope is never unknown */
    { "x", HDR | MSG_INC_SIZE, "i", REJ,
      "m=[int any] a=[] act=[int/add_header any/add_header] rej=- q=0 inc=0" },
};

/* test_recipient_scope - internal/external with mixed recipients */
static void test_recipient_scope(void **state)
{
    (void)state;
    run_cases(scope_yaml, scope_cases, sizeof(scope_cases) / sizeof(scope_cases[0]));
}

static const char order_yaml[] =
    "rules:\n"
    "  - name: p100-a\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-A, value: a}}\n"
    "  - name: p5\n"
    "    priority: 5\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-B, value: b}}\n"
    "  - name: p100-b\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-C, value: c}}\n"
    "  - name: p0\n"
    "    priority: 0\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-D, value: d}}\n"
    "  - name: p50-stop\n"
    "    priority: 50\n"
    "    stop: true\n"
    "    if: {subject_contains: stop}\n"
    "    then: {set_header: {name: X-Stop, value: s}}\n"
    "  - name: p40-audit-stop\n"
    "    priority: 40\n"
    "    mode: audit\n"
    "    stop: true\n"
    "    if: {subject_contains: [stop, audit]}\n"
    "    then: {quarantine: audit}\n"
    "  - name: p30-off\n"
    "    priority: 30\n"
    "    enabled: false\n"
    "    stop: true\n"
    "    if: {recipient_scope: external}\n"
    "    then: {reject: {message: off}}\n";

static const struct eval_case order_cases[] = {
    /* priority order, ties in file order; disabled rule skipped */
    { "x", 0, "e", ENC,
      "m=[p0 p5 p100-a p100-b] a=[] act=[p0/add_header p5/add_header p100-a/add_header "
      "p100-b/add_header] rej=- q=0 inc=0" },
    /* an enforce rule with stop ends evaluation; an audit rule with stop does not,
     * and adds no actions */
    { "please stop", 0, "e", ENC,
      "m=[p0 p5 p50-stop] a=[p40-audit-stop] act=[p0/add_header p5/add_header "
      "p50-stop/set_header] rej=- q=0 inc=0" },
    { "audit me", 0, "e", ENC,
      "m=[p0 p5 p100-a p100-b] a=[p40-audit-stop] act=[p0/add_header p5/add_header "
      "p100-a/add_header p100-b/add_header] rej=- q=0 inc=0" },
    { "audit", 0, "i", ENC, "m=[] a=[p40-audit-stop] act=[] rej=- q=0 inc=0" },
};

/* test_order_stop_audit - priorities, ties, stop, audit, disabled */
static void test_order_stop_audit(void **state)
{
    (void)state;
    run_cases(order_yaml, order_cases, sizeof(order_cases) / sizeof(order_cases[0]));
}

static const char reject_yaml[] =
    "rules:\n"
    "  - name: all-actions\n"
    "    priority: 30\n"
    "    if: {subject_contains: all}\n"
    "    then:\n"
    "      quarantine: q\n"
    "      reject: {code: 551, status: \"5.7.0\", message: all}\n"
    "      prepend_subject: \"[x] \"\n"
    "      set_header: {name: X-S, value: s}\n"
    "      add_header: {name: X-A, value: a}\n"
    "  - name: second\n"
    "    priority: 20\n"
    "    if: {subject_contains: reject}\n"
    "    then: {reject: {code: 552, message: second}}\n"
    "  - name: first\n"
    "    priority: 10\n"
    "    if: {subject_contains: reject}\n"
    "    then: {reject: {code: 553, message: first}, add_header: {name: X-F, value: f}}\n";

static const struct eval_case reject_cases[] = {
    { "reject", 0, "e", ENC,
      "m=[first second] a=[] act=[first/add_header first/reject second/reject] rej=first q=0 inc=0" },
    { "all", 0, "e", ENC,
      "m=[all-actions] a=[] act=[all-actions/add_header all-actions/set_header "
      "all-actions/prepend_subject all-actions/reject all-actions/quarantine] "
      "rej=all-actions q=1 inc=0" },
    { "reject all", 0, "e", ENC,
      "m=[first second all-actions] a=[] act=[first/add_header first/reject second/reject "
      "all-actions/add_header all-actions/set_header all-actions/prepend_subject "
      "all-actions/reject all-actions/quarantine] rej=first q=1 inc=0" },
};

/* test_reject_and_action_order - the first reject wins; actions in table order */
static void test_reject_and_action_order(void **state)
{
    struct ruleset *rs;
    struct msg_model m;
    struct rules_result res;

    (void)state;
    run_cases(reject_yaml, reject_cases, sizeof(reject_cases) / sizeof(reject_cases[0]));

    /* the reject fields come through unchanged */
    rs = test_rules_load(reject_yaml);
    memset(&m, 0, sizeof(m));
    m.subject = "reject";
    assert_int_equal(rules_eval(rs, &m, NULL, NULL, ENC, &res), 0);
    assert_non_null(res.reject);
    assert_int_equal(res.reject->kind, ACT_REJECT);
    assert_int_equal(res.reject->code, 553);
    assert_string_equal(res.reject->status, "5.7.1");
    assert_string_equal(res.reject->text, "first");
    assert_string_equal(res.actions[0].name, "X-F");
    assert_string_equal(res.actions[0].value, "f");
    rules_result_free(&res);
    rules_free(rs);
}

static const char unknown_yaml[] =
    "rules:\n"
    "  - name: kw-q\n"
    "    if: {subject_contains: secret}\n"
    "    then: {add_header: {name: X-Q, value: q}, quarantine: maybe}\n"
    "  - name: kw-hdr\n"
    "    if: {subject_contains: secret}\n"
    "    then: {add_header: {name: X-H, value: h}}\n"
    "  - name: kw-int\n"
    "    if: {subject_contains: secret, recipient_scope: internal}\n"
    "    then: {quarantine: internal}\n"
    "  - name: kw-audit\n"
    "    mode: audit\n"
    "    if: {subject_contains: secret}\n"
    "    then: {quarantine: audit}\n"
    "  - name: scope\n"
    "    if: {recipient_scope: external}\n"
    "    then: {add_header: {name: X-E, value: e}}\n";

static const struct eval_case unknown_cases[] = {
    /* complete: the keyword rules are simply false */
    { "hello", 0, "e", ENC, "m=[scope] a=[] act=[scope/add_header] rej=- q=0 inc=0" },
    { "hello", 0, "e", REJ, "m=[scope] a=[] act=[scope/add_header] rej=- q=0 inc=0" },
    /* headers dropped, no match: kw-q and kw-hdr are unknown; kw-int is
     * false (no internal recipient), so it changes nothing; audit rules
     * never act.  encrypt: protective actions only */
    { "hello", HDR, "e", ENC,
      "m=[scope] a=[] act=[kw-q/quarantine scope/add_header] rej=- q=1 inc=2" },
    /* reject: the fixed reply */
    { "hello", HDR, "e", REJ, "m=[scope] a=[] act=[scope/add_header] rej=policy.on_incomplete q=0 inc=2" },
    /* with an internal recipient kw-int is unknown as well */
    { "hello", HDR, "i", ENC,
      "m=[] a=[] act=[kw-q/quarantine kw-int/quarantine] rej=- q=1 inc=2" },
    /* a match is a match, incomplete or not */
    { "top secret", HDR, "e", REJ,
      "m=[kw-q kw-hdr scope] a=[kw-audit] act=[kw-q/add_header kw-q/quarantine kw-hdr/add_header "
      "scope/add_header] rej=- q=1 inc=0" },
    /* other limits do not make the subject unknown */
    { "hello", MSG_INC_SCAN | MSG_INC_SIZE | MSG_INC_DEPTH | MSG_INC_PARTS, "e", REJ,
      "m=[scope] a=[] act=[scope/add_header] rej=- q=0 inc=0" },
};

static const char unknown_header_only_yaml[] =
    "rules:\n"
    "  - name: kw-hdr\n"
    "    if: {subject_contains: secret}\n"
    "    then: {add_header: {name: X-H, value: h}}\n"
    "  - name: kw-none\n"
    "    if: {subject_contains: secret}\n"
    "    then: {}\n";

static const struct eval_case unknown_header_only_cases[] = {
    /* nothing protective to apply: the unknown decides nothing */
    { "hello", HDR, "e", ENC, NONE },
    /* reject applies to a rule with actions; one without any changes nothing */
    { "hello", HDR, "e", REJ, "m=[] a=[] act=[] rej=policy.on_incomplete q=0 inc=2" },
};

static const char unknown_reject_yaml[] =
    "rules:\n"
    "  - name: hard\n"
    "    priority: 1\n"
    "    if: {recipient_scope: external}\n"
    "    then: {reject: {code: 554, message: no external mail}}\n"
    "  - name: kw-reject\n"
    "    if: {subject_contains: secret}\n"
    "    then: {reject: {code: 550, message: secret}, prepend_subject: \"[s] \"}\n";

static const struct eval_case unknown_reject_cases[] = {
    /* an earlier real reject stays; the unknown decides nothing */
    { "hello", HDR, "e", REJ, "m=[hard] a=[] act=[hard/reject] rej=hard q=0 inc=0" },
    { "hello", HDR, "e", ENC, "m=[hard] a=[] act=[hard/reject kw-reject/reject] rej=hard q=0 inc=2" },
    /* an unknown rule's reject is applied under encrypt */
    { "hello", HDR, "i", ENC, "m=[] a=[] act=[kw-reject/reject] rej=kw-reject q=0 inc=2" },
    { "hello", HDR, "i", REJ, "m=[] a=[] act=[] rej=policy.on_incomplete q=0 inc=2" },
};

/* test_unknown - undecidable rules under both policies */
static void test_unknown(void **state)
{
    struct ruleset *rs;
    struct msg_model m;
    struct rules_result res;

    (void)state;
    run_cases(unknown_yaml, unknown_cases, sizeof(unknown_cases) / sizeof(unknown_cases[0]));
    run_cases(unknown_header_only_yaml, unknown_header_only_cases,
              sizeof(unknown_header_only_cases) / sizeof(unknown_header_only_cases[0]));
    run_cases(unknown_reject_yaml, unknown_reject_cases,
              sizeof(unknown_reject_cases) / sizeof(unknown_reject_cases[0]));

    /* the fixed reply of on_incomplete: reject */
    rs = test_rules_load(unknown_header_only_yaml);
    memset(&m, 0, sizeof(m));
    m.subject = "hello";
    m.incomplete = HDR;
    assert_int_equal(rules_eval(rs, &m, NULL, NULL, REJ, &res), 0);
    assert_non_null(res.reject);
    assert_int_equal(res.reject->kind, ACT_REJECT);
    assert_int_equal(res.reject->code, 550);
    assert_string_equal(res.reject->status, "5.7.1");
    assert_string_equal(res.reject->text,
                        "Message could not be fully checked by the mail encryption gateway");
    assert_int_equal(res.incomplete, MSG_INC_HEADERS);
    rules_result_free(&res);
    rules_free(rs);
}

/* scan_part - a stand-in part for the sink */
static struct msg_part scan_part;

/* test_scan_and_empty - the scan state, no rules, no subject */
static void test_scan_and_empty(void **state)
{
    struct rules_scan *scan = rules_scan_new(NULL);
    const struct msg_text_sink *sink;
    struct rules_result res;
    struct msg_model m;
    struct ruleset *rs;

    (void)state;
    assert_non_null(scan);
    sink = rules_scan_sink(scan);
    assert_non_null(sink);
    assert_non_null(sink->text);
    assert_int_equal(sink->text(sink->arg, &scan_part, "hello", 5), 0);
    assert_int_equal(sink->text(sink->arg, &scan_part, "", 0), 0);
    assert_null(rules_scan_sink(NULL));

    memset(&m, 0, sizeof(m));
    assert_int_equal(rules_eval(NULL, &m, NULL, scan, ENC, &res), 0);
    assert_int_equal(res.nmatched + res.naudited + res.nactions, 0);
    assert_null(res.reject);
    rules_result_free(&res);
    rules_scan_free(scan);
    rules_scan_free(NULL);

    /* a model without subject (NULL) is an empty subject */
    rs = test_rules_load("rules:\n  - name: a\n    if: {subject_contains: x}\n    then: {quarantine: q}\n");
    m.subject = NULL;
    m.incomplete = HDR;
    assert_int_equal(rules_eval(rs, &m, NULL, NULL, ENC, &res), 0);
    assert_int_equal(res.quarantine, 1);
    assert_int_equal(res.nmatched, 0);
    rules_result_free(&res);
    rules_free(rs);
    rules_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subject_contains, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_recipient_scope, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_order_stop_audit, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_reject_and_action_order, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_unknown, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_scan_and_empty, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
