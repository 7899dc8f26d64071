/*
 * cmd_decrypt - `mailseal decrypt`: the bytes that were encrypted, from a
 * wrapper message (.eml) or the bare viewer page (message.html).
 *
 *   mailseal decrypt [--passphrase-file F | --org-key PRIVATE.pem]
 *                    [--address ADDR] [-o OUT] [INPUT]
 *
 * Input (INPUT or stdin): a page that starts (after an optional BOM and
 * white space) with "<!DOCTYPE" or "<html" is read as the viewer; anything
 * else is parsed as a MIME message (message/mime_parse.h) in two passes:
 * the first finds the attachment named message.html that holds the
 * envelope's start tag (else the first text/html attachment that does),
 * the second transfer-decodes that part (codec.h) and reads the envelope
 * out of it.  In both cases the base64 of the envelope is found by the
 * reader rule of docs/ENVELOPE.md ("Embedding in the viewer"), which
 * viewer_envelope_block() implements over a whole page: the text between
 * the first start tag (VIEWER_ENVELOPE_START, exactly) and the next
 * "</script>", then, for as long as optional white space and exactly
 * VIEWER_ENVELOPE_MORE follow an end tag, that block's text up to its
 * "</script>" too.  Here a streaming matcher does the same in constant
 * memory, since the page is never held whole: after an end tag it skips
 * white space and matches the continuation tag byte by byte; the first
 * byte that does not fit (a partial tag that fails included) or the end of
 * the page ends the envelope.  Markup inside a block, or a block without
 * its end tag, is damage.
 *
 * Memory stays bounded whatever the input size: the input is read in
 * 64 KiB pieces (stdin that is not a regular file is first spooled to an
 * unlinked temporary file, for the second MIME pass), base64 is decoded as
 * it comes and the envelope reader (crypto/envelope.h) holds one chunk.
 *
 * Keys: --passphrase-file F takes the first line of F (trailing CR/LF
 * removed); when it has the form of a random passphrase the kind 2 slots
 * are tried first, then the kind 1 slots (hinted by --address).
 * --org-key loads the organisation's X25519 private key (refused when
 * others can read it) before the input is read.  Passphrase and key are
 * wiped after use and never printed.
 *
 * Output: verified plaintext is written as each chunk verifies, to stdout
 * or to OUT.tmp-XXXXXX (mode 0600) beside OUT, which is renamed to OUT
 * only once the whole envelope verified and removed on any failure (and
 * when SIGINT, SIGTERM, SIGHUP or SIGQUIT ends the process).  A failure
 * after some plaintext reached stdout says so on stderr.
 *
 * cmd_decrypt() returns the exit status (cli.h): 0, 1 with a one-line
 * reason on stderr, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "crypto/envelope.h"
#include "crypto/viewer.h"
#include "message/codec.h"
#include "message/mime_parse.h"
#include "util/buf.h"

#define DEC_READ 65536                /* input bytes read at a time */
#define DEC_PIECE 65536               /* base64 text decoded at a time */
#define DEC_PASS_MAX 4096             /* longest passphrase (docs/ENVELOPE.md) */
#define DEC_SNIFF 1024                /* input bytes examined for an HTML start */
#define DEC_PATH_MAX 4096             /* longest -o path */

static const char dec_tag[] = VIEWER_ENVELOPE_START;
static const char dec_end_tag[] = "</script>";
static const char dec_more_tag[] = VIEWER_ENVELOPE_MORE;
#define DEC_TAG_LEN (sizeof(dec_tag) - 1)
#define DEC_END_LEN (sizeof(dec_end_tag) - 1)
#define DEC_MORE_LEN (sizeof(dec_more_tag) - 1)

enum dec_err {
    DE_NONE,
    DE_NOENV,                         /* no start tag in the input */
    DE_DAMAGED,                       /* bad base64, no end tag, or the reader's EBADMSG */
    DE_VERSION,                       /* EPROTO */
    DE_NOKEY,                         /* no slot opens */
    DE_BADPASS,                       /* the passphrase is not usable (EINVAL) */
    DE_OUTPUT,                        /* writing the plaintext failed (sys_errno) */
    DE_INPUT,                         /* reading the input failed (sys_errno) */
    DE_OTHER                          /* anything else (sys_errno) */
};

