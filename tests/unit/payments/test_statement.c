/* Tests of the statement parsers (camt.c, mt940.c) and the import with
 * its matching (payments_import.c), on SQLite and PostgreSQL, with the
 * small statements under tests/payments/. */
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

static char *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/payments/%s", getenv("KREISEL_SOURCE_ROOT"), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = malloc(1 << 20);
    *len = fread(data, 1, (1 << 20) - 1, f);
    data[*len] = '\0';
    fclose(f);
    return data;
}

/* Replace every occurrence of key in *text (heap) by value. */
static void replace(char **text, size_t *len, const char *key, const char *value)
{
    char *p;
    while ((p = strstr(*text, key))) {
        size_t kl = strlen(key), vl = strlen(value), at = (size_t)(p - *text);
        char *n = malloc(*len - kl + vl + 1);
        memcpy(n, *text, at);
        memcpy(n + at, value, vl);
        memcpy(n + at + vl, p + kl, *len - at - kl + 1);
        free(*text);
        *text = n;
        *len = *len - kl + vl;
    }
}

struct counter {
    int statements, items, credits;
    int64_t sum;
    char last_name[256], last_rem[256], format[32];
};

static int count_statement(void *ctx, const struct payments_stmt_info *info, struct kr_error *err)
{
    (void)err;
    struct counter *c = ctx;
    c->statements++;
    snprintf(c->format, sizeof(c->format), "%s", info->format);
    return KR_OK;
}

static int count_item(void *ctx, const struct payments_stmt_item *it, struct kr_error *err)
{
    (void)err;
    struct counter *c = ctx;
    c->items++;
    c->credits += it->credit;
    c->sum += it->credit ? it->amount_cents : -it->amount_cents;
    snprintf(c->last_name, sizeof(c->last_name), "%s", it->debtor_name);
    snprintf(c->last_rem, sizeof(c->last_rem), "%s", it->remittance);
    return KR_OK;
}

static int parse_file(const char *name, struct counter *c, struct kr_error *err)
{
    size_t len;
    char *data = load(name, &len);
    memset(c, 0, sizeof(*c));
    struct payments_stmt_sink sink = {count_statement, count_item, c};
    int rc = strstr(name, ".xml") ? payments_camt_parse(data, len, &sink, err)
                                  : payments_mt940_parse(data, len, &sink, err);
    free(data);
    return rc;
}

static void test_parsers(void **state)
{
    (void)state;
    struct counter c;
    struct kr_error err;
    assert_int_equal(parse_file("camt053-v02.xml", &c, &err), KR_OK);
    assert_string_equal(c.format, "camt.053.001.02");
    assert_int_equal(c.statements, 1);
    assert_int_equal(c.items, 5);
    assert_int_equal(c.credits, 4);
    assert_int_equal(c.sum, 1280 + 500 + 3000 + 9999 - 25000);
    assert_int_equal(parse_file("camt053-v08.xml", &c, &err), KR_OK);
    assert_string_equal(c.format, "camt.053.001.08");
    assert_int_equal(c.items, 2);
    assert_int_equal(c.sum, 4000);
    assert_string_equal(c.last_name, "Erika Mustermann");
    assert_int_equal(parse_file("mt940.sta", &c, &err), KR_OK);
    assert_int_equal(c.items, 2);
    assert_int_equal(c.sum, 750 - 1000);
    assert_string_equal(c.format, "mt940");
    assert_int_equal(parse_file("xxe.xml", &c, &err), KR_ERR_INVALID);
    assert_int_equal(c.items, 0);
    int64_t t0 = kr_monotonic_ns();
    assert_int_equal(parse_file("billion-laughs.xml", &c, &err), KR_ERR_INVALID);
    assert_true(kr_monotonic_ns() - t0 < 1000000000LL);
    assert_int_equal(c.statements, 0);
}

