/*
 * efile_http.c - the clerk's pages of the e-file (/verwaltung/akten, the
 * file plan /verwaltung/aktenplan, disposal /verwaltung/aussonderung) and
 * the JSON API (/api/v1/akten, /api/v1/aktenplan, /api/v1/akten-suche).
 * Handlers parse and check the request, call one domain function, render.
 */
#include "efile/efile_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/text.h"
#include "core/util.h"
#include "efile/efile.h"
#include "http/http.h"

#define UPLOAD_MAX_FILE ((int64_t)2 * 1024 * 1024 * 1024)
#define UPLOAD_MAX_FILES 50
#define PLAN_IMPORT_MAX (4 * 1024 * 1024)

/* The disposal clock: the real time, or efile_today (tests) plus the
 * time of day.  Set once at start. */
static int64_t today_override;

static int64_t disposal_now(void)
{
    int64_t now = kr_now();
    return today_override ? today_override + now % 86400 : now;
}

/* ---- Helpers ------------------------------------------------------------------------- */

static json_t *date_text(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    (void)strftime(buf, sizeof(buf), "%d.%m.%Y", &tm);
    return json_string(buf);
}

/* A staff member: the actor of the domain calls. */
static int staff(struct http_request *req, struct efile_actor *who, struct db_conn **conn,
                 struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    const struct account_user *u = http_user(req);
    if (strcmp(u->kind, "staff") != 0 || !u->org_unit_id)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "the e-file is for staff of a unit");
    who->user_id = u->id;
    who->unit_id = u->org_unit_id;
    who->roles = u->roles;
    return http_db(req, conn, err);
}

static int64_t param_id(struct http_request *req, const char *name)
{
    int64_t id = 0;
    const char *v = http_param(req, name);
    if (!v || kr_parse_int64(v, 1, INT64_MAX, &id) != KR_OK)
        return 0;
    return id;
}

static int64_t field_int(struct http_request *req, const char *name, int64_t min, int64_t max)
{
    int64_t v = 0;
    const char *s = http_form(req, name);
    if (!s || kr_parse_int64(s, min, max, &v) != KR_OK)
        return min - 1;
    return v;
}

static bool is_api(struct http_request *req)
{
    return strncmp(http_path(req), "/api/", 5) == 0;
}

static const char *file_path(struct http_request *req, int64_t id)
{
    const char *p = arena_printf(http_arena(req), "/verwaltung/akten/%lld", (long long)id);
    return p ? p : "/verwaltung/akten";
}

/* "2033-01-01" -> Unix seconds (UTC midnight); 0 for empty. */
static int parse_date(const char *s, int64_t *out)
{
    *out = 0;
    if (!s || !*s)
        return KR_OK;
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || *end)
        return KR_ERR_INVALID;
    *out = (int64_t)timegm(&tm);
    return KR_OK;
}

static json_t *file_json(const struct efile_file *f)
{
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s?, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:s?, s:i, s:s, "
        "s:s, s:s}",
        "id", (json_int_t)f->id, "reference", f->reference, "title", f->title, "parties",
        f->parties ? f->parties : "", "case", f->case_ref, "status", f->status, "restricted",
        f->restricted, "legal_hold", f->legal_hold, "opened_at", kr_json_time(f->opened_at),
        "closed_at", kr_json_time(f->closed_at), "disposal_at", kr_json_time(f->disposal_at),
        "closed_text", date_text(f->closed_at), "disposal_text", date_text(f->disposal_at),
        "disposal", f->disposal, "version", f->version, "plan_number", f->plan_number, "plan_title",
        f->plan_title, "unit", f->unit_code);
    if (o && f->evaluation)
        json_object_set_new(o, "evaluation", json_string(f->evaluation));
    if (o)
        json_object_set_new(o, "is_open", json_boolean(strcmp(f->status, "open") == 0));
    return o;
}

static json_t *version_json(const struct efile_document *d, const struct efile_version *v)
{
    return json_pack("{s:I, s:i, s:s, s:s, s:I, s:s, s:o, s:s}", "document", (json_int_t)d->id,
                     "no", v->no, "filename", v->filename, "media_type", v->media_type, "size",
                     (json_int_t)v->size, "sha256", v->blob_hash, "created_at",
                     kr_json_time(v->created_at), "text", v->text_state);
}

