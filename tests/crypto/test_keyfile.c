/*
 * test_keyfile - key files: created when missing with safe permissions;
 * refused when readable or writable by others, group-writable, a symbolic
 * link, of the wrong length or not hexadecimal, or in a directory others
 * can write (without the sticky bit) or that someone else owns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "crypto/keyfile.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/mailseal-keyfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* write_file - create path with text and mode */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp;

    unlink(path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_create_and_reload(void **state)
{
    char path[128];
    unsigned char k1[32], k2[32];
    struct diag d;
    struct stat st;

    (void)state;
    diag_init(&d);
    snprintf(path, sizeof(path), "%s/new.key", dir);
    assert_int_equal(keyfile_load(path, k1, 32, 0, (gid_t)-1, &d), -1);   /* missing, no create */
    assert_int_equal(diag_count(&d), 1);
    assert_non_null(strstr(diag_get(&d, 0), "cannot open key file"));
    assert_int_equal(keyfile_load(path, k1, 32, 1, (gid_t)-1, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(keyfile_load(path, k2, 32, 1, (gid_t)-1, &d), 0);  /* exists: read, not replaced */
    assert_memory_equal(k1, k2, 32);
    diag_free(&d);
}

static void test_refusals(void **state)
{
    static const char good[] = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
    struct { const char *text; mode_t mode; const char *want; } cases[] = {
        { good, 0600, NULL },
        { good, 0640, NULL },
        { good, 0400, NULL },
        { good, 0644, "must not be readable or writable by others" },
        { good, 0660, "must not be readable or writable by others" },
        { good, 0602, "must not be readable or writable by others" },
        { "0011", 0600, "exactly 64 hexadecimal digits" },
        { "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n", 0600,
          "not a hexadecimal digit" },
        { "", 0600, "exactly 64 hexadecimal digits" },
    };
    char path[128], link[128];
    unsigned char k[32];

    (void)state;
    snprintf(path, sizeof(path), "%s/k.key", dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct diag d;

        diag_init(&d);
        write_file(path, cases[i].text, cases[i].mode);
        if (cases[i].want == NULL) {
            assert_int_equal(keyfile_load(path, k, 32, 0, (gid_t)-1, &d), 0);
            assert_int_equal(k[0], 0x00);
            assert_int_equal(k[31], 0xff);
        } else {
            assert_int_equal(keyfile_load(path, k, 32, 0, (gid_t)-1, &d), -1);
            assert_int_equal(diag_count(&d), 1);
            if (strstr(diag_get(&d, 0), cases[i].want) == NULL)
                fail_msg("case %zu: '%s' lacks '%s'", i, diag_get(&d, 0), cases[i].want);
        }
        diag_free(&d);
    }
    /* a symbolic link to a good file is refused */
    write_file(path, good, 0600);
    snprintf(link, sizeof(link), "%s/link.key", dir);
    assert_int_equal(symlink(path, link), 0);
    {
        struct diag d;

        diag_init(&d);
        assert_int_equal(keyfile_load(link, k, 32, 0, (gid_t)-1, &d), -1);
        assert_non_null(strstr(diag_get(&d, 0), "symbolic link"));
        diag_free(&d);
    }
}

/* test_directory - the key file's directory: mode and owner (reading,
 * creating, and the store/PEM callers' keyfile_check_perms) */
static void test_directory(void **state)
{
    static const char good[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    struct { mode_t mode; uid_t owner; const char *want; } cases[] = {
        { 0700, (uid_t)-1, NULL },
        { 0755, (uid_t)-1, NULL },
        { 0775, (uid_t)-1, NULL },
        { 01777, (uid_t)-1, NULL },                     /* sticky, like /tmp */
        { 0777, (uid_t)-1, "mode 0777 is unsafe: others can replace the key file" },
        { 0703, (uid_t)-1, "mode 0703 is unsafe: others can replace the key file" },
        { 0755, 4242, "must be owned by root or by uid" },   /* root only */
    };
    char sub[128], path[160], want[512];
    unsigned char k[32];

    (void)state;
    snprintf(sub, sizeof(sub), "%s/keys", dir);
    snprintf(path, sizeof(path), "%s/k.key", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct diag d;
        int fd;

        if (cases[i].owner != (uid_t)-1 && geteuid() != 0)
            continue;
        assert_int_equal(chmod(sub, 0700), 0);
        assert_int_equal(chown(sub, geteuid(), (gid_t)-1), 0);
        write_file(path, good, 0600);
        assert_int_equal(chmod(sub, cases[i].mode), 0);
        if (cases[i].owner != (uid_t)-1)
            assert_int_equal(chown(sub, cases[i].owner, (gid_t)-1), 0);
        diag_init(&d);
        if (cases[i].want == NULL) {
            assert_int_equal(keyfile_load(path, k, 32, 0, (gid_t)-1, &d), 0);
            assert_int_equal(diag_count(&d), 0);
        } else {
            assert_int_equal(keyfile_load(path, k, 32, 0, (gid_t)-1, &d), -1);
            assert_int_equal(diag_count(&d), 1);
            snprintf(want, sizeof(want), "%s: key file directory %s ", path, sub);
            if (strncmp(diag_get(&d, 0), want, strlen(want)) != 0
                || strstr(diag_get(&d, 0), cases[i].want) == NULL)
                fail_msg("case %zu: '%s' lacks '%s' or '%s'", i, diag_get(&d, 0), want,
                         cases[i].want);
            /* the permission test alone says the same */
            fd = open(path, O_RDONLY);
            assert_true(fd >= 0);
            assert_int_equal(keyfile_check_perms(path, fd, &d), -1);
            assert_int_equal(diag_count(&d), 2);
            close(fd);
            /* and nothing is created there */
            assert_int_equal(unlink(path), 0);
            assert_int_equal(keyfile_load(path, k, 32, 1, (gid_t)-1, &d), -1);
            assert_int_equal(access(path, F_OK), -1);
        }
        diag_free(&d);
    }
    assert_int_equal(chown(sub, geteuid(), (gid_t)-1), 0);
    assert_int_equal(chmod(sub, 0700), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reload),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_directory),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
