/*
 * marker - the loop-protection marker header (see marker.h).
 *
 * HMAC input, each text field followed by a NUL byte:
 *   v=1: "mailseal-loop-v1", decimal time, Message-ID (trimmed of white
 *        space), the number of recipients, each recipient (lowercased,
 *        sorted), then the 32-byte body digest;
 *   v=2: "mailseal-loop-v2", decimal time, the 16 nonce bytes (no NUL),
 *        Message-ID, the number of recipients, each recipient, then the
 *        16-byte GMAC tag of the body.
 * The canonical body (no CRs, no trailing LFs) comes from one streaming
 * canonicaliser (struct canon) that feeds SHA-256, GMAC or both.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/marker.h"
#include "message/codec.h"

#define MARKER_MAX_FUTURE 300      /* seconds of clock skew tolerated */
#define MARKER_MAX_RCPTS 100000

#define CANON_STAGE (16 * 1024)   /* bytes gathered before each hash update */
#define CANON_DIRECT 2048          /* runs at least this long go to the hash in place */
#define BODY_KEY_LABEL "mailseal-loop-v2 body"
#define CHECK_MAX_VALUES 16        /* marker values one check looks at */

typedef int (*canon_feed_fn)(void *arg, const unsigned char *p, size_t n);

/* The body is hashed without its CRs and without its trailing LFs: LFs
 * are held back (pending_lf) until other bytes follow.  Runs between CRs
 * are found with memchr; short runs are gathered in stage[], so the hash
 * sees large updates whatever the line length, long ones are hashed where
 * they are. */
struct canon {
    canon_feed_fn feed;
    void *arg;
    uint64_t pending_lf;          /* trailing line feeds not yet hashed */
    size_t nstage;
    size_t used;                  /* most bytes stage[] ever held (to wipe) */
    unsigned char stage[CANON_STAGE];
};

/* canon_drain - hash the staged bytes */
static int canon_drain(struct canon *c)
{
    if (c->nstage > c->used)
        c->used = c->nstage;
    if (c->nstage > 0 && c->feed(c->arg, c->stage, c->nstage) < 0)
        return -1;
    c->nstage = 0;
    return 0;
}

/* canon_put - stage n bytes of s (or n LFs when s is NULL) */
static int canon_put(struct canon *c, const char *s, uint64_t n)
{
    while (n > 0) {
        size_t k = CANON_STAGE - c->nstage;

        if (k == 0) {
            if (canon_drain(c) < 0)
                return -1;
            continue;
        }
        if (k > n)
            k = (size_t)n;
        if (s != NULL) {
            memcpy(c->stage + c->nstage, s, k);
            s += k;
        } else {
            memset(c->stage + c->nstage, '\n', k);
        }
        c->nstage += k;
        n -= k;
    }
    return 0;
}

/* canon_emit - n bytes without CRs: the held LFs, then the run without its
 * trailing LFs, which are held in turn */
static int canon_emit(struct canon *c, const char *p, size_t n)
{
    size_t k = n;

    while (k > 0 && p[k - 1] == '\n')
        k--;
    if (k == 0) {
        c->pending_lf += n;
        return 0;
    }
    if (canon_put(c, NULL, c->pending_lf) < 0)
        return -1;
    if (k >= CANON_DIRECT) {
        if (canon_drain(c) < 0 || c->feed(c->arg, (const unsigned char *)p, k) < 0)
            return -1;
    } else if (canon_put(c, p, k) < 0) {
        return -1;
    }
    c->pending_lf = n - k;
    return 0;
}

/* canon_update - body bytes: runs between CRs go on, the CRs are dropped */
static int canon_update(struct canon *c, const void *data, size_t len)
{
    const char *p = data, *end = p + len;

    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        size_t run = cr != NULL ? (size_t)(cr - p) : (size_t)(end - p);

        if (run > 0 && canon_emit(c, p, run) < 0)
            return -1;
        p += run + (cr != NULL);
    }
    return 0;
}

/* canon_update_nocr - bytes known to hold no CR (a canonical stream) */
static int canon_update_nocr(struct canon *c, const void *data, size_t len)
{
    return len > 0 ? canon_emit(c, data, len) : 0;
}

