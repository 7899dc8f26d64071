/*
 * envelope_read - the streaming envelope reader of docs/ENVELOPE.md (see
 * envelope.h).
 *
 * A pure parser: bytes in through env_reader_feed(), verified plaintext
 * out through the caller's output function.  The first 32 bytes are
 * checked as soon as they are in (magic, version, suite, header_len,
 * chunk_size, nslots); the header is then collected up to header_len
 * (at most 1 MiB) and its slots checked.  After an unlock, chunks collect
 * in one buffer of chunk_size + 16 bytes (at most 16 MiB + 16): a full
 * buffer is decrypted as not-last when one more byte arrives, and what is
 * left at env_reader_finish() as the last.  Plaintext is decrypted into
 * that buffer and passed on only after EVP_DecryptFinal_ex verified the
 * tag; a failing chunk is wiped.
 *
 * Failure: -1 with errno (envelope.h); the first failure of the envelope
 * (EBADMSG, EPROTO, EIO or the output's errno) sticks.  The caller owns the
 * reader; env_reader_free() wipes the keys and buffers.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/envelope_int.h"

enum env_rstate { R_HEAD, R_LOCKED, R_BODY, R_DONE, R_FAILED };

struct env_rslot {
    unsigned kind;
    unsigned body_len;
    size_t off;                         /* body offset in the header */
};

struct env_reader {
    enum env_rstate state;
    int err;                            /* errno of the failure in R_FAILED */
    env_out_fn out;
    void *out_arg;
    unsigned char fixed[ENV_FIXED_LEN];
    unsigned char *hdr;                 /* header_len bytes once the fixed part is in */
    size_t got;                         /* header bytes read so far */
    size_t header_len, chunk_size, nslots;
    struct env_rslot *slots;
    unsigned char nb[ENV_NONCE_LEN];
    unsigned char hd[32];
    EVP_CIPHER_CTX *c;                  /* keyed with PK after an unlock */
    unsigned char *buf;                 /* chunk_size + 16 */
    size_t fill;
    uint64_t index;
};

/* env_reader_new - a reader passing verified plaintext to out */
struct env_reader *env_reader_new(env_out_fn out, void *arg)
{
    struct env_reader *r;

