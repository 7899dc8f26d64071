/*
 * test_rules_actions - the actions remove_subject_tag, remove_header, bcc,
 * log and encrypt: every load error with its exact FILE:LINE:COLUMN, the
 * compiled lists, how matching rules accumulate them (priority order,
 * stop, the first encrypt template winning, reject overriding) and the
 * subject tag stripping (rules_strip_subject_tags()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message/model.h"
#include "rules/rules.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

#define MAXD 8
#define OK_IF "    if: {recipient_scope: external}\n"

struct err_case {
    const char *then;         /* the then: line of rule 'a' (line 4) */
    const char *want[MAXD];   /* without the "DIR/r.yaml:" */
};

static const struct err_case err_cases[] = {
    /* remove_subject_tag */
    { "    then: {remove_subject_tag: []}\n",
      { "4:32: remove_subject_tag: the list is empty" } },
    { "    then: {remove_subject_tag: {a: b}}\n",
      { "4:32: remove_subject_tag: expected a string or a list of strings, not a mapping" } },
    { "    then: {remove_subject_tag: }\n",
      { "4:32: remove_subject_tag: expected a string or a list of strings, not nothing" } },
    { "    then: {remove_subject_tag: [\"[a]\", \"a\\tb\", \" \"]}\n",
      { "4:40: remove_subject_tag: must not contain control characters",
        "4:48: remove_subject_tag: a tag must not be only white space" } },
    { "    then: {remove_subject_tag: [\"[Secure]\", \"[SECURE]\"]}\n",
      { "4:45: remove_subject_tag: '[SECURE]' is listed twice" } },
    { "    then: {remove_subject_tag: \"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n",
      { "4:32: remove_subject_tag: longer than 64 bytes" } },
    { "    then: {remove_subject_tag: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u,"
      " v, w, x, y, z, A1, B1, C1, D1, E1, F1, G1]}\n",
      { "4:32: remove_subject_tag: more than 32 items" } },
    /* remove_header */
    { "    then: {remove_header: [X-Ok, X-Mailseal-Loop]}\n",
      { "4:34: remove_header: X-Mailseal-Loop cannot be removed by rules "
        "(it is the gateway's loop protection header)" } },
    { "    then: {remove_header: [from, Content-Type, mime-version, Message-ID, Date, To]}\n",
      { "4:28: remove_header: from cannot be removed by rules (the message needs it)",
        "4:34: remove_header: Content-Type cannot be removed by rules (the message needs it)",
        "4:48: remove_header: mime-version cannot be removed by rules (the message needs it)",
        "4:62: remove_header: Message-ID cannot be removed by rules (the message needs it)",
        "4:74: remove_header: Date cannot be removed by rules (the message needs it)",
        "4:80: remove_header: To cannot be removed by rules (the message needs it)" } },
    { "    then: {remove_header: [Content-Transfer-Encoding, Subject]}\n",
      { "4:28: remove_header: Content-Transfer-Encoding cannot be removed by rules (the message needs it)",
        "4:55: remove_header: Subject cannot be removed by rules (the message needs it)" } },
    { "    then: {remove_header: \"X Bad\"}\n",
      { "4:27: remove_header: 'X Bad' is not a valid header name (printable ASCII without "
        "spaces or colons, at most 76 characters)" } },
    { "    then: {remove_header: [[X-A]]}\n",
      { "4:28: remove_header: expected a header name, not a list" } },
    /* bcc */
    { "    then: {bcc: [audit@example.com, \"<x@example.com>\", nobody, \"a b@example.com\"]}\n",
      { "4:37: bcc: '<x@example.com>' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:56: bcc: 'nobody' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:64: bcc: 'a b@example.com' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)" } },
    { "    then: {bcc: [\"@example.com\", \"x@\", \"x@exa_mple.com\", \"x@a..b\", \"x@y@example.com\"]}\n",
      { "4:18: bcc: '@example.com' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:34: bcc: 'x@' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:40: bcc: 'x@exa_mple.com' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:58: bcc: 'x@a..b' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)",
        "4:68: bcc: 'x@y@example.com' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)" } },
    { "    then: {bcc: [a@example.com, A@Example.com]}\n",
      { "4:33: bcc: 'A@Example.com' is listed twice" } },
    { "    then: {bcc: \"a\\u0001@example.com\"}\n",
      { "4:17: bcc: 'a\x01@example.com' is not a valid address (local@domain, at most 254 characters, "
        "no spaces, quotes, brackets, commas or control characters)" } },
    /* log */
    { "    then: {log: \"line\\none\"}\n", { "4:17: log: must not contain CR or LF" } },
    { "    then: {log: \"caf\\u00e9\"}\n", { "4:17: log: must be ASCII" } },
    { "    then: {log: \"\"}\n", { "4:17: log: must not be empty" } },
    { "    then: {log: [a]}\n", { "4:17: log: expected a string, not a list" } },
    /* encrypt */
    { "    then: {encrypt: yes}\n",
      { "4:21: encrypt: expected a mapping ({} or {template: NAME}), not a string" } },
    { "    then: {encrypt: {templat: x}}\n",
      { "4:22: unknown key 'templat' in encrypt (did you mean 'template'?)" } },
    { "    then: {encrypt: {template: \"a b\"}}\n",
      { "4:32: encrypt.template: expected a template name (letters, digits, '.', '_', '-', "
        "at most 64 characters)" } },
    /* each action at most once per rule */
    { "    then: {bcc: a@example.com, bcc: b@example.com}\n",
      { "4:32: duplicate key 'bcc' (first at line 4 column 12)" } },
};

