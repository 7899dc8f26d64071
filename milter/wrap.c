/*
 * wrap - build the wrapper message of the encrypt action (see wrap.h).
 *
 * The body is
 *
 *   preamble
 *   --B                      multipart/alternative: the instructions as
 *     --B-alt                text/plain and text/html (UTF-8, base64)
 *     --B-alt--
 *   --B                      the viewer: text/html, us-ascii, 7bit,
 *                            lines of at most 78 bytes, CRLF
 *   --B--
 *
 * with B a fresh random boundary.  The pieces before the viewer are built
 * in memory (they are small); the viewer is streamed: the spool is read
 * in WRAP_READ bytes at a time into the envelope writer, whose output goes
 * through the viewer writer (base64 lines) to the caller's out function.
 * The loop marker's body MAC (marker.h, v=2) sees the same body: the small
 * parts through body_mac_update, the viewer through its canonical output
 * (the page without CRs, copied line by line as the base64 is encoded),
 * so the megabytes of base64 are not scanned for CRs a second time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/secrets.h"
#include "crypto/viewer.h"
#include "message/codec.h"
#include "milter/wrap.h"
#include "util/buf.h"

#define WRAP_READ (64u * 1024)
#define WRAP_TEXT_MAX (64u * 1024)
#define WRAP_MAX_SLOTS 1000

/* The fields the wrapper keeps: what delivery, replies and threading need. */
static const char *const kept_fields[] = {
    "from", "sender", "to", "cc", "reply-to", "date", "message-id", "in-reply-to",
    "references", "received", "return-path", "auto-submitted", "precedence", "subject",
};

/* wrap_keeps_header - the fields the wrapper carries (any case) */
int wrap_keeps_header(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < sizeof(kept_fields) / sizeof(kept_fields[0]); i++)
        if (strcasecmp(name, kept_fields[i]) == 0)
            return 1;
    if (strncasecmp(name, "list-", 5) == 0)
        return 1;
    for (size_t i = 0; i < cfg->nkeep_headers; i++)
        if (strcasecmp(name, cfg->keep_headers[i]) == 0)
            return 1;
    return 0;
}

/* wrap_info_clear - wipe the random passphrase */
void wrap_info_clear(struct wrap_info *info)
{
    OPENSSL_cleanse(info->random_pass, sizeof(info->random_pass));
    info->has_random = 0;
}

struct wrap_sink {
    wrap_out_fn out;
    void *arg;
    struct body_mac *bm;
    uint64_t bytes;
};

/* sink_pass - count and pass on body bytes (the viewer's; it feeds the MAC itself) */
static int sink_pass(void *arg, const void *data, size_t len)
{
    struct wrap_sink *s = arg;

    if (len == 0)
        return 0;
    s->bytes += len;
    return s->out(s->arg, data, len);
}

/* sink_write - count, MAC and pass on body bytes */
static int sink_write(void *arg, const void *data, size_t len)
{
    struct wrap_sink *s = arg;

    if (len == 0)
        return 0;
    if (body_mac_update(s->bm, data, len) < 0)
        return -1;
    return sink_pass(arg, data, len);
}

/* sink_canon - the viewer's page without CRs, to the MAC */
static int sink_canon(void *arg, const void *data, size_t len)
{
    struct wrap_sink *s = arg;

    return body_mac_update_canon(s->bm, data, len);
}

/* add_b64_lines - data as base64 in lines of 76 with CRLF */
static int add_b64_lines(struct buf *b, const char *data, size_t len)
{
    struct buf enc = BUF_INIT(2 * WRAP_TEXT_MAX);
    int r = 0;

    if (b64_encode_buf((const unsigned char *)data, len, &enc) < 0) {
        buf_free(&enc);
        return -1;
    }
    for (size_t i = 0; i < enc.len && r == 0; i += 76)
        r = buf_add(b, buf_str(&enc) + i, enc.len - i < 76 ? enc.len - i : 76) < 0
            || buf_adds(b, "\r\n") < 0 ? -1 : 0;
    buf_free(&enc);
    return r;
}

/* add_html_escaped - text as HTML, paragraphs at blank lines, line breaks kept */
static int add_html_escaped(struct buf *b, const char *text)
{
    int r = buf_adds(b, "<p>");

    for (const char *p = text; *p && r == 0; p++) {
        switch (*p) {
        case '<': r = buf_adds(b, "&lt;"); break;
        case '>': r = buf_adds(b, "&gt;"); break;
        case '&': r = buf_adds(b, "&amp;"); break;
        case '"': r = buf_adds(b, "&quot;"); break;
        case '\n':
            if (p[1] == '\n') {
                r = buf_adds(b, "</p>\n<p>");
                while (p[1] == '\n')
                    p++;
            } else {
                r = buf_adds(b, "<br>\n");
            }
            break;
        default:
            r = buf_addc(b, *p);
        }
    }
    return r < 0 || buf_adds(b, "</p>") < 0 ? -1 : 0;
}

