/*
 * rules_load - rules files (or a directory of them) into a compiled,
 * sorted ruleset (see rules.h for the contract, rules_int.h for the
 * structures).
 *
 * Each file is read with yaml_tree (which caps size, depth and node count
 * and refuses aliases), then checked rule by rule; every problem is added
 * to the diag at its FILE:LINE:COLUMN and loading goes on, so one run
 * shows all of them.  Rule names must be unique across all files, checked
 * once at the end by sorting (n log n).  The ruleset is returned only when
 * nothing was wrong; it owns every string, and rules_free() releases it.
 * A rule needs if: or if_any: (or both); unless: and active: are optional
 * (dates: rules_date.c).  A file may also declare custom sensitive data
 * types under sensitive_types: (then rules: may be left out); they are
 * visible to the rules of every file, and the sensitive_info items of all
 * rules are resolved against them once every file is loaded
 * (rules_cond_sens.c).
 * Defaults: enabled true, priority 100 (RULES_DEFAULT_PRIORITY; range
 * 0..1000000, lower first, ties in load order), mode enforce, stop false.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rules/keyword.h"
#include "rules/re_prefilter.h"
#include "rules/rules_cond_int.h"
#include "rules/sensitive.h"

struct rules_name {
    char *name;
    char *file;
    unsigned line, col;
    size_t seq;               /* order of appearance */
};

struct rules_loader {
    struct ruleset *rs;
    struct diag *d;
    int bad;                  /* a problem was reported */
    size_t seq;
    struct rules_name *names; /* every rule name seen, for duplicates */
    size_t nnames, capnames;
    struct rules_sens_types *sens_types;  /* sensitive_types: declared so far */
};

static const char *const rule_keys[] = {
    "name", "description", "enabled", "priority", "mode", "stop", "if", "if_any", "unless",
    "active", "then",
};
#define NRULE_KEYS (sizeof(rule_keys) / sizeof(rule_keys[0]))

/* rule_clear - release everything a rule owns */
static void rule_clear(struct rule *r)
{
    for (size_t i = 0; i < r->nconds; i++)
        if (r->conds[i].kind && r->conds[i].kind->free)
            r->conds[i].kind->free(&r->conds[i]);
    free(r->conds);
    for (size_t g = 0; g < r->nany; g++) {
        for (size_t i = 0; i < r->any[g].nconds; i++)
            if (r->any[g].conds[i].kind && r->any[g].conds[i].kind->free)
                r->any[g].conds[i].kind->free(&r->any[g].conds[i]);
        free(r->any[g].conds);
    }
    free(r->any);
    for (size_t i = 0; i < r->nunless; i++)
        if (r->unless[i].kind && r->unless[i].kind->free)
            r->unless[i].kind->free(&r->unless[i]);
    free(r->unless);
    for (size_t i = 0; i < r->nactions; i++)
        rules_action_clear(&r->actions[i]);
    free(r->actions);
    free(r->name);
    free(r->description);
    free(r->file);
    memset(r, 0, sizeof(*r));
}

/* rules_free - release a ruleset */
void rules_free(struct ruleset *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rule_clear(&rs->rules[i]);
    free(rs->rules);
    rules_re_context_free(rs->re_mctx);
    free(rs->scan_conds);
    free(rs->scan_re);
    kw_multi_free(rs->kw_text);
    kw_multi_free(rs->kw_subject);
    re_pre_free(rs->re_pre);
    sens_set_free(rs->sens);
    rules_scratch_pool_free(rs->pool);
    free(rs);
}

/* rules_check_templates - the templates the encrypt actions name exist */
int rules_check_templates(const struct ruleset *rs, int (*known)(void *arg, const char *name),
                          void *arg, struct diag *d)
{
    int bad = 0;

    for (size_t i = 0; rs != NULL && i < rs->n; i++) {
        const struct rule *r = &rs->rules[i];

        for (size_t a = 0; a < r->nactions; a++)
            if (r->actions[a].kind == ACT_ENCRYPT && r->actions[a].value != NULL
                && !known(arg, r->actions[a].value)) {
                diag_add(d, r->file, r->line, r->col,
                         "rule '%s': encrypt.template '%s' is not defined under templates: "
                         "in the configuration", r->name, r->actions[a].value);
                bad = 1;
            }
    }
    return bad ? -1 : 0;
}

