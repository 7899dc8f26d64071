/*
 * sensitive - sets of sensitive-data detectors and the streaming scan (see
 * sensitive.h for the interface, the types, confidence and the caps).
 *
 * One pass over the bytes drives three machines:
 *   - a tokenizer: maximal runs of ASCII letters and digits, each with the
 *     single separator (' ' or '-') before it; two separators in a row or
 *     any other character end the run.  A token of 7 or more digits is
 *     checked on its own at once; shorter digit tokens joined by the same
 *     separator form a digit group sequence, checked as a whole when it
 *     ends (credit_card, us_ssn, de_tax_id, aba_routing); a token shaped like
 *     the start of an IBAN starts an IBAN, completed from groups of 4 up to
 *     its country's length.
 *   - a keyword automaton (Aho-Corasick as a full transition table over
 *     byte classes) for the keywords of all entries; ASCII other than
 *     letters and digits is one boundary class, runs of it fold to one, and
 *     every keyword is stored as boundary + keyword + boundary.  Each hit is
 *     remembered per entry (the last SENS_KW_RECENT) and upgrades pending
 *     matches within the entry's proximity.
 *   - custom patterns, run by PCRE2 over a window of the last
 *     SENS_CUSTOM_SLICE new bytes plus SENS_CUSTOM_MAX_MATCH bytes of carry
 *     (and 64 bytes of look-behind context).  Their matches are decided
 *     later than the automaton runs, so keyword hits of custom entries are
 *     queued and applied in text order between their matches.
 * While nothing is open (no digit group, IBAN or pending match) and no
 * custom type is used, text without digits only waits in a bounded
 * look-back and is run through the machines when a digit follows (see
 * "Lazy scanning" below); runs of ASCII letters are taken a word at a time.
 * A validated match is settled HIGH at once when a remembered keyword hit
 * is within the proximity; otherwise it waits in the entry's pending queue
 * until a keyword arrives or the text has moved past its proximity, then
 * is settled LOW.  Positions are counted in code points (bytes that are not
 * UTF-8 continuation bytes).
 *
 * The set owns its copies of names, keywords and compiled patterns.  All
 * scan memory is allocated in sens_scan_new(); pushing allocates only
 * inside pcre2_match() (backtracking frames kept in the match data, at most
 * SENS_HEAP_LIMIT_KB).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules/sensitive.h"
#include "rules/sensitive_int.h"

enum { T_CARD, T_IBAN, T_SSN, T_DETAX, T_ABA, T_NBUILTIN };

#define CLS_OTHER 0               /* a byte in no keyword */
#define CLS_BOUND 1               /* ASCII other than letters and digits */
#define CUSTOM_CTX 64             /* bytes of look-behind kept for patterns */
#define WIN_CAP (CUSTOM_CTX + SENS_CUSTOM_MAX_MATCH + SENS_CUSTOM_SLICE)
#define MAX_STATES 65535u
#define LAZY_MIN_CAP (16u * 1024) /* bytes of look-back at least */

typedef unsigned long long spos;  /* a position in code points */

static const char *const kw_card[] = {
    "credit card", "card number", "card no", "card num", "cc number", "ccn", "visa",
    "mastercard", "amex", "american express", "discover", "jcb", "diners", "maestro",
    "unionpay", "cvv", "cvc", "expiry", "expiration", "kreditkarte", "kartennummer",
    "carte bancaire", "carte de credit", "numero de carte", "tarjeta", NULL
};
static const char *const kw_iban[] = {
    "iban", "bic", "swift", "bank account", "account number", "bank details",
    "bankverbindung", "kontonummer", "konto", "rib", "coordonnees bancaires", NULL
};
static const char *const kw_ssn[] = {
    "ssn", "ssns", "ss#", "ss #", "social security", "social security number",
    "social security no", "soc sec", "taxpayer id", NULL
};
static const char *const kw_detax[] = {
    "steuer-id", "steuerid", "steuer-identifikationsnummer", "steueridentifikationsnummer",
    "steuerliche identifikationsnummer", "identifikationsnummer", "idnr", "tax id",
    "tin", "steuernummer", NULL
};
static const char *const kw_aba[] = {
    "routing", "routing number", "routing no", "aba", "aba number", "rtn",
    "routing transit", "transit number", "bank", "wire", "ach", NULL
};

/* The built-in types, indexed by T_*. */
static const struct builtin {
    const char *name;
    sens_check_fn check;
    const char *const *keywords;
} builtins[T_NBUILTIN] = {
    { "credit_card", sens_check_card, kw_card },
    { "iban", sens_check_iban, kw_iban },
    { "us_ssn", sens_check_ssn, kw_ssn },
    { "de_tax_id", sens_check_de_tax_id, kw_detax },
    { "aba_routing", sens_check_aba, kw_aba },
};

struct custom {
    char name[SENS_MAX_NAME];
    pcre2_code *code;
    sens_check_fn check;
    char **kw;
    size_t nkw;
    long prox;
};

struct entry {
    int builtin;              /* T_* or -1 */
    int custom;               /* index in customs or -1 */
    char **kw;                /* lower-cased copies */
    size_t nkw;
    long prox;
};

struct out_node {
    uint16_t entry;
    uint16_t kwcp;            /* code points between the boundaries */
    uint32_t next;            /* index + 1 of the next node, 0 ends */
};

struct sens_set {
    struct entry entries[SENS_MAX_ENTRIES];
    size_t nentries;
    struct custom customs[SENS_MAX_CUSTOM];
    size_t ncustom;
    unsigned used_builtin;    /* bit per T_* used by an entry */
    size_t kw_bytes;
    int compiled;
    pcre2_match_context *mctx;
    /* keyword automaton */
    unsigned char cls[256];
    size_t nclass;
    size_t nstates;
    uint16_t *delta;          /* [state * nclass + class] */
    uint32_t *out_head;       /* per state: index + 1 of its first out_node */
    uint16_t *dict;           /* per state: next state on the failure chain with outputs */
    struct out_node *outs;
    size_t nouts;
    spos max_kwcp;
    uint16_t fresh;           /* the state after a boundary with no keyword under way */
    uint16_t *fresh2;         /* [class1 * nclass + class2]: from fresh, after two classes */
    /* lazy scanning (see lazy_push()): 0 when off (custom types) */
    size_t lazy_cap;          /* bytes of look-back kept */
    spos lazy_reach;          /* code points a keyword hit can matter before a candidate */
    size_t lazy_depth;        /* symbols of the longest keyword: the automaton's memory */
};

struct tok {
    char text[SENS_MAX_TOKEN + 1];
    size_t len;
    size_t ndigit;
    int toolong;
    char sep;                 /* separator before it in the run, 0 at the start */
    spos start, end;
};

struct pending {
    spos start, end;
    int live;
    int kw_required;
    char excerpt[SENS_EXCERPT_MAX];
};

struct entry_state {
    size_t count[2];
    char ex[SENS_MAX_EXCERPTS][SENS_EXCERPT_MAX];
    enum sens_conf ex_conf[SENS_MAX_EXCERPTS];
    size_t nex;
    spos kw_start[SENS_KW_RECENT], kw_end[SENS_KW_RECENT];
    size_t nkw, kw_next;      /* hits remembered; ring slot for the next */
    struct pending pend[SENS_MAX_PENDING];
    size_t phead, pcount;
    /* custom entries: hits not yet applied, since their matches are
     * decided later than the keyword automaton runs */
    spos *hq_start, *hq_end;
    size_t hq_head, hq_count;
};

