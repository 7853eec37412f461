/*
 * Tests of src/einvoice/einvoice_worker.c on SQLite and PostgreSQL: the
 * directory intake (stored invoices to done/, garbage and duplicates to
 * failed/ with the reason, dotfiles left alone) and the escalation of
 * Skonto and payment deadlines with an injected clock (mailed once, to the
 * ordering unit, audited; released invoices are not escalated).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "../testdb.h"
#include "accounts/accounts.h"
#include "core/buf.h"
#include "einvoice/einvoice_store.h"
#include "einvoice/einvoice_worker.h"

/* noinline: gcc -O3 inlines it and then takes the returned heap pointer for
 * one to the local "data" (a false -Wdangling-pointer). */
__attribute__((noinline)) static char *slurp_path(const char *path, size_t *len)
{
    char *data = NULL;
    struct kr_error err;
    if (kr_read_file(path, 32 << 20, &data, len, &err) != KR_OK)
        fail_msg("%s", err.message);
    return data;
}

static char *own(const char *name, size_t *len)
{
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/tests/einvoice/%s", root ? root : ".", name);
    return slurp_path(path, len);
}

static void put(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static char *note(const char *dir, const char *name)
{
    char path[512];
    size_t len;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return slurp_path(path, &len);
}

struct fx {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct einvoice_validator *v;
    struct kr_config cfg;
    struct kr_error err;
    int64_t unit;
};

static void fx_open(void **state, struct fx *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &f->err), KR_OK);
    f->a = arena_new(0);
    assert_int_equal(einvoice_validator_new(NULL, &f->v, &f->err), KR_OK);
    kr_config_defaults(&f->cfg);
}

static void fx_close(struct fx *f)
{
    einvoice_validator_free(f->v);
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fx *f, const char *sql, const char *arg)
{
    int64_t n = -1;
    int rc = arg ? db_query_int64(f->conn, sql, DB_PARAMS(DB_TEXT(arg)), &n, &f->err)
                 : db_query_int64(f->conn, sql, NULL, 0, &n, &f->err);
    if (rc != KR_OK)
        fail_msg("%s: %s", sql, f->err.message);
    return n;
}

/* ---- Directory intake ------------------------------------------------------------- */

