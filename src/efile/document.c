/*
 * document.c - transactions (Vorgänge), documents and their versions, the
 * opened file with its history, downloads, and the calls for the workflow
 * module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "efile/efile_internal.h"

#define HISTORY_MAX 200
#define DOCS_MAX 2000

static const char *const directions[] = {"in", "out", "internal", NULL};

static bool in_set(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static bool optional_ok(const char *s, size_t max)
{
    return !s || !*s || efile_text_ok(s, max, false);
}

static int check_meta(const struct efile_doc_meta *m, struct kr_error *err)
{
    if (!efile_text_ok(m->title, EFILE_TITLE_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "title: 1 to 500 characters");
    if (!optional_ok(m->doc_type, 100))
        return kr_error_set(err, KR_ERR_INVALID, "type: at most 100 characters");
    if (!optional_ok(m->author, 200) || !optional_ok(m->sender, 200))
        return kr_error_set(err, KR_ERR_INVALID, "author and sender: at most 200 characters");
    if (m->direction && !in_set(m->direction, directions))
        return kr_error_set(err, KR_ERR_INVALID, "direction: in, out or internal");
    if (m->received_at < 0)
        return kr_error_set(err, KR_ERR_INVALID, "received: not a date");
    return KR_OK;
}

static int check_content(struct blob_store *store, const struct efile_content *c,
                         struct kr_error *err)
{
    if (!c->blob_hash || !blob_hash_valid(c->blob_hash))
        return kr_error_set(err, KR_ERR_INVALID, "content: not a blob name");
    if (!efile_text_ok(c->filename, 200, false) || strchr(c->filename, '/'))
        return kr_error_set(err, KR_ERR_INVALID, "file name: 1 to 200 characters, no '/'");
    if (!efile_text_ok(c->media_type, 100, false) || c->size < 0)
        return kr_error_set(err, KR_ERR_INVALID, "content: media type and size needed");
    if (store && !blob_exists(store, c->blob_hash))
        return kr_error_set(err, KR_ERR_INVALID, "content: the blob is not stored");
    return KR_OK;
}

/* File of transaction txn (KR_ERR_NOT_FOUND). */
static int file_of_txn(struct db_conn *conn, int64_t txn, int64_t *file, struct kr_error *err)
{
    int rc = db_query_int64(conn, "SELECT file_id FROM efile_transaction WHERE id = $1",
                            DB_PARAMS(DB_INT(txn)), file, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such transaction");
    return rc;
}

static int file_of_doc(struct db_conn *conn, int64_t doc, int64_t *file, struct kr_error *err)
{
    int rc = db_query_int64(conn, "SELECT file_id FROM efile_document WHERE id = $1",
                            DB_PARAMS(DB_INT(doc)), file, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such document");
    return rc;
}

/* Write access to an open file. */
static int writable(struct db_conn *conn, const struct efile_actor *who, int64_t file,
                    struct kr_error *err)
{
    int rc = efile_require(conn, who, file, true, err);
    if (rc)
        return rc;
    char *status = NULL;
    struct arena *a = arena_new(256);
    rc = a ? db_query_text(conn, "SELECT status FROM efile_file WHERE id = $1",
                           DB_PARAMS(DB_INT(file)), a, &status, err)
           : KR_ERR_NOMEM;
    bool open = rc == KR_OK && strcmp(status, "open") == 0;
    arena_free(a);
    if (rc)
        return rc;
    if (!open)
        return kr_error_set(err, KR_ERR_CONFLICT, "the file is closed; reopen it first");
    return KR_OK;
}

/* ---- Transactions ---------------------------------------------------------------- */

struct txn_ctx {
    const struct efile_actor *who;
    int64_t file, now, id;
    const char *title, *case_ref;
};

static int txn_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct txn_ctx *t = arg;
    int rc = writable(conn, t->who, t->file, err);
    if (rc)
        return rc;
    rc = db_query_int64(conn,
                        "INSERT INTO efile_transaction (file_id, seq, title, case_ref, created_by, "
                        "created_at) VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                        "efile_transaction WHERE file_id = $1), $2, $3, $4, $5) RETURNING id",
                        DB_PARAMS(DB_INT(t->file), DB_TEXT(t->title),
                                  t->case_ref ? DB_TEXT(t->case_ref) : DB_NULL, EFILE_BY(t->who),
                                  DB_INT(t->now)),
                        &t->id, err);
    if (rc)
        return rc;
    return efile_audit_file(
        conn, t->who, "efile.transaction.create", t->file,
        json_pack("{s:I, s:s}", "transaction", (json_int_t)t->id, "title", t->title), err);
}

