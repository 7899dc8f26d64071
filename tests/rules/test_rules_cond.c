/*
 * test_rules_cond - the envelope, attachment, size and header conditions:
 * every load error with its exact FILE:LINE:COLUMN message, and the
 * three-valued result and explain excerpt of each condition against
 * hand-built models and envelopes (complete, and cut by each limit).
 *
 * Each condition is put in a one-rule file whose action is quarantine, and
 * evaluated under on_incomplete: encrypt, so the outcome tells the truth
 * value: "T" (matched), "U:BITS" (undecided: quarantined for incomplete
 * BITS) or "F".
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

/* one_rule - the yaml of a rule "r" with the condition text cond */
static void one_rule(char *out, size_t len, const char *cond)
{
    snprintf(out, len, "rules:\n  - name: r\n    if: {%s}\n    then: {quarantine: held}\n", cond);
}

struct err_case {
    const char *cond;         /* inside if: {...}, at line 3 column 10 */
    const char *want;         /* the message, after "FILE:" */
};

static const struct err_case err_cases[] = {
    { "sender_is: bob", "3:21: sender_is: 'bob' is not an address (expected local@domain)" },
    { "sender_is: [a@b.c, \"@x\"]", "3:29: sender_is: '@x' is not an address (expected local@domain)" },
    { "sender_is: []", "3:21: sender_is: expected at least one value" },
    { "sender_is: {a: b}", "3:21: sender_is: expected a string or a list of strings, not a mapping" },
    { "recipient_is: \"a b@c\"", "3:24: recipient_is: 'a b@c' is not an address (expected local@domain)" },
    { "sender_domain_is: a.*.com",
      "3:28: sender_domain_is: invalid domain 'a.*.com': only a leading '*.' wildcard is allowed" },
    { "recipient_domain_is: [ok.com, \"x..y\"]", "3:40: recipient_domain_is: invalid domain 'x..y'" },
    { "recipient_domain_is: \"*.\"", "3:31: recipient_domain_is: invalid domain '*.'" },
    { "sender_matches: \"a(b\"",
      "3:26: sender_matches: bad pattern at offset 3: missing closing parenthesis" },
    { "recipient_matches: [ok, \"x[\"]",
      "3:34: recipient_matches: bad pattern at offset 2: missing terminating ] for character class" },
    { "attachment_name_matches: \"*.exe\"",
      "3:35: attachment_name_matches: bad pattern at offset 0: quantifier does not follow a "
      "repeatable item" },
    { "sender_matches: []", "3:26: sender_matches: expected at least one pattern" },
    { "sender_scope: outside", "3:24: sender_scope: expected internal or external, not 'outside'" },
    { "sender_scope: [internal]", "3:24: sender_scope: expected internal or external, not a list" },
    { "has_attachment: maybe", "3:26: has_attachment: expected true or false, not 'maybe'" },
    { "attachment_extension_is: [pdf, \"*.exe\"]", "3:41: attachment_extension_is: invalid extension '*.exe'" },
    { "attachment_extension_is: \".\"", "3:35: attachment_extension_is: invalid extension '.'" },
    { "attachment_type_is: pdf",
      "3:30: attachment_type_is: invalid content type 'pdf' (expected type/subtype or type/*)" },
    { "attachment_type_is: \"*/pdf\"",
      "3:30: attachment_type_is: invalid content type '*/pdf' (expected type/subtype or type/*)" },
    { "attachment_size_over: 10XB",
      "3:32: attachment_size_over: invalid size '10XB' (expected a number of bytes with an "
      "optional unit: KB, MB, GB)" },
    { "size_over: [1MB]", "3:21: size_over: expected a size, not a list" },
    { "header_contains: X-Class", "3:27: header_contains: expected {name: HEADER, words: [...]}, not a string" },
    { "header_contains: {name: X-Class}", "3:27: header_contains: missing 'words'" },
    { "header_contains: {words: [a]}", "3:27: header_contains: missing 'name'" },
    { "header_contains: {name: \"X Class\", words: a}",
      "3:34: header_contains: invalid header name 'X Class' (printable ASCII without ':', at most 76 characters)" },
    { "header_contains: {name: X-Class, words: [\"\\u200b\"]}",
      "3:51: header_contains: phrase '\xe2\x80\x8b' has no visible characters" },
    { "header_contains: {name: X-Class, words: []}", "3:50: header_contains: expected at least one phrase" },
    { "header_matches: {name: [X], patterns: a}", "3:33: header_matches: name: expected a header name, not a list" },
    { "header_matches: {name: X-A, patterns: \"(?<n\"}",
      "3:48: header_matches: bad pattern at offset 4: syntax error in subpattern name (missing terminator?)" },
    { "subject_matches: \"a{2,1}\"",
      "3:27: subject_matches: bad pattern at offset 5: numbers out of order in {} quantifier" },
    { "subject_matches: {a: b}", "3:27: subject_matches: expected a pattern or a list of patterns, not a mapping" },
    { "sender_iss: a@b.c", "3:10: unknown condition 'sender_iss' (did you mean 'sender_is'?)" },
    { "attachment_size: 1MB",
      "3:10: unknown condition 'attachment_size' (allowed: subject_contains, recipient_scope, "
      "sender_is, sender_domain_is, sender_matches, sender_scope, recipient_is, "
      "recipient_domain_is, recipient_matches, has_attachment, attachment_name_matches, "
      "attachment_extension_is, attachment_type_is, attachment_size_over, size_over, "
        "header_contains, header_matches, subject_matches, body_contains, "
        "subject_or_body_contains, attachment_contains, body_matches, subject_or_body_matches, "
        "attachment_matches, already_encrypted, sensitive_info)" },
};

