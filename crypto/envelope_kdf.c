/*
 * envelope_kdf - the key derivations of docs/ENVELOPE.md shared by the
 * envelope writer and reader: PBKDF2 of an NFC-normalised passphrase
 * (kind 1), the canonical form and HKDF of a random passphrase (kind 2),
 * X25519 and HKDF for the recovery slot (kind 3), the slot hint, slot
 * wrapping and unwrapping, and loading recovery keys from PEM files.
 *
 * Interface: envelope.h (public) and envelope_int.h (private).  Callers
 * own every output buffer; every buffer here that held a passphrase or a
 * key is wiped with OPENSSL_cleanse before it is released, and key
 * outputs are wiped on failure.  Functions return 0, or -1 with errno:
 * EINVAL for a bad argument (a passphrase that is empty, too long or not
 * UTF-8, iterations out of range, a malformed random passphrase), ENOMEM,
 * EIO for an OpenSSL failure; env_unwrap() returns 1 when the tag does
 * not verify.  PEM loaders put a short reason into errmsg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <utf8proc.h>

#include "crypto/envelope_int.h"
#include "crypto/keyfile.h"
#include "util/diag.h"

#define ENV_PEM_MAX 16384

static const char env_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* env_rand - the production rng: RAND_bytes */
int env_rand(void *arg, unsigned char *buf, size_t len)
{
    (void)arg;
    if (len > (size_t)INT32_MAX || RAND_bytes(buf, (int)len) != 1) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* env_nfc - trim trailing CR/LF and normalise to NFC into a fresh buffer (wipe and free it) */
static int env_nfc(const char *pass, size_t len, unsigned char **out, size_t *out_len)
{
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t n, m;
    utf8proc_int32_t *cp;
    size_t size;

    if (pass == NULL) {
        errno = EINVAL;
        return -1;
    }
    while (len > 0 && (pass[len - 1] == '\r' || pass[len - 1] == '\n'))
        len--;
    if (len == 0 || len > ENV_MAX_PASS_BYTES) {
        errno = EINVAL;
        return -1;
    }
    n = utf8proc_decompose((const utf8proc_uint8_t *)pass, (utf8proc_ssize_t)len, NULL, 0, opt);
    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    size = (size_t)n * sizeof(*cp) + 1;
    if ((cp = malloc(size)) == NULL)
        return -1;
    m = utf8proc_decompose((const utf8proc_uint8_t *)pass, (utf8proc_ssize_t)len, cp, n, opt);
    if (m == n)
        m = utf8proc_reencode(cp, n, opt);          /* composes, then UTF-8 in place */
    if (m < 0 || m > n * (utf8proc_ssize_t)sizeof(*cp)) {
        OPENSSL_cleanse(cp, size);
        free(cp);
        errno = EINVAL;
        return -1;
    }
    if ((size_t)m < size)
        OPENSSL_cleanse((unsigned char *)cp + m, size - (size_t)m);
    *out = (unsigned char *)cp;
    *out_len = (size_t)m;
    return 0;
}

/* kdf_derive - 32 bytes from the OpenSSL KDF alg with params p; on
 * failure out is wiped, -1 EIO */
static int kdf_derive(const char *alg, const OSSL_PARAM p[], unsigned char out[ENV_KEY_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, alg, NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int ok = ctx != NULL && EVP_KDF_derive(ctx, out, ENV_KEY_LEN, p) == 1;

    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (!ok) {
        OPENSSL_cleanse(out, ENV_KEY_LEN);
        errno = EIO;
        return -1;
    }
    return 0;
}

/* env_pbkdf2 - PBKDF2-HMAC-SHA256, 32 bytes out */
static int env_pbkdf2(const unsigned char *pw, size_t pw_len, const unsigned char *salt,
                      uint32_t iterations, unsigned char out[ENV_KEY_LEN])
{
    OSSL_PARAM p[5];
    unsigned int iter = iterations;

    p[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, pw_len);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, ENV_SALT_LEN);
    p[2] = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
    p[3] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[4] = OSSL_PARAM_construct_end();
    return kdf_derive("PBKDF2", p, out);
}

/* env_passphrase_kek - kind 1 KEK: PBKDF2 of the NFC form of the passphrase */
int env_passphrase_kek(const char *pass, size_t len, const unsigned char salt[ENV_SALT_LEN],
                       uint32_t iterations, unsigned char kek[ENV_KEY_LEN])
{
    unsigned char *pw;
    size_t pw_len;
    int rc;

    if (kek == NULL || salt == NULL || iterations < ENV_MIN_ITERATIONS
        || iterations > ENV_MAX_ITERATIONS) {
        errno = EINVAL;
        return -1;
    }
    if (env_nfc(pass, len, &pw, &pw_len) < 0)
        return -1;
    rc = env_pbkdf2(pw, pw_len, salt, iterations, kek);
    OPENSSL_cleanse(pw, pw_len);
    free(pw);
    return rc;
}

/* env_derive_passphrase_key - a recipient key with a fresh random salt */
int env_derive_passphrase_key(const char *pass, size_t len, uint32_t iterations,
                              struct env_recipient_key *out)
{
    if (out == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (env_rand(NULL, out->salt, ENV_SALT_LEN) < 0)
        return -1;
    out->iterations = iterations;
    if (env_passphrase_kek(pass, len, out->salt, iterations, out->kek) < 0) {
        int e = errno;

        OPENSSL_cleanse(out, sizeof(*out));
        errno = e;
        return -1;
    }
    return 0;
}

/* env_hkdf - HKDF-SHA256 with an ASCII info string, 32 bytes out */
int env_hkdf(const unsigned char *ikm, size_t ikm_len, const unsigned char *salt, size_t salt_len,
             const char *info, unsigned char out[ENV_KEY_LEN])
{
    OSSL_PARAM p[5];

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    p[4] = OSSL_PARAM_construct_end();
    return kdf_derive("HKDF", p, out);
}

/* env_hint - first byte of HMAC-SHA256(key = NB, message = name) */
int env_hint(const unsigned char nb[ENV_NONCE_LEN], const char *name, size_t len,
             unsigned char *hint)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM p[2];
    unsigned char md[32];
    size_t md_len = 0;
    int ok;

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_MAC_init(ctx, nb, ENV_NONCE_LEN, p) == 1
         && EVP_MAC_update(ctx, (const unsigned char *)name, len) == 1
         && EVP_MAC_final(ctx, md, &md_len, sizeof(md)) == 1 && md_len == sizeof(md);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok) {
        errno = EIO;
        return -1;
    }
    *hint = md[0];
    return 0;
}

