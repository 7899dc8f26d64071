/*
 * rules_bench - how fast the gateway decides: messages per second of the
 * evaluation `mailseal test` and the milter run (decide(): the message
 * model built from the spool with the rules' text scan, then the rules),
 * with 1, 100 and 1,000 rules on a 100 KB and a 10 MB message.
 *
 *   bench_rules [-r REPS] [-n RULES] [-s KB] [-o DIR]
 *
 * The rule sets are a realistic mix that matches nothing in the message:
 * three quarters keyword lists (5 to 15 words and phrases each, on the
 * subject, the body, subject or body, and text attachments), the rest
 * PCRE2 patterns, sensitive_info detectors (card numbers, IBAN, SSN) and
 * address conditions.  The message is multipart/mixed: a UTF-8 text body
 * of English prose (nine tenths of the size) and a base64 text attachment.
 * The generator is seeded, so runs compare.  Each figure is the median of
 * REPS evaluations after one warm-up (default: 41 for 100 KB, 7 for
 * 10 MB).  The configuration, rules and message (mailseal.yaml,
 * rules.yaml, message.eml: those of the last point) are written to DIR
 * (default: a fresh directory under /tmp, removed at the end); the MTA
 * benchmark (bench/mta_bench.py) takes its rules and messages from there.  -n and -s
 * measure one point only (for profiling).
 *
 * Prints one table row per point: rules, message size, median and best
 * milliseconds per message, messages per second and MB/s of message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "milter/decide.h"
#include "util/buf.h"
#include "util/diag.h"

#define KB 1024u
#define MB (1024u * 1024u)

static const char *const kw_vocab[] = {
    "confidential", "strictly confidential", "privileged", "attorney-client", "salary",
    "payroll", "merger", "acquisition", "due diligence", "diagnosis", "patient record",
    "medical history", "insider", "embargoed", "board minutes", "termination",
    "disciplinary", "severance", "bank statement", "tax return", "passport number",
    "social security", "date of birth", "home address", "credit report", "loan application",
    "settlement", "litigation", "subpoena", "whistleblower", "trade secret", "source code",
    "roadmap", "pricing sheet", "bid", "tender", "quotation", "invoice dispute",
    "[encrypt]", "[secure]", "(confidential)", "internal only", "do not forward",
    "restricted", "classified", "sensitive", "personal data", "gdpr", "hipaa", "phi",
    "pii", "nda", "term sheet", "cap table", "valuation", "earnings", "forecast",
    "layoff", "redundancy", "grievance", "investigation", "audit finding", "breach",
    "incident report", "password", "credentials", "api key", "private key", "vpn",
    "wire transfer", "swift code", "routing number", "account number", "beneficiary",
    "prescription", "lab results", "insurance claim", "benefits", "pension", "401k",
    "stock options", "vesting", "bonus", "compensation", "performance review",
};

static const char *const text_vocab[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
    "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we",
    "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "meeting", "team", "week", "project", "update", "thanks", "please",
    "review", "draft", "attached", "schedule", "office", "call", "tomorrow", "monday",
    "friday", "agenda", "notes", "follow", "up", "next", "steps", "customer", "order",
    "shipment", "delivery", "warehouse", "report", "numbers", "quarter", "plan",
    "lunch", "travel", "hotel", "flight", "conference", "slides", "deck", "feedback",
    "question", "answer", "issue", "ticket", "release", "version", "test", "build",
};

static const char *const patterns[] = {
    "\\\\bref[- ]?no[.:]? ?[a-z]{2}\\\\d{6}\\\\b",
    "\\\\bcase #?\\\\d{7,9}\\\\b",
    "\\\\b(?:acct|account) ?(?:no|number)[.:]? ?\\\\d{8,12}\\\\b",
    "\\\\bproject (?:zephyr|obsidian|kestrel)\\\\b",
    "\\\\b[a-z]{3}-\\\\d{4}-[a-z]{3}-\\\\d{2}\\\\b",
};

static const char *const kw_targets[] = {
    "subject_contains", "body_contains", "subject_or_body_contains", "attachment_contains",
};

/* fail - say what failed; -1 */
static int fail(const char *what)
{
    fprintf(stderr, "bench_rules: %s: %s\n", what, strerror(errno));
    return -1;
}

/* write_file - dir/name from b */
static int write_file(const char *dir, const char *name, const struct buf *b)
{
    char path[4096];
    FILE *fp;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fp = fopen(path, "w")) == NULL)
        return fail(path);
    ok = fwrite(buf_str(b), 1, b->len, fp) == b->len;
    if (fclose(fp) != 0 || !ok)
        return fail(path);
    return 0;
}

