/*
 * rules_cond_sens - the sensitive_info condition and the sensitive_types
 * declarations of a rules file: the rule language's side of the detector
 * engine (sensitive.h).  Table entry in rules_cond.c; the scan side (text
 * pushed to the engine while the model is built) is in rules_scan.c.
 *
 *   sensitive_info: ITEM | [ITEM, ...]
 *     ITEM: {type: NAME, min_count: N, min_confidence: low|high,
 *            keywords: [WORD, ...], proximity: CHARS}
 *       holds when any item holds: at least min_count (default 1) matches
 *       of the type at min_confidence (default low) or higher.  keywords
 *       absent: the type's own; []: none (the item never reaches high).
 *       proximity: 0..SENS_MAX_PROXIMITY (default the type's: 300).
 *   sensitive_types: {NAME: {pattern: PCRE2, validator: NAME,
 *                            keywords: [...], proximity: N}, ...}
 *       (top level of a rules file) custom types, visible to every file.
 *
 * Loading is in two steps because a rule may name a custom type declared
 * in a later file: rules_sens_declare() compiles each file's declarations
 * at once into the ruleset's one sens_set (bad patterns, duplicates and
 * clashes with built-in names reported at their node), and the condition
 * parser only checks its items; rules_sens_finish(), after every file,
 * adds each item of every loaded rule to the set as one entry (unknown
 * types reported at the item's type, with did-you-mean and the known
 * types) and compiles the set.  Keywords, given or declared, are stored
 * in text_norm() form, the form of the text they are searched in.
 *
 * Evaluation reads the scan's sens_scan (rules_scan_sens()): TRUE when an
 * item holds; else UNKNOWN when the text was cut (MSG_INC_SCAN, _DEPTH,
 * _PARTS, _SIZE, _OPAQUE) or a custom pattern hit its match limit (no bit), else
 * FALSE.  Explanations name the type, the count, the confidence and the
 * engine's redacted excerpts (never whole values).
 *
 * Ownership: the condition's data (struct sens_cond) is released by
 * cond_sens_free(); the set belongs to the ruleset (rules_free()); the
 * declaration list to the loader (rules_sens_types_free()).  Parsers report
 * every problem and return -1; only ENOMEM fails otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_cond_int.h"
#include "rules/sensitive.h"
#include "rules/text_norm.h"

#define SENS_CUT (MSG_INC_SCAN | MSG_INC_DEPTH | MSG_INC_PARTS | MSG_INC_SIZE | \
                  MSG_INC_OPAQUE)
#define SENS_MAX_COUNT 1000000
#define SENS_MAX_ITEMS SENS_MAX_ENTRIES

/* One item of a sensitive_info condition. */
struct sens_item {
    char *type;
    char **kw;                /* normalised keywords; NULL with !has_kw: the type's */
    size_t nkw;
    int has_kw;
    long proximity;           /* -1: the type's default */
    size_t min_count;
    enum sens_conf min_conf;
    long entry;               /* the set's entry, -1 until rules_sens_finish() */
    char *file;               /* where type is written, for rules_sens_finish() */
    unsigned line, col;
};

struct sens_cond {
    struct sens_item *items;
    size_t n;
};

/* One declared custom type, for duplicates and the list of known types. */
struct sens_decl {
    char *name;
    char *file;
    unsigned line, col;
    int ok;                   /* declared in the set (else its declaration was bad) */
};

struct rules_sens_types {
    struct sens_decl *decl;
    size_t n;
};

/* free_words - release n strings and their array */
static void free_words(char **w, size_t n)
{
    for (size_t i = 0; w != NULL && i < n; i++)
        free(w[i]);
    free(w);
}

/* cond_sens_free - release a sensitive_info condition */
void cond_sens_free(struct rule_cond *c)
{
    struct sens_cond *s = c->data;

    if (s != NULL) {
        for (size_t i = 0; i < s->n; i++) {
            free(s->items[i].type);
            free_words(s->items[i].kw, s->items[i].nkw);
            free(s->items[i].file);
        }
        free(s->items);
        free(s);
    }
    c->data = NULL;
}