struct sens_scan {
    const struct sens_set *set;
    struct entry_state *es;
    size_t npending;          /* live pending matches over all entries */
    spos pos;                 /* code point index of the next character */
    /* keyword automaton */
    size_t ac;
    int prev_bound;
    /* tokenizer */
    struct tok cur;
    int in_tok;
    int run_open;
    char pending_sep;
    /* digit group sequence */
    struct tok seq[SENS_MAX_GROUPS];
    size_t nseq;
    int seq_broken;
    char seq_sep;
    /* IBAN in groups */
    int ib_active;
    int ib_expect;
    size_t ib_n;              /* letters and digits so far */
    char ib_raw[SENS_MAX_VALUE + SENS_MAX_GROUPS + 8];
    size_t ib_rawlen;
    size_t ib_groups;
    spos ib_start, ib_end;
    /* custom patterns */
    char *win;
    size_t winlen;
    size_t win_done;          /* no new match may start before this offset */
    size_t win_new;           /* bytes appended since the last run */
    spos win_cp0;             /* code point index of win[0] */
    size_t *cust_next;        /* per custom: offset after its last match */
    pcre2_match_data **md;
    int truncated;
    int reference;            /* sens_scan_reference(): no fast paths */
    /* lazy scanning: text kept back while nothing is open and no digit came */
    int lazy;                 /* text goes to lb, not through the machines */
    int catching;             /* lb is being scanned: no lazy mode inside */
    unsigned char *lb;        /* set->lazy_cap bytes */
    size_t lblen;
    spos lb_cp0;              /* code point index of lb[0] */
    int lb_exact;             /* the lz_* state below is the one at lb[0] */
    size_t lz_ac;
    int lz_pb, lz_run_open;
    char lz_sep;
};

/* sens_builtin_name - the i-th built-in type name */
const char *sens_builtin_name(size_t i)
{
    return i < T_NBUILTIN ? builtins[i].name : NULL;
}

static int set_err(struct sens_error *err, int e, long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* set_err - fills err (when given) and errno; returns -1 */
static int set_err(struct sens_error *err, int e, long offset, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->offset = offset;
    }
    errno = e;
    return -1;
}

