/*
 * secrets - the store of recipient keys for passphrase slots (see
 * secrets.h for the file format and the interface).
 *
 * Loading streams the file line by line through a fixed buffer (lines are
 * capped at SECRETS_MAX_LINE bytes, entries at SECRETS_MAX_ENTRIES), keeps
 * the entries in one array sorted by name (lookups are binary searches)
 * and the names in one arena.  The entry array is never realloc()ed: it
 * holds keys, so it grows by copy, wipe and free.  Every buffer that held
 * a line of the file (which holds keys) is wiped before it is released.
 *
 * Editing (secrets_set, secrets_remove) locks the store's directory
 * (flock), loads the store to check it whole, then copies it line by line
 * to a temporary file beside it, replacing, dropping or appending the one
 * entry, and renames the copy over the store after fsync.  The store
 * returned by secrets_load() is owned by the caller (secrets_free()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/keyfile.h"
#include "crypto/secrets.h"
#include "util/buf.h"

#define SECRETS_MAX_LINES (4u * SECRETS_MAX_ENTRIES)   /* comments included */
#define SECRETS_MAX_DOMAIN 253u
#define SECRETS_MAX_LABEL 63u
#define SECRETS_READ_BUF 16384u
#define SECRETS_ITER_DIGITS 10u

struct secret_entry {
    const char *name;          /* into the names arena */
    size_t name_off;           /* while loading: offset in the arena */
    unsigned line, col;        /* where the name is, for duplicate reports */
    struct env_recipient_key key;
};

struct secrets {
    struct secret_entry *e;    /* sorted by name */
    size_t n, cap;
    char *names;               /* arena: every name, NUL-terminated */
};

/* One line of the file, parsed. */
struct secret_line {
    char name[SECRETS_MAX_NAME + 1];
    unsigned name_col;
    struct env_recipient_key key;
};

/* A buffered line reader over a file descriptor. */
struct line_reader {
    int fd;
    size_t pos, len;
    int eof;
    unsigned char b[SECRETS_READ_BUF];
};

/* reader_init - start reading fd from its current offset */
static void reader_init(struct line_reader *r, int fd)
{
    r->fd = fd;
    r->pos = r->len = 0;
    r->eof = 0;
}

/* reader_line - the next line: up to cap bytes of it into line, its whole
 * length (without the line feed) in *len, *nl set when a line feed ended
 * it; 1, 0 at the end of the file, -1 with errno on a read error */
static int reader_line(struct line_reader *r, char *line, size_t cap, size_t *len, int *nl)
{
    size_t n = 0;
    int any = 0;

    *nl = 0;
    for (;;) {
        const unsigned char *p, *lf;
        size_t avail, take;

        if (r->pos == r->len) {
            ssize_t got;

            if (r->eof)
                break;
            got = read(r->fd, r->b, sizeof(r->b));
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (got == 0) {
                r->eof = 1;
                break;
            }
            r->pos = 0;
            r->len = (size_t)got;
        }
        any = 1;
        p = r->b + r->pos;
        avail = r->len - r->pos;
        lf = memchr(p, '\n', avail);
        take = lf ? (size_t)(lf - p) : avail;
        if (n < cap)
            memcpy(line + n, p, take < cap - n ? take : cap - n);
        n += take;
        r->pos += take;
        if (lf) {
            r->pos++;
            *nl = 1;
            break;
        }
    }
    *len = n;
    return any;
}

/* reader_wipe - forget what was read */
static void reader_wipe(struct line_reader *r)
{
    OPENSSL_cleanse(r->b, sizeof(r->b));
}

/* is_blank - a field separator */
static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* domain_check - a lower-case ASCII domain name: labels of letters,
 * digits and '-', none empty; 0, or -1 with the offset and reason */
static int domain_check(const char *s, size_t len, size_t *bad, const char **why)
{
    size_t label = 0;

    if (len == 0) {
        *bad = 0;
        *why = "no domain after '@'";
        return -1;
    }
    if (len > SECRETS_MAX_DOMAIN) {
        *bad = 0;
        *why = "domain longer than 253 bytes";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0) {
                *bad = i;
                *why = "empty label in the domain";
                return -1;
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            *bad = i;
            *why = "character not allowed in a domain (letters, digits, '-' and '.')";
            return -1;
        }
        if (++label > SECRETS_MAX_LABEL) {
            *bad = i;
            *why = "domain label longer than 63 bytes";
            return -1;
        }
    }
    if (label == 0) {
        *bad = len - 1;
        *why = "empty label in the domain";
        return -1;
    }
    return 0;
}

