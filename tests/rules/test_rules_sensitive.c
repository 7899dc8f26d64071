/*
 * test_rules_sensitive - the sensitive_info condition and sensitive_types
 * declarations: load errors with their exact positions and messages
 * (unknown type, bad min_confidence, duplicate custom type across the
 * files of a directory, bad custom pattern), and evaluation of real MIME
 * messages built here and modelled by msg_model_build() (a card number in
 * a base64 text attachment, one failing Luhn, one written with HTML
 * entities, min_count, high confidence needing a keyword, a custom type
 * with a validator, undecided under the scan limit) with the explain
 * excerpt showing no more than the last 4 digits.
 *
 * Outcome per case: "T" (matched), "U:BITS" (undecided) or "F".
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
#include "message/spool.h"
#include "rules/rules.h"
#include "tests/support/rules_load.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

#define MAXFILES 3
#define MAXDIAG 4

/* A set of rule files ("@" in a wanted diagnostic stands for the case's
 * directory); with one file the file itself is loaded, else the directory. */
struct load_case {
    const char *name[MAXFILES];
    const char *text[MAXFILES];
    const char *want[MAXDIAG];
};

#define RULE_IF(cond) "rules:\n  - name: r\n    if:\n      " cond "\n    then: {quarantine: x}\n"
#define TYPES(decl) "sensitive_types:\n  " decl "\n"

