/* Tests of src/accounts/citizen.c and totp.c, on SQLite and PostgreSQL. */
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

static const char password[] = "Sonnenblume-Kreis-77";
static const struct accounts_login_policy policy = {5, 900};

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

/* Register and confirm; returns the account id. */
static int64_t citizen(struct fixture *f, const char *email, const char *company)
{
    struct kr_error err;
    struct account_registration r = {email, "Erika Mustermann", password, company};
    int64_t id, existing;
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_register(f->conn, &r, &id, &existing, token, &err), KR_OK);
    assert_int_equal(existing, 0);
    int64_t confirmed;
    assert_int_equal(accounts_confirm(f->conn, token, &confirmed, &err), KR_OK);
    assert_int_equal(confirmed, id);
    return id;
}

static int login(struct fixture *f, const char *who, const char *pw)
{
    struct kr_error err;
    struct account_user u;
    return accounts_login(f->conn, f->a, who, pw, "192.0.2.9", &policy, &u, &err);
}

static void test_email_rules(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } rows[] = {
        {" Erika.Muster@Example.DE ", "erika.muster@example.de"},
        {"a+tag@sub.example.org", "a+tag@sub.example.org"},
        {"no-at-sign.example.de", NULL},
        {"two@@example.de", NULL},
        {"@example.de", NULL},
        {"erika@example", NULL},
        {"erika@-example.de", NULL},
        {"erika@exa..mple.de", NULL},
        {"er ika@example.de", NULL},
        {"erika@example.de\r\nBcc: x@y.de", NULL},
        {"<erika@example.de>", NULL},
        {"jörg@example.de", NULL},
        {"", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[255];
        struct kr_error err;
        int rc = accounts_normalise_email(rows[i].in, out, &err);
        if (rows[i].out) {
            assert_int_equal(rc, KR_OK);
            assert_string_equal(out, rows[i].out);
        } else if (rc != KR_ERR_INVALID) {
            fail_msg("row %zu accepted", i);
        }
    }
}

