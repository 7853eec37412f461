/*
 * efile.h - the e-file (E-Akte): file plan, files, transactions, documents
 * with versions, access, full-text search, retention and disposal.
 *
 * German records practice, in the words this module uses:
 *   Aktenplan      file plan: a tree of plan items ("51.20.03"), each with
 *                  a retention period, the event that starts it, the
 *                  archival evaluation and a responsible unit; children
 *                  inherit what they do not set themselves.
 *   Akte           file: under one plan item, with a file reference
 *                  (Aktenzeichen) made from a configurable pattern.
 *   Vorgang        transaction: a business matter inside a file.
 *   Dokument       document: inside a transaction; its content versions
 *                  are blobs (blob.h) named by SHA-256.
 *   Aussonderung   disposal: when the retention period is over, a file is
 *                  handed to the archive (evaluation A, "archivwürdig") or
 *                  destroyed (V, "vernichten"); B ("bewerten") lets the
 *                  archive decide.  Both need a second person (four eyes).
 *   xdomea         the German standard for handing records to an archive;
 *                  the package here is xdomea-style (docs/efile.md).
 *
 * Domain code: no HTTP.  Functions take a database connection; a function
 * that changes data opens its own transaction or joins the caller's (so the
 * workflow module can create a file and add a document inside its own
 * transaction).  Every view, download and change is written to the audit
 * log (object type "efile_file", object id the file id; plan changes as
 * "efile_plan") in the same transaction.  Results live in the caller's
 * arena.
 *
 * Time: functions that depend on the date take `now` (Unix seconds) from
 * the caller, so tests inject any clock; the HTTP layer passes kr_now().
 *
 * Errors: KR_ERR_INVALID (the message names the field), KR_ERR_NOT_FOUND
 * (also for files the actor may not see, so that ids reveal nothing),
 * KR_ERR_FORBIDDEN (seen but not writable, or the wrong role),
 * KR_ERR_CONFLICT (duplicate reference, stale version, closed file, legal
 * hold, item with children), database errors.
 */
#ifndef KR_EFILE_EFILE_H
#define KR_EFILE_EFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

/* Who acts: a staff user with unit and roles (enum account_role bits). */
struct efile_actor {
    int64_t user_id;
    int64_t unit_id;
    unsigned roles;
};

/* "user:7" for the audit log, into out (32 bytes). */
void efile_actor_name(const struct efile_actor *who, char out[32]);

#define EFILE_PERMANENT (-1) /* retention: keep for ever (dauernd) */
#define EFILE_INHERIT (-2)   /* retention: take the parent's */
#define EFILE_RETENTION_MAX 100
#define EFILE_TITLE_MAX 500
#define EFILE_TEXT_MAX 2000 /* descriptions, parties, reasons */

/* ---- File plan (plan.c) ---------------------------------------------------- */

struct efile_plan_item {
    int64_t id, parent_id;
    const char *number, *title, *description;
    /* As set on the item: EFILE_INHERIT / NULL / 0 where inherited. */
    int retention_years;
    const char *retention_event; /* "closed", "date" */
    const char *evaluation;      /* "A", "V", "B" */
    int64_t unit_id;
    /* Effective values after inheritance (the root's defaults: 10 years
     * from closing, evaluation B, no unit). */
    int eff_retention_years;
    const char *eff_event, *eff_evaluation;
    int64_t eff_unit_id;
    const char *eff_unit_code; /* NULL without a unit */
    int depth;
    bool has_children;
};

/* An item to create or change, identified by number.  parent: the parent's
 * number or NULL for a top-level item.  retention_years EFILE_INHERIT and
 * NULL strings inherit.  unit_code: an org unit code or NULL. */
struct efile_plan_input {
    const char *number, *parent, *title, *description;
    int retention_years;
    const char *retention_event, *evaluation, *unit_code;
};

/* Check and store one item (insert, or update the item with that number).
 * Numbers: 1-32 of digits and dots, not starting/ending with a dot.  A new
 * parent must not be the item or one of its descendants.  Audited. */
int efile_plan_save(struct db_conn *conn, const char *actor, const struct efile_plan_input *in,
                    int64_t *id, struct kr_error *err) KR_MUST_CHECK;

/* Delete a plan item: KR_ERR_CONFLICT when it has children or files. */
int efile_plan_delete(struct db_conn *conn, const char *actor, int64_t id,
                      struct kr_error *err) KR_MUST_CHECK;

