/*
 * test_rules_body - the body text conditions (body_contains,
 * subject_or_body_contains, attachment_contains and their *_matches
 * pattern forms) fed through the scan's
 * text sink in chunks: phrases split between chunks and inside a UTF-8
 * sequence, white space runs across chunks, word boundaries at a chunk
 * edge, parts kept apart, attachment text apart from body text, one byte
 * per chunk, long texts, the undecided cases, short excerpts, and the
 * load errors with their exact messages (a bad pattern's offset).
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
#include "rules/rules.h"
#include "tests/support/rules_load.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

/* try_load - one rule "r" with if: {cond} and a quarantine */
static struct ruleset *try_load(const char *cond, struct diag *d, char *path, size_t len)
{
    FILE *fp;

    snprintf(path, len, "%s/r.yaml", test_tmpdir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "rules:\n  - name: r\n    if: {%s}\n    then: {quarantine: held}\n", cond);
    assert_int_equal(fclose(fp), 0);
    diag_init(d);
    return rules_load(path, d);
}

struct body_case {
    const char *cond;
    const char *text;         /* parts split by '#', each "b:" or "a:" then chunks split by '|' */
    size_t every;             /* > 0: ignore '|', cut each part in chunks of this many bytes */
    const char *subject;
    unsigned incomplete;
    const char *want;
    const char *excerpt;      /* for T */
};

#define SCAN MSG_INC_SCAN
#define HDR MSG_INC_HEADERS

