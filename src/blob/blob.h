/*
 * blob.h - the content-addressed store for file contents.
 *
 * Every stored file (an uploaded form attachment, a version of an e-file
 * document, a generated PDF) is a blob named by the SHA-256 of its bytes,
 * 64 lower-case hex characters.  The database holds the name and the
 * metadata; the store holds the bytes.  Equal contents are stored once.
 *
 * Writing is streamed: a writer takes chunks, hashes them as they come and
 * writes them to a temporary file, so that a 2 GB upload never sits in
 * memory.  Nothing is visible in the store until blob_writer_commit(); an
 * aborted or interrupted write leaves no blob behind.
 *
 *     struct blob_writer *w;
 *     blob_writer_begin(store, limit, &w, err);
 *     while (more) blob_writer_write(w, chunk, n, err);   // KR_ERR_TOO_LARGE past limit
 *     blob_writer_finish(w, &info, err);                 // hash known, not yet stored
 *     ... check the content (blob_writer_path for libmagic) ...
 *     blob_writer_commit(w, err);  or  blob_writer_abort(w);
 *
 * A blob committed before a database transaction that then fails is not
 * referenced by anything; blob_sweep() removes such blobs later (the owner
 * of the references decides what is referenced).  A blob is never changed
 * after it is committed; blob_open() checks nothing, blob_verify() rehashes.
 *
 * Backends: the filesystem backend stores <dir>/ab/cd/<hash> and writes
 * temporary files to <dir>/tmp (same filesystem, so that commit is a
 * rename).  The operations table in blob.c (struct blob_backend) is the
 * seam for an S3-compatible backend: it must provide the same operations
 * with the same atomicity (commit = one PUT of the finished temporary file
 * under the hash name; readers get a local file descriptor, e.g. from a
 * cache file).
 *
 * Ownership and threads: the store is created once by the program (main.c
 * owns it and passes it to the modules that need it) and is safe to use
 * from all request threads at once; it holds no mutable state after
 * blob_store_open.  A writer belongs to one thread and to its caller until
 * commit or abort, which free it.
 */
#ifndef KR_BLOB_BLOB_H
#define KR_BLOB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"

#define BLOB_HASH_LEN 64 /* hex characters, without the NUL */

struct blob_store;
struct blob_writer;

/* Open (and create when missing) a filesystem store under dir.
 * KR_ERR_IO when the directory cannot be created or written. */
int blob_store_open(const char *dir, struct blob_store **out, struct kr_error *err) KR_MUST_CHECK;
void blob_store_close(struct blob_store *store);

/* True when s is 64 lower-case hex characters (a valid blob name; also the
 * guard that keeps a name from ever being a path trick). */
bool blob_hash_valid(const char *s);

/* ---- Writing -------------------------------------------------------------- */

/* Start a write of at most limit bytes (limit > 0). */
int blob_writer_begin(struct blob_store *store, int64_t limit, struct blob_writer **out,
                      struct kr_error *err) KR_MUST_CHECK;

/* Append len bytes.  KR_ERR_TOO_LARGE past the limit (the writer stays
 * valid only for abort), KR_ERR_IO on a write error. */
int blob_writer_write(struct blob_writer *w, const void *data, size_t len,
                      struct kr_error *err) KR_MUST_CHECK;

struct blob_info {
    char hash[BLOB_HASH_LEN + 1];
    int64_t size;
};

/* No more data: flush and fsync the temporary file, compute the hash.
 * After it, blob_writer_path() names the complete temporary file (for
 * content sniffing), and the writer can only be committed or aborted. */
int blob_writer_finish(struct blob_writer *w, struct blob_info *info,
                       struct kr_error *err) KR_MUST_CHECK;

/* Path of the temporary file (valid until commit/abort). */
const char *blob_writer_path(const struct blob_writer *w);

/* Move the finished file into the store under its hash (a no-op when an
 * equal blob exists) and free the writer, also on error. */
int blob_writer_commit(struct blob_writer *w, struct kr_error *err) KR_MUST_CHECK;

/* Discard the temporary file and free the writer.  w may be NULL. */
void blob_writer_abort(struct blob_writer *w);

/* Store a buffer in one call (begin + write + finish + commit). */
int blob_put(struct blob_store *store, const void *data, size_t len, struct blob_info *info,
             struct kr_error *err) KR_MUST_CHECK;

/* ---- Reading -------------------------------------------------------------- */

/* Open a blob for reading: a file descriptor the caller closes, and its
 * size.  KR_ERR_INVALID for a malformed hash, KR_ERR_NOT_FOUND. */
int blob_open(struct blob_store *store, const char *hash, int *fd, int64_t *size,
              struct kr_error *err) KR_MUST_CHECK;

/* Read a whole blob of at most max bytes into arena memory (NUL added
 * after the data for text use).  KR_ERR_TOO_LARGE beyond max. */
int blob_read(struct blob_store *store, struct arena *a, const char *hash, int64_t max,
              unsigned char **data, size_t *len, struct kr_error *err) KR_MUST_CHECK;

bool blob_exists(struct blob_store *store, const char *hash);

/* Rehash a stored blob: KR_OK, KR_ERR_INTEGRITY when its bytes no longer
 * match its name, KR_ERR_NOT_FOUND. */
int blob_verify(struct blob_store *store, const char *hash, struct kr_error *err) KR_MUST_CHECK;

/* ---- Removal -------------------------------------------------------------- */

/* Delete one blob (destruction of a document after its retention).  The
 * caller has made sure that nothing references it.  Missing is KR_OK. */
int blob_delete(struct blob_store *store, const char *hash, struct kr_error *err) KR_MUST_CHECK;

/* Return true when hash is still referenced (the callback of the owner of
 * the references, e.g. a query over all tables that hold blob names). */
typedef bool (*blob_referenced_fn)(void *ctx, const char *hash);

/* Delete every blob older than min_age_secs that referenced() says is not
 * referenced, and temporary files older than min_age_secs (left by a crash).
 * Counts what it removed in *removed (may be NULL). */
int blob_sweep(struct blob_store *store, int64_t min_age_secs, blob_referenced_fn referenced,
               void *ctx, int64_t *removed, struct kr_error *err) KR_MUST_CHECK;

#endif
