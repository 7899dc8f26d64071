/*
 * marker - the loop-protection marker: a header the gateway writes on the
 * messages it produced or changed, which an outside sender cannot forge.
 *
 *   X-Mailseal-Loop: v=2; t=UNIXTIME; n=BASE64(16 random bytes); s=BASE64(HMAC-SHA256)
 *
 * The body is authenticated with GMAC (AES-256-GCM over the body as
 * additional data, no plaintext) under a key used for this one marker:
 * HMAC-SHA256(loop secret, "mailseal-loop-v2 body" || n), IV 12 zero bytes.
 * The HMAC, under the per-installation loop secret, covers the version,
 * the time, the nonce n, the Message-ID, the envelope recipients
 * (lowercased, sorted, so their order does not matter) and the 16-byte
 * GMAC tag.  A marker therefore proves that this installation let exactly
 * this body go to exactly these recipients recently; replaying it with
 * another body or to other recipients fails, and the message is
 * evaluated as usual.
 *
 * Version 1 (v=1; t=UNIXTIME; s=BASE64(HMAC-SHA256)) covered the SHA-256
 * digest of the body instead of the nonce and tag.  The gateway writes v=2
 * only, and still verifies v=1 so that messages in flight across an
 * upgrade are not wrapped twice (markers live loop.max_age seconds).
 *
 * Both versions see the body in one canonical form: without CR bytes and
 * without trailing line breaks, so the same body reads the same whether
 * it travelled with CRLF or LF line ends.  Signatures are compared in
 * constant time; key-derived bytes are wiped.  No function here logs.
 *
 * Interfaces: body_digest_* (v1 SHA-256), body_mac_* (v2 GMAC, a fresh
 * nonce when making), marker_make / marker_make_v2, marker_verify (v1
 * values only) / marker_verify_v2, and marker_check_*: all the marker
 * values of one message checked against its body in one pass, hashing
 * only for markers that parse and are in time, at most
 * MARKER_CHECK_MAX_MACS distinct v2 nonces (further ones are
 * MARKER_NOT_CHECKED).  Objects are the caller's, released with their
 * _free function (NULL is fine); functions return 0 / a pointer, or -1 /
 * NULL with errno (EINVAL, ENOMEM, EIO).
 */
#ifndef MAILSEAL_CRYPTO_MARKER_H
#define MAILSEAL_CRYPTO_MARKER_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define MARKER_HEADER "X-Mailseal-Loop"
#define MARKER_DIGEST_LEN 32
#define MARKER_NONCE_LEN 16
#define MARKER_TAG_LEN 16
#define MARKER_BODY_AUTH_LEN (MARKER_NONCE_LEN + MARKER_TAG_LEN)   /* nonce || GMAC tag */
#define MARKER_CHECK_MAX_MACS 4   /* distinct v2 nonces one message's check hashes for */

struct body_digest;

struct body_digest *body_digest_new(void);         /* NULL: ENOMEM */
int body_digest_update(struct body_digest *bd, const void *data, size_t len);
int body_digest_final(struct body_digest *bd, unsigned char out[MARKER_DIGEST_LEN]);
void body_digest_free(struct body_digest *bd);

struct body_mac;

/* body_mac_new - the v2 body MAC under the loop secret for nonce (NULL: a fresh random one) */
struct body_mac *body_mac_new(const unsigned char *key, size_t keylen,
                              const unsigned char nonce[MARKER_NONCE_LEN]);
/* body_mac_update - body bytes as they travel (CRs dropped, trailing LFs held back) */
int body_mac_update(struct body_mac *bm, const void *data, size_t len);
/* body_mac_update_canon - body bytes known to hold no CR (no scan, no copy) */
int body_mac_update_canon(struct body_mac *bm, const void *data, size_t len);
/* body_mac_final - auth = nonce || tag, for marker_make_v2 */
int body_mac_final(struct body_mac *bm, unsigned char auth[MARKER_BODY_AUTH_LEN]);
void body_mac_free(struct body_mac *bm);

enum marker_status {
    MARKER_VALID,
    MARKER_MALFORMED,     /* not of the v=1; t=; s= or v=2; t=; n=; s= form */
    MARKER_EXPIRED,       /* older than max_age, or too far in the future */
    MARKER_BAD_SIGNATURE,
    MARKER_NOT_CHECKED    /* beyond the cap of markers checked per message */
};

/* marker_make - append the v=1 header value (without the name) to out; 0 or -1 */
int marker_make(const unsigned char *key, size_t keylen, time_t now,
                const char *msgid, const char *const *rcpts, size_t nrcpts,
                const unsigned char digest[MARKER_DIGEST_LEN], struct buf *out);
enum marker_status marker_verify(const unsigned char *key, size_t keylen,
                                 const char *value, time_t now, long max_age,
                                 const char *msgid, const char *const *rcpts,
                                 size_t nrcpts,
                                 const unsigned char digest[MARKER_DIGEST_LEN]);
/* marker_make_v2 - append the v=2 header value for the body auth (body_mac_final) to out */
int marker_make_v2(const unsigned char *key, size_t keylen, time_t now,
                   const char *msgid, const char *const *rcpts, size_t nrcpts,
                   const unsigned char auth[MARKER_BODY_AUTH_LEN], struct buf *out);
/* marker_verify_v2 - a v=2 value against this message (auth: body_mac_final with its nonce) */
enum marker_status marker_verify_v2(const unsigned char *key, size_t keylen,
                                    const char *value, time_t now, long max_age,
                                    const char *msgid, const char *const *rcpts,
                                    size_t nrcpts,
                                    const unsigned char auth[MARKER_BODY_AUTH_LEN]);

struct marker_check;

/* marker_check_new - check values[0, nvalues) (v1 or v2; kept by pointer, as is key)
 * against one body; parsing and times are judged here, with now */
struct marker_check *marker_check_new(const unsigned char *key, size_t keylen,
                                      const char *const *values, size_t nvalues,
                                      time_t now, long max_age);
/* marker_check_needs_body - 1 when a marker waits for the body (else updates are free) */
int marker_check_needs_body(const struct marker_check *mc);
/* marker_check_update - the body as it travels, in pieces of any size */
int marker_check_update(struct marker_check *mc, const void *data, size_t len);
/* marker_check_status - after the whole body: the verdict on values[i] for this message */
enum marker_status marker_check_status(struct marker_check *mc, size_t i, const char *msgid,
                                       const char *const *rcpts, size_t nrcpts);
void marker_check_free(struct marker_check *mc);

const char *marker_status_str(enum marker_status st);

#endif