static json_t *doc_json(const struct efile_document *d)
{
    json_t *versions = json_array();
    for (size_t i = 0; i < d->version_count; i++)
        json_array_append_new(versions, version_json(d, &d->versions[i]));
    return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:i, s:o}", "id",
                     (json_int_t)d->id, "transaction", (json_int_t)d->transaction_id, "title",
                     d->title, "type", d->doc_type, "author", d->author, "sender", d->sender,
                     "direction", d->direction, "received_at", kr_json_time(d->received_at),
                     "version", d->version, "current", d->current, "versions", versions);
}

static json_t *view_json(const struct efile_file_view *v)
{
    json_t *o = file_json(&v->file);
    json_t *txns = json_array(), *hist = json_array();
    for (size_t t = 0; t < v->txn_count; t++) {
        json_t *docs = json_array();
        for (size_t d = 0; d < v->doc_count; d++)
            if (v->docs[d].transaction_id == v->txns[t].id)
                json_array_append_new(docs, doc_json(&v->docs[d]));
        json_array_append_new(txns, json_pack("{s:I, s:i, s:s, s:o, s:b}", "id",
                                              (json_int_t)v->txns[t].id, "seq", v->txns[t].seq,
                                              "title", v->txns[t].title, "documents", docs,
                                              "has_documents", json_array_size(docs) > 0));
    }
    for (size_t h = 0; h < v->history_count; h++) {
        char when[32];
        kr_time_format_local(v->history[h].at, when, sizeof(when));
        json_array_append_new(
            hist, json_pack("{s:o, s:s, s:s, s:s, s:s}", "at", kr_json_time(v->history[h].at),
                            "at_text", when, "actor", v->history[h].actor, "action",
                            v->history[h].action, "details", v->history[h].details));
    }
    json_object_set_new(o, "transactions", txns);
    json_object_set_new(o, "has_transactions", json_boolean(v->txn_count > 0));
    json_object_set_new(o, "history", hist);
    json_object_set_new(o, "writable", json_boolean(v->file.access == EFILE_WRITE));
    return o;
}

static json_t *plan_json(const struct efile_plan_item *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct efile_plan_item *it = &items[i];
        char ret[16];
        if (it->eff_retention_years == EFILE_PERMANENT)
            (void)snprintf(ret, sizeof(ret), "permanent");
        else
            (void)snprintf(ret, sizeof(ret), "%d", it->eff_retention_years);
        json_array_append_new(
            arr, json_pack(
                     "{s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s?, s:b, s:b}", "id",
                     (json_int_t)it->id, "number", it->number, "title", it->title, "description",
                     it->description, "depth", it->depth, "retention", ret, "event", it->eff_event,
                     "evaluation", it->eff_evaluation, "unit", it->eff_unit_code, "permanent",
                     it->eff_retention_years == EFILE_PERMANENT, "has_children", it->has_children));
    }
    return arr;
}

/* A page with a form: make sure of a CSRF token, then render. */
static int render(struct http_request *req, unsigned status, const char *tpl, json_t *ctx,
                  struct kr_error *err)
{
    int rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(ctx);
        return rc;
    }
    return http_render(req, status, tpl, ctx);
}

/* ---- Files ----------------------------------------------------------------------------- */

