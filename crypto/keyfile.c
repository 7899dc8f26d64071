/*
 * keyfile - loading and first-time creation of secret key files, with
 * strict ownership and permission checks (see keyfile.h).
 *
 * The file is opened with O_NOFOLLOW and checked with fstat on the open
 * descriptor, so what is checked is what is read.  Every buffer that held
 * key material is wiped with OPENSSL_cleanse before it is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/keyfile.h"
#include "util/buf.h"

#define KEYFILE_MAX_LEN 512

/* keyfile_check_dir - refuse a key file whose directory lets others replace
 * or remove it: owned by someone but root or us, or writable by others
 * without the sticky bit */
static int keyfile_check_dir(const char *path, struct diag *d)
{
    struct buf dir = BUF_INIT(4096);
    const char *slash = strrchr(path, '/');
    struct stat st;
    int rc = -1;

    if (slash == NULL ? buf_adds(&dir, ".") < 0
        : buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path)) < 0) {
        diag_add(d, path, 0, 0, "key file directory name too long");
        goto out;
    }
    if (stat(buf_str(&dir), &st) < 0) {
        diag_add(d, path, 0, 0, "cannot stat key file directory %s: %s", buf_str(&dir),
                 strerror(errno));
    } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
        diag_add(d, path, 0, 0, "key file directory %s must be owned by root or by uid %ld, "
                 "not uid %ld", buf_str(&dir), (long)geteuid(), (long)st.st_uid);
    } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        diag_add(d, path, 0, 0, "key file directory %s mode %04o is unsafe: others can "
                 "replace the key file (remove their write permission)", buf_str(&dir),
                 (unsigned)(st.st_mode & 07777));
    } else {
        rc = 0;
    }
out:
    buf_free(&dir);
    return rc;
}

/* key_stat - stat fd: a regular file owned by root or by us; 0, or -1
 * after adding the reason to d */
static int key_stat(const char *path, int fd, struct stat *st, struct diag *d)
{
    if (fstat(fd, st) < 0) {
        diag_add(d, path, 0, 0, "cannot stat key file: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        diag_add(d, path, 0, 0, "key file is not a regular file");
        return -1;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        diag_add(d, path, 0, 0, "key file must be owned by root or by uid %ld, not uid %ld",
                 (long)geteuid(), (long)st->st_uid);
        return -1;
    }
    return 0;
}

/* keyfile_check_perms - refuse files others can read or anyone but the owner
 * can write, and files in a directory others can write */
int keyfile_check_perms(const char *path, int fd, struct diag *d)
{
    struct stat st;

    if (key_stat(path, fd, &st, d) < 0)
        return -1;
    if (st.st_mode & (S_IRWXO | S_IWGRP)) {
        diag_add(d, path, 0, 0, "key file mode %04o is unsafe: it must not be readable "
                 "or writable by others, nor writable by its group (use 0600 or 0640)",
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return keyfile_check_dir(path, d);
}

/* keyfile_check_public - refuse public key files others could replace */
int keyfile_check_public(const char *path, int fd, struct diag *d)
{
    struct stat st;

    if (key_stat(path, fd, &st, d) < 0)
        return -1;
    if (st.st_mode & (S_IWOTH | S_IWGRP)) {
        diag_add(d, path, 0, 0, "public key file mode %04o is unsafe: it must not be writable "
                 "by its group or others (use 0644)", (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return keyfile_check_dir(path, d);
}

/* keyfile_create - write a fresh random key to a new file */
static int keyfile_create(const char *path, size_t len, gid_t gid, struct diag *d)
{
    unsigned char raw[KEYFILE_MAX_LEN / 2];
    char hex[KEYFILE_MAX_LEN + 1];
    static const char digits[] = "0123456789abcdef";
    int fd, ok = -1;

    if (RAND_bytes(raw, (int)len) != 1) {
        diag_add(d, path, 0, 0, "cannot generate a random key");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * len] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        diag_add(d, path, 0, 0, "cannot create key file: %s", strerror(errno));
    } else {
        if (write(fd, hex, 2 * len + 1) != (ssize_t)(2 * len + 1) || fsync(fd) < 0)
            diag_add(d, path, 0, 0, "cannot write key file: %s", strerror(errno));
        else if (gid != (gid_t)-1 && (fchown(fd, (uid_t)-1, gid) < 0 || fchmod(fd, 0640) < 0))
            diag_add(d, path, 0, 0, "cannot set key file group: %s", strerror(errno));
        else
            ok = 0;
        close(fd);
        if (ok < 0)
            unlink(path);
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(hex, sizeof(hex));
    return ok;
}

/* keyfile_load - read a hex key file of exactly len bytes */
int keyfile_load(const char *path, unsigned char *key, size_t len, int create,
                 gid_t gid, struct diag *d)
{
    char text[KEYFILE_MAX_LEN + 4];
    ssize_t n;
    size_t got = 0;
    int fd, ok = -1;

    if (len == 0 || 2 * len > KEYFILE_MAX_LEN) {
        diag_add(d, path, 0, 0, "unsupported key length %zu", len);
        return -1;
    }
    /* O_NONBLOCK: a FIFO is refused as not regular, not waited on */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create) {
        if (keyfile_check_dir(path, d) < 0 || keyfile_create(path, len, gid, d) < 0)
            return -1;
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0) {
        if (errno == ELOOP)
            diag_add(d, path, 0, 0, "key file is a symbolic link: refused");
        else
            diag_add(d, path, 0, 0, "cannot open key file: %s", strerror(errno));
        return -1;
    }
    if (keyfile_check_perms(path, fd, d) < 0) {
        close(fd);
        return -1;
    }
    while (got < sizeof(text) && (n = read(fd, text + got, sizeof(text) - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            diag_add(d, path, 0, 0, "cannot read key file: %s", strerror(errno));
            goto out;
        }
        got += (size_t)n;
    }
    while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == '\r'))
        got--;
    if (got != 2 * len) {
        diag_add(d, path, 0, 0, "key file must hold exactly %zu hexadecimal digits", 2 * len);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value((unsigned char)text[2 * i]);
        int lo = hex_value((unsigned char)text[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            diag_add(d, path, 0, 0, "key file holds a character that is not a hexadecimal digit");
            OPENSSL_cleanse(key, len);
            goto out;
        }
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    ok = 0;
out:
    OPENSSL_cleanse(text, sizeof(text));
    close(fd);
    return ok;
}
