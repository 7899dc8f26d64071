/*
 * config - the gateway's configuration: one YAML file, validated against a
 * schema declared as a table in config.c, plus everything it names (the
 * rules, the loop-protection secret), loaded whole.
 *
 * config_load() returns a complete, validated configuration, or NULL after
 * adding every problem found to d as "FILE:LINE:COLUMN: message".  Nothing
 * is half-loaded: the caller swaps a new configuration in only when it got
 * one, so the running one stays in force after a bad edit.  Relative paths
 * in the file are resolved against the file's directory.  The result is
 * owned by the caller and released with config_free(), which also wipes
 * the secret.  Only "organization" and "rules" must be given; every other
 * key has a default (see config/mailseal.yaml.example).
 */
#ifndef MAILSEAL_CONFIG_CONFIG_H
#define MAILSEAL_CONFIG_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>

#include "message/model.h"
#include "rules/rules.h"
#include "util/diag.h"

#define CONFIG_DEFAULT_PATH "/etc/mailseal/mailseal.yaml"
#define CONFIG_LOOP_KEY_LEN 32
#define CONFIG_RECOVERY_KEY_LEN 32

struct secrets;

/* envelope.random_passphrase: when a per-message random passphrase slot is added */
enum config_random_pass {
    CONFIG_RANDOM_MISSING,        /* when some recipient has no stored passphrase key */
    CONFIG_RANDOM_ALWAYS,
    CONFIG_RANDOM_NEVER           /* a recipient without a key makes the message rejected */
};

/* A branding template (templates: NAME: {...}); strings UTF-8, NULL when
 * not given (the viewer's or the wrapper's defaults apply). */
struct config_template {
    char *name;
    char *org_name, *title, *intro, *help, *lang, *color_primary, *color_background;
    unsigned char *logo;          /* the logo file's bytes */
    size_t logo_len;
    char *subject;                /* the wrapper's neutral subject; NULL: the original */
    char *text;                   /* the wrapper's instructions to the recipient */
};

struct config_net {
    int family;                   /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

struct config {
    char *path;                   /* the file loaded */

    /* milter: */
    char *socket;                 /* "unix:/path" or "inet:PORT@HOST" (or inet6:) */
    char *user;                   /* drop to this user after opening the socket; NULL: stay */
    char *group;                  /* NULL: the user's primary group */
    char *pid_file;               /* NULL: none (pid_file: "") */
    unsigned umask;               /* applied before the socket is created */
    unsigned timeout;             /* seconds libmilter waits for the MTA */
    unsigned shutdown_timeout;    /* seconds SIGTERM waits for messages in flight */
    int log_level;                /* LOG_ERR .. LOG_DEBUG */
    int syslog_facility;

    /* organization: */
    char *org_name;
    char **domains;               /* lowercase; "*.example.com" wildcards kept as written */
    size_t ndomains;

    /* which connections are in scope: */
    int apply_all;
    int apply_authenticated;      /* SMTP AUTH sessions ({auth_authen} set) */
    struct config_net *networks;
    size_t nnetworks;

    /* spool and limits: */
    char *spool_dir;
    size_t memory_limit;          /* bytes of a message kept in memory before spilling */
    struct msg_limits limits;

    /* policy: */
    enum rules_on_incomplete on_incomplete;   /* default RULES_INCOMPLETE_ENCRYPT */

    /* loop protection: */
    char *loop_secret_file;
    unsigned char loop_key[CONFIG_LOOP_KEY_LEN];
    long loop_max_age;            /* seconds a marker stays valid */

    /* rules: */
    char *rules_path;             /* a file, or a directory of *.yaml loaded in name order */
    struct ruleset *rules;

    /* envelope: */
    char *secrets_file;           /* the recipient key store (mailseal secret set) */
    struct secrets *secrets;      /* loaded store; NULL when the file does not exist */
    enum config_random_pass random_passphrase;
    char *recovery_key_file;      /* NULL: no recovery slot */
    unsigned char recovery_pub[CONFIG_RECOVERY_KEY_LEN];
    int has_recovery;
    size_t chunk_size;
    unsigned long long max_wrapper_size;
    char **keep_headers;          /* extra header names copied to the wrapper, lowercase */
    size_t nkeep_headers;
    char *attachment_name;
    char *default_template;

    /* notify: (the random passphrase, to the sender) */
    char *notify_host;
    unsigned notify_port;
    unsigned notify_timeout;
    char *notify_from;            /* envelope and header sender of notifications */

    /* templates: (always holds default_template) */
    struct config_template *templates;
    size_t ntemplates;
};

/* config_load() flags */
#define CONFIG_CREATE_SECRET 0x1  /* create the loop secret file when missing */
#define CONFIG_SKIP_SECRET   0x2  /* do not read the secret (syntax checks by other users) */

struct config *config_load(const char *path, unsigned flags, struct diag *d);
void config_free(struct config *cfg);

/* config_template_find - the template called name (NULL: the default) */
const struct config_template *config_template_find(const struct config *cfg, const char *name);
/* config_template_view - the viewer's settings of template t (pointers
 * into t and cfg) */
struct viewer_template;
void config_template_view(const struct config *cfg, const struct config_template *t,
                          struct viewer_template *vt);

/* 1 when domain (any case) is one of organization.domains. */
int config_domain_is_internal(const struct config *cfg, const char *domain);
/* 1 when a connection from sa (NULL: unknown/local) authenticated as auth
 * (NULL or "" when not) is one the gateway applies to. */
int config_client_in_scope(const struct config *cfg, const struct sockaddr *sa,
                           const char *auth);

/* Value parsers shared with the rules loader; 0 ok, -1 invalid. */
int config_parse_size(const char *s, unsigned long long *out);    /* "10MB", "512", "64KiB" */
int config_parse_duration(const char *s, long *out);              /* "30s", "5m", "7d", "90" */
/* Milter socket syntax (unix:/abs/path, local:/abs/path, inet:PORT@HOST,
 * inet6:PORT@HOST); 0 ok, -1 with a static reason in *why.  For -s. */
int config_check_socket(const char *s, const char **why);

#endif
