/*
 * cmd_secret - `mailseal secret set|list|remove`: the recipient keys of
 * passphrase slots (crypto/secrets.h).
 *
 *   mailseal secret set [-f STORE] [--passphrase-file FILE] [--iterations N] NAME
 *   mailseal secret list [-f STORE]
 *   mailseal secret remove [-f STORE] NAME
 *
 * set asks for the recipient's passphrase twice on the terminal (/dev/tty,
 * without echo), or takes the first line of FILE (trailing CR/LF are not
 * part of it); it refuses passphrases under 8 characters, derives the key
 * once (PBKDF2, env_derive_passphrase_key) and stores salt, iterations and
 * key under NAME, never the passphrase.  NAME is an address or @domain,
 * lower-cased here.  list prints "NAME ITERATIONS" per entry, never keys.
 * The passphrase and the key are wiped after use and never printed.
 * cmd_secret() returns the exit status (cli.h): 0, 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "crypto/envelope.h"
#include "crypto/secrets.h"

#define SECRET_PASS_MAX 1024          /* buffer: a passphrase is at most 1023 bytes */
#define SECRET_PASS_MIN_CHARS 8

/* secret_usage - the subcommand's help */
static void secret_usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal secret set [-f STORE] [--passphrase-file FILE] [--iterations N] NAME\n"
            "       mailseal secret list [-f STORE]\n"
            "       mailseal secret remove [-f STORE] NAME\n"
            "  Keys for recipient passphrase slots.  NAME is an address (ann@example.net)\n"
            "  or a domain preceded by '@' (@example.net); an address's own entry comes\n"
            "  first, then its domain's, then its parent domains'.\n"
            "  set      asks for the recipient's passphrase twice on the terminal (or reads\n"
            "           the first line of FILE), derives its key with PBKDF2 (N iterations,\n"
            "           default %u, at least %u) and stores the key, never the passphrase\n"
            "  list     the names and their iterations\n"
            "  remove   removes the entry NAME\n"
            "  -f, --file STORE   the secrets store (default %s)\n"
            "  Exit 0 on success, 1 on failure, 2 on usage errors.\n",
            ENV_DEFAULT_ITERATIONS, ENV_MIN_ITERATIONS, SECRETS_DEFAULT_PATH);
}

static volatile sig_atomic_t secret_signal;

/* on_signal - remember that the user interrupted the prompt */
static void on_signal(int sig)
{
    secret_signal = sig;
}

/* tty_read_line - one line typed on fd into pass (without its line feed);
 * 0, or -1 with a reason */
static int tty_read_line(int fd, char *pass, size_t *len, const char **why)
{
    size_t n = 0;
    int toolong = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0) {
            if (errno == EINTR && !secret_signal)
                continue;
            *why = errno == EINTR ? "interrupted" : "cannot read from the terminal";
            return -1;
        }
        if (r == 0) {
            *why = "end of input before the passphrase";
            return -1;
        }
        if (c == '\n')
            break;
        if (n + 1 < SECRET_PASS_MAX)
            pass[n++] = c;
        else
            toolong = 1;
        c = 0;
    }
    while (n > 0 && pass[n - 1] == '\r')
        n--;
    pass[n] = '\0';
    *len = n;
    if (toolong) {
        *why = "the passphrase is longer than 1023 bytes";
        return -1;
    }
    return 0;
}

/* tty_passphrase - ask for the passphrase twice on /dev/tty, without echo;
 * 0, or -1 with a reason */
