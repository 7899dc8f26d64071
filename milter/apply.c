/*
 * apply - carry out a rules decision through libmilter (see apply.h).
 *
 * Order: the log actions' audit lines come first, whatever the outcome
 * (they change nothing); a reject ends everything; otherwise header
 * actions, header removals and bcc recipients are applied in the rules'
 * priority order; the subject is first stripped of every
 * remove_subject_tag tag, then given the prefixes in priority order, and
 * written once; the loop marker (covering the added recipients too) is
 * added when anything changed, and the message is quarantined last.
 * Header values go out RFC 2047-encoded where needed and never hold a
 * bare CR or LF.  Header deletions run in reverse index order, so earlier
 * indices stay valid (CVE-2022-48521); remove_header deletes the fields
 * the message arrived with, not ones rules add.  A bcc address that is
 * already a recipient, or was added before, is not added again.
 *
 * Encryption (any encrypt action) comes first: the body is replaced by
 * the wrapper's (wrap.h), streamed through smfi_replacebody() in pieces;
 * every header field the wrapper does not keep is deleted, and
 * MIME-Version and the wrapper's Content-Type are added.  The header and
 * subject actions then apply to the wrapper: a field the wrapper dropped
 * counts as absent.  The subject starts from the template's neutral
 * subject when it has one.  The loop marker covers the wrapper's body.
 * When the envelope has a random passphrase, it goes to the envelope
 * sender in a notification (notify.h) before the message is accepted; a
 * failure to send it tempfails the message.  A recipient without a
 * passphrase when random passphrases are off rejects it (550 5.7.1), and
 * so does a wrapper over envelope.max_wrapper_size (552 5.3.4); any other
 * failure tempfails, so a message to encrypt never leaves in clear.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "message/rfc2047.h"
#include "milter/apply.h"
#include "milter/notify.h"
#include "milter/smfi_ops.h"
#include "milter/wrap.h"
#include "util/buf.h"
#include "util/log.h"

#define HEADER_VALUE_MAX (64 * 1024)
#define BCC_RCPT_MAX 260   /* "<" 254 bytes ">" NUL */


/* apply_tempfail - answer 451 4.3.0 so the sender keeps the message and retries */
sfsistat apply_tempfail(SMFICTX *ctx, const char *qid, const char *why)
{
    (void)qid;
    (void)why;
    ms_smfi->setreply(ctx, (char *)"451", (char *)"4.3.0",
                      (char *)"Temporary failure in the mail encryption gateway, try again later");
    return SMFIS_TEMPFAIL;
}

/* apply_escape_reply - double every '%' for libmilter; caller frees */
char *apply_escape_reply(const char *text)
{
    struct buf b = BUF_INIT(4096);

    for (const char *p = text; *p; p++)
        if ((*p == '%' ? buf_adds(&b, "%%") : buf_addc(&b, *p)) < 0)
            return NULL;
    return buf_steal(&b);
}

/* apply_remove_markers - delete count marker headers, last first */
int apply_remove_markers(SMFICTX *ctx, size_t count)
{
    for (size_t i = count; i >= 1; i--)
        if (ms_smfi->chgheader(ctx, (char *)MARKER_HEADER, (int)i, NULL) != MI_SUCCESS)
            return -1;
    return 0;
}

/* header_value - encode a value for writing, with the leading space if LEADSPC */
static char *header_value(const char *name, const char *utf8, int leadspc)
{
    struct buf b = BUF_INIT(HEADER_VALUE_MAX);

    if (leadspc && buf_addc(&b, ' ') < 0)
        return NULL;
    if (rfc2047_encode(name, utf8, &b) < 0)
        return NULL;
    return buf_steal(&b);
}

/* header_count - how many times the message's top level has header name
 * (none when wcfg, the configuration of an encrypted message, says the
 * wrapper dropped it) */
