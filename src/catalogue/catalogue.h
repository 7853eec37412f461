/*
 * catalogue.h - the service catalogue (Leistungskatalog): what the county
 * does for citizens and businesses, described in plain language after the
 * federal FIM standard (LeiKa keys), findable with a German search.
 *
 * The record format ("kreisel-catalogue/1") is documented in
 * docs/catalogue.md; a service is stored whole (canonical JSON) with the
 * columns listing and the CSV export need.  Import is idempotent by the
 * service id: an unchanged record is left alone, a changed one replaced.
 *
 * Search runs on an in-memory snapshot (struct catalogue_snapshot) built
 * from the database: every service's summary and a search index
 * (search.h).  struct catalogue_live keeps the current snapshot for a
 * server and rebuilds it when catalogue_state.generation (bumped by every
 * import that changes something, from any process) differs.
 *
 * Domain code only: a database connection in, arena data out.  Imports
 * write their own transaction and audit entries ("catalogue.service.create",
 * "catalogue.service.update", "catalogue.synonyms.replace",
 * "catalogue.import").
 */
#ifndef KR_CATALOGUE_CATALOGUE_H
#define KR_CATALOGUE_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "catalogue/search.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "db/db.h"

#define CATALOGUE_SCHEMA "kreisel-catalogue/1"
#define CATALOGUE_SYNONYMS_SCHEMA "kreisel-synonyms/1"

/* Largest import file accepted, in bytes. */
#define CATALOGUE_IMPORT_MAX (64 * 1024 * 1024)

/* Life situations (Lebenslagen), as a bit set. */
enum {
    CATALOGUE_SITUATION_COUNT = 13,
};

/* The name of situation number i ("moving", "birth", ...), or NULL. */
const char *catalogue_situation_name(unsigned i);

/* The number of a situation name; -1 when unknown. */
int catalogue_situation_parse(const char *name);

/* A service as lists show it.  Strings belong to the snapshot (or the
 * arena of the function that returned it). */
struct catalogue_summary {
    const char *id;
    const char *title, *title_en;
    const char *summary, *summary_en;
    const char *org_unit;    /* code of the responsible unit */
    const char *online_form; /* local path or https URL; NULL when none */
    bool appointment;
    unsigned situations; /* bit i: catalogue_situation_name(i) */
    const char *last_reviewed;
};

/* ---- Records ---------------------------------------------------------------- */

/*
 * Check one service record against the schema.  KR_OK, or KR_ERR_INVALID
 * with a message naming the field ("fees[1].amount_cents: must be a
 * non-negative integer").  Does not check that org_unit exists.
 */
int catalogue_record_check(const json_t *record, struct kr_error *err) KR_MUST_CHECK;

/* ---- Import and export -------------------------------------------------------- */

/* A record that was not stored, and why. */
struct catalogue_rejection {
    size_t index;       /* position in "services", from 0 */
    const char *id;     /* the id when it had one, else NULL */
    const char *reason; /* e.g. "title: missing" */
};

struct catalogue_import_result {
    size_t created, updated, unchanged;
    size_t synonym_groups; /* for a synonyms file (unchanged is 1 when they were
                            * the same as stored) */
    struct catalogue_rejection *rejected;
    size_t rejected_count;
    bool lines; /* CSV: rejection indexes are line numbers of the file */
};

/*
 * Import a catalogue or synonyms file (text[0..len), the schema named in
 * it decides which).  Every valid service is created or updated (or left
 * alone when unchanged); a record that fails the check, names an unknown
 * org unit or repeats an id of the same file is rejected with its reason
 * and nothing of it is stored.  A synonyms file replaces all groups.  All
 * in one transaction with audit entries by actor.  Result strings are in a.
 * Errors: KR_ERR_INVALID for text that is not JSON (the message has line
 * and column: "line 3, column 7: ..."), an unknown schema or a missing
 * services list; KR_ERR_TOO_LARGE over CATALOGUE_IMPORT_MAX; database
 * errors.
 */
int catalogue_import(struct db_conn *conn, struct arena *a, const char *actor, const char *text,
                     size_t len, struct catalogue_import_result *res,
                     struct kr_error *err) KR_MUST_CHECK;