    if (out == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->out = out;
    r->out_arg = arg;
    return r;
}

/* env_reader_fail - enter the failed state with errno e */
static long env_reader_fail(struct env_reader *r, int e)
{
    r->state = R_FAILED;
    r->err = e;
    if (r->buf != NULL)
        OPENSSL_cleanse(r->buf, r->chunk_size + ENV_TAG_LEN);
    errno = e;
    return -1;
}

/* env_reader_check_fixed - the first 32 bytes: 0, or an errno */
static int env_reader_check_fixed(struct env_reader *r)
{
    const unsigned char *f = r->fixed;
    uint32_t hlen = env_get32(f + 10), cs = env_get32(f + 14);
    unsigned ns = (unsigned)f[30] << 8 | f[31];

    if (memcmp(f, ENV_MAGIC, ENV_MAGIC_LEN) != 0)
        return EBADMSG;
    if (f[8] != ENV_VERSION || f[9] != ENV_SUITE)
        return EPROTO;
    if (hlen < ENV_FIXED_LEN || hlen > ENV_MAX_HEADER || cs < ENV_MIN_CHUNK || cs > ENV_MAX_CHUNK
        || ns < 1 || ns > ENV_MAX_SLOTS || hlen < ENV_FIXED_LEN + (size_t)ns * ENV_SLOT_HEAD)
        return EBADMSG;
    r->header_len = hlen;
    r->chunk_size = cs;
    r->nslots = ns;
    memcpy(r->nb, f + 18, ENV_NONCE_LEN);
    if ((r->hdr = malloc(hlen)) == NULL || (r->slots = calloc(ns, sizeof(*r->slots))) == NULL)
        return ENOMEM;
    memcpy(r->hdr, f, ENV_FIXED_LEN);
    return 0;
}

/* env_reader_check_slots - the slots of the whole header: 0, or an errno */
static int env_reader_check_slots(struct env_reader *r)
{
    size_t o = ENV_FIXED_LEN;

    for (size_t i = 0; i < r->nslots; i++) {
        struct env_rslot *s = &r->slots[i];
        unsigned want = 0;

        if (r->header_len - o < ENV_SLOT_HEAD)
            return EBADMSG;
        s->kind = r->hdr[o];
        s->body_len = (unsigned)r->hdr[o + 1] << 8 | r->hdr[o + 2];
        s->off = o + ENV_SLOT_HEAD;
        if (s->kind == 0 || r->header_len - s->off < s->body_len)
            return EBADMSG;
        if (s->kind == ENV_KIND_PASSPHRASE)
            want = ENV_BODY_PASSPHRASE;
        else if (s->kind == ENV_KIND_RANDOM)
            want = ENV_BODY_RANDOM;
        else if (s->kind == ENV_KIND_RECOVERY)
            want = ENV_BODY_RECOVERY;
        if (want != 0 && s->body_len != want)
            return EBADMSG;
        if (s->kind == ENV_KIND_PASSPHRASE) {
            uint32_t it = env_get32(r->hdr + s->off + ENV_SALT_LEN);

            if (it < ENV_MIN_ITERATIONS || it > ENV_MAX_ITERATIONS)
                return EBADMSG;
        }
        o = s->off + s->body_len;
    }
    if (o != r->header_len)
        return EBADMSG;
    if (EVP_Digest(r->hdr, r->header_len, r->hd, NULL, EVP_sha256(), NULL) != 1)
        return EIO;
    return 0;
}

/* env_reader_header - take header bytes; the count taken, or -1 */
static long env_reader_header(struct env_reader *r, const unsigned char *p, size_t len)
{
    size_t taken = 0;
    int e;

    if (r->got < ENV_FIXED_LEN) {
        size_t n = ENV_FIXED_LEN - r->got < len ? ENV_FIXED_LEN - r->got : len;

        if (n > 0)                      /* p may be NULL when len is 0 */
            memcpy(r->fixed + r->got, p, n);
        r->got += n;
        taken = n;
        if (r->got < ENV_FIXED_LEN)
            return (long)taken;
        if ((e = env_reader_check_fixed(r)) != 0)
            return env_reader_fail(r, e);
    }
    if (r->got < r->header_len) {
        size_t n = r->header_len - r->got < len - taken ? r->header_len - r->got : len - taken;

        if (n > 0)
            memcpy(r->hdr + r->got, p + taken, n);
        r->got += n;
        taken += n;
    }
    if (r->got == r->header_len) {
        if ((e = env_reader_check_slots(r)) != 0)
            return env_reader_fail(r, e);
        r->state = R_LOCKED;
    }
    return (long)taken;
}

/* env_reader_open - decrypt n bytes at in (chunk with tag; may be buf) and pass the plaintext on */
static int env_reader_open(struct env_reader *r, const unsigned char *in, size_t n, int last)
{
    unsigned char nonce[ENV_NONCE_LEN], aad[33];
    size_t ct = n - ENV_TAG_LEN;
    int outl = 0, fin = 0;

    memcpy(nonce, r->nb, ENV_NONCE_LEN);
    for (int b = 0; b < 8; b++)
        nonce[ENV_NONCE_LEN - 1 - b] ^= (unsigned char)(r->index >> (8 * b));
    memcpy(aad, r->hd, 32);
    aad[32] = last ? 1 : 0;
    if (EVP_DecryptInit_ex(r->c, NULL, NULL, NULL, nonce) != 1
        || EVP_DecryptUpdate(r->c, NULL, &outl, aad, (int)sizeof(aad)) != 1
        || (ct > 0 && EVP_DecryptUpdate(r->c, r->buf, &outl, in, (int)ct) != 1)
        || EVP_CIPHER_CTX_ctrl(r->c, EVP_CTRL_GCM_SET_TAG, ENV_TAG_LEN, (void *)(in + ct)) != 1)
        return (int)env_reader_fail(r, EIO);
    if (EVP_DecryptFinal_ex(r->c, r->buf + ct, &fin) != 1)
        return (int)env_reader_fail(r, EBADMSG);      /* wipes the unverified plaintext */
    r->index++;
    r->fill = 0;
    if (ct > 0 && r->out(r->out_arg, r->buf, ct) < 0)
        return (int)env_reader_fail(r, errno);
    return 0;
}

/* env_reader_feed - take envelope bytes (see envelope.h) */
long env_reader_feed(struct env_reader *r, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t cap, taken = 0;

    if (r == NULL || (p == NULL && len > 0) || len > LONG_MAX || r->state == R_DONE) {
        errno = EINVAL;
        return -1;
    }
    if (r->state == R_FAILED) {
        errno = r->err;
        return -1;
    }
    if (r->state == R_HEAD) {
        long n = env_reader_header(r, p, len);

        if (n < 0)
            return -1;
        taken = (size_t)n;
    }
    if (r->state != R_BODY)
        return (long)taken;
    cap = r->chunk_size + ENV_TAG_LEN;
    while (taken < len) {
        size_t n;

        if (r->fill == cap && env_reader_open(r, r->buf, cap, 0) < 0)
            return -1;
        if (r->fill == 0 && len - taken > cap) {
            if (env_reader_open(r, p + taken, cap, 0) < 0)
                return -1;
            taken += cap;
            continue;
        }
        n = cap - r->fill < len - taken ? cap - r->fill : len - taken;
        memcpy(r->buf + r->fill, p + taken, n);
        r->fill += n;
        taken += n;
    }
    return (long)taken;
}

/* env_reader_header_done - 1 once the whole header was read and checked */
int env_reader_header_done(const struct env_reader *r)
{
    return r != NULL && (r->state == R_LOCKED || r->state == R_BODY || r->state == R_DONE);
}

/* env_reader_chunk_size - the envelope's chunk_size */
size_t env_reader_chunk_size(const struct env_reader *r)
{
    return env_reader_header_done(r) ? r->chunk_size : 0;
}

/* env_reader_nslots - number of key slots */
size_t env_reader_nslots(const struct env_reader *r)
{
    return env_reader_header_done(r) ? r->nslots : 0;
}

/* env_reader_slot - what slot i reveals */
int env_reader_slot(const struct env_reader *r, size_t i, struct env_slot_info *info)
{
    const struct env_rslot *s;

    if (info == NULL || i >= env_reader_nslots(r)) {
        errno = EINVAL;
        return -1;
    }
    s = &r->slots[i];
    memset(info, 0, sizeof(*info));
    info->kind = s->kind;
    info->body_len = s->body_len;
    if (s->kind == ENV_KIND_PASSPHRASE) {
        info->iterations = env_get32(r->hdr + s->off + ENV_SALT_LEN);
        info->hint = r->hdr[s->off + ENV_SALT_LEN + 4];
    } else if (s->kind == ENV_KIND_RECOVERY) {
        memcpy(info->key_id, r->hdr + s->off, ENV_KEY_ID_LEN);
    }
    return 0;
}

/* env_reader_can_unlock - 1 to go on, 0 when already unlocked, -1 EINVAL or the failure */
static int env_reader_can_unlock(const struct env_reader *r)
{
    if (r == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (r->state == R_FAILED) {
        errno = r->err;
        return -1;
    }
    if (r->state == R_HEAD) {
        errno = EINVAL;
        return -1;
    }
    return r->state == R_LOCKED;
}

/* env_reader_try - unwrap slot s with kek; 0 opened (reader keyed), 1 not this slot, -1 error */
static int env_reader_try(struct env_reader *r, const struct env_rslot *s, size_t nonce_off,
                          const unsigned char kek[ENV_KEY_LEN])
{
    unsigned char mk[ENV_KEY_LEN], pk[ENV_KEY_LEN];
    const unsigned char *body = r->hdr + s->off;
    int rc = env_unwrap(kek, body + nonce_off, r->hdr, s->kind, body + nonce_off + ENV_NONCE_LEN, mk);

    if (rc != 0)
        return rc;
    rc = -1;
    if (env_hkdf(mk, ENV_KEY_LEN, r->nb, ENV_NONCE_LEN, ENV_INFO_PAYLOAD, pk) == 0) {
        if (r->buf == NULL && (r->buf = malloc(r->chunk_size + ENV_TAG_LEN)) == NULL) {
            /* errno is ENOMEM */
        } else if ((r->c = EVP_CIPHER_CTX_new()) == NULL
                   || EVP_DecryptInit_ex(r->c, EVP_aes_256_gcm(), NULL, pk, NULL) != 1) {
            errno = EIO;
        } else {
            r->state = R_BODY;
            rc = 0;
        }
    }
    OPENSSL_cleanse(mk, sizeof(mk));
    OPENSSL_cleanse(pk, sizeof(pk));
    return rc;
}

/* env_lower_ascii - an ASCII-lower-cased copy of s into out (cap bytes); -1 when too long */
static int env_lower_ascii(const char *s, size_t len, char *out, size_t cap)
{
    if (len >= cap)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[len] = '\0';
    return 0;
}

/* env_reader_hints - the hints of an address and of "@domain"; count of hints (0..2) */
static int env_reader_hints(const struct env_reader *r, const char *addr, unsigned char hints[2])
{
    char low[512];
    const char *at;
    int n = 0;

    if (addr == NULL || env_lower_ascii(addr, strlen(addr), low, sizeof(low)) < 0)
        return 0;
    if (env_hint(r->nb, low, strlen(low), &hints[n]) == 0)
        n++;
    if ((at = strrchr(low, '@')) != NULL && at != low
        && env_hint(r->nb, at, strlen(at), &hints[n]) == 0)
        n++;
    return n;
}

/* env_reader_unlock_passphrase - try the kind 1 slots, hinted ones first */
int env_reader_unlock_passphrase(struct env_reader *r, const char *pass, size_t len,
                                 const char *addr)
{
    unsigned char hints[2], kek[ENV_KEY_LEN];
    int go = env_reader_can_unlock(r), nh;

    if (go <= 0)
        return go;
    if (pass == NULL) {
        errno = EINVAL;
        return -1;
    }
    nh = env_reader_hints(r, addr, hints);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < r->nslots; i++) {
            const struct env_rslot *s = &r->slots[i];
            const unsigned char *b = r->hdr + s->off;
            int hinted = 0, rc;

            if (s->kind != ENV_KIND_PASSPHRASE)
                continue;
            for (int h = 0; h < nh; h++)
                hinted |= b[ENV_SALT_LEN + 4] == hints[h];
            if (hinted != (round == 0))
                continue;
            if (env_passphrase_kek(pass, len, b, env_get32(b + ENV_SALT_LEN), kek) < 0)
                return -1;          /* EINVAL: not a usable passphrase */
            rc = env_reader_try(r, s, ENV_SALT_LEN + 5, kek);
            OPENSSL_cleanse(kek, sizeof(kek));
            if (rc <= 0)
                return rc;
        }
    }
    errno = ENOKEY;
    return -1;
}

