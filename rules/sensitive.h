/*
 * sensitive - detectors for sensitive data in message text (the engine
 * behind the rule condition sensitive_info:), standalone and pure: text in,
 * counts and redacted excerpts out.
 *
 * Built-in types (see sens_builtin_name()): credit_card (13-19 digits, one
 * token or groups of 4 with a last group of 1-4, or 4-6-5 / 4-6-4, joined by
 * single spaces or dashes; Luhn, brand prefix and length table, well-known
 * test numbers and all-same-digit numbers excluded), iban (country code,
 * two check digits, BBAN; one token or groups of 4 joined by single spaces;
 * per-country length; ISO 7064 mod 97-10), us_ssn (AAA-GG-SSSS; the forms
 * with spaces or without separator count only with a keyword; area 000,
 * 666, 900-999, group 00, serial 0000 and known invalid numbers excluded),
 * de_tax_id (German Steuer-ID: 11 digits, one token or 2-3-3-3; digit
 * repetition rule, ISO 7064 mod 11,10 check digit) and aba_routing (US bank
 * routing number: 9 digits, Federal Reserve prefix ranges, 3-7-1 checksum).
 *
 * Candidates for the built-in types are tokens: maximal runs of ASCII
 * letters and digits, so digits glued to letters or to more digits are no
 * candidate.  A token of 7 or more digits is a candidate on its own ("paid
 * 4539148803436467 2 times").  Digit groups of at most 6 digits joined by
 * the same single separator (' ' or '-') form a sequence that is a
 * candidate only as a whole, so "4111 1111 1111 1111 2024" holds no card;
 * where the separator changes ("ref 12 5529-1234-...") the sequence starts
 * again at the group before it.  Any other character, or two separators in
 * a row, ends a sequence.  Bytes outside ASCII end tokens (the caller
 * passes NFKC-normalised text, see text_norm.h).
 *
 * Confidence: a validated match is SENS_LOW, and SENS_HIGH when one of the
 * entry's keywords occurs within `proximity` characters (code points)
 * before or after it in the same part.  Keywords are ASCII-case-insensitive
 * and matched on word boundaries; every run of ASCII characters other than
 * letters and digits (space, '-', '#', ...) in a keyword or in the text
 * counts as one boundary, so "steuer-id" also finds "Steuer ID".
 *
 * Custom types (sens_set_custom()) are a PCRE2 pattern (UTF, caseless off
 * unless the pattern says (?i), JIT when available, match limit
 * SENS_MATCH_LIMIT), an optional validator applied to the letters and
 * digits of capture group 1 when the pattern has one, else of the whole
 * match, and keywords.  Patterns must not match the empty string.  They run
 * on a sliding window: a match longer than SENS_CUSTOM_MAX_MATCH bytes is
 * ignored, and a match is decided up to SENS_CUSTOM_SLICE +
 * SENS_CUSTOM_MAX_MATCH bytes after it occurs; keyword hits of custom
 * entries wait in a queue (SENS_CUSTOM_HITQ) until the matches before them
 * are decided.
 *
 * Life cycle: sens_set_new(), sens_set_custom() for each custom type,
 * sens_set_add() once per condition item (an "entry": a type with its
 * keywords and proximity), sens_set_compile().  The compiled set is
 * immutable and may be shared between threads; the caller owns it and frees
 * it with sens_set_free() after every scan using it is freed.  Per message:
 * sens_scan_new(), sens_scan_push() any number of times,
 * sens_scan_part_end() after each MIME part (and after the last), then the
 * results; sens_scan_free().  The scan owns the excerpts it returns, valid
 * until it is freed.
 *
 * Memory: the scan allocates its state in sens_scan_new(); pushing never
 * fails, and allocates only inside PCRE2 for custom patterns run without
 * JIT (backtracking frames, capped by SENS_HEAP_LIMIT_KB).  Full values are
 * kept only while a candidate is being checked (the current token and
 * digit group sequence, at most SENS_MAX_GROUPS tokens; an IBAN in groups;
 * the custom window), and wiped as soon as they are checked or leave the
 * window, when the part ends and when the scan is freed; results hold only redacted excerpts: at most the last 4 digits and
 * never more than half of the letters and digits are shown, the rest is
 * masked with '*', separators are kept ("**** **** **** 1881").
 *
 * Caps (every one bounds memory or time, none aborts):
 *   SENS_MAX_ENTRIES      entries per set
 *   SENS_MAX_KEYWORDS     keywords per entry, SENS_MAX_KEYWORD_LEN bytes each,
 *   SENS_MAX_KW_BYTES     bytes of keywords in a set
 *   SENS_MAX_PROXIMITY    largest proximity (code points)
 *   SENS_MAX_GROUPS       tokens in one candidate; a longer digit group
 *                         sequence is no candidate
 *   SENS_MAX_TOKEN        bytes in a token that may be part of a candidate
 *   SENS_MAX_PENDING      matches per entry waiting for a keyword after
 *                         them; when more arrive, the oldest is settled as
 *                         SENS_LOW (so very dense data may under-count HIGH)
 *   SENS_KW_RECENT        keyword hits remembered per entry (the nearest
 *                         before a match is the last one)
 *   SENS_CUSTOM_HITQ      keyword hits of a custom entry waiting for its
 *                         matches to be decided; when full the oldest is
 *                         applied early (it may then miss a match before it)
 *   SENS_MAX_EXCERPTS     excerpts kept per entry (the first ones settled)
 *   SENS_CUSTOM_MAX_MATCH bytes of one custom match; SENS_CUSTOM_SLICE bytes
 *                         of text per pattern run; SENS_MATCH_LIMIT,
 *                         SENS_DEPTH_LIMIT and SENS_HEAP_LIMIT_KB per run
 *                         (a run that hits them ends that pattern's run on
 *                         that slice and sets sens_scan_truncated())
 * Counts saturate at SIZE_MAX.
 */
