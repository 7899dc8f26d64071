/*
 * envelope_int - private to the envelope modules (envelope.c,
 * envelope_read.c, envelope_kdf.c) and their tests: format constants, the
 * key derivations and slot wrapping shared by writer and reader, and the
 * deterministic writer used to produce test vectors.  Nothing outside
 * crypto/envelope*.c and tests/crypto includes this header.
 *
 * Every function returns 0 on success and -1 with errno (EINVAL, ENOMEM,
 * EIO for an OpenSSL failure); env_unwrap() also returns 1 for "the tag
 * does not verify" (not this slot).  Outputs that hold keys are wiped on
 * failure.
 */
#ifndef MAILSEAL_CRYPTO_ENVELOPE_INT_H
#define MAILSEAL_CRYPTO_ENVELOPE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"

#define ENV_MAGIC "MSEALENV"
#define ENV_MAGIC_LEN 8
#define ENV_VERSION 1
#define ENV_SUITE 1
#define ENV_NONCE_LEN 12
#define ENV_TAG_LEN 16
#define ENV_PREFIX_LEN 30           /* HP: offsets 0..29 */
#define ENV_FIXED_LEN 32            /* HP and nslots */
#define ENV_MAX_HEADER (1024u * 1024)
#define ENV_MAX_SLOTS 1024u
#define ENV_MAX_ITERATIONS 10000000u
#define ENV_MAX_PASS_BYTES 4096     /* a passphrase longer than this is refused */
#define ENV_MAX_TYPED 256           /* a typed random passphrase longer than this is refused */
#define ENV_WRAPPED_LEN 48
#define ENV_KEY_ID_LEN 8
#define ENV_RANDOM_BITS_LEN 14      /* bytes drawn for a random passphrase (110 of 112 bits used) */
#define ENV_SLOT_HEAD 3             /* kind and body_len */

#define ENV_KIND_PASSPHRASE 1
#define ENV_KIND_RANDOM 2
#define ENV_KIND_RECOVERY 3
#define ENV_BODY_PASSPHRASE 81
#define ENV_BODY_RANDOM 76
#define ENV_BODY_RECOVERY 100

#define ENV_INFO_PAYLOAD "mailseal v1 payload"
#define ENV_INFO_RANDOM "mailseal v1 random passphrase"
#define ENV_INFO_RECOVERY "mailseal v1 recovery"

/* rng - fill buf with len random bytes; 0, or -1 with errno */
typedef int (*env_rng_fn)(void *arg, unsigned char *buf, size_t len);

/*
 * env_writer_new_det - a writer that draws every random value from rng,
 * FOR TEST VECTORS ONLY.  The draws, in order: MK (32 bytes), NB (12) at
 * creation; then per slot, as it is added: kind 1: slot_nonce (12);
 * kind 2: passphrase bits (14; the first 110 bits, most significant first,
 * make the 22 characters), salt (16), slot_nonce (12); kind 3: ephemeral
 * X25519 private key (32), slot_nonce (12).  env_writer_new() is the same
 * with RAND_bytes.
 */
struct env_writer *env_writer_new_det(size_t chunk_size, env_rng_fn rng, void *arg);

/* env_rand - the production rng (RAND_bytes) */
int env_rand(void *arg, unsigned char *buf, size_t len);
/* env_hkdf - HKDF-SHA256 with an ASCII info string, 32 bytes out */
int env_hkdf(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len,
             const char *info, unsigned char out[ENV_KEY_LEN]);
/* env_hint - first byte of HMAC-SHA256(key = NB, name) */
int env_hint(const unsigned char nb[ENV_NONCE_LEN], const char *name, size_t len,
             unsigned char *hint);
/* env_random_shown - the shown form of a random passphrase made from 14 drawn bytes */
void env_random_shown(const unsigned char bits[ENV_RANDOM_BITS_LEN],
                      char shown[ENV_RANDOM_PASS_SHOWN + 1]);
/* env_random_kek - kind 2 KEK from a canonical passphrase and the slot's salt */
int env_random_kek(const char canon[ENV_RANDOM_PASS_CHARS], const unsigned char salt[ENV_SALT_LEN],
                   unsigned char kek[ENV_KEY_LEN]);
/* env_x25519_public - the public key of a raw X25519 private key */
int env_x25519_public(const unsigned char priv[ENV_X25519_LEN], unsigned char pub[ENV_X25519_LEN]);
/* env_key_id - first 8 bytes of SHA-256 of a raw public key */
int env_key_id(const unsigned char pub[ENV_X25519_LEN], unsigned char id[ENV_KEY_ID_LEN]);
/* env_recovery_kek - kind 3 KEK: X25519(priv, peer), salt E || org_pub */
int env_recovery_kek(const unsigned char priv[ENV_X25519_LEN], const unsigned char peer[ENV_X25519_LEN],
                     const unsigned char e_pub[ENV_X25519_LEN], const unsigned char org_pub[ENV_X25519_LEN],
                     unsigned char kek[ENV_KEY_LEN]);
/* env_wrap - wrapped = AES-GCM(KEK, nonce, HP || kind, MK) */
int env_wrap(const unsigned char kek[ENV_KEY_LEN], const unsigned char nonce[ENV_NONCE_LEN],
             const unsigned char hp[ENV_PREFIX_LEN], unsigned kind,
             const unsigned char mk[ENV_KEY_LEN], unsigned char wrapped[ENV_WRAPPED_LEN]);
/* env_unwrap - the inverse; 0 opened, 1 the tag does not verify, -1 error */
int env_unwrap(const unsigned char kek[ENV_KEY_LEN], const unsigned char nonce[ENV_NONCE_LEN],
               const unsigned char hp[ENV_PREFIX_LEN], unsigned kind,
               const unsigned char wrapped[ENV_WRAPPED_LEN], unsigned char mk[ENV_KEY_LEN]);

/* env_put32 / env_get32 - big-endian helpers */
static inline void env_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline uint32_t env_get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
