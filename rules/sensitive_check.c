/*
 * sensitive_check - the validators of the sensitive-data engine and their
 * tables (card brands and test numbers, IBAN lengths, invalid SSNs), and
 * the redaction of excerpts (see sensitive.h).
 *
 * Validators take the letters and digits of a candidate (at most
 * SENS_MAX_VALUE of them), keep no copy and return 1 (valid) or 0.  They
 * are pure functions of their input and safe from any thread.
 */
#include <string.h>

#include "rules/sensitive.h"
#include "rules/sensitive_int.h"

/* is_digits - 1 when v[0..n) are all ASCII digits (and n > 0) */
static int is_digits(const char *v, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

/* all_same - 1 when every character of v[0..n) is the same */
static int all_same(const char *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

/* prefix_num - the number formed by the first k digits of v */
static unsigned prefix_num(const char *v, size_t k)
{
    unsigned x = 0;

    for (size_t i = 0; i < k; i++)
        x = x * 10 + (unsigned)(v[i] - '0');
    return x;
}

/* sens_wipe - zero memory in a way the optimiser keeps */
void sens_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

/* sens_compact - the ASCII letters and digits of in, NUL-terminated */
size_t sens_compact(const char *in, size_t len, char *out, size_t outsize)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            if (n + 1 >= outsize) {
                if (outsize)
                    out[0] = '\0';
                return outsize;
            }
            out[n++] = (char)c;
        }
    }
    if (outsize)
        out[n] = '\0';
    return n;
}

/* sens_check_none - every value passes */
int sens_check_none(const char *v, size_t n)
{
    (void)v;
    (void)n;
    return 1;
}

