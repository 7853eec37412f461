/*
 * disposal.c - retention and disposal (Aussonderung): the list of files
 * due per period, requests, and the four-eyes confirmation that hands a
 * file to the archive (package, xdomea.c) or destroys it and keeps a
 * deletion record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define DUE_MAX 1000
#define HASHES_MAX 10000

static bool records_manager(const struct efile_actor *who)
{
    return (who->roles & ACCOUNT_ROLE_RECORDS_MANAGER) != 0;
}

static int eval_rank(const char *e)
{
    return !e ? 3 : strcmp(e, "A") == 0 ? 0 : strcmp(e, "B") == 0 ? 1 : 2;
}

static int by_evaluation(const void *x, const void *y)
{
    const struct efile_due *a = x, *b = y;
    int d = eval_rank(a->file.evaluation) - eval_rank(b->file.evaluation);
    return d ? d : strcmp(a->file.reference, b->file.reference);
}

int efile_disposal_list(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                        int period, struct efile_due **out, size_t *count, struct kr_error *err)
{
    *count = 0;
    if (!records_manager(who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers see the disposal list");
    if (period < 1900 || period > 9999)
        return kr_error_set(err, KR_ERR_INVALID, "period: a year");
    struct tm tm = {.tm_year = period + 1 - 1900, .tm_mday = 1};
    int64_t end = (int64_t)timegm(&tm);
    *out = arena_calloc(a, DUE_MAX, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " FILE_COLUMNS ", COALESCE(r.id, 0), r.action, "
                      "COALESCE(r.requested_by, 0)" FILE_FROM
                      " LEFT JOIN efile_disposal r ON r.file_id = f.id AND r.state = 'pending' "
                      "WHERE f.status = 'closed' AND f.disposal IS NULL AND f.disposal_at IS NOT "
                      "NULL AND f.disposal_at < $1 ORDER BY f.disposal_at, f.reference LIMIT $2",
                      DB_PARAMS(DB_INT(end), DB_INT(DUE_MAX)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count < DUE_MAX) {
        struct efile_due *d = &(*out)[(*count)++];
        efile_read_file(st, a, &d->file);
        d->request_id = db_column_int64(st, 19);
        d->request_action = db_column_strdup(st, 20, a);
        d->requested_by = db_column_int64(st, 21);
    }
    db_finish(st);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        struct efile_plan_item p;
        rc = efile_plan_effective(conn, a, (*out)[i].file.plan_item_id, &p, err);
        if (rc)
            return rc;
        (*out)[i].file.evaluation = p.eff_evaluation;
        (*out)[i].file.retention_years = p.eff_retention_years;
    }
    qsort(*out, *count, sizeof(**out), by_evaluation);
    return KR_OK;
}

/* ---- Requests --------------------------------------------------------------------- */

struct request_ctx {
    const struct efile_actor *who;
    int64_t file, now, id;
    const char *action, *basis;
};

static int check_due(const struct efile_file *f, const char *action, int64_t now,
                     struct kr_error *err)
{
    if (strcmp(f->status, "closed") != 0 || f->disposal)
        return kr_error_set(err, KR_ERR_CONFLICT, "only closed files can be disposed of");
    if (f->legal_hold)
        return kr_error_set(err, KR_ERR_CONFLICT, "the file is under legal hold");
    if (!f->disposal_at || f->disposal_at > now)
        return kr_error_set(err, KR_ERR_CONFLICT, "the retention period has not ended");
    if (strcmp(f->evaluation, "A") == 0 && strcmp(action, "archive") != 0)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "files evaluated A (archive) must go to the archive");
    if (strcmp(f->evaluation, "V") == 0 && strcmp(action, "destroy") != 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "files evaluated V are destroyed");
    return KR_OK;
}

static int request_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct request_ctx *r = arg;
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct efile_file f;
    int64_t pending = 0;
    int rc = efile_load_file(conn, a, r->file, &f, err);
    if (rc == KR_OK)
        rc = check_due(&f, r->action, r->now, err);
    if (rc == KR_OK)
        rc = db_query_int64(conn,
                            "SELECT COUNT(*) FROM efile_disposal WHERE file_id = $1 "
                            "AND state = 'pending'",
                            DB_PARAMS(DB_INT(r->file)), &pending, err);
    if (rc == KR_OK && pending)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "a disposal of this file waits for confirmation");
    if (rc == KR_OK)
        rc = db_query_int64(conn,
                            "INSERT INTO efile_disposal (file_id, action, legal_basis, "
                            "requested_by, requested_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                            DB_PARAMS(DB_INT(r->file), DB_TEXT(r->action), DB_TEXT(r->basis),
                                      DB_INT(r->who->user_id), DB_INT(r->now)),
                            &r->id, err);
    arena_free(a);
    if (rc)
        return rc;
    return efile_audit_file(conn, r->who, "efile.disposal.request", r->file,
                            json_pack("{s:I, s:s, s:s}", "request", (json_int_t)r->id, "action",
                                      r->action, "legal_basis", r->basis),
                            err);
}