int efile_txn_create(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                     const char *title, const char *case_ref, int64_t now, int64_t *id,
                     struct kr_error *err)
{
    if (!efile_text_ok(title, EFILE_TITLE_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "title: 1 to 500 characters");
    if (case_ref && !efile_text_ok(case_ref, 64, false))
        return kr_error_set(err, KR_ERR_INVALID, "case: 1 to 64 characters");
    struct txn_ctx t = {who, file_id, now, 0, title, case_ref};
    int rc = db_transact(conn, txn_in_tx, &t, err);
    if (rc == KR_OK && id)
        *id = t.id;
    return rc;
}

/* ---- Documents and versions -------------------------------------------------------- */

static int add_version(struct db_conn *conn, const struct efile_actor *who, int64_t doc, int no,
                       const struct efile_content *c, int64_t now, struct kr_error *err)
{
    int64_t vid;
    int rc = db_query_int64(conn,
                            "INSERT INTO efile_version (document_id, no, blob_hash, size, "
                            "filename, media_type, created_by, created_at) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                            DB_PARAMS(DB_INT(doc), DB_INT(no), DB_TEXT(c->blob_hash),
                                      DB_INT(c->size), DB_TEXT(c->filename), DB_TEXT(c->media_type),
                                      EFILE_BY(who), DB_INT(now)),
                            &vid, err);
    if (rc == KR_OK)
        rc = db_exec(conn, "INSERT INTO efile_text_job (version_id, queued_at) VALUES ($1, $2)",
                     DB_PARAMS(DB_INT(vid), DB_INT(now)), NULL, err);
    return rc;
}

struct doc_ctx {
    struct blob_store *store;
    const struct efile_actor *who;
    int64_t txn, doc, now;
    int version;
    const struct efile_doc_meta *meta;
    const struct efile_content *content;
};

static int doc_add_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct doc_ctx *d = arg;
    const struct efile_doc_meta *m = d->meta;
    int64_t file;
    int rc = file_of_txn(conn, d->txn, &file, err);
    if (rc == KR_OK)
        rc = writable(conn, d->who, file, err);
    if (rc)
        return rc;
    rc = db_query_int64(
        conn,
        "INSERT INTO efile_document (transaction_id, file_id, title, doc_type, author, sender, "
        "direction, received_at, current, created_by, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10) RETURNING id",
        DB_PARAMS(
            DB_INT(d->txn), DB_INT(file), DB_TEXT(m->title),
            DB_TEXT(m->doc_type ? m->doc_type : ""), DB_TEXT(m->author ? m->author : ""),
            DB_TEXT(m->sender ? m->sender : ""), DB_TEXT(m->direction ? m->direction : "internal"),
            m->received_at ? DB_INT(m->received_at) : DB_NULL, EFILE_BY(d->who), DB_INT(d->now)),
        &d->doc, err);
    if (rc == KR_OK)
        rc = add_version(conn, d->who, d->doc, 1, d->content, d->now, err);
    if (rc == KR_OK)
        rc = efile_index_replace(conn, d->doc, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, d->who, "efile.document.add", file,
                            json_pack("{s:I, s:s, s:s, s:I}", "document", (json_int_t)d->doc,
                                      "title", m->title, "blob", d->content->blob_hash, "size",
                                      (json_int_t)d->content->size),
                            err);
}

int efile_doc_add(struct db_conn *conn, struct blob_store *store, const struct efile_actor *who,
                  int64_t txn_id, const struct efile_doc_meta *meta,
                  const struct efile_content *content, int64_t now, int64_t *id,
                  struct kr_error *err)
{
    int rc = check_meta(meta, err);
    if (rc == KR_OK)
        rc = check_content(store, content, err);
    if (rc)
        return rc;
    struct doc_ctx d = {store, who, txn_id, 0, now, 0, meta, content};
    rc = db_transact(conn, doc_add_in_tx, &d, err);
    if (rc == KR_OK) {
        efile_extractor_wake();
        if (id)
            *id = d.doc;
    }
    return rc;
}

/* Bump the document's lock from version; *current gets the new current
 * content number when new_content. */
static int doc_bump(struct db_conn *conn, int64_t doc, int version, bool new_content, int64_t now,
                    int64_t *current, struct kr_error *err)
{
    int rc = db_query_int64(
        conn,
        "UPDATE efile_document SET version = version + 1, updated_at = $3, "
        "current = current + $4 WHERE id = $1 AND version = $2 "
        "RETURNING current",
        DB_PARAMS(DB_INT(doc), DB_INT(version), DB_INT(now), DB_INT(new_content ? 1 : 0)), current,
        err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "the document was changed by someone else meanwhile; reload it");
    return rc;
}

