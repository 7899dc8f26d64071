/*
 * spool - where a message's bytes are kept while it is being received.
 *
 * Bytes are held in memory up to mem_limit; past that everything is moved
 * to a private temporary file in dir (mode 0600, unlinked at once: O_TMPFILE
 * where the file system supports it, else mkstemp + unlink), so memory does
 * not grow with message size.  The file disappears when the spool is freed
 * or the process dies.
 *
 * spool_write() returns -1 with errno set on an I/O or memory failure (a
 * transient fault: the caller tempfails); the spool then stays in its failed
 * state and later writes fail too.  spool_pread() reads back any range.
 * The caller owns the spool and releases it with spool_free().
 */
#ifndef MAILSEAL_MESSAGE_SPOOL_H
#define MAILSEAL_MESSAGE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;

struct spool *spool_new(const char *dir, size_t mem_limit);
int spool_write(struct spool *sp, const void *data, size_t len);
ssize_t spool_pread(struct spool *sp, void *dst, size_t len, uint64_t off);
/* spool_peek - the bytes at off without a copy, while they are in memory:
 * *data points at them (valid until the next spool_write() or
 * spool_free()) and the count of contiguous bytes there is returned; 0 at
 * the end or once the bytes are in the file (read them with spool_pread()). */
size_t spool_peek(const struct spool *sp, uint64_t off, const char **data);
uint64_t spool_size(const struct spool *sp);
int spool_in_file(const struct spool *sp);
void spool_free(struct spool *sp);

#endif
