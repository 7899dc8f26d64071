/*
 * envelope_bench - how fast the encrypt action seals a message, next to
 * this machine's own AES-256-GCM figure from `openssl speed` in the same
 * run.
 *
 *   bench_envelope [-r REPS] [-s KB] [--no-openssl]
 *
 * Two figures per message size (100 KB and 10 MB, or -s KB):
 *   envelope  the envelope alone (crypto/envelope.h): the message
 *             encrypted in 64 KiB AES-256-GCM chunks with one passphrase
 *             slot, output discarded;
 *   wrapper   the whole body the milter writes (milter/wrap.h,
 *             wrap_body()): the message read from its spool, the
 *             envelope, its base64 in the viewer page, the instructions
 *             part, the body MAC (v=2, GMAC) for the loop marker.
 * Each is the median of REPS runs after one warm-up (default 41 for
 * 100 KB, 7 for 10 MB), in MB/s of original message (1 MB = 10^6 bytes,
 * as openssl counts).  Then `openssl speed -evp aes-256-gcm -bytes 65536
 * -seconds 2` runs and each figure is also shown as a fraction of its
 * rate (the target for 10 MB: at least 0.30).  Slot key
 * derivation (PBKDF2) is done once, before timing, as the secrets store
 * does it once per recipient.
 *
 * The configuration is written to a fresh directory under /tmp, removed
 * at the end.  Exit 0, or 1 when something failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "config/config.h"
#include "crypto/envelope.h"
#include "message/model.h"
#include "message/spool.h"
#include "milter/wrap.h"
#include "util/buf.h"
#include "util/diag.h"

#define KB 1024u
#define MB (1024u * 1024u)

/* now_ms - a monotonic clock in milliseconds */
static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* cmp_double - qsort order for doubles */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* discard - an output function that only counts */
static int discard(void *arg, const void *data, size_t len)
{
    (void)data;
    *(uint64_t *)arg += len;
    return 0;
}

/* make_message - a size-byte message: text body, then a base64 attachment of
 * random bytes, in a spool kept in memory */
static struct spool *make_message(size_t size)
{
    static const char head[] =
        "From: Alice <alice@example.com>\r\nTo: Bob <bob@partner.test>\r\n"
        "Subject: figures\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    static const char att[] =
        "\r\n--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct spool *sp = spool_new("/tmp", size + 4 * KB);
    char line[80];
    size_t done = 0;
    unsigned char rnd[57];

    if (sp == NULL || spool_write(sp, head, sizeof(head) - 1) < 0)
        goto fail;
    done = sizeof(head) - 1;
    while (done < size / 2) {
        static const char text[] = "The quarterly figures are attached; please review them.\r\n";

        if (spool_write(sp, text, sizeof(text) - 1) < 0)
            goto fail;
        done += sizeof(text) - 1;
    }
    if (spool_write(sp, att, sizeof(att) - 1) < 0)
        goto fail;
    done += sizeof(att) - 1;
    while (done + 78 < size) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            goto fail;
        for (size_t i = 0; i < 76; i++)
            line[i] = b64[rnd[i * 3 / 4] & 63];
        line[76] = '\r';
        line[77] = '\n';
        if (spool_write(sp, line, 78) < 0)
            goto fail;
        done += 78;
    }
    if (spool_write(sp, "--b--\r\n", 7) < 0)
        goto fail;
    return sp;
fail:
    spool_free(sp);
    return NULL;
}

/* write_file - dir/name with text; 0 or -1 */
static int write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* load_config - a minimal configuration in dir: no stored secrets, no
 * random passphrases, so the slot is the bench's own key */
static struct config *load_config(const char *dir)
{
    char path[512], text[1024];
    struct diag d;
    struct config *cfg;

    snprintf(text, sizeof(text),
             "organization: {name: Example, domains: [example.com]}\n"
             "rules: rules.yaml\n"
             "loop: {secret_file: %s/loop.key}\n"
             "envelope: {secrets_file: %s/secrets, random_passphrase: never,"
             " max_wrapper_size: 1GB}\n", dir, dir);
    if (write_file(dir, "rules.yaml", "rules: []\n") < 0 || write_file(dir, "secrets", "") < 0
        || write_file(dir, "mailseal.yaml", text) < 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/secrets", dir);
    chmod(path, 0600);
    snprintf(path, sizeof(path), "%s/mailseal.yaml", dir);
    diag_init(&d);
    cfg = config_load(path, CONFIG_CREATE_SECRET, &d);
    if (cfg == NULL)
        diag_print(&d, stderr);
    diag_free(&d);
    return cfg;
}

/* feed - the spool's bytes into the envelope writer */
static int feed(struct env_writer *w, struct spool *sp)
{
    static char buf[64 * KB];
    uint64_t off = 0, size = spool_size(sp);

    while (off < size) {
        ssize_t n = spool_pread(sp, buf, sizeof(buf), off);

        if (n <= 0 || env_writer_update(w, buf, (size_t)n) < 0)
            return -1;
        off += (uint64_t)n;
    }
    return 0;
}

/* run_envelope - one envelope of the message; milliseconds, < 0 on failure */
static double run_envelope(struct spool *sp, const struct env_recipient_key *key)
{
    uint64_t out = 0;
    struct env_writer *w;
    double t0 = now_ms(), ms = -1;

    if ((w = env_writer_new(0)) == NULL)
        return -1;
    if (env_writer_add_passphrase(w, key, "bob@partner.test") == 0
        && env_writer_begin(w, discard, &out) == 0 && feed(w, sp) == 0
        && env_writer_finish(w) == 0)
        ms = now_ms() - t0;
    env_writer_free(w);
    return ms;
}

/* run_wrapper - one wrapper body as the milter writes it; milliseconds */
static double run_wrapper(const struct config *cfg, struct spool *sp,
                          const struct msg_envelope *env, const struct wrap_extra *extra)
{
    uint64_t out = 0;
    struct wrap_info info;
    double t0 = now_ms(), ms;
    int rc = wrap_body(cfg, config_template_find(cfg, NULL), sp, env, extra, discard, &out, &info);

    ms = now_ms() - t0;
    wrap_info_clear(&info);
    return rc == 0 ? ms : -1;
}

/* openssl_rate - MB/s of `openssl speed -evp aes-256-gcm` for 64 KiB
 * blocks (its last column, in 1000s of bytes per second), 0 on failure */
static double openssl_rate(void)
{
    /* NOLINTNEXTLINE(cert-env33-c): a fixed command line, for the comparison figure */
    FILE *p = popen("openssl speed -evp aes-256-gcm -bytes 65536 -seconds 2 2>/dev/null", "r");
    char line[512];
    double kbs = 0;

    if (p == NULL)
        return 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *last = strrchr(line, ' ');

        if (strncmp(line, "AES-256-GCM", 11) == 0 && last != NULL)
            kbs = strtod(last + 1, NULL);
    }
    pclose(p);
    return kbs / 1000.0;
}