/* rules_count - number of rules (enabled or not) */
size_t rules_count(const struct ruleset *rs)
{
    return rs ? rs->n : 0;
}

/* rules_rule_at - name of the i-th rule and where that name is written */
int rules_rule_at(const struct ruleset *rs, size_t i, const char **name,
                  const char **file, unsigned *line, unsigned *col)
{
    if (rs == NULL || i >= rs->n)
        return -1;
    *name = rs->rules[i].name;
    *file = rs->rules[i].file;
    *line = rs->rules[i].name_line;
    *col = rs->rules[i].name_col;
    return 0;
}

/* ld_oom - report running out of memory at n */
static void ld_oom(struct rules_loader *ld, const struct ynode *n)
{
    ynode_error(ld->d, n, "out of memory");
    ld->bad = 1;
}

/* ld_name_ok - rule names: letters, digits, '.', '_', '-' */
static int ld_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > RULES_MAX_NAME)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* ld_remember_name - note a rule name for the duplicate check */
static void ld_remember_name(struct rules_loader *ld, const struct ynode *n)
{
    struct rules_name *e;

    if (ld->nnames == ld->capnames) {
        size_t ncap = ld->capnames ? ld->capnames * 2 : 16;
        struct rules_name *p = realloc(ld->names, ncap * sizeof(*p));

        if (p == NULL) {
            ld_oom(ld, n);
            return;
        }
        ld->names = p;
        ld->capnames = ncap;
    }
    e = &ld->names[ld->nnames];
    e->name = strdup(n->value);
    e->file = strdup(n->file);
    if (e->name == NULL || e->file == NULL) {
        free(e->name);
        free(e->file);
        ld_oom(ld, n);
        return;
    }
    e->line = n->line;
    e->col = n->col;
    e->seq = ld->nnames++;
}

/* ld_name_cmp - order names by text, then by appearance */
static int ld_name_cmp(const void *a, const void *b)
{
    const struct rules_name *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r != 0)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ld_check_duplicates - report each later use of a rule name, in order of
 * appearance, and release the list */
static void ld_check_duplicates(struct rules_loader *ld)
{
    size_t *first = NULL, *order = NULL;
    size_t n = ld->nnames;

    if (n >= 2) {
        qsort(ld->names, n, sizeof(*ld->names), ld_name_cmp);
        first = malloc(n * sizeof(*first));
        order = malloc(n * sizeof(*order));
        if (first == NULL || order == NULL) {
            diag_add(ld->d, NULL, 0, 0, "out of memory");
            ld->bad = 1;
        } else {
            /* first[i]: sorted index of the first rule named like i */
            for (size_t i = 0; i < n; i++) {
                first[i] = i > 0 && strcmp(ld->names[i].name, ld->names[i - 1].name) == 0
                    ? first[i - 1] : i;
                order[ld->names[i].seq] = i;
            }
            for (size_t s = 0; s < n; s++) {
                const struct rules_name *e = &ld->names[order[s]];
                const struct rules_name *f = &ld->names[first[order[s]]];

                if (e == f)
                    continue;
                diag_add(ld->d, e->file, e->line, e->col,
                         "duplicate rule name '%s' (first defined at %s:%u:%u)",
                         e->name, f->file, f->line, f->col);
                ld->bad = 1;
            }
        }
    }
    free(first);
    free(order);
    for (size_t i = 0; i < n; i++) {
        free(ld->names[i].name);
        free(ld->names[i].file);
    }
    free(ld->names);
    ld->names = NULL;
    ld->nnames = ld->capnames = 0;
}

/* ld_bool - an optional boolean key */
static void ld_bool(struct rules_loader *ld, const struct ynode *rn,
                    const char *key, int *out)
{
    const struct ynode *v = ymap_get(rn, key);

    if (v != NULL && ynode_bool(v, out) < 0) {
        ynode_error(ld->d, v, "%s: expected true or false, not %s%s%s%s", key,
                    v->type == YNODE_SCALAR ? "'" : "",
                    v->type == YNODE_SCALAR ? v->value : ynode_kind(v),
                    v->type == YNODE_SCALAR ? "'" : "",
                    v->type == YNODE_SCALAR && v->style != YSTYLE_PLAIN ? " (quoted)" : "");
        ld->bad = 1;
    }
}

