/*
 * rules_action - the table of action kinds and their argument parsers.
 *
 * Interface: rules_action_kinds[] / rules_naction_kinds (see rules_int.h).
 * The table order is the order in which one rule's actions are recorded
 * and applied.  A parser fills a struct rule_action whose strings it
 * allocates; rules_action_clear() releases them.  Everything that ends up
 * in a header, an SMTP reply or a quarantine reason is checked here, at
 * load time, so the milter can use it as it is:
 *
 *   add_header: {name: N, value: V}     N is RFC 5322 ftext (printable
 *   set_header: {name: N, value: V}     ASCII but ':'), at most 76 bytes, not
 *                                       the loop header; V has no CR/LF or
 *                                       other controls but TAB; N: V fits
 *                                       in 998 bytes
 *   prepend_subject: TEXT               no control characters
 *   reject: {code: 5xx, status: "5.X.Y", message: TEXT}
 *                                       code 500..599 (default 550), status
 *                                       class matching the code (default
 *                                       5.7.1), message printable ASCII
 *   quarantine: REASON                  printable ASCII
 *   encrypt: {} | {template: NAME}      NAME letters, digits, . _ -, at
 *                                       most 64 bytes (kept in value)
 *   remove_subject_tag: TAG | [TAG...]  each no control characters, not
 *                                       only white space, at most 64 bytes;
 *                                       at most 32, none twice
 *   remove_header: NAME | [NAME...]     header names as above, not the
 *                                       loop header nor a structural one
 *                                       (From, To, Date, Message-ID,
 *                                       Subject, MIME-Version, Content-*)
 *   bcc: ADDR | [ADDR...]               local@domain, printable ASCII
 *                                       without spaces, <>, quotes, commas;
 *                                       at most 254 bytes, at most 32
 *   log: TEXT                           printable ASCII, at most 200 bytes
 *
 * The lists are kept in a->items (a->nitems), each string allocated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/rules_int.h"

#define HEADER_NAME_MAX 76
#define HEADER_LINE_MAX 998
#define SUBJECT_PREFIX_MAX 256
#define REPLY_TEXT_MAX 400
#define LIST_MAX 32
#define SUBJECT_TAG_MAX 64
#define TEMPLATE_NAME_MAX 64
#define ADDRESS_MAX 254
#define LOG_TEXT_MAX 200

/* Headers that rules may not remove: ours, and the message's structure. */
static const char *const protected_headers[] = {
    RULES_LOOP_HEADER, "From", "To", "Date", "Message-ID", "Subject",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
};

/* rules_text_ok - a string without control characters (see rules_int.h) */
int rules_text_ok(const struct ynode *n, const char *what, size_t max,
                  unsigned flags, struct diag *d)
{
    const unsigned char *p;

    if (n == NULL || n->type != YNODE_SCALAR
        || (ynode_is_null(n) && !(flags & RULES_TEXT_EMPTY))) {
        ynode_error(d, n, "%s: expected a string, not %s", what, ynode_kind(n));
        return -1;
    }
    if (n->len == 0 && !(flags & RULES_TEXT_EMPTY)) {
        ynode_error(d, n, "%s: must not be empty", what);
        return -1;
    }
    if (n->len > max) {
        ynode_error(d, n, "%s: longer than %zu bytes", what, max);
        return -1;
    }
    for (p = (const unsigned char *)n->value; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            ynode_error(d, n, "%s: must not contain CR or LF", what);
            return -1;
        }
        if ((*p < 0x20 && !(*p == '\t' && (flags & RULES_TEXT_TAB))) || *p == 0x7F
            || (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)) {
            ynode_error(d, n, "%s: must not contain control characters", what);
            return -1;
        }
        if (*p >= 0x80 && (flags & RULES_TEXT_ASCII)) {
            ynode_error(d, n, "%s: must be ASCII", what);
            return -1;
        }
    }
    return 0;
}