/* gen_rule - rule i of a set, in the mix described above */
static int gen_rule(struct buf *b, size_t i, unsigned *seed)
{
    size_t nv = sizeof(kw_vocab) / sizeof(kw_vocab[0]);
    int bad = 0;

    bad |= buf_printf(b, "  - name: rule-%05zu\n    if:\n", i);
    if (i % 4 != 3) {
        int n = 5 + (int)(rand_r(seed) % 11);

        bad |= buf_printf(b, "      %s:\n", kw_targets[(i / 4 + i) % 4]);
        for (int k = 0; k < n; k++) {
            const char *w = kw_vocab[rand_r(seed) % nv];

            /* a suffix keeps lists of different rules apart, as real lists are */
            if (k % 3 == 2)
                bad |= buf_printf(b, "        - \"%s %zu\"\n", w, i % 97);
            else
                bad |= buf_printf(b, "        - \"%s\"\n", w);
        }
    } else {
        switch ((i / 4) % 4) {
        case 0:
            bad |= buf_printf(b, "      body_matches: \"%s\"\n",
                       patterns[(i / 16) % (sizeof(patterns) / sizeof(patterns[0]))]);
            break;
        case 1:
            bad |= buf_printf(b, "      sensitive_info:\n        - {type: %s, min_count: %zu}\n",
                       (i / 16) % 3 == 0 ? "credit_card" : (i / 16) % 3 == 1 ? "iban" : "us_ssn",
                       1 + i % 3);
            break;
        case 2:
            bad |= buf_printf(b, "      recipient_domain_is: [\"*.partner%zu.example\", "
                       "\"vendor%zu.example\"]\n", i, i);
            break;
        default:
            bad |= buf_printf(b, "      sender_is: [\"cfo%zu@example.com\", \"hr%zu@example.com\"]\n"
                       "      recipient_scope: external\n", i, i);
            break;
        }
    }
    bad |= buf_printf(b, "    then:\n      %s\n",
               i % 2 ? "encrypt: {}" : "add_header: {name: X-Class, value: confidential}");
    return bad ? -1 : 0;
}

/* gen_words - about n bytes of prose, in lines of at most 76; 0 or -1 */
static int gen_words(struct buf *b, size_t n, unsigned *seed)
{
    size_t nv = sizeof(text_vocab) / sizeof(text_vocab[0]), col = 0, end = b->len + n;
    int bad = 0;

    while (b->len < end && !bad) {
        const char *w = text_vocab[rand_r(seed) % nv];
        size_t wl = strlen(w);

        if (col + wl + 1 > 76) {
            bad |= buf_adds(b, rand_r(seed) % 8 == 0 ? ".\r\n" : "\r\n");
            col = 0;
        } else if (col > 0) {
            bad |= buf_addc(b, ' ');
            col++;
        }
        bad |= buf_add(b, w, wl);
        col += wl;
    }
    bad |= buf_adds(b, "\r\n");
    return bad ? -1 : 0;
}

/* gen_message - a multipart message of about size bytes */
static int gen_message(struct buf *msg, size_t size, unsigned *seed)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct buf att = BUF_INIT(size + MB);
    size_t col = 0;
    int bad = 0;

    bad |= buf_adds(msg, "From: Ann <ann@example.com>\r\nTo: Bob <bob@example.net>\r\n"
                  "Subject: weekly update for the team\r\n"
                  "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                  "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                  "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n");
    bad |= gen_words(msg, size / 10 * 9, seed);
    bad |= buf_adds(msg, "--b1\r\nContent-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r\n"
                  "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n");
    bad |= gen_words(&att, size / 10 * 3 / 4, seed);
    for (size_t i = 0; i < att.len; i += 3) {
        const unsigned char *p = (const unsigned char *)buf_str(&att) + i;
        size_t left = att.len - i;
        unsigned v = (unsigned)p[0] << 16 | (left > 1 ? (unsigned)p[1] << 8 : 0)
                     | (left > 2 ? p[2] : 0);
        char q[4] = { b64[v >> 18 & 63], b64[v >> 12 & 63],
                      left > 1 ? b64[v >> 6 & 63] : '=', left > 2 ? b64[v & 63] : '=' };

        bad |= buf_add(msg, q, 4);
        if ((col += 4) == 76) {
            bad |= buf_adds(msg, "\r\n");
            col = 0;
        }
    }
    bad |= buf_adds(msg, "\r\n--b1--\r\n");
    buf_free(&att);
    if (bad)
        errno = ENOMEM;
    return bad ? -1 : 0;
}

/* now_ms - a monotonic clock in milliseconds */
static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* dbl_cmp - qsort order of doubles */
static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* decide_once - one evaluation of msg as the milter does it; ms or -1 */
static double decide_once(const struct config *cfg, const struct buf *msg, const char *dir)
{
    struct msg_envelope env;
    struct decision d;
    struct spool *sp;
    double t0 = now_ms(), t;

    msg_envelope_init(&env);
    if (msg_envelope_set_from(&env, "ann@example.com") < 0
        || msg_envelope_add_rcpt(&env, "bob@example.net") < 0)
        return fail("envelope");
    env.from_external = 0;
    env.rcpts[0].external = 1;
    if ((sp = spool_new(dir, cfg->memory_limit)) == NULL || spool_write(sp, buf_str(msg), msg->len) < 0)
        return fail("spool");
    if (decide(cfg, sp, &env, 0, &d) < 0)
        return fail("decide");
    if (d.res.nmatched != 0) {
        fprintf(stderr, "bench_rules: a rule matched (%s): the set must match nothing\n",
                d.res.matched[0]);
        return -1;
    }
    decision_free(&d);
    spool_free(sp);
    msg_envelope_free(&env);
    t = now_ms() - t0;
    return t;
}