/* ld_cond_map - compile a mapping of conditions (if:, unless:, a group of
 * if_any:) into *conds / *n */
static void ld_cond_map(struct rules_loader *ld, const struct ynode *cn, const char *what,
                        struct rule_cond **conds, size_t *n)
{
    const char *names[sizeof(void *) * 8];
    size_t nnames = rules_ncond_kinds < sizeof(names) / sizeof(names[0])
        ? rules_ncond_kinds : sizeof(names) / sizeof(names[0]);

    for (size_t i = 0; i < nnames; i++)
        names[i] = rules_cond_kinds[i].name;
    if (cn->type != YNODE_MAP && !ynode_is_null(cn)) {
        ynode_error(ld->d, cn, "%s: expected a mapping of conditions, not %s", what,
                    ynode_kind(cn));
        ld->bad = 1;
        return;
    }
    if (cn->type != YNODE_MAP || cn->n == 0) {
        if (strcmp(what, "if") == 0)
            ynode_error(ld->d, cn, "if: a rule needs at least one condition");
        else
            ynode_error(ld->d, cn, "%s: expected at least one condition", what);
        ld->bad = 1;
        return;
    }
    if ((*conds = calloc(cn->n, sizeof(**conds))) == NULL) {
        ld_oom(ld, cn);
        return;
    }
    for (size_t i = 0; i < cn->n; i++) {
        const struct ynode *k = cn->keys[i];
        const struct rules_cond_kind *kind = NULL;
        struct rule_cond *c = &(*conds)[*n];

        for (size_t j = 0; j < rules_ncond_kinds; j++)
            if (k->type == YNODE_SCALAR && strcmp(k->value, rules_cond_kinds[j].name) == 0)
                kind = &rules_cond_kinds[j];
        if (kind == NULL) {
            yunknown(ld->d, k, "condition", NULL, names, nnames);
            ld->bad = 1;
            continue;
        }
        c->kind = kind;
        if (kind->parse(c, cn->items[i], ld->d) < 0) {
            if (kind->free)
                kind->free(c);
            memset(c, 0, sizeof(*c));
            ld->bad = 1;
            continue;
        }
        (*n)++;
    }
}

/* ld_any - compile if_any: a list of condition groups */
static void ld_any(struct rules_loader *ld, struct rule *r, const struct ynode *an)
{
    if (an->type != YNODE_SEQ) {
        ynode_error(ld->d, an, "if_any: expected a list of condition groups, not %s",
                    ynode_kind(an));
        ld->bad = 1;
        return;
    }
    if (an->n == 0) {
        ynode_error(ld->d, an, "if_any: expected at least one condition group");
        ld->bad = 1;
        return;
    }
    if ((r->any = calloc(an->n, sizeof(*r->any))) == NULL) {
        ld_oom(ld, an);
        return;
    }
    for (size_t i = 0; i < an->n; i++) {
        ld_cond_map(ld, an->items[i], "if_any", &r->any[i].conds, &r->any[i].nconds);
        r->nany++;
    }
}

/* ld_date - one date of active: */
static int ld_date(struct rules_loader *ld, const struct ynode *v, const char *key,
                   int end_of_day, time_t *out)
{
    if (ynode_is_string(v) && rules_date_parse(v->value, end_of_day, out) == 0)
        return 0;
    if (v->type == YNODE_SCALAR)
        ynode_error(ld->d, v, "active: %s: invalid date '%s' (expected YYYY-MM-DD, or "
                    "YYYY-MM-DDTHH:MM:SS with a zone such as Z or +01:00)", key, v->value);
    else
        ynode_error(ld->d, v, "active: %s: expected a date, not %s", key, ynode_kind(v));
    ld->bad = 1;
    return -1;
}

