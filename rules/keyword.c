/*
 * keyword - phrases matched on word boundaries in normalised text (see
 * keyword.h).
 *
 * Each phrase is kept in normal form with two flags saying whether a word
 * boundary is needed before and after it.  Matching finds each occurrence
 * with memmem and checks the code points around it.  Both phrase and text
 * are valid UTF-8 after text_norm(), so an occurrence always starts on a
 * character boundary.
 *
 * The merged matcher (kw_multi) gathers (phrase, owner) entries, sorts
 * them so that identical phrases are stored once with the list of their
 * owners, and compiles the distinct phrases into a Hyperscan literal
 * database in block mode, the phrase's index as its id.  Hyperscan reports
 * the end of every occurrence; the callback checks the boundaries there
 * (the start is the end minus the phrase's length) and reports the
 * occurrence to each owner.
 */
#include <errno.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "rules/keyword.h"
#include "rules/text_norm.h"
#include "util/buf.h"

struct kw_phrase {
    char *text;               /* normal form */
    size_t len;
    int bound_start;          /* needs a non-word character (or the start) before */
    int bound_end;            /* needs a non-word character (or the end) after */
};

struct kw_set {
    struct kw_phrase *phrases;
    size_t n;
    size_t cap;
};

/* kw_set_new - an empty set */
struct kw_set *kw_set_new(void)
{
    return calloc(1, sizeof(struct kw_set));
}

/* kw_set_free - release the set and its phrases */
void kw_set_free(struct kw_set *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        free(ks->phrases[i].text);
    free(ks->phrases);
    free(ks);
}

/* kw_count - number of phrases */
size_t kw_count(const struct kw_set *ks)
{
    return ks ? ks->n : 0;
}

/* kw_needs_bound - 1 when cp must be separated from a neighbouring word */
static int kw_needs_bound(int32_t cp)
{
    return text_is_word(cp) && !text_is_unspaced(cp);
}

/* kw_add - normalise a phrase and add it */
int kw_add(struct kw_set *ks, const char *phrase, size_t len)
{
    struct buf nb = BUF_INIT(16 * KW_MAX_PHRASE);
    struct kw_phrase p;
    size_t start = 0, end;

    if (len > KW_MAX_PHRASE) {
        errno = E2BIG;
        return -1;
    }
    if (text_norm(phrase, len, &nb) < 0)
        return -1;
    end = nb.len;
    while (start < end && nb.data[start] == ' ')
        start++;
    while (end > start && nb.data[end - 1] == ' ')
        end--;
    if (start == end) {
        buf_free(&nb);
        errno = EINVAL;
        return -1;
    }
    if (ks->n == ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 4;
        struct kw_phrase *np = realloc(ks->phrases, ncap * sizeof(*np));

        if (np == NULL) {
            buf_free(&nb);
            errno = ENOMEM;
            return -1;
        }
        ks->phrases = np;
        ks->cap = ncap;
    }
    p.len = end - start;
    if ((p.text = malloc(p.len + 1)) == NULL) {
        buf_free(&nb);
        errno = ENOMEM;
        return -1;
    }
    memcpy(p.text, nb.data + start, p.len);
    p.text[p.len] = 0;
    buf_free(&nb);
    p.bound_start = kw_needs_bound(text_cp_at(p.text, p.len, 0));
    p.bound_end = kw_needs_bound(text_cp_before(p.text, p.len));
    ks->phrases[ks->n++] = p;
    return 0;
}

/* kw_found - 1 when phrase p occurs in text on the boundaries it needs,
 * with its offset in *where */
static int kw_found(const struct kw_phrase *p, const char *text, size_t len,
                    size_t *where)
{
    size_t pos = 0;

    while (pos + p->len <= len) {
        const char *hit = memmem(text + pos, len - pos, p->text, p->len);
        size_t at, after;

        if (hit == NULL)
            return 0;
        at = (size_t)(hit - text);
        after = at + p->len;
        if ((!p->bound_start || !kw_needs_bound(text_cp_before(text, at)))
            && (!p->bound_end || !kw_needs_bound(text_cp_at(text, len, after)))) {
            *where = at;
            return 1;
        }
        pos = at + 1;
    }
    return 0;
}

/* kw_match - index of the first phrase found in normalised text, or -1 */
long kw_match(const struct kw_set *ks, const char *norm, size_t len)
{
    size_t at, mlen;

    return kw_find(ks, norm, len, &at, &mlen);
}

