/*
 * test_yaml_tree - the YAML node tree: structure, positions and scalar
 * styles; every refusal (aliases, anchors, tags, duplicate and non-scalar
 * keys, NUL, several documents, depth, node count, file size, syntax and
 * encoding errors) with its exact FILE:LINE:COLUMN message; and the helpers
 * shared by the loaders (null, bool, int, map lookup, closest name,
 * unknown-key reports).
 */
#include <errno.h>
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

#include "util/buf.h"
#include "util/diag.h"
#include "util/yaml_tree.h"

/* parse - a tree from text named t.yaml */
static struct ytree *parse(const char *text, struct diag *d)
{
    return ytree_parse("t.yaml", text, strlen(text), d);
}

/* check_diags - d holds exactly the expected messages (NULL-terminated) */
static void check_diags(const struct diag *d, const char *const *want, const char *input)
{
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    for (size_t i = 0; i < n || i < d->count; i++) {
        const char *w = i < n ? want[i] : "(none)";
        const char *got = i < d->count ? d->items[i] : "(none)";

        if (strcmp(w, got) != 0) {
            for (size_t j = 0; j < d->count; j++)
                print_message("  got[%zu]: %s\n", j, d->items[j]);
            fail_msg("input:\n%s\ndiagnostic %zu:\n  got:  %s\n  want: %s", input, i, got, w);
        }
    }
}

/* test_structure - nodes, positions, styles */
static void test_structure(void **state)
{
    static const char text[] =
        "# comment\n"
        "a: \"on\"\n"
        "b: on\n"
        "c: 'x y'\n"
        "list:\n"
        "  - one\n"
        "  - {k: v}\n"
        "  -\n"
        "lit: |\n"
        "  line1\n"
        "  line2\n"
        "fold: >\n"
        "  f1\n"
        "  f2\n"
        "empty:\n"
        "\xc3\xa4: \"\\u00e9\"\n";
    struct diag d;
    struct ytree *t;
    const struct ynode *r, *n;

    (void)state;
    diag_init(&d);
    t = parse(text, &d);
    assert_non_null(t);
    assert_int_equal(diag_count(&d), 0);
    r = t->root;
    assert_int_equal(r->type, YNODE_MAP);
    assert_int_equal(r->n, 8);
    assert_int_equal(r->line, 2);
    assert_int_equal(r->col, 1);
    assert_string_equal(r->file, "t.yaml");
    assert_string_equal(t->file, "t.yaml");
    assert_int_equal(t->nnodes, 22);

    n = ymap_get(r, "a");
    assert_int_equal(n->type, YNODE_SCALAR);
    assert_string_equal(n->value, "on");
    assert_int_equal(n->style, YSTYLE_DOUBLE);
    assert_int_equal(n->line, 2);
    assert_int_equal(n->col, 4);
    assert_int_equal(r->keys[0]->line, 2);
    assert_int_equal(r->keys[0]->col, 1);

    n = ymap_get(r, "b");
    assert_int_equal(n->style, YSTYLE_PLAIN);
    assert_string_equal(n->value, "on");
    n = ymap_get(r, "c");
    assert_int_equal(n->style, YSTYLE_SINGLE);
    assert_string_equal(n->value, "x y");
    assert_int_equal(n->len, 3);

    n = ymap_get(r, "list");
    assert_int_equal(n->type, YNODE_SEQ);
    assert_int_equal(n->n, 3);
    assert_int_equal(n->line, 6);
    assert_int_equal(n->col, 3);
    assert_string_equal(n->items[0]->value, "one");
    assert_int_equal(n->items[0]->line, 6);
    assert_int_equal(n->items[0]->col, 5);
    assert_int_equal(n->items[1]->type, YNODE_MAP);
    assert_int_equal(n->items[1]->line, 7);
    assert_int_equal(n->items[1]->col, 5);
    assert_string_equal(ymap_get(n->items[1], "k")->value, "v");
    assert_int_equal(ymap_get(n->items[1], "k")->col, 9);
    assert_true(ynode_is_null(n->items[2]));

    n = ymap_get(r, "lit");
    assert_int_equal(n->style, YSTYLE_LITERAL);
    assert_string_equal(n->value, "line1\nline2\n");
    n = ymap_get(r, "fold");
    assert_int_equal(n->style, YSTYLE_FOLDED);
    assert_string_equal(n->value, "f1 f2\n");
    n = ymap_get(r, "empty");
    assert_true(ynode_is_null(n));
    assert_string_equal(ynode_kind(n), "nothing");
    n = ymap_get(r, "\xc3\xa4");
    assert_string_equal(n->value, "\xc3\xa9");
    assert_int_equal(n->col, 4);          /* columns count characters */

    assert_null(ymap_get(r, "missing"));
    assert_null(ymap_get(ymap_get(r, "a"), "x"));
    assert_null(ymap_get(NULL, "x"));
    ytree_free(t);
    ytree_free(NULL);
    diag_free(&d);
}