/* env_reader_unlock_recipient_key - try the kind 1 slots with a stored key */
int env_reader_unlock_recipient_key(struct env_reader *r, const struct env_recipient_key *k)
{
    int go = env_reader_can_unlock(r);

    if (go <= 0)
        return go;
    if (k == NULL) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < r->nslots; i++) {
        const struct env_rslot *s = &r->slots[i];
        const unsigned char *b = r->hdr + s->off;
        int rc;

        if (s->kind != ENV_KIND_PASSPHRASE || memcmp(b, k->salt, ENV_SALT_LEN) != 0
            || env_get32(b + ENV_SALT_LEN) != k->iterations)
            continue;
        if ((rc = env_reader_try(r, s, ENV_SALT_LEN + 5, k->kek)) <= 0)
            return rc;
    }
    errno = ENOKEY;
    return -1;
}

/* env_reader_unlock_random - try the kind 2 slots with a typed random passphrase */
int env_reader_unlock_random(struct env_reader *r, const char *typed, size_t len)
{
    char canon[ENV_RANDOM_PASS_CHARS + 1];
    unsigned char kek[ENV_KEY_LEN];
    int go = env_reader_can_unlock(r), rc = 1;

    if (go <= 0)
        return go;
    if (env_random_canonical(typed, len, canon) < 0)
        return -1;
    for (size_t i = 0; i < r->nslots && rc == 1; i++) {
        const struct env_rslot *s = &r->slots[i];

        if (s->kind != ENV_KIND_RANDOM)
            continue;
        if (env_random_kek(canon, r->hdr + s->off, kek) < 0)
            rc = -1;
        else
            rc = env_reader_try(r, s, ENV_SALT_LEN, kek);
        OPENSSL_cleanse(kek, sizeof(kek));
    }
    OPENSSL_cleanse(canon, sizeof(canon));
    if (rc == 1)
        errno = ENOKEY;
    return rc == 0 ? 0 : -1;
}