/* write_rules - the rules file r.yaml; its path in path */
static void write_rules(const char *yaml, char *path, size_t len)
{
    assert_int_equal(test_tmpdir_write("r.yaml", yaml, path, len), 0);
}

/* test_load_errors - each bad argument gives exactly its diagnostics */
static void test_load_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        char yaml[1024], path[512];
        struct diag d;
        size_t n = 0;

        snprintf(yaml, sizeof(yaml), "rules:\n  - name: a\n" OK_IF "%s", err_cases[i].then);
        write_rules(yaml, path, sizeof(path));
        diag_init(&d);
        assert_null(rules_load(path, &d));
        while (n < MAXD && err_cases[i].want[n] != NULL)
            n++;
        for (size_t j = 0; j < n || j < d.count; j++) {
            char want[1024];
            const char *got = j < d.count ? d.items[j] : "(none)";

            if (j < n)
                snprintf(want, sizeof(want), "%s:%s", path, err_cases[i].want[j]);
            if (j >= n || strcmp(want, got) != 0)
                fail_msg("case %zu (%s) diagnostic %zu:\n  got:  %s\n  want: %s", i,
                         err_cases[i].then, j, got, j < n ? want : "(none)");
        }
        diag_free(&d);
    }
}

/* eval_subject - evaluate the rules in yaml for subject, one external recipient */
static struct ruleset *eval_subject(const char *yaml, const char *subject,
                                    enum rules_on_incomplete policy, unsigned inc,
                                    struct rules_result *res)
{
    char path[512];
    struct diag d;
    struct ruleset *rs;
    struct msg_model m;
    struct msg_envelope env;
    struct msg_rcpt rc = { (char *)"bob@partner.test", (char *)"partner.test", 1 };

    write_rules(yaml, path, sizeof(path));
    diag_init(&d);
    rs = rules_load(path, &d);
    if (rs == NULL) {
        diag_print(&d, stderr);
        fail_msg("rules did not load");
    }
    diag_free(&d);
    memset(&m, 0, sizeof(m));
    m.subject = subject;
    m.incomplete = inc;
    memset(&env, 0, sizeof(env));
    env.from = (char *)"alice@example.com";
    env.from_domain = (char *)"example.com";
    env.rcpts = &rc;
    env.nrcpts = 1;
    assert_int_equal(rules_eval(rs, &m, &env, NULL, policy, res), 0);
    return rs;
}

