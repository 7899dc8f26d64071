/*
 * diag - list of file:line:column diagnostics (see diag.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/diag.h"

#define DIAG_MAX_ITEMS 1000
#define DIAG_MAX_LEN 4096

/* diag_init - an empty list */
void diag_init(struct diag *d)
{
    memset(d, 0, sizeof(*d));
}

/* diag_add - record one diagnostic at file:line:col */
void diag_add(struct diag *d, const char *file, unsigned line, unsigned col,
              const char *fmt, ...)
{
    struct buf b = BUF_INIT(DIAG_MAX_LEN);
    va_list ap;
    int r;

    if (d->count >= DIAG_MAX_ITEMS) {
        d->lost = 1;
        return;
    }
    if (line > 0)
        r = buf_printf(&b, "%s:%u:%u: ", file ? file : "-", line, col ? col : 1);
    else
        r = buf_printf(&b, "%s: ", file ? file : "-");
    va_start(ap, fmt);
    if (r == 0)
        r = buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (r < 0) {
        d->lost = 1;
        return;
    }
    if (d->count == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        char **p = realloc(d->items, ncap * sizeof(*p));

        if (p == NULL) {
            buf_free(&b);
            d->lost = 1;
            return;
        }
        d->items = p;
        d->cap = ncap;
    }
    d->items[d->count++] = buf_steal(&b);
}

/* diag_count - number of diagnostics, at least 1 if any was lost */
size_t diag_count(const struct diag *d)
{
    return d->count ? d->count : (size_t)(d->lost != 0);
}

/* diag_get - the i-th diagnostic text */
const char *diag_get(const struct diag *d, size_t i)
{
    return i < d->count ? d->items[i] : "(diagnostic lost: out of memory)";
}

/* diag_print - write every diagnostic on its own line */
void diag_print(const struct diag *d, FILE *fp)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(fp, "%s\n", d->items[i]);
    if (d->lost)
        fprintf(fp, "(further diagnostics were lost)\n");
}

/* diag_free - release every diagnostic */
void diag_free(struct diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->items[i]);
    free(d->items);
    diag_init(d);
}
