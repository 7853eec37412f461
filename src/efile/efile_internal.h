/* efile_internal.h - helpers shared by the files of src/efile. */
#ifndef KR_EFILE_INTERNAL_H
#define KR_EFILE_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "efile/efile.h"

/* Append an audit entry on file_id (object type "efile_file") or, with
 * type "efile_plan", on a plan item; takes the reference to details.
 * Joins the caller's transaction (which must be open). */
int efile_audit(struct db_conn *conn, const char *actor, const char *action, const char *type,
                int64_t id, json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* The same with the actor of who. */
int efile_audit_file(struct db_conn *conn, const struct efile_actor *who, const char *action,
                     int64_t file_id, json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* 1 to max bytes of valid UTF-8 without control characters (newlines
 * allowed when multiline). */
bool efile_text_ok(const char *s, size_t max, bool multiline);

/* Effective plan values of item id (walks up the parents). */
int efile_plan_effective(struct db_conn *conn, struct arena *a, int64_t id,
                         struct efile_plan_item *out, struct kr_error *err) KR_MUST_CHECK;

/* Check the fields of a plan item (no database). */
int efile_plan_check(const struct efile_plan_input *in, struct kr_error *err) KR_MUST_CHECK;

/* Run fn in a transaction of its own, or inside the caller's. */
int efile_transact(struct db_conn *conn, int (*fn)(struct db_conn *, void *, struct kr_error *),
                   void *arg, struct kr_error *err) KR_MUST_CHECK;

/* Replace the search terms of doc_id (search.c); conn in a transaction. */
int efile_index_replace(struct db_conn *conn, int64_t doc_id, struct kr_error *err) KR_MUST_CHECK;

/* KR_OK when who may read (write: change) file_id; KR_ERR_NOT_FOUND for
 * an invisible file, KR_ERR_FORBIDDEN for read-only access. */
int efile_require(struct db_conn *conn, const struct efile_actor *who, int64_t file_id, bool write,
                  struct kr_error *err) KR_MUST_CHECK;

/* The file row (effective evaluation and retention too), no access check. */
int efile_load_file(struct db_conn *conn, struct arena *a, int64_t id, struct efile_file *out,
                    struct kr_error *err) KR_MUST_CHECK;

/* Bump the file's version from version: KR_ERR_CONFLICT when stale. */
int efile_bump(struct db_conn *conn, int64_t id, int version, int64_t now,
               struct kr_error *err) KR_MUST_CHECK;

/* A file with its transactions and documents, without access check or
 * audit (for the archive package). */
int efile_package_view(struct db_conn *conn, struct arena *a, int64_t id,
                       struct efile_file_view *out, struct kr_error *err) KR_MUST_CHECK;

/* The columns efile_read_file reads, and the joins they need. */
#define FILE_COLUMNS                                                                               \
    "f.id, f.plan_item_id, f.unit_id, f.reference, f.title, f.parties, f.case_ref, f.status, "     \
    "f.restricted, f.legal_hold, f.opened_at, COALESCE(f.closed_at, 0), "                          \
    "COALESCE(f.disposal_at, 0), COALESCE(f.retention_start_at, 0), f.disposal, f.version, "       \
    "p.number, p.title, u.code"
#define FILE_FROM                                                                                  \
    " FROM efile_file f JOIN efile_plan_item p ON p.id = f.plan_item_id "                          \
    "JOIN account_org_unit u ON u.id = f.unit_id"

/* Read a row of FILE_COLUMNS into f (strings in a). */
void efile_read_file(struct db_stmt *st, struct arena *a, struct efile_file *f);

/* SQL condition "the actor ($1 user, $2 unit, $3 now) may read file f". */
#define EFILE_READABLE_SQL                                                                         \
    "((f.restricted = 0 AND (f.unit_id = $2 OR EXISTS (SELECT 1 FROM efile_share s "               \
    "WHERE s.file_id = f.id AND s.unit_id = $2 AND (s.until_at IS NULL OR s.until_at > $3)))) "    \
    "OR (f.restricted = 1 AND (f.created_by = $1 OR EXISTS (SELECT 1 FROM efile_file_access x "    \
    "WHERE x.file_id = f.id AND x.user_id = $1))))"

/* The same for records managers, who read every file that is not
 * restricted. */
#define EFILE_READABLE_ALL_SQL "(f.restricted = 0 OR " EFILE_READABLE_SQL ")"

/* The acting account as a bound parameter: NULL for the engine (user 0),
 * which has no account row. */
#define EFILE_BY(who) ((who)->user_id > 0 ? DB_INT((who)->user_id) : DB_NULL)

#endif