static int list_files(struct http_request *req, bool api, const char *error, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    const char *q = http_query(req, "q");
    const char *full = http_query(req, "volltext");
    struct efile_file_filter f = {.query = q, .limit = 50};
    const char *status = http_query(req, "status");
    if (status && (strcmp(status, "open") == 0 || strcmp(status, "closed") == 0))
        f.status = status;
    struct efile_file *files;
    size_t n;
    rc = efile_file_list(conn, http_arena(req), &who, &f, &files, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, file_json(&files[i]));
    json_t *hits = json_array();
    if (full && *full) {
        struct efile_hit *h;
        size_t nh;
        rc = efile_search(conn, http_arena(req), &who, full, 0, 50, &h, &nh, err);
        if (rc) {
            json_decref(items);
            json_decref(hits);
            return rc;
        }
        for (size_t i = 0; i < nh; i++)
            json_array_append_new(hits, json_pack("{s:I, s:I, s:s, s:s, s:s, s:i}", "document",
                                                  (json_int_t)h[i].doc_id, "file",
                                                  (json_int_t)h[i].file_id, "title", h[i].doc_title,
                                                  "reference", h[i].file_reference, "file_title",
                                                  h[i].file_title, "score", h[i].score));
    }
    if (api)
        return http_json(req, 200, json_pack("{s:o, s:o}", "files", items, "hits", hits));
    struct efile_plan_item *plan;
    size_t np;
    rc = efile_plan_list(conn, http_arena(req), &plan, &np, err);
    if (rc) {
        json_decref(items);
        json_decref(hits);
        return rc;
    }
    json_t *ctx =
        json_pack("{s:o, s:b, s:o, s:b, s:s, s:s, s:b, s:o}", "files", items, "has_files", n > 0,
                  "hits", hits, "has_hits", json_array_size(hits) > 0, "q", q ? q : "", "volltext",
                  full ? full : "", "searched", full && *full, "plan", plan_json(plan, np));
    if (error) {
        json_object_set_new(ctx, "has_errors", json_true());
        json_object_set_new(
            ctx, "errors",
            json_pack("[{s:s, s:s, s:b}]", "field", "title", "message", error, "link", 1));
    }
    return render(req, error ? 422 : 200, "efile/files", ctx, err);
}

static int files_page(struct http_request *req, struct kr_error *err)
{
    return list_files(req, false, NULL, err);
}

static int files_api(struct http_request *req, struct kr_error *err)
{
    return list_files(req, true, NULL, err);
}

static int create_file(struct http_request *req, bool api, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    const char *title = http_form(req, "title"), *parties = http_form(req, "parties");
    json_t *body = NULL;
    if (api) {
        size_t len;
        const char *raw = http_body(req, &len);
        body = json_loadb(raw ? raw : "", len, 0, NULL);
        if (!json_is_object(body)) {
            json_decref(body);
            return kr_error_set(err, KR_ERR_INVALID, "expected a JSON object");
        }
        title = json_string_value(json_object_get(body, "title"));
        parties = json_string_value(json_object_get(body, "parties"));
    }
    int64_t plan = api ? json_integer_value(json_object_get(body, "plan_item"))
                       : field_int(req, "plan_item", 1, INT64_MAX);
    const char *restricted = api ? NULL : http_form(req, "restricted");
    struct efile_file_new in = {.plan_item_id = plan > 0 ? plan : 0,
                                .title = title,
                                .parties = parties,
                                .restricted = restricted && strcmp(restricted, "1") == 0};
    if (api && json_is_true(json_object_get(body, "restricted")))
        in.restricted = true;
    int64_t id = 0;
    char *ref = NULL;
    rc = efile_file_create(conn, http_arena(req), &who, &in, kr_now(), &id, &ref, err);
    json_decref(body);
    if (rc == KR_ERR_INVALID && !api)
        return list_files(req, false, err->message, err);
    if (rc)
        return rc;
    if (api)
        return http_json(req, 201, json_pack("{s:I, s:s}", "id", (json_int_t)id, "reference", ref));
    return http_redirect(req, 303, file_path(req, id));
}

static int create_page(struct http_request *req, struct kr_error *err)
{
    return create_file(req, false, err);
}

static int create_api(struct http_request *req, struct kr_error *err)
{
    return create_file(req, true, err);
}

static int open_file(struct http_request *req, bool api, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    struct efile_file_view v;
    rc = efile_file_open(conn, http_arena(req), &who, param_id(req, "id"), &v, err);
    if (rc)
        return rc;
    json_t *o = view_json(&v);
    if (api)
        return http_json(req, 200, o);
    struct efile_plan_item *plan;
    size_t np;
    rc = efile_plan_list(conn, http_arena(req), &plan, &np, err);
    if (rc) {
        json_decref(o);
        return rc;
    }
    const char *notice = http_query(req, "hinweis");
    return render(req, 200, "efile/file",
                  json_pack("{s:o, s:o, s:s?}", "file", o, "plan", plan_json(plan, np), "notice",
                            notice && strcmp(notice, "hochgeladen") == 0 ? "uploaded" : NULL),
                  err);
}

