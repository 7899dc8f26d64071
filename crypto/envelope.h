/*
 * envelope - the encrypted envelope of docs/ENVELOPE.md (format version
 * 1): a header with key slots, then the original message in AES-256-GCM
 * chunks.  Writing and reading both stream in constant memory.
 *
 * Writer: env_writer_new() draws a fresh message key and nonce base; key
 * slots are added (at least one) before env_writer_begin(), which writes
 * the header through the output function; env_writer_update() encrypts
 * plaintext as it comes and writes every full chunk; env_writer_finish()
 * writes the last chunk.  env_writer_size() tells beforehand the exact
 * number of bytes the envelope of a plaintext of a given length takes, so
 * a caller can refuse a message before writing anything.
 *
 * Reader: see env_reader_*() below.  It never releases plaintext of a
 * chunk whose tag does not verify.
 *
 * Every function returns 0 (or a documented value) on success and -1 with
 * errno on failure: EINVAL bad argument, ENOMEM, EBADMSG damaged or
 * truncated envelope, ENOKEY no slot opens with the key given, EPROTO an
 * envelope of a version or suite this code does not know, EIO an OpenSSL
 * failure; the output function's errno is passed through.  Keys and
 * key-derived values are wiped when no longer needed; env_writer_free()
 * and env_reader_free() wipe the rest.  Nothing here logs.  A writer or
 * reader is used by one thread at a time.
 */
#ifndef MAILSEAL_CRYPTO_ENVELOPE_H
#define MAILSEAL_CRYPTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define ENV_KEY_LEN 32
#define ENV_SALT_LEN 16
#define ENV_DEFAULT_CHUNK 65536
#define ENV_MIN_CHUNK 1024
#define ENV_MAX_CHUNK (16u * 1024 * 1024)
#define ENV_MIN_ITERATIONS 100000u
#define ENV_DEFAULT_ITERATIONS 600000u
#define ENV_RANDOM_PASS_CHARS 22     /* canonical form of a random passphrase */
#define ENV_RANDOM_PASS_SHOWN 27     /* shown form: groups of four joined by '-' */
#define ENV_X25519_LEN 32

/* out - receives the envelope bytes in order; 0, or -1 with errno */
typedef int (*env_out_fn)(void *arg, const void *data, size_t len);

/* A recipient's stored key: what `mailseal secret set` keeps (never the
 * passphrase itself). */
struct env_recipient_key {
    unsigned char salt[ENV_SALT_LEN];
    uint32_t iterations;
    unsigned char kek[ENV_KEY_LEN];
};

/* env_derive_passphrase_key - derive a recipient key from a passphrase
 * (UTF-8, normalised to NFC; trailing CR/LF are not part of it) with a
 * fresh random salt and the given iterations (>= ENV_MIN_ITERATIONS). */
int env_derive_passphrase_key(const char *pass, size_t len, uint32_t iterations,
                              struct env_recipient_key *out);
/* env_passphrase_kek - the same derivation with a given salt (readers) */
int env_passphrase_kek(const char *pass, size_t len, const unsigned char salt[ENV_SALT_LEN],
                       uint32_t iterations, unsigned char kek[ENV_KEY_LEN]);
/* env_random_canonical - the canonical form of a typed random passphrase
 * into out (ENV_RANDOM_PASS_CHARS + 1 bytes, NUL-terminated); -1 EINVAL
 * when it is not 22 characters of the alphabet after canonicalisation. */
int env_random_canonical(const char *typed, size_t len, char out[ENV_RANDOM_PASS_CHARS + 1]);

struct env_writer;

/* env_writer_new - a writer with a fresh message key; chunk_size 0 means
 * ENV_DEFAULT_CHUNK.  NULL with errno. */
struct env_writer *env_writer_new(size_t chunk_size);
/* env_writer_add_passphrase - a recipient passphrase slot (kind 1); name
 * is the store name the key was found under (lower-cased address or
 * "@domain"), used for the slot's hint. */
int env_writer_add_passphrase(struct env_writer *w, const struct env_recipient_key *k,
                              const char *name);
/* env_writer_add_random - a per-message random passphrase slot (kind 2);
 * the passphrase in its shown form is written to shown (NUL-terminated). */
int env_writer_add_random(struct env_writer *w, char shown[ENV_RANDOM_PASS_SHOWN + 1]);
/* env_writer_add_recovery - an organisation recovery slot (kind 3) for the
 * raw X25519 public key org_pub. */
int env_writer_add_recovery(struct env_writer *w, const unsigned char org_pub[ENV_X25519_LEN]);
/* env_writer_size - the exact envelope size for plain_len bytes of
 * plaintext with the slots added so far */