/* ld_active - compile active: {from: DATE, until: DATE} */
static void ld_active(struct rules_loader *ld, struct rule *r, const struct ynode *an)
{
    static const char *const keys[] = { "from", "until" };
    const struct ynode *from, *until;

    if (an->type != YNODE_MAP || an->n == 0) {
        ynode_error(ld->d, an, "active: expected {from: DATE, until: DATE}, not %s",
                    an->type == YNODE_MAP ? "an empty mapping" : ynode_kind(an));
        ld->bad = 1;
        return;
    }
    if (ymap_check_keys(an, "active", keys, 2, ld->d) > 0)
        ld->bad = 1;
    from = ymap_get(an, "from");
    until = ymap_get(an, "until");
    if (from != NULL && ld_date(ld, from, "from", 0, &r->from) == 0)
        r->has_from = 1;
    if (until != NULL && ld_date(ld, until, "until", 1, &r->until) == 0)
        r->has_until = 1;
    if (r->has_from && r->has_until && r->until <= r->from) {
        /* has_from and has_until are set above only with from and until
         * non-NULL (r was zeroed by ld_rule): an analyzer false positive */
        /* NOLINTBEGIN(clang-analyzer-core.NullDereference) */
        ynode_error(ld->d, until, "active: until (%s) is not after from (%s)", until->value,
                    from->value);
        /* NOLINTEND(clang-analyzer-core.NullDereference) */
        ld->bad = 1;
    }
}

/* ld_actions - compile the then: mapping, in action table order */
static void ld_actions(struct rules_loader *ld, struct rule *r,
                       const struct ynode *an)
{
    const char *names[sizeof(void *) * 8];
    size_t nnames = rules_naction_kinds < sizeof(names) / sizeof(names[0])
        ? rules_naction_kinds : sizeof(names) / sizeof(names[0]);

    if (ynode_is_null(an))
        return;
    if (an->type != YNODE_MAP) {
        ynode_error(ld->d, an, "then: expected a mapping of actions, not %s",
                    ynode_kind(an));
        ld->bad = 1;
        return;
    }
    for (size_t i = 0; i < nnames; i++)
        names[i] = rules_action_kinds[i].name;
    for (size_t i = 0; i < an->n; i++) {
        const struct ynode *k = an->keys[i];
        size_t j;

        for (j = 0; j < rules_naction_kinds; j++)
            if (k->type == YNODE_SCALAR && strcmp(k->value, rules_action_kinds[j].name) == 0)
                break;
        if (j == rules_naction_kinds) {
            yunknown(ld->d, k, "action", NULL, names, nnames);
            ld->bad = 1;
        }
    }
    if (an->n == 0)
        return;
    if ((r->actions = calloc(an->n, sizeof(*r->actions))) == NULL) {
        ld_oom(ld, an);
        return;
    }
    for (size_t j = 0; j < rules_naction_kinds; j++) {
        const struct rules_action_kind *kind = &rules_action_kinds[j];
        const struct ynode *v = ymap_get(an, kind->name);
        struct rule_action *a;

        if (v == NULL)
            continue;
        a = &r->actions[r->nactions];
        memset(a, 0, sizeof(*a));
        a->kind = kind->kind;
        if (kind->parse(a, v, ld->d) < 0) {
            rules_action_clear(a);
            ld->bad = 1;
            continue;
        }
        r->nactions++;
    }
}

/* ld_add_rule - append a checked rule to the set */
static void ld_add_rule(struct rules_loader *ld, struct rule *r,
                        const struct ynode *rn)
{
    struct ruleset *rs = ld->rs;

    if (rs->n == rs->cap) {
        size_t ncap = rs->cap ? rs->cap * 2 : 8;
        struct rule *p = realloc(rs->rules, ncap * sizeof(*p));

        if (p == NULL) {
            ld_oom(ld, rn);
            rule_clear(r);
            return;
        }
        rs->rules = p;
        rs->cap = ncap;
    }
    for (size_t i = 0; i < r->nactions; i++)
        r->actions[i].rule = r->name;
    rs->nactions += r->nactions;
    rs->rules[rs->n++] = *r;
}

