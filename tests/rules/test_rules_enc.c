/*
 * test_rules_enc - the already_encrypted condition on whole messages
 * modelled by msg_model_build(): S/MIME (enveloped, not signed-data),
 * PGP/MIME, inline PGP at the start of a text body (not in HTML, not in
 * an attachment, not in the middle of the text, also when delivered one
 * byte at a time), our envelope (the wrapper, re-encoded, bare; not beside
 * an attachment or forwarded; its signature only in the first 1024 bytes),
 * our envelope header, plain mail, the false form, the
 * unknown case, and real messages of the shared corpus (skipped when
 * ../shared/corpus is absent).
 *
 * Outcome per case: "T" (the rule matched), "U:BITS" (undecided) or "F".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "message/model.h"
#include "message/spool.h"
#include "rules/rules.h"
#include "tests/support/rules_load.h"
#include "tests/support/tmpdir.h"
#include "util/buf.h"
#include "util/diag.h"

#define PGP "-----BEGIN PGP MESSAGE-----\r\n\r\nhQIOAwTJ0obO8knpEAgAiSHHrzUzh9J4QwDZ\r\n" \
    "-----END PGP MESSAGE-----\r\n"

/* load - one rule with if: {already_encrypted: want} */
static struct ruleset *load(const char *want)
{
    char text[256];
    struct ruleset *rs;

    snprintf(text, sizeof(text),
             "rules:\n  - name: r\n    if: {already_encrypted: %s}\n    then: {quarantine: held}\n",
             want);
    rs = test_rules_load(text);
    rules_set_explain(rs, 1);
    return rs;
}

/* run - model msg (size_limit: max_size, 0 default) and evaluate; the
 * outcome; the excerpt in *ex */
static char *run(const char *want, const char *msg, size_t len, uint64_t max_size, char **ex)
{
    struct ruleset *rs = load(want);
    struct msg_limits lim;
    struct msg_model *m;
    struct msg_envelope env;
    char *outcome;
    struct rules_scan *scan;
    struct spool *sp;

    msg_limits_default(&lim);
    if (max_size)
        lim.max_size = max_size;
    assert_non_null(sp = spool_new("/tmp", 1 << 20));
    assert_int_equal(spool_write(sp, msg, len), 0);
    assert_non_null(scan = rules_scan_new(rs));
    assert_int_equal(msg_model_build(sp, &lim, rules_scan_sink(scan), &m), 0);
    memset(&env, 0, sizeof(env));
    outcome = test_rules_outcome(rs, m, &env, scan, ex);
    rules_scan_free(scan);
    msg_model_free(m);
    spool_free(sp);
    rules_free(rs);
    return outcome;
}

struct enc_case {
    const char *want_arg;     /* true or false */
    const char *msg;
    uint64_t max_size;
    const char *want;
    const char *excerpt;      /* for T */
};

/* how an envelope page starts (crypto/viewer/viewer.html), in 7bit and base64 */
#define PAGE "<!DOCTYPE html>\r\n<html lang=\"en\">\r\n<head>\r\n<meta charset=\"utf-8\">\r\n" \
    "<meta name=\"generator\" content=\"mailseal-envelope/1\">\r\n</head><body>x</body></html>\r\n"
#define PAGE_B64 "PCFET0NUWVBFIGh0bWw+DQo8aHRtbCBsYW5nPSJlbiI+DQo8aGVhZD4NCjxtZXRhIGNoYXJzZXQ9\r\n" \
    "InV0Zi04Ij4NCjxtZXRhIG5hbWU9ImdlbmVyYXRvciIgY29udGVudD0ibWFpbHNlYWwtZW52ZWxv\r\n" \
    "cGUvMSI+DQo8L2hlYWQ+PGJvZHk+eDwvYm9keT48L2h0bWw+DQo=\r\n"
#define ENV_PART "Content-Type: text/html; charset=us-ascii; name=\"message.html\"\r\n" \
    "Content-Disposition: attachment; filename=\"message.html\"\r\n"
#define ALT_PART "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n" \
    "Content-Type: text/plain\r\n\r\nOpen the attachment.\r\n--a--\r\n"

#define HDRS "From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n"

