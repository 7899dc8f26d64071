/*
 * wrap - the wrapper message of the encrypt action: the original message,
 * byte for byte, in an envelope (docs/ENVELOPE.md) inside the viewer
 * (crypto/viewer.h), attached to a short multipart message that tells the
 * recipient how to open it.  The milter's encrypt action and `mailseal
 * encrypt` both build it here.
 *
 * wrap_body() chooses the key slots: one recipient passphrase slot per
 * distinct stored key of the recipients (secrets store: the address, else
 * its domain), the caller's extra key when given (it covers every
 * recipient), a random passphrase slot as envelope.random_passphrase says,
 * and the recovery slot when configured.  It computes the exact size of
 * the wrapper body first and refuses (EFBIG) one above
 * envelope.max_wrapper_size before writing anything; then it streams the
 * body through out in pieces, reading the original from the spool, in
 * constant memory.  The caller writes the headers: it keeps the fields
 * wrap_keeps_header() accepts, deletes the rest, and adds MIME-Version
 * and info->content_type.
 *
 * Errors: -1 with errno EFBIG (too big), ENOKEY (a recipient has no key
 * and random passphrases are off; info->reason says so), ENOMEM, EIO
 * (reading the spool or OpenSSL), or the out function's errno.  info->digest
 * authenticates the body for a v=2 loop marker (marker_make_v2); it is
 * MARKER_BODY_AUTH_LEN bytes, the size the v=1 SHA-256 digest had.  The
 * random passphrase in info is a secret: the caller sends it to the
 * sender and wipes info with wrap_info_clear().  Nothing here logs.
 */
#ifndef MAILSEAL_MILTER_WRAP_H
#define MAILSEAL_MILTER_WRAP_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "crypto/envelope.h"
#include "crypto/marker.h"
#include "message/model.h"
#include "message/spool.h"

_Static_assert(MARKER_BODY_AUTH_LEN == MARKER_DIGEST_LEN, "wrap_info.digest keeps its size");

typedef int (*wrap_out_fn)(void *arg, const void *data, size_t len);

struct wrap_info {
    char content_type[128];       /* the wrapper's Content-Type value */
    uint64_t body_size;           /* bytes of the body written */
    unsigned char digest[MARKER_BODY_AUTH_LEN];  /* the body's loop-marker MAC: nonce || GMAC
                                                    tag, for marker_make_v2 (marker.h) */
    int has_random;               /* a random passphrase slot was added ... */
    char random_pass[ENV_RANDOM_PASS_SHOWN + 1];   /* ... opened by this (secret) */
    size_t nslots;                /* key slots written */
    const char *reason;           /* a short static reason on failure, or NULL */
};

/* An extra passphrase key that opens the envelope (mailseal encrypt
 * --passphrase-file), with the name its hint is made for (NULL: none). */
struct wrap_extra {
    const struct env_recipient_key *key;
    const char *name;
};

/* wrap_keeps_header - 1 when the wrapper carries field name (any case) */
int wrap_keeps_header(const struct config *cfg, const char *name);
int wrap_body(const struct config *cfg, const struct config_template *t, struct spool *sp,
              const struct msg_envelope *env, const struct wrap_extra *extra,
              wrap_out_fn out, void *arg, struct wrap_info *info);
void wrap_info_clear(struct wrap_info *info);

#endif
