/*
 * mailbox.c - messages between the administration and account holders.
 */
#include "mailbox/mailbox.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "accounts/export.h"
#include "audit/audit.h"
#include "core/text.h"
#include "core/util.h"
#include "mail/mail.h"

#define LIST_MAX 200

/* ---- Checks -------------------------------------------------------------------------- */

static bool text_ok(const char *s, size_t max, bool multiline)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max || !text_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool allowed = c >= 0x20 || (multiline && (c == '\n' || c == '\r' || c == '\t'));
        if (!allowed || c == 0x7F)
            return false;
    }
    return true;
}

/* A file name without paths or control characters. */
static bool filename_ok(const char *s)
{
    return text_ok(s, 200, false) && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

static int check_new(const struct mailbox_new *m, struct kr_error *err)
{
    if (!text_ok(m->subject, MAILBOX_SUBJECT_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "subject: 1 to %d characters on one line",
                            MAILBOX_SUBJECT_MAX);
    if (!text_ok(m->body, MAILBOX_BODY_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "text: 1 byte to %d KiB of text",
                            MAILBOX_BODY_MAX / 1024);
    if (m->case_ref && !text_ok(m->case_ref, MAILBOX_CASE_REF_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "case: at most %d characters",
                            MAILBOX_CASE_REF_MAX);
    if (m->file_count > MAILBOX_ATTACHMENTS_MAX)
        return kr_error_set(err, KR_ERR_TOO_LARGE, "at most %d attachments",
                            MAILBOX_ATTACHMENTS_MAX);
    for (size_t i = 0; i < m->file_count; i++) {
        const struct mailbox_file *f = &m->files[i];
        if (!filename_ok(f->filename) || !text_ok(f->content_type, 100, false) ||
            !strchr(f->content_type, '/'))
            return kr_error_set(err, KR_ERR_INVALID, "attachment %zu: invalid name or type", i + 1);
        if (f->len == 0 || f->len > MAILBOX_ATTACHMENT_MAX)
            return kr_error_set(err, KR_ERR_TOO_LARGE, "attachment %zu: 1 byte to %d MiB", i + 1,
                                MAILBOX_ATTACHMENT_MAX >> 20);
    }
    return KR_OK;
}

static int audit(struct db_conn *conn, int64_t actor_id, const char *action, int64_t id,
                 json_t *details, struct kr_error *err)
{
    char actor[32], object[24];
    (void)snprintf(actor, sizeof(actor), "user:%lld", (long long)actor_id);
    (void)snprintf(object, sizeof(object), "%lld", (long long)id);
    struct audit_event ev = {actor, action, "mailbox_message", object, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

/* ---- Sending ---------------------------------------------------------------------------- */

struct send {
    const struct kr_config *cfg;
    const struct mailbox_new *m;
    int64_t id;
};

/* The notification carries no personal content: only that there is a
 * message, and where to read it. */
static int notify(struct db_conn *conn, const struct kr_config *cfg, const char *email,
                  struct kr_error *err)
{
    char body[1024];
    (void)snprintf(body, sizeof(body),
                   "Guten Tag,\n\n"
                   "in Ihrem Postfach im Serviceportal liegt eine neue Nachricht für Sie:\n"
                   "%s/postfach\n\n"
                   "Den Inhalt senden wir aus Gründen des Datenschutzes nicht per E-Mail.\n\n"
                   "-- English --\n\n"
                   "There is a new message for you in your mailbox at the service portal:\n"
                   "%s/postfach\n\n"
                   "For your privacy we do not send its content by e-mail.\n",
                   cfg->public_url, cfg->public_url);
    struct mail_message mail = {
        .to = email,
        .subject = "Neue Nachricht im Serviceportal / New message at the service portal",
        .text = body,
    };
    return mail_enqueue(conn, &mail, NULL, err);
}

static int send_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct send *s = arg;
    const struct mailbox_new *m = s->m;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT email, email_verified_at FROM account_user "
                      "WHERE id = $1 AND kind <> 'staff' AND disabled = 0",
                      DB_PARAMS(DB_INT(m->account_id)), &st, err);
    if (rc)
        return rc;
    char email[256] = "";
    rc = db_step(st, err);
    bool found = rc == DB_ROW;
    if (found && !db_column_is_null(st, 0) && !db_column_is_null(st, 1))
        (void)snprintf(email, sizeof(email), "%s", db_column_text(st, 0));
    db_finish(st);
    if (rc < 0)
        return rc;
    if (!found)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such account");
    rc = db_query_int64(conn,
                        "INSERT INTO mailbox_message (account_id, direction, unit_id, sender_id, "
                        "subject, body, case_ref, created_at) "
                        "VALUES ($1, 'in', $2, $3, $4, $5, $6, $7) RETURNING id",
                        DB_PARAMS(DB_INT(m->account_id), DB_INT(m->unit_id), DB_INT(m->sender_id),
                                  DB_TEXT(m->subject), DB_TEXT(m->body), DB_TEXT(m->case_ref),
                                  DB_INT(kr_now())),
                        &s->id, err);
    for (size_t i = 0; rc == KR_OK && i < m->file_count; i++) {
        const struct mailbox_file *f = &m->files[i];
        rc = db_exec(conn,
                     "INSERT INTO mailbox_file (message_id, filename, content_type, size, data) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     DB_PARAMS(DB_INT(s->id), DB_TEXT(f->filename), DB_TEXT(f->content_type),
                               DB_INT(f->len), DB_BLOB(f->data, f->len)),
                     NULL, err);
    }
    if (rc == KR_OK && email[0])
        rc = notify(conn, s->cfg, email, err);
    if (rc)
        return rc == KR_ERR_CONFLICT ? kr_error_set(err, KR_ERR_NOT_FOUND, "no such unit") : rc;
    return audit(conn, m->sender_id, "mailbox.send", s->id,
                 json_pack("{s:I, s:I, s:s?, s:i, s:b}", "account", (json_int_t)m->account_id,
                           "unit", (json_int_t)m->unit_id, "case", m->case_ref, "files",
                           (int)m->file_count, "notified", email[0] != '\0'),
                 err);
}

int mailbox_send(struct db_conn *conn, const struct kr_config *cfg, const struct mailbox_new *m,
                 int64_t *id, struct kr_error *err)
{
    int rc = check_new(m, err);
    if (rc)
        return rc;
    struct send s = {cfg, m, 0};
    rc = db_transact(conn, send_tx, &s, err);
    if (rc == KR_OK && id)
        *id = s.id;
    return rc;
}

/* ---- Reading -------------------------------------------------------------------------------- */

#define MESSAGE_COLUMNS                                                                            \
    "m.id, m.account_id, m.direction, m.subject, m.case_ref, "                                     \
    "CASE WHEN m.direction = 'in' THEN u.name ELSE a.display_name END, m.unit_id, "                \
    "m.reply_to, m.created_at, m.read_at, m.archived_at, m.body "                                  \
    "FROM mailbox_message m JOIN account_org_unit u ON u.id = m.unit_id "                          \
    "JOIN account_user a ON a.id = m.account_id "

static bool read_row(struct db_stmt *st, struct arena *a, struct mailbox_message *m, bool body)
{
    memset(m, 0, sizeof(*m));
    m->id = db_column_int64(st, 0);
    m->account_id = db_column_int64(st, 1);
    m->direction = db_column_strdup(st, 2, a);
    m->subject = db_column_strdup(st, 3, a);
    m->case_ref = db_column_is_null(st, 4) ? NULL : db_column_strdup(st, 4, a);
    m->sender_name = db_column_strdup(st, 5, a);
    m->unit_id = db_column_int64(st, 6);
    m->reply_to = db_column_int64(st, 7);
    m->created_at = db_column_int64(st, 8);
    m->read_at = db_column_int64(st, 9);
    m->archived_at = db_column_int64(st, 10);
    m->body = body ? db_column_strdup(st, 11, a) : NULL;
    return m->direction && m->subject && m->sender_name && (!body || m->body);
}

static int read_list(struct db_stmt *st, struct arena *a, struct mailbox_message **out,
                     size_t *count, struct kr_error *err)
{
    struct mailbox_message *list = arena_alloc(a, LIST_MAX * sizeof(*list));
    size_t n = 0;
    int rc;
    while (list && (rc = db_step(st, err)) == DB_ROW)
        if (!read_row(st, a, &list[n++], false))
            list = NULL;
    db_finish(st);
    if (!list)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    *out = list;
    *count = n;
    return KR_OK;
}

int mailbox_list(struct db_conn *conn, struct arena *a, int64_t account_id,
                 enum mailbox_folder folder, unsigned offset, unsigned limit,
                 struct mailbox_message **out, size_t *count, int64_t *unread, struct kr_error *err)
{
    static const char *const where[] = {
        [MAILBOX_INBOX] = "m.direction = 'in' AND m.archived_at IS NULL",
        [MAILBOX_ARCHIVE] = "m.direction = 'in' AND m.archived_at IS NOT NULL",
        [MAILBOX_SENT] = "m.direction = 'out'",
    };
    if (limit == 0 || limit > LIST_MAX)
        limit = LIST_MAX;
    char sql[800];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT " MESSAGE_COLUMNS "WHERE m.account_id = $1 AND %s "
                   "ORDER BY m.created_at DESC, m.id DESC LIMIT $2 OFFSET $3",
                   where[folder]);
    struct db_stmt *st;
    int rc =
        db_query(conn, sql, DB_PARAMS(DB_INT(account_id), DB_INT(limit), DB_INT(offset)), &st, err);
    if (rc == KR_OK)
        rc = read_list(st, a, out, count, err);
    if (rc == KR_OK)
        rc = db_query_int64(conn,
                            "SELECT COUNT(*) FROM mailbox_message WHERE account_id = $1 "
                            "AND direction = 'in' AND read_at IS NULL AND archived_at IS NULL",
                            DB_PARAMS(DB_INT(account_id)), unread, err);
    return rc;
}

static int load_files(struct db_conn *conn, struct arena *a, struct mailbox_message *m,
                      struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, filename, content_type, size FROM mailbox_file "
                      "WHERE message_id = $1 ORDER BY id",
                      DB_PARAMS(DB_INT(m->id)), &st, err);
    if (rc)
        return rc;
    m->files = arena_alloc(a, MAILBOX_ATTACHMENTS_MAX * sizeof(*m->files));
    while (m->files && m->file_count < MAILBOX_ATTACHMENTS_MAX &&
           (rc = db_step(st, err)) == DB_ROW) {
        struct mailbox_attachment_info *f = &m->files[m->file_count++];
        f->id = db_column_int64(st, 0);
        f->filename = db_column_strdup(st, 1, a);
        f->content_type = db_column_strdup(st, 2, a);
        f->size = db_column_int64(st, 3);
        if (!f->filename || !f->content_type)
            m->files = NULL;
    }
    db_finish(st);
    if (!m->files)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return rc < 0 ? rc : KR_OK;
}

/* The message id if the owner column (account_id or unit_id) is owner. */
static int load_one(struct db_conn *conn, struct arena *a, const char *owner_column, int64_t owner,
                    int64_t id, struct mailbox_message *out, struct kr_error *err)
{
    char sql[700];
    (void)snprintf(sql, sizeof(sql), "SELECT " MESSAGE_COLUMNS "WHERE m.id = $1 AND m.%s = $2",
                   owner_column);
    struct db_stmt *st;
    int rc = db_query(conn, sql, DB_PARAMS(DB_INT(id), DB_INT(owner)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    bool ok = rc == DB_ROW && read_row(st, a, out, true);
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such message");
    if (rc < 0)
        return rc;
    if (!ok)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    return load_files(conn, a, out, err);
}

struct mark_read {
    int64_t account_id, id, now;
};

static int mark_read_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct mark_read *r = arg;
    int64_t changed = 0;
    int rc =
        db_exec(conn, "UPDATE mailbox_message SET read_at = $1 WHERE id = $2 AND read_at IS NULL",
                DB_PARAMS(DB_INT(r->now), DB_INT(r->id)), &changed, err);
    if (rc || changed == 0)
        return rc;
    return audit(conn, r->account_id, "mailbox.read", r->id, NULL, err);
}

int mailbox_open(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t id,
                 struct mailbox_message *out, struct kr_error *err)
{
    int rc = load_one(conn, a, "account_id", account_id, id, out, err);
    if (rc || out->read_at || strcmp(out->direction, "in") != 0)
        return rc;
    struct mark_read r = {account_id, id, kr_now()};
    rc = db_transact(conn, mark_read_tx, &r, err);
    if (rc == KR_OK)
        out->read_at = r.now;
    return rc;
}

int mailbox_unit_open(struct db_conn *conn, struct arena *a, int64_t unit_id, int64_t id,
                      struct mailbox_message *out, struct kr_error *err)
{
    return load_one(conn, a, "unit_id", unit_id, id, out, err);
}

int mailbox_unit_list(struct db_conn *conn, struct arena *a, int64_t unit_id, unsigned offset,
                      unsigned limit, struct mailbox_message **out, size_t *count,
                      struct kr_error *err)
{
    if (limit == 0 || limit > LIST_MAX)
        limit = LIST_MAX;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT " MESSAGE_COLUMNS "WHERE m.unit_id = $1 "
                      "ORDER BY m.created_at DESC, m.id DESC LIMIT $2 OFFSET $3",
                      DB_PARAMS(DB_INT(unit_id), DB_INT(limit), DB_INT(offset)), &st, err);
    return rc ? rc : read_list(st, a, out, count, err);
}

/* ---- Replying, archiving ------------------------------------------------------------------------
 */

struct reply {
    int64_t account_id, id, reply_id;
    const char *body;
};

static int reply_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct reply *r = arg;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT unit_id, subject, case_ref FROM mailbox_message "
                      "WHERE id = $1 AND account_id = $2 AND direction = 'in'",
                      DB_PARAMS(DB_INT(r->id), DB_INT(r->account_id)), &st, err);
    if (rc)
        return rc;
    int64_t unit = 0;
    char subject[MAILBOX_SUBJECT_MAX + 8] = "";
    char case_ref[MAILBOX_CASE_REF_MAX + 1] = "";
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        unit = db_column_int64(st, 0);
        const char *orig = db_column_text(st, 1);
        /* "Re: " once, and never longer than a subject may be. */
        (void)snprintf(subject, sizeof(subject), "%s%s", strncmp(orig, "Re: ", 4) ? "Re: " : "",
                       orig);
        if (strlen(subject) > MAILBOX_SUBJECT_MAX)
            subject[MAILBOX_SUBJECT_MAX] = '\0';
        if (!db_column_is_null(st, 2))
            (void)snprintf(case_ref, sizeof(case_ref), "%s", db_column_text(st, 2));
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such message");
    if (rc < 0)
        return rc;
    /* A cut subject may end inside a UTF-8 sequence: drop the partial rest. */
    size_t len = strlen(subject);
    while (len && !text_utf8_valid(subject, len))
        subject[--len] = '\0';
    rc = db_query_int64(conn,
                        "INSERT INTO mailbox_message (account_id, direction, unit_id, reply_to, "
                        "subject, body, case_ref, created_at) "
                        "VALUES ($1, 'out', $2, $3, $4, $5, $6, $7) RETURNING id",
                        DB_PARAMS(DB_INT(r->account_id), DB_INT(unit), DB_INT(r->id),
                                  DB_TEXT(subject), DB_TEXT(r->body),
                                  case_ref[0] ? DB_TEXT(case_ref) : DB_NULL, DB_INT(kr_now())),
                        &r->reply_id, err);
    if (rc)
        return rc;
    return audit(conn, r->account_id, "mailbox.reply", r->reply_id,
                 json_pack("{s:I}", "reply_to", (json_int_t)r->id), err);
}

