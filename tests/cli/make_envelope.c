/*
 * make_envelope - test helper for test_decrypt_cli.py: encrypts a file
 * into an envelope (crypto/envelope.h) inside a viewer page
 * (crypto/viewer.h), written bare or as the message.html attachment of a
 * wrapper message.
 *
 *   make_envelope [--passphrase-file F [--name NAME] [--iterations N]]
 *                 [--random-out F] [--recovery PUBLIC.pem] [--chunk N]
 *                 [--form html|eml|eml-qp|eml-base64|eml-other] INPUT OUTPUT
 *
 * Slots: --passphrase-file adds a kind 1 slot for the first line of F
 * (hint from NAME, default "ann@example.net"); --random-out adds a kind 2
 * slot and writes its shown passphrase to F; --recovery adds a kind 3 slot
 * for the public key.  Forms: html is the bare page; eml is a wrapper
 * (multipart/mixed: multipart/alternative instructions, then message.html,
 * 7bit); eml-qp and eml-base64 re-encode the attachment as a relay might;
 * eml-other puts a decoy HTML attachment first and names the page
 * sealed.html.  Everything streams.  Exit 0, or 1 with a reason on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/envelope.h"
#include "crypto/viewer.h"

enum form { F_HTML, F_EML, F_EML_QP, F_EML_B64, F_EML_OTHER };

struct sink {
    FILE *f;
    int enc;                          /* 0 as is, 1 quoted-printable, 2 base64 */
    size_t linelen;                   /* QP: characters on the current line */
    int pending_cr;                   /* QP: a CR waits for its LF */
    int pending_ws;                   /* QP: a space or tab waits (0: none) */
    unsigned char hold[57];           /* base64: bytes of the next line */
    size_t nhold;
};

/* qp_emit - one QP token, with a soft line break first when the line is full */
static void qp_emit(struct sink *s, const char *tok, size_t len)
{
    if (s->linelen + len > 75) {
        fputs("=\r\n", s->f);
        s->linelen = 0;
    }
    fwrite(tok, 1, len, s->f);
    s->linelen += len;
}

/* qp_hex - a byte as =XX */
static void qp_hex(struct sink *s, unsigned c)
{
    char t[4];

    snprintf(t, sizeof(t), "=%02X", c & 0xffu);
    qp_emit(s, t, 3);
}

/* qp_byte - quoted-printable encode one byte of the page */
static void qp_byte(struct sink *s, unsigned char c)
{
    if (s->pending_cr) {
        s->pending_cr = 0;
        if (c == '\n') {
            if (s->pending_ws)
                qp_hex(s, (unsigned)s->pending_ws);
            s->pending_ws = 0;
            fputs("\r\n", s->f);
            s->linelen = 0;
            return;
        }
        if (s->pending_ws) {
            char t = (char)s->pending_ws;

            qp_emit(s, &t, 1);
            s->pending_ws = 0;
        }
        qp_hex(s, '\r');
    }
    if (c == '\r') {
        s->pending_cr = 1;
        return;
    }
    if (s->pending_ws) {
        char t = (char)s->pending_ws;

        qp_emit(s, &t, 1);
        s->pending_ws = 0;
    }
    if (c == ' ' || c == '\t') {
        s->pending_ws = c;
    } else if (c == '=' || c < 33 || c > 126) {
        qp_hex(s, c);
    } else {
        char t = (char)c;

        qp_emit(s, &t, 1);
    }
}

/* b64_line - one base64 line of the held bytes */
static void b64_line(struct sink *s)
{
    unsigned char line[80];
    int n = EVP_EncodeBlock(line, s->hold, (int)s->nhold);

    fwrite(line, 1, (size_t)n, s->f);
    fputs("\r\n", s->f);
    s->nhold = 0;
}

