/*
 * apply - carry out a rules decision on the message through libmilter:
 * reject, header and subject changes, quarantine, and the loop marker on
 * every message the gateway changed.
 *
 * apply_decision() returns the libmilter status to answer at end of
 * message.  A failed libmilter call is a transient fault: it answers
 * tempfail, so the message is never relayed half-changed.  The model and
 * the result are only read.  digest is the body's marker authentication
 * (nonce and GMAC tag, MARKER_BODY_AUTH_LEN bytes) when the caller has it,
 * or NULL: then it is computed from the spool if a marker is added.
 */
#ifndef MAILSEAL_MILTER_APPLY_H
#define MAILSEAL_MILTER_APPLY_H

#include <libmilter/mfapi.h>

#include "milter/context.h"
#include "rules/rules.h"

sfsistat apply_decision(SMFICTX *ctx, struct conn_ctx *cc, const struct msg_model *m,
                        const struct rules_result *res,
                        const unsigned char digest[MARKER_DIGEST_LEN]);
sfsistat apply_tempfail(SMFICTX *ctx, const char *qid, const char *why);
int apply_remove_markers(SMFICTX *ctx, size_t count);
char *apply_escape_reply(const char *text);

#endif