/* test_errors - every invalid argument gives exactly its message */
static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        char yaml[1024], path[512], want[1024];
        struct diag d;
        struct ruleset *rs;

        one_rule(yaml, sizeof(yaml), err_cases[i].cond);
        rs = test_rules_try(yaml, &d, path, sizeof(path));
        snprintf(want, sizeof(want), "%s:%s", path, err_cases[i].want);
        if (rs != NULL || d.count != 1 || strcmp(d.items[0], want) != 0) {
            for (size_t j = 0; j < d.count; j++)
                print_message("  got[%zu]: %s\n", j, d.items[j]);
            fail_msg("case %zu (%s): want %s", i, err_cases[i].cond, want);
        }
        diag_free(&d);
    }
}

/* test_errors_several - a misspelt key of a header condition gives the
 * typo and the missing key, in that order */
static void test_errors_several(void **state)
{
    char yaml[1024], path[512], want[2][1024];
    struct diag d;

    (void)state;
    one_rule(yaml, sizeof(yaml), "header_contains: {name: X-Class, word: [a]}");
    assert_null(test_rules_try(yaml, &d, path, sizeof(path)));
    snprintf(want[0], sizeof(want[0]), "%s:3:43: unknown key 'word' in header_contains "
             "(did you mean 'words'?)", path);
    snprintf(want[1], sizeof(want[1]), "%s:3:27: header_contains: missing 'words'", path);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.items[0], want[0]);
    assert_string_equal(d.items[1], want[1]);
    diag_free(&d);
}

/* The fixture message: multipart/mixed with a text part, two attachments
 * and a forwarded message holding a third. */
static struct msg_part parts[6];
static struct msg_model model;
static struct msg_header headers[] = {
    { (char *)"Subject", NULL, (char *)"Quarterly numbers" },
    { (char *)"X-Class", NULL, (char *)"Draft, TOP  SECRET for the board" },
    { (char *)"x-class", NULL, (char *)"internal" },
    { (char *)"Keywords", NULL, (char *)"\xc3\x84rger, budget" },
    { (char *)"Received", NULL, (char *)"from mx.example.com by gw" },
};

/* part_set - fill one part */
static void part_set(struct msg_part *p, unsigned id, struct msg_part *parent,
                     const char *type, const char *name, uint64_t size, unsigned flags)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->parent = parent;
    p->depth = parent ? parent->depth + 1 : 0;
    p->content_type = (char *)type;
    p->filename = (char *)name;
    p->decoded_size = size;
    p->flags = flags;
}