static int file_page(struct http_request *req, struct kr_error *err)
{
    return open_file(req, false, err);
}

static int file_api(struct http_request *req, struct kr_error *err)
{
    return open_file(req, true, err);
}

static int add_txn(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    rc = efile_txn_create(conn, &who, id, http_form(req, "title"), NULL, kr_now(), NULL, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, file_path(req, id));
}

/* What the content is, from its first bytes (never the client's claim). */
static const char *sniff(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return "application/octet-stream";
    char head[512];
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    if (n >= 5 && memcmp(head, "%PDF-", 5) == 0)
        return "application/pdf";
    if (n >= 4 && memcmp(head, "PK\3\4", 4) == 0)
        return "application/zip";
    if (n >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 3 && memcmp(head, "\xFF\xD8\xFF", 3) == 0)
        return "image/jpeg";
    for (size_t i = 0; i < n; i++)
        if (head[i] == '\0')
            return "application/octet-stream";
    return "text/plain";
}

static int upload(struct http_request *req, bool api, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    int64_t txn = field_int(req, "transaction", 1, INT64_MAX);
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    if (n == 0)
        return kr_error_set(err, KR_ERR_INVALID, "choose at least one file");
    for (size_t i = 0; i < n; i++)
        if (up[i].too_large)
            return kr_error_set(err, KR_ERR_TOO_LARGE, "%s is larger than 2 GB", up[i].filename);
    /* All files or none, with a new transaction if asked: one database
     * transaction; a failure names the file. */
    rc = db_begin(conn, err);
    if (rc == KR_OK && txn < 1) {
        const char *title = http_form(req, "new_transaction");
        rc = efile_txn_create(conn, &who, id, title && *title ? title : "Eingang", NULL, kr_now(),
                              &txn, err);
    }
    json_t *docs = json_array();
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        const char *name = *up[i].filename ? up[i].filename : "Dokument";
        struct efile_content c = {up[i].blob.hash, up[i].blob.size, name, sniff(up[i].path)};
        struct efile_doc_meta m = {.title = name, .direction = "in"};
        int64_t doc = 0;
        rc = http_upload_keep(req, i, err);
        if (rc == KR_OK)
            rc = efile_doc_add(conn, http_blobs(req), &who, txn, &m, &c, kr_now(), &doc, err);
        if (rc == KR_OK)
            json_array_append_new(docs,
                                  json_pack("{s:I, s:s}", "id", (json_int_t)doc, "name", name));
        else
            kr_error_prefix(err, "%s", name);
    }
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc) {
        db_rollback(conn);
        json_decref(docs);
        return rc;
    }
    efile_extractor_wake();
    if (api)
        return http_json(req, 201, json_pack("{s:o}", "documents", docs));
    json_decref(docs);
    char *to = arena_printf(http_arena(req), "%s?hinweis=hochgeladen", file_path(req, id));
    return http_redirect(req, 303, to ? to : file_path(req, id));
}

static int upload_page(struct http_request *req, struct kr_error *err)
{
    return upload(req, false, err);
}

static int upload_api(struct http_request *req, struct kr_error *err)
{
    return upload(req, true, err);
}

/* close / reopen / move / share / hold from the file page. */
static int change(struct http_request *req, bool api, const char *what, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id"), now = kr_now();
    int version = (int)field_int(req, "version", 1, INT32_MAX);
    if (strcmp(what, "close") == 0) {
        rc = efile_file_close(conn, &who, id, version, now, err);
    } else if (strcmp(what, "reopen") == 0) {
        rc = efile_file_reopen(conn, &who, id, version, http_form(req, "reason"), now, err);
    } else if (strcmp(what, "move") == 0) {
        rc = efile_file_move(conn, &who, id, version, field_int(req, "plan_item", 1, INT64_MAX),
                             now, err);
    } else if (strcmp(what, "hold") == 0) {
        const char *h = http_form(req, "hold");
        rc = efile_file_hold(conn, &who, id, h && strcmp(h, "1") == 0, http_form(req, "reason"),
                             now, err);
    } else {
        struct account_org_unit unit;
        int64_t until;
        const char *mode = http_form(req, "mode");
        rc = accounts_org_unit_find(conn, http_arena(req),
                                    http_form(req, "unit") ? http_form(req, "unit") : "", &unit,
                                    err);
        if (rc == KR_ERR_NOT_FOUND)
            rc = kr_error_set(err, KR_ERR_INVALID, "unit: unknown unit code");
        if (rc == KR_OK && parse_date(http_form(req, "until"), &until))
            rc = kr_error_set(err, KR_ERR_INVALID, "until: a date like 2027-12-31");
        if (rc == KR_OK)
            rc = efile_file_share(conn, &who, id, unit.id,
                                  mode && strcmp(mode, "none") == 0 ? NULL : mode, until, now, err);
    }
    if (rc)
        return rc;
    if (api)
        return http_json(req, 200, json_pack("{s:b}", "ok", 1));
    return http_redirect(req, 303, file_path(req, id));
}

