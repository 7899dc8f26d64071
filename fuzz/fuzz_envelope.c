/*
 * fuzz_envelope - libFuzzer harness for the envelope reader behind
 * `mailseal decrypt` (crypto/envelope.h, crypto/envelope_read.c) and the
 * page side of it: the reader rule that finds the envelope's base64 blocks
 * in a viewer page (viewer_envelope_block(), crypto/viewer.h) and the
 * base64 decoder (message/codec.h).
 *
 * An input that starts (after white space) with '<' is a page: its blocks
 * are found and decoded and the bytes go to the reader; anything else is
 * the binary envelope itself.  The reader gets the bytes twice, once in
 * one piece and once in small pieces (1 to 61 bytes, from the input's
 * length); whenever the header completes without a key, the harness lists
 * the slots and unlocks with the fixed test keys of fuzz_keys.h (a stored
 * recipient key, a random passphrase, an organisation recovery key; the
 * PBKDF2 passphrase path is too slow to fuzz).  A wrong key (ENOKEY), a
 * damaged envelope (EBADMSG) or an unknown version (EPROTO) are normal
 * outcomes.  Checked invariants: both feedings end alike (success or
 * failure) and, when they succeed, release the same plaintext; failures
 * set one of the documented errno values; feed never takes more than it
 * was given.  Interface: LLVMFuzzerTestOneInput() (fuzz.h); a broken
 * invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "crypto/viewer.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_keys.h"
#include "message/codec.h"

#define FUZZ_MAX_RECOVERY_SLOTS 16    /* X25519 per slot: more is only slow */

/* One reading of the envelope. */
struct env_run {
    struct env_reader *r;
    size_t piece;                     /* 0: everything in one feed */
    int failed;                       /* errno of the first failure, 0 none */
    int unlocked;                     /* a slot opened */
    uint64_t hash;                    /* FNV-1a of the plaintext released */
    uint64_t plain;                   /* plaintext bytes released */
};

/* run_out - the reader's output: hash the verified plaintext */
static int run_out(void *arg, const void *data, size_t len)
{
    struct env_run *run = arg;
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        run->hash ^= p[i];
        run->hash *= 0x100000001b3ull;
    }
    run->plain += len;
    return 0;
}

/* known_errno - a failure the interface documents */
static int known_errno(int e)
{
    return e == EINVAL || e == ENOMEM || e == EBADMSG || e == ENOKEY || e == EPROTO || e == EIO;
}

/* run_fail - record the first failure */
static void run_fail(struct env_run *run, int e)
{
    if (!known_errno(e))
        fuzz_fail("reader failed with an undocumented errno");
    if (run->failed == 0)
        run->failed = e;
}

/* run_unlock - list the slots and try the fixed keys; 0 or -1 (recorded) */
static int run_unlock(struct env_run *run)
{
    struct env_recipient_key k;
    struct env_slot_info info;
    size_t n = env_reader_nslots(run->r), recovery = 0;
    int rc;

    if (!env_reader_header_done(run->r) || n == 0 || env_reader_chunk_size(run->r) < ENV_MIN_CHUNK
        || env_reader_chunk_size(run->r) > ENV_MAX_CHUNK)
        fuzz_fail("header accepted out of range");
    for (size_t i = 0; i < n; i++) {
        if (env_reader_slot(run->r, i, &info) < 0)
            fuzz_fail("a listed slot cannot be read");
        if (info.kind == 3)
            recovery++;
    }
    if (env_reader_slot(run->r, n, &info) == 0)
        fuzz_fail("a slot past the end can be read");

    memcpy(k.salt, fuzz_key_salt, ENV_SALT_LEN);
    k.iterations = FUZZ_KEY_ITERATIONS;
    memcpy(k.kek, fuzz_key_kek, ENV_KEY_LEN);
    rc = env_reader_unlock_recipient_key(run->r, &k);
    if (rc < 0 && errno == ENOKEY)
        rc = env_reader_unlock_random(run->r, FUZZ_RANDOM_PASS, strlen(FUZZ_RANDOM_PASS));
    if (rc < 0 && errno == ENOKEY && recovery <= FUZZ_MAX_RECOVERY_SLOTS)
        rc = env_reader_unlock_recovery_key(run->r, fuzz_recovery_priv);
    if (rc < 0) {
        run_fail(run, errno);
        return -1;
    }
    if (env_reader_unlock_recipient_key(run->r, &k) != 0)
        fuzz_fail("an unlocked reader refuses a further unlock");
    run->unlocked = 1;
    return 0;
}

