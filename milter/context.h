/*
 * context - what the milter keeps per connection (struct conn_ctx) and per
 * message (struct msg_ctx, fields prefixed mctx_).
 *
 * The connection context lives from connect to close; the message context
 * from MAIL FROM to end of message or abort.  msg_reset() frees everything
 * a message allocated and drops its configuration reference; it is called
 * from end of message, abort, close and a new MAIL FROM alike.  The body is
 * hashed while it arrives only for a message whose headers hold loop
 * markers (mctx_check); the MAC a new marker needs is computed from the
 * spool (msg_body_auth) only when the gateway adds one.
 */
#ifndef MAILSEAL_MILTER_CONTEXT_H
#define MAILSEAL_MILTER_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/marker.h"
#include "message/model.h"
#include "message/spool.h"
#include "milter/gateway.h"

#define CTX_MAX_MARKERS 8         /* marker header values kept for verification (of these,
                                     at most MARKER_CHECK_MAX_MACS distinct v=2 nonces are
                                     MACed; the others count as not verified) */
#define CTX_QID_LEN 64

struct msg_ctx {
    struct gw_conf *mctx_gc;      /* the configuration this message started with */
    char mctx_qid[CTX_QID_LEN];
    struct msg_envelope mctx_env;
    struct spool *mctx_spool;     /* the message as received, headers and body */
    struct marker_check *mctx_check;   /* the marker headers against the body, from end of
                                          headers; NULL when the message has none */
    uint64_t mctx_body_off;       /* where the body starts in the spool */
    size_t mctx_nheaders;
    unsigned mctx_incomplete;     /* MSG_INC_* found while receiving */
    char *mctx_msgid;             /* first Message-ID value, raw */
    char *mctx_markers[CTX_MAX_MARKERS];
    size_t mctx_nmarkers;         /* all marker headers seen (may exceed the kept ones) */
    int mctx_counted;             /* counted in gateway_msg_begin() */
    int mctx_error;               /* errno of a transient fault while receiving */
    const char *mctx_error_what;
};

struct conn_ctx {
    struct sockaddr_storage cctx_addr;
    int cctx_have_addr;
    int cctx_leadspc;             /* SMFIP_HDR_LEADSPC negotiated */
    int cctx_nr_hdr;              /* SMFIP_NR_HDR negotiated: headers get no reply */
    int cctx_nr_body;             /* SMFIP_NR_BODY negotiated: body chunks get no reply */
    struct msg_ctx *cctx_msg;
};

void msg_reset(struct conn_ctx *cc);
/* msg_body_auth - the v=2 loop-marker MAC (fresh nonce) of the body in the spool; 0 or -1 */
int msg_body_auth(struct msg_ctx *mc, unsigned char auth[MARKER_BODY_AUTH_LEN]);

#endif
