/*
 * keyword - phrases matched on word boundaries in normalised text (see
 * keyword.h).
 *
 * Each phrase is kept in normal form with two flags saying whether a word
 * boundary is needed before and after it.  Matching finds each occurrence
 * with memmem and checks the code points around it.  Both phrase and text
 * are valid UTF-8 after text_norm(), so an occurrence always starts on a
 * character boundary.
 */
#include <errno.h>
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