/* env_random_shown - 22 characters from the first 110 bits, in groups of four joined by '-' */
void env_random_shown(const unsigned char bits[ENV_RANDOM_BITS_LEN],
                      char shown[ENV_RANDOM_PASS_SHOWN + 1])
{
    size_t o = 0;

    for (size_t i = 0; i < ENV_RANDOM_PASS_CHARS; i++) {
        unsigned v = 0;

        for (size_t b = 0; b < 5; b++) {
            size_t bit = i * 5 + b;

            v = v << 1 | ((bits[bit / 8] >> (7 - bit % 8)) & 1u);
        }
        if (i > 0 && i % 4 == 0)
            shown[o++] = '-';
        shown[o++] = env_alphabet[v];
    }
    shown[o] = '\0';
}

/* env_random_canonical - what a reader does to a typed random passphrase */
int env_random_canonical(const char *typed, size_t len, char out[ENV_RANDOM_PASS_CHARS + 1])
{
    size_t n = 0;

    if (typed == NULL || out == NULL || len > ENV_MAX_TYPED) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)typed[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        if (c == 'O')
            c = '0';
        else if (c == 'I' || c == 'L')
            c = '1';
        if (c == '\0' || strchr(env_alphabet, c) == NULL || n == ENV_RANDOM_PASS_CHARS) {
            OPENSSL_cleanse(out, ENV_RANDOM_PASS_CHARS + 1);
            errno = EINVAL;
            return -1;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (n != ENV_RANDOM_PASS_CHARS) {
        OPENSSL_cleanse(out, ENV_RANDOM_PASS_CHARS + 1);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* env_random_kek - kind 2 KEK: HKDF of the canonical passphrase */
int env_random_kek(const char canon[ENV_RANDOM_PASS_CHARS], const unsigned char salt[ENV_SALT_LEN],
                   unsigned char kek[ENV_KEY_LEN])
{
    return env_hkdf((const unsigned char *)canon, ENV_RANDOM_PASS_CHARS, salt, ENV_SALT_LEN,
                    ENV_INFO_RANDOM, kek);
}

/* env_x25519_key - an EVP_PKEY for a raw X25519 private key */
static EVP_PKEY *env_x25519_key(const unsigned char priv[ENV_X25519_LEN])
{
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, ENV_X25519_LEN);
}

/* env_x25519_public - the public key of a raw X25519 private key */
int env_x25519_public(const unsigned char priv[ENV_X25519_LEN], unsigned char pub[ENV_X25519_LEN])
{
    EVP_PKEY *k = env_x25519_key(priv);
    size_t len = ENV_X25519_LEN;
    int ok = k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == ENV_X25519_LEN;

    EVP_PKEY_free(k);
    if (!ok) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* env_key_id - first 8 bytes of SHA-256 of a raw public key */
int env_key_id(const unsigned char pub[ENV_X25519_LEN], unsigned char id[ENV_KEY_ID_LEN])
{
    unsigned char md[32];
    unsigned int md_len = 0;

    if (EVP_Digest(pub, ENV_X25519_LEN, md, &md_len, EVP_sha256(), NULL) != 1) {
        errno = EIO;
        return -1;
    }
    memcpy(id, md, ENV_KEY_ID_LEN);
    return 0;
}

/* env_recovery_kek - kind 3 KEK: HKDF(X25519(priv, peer), salt = E || org_pub) */
int env_recovery_kek(const unsigned char priv[ENV_X25519_LEN], const unsigned char peer[ENV_X25519_LEN],
                     const unsigned char e_pub[ENV_X25519_LEN], const unsigned char org_pub[ENV_X25519_LEN],
                     unsigned char kek[ENV_KEY_LEN])
{
    EVP_PKEY *k = env_x25519_key(priv);
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, ENV_X25519_LEN);
    EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL) : NULL;
    unsigned char z[ENV_X25519_LEN], salt[2 * ENV_X25519_LEN];
    size_t z_len = sizeof(z);
    int rc = -1;

    /* OpenSSL refuses an all-zero shared secret (a low-order peer key) */
    if (p != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1
        && EVP_PKEY_derive_set_peer(ctx, p) == 1 && EVP_PKEY_derive(ctx, z, &z_len) == 1
        && z_len == sizeof(z)) {
        memcpy(salt, e_pub, ENV_X25519_LEN);
        memcpy(salt + ENV_X25519_LEN, org_pub, ENV_X25519_LEN);
        rc = env_hkdf(z, sizeof(z), salt, sizeof(salt), ENV_INFO_RECOVERY, kek);
    } else {
        errno = EIO;
    }
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
    return rc;
}

/* env_gcm_aad - the slot AAD: HP || kind */
static void env_gcm_aad(const unsigned char hp[ENV_PREFIX_LEN], unsigned kind,
                        unsigned char aad[ENV_PREFIX_LEN + 1])
{
    memcpy(aad, hp, ENV_PREFIX_LEN);
    aad[ENV_PREFIX_LEN] = (unsigned char)kind;
}

/* env_wrap - wrapped = AES-GCM(KEK, nonce, HP || kind, MK) */
int env_wrap(const unsigned char kek[ENV_KEY_LEN], const unsigned char nonce[ENV_NONCE_LEN],
             const unsigned char hp[ENV_PREFIX_LEN], unsigned kind,
             const unsigned char mk[ENV_KEY_LEN], unsigned char wrapped[ENV_WRAPPED_LEN])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char aad[ENV_PREFIX_LEN + 1];
    int n = 0, m = 0, ok;

    env_gcm_aad(hp, kind, aad);
    ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, kek, nonce) == 1
         && EVP_EncryptUpdate(c, NULL, &n, aad, (int)sizeof(aad)) == 1
         && EVP_EncryptUpdate(c, wrapped, &n, mk, ENV_KEY_LEN) == 1 && n == ENV_KEY_LEN
         && EVP_EncryptFinal_ex(c, wrapped + n, &m) == 1 && m == 0
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, ENV_TAG_LEN, wrapped + ENV_KEY_LEN) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* env_unwrap - open a wrapped MK; 1 when the tag does not verify */
int env_unwrap(const unsigned char kek[ENV_KEY_LEN], const unsigned char nonce[ENV_NONCE_LEN],
               const unsigned char hp[ENV_PREFIX_LEN], unsigned kind,
               const unsigned char wrapped[ENV_WRAPPED_LEN], unsigned char mk[ENV_KEY_LEN])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char aad[ENV_PREFIX_LEN + 1];
    int n = 0, m = 0, rc = -1;

    env_gcm_aad(hp, kind, aad);
    if (c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, kek, nonce) == 1
        && EVP_DecryptUpdate(c, NULL, &n, aad, (int)sizeof(aad)) == 1
        && EVP_DecryptUpdate(c, mk, &n, wrapped, ENV_KEY_LEN) == 1 && n == ENV_KEY_LEN
        && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, ENV_TAG_LEN,
                               (void *)(wrapped + ENV_KEY_LEN)) == 1)
        rc = EVP_DecryptFinal_ex(c, mk + n, &m) == 1 ? 0 : 1;
    EVP_CIPHER_CTX_free(c);
    if (rc != 0)
        OPENSSL_cleanse(mk, ENV_KEY_LEN);
    if (rc < 0)
        errno = EIO;
    return rc;
}