static const struct enc_case cases[] = {
    { "true", HDRS "Content-Type: application/x-pkcs7-mime; smime-type=enveloped-data; "
      "name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIPVQYJKoZIhvcNAQcD\r\n",
      0, "T", "S/MIME encrypted" },
    { "true", HDRS "Content-Type: application/pkcs7-mime; smime-type=\"signed-data\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nMIIPVQYJKoZIhvcNAQcD\r\n", 0, "F", NULL },
    { "true", HDRS "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
      "boundary=b\r\n\r\n--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\n\r\n" PGP "--b--\r\n", 0, "T",
      "PGP/MIME encrypted" },
    { "true", HDRS "Content-Type: multipart/encrypted; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n", 0, "F", NULL },
    { "true", HDRS "Content-Type: text/plain\r\n\r\n\r\n  " PGP, 0, "T", "inline PGP message" },
    { "true", HDRS "Content-Type: text/plain\r\n\r\nHello,\r\n" PGP, 0, "F", NULL },
    { "true", HDRS "Content-Type: text/html\r\n\r\n" PGP, 0, "F", NULL },
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: text/plain\r\n"
      "Content-Disposition: attachment; filename=m.asc\r\n\r\n" PGP "--b--\r\n", 0, "F", NULL },
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\n" PGP "--b--\r\n", 0, "T", "inline PGP message" },
    { "true", HDRS "X-Mailseal-Envelope: v=1\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n", 0,
      "T", "header X-Mailseal-Envelope" },
    /* our envelope: the wrapper, re-encoded, bare; not beside an
     * attachment, not forwarded inside a message, not a look-alike */
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n" ALT_PART
      "--b\r\n" ENV_PART "Content-Transfer-Encoding: 7bit\r\n\r\n" PAGE "--b--\r\n", 0, "T",
      "mailseal envelope" },
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" ALT_PART
      "--b\r\n" ENV_PART "Content-Transfer-Encoding: base64\r\n\r\n" PAGE_B64 "--b--\r\n", 0,
      "T", "mailseal envelope" },
    { "true", HDRS "Content-Type: text/html\r\n\r\n" PAGE, 0, "T", "mailseal envelope" },
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" ALT_PART
      "--b\r\n" ENV_PART "\r\n" PAGE "--b\r\nContent-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename=x.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n", 0, "F",
      NULL },
    { "true", HDRS "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\nforwarded:\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
      HDRS "Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n" ENV_PART "\r\n" PAGE
      "--c--\r\n--b--\r\n", 0, "F", NULL },
    { "true", HDRS "Content-Type: text/plain\r\n\r\n" PAGE, 0, "F", NULL },
    { "true", HDRS "Content-Type: text/html\r\n\r\n<p>" PAGE, 0, "T", "mailseal envelope" },
    { "true", HDRS "Content-Type: text/html\r\n\r\n<meta name=\"generator\" content=\"mailseal\">\r\n",
      0, "F", NULL },
    { "true", HDRS "Content-Type: text/plain\r\n\r\nhello\r\n", 0, "F", NULL },
    { "false", HDRS "Content-Type: text/plain\r\n\r\nhello\r\n", 0, "T", "not encrypted" },
    { "false", HDRS "Content-Type: text/plain\r\n\r\n" PGP, 0, "F", NULL },
    /* the body not parsed: undecided either way */
    { "true", HDRS "Content-Type: text/plain\r\n\r\nhello hello hello hello\r\n", 100, "U:1", NULL },
    { "false", HDRS "Content-Type: text/plain\r\n\r\nhello hello hello hello\r\n", 100, "U:1", NULL },
};

/* test_cases - every built message */
static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct enc_case *c = &cases[i];
        char *ex, *got = run(c->want_arg, c->msg, strlen(c->msg), c->max_size, &ex);

        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu: got %s, want %s", i, got, c->want);
        if ((c->excerpt == NULL) != (ex == NULL) || (ex && strcmp(ex, c->excerpt) != 0))
            fail_msg("case %zu: excerpt '%s', want '%s'", i, ex ? ex : "(none)",
                     c->excerpt ? c->excerpt : "(none)");
        free(got);
        free(ex);
    }
}

/* test_late_signature - an envelope page is recognised by its first 1024
 * decoded bytes only: the signature (up to the version) just inside
 * counts, one byte later not */
