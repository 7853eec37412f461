/* Tests of src/accounts/accounts.c and session.c, on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "testdb.h"

static const char password[] = "Kreisverwaltung-2026!";

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    int64_t county, dept, office;
};

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis Test",
                                           "District of Test", &f->county, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", f->county, "department", "D1",
                                           "Dezernat I", "Department I", &f->dept, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", f->dept, "office", "36",
                                           "Straßenverkehrsamt", "Road Traffic Office", &f->office,
                                           &err),
                     KR_OK);
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

static int64_t add_user(struct fixture *f, const char *login, unsigned roles)
{
    struct kr_error err;
    struct account_new_user u = {.kind = "staff",
                                 .login = login,
                                 .display_name = "Erika Muster",
                                 .email = "erika@example.org",
                                 .password = password,
                                 .org_unit_id = f->office,
                                 .roles = roles};
    int64_t id = 0;
    int rc = accounts_user_add(f->conn, "test", &u, &id, &err);
    if (rc)
        fail_msg("add %s: %s", login, err.message);
    return id;
}

static void test_password_rules(void **state)
{
    (void)state;
    static const struct {
        const char *login, *password;
        int rc;
    } rows[] = {
        {"admin", "Kreisverwaltung-2026!", KR_OK},
        {"admin", "kurz", KR_ERR_INVALID},
        {"admin", "elf-zeichen", KR_ERR_INVALID},
        {"admin", "aaaaaaaaaaaaaaaa", KR_ERR_INVALID},
        {"admin", "Passwort1234", KR_ERR_INVALID},
        {"administrator1", "ADMINISTRATOR1", KR_ERR_INVALID},
        {"e.muster", "e.muster", KR_ERR_INVALID},
        {"admin", "Grüße aus dem Landkreis", KR_OK},
        {"admin", "bad utf8 \xff\xfe here", KR_ERR_INVALID},
        {"admin", NULL, KR_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct kr_error err;
        int rc = accounts_password_check(rows[i].login, rows[i].password, &err);
        if (rc != rows[i].rc)
            fail_msg("row %zu: %d, want %d", i, rc, rows[i].rc);
    }
    char generated[21];
    accounts_password_generate(generated);
    assert_int_equal(strlen(generated), 20);
    struct kr_error err;
    assert_int_equal(accounts_password_check("admin", generated, &err), KR_OK);
    enum account_role role;
    assert_int_equal(account_role_parse("cash_office", &role), KR_OK);
    assert_int_equal(role, ACCOUNT_ROLE_CASH_OFFICE);
    assert_string_equal(account_role_name(ACCOUNT_ROLE_RECORDS_MANAGER), "records_manager");
    assert_int_equal(account_role_parse("king", &role), KR_ERR_INVALID);
}

static void test_org_units(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id;
    static const struct {
        const char *parent, *kind, *code;
        int rc;
    } rows[] = {
        {NULL, "county", "LK2", KR_ERR_CONFLICT},  /* one county only */
        {"D1", "county", "X", KR_ERR_INVALID},     /* a county has no parent */
        {NULL, "office", "X", KR_ERR_INVALID},     /* others need one */
        {"36", "department", "X", KR_ERR_INVALID}, /* no department below an office */
        {"36", "office", "X", KR_ERR_INVALID},     /* nor an office */
        {"36", "section", "36.1", KR_OK},
        {"36", "section", "36.1", KR_ERR_CONFLICT}, /* code taken */
        {"36", "section", "36 1", KR_ERR_INVALID},  /* bad code */
        {"36", "section", "", KR_ERR_INVALID},
        {"36", "team", "T1", KR_ERR_INVALID}, /* unknown kind */
        {"LK", "office", "50", KR_OK},        /* an office right below the county */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t parent = 0;
        if (rows[i].parent) {
            struct account_org_unit p;
            assert_int_equal(accounts_org_unit_find(f.conn, f.a, rows[i].parent, &p, &err), 0);
            parent = p.id;
        }
        int rc = accounts_org_unit_add(f.conn, "test", parent, rows[i].kind, rows[i].code, "Name",
                                       "Name", &id, &err);
        if (rc != rows[i].rc)
            fail_msg("row %zu (%s): %d, want %d: %s", i, rows[i].code, rc, rows[i].rc, err.message);
    }
    struct account_org_unit *units;
    size_t n;
    assert_int_equal(accounts_org_units_list(f.conn, f.a, &units, &n, &err), KR_OK);
    static const struct {
        const char *code;
        int depth;
    } order[] = {{"LK", 0}, {"50", 1}, {"D1", 1}, {"36", 2}, {"36.1", 3}};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(units[i].code, order[i].code);
        assert_int_equal(units[i].depth, order[i].depth);
    }
    char *name;
    assert_int_equal(accounts_county_name(f.conn, f.a, "de", &name, &err), KR_OK);
    assert_string_equal(name, "Landkreis Test");
    assert_int_equal(accounts_county_name(f.conn, f.a, "en", &name, &err), KR_OK);
    assert_string_equal(name, "District of Test");
    /* Every unit created is in the audit log. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'org_unit.create'"),
                     5);
    close_fixture(&f);
}

static void test_users(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = add_user(&f, "E.Muster", ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_CASH_OFFICE);
    struct account_user u;
    assert_int_equal(accounts_user_get(f.conn, f.a, id, &u, &err), KR_OK);
    assert_string_equal(u.login, "e.muster"); /* stored lower-case */
    assert_string_equal(u.kind, "staff");
    assert_int_equal(u.roles, ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_CASH_OFFICE);
    assert_int_equal(u.org_unit_id, f.office);
    assert_int_equal(accounts_user_get(f.conn, f.a, id + 100, &u, &err), KR_ERR_NOT_FOUND);

    static const struct account_new_user bad[] = {
        {.kind = "staff", .login = "E.MUSTER", .display_name = "Dup", .password = password},
        {.kind = "staff", .login = "ab", .display_name = "Short", .password = password},
        {.kind = "staff", .login = "mit leerzeichen", .display_name = "X", .password = password},
        {.kind = "staff", .login = "neu", .display_name = "", .password = password},
        {.kind = "staff", .login = "neu", .display_name = "X", .password = "kurz"},
        {.kind = "staff",
         .login = "neu",
         .display_name = "X",
         .password = password,
         .email = "no-at-sign"},
        {.kind = "citizen", .login = "neu", .display_name = "X", .roles = ACCOUNT_ROLE_CLERK},
        {.kind = "robot", .login = "neu", .display_name = "X", .password = password},
        {.kind = "staff", .login = "neu", .display_name = "X"}, /* staff need a password */
        {.kind = "staff",
         .login = "neu",
         .display_name = "X",
         .password = password,
         .org_unit_id = 999999},
        {.kind = "staff",
         .login = "neu",
         .display_name = "X",
         .password = password,
         .roles = 1u << ACCOUNT_ROLE_COUNT},
    };
    static const int want[] = {KR_ERR_CONFLICT, KR_ERR_INVALID,  KR_ERR_INVALID, KR_ERR_INVALID,
                               KR_ERR_INVALID,  KR_ERR_INVALID,  KR_ERR_INVALID, KR_ERR_INVALID,
                               KR_ERR_INVALID,  KR_ERR_CONFLICT, KR_ERR_INVALID};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = accounts_user_add(f.conn, "test", &bad[i], NULL, &err);
        if (rc != want[i])
            fail_msg("row %zu: %d, want %d: %s", i, rc, want[i], err.message);
    }
    /* Nothing of the refused accounts was stored, half or whole. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 1);
    /* A citizen who only logs in through an identity provider has no
     * password, so no password login can ever succeed for them. */
    struct account_new_user eid = {.kind = "citizen", .login = "oidc-1", .display_name = "Erika"};
    int64_t eid_id;
    assert_int_equal(accounts_user_add(f.conn, "test", &eid, &eid_id, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user WHERE password_hash IS NULL"), 1);
    assert_int_equal(accounts_user_get(f.conn, f.a, eid_id, &u, &err), KR_OK);
    assert_string_equal(u.kind, "citizen");
    assert_int_equal(db_exec(f.conn, "DELETE FROM account_user WHERE id = $1",
                             DB_PARAMS(DB_INT(eid_id)), NULL, &err),
                     KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_role"), 2);
    /* the first staff account and the citizen */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.create'"),
                     2);
    int64_t n;
    assert_int_equal(accounts_user_count(f.conn, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    /* The hash is Argon2id, never the password. */
    char *hash;
    assert_int_equal(
        db_query_text(f.conn, "SELECT password_hash FROM account_user", NULL, 0, f.a, &hash, &err),
        KR_OK);
    assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
    close_fixture(&f);
}

static void test_login_and_rate_limit(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = add_user(&f, "e.muster", ACCOUNT_ROLE_CLERK);
    struct accounts_login_policy policy = {3, 900};
    struct account_user u;
    assert_int_equal(
        accounts_login(f.conn, f.a, "E.Muster", password, "192.0.2.1", &policy, &u, &err), KR_OK);
    assert_int_equal(u.id, id);
    assert_int_equal(u.roles, ACCOUNT_ROLE_CLERK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.login'"),
                     1);
    /* Wrong password, unknown login and malformed login look alike. */
    const char *wrong[][2] = {{"e.muster", "falsches-passwort"},
                              {"niemand", password},
                              {"x", password},
                              {"e.muster", ""}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(
            accounts_login(f.conn, f.a, wrong[i][0], wrong[i][1], "192.0.2.2", &policy, &u, &err),
            KR_ERR_UNAUTHENTICATED);
    /* Third failure for e.muster (two were in the table above); then even
     * the right password waits. */
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", "nochmal-falsch", "192.0.2.3", &policy, &u, &err),
        KR_ERR_UNAUTHENTICATED);
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", password, "192.0.2.5", &policy, &u, &err),
        KR_ERR_RATE_LIMITED);
    /* Per address: 4 x 3 = 12 failures from one address over many logins. */
    char login[16];
    for (int i = 0; i < 12; i++) {
        (void)snprintf(login, sizeof(login), "user%02d", i);
        assert_int_equal(accounts_login(f.conn, f.a, login, "irgendein-passwort", "198.51.100.9",
                                        &policy, &u, &err),
                         KR_ERR_UNAUTHENTICATED);
    }
    assert_int_equal(accounts_login(f.conn, f.a, "user99", "irgendein-passwort", "198.51.100.9",
                                    &policy, &u, &err),
                     KR_ERR_RATE_LIMITED);
    /* Failures older than the window no longer count. */
    struct kr_error e2;
    assert_int_equal(db_exec(f.conn,
                             "UPDATE account_login_attempt SET created_at = created_at - 1000",
                             NULL, 0, NULL, &e2),
                     KR_OK);
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", password, "192.0.2.5", &policy, &u, &err), KR_OK);

    /* Below the limit, from the third failure on, each attempt waits
     * longer: 2 s after the third, 4 s after the fourth. */
    struct accounts_login_policy patient = {10, 900};
    for (int i = 0; i < 3; i++)
        assert_int_equal(accounts_login(f.conn, f.a, "e.muster", "falsch-falsch", "192.0.2.7",
                                        &patient, &u, &err),
                         KR_ERR_UNAUTHENTICATED);
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", password, "192.0.2.7", &patient, &u, &err),
        KR_ERR_RATE_LIMITED);
    assert_int_equal(db_exec(f.conn,
                             "UPDATE account_login_attempt SET created_at = created_at - 3 "
                             "WHERE login = 'e.muster'",
                             NULL, 0, NULL, &e2),
                     KR_OK);
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", "falsch-falsch", "192.0.2.7", &patient, &u, &err),
        KR_ERR_UNAUTHENTICATED);
    assert_int_equal(
        accounts_login(f.conn, f.a, "e.muster", password, "192.0.2.7", &patient, &u, &err),
        KR_ERR_RATE_LIMITED);
    close_fixture(&f);
}