/* page_out - viewer_out_fn: page bytes through the sink's transfer encoding */
static int page_out(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;
    const unsigned char *p = data;

    if (s->enc == 0) {
        if (fwrite(p, 1, len, s->f) != len)
            return -1;
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s->enc == 1) {
            qp_byte(s, p[i]);
        } else {
            s->hold[s->nhold++] = p[i];
            if (s->nhold == sizeof(s->hold))
                b64_line(s);
        }
    }
    return ferror(s->f) ? -1 : 0;
}

/* sink_end - flush what an encoder holds */
static void sink_end(struct sink *s)
{
    if (s->enc == 1) {
        if (s->pending_ws)
            qp_hex(s, (unsigned)s->pending_ws);
        if (s->pending_cr)
            qp_hex(s, '\r');
        if (s->linelen > 0)
            fputs("=\r\n", s->f);    /* the boundary's CRLF must not end the page */
    } else if (s->enc == 2 && s->nhold > 0) {
        b64_line(s);
    }
}

/* first_line - the first line of path without CR/LF; 0 or -1 */
static int first_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return -1;
    if (fgets(out, (int)cap, f) == NULL)
        out[0] = '\0';
    fclose(f);
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 0;
}

/* wrapper_head - the wrapper message up to the page's body */
static void wrapper_head(FILE *f, enum form form)
{
    static const char *const cte[] = { "7bit", "7bit", "quoted-printable", "base64", "7bit" };

    fputs("From: Sender <sender@example.com>\r\n"
          "To: ann@example.net\r\n"
          "Subject: Encrypted message\r\n"
          "Date: Wed, 25 Nov 2026 06:00:00 +0000\r\n"
          "Message-ID: <test@example.com>\r\n"
          "MIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"=_outer_boundary\"\r\n"
          "\r\n"
          "This is a multi-part message in MIME format.\r\n"
          "--=_outer_boundary\r\n"
          "Content-Type: multipart/alternative; boundary=\"=_alt_boundary\"\r\n"
          "\r\n"
          "--=_alt_boundary\r\n"
          "Content-Type: text/plain; charset=us-ascii\r\n"
          "\r\n"
          "This message is encrypted. Open the attached message.html.\r\n"
          "--=_alt_boundary\r\n"
          "Content-Type: text/html; charset=us-ascii\r\n"
          "\r\n"
          "<html><body><p>This message is encrypted. Open the attached message.html.</p></body></html>\r\n"
          "--=_alt_boundary--\r\n"
          "\r\n", f);
    if (form == F_EML_OTHER)
        fputs("--=_outer_boundary\r\n"
              "Content-Type: text/html; charset=us-ascii; name=\"notes.html\"\r\n"
              "Content-Disposition: attachment; filename=\"notes.html\"\r\n"
              "\r\n"
              "<!DOCTYPE html><html><body><script type=\"text/javascript\">var a = 1;</script>\r\n"
              "<script type=\"application/x-mailseal-envelope\">not this one</script></body></html>\r\n",
              f);
    fprintf(f, "--=_outer_boundary\r\n"
               "Content-Type: text/html; charset=us-ascii; name=\"%s\"\r\n"
               "Content-Disposition: attachment; filename=\"%s\"\r\n"
               "Content-Transfer-Encoding: %s\r\n"
               "\r\n",
            form == F_EML_OTHER ? "sealed.html" : "message.html",
            form == F_EML_OTHER ? "sealed.html" : "message.html", cte[form]);
}