/* test_empty - no document: a tree without root */
static void test_empty(void **state)
{
    static const char *const texts[] = { "", "# just a comment\n", "\n\n", "%YAML 1.1\n---\n...\n" };

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct diag d;
        struct ytree *t;

        diag_init(&d);
        t = parse(texts[i], &d);
        assert_non_null(t);
        assert_null(t->root);
        assert_int_equal(t->nnodes, 0);
        ytree_free(t);
    }
    {
        /* "---" alone is a document holding one null scalar */
        struct diag d;
        struct ytree *t;

        diag_init(&d);
        t = parse(texts[3], &d);
        assert_non_null(t);
        assert_true(ynode_is_null(t->root));
        ytree_free(t);
    }
}

struct err_case {
    const char *text;
    const char *want[4];
};

static const struct err_case err_cases[] = {
    { "a: &x 1\nb: *x\n", { "t.yaml:1:4: anchors and aliases are not supported",
                            "t.yaml:2:4: anchors and aliases are not supported" } },
    { "a: [1, 2]\nb: *x\n", { "t.yaml:2:4: anchors and aliases are not supported" } },
    { "a: &anchor {b: 1}\n", { "t.yaml:1:4: anchors and aliases are not supported" } },
    { "a: !!str 1\n", { "t.yaml:1:4: explicit tags are not supported" } },
    { "a: !custom [1]\n", { "t.yaml:1:4: explicit tags are not supported" } },
    { "a: 1\nb: 2\na: 3\n", { "t.yaml:3:1: duplicate key 'a' (first at line 1 column 1)" } },
    { "a: 1\na: 2\na: 3\n", { "t.yaml:2:1: duplicate key 'a' (first at line 1 column 1)",
                              "t.yaml:3:1: duplicate key 'a' (first at line 1 column 1)" } },
    { "x: {c: 1, d: 2, c: 3}\ny: 1\ny: 2\n",
      { "t.yaml:1:17: duplicate key 'c' (first at line 1 column 5)",
        "t.yaml:3:1: duplicate key 'y' (first at line 2 column 1)" } },
    { "\"a\": 1\na: 2\n", { "t.yaml:2:1: duplicate key 'a' (first at line 1 column 1)" } },
    { "? [a]\n: 1\n", { "t.yaml:1:3: mapping keys must be scalars, not a list" } },
    { "{a: 1}: 2\n", { "t.yaml:1:1: mapping keys must be scalars, not a mapping" } },
    { "a: \"x\\0y\"\n", { "t.yaml:1:4: NUL characters are not allowed" } },
    { "a: 1\n---\nb: 2\n", { "t.yaml:2:1: only one YAML document is allowed" } },
    { "a: [1, 2\n", { "t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow "
                      "sequence at line 1 column 4)" } },
    { "a:\n  b: 1\n c: 2\n", { "t.yaml:3:2: did not find expected key (while parsing a block "
                               "mapping at line 1 column 1)" } },
    { "a: b: c\n", { "t.yaml:1:5: mapping values are not allowed in this context" } },
    { "a: \"unterminated\n", { "t.yaml:2:1: found unexpected end of stream (while scanning a "
                               "quoted scalar at line 1 column 4)" } },
    { "a:\n\tb: 1\n", { "t.yaml:2:1: found character that cannot start any token (while "
                        "scanning for the next token at line 2 column 1)" } },
    { "ok: 1\nbad: \xff\n", { "t.yaml:2:6: invalid leading UTF-8 octet" } },
    { "ok: \xc3\xa4\xc3\xa4\nbad: \xc3\n", { "t.yaml:2:7: invalid trailing UTF-8 octet" } },
};