/* rules_action_clear - release an action's strings */
void rules_action_clear(struct rule_action *a)
{
    free((char *)a->name);
    free((char *)a->value);
    free((char *)a->status);
    free((char *)a->text);
    for (size_t i = 0; i < a->nitems; i++)
        free((char *)a->items[i]);
    free(a->items);
    a->name = a->value = a->status = a->text = NULL;
    a->items = NULL;
    a->nitems = 0;
}

/* act_dup - copy a checked scalar, reporting failure at n */
static const char *act_dup(const struct ynode *n, const char *what, struct diag *d)
{
    char *s = strdup(n->value);

    if (s == NULL)
        ynode_error(d, n, "%s: out of memory", what);
    return s;
}

/* act_header_name_ok - RFC 5322 field name, not ours */
static int act_header_name_ok(const struct ynode *n, const char *what,
                              struct diag *d)
{
    if (!ynode_is_string(n)) {
        ynode_error(d, n, "%s: expected a header name, not %s", what,
                    ynode_kind(n));
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)n->value; ; p++) {
        if (*p == 0 && p != (const unsigned char *)n->value)
            break;
        if (*p < 33 || *p > 126 || *p == ':' || n->len > HEADER_NAME_MAX) {
            ynode_error(d, n, "%s: '%s' is not a valid header name "
                        "(printable ASCII without spaces or colons, at most %d characters)",
                        what, n->value, HEADER_NAME_MAX);
            return -1;
        }
    }
    if (strcasecmp(n->value, RULES_LOOP_HEADER) == 0) {
        ynode_error(d, n, "%s: %s is the gateway's loop protection header "
                    "and cannot be set by rules", what, RULES_LOOP_HEADER);
        return -1;
    }
    return 0;
}

/* act_header_parse - {name, value} for add_header and set_header */
static int act_header_parse(struct rule_action *a, const struct ynode *arg,
                            const char *what, struct diag *d)
{
    static const char *const keys[] = { "name", "value" };
    const struct ynode *name, *value;
    char nwhat[64], vwhat[64];
    int bad = 0;

    if (arg->type != YNODE_MAP) {
        ynode_error(d, arg, "%s: expected a mapping with name and value, not %s",
                    what, ynode_kind(arg));
        return -1;
    }
    if (ymap_check_keys(arg, what, keys, 2, d) > 0)
        bad = 1;
    name = ymap_get(arg, "name");
    value = ymap_get(arg, "value");
    if (name == NULL) {
        ynode_error(d, arg, "%s: missing 'name'", what);
        bad = 1;
    } else if (snprintf(nwhat, sizeof(nwhat), "%s.name", what) > 0
               && act_header_name_ok(name, nwhat, d) < 0) {
        bad = 1;
    }
    snprintf(vwhat, sizeof(vwhat), "%s.value", what);
    if (value == NULL) {
        ynode_error(d, arg, "%s: missing 'value'", what);
        bad = 1;
    } else if (rules_text_ok(value, vwhat, HEADER_LINE_MAX,
                             RULES_TEXT_TAB | RULES_TEXT_EMPTY, d) < 0) {
        bad = 1;
    } else if (name != NULL && !bad && name->len + 2 + value->len > HEADER_LINE_MAX) {
        ynode_error(d, value, "%s: header field longer than %d bytes", what,
                    HEADER_LINE_MAX);
        bad = 1;
    }
    if (bad)
        return -1;
    if ((a->name = act_dup(name, what, d)) == NULL
        || (a->value = act_dup(value, what, d)) == NULL)
        return -1;
    return 0;
}

/* act_add_header_parse - add_header: {name, value} */
static int act_add_header_parse(struct rule_action *a, const struct ynode *arg,
                                struct diag *d)
{
    return act_header_parse(a, arg, "add_header", d);
}

