/*
 * rules_scan - the per-message scanning state: the text sink handed to
 * msg_model_build(), which matches the phrases of every body condition
 * (rules_cond_body.c) while the model is built, so no text is ever kept
 * whole (see rules.h for rules_scan_new/_sink/_free).
 *
 * Each chunk of a part's text is passed through text_norm() and searched
 * together with the last RULES_SCAN_CARRY bytes of that part's normal
 * form before it, so a phrase split between chunks is found.  A UTF-8
 * sequence split between chunks is held back until it is whole; a space
 * that ends one chunk and starts the next is counted once.  The carry is
 * cut after a space when one is near, so a match at its start is on a
 * word boundary (a boundary may be misjudged only in RULES_SCAN_CARRY
 * bytes without any space), and the window's last run of word characters
 * is searched only with the next chunk or at the end of the part, so a
 * match is not taken for whole when the next chunk continues its word.
 * The phrases of all keyword conditions are found in one pass over the
 * window with the ruleset's merged matcher (kw_multi, keyword.h), which
 * reports each occurrence to the slots whose phrase it is.  Text of
 * attachment parts (MSG_PART_ATTACHMENT) and other text are matched by
 * their own conditions.  The patterns of
 * the *_matches conditions are run over the same window (its safe end, and
 * the carry again at the part's end), so the overlap between chunks is the
 * carry: a pattern match longer than RULES_SCAN_CARRY may be missed.  A
 * pattern that hits the PCRE2 match limit marks its slot undecided (2)
 * until it matches elsewhere.  When the ruleset
 * explains, the first match of each condition is kept as a short excerpt.
 *
 * When the ruleset has sensitive_info conditions (ruleset->sens), the
 * normal form of every text part, body and attachments alike, is also
 * pushed to one sens_scan (sensitive.h), with a space that ends one chunk
 * and starts the next pushed once, and sens_scan_part_end() at each part's
 * end (or when text of another part arrives first).  The model already
 * stops delivering text at the scan limit.  rules_scan_sens() gives the
 * evaluation that state.
 *
 * Whatever the ruleset, the first bytes of every text/plain part that is
 * not an attachment are looked at for an inline PGP message (leading white
 * space, then "-----BEGIN PGP MESSAGE-----"), for already_encrypted
 * (rules_cond_enc.c, through rules_scan_pgp_inline()).
 *
 * The phrase matchers' scratch (a Hyperscan scratch, costly to allocate)
 * is taken from the ruleset's pool and given back when the scan is freed,
 * so a scan allocates one only when every kept one is in use.
 *
 * A failure while scanning (ENOMEM) does not stop the model: it is kept
 * in the scan and reported by the evaluation of a body condition.  The
 * scan is owned by the caller and released by rules_scan_free().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rules/keyword.h"
#include "rules/re_prefilter.h"
#include "rules/rules_cond_int.h"
#include "rules/sensitive.h"
#include "rules/text_norm.h"

#define RULES_SCAN_CARRY (4u * KW_MAX_PHRASE)
#define RULES_SCAN_SPACE_REACH 256u  /* bytes before the cut looked at for a space */
#define RULES_SCAN_NORM_MAX (64u * 1024 * 1024)
#define PGP_BEGIN "-----BEGIN PGP MESSAGE-----"
#define PGP_SKIP_MAX 1024u        /* bytes of leading white space looked past */
#define SCRATCH_POOL_MAX 64       /* scratches a ruleset keeps for reuse */

struct rules_scratch_pool {
    pthread_mutex_t lock;
    struct kw_scratch *s[SCRATCH_POOL_MAX];
    size_t n;
};