/* run_feed - envelope bytes to the reader, unlocking when it stops after the header; 0 or -1 */
static int run_feed(struct env_run *run, const unsigned char *p, size_t len)
{
    while (len > 0 && run->failed == 0) {
        size_t take = run->piece == 0 || run->piece > len ? len : run->piece;
        long n = env_reader_feed(run->r, p, take);

        if (n < 0) {
            run_fail(run, errno);
            return -1;
        }
        if ((size_t)n > take)
            fuzz_fail("env_reader_feed took more than it was given");
        p += n;
        len -= (size_t)n;
        if ((size_t)n < take && run->unlocked)
            fuzz_fail("the reader stopped taking bytes after the unlock");
        if ((size_t)n < take && run_unlock(run) < 0)
            return -1;
    }
    return run->failed ? -1 : 0;
}

/* run_finish - end of input: unlock if only the header came, then the reader's end */
static void run_finish(struct env_run *run)
{
    if (run->failed)
        return;
    if (env_reader_header_done(run->r) && !run->unlocked && run_unlock(run) < 0)
        return;
    if (env_reader_finish(run->r) < 0)
        run_fail(run, errno);
}

/* feed_page - the envelope's blocks of a page to run; -1 when the page is damaged */
static int feed_page(struct env_run *run, const char *page, size_t len)
{
    size_t pos = 0, start, end;
    unsigned char *out = NULL;
    struct b64_dec b64;
    int rc;

    b64_dec_init(&b64);
    while ((rc = viewer_envelope_block(page, len, &pos, &start, &end)) == 1) {
        size_t k;

        if (start > end || end > len)
            fuzz_fail("block out of the page");
        free(out);
        if ((out = malloc(CODEC_DEC_MAX(end - start))) == NULL)
            return -1;
        k = b64_dec_update(&b64, page + start, end - start, out);
        if (b64.bad || run_feed(run, out, k) < 0) {
            free(out);
            return -1;
        }
    }
    if (rc < 0 && errno != EBADMSG)
        fuzz_fail("viewer_envelope_block failed with an undocumented errno");
    if (rc == 0) {
        unsigned char tail[3];
        size_t k = b64_dec_final(&b64, tail);

        if (!b64.bad && run_feed(run, tail, k) == 0)
            run_finish(run);
    }
    free(out);
    return rc < 0 || b64.bad ? -1 : 0;
}

/* read_once - one reading of the input (page or binary) with the given piece size */
static void read_once(struct env_run *run, const char *data, size_t size, int page, size_t piece)
{
    memset(run, 0, sizeof(*run));
    run->hash = 0xcbf29ce484222325ull;
    run->piece = piece;
    if ((run->r = env_reader_new(run_out, run)) == NULL) {
        run->failed = ENOMEM;
        return;
    }
    if (page) {
        if (feed_page(run, data, size) < 0 && run->failed == 0)
            run->failed = EBADMSG;
    } else if (run_feed(run, (const unsigned char *)data, size) == 0) {
        run_finish(run);
    }
    env_reader_free(run->r);
    run->r = NULL;
}

/* LLVMFuzzerTestOneInput - one page or envelope, read whole and in pieces */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct env_run a, b;
    char *copy = malloc(size ? size : 1);
    size_t i = 0;
    int page;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    while (i < size && (copy[i] == ' ' || copy[i] == '\t' || copy[i] == '\r' || copy[i] == '\n'))
        i++;
    page = i < size && copy[i] == '<';
    read_once(&a, copy, size, page, 0);
    read_once(&b, copy, size, page, 1 + size % 61);
    if (a.failed == ENOMEM || b.failed == ENOMEM) {
        free(copy);
        return 0;
    }
    if ((a.failed == 0) != (b.failed == 0))
        fuzz_fail("reading whole and in pieces end differently");
    if (a.failed == 0 && (a.hash != b.hash || a.plain != b.plain))
        fuzz_fail("reading whole and in pieces release different plaintext");
    free(copy);
    return 0;
}
