/*
 * envelope - the envelope writer of docs/ENVELOPE.md (see envelope.h).
 *
 * env_writer_new() draws MK and NB; each env_writer_add_*() draws that
 * slot's random values and derives its KEK at once, but the slot is
 * wrapped only in env_writer_begin(), because the header prefix every slot
 * authenticates holds header_len, known when all slots are in.  begin()
 * writes the header in one output call, derives the payload key and wipes
 * MK and the KEKs.  Plaintext is then encrypted as it comes, straight
 * from the caller's bytes into one chunk buffer of chunk_size + 16 bytes
 * (see env_writer_update() for how the last flag is handled without a
 * copy); a full chunk is written when one more byte arrives (it is then
 * not the last) or by finish() as the last.  Memory stays constant: the
 * slot table, the header (once, in begin) and the chunk buffer.
 *
 * Failure: -1 with errno (envelope.h); after a failure during output the
 * writer refuses every further call with EINVAL.  The caller owns the
 * writer and releases it with env_writer_free(), which wipes everything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/envelope_int.h"

#define ENV_PRE_MAX 40              /* largest slot body before slot_nonce (kind 3) */

enum env_wstate { W_SLOTS, W_BODY, W_DONE, W_FAILED };

struct env_wslot {
    unsigned char kind;
    unsigned short body_len;
    size_t pre_len;                     /* body bytes before slot_nonce */
    unsigned char pre[ENV_PRE_MAX];
    unsigned char nonce[ENV_NONCE_LEN];
    unsigned char kek[ENV_KEY_LEN];
};

struct env_writer {
    enum env_wstate state;
    env_rng_fn rng;
    void *rng_arg;
    size_t chunk_size;
    unsigned char mk[ENV_KEY_LEN];
    unsigned char nb[ENV_NONCE_LEN];
    unsigned char hd[32];               /* SHA-256 of the header */
    struct env_wslot *slots;
    size_t nslots, cap;
    size_t hlen;                        /* header_len with the slots added so far */
    env_out_fn out;
    void *out_arg;
    EVP_CIPHER_CTX *c;                  /* keyed with PK in begin() */
    unsigned char *buf;                 /* chunk_size + 16 */
    size_t fill;                        /* bytes of the current chunk encrypted in buf */
    int open;                           /* the current chunk's GCM is started (last = 0) */
    uint64_t index;                     /* number of the current chunk */
};

/* env_writer_new_det - a writer drawing its random values from rng (test vectors) */
struct env_writer *env_writer_new_det(size_t chunk_size, env_rng_fn rng, void *arg)
{
    struct env_writer *w;

    if (chunk_size == 0)
        chunk_size = ENV_DEFAULT_CHUNK;
    if (rng == NULL || chunk_size < ENV_MIN_CHUNK || chunk_size > ENV_MAX_CHUNK) {
        errno = EINVAL;
        return NULL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    w->rng = rng;
    w->rng_arg = arg;
    w->chunk_size = chunk_size;
    w->hlen = ENV_FIXED_LEN;
    if (rng(arg, w->mk, ENV_KEY_LEN) < 0 || rng(arg, w->nb, ENV_NONCE_LEN) < 0) {
        int e = errno;

        env_writer_free(w);
        errno = e;
        return NULL;
    }
    return w;
}

/* env_writer_new - a writer with a fresh message key and nonce base */
struct env_writer *env_writer_new(size_t chunk_size)
{
    return env_writer_new_det(chunk_size, env_rand, NULL);
}

/* env_writer_slot - a new pending slot, or NULL with errno */
static struct env_wslot *env_writer_slot(struct env_writer *w, unsigned kind, unsigned body_len)
{
    struct env_wslot *s;