static int tty_passphrase(const char *name, char *pass, size_t *len, const char **why)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
    struct sigaction sa, old_sa[sizeof(sigs) / sizeof(sigs[0])];
    struct termios old_tio, tio;
    char again[SECRET_PASS_MAX];
    size_t len2 = 0;
    int fd, ok = -1;

    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || tcgetattr(fd, &old_tio) < 0) {
        if (fd >= 0)
            close(fd);
        *why = "no terminal to ask for the passphrase on: use --passphrase-file";
        return -1;
    }
    /* a signal interrupts the read (no SA_RESTART); echo is restored before returning */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    secret_signal = 0;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, &old_sa[i]);
    tio = old_tio;
    tio.c_lflag &= (tcflag_t)~(ECHO | ECHOE | ECHOK);
    tio.c_lflag |= ECHONL;
    if (tcsetattr(fd, TCSAFLUSH, &tio) < 0) {
        *why = "cannot turn off the terminal's echo";
    } else {
        dprintf(fd, "Passphrase for %s: ", name);
        if (tty_read_line(fd, pass, len, why) == 0) {
            dprintf(fd, "Passphrase again: ");
            if (tty_read_line(fd, again, &len2, why) == 0) {
                if (len2 != *len || CRYPTO_memcmp(pass, again, *len) != 0)
                    *why = "the two passphrases differ";
                else
                    ok = 0;
            }
        }
        tcsetattr(fd, TCSAFLUSH, &old_tio);
    }
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &old_sa[i], NULL);
    if (secret_signal) {
        dprintf(fd, "\n");
        *why = "interrupted";
        ok = -1;
    }
    close(fd);
    OPENSSL_cleanse(again, sizeof(again));
    if (ok < 0)
        OPENSSL_cleanse(pass, SECRET_PASS_MAX);
    return ok;
}

/* passphrase_check - refuse empty, short or NUL-holding passphrases; NULL or a reason */
static const char *passphrase_check(const char *pass, size_t len)
{
    size_t chars = 0;

    if (len == 0)
        return "the passphrase is empty";
    if (memchr(pass, '\0', len) != NULL)
        return "the passphrase holds a NUL byte";
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)pass[i] & 0xc0) != 0x80)     /* count UTF-8 characters */
            chars++;
    if (chars < SECRET_PASS_MIN_CHARS)
        return "the passphrase is too short: it needs at least 8 characters";
    return NULL;
}

/* parse_iterations - the --iterations value; 0 or -1 */
static int parse_iterations(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < ENV_MIN_ITERATIONS || v > SECRETS_MAX_ITERATIONS)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* store_precheck - an existing store must load before the passphrase is
 * asked for (a missing one is created); 0 or -1 after printing why */
static int store_precheck(const char *store)
{
    struct secrets *s;
    struct diag d;

    if (access(store, F_OK) < 0 && errno == ENOENT)
        return 0;
    diag_init(&d);
    s = secrets_load(store, &d);
    if (s == NULL)
        cli_print_diag(&d);
    secrets_free(s);
    diag_free(&d);
    return s == NULL ? -1 : 0;
}

/* name_arg - the one NAME operand after the options, normalised into name;
 * CLI_OK, or the exit status after saying why */
static int name_arg(const char *verb, int argc, char **argv, char name[SECRETS_MAX_NAME + 1])
{
    const char *why = NULL;

    if (argc - optind != 1) {
        fprintf(stderr, "mailseal secret %s: %s\n", verb,
                argc - optind == 0 ? "which name? (an address or @domain)" : "one name at a time");
        return CLI_USAGE;
    }
    if (secrets_name_normalize(argv[optind], name, &why) < 0) {
        fprintf(stderr, "mailseal secret %s: bad name '%s': %s\n", verb, argv[optind], why);
        return CLI_INVALID;
    }
    return CLI_OK;
}