/* Variations of the v02 file that must be refused. */
static void test_bad_camt(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"<Amt Ccy=\"EUR\">12.80</Amt>", "<Amt Ccy=\"USD\">12.80</Amt>"},
        {"<Amt Ccy=\"EUR\">12.80</Amt>", "<Amt Ccy=\"EUR\">12.805</Amt>"},
        {"<Amt Ccy=\"EUR\">12.80</Amt>", "<Amt Ccy=\"EUR\">-12.80</Amt>"},
        {"<Amt Ccy=\"EUR\">12.80</Amt>", "<Amt Ccy=\"EUR\">99999999999.00</Amt>"},
        {"<Amt Ccy=\"EUR\">12.80</Amt>", "<Amt Ccy=\"EUR\">1e3</Amt>"},
        {"camt.053.001.02", "camt.053.001.04"},
        {"camt.053.001.02", "camt.054.001.02"},
        {"12.80</Amt><CdtDbtInd>CRDT<", "12.80</Amt><CdtDbtInd>XXXX<"},
        {"<Dt>2026-01-12</Dt></BookgDt>", "<Dt>2026-02-30</Dt></BookgDt>"},
        {"</Document>", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *data = load("camt053-v02.xml", &len);
        char *p = strstr(data, cases[i].from);
        assert_non_null(p);
        size_t fl = strlen(cases[i].from), tl = strlen(cases[i].to);
        memmove(p + tl, p + fl, len - (size_t)(p - data) - fl + 1);
        memcpy(p, cases[i].to, tl);
        len = len - fl + tl;
        struct counter c;
        memset(&c, 0, sizeof(c));
        struct payments_stmt_sink sink = {count_statement, count_item, &c};
        struct kr_error err;
        int rc = payments_camt_parse(data, len, &sink, &err);
        if (rc != KR_ERR_INVALID)
            fprintf(stderr, "case %zu accepted\n", i);
        assert_int_equal(rc, KR_ERR_INVALID);
        free(data);
    }
}

/* Statement files are told apart by their content. */
#define F(data, format)                                                                            \
    {                                                                                              \
        data, sizeof(data) - 1, format                                                             \
    }
static void test_format(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t len;
        const char *format; /* NULL: neither */
    } cases[] = {
        F("<?xml version=\"1.0\"?><Document/>", "camt.053"),
        F("\xEF\xBB\xBF\r\n  <Document/>", "camt.053"),
        F(":20:STARTUMS\r\n:25:1/2\r\n", "mt940"),
        F("{1:F01BANKDEFFXXXX0000000000}{4:\r\n:20:X\r\n-}", "mt940"),
        F("\r\n\r\n:20:REF\n", "mt940"),
        F("", NULL),
        F("   \n", NULL),
        F("hello", NULL),
        F("Datum;Betrag\n:20 kein Feld", NULL),
        F("\x89PNG\r\n\x1a\n\0\0:20:", NULL),
        F(":20", NULL),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = payments_statement_format(cases[i].data, cases[i].len);
        if (!cases[i].format)
            assert_null(got);
        else
            assert_string_equal(got ? got : "(null)", cases[i].format);
    }
    assert_null(payments_statement_format(NULL, 0));
}

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    int64_t r[5];
    char kz[5][PAYMENTS_KZ_SIZE];
};

static int64_t status_of(struct fixture *f, int i, int64_t *paid)
{
    struct payments_receivable r;
    struct kr_error err;
    assert_int_equal(payments_receivable_get(f->conn, f->a, f->r[i], &r, &err), KR_OK);
    *paid = r.paid_cents;
    return r.status;
}

static char *statement(struct fixture *f, const char *name, size_t *len)
{
    char *data = load(name, len);
    char grouped[16], dashed[20], buf[32];
    payments_kz_format(f->kz[1], grouped);
    replace(&data, len, "@KZ1@", grouped);
    replace(&data, len, "@KZ2@", f->kz[2]);
    snprintf(dashed, sizeof(dashed), "%.4s-%.4s-%.4s", f->kz[2], f->kz[2] + 4, f->kz[2] + 8);
    replace(&data, len, "@KZ2D@", dashed);
    payments_kz_format(f->kz[4], buf);
    replace(&data, len, "@KZ3G@", buf);
    return data;
}

static int64_t count(struct fixture *f, const char *sql)
{
    int64_t n;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}

static void import_setup(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    const struct payments_new_receivable nr[] = {
        {"Erika Mustermann", 0, "Wunschkennzeichen", 1280, NULL, 0, NULL},
        {"Max Muster", 0, "Gebühr", 2000, NULL, 0, NULL},
        {"Hans Schmidt", 0, "Verwarnung", 3000, NULL, 0, NULL},
        {"Erika Mustermann", 0, "Führungszeugnis", 750, NULL, 0, NULL},
    };
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            payments_receivable_create(f->conn, "t", &nr[i], &f->r[i + 1], f->kz[i + 1], &err),
            KR_OK);
}

/* The three sample statements: matched by Kassenzeichen and by name and
 * amount, the rest queued; the same statement twice books nothing. */
