/*
 * viewer - the HTML viewer page (message.html) around an envelope of
 * docs/ENVELOPE.md: one self-contained file that opens the envelope in a
 * browser with WebCrypto, offline, with the organisation's branding.
 *
 * The page is plain ASCII (non-ASCII template texts become character
 * references), lines end in CRLF and are at most 998 bytes, so it travels
 * as 7bit.  The envelope is written in base64 lines of 76 characters inside
 * <script type="application/x-mailseal-envelope" id="mailseal-envelope">,
 * in blocks of at most VIEWER_BLOCK_LINES lines: each further block follows
 * the previous one's </script> as CRLF, VIEWER_ENVELOPE_MORE (the same
 * element without the id) and CRLF (docs/ENVELOPE.md, "Embedding in the
 * viewer"; WebKit loads one multi-megabyte script element very slowly).
 * viewer_envelope_block() finds the blocks again, as the spec's reader rule
 * says.  The writer streams: memory does not grow with the envelope size.
 *
 * Template texts: NULL fields mean the built-in default; every text is
 * HTML-escaped here (UTF-8 in, ASCII out); "\n" in intro and help starts a
 * new line.  viewer_template_check() refuses what cannot be rendered safely:
 * colours not "#rrggbb", a logo that is not PNG, JPEG or GIF (or does not
 * match logo_type), a lang that is not a language tag, texts that are too
 * long, invalid UTF-8 or hold control characters.
 *
 * Functions return 0 or -1 with errno (EINVAL: bad argument or template,
 * ENOMEM, or the output function's errno).  Nothing here logs.
 */
#ifndef MAILSEAL_CRYPTO_VIEWER_H
#define MAILSEAL_CRYPTO_VIEWER_H

#include <stddef.h>
#include <stdint.h>

#define VIEWER_MAX_SHORT_TEXT 256     /* org_name, title: bytes of UTF-8 */
#define VIEWER_MAX_LONG_TEXT 8192     /* intro, help */
#define VIEWER_MAX_LOGO (512u * 1024) /* logo bytes */
#define VIEWER_B64_LINE 76            /* base64 characters per envelope line */
#define VIEWER_ENVELOPE_START "<script type=\"application/x-mailseal-envelope\" id=\"mailseal-envelope\">"
#define VIEWER_ENVELOPE_MORE "<script type=\"application/x-mailseal-envelope\">"   /* further blocks */
#define VIEWER_BLOCK_LINES 10000      /* most base64 lines in one block */

struct viewer_template {
    const char *org_name;          /* shown next to the logo; default none */
    const char *title;             /* page title and heading */
    const char *intro;             /* text above the passphrase field */
    const char *help;              /* how to open the file */
    const char *lang;              /* html lang, default "en" */
    const char *color_primary;     /* "#rrggbb", buttons and accents */
    const char *color_background;  /* "#rrggbb", page background */
    const unsigned char *logo;     /* PNG, JPEG or GIF bytes, or NULL */
    size_t logo_len;
    const char *logo_type;         /* "image/png", "image/jpeg", "image/gif"; NULL: from the bytes */
};

/* out - receives the page bytes in order; 0, or -1 with errno (the shape of env_out_fn) */
typedef int (*viewer_out_fn)(void *arg, const void *data, size_t len);

struct viewer_writer;

/* viewer_template_check - 0 when t (NULL: all defaults) renders, else -1 with a reason in errbuf */
int viewer_template_check(const struct viewer_template *t, char *errbuf, size_t errlen);
/* viewer_writer_new - a writer for template t (NULL: defaults; checked); NULL with errno */
struct viewer_writer *viewer_writer_new(const struct viewer_template *t, viewer_out_fn out, void *arg);
/* viewer_writer_canon - also send the page to canon with every CR dropped (the loop marker's
 * canonical body form, crypto/marker.h), in step with out; before viewer_writer_begin; 0 or -1 EINVAL */
int viewer_writer_canon(struct viewer_writer *vw, viewer_out_fn canon, void *arg);
/* viewer_writer_begin - write everything before the base64 of the envelope */
int viewer_writer_begin(struct viewer_writer *vw);
/* viewer_writer_data - envelope bytes, written as base64 lines; usable as an env_out_fn */
int viewer_writer_data(void *vw, const void *data, size_t len);
/* viewer_writer_finish - the last base64 line and the rest of the page */
int viewer_writer_finish(struct viewer_writer *vw);
/* viewer_writer_free - release the writer (NULL is fine) */
void viewer_writer_free(struct viewer_writer *vw);
/* viewer_size - the exact byte count of the page for an envelope of envelope_len bytes; 0 when t is invalid */
uint64_t viewer_size(const struct viewer_template *t, uint64_t envelope_len);
/* viewer_envelope_block - the envelope's blocks in order, as the spec's reader rule finds
 * them: *pos 0 on the first call (then left for the next); 1 with [*start, *end) the next
 * block's text (between its start tag and its </script>), 0 when no block follows, -1 EBADMSG
 * when the page has no first block or a block has no end tag (-1 EINVAL: bad arguments) */
int viewer_envelope_block(const char *html, size_t len, size_t *pos, size_t *start, size_t *end);
/* viewer_b64_encode - the base64 of len bytes into out (4 * ((len + 2) / 3) bytes, no NUL,
 * no line breaks), byte for byte EVP_EncodeBlock's; simd caps the encoder (0 portable,
 * 1 SSSE3, 2 AVX2; never more than the CPU runs); the number of characters written */
size_t viewer_b64_encode(char *out, const unsigned char *in, size_t len, int simd);
/* viewer_script_hash - the base64 SHA-256 of the page's inline script, as in its CSP
 * (out: at least 45 bytes); 0 or -1 EIO */
int viewer_script_hash(char out[45]);

#endif
