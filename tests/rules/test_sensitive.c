/*
 * test_sensitive - the sensitive-data detectors: validators with valid and
 * invalid samples per type, separators and boundaries, keyword proximity
 * before and after (and just outside), streaming splits at every position,
 * part ends, redaction, custom types (bad pattern offset, luhn validator),
 * set errors and caps (100,000 candidates stay bounded).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rules/sensitive.h"
#include "util/buf.h"

static const char *const no_kw[] = { NULL };

/* one_set - a compiled set with one entry (kw NULL: defaults) */
static struct sens_set *one_set(const char *type, const char *const *kw, size_t nkw, long prox)
{
    struct sens_set *set = sens_set_new();
    struct sens_error err;

    assert_non_null(set);
    if (sens_set_add(set, type, kw, nkw, prox, &err) != 0)
        fail_msg("add %s: %s", type, err.msg);
    assert_int_equal(sens_set_compile(set, &err), 0);
    return set;
}

/* scan_split - scans text in two pushes split at `split` (SIZE_MAX: one
 * byte per push), one part; counts of entry 0 */
static void scan_split(const struct sens_set *set, const char *text, size_t len, size_t split,
                       size_t *low, size_t *high)
{
    struct sens_scan *sc = sens_scan_new(set);

    assert_non_null(sc);
    if (split == SIZE_MAX) {
        for (size_t i = 0; i < len; i++)
            sens_scan_push(sc, text + i, 1);
    } else {
        sens_scan_push(sc, text, split);
        sens_scan_push(sc, text + split, len - split);
    }
    sens_scan_part_end(sc);
    *low = sens_scan_count(sc, 0, SENS_LOW);
    *high = sens_scan_count(sc, 0, SENS_HIGH);
    for (size_t i = 0; i < sens_scan_excerpts(sc, 0); i++) {
        const char *x = sens_scan_excerpt(sc, 0, i, NULL);
        size_t digits = 0;
        for (const char *p = x; *p; p++)
            digits += *p >= '0' && *p <= '9';
        if (digits > 4)
            fail_msg("excerpt '%s' shows %zu digits", x, digits);
    }
    sens_scan_free(sc);
}

struct val_case {
    const char *validator;
    const char *value;
    int want;
};

static const struct val_case val_cases[] = {
    { "luhn", "79927398713", 1 },
    { "luhn", "79927398710", 0 },
    { "luhn", "7992-7398-713", 1 },                   /* separators ignored */
    { "credit_card", "4539148803436467", 1 },         /* Visa 16 */
    { "credit_card", "4539148803436468", 0 },         /* fails Luhn */
    { "credit_card", "4532123456780", 1 },            /* Visa 13 */
    { "credit_card", "4532123456789012345", 1 },      /* Visa 19 */
    { "credit_card", "5529123456789016", 1 },         /* Mastercard 51-55 */
    { "credit_card", "2221123456789014", 1 },         /* Mastercard 2221-2720 */
    { "credit_card", "341234567890127", 1 },          /* Amex 15 */
    { "credit_card", "6011987654321019", 1 },         /* Discover */
    { "credit_card", "3566123456789015", 1 },         /* JCB */
    { "credit_card", "30012345678907", 1 },           /* Diners 14 */
    { "credit_card", "6200123456789010", 1 },         /* UnionPay */
    { "credit_card", "6761123456789011", 1 },         /* Maestro */
    { "credit_card", "1234567890123452", 0 },         /* Luhn ok, no brand */
    { "credit_card", "99123456789017", 0 },           /* no brand */
    { "credit_card", "4111111111111111", 0 },         /* test numbers */
    { "credit_card", "4242424242424242", 0 },
    { "credit_card", "5555555555554444", 0 },
    { "credit_card", "378282246310005", 0 },
    { "credit_card", "6011111111111117", 0 },
    { "credit_card", "0000000000000000", 0 },         /* all same digit */
    { "credit_card", "453914880343646", 0 },          /* too short for Visa 16 */
    { "credit_card", "45391488034364672", 0 },        /* 17 digits */
    { "iban", "DE89370400440532013000", 1 },
    { "iban", "de89370400440532013000", 1 },          /* case folded text */
    { "iban", "GB29NWBK60161331926819", 1 },
    { "iban", "FR1420041010050500013M02606", 1 },
    { "iban", "NL91ABNA0417164300", 1 },
    { "iban", "NO9386011117947", 1 },
    { "iban", "BE68539007547034", 1 },
    { "iban", "DE89 3704 0044 0532 0130 00", 1 },
    { "iban", "DE88370400440532013000", 0 },          /* check digits */
    { "iban", "DE8937040044053201300", 0 },           /* too short for DE */
    { "iban", "DE893704004405320130000", 0 },         /* too long for DE */
    { "iban", "XX89370400440532013000", 0 },          /* no such country */
    { "iban", "GB29NWBK60161331926818", 0 },
    { "mod97", "GB29NWBK60161331926819", 1 },
    { "us_ssn", "123-45-6788", 1 },
    { "us_ssn", "536-22-1234", 1 },
    { "us_ssn", "000-12-3456", 0 },                   /* area 000 */
    { "us_ssn", "666-12-3456", 0 },                   /* area 666 */
    { "us_ssn", "912-12-3456", 0 },                   /* area 900-999 */
    { "us_ssn", "123-00-4567", 0 },                   /* group 00 */
    { "us_ssn", "123-45-0000", 0 },                   /* serial 0000 */
    { "us_ssn", "078-05-1120", 0 },                   /* Woolworth wallet */
    { "us_ssn", "219-09-9999", 0 },
    { "us_ssn", "123-45-678", 0 },
    { "de_tax_id", "86095742719", 1 },
    { "de_tax_id", "47150873646", 0 },                /* two digits repeated */
    { "de_tax_id", "65957124838", 1 },
    { "de_tax_id", "86095742718", 0 },                /* check digit */
    { "de_tax_id", "12345678903", 0 },                /* no repeated digit */
    { "de_tax_id", "06095742719", 0 },                /* leading 0 */
    { "mod11_10", "86095742719", 1 },
    { "aba_routing", "011000015", 1 },
    { "aba_routing", "021000021", 1 },
    { "aba_routing", "122105155", 1 },
    { "aba_routing", "011000016", 0 },                /* checksum */
    { "aba_routing", "131000015", 0 },                /* prefix 13 */
    { "aba_routing", "000000000", 0 },
    { "none", "anything", 1 },
    { "bogus", "1", -1 },
};