/* act_set_header_parse - set_header: {name, value} */
static int act_set_header_parse(struct rule_action *a, const struct ynode *arg,
                                struct diag *d)
{
    return act_header_parse(a, arg, "set_header", d);
}

/* act_prepend_subject_parse - prepend_subject: TEXT */
static int act_prepend_subject_parse(struct rule_action *a, const struct ynode *arg,
                                     struct diag *d)
{
    if (rules_text_ok(arg, "prepend_subject", SUBJECT_PREFIX_MAX, 0, d) < 0)
        return -1;
    return (a->value = act_dup(arg, "prepend_subject", d)) ? 0 : -1;
}

/* act_status_ok - "C.X.Y" with C the code's class, X and Y 1..3 digits */
static int act_status_ok(const char *s, int code)
{
    int digits;

    if (s[0] != '0' + code / 100 || s[1] != '.')
        return 0;
    s += 2;
    for (int part = 0; part < 2; part++) {
        for (digits = 0; *s >= '0' && *s <= '9'; s++)
            digits++;
        if (digits < 1 || digits > 3)
            return 0;
        if (part == 0 && *s++ != '.')
            return 0;
    }
    return *s == 0;
}

/* act_reject_parse - reject: {code, status, message} */
static int act_reject_parse(struct rule_action *a, const struct ynode *arg,
                            struct diag *d)
{
    static const char *const keys[] = { "code", "status", "message" };
    const struct ynode *code, *status, *msg;
    long long v = 550;
    int bad = 0, code_bad = 0;

    if (arg->type != YNODE_MAP) {
        ynode_error(d, arg, "reject: expected a mapping with code, status and message, not %s",
                    ynode_kind(arg));
        return -1;
    }
    if (ymap_check_keys(arg, "reject", keys, 3, d) > 0)
        bad = 1;
    code = ymap_get(arg, "code");
    status = ymap_get(arg, "status");
    msg = ymap_get(arg, "message");
    if (code != NULL) {
        int r = ynode_int(code, 500, 599, &v);

        if (r == -1)
            ynode_error(d, code, "reject.code: expected a 5xx reply code, not %s",
                        ynode_is_string(code) ? "a string" : ynode_kind(code));
        else if (r == -2)
            ynode_error(d, code, "reject.code: %s is out of range (allowed 500..599)",
                        code->value);
        if (r < 0) {
            bad = code_bad = 1;
            v = 550;
        }
    }
    a->code = (int)v;
    if (status != NULL && !code_bad) {
        if (!ynode_is_string(status)) {
            ynode_error(d, status, "reject.status: expected a status like \"5.7.1\", not %s",
                        ynode_kind(status));
            bad = 1;
        } else if (!act_status_ok(status->value, a->code)) {
            ynode_error(d, status, "reject.status: '%s' is not a valid status for code %d "
                        "(expected %d.X.Y)", status->value, a->code, a->code / 100);
            bad = 1;
        }
    }
    if (msg == NULL) {
        ynode_error(d, arg, "reject: missing 'message'");
        bad = 1;
    } else if (rules_text_ok(msg, "reject.message", REPLY_TEXT_MAX, RULES_TEXT_ASCII, d) < 0) {
        bad = 1;
    }
    if (bad)
        return -1;
    if ((a->status = status ? act_dup(status, "reject", d) : strdup("5.7.1")) == NULL
        || (a->text = act_dup(msg, "reject", d)) == NULL) {
        if (a->status == NULL && status == NULL)
            ynode_error(d, arg, "reject: out of memory");
        return -1;
    }
    return 0;
}

/* act_quarantine_parse - quarantine: REASON */
static int act_quarantine_parse(struct rule_action *a, const struct ynode *arg,
                                struct diag *d)
{
    if (rules_text_ok(arg, "quarantine", REPLY_TEXT_MAX, RULES_TEXT_ASCII, d) < 0)
        return -1;
    return (a->value = act_dup(arg, "quarantine", d)) ? 0 : -1;
}