static const struct load_case load_cases[] = {
    { { "r.yaml" }, { RULE_IF("sensitive_info: {type: credit_crad}") },
      { "@/r.yaml:4:30: sensitive_info: unknown type 'credit_crad' (did you mean "
        "'credit_card'?); known types: credit_card, iban, us_ssn, de_tax_id, aba_routing" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: [{type: iban}, {type: passport}]") },
      { "@/r.yaml:4:45: sensitive_info: unknown type 'passport'; known types: credit_card, "
        "iban, us_ssn, de_tax_id, aba_routing" } },
    { { "r.yaml" }, { TYPES("emp_id: {pattern: 'emp-\\d{6}'}")
                      RULE_IF("sensitive_info: {type: emp_ic}") },
      { "@/r.yaml:6:30: sensitive_info: unknown type 'emp_ic' (did you mean 'emp_id'?); "
        "known types: credit_card, iban, us_ssn, de_tax_id, aba_routing, emp_id" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: {type: iban, min_confidence: medium}") },
      { "@/r.yaml:4:52: sensitive_info: min_confidence: expected low or high, not 'medium'" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: {type: iban, min_count: 0}") },
      { "@/r.yaml:4:47: sensitive_info: min_count: 0 is out of range (allowed 1..1000000)" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: {type: iban, proximity: 5000}") },
      { "@/r.yaml:4:47: sensitive_info: proximity: 5000 is out of range (allowed 0..4096)" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: {tpye: iban}") },
      { "@/r.yaml:4:24: unknown key 'tpye' in sensitive_info (did you mean 'type'?)",
        "@/r.yaml:4:23: sensitive_info: item is missing 'type'" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: {type: iban, keywords: [\"--\"]}") },
      { "@/r.yaml:4:47: sensitive_info: keywords: keyword '--' has no letters or digits" } },
    { { "r.yaml" }, { RULE_IF("sensitive_info: []") },
      { "@/r.yaml:4:23: sensitive_info: expected at least one item" } },
    /* duplicate custom type across two files, at the second declaration */
    { { "10-a.yaml", "20-b.yaml" },
      { TYPES("emp_id: {pattern: 'emp-\\d{6}'}"),
        "rules: []\nsensitive_types:\n  other: {pattern: x+}\n  emp_id: {pattern: 'e\\d+'}\n" },
      { "@/20-b.yaml:4:3: sensitive_types: duplicate type 'emp_id' (first declared at "
        "@/10-a.yaml:2:3)" } },
    { { "r.yaml" }, { TYPES("iban: {pattern: 'x\\d+'}") },
      { "@/r.yaml:2:3: sensitive_types: 'iban' is a built-in type" } },
    /* bad patterns at the pattern scalar, offset added to the column */
    { { "r.yaml" }, { TYPES("emp_id: {pattern: 'emp-(\\d{6}'}") },
      { "@/r.yaml:2:32: sensitive_types: bad pattern: missing closing parenthesis "
        "(at offset 10)" } },
    { { "r.yaml" }, { TYPES("emp_id:\n    pattern: emp[-x") },
      { "@/r.yaml:3:20: sensitive_types: bad pattern: missing terminating ] for character "
        "class (at offset 6)" } },
    { { "r.yaml" }, { TYPES("emp_id: {pattern: 'a*'}") },
      { "@/r.yaml:2:22: sensitive_types: pattern can match an empty string (at offset 0)" } },
    { { "r.yaml" }, { TYPES("emp_id: {pattern: 'e\\d+', validator: lunh}") },
      { "@/r.yaml:2:40: sensitive_types: emp_id: unknown validator 'lunh' (allowed: none, "
        "luhn, credit_card, mod97, iban, us_ssn, mod11_10, de_tax_id, aba_routing)" } },
    /* a bad declaration is reported once, not again where it is used */
    { { "r.yaml" }, { TYPES("emp_id: {pattern: 'emp-(\\d{6}'}")
                      RULE_IF("sensitive_info: {type: emp_id}") },
      { "@/r.yaml:2:32: sensitive_types: bad pattern: missing closing parenthesis "
        "(at offset 10)" } },
};

/* subst - want with "@" replaced by dir */
static void subst(const char *want, const char *dir, char *out, size_t len)
{
    struct buf b = BUF_INIT(4096);

    for (const char *p = want; *p; p++)
        assert_int_equal(*p == '@' ? buf_adds(&b, dir) : buf_addc(&b, *p), 0);
    snprintf(out, len, "%s", buf_str(&b));
    buf_free(&b);
}

/* test_load_errors - every case fails with exactly its diagnostics */
static void test_load_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
        const struct load_case *c = &load_cases[i];
        char dir[300], name[300], path[600], want[1024];
        size_t nfiles = 0, nwant = 0;
        struct diag d;
        struct ruleset *rs;

        snprintf(dir, sizeof(dir), "%s/load%zu", test_tmpdir, i);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (; nfiles < MAXFILES && c->name[nfiles]; nfiles++) {
            snprintf(name, sizeof(name), "load%zu/%s", i, c->name[nfiles]);
            assert_int_equal(test_tmpdir_write(name, c->text[nfiles], path, sizeof(path)), 0);
        }
        while (nwant < MAXDIAG && c->want[nwant])
            nwant++;
        diag_init(&d);
        rs = rules_load(nfiles == 1 ? path : dir, &d);
        if (rs != NULL)
            fail_msg("case %zu loaded", i);
        for (size_t k = 0; k < diag_count(&d); k++)
            fprintf(stderr, "case %zu got[%zu]: %s\n", i, k, diag_get(&d, k));
        assert_int_equal(diag_count(&d), nwant);
        for (size_t k = 0; k < nwant; k++) {
            subst(c->want[k], dir, want, sizeof(want));
            assert_string_equal(diag_get(&d, k), want);
        }
        diag_free(&d);
    }
}

/* b64 - base64 of s, lines of 76 */
static void b64(const char *s, struct buf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(s), col = 0;

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        char q[4];

        if (i + 1 < len)
            v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)s[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < len ? tab[v & 63] : '=';
        assert_int_equal(buf_add(out, q, 4), 0);
        if ((col += 4) >= 76) {
            assert_int_equal(buf_adds(out, "\r\n"), 0);
            col = 0;
        }
    }
    assert_int_equal(buf_adds(out, "\r\n"), 0);
}

/* Message shapes: the body text goes into the part named by the shape. */
enum shape {
    PLAIN,                    /* text/plain message */
    ATT_B64,                  /* multipart/mixed: a greeting, then a base64 text/plain attachment */
    HTML                      /* text/html message */
};

/* make_msg - a whole MIME message carrying text in the given shape */
static void make_msg(enum shape shape, const char *text, struct buf *m)
{
    assert_int_equal(buf_adds(m, "From: alice@example.com\r\nTo: bob@partner.test\r\n"
                              "Subject: report\r\nMessage-ID: <1@example.com>\r\n"
                              "MIME-Version: 1.0\r\n"), 0);
    if (shape == PLAIN) {
        assert_int_equal(buf_printf(m, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
                                    text), 0);
    } else if (shape == HTML) {
        assert_int_equal(buf_printf(m, "Content-Type: text/html; charset=utf-8\r\n\r\n"
                                    "<html><body><p>%s</p></body></html>\r\n", text), 0);
    } else {
        assert_int_equal(buf_adds(m, "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
                                  "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                                  "See the attached file.\r\n--XYZ\r\n"
                                  "Content-Type: text/plain; charset=utf-8; name=\"data.txt\"\r\n"
                                  "Content-Disposition: attachment; filename=\"data.txt\"\r\n"
                                  "Content-Transfer-Encoding: base64\r\n\r\n"), 0);
        b64(text, m);
        assert_int_equal(buf_adds(m, "--XYZ--\r\n"), 0);
    }
}

struct eval_case {
    const char *rules;        /* a rules file */
    enum shape shape;
    const char *text;
    uint64_t scan_limit;      /* 0: the default */
    const char *want;
    const char *excerpt;      /* for T: the explanation */
};

#define SENS_RULE(cond) "rules:\n  - name: r\n    if: {sensitive_info: " cond "}\n" \
    "    then: {quarantine: held}\n"
#define CARD "4539148803436467"
#define CARD_BAD "4539148803436468"
#define CARD2 "5529123456789016"
#define ACCT_TYPES "sensitive_types:\n  acct: {pattern: 'acct-(\\d{16})', validator: luhn, " \
    "keywords: [Kontonummer]}\n"

static const struct eval_case eval_cases[] = {
    /* a card number in a base64-encoded text attachment */
    { SENS_RULE("{type: credit_card}"), ATT_B64, "Card: 4539 1488 0343 6467 exp 12/27", 0, "T",
      "credit_card: 1 found, 0 at high confidence: **** **** **** 6467 (low)" },
    { SENS_RULE("{type: credit_card}"), ATT_B64, "Card: 4539 1488 0343 6468 exp 12/27", 0, "F",
      NULL },
    { SENS_RULE("[{type: credit_card}]"), PLAIN, "paid with " CARD_BAD " today", 0, "F", NULL },
    /* written with HTML entities in an HTML part */
    { SENS_RULE("{type: credit_card}"), HTML,
      "Pay: &#52;&#53;&#51;&#57;&#49;&#52;&#56;&#56;&#48;&#51;&#52;&#51;&#54;&#52;&#54;&#55;",
      0, "T", "credit_card: 1 found, 0 at high confidence: ************6467 (low)" },
    /* digits glued to letters or more digits are no value (README examples) */
    { SENS_RULE("{type: credit_card}"), PLAIN, "paid " CARD " 2 times", 0, "T",
      "credit_card: 1 found, 0 at high confidence: ************6467 (low)" },
    { SENS_RULE("{type: credit_card}"), PLAIN, "ID" CARD, 0, "F", NULL },
    { SENS_RULE("{type: credit_card}"), PLAIN, "4539 1488 0343 6467 2024", 0, "F", NULL },
    /* min_count */
    { SENS_RULE("{type: credit_card, min_count: 2}"), PLAIN, "one " CARD " only", 0, "F", NULL },
    { SENS_RULE("{type: credit_card, min_count: 2}"), PLAIN, "one " CARD " and " CARD2, 0, "T",
      "credit_card: 2 found, 0 at high confidence: ************6467 (low), "
      "************9016 (low)" },
    { SENS_RULE("[{type: iban}, {type: credit_card, min_count: 2}]"), ATT_B64,
      "IBAN DE89 3704 0044 0532 0130 00", 0, "T",
      "iban: 1 found, 1 at high confidence: **** **** **** **** **30 00 (high)" },
    /* high confidence needs a keyword nearby */
    { SENS_RULE("{type: credit_card, min_confidence: high}"), PLAIN, "number " CARD, 0, "F",
      NULL },
    { SENS_RULE("{type: credit_card, min_confidence: high}"), PLAIN,
      "Your Credit Card: " CARD, 0, "T",
      "credit_card: 1 found, 1 at high confidence: ************6467 (high)" },
    { SENS_RULE("{type: credit_card, min_confidence: high, keywords: []}"), PLAIN,
      "Your Credit Card: " CARD, 0, "F", NULL },
    { SENS_RULE("{type: credit_card, min_confidence: high, keywords: [Zahlkarte]}"), PLAIN,
      "Ihre ZAHLKARTE " CARD, 0, "T",
      "credit_card: 1 found, 1 at high confidence: ************6467 (high)" },
    { SENS_RULE("{type: credit_card, min_confidence: high, keywords: [Zahlkarte], "
                "proximity: 5}"), PLAIN, "Ihre ZAHLKARTE, bitte: " CARD, 0, "F", NULL },
    /* a custom type with a Luhn validator; its pattern sees the case-folded text */
    { ACCT_TYPES SENS_RULE("{type: acct}"), PLAIN, "ref ACCT-" CARD, 0, "T",
      "acct: 1 found, 0 at high confidence: ****-************6467 (low)" },
    { ACCT_TYPES SENS_RULE("{type: acct}"), PLAIN, "ref ACCT-" CARD_BAD, 0, "F", NULL },
    { ACCT_TYPES SENS_RULE("{type: acct, min_confidence: high}"), ATT_B64,
      "Kontonummer: acct-" CARD, 0, "T",
      "acct: 1 found, 1 at high confidence: ****-************6467 (high)" },
    /* undecided when the scan limit cut the text; a match before the cut holds */
    { SENS_RULE("{type: credit_card}"), PLAIN, "a long text without any card in it at all", 10,
      "U:16", NULL },
    { SENS_RULE("{type: credit_card}"), PLAIN, CARD " and then more text after it", 20, "T",
      "credit_card: 1 found, 0 at high confidence: ************6467 (low)" },
};

/* eval_one - load rules, build the model of the message through the
 * scan's sink, evaluate with explanations; the outcome, and *ex */
static char *eval_one(const struct eval_case *c, size_t i, char **ex)
{
    char name[64], path[512];
    struct buf msg = BUF_INIT(1 << 20);
    struct msg_limits lim;
    struct msg_envelope env;
    char *outcome;
    struct msg_model *m = NULL;
    struct rules_scan *scan;
    struct spool *sp;
    struct ruleset *rs;
    struct diag d;

    snprintf(name, sizeof(name), "eval%zu.yaml", i);
    assert_int_equal(test_tmpdir_write(name, c->rules, path, sizeof(path)), 0);
    diag_init(&d);
    if ((rs = rules_load(path, &d)) == NULL) {
        diag_print(&d, stderr);
        fail_msg("case %zu did not load", i);
    }
    diag_free(&d);
    rules_set_explain(rs, 1);
    make_msg(c->shape, c->text, &msg);
    msg_limits_default(&lim);
    if (c->scan_limit)
        lim.scan_limit = c->scan_limit;
    assert_non_null(sp = spool_new("/tmp", 1 << 20));
    assert_int_equal(spool_write(sp, buf_str(&msg), msg.len), 0);
    assert_non_null(scan = rules_scan_new(rs));
    assert_int_equal(msg_model_build(sp, &lim, rules_scan_sink(scan), &m), 0);
    memset(&env, 0, sizeof(env));
    outcome = test_rules_outcome(rs, m, &env, scan, ex);
    rules_scan_free(scan);
    msg_model_free(m);
    spool_free(sp);
    buf_free(&msg);
    rules_free(rs);
    return outcome;
}

/* digits_shown - the longest run of digits in s (ignoring separators
 * between digit groups) */
static size_t digits_shown(const char *s)
{
    size_t best = 0, run = 0;

    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            run++;
        else if (*s != ' ' && *s != '-')
            run = 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* test_eval - every case's outcome and explanation; no explanation shows
 * more than the last 4 digits of a value */
static void test_eval(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        char *ex, *got = eval_one(c, i, &ex);

        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu ('%s'): got %s, want %s", i, c->text, got, c->want);
        if ((c->excerpt == NULL) != (ex == NULL) || (ex && strcmp(ex, c->excerpt) != 0))
            fail_msg("case %zu: explanation '%s', want '%s'", i, ex ? ex : "(none)",
                     c->excerpt ? c->excerpt : "(none)");
        if (ex != NULL) {
            assert_null(strstr(ex, "4539"));
            assert_null(strstr(ex, "3704"));
        }
        free(got);
        free(ex);
    }
}

/* test_excerpt_digits - the excerpt keeps at most 4 digits of a value
 * (checked with a run of digits that would show more were it not cut) */
static void test_excerpt_digits(void **state)
{
    const struct eval_case c = {
        SENS_RULE("{type: credit_card}"), ATT_B64,
        "cards 4539-1488-0343-6467 and 5529 1234 5678 9016 and 6011987654321019", 0, "T", NULL
    };
    char *ex, *got;

    (void)state;
    got = eval_one(&c, 100, &ex);
    assert_string_equal(got, "T");
    assert_non_null(ex);
    assert_string_equal(ex, "credit_card: 3 found, 0 at high confidence: ****-****-****-6467 "
                        "(low), **** **** **** 9016 (low), ************1019 (low)");
    /* no value shows more than its last 4 digits: "6467 (low), **** ..." has runs of 4 */
    assert_true(digits_shown(ex) <= 4);
    free(got);
    free(ex);
}

/* test_types_in_later_file - a rule may use a custom type that a later
 * file of the directory declares; a file may hold only declarations */
static void test_types_in_later_file(void **state)
{
    char path[600], dir[300];
    struct diag d;
    struct ruleset *rs;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/later", test_tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(test_tmpdir_write("later/10-rules.yaml", SENS_RULE("{type: acct}"), path,
                                       sizeof(path)), 0);
    assert_int_equal(test_tmpdir_write("later/20-types.yaml", ACCT_TYPES, path, sizeof(path)), 0);
    diag_init(&d);
    rs = rules_load(dir, &d);
    diag_print(&d, stderr);
    assert_non_null(rs);
    assert_int_equal(diag_count(&d), 0);
    assert_int_equal(rules_count(rs), 1);
    diag_free(&d);
    rules_free(rs);
}

/* test_no_scan - without a scan no text was seen: FALSE, or UNKNOWN when
 * the model says text was cut */
static void test_no_scan(void **state)
{
    char path[512];
    struct diag d;
    struct ruleset *rs;
    struct msg_model m;
    struct msg_envelope env;
    struct rules_result res;

    (void)state;
    assert_int_equal(test_tmpdir_write("noscan.yaml", SENS_RULE("{type: iban}"), path,
                                       sizeof(path)), 0);
    diag_init(&d);
    assert_non_null(rs = rules_load(path, &d));
    diag_free(&d);
    memset(&m, 0, sizeof(m));
    m.subject = "";
    memset(&env, 0, sizeof(env));
    assert_int_equal(rules_eval(rs, &m, &env, NULL, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    assert_int_equal(res.nmatched, 0);
    assert_int_equal(res.quarantine, 0);
    rules_result_free(&res);
    m.incomplete = MSG_INC_PARTS | MSG_INC_HEADERS;
    assert_int_equal(rules_eval(rs, &m, &env, NULL, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    assert_int_equal(res.nmatched, 0);
    assert_int_equal(res.quarantine, 1);
    assert_int_equal(res.incomplete, MSG_INC_PARTS);
    rules_result_free(&res);
    m.incomplete = MSG_INC_OPAQUE;          /* an unread part: the same */
    assert_int_equal(rules_eval(rs, &m, &env, NULL, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    assert_int_equal(res.quarantine, 1);
    assert_int_equal(res.incomplete, MSG_INC_OPAQUE);
    rules_result_free(&res);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_excerpt_digits),
        cmocka_unit_test(test_types_in_later_file),
        cmocka_unit_test(test_no_scan),
    };

    return cmocka_run_group_tests(tests, test_tmpdir_setup, test_tmpdir_teardown);
}