/* bench_point - time REPS evaluations of one rule set on one message */
static int bench_point(const char *dir, size_t nrules, size_t size, int reps)
{
    struct buf rules = BUF_INIT(64 * MB), cfgtext = BUF_INIT(64 * KB), msg = BUF_INIT(size + MB);
    struct diag dg;
    struct config *cfg;
    unsigned seed = 42;
    double *ms = calloc((size_t)reps, sizeof(double)), total = 0;
    char cfgpath[4096];
    int rc = -1;

    diag_init(&dg);
    if (ms == NULL)
        goto out;
    if (buf_adds(&rules, "rules:\n") < 0)
        goto out;
    for (size_t i = 0; i < nrules; i++)
        if (gen_rule(&rules, i, &seed) < 0)
            goto out;
    if (buf_printf(&cfgtext, "organization:\n  name: Bench\n  domains: [example.com]\n"
                         "rules: rules.yaml\nspool:\n  directory: %s\n", dir) < 0
        || write_file(dir, "rules.yaml", &rules) < 0 || write_file(dir, "mailseal.yaml", &cfgtext) < 0
        || gen_message(&msg, size, &seed) < 0 || write_file(dir, "message.eml", &msg) < 0)
        goto out;
    snprintf(cfgpath, sizeof(cfgpath), "%s/mailseal.yaml", dir);
    if ((cfg = config_load(cfgpath, CONFIG_SKIP_SECRET, &dg)) == NULL) {
        diag_print(&dg, stderr);
        goto out;
    }
    if (decide_once(cfg, &msg, dir) >= 0) {           /* warm-up */
        rc = 0;
        for (int r = 0; r < reps && rc == 0; r++) {
            ms[r] = decide_once(cfg, &msg, dir);
            total += ms[r];
            rc = ms[r] < 0 ? -1 : 0;
        }
    }
    if (rc == 0) {
        qsort(ms, (size_t)reps, sizeof(double), dbl_cmp);
        printf("%6zu  %8.1f KB  %10.3f  %10.3f  %10.1f  %8.1f\n", nrules, msg.len / 1024.0,
               ms[reps / 2], ms[0], 1000.0 / ms[reps / 2], msg.len / 1048576.0 / (ms[reps / 2] / 1e3));
        fflush(stdout);
    }
    config_free(cfg);
out:
    free(ms);
    diag_free(&dg);
    buf_free(&rules);
    buf_free(&cfgtext);
    buf_free(&msg);
    return rc;
}

int main(int argc, char **argv)
{
    static const size_t nrules[] = { 1, 100, 1000 };
    static const size_t sizes[] = { 100 * KB, 10 * MB };
    char tmpl[] = "/tmp/bench_rules.XXXXXX";
    const char *dir = NULL;
    size_t only_n = 0, only_s = 0;
    int reps = 0, opt, rc = 0;

    while ((opt = getopt(argc, argv, "r:n:s:o:h")) != -1) {
        switch (opt) {
        case 'r':
            reps = atoi(optarg);    /* NOLINT(cert-err34-c): a bench option, checked below */
            break;
        case 'n':
            only_n = strtoul(optarg, NULL, 10);
            break;
        case 's':
            only_s = strtoul(optarg, NULL, 10) * KB;
            break;
        case 'o':
            dir = optarg;
            break;
        default:
            fprintf(opt == 'h' ? stdout : stderr, "usage: bench_rules [-r REPS] [-n RULES] [-s KB] [-o DIR]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
        return fail("mkdtemp") < 0;
    printf("rule evaluation as `mailseal test` and the milter run it (decide()), "
           "scan_limit 32 MB (default)\n");
    printf("%6s  %11s  %10s  %10s  %10s  %8s\n", "rules", "message", "median ms", "best ms",
           "msgs/s", "MB/s");
    if (only_n > 0 || only_s > 0) {
        size_t sz = only_s ? only_s : 100 * KB;

        rc = bench_point(dir, only_n ? only_n : 1000, sz, reps > 0 ? reps : sz > MB ? 7 : 41) < 0;
    } else {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            for (size_t n = 0; n < sizeof(nrules) / sizeof(nrules[0]); n++)
                if (bench_point(dir, nrules[n], sizes[s],
                                reps > 0 ? reps : sizes[s] > MB ? 7 : 41) < 0)
                    rc = 1;
    }
    if (strcmp(dir, tmpl) == 0) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/rules.yaml", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/mailseal.yaml", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/message.eml", dir);
        unlink(path);
        rmdir(dir);
    }
    return rc;
}