/* sens_name_ok - type names: letters, digits, '_', '-', '.' */
static int sens_name_ok(const char *s, size_t len)
{
    if (len == 0 || len >= SENS_MAX_NAME)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* sens_keyword - one keyword node in normal form into *out; 0 or -1
 * after reporting */
static int sens_keyword(const char *what, const struct ynode *n, char **out,
                        struct diag *d)
{
    struct buf b = BUF_INIT(4 * SENS_MAX_KEYWORD_LEN);
    size_t alnum = 0;

    *out = NULL;
    if (rules_text_ok(n, what, SENS_MAX_KEYWORD_LEN, RULES_TEXT_TAB, d) < 0)
        return -1;
    if (text_norm(n->value, n->len, &b) < 0) {
        if (errno == ENOMEM)
            ynode_error(d, n, "%s: out of memory", what);
        else
            ynode_error(d, n, "%s: keyword too long", what);
        return -1;
    }
    for (size_t i = 0; i < b.len; i++) {
        unsigned char ch = (unsigned char)buf_str(&b)[i];

        if (ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')
            || (ch >= 'A' && ch <= 'Z'))
            alnum++;
    }
    if (alnum == 0) {
        ynode_error(d, n, "%s: keyword '%s' has no letters or digits", what, n->value);
        buf_free(&b);
        return -1;
    }
    if (b.len > SENS_MAX_KEYWORD_LEN) {
        ynode_error(d, n, "%s: keyword too long (at most %d bytes in normal form)", what,
                    SENS_MAX_KEYWORD_LEN);
        buf_free(&b);
        return -1;
    }
    if ((*out = buf_steal(&b)) == NULL) {
        ynode_error(d, n, "%s: out of memory", what);
        return -1;
    }
    return 0;
}

/* sens_keywords - keywords: a word or a list of words (maybe empty) into
 * *kw / *nkw; 0 or -1 after reporting */
static int sens_keywords(const char *what, const struct ynode *v, char ***kw, size_t *nkw,
                         struct diag *d)
{
    const struct ynode *const *items = &v;
    size_t n = 1;
    int bad = 0;

    *kw = NULL;
    *nkw = 0;
    if (v->type == YNODE_SEQ) {
        items = (const struct ynode *const *)v->items;
        n = v->n;
    } else if (v->type != YNODE_SCALAR || ynode_is_null(v)) {
        ynode_error(d, v, "%s: expected a list of words, not %s", what, ynode_kind(v));
        return -1;
    }
    if (n > SENS_MAX_KEYWORDS) {
        ynode_error(d, v, "%s: more than %d keywords", what, SENS_MAX_KEYWORDS);
        return -1;
    }
    if (n > 0 && (*kw = calloc(n, sizeof(**kw))) == NULL) {
        ynode_error(d, v, "%s: out of memory", what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (sens_keyword(what, items[i], &(*kw)[*nkw], d) < 0)
            bad = 1;
        else
            (*nkw)++;
    }
    if (bad) {
        free_words(*kw, *nkw);
        *kw = NULL;
        *nkw = 0;
        return -1;
    }
    return 0;
}

/* sens_proximity - proximity: 0..SENS_MAX_PROXIMITY; 0 or -1 after reporting */
static int sens_proximity(const char *what, const struct ynode *v, long *out, struct diag *d)
{
    long long n;
    int r = ynode_int(v, 0, SENS_MAX_PROXIMITY, &n);

    if (r == 0) {
        *out = (long)n;
        return 0;
    }
    if (r == -2)
        ynode_error(d, v, "%s: %s is out of range (allowed 0..%d)", what, v->value,
                    SENS_MAX_PROXIMITY);
    else if (v->type == YNODE_SCALAR)
        ynode_error(d, v, "%s: expected a number of characters, not '%s'", what, v->value);
    else
        ynode_error(d, v, "%s: expected a number of characters, not %s", what, ynode_kind(v));
    return -1;
}

/* sens_item_parse - one item mapping; 0 or -1 after reporting */
static int sens_item_parse(struct sens_item *it, const struct ynode *n, struct diag *d)
{
    static const char *const keys[] = {
        "type", "min_count", "min_confidence", "keywords", "proximity",
    };
    const struct ynode *v;
    int bad = 0;

    it->proximity = -1;
    it->min_count = 1;
    it->min_conf = SENS_LOW;
    it->entry = -1;
    if (n->type != YNODE_MAP) {
        ynode_error(d, n, "sensitive_info: expected {type: NAME, ...}, not %s", ynode_kind(n));
        return -1;
    }
    if (ymap_check_keys(n, "sensitive_info", keys, sizeof(keys) / sizeof(keys[0]), d) > 0)
        bad = 1;
    if ((v = ymap_get(n, "type")) == NULL) {
        ynode_error(d, n, "sensitive_info: item is missing 'type'");
        bad = 1;
    } else if (!ynode_is_string(v) || !sens_name_ok(v->value, v->len)) {
        if (v->type == YNODE_SCALAR)
            ynode_error(d, v, "sensitive_info: type: '%s' is not a type name", v->value);
        else
            ynode_error(d, v, "sensitive_info: type: expected a type name, not %s",
                        ynode_kind(v));
        bad = 1;
    } else if ((it->type = strdup(v->value)) == NULL || (it->file = strdup(v->file)) == NULL) {
        ynode_error(d, v, "sensitive_info: out of memory");
        bad = 1;
    } else {
        it->line = v->line;
        it->col = v->col;
    }
    if ((v = ymap_get(n, "min_count")) != NULL) {
        long long c;
        int r = ynode_int(v, 1, SENS_MAX_COUNT, &c);

        if (r == 0) {
            it->min_count = (size_t)c;
        } else {
            if (r == -2)
                ynode_error(d, v, "sensitive_info: min_count: %s is out of range (allowed 1..%d)",
                            v->value, SENS_MAX_COUNT);
            else if (v->type == YNODE_SCALAR)
                ynode_error(d, v, "sensitive_info: min_count: expected a number, not '%s'",
                            v->value);
            else
                ynode_error(d, v, "sensitive_info: min_count: expected a number, not %s",
                            ynode_kind(v));
            bad = 1;
        }
    }
    if ((v = ymap_get(n, "min_confidence")) != NULL) {
        if (ynode_is_string(v) && strcmp(v->value, "low") == 0) {
            it->min_conf = SENS_LOW;
        } else if (ynode_is_string(v) && strcmp(v->value, "high") == 0) {
            it->min_conf = SENS_HIGH;
        } else {
            if (v->type == YNODE_SCALAR)
                ynode_error(d, v, "sensitive_info: min_confidence: expected low or high, not '%s'",
                            v->value);
            else
                ynode_error(d, v, "sensitive_info: min_confidence: expected low or high, not %s",
                            ynode_kind(v));
            bad = 1;
        }
    }
    if ((v = ymap_get(n, "keywords")) != NULL) {
        if (sens_keywords("sensitive_info: keywords", v, &it->kw, &it->nkw, d) < 0)
            bad = 1;
        else
            it->has_kw = 1;
    }
    if ((v = ymap_get(n, "proximity")) != NULL
        && sens_proximity("sensitive_info: proximity", v, &it->proximity, d) < 0)
        bad = 1;
    return bad ? -1 : 0;
}

/* cond_sens_parse - an item or a non-empty list of items */
int cond_sens_parse(struct rule_cond *c, const struct ynode *arg, struct diag *d)
{
    const struct ynode *const *items = &arg;
    size_t n = 1;
    struct sens_cond *s;
    int bad = 0;

    if (arg->type == YNODE_SEQ) {
        items = (const struct ynode *const *)arg->items;
        n = arg->n;
        if (n == 0) {
            ynode_error(d, arg, "sensitive_info: expected at least one item");
            return -1;
        }
        if (n > SENS_MAX_ITEMS) {
            ynode_error(d, arg, "sensitive_info: more than %d items", SENS_MAX_ITEMS);
            return -1;
        }
    }
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->items = calloc(n, sizeof(*s->items))) == NULL) {
        free(s);
        ynode_error(d, arg, "sensitive_info: out of memory");
        return -1;
    }
    c->data = s;
    s->n = n;
    for (size_t i = 0; i < n; i++)
        if (sens_item_parse(&s->items[i], items[i], d) < 0)
            bad = 1;
    return bad ? -1 : 0;
}

