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
 * owns the set and frees it with kw_set_free().  Today the matcher tries
 * each phrase in turn; a multi-pattern automaton can replace it behind the
 * same interface.
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

#endif