/* summary - "rule/action[item|item]=value ..." of the accumulated actions */
static char *summary(const struct rules_result *res)
{
    static const char *const names[] = {
        [ACT_ADD_HEADER] = "add_header", [ACT_SET_HEADER] = "set_header",
        [ACT_PREPEND_SUBJECT] = "prepend_subject", [ACT_REJECT] = "reject",
        [ACT_QUARANTINE] = "quarantine", [ACT_ENCRYPT] = "encrypt",
        [ACT_REMOVE_SUBJECT_TAG] = "remove_subject_tag", [ACT_REMOVE_HEADER] = "remove_header",
        [ACT_BCC] = "bcc", [ACT_LOG] = "log",
    };
    struct buf b = BUF_INIT(4096);

    for (size_t i = 0; i < res->nactions; i++) {
        const struct rule_action *a = &res->actions[i];

        buf_printf(&b, "%s%s/%s", i ? " " : "", a->rule, names[a->kind]);
        for (size_t k = 0; k < a->nitems; k++)
            buf_printf(&b, "%c%s", k ? '|' : '[', a->items[k]);
        if (a->nitems)
            buf_addc(&b, ']');
        if (a->value)
            buf_printf(&b, "=%s", a->value);
    }
    buf_printf(&b, " enc=%d tpl=%s rej=%s", res->encrypt,
               res->encrypt_template ? res->encrypt_template : "-",
               res->reject ? res->reject->rule : "-");
    return buf_steal(&b);
}

static const char accumulate_yaml[] =
    "rules:\n"
    "  - name: late\n"
    "    priority: 50\n"
    "    if: {subject_contains: \"[encrypt]\"}\n"
    "    then: {encrypt: {template: second}, log: late, bcc: [b@example.com]}\n"
    "  - name: early\n"
    "    priority: 10\n"
    "    if: {subject_contains: \"[encrypt]\"}\n"
    "    then:\n"
    "      log: \"matched early\"\n"
    "      bcc: a@example.com\n"
    "      encrypt: {template: first}\n"
    "      remove_header: X-Internal-Id\n"
    "      remove_subject_tag: [\"[encrypt]\", \"[secure]\"]\n"
    "  - name: plain\n"
    "    priority: 20\n"
    "    if: {subject_contains: \"[encrypt]\"}\n"
    "    then: {encrypt: {}}\n"
    "  - name: stopper\n"
    "    priority: 30\n"
    "    if: {subject_contains: \"[stop]\"}\n"
    "    stop: true\n"
    "    then: {log: stopped}\n"
    "  - name: blocker\n"
    "    priority: 40\n"
    "    if: {subject_contains: \"[block]\"}\n"
    "    then: {reject: {message: no}, log: blocked}\n";

/* test_accumulate - priority order, table order within a rule, stop, the
 * first template, reject overriding, on_incomplete */
