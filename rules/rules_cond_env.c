/*
 * rules_cond_env - the envelope, attachment and size conditions (table
 * entries in rules_cond.c; helpers in rules_cond_int.h).
 *
 *   sender_is / recipient_is: ADDRESS | [ADDRESS, ...]
 *       the envelope sender (any recipient) is one of them, ignoring case
 *   sender_domain_is / recipient_domain_is: DOMAIN | [DOMAIN, ...]
 *       its domain is one of them; "*.x" matches subdomains of x, not x
 *   sender_matches / recipient_matches: PATTERN | [PATTERN, ...]
 *       a PCRE2 pattern matches the address (any recipient's)
 *   sender_scope: internal | external   the sender's domain is (not) ours
 *   has_attachment: true | false        some part is an attachment (none is)
 *   attachment_name_matches: PATTERN | [...]   on an attachment's decoded name
 *   attachment_extension_is: EXT | [...]  "pdf" or ".pdf", any case
 *   attachment_type_is: TYPE | [...]      "application/pdf"; "image/" and a
 *                                         star for any image type
 *   attachment_size_over: SIZE            an attachment's decoded size > SIZE
 *   size_over: SIZE                       the whole message's size > SIZE
 *
 * Envelope conditions are never unknown.  Attachment conditions that did
 * not hold are unknown when the MIME tree was cut (MSG_INC_PARTS, _DEPTH,
 * _SIZE) or holds an unread part (MSG_INC_OPAQUE); a pattern that hits the
 * match limit is unknown.  Parsers report at the node and return -1;
 * compiled data is released by the kind's free function.  Explain excerpts name the address or attachment (at most 200
 * bytes) or show the pattern's match with a little context.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/rules_cond_int.h"

#define ADDR_MAX 320
#define DOMAIN_MAX 253
#define TREE_CUT (MSG_INC_PARTS | MSG_INC_DEPTH | MSG_INC_SIZE | MSG_INC_OPAQUE)

/* cond_free_list - release a string list condition */
void cond_free_list(struct rule_cond *c)
{
    str_list_free(c->data);
    c->data = NULL;
}

/* cond_free_re - release a pattern condition */
void cond_free_re(struct rule_cond *c)
{
    re_set_free(c->data);
    c->data = NULL;
}

/* cond_free_data - release plain data */
void cond_free_data(struct rule_cond *c)
{
    free(c->data);
    c->data = NULL;
}

/* lower - ASCII-lowercase a string in place */
static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* check_addr - local@domain without white space */
static int check_addr(const char *what, const struct ynode *n, struct diag *d)
{
    const char *at = strrchr(n->value, '@');

    if (at == NULL || at == n->value || at[1] == '\0' || strpbrk(n->value, " \t<>") != NULL) {
        ynode_error(d, n, "%s: '%s' is not an address (expected local@domain)", what, n->value);
        return -1;
    }
    return 0;
}

/* check_domain - a domain, or "*." and a domain */
static int check_domain(const char *what, const struct ynode *n, struct diag *d)
{
    const char *s = n->value;

    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    if (strchr(s, '*') != NULL) {
        ynode_error(d, n, "%s: invalid domain '%s': only a leading '*.' wildcard is allowed",
                    what, n->value);
        return -1;
    }
    if (*s == '\0' || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..") != NULL
        || strpbrk(s, " \t@/") != NULL) {
        ynode_error(d, n, "%s: invalid domain '%s'", what, n->value);
        return -1;
    }
    return 0;
}

/* parse_lower_list - a list of strings, lowercased */
static int parse_lower_list(const char *what, struct rule_cond *c, const struct ynode *arg,
                            size_t max, int (*check)(const char *, const struct ynode *,
                                                     struct diag *), struct diag *d)
{
    struct str_list *l;

    if (str_list_parse(what, arg, max, check, &l, d) < 0)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        lower(l->s[i]);
    c->data = l;
    return 0;
}

/* addr_in - is addr one of the list's addresses? */
static int addr_in(const struct str_list *l, const char *addr)
{
    for (size_t i = 0; addr != NULL && i < l->n; i++)
        if (strcasecmp(l->s[i], addr) == 0)
            return 1;
    return 0;
}

