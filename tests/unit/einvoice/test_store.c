/*
 * Tests of src/einvoice/einvoice_store.c on SQLite and PostgreSQL:
 * reception with duplicate detection, the approval workflow's order, the
 * four-eyes rule, rejection, and an audit entry for every change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../testdb.h"
#include "core/buf.h"
#include "einvoice/einvoice_store.h"

static char *slurp(const char *name, size_t *len)
{
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/einvoice/%s", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), KR_OK);
    fclose(f);
    return buf_detach(&b, len);
}

struct fx {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct einvoice_validator *v;
    struct kr_error err;
};

static void fx_open(void **state, struct fx *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &f->err), KR_OK);
    f->a = arena_new(0);
    assert_int_equal(einvoice_validator_new(NULL, &f->v, &f->err), KR_OK);
}

static void fx_close(struct fx *f)
{
    einvoice_validator_free(f->v);
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t audit_count(struct fx *f, const char *action)
{
    int64_t n = -1;
    assert_int_equal(db_query_int64(f->conn, "SELECT count(*) FROM audit_entry WHERE action = $1",
                                    DB_PARAMS(DB_TEXT(action)), &n, &f->err),
                     KR_OK);
    return n;
}

static int64_t receive(struct fx *f, const char *file, int want)
{
    size_t len;
    char *data = slurp(file, &len);
    struct einvoice_received got;
    int rc = einvoice_receive(f->conn, f->v, f->a, "cli", "cli", data, len, &got, &f->err);
    free(data);
    if (rc != want)
        fail_msg("%s: %d (%s)", file, rc, f->err.message);
    return rc == KR_OK ? got.id : 0;
}

static void test_receive_and_duplicates(void **state)
{
    struct fx f;
    fx_open(state, &f);
    int64_t id = receive(&f, "ubl-invoice.xml", KR_OK);
    assert_true(id > 0);
    const char *status;
    assert_int_equal(einvoice_status(f.conn, id, &status, &f.err), KR_OK);
    assert_string_equal(status, "formally_valid");
    /* The same seller and number again, as XML or inside a PDF: refused. */
    receive(&f, "ubl-invoice.xml", KR_ERR_CONFLICT);
    assert_non_null(strstr(f.err.message, "duplicate"));
    int64_t pdf = receive(&f, "zugferd-xrechnung.pdf", KR_OK); /* another seller */
    receive(&f, "cii-invoice.xml", KR_ERR_CONFLICT);           /* the PDF's XML */
    assert_int_not_equal(pdf, id);
    /* Unreadable input stores nothing. */
    receive(&f, "pdf-no-attachment.pdf", KR_ERR_INVALID);
    int64_t n = 0;
    assert_int_equal(
        db_query_int64(f.conn, "SELECT count(*) FROM einvoice_invoice", NULL, 0, &n, &f.err),
        KR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(audit_count(&f, "einvoice.receive"), 2);
    /* Same seller and number, but a MINIMUM profile: still a duplicate. */
    receive(&f, "zugferd-minimum.pdf", KR_ERR_CONFLICT);
    /* An invoice that fails validation is stored as rejected. */
    size_t len;
    char *doc = slurp("ubl-invoice.xml", &len);
    char *ref = strstr(doc, "04011000-12345-67");
    memset(ref, ' ', strlen("04011000-12345-67")); /* BR-DE-15: blank buyer reference */
    char *num = strstr(doc, "SW-2026-0815");
    num[11] = '6';
    struct einvoice_received got;
    assert_int_equal(einvoice_receive(f.conn, f.v, f.a, "cli", "upload", doc, len, &got, &f.err),
                     KR_OK);
    free(doc);
    assert_string_equal(got.status, "rejected");
    assert_int_equal(einvoice_status(f.conn, got.id, &status, &f.err), KR_OK);
    assert_string_equal(status, "rejected");
    fx_close(&f);
}

static void test_workflow_order_and_four_eyes(void **state)
{
    struct fx f;
    fx_open(state, &f);
    int64_t id = receive(&f, "ubl-invoice.xml", KR_OK);
    const int64_t alice = 7, bob = 8;
    /* Out of order: nothing happens. */
    assert_int_equal(einvoice_decide(f.conn, id, alice, EINVOICE_STEP_RELEASE, NULL, &f.err),
                     KR_ERR_CONFLICT);
    assert_int_equal(einvoice_decide(f.conn, id, alice, EINVOICE_STEP_FACTUAL, NULL, &f.err),
                     KR_OK);
    assert_int_equal(einvoice_decide(f.conn, id, alice, EINVOICE_STEP_FACTUAL, NULL, &f.err),
                     KR_ERR_CONFLICT);
    assert_int_equal(einvoice_decide(f.conn, id, alice, EINVOICE_STEP_ARITHMETIC, NULL, &f.err),
                     KR_OK);
    /* Four eyes: alice confirmed the facts, so she may not release. */
    assert_int_equal(einvoice_decide(f.conn, id, alice, EINVOICE_STEP_RELEASE, NULL, &f.err),
                     KR_ERR_FORBIDDEN);
    assert_int_equal(einvoice_decide(f.conn, id, bob, EINVOICE_STEP_RELEASE, NULL, &f.err), KR_OK);
    assert_int_equal(einvoice_decide(f.conn, id, bob, EINVOICE_STEP_EXPORT, NULL, &f.err), KR_OK);
    const char *status;
    assert_int_equal(einvoice_status(f.conn, id, &status, &f.err), KR_OK);
    assert_string_equal(status, "exported");
    /* Exported is final. */
    assert_int_equal(einvoice_decide(f.conn, id, bob, EINVOICE_STEP_REJECT, "zu spät", &f.err),
                     KR_ERR_CONFLICT);
    assert_int_equal(audit_count(&f, "einvoice.factual"), 1);
    assert_int_equal(audit_count(&f, "einvoice.release"), 1);
    assert_int_equal(audit_count(&f, "einvoice.export"), 1);
    assert_int_equal(einvoice_decide(f.conn, 999999, bob, EINVOICE_STEP_FACTUAL, NULL, &f.err),
                     KR_ERR_NOT_FOUND);
    fx_close(&f);
}

static void test_reject_needs_reason(void **state)
{
    struct fx f;
    fx_open(state, &f);
    int64_t id = receive(&f, "cii-invoice.xml", KR_OK);
    assert_int_equal(einvoice_decide(f.conn, id, 3, EINVOICE_STEP_REJECT, "", &f.err),
                     KR_ERR_INVALID);
    assert_int_equal(einvoice_decide(f.conn, id, 0, EINVOICE_STEP_FACTUAL, NULL, &f.err),
                     KR_ERR_INVALID);
    assert_int_equal(
        einvoice_decide(f.conn, id, 3, EINVOICE_STEP_REJECT, "Leistung nicht erbracht", &f.err),
        KR_OK);
    const char *status;
    assert_int_equal(einvoice_status(f.conn, id, &status, &f.err), KR_OK);
    assert_string_equal(status, "rejected");
    assert_int_equal(audit_count(&f, "einvoice.reject"), 1);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_receive_and_duplicates),
        TESTDB_BOTH(test_workflow_order_and_four_eyes),
        TESTDB_BOTH(test_reject_needs_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
