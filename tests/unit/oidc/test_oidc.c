/* Tests of src/oidc/oidc.c (pending logins, identity links), on SQLite and
 * PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "accounts/accounts.h"
#include "accounts/export.h"
#include "core/fault.h"
#include "core/util.h"
#include "oidc/oidc.h"
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
}

static void close_fixture(struct fixture *f)
{
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}

static void session_hash(const char *session, char out[65])
{
    kr_sha256_hex(session, strlen(session), out);
}

static void test_pending_single_use(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    char st[OIDC_RANDOM_LEN + 1], nonce[OIDC_RANDOM_LEN + 1], verifier[OIDC_RANDOM_LEN + 1];
    char mine[65], theirs[65];
    oidc_random(st);
    oidc_random(nonce);
    oidc_random(verifier);
    session_hash("browser-1", mine);
    session_hash("browser-2", theirs);
    struct oidc_pending p = {nonce, verifier, "/antrag/42"};
    assert_int_equal(oidc_pending_create(f.conn, st, mine, &p, &err), KR_OK);
    /* The state is stored only as its hash. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_pending"), 1);
    char *stored = NULL;
    assert_int_equal(
        db_query_text(f.conn, "SELECT state_hash FROM oidc_pending", NULL, 0, f.a, &stored, &err),
        KR_OK);
    assert_string_not_equal(stored, st);

    struct oidc_pending got;
    /* Another browser finds nothing and does not use it up. */
    assert_int_equal(oidc_pending_take(f.conn, f.a, st, theirs, &got, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(oidc_pending_take(f.conn, f.a, st, mine, &got, &err), KR_OK);
    assert_string_equal(got.nonce, nonce);
    assert_string_equal(got.code_verifier, verifier);
    assert_string_equal(got.return_path, "/antrag/42");
    /* Single use. */
    assert_int_equal(oidc_pending_take(f.conn, f.a, st, mine, &got, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_pending"), 0);

    /* Expired. */
    oidc_random(st);
    assert_int_equal(oidc_pending_create(f.conn, st, mine, &p, &err), KR_OK);
    assert_int_equal(db_exec(f.conn, "UPDATE oidc_pending SET expires_at = $1",
                             DB_PARAMS(DB_INT(kr_now() - 1)), NULL, &err),
                     KR_OK);
    assert_int_equal(oidc_pending_take(f.conn, f.a, st, mine, &got, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_pending"), 0);

    /* At most OIDC_PENDING_PER_SESSION per browser: the oldest go. */
    char states[OIDC_PENDING_PER_SESSION + 2][OIDC_RANDOM_LEN + 1];
    for (int i = 0; i < OIDC_PENDING_PER_SESSION + 2; i++) {
        oidc_random(states[i]);
        assert_int_equal(oidc_pending_create(f.conn, states[i], mine, &p, &err), KR_OK);
        assert_int_equal(db_exec(f.conn, "UPDATE oidc_pending SET created_at = created_at - 100",
                                 NULL, 0, NULL, &err),
                         KR_OK);
    }
    assert_int_equal(oidc_pending_create(f.conn, st, theirs, &p, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_pending"), OIDC_PENDING_PER_SESSION + 1);
    assert_int_equal(oidc_pending_take(f.conn, f.a, states[0], mine, &got, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(
        oidc_pending_take(f.conn, f.a, states[OIDC_PENDING_PER_SESSION + 1], mine, &got, &err),
        KR_OK);
    assert_int_equal(oidc_pending_take(f.conn, f.a, st, theirs, &got, &err), KR_OK);

    /* Bad shapes. */
    struct oidc_pending bad = {nonce, verifier, "https://evil.example/"};
    assert_int_equal(oidc_pending_create(f.conn, st, mine, &bad, &err), KR_ERR_INVALID);
    assert_int_equal(oidc_pending_create(f.conn, "short", mine, &p, &err), KR_ERR_INVALID);
    assert_int_equal(oidc_pending_create(f.conn, st, "nothex", &p, &err), KR_ERR_INVALID);
    assert_int_equal(oidc_pending_take(f.conn, f.a, "x' OR 1=1 --", mine, &got, &err),
                     KR_ERR_NOT_FOUND);
    close_fixture(&f);
}

static void test_identity_first_and_later_login(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct oidc_claims c = {.issuer = "https://id.example",
                            .subject = "pseudonym-1",
                            .name = "Erika Mustermann",
                            .email = "erika@example.org",
                            .email_verified = false,
                            .acr = "urn:x:eid"};
    struct oidc_login_result first, second, other;
    assert_int_equal(oidc_identity_login(f.conn, f.a, &c, "high", &first, &err), KR_OK);
    assert_true(first.created);
    struct account_user u;
    assert_int_equal(accounts_user_get(f.conn, f.a, first.user_id, &u, &err), KR_OK);
    assert_string_equal(u.kind, "citizen");
    assert_string_equal(u.display_name, "Erika Mustermann");
    assert_string_equal(u.email, "erika@example.org");
    assert_int_equal(strncmp(u.login, "oidc-", 5), 0);
    assert_int_equal(strlen(u.login), 37);
    assert_int_equal(count(&f, "SELECT email_verified FROM oidc_identity"), 0);

    c.email_verified = true;
    c.name = "Erika Neuname";
    assert_int_equal(oidc_identity_login(f.conn, f.a, &c, "high", &second, &err), KR_OK);
    assert_false(second.created);
    assert_int_equal(second.user_id, first.user_id);
    assert_int_equal(count(&f, "SELECT email_verified FROM oidc_identity"), 1);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 1);

    /* The same subject at another issuer is another person. */
    c.issuer = "https://other.example";
    c.email = "not an address";
    c.name = NULL;
    assert_int_equal(oidc_identity_login(f.conn, f.a, &c, "low", &other, &err), KR_OK);
    assert_true(other.created);
    assert_true(other.user_id != first.user_id);
    assert_int_equal(accounts_user_get(f.conn, f.a, other.user_id, &u, &err), KR_OK);
    assert_null(u.email);
    assert_string_equal(u.display_name, "Servicekonto");

    /* An address that another account has stays off the new account:
     * accounts are never merged on a provider's claim. */
    c.issuer = "https://third.example";
    c.email = "Erika@example.org";
    struct oidc_login_result third;
    assert_int_equal(oidc_identity_login(f.conn, f.a, &c, "low", &third, &err), KR_OK);
    assert_true(third.created);
    assert_int_equal(accounts_user_get(f.conn, f.a, third.user_id, &u, &err), KR_OK);
    assert_null(u.email);

    /* The links are part of the person's data export. */
    assert_int_equal(accounts_export_register("oidc", oidc_export), KR_OK);
    void *zip;
    size_t zip_len;
    assert_int_equal(accounts_export_zip(f.conn, f.a, first.user_id, &zip, &zip_len, &err), KR_OK);
    static const char name[] = "servicekonto-anmeldungen.json";
    assert_non_null(memmem(zip, zip_len, name, sizeof(name) - 1));

    /* Audit: three account.create, four oidc.login, none naming the subject. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.create' "
                               "AND actor = 'oidc'"),
                     3);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'oidc.login'"), 4);
    assert_int_equal(
        count(&f, "SELECT COUNT(*) FROM audit_entry WHERE details LIKE '%pseudonym-1%'"), 0);

    /* A disabled account cannot log in, and nothing is changed. */
    assert_int_equal(db_exec(f.conn, "UPDATE account_user SET disabled = 1 WHERE id = $1",
                             DB_PARAMS(DB_INT(first.user_id)), NULL, &err),
                     KR_OK);
    c.issuer = "https://id.example";
    assert_int_equal(oidc_identity_login(f.conn, f.a, &c, "high", &second, &err), KR_ERR_FORBIDDEN);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'oidc.login'"), 4);
    close_fixture(&f);
}

/* A failure at any statement of a first login leaves nothing behind: no
 * account without its link, no link without its audit entry. */
static void test_identity_login_all_or_nothing(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct oidc_claims c = {.issuer = "https://id.example", .subject = "p-2", .name = "Max"};
    struct oidc_login_result res;
    long nth;
    for (nth = 1; nth < 100; nth++) {
        kr_fault_arm(KR_FAULT_DB_STEP, nth);
        int rc = oidc_identity_login(f.conn, f.a, &c, "low", &res, &err);
        long fired = kr_fault_fired(KR_FAULT_DB_STEP);
        kr_fault_disarm();
        if (rc == KR_OK) {
            assert_int_equal(fired, 0);
            break;
        }
        assert_int_equal(fired, 1);
        assert_int_equal(res.user_id, 0);
        assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 0);
        assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_identity"), 0);
        assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry"), 0);
    }
    assert_true(nth > 3); /* the loop really failed several statements */
    assert_true(res.created);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM oidc_identity"), 1);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_pending_single_use),
        TESTDB_BOTH(test_identity_first_and_later_login),
        TESTDB_BOTH(test_identity_login_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
