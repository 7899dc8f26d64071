/*
 * cmd_test - `mailseal test [-c CONFIG] [--rules FILE|DIR] --from ADDR
 * --to ADDR[,ADDR...] [--json] MESSAGE.eml`: a dry run of the gateway's
 * decision on a saved message.
 *
 * It goes through exactly the code the milter runs at end of message: the
 * message is read into a spool (spool.directory when writable, else
 * $TMPDIR or /tmp; spool.memory_limit), the envelope is built with the
 * msg_envelope_* helpers and each address is classified with
 * config_domain_is_internal(), and decide() (milter/decide.h) models the
 * message and evaluates the rules, here with the rules' evidence switched
 * on.  --rules tries a draft rules file or directory against the live
 * configuration.  The bytes are fed as they are (the model reads LF and
 * CRLF alike).  Not simulated: apply_to (the message is taken as in
 * scope) and loop markers (the secret is not read; the daemon would strip
 * unverified ones and decide as here).
 *
 * The report says which rules matched (and which audit rules), on what
 * (each condition with a short excerpt, see rules.h), the actions in
 * order, the outcome as the milter would log it (accept, accept
 * (modified), reject, quarantine, encrypt) and which limits were hit.
 * --json prints the same as one JSON object.  Returns the exit status
 * (cli.h): 0 whatever the outcome, 1 when the configuration, the rules or
 * the message cannot be read, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "message/spool.h"
#include "milter/decide.h"
#include "util/buf.h"

#define TEST_MAX_RCPTS 1000
#define TEST_REPORT_MAX (16u * 1024 * 1024)
#define TEST_SUBJECT_MAX (1024u * 1024)
#define TEST_MAX_TAGS 4096

struct test_args {
    const char *config;
    const char *rules;        /* NULL: the configured rules */
    const char *from;
    const char *to[TEST_MAX_RCPTS];   /* --to arguments, each a comma-separated list */
    size_t nto;
    int json;
    const char *message;
};

/* What the milter would do (as apply_decision() decides it). */
struct test_outcome {
    const char *name;         /* as the milter logs it */
    const char *quarantine;   /* reason, NULL when not held */
    int modified;
};


static const struct {
    unsigned bit;
    const char *name;
} limit_names[] = {
    { MSG_INC_SIZE, "max_message_size" },
    { MSG_INC_HEADERS, "max_headers/max_header_length" },
    { MSG_INC_DEPTH, "max_mime_depth" },
    { MSG_INC_PARTS, "max_mime_parts" },
    { MSG_INC_SCAN, "scan_limit" },
    { MSG_INC_OPAQUE, "opaque_part" },      /* not a limit: a part that was not read */
};
#define NLIMITS (sizeof(limit_names) / sizeof(limit_names[0]))

/* test_usage - the subcommand's help */
static void test_usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal test [-c CONFIG] [--rules FILE|DIR] --from ADDR\n"
            "                     --to ADDR[,ADDR...] [--json] MESSAGE.eml\n"
            "  Dry run: what the gateway would decide for MESSAGE.eml (\"-\": stdin)\n"
            "  sent from ADDR to the recipients, with the configuration (default\n"
            "  %s) and its rules, or the draft rules given with --rules.\n"
            "  --json prints one JSON object.  Exit 0 when evaluated, 1 on errors,\n"
            "  2 on usage errors.\n",
            CONFIG_DEFAULT_PATH);
}

/* put_safe - write s with control characters shown as '?' (no terminal escapes) */
static void put_safe(FILE *fp, const char *s)
{
    for (; s != NULL && *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s, fp);
}

/* test_parse_args - options and operands; 0, or CLI_USAGE / CLI_OK (-h) */
static int test_parse_args(int argc, char **argv, struct test_args *a)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "rules", required_argument, NULL, 'r' },
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(a, 0, sizeof(*a));
    a->config = CONFIG_DEFAULT_PATH;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:f:t:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'r': a->rules = optarg; break;
        case 'f': a->from = optarg; break;
        case 't':
            if (a->nto == TEST_MAX_RCPTS) {
                fprintf(stderr, "mailseal test: too many --to options\n");
                return CLI_USAGE;
            }
            a->to[a->nto++] = optarg;
            break;
        case 'j': a->json = 1; break;
        case 'h': test_usage(stdout); return CLI_OK;
        default: test_usage(stderr); return CLI_USAGE;
        }
    }
    if (a->from == NULL || a->nto == 0 || argc - optind != 1) {
        fprintf(stderr, "mailseal test: %s\n",
                a->from == NULL ? "--from is required" : a->nto == 0 ? "--to is required"
                : argc - optind == 0 ? "which message? (MESSAGE.eml)" : "only one message at a time");
        test_usage(stderr);
        return CLI_USAGE;
    }
    a->message = argv[optind];
    return -1;
}

