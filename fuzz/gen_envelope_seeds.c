/*
 * gen_envelope_seeds - writes the seed corpus of the envelope harness:
 * small envelopes made with the deterministic writer (envelope_int.h) and
 * the fixed keys of fuzz_keys.h, bare and inside minimal viewer pages.
 *
 *   gen_envelope_seeds OUTDIR
 *
 * Prints the random passphrase of the kind 2 slots in its shown form; it
 * must equal FUZZ_RANDOM_PASS (exit 1 otherwise, after writing).  The
 * seeds in fuzz/seeds/envelope/ were made with it; run it again only when
 * the envelope format changes.  Exit 0, or 1 with a reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "crypto/envelope_int.h"
#include "crypto/viewer.h"
#include "fuzz/fuzz_keys.h"
#include "util/buf.h"

#define GEN_MAX (1u << 20)

/* det_rng - a fixed byte stream (the state restarts for every envelope) */
static int det_rng(void *arg, unsigned char *p, size_t len)
{
    unsigned *st = arg;

    for (size_t i = 0; i < len; i++) {
        *st = *st * 1103515245u + 12345u;
        p[i] = (unsigned char)(*st >> 16);
    }
    return 0;
}

/* to_buf - an env_out_fn appending to a buf */
static int to_buf(void *arg, const void *data, size_t len)
{
    return buf_add(arg, data, len);
}

/* make - an envelope of plain with the slots in kinds ("123"); 0 or -1 */
static int make(const char *kinds, const char *plain, size_t plain_len, size_t chunk,
                struct buf *out, char shown[ENV_RANDOM_PASS_SHOWN + 1])
{
    unsigned st = 20260303u;
    struct env_writer *w = env_writer_new_det(chunk, det_rng, &st);
    struct env_recipient_key k;
    unsigned char pub[ENV_X25519_LEN];
    int rc = -1;

    if (w == NULL)
        return -1;
    memcpy(k.salt, fuzz_key_salt, ENV_SALT_LEN);
    k.iterations = FUZZ_KEY_ITERATIONS;
    memcpy(k.kek, fuzz_key_kek, ENV_KEY_LEN);
    if (env_x25519_public(fuzz_recovery_priv, pub) < 0)
        goto out;
    for (const char *c = kinds; *c != '\0'; c++) {
        if ((*c == '1' && env_writer_add_passphrase(w, &k, "ann@example.net") < 0)
            || (*c == '2' && env_writer_add_random(w, shown) < 0)
            || (*c == '3' && env_writer_add_recovery(w, pub) < 0))
            goto out;
    }
    if (env_writer_begin(w, to_buf, out) < 0 || env_writer_update(w, plain, plain_len) < 0
        || env_writer_finish(w) < 0)
        goto out;
    rc = 0;
out:
    env_writer_free(w);
    return rc;
}

/* page - a minimal page holding env in blocks of at most block_lines base64 lines */
static int page(const struct buf *env, size_t block_lines, struct buf *out)
{
    size_t off = 0, lines = 0;
    char line[VIEWER_B64_LINE + 4];

    if (buf_adds(out, "<!DOCTYPE html>\r\n<html><head><title>Sealed</title></head><body>\r\n"
                      VIEWER_ENVELOPE_START "\r\n") < 0)
        return -1;
    while (off < env->len) {
        size_t take = env->len - off < 57 ? env->len - off : 57;
        size_t n = viewer_b64_encode(line, (const unsigned char *)env->data + off, take, 0);

        if (lines == block_lines) {
            if (buf_adds(out, "</script>\r\n" VIEWER_ENVELOPE_MORE "\r\n") < 0)
                return -1;
            lines = 0;
        }
        if (buf_add(out, line, n) < 0 || buf_adds(out, "\r\n") < 0)
            return -1;
        off += take;
        lines++;
    }
    return buf_adds(out, "</script>\r\n<p>Open this file in a browser.</p></body></html>\r\n");
}

/* save - write b to dir/name; 0 or -1 */
static int save(const char *dir, const char *name, const struct buf *b)
{
    char path[4096];
    FILE *f;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL)
        return -1;
    rc = fwrite(b->data, 1, b->len, f) == b->len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* main - write every seed */
int main(int argc, char **argv)
{
    static const struct {
        const char *name, *kinds;
        size_t plain_len, chunk, block_lines;     /* block_lines 0: bare envelope */
    } seeds[] = {
        { "bin-kind1", "1", 64, 1024, 0 },
        { "bin-kind2", "2", 64, 1024, 0 },
        { "bin-kind3", "3", 64, 1024, 0 },
        { "bin-all-chunks", "213", 3000, 1024, 0 },
        { "bin-empty", "1", 0, 1024, 0 },
        { "bin-exact-chunk", "1", 1024, 1024, 0 },
        { "page-kind1.html", "1", 200, 1024, 100 },
        { "page-blocks.html", "21", 2500, 1024, 8 },
        { "page-kind3.html", "3", 10, 1024, 100 },
    };
    char plain[4096], shown[ENV_RANDOM_PASS_SHOWN + 1] = "";
    int rc = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: gen_envelope_seeds OUTDIR\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = "From: a@example.com\r\nSubject: seed\r\n\r\nHello, world.\r\n"[i % 56];
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct buf env = BUF_INIT(GEN_MAX), html = BUF_INIT(GEN_MAX);

        if (make(seeds[i].kinds, plain, seeds[i].plain_len, seeds[i].chunk, &env, shown) < 0
            || (seeds[i].block_lines > 0 && page(&env, seeds[i].block_lines, &html) < 0)
            || save(argv[1], seeds[i].name, seeds[i].block_lines > 0 ? &html : &env) < 0) {
            fprintf(stderr, "gen_envelope_seeds: %s: %s\n", seeds[i].name, strerror(errno));
            rc = 1;
        }
        buf_free(&env);
        buf_free(&html);
    }
    printf("%s\n", shown);
    if (strcmp(shown, FUZZ_RANDOM_PASS) != 0) {
        fprintf(stderr, "gen_envelope_seeds: random passphrase differs from FUZZ_RANDOM_PASS\n");
        rc = 1;
    }
    return rc;
}