static void test_registration(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    struct account_registration r = {"Erika@Example.de", "Erika Mustermann", password, NULL};
    int64_t id, existing;
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_register(f.conn, &r, &id, &existing, token, &err), KR_OK);
    assert_true(id > 0);
    assert_int_equal(existing, 0);
    /* Not before the address is confirmed. */
    assert_int_equal(login(&f, "erika@example.de", password), KR_ERR_UNAUTHENTICATED);
    /* A second registration of the address creates nothing and says who has it. */
    int64_t id2;
    char token2[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_register(f.conn, &r, &id2, &existing, token2, &err), KR_OK);
    assert_int_equal(id2, 0);
    assert_int_equal(existing, id);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 1);

    int64_t confirmed;
    assert_int_equal(accounts_confirm(f.conn, "0123", &confirmed, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_confirm(f.conn, token, &confirmed, &err), KR_OK);
    assert_int_equal(confirmed, id);
    assert_int_equal(accounts_confirm(f.conn, token, &confirmed, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(login(&f, "ERIKA@example.de", password), KR_OK);
    assert_int_equal(login(&f, "erika@example.de", "wrong-password-1234"), KR_ERR_UNAUTHENTICATED);

    /* Only the token's hash is stored. */
    int64_t n = -1;
    assert_int_equal(db_query_int64(f.conn,
                                    "SELECT COUNT(*) FROM account_token WHERE token_hash = $1",
                                    DB_PARAMS(DB_TEXT(token)), &n, &err),
                     KR_OK);
    assert_int_equal(n, 0);

    /* Bad input stores nothing. */
    static const struct account_registration bad[] = {
        {"not-an-address", "X", password, NULL},
        {"b@example.de", "", password, NULL},
        {"b@example.de", "X", "kurz", NULL},
        {"b@example.de", "X", "password1234", NULL},
        {"b@example.de", "X", password, "Firma\nGmbH"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(accounts_register(f.conn, &bad[i], &id2, &existing, token2, &err),
                         KR_ERR_INVALID);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 1);
    assert_int_equal(
        count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.register'"), 1);

    /* An expired link does not confirm. */
    struct account_registration late = {"spaet@example.de", "Spät", password, NULL};
    assert_int_equal(accounts_register(f.conn, &late, &id2, &existing, token2, &err), KR_OK);
    assert_int_equal(
        db_exec(f.conn, "UPDATE account_token SET expires_at = 1", NULL, 0, NULL, &err), KR_OK);
    assert_int_equal(accounts_confirm(f.conn, token2, &confirmed, &err), KR_ERR_NOT_FOUND);
    close_fixture(&f);
}

static void test_business(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "buero@baeckerei.example", "Bäckerei Korn GmbH");
    struct account_user u;
    assert_int_equal(accounts_user_get(f.conn, f.a, id, &u, &err), KR_OK);
    assert_string_equal(u.kind, "business");
    struct account_business b;
    assert_int_equal(accounts_business_of(f.conn, f.a, id, &b, &err), KR_OK);
    assert_string_equal(b.name, "Bäckerei Korn GmbH");
    assert_true(b.owner);
    int64_t private_id = citizen(&f, "privat@example.de", NULL);
    assert_int_equal(accounts_business_of(f.conn, f.a, private_id, &b, &err), KR_OK);
    assert_null(b.name);
    /* Members join by invitation, only with the invited address. */
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(accounts_business_invite(f.conn, private_id, "x@example.de", token, &err),
                     KR_ERR_FORBIDDEN);
    assert_int_equal(accounts_business_invite(f.conn, id, "Privat@Example.de", token, &err), KR_OK);
    int64_t stranger = citizen(&f, "fremd@example.de", NULL);
    assert_int_equal(accounts_business_join(f.conn, stranger, token, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_business_join(f.conn, private_id, "abc", &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_business_join(f.conn, private_id, token, &err), KR_OK);
    assert_int_equal(accounts_business_join(f.conn, private_id, token, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_business_of(f.conn, f.a, private_id, &b, &err), KR_OK);
    assert_string_equal(b.name, "Bäckerei Korn GmbH");
    assert_false(b.owner);
    struct account_member *members;
    size_t n;
    assert_int_equal(accounts_business_members(f.conn, f.a, b.id, &members, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    assert_true(members[0].owner);
    assert_string_equal(members[1].email, "privat@example.de");
    /* A member cannot remove; the owner cannot remove themself. */
    assert_int_equal(accounts_business_remove(f.conn, private_id, id, &err), KR_ERR_FORBIDDEN);
    assert_int_equal(accounts_business_remove(f.conn, id, id, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_business_remove(f.conn, id, private_id, &err), KR_OK);
    assert_int_equal(accounts_business_of(f.conn, f.a, private_id, &b, &err), KR_OK);
    assert_null(b.name);
    /* Deleting the only member removes the company too. */
    assert_int_equal(accounts_delete(f.conn, id, password, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_business"), 0);
    close_fixture(&f);
}

static void test_reset(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "erika@example.de", NULL);
    int64_t who;
    char first[ACCOUNT_TOKEN_LEN], token[ACCOUNT_TOKEN_LEN];
    /* Unknown and malformed addresses: KR_OK all the same, nothing sent. */
    assert_int_equal(accounts_reset_request(f.conn, "nobody@example.de", &who, token, &err), KR_OK);
    assert_int_equal(who, 0);
    assert_int_equal(accounts_reset_request(f.conn, "garbage", &who, token, &err), KR_OK);
    assert_int_equal(who, 0);
    assert_int_equal(accounts_reset_request(f.conn, "Erika@example.de", &who, first, &err), KR_OK);
    assert_int_equal(who, id);
    assert_int_equal(accounts_reset_request(f.conn, "erika@example.de", &who, token, &err), KR_OK);
    static const char fresh[] = "Neues-Passwort-2026";
    /* Only the newest link works; a weak password does not use it up. */
    assert_int_equal(accounts_reset_password(f.conn, first, fresh, &who, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_reset_password(f.conn, token, "123456789012", &who, &err),
                     KR_ERR_INVALID);
    struct account_session s;
    struct accounts_session_policy sp = {1800, 86400};
    assert_int_equal(accounts_session_create(f.conn, f.a, id, NULL, "ip", "", &sp, &s, &err),
                     KR_OK);
    assert_int_equal(accounts_reset_password(f.conn, token, fresh, &who, &err), KR_OK);
    assert_int_equal(who, id);
    assert_int_equal(accounts_reset_password(f.conn, token, fresh, &who, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(login(&f, "erika@example.de", password), KR_ERR_UNAUTHENTICATED);
    assert_int_equal(login(&f, "erika@example.de", fresh), KR_OK);
    /* The reset ended every session. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_session"), 0);
    close_fixture(&f);
}

static void test_email_and_password_change(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "erika@example.de", NULL);
    int64_t other = citizen(&f, "max@example.de", NULL);
    char token[ACCOUNT_TOKEN_LEN];
    assert_int_equal(
        accounts_email_change_request(f.conn, id, "falsch-falsch-1", "neu@example.de", token, &err),
        KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_email_change_request(f.conn, id, password, "kaputt", token, &err),
                     KR_ERR_INVALID);
    assert_int_equal(
        accounts_email_change_request(f.conn, id, password, "Neu@Example.de", token, &err), KR_OK);
    int64_t who;
    char *old;
    assert_int_equal(accounts_email_change_confirm(f.conn, f.a, token, &who, &old, &err), KR_OK);
    assert_int_equal(who, id);
    assert_string_equal(old, "erika@example.de");
    assert_int_equal(login(&f, "neu@example.de", password), KR_OK);
    assert_int_equal(login(&f, "erika@example.de", password), KR_ERR_UNAUTHENTICATED);
    /* An address taken meanwhile is refused at confirmation. */
    assert_int_equal(
        accounts_email_change_request(f.conn, other, password, "neu@example.de", token, &err),
        KR_OK);
    assert_int_equal(accounts_email_change_confirm(f.conn, f.a, token, &who, &old, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(login(&f, "max@example.de", password), KR_OK);

    static const char fresh[] = "Anderes-Passwort-99";
    assert_int_equal(accounts_password_change(f.conn, id, "falsch-falsch-1", fresh, &err),
                     KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_password_change(f.conn, id, password, "kurz", &err), KR_ERR_INVALID);
    assert_int_equal(accounts_password_change(f.conn, id, password, fresh, &err), KR_OK);
    assert_int_equal(login(&f, "neu@example.de", fresh), KR_OK);
    close_fixture(&f);
}

/* RFC 6238 appendix B, SHA-1 (secret "12345678901234567890"), last six digits. */
static void test_totp_vectors(void **state)
{
    (void)state;
    static const char secret[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    static const struct {
        int64_t t;
        long code;
    } rows[] = {
        {59, 287082},       {1111111109, 81804},  {1111111111, 50471},
        {1234567890, 5924}, {2000000000, 279037}, {20000000000, 353130},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(accounts_totp_code(secret, rows[i].t), rows[i].code);
    assert_int_equal(accounts_totp_code("not base32!", 59), -1);
    assert_int_equal(accounts_totp_code("", 59), -1);
}

static void code_text(const char *secret, char out[8])
{
    (void)snprintf(out, 8, "%06ld", accounts_totp_code(secret, kr_now()));
}

static void test_totp_flow(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "erika@example.de", NULL);
    char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_CODE_LEN];
    assert_int_equal(accounts_totp_enable(f.conn, id, "123456", codes, &err), KR_ERR_NOT_FOUND);
    char secret[ACCOUNT_TOTP_SECRET_LEN];
    char *uri;
    assert_int_equal(
        accounts_totp_begin(f.conn, f.a, id, "Landkreis Musterland", secret, &uri, &err), KR_OK);
    assert_int_equal(strlen(secret), 32);
    assert_non_null(
        strstr(uri, "otpauth://totp/Landkreis%20Musterland:erika%40example.de?secret="));
    assert_non_null(strstr(uri, secret));
    assert_int_equal(accounts_totp_enable(f.conn, id, "12345", codes, &err), KR_ERR_INVALID);
    char code[8];
    code_text(secret, code);
    assert_int_equal(accounts_totp_enable(f.conn, id, code, codes, &err), KR_OK);
    struct account_settings s;
    assert_int_equal(accounts_settings(f.conn, id, &s, &err), KR_OK);
    assert_true(s.totp_enabled);
    assert_int_equal(s.recovery_codes_left, ACCOUNT_RECOVERY_CODES);
    /* The code that enabled it is used; so is every code once accepted. */
    assert_int_equal(accounts_totp_verify(f.conn, id, code, "ip", &policy, &err),
                     KR_ERR_UNAUTHENTICATED);
    /* The next step's code is within the window and works once. */
    char next[8];
    (void)snprintf(next, sizeof(next), "%06ld", accounts_totp_code(secret, kr_now() + 30));
    assert_int_equal(accounts_totp_verify(f.conn, id, next, "ip", &policy, &err), KR_OK);
    assert_int_equal(accounts_totp_verify(f.conn, id, next, "ip", &policy, &err),
                     KR_ERR_UNAUTHENTICATED);
    /* A recovery code works once, written in upper case too. */
    char upper[ACCOUNT_RECOVERY_CODE_LEN];
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] =
            codes[0][i] >= 'a' && codes[0][i] <= 'z' ? (char)(codes[0][i] - 32) : codes[0][i];
    assert_int_equal(accounts_totp_verify(f.conn, id, upper, "ip", &policy, &err), KR_OK);
    assert_int_equal(accounts_totp_verify(f.conn, id, codes[0], "ip", &policy, &err),
                     KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_settings(f.conn, id, &s, &err), KR_OK);
    assert_int_equal(s.recovery_codes_left, ACCOUNT_RECOVERY_CODES - 1);
    /* Wrong guesses are rate limited. */
    int rc = KR_OK;
    for (int i = 0; i < 10 && rc != KR_ERR_RATE_LIMITED; i++)
        rc = accounts_totp_verify(f.conn, id, "000000", "ip", &policy, &err);
    assert_int_equal(rc, KR_ERR_RATE_LIMITED);
    assert_int_equal(accounts_totp_disable(f.conn, id, "falsch-falsch-1", &err),
                     KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_totp_disable(f.conn, id, password, &err), KR_OK);
    assert_int_equal(accounts_settings(f.conn, id, &s, &err), KR_OK);
    assert_false(s.totp_enabled);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_recovery_code"), 0);
    close_fixture(&f);
}

static void test_own_sessions(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "erika@example.de", NULL);
    int64_t other = citizen(&f, "max@example.de", NULL);
    struct accounts_session_policy sp = {1800, 86400};
    struct account_session a, b, theirs;
    assert_int_equal(
        accounts_session_create(f.conn, f.a, id, NULL, "198.51.100.1", "Firefox", &sp, &a, &err),
        KR_OK);
    assert_int_equal(
        accounts_session_create(f.conn, f.a, id, NULL, "198.51.100.2", "Chromium", &sp, &b, &err),
        KR_OK);
    assert_int_equal(
        accounts_session_create(f.conn, f.a, other, NULL, "ip", "", &sp, &theirs, &err), KR_OK);
    struct account_session_info *list;
    size_t n;
    assert_int_equal(accounts_sessions_list(f.conn, f.a, id, a.token, &list, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    const char *b_handle = list[0].current ? list[1].handle : list[0].handle;
    assert_true(list[0].current != list[1].current);
    /* Another account's session cannot be ended through this one. */
    struct account_session_info *their_list;
    size_t their_n;
    assert_int_equal(accounts_sessions_list(f.conn, f.a, other, NULL, &their_list, &their_n, &err),
                     KR_OK);
    assert_int_equal(their_n, 1);
    assert_int_equal(accounts_sessions_revoke(f.conn, id, their_list[0].handle, a.token, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_sessions_revoke(f.conn, id, "zz", a.token, &err), KR_ERR_NOT_FOUND);
    assert_int_equal(accounts_sessions_revoke(f.conn, id, b_handle, a.token, &err), KR_OK);
    assert_int_equal(accounts_sessions_list(f.conn, f.a, id, a.token, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_true(list[0].current);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_session"), 2);
    close_fixture(&f);
}

static void test_delete(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct kr_error err;
    int64_t id = citizen(&f, "erika@example.de", NULL);
    assert_int_equal(accounts_delete(f.conn, id, "falsch-falsch-1", &err), KR_ERR_UNAUTHENTICATED);
    assert_int_equal(accounts_delete(f.conn, id, password, &err), KR_OK);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_user"), 0);
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM account_token"), 0);
    /* The audit log keeps its entries: the county's record. */
    assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.delete'"),
                     1);
    struct account_new_user staff = {
        .kind = "staff", .login = "s.clerk", .display_name = "Clerk", .password = password};
    int64_t sid;
    assert_int_equal(accounts_user_add(f.conn, "test", &staff, &sid, &err), KR_OK);
    assert_int_equal(accounts_delete(f.conn, sid, password, &err), KR_ERR_FORBIDDEN);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_rules),
        cmocka_unit_test(test_totp_vectors),
        TESTDB_BOTH(test_registration),
        TESTDB_BOTH(test_business),
        TESTDB_BOTH(test_reset),
        TESTDB_BOTH(test_email_and_password_change),
        TESTDB_BOTH(test_totp_flow),
        TESTDB_BOTH(test_own_sessions),
        TESTDB_BOTH(test_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