static int close_page(struct http_request *req, struct kr_error *err)
{
    return change(req, is_api(req), "close", err);
}

static int reopen_page(struct http_request *req, struct kr_error *err)
{
    return change(req, is_api(req), "reopen", err);
}

static int move_page(struct http_request *req, struct kr_error *err)
{
    return change(req, is_api(req), "move", err);
}

static int share_page(struct http_request *req, struct kr_error *err)
{
    return change(req, is_api(req), "share", err);
}

static int hold_page(struct http_request *req, struct kr_error *err)
{
    return change(req, is_api(req), "hold", err);
}

/* ---- Named people of a restricted file ------------------------------------------------- */

static json_t *people_json(const struct efile_person *p, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s?}", "id",
                                             (json_int_t)p[i].user_id, "login", p[i].login, "name",
                                             p[i].display_name, "unit", p[i].unit_code));
    return arr;
}

/* The page: the file, who is named, a staff lookup (?person=) and, on a
 * refused change, the error (422). */
static int named_view(struct http_request *req, const char *error, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    struct efile_file f;
    int64_t id = param_id(req, "id");
    if (rc == KR_OK)
        rc = efile_file_get(conn, http_arena(req), &who, id, false, &f, err);
    struct efile_person *named = NULL, *found = NULL;
    size_t nn = 0, nf = 0;
    if (rc == KR_OK)
        rc = efile_file_named(conn, http_arena(req), &who, id, &named, &nn, err);
    if (rc)
        return rc;
    const char *q = http_query(req, "person");
    bool searched = q && *q && f.access == EFILE_WRITE;
    if (searched && !error) {
        rc = efile_staff_find(conn, http_arena(req), q, &found, &nf, err);
        if (rc == KR_ERR_INVALID)
            error = arena_strdup(http_arena(req), err->message);
        else if (rc)
            return rc;
    }
    json_t *ctx =
        json_pack("{s:o, s:o, s:b, s:o, s:b, s:b, s:s, s:b, s:b}", "file", file_json(&f), "named",
                  people_json(named, nn), "has_named", nn > 0, "found", people_json(found, nf),
                  "has_found", nf > 0, "searched", searched && !error, "person", q ? q : "",
                  "writable", f.access == EFILE_WRITE, "restricted", f.restricted);
    if (error) {
        json_object_set_new(ctx, "has_errors", json_true());
        json_object_set_new(
            ctx, "errors",
            json_pack("[{s:s, s:s, s:b}]", "field", "person", "message", error, "link", 1));
    }
    return render(req, error ? 422 : 200, "efile/named", ctx, err);
}

static int named_page(struct http_request *req, struct kr_error *err)
{
    return named_view(req, NULL, err);
}

/* POST .../berechtigte (user=ID) names a person; .../berechtigte/:user/
 * entziehen takes the name off.  A refused person shows the page again. */
static int named_change(struct http_request *req, bool grant, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    int64_t user = grant ? field_int(req, "user", 1, INT64_MAX) : param_id(req, "user");
    if (user < 1)
        rc = kr_error_set(err, KR_ERR_INVALID, "person: choose a person from the results");
    else if (grant)
        rc = efile_file_grant(conn, &who, id, user, err);
    else
        rc = efile_file_revoke(conn, &who, id, user, err);
    if (rc == KR_ERR_INVALID)
        return named_view(req, arena_strdup(http_arena(req), err->message), err);
    if (rc)
        return rc;
    char *to = arena_printf(http_arena(req), "/verwaltung/akten/%lld/berechtigte", (long long)id);
    return http_redirect(req, 303, to ? to : file_path(req, id));
}

