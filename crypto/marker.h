/*
 * marker - the loop-protection marker: a header the gateway writes on the
 * messages it produced or changed, which an outside sender cannot forge.
 *
 *   X-Mailseal-Loop: v=1; t=UNIXTIME; s=BASE64(HMAC-SHA256)
 *
 * The HMAC, under the per-installation loop secret, covers the version, the
 * time, the Message-ID, the envelope recipients (lowercased, sorted, so
 * their order does not matter) and the SHA-256 digest of the body.  A
 * marker therefore proves that this installation let exactly this body go
 * to exactly these recipients recently; replaying it with another body or
 * to other recipients fails, and the message is evaluated as usual.
 *
 * The body digest ignores CR bytes and trailing line breaks, so the same
 * body reads the same whether it travelled with CRLF or LF line ends.
 * marker_verify() compares in constant time.  No function here logs.
 */
#ifndef MAILSEAL_CRYPTO_MARKER_H
#define MAILSEAL_CRYPTO_MARKER_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define MARKER_HEADER "X-Mailseal-Loop"
#define MARKER_DIGEST_LEN 32

struct body_digest;

struct body_digest *body_digest_new(void);         /* NULL: ENOMEM */
int body_digest_update(struct body_digest *bd, const void *data, size_t len);
int body_digest_final(struct body_digest *bd, unsigned char out[MARKER_DIGEST_LEN]);
void body_digest_free(struct body_digest *bd);

enum marker_status {
    MARKER_VALID,
    MARKER_MALFORMED,     /* not of the v=1; t=; s= form */
    MARKER_EXPIRED,       /* older than max_age, or too far in the future */
    MARKER_BAD_SIGNATURE
};

/* marker_make - append the header value (without the name) to out; 0 or -1 */
int marker_make(const unsigned char *key, size_t keylen, time_t now,
                const char *msgid, const char *const *rcpts, size_t nrcpts,
                const unsigned char digest[MARKER_DIGEST_LEN], struct buf *out);
enum marker_status marker_verify(const unsigned char *key, size_t keylen,
                                 const char *value, time_t now, long max_age,
                                 const char *msgid, const char *const *rcpts,
                                 size_t nrcpts,
                                 const unsigned char digest[MARKER_DIGEST_LEN]);
const char *marker_status_str(enum marker_status st);

#endif