/* secret_set - the set subcommand */
static int secret_set(int argc, char **argv)
{
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "passphrase-file", required_argument, NULL, 'p' },
        { "iterations", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *store = SECRETS_DEFAULT_PATH, *passfile = NULL, *why = NULL;
    char name[SECRETS_MAX_NAME + 1], pass[SECRET_PASS_MAX];
    struct env_recipient_key key;
    uint32_t iterations = ENV_DEFAULT_ITERATIONS;
    size_t len = 0;
    struct diag d;
    int c, rc = CLI_INVALID;

    optind = 1;
    while ((c = getopt_long(argc, argv, "f:p:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            store = optarg;
            break;
        case 'p':
            passfile = optarg;
            break;
        case 'i':
            if (parse_iterations(optarg, &iterations) < 0) {
                fprintf(stderr, "mailseal secret set: --iterations must be a number from %u to %u\n",
                        ENV_MIN_ITERATIONS, SECRETS_MAX_ITERATIONS);
                return CLI_USAGE;
            }
            break;
        case 'h':
            secret_usage(stdout);
            return CLI_OK;
        default:
            secret_usage(stderr);
            return CLI_USAGE;
        }
    }
    if ((c = name_arg("set", argc, argv, name)) != CLI_OK)
        return c;
    if (store_precheck(store) < 0)
        return CLI_INVALID;
    if ((passfile ? cli_read_passphrase_file(passfile, pass, SECRET_PASS_MAX,
                                             SECRET_PASS_MAX - 1, &len, &why)
                  : tty_passphrase(name, pass, &len, &why)) < 0) {
        if (passfile != NULL && errno == E2BIG)
            why = "the passphrase is longer than 1023 bytes";
        fprintf(stderr, "mailseal secret set: %s%s%s\n", why,
                passfile ? ": " : "", passfile ? passfile : "");
        return CLI_INVALID;
    }
    if ((why = passphrase_check(pass, len)) != NULL) {
        fprintf(stderr, "mailseal secret set: %s\n", why);
        OPENSSL_cleanse(pass, sizeof(pass));
        return CLI_INVALID;
    }
    if (env_derive_passphrase_key(pass, len, iterations, &key) < 0) {
        fprintf(stderr, "mailseal secret set: cannot derive the key: %s\n",
                errno == EINVAL ? "the passphrase is not valid UTF-8" : strerror(errno));
        OPENSSL_cleanse(pass, sizeof(pass));
        return CLI_INVALID;
    }
    OPENSSL_cleanse(pass, sizeof(pass));
    diag_init(&d);
    if (secrets_set(store, name, &key, &d) < 0) {
        cli_print_diag(&d);
    } else {
        printf("%s: key stored in %s (%lu iterations)\n", name, store, (unsigned long)iterations);
        rc = CLI_OK;
    }
    OPENSSL_cleanse(&key, sizeof(key));
    diag_free(&d);
    return rc;
}

/* secret_list - the list subcommand */
static int secret_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *store = SECRETS_DEFAULT_PATH;
    struct secrets *s;
    struct diag d;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            store = optarg;
            break;
        case 'h':
            secret_usage(stdout);
            return CLI_OK;
        default:
            secret_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mailseal secret list: unexpected argument '%s'\n", argv[optind]);
        return CLI_USAGE;
    }
    diag_init(&d);
    if ((s = secrets_load(store, &d)) == NULL) {
        cli_print_diag(&d);
        diag_free(&d);
        return CLI_INVALID;
    }
    for (size_t i = 0; i < secrets_count(s); i++) {
        uint32_t it = 0;
        const char *name = secrets_entry(s, i, &it);

        printf("%s %lu\n", name, (unsigned long)it);
    }
    secrets_free(s);
    diag_free(&d);
    return CLI_OK;
}

/* secret_remove - the remove subcommand */
static int secret_remove(int argc, char **argv)
{
    static const struct option opts[] = {
        { "file", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *store = SECRETS_DEFAULT_PATH;
    char name[SECRETS_MAX_NAME + 1];
    struct diag d;
    int c, rc = CLI_INVALID;

    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            store = optarg;
            break;
        case 'h':
            secret_usage(stdout);
            return CLI_OK;
        default:
            secret_usage(stderr);
            return CLI_USAGE;
        }
    }
    if ((c = name_arg("remove", argc, argv, name)) != CLI_OK)
        return c;
    diag_init(&d);
    if (secrets_remove(store, name, &d) < 0) {
        cli_print_diag(&d);
    } else {
        printf("%s: removed from %s\n", name, store);
        rc = CLI_OK;
    }
    diag_free(&d);
    return rc;
}

/* cmd_secret - the secret subcommand: dispatch to set, list or remove */
int cmd_secret(int argc, char **argv)
{
    static char set_name[] = "mailseal secret set", list_name[] = "mailseal secret list",
                remove_name[] = "mailseal secret remove";

    if (argc < 2) {
        secret_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        secret_usage(stdout);
        return CLI_OK;
    }
    /* argv[0] of a subcommand names it in getopt's messages */
    if (strcmp(argv[1], "set") == 0) {
        argv[1] = set_name;
        return secret_set(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "list") == 0) {
        argv[1] = list_name;
        return secret_list(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "remove") == 0) {
        argv[1] = remove_name;
        return secret_remove(argc - 1, argv + 1);
    }
    fprintf(stderr, "mailseal secret: unknown command '%s'\n", argv[1]);
    secret_usage(stderr);
    return CLI_USAGE;
}