    if (w->state != W_SLOTS) {
        errno = EINVAL;
        return NULL;
    }
    if (w->nslots == ENV_MAX_SLOTS) {
        errno = EOVERFLOW;
        return NULL;
    }
    if (w->nslots == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 4;
        struct env_wslot *n = calloc(cap, sizeof(*n));

        if (n == NULL)
            return NULL;
        if (w->slots != NULL) {     /* move by hand so the old KEKs can be wiped */
            memcpy(n, w->slots, w->nslots * sizeof(*n));
            OPENSSL_cleanse(w->slots, w->cap * sizeof(*n));
            free(w->slots);
        }
        w->slots = n;
        w->cap = cap;
    }
    s = &w->slots[w->nslots];
    memset(s, 0, sizeof(*s));
    s->kind = (unsigned char)kind;
    s->body_len = (unsigned short)body_len;
    return s;
}

/* env_writer_add_passphrase - a recipient passphrase slot (kind 1) */
int env_writer_add_passphrase(struct env_writer *w, const struct env_recipient_key *k,
                              const char *name)
{
    struct env_wslot *s;
    unsigned char hint;

    if (w == NULL || k == NULL || name == NULL || k->iterations < ENV_MIN_ITERATIONS
        || k->iterations > ENV_MAX_ITERATIONS) {
        errno = EINVAL;
        return -1;
    }
    if ((s = env_writer_slot(w, ENV_KIND_PASSPHRASE, ENV_BODY_PASSPHRASE)) == NULL)
        return -1;
    if (env_hint(w->nb, name, strlen(name), &hint) < 0 || w->rng(w->rng_arg, s->nonce, ENV_NONCE_LEN) < 0)
        return -1;
    memcpy(s->pre, k->salt, ENV_SALT_LEN);
    env_put32(s->pre + ENV_SALT_LEN, k->iterations);
    s->pre[ENV_SALT_LEN + 4] = hint;
    s->pre_len = ENV_SALT_LEN + 5;
    memcpy(s->kek, k->kek, ENV_KEY_LEN);
    w->nslots++;
    w->hlen += ENV_SLOT_HEAD + ENV_BODY_PASSPHRASE;
    return 0;
}

/* env_writer_add_random - a per-message random passphrase slot (kind 2) */
int env_writer_add_random(struct env_writer *w, char shown[ENV_RANDOM_PASS_SHOWN + 1])
{
    unsigned char bits[ENV_RANDOM_BITS_LEN];
    char canon[ENV_RANDOM_PASS_CHARS + 1];
    struct env_wslot *s;
    int rc = -1;

    if (w == NULL || shown == NULL) {
        errno = EINVAL;
        return -1;
    }
    if ((s = env_writer_slot(w, ENV_KIND_RANDOM, ENV_BODY_RANDOM)) == NULL)
        return -1;
    if (w->rng(w->rng_arg, bits, sizeof(bits)) == 0) {
        env_random_shown(bits, shown);
        if (env_random_canonical(shown, strlen(shown), canon) == 0
            && w->rng(w->rng_arg, s->pre, ENV_SALT_LEN) == 0
            && w->rng(w->rng_arg, s->nonce, ENV_NONCE_LEN) == 0
            && env_random_kek(canon, s->pre, s->kek) == 0) {
            s->pre_len = ENV_SALT_LEN;
            w->nslots++;
            w->hlen += ENV_SLOT_HEAD + ENV_BODY_RANDOM;
            rc = 0;
        }
    }
    OPENSSL_cleanse(bits, sizeof(bits));
    OPENSSL_cleanse(canon, sizeof(canon));
    if (rc < 0)
        OPENSSL_cleanse(shown, ENV_RANDOM_PASS_SHOWN + 1);
    return rc;
}

/* env_writer_add_recovery - an organisation recovery slot (kind 3) */
int env_writer_add_recovery(struct env_writer *w, const unsigned char org_pub[ENV_X25519_LEN])
{
    unsigned char eph[ENV_X25519_LEN], e_pub[ENV_X25519_LEN];
    struct env_wslot *s;
    int rc = -1;

    if (w == NULL || org_pub == NULL) {
        errno = EINVAL;
        return -1;
    }
    if ((s = env_writer_slot(w, ENV_KIND_RECOVERY, ENV_BODY_RECOVERY)) == NULL)
        return -1;
    if (w->rng(w->rng_arg, eph, sizeof(eph)) == 0 && env_x25519_public(eph, e_pub) == 0
        && env_key_id(org_pub, s->pre) == 0) {
        if (env_recovery_kek(eph, org_pub, e_pub, org_pub, s->kek) < 0)
            errno = EINVAL;         /* a low-order public key */
        else if (w->rng(w->rng_arg, s->nonce, ENV_NONCE_LEN) == 0) {
            memcpy(s->pre + ENV_KEY_ID_LEN, e_pub, ENV_X25519_LEN);
            s->pre_len = ENV_KEY_ID_LEN + ENV_X25519_LEN;
            w->nslots++;
            w->hlen += ENV_SLOT_HEAD + ENV_BODY_RECOVERY;
            rc = 0;
        }
    }
    OPENSSL_cleanse(eph, sizeof(eph));
    if (rc < 0)
        OPENSSL_cleanse(s, sizeof(*s));
    return rc;
}

/* env_writer_size - the exact envelope size for plain_len bytes; UINT64_MAX on overflow */
uint64_t env_writer_size(const struct env_writer *w, uint64_t plain_len)
{
    uint64_t chunks, over;

    if (w == NULL)
        return UINT64_MAX;
    chunks = plain_len / w->chunk_size + (plain_len % w->chunk_size != 0);
    if (chunks == 0)
        chunks = 1;
    over = w->hlen + chunks * ENV_TAG_LEN;
    if (plain_len > UINT64_MAX - over)
        return UINT64_MAX;
    return plain_len + over;
}

/* env_writer_fail - enter the failed state, keeping errno */
static int env_writer_fail(struct env_writer *w)
{
    int e = errno;

    w->state = W_FAILED;
    if (w->buf != NULL)
        OPENSSL_cleanse(w->buf, w->chunk_size + ENV_TAG_LEN);
    errno = e;
    return -1;
}

/* env_writer_begin - wrap the slots, write the header, key the payload cipher */
int env_writer_begin(struct env_writer *w, env_out_fn out, void *arg)
{
    unsigned char pk[ENV_KEY_LEN];
    unsigned char *h;
    size_t hlen, o;
    int rc = -1;

    if (w == NULL || out == NULL || w->state != W_SLOTS || w->nslots == 0) {
        errno = EINVAL;
        return -1;
    }
    hlen = w->hlen;
    if ((h = malloc(hlen)) == NULL)
        return -1;
    memcpy(h, ENV_MAGIC, ENV_MAGIC_LEN);
    h[8] = ENV_VERSION;
    h[9] = ENV_SUITE;
    env_put32(h + 10, (uint32_t)hlen);
    env_put32(h + 14, (uint32_t)w->chunk_size);
    memcpy(h + 18, w->nb, ENV_NONCE_LEN);
    h[30] = (unsigned char)(w->nslots >> 8);
    h[31] = (unsigned char)w->nslots;
    o = ENV_FIXED_LEN;
    for (size_t i = 0; i < w->nslots; i++) {
        struct env_wslot *s = &w->slots[i];

        h[o] = s->kind;
        h[o + 1] = (unsigned char)(s->body_len >> 8);
        h[o + 2] = (unsigned char)s->body_len;
        o += ENV_SLOT_HEAD;
        memcpy(h + o, s->pre, s->pre_len);
        memcpy(h + o + s->pre_len, s->nonce, ENV_NONCE_LEN);
        if (env_wrap(s->kek, s->nonce, h, s->kind, w->mk, h + o + s->pre_len + ENV_NONCE_LEN) < 0)
            goto out;
        o += s->body_len;
    }
    if (EVP_Digest(h, hlen, w->hd, NULL, EVP_sha256(), NULL) != 1
        || env_hkdf(w->mk, ENV_KEY_LEN, w->nb, ENV_NONCE_LEN, ENV_INFO_PAYLOAD, pk) < 0) {
        errno = EIO;
        goto out;
    }
    if ((w->buf = malloc(w->chunk_size + ENV_TAG_LEN)) == NULL)
        goto out;
    if ((w->c = EVP_CIPHER_CTX_new()) == NULL
        || EVP_EncryptInit_ex(w->c, EVP_aes_256_gcm(), NULL, pk, NULL) != 1) {
        errno = EIO;
        goto out;
    }
    w->out = out;
    w->out_arg = arg;
    if (out(arg, h, hlen) < 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(pk, sizeof(pk));
    OPENSSL_cleanse(w->mk, sizeof(w->mk));
    OPENSSL_cleanse(w->slots, w->cap * sizeof(*w->slots));
    free(w->slots);
    w->slots = NULL;
    w->cap = 0;
    free(h);
    if (rc < 0)
        return env_writer_fail(w);
    w->state = W_BODY;
    return 0;
}

/* env_writer_start - start chunk w->index in mode enc (1 encrypt, 0 decrypt); with aad, feed it */
static int env_writer_start(struct env_writer *w, int enc, int aad_last)
{
    unsigned char nonce[ENV_NONCE_LEN], aad[33];
    int outl = 0;

    memcpy(nonce, w->nb, ENV_NONCE_LEN);
    for (int b = 0; b < 8; b++)
        nonce[ENV_NONCE_LEN - 1 - b] ^= (unsigned char)(w->index >> (8 * b));
    memcpy(aad, w->hd, 32);
    aad[32] = aad_last > 0 ? 1 : 0;
    if (EVP_CipherInit_ex(w->c, NULL, NULL, NULL, nonce, enc) != 1
        || (aad_last >= 0 && EVP_CipherUpdate(w->c, NULL, &outl, aad, (int)sizeof(aad)) != 1)) {
        errno = EIO;
        return env_writer_fail(w);
    }
    return 0;
}

/* env_writer_emit - finish the chunk in buf (fill bytes), append its tag and write it */
static int env_writer_emit(struct env_writer *w)
{
    int fin = 0;

    if (EVP_EncryptFinal_ex(w->c, w->buf + w->fill, &fin) != 1
        || EVP_CIPHER_CTX_ctrl(w->c, EVP_CTRL_GCM_GET_TAG, ENV_TAG_LEN, w->buf + w->fill) != 1) {
        errno = EIO;
        return env_writer_fail(w);
    }
    if (w->out(w->out_arg, w->buf, w->fill + ENV_TAG_LEN) < 0)
        return env_writer_fail(w);
    w->index++;
    w->fill = 0;
    w->open = 0;
    return 0;
}

/*
 * env_writer_update - encrypt plaintext as it comes.  Each chunk is
 * encrypted straight from the caller's bytes into the chunk buffer,
 * assuming it is not the last (aad last = 0); when more plaintext arrives
 * after a full chunk, its tag is computed and it is written.  The
 * plaintext is never copied: if the chunk turns out to be the last,
 * env_writer_finish() recovers it from the ciphertext (the GCM key stream
 * does not depend on the AAD) and encrypts it again with last = 1.
 */
int env_writer_update(struct env_writer *w, const void *data, size_t len)
{
    const unsigned char *p = data;

    if (w == NULL || w->state != W_BODY || (p == NULL && len > 0)) {
        errno = EINVAL;
        return -1;
    }
    while (len > 0) {
        size_t take;
        int outl = 0;

        if (w->fill == w->chunk_size && env_writer_emit(w) < 0)
            return -1;
        if (!w->open) {
            if (env_writer_start(w, 1, 0) < 0)
                return -1;
            w->open = 1;
        }
        take = w->chunk_size - w->fill < len ? w->chunk_size - w->fill : len;
        if (EVP_EncryptUpdate(w->c, w->buf + w->fill, &outl, p, (int)take) != 1
            || (size_t)outl != take) {
            errno = EIO;
            return env_writer_fail(w);
        }
        w->fill += take;
        p += take;
        len -= take;
    }
    return 0;
}

/* env_writer_finish - seal and write the last chunk */
int env_writer_finish(struct env_writer *w)
{
    int outl = 0;

    if (w == NULL || w->state != W_BODY) {
        errno = EINVAL;
        return -1;
    }
    if (w->open && w->fill > 0) {
        /* back to plaintext: the same key stream, decrypting without a tag check */
        if (env_writer_start(w, 0, -1) < 0)
            return -1;
        if (EVP_DecryptUpdate(w->c, w->buf, &outl, w->buf, (int)w->fill) != 1) {
            errno = EIO;
            return env_writer_fail(w);
        }
    }
    if (env_writer_start(w, 1, 1) < 0)
        return -1;
    if (w->fill > 0 && EVP_EncryptUpdate(w->c, w->buf, &outl, w->buf, (int)w->fill) != 1) {
        errno = EIO;
        return env_writer_fail(w);
    }
    if (env_writer_emit(w) < 0)
        return -1;
    OPENSSL_cleanse(w->buf, w->chunk_size + ENV_TAG_LEN);
    EVP_CIPHER_CTX_free(w->c);      /* frees (and wipes) the key schedule */
    w->c = NULL;
    w->state = W_DONE;
    return 0;
}

/* env_writer_free - wipe and release a writer (NULL is fine) */
void env_writer_free(struct env_writer *w)
{
    if (w == NULL)
        return;
    if (w->slots != NULL) {
        OPENSSL_cleanse(w->slots, w->cap * sizeof(*w->slots));
        free(w->slots);
    }
    if (w->buf != NULL) {
        OPENSSL_cleanse(w->buf, w->chunk_size + ENV_TAG_LEN);
        free(w->buf);
    }
    EVP_CIPHER_CTX_free(w->c);
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}