struct dec_ctx {
    const char *pass;                 /* --passphrase-file: the first line */
    size_t pass_len;
    int random_form;                  /* it canonicalises as a random passphrase */
    const char *addr;                 /* --address */
    const unsigned char *org_priv;    /* --org-key: the raw private key */
    struct env_reader *r;
    int unlocked;
    int out_fd;
    uint64_t written;                 /* plaintext bytes written */
    enum dec_err err;
    int sys_errno;
};

/* The base64 text of the envelope inside a page, streamed: X_SEARCH for the
 * start tag, X_BODY in a block (up to its end tag), X_GAP after an end tag
 * (white space, then the continuation tag or the envelope's end), X_DONE. */
enum dec_xstate { X_SEARCH, X_BODY, X_GAP, X_DONE };

struct dec_extract {
    struct dec_ctx *d;                /* NULL: only look for the start tag */
    enum dec_xstate state;
    size_t m;                         /* bytes of the current state's tag matched so far */
    struct b64_dec b64;
    unsigned char *out;               /* CODEC_DEC_MAX(DEC_PIECE) bytes */
};

/* OUT.tmp-XXXXXX while it exists, for on_signal() */
static const char *volatile dec_tmp_path;
static const int dec_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define DEC_NSIGNALS (sizeof(dec_signals) / sizeof(dec_signals[0]))

/* on_signal - remove the unfinished output, then end as the signal says */
static void on_signal(int sig)
{
    const char *tmp = dec_tmp_path;

    if (tmp != NULL)
        unlink(tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* block_signals - block (how SIG_BLOCK) or unblock (SIG_UNBLOCK) the signals on_signal() takes */
static void block_signals(int how)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < DEC_NSIGNALS; i++)
        sigaddset(&set, dec_signals[i]);
    sigprocmask(how, &set, NULL);
}

/* decrypt_usage - the subcommand's help */
static void decrypt_usage(FILE *fp)
{
    fprintf(fp,
            "usage: mailseal decrypt [--passphrase-file FILE | --org-key PRIVATE.pem]\n"
            "                        [--address ADDR] [-o OUT] [INPUT]\n"
            "  Writes the original message of a mailseal envelope.  INPUT (default stdin)\n"
            "  is the wrapper message (.eml) or its message.html attachment.\n"
            "  --passphrase-file FILE  the passphrase is the first line of FILE (the\n"
            "                          recipient's passphrase or the message's random one)\n"
            "  --org-key PRIVATE.pem   the organisation's recovery key (X25519, PKCS#8 PEM)\n"
            "  --address ADDR          the recipient's address: its key slot is tried first\n"
            "  -o, --output OUT        write to OUT (created only when the whole envelope\n"
            "                          verified) instead of stdout\n"
            "  Exit 0 on success, 1 on failure, 2 on usage errors.\n");
}

/* dec_fail - remember the first failure */
static void dec_fail(struct dec_ctx *d, enum dec_err e, int sys_errno)
{
    if (d->err == DE_NONE) {
        d->err = e;
        d->sys_errno = sys_errno;
    }
}

/* dec_reader_fail - map a reader failure (errno) to a reason */
static void dec_reader_fail(struct dec_ctx *d, int e)
{
    if (e == EBADMSG)
        dec_fail(d, DE_DAMAGED, e);
    else if (e == EPROTO)
        dec_fail(d, DE_VERSION, e);
    else
        dec_fail(d, DE_OTHER, e);       /* an output failure was recorded first */
}

/* dec_out - env_out_fn: write verified plaintext */
static int dec_out(void *arg, const void *data, size_t len)
{
    struct dec_ctx *d = arg;
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(d->out_fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            dec_fail(d, DE_OUTPUT, e);
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        d->written += (uint64_t)n;
    }
    return 0;
}

