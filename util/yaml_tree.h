/*
 * yaml_tree - a YAML file loaded into a small tree of scalar, sequence and
 * mapping nodes, each remembering where it was written, for the schema
 * checks of the configuration and rules loaders.
 *
 * ytree_load() reads a file (at most YTREE_MAX_FILE bytes) and ytree_parse()
 * a buffer, through libyaml's event API.  Anchors, aliases and explicit tags
 * are refused (no billion-laughs expansion), as are duplicate mapping keys
 * (reported at the second key), keys that are not scalars, NUL characters,
 * more than one document, nesting deeper than YTREE_MAX_DEPTH and more than
 * YTREE_MAX_NODES nodes.  Every problem goes to d as FILE:LINE:COLUMN
 * (1-based; YAML syntax errors at libyaml's problem mark).  On any problem
 * the result is NULL.  A file holding no document (empty, or comments only)
 * gives a tree whose root is NULL.
 *
 * The tree owns all its nodes and strings; ytree_free() releases them.
 * Node positions name the file through a pointer into the tree.
 *
 * The ynode_* and ymap_* helpers interpret scalars the same way for every
 * loader: booleans are true/false/yes/no written plain (so "on" in quotes
 * is a string, and plain on is not a boolean either), integers are decimal.
 */
#ifndef MAILSEAL_UTIL_YAML_TREE_H
#define MAILSEAL_UTIL_YAML_TREE_H

#include <stddef.h>

#include "util/diag.h"

#define YTREE_MAX_FILE  (4u * 1024 * 1024)
#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 200000

enum ynode_type {
    YNODE_SCALAR,
    YNODE_SEQ,
    YNODE_MAP
};

enum ynode_style {
    YSTYLE_PLAIN,             /* unquoted */
    YSTYLE_SINGLE,            /* 'quoted' */
    YSTYLE_DOUBLE,            /* "quoted" */
    YSTYLE_LITERAL,           /* | block */
    YSTYLE_FOLDED             /* > block */
};

struct ynode {
    enum ynode_type type;
    const char *file;         /* points into the tree */
    unsigned line;            /* 1-based */
    unsigned col;             /* 1-based */
    /* scalar: */
    char *value;              /* NUL-terminated, contains no NUL */
    size_t len;
    enum ynode_style style;
    /* sequence: items[0..n); mapping: keys[i] -> items[i] */
    struct ynode **items;
    struct ynode **keys;
    size_t n;
};

struct ytree {
    char *file;
    struct ynode *root;       /* NULL: no document */
    size_t nnodes;
};

struct ytree *ytree_load(const char *path, struct diag *d);
struct ytree *ytree_parse(const char *file, const char *data, size_t len,
                          struct diag *d);
void ytree_free(struct ytree *t);

/* ynode_error - add "FILE:LINE:COL: message" for node n (n may be NULL) */
void ynode_error(struct diag *d, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a string", "a list", "a mapping" or "nothing" (a null scalar). */
const char *ynode_kind(const struct ynode *n);
/* 1 for a plain "", "~" or "null" scalar (a key written without value). */
int ynode_is_null(const struct ynode *n);
/* 1 for a scalar that is not null. */
int ynode_is_string(const struct ynode *n);
/* The value for key in a mapping, NULL when absent (or n not a mapping). */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
/* 0 and *out for plain true/false/yes/no (any case); -1 otherwise. */
int ynode_bool(const struct ynode *n, int *out);
/* 0 and *out for a decimal integer in min..max; -1 not an integer (or
 * too big for long long); -2 out of range. */
int ynode_int(const struct ynode *n, long long min, long long max,
              long long *out);

#define YCLOSEST_NONE ((size_t)-1)
/* yclosest - index of the candidate nearest to word (a likely typo, by
 * edit distance with transpositions), YCLOSEST_NONE when none is close. */
size_t yclosest(const char *word, const char *const *cands, size_t n);
/* yunknown - report an unknown name at key: "unknown NOUN 'x' in WHERE
 * (did you mean 'y'?)" for a likely typo, else "... (allowed: a, b, c)";
 * where may be NULL. */
void yunknown(struct diag *d, const struct ynode *key, const char *noun,
              const char *where, const char *const *allowed, size_t n);
/* ymap_check_keys - yunknown() for every key of map not in allowed (noun
 * "key"); returns the number reported. */
size_t ymap_check_keys(const struct ynode *map, const char *where,
                       const char *const *allowed, size_t n, struct diag *d);

#endif
