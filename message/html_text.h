/*
 * html_text - reduce UTF-8 HTML to its text, streaming.
 *
 * Tags are removed; block-level tags (p, br, div, tr, li, h1-h6 ...) become
 * line breaks; the contents of script, style, head/title? (title is kept),
 * template and comments are dropped; character references are decoded,
 * numeric (&#52; &#x34;) and named (the HTML 4 set and the common HTML 5
 * ones), so "&#52;" is the digit 4.  Input may be split anywhere, even
 * inside a tag or an entity.  Memory is bounded: a tag or entity longer
 * than a fixed cap is skipped.  Output is appended to out; -1 if out failed.
 */
#ifndef MAILSEAL_MESSAGE_HTML_TEXT_H
#define MAILSEAL_MESSAGE_HTML_TEXT_H

#include <stddef.h>

#include "util/buf.h"

struct html_text;

struct html_text *html_text_new(void);    /* NULL: ENOMEM */
int html_text_push(struct html_text *h, const char *utf8, size_t len, struct buf *out);
int html_text_finish(struct html_text *h, struct buf *out);
void html_text_free(struct html_text *h);

#endif