static void import_files(struct fixture *f)
{
    struct kr_error err;
    struct payments_import_result res;
    size_t len;
    int64_t paid;
    char *data = statement(f, "camt053-v02.xml", &len);
    assert_int_equal(payments_statement_import(f->conn, "user:1", data, len, &res, &err), KR_OK);
    assert_int_equal(res.entries, 5);
    assert_int_equal(res.matched, 3);
    assert_int_equal(res.unmatched, 1);
    assert_int_equal(res.ignored, 1);
    assert_int_equal(status_of(f, 1, &paid), PAYMENTS_PAID);
    assert_int_equal(status_of(f, 2, &paid), PAYMENTS_PARTLY_PAID);
    assert_int_equal(paid, 500);
    assert_int_equal(status_of(f, 3, &paid), PAYMENTS_PAID); /* by name and amount */
    assert_int_equal(payments_statement_import(f->conn, "user:1", data, len, &res, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM payments_booking"), 3);
    free(data);

    data = statement(f, "camt053-v08.xml", &len);
    assert_int_equal(payments_statement_import(f->conn, "user:1", data, len, &res, &err), KR_OK);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.unmatched, 1);
    assert_int_equal(status_of(f, 2, &paid), PAYMENTS_PAID);
    free(data);

    data = statement(f, "mt940.sta", &len);
    assert_int_equal(payments_statement_import(f->conn, "user:1", data, len, &res, &err), KR_OK);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.ignored, 1);
    assert_int_equal(status_of(f, 4, &paid), PAYMENTS_PAID);
    free(data);
}

/* The unmatched queue, and assigning by hand; then the sums balance. */
static void import_queue(struct fixture *f)
{
    struct kr_error err;
    struct payments_entry *q;
    size_t n;
    int64_t paid;
    assert_int_equal(payments_entries_list(f->conn, f->a, 0, 0, &q, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(q[1].amount_cents, 2500);
    assert_int_equal(payments_entry_assign(f->conn, "user:1", q[1].id, f->r[2], &err), KR_OK);
    assert_int_equal(payments_entry_assign(f->conn, "user:1", q[1].id, f->r[2], &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(status_of(f, 2, &paid), PAYMENTS_OVERPAID);
    assert_int_equal(paid, 4500);
    assert_int_equal(payments_entries_list(f->conn, f->a, 0, 0, &q, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    /* Every booking is a credit entry, nothing twice. */
    assert_int_equal(count(f, "SELECT SUM(amount_cents) FROM payments_booking"),
                     count(f, "SELECT SUM(paid_cents) FROM payments_receivable"));
    assert_int_equal(count(f, "SELECT SUM(amount_cents) FROM payments_booking"),
                     1280 + 500 + 3000 + 1500 + 750 + 2500);
}

/* A broken file books nothing; the lists and the export. */
static void import_broken(struct fixture *f)
{
    struct kr_error err;
    struct payments_import_result res;
    size_t len, n;
    int64_t before = count(f, "SELECT COUNT(*) FROM payments_entry");
    char *data = load("xxe.xml", &len);
    assert_int_equal(payments_statement_import(f->conn, "user:1", data, len, &res, &err),
                     KR_ERR_INVALID);
    free(data);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM payments_entry"), before);
    assert_int_equal(payments_statement_import(f->conn, "user:1", "", 0, &res, &err),
                     KR_ERR_INVALID);
    assert_int_equal(payments_statement_import(f->conn, "user:1", "hello", 5, &res, &err),
                     KR_ERR_INVALID);
    struct payments_statement *sl;
    assert_int_equal(payments_statements_list(f->conn, f->a, &sl, &n, &err), KR_OK);
    assert_int_equal(n, 3);
    char *csv;
    assert_int_equal(payments_export_csv(f->conn, f->a, 0, kr_now() + 10, &csv, &len, &err), KR_OK);
    assert_non_null(strstr(csv, "booking_id;booking_date;kassenzeichen;amount"));
    assert_non_null(strstr(csv, ";12.80;EUR;statement;paid;Wunschkennzeichen;"));
}

/* SQLite's page cache of the connection, grown during an import only. */
static int64_t cache_size(struct fixture *f)
{
    return db_dialect(f->db) == DB_SQLITE ? count(f, "PRAGMA cache_size") : 0;
}

static void test_import(void **state)
{
    struct fixture f;
    import_setup(state, &f);
    int64_t cache = cache_size(&f);
    import_files(&f);
    assert_int_equal(cache_size(&f), cache);
    import_queue(&f);
    import_broken(&f);
    arena_free(f.a);
    db_release(f.conn);
    testdb_close(f.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_bad_camt),
        cmocka_unit_test(test_format),
        TESTDB_BOTH(test_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