static int doc_version_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct doc_ctx *d = arg;
    int64_t file, current;
    int rc = file_of_doc(conn, d->doc, &file, err);
    if (rc == KR_OK)
        rc = writable(conn, d->who, file, err);
    if (rc == KR_OK)
        rc = doc_bump(conn, d->doc, d->version, true, d->now, &current, err);
    if (rc == KR_OK)
        rc = add_version(conn, d->who, d->doc, (int)current, d->content, d->now, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, d->who, "efile.document.version", file,
                            json_pack("{s:I, s:I, s:s}", "document", (json_int_t)d->doc, "version",
                                      (json_int_t)current, "blob", d->content->blob_hash),
                            err);
}

int efile_doc_new_version(struct db_conn *conn, struct blob_store *store,
                          const struct efile_actor *who, int64_t doc_id, int version,
                          const struct efile_content *content, int64_t now, struct kr_error *err)
{
    int rc = check_content(store, content, err);
    if (rc)
        return rc;
    struct doc_ctx d = {store, who, 0, doc_id, now, version, NULL, content};
    rc = db_transact(conn, doc_version_in_tx, &d, err);
    if (rc == KR_OK)
        efile_extractor_wake();
    return rc;
}

static int doc_update_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct doc_ctx *d = arg;
    const struct efile_doc_meta *m = d->meta;
    int64_t file, current;
    int rc = file_of_doc(conn, d->doc, &file, err);
    if (rc == KR_OK)
        rc = writable(conn, d->who, file, err);
    if (rc == KR_OK)
        rc = doc_bump(conn, d->doc, d->version, false, d->now, &current, err);
    if (rc == KR_OK)
        rc = db_exec(
            conn,
            "UPDATE efile_document SET title = $2, doc_type = $3, author = $4, "
            "sender = $5, direction = $6, received_at = $7 WHERE id = $1",
            DB_PARAMS(DB_INT(d->doc), DB_TEXT(m->title), DB_TEXT(m->doc_type ? m->doc_type : ""),
                      DB_TEXT(m->author ? m->author : ""), DB_TEXT(m->sender ? m->sender : ""),
                      DB_TEXT(m->direction ? m->direction : "internal"),
                      m->received_at ? DB_INT(m->received_at) : DB_NULL),
            NULL, err);
    if (rc == KR_OK)
        rc = efile_index_replace(conn, d->doc, err);
    if (rc)
        return rc;
    return efile_audit_file(
        conn, d->who, "efile.document.update", file,
        json_pack("{s:I, s:s}", "document", (json_int_t)d->doc, "title", m->title), err);
}

int efile_doc_update(struct db_conn *conn, const struct efile_actor *who, int64_t doc_id,
                     int version, const struct efile_doc_meta *meta, int64_t now,
                     struct kr_error *err)
{
    int rc = check_meta(meta, err);
    if (rc)
        return rc;
    struct doc_ctx d = {NULL, who, 0, doc_id, now, version, meta, NULL};
    return db_transact(conn, doc_update_in_tx, &d, err);
}

/* ---- Reading ------------------------------------------------------------------------ */

#define DOC_COLUMNS                                                                                \
    "d.id, d.transaction_id, d.file_id, d.title, d.doc_type, d.author, d.sender, d.direction, "    \
    "COALESCE(d.received_at, 0), d.created_at, d.updated_at, d.version, d.current"

static void read_doc(struct db_stmt *st, struct arena *a, struct efile_document *d)
{
    memset(d, 0, sizeof(*d));
    d->id = db_column_int64(st, 0);
    d->transaction_id = db_column_int64(st, 1);
    d->file_id = db_column_int64(st, 2);
    d->title = db_column_strdup(st, 3, a);
    d->doc_type = db_column_strdup(st, 4, a);
    d->author = db_column_strdup(st, 5, a);
    d->sender = db_column_strdup(st, 6, a);
    d->direction = db_column_strdup(st, 7, a);
    d->received_at = db_column_int64(st, 8);
    d->created_at = db_column_int64(st, 9);
    d->updated_at = db_column_int64(st, 10);
    d->version = (int)db_column_int64(st, 11);
    d->current = (int)db_column_int64(st, 12);
}