static int named_grant(struct http_request *req, struct kr_error *err)
{
    return named_change(req, true, err);
}

static int named_revoke(struct http_request *req, struct kr_error *err)
{
    return named_change(req, false, err);
}

/* A stored blob as a download of any size: the open file goes to the
 * response (zero copy), never into memory.  Always application/octet-stream
 * with nosniff: never rendered as a page of our origin, whatever it is. */
static int send_blob(struct http_request *req, const char *hash, const char *name,
                     struct kr_error *err)
{
    int fd;
    int64_t size;
    int rc = blob_open(http_blobs(req), hash, &fd, &size, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_INTERNAL, "the stored content of %s is missing", name);
    if (rc)
        return rc;
    rc = http_send_fd(req, name, "application/octet-stream", fd, size);
    return rc ? kr_error_set(err, rc, "cannot send %s", name) : KR_OK;
}

static int download(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    int64_t no = 0;
    const char *s = http_param(req, "no");
    if (s && kr_parse_int64(s, 0, INT32_MAX, &no) != KR_OK)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such version");
    struct efile_version v;
    rc =
        efile_version_download(conn, http_arena(req), &who, param_id(req, "doc"), (int)no, &v, err);
    return rc ? rc : send_blob(req, v.blob_hash, v.filename, err);
}

static int search_api(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    struct efile_hit *h;
    size_t n;
    rc = efile_search(conn, http_arena(req), &who, http_query(req, "q"), 0, 50, &h, &n, err);
    if (rc)
        return rc;
    json_t *hits = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            hits, json_pack("{s:I, s:I, s:s, s:s, s:i}", "document", (json_int_t)h[i].doc_id,
                            "file", (json_int_t)h[i].file_id, "title", h[i].doc_title, "reference",
                            h[i].file_reference, "score", h[i].score));
    return http_json(req, 200, json_pack("{s:o}", "hits", hits));
}

/* ---- File plan ------------------------------------------------------------------------------ */

static bool plan_manager(const struct efile_actor *who)
{
    return (who->roles & (ACCOUNT_ROLE_RECORDS_MANAGER | ACCOUNT_ROLE_ADMIN)) != 0;
}

static int plan_view(struct http_request *req, bool api, json_t *problems, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc == KR_OK) {
        struct efile_plan_item *items;
        size_t n;
        rc = efile_plan_list(conn, http_arena(req), &items, &n, err);
        if (rc == KR_OK && api) {
            json_decref(problems);
            return http_json(req, 200, json_pack("{s:o}", "items", plan_json(items, n)));
        }
        if (rc == KR_OK)
            return render(req, problems ? 422 : 200, "efile/plan",
                          json_pack("{s:o, s:b, s:o?, s:b}", "items", plan_json(items, n),
                                    "manager", plan_manager(&who), "problems", problems,
                                    "has_errors", problems != NULL),
                          err);
    }
    json_decref(problems);
    return rc;
}

static int plan_page(struct http_request *req, struct kr_error *err)
{
    return plan_view(req, false, NULL, err);
}

static int plan_api(struct http_request *req, struct kr_error *err)
{
    return plan_view(req, true, NULL, err);
}

static int plan_export(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    bool csv = strcmp(http_param(req, "format"), "csv") == 0;
    if (!csv && strcmp(http_param(req, "format"), "json") != 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "export as csv or json");
    char *out;
    size_t len;
    rc = efile_plan_export(conn, http_arena(req), csv ? EFILE_CSV : EFILE_JSON, &out, &len, err);
    if (rc)
        return rc;
    http_set_header(req, "Content-Disposition",
                    csv ? "attachment; filename=aktenplan.csv"
                        : "attachment; filename=aktenplan.json");
    return http_send(req, 200, csv ? "text/csv; charset=utf-8" : "application/json", out, len);
}

