/*
 * test_buf - buf_reserve(): appends within the reservation never move the
 * data, and the reservation is capped at the buffer's maximum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