static void test_accumulate(void **state)
{
    static const struct {
        const char *subject;
        unsigned inc;
        enum rules_on_incomplete policy;
        const char *want;
    } cases[] = {
        { "[encrypt] Q3", 0, RULES_INCOMPLETE_ENCRYPT,
          "early/remove_header[X-Internal-Id] early/remove_subject_tag[[encrypt]|[secure]] "
          "early/encrypt=first early/bcc[a@example.com] early/log=matched early plain/encrypt "
          "late/encrypt=second late/bcc[b@example.com] late/log=late enc=1 tpl=first rej=-" },
        { "[encrypt] [stop]", 0, RULES_INCOMPLETE_ENCRYPT,
          "early/remove_header[X-Internal-Id] early/remove_subject_tag[[encrypt]|[secure]] "
          "early/encrypt=first early/bcc[a@example.com] early/log=matched early plain/encrypt "
          "stopper/log=stopped enc=1 tpl=first rej=-" },
        { "[encrypt] [block]", 0, RULES_INCOMPLETE_ENCRYPT,
          "early/remove_header[X-Internal-Id] early/remove_subject_tag[[encrypt]|[secure]] "
          "early/encrypt=first early/bcc[a@example.com] early/log=matched early plain/encrypt "
          "blocker/reject blocker/log=blocked late/encrypt=second late/bcc[b@example.com] "
          "late/log=late enc=1 tpl=first rej=blocker" },
        /* undecided: only encrypt (and reject) are protective */
        { "hello", MSG_INC_HEADERS, RULES_INCOMPLETE_ENCRYPT,
          "early/encrypt=first plain/encrypt blocker/reject late/encrypt=second "
          "enc=1 tpl=first rej=blocker" },
        { "hello", 0, RULES_INCOMPLETE_ENCRYPT, " enc=0 tpl=- rej=-" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rules_result res;
        struct ruleset *rs = eval_subject(accumulate_yaml, cases[i].subject, cases[i].policy,
                                          cases[i].inc, &res);
        char *got = summary(&res);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s):\n  got:  %s\n  want: %s", i, cases[i].subject, got,
                     cases[i].want);
        free(got);
        rules_result_free(&res);
        rules_free(rs);
    }
}

/* test_encrypt_default_first - a first encrypt without a template wins over a later named one */
static void test_encrypt_default_first(void **state)
{
    struct rules_result res;
    struct ruleset *rs;

    (void)state;
    rs = eval_subject("rules:\n"
                      "  - name: a\n    if: {recipient_scope: external}\n    then: {encrypt: {}}\n"
                      "  - name: b\n    if: {recipient_scope: external}\n"
                      "    then: {encrypt: {template: named}}\n",
                      "x", RULES_INCOMPLETE_ENCRYPT, 0, &res);
    assert_int_equal(res.encrypt, 1);
    assert_null(res.encrypt_template);
    assert_int_equal(res.nactions, 2);
    rules_result_free(&res);
    rules_free(rs);
}

/* test_strip_tags - rules_strip_subject_tags() */
static void test_strip_tags(void **state)
{
    static const char *const tags[] = { "[encrypt]", "[secure]", "Vertraulich:" };
    static const struct { const char *in; int ret; const char *out; } cases[] = {
        { "[encrypt] Q3 numbers", 1, "Q3 numbers" },
        { "Re: [ENCRYPT] Q3", 1, "Re: Q3" },
        { "Q3 numbers [Encrypt]", 1, "Q3 numbers" },
        { "Q3  [encrypt]   numbers", 1, "Q3 numbers" },
        { "Q3[encrypt]numbers", 1, "Q3numbers" },
        { "[encrypt][secure] x", 1, "x" },
        { "[encrypt] [secure]", 1, "" },
        { "a [encrypt] b [secure] c", 1, "a b c" },
        { "[enc[encrypt]rypt] x", 1, "x" },
        { "  keep  spacing  ", 0, "  keep  spacing  " },
        { "[encrypted] stays", 0, "[encrypted] stays" },
        { "VERTRAULICH: Gr\xc3\xbc\xc3\x9f""e [secure]", 1, "Gr\xc3\xbc\xc3\x9f""e" },
        { "", 0, "" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out = BUF_INIT(1024);
        int r = rules_strip_subject_tags(cases[i].in, tags, 3, &out);

        if (r != cases[i].ret || strcmp(buf_str(&out), cases[i].out) != 0)
            fail_msg("'%s': got %d '%s', want %d '%s'", cases[i].in, r, buf_str(&out),
                     cases[i].ret, cases[i].out);
        buf_free(&out);
    }
    {
        /* a full buffer fails and is emptied */
        struct buf small = BUF_INIT(4);

        assert_int_equal(rules_strip_subject_tags("long subject", tags, 3, &small), -1);
        assert_int_equal(small.len, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_errors, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_accumulate, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_encrypt_default_first, test_tmpdir_setup,
                                        test_tmpdir_teardown),
        cmocka_unit_test(test_strip_tags),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