static const struct body_case cases[] = {
    { "body_contains: confidential", "b:This is Confidential.", 0, "", 0, "T",
      "this is >>confidential<<." },
    { "body_contains: confidential", "b:This is conf|idential.", 0, "", 0, "T",
      "this is >>confidential<<." },
    { "body_contains: \"\\u00e4rger\"", "b:Kein \xc3|\xa4rger", 0, "", 0, "T",
      "kein >>\xc3\xa4rger<<" },
    { "body_contains: \"\\u00e4rger\"", "b:Kein \xc3\x84|RGER", 0, "", 0, "T",
      "kein >>\xc3\xa4rger<<" },
    { "body_contains: confidential", "b:conf#b:idential", 0, "", 0, "F", NULL },
    { "body_contains: confidential", "b:non|confidential", 0, "", 0, "F", NULL },
    { "body_contains: confidential", "b:confidential|ity", 0, "", 0, "F", NULL },
    { "body_contains: \"top secret\"", "b:top |  secret", 0, "", 0, "T", ">>top secret<<" },
    { "body_contains: \"top secret\"", "b:top|\xc2\xa0secret", 0, "", 0, "T", ">>top secret<<" },
    { "body_contains: [\"[encrypt]\", secret]", "b:x|y|[ENC|RYPT]", 0, "", 0, "T", "xy>>[encrypt]<<" },
    { "body_contains: confidential", "b:strictly confidential material", 1, "", 0, "T",
      "strictly >>confidential<< " },
    { "body_contains: confidential", "b:nonconfidential material", 1, "", 0, "F", NULL },
    { "body_contains: \"\\u6a5f\\u5bc6\"", "b:\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf\xe6\xa9\x9f\xe5\xaf\x86\xe3\x81\xa7\xe3\x81\x99",
      1, "", 0, "T", "\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf>>\xe6\xa9\x9f\xe5\xaf\x86<<" },
    /* attachments apart from the body */
    { "body_contains: confidential", "a:confidential", 0, "", 0, "F", NULL },
    { "attachment_contains: confidential", "b:x#a:a confidential file", 0, "", 0, "T",
      "a >>confidential<< file" },
    { "attachment_contains: confidential", "b:confidential#a:x", 0, "", 0, "F", NULL },
    { "body_contains: confidential", "b:confi#a:dential", 0, "", 0, "F", NULL },
    /* subject or body */
    { "subject_or_body_contains: confidential", "b:nothing", 0, "Re: Confidential", 0, "T",
      "subject: re: >>confidential<<" },
    { "subject_or_body_contains: confidential", "b:it is confidential", 0, "hello", 0, "T",
      "it is >>confidential<<" },
    { "subject_or_body_contains: confidential", "b:nothing", 0, "hello", 0, "F", NULL },
    /* undecided */
    { "body_contains: confidential", "b:nothing", 0, "", SCAN, "U:16", NULL },
    { "body_contains: confidential", "b:nothing", 0, "", MSG_INC_DEPTH | HDR, "U:4", NULL },
    { "body_contains: confidential", "b:nothing", 0, "", HDR, "F", NULL },
    { "body_contains: confidential", "b:confidential", 0, "", SCAN, "T", ">>confidential<<" },
    { "attachment_contains: confidential", "b:nothing", 0, "", MSG_INC_PARTS, "U:8", NULL },
    /* an unread part (an encoded forwarded message) */
    { "body_contains: confidential", "b:nothing", 0, "", MSG_INC_OPAQUE, "U:32", NULL },
    { "body_matches: 'secr[e3]t'", "b:nothing", 0, "", MSG_INC_OPAQUE, "U:32", NULL },
    { "attachment_contains: confidential", "b:nothing", 0, "", MSG_INC_OPAQUE, "U:32", NULL },
    { "body_contains: confidential", "b:confidential", 0, "", MSG_INC_OPAQUE, "T", ">>confidential<<" },
    { "subject_or_body_contains: confidential", "b:nothing", 0, "x", HDR, "U:2", NULL },
    { "subject_or_body_contains: confidential", "b:nothing", 0, "x", SCAN | MSG_INC_SIZE, "U:17", NULL },
    /* patterns: across a chunk boundary, on the normal form, caseless */
    { "body_matches: 'invoice \\d{3}'", "b:Your Invo|ice   123 is due", 0, "", 0, "T",
      "your >>invoice 123<< is due" },
    { "body_matches: 'invoice \\d{3}'", "b:Your invoice 123 is due", 1, "", 0, "T",
      "your >>invoice 123<< " },
    { "body_matches: 'invoice \\d{3}'", "b:Your invoice#b:123 is due", 0, "", 0, "F", NULL },
    { "body_matches: ['nomatch', 'secr[e3]t']", "b:top SECR3T", 0, "", 0, "T", "top >>secr3t<<" },
    /* attachments apart from the body */
    { "body_matches: 'secr[e3]t'", "a:secret", 0, "", 0, "F", NULL },
    { "attachment_matches: 'secr[e3]t'", "b:secret#a:a secr3t file", 0, "", 0, "T",
      "a >>secr3t<< file" },
    { "attachment_matches: 'secr[e3]t'", "b:secret#a:x", 0, "", 0, "F", NULL },
    { "subject_or_body_matches: 'secr[e3]t'", "b:nothing", 0, "Re: SECRET plan", 0, "T",
      "subject: re: >>secret<< plan" },
    { "subject_or_body_matches: 'secr[e3]t'", "b:a secret", 0, "hello", 0, "T", "a >>secret<<" },
    /* undecided: text cut, or the match limit */
    { "body_matches: 'secr[e3]t'", "b:nothing", 0, "", SCAN, "U:16", NULL },
    { "body_matches: 'secr[e3]t'", "b:secret", 0, "", SCAN, "T", ">>secret<<" },
    { "attachment_matches: 'secr[e3]t'", "b:nothing", 0, "", MSG_INC_PARTS, "U:8", NULL },
    { "subject_or_body_matches: 'secr[e3]t'", "b:nothing", 0, "x", HDR, "U:2", NULL },
    /* the match limit: a pattern the prefilter cannot rule on (a \p class)
     * runs, hits the limit and is undecided; the same pattern written
     * plainly is ruled out by the prefilter (no digit follows an a), so
     * PCRE2 never runs and the answer is a definite no; with a "zzz" to
     * find, the prefilter lets PCRE2 run, which hits the limit first */
    { "body_matches: '(a+)+\\p{Nd}'", "b:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "", 0, "U:16", NULL },
    { "body_matches: '(a+)+\\d'", "b:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "", 0, "F", NULL },
    { "body_matches: '(a+)+\\d|zzz'", "b:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa zzz", 0, "", 0, "U:16", NULL },
    { "body_matches: 'secr[e3]t'", "b:nothing", 0, "", HDR, "F", NULL },
};

/* feed - deliver the case's text to the scan's sink */
static void feed(const struct msg_text_sink *sink, const char *text, size_t every)
{
    static struct msg_part parts[8];
    size_t np = 0;
    const char *p = text;

    while (*p && np < 8) {
        struct msg_part *part = &parts[np++];
        const char *end = strchr(p, '#');
        size_t len;

        if (end == NULL)
            end = p + strlen(p);
        memset(part, 0, sizeof(*part));
        part->id = (unsigned)np;
        part->flags = MSG_PART_TEXT | (p[0] == 'a' ? MSG_PART_ATTACHMENT : 0);
        p += 2;
        len = (size_t)(end - p);
        if (every > 0) {
            for (size_t i = 0; i < len; i += every)
                assert_int_equal(sink->text(sink->arg, part, p + i, len - i < every ? len - i : every), 0);
        } else {
            while (p < end) {
                const char *bar = memchr(p, '|', (size_t)(end - p));
                size_t n = bar ? (size_t)(bar - p) : (size_t)(end - p);

                assert_int_equal(sink->text(sink->arg, part, p, n), 0);
                p += n + (bar ? 1 : 0);
            }
        }
        if (sink->part_end)
            sink->part_end(sink->arg, part);
        p = *end ? end + 1 : end;
    }
}

/* run - load, scan, evaluate; the outcome, and the excerpt in *ex */
static char *run(struct ruleset *rs, const char *text, size_t every, const char *subject,
                 unsigned incomplete, char **ex)
{
    struct rules_scan *scan = rules_scan_new(rs);
    struct msg_model m;
    struct msg_envelope env;
    char *outcome;

    assert_non_null(scan);
    feed(rules_scan_sink(scan), text, every);
    memset(&m, 0, sizeof(m));
    m.subject = subject;
    m.incomplete = incomplete;
    memset(&env, 0, sizeof(env));
    outcome = test_rules_outcome(rs, &m, &env, scan, ex);
    rules_scan_free(scan);
    return outcome;
}

/* test_cases - every case's outcome and excerpt */
static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct body_case *c = &cases[i];
        char path[512];
        struct diag d;
        struct ruleset *rs = try_load(c->cond, &d, path, sizeof(path));
        char *got, *ex;

        if (rs == NULL) {
            diag_print(&d, stderr);
            fail_msg("case %zu did not load", i);
        }
        diag_free(&d);
        rules_set_explain(rs, 1);
        got = run(rs, c->text, c->every, c->subject, c->incomplete, &ex);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (%s, '%s', every %zu, inc %u): got %s, want %s", i, c->cond,
                     c->text, c->every, c->incomplete, got, c->want);
        if ((c->excerpt == NULL) != (ex == NULL) || (ex && strcmp(ex, c->excerpt) != 0))
            fail_msg("case %zu (%s): excerpt '%s', want '%s'", i, c->cond, ex ? ex : "(none)",
                     c->excerpt ? c->excerpt : "(none)");
        free(got);
        free(ex);
        rules_free(rs);
    }
}