/* dec_unlock - open a key slot with the key given; 0 or -1 (reason recorded) */
static int dec_unlock(struct dec_ctx *d)
{
    int rc;

    if (d->org_priv != NULL) {
        rc = env_reader_unlock_recovery_key(d->r, d->org_priv);
    } else {
        rc = -1;
        errno = ENOKEY;
        if (d->random_form)
            rc = env_reader_unlock_random(d->r, d->pass, d->pass_len);
        if (rc < 0 && errno == ENOKEY)
            rc = env_reader_unlock_passphrase(d->r, d->pass, d->pass_len, d->addr);
    }
    if (rc == 0) {
        d->unlocked = 1;
        return 0;
    }
    if (errno == ENOKEY)
        dec_fail(d, DE_NOKEY, errno);
    else if (errno == EINVAL)
        dec_fail(d, DE_BADPASS, errno);
    else
        dec_reader_fail(d, errno);
    return -1;
}

/* dec_feed - envelope bytes to the reader, unlocking once the header is in; 0 or -1 */
static int dec_feed(struct dec_ctx *d, const unsigned char *p, size_t len)
{
    while (len > 0) {
        long n = env_reader_feed(d->r, p, len);

        if (n < 0) {
            dec_reader_fail(d, errno);
            return -1;
        }
        p += n;
        len -= (size_t)n;
        if (len > 0) {
            if (d->unlocked || !env_reader_header_done(d->r)) {
                dec_fail(d, DE_OTHER, EIO);     /* the reader took nothing: cannot happen */
                return -1;
            }
            if (dec_unlock(d) < 0)
                return -1;
        }
    }
    return 0;
}

/* dec_finish - end of the envelope: unlock if only the header came, verify the last chunk */
static int dec_finish(struct dec_ctx *d)
{
    if (!d->unlocked && env_reader_header_done(d->r) && dec_unlock(d) < 0)
        return -1;
    if (env_reader_finish(d->r) < 0) {
        dec_reader_fail(d, errno);
        return -1;
    }
    return 0;
}

/* x_init - an extractor; d NULL only looks for the start tag.  0 or -1 ENOMEM */
static int x_init(struct dec_extract *x, struct dec_ctx *d)
{
    memset(x, 0, sizeof(*x));
    x->d = d;
    x->state = X_SEARCH;
    b64_dec_init(&x->b64);
    if (d != NULL && (x->out = malloc(CODEC_DEC_MAX(DEC_PIECE))) == NULL)
        return -1;
    return 0;
}

/* x_free - release an extractor's buffer */
static void x_free(struct dec_extract *x)
{
    free(x->out);
    x->out = NULL;
}

/* x_decode - base64 text of the envelope to the reader; 0 or -1 */
static int x_decode(struct dec_extract *x, const char *s, size_t len)
{
    while (len > 0) {
        size_t n = len < DEC_PIECE ? len : DEC_PIECE;
        size_t k = b64_dec_update(&x->b64, s, n, x->out);

        if (x->b64.bad) {
            dec_fail(x->d, DE_DAMAGED, EBADMSG);
            return -1;
        }
        if (dec_feed(x->d, x->out, k) < 0)
            return -1;
        s += n;
        len -= n;
    }
    return 0;
}

/* x_end - the envelope's last block ended: the last base64 bits, then the reader's end; 0 or -1 */
static int x_end(struct dec_extract *x)
{
    size_t k = b64_dec_final(&x->b64, x->out);

    if (x->b64.bad) {
        dec_fail(x->d, DE_DAMAGED, EBADMSG);
        return -1;
    }
    if (dec_feed(x->d, x->out, k) < 0)
        return -1;
    return dec_finish(x->d);
}