/* kw_find - kw_match(), with the place of the occurrence */
long kw_find(const struct kw_set *ks, const char *norm, size_t len,
             size_t *at, size_t *mlen)
{
    if (ks == NULL)
        return -1;
    for (size_t i = 0; i < ks->n; i++) {
        if (kw_found(&ks->phrases[i], norm, len, at)) {
            *mlen = ks->phrases[i].len;
            return (long)i;
        }
    }
    return -1;
}

struct kw_entry {             /* a phrase of an added set, before build */
    char *text;
    size_t len;
    int bound_start, bound_end;
    size_t owner;
};

struct kw_uniq {              /* a distinct phrase, after build */
    char *text;
    size_t len;
    int bound_start, bound_end;
    size_t first, n;          /* its owners: owners[first .. first + n) */
};

struct kw_multi {
    struct kw_entry *e;       /* collected by kw_multi_add(), freed by build */
    size_t ne, cap;
    struct kw_uniq *u;
    size_t nu;
    size_t *owners;
    hs_database_t *db;        /* NULL when there is no phrase */
    int built;
};

struct kw_scratch {
    hs_scratch_t *s;          /* NULL when the database is empty */
};

/* kw_multi_new - an empty merged matcher */
struct kw_multi *kw_multi_new(void)
{
    return calloc(1, sizeof(struct kw_multi));
}

/* kw_multi_free - release the matcher, its phrases and its database */
void kw_multi_free(struct kw_multi *km)
{
    if (km == NULL)
        return;
    for (size_t i = 0; i < km->ne; i++)
        free(km->e[i].text);
    free(km->e);
    for (size_t i = 0; i < km->nu; i++)
        free(km->u[i].text);
    free(km->u);
    free(km->owners);
    hs_free_database(km->db);
    free(km);
}

/* kw_multi_count - the number of distinct phrases */
size_t kw_multi_count(const struct kw_multi *km)
{
    return km ? km->nu : 0;
}

/* kw_multi_add - register every phrase of ks for owner */
int kw_multi_add(struct kw_multi *km, const struct kw_set *ks, size_t owner)
{
    if (km->built) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; ks != NULL && i < ks->n; i++) {
        const struct kw_phrase *p = &ks->phrases[i];
        struct kw_entry *en;

        if (km->ne == km->cap) {
            size_t ncap = km->cap ? km->cap * 2 : 64;
            struct kw_entry *ne = realloc(km->e, ncap * sizeof(*ne));

            if (ne == NULL) {
                errno = ENOMEM;
                return -1;
            }
            km->e = ne;
            km->cap = ncap;
        }
        en = &km->e[km->ne];
        if ((en->text = malloc(p->len + 1)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(en->text, p->text, p->len + 1);
        en->len = p->len;
        en->bound_start = p->bound_start;
        en->bound_end = p->bound_end;
        en->owner = owner;
        km->ne++;
    }
    return 0;
}

/* kw_entry_cmp - order entries by phrase, then owner */
static int kw_entry_cmp(const void *a, const void *b)
{
    const struct kw_entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);

    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* kw_multi_group - turn the sorted entries into distinct phrases and
 * owner lists; the entries' texts move to the distinct phrases */
static int kw_multi_group(struct kw_multi *km)
{
    size_t no = 0;

    if ((km->u = calloc(km->ne, sizeof(*km->u))) == NULL
        || (km->owners = calloc(km->ne, sizeof(*km->owners))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < km->ne; i++) {
        struct kw_entry *en = &km->e[i];
        struct kw_uniq *u = km->nu ? &km->u[km->nu - 1] : NULL;

        /* u is the previous phrase, its text set below: not the calloc's NULL */
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
        if (u == NULL || u->len != en->len || memcmp(u->text, en->text, en->len) != 0) {
            u = &km->u[km->nu++];
            u->text = en->text;
            u->len = en->len;
            u->bound_start = en->bound_start;
            u->bound_end = en->bound_end;
            u->first = no;
            en->text = NULL;
        } else {
            free(en->text);
            en->text = NULL;
            if (km->owners[no - 1] == en->owner)
                continue;         /* the same phrase twice in one set */
        }
        km->owners[no++] = en->owner;
        u->n++;
    }
    return 0;
}

/* kw_multi_build - compile the distinct phrases into one database */
int kw_multi_build(struct kw_multi *km)
{
    const char **exprs = NULL;
    unsigned *ids = NULL, *flags = NULL;
    size_t *lens = NULL;
    hs_compile_error_t *err = NULL;
    int rc = -1;

    if (km->built) {
        errno = EINVAL;
        return -1;
    }
    if (km->ne > 1)
        qsort(km->e, km->ne, sizeof(*km->e), kw_entry_cmp);
    if (kw_multi_group(km) < 0)
        return -1;
    free(km->e);
    km->e = NULL;
    km->ne = km->cap = 0;
    km->built = 1;
    if (km->nu == 0)
        return 0;
    if (km->nu > 0xFFFFFFFFu) {
        errno = E2BIG;
        return -1;
    }
    exprs = calloc(km->nu, sizeof(*exprs));
    ids = calloc(km->nu, sizeof(*ids));
    flags = calloc(km->nu, sizeof(*flags));
    lens = calloc(km->nu, sizeof(*lens));
    if (exprs == NULL || ids == NULL || flags == NULL || lens == NULL) {
        errno = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < km->nu; i++) {
        exprs[i] = km->u[i].text;
        lens[i] = km->u[i].len;
        ids[i] = (unsigned)i;
    }
    if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)km->nu, HS_MODE_BLOCK, NULL,
                             &km->db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        km->db = NULL;
        errno = EIO;
        goto out;
    }
    rc = 0;
out:
    free(exprs);
    free(ids);
    free(flags);
    free(lens);
    return rc;
}