#ifndef MAILSEAL_RULES_SENSITIVE_H
#define MAILSEAL_RULES_SENSITIVE_H

#include <stddef.h>

#define SENS_MAX_ENTRIES 64
#define SENS_MAX_CUSTOM 32
#define SENS_MAX_NAME 64
#define SENS_MAX_KEYWORDS 64
#define SENS_MAX_KEYWORD_LEN 128
#define SENS_MAX_KW_BYTES 8192
#define SENS_MAX_PROXIMITY 4096
#define SENS_DEFAULT_PROXIMITY 300
#define SENS_MAX_GROUPS 8
#define SENS_MAX_TOKEN 34
#define SENS_MAX_VALUE 40          /* letters and digits of one built-in candidate */
#define SENS_MAX_PENDING 64
#define SENS_KW_RECENT 16
#define SENS_CUSTOM_HITQ 256
#define SENS_MAX_EXCERPTS 3
#define SENS_EXCERPT_MAX 48        /* bytes of an excerpt, with the NUL */
#define SENS_MAX_PATTERN 4096
#define SENS_CUSTOM_MAX_MATCH 256
#define SENS_CUSTOM_SLICE 1024
#define SENS_MATCH_LIMIT 100000
#define SENS_DEPTH_LIMIT 1000
#define SENS_HEAP_LIMIT_KB 1024

enum sens_conf {
    SENS_LOW = 0,             /* validated */
    SENS_HIGH = 1             /* validated, with a keyword within the proximity */
};

/* Why building a set failed: a message, and for pattern errors the byte
 * offset inside the pattern (else -1), for FILE:LINE:COLUMN reports. */
struct sens_error {
    char msg[160];
    long offset;
};

struct sens_set;
struct sens_scan;

/* The built-in type names, in table order; NULL past the end. */
const char *sens_builtin_name(size_t i);

