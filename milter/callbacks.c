/*
 * callbacks - the libmilter callbacks of mailseal-milter (see callbacks.h).
 *
 * Receiving: headers are written to the spool exactly as the MTA handed
 * them ("Name:" + value, with SMFIP_HDR_LEADSPC so the value keeps its
 * spacing; folded lines rejoined with CRLF), then an empty line, then the
 * body chunks, so the spool holds the message byte for byte.  When the
 * headers hold loop markers, end of headers starts one marker check
 * (marker.h: parsed, in time, at most MARKER_CHECK_MAX_MACS v=2 nonces)
 * and the body chunks feed it on the way; a message without markers is
 * not hashed at all.
 *
 * End of message: a verified loop marker passes the message untouched;
 * unverified markers are removed; otherwise the model is built with the
 * rules' text sink, the rules decide, and apply_decision() acts (a marker
 * it adds gets its body MAC from the spool, msg_body_auth()).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "milter/apply.h"
#include "milter/callbacks.h"
#include "milter/context.h"
#include "milter/decide.h"
#include "milter/smfi_ops.h"
#include "rules/rules.h"
#include "util/buf.h"
#include "util/log.h"

#define MSGID_MAX 998
#define MAX_RCPTS 100000
#define BODY_READ (64u * 1024)   /* spool bytes read at a time for the body MAC */

/* ctx_conn - the connection context of ctx */
static struct conn_ctx *ctx_conn(SMFICTX *ctx)
{
    return ms_smfi->getpriv(ctx);
}

/* ctx_update_qid - take the queue id from the macro "i" once the MTA has one */
static void ctx_update_qid(SMFICTX *ctx, struct msg_ctx *mc)
{
    char *qid;

    if (mc->mctx_qid[0] != 0)
        return;
    qid = ms_smfi->getsymval(ctx, (char *)"i");
    if (qid && *qid) {
        size_t n = strlen(qid);

        if (n >= CTX_QID_LEN)
            n = CTX_QID_LEN - 1;
        memcpy(mc->mctx_qid, qid, n);
        mc->mctx_qid[n] = 0;
    }
}

/* ctx_fault - record a transient fault and answer tempfail */
static sfsistat ctx_fault(SMFICTX *ctx, struct msg_ctx *mc, const char *what)
{
    mc->mctx_error = errno ? errno : EIO;
    mc->mctx_error_what = what;
    log_err(mc->mctx_qid, "%s: %s", what, strerror(mc->mctx_error));
    return apply_tempfail(ctx, mc->mctx_qid, what);
}

/* msg_reset - free everything a message allocated */
void msg_reset(struct conn_ctx *cc)
{
    struct msg_ctx *mc = cc->cctx_msg;

    if (mc == NULL)
        return;
    spool_free(mc->mctx_spool);
    marker_check_free(mc->mctx_check);
    msg_envelope_free(&mc->mctx_env);
    free(mc->mctx_msgid);
    for (size_t i = 0; i < CTX_MAX_MARKERS; i++)
        free(mc->mctx_markers[i]);
    gateway_release(mc->mctx_gc);
    if (mc->mctx_counted)
        gateway_msg_end();
    free(mc);
    cc->cctx_msg = NULL;
}

/* conn_get - the connection context, created on first use */
static struct conn_ctx *conn_get(SMFICTX *ctx)
{
    struct conn_ctx *cc = ms_smfi->getpriv(ctx);

    if (cc != NULL)
        return cc;
    if ((cc = calloc(1, sizeof(*cc))) == NULL) {
        log_err(NULL, "connection: out of memory");
        return NULL;
    }
    if (ms_smfi->setpriv(ctx, cc) != MI_SUCCESS) {
        free(cc);
        return NULL;
    }
    return cc;
}