/* test_long_text - a phrase far into a long text, split at every chunk
 * size, is found; the excerpt stays short; no scan means no text */
static void test_long_text(void **state)
{
    static const size_t sizes[] = { 1, 7, 100, 4095, 4096, 4097, 65536 };
    char path[512];
    struct diag d;
    struct ruleset *rs;
    struct buf text = BUF_INIT(1u << 20);
    struct msg_model m;
    struct msg_envelope env;
    struct rules_result res;

    (void)state;
    rs = try_load("body_contains: \"strictly confidential\"", &d, path, sizeof(path));
    assert_non_null(rs);
    diag_free(&d);
    rules_set_explain(rs, 1);
    assert_int_equal(buf_adds(&text, "b:"), 0);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(buf_adds(&text, "lorem ipsum dolor sit amet "), 0);
    assert_int_equal(buf_adds(&text, "Strictly   Confidential tail "), 0);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(buf_adds(&text, "consectetur adipiscing "), 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *ex, *got = run(rs, buf_str(&text), sizes[i], "", 0, &ex);
        size_t rest;

        if (strcmp(got, "T") != 0)
            fail_msg("chunks of %zu: %s", sizes[i], got);
        /* the context: up to 20 characters either side, as far as the scan had read */
        assert_non_null(ex);
        rest = strlen(ex) - 48;
        if (rest >= 3 && strcmp(ex + strlen(ex) - 3, "...") == 0)
            rest -= 3;
        if (strncmp(ex, "...psum dolor sit amet >>strictly confidential<<", 48) != 0
            || rest > 20 || strncmp(ex + 48, " tail consectetur adipiscing", rest) != 0)
            fail_msg("chunks of %zu: excerpt '%s'", sizes[i], ex);
        free(got);
        free(ex);
    }
    /* without the scan no text was seen */
    memset(&m, 0, sizeof(m));
    m.subject = "";
    memset(&env, 0, sizeof(env));
    assert_int_equal(rules_eval(rs, &m, &env, NULL, RULES_INCOMPLETE_ENCRYPT, &res), 0);
    assert_int_equal(res.nmatched, 0);
    rules_result_free(&res);
    buf_free(&text);
    rules_free(rs);
}