/* test_validators - every validator with valid and invalid samples */
static void test_validators(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(val_cases) / sizeof(val_cases[0]); i++) {
        const struct val_case *c = &val_cases[i];
        int got = sens_validate(c->validator, c->value, strlen(c->value));
        if (got != c->want)
            fail_msg("case %zu: %s(%s) = %d, want %d", i, c->validator, c->value, got, c->want);
    }
    assert_int_equal(sens_validator_known("luhn"), 1);
    assert_int_equal(sens_validator_known("bogus"), 0);
}

struct det_case {
    const char *type;
    const char *text;
    size_t low;               /* matches found without keywords */
};

static const struct det_case det_cases[] = {
    { "credit_card", "card 4539148803436467 ok", 1 },
    { "credit_card", "4539 1488 0343 6467", 1 },
    { "credit_card", "4539-1488-0343-6467.", 1 },
    { "credit_card", "(4539148803436467)", 1 },
    { "credit_card", "3412 345678 90127", 1 },                 /* Amex 4-6-5 */
    { "credit_card", "4532 1234 5678 9012 345", 1 },           /* 19 digits */
    { "credit_card", "4539148803436468", 0 },                  /* fails Luhn */
    { "credit_card", "4539 1488 0343 6468", 0 },
    { "credit_card", "4111 1111 1111 1111", 0 },               /* test number */
    { "credit_card", "4242424242424242", 0 },
    { "credit_card", "4539 1488-0343 6467", 0 },               /* mixed separators */
    { "credit_card", "4539  1488  0343  6467", 0 },            /* double spaces */
    { "credit_card", "45391 48803 43646 7", 0 },               /* odd grouping */
    { "credit_card", "x4539148803436467", 0 },                 /* glued to letters */
    { "credit_card", "4539148803436467x", 0 },
    { "credit_card", "14539148803436467", 0 },                 /* longer digit run */
    { "credit_card", "45391488034364670", 0 },
    { "credit_card", "4539 1488 0343 6467 2024", 0 },          /* longer group run */
    { "credit_card", "paid 4539148803436467 2 times", 1 },     /* separate number after */
    { "credit_card", "ref 12 5529-1234-5678-9016", 1 },        /* separator changes */
    { "credit_card", "4539148803436467 5529-1234-5678-9016", 2 },
    { "credit_card", "4539 1488 0343 6467-12", 1 },
    { "credit_card", "a 4539148803436467, b 5529-1234-5678-9016; c 6011987654321019", 3 },
    { "iban", "IBAN DE89370400440532013000.", 1 },
    { "iban", "DE89 3704 0044 0532 0130 00 is mine", 1 },
    { "iban", "GB29 NWBK 6016 1331 9268 19", 1 },
    { "iban", "fr14 2004 1010 0505 0001 3m02 606", 1 },
    { "iban", "NL91ABNA0417164300 and NO9386011117947", 2 },
    { "iban", "DE88370400440532013000", 0 },                   /* checksum */
    { "iban", "DE89 3704 0044 0532 0130 0", 0 },               /* short */
    { "iban", "DE8937040044053201300012", 0 },                 /* too long */
    { "iban", "xDE89370400440532013000", 0 },
    { "iban", "DE89 370 4004 4053 2013 000", 0 },              /* bad groups */
    { "us_ssn", "SSN: 536-22-1234", 1 },
    { "us_ssn", "536-22-1234", 1 },
    { "us_ssn", "536 22 1234", 0 },                            /* needs a keyword */
    { "us_ssn", "536221234", 0 },                              /* needs a keyword */
    { "us_ssn", "666-22-1234", 0 },
    { "us_ssn", "536-00-1234", 0 },
    { "us_ssn", "078-05-1120", 0 },
    { "us_ssn", "536-22-12345", 0 },
    { "us_ssn", "1536-22-1234", 0 },
    { "us_ssn", "call 555-123-4567", 0 },                      /* phone shape */
    { "de_tax_id", "Steuer-ID 86095742719", 1 },
    { "de_tax_id", "86 095 742 719", 1 },
    { "de_tax_id", "86095742718", 0 },
    { "de_tax_id", "860957427190", 0 },
    { "aba_routing", "routing 011000015", 1 },
    { "aba_routing", "011000016", 0 },
    { "aba_routing", "0110000150", 0 },
};

