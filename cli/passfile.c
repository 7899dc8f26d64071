/*
 * passfile - the passphrase files of `mailseal secret set --passphrase-file`
 * and `mailseal decrypt --passphrase-file`: the first line of the file is
 * the passphrase (see cli.h, cli_read_passphrase_file()).
 *
 * At most cap bytes are read.  The line ends at the first LF; trailing CR
 * bytes are not part of it.  Whatever the buffer holds beyond the line is
 * wiped, and the whole buffer on failure.  Nothing is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"

/* cli_read_passphrase_file - the first line of path into pass[cap] */
int cli_read_passphrase_file(const char *path, char *pass, size_t cap, size_t max, size_t *len,
                             const char **why)
{
    size_t n = 0;
    char *lf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        *why = "cannot open the passphrase file";
        return -1;
    }
    while (n < cap && lf == NULL) {
        ssize_t r = read(fd, pass + n, cap - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;

            close(fd);
            OPENSSL_cleanse(pass, cap);
            *why = "cannot read the passphrase file";
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        lf = memchr(pass + n, '\n', (size_t)r);
        n += (size_t)r;
    }
    close(fd);
    if (lf == NULL && n == cap) {         /* the line goes on past the buffer */
        OPENSSL_cleanse(pass, cap);
        *why = "the passphrase is too long";
        errno = E2BIG;
        return -1;
    }
    if (lf != NULL)
        n = (size_t)(lf - pass);
    OPENSSL_cleanse(pass + n, cap - n);   /* what followed the first line */
    while (n > 0 && pass[n - 1] == '\r')
        n--;
    if (n > max || n >= cap) {
        OPENSSL_cleanse(pass, cap);
        *why = "the passphrase is too long";
        errno = E2BIG;
        return -1;
    }
    pass[n] = '\0';
    *len = n;
    return 0;
}
