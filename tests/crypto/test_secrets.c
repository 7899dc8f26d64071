/*
 * test_secrets - the recipient key store: every parse error with its exact
 * line and column; refusal of files others may read; lookup precedence
 * (address, then "@domain", then parent domains; case ignored); set,
 * replace and remove keep every other line, the comments and the file's
 * mode; a new store gets mode 0640 and its directory's group; a store of
 * 10,000 entries loads and finds each key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto/secrets.h"
#include "util/buf.h"

#define SALT "00112233445566778899aabbccddeeff"
#define KEK "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char dir[64];
static char store[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/mailseal-secrets-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(store, sizeof(store), "%s/secrets", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* write_file - create path with len bytes of text and mode */
static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *fp;

    unlink(path);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* write_store - the store with text, mode 0600 */
static void write_store(const char *text)
{
    write_file(store, text, strlen(text), 0600);
}

/* read_file - the whole file (caller frees) */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *s = calloc(1, 1 << 20);
    size_t n;

    assert_non_null(fp);
    assert_non_null(s);
    n = fread(s, 1, (1 << 20) - 1, fp);
    s[n] = '\0';
    fclose(fp);
    return s;
}

/* file_count - the number of entries in dir (temporary files left behind show here) */
static int file_count(void)
{
    DIR *dp = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(dp);
    return n;
}

/* key_of - a key whose bytes all derive from seed */
static void key_of(unsigned seed, struct env_recipient_key *k)
{
    for (size_t i = 0; i < ENV_SALT_LEN; i++)
        k->salt[i] = (unsigned char)(seed * 7 + i);
    for (size_t i = 0; i < ENV_KEY_LEN; i++)
        k->kek[i] = (unsigned char)(seed * 13 + i * 3 + (seed >> 8));
    k->iterations = ENV_MIN_ITERATIONS + seed;
}

/* line_of - the store line for name and key_of(seed) */
static void line_of(struct buf *b, const char *name, unsigned seed)
{
    struct env_recipient_key k;

    key_of(seed, &k);
    assert_int_equal(buf_printf(b, "%s %u ", name, k.iterations), 0);
    for (size_t i = 0; i < ENV_SALT_LEN; i++)
        assert_int_equal(buf_printf(b, "%02x", k.salt[i]), 0);
    assert_int_equal(buf_addc(b, ' '), 0);
    for (size_t i = 0; i < ENV_KEY_LEN; i++)
        assert_int_equal(buf_printf(b, "%02x", k.kek[i]), 0);
    assert_int_equal(buf_addc(b, '\n'), 0);
}