/* test_detect - each type found or not, without keywords, in one push */
static void test_detect(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(det_cases) / sizeof(det_cases[0]); i++) {
        const struct det_case *c = &det_cases[i];
        struct sens_set *set = one_set(c->type, no_kw, 0, -1);
        size_t low, high, len = strlen(c->text);

        scan_split(set, c->text, len, len, &low, &high);
        if (low != c->low || high != 0)
            fail_msg("case %zu (%s '%s'): low %zu high %zu, want %zu", i, c->type, c->text,
                     low, high, c->low);
        sens_set_free(set);
    }
}

struct kw_case {
    const char *type;
    long prox;
    const char *text;
    size_t low, high;
};

/* The keyword "secret" (6 letters) for every case here. */
static const struct kw_case kw_cases[] = {
    /* before: gap of 10 characters allowed, 11 not */
    { "credit_card", 10, "secret 12345678 4539148803436467", 0, 1 },
    { "credit_card", 10, "secret 123456789 4539148803436467", 1, 0 },
    /* after */
    { "credit_card", 10, "4539148803436467 12345678 secret", 0, 1 },
    { "credit_card", 10, "4539148803436467 123456789 secret", 1, 0 },
    { "credit_card", 300, "SECRET: 4539 1488 0343 6467", 0, 1 },  /* case-insensitive */
    { "credit_card", 300, "secrets 4539148803436467", 1, 0 },      /* word boundary */
    { "credit_card", 300, "topsecret 4539148803436467", 1, 0 },
    { "credit_card", 300, "4539148803436467 secret 5529123456789016 x 6011987654321019", 0, 3 },
    { "us_ssn", 50, "secret 536 22 1234", 0, 1 },                  /* keyword makes it count */
    { "us_ssn", 50, "536221234 is the secret", 0, 1 },
    { "us_ssn", 5, "536221234 is the secret", 0, 0 },             /* too far: not at all */
    { "us_ssn", 50, "secret 536-22-1234 and 536-22-1235", 0, 2 },
    { "iban", 20, "DE89 3704 0044 0532 0130 00 secret", 0, 1 },
};

/* test_keywords - proximity before, after, just outside; word boundaries */
static void test_keywords(void **state)
{
    static const char *const kw[] = { "secret" };

    (void)state;
    for (size_t i = 0; i < sizeof(kw_cases) / sizeof(kw_cases[0]); i++) {
        const struct kw_case *c = &kw_cases[i];
        struct sens_set *set = one_set(c->type, kw, 1, c->prox);
        size_t low, high, len = strlen(c->text);

        scan_split(set, c->text, len, len, &low, &high);
        if (low != c->low || high != c->high)
            fail_msg("case %zu ('%s'): low %zu high %zu, want %zu %zu", i, c->text, low, high,
                     c->low, c->high);
        sens_set_free(set);
    }
}