/* usage - the helper's arguments */
static int usage(void)
{
    fputs("usage: make_envelope [--passphrase-file F [--name NAME] [--iterations N]]\n"
          "         [--random-out F] [--recovery PUBLIC.pem] [--chunk N]\n"
          "         [--form html|eml|eml-qp|eml-base64|eml-other] INPUT OUTPUT\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "passphrase-file", required_argument, NULL, 'p' },
        { "name", required_argument, NULL, 'n' },
        { "iterations", required_argument, NULL, 'i' },
        { "random-out", required_argument, NULL, 'r' },
        { "recovery", required_argument, NULL, 'k' },
        { "chunk", required_argument, NULL, 'c' },
        { "form", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 }
    };
    static const char *const forms[] = { "html", "eml", "eml-qp", "eml-base64", "eml-other" };
    const char *pass_file = NULL, *name = "ann@example.net", *random_out = NULL, *recovery = NULL;
    unsigned long iterations = ENV_MIN_ITERATIONS, chunk = 0;
    enum form form = F_HTML;
    struct env_writer *w = NULL;
    struct viewer_writer *vw = NULL;
    struct sink sink;
    FILE *in = NULL;
    unsigned char buf[65536];
    int c, rc = 1, found;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pass_file = optarg; break;
        case 'n': name = optarg; break;
        case 'i': iterations = strtoul(optarg, NULL, 10); break;
        case 'r': random_out = optarg; break;
        case 'k': recovery = optarg; break;
        case 'c': chunk = strtoul(optarg, NULL, 10); break;
        case 'f':
            found = 0;
            for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
                if (strcmp(optarg, forms[i]) == 0) {
                    form = (enum form)i;
                    found = 1;
                }
            if (!found)
                return usage();
            break;
        default:
            return usage();
        }
    }
    if (argc - optind != 2 || (pass_file == NULL && random_out == NULL && recovery == NULL))
        return usage();

    memset(&sink, 0, sizeof(sink));
    if ((w = env_writer_new(chunk)) == NULL) {
        perror("env_writer_new");
        return 1;
    }
    if (pass_file != NULL) {
        char pass[4200];
        struct env_recipient_key k;

        if (first_line(pass_file, pass, sizeof(pass)) < 0
            || env_derive_passphrase_key(pass, strlen(pass), (uint32_t)iterations, &k) < 0
            || env_writer_add_passphrase(w, &k, name) < 0) {
            perror("passphrase slot");
            goto out;
        }
        OPENSSL_cleanse(pass, sizeof(pass));
        OPENSSL_cleanse(&k, sizeof(k));
    }
    if (random_out != NULL) {
        char shown[ENV_RANDOM_PASS_SHOWN + 1];
        FILE *f;

        if (env_writer_add_random(w, shown) < 0 || (f = fopen(random_out, "w")) == NULL) {
            perror("random slot");
            goto out;
        }
        fprintf(f, "%s\n", shown);
        fclose(f);
    }
    if (recovery != NULL) {
        unsigned char pub[ENV_X25519_LEN];
        char why[256] = "";

        if (env_load_recovery_public(recovery, pub, why, sizeof(why)) < 0
            || env_writer_add_recovery(w, pub) < 0) {
            fprintf(stderr, "recovery slot: %s\n", why);
            goto out;
        }
    }
    if ((in = fopen(argv[optind], "rb")) == NULL || (sink.f = fopen(argv[optind + 1], "wb")) == NULL) {
        perror("open");
        goto out;
    }
    if (form != F_HTML)
        wrapper_head(sink.f, form);
    sink.enc = form == F_EML_QP ? 1 : form == F_EML_B64 ? 2 : 0;
    if ((vw = viewer_writer_new(NULL, page_out, &sink)) == NULL || viewer_writer_begin(vw) < 0
        || env_writer_begin(w, viewer_writer_data, vw) < 0) {
        perror("begin");
        goto out;
    }
    for (;;) {
        size_t n = fread(buf, 1, sizeof(buf), in);

        if (n > 0 && env_writer_update(w, buf, n) < 0) {
            perror("env_writer_update");
            goto out;
        }
        if (n < sizeof(buf))
            break;
    }
    if (ferror(in) || env_writer_finish(w) < 0 || viewer_writer_finish(vw) < 0) {
        perror("finish");
        goto out;
    }
    sink_end(&sink);
    if (form != F_HTML)
        fputs("\r\n--=_outer_boundary--\r\n", sink.f);
    rc = 0;
out:
    if (in != NULL)
        fclose(in);
    if (sink.f != NULL && fclose(sink.f) != 0)
        rc = 1;
    viewer_writer_free(vw);
    env_writer_free(w);
    return rc;
}
