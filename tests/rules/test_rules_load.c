/*
 * test_rules_load - loading rules files: every load error with its exact
 * FILE:LINE:COLUMN, several errors in one run, defaults, action order,
 * priority sorting, directories (name order, ignored files, empty),
 * duplicate names within and across files, a missing path.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "rules/rules.h"
#include "tests/support/diag_check.h"
#include "tests/support/tmpdir.h"
#include "rules/rules_int.h"
#include "util/buf.h"
#include "util/diag.h"

static const char *current_case = "";

/* write_file - create test_tmpdir/name with text */
static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", test_tmpdir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* tpath - test_tmpdir/name in a static buffer */
static const char *tpath(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", test_tmpdir, name);
    return path;
}

/* check_diags - d holds exactly the expected messages (NULL-terminated) */
static void check_diags(const struct diag *d, const char *const *want)
{
    char context[8192];

    snprintf(context, sizeof(context), "case: %s", current_case);
    test_check_diags(d, want, test_tmpdir, context);
}

#define MAXD 12

struct err_case {
    const char *yaml;
    const char *want[MAXD];   /* "@/" stands for the temporary directory */
};

#define OK_IF "    if: {recipient_scope: external}\n"
#define OK_THEN "    then: {quarantine: held}\n"

static const struct err_case err_cases[] = {
    /* the file's top level */
    { "", { "@/r.yaml:1:1: the file is empty (expected 'rules:' with a list of rules)" } },
    { "# only a comment\n", { "@/r.yaml:1:1: the file is empty (expected 'rules:' with a list of rules)" } },
    { "- a\n", { "@/r.yaml:1:1: expected a mapping with the key 'rules', not a list" } },
    { "rule:\n  - name: a\n",
      { "@/r.yaml:1:1: unknown key 'rule' (did you mean 'rules'?)",
        "@/r.yaml:1:1: missing required key 'rules'" } },
    { "rules: {name: a}\n", { "@/r.yaml:1:8: rules: expected a list of rules, not a mapping" } },
    { "rules:\n  - just a string\n",
      { "@/r.yaml:2:5: expected a rule (a mapping with name, if and then), not a string" } },
    { "rules:\nextra: 1\n",
      { "@/r.yaml:2:1: unknown key 'extra' (allowed: rules, sensitive_types)" } },
    /* YAML-level problems come from the tree */
    { "rules:\n  - name: &n a\n", { "@/r.yaml:2:11: anchors and aliases are not supported" } },
    { "rules:\n  - name: a\n    name: b\n",
      { "@/r.yaml:3:5: duplicate key 'name' (first at line 2 column 5)" } },
    { "rules: [\n", { "@/r.yaml:2:1: did not find expected node content (while parsing a flow node at line 2 column 1)" } },
    /* missing keys */
    { "rules:\n  - if: {recipient_scope: external}\n    then: {quarantine: x}\n",
      { "@/r.yaml:2:5: rule is missing 'name'" } },
    { "rules:\n  - name: a\n" OK_THEN, { "@/r.yaml:2:5: rule 'a' is missing 'if'" } },
    { "rules:\n  - name: a\n" OK_IF, { "@/r.yaml:2:5: rule 'a' is missing 'then'" } },
    { "rules:\n  - description: nothing\n",
      { "@/r.yaml:2:5: rule is missing 'name'", "@/r.yaml:2:5: rule is missing 'if'",
        "@/r.yaml:2:5: rule is missing 'then'" } },
    /* empty or mistyped if/then */
    { "rules:\n  - name: a\n    if: {}\n" OK_THEN,
      { "@/r.yaml:3:9: if: a rule needs at least one condition" } },
    { "rules:\n  - name: a\n    if:\n" OK_THEN,
      { "@/r.yaml:3:8: if: a rule needs at least one condition" } },
    { "rules:\n  - name: a\n    if: [recipient_scope]\n" OK_THEN,
      { "@/r.yaml:3:9: if: expected a mapping of conditions, not a list" } },
    { "rules:\n  - name: a\n" OK_IF "    then: quarantine\n",
      { "@/r.yaml:4:11: then: expected a mapping of actions, not a string" } },
    /* unknown keys, conditions, actions */
    { "rules:\n  - name: a\n    priorty: 5\n" OK_IF OK_THEN,
      { "@/r.yaml:3:5: unknown key 'priorty' in rule (did you mean 'priority'?)" } },
    { "rules:\n  - name: a\n    colour: red\n" OK_IF OK_THEN,
      { "@/r.yaml:3:5: unknown key 'colour' in rule (allowed: name, description, enabled, "
        "priority, mode, stop, if, if_any, unless, active, then)" } },
    { "rules:\n  - name: a\n    if: {subjct_contains: x}\n" OK_THEN,
      { "@/r.yaml:3:10: unknown condition 'subjct_contains' (did you mean 'subject_contains'?)" } },
    { "rules:\n  - name: a\n    if:\n      language_is: x\n      recipient_scope: internal\n" OK_THEN,
      { "@/r.yaml:4:7: unknown condition 'language_is' (allowed: subject_contains, recipient_scope, "
        "sender_is, sender_domain_is, sender_matches, sender_scope, recipient_is, "
        "recipient_domain_is, recipient_matches, has_attachment, attachment_name_matches, "
        "attachment_extension_is, attachment_type_is, attachment_size_over, size_over, "
        "header_contains, header_matches, subject_matches, body_contains, "
        "subject_or_body_contains, attachment_contains, body_matches, subject_or_body_matches, "
        "attachment_matches, already_encrypted, sensitive_info)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {quarantin: x}\n",
      { "@/r.yaml:4:12: unknown action 'quarantin' (did you mean 'quarantine'?)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {discard: true}\n",
      { "@/r.yaml:4:12: unknown action 'discard' (allowed: add_header, set_header, "
        "remove_header, remove_subject_tag, prepend_subject, reject, quarantine, encrypt, bcc, log)" } },
    /* wrong types and values of the rule's own keys */
    { "rules:\n  - name: [a]\n" OK_IF OK_THEN, { "@/r.yaml:2:11: name: expected a string, not a list" } },
    { "rules:\n  - name: \"a b\"\n" OK_IF OK_THEN,
      { "@/r.yaml:2:11: name: 'a b' is not a valid rule name (letters, digits, '.', '_' and '-', "
        "at most 64 characters)" } },
    { "rules:\n  - name: a\n    enabled: \"yes\"\n" OK_IF OK_THEN,
      { "@/r.yaml:3:14: enabled: expected true or false, not 'yes' (quoted)" } },
    { "rules:\n  - name: a\n    stop: on\n" OK_IF OK_THEN,
      { "@/r.yaml:3:11: stop: expected true or false, not 'on'" } },
    { "rules:\n  - name: a\n    enabled: {}\n" OK_IF OK_THEN,
      { "@/r.yaml:3:14: enabled: expected true or false, not a mapping" } },
    { "rules:\n  - name: a\n    priority: high\n" OK_IF OK_THEN,
      { "@/r.yaml:3:15: priority: expected an integer, not 'high'" } },
    { "rules:\n  - name: a\n    priority: -1\n" OK_IF OK_THEN,
      { "@/r.yaml:3:15: priority: -1 is out of range (allowed 0..1000000)" } },
    { "rules:\n  - name: a\n    priority: 1000001\n" OK_IF OK_THEN,
      { "@/r.yaml:3:15: priority: 1000001 is out of range (allowed 0..1000000)" } },
    { "rules:\n  - name: a\n    mode: log\n" OK_IF OK_THEN,
      { "@/r.yaml:3:11: mode: expected enforce or audit, not 'log'" } },
    { "rules:\n  - name: a\n    description: \"two\\nlines\"\n" OK_IF OK_THEN,
      { "@/r.yaml:3:18: description: must not contain CR or LF" } },
    /* conditions */
    { "rules:\n  - name: a\n    if: {recipient_scope: outside}\n" OK_THEN,
      { "@/r.yaml:3:27: recipient_scope: expected internal or external, not 'outside'" } },
    { "rules:\n  - name: a\n    if: {recipient_scope: [internal, elsewhere, {}]}\n" OK_THEN,
      { "@/r.yaml:3:38: recipient_scope: expected internal or external, not 'elsewhere'",
        "@/r.yaml:3:49: recipient_scope: expected internal or external, not a mapping" } },
    { "rules:\n  - name: a\n    if: {recipient_scope: []}\n" OK_THEN,
      { "@/r.yaml:3:27: recipient_scope: expected internal or external, not an empty list" } },
    { "rules:\n  - name: a\n    if: {subject_contains: []}\n" OK_THEN,
      { "@/r.yaml:3:28: subject_contains: expected at least one phrase" } },
    { "rules:\n  - name: a\n    if: {subject_contains: {a: b}}\n" OK_THEN,
      { "@/r.yaml:3:28: subject_contains: expected a phrase or a list of phrases, not a mapping" } },
    { "rules:\n  - name: a\n    if: {subject_contains: [ok, [x], \"\\u200b\", \"a\\rb\"]}\n" OK_THEN,
      { "@/r.yaml:3:33: subject_contains: expected a string, not a list",
        "@/r.yaml:3:38: subject_contains: phrase '\xe2\x80\x8b' has no visible characters",
        "@/r.yaml:3:48: subject_contains: must not contain CR or LF" } },
    { "rules:\n  - name: a\n    if: {subject_contains: \"\"}\n" OK_THEN,
      { "@/r.yaml:3:28: subject_contains: must not be empty" } },
    /* add_header / set_header */
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: X Foo, value: v}}\n",
      { "@/r.yaml:4:31: add_header.name: 'X Foo' is not a valid header name (printable ASCII "
        "without spaces or colons, at most 76 characters)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: \"X:Foo\", value: v}}\n",
      { "@/r.yaml:4:31: add_header.name: 'X:Foo' is not a valid header name (printable ASCII "
        "without spaces or colons, at most 76 characters)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: \"X-\\u00e4\", value: v}}\n",
      { "@/r.yaml:4:31: add_header.name: 'X-\xc3\xa4' is not a valid header name (printable ASCII "
        "without spaces or colons, at most 76 characters)" } },
    { "rules:\n  - name: a\n" OK_IF "    then:\n      add_header:\n        name: "
      "X-123456789012345678901234567890123456789012345678901234567890123456789012345\n        value: v\n",
      { "@/r.yaml:6:15: add_header.name: 'X-12345678901234567890123456789012345678901234567890"
        "1234567890123456789012345' is not a valid header name (printable ASCII without spaces or "
        "colons, at most 76 characters)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: X-MAILSEAL-LOOP, value: v}}\n",
      { "@/r.yaml:4:31: add_header.name: X-Mailseal-Loop is the gateway's loop protection "
        "header and cannot be set by rules" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {set_header: {name: X-Mailseal-Loop, value: v}}\n",
      { "@/r.yaml:4:31: set_header.name: X-Mailseal-Loop is the gateway's loop protection "
        "header and cannot be set by rules" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: X-A, value: \"a\\r\\nBcc: x\"}}\n",
      { "@/r.yaml:4:43: add_header.value: must not contain CR or LF" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {set_header: {name: X-A, value: \"a\\x01\"}}\n",
      { "@/r.yaml:4:43: set_header.value: must not contain control characters" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {set_header: {name: X-A, value: [v]}}\n",
      { "@/r.yaml:4:43: set_header.value: expected a string, not a list" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {value: v}}\n",
      { "@/r.yaml:4:24: add_header: missing 'name'" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: X-A}}\n",
      { "@/r.yaml:4:24: add_header: missing 'value'" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: {name: X-A, value: v, where: top}}\n",
      { "@/r.yaml:4:46: unknown key 'where' in add_header (allowed: name, value)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {add_header: \"X-A: v\"}\n",
      { "@/r.yaml:4:24: add_header: expected a mapping with name and value, not a string" } },
    /* prepend_subject */
    { "rules:\n  - name: a\n" OK_IF "    then: {prepend_subject: \"\"}\n",
      { "@/r.yaml:4:29: prepend_subject: must not be empty" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {prepend_subject: \"[x]\\n\"}\n",
      { "@/r.yaml:4:29: prepend_subject: must not contain CR or LF" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {prepend_subject: [x]}\n",
      { "@/r.yaml:4:29: prepend_subject: expected a string, not a list" } },
    /* reject */
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {code: 450, message: no}}\n",
      { "@/r.yaml:4:27: reject.code: 450 is out of range (allowed 500..599)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {code: 600, status: \"5.7.1\", message: no}}\n",
      { "@/r.yaml:4:27: reject.code: 600 is out of range (allowed 500..599)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {code: five, message: no}}\n",
      { "@/r.yaml:4:27: reject.code: expected a 5xx reply code, not a string" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {code: 554, status: \"4.7.1\", message: no}}\n",
      { "@/r.yaml:4:40: reject.status: '4.7.1' is not a valid status for code 554 (expected 5.X.Y)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {status: 5.7, message: no}}\n",
      { "@/r.yaml:4:29: reject.status: '5.7' is not a valid status for code 550 (expected 5.X.Y)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {status: 5.7.1000, message: no}}\n",
      { "@/r.yaml:4:29: reject.status: '5.7.1000' is not a valid status for code 550 (expected 5.X.Y)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {status: \"5.7.1 \", message: no}}\n",
      { "@/r.yaml:4:29: reject.status: '5.7.1 ' is not a valid status for code 550 (expected 5.X.Y)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {code: 550}}\n",
      { "@/r.yaml:4:20: reject: missing 'message'" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {message: \"no\\r\\n250 ok\"}}\n",
      { "@/r.yaml:4:30: reject.message: must not contain CR or LF" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {message: \"tab\\there\"}}\n",
      { "@/r.yaml:4:30: reject.message: must not contain control characters" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {message: \"gr\\u00fc\\u00df\"}}\n",
      { "@/r.yaml:4:30: reject.message: must be ASCII" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: {text: no, message: no}}\n",
      { "@/r.yaml:4:21: unknown key 'text' in reject (allowed: code, status, message)" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {reject: denied}\n",
      { "@/r.yaml:4:20: reject: expected a mapping with code, status and message, not a string" } },
    /* quarantine */
    { "rules:\n  - name: a\n" OK_IF "    then: {quarantine: \"a\\rb\"}\n",
      { "@/r.yaml:4:24: quarantine: must not contain CR or LF" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {quarantine: \"\\u00e9\"}\n",
      { "@/r.yaml:4:24: quarantine: must be ASCII" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {quarantine: \"\\x7f\"}\n",
      { "@/r.yaml:4:24: quarantine: must not contain control characters" } },
    { "rules:\n  - name: a\n" OK_IF "    then: {quarantine: }\n",
      { "@/r.yaml:4:24: quarantine: expected a string, not nothing" } },
    /* duplicate names in one file */
    { "rules:\n  - name: a\n" OK_IF OK_THEN "  - name: b\n" OK_IF OK_THEN "  - name: a\n" OK_IF OK_THEN,
      { "@/r.yaml:8:11: duplicate rule name 'a' (first defined at @/r.yaml:2:11)" } },
    /* several errors in one run, in several rules, in file order */
    { "rules:\n"
      "  - name: one\n"
      "    priority: x\n"
      "    if: {subject_contains: [], recipient_scope: all}\n"
      "    then: {reject: {code: 450, message: \"a\\nb\"}, add_header: {name: \"\", value: v}}\n"
      "  - name: two\n"
      "    if: {recipient_scope: internal}\n"
      "    then: {quarantine: ok}\n"
      "  - name: one\n"
      "    mode: loud\n"
      "    then: {}\n",
      { "@/r.yaml:3:15: priority: expected an integer, not 'x'",
        "@/r.yaml:4:28: subject_contains: expected at least one phrase",
        "@/r.yaml:4:49: recipient_scope: expected internal or external, not 'all'",
        "@/r.yaml:5:69: add_header.name: '' is not a valid header name (printable ASCII without "
        "spaces or colons, at most 76 characters)",
        "@/r.yaml:5:27: reject.code: 450 is out of range (allowed 500..599)",
        "@/r.yaml:5:41: reject.message: must not contain CR or LF",
        "@/r.yaml:10:11: mode: expected enforce or audit, not 'loud'",
        "@/r.yaml:9:5: rule 'one' is missing 'if'",
        "@/r.yaml:9:11: duplicate rule name 'one' (first defined at @/r.yaml:2:11)" } },
};

/* test_load_errors - every error case gives exactly its diagnostics */
static void test_load_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        struct diag d;
        struct ruleset *rs;

        current_case = err_cases[i].yaml;
        write_file("r.yaml", err_cases[i].yaml);
        diag_init(&d);
        rs = rules_load(tpath("r.yaml"), &d);
        assert_null(rs);
        check_diags(&d, err_cases[i].want);
        diag_free(&d);
    }
}

/* test_defaults_and_order - defaults, actions in table order, sorting */
static void test_defaults_and_order(void **state)
{
    static const char yaml[] =
        "rules:\n"
        "  - name: late\n"
        "    description: \"the default priority\"\n"
        "    if: {recipient_scope: external}\n"
        "    then:\n"
        "      quarantine: held\n"
        "      reject: {message: \"Not allowed\"}\n"
        "      prepend_subject: \"[Secure] \"\n"
        "      set_header: {name: X-Set, value: \"s\\tt\"}\n"
        "      add_header: {name: X-Class, value: \"vertraulich \\u00e4\"}\n"
        "  - name: early\n"
        "    priority: 10\n"
        "    enabled: no\n"
        "    mode: audit\n"
        "    stop: yes\n"
        "    if: {subject_contains: x}\n"
        "    then: {reject: {code: 554, status: \"5.7.0\", message: \"100% sure\"}}\n"
        "  - name: tie-first\n"
        "    priority: 50\n"
        "    if: {subject_contains: x}\n"
        "    then: {}\n"
        "  - name: tie-second\n"
        "    priority: 50\n"
        "    if: {subject_contains: x}\n"
        "    then:\n";
    static const char *const order[] = { "early", "tie-first", "tie-second", "late" };
    struct diag d;
    struct ruleset *rs;
    const struct rule *r;

    (void)state;
    write_file("r.yaml", yaml);
    diag_init(&d);
    rs = rules_load(tpath("r.yaml"), &d);
    check_diags(&d, (const char *const[]){ NULL });
    assert_non_null(rs);
    assert_int_equal(rules_count(rs), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(rs->rules[i].name, order[i]);
    assert_int_equal(rs->nactions, 6);

    r = &rs->rules[3];
    assert_int_equal(r->priority, 100);
    assert_int_equal(r->enabled, 1);
    assert_int_equal(r->audit, 0);
    assert_int_equal(r->stop, 0);
    assert_string_equal(r->description, "the default priority");
    assert_int_equal(r->nconds, 1);
    assert_string_equal(r->conds[0].kind->name, "recipient_scope");
    assert_int_equal(r->nactions, 5);
    assert_int_equal(r->actions[0].kind, ACT_ADD_HEADER);
    assert_string_equal(r->actions[0].name, "X-Class");
    assert_string_equal(r->actions[0].value, "vertraulich \xc3\xa4");
    assert_int_equal(r->actions[1].kind, ACT_SET_HEADER);
    assert_string_equal(r->actions[1].name, "X-Set");
    assert_string_equal(r->actions[1].value, "s\tt");
    assert_int_equal(r->actions[2].kind, ACT_PREPEND_SUBJECT);
    assert_string_equal(r->actions[2].value, "[Secure] ");
    assert_int_equal(r->actions[3].kind, ACT_REJECT);
    assert_int_equal(r->actions[3].code, 550);
    assert_string_equal(r->actions[3].status, "5.7.1");
    assert_string_equal(r->actions[3].text, "Not allowed");
    assert_int_equal(r->actions[4].kind, ACT_QUARANTINE);
    assert_string_equal(r->actions[4].value, "held");
    for (size_t i = 0; i < r->nactions; i++)
        assert_ptr_equal(r->actions[i].rule, r->name);
    assert_string_equal(r->file, tpath("r.yaml"));
    assert_int_equal(r->line, 2);
    assert_int_equal(r->col, 5);

    r = &rs->rules[0];
    assert_int_equal(r->priority, 10);
    assert_int_equal(r->enabled, 0);
    assert_int_equal(r->audit, 1);
    assert_int_equal(r->stop, 1);
    assert_null(r->description);
    assert_int_equal(r->actions[0].code, 554);
    assert_string_equal(r->actions[0].status, "5.7.0");
    assert_string_equal(r->actions[0].text, "100% sure");
    assert_int_equal(rs->rules[1].nactions, 0);
    assert_int_equal(rs->rules[2].nactions, 0);
    rules_free(rs);
    diag_free(&d);
}

/* test_empty_lists - "rules:" with nothing, or an empty list: no rules */
static void test_empty_lists(void **state)
{
    static const char *const texts[] = { "rules:\n", "rules: []\n", "rules: ~\n" };

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct diag d;
        struct ruleset *rs;

        write_file("r.yaml", texts[i]);
        diag_init(&d);
        rs = rules_load(tpath("r.yaml"), &d);
        assert_non_null(rs);
        assert_int_equal(rules_count(rs), 0);
        assert_int_equal(diag_count(&d), 0);
        rules_free(rs);
    }
}

#define RULE(n, p) "  - name: " n "\n    priority: " #p "\n    if: {recipient_scope: external}\n    then: {}\n"

/* test_directory - *.yaml files in name order, others ignored */
static void test_directory(void **state)
{
    static const char *const order[] = { "a1", "a2", "b1", "c1", "b0" };
    struct diag d;
    struct ruleset *rs;

    (void)state;
    assert_int_equal(mkdir(tpath("rules.d"), 0700), 0);
    write_file("rules.d/b.yaml", "rules:\n" RULE("b1", 100) RULE("b0", 200));
    write_file("rules.d/a.yaml", "rules:\n" RULE("a1", 100) RULE("a2", 100));
    write_file("rules.d/c.yaml", "rules:\n" RULE("c1", 100));
    write_file("rules.d/d.yml", "not: loaded\n");
    write_file("rules.d/.hidden.yaml", "not: loaded\n");
    write_file("rules.d/README", "not loaded\n");
    write_file("rules.d/e.yaml.orig", "not: loaded\n");
    diag_init(&d);
    rs = rules_load(tpath("rules.d"), &d);
    check_diags(&d, (const char *const[]){ NULL });
    assert_non_null(rs);
    assert_int_equal(rules_count(rs), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(rs->rules[i].name, order[i]);
    assert_string_equal(rs->rules[0].file, tpath("rules.d/a.yaml"));
    rules_free(rs);

    /* a trailing slash on the directory changes nothing */
    rs = rules_load(tpath("rules.d/"), &d);
    assert_non_null(rs);
    assert_string_equal(rs->rules[0].file, tpath("rules.d/a.yaml"));
    rules_free(rs);
    diag_free(&d);
}

/* test_directory_errors - errors in several files, duplicates across files */
static void test_directory_errors(void **state)
{
    static const char *const want[] = {
        "@/rules.d/10-a.yaml:4:7: unknown condition 'subject' (allowed: subject_contains, "
        "recipient_scope, sender_is, sender_domain_is, sender_matches, sender_scope, "
        "recipient_is, recipient_domain_is, recipient_matches, has_attachment, "
        "attachment_name_matches, attachment_extension_is, attachment_type_is, "
        "attachment_size_over, size_over, "
        "header_contains, header_matches, subject_matches, body_contains, "
        "subject_or_body_contains, attachment_contains, body_matches, subject_or_body_matches, "
        "attachment_matches, already_encrypted, sensitive_info)",
        "@/rules.d/20-b.yaml:1:8: rules: expected a list of rules, not a string",
        "@/rules.d/30-c.yaml:2:11: duplicate rule name 'dup' (first defined at @/rules.d/10-a.yaml:2:11)",
        "@/rules.d/30-c.yaml:6:11: duplicate rule name 'ok' (first defined at @/rules.d/10-a.yaml:6:11)",
        NULL,
    };
    struct diag d;

    (void)state;
    assert_int_equal(mkdir(tpath("rules.d"), 0700), 0);
    write_file("rules.d/10-a.yaml",
               "rules:\n  - name: dup\n    if:\n      subject: x\n    then: {}\n" RULE("ok", 1));
    write_file("rules.d/20-b.yaml", "rules: none\n");
    write_file("rules.d/30-c.yaml", "rules:\n" RULE("dup", 1) RULE("ok", 2));
    diag_init(&d);
    assert_null(rules_load(tpath("rules.d"), &d));
    check_diags(&d, want);
    diag_free(&d);
}

/* test_empty_directory - allowed: zero rules */
static void test_empty_directory(void **state)
{
    struct diag d;
    struct ruleset *rs;

    (void)state;
    assert_int_equal(mkdir(tpath("empty.d"), 0700), 0);
    write_file("empty.d/notes.txt", "x\n");
    diag_init(&d);
    rs = rules_load(tpath("empty.d"), &d);
    assert_non_null(rs);
    assert_int_equal(rules_count(rs), 0);
    assert_int_equal(diag_count(&d), 0);
    rules_free(rs);
    assert_int_equal(rules_count(NULL), 0);
    rules_free(NULL);
}

/* test_missing_path - a path that does not exist is an error */
static void test_missing_path(void **state)
{
    struct diag d;

    (void)state;
    diag_init(&d);
    assert_null(rules_load(tpath("nope.yaml"), &d));
    check_diags(&d, (const char *const[]){
        "@/nope.yaml: cannot access rules: No such file or directory", NULL });
    diag_free(&d);

    /* a directory entry named *.yaml that is not a regular file */
    assert_int_equal(mkdir(tpath("r.d"), 0700), 0);
    assert_int_equal(mkdir(tpath("r.d/sub.yaml"), 0700), 0);
    diag_init(&d);
    assert_null(rules_load(tpath("r.d"), &d));
    check_diags(&d, (const char *const[]){ "@/r.d/sub.yaml: not a regular file", NULL });
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_errors, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_order, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_empty_lists, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_directory, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_directory_errors, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_empty_directory, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_path, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
