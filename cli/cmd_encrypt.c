/*
 * cmd_encrypt - `mailseal encrypt`: the wrapper message of the milter's
 * encrypt action, made from the command line.
 *
 *   mailseal encrypt [-c CONFIG] --from ADDR --to ADDR[,ADDR...]
 *                    [--passphrase-file FILE] < IN.eml > OUT.eml
 *
 * The message is wrapped unconditionally (the rules are not consulted) by
 * wrap_body() (milter/wrap.h), the code the milter's encrypt action runs,
 * with the configuration's envelope settings and its default template.
 * Key slots are those wrap_body() chooses (a stored key per recipient, the
 * random passphrase as envelope.random_passphrase says, the recovery key;
 * the store envelope.secrets_file must be readable unless it is the
 * default one and does not exist)
 * and, with --passphrase-file, one passphrase slot more (PBKDF2,
 * ENV_DEFAULT_ITERATIONS) named after the first --to address, so a
 * viewer's hint finds it for that address.  A random passphrase is printed
 * to stderr as "random passphrase: XXXX-..." once the output is written;
 * no notification mail is sent.
 *
 * Headers, as apply.c writes them: the top-level fields wrap_keeps_header()
 * accepts, in their order and as written (folding kept); when the template
 * has a subject, the first Subject field is replaced by it and the others
 * dropped (or it is added last when there was none); then MIME-Version and
 * the wrapper's Content-Type.  Values written here are RFC 2047-encoded
 * like the milter's.  No loop marker is written (the tool does not read
 * the loop secret, and a marker names recipients and a Message-ID the
 * tool cannot vouch for); an X-Mailseal-Loop field of the input is dropped
 * like every field the wrapper does not keep.  A header block that hit
 * limits.max_headers or limits.max_header_length is refused, since a cut
 * field cannot be copied whole.
 *
 * Line breaks: every line break of the output, the wrapper's body
 * included, is the one the input's first line ends with (LF in, LF out;
 * CRLF in, CRLF out; CRLF when the input has none).  The encrypted payload
 * is the input exactly as read.
 *
 * Memory stays bounded: stdin, the header block and the wrapper body each
 * go to a spool (message/spool.h: spool.memory_limit in memory, the rest
 * in an unlinked private file in $TMPDIR or /tmp).  Nothing reaches stdout
 * before the whole wrapper is built, so a refusal leaves stdout empty; a
 * failure while copying to stdout says the output is incomplete.
 *
 * cmd_encrypt() returns the exit status (cli.h): 0, 1 with a reason on
 * stderr (configuration, input, no key slot, too big), 2 usage.  The
 * passphrase and the derived key are wiped after use and never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "crypto/envelope.h"
#include "crypto/secrets.h"
#include "message/rfc2047.h"
#include "message/spool.h"
#include "milter/wrap.h"
#include "util/buf.h"

#define ENC_READ 65536                /* bytes read or copied at a time */
#define ENC_PASS_MAX 4096             /* longest passphrase (docs/ENVELOPE.md) */
#define ENC_MAX_RCPTS 1000
#define ENC_VALUE_MAX (64 * 1024)     /* an encoded header value written here */

struct enc_args {
    const char *config;
    const char *from;
    const char *to[ENC_MAX_RCPTS];    /* --to arguments, each a comma-separated list */
    size_t nto;
    const char *pass_file;
};

/* An output stream: line breaks rewritten to one form, staged into a spool. */
struct enc_out {
    struct spool *sp;
    int crlf;                         /* line breaks are CRLF (else LF) */
    int cr;                           /* the last byte taken was a CR not yet written */
    unsigned char *stage;             /* ENC_READ bytes */
    size_t n;
};

/* encrypt_usage - the subcommand's help */
static void encrypt_usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal encrypt [-c CONFIG] --from ADDR --to ADDR[,ADDR...]\n"
            "                        [--passphrase-file FILE] < IN.eml > OUT.eml\n"
            "  Wraps the message on stdin as the gateway's encrypt action does (the rules\n"
            "  are not consulted), with the envelope settings and the default template of\n"
            "  the configuration (default %s).\n"
            "  --passphrase-file FILE  one more key slot, opened by the first line of FILE\n"
            "  A random passphrase, when the configuration adds one, is printed to stderr.\n"
            "  Exit 0 on success, 1 on failure, 2 on usage errors.\n",
            CONFIG_DEFAULT_PATH);
}

/* out_init - an output stream into a new spool; 0 or -1 with errno */
static int out_init(struct enc_out *o, const struct config *cfg, int crlf)
{
    const char *dir = getenv("TMPDIR");

    memset(o, 0, sizeof(*o));
    o->crlf = crlf;
    if (dir == NULL || dir[0] != '/')
        dir = "/tmp";
    if ((o->stage = malloc(ENC_READ)) == NULL || (o->sp = spool_new(dir, cfg->memory_limit)) == NULL)
        return -1;
    return 0;
}