/* domain_in - is dom (lowercase) one of the list's domains or below a wildcard? */
static int domain_in(const struct str_list *l, const char *dom)
{
    size_t dl = dom ? strlen(dom) : 0;

    for (size_t i = 0; dl > 0 && i < l->n; i++) {
        const char *w = l->s[i];

        if (strncmp(w, "*.", 2) == 0) {
            size_t wl = strlen(w + 1);        /* ".x" */

            if (dl > wl && strcasecmp(dom + dl - wl, w + 1) == 0)
                return 1;
        } else if (strcasecmp(w, dom) == 0) {
            return 1;
        }
    }
    return 0;
}

/* add_addr - "WHO ADDR" cut to 200 bytes */
static int add_addr(struct buf *out, const char *who, const char *addr)
{
    return buf_printf(out, "%s %.200s", who, addr ? addr : "");
}

/* rcpt_find - the first recipient satisfying the condition: 1 (in *hit),
 * 0 none, 2 a pattern hit its limit, -1 fault */
static int rcpt_find(const struct rule_cond *c, struct rules_ctx *ctx, int kind,
                     const struct msg_rcpt **hit, size_t *at, size_t *mlen)
{
    int limited = 0;

    for (size_t i = 0; ctx->env != NULL && i < ctx->env->nrcpts; i++) {
        const struct msg_rcpt *r = &ctx->env->rcpts[i];
        const char *a = r->addr ? r->addr : "";
        int m;

        if (kind == 0)
            m = addr_in(c->data, a);
        else if (kind == 1)
            m = domain_in(c->data, r->domain);
        else
            m = re_set_match(c->data, ctx, a, strlen(a), at, mlen);
        if (m < 0)
            return -1;
        if (m == 1) {
            *hit = r;
            return 1;
        }
        if (m == 2)
            limited = 1;
    }
    return limited ? 2 : 0;
}

/* re_tri - a re_set_match() result as a truth value */
static enum rules_tri re_tri(int m)
{
    return m == 1 ? TRI_TRUE : m == 2 ? TRI_UNKNOWN : TRI_FALSE;
}

/* cond_sender_is_parse - sender_is: addresses */
int cond_sender_is_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_lower_list("sender_is", c, arg, ADDR_MAX, check_addr, d);
}

/* cond_sender_is_eval - is the sender one of them? */
enum rules_tri cond_sender_is_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                   unsigned *inc)
{
    (void)inc;
    return ctx->env != NULL && addr_in(c->data, ctx->env->from) ? TRI_TRUE : TRI_FALSE;
}

/* cond_sender_is_explain - the sender */
int cond_sender_is_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    (void)c;
    return add_addr(out, "sender", ctx->env ? ctx->env->from : NULL);
}

/* cond_sender_domain_parse - sender_domain_is: domains */
int cond_sender_domain_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_lower_list("sender_domain_is", c, arg, DOMAIN_MAX, check_domain, d);
}

/* cond_sender_domain_eval - is the sender's domain one of them? */
enum rules_tri cond_sender_domain_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                       unsigned *inc)
{
    (void)inc;
    return ctx->env != NULL && domain_in(c->data, ctx->env->from_domain) ? TRI_TRUE : TRI_FALSE;
}

/* cond_sender_domain_explain - the sender */
int cond_sender_domain_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return cond_sender_is_explain(c, ctx, out);
}

/* cond_sender_matches_eval - does a pattern match the sender? */
enum rules_tri cond_sender_matches_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                        unsigned *inc)
{
    const char *s = ctx->env && ctx->env->from ? ctx->env->from : "";

    (void)inc;
    return re_tri(re_set_match(c->data, ctx, s, strlen(s), NULL, NULL));
}

/* cond_sender_matches_explain - the match in the sender */
int cond_sender_matches_explain(const struct rule_cond *c, struct rules_ctx *ctx,
                                struct buf *out)
{
    const char *s = ctx->env && ctx->env->from ? ctx->env->from : "";
    size_t at, mlen;
    int m = re_set_match(c->data, ctx, s, strlen(s), &at, &mlen);

    if (m != 1)
        return m < 0 ? -1 : 0;
    return rules_excerpt(out, s, strlen(s), at, mlen);
}

#define SCOPE_INTERNAL 0x1u
#define SCOPE_EXTERNAL 0x2u