/* name_check - a store name: "local@domain" or "@domain", printable
 * lower-case ASCII; 0, or -1 with the offset of the fault and a reason */
static int name_check(const char *s, size_t len, size_t *bad, const char **why)
{
    const char *at = NULL;

    *bad = 0;
    if (len == 0) {
        *why = "empty name";
        return -1;
    }
    if (len > SECRETS_MAX_NAME) {
        *why = "name longer than 255 bytes";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        *bad = i;
        if (c >= 0x80) {
            *why = "non-ASCII byte in the name (write domains as A-labels, xn--...)";
            return -1;
        }
        if (c <= ' ' || c == 0x7f) {
            *why = "space or control character in the name";
            return -1;
        }
        if (c >= 'A' && c <= 'Z') {
            *why = "upper-case letter in the name (names are lower-case)";
            return -1;
        }
        if (c == '@') {
            if (at != NULL) {
                *why = "more than one '@' in the name";
                return -1;
            }
            at = s + i;
        }
    }
    if (at == NULL) {
        *bad = 0;
        *why = "the name needs an '@' (ann@example.net, or @example.net for a domain)";
        return -1;
    }
    if (domain_check(at + 1, len - (size_t)(at + 1 - s), bad, why) < 0) {
        *bad += (size_t)(at + 1 - s);
        return -1;
    }
    return 0;
}

