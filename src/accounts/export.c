/*
 * export.c - the data export ZIP, written with libarchive into memory.
 */
#include "accounts/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "accounts/accounts.h"
#include "core/util.h"

#define SECTIONS_MAX 16
/* A person's data in a county's portal: messages, attachments, receipts. */
#define EXPORT_MAX ((size_t)256 << 20)

static struct {
    const char *name;
    export_section_fn fn;
} sections[SECTIONS_MAX];
static size_t section_count;

struct export_sink {
    struct archive *ar;
    int64_t mtime;
};

int accounts_export_register(const char *name, export_section_fn fn)
{
    for (size_t i = 0; i < section_count; i++)
        if (sections[i].fn == fn)
            return KR_OK; /* once is enough */
    if (section_count == SECTIONS_MAX)
        return KR_ERR_TOO_LARGE;
    sections[section_count].name = name;
    sections[section_count].fn = fn;
    section_count++;
    return KR_OK;
}

int export_add_file(struct export_sink *sink, const char *path, const void *data, size_t len,
                    struct kr_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    archive_entry_set_pathname_utf8(e, path);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, (time_t)sink->mtime, 0);
    int rc = KR_OK;
    if (archive_write_header(sink->ar, e) != ARCHIVE_OK ||
        (len && archive_write_data(sink->ar, data, len) != (la_ssize_t)len))
        rc = kr_error_set(err, KR_ERR_TOO_LARGE, "the export cannot be written");
    if (rc)
        kr_error_detail(err, "%s: %s", path, archive_error_string(sink->ar));
    archive_entry_free(e);
    return rc;
}