/* build_model - the fixture; with_att 0: only the text part is left */
static void build_model(int with_att, unsigned incomplete)
{
    memset(&model, 0, sizeof(model));
    part_set(&parts[0], 0, NULL, "multipart/mixed", NULL, 0, MSG_PART_MULTIPART);
    part_set(&parts[1], 1, &parts[0], "text/plain", NULL, 120, MSG_PART_TEXT);
    part_set(&parts[2], 2, &parts[0], "application/pdf", "Report Q3.PDF", 2u << 20,
             MSG_PART_ATTACHMENT);
    part_set(&parts[3], 3, &parts[0], "image/jpeg", "photo.jpeg", 50u << 10, MSG_PART_ATTACHMENT);
    part_set(&parts[4], 4, &parts[0], "message/rfc822", NULL, 4096, MSG_PART_MESSAGE);
    part_set(&parts[5], 5, &parts[4], "application/gzip", "inner.tar.gz", 3000,
             MSG_PART_ATTACHMENT);
    parts[0].children = &parts[1];
    if (with_att) {
        parts[1].next = &parts[2];
        parts[2].next = &parts[3];
        parts[3].next = &parts[4];
        parts[4].children = &parts[5];
    }
    model.root = &parts[0];
    parts[0].headers = headers;
    parts[0].nheaders = sizeof(headers) / sizeof(headers[0]);
    model.nparts = with_att ? 6 : 2;
    model.subject = "Quarterly numbers";
    model.size = 3u << 20;
    model.incomplete = incomplete;
}

struct eval_case {
    const char *cond;
    int with_att;
    unsigned incomplete;
    const char *want;         /* T, F or U:BITS */
    const char *excerpt;      /* for T: the explain excerpt */
};

#define TREE (MSG_INC_PARTS)

