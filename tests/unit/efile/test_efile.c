/* Tests of src/efile (files, access, documents, search, extraction,
 * disposal and the archive package) on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"
#include "fixture.h"
#include "testdb.h"

/* 2026-03-10 and later dates of the injected clock. */
#define T0 ((int64_t)1773100800)
#define YEAR ((int64_t)365 * 86400)

/* A one-page PDF showing text (Helvetica), with a correct xref table. */
static char *make_pdf(const char *text, size_t *len)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    char content[512];
    int clen = snprintf(content, sizeof(content), "BT /F1 18 Tf 50 700 Td (%s) Tj ET", text);
    char stream[600];
    (void)snprintf(stream, sizeof(stream), "<< /Length %d >>\nstream\n%s\nendstream", clen,
                   content);
    const char *objs[] = {"<< /Type /Catalog /Pages 2 0 R >>",
                          "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                          "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                          "/Resources << /Font << /F1 5 0 R >> >> >>",
                          stream, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
    size_t offs[5];
    buf_puts(&b, "%PDF-1.4\n");
    for (int i = 0; i < 5; i++) {
        offs[i] = b.len;
        buf_printf(&b, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
    }
    size_t xref = b.len;
    buf_puts(&b, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 0; i < 5; i++)
        buf_printf(&b, "%010zu 00000 n \n", offs[i]);
    buf_printf(&b, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
    assert_int_equal(buf_status(&b), KR_OK);
    return buf_detach(&b, len);
}

static int64_t new_file(struct fixture *f, const struct efile_actor *who, const char *plan,
                        const char *title, char **ref)
{
    struct kr_error err;
    struct efile_file_new in = {.plan_item_id = fixture_plan(f, plan), .title = title};
    int64_t id;
    int rc = efile_file_create(f->conn, f->a, who, &in, T0, &id, ref, &err);
    if (rc)
        fail_msg("create: %s", err.message);
    return id;
}

static int64_t add_doc(struct fixture *f, int64_t txn, const char *title, const char *data,
                       size_t len, const char *name, const char *type)
{
    struct kr_error err;
    struct efile_content c;
    fixture_content(f, data, len, name, type, &c);
    struct efile_doc_meta m = {.title = title, .direction = "in", .sender = "Erika Mustermann"};
    int64_t id;
    int rc = efile_doc_add(f->conn, f->blobs, &f->clerk, txn, &m, &c, T0, &id, &err);
    if (rc)
        fail_msg("doc add: %s", err.message);
    return id;
}

static void test_references_and_access(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    fixture_blobs_open(&f);
    char *ref, *ref2;
    int64_t id = new_file(&f, &f.clerk, "81.10", "Zulassung Musterfirma GmbH", &ref);
    assert_string_equal(ref, "36.1-81.10-0001/2026");
    new_file(&f, &f.clerk2, "81.10", "Zulassung Beispiel AG", &ref2);
    assert_string_equal(ref2, "36.1-81.10-0002/2026");
    /* A reference that exists already is refused (counter reset by hand). */
    assert_int_equal(db_exec(f.conn, "DELETE FROM efile_counter", NULL, 0, NULL, &err), KR_OK);
    struct efile_file_new in = {.plan_item_id = fixture_plan(&f, "81.10"), .title = "Dritte"};
    assert_int_equal(efile_file_create(f.conn, f.a, &f.clerk, &in, T0, NULL, NULL, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(db_exec(f.conn,
                             "INSERT INTO efile_counter (plan_item_id, unit_id, year, last) "
                             "VALUES ($1, $2, 2026, 2)",
                             DB_PARAMS(DB_INT(in.plan_item_id), DB_INT(f.unit_361)), NULL, &err),
                     KR_OK);
    /* Pattern rules. */
    assert_int_equal(efile_set_reference_pattern("{plan}/{year}", &err), KR_ERR_CONFIG);
    assert_int_equal(efile_set_reference_pattern("{plan}-{bogus}-{seq}", &err), KR_ERR_CONFIG);
    /* Another unit sees nothing; a clerk of another unit cannot create here. */
    struct efile_file out;
    assert_int_equal(efile_file_get(f.conn, f.a, &f.other, id, true, &out, &err), KR_ERR_NOT_FOUND);
    in.unit_id = f.unit_361;
    assert_int_equal(efile_file_create(f.conn, f.a, &f.other, &in, T0, NULL, NULL, &err),
                     KR_ERR_FORBIDDEN);
    /* Shared for reading, then writing, then expired. */
    int64_t now = kr_now();
    assert_int_equal(efile_file_share(f.conn, &f.clerk, id, f.unit_501, "read", 0, now, &err),
                     KR_OK);
    enum efile_access acc;
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_READ);
    int64_t txn;
    assert_int_equal(efile_txn_create(f.conn, &f.other, id, "Antrag", NULL, T0, &txn, &err),
                     KR_ERR_FORBIDDEN);
    assert_int_equal(
        efile_file_share(f.conn, &f.clerk, id, f.unit_501, "write", now + 3600, now, &err), KR_OK);
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_WRITE);
    assert_int_equal(db_exec(f.conn, "UPDATE efile_share SET until_at = 1", NULL, 0, NULL, &err),
                     KR_OK);
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_NONE);
    /* Records managers read; restricted files only the named. */
    assert_int_equal(efile_file_access(f.conn, &f.records, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_READ);
    struct efile_file_new secret = {.plan_item_id = fixture_plan(&f, "81.10"),
                                    .title = "Personalsache",
                                    .restricted = true,
                                    .named_users = &f.head.user_id,
                                    .named_count = 1};
    int64_t sid;
    assert_int_equal(efile_file_create(f.conn, f.a, &f.clerk, &secret, T0, &sid, NULL, &err),
                     KR_OK);
    assert_int_equal(efile_file_access(f.conn, &f.clerk2, sid, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_NONE);
    assert_int_equal(efile_file_access(f.conn, &f.records, sid, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_NONE);
    assert_int_equal(efile_file_access(f.conn, &f.head, sid, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_WRITE);
    struct efile_file *list;
    size_t n;
    struct efile_file_filter flt = {.query = "personal"};
    assert_int_equal(efile_file_list(f.conn, f.a, &f.clerk2, &flt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(efile_file_list(f.conn, f.a, &f.head, &flt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    flt.query = "0002/2026";
    assert_int_equal(efile_file_list(f.conn, f.a, &f.clerk, &flt, &list, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].title, "Zulassung Beispiel AG");
    /* Every view was audited. */
    assert_int_equal(efile_file_get(f.conn, f.a, &f.clerk, id, true, &out, &err), KR_OK);
    assert_true(fixture_count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = "
                                  "'efile.file.view'") == 1);
    fixture_close(&f);
}

static void test_documents_versions_locking(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    fixture_blobs_open(&f);
    int64_t id = new_file(&f, &f.clerk, "81.10", "Zulassung", NULL), txn;
    assert_int_equal(efile_txn_create(f.conn, &f.clerk, id, "Antrag", NULL, T0, &txn, &err), KR_OK);
    int64_t doc =
        add_doc(&f, txn, "Antrag auf Zulassung", "Erster Entwurf", 14, "antrag.txt", "text/plain");
    /* Two clerks read version 1; the first writes, the second gets a
     * conflict instead of overwriting silently. */
    struct efile_document d;
    assert_int_equal(efile_doc_get(f.conn, f.a, &f.clerk2, doc, &d, &err), KR_OK);
    assert_int_equal(d.version, 1);
    struct efile_content c;
    fixture_content(&f, "Zweite Fassung", 14, "antrag.txt", "text/plain", &c);
    assert_int_equal(efile_doc_new_version(f.conn, f.blobs, &f.clerk, doc, 1, &c, T0, &err), KR_OK);
    struct efile_doc_meta m = {.title = "Antrag (geändert)"};
    assert_int_equal(efile_doc_update(f.conn, &f.clerk2, doc, 1, &m, T0, &err), KR_ERR_CONFLICT);
    assert_int_equal(efile_doc_update(f.conn, &f.clerk2, doc, 2, &m, T0, &err), KR_OK);
    assert_int_equal(efile_doc_get(f.conn, f.a, &f.clerk, doc, &d, &err), KR_OK);
    assert_int_equal(d.current, 2);
    assert_int_equal(d.version_count, 2);
    assert_int_equal(d.versions[0].no, 2);
    assert_string_equal(d.title, "Antrag (geändert)");
    struct efile_version v;
    assert_int_equal(efile_version_download(f.conn, f.a, &f.clerk, doc, 1, &v, &err), KR_OK);
    assert_string_equal(v.blob_hash, d.versions[1].blob_hash);
    assert_int_equal(efile_version_download(f.conn, f.a, &f.other, doc, 1, &v, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(fixture_count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = "
                                       "'efile.document.download'"),
                     1);
    /* A blob that is not stored, and a path in the name, are refused. */
    struct efile_content bad = c;
    bad.blob_hash = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(efile_doc_add(f.conn, f.blobs, &f.clerk, txn, &m, &bad, T0, NULL, &err),
                     KR_ERR_INVALID);
    bad = c;
    bad.filename = "../../etc/passwd";
    assert_int_equal(efile_doc_add(f.conn, f.blobs, &f.clerk, txn, &m, &bad, T0, NULL, &err),
                     KR_ERR_INVALID);
    /* File-level optimistic lock: close with a stale version. */
    struct efile_file file;
    assert_int_equal(efile_file_get(f.conn, f.a, &f.clerk, id, false, &file, &err), KR_OK);
    assert_int_equal(efile_file_close(f.conn, &f.clerk, id, file.version + 1, T0, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(efile_file_close(f.conn, &f.clerk, id, file.version, T0, &err), KR_OK);
    /* Closed: no new documents; reopening needs a reason. */
    assert_int_equal(efile_doc_add(f.conn, f.blobs, &f.clerk, txn, &m, &c, T0, NULL, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(efile_file_reopen(f.conn, &f.clerk, id, file.version + 1, "", T0, &err),
                     KR_ERR_INVALID);
    assert_int_equal(efile_file_reopen(f.conn, &f.clerk, id, file.version + 1,
                                       "Widerspruch eingegangen", T0, &err),
                     KR_OK);
    struct efile_file_view view;
    assert_int_equal(efile_file_open(f.conn, f.a, &f.clerk, id, &view, &err), KR_OK);
    assert_int_equal(view.txn_count, 1);
    assert_int_equal(view.doc_count, 1);
    assert_true(view.history_count >= 6);
    assert_string_equal(view.history[0].action, "efile.file.view");
    assert_string_equal(view.history[1].action, "efile.file.reopen");
    fixture_close(&f);
}

static void test_search_pdf_text(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    fixture_blobs_open(&f);
    int64_t id = new_file(&f, &f.clerk, "81.10", "Zulassung Lindenweg", NULL), txn;
    assert_int_equal(efile_txn_create(f.conn, &f.clerk, id, "Antrag", NULL, T0, &txn, &err), KR_OK);
    size_t len;
    char *pdf = make_pdf("Die Fahrzeugbriefe wurden am Montag vorgelegt", &len);
    int64_t doc = add_doc(&f, txn, "Eingangsschreiben", pdf, len, "brief.pdf", "application/pdf");
    free(pdf);
    add_doc(&f, txn, "Vermerk", "Rückfrage zur Führerscheinklasse", 33, "vermerk.txt",
            "text/plain");
    struct efile_hit *hits;
    size_t n;
    /* Before extraction only metadata is indexed. */
    assert_int_equal(efile_search(f.conn, f.a, &f.clerk, "Fahrzeugbrief", 0, 20, &hits, &n, &err),
                     KR_OK);
    assert_int_equal(n, 0);
    unsigned done;
    assert_int_equal(efile_extract_pending(f.db, f.blobs, 10, &done, &err), KR_OK);
    assert_int_equal(done, 2);
    /* A word inside the PDF, in another inflection and spelling. */
    assert_int_equal(
        efile_search(f.conn, f.a, &f.clerk, "fahrzeugbrief montag", 0, 20, &hits, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].doc_id, doc);
    assert_string_equal(hits[0].file_reference, "36.1-81.10-0001/2026");
    assert_int_equal(efile_search(f.conn, f.a, &f.clerk, "Rueckfrage", 0, 20, &hits, &n, &err),
                     KR_OK);
    assert_int_equal(n, 1);
    /* Title hits rank first; everyone else sees nothing. */
    assert_int_equal(efile_search(f.conn, f.a, &f.clerk, "Lindenweg", 0, 20, &hits, &n, &err),
                     KR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(efile_search(f.conn, f.a, &f.other, "Fahrzeugbriefe", 0, 20, &hits, &n, &err),
                     KR_OK);
    assert_int_equal(n, 0);
    /* A broken PDF fails its job without stopping the queue. */
    add_doc(&f, txn, "Kaputt", "%PDF-1.4 garbage", 16, "kaputt.pdf", "application/pdf");
    for (int i = 0; i < 3; i++)
        assert_int_equal(efile_extract_pending(f.db, f.blobs, 10, &done, &err), KR_OK);
    assert_int_equal(
        fixture_count(&f, "SELECT COUNT(*) FROM efile_text_job WHERE state = 'failed'"), 1);
    fixture_close(&f);
}

/* Unpack a ZIP blob and check every line of checksums.sha256. */
static void verify_package(struct fixture *f, const char *hash, size_t *entries)
{
    struct kr_error err;
    unsigned char *zip;
    size_t len;
    assert_int_equal(blob_read(f->blobs, f->a, hash, 1 << 26, &zip, &len, &err), KR_OK);
    struct archive *ar = archive_read_new();
    archive_read_support_format_zip(ar);
    assert_int_equal(archive_read_open_memory(ar, zip, len), ARCHIVE_OK);
    struct archive_entry *e;
    char names[16][200], sums[16][65], *checks = NULL;
    size_t n = 0;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK && n < 16) {
        size_t size = (size_t)archive_entry_size(e);
        char *data = malloc(size + 1);
        assert_int_equal(archive_read_data(ar, data, size), (la_ssize_t)size);
        data[size] = '\0';
        if (strcmp(archive_entry_pathname(e), "checksums.sha256") == 0) {
            checks = data;
            continue;
        }
        (void)snprintf(names[n], sizeof(names[n]), "%s", archive_entry_pathname(e));
        kr_sha256_hex(data, size, sums[n]);
        if (strstr(names[n], ".xml"))
            assert_non_null(strstr(data, "<xdomea:Kennzeichen>"));
        free(data);
        n++;
    }
    archive_read_free(ar);
    assert_non_null(checks);
    for (size_t i = 0; i < n; i++) {
        struct buf line;
        buf_init(&line, 1024);
        buf_printf(&line, "%s  %s\n", sums[i], names[i]);
        bool ok = strstr(checks, buf_cstr(&line)) != NULL;
        buf_release(&line);
        if (!ok)
            fail_msg("checksum of %s does not verify", names[i]);
    }
    free(checks);
    *entries = n;
}

static void test_disposal_four_eyes(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    fixture_blobs_open(&f);
    /* 81.10: 6 years, V; 30 (Kreisarchiv) permanent A; 60: 30 years B. */
    int64_t v = new_file(&f, &f.clerk, "81.10", "Zulassung alt", NULL), txn;
    assert_int_equal(efile_txn_create(f.conn, &f.clerk, v, "Antrag", NULL, T0, &txn, &err), KR_OK);
    add_doc(&f, txn, "Antrag", "Inhalt", 6, "antrag.txt", "text/plain");
    struct efile_file file;
    assert_int_equal(efile_file_get(f.conn, f.a, &f.clerk, v, false, &file, &err), KR_OK);
    assert_int_equal(efile_file_close(f.conn, &f.clerk, v, file.version, T0, &err), KR_OK);
    assert_int_equal(efile_file_get(f.conn, f.a, &f.clerk, v, false, &file, &err), KR_OK);
    /* Closed in 2026: the period starts 1 Jan 2027 and runs 6 years. */
    char when[32];
    kr_time_format_rfc3339(file.disposal_at, when, sizeof(when));
    assert_string_equal(when, "2033-01-01T00:00:00Z");
    struct efile_due *due;
    size_t n;
    assert_int_equal(efile_disposal_list(f.conn, f.a, &f.clerk, 2032, &due, &n, &err),
                     KR_ERR_FORBIDDEN);
    assert_int_equal(efile_disposal_list(f.conn, f.a, &f.records, 2032, &due, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(efile_disposal_list(f.conn, f.a, &f.records, 2033, &due, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(due[0].file.evaluation, "V");
    int64_t later = T0 + 7 * YEAR, req;
    /* Not due yet at T0; archive contradicts V; legal hold blocks. */
    assert_int_equal(
        efile_disposal_request(f.conn, &f.records, v, "destroy", "§ 5 ArchivG", T0, &req, &err),
        KR_ERR_CONFLICT);
    assert_int_equal(
        efile_disposal_request(f.conn, &f.records, v, "archive", "§ 5 ArchivG", later, &req, &err),
        KR_ERR_CONFLICT);
    assert_int_equal(efile_file_hold(f.conn, &f.records, v, true, "Klage anhängig", later, &err),
                     KR_OK);
    assert_int_equal(
        efile_disposal_request(f.conn, &f.records, v, "destroy", "Aktenordnung", later, &req, &err),
        KR_ERR_CONFLICT);
    assert_int_equal(
        efile_file_hold(f.conn, &f.records, v, false, "Verfahren beendet", later, &err), KR_OK);
    assert_int_equal(
        efile_disposal_request(f.conn, &f.records, v, "destroy", "Aktenordnung", later, &req, &err),
        KR_OK);
    /* Four eyes: the requester cannot confirm. */
    assert_int_equal(efile_disposal_confirm(f.conn, f.blobs, &f.records, req, later, &err),
                     KR_ERR_FORBIDDEN);
    char *hash = NULL;
    assert_int_equal(
        db_query_text(f.conn, "SELECT blob_hash FROM efile_version", NULL, 0, f.a, &hash, &err),
        KR_OK);
    assert_true(blob_exists(f.blobs, hash));
    assert_int_equal(efile_disposal_confirm(f.conn, f.blobs, &f.records2, req, later, &err), KR_OK);
    assert_int_equal(fixture_count(&f, "SELECT COUNT(*) FROM efile_file"), 0);
    assert_int_equal(fixture_count(&f, "SELECT COUNT(*) FROM efile_document"), 0);
    assert_int_equal(fixture_count(&f, "SELECT COUNT(*) FROM efile_deletion_record WHERE "
                                       "reference = '36.1-81.10-0001/2026' AND documents = 1"),
                     1);
    assert_false(blob_exists(f.blobs, hash));
    fixture_close(&f);
}

static void test_archive_package(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    fixture_blobs_open(&f);
    /* 81.30 is B (archive decides): archived here. */
    int64_t id = new_file(&f, &f.clerk, "81.30", "Verkehrsanordnung <Hauptstraße> & Co", NULL);
    int64_t txn;
    assert_int_equal(efile_txn_create(f.conn, &f.clerk, id, "Anordnung", NULL, T0, &txn, &err),
                     KR_OK);
    size_t len;
    char *pdf = make_pdf("Anordnung Tempo 30", &len);
    int64_t doc = add_doc(&f, txn, "Anordnung", pdf, len, "anordnung.pdf", "application/pdf");
    free(pdf);
    struct efile_content c;
    fixture_content(&f, "Neue Fassung", 12, "anordnung.txt", "text/plain", &c);
    assert_int_equal(efile_doc_new_version(f.conn, f.blobs, &f.clerk, doc, 1, &c, T0, &err), KR_OK);
    struct efile_file file;
    assert_int_equal(efile_file_get(f.conn, f.a, &f.clerk, id, false, &file, &err), KR_OK);
    assert_int_equal(efile_file_close(f.conn, &f.clerk, id, file.version, T0, &err), KR_OK);
    int64_t later = T0 + 11 * YEAR, req;
    const char *basis = "§ 7 ArchivG";
    assert_int_equal(
        efile_disposal_request(f.conn, &f.records, id, "archive", basis, later, &req, &err), KR_OK);
    assert_int_equal(efile_disposal_confirm(f.conn, f.blobs, &f.records2, req, later, &err), KR_OK);
    char *hash;
    assert_int_equal(efile_disposal_package(f.conn, f.a, &f.records, id, &hash, &err), KR_OK);
    size_t entries;
    verify_package(&f, hash, &entries);
    assert_int_equal(entries, 3); /* message + two versions */
    /* Archived files are off the list; the package blob is referenced. */
    struct efile_due *due;
    size_t n;
    assert_int_equal(efile_disposal_list(f.conn, f.a, &f.records, 2040, &due, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_true(efile_blob_referenced(f.conn, hash));
    fixture_close(&f);
}

/* Restricted files: naming and un-naming people, the list, the staff
 * lookup, and who may do it. */
static void test_named_people(void **state)
{
    struct fixture f;
    struct kr_error err;
    fixture_open(state, &f, true);
    struct efile_file_new in = {
        .plan_item_id = fixture_plan(&f, "81.10"), .title = "Personalakte", .restricted = true};
    int64_t id;
    assert_int_equal(efile_file_create(f.conn, f.a, &f.clerk, &in, T0, &id, NULL, &err), KR_OK);
    enum efile_access acc;
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_NONE);
    /* Only with write access: another unit's clerk sees nothing (404). */
    assert_int_equal(efile_file_grant(f.conn, &f.other, id, f.other.user_id, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(efile_file_grant(f.conn, &f.clerk, id, f.other.user_id, &err), KR_OK);
    assert_int_equal(efile_file_grant(f.conn, &f.clerk, id, f.other.user_id, &err), KR_OK);
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_READ);
    assert_int_equal(efile_file_grant(f.conn, &f.clerk, id, f.clerk2.user_id, &err), KR_OK);
    assert_int_equal(efile_file_access(f.conn, &f.clerk2, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_WRITE);
    /* Unknown people and non-staff accounts are refused, nothing stored. */
    assert_int_equal(efile_file_grant(f.conn, &f.clerk, id, 999999, &err), KR_ERR_INVALID);
    struct account_new_user citizen = {.kind = "citizen",
                                       .login = "buerger@example.org",
                                       .email = "buerger@example.org",
                                       .display_name = "Bürger",
                                       .password = "Buerger-Kennwort-2026"};
    int64_t cid;
    assert_int_equal(accounts_user_add(f.conn, "test", &citizen, &cid, &err), KR_OK);
    assert_int_equal(efile_file_grant(f.conn, &f.clerk, id, cid, &err), KR_ERR_INVALID);
    struct efile_person *people;
    size_t n;
    assert_int_equal(efile_file_named(f.conn, f.a, &f.other, id, &people, &n, &err), KR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(people[0].login, "l.clerk");
    assert_string_equal(people[1].login, "w.clerk");
    assert_string_equal(people[1].unit_code, "50.1");
    assert_int_equal(efile_file_named(f.conn, f.a, &f.records, id, &people, &n, &err),
                     KR_ERR_NOT_FOUND);
    /* Revoking: read-only people may not, twice is NOT_FOUND, access ends. */
    assert_int_equal(efile_file_revoke(f.conn, &f.other, id, f.clerk2.user_id, &err),
                     KR_ERR_FORBIDDEN);
    assert_int_equal(efile_file_revoke(f.conn, &f.clerk2, id, f.other.user_id, &err), KR_OK);
    assert_int_equal(efile_file_revoke(f.conn, &f.clerk, id, f.other.user_id, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(efile_file_access(f.conn, &f.other, id, &acc, &err), KR_OK);
    assert_int_equal(acc, EFILE_NONE);
    assert_true(fixture_count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = "
                                  "'efile.file.grant'") == 3);
    assert_true(fixture_count(&f, "SELECT COUNT(*) FROM audit_entry WHERE action = "
                                  "'efile.file.revoke'") == 1);
    /* The staff lookup: by part of the login, case-insensitive, exact login
     * first; citizens never; LIKE wildcards are taken literally. */
    assert_int_equal(efile_staff_find(f.conn, f.a, "CLERK", &people, &n, &err), KR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(efile_staff_find(f.conn, f.a, "w.clerk", &people, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(people[0].user_id, f.other.user_id);
    assert_int_equal(efile_staff_find(f.conn, f.a, "buerger", &people, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(efile_staff_find(f.conn, f.a, "%%", &people, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(efile_staff_find(f.conn, f.a, "k", &people, &n, &err), KR_ERR_INVALID);
    assert_int_equal(efile_staff_find(f.conn, f.a, NULL, &people, &n, &err), KR_ERR_INVALID);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_references_and_access), TESTDB_BOTH(test_documents_versions_locking),
        TESTDB_BOTH(test_search_pdf_text),       TESTDB_BOTH(test_disposal_four_eyes),
        TESTDB_BOTH(test_archive_package),       TESTDB_BOTH(test_named_people),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