int mailbox_reply(struct db_conn *conn, int64_t account_id, int64_t id, const char *body,
                  int64_t *reply_id, struct kr_error *err)
{
    if (!text_ok(body, MAILBOX_BODY_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "text: 1 byte to %d KiB of text",
                            MAILBOX_BODY_MAX / 1024);
    struct reply r = {account_id, id, 0, body};
    int rc = db_transact(conn, reply_tx, &r, err);
    if (rc == KR_OK && reply_id)
        *reply_id = r.reply_id;
    return rc;
}

struct archive_step {
    int64_t account_id, id;
    bool archived;
};

static int archive_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct archive_step *s = arg;
    int64_t changed = 0;
    int rc = db_exec(
        conn,
        "UPDATE mailbox_message SET archived_at = $1 "
        "WHERE id = $2 AND account_id = $3 AND direction = 'in'",
        DB_PARAMS(s->archived ? DB_INT(kr_now()) : DB_NULL, DB_INT(s->id), DB_INT(s->account_id)),
        &changed, err);
    if (rc)
        return rc;
    if (changed == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such message");
    return audit(conn, s->account_id, s->archived ? "mailbox.archive" : "mailbox.unarchive", s->id,
                 NULL, err);
}

int mailbox_archive(struct db_conn *conn, int64_t account_id, int64_t id, bool archived,
                    struct kr_error *err)
{
    struct archive_step s = {account_id, id, archived};
    return db_transact(conn, archive_tx, &s, err);
}

int mailbox_file_get(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t unit_id,
                     int64_t message_id, int64_t file_id, struct mailbox_file *out,
                     struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(
        conn,
        "SELECT f.filename, f.content_type, f.data FROM mailbox_file f "
        "JOIN mailbox_message m ON m.id = f.message_id "
        "WHERE f.id = $1 AND f.message_id = $2 AND "
        "(($3 <> 0 AND m.account_id = $3) OR ($3 = 0 AND m.unit_id = $4))",
        DB_PARAMS(DB_INT(file_id), DB_INT(message_id), DB_INT(account_id), DB_INT(unit_id)), &st,
        err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        out->filename = db_column_strdup(st, 0, a);
        out->content_type = db_column_strdup(st, 1, a);
        out->len = db_column_len(st, 2);
        void *data = arena_alloc(a, out->len ? out->len : 1);
        if (data && out->len)
            memcpy(data, db_column_blob(st, 2), out->len);
        out->data = data;
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    if (rc < 0)
        return rc;
    return out->filename && out->content_type && out->data
               ? KR_OK
               : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

/* ---- Data export
 * ---------------------------------------------------------------------------------- */

static json_t *time_or_null(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    kr_time_format_rfc3339(t, buf, sizeof(buf));
    return json_string(buf);
}

static int export_files(struct db_conn *conn, struct arena *a, int64_t account_id,
                        const struct mailbox_message *m, json_t *list, struct export_sink *sink,
                        struct kr_error *err)
{
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < m->file_count; i++) {
        struct mailbox_file f;
        rc = mailbox_file_get(conn, a, account_id, 0, m->id, m->files[i].id, &f, err);
        char path[300];
        (void)snprintf(path, sizeof(path), "postfach/%lld/%lld-%s", (long long)m->id,
                       (long long)m->files[i].id, f.filename);
        if (rc == KR_OK)
            rc = export_add_file(sink, path, f.data, f.len, err);
        if (rc == KR_OK)
            json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", f.filename, "type",
                                                  f.content_type, "path", path));
    }
    return rc;
}