/* secrets_name_normalize - lower-case what a user typed and check it */
int secrets_name_normalize(const char *in, char out[SECRETS_MAX_NAME + 1], const char **why)
{
    size_t len = strlen(in), bad;

    if (len > SECRETS_MAX_NAME) {
        *why = "name longer than 255 bytes";
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
    out[len] = '\0';
    return name_check(out, len, &bad, why);
}

/* char_text - a byte shown in a message: 'c' or byte 0xNN */
static const char *char_text(unsigned char c, char out[16])
{
    if (c > ' ' && c < 0x7f)
        snprintf(out, 16, "'%c'", c);
    else
        snprintf(out, 16, "byte 0x%02x", c);
    return out;
}

/* hex_field - decode exactly n bytes of hexadecimal; 0, or -1 after
 * adding the fault (what names the field) */
static int hex_field(const char *path, unsigned line, unsigned col, const char *what,
                     const char *s, size_t len, unsigned char *out, size_t n, struct diag *d)
{
    char ct[16];

    for (size_t i = 0; i < len; i++) {
        if (hex_value((unsigned char)s[i]) < 0) {
            diag_add(d, path, line, col + (unsigned)i, "%s in the %s is not a hexadecimal digit",
                     char_text((unsigned char)s[i], ct), what);
            return -1;
        }
    }
    if (len != 2 * n) {
        diag_add(d, path, line, col, "the %s must be %zu hexadecimal digits, not %zu",
                 what, 2 * n, len);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)((unsigned)hex_value((unsigned char)s[2 * i]) << 4
                                 | (unsigned)hex_value((unsigned char)s[2 * i + 1]));
    return 0;
}

/* next_field - the next blank-separated field from *i; 0 when none */
static int next_field(const char *line, size_t len, size_t *i, size_t *start, size_t *flen)
{
    while (*i < len && is_blank(line[*i]))
        (*i)++;
    if (*i == len)
        return 0;
    *start = *i;
    while (*i < len && !is_blank(line[*i]))
        (*i)++;
    *flen = *i - *start;
    return 1;
}

/* parse_iterations - a decimal count >= ENV_MIN_ITERATIONS; 0 or -1 + d */
static int parse_iterations(const char *path, unsigned line, unsigned col, const char *s,
                            size_t len, uint32_t *out, struct diag *d)
{
    uint64_t v = 0;
    char ct[16];

    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            diag_add(d, path, line, col + (unsigned)i,
                     "%s in the iterations is not a decimal digit",
                     char_text((unsigned char)s[i], ct));
            return -1;
        }
        if (i < SECRETS_ITER_DIGITS + 1)
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (len > SECRETS_ITER_DIGITS || v > SECRETS_MAX_ITERATIONS) {
        diag_add(d, path, line, col, "iterations above the maximum %u", SECRETS_MAX_ITERATIONS);
        return -1;
    }
    if (v < ENV_MIN_ITERATIONS) {
        diag_add(d, path, line, col, "iterations %lu below the minimum %u",
                 (unsigned long)v, ENV_MIN_ITERATIONS);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* parse_line - one line of the store: 1 an entry (in *p), 0 blank or a
 * comment, -1 after adding the fault to d */
static int parse_line(const char *path, unsigned line, const char *text, size_t len,
                      struct secret_line *p, struct diag *d)
{
    static const char *const missing[] = { "iteration count", "salt", "key" };
    size_t i = 0, start[4], flen[4], bad;
    const char *why;
    int nf = 0;

    if (len > SECRETS_MAX_LINE) {
        diag_add(d, path, line, SECRETS_MAX_LINE + 1, "line longer than %u bytes",
                 SECRETS_MAX_LINE);
        return -1;
    }
    if (len > 0 && text[len - 1] == '\r')
        len--;
    while (i < len && is_blank(text[i]))
        i++;
    if (i == len || text[i] == '#')
        return 0;
    while (nf < 4 && next_field(text, len, &i, &start[nf], &flen[nf]))
        nf++;
    if (name_check(text + start[0], flen[0], &bad, &why) < 0) {
        diag_add(d, path, line, (unsigned)(start[0] + bad + 1), "bad name: %s", why);
        return -1;
    }
    if (nf < 4) {
        /* nf >= 1: text[i] is not blank, so next_field found a first field */
        /* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
        diag_add(d, path, line, (unsigned)(len + 1),
                 "the %s is missing (NAME ITERATIONS SALT_HEX KEK_HEX)", missing[nf - 1]);
        return -1;
    }
    if (next_field(text, len, &i, &bad, &flen[0])) {
        diag_add(d, path, line, (unsigned)(bad + 1), "unexpected text after the key");
        return -1;
    }
    memcpy(p->name, text + start[0], flen[0]);
    p->name[flen[0]] = '\0';
    p->name_col = (unsigned)(start[0] + 1);
    if (parse_iterations(path, line, (unsigned)(start[1] + 1), text + start[1], flen[1],
                         &p->key.iterations, d) < 0
        || hex_field(path, line, (unsigned)(start[2] + 1), "salt", text + start[2], flen[2],
                     p->key.salt, ENV_SALT_LEN, d) < 0
        || hex_field(path, line, (unsigned)(start[3] + 1), "key", text + start[3], flen[3],
                     p->key.kek, ENV_KEY_LEN, d) < 0) {
        OPENSSL_cleanse(&p->key, sizeof(p->key));
        return -1;
    }
    return 1;
}

/* entries_grow - room for one more entry: grows by copy and wipe, since
 * the array holds keys; 0, or -1 (ENOMEM) */
static int entries_grow(struct secrets *s)
{
    struct secret_entry *e;
    size_t ncap;

    if (s->n < s->cap)
        return 0;
    ncap = s->cap ? s->cap * 2 : 64;
    if (ncap > SECRETS_MAX_ENTRIES)
        ncap = SECRETS_MAX_ENTRIES;
    if ((e = malloc(ncap * sizeof(*e))) == NULL)
        return -1;
    if (s->n > 0) {
        memcpy(e, s->e, s->n * sizeof(*e));
        OPENSSL_cleanse(s->e, s->n * sizeof(*e));
    }
    free(s->e);
    s->e = e;
    s->cap = ncap;
    return 0;
}

/* entry_cmp - qsort: by name, then by line */
static int entry_cmp(const void *a, const void *b)
{
    const struct secret_entry *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r != 0)
        return r;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* entry_ptr_cmp - qsort of entry pointers: as entry_cmp */
static int entry_ptr_cmp(const void *a, const void *b)
{
    return entry_cmp(*(const struct secret_entry *const *)a,
                     *(const struct secret_entry *const *)b);
}

/* entries_sort - sort the entries by entry_cmp.  Not qsort on the entries
 * themselves: glibc's qsort copies elements (keys included) into a
 * temporary buffer it frees unwiped.  Pointers are sorted instead, then the
 * entries copied in that order to a new array and the old one wiped;
 * 0 or -1 (ENOMEM, entries unchanged) */
static int entries_sort(struct secrets *s)
{
    const struct secret_entry **p = malloc(s->n * sizeof(*p));
    struct secret_entry *e = malloc(s->cap * sizeof(*e));

    if (p == NULL || e == NULL) {
        free(p);
        free(e);
        return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        p[i] = &s->e[i];
    qsort(p, s->n, sizeof(*p), entry_ptr_cmp);
    for (size_t i = 0; i < s->n; i++)
        memcpy(&e[i], p[i], sizeof(e[i]));
    free(p);
    OPENSSL_cleanse(s->e, s->cap * sizeof(*s->e));
    free(s->e);
    s->e = e;
    return 0;
}

/* load_fd - read the store from fd (permissions already checked) */
static struct secrets *load_fd(const char *path, int fd, struct diag *d)
{
    struct line_reader *r = malloc(sizeof(*r));
    struct secrets *s = calloc(1, sizeof(*s));
    struct buf names = BUF_INIT((size_t)SECRETS_MAX_ENTRIES * (SECRETS_MAX_NAME + 1));
    char text[SECRETS_MAX_LINE + 1];
    struct secret_line p;
    size_t errs = diag_count(d), len;
    unsigned line = 0;
    int nl, got, lost = 0;

    if (r == NULL || s == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        free(r);
        free(s);
        return NULL;
    }
    reader_init(r, fd);
    while ((got = reader_line(r, text, sizeof(text) - 1, &len, &nl)) > 0) {
        if (++line > SECRETS_MAX_LINES) {
            diag_add(d, path, line, 1, "more than %u lines", SECRETS_MAX_LINES);
            break;
        }
        if (parse_line(path, line, text, len, &p, d) <= 0)
            continue;
        if (s->n == SECRETS_MAX_ENTRIES) {
            diag_add(d, path, line, 1, "more than %u entries", SECRETS_MAX_ENTRIES);
            break;
        }
        if (entries_grow(s) < 0 || buf_add(&names, p.name, strlen(p.name) + 1) < 0) {
            diag_add(d, path, line, 1, "out of memory");
            lost = 1;
            break;
        }
        s->e[s->n].name_off = names.len - strlen(p.name) - 1;
        s->e[s->n].line = line;
        s->e[s->n].col = p.name_col;
        s->e[s->n].key = p.key;
        s->n++;
    }
    if (got < 0)
        diag_add(d, path, 0, 0, "cannot read the secrets store: %s", strerror(errno));
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(&p, sizeof(p));
    reader_wipe(r);
    free(r);
    s->names = buf_steal(&names);
    if (s->names == NULL || lost)
        s->n = 0;          /* the names are lost (reported above): keep no entry */
    for (size_t i = 0; i < s->n; i++)
        s->e[i].name = s->names + s->e[i].name_off;
    if (s->n > 1 && entries_sort(s) < 0)
        diag_add(d, path, 0, 0, "out of memory");
    for (size_t i = 1; i < s->n; i++) {
        size_t first = i - 1;

        while (i < s->n && strcmp(s->e[i].name, s->e[first].name) == 0) {
            diag_add(d, path, s->e[i].line, s->e[i].col, "duplicate name %s (first on line %u)",
                     s->e[i].name, s->e[first].line);
            i++;
        }
    }
    if (diag_count(d) > errs) {
        secrets_free(s);
        return NULL;
    }
    return s;
}

/* open_store - open path for reading, refusing symbolic links; -1 + d */
static int open_store(const char *path, struct diag *d, int quiet_enoent)
{
    /* O_NONBLOCK: a FIFO is refused as not regular, not waited on */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0 && !(quiet_enoent && errno == ENOENT)) {
        if (errno == ELOOP)
            diag_add(d, path, 0, 0, "the secrets store is a symbolic link: refused");
        else
            diag_add(d, path, 0, 0, "cannot open the secrets store: %s", strerror(errno));
    }
    return fd;
}

/* secrets_load - open, check and read the store */
struct secrets *secrets_load(const char *path, struct diag *d)
{
    struct secrets *s;
    int fd = open_store(path, d, 0);

    if (fd < 0)
        return NULL;
    if (keyfile_check_perms(path, fd, d) < 0) {
        close(fd);
        return NULL;
    }
    s = load_fd(path, fd, d);
    close(fd);
    return s;
}

/* name_cmp - bsearch: a name against an entry */
static int name_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct secret_entry *)elem)->name);
}

