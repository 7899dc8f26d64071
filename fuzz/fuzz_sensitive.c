/*
 * fuzz_sensitive - libFuzzer harness for the sensitive-data detectors
 * (rules/sensitive.h) and the text normalisation they are fed through
 * (rules/text_norm.h).
 *
 * One compiled set, built on the first call, holds every built-in type
 * with its default keywords, some with keywords of their own and a short
 * or zero proximity, and two custom types (a PCRE2 pattern with a capture
 * group and a validator, and one without).  Each input is text; a NUL
 * byte in it ends a MIME part.  It is scanned twice: with the fast paths,
 * each part pushed whole, and with the byte-by-byte reference
 * (sens_scan_reference()), pushed in pieces whose sizes come from the
 * input's length; counts and excerpts must agree, as the differential test
 * tests/rules/test_fastpath.c requires.  Excerpts must be NUL-terminated
 * within SENS_EXCERPT_MAX and show at most 4 digits.  text_norm() must
 * agree with text_norm_reference(); every validator and sens_redact() run
 * on the input too.  Interface: LLVMFuzzerTestOneInput() (fuzz.h); a
 * broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "rules/sensitive.h"
#include "rules/sensitive_int.h"
#include "rules/text_norm.h"
#include "util/buf.h"

#define FUZZ_NORM_MAX (1u << 20)

static const char *const validators[] = {
    "none", "luhn", "credit_card", "mod97", "iban", "us_ssn", "mod11_10", "de_tax_id",
    "aba_routing",
};

/* make_set - the set every input is scanned with; NULL when it cannot be built */
static struct sens_set *make_set(void)
{
    static const char *const near_kw[] = { "card", "iban", "credit card", "steuer-id" };
    static const char *const emp_kw[] = { "employee", "staff id" };
    struct sens_set *set = sens_set_new();
    struct sens_error err;

    if (set == NULL)
        return NULL;
    if (sens_set_custom(set, "employee_id", "\\bEMP-([0-9]{6})\\b", "luhn", emp_kw, 2, 40, &err) < 0
        || sens_set_custom(set, "project_code", "(?i)proj[a-z]{2,8}-[0-9a-f]{4}", NULL, NULL, 0, -1,
                           &err) < 0)
        goto fail;
    for (size_t i = 0; sens_builtin_name(i) != NULL; i++)
        if (sens_set_add(set, sens_builtin_name(i), NULL, 0, -1, &err) < 0)
            goto fail;
    if (sens_set_add(set, "credit_card", near_kw, 4, 5, &err) < 0
        || sens_set_add(set, "iban", near_kw, 0, 10, &err) < 0
        || sens_set_add(set, "us_ssn", near_kw, 4, 0, &err) < 0
        || sens_set_add(set, "employee_id", NULL, 0, -1, &err) < 0
        || sens_set_add(set, "project_code", emp_kw, 2, SENS_MAX_PROXIMITY, &err) < 0
        || sens_set_compile(set, &err) < 0)
        goto fail;
    return set;
fail:
    sens_set_free(set);
    return NULL;
}

/* push_parts - the text to a scan, parts split at NUL, pushed whole or in pieces */
static void push_parts(struct sens_scan *sc, const char *text, size_t len, size_t piece)
{
    size_t off = 0;

    while (off <= len) {
        const char *nul = memchr(text + off, '\0', len - off);
        size_t end = nul != NULL ? (size_t)(nul - text) : len;

        if (piece == 0) {
            sens_scan_push(sc, text + off, end - off);
        } else {
            for (size_t at = off; at < end; at += piece)
                sens_scan_push(sc, text + at, end - at < piece ? end - at : piece);
        }
        sens_scan_part_end(sc);
        off = end + 1;
    }
}

/* check_excerpt - terminated within its size, at most four digits shown */
static void check_excerpt(const char *x)
{
    size_t digits = 0;
    const char *end;

    if (x == NULL || (end = memchr(x, '\0', SENS_EXCERPT_MAX)) == NULL)
        fuzz_fail("excerpt missing or not terminated");
    for (; x < end; x++)
        if (*x >= '0' && *x <= '9')
            digits++;
    if (digits > 4)
        fuzz_fail("excerpt shows more than four digits");
}

/* compare_scans - the fast and the reference scan agree */
static void compare_scans(const struct sens_set *set, const struct sens_scan *a, const struct sens_scan *b)
{
    for (size_t e = 0; e < sens_set_entries(set); e++) {
        for (int conf = SENS_LOW; conf <= SENS_HIGH; conf++)
            if (sens_scan_count(a, e, (enum sens_conf)conf) != sens_scan_count(b, e, (enum sens_conf)conf))
                fuzz_fail("fast and reference scans count differently");
        if (sens_scan_excerpts(a, e) != sens_scan_excerpts(b, e) || sens_scan_excerpts(a, e) > SENS_MAX_EXCERPTS)
            fuzz_fail("fast and reference scans keep different excerpts");
        for (size_t i = 0; i < sens_scan_excerpts(a, e); i++) {
            enum sens_conf ca, cb;
            const char *xa = sens_scan_excerpt(a, e, i, &ca);
            const char *xb = sens_scan_excerpt(b, e, i, &cb);

            check_excerpt(xa);
            check_excerpt(xb);
            if (strcmp(xa, xb) != 0 || ca != cb)
                fuzz_fail("fast and reference scans give different excerpts");
        }
    }
    if (sens_scan_truncated(a) != sens_scan_truncated(b))
        fuzz_fail("fast and reference scans truncate differently");
}

/* check_norm - text_norm() and its reference agree */
static void check_norm(const char *text, size_t len)
{
    struct buf a = BUF_INIT(FUZZ_NORM_MAX), b = BUF_INIT(FUZZ_NORM_MAX);
    int ra = text_norm(text, len, &a), rb = text_norm_reference(text, len, &b);

    if (ra != rb || (ra == 0 && (a.len != b.len || memcmp(buf_str(&a), buf_str(&b), a.len) != 0)))
        fuzz_fail("text_norm differs from the reference");
    buf_free(&a);
    buf_free(&b);
}

/* LLVMFuzzerTestOneInput - one text through both scans, the normaliser and the validators */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sens_set *set;
    static int tried;
    char *text = malloc(size ? size : 1);
    char red[SENS_EXCERPT_MAX];

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    if (!tried) {
        tried = 1;
        set = make_set();
        if (set == NULL)
            fuzz_fail("the fixed set does not build");
    }
    if (set != NULL) {
        struct sens_scan *a = sens_scan_new(set), *b = sens_scan_new(set);

        if (a != NULL && b != NULL) {
            sens_scan_reference(b, 1);
            push_parts(a, text, size, 0);
            push_parts(b, text, size, 1 + size % 37);
            compare_scans(set, a, b);
        }
        sens_scan_free(a);
        sens_scan_free(b);
    }
    check_norm(text, size);
    for (size_t i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
        if (sens_validate(validators[i], text, size) < 0)
            fuzz_fail("a known validator is unknown");
    sens_redact(text, size, red, sizeof(red));
    if (memchr(red, '\0', sizeof(red)) == NULL)
        fuzz_fail("sens_redact output not terminated");
    free(text);
    return 0;
}
