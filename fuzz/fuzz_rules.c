/*
 * fuzz_rules - libFuzzer harness for the configuration and rules loaders
 * (config/config.h config_load(), rules/rules.h rules_load()) and for rule
 * evaluation against a small fixed message.
 *
 * The loaders take paths: each input is written to input.yaml in a
 * private per-process directory /dev/shm/mailseal-fuzz-rules.PID (made on
 * the first call, removed at exit), next to a fixed valid rules.yaml that
 * a configuration seed can name ("rules: rules.yaml").  Both loaders read
 * the same input; the configuration is loaded with CONFIG_SKIP_SECRET, so
 * nothing is created or written.  When rules_load() accepts the input, the
 * ruleset is evaluated (rules_eval(), with and without explanations, both
 * on_incomplete policies, a fixed clock) against a fixed multipart message
 * with a subject, body text holding sensitive data, an HTML part and an
 * attachment.  Checked invariants: a loader that returns NULL has reported
 * at least one diagnostic; every action and evidence of a result is
 * well-formed (a rule name, a kind with a YAML name).  Interface:
 * LLVMFuzzerTestOneInput() (fuzz.h); a broken invariant aborts; transient
 * faults (ENOMEM, a failed write to /dev/shm) skip the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz/fuzz.h"
#include "message/model.h"
#include "message/spool.h"
#include "rules/rules.h"
#include "util/diag.h"

#define FUZZ_DIR_FMT "/dev/shm/mailseal-fuzz-rules.%ld"
#define FUZZ_PATH_MAX 128

static char fuzz_dir[FUZZ_PATH_MAX];
static char fuzz_input[FUZZ_PATH_MAX];
static char fuzz_rules[FUZZ_PATH_MAX];

/* A valid ruleset a configuration input can name. */
static const char fixed_rules[] =
    "rules:\n"
    "  - name: secure\n"
    "    if: {subject_contains: \"[secure]\"}\n"
    "    then: {encrypt: {}}\n";

/* The fixed message the fuzzed rules are evaluated against. */
static const char fixed_message[] =
    "From: Alice Example <alice@example.com>\r\n"
    "To: bob@example.net, carol@example.com\r\n"
    "Subject: =?UTF-8?Q?[secure]_Quarterly_caf=C3=A9?= report CONFIDENTIAL\r\n"
    "Date: Tue, 3 Mar 2026 10:00:00 +0000\r\n"
    "X-Priority: 1\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
    "\r\n"
    "--b2\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Please pay with card 4539 1488 0343 6467, IBAN DE89 3704 0044 0532 0130 00,\r\n"
    "SSN 536-22-1234, Steuer-ID 12 345 678 901, routing 011000015. Caf=C3=A9.\r\n"
    "--b2\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n"
    "\r\n"
    "<html><body><p>Credit card: 4539148803436467 &amp; caf&eacute;</p></body></html>\r\n"
    "--b2--\r\n"
    "--b1\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9port%20Q1.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\r\n"
    "--b1--\r\n";

/* fixed_now - the clock of every evaluation */
static time_t fixed_now(void)
{
    return (time_t)1772532000;        /* 2026-03-03 10:00 UTC */
}

/* cleanup - remove the per-process directory */
static void cleanup(void)
{
    unlink(fuzz_input);
    unlink(fuzz_rules);
    rmdir(fuzz_dir);
}