/* instructions - the wrapper's text for template t */
static int instructions(const struct config *cfg, const struct config_template *t,
                        struct buf *text)
{
    const char *org = t->org_name ? t->org_name : cfg->org_name;

    if (t->text != NULL)
        return buf_adds(text, t->text);
    return buf_printf(text,
        "%s%sYou have received an encrypted message.\n\n"
        "To read it, open the attached file %s in a web browser: save it first if your "
        "mail program does not open it, then open the saved file. Enter the passphrase you "
        "were given; the message opens on your own device, and nothing is sent anywhere.\n\n"
        "If you do not know the passphrase, ask the sender for it by phone or another "
        "channel, not by e-mail.",
        org && *org ? org : "", org && *org ? ": " : "", cfg->attachment_name);
}

/* build_head - the body up to the viewer's content, with boundary bnd */
static int build_head(const struct config *cfg, const struct config_template *t,
                      const char *bnd, struct buf *head)
{
    struct buf text = BUF_INIT(WRAP_TEXT_MAX), html = BUF_INIT(4 * WRAP_TEXT_MAX);
    int r = -1;

    if (instructions(cfg, t, &text) < 0
        || buf_adds(&html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                           "<title>Encrypted message</title></head>\n"
                           "<body style=\"font-family: sans-serif; line-height: 1.5; "
                           "max-width: 40em\">\n") < 0
        || add_html_escaped(&html, buf_str(&text)) < 0
        || buf_adds(&html, "\n</body></html>\n") < 0)
        goto out;
    if (buf_printf(head, "This is an encrypted message in MIME format. Open the attachment "
                         "%s in a web browser to read it.\r\n\r\n"
                         "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s-alt\"\r\n\r\n"
                         "--%s-alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\n",
                   cfg->attachment_name, bnd, bnd, bnd) < 0
        || add_b64_lines(head, buf_str(&text), text.len) < 0
        || buf_printf(head, "\r\n--%s-alt\r\nContent-Type: text/html; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: base64\r\n\r\n", bnd) < 0
        || add_b64_lines(head, buf_str(&html), html.len) < 0
        || buf_printf(head, "\r\n--%s-alt--\r\n\r\n--%s\r\n"
                            "Content-Type: text/html; charset=us-ascii; name=\"%s\"\r\n"
                            "Content-Disposition: attachment; filename=\"%s\"\r\n"
                            "Content-Transfer-Encoding: 7bit\r\n\r\n",
                      bnd, bnd, cfg->attachment_name, cfg->attachment_name) < 0)
        goto out;
    r = 0;
out:
    buf_free(&text);
    buf_free(&html);
    return r;
}