/* ld_rule - check and compile one rule mapping */
static void ld_rule(struct rules_loader *ld, const struct ynode *rn)
{
    struct rule r;
    const struct ynode *v;
    int was_bad = ld->bad;
    long long prio;

    memset(&r, 0, sizeof(r));
    r.enabled = 1;
    r.priority = RULES_DEFAULT_PRIORITY;
    if (rn->type != YNODE_MAP) {
        ynode_error(ld->d, rn, "expected a rule (a mapping with name, if and then), not %s",
                    ynode_kind(rn));
        ld->bad = 1;
        return;
    }
    ld->bad = 0;
    if (ymap_check_keys(rn, "rule", rule_keys, NRULE_KEYS, ld->d) > 0)
        ld->bad = 1;
    r.line = rn->line;
    r.col = rn->col;
    r.seq = ld->seq++;
    if ((r.file = strdup(rn->file)) == NULL)
        ld_oom(ld, rn);
    if ((v = ymap_get(rn, "name")) == NULL) {
        ynode_error(ld->d, rn, "rule is missing 'name'");
        ld->bad = 1;
    } else if (!ynode_is_string(v) || !ld_name_ok(v->value, v->len)) {
        if (v->type == YNODE_SCALAR)
            ynode_error(ld->d, v, "name: '%s' is not a valid rule name (letters, digits, "
                        "'.', '_' and '-', at most %d characters)", v->value, RULES_MAX_NAME);
        else
            ynode_error(ld->d, v, "name: expected a string, not %s", ynode_kind(v));
        ld->bad = 1;
    } else if ((r.name = strdup(v->value)) == NULL) {
        ld_oom(ld, v);
    } else {
        r.name_line = v->line;
        r.name_col = v->col;
        ld_remember_name(ld, v);
    }
    if ((v = ymap_get(rn, "description")) != NULL && !ynode_is_null(v)) {
        if (rules_text_ok(v, "description", 1024, RULES_TEXT_TAB | RULES_TEXT_EMPTY, ld->d) < 0)
            ld->bad = 1;
        else if ((r.description = strdup(v->value)) == NULL)
            ld_oom(ld, v);
    }
    ld_bool(ld, rn, "enabled", &r.enabled);
    ld_bool(ld, rn, "stop", &r.stop);
    if ((v = ymap_get(rn, "priority")) != NULL) {
        int res = ynode_int(v, 0, RULES_MAX_PRIORITY, &prio);

        if (res == 0) {
            r.priority = (long)prio;
        } else {
            if (res == -2)
                ynode_error(ld->d, v, "priority: %s is out of range (allowed 0..%d)",
                            v->value, RULES_MAX_PRIORITY);
            else
                ynode_error(ld->d, v, "priority: expected an integer, not %s%s%s",
                            v->type == YNODE_SCALAR ? "'" : "",
                            v->type == YNODE_SCALAR ? v->value : ynode_kind(v),
                            v->type == YNODE_SCALAR ? "'" : "");
            ld->bad = 1;
        }
    }
    if ((v = ymap_get(rn, "mode")) != NULL) {
        if (ynode_is_string(v) && strcmp(v->value, "enforce") == 0) {
            r.audit = 0;
        } else if (ynode_is_string(v) && strcmp(v->value, "audit") == 0) {
            r.audit = 1;
        } else {
            ynode_error(ld->d, v, "mode: expected enforce or audit, not %s%s%s",
                        v->type == YNODE_SCALAR ? "'" : "",
                        v->type == YNODE_SCALAR ? v->value : ynode_kind(v),
                        v->type == YNODE_SCALAR ? "'" : "");
            ld->bad = 1;
        }
    }
    if ((v = ymap_get(rn, "if")) == NULL && ymap_get(rn, "if_any") == NULL) {
        if (r.name)
            ynode_error(ld->d, rn, "rule '%s' is missing 'if'", r.name);
        else
            ynode_error(ld->d, rn, "rule is missing 'if'");
        ld->bad = 1;
    } else if (v != NULL) {
        ld_cond_map(ld, v, "if", &r.conds, &r.nconds);
    }
    if ((v = ymap_get(rn, "if_any")) != NULL)
        ld_any(ld, &r, v);
    if ((v = ymap_get(rn, "unless")) != NULL)
        ld_cond_map(ld, v, "unless", &r.unless, &r.nunless);
    if ((v = ymap_get(rn, "active")) != NULL)
        ld_active(ld, &r, v);
    if ((v = ymap_get(rn, "then")) == NULL) {
        if (r.name)
            ynode_error(ld->d, rn, "rule '%s' is missing 'then'", r.name);
        else
            ynode_error(ld->d, rn, "rule is missing 'then'");
        ld->bad = 1;
    } else {
        ld_actions(ld, &r, v);
    }
    if (ld->bad) {
        rule_clear(&r);
    } else {
        ld_add_rule(ld, &r, rn);
    }
    ld->bad |= was_bad;
}