/* write_file - path holds exactly data[0..size); 0 or -1 */
static int write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *p = data;

    if (fd < 0)
        return -1;
    while (size > 0) {
        ssize_t n = write(fd, p, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return close(fd);
}

/* setup - the per-process directory with rules.yaml, once; 0 or -1 */
static int setup(void)
{
    static int done;

    if (done)
        return done > 0 ? 0 : -1;
    done = -1;
    snprintf(fuzz_dir, sizeof(fuzz_dir), FUZZ_DIR_FMT, (long)getpid());
    snprintf(fuzz_input, sizeof(fuzz_input), FUZZ_DIR_FMT "/input.yaml", (long)getpid());
    snprintf(fuzz_rules, sizeof(fuzz_rules), FUZZ_DIR_FMT "/rules.yaml", (long)getpid());
    if (mkdir(fuzz_dir, 0700) < 0 && errno != EEXIST)
        return -1;
    if (write_file(fuzz_rules, fixed_rules, sizeof(fixed_rules) - 1) < 0)
        return -1;
    atexit(cleanup);
    done = 1;
    return 0;
}

/* check_result - every action and evidence of a result is well-formed */
static void check_result(const struct rules_result *res)
{
    for (size_t i = 0; i < res->nactions; i++) {
        const struct rule_action *a = &res->actions[i];

        if (a->rule == NULL || rules_action_name(a->kind) == NULL
            || strcmp(rules_action_name(a->kind), "?") == 0)
            fuzz_fail("malformed action");
        if (a->nitems > 0 && a->items == NULL)
            fuzz_fail("action items missing");
        for (size_t k = 0; k < a->nitems; k++)
            if (a->items[k] == NULL)
                fuzz_fail("action item missing");
    }
    for (size_t i = 0; i < res->nmatched; i++)
        if (res->matched[i] == NULL)
            fuzz_fail("matched rule without a name");
    for (size_t i = 0; i < res->nevidence; i++)
        if (res->evidence[i].rule == NULL || res->evidence[i].condition == NULL
            || res->evidence[i].excerpt == NULL)
            fuzz_fail("malformed evidence");
    if (res->reject != NULL && (res->reject->text == NULL || res->reject->code < 400))
        fuzz_fail("malformed reject");
}

/* evaluate - rs against the fixed message */
static void evaluate(struct ruleset *rs, int explain, enum rules_on_incomplete policy,
                     uint64_t scan_limit)
{
    struct msg_limits lim;
    struct msg_envelope env;
    struct rules_scan *scan;
    struct spool *sp;
    struct msg_model *m = NULL;
    struct rules_result res;

    rules_set_explain(rs, explain);
    rules_set_clock(rs, fixed_now);
    msg_limits_default(&lim);
    lim.scan_limit = scan_limit;
    msg_envelope_init(&env);
    if (msg_envelope_set_from(&env, "alice@example.com") < 0
        || msg_envelope_add_rcpt(&env, "<Bob@Example.NET>") < 0
        || msg_envelope_add_rcpt(&env, "carol@example.com") < 0) {
        msg_envelope_free(&env);
        return;
    }
    env.rcpts[0].external = 1;
    scan = rules_scan_new(rs);
    sp = spool_new("/dev/shm", 1u << 20);
    if (scan != NULL && sp != NULL && spool_write(sp, fixed_message, sizeof(fixed_message) - 1) == 0
        && msg_model_build(sp, &lim, rules_scan_sink(scan), &m) == 0) {
        memset(&res, 0, sizeof(res));
        if (rules_eval(rs, m, &env, scan, policy, &res) == 0)
            check_result(&res);
        rules_result_free(&res);
    }
    msg_model_free(m);
    spool_free(sp);
    rules_scan_free(scan);
    msg_envelope_free(&env);
}

/* LLVMFuzzerTestOneInput - one YAML file through both loaders */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag d;
    struct config *cfg;
    struct ruleset *rs;

    if (setup() < 0 || write_file(fuzz_input, data, size) < 0)
        return 0;

    diag_init(&d);
    rs = rules_load(fuzz_input, &d);
    if (rs == NULL && diag_count(&d) == 0)
        fuzz_fail("rules_load failed without a diagnostic");
    for (size_t i = 0; i < diag_count(&d); i++)
        if (diag_get(&d, i) == NULL)
            fuzz_fail("diagnostic missing");
    diag_free(&d);
    if (rs != NULL) {
        const char *name, *file;
        unsigned line, col;

        for (size_t i = 0; i < rules_count(rs); i++)
            if (rules_rule_at(rs, i, &name, &file, &line, &col) < 0 || name == NULL)
                fuzz_fail("rule without a name");
        evaluate(rs, 0, RULES_INCOMPLETE_ENCRYPT, 32u << 20);
        evaluate(rs, 1, RULES_INCOMPLETE_REJECT, 64);
        rules_free(rs);
    }

    diag_init(&d);
    cfg = config_load(fuzz_input, CONFIG_SKIP_SECRET, &d);
    if (cfg == NULL && diag_count(&d) == 0)
        fuzz_fail("config_load failed without a diagnostic");
    diag_free(&d);
    config_free(cfg);
    return 0;
}
