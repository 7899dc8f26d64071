/*
 * test_buf - buf_reserve(): appends within the reservation never move the
 * data, and the reservation is capped at the buffer's maximum; an append
 * that fails frees the buffer wiped (free() is wrapped, -Wl,--wrap=free,
 * to look at the block as it is released).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

/* the block being watched, and what __wrap_free saw of it */
static const void *watched;
static size_t watched_len;
static int watched_freed, watched_clear;

void __real_free(void *p);
void __wrap_free(void *p);

/* __wrap_free - free(), noting whether the watched block held anything */
void __wrap_free(void *p)
{
    if (p != NULL && p == watched) {
        const unsigned char *c = p;

        watched_freed = 1;
        watched_clear = 1;
        for (size_t i = 0; i < watched_len; i++)
            if (c[i] != 0)
                watched_clear = 0;
        watched = NULL;
    }
    __real_free(p);
}

/* test_failed_append_wipes - an append past the maximum releases the
 * buffer, which holds a secret, wiped (ENOMEM takes the same path) */
static void test_failed_append_wipes(void **state)
{
    static const char filler[200];
    struct buf b = BUF_INIT(100);

    (void)state;
    assert_int_equal(buf_adds(&b, "secret passphrase"), 0);
    watched = b.data;
    watched_len = b.cap;
    watched_freed = watched_clear = 0;
    assert_int_equal(buf_add(&b, filler, sizeof(filler)), -1);
    assert_int_equal(errno, EOVERFLOW);
    assert_true(watched_freed);
    assert_true(watched_clear);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_reserve_keeps_data_in_place(void **state)
{
    struct buf b = BUF_INIT(4096);
    const char *where;

    (void)state;
    assert_int_equal(buf_adds(&b, "secret"), 0);
    assert_int_equal(buf_reserve(&b, 1000), 0);
    where = b.data;
    for (int i = 0; i < 100; i++)
        assert_int_equal(buf_adds(&b, "0123456789"), 0);
    assert_ptr_equal(b.data, where);
    assert_int_equal(b.len, 1006);
    assert_memory_equal(b.data, "secret0123", 10);
    buf_free(&b);
}

static void test_reserve_capped_at_max(void **state)
{
    struct buf b = BUF_INIT(100);

    (void)state;
    assert_int_equal(buf_adds(&b, "abc"), 0);
    assert_int_equal(buf_reserve(&b, SIZE_MAX), 0);     /* capped, not refused */
    assert_true(b.cap >= 101);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_keeps_data_in_place),
        cmocka_unit_test(test_reserve_capped_at_max),
        cmocka_unit_test(test_failed_append_wipes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
