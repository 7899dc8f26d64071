/*
 * tmpdir - a private temporary directory for a cmocka test group.
 *
 * Pass test_tmpdir_setup / test_tmpdir_teardown to cmocka_run_group_tests():
 * setup creates /tmp/mailseal-test-XXXXXX (its name in test_tmpdir),
 * teardown removes it with everything in it.  test_tmpdir_write() writes a
 * file there and gives its path.
 */
#ifndef MAILSEAL_TESTS_SUPPORT_TMPDIR_H
#define MAILSEAL_TESTS_SUPPORT_TMPDIR_H

#include <stddef.h>

extern char test_tmpdir[256];

int test_tmpdir_setup(void **state);
int test_tmpdir_teardown(void **state);
/* test_tmpdir_write - write text to test_tmpdir/name; path gets the full path; 0 or -1 */
int test_tmpdir_write(const char *name, const char *text, char *path, size_t len);

#endif