/* measure - the median milliseconds of reps runs of one kind */
static int measure(int kind, size_t size, int reps, const struct config *cfg,
                   const struct env_recipient_key *key, const struct msg_envelope *env,
                   double *median)
{
    struct wrap_extra extra = { key, "bob@partner.test" };
    struct spool *sp = make_message(size);
    double *t = calloc((size_t)reps + 1, sizeof(*t));
    int rc = -1;

    if (sp == NULL || t == NULL)
        goto out;
    for (int i = 0; i <= reps; i++) {
        t[i] = kind == 0 ? run_envelope(sp, key) : run_wrapper(cfg, sp, env, &extra);
        if (t[i] < 0)
            goto out;
    }
    qsort(t + 1, (size_t)reps, sizeof(*t), cmp_double);
    *median = t[1 + reps / 2];
    rc = 0;
out:
    free(t);
    spool_free(sp);
    return rc;
}

int main(int argc, char **argv)
{
    size_t sizes[2] = { 100 * KB, 10 * MB }, nsizes = 2;
    int reps = 0, with_openssl = 1, rc = 1;
    char dir[] = "/tmp/mailseal-bench-XXXXXX", cmd[600];
    struct env_recipient_key key;
    struct msg_envelope env;
    struct config *cfg = NULL;
    double res[2][2], ossl = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);    /* NOLINT(cert-err34-c): bench option */
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            sizes[0] = (size_t)atol(argv[++i]) * KB;   /* NOLINT(cert-err34-c): bench option */
            nsizes = 1;
        } else if (strcmp(argv[i], "--no-openssl") == 0) {
            with_openssl = 0;
        } else {
            fprintf(stderr, "usage: bench_envelope [-r REPS] [-s KB] [--no-openssl]\n");
            return 2;
        }
    }
    msg_envelope_init(&env);
    if (mkdtemp(dir) == NULL || (cfg = load_config(dir)) == NULL
        || msg_envelope_set_from(&env, "alice@example.com") < 0
        || msg_envelope_add_rcpt(&env, "bob@partner.test") < 0
        || env_derive_passphrase_key("correct horse battery staple", 28, 600000, &key) < 0) {
        fprintf(stderr, "bench_envelope: setup failed: %s\n", strerror(errno));
        goto out;
    }
    for (size_t s = 0; s < nsizes; s++)
        for (int kind = 0; kind < 2; kind++) {
            int r = reps > 0 ? reps : sizes[s] >= MB ? 7 : 41;

            if (measure(kind, sizes[s], r, cfg, &key, &env, &res[s][kind]) < 0) {
                fprintf(stderr, "bench_envelope: %s of %zu KB failed: %s\n",
                        kind ? "wrapper" : "envelope", sizes[s] / KB, strerror(errno));
                goto out;
            }
        }
    if (with_openssl)
        ossl = openssl_rate();
    printf("%-10s %10s %10s %10s %12s\n", "what", "size", "ms", "MB/s", "x openssl");
    for (size_t s = 0; s < nsizes; s++)
        for (int kind = 0; kind < 2; kind++) {
            double mbs = sizes[s] / 1e6 / (res[s][kind] / 1e3);
            char ratio[32] = "-";

            if (ossl > 0)
                snprintf(ratio, sizeof(ratio), "%.2f", mbs / ossl);
            printf("%-10s %7zu KB %10.2f %10.0f %12s\n", kind ? "wrapper" : "envelope",
                   sizes[s] / KB, res[s][kind], mbs, ratio);
        }
    if (with_openssl)
        printf("openssl speed -evp aes-256-gcm -bytes 65536: %.0f MB/s\n", ossl);
    rc = 0;
out:
    OPENSSL_cleanse(&key, sizeof(key));
    msg_envelope_free(&env);
    config_free(cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    /* NOLINTNEXTLINE(cert-env33-c): removes the bench's own mkdtemp directory */
    if (system(cmd) != 0)
        fprintf(stderr, "bench_envelope: could not remove %s\n", dir);
    return rc;
}
