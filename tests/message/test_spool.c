/*
 * test_spool - the message spool: stays in memory up to the limit, spills
 * to a private (0600), unlinked temporary file beyond it, reads back any
 * range (also across the point where it spilled), keeps failing after a
 * write failure, and fails when the directory cannot hold the file.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "message/spool.h"

#define MAXFD 1024

/* open_fds - mark the open file descriptors in set[] */
static void open_fds(char set[MAXFD])
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    memset(set, 0, MAXFD);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);

        if (e->d_name[0] != '.' && fd >= 0 && fd < MAXFD && fd != dirfd(d))
            set[fd] = 1;
    }
    closedir(d);
}

/* new_fd - the one descriptor open now that was not in before[], -1 if none */
static int new_fd(const char before[MAXFD])
{
    char now[MAXFD];
    int fd, found = -1;

    open_fds(now);
    for (fd = 0; fd < MAXFD; fd++)
        if (now[fd] && !before[fd]) {
            assert_int_equal(found, -1);
            found = fd;
        }
    return found;
}

/* pattern - byte i of the test data */
static char pattern(size_t i)
{
    return (char)('a' + (i * 7 + i / 251) % 26);
}

/* check_read - pread len bytes at off and compare with the pattern */
static void check_read(struct spool *sp, uint64_t off, size_t len, size_t want)
{
    char *b = malloc(len + 1);
    ssize_t n;
    size_t i;

    n = spool_pread(sp, b, len, off);
    assert_int_equal(n, (ssize_t)want);
    for (i = 0; i < want; i++)
        assert_int_equal(b[i], pattern((size_t)off + i));
    free(b);
}

/* write_pattern - append len pattern bytes that continue at offset off */
static int write_pattern(struct spool *sp, size_t off, size_t len)
{
    char *b = malloc(len);
    size_t i;
    int r;

    for (i = 0; i < len; i++)
        b[i] = pattern(off + i);
    r = spool_write(sp, b, len);
    free(b);
    return r;
}

/* test_memory - below the limit nothing touches the disk */
static void test_memory(void **state)
{
    char before[MAXFD];
    struct spool *sp;

    (void)state;
    open_fds(before);
    sp = spool_new("/tmp", 1000);
    assert_non_null(sp);
    assert_int_equal(write_pattern(sp, 0, 600), 0);
    assert_int_equal(write_pattern(sp, 600, 400), 0);     /* exactly the limit */
    assert_int_equal(spool_in_file(sp), 0);
    assert_int_equal(spool_size(sp), 1000);
    assert_int_equal(new_fd(before), -1);
    check_read(sp, 0, 1000, 1000);
    check_read(sp, 990, 100, 10);
    check_read(sp, 1000, 10, 0);
    check_read(sp, 5000, 10, 0);
    assert_int_equal(spool_write(sp, "", 0), 0);
    assert_int_equal(spool_in_file(sp), 0);
    spool_free(sp);
    spool_free(NULL);
}

/* test_spill - past the limit: a 0600 file with no name, same bytes back */
static void test_spill(void **state)
{
    char before[MAXFD], link[512], path[64];
    struct spool *sp;
    struct stat st;
    ssize_t n;
    int fd;

    (void)state;
    open_fds(before);
    sp = spool_new("/tmp", 1000);
    assert_non_null(sp);
    assert_int_equal(write_pattern(sp, 0, 999), 0);
    assert_int_equal(spool_in_file(sp), 0);
    assert_int_equal(write_pattern(sp, 999, 2), 0);
    assert_int_equal(spool_in_file(sp), 1);
    assert_int_equal(write_pattern(sp, 1001, 200000), 0);
    assert_int_equal(spool_size(sp), 201001);

    fd = new_fd(before);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_nlink, 0);
    assert_int_equal(st.st_size, 201001);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = 0;
    assert_non_null(strstr(link, "(deleted)"));

    check_read(sp, 0, 201001, 201001);
    check_read(sp, 990, 20, 20);             /* across the spill point */
    check_read(sp, 201000, 10, 1);
    check_read(sp, 201001, 10, 0);
    spool_free(sp);
    assert_int_equal(new_fd(before), -1);    /* closed, so gone */
}

/* test_segments - in memory the bytes live in 64 KiB segments: writes of
 * every size across segment ends, reads at every offset around them, then
 * a spill that writes the segments out in order */
static void test_segments(void **state)
{
    static const size_t sizes[] = { 1, 7, 65535, 1, 65536, 3, 65537, 100000, 4096 };
    const size_t seg = 64 * 1024;
    struct spool *sp;
    size_t total = 0;

    (void)state;
    sp = spool_new("/tmp", 8u * seg);
    assert_non_null(sp);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(write_pattern(sp, total, sizes[i]), 0);
        total += sizes[i];
    }
    assert_int_equal(spool_in_file(sp), 0);
    assert_int_equal(spool_size(sp), total);
    check_read(sp, 0, total, total);
    for (size_t k = 1; k <= 4; k++)
        for (size_t d = 0; d < 6; d++) {
            size_t off = k * seg - 3 + d, left = total - off;

            check_read(sp, off, 1, 1);
            check_read(sp, off, 7, 7);
            check_read(sp, off, seg + 5, seg + 5 < left ? seg + 5 : left);
        }
    check_read(sp, total - 2, 10, 2);
    /* spool_peek: the same bytes where they lie, up to a segment's end */
    for (size_t off = 0; off < total; off += 4093) {
        const char *data;
        size_t n = spool_peek(sp, off, &data), want = seg - off % seg;

        assert_int_equal(n, want < total - off ? want : total - off);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(data[i], pattern(off + i));
    }
    {
        const char *data;

        assert_int_equal(spool_peek(sp, total, &data), 0);
        assert_null(data);
    }
    /* past the limit: the segments go to the file in order */
    assert_int_equal(write_pattern(sp, total, 8u * seg), 0);
    total += 8u * seg;
    assert_int_equal(spool_in_file(sp), 1);
    assert_int_equal(spool_size(sp), total);
    check_read(sp, 0, total, total);
    check_read(sp, 3 * seg - 1, 2, 2);
    {
        const char *data;

        assert_int_equal(spool_peek(sp, 0, &data), 0);   /* in the file now */
        assert_null(data);
    }
    spool_free(sp);
}

/* test_write_failure_sticks - after one failed write every write fails */
static void test_write_failure_sticks(void **state)
{
    struct rlimit old, small;
    struct spool *sp;
    int err;

    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    sp = spool_new("/tmp", 100);
    assert_non_null(sp);
    assert_int_equal(write_pattern(sp, 0, 50), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    errno = 0;
    assert_int_equal(write_pattern(sp, 50, 10000), -1);
    err = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(err, EFBIG);
    errno = 0;
    assert_int_equal(write_pattern(sp, 0, 1), -1);
    assert_int_equal(errno, EFBIG);
    spool_free(sp);
}

/* test_bad_directory - no usable directory: the spill fails, and keeps failing */
static void test_bad_directory(void **state)
{
    static const char *dirs[] = { "/nonexistent-mailseal-dir/x", "/dev/null" };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct spool *sp = spool_new(dirs[i], 10);

        assert_non_null(sp);
        assert_int_equal(write_pattern(sp, 0, 10), 0);
        errno = 0;
        assert_int_equal(write_pattern(sp, 10, 10), -1);
        assert_true(errno != 0);
        assert_int_equal(spool_in_file(sp), 0);
        assert_int_equal(write_pattern(sp, 10, 1), -1);
        spool_free(sp);
    }
}

/* main - run the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_spill),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_write_failure_sticks),
        cmocka_unit_test(test_bad_directory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