static size_t header_count(const struct msg_model *m, const struct config *wcfg,
                           const char *name)
{
    size_t n = 0;

    if (m->root == NULL || (wcfg != NULL && !wrap_keeps_header(wcfg, name)))
        return 0;
    for (size_t i = 0; i < m->root->nheaders; i++)
        if (strcasecmp(m->root->headers[i].name, name) == 0)
            n++;
    return n;
}

/* apply_set - replace every occurrence of name with value, or add it */
static int apply_set(SMFICTX *ctx, const struct msg_model *m, const struct config *wcfg,
                     const char *name, const char *value, int leadspc)
{
    size_t n = header_count(m, wcfg, name);
    char *v = header_value(name, value, leadspc);
    int r = MI_SUCCESS;

    if (v == NULL)
        return -1;
    for (size_t i = n; i >= 2 && r == MI_SUCCESS; i--)
        r = ms_smfi->chgheader(ctx, (char *)name, (int)i, NULL);
    if (r == MI_SUCCESS)
        r = n > 0 ? ms_smfi->chgheader(ctx, (char *)name, 1, v)
                  : ms_smfi->addheader(ctx, (char *)name, v);
    free(v);
    return r == MI_SUCCESS ? 0 : -1;
}

/* apply_add - add one header */
static int apply_add(SMFICTX *ctx, const char *name, const char *value, int leadspc)
{
    char *v = header_value(name, value, leadspc);
    int r;

    if (v == NULL)
        return -1;
    r = ms_smfi->addheader(ctx, (char *)name, v);
    free(v);
    return r == MI_SUCCESS ? 0 : -1;
}

/* apply_prefix - prepend prefix to the working subject unless already there */
static int apply_prefix(struct buf *subject, const char *prefix, int *changed)
{
    struct buf b = BUF_INIT(HEADER_VALUE_MAX);
    size_t plen = strlen(prefix);

    if (subject->len >= plen && memcmp(subject->data, prefix, plen) == 0)
        return 0;
    if (buf_add(&b, prefix, plen) < 0 || buf_add(&b, buf_str(subject), subject->len) < 0)
        return -1;
    buf_free(subject);
    *subject = b;
    *changed = 1;
    return 0;
}

/* apply_marker - add the (v=2) loop marker for the message as it leaves (its
 * recipients and the nadded ones bcc added); auth is the wrapper's body MAC,
 * or NULL when the body is the one received: its MAC is computed from the
 * spool only now, when a marker is needed */
