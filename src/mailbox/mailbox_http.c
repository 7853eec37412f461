/*
 * mailbox_http.c - the mailbox pages: the account holder's (/postfach),
 * the staff's view of their unit's conversations (/verwaltung/postfach),
 * and the JSON API for the county app (/api/v1/postfach).
 */
#include "mailbox/mailbox_http.h"

#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/util.h"
#include "http/http.h"
#include "mailbox/mailbox.h"

#define PAGE_SIZE 50

static json_t *message_json(const struct mailbox_message *m, bool full)
{
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o, s:b, s:b}", "id", (json_int_t)m->id,
        "direction", m->direction, "subject", m->subject, "from", m->sender_name, "case",
        m->case_ref, "created_at", kr_json_time(m->created_at), "created_text",
        kr_json_time_local(m->created_at), "read_at", kr_json_time(m->read_at), "read_text",
        kr_json_time_local(m->read_at), "unread",
        m->read_at == 0 && strcmp(m->direction, "in") == 0, "archived", m->archived_at != 0);
    if (!o || !full)
        return o;
    json_object_set_new(o, "text", json_string(m->body));
    json_t *files = json_array();
    for (size_t i = 0; i < m->file_count; i++)
        json_array_append_new(
            files, json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)m->files[i].id, "name",
                             m->files[i].filename, "type", m->files[i].content_type, "size",
                             (json_int_t)m->files[i].size));
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "has_files", json_boolean(m->file_count > 0));
    return o;
}

/* The logged-in account holder (not staff). */
static int holder(struct http_request *req, const struct account_user **u, struct db_conn **conn,
                  struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    *u = http_user(req);
    if (strcmp((*u)->kind, "staff") == 0)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "the mailbox belongs to service accounts");
    return http_db(req, conn, err);
}

/* A clerk (any staff role but plain admin) with a unit. */
static int clerk(struct http_request *req, const struct account_user **u, struct db_conn **conn,
                 struct kr_error *err)
{
    int rc = http_require_user(req, 0, err);
    if (rc)
        return rc;
    *u = http_user(req);
    unsigned work = ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT;
    if (strcmp((*u)->kind, "staff") != 0 || !((*u)->roles & work) || !(*u)->org_unit_id)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only clerks of a unit see its messages");
    return http_db(req, conn, err);
}

/* A positive id from path parameter name, else 0 (a 404 for the caller). */
static int64_t param_id(struct http_request *req, const char *name)
{
    int64_t id = 0;
    const char *v = http_param(req, name);
    if (!v || kr_parse_int64(v, 1, INT64_MAX, &id) != KR_OK)
        return 0;
    return id;
}

static unsigned page_offset(struct http_request *req)
{
    int64_t page = 1;
    const char *p = http_query(req, "seite");
    if (p && kr_parse_int64(p, 1, 10000, &page) != KR_OK)
        page = 1;
    return (unsigned)(page - 1) * PAGE_SIZE;
}

/* ---- The account holder's pages --------------------------------------------------------- */

static int folder_of(struct http_request *req, enum mailbox_folder *folder)
{
    const char *f = http_query(req, "ordner");
    *folder = MAILBOX_INBOX;
    if (!f || strcmp(f, "eingang") == 0)
        return KR_OK;
    if (strcmp(f, "archiv") == 0)
        *folder = MAILBOX_ARCHIVE;
    else if (strcmp(f, "gesendet") == 0)
        *folder = MAILBOX_SENT;
    else
        return KR_ERR_INVALID;
    return KR_OK;
}

