/*
 * test_fastpath - differential tests of the word-at-a-time fast paths
 * against the byte-by-byte reference: text_norm() against
 * text_norm_reference(), and the sensitive-data scan with its fast paths
 * against sens_scan_reference(), on seeded random and adversarial inputs
 * (ASCII runs of every length around 8, runs of white space and controls,
 * upper case, UTF-8 of every length, combining marks, invalid bytes, card
 * numbers, IBANs, SSNs and keywords in every separator shape), pushed in
 * random pieces so that tokens and UTF-8 sequences are split between
 * chunks.  Each case must give the same bytes, the same counts at each
 * confidence and the same excerpts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/sensitive.h"
#include "rules/sensitive_int.h"
#include "rules/text_norm.h"
#include "tests/support/rand_text.h"
#include "util/buf.h"

#define CASES 3000
#define MAX_TEXT 2048

/* Pieces text is built from: plain words and spaces dominate, as in mail. */
static const char *const pieces[] = {
    "the", "of", "and", "meeting", "a", "i", "credit", "card", "credit card", "card number",
    "iban", "ssn", "social security", "routing", "steuer-id", "bank", "konto", "visa", "cvv",
    "Credit Card", "IBAN", "SSN", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz",
    "x", "xy", "xyz", "wxyz", "vwxyz", "uvwxyz", "tuvwxyz", "stuvwxyz", "rstuvwxyz",
    "qrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefg",
    " ", " ", " ", " ", "  ", "\t", "\r\n", "\n", "\v\f", "\x01", "\x1f", "\x7f", "-", "--",
    ".", ",", "#", ":", "(", ")", "@", "[", "`", "{", "~", "/",
    "0", "7", "12", "123", "1234", "12345", "123456", "1234567", "4539148803436467",
    "4539 1488 0343 6467", "4539-1488-0343-6467", "5529 1234 5678 9016", "3412 345678 90127",
    "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB29 NWBK 6016 1331 9268 19",
    "FR1420041010050500013M02606", "536-22-1234", "536 22 1234", "536221234", "219-09-9999",
    "12 345 678 901", "011000015", "4111 1111 1111 1111 2024",
    "\xc3\xa9", "\xc3\x89", "e\xcc\x81", "\xcc\x81", "\xef\xac\x81", "\xc2\xa0", "\xe2\x80\x8b",
    "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xc2\xad", "\xef\xbb\xbf",
    "\xff", "\x80", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf",
    "\xef\xbc\xa1\xef\xbc\xa2", "\xe2\x91\xa0", "\xc3\x9f", "\xc4\xb0",
};

/* gen_text - random text of at most max bytes from pieces[] */
static size_t gen_text(uint64_t *st, char *out, size_t max)
{
    return test_gen_text(st, pieces, sizeof(pieces) / sizeof(pieces[0]), out, max);
}

/* check_norm - text_norm and the reference agree on in[0..len) */
static void check_norm(const char *in, size_t len, unsigned long seed)
{
    struct buf a = BUF_INIT(1u << 20), b = BUF_INIT(1u << 20);

    assert_int_equal(text_norm(in, len, &a), 0);
    assert_int_equal(text_norm_reference(in, len, &b), 0);
    if (a.len != b.len || memcmp(buf_str(&a), buf_str(&b), a.len) != 0)
        fail_msg("text_norm differs from the reference (seed %lu, %zu bytes in)", seed, len);
    buf_free(&a);
    buf_free(&b);
}

/* test_norm_random - random mixes of ASCII, white space, UTF-8, invalid bytes */
static void test_norm_random(void **state)
{
    static char text[MAX_TEXT];

    (void)state;
    for (unsigned long c = 0; c < CASES; c++) {
        uint64_t st = 0x9E3779B97F4A7C15ull ^ (c * 0x100000001B3ull + 1);
        size_t len = gen_text(&st, text, sizeof(text));

        check_norm(text, len, c);
        /* every suffix start shifts the 8-byte blocks */
        for (size_t off = 1; off < 9 && off < len; off++)
            check_norm(text + off, len - off, c);
    }
}

/* test_norm_edges - each byte value at each place of a block and just after */
static void test_norm_edges(void **state)
{
    char text[24];

    (void)state;
    for (int v = 0; v < 256; v++)
        for (size_t at = 0; at < sizeof(text); at++) {
            memset(text, 'a', sizeof(text));
            memcpy(text, "Ab Cd  Ef\tGh", 12);
            text[at] = (char)v;
            for (size_t len = at + 1; len <= sizeof(text); len++)
                check_norm(text, len, (unsigned long)v);
        }
}