/* The whole plan in tree order (depth first, siblings by number) with the
 * effective values. */
int efile_plan_list(struct db_conn *conn, struct arena *a, struct efile_plan_item **items,
                    size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* One item with effective values; KR_ERR_NOT_FOUND. */
int efile_plan_get(struct db_conn *conn, struct arena *a, int64_t id, struct efile_plan_item *out,
                   struct kr_error *err) KR_MUST_CHECK;

/* One problem of an import: the line (CSV, counting the header as 1) or
 * item (JSON, from 1) and the reason. */
struct efile_import_problem {
    unsigned line;
    const char *reason;
};

struct efile_import_result {
    size_t saved;
    struct efile_import_problem *problems; /* in the arena */
    size_t problem_count;
};

enum efile_format { EFILE_CSV, EFILE_JSON };

/*
 * Import a plan: CSV with the header
 *   number;parent;title;description;retention;event;evaluation;unit
 * (';' or ',' separated, RFC 4180 quotes; retention is a number of years
 * 0-100, "permanent"/"dauernd", or empty to inherit), or JSON
 *   {"format": "kreisel-fileplan/1", "items": [{"number": ..., "parent":
 *    ..., "title": ..., "description": ..., "retention": 10 | "permanent",
 *    "event": "closed"|"date", "evaluation": "A"|"V"|"B", "unit": "36"}]}
 * All or nothing: when any line has a problem, nothing is stored, every
 * problem (up to 100) is listed and KR_ERR_INVALID returned.  A parent must
 * exist or come earlier in the file.  At most 4 MiB, 20000 items.
 */
int efile_plan_import(struct db_conn *conn, struct arena *a, const char *actor,
                      enum efile_format format, const char *data, size_t len,
                      struct efile_import_result *res, struct kr_error *err) KR_MUST_CHECK;

/* The plan in the import format (items as set, not effective), as arena
 * text in *out. */
int efile_plan_export(struct db_conn *conn, struct arena *a, enum efile_format format, char **out,
                      size_t *len, struct kr_error *err) KR_MUST_CHECK;

/* Load the demo county's file plan from <share_dir>/data/efile/plan.csv
 * (for seed-demo); joins the caller's transaction. */
int efile_seed_demo(struct db_conn *conn, const char *share_dir,
                    struct kr_error *err) KR_MUST_CHECK;

/* ---- Files, transactions, documents (efile.c) -------------------------------- */

/* Set the file reference pattern once at start (NULL: the default).
 * Placeholders: {plan} plan number, {seq} running number per plan item,
 * unit and year ({seq:N} zero-padded to N digits), {year}, {unit} unit
 * code.  {seq} and {plan} are required.  Default:
 * "{unit}-{plan}-{seq:4}/{year}" giving "36.1-51.20.03-0017/2026". */
int efile_set_reference_pattern(const char *pattern, struct kr_error *err) KR_MUST_CHECK;

enum efile_access { EFILE_NONE, EFILE_READ, EFILE_WRITE };

struct efile_file {
    int64_t id, plan_item_id, unit_id;
    const char *reference, *title, *parties, *case_ref;
    const char *status; /* "open", "closed" */
    bool restricted, legal_hold;
    int64_t opened_at, closed_at, disposal_at, retention_start_at;
    const char *disposal; /* NULL, "archived", "destroyed" */
    int version;          /* optimistic locking */
    const char *plan_number, *plan_title, *unit_code;
    const char *evaluation; /* effective */
    int retention_years;    /* effective */
    enum efile_access access;
};

struct efile_file_new {
    int64_t plan_item_id;
    int64_t unit_id; /* 0: the actor's unit */
    const char *title, *parties, *case_ref;
    bool restricted;
    const int64_t *named_users; /* who may see a restricted file besides
                                   the actor */
    size_t named_count;
    int64_t retention_start_at; /* for plan items with event "date"; 0 */
};

/* Create a file with the next reference.  The actor needs write rights in
 * the owning unit (clerk or head of unit of it).  KR_ERR_CONFLICT when the
 * generated reference exists already (a pattern without enough parts).
 * *ref (may be NULL) gets the reference in a. */
int efile_file_create(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                      const struct efile_file_new *in, int64_t now, int64_t *id, char **ref,
                      struct kr_error *err) KR_MUST_CHECK;

/* The actor's access to file id (EFILE_NONE for a missing file). */
int efile_file_access(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                      enum efile_access *out, struct kr_error *err) KR_MUST_CHECK;

/* Read a file (audited as a view when audit_view). */
int efile_file_get(struct db_conn *conn, struct arena *a, const struct efile_actor *who, int64_t id,
                   bool audit_view, struct efile_file *out, struct kr_error *err) KR_MUST_CHECK;

/* Files the actor may see, newest first: query matches reference or title
 * (substring, case-insensitive for ASCII); plan_item_id/status filter when
 * set. */
struct efile_file_filter {
    const char *query;
    int64_t plan_item_id;
    const char *status;
    unsigned offset, limit;
};
int efile_file_list(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                    const struct efile_file_filter *f, struct efile_file **out, size_t *count,
                    struct kr_error *err) KR_MUST_CHECK;

/* Close, reopen (reason required), move to another plan item; each with
 * the version the actor saw (KR_ERR_CONFLICT when it changed since).
 * Closing computes disposal_at: the period starts on 1 January after the
 * year of the event (closing, or retention_start_at for event "date") and
 * runs the effective retention years; permanent files get none. */
int efile_file_close(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                     int64_t now, struct kr_error *err) KR_MUST_CHECK;
int efile_file_reopen(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                      const char *reason, int64_t now, struct kr_error *err) KR_MUST_CHECK;
int efile_file_move(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                    int64_t plan_item_id, int64_t now, struct kr_error *err) KR_MUST_CHECK;

/* Set or lift a legal hold (records manager or head of the owning unit). */
int efile_file_hold(struct db_conn *conn, const struct efile_actor *who, int64_t id, bool hold,
                    const char *reason, int64_t now, struct kr_error *err) KR_MUST_CHECK;

/* Share with another unit (mode "read"/"write", until 0 = no end), or end
 * a share (mode NULL).  Write access to the file is needed. */
int efile_file_share(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                     int64_t unit_id, const char *mode, int64_t until, int64_t now,
                     struct kr_error *err) KR_MUST_CHECK;

/* ---- Named people of restricted files (named.c) ------------------------------- */

/*
 * A restricted file (personnel, health) is visible only to the people
 * named on it and to whoever created it: not to the rest of its unit, not
 * to units it is shared with, not to records managers.  Named people of
 * the owning unit (clerk, head of unit) may change it, others only read.
 */

/* Name a member of staff (an active staff account, else KR_ERR_INVALID
 * "person: ...") on file id; naming twice is no error.  Write access
 * needed.  Audited "efile.file.grant" with the user id. */
int efile_file_grant(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                     int64_t user_id, struct kr_error *err) KR_MUST_CHECK;

/* Take the name off again (write access; KR_ERR_NOT_FOUND when the person
 * is not named).  Audited "efile.file.revoke".  Revoking oneself is
 * allowed: the actor may then lose sight of the file. */
int efile_file_revoke(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                      int64_t user_id, struct kr_error *err) KR_MUST_CHECK;

struct efile_person {
    int64_t user_id;
    const char *login, *display_name;
    const char *unit_code; /* NULL without a unit */
};

/* The people named on file id, by name (read access; at most 200). */
int efile_file_named(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                     int64_t id, struct efile_person **out, size_t *count,
                     struct kr_error *err) KR_MUST_CHECK;

#define EFILE_PERSON_QUERY_MAX 100
#define EFILE_PERSON_FOUND_MAX 20

/* Active staff accounts whose login is query or whose login or display
 * name contains it (case-insensitive for ASCII), the exact login first;
 * at most EFILE_PERSON_FOUND_MAX.  query: 2-100 characters, else
 * KR_ERR_INVALID. */
int efile_staff_find(struct db_conn *conn, struct arena *a, const char *query,
                     struct efile_person **out, size_t *count, struct kr_error *err) KR_MUST_CHECK;

struct efile_transaction {
    int64_t id, file_id;
    int seq;
    const char *title, *case_ref;
    int64_t created_at;
};

/* Add a transaction to an open file (write access). */
int efile_txn_create(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                     const char *title, const char *case_ref, int64_t now, int64_t *id,
                     struct kr_error *err) KR_MUST_CHECK;

/* Document metadata; NULL strings are "" and received_at 0 is none. */
struct efile_doc_meta {
    const char *title, *doc_type, *author, *sender;
    const char *direction; /* "in", "out", "internal" (NULL: internal) */
    int64_t received_at;
};

/* Content of a version: a committed blob and how it was called. */
struct efile_content {
    const char *blob_hash;
    int64_t size;
    const char *filename;   /* a safe base name (http_upload's) */
    const char *media_type; /* sniffed, not the client's claim */
};

/* Add a document with its first version to transaction txn_id and queue
 * its text for extraction and indexing.  The blob must exist in store. */
int efile_doc_add(struct db_conn *conn, struct blob_store *store, const struct efile_actor *who,
                  int64_t txn_id, const struct efile_doc_meta *meta,
                  const struct efile_content *content, int64_t now, int64_t *id,
                  struct kr_error *err) KR_MUST_CHECK;

/* A new content version; version is the document version the actor saw
 * (KR_ERR_CONFLICT when another change came in between). */
int efile_doc_new_version(struct db_conn *conn, struct blob_store *store,
                          const struct efile_actor *who, int64_t doc_id, int version,
                          const struct efile_content *content, int64_t now,
                          struct kr_error *err) KR_MUST_CHECK;

/* Change the metadata, with the same optimistic lock. */
int efile_doc_update(struct db_conn *conn, const struct efile_actor *who, int64_t doc_id,
                     int version, const struct efile_doc_meta *meta, int64_t now,
                     struct kr_error *err) KR_MUST_CHECK;

struct efile_version {
    int64_t id;
    int no;
    const char *blob_hash, *filename, *media_type;
    int64_t size, created_at;
    const char *text_state; /* "pending", "done", "failed" */
};

struct efile_document {
    int64_t id, transaction_id, file_id;
    const char *title, *doc_type, *author, *sender, *direction;
    int64_t received_at, created_at, updated_at;
    int version, current;
    struct efile_version *versions; /* newest first */
    size_t version_count;
};

/* A file opened: the file, its transactions and documents (with versions)
 * and its history (audit entries, newest first).  Audited as a view. */
struct efile_history {
    int64_t at;
    const char *actor, *action, *details;
};

struct efile_file_view {
    struct efile_file file;
    struct efile_transaction *txns;
    size_t txn_count;
    struct efile_document *docs;
    size_t doc_count;
    struct efile_history *history;
    size_t history_count;
};
int efile_file_open(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                    int64_t id, struct efile_file_view *out, struct kr_error *err) KR_MUST_CHECK;

/* One document with its versions (read access; audited as a view). */
int efile_doc_get(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                  int64_t doc_id, struct efile_document *out, struct kr_error *err) KR_MUST_CHECK;

/* The version no (0: current) of a document for download; audited. */
int efile_version_download(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                           int64_t doc_id, int no, struct efile_version *out,
                           struct kr_error *err) KR_MUST_CHECK;

/* ---- For the workflow module: inside the caller's transaction ------------------ */

/* Create a file (under the plan item with number plan_number, owned by
 * unit_id) and a first transaction for the case case_ref.  conn must be in
 * a transaction.  *file_id and *txn_id are set.  KR_ERR_NOT_FOUND (nothing
 * done) when the plan has no item plan_number. */
int efile_case_open(struct db_conn *conn, const struct efile_actor *who, const char *plan_number,
                    int64_t unit_id, const char *title, const char *case_ref, int64_t now,
                    int64_t *file_id, int64_t *txn_id, struct kr_error *err) KR_MUST_CHECK;

/* The file and first transaction of case case_ref (KR_ERR_NOT_FOUND when
 * the case has none).  No access check: for the engine's own actions. */
int efile_case_txn(struct db_conn *conn, const char *case_ref, int64_t *file_id, int64_t *txn_id,
                   struct kr_error *err) KR_MUST_CHECK;

/* Add a document from a committed blob to transaction txn_id; conn must be
 * in a transaction.  The same as efile_doc_add. */
int efile_case_add_document(struct db_conn *conn, struct blob_store *store,
                            const struct efile_actor *who, int64_t txn_id, const char *title,
                            const struct efile_content *content, int64_t now, int64_t *doc_id,
                            struct kr_error *err) KR_MUST_CHECK;

/* ---- Search (search.c) ------------------------------------------------------- */

/* Reindex document doc_id from its metadata and the extracted text of its
 * current version (called after extraction and metadata changes). */
int efile_index_document(struct db_conn *conn, int64_t doc_id, struct kr_error *err) KR_MUST_CHECK;

struct efile_hit {
    int64_t doc_id, file_id;
    const char *doc_title, *file_reference, *file_title;
    int score;
};

/* Full-text search over the documents the actor may see: every word of
 * query (analysed like the catalogue search: folded, umlauts unified,
 * German stems) must match; best first (title hits above metadata above
 * text).  Stop words are ignored when the query has other words. */
int efile_search(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                 const char *query, unsigned offset, unsigned limit, struct efile_hit **hits,
                 size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* ---- Text extraction queue (extract.c) ----------------------------------------- */

/* Extract the text of one version (PDF with pdftotext under a time limit,
 * plain text as is) and index it.  Used by the worker and by tests. */
int efile_extract_version(struct db_conn *conn, struct blob_store *store, int64_t version_id,
                          struct kr_error *err) KR_MUST_CHECK;

/* Work through pending extraction jobs (at most max); *done gets the
 * number handled. */
int efile_extract_pending(struct db *db, struct blob_store *store, unsigned max, unsigned *done,
                          struct kr_error *err) KR_MUST_CHECK;

/* The background worker of `kreisel serve`: polls the queue every
 * interval seconds and on efile_extractor_wake().  Owned by main. */
struct efile_extractor;
int efile_extractor_start(struct db *db, struct blob_store *store, unsigned interval,
                          struct efile_extractor **out, struct kr_error *err) KR_MUST_CHECK;
void efile_extractor_wake(void);
void efile_extractor_stop(struct efile_extractor *ex);

/* ---- Retention and disposal (disposal.c, xdomea.c) ------------------------------- */

/* Disposal date of a file closed (or started) at event with retention
 * years (EFILE_PERMANENT: 0, none). */
int64_t efile_disposal_date(int64_t event, int retention_years);

struct efile_due {
    struct efile_file file;
    int64_t request_id; /* a pending disposal request, 0 for none */
    const char *request_action;
    int64_t requested_by;
};

/* Closed files not yet disposed of whose disposal date falls before the
 * end of year period (records manager only), by evaluation A, B, V then
 * reference.  Files under legal hold are listed with legal_hold set. */
int efile_disposal_list(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                        int period, struct efile_due **out, size_t *count,
                        struct kr_error *err) KR_MUST_CHECK;

/* Request "archive" or "destroy" of a due file (records manager): refused
 * (KR_ERR_CONFLICT) under legal hold, when not due at now, when a request
 * is pending, or when the action contradicts the evaluation (A may only be
 * archived, V only destroyed). */
int efile_disposal_request(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                           const char *action, const char *legal_basis, int64_t now, int64_t *id,
                           struct kr_error *err) KR_MUST_CHECK;

/* The second records manager confirms (KR_ERR_FORBIDDEN when it is the
 * requester): archive builds the package into the blob store and marks the
 * file archived; destroy deletes the file with its documents, keeps a
 * deletion record and deletes blobs nothing else references (after the
 * commit; a crash leaves them to blob_sweep).  Opens its own transaction
 * (conn must not be in one). */
int efile_disposal_confirm(struct db_conn *conn, struct blob_store *store,
                           const struct efile_actor *who, int64_t request_id, int64_t now,
                           struct kr_error *err) KR_MUST_CHECK;

/* Cancel a pending request (records manager). */
int efile_disposal_cancel(struct db_conn *conn, const struct efile_actor *who, int64_t request_id,
                          struct kr_error *err) KR_MUST_CHECK;

/* The archive package of a file handed over: its blob hash. */
int efile_disposal_package(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                           int64_t file_id, char **hash, struct kr_error *err) KR_MUST_CHECK;

/* Write the xdomea-style package of file_id (ZIP: XML message, primary
 * files, checksums.sha256) into a new blob; info gets its hash and size. */
int efile_xdomea_package(struct db_conn *conn, struct blob_store *store, int64_t file_id,
                         int64_t now, struct blob_info *info, struct kr_error *err) KR_MUST_CHECK;

/* True when a blob is referenced by a document version or a package (the
 * callback for blob_sweep; ctx is a struct db_conn *). */
bool efile_blob_referenced(void *ctx, const char *hash);

#endif