/* cond_sender_scope_parse - sender_scope: internal or external */
int cond_sender_scope_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    if (ynode_is_string(arg) && strcmp(arg->value, "internal") == 0) {
        c->arg = SCOPE_INTERNAL;
        return 0;
    }
    if (ynode_is_string(arg) && strcmp(arg->value, "external") == 0) {
        c->arg = SCOPE_EXTERNAL;
        return 0;
    }
    if (arg->type == YNODE_SCALAR)
        ynode_error(d, arg, "sender_scope: expected internal or external, not '%s'", arg->value);
    else
        ynode_error(d, arg, "sender_scope: expected internal or external, not %s",
                    ynode_kind(arg));
    return -1;
}

/* cond_sender_scope_eval - is the sender of that scope? */
enum rules_tri cond_sender_scope_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                      unsigned *inc)
{
    (void)inc;
    if (ctx->env == NULL)
        return TRI_FALSE;
    return c->arg == (ctx->env->from_external ? SCOPE_EXTERNAL : SCOPE_INTERNAL)
        ? TRI_TRUE : TRI_FALSE;
}

/* cond_sender_scope_explain - the sender and its scope */
int cond_sender_scope_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    (void)c;
    return add_addr(out, ctx->env && ctx->env->from_external ? "external sender" : "internal sender",
                    ctx->env ? ctx->env->from : NULL);
}

/* cond_rcpt_is_parse - recipient_is: addresses */
int cond_rcpt_is_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_lower_list("recipient_is", c, arg, ADDR_MAX, check_addr, d);
}

/* cond_rcpt_is_eval - is some recipient one of them? */
enum rules_tri cond_rcpt_is_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    const struct msg_rcpt *r;

    (void)inc;
    return rcpt_find(c, ctx, 0, &r, NULL, NULL) == 1 ? TRI_TRUE : TRI_FALSE;
}

/* cond_rcpt_is_explain - the recipient */
int cond_rcpt_is_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct msg_rcpt *r;

    return rcpt_find(c, ctx, 0, &r, NULL, NULL) == 1 ? add_addr(out, "recipient", r->addr) : 0;
}

/* cond_rcpt_domain_parse - recipient_domain_is: domains */
int cond_rcpt_domain_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_lower_list("recipient_domain_is", c, arg, DOMAIN_MAX, check_domain, d);
}

/* cond_rcpt_domain_eval - is some recipient's domain one of them? */
enum rules_tri cond_rcpt_domain_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                     unsigned *inc)
{
    const struct msg_rcpt *r;

    (void)inc;
    return rcpt_find(c, ctx, 1, &r, NULL, NULL) == 1 ? TRI_TRUE : TRI_FALSE;
}

/* cond_rcpt_domain_explain - the recipient */
int cond_rcpt_domain_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct msg_rcpt *r;

    return rcpt_find(c, ctx, 1, &r, NULL, NULL) == 1 ? add_addr(out, "recipient", r->addr) : 0;
}

/* cond_rcpt_matches_eval - does a pattern match some recipient? */
enum rules_tri cond_rcpt_matches_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                                      unsigned *inc)
{
    const struct msg_rcpt *r;

    (void)inc;
    return re_tri(rcpt_find(c, ctx, 2, &r, NULL, NULL));
}

/* cond_rcpt_matches_explain - the match in the recipient */
int cond_rcpt_matches_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct msg_rcpt *r;
    size_t at = 0, mlen = 0;
    int m = rcpt_find(c, ctx, 2, &r, &at, &mlen);

    if (m != 1)
        return m < 0 ? -1 : 0;
    return rules_excerpt(out, r->addr, strlen(r->addr), at, mlen);
}

/* part_next - the part after p in document order, NULL at the end */
static const struct msg_part *part_next(const struct msg_part *p)
{
    if (p->children != NULL)
        return p->children;
    for (; p != NULL; p = p->parent)
        if (p->next != NULL)
            return p->next;
    return NULL;
}

/* ext_match - does name end in "." ext (any ASCII case)? */
static int ext_match(const struct str_list *l, const char *name)
{
    size_t nl = name ? strlen(name) : 0;

    for (size_t i = 0; i < l->n; i++) {
        size_t el = strlen(l->s[i]);

        if (nl > el + 1 && name[nl - el - 1] == '.' && strcasecmp(name + nl - el, l->s[i]) == 0)
            return 1;
    }
    return 0;
}