/* ascii_lower - c with A-Z lower-cased */
static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* x_push - page text in; 0 (also once done: later text is ignored) or -1 */
static int x_push(struct dec_extract *x, const char *s, size_t len)
{
    size_t i = 0;

    /* '<' starts every tag and occurs in none again, so a mismatch restarts at 0 */
    while (i < len && x->state == X_SEARCH) {
        if (x->m == 0) {
            const char *lt = memchr(s + i, '<', len - i);

            if (lt == NULL)
                return 0;
            i = (size_t)(lt - s);
        }
        if (s[i] == dec_tag[x->m]) {
            i++;
            if (++x->m == DEC_TAG_LEN) {
                x->m = 0;
                x->state = X_BODY;
                if (x->d == NULL)
                    return 0;
            }
        } else {
            x->m = 0;               /* look at this byte again as a possible start */
        }
    }
    while (i < len && (x->state == X_BODY || x->state == X_GAP)) {
        if (x->state == X_BODY) {
            if (x->m == 0) {
                const char *lt = memchr(s + i, '<', len - i);
                size_t n = (lt != NULL ? (size_t)(lt - s) : len) - i;

                if (x_decode(x, s + i, n) < 0)
                    return -1;
                i += n;
                if (lt == NULL)
                    return 0;
            }
            if (ascii_lower(s[i]) != dec_end_tag[x->m]) {
                dec_fail(x->d, DE_DAMAGED, EBADMSG);  /* markup inside the base64 */
                return -1;
            }
            i++;
            if (++x->m == DEC_END_LEN) {
                x->m = 0;
                x->state = X_GAP;
            }
        } else if (x->m == 0 && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
            i++;
        } else if (s[i] == dec_more_tag[x->m]) {
            i++;
            if (++x->m == DEC_MORE_LEN) {
                x->m = 0;
                x->state = X_BODY;  /* the next block's text follows */
            }
        } else {
            x->state = X_DONE;      /* anything else, a partial continuation tag too */
            return x_end(x);
        }
    }
    return 0;
}

/* x_eof - the page ended; 0 or -1 (no start tag: no envelope; inside a block: truncated) */
static int x_eof(struct dec_extract *x)
{
    if (x->state == X_DONE)
        return 0;
    if (x->state == X_GAP) {
        x->state = X_DONE;
        return x_end(x);
    }
    dec_fail(x->d, x->state == X_SEARCH ? DE_NOENV : DE_DAMAGED,
             x->state == X_SEARCH ? ENOENT : EBADMSG);
    return -1;
}

/* read_at - up to len bytes at offset off; bytes read, or -1 */
static ssize_t read_at(int fd, void *data, size_t len, off_t off)
{
    for (;;) {
        ssize_t n = pread(fd, data, len, off);

        if (n >= 0 || errno != EINTR)
            return n;
    }
}

/* spool_input - copy a non-seekable input into an unlinked temporary file; its fd or -1 */
static int spool_input(int in)
{
    const char *dir = getenv("TMPDIR");
    char *chunk;
    int fd;

    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        struct buf path = BUF_INIT(DEC_PATH_MAX);

        if (buf_printf(&path, "%s/mailseal-decrypt-XXXXXX", dir) < 0)
            return -1;
        fd = mkostemp(path.data, O_CLOEXEC);
        if (fd >= 0)
            unlink(path.data);
        buf_free(&path);
        if (fd < 0)
            return -1;
    }
    if ((chunk = malloc(DEC_READ)) == NULL) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, chunk, DEC_READ);
        const char *p = chunk;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;

            free(chunk);
            if (n == 0 && lseek(fd, 0, SEEK_SET) == 0)
                return fd;
            e = n == 0 ? errno : e;
            close(fd);
            errno = e;
            return -1;
        }
        while (n > 0) {
            ssize_t w = write(fd, p, (size_t)n);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int e = w < 0 ? errno : EIO;

                free(chunk);
                close(fd);
                errno = e;
                return -1;
            }
            p += w;
            n -= w;
        }
    }
}

/* looks_html - the input starts, after an optional BOM and white space, with <!DOCTYPE or <html */
static int looks_html(const char *s, size_t len)
{
    size_t i = 0;

    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\f'))
        i++;
    return (len - i >= 9 && strncasecmp(s + i, "<!DOCTYPE", 9) == 0)
        || (len - i >= 5 && strncasecmp(s + i, "<html", 5) == 0);
}

/* run_html - the whole input is the page; 0 or -1 */
static int run_html(struct dec_ctx *d, int fd, off_t base, char *chunk)
{
    struct dec_extract x;
    off_t off = base;
    int rc = 0;

    if (x_init(&x, d) < 0) {
        dec_fail(d, DE_OTHER, ENOMEM);
        return -1;
    }
    while (rc == 0 && x.state != X_DONE) {
        ssize_t n = read_at(fd, chunk, DEC_READ, off);

        if (n < 0) {
            dec_fail(d, DE_INPUT, errno);
            rc = -1;
        } else if (n == 0) {
            rc = x_eof(&x);
            break;
        } else {
            off += n;
            rc = x_push(&x, chunk, (size_t)n);
        }
    }
    x_free(&x);
    return rc;
}