static void test_parse_errors(void **state)
{
    static char long_line[1200];
    struct {
        const char *text;
        const char *want[3];      /* after the path */
    } cases[] = {
        { "ann@example.net 600000 " SALT " " KEK "\n", { NULL } },
        { "# comment\n\n  \t# indented comment\n\tann@example.net\t600000  " SALT " " KEK " \r\n"
          "@example.net 100000 " SALT " " KEK, { NULL } },
        { "ann@example.net 600000 00112233445566778899aabbccddeefg " KEK "\n",
          { ":1:55: 'g' in the salt is not a hexadecimal digit" } },
        { "ann@example.net 600000 00112233445566778899aabbccddee " KEK "\n",
          { ":1:24: the salt must be 32 hexadecimal digits, not 30" } },
        { "ann@example.net 600000 " SALT " " KEK "00\n",
          { ":1:57: the key must be 64 hexadecimal digits, not 66" } },
        { "ann@example.net 600000 " SALT " " "0001020304050607080x\n",
          { ":1:76: 'x' in the key is not a hexadecimal digit" } },
        { "ann@example.net 99999 " SALT " " KEK "\n",
          { ":1:17: iterations 99999 below the minimum 100000" } },
        { "ann@example.net 6000a0 " SALT " " KEK "\n",
          { ":1:21: 'a' in the iterations is not a decimal digit" } },
        { "ann@example.net 4294967296 " SALT " " KEK "\n",
          { ":1:17: iterations above the maximum 10000000" } },
        { "ann@example.net 10000001 " SALT " " KEK "\n",
          { ":1:17: iterations above the maximum 10000000" } },
        { "ann@example.net 10000000 " SALT " " KEK "\n", { NULL } },
        { "ann@example.net 100000 " SALT " " KEK "\n", { NULL } },
        { "ann@example.net 600000\n", { ":1:23: the salt is missing (NAME ITERATIONS SALT_HEX KEK_HEX)" } },
        { "ann@example.net\n", { ":1:16: the iteration count is missing (NAME ITERATIONS SALT_HEX KEK_HEX)" } },
        { "ann@example.net 600000 " SALT " " KEK " # note\n",
          { ":1:122: unexpected text after the key" } },
        { "# two entries\nann@example.net 600000 " SALT " " KEK "\n# x\n"
          "  ann@example.net 100000 " SALT " " KEK "\n",
          { ":4:3: duplicate name ann@example.net (first on line 2)" } },
        { "Ann@example.net 600000 " SALT " " KEK "\n",
          { ":1:1: bad name: upper-case letter in the name (names are lower-case)" } },
        { "annexample.net 600000 " SALT " " KEK "\n",
          { ":1:1: bad name: the name needs an '@' (ann@example.net, or @example.net for a domain)" } },
        { "ann@@example.net 600000 " SALT " " KEK "\n",
          { ":1:5: bad name: more than one '@' in the name" } },
        { "ann@exa_mple.net 600000 " SALT " " KEK "\n",
          { ":1:8: bad name: character not allowed in a domain (letters, digits, '-' and '.')" } },
        { "ann@ 600000 " SALT " " KEK "\n", { ":1:5: bad name: no domain after '@'" } },
        { "ann@example..net 600000 " SALT " " KEK "\n",
          { ":1:13: bad name: empty label in the domain" } },
        { "@example.net. 600000 " SALT " " KEK "\n",
          { ":1:13: bad name: empty label in the domain" } },
        { "\xc3\xa9@example.net 600000 " SALT " " KEK "\n",
          { ":1:1: bad name: non-ASCII byte in the name (write domains as A-labels, xn--...)" } },
        { "an\x01n@example.net 600000 " SALT " " KEK "\n",
          { ":1:3: bad name: space or control character in the name" } },
        /* several errors in one run, each on its line */
        { "bob@example.net 1 " SALT " " KEK "\n# fine\n@EXAMPLE.NET 600000 " SALT " " KEK "\n"
          "carol@example.net 600000 " SALT "\n",
          { ":1:17: iterations 1 below the minimum 100000",
            ":3:2: bad name: upper-case letter in the name (names are lower-case)",
            ":4:58: the key is missing (NAME ITERATIONS SALT_HEX KEK_HEX)" } },
        { long_line, { ":2:1025: line longer than 1024 bytes" } },
    };

    (void)state;
    memset(long_line, 0, sizeof(long_line));
    strcpy(long_line, "# a comment\n# ");
    memset(long_line + strlen(long_line), 'x', 1100);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct secrets *s;
        struct diag d;
        size_t nwant = 0;

        while (nwant < 3 && cases[i].want[nwant] != NULL)
            nwant++;
        diag_init(&d);
        write_store(cases[i].text);
        s = secrets_load(store, &d);
        if (nwant == 0) {
            if (s == NULL)
                fail_msg("case %zu: refused: %s", i, diag_get(&d, 0));
            assert_int_equal(diag_count(&d), 0);
        } else {
            assert_null(s);
            if (diag_count(&d) != nwant)
                fail_msg("case %zu: %zu errors, first %s", i, diag_count(&d),
                         diag_count(&d) ? diag_get(&d, 0) : "-");
            for (size_t j = 0; j < nwant; j++) {
                const char *got = diag_get(&d, j);

                assert_memory_equal(got, store, strlen(store));
                if (strcmp(got + strlen(store), cases[i].want[j]) != 0)
                    fail_msg("case %zu: got '%s', want '%s'", i, got + strlen(store), cases[i].want[j]);
            }
        }
        secrets_free(s);
        diag_free(&d);
    }
}