static int list_messages(struct http_request *req, bool api, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = holder(req, &u, &conn, err);
    if (rc)
        return rc;
    enum mailbox_folder folder;
    if (folder_of(req, &folder))
        return kr_error_set(err, KR_ERR_INVALID, "ordner: eingang, archiv or gesendet");
    struct mailbox_message *list;
    size_t n;
    int64_t unread;
    rc = mailbox_list(conn, http_arena(req), u->id, folder, page_offset(req), PAGE_SIZE, &list, &n,
                      &unread, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, message_json(&list[i], false));
    if (api)
        return http_json(req, 200,
                         json_pack("{s:o, s:I}", "messages", items, "unread", (json_int_t)unread));
    static const char *const flags[] = {"inbox", "archive", "sent"};
    json_t *ctx = json_pack("{s:o, s:I, s:b, s:b}", "messages", items, "unread", (json_int_t)unread,
                            "has_messages", n > 0, flags[folder], 1);
    return http_render(req, 200, "mailbox/list", ctx);
}

static int mailbox_page(struct http_request *req, struct kr_error *err)
{
    return list_messages(req, false, err);
}

static int mailbox_api_list(struct http_request *req, struct kr_error *err)
{
    return list_messages(req, true, err);
}

static int open_message(struct http_request *req, bool api, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = holder(req, &u, &conn, err);
    if (rc)
        return rc;
    struct mailbox_message m;
    rc = mailbox_open(conn, http_arena(req), u->id, param_id(req, "id"), &m, err);
    if (rc)
        return rc;
    json_t *msg = message_json(&m, true);
    if (api)
        return http_json(req, 200, msg);
    rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(msg);
        return rc;
    }
    return http_render(req, 200, "mailbox/message", json_pack("{s:o}", "message", msg));
}

static int message_page(struct http_request *req, struct kr_error *err)
{
    return open_message(req, false, err);
}

static int message_api(struct http_request *req, struct kr_error *err)
{
    return open_message(req, true, err);
}

static int reply_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = holder(req, &u, &conn, err);
    if (rc)
        return rc;
    int64_t id = param_id(req, "id");
    const char *text = http_form(req, "text");
    int64_t reply;
    rc = mailbox_reply(conn, u->id, id, text ? text : "", &reply, err);
    if (rc == KR_ERR_INVALID) {
        struct mailbox_message m;
        rc = mailbox_open(conn, http_arena(req), u->id, id, &m, err);
        if (rc)
            return rc;
        json_t *ctx = json_pack("{s:o, s:s, s:b}", "message", message_json(&m, true), "error_text",
                                http_message(req, "mailbox.error.text"), "has_errors", 1);
        json_object_set_new(ctx, "errors",
                            json_pack("[{s:s, s:s, s:b}]", "field", "text", "message",
                                      http_message(req, "mailbox.error.text"), "link", 1));
        return http_render(req, 422, "mailbox/message", ctx);
    }
    if (rc)
        return rc;
    return http_redirect(req, 303, "/postfach?ordner=gesendet");
}

static int archive_submit(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = holder(req, &u, &conn, err);
    if (rc)
        return rc;
    const char *to = http_form(req, "archiv");
    bool archived = !to || strcmp(to, "0") != 0;
    rc = mailbox_archive(conn, u->id, param_id(req, "id"), archived, err);
    if (rc)
        return rc;
    return http_redirect(req, 303, archived ? "/postfach" : "/postfach?ordner=archiv");
}

static int send_file(struct http_request *req, const struct mailbox_file *f)
{
    /* Downloads only: never rendered by the browser as our origin's page. */
    return http_send_attachment(req, f->filename, NULL, f->data, f->len);
}

static int file_download(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = holder(req, &u, &conn, err);
    if (rc)
        return rc;
    struct mailbox_file f;
    rc = mailbox_file_get(conn, http_arena(req), u->id, 0, param_id(req, "id"),
                          param_id(req, "file"), &f, err);
    return rc ? rc : send_file(req, &f);
}

/* ---- Staff --------------------------------------------------------------------------------------
 */

static int staff_list(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = clerk(req, &u, &conn, err);
    if (rc)
        return rc;
    struct mailbox_message *list;
    size_t n;
    rc = mailbox_unit_list(conn, http_arena(req), u->org_unit_id, page_offset(req), PAGE_SIZE,
                           &list, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, message_json(&list[i], false));
    rc = http_session_ensure(req, err);
    if (rc) {
        json_decref(items);
        return rc;
    }
    return http_render(req, 200, "mailbox/staff_list",
                       json_pack("{s:o, s:b}", "messages", items, "has_messages", n > 0));
}