/* act_list - a string or a list of strings, each checked by ok(); filled
 * into a->items; 0, or -1 after adding errors */
static int act_list(struct rule_action *a, const struct ynode *arg, const char *what,
                    int (*ok)(const struct ynode *n, const char *what, struct diag *d),
                    struct diag *d)
{
    const struct ynode *const *items = &arg;
    size_t n = 1;
    int bad = 0;

    if (arg->type == YNODE_SEQ) {
        items = (const struct ynode *const *)arg->items;
        n = arg->n;
        if (n == 0) {
            ynode_error(d, arg, "%s: the list is empty", what);
            return -1;
        }
        if (n > LIST_MAX) {
            ynode_error(d, arg, "%s: more than %d items", what, LIST_MAX);
            return -1;
        }
    } else if (arg->type != YNODE_SCALAR || ynode_is_null(arg)) {
        ynode_error(d, arg, "%s: expected a string or a list of strings, not %s", what,
                    ynode_kind(arg));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (ok(items[i], what, d) < 0) {
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (ynode_is_string(items[j]) && strcasecmp(items[j]->value, items[i]->value) == 0) {
                ynode_error(d, items[i], "%s: '%s' is listed twice", what, items[i]->value);
                bad = 1;
                break;
            }
        }
    }
    if (bad)
        return -1;
    if ((a->items = calloc(n, sizeof(*a->items))) == NULL) {
        ynode_error(d, arg, "%s: out of memory", what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((a->items[i] = act_dup(items[i], what, d)) == NULL)
            return -1;
        a->nitems++;
    }
    return 0;
}

/* act_tag_ok - one subject tag: text, not only white space */
static int act_tag_ok(const struct ynode *n, const char *what, struct diag *d)
{
    if (rules_text_ok(n, what, SUBJECT_TAG_MAX, 0, d) < 0)
        return -1;
    if (strspn(n->value, " \t") == n->len) {
        ynode_error(d, n, "%s: a tag must not be only white space", what);
        return -1;
    }
    return 0;
}

/* act_remove_subject_tag_parse - remove_subject_tag: TAG or [TAG, ...] */
static int act_remove_subject_tag_parse(struct rule_action *a, const struct ynode *arg,
                                        struct diag *d)
{
    return act_list(a, arg, "remove_subject_tag", act_tag_ok, d);
}

/* act_removable_ok - a header name that rules may remove */
static int act_removable_ok(const struct ynode *n, const char *what, struct diag *d)
{
    if (!ynode_is_string(n)) {
        ynode_error(d, n, "%s: expected a header name, not %s", what, ynode_kind(n));
        return -1;
    }
    for (size_t i = 0; i < sizeof(protected_headers) / sizeof(protected_headers[0]); i++) {
        if (strcasecmp(n->value, protected_headers[i]) == 0) {
            ynode_error(d, n, "%s: %s cannot be removed by rules (%s)", what, n->value,
                        i == 0 ? "it is the gateway's loop protection header"
                        : "the message needs it");
            return -1;
        }
    }
    return act_header_name_ok(n, what, d);
}

/* act_remove_header_parse - remove_header: NAME or [NAME, ...] */
static int act_remove_header_parse(struct rule_action *a, const struct ynode *arg,
                                   struct diag *d)
{
    return act_list(a, arg, "remove_header", act_removable_ok, d);
}

/* act_domain_ok - dot-separated labels of letters, digits and '-' */
static int act_domain_ok(const char *s)
{
    size_t label = 0;

    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
                   || (*s >= '0' && *s <= '9') || *s == '-') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* act_address_ok - local@domain for bcc */
static int act_address_ok(const struct ynode *n, const char *what, struct diag *d)
{
    const char *at;

    if (!ynode_is_string(n)) {
        ynode_error(d, n, "%s: expected an address, not %s", what, ynode_kind(n));
        return -1;
    }
    at = strrchr(n->value, '@');
    if (n->len > ADDRESS_MAX || at == NULL || at == n->value
        || strcspn(n->value, " \t<>()[]\",;:\\") != n->len || !act_domain_ok(at + 1)) {
        ynode_error(d, n, "%s: '%s' is not a valid address (local@domain, at most %d "
                    "characters, no spaces, quotes, brackets, commas or control characters)",
                    what, n->value, ADDRESS_MAX);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)n->value; p < (const unsigned char *)at; p++) {
        if (*p <= 0x20 || *p >= 0x7F || *p == '@') {
            ynode_error(d, n, "%s: '%s' is not a valid address (local@domain, at most %d "
                        "characters, no spaces, quotes, brackets, commas or control characters)",
                        what, n->value, ADDRESS_MAX);
            return -1;
        }
    }
    return 0;
}