/* out_free - release an output stream */
static void out_free(struct enc_out *o)
{
    spool_free(o->sp);
    free(o->stage);
    memset(o, 0, sizeof(*o));
}

/* out_byte - one byte into the stage, moved to the spool when full */
static int out_byte(struct enc_out *o, unsigned char c)
{
    o->stage[o->n++] = c;
    if (o->n == ENC_READ) {
        o->n = 0;
        return spool_write(o->sp, o->stage, ENC_READ);
    }
    return 0;
}

/* out_eol - the stream's line break */
static int out_eol(struct enc_out *o)
{
    return (o->crlf && out_byte(o, '\r') < 0) || out_byte(o, '\n') < 0 ? -1 : 0;
}

/* out_write - wrap_out_fn: bytes in, CRLF and LF written as the stream's line break */
static int out_write(void *arg, const void *data, size_t len)
{
    struct enc_out *o = arg;
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        int r;

        if (o->cr) {
            o->cr = 0;
            if (p[i] == '\n') {
                if (out_eol(o) < 0)
                    return -1;
                continue;
            }
            if (out_byte(o, '\r') < 0)  /* a bare CR stays */
                return -1;
        }
        if (p[i] == '\r') {
            o->cr = 1;
            continue;
        }
        r = p[i] == '\n' ? out_eol(o) : out_byte(o, p[i]);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* out_puts - a C string through out_write() */
static int out_puts(struct enc_out *o, const char *s)
{
    return out_write(o, s, strlen(s));
}

/* out_finish - the pending CR and the stage into the spool */
static int out_finish(struct enc_out *o)
{
    if (o->cr) {
        o->cr = 0;
        if (out_byte(o, '\r') < 0)
            return -1;
    }
    if (o->n > 0 && spool_write(o->sp, o->stage, o->n) < 0)
        return -1;
    o->n = 0;
    return 0;
}

/* out_copy - the spool's bytes to fd; bytes written added to *written; 0 or -1 */
static int out_copy(struct enc_out *o, int fd, uint64_t *written)
{
    uint64_t off = 0, size = spool_size(o->sp);

    while (off < size) {
        size_t want = size - off < ENC_READ ? (size_t)(size - off) : ENC_READ;
        ssize_t n = spool_pread(o->sp, o->stage, want, off);
        const unsigned char *p = o->stage;

        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        off += (uint64_t)n;
        while (n > 0) {
            ssize_t w = write(fd, p, (size_t)n);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                if (w == 0)
                    errno = EIO;
                return -1;
            }
            p += w;
            n -= w;
            *written += (uint64_t)w;
        }
    }
    return 0;
}

/* put_field - "Name: value", value encoded as the milter writes it, and a line break */
static int put_field(struct enc_out *o, const char *name, const char *value)
{
    struct buf b = BUF_INIT(ENC_VALUE_MAX);
    int r;

    r = buf_printf(&b, "%s: ", name) < 0 || rfc2047_encode(name, value, &b) < 0
        || buf_addc(&b, '\n') < 0 || out_write(o, b.data, b.len) < 0 ? -1 : 0;
    buf_free(&b);
    return r;
}

/* put_headers - the wrapper's header block for model m (see the top of the file) */
static int put_headers(struct enc_out *o, const struct config *cfg,
                       const struct config_template *t, const struct msg_model *m,
                       const struct wrap_info *info)
{
    const struct msg_part *root = m->root;
    int subject_done = t->subject == NULL;

    for (size_t i = 0; root != NULL && i < root->nheaders; i++) {
        const struct msg_header *h = &root->headers[i];

        if (!wrap_keeps_header(cfg, h->name))
            continue;
        if (t->subject != NULL && strcasecmp(h->name, "Subject") == 0) {
            if (!subject_done && put_field(o, "Subject", t->subject) < 0)
                return -1;
            subject_done = 1;
            continue;
        }
        if (out_puts(o, h->name) < 0 || out_puts(o, ":") < 0 || out_puts(o, h->raw) < 0
            || out_eol(o) < 0)
            return -1;
    }
    if (put_field(o, "MIME-Version", "1.0") < 0
        || put_field(o, "Content-Type", info->content_type) < 0
        || (!subject_done && put_field(o, "Subject", t->subject) < 0)
        || out_eol(o) < 0)
        return -1;
    return out_finish(o);
}