/* rules_cond_is_sens - is c a sensitive_info condition? */
int rules_cond_is_sens(const struct rule_cond *c)
{
    return c->kind != NULL && c->kind->free == cond_sens_free;
}

/* cond_sens_eval - does an item hold? */
enum rules_tri cond_sens_eval(const struct rule_cond *c, struct rules_ctx *ctx, unsigned *inc)
{
    const struct sens_cond *s = c->data;
    const struct sens_scan *ss = NULL;
    enum rules_tri t;

    if (rules_scan_sens(ctx->scan, &ss) < 0) {
        ctx->fault = errno ? errno : ENOMEM;
        return TRI_FALSE;
    }
    for (size_t i = 0; ss != NULL && i < s->n; i++)
        if (s->items[i].entry >= 0
            && sens_scan_holds(ss, (size_t)s->items[i].entry, s->items[i].min_count,
                               s->items[i].min_conf))
            return TRI_TRUE;
    t = rules_ctx_unknown(ctx, SENS_CUT, inc);
    if (t == TRI_FALSE && ss != NULL && sens_scan_truncated(ss))
        t = TRI_UNKNOWN;
    return t;
}

/* cond_sens_explain - for each item that holds: "TYPE: N found, H at high
 * confidence: EXCERPT (low|high), ..." with the engine's redacted excerpts;
 * items that do not fit are left out ("...") */