/* The MIME passes: pass 1 picks the part, pass 2 reads the envelope out of it. */
struct dec_mime {
    struct dec_ctx *d;
    int pass2;
    unsigned want;                    /* pass 2: the part chosen in pass 1 */
    int named_found, html_found;      /* pass 1: a message.html / text/html attachment with the tag */
    unsigned named_id, html_id;
    int active, active_named;         /* the current leaf is being decoded */
    unsigned active_id;
    enum mime_cte cte;
    struct b64_dec b64;
    struct qp_dec qp;
    unsigned char *dec;               /* CODEC_DEC_MAX(DEC_READ) bytes */
    struct dec_extract x;
};

/* part_is_candidate - 1 when a leaf may hold the page: named message.html (Content-Disposition
 * filename, else Content-Type name; *named set), or a text/html attachment; 0, or -1 ENOMEM */
static int part_is_candidate(const struct mime_part *mp, int *named)
{
    const struct mime_hdr *h = mime_hdrs_find(mp->hdrs, "Content-Disposition", 0);
    struct mime_disp disp;
    const char *fn;
    int attachment, html;

    *named = 0;
    if (mime_disp_parse(h ? h->raw : NULL, h ? strlen(h->raw) : 0, &disp) < 0)
        return -1;
    fn = mime_params_get(&disp.params, "filename");
    if (fn == NULL || *fn == '\0')
        fn = mime_params_get(&mp->ct->params, "name");
    if (fn != NULL && *fn == '\0')
        fn = NULL;
    *named = fn != NULL && strcasecmp(fn, "message.html") == 0;
    attachment = fn != NULL || (disp.type != NULL && strcmp(disp.type, "attachment") == 0);
    html = mp->ct->type != NULL && strcmp(mp->ct->type, "text/html") == 0;
    mime_disp_free(&disp);
    return *named || (attachment && html);
}

/* mime_begin - part_begin: start decoding the leaves that may hold the page */
static int mime_begin(void *arg, struct mime_part *mp)
{
    struct dec_mime *m = arg;
    int named = 0, cand;

    m->active = 0;
    if (mp->kind != MIME_LEAF)
        return 0;
    if (m->pass2) {
        if (mp->id != m->want)
            return 0;
    } else {
        if ((cand = part_is_candidate(mp, &named)) < 0)
            return -1;
        if (!cand || (!named && m->html_found))
            return 0;
        x_init(&m->x, NULL);
    }
    m->active = 1;
    m->active_named = named;
    m->active_id = mp->id;
    m->cte = mp->cte;
    b64_dec_init(&m->b64);
    qp_dec_init(&m->qp);
    return 0;
}

/* mime_page - decoded page text of the active part; 0, MIME_STOP or -1 */
static int mime_page(struct dec_mime *m, const char *s, size_t len)
{
    if (!m->pass2) {
        x_push(&m->x, s, len);
        if (m->x.state == X_SEARCH)
            return 0;
        m->active = 0;
        if (m->active_named) {
            m->named_found = 1;
            m->named_id = m->active_id;
            return MIME_STOP;           /* nothing can come before it */
        }
        m->html_found = 1;
        m->html_id = m->active_id;
        return 0;
    }
    if (x_push(&m->x, s, len) < 0) {
        errno = ECANCELED;              /* the reason is in m->d */
        return -1;
    }
    return m->x.state == X_DONE ? MIME_STOP : 0;
}

/* mime_body - body: transfer-decode the active part */
static int mime_body(void *arg, const struct mime_part *mp, const char *data, size_t len)
{
    struct dec_mime *m = arg;

    (void)mp;
    if (m->cte != MIME_CTE_BASE64 && m->cte != MIME_CTE_QP)
        return m->active ? mime_page(m, data, len) : 0;
    while (m->active && len > 0) {
        size_t in = len < DEC_READ ? len : DEC_READ, n;
        int rc;

        if (m->cte == MIME_CTE_BASE64)
            n = b64_dec_update(&m->b64, data, in, m->dec);
        else
            n = qp_dec_update(&m->qp, data, in, m->dec);
        if ((rc = mime_page(m, (const char *)m->dec, n)) != 0)
            return rc;
        data += in;
        len -= in;
    }
    return 0;
}