/* cb_negotiate - ask for the actions and protocol steps we need */
sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                      unsigned long f2, unsigned long f3, unsigned long *pf0,
                      unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_ADDRCPT
                         | SMFIF_CHGBODY;
    /* DATA is not skipped: its reply lets the MTA's DATA macros go out
     * answered, so the header that follows is not held back by Nagle's
     * algorithm waiting for our delayed ACK (40 ms on inet: sockets) */
    unsigned long skip = SMFIP_NOHELO | SMFIP_NOUNKNOWN;

    struct conn_ctx *cc = conn_get(ctx);

    (void)f2;
    (void)f3;
    if (cc == NULL)
        return SMFIS_TEMPFAIL;
    if ((f0 & want) != want) {
        log_err(NULL, "the MTA does not offer the actions this milter needs "
                "(offered 0x%lx, needed 0x%lx)", f0, want);
        return SMFIS_REJECT;
    }
    *pf0 = want | (f0 & SMFIF_SETSYMLIST);
    /* Header fields and body chunks get no reply (a fault while taking
     * one is answered at the end of headers or of the message): one round
     * trip per message instead of one per field and per 64 KB of body.
     * libmilter answers for us when the MTA lacks the feature. */
    *pf1 = (f1 & skip) | (f1 & SMFIP_HDR_LEADSPC) | (f1 & SMFIP_SKIP) | (f1 & SMFIP_NR_HDR)
           | (f1 & SMFIP_NR_BODY);
    *pf2 = 0;
    *pf3 = 0;
    cc->cctx_leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
    cc->cctx_nr_hdr = (f1 & SMFIP_NR_HDR) != 0;
    cc->cctx_nr_body = (f1 & SMFIP_NR_BODY) != 0;
    if (f0 & SMFIF_SETSYMLIST) {
        ms_smfi->setsymlist(ctx, SMFIM_ENVFROM, (char *)"i {auth_authen}");
        ms_smfi->setsymlist(ctx, SMFIM_ENVRCPT, (char *)"i");
        ms_smfi->setsymlist(ctx, SMFIM_EOH, (char *)"i");
        ms_smfi->setsymlist(ctx, SMFIM_EOM, (char *)"i");
    }
    return SMFIS_CONTINUE;
}

/* cb_connect - set up the connection context */
sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
    struct conn_ctx *cc = conn_get(ctx);

    (void)hostname;
    if (cc == NULL)
        return SMFIS_TEMPFAIL;
    if (addr != NULL) {
        size_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                     : addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) : 0;

        if (len > 0) {
            memcpy(&cc->cctx_addr, addr, len);
            cc->cctx_have_addr = 1;
        }
    }
    return SMFIS_CONTINUE;
}

/* cb_envfrom - a message starts: pin the configuration, decide the scope */
sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc;
    const struct config *cfg;
    char *auth;

    if (cc == NULL)
        return SMFIS_TEMPFAIL;
    msg_reset(cc);
    if ((mc = calloc(1, sizeof(*mc))) == NULL) {
        log_err(NULL, "envfrom: out of memory");
        return apply_tempfail(ctx, NULL, "out of memory");
    }
    cc->cctx_msg = mc;
    if (gateway_msg_begin() < 0) {
        ctx_update_qid(ctx, mc);
        log_info(mc->mctx_qid, "shutting down: message tempfailed, the MTA retries it");
        msg_reset(cc);
        ms_smfi->setreply(ctx, (char *)"451", (char *)"4.3.2",
                          (char *)"Mail encryption gateway restarting, try again later");
        return SMFIS_TEMPFAIL;
    }
    mc->mctx_counted = 1;
    msg_envelope_init(&mc->mctx_env);
    ctx_update_qid(ctx, mc);
    if ((mc->mctx_gc = gateway_acquire()) == NULL)
        return ctx_fault(ctx, mc, "no configuration");
    cfg = mc->mctx_gc->cfg;
    auth = ms_smfi->getsymval(ctx, (char *)"{auth_authen}");
    if (!config_client_in_scope(cfg, cc->cctx_have_addr ? (struct sockaddr *)&cc->cctx_addr : NULL,
                                auth)) {
        log_info(mc->mctx_qid, "client out of scope (apply_to): passed without inspection");
        msg_reset(cc);
        return SMFIS_ACCEPT;
    }
    if (msg_envelope_set_from(&mc->mctx_env, argv && argv[0] ? argv[0] : "") < 0)
        return ctx_fault(ctx, mc, "envelope sender");
    mc->mctx_env.from_external = !config_domain_is_internal(cfg, mc->mctx_env.from_domain);
    if ((mc->mctx_spool = spool_new(cfg->spool_dir, cfg->memory_limit)) == NULL)
        return ctx_fault(ctx, mc, "spool");
    return SMFIS_CONTINUE;
}