int cond_sens_explain(const struct rule_cond *c, struct rules_ctx *ctx, struct buf *out)
{
    const struct sens_cond *s = c->data;
    const struct sens_scan *ss = NULL;
    int first = 1;

    if (rules_scan_sens(ctx->scan, &ss) < 0)
        return -1;
    if (ss == NULL)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct sens_item *it = &s->items[i];
        struct buf one = BUF_INIT(RULES_EXCERPT_MAX / 2);
        size_t e, nex;

        if (it->entry < 0)
            continue;
        e = (size_t)it->entry;
        if (!sens_scan_holds(ss, e, it->min_count, it->min_conf))
            continue;
        nex = sens_scan_excerpts(ss, e);
        if (buf_printf(&one, "%s%s: %zu found, %zu at high confidence:", first ? "" : "; ",
                       it->type, sens_scan_count_min(ss, e, SENS_LOW),
                       sens_scan_count(ss, e, SENS_HIGH)) < 0) {
            buf_free(&one);
            return -1;
        }
        for (size_t k = 0; k < nex; k++) {
            enum sens_conf conf = SENS_LOW;
            const char *ex = sens_scan_excerpt(ss, e, k, &conf);

            if (ex != NULL && buf_printf(&one, "%s %s (%s)", k ? "," : "", ex,
                                         conf == SENS_HIGH ? "high" : "low") < 0) {
                buf_free(&one);
                return -1;
            }
        }
        if (out->len + one.len + 5 > out->max) {
            buf_free(&one);
            return buf_adds(out, first ? "..." : "; ...");
        }
        if (buf_add(out, buf_str(&one), one.len) < 0) {
            buf_free(&one);
            return -1;
        }
        buf_free(&one);
        first = 0;
    }
    return 0;
}