int export_add_json(struct export_sink *sink, const char *path, json_t *value, struct kr_error *err)
{
    char *text = value ? json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(value);
    if (!text)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = export_add_file(sink, path, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- The accounts section --------------------------------------------------------- */

static int account_json(struct db_conn *conn, struct arena *a, int64_t id, json_t *out,
                        struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT kind, login, email, display_name, created_at, updated_at, "
                      "email_verified_at, totp_secret IS NOT NULL FROM account_user WHERE id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    if ((rc = db_step(st, err)) == DB_ROW) {
        json_object_set_new(out, "kind", json_string(db_column_text(st, 0)));
        json_object_set_new(out, "login", json_string(db_column_text(st, 1)));
        json_object_set_new(out, "email", json_string(db_column_text(st, 2)));
        json_object_set_new(out, "display_name", json_string(db_column_text(st, 3)));
        json_object_set_new(out, "created_at", kr_json_time(db_column_int64(st, 4)));
        json_object_set_new(out, "updated_at", kr_json_time(db_column_int64(st, 5)));
        json_object_set_new(out, "email_confirmed_at", kr_json_time(db_column_int64(st, 6)));
        json_object_set_new(out, "second_factor", json_boolean(db_column_int64(st, 7)));
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such account");
    if (rc < 0)
        return rc;
    struct account_business b;
    rc = accounts_business_of(conn, a, id, &b, err);
    if (rc == KR_OK && b.name)
        json_object_set_new(
            out, "company",
            json_pack("{s:s, s:s}", "name", b.name, "role", b.owner ? "owner" : "member"));
    return rc;
}

/* Rows of sql ($1 = id) as objects with the given column names; columns
 * whose name ends in "_at" are times. */
static int rows_json(struct db_conn *conn, const char *sql, int64_t id, const char *const *names,
                     json_t *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        json_t *row = json_object();
        for (int c = 0; names[c]; c++) {
            size_t n = strlen(names[c]);
            bool time = n > 3 && strcmp(names[c] + n - 3, "_at") == 0;
            json_t *v = db_column_is_null(st, c) ? json_null()
                        : time                   ? kr_json_time(db_column_int64(st, c))
                                                 : json_string(db_column_text(st, c));
            json_object_set_new(row, names[c], v ? v : json_string("?"));
        }
        json_array_append_new(out, row);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

static int accounts_section(struct db_conn *conn, struct arena *a, int64_t id,
                            struct export_sink *sink, struct kr_error *err)
{
    json_t *account = json_object();
    json_t *sessions = json_array();
    json_t *audit = json_array();
    static const char *const session_cols[] = {"created_at", "last_seen_at", "ip",
                                               "user_agent", "auth_method",  NULL};
    static const char *const audit_cols[] = {"created_at", "actor", "action", "details", NULL};
    int rc = account_json(conn, a, id, account, err);
    if (rc == KR_OK)
        rc = rows_json(conn,
                       "SELECT created_at, last_seen_at, ip, user_agent, auth_method "
                       "FROM account_session WHERE user_id = $1 ORDER BY created_at",
                       id, session_cols, sessions, err);
    /* What the county recorded about the account (not the entries'
     * hashes: those serve the chain, not the person). */
    if (rc == KR_OK)
        rc = rows_json(conn,
                       "SELECT created_at, actor, action, details FROM audit_entry "
                       "WHERE object_type = 'account' AND object_id = CAST($1 AS TEXT) "
                       "ORDER BY seq",
                       id, audit_cols, audit, err);
    json_object_set_new(account, "sessions", sessions);
    json_object_set_new(account, "audit_log", audit);
    if (rc) {
        json_decref(account);
        return rc;
    }
    return export_add_json(sink, "konto.json", account, err);
}

/* ---- The ZIP ----------------------------------------------------------------------------- */

struct memory {
    unsigned char *data;
    size_t len, cap;
};

static la_ssize_t memory_write(struct archive *ar, void *arg, const void *buf, size_t n)
{
    struct memory *m = arg;
    if (m->len + n > EXPORT_MAX) {
        archive_set_error(ar, 27 /* EFBIG */, "export larger than %zu bytes", EXPORT_MAX);
        return -1;
    }
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + n)
            cap *= 2;
        unsigned char *p = realloc(m->data, cap);
        if (!p)
            return -1;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, n);
    m->len += n;
    return (la_ssize_t)n;
}

static int write_sections(struct db_conn *conn, struct arena *a, int64_t user_id,
                          struct export_sink *sink, struct kr_error *err)
{
    int rc = accounts_section(conn, a, user_id, sink, err);
    for (size_t i = 0; rc == KR_OK && i < section_count; i++) {
        rc = sections[i].fn(conn, a, user_id, sink, err);
        if (rc)
            kr_error_prefix(err, "%s", sections[i].name);
    }
    if (rc == KR_OK) {
        static const char readme[] =
            "Ihre Daten / Your data\n\n"
            "konto.json: Ihr Konto, Ihre Sitzungen und was der Landkreis darüber protokolliert "
            "hat.\n"
            "Weitere Ordner: Daten der einzelnen Dienste (z. B. Postfach) mit ihren Dateien.\n\n"
            "konto.json: your account, your sessions and what the county logged about it.\n"
            "Other folders: the data of each service (e.g. mailbox) with its files.\n";
        rc = export_add_file(sink, "LIESMICH.txt", readme, sizeof(readme) - 1, err);
    }
    return rc;
}

int accounts_export_zip(struct db_conn *conn, struct arena *a, int64_t user_id, void **zip,
                        size_t *len, struct kr_error *err)
{
    struct memory m = {0};
    struct export_sink sink = {archive_write_new(), kr_now()};
    if (!sink.ar)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = KR_OK;
    if (archive_write_set_format_zip(sink.ar) != ARCHIVE_OK ||
        archive_write_open2(sink.ar, &m, NULL, memory_write, NULL, NULL) != ARCHIVE_OK)
        rc = kr_error_set(err, KR_ERR_INTERNAL, "the export cannot be started");
    bool own = rc == KR_OK && !db_in_transaction(conn);
    if (own)
        rc = db_begin(conn, err);
    if (rc == KR_OK)
        rc = write_sections(conn, a, user_id, &sink, err);
    if (own)
        db_rollback(conn); /* read only */
    if (archive_write_close(sink.ar) != ARCHIVE_OK && rc == KR_OK)
        rc = kr_error_set(err, KR_ERR_TOO_LARGE, "the export cannot be finished");
    archive_write_free(sink.ar);
    if (rc == KR_OK) {
        *zip = arena_alloc(a, m.len ? m.len : 1);
        if (*zip)
            memcpy(*zip, m.data, m.len);
        else
            rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
        *len = m.len;
    }
    free(m.data);
    return rc;
}
