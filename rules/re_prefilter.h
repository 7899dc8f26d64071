/*
 * re_prefilter - one Hyperscan pass over a window of text that tells which
 * pattern conditions (*_matches, run by rules_scan.c) may match there, so
 * PCRE2 runs only those (see re_prefilter.c for when a pattern is safe to
 * prefilter).  A built prefilter is immutable and shared between threads;
 * each scan uses its own scratch, a kw_scratch grown with
 * re_pre_grow_scratch().
 */
#ifndef MAILSEAL_RULES_RE_PREFILTER_H
#define MAILSEAL_RULES_RE_PREFILTER_H

#include <stddef.h>

struct re_prefilter;
struct re_set;
struct kw_scratch;

/* re_pre_build - the prefilter of conditions sets[0..n) (condition k is
 * sets[k]); NULL with errno ENOMEM */
struct re_prefilter *re_pre_build(const struct re_set *const *sets, size_t n);
/* re_pre_filtered - how many of the conditions the prefilter rules on
 * (the others always run) */
size_t re_pre_filtered(const struct re_prefilter *p);
/* re_pre_grow_scratch - make sc serve p too; 0, or -1 with errno ENOMEM */
int re_pre_grow_scratch(const struct re_prefilter *p, struct kw_scratch *sc);
/* re_pre_scan - cand[k] = 1 for each condition k that may match
 * text[0..len) (valid UTF-8), and for those always run; 0 for the rest.
 * 0, or -1 with errno (EINVAL: no scratch, EIO: Hyperscan failed). */
int re_pre_scan(const struct re_prefilter *p, struct kw_scratch *sc, const char *text,
                size_t len, unsigned char *cand);
void re_pre_free(struct re_prefilter *p);

#endif