/* kw_scratch_new - scratch space for scanning with km */
struct kw_scratch *kw_scratch_new(const struct kw_multi *km)
{
    struct kw_scratch *sc = calloc(1, sizeof(*sc));

    if (sc == NULL)
        return NULL;
    if (km != NULL && km->db != NULL && hs_alloc_scratch(km->db, &sc->s) != HS_SUCCESS) {
        free(sc);
        errno = ENOMEM;
        return NULL;
    }
    return sc;
}

/* kw_scratch_grow_db - make sc large enough for Hyperscan database db too */
int kw_scratch_grow_db(struct kw_scratch *sc, const void *db)
{
    if (db != NULL && hs_alloc_scratch(db, &sc->s) != HS_SUCCESS) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* kw_scratch_grow - make sc large enough for km as well */
int kw_scratch_grow(struct kw_scratch *sc, const struct kw_multi *km)
{
    return km == NULL ? 0 : kw_scratch_grow_db(sc, km->db);
}

/* kw_scratch_hs - the Hyperscan scratch in sc */
void *kw_scratch_hs(struct kw_scratch *sc)
{
    return sc != NULL ? sc->s : NULL;
}

/* kw_scratch_free - release scratch space */
void kw_scratch_free(struct kw_scratch *sc)
{
    if (sc == NULL)
        return;
    hs_free_scratch(sc->s);
    free(sc);
}

struct kw_scan_arg {
    const struct kw_multi *km;
    const char *text;
    size_t len;
    kw_hit_fn fn;
    void *arg;
};

/* kw_on_match - Hyperscan's match callback: check the boundaries, tell
 * the owners */
static int kw_on_match(unsigned id, unsigned long long from, unsigned long long to,
                       unsigned hsflags, void *ctx)
{
    const struct kw_scan_arg *sa = ctx;
    const struct kw_uniq *u = &sa->km->u[id];
    size_t at = (size_t)to - u->len;

    (void)from;
    (void)hsflags;
    if ((u->bound_start && kw_needs_bound(text_cp_before(sa->text, at)))
        || (u->bound_end && kw_needs_bound(text_cp_at(sa->text, sa->len, (size_t)to))))
        return 0;
    for (size_t i = 0; i < u->n; i++)
        if (sa->fn(sa->arg, sa->km->owners[u->first + i], at, u->len) != 0)
            return 1;
    return 0;
}

/* kw_multi_scan - report every occurrence of every phrase in norm */
int kw_multi_scan(const struct kw_multi *km, struct kw_scratch *sc, const char *norm,
                  size_t len, kw_hit_fn fn, void *arg)
{
    struct kw_scan_arg sa = { km, norm, len, fn, arg };
    hs_error_t r;

    if (km == NULL || km->db == NULL || len == 0)
        return 0;
    if (sc == NULL || sc->s == NULL || len > 0xFFFFFFFFu) {
        errno = EINVAL;
        return -1;
    }
    r = hs_scan(km->db, norm, (unsigned)len, 0, sc->s, kw_on_match, &sa);
    if (r == HS_SCAN_TERMINATED)
        return 1;
    if (r != HS_SUCCESS) {
        errno = EIO;
        return -1;
    }
    return 0;
}
