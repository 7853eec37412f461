/*
 * xdomea.c - the archive package of a file (Aussonderung): a ZIP with
 *
 *   <id>_Aussonderung.Aussonderung.0503.xml   the message (xdomea-style):
 *                                             file, transactions, documents,
 *                                             versions and their metadata
 *   <doc>_<version>_<name>                    the primary files
 *   checksums.sha256                          SHA-256 of every other entry,
 *                                             in sha256sum's format
 *
 * The ZIP is streamed into a blob writer (libarchive's write callback), and
 * the primary files are streamed from the blob store, so that a package of
 * gigabytes never sits in memory.  The XML is written with libxml2's text
 * writer (escaping is the library's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <libxml/xmlwriter.h>

#include "core/buf.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define XC(s) ((const xmlChar *)(s))
#define NS "urn:xoev-de:xdomea:schema:3.0.0"
#define COPY_CHUNK 65536
#define PACKAGE_MAX ((int64_t)64 * 1024 * 1024 * 1024)

struct package {
    struct db_conn *conn;
    struct blob_store *store;
    struct arena *a;
    struct archive *ar;
    struct blob_writer *w;
    struct kr_error *err;
    int write_rc;
    struct buf sums;
    struct efile_file file;
    char process_id[33];
    int64_t now;
};

static la_ssize_t to_blob(struct archive *ar, void *arg, const void *data, size_t len)
{
    (void)ar;
    struct package *p = arg;
    if (p->write_rc == KR_OK)
        p->write_rc = blob_writer_write(p->w, data, len, p->err);
    return p->write_rc == KR_OK ? (la_ssize_t)len : -1;
}

static void date_text(int64_t t, char out[32])
{
    out[0] = '\0';
    if (t)
        kr_time_format_rfc3339(t, out, 32);
}

static void el(xmlTextWriterPtr x, const char *name, const char *value)
{
    char q[96];
    (void)snprintf(q, sizeof(q), "xdomea:%s", name);
    xmlTextWriterWriteElement(x, XC(q), XC(value ? value : ""));
}

static void start(xmlTextWriterPtr x, const char *name)
{
    char q[96];
    (void)snprintf(q, sizeof(q), "xdomea:%s", name);
    xmlTextWriterStartElement(x, XC(q));
}

static void head(struct package *p, xmlTextWriterPtr x)
{
    char when[32];
    date_text(p->now, when);
    start(x, "Kopf");
    el(x, "ProzessID", p->process_id);
    start(x, "Nachrichtentyp");
    xmlTextWriterWriteAttribute(x, XC("code"), XC("0503"));
    xmlTextWriterEndElement(x);
    el(x, "Erstellungszeitpunkt", when);
    start(x, "Absender");
    el(x, "Behoerdenkennung", p->file.unit_code);
    xmlTextWriterEndElement(x);
    start(x, "Empfaenger");
    el(x, "Behoerdenkennung", "Archiv");
    xmlTextWriterEndElement(x);
    xmlTextWriterEndElement(x);
}

static char *entry_name(struct package *p, const struct efile_document *d,
                        const struct efile_version *v)
{
    return arena_printf(p->a, "%lld_%d_%s", (long long)d->id, v->no, v->filename);
}

static void document_xml(struct package *p, xmlTextWriterPtr x, const struct efile_document *d)
{
    char num[24], when[32];
    start(x, "Dokument");
    start(x, "Identifikation");
    (void)snprintf(num, sizeof(num), "%lld", (long long)d->id);
    el(x, "ID", num);
    xmlTextWriterEndElement(x);
    start(x, "AllgemeineMetadaten");
    el(x, "Betreff", d->title);
    el(x, "Dokumenttyp", d->doc_type);
    el(x, "Autor", d->author);
    el(x, "Absender", d->sender);
    el(x, "Richtung", d->direction);
    date_text(d->received_at, when);
    el(x, "Eingangsdatum", when);
    xmlTextWriterEndElement(x);
    for (size_t i = d->version_count; i-- > 0;) {
        const struct efile_version *v = &d->versions[i];
        start(x, "Version");
        (void)snprintf(num, sizeof(num), "%d", v->no);
        el(x, "Nummer", num);
        start(x, "Format");
        el(x, "Name", v->media_type);
        start(x, "Primaerdokument");
        el(x, "Dateiname", entry_name(p, d, v));
        el(x, "DateinameOriginal", v->filename);
        start(x, "Pruefsumme");
        xmlTextWriterWriteAttribute(x, XC("algorithmus"), XC("SHA-256"));
        xmlTextWriterWriteString(x, XC(v->blob_hash));
        xmlTextWriterEndElement(x);
        xmlTextWriterEndElement(x);
        xmlTextWriterEndElement(x);
        xmlTextWriterEndElement(x);
    }
    xmlTextWriterEndElement(x);
}

static void file_xml(struct package *p, xmlTextWriterPtr x, const struct efile_file_view *v)
{
    char when[32], num[24];
    start(x, "Schriftgutobjekt");
    start(x, "Akte");
    start(x, "Identifikation");
    (void)snprintf(num, sizeof(num), "%lld", (long long)v->file.id);
    el(x, "ID", num);
    xmlTextWriterEndElement(x);
    start(x, "AllgemeineMetadaten");
    el(x, "Betreff", v->file.title);
    el(x, "Kennzeichen", v->file.reference);
    el(x, "Beteiligte", v->file.parties);
    start(x, "Laufzeit");
    date_text(v->file.opened_at, when);
    el(x, "Beginn", when);
    date_text(v->file.closed_at, when);
    el(x, "Ende", when);
    xmlTextWriterEndElement(x);
    start(x, "Aktenplaneinheit");
    el(x, "Kennzeichen", v->file.plan_number);
    el(x, "Inhaltsbeschreibung", v->file.plan_title);
    xmlTextWriterEndElement(x);
    xmlTextWriterEndElement(x);
    start(x, "ArchivspezifischeMetadaten");
    el(x, "Archivbewertung", v->file.evaluation);
    xmlTextWriterEndElement(x);
    for (size_t t = 0; t < v->txn_count; t++) {
        start(x, "Vorgang");
        start(x, "AllgemeineMetadaten");
        el(x, "Betreff", v->txns[t].title);
        (void)snprintf(num, sizeof(num), "%d", v->txns[t].seq);
        el(x, "Kennzeichen", num);
        xmlTextWriterEndElement(x);
        for (size_t d = 0; d < v->doc_count; d++)
            if (v->docs[d].transaction_id == v->txns[t].id)
                document_xml(p, x, &v->docs[d]);
        xmlTextWriterEndElement(x);
    }
    xmlTextWriterEndElement(x);
    xmlTextWriterEndElement(x);
}

/* The message as text in a libxml2 buffer the caller frees. */
static xmlBufferPtr message(struct package *p, const struct efile_file_view *v)
{
    xmlBufferPtr b = xmlBufferCreate();
    xmlTextWriterPtr x = b ? xmlNewTextWriterMemory(b, 0) : NULL;
    if (!x) {
        xmlBufferFree(b);
        return NULL;
    }
    xmlTextWriterSetIndent(x, 1);
    xmlTextWriterStartDocument(x, "1.0", "UTF-8", NULL);
    xmlTextWriterStartElement(x, XC("xdomea:Aussonderung.Aussonderung.0503"));
    xmlTextWriterWriteAttribute(x, XC("xmlns:xdomea"), XC(NS));
    head(p, x);
    file_xml(p, x, v);
    xmlTextWriterEndElement(x);
    int rc = xmlTextWriterEndDocument(x);
    xmlFreeTextWriter(x);
    if (rc < 0) {
        xmlBufferFree(b);
        return NULL;
    }
    return b;
}