/* act_bcc_parse - bcc: ADDR or [ADDR, ...] */
static int act_bcc_parse(struct rule_action *a, const struct ynode *arg, struct diag *d)
{
    return act_list(a, arg, "bcc", act_address_ok, d);
}

/* act_log_parse - log: TEXT */
static int act_log_parse(struct rule_action *a, const struct ynode *arg, struct diag *d)
{
    if (rules_text_ok(arg, "log", LOG_TEXT_MAX, RULES_TEXT_ASCII, d) < 0)
        return -1;
    return (a->value = act_dup(arg, "log", d)) ? 0 : -1;
}

/* act_encrypt_parse - encrypt: {} or {template: NAME} */
static int act_encrypt_parse(struct rule_action *a, const struct ynode *arg,
                             struct diag *d)
{
    static const char *const keys[] = { "template" };
    const struct ynode *t;

    if (arg->type != YNODE_MAP) {
        ynode_error(d, arg, "encrypt: expected a mapping ({} or {template: NAME}), not %s",
                    ynode_kind(arg));
        return -1;
    }
    if (ymap_check_keys(arg, "encrypt", keys, 1, d) > 0)
        return -1;
    if ((t = ymap_get(arg, "template")) == NULL)
        return 0;
    if (!ynode_is_string(t) || t->len == 0 || t->len > TEMPLATE_NAME_MAX
        || strspn(t->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789._-") != t->len) {
        ynode_error(d, t, "encrypt.template: expected a template name (letters, digits, "
                    "'.', '_', '-', at most %d characters)", TEMPLATE_NAME_MAX);
        return -1;
    }
    return (a->value = act_dup(t, "encrypt", d)) ? 0 : -1;
}

const struct rules_action_kind rules_action_kinds[] = {
    { "add_header", ACT_ADD_HEADER, 0, act_add_header_parse },
    { "set_header", ACT_SET_HEADER, 0, act_set_header_parse },
    { "remove_header", ACT_REMOVE_HEADER, 0, act_remove_header_parse },
    { "remove_subject_tag", ACT_REMOVE_SUBJECT_TAG, 0, act_remove_subject_tag_parse },
    { "prepend_subject", ACT_PREPEND_SUBJECT, 0, act_prepend_subject_parse },
    { "reject", ACT_REJECT, 1, act_reject_parse },
    { "quarantine", ACT_QUARANTINE, 1, act_quarantine_parse },
    { "encrypt", ACT_ENCRYPT, 1, act_encrypt_parse },
    { "bcc", ACT_BCC, 0, act_bcc_parse },
    { "log", ACT_LOG, 0, act_log_parse },
};
const size_t rules_naction_kinds = sizeof(rules_action_kinds) / sizeof(rules_action_kinds[0]);

/* rules_action_name - the YAML name of an action kind */
const char *rules_action_name(enum rule_action_kind kind)
{
    for (size_t i = 0; i < rules_naction_kinds; i++)
        if (rules_action_kinds[i].kind == kind)
            return rules_action_kinds[i].name;
    return "?";
}
