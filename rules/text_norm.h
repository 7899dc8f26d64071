/*
 * text_norm - the normal form in which rule keywords and message text are
 * compared, and the character classes the keyword matcher needs.
 *
 * text_norm() appends to out the text in NFKC with Unicode case folding,
 * without zero-width and other default-ignorable characters (U+200B..U+200D,
 * U+2060, U+FEFF, soft hyphen U+00AD, ...), with every run of white space
 * (ASCII space and controls, NBSP, Unicode separators, line breaks) turned
 * into one ASCII space, and with invalid UTF-8 replaced by U+FFFD.  The
 * same function is used for keywords at load time and for text at match
 * time, so "ÄRGER" finds "ärger" and "ﬁle" finds "file".
 *
 * Returns 0, or -1 with errno ENOMEM or EOVERFLOW (more than
 * TEXT_NORM_MAX_CP code points after decomposition, or out's cap); out is
 * then freed as buf.h describes.  The caller owns out.
 */
#ifndef MAILSEAL_RULES_TEXT_NORM_H
#define MAILSEAL_RULES_TEXT_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define TEXT_NORM_MAX_CP (16u * 1024 * 1024)

int text_norm(const char *in, size_t len, struct buf *out);
/* The same result computed byte by byte, without the word-at-a-time ASCII
 * fast path: the reference the differential tests compare against. */
int text_norm_reference(const char *in, size_t len, struct buf *out);

/* 1 for letters, digits and combining marks (Unicode L*, N*, M*). */
int text_is_word(int32_t cp);
/* 1 for scripts written without spaces between words (Han, Hiragana,
 * Katakana, Thai, Lao, Khmer, Myanmar): each such character is a word
 * boundary on both sides, so phrases in them match as substrings. */
int text_is_unspaced(int32_t cp);
/* 1 for white space as text_norm() collapses it. */
int text_is_space(int32_t cp);

/* The code point starting at s[i] (U+FFFD when invalid), and the one
 * ending just before s[i]; -1 at the ends. */
int32_t text_cp_at(const char *s, size_t len, size_t i);
int32_t text_cp_before(const char *s, size_t i);

#endif