/* canon_wipe - forget the staged message bytes */
static void canon_wipe(struct canon *c)
{
    OPENSSL_cleanse(c->stage, c->nstage > c->used ? c->nstage : c->used);
    c->nstage = 0;
    c->used = 0;
}

/* v1: SHA-256 of the canonical body */
struct body_digest {
    EVP_MD_CTX *md;
    struct canon c;
};

/* sha_feed - a canon_feed_fn for an EVP_MD_CTX */
static int sha_feed(void *arg, const unsigned char *p, size_t n)
{
    return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : -1;
}

/* body_digest_new - start a SHA-256 digest of a body */
struct body_digest *body_digest_new(void)
{
    struct body_digest *bd = calloc(1, sizeof(*bd));

    if (bd == NULL)
        return NULL;
    if ((bd->md = EVP_MD_CTX_new()) == NULL
        || EVP_DigestInit_ex(bd->md, EVP_sha256(), NULL) != 1) {
        body_digest_free(bd);
        errno = ENOMEM;
        return NULL;
    }
    bd->c.feed = sha_feed;
    bd->c.arg = bd->md;
    return bd;
}

/* body_digest_update - hash body bytes, dropping CRs and holding back LFs */
int body_digest_update(struct body_digest *bd, const void *data, size_t len)
{
    return canon_update(&bd->c, data, len);
}

/* body_digest_final - the digest of everything but trailing line breaks */
int body_digest_final(struct body_digest *bd, unsigned char out[MARKER_DIGEST_LEN])
{
    unsigned int n = 0;

    if (canon_drain(&bd->c) < 0 || EVP_DigestFinal_ex(bd->md, out, &n) != 1
        || n != MARKER_DIGEST_LEN)
        return -1;
    return 0;
}

/* body_digest_free - release the digest state */
void body_digest_free(struct body_digest *bd)
{
    if (bd == NULL)
        return;
    EVP_MD_CTX_free(bd->md);
    canon_wipe(&bd->c);      /* message bytes */
    free(bd);
}

/* gmac_new - an AES-256-GCM context keyed for the body of nonce n:
 * key HMAC-SHA256(loop key, BODY_KEY_LABEL || n), IV 12 zero bytes
 * (the key is used for one body only); NULL on failure */
static EVP_CIPHER_CTX *gmac_new(const unsigned char *key, size_t keylen,
                                const unsigned char nonce[MARKER_NONCE_LEN])
{
    static const unsigned char iv[12];
    EVP_MAC *alg = NULL;
    EVP_MAC_CTX *mac = NULL;
    EVP_CIPHER_CTX *gcm = NULL;
    OSSL_PARAM params[2];
    unsigned char bkey[32];
    size_t outlen = 0;
    int ok = 0;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL
        && (mac = EVP_MAC_CTX_new(alg)) != NULL
        && EVP_MAC_init(mac, key, keylen, params) == 1
        && EVP_MAC_update(mac, (const unsigned char *)BODY_KEY_LABEL, sizeof(BODY_KEY_LABEL) - 1) == 1
        && EVP_MAC_update(mac, nonce, MARKER_NONCE_LEN) == 1
        && EVP_MAC_final(mac, bkey, &outlen, sizeof(bkey)) == 1 && outlen == sizeof(bkey)
        && (gcm = EVP_CIPHER_CTX_new()) != NULL
        && EVP_EncryptInit_ex(gcm, EVP_aes_256_gcm(), NULL, bkey, iv) == 1)
        ok = 1;
    OPENSSL_cleanse(bkey, sizeof(bkey));
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(alg);
    if (!ok) {
        EVP_CIPHER_CTX_free(gcm);
        errno = EIO;
        return NULL;
    }
    return gcm;
}