/* test_envelope - sender and recipients, classified as the milter does;
 * 0, or -1 after printing why (CLI_USAGE in *status for bad lists) */
static int test_envelope(const struct config *cfg, const struct test_args *a,
                         struct msg_envelope *env, int *status)
{
    *status = CLI_INVALID;
    if (msg_envelope_set_from(env, strcmp(a->from, "<>") == 0 ? "" : a->from) < 0) {
        fprintf(stderr, "mailseal test: --from: %s\n", strerror(errno));
        return -1;
    }
    env->from_external = !config_domain_is_internal(cfg, env->from_domain);
    if (cli_add_rcpts("test", a->to, a->nto, TEST_MAX_RCPTS, env, status) < 0)
        return -1;
    for (size_t i = 0; i < env->nrcpts; i++)
        env->rcpts[i].external = !config_domain_is_internal(cfg, env->rcpts[i].domain);
    return 0;
}

/* test_spool_dir - spool.directory when we may write there, else a temp dir */
static const char *test_spool_dir(const struct config *cfg)
{
    const char *tmp = getenv("TMPDIR");

    if (cfg->spool_dir != NULL && access(cfg->spool_dir, W_OK | X_OK) == 0)
        return cfg->spool_dir;
    if (tmp != NULL && tmp[0] == '/' && access(tmp, W_OK | X_OK) == 0)
        return tmp;
    return "/tmp";
}

/* test_read_message - the message file (or stdin) into a new spool */
static struct spool *test_read_message(const struct config *cfg, const char *path)
{
    struct spool *sp;
    char *chunk;
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;

    if (fd < 0) {
        fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    sp = spool_new(test_spool_dir(cfg), cfg->memory_limit);
    chunk = malloc(65536);
    while (sp != NULL && chunk != NULL && (n = read(fd, chunk, 65536)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || spool_write(sp, chunk, (size_t)n) < 0)
            break;
    }
    if (sp == NULL || chunk == NULL || n != 0) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno ? errno : ENOMEM));
        spool_free(sp);
        sp = NULL;
    }
    free(chunk);
    if (fd != 0)
        close(fd);
    return sp;
}