/* find_exact - the entry named exactly name, or NULL */
static const struct secret_entry *find_exact(const struct secrets *s, const char *name)
{
    if (s == NULL || s->n == 0)
        return NULL;
    return bsearch(name, s->e, s->n, sizeof(*s->e), name_cmp);
}

/* secrets_find - address, else its domain, else its parent domains */
const struct env_recipient_key *secrets_find(const struct secrets *s, const char *address,
                                             const char **name)
{
    char want[SECRETS_MAX_NAME + 1];
    const struct secret_entry *e = NULL;
    const char *at;
    size_t len, from, dom;

    if (s == NULL || address == NULL || (at = strrchr(address, '@')) == NULL)
        return NULL;
    len = strlen(address);
    from = len <= SECRETS_MAX_NAME ? 0 : (size_t)(at - address);   /* too long: domains only */
    if (len - from > SECRETS_MAX_NAME)
        return NULL;
    for (size_t i = from; i <= len; i++)
        want[i - from] = (address[i] >= 'A' && address[i] <= 'Z')
                         ? (char)(address[i] - 'A' + 'a') : address[i];
    if (from == 0)
        e = find_exact(s, want);
    /* want + dom is '@' and a domain: "@sub.example.net", "@example.net", ...
     * (want holds address[from..len], its NUL included, as from <= at - address) */
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    for (dom = (size_t)(at - address) - from; e == NULL && want[dom + 1] != '\0';) {
        char *dot;

        e = find_exact(s, want + dom);
        if (e != NULL || (dot = strchr(want + dom + 1, '.')) == NULL)
            break;
        *dot = '@';
        dom = (size_t)(dot - want);
    }
    if (e == NULL)
        return NULL;
    if (name != NULL)
        *name = e->name;
    return &e->key;
}