/* mime_end - part_end: flush the transfer decoder of the active part */
static int mime_end(void *arg, const struct mime_part *mp)
{
    struct dec_mime *m = arg;
    size_t n = 0;
    int rc;

    if (!m->active || mp->id != m->active_id)
        return 0;
    if (m->cte == MIME_CTE_BASE64)
        n = b64_dec_final(&m->b64, m->dec);
    else if (m->cte == MIME_CTE_QP)
        n = qp_dec_final(&m->qp, m->dec);
    rc = n > 0 ? mime_page(m, (const char *)m->dec, n) : 0;
    if (rc != 0 || !m->active)
        return rc;
    m->active = 0;
    if (m->pass2) {
        if (x_eof(&m->x) < 0) {
            errno = ECANCELED;
            return -1;
        }
        return MIME_STOP;
    }
    return 0;
}

/* mime_pass - one parse of the whole input; 0 or -1 */
static int mime_pass(struct dec_mime *m, int fd, off_t base, char *chunk)
{
    struct mime_callbacks cb = { mime_begin, mime_body, mime_end, m };
    struct msg_limits lim;
    struct mime_parser *p;
    off_t off = base;
    int rc = 0;

    msg_limits_default(&lim);
    if ((p = mime_parse_new(&lim, &cb)) == NULL) {
        dec_fail(m->d, DE_OTHER, errno);
        return -1;
    }
    while (rc == 0 && !mime_parse_stopped(p)) {
        ssize_t n = read_at(fd, chunk, DEC_READ, off);

        if (n < 0) {
            dec_fail(m->d, DE_INPUT, errno);
            rc = -1;
        } else if (n == 0) {
            break;
        } else {
            off += n;
            rc = mime_parse_push(p, chunk, (size_t)n);
        }
    }
    if (rc == 0 && !mime_parse_stopped(p))
        rc = mime_parse_finish(p);
    if (rc < 0)
        dec_fail(m->d, DE_OTHER, errno);     /* unless a reason was recorded */
    mime_parse_free(p);
    return rc < 0 ? -1 : 0;
}

/* run_mime - the input is a wrapper message; 0 or -1 */
static int run_mime(struct dec_ctx *d, int fd, off_t base, char *chunk)
{
    struct dec_mime m;
    int rc = -1;

    memset(&m, 0, sizeof(m));
    m.d = d;
    if ((m.dec = malloc(CODEC_DEC_MAX(DEC_READ))) == NULL) {
        dec_fail(d, DE_OTHER, ENOMEM);
        return -1;
    }
    if (mime_pass(&m, fd, base, chunk) == 0) {
        if (!m.named_found && !m.html_found) {
            dec_fail(d, DE_NOENV, ENOENT);
        } else {
            m.pass2 = 1;
            m.want = m.named_found ? m.named_id : m.html_id;
            m.active = 0;
            if (x_init(&m.x, d) < 0)
                dec_fail(d, DE_OTHER, ENOMEM);
            else if (mime_pass(&m, fd, base, chunk) == 0 && m.x.state == X_DONE)
                rc = 0;
            else
                dec_fail(d, DE_DAMAGED, EBADMSG);   /* the part ended early */
            x_free(&m.x);
        }
    }
    free(m.dec);
    return rc;
}

/* decrypt_input - detect the input's form and decrypt it; 0 or -1 */
static int decrypt_input(struct dec_ctx *d, int fd)
{
    char *chunk = malloc(DEC_READ);
    off_t base;
    ssize_t n;
    int rc = -1;

    if (chunk == NULL) {
        dec_fail(d, DE_OTHER, ENOMEM);
        return -1;
    }
    if ((base = lseek(fd, 0, SEEK_CUR)) < 0)
        base = 0;
    n = read_at(fd, chunk, DEC_SNIFF, base);
    if (n < 0)
        dec_fail(d, DE_INPUT, errno);
    else if (looks_html(chunk, (size_t)n))
        rc = run_html(d, fd, base, chunk);
    else
        rc = run_mime(d, fd, base, chunk);
    free(chunk);
    return rc;
}

