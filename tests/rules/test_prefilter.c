/*
 * test_prefilter - the Hyperscan prefilter of pattern conditions
 * (rules/re_prefilter.c): which patterns it rules on, and, differentially
 * against PCRE2 on seeded random text in normal form, that it never rules
 * out a condition PCRE2 finds a match for (no false negative), while it
 * does rule out most conditions on text where they cannot match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/keyword.h"
#include "rules/re_prefilter.h"
#include "rules/rules_cond_int.h"
#include "rules/text_norm.h"
#include "tests/support/rand_text.h"
#include "util/buf.h"

#define CASES 4000
#define MAX_TEXT 600

/* compile - one condition of the given patterns (caseless as body conditions are) */
static struct re_set *compile(const char *const *pats, size_t n)
{
    struct ynode items[8], *ptrs[8], seq;
    struct re_set *set = NULL;
    struct diag d;

    assert_true(n <= 8);
    memset(&seq, 0, sizeof(seq));
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < n; i++) {
        items[i].type = YNODE_SCALAR;
        items[i].value = (char *)pats[i];
        items[i].len = strlen(pats[i]);
        items[i].line = items[i].col = 1;
        ptrs[i] = &items[i];
    }
    seq.type = YNODE_SEQ;
    seq.items = ptrs;
    seq.n = n;
    diag_init(&d);
    if (re_set_parse_opt("body_matches", &seq, 1, &set, &d) < 0)
        fail_msg("pattern %s does not compile", pats[0]);
    diag_free(&d);
    return set;
}

/* Which single patterns the prefilter rules on (1) or always runs (0). */
static const struct { const char *pat; int filtered; } kinds[] = {
    { "secr[e3]t", 1 },
    { "\\bref[- ]?no[.:]? ?[a-z]{2}\\d{6}\\b", 1 },
    { "\\b(?:acct|account) ?(?:no|number)[.:]? ?\\d{8,12}\\b", 1 },
    { "(?i)INVOICE \\d+", 1 },
    { "a.b", 1 },
    { "^the|end$", 1 },
    { "caf\xc3\xa9", 0 },           /* non-ASCII text */
    { "\\x{e9}", 0 },               /* an escape naming a character */
    { "\\p{Lu}x", 0 },              /* a property */
    { "(a)\\1", 0 },                /* a back-reference */
    { "\\h+x", 0 },                 /* \h holds non-ASCII spaces */
    { "(*UCP)\\bx", 0 },            /* a verb changing the options */
    { "a*", 0 },                    /* matches the empty string */
    { "x?", 0 },
};

static void test_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *pats[1] = { kinds[i].pat };
        const struct re_set *sets[1];
        struct re_set *set = compile(pats, 1);
        struct re_prefilter *p;

        sets[0] = set;
        assert_non_null(p = re_pre_build(sets, 1));
        if (re_pre_filtered(p) != (size_t)kinds[i].filtered)
            fail_msg("%s: filtered %zu, want %d", kinds[i].pat, re_pre_filtered(p),
                     kinds[i].filtered);
        re_pre_free(p);
        re_set_free(set);
    }
}

/* A condition with one always-run pattern is always run as a whole. */
static void test_mixed_condition(void **state)
{
    const char *pats[2] = { "secr[e3]t", "\\p{Lu}" };
    struct re_set *set = compile(pats, 2);
    const struct re_set *sets[1] = { set };
    struct re_prefilter *p = re_pre_build(sets, 1);
    struct kw_scratch *sc = kw_scratch_new(NULL);
    unsigned char cand[1] = { 0 };

    (void)state;
    assert_non_null(p);
    assert_non_null(sc);
    assert_int_equal(re_pre_filtered(p), 0);
    assert_int_equal(re_pre_grow_scratch(p, sc), 0);
    assert_int_equal(re_pre_scan(p, sc, "nothing here", 12, cand), 0);
    assert_int_equal(cand[0], 1);
    kw_scratch_free(sc);
    re_pre_free(p);
    re_set_free(set);
}

