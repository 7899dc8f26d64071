/*
 * keyword - a set of words and phrases found in normalised text on word
 * boundaries (the matcher behind subject_contains, and later the body
 * conditions).
 *
 * kw_add() normalises a phrase with text_norm() and records whether it
 * needs a word boundary at its start and at its end: a phrase that starts
 * (ends) with a letter or digit must not be preceded (followed) by one, so
 * "confidential" does not match "nonconfidential"; a phrase that starts or
 * ends with punctuation, like "[encrypt]", needs no boundary on that side.
 * Characters of scripts written without spaces (Han, Kana, Thai, ...) are
 * boundaries on both sides, so phrases in them match as substrings.  A space
 * in a phrase matches any run of white space, since text_norm() folds runs
 * to one space in both phrase and text.
 *
 * kw_match() takes text already passed through text_norm().  The set is
 * immutable after loading and may be shared between threads.  The caller
 * owns the set and frees it with kw_set_free().  kw_match() tries each
 * phrase of one set in turn, which suits short texts and a few phrases.
 *
 * A kw_multi merges the phrases of many sets (every keyword condition of a
 * ruleset) into one Hyperscan literal database, so a text is scanned once
 * whatever the number of phrases: kw_multi_add() registers the phrases of
 * a set for an owner (a condition's slot), kw_multi_build() compiles, and
 * kw_multi_scan() reports every occurrence that lies on the boundaries its
 * phrase needs, once for each owner of the phrase (identical phrases of
 * several sets are stored once).  A built kw_multi is immutable and may be
 * shared between threads; each thread scans with its own kw_scratch.
 */
#ifndef MAILSEAL_RULES_KEYWORD_H
#define MAILSEAL_RULES_KEYWORD_H

#include <stddef.h>

#define KW_MAX_PHRASE 1024        /* bytes of a phrase as written */

struct kw_set;

struct kw_set *kw_set_new(void);                  /* NULL: ENOMEM */
/* 0; -1 with errno EINVAL (empty after normalisation), E2BIG (longer than
 * KW_MAX_PHRASE) or ENOMEM.  The set is unchanged on failure. */
int kw_add(struct kw_set *ks, const char *phrase, size_t len);
size_t kw_count(const struct kw_set *ks);
/* Index (in order of kw_add) of the first phrase found in norm, or -1. */
long kw_match(const struct kw_set *ks, const char *norm, size_t len);
/* Like kw_match(), and where: the phrase's first occurrence in norm is
 * norm[*at .. *at + *mlen). */
long kw_find(const struct kw_set *ks, const char *norm, size_t len,
             size_t *at, size_t *mlen);
void kw_set_free(struct kw_set *ks);

struct kw_multi;
struct kw_scratch;

/* hit - an occurrence of a phrase of owner at norm[at .. at + mlen);
 * return nonzero to stop the scan */
typedef int (*kw_hit_fn)(void *arg, size_t owner, size_t at, size_t mlen);

struct kw_multi *kw_multi_new(void);              /* NULL: ENOMEM */
/* 0, or -1 with errno ENOMEM; EINVAL after kw_multi_build() */
int kw_multi_add(struct kw_multi *km, const struct kw_set *ks, size_t owner);
/* 0, or -1 with errno ENOMEM or EIO (the database did not compile) */
int kw_multi_build(struct kw_multi *km);
size_t kw_multi_count(const struct kw_multi *km); /* distinct phrases */
/* A scratch for one thread's scans; NULL with errno ENOMEM.
 * kw_scratch_grow() makes it serve another matcher too (0 or -1 ENOMEM). */
struct kw_scratch *kw_scratch_new(const struct kw_multi *km);
int kw_scratch_grow(struct kw_scratch *sc, const struct kw_multi *km);
/* For the other Hyperscan users of a scan (re_prefilter.c): make sc serve
 * database db (an hs_database_t *) too (0 or -1 ENOMEM), and the scratch
 * itself (an hs_scratch_t *, NULL while no database needed one). */
int kw_scratch_grow_db(struct kw_scratch *sc, const void *db);
void *kw_scratch_hs(struct kw_scratch *sc);
void kw_scratch_free(struct kw_scratch *sc);
/* 0 scanned (fn said go on), 1 stopped by fn, -1 with errno (EIO) */
int kw_multi_scan(const struct kw_multi *km, struct kw_scratch *sc, const char *norm,
                  size_t len, kw_hit_fn fn, void *arg);
void kw_multi_free(struct kw_multi *km);

#endif