/* env_err - a short reason into errmsg (may be NULL) */
static void env_err(char *errmsg, size_t errlen, const char *path, const char *why)
{
    if (errmsg != NULL && errlen > 0)
        snprintf(errmsg, errlen, "%s: %s", path, why);
}

/* env_no_password - PEM password callback that refuses encrypted keys (never prompts) */
static int env_no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* env_read_pem - read a PEM file (at most ENV_PEM_MAX bytes) into a BIO;
 * private ones checked as secret key files, public ones against replacement */
static BIO *env_read_pem(const char *path, int private, char *text, char *errmsg, size_t errlen)
{
    size_t got = 0;
    ssize_t n;
    /* O_NONBLOCK: a FIFO is refused as not regular, not waited on */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    BIO *bio = NULL;

    if (fd < 0) {
        env_err(errmsg, errlen, path, errno == ELOOP ? "key file is a symbolic link: refused"
                                                     : strerror(errno));
        return NULL;
    }
    {
        struct diag d;

        diag_init(&d);
        if ((private ? keyfile_check_perms(path, fd, &d)
                     : keyfile_check_public(path, fd, &d)) < 0) {
            if (errmsg != NULL && errlen > 0)
                snprintf(errmsg, errlen, "%s", diag_count(&d) ? diag_get(&d, 0) : path);
            diag_free(&d);
            close(fd);
            errno = EACCES;
            return NULL;
        }
        diag_free(&d);
    }
    while (got < ENV_PEM_MAX && (n = read(fd, text + got, ENV_PEM_MAX - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            env_err(errmsg, errlen, path, strerror(errno));
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    if (got == ENV_PEM_MAX) {
        env_err(errmsg, errlen, path, "key file too large");
        errno = EINVAL;
        return NULL;
    }
    if ((bio = BIO_new_mem_buf(text, (int)got)) == NULL) {
        env_err(errmsg, errlen, path, "out of memory");
        errno = ENOMEM;
    }
    return bio;
}

/* env_load_x25519 - the raw X25519 key (private when priv, else public)
 * of a PEM key file; the file's text and, on failure, out are wiped */
static int env_load_x25519(const char *path, int priv, unsigned char out[ENV_X25519_LEN],
                           char *errmsg, size_t errlen)
{
    char *text = malloc(ENV_PEM_MAX);
    BIO *bio = NULL;
    EVP_PKEY *k = NULL;
    size_t len = ENV_X25519_LEN;
    int rc = -1;

    if (path == NULL || out == NULL) {
        free(text);
        errno = EINVAL;
        return -1;
    }
    if (text == NULL) {
        env_err(errmsg, errlen, path, "out of memory");
        return -1;
    }
    if ((bio = env_read_pem(path, priv, text, errmsg, errlen)) == NULL)
        goto out;
    k = priv ? PEM_read_bio_PrivateKey(bio, NULL, env_no_password, NULL)
             : PEM_read_bio_PUBKEY(bio, NULL, env_no_password, NULL);
    if (k == NULL || !EVP_PKEY_is_a(k, "X25519")) {
        env_err(errmsg, errlen, path, priv ? "not an unencrypted PEM X25519 private key"
                                           : "not a PEM X25519 public key");
        errno = EINVAL;
    } else if ((priv ? EVP_PKEY_get_raw_private_key(k, out, &len)
                     : EVP_PKEY_get_raw_public_key(k, out, &len)) != 1
               || len != ENV_X25519_LEN) {
        env_err(errmsg, errlen, path, priv ? "cannot read the X25519 private key"
                                           : "cannot read the X25519 public key");
        OPENSSL_cleanse(out, ENV_X25519_LEN);
        errno = EIO;
    } else {
        rc = 0;
    }
out:
    EVP_PKEY_free(k);
    BIO_free(bio);
    OPENSSL_cleanse(text, ENV_PEM_MAX);
    free(text);
    return rc;
}

/* env_load_recovery_public - the raw X25519 public key of a PEM public key file */
int env_load_recovery_public(const char *path, unsigned char pub[ENV_X25519_LEN],
                             char *errmsg, size_t errlen)
{
    return env_load_x25519(path, 0, pub, errmsg, errlen);
}

/* env_load_recovery_private - the raw X25519 private key of a PEM private key file */
int env_load_recovery_private(const char *path, unsigned char priv[ENV_X25519_LEN],
                              char *errmsg, size_t errlen)
{
    return env_load_x25519(path, 1, priv, errmsg, errlen);
}