/* rules_sens_types_free - release the declaration list */
void rules_sens_types_free(struct rules_sens_types *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->decl[i].name);
        free(st->decl[i].file);
    }
    free(st->decl);
    free(st);
}

/* sens_builtin_known - is name a built-in type? */
static int sens_builtin_known(const char *name)
{
    for (size_t i = 0; sens_builtin_name(i) != NULL; i++)
        if (strcmp(sens_builtin_name(i), name) == 0)
            return 1;
    return 0;
}

/* sens_remember - note a declaration; its index, or -1 (ENOMEM) */
static long sens_remember(struct rules_sens_types *st, const struct ynode *k)
{
    struct sens_decl *p = realloc(st->decl, (st->n + 1) * sizeof(*p));

    if (p == NULL)
        return -1;
    st->decl = p;
    p = &st->decl[st->n];
    memset(p, 0, sizeof(*p));
    p->name = strdup(k->value);
    p->file = strdup(k->file);
    if (p->name == NULL || p->file == NULL) {
        free(p->name);
        free(p->file);
        return -1;
    }
    p->line = k->line;
    p->col = k->col;
    return (long)st->n++;
}

/* sens_pattern_error - report a pattern compile error near its offset:
 * the column of the pattern scalar plus the offset (plus the opening quote
 * of a quoted scalar), which is exact for a plain or single-quoted pattern
 * on one line without escapes, approximate otherwise; a block scalar is
 * reported at its start */
static void sens_pattern_error(const struct ynode *p, const struct sens_error *err,
                               struct diag *d)
{
    unsigned col = p->col;

    if (err->offset >= 0 && err->offset < 100000) {
        if (p->style == YSTYLE_PLAIN)
            col = p->col + (unsigned)err->offset;
        else if (p->style == YSTYLE_SINGLE || p->style == YSTYLE_DOUBLE)
            col = p->col + 1 + (unsigned)err->offset;
    }
    if (err->offset >= 0)
        diag_add(d, p->file, p->line, col, "sensitive_types: %s (at offset %ld)", err->msg,
                 err->offset);
    else
        diag_add(d, p->file, p->line, col, "sensitive_types: %s", err->msg);
}

/* sens_declare_one - one NAME: {pattern, validator, keywords, proximity};
 * 0 or -1 after reporting */
