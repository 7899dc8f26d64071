/*
 * diag - a list of diagnostics about an input file, each "FILE:LINE:COLUMN:
 * message" (or "FILE: message" when no position is known).
 *
 * Loaders add every error they find, so one run reports several.  Line and
 * column are 1-based.  The list owns its strings; diag_free() releases them.
 * When memory runs out the list keeps what it has and remembers that it is
 * incomplete (diag_count() still reports at least one error).
 */
#ifndef MAILSEAL_UTIL_DIAG_H
#define MAILSEAL_UTIL_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
    char **items;
    size_t count;
    size_t cap;
    int lost;           /* an item could not be stored */
};

void diag_init(struct diag *d);
void diag_add(struct diag *d, const char *file, unsigned line, unsigned col,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t diag_count(const struct diag *d);
const char *diag_get(const struct diag *d, size_t i);
void diag_print(const struct diag *d, FILE *fp);
void diag_free(struct diag *d);

#endif
