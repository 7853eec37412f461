/* Tests of src/core/buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/fault.h"

static void test_append_and_cstr(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_string_equal(buf_cstr(&b), "");
    assert_int_equal(buf_puts(&b, "Land"), KR_OK);
    assert_int_equal(buf_putc(&b, 'k'), KR_OK);
    assert_int_equal(buf_printf(&b, "reis %d", 7), KR_OK);
    assert_string_equal(buf_cstr(&b), "Landkreis 7");
    assert_int_equal(b.len, 11);
    /* Embedded NUL bytes are kept; the length says how many. */
    assert_int_equal(buf_append(&b, "a\0b", 3), KR_OK);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.data + 11, "a\0b", 3);
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 1024);
}

static void test_cap_is_hard_and_sticky(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "0123456789"), KR_OK); /* exactly the cap */
    assert_int_equal(buf_putc(&b, 'x'), KR_ERR_TOO_LARGE);
    /* Sticky: even a small append fails now, and the content is intact. */
    assert_int_equal(buf_puts(&b, ""), KR_ERR_TOO_LARGE);
    assert_int_equal(buf_status(&b), KR_ERR_TOO_LARGE);
    assert_string_equal(buf_cstr(&b), "0123456789");
    /* A detached buffer in error hands out nothing (no half results). */
    size_t len = 99;
    assert_null(buf_detach(&b, &len));
    assert_int_equal(len, 0);
    /* printf beyond the cap fails too. */
    assert_int_equal(buf_printf(&b, "%020d", 1), KR_ERR_TOO_LARGE);
    buf_reset(&b);
    assert_int_equal(buf_status(&b), KR_OK);
    buf_release(&b);
}

static void test_detach_hands_over_memory(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    size_t len;
    char *p = buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, strlen(p));
    assert_int_equal(strncmp(p, "0,1,2,", 6), 0);
    free(p);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_out_of_memory_is_reported(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    kr_fault_arm(KR_FAULT_ALLOC, 1);
    assert_int_equal(buf_puts(&b, "x"), KR_ERR_NOMEM);
    kr_fault_disarm();
    assert_int_equal(buf_status(&b), KR_ERR_NOMEM);
    buf_release(&b);
}

static void test_csv(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_put_csv(&b, "plain"), KR_OK);
    buf_putc(&b, ',');
    buf_put_csv(&b, "a,b");
    buf_putc(&b, ',');
    buf_put_csv(&b, "say \"hi\"\nnow");
    buf_putc(&b, ',');
    buf_put_csv(&b, NULL);
    assert_string_equal(buf_cstr(&b), "plain,\"a,b\",\"say \"\"hi\"\"\nnow\",");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cstr),
        cmocka_unit_test(test_cap_is_hard_and_sticky),
        cmocka_unit_test(test_detach_hands_over_memory),
        cmocka_unit_test(test_out_of_memory_is_reported),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