/* has_header - does the message's top level have header name? */
static int has_header(const struct msg_model *m, const char *name)
{
    for (size_t i = 0; m->root != NULL && i < m->root->nheaders; i++)
        if (strcasecmp(m->root->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* strip_tags - the subject without every remove_subject_tag tag, as
 * apply.c strips it before the prefixes; 1 when changed, 0, -1 */
static int strip_tags(const struct rules_result *res, struct buf *subject)
{
    const char *tags[TEST_MAX_TAGS];
    size_t ntags = 0;
    struct buf out = BUF_INIT(TEST_SUBJECT_MAX);
    int r;

    for (size_t i = 0; i < res->nactions; i++)
        for (size_t k = 0; res->actions[i].kind == ACT_REMOVE_SUBJECT_TAG
                           && k < res->actions[i].nitems && ntags < TEST_MAX_TAGS; k++)
            tags[ntags++] = res->actions[i].items[k];
    if (ntags == 0)
        return 0;
    if ((r = rules_strip_subject_tags(buf_str(subject), tags, ntags, &out)) == 1) {
        buf_free(subject);
        *subject = out;
    } else {
        buf_free(&out);
    }
    return r;
}

/* test_outcome - what the milter would do with the result (apply.c order) */
static int test_outcome(const struct msg_model *m, const struct msg_envelope *env,
                        const struct rules_result *res, struct test_outcome *o)
{
    struct buf subject = BUF_INIT(TEST_SUBJECT_MAX);
    int stripped;

    memset(o, 0, sizeof(*o));
    if (res->reject) {
        o->name = "reject";
        return 0;
    }
    if (res->encrypt) {
        o->name = "encrypt";
        return 0;
    }
    if (buf_adds(&subject, m->subject ? m->subject : "") < 0
        || (stripped = strip_tags(res, &subject)) < 0) {
        buf_free(&subject);
        return -1;
    }
    o->modified = stripped;
    for (size_t i = 0; i < res->nactions; i++) {
        const struct rule_action *a = &res->actions[i];
        size_t plen = a->value ? strlen(a->value) : 0;

        switch (a->kind) {
        case ACT_REMOVE_HEADER:
            for (size_t k = 0; k < a->nitems; k++)
                o->modified |= has_header(m, a->items[k]);
            break;
        case ACT_BCC:
            for (size_t k = 0; k < a->nitems; k++)
                o->modified |= !msg_envelope_has_rcpt(env, a->items[k]);
            break;
        case ACT_REMOVE_SUBJECT_TAG:
        case ACT_LOG:
            break;
        case ACT_ADD_HEADER:
        case ACT_SET_HEADER:
            o->modified = 1;
            break;
        case ACT_PREPEND_SUBJECT:
            if (subject.len >= plen
                && (plen == 0 || memcmp(buf_str(&subject), a->value, plen) == 0))
                break;
            {
                struct buf nb = BUF_INIT(TEST_SUBJECT_MAX);

                if (buf_add(&nb, a->value, plen) < 0
                    || buf_add(&nb, buf_str(&subject), subject.len) < 0) {
                    buf_free(&subject);
                    return -1;
                }
                buf_free(&subject);
                subject = nb;
            }
            o->modified = 1;
            break;
        case ACT_QUARANTINE:
            if (o->quarantine == NULL)
                o->quarantine = a->value ? a->value : a->rule;
            break;
        case ACT_REJECT:
        case ACT_ENCRYPT:
            break;
        }
    }
    buf_free(&subject);
    o->name = o->quarantine ? "quarantine" : o->modified ? "accept (modified)" : "accept";
    return 0;
}

/* A JSON writer whose first failed append makes every later one a no-op
 * (a buf is emptied on failure, so appending on would write a tail). */
struct jw {
    struct buf b;
    int bad;
};

/* jw_adds - append a C string */
static void jw_adds(struct jw *w, const char *s)
{
    if (!w->bad && buf_adds(&w->b, s) < 0)
        w->bad = 1;
}

/* jw_addc - append one byte */
static void jw_addc(struct jw *w, int c)
{
    if (!w->bad && buf_addc(&w->b, c) < 0)
        w->bad = 1;
}

/* jw_printf - append formatted text */
static void jw_printf(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw_printf(struct jw *w, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (!w->bad && buf_vprintf(&w->b, fmt, ap) < 0)
        w->bad = 1;
    va_end(ap);
}

/* jw_str - append a JSON string (null for NULL) */
static void jw_str(struct jw *w, const char *s)
{
    if (!w->bad && json_add_str(&w->b, s) < 0)
        w->bad = 1;
}

/* json_names - a JSON list of strings */
static void json_names(struct jw *w, const char *const *names, size_t n)
{
    jw_addc(w, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            jw_addc(w, ',');
        jw_str(w, names[i]);
    }
    jw_addc(w, ']');
}

/* json_limits - the names of the MSG_INC_* bits as a JSON list */
static void json_limits(struct jw *w, unsigned inc)
{
    int first = 1;

    jw_addc(w, '[');
    for (size_t i = 0; i < NLIMITS; i++) {
        if (!(inc & limit_names[i].bit))
            continue;
        if (!first)
            jw_addc(w, ',');
        jw_str(w, limit_names[i].name);
        first = 0;
    }
    jw_addc(w, ']');
}

/* json_action - one action with its argument */
static void json_action(struct jw *w, const struct rule_action *a)
{
    jw_adds(w, "{\"rule\":");
    jw_str(w, a->rule);
    jw_adds(w, ",\"action\":");
    jw_str(w, rules_action_name(a->kind));
    if (a->kind == ACT_ADD_HEADER || a->kind == ACT_SET_HEADER) {
        jw_adds(w, ",\"name\":");
        jw_str(w, a->name);
    }
    if (a->kind == ACT_REJECT) {
        jw_printf(w, ",\"code\":%d,\"status\":", a->code);
        jw_str(w, a->status);
        jw_adds(w, ",\"text\":");
        jw_str(w, a->text);
    } else if (a->value != NULL) {
        jw_adds(w, ",\"value\":");
        jw_str(w, a->value);
    }
    if (a->nitems > 0) {
        jw_adds(w, ",\"items\":");
        json_names(w, a->items, a->nitems);
    }
    jw_addc(w, '}');
}

/* test_json - the report as one JSON object; 0, or -1 (too big, no memory) */
static int test_json(const struct test_args *a, const struct msg_envelope *env,
                     const struct decision *d, const struct test_outcome *o)
{
    const struct rules_result *res = &d->res;
    struct jw jw = { BUF_INIT(TEST_REPORT_MAX), 0 }, *w = &jw;

    jw_adds(w, "{\"message\":");
    jw_str(w, a->message);
    jw_printf(w, ",\"size\":%llu,\"from\":{\"address\":", (unsigned long long)d->model->size);
    jw_str(w, env->from);
    jw_printf(w, ",\"scope\":\"%s\"},\"recipients\":[", env->from_external ? "external" : "internal");
    for (size_t i = 0; i < env->nrcpts; i++) {
        jw_adds(w, i ? ",{\"address\":" : "{\"address\":");
        jw_str(w, env->rcpts[i].addr);
        jw_printf(w, ",\"scope\":\"%s\"}", env->rcpts[i].external ? "external" : "internal");
    }
    jw_adds(w, "],\"matched\":");
    json_names(w, res->matched, res->nmatched);
    jw_adds(w, ",\"audit\":");
    json_names(w, res->audited, res->naudited);
    jw_adds(w, ",\"explanations\":[");
    for (size_t i = 0; i < res->nevidence; i++) {
        jw_adds(w, i ? ",{\"rule\":" : "{\"rule\":");
        jw_str(w, res->evidence[i].rule);
        jw_adds(w, ",\"condition\":");
        jw_str(w, res->evidence[i].condition);
        jw_adds(w, ",\"excerpt\":");
        jw_str(w, res->evidence[i].excerpt);
        jw_addc(w, '}');
    }
    jw_adds(w, "],\"actions\":[");
    for (size_t i = 0; i < res->nactions; i++) {
        if (i)
            jw_addc(w, ',');
        jw_str(w, rules_action_name(res->actions[i].kind));
    }
    jw_adds(w, "],\"action_details\":[");
    for (size_t i = 0; i < res->nactions; i++) {
        if (i)
            jw_addc(w, ',');
        json_action(w, &res->actions[i]);
    }
    jw_printf(w, "],\"encrypt\":%s,\"quarantine\":", res->encrypt ? "true" : "false");
    jw_str(w, o->quarantine);
    jw_adds(w, ",\"reject\":");
    if (res->reject) {
        jw_printf(w, "{\"code\":%d,\"status\":", res->reject->code);
        jw_str(w, res->reject->status);
        jw_adds(w, ",\"text\":");
        jw_str(w, res->reject->text);
        jw_adds(w, ",\"rule\":");
        jw_str(w, res->reject->rule);
        jw_addc(w, '}');
    } else {
        jw_adds(w, "null");
    }
    jw_adds(w, ",\"outcome\":");
    jw_str(w, o->name);
    if (res->encrypt && !res->reject) {
        jw_adds(w, ",\"template\":");
        jw_str(w, res->encrypt_template ? res->encrypt_template : "(default)");
        jw_adds(w, ",\"note\":\"the milter sends the message as the encrypted wrapper\"");
    }
    jw_adds(w, ",\"incomplete\":");
    json_limits(w, d->model->incomplete);
    jw_adds(w, ",\"incomplete_decided\":");
    json_limits(w, res->incomplete);
    jw_adds(w, "}\n");
    if (w->bad) {
        buf_free(&w->b);
        fprintf(stderr, "mailseal test: the report is too large\n");
        return -1;
    }
    fwrite(w->b.data, 1, w->b.len, stdout);
    buf_free(&w->b);
    return 0;
}

/* print_limits - the names of the MSG_INC_* bits, comma separated */
static void print_limits(unsigned inc)
{
    int first = 1;

    for (size_t i = 0; i < NLIMITS; i++) {
        if (inc & limit_names[i].bit) {
            printf("%s%s", first ? "" : ", ", limit_names[i].name);
            first = 0;
        }
    }
    if (first)
        fputs("none", stdout);
}

/* print_list - names joined with ", ", or "none" */
static void print_list(const char *label, const char *const *names, size_t n)
{
    printf("%s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", names[i]);
    puts(n ? "" : "none");
}

/* test_text - the report for people */
static void test_text(const struct test_args *a, const struct msg_envelope *env,
                      const struct decision *d, const struct test_outcome *o)
{
    const struct rules_result *res = &d->res;

    fputs("message:    ", stdout);
    put_safe(stdout, a->message);
    printf(" (%llu bytes)\nfrom:       ", (unsigned long long)d->model->size);
    put_safe(stdout, env->from[0] ? env->from : "<>");
    printf(" (%s)\nto:         ", env->from_external ? "external" : "internal");
    for (size_t i = 0; i < env->nrcpts; i++) {
        fputs(i ? ", " : "", stdout);
        put_safe(stdout, env->rcpts[i].addr);
        printf(" (%s)", env->rcpts[i].external ? "external" : "internal");
    }
    putchar('\n');
    print_list("matched:    ", res->matched, res->nmatched);
    print_list("audit:      ", res->audited, res->naudited);
    for (size_t i = 0; i < res->nevidence; i++) {
        printf("  because   %s: %s: ", res->evidence[i].rule, res->evidence[i].condition);
        put_safe(stdout, res->evidence[i].excerpt);
        putchar('\n');
    }
    puts(res->nactions ? "actions:" : "actions:    none");
    for (size_t i = 0; i < res->nactions; i++) {
        const struct rule_action *x = &res->actions[i];

        printf("  %zu. %s: %s", i + 1, x->rule, rules_action_name(x->kind));
        if (x->kind == ACT_REJECT) {
            printf(" %d %s ", x->code, x->status);
            put_safe(stdout, x->text);
        } else if (x->name != NULL) {
            putchar(' ');
            put_safe(stdout, x->name);
            fputs(": ", stdout);
            put_safe(stdout, x->value);
        } else if (x->value != NULL) {
            fputs(" \"", stdout);
            put_safe(stdout, x->value);
            putchar('"');
        }
        for (size_t k = 0; k < x->nitems; k++) {
            fputs(k ? ", \"" : " \"", stdout);
            put_safe(stdout, x->items[k]);
            putchar('"');
        }
        putchar('\n');
    }
    printf("outcome:    %s", o->name);
    if (res->reject) {
        printf(" %d %s ", res->reject->code, res->reject->status);
        put_safe(stdout, res->reject->text);
        printf(" (%s)", res->reject->rule);
    } else if (o->quarantine) {
        fputs(": ", stdout);
        put_safe(stdout, o->quarantine);
    } else if (res->encrypt) {
        printf(" (as the encrypted wrapper, template %s)",
               res->encrypt_template ? res->encrypt_template : "(default)");
    }
    fputs("\nincomplete: ", stdout);
    print_limits(d->model->incomplete);
    if (res->incomplete) {
        fputs(" (policy.on_incomplete decided: ", stdout);
        print_limits(res->incomplete);
        putchar(')');
    }
    putchar('\n');
}

/* cmd_test - the test subcommand */
int cmd_test(int argc, char **argv)
{
    struct test_args a;
    struct diag dg;
    struct config *cfg;
    struct spool *sp = NULL;
    struct msg_envelope env;
    struct decision d;
    struct test_outcome o;
    int status, broken;

    if ((status = test_parse_args(argc, argv, &a)) >= 0)
        return status;
    status = CLI_INVALID;
    diag_init(&dg);
    msg_envelope_init(&env);
    memset(&d, 0, sizeof(d));
    cfg = cli_config_load(a.config, a.rules != NULL, &dg, &broken);
    if (cfg == NULL && broken)
        diag_add(&dg, a.config, 0, 0, "the configured rules have errors (see mailseal check -c %s); "
                 "fix them before trying a draft", a.config);
    if (cfg != NULL && a.rules != NULL && (cfg->rules = rules_load(a.rules, &dg)) == NULL) {
        config_free(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        cli_print_diag(&dg);
        goto out;
    }
    rules_set_explain(cfg->rules, 1);
    if (test_envelope(cfg, &a, &env, &status) < 0)
        goto out;
    status = CLI_INVALID;
    if ((sp = test_read_message(cfg, a.message)) == NULL)
        goto out;
    if (decide(cfg, sp, &env, 0, &d) < 0) {
        fprintf(stderr, "%s: the message could not be decided: %s\n", a.message, strerror(errno));
        goto out;
    }
    if (test_outcome(d.model, &env, &d.res, &o) < 0) {
        fprintf(stderr, "%s: out of memory\n", a.message);
        goto out;
    }
    if (a.json ? test_json(&a, &env, &d, &o) == 0 : (test_text(&a, &env, &d, &o), 1))
        status = CLI_OK;
    if (fflush(stdout) != 0)
        status = CLI_INVALID;
out:
    decision_free(&d);
    spool_free(sp);
    msg_envelope_free(&env);
    config_free(cfg);
    diag_free(&dg);
    return status;
}