/* secrets_count - the number of entries */
size_t secrets_count(const struct secrets *s)
{
    return s ? s->n : 0;
}

/* secrets_entry - the name and iterations of entry i */
const char *secrets_entry(const struct secrets *s, size_t i, uint32_t *iterations)
{
    if (s == NULL || i >= s->n)
        return NULL;
    if (iterations != NULL)
        *iterations = s->e[i].key.iterations;
    return s->e[i].name;
}

/* secrets_free - wipe every key and release the store */
void secrets_free(struct secrets *s)
{
    if (s == NULL)
        return;
    if (s->e != NULL)
        OPENSSL_cleanse(s->e, s->cap * sizeof(*s->e));
    free(s->e);
    free(s->names);
    free(s);
}

/* An output file written through a buffer (which holds keys: wiped). */
struct out_file {
    int fd;
    int failed;                /* errno of the first failure, 0 if none */
    size_t len;
    unsigned char b[SECRETS_READ_BUF];
};

/* out_flush - write what is buffered */
static void out_flush(struct out_file *o)
{
    size_t done = 0;

    while (!o->failed && done < o->len) {
        ssize_t n = write(o->fd, o->b + done, o->len - done);

        if (n < 0) {
            if (errno != EINTR)
                o->failed = errno;
            continue;
        }
        done += (size_t)n;
    }
    o->len = 0;
}

/* out_add - buffer bytes for the file */
static void out_add(struct out_file *o, const void *data, size_t len)
{
    const unsigned char *p = data;

    while (len > 0 && !o->failed) {
        size_t room = sizeof(o->b) - o->len, take = len < room ? len : room;

        memcpy(o->b + o->len, p, take);
        o->len += take;
        p += take;
        len -= take;
        if (o->len == sizeof(o->b))
            out_flush(o);
    }
}

/* format_entry - the store line for name and k (with its line feed) into
 * out; its length, or 0 when it does not fit */