static int sens_declare_one(struct rules_sens_types *st, struct ruleset *rs,
                            const struct ynode *k, const struct ynode *v, struct diag *d)
{
    static const char *const keys[] = { "pattern", "validator", "keywords", "proximity" };
    const struct ynode *pat, *val, *kwn, *prox;
    const char *validator = NULL;
    char **kw = NULL;
    size_t nkw = 0;
    long proximity = -1, idx;
    int bad = 0;
    struct sens_error err;

    if (!ynode_is_string(k) || !sens_name_ok(k->value, k->len)) {
        ynode_error(d, k, "sensitive_types: '%s' is not a valid type name (letters, digits, "
                    "'.', '_' and '-', at most %d characters)", k->value, SENS_MAX_NAME - 1);
        return -1;
    }
    if (sens_builtin_known(k->value)) {
        ynode_error(d, k, "sensitive_types: '%s' is a built-in type", k->value);
        return -1;
    }
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->decl[i].name, k->value) == 0) {
            ynode_error(d, k, "sensitive_types: duplicate type '%s' (first declared at %s:%u:%u)",
                        k->value, st->decl[i].file, st->decl[i].line, st->decl[i].col);
            return -1;
        }
    if ((idx = sens_remember(st, k)) < 0) {
        ynode_error(d, k, "sensitive_types: out of memory");
        return -1;
    }
    if (v->type != YNODE_MAP) {
        ynode_error(d, v, "sensitive_types: %s: expected {pattern: ..., validator: ...}, not %s",
                    k->value, ynode_kind(v));
        return -1;
    }
    if (ymap_check_keys(v, "sensitive_types", keys, sizeof(keys) / sizeof(keys[0]), d) > 0)
        bad = 1;
    if ((pat = ymap_get(v, "pattern")) == NULL) {
        ynode_error(d, v, "sensitive_types: %s: missing 'pattern'", k->value);
        bad = 1;
    } else if (!ynode_is_string(pat)) {
        ynode_error(d, pat, "sensitive_types: %s: pattern: expected a PCRE2 pattern, not %s",
                    k->value, ynode_kind(pat));
        bad = 1;
    } else if (pat->len > SENS_MAX_PATTERN) {
        ynode_error(d, pat, "sensitive_types: %s: pattern longer than %d bytes", k->value,
                    SENS_MAX_PATTERN);
        bad = 1;
    }
    if ((val = ymap_get(v, "validator")) != NULL) {
        if (ynode_is_string(val) && sens_validator_known(val->value)) {
            validator = val->value;
        } else {
            ynode_error(d, val, "sensitive_types: %s: unknown validator %s%s%s (allowed: none, "
                        "luhn, credit_card, mod97, iban, us_ssn, mod11_10, de_tax_id, "
                        "aba_routing)", k->value, val->type == YNODE_SCALAR ? "'" : "",
                        val->type == YNODE_SCALAR ? val->value : ynode_kind(val),
                        val->type == YNODE_SCALAR ? "'" : "");
            bad = 1;
        }
    }
    if ((kwn = ymap_get(v, "keywords")) != NULL
        && sens_keywords("sensitive_types: keywords", kwn, &kw, &nkw, d) < 0)
        bad = 1;
    if ((prox = ymap_get(v, "proximity")) != NULL
        && sens_proximity("sensitive_types: proximity", prox, &proximity, d) < 0)
        bad = 1;
    if (!bad && rs->sens == NULL && (rs->sens = sens_set_new()) == NULL) {
        ynode_error(d, k, "sensitive_types: out of memory");
        bad = 1;
    }
    if (!bad && sens_set_custom(rs->sens, k->value, pat->value, validator,
                                (const char *const *)kw, nkw, proximity, &err) < 0) {
        if (errno == EINVAL && err.offset >= 0)
            sens_pattern_error(pat, &err, d);
        else
            ynode_error(d, errno == E2BIG && kwn != NULL ? kwn : k, "sensitive_types: %s: %s",
                        k->value, err.msg);
        bad = 1;
    }
    free_words(kw, nkw);
    if (bad)
        return -1;
    st->decl[idx].ok = 1;
    return 0;
}

/* rules_sens_declare - the sensitive_types: mapping of one file; 0, or -1
 * after reporting */
int rules_sens_declare(struct rules_sens_types **stp, struct ruleset *rs,
                       const struct ynode *map, struct diag *d)
{
    int bad = 0;

    if (ynode_is_null(map))
        return 0;
    if (map->type != YNODE_MAP) {
        ynode_error(d, map, "sensitive_types: expected a mapping of type names, not %s",
                    ynode_kind(map));
        return -1;
    }
    if (*stp == NULL && (*stp = calloc(1, sizeof(**stp))) == NULL) {
        ynode_error(d, map, "sensitive_types: out of memory");
        return -1;
    }
    for (size_t i = 0; i < map->n; i++)
        if (sens_declare_one(*stp, rs, map->keys[i], map->items[i], d) < 0)
            bad = 1;
    return bad ? -1 : 0;
}

/* sens_unknown - report an unknown type with did-you-mean and the known
 * types, unless it was declared with an error (already reported) */
static void sens_unknown(const struct rules_sens_types *st, const struct sens_item *it,
                         struct diag *d)
{
    const char *names[SENS_MAX_CUSTOM + 16];
    size_t n = 0, best;
    struct buf b = BUF_INIT(4096);

