/* Tests of src/core/arena.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/fault.h"

static void test_alignment_and_growth(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    assert_non_null(a);
    for (size_t size = 0; size < 20000; size += 1 + size / 3) {
        unsigned char *p = arena_alloc(a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xAB, size); /* ASan catches any overlap or overrun */
    }
    /* A block larger than the default block size. */
    char *big = arena_alloc(a, 5 * 1024 * 1024);
    assert_non_null(big);
    big[5 * 1024 * 1024 - 1] = 1;
    arena_free(a);
}

static void test_limit(void **state)
{
    (void)state;
    struct arena *a = arena_new(1000);
    assert_non_null(arena_alloc(a, 500));
    assert_non_null(arena_alloc(a, 400));
    assert_null(arena_alloc(a, 200)); /* 500 + 400 + 200 > 1000 */
    assert_non_null(arena_alloc(a, 50));
    assert_true(arena_used(a) <= 1000);
    assert_null(arena_alloc(a, SIZE_MAX - 8)); /* no overflow wrap */
    arena_free(a);
}

static void test_strings(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    assert_string_equal(arena_strdup(a, "Kreisel"), "Kreisel");
    assert_string_equal(arena_strndup(a, "Landkreis", 4), "Land");
    assert_null(arena_strdup(a, NULL));
    assert_string_equal(arena_printf(a, "%s-%04d", "AZ", 42), "AZ-0042");
    char *z = arena_zalloc(a, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    assert_null(arena_calloc(a, SIZE_MAX / 2, 4)); /* n * size overflows */
    arena_free(a);
}

static int order[4];
static int order_len;
static void record(void *p)
{
    order[order_len++] = *(int *)p;
}

static void test_defer_runs_lifo_on_free_and_reset(void **state)
{
    (void)state;
    static int one = 1, two = 2, three = 3;
    struct arena *a = arena_new(0);
    order_len = 0;
    assert_int_equal(arena_defer(a, record, &one), 0);
    assert_int_equal(arena_defer(a, record, &two), 0);
    arena_reset(a);
    assert_int_equal(order_len, 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1);
    assert_int_equal(arena_used(a), 0);
    assert_int_equal(arena_defer(a, record, &three), 0);
    arena_free(a);
    assert_int_equal(order_len, 3);
    assert_int_equal(order[2], 3);
}

static void test_defer_runs_cleanup_when_out_of_memory(void **state)
{
    (void)state;
    static int four = 4;
    struct arena *a = arena_new(0);
    order_len = 0;
    kr_fault_arm(KR_FAULT_ALLOC, 1);
    assert_int_equal(arena_defer(a, record, &four), KR_ERR_NOMEM);
    kr_fault_disarm();
    /* The object was released at once, not leaked. */
    assert_int_equal(order_len, 1);
    assert_int_equal(order[0], 4);
    arena_free(a);
    assert_int_equal(order_len, 1);
}

static void test_fault_injection_fails_the_nth_allocation(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    kr_fault_arm(KR_FAULT_ALLOC, 3);
    assert_non_null(arena_alloc(a, 8));
    assert_non_null(arena_alloc(a, 8));
    assert_null(arena_alloc(a, 8));
    assert_non_null(arena_alloc(a, 8));
    assert_int_equal(kr_fault_fired(KR_FAULT_ALLOC), 1);
    kr_fault_disarm();
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_growth),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_defer_runs_lifo_on_free_and_reset),
        cmocka_unit_test(test_defer_runs_cleanup_when_out_of_memory),
        cmocka_unit_test(test_fault_injection_fails_the_nth_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