struct rules_scan {
    const struct ruleset *rs;
    struct msg_text_sink sink;
    uint64_t bytes;           /* text bytes seen */
    unsigned char *hit;       /* per body condition slot: 1 hit, 2 limit hit */
    unsigned char *cand;      /* per pattern condition (scan_re): may match the window */
    void *md;                 /* pcre2 match data of the pattern conditions */
    char **excerpt;           /* per slot, when explaining */
    size_t nhit;              /* slots hit */
    const struct msg_part *part;  /* the part the carry belongs to */
    char pending[4];          /* an incomplete UTF-8 sequence */
    size_t npending;
    struct buf carry;         /* tail of the part's normal form */
    struct buf norm;          /* scratch: a chunk in normal form */
    struct buf win;           /* scratch: carry + chunk */
    int fault;                /* errno of a failure, 0 when none */
    struct kw_scratch *kws;   /* scratch of the merged phrase matcher */
    struct sens_scan *sens;   /* sensitive_info detectors, NULL when unused */
    int sens_open;            /* text pushed since the last sens part end */
    int sens_space;           /* the last byte pushed was a space */
    const struct msg_part *head_part;  /* the part head[] belongs to */
    size_t nhead;             /* bytes of PGP_BEGIN seen at its start */
    size_t head_skip;         /* white space bytes skipped */
    int head_done;            /* decided for head_part */
    int pgp_inline;           /* a text body starts with PGP_BEGIN */
};

/* utf8_complete - length of the prefix of s[0..len) without an incomplete
 * UTF-8 sequence at its end */
static size_t utf8_complete(const char *s, size_t len)
{
    size_t i = len, need;
    unsigned char c;

    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return len;
    c = (unsigned char)s[i - 1];
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len - (i - 1) < need ? i - 1 : len;
}

/* scan_reset_part - forget the carry of the previous part */
static void scan_reset_part(struct rules_scan *scan, const struct msg_part *part)
{
    if (scan->sens != NULL && scan->sens_open)
        sens_scan_part_end(scan->sens);
    scan->sens_open = 0;
    scan->sens_space = 0;
    buf_reset(&scan->carry);
    scan->npending = 0;
    scan->part = part;
}

/* scan_safe_end - the end of the window without its last run of word
 * characters, which the next chunk may continue (so a phrase ending there
 * is not yet known to end on a word boundary); characters of unspaced
 * scripts are boundaries.  At most RULES_SCAN_CARRY / 2 bytes of a
 * longer run are held back (so the held text always fits the carry). */
static size_t scan_safe_end(const char *w, size_t len)
{
    size_t i = len;

    while (i > 0 && len - i <= RULES_SCAN_CARRY / 2) {
        int32_t cp = text_cp_before(w, i);
        size_t j = i - 1;

        if (cp < 0 || !text_is_word(cp) || text_is_unspaced(cp))
            return i;
        while (j > 0 && ((unsigned char)w[j] & 0xC0) == 0x80)
            j--;
        i = j;
    }
    return i;
}

/* scan_hit - slot i matched w[at .. at + mlen); 0 or -1 */
static int scan_hit(struct rules_scan *scan, size_t i, const char *w, size_t full, size_t at,
                    size_t mlen)
{
    scan->hit[i] = 1;
    scan->nhit++;
    if (scan->rs->explain) {
        struct buf ex = BUF_INIT(RULES_EXCERPT_MAX);

        if (rules_excerpt(&ex, w, full, at, mlen) < 0
            || (scan->excerpt[i] = buf_steal(&ex)) == NULL) {
            buf_free(&ex);
            return -1;
        }
    }
    return 0;
}

struct scan_kw_arg {
    struct rules_scan *scan;
    const char *w;
    size_t full;
    int att;
    int fault;
};

/* scan_on_phrase - the merged matcher found a phrase of slot owner */
static int scan_on_phrase(void *arg, size_t owner, size_t at, size_t mlen)
{
    struct scan_kw_arg *ka = arg;
    struct rules_scan *scan = ka->scan;

    if (scan->hit[owner] == 1 || (scan->rs->scan_conds[owner]->target == BODY_ATTACHMENT) != ka->att)
        return 0;
    if (scan_hit(scan, owner, ka->w, ka->full, at, mlen) < 0) {
        ka->fault = errno ? errno : ENOMEM;
        return 1;
    }
    return 0;
}

/* scan_match - search w[0..len) for every body condition not yet hit that
 * looks at this kind of text: all phrases in one pass, then each pattern
 * the prefilter's pass did not rule out; excerpts may show context up to
 * w[full] */