    for (size_t i = 0; st != NULL && i < st->n; i++)
        if (strcmp(st->decl[i].name, it->type) == 0)
            return;
    for (size_t i = 0; sens_builtin_name(i) != NULL && n < 16; i++)
        names[n++] = sens_builtin_name(i);
    for (size_t i = 0; st != NULL && i < st->n && n < sizeof(names) / sizeof(names[0]); i++)
        if (st->decl[i].ok)
            names[n++] = st->decl[i].name;
    best = yclosest(it->type, names, n);
    if (best != YCLOSEST_NONE && buf_printf(&b, " (did you mean '%s'?)", names[best]) < 0)
        buf_free(&b);
    for (size_t i = 0; i < n; i++)
        if (buf_printf(&b, "%s%s", i ? ", " : "; known types: ", names[i]) < 0)
            break;
    diag_add(d, it->file, it->line, it->col, "sensitive_info: unknown type '%s'%s", it->type,
             buf_str(&b));
    buf_free(&b);
}

/* sens_add_conds - add the items of the sensitive_info conditions among
 * conds to the set; 0, or -1 after reporting */
static int sens_add_conds(const struct rules_sens_types *st, struct ruleset *rs,
                          const struct rule_cond *conds, size_t n, struct diag *d)
{
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        struct sens_cond *s;

        if (!rules_cond_is_sens(&conds[i]))
            continue;
        s = conds[i].data;
        for (size_t j = 0; j < s->n; j++) {
            struct sens_item *it = &s->items[j];
            struct sens_error err;

            static const char *const none[1] = { NULL };
            const char *const *kw = it->kw != NULL ? (const char *const *)it->kw : none;

            it->entry = sens_set_add(rs->sens, it->type, it->has_kw ? kw : NULL, it->nkw,
                                     it->proximity, &err);
            if (it->entry >= 0)
                continue;
            if (errno == ENOENT)
                sens_unknown(st, it, d);
            else
                diag_add(d, it->file, it->line, it->col, "sensitive_info: %s", err.msg);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* sens_rules_uses - does some rule have a sensitive_info condition? */
static int sens_rules_uses(const struct ruleset *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->rules[i];

        for (size_t k = 0; k < r->nconds; k++)
            if (rules_cond_is_sens(&r->conds[k]))
                return 1;
        for (size_t g = 0; g < r->nany; g++)
            for (size_t k = 0; k < r->any[g].nconds; k++)
                if (rules_cond_is_sens(&r->any[g].conds[k]))
                    return 1;
        for (size_t k = 0; k < r->nunless; k++)
            if (rules_cond_is_sens(&r->unless[k]))
                return 1;
    }
    return 0;
}

/* rules_sens_finish - add every sensitive_info item of the loaded rules to
 * the ruleset's set and compile it (no set when no rule uses one); 0, or
 * -1 after reporting (path names the ruleset for errors without a
 * position) */
int rules_sens_finish(const struct rules_sens_types *st, struct ruleset *rs, const char *path,
                      struct diag *d)
{
    struct sens_error err;
    int bad = 0;

    if (!sens_rules_uses(rs)) {
        sens_set_free(rs->sens);
        rs->sens = NULL;
        return 0;
    }
    if (rs->sens == NULL && (rs->sens = sens_set_new()) == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->rules[i];

        if (sens_add_conds(st, rs, r->conds, r->nconds, d) < 0)
            bad = 1;
        for (size_t g = 0; g < r->nany; g++)
            if (sens_add_conds(st, rs, r->any[g].conds, r->any[g].nconds, d) < 0)
                bad = 1;
        if (sens_add_conds(st, rs, r->unless, r->nunless, d) < 0)
            bad = 1;
    }
    if (!bad && sens_set_compile(rs->sens, &err) < 0) {
        diag_add(d, path, 0, 0, "sensitive_info: %s", err.msg);
        bad = 1;
    }
    return bad ? -1 : 0;
}
