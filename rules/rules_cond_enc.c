/*
 * rules_cond_enc - the already_encrypted condition (table entry in
 * rules_cond.c).
 *
 *   already_encrypted: true | false
 *       true holds when the message is already encrypted end to end, or
 *       is one of our own envelopes; false when it is not:
 *       - S/MIME: the message itself is application/pkcs7-mime or
 *         application/x-pkcs7-mime (not with smime-type=signed-data,
 *         which is only signed);
 *       - PGP/MIME: the message is multipart/encrypted with an
 *         application/pgp-encrypted part;
 *       - inline PGP: a text/plain body part (not an attachment) starts,
 *         after white space, with "-----BEGIN PGP MESSAGE-----" (seen by
 *         the scan, rules_scan_pgp_inline(); without a scan, never);
 *       - our envelope: the message is an envelope page
 *         (MSG_PART_ENVELOPE, see message/model.h: a text/html part that
 *         starts as crypto/viewer/viewer.html does), or it is multipart
 *         and one of its direct parts is (the wrapper that the encrypt
 *         action writes, also when a mail program re-encoded it); an
 *         envelope attached deeper down (a forwarded message) does not
 *         count, nor does an envelope next to other parts than text:
 *         the message's own content would be in clear beside it.  A top
 *         level header field X-Mailseal-Envelope counts too.
 *
 * Unknown when it does not hold and the body was not parsed
 * (MSG_INC_SIZE) or top level header fields were dropped
 * (MSG_INC_HEADERS); false turns true into false and back, unknown stays.
 * The parser reports at the node and returns -1; nothing is allocated.
 */
#include <string.h>
#include <strings.h>

#include "message/model.h"
#include "rules/rules_cond_int.h"

#define ENC_ENVELOPE_HEADER "X-Mailseal-Envelope"

/* What made the message count as encrypted. */
enum enc_kind {
    ENC_NONE, ENC_SMIME, ENC_PGP_MIME, ENC_PGP_INLINE, ENC_ENVELOPE_HEADER_SEEN, ENC_ENVELOPE
};

/* enc_signed_only - is part's Content-Type smime-type=signed-data? */
static int enc_signed_only(const struct msg_part *part)
{
    const struct msg_header *h = msg_header_find(part, "Content-Type", 0);
    const char *v = h != NULL ? (h->value ? h->value : h->raw) : NULL;

    if (v == NULL)
        return 0;
    for (; *v; v++)
        if (strncasecmp(v, "signed-data", 11) == 0)
            return 1;
    return 0;
}

/* enc_is_wrapper - is part an envelope page, or multipart with one among
 * its direct parts and no other attachment beside it? */
static int enc_is_wrapper(const struct msg_part *part)
{
    int found = 0;

    if (part->flags & MSG_PART_ENVELOPE)
        return 1;
    if (!(part->flags & MSG_PART_MULTIPART))
        return 0;
    for (const struct msg_part *p = part->children; p != NULL; p = p->next)
        if (p->flags & MSG_PART_ENVELOPE)
            found = 1;
        else if ((p->flags & MSG_PART_ATTACHMENT) || (p->flags & MSG_PART_MESSAGE))
            return 0;
    return found;
}

/* enc_find - how the message is encrypted, ENC_NONE when it is not */
static enum enc_kind enc_find(const struct rules_ctx *ctx)
{
    const struct msg_part *root = ctx->m != NULL ? ctx->m->root : NULL;

    if (root != NULL && msg_header_find(root, ENC_ENVELOPE_HEADER, 0) != NULL)
        return ENC_ENVELOPE_HEADER_SEEN;
    if (root != NULL && enc_is_wrapper(root))
        return ENC_ENVELOPE;
    if (root != NULL && root->content_type != NULL) {
        if ((strcmp(root->content_type, "application/pkcs7-mime") == 0
             || strcmp(root->content_type, "application/x-pkcs7-mime") == 0)
            && !enc_signed_only(root))
            return ENC_SMIME;
        if (strcmp(root->content_type, "multipart/encrypted") == 0)
            for (const struct msg_part *p = root->children; p != NULL; p = p->next)
                if (p->content_type != NULL
                    && strcmp(p->content_type, "application/pgp-encrypted") == 0)
                    return ENC_PGP_MIME;
    }
    if (rules_scan_pgp_inline(ctx->scan))
        return ENC_PGP_INLINE;
    return ENC_NONE;
}

/* cond_enc_parse - already_encrypted: true or false */
int cond_enc_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return rules_bool_parse("already_encrypted", c, arg, d);
}

/* cond_enc_eval - is the message encrypted (not, for false)? */
enum rules_tri cond_enc_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    enum rules_tri t = TRI_TRUE;

    if (enc_find(ctx) == ENC_NONE)
        t = rules_ctx_unknown(ctx, MSG_INC_SIZE | MSG_INC_HEADERS, inc);
    if (c->arg || t == TRI_UNKNOWN)
        return t;
    return t == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
}

/* cond_enc_explain - what made it encrypted, or "not encrypted" */
int cond_enc_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    static const char *const why[] = {
        "not encrypted", "S/MIME encrypted", "PGP/MIME encrypted",
        /* "header " ENC_ENVELOPE_HEADER is one string on purpose */
        /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
        "inline PGP message", "header " ENC_ENVELOPE_HEADER, "mailseal envelope",
    };

    (void)c;
    return buf_adds(out, why[enc_find(ctx)]);
}
