/*
 * test_keyword - the text normaliser (NFKC, case folding, zero-width
 * removal, white space folding, invalid UTF-8) and the phrase matcher
 * (word boundaries, punctuation edges, phrases across white space and
 * NBSP, scripts without spaces), one set at a time and merged (kw_multi:
 * the same cases, shared phrases, and a differential test against the
 * one-set matcher on random phrases and texts).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/keyword.h"
#include "rules/text_norm.h"
#include "util/buf.h"

struct norm_case {
    const char *in;
    size_t inlen;             /* 0: strlen(in) */
    const char *out;
};

static const struct norm_case norm_cases[] = {
    { "Hello World", 0, "hello world" },
    { "\xc3\x84RGER", 0, "\xc3\xa4rger" },                           /* ÄRGER */
    { "A\xcc\x88rger", 0, "\xc3\xa4rger" },                          /* A + combining diaeresis */
    { "\xef\xac\x81le", 0, "file" },                                 /* ﬁ ligature */
    { "Stra\xc3\x9f" "e", 0, "strasse" },                            /* ß folds to ss */
    { "\xef\xbc\xa3\xef\xbc\xaf\xef\xbc\xae", 0, "con" },            /* fullwidth ＣＯＮ */
    { "con\xe2\x80\x8b" "fi\xe2\x80\x8c" "den\xe2\x80\x8dtial", 0, "confidential" },
    { "se\xc2\xad" "cret\xe2\x81\xa0", 0, "secret" },                /* soft hyphen, word joiner */
    { "\xef\xbb\xbftop", 0, "top" },                                 /* BOM */
    { "a \t\r\n b", 0, "a b" },
    { "a\xc2\xa0\xc2\xa0" "b", 0, "a b" },                           /* NBSP */
    { "a\xe2\x80\xa8" "b\xe3\x80\x80" "c", 0, "a b c" },             /* U+2028, ideographic space */
    { "x\xff" "y", 0, "x\xef\xbf\xbdy" },                            /* invalid byte */
    { "\xc3", 0, "\xef\xbf\xbd" },                                   /* truncated sequence */
    { "\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },   /* surrogate */
    { "\xef\xbd\xb6\xef\xbe\x80\xef\xbd\xb6\xef\xbe\x85", 0,        /* halfwidth ｶﾀｶﾅ */
      "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a" },
    { "", 0, "" },
    { "a\0b", 3, "a\0b" },
};

/* test_text_norm - every normalisation case */
static void test_text_norm(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *c = &norm_cases[i];
        size_t inlen = c->inlen ? c->inlen : strlen(c->in);
        size_t outlen = c->inlen ? c->inlen : strlen(c->out);
        struct buf b = BUF_INIT(1 << 20);

        assert_int_equal(text_norm(c->in, inlen, &b), 0);
        if (b.len != outlen || memcmp(buf_str(&b), c->out, outlen) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, buf_str(&b), c->out);
        buf_free(&b);
    }
}