/* parse_args - options; -1 to go on, or the exit status (CLI_OK for -h, CLI_USAGE) */
static int parse_args(int argc, char **argv, struct enc_args *a)
{
    enum { OPT_FROM = 256, OPT_TO, OPT_PASS };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "from", required_argument, NULL, OPT_FROM },
        { "to", required_argument, NULL, OPT_TO },
        { "passphrase-file", required_argument, NULL, OPT_PASS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *why = NULL;
    int c;

    memset(a, 0, sizeof(*a));
    a->config = CONFIG_DEFAULT_PATH;
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            a->config = optarg;
        } else if (c == OPT_FROM) {
            a->from = optarg;
        } else if (c == OPT_TO && a->nto < ENC_MAX_RCPTS) {
            a->to[a->nto++] = optarg;
        } else if (c == OPT_TO) {
            why = "too many --to options";
        } else if (c == OPT_PASS) {
            a->pass_file = optarg;
        } else if (c == 'h') {
            encrypt_usage(stdout);
            return CLI_OK;
        } else {
            encrypt_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (why == NULL)
        why = a->from == NULL ? "--from is required"
            : a->nto == 0 ? "--to is required"
            : optind < argc ? "the message is read from stdin: no operands" : NULL;
    if (why != NULL) {
        fprintf(stderr, "mailseal encrypt: %s\n", why);
        encrypt_usage(stderr);
        return CLI_USAGE;
    }
    return -1;
}

/* read_key - the passphrase slot's key from the first line of path; 0 or -1 after printing why */
static int read_key(const char *path, struct env_recipient_key *k)
{
    char pass[ENC_PASS_MAX + 2];
    const char *why = NULL;
    size_t len = 0;
    int rc = -1;

    if (cli_read_passphrase_file(path, pass, sizeof(pass), ENC_PASS_MAX, &len, &why) < 0) {
        fprintf(stderr, "mailseal encrypt: %s: %s\n", path,
                errno == E2BIG ? "the passphrase is longer than 4096 bytes" : why);
        return -1;
    }
    if (len == 0)
        fprintf(stderr, "mailseal encrypt: %s: the passphrase file's first line is empty\n", path);
    else if (env_derive_passphrase_key(pass, len, ENV_DEFAULT_ITERATIONS, k) < 0)
        fprintf(stderr, "mailseal encrypt: %s: %s\n", path,
                errno == EINVAL ? "the passphrase is not valid UTF-8" : strerror(errno));
    else
        rc = 0;
    OPENSSL_cleanse(pass, sizeof(pass));
    return rc;
}

/* read_input - stdin into tmp's spool, which it returns (NULL after printing why);
 * *crlf: the first line break is CRLF, or there is none */
static struct spool *read_input(struct enc_out *tmp, int *crlf)
{
    struct spool *sp = tmp->sp;
    int seen = 0;
    unsigned char prev = 0;

    *crlf = 1;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, tmp->stage, ENC_READ);
        const unsigned char *lf;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "mailseal encrypt: cannot read stdin: %s\n", strerror(errno));
            return NULL;
        }
        if (n == 0)
            break;
        if (!seen && (lf = memchr(tmp->stage, '\n', (size_t)n)) != NULL) {
            seen = 1;
            *crlf = (lf > tmp->stage ? lf[-1] : prev) == '\r';
        }
        prev = tmp->stage[n - 1];
        if (spool_write(sp, tmp->stage, (size_t)n) < 0) {
            fprintf(stderr, "mailseal encrypt: cannot keep the message: %s\n", strerror(errno));
            return NULL;
        }
    }
    tmp->sp = NULL;                   /* the caller owns the spool now */
    return sp;
}

/* headers_model - the top-level header block of the message in sp; NULL after printing why */
static struct msg_model *headers_model(const struct config *cfg, struct spool *sp)
{
    struct msg_limits lim = cfg->limits;
    struct msg_model *m = NULL;

    lim.max_size = 0;                 /* only the top-level header block is parsed */
    if (msg_model_build(sp, &lim, NULL, &m) < 0) {
        fprintf(stderr, "mailseal encrypt: cannot parse the message: %s\n", strerror(errno));
        return NULL;
    }
    if (m->root != NULL && (m->root->flags & MSG_PART_HEADERS_CUT)) {
        fprintf(stderr, "mailseal encrypt: the message's header block is over "
                        "limits.max_headers or limits.max_header_length\n");
        msg_model_free(m);
        return NULL;
    }
    return m;
}

/* load_secrets - the recipient key store, which cli_config_load() leaves out;
 * the default one need not exist (as config_load() has it).  0 or -1 (d) */
static int load_secrets(struct config *cfg, struct diag *d)
{
    if (cfg->secrets != NULL || cfg->secrets_file == NULL)
        return 0;
    if (strcmp(cfg->secrets_file, SECRETS_DEFAULT_PATH) == 0
        && access(cfg->secrets_file, F_OK) < 0 && errno == ENOENT)
        return 0;
    return (cfg->secrets = secrets_load(cfg->secrets_file, d)) != NULL ? 0 : -1;
}