static void test_values_and_listing(void **state)
{
    const struct env_recipient_key *k;
    struct secrets *s;
    struct diag d;
    uint32_t it = 0;

    (void)state;
    diag_init(&d);
    write_store("zed@example.net 600000 " SALT " " KEK "\n"
                "@example.net 123456 ffeeddccbbaa99887766554433221100 " KEK "\n");
    s = secrets_load(store, &d);
    assert_non_null(s);
    assert_int_equal(secrets_count(s), 2);
    assert_string_equal(secrets_entry(s, 0, &it), "@example.net");
    assert_int_equal(it, 123456);
    assert_string_equal(secrets_entry(s, 1, &it), "zed@example.net");
    assert_int_equal(it, 600000);
    assert_null(secrets_entry(s, 2, &it));
    k = secrets_find(s, "zed@example.net", NULL);
    assert_non_null(k);
    assert_int_equal(k->iterations, 600000);
    assert_int_equal(k->salt[0], 0x00);
    assert_int_equal(k->salt[15], 0xff);
    assert_int_equal(k->kek[0], 0x00);
    assert_int_equal(k->kek[10], 0x0a);
    assert_int_equal(k->kek[31], 0x1f);
    k = secrets_find(s, "amy@example.net", NULL);
    assert_non_null(k);
    assert_int_equal(k->salt[0], 0xff);
    assert_int_equal(k->iterations, 123456);
    secrets_free(s);
    diag_free(&d);
}

static void test_permissions(void **state)
{
    static const char text[] = "ann@example.net 600000 " SALT " " KEK "\n";
    struct {
        mode_t mode;
        const char *want;
    } cases[] = {
        { 0600, NULL },
        { 0640, NULL },
        { 0400, NULL },
        { 0644, "must not be readable or writable by others" },
        { 0660, "must not be readable or writable by others" },
        { 0604, "must not be readable or writable by others" },
    };
    char link[160];
    struct secrets *s;
    struct diag d;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        diag_init(&d);
        write_file(store, text, strlen(text), cases[i].mode);
        s = secrets_load(store, &d);
        if (cases[i].want == NULL) {
            assert_non_null(s);
            assert_int_equal(secrets_count(s), 1);
        } else {
            assert_null(s);
            assert_int_equal(diag_count(&d), 1);
            if (strstr(diag_get(&d, 0), cases[i].want) == NULL)
                fail_msg("case %zu: '%s' lacks '%s'", i, diag_get(&d, 0), cases[i].want);
        }
        secrets_free(s);
        diag_free(&d);
    }
    /* a symbolic link and a missing file are refused */
    write_file(store, text, strlen(text), 0600);
    snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink(store, link), 0);
    diag_init(&d);
    assert_null(secrets_load(link, &d));
    assert_non_null(strstr(diag_get(&d, 0), "symbolic link: refused"));
    diag_free(&d);
    unlink(link);
    diag_init(&d);
    snprintf(link, sizeof(link), "%s/missing", dir);
    assert_null(secrets_load(link, &d));
    assert_int_equal(diag_count(&d), 1);
    assert_non_null(strstr(diag_get(&d, 0), "cannot open the secrets store: No such file"));
    diag_free(&d);
}