static void test_sessions(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = add_user(&f, "e.muster", ACCOUNT_ROLE_ADMIN);
    struct accounts_session_policy policy = {1800, 43200};
    struct account_session s, found;
    struct account_user u;

    assert_int_equal(
        accounts_session_create(f.conn, f.a, 0, NULL, "192.0.2.1", "Browser", &policy, &s, &err),
        KR_OK);
    assert_int_equal(strlen(s.token), 64);
    assert_int_equal(strlen(s.csrf_token), 64);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, s.token, &policy, &found, &u, &err),
                     KR_OK);
    assert_int_equal(found.user_id, 0);
    assert_int_equal(u.id, 0);
    assert_string_equal(found.csrf_token, s.csrf_token);
    /* Only the hash is stored. */
    int64_t stored = -1;
    assert_int_equal(db_query_int64(f.conn,
                                    "SELECT COUNT(*) FROM account_session WHERE id_hash = $1",
                                    DB_PARAMS(DB_TEXT(s.token)), &stored, &err),
                     KR_OK);
    assert_int_equal(stored, 0);

    struct account_session logged;
    assert_int_equal(accounts_session_create(f.conn, f.a, id, NULL, "192.0.2.1", "Browser", &policy,
                                             &logged, &err),
                     KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, logged.token, &policy, &found, &u, &err),
                     KR_OK);
    assert_int_equal(u.id, id);
    assert_int_equal(u.roles, ACCOUNT_ROLE_ADMIN);
    assert_string_equal(found.auth.method, "password");
    assert_string_equal(found.auth.assurance, "low");

    /* How the user logged in travels with the session; nonsense is refused. */
    struct account_session eid;
    static const struct account_auth oidc_high = {"oidc", "high"};
    assert_int_equal(
        accounts_session_create(f.conn, f.a, id, &oidc_high, "192.0.2.1", "", &policy, &eid, &err),
        KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, eid.token, &policy, &found, &u, &err),
                     KR_OK);
    assert_string_equal(found.auth.method, "oidc");
    assert_string_equal(found.auth.assurance, "high");
    assert_int_equal(accounts_session_destroy(f.conn, eid.token, &err), KR_OK);
    static const struct account_auth bad_auth[] = {{"oidc", "medium"}, {"magic", "low"}};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(accounts_session_create(f.conn, f.a, id, &bad_auth[i], "192.0.2.1", "",
                                                 &policy, &eid, &err),
                         KR_ERR_INVALID);

    static const char *bad_tokens[] = {
        "", "abc", "ZZZZ", NULL,
        "0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(
            accounts_session_lookup(f.conn, f.a, bad_tokens[i], &policy, &found, &u, &err),
            KR_ERR_NOT_FOUND);

    /* Idle: last seen 31 minutes ago; the session is gone afterwards. */
    assert_int_equal(db_exec(f.conn,
                             "UPDATE account_session SET last_seen_at = last_seen_at - 1860", NULL,
                             0, NULL, &err),
                     KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, logged.token, &policy, &found, &u, &err),
                     KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, logged.token, &policy, &found, &u, &err),
                     KR_ERR_NOT_FOUND);

    /* A lookup after a minute moves last_seen_at forward. */
    struct account_session fresh;
    assert_int_equal(
        accounts_session_create(f.conn, f.a, id, NULL, "192.0.2.1", "", &policy, &fresh, &err),
        KR_OK);
    assert_int_equal(db_exec(f.conn,
                             "UPDATE account_session SET last_seen_at = last_seen_at - 120, "
                             "created_at = created_at - 120",
                             NULL, 0, NULL, &err),
                     KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, fresh.token, &policy, &found, &u, &err),
                     KR_OK);
    assert_true(found.last_seen_at >= kr_now() - 1);

    /* Lifetime: past expires_at the session ends however active. */
    assert_int_equal(db_exec(f.conn, "UPDATE account_session SET expires_at = $1",
                             DB_PARAMS(DB_INT(kr_now() - 1)), NULL, &err),
                     KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, fresh.token, &policy, &found, &u, &err),
                     KR_ERR_UNAUTHENTICATED);

    /* A disabled account ends its sessions. */
    struct account_session other;
    assert_int_equal(
        accounts_session_create(f.conn, f.a, id, NULL, "192.0.2.1", "", &policy, &other, &err),
        KR_OK);
    assert_int_equal(db_exec(f.conn, "UPDATE account_user SET disabled = 1", NULL, 0, NULL, &err),
                     KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, other.token, &policy, &found, &u, &err),
                     KR_ERR_UNAUTHENTICATED);

    /* Destroy (logout) and purge. */
    assert_int_equal(accounts_session_destroy(f.conn, s.token, &err), KR_OK);
    assert_int_equal(accounts_session_destroy(f.conn, "garbage", &err), KR_OK);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, s.token, &policy, &found, &u, &err),
                     KR_ERR_NOT_FOUND);
    struct account_session keep, old;
    assert_int_equal(accounts_session_create(f.conn, f.a, 0, NULL, "ip", "", &policy, &keep, &err),
                     0);
    assert_int_equal(accounts_session_create(f.conn, f.a, 0, NULL, "ip", "", &policy, &old, &err),
                     0);
    char id_hash[65];
    kr_sha256_hex(old.token, strlen(old.token), id_hash);
    assert_int_equal(db_exec(f.conn,
                             "UPDATE account_session SET last_seen_at = 0 WHERE id_hash = $1",
                             DB_PARAMS(DB_TEXT(id_hash)), NULL, &err),
                     KR_OK);
    int64_t removed;
    assert_int_equal(accounts_purge(f.conn, &policy, 86400, &removed, &err), KR_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(accounts_session_lookup(f.conn, f.a, keep.token, &policy, &found, &u, &err),
                     KR_OK);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_rules),
        TESTDB_BOTH(test_org_units),
        TESTDB_BOTH(test_users),
        TESTDB_BOTH(test_login_and_rate_limit),
        TESTDB_BOTH(test_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
