/*
 * mailseal - the command-line tool for compliance officers: `mailseal
 * check` validates the configuration and rules files, `mailseal test`
 * shows what the gateway would decide for a saved message, `mailseal
 * secret`, `decrypt` and `encrypt` handle recipient keys and envelopes (see
 * cmd_*.c).  main() only dispatches to the subcommand and
 * returns its exit status: 0 success, 1 invalid input or failure, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* usage - the tool's help */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal check [-c CONFIG] [RULES...]\n"
            "       mailseal test [-c CONFIG] [--rules FILE|DIR] --from ADDR\n"
            "                     --to ADDR[,ADDR...] [--json] MESSAGE.eml\n"
            "       mailseal secret set [-f STORE] [--passphrase-file FILE] [--iterations N] NAME\n"
            "       mailseal secret list [-f STORE] | remove [-f STORE] NAME\n"
            "       mailseal decrypt [--passphrase-file FILE | --org-key PRIVATE.pem]\n"
            "                        [--address ADDR] [-o OUT] [INPUT]\n"
            "       mailseal encrypt [-c CONFIG] --from ADDR --to ADDR[,ADDR...]\n"
            "                        [--passphrase-file FILE] < IN.eml > OUT.eml\n"
            "       mailseal -h | -V\n"
            "  check   validate the configuration and its rules (or RULES instead)\n"
            "  test    dry run: what the gateway would decide for a saved message\n"
            "  secret  recipient passphrase keys (NAME: an address or @domain)\n"
            "  decrypt the original message of an envelope (.eml or message.html)\n"
            "  encrypt the wrapper message of the gateway's encrypt action, from stdin\n"
            "  mailseal COMMAND -h shows the options of a command.\n");
}

int main(int argc, char **argv)
{
    static char check_name[] = "mailseal check", test_name[] = "mailseal test";
    static char secret_name[] = "mailseal secret";
    static char decrypt_name[] = "mailseal decrypt", encrypt_name[] = "mailseal encrypt";

    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("mailseal %s\n", MAILSEAL_VERSION);
        return CLI_OK;
    }
    /* argv[0] of a subcommand names it in getopt's messages */
    if (strcmp(argv[1], "check") == 0) {
        argv[1] = check_name;
        return cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "secret") == 0) {
        argv[1] = secret_name;
        return cmd_secret(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "decrypt") == 0) {
        argv[1] = decrypt_name;
        return cmd_decrypt(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "encrypt") == 0) {
        argv[1] = encrypt_name;
        return cmd_encrypt(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "test") == 0) {
        argv[1] = test_name;
        return cmd_test(argc - 1, argv + 1);
    }
    fprintf(stderr, "mailseal: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
