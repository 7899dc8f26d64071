/*
 * cmd_check - `mailseal check [-c CONFIG] [RULES...]`: validate the
 * configuration and its rules, or other rules files against it.
 *
 * The configuration is read without its loop secret (a rule writer may
 * not be allowed to read it).  Without RULES the configured rules are
 * checked; with RULES (files or directories, each loaded as the daemon
 * loads its rules path) those are checked instead, and rule names must be
 * unique across all of them.  Every problem is printed to stderr as
 * FILE:LINE:COLUMN: message, all of them in one run; on success one line
 * per rules source goes to stdout ("FILE: N rule(s), valid").  Returns the
 * exit status (cli.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rules/rules.h"

struct check_name {
    const char *name, *file;
    unsigned line, col;
    size_t src;               /* index of the rules source */
    int dup;                  /* a later definition of a name from another source */
    const char *ffile;        /* dup: where the name was first defined */
    unsigned fline, fcol;
};

/* check_usage - the subcommand's help */
static void check_usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal check [-c CONFIG] [RULES...]\n"
            "  Validate the configuration (default %s) and its rules, or,\n"
            "  when RULES files or directories are given, those instead.\n"
            "  Exit 0 when valid, 1 with every error on stderr, 2 on usage errors.\n",
            CONFIG_DEFAULT_PATH);
}

/* name_pos_cmp - order by source, file and position */
static int name_pos_cmp(const struct check_name *x, const struct check_name *y)
{
    int r;

    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if ((r = strcmp(x->file, y->file)) != 0)
        return r;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* name_cmp - qsort: by name, then by appearance */
static int name_cmp(const void *a, const void *b)
{
    const struct check_name *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    return r != 0 ? r : name_pos_cmp(x, y);
}

/* pos_cmp - qsort: by appearance */
static int pos_cmp(const void *a, const void *b)
{
    return name_pos_cmp(a, b);
}

/* check_duplicates - rule names used in more than one source; the
 * number of problems added to d, in order of appearance */
static size_t check_duplicates(struct ruleset *const *sets, size_t nsets, struct diag *d)
{
    struct check_name *v;
    const struct check_name *first = NULL;
    size_t n = 0, k = 0, ndup = 0;

    for (size_t s = 0; s < nsets; s++)
        n += rules_count(sets[s]);
    if (n < 2)
        return 0;
    if ((v = calloc(n, sizeof(*v))) == NULL) {
        diag_add(d, "mailseal", 0, 0, "out of memory");
        return 1;
    }
    for (size_t s = 0; s < nsets; s++) {
        for (size_t i = 0; i < rules_count(sets[s]); i++, k++) {
            rules_rule_at(sets[s], i, &v[k].name, &v[k].file, &v[k].line, &v[k].col);
            v[k].src = s;
        }
    }
    qsort(v, n, sizeof(*v), name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i].name, v[i - 1].name) != 0) {
            first = &v[i];
        } else if (v[i].src != first->src) {    /* within one source the loader checked */
            v[i].dup = 1;
            v[i].ffile = first->file;
            v[i].fline = first->line;
            v[i].fcol = first->col;
        }
    }
    qsort(v, n, sizeof(*v), pos_cmp);
    for (size_t i = 0; i < n; i++) {
        if (!v[i].dup)
            continue;
        diag_add(d, v[i].file, v[i].line, v[i].col,
                 "duplicate rule name '%s' (first defined at %s:%u:%u)",
                 v[i].name, v[i].ffile, v[i].fline, v[i].fcol);
        ndup++;
    }
    free(v);
    return ndup;
}

/* cmd_check - the check subcommand */
int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = CONFIG_DEFAULT_PATH;
    struct ruleset **sets = NULL;
    struct config *cfg;
    struct diag d;
    size_t nsets;
    int c, broken, bad = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'h':
            check_usage(stdout);
            return CLI_OK;
        default:
            check_usage(stderr);
            return CLI_USAGE;
        }
    }
    nsets = (size_t)(argc - optind);
    diag_init(&d);
    cfg = cli_config_load(path, nsets > 0, &d, &broken);
    if (cfg == NULL && !broken)
        bad = 1;
    if (nsets > 0 && (sets = calloc(nsets, sizeof(*sets))) == NULL) {
        diag_add(&d, "mailseal", 0, 0, "out of memory");
        bad = 1;
        nsets = 0;
    }
    for (size_t i = 0; i < nsets; i++)
        if ((sets[i] = rules_load(argv[optind + (int)i], &d)) == NULL)
            bad = 1;
    if (check_duplicates(sets, nsets, &d) > 0)
        bad = 1;
    if (bad || diag_count(&d) > 0) {
        cli_print_diag(&d);
        bad = 1;
    } else {
        printf("%s: configuration valid\n", path);
        if (nsets == 0 && cfg != NULL)
            printf("%s: %zu rule(s), valid\n", cfg->rules_path, rules_count(cfg->rules));
        for (size_t i = 0; i < nsets; i++)
            printf("%s: %zu rule(s), valid\n", argv[optind + (int)i], rules_count(sets[i]));
    }
    for (size_t i = 0; i < nsets; i++)
        rules_free(sets[i]);
    free(sets);
    config_free(cfg);
    diag_free(&d);
    return bad ? CLI_INVALID : CLI_OK;
}
