/*
 * audit.h - the append-only, hash-chained audit log.
 *
 * Every state change of a case, document, payment or invoice (and of
 * accounts) is recorded with one call to audit_append(), inside the same
 * transaction as the change, so that the entry exists exactly when the change
 * does.
 *
 * Entry n holds seq (n = 1, 2, 3, ... without gaps), time, actor, action,
 * object type and id, details (a JSON object) and
 *
 *     hash(n) = SHA-256( hash(n-1) as 64 hex digits || canonical(n) )
 *
 * with hash(0) = 64 zeros.  canonical(n) is defined byte for byte in
 * docs/audit.md (length-prefixed fields, independent of any JSON library's
 * formatting).  audit_head keeps the last seq and hash; its row lock makes
 * appends from several processes take turns.
 *
 * audit_verify() recomputes the chain and reports the first entry that was
 * altered, inserted or deleted, and a tail cut off.
 */
#ifndef KR_AUDIT_AUDIT_H
#define KR_AUDIT_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

/* One event to record.  Strings are borrowed for the call. */
struct audit_event {
    const char *actor;       /* "user:7", "cli", "system" */
    const char *action;      /* dotted verb: "account.create", "case.decide" */
    const char *object_type; /* "account", "case", "document", ... */
    const char *object_id;   /* the object's id as text */
    const json_t *details;   /* object with strings, integers, booleans, null,
                                nested objects/arrays; NULL for {} */
};

/* Limits: actor/action/object fields 1-200 bytes, details at most 64 KiB
 * serialised. */
#define AUDIT_FIELD_MAX 200
#define AUDIT_DETAILS_MAX (64 * 1024)

/*
 * Append ev.  conn must be inside a transaction (KR_ERR_INTERNAL otherwise):
 * the entry commits or rolls back with the change it records.
 * KR_ERR_INVALID for empty/oversized fields, details that are not an object
 * or contain real numbers (their text form is not stable).
 *
 * The entry is checked now and written when the transaction commits
 * (db_precommit): the chain's lock on audit_head is then held only from
 * there to the COMMIT, so that transactions that audit do not queue behind
 * each other's other work.  Entries keep the order of their appends; their
 * time is the time of writing.  A write error makes the commit fail (and
 * roll back).  With seq_out (may be NULL) the entry is written at once
 * instead and *seq_out gets its seq.
 */
int audit_append(struct db_conn *conn, const struct audit_event *ev, int64_t *seq_out,
                 struct kr_error *err) KR_MUST_CHECK;

/* An entry as read back. */
struct audit_entry {
    int64_t seq;
    int64_t created_at;
    const char *actor, *action, *object_type, *object_id;
    const char *details; /* canonical JSON text as stored */
    const char *prev_hash, *hash;
};

/* The newest entries, newest first, at most limit (1-1000), with seq below
 * before_seq (0: from the newest).  Arena array in *entries. */
int audit_list(struct db_conn *conn, struct arena *a, int64_t before_seq, unsigned limit,
               struct audit_entry **entries, size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* Compute the hash of an entry from its fields (exposed for tests and for
 * independent checkers).  out gets 64 hex digits + NUL. */
void audit_entry_hash(const struct audit_entry *e, char out[65]);

struct audit_verify_result {
    int64_t checked;   /* entries whose hash was recomputed */
    int64_t first_bad; /* seq of the first bad entry, 0 when intact */
    char reason[256];  /* what is wrong there, for the operator */
};

/*
 * Walk the whole chain in seq order (in batches, so memory stays small).
 * KR_OK when intact; KR_ERR_INTEGRITY with res filled at the first problem:
 * an entry whose content does not match its hash (altered), whose prev_hash
 * does not match its predecessor (predecessor rewritten, or entry inserted),
 * a gap in seq (deleted), or a head that does not match the last entry (tail
 * deleted).  Other errors are database failures.
 */
int audit_verify(struct db *db, struct audit_verify_result *res,
                 struct kr_error *err) KR_MUST_CHECK;

#endif
