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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "message/rfc2047.h"
#include "milter/apply.h"
#include "milter/smfi_ops.h"
#include "util/buf.h"
#include "util/log.h"

#define HEADER_VALUE_MAX (64 * 1024)
#define BCC_RCPT_MAX 260   /* "<" 254 bytes ">" NUL */

static const char *const action_names[] = {
    [ACT_ADD_HEADER] = "add_header",
    [ACT_SET_HEADER] = "set_header",
    [ACT_PREPEND_SUBJECT] = "prepend_subject",
    [ACT_REJECT] = "reject",
    [ACT_QUARANTINE] = "quarantine",
    [ACT_ENCRYPT] = "encrypt",
    [ACT_REMOVE_SUBJECT_TAG] = "remove_subject_tag",
    [ACT_REMOVE_HEADER] = "remove_header",
    [ACT_BCC] = "bcc",
    [ACT_LOG] = "log",
};

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

/* header_count - how many times the message's top level has header name */
static size_t header_count(const struct msg_model *m, const char *name)
{
    size_t n = 0;

    if (m->root == NULL)
        return 0;
    for (size_t i = 0; i < m->root->nheaders; i++)
        if (strcasecmp(m->root->headers[i].name, name) == 0)
            n++;
    return n;
}

/* apply_set - replace every occurrence of name with value, or add it */
static int apply_set(SMFICTX *ctx, const struct msg_model *m, const char *name,
                     const char *value, int leadspc)
{
    size_t n = header_count(m, name);
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

/* apply_marker - add the loop marker for the message as it leaves (its
 * recipients and the nadded ones bcc added) */
static int apply_marker(SMFICTX *ctx, struct msg_ctx *mc,
                        const unsigned char digest[MARKER_DIGEST_LEN], int leadspc,
                        const char *const *added, size_t nadded)
{
    const struct config *cfg = mc->mctx_gc->cfg;
    struct buf v = BUF_INIT(512);
    size_t n = mc->mctx_env.nrcpts;
    const char **rcpts = calloc(n + nadded + 1, sizeof(*rcpts));
    int r = -1;

    if (rcpts == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        rcpts[i] = mc->mctx_env.rcpts[i].addr;
    for (size_t i = 0; i < nadded; i++)
        rcpts[n + i] = added[i];
    if ((!leadspc || buf_addc(&v, ' ') == 0)
        && marker_make(cfg->loop_key, sizeof(cfg->loop_key), time(NULL), mc->mctx_msgid,
                       rcpts, n + nadded, digest, &v) == 0
        && ms_smfi->addheader(ctx, (char *)MARKER_HEADER, v.data) == MI_SUCCESS)
        r = 0;
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
static int apply_remove(SMFICTX *ctx, const struct msg_model *m,
                        const struct rules_result *res, size_t i, int *changed)
{
    const struct rule_action *a = &res->actions[i];

    for (size_t k = 0; k < a->nitems; k++) {
        if (listed_before(res, i, ACT_REMOVE_HEADER, a->items[k]))
            continue;
        for (size_t idx = header_count(m, a->items[k]); idx >= 1; idx--) {
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
        if ((i ? buf_addc(&acts, ',') : 0) < 0 || buf_adds(&acts, action_names[res->actions[i].kind]) < 0)
            break;
    log_notice(mc->mctx_qid, "rules matched=%s audit=%s actions=%s outcome=%s%s%s%s",
               buf_str(&matched), buf_str(&audited), acts.len ? acts.data : "-", outcome,
               res->reject ? " by " : "", res->reject ? res->reject->rule : "",
               res->incomplete ? " (limits hit: undecided rules handled by policy.on_incomplete)" : "");
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

/* apply_decision - act on the result; the status to answer at end of message */
sfsistat apply_decision(SMFICTX *ctx, struct conn_ctx *cc, const struct msg_model *m,
                        const struct rules_result *res,
                        const unsigned char digest[MARKER_DIGEST_LEN])
{
    struct msg_ctx *mc = cc->cctx_msg;
    struct buf subject = BUF_INIT(HEADER_VALUE_MAX);
    const char *quarantine = NULL;
    const char **added = NULL;
    size_t nadded = 0, nbcc = 0;
    int marked, changed = 0, subject_changed = 0, leadspc = cc->cctx_leadspc;

    apply_rule_logs(mc, res);
    if (res->reject)
        return apply_reject(ctx, mc, res);
    if (res->encrypt) {
        /* The envelope is not built yet: fail closed, never relay in clear. */
        ms_smfi->setreply(ctx, (char *)"550", (char *)"5.7.1",
                          (char *)"Message must be encrypted, but encryption is not available on this gateway");
        apply_log(mc, res, "reject (encryption unavailable)");
        return SMFIS_REJECT;
    }
    for (size_t i = 0; i < res->nactions; i++)
        if (res->actions[i].kind == ACT_BCC)
            nbcc += res->actions[i].nitems;
    if ((nbcc > 0 && (added = calloc(nbcc, sizeof(*added))) == NULL)
        || buf_adds(&subject, m->subject ? m->subject : "") < 0
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
            r = apply_set(ctx, m, a->name, a->value, leadspc);
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
            r = apply_remove(ctx, m, res, i, &changed);
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
            log_err(mc->mctx_qid, "could not apply %s of rule %s", action_names[a->kind], a->rule);
            buf_free(&subject);
            free(added);
            return apply_tempfail(ctx, mc->mctx_qid, "action failed");
        }
    }
    if (subject_changed) {
        changed = 1;
        if (apply_set(ctx, m, "Subject", buf_str(&subject), leadspc) < 0) {
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
    apply_log(mc, res, quarantine ? "quarantine" : changed ? "accept (modified)" : "accept");
    return SMFIS_CONTINUE;
}