static size_t format_entry(const char *name, const struct env_recipient_key *k, char *out,
                           size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * (ENV_SALT_LEN + ENV_KEY_LEN) + 2];
    size_t j = 0;
    int n;

    for (size_t i = 0; i < ENV_SALT_LEN; i++) {
        hex[j++] = digits[k->salt[i] >> 4];
        hex[j++] = digits[k->salt[i] & 15];
    }
    hex[j++] = ' ';
    for (size_t i = 0; i < ENV_KEY_LEN; i++) {
        hex[j++] = digits[k->kek[i] >> 4];
        hex[j++] = digits[k->kek[i] & 15];
    }
    hex[j] = '\0';
    n = snprintf(out, cap, "%s %lu %s\n", name, (unsigned long)k->iterations, hex);
    OPENSSL_cleanse(hex, sizeof(hex));
    if (n < 0 || (size_t)n >= cap) {
        OPENSSL_cleanse(out, cap);
        return 0;
    }
    return (size_t)n;
}

/* copy_store - copy the store from fd to o, the entry name replaced by
 * newline (or dropped when newline is NULL; appended when the store does
 * not have it); 0 or -1 + d */
static int copy_store(const char *path, int fd, const char *name, const char *newline,
                      size_t newlen, struct out_file *o, struct diag *d)
{
    struct line_reader *r = malloc(sizeof(*r));
    char text[SECRETS_MAX_LINE + 1];
    struct secret_line p;
    size_t len;
    unsigned line = 0;
    int nl, last_nl = 1, got, done = 0, ok = 0;

    if (r == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        return -1;
    }
    reader_init(r, fd);
    while ((got = reader_line(r, text, sizeof(text) - 1, &len, &nl)) > 0) {
        int kind = parse_line(path, ++line, text, len, &p, d);

        last_nl = nl;
        if (kind < 0) {
            diag_add(d, path, 0, 0, "the secrets store changed while it was being edited");
            ok = -1;
            break;
        }
        if (kind == 1 && strcmp(p.name, name) == 0) {
            if (newline != NULL)
                out_add(o, newline, newlen);
            done = 1;
            continue;
        }
        out_add(o, text, len);
        if (nl)
            out_add(o, "\n", 1);
    }
    if (got < 0) {
        diag_add(d, path, 0, 0, "cannot read the secrets store: %s", strerror(errno));
        ok = -1;
    }
    if (ok == 0 && !done && newline != NULL) {
        if (!last_nl)
            out_add(o, "\n", 1);
        out_add(o, newline, newlen);
    }
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(&p, sizeof(p));
    reader_wipe(r);
    free(r);
    return ok;
}

/* dir_of - the directory part of path ("." when it has none) */
static int dir_of(const char *path, struct buf *dir)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return buf_adds(dir, ".");
    if (slash == path)
        return buf_adds(dir, "/");
    return buf_add(dir, path, (size_t)(slash - path));
}

/* finish_temp - give the temporary file the store's owner, group and
 * mode (st, or 0640 and the directory's group when new), sync and close
 * it; 0 or -1 + d */
static int finish_temp(const char *path, int tfd, const struct stat *st, const struct stat *dst,
                       struct diag *d)
{
    uid_t uid = st ? st->st_uid : (uid_t)-1;
    gid_t gid = st ? st->st_gid : dst->st_gid;
    mode_t mode = st ? (st->st_mode & 07777) : 0640;