static int scan_match(struct rules_scan *scan, const char *w, size_t len, size_t full, int att)
{
    const struct ruleset *rs = scan->rs;
    struct scan_kw_arg ka = { scan, w, full, att, 0 };

    if (kw_multi_scan(rs->kw_text, scan->kws, w, len, scan_on_phrase, &ka) < 0)
        return -1;
    if (ka.fault) {
        errno = ka.fault;
        return -1;
    }
    if (rs->re_pre == NULL)
        memset(scan->cand, 1, rs->nscan_re);
    else if (re_pre_scan(rs->re_pre, scan->kws, w, len, scan->cand) < 0)
        return -1;
    for (size_t k = 0; k < rs->nscan_re; k++) {
        size_t i = rs->scan_re[k], at, mlen;
        const struct body_cond *b = rs->scan_conds[i];
        struct rules_ctx rc;
        int r;

        if (!scan->cand[k] || scan->hit[i] == 1 || (b->target == BODY_ATTACHMENT) != att)
            continue;
        memset(&rc, 0, sizeof(rc));
        rc.rs = rs;
        rc.md = scan->md;
        r = re_set_match(b->re, &rc, w, len, &at, &mlen);
        scan->md = rc.md;
        if (r < 0) {
            errno = rc.fault ? rc.fault : ENOMEM;
            return -1;
        }
        if (r == 2)
            scan->hit[i] = 2;
        if (r == 1 && scan_hit(scan, i, w, full, at, mlen) < 0)
            return -1;
    }
    return 0;
}

/* scan_keep_tail - keep the window's last bytes as the carry, from just
 * after a space when one is within 256 bytes before the cut */
static int scan_keep_tail(struct rules_scan *scan)
{
    const char *w = buf_str(&scan->win);
    size_t len = scan->win.len, from = 0;

    if (len > RULES_SCAN_CARRY) {
        size_t cut = len - RULES_SCAN_CARRY;

        from = cut;
        for (size_t j = cut; j > 0 && cut - j < RULES_SCAN_SPACE_REACH; j--) {
            if (w[j - 1] == ' ') {
                from = j;
                break;
            }
        }
        while (from < len && ((unsigned char)w[from] & 0xC0) == 0x80)
            from++;
    }
    buf_reset(&scan->carry);
    return buf_add(&scan->carry, w + from, len - from);
}

/* scan_head - look for PGP_BEGIN at the start of a text body part */
static void scan_head(struct rules_scan *scan, const struct msg_part *part, const char *s,
                      size_t len)
{
    const size_t want = sizeof(PGP_BEGIN) - 1;

    if (part != scan->head_part) {
        scan->head_part = part;
        scan->nhead = 0;
        scan->head_skip = 0;
        scan->head_done = part == NULL || (part->flags & (MSG_PART_ATTACHMENT | MSG_PART_HTML))
            || part->content_type == NULL || strcmp(part->content_type, "text/plain") != 0;
    }
    for (size_t i = 0; i < len && !scan->head_done; i++) {
        if (scan->nhead == 0 && strchr(" \t\r\n", s[i]) != NULL && s[i] != '\0') {
            scan->head_done = ++scan->head_skip > PGP_SKIP_MAX;
            continue;
        }
        if (s[i] != PGP_BEGIN[scan->nhead]) {
            scan->head_done = 1;
            break;
        }
        scan->nhead++;
        if (scan->nhead == want) {
            scan->pgp_inline = 1;
            scan->head_done = 1;
        }
    }
}

