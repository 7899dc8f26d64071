/*
 * yaml_tree - load a YAML file into a node tree with positions (see
 * yaml_tree.h).
 *
 * The builder consumes libyaml events and keeps a stack of open
 * collections no deeper than YTREE_MAX_DEPTH, so neither the parse nor the
 * later recursive walks can run away.  Problems that do not disturb the
 * event stream (an alias, a duplicate key, a non-scalar key) are all
 * reported before giving up; syntax errors and exceeded limits end the
 * parse at once.  Duplicate keys are found by sorting each mapping's keys
 * when it closes, so a mapping with many keys costs n log n, not n^2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/yaml_tree.h"

struct yframe {
    struct ynode *node;       /* an open sequence or mapping */
    int have_key;             /* mapping: the next node is the value of the last key */
};

struct ybuilder {
    struct ytree *t;
    struct diag *d;
    struct yframe stack[YTREE_MAX_DEPTH];
    size_t depth;
    int errors;               /* problems reported so far */
    int fatal;                /* stop reading events */
    int ndocs;
};

/* ynode_free - release a node and everything below it */
static void ynode_free(struct ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            ynode_free(n->keys[i]);
        if (n->items)
            ynode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->value);
    free(n);
}

/* ytree_free - release a tree */
void ytree_free(struct ytree *t)
{
    if (t == NULL)
        return;
    ynode_free(t->root);
    free(t->file);
    free(t);
}

