/*
 * diag_check - assertions on reported diagnostics (see diag_check.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/diag_check.h"
#include "util/buf.h"

/* test_expand - tmpl with every "@/" replaced by dir and a slash */
char *test_expand(const char *tmpl, const char *dir)
{
    struct buf b = BUF_INIT(8192);

    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '@' && p[1] == '/') {
            assert_int_equal(buf_printf(&b, "%s/", dir), 0);
            p++;
        } else {
            assert_int_equal(buf_addc(&b, *p), 0);
        }
    }
    return buf_steal(&b);
}

/* test_check_diags - d holds exactly the expected messages */
void test_check_diags(const struct diag *d, const char *const *want, const char *dir,
                      const char *context)
{
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    for (size_t i = 0; i < n || i < d->count; i++) {
        char *w = i < n ? test_expand(want[i], dir) : NULL;
        const char *got = i < d->count ? d->items[i] : "(none)";

        if (w == NULL || strcmp(w, got) != 0) {
            for (size_t j = 0; j < d->count; j++)
                print_message("  got[%zu]: %s\n", j, d->items[j]);
            fail_msg("%s\ndiagnostic %zu:\n  got:  %s\n  want: %s", context, i, got,
                     w ? w : "(none)");
        }
        free(w);
    }
}