/* scan_text - the sink's text callback: match the chunk */
static int scan_text(void *arg, const struct msg_part *part, const char *utf8, size_t len)
{
    struct rules_scan *scan = arg;
    size_t whole, skip = 0;
    int att = part != NULL && (part->flags & MSG_PART_ATTACHMENT);

    scan->bytes += len;
    if (!scan->pgp_inline)
        scan_head(scan, part, utf8, len);
    if (scan->fault || scan->rs == NULL || len == 0
        || (scan->nhit == scan->rs->nscan && scan->sens == NULL))
        return 0;
    if (part != scan->part)
        scan_reset_part(scan, part);
    buf_reset(&scan->norm);
    buf_reset(&scan->win);
    if (buf_add(&scan->win, scan->pending, scan->npending) < 0
        || buf_add(&scan->win, utf8, len) < 0)
        goto fail;
    whole = utf8_complete(buf_str(&scan->win), scan->win.len);
    scan->npending = scan->win.len - whole;
    if (scan->npending > sizeof(scan->pending))
        scan->npending = 0;
    memcpy(scan->pending, buf_str(&scan->win) + whole, scan->npending);
    if (text_norm(buf_str(&scan->win), whole, &scan->norm) < 0)
        goto fail;
    if (scan->sens != NULL && scan->norm.len > 0) {
        size_t sk = scan->sens_space && buf_str(&scan->norm)[0] == ' ';

        sens_scan_push(scan->sens, buf_str(&scan->norm) + sk, scan->norm.len - sk);
        scan->sens_open = 1;
        scan->sens_space = buf_str(&scan->norm)[scan->norm.len - 1] == ' ';
    }
    if (scan->nhit == scan->rs->nscan)
        return 0;
    buf_reset(&scan->win);
    if (scan->carry.len > 0 && scan->norm.len > 0 && buf_str(&scan->norm)[0] == ' '
        && buf_str(&scan->carry)[scan->carry.len - 1] == ' ')
        skip = 1;
    if (buf_add(&scan->win, buf_str(&scan->carry), scan->carry.len) < 0
        || buf_add(&scan->win, buf_str(&scan->norm) + skip, scan->norm.len - skip) < 0
        || scan_match(scan, buf_str(&scan->win),
                      scan_safe_end(buf_str(&scan->win), scan->win.len), scan->win.len, att) < 0
        || scan_keep_tail(scan) < 0)
        goto fail;
    return 0;
fail:
    scan->fault = errno ? errno : ENOMEM;
    return 0;
}

/* scan_part_end - the sink's end-of-part callback: the text held back at
 * the end is now known to end there; drop the carry */
static void scan_part_end(void *arg, const struct msg_part *part)
{
    struct rules_scan *scan = arg;

    if (!scan->fault && scan->rs != NULL && scan->nhit < scan->rs->nscan && scan->carry.len > 0
        && scan->part == part
        && scan_match(scan, buf_str(&scan->carry), scan->carry.len, scan->carry.len,
                      part != NULL && (part->flags & MSG_PART_ATTACHMENT)) < 0)
        scan->fault = errno ? errno : ENOMEM;
    scan_reset_part(scan, NULL);
}

/* rules_scratch_pool_new - an empty pool */
struct rules_scratch_pool *rules_scratch_pool_new(void)
{
    struct rules_scratch_pool *pool = calloc(1, sizeof(*pool));

    if (pool != NULL && pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        errno = ENOMEM;
        return NULL;
    }
    return pool;
}