/* test_errors - every refusal with its position */
static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        struct diag d;
        struct ytree *t;

        diag_init(&d);
        t = parse(err_cases[i].text, &d);
        assert_null(t);
        check_diags(&d, err_cases[i].want, err_cases[i].text);
        diag_free(&d);
    }
}

/* nested - depth levels of flow sequences around a scalar */
static char *nested(size_t depth)
{
    struct buf b = BUF_INIT(1 << 20);

    for (size_t i = 0; i < depth; i++)
        buf_addc(&b, '[');
    buf_addc(&b, 'x');
    for (size_t i = 0; i < depth; i++)
        buf_addc(&b, ']');
    buf_addc(&b, '\n');
    return buf_steal(&b);
}

/* test_depth - 64 levels are fine, 65 are not */
static void test_depth(void **state)
{
    struct diag d;
    struct ytree *t;
    char *text;

    (void)state;
    diag_init(&d);
    text = nested(YTREE_MAX_DEPTH);
    t = parse(text, &d);
    assert_non_null(t);
    assert_int_equal(t->nnodes, YTREE_MAX_DEPTH + 1);
    ytree_free(t);
    free(text);

    text = nested(YTREE_MAX_DEPTH + 1);
    assert_null(parse(text, &d));
    check_diags(&d, (const char *const[]){ "t.yaml:1:65: nesting deeper than 64 levels", NULL },
                "(65 levels)");
    diag_free(&d);
    free(text);

    /* block mappings count the same way */
    {
        struct buf b = BUF_INIT(1 << 20);

        for (size_t i = 0; i <= YTREE_MAX_DEPTH; i++) {
            for (size_t j = 0; j < i; j++)
                buf_addc(&b, ' ');
            buf_adds(&b, "k:\n");
        }
        diag_init(&d);
        assert_null(parse(buf_str(&b), &d));
        check_diags(&d, (const char *const[]){ "t.yaml:65:65: nesting deeper than 64 levels", NULL },
                    "(65 mappings)");
        diag_free(&d);
        buf_free(&b);
    }
}

/* test_node_limit - a flood of nodes is refused */
static void test_node_limit(void **state)
{
    struct buf b = BUF_INIT(4 << 20);
    struct diag d;
    struct ytree *t;

    (void)state;
    /* the sequence itself + 199999 items = the limit */
    buf_addc(&b, '[');
    for (size_t i = 0; i < YTREE_MAX_NODES - 1; i++)
        buf_adds(&b, i ? ",1" : "1");
    buf_adds(&b, "]\n");
    diag_init(&d);
    t = parse(buf_str(&b), &d);
    assert_non_null(t);
    assert_int_equal(t->nnodes, YTREE_MAX_NODES);
    ytree_free(t);

    buf_truncate(&b, b.len - 2);
    buf_adds(&b, ",2]\n");
    assert_null(parse(buf_str(&b), &d));
    assert_int_equal(diag_count(&d), 1);
    assert_string_equal(diag_get(&d, 0), "t.yaml:1:400000: too many nodes (more than 200000)");
    diag_free(&d);
    buf_free(&b);
}