static void test_lookup_precedence(void **state)
{
    struct buf b = BUF_INIT(1 << 16);
    struct {
        const char *address;
        const char *want;         /* NULL: no key */
        unsigned seed;
    } cases[] = {
        { "ann@sub.example.net", "ann@sub.example.net", 1 },
        { "Ann@SUB.Example.NET", "ann@sub.example.net", 1 },
        { "bob@sub.example.net", "@sub.example.net", 2 },
        { "bob@deep.sub.example.net", "@sub.example.net", 2 },
        { "ann@example.net", "@example.net", 3 },
        { "BOB@Example.Net", "@example.net", 3 },
        { "x@a.b.c.other.example.net", "@example.net", 3 },
        { "carol@example.org", "carol@example.org", 4 },
        { "dave@example.org", NULL, 0 },
        { "ann@example.com", NULL, 0 },
        { "example.net", NULL, 0 },
        { "", NULL, 0 },
        { "ann@", NULL, 0 },
        { "ann@sub.example.net.", NULL, 0 },
        { "\"a@b\"@sub.example.net", "@sub.example.net", 2 },
    };
    struct secrets *s;
    struct diag d;
    char longaddr[400];

    (void)state;
    line_of(&b, "@example.net", 3);
    line_of(&b, "carol@example.org", 4);
    line_of(&b, "ann@sub.example.net", 1);
    line_of(&b, "@sub.example.net", 2);
    write_store(buf_str(&b));
    buf_free(&b);
    diag_init(&d);
    s = secrets_load(store, &d);
    assert_non_null(s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = "unset";
        const struct env_recipient_key *k = secrets_find(s, cases[i].address, &name);
        struct env_recipient_key want;

        if (cases[i].want == NULL) {
            if (k != NULL)
                fail_msg("case %zu: %s found %s", i, cases[i].address, name);
            assert_string_equal(name, "unset");
            continue;
        }
        if (k == NULL)
            fail_msg("case %zu: %s not found", i, cases[i].address);
        assert_string_equal(name, cases[i].want);
        key_of(cases[i].seed, &want);
        assert_memory_equal(k, &want, sizeof(want));
    }
    /* an address too long to be a name still finds its domain */
    memset(longaddr, 'a', 300);
    strcpy(longaddr + 300, "@Example.net");
    assert_non_null(secrets_find(s, longaddr, NULL));
    assert_null(secrets_find(NULL, "ann@example.net", NULL));
    assert_null(secrets_find(s, NULL, NULL));
    secrets_free(s);
    diag_free(&d);
}

static void test_name_normalize(void **state)
{
    struct {
        const char *in, *out, *why;
    } cases[] = {
        { "Ann@Example.NET", "ann@example.net", NULL },
        { "@Example.net", "@example.net", NULL },
        { "@xn--bcher-kva.example", "@xn--bcher-kva.example", NULL },
        { "example.net", NULL, "the name needs an '@' (ann@example.net, or @example.net for a domain)" },
        { "ann @example.net", NULL, "space or control character in the name" },
        { "b\xc3\xbc@example.net", NULL, "non-ASCII byte in the name (write domains as A-labels, xn--...)" },
        { "@", NULL, "no domain after '@'" },
        { "", NULL, "empty name" },
    };
    char out[SECRETS_MAX_NAME + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        int r = secrets_name_normalize(cases[i].in, out, &why);

        if (cases[i].out != NULL) {
            assert_int_equal(r, 0);
            assert_string_equal(out, cases[i].out);
        } else {
            assert_int_equal(r, -1);
            assert_string_equal(why, cases[i].why);
        }
    }
}