/* gmac_feed - a canon_feed_fn: the bytes as GCM additional data */
static int gmac_feed(void *arg, const unsigned char *p, size_t n)
{
    while (n > 0) {
        int k = n > (1u << 30) ? 1 << 30 : (int)n, outl = 0;

        if (EVP_EncryptUpdate(arg, NULL, &outl, p, k) != 1)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* gmac_final - the 16-byte tag over the additional data */
static int gmac_final(EVP_CIPHER_CTX *gcm, unsigned char tag[MARKER_TAG_LEN])
{
    unsigned char none[16];
    int outl = 0;

    if (EVP_EncryptFinal_ex(gcm, none, &outl) != 1
        || EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, MARKER_TAG_LEN, tag) != 1) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* v2: GMAC of the canonical body under a per-message key */
struct body_mac {
    EVP_CIPHER_CTX *gcm;
    unsigned char nonce[MARKER_NONCE_LEN];
    struct canon c;
};

/* body_mac_new - start the v2 body MAC for nonce (NULL: a fresh random one) */
struct body_mac *body_mac_new(const unsigned char *key, size_t keylen,
                              const unsigned char nonce[MARKER_NONCE_LEN])
{
    struct body_mac *bm;

    if (key == NULL || keylen == 0) {
        errno = EINVAL;
        return NULL;
    }
    if ((bm = calloc(1, sizeof(*bm))) == NULL)
        return NULL;
    if (nonce != NULL) {
        memcpy(bm->nonce, nonce, MARKER_NONCE_LEN);
    } else if (RAND_bytes(bm->nonce, MARKER_NONCE_LEN) != 1) {
        free(bm);
        errno = EIO;
        return NULL;
    }
    if ((bm->gcm = gmac_new(key, keylen, bm->nonce)) == NULL) {
        free(bm);
        return NULL;
    }
    bm->c.feed = gmac_feed;
    bm->c.arg = bm->gcm;
    return bm;
}

/* body_mac_update - body bytes, CRs dropped, trailing LFs held back */
int body_mac_update(struct body_mac *bm, const void *data, size_t len)
{
    return canon_update(&bm->c, data, len);
}

/* body_mac_update_canon - body bytes that hold no CR */
int body_mac_update_canon(struct body_mac *bm, const void *data, size_t len)
{
    return canon_update_nocr(&bm->c, data, len);
}

/* body_mac_final - nonce || tag of the body */
int body_mac_final(struct body_mac *bm, unsigned char auth[MARKER_BODY_AUTH_LEN])
{
    if (canon_drain(&bm->c) < 0 || gmac_final(bm->gcm, auth + MARKER_NONCE_LEN) < 0)
        return -1;
    memcpy(auth, bm->nonce, MARKER_NONCE_LEN);
    return 0;
}

/* body_mac_free - release the MAC state (its key schedule is wiped) */
void body_mac_free(struct body_mac *bm)
{
    if (bm == NULL)
        return;
    EVP_CIPHER_CTX_free(bm->gcm);
    canon_wipe(&bm->c);
    free(bm);
}

/* marker_cmp_rcpt - qsort order for recipient strings, case-insensitive */
static int marker_cmp_rcpt(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* marker_mac_add - feed one NUL-terminated field to the MAC */
static int marker_mac_add(EVP_MAC_CTX *mac, const char *s, size_t len)
{
    static const unsigned char nul = 0;

    return EVP_MAC_update(mac, (const unsigned char *)s, len) == 1
           && EVP_MAC_update(mac, &nul, 1) == 1 ? 0 : -1;
}

/* marker_mac - the HMAC over the marker fields of version v (1: body is
 * the 32-byte digest; 2: nonce given, body is the 16-byte tag) into out[32] */
static int marker_mac(const unsigned char *key, size_t keylen, int v, long long t,
                      const unsigned char *nonce, const char *msgid,
                      const char *const *rcpts, size_t nrcpts,
                      const unsigned char *body, size_t bodylen, unsigned char out[32])
{
    EVP_MAC *alg = NULL;
    EVP_MAC_CTX *mac = NULL;
    OSSL_PARAM params[2];
    const char **sorted = NULL;
    char num[32];
    size_t outlen = 0, idlen;
    int ok = -1;

    if (nrcpts > MARKER_MAX_RCPTS) {
        errno = EINVAL;
        return -1;
    }
    if (nrcpts > 0 && (sorted = malloc(nrcpts * sizeof(*sorted))) == NULL)
        return -1;
    for (size_t i = 0; i < nrcpts; i++)
        sorted[i] = rcpts[i];
    if (nrcpts > 1)
        qsort(sorted, nrcpts, sizeof(*sorted), marker_cmp_rcpt);
    if (msgid == NULL)
        msgid = "";
    while (*msgid == ' ' || *msgid == '\t')
        msgid++;
    idlen = strlen(msgid);
    while (idlen > 0 && isspace((unsigned char)msgid[idlen - 1]))
        idlen--;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL
        || (mac = EVP_MAC_CTX_new(alg)) == NULL
        || EVP_MAC_init(mac, key, keylen, params) != 1)
        goto out;
    snprintf(num, sizeof(num), "%lld", t);
    if (marker_mac_add(mac, v == 2 ? "mailseal-loop-v2" : "mailseal-loop-v1", 16) < 0
        || marker_mac_add(mac, num, strlen(num)) < 0
        || (v == 2 && EVP_MAC_update(mac, nonce, MARKER_NONCE_LEN) != 1)
        || marker_mac_add(mac, msgid, idlen) < 0)
        goto out;
    snprintf(num, sizeof(num), "%zu", nrcpts);
    if (marker_mac_add(mac, num, strlen(num)) < 0)
        goto out;
    for (size_t i = 0; i < nrcpts; i++) {
        char lower[512];
        size_t n = strlen(sorted[i]);

        if (n >= sizeof(lower)) {
            /* long addresses are hashed as written, lowercasing only ASCII is moot */
            if (marker_mac_add(mac, sorted[i], n) < 0)
                goto out;
            continue;
        }
        for (size_t j = 0; j <= n; j++)
            lower[j] = (char)tolower((unsigned char)sorted[i][j]);
        if (marker_mac_add(mac, lower, n) < 0)
            goto out;
    }
    if (EVP_MAC_update(mac, body, bodylen) != 1
        || EVP_MAC_final(mac, out, &outlen, 32) != 1 || outlen != 32)
        goto out;
    ok = 0;
out:
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(alg);
    free(sorted);
    return ok;
}

/* marker_make - the v=1 header value for a message this gateway lets go */
int marker_make(const unsigned char *key, size_t keylen, time_t now,
                const char *msgid, const char *const *rcpts, size_t nrcpts,
                const unsigned char digest[MARKER_DIGEST_LEN], struct buf *out)
{
    unsigned char mac[32];
    int r;

    if (marker_mac(key, keylen, 1, (long long)now, NULL, msgid, rcpts, nrcpts, digest,
                   MARKER_DIGEST_LEN, mac) < 0)
        return -1;
    r = buf_printf(out, "v=1; t=%lld; s=", (long long)now);
    if (r == 0)
        r = b64_encode_buf(mac, sizeof(mac), out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return r;
}

/* marker_make_v2 - the v=2 header value, for the body authenticated by auth */
int marker_make_v2(const unsigned char *key, size_t keylen, time_t now,
                   const char *msgid, const char *const *rcpts, size_t nrcpts,
                   const unsigned char auth[MARKER_BODY_AUTH_LEN], struct buf *out)
{
    unsigned char mac[32];
    int r;

    if (marker_mac(key, keylen, 2, (long long)now, auth, msgid, rcpts, nrcpts,
                   auth + MARKER_NONCE_LEN, MARKER_TAG_LEN, mac) < 0)
        return -1;
    r = buf_printf(out, "v=2; t=%lld; n=", (long long)now);
    if (r == 0)
        r = b64_encode_buf(auth, MARKER_NONCE_LEN, out);
    if (r == 0)
        r = buf_adds(out, "; s=");
    if (r == 0)
        r = b64_encode_buf(mac, sizeof(mac), out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return r;
}

struct marker_fields {
    int version;                  /* 1 or 2 */
    long long t;
    unsigned char nonce[MARKER_NONCE_LEN];   /* v2 */
    unsigned char sig[32];
};

/* skip_ws - past spaces and tabs */
static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* b64_field - the base64 text at p (exactly b64len characters, then end) decoded into
 * out[rawlen]; the position after it, or NULL */
static const char *b64_field(const char *p, size_t b64len, unsigned char *out, size_t rawlen)
{
    struct buf raw = BUF_INIT(64);
    const char *s = p;
    int ok;

    while (isalnum((unsigned char)*p) || *p == '+' || *p == '/' || *p == '=')
        p++;
    if ((size_t)(p - s) != b64len)
        return NULL;
    ok = b64_decode_buf(s, b64len, &raw) == 0 && raw.len == rawlen;
    if (ok)
        memcpy(out, raw.data, rawlen);
    buf_free(&raw);
    return ok ? p : NULL;
}

/* marker_parse - split "v=1; t=N; s=B64" or "v=2; t=N; n=B64; s=B64" */
static int marker_parse(const char *value, struct marker_fields *f)
{
    const char *p = skip_ws(value);
    char *end;

    if (strncmp(p, "v=1;", 4) == 0)
        f->version = 1;
    else if (strncmp(p, "v=2;", 4) == 0)
        f->version = 2;
    else
        return -1;
    p = skip_ws(p + 4);
    if (strncmp(p, "t=", 2) != 0 || !isdigit((unsigned char)p[2]))
        return -1;
    errno = 0;
    f->t = strtoll(p + 2, &end, 10);
    if (errno != 0 || *end != ';')
        return -1;
    p = skip_ws(end + 1);
    if (f->version == 2) {
        if (strncmp(p, "n=", 2) != 0 || (p = b64_field(p + 2, 24, f->nonce, MARKER_NONCE_LEN)) == NULL
            || *p != ';')
            return -1;
        p = skip_ws(p + 1);
    }
    if (strncmp(p, "s=", 2) != 0 || (p = b64_field(p + 2, 44, f->sig, 32)) == NULL)
        return -1;
    for (; *p; p++)
        if (!isspace((unsigned char)*p))
            return -1;
    return 0;
}

/* marker_time_ok - the marker's time within [now - max_age, now + skew] */
static int marker_time_ok(long long t, time_t now, long max_age)
{
    return !(t > (long long)now + MARKER_MAX_FUTURE || (long long)now - t > max_age);
}

/* marker_check_sig - compare the fields' signature with the one for this message */
static enum marker_status marker_check_sig(const unsigned char *key, size_t keylen,
                                           const struct marker_fields *f, const char *msgid,
                                           const char *const *rcpts, size_t nrcpts,
                                           const unsigned char *body, size_t bodylen)
{
    unsigned char mac[32];
    enum marker_status st;

    if (marker_mac(key, keylen, f->version, f->t, f->nonce, msgid, rcpts, nrcpts, body, bodylen,
                   mac) < 0)
        st = MARKER_BAD_SIGNATURE;
    else
        st = CRYPTO_memcmp(mac, f->sig, 32) == 0 ? MARKER_VALID : MARKER_BAD_SIGNATURE;
    OPENSSL_cleanse(mac, sizeof(mac));
    return st;
}

/* marker_classify - parse value into f: MARKER_MALFORMED, MARKER_EXPIRED
 * (too old or too far ahead), or MARKER_VALID when its signature is still
 * to be checked */
static enum marker_status marker_classify(const char *value, time_t now, long max_age,
                                          struct marker_fields *f)
{
    if (value == NULL || marker_parse(value, f) < 0)
        return MARKER_MALFORMED;
    return marker_time_ok(f->t, now, max_age) ? MARKER_VALID : MARKER_EXPIRED;
}

/* marker_verify - check a v=1 marker header value against this message */
enum marker_status marker_verify(const unsigned char *key, size_t keylen,
                                 const char *value, time_t now, long max_age,
                                 const char *msgid, const char *const *rcpts,
                                 size_t nrcpts,
                                 const unsigned char digest[MARKER_DIGEST_LEN])
{
    struct marker_fields f;
    enum marker_status st = marker_classify(value, now, max_age, &f);

    if (st == MARKER_MALFORMED || f.version != 1)
        return MARKER_MALFORMED;
    if (st != MARKER_VALID)
        return st;
    return marker_check_sig(key, keylen, &f, msgid, rcpts, nrcpts, digest, MARKER_DIGEST_LEN);
}

/* marker_verify_v2 - check a v=2 marker header value against this message */
enum marker_status marker_verify_v2(const unsigned char *key, size_t keylen,
                                    const char *value, time_t now, long max_age,
                                    const char *msgid, const char *const *rcpts,
                                    size_t nrcpts,
                                    const unsigned char auth[MARKER_BODY_AUTH_LEN])
{
    struct marker_fields f;
    enum marker_status st = marker_classify(value, now, max_age, &f);

    if (st == MARKER_MALFORMED || f.version != 2)
        return MARKER_MALFORMED;
    if (st != MARKER_VALID)
        return st;
    if (CRYPTO_memcmp(f.nonce, auth, MARKER_NONCE_LEN) != 0)
        return MARKER_BAD_SIGNATURE;      /* the body was authenticated for another marker */
    return marker_check_sig(key, keylen, &f, msgid, rcpts, nrcpts, auth + MARKER_NONCE_LEN,
                            MARKER_TAG_LEN);
}

/* One body, many markers: the body is canonicalised once and fed to the
 * one SHA-256 all live v1 markers share and to one GMAC per distinct v2
 * nonce (at most MARKER_CHECK_MAX_MACS); markers that are malformed or
 * out of time get nothing. */
struct marker_check {
    const unsigned char *key;
    size_t keylen;
    size_t n;
    struct {
        struct marker_fields f;
        enum marker_status pre;   /* MARKER_VALID: still to check against the body */
        int mac;                  /* v2: index into gcm[] */
    } m[CHECK_MAX_VALUES];
    EVP_MD_CTX *sha;              /* NULL: no live v1 marker */
    EVP_CIPHER_CTX *gcm[MARKER_CHECK_MAX_MACS];
    unsigned char nonce[MARKER_CHECK_MAX_MACS][MARKER_NONCE_LEN];
    size_t ngcm;
    int finished;                 /* 1: digest and tags below are final; -1: failed */
    unsigned char digest[MARKER_DIGEST_LEN];
    unsigned char tag[MARKER_CHECK_MAX_MACS][MARKER_TAG_LEN];
    struct canon c;
};

/* check_feed - a canon_feed_fn: the bytes to every hash the check keeps */
static int check_feed(void *arg, const unsigned char *p, size_t n)
{
    struct marker_check *mc = arg;

    if (mc->sha != NULL && EVP_DigestUpdate(mc->sha, p, n) != 1)
        return -1;
    for (size_t i = 0; i < mc->ngcm; i++)
        if (gmac_feed(mc->gcm[i], p, n) < 0)
            return -1;
    return 0;
}

/* check_add - classify one value and give it the hash it needs; 0 or -1 */
static int check_add(struct marker_check *mc, const char *value, time_t now, long max_age)
{
    size_t i = mc->n++, j;

    mc->m[i].mac = -1;
    if ((mc->m[i].pre = marker_classify(value, now, max_age, &mc->m[i].f)) != MARKER_VALID)
        return 0;
    if (mc->m[i].f.version == 1) {
        if (mc->sha == NULL && ((mc->sha = EVP_MD_CTX_new()) == NULL
                                || EVP_DigestInit_ex(mc->sha, EVP_sha256(), NULL) != 1))
            return -1;
        return 0;
    }
    for (j = 0; j < mc->ngcm; j++)
        if (memcmp(mc->nonce[j], mc->m[i].f.nonce, MARKER_NONCE_LEN) == 0)
            break;
    if (j == mc->ngcm) {
        if (mc->ngcm == MARKER_CHECK_MAX_MACS) {
            mc->m[i].pre = MARKER_NOT_CHECKED;
            return 0;
        }
        if ((mc->gcm[j] = gmac_new(mc->key, mc->keylen, mc->m[i].f.nonce)) == NULL)
            return -1;
        memcpy(mc->nonce[j], mc->m[i].f.nonce, MARKER_NONCE_LEN);
        mc->ngcm++;
    }
    mc->m[i].mac = (int)j;
    return 0;
}

/* marker_check_new - prepare to check the marker values against one body */
struct marker_check *marker_check_new(const unsigned char *key, size_t keylen,
                                      const char *const *values, size_t nvalues,
                                      time_t now, long max_age)
{
    struct marker_check *mc;

    if (key == NULL || keylen == 0 || (values == NULL && nvalues > 0)) {
        errno = EINVAL;
        return NULL;
    }
    if ((mc = calloc(1, sizeof(*mc))) == NULL)
        return NULL;
    mc->key = key;
    mc->keylen = keylen;
    mc->c.feed = check_feed;
    mc->c.arg = mc;
    for (size_t i = 0; i < nvalues && i < CHECK_MAX_VALUES; i++) {
        if (check_add(mc, values[i], now, max_age) < 0) {
            marker_check_free(mc);
            errno = EIO;
            return NULL;
        }
    }
    return mc;
}

/* marker_check_needs_body - 1 when some marker waits for the body */
int marker_check_needs_body(const struct marker_check *mc)
{
    return mc != NULL && (mc->sha != NULL || mc->ngcm > 0);
}

/* marker_check_update - body bytes (CRs dropped, trailing LFs held back) */
int marker_check_update(struct marker_check *mc, const void *data, size_t len)
{
    if (mc == NULL || mc->finished != 0) {
        errno = EINVAL;
        return -1;
    }
    if (!marker_check_needs_body(mc))
        return 0;
    return canon_update(&mc->c, data, len);
}

/* check_finish - finalise the hashes once */
static int check_finish(struct marker_check *mc)
{
    unsigned int n = 0;

    if (mc->finished != 0)
        return mc->finished > 0 ? 0 : -1;
    mc->finished = -1;
    if (canon_drain(&mc->c) < 0)
        return -1;
    if (mc->sha != NULL && (EVP_DigestFinal_ex(mc->sha, mc->digest, &n) != 1
                            || n != MARKER_DIGEST_LEN))
        return -1;
    for (size_t i = 0; i < mc->ngcm; i++)
        if (gmac_final(mc->gcm[i], mc->tag[i]) < 0)
            return -1;
    mc->finished = 1;
    return 0;
}

/* marker_check_status - the verdict on value i for this message */
enum marker_status marker_check_status(struct marker_check *mc, size_t i, const char *msgid,
                                       const char *const *rcpts, size_t nrcpts)
{
    if (mc == NULL || i >= mc->n)
        return MARKER_NOT_CHECKED;
    if (mc->m[i].pre != MARKER_VALID)
        return mc->m[i].pre;
    if (check_finish(mc) < 0)
        return MARKER_BAD_SIGNATURE;
    if (mc->m[i].f.version == 1)
        return marker_check_sig(mc->key, mc->keylen, &mc->m[i].f, msgid, rcpts, nrcpts,
                                mc->digest, MARKER_DIGEST_LEN);
    return marker_check_sig(mc->key, mc->keylen, &mc->m[i].f, msgid, rcpts, nrcpts,
                            mc->tag[mc->m[i].mac], MARKER_TAG_LEN);
}

/* marker_check_free - release the check (NULL is fine) */
void marker_check_free(struct marker_check *mc)
{
    if (mc == NULL)
        return;
    EVP_MD_CTX_free(mc->sha);
    for (size_t i = 0; i < mc->ngcm; i++)
        EVP_CIPHER_CTX_free(mc->gcm[i]);
    canon_wipe(&mc->c);
    OPENSSL_cleanse(mc->tag, sizeof(mc->tag));
    free(mc);
}

/* marker_status_str - a word for the log */
const char *marker_status_str(enum marker_status st)
{
    switch (st) {
    case MARKER_VALID:
        return "valid";
    case MARKER_MALFORMED:
        return "malformed";
    case MARKER_EXPIRED:
        return "expired";
    case MARKER_BAD_SIGNATURE:
        return "bad signature";
    case MARKER_NOT_CHECKED:
        return "not checked (too many markers)";
    }
    return "unknown";
}
