/*
 * spool - a message's bytes in memory up to a limit, then in a private,
 * unlinked temporary file (see spool.h).
 *
 * In memory the bytes are kept in segments of SPOOL_SEG bytes, not one
 * growing buffer: nothing is copied as the message grows, and no single
 * allocation reaches malloc's mmap threshold, so a message does not map
 * and fault in fresh pages (and unmap them again) each time.  Freed
 * segments go to a process-wide cache of at most SPOOL_CACHE_MAX (behind a
 * mutex) that later spools take from, so the pages of one message serve
 * the next instead of being trimmed from the heap and faulted in again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "message/spool.h"
#include "util/buf.h"

#define SPOOL_SEG (64u * 1024)    /* bytes per memory segment */
#define SPOOL_CACHE_MAX 64        /* free segments kept for reuse (4 MiB) */

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *seg_cache[SPOOL_CACHE_MAX];
static size_t seg_ncache;

struct spool {
    char *dir;
    size_t mem_limit;
    char **seg;           /* the bytes while in memory, SPOOL_SEG per segment */
    size_t nseg, segcap;
    size_t mem_len;       /* bytes in the segments */
    int fd;               /* -1 while in memory */
    uint64_t size;
    int failed;           /* errno of the first failure, 0 when healthy */
};

/* spool_new - an empty spool; NULL when out of memory */
struct spool *spool_new(const char *dir, size_t mem_limit)
{
    struct spool *sp = calloc(1, sizeof(*sp));

    if (sp == NULL)
        return NULL;
    if ((sp->dir = strdup(dir ? dir : "/tmp")) == NULL) {
        free(sp);
        return NULL;
    }
    sp->mem_limit = mem_limit;
    sp->fd = -1;
    return sp;
}

/* spool_tmpfile - open an unlinked private file in dir */
static int spool_tmpfile(const char *dir)
{
    struct buf path = BUF_INIT(4096);
    int fd;

#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return -1;
#endif
    if (buf_printf(&path, "%s/mailseal.XXXXXX", dir) < 0)
        return -1;
    fd = mkostemp(path.data, O_CLOEXEC);
    if (fd >= 0 && (unlink(path.data) < 0 || fchmod(fd, 0600) < 0)) {
        int err = errno;

        close(fd);
        errno = err;
        fd = -1;
    }
    buf_free(&path);
    return fd;
}

/* spool_write_all - write len bytes to fd, retrying short writes */
static int spool_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* spool_fail - remember the first failure and report it */
static int spool_fail(struct spool *sp)
{
    if (sp->failed == 0)
        sp->failed = errno ? errno : EIO;
    errno = sp->failed;
    return -1;
}

/* seg_get - a segment: a cached one, or a new one (NULL: ENOMEM) */
static char *seg_get(void)
{
    char *p = NULL;

    pthread_mutex_lock(&seg_lock);
    if (seg_ncache > 0)
        p = seg_cache[--seg_ncache];
    pthread_mutex_unlock(&seg_lock);
    return p != NULL ? p : malloc(SPOOL_SEG);
}

/* seg_put - cache a segment for a later spool, or free it */
static void seg_put(char *p)
{
    pthread_mutex_lock(&seg_lock);
    if (seg_ncache < SPOOL_CACHE_MAX) {
        seg_cache[seg_ncache++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&seg_lock);
    free(p);
}

/* mem_free - release the memory segments */
static void mem_free(struct spool *sp)
{
    for (size_t i = 0; i < sp->nseg; i++)
        seg_put(sp->seg[i]);
    free(sp->seg);
    sp->seg = NULL;
    sp->nseg = sp->segcap = 0;
    sp->mem_len = 0;
}

/* mem_add - append len bytes to the segments; 0 or -1 (ENOMEM) */
static int mem_add(struct spool *sp, const char *data, size_t len)
{
    while (len > 0) {
        size_t at = sp->mem_len % SPOOL_SEG, take = SPOOL_SEG - at;

        if (at == 0) {
            if (sp->nseg == sp->segcap) {
                size_t ncap = sp->segcap ? sp->segcap * 2 : 4;
                char **ns = realloc(sp->seg, ncap * sizeof(*ns));

                if (ns == NULL)
                    return -1;
                sp->seg = ns;
                sp->segcap = ncap;
            }
            if ((sp->seg[sp->nseg] = seg_get()) == NULL)
                return -1;
            sp->nseg++;
        }
        if (take > len)
            take = len;
        memcpy(sp->seg[sp->mem_len / SPOOL_SEG] + at, data, take);
        sp->mem_len += take;
        data += take;
        len -= take;
    }
    return 0;
}

/* spool_write - append bytes, spilling to disk past the memory limit */
int spool_write(struct spool *sp, const void *data, size_t len)
{
    if (sp->failed) {
        errno = sp->failed;
        return -1;
    }
    if (sp->fd < 0 && len <= sp->mem_limit - sp->mem_len) {
        if (mem_add(sp, data, len) < 0) {
            errno = ENOMEM;
            return spool_fail(sp);
        }
        sp->size += len;
        return 0;
    }
    if (sp->fd < 0) {
        if ((sp->fd = spool_tmpfile(sp->dir)) < 0)
            return spool_fail(sp);
        for (size_t i = 0; i < sp->nseg; i++) {
            size_t n = i + 1 < sp->nseg ? SPOOL_SEG : sp->mem_len - i * SPOOL_SEG;

            if (spool_write_all(sp->fd, sp->seg[i], n) < 0)
                return spool_fail(sp);
        }
        mem_free(sp);
    }
    if (spool_write_all(sp->fd, data, len) < 0)
        return spool_fail(sp);
    sp->size += len;
    return 0;
}

/* spool_pread - read up to len bytes at off; 0 at the end, -1 on error */
ssize_t spool_pread(struct spool *sp, void *dst, size_t len, uint64_t off)
{
    if (off >= sp->size)
        return 0;
    if (len > sp->size - off)
        len = (size_t)(sp->size - off);
    if (sp->fd < 0) {
        char *d = dst;

        for (size_t done = 0; done < len;) {
            size_t at = (size_t)(off + done) % SPOOL_SEG, take = SPOOL_SEG - at;

            if (take > len - done)
                take = len - done;
            memcpy(d + done, sp->seg[(size_t)(off + done) / SPOOL_SEG] + at, take);
            done += take;
        }
        return (ssize_t)len;
    }
    for (;;) {
        ssize_t n = pread(sp->fd, dst, len, (off_t)off);

        if (n >= 0 || errno != EINTR)
            return n;
    }
}

/* spool_peek - a pointer to the bytes at off, in memory, and how many follow */
size_t spool_peek(const struct spool *sp, uint64_t off, const char **data)
{
    size_t at, n;

    *data = NULL;
    if (sp->fd >= 0 || off >= sp->size)
        return 0;
    at = (size_t)off % SPOOL_SEG;
    n = SPOOL_SEG - at;
    if (n > sp->size - off)
        n = (size_t)(sp->size - off);
    *data = sp->seg[(size_t)off / SPOOL_SEG] + at;
    return n;
}

/* spool_size - bytes written so far */
uint64_t spool_size(const struct spool *sp)
{
    return sp->size;
}

/* spool_in_file - 1 once the bytes have spilled to the temporary file */
int spool_in_file(const struct spool *sp)
{
    return sp->fd >= 0;
}

/* spool_free - release memory and close (and so delete) the file */
void spool_free(struct spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    mem_free(sp);
    free(sp->dir);
    free(sp);
}
