/*
 * diag_check - assertions on the diagnostics a loader reported, for the
 * configuration and rules tests.
 *
 * Expected messages are written with "@/" standing for a directory (the
 * test's temporary directory), so they can name files in it.
 * test_expand() returns such a template with dir put in (caller frees);
 * test_check_diags() fails the test unless d holds exactly the expected
 * messages, in order, printing every message it got and context.
 */
#ifndef MAILSEAL_TESTS_SUPPORT_DIAG_CHECK_H
#define MAILSEAL_TESTS_SUPPORT_DIAG_CHECK_H

#include "util/diag.h"

char *test_expand(const char *tmpl, const char *dir);
/* want: NULL-terminated */
void test_check_diags(const struct diag *d, const char *const *want, const char *dir,
                      const char *context);

#endif