/* sens_check_luhn - digits whose Luhn (mod 10) sum is 0 */
int sens_check_luhn(const char *v, size_t n)
{
    unsigned sum = 0;

    if (n < 2 || !is_digits(v, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(v[n - 1 - i] - '0');
        if (i & 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* Card brands: numbers whose first `digits` digits lie in [lo, hi], with a
 * length in [minlen, maxlen]. */
struct card_brand {
    const char *name;
    unsigned digits, lo, hi;
    size_t minlen, maxlen;
};

static const struct card_brand card_brands[] = {
    { "visa", 1, 4, 4, 13, 19 },
    { "mastercard", 2, 51, 55, 16, 16 },
    { "mastercard", 4, 2221, 2720, 16, 16 },
    { "amex", 2, 34, 34, 15, 15 },
    { "amex", 2, 37, 37, 15, 15 },
    { "discover", 4, 6011, 6011, 16, 19 },
    { "discover", 3, 644, 649, 16, 19 },
    { "discover", 2, 65, 65, 16, 19 },
    { "jcb", 4, 3528, 3589, 16, 19 },
    { "diners", 3, 300, 305, 14, 19 },
    { "diners", 4, 3095, 3095, 14, 19 },
    { "diners", 2, 36, 36, 14, 19 },
    { "diners", 2, 38, 39, 16, 19 },
    { "unionpay", 2, 62, 62, 16, 19 },
    { "maestro", 4, 5018, 5018, 13, 19 },
    { "maestro", 4, 5020, 5020, 13, 19 },
    { "maestro", 4, 5038, 5038, 13, 19 },
    { "maestro", 4, 5893, 5893, 13, 19 },
    { "maestro", 4, 6304, 6304, 13, 19 },
    { "maestro", 4, 6759, 6759, 13, 19 },
    { "maestro", 4, 6761, 6763, 13, 19 },
    { "mir", 4, 2200, 2204, 16, 19 },
};

/* Published test numbers of card networks and payment processors. */
static const char *const card_test_numbers[] = {
    "4111111111111111", "4242424242424242", "4012888888881881", "4222222222222",
    "4000056655665556", "4000000000000002", "4000000000000077", "4000000000003220",
    "4012000033330026", "4917610000000000", "4988438843884305", "4462030000000000",
    "5555555555554444", "5105105105105100", "5200828282828210", "2223003122003222",
    "2223000048400011", "5454545454545454", "5425233430109903",
    "378282246310005", "371449635398431", "378734493671000", "340000000000009",
    "6011111111111117", "6011000990139424", "6011000400000000", "6011601160116611",
    "30569309025904", "38520000023237", "36227206271667", "3056930009020004",
    "3530111333300000", "3566002020360505", "3566111111111113",
    "6200000000000005", "6205500000000000004", "6759649826438453",
};

/* sens_check_card - a card number: length, brand, Luhn, not a test number */
int sens_check_card(const char *v, size_t n)
{
    int brand = 0;

    if (n < 13 || n > 19 || !is_digits(v, n) || all_same(v, n))
        return 0;
    for (size_t i = 0; i < sizeof(card_brands) / sizeof(card_brands[0]); i++) {
        const struct card_brand *b = &card_brands[i];
        unsigned p = prefix_num(v, b->digits);
        if (p >= b->lo && p <= b->hi && n >= b->minlen && n <= b->maxlen) {
            brand = 1;
            break;
        }
    }
    if (!brand || !sens_check_luhn(v, n))
        return 0;
    for (size_t i = 0; i < sizeof(card_test_numbers) / sizeof(card_test_numbers[0]); i++)
        if (card_test_numbers[i][1] == v[1] && strlen(card_test_numbers[i]) == n
            && memcmp(card_test_numbers[i], v, n) == 0)
            return 0;
    return 1;
}

/* alnum_value - 0-9 for digits, 10-35 for letters (any case), -1 else */
static int alnum_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return -1;
}

/* sens_check_mod97 - ISO 7064 mod 97-10 over an IBAN-shaped value: the
 * first four characters moved to the end, letters as 10..35, remainder 1 */
int sens_check_mod97(const char *v, size_t n)
{
    unsigned rem = 0;

    if (n < 5)
        return 0;
    for (size_t k = 0; k < n; k++) {
        int x = alnum_value(v[(k + 4) % n]);
        if (x < 0)
            return 0;
        rem = x >= 10 ? (rem * 100 + (unsigned)x) % 97 : (rem * 10 + (unsigned)x) % 97;
    }
    return rem == 1;
}

/* IBAN lengths per country (SWIFT IBAN registry). */
static const struct { char cc[3]; int len; } iban_lengths[] = {
    { "AD", 24 }, { "AE", 23 }, { "AL", 28 }, { "AT", 20 }, { "AZ", 28 }, { "BA", 20 },
    { "BE", 16 }, { "BG", 22 }, { "BH", 22 }, { "BI", 27 }, { "BR", 29 }, { "BY", 28 },
    { "CH", 21 }, { "CR", 22 }, { "CY", 28 }, { "CZ", 24 }, { "DE", 22 }, { "DJ", 27 },
    { "DK", 18 }, { "DO", 28 }, { "EE", 20 }, { "EG", 29 }, { "ES", 24 }, { "FI", 18 },
    { "FK", 18 }, { "FO", 18 }, { "FR", 27 }, { "GB", 22 }, { "GE", 22 }, { "GI", 23 },
    { "GL", 18 }, { "GR", 27 }, { "GT", 28 }, { "HR", 21 }, { "HU", 28 }, { "IE", 22 },
    { "IL", 23 }, { "IQ", 23 }, { "IS", 26 }, { "IT", 27 }, { "JO", 30 }, { "KW", 30 },
    { "KZ", 20 }, { "LB", 28 }, { "LC", 32 }, { "LI", 21 }, { "LT", 20 }, { "LU", 20 },
    { "LV", 21 }, { "LY", 25 }, { "MC", 27 }, { "MD", 24 }, { "ME", 22 }, { "MK", 19 },
    { "MN", 20 }, { "MR", 27 }, { "MT", 31 }, { "MU", 30 }, { "NI", 28 }, { "NL", 18 },
    { "NO", 15 }, { "OM", 23 }, { "PK", 24 }, { "PL", 28 }, { "PS", 29 }, { "PT", 25 },
    { "QA", 29 }, { "RO", 24 }, { "RS", 22 }, { "RU", 33 }, { "SA", 24 }, { "SC", 31 },
    { "SD", 18 }, { "SE", 24 }, { "SI", 19 }, { "SK", 24 }, { "SM", 27 }, { "SO", 23 },
    { "ST", 25 }, { "SV", 28 }, { "TL", 23 }, { "TN", 24 }, { "TR", 26 }, { "UA", 29 },
    { "VA", 22 }, { "VG", 24 }, { "XK", 20 }, { "YE", 30 },
};

/* upper - ASCII upper case */
static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* sens_iban_length - the IBAN length of a country, 0 when it has none */
int sens_iban_length(char c1, char c2)
{
    c1 = upper(c1);
    c2 = upper(c2);
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
        if (iban_lengths[i].cc[0] == c1 && iban_lengths[i].cc[1] == c2)
            return iban_lengths[i].len;
    return 0;
}

/* sens_check_iban - country, length, check digits 02-98, mod 97-10 */
int sens_check_iban(const char *v, size_t n)
{
    int len;

    if (n < 15 || alnum_value(v[0]) < 10 || alnum_value(v[1]) < 10 || !is_digits(v + 2, 2))
        return 0;
    len = sens_iban_length(v[0], v[1]);
    if (len <= 0 || (size_t)len != n)
        return 0;
    if (prefix_num(v + 2, 2) < 2 || prefix_num(v + 2, 2) > 98)
        return 0;
    return sens_check_mod97(v, n);
}

/* SSNs that are valid in form but known invalid (advertising, misuse). */
static const char *const ssn_invalid[] = {
    "078051120", "219099999", "123456789", "457555462",
};

/* sens_check_ssn - a U.S. SSN outside the never-issued ranges */
int sens_check_ssn(const char *v, size_t n)
{
    unsigned area, group, serial;

    if (n != 9 || !is_digits(v, n))
        return 0;
    area = prefix_num(v, 3);
    group = prefix_num(v + 3, 2);
    serial = prefix_num(v + 5, 4);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return 0;
    for (size_t i = 0; i < sizeof(ssn_invalid) / sizeof(ssn_invalid[0]); i++)
        if (memcmp(ssn_invalid[i], v, 9) == 0)
            return 0;
    return 1;
}

/* sens_check_mod11_10 - digits whose last is the ISO 7064 mod 11,10 check
 * digit of the others */
int sens_check_mod11_10(const char *v, size_t n)
{
    unsigned product = 10, check;

    if (n < 2 || !is_digits(v, n))
        return 0;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned sum = ((unsigned)(v[i] - '0') + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (sum * 2) % 11;
    }
    check = 11 - product;
    if (check == 10)
        check = 0;
    return check == (unsigned)(v[n - 1] - '0');
}

/* sens_check_de_tax_id - German Steuer-ID: 11 digits, no leading 0, in the
 * first ten one digit twice or three times (not three in a row) and the
 * others at most once, mod 11,10 check digit */
int sens_check_de_tax_id(const char *v, size_t n)
{
    unsigned count[10] = { 0 };
    int multi = 0;

    if (n != 11 || !is_digits(v, n) || v[0] == '0')
        return 0;
    for (size_t i = 0; i < 10; i++)
        count[v[i] - '0']++;
    for (size_t d = 0; d < 10; d++) {
        if (count[d] > 3)
            return 0;
        if (count[d] >= 2) {
            if (multi)
                return 0;
            multi = 1;
            if (count[d] == 3)
                for (size_t i = 0; i + 2 < 10; i++)
                    if (v[i] - '0' == (int)d && v[i + 1] == v[i] && v[i + 2] == v[i])
                        return 0;
        }
    }
    if (!multi)
        return 0;
    return sens_check_mod11_10(v, n);
}

/* sens_check_aba - US routing number: Federal Reserve prefix, 3-7-1 sum */
int sens_check_aba(const char *v, size_t n)
{
    static const unsigned w[9] = { 3, 7, 1, 3, 7, 1, 3, 7, 1 };
    unsigned sum = 0, p;

    if (n != 9 || !is_digits(v, n) || all_same(v, n))
        return 0;
    p = prefix_num(v, 2);
    if (!(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80))
        return 0;
    for (size_t i = 0; i < 9; i++)
        sum += w[i] * (unsigned)(v[i] - '0');
    return sum % 10 == 0;
}

static const struct { const char *name; sens_check_fn fn; } validators[] = {
    { "none", sens_check_none },
    { "luhn", sens_check_luhn },
    { "credit_card", sens_check_card },
    { "mod97", sens_check_mod97 },
    { "iban", sens_check_iban },
    { "us_ssn", sens_check_ssn },
    { "mod11_10", sens_check_mod11_10 },
    { "de_tax_id", sens_check_de_tax_id },
    { "aba_routing", sens_check_aba },
};

/* sens_check_lookup - the validator called name */
sens_check_fn sens_check_lookup(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
        if (strcmp(validators[i].name, name) == 0)
            return validators[i].fn;
    return NULL;
}

/* sens_validator_known - 1 when a validator has this name */
int sens_validator_known(const char *validator)
{
    return sens_check_lookup(validator) != NULL;
}

/* sens_validate - runs a validator by name on the letters and digits of value */
int sens_validate(const char *validator, const char *value, size_t len)
{
    sens_check_fn fn = sens_check_lookup(validator);

    if (!fn)
        return -1;
    return sens_check_text(fn, value, len);
}

/* sens_check_text - runs fn on the letters and digits of value */
int sens_check_text(sens_check_fn fn, const char *value, size_t len)
{
    char v[SENS_MAX_VALUE + 1];
    size_t n;
    int ok;

    if (fn == sens_check_none)
        return 1;
    n = sens_compact(value, len, v, sizeof(v));
    if (n >= sizeof(v))
        return 0;
    ok = fn(v, n);
    sens_wipe(v, sizeof(v));
    return ok;
}

/* sens_redact - masked copy: separators kept, letters, digits and other
 * characters as '*', except the last min(4, half) letters and digits when
 * they are digits */
void sens_redact(const char *value, size_t len, char *out, size_t outsize)
{
    size_t nalnum = 0, keep, seen = 0, o = 0;

    if (outsize == 0)
        return;
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        if (alnum_value(c) >= 0)
            nalnum++;
    }
    keep = nalnum / 2 < 4 ? nalnum / 2 : 4;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        char w;

        if ((c & 0xc0) == 0x80)
            continue;                   /* continuation: its lead was masked */
        if (alnum_value((char)c) >= 0) {
            seen++;
            w = (seen > nalnum - keep && c >= '0' && c <= '9') ? (char)c : '*';
        } else if (c >= 0x80) {
            w = '*';
        } else if (c < 0x20 || c == 0x7f) {
            w = ' ';
        } else {
            w = (char)c;
        }
        if (o + 1 >= outsize) {
            if (outsize >= 4) {
                o = outsize - 4;
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        out[o++] = w;
    }
    out[o < outsize ? o : outsize - 1] = '\0';
}