static int staff_message(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = clerk(req, &u, &conn, err);
    if (rc)
        return rc;
    struct mailbox_message m;
    rc = mailbox_unit_open(conn, http_arena(req), u->org_unit_id, param_id(req, "id"), &m, err);
    if (rc)
        return rc;
    return http_render(req, 200, "mailbox/staff_message",
                       json_pack("{s:o}", "message", message_json(&m, true)));
}

static int staff_file(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = clerk(req, &u, &conn, err);
    if (rc)
        return rc;
    struct mailbox_file f;
    rc = mailbox_file_get(conn, http_arena(req), 0, u->org_unit_id, param_id(req, "id"),
                          param_id(req, "file"), &f, err);
    return rc ? rc : send_file(req, &f);
}

/* A clerk writes to an account found by its confirmed address. */
static int staff_send(struct http_request *req, struct kr_error *err)
{
    const struct account_user *u;
    struct db_conn *conn;
    int rc = clerk(req, &u, &conn, err);
    if (rc)
        return rc;
    const char *to = http_form(req, "to");
    char email[255];
    int64_t account = 0;
    struct kr_error ignored;
    if (accounts_normalise_email(to, email, &ignored) == KR_OK &&
        db_query_int64(conn,
                       "SELECT id FROM account_user WHERE email = $1 AND kind <> 'staff' "
                       "AND email_verified_at IS NOT NULL AND disabled = 0",
                       DB_PARAMS(DB_TEXT(email)), &account, &ignored) != KR_OK)
        account = 0;
    const char *case_ref = http_form(req, "case");
    struct mailbox_new m = {
        .account_id = account,
        .sender_id = u->id,
        .unit_id = u->org_unit_id,
        .subject = http_form(req, "subject"),
        .body = http_form(req, "text"),
        .case_ref = case_ref && *case_ref ? case_ref : NULL,
    };
    int64_t id;
    rc = account ? mailbox_send(conn, http_config(req), &m, &id, err)
                 : kr_error_set(err, KR_ERR_INVALID, "no service account has this address");
    if (rc == KR_ERR_INVALID || rc == KR_ERR_TOO_LARGE) {
        json_t *ctx = json_pack("{s:s, s:b}", "send_error", err->message, "has_errors", 1);
        json_object_set_new(
            ctx, "errors",
            json_pack("[{s:s, s:s, s:b}]", "field", "to", "message", err->message, "link", 1));
        return http_render(req, 422, "mailbox/staff_list", ctx);
    }
    if (rc)
        return rc;
    char *location = arena_printf(http_arena(req), "/verwaltung/postfach/%lld", (long long)id);
    return http_redirect(req, 303, location ? location : "/verwaltung/postfach");
}

int mailbox_http_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        unsigned method;
        const char *pattern;
        http_handler handler;
    } routes[] = {
        {HTTP_GET, "/postfach", mailbox_page},
        {HTTP_GET, "/postfach/:id", message_page},
        {HTTP_POST, "/postfach/:id/antwort", reply_submit},
        {HTTP_POST, "/postfach/:id/archiv", archive_submit},
        {HTTP_GET, "/postfach/:id/datei/:file", file_download},
        {HTTP_GET, "/verwaltung/postfach", staff_list},
        {HTTP_POST, "/verwaltung/postfach", staff_send},
        {HTTP_GET, "/verwaltung/postfach/:id", staff_message},
        {HTTP_GET, "/verwaltung/postfach/:id/datei/:file", staff_file},
        {HTTP_GET, "/api/v1/postfach", mailbox_api_list},
        {HTTP_GET, "/api/v1/postfach/:id", message_api},
    };
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = http_route(s, routes[i].method, routes[i].pattern, routes[i].handler, 0, err);
    return rc;
}