/* The conditions of the differential test; text is built to hit them. */
static const char *const conds[][3] = {
    { "secr[e3]t", NULL, NULL },
    { "\\bref[- ]?no[.:]? ?[a-z]{2}\\d{6}\\b", NULL, NULL },
    { "\\bcase #?\\d{7,9}\\b", NULL, NULL },
    { "\\b(?:acct|account) ?(?:no|number)[.:]? ?\\d{8,12}\\b", NULL, NULL },
    { "invoice \\d{3}", "nomatch", NULL },
    { "a.b", NULL, NULL },
    { "^the", "end$", NULL },
    { "[^a-z ]{3}x", NULL, NULL },
    { "\\w+@\\w+\\.com\\b", NULL, NULL },
    { "(?:x|y){2,}z", NULL, NULL },
    { "(?i)FOO\\s+BAR", NULL, NULL },
    { "\\Bou\\B", NULL, NULL },
    { "\\d{4}[ -]?\\d{4}", "q[^u]", NULL },
    { "caf\xc3\xa9s?", NULL, NULL },
    { "\\p{Nd}{2}", NULL, NULL },
    { "(a+)+\\d", NULL, NULL },
};
#define NCONDS (sizeof(conds) / sizeof(conds[0]))

static const char *const pieces[] = {
    "the", "end", "secret", "secr3t", "SECRET", "ref no", "ref-no.", "ref:", "ab", "xy",
    "123456", "1234567", "12345678", "123456789012", "case", "case #", "acct", "account",
    "number", "no.", "invoice", "Invoice", "a", "b", "ab", "a b", "axb", "a\xc3\xa9" "b",
    "x", "y", "z", "xyz", "yyz", "foo", "FOO", "bar", "Bar", "you", "out", "ou", "@", ".",
    ".com", "mail", "bob@example.com", "-", " ", " ", " ", "  ", "\t", "\r\n", "#", ":",
    "0", "1", "42", "2026", "caf\xc3\xa9", "CAF\xc3\x89", "\xc3\xa9", "\xe2\x80\x8b",
    "\xef\xbc\xa1", "\xe2\x84\xaa", "\xc5\xbf", "\xff", "q", "qu", "qa", "aaaaaaaaaaaa",
};

/* gen_text - random text of at most max bytes from pieces[] */
static size_t gen_text(uint64_t *st, char *out, size_t max)
{
    return test_gen_text(st, pieces, sizeof(pieces) / sizeof(pieces[0]), out, max);
}

static void test_no_false_negative(void **state)
{
    struct re_set *sets[NCONDS];
    const struct re_set *csets[NCONDS];
    struct re_prefilter *p;
    struct kw_scratch *sc = kw_scratch_new(NULL);
    struct rules_ctx rc;
    size_t matched = 0, skipped = 0, unmatched = 0;
    uint64_t st = 0x9e3779b97f4a7c15ull;

    (void)state;
    for (size_t k = 0; k < NCONDS; k++) {
        size_t n = 0;

        while (n < 3 && conds[k][n] != NULL)
            n++;
        csets[k] = sets[k] = compile(conds[k], n);
    }
    assert_non_null(p = re_pre_build(csets, NCONDS));
    assert_int_equal(re_pre_filtered(p), NCONDS - 2);   /* all but café and \p{Nd} */
    assert_non_null(sc);
    assert_int_equal(re_pre_grow_scratch(p, sc), 0);
    memset(&rc, 0, sizeof(rc));
    for (int c = 0; c < CASES; c++) {
        char raw[MAX_TEXT];
        struct buf norm = BUF_INIT(4 * MAX_TEXT);
        unsigned char cand[NCONDS];
        size_t len = gen_text(&st, raw, sizeof(raw));

        assert_int_equal(text_norm(raw, len, &norm), 0);
        assert_int_equal(re_pre_scan(p, sc, buf_str(&norm), norm.len, cand), 0);
        for (size_t k = 0; k < NCONDS; k++) {
            size_t at, mlen;
            int r = re_set_match(sets[k], &rc, buf_str(&norm), norm.len, &at, &mlen);

            assert_true(r >= 0);
            if (r == 1 && !cand[k])
                fail_msg("case %d: condition %zu (%s) matches at %zu but was ruled out in \"%s\"",
                         c, k, conds[k][0], at, buf_str(&norm));
            matched += r == 1;
            unmatched += r != 1;
            skipped += r != 1 && !cand[k];
        }
        buf_free(&norm);
    }
    /* the test sees both outcomes, and the prefilter does its job */
    assert_true(matched > CASES);
    assert_true(skipped > unmatched / 2);
    rules_re_match_data_free(rc.md);
    kw_scratch_free(sc);
    re_pre_free(p);
    for (size_t k = 0; k < NCONDS; k++)
        re_set_free(sets[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_mixed_condition),
        cmocka_unit_test(test_no_false_negative),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