static const struct eval_case eval_cases[] = {
    /* sender */
    { "sender_is: alice@example.com", 1, 0, "T", "sender Alice@Example.com" },
    { "sender_is: [x@y.z, ALICE@example.COM]", 1, 0, "T", "sender Alice@Example.com" },
    { "sender_is: alice@example.org", 1, 0, "F", NULL },
    { "sender_domain_is: Example.COM", 1, 0, "T", "sender Alice@Example.com" },
    { "sender_domain_is: \"*.example.com\"", 1, 0, "F", NULL },
    { "sender_domain_is: [\"*.com\"]", 1, 0, "T", "sender Alice@Example.com" },
    { "sender_matches: \"^alice@\"", 1, 0, "F", NULL },
    { "sender_matches: \"(?i)^alice@\"", 1, 0, "T", ">>Alice@<<Example.com" },
    { "sender_matches: [\"zz\", \"\\\\.com$\"]", 1, 0, "T", "Alice@Example>>.com<<" },
    { "sender_matches: \"(a+)+$\"", 1, 0, "F", NULL },
    { "sender_scope: internal", 1, 0, "T", "internal sender Alice@Example.com" },
    { "sender_scope: external", 1, 0, "F", NULL },
    /* recipients: any of them */
    { "recipient_is: CAROL@sub.example.com", 1, 0, "T", "recipient carol@sub.example.com" },
    { "recipient_is: [nobody@x.y]", 1, 0, "F", NULL },
    { "recipient_domain_is: \"*.example.com\"", 1, 0, "T", "recipient carol@sub.example.com" },
    { "recipient_domain_is: example.com", 1, 0, "F", NULL },
    { "recipient_domain_is: [other.org, partner.example]", 1, 0, "T", "recipient bob@partner.example" },
    { "recipient_matches: \"^carol\"", 1, 0, "T", ">>carol<<@sub.example.com" },
    { "recipient_matches: \"\\u00e9\"", 1, 0, "F", NULL },
    /* the limits do not matter to envelope conditions */
    { "recipient_is: nobody@x.y", 1, MSG_INC_PARTS | MSG_INC_HEADERS, "F", NULL },
    /* attachments */
    { "has_attachment: true", 1, 0, "T", "attachment Report Q3.PDF (application/pdf)" },
    { "has_attachment: true", 0, 0, "F", NULL },
    { "has_attachment: true", 0, MSG_INC_DEPTH, "U:4", NULL },
    { "has_attachment: true", 0, MSG_INC_SCAN | MSG_INC_HEADERS, "F", NULL },
    { "has_attachment: true", 1, MSG_INC_PARTS, "T", "attachment Report Q3.PDF (application/pdf)" },
    { "has_attachment: false", 0, 0, "T", "no attachment" },
    { "has_attachment: false", 1, 0, "F", NULL },
    { "has_attachment: false", 0, MSG_INC_SIZE | MSG_INC_PARTS, "U:9", NULL },
    { "has_attachment: false", 0, MSG_INC_OPAQUE, "U:32", NULL },
    { "has_attachment: false", 1, MSG_INC_SIZE, "F", NULL },
    { "attachment_name_matches: \"(?i)\\\\.pdf$\"", 1, 0, "T", "Report Q3>>.PDF<<" },
    { "attachment_name_matches: \"^inner\"", 1, 0, "T", ">>inner<<.tar.gz" },
    { "attachment_name_matches: \"\\\\.exe$\"", 1, 0, "F", NULL },
    { "attachment_name_matches: \"\\\\.exe$\"", 1, TREE, "U:8", NULL },
    { "attachment_extension_is: pdf", 1, 0, "T", "attachment Report Q3.PDF (application/pdf)" },
    { "attachment_extension_is: [\".GZ\"]", 1, 0, "T", "attachment inner.tar.gz (application/gzip)" },
    { "attachment_extension_is: tar.gz", 1, 0, "T", "attachment inner.tar.gz (application/gzip)" },
    { "attachment_extension_is: [jpg, exe]", 1, 0, "F", NULL },
    { "attachment_extension_is: jpeg", 0, 0, "F", NULL },
    { "attachment_extension_is: exe", 1, MSG_INC_DEPTH, "U:4", NULL },
    { "attachment_type_is: \"image/*\"", 1, 0, "T", "attachment photo.jpeg (image/jpeg)" },
    { "attachment_type_is: Application/GZIP", 1, 0, "T", "attachment inner.tar.gz (application/gzip)" },
    { "attachment_type_is: [\"video/*\", text/plain]", 1, 0, "F", NULL },
    { "attachment_size_over: 1MB", 1, 0, "T", "attachment Report Q3.PDF (2097152 bytes)" },
    { "attachment_size_over: 2MB", 1, 0, "F", NULL },
    { "attachment_size_over: 2MB", 1, MSG_INC_SIZE, "U:1", NULL },
    { "attachment_size_over: \"2999\"", 0, 0, "F", NULL },
    /* the whole message */
    { "size_over: 3MB", 1, 0, "F", NULL },
    { "size_over: 3145727", 1, 0, "T", "message size 3145728 bytes" },
    { "size_over: 1 kb", 1, MSG_INC_SIZE, "T", "message size 3145728 bytes" },
    /* headers: every top-level field of that name, decoded */
    { "header_contains: {name: x-class, words: \"top secret\"}", 1, 0, "T",
      "X-Class: draft, >>top secret<< for the board" },
    { "header_contains: {name: X-CLASS, words: [internal]}", 1, 0, "T", "x-class: >>internal<<" },
    { "header_contains: {name: X-Class, words: [secre, boardroom]}", 1, 0, "F", NULL },
    { "header_contains: {name: X-Class, words: [secre]}", 1, MSG_INC_HEADERS, "U:2", NULL },
    { "header_contains: {name: X-Class, words: [secret]}", 1, MSG_INC_HEADERS, "T",
      "X-Class: draft, top >>secret<< for the board" },
    { "header_contains: {name: Keywords, words: \"\u00e4RGER\"}", 1, 0, "T",
      "Keywords: >>\xc3\xa4rger<<, budget" },
    { "header_contains: {name: X-Missing, words: a}", 1, 0, "F", NULL },
    { "header_contains: {name: X-Class, words: internal}", 1, MSG_INC_PARTS, "T", "x-class: >>internal<<" },
    { "header_matches: {name: received, patterns: \"by gw$\"}", 1, 0, "T",
      "Received: from mx.example.com >>by gw<<" },
    { "header_matches: {name: X-Class, patterns: [\"^int\", \"x\"]}", 1, 0, "T", "x-class: >>int<<ernal" },
    { "header_matches: {name: X-Class, patterns: \"^TOP\"}", 1, 0, "F", NULL },
    { "header_matches: {name: X-Class, patterns: \"^TOP\"}", 1, MSG_INC_HEADERS, "U:2", NULL },
    { "subject_matches: \"(?i)^quarterly\\\\b\"", 1, 0, "T", ">>Quarterly<< numbers" },
    { "subject_matches: [\"^Re:\", \"\\\\d+\"]", 1, 0, "F", NULL },
    { "subject_matches: \"^Re:\"", 1, MSG_INC_HEADERS | MSG_INC_SCAN, "U:2", NULL },
};