static void test_intake_directory(void **state)
{
    struct fx f;
    fx_open(state, &f);
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(dir, sizeof(dir), "%s/kr-intake-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    struct kr_dropdir *d;
    assert_int_equal(kr_dropdir_open(dir, EINVOICE_MAX_SIZE, &d, &f.err), KR_OK);
    size_t len;
    char *ubl = own("ubl-invoice.xml", &len);
    put(dir, "rechnung.xml", ubl, len);
    put(dir, ".rechnung-copy.xml", ubl, len);
    put(dir, "kaputt.xml", "<?xml version=\"1.0\"?><kein", 26);
    struct kr_dropdir_counts k;
    /* First sight: the files wait one scan (they may still be written). */
    assert_int_equal(einvoice_intake_scan(f.conn, f.v, d, &k, &f.err), KR_OK);
    assert_int_equal(k.waiting, 2);
    assert_int_equal(count(&f, "SELECT count(*) FROM einvoice_invoice", NULL), 0);
    assert_int_equal(einvoice_intake_scan(f.conn, f.v, d, &k, &f.err), KR_OK);
    assert_int_equal(k.done, 1);
    assert_int_equal(k.failed, 1);
    /* The good one is stored like the CLI stores it: channel, audit. */
    assert_int_equal(
        count(&f, "SELECT count(*) FROM einvoice_invoice WHERE channel = $1", "directory"), 1);
    assert_int_equal(count(&f,
                           "SELECT count(*) FROM audit_entry WHERE action = $1 AND "
                           "details LIKE '%directory%'",
                           "einvoice.receive"),
                     1);
    int64_t id = count(&f, "SELECT id FROM einvoice_invoice WHERE channel = $1", "directory");
    assert_true(exists(dir, "done/rechnung.xml"));
    char *text = note(dir, "done/rechnung.xml.txt");
    char want[64];
    (void)snprintf(want, sizeof(want), "Rechnung #%lld", (long long)id);
    assert_non_null(strstr(text, want));
    free(text);
    /* Garbage: not stored, moved with the reason. */
    assert_true(exists(dir, "failed/kaputt.xml"));
    text = note(dir, "failed/kaputt.xml.txt");
    assert_non_null(strstr(text, "nicht gespeichert"));
    assert_non_null(strstr(text, "cannot be read"));
    free(text);
    /* The dotfile stays where it is. */
    assert_true(exists(dir, ".rechnung-copy.xml"));
    assert_false(exists(dir, "done/.rechnung-copy.xml"));
    /* The same invoice again (say, after a crash between store and move):
     * a duplicate, to failed/ under a free name, nothing stored. */
    put(dir, "rechnung.xml", ubl, len);
    assert_int_equal(einvoice_intake_scan(f.conn, f.v, d, &k, &f.err), KR_OK);
    assert_int_equal(einvoice_intake_scan(f.conn, f.v, d, &k, &f.err), KR_OK);
    assert_int_equal(k.failed, 1);
    assert_true(exists(dir, "failed/rechnung.xml"));
    text = note(dir, "failed/rechnung.xml.txt");
    (void)snprintf(want, sizeof(want), "Duplikat von Rechnung #%lld", (long long)id);
    assert_non_null(strstr(text, want));
    free(text);
    assert_int_equal(count(&f, "SELECT count(*) FROM einvoice_invoice", NULL), 1);
    assert_false(exists(dir, "rechnung.xml"));
    free(ubl);
    kr_dropdir_free(d);
    char cmd[300];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    fx_close(&f);
}

/* ---- Deadlines -------------------------------------------------------------------- */

static const char password[] = "Geheim-Passwort-2026!";

static void staff(struct fx *f, const char *login, const char *email, int64_t unit, unsigned roles)
{
    struct account_new_user u = {.kind = "staff",
                                 .login = login,
                                 .display_name = login,
                                 .email = email,
                                 .password = password,
                                 .org_unit_id = unit,
                                 .roles = roles};
    int64_t id;
    assert_int_equal(accounts_user_add(f->conn, "test", &u, &id, &f->err), KR_OK);
}

/* A unit for Leitweg-ID 04011000-12345-67 (both test invoices) with a
 * clerk and a head of unit, another unit's clerk, an administrator. */
static void fx_people(struct fx *f)
{
    int64_t county, other;
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis",
                                           "County", &county, &f->err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "office", "10.2", "IT", "IT",
                                           &f->unit, &f->err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "office", "36", "Verkehr",
                                           "Traffic", &other, &f->err),
                     KR_OK);
    staff(f, "k.it", "clerk@landkreis.example", f->unit, ACCOUNT_ROLE_CLERK);
    staff(f, "h.it", "head@landkreis.example", f->unit, ACCOUNT_ROLE_HEAD_OF_UNIT);
    staff(f, "k.verkehr", "other@landkreis.example", other, ACCOUNT_ROLE_CLERK);
    staff(f, "admin", "admin@landkreis.example", county, ACCOUNT_ROLE_ADMIN);
    assert_int_equal(einvoice_leitweg_set(f->conn, "test", "04011000-12345-67", f->unit, &f->err),
                     KR_OK);
}

static int64_t receive(struct fx *f, const char *data, size_t len)
{
    struct einvoice_received got;
    if (einvoice_receive(f->conn, f->v, f->a, "cli", "cli", data, len, &got, &f->err) != KR_OK)
        fail_msg("%s", f->err.message);
    return got.id;
}

/* Noon (UTC, the same day in Germany) of a day. */
static int64_t noon(int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    return (int64_t)timegm(&tm);
}

static unsigned check(struct fx *f, int64_t now)
{
    unsigned n = 99;
    if (einvoice_check_deadlines(f->conn, &f->cfg, now, &n, &f->err) != KR_OK)
        fail_msg("%s", f->err.message);
    return n;
}