static int apply_marker(SMFICTX *ctx, struct msg_ctx *mc,
                        const unsigned char auth[MARKER_BODY_AUTH_LEN], int leadspc,
                        const char *const *added, size_t nadded)
{
    const struct config *cfg = mc->mctx_gc->cfg;
    struct buf v = BUF_INIT(512);
    size_t n = mc->mctx_env.nrcpts;
    const char **rcpts = calloc(n + nadded + 1, sizeof(*rcpts));
    unsigned char own[MARKER_BODY_AUTH_LEN];
    int r = -1;

    if (rcpts == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        rcpts[i] = mc->mctx_env.rcpts[i].addr;
    for (size_t i = 0; i < nadded; i++)
        rcpts[n + i] = added[i];
    if ((auth != NULL || msg_body_auth(mc, own) == 0)
        && (!leadspc || buf_addc(&v, ' ') == 0)
        && marker_make_v2(cfg->loop_key, sizeof(cfg->loop_key), time(NULL), mc->mctx_msgid,
                          rcpts, n + nadded, auth != NULL ? auth : own, &v) == 0
        && ms_smfi->addheader(ctx, (char *)MARKER_HEADER, v.data) == MI_SUCCESS)
        r = 0;
    OPENSSL_cleanse(own, sizeof(own));
    buf_free(&v);
    free(rcpts);
    return r;
}

/* listed_before - does an action before index i of kind list item (any case)? */
static int listed_before(const struct rules_result *res, size_t i,
                         enum rule_action_kind kind, const char *item)
{
    for (size_t j = 0; j < i; j++)
        if (res->actions[j].kind == kind)
            for (size_t k = 0; k < res->actions[j].nitems; k++)
                if (strcasecmp(res->actions[j].items[k], item) == 0)
                    return 1;
    return 0;
}

/* apply_remove - delete every occurrence the message has of the names of
 * action i, last first; names an earlier action removed are skipped */
static int apply_remove(SMFICTX *ctx, const struct msg_model *m, const struct config *wcfg,
                        const struct rules_result *res, size_t i, int *changed)
{
    const struct rule_action *a = &res->actions[i];

    for (size_t k = 0; k < a->nitems; k++) {
        if (listed_before(res, i, ACT_REMOVE_HEADER, a->items[k]))
            continue;
        for (size_t idx = header_count(m, wcfg, a->items[k]); idx >= 1; idx--) {
            if (ms_smfi->chgheader(ctx, (char *)a->items[k], (int)idx, NULL) != MI_SUCCESS)
                return -1;
            *changed = 1;
        }
    }
    return 0;
}

/* apply_bcc - add the addresses of action i as envelope recipients,
 * recording them in added (room for every bcc address) */
static int apply_bcc(SMFICTX *ctx, const struct msg_ctx *mc, const struct rules_result *res,
                     size_t i, const char **added, size_t *nadded)
{
    const struct rule_action *a = &res->actions[i];

    for (size_t k = 0; k < a->nitems; k++) {
        char rcpt[BCC_RCPT_MAX];

        if (msg_envelope_has_rcpt(&mc->mctx_env, a->items[k]) || listed_before(res, i, ACT_BCC, a->items[k]))
            continue;
        if ((size_t)snprintf(rcpt, sizeof(rcpt), "<%s>", a->items[k]) >= sizeof(rcpt)
            || ms_smfi->addrcpt(ctx, rcpt) != MI_SUCCESS)
            return -1;
        added[(*nadded)++] = a->items[k];
    }
    return 0;
}

/* apply_strip_tags - remove every remove_subject_tag tag from subject */
static int apply_strip_tags(const struct rules_result *res, struct buf *subject,
                            int *changed)
{
    const char **tags;
    size_t ntags = 0;
    struct buf out = BUF_INIT(HEADER_VALUE_MAX);
    int r;

    for (size_t i = 0; i < res->nactions; i++)
        if (res->actions[i].kind == ACT_REMOVE_SUBJECT_TAG)
            ntags += res->actions[i].nitems;
    if (ntags == 0)
        return 0;
    if ((tags = calloc(ntags, sizeof(*tags))) == NULL)
        return -1;
    ntags = 0;
    for (size_t i = 0; i < res->nactions; i++)
        if (res->actions[i].kind == ACT_REMOVE_SUBJECT_TAG)
            for (size_t k = 0; k < res->actions[i].nitems; k++)
                tags[ntags++] = res->actions[i].items[k];
    r = rules_strip_subject_tags(buf_str(subject), tags, ntags, &out);
    free(tags);
    if (r < 0)
        return -1;
    if (r == 1) {
        buf_free(subject);
        *subject = out;
        *changed = 1;
    } else {
        buf_free(&out);
    }
    return 0;
}

/* apply_rule_logs - the log actions' audit lines */
static void apply_rule_logs(const struct msg_ctx *mc, const struct rules_result *res)
{
    for (size_t i = 0; i < res->nactions; i++)
        if (res->actions[i].kind == ACT_LOG)
            log_notice(mc->mctx_qid, "rule %s: log: %s", res->actions[i].rule,
                       res->actions[i].value);
}

/* list_names - "a,b,c" of up to n strings, for the log */
static void list_names(struct buf *b, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((i ? buf_addc(b, ',') : 0) < 0 || buf_adds(b, names[i]) < 0)
            return;
    if (n == 0)
        buf_adds(b, "-");
}

/* apply_log - one audit line: rules, actions, outcome; never content */
static void apply_log(const struct msg_ctx *mc, const struct rules_result *res,
                      const char *outcome)
{
    struct buf matched = BUF_INIT(1024), audited = BUF_INIT(1024), acts = BUF_INIT(1024);

    if (res->nmatched == 0 && res->naudited == 0 && !res->incomplete) {
        log_info(mc->mctx_qid, "no rule matched: %s (nrcpt=%zu%s)", outcome,
                 mc->mctx_env.nrcpts, res->incomplete ? ", incomplete" : "");
        return;
    }
    list_names(&matched, res->matched, res->nmatched);
    list_names(&audited, res->audited, res->naudited);
    for (size_t i = 0; i < res->nactions; i++)
        if ((i ? buf_addc(&acts, ',') : 0) < 0 || buf_adds(&acts, rules_action_name(res->actions[i].kind)) < 0)
            break;
    log_notice(mc->mctx_qid, "rules matched=%s audit=%s actions=%s outcome=%s%s%s%s",
               buf_str(&matched), buf_str(&audited), acts.len ? acts.data : "-", outcome,
               res->reject ? " by " : "", res->reject ? res->reject->rule : "",
               res->incomplete ? " (incomplete: undecided rules handled by policy.on_incomplete)" : "");
    buf_free(&matched);
    buf_free(&audited);
    buf_free(&acts);
}

/* apply_reject - answer the reject action's reply */
static sfsistat apply_reject(SMFICTX *ctx, const struct msg_ctx *mc,
                             const struct rules_result *res)
{
    const struct rule_action *a = res->reject;
    char code[8], *text = apply_escape_reply(a->text ? a->text : "Message rejected");

    if (text == NULL)
        return apply_tempfail(ctx, mc->mctx_qid, "out of memory");
    snprintf(code, sizeof(code), "%d", a->code);
    if (ms_smfi->setreply(ctx, code, (char *)a->status, text) != MI_SUCCESS)
        log_warning(mc->mctx_qid, "could not set the reject reply text");
    free(text);
    apply_log(mc, res, "reject");
    return SMFIS_REJECT;
}

#define BODY_PIECE (64u * 1024)

struct body_out {
    SMFICTX *ctx;
    unsigned char *buf;
    size_t n;
};

/* body_flush - hand the staged body bytes to the MTA */
static int body_flush(struct body_out *bo)
{
    if (bo->n > 0 && ms_smfi->replacebody(bo->ctx, bo->buf, (int)bo->n) != MI_SUCCESS) {
        errno = EIO;
        return -1;
    }
    bo->n = 0;
    return 0;
}

/* body_write - the wrapper's body bytes, in pieces of BODY_PIECE */
static int body_write(void *arg, const void *data, size_t len)
{
    struct body_out *bo = arg;
    const unsigned char *p = data;

    while (len > 0) {
        size_t take = BODY_PIECE - bo->n < len ? BODY_PIECE - bo->n : len;

        memcpy(bo->buf + bo->n, p, take);
        bo->n += take;
        p += take;
        len -= take;
        if (bo->n == BODY_PIECE && body_flush(bo) < 0)
            return -1;
    }
    return 0;
}

struct field_ref {
    const char *name;
    size_t pos;                   /* index in the message's header list */
};

/* field_cmp - qsort order of header fields: by name in any case, then by position */
static int field_cmp(const void *a, const void *b)
{
    const struct field_ref *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);

    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* wrap_headers - delete every top-level field the wrapper does not keep
 * (each name's occurrences last first), then add the wrapper's MIME fields.
 * The fields to drop are sorted so that each name's occurrences form one
 * run whose length is its count: O(n log n) in the number of fields, and
 * the names go in alphabetical order. */
static int wrap_headers(SMFICTX *ctx, const struct config *cfg, const struct msg_model *m,
                        const struct wrap_info *info, int leadspc)
{
    const struct msg_part *root = m->root;
    size_t n = 0, nh = root != NULL ? root->nheaders : 0;
    struct field_ref *drop = nh > 0 ? calloc(nh, sizeof(*drop)) : NULL;
    int r = 0;

    if (nh > 0 && drop == NULL)
        return -1;
    for (size_t i = 0; i < nh; i++) {
        const char *name = root->headers[i].name;

        if (!wrap_keeps_header(cfg, name) && strcasecmp(name, MARKER_HEADER) != 0)
            drop[n++] = (struct field_ref){ name, i };
    }
    if (n > 1)
        qsort(drop, n, sizeof(*drop), field_cmp);
    for (size_t i = 0, run; i < n && r == 0; i += run) {
        for (run = 1; i + run < n && strcasecmp(drop[i].name, drop[i + run].name) == 0; run++)
            ;
        for (size_t idx = run; idx >= 1 && r == 0; idx--)
            if (ms_smfi->chgheader(ctx, (char *)drop[i].name, (int)idx, NULL) != MI_SUCCESS)
                r = -1;
    }
    free(drop);
    if (r < 0)
        return -1;
    return apply_add(ctx, "MIME-Version", "1.0", leadspc) < 0
        || apply_add(ctx, "Content-Type", info->content_type, leadspc) < 0 ? -1 : 0;
}

/* notify_marked - the notification message with a loop marker of its own
 * (so that this gateway passes it untouched) in front; 0 or -1 */
static int notify_marked(const struct config *cfg, const char *to, const struct buf *msg,
                         struct buf *out)
{
    const char *s = buf_str(msg), *body = strstr(s, "\r\n\r\n"), *id;
    struct body_mac *bm = body_mac_new(cfg->loop_key, sizeof(cfg->loop_key), NULL);
    unsigned char auth[MARKER_BODY_AUTH_LEN];
    struct buf msgid = BUF_INIT(1024);
    const char *rcpts[1] = { to };
    int r = -1;

    if (bm == NULL || body == NULL)
        goto out;
    body += 4;
    for (id = s; id < body; id = strstr(id, "\r\n") + 2) {
        if (strncasecmp(id, "Message-ID:", 11) == 0) {
            const char *end = strstr(id, "\r\n");

            if (buf_add(&msgid, id + 11, (size_t)(end - id - 11)) < 0)
                goto out;
            break;
        }
    }
    if (body_mac_update(bm, body, msg->len - (size_t)(body - s)) < 0
        || body_mac_final(bm, auth) < 0
        || buf_adds(out, MARKER_HEADER ": ") < 0
        || marker_make_v2(cfg->loop_key, sizeof(cfg->loop_key), time(NULL), buf_str(&msgid), rcpts,
                          1, auth, out) < 0
        || buf_adds(out, "\r\n") < 0 || buf_add(out, s, msg->len) < 0)
        goto out;
    r = 0;
out:
    body_mac_free(bm);
    buf_free(&msgid);
    return r;
}

/* apply_notify - send the random passphrase to the envelope sender; 0 or -1 */
static int apply_notify(const struct msg_ctx *mc, const struct msg_model *m,
                        const struct wrap_info *info)
{
    const struct config *cfg = mc->mctx_gc->cfg;
    struct buf msg = BUF_INIT(1024 * 1024), marked = BUF_INIT(1024 * 1024 + 1024);
    struct notify_relay relay = { cfg->notify_host, cfg->notify_port, cfg->notify_timeout, NULL };
    const char **rcpts = calloc(mc->mctx_env.nrcpts + 1, sizeof(*rcpts));
    char host[256], from[320], err[256];
    int r = -1;

    if (rcpts == NULL)
        return -1;
    if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    relay.helo = host;
    if (cfg->notify_from != NULL && cfg->notify_from[0] != '\0')
        snprintf(from, sizeof(from), "%s", cfg->notify_from);
    else
        snprintf(from, sizeof(from), "mailseal@%s", host);
    for (size_t i = 0; i < mc->mctx_env.nrcpts; i++)
        rcpts[i] = mc->mctx_env.rcpts[i].addr;
    if (notify_compose(&msg, from, mc->mctx_env.from, m->subject, rcpts, mc->mctx_env.nrcpts,
                       info->random_pass, host) < 0
        || notify_marked(cfg, mc->mctx_env.from, &msg, &marked) < 0) {
        log_err(mc->mctx_qid, "could not compose the passphrase notification");
        goto out;
    }
    if (notify_send(&relay, from, mc->mctx_env.from, buf_str(&marked), marked.len, err,
                    sizeof(err)) < 0) {
        log_err(mc->mctx_qid, "could not send the passphrase notification to the sender: %s", err);
        goto out;
    }
    log_info(mc->mctx_qid, "passphrase notification sent to the sender");
    r = 0;
out:
    OPENSSL_cleanse(msg.data, msg.cap);
    OPENSSL_cleanse(marked.data, marked.cap);
    buf_free(&msg);
    buf_free(&marked);
    free(rcpts);
    return r;
}

/* apply_encrypt - replace the message by its wrapper in template t;
 * SMFIS_CONTINUE with *info filled, or the status to answer */
static sfsistat apply_encrypt(SMFICTX *ctx, struct conn_ctx *cc, const struct msg_model *m,
                              const struct rules_result *res,
                              const struct config_template *t, struct wrap_info *info)
{
    struct msg_ctx *mc = cc->cctx_msg;
    const struct config *cfg = mc->mctx_gc->cfg;
    struct body_out bo = { ctx, NULL, 0 };
    int r;

    if ((bo.buf = malloc(BODY_PIECE)) == NULL)
        return apply_tempfail(ctx, mc->mctx_qid, "out of memory");
    r = wrap_body(cfg, t, mc->mctx_spool, &mc->mctx_env, NULL, body_write, &bo, info);
    if (r == 0 && info->has_random && (mc->mctx_env.from == NULL || mc->mctx_env.from[0] == '\0')) {
        info->reason = "the message has no sender to give the passphrase to";
        errno = ENOKEY;
        r = -1;
    }
    if (r == 0)
        r = body_flush(&bo);
    free(bo.buf);
    if (r < 0) {
        int e = errno;

        wrap_info_clear(info);
        if (e == EFBIG || e == ENOKEY) {
            log_notice(mc->mctx_qid, "cannot encrypt: %s: rejected", info->reason);
            ms_smfi->setreply(ctx, (char *)(e == EFBIG ? "552" : "550"),
                              (char *)(e == EFBIG ? "5.3.4" : "5.7.1"),
                              (char *)(e == EFBIG
                                       ? "Message too big to be sent encrypted"
                                       : "Message must be encrypted, but a recipient has no "
                                         "passphrase and none can be sent"));
            apply_log(mc, res, "reject (cannot encrypt)");
            return SMFIS_REJECT;
        }
        log_err(mc->mctx_qid, "could not build the encrypted message: %s", strerror(e));
        return apply_tempfail(ctx, mc->mctx_qid, "encryption failed");
    }
    if (wrap_headers(ctx, cfg, m, info, cc->cctx_leadspc) < 0) {
        wrap_info_clear(info);
        log_err(mc->mctx_qid, "could not rewrite the headers of the encrypted message");
        return apply_tempfail(ctx, mc->mctx_qid, "encryption failed");
    }
    if (info->has_random && apply_notify(mc, m, info) < 0) {
        wrap_info_clear(info);
        return apply_tempfail(ctx, mc->mctx_qid, "passphrase notification failed");
    }
    wrap_info_clear(info);
    log_info(mc->mctx_qid, "encrypted: %zu key slots, %llu bytes", info->nslots,
             (unsigned long long)info->body_size);
    return SMFIS_CONTINUE;
}

/* apply_decision - act on the result; the status to answer at end of message */
sfsistat apply_decision(SMFICTX *ctx, struct conn_ctx *cc, const struct msg_model *m,
                        const struct rules_result *res,
                        const unsigned char digest[MARKER_DIGEST_LEN])
{
    struct msg_ctx *mc = cc->cctx_msg;
    struct buf subject = BUF_INIT(HEADER_VALUE_MAX);
    struct wrap_info winfo;
    const struct config *wcfg = NULL;
    const char *quarantine = NULL, *start_subject = m->subject ? m->subject : "";
    const char **added = NULL;
    size_t nadded = 0, nbcc = 0;
    int marked, changed = 0, subject_changed = 0, leadspc = cc->cctx_leadspc;

    apply_rule_logs(mc, res);
    if (res->reject)
        return apply_reject(ctx, mc, res);
    if (res->encrypt) {
        const struct config *cfg = mc->mctx_gc->cfg;
        const struct config_template *t = config_template_find(cfg, res->encrypt_template);
        sfsistat st;

        if (t == NULL)            /* checked at load; a default always exists */
            t = config_template_find(cfg, NULL);
        if ((st = apply_encrypt(ctx, cc, m, res, t, &winfo)) != SMFIS_CONTINUE)
            return st;
        wcfg = cfg;
        digest = winfo.digest;
        changed = 1;
        if (t->subject != NULL) {
            start_subject = t->subject;
            subject_changed = 1;
        }
    }
    for (size_t i = 0; i < res->nactions; i++)
        if (res->actions[i].kind == ACT_BCC)
            nbcc += res->actions[i].nitems;
    if ((nbcc > 0 && (added = calloc(nbcc, sizeof(*added))) == NULL)
        || buf_adds(&subject, start_subject) < 0
        || apply_strip_tags(res, &subject, &subject_changed) < 0) {
        free(added);
        buf_free(&subject);
        return apply_tempfail(ctx, mc->mctx_qid, "out of memory");
    }
    for (size_t i = 0; i < res->nactions; i++) {
        const struct rule_action *a = &res->actions[i];
        int r = 0;

        switch (a->kind) {
        case ACT_ADD_HEADER:
            r = apply_add(ctx, a->name, a->value, leadspc);
            changed = 1;
            break;
        case ACT_SET_HEADER:
            r = apply_set(ctx, m, wcfg, a->name, a->value, leadspc);
            changed = 1;
            break;
        case ACT_PREPEND_SUBJECT:
            r = apply_prefix(&subject, a->value, &subject_changed);
            break;
        case ACT_QUARANTINE:
            if (quarantine == NULL)
                quarantine = a->value ? a->value : a->rule;
            break;
        case ACT_REMOVE_HEADER:
            r = apply_remove(ctx, m, wcfg, res, i, &changed);
            break;
        case ACT_BCC:
            r = apply_bcc(ctx, mc, res, i, added, &nadded);
            changed |= nadded > 0;
            break;
        case ACT_REMOVE_SUBJECT_TAG:  /* done above, before the prefixes */
        case ACT_LOG:                 /* logged above */
        case ACT_REJECT:
        case ACT_ENCRYPT:
            break;
        }
        if (r < 0) {
            log_err(mc->mctx_qid, "could not apply %s of rule %s", rules_action_name(a->kind), a->rule);
            buf_free(&subject);
            free(added);
            return apply_tempfail(ctx, mc->mctx_qid, "action failed");
        }
    }
    if (subject_changed) {
        changed = 1;
        if (apply_set(ctx, m, NULL, "Subject", buf_str(&subject), leadspc) < 0) {
            buf_free(&subject);
            free(added);
            log_err(mc->mctx_qid, "could not rewrite the subject");
            return apply_tempfail(ctx, mc->mctx_qid, "action failed");
        }
    }
    buf_free(&subject);
    marked = changed ? apply_marker(ctx, mc, digest, leadspc, added, nadded) : 0;
    free(added);
    if (marked < 0) {
        log_err(mc->mctx_qid, "could not add the loop marker");
        return apply_tempfail(ctx, mc->mctx_qid, "marker failed");
    }
    if (quarantine && ms_smfi->quarantine(ctx, (char *)quarantine) != MI_SUCCESS) {
        log_err(mc->mctx_qid, "could not quarantine the message");
        return apply_tempfail(ctx, mc->mctx_qid, "quarantine failed");
    }
    apply_log(mc, res, quarantine ? (wcfg ? "quarantine (encrypted)" : "quarantine")
                       : wcfg ? "accept (encrypted)" : changed ? "accept (modified)" : "accept");
    return SMFIS_CONTINUE;
}