/* rules_scratch_pool_free - release the pool and the scratches in it */
void rules_scratch_pool_free(struct rules_scratch_pool *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->n; i++)
        kw_scratch_free(pool->s[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* scratch_get - a scratch for both phrase matchers and the pattern
 * prefilter of rs: a kept one, or new */
static struct kw_scratch *scratch_get(const struct ruleset *rs)
{
    struct kw_scratch *sc = NULL;

    if (rs->pool != NULL) {
        pthread_mutex_lock(&rs->pool->lock);
        if (rs->pool->n > 0)
            sc = rs->pool->s[--rs->pool->n];
        pthread_mutex_unlock(&rs->pool->lock);
        if (sc != NULL)
            return sc;
    }
    if ((sc = kw_scratch_new(rs->kw_text)) != NULL
        && (kw_scratch_grow(sc, rs->kw_subject) < 0 || re_pre_grow_scratch(rs->re_pre, sc) < 0)) {
        kw_scratch_free(sc);
        sc = NULL;
    }
    return sc;
}

/* scratch_put - keep sc for the next scan of rs, or free it */
static void scratch_put(const struct ruleset *rs, struct kw_scratch *sc)
{
    if (sc != NULL && rs != NULL && rs->pool != NULL) {
        pthread_mutex_lock(&rs->pool->lock);
        if (rs->pool->n < SCRATCH_POOL_MAX) {
            rs->pool->s[rs->pool->n++] = sc;
            sc = NULL;
        }
        pthread_mutex_unlock(&rs->pool->lock);
    }
    kw_scratch_free(sc);
}

/* rules_scan_new - the per-message scan state for ruleset rs */
struct rules_scan *rules_scan_new(const struct ruleset *rs)
{
    struct rules_scan *scan = calloc(1, sizeof(*scan));
    size_t n = rs ? rs->nscan : 0;

    if (scan == NULL)
        return NULL;
    scan->rs = rs;
    scan->sink.text = scan_text;
    scan->sink.part_end = scan_part_end;
    scan->sink.arg = scan;
    /* the carry may start up to RULES_SCAN_SPACE_REACH bytes before the cut */
    buf_init(&scan->carry, RULES_SCAN_CARRY + RULES_SCAN_SPACE_REACH + 8);
    buf_init(&scan->norm, RULES_SCAN_NORM_MAX);
    buf_init(&scan->win, RULES_SCAN_NORM_MAX + RULES_SCAN_CARRY);
    if ((scan->hit = calloc(n ? n : 1, 1)) == NULL
        || (scan->cand = calloc(rs != NULL && rs->nscan_re ? rs->nscan_re : 1, 1)) == NULL
        || (scan->excerpt = calloc(n ? n : 1, sizeof(*scan->excerpt))) == NULL
        || (rs != NULL && (scan->kws = scratch_get(rs)) == NULL)
        || (rs != NULL && rs->sens != NULL && (scan->sens = sens_scan_new(rs->sens)) == NULL)) {
        rules_scan_free(scan);
        return NULL;
    }
    return scan;
}

/* rules_scan_sink - the text sink to hand to msg_model_build() */
const struct msg_text_sink *rules_scan_sink(struct rules_scan *scan)
{
    return scan ? &scan->sink : NULL;
}

/* rules_scan_free - release the scan state */
void rules_scan_free(struct rules_scan *scan)
{
    if (scan == NULL)
        return;
    for (size_t i = 0; scan->excerpt != NULL && scan->rs != NULL && i < scan->rs->nscan; i++)
        free(scan->excerpt[i]);
    free(scan->excerpt);
    free(scan->hit);
    free(scan->cand);
    scratch_put(scan->rs, scan->kws);
    if (scan->md != NULL)
        rules_re_match_data_free(scan->md);
    sens_scan_free(scan->sens);
    buf_free(&scan->carry);
    buf_free(&scan->norm);
    buf_free(&scan->win);
    free(scan);
}

/* rules_scan_result - did body condition slot match (its excerpt in
 * *excerpt, NULL when none)?  1, 2 (undecided: match limit), 0, or -1
 * with errno: scanning failed */
int rules_scan_result(const struct rules_scan *scan, size_t slot, const char **excerpt)
{
    if (excerpt != NULL)
        *excerpt = NULL;
    if (scan == NULL || scan->rs == NULL || slot >= scan->rs->nscan)
        return 0;
    if (scan->fault) {
        errno = scan->fault;
        return -1;
    }
    if (excerpt != NULL)
        *excerpt = scan->excerpt[slot];
    return scan->hit[slot];
}

/* rules_scan_sens - the detector state, its open part settled; 0 or -1 */
int rules_scan_sens(struct rules_scan *scan, const struct sens_scan **out)
{
    *out = NULL;
    if (scan == NULL || scan->sens == NULL)
        return 0;
    if (scan->fault) {
        errno = scan->fault;
        return -1;
    }
    if (scan->sens_open) {
        sens_scan_part_end(scan->sens);
        scan->sens_open = 0;
        scan->sens_space = 0;
    }
    *out = scan->sens;
    return 0;
}

/* rules_scan_scratch - the scan's phrase matcher scratch (it serves the
 * subject's matcher too), NULL without a scan */
struct kw_scratch *rules_scan_scratch(struct rules_scan *scan)
{
    return scan ? scan->kws : NULL;
}

/* rules_scan_pgp_inline - did a text body start with an inline PGP message? */
int rules_scan_pgp_inline(const struct rules_scan *scan)
{
    return scan != NULL && scan->pgp_inline;
}