/* the entries of the set the scan tests use */
static struct sens_set *all_set(void)
{
    static const char *const near_kw[] = { "card", "iban", "credit card" };
    static const char *const none_kw[] = { "unused" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;

    assert_non_null(set);
    for (size_t i = 0; sens_builtin_name(i) != NULL; i++)
        assert_true(sens_set_add(set, sens_builtin_name(i), NULL, 0, -1, &err) >= 0);
    assert_true(sens_set_add(set, "credit_card", near_kw, 3, 5, &err) >= 0);
    assert_true(sens_set_add(set, "iban", none_kw, 0, 10, &err) >= 0);
    assert_true(sens_set_add(set, "us_ssn", near_kw, 3, 0, &err) >= 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    return set;
}

/* push_random - text in random pieces (1 to 40 bytes, sometimes all) */
static void push_random(struct sens_scan *sc, const char *text, size_t len, uint64_t *st)
{
    size_t off = 0;

    while (off < len) {
        size_t take = test_rnd(st) % 8 == 0 ? len - off : 1 + test_rnd(st) % 40;

        if (take > len - off)
            take = len - off;
        sens_scan_push(sc, text + off, take);
        off += take;
    }
}

/* scan_case - scan text as two parts (the first part bytes, the rest)
 * with the fast paths or the reference, pushed in pieces drawn from st */
static struct sens_scan *scan_case(const struct sens_set *set, const char *text, size_t len,
                                   size_t part, int reference, uint64_t st)
{
    struct sens_scan *sc = sens_scan_new(set);

    assert_non_null(sc);
    sens_scan_reference(sc, reference);
    push_random(sc, text, part, &st);
    sens_scan_part_end(sc);
    push_random(sc, text + part, len - part, &st);
    sens_scan_part_end(sc);
    return sc;
}

/* compare - fast and reference scans of the same text (two parts, the
 * first of part bytes) agree; the matches of confidence conf or more */
static size_t compare(const struct sens_set *set, const char *text, size_t len, size_t part,
                      uint64_t st, unsigned long c, enum sens_conf conf_min)
{
    size_t hits = 0;
    struct sens_scan *a = scan_case(set, text, len, part, 0, st ^ 1);
    struct sens_scan *b = scan_case(set, text, len, part, 1, st ^ 2);

    for (size_t e = 0; e < sens_set_entries(set); e++) {
        for (int conf = SENS_LOW; conf <= SENS_HIGH; conf++)
            if (sens_scan_count(a, e, (enum sens_conf)conf)
                != sens_scan_count(b, e, (enum sens_conf)conf))
                fail_msg("case %lu entry %zu conf %d: %zu fast, %zu reference", c, e, conf,
                         sens_scan_count(a, e, (enum sens_conf)conf),
                         sens_scan_count(b, e, (enum sens_conf)conf));
        assert_int_equal(sens_scan_excerpts(a, e), sens_scan_excerpts(b, e));
        for (size_t i = 0; i < sens_scan_excerpts(a, e); i++) {
            enum sens_conf ca, cb;

            assert_string_equal(sens_scan_excerpt(a, e, i, &ca), sens_scan_excerpt(b, e, i, &cb));
            assert_int_equal(ca, cb);
        }
        hits += sens_scan_count_min(a, e, conf_min);
    }
    sens_scan_free(a);
    sens_scan_free(b);
    return hits;
}

/* test_sens_random - fast and reference scans agree on counts and excerpts */
static void test_sens_random(void **state)
{
    static char text[MAX_TEXT];
    struct sens_set *set = all_set();
    size_t hits = 0;

    (void)state;
    for (unsigned long c = 0; c < CASES; c++) {
        uint64_t st = 0xD1B54A32D192ED03ull ^ (c * 0x9E3779B97F4A7C15ull + 7);
        size_t len = gen_text(&st, text, sizeof(text));
        size_t part = len / 2 + (test_rnd(&st) % (len + 1)) / 2;

        hits += compare(set, text, len, part, st, c, SENS_LOW);
    }
    assert_true(hits > 1000);     /* the inputs do hold matches */
    sens_set_free(set);
}

/* Long digit-free stretches (the scan's lazy mode and its look-back), with
 * now and then a candidate, keywords near and far, and runs that leave
 * the look-back no safe front (punctuation, continuation bytes). */
static const char *const calm[] = {
    "the ", "of ", "and ", "meeting ", "a ", "project update ", "thanks, ", "please. ",
    "credit card ", "card number: ", "iban ", "ssn ", "social security ", "routing ", "visa ",
    "bank details ", "steuer-id ", "\xc3\xa9t\xc3\xa9 ", "\xe4\xb8\xad\xe6\x96\x87 ",
    "Cr\xc3\xa9" "dit ", "x-y-z ", "de ", "gb ", "fr ",
};
static const char *const rare[] = {
    "4539 1488 0343 6467", "4539148803436467", "DE89 3704 0044 0532 0130 00",
    "GB29NWBK60161331926819", "536-22-1234", "536 22 1234", "12 345 678 901", "011000015",
    "de89", "7", "12-34", "5529-1234-5678-9016 ", "credit card 4539 1488 0343 6467",
};

/* gen_calm - up to max bytes of calm text with rare candidates and, in one
 * case of 8, a run with no safe front */
static size_t gen_calm(uint64_t *st, char *out, size_t max)
{
    size_t n = 0, want = test_rnd(st) % max;

    while (n + 600 < want) {
        uint32_t r = test_rnd(st) % 1000;
        const char *p;

        if (r < 15) {
            p = rare[test_rnd(st) % (sizeof(rare) / sizeof(rare[0]))];
        } else if (r < 17) {
            size_t run = 100 + test_rnd(st) % 400;
            char fill = r == 15 ? '=' : (char)0x80;

            memset(out + n, fill, run);
            n += run;
            continue;
        } else {
            p = calm[test_rnd(st) % (sizeof(calm) / sizeof(calm[0]))];
        }
        memcpy(out + n, p, strlen(p));
        n += strlen(p);
    }
    return n;
}

/* small_set - short proximities, so the look-back is small and is trimmed */
static struct sens_set *small_set(void)
{
    static const char *const kw[] = { "card", "iban", "credit card", "bank details", "ssn" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;

    assert_non_null(set);
    assert_true(sens_set_add(set, "credit_card", kw, 5, 2, &err) >= 0);
    assert_true(sens_set_add(set, "iban", kw, 5, 0, &err) >= 0);
    assert_true(sens_set_add(set, "us_ssn", kw, 5, 12, &err) >= 0);
    assert_true(sens_set_add(set, "aba_routing", NULL, 0, 40, &err) >= 0);
    assert_true(sens_set_add(set, "de_tax_id", NULL, 0, 30, &err) >= 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    return set;
}


/* test_sens_lazy - long calm texts: the lazy scan and its look-back */
static void test_sens_lazy(void **state)
{
    static char text[64 * 1024];
    struct sens_set *sets[2] = { small_set(), all_set() };
    size_t high = 0;

    (void)state;
    for (unsigned long c = 0; c < 600; c++) {
        uint64_t st = 0xA0761D6478BD642Full ^ (c * 0xE7037ED1A0B428DBull + 3);
        size_t len = gen_calm(&st, text, sizeof(text));

        high += compare(sets[c % 2], text, len, len / 2 + (test_rnd(&st) % (len + 1)) / 2, st, c,
                        SENS_HIGH);
    }
    assert_true(high > 100);      /* keywords near candidates were seen */
    sens_set_free(sets[0]);
    sens_set_free(sets[1]);
}

/* test_sens_lazy_edges - a keyword inside and outside each proximity
 * before a candidate, after calm text of every length (so the look-back
 * is trimmed at every place relative to them), in one part */
static void test_sens_lazy_edges(void **state)
{
    static const char *const cands[] = { "4539148803436467", "536-22-1234",
                                         "DE89370400440532013000", "011000015" };
    static const char *const kws[] = { "credit card", "ssn", "iban", "routing number" };
    static const size_t gaps[] = { 0, 1, 2, 5, 11, 12, 13, 21, 30, 39, 40, 41 };
    static char text[4096];
    struct sens_set *set = small_set();
    size_t high = 0;

    (void)state;
    for (size_t fill = 600; fill < 2000; fill++)
        for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
            size_t k = (fill + g) % 4, n = 0;

            while (n < fill) {
                static const char w[] = "lorem ipsum, dolor sit amet; ";
                size_t take = fill - n < sizeof(w) - 1 ? fill - n : sizeof(w) - 1;

                memcpy(text + n, w, take);
                n += take;
            }
            n += (size_t)sprintf(text + n, " %s", kws[k]);
            for (size_t i = 0; i < gaps[g]; i++)
                text[n++] = i % 2 ? 'q' : ' ';
            n += (size_t)sprintf(text + n, " %s tail", cands[k]);
            high += compare(set, text, n, n, fill * 131 + g, (unsigned long)(fill * 100 + g),
                            SENS_HIGH);
        }
    /* a keyword whose words a long run of punctuation joins ("bank ====
     * details" is "bank details"): the look-back must keep its first word */
    for (size_t fill = 600; fill < 1400; fill += 7)
        for (size_t run = 50; run < 900; run += 53) {
            size_t n = 0;

            while (n < fill) {
                static const char w[] = "lorem ipsum dolor sit amet ";
                size_t take = fill - n < sizeof(w) - 1 ? fill - n : sizeof(w) - 1;

                memcpy(text + n, w, take);
                n += take;
            }
            n += (size_t)sprintf(text + n, " bank ");
            memset(text + n, '=', run);
            n += run;
            n += (size_t)sprintf(text + n, " details 536-22-1234 tail");
            high += compare(set, text, n, n, fill * 7 + run, (unsigned long)(fill * 1000 + run),
                            SENS_HIGH);
        }
    assert_true(high > 1000);
    sens_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_random),
        cmocka_unit_test(test_norm_edges),
        cmocka_unit_test(test_sens_random),
        cmocka_unit_test(test_sens_lazy),
        cmocka_unit_test(test_sens_lazy_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