/* test_default_keywords - the built-in keywords, multi-word and with '-' */
static void test_default_keywords(void **state)
{
    static const struct kw_case cases[] = {
        { "credit_card", -1, "Credit  Card: 4539148803436467", 0, 1 },
        { "iban", -1, "Bankverbindung DE89370400440532013000", 0, 1 },
        { "us_ssn", -1, "Social Security Number 536221234", 0, 1 },
        { "de_tax_id", -1, "Steuer ID: 86095742719", 0, 1 },
        { "aba_routing", -1, "wire to 011000015", 0, 1 },
        { "credit_card", -1, "nothing here 4539148803436467", 1, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sens_set *set = one_set(cases[i].type, NULL, 0, -1);
        size_t low, high, len = strlen(cases[i].text);

        scan_split(set, cases[i].text, len, len, &low, &high);
        if (low != cases[i].low || high != cases[i].high)
            fail_msg("case %zu: low %zu high %zu", i, low, high);
        sens_set_free(set);
    }
}

/* test_split_everywhere - the same counts for every split point and for
 * one byte per push */
static void test_split_everywhere(void **state)
{
    static const char *const kw[] = { "secret", "bank details" };
    static const struct kw_case cases[] = {
        { "credit_card", 10, "x secret 4539 1488 0343 6467, 4539148803436468 5529-1234-5678-9016"
          " 12345678 secret", 0, 2 },
        { "iban", 12, "bank details: GB29 NWBK 6016 1331 9268 19 or DE89370400440532013000", 1, 1 },
        { "us_ssn", 20, "536-22-1234 then secret 536 22 1235", 0, 2 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sens_set *set = one_set(cases[i].type, kw, 2, cases[i].prox);
        size_t len = strlen(cases[i].text), low, high;

        for (size_t s = 0; s <= len; s++) {
            scan_split(set, cases[i].text, len, s, &low, &high);
            if (low != cases[i].low || high != cases[i].high)
                fail_msg("case %zu split %zu: low %zu high %zu", i, s, low, high);
        }
        scan_split(set, cases[i].text, len, SIZE_MAX, &low, &high);
        assert_int_equal(low, cases[i].low);
        assert_int_equal(high, cases[i].high);
        sens_set_free(set);
    }
}

/* scan_result - counts and excerpts of every entry, joined into out */
static void scan_result(const struct sens_set *set, const char *text, size_t len,
                        const size_t *cuts, size_t ncuts, struct buf *out)
{
    struct sens_scan *sc = sens_scan_new(set);
    size_t from = 0;

    assert_non_null(sc);
    for (size_t i = 0; i <= ncuts; i++) {
        /* cppcheck-suppress [nullPointer, uninitvar] ; the last pass (i == ncuts) takes len, so cuts is read only when ncuts > 0 (the n cuts a caller passes are set) */
        size_t to = i < ncuts ? cuts[i] : len;
        sens_scan_push(sc, text + from, to - from);
        from = to;
    }
    sens_scan_part_end(sc);
    buf_reset(out);
    for (size_t e = 0; e < sens_set_entries(set); e++) {
        assert_int_equal(buf_printf(out, "%zu:%zu/%zu", e, sens_scan_count(sc, e, SENS_LOW),
                                    sens_scan_count(sc, e, SENS_HIGH)), 0);
        for (size_t i = 0; i < sens_scan_excerpts(sc, e); i++)
            assert_int_equal(buf_printf(out, " [%s]", sens_scan_excerpt(sc, e, i, NULL)), 0);
        assert_int_equal(buf_addc(out, '\n'), 0);
    }
    sens_scan_free(sc);
}

/* test_split_random - random texts from fragments give the same results in
 * one push, in random pieces and one byte at a time */
static void test_split_random(void **state)
{
    static const char *const frags[] = {
        "4539148803436467", "4539 1488 0343 6467", "5529-1234-5678-9016", "4539148803436468",
        "DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819", "536-22-1234", "536 22 1235",
        "86095742719", "86 095 742 719", "011000015", "secret", "credit card", "IBAN", "ssn",
        "MC-79927398713", "member", " ", " ", " ", "-", "\n", ".", "x", "12", "0343", "\xc3\xa4",
        "Steuer-ID", "routing", "\xe2\x82\xac", "DE89", "3704", "\xff",
    };
    static const char *const kw[] = { "secret", "member" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct buf text = BUF_INIT(1 << 16), one = BUF_INIT(1 << 16), other = BUF_INIT(1 << 16);
    uint32_t rnd = 12345;
    size_t total = 0;

    (void)state;
    for (size_t i = 0; sens_builtin_name(i); i++)
        assert_int_equal(sens_set_add(set, sens_builtin_name(i), NULL, 0, -1, &err), (long)i);
    assert_int_equal(sens_set_add(set, "credit_card", kw, 2, 15, &err), 5);
    assert_int_equal(sens_set_custom(set, "m", "MC-(\\d{11})", "luhn", kw, 2, 15, &err), 0);
    assert_int_equal(sens_set_add(set, "m", NULL, 0, -1, &err), 6);
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (int round = 0; round < 300; round++) {
        size_t cuts[4], nfr;
        buf_reset(&text);
        rnd = rnd * 1103515245u + 12345u;
        nfr = 5 + (rnd >> 16) % 40;
        for (size_t f = 0; f < nfr; f++) {
            rnd = rnd * 1103515245u + 12345u;
            assert_int_equal(buf_adds(&text, frags[(rnd >> 16) % (sizeof(frags) / sizeof(frags[0]))]), 0);
        }
        scan_result(set, text.data, text.len, NULL, 0, &one);
        for (size_t i = 0; i < 4; i++) {
            rnd = rnd * 1103515245u + 12345u;
            cuts[i] = (rnd >> 16) % (text.len + 1);
        }
        for (size_t i = 1; i < 4; i++)          /* sort the cut points */
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        scan_result(set, text.data, text.len, cuts, 4, &other);
        if (strcmp(buf_str(&one), buf_str(&other)) != 0)
            fail_msg("round %d '%s':\n%s\nvs\n%s", round, buf_str(&text), buf_str(&one),
                     buf_str(&other));
        {
            size_t bytes[1024], n = text.len - 1 < 1024 ? text.len - 1 : 1024;
            for (size_t i = 0; i < n; i++)
                bytes[i] = i + 1;
            scan_result(set, text.data, text.len, bytes, n, &other);
        }
        if (strcmp(buf_str(&one), buf_str(&other)) != 0)
            fail_msg("round %d bytes '%s':\n%s\nvs\n%s", round, buf_str(&text), buf_str(&one),
                     buf_str(&other));
        for (const char *p = buf_str(&one); (p = strchr(p, ':')); p++)
            total += strtoul(p + 1, NULL, 10);
    }
    assert_true(total > 300);                   /* the texts did hold matches */
    buf_free(&text);
    buf_free(&one);
    buf_free(&other);
    sens_set_free(set);
}

/* test_part_end - a keyword in one part does not raise a match in the next,
 * and a number is not joined across parts */
static void test_part_end(void **state)
{
    static const char *const kw[] = { "secret" };
    struct sens_set *set = one_set("credit_card", kw, 1, 300);
    struct sens_scan *sc = sens_scan_new(set);

    (void)state;
    assert_non_null(sc);
    sens_scan_push(sc, "secret", 6);
    sens_scan_part_end(sc);
    sens_scan_push(sc, "4539148803436467", 16);
    sens_scan_part_end(sc);
    sens_scan_push(sc, "4539 1488", 9);
    sens_scan_part_end(sc);
    sens_scan_push(sc, " 0343 6467 secret", 17);
    sens_scan_part_end(sc);
    assert_int_equal(sens_scan_count(sc, 0, SENS_LOW), 1);
    assert_int_equal(sens_scan_count(sc, 0, SENS_HIGH), 0);
    assert_int_equal(sens_scan_holds(sc, 0, 1, SENS_LOW), 1);
    assert_int_equal(sens_scan_holds(sc, 0, 1, SENS_HIGH), 0);
    assert_int_equal(sens_scan_holds(sc, 0, 2, SENS_LOW), 0);
    sens_scan_free(sc);
    sens_set_free(set);
}

struct red_case {
    const char *in;
    size_t outsize;
    const char *out;
};

static const struct red_case red_cases[] = {
    { "4539 1488 0343 6467", 48, "**** **** **** 6467" },
    { "4539-1488-0343-6467", 48, "****-****-****-6467" },
    { "4539148803436467", 48, "************6467" },
    { "DE89 3704 0044 0532 0130 00", 48, "**** **** **** **** **30 00" },
    { "GB29NWBK6016133192681X", 48, "******************681*" },  /* letters stay masked */
    { "536-22-1234", 48, "***-**-1234" },
    { "123456", 48, "***456" },                                  /* at most half */
    { "12", 48, "*2" },
    { "1", 48, "*" },
    { "ab\xc3\xa9" "12\n34", 48, "****2 34" },
    { "4539148803436467", 10, "******..." },
    { "", 48, "" },
};

/* test_redact - at most the last 4 digits, at most half of the characters */
static void test_redact(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(red_cases) / sizeof(red_cases[0]); i++) {
        char out[64];
        sens_redact(red_cases[i].in, strlen(red_cases[i].in), out, red_cases[i].outsize);
        if (strcmp(out, red_cases[i].out) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, out, red_cases[i].out);
    }
}

/* test_excerpts - the first three matches' excerpts and confidences */
static void test_excerpts(void **state)
{
    static const char *const kw[] = { "secret" };
    static const char text[] = "4539148803436467 x 5529-1234-5678-9016 secret 6011987654321019 "
                               "3566123456789015";
    struct sens_set *set = one_set("credit_card", kw, 1, 10);
    struct sens_scan *sc = sens_scan_new(set);
    enum sens_conf conf;

    (void)state;
    sens_scan_push(sc, text, sizeof(text) - 1);
    sens_scan_part_end(sc);
    assert_int_equal(sens_scan_count(sc, 0, SENS_LOW), 2);
    assert_int_equal(sens_scan_count(sc, 0, SENS_HIGH), 2);
    assert_int_equal(sens_scan_count_min(sc, 0, SENS_LOW), 4);
    assert_int_equal(sens_scan_excerpts(sc, 0), 3);
    /* in settle order: the first expires before the keyword raises the next two */
    assert_string_equal(sens_scan_excerpt(sc, 0, 0, &conf), "************6467");
    assert_int_equal(conf, SENS_LOW);
    assert_string_equal(sens_scan_excerpt(sc, 0, 1, &conf), "****-****-****-9016");
    assert_int_equal(conf, SENS_HIGH);
    assert_string_equal(sens_scan_excerpt(sc, 0, 2, &conf), "************1019");
    assert_int_equal(conf, SENS_HIGH);
    assert_null(sens_scan_excerpt(sc, 0, 3, &conf));
    sens_scan_free(sc);
    sens_set_free(set);
}

/* test_custom - a custom type with the luhn validator, keywords, splits */
static void test_custom(void **state)
{
    static const char *const kw[] = { "member" };
    static const char text[] = "member no. MC-79927398713, MC-79927398710, MC-49927398716 end";
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    size_t low, high, len = sizeof(text) - 1;

    (void)state;
    assert_int_equal(sens_set_custom(set, "member_id", "\\bMC-(\\d{11})\\b", "luhn", kw, 1, 20,
                                     &err), 0);
    assert_int_equal(sens_set_add(set, "member_id", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    assert_string_equal(sens_set_entry_type(set, 0), "member_id");
    for (size_t s = 0; s <= len; s++) {
        scan_split(set, text, len, s, &low, &high);
        if (low != 1 || high != 1)
            fail_msg("split %zu: low %zu high %zu", s, low, high);
    }
    {
        struct sens_scan *sc = sens_scan_new(set);
        sens_scan_push(sc, text, len);
        sens_scan_part_end(sc);
        assert_string_equal(sens_scan_excerpt(sc, 0, 0, NULL), "**-*******8713");
        sens_scan_free(sc);
    }
    sens_set_free(set);
}

/* test_custom_utf8 - a UTF-8 pattern over text with multi-byte characters,
 * split at every byte and across window slices */
static void test_custom_utf8(void **state)
{
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct buf b = BUF_INIT(1 << 20);
    size_t low, high;

    (void)state;
    assert_int_equal(sens_set_custom(set, "akte", "Akte\\s*Nr\\.?\\s*\\d{5}\\b", NULL, NULL, 0,
                                     -1, &err), 0);
    assert_int_equal(sens_set_add(set, "akte", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (int i = 0; i < 400; i++)
        assert_int_equal(buf_printf(&b, "\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80 Akte Nr. %05d \xc3\xbc", i), 0);
    scan_split(set, b.data, b.len, b.len / 2 + 1, &low, &high);
    assert_int_equal(low, 400);
    scan_split(set, b.data, 200, SIZE_MAX, &low, &high);
    assert_int_equal(low, 7);
    buf_free(&b);
    sens_set_free(set);
}

/* test_custom_keywords - a custom type's keywords after its match, at and
 * just outside the proximity, with a long text in between slices */
static void test_custom_keywords(void **state)
{
    static const char *const kw[] = { "member" };
    static const struct { const char *text; size_t low, high; } cases[] = {
        { "MC-79927398713 123456789 member", 0, 1 },     /* gap 11 */
        { "MC-79927398713 1234567890 member", 1, 0 },    /* gap 12 */
        { "member 1234567890 MC-79927398713", 1, 0 },
        { "member 123456789 MC-79927398713", 0, 1 },
    };
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct buf b = BUF_INIT(1 << 20);
    size_t low, high;

    (void)state;
    assert_int_equal(sens_set_custom(set, "m", "MC-(\\d{11})", "luhn", kw, 1, 11, &err), 0);
    assert_int_equal(sens_set_add(set, "m", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int pad = 0; pad < 3000; pad += 997) {
            buf_reset(&b);
            for (int j = 0; j < pad; j++)
                assert_int_equal(buf_addc(&b, 'x' + j % 2), 0);
            assert_int_equal(buf_adds(&b, " "), 0);
            assert_int_equal(buf_adds(&b, cases[i].text), 0);
            scan_split(set, b.data, b.len, b.len / 3, &low, &high);
            if (low != cases[i].low || high != cases[i].high)
                fail_msg("case %zu pad %d: low %zu high %zu", i, pad, low, high);
        }
    }
    buf_free(&b);
    sens_set_free(set);
}

/* test_custom_long_text - custom matches across many slices of the window */
static void test_custom_long_text(void **state)
{
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct sens_scan *sc;
    struct buf b = BUF_INIT(1 << 20);

    (void)state;
    assert_int_equal(sens_set_custom(set, "ref", "REF-[0-9]{6}", NULL, NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_add(set, "ref", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(buf_printf(&b, "w%d REF-%06d ", i, i), 0);
    sc = sens_scan_new(set);
    for (size_t off = 0; off < b.len; off += 777)
        sens_scan_push(sc, b.data + off, b.len - off < 777 ? b.len - off : 777);
    sens_scan_part_end(sc);
    assert_int_equal(sens_scan_count(sc, 0, SENS_LOW), 20000);
    assert_int_equal(sens_scan_truncated(sc), 0);
    sens_scan_free(sc);
    buf_free(&b);
    sens_set_free(set);
}

struct err_case {
    const char *pattern;
    const char *validator;
    int err;
    long offset;
};

static const struct err_case err_cases[] = {
    { "ab(c", NULL, EINVAL, 4 },
    { "a[b", NULL, EINVAL, 3 },
    { "x{2,1}", NULL, EINVAL, 5 },
    { "ab*+?", NULL, EINVAL, 4 },
    { "ab)", NULL, EINVAL, 2 },
    { "\\d+", "nope", EINVAL, -1 },
    { "", NULL, EINVAL, -1 },
    { "\\d*", NULL, EINVAL, 0 },                    /* can match empty */
};

struct thread_arg {
    const struct sens_set *set;
    const struct buf *text;
    size_t low, high;
};

/* scan_thread - one scan of the shared set in a thread */
static void *scan_thread(void *p)
{
    struct thread_arg *a = p;
    struct sens_scan *sc = sens_scan_new(a->set);

    if (!sc)
        return NULL;
    for (size_t off = 0; off < a->text->len; off += 1000)
        sens_scan_push(sc, a->text->data + off, a->text->len - off < 1000 ? a->text->len - off : 1000);
    sens_scan_part_end(sc);
    a->low = sens_scan_count(sc, 0, SENS_LOW) + sens_scan_count(sc, 1, SENS_LOW);
    a->high = sens_scan_count(sc, 0, SENS_HIGH) + sens_scan_count(sc, 1, SENS_HIGH);
    sens_scan_free(sc);
    return NULL;
}

/* test_threads - one compiled set shared by scans in four threads */
static void test_threads(void **state)
{
    static const char *const kw[] = { "member" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct buf text = BUF_INIT(1 << 20);
    struct thread_arg args[4];
    pthread_t th[4];
    int joined = 0;

    (void)state;
    assert_int_equal(sens_set_add(set, "credit_card", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_custom(set, "m", "MC-(\\d{11})", "luhn", kw, 1, 10, &err), 0);
    assert_int_equal(sens_set_add(set, "m", NULL, 0, -1, &err), 1);
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(buf_adds(&text, "visa 4539148803436467 and member MC-79927398713 ... "), 0);
    for (int i = 0; i < 4; i++) {
        args[i].set = set;
        args[i].text = &text;
        args[i].low = args[i].high = 0;
        if (pthread_create(&th[i], NULL, scan_thread, &args[i]) != 0) {
            for (int j = 0; j < i; j++)
                pthread_join(th[j], NULL);
            fail_msg("pthread_create");
        }
    }
    for (int i = 0; i < 4; i++)                 /* join all before any assert */
        joined += pthread_join(th[i], NULL) == 0;
    assert_int_equal(joined, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(args[i].low, 0);
        assert_int_equal(args[i].high, 4000);
    }
    buf_free(&text);
    sens_set_free(set);
}

/* test_set_errors - pattern offsets, unknown names, duplicates, caps */
static void test_set_errors(void **state)
{
    static const char *const bad_kw[] = { "--" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        errno = 0;
        assert_int_equal(sens_set_custom(set, "t", err_cases[i].pattern, err_cases[i].validator,
                                         NULL, 0, -1, &err), -1);
        if (errno != err_cases[i].err || err.offset != err_cases[i].offset)
            fail_msg("case %zu: errno %d offset %ld (%s)", i, errno, err.offset, err.msg);
    }
    assert_int_equal(sens_set_custom(set, "t", "\\d+", "luhn", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_custom(set, "t", "\\d+", NULL, NULL, 0, -1, &err), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(sens_set_custom(set, "iban", "\\d+", NULL, NULL, 0, -1, &err), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(sens_set_add(set, "passport", NULL, 0, -1, &err), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(sens_set_add(set, "iban", NULL, 0, SENS_MAX_PROXIMITY + 1, &err), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(sens_set_add(set, "iban", bad_kw, 1, -1, &err), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(sens_set_add(set, "iban", NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_add(set, "t", NULL, 0, -1, &err), 1);
    assert_null(sens_scan_new(set));              /* not compiled */
    assert_int_equal(sens_set_compile(set, &err), 0);
    assert_int_equal(sens_set_add(set, "iban", NULL, 0, -1, &err), -1);
    assert_int_equal(sens_set_entries(set), 2);
    assert_null(sens_set_entry_type(set, 2));
    sens_set_free(set);
    assert_string_equal(sens_builtin_name(0), "credit_card");
    assert_null(sens_builtin_name(5));
}

/* test_caps - 100,000 candidates near keywords: all counted, excerpts and
 * pending bounded; a 1 MB text scans quickly */
static void test_caps(void **state)
{
    static const char *const kw[] = { "secret" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct sens_scan *sc;
    struct buf b = BUF_INIT(4u << 20);
    struct timespec t0, t1;
    double ms;

    (void)state;
    assert_int_equal(sens_set_add(set, "credit_card", kw, 1, 4096, &err), 0);
    assert_int_equal(sens_set_add(set, "credit_card", no_kw, 0, -1, &err), 1);
    assert_int_equal(sens_set_add(set, "us_ssn", kw, 1, 10, &err), 2);
    {
        /* items that ask the same share an entry, however many there are */
        static const char *const upper[] = { "SECRET" }, *const two[] = { "secret", "x" };

        for (int i = 0; i < 200; i++) {
            assert_int_equal(sens_set_add(set, "credit_card", kw, 1, 4096, &err), 0);
            assert_int_equal(sens_set_add(set, "credit_card", upper, 1, 4096, &err), 0);
            assert_int_equal(sens_set_add(set, "credit_card", no_kw, 0, -1, &err), 1);
        }
        assert_int_equal(sens_set_add(set, "credit_card", kw, 1, 4095, &err), 3);
        assert_int_equal(sens_set_add(set, "credit_card", two, 2, 4096, &err), 4);
        assert_int_equal(sens_set_add(set, "iban", kw, 1, 4096, &err), 5);
        assert_int_equal(sens_set_add(set, "credit_card", NULL, 0, -1, &err), 6);
        assert_int_equal(sens_set_add(set, "credit_card", NULL, 0, 300, &err), 6);
    }
    assert_int_equal(sens_set_compile(set, &err), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(buf_adds(&b, "4539148803436467 "), 0);
    assert_int_equal(buf_adds(&b, "secret"), 0);
    sc = sens_scan_new(set);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sens_scan_push(sc, b.data, b.len);
    sens_scan_part_end(sc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("100,000 cards (%zu bytes): %.1f ms\n", b.len, ms);
    /* the pending queue holds SENS_MAX_PENDING: the rest settle LOW */
    assert_int_equal(sens_scan_count_min(sc, 0, SENS_LOW), 100000);
    assert_int_equal(sens_scan_count(sc, 0, SENS_HIGH), SENS_MAX_PENDING);
    assert_int_equal(sens_scan_count(sc, 1, SENS_LOW), 100000);
    assert_int_equal(sens_scan_excerpts(sc, 0), SENS_MAX_EXCERPTS);
    assert_int_equal(sens_scan_count_min(sc, 2, SENS_LOW), 0);
    sens_scan_free(sc);
    buf_free(&b);
    sens_set_free(set);
}

/* test_speed - 1 MB of prose with numbers, all built-in types with their
 * default keywords and one custom type */
static void test_speed(void **state)
{
    static const char line[] =
        "Dear customer, your order 2024-11-25 #123456 of EUR 1.234,56 was shipped to "
        "Musterstrasse 12, 10115 Berlin. Call +49 30 1234567 or reply to this mail. "
        "Kind regards, the bank account team (ref 4539 1488 0343 6468 DE12 3456)\n";
    struct sens_set *set = sens_set_new();
    struct sens_error err;
    struct sens_scan *sc;
    struct buf b = BUF_INIT(2u << 20);
    struct timespec t0, t1;
    double ms;

    (void)state;
    for (size_t i = 0; sens_builtin_name(i); i++)
        assert_int_equal(sens_set_add(set, sens_builtin_name(i), NULL, 0, -1, &err), (long)i);
    assert_int_equal(sens_set_custom(set, "ref", "\\bREF-[0-9]{6}\\b", NULL, NULL, 0, -1, &err), 0);
    assert_int_equal(sens_set_add(set, "ref", NULL, 0, -1, &err), 5);
    assert_int_equal(sens_set_compile(set, &err), 0);
    while (b.len < (1u << 20))
        assert_int_equal(buf_adds(&b, line), 0);
    sc = sens_scan_new(set);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t off = 0; off < b.len; off += 65536)
        sens_scan_push(sc, b.data + off, b.len - off < 65536 ? b.len - off : 65536);
    sens_scan_part_end(sc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("1 MB of prose, 6 entries: %.1f ms\n", ms);
    for (size_t e = 0; e < 6; e++)
        assert_int_equal(sens_scan_count_min(sc, e, SENS_LOW), 0);
    sens_scan_free(sc);
    buf_free(&b);
    sens_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_default_keywords),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_split_random),
        cmocka_unit_test(test_part_end),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_excerpts),
        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_custom_keywords),
        cmocka_unit_test(test_custom_long_text),
        cmocka_unit_test(test_custom_utf8),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