static int load_versions(struct db_conn *conn, struct arena *a, struct efile_document *d,
                         int only_no, struct kr_error *err)
{
    size_t max = only_no ? 1 : (size_t)d->current;
    d->versions = arena_calloc(a, max + 1, sizeof(*d->versions));
    if (!d->versions)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT v.id, v.no, v.blob_hash, v.filename, v.media_type, v.size, "
                      "v.created_at, COALESCE(j.state, 'done') FROM efile_version v "
                      "LEFT JOIN efile_text_job j ON j.version_id = v.id "
                      "WHERE v.document_id = $1 AND ($2 = 0 OR v.no = $2) ORDER BY v.no DESC",
                      DB_PARAMS(DB_INT(d->id), DB_INT(only_no)), &st, err);
    if (rc)
        return rc;
    size_t n = 0;
    while ((rc = db_step(st, err)) == DB_ROW && n < max) {
        struct efile_version *v = &d->versions[n++];
        v->id = db_column_int64(st, 0);
        v->no = (int)db_column_int64(st, 1);
        v->blob_hash = db_column_strdup(st, 2, a);
        v->filename = db_column_strdup(st, 3, a);
        v->media_type = db_column_strdup(st, 4, a);
        v->size = db_column_int64(st, 5);
        v->created_at = db_column_int64(st, 6);
        v->text_state = db_column_strdup(st, 7, a);
    }
    db_finish(st);
    d->version_count = n;
    return rc < 0 ? rc : KR_OK;
}

static int load_doc(struct db_conn *conn, struct arena *a, int64_t id, struct efile_document *d,
                    struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT " DOC_COLUMNS " FROM efile_document d WHERE d.id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW)
        read_doc(st, a, d);
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such document");
    return rc < 0 ? rc : KR_OK;
}

struct read_ctx {
    struct arena *a;
    const struct efile_actor *who;
    int64_t file, doc;
    int no;
    const char *action;
    struct efile_document *out;
    struct efile_version *version;
};

static int doc_get_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct read_ctx *r = arg;
    int rc = file_of_doc(conn, r->doc, &r->file, err);
    if (rc == KR_OK)
        rc = efile_require(conn, r->who, r->file, false, err);
    if (rc == KR_OK)
        rc = load_doc(conn, r->a, r->doc, r->out, err);
    if (rc == KR_OK)
        rc = load_versions(conn, r->a, r->out, r->no, err);
    if (rc)
        return rc;
    if (r->version && r->out->version_count == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such version");
    if (r->version)
        *r->version = r->out->versions[0];
    return efile_audit_file(conn, r->who, r->action, r->file,
                            json_pack("{s:I, s:I}", "document", (json_int_t)r->doc, "version",
                                      (json_int_t)(r->version ? r->version->no : r->out->current)),
                            err);
}

int efile_doc_get(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                  int64_t doc_id, struct efile_document *out, struct kr_error *err)
{
    struct read_ctx r = {a, who, 0, doc_id, 0, "efile.document.view", out, NULL};
    return db_transact(conn, doc_get_in_tx, &r, err);
}