/* env_reader_unlock_recovery_key - try the kind 3 slots of this key with a raw private key */
int env_reader_unlock_recovery_key(struct env_reader *r, const unsigned char priv[ENV_X25519_LEN])
{
    unsigned char pub[ENV_X25519_LEN], id[ENV_KEY_ID_LEN], kek[ENV_KEY_LEN];
    int go = env_reader_can_unlock(r), rc = 1;

    if (go <= 0)
        return go;
    if (priv == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (env_x25519_public(priv, pub) < 0 || env_key_id(pub, id) < 0)
        return -1;
    for (size_t i = 0; i < r->nslots && rc == 1; i++) {
        const struct env_rslot *s = &r->slots[i];
        const unsigned char *b = r->hdr + s->off;

        if (s->kind != ENV_KIND_RECOVERY || memcmp(b, id, ENV_KEY_ID_LEN) != 0)
            continue;
        /* a low-order E gives no key: not this slot */
        if (env_recovery_kek(priv, b + ENV_KEY_ID_LEN, b + ENV_KEY_ID_LEN, pub, kek) == 0)
            rc = env_reader_try(r, s, ENV_KEY_ID_LEN + ENV_X25519_LEN, kek);
        OPENSSL_cleanse(kek, sizeof(kek));
    }
    if (rc == 1)
        errno = ENOKEY;
    return rc == 0 ? 0 : -1;
}

/* env_reader_unlock_recovery - the same with the private key in a PEM file */
int env_reader_unlock_recovery(struct env_reader *r, const char *path, char *errmsg, size_t errlen)
{
    unsigned char priv[ENV_X25519_LEN];
    int go = env_reader_can_unlock(r), rc;

    if (go <= 0)
        return go;
    if (env_load_recovery_private(path, priv, errmsg, errlen) < 0)
        return -1;
    rc = env_reader_unlock_recovery_key(r, priv);
    OPENSSL_cleanse(priv, sizeof(priv));
    return rc;
}

/* env_reader_finish - end of input: decrypt what is left as the last chunk */
int env_reader_finish(struct env_reader *r)
{
    if (r == NULL || r->state == R_DONE) {
        errno = EINVAL;
        return -1;
    }
    if (r->state == R_FAILED) {
        errno = r->err;
        return -1;
    }
    if (r->state == R_HEAD)
        return (int)env_reader_fail(r, EBADMSG);
    if (r->state == R_LOCKED) {
        errno = EINVAL;             /* no key yet */
        return -1;
    }
    if (r->fill < ENV_TAG_LEN)
        return (int)env_reader_fail(r, EBADMSG);
    if (env_reader_open(r, r->buf, r->fill, 1) < 0)
        return -1;
    OPENSSL_cleanse(r->buf, r->chunk_size + ENV_TAG_LEN);
    EVP_CIPHER_CTX_free(r->c);
    r->c = NULL;
    r->state = R_DONE;
    return 0;
}

/* env_reader_free - wipe and release a reader */
void env_reader_free(struct env_reader *r)
{
    if (r == NULL)
        return;
    if (r->buf != NULL) {
        OPENSSL_cleanse(r->buf, r->chunk_size + ENV_TAG_LEN);
        free(r->buf);
    }
    free(r->hdr);
    free(r->slots);
    EVP_CIPHER_CTX_free(r->c);
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}
