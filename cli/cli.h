/*
 * cli - the `mailseal` tool for rule writers: the subcommands and what
 * they share.
 *
 * Each subcommand takes its own argv (argv[0] is the subcommand's name)
 * and returns the process exit status: 0 success, 1 invalid input or a
 * failure (reported on stderr), 2 a usage error.  Nothing here exits.
 */
#ifndef MAILSEAL_CLI_CLI_H
#define MAILSEAL_CLI_CLI_H

#include <stddef.h>

#include "config/config.h"
#include "message/model.h"
#include "util/diag.h"

#define CLI_OK 0
#define CLI_INVALID 1
#define CLI_USAGE 2

int cmd_check(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);

/* cli_config_load - the configuration at path, read without its secret.
 * With own_rules 0 its rules are loaded as the daemon would.  With
 * own_rules 1 the caller brings its own rules: errors in the configured
 * rules files are not reported, and cfg->rules is NULL on return.  Returns
 * the configuration, or NULL after adding the errors to d; *rules_broken
 * is set when the configuration itself is valid but could not be built
 * because its own rules are not (only with own_rules). */
struct config *cli_config_load(const char *path, int own_rules, struct diag *d,
                               int *rules_broken);
/* cli_print_diag - every diagnostic, one per line, to stderr */
void cli_print_diag(const struct diag *d);
/* cli_read_passphrase_file - the first line of path (trailing CR removed,
 * NUL-terminated) into pass, a buffer of cap bytes; *len its length.  0,
 * or -1 with a short reason in *why and errno (E2BIG: longer than max
 * bytes, or than the buffer holds).  The rest of pass is wiped, and all
 * of it on failure (passfile.c). */
int cli_read_passphrase_file(const char *path, char *pass, size_t cap, size_t max, size_t *len,
                             const char **why);
/* cli_add_rcpts - the addresses of nto --to arguments (each an address or
 * a comma-separated list) into env, at most max in all; 0, or -1 with
 * *status set after printing why, naming subcommand cmd (rcpts.c) */
int cli_add_rcpts(const char *cmd, const char *const *to, size_t nto, size_t max,
                  struct msg_envelope *env, int *status);

#endif