static void test_set_replace_remove(void **state)
{
    static const char head[] = "# recipients of the legal team\n"
                               "\n"
                               "   # indented comment\n";
    struct buf orig = BUF_INIT(1 << 16), want = BUF_INIT(1 << 16);
    struct env_recipient_key k;
    struct secrets *s;
    struct diag d;
    struct stat st;
    char *got;

    (void)state;
    assert_int_equal(buf_adds(&orig, head), 0);
    line_of(&orig, "ann@example.net", 1);
    assert_int_equal(buf_adds(&orig, "# between\n"), 0);
    assert_int_equal(buf_adds(&orig, "@example.net\t100001\t" SALT "  " KEK "\n"), 0);
    write_file(store, buf_str(&orig), orig.len, 0600);
    diag_init(&d);

    /* add: appended after everything else */
    key_of(7, &k);
    assert_int_equal(secrets_set(store, "bob@example.org", &k, &d), 0);
    assert_int_equal(buf_add(&want, orig.data, orig.len), 0);
    line_of(&want, "bob@example.org", 7);
    got = read_file(store);
    assert_string_equal(got, buf_str(&want));
    free(got);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* replace: in place, the oddly spaced line after it untouched */
    key_of(9, &k);
    assert_int_equal(secrets_set(store, "ann@example.net", &k, &d), 0);
    buf_reset(&want);
    assert_int_equal(buf_adds(&want, head), 0);
    line_of(&want, "ann@example.net", 9);
    assert_int_equal(buf_adds(&want, "# between\n"), 0);
    assert_int_equal(buf_adds(&want, "@example.net\t100001\t" SALT "  " KEK "\n"), 0);
    line_of(&want, "bob@example.org", 7);
    got = read_file(store);
    assert_string_equal(got, buf_str(&want));
    free(got);

    s = secrets_load(store, &d);
    assert_non_null(s);
    assert_int_equal(secrets_count(s), 3);
    assert_memory_equal(secrets_find(s, "ann@example.net", NULL), &k, sizeof(k));
    secrets_free(s);

    /* remove: only that line goes */
    assert_int_equal(secrets_remove(store, "@example.net", &d), 0);
    buf_reset(&want);
    assert_int_equal(buf_adds(&want, head), 0);
    line_of(&want, "ann@example.net", 9);
    assert_int_equal(buf_adds(&want, "# between\n"), 0);
    line_of(&want, "bob@example.org", 7);
    got = read_file(store);
    assert_string_equal(got, buf_str(&want));
    free(got);
    assert_int_equal(diag_count(&d), 0);

    /* mode 0640 and the group are kept */
    assert_int_equal(chmod(store, 0640), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(store, 0, 4242), 0);
    assert_int_equal(secrets_remove(store, "bob@example.org", &d), 0);
    assert_int_equal(stat(store, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0)
        assert_int_equal(st.st_gid, 4242);
    assert_int_equal(file_count(), 1);     /* no temporary file left */
    assert_int_equal(diag_count(&d), 0);

    /* a last line without a line feed keeps its text; the new entry follows */
    write_file(store, "# no newline at the end", 23, 0600);
    key_of(3, &k);
    assert_int_equal(secrets_set(store, "@example.com", &k, &d), 0);
    buf_reset(&want);
    assert_int_equal(buf_adds(&want, "# no newline at the end\n"), 0);
    line_of(&want, "@example.com", 3);
    got = read_file(store);
    assert_string_equal(got, buf_str(&want));
    free(got);
    assert_int_equal(diag_count(&d), 0);

    buf_free(&orig);
    buf_free(&want);
    diag_free(&d);
}

static void test_edit_refusals(void **state)
{
    static const char good[] = "# keep\nann@example.net 600000 " SALT " " KEK "\n";
    static const char broken[] = "# keep\nann@example.net 600000 " SALT "\n";
    struct env_recipient_key k;
    struct diag d;
    struct stat st;
    char path[160], *got;

    (void)state;
    key_of(1, &k);

    /* a store others can read is not edited */
    write_file(store, good, strlen(good), 0644);
    diag_init(&d);
    assert_int_equal(secrets_set(store, "bob@example.net", &k, &d), -1);
    assert_non_null(strstr(diag_get(&d, 0), "must not be readable or writable by others"));
    diag_free(&d);

    /* nor a store with errors: reported, the file left as it was */
    write_file(store, broken, strlen(broken), 0600);
    diag_init(&d);
    assert_int_equal(secrets_set(store, "bob@example.net", &k, &d), -1);
    assert_int_equal(diag_count(&d), 1);
    assert_non_null(strstr(diag_get(&d, 0), ":2:56: the key is missing"));
    diag_free(&d);
    got = read_file(store);
    assert_string_equal(got, broken);
    free(got);

    /* bad names, keys below the minimum, removing what is not there */
    write_file(store, good, strlen(good), 0600);
    diag_init(&d);
    assert_int_equal(secrets_set(store, "Bob@example.net", &k, &d), -1);
    assert_int_equal(secrets_set(store, "bob", &k, &d), -1);
    k.iterations = ENV_MIN_ITERATIONS - 1;
    assert_int_equal(secrets_set(store, "bob@example.net", &k, &d), -1);
    assert_int_equal(secrets_remove(store, "bob@example.net", &d), -1);
    assert_int_equal(diag_count(&d), 4);
    assert_string_equal(diag_get(&d, 0) + strlen(store),
                        ": bad name 'Bob@example.net': upper-case letter in the name (names are lower-case)");
    assert_non_null(strstr(diag_get(&d, 1), "bad name 'bob': the name needs an '@'"));
    assert_non_null(strstr(diag_get(&d, 2), "iterations 99999 out of range (100000 to 10000000)"));
    assert_string_equal(diag_get(&d, 3) + strlen(store), ": no entry bob@example.net");
    diag_free(&d);
    got = read_file(store);
    assert_string_equal(got, good);
    free(got);
    assert_int_equal(file_count(), 1);

    /* a new store: mode 0640, the directory's group */
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0750), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(path, 0, 4343), 0);
    snprintf(path, sizeof(path), "%s/sub/new-secrets", dir);
    diag_init(&d);
    assert_int_equal(secrets_remove(path, "ann@example.net", &d), -1);
    assert_non_null(strstr(diag_get(&d, 0), "cannot open the secrets store: No such file"));
    diag_free(&d);
    diag_init(&d);
    key_of(5, &k);
    assert_int_equal(secrets_set(path, "ann@example.net", &k, &d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0)
        assert_int_equal(st.st_gid, 4343);
    {
        struct secrets *s = secrets_load(path, &d);

        assert_non_null(s);
        assert_memory_equal(secrets_find(s, "ANN@example.net", NULL), &k, sizeof(k));
        secrets_free(s);
    }
    assert_int_equal(diag_count(&d), 0);
    diag_free(&d);
}