/* type_match - is type one of the list's types ("x/ *" matching any x/y)? */
static int type_match(const struct str_list *l, const char *type)
{
    for (size_t i = 0; type != NULL && i < l->n; i++) {
        size_t tl = strlen(l->s[i]);

        if (tl >= 2 && strcmp(l->s[i] + tl - 2, "/*") == 0) {
            if (strncasecmp(type, l->s[i], tl - 1) == 0)
                return 1;
        } else if (strcasecmp(type, l->s[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

enum att_kind { ATT_ANY, ATT_NAME, ATT_EXT, ATT_TYPE, ATT_SIZE };

/* att_find - the first attachment satisfying the condition: 1 (in *hit),
 * 0 none, 2 a pattern hit its limit, -1 fault */
static int att_find(const struct rule_cond *c, struct rules_ctx *ctx, enum att_kind kind,
                    const struct msg_part **hit, size_t *at, size_t *mlen)
{
    int limited = 0;

    for (const struct msg_part *p = ctx->m ? ctx->m->root : NULL; p != NULL; p = part_next(p)) {
        int m = 0;

        if (!(p->flags & MSG_PART_ATTACHMENT))
            continue;
        switch (kind) {
        case ATT_ANY:
            m = 1;
            break;
        case ATT_NAME:
            if (p->filename != NULL)
                m = re_set_match(c->data, ctx, p->filename, strlen(p->filename), at, mlen);
            break;
        case ATT_EXT:
            m = ext_match(c->data, p->filename);
            break;
        case ATT_TYPE:
            m = type_match(c->data, p->content_type);
            break;
        case ATT_SIZE:
            m = p->decoded_size > *(const uint64_t *)c->data;
            break;
        }
        if (m < 0)
            return -1;
        if (m == 1) {
            *hit = p;
            return 1;
        }
        if (m == 2)
            limited = 1;
    }
    return limited ? 2 : 0;
}

/* att_eval - TRUE on an attachment found, else UNKNOWN when the tree was cut */
static enum rules_tri att_eval(const struct rule_cond *c, struct rules_ctx *ctx,
                               enum att_kind kind, unsigned *inc)
{
    const struct msg_part *p;
    int m = att_find(c, ctx, kind, &p, NULL, NULL);
    enum rules_tri t;

    if (m == 1)
        return TRI_TRUE;
    if (m < 0)
        return TRI_FALSE;
    t = rules_ctx_unknown(ctx, TREE_CUT, inc);
    return m == 2 ? TRI_UNKNOWN : t;
}

/* att_explain - "attachment NAME (TYPE)" of the first hit */
static int att_explain(const struct rule_cond *c, struct rules_ctx *ctx, enum att_kind kind,
                       struct buf *out)
{
    const struct msg_part *p;

    if (att_find(c, ctx, kind, &p, NULL, NULL) != 1)
        return 0;
    if (kind == ATT_SIZE)
        return buf_printf(out, "attachment %.100s (%llu bytes)",
                          p->filename ? p->filename : "(no name)",
                          (unsigned long long)p->decoded_size);
    return buf_printf(out, "attachment %.100s (%.60s)", p->filename ? p->filename : "(no name)",
                      p->content_type ? p->content_type : "?");
}

/* cond_has_att_parse - has_attachment: true or false */
int cond_has_att_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return rules_bool_parse("has_attachment", c, arg, d);
}

/* cond_has_att_eval - is there an attachment (none, for false)? */
enum rules_tri cond_has_att_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    enum rules_tri t = att_eval(c, ctx, ATT_ANY, inc);

    if (c->arg || t == TRI_UNKNOWN)
        return t;
    return t == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
}

/* cond_has_att_explain - the first attachment, or "no attachment" */
int cond_has_att_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    if (!c->arg)
        return buf_adds(out, "no attachment");
    return att_explain(c, ctx, ATT_ANY, out);
}

/* cond_att_name_eval - does a pattern match an attachment's name? */
enum rules_tri cond_att_name_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    return att_eval(c, ctx, ATT_NAME, inc);
}

/* cond_att_name_explain - the match in the name */
int cond_att_name_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct msg_part *p;
    size_t at = 0, mlen = 0;
    int m = att_find(c, ctx, ATT_NAME, &p, &at, &mlen);

    if (m != 1)
        return m < 0 ? -1 : 0;
    return rules_excerpt(out, p->filename, strlen(p->filename), at, mlen);
}

