/*
 * test_keyfile - key files: created when missing with safe permissions;
 * refused when readable or writable by others, group-writable, a symbolic
 * link, of the wrong length or not hexadecimal.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reload),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
