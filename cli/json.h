/*
 * json - the little JSON writer behind `mailseal test --json`: strings
 * escaped into a capped buffer (util/buf.h).
 *
 * json_add_string() appends s[0..len) as a quoted JSON string: '"' and
 * '\' are escaped, control characters (and DEL) become \b \f \n \r \t or
 * \u00XX, valid UTF-8 (shortest form, no surrogates, at most U+10FFFF) is
 * passed through, and every maximal invalid subsequence (a stray byte, or
 * the valid start of a sequence cut short) becomes one \ufffd, as Unicode
 * recommends.  The output is always valid UTF-8 and valid JSON.  Returns 0,
 * or -1 with errno (EOVERFLOW at the buffer's cap, ENOMEM), the buffer
 * then being freed as buf.h describes.
 */
#ifndef MAILSEAL_CLI_JSON_H
#define MAILSEAL_CLI_JSON_H

#include <stddef.h>

#include "util/buf.h"

int json_add_string(struct buf *b, const char *s, size_t len);
/* json_add_str - json_add_string() of a C string; NULL writes null */
int json_add_str(struct buf *b, const char *s);

#endif