/* test_text_norm_cap - the output buffer's cap is honoured */
static void test_text_norm_cap(void **state)
{
    struct buf b = BUF_INIT(4);

    (void)state;
    assert_int_equal(text_norm("abcdef", 6, &b), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_null(b.data);
}

struct match_case {
    const char *phrase;
    const char *text;
    int match;
};

static const struct match_case match_cases[] = {
    /* word boundaries */
    { "confidential", "Confidential report", 1 },
    { "confidential", "this is CONFIDENTIAL.", 1 },
    { "confidential", "nonconfidential", 0 },
    { "confidential", "confidentiality", 0 },
    { "confidential", "confidential_x", 1 },                 /* _ is not a letter */
    { "confidential", "(confidential)", 1 },
    { "confidential", "confidential2", 0 },
    { "confidential", "2confidential", 0 },
    { "confidential", "x nonconfidential confidential", 1 },  /* later occurrence */
    { "top secret", "Top Secret", 1 },
    { "top secret", "top  \t secret", 1 },
    { "top secret", "top\xc2\xa0secret", 1 },                 /* NBSP */
    { "top secret", "top\r\n secret", 1 },
    { "top secret", "topsecret", 0 },
    { "top secret", "stop secrets", 0 },
    { "top  secret", "top secret", 1 },                       /* phrase spaces fold too */
    { " top ", "a top b", 1 },
    /* punctuation at an edge needs no boundary there */
    { "[encrypt]", "Re: [ENCRYPT]report", 1 },
    { "[encrypt]", "x[encrypt]y", 1 },
    { "[encrypt]", "[encrypted]", 0 },
    { "#secure", "abc#secure", 1 },
    { "#secure", "#securely", 0 },
    { "secure!", "secure!x", 1 },
    /* case folding beyond ASCII, compatibility forms, invisible characters */
    { "\xc3\xa4rger", "\xc3\x84RGER im B\xc3\xbcro", 1 },    /* ärger / ÄRGER */
    { "\xc3\x84RGER", "kein \xc3\xa4rger", 1 },
    { "\xc3\xa4rger", "Arger", 0 },
    { "file", "\xef\xac\x81le attached", 1 },                 /* ﬁle */
    { "stra\xc3\x9f" "e", "STRASSE", 1 },
    { "confidential", "con\xe2\x80\x8b" "fidential", 1 },     /* zero-width space inside */
    { "confidential", "\xef\xbb\xbf" "confidential", 1 },
    { "confidential", "confi\xc2\xad" "dential", 1 },         /* soft hyphen */
    { "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",     /* привет */
      "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80", 1 },
    { "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
      "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\xd1\x8b", 0 },   /* приветы */
    { "cafe", "caf\xc3\xa9", 0 },                             /* é is another letter */
    { "caf\xc3\xa9", "CAFE\xcc\x81 ouvert", 1 },              /* decomposed É */
    /* scripts without spaces: substring matches */
    { "\xe6\xa9\x9f\xe5\xaf\x86",                             /* 機密 */
      "\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf\xe6\xa9\x9f\xe5\xaf\x86\xe6\x96\x87\xe6\x9b\xb8\xe3\x81\xa7\xe3\x81\x99", 1 },
    { "\xe7\xa4\xbe\xe5\xa4\x96\xe7\xa7\x98",                 /* 社外秘 */
      "\xe3\x80\x90\xe7\xa4\xbe\xe5\xa4\x96\xe7\xa7\x98\xe3\x80\x91\xe5\xa0\xb1\xe5\x91\x8a", 1 },
    { "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",     /* カタカナ in halfwidth text */
      "\xef\xbd\xb6\xef\xbe\x80\xef\xbd\xb6\xef\xbe\x85\xe3\x81\xa7\xe3\x81\x99", 1 },
    { "confidential",                                          /* これはconfidentialです */
      "\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf" "confidential" "\xe3\x81\xa7\xe3\x81\x99", 1 },
    { "\xe0\xb8\xa5\xe0\xb8\xb1\xe0\xb8\x9a",                 /* ลับ in Thai text */
      "\xe0\xb9\x80\xe0\xb8\xad\xe0\xb8\x81\xe0\xb8\xaa\xe0\xb8\xb2\xe0\xb8\xa3\xe0\xb8\xa5\xe0\xb8\xb1\xe0\xb8\x9a", 1 },
    { "\xe6\xa9\x9f\xe5\xaf\x86", "\xe6\xa9\x9f", 0 },
    /* edges */
    { "a", "a", 1 },
    { "a", "", 0 },
    { "secret", "secre", 0 },
};

/* test_kw_match - every phrase/text pair */
static void test_kw_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        struct kw_set *ks = kw_set_new();
        struct buf t = BUF_INIT(1 << 20);
        long got;

        assert_non_null(ks);
        assert_int_equal(kw_add(ks, c->phrase, strlen(c->phrase)), 0);
        assert_int_equal(text_norm(c->text, strlen(c->text), &t), 0);
        got = kw_match(ks, buf_str(&t), t.len);
        if ((got >= 0) != c->match)
            fail_msg("case %zu: '%s' in '%s': got %ld, want %s", i, c->phrase, c->text,
                     got, c->match ? "match" : "no match");
        buf_free(&t);
        kw_set_free(ks);
    }
}

