/*
 * rcpts - the recipients of `mailseal test` and `mailseal encrypt`: each
 * --to argument is an address or a comma-separated list of them, added in
 * order to a message envelope (see cli.h, cli_add_rcpts).
 *
 * Failure: an empty address or more than max recipients is a usage error
 * (*status CLI_USAGE), a memory failure is CLI_INVALID; either is printed
 * on stderr naming the subcommand and the argument.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* cli_add_rcpts - every address of the nto --to arguments into env */
int cli_add_rcpts(const char *cmd, const char *const *to, size_t nto, size_t max,
                  struct msg_envelope *env, int *status)
{
    for (size_t i = 0; i < nto; i++) {
        const char *p = to[i], *end;

        do {
            size_t len;
            char *one;

            end = strchrnul(p, ',');
            len = (size_t)(end - p);
            if (len == 0 || env->nrcpts >= max) {
                fprintf(stderr, "mailseal %s: --to %s: %s\n", cmd, to[i],
                        len == 0 ? "empty address" : "too many recipients");
                *status = CLI_USAGE;
                return -1;
            }
            one = strndup(p, len);
            if (one == NULL || msg_envelope_add_rcpt(env, one) < 0) {
                fprintf(stderr, "mailseal %s: --to %s: %s\n", cmd, to[i], strerror(errno));
                free(one);
                *status = CLI_INVALID;
                return -1;
            }
            free(one);
            p = end + 1;
        } while (*end != '\0');
    }
    return 0;
}