static int header(struct package *p, const char *name, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return KR_ERR_NOMEM;
    archive_entry_set_pathname_utf8(e, name);
    archive_entry_set_size(e, size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, (time_t)p->now, 0);
    int rc = archive_write_header(p->ar, e) == ARCHIVE_OK ? KR_OK : KR_ERR_IO;
    archive_entry_free(e);
    return rc;
}

static int add_bytes(struct package *p, const char *name, const void *data, size_t len)
{
    char hex[65];
    kr_sha256_hex(data, len, hex);
    buf_printf(&p->sums, "%s  %s\n", hex, name);
    if (header(p, name, (int64_t)len) != KR_OK ||
        (len && archive_write_data(p->ar, data, len) != (la_ssize_t)len))
        return kr_error_set(p->err, KR_ERR_IO, "cannot write %s into the package", name);
    return KR_OK;
}

static int add_blob(struct package *p, const char *name, const char *hash)
{
    int fd;
    int64_t size;
    int rc = blob_open(p->store, hash, &fd, &size, p->err);
    if (rc)
        return rc;
    buf_printf(&p->sums, "%s  %s\n", hash, name);
    rc = header(p, name, size);
    char *chunk = malloc(COPY_CHUNK);
    if (!chunk)
        rc = KR_ERR_NOMEM;
    ssize_t n = 0;
    while (rc == KR_OK && (n = read(fd, chunk, COPY_CHUNK)) > 0)
        if (archive_write_data(p->ar, chunk, (size_t)n) != n)
            rc = KR_ERR_IO;
    free(chunk);
    close(fd);
    if (rc == KR_OK && n < 0)
        rc = KR_ERR_IO;
    if (rc)
        return kr_error_set(p->err, rc, "cannot copy %s into the package", name);
    return KR_OK;
}