static void test_ten_thousand(void **state)
{
    struct buf b = BUF_INIT(8u << 20);
    struct secrets *s;
    struct diag d;
    char name[64];

    (void)state;
    assert_int_equal(buf_adds(&b, "# generated\n"), 0);
    for (unsigned i = 10000; i-- > 0;) {      /* written in reverse order */
        snprintf(name, sizeof(name), "user%05u@d%u.example.net", i, i % 7);
        line_of(&b, name, i);
    }
    write_store(buf_str(&b));
    buf_free(&b);
    diag_init(&d);
    s = secrets_load(store, &d);
    assert_non_null(s);
    assert_int_equal(secrets_count(s), 10000);
    assert_string_equal(secrets_entry(s, 0, NULL), "user00000@d0.example.net");
    assert_string_equal(secrets_entry(s, 9999, NULL), "user09999@d3.example.net");
    for (unsigned i = 0; i < 10000; i++) {
        struct env_recipient_key want;
        const struct env_recipient_key *k;
        const char *found = NULL;

        snprintf(name, sizeof(name), "User%05u@D%u.example.net", i, i % 7);
        k = secrets_find(s, name, &found);
        if (k == NULL)
            fail_msg("%s not found", name);
        key_of(i, &want);
        assert_memory_equal(k, &want, sizeof(want));
        assert_non_null(found);
        assert_int_equal(strncmp(found, "user", 4), 0);
    }
    assert_null(secrets_find(s, "user10000@d0.example.net", NULL));
    secrets_free(s);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_values_and_listing),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_lookup_precedence),
        cmocka_unit_test(test_name_normalize),
        cmocka_unit_test(test_set_replace_remove),
        cmocka_unit_test(test_edit_refusals),
        cmocka_unit_test(test_ten_thousand),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