int efile_version_download(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                           int64_t doc_id, int no, struct efile_version *out, struct kr_error *err)
{
    struct efile_document d;
    struct read_ctx r = {a, who, 0, doc_id, no, "efile.document.download", &d, out};
    if (no < 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such version");
    if (no == 0) {
        int64_t cur;
        int rc = db_query_int64(conn, "SELECT current FROM efile_document WHERE id = $1",
                                DB_PARAMS(DB_INT(doc_id)), &cur, err);
        if (rc == KR_ERR_NOT_FOUND)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such document");
        if (rc)
            return rc;
        r.no = (int)cur;
    }
    return db_transact(conn, doc_get_in_tx, &r, err);
}

/* ---- The opened file ------------------------------------------------------------------ */

static int load_txns(struct db_conn *conn, struct arena *a, struct efile_file_view *v,
                     struct kr_error *err)
{
    int64_t n;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_transaction WHERE file_id = $1",
                            DB_PARAMS(DB_INT(v->file.id)), &n, err);
    if (rc)
        return rc;
    v->txns = arena_calloc(a, (size_t)n + 1, sizeof(*v->txns));
    if (!v->txns)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    rc = db_query(conn,
                  "SELECT id, seq, title, case_ref, created_at FROM efile_transaction "
                  "WHERE file_id = $1 ORDER BY seq",
                  DB_PARAMS(DB_INT(v->file.id)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && v->txn_count < (size_t)n) {
        struct efile_transaction *t = &v->txns[v->txn_count++];
        t->id = db_column_int64(st, 0);
        t->file_id = v->file.id;
        t->seq = (int)db_column_int64(st, 1);
        t->title = db_column_strdup(st, 2, a);
        t->case_ref = db_column_strdup(st, 3, a);
        t->created_at = db_column_int64(st, 4);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int load_docs(struct db_conn *conn, struct arena *a, struct efile_file_view *v,
                     struct kr_error *err)
{
    v->docs = arena_calloc(a, DOCS_MAX, sizeof(*v->docs));
    if (!v->docs)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " DOC_COLUMNS " FROM efile_document d WHERE d.file_id = $1 "
                      "ORDER BY d.transaction_id, d.id",
                      DB_PARAMS(DB_INT(v->file.id)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && v->doc_count < DOCS_MAX)
        read_doc(st, a, &v->docs[v->doc_count++]);
    db_finish(st);
    for (size_t i = 0; rc >= 0 && i < v->doc_count; i++)
        rc = load_versions(conn, a, &v->docs[i], 0, err);
    return rc < 0 ? rc : KR_OK;
}

static int load_history(struct db_conn *conn, struct arena *a, struct efile_file_view *v,
                        struct kr_error *err)
{
    v->history = arena_calloc(a, HISTORY_MAX, sizeof(*v->history));
    if (!v->history)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char id[24];
    (void)snprintf(id, sizeof(id), "%lld", (long long)v->file.id);
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT created_at, actor, action, details FROM audit_entry "
                      "WHERE object_type = 'efile_file' AND object_id = $1 "
                      "ORDER BY seq DESC LIMIT $2",
                      DB_PARAMS(DB_TEXT(id), DB_INT(HISTORY_MAX)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && v->history_count < HISTORY_MAX) {
        struct efile_history *h = &v->history[v->history_count++];
        h->at = db_column_int64(st, 0);
        h->actor = db_column_strdup(st, 1, a);
        h->action = db_column_strdup(st, 2, a);
        h->details = db_column_strdup(st, 3, a);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int efile_file_open(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                    int64_t id, struct efile_file_view *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = efile_file_get(conn, a, who, id, true, &out->file, err);
    if (rc == KR_OK)
        rc = load_txns(conn, a, out, err);
    if (rc == KR_OK)
        rc = load_docs(conn, a, out, err);
    if (rc == KR_OK)
        rc = load_history(conn, a, out, err);
    return rc;
}

int efile_package_view(struct db_conn *conn, struct arena *a, int64_t id,
                       struct efile_file_view *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = efile_load_file(conn, a, id, &out->file, err);
    if (rc == KR_OK)
        rc = load_txns(conn, a, out, err);
    if (rc == KR_OK)
        rc = load_docs(conn, a, out, err);
    return rc;
}

/* ---- For the workflow module ---------------------------------------------------------- */

int efile_case_open(struct db_conn *conn, const struct efile_actor *who, const char *plan_number,
                    int64_t unit_id, const char *title, const char *case_ref, int64_t now,
                    int64_t *file_id, int64_t *txn_id, struct kr_error *err)
{
    if (!db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL, "efile_case_open needs the caller's transaction");
    int64_t plan;
    int rc = db_query_int64(conn, "SELECT id FROM efile_plan_item WHERE number = $1",
                            DB_PARAMS(DB_TEXT(plan_number ? plan_number : "")), &plan, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "plan item %s unknown",
                            plan_number ? plan_number : "");
    if (rc)
        return rc;
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct efile_file_new in = {
        .plan_item_id = plan, .unit_id = unit_id, .title = title, .case_ref = case_ref};
    rc = efile_file_create(conn, a, who, &in, now, file_id, NULL, err);
    arena_free(a);
    if (rc == KR_OK)
        rc = efile_txn_create(conn, who, *file_id, title, case_ref, now, txn_id, err);
    return rc;
}

int efile_case_txn(struct db_conn *conn, const char *case_ref, int64_t *file_id, int64_t *txn_id,
                   struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT file_id, id FROM efile_transaction WHERE case_ref = $1 "
                      "ORDER BY id LIMIT 1",
                      DB_PARAMS(DB_TEXT(case_ref ? case_ref : "")), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        *file_id = db_column_int64(st, 0);
        *txn_id = db_column_int64(st, 1);
    }
    db_finish(st);
    if (rc == DB_ROW)
        return KR_OK;
    return rc < 0 ? rc : kr_error_set(err, KR_ERR_NOT_FOUND, "case %s has no e-file", case_ref);
}

int efile_case_add_document(struct db_conn *conn, struct blob_store *store,
                            const struct efile_actor *who, int64_t txn_id, const char *title,
                            const struct efile_content *content, int64_t now, int64_t *doc_id,
                            struct kr_error *err)
{
    if (!db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL,
                            "efile_case_add_document needs the caller's transaction");
    struct efile_doc_meta meta = {.title = title, .direction = "in"};
    return efile_doc_add(conn, store, who, txn_id, &meta, content, now, doc_id, err);
}