    if (uid == geteuid())
        uid = (uid_t)-1;
    if (gid == getegid())
        gid = (gid_t)-1;
    /* a new store keeps the caller's group when the directory's is not
     * the caller's to give; an existing one must keep its own */
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(tfd, uid, gid) < 0 && st != NULL) {
        diag_add(d, path, 0, 0, "cannot give the new store the owner and group of the "
                 "old one: %s", strerror(errno));
        return -1;
    }
    if (fchmod(tfd, mode) < 0 || fsync(tfd) < 0) {
        diag_add(d, path, 0, 0, "cannot write the secrets store: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* secrets_edit - replace (k) or remove (k NULL) the entry name */
static int secrets_edit(const char *path, const char *name, const struct env_recipient_key *k,
                        struct diag *d)
{
    struct buf dir = BUF_INIT(4096), tmp = BUF_INIT(4096);
    char newline[SECRETS_MAX_LINE + 2];
    struct out_file *o = NULL;
    struct secrets *s = NULL;
    struct stat st, dst;
    size_t newlen = 0, bad;
    const char *why;
    int dfd = -1, fd = -1, tfd = -1, ok = -1, exists, created = 0;

    if (name_check(name, strlen(name), &bad, &why) < 0) {
        diag_add(d, path, 0, 0, "bad name '%s': %s", name, why);
        return -1;
    }
    if (k != NULL
        && (k->iterations < ENV_MIN_ITERATIONS || k->iterations > SECRETS_MAX_ITERATIONS)) {
        diag_add(d, path, 0, 0, "iterations %lu out of range (%u to %u)",
                 (unsigned long)k->iterations, ENV_MIN_ITERATIONS, SECRETS_MAX_ITERATIONS);
        return -1;
    }
    if (k != NULL && (newlen = format_entry(name, k, newline, sizeof(newline))) == 0) {
        diag_add(d, path, 0, 0, "the entry does not fit in a line");
        return -1;
    }
    if (dir_of(path, &dir) < 0 || buf_printf(&tmp, "%s.XXXXXX", path) < 0) {
        diag_add(d, path, 0, 0, "path too long");
        goto out;
    }
    if ((dfd = open(buf_str(&dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
        || fstat(dfd, &dst) < 0) {
        diag_add(d, path, 0, 0, "cannot open the store's directory: %s", strerror(errno));
        goto out;
    }
    if (flock(dfd, LOCK_EX) < 0) {
        diag_add(d, path, 0, 0, "cannot lock the store's directory: %s", strerror(errno));
        goto out;
    }
    fd = open_store(path, d, k != NULL);
    if (fd < 0 && (k == NULL || errno != ENOENT))
        goto out;
    exists = fd >= 0;
    if (exists) {
        if (keyfile_check_perms(path, fd, d) < 0 || fstat(fd, &st) < 0
            || (s = load_fd(path, fd, d)) == NULL)
            goto out;
        if (find_exact(s, name) == NULL) {
            if (k == NULL) {
                diag_add(d, path, 0, 0, "no entry %s", name);
                goto out;
            }
            if (s->n >= SECRETS_MAX_ENTRIES) {
                diag_add(d, path, 0, 0, "the store is full (%u entries)", SECRETS_MAX_ENTRIES);
                goto out;
            }
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
            diag_add(d, path, 0, 0, "cannot read the secrets store: %s", strerror(errno));
            goto out;
        }
    }
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        diag_add(d, path, 0, 0, "out of memory");
        goto out;
    }
    if ((tfd = mkostemp(tmp.data, O_CLOEXEC)) < 0) {
        diag_add(d, path, 0, 0, "cannot create a temporary file beside the store: %s",
                 strerror(errno));
        goto out;
    }
    created = 1;
    o->fd = tfd;
    if (exists) {
        if (copy_store(path, fd, name, k ? newline : NULL, newlen, o, d) < 0)
            goto out;
    } else {
        out_add(o, newline, newlen);
    }
    out_flush(o);
    if (o->failed) {
        diag_add(d, path, 0, 0, "cannot write the secrets store: %s", strerror(o->failed));
        goto out;
    }
    if (finish_temp(path, tfd, exists ? &st : NULL, &dst, d) < 0)
        goto out;
    if (close(tfd) < 0) {
        tfd = -1;
        diag_add(d, path, 0, 0, "cannot write the secrets store: %s", strerror(errno));
        goto out;
    }
    tfd = -1;
    if (rename(buf_str(&tmp), path) < 0) {
        diag_add(d, path, 0, 0, "cannot replace the secrets store: %s", strerror(errno));
        goto out;
    }
    (void)fsync(dfd);
    ok = 0;
out:
    if (tfd >= 0)
        close(tfd);
    if (ok < 0 && created)
        unlink(buf_str(&tmp));
    if (o != NULL) {
        OPENSSL_cleanse(o, sizeof(*o));
        free(o);
    }
    OPENSSL_cleanse(newline, sizeof(newline));
    secrets_free(s);
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);     /* releases the lock */
    buf_free(&dir);
    buf_free(&tmp);
    return ok;
}

/* secrets_set - add or replace one entry */
int secrets_set(const char *path, const char *name, const struct env_recipient_key *k,
                struct diag *d)
{
    if (k == NULL) {
        diag_add(d, path, 0, 0, "no key given");
        return -1;
    }
    return secrets_edit(path, name, k, d);
}

/* secrets_remove - remove one entry */
int secrets_remove(const char *path, const char *name, struct diag *d)
{
    return secrets_edit(path, name, NULL, d);
}