/* ld_tree - check one file's top level and load its rules */
static void ld_tree(struct rules_loader *ld, const struct ytree *t)
{
    static const char *const top_keys[] = { "rules", "sensitive_types" };
    const struct ynode *root = t->root, *list, *types;

    if (root == NULL) {
        diag_add(ld->d, t->file, 1, 1, "the file is empty (expected 'rules:' with a list of rules)");
        ld->bad = 1;
        return;
    }
    if (root->type != YNODE_MAP) {
        ynode_error(ld->d, root, "expected a mapping with the key 'rules', not %s",
                    ynode_kind(root));
        ld->bad = 1;
        return;
    }
    if (ymap_check_keys(root, NULL, top_keys, 2, ld->d) > 0)
        ld->bad = 1;
    if ((types = ymap_get(root, "sensitive_types")) != NULL
        && rules_sens_declare(&ld->sens_types, ld->rs, types, ld->d) < 0)
        ld->bad = 1;
    if ((list = ymap_get(root, "rules")) == NULL && types != NULL)
        return;
    if (list == NULL) {
        diag_add(ld->d, t->file, 1, 1, "missing required key 'rules'");
        ld->bad = 1;
        return;
    }
    if (ynode_is_null(list))
        return;
    if (list->type != YNODE_SEQ) {
        ynode_error(ld->d, list, "rules: expected a list of rules, not %s",
                    ynode_kind(list));
        ld->bad = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++)
        ld_rule(ld, list->items[i]);
}

/* ld_file - load one rules file */
static void ld_file(struct rules_loader *ld, const char *path)
{
    struct ytree *t = ytree_load(path, ld->d);

    if (t == NULL) {
        ld->bad = 1;
        return;
    }
    ld_tree(ld, t);
    ytree_free(t);
}

/* ld_str_cmp - qsort comparison of C strings */
static int ld_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ld_dir - load every *.yaml file of a directory, in name order */
static void ld_dir(struct rules_loader *ld, const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *de;
    char **files = NULL;
    size_t n = 0, cap = 0;

    if (dir == NULL) {
        diag_add(ld->d, path, 0, 0, "cannot open directory: %s", strerror(errno));
        ld->bad = 1;
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);

        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        if (n == RULES_MAX_FILES) {
            diag_add(ld->d, path, 0, 0, "more than %d rules files", RULES_MAX_FILES);
            ld->bad = 1;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **p = realloc(files, ncap * sizeof(*p));

            if (p == NULL)
                break;
            files = p;
            cap = ncap;
        }
        if ((files[n] = strdup(de->d_name)) == NULL)
            break;
        n++;
    }
    if (de != NULL && !ld->bad) {
        diag_add(ld->d, path, 0, 0, "out of memory");
        ld->bad = 1;
    }
    closedir(dir);
    if (files != NULL)
        qsort(files, n, sizeof(*files), ld_str_cmp);
    for (size_t i = 0; i < n; i++) {
        struct buf p = BUF_INIT(4096);
        size_t plen = strlen(path);

        if (buf_add(&p, path, plen) == 0
            && (plen > 0 && path[plen - 1] == '/' ? 0 : buf_addc(&p, '/')) == 0
            && buf_adds(&p, files[i]) == 0) {
            ld_file(ld, buf_str(&p));
        } else {
            diag_add(ld->d, path, 0, 0, "%s: path too long", files[i]);
            ld->bad = 1;
        }
        buf_free(&p);
        free(files[i]);
    }
    free(files);
}

/* ld_prio_cmp - priority order, load order on ties */
static int ld_prio_cmp(const void *a, const void *b)
{
    const struct rule *x = a, *y = b;

    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ld_slot_conds - give the body conditions of conds their scan slots and
 * the subject phrase conditions their subject slots, adding their phrases
 * to the merged matchers (counting only, when rs->scan_conds is NULL) */
static int ld_slot_conds(struct ruleset *rs, const struct rule_cond *conds, size_t n,
                         size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        struct body_cond *b;
        struct kw_set *ks;
        size_t *sslot;

        if (rs->scan_conds != NULL
            && (ks = rules_cond_subject_kw(&conds[i], &sslot)) != NULL) {
            *sslot = rs->nsubj++;
            if (kw_multi_add(rs->kw_subject, ks, *sslot) < 0)
                return -1;
        }
        if (!rules_cond_is_body(&conds[i]))
            continue;
        b = conds[i].data;
        if (rs->scan_conds != NULL) {
            b->slot = *count;
            rs->scan_conds[*count] = b;
            if (b->re != NULL)
                rs->scan_re[rs->nscan_re++] = *count;
            else if (kw_multi_add(rs->kw_text, b->ks, *count) < 0)
                return -1;
        }
        (*count)++;
    }
    return 0;
}