/* test_kw_set - several phrases: the index of the first that matches */
static void test_kw_set(void **state)
{
    static const char *const phrases[] = { "alpha", "[beta]", "gamma delta" };
    struct kw_set *ks = kw_set_new();

    (void)state;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(kw_add(ks, phrases[i], strlen(phrases[i])), 0);
    assert_int_equal(kw_count(ks), 3);
    assert_int_equal(kw_match(ks, "x [beta] gamma delta", 20), 1);
    assert_int_equal(kw_match(ks, "gamma delta", 11), 2);
    assert_int_equal(kw_match(ks, "alphabet", 8), -1);
    assert_int_equal(kw_match(NULL, "alpha", 5), -1);
    kw_set_free(ks);
}

struct owner_hits {
    size_t n;                 /* owners */
    int hit[64];
    size_t at[64], len[64];   /* first occurrence */
    size_t calls;
    size_t stop_after;        /* 0: never stop */
};

/* on_hit - record the first occurrence per owner */
static int on_hit(void *arg, size_t owner, size_t at, size_t mlen)
{
    struct owner_hits *oh = arg;

    assert_true(owner < oh->n);
    oh->calls++;
    if (!oh->hit[owner] || at < oh->at[owner]) {
        oh->hit[owner] = 1;
        oh->at[owner] = at;
        oh->len[owner] = mlen;
    }
    return oh->stop_after != 0 && oh->calls >= oh->stop_after;
}

/* test_kw_multi_cases - every single-phrase case, all merged in one
 * matcher, each case its own owner */
static void test_kw_multi_cases(void **state)
{
    const size_t n = sizeof(match_cases) / sizeof(match_cases[0]);
    struct kw_multi *km = kw_multi_new();
    struct kw_set **sets = calloc(n, sizeof(*sets));
    struct kw_scratch *sc;

    (void)state;
    assert_non_null(km);
    assert_non_null(sets);
    for (size_t i = 0; i < n; i++) {
        sets[i] = kw_set_new();
        assert_int_equal(kw_add(sets[i], match_cases[i].phrase, strlen(match_cases[i].phrase)), 0);
        assert_int_equal(kw_multi_add(km, sets[i], i), 0);
    }
    assert_int_equal(kw_multi_build(km), 0);
    assert_int_equal(kw_multi_add(km, sets[0], 0), -1);      /* built: no more phrases */
    assert_int_equal(errno, EINVAL);
    assert_non_null(sc = kw_scratch_new(km));
    for (size_t i = 0; i < n; i++) {
        const struct match_case *c = &match_cases[i];
        struct buf t = BUF_INIT(1 << 20);
        struct owner_hits oh;

        memset(&oh, 0, sizeof(oh));
        oh.n = n;
        assert_true(n <= 64);
        assert_int_equal(text_norm(c->text, strlen(c->text), &t), 0);
        assert_int_equal(kw_multi_scan(km, sc, buf_str(&t), t.len, on_hit, &oh), 0);
        if (oh.hit[i] != c->match)
            fail_msg("case %zu: '%s' in '%s': merged matcher says %s", i, c->phrase, c->text,
                     oh.hit[i] ? "match" : "no match");
        buf_free(&t);
    }
    kw_scratch_free(sc);
    kw_multi_free(km);
    for (size_t i = 0; i < n; i++)
        kw_set_free(sets[i]);
    free(sets);
}

/* test_kw_multi_shared - one phrase in three sets is stored once and
 * reported to each owner; a callback can stop the scan; an empty matcher
 * finds nothing */