/* eval_one - the outcome of rules rs on the fixture (and the excerpt) */
static char *eval_one(struct ruleset *rs, char **excerpt)
{
    struct msg_envelope env;
    struct msg_rcpt rc[2];
    char *outcome;
    struct rules_scan *scan = rules_scan_new(rs);

    assert_non_null(scan);
    memset(&env, 0, sizeof(env));
    env.from = (char *)"Alice@Example.com";
    env.from_domain = (char *)"example.com";
    env.from_external = 0;
    rc[0].addr = (char *)"bob@partner.example";
    rc[0].domain = (char *)"partner.example";
    rc[0].external = 1;
    rc[1].addr = (char *)"carol@sub.example.com";
    rc[1].domain = (char *)"sub.example.com";
    rc[1].external = 0;
    env.rcpts = rc;
    env.nrcpts = 2;
    outcome = test_rules_outcome(rs, &model, &env, scan, excerpt);
    rules_scan_free(scan);
    return outcome;
}

/* run_eval - each case: load, evaluate with explanations, compare */
static void run_eval(const struct eval_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct eval_case *c = &cases[i];
        char yaml[1024], path[512];
        struct diag d;
        struct ruleset *rs;
        char *got, *ex;

        one_rule(yaml, sizeof(yaml), c->cond);
        rs = test_rules_try(yaml, &d, path, sizeof(path));
        if (rs == NULL) {
            diag_print(&d, stderr);
            fail_msg("case %zu (%s) did not load", i, c->cond);
        }
        diag_free(&d);
        rules_set_explain(rs, 1);
        build_model(c->with_att, c->incomplete);
        got = eval_one(rs, &ex);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (%s, att %d, inc %u): got %s, want %s", i, c->cond,
                     c->with_att, c->incomplete, got, c->want);
        if ((c->excerpt == NULL) != (ex == NULL)
            || (ex != NULL && strcmp(ex, c->excerpt) != 0))
            fail_msg("case %zu (%s): excerpt '%s', want '%s'", i, c->cond, ex ? ex : "(none)",
                     c->excerpt ? c->excerpt : "(none)");
        free(got);
        free(ex);
        rules_free(rs);
    }
}

/* test_eval - every condition's truth value and excerpt */
static void test_eval(void **state)
{
    (void)state;
    run_eval(eval_cases, sizeof(eval_cases) / sizeof(eval_cases[0]));
}

/* test_match_limit - a catastrophic pattern is cut by the match limit and
 * leaves the rule undecided, it does not hang */
static void test_match_limit(void **state)
{
    static const struct eval_case cases[] = {
        { "recipient_matches: \"^(\\\\w|\\\\w\\\\w)+(\\\\w|\\\\w\\\\w)+(\\\\w|\\\\w\\\\w)+\\\\W\\\\W\"", 1, 0, "U:0", NULL },
    };
    char yaml[1024], path[512];
    struct diag d;
    struct ruleset *rs;
    char *got, *ex;
    struct msg_envelope env;
    struct msg_rcpt rc;
    struct rules_result res;
    static char addr[200];

    (void)state;
    one_rule(yaml, sizeof(yaml), cases[0].cond);
    rs = test_rules_try(yaml, &d, path, sizeof(path));
    assert_non_null(rs);
    diag_free(&d);
    memset(addr, 'a', 120);
    memcpy(addr + 120, "@x.y", 5);
    memset(&env, 0, sizeof(env));
    env.from = (char *)"";
    env.from_domain = (char *)"";
    rc.addr = addr;
    rc.domain = (char *)"x.y";
    rc.external = 1;
    env.rcpts = &rc;
    env.nrcpts = 1;
    build_model(1, 0);
    assert_int_equal(rules_eval(rs, &model, &env, NULL, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    assert_int_equal(res.nmatched, 0);
    assert_int_equal(res.quarantine, 1);
    assert_int_equal(res.incomplete, 0);
    rules_result_free(&res);
    /* and the fixture's recipients do not match it either way */
    got = eval_one(rs, &ex);
    assert_string_equal(got, "F");
    assert_null(ex);
    free(got);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_errors_several, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_eval, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_match_limit, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