/* open_output - OUT.tmp-XXXXXX beside out (mode 0600); its fd, the path in tmp, or -1 */
static int open_output(const char *out, struct buf *tmp)
{
    int fd;

    if (buf_printf(tmp, "%s.tmp-XXXXXX", out) < 0)
        return -1;
    fd = mkostemp(tmp->data, O_CLOEXEC);
    if (fd >= 0 && fchmod(fd, 0600) < 0) {
        int e = errno;

        close(fd);
        unlink(tmp->data);
        errno = e;
        return -1;
    }
    return fd;
}

/* report - the one-line reason of a failure */
static void report(const struct dec_ctx *d, const char *input, const char *output)
{
    const char *what;

    switch (d->err) {
    case DE_NOENV:
        what = "no mailseal envelope found in the input";
        break;
    case DE_DAMAGED:
        what = "the envelope is damaged or truncated";
        break;
    case DE_VERSION:
        what = "unsupported envelope version";
        break;
    case DE_NOKEY:
        what = d->org_priv != NULL ? "the organisation key opens no key slot"
                                   : "wrong passphrase (no key slot opens)";
        break;
    case DE_BADPASS:
        what = "the passphrase is not valid UTF-8";
        break;
    case DE_OUTPUT:
        fprintf(stderr, "mailseal decrypt: cannot write %s: %s\n",
                output != NULL ? output : "the output", strerror(d->sys_errno));
        return;
    case DE_INPUT:
        fprintf(stderr, "mailseal decrypt: cannot read %s: %s\n",
                input != NULL ? input : "stdin", strerror(d->sys_errno));
        return;
    default:
        fprintf(stderr, "mailseal decrypt: decryption failed: %s\n", strerror(d->sys_errno));
        return;
    }
    fprintf(stderr, "mailseal decrypt: %s\n", what);
}

