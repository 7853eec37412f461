/* fixture.c - see fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "fixture.h"
#include "testdb.h"

static const char password[] = "Sonnenblume-Kreis-77";

static const char *const unit_codes[] = {
    "10", "10.1", "10.2", "20", "20.1", "32",   "32.1", "32.2", "33",   "36", "36.1", "36.2", "39",
    "40", "40.1", "40.2", "50", "50.1", "50.2", "51",   "51.1", "51.2", "53", "63",   "70",   "80"};

static int64_t add_unit(struct fixture *f, int64_t parent, const char *code)
{
    struct kr_error err;
    int64_t id;
    assert_int_equal(
        accounts_org_unit_add(f->conn, "test", parent, "office", code, code, code, &id, &err),
        KR_OK);
    return id;
}

static void person(struct fixture *f, const char *login, int64_t unit, unsigned roles,
                   struct efile_actor *out)
{
    struct kr_error err;
    struct account_new_user u = {.kind = "staff",
                                 .login = login,
                                 .display_name = login,
                                 .password = password,
                                 .org_unit_id = unit,
                                 .roles = roles};
    assert_int_equal(accounts_user_add(f->conn, "test", &u, &out->user_id, &err), KR_OK);
    out->unit_id = unit;
    out->roles = roles;
}

void fixture_open(void **state, struct fixture *f, bool with_plan)
{
    struct kr_error err;
    memset(f, 0, sizeof(*f));
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    int64_t county, dept;
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis",
                                           "County", &county, &err),
                     KR_OK);
    assert_int_equal(
        accounts_org_unit_add(f->conn, "test", county, "department", "D1", "D1", "D1", &dept, &err),
        KR_OK);
    for (size_t i = 0; i < sizeof(unit_codes) / sizeof(unit_codes[0]); i++) {
        int64_t id = add_unit(f, dept, unit_codes[i]);
        if (strcmp(unit_codes[i], "36.1") == 0)
            f->unit_361 = id;
        if (strcmp(unit_codes[i], "50.1") == 0)
            f->unit_501 = id;
    }
    person(f, "k.clerk", f->unit_361, ACCOUNT_ROLE_CLERK, &f->clerk);
    person(f, "l.clerk", f->unit_361, ACCOUNT_ROLE_CLERK, &f->clerk2);
    person(f, "w.clerk", f->unit_501, ACCOUNT_ROLE_CLERK, &f->other);
    person(f, "r.one", f->unit_361, ACCOUNT_ROLE_RECORDS_MANAGER, &f->records);
    person(f, "r.two", f->unit_501, ACCOUNT_ROLE_RECORDS_MANAGER, &f->records2);
    person(f, "h.head", f->unit_361, ACCOUNT_ROLE_HEAD_OF_UNIT, &f->head);
    if (with_plan) {
        const char *root = getenv("KREISEL_SOURCE_ROOT");
        assert_non_null(root);
        int rc = efile_seed_demo(f->conn, root, &err);
        if (rc)
            fprintf(stderr, "seed: %s\n", err.message);
        assert_int_equal(rc, KR_OK);
    }
}

void fixture_close(struct fixture *f)
{
    if (f->close_blobs)
        f->close_blobs(f);
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

int64_t fixture_plan(struct fixture *f, const char *number)
{
    struct kr_error err;
    int64_t id = 0;
    assert_int_equal(db_query_int64(f->conn, "SELECT id FROM efile_plan_item WHERE number = $1",
                                    DB_PARAMS(DB_TEXT(number)), &id, &err),
                     KR_OK);
    return id;
}

int64_t fixture_count(struct fixture *f, const char *sql)
{
    struct kr_error err;
    int64_t n = -1;
    assert_int_equal(db_query_int64(f->conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}