static void test_kw_multi_shared(void **state)
{
    static const char *const a[] = { "secret", "top secret" }, *const b[] = { "secret" },
                             *const c[] = { "[encrypt]", "secret", "secret" };
    const char *const *lists[] = { a, b, c };
    const size_t lens[] = { 2, 1, 3 };
    struct kw_set *sets[3];
    struct kw_multi *km = kw_multi_new(), *empty = kw_multi_new();
    struct kw_scratch *sc, *esc;
    struct owner_hits oh;
    const char *text = "this is top secret [encrypt]";

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        sets[i] = kw_set_new();
        for (size_t j = 0; j < lens[i]; j++)
            assert_int_equal(kw_add(sets[i], lists[i][j], strlen(lists[i][j])), 0);
        assert_int_equal(kw_multi_add(km, sets[i], 10 + i * 10), 0);
    }
    assert_int_equal(kw_multi_build(km), 0);
    assert_int_equal(kw_multi_count(km), 3);
    assert_non_null(sc = kw_scratch_new(km));
    memset(&oh, 0, sizeof(oh));
    oh.n = 64;
    assert_int_equal(kw_multi_scan(km, sc, text, strlen(text), on_hit, &oh), 0);
    /* "secret" ends at 18 for owners 10, 20, 30; "top secret" ends there too
     * (10); "[encrypt]" (30): five calls, the duplicate in c reported once */
    assert_int_equal(oh.calls, 5);
    assert_true(oh.hit[10] && oh.hit[20] && oh.hit[30]);
    assert_int_equal(oh.at[10], 8);
    assert_int_equal(oh.len[10], 10);
    assert_int_equal(oh.at[20], 12);
    assert_int_equal(oh.at[30], 12);
    memset(&oh, 0, sizeof(oh));
    oh.n = 64;
    oh.stop_after = 2;
    assert_int_equal(kw_multi_scan(km, sc, text, strlen(text), on_hit, &oh), 1);
    assert_int_equal(oh.calls, 2);
    assert_int_equal(kw_multi_build(empty), 0);
    assert_non_null(esc = kw_scratch_new(empty));
    memset(&oh, 0, sizeof(oh));
    oh.n = 64;
    assert_int_equal(kw_multi_scan(empty, esc, text, strlen(text), on_hit, &oh), 0);
    assert_int_equal(oh.calls, 0);
    kw_scratch_free(esc);
    kw_scratch_free(sc);
    kw_multi_free(empty);
    kw_multi_free(km);
    for (size_t i = 0; i < 3; i++)
        kw_set_free(sets[i]);
}

/* test_kw_multi_differential - on random phrases and texts over a small
 * alphabet (letters, space, punctuation, a CJK character), every owner's
 * verdict equals the one-set matcher's */
static void test_kw_multi_differential(void **state)
{
    static const char *const atoms[] = { "a", "b", "ab", " ", "[", "]", "-", "\xe6\x97\xa5" };
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 200; round++) {
        struct kw_multi *km = kw_multi_new();
        struct kw_set *sets[8];
        struct kw_scratch *sc;
        struct owner_hits oh;
        char text[256];
        size_t tl = 0;

        for (size_t s = 0; s < 8; s++) {
            sets[s] = kw_set_new();
            for (int k = 0; k < 3; k++) {
                char ph[32];
                size_t pl = 0;
                int natoms = 1 + (int)(rand_r(&seed) % 4);

                for (int x = 0; x < natoms; x++) {
                    const char *at = atoms[rand_r(&seed) % 8];

                    memcpy(ph + pl, at, strlen(at));
                    pl += strlen(at);
                }
                (void)kw_add(sets[s], ph, pl);     /* all-space phrases are refused */
            }
            assert_int_equal(kw_multi_add(km, sets[s], s), 0);
        }
        while (tl < 200) {
            const char *at = atoms[rand_r(&seed) % 8];

            memcpy(text + tl, at, strlen(at));
            tl += strlen(at);
        }
        assert_int_equal(kw_multi_build(km), 0);
        assert_non_null(sc = kw_scratch_new(km));
        memset(&oh, 0, sizeof(oh));
        oh.n = 8;
        assert_int_equal(kw_multi_scan(km, sc, text, tl, on_hit, &oh), 0);
        for (size_t s = 0; s < 8; s++) {
            size_t at, ml;
            int one = kw_find(sets[s], text, tl, &at, &ml) >= 0;

            if (one != oh.hit[s])
                fail_msg("round %d owner %zu: multi %d, single %d", round, s, oh.hit[s], one);
        }
        kw_scratch_free(sc);
        kw_multi_free(km);
        for (size_t s = 0; s < 8; s++)
            kw_set_free(sets[s]);
    }
}