/* test_carry_after_long_words - regression: a carry cut back to a space
 * far before the cut (long words) overflowed the carry's cap and made the
 * whole scan fail (EOVERFLOW) */
static void test_carry_after_long_words(void **state)
{
    static const size_t sizes[] = { 5000, 8192, 65536 };
    char path[512];
    struct diag d;
    struct ruleset *rs;
    struct buf text = BUF_INIT(1u << 20);

    (void)state;
    rs = try_load("body_matches: 'strictly confidential'", &d, path, sizeof(path));
    assert_non_null(rs);
    diag_free(&d);
    assert_int_equal(buf_adds(&text, "b:"), 0);
    for (int i = 0; i < 300; i++) {
        for (int j = 0; j < 200; j++)
            assert_int_equal(buf_adds(&text, "x"), 0);
        assert_int_equal(buf_adds(&text, " "), 0);
    }
    assert_int_equal(buf_adds(&text, "strictly confidential"), 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *ex, *got = run(rs, buf_str(&text), sizes[i], "", 0, &ex);

        if (strcmp(got, "T") != 0)
            fail_msg("chunks of %zu: %s", sizes[i], got);
        free(got);
        free(ex);
    }
    buf_free(&text);
    rules_free(rs);
}

struct err_case {
    const char *cond;
    const char *want;
};

static const struct err_case err_cases[] = {
    { "body_contains: []", "3:25: body_contains: expected at least one phrase" },
    { "body_contains: {a: b}", "3:25: body_contains: expected a phrase or a list of phrases, not a mapping" },
    { "attachment_contains: \"\\u200b\"",
      "3:31: attachment_contains: phrase '\xe2\x80\x8b' has no visible characters" },
    { "subject_or_body_contains: [a, \"x\\ny\"]",
      "3:40: subject_or_body_contains: must not contain CR or LF" },
    { "body_matches: 'a(b'", "3:24: body_matches: bad pattern at offset 3: missing closing parenthesis" },
    { "attachment_matches: [x, '[z']",
      "3:34: attachment_matches: bad pattern at offset 2: missing terminating ] for character class" },
    { "body_contain: a", "3:10: unknown condition 'body_contain' (did you mean 'body_contains'?)" },
};

/* test_errors - exact load errors */
static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        char path[512], want[1024];
        struct diag d;
        struct ruleset *rs = try_load(err_cases[i].cond, &d, path, sizeof(path));

        snprintf(want, sizeof(want), "%s:%s", path, err_cases[i].want);
        if (rs != NULL || d.count != 1 || strcmp(d.items[0], want) != 0) {
            for (size_t j = 0; j < d.count; j++)
                print_message("  got[%zu]: %s\n", j, d.items[j]);
            fail_msg("case %zu (%s): want %s", i, err_cases[i].cond, want);
        }
        diag_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cases, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_long_text, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_carry_after_long_words, test_tmpdir_setup,
                                        test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_errors, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
