/*
 * rfc2047 - header values: decoding of encoded words to UTF-8, and
 * encoding of UTF-8 values for writing headers back.
 *
 * rfc2047_decode() takes a raw header value (folding allowed), unfolds it,
 * decodes every encoded word (B and Q, any charset, RFC 2231 language
 * suffix), drops the white space between adjacent encoded words, joins
 * adjacent words of the same charset before conversion (so a multibyte
 * character split between words survives), and converts raw 8-bit text:
 * valid UTF-8 stays, anything else is read as Windows-1252.  Malformed
 * words are kept literally.  Output is UTF-8 without CR, LF or NUL.
 *
 * rfc2047_encode() writes a header value for field name: ASCII without
 * control characters is written as is (folded at white space); otherwise
 * it is encoded as "=?UTF-8?B?...?=" words that never split a UTF-8
 * character, on lines of at most 76 characters.  CR, LF and other control
 * characters in the input are replaced by spaces, so the result can never
 * start a new header.  Folded lines are joined with "\n " (LF and a space),
 * the form libmilter hands to the MTA; Postfix and Sendmail write CRLF.  Both append to out and return -1 if out failed.
 */
#ifndef MAILSEAL_MESSAGE_RFC2047_H
#define MAILSEAL_MESSAGE_RFC2047_H

#include <stddef.h>

#include "util/buf.h"

int rfc2047_decode(const char *value, size_t len, struct buf *out);
int rfc2047_encode(const char *field_name, const char *utf8, struct buf *out);

#endif
