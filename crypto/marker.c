/*
 * marker - the loop-protection marker header (see marker.h).
 *
 * HMAC input, each field followed by a NUL byte:
 *   "mailseal-loop-v1", decimal time, Message-ID (trimmed of white space),
 *   the number of recipients, each recipient (lowercased, sorted),
 * then the 32-byte body digest.
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

#include "crypto/marker.h"
#include "message/codec.h"

#define MARKER_MAX_FUTURE 300      /* seconds of clock skew tolerated */
#define MARKER_MAX_RCPTS 100000

#define DIGEST_STAGE (16 * 1024)  /* bytes gathered before each SHA-256 update */

/* The body is hashed without its CRs and without its trailing LFs: LFs
 * are held back (pending_lf) until other bytes follow.  Runs of bytes are
 * found with memchr and gathered in stage[], so SHA-256 sees large
 * updates whatever the line length. */
struct body_digest {
    EVP_MD_CTX *md;
    uint64_t pending_lf;          /* trailing line feeds not yet hashed */
    size_t nstage;
    char stage[DIGEST_STAGE];
};

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
    return bd;
}

/* body_digest_drain - hash the staged bytes */
static int body_digest_drain(struct body_digest *bd)
{
    if (bd->nstage > 0 && EVP_DigestUpdate(bd->md, bd->stage, bd->nstage) != 1)
        return -1;
    bd->nstage = 0;
    return 0;
}

/* body_digest_put - stage n bytes of s (or n LFs when s is NULL) */
static int body_digest_put(struct body_digest *bd, const char *s, uint64_t n)
{
    while (n > 0) {
        size_t k = DIGEST_STAGE - bd->nstage;

        if (k == 0) {
            if (body_digest_drain(bd) < 0)
                return -1;
            continue;
        }
        if (k > n)
            k = (size_t)n;
        if (s != NULL) {
            memcpy(bd->stage + bd->nstage, s, k);
            s += k;
        } else {
            memset(bd->stage + bd->nstage, '\n', k);
        }
        bd->nstage += k;
        n -= k;
    }
    return 0;
}

/* body_digest_update - hash body bytes, dropping CRs and holding back LFs */
int body_digest_update(struct body_digest *bd, const void *data, size_t len)
{
    const char *p = data, *end = p + len;
    const char *cr = NULL, *lf = NULL;   /* the next CR and LF at or after p, or end */

    while (p < end) {
        const char *stop;

        if ((cr == NULL || cr < p) && (cr = memchr(p, '\r', (size_t)(end - p))) == NULL)
            cr = end;
        if ((lf == NULL || lf < p) && (lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
            lf = end;
        stop = cr < lf ? cr : lf;
        if (stop > p) {
            if (body_digest_put(bd, NULL, bd->pending_lf) < 0
                || body_digest_put(bd, p, (uint64_t)(stop - p)) < 0)
                return -1;
            bd->pending_lf = 0;
            p = stop;
        }
        for (; p < end && (*p == '\r' || *p == '\n'); p++)
            if (*p == '\n')
                bd->pending_lf++;
    }
    return 0;
}

/* body_digest_final - the digest of everything but trailing line breaks */
int body_digest_final(struct body_digest *bd, unsigned char out[MARKER_DIGEST_LEN])
{
    unsigned int n = 0;

    if (body_digest_drain(bd) < 0 || EVP_DigestFinal_ex(bd->md, out, &n) != 1
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
    OPENSSL_cleanse(bd->stage, sizeof(bd->stage));   /* message bytes */
    free(bd);
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

/* marker_mac - compute the HMAC over the marker fields into out[32] */
static int marker_mac(const unsigned char *key, size_t keylen, long long t,
                      const char *msgid, const char *const *rcpts, size_t nrcpts,
                      const unsigned char digest[MARKER_DIGEST_LEN],
                      unsigned char out[32])
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
    if (marker_mac_add(mac, "mailseal-loop-v1", 16) < 0
        || marker_mac_add(mac, num, strlen(num)) < 0
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
    if (EVP_MAC_update(mac, digest, MARKER_DIGEST_LEN) != 1
        || EVP_MAC_final(mac, out, &outlen, 32) != 1 || outlen != 32)
        goto out;
    ok = 0;
out:
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(alg);
    free(sorted);
    return ok;
}

/* marker_make - the header value for a message this gateway lets go */
int marker_make(const unsigned char *key, size_t keylen, time_t now,
                const char *msgid, const char *const *rcpts, size_t nrcpts,
                const unsigned char digest[MARKER_DIGEST_LEN], struct buf *out)
{
    unsigned char mac[32];
    int r;

    if (marker_mac(key, keylen, (long long)now, msgid, rcpts, nrcpts, digest, mac) < 0)
        return -1;
    r = buf_printf(out, "v=1; t=%lld; s=", (long long)now);
    if (r == 0)
        r = b64_encode_buf(mac, sizeof(mac), out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return r;
}

/* marker_parse - split "v=1; t=N; s=B64" into t and the decoded signature */
static int marker_parse(const char *value, long long *t, struct buf *sig)
{
    const char *p = value, *s;
    char *end;

    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "v=1;", 4) != 0)
        return -1;
    p += 4;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "t=", 2) != 0 || !isdigit((unsigned char)p[2]))
        return -1;
    errno = 0;
    *t = strtoll(p + 2, &end, 10);
    if (errno != 0 || *end != ';')
        return -1;
    p = end + 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "s=", 2) != 0)
        return -1;
    s = p + 2;
    p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '/' || *p == '=')
        p++;
    if (p - s != 44)
        return -1;
    for (const char *q = p; *q; q++)
        if (!isspace((unsigned char)*q))
            return -1;
    if (b64_decode_buf(s, (size_t)(p - s), sig) < 0 || sig->len != 32)
        return -1;
    return 0;
}

/* marker_verify - check a marker header value against this message */
enum marker_status marker_verify(const unsigned char *key, size_t keylen,
                                 const char *value, time_t now, long max_age,
                                 const char *msgid, const char *const *rcpts,
                                 size_t nrcpts,
                                 const unsigned char digest[MARKER_DIGEST_LEN])
{
    struct buf sig = BUF_INIT(64);
    unsigned char mac[32];
    enum marker_status st;
    long long t;

    if (marker_parse(value, &t, &sig) < 0) {
        buf_free(&sig);
        return MARKER_MALFORMED;
    }
    if (t > (long long)now + MARKER_MAX_FUTURE || (long long)now - t > max_age) {
        buf_free(&sig);
        return MARKER_EXPIRED;
    }
    if (marker_mac(key, keylen, t, msgid, rcpts, nrcpts, digest, mac) < 0)
        st = MARKER_BAD_SIGNATURE;
    else
        st = CRYPTO_memcmp(mac, sig.data, 32) == 0 ? MARKER_VALID : MARKER_BAD_SIGNATURE;
    OPENSSL_cleanse(mac, sizeof(mac));
    buf_free(&sig);
    return st;
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
    }
    return "unknown";
}
