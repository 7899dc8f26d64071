/*
 * config - load and validate the gateway's configuration file (see
 * config.h for the contract).
 *
 * The schema is the table config_keys[] below, Postfix style: for every
 * key its path, value parser, default (written as it would be in the file
 * and run through the same parser), range and target field.  Loading reads
 * the YAML tree (util/yaml_tree.c: size, depth and node caps, no aliases,
 * no duplicate keys), walks it against the table (unknown keys with a
 * suggestion, wrong types, bad values, all reported in one run as
 * FILE:LINE:COLUMN), applies defaults, checks required keys, then loads the
 * rules and, when all that succeeded, the loop secret.  Relative paths are
 * resolved against the absolute directory of the configuration file.
 *
 * The result is returned only when nothing was wrong; it is owned by the
 * caller and released with config_free(), which wipes the secret.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config/config.h"
#include "config/config_int.h"
#include "crypto/envelope.h"
#include "crypto/keyfile.h"
#include "crypto/secrets.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/yaml_tree.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define CONFIG_MAX_PATH 4096
#define CONFIG_MAX_STRING 1024

struct cfg_loader;
struct config_key;

typedef void (*config_parser)(struct cfg_loader *ld, const struct config_key *k,
                              const struct ynode *v);

/* config_keys[].flags */
#define CK_REQUIRED  0x1u         /* must be given */
#define CK_EMPTY_OK  0x2u         /* "" (or nothing) stores NULL */

struct config_key {
    const char *path;             /* "milter.socket" */
    config_parser parse;          /* NULL: a section (a mapping of keys) */
    const char *def;              /* default as written in the file; NULL: none */
    unsigned long long min, max;  /* numbers, sizes, durations */
    size_t off, size;             /* target field in struct config */
    unsigned flags;
};

struct cfg_loader {
    struct config *cfg;
    struct diag *d;
    const char *file;             /* as given, for messages */
    char *dir;                    /* absolute directory of the file */
    int bad;
    const struct ynode **given;   /* value node of each key found */
    const struct ynode **keynode; /* its key node */
};