/* name_seen - was a slot for store name added already? */
static int name_seen(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* add_slots - the key slots for the recipients (see wrap.h) */
static int add_slots(const struct config *cfg, struct env_writer *w,
                     const struct msg_envelope *env, const struct wrap_extra *extra,
                     struct wrap_info *info)
{
    const char **names = calloc(env->nrcpts + 1, sizeof(*names));
    size_t nnames = 0;
    int missing = 0, rc = -1;

    if (names == NULL)
        return -1;
    if (extra != NULL && extra->key != NULL) {
        if (env_writer_add_passphrase(w, extra->key, extra->name ? extra->name : "") < 0)
            goto out;
        info->nslots++;
    }
    for (size_t i = 0; i < env->nrcpts; i++) {
        const char *name = NULL;
        const struct env_recipient_key *k =
            cfg->secrets ? secrets_find(cfg->secrets, env->rcpts[i].addr, &name) : NULL;

        if (k == NULL) {
            missing = 1;
            continue;
        }
        if (name_seen(names, nnames, name))
            continue;
        if (nnames == WRAP_MAX_SLOTS) {
            errno = E2BIG;
            goto out;
        }
        names[nnames++] = name;
        if (env_writer_add_passphrase(w, k, name) < 0)
            goto out;
        info->nslots++;
    }
    if (extra != NULL && extra->key != NULL)
        missing = 0;              /* the caller's passphrase opens it for everyone */
    if (cfg->random_passphrase == CONFIG_RANDOM_ALWAYS
        || (missing && cfg->random_passphrase == CONFIG_RANDOM_MISSING)) {
        if (env_writer_add_random(w, info->random_pass) < 0)
            goto out;
        info->has_random = 1;
        info->nslots++;
    } else if (missing) {
        info->reason = "a recipient has no passphrase and random passphrases are off";
        errno = ENOKEY;
        goto out;
    }
    if (cfg->has_recovery) {
        if (env_writer_add_recovery(w, cfg->recovery_pub) < 0)
            goto out;
        info->nslots++;
    }
    rc = 0;
out:
    free(names);
    return rc;
}

/* stream_spool - the whole spool through the envelope writer: the bytes
 * still in memory where they lie, the rest read WRAP_READ at a time */
static int stream_spool(struct spool *sp, struct env_writer *w)
{
    unsigned char *chunk = NULL;
    uint64_t off = 0, size = spool_size(sp);
    size_t used = 0;
    int rc = 0;

    while (off < size && rc == 0) {
        const char *mem = NULL;
        size_t want = size - off < WRAP_READ ? (size_t)(size - off) : WRAP_READ;
        size_t n = spool_peek(sp, off, &mem);
        ssize_t got;

        if (n > 0) {
            if (n > size - off)
                n = (size_t)(size - off);
            rc = env_writer_update(w, mem, n);
            off += n;
            continue;
        }
        if (chunk == NULL && (chunk = malloc(WRAP_READ)) == NULL)
            return -1;
        if ((got = spool_pread(sp, chunk, want, off)) <= 0) {
            if (got == 0)
                errno = EIO;
            rc = -1;
            break;
        }
        if ((size_t)got > used)
            used = (size_t)got;
        rc = env_writer_update(w, chunk, (size_t)got);
        off += (uint64_t)got;
    }
    if (chunk != NULL)
        OPENSSL_cleanse(chunk, used);   /* the bytes read */
    free(chunk);
    return rc;
}

/* wrap_body - write the wrapper's body for the message in sp */
int wrap_body(const struct config *cfg, const struct config_template *t, struct spool *sp,
              const struct msg_envelope *env, const struct wrap_extra *extra,
              wrap_out_fn out, void *arg, struct wrap_info *info)
{
    struct viewer_template vt;
    struct wrap_sink sink = { out, arg, NULL, 0 };
    struct env_writer *w = NULL;
    struct viewer_writer *vw = NULL;
    struct buf head = BUF_INIT(8 * WRAP_TEXT_MAX), tail = BUF_INIT(256);
    unsigned char rnd[16];
    char bnd[48];
    uint64_t total;
    int rc = -1, e = 0;

    memset(info, 0, sizeof(*info));
    config_template_view(cfg, t, &vt);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        errno = EIO;
        return -1;
    }
    memcpy(bnd, "=_mailseal_", 11);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        bnd[11 + 2 * i] = "0123456789abcdef"[rnd[i] >> 4];
        bnd[12 + 2 * i] = "0123456789abcdef"[rnd[i] & 15];
    }
    bnd[11 + 2 * sizeof(rnd)] = '\0';
    snprintf(info->content_type, sizeof(info->content_type), "multipart/mixed; boundary=\"%s\"",
             bnd);
    if ((w = env_writer_new(cfg->chunk_size)) == NULL || add_slots(cfg, w, env, extra, info) < 0
        || build_head(cfg, t, bnd, &head) < 0 || buf_printf(&tail, "\r\n--%s--\r\n", bnd) < 0)
        goto fail;
    total = head.len + viewer_size(&vt, env_writer_size(w, spool_size(sp))) + tail.len;
    if (total > cfg->max_wrapper_size) {
        info->reason = "the encrypted message would be too big";
        errno = EFBIG;
        goto fail;
    }
    if ((sink.bm = body_mac_new(cfg->loop_key, sizeof(cfg->loop_key), NULL)) == NULL
        || (vw = viewer_writer_new(&vt, sink_pass, &sink)) == NULL
        || viewer_writer_canon(vw, sink_canon, &sink) < 0
        || sink_write(&sink, buf_str(&head), head.len) < 0
        || viewer_writer_begin(vw) < 0
        || env_writer_begin(w, viewer_writer_data, vw) < 0
        || stream_spool(sp, w) < 0
        || env_writer_finish(w) < 0
        || viewer_writer_finish(vw) < 0
        || sink_write(&sink, buf_str(&tail), tail.len) < 0
        || body_mac_final(sink.bm, info->digest) < 0)
        goto fail;
    info->body_size = sink.bytes;
    rc = 0;
fail:
    e = errno;
    if (rc < 0)
        wrap_info_clear(info);
    env_writer_free(w);
    viewer_writer_free(vw);
    body_mac_free(sink.bm);
    buf_free(&head);
    buf_free(&tail);
    errno = e;
    return rc;
}