static int plan_import(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    if (!plan_manager(&who))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only records managers change the file plan");
    size_t n;
    const struct http_upload *up = http_uploads(req, &n);
    if (n != 1 || up[0].too_large)
        return kr_error_set(err, KR_ERR_INVALID, "choose one CSV or JSON file of at most 4 MiB");
    unsigned char *data;
    size_t len;
    rc = blob_read(http_blobs(req), http_arena(req), up[0].blob.hash, PLAN_IMPORT_MAX, &data, &len,
                   err);
    if (rc == KR_ERR_NOT_FOUND) {
        /* Not kept: read the temporary file. */
        FILE *f = fopen(up[0].path, "rb");
        data = arena_alloc(http_arena(req), PLAN_IMPORT_MAX + 1);
        len = f && data ? fread(data, 1, PLAN_IMPORT_MAX, f) : 0;
        if (f)
            fclose(f);
        rc = data ? KR_OK : KR_ERR_NOMEM;
    }
    if (rc)
        return rc;
    bool json = len > 0 && (data[0] == '{' || data[0] == '[');
    char actor[32];
    efile_actor_name(&who, actor);
    struct efile_import_result res;
    rc = efile_plan_import(conn, http_arena(req), actor, json ? EFILE_JSON : EFILE_CSV,
                           (const char *)data, len, &res, err);
    if (rc == KR_ERR_INVALID || rc == KR_ERR_TOO_LARGE) {
        json_t *problems = json_array();
        for (size_t i = 0; i < res.problem_count; i++)
            json_array_append_new(problems, json_pack("{s:i, s:s}", "line", res.problems[i].line,
                                                      "reason", res.problems[i].reason));
        if (res.problem_count == 0)
            json_array_append_new(problems,
                                  json_pack("{s:i, s:s}", "line", 0, "reason", err->message));
        return plan_view(req, false, problems, err);
    }
    if (rc)
        return rc;
    return http_redirect(req, 303, "/verwaltung/aktenplan");
}

/* ---- Disposal ---------------------------------------------------------------------------------
 */

static int disposal_page(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    time_t now = (time_t)disposal_now();
    struct tm tm;
    gmtime_r(&now, &tm);
    int64_t period = tm.tm_year + 1900;
    const char *p = http_query(req, "jahr");
    if (p && *p && kr_parse_int64(p, 1900, 9999, &period) != KR_OK)
        return kr_error_set(err, KR_ERR_INVALID, "jahr: a year like 2033");
    struct efile_due *due;
    size_t n;
    rc = efile_disposal_list(conn, http_arena(req), &who, (int)period, &due, &n, err);
    if (rc)
        return rc;
    json_t *groups = json_array();
    const char *evals[] = {"A", "B", "V"};
    for (size_t g = 0; g < 3; g++) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++) {
            if (strcmp(due[i].file.evaluation, evals[g]) != 0)
                continue;
            json_t *o = file_json(&due[i].file);
            json_object_set_new(o, "request", json_integer(due[i].request_id));
            json_object_set_new(o, "request_action",
                                json_string(due[i].request_action ? due[i].request_action : ""));
            json_object_set_new(o, "mine", json_boolean(due[i].requested_by == who.user_id));
            json_object_set_new(o, "archived", json_false());
            json_array_append_new(items, o);
        }
        json_array_append_new(groups, json_pack("{s:s, s:o, s:b}", "evaluation", evals[g], "files",
                                                items, "has_files", json_array_size(items) > 0));
    }
    return render(req, 200, "efile/disposal",
                  json_pack("{s:I, s:o, s:b}", "period", (json_int_t)period, "groups", groups,
                            "has_due", n > 0),
                  err);
}

static int disposal_request(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    rc = efile_disposal_request(conn, &who, param_id(req, "id"), http_form(req, "action"),
                                http_form(req, "legal_basis"), disposal_now(), NULL, err);
    if (rc)
        return rc;
    const char *period = http_form(req, "jahr");
    char *to = arena_printf(
        http_arena(req), "/verwaltung/aussonderung?jahr=%s",
        period && kr_parse_int64(period, 1900, 9999, &(int64_t){0}) == KR_OK ? period : "");
    return http_redirect(req, 303, to ? to : "/verwaltung/aussonderung");
}

static int disposal_confirm(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    rc = efile_disposal_confirm(conn, http_blobs(req), &who, param_id(req, "id"), disposal_now(),
                                err);
    if (rc)
        return rc;
    return http_redirect(req, 303, "/verwaltung/aussonderung?bestaetigt=1");
}