/* wrap_failed - the reason wrap_body() failed, on stderr */
static void wrap_failed(const struct config *cfg, const struct wrap_info *info, int e)
{
    if (e == EFBIG)
        fprintf(stderr, "mailseal encrypt: the encrypted message would be bigger than "
                        "envelope.max_wrapper_size (%llu bytes)\n", cfg->max_wrapper_size);
    else if (e == ENOKEY)
        fprintf(stderr, "mailseal encrypt: no key slot for every recipient: %s "
                        "(give --passphrase-file)\n",
                info->reason ? info->reason : "a recipient has no passphrase");
    else
        fprintf(stderr, "mailseal encrypt: could not build the encrypted message: %s\n",
                strerror(e));
}

/* encrypt_run - input, wrapper, output for a loaded configuration and envelope */
static int encrypt_run(const struct config *cfg, const struct msg_envelope *env,
                       const struct wrap_extra *extra)
{
    const struct config_template *t = config_template_find(cfg, NULL);
    struct enc_out in, hdr, body;
    struct wrap_info info;
    struct spool *sp = NULL;
    struct msg_model *m = NULL;
    uint64_t written = 0;
    int crlf = 1, rc = CLI_INVALID;

    memset(&info, 0, sizeof(info));
    memset(&hdr, 0, sizeof(hdr));
    memset(&body, 0, sizeof(body));
    if (out_init(&in, cfg, 1) < 0) {
        fprintf(stderr, "mailseal encrypt: cannot make a spool: %s\n", strerror(errno));
        goto out;
    }
    if ((sp = read_input(&in, &crlf)) == NULL || (m = headers_model(cfg, sp)) == NULL)
        goto out;
    if (out_init(&hdr, cfg, crlf) < 0 || out_init(&body, cfg, crlf) < 0) {
        fprintf(stderr, "mailseal encrypt: cannot make a spool: %s\n", strerror(errno));
        goto out;
    }
    if (wrap_body(cfg, t, sp, env, extra, out_write, &body, &info) < 0) {
        wrap_failed(cfg, &info, errno);
        goto out;
    }
    if (out_finish(&body) < 0 || put_headers(&hdr, cfg, t, m, &info) < 0) {
        fprintf(stderr, "mailseal encrypt: could not build the encrypted message: %s\n",
                strerror(errno));
        goto out;
    }
    if (out_copy(&hdr, STDOUT_FILENO, &written) < 0 || out_copy(&body, STDOUT_FILENO, &written) < 0) {
        fprintf(stderr, "mailseal encrypt: cannot write the output: %s\n", strerror(errno));
        if (written > 0)
            fprintf(stderr, "mailseal encrypt: the output is incomplete and must be discarded\n");
        goto out;
    }
    if (info.has_random)
        fprintf(stderr, "random passphrase: %s\n", info.random_pass);
    rc = CLI_OK;
out:
    wrap_info_clear(&info);
    msg_model_free(m);
    spool_free(sp);
    out_free(&in);
    out_free(&hdr);
    out_free(&body);
    return rc;
}

/* cmd_encrypt - `mailseal encrypt`: options, configuration, keys, then encrypt_run() */
int cmd_encrypt(int argc, char **argv)
{
    struct enc_args a;
    struct diag dg;
    struct config *cfg = NULL;
    struct msg_envelope env;
    struct env_recipient_key key;
    struct wrap_extra extra = { NULL, NULL };
    char *name = NULL;
    int status, broken;

    if ((status = parse_args(argc, argv, &a)) >= 0)
        return status;
    status = CLI_INVALID;
    diag_init(&dg);
    msg_envelope_init(&env);
    if ((cfg = cli_config_load(a.config, 0, &dg, &broken)) == NULL
        || load_secrets(cfg, &dg) < 0) {
        cli_print_diag(&dg);
        goto out;
    }
    if (msg_envelope_set_from(&env, strcmp(a.from, "<>") == 0 ? "" : a.from) < 0) {
        fprintf(stderr, "mailseal encrypt: --from %s: %s\n", a.from, strerror(errno));
        goto out;
    }
    if (cli_add_rcpts("encrypt", a.to, a.nto, ENC_MAX_RCPTS, &env, &status) < 0)
        goto out;
    status = CLI_INVALID;
    if (a.pass_file != NULL) {
        if (read_key(a.pass_file, &key) < 0)
            goto out;
        if ((name = strdup(env.rcpts[0].addr)) == NULL) {
            fprintf(stderr, "mailseal encrypt: %s\n", strerror(errno));
            goto out;
        }
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        extra.key = &key;
        extra.name = name;
    }
    status = encrypt_run(cfg, &env, &extra);
out:
    OPENSSL_cleanse(&key, sizeof(key));
    free(name);
    msg_envelope_free(&env);
    config_free(cfg);
    diag_free(&dg);
    return status;
}