static int write_entries(struct package *p, const struct efile_file_view *v)
{
    xmlBufferPtr xml = message(p, v);
    if (!xml)
        return kr_error_set(p->err, KR_ERR_INTERNAL, "cannot write the xdomea message");
    char *name = arena_printf(p->a, "%s_Aussonderung.Aussonderung.0503.xml", p->process_id);
    int rc = name ? add_bytes(p, name, xmlBufferContent(xml), (size_t)xmlBufferLength(xml))
                  : KR_ERR_NOMEM;
    xmlBufferFree(xml);
    for (size_t d = 0; rc == KR_OK && d < v->doc_count; d++)
        for (size_t i = 0; rc == KR_OK && i < v->docs[d].version_count; i++) {
            const struct efile_version *ver = &v->docs[d].versions[i];
            char *entry = entry_name(p, &v->docs[d], ver);
            rc = entry ? add_blob(p, entry, ver->blob_hash) : KR_ERR_NOMEM;
        }
    if (rc == KR_OK && buf_status(&p->sums) == KR_OK) {
        size_t len = p->sums.len;
        char *sums = arena_strndup(p->a, buf_cstr(&p->sums), len);
        if (header(p, "checksums.sha256", (int64_t)len) != KR_OK ||
            archive_write_data(p->ar, sums, len) != (la_ssize_t)len)
            rc = kr_error_set(p->err, KR_ERR_IO, "cannot write the checksums");
    }
    return rc;
}

int efile_xdomea_package(struct db_conn *conn, struct blob_store *store, int64_t file_id,
                         int64_t now, struct blob_info *info, struct kr_error *err)
{
    struct package p = {.conn = conn, .store = store, .err = err, .now = now};
    p.a = arena_new(0);
    if (!p.a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    kr_random_hex(p.process_id, 16);
    buf_init(&p.sums, 16 * 1024 * 1024);
    struct efile_file_view v;
    int rc = efile_package_view(conn, p.a, file_id, &v, err);
    p.file = v.file;
    if (rc == KR_OK)
        rc = blob_writer_begin(store, PACKAGE_MAX, &p.w, err);
    if (rc == KR_OK) {
        p.ar = archive_write_new();
        if (!p.ar || archive_write_set_format_zip(p.ar) != ARCHIVE_OK ||
            archive_write_open2(p.ar, &p, NULL, to_blob, NULL, NULL) != ARCHIVE_OK)
            rc = kr_error_set(err, KR_ERR_INTERNAL, "cannot start the ZIP");
    }
    if (rc == KR_OK)
        rc = write_entries(&p, &v);
    if (p.ar && archive_write_close(p.ar) != ARCHIVE_OK && rc == KR_OK)
        rc = p.write_rc ? p.write_rc : kr_error_set(err, KR_ERR_IO, "cannot finish the ZIP");
    if (p.ar)
        archive_write_free(p.ar);
    if (rc == KR_OK)
        rc = blob_writer_finish(p.w, info, err);
    if (rc == KR_OK) {
        rc = blob_writer_commit(p.w, err);
        p.w = NULL;
    }
    blob_writer_abort(p.w);
    buf_release(&p.sums);
    arena_free(p.a);
    return rc;
}