static void test_escalation_once(void **state)
{
    struct fx f;
    fx_open(state, &f);
    fx_people(&f);
    /* CII: issued 2026-11-05, Skonto 14 days 2 % (until 2026-11-19), due
     * 2026-12-05.  UBL: due 2026-12-02, released before it is due. */
    size_t len;
    char *cii = own("cii-invoice.xml", &len);
    int64_t id = receive(&f, cii, len);
    free(cii);
    char *ubl = own("ubl-invoice.xml", &len);
    int64_t released = receive(&f, ubl, len);
    free(ubl);
    assert_int_equal(einvoice_decide(f.conn, released, 7, EINVOICE_STEP_FACTUAL, NULL, &f.err),
                     KR_OK);
    /* Nine days before the Skonto deadline: computed, nothing to say. */
    assert_int_equal(check(&f, noon(2026, 11, 10)), 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM einvoice_deadline WHERE kind = $1", "skonto"),
                     1);
    assert_int_equal(
        count(&f, "SELECT count(*) FROM einvoice_deadline WHERE due_day = $1", "2026-11-19"), 1);
    assert_int_equal(
        count(&f, "SELECT count(*) FROM einvoice_deadline WHERE due_day = $1", "2026-12-05"), 1);
    /* Three days before: the unit's clerk and head are mailed, once. */
    assert_int_equal(check(&f, noon(2026, 11, 16)), 1);
    const char *mails = "SELECT count(*) FROM mail_message WHERE subject LIKE $1";
    assert_int_equal(count(&f, mails, "%Skonto%"), 2);
    assert_int_equal(count(&f,
                           "SELECT count(*) FROM mail_message WHERE recipient IN "
                           "('clerk@landkreis.example', 'head@landkreis.example') AND body LIKE $1",
                           "%19.11.2026%"),
                     2);
    assert_int_equal(
        count(&f, "SELECT count(*) FROM audit_entry WHERE action = $1", "einvoice.escalate"), 1);
    assert_int_equal(check(&f, noon(2026, 11, 16) + 3600), 0);
    assert_int_equal(check(&f, noon(2026, 11, 18)), 0);
    assert_int_equal(count(&f, mails, "%Skonto%"), 2);
    /* The list of escalations shows it while the invoice waits. */
    struct einvoice_escalation *esc;
    size_t n;
    assert_int_equal(einvoice_escalations(f.conn, f.a, 10, &esc, &n, &f.err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(esc[0].invoice_id, id);
    assert_string_equal(esc[0].kind, "skonto");
    assert_string_equal(esc[0].day, "2026-11-19");
    assert_non_null(strstr(esc[0].detail, "2.00 %"));
    /* The due date passed (both invoices): only the waiting one is
     * escalated; the other was released in the meantime. */
    assert_int_equal(einvoice_decide(f.conn, released, 7, EINVOICE_STEP_ARITHMETIC, NULL, &f.err),
                     KR_OK);
    assert_int_equal(einvoice_decide(f.conn, released, 8, EINVOICE_STEP_RELEASE, NULL, &f.err),
                     KR_OK);
    assert_int_equal(check(&f, noon(2026, 12, 10)), 1);
    assert_int_equal(count(&f, mails, "%Zahlungsfrist%"), 2);
    assert_int_equal(
        count(&f, "SELECT count(*) FROM audit_entry WHERE action = $1", "einvoice.escalate"), 2);
    assert_int_equal(check(&f, noon(2026, 12, 11)), 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM mail_message WHERE recipient = $1",
                           "other@landkreis.example"),
                     0);
    /* Rejected: no longer on the list. */
    assert_int_equal(einvoice_decide(f.conn, id, 7, EINVOICE_STEP_REJECT, "falsch", &f.err), KR_OK);
    assert_int_equal(einvoice_escalations(f.conn, f.a, 10, &esc, &n, &f.err), KR_OK);
    assert_int_equal(n, 0);
    fx_close(&f);
}

static void test_due_date_default_and_no_unit(void **state)
{
    struct fx f;
    fx_open(state, &f);
    fx_people(&f);
    /* No BT-9 and a Leitweg-ID nobody is mapped to: issue date
     * (2026-11-02) + einvoice_payment_days, administrators are told. */
    size_t len;
    char *ubl = own("ubl-invoice.xml", &len);
    char *due = strstr(ubl, "<cbc:DueDate>2026-12-02</cbc:DueDate>");
    assert_non_null(due);
    memset(due, ' ', strlen("<cbc:DueDate>2026-12-02</cbc:DueDate>"));
    memcpy(strstr(ubl, "04011000-12345-67"), "04011000-99999-", 15);
    f.cfg.einvoice_payment_days = 10;
    int64_t id = receive(&f, ubl, len);
    free(ubl);
    const char *status;
    assert_int_equal(einvoice_status(f.conn, id, &status, &f.err), KR_OK);
    if (strcmp(status, "formally_valid") != 0)
        fail_msg("the changed invoice is %s", status);
    assert_int_equal(check(&f, noon(2026, 11, 2)), 0);
    assert_int_equal(
        count(&f, "SELECT count(*) FROM einvoice_deadline WHERE due_day = $1", "2026-11-12"), 1);
    assert_int_equal(check(&f, noon(2026, 11, 9)), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM mail_message WHERE recipient = $1",
                           "admin@landkreis.example"),
                     1);
    assert_int_equal(count(&f, "SELECT count(*) FROM mail_message", NULL), 1);
    /* A check with a bad clock is an error, not a guess. */
    unsigned n;
    f.cfg.einvoice_warn_days = 3;
    assert_int_equal(einvoice_check_deadlines(f.conn, &f.cfg, INT64_MAX, &n, &f.err),
                     KR_ERR_INVALID);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_intake_directory),
        TESTDB_BOTH(test_escalation_once),
        TESTDB_BOTH(test_due_date_default_and_no_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
