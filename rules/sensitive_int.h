/*
 * sensitive_int - what the parts of the sensitive-data engine share
 * (sensitive_check.c: validators, tables, redaction; sensitive.c: sets and
 * scans).  Not an interface for other modules: use sensitive.h.
 */
#ifndef MAILSEAL_RULES_SENSITIVE_INT_H
#define MAILSEAL_RULES_SENSITIVE_INT_H

#include <stddef.h>

/* A validator over the letters and digits of a value (n <= SENS_MAX_VALUE). */
typedef int (*sens_check_fn)(const char *v, size_t n);

int sens_check_none(const char *v, size_t n);
int sens_check_luhn(const char *v, size_t n);
int sens_check_card(const char *v, size_t n);
int sens_check_mod97(const char *v, size_t n);
int sens_check_iban(const char *v, size_t n);
int sens_check_ssn(const char *v, size_t n);
int sens_check_mod11_10(const char *v, size_t n);
int sens_check_de_tax_id(const char *v, size_t n);
int sens_check_aba(const char *v, size_t n);

/* Runs fn on the letters and digits of value[0..len); 0 when there are
 * more than SENS_MAX_VALUE of them. */
int sens_check_text(sens_check_fn fn, const char *value, size_t len);
/* The validator called name, or NULL when there is none. */
sens_check_fn sens_check_lookup(const char *name);
/* The IBAN length for a country code (two letters, any case), 0 if none. */
int sens_iban_length(char c1, char c2);
/* Copies the ASCII letters and digits of in[0..len) to out (outsize bytes,
 * NUL-terminated); their count, or outsize when they do not fit. */
size_t sens_compact(const char *in, size_t len, char *out, size_t outsize);
/* Makes a scan take every byte through the per-byte tokenizer, without
 * the fast paths: the reference the differential tests compare against. */
struct sens_scan;
void sens_scan_reference(struct sens_scan *sc, int on);
/* Wipes n bytes so the compiler cannot drop it. */
void sens_wipe(void *p, size_t n);

#endif
