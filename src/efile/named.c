/*
 * named.c - the people named on a restricted file (personnel, health):
 * only they (and whoever created the file) see it, whatever their unit or
 * role.  Granting and revoking need write access to the file and are
 * audited on the file; the list and the staff lookup feed the page where
 * someone with write access manages the names.
 */
#include <string.h>

#include "core/text.h"
#include "efile/efile_internal.h"

#define PEOPLE_MAX 200 /* named on one file at most (listed) */

struct named_ctx {
    const struct efile_actor *who;
    int64_t id, user;
};

/* KR_OK when user is an active staff account, else "person: unknown". */
static int staff_person(struct db_conn *conn, int64_t user, struct kr_error *err)
{
    int64_t n = 0;
    int rc = db_query_int64(conn,
                            "SELECT COUNT(*) FROM account_user WHERE id = $1 AND kind = 'staff' "
                            "AND disabled = 0",
                            DB_PARAMS(DB_INT(user)), &n, err);
    if (rc == KR_OK && n == 0)
        rc = kr_error_set(err, KR_ERR_INVALID, "person: no member of staff with this account");
    return rc;
}

static int grant_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct named_ctx *s = arg;
    int rc = efile_require(conn, s->who, s->id, true, err);
    if (rc == KR_OK)
        rc = staff_person(conn, s->user, err);
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "INSERT INTO efile_file_access (file_id, user_id) VALUES ($1, $2) "
                     "ON CONFLICT DO NOTHING",
                     DB_PARAMS(DB_INT(s->id), DB_INT(s->user)), NULL, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_INVALID, "person: unknown");
    if (rc)
        return rc;
    return efile_audit_file(conn, s->who, "efile.file.grant", s->id,
                            json_pack("{s:I}", "user", (json_int_t)s->user), err);
}

int efile_file_grant(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                     int64_t user_id, struct kr_error *err)
{
    struct named_ctx s = {who, id, user_id};
    return db_transact(conn, grant_in_tx, &s, err);
}

static int revoke_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct named_ctx *s = arg;
    int rc = efile_require(conn, s->who, s->id, true, err);
    if (rc)
        return rc;
    int64_t gone = 0;
    struct db_stmt *st;
    rc = db_prepare(conn, "DELETE FROM efile_file_access WHERE file_id = $1 AND user_id = $2", &st,
                    err);
    if (rc)
        return rc;
    db_bind_int64(st, 1, s->id);
    db_bind_int64(st, 2, s->user);
    rc = db_step(st, err);
    if (rc == DB_DONE)
        gone = db_changes(st);
    db_finish(st);
    if (rc < 0)
        return rc;
    if (gone == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this person is not named on the file");
    return efile_audit_file(conn, s->who, "efile.file.revoke", s->id,
                            json_pack("{s:I}", "user", (json_int_t)s->user), err);
}

int efile_file_revoke(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                      int64_t user_id, struct kr_error *err)
{
    struct named_ctx s = {who, id, user_id};
    return db_transact(conn, revoke_in_tx, &s, err);
}

/* Rows of (id, login, display_name, unit code) into an arena array. */
static int read_people(struct db_stmt *st, struct arena *a, size_t max, struct efile_person **out,
                       size_t *count, struct kr_error *err)
{
    *count = 0;
    *out = arena_calloc(a, max, sizeof(**out));
    if (!*out) {
        db_finish(st);
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    }
    int rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count < max) {
        struct efile_person *p = &(*out)[(*count)++];
        p->user_id = db_column_int64(st, 0);
        p->login = db_column_strdup(st, 1, a);
        p->display_name = db_column_strdup(st, 2, a);
        p->unit_code = db_column_is_null(st, 3) ? NULL : db_column_strdup(st, 3, a);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

#define PERSON_COLUMNS                                                                             \
    "SELECT u.id, u.login, u.display_name, o.code FROM account_user u "                            \
    "LEFT JOIN account_org_unit o ON o.id = u.org_unit_id "

int efile_file_named(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                     int64_t id, struct efile_person **out, size_t *count, struct kr_error *err)
{
    *out = NULL;
    *count = 0;
    int rc = efile_require(conn, who, id, false, err);
    if (rc)
        return rc;
    struct db_stmt *st;
    rc = db_query(conn,
                  PERSON_COLUMNS "JOIN efile_file_access x ON x.user_id = u.id "
                                 "WHERE x.file_id = $1 ORDER BY u.display_name, u.id LIMIT $2",
                  DB_PARAMS(DB_INT(id), DB_INT(PEOPLE_MAX)), &st, err);
    return rc ? rc : read_people(st, a, PEOPLE_MAX, out, count, err);
}

/* "%" + query + "%" for LIKE with the wildcards of the query escaped. */
static char *like_pattern(struct arena *a, const char *q)
{
    size_t n = strlen(q);
    char *out = arena_alloc(a, 2 * n + 3);
    if (!out)
        return NULL;
    size_t at = 0;
    out[at++] = '%';
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (c == '%' || c == '_' || c == '\\')
            out[at++] = '\\';
        out[at++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[at++] = '%';
    out[at] = '\0';
    return out;
}

int efile_staff_find(struct db_conn *conn, struct arena *a, const char *query,
                     struct efile_person **out, size_t *count, struct kr_error *err)
{
    *out = NULL;
    *count = 0;
    size_t len = query ? strlen(query) : 0;
    if (len < 2 || len > EFILE_PERSON_QUERY_MAX || !efile_text_ok(query, len, false))
        return kr_error_set(err, KR_ERR_INVALID, "person: 2 to %d characters of a name or login",
                            EFILE_PERSON_QUERY_MAX);
    char *like = like_pattern(a, query);
    if (!like)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    int rc = db_query(conn,
                      PERSON_COLUMNS "WHERE u.kind = 'staff' AND u.disabled = 0 AND (u.login = $1 "
                                     "OR LOWER(u.login) LIKE $2 ESCAPE '\\' OR "
                                     "LOWER(u.display_name) LIKE $2 ESCAPE '\\') "
                                     "ORDER BY u.login = $1 DESC, u.display_name, u.id LIMIT $3",
                      DB_PARAMS(DB_TEXT(query), DB_TEXT(like), DB_INT(EFILE_PERSON_FOUND_MAX)), &st,
                      err);
    return rc ? rc : read_people(st, a, EFILE_PERSON_FOUND_MAX, out, count, err);
}