/* Validators by name ("none", "luhn", "credit_card", "mod97", "iban",
 * "us_ssn", "mod11_10", "de_tax_id", "aba_routing"): 1 when the letters and
 * digits of value[0..len) pass, 0 when not, -1 when the name is unknown.
 * Characters other than ASCII letters and digits are ignored; more than
 * SENS_MAX_VALUE letters and digits never pass (except "none"). */
int sens_validate(const char *validator, const char *value, size_t len);
/* 1 when the validator name exists. */
int sens_validator_known(const char *validator);

/* Writes the redacted form of value[0..len) into out (always
 * NUL-terminated, cut with "..." when longer than outsize - 1). */
void sens_redact(const char *value, size_t len, char *out, size_t outsize);

struct sens_set *sens_set_new(void);          /* NULL: ENOMEM */

/*
 * sens_set_custom - declares a custom type `name` (not a built-in name, not
 * declared before): pattern (PCRE2, UTF-8), validator (a name for
 * sens_validate(), NULL for "none"), default keywords (nkw of them; NULL
 * for none) and default proximity (< 0: SENS_DEFAULT_PROXIMITY).
 * 0, or -1 with err filled (err->offset: byte offset in the pattern for
 * compile errors) and errno EINVAL, EEXIST, E2BIG or ENOMEM.
 */
int sens_set_custom(struct sens_set *set, const char *name, const char *pattern,
                    const char *validator, const char *const *keywords,
                    size_t nkw, long proximity, struct sens_error *err);

/*
 * sens_set_add - adds an entry: type (a built-in or a declared custom
 * type), keywords (NULL: the type's defaults; nkw == 0 with a non-NULL
 * array: none, so the entry never reaches SENS_HIGH) and proximity (< 0:
 * the type's default; at most SENS_MAX_PROXIMITY).  Returns the entry's
 * index (0, 1, ... in order of adding), or -1 with err filled and errno
 * ENOENT (unknown type), EINVAL, E2BIG or ENOMEM.
 */
long sens_set_add(struct sens_set *set, const char *type, const char *const *keywords,
                  size_t nkw, long proximity, struct sens_error *err);

/* sens_set_compile - builds the keyword automaton; no adding afterwards.
 * 0, or -1 with err filled and errno ENOMEM or E2BIG (the set can then
 * only be freed). */
int sens_set_compile(struct sens_set *set, struct sens_error *err);
size_t sens_set_entries(const struct sens_set *set);
const char *sens_set_entry_type(const struct sens_set *set, size_t entry);
void sens_set_free(struct sens_set *set);

/* sens_scan_new - per-message state for a compiled set; NULL with errno
 * EINVAL (set not compiled) or ENOMEM. */
struct sens_scan *sens_scan_new(const struct sens_set *set);
/* Feeds the next bytes of the current part; never fails on input. */
void sens_scan_push(struct sens_scan *scan, const char *text, size_t len);
/* Ends the current part: settles pending matches, forgets keyword hits. */
void sens_scan_part_end(struct sens_scan *scan);
/* Matches of the entry settled so far at exactly conf; and at conf or
 * higher (what min_confidence: asks for). */
size_t sens_scan_count(const struct sens_scan *scan, size_t entry, enum sens_conf conf);
size_t sens_scan_count_min(const struct sens_scan *scan, size_t entry, enum sens_conf min);
/* 1 when the entry has at least min_count matches at min_conf or higher. */
int sens_scan_holds(const struct sens_scan *scan, size_t entry, size_t min_count,
                    enum sens_conf min_conf);
/* Redacted excerpts of the first matches (at most SENS_MAX_EXCERPTS), with
 * their confidence; NULL past the end. */
size_t sens_scan_excerpts(const struct sens_scan *scan, size_t entry);
const char *sens_scan_excerpt(const struct sens_scan *scan, size_t entry, size_t i,
                              enum sens_conf *conf);
/* 1 when a custom pattern hit its match or depth limit. */
int sens_scan_truncated(const struct sens_scan *scan);
void sens_scan_free(struct sens_scan *scan);

#endif