/*
 * Import the essentials from CSV (the columns of catalogue_export_csv; a
 * header line names them, in any order, "id" required, others optional).
 * A row changes the service with its id: the given columns replace the
 * stored values (an empty leika or online_form removes it) and the result
 * goes through the same check as a JSON record.  A CSV row cannot create a
 * service (it lacks the description and the rest): an unknown id is
 * rejected.  Rejections carry the line number (res->lines).  Errors:
 * KR_ERR_INVALID for a malformed file (unterminated quote, unknown or
 * repeated column, a row with another number of fields: the message names
 * the line), otherwise as catalogue_import.
 */
int catalogue_import_csv(struct db_conn *conn, struct arena *a, const char *actor, const char *text,
                         size_t len, struct catalogue_import_result *res,
                         struct kr_error *err) KR_MUST_CHECK;

/* Append the whole catalogue as a "kreisel-catalogue/1" document (services
 * ordered by id) to out. */
int catalogue_export_json(struct db_conn *conn, struct buf *out,
                          struct kr_error *err) KR_MUST_CHECK;

/* Append the essentials as CSV (RFC 4180, header line, UTF-8; columns in
 * docs/catalogue.md) to out. */
int catalogue_export_csv(struct db_conn *conn, struct buf *out, struct kr_error *err) KR_MUST_CHECK;

/* ---- Reading ------------------------------------------------------------------- */

/*
 * The record of service id as stored (a JSON object whose reference the
 * arena holds: do not decref) and its ETag value (quoted, from the record's
 * hash; etag may be NULL).  KR_ERR_NOT_FOUND for an unknown id (also for
 * ids that are not valid slugs: they are never looked up).
 */
int catalogue_service_get(struct db_conn *conn, struct arena *a, const char *id, json_t **record,
                          char **etag, struct kr_error *err) KR_MUST_CHECK;

/* True if id is a valid service id (slug of a-z, 0-9, '-', 3-64 bytes). */
bool catalogue_id_valid(const char *id);

/* ---- Snapshots and search ---------------------------------------------------- */

struct catalogue_snapshot {
    int64_t generation;
    struct catalogue_summary *services; /* ordered by id */
    size_t count;
    struct search_index *index;
    uint32_t *by_title; /* indexes of services ordered by title */
    /* private */
    struct arena *mem;
    int refs;
    struct catalogue_cache *cache; /* recent results, see catalogue_search */
};

/*
 * Build a snapshot of the whole catalogue from the database (services and
 * synonym groups).  *out has one reference: catalogue_snapshot_release.
 */
int catalogue_snapshot_load(struct db_conn *conn, struct catalogue_snapshot **out,
                            struct kr_error *err) KR_MUST_CHECK;

/* Drop a reference; the last frees the snapshot.  NULL is ok. */
void catalogue_snapshot_release(struct catalogue_snapshot *snap);

/* The summary of service id, or NULL. */
const struct catalogue_summary *catalogue_snapshot_find(const struct catalogue_snapshot *snap,
                                                        const char *id);

/* A query: text (may be empty) and life situation (-1 for any). */
struct catalogue_query {
    const char *text;
    int situation;
    bool typing; /* suggestions while typing: last word is a prefix */
    size_t top;  /* only the first top results need to be in order; 0: all */
};

/*
 * The services matching q, best first (the first q->top of them, see
 * struct catalogue_query), as an arena array of indexes into
 * snap->services.  Without text: every service (of the situation) ordered
 * by title.  Never fails on the query's content; errors are KR_ERR_NOMEM.
 * The full result lists of recent queries (by text, situation and typing)
 * are cached with the snapshot (CATALOGUE_CACHE_SLOTS, direct-mapped):
 * common queries then cost a hash and a copy instead of a search.
 */
#define CATALOGUE_CACHE_SLOTS 512
int catalogue_search(const struct catalogue_snapshot *snap, const struct catalogue_query *q,
                     struct arena *a, uint32_t **results, size_t *count,
                     struct kr_error *err) KR_MUST_CHECK;

/* The current snapshot of a server, rebuilt on a new generation. */
struct catalogue_live;

int catalogue_live_new(struct catalogue_live **out, struct kr_error *err) KR_MUST_CHECK;
void catalogue_live_free(struct catalogue_live *live);

/*
 * A reference to the current snapshot (release it with
 * catalogue_snapshot_release).  Reads the generation through conn (one
 * small query) and rebuilds when it changed; while one thread rebuilds,
 * others keep getting the previous snapshot.
 */
int catalogue_live_get(struct catalogue_live *live, struct db_conn *conn,
                       struct catalogue_snapshot **out, struct kr_error *err) KR_MUST_CHECK;

#endif