/* cb_envrcpt - record a recipient and whether it is external */
sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc = cc ? cc->cctx_msg : NULL;
    struct msg_rcpt *r;

    if (mc == NULL)
        return SMFIS_TEMPFAIL;
    ctx_update_qid(ctx, mc);
    if (mc->mctx_env.nrcpts >= MAX_RCPTS) {
        ms_smfi->setreply(ctx, (char *)"452", (char *)"4.5.3", (char *)"Too many recipients");
        return SMFIS_TEMPFAIL;
    }
    if (msg_envelope_add_rcpt(&mc->mctx_env, argv && argv[0] ? argv[0] : "") < 0)
        return ctx_fault(ctx, mc, "envelope recipient");
    r = &mc->mctx_env.rcpts[mc->mctx_env.nrcpts - 1];
    r->external = !config_domain_is_internal(mc->mctx_gc->cfg, r->domain);
    return SMFIS_CONTINUE;
}

/* spool_header - write "name:value\r\n", turning folds into CRLF */
static int spool_header(struct spool *sp, const char *name, const char *value, int leadspc)
{
    const char *p = value, *nl;

    if (spool_write(sp, name, strlen(name)) < 0 || spool_write(sp, ":", 1) < 0)
        return -1;
    if (!leadspc && spool_write(sp, " ", 1) < 0)
        return -1;
    while ((nl = strchr(p, '\n')) != NULL) {
        size_t n = (size_t)(nl - p);

        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (spool_write(sp, p, n) < 0 || spool_write(sp, "\r\n", 2) < 0)
            return -1;
        p = nl + 1;
    }
    return spool_write(sp, p, strlen(p)) < 0 || spool_write(sp, "\r\n", 2) < 0 ? -1 : 0;
}

/* header_take - spool one header; note Message-ID, markers and limits */
static sfsistat header_take(SMFICTX *ctx, struct conn_ctx *cc, struct msg_ctx *mc,
                            char *name, char *value)
{
    const struct msg_limits *lim;

    if (name == NULL || value == NULL)
        return SMFIS_CONTINUE;
    ctx_update_qid(ctx, mc);
    lim = &mc->mctx_gc->cfg->limits;
    if (++mc->mctx_nheaders > lim->max_headers)
        mc->mctx_incomplete |= MSG_INC_HEADERS;
    if (strlen(name) + strlen(value) + 1 > lim->max_header_len)
        mc->mctx_incomplete |= MSG_INC_HEADERS;
    if (strcasecmp(name, MARKER_HEADER) == 0) {
        if (mc->mctx_nmarkers < CTX_MAX_MARKERS
            && (mc->mctx_markers[mc->mctx_nmarkers] = strndup(value, 256)) == NULL)
            return ctx_fault(ctx, mc, "marker header");
        mc->mctx_nmarkers++;
    } else if (mc->mctx_msgid == NULL && strcasecmp(name, "Message-ID") == 0) {
        if ((mc->mctx_msgid = strndup(value, MSGID_MAX)) == NULL)
            return ctx_fault(ctx, mc, "message-id");
    }
    if (spool_header(mc->mctx_spool, name, value, cc->cctx_leadspc) < 0)
        return ctx_fault(ctx, mc, "spool write");
    return SMFIS_CONTINUE;
}

/* msg_taking - the message of cc while it takes fields and chunks: open,
 * and no earlier one failed (then nothing more is taken); else NULL */
static struct msg_ctx *msg_taking(struct conn_ctx *cc)
{
    struct msg_ctx *mc = cc ? cc->cctx_msg : NULL;

    return mc != NULL && mc->mctx_spool != NULL && mc->mctx_error == 0 ? mc : NULL;
}

/* cb_header - one header field: taken, and answered unless SMFIP_NR_HDR
 * was negotiated (then a fault waits in mctx_error for cb_eoh) */
sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc = msg_taking(cc);
    sfsistat r = mc ? header_take(ctx, cc, mc, name, value) : SMFIS_TEMPFAIL;

    return cc != NULL && cc->cctx_nr_hdr ? SMFIS_NOREPLY : r;
}

/* cb_data - the DATA command: answered only to keep inet: sockets fast (cb_negotiate) */
sfsistat cb_data(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* cb_eoh - the empty line between headers and body */
sfsistat cb_eoh(SMFICTX *ctx)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc = cc ? cc->cctx_msg : NULL;

    if (mc == NULL || mc->mctx_spool == NULL)
        return SMFIS_TEMPFAIL;
    ctx_update_qid(ctx, mc);
    if (mc->mctx_error != 0)            /* a header field failed (no reply then) */
        return apply_tempfail(ctx, mc->mctx_qid, mc->mctx_error_what);
    if (spool_write(mc->mctx_spool, "\r\n", 2) < 0)
        return ctx_fault(ctx, mc, "spool write");
    mc->mctx_body_off = spool_size(mc->mctx_spool);
    if (mc->mctx_nmarkers > 0 && mc->mctx_check == NULL) {
        const struct config *cfg = mc->mctx_gc->cfg;
        size_t kept = mc->mctx_nmarkers < CTX_MAX_MARKERS ? mc->mctx_nmarkers : CTX_MAX_MARKERS;

        if ((mc->mctx_check = marker_check_new(cfg->loop_key, sizeof(cfg->loop_key),
                                               (const char *const *)mc->mctx_markers, kept,
                                               time(NULL), cfg->loop_max_age)) == NULL)
            return ctx_fault(ctx, mc, "loop marker");
    }
    return SMFIS_CONTINUE;
}

/* body_take - spool a body chunk and feed the marker check, if any */
static sfsistat body_take(SMFICTX *ctx, struct msg_ctx *mc, const unsigned char *chunk, size_t len)
{
    if (spool_write(mc->mctx_spool, chunk, len) < 0)
        return ctx_fault(ctx, mc, "spool write");
    if (marker_check_needs_body(mc->mctx_check)
        && marker_check_update(mc->mctx_check, chunk, len) < 0)
        return ctx_fault(ctx, mc, "loop marker");
    return SMFIS_CONTINUE;
}

/* cb_body - one body chunk: taken, and answered unless SMFIP_NR_BODY was
 * negotiated (then a fault waits in mctx_error for cb_eom) */
sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc = msg_taking(cc);
    sfsistat r = mc ? body_take(ctx, mc, chunk, len) : SMFIS_TEMPFAIL;

    return cc != NULL && cc->cctx_nr_body ? SMFIS_NOREPLY : r;
}

/* rcpt_list - the envelope recipients as a string array (caller frees the array) */
static const char **rcpt_list(const struct msg_envelope *env)
{
    const char **v = calloc(env->nrcpts + 1, sizeof(*v));

    if (v != NULL)
        for (size_t i = 0; i < env->nrcpts; i++)
            v[i] = env->rcpts[i].addr;
    return v;
}

/* msg_body_auth - the v=2 loop-marker MAC of the body in the spool (read
 * where it lies while in memory, else BODY_READ at a time) */
int msg_body_auth(struct msg_ctx *mc, unsigned char auth[MARKER_BODY_AUTH_LEN])
{
    const struct config *cfg = mc->mctx_gc->cfg;
    struct body_mac *bm = body_mac_new(cfg->loop_key, sizeof(cfg->loop_key), NULL);
    unsigned char *chunk = NULL;
    uint64_t off = mc->mctx_body_off, size = spool_size(mc->mctx_spool);
    size_t used = 0;
    int rc = -1;

    if (bm == NULL)
        goto out;
    while (off < size) {
        const char *mem = NULL;
        size_t want = size - off < BODY_READ ? (size_t)(size - off) : BODY_READ;
        size_t k = spool_peek(mc->mctx_spool, off, &mem);
        ssize_t n;

        if (k > 0) {
            if (k > size - off)
                k = (size_t)(size - off);
            if (body_mac_update(bm, mem, k) < 0)
                goto out;
            off += k;
            continue;
        }
        if (chunk == NULL && (chunk = malloc(BODY_READ)) == NULL)
            goto out;
        if ((n = spool_pread(mc->mctx_spool, chunk, want, off)) <= 0) {
            if (n == 0)
                errno = EIO;
            goto out;
        }
        if ((size_t)n > used)
            used = (size_t)n;
        if (body_mac_update(bm, chunk, (size_t)n) < 0)
            goto out;
        off += (uint64_t)n;
    }
    rc = body_mac_final(bm, auth);
out:
    if (chunk != NULL)
        OPENSSL_cleanse(chunk, used);
    free(chunk);
    body_mac_free(bm);
    return rc;
}

