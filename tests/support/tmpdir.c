/*
 * tmpdir - a private temporary directory for a cmocka test group (see tmpdir.h).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/support/tmpdir.h"

char test_tmpdir[256];

/* rm_entry - nftw callback removing one entry */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* test_tmpdir_setup - create the directory */
int test_tmpdir_setup(void **state)
{
    (void)state;
    snprintf(test_tmpdir, sizeof(test_tmpdir), "/tmp/mailseal-test-XXXXXX");
    return mkdtemp(test_tmpdir) ? 0 : -1;
}

/* test_tmpdir_teardown - remove it and everything in it */
int test_tmpdir_teardown(void **state)
{
    (void)state;
    return nftw(test_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* test_tmpdir_write - write a file in the directory */
int test_tmpdir_write(const char *name, const char *text, char *path, size_t len)
{
    FILE *fp;
    int r;

    if ((size_t)snprintf(path, len, "%s/%s", test_tmpdir, name) >= len)
        return -1;
    if ((fp = fopen(path, "w")) == NULL)
        return -1;
    r = fputs(text, fp) < 0;
    return fclose(fp) != 0 || r ? -1 : 0;
}