static int export_message(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t id,
                          json_t *all, struct export_sink *sink, struct kr_error *err)
{
    struct mailbox_message m;
    int rc = load_one(conn, a, "account_id", account_id, id, &m, err);
    if (rc)
        return rc;
    json_t *files = json_array();
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:o}", "id",
                          (json_int_t)m.id, "direction", m.direction, "from", m.sender_name,
                          "subject", m.subject, "text", m.body, "case", m.case_ref, "created_at",
                          time_or_null(m.created_at), "read_at", time_or_null(m.read_at),
                          "archived_at", time_or_null(m.archived_at), "files", files);
    if (!o)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    json_array_append_new(all, o);
    return export_files(conn, a, account_id, &m, files, sink, err);
}

int mailbox_export(struct db_conn *conn, struct arena *a, int64_t account_id,
                   struct export_sink *sink, struct kr_error *err)
{
    json_t *all = json_array();
    int rc = KR_OK;
    for (int folder = MAILBOX_INBOX; rc == KR_OK && folder <= MAILBOX_SENT; folder++) {
        size_t n = LIST_MAX;
        for (unsigned offset = 0; rc == KR_OK && n == LIST_MAX; offset += LIST_MAX) {
            struct mailbox_message *list;
            int64_t unread;
            rc = mailbox_list(conn, a, account_id, (enum mailbox_folder)folder, offset, LIST_MAX,
                              &list, &n, &unread, err);
            for (size_t i = 0; rc == KR_OK && i < n; i++)
                rc = export_message(conn, a, account_id, list[i].id, all, sink, err);
        }
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    return export_add_json(sink, "postfach/nachrichten.json", all, err);
}