static int package_download(struct http_request *req, struct kr_error *err)
{
    struct efile_actor who = {0};
    struct db_conn *conn;
    int rc = staff(req, &who, &conn, err);
    if (rc)
        return rc;
    char *hash;
    int64_t id = param_id(req, "id");
    rc = efile_disposal_package(conn, http_arena(req), &who, id, &hash, err);
    if (rc)
        return rc;
    char *name = arena_printf(http_arena(req), "aussonderung-%lld.zip", (long long)id);
    return send_blob(req, hash, name ? name : "aussonderung.zip", err);
}

int efile_http_routes(struct http_server *s, const struct kr_config *cfg, struct kr_error *err)
{
    int rc = efile_set_reference_pattern(cfg->efile_reference_pattern, err);
    if (rc == KR_OK && parse_date(cfg->efile_today, &today_override) != KR_OK)
        rc = kr_error_set(err, KR_ERR_CONFIG, "efile_today: a date like 2040-01-02");
    static const struct {
        unsigned method;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/verwaltung/akten", files_page},
        {HTTP_POST, "/verwaltung/akten", create_page},
        {HTTP_GET, "/verwaltung/akten/:id", file_page},
        {HTTP_POST, "/verwaltung/akten/:id/vorgang", add_txn},
        {HTTP_POST, "/verwaltung/akten/:id/schliessen", close_page},
        {HTTP_POST, "/verwaltung/akten/:id/wiedereroeffnen", reopen_page},
        {HTTP_POST, "/verwaltung/akten/:id/verschieben", move_page},
        {HTTP_POST, "/verwaltung/akten/:id/freigabe", share_page},
        {HTTP_POST, "/verwaltung/akten/:id/sperre", hold_page},
        {HTTP_GET, "/verwaltung/akten/:id/berechtigte", named_page},
        {HTTP_POST, "/verwaltung/akten/:id/berechtigte", named_grant},
        {HTTP_POST, "/verwaltung/akten/:id/berechtigte/:user/entziehen", named_revoke},
        {HTTP_GET, "/verwaltung/akten/:id/paket", package_download},
        {HTTP_GET, "/verwaltung/dokumente/:doc/version/:no", download},
        {HTTP_GET, "/verwaltung/aktenplan", plan_page},
        {HTTP_GET, "/verwaltung/aktenplan/export/:format", plan_export},
        {HTTP_GET, "/verwaltung/aussonderung", disposal_page},
        {HTTP_POST, "/verwaltung/aussonderung/akte/:id", disposal_request},
        {HTTP_POST, "/verwaltung/aussonderung/antrag/:id", disposal_confirm},
        {HTTP_GET, "/api/v1/aktenplan", plan_api},
        {HTTP_GET, "/api/v1/akten", files_api},
        {HTTP_POST, "/api/v1/akten", create_api},
        {HTTP_GET, "/api/v1/akten/:id", file_api},
        {HTTP_POST, "/api/v1/akten/:id/schliessen", close_page},
        {HTTP_POST, "/api/v1/akten/:id/wiedereroeffnen", reopen_page},
        {HTTP_GET, "/api/v1/akten-suche", search_api},
        {HTTP_GET, "/api/v1/dokumente/:doc/version/:no", download},
    };
    for (size_t i = 0; rc == KR_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = http_route(s, routes[i].method, routes[i].pattern, routes[i].handler, 0, err);
    struct http_upload_limits big = {UPLOAD_MAX_FILE, UPLOAD_MAX_FILE + 1024 * 1024,
                                     UPLOAD_MAX_FILES};
    struct http_upload_limits small = {PLAN_IMPORT_MAX, PLAN_IMPORT_MAX + 65536, 1};
    if (rc == KR_OK)
        rc = http_route_upload(s, HTTP_POST, "/verwaltung/akten/:id/dokumente", upload_page, 0,
                               &big, err);
    if (rc == KR_OK)
        rc = http_route_upload(s, HTTP_POST, "/api/v1/akten/:id/dokumente", upload_api, 0, &big,
                               err);
    if (rc == KR_OK)
        rc = http_route_upload(s, HTTP_POST, "/verwaltung/aktenplan/import", plan_import, 0, &small,
                               err);
    return rc;
}