/* open_input - INPUT (or stdin) as a seekable fd; -1 with errno */
static int open_input(const char *input, int *spooled)
{
    struct stat st;
    int fd = input != NULL ? open(input, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;

    *spooled = 0;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        return fd;
    {
        int sp = spool_input(fd), e = errno;

        if (input != NULL)
            close(fd);
        errno = e;
        if (sp >= 0)
            *spooled = 1;
        return sp;
    }
}

/* cmd_decrypt - `mailseal decrypt`: options, keys, input, output (see the top of the file) */
int cmd_decrypt(int argc, char **argv)
{
    enum { OPT_PASS = 256, OPT_ORG, OPT_ADDR };
    static const struct option opts[] = {
        { "passphrase-file", required_argument, NULL, OPT_PASS },
        { "org-key", required_argument, NULL, OPT_ORG },
        { "address", required_argument, NULL, OPT_ADDR },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *pass_file = NULL, *org_key = NULL, *addr = NULL, *output = NULL, *input = NULL;
    char pass[DEC_PASS_MAX + 2], canon[ENV_RANDOM_PASS_CHARS + 1];
    unsigned char priv[ENV_X25519_LEN];
    struct buf tmp = BUF_INIT(DEC_PATH_MAX);
    struct sigaction sa, old_sa[DEC_NSIGNALS];
    struct dec_ctx d;
    int c, in_fd = -1, spooled = 0, rc = CLI_INVALID;

    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_PASS:
            pass_file = optarg;
            break;
        case OPT_ORG:
            org_key = optarg;
            break;
        case OPT_ADDR:
            addr = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            decrypt_usage(stdout);
            return CLI_OK;
        default:
            decrypt_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (argc - optind > 1 || (pass_file == NULL) == (org_key == NULL)
        || (addr != NULL && pass_file == NULL) || (output != NULL && *output == '\0')) {
        if (argc - optind > 1)
            fprintf(stderr, "mailseal decrypt: one INPUT at most\n");
        else if ((pass_file == NULL) == (org_key == NULL))
            fprintf(stderr, "mailseal decrypt: give exactly one of --passphrase-file and --org-key\n");
        else if (output != NULL && *output == '\0')
            fprintf(stderr, "mailseal decrypt: -o needs a file name\n");
        else
            fprintf(stderr, "mailseal decrypt: --address goes with --passphrase-file\n");
        decrypt_usage(stderr);
        return CLI_USAGE;
    }
    if (argc - optind == 1 && strcmp(argv[optind], "-") != 0)
        input = argv[optind];

    memset(&d, 0, sizeof(d));
    d.out_fd = -1;
    d.addr = addr;
    if (pass_file != NULL) {
        const char *why = NULL;
        size_t len = 0;

        if (cli_read_passphrase_file(pass_file, pass, sizeof(pass), DEC_PASS_MAX, &len,
                                     &why) < 0) {
            if (errno == E2BIG)
                why = "the passphrase is longer than 4096 bytes";
            fprintf(stderr, "mailseal decrypt: %s: %s\n", pass_file, why);
            return CLI_INVALID;
        }
        if (len == 0) {
            fprintf(stderr, "mailseal decrypt: %s: the passphrase file's first line is empty\n",
                    pass_file);
            return CLI_INVALID;
        }
        d.pass = pass;
        d.pass_len = len;
        d.random_form = env_random_canonical(pass, len, canon) == 0;
        OPENSSL_cleanse(canon, sizeof(canon));
    } else {
        char why[256] = "";

        if (env_load_recovery_private(org_key, priv, why, sizeof(why)) < 0) {
            fprintf(stderr, "mailseal decrypt: %s: %s\n", org_key,
                    why[0] != '\0' ? why : strerror(errno));
            return CLI_INVALID;
        }
        d.org_priv = priv;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < DEC_NSIGNALS; i++)
        sigaction(dec_signals[i], &sa, &old_sa[i]);
    if (output == NULL) {
        d.out_fd = STDOUT_FILENO;
    } else {
        block_signals(SIG_BLOCK);
        d.out_fd = open_output(output, &tmp);
        if (d.out_fd >= 0)
            dec_tmp_path = tmp.data;
        block_signals(SIG_UNBLOCK);
        if (d.out_fd < 0) {
            fprintf(stderr, "mailseal decrypt: cannot create a file beside %s: %s\n", output,
                    tmp.data != NULL ? strerror(errno) : "the name is too long");
            rc = CLI_INVALID;
            goto out;
        }
    }
    if ((in_fd = open_input(input, &spooled)) < 0) {
        dec_fail(&d, DE_INPUT, errno);
    } else if ((d.r = env_reader_new(dec_out, &d)) == NULL) {
        dec_fail(&d, DE_OTHER, errno);
    } else {
        if (decrypt_input(&d, in_fd) == 0) {
            if (output != NULL) {
                if (fsync(d.out_fd) < 0)
                    dec_fail(&d, DE_OUTPUT, errno);
                if (close(d.out_fd) < 0)
                    dec_fail(&d, DE_OUTPUT, errno);
                d.out_fd = -1;
                block_signals(SIG_BLOCK);
                if (d.err == DE_NONE && rename(tmp.data, output) < 0)
                    dec_fail(&d, DE_OUTPUT, errno);
                if (d.err == DE_NONE)
                    dec_tmp_path = NULL;
                block_signals(SIG_UNBLOCK);
            }
            if (d.err == DE_NONE)
                rc = CLI_OK;
        } else if (d.err == DE_NONE) {
            dec_fail(&d, DE_OTHER, EIO);
        }
    }
    if (rc != CLI_OK) {
        report(&d, input, output);
        if (output == NULL && d.written > 0)
            fprintf(stderr, "mailseal decrypt: the output is incomplete and must be discarded\n");
    }
out:
    if (output != NULL && d.out_fd >= 0)
        close(d.out_fd);
    if (output != NULL && rc != CLI_OK && tmp.data != NULL)
        unlink(tmp.data);
    dec_tmp_path = NULL;
    for (size_t i = 0; i < DEC_NSIGNALS; i++)
        sigaction(dec_signals[i], &old_sa[i], NULL);
    if (in_fd >= 0 && (input != NULL || spooled))
        close(in_fd);
    env_reader_free(d.r);
    buf_free(&tmp);
    OPENSSL_cleanse(pass, sizeof(pass));
    OPENSSL_cleanse(priv, sizeof(priv));
    return rc;
}