/* eom_check_markers - 1: a marker verified; 0: none did (removed); -1: fault */
static int eom_check_markers(SMFICTX *ctx, struct msg_ctx *mc)
{
    const char **rcpts;
    size_t kept = mc->mctx_nmarkers < CTX_MAX_MARKERS ? mc->mctx_nmarkers : CTX_MAX_MARKERS;

    if (mc->mctx_nmarkers == 0)
        return 0;
    if ((rcpts = rcpt_list(&mc->mctx_env)) == NULL)
        return -1;
    for (size_t i = 0; i < kept; i++) {
        enum marker_status st = marker_check_status(mc->mctx_check, i, mc->mctx_msgid,
                                                    rcpts, mc->mctx_env.nrcpts);

        if (st == MARKER_VALID) {
            free(rcpts);
            return 1;
        }
        log_notice(mc->mctx_qid, "loop marker %zu not verified (%s): removed, message inspected",
                   i + 1, marker_status_str(st));
    }
    free(rcpts);
    if (apply_remove_markers(ctx, mc->mctx_nmarkers) < 0)
        return -1;
    return 0;
}

/* cb_eom - decide and act */
sfsistat cb_eom(SMFICTX *ctx)
{
    struct conn_ctx *cc = ctx_conn(ctx);
    struct msg_ctx *mc = cc ? cc->cctx_msg : NULL;
    struct decision d;
    sfsistat st;
    int r;

    if (mc == NULL || mc->mctx_spool == NULL)
        return SMFIS_TEMPFAIL;
    ctx_update_qid(ctx, mc);
    memset(&d, 0, sizeof(d));
    if (mc->mctx_error != 0) {          /* a body chunk failed (no reply then) */
        st = apply_tempfail(ctx, mc->mctx_qid, mc->mctx_error_what);
    } else if ((r = eom_check_markers(ctx, mc)) < 0) {
        st = ctx_fault(ctx, mc, "loop marker");
    } else if (r == 1) {
        log_info(mc->mctx_qid, "loop marker verified: produced by this gateway, passed untouched");
        st = SMFIS_ACCEPT;
    } else if (decide(mc->mctx_gc->cfg, mc->mctx_spool, &mc->mctx_env,
                      mc->mctx_incomplete, &d) < 0) {
        st = ctx_fault(ctx, mc, "message model and rules");
    } else {
        st = apply_decision(ctx, cc, d.model, &d.res, NULL);   /* body MAC when marking */
    }
    decision_free(&d);
    msg_reset(cc);
    return st;
}

/* cb_abort - the MTA dropped the message */
sfsistat cb_abort(SMFICTX *ctx)
{
    struct conn_ctx *cc = ctx_conn(ctx);

    if (cc != NULL)
        msg_reset(cc);
    return SMFIS_CONTINUE;
}

/* cb_close - the connection ends */
sfsistat cb_close(SMFICTX *ctx)
{
    struct conn_ctx *cc = ctx_conn(ctx);

    if (cc == NULL)
        return SMFIS_CONTINUE;
    msg_reset(cc);
    free(cc);
    ms_smfi->setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

struct smfiDesc mailseal_desc = {
    .xxfi_name = (char *)"mailseal",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_ADDRCPT
                  | SMFIF_CHGBODY,
    .xxfi_connect = cb_connect,
    .xxfi_helo = NULL,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_unknown = NULL,
    .xxfi_data = cb_data,
    .xxfi_negotiate = cb_negotiate,
};