uint64_t env_writer_size(const struct env_writer *w, uint64_t plain_len);
int env_writer_begin(struct env_writer *w, env_out_fn out, void *arg);
int env_writer_update(struct env_writer *w, const void *data, size_t len);
int env_writer_finish(struct env_writer *w);
void env_writer_free(struct env_writer *w);

/* Recovery keys: PEM files as written by `openssl genpkey -algorithm
 * X25519` (private; checked like every key file: not readable by others)
 * and `openssl pkey -pubout` (public).  errmsg (may be NULL) receives a
 * short reason on failure. */
int env_load_recovery_public(const char *path, unsigned char pub[ENV_X25519_LEN],
                             char *errmsg, size_t errlen);

/* env_load_recovery_private - the raw X25519 private key of a PEM private
 * key file (PKCS#8, unencrypted), refused unless it is a regular file owned
 * by root or the caller and not readable by others (keyfile_check_perms).
 * priv is wiped on failure. */
int env_load_recovery_private(const char *path, unsigned char priv[ENV_X25519_LEN],
                              char *errmsg, size_t errlen);

/*
 * Reader.  env_reader_new(out, arg) makes a reader that passes verified
 * plaintext to out.  env_reader_feed() takes the envelope in pieces of any
 * size: it parses the header, then, once a key is set, decrypts each chunk
 * and passes its plaintext to out only after the chunk's tag verified.  It
 * returns the number of bytes it took, which is len except when the header
 * completed without a key: it then stops right after the header, and the
 * caller lists the slots (env_reader_header_done(), env_reader_nslots(),
 * env_reader_slot()), calls one of the env_reader_unlock_*() until one
 * returns 0, and feeds the rest.  env_reader_finish() at the end of input
 * decrypts the last chunk; it fails with EBADMSG when the envelope ended
 * inside the header or without a verified last chunk, or had bytes after
 * it.  After any failure every further call fails the same way; plaintext
 * already passed to out must then be discarded by the caller.
 *
 * The unlock functions return 0 when a slot opened (or the reader is
 * already unlocked), -1 ENOKEY when no slot of that kind opens, EINVAL
 * before the header is complete or for a malformed key.
 */
struct env_reader;

struct env_slot_info {
    unsigned kind;                /* 1, 2, 3, or another (unknown) kind */
    unsigned body_len;
    unsigned hint;                /* kind 1 */
    uint32_t iterations;          /* kind 1 */
    unsigned char key_id[8];      /* kind 3 */
};

/* env_reader_new - a reader passing verified plaintext to out; NULL with errno */
struct env_reader *env_reader_new(env_out_fn out, void *arg);
/* env_reader_feed - bytes taken (see above), or -1 with errno */
long env_reader_feed(struct env_reader *r, const void *data, size_t len);
/* env_reader_header_done - 1 once the whole header was read and checked */
int env_reader_header_done(const struct env_reader *r);
/* env_reader_chunk_size - the envelope's chunk_size (0 before the header) */
size_t env_reader_chunk_size(const struct env_reader *r);
/* env_reader_nslots - number of key slots (0 before the header) */
size_t env_reader_nslots(const struct env_reader *r);
/* env_reader_slot - what slot i reveals; -1 EINVAL when out of range */
int env_reader_slot(const struct env_reader *r, size_t i, struct env_slot_info *info);
/* env_reader_unlock_passphrase - try the kind 1 slots with a passphrase;
 * with addr (an address, any case), the slots whose hint matches the
 * address or "@" and its domain are tried first. */
int env_reader_unlock_passphrase(struct env_reader *r, const char *pass, size_t len,
                                 const char *addr);
/* env_reader_unlock_recipient_key - try the kind 1 slots with a stored
 * recipient key (those with its salt and iterations) */
int env_reader_unlock_recipient_key(struct env_reader *r, const struct env_recipient_key *k);
/* env_reader_unlock_random - try the kind 2 slots with a typed random passphrase */
int env_reader_unlock_random(struct env_reader *r, const char *typed, size_t len);
/* env_reader_unlock_recovery - try the kind 3 slots with the private key in a PEM file */
int env_reader_unlock_recovery(struct env_reader *r, const char *path, char *errmsg, size_t errlen);
/* env_reader_unlock_recovery_key - the same with a raw X25519 private key */
int env_reader_unlock_recovery_key(struct env_reader *r, const unsigned char priv[ENV_X25519_LEN]);
/* env_reader_finish - end of input: the last chunk must verify as the last */
int env_reader_finish(struct env_reader *r);
/* env_reader_free - wipe and release a reader (NULL is fine) */
void env_reader_free(struct env_reader *r);

#endif