/* test_kw_add_errors - phrases that normalise to nothing, or are too long */
static void test_kw_add_errors(void **state)
{
    static const char *const empty[] = { "", "   ", "\xe2\x80\x8b", "\xc2\xad\xef\xbb\xbf", "\t" };
    struct kw_set *ks = kw_set_new();
    char big[KW_MAX_PHRASE + 2];

    (void)state;
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        errno = 0;
        assert_int_equal(kw_add(ks, empty[i], strlen(empty[i])), -1);
        assert_int_equal(errno, EINVAL);
    }
    memset(big, 'a', sizeof(big));
    assert_int_equal(kw_add(ks, big, KW_MAX_PHRASE + 1), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(kw_add(ks, big, KW_MAX_PHRASE), 0);
    assert_int_equal(kw_count(ks), 1);
    kw_set_free(ks);
}

/* test_classes - the character classes behind the boundaries */
static void test_classes(void **state)
{
    static const struct { int32_t cp; int word, unspaced, space; } cases[] = {
        { 'a', 1, 0, 0 }, { 'Z', 1, 0, 0 }, { '5', 1, 0, 0 }, { '_', 0, 0, 0 },
        { '[', 0, 0, 0 }, { ' ', 0, 0, 1 }, { '\n', 0, 0, 1 }, { 0xA0, 0, 0, 1 },
        { 0x3000, 0, 0, 1 }, { 0x2029, 0, 0, 1 }, { 0xE4, 1, 0, 0 },
        { 0x0301, 1, 0, 0 },          /* combining acute: a mark */
        { 0x0669, 1, 0, 0 },          /* Arabic-Indic digit nine */
        { 0x6A5F, 1, 1, 0 },          /* 機 */
        { 0x3042, 1, 1, 0 },          /* あ */
        { 0x30AB, 1, 1, 0 },          /* カ */
        { 0x0E25, 1, 1, 0 },          /* ล */
        { 0xAC00, 1, 0, 0 },          /* 가: Hangul is written with spaces */
        { 0x3002, 0, 0, 0 },          /* 。 */
        { -1, 0, 0, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(text_is_word(cases[i].cp), cases[i].word);
        assert_int_equal(text_is_unspaced(cases[i].cp), cases[i].unspaced);
        if (cases[i].cp >= 0)
            assert_int_equal(text_is_space(cases[i].cp), cases[i].space);
    }
    assert_int_equal(text_cp_at("a\xc3\xa4", 3, 1), 0xE4);
    assert_int_equal(text_cp_before("a\xc3\xa4", 3), 0xE4);
    assert_int_equal(text_cp_before("a\xc3\xa4", 1), 'a');
    assert_int_equal(text_cp_before("a", 0), -1);
    assert_int_equal(text_cp_at("a", 1, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_norm),
        cmocka_unit_test(test_text_norm_cap),
        cmocka_unit_test(test_kw_match),
        cmocka_unit_test(test_kw_set),
        cmocka_unit_test(test_kw_add_errors),
        cmocka_unit_test(test_kw_multi_cases),
        cmocka_unit_test(test_kw_multi_shared),
        cmocka_unit_test(test_kw_multi_differential),
        cmocka_unit_test(test_classes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