/* ynode_verror - add a diagnostic at node n from a va_list */
static void ynode_verror(struct diag *d, const char *file, unsigned line,
                         unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void ynode_verror(struct diag *d, const char *file, unsigned line,
                         unsigned col, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT(2048);

    if (buf_vprintf(&b, fmt, ap) < 0) {
        diag_add(d, file, line, col, "(message too long)");
        return;
    }
    diag_add(d, file, line, col, "%s", buf_str(&b));
    buf_free(&b);
}

/* ynode_error - add "FILE:LINE:COL: message" for node n */
void ynode_error(struct diag *d, const struct ynode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ynode_verror(d, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0,
                 fmt, ap);
    va_end(ap);
}

/* yb_error - report a problem at a libyaml mark */
static void yb_error(struct ybuilder *b, const yaml_mark_t *m,
                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void yb_error(struct ybuilder *b, const yaml_mark_t *m,
                     const char *fmt, ...)
{
    va_list ap;
    unsigned line = m->line >= UINT_MAX ? UINT_MAX : (unsigned)m->line + 1;
    unsigned col = m->column >= UINT_MAX ? UINT_MAX : (unsigned)m->column + 1;

    va_start(ap, fmt);
    ynode_verror(b->d, b->t->file, line, col, fmt, ap);
    va_end(ap);
    b->errors++;
}

/* yb_new - a fresh node at mark m, counted against the node limit */
static struct ynode *yb_new(struct ybuilder *b, enum ynode_type type,
                            const yaml_mark_t *m)
{
    struct ynode *n;

    if (b->t->nnodes >= YTREE_MAX_NODES) {
        yb_error(b, m, "too many nodes (more than %u)", YTREE_MAX_NODES);
        b->fatal = 1;
        return NULL;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL) {
        yb_error(b, m, "out of memory");
        b->fatal = 1;
        return NULL;
    }
    b->t->nnodes++;
    n->type = type;
    n->file = b->t->file;
    n->line = m->line >= UINT_MAX ? UINT_MAX : (unsigned)m->line + 1;
    n->col = m->column >= UINT_MAX ? UINT_MAX : (unsigned)m->column + 1;
    return n;
}

/* yb_grow - make room for one more entry in a collection */
static int yb_grow(struct ynode *c, size_t *cap)
{
    size_t ncap;
    struct ynode **p;

    if (c->n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 4;
    if ((p = realloc(c->items, ncap * sizeof(*p))) == NULL)
        return -1;
    c->items = p;
    if (c->type == YNODE_MAP) {
        if ((p = realloc(c->keys, ncap * sizeof(*p))) == NULL)
            return -1;
        c->keys = p;
    }
    *cap = ncap;
    return 0;
}

/* yb_attach - hang node n under the innermost open collection (or make it
 * the root); the node belongs to the tree afterwards even on failure */
static int yb_attach(struct ybuilder *b, struct ynode *n, size_t *caps,
                     const yaml_mark_t *m)
{
    struct yframe *f;
    struct ynode *c;

    if (b->depth == 0) {
        if (b->t->root == NULL) {
            b->t->root = n;
            return 0;
        }
        ynode_free(n);
        yb_error(b, m, "only one YAML document is allowed");
        b->fatal = 1;
        return -1;
    }
    f = &b->stack[b->depth - 1];
    c = f->node;
    if (c->type == YNODE_MAP && f->have_key) {
        c->items[c->n - 1] = n;
        f->have_key = 0;
        return 0;
    }
    if (yb_grow(c, &caps[b->depth - 1]) < 0) {
        ynode_free(n);
        yb_error(b, m, "out of memory");
        b->fatal = 1;
        return -1;
    }
    if (c->type == YNODE_MAP) {
        c->keys[c->n] = n;
        c->items[c->n] = NULL;
        c->n++;
        f->have_key = 1;
        if (n->type != YNODE_SCALAR) {
            yb_error(b, m, "mapping keys must be scalars, not %s",
                     ynode_kind(n));
        }
    } else {
        c->items[c->n++] = n;
    }
    return 0;
}

/* yb_key_cmp - order key indices of mapping arg by key text, then position */
static int yb_key_cmp(const void *a, const void *b, void *arg)
{
    const struct ynode *m = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct ynode *ki = m->keys[i], *kj = m->keys[j];
    int r;

    if (ki->type != YNODE_SCALAR || kj->type != YNODE_SCALAR)
        r = (ki->type != YNODE_SCALAR) - (kj->type != YNODE_SCALAR);
    else
        r = strcmp(ki->value, kj->value);
    if (r != 0)
        return r;
    return i < j ? -1 : i > j;
}

/* yb_check_dups - report every key of map m that repeats an earlier one */
static void yb_check_dups(struct ybuilder *b, const struct ynode *m)
{
    size_t *idx, *first;

    if (m->n < 2)
        return;
    idx = calloc(m->n, sizeof(*idx));
    first = calloc(m->n, sizeof(*first));
    if (idx == NULL || first == NULL) {
        free(idx);
        free(first);
        diag_add(b->d, m->file, m->line, m->col, "out of memory");
        b->errors++;
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        idx[i] = i;
        first[i] = i;
    }
    qsort_r(idx, m->n, sizeof(*idx), yb_key_cmp, (void *)m);
    for (size_t r = 1; r < m->n; r++) {
        const struct ynode *prev = m->keys[idx[r - 1]], *cur = m->keys[idx[r]];

        if (prev->type == YNODE_SCALAR && cur->type == YNODE_SCALAR
            && strcmp(prev->value, cur->value) == 0)
            first[idx[r]] = first[idx[r - 1]];
    }
    for (size_t i = 0; i < m->n; i++) {
        if (first[i] != i) {
            const struct ynode *k = m->keys[i], *f = m->keys[first[i]];

            ynode_error(b->d, k, "duplicate key '%s' (first at line %u column %u)",
                        k->value, f->line, f->col);
            b->errors++;
        }
    }
    free(idx);
    free(first);
}

/* yb_node_start - checks common to every node event */
static void yb_node_start(struct ybuilder *b, const yaml_event_t *ev,
                          const yaml_char_t *anchor, const yaml_char_t *tag)
{
    if (anchor != NULL)
        yb_error(b, &ev->start_mark, "anchors and aliases are not supported");
    if (tag != NULL)
        yb_error(b, &ev->start_mark, "explicit tags are not supported");
}

/* yb_scalar - a scalar event becomes a node */
static void yb_scalar(struct ybuilder *b, const yaml_event_t *ev, size_t *caps)
{
    struct ynode *n;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;

    yb_node_start(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    if ((n = yb_new(b, YNODE_SCALAR, &ev->start_mark)) == NULL)
        return;
    switch (ev->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: n->style = YSTYLE_SINGLE; break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = YSTYLE_DOUBLE; break;
    case YAML_LITERAL_SCALAR_STYLE: n->style = YSTYLE_LITERAL; break;
    case YAML_FOLDED_SCALAR_STYLE: n->style = YSTYLE_FOLDED; break;
    default: n->style = YSTYLE_PLAIN; break;
    }
    if (memchr(v, 0, len) != NULL) {
        yb_error(b, &ev->start_mark, "NUL characters are not allowed");
        len = strlen(v);
    }
    if ((n->value = malloc(len + 1)) == NULL) {
        ynode_free(n);
        yb_error(b, &ev->start_mark, "out of memory");
        b->fatal = 1;
        return;
    }
    memcpy(n->value, v, len);
    n->value[len] = 0;
    n->len = len;
    yb_attach(b, n, caps, &ev->start_mark);
}

/* yb_open - a sequence or mapping start event opens a collection */
static void yb_open(struct ybuilder *b, const yaml_event_t *ev,
                    enum ynode_type type, size_t *caps)
{
    struct ynode *n;

    if (type == YNODE_MAP)
        yb_node_start(b, ev, ev->data.mapping_start.anchor,
                      ev->data.mapping_start.tag);
    else
        yb_node_start(b, ev, ev->data.sequence_start.anchor,
                      ev->data.sequence_start.tag);
    if (b->depth >= YTREE_MAX_DEPTH) {
        yb_error(b, &ev->start_mark, "nesting deeper than %d levels",
                 YTREE_MAX_DEPTH);
        b->fatal = 1;
        return;
    }
    if ((n = yb_new(b, type, &ev->start_mark)) == NULL)
        return;
    if (yb_attach(b, n, caps, &ev->start_mark) < 0)
        return;
    caps[b->depth] = 0;
    b->stack[b->depth].node = n;
    b->stack[b->depth].have_key = 0;
    b->depth++;
}

/* yb_close - a sequence or mapping end event closes the collection */
static void yb_close(struct ybuilder *b)
{
    if (b->depth == 0)
        return;
    b->depth--;
    if (b->stack[b->depth].node->type == YNODE_MAP)
        yb_check_dups(b, b->stack[b->depth].node);
}

/* yb_syntax_error - report libyaml's error at its position */
static void yb_syntax_error(struct ybuilder *b, const yaml_parser_t *p,
                            const char *data, size_t len)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";

    if (p->error == YAML_MEMORY_ERROR) {
        diag_add(b->d, b->t->file, 0, 0, "out of memory");
    } else if (p->error == YAML_READER_ERROR) {
        /* reader errors carry a byte offset, not a mark */
        unsigned line = 1, col = 1;
        size_t end = p->problem_offset < len ? p->problem_offset : len;

        for (size_t i = 0; i < end; i++) {
            if (data[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
                col++;
            }
        }
        diag_add(b->d, b->t->file, line, col, "%s", problem);
    } else if (p->context != NULL) {
        yaml_mark_t pm = p->problem_mark;

        yb_error(b, &pm, "%s (%s at line %zu column %zu)", problem, p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
        return;
    } else {
        yaml_mark_t pm = p->problem_mark;

        yb_error(b, &pm, "%s", problem);
        return;
    }
    b->errors++;
}

/* ytree_parse - build the tree of one YAML document held in data */
struct ytree *ytree_parse(const char *file, const char *data, size_t len,
                          struct diag *d)
{
    struct ybuilder b;
    size_t caps[YTREE_MAX_DEPTH];
    yaml_parser_t parser;
    yaml_event_t ev;
    int done = 0;

    memset(&b, 0, sizeof(b));
    b.d = d;
    if ((b.t = calloc(1, sizeof(*b.t))) == NULL
        || (b.t->file = strdup(file ? file : "-")) == NULL) {
        free(b.t);
        diag_add(d, file, 0, 0, "out of memory");
        return NULL;
    }
    if (len > YTREE_MAX_FILE) {
        diag_add(d, file, 0, 0, "file is larger than %u bytes", YTREE_MAX_FILE);
        ytree_free(b.t);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        diag_add(d, file, 0, 0, "out of memory");
        ytree_free(b.t);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!done && !b.fatal) {
        if (!yaml_parser_parse(&parser, &ev)) {
            yb_syntax_error(&b, &parser, data, len);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++b.ndocs > 1) {
                yb_error(&b, &ev.start_mark, "only one YAML document is allowed");
                b.fatal = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            yb_error(&b, &ev.start_mark, "anchors and aliases are not supported");
            b.fatal = 1;
            break;
        case YAML_SCALAR_EVENT:
            yb_scalar(&b, &ev, caps);
            break;
        case YAML_SEQUENCE_START_EVENT:
            yb_open(&b, &ev, YNODE_SEQ, caps);
            break;
        case YAML_MAPPING_START_EVENT:
            yb_open(&b, &ev, YNODE_MAP, caps);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            yb_close(&b);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (b.errors || b.fatal || !done) {
        if (b.errors == 0)
            diag_add(d, b.t->file, 0, 0, "cannot parse YAML");
        ytree_free(b.t);
        return NULL;
    }
    return b.t;
}

/* ytree_load - read a file (capped) and build its tree */
struct ytree *ytree_load(const char *path, struct diag *d)
{
    struct buf data = BUF_INIT(YTREE_MAX_FILE);
    struct stat st;
    struct ytree *t;
    char chunk[65536];
    int fd;

    /* O_NONBLOCK: a FIFO is refused as not regular, not waited on */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        diag_add(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        diag_add(d, path, 0, 0, "cannot stat: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_add(d, path, 0, 0, "not a regular file");
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            diag_add(d, path, 0, 0, "cannot read: %s", strerror(errno));
            buf_free(&data);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        if (buf_add(&data, chunk, (size_t)r) < 0) {
            if (errno == EOVERFLOW)
                diag_add(d, path, 0, 0, "file is larger than %u bytes",
                         YTREE_MAX_FILE);
            else
                diag_add(d, path, 0, 0, "out of memory");
            close(fd);
            return NULL;
        }
    }
    close(fd);
    t = ytree_parse(path, buf_str(&data), data.len, d);
    buf_free(&data);
    return t;
}

/* ynode_kind - what a node is, for messages */
const char *ynode_kind(const struct ynode *n)
{
    if (n == NULL || ynode_is_null(n))
        return "nothing";
    switch (n->type) {
    case YNODE_SEQ: return "a list";
    case YNODE_MAP: return "a mapping";
    default: return "a string";
    }
}

/* ynode_is_null - a plain empty, ~ or null scalar */
int ynode_is_null(const struct ynode *n)
{
    if (n == NULL || n->type != YNODE_SCALAR || n->style != YSTYLE_PLAIN)
        return 0;
    return n->len == 0 || strcmp(n->value, "~") == 0
        || strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0
        || strcmp(n->value, "NULL") == 0;
}

/* ynode_is_string - a scalar that is not null */
int ynode_is_string(const struct ynode *n)
{
    return n != NULL && n->type == YNODE_SCALAR && !ynode_is_null(n);
}

/* ymap_get - value of key in a mapping */
const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
    if (map == NULL || map->type != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->type == YNODE_SCALAR
            && strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

/* ynode_bool - plain true/false/yes/no */
int ynode_bool(const struct ynode *n, int *out)
{
    static const struct { const char *word; int value; } words[] = {
        { "true", 1 }, { "yes", 1 }, { "false", 0 }, { "no", 0 },
    };

    if (n == NULL || n->type != YNODE_SCALAR || n->style != YSTYLE_PLAIN)
        return -1;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(n->value, words[i].word) == 0) {
            *out = words[i].value;
            return 0;
        }
    }
    return -1;
}

/* ynode_int - a decimal integer within min..max */
int ynode_int(const struct ynode *n, long long min, long long max,
              long long *out)
{
    const char *s;
    char *end;
    long long v;

    if (!ynode_is_string(n))
        return -1;
    s = n->value;
    if (*s == '-')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    v = strtoll(n->value, &end, 10);
    if (errno == ERANGE)
        return -2;
    if (v < min || v > max)
        return -2;
    *out = v;
    return 0;
}

#define YCLOSEST_MAXLEN 64

/* ydistance - optimal string alignment distance, case-insensitive */
static size_t ydistance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][YCLOSEST_MAXLEN + 1];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];

    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = a[i - 1] >= 'A' && a[i - 1] <= 'Z' ? a[i - 1] + 32 : a[i - 1];
            int cb = b[j - 1] >= 'A' && b[j - 1] <= 'Z' ? b[j - 1] + 32 : b[j - 1];
            size_t cost = ca != cb;
            size_t v = p[j] + 1;

            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        {
            size_t *t = pp;

            pp = p;
            p = c;
            c = t;
        }
    }
    return p[lb];
}

/* yclosest - the candidate a typo most likely meant */
size_t yclosest(const char *word, const char *const *cands, size_t n)
{
    size_t lw = strlen(word), best = YCLOSEST_NONE, bestd = (size_t)-1;
    size_t limit = lw < 4 ? 1 : lw < 8 ? 2 : 3;

    if (lw == 0 || lw > YCLOSEST_MAXLEN)
        return YCLOSEST_NONE;
    for (size_t i = 0; i < n; i++) {
        size_t lc = strlen(cands[i]), dist;

        if (lc > YCLOSEST_MAXLEN)
            continue;
        dist = ydistance(word, lw, cands[i], lc);
        if (dist <= limit && dist < lc && dist < bestd) {
            best = i;
            bestd = dist;
        }
    }
    return best;
}

/* yunknown - an unknown name, with a suggestion or the list of known ones */
void yunknown(struct diag *d, const struct ynode *key, const char *noun,
              const char *where, const char *const *allowed, size_t n)
{
    struct buf b = BUF_INIT(2048);
    const char *name = key && key->type == YNODE_SCALAR ? key->value : "?";
    size_t best = yclosest(name, allowed, n);
    int r;

    r = buf_printf(&b, "unknown %s '%s'", noun, name);
    if (r == 0 && where != NULL)
        r = buf_printf(&b, " in %s", where);
    if (r == 0 && best != YCLOSEST_NONE) {
        r = buf_printf(&b, " (did you mean '%s'?)", allowed[best]);
    } else if (r == 0) {
        r = buf_adds(&b, " (allowed: ");
        for (size_t i = 0; r == 0 && i < n; i++)
            r = buf_printf(&b, "%s%s", i ? ", " : "", allowed[i]);
        if (r == 0)
            r = buf_addc(&b, ')');
    }
    if (r < 0)
        ynode_error(d, key, "unknown %s", noun);
    else
        ynode_error(d, key, "%s", buf_str(&b));
    buf_free(&b);
}

/* ymap_check_keys - report the keys of map that are not allowed */
size_t ymap_check_keys(const struct ynode *map, const char *where,
                       const char *const *allowed, size_t n, struct diag *d)
{
    size_t bad = 0;

    if (map == NULL || map->type != YNODE_MAP)
        return 0;
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *k = map->keys[i];
        size_t j;

        for (j = 0; j < n; j++)
            if (k->type == YNODE_SCALAR && strcmp(k->value, allowed[j]) == 0)
                break;
        if (j == n) {
            yunknown(d, k, "key", where, allowed, n);
            bad++;
        }
    }
    return bad;
}
