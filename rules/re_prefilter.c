/*
 * re_prefilter - one Hyperscan pass over a window that tells which pattern
 * conditions may match there, so PCRE2 runs only those (see
 * re_prefilter.h for the interface).
 *
 * Every pattern of a condition is compiled in Hyperscan's prefilter mode
 * (HS_FLAG_PREFILTER: the compiled form matches at least wherever the
 * pattern does, so it has no false negatives), in UTF-8 mode, caseless when
 * the condition is, with ASCII \w \d \s \b as PCRE2 has them without UCP,
 * and the condition's index as its id.  A condition is always run (never
 * ruled out) when one of its patterns is not safe to prefilter:
 *   - pattern text outside printable ASCII, or an escape that names other
 *     characters or classes: \x \o \N \p \P \X \C \u, the \h \v \R
 *     classes (which hold non-ASCII spaces even without UCP), back-references
 *     and octal (\g \k \digit), where PCRE2's Unicode case folding and
 *     classes and Hyperscan's could differ;
 *   - a (*VERB) at the start, which may change PCRE2's options;
 *   - a pattern that matches the empty string, or that Hyperscan refuses.
 * With ASCII-only patterns on text in text_norm() form (NFKC and case
 * folded: no KELVIN SIGN or LONG S for an ASCII letter to match
 * caselessly), the two engines agree on which characters a pattern can
 * match, so a condition the pass rules out cannot match the window.
 * Skipping PCRE2 there changes no result but one: a pattern that would
 * have hit PCRE2's match limit on a window where it cannot match is known
 * not to match, instead of undecided.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "rules/keyword.h"
#include "rules/re_prefilter.h"
#include "rules/rules_cond_int.h"

#define PRE_FLAGS (HS_FLAG_PREFILTER | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH)

struct re_prefilter {
    hs_database_t *db;        /* NULL when no condition is filtered */
    unsigned char *always;    /* per condition: 1 when always run */
    size_t n;
    size_t nfiltered;
};

/* pre_text_safe - may pattern p be prefiltered (see the header comment)? */
static int pre_text_safe(const char *p)
{
    if (strncmp(p, "(*", 2) == 0)
        return 0;
    for (const char *s = p; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            return 0;
        if (*s == '\\') {
            if (s[1] == '\0' || strchr("xoNpPXCugkhHvVR0123456789", s[1]) != NULL)
                return 0;
            s++;
        }
    }
    return 1;
}

/* pre_matches_empty - does Hyperscan find that p can match the empty
 * string (or refuse p)? */
static int pre_matches_empty(const char *p, unsigned flags)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    int empty;

    if (hs_expression_info(p, flags, &info, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        return 1;
    }
    empty = info->min_width == 0;
    free(info);
    return empty;
}

/* pre_compile - compile exprs[0..n) into p->db, dropping (and marking
 * always run) each expression Hyperscan refuses; 0 or -1 ENOMEM */
static int pre_compile(struct re_prefilter *p, const char **exprs, unsigned *flags,
                       unsigned *ids, size_t n)
{
    while (n > 0) {
        hs_compile_error_t *err = NULL;
        int bad;

        if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &p->db,
                             &err) == HS_SUCCESS)
            return 0;
        bad = err != NULL ? err->expression : -1;
        hs_free_compile_error(err);
        p->db = NULL;
        if (bad < 0 || (size_t)bad >= n) {        /* not one pattern's fault */
            for (size_t i = 0; i < n; i++)
                p->always[ids[i]] = 1;
            return 0;
        }
        p->always[ids[bad]] = 1;
        /* drop every pattern of that condition */
        for (size_t i = 0, j = 0, k = n; i < k; i++) {
            if (p->always[ids[i]]) {
                n--;
                continue;
            }
            exprs[j] = exprs[i];
            flags[j] = flags[i];
            ids[j++] = ids[i];
        }
    }
    return 0;
}

/* re_pre_build - the prefilter of conditions sets[0..n) */
struct re_prefilter *re_pre_build(const struct re_set *const *sets, size_t n)
{
    struct re_prefilter *p = calloc(1, sizeof(*p));
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    size_t total = 0, m = 0;

    if (p == NULL || (p->always = calloc(n ? n : 1, 1)) == NULL)
        goto nomem;
    p->n = n;
    for (size_t k = 0; k < n; k++)
        total += sets[k]->n;
    if ((exprs = calloc(total ? total : 1, sizeof(*exprs))) == NULL
        || (flags = calloc(total ? total : 1, sizeof(*flags))) == NULL
        || (ids = calloc(total ? total : 1, sizeof(*ids))) == NULL)
        goto nomem;
    for (size_t k = 0; k < n; k++) {
        unsigned f = PRE_FLAGS | (sets[k]->caseless ? HS_FLAG_CASELESS : 0);
        size_t first = m;

        for (size_t i = 0; i < sets[k]->n && !p->always[k]; i++) {
            const char *src = sets[k]->src[i];

            if (!pre_text_safe(src) || pre_matches_empty(src, f)) {
                p->always[k] = 1;
                break;
            }
            exprs[m] = src;
            flags[m] = f;
            ids[m++] = (unsigned)k;
        }
        if (p->always[k])
            m = first;
    }
    if (pre_compile(p, exprs, flags, ids, m) < 0)
        goto nomem;
    for (size_t k = 0; k < n; k++)
        p->nfiltered += !p->always[k];
    free(exprs);
    free(flags);
    free(ids);
    return p;
nomem:
    free(exprs);
    free(flags);
    free(ids);
    re_pre_free(p);
    errno = ENOMEM;
    return NULL;
}

/* re_pre_filtered - the number of conditions the prefilter rules on */
size_t re_pre_filtered(const struct re_prefilter *p)
{
    return p != NULL && p->db != NULL ? p->nfiltered : 0;
}

/* re_pre_grow_scratch - make sc serve p too */
int re_pre_grow_scratch(const struct re_prefilter *p, struct kw_scratch *sc)
{
    return p == NULL ? 0 : kw_scratch_grow_db(sc, p->db);
}

/* pre_on_match - Hyperscan's callback: condition id may match */
static int pre_on_match(unsigned id, unsigned long long from, unsigned long long to,
                        unsigned hsflags, void *ctx)
{
    (void)from;
    (void)to;
    (void)hsflags;
    ((unsigned char *)ctx)[id] = 1;
    return 0;
}

/* re_pre_scan - which conditions may match text[0..len) */
int re_pre_scan(const struct re_prefilter *p, struct kw_scratch *sc, const char *text,
                size_t len, unsigned char *cand)
{
    if (p->db == NULL) {
        memset(cand, 1, p->n);
        return 0;
    }
    memcpy(cand, p->always, p->n);
    if (len == 0)
        return 0;
    if (kw_scratch_hs(sc) == NULL || len > 0xFFFFFFFFu) {
        errno = EINVAL;
        return -1;
    }
    if (hs_scan(p->db, text, (unsigned)len, 0, kw_scratch_hs(sc), pre_on_match, cand)
        != HS_SUCCESS) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* re_pre_free - release a prefilter */
void re_pre_free(struct re_prefilter *p)
{
    if (p == NULL)
        return;
    hs_free_database(p->db);
    free(p->always);
    free(p);
}