/* check_ext - an extension: no '/', white space or '*' */
static int check_ext(const char *what, const struct ynode *n, struct diag *d)
{
    const char *s = n->value[0] == '.' ? n->value + 1 : n->value;

    if (*s == '\0' || *s == '.' || strpbrk(s, "/\\ \t*") != NULL) {
        ynode_error(d, n, "%s: invalid extension '%s'", what, n->value);
        return -1;
    }
    return 0;
}

/* cond_att_ext_parse - attachment_extension_is: extensions */
int cond_att_ext_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    struct str_list *l;

    if (parse_lower_list("attachment_extension_is", c, arg, 64, check_ext, d) < 0)
        return -1;
    l = c->data;
    for (size_t i = 0; i < l->n; i++)
        if (l->s[i][0] == '.')
            memmove(l->s[i], l->s[i] + 1, strlen(l->s[i]));
    return 0;
}

/* cond_att_ext_eval - does an attachment's name end in one of them? */
enum rules_tri cond_att_ext_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    return att_eval(c, ctx, ATT_EXT, inc);
}

/* cond_att_ext_explain - the attachment */
int cond_att_ext_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return att_explain(c, ctx, ATT_EXT, out);
}

/* check_type - "type/subtype" or "type/ *" */
static int check_type(const char *what, const struct ynode *n, struct diag *d)
{
    const char *slash = strchr(n->value, '/');

    if (slash == NULL || slash == n->value || slash[1] == '\0' || strchr(slash + 1, '/') != NULL
        || strpbrk(n->value, " \t;\"") != NULL
        || (strchr(n->value, '*') != NULL && strcmp(slash, "/*") != 0)) {
        ynode_error(d, n, "%s: invalid content type '%s' (expected type/subtype or type/*)",
                    what, n->value);
        return -1;
    }
    return 0;
}

/* cond_att_type_parse - attachment_type_is: content types */
int cond_att_type_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_lower_list("attachment_type_is", c, arg, 127, check_type, d);
}

/* cond_att_type_eval - is an attachment of one of those types? */
enum rules_tri cond_att_type_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    return att_eval(c, ctx, ATT_TYPE, inc);
}

/* cond_att_type_explain - the attachment */
int cond_att_type_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return att_explain(c, ctx, ATT_TYPE, out);
}

/* parse_size - a size argument into c->data */
static int parse_size(const char *what, struct rule_cond *c, const struct ynode *arg,
                      struct diag *d)
{
    uint64_t v;
    uint64_t *p;

    if (!ynode_is_string(arg) || rules_size_parse(arg->value, &v) < 0) {
        if (arg->type == YNODE_SCALAR)
            ynode_error(d, arg, "%s: invalid size '%s' (expected a number of bytes with an "
                        "optional unit: KB, MB, GB)", what, arg->value);
        else
            ynode_error(d, arg, "%s: expected a size, not %s", what, ynode_kind(arg));
        return -1;
    }
    if ((p = malloc(sizeof(*p))) == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    *p = v;
    c->data = p;
    return 0;
}

/* cond_att_size_parse - attachment_size_over: SIZE */
int cond_att_size_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_size("attachment_size_over", c, arg, d);
}

/* cond_att_size_eval - is an attachment bigger (decoded)? */
enum rules_tri cond_att_size_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    return att_eval(c, ctx, ATT_SIZE, inc);
}

/* cond_att_size_explain - the attachment and its size */
int cond_att_size_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    return att_explain(c, ctx, ATT_SIZE, out);
}

/* cond_size_parse - size_over: SIZE */
int cond_size_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    return parse_size("size_over", c, arg, d);
}

/* cond_size_eval - is the message bigger? */
enum rules_tri cond_size_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    (void)inc;
    return ctx->m != NULL && ctx->m->size > *(const uint64_t *)c->data ? TRI_TRUE : TRI_FALSE;
}

/* cond_size_explain - the message's size */
int cond_size_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    (void)c;
    return buf_printf(out, "message size %llu bytes",
                      (unsigned long long)(ctx->m ? ctx->m->size : 0));
}