/* ld_prefilter - the Hyperscan prefilter of the pattern body conditions;
 * 0 or -1 ENOMEM */
static int ld_prefilter(struct ruleset *rs)
{
    const struct re_set **sets;

    if (rs->nscan_re == 0)
        return 0;
    if ((sets = calloc(rs->nscan_re, sizeof(*sets))) == NULL)
        return -1;
    for (size_t k = 0; k < rs->nscan_re; k++)
        /* every scan_re[k] names a scan_conds entry ld_slots's second pass
         * filled; the analyzer mixes in the first pass's zeroed arrays */
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
        sets[k] = rs->scan_conds[rs->scan_re[k]]->re;
    rs->re_pre = re_pre_build(sets, rs->nscan_re);
    free(sets);
    return rs->re_pre == NULL ? -1 : 0;
}

/* ld_slots - number the body and subject phrase conditions of every rule
 * and build the merged phrase matchers; 0 or -1 (ENOMEM, EIO) */
static int ld_slots(struct ruleset *rs)
{
    if ((rs->kw_text = kw_multi_new()) == NULL || (rs->kw_subject = kw_multi_new()) == NULL)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;

        for (size_t i = 0; i < rs->n; i++) {
            const struct rule *r = &rs->rules[i];
            int bad = ld_slot_conds(rs, r->conds, r->nconds, &n) < 0;

            for (size_t g = 0; g < r->nany; g++)
                bad |= ld_slot_conds(rs, r->any[g].conds, r->any[g].nconds, &n) < 0;
            bad |= ld_slot_conds(rs, r->unless, r->nunless, &n) < 0;
            if (bad)
                return -1;
        }
        if (pass == 0) {
            if ((rs->scan_conds = calloc(n ? n : 1, sizeof(*rs->scan_conds))) == NULL
                || (rs->scan_re = calloc(n ? n : 1, sizeof(*rs->scan_re))) == NULL)
                return -1;
        }
        rs->nscan = n;
    }
    if (kw_multi_build(rs->kw_text) < 0 || kw_multi_build(rs->kw_subject) < 0)
        return -1;
    return ld_prefilter(rs);
}

/* rules_load - load a rules file or directory into a ruleset */
struct ruleset *rules_load(const char *path, struct diag *d)
{
    struct rules_loader ld;
    struct stat st;

    memset(&ld, 0, sizeof(ld));
    ld.d = d;
    if (stat(path, &st) < 0) {
        diag_add(d, path, 0, 0, "cannot access rules: %s", strerror(errno));
        return NULL;
    }
    if ((ld.rs = calloc(1, sizeof(*ld.rs))) == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        return NULL;
    }
    if (S_ISDIR(st.st_mode))
        ld_dir(&ld, path);
    else
        ld_file(&ld, path);
    ld_check_duplicates(&ld);
    if (rules_sens_finish(ld.sens_types, ld.rs, path, d) < 0)
        ld.bad = 1;
    rules_sens_types_free(ld.sens_types);
    if (ld.bad) {
        rules_free(ld.rs);
        return NULL;
    }
    if ((ld.rs->re_mctx = rules_re_context()) == NULL || ld_slots(ld.rs) < 0) {
        diag_add(d, path, 0, 0, "cannot compile the rules: %s",
                 errno == EIO ? "the phrase matcher failed" : strerror(errno));
        rules_free(ld.rs);
        return NULL;
    }
    if (ld.rs->n > 1)
        qsort(ld.rs->rules, ld.rs->n, sizeof(*ld.rs->rules), ld_prio_cmp);
    ld.rs->pool = rules_scratch_pool_new();   /* NULL: each scan allocates its own */
    return ld.rs;
}