static void ck_string(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_path(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_socket(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_user(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_group(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_umask(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_uint(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_size(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_duration(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_log_level(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_facility(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_bool(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_domains(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_networks(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_on_incomplete(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_random_pass(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_header_names(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_relay(struct cfg_loader *, const struct config_key *, const struct ynode *);
static void ck_templates(struct cfg_loader *, const struct config_key *, const struct ynode *);

#define F(m) offsetof(struct config, m), sizeof(((struct config *)0)->m)
#define NOF 0, 0

/* The schema.  Keep config/mailseal.yaml.example in step with it. */
static const struct config_key config_keys[] = {
    { "milter", NULL, NULL, 0, 0, NOF, 0 },
    { "milter.socket", ck_socket, "unix:/var/spool/postfix/mailseal/mailseal.sock",
      0, 0, F(socket), 0 },
    { "milter.user", ck_user, "", 0, 0, F(user), CK_EMPTY_OK },
    { "milter.group", ck_group, "", 0, 0, F(group), CK_EMPTY_OK },
    { "milter.pid_file", ck_path, "/run/mailseal/mailseal-milter.pid", 0, 0, F(pid_file),
      CK_EMPTY_OK },
    { "milter.umask", ck_umask, "0007", 0, 0777, F(umask), 0 },
    { "milter.timeout", ck_uint, "300", 1, 86400, F(timeout), 0 },
    { "milter.shutdown_timeout", ck_uint, "60", 0, 86400, F(shutdown_timeout), 0 },
    { "milter.log_level", ck_log_level, "info", 0, 0, F(log_level), 0 },
    { "milter.syslog_facility", ck_facility, "mail", 0, 0, F(syslog_facility), 0 },
    { "organization", NULL, NULL, 0, 0, NOF, CK_REQUIRED },
    { "organization.name", ck_string, "", 0, 0, F(org_name), 0 },
    { "organization.domains", ck_domains, NULL, 0, 0, NOF, CK_REQUIRED },
    { "rules", ck_path, NULL, 0, 0, F(rules_path), CK_REQUIRED },
    { "spool", NULL, NULL, 0, 0, NOF, 0 },
    { "spool.directory", ck_path, "/var/spool/mailseal", 0, 0, F(spool_dir), 0 },
    { "spool.memory_limit", ck_size, "1MB", 0, 1 * GiB, F(memory_limit), 0 },
    { "limits", NULL, NULL, 0, 0, NOF, 0 },
    { "limits.max_message_size", ck_size, "100MB", 1 * KiB, 16 * GiB,
      F(limits.max_size), 0 },
    { "limits.max_headers", ck_uint, "1000", 1, 100000, F(limits.max_headers), 0 },
    { "limits.max_header_length", ck_size, "64KB", 1 * KiB, 1 * MiB,
      F(limits.max_header_len), 0 },
    { "limits.max_mime_depth", ck_uint, "32", 1, 100, F(limits.max_depth), 0 },
    { "limits.max_mime_parts", ck_uint, "2000", 1, 100000, F(limits.max_parts), 0 },
    { "limits.scan_limit", ck_size, "32MB", 1 * KiB, 16 * GiB, F(limits.scan_limit), 0 },
    { "apply_to", NULL, NULL, 0, 0, NOF, 0 },
    { "apply_to.authenticated", ck_bool, "false", 0, 0, F(apply_authenticated), 0 },
    { "apply_to.networks", ck_networks, NULL, 0, 0, NOF, 0 },
    { "policy", NULL, NULL, 0, 0, NOF, 0 },
    { "policy.on_incomplete", ck_on_incomplete, "encrypt", 0, 0, F(on_incomplete), 0 },
    { "loop", NULL, NULL, 0, 0, NOF, 0 },
    { "loop.secret_file", ck_path, "/var/lib/mailseal/loop.key", 0, 0, F(loop_secret_file), 0 },
    { "loop.max_age", ck_duration, "7d", 60, 365 * 86400, F(loop_max_age), 0 },
    { "envelope", NULL, NULL, 0, 0, NOF, 0 },
    { "envelope.secrets_file", ck_path, "/etc/mailseal/secrets", 0, 0, F(secrets_file), 0 },
    { "envelope.random_passphrase", ck_random_pass, "missing", 0, 0, F(random_passphrase), 0 },
    { "envelope.recovery_public_key", ck_path, "", 0, 0, F(recovery_key_file), CK_EMPTY_OK },
    { "envelope.chunk_size", ck_size, "64KB", ENV_MIN_CHUNK, ENV_MAX_CHUNK, F(chunk_size), 0 },
    { "envelope.max_wrapper_size", ck_size, "25MB", 64 * KiB, 4 * GiB, F(max_wrapper_size), 0 },
    { "envelope.keep_headers", ck_header_names, NULL, 0, 0, NOF, 0 },
    { "envelope.attachment_name", ck_string, "message.html", 0, 0, F(attachment_name), 0 },
    { "envelope.default_template", ck_string, "default", 0, 0, F(default_template), 0 },
    { "notify", NULL, NULL, 0, 0, NOF, 0 },
    { "notify.relay", ck_relay, "127.0.0.1:25", 0, 0, NOF, 0 },
    { "notify.from", ck_string, "", 0, 0, F(notify_from), CK_EMPTY_OK },
    { "notify.timeout", ck_uint, "30", 1, 600, F(notify_timeout), 0 },
    { "templates", ck_templates, NULL, 0, 0, NOF, 0 },
};
#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* ck_target - the field a key stores into */
static void *ck_target(struct cfg_loader *ld, const struct config_key *k)
{
    return (char *)ld->cfg + k->off;
}

/* ck_error - "FILE:LINE:COL: KEY: message" at v */
static void ck_error(struct cfg_loader *ld, const struct config_key *k,
                     const struct ynode *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ck_error(struct cfg_loader *ld, const struct config_key *k,
                     const struct ynode *v, const char *fmt, ...)
{
    struct buf b = BUF_INIT(2048);
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (v != NULL && v->file != NULL)
        ynode_error(ld->d, v, "%s: %s", k->path, r == 0 ? buf_str(&b) : "invalid value");
    else
        diag_add(ld->d, ld->file, 0, 0, "%s: %s (built-in default)", k->path,
                 r == 0 ? buf_str(&b) : "invalid value");
    buf_free(&b);
    ld->bad = 1;
}

/* ck_oom - report running out of memory */
static void ck_oom(struct cfg_loader *ld, const struct config_key *k,
                   const struct ynode *v)
{
    ck_error(ld, k, v, "out of memory");
}

/* ck_shown - a value as a message shows it: its text, or "a list" */
static const char *ck_shown(const struct ynode *v)
{
    return v->type == YNODE_SCALAR ? v->value : ynode_kind(v);
}

/* ck_scalar - v is a scalar with printable text; reports otherwise */
static int ck_scalar(struct cfg_loader *ld, const struct config_key *k,
                     const struct ynode *v, const char *expected)
{
    if (v->type != YNODE_SCALAR) {
        ck_error(ld, k, v, "expected %s, not %s", expected, ynode_kind(v));
        return -1;
    }
    if (v->len > CONFIG_MAX_STRING) {
        ck_error(ld, k, v, "longer than %d bytes", CONFIG_MAX_STRING);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)v->value; *p; p++) {
        if (*p < 0x20 || *p == 0x7F) {
            ck_error(ld, k, v, "must not contain control characters");
            return -1;
        }
    }
    return 0;
}

/* ck_set_string - store a copy of s (NULL allowed) in a char * field */
static void ck_set_string(struct cfg_loader *ld, const struct config_key *k,
                          const struct ynode *v, const char *s)
{
    char **target = ck_target(ld, k);
    char *copy = NULL;

    if (s != NULL && (copy = strdup(s)) == NULL) {
        ck_oom(ld, k, v);
        return;
    }
    free(*target);
    *target = copy;
}

/* ck_store_uint - store v into an unsigned field of k->size bytes */
static void ck_store_uint(struct cfg_loader *ld, const struct config_key *k,
                          unsigned long long v)
{
    void *p = ck_target(ld, k);

    if (k->size == sizeof(uint64_t)) {
        uint64_t x = v;

        memcpy(p, &x, sizeof(x));
    } else if (k->size == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;

        memcpy(p, &x, sizeof(x));
    }
}

/* ck_string - any printable text */
static void ck_string(struct cfg_loader *ld, const struct config_key *k,
                      const struct ynode *v)
{
    if (ck_scalar(ld, k, v, "a string") == 0)
        ck_set_string(ld, k, v, ynode_is_null(v) ? "" : v->value);
}

/* ck_path - a file or directory name, relative ones resolved against the
 * configuration file's directory */
static void ck_path(struct cfg_loader *ld, const struct config_key *k,
                    const struct ynode *v)
{
    struct buf b = BUF_INIT(CONFIG_MAX_PATH);

    if (ck_scalar(ld, k, v, "a path") < 0)
        return;
    if (ynode_is_null(v) || v->len == 0) {
        if (k->flags & CK_EMPTY_OK)
            ck_set_string(ld, k, v, NULL);
        else
            ck_error(ld, k, v, "must not be empty");
        return;
    }
    if (v->value[0] != '/') {
        const char *rel = v->value;

        while (rel[0] == '.' && rel[1] == '/')
            rel += 2;
        if (buf_adds(&b, ld->dir) < 0
            || (strcmp(ld->dir, "/") != 0 && buf_addc(&b, '/') < 0)
            || buf_adds(&b, rel) < 0) {
            ck_error(ld, k, v, "the resolved path is too long");
            return;
        }
        ck_set_string(ld, k, v, buf_str(&b));
        buf_free(&b);
        return;
    }
    ck_set_string(ld, k, v, v->value);
}

/* ck_socket - unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST */
static void ck_socket(struct cfg_loader *ld, const struct config_key *k,
                      const struct ynode *v)
{
    const char *why;

    if (ck_scalar(ld, k, v, "a socket") < 0)
        return;
    if (config_check_socket(v->value, &why) < 0) {
        ck_error(ld, k, v, "invalid socket '%s': %s", v->value, why);
        return;
    }
    ck_set_string(ld, k, v, v->value);
}

/* cfg_user_gid - 0 and the primary group of an existing user, -1 if none */
static int cfg_user_gid(const char *name, gid_t *gid)
{
    struct passwd pw, *res = NULL;
    char buf[16384];

    if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
        return -1;
    *gid = pw.pw_gid;
    return 0;
}

/* cfg_group_gid - 0 and the id of an existing group, -1 if none */
static int cfg_group_gid(const char *name, gid_t *gid)
{
    struct group gr, *res = NULL;
    char buf[16384];

    if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
        return -1;
    *gid = gr.gr_gid;
    return 0;
}

/* ck_user - an existing user, or nothing */
static void ck_user(struct cfg_loader *ld, const struct config_key *k,
                    const struct ynode *v)
{
    if (ck_scalar(ld, k, v, "a user name") < 0)
        return;
    if (ynode_is_null(v) || v->len == 0) {
        ck_set_string(ld, k, v, NULL);
        return;
    }
    if (cfg_user_gid(v->value, &(gid_t){ 0 }) < 0) {
        ck_error(ld, k, v, "user '%s' does not exist", v->value);
        return;
    }
    ck_set_string(ld, k, v, v->value);
}

/* ck_group - an existing group, or nothing */
static void ck_group(struct cfg_loader *ld, const struct config_key *k,
                     const struct ynode *v)
{
    if (ck_scalar(ld, k, v, "a group name") < 0)
        return;
    if (ynode_is_null(v) || v->len == 0) {
        ck_set_string(ld, k, v, NULL);
        return;
    }
    if (cfg_group_gid(v->value, &(gid_t){ 0 }) < 0) {
        ck_error(ld, k, v, "group '%s' does not exist", v->value);
        return;
    }
    ck_set_string(ld, k, v, v->value);
}

/* ck_umask - an octal mode such as 0007 */
static void ck_umask(struct cfg_loader *ld, const struct config_key *k,
                     const struct ynode *v)
{
    unsigned long long m = 0;
    const char *p;

    if (ck_scalar(ld, k, v, "an octal umask") < 0)
        return;
    for (p = v->value; *p >= '0' && *p <= '7' && p - v->value < 4; p++)
        m = m * 8 + (unsigned)(*p - '0');
    if (p == v->value || *p != 0 || m > k->max) {
        ck_error(ld, k, v, "invalid umask '%s' (expected an octal number such as 0007 or 0027)",
                 ck_shown(v));
        return;
    }
    ck_store_uint(ld, k, m);
}

/* ck_uint - a decimal number within min..max */
static void ck_uint(struct cfg_loader *ld, const struct config_key *k,
                    const struct ynode *v)
{
    long long n;
    int r = ynode_int(v, (long long)k->min, (long long)k->max, &n);

    if (r == -1)
        ck_error(ld, k, v, "expected an integer, not %s%s%s",
                 ynode_is_string(v) ? "'" : "", ynode_is_string(v) ? v->value : ynode_kind(v),
                 ynode_is_string(v) ? "'" : "");
    else if (r == -2)
        ck_error(ld, k, v, "%s is out of range (allowed %llu..%llu)", v->value, k->min, k->max);
    else
        ck_store_uint(ld, k, (unsigned long long)n);
}

/* ck_fmt_size - a byte count in the largest exact unit */
static void ck_fmt_size(unsigned long long v, char *out, size_t len)
{
    if (v >= GiB && v % GiB == 0)
        snprintf(out, len, "%lluGB", v / GiB);
    else if (v >= MiB && v % MiB == 0)
        snprintf(out, len, "%lluMB", v / MiB);
    else if (v >= KiB && v % KiB == 0)
        snprintf(out, len, "%lluKB", v / KiB);
    else
        snprintf(out, len, "%llu", v);
}

/* ck_size - a byte count with an optional unit, within min..max */
static void ck_size(struct cfg_loader *ld, const struct config_key *k,
                    const struct ynode *v)
{
    unsigned long long n;
    char lo[32], hi[32];

    if (ck_scalar(ld, k, v, "a size") < 0)
        return;
    if (config_parse_size(v->value, &n) < 0) {
        ck_error(ld, k, v, "invalid size '%s' (expected a number of bytes with an "
                 "optional unit: KB, MB, GB)", v->value);
        return;
    }
    if (n < k->min || n > k->max) {
        ck_fmt_size(k->min, lo, sizeof(lo));
        ck_fmt_size(k->max, hi, sizeof(hi));
        ck_error(ld, k, v, "%s is out of range (allowed %s..%s)", v->value, lo, hi);
        return;
    }
    ck_store_uint(ld, k, n);
}

/* ck_fmt_duration - seconds in the largest exact unit */
static void ck_fmt_duration(unsigned long long v, char *out, size_t len)
{
    if (v >= 86400 && v % 86400 == 0)
        snprintf(out, len, "%llud", v / 86400);
    else if (v >= 3600 && v % 3600 == 0)
        snprintf(out, len, "%lluh", v / 3600);
    else if (v >= 60 && v % 60 == 0)
        snprintf(out, len, "%llum", v / 60);
    else
        snprintf(out, len, "%llus", v);
}

/* ck_duration - seconds with an optional unit, within min..max (a long) */
static void ck_duration(struct cfg_loader *ld, const struct config_key *k,
                        const struct ynode *v)
{
    long n;
    char lo[32], hi[32];

    if (ck_scalar(ld, k, v, "a duration") < 0)
        return;
    if (config_parse_duration(v->value, &n) < 0) {
        ck_error(ld, k, v, "invalid duration '%s' (expected a number with an optional "
                 "unit: s, m, h, d, w)", v->value);
        return;
    }
    if ((unsigned long long)n < k->min || (unsigned long long)n > k->max) {
        ck_fmt_duration(k->min, lo, sizeof(lo));
        ck_fmt_duration(k->max, hi, sizeof(hi));
        ck_error(ld, k, v, "%s is out of range (allowed %s..%s)", v->value, lo, hi);
        return;
    }
    memcpy(ck_target(ld, k), &n, sizeof(n));
}

/* ck_log_level - error|warning|notice|info|debug (an int) */
static void ck_log_level(struct cfg_loader *ld, const struct config_key *k,
                         const struct ynode *v)
{
    int level;

    if (ck_scalar(ld, k, v, "a log level") < 0)
        return;
    if ((level = log_level_parse(v->value)) < 0) {
        ck_error(ld, k, v, "unknown log level '%s' (allowed: error, warning, notice, "
                 "info, debug)", v->value);
        return;
    }
    memcpy(ck_target(ld, k), &level, sizeof(level));
}

/* ck_facility - a syslog facility name (an int) */
static void ck_facility(struct cfg_loader *ld, const struct config_key *k,
                        const struct ynode *v)
{
    int fac;

    if (ck_scalar(ld, k, v, "a syslog facility") < 0)
        return;
    if ((fac = log_facility_parse(v->value)) < 0) {
        ck_error(ld, k, v, "unknown syslog facility '%s' (allowed: mail, daemon, user, "
                 "local0 .. local7)", v->value);
        return;
    }
    memcpy(ck_target(ld, k), &fac, sizeof(fac));
}

/* ck_bool - true or false (an int) */
static void ck_bool(struct cfg_loader *ld, const struct config_key *k,
                    const struct ynode *v)
{
    int b;

    if (ynode_bool(v, &b) < 0) {
        ck_error(ld, k, v, "expected true or false, not %s%s%s%s",
                 ynode_is_string(v) ? "'" : "", ynode_is_string(v) ? v->value : ynode_kind(v),
                 ynode_is_string(v) ? "'" : "",
                 ynode_is_string(v) && v->style != YSTYLE_PLAIN ? " (a quoted string)" : "");
        return;
    }
    memcpy(ck_target(ld, k), &b, sizeof(b));
}

/* ck_on_incomplete - encrypt or reject */
static void ck_on_incomplete(struct cfg_loader *ld, const struct config_key *k,
                             const struct ynode *v)
{
    enum rules_on_incomplete p;

    if (ck_scalar(ld, k, v, "encrypt or reject") < 0)
        return;
    if (strcmp(v->value, "encrypt") == 0) {
        p = RULES_INCOMPLETE_ENCRYPT;
    } else if (strcmp(v->value, "reject") == 0) {
        p = RULES_INCOMPLETE_REJECT;
    } else {
        ck_error(ld, k, v, "expected encrypt or reject, not '%s'", v->value);
        return;
    }
    memcpy(ck_target(ld, k), &p, sizeof(p));
}

/* ck_random_pass - envelope.random_passphrase: missing, always or never */
static void ck_random_pass(struct cfg_loader *ld, const struct config_key *k,
                           const struct ynode *v)
{
    enum config_random_pass p;

    if (ck_scalar(ld, k, v, "missing, always or never") < 0)
        return;
    if (strcmp(v->value, "missing") == 0)
        p = CONFIG_RANDOM_MISSING;
    else if (strcmp(v->value, "always") == 0)
        p = CONFIG_RANDOM_ALWAYS;
    else if (strcmp(v->value, "never") == 0)
        p = CONFIG_RANDOM_NEVER;
    else {
        ck_error(ld, k, v, "expected missing, always or never, not '%s'", v->value);
        return;
    }
    memcpy(ck_target(ld, k), &p, sizeof(p));
}

/* ck_relay - notify.relay: HOST:PORT, [IPV6]:PORT */
static void ck_relay(struct cfg_loader *ld, const struct config_key *k, const struct ynode *v)
{
    const char *s, *colon;
    char *end;
    unsigned long port;
    size_t hlen;

    if (ck_scalar(ld, k, v, "HOST:PORT") < 0)
        return;
    s = v->value;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':') {
            ck_error(ld, k, v, "expected [IPV6]:PORT, not '%s'", s);
            return;
        }
        s++;
        hlen = (size_t)(close - s);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || strchr(s, ':') != colon) {
            ck_error(ld, k, v, "expected HOST:PORT (an IPv6 address in brackets), not '%s'", s);
            return;
        }
        hlen = (size_t)(colon - s);
    }
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || hlen > 253 || *end != '\0' || colon[1] == '\0' || errno != 0 || port == 0
        || port > 65535) {
        ck_error(ld, k, v, "expected HOST:PORT with a port from 1 to 65535, not '%s'", v->value);
        return;
    }
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == '/' || (unsigned char)s[i] >= 0x7f) {
            ck_error(ld, k, v, "invalid host in '%s'", v->value);
            return;
        }
    free(ld->cfg->notify_host);
    if ((ld->cfg->notify_host = strndup(s, hlen)) == NULL) {
        ck_oom(ld, k, v);
        return;
    }
    ld->cfg->notify_port = (unsigned)port;
}

/* ck_templates - templates: (config_template.c) */
static void ck_templates(struct cfg_loader *ld, const struct config_key *k,
                         const struct ynode *v)
{
    (void)k;
    if (config_templates_parse(ld->cfg, v, ld->dir, ld->d) < 0)
        ld->bad = 1;
}

/* ck_string_list - v is a list of scalars (else reported); 0 or -1 */
static int ck_string_list(struct cfg_loader *ld, const struct config_key *k,
                          const struct ynode *v)
{
    int bad = 0;

    if (v->type != YNODE_SEQ) {
        ck_error(ld, k, v, "expected a list of strings, not %s", ynode_kind(v));
        return -1;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (!ynode_is_string(v->items[i])) {
            ck_error(ld, k, v->items[i], "expected a list of strings, found %s",
                     ynode_kind(v->items[i]));
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* ck_domains - organization.domains: a non-empty list of domain patterns */
static void ck_domains(struct cfg_loader *ld, const struct config_key *k,
                       const struct ynode *v)
{
    struct config *cfg = ld->cfg;
    const char *why;

    if (ck_string_list(ld, k, v) < 0)
        return;
    if (v->n == 0) {
        ck_error(ld, k, v, "expected at least one domain");
        return;
    }
    if ((cfg->domains = calloc(v->n, sizeof(*cfg->domains))) == NULL) {
        ck_oom(ld, k, v);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        char *dom;

        if (config_parse_domain(v->items[i]->value, &dom, &why) < 0) {
            ck_error(ld, k, v->items[i], "invalid domain '%s': %s", v->items[i]->value, why);
            continue;
        }
        cfg->domains[cfg->ndomains++] = dom;
    }
}

/* ck_header_names - envelope.keep_headers: header field names */
static void ck_header_names(struct cfg_loader *ld, const struct config_key *k,
                            const struct ynode *v)
{
    struct config *cfg = ld->cfg;

    if (ynode_is_null(v) || ck_string_list(ld, k, v) < 0 || v->n == 0)
        return;
    if ((cfg->keep_headers = calloc(v->n, sizeof(*cfg->keep_headers))) == NULL) {
        ck_oom(ld, k, v);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *s = v->items[i]->value;
        char *low;
        int ok = v->items[i]->len > 0 && v->items[i]->len <= 128;

        for (size_t j = 0; ok && s[j]; j++)
            ok = s[j] > ' ' && s[j] < 0x7f && s[j] != ':';
        if (!ok) {
            ck_error(ld, k, v->items[i], "invalid header name '%s'", s);
            continue;
        }
        if ((low = strdup(s)) == NULL) {
            ck_oom(ld, k, v);
            return;
        }
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        cfg->keep_headers[cfg->nkeep_headers++] = low;
    }
}

/* ck_networks - apply_to.networks: a list of networks (CIDR) */
static void ck_networks(struct cfg_loader *ld, const struct config_key *k,
                        const struct ynode *v)
{
    struct config *cfg = ld->cfg;
    const char *why;
    char fix[64];

    if (ynode_is_null(v))
        return;
    if (ck_string_list(ld, k, v) < 0 || v->n == 0)
        return;
    if ((cfg->networks = calloc(v->n, sizeof(*cfg->networks))) == NULL) {
        ck_oom(ld, k, v);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *item = v->items[i];

        if (config_parse_net(item->value, &cfg->networks[cfg->nnetworks], fix,
                             sizeof(fix), &why) < 0) {
            if (fix[0])
                ck_error(ld, k, item, "invalid network '%s': %s (did you mean %s?)",
                         item->value, why, fix);
            else
                ck_error(ld, k, item, "invalid network '%s': %s", item->value, why);
            continue;
        }
        cfg->nnetworks++;
    }
}

/* cfg_find - the schema entry for a key path */
static const struct config_key *cfg_find(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(config_keys[i].path, path) == 0)
            return &config_keys[i];
    return NULL;
}

/* cfg_leaf - the last component of a key path */
static const char *cfg_leaf(const char *path)
{
    const char *dot = strrchr(path, '.');

    return dot ? dot + 1 : path;
}

/* cfg_is_child - path is a direct child of prefix (NULL: top level) */
static int cfg_is_child(const char *path, const char *prefix)
{
    size_t plen;

    if (prefix == NULL)
        return strchr(path, '.') == NULL;
    plen = strlen(prefix);
    return strncmp(path, prefix, plen) == 0 && path[plen] == '.'
        && strchr(path + plen + 1, '.') == NULL;
}

/* cfg_walk - check a mapping's keys against the schema, parse their values */
static void cfg_walk(struct cfg_loader *ld, const struct ynode *map,
                     const char *prefix)
{
    const char *allowed[NKEYS];
    size_t nallowed = 0;

    for (size_t i = 0; i < NKEYS; i++)
        if (cfg_is_child(config_keys[i].path, prefix))
            allowed[nallowed++] = cfg_leaf(config_keys[i].path);
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *key = map->keys[i], *v = map->items[i];
        const struct config_key *k = NULL;
        char path[128];
        int n = prefix ? snprintf(path, sizeof(path), "%s.%s", prefix, key->value)
                       : snprintf(path, sizeof(path), "%s", key->value);

        /* a dotted key ("milter.socket: x") is not a shortcut for nesting */
        if (n > 0 && (size_t)n < sizeof(path) && strchr(key->value, '.') == NULL)
            k = cfg_find(path);
        if (k == NULL) {
            yunknown(ld->d, key, "key", prefix, allowed, nallowed);
            ld->bad = 1;
            continue;
        }
        ld->given[k - config_keys] = v;
        ld->keynode[k - config_keys] = key;
        if (k->parse != NULL) {
            k->parse(ld, k, v);
        } else if (v->type == YNODE_MAP) {
            cfg_walk(ld, v, k->path);
        } else if (!ynode_is_null(v)) {
            ck_error(ld, k, v, "expected a mapping, not %s", ynode_kind(v));
        }
    }
}

/* cfg_defaults - parse the built-in default of every key not given */
static void cfg_defaults(struct cfg_loader *ld)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        struct ynode def;
        char *text;

        if (k->parse == NULL || k->def == NULL || ld->given[i] != NULL)
            continue;
        if ((text = strdup(k->def)) == NULL) {
            ck_oom(ld, k, NULL);
            continue;
        }
        memset(&def, 0, sizeof(def));
        def.type = YNODE_SCALAR;
        def.style = YSTYLE_PLAIN;
        def.value = text;
        def.len = strlen(text);
        k->parse(ld, k, &def);
        free(text);
    }
}

/* cfg_required - report required keys that are missing */
static void cfg_required(struct cfg_loader *ld)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        const char *dot;
        const struct config_key *parent;

        if (!(k->flags & CK_REQUIRED) || ld->given[i] != NULL)
            continue;
        if ((dot = strrchr(k->path, '.')) == NULL) {
            diag_add(ld->d, ld->file, 1, 1, "missing required key '%s'", k->path);
            ld->bad = 1;
            continue;
        }
        {
            char ppath[128];
            size_t plen = (size_t)(dot - k->path);

            if (plen >= sizeof(ppath))
                continue;
            memcpy(ppath, k->path, plen);
            ppath[plen] = 0;
            parent = cfg_find(ppath);
        }
        if (parent == NULL || ld->given[parent - config_keys] == NULL)
            continue;     /* the missing parent is reported (or optional) */
        {
            const struct ynode *pv = ld->given[parent - config_keys];

            if (pv->type != YNODE_MAP && !ynode_is_null(pv))
                continue; /* already reported as the wrong type */
            ynode_error(ld->d, pv->type == YNODE_MAP ? pv : ld->keynode[parent - config_keys],
                        "missing required key '%s' in %s", cfg_leaf(k->path), parent->path);
            ld->bad = 1;
        }
    }
}

/* cfg_apply_to - who the gateway applies to: everyone unless apply_to
 * lists criteria; an apply_to that can match nothing is an error */
static void cfg_apply_to(struct cfg_loader *ld)
{
    const struct config_key *k = cfg_find("apply_to");
    const struct ynode *v = ld->given[k - config_keys];
    const struct ynode *nets = ld->given[cfg_find("apply_to.networks") - config_keys];
    const struct ynode *auth = ld->given[cfg_find("apply_to.authenticated") - config_keys];
    int b;

    if (v == NULL || v->type != YNODE_MAP) {
        ld->cfg->apply_all = 1;
        return;
    }
    ld->cfg->apply_all = 0;
    /* criteria given but wrong are reported already */
    if (!ld->cfg->apply_authenticated && ld->cfg->nnetworks == 0
        && (auth == NULL || ynode_bool(auth, &b) == 0)
        && (nets == NULL || ynode_is_null(nets) || (nets->type == YNODE_SEQ && nets->n == 0))) {
        ynode_error(ld->d, ld->keynode[k - config_keys], "apply_to: matches no connection "
                    "(set authenticated: true or list networks, or remove apply_to to "
                    "apply to every connection)");
        ld->bad = 1;
    }
}

/* cfg_set_dir - the file's absolute path and directory */
static int cfg_set_dir(struct cfg_loader *ld, const char *path)
{
    struct buf abs = BUF_INIT(CONFIG_MAX_PATH);
    char cwd[CONFIG_MAX_PATH];
    const char *a, *slash;

    if (path[0] != '/') {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            diag_add(ld->d, ld->file, 0, 0, "cannot determine the current directory: %s",
                     strerror(errno));
            return -1;
        }
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        if (buf_adds(&abs, cwd) < 0 || (strcmp(cwd, "/") != 0 && buf_addc(&abs, '/') < 0))
            goto toolong;
    }
    if (buf_adds(&abs, path) < 0)
        goto toolong;
    a = buf_str(&abs);
    slash = strrchr(a, '/');
    if ((ld->dir = strndup(a, slash == a ? 1 : (size_t)(slash - a))) == NULL) {
        diag_add(ld->d, ld->file, 0, 0, "out of memory");
        buf_free(&abs);
        return -1;
    }
    ld->cfg->path = buf_steal(&abs);
    return 0;
toolong:
    diag_add(ld->d, ld->file, 0, 0, "path too long");
    return -1;
}

/* cfg_rules - load the rules the configuration names */
static void cfg_rules(struct cfg_loader *ld)
{
    const struct config_key *k = cfg_find("rules");
    const struct ynode *v = ld->given[k - config_keys];
    struct stat st;

    if (ld->cfg->rules_path == NULL)
        return;
    if (stat(ld->cfg->rules_path, &st) < 0) {
        ck_error(ld, k, v, "cannot access '%s': %s", ld->cfg->rules_path, strerror(errno));
        return;
    }
    if ((ld->cfg->rules = rules_load(ld->cfg->rules_path, ld->d)) == NULL)
        ld->bad = 1;
}

/* cfg_secret - read (or create) the loop-protection secret */
static void cfg_secret(struct cfg_loader *ld, unsigned flags)
{
    struct config *cfg = ld->cfg;
    gid_t gid = (gid_t)-1;

    if (flags & CONFIG_SKIP_SECRET)
        return;
    /* the daemon's group must read the file after dropping privileges */
    if (cfg->group != NULL ? cfg_group_gid(cfg->group, &gid) < 0
        : cfg->user != NULL ? cfg_user_gid(cfg->user, &gid) < 0 : 0)
        gid = (gid_t)-1;
    if (keyfile_load(cfg->loop_secret_file, cfg->loop_key, sizeof(cfg->loop_key),
                     (flags & CONFIG_CREATE_SECRET) != 0, gid, ld->d) < 0)
        ld->bad = 1;
}

/* cfg_template_known - does the configuration define the template name? */
static int cfg_template_known(void *arg, const char *name)
{
    return config_template_find(arg, name) != NULL;
}

/* cfg_envelope - the template list completed and checked against the
 * rules, the recipient key store and the recovery key read */
static void cfg_envelope(struct cfg_loader *ld, unsigned flags)
{
    struct config *cfg = ld->cfg;
    const struct config_key *k;
    char err[256];

    if (config_templates_finish(cfg) < 0) {
        diag_add(ld->d, ld->file, 0, 0, "out of memory");
        ld->bad = 1;
        return;
    }
    if (cfg->default_template != NULL && !cfg_template_known(cfg, cfg->default_template)) {
        k = cfg_find("envelope.default_template");
        ck_error(ld, k, ld->given[k - config_keys], "no template '%s' in templates",
                 cfg->default_template);
    }
    if (cfg->rules != NULL && rules_check_templates(cfg->rules, cfg_template_known, cfg, ld->d) < 0)
        ld->bad = 1;
    if (cfg->recovery_key_file != NULL) {
        k = cfg_find("envelope.recovery_public_key");
        if (env_load_recovery_public(cfg->recovery_key_file, cfg->recovery_pub, err,
                                     sizeof(err)) < 0)
            ck_error(ld, k, ld->given[k - config_keys], "%s", err);
        else
            cfg->has_recovery = 1;
    }
    if (flags & CONFIG_SKIP_SECRET)
        return;
    /* the default store need not exist: no recipient has a stored key yet */
    k = cfg_find("envelope.secrets_file");
    if (ld->given[k - config_keys] == NULL && access(cfg->secrets_file, F_OK) < 0
        && errno == ENOENT)
        return;
    if ((cfg->secrets = secrets_load(cfg->secrets_file, ld->d)) == NULL)
        ld->bad = 1;
}

/* config_load - read, validate and complete a configuration */
struct config *config_load(const char *path, unsigned flags, struct diag *d)
{
    struct cfg_loader ld;
    struct ytree *t = NULL;
    const struct ynode *given[NKEYS] = { 0 }, *keynode[NKEYS] = { 0 };

    memset(&ld, 0, sizeof(ld));
    ld.d = d;
    ld.file = path;
    ld.given = given;
    ld.keynode = keynode;
    if ((ld.cfg = calloc(1, sizeof(*ld.cfg))) == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        return NULL;
    }
    ld.cfg->on_incomplete = RULES_INCOMPLETE_ENCRYPT;
    if (cfg_set_dir(&ld, path) < 0 || (t = ytree_load(path, d)) == NULL) {
        ld.bad = 1;
    } else if (t->root == NULL) {
        diag_add(d, path, 1, 1, "the configuration file is empty");
        ld.bad = 1;
    } else if (t->root->type != YNODE_MAP) {
        ynode_error(d, t->root, "expected a mapping of settings, not %s",
                    ynode_kind(t->root));
        ld.bad = 1;
    } else {
        cfg_walk(&ld, t->root, NULL);
        cfg_defaults(&ld);
        cfg_required(&ld);
        cfg_apply_to(&ld);
        cfg_rules(&ld);
        if (!ld.bad)
            cfg_envelope(&ld, flags);
        if (!ld.bad)
            cfg_secret(&ld, flags);
    }
    ytree_free(t);
    free(ld.dir);
    if (ld.bad) {
        config_free(ld.cfg);
        return NULL;
    }
    return ld.cfg;
}

/* config_free - release a configuration and wipe its secret */
void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    OPENSSL_cleanse(cfg->loop_key, sizeof(cfg->loop_key));
    free(cfg->path);
    free(cfg->socket);
    free(cfg->user);
    free(cfg->group);
    free(cfg->pid_file);
    free(cfg->org_name);
    for (size_t i = 0; i < cfg->ndomains; i++)
        free(cfg->domains[i]);
    free(cfg->domains);
    free(cfg->networks);
    free(cfg->spool_dir);
    free(cfg->loop_secret_file);
    free(cfg->rules_path);
    rules_free(cfg->rules);
    free(cfg->secrets_file);
    secrets_free(cfg->secrets);
    free(cfg->recovery_key_file);
    for (size_t i = 0; i < cfg->nkeep_headers; i++)
        free(cfg->keep_headers[i]);
    free(cfg->keep_headers);
    free(cfg->attachment_name);
    free(cfg->default_template);
    free(cfg->notify_host);
    free(cfg->notify_from);
    config_templates_free(cfg);
    free(cfg);
}
