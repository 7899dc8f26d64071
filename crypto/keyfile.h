/*
 * keyfile - loading (and first-time creation) of secret key files with
 * strict ownership and permission checks.
 *
 * A key file holds exactly len bytes written as 2*len hexadecimal digits
 * (an optional trailing newline is allowed).  It is refused unless it is a
 * regular file (not a symbolic link) owned by root or by the calling
 * process's effective user, not writable by group or others, and not
 * readable by others, in a directory owned by root or that user and not
 * writable by others (unless sticky).  With create set, a missing file is created with
 * fresh random bytes (RAND_bytes), mode 0640 (owner root or the caller,
 * group gid when gid != (gid_t)-1).  Every intermediate copy of the key is
 * wiped (OPENSSL_cleanse).  Returns 0, or -1 after adding the reason to d.
 */
#ifndef MAILSEAL_CRYPTO_KEYFILE_H
#define MAILSEAL_CRYPTO_KEYFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "util/diag.h"

int keyfile_load(const char *path, unsigned char *key, size_t len, int create,
                 gid_t gid, struct diag *d);
/* keyfile_check_perms - the ownership/permission test alone (the file's
 * and its directory's); 0 or -1 + d. */
int keyfile_check_perms(const char *path, int fd, struct diag *d);
/* keyfile_check_public - the test for a public key file (open on fd): may be
 * readable by anyone, but only its owner (root or the caller) may write it,
 * in a directory as for keyfile_check_perms; 0 or -1 + d. */
int keyfile_check_public(const char *path, int fd, struct diag *d);

#endif