int efile_disposal_request(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                           const char *action, const char *legal_basis, int64_t now, int64_t *id,
                           struct kr_error *err)
{
    if (!records_manager(who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers request a disposal");
    if (!action || (strcmp(action, "archive") != 0 && strcmp(action, "destroy") != 0))
        return kr_error_set(err, KR_ERR_INVALID, "action: archive or destroy");
    if (!efile_text_ok(legal_basis, 500, false))
        return kr_error_set(err, KR_ERR_INVALID, "legal basis: 1 to 500 characters");
    struct request_ctx r = {who, file_id, now, 0, action, legal_basis};
    int rc = db_transact(conn, request_in_tx, &r, err);
    if (rc == KR_OK && id)
        *id = r.id;
    return rc;
}

/* ---- Confirmation ------------------------------------------------------------------- */

struct confirm_ctx {
    const struct efile_actor *who;
    struct arena *a;
    int64_t id, file, requested_by, now;
    const char *action, *basis;
    struct blob_info package;
    char **hashes;
    size_t hash_count;
};

static int load_request(struct db_conn *conn, struct confirm_ctx *c, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT COALESCE(file_id, 0), action, legal_basis, requested_by "
                      "FROM efile_disposal WHERE id = $1 AND state = 'pending'",
                      DB_PARAMS(DB_INT(c->id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        c->file = db_column_int64(st, 0);
        c->action = db_column_strdup(st, 1, c->a);
        c->basis = db_column_strdup(st, 2, c->a);
        c->requested_by = db_column_int64(st, 3);
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no pending disposal request with this id");
    if (rc < 0)
        return rc;
    if (c->requested_by == c->who->user_id)
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "a second person must confirm: you made this request");
    return KR_OK;
}

static int collect_hashes(struct db_conn *conn, struct confirm_ctx *c, struct kr_error *err)
{
    c->hashes = arena_calloc(c->a, HASHES_MAX, sizeof(*c->hashes));
    if (!c->hashes)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT DISTINCT v.blob_hash FROM efile_version v JOIN efile_document d "
                      "ON d.id = v.document_id WHERE d.file_id = $1",
                      DB_PARAMS(DB_INT(c->file)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && c->hash_count < HASHES_MAX)
        c->hashes[c->hash_count++] = db_column_strdup(st, 0, c->a);
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int destroy(struct db_conn *conn, struct confirm_ctx *c, const struct efile_file *f,
                   struct kr_error *err)
{
    int64_t docs;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_document WHERE file_id = $1",
                            DB_PARAMS(DB_INT(c->file)), &docs, err);
    if (rc == KR_OK)
        rc = collect_hashes(conn, c, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO efile_deletion_record (reference, title, plan_number, "
                     "closed_at, documents, legal_basis, requested_by, confirmed_by, "
                     "destroyed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     DB_PARAMS(DB_TEXT(f->reference), DB_TEXT(f->title), DB_TEXT(f->plan_number),
                               DB_INT(f->closed_at), DB_INT(docs), DB_TEXT(c->basis),
                               DB_INT(c->requested_by), DB_INT(c->who->user_id), DB_INT(c->now)),
                     NULL, err);
    if (rc == KR_OK)
        rc = efile_audit_file(conn, c->who, "efile.disposal.destroy", c->file,
                              json_pack("{s:s, s:s, s:I, s:s}", "reference", f->reference, "title",
                                        f->title, "documents", (json_int_t)docs, "legal_basis",
                                        c->basis),
                              err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM efile_file WHERE id = $1", DB_PARAMS(DB_INT(c->file)), NULL,
                     err);
    return rc;
}

static int confirm_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct confirm_ctx *c = arg;
    struct efile_file f;
    int rc = load_request(conn, c, err);
    if (rc == KR_OK)
        rc = efile_load_file(conn, c->a, c->file, &f, err);
    if (rc == KR_OK)
        rc = check_due(&f, c->action, c->now, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE efile_disposal SET state = 'done', confirmed_by = $2, "
                     "confirmed_at = $3, package_hash = $4 WHERE id = $1",
                     DB_PARAMS(DB_INT(c->id), DB_INT(c->who->user_id), DB_INT(c->now),
                               c->package.hash[0] ? DB_TEXT(c->package.hash) : DB_NULL),
                     NULL, err);
    if (rc)
        return rc;
    if (strcmp(c->action, "destroy") == 0)
        return destroy(conn, c, &f, err);
    rc = db_exec(conn, "UPDATE efile_file SET disposal = 'archived' WHERE id = $1",
                 DB_PARAMS(DB_INT(c->file)), NULL, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, c->who, "efile.disposal.archive", c->file,
                            json_pack("{s:s, s:I, s:s}", "package", c->package.hash, "size",
                                      (json_int_t)c->package.size, "legal_basis", c->basis),
                            err);
}

int efile_disposal_confirm(struct db_conn *conn, struct blob_store *store,
                           const struct efile_actor *who, int64_t request_id, int64_t now,
                           struct kr_error *err)
{
    if (!records_manager(who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers confirm a disposal");
    if (db_in_transaction(conn))
        return kr_error_set(err, KR_ERR_INTERNAL,
                            "efile_disposal_confirm opens its own transaction");
    struct confirm_ctx c = {.who = who, .id = request_id, .now = now};
    c.a = arena_new(0);
    if (!c.a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    /* Check first, then build the package outside the transaction (it can
     * take long); the transaction checks everything again. */
    int rc = load_request(conn, &c, err);
    if (rc == KR_OK && strcmp(c.action, "archive") == 0)
        rc = efile_xdomea_package(conn, store, c.file, now, &c.package, err);
    if (rc == KR_OK)
        rc = db_transact(conn, confirm_in_tx, &c, err);
    /* Blobs of a destroyed file that nothing else references go now; a
     * crash here leaves them to blob_sweep. */
    for (size_t i = 0; rc == KR_OK && i < c.hash_count; i++) {
        struct kr_error ignored;
        if (!efile_blob_referenced(conn, c.hashes[i]) &&
            blob_delete(store, c.hashes[i], &ignored) != KR_OK)
            kr_log_error("efile_blob_delete_failed", &ignored);
    }
    arena_free(c.a);
    return rc;
}

static int cancel_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct confirm_ctx *c = arg;
    int64_t changes;
    int rc = db_query_int64(conn,
                            "SELECT COALESCE(file_id, 0) FROM efile_disposal WHERE id = $1 "
                            "AND state = 'pending'",
                            DB_PARAMS(DB_INT(c->id)), &c->file, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no pending disposal request with this id");
    if (rc == KR_OK)
        rc = db_exec(conn, "UPDATE efile_disposal SET state = 'cancelled' WHERE id = $1",
                     DB_PARAMS(DB_INT(c->id)), &changes, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, c->who, "efile.disposal.cancel", c->file,
                            json_pack("{s:I}", "request", (json_int_t)c->id), err);
}

int efile_disposal_cancel(struct db_conn *conn, const struct efile_actor *who, int64_t request_id,
                          struct kr_error *err)
{
    if (!records_manager(who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers cancel a disposal");
    struct confirm_ctx c = {.who = who, .id = request_id};
    return db_transact(conn, cancel_in_tx, &c, err);
}

int efile_disposal_package(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                           int64_t file_id, char **hash, struct kr_error *err)
{
    if (!records_manager(who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers fetch packages");
    int rc = db_query_text(conn,
                           "SELECT package_hash FROM efile_disposal WHERE file_id = $1 "
                           "AND state = 'done' AND package_hash IS NOT NULL "
                           "ORDER BY id DESC LIMIT 1",
                           DB_PARAMS(DB_INT(file_id)), a, hash, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "the file has no archive package");
    return rc;
}

bool efile_blob_referenced(void *ctx, const char *hash)
{
    struct db_conn *conn = ctx;
    struct kr_error err;
    int64_t n = 1;
    if (db_query_int64(conn,
                       "SELECT (SELECT COUNT(*) FROM efile_version WHERE blob_hash = $1) + "
                       "(SELECT COUNT(*) FROM efile_disposal WHERE package_hash = $1)",
                       DB_PARAMS(DB_TEXT(hash)), &n, &err) != KR_OK)
        return true; /* when in doubt, keep it */
    return n > 0;
}