static void test_late_signature(void **state)
{
    static const char sig[] = "<meta name=\"generator\" content=\"mailseal-envelope/";
    static const char head[] = HDRS "Content-Type: text/html\r\n\r\n";
    const size_t at[] = { 1024 - (sizeof(sig) - 1), 1024 - (sizeof(sig) - 1) + 1 };
    const char *const want[] = { "T", "F" };

    (void)state;
    for (size_t k = 0; k < 2; k++) {
        struct buf msg = BUF_INIT(1 << 16);
        char *ex, *got;

        assert_int_equal(buf_adds(&msg, head), 0);
        for (size_t i = 0; i < at[k]; i++)
            assert_int_equal(buf_addc(&msg, ' '), 0);
        assert_int_equal(buf_adds(&msg, sig), 0);
        assert_int_equal(buf_adds(&msg, "1\">\r\n<p>tail</p>\r\n"), 0);
        got = run("true", buf_str(&msg), msg.len, 0, &ex);
        if (strcmp(got, want[k]) != 0)
            fail_msg("signature at %zu: got %s, want %s", at[k], got, want[k]);
        free(got);
        free(ex);
        buf_free(&msg);
    }
}

/* test_bytewise - the inline marker found when the text arrives one byte
 * at a time; not in an HTML part */
static void test_bytewise(void **state)
{
    static const char text[] = " \n" PGP;
    static const unsigned flags[] = { MSG_PART_TEXT, MSG_PART_TEXT | MSG_PART_HTML };
    static const char *const types[] = { "text/plain", "text/html" };
    static const char *const want[] = { "T", "F" };

    (void)state;
    for (size_t k = 0; k < 2; k++) {
        struct ruleset *rs = load("true");
        struct rules_scan *scan = rules_scan_new(rs);
        const struct msg_text_sink *sink = rules_scan_sink(scan);
        struct msg_part part;
        struct msg_model m;
        struct msg_envelope env;
        struct rules_result res;

        memset(&part, 0, sizeof(part));
        part.flags = flags[k];
        part.content_type = (char *)types[k];
        for (size_t i = 0; i < sizeof(text) - 1; i++)
            assert_int_equal(sink->text(sink->arg, &part, text + i, 1), 0);
        sink->part_end(sink->arg, &part);
        memset(&m, 0, sizeof(m));
        m.subject = "";
        memset(&env, 0, sizeof(env));
        assert_int_equal(rules_eval(rs, &m, &env, scan, RULES_INCOMPLETE_ENCRYPT, &res), 0);
        if (strcmp(res.nmatched == 1 ? "T" : "F", want[k]) != 0)
            fail_msg("%s: want %s", types[k], want[k]);
        rules_result_free(&res);
        rules_scan_free(scan);
        rules_free(rs);
    }
}

struct corpus_case {
    const char *file;
    const char *want;
};

static const struct corpus_case corpus_cases[] = {
    { "gmime-encrypted-message.eml", "T" },
    { "notmuch-basic-encrypted.eml", "T" },
    { "notmuch-smime-sign-enc.eml", "T" },
    { "gmime-signed-message.eml", "F" },
    { "notmuch-smime-onepart-signed.eml", "F" },
    { "rspamd-ham.eml", "F" },
};

/* test_corpus - real messages of ../shared/corpus, when it is there */
static void test_corpus(void **state)
{
    const char *src = getenv("MAILSEAL_SOURCE_DIR");
    char dir[512];
    struct stat st;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/../shared/corpus", src ? src : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        skip();
    for (size_t i = 0; i < sizeof(corpus_cases) / sizeof(corpus_cases[0]); i++) {
        char path[1024], *ex, *got;
        struct buf msg = BUF_INIT(64u << 20);
        FILE *fp;
        char chunk[8192];
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, corpus_cases[i].file);
        if ((fp = fopen(path, "rb")) == NULL)
            fail_msg("%s: cannot open", path);
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            assert_int_equal(buf_add(&msg, chunk, n), 0);
        fclose(fp);
        got = run("true", buf_str(&msg), msg.len, 0, &ex);
        if (strcmp(got, corpus_cases[i].want) != 0)
            fail_msg("%s: got %s, want %s", corpus_cases[i].file, got, corpus_cases[i].want);
        free(got);
        free(ex);
        buf_free(&msg);
    }
}

/* test_errors - the argument must be a boolean */
static void test_errors(void **state)
{
    char path[512], want[1024];
    struct diag d;

    (void)state;
    assert_int_equal(test_tmpdir_write("r.yaml",
                                       "rules:\n  - name: r\n    if: {already_encrypted: maybe}\n"
                                       "    then: {quarantine: held}\n", path, sizeof(path)), 0);
    diag_init(&d);
    assert_null(rules_load(path, &d));
    snprintf(want, sizeof(want), "%s:3:29: already_encrypted: expected true or false, not 'maybe'",
             path);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0], want);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cases, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_late_signature, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_bytewise, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_corpus, test_tmpdir_setup, test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_errors, test_tmpdir_setup, test_tmpdir_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
