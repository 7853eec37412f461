/* Tests of src/payments/payments.c on SQLite and PostgreSQL: receivables,
 * the status machine, the settled hook, closing, dunning, audit entries,
 * and 10,000 random bookings that must balance to the cent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "payments/payments.h"
#include "testdb.h"

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
};

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    payments_on_settled_reset();
}

static void close_fixture(struct fixture *f)
{
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
    payments_on_settled_reset();
}

static int64_t create(struct fixture *f, const char *name, int64_t cents, int64_t due,
                      char kz[PAYMENTS_KZ_SIZE])
{
    struct kr_error err;
    struct payments_new_receivable nr = {name, 0, "Gebühr", cents, NULL, due, "C-1"};
    int64_t id;
    assert_int_equal(payments_receivable_create(f->conn, "test", &nr, &id, kz, &err), KR_OK);
    return id;
}

static int settled_calls;
static int64_t settled_id;
static int on_settled(struct db_conn *conn, const struct payments_receivable *r,
                      struct kr_error *err)
{
    (void)conn;
    (void)err;
    settled_calls++;
    settled_id = r->id;
    return KR_OK;
}

static int64_t audit_count(struct fixture *f, const char *action)
{
    int64_t n;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, "SELECT COUNT(*) FROM audit_entry WHERE action = $1",
                                    DB_PARAMS(DB_TEXT(action)), &n, &err),
                     KR_OK);
    return n;
}

static void test_status_machine(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    settled_calls = 0;
    assert_int_equal(payments_on_settled(on_settled), KR_OK);
    char kz[PAYMENTS_KZ_SIZE], kz2[PAYMENTS_KZ_SIZE];
    int64_t id = create(&f, "Erika Mustermann", 1280, 0, kz);
    create(&f, "Max Muster", 500, 0, kz2);
    assert_string_not_equal(kz, kz2);
    struct payments_receivable r;
    assert_int_equal(payments_receivable_find(f.conn, f.a, kz, &r, &err), KR_OK);
    assert_int_equal(r.id, id);
    assert_int_equal(r.status, PAYMENTS_OPEN);
    assert_string_equal(r.case_ref, "C-1");
    assert_true(r.due_at > kr_now() + 13 * 86400);

    assert_int_equal(payments_book(f.conn, "test", id, 280, "manual", 0, NULL, &err), KR_OK);
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_PARTLY_PAID);
    assert_int_equal(payments_outstanding(&r), 1000);
    assert_int_equal(settled_calls, 0);
    assert_int_equal(payments_book(f.conn, "test", id, 1000, "manual", 0, NULL, &err), KR_OK);
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_PAID);
    assert_int_equal(settled_calls, 1);
    assert_int_equal(settled_id, id);
    assert_int_equal(payments_book(f.conn, "test", id, 1, "manual", 0, NULL, &err), KR_OK);
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_OVERPAID);
    assert_int_equal(settled_calls, 1); /* paid -> overpaid is not a new settlement */
    assert_int_equal(payments_book(f.conn, "test", id, -1281, "reversal", 0, NULL, &err), KR_OK);
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_OPEN);
    assert_int_equal(audit_count(&f, "payments.book"), 4);
    assert_int_equal(audit_count(&f, "payments.create"), 2);

    /* Bad input books nothing. */
    assert_int_equal(payments_book(f.conn, "test", id, 0, "manual", 0, NULL, &err), KR_ERR_INVALID);
    assert_int_equal(payments_book(f.conn, "test", id, 5, "gift", 0, NULL, &err), KR_ERR_INVALID);
    assert_int_equal(payments_book(f.conn, "test", 99999, 5, "manual", 0, NULL, &err),
                     KR_ERR_NOT_FOUND);
    struct payments_booking *b;
    size_t n;
    assert_int_equal(payments_bookings_list(f.conn, f.a, id, &b, &n, &err), KR_OK);
    assert_int_equal(n, 4);

    /* Cancellation needs a reason and ends bookings. */
    assert_int_equal(payments_receivable_close(f.conn, "test", id, true, "", &err), KR_ERR_INVALID);
    assert_int_equal(
        payments_receivable_close(f.conn, "test", id, true, "Bescheid aufgehoben", &err), KR_OK);
    assert_int_equal(payments_book(f.conn, "test", id, 5, "manual", 0, NULL, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(payments_receivable_close(f.conn, "test", id, false, "x", &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_CANCELLED);
    assert_string_equal(r.reason, "Bescheid aufgehoben");
    assert_int_equal(audit_count(&f, "payments.cancel"), 1);
    close_fixture(&f);
}

static void test_create_invalid(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    char long_name[200];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const struct payments_new_receivable bad[] = {
        {"", 0, "x", 100, NULL, 0, NULL},
        {"A", 0, "", 100, NULL, 0, NULL},
        {"A", 0, "x", 0, NULL, 0, NULL},
        {"A", 0, "x", -5, NULL, 0, NULL},
        {"A", 0, "x", PAYMENTS_AMOUNT_MAX + 1, NULL, 0, NULL},
        {"A", 0, "x", 100, "USD", 0, NULL},
        {long_name, 0, "x", 100, NULL, 0, NULL},
        {"A\nB", 0, "x", 100, NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(payments_receivable_create(f.conn, "t", &bad[i], NULL, NULL, &err),
                         KR_ERR_INVALID);
    int64_t n;
    assert_int_equal(
        db_query_int64(f.conn, "SELECT COUNT(*) FROM payments_receivable", NULL, 0, &n, &err),
        KR_OK);
    assert_int_equal(n, 0);
    close_fixture(&f);
}

/* A hook that fails rolls the booking back. */
static int refuse(struct db_conn *conn, const struct payments_receivable *r, struct kr_error *err)
{
    (void)conn;
    (void)r;
    return kr_error_set(err, KR_ERR_CONFLICT, "the case cannot move on");
}

static void test_hook_rollback(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    assert_int_equal(payments_on_settled(refuse), KR_OK);
    int64_t id = create(&f, "Erika", 1000, 0, NULL);
    assert_int_equal(payments_book(f.conn, "test", id, 1000, "manual", 0, NULL, &err),
                     KR_ERR_CONFLICT);
    struct payments_receivable r;
    assert_int_equal(payments_receivable_get(f.conn, f.a, id, &r, &err), KR_OK);
    assert_int_equal(r.paid_cents, 0);
    assert_int_equal(r.status, PAYMENTS_OPEN);
    close_fixture(&f);
}

static void test_search_dunning(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t now = kr_now();
    char kz[PAYMENTS_KZ_SIZE];
    int64_t late = create(&f, "Erika Mustermann", 3000, now - 30 * 86400, kz);
    create(&f, "Max Muster", 1500, now - 2 * 86400, NULL);
    create(&f, "Erika Mustermann", 1200, now + 86400, NULL);
    struct payments_receivable *list;
    size_t n;
    struct payments_query q = {.text = "mustermann"};
    assert_int_equal(payments_receivables_search(f.conn, f.a, &q, &list, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    q = (struct payments_query){.text = kz};
    assert_int_equal(payments_receivables_search(f.conn, f.a, &q, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    q = (struct payments_query){.amount_cents = 1500};
    assert_int_equal(payments_receivables_search(f.conn, f.a, &q, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].debtor_name, "Max Muster");
    assert_int_equal(payments_dunning_list(f.conn, f.a, now, 7, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, late);
    assert_int_equal(payments_remind(f.conn, "test", late, 500, &err), KR_OK);
    struct payments_receivable r;
    assert_int_equal(payments_receivable_get(f.conn, f.a, late, &r, &err), KR_OK);
    assert_int_equal(r.fee_cents, 500);
    assert_int_equal(r.reminders, 1);
    assert_int_equal(payments_outstanding(&r), 3500);
    assert_int_equal(payments_book(f.conn, "test", late, 3000, "manual", 0, NULL, &err), KR_OK);
    assert_int_equal(payments_receivable_get(f.conn, f.a, late, &r, &err), KR_OK);
    assert_int_equal(r.status, PAYMENTS_PARTLY_PAID);
    close_fixture(&f);
}

#define RECEIVABLES 40
#define BOOKINGS 10000

static void test_random_bookings_balance(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t ids[RECEIVABLES], expect[RECEIVABLES] = {0}, amounts[RECEIVABLES];
    srand(20260101);
    assert_int_equal(db_begin(f.conn, &err), KR_OK);
    for (int i = 0; i < RECEIVABLES; i++) {
        amounts[i] = 1 + rand() % 500000;
        ids[i] = create(&f, "Zufall", amounts[i], 0, NULL);
    }
    int64_t total = 0;
    for (int k = 0; k < BOOKINGS; k++) {
        int i = rand() % RECEIVABLES;
        int64_t cents = 1 + rand() % 99999;
        if (rand() % 10 == 0)
            cents = -cents;
        assert_int_equal(payments_book(f.conn, "test", ids[i], cents,
                                       cents < 0 ? "reversal" : "statement", 0, NULL, &err),
                         KR_OK);
        expect[i] += cents;
        total += cents;
    }
    assert_int_equal(db_commit(f.conn, &err), KR_OK);
    int64_t sum_bookings, sum_paid;
    assert_int_equal(db_query_int64(f.conn, "SELECT SUM(amount_cents) FROM payments_booking", NULL,
                                    0, &sum_bookings, &err),
                     KR_OK);
    assert_int_equal(db_query_int64(f.conn, "SELECT SUM(paid_cents) FROM payments_receivable", NULL,
                                    0, &sum_paid, &err),
                     KR_OK);
    assert_int_equal(sum_bookings, total);
    assert_int_equal(sum_paid, total);
    for (int i = 0; i < RECEIVABLES; i++) {
        struct payments_receivable r;
        assert_int_equal(payments_receivable_get(f.conn, f.a, ids[i], &r, &err), KR_OK);
        assert_int_equal(r.paid_cents, expect[i]);
        enum payments_status want = expect[i] <= 0            ? PAYMENTS_OPEN
                                    : expect[i] < amounts[i]  ? PAYMENTS_PARTLY_PAID
                                    : expect[i] == amounts[i] ? PAYMENTS_PAID
                                                              : PAYMENTS_OVERPAID;
        assert_int_equal(r.status, want);
    }
    assert_int_equal(audit_count(&f, "payments.book"), BOOKINGS);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_status_machine),          TESTDB_BOTH(test_create_invalid),
        TESTDB_BOTH(test_hook_rollback),           TESTDB_BOTH(test_search_dunning),
        TESTDB_BOTH(test_random_bookings_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