/* is_alnum - ASCII letter or digit */
static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* free_words - frees an array of n strings and the array */
static void free_words(char **w, size_t n)
{
    if (!w)
        return;
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

/* copy_keywords - checked, lower-cased copies of keywords */
static int copy_keywords(struct sens_set *set, const char *const *kw, size_t nkw,
                         char ***out, struct sens_error *err)
{
    char **w;
    size_t bytes = 0;

    *out = NULL;
    if (nkw > SENS_MAX_KEYWORDS)
        return set_err(err, E2BIG, -1, "more than 64 keywords");
    if (nkw == 0)
        return 0;
    for (size_t i = 0; i < nkw; i++) {
        size_t len, alnum = 0;
        if (!kw[i])
            return set_err(err, EINVAL, -1, "missing keyword");
        len = strlen(kw[i]);
        if (len > SENS_MAX_KEYWORD_LEN)
            return set_err(err, E2BIG, -1, "keyword \"%.40s\" is too long", kw[i]);
        for (size_t j = 0; j < len; j++)
            if ((unsigned char)kw[i][j] >= 0x80 || is_alnum((unsigned char)kw[i][j]))
                alnum++;
        if (alnum == 0)
            return set_err(err, EINVAL, -1, "keyword \"%.40s\" has no letters or digits", kw[i]);
        bytes += len;
    }
    if (set->kw_bytes + bytes > SENS_MAX_KW_BYTES)
        return set_err(err, E2BIG, -1, "keywords exceed 8192 bytes");
    w = calloc(nkw, sizeof(*w));
    if (!w)
        return set_err(err, ENOMEM, -1, "out of memory");
    for (size_t i = 0; i < nkw; i++) {
        w[i] = strdup(kw[i]);
        if (!w[i]) {
            free_words(w, nkw);
            return set_err(err, ENOMEM, -1, "out of memory");
        }
        for (char *p = w[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    set->kw_bytes += bytes;
    *out = w;
    return 0;
}

/* count_list - entries of a NULL-terminated list */
static size_t count_list(const char *const *l)
{
    size_t n = 0;

    while (l[n])
        n++;
    return n;
}

/* sens_set_new - an empty set */
struct sens_set *sens_set_new(void)
{
    return calloc(1, sizeof(struct sens_set));
}

/* find_custom - index of the custom type called name, or -1 */
static int find_custom(const struct sens_set *set, const char *name)
{
    for (size_t i = 0; i < set->ncustom; i++)
        if (strcmp(set->customs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* find_builtin - index of the built-in type called name, or -1 */
static int find_builtin(const char *name)
{
    for (int i = 0; i < T_NBUILTIN; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return i;
    return -1;
}

/* sens_set_custom - compiles and declares a custom type */
int sens_set_custom(struct sens_set *set, const char *name, const char *pattern,
                    const char *validator, const char *const *keywords,
                    size_t nkw, long proximity, struct sens_error *err)
{
    struct custom *c;
    int errcode;
    PCRE2_SIZE erroff;
    size_t plen;

    if (err) {
        err->msg[0] = '\0';
        err->offset = -1;
    }
    if (!set || set->compiled || !name || !pattern)
        return set_err(err, EINVAL, -1, "invalid call");
    if (!*name || strlen(name) >= SENS_MAX_NAME)
        return set_err(err, EINVAL, -1, "bad custom type name \"%.40s\"", name);
    if (find_builtin(name) >= 0 || find_custom(set, name) >= 0)
        return set_err(err, EEXIST, -1, "type \"%.40s\" already exists", name);
    if (set->ncustom >= SENS_MAX_CUSTOM)
        return set_err(err, E2BIG, -1, "more than 32 custom types");
    if (proximity > SENS_MAX_PROXIMITY)
        return set_err(err, E2BIG, -1, "proximity above 4096");
    plen = strlen(pattern);
    if (plen == 0 || plen > SENS_MAX_PATTERN)
        return set_err(err, EINVAL, -1, "pattern is empty or longer than 4096 bytes");
    c = &set->customs[set->ncustom];
    memset(c, 0, sizeof(*c));
    c->check = sens_check_lookup(validator ? validator : "none");
    if (!c->check)
        return set_err(err, EINVAL, -1, "unknown validator \"%.40s\"", validator);
    c->code = pcre2_compile((PCRE2_SPTR)pattern, plen, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                            &errcode, &erroff, NULL);
    if (!c->code) {
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        return set_err(err, EINVAL, (long)erroff, "bad pattern: %s", (const char *)msg);
    }
    {
        uint32_t minlen = 0;
        if (pcre2_pattern_info(c->code, PCRE2_INFO_MINLENGTH, &minlen) == 0 && minlen == 0) {
            pcre2_code_free(c->code);
            c->code = NULL;
            return set_err(err, EINVAL, 0, "pattern can match an empty string");
        }
    }
    (void)pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);   /* interpreter when JIT is missing */
    if (keywords && copy_keywords(set, keywords, nkw, &c->kw, err) < 0) {
        pcre2_code_free(c->code);
        c->code = NULL;
        return -1;
    }
    c->nkw = keywords ? nkw : 0;
    c->prox = proximity < 0 ? SENS_DEFAULT_PROXIMITY : proximity;
    snprintf(c->name, sizeof(c->name), "%s", name);
    set->ncustom++;
    return 0;
}

/* same_entry - index of an entry with this type, these keywords (compared
 * as lower-cased) and this proximity, or -1: conditions that ask the same
 * share one entry, so a large rule set stays within the caps */
static long same_entry(const struct sens_set *set, int b, int c, const char *const *kw,
                       size_t nkw, long prox)
{
    for (size_t i = 0; i < set->nentries; i++) {
        const struct entry *e = &set->entries[i];
        size_t k = 0;

        if (e->builtin != b || e->custom != c || e->nkw != nkw || e->prox != prox)
            continue;
        while (k < nkw && strlen(kw[k]) == strlen(e->kw[k])) {
            size_t j = 0;

            while (kw[k][j] && (kw[k][j] >= 'A' && kw[k][j] <= 'Z'
                                ? kw[k][j] - 'A' + 'a' : kw[k][j]) == e->kw[k][j])
                j++;
            if (kw[k][j])
                break;
            k++;
        }
        if (k == nkw)
            return (long)i;
    }
    return -1;
}

/* sens_set_add - adds an entry for a type (or finds the same one) */
long sens_set_add(struct sens_set *set, const char *type, const char *const *keywords,
                  size_t nkw, long proximity, struct sens_error *err)
{
    struct entry *e;
    long e_same;
    int b, c;

    if (err) {
        err->msg[0] = '\0';
        err->offset = -1;
    }
    if (!set || set->compiled || !type)
        return set_err(err, EINVAL, -1, "invalid call");
    if (proximity > SENS_MAX_PROXIMITY)
        return set_err(err, E2BIG, -1, "proximity above 4096");
    b = find_builtin(type);
    c = b < 0 ? find_custom(set, type) : -1;
    if (b < 0 && c < 0)
        return set_err(err, ENOENT, -1, "unknown sensitive type \"%.40s\"", type);
    if (!keywords) {
        if (b >= 0) {
            keywords = builtins[b].keywords;
            nkw = count_list(keywords);
        } else {
            keywords = (const char *const *)set->customs[c].kw;
            nkw = set->customs[c].nkw;
        }
    }
    if (proximity < 0)
        proximity = b >= 0 ? SENS_DEFAULT_PROXIMITY : set->customs[c].prox;
    for (size_t k = 0; k < nkw; k++)
        if (keywords[k] == NULL)
            return set_err(err, EINVAL, -1, "missing keyword");
    if ((e_same = same_entry(set, b, c, keywords, nkw, proximity)) >= 0)
        return e_same;
    if (set->nentries >= SENS_MAX_ENTRIES)
        return set_err(err, E2BIG, -1, "more than 64 different sensitive_info items");
    e = &set->entries[set->nentries];
    memset(e, 0, sizeof(*e));
    e->builtin = b;
    e->custom = c;
    if (copy_keywords(set, keywords, nkw, &e->kw, err) < 0)
        return -1;
    e->nkw = nkw;
    e->prox = proximity;
    if (b >= 0)
        set->used_builtin |= 1u << b;
    return (long)set->nentries++;
}

/* kw_symbols - the class sequence of a keyword (boundary, keyword with
 * boundary runs folded, boundary) into sym; its length, and in *cp the
 * code points between the outer boundaries */
static size_t kw_symbols(const struct sens_set *set, const char *kw, uint16_t *sym, size_t *cp)
{
    size_t n = 0;

    *cp = 0;
    sym[n++] = CLS_BOUND;
    for (const unsigned char *p = (const unsigned char *)kw; *p; p++) {
        uint16_t c = set->cls[*p];
        if (c == CLS_BOUND && sym[n - 1] == CLS_BOUND)
            continue;
        sym[n++] = c;
        if ((*p & 0xc0) != 0x80)
            (*cp)++;
    }
    if (sym[n - 1] != CLS_BOUND)
        sym[n++] = CLS_BOUND;
    else
        (*cp)--;              /* the trailing boundary was counted */
    return n;
}

/* sens_set_compile - builds the keyword automaton over all entries */
int sens_set_compile(struct sens_set *set, struct sens_error *err)
{
    size_t maxstates = 1, next = 1, nout = 0, qh = 0, qt = 0;
    uint16_t sym[SENS_MAX_KEYWORD_LEN + 3];
    uint16_t *fail = NULL, *queue = NULL;

    if (err) {
        err->msg[0] = '\0';
        err->offset = -1;
    }
    if (!set || set->compiled)
        return set_err(err, EINVAL, -1, "invalid call");
    /* byte classes: ASCII non-alnum is the boundary; keyword bytes get their own */
    set->nclass = 2;
    for (int b = 0; b < 128; b++)
        set->cls[b] = is_alnum((unsigned char)b) ? CLS_OTHER : CLS_BOUND;
    for (size_t i = 0; i < set->nentries; i++)
        for (size_t k = 0; k < set->entries[i].nkw; k++) {
            for (const unsigned char *p = (const unsigned char *)set->entries[i].kw[k]; *p; p++)
                if ((*p >= 0x80 || is_alnum(*p)) && set->cls[*p] == CLS_OTHER)
                    set->cls[*p] = (unsigned char)set->nclass++;
            maxstates += strlen(set->entries[i].kw[k]) + 2;
            nout++;
        }
    for (int b = 'A'; b <= 'Z'; b++)
        set->cls[b] = set->cls[b - 'A' + 'a'];
    if (maxstates > MAX_STATES)
        return set_err(err, E2BIG, -1, "keywords too large");
    set->delta = calloc(maxstates * set->nclass, sizeof(uint16_t));
    set->out_head = calloc(maxstates, sizeof(uint32_t));
    set->dict = calloc(maxstates, sizeof(uint16_t));
    set->outs = calloc(nout ? nout : 1, sizeof(struct out_node));
    fail = calloc(maxstates, sizeof(uint16_t));
    queue = calloc(maxstates, sizeof(uint16_t));
    if (!set->delta || !set->out_head || !set->dict || !set->outs || !fail || !queue) {
        free(fail);
        free(queue);
        return set_err(err, ENOMEM, -1, "out of memory");
    }
    /* trie */
    for (size_t i = 0; i < set->nentries; i++)
        for (size_t k = 0; k < set->entries[i].nkw; k++) {
            size_t cp, n = kw_symbols(set, set->entries[i].kw[k], sym, &cp), s = 0;
            struct out_node *o;
            for (size_t j = 0; j < n; j++) {
                uint16_t *t = &set->delta[s * set->nclass + sym[j]];
                if (*t == 0)
                    *t = (uint16_t)next++;
                s = *t;
            }
            o = &set->outs[set->nouts];
            o->entry = (uint16_t)i;
            o->kwcp = (uint16_t)cp;
            o->next = set->out_head[s];
            set->out_head[s] = (uint32_t)++set->nouts;
            if (cp > set->max_kwcp)
                set->max_kwcp = cp;
        }
    set->nstates = next;
    /* failure links, completed into a full transition table */
    for (size_t c = 0; c < set->nclass; c++) {
        uint16_t t = set->delta[c];
        if (t) {
            fail[t] = 0;
            queue[qt++] = t;
        }
    }
    while (qh < qt) {
        uint16_t s = queue[qh++];
        set->dict[s] = set->out_head[fail[s]] ? fail[s] : set->dict[fail[s]];
        for (size_t c = 0; c < set->nclass; c++) {
            uint16_t *t = &set->delta[s * set->nclass + c];
            uint16_t f = set->delta[fail[s] * set->nclass + c];
            if (*t) {
                fail[*t] = f;
                queue[qt++] = *t;
            } else {
                *t = f;
            }
        }
    }
    free(fail);
    free(queue);
    /* most words start from fresh and leave the automaton within two letters */
    set->fresh = set->delta[CLS_BOUND];
    if (!(set->fresh2 = calloc(set->nclass * set->nclass, sizeof(uint16_t))))
        return set_err(err, ENOMEM, -1, "out of memory");
    for (size_t c1 = 0; c1 < set->nclass; c1++) {
        uint16_t s1 = set->delta[set->fresh * set->nclass + c1];

        for (size_t c2 = 0; c2 < set->nclass; c2++)
            set->fresh2[c1 * set->nclass + c2] = set->delta[s1 * set->nclass + c2];
    }
    /* lazy scanning needs every match to come from the tokenizer, so none
     * with custom types; a keyword hit matters to a candidate within the
     * largest proximity (plus the keyword and a token before the digit) */
    if (set->ncustom == 0) {
        spos prox = 0;

        for (size_t i = 0; i < set->nentries; i++)
            if (set->entries[i].nkw > 0 && (spos)set->entries[i].prox > prox)
                prox = (spos)set->entries[i].prox;
        set->lazy_reach = prox + set->max_kwcp + SENS_MAX_TOKEN + 8;
        set->lazy_depth = 0;
        for (size_t i = 0; i < set->nentries; i++)
            for (size_t k = 0; k < set->entries[i].nkw; k++) {
                size_t cp, n = kw_symbols(set, set->entries[i].kw[k], sym, &cp);

                if (n > set->lazy_depth)
                    set->lazy_depth = n;
            }
        /* four bytes per code point at most; at least 16 KiB, so that lb is
         * trimmed (a walk back over what it keeps) once per many bytes */
        set->lazy_cap = 4 * ((size_t)set->lazy_reach + set->lazy_depth) + 256;
        if (set->lazy_cap < LAZY_MIN_CAP)
            set->lazy_cap = LAZY_MIN_CAP;
    }
    if (!(set->mctx = pcre2_match_context_create(NULL)))
        return set_err(err, ENOMEM, -1, "out of memory");
    pcre2_set_match_limit(set->mctx, SENS_MATCH_LIMIT);
    pcre2_set_depth_limit(set->mctx, SENS_DEPTH_LIMIT);
    pcre2_set_heap_limit(set->mctx, SENS_HEAP_LIMIT_KB);
    set->compiled = 1;
    return 0;
}

/* sens_set_entries - number of entries */
size_t sens_set_entries(const struct sens_set *set)
{
    return set ? set->nentries : 0;
}

/* sens_set_entry_type - the type name of an entry, NULL past the end */
const char *sens_set_entry_type(const struct sens_set *set, size_t entry)
{
    const struct entry *e;

    if (!set || entry >= set->nentries)
        return NULL;
    e = &set->entries[entry];
    return e->builtin >= 0 ? builtins[e->builtin].name : set->customs[e->custom].name;
}

/* sens_set_free - releases the set */
void sens_set_free(struct sens_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nentries; i++)
        free_words(set->entries[i].kw, set->entries[i].nkw);
    for (size_t i = 0; i < set->ncustom; i++) {
        free_words(set->customs[i].kw, set->customs[i].nkw);
        pcre2_code_free(set->customs[i].code);
    }
    pcre2_match_context_free(set->mctx);
    free(set->delta);
    free(set->out_head);
    free(set->dict);
    free(set->outs);
    free(set->fresh2);
    free(set);
}

/* ---- scanning ---- */

/* copy_excerpt - copies an excerpt into a SENS_EXCERPT_MAX array */
static void copy_excerpt(char *dst, const char *src)
{
    size_t n = strnlen(src, SENS_EXCERPT_MAX - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* settle - counts a match of an entry at conf and keeps its excerpt */
static void settle(struct sens_scan *sc, size_t e, enum sens_conf conf,
                   const char *excerpt, int kw_required)
{
    struct entry_state *es = &sc->es[e];

    if (kw_required && conf == SENS_LOW)
        return;
    if (es->count[conf] < SIZE_MAX)
        es->count[conf]++;
    if (es->nex < SENS_MAX_EXCERPTS) {
        copy_excerpt(es->ex[es->nex], excerpt);
        es->ex_conf[es->nex++] = conf;
    }
}

/* gap - code points between a keyword hit and a match, 0 when they overlap */
static spos gap(spos ks, spos ke, spos ms, spos me)
{
    if (ke <= ms)
        return ms - ke;
    if (ks >= me)
        return ks - me;
    return 0;
}

/* pend_pop_dead - drops settled matches from the head of the queue */
static void pend_pop_dead(struct entry_state *es)
{
    while (es->pcount && !es->pend[es->phead].live) {
        es->phead = (es->phead + 1) % SENS_MAX_PENDING;
        es->pcount--;
    }
}

/* settle_head - settles the oldest pending match of an entry as LOW */
static void settle_head(struct sens_scan *sc, size_t e)
{
    struct entry_state *es = &sc->es[e];
    struct pending *p = &es->pend[es->phead];

    if (p->live) {
        settle(sc, e, SENS_LOW, p->excerpt, p->kw_required);
        p->live = 0;
        sens_wipe(p->excerpt, sizeof(p->excerpt));
        sc->npending--;
    }
    es->phead = (es->phead + 1) % SENS_MAX_PENDING;
    es->pcount--;
    pend_pop_dead(es);
}

/* add_match - a validated match of entry e: HIGH now when a remembered
 * keyword is near, LOW now when the entry has no keywords, else pending */
static void add_match(struct sens_scan *sc, size_t e, spos start, spos end,
                      const char *excerpt, int kw_required)
{
    const struct entry *en = &sc->set->entries[e];
    struct entry_state *es = &sc->es[e];
    struct pending *p;

    if (en->nkw == 0) {
        settle(sc, e, SENS_LOW, excerpt, kw_required);
        return;
    }
    for (size_t i = 0; i < es->nkw; i++)
        if (gap(es->kw_start[i], es->kw_end[i], start, end) <= (spos)en->prox) {
            settle(sc, e, SENS_HIGH, excerpt, kw_required);
            return;
        }
    if (es->pcount == SENS_MAX_PENDING)
        settle_head(sc, e);
    p = &es->pend[(es->phead + es->pcount) % SENS_MAX_PENDING];
    p->start = start;
    p->end = end;
    p->live = 1;
    p->kw_required = kw_required;
    copy_excerpt(p->excerpt, excerpt);
    es->pcount++;
    sc->npending++;
}

/* expire_entry - settles as LOW the pending matches of an entry that no
 * keyword can reach once the text up to `pos` is known */
static void expire_entry(struct sens_scan *sc, size_t e, spos pos)
{
    struct entry_state *es = &sc->es[e];
    spos reach = (spos)sc->set->entries[e].prox + sc->set->max_kwcp + 2;

    while (es->pcount && es->pend[es->phead].end + reach < pos)
        settle_head(sc, e);
}

/* expire - settles as LOW the pending built-in matches no keyword can reach */
static void expire(struct sens_scan *sc)
{
    const struct sens_set *set = sc->set;

    if (!sc->npending)
        return;
    for (size_t e = 0; e < set->nentries; e++)
        if (set->entries[e].custom < 0)
            expire_entry(sc, e, sc->pos);
}

/* apply_hit - remembers a hit for an entry and upgrades pending matches */
static void apply_hit(struct sens_scan *sc, size_t e, spos ks, spos ke)
{
    struct entry_state *es = &sc->es[e];
    spos prox = (spos)sc->set->entries[e].prox;

    es->kw_start[es->kw_next] = ks;
    es->kw_end[es->kw_next] = ke;
    es->kw_next = (es->kw_next + 1) % SENS_KW_RECENT;
    if (es->nkw < SENS_KW_RECENT)
        es->nkw++;
    for (size_t i = 0; i < es->pcount; i++) {
        struct pending *p = &es->pend[(es->phead + i) % SENS_MAX_PENDING];
        if (p->live && gap(ks, ke, p->start, p->end) <= prox) {
            settle(sc, e, SENS_HIGH, p->excerpt, p->kw_required);
            p->live = 0;
            sens_wipe(p->excerpt, sizeof(p->excerpt));
            sc->npending--;
        }
    }
    pend_pop_dead(es);
}

/* flush_hits - applies the queued hits of a custom entry that end at or
 * before `upto` */
static void flush_hits(struct sens_scan *sc, size_t e, spos upto)
{
    struct entry_state *es = &sc->es[e];

    while (es->hq_count && es->hq_end[es->hq_head] <= upto) {
        spos ks = es->hq_start[es->hq_head], ke = es->hq_end[es->hq_head];
        es->hq_head = (es->hq_head + 1) % SENS_CUSTOM_HITQ;
        es->hq_count--;
        apply_hit(sc, e, ks, ke);
    }
}

/* keyword_hit - a hit for an entry: applied now, or for a custom entry
 * queued until its matches up to there are decided */
static void keyword_hit(struct sens_scan *sc, size_t e, spos ks, spos ke)
{
    struct entry_state *es = &sc->es[e];

    if (sc->set->entries[e].custom < 0) {
        apply_hit(sc, e, ks, ke);
        return;
    }
    if (es->hq_count == SENS_CUSTOM_HITQ)
        flush_hits(sc, e, es->hq_end[es->hq_head]);       /* full: apply the oldest */
    es->hq_start[(es->hq_head + es->hq_count) % SENS_CUSTOM_HITQ] = ks;
    es->hq_end[(es->hq_head + es->hq_count) % SENS_CUSTOM_HITQ] = ke;
    es->hq_count++;
}

/* ac_report - the keyword hits of automaton state `state` after a boundary at cur */
static void ac_report(struct sens_scan *sc, size_t state, spos cur)
{
    const struct sens_set *set = sc->set;

    for (size_t s = state; s; s = set->dict[s])
        for (uint32_t o = set->out_head[s]; o; o = set->outs[o - 1].next) {
            const struct out_node *n = &set->outs[o - 1];
            keyword_hit(sc, n->entry, cur >= n->kwcp ? cur - n->kwcp : 0, cur);
        }
}

/* ac_feed - one class into the keyword automaton at code point cur */
static void ac_feed(struct sens_scan *sc, unsigned cls, spos cur)
{
    const struct sens_set *set = sc->set;

    if (cls == CLS_BOUND) {
        if (sc->prev_bound)
            return;
        sc->prev_bound = 1;
    } else {
        sc->prev_bound = 0;
    }
    sc->ac = set->delta[sc->ac * set->nclass + cls];
    if (cls == CLS_BOUND && (set->out_head[sc->ac] || set->dict[sc->ac]))
        ac_report(sc, sc->ac, cur);
}

/* emit_builtin - a validated built-in match: redacted, given to its entries */
static void emit_builtin(struct sens_scan *sc, int type, spos start, spos end,
                         const char *raw, size_t rawlen, int kw_required)
{
    char excerpt[SENS_EXCERPT_MAX];

    sens_redact(raw, rawlen, excerpt, sizeof(excerpt));
    for (size_t e = 0; e < sc->set->nentries; e++)
        if (sc->set->entries[e].builtin == type)
            add_match(sc, e, start, end, excerpt, kw_required);
}

/* uses - 1 when the set has an entry of built-in type t */
static int uses(const struct sens_scan *sc, int t)
{
    return (sc->set->used_builtin >> t) & 1u;
}

/* card_shape - groups of a card: one, 4-...-4-(1..4), 4-6-5 or 4-6-4 */
static int card_shape(const size_t *len, size_t n)
{
    if (n == 1)
        return 1;
    if (n == 3 && len[0] == 4 && len[1] == 6 && (len[2] == 5 || len[2] == 4))
        return 1;
    for (size_t i = 0; i + 1 < n; i++)
        if (len[i] != 4)
            return 0;
    return len[n - 1] >= 1 && len[n - 1] <= 4;
}

/* check_digits - checks k digit groups joined by sep against the digit
 * types; 1 when one of them matched */
static int check_digits(struct sens_scan *sc, const struct tok *g, size_t k, char sep)
{
    char v[SENS_MAX_VALUE + 1], raw[SENS_MAX_VALUE + SENS_MAX_GROUPS + 1];
    size_t len[SENS_MAX_GROUPS], n = 0, r = 0;
    spos start = g[0].start, end = g[k - 1].end;
    int hit = 0;

    for (size_t i = 0; i < k; i++) {
        if (n + g[i].len > SENS_MAX_VALUE)
            return 0;
        if (i)
            raw[r++] = sep;
        memcpy(v + n, g[i].text, g[i].len);
        memcpy(raw + r, g[i].text, g[i].len);
        n += g[i].len;
        r += g[i].len;
        len[i] = g[i].len;
    }
    v[n] = '\0';
    if (uses(sc, T_CARD) && n >= 13 && n <= 19 && card_shape(len, k) && sens_check_card(v, n))
        hit = 1, emit_builtin(sc, T_CARD, start, end, raw, r, 0);
    if (uses(sc, T_SSN) && n == 9 && (k == 1 || (k == 3 && len[0] == 3 && len[1] == 2))
        && sens_check_ssn(v, n))
        hit = 1, emit_builtin(sc, T_SSN, start, end, raw, r, !(k == 3 && sep == '-'));
    if (uses(sc, T_DETAX) && n == 11
        && (k == 1 || (k == 4 && len[0] == 2 && len[1] == 3 && len[2] == 3))
        && sens_check_de_tax_id(v, n))
        hit = 1, emit_builtin(sc, T_DETAX, start, end, raw, r, 0);
    if (uses(sc, T_ABA) && n == 9 && k == 1 && sens_check_aba(v, n))
        hit = 1, emit_builtin(sc, T_ABA, start, end, raw, r, 0);
    sens_wipe(v, sizeof(v));
    sens_wipe(raw, sizeof(raw));
    return hit;
}

/* seq_finish - checks a finished sequence of short digit groups (at most
 * 6 digits each) as a whole; 1 when it matched */
static int seq_finish(struct sens_scan *sc)
{
    size_t k = sc->nseq;
    int hit = 0;

    if (k > 1 && !sc->seq_broken)
        hit = check_digits(sc, sc->seq, k, sc->seq_sep);
    for (size_t i = 0; i < k; i++)
        sens_wipe(sc->seq[i].text, sc->seq[i].len);
    sc->nseq = 0;
    sc->seq_broken = 0;
    sc->seq_sep = 0;
    return hit;
}

/* ib_reset - forgets an IBAN in progress */
static void ib_reset(struct sens_scan *sc)
{
    sc->ib_active = 0;
    sc->ib_n = 0;
    sc->ib_groups = 0;
    sens_wipe(sc->ib_raw, sizeof(sc->ib_raw));
    sc->ib_rawlen = 0;
}

/* ib_check - validates the collected IBAN and emits it */
static void ib_check(struct sens_scan *sc)
{
    char v[SENS_MAX_VALUE + 1];
    size_t n = sens_compact(sc->ib_raw, sc->ib_rawlen, v, sizeof(v));

    if (n < sizeof(v) && sens_check_iban(v, n))
        emit_builtin(sc, T_IBAN, sc->ib_start, sc->ib_end, sc->ib_raw, sc->ib_rawlen, 0);
    sens_wipe(v, sizeof(v));
}

/* ib_token - feeds a token to the IBAN machine */
static void ib_token(struct sens_scan *sc, const struct tok *t)
{
    int len;

    if (sc->ib_active) {
        if (t->sep == ' ' && !t->toolong && t->len <= 4 && sc->ib_n + t->len <= (size_t)sc->ib_expect
            && sc->ib_groups < SENS_MAX_GROUPS + 1) {
            sc->ib_raw[sc->ib_rawlen++] = ' ';
            memcpy(sc->ib_raw + sc->ib_rawlen, t->text, t->len);
            sc->ib_rawlen += t->len;
            sc->ib_n += t->len;
            sc->ib_groups++;
            sc->ib_end = t->end;
            if (sc->ib_n == (size_t)sc->ib_expect) {
                ib_check(sc);
                ib_reset(sc);
            } else if (t->len < 4) {
                ib_reset(sc);
            }
            return;
        }
        ib_reset(sc);
    }
    if (t->toolong || t->len < 4 || t->ndigit == t->len
        || !(t->text[2] >= '0' && t->text[2] <= '9' && t->text[3] >= '0' && t->text[3] <= '9'))
        return;
    len = sens_iban_length(t->text[0], t->text[1]);
    if (len == 0 || (size_t)len > SENS_MAX_TOKEN)
        return;
    sc->ib_start = t->start;
    sc->ib_end = t->end;
    memcpy(sc->ib_raw, t->text, t->len);
    sc->ib_rawlen = t->len;
    sc->ib_n = t->len;
    if (t->len == (size_t)len) {
        ib_check(sc);
        ib_reset(sc);
    } else if (t->len == 4) {
        sc->ib_active = 1;
        sc->ib_expect = len;
        sc->ib_groups = 1;
    } else {
        ib_reset(sc);
    }
}

/* token_end - a finished token: digit sequences and IBANs */
static void token_end(struct sens_scan *sc)
{
    struct tok *t = &sc->cur;
    int digits = !t->toolong && t->ndigit == t->len;

    if (digits && t->len > 6) {
        /* longer than any group: a candidate on its own, never in a sequence */
        seq_finish(sc);
        check_digits(sc, t, 1, 0);
    } else if (digits && sc->nseq > 0 && t->sep != 0
               && (sc->nseq == 1 || t->sep == sc->seq_sep)) {
        if (sc->nseq == 1)
            sc->seq_sep = t->sep;
        if (sc->nseq < SENS_MAX_GROUPS)
            sc->seq[sc->nseq++] = *t;
        else
            sc->seq_broken = 1;
    } else if (digits && sc->nseq > 1 && t->sep != 0 && !sc->seq_broken) {
        /* the separator changes: "12 5529-1234-..." starts again at the
         * group before it, unless the sequence so far matched */
        struct tok last = sc->seq[sc->nseq - 1];
        if (!seq_finish(sc)) {
            sc->seq[sc->nseq++] = last;
            sc->seq_sep = t->sep;
        }
        sc->seq[sc->nseq++] = *t;
        sens_wipe(last.text, sizeof(last.text));
    } else {
        if (sc->nseq)
            seq_finish(sc);
        if (digits)
            sc->seq[sc->nseq++] = *t;
    }
    if (uses(sc, T_IBAN))
        ib_token(sc, t);
    if (t->ndigit)              /* values have digits; plain words need no wipe */
        sens_wipe(t->text, t->len);
    sc->in_tok = 0;
    expire(sc);
}

/* run_break - the run of tokens ends */
static void run_break(struct sens_scan *sc)
{
    if (sc->nseq)
        seq_finish(sc);
    if (sc->ib_active)
        ib_reset(sc);
    sc->run_open = 0;
    sc->pending_sep = 0;
}

/* tok_done - ends the current token: a token without digits, with no
 * digit sequence, IBAN or pending match open, changes nothing but in_tok
 * (token_end() would find nothing to do), so it skips the call */
static inline void tok_done(struct sens_scan *sc)
{
    if (sc->cur.ndigit == 0 && !sc->nseq && !sc->ib_active && !sc->npending && !sc->reference)
        sc->in_tok = 0;
    else
        token_end(sc);
}

#define W_ONES 0x0101010101010101ull
#define W_HIGH 0x8080808080808080ull

/* letter_run - how many bytes from p[0] on (at most len) are ASCII
 * letters; 8 at a time where the byte order allows */
static size_t letter_run(const unsigned char *p, size_t len)
{
    size_t n = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (len - n >= 8) {
        uint64_t w, x, letter, other;

        memcpy(&w, p + n, 8);
        /* folded to lower case, bit 7 cleared: a letter is 0x61..0x7A */
        x = (w | 0x20 * W_ONES) & ~W_HIGH;
        letter = (x + 0x1F * W_ONES) & ~(x + 0x05 * W_ONES) & ~w & W_HIGH;
        other = ~letter & W_HIGH;
        if (other != 0)
            return n + (size_t)__builtin_ctzll(other) / 8;
        n += 8;
    }
#endif
    while (n < len && (unsigned char)((p[n] | 0x20) - 'a') < 26)
        n++;
    return n;
}

static void lazy_enter(struct sens_scan *sc);

/* tok_begin - a token starts at cur, continuing the run of tokens when one is open */
static void tok_begin(struct sens_scan *sc, spos cur)
{
    struct tok *t = &sc->cur;

    sc->in_tok = 1;
    t->len = 0;
    t->ndigit = 0;
    t->toolong = 0;
    t->start = cur;
    t->sep = sc->run_open ? sc->pending_sep : 0;
    sc->pending_sep = 0;
    sc->run_open = 1;
}

/* scan_bytes - the tokenizer and the keyword automaton over text; the
 * bytes used: all, or fewer when the scan turned lazy (see lazy_push()) */
static size_t scan_bytes(struct sens_scan *sc, const unsigned char *p, size_t len)
{
    const struct sens_set *set = sc->set;
    const unsigned char *cls = set->cls;
    const uint16_t *delta = set->delta;
    size_t ncl = set->nclass, ac = sc->ac;
    int pb = sc->prev_bound;
    int lazy_ok = set->lazy_cap > 0 && !sc->reference && !sc->catching;
    spos pos = sc->pos;         /* sc->pos is brought up to date before calls */
    struct tok *t = &sc->cur;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = p[i];
        unsigned c = cls[b];
        spos cur = pos;

        if (!sc->reference && (unsigned char)((b | 0x20) - 'a') < 26) {
            /* a run of ASCII letters, as the per-byte path below takes it:
             * one token continued (no digits), the automaton stepped until
             * it falls to the root, which letters never leave (every
             * keyword starts with a boundary) */
            size_t n = letter_run(p + i, len - i), k;

            if (!sc->in_tok)
                tok_begin(sc, cur);
            k = n < SENS_MAX_TOKEN - t->len ? n : SENS_MAX_TOKEN - t->len;
            /* the letters are read only by token_end(): not when the token
             * ends right here with nothing open (see tok_done()) */
            if (sc->nseq || sc->ib_active || sc->npending || t->ndigit || i + n == len
                || (p[i + n] >= '0' && p[i + n] <= '9'))
                memcpy(t->text + t->len, p + i, k);
            t->len += k;
            if (k < n)
                t->toolong = 1;
            pos += n;
            pb = 0;
            k = i;
            if (ac == set->fresh && n >= 2) {
                ac = set->fresh2[cls[p[i]] * ncl + cls[p[i + 1]]];
                k = i + 2;
            }
            for (; k < i + n && ac != 0; k++)
                ac = delta[ac * ncl + cls[p[k]]];
            i += n - 1;
            continue;
        }
        if ((b & 0xc0) != 0x80)
            pos++;
        else
            cur = pos - 1;
        if (is_alnum(b)) {
            if (!sc->in_tok)
                tok_begin(sc, cur);
            if (t->len < SENS_MAX_TOKEN)
                t->text[t->len++] = (char)b;
            else
                t->toolong = 1;
            if (b <= '9')
                t->ndigit++;
            pb = 0;
            ac = delta[ac * ncl + c];
            continue;
        }
        sc->pos = pos;
        if (b == ' ' || b == '-') {
            if (sc->in_tok) {
                t->end = cur;
                tok_done(sc);
                sc->pending_sep = (char)b;
            } else if (sc->pending_sep) {
                run_break(sc);
            }
        } else {
            if (sc->in_tok) {
                t->end = cur;
                tok_done(sc);
            }
            if (sc->run_open)
                run_break(sc);
        }
        /* keyword automaton; runs of boundaries count once */
        if (c != CLS_BOUND) {
            pb = 0;
            ac = delta[ac * ncl + c];
        } else if (!pb) {
            pb = 1;
            if (ac == 0 && !sc->reference) {
                ac = set->fresh;        /* delta[0][CLS_BOUND], a state without outputs */
            } else {
                ac = delta[ac * ncl + CLS_BOUND];
                if (set->out_head[ac] || set->dict[ac]) {
                    sc->pos = pos;
                    ac_report(sc, ac, cur);
                }
            }
        }
        if (lazy_ok && !sc->nseq && !sc->ib_active && !sc->npending) {
            /* nothing open: what follows waits in lb for a digit */
            sc->pos = pos;
            sc->ac = ac;
            sc->prev_bound = pb;
            lazy_enter(sc);
            return i + 1;
        }
    }
    sc->pos = pos;
    sc->ac = ac;
    sc->prev_bound = pb;
    return len;
}

/* cp_count - code points (bytes that are not UTF-8 continuation bytes) in p[0..n) */
static spos cp_count(const unsigned char *p, size_t n)
{
    spos c = 0;
    size_t i = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n - i >= 8; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        /* continuation bytes: bit 7 set, bit 6 clear; the multiplication
         * adds the per-byte flags up in the top byte */
        c += 8 - (spos)((((w & ~(w << 1) & W_HIGH) >> 7) * W_ONES) >> 56);
    }
#endif
    for (; i < n; i++)
        c += (p[i] & 0xc0) != 0x80;
    return c;
}

/* digit_at - the index of the first ASCII digit in p[0..n), n when none */
static size_t digit_at(const unsigned char *p, size_t n)
{
    size_t i = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n - i >= 8; i += 8) {
        uint64_t w, x, d;

        memcpy(&w, p + i, 8);
        /* 0x30..0x39 with bit 7 clear: x + 0x50 reaches bit 7, x + 0x46 does not */
        x = w & ~W_HIGH;
        d = (x + 0x50 * W_ONES) & ~(x + 0x46 * W_ONES) & ~w & W_HIGH;
        if (d != 0)
            return i + (size_t)__builtin_ctzll(d) / 8;
    }
#endif
    for (; i < n; i++)
        if (p[i] >= '0' && p[i] <= '9')
            return i;
    return n;
}

/*
 * Lazy scanning.  While no digit group, IBAN or pending match is open, text
 * without an ASCII digit cannot produce a match, and a keyword hit in it
 * matters only to a match that comes within the proximity after it.  So
 * after a boundary with nothing open, the scan stops running its machines:
 * the text is kept in lb (the look-back), searched only for a digit.  When
 * one comes, lb is scanned as usual first (from the state saved when the
 * scan turned lazy), then the text from the digit on.  When lb is full its
 * oldest bytes are dropped, keeping at least lazy_reach code points and,
 * before them, lazy_depth letters, digits or non-ASCII bytes; a later scan
 * of lb then starts from the automaton's root with nothing open: every hit
 * it reports is a real one (the automaton's state is a suffix of the true
 * one, equal to it after lazy_depth symbols), the hits it misses end before
 * the last lazy_reach code points, out of every entry's proximity of any
 * later match, and a token cut at the front is too long to be a candidate
 * (or ends before the digit).  Keyword hits are remembered only to upgrade
 * later matches (no match is pending in lazy mode), and the nearest one
 * before a match is always among those remembered, so the results are
 * those of the byte-by-byte scan.  When no such front exists (runs of
 * punctuation or of continuation bytes), lb is scanned at once instead.
 */

/* lazy_enter - turn lazy at the current position, saving the state there */
static void lazy_enter(struct sens_scan *sc)
{
    sc->lz_ac = sc->ac;
    sc->lz_pb = sc->prev_bound;
    sc->lz_run_open = sc->run_open;
    sc->lz_sep = sc->pending_sep;
    sc->lb_cp0 = sc->pos;
    sc->lblen = 0;
    sc->lb_exact = 1;
    sc->lazy = 1;
}

/* lazy_catch_up - scan lb through the machines and leave lazy mode */
static void lazy_catch_up(struct sens_scan *sc)
{
    if (sc->lb_exact) {
        sc->ac = sc->lz_ac;
        sc->prev_bound = sc->lz_pb;
        sc->run_open = sc->lz_run_open;
        sc->pending_sep = sc->lz_sep;
    } else {
        sc->ac = 0;
        sc->prev_bound = 0;
        sc->run_open = 0;
        sc->pending_sep = 0;
    }
    sc->in_tok = 0;
    sc->pos = sc->lb_cp0;
    sc->lazy = 0;
    sc->catching = 1;
    scan_bytes(sc, sc->lb, sc->lblen);
    sc->catching = 0;
    sens_wipe(sc->lb, sc->lblen);
    sc->lblen = 0;
}

/* lazy_trim - drop the oldest bytes of a full lb (see above); 0 when no
 * front keeps what a later scan needs */
static int lazy_trim(struct sens_scan *sc)
{
    const struct sens_set *set = sc->set;
    size_t i = sc->lblen, nsym = 0;
    spos cps = 0;

    while (i > 0 && cps < set->lazy_reach)
        cps += (sc->lb[--i] & 0xc0) != 0x80;
    while (i > 0 && nsym < set->lazy_depth) {
        unsigned char b = sc->lb[--i];

        nsym += b >= 0x80 || is_alnum(b);
    }
    if (cps < set->lazy_reach || nsym < set->lazy_depth || i == 0)
        return 0;
    sc->lb_cp0 += cp_count(sc->lb, i);
    sens_wipe(sc->lb, i);
    memmove(sc->lb, sc->lb + i, sc->lblen - i);
    sc->lblen -= i;
    sc->lb_exact = 0;
    return 1;
}

/* lazy_push - keep text up to its first digit in lb; at a digit (or when
 * lb cannot be trimmed) scan lb and leave lazy mode.  The bytes used. */
static size_t lazy_push(struct sens_scan *sc, const unsigned char *p, size_t len)
{
    size_t d = digit_at(p, len), off = 0, cap = sc->set->lazy_cap;

    while (off < d) {
        size_t take = d - off < cap - sc->lblen ? d - off : cap - sc->lblen;

        memcpy(sc->lb + sc->lblen, p + off, take);
        sc->lblen += take;
        off += take;
        if (off < d && sc->lblen == cap && !lazy_trim(sc)) {
            lazy_catch_up(sc);
            return off;
        }
    }
    if (d < len)
        lazy_catch_up(sc);
    return d;
}

/* scan_text - the machines over text, lazily where they may be */
static void scan_text(struct sens_scan *sc, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t used = sc->lazy ? lazy_push(sc, p, len) : scan_bytes(sc, p, len);

        p += used;
        len -= used;
    }
}

/* count_cp - code points in s[0..n) */
static size_t count_cp(const char *s, size_t n)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* custom_run - runs the custom patterns over the window; with final, the
 * whole window, else matches starting in the last SENS_CUSTOM_MAX_MATCH
 * bytes wait for more text */
static void custom_run(struct sens_scan *sc, int final)
{
    const struct sens_set *set = sc->set;
    size_t limit = final ? sc->winlen
        : (sc->winlen > SENS_CUSTOM_MAX_MATCH ? sc->winlen - SENS_CUSTOM_MAX_MATCH : 0);
    size_t keep;

    for (size_t c = 0; c < set->ncustom; c++) {
        const struct custom *cu = &set->customs[c];
        size_t off = sc->cust_next[c] > sc->win_done ? sc->cust_next[c] : sc->win_done;
        size_t cnt_off = 0;
        spos cnt_cp = sc->win_cp0;
        int used = 0;

        for (size_t e = 0; e < set->nentries; e++)
            if (set->entries[e].custom == (int)c)
                used = 1;
        if (!used)
            continue;
        while (off < limit) {
            int rc;
            PCRE2_SIZE *ov;
            size_t s, en, vs, ve;

            while (off < sc->winlen && ((unsigned char)sc->win[off] & 0xc0) == 0x80)
                off++;              /* start on a character */
            if (off >= limit)
                break;
            rc = pcre2_match(cu->code, (PCRE2_SPTR)sc->win, sc->winlen, off, 0,
                                 sc->md[c], set->mctx);

            if (rc < 0) {
                if (rc != PCRE2_ERROR_NOMATCH)
                    sc->truncated = 1;
                break;
            }
            ov = pcre2_get_ovector_pointer(sc->md[c]);
            s = ov[0];
            en = ov[1] > s ? ov[1] : s;
            if (s >= limit)
                break;
            off = en > s ? en : s + 1;
            sc->cust_next[c] = off;
            if (en - s > SENS_CUSTOM_MAX_MATCH || en == s)
                continue;
            /* the validator sees group 1 when the pattern has one, else the match */
            vs = s;
            ve = en;
            if (rc >= 2 && ov[2] != PCRE2_UNSET && ov[3] >= ov[2]) {
                vs = ov[2];
                ve = ov[3];
            }
            if (cu->check == sens_check_none || sens_check_text(cu->check, sc->win + vs, ve - vs)) {
                char excerpt[SENS_EXCERPT_MAX];
                spos ms, me;
                cnt_cp += count_cp(sc->win + cnt_off, s - cnt_off);
                cnt_off = s;
                ms = cnt_cp;
                me = ms + count_cp(sc->win + s, en - s);
                sens_redact(sc->win + s, en - s, excerpt, sizeof(excerpt));
                for (size_t e = 0; e < set->nentries; e++)
                    if (set->entries[e].custom == (int)c) {
                        flush_hits(sc, e, ms);
                        add_match(sc, e, ms, me, excerpt, 0);
                    }
            }
        }
    }
    /* every match starting before limit is decided: apply the hits up to
     * there, settle what they can no longer reach */
    {
        spos limit_cp = final ? (spos)-1 : sc->win_cp0 + count_cp(sc->win, limit);
        for (size_t e = 0; e < set->nentries; e++)
            if (set->entries[e].custom >= 0) {
                flush_hits(sc, e, limit_cp);
                if (!final)
                    expire_entry(sc, e, limit_cp);
            }
    }
    /* keep the undecided tail and some look-behind */
    keep = limit > CUSTOM_CTX ? limit - CUSTOM_CTX : 0;
    if (final)
        keep = sc->winlen;
    sc->win_cp0 += count_cp(sc->win, keep);
    sens_wipe(sc->win, keep);
    memmove(sc->win, sc->win + keep, sc->winlen - keep);
    sc->winlen -= keep;
    sc->win_done = limit - keep;
    for (size_t c = 0; c < set->ncustom; c++)
        sc->cust_next[c] = sc->cust_next[c] > keep ? sc->cust_next[c] - keep : 0;
    sc->win_new = 0;
}

/* custom_push - appends text to the custom window, running the patterns
 * each time SENS_CUSTOM_SLICE new bytes have arrived */
static void custom_push(struct sens_scan *sc, const char *text, size_t len)
{
    while (len > 0) {
        size_t room = SENS_CUSTOM_SLICE - sc->win_new, take = len < room ? len : room;
        memcpy(sc->win + sc->winlen, text, take);
        sc->winlen += take;
        sc->win_new += take;
        text += take;
        len -= take;
        if (sc->win_new == SENS_CUSTOM_SLICE)
            custom_run(sc, 0);
    }
}

/* sens_scan_new - per-message state */
struct sens_scan *sens_scan_new(const struct sens_set *set)
{
    struct sens_scan *sc;

    if (!set || !set->compiled) {
        errno = EINVAL;
        return NULL;
    }
    if (!(sc = calloc(1, sizeof(*sc))))
        return NULL;
    sc->set = set;
    sc->es = calloc(set->nentries ? set->nentries : 1, sizeof(*sc->es));
    sc->cust_next = calloc(set->ncustom ? set->ncustom : 1, sizeof(size_t));
    sc->md = calloc(set->ncustom ? set->ncustom : 1, sizeof(*sc->md));
    if (set->ncustom)
        sc->win = malloc(WIN_CAP);
    if (set->lazy_cap)
        sc->lb = malloc(set->lazy_cap);
    if (!sc->es || !sc->cust_next || !sc->md || (set->ncustom && !sc->win)
        || (set->lazy_cap && !sc->lb)) {
        sens_scan_free(sc);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t e = 0; e < set->nentries; e++)
        if (set->entries[e].custom >= 0 && set->entries[e].nkw) {
            sc->es[e].hq_start = calloc(SENS_CUSTOM_HITQ, sizeof(spos));
            sc->es[e].hq_end = calloc(SENS_CUSTOM_HITQ, sizeof(spos));
            if (!sc->es[e].hq_start || !sc->es[e].hq_end) {
                sens_scan_free(sc);
                errno = ENOMEM;
                return NULL;
            }
        }
    for (size_t c = 0; c < set->ncustom; c++)
        if (!(sc->md[c] = pcre2_match_data_create_from_pattern(set->customs[c].code, NULL))) {
            sens_scan_free(sc);
            errno = ENOMEM;
            return NULL;
        }
    sc->ac = set->delta[CLS_BOUND];
    sc->prev_bound = 1;
    return sc;
}

/* sens_scan_push - scans the next bytes of the current part */
void sens_scan_push(struct sens_scan *sc, const char *text, size_t len)
{
    if (!sc || !text)
        return;
    if (sc->set->ncustom) {
        /* interleave so custom matches see keyword hits soon after them */
        while (len > 0) {
            size_t take = len < SENS_CUSTOM_SLICE ? len : SENS_CUSTOM_SLICE;
            scan_text(sc, (const unsigned char *)text, take);
            custom_push(sc, text, take);
            text += take;
            len -= take;
        }
    } else {
        scan_text(sc, (const unsigned char *)text, len);
    }
}

/* sens_scan_part_end - finishes the part: last token, last matches, pending */
void sens_scan_part_end(struct sens_scan *sc)
{
    int was_lazy;

    if (!sc)
        return;
    if ((was_lazy = sc->lazy)) {
        /* nothing is open and no hit in lb can reach a match: skip it */
        sc->pos = sc->lb_cp0 + cp_count(sc->lb, sc->lblen);
        sens_wipe(sc->lb, sc->lblen);
        sc->lblen = 0;
        sc->lazy = 0;
        sc->in_tok = 0;
    }
    if (sc->in_tok) {
        sc->cur.end = sc->pos;
        token_end(sc);
    }
    run_break(sc);
    if (!was_lazy)
        ac_feed(sc, CLS_BOUND, sc->pos);
    if (sc->set->ncustom)
        custom_run(sc, 1);
    for (size_t e = 0; e < sc->set->nentries; e++) {
        struct entry_state *es = &sc->es[e];
        while (es->pcount)
            settle_head(sc, e);
        es->nkw = 0;
        es->kw_next = 0;
        es->phead = 0;
        es->hq_head = 0;
        es->hq_count = 0;
    }
    sc->ac = sc->set->delta[CLS_BOUND];
    sc->prev_bound = 1;
    sc->win_done = 0;
    for (size_t c = 0; c < sc->set->ncustom; c++)
        sc->cust_next[c] = 0;
    sc->pos++;                 /* parts never touch */
    sc->win_cp0 = sc->pos;
}

/* sens_scan_count - matches at exactly conf */
size_t sens_scan_count(const struct sens_scan *sc, size_t entry, enum sens_conf conf)
{
    if (!sc || entry >= sc->set->nentries || (conf != SENS_LOW && conf != SENS_HIGH))
        return 0;
    return sc->es[entry].count[conf];
}

/* sens_scan_count_min - matches at conf or higher */
size_t sens_scan_count_min(const struct sens_scan *sc, size_t entry, enum sens_conf min)
{
    size_t h = sens_scan_count(sc, entry, SENS_HIGH), l;

    if (min == SENS_HIGH)
        return h;
    l = sens_scan_count(sc, entry, SENS_LOW);
    return l > SIZE_MAX - h ? SIZE_MAX : l + h;
}

/* sens_scan_holds - at least min_count matches at min_conf or higher */
int sens_scan_holds(const struct sens_scan *sc, size_t entry, size_t min_count,
                    enum sens_conf min_conf)
{
    if (!sc || entry >= sc->set->nentries)
        return 0;
    return sens_scan_count_min(sc, entry, min_conf) >= (min_count ? min_count : 1);
}

/* sens_scan_excerpts - number of excerpts kept for an entry */
size_t sens_scan_excerpts(const struct sens_scan *sc, size_t entry)
{
    if (!sc || entry >= sc->set->nentries)
        return 0;
    return sc->es[entry].nex;
}

/* sens_scan_excerpt - the i-th excerpt of an entry and its confidence */
const char *sens_scan_excerpt(const struct sens_scan *sc, size_t entry, size_t i,
                              enum sens_conf *conf)
{
    if (!sc || entry >= sc->set->nentries || i >= sc->es[entry].nex)
        return NULL;
    if (conf)
        *conf = sc->es[entry].ex_conf[i];
    return sc->es[entry].ex[i];
}

/* sens_scan_reference - byte by byte only (differential tests) */
void sens_scan_reference(struct sens_scan *sc, int on)
{
    if (sc)
        sc->reference = on;
}

/* sens_scan_truncated - 1 when a pattern hit its limits */
int sens_scan_truncated(const struct sens_scan *sc)
{
    return sc ? sc->truncated : 0;
}

/* sens_scan_free - wipes and releases the scan */
void sens_scan_free(struct sens_scan *sc)
{
    if (!sc)
        return;
    if (sc->md)
        for (size_t c = 0; c < sc->set->ncustom; c++)
            pcre2_match_data_free(sc->md[c]);
    free(sc->md);
    if (sc->win) {
        sens_wipe(sc->win, WIN_CAP);
        free(sc->win);
    }
    if (sc->lb) {
        sens_wipe(sc->lb, sc->lblen);
        free(sc->lb);
    }
    free(sc->cust_next);
    if (sc->es) {
        for (size_t e = 0; e < sc->set->nentries; e++) {
            free(sc->es[e].hq_start);
            free(sc->es[e].hq_end);
        }
        sens_wipe(sc->es, (sc->set->nentries ? sc->set->nentries : 1) * sizeof(*sc->es));
        free(sc->es);
    }
    sens_wipe(sc, sizeof(*sc));
    free(sc);
}
