/*
 * cli_config - loading the configuration for the tools (see cli.h).
 *
 * config_load() always loads the rules the configuration names.  When a
 * tool checks other rules files, errors in the configured ones are not
 * the user's question: they are recognised as the diagnostics that do not
 * name the configuration file itself (config_load() reports its own
 * problems, including an inaccessible rules path, at the configuration
 * file's positions) and dropped from the list in place.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* diag_in_file - 1 when diagnostic text s is about file path */
static int diag_in_file(const char *s, const char *path)
{
    size_t n = strlen(path);

    return strncmp(s, path, n) == 0 && s[n] == ':';
}

/* cli_config_load - the configuration, optionally without its rules */
struct config *cli_config_load(const char *path, int own_rules, struct diag *d,
                               int *rules_broken)
{
    size_t first = d->count, kept = first;
    int lost = d->lost;
    struct config *cfg;

    *rules_broken = 0;
    cfg = config_load(path, CONFIG_SKIP_SECRET, d);
    if (!own_rules)
        return cfg;
    /* drop the diagnostics about the configured rules files, in place */
    for (size_t i = first; i < d->count; i++) {
        if (diag_in_file(d->items[i], path))
            d->items[kept++] = d->items[i];
        else
            free(d->items[i]);
    }
    d->count = kept;
    if (cfg == NULL && kept == first && d->lost == lost)
        *rules_broken = 1;
    if (cfg != NULL) {
        rules_free(cfg->rules);
        cfg->rules = NULL;
    }
    return cfg;
}

/* cli_print_diag - every diagnostic to stderr */
void cli_print_diag(const struct diag *d)
{
    diag_print(d, stderr);
}