/* test_load_file - reading files: missing, too big, a directory, fine */
static void test_load_file(void **state)
{
    char dir[] = "/tmp/ms-yaml-XXXXXX", path[256], want[512];
    struct diag d;
    struct ytree *t;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing.yaml", dir);
    diag_init(&d);
    assert_null(ytree_load(path, &d));
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    check_diags(&d, (const char *const[]){ want, NULL }, path);
    diag_free(&d);

    diag_init(&d);
    assert_null(ytree_load(dir, &d));
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    check_diags(&d, (const char *const[]){ want, NULL }, dir);
    diag_free(&d);

    /* a FIFO is refused at once, not waited on for a writer (the alarm
     * ends the test if the open blocks) */
    snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    diag_init(&d);
    alarm(10);
    assert_null(ytree_load(path, &d));
    alarm(0);
    snprintf(want, sizeof(want), "%s: not a regular file", path);
    check_diags(&d, (const char *const[]){ want, NULL }, path);
    diag_free(&d);
    unlink(path);

    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("a: |\n", fp);
    for (size_t i = 0; i < YTREE_MAX_FILE / 64; i++)
        fputs("  xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", fp);
    fclose(fp);
    diag_init(&d);
    assert_null(ytree_load(path, &d));
    snprintf(want, sizeof(want), "%s: file is larger than 4194304 bytes", path);
    check_diags(&d, (const char *const[]){ want, NULL }, path);
    diag_free(&d);
    unlink(path);

    snprintf(path, sizeof(path), "%s/ok.yaml", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("key:\n  - value\n", fp);
    fclose(fp);
    diag_init(&d);
    t = ytree_load(path, &d);
    assert_non_null(t);
    assert_string_equal(t->root->file, path);
    assert_string_equal(ymap_get(t->root, "key")->items[0]->value, "value");
    assert_int_equal(ymap_get(t->root, "key")->items[0]->line, 2);
    ytree_free(t);
    unlink(path);

    /* a buffer over the cap is refused without parsing */
    assert_null(ytree_parse("x.yaml", "a", (size_t)YTREE_MAX_FILE + 1, &d));
    assert_string_equal(diag_get(&d, 0), "x.yaml: file is larger than 4194304 bytes");
    diag_free(&d);
    rmdir(dir);
}

/* scalar - a one-scalar tree's root ("k: VALUE") for the helper tests */
static struct ytree *scalar(const char *text)
{
    struct diag d;
    struct ytree *t;

    diag_init(&d);
    t = parse(text, &d);
    assert_non_null(t);
    diag_free(&d);
    return t;
}

/* test_helpers_bool_null - booleans only plain; nulls */
static void test_helpers_bool_null(void **state)
{
    static const struct { const char *text; int ok, value, null; } cases[] = {
        { "k: true", 0, 1, 0 }, { "k: false", 0, 0, 0 }, { "k: yes", 0, 1, 0 },
        { "k: no", 0, 0, 0 }, { "k: True", 0, 1, 0 }, { "k: NO", 0, 0, 0 },
        { "k: \"true\"", -1, 0, 0 }, { "k: 'yes'", -1, 0, 0 }, { "k: on", -1, 0, 0 },
        { "k: off", -1, 0, 0 }, { "k: 1", -1, 0, 0 }, { "k: y", -1, 0, 0 },
        { "k:", -1, 0, 1 }, { "k: ~", -1, 0, 1 }, { "k: null", -1, 0, 1 },
        { "k: NULL", -1, 0, 1 }, { "k: \"\"", -1, 0, 0 }, { "k: \"null\"", -1, 0, 0 },
        { "k: [true]", -1, 0, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ytree *t = scalar(cases[i].text);
        const struct ynode *n = ymap_get(t->root, "k");
        int v = -5;

        assert_int_equal(ynode_bool(n, &v), cases[i].ok);
        if (cases[i].ok == 0)
            assert_int_equal(v, cases[i].value);
        else
            assert_int_equal(v, -5);
        assert_int_equal(ynode_is_null(n), cases[i].null);
        assert_int_equal(ynode_is_string(n), n->type == YNODE_SCALAR && !cases[i].null);
        ytree_free(t);
    }
    assert_int_equal(ynode_bool(NULL, &(int){ 0 }), -1);
    assert_int_equal(ynode_is_null(NULL), 0);
    assert_string_equal(ynode_kind(NULL), "nothing");
}

/* test_helpers_int - decimal integers with a range */
static void test_helpers_int(void **state)
{
    static const struct { const char *text; long long min, max; int r; long long v; } cases[] = {
        { "k: 0", 0, 10, 0, 0 }, { "k: 10", 0, 10, 0, 10 }, { "k: 11", 0, 10, -2, 0 },
        { "k: -1", 0, 10, -2, 0 }, { "k: -5", -10, 10, 0, -5 }, { "k: \"7\"", 0, 10, 0, 7 },
        { "k: 007", 0, 10, 0, 7 }, { "k: 1.5", 0, 10, -1, 0 }, { "k: 0x10", 0, 100, -1, 0 },
        { "k: +3", 0, 10, -1, 0 }, { "k: 1e3", 0, 10000, -1, 0 }, { "k: ' 3'", 0, 10, -1, 0 },
        { "k: 3 ", 0, 10, 0, 3 },     /* YAML strips the trailing space */
        { "k: \"-\"", 0, 10, -1, 0 }, { "k:", 0, 10, -1, 0 }, { "k: [1]", 0, 10, -1, 0 },
        { "k: 9223372036854775807", 0, 9223372036854775807LL, 0, 9223372036854775807LL },
        { "k: 9223372036854775808", 0, 9223372036854775807LL, -2, 0 },
        { "k: 99999999999999999999999", 0, 10, -2, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ytree *t = scalar(cases[i].text);
        long long v = -12345;

        if (ynode_int(ymap_get(t->root, "k"), cases[i].min, cases[i].max, &v) != cases[i].r)
            fail_msg("case %zu (%s): wrong result", i, cases[i].text);
        assert_int_equal(v, cases[i].r == 0 ? cases[i].v : -12345);
        ytree_free(t);
    }
}

/* test_closest - typo suggestions */
static void test_closest(void **state)
{
    static const char *const keys[] = { "socket", "user", "group", "pid_file", "umask",
                                        "timeout", "shutdown_timeout", "log_level" };
    static const struct { const char *word; const char *want; } cases[] = {
        { "sockt", "socket" }, { "sokcet", "socket" }, { "SOCKET", "socket" },
        { "usr", "user" }, { "groups", "group" }, { "pidfile", "pid_file" },
        { "timout", "timeout" }, { "shutdowntimeout", "shutdown_timeout" },
        { "loglevel", "log_level" }, { "log-level", "log_level" },
        { "xyz", NULL }, { "u", NULL }, { "", NULL }, { "completely_different", NULL },
        { "network", NULL },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t r = yclosest(cases[i].word, keys, sizeof(keys) / sizeof(keys[0]));

        if (cases[i].want == NULL) {
            if (r != YCLOSEST_NONE)
                fail_msg("'%s': got '%s', want none", cases[i].word, keys[r]);
        } else {
            if (r == YCLOSEST_NONE)
                fail_msg("'%s': got none, want '%s'", cases[i].word, cases[i].want);
            assert_string_equal(keys[r], cases[i].want);
        }
    }
}

/* test_unknown_keys - the shared unknown-key report */
static void test_unknown_keys(void **state)
{
    static const char *const allowed[] = { "name", "value" };
    struct ytree *t = scalar("name: a\nvalu: b\nextra: c\nvalue: d\n");
    struct diag d;

    (void)state;
    diag_init(&d);
    assert_int_equal(ymap_check_keys(t->root, "add_header", allowed, 2, &d), 2);
    check_diags(&d, (const char *const[]){
        "t.yaml:2:1: unknown key 'valu' in add_header (did you mean 'value'?)",
        "t.yaml:3:1: unknown key 'extra' in add_header (allowed: name, value)", NULL }, "");
    diag_free(&d);
    diag_init(&d);
    assert_int_equal(ymap_check_keys(t->root, NULL, allowed, 1, &d), 3);
    assert_string_equal(diag_get(&d, 0), "t.yaml:2:1: unknown key 'valu' (allowed: name)");
    diag_free(&d);
    diag_init(&d);
    yunknown(&d, t->root->keys[2], "condition", NULL, allowed, 2);
    assert_string_equal(diag_get(&d, 0), "t.yaml:3:1: unknown condition 'extra' (allowed: name, value)");
    ynode_error(&d, t->root->items[3], "value %s", "bad");
    assert_string_equal(diag_get(&d, 1), "t.yaml:4:8: value bad");
    ynode_error(&d, NULL, "no position");
    assert_string_equal(diag_get(&d, 2), "-: no position");
    assert_int_equal(ymap_check_keys(t->root->items[0], NULL, allowed, 2, &d), 0);
    diag_free(&d);
    ytree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_helpers_bool_null),
        cmocka_unit_test(test_helpers_int),
        cmocka_unit_test(test_closest),
        cmocka_unit_test(test_unknown_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
