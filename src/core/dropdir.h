/*
 * dropdir.h - a drop directory: other systems put files into a directory,
 * a scan hands each to a callback and then moves it to done/ or failed/
 * beside a note "<name>.txt" that says what happened.  Written for the
 * e-invoice intake (einvoice_worker.h); any module that takes files from
 * a directory can use it with its own callback.
 *
 * Which files are taken: regular files only (symbolic links, directories
 * and anything else are left alone and never followed) whose name does not
 * start with '.' and does not end in ".tmp", and whose size, modification
 * time and inode are the same as at the previous scan.  So a writer either
 * writes "name.tmp" (or ".name") and renames it when complete (the usual
 * convention, taken at the second scan after the rename), or writes the
 * file in one go within one scan interval; a file that still grows is left
 * for a later scan.
 *
 * A file is handled under an exclusive flock and only when it is still
 * the same file in the directory once locked, so several processes may
 * scan one directory and each file reaches one callback once.  A crash
 * between the callback and the move leaves the file where it was: the
 * next scan hands it over again (the callback must recognise it, as the
 * e-invoice intake does by its duplicate check).
 *
 * The target is done/<name> or failed/<name>; when that name or its note
 * is taken already, "<stem>-2<ext>", "<stem>-3<ext>", ... (a supplier's
 * monthly "rechnung.xml").  A file larger than max_size goes to failed/
 * without reaching the callback.
 */
#ifndef KR_CORE_DROPDIR_H
#define KR_CORE_DROPDIR_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

/* Most files looked at per scan, and handled per scan (the rest wait). */
#define KR_DROPDIR_MAX_ENTRIES 10000
#define KR_DROPDIR_MAX_BATCH 200
/* Largest note the callback may write. */
#define KR_DROPDIR_NOTE_MAX (64 * 1024)

enum kr_dropdir_outcome {
    KR_DROPDIR_DONE,   /* handled: to done/ */
    KR_DROPDIR_FAILED, /* cannot be handled (unreadable, duplicate): to failed/ */
    KR_DROPDIR_KEEP,   /* a temporary failure (database down): retry next scan */
};

/* The callback: name is the file's name in the directory, data its len
 * bytes (NUL-terminated beyond len).  It appends the text of the note to
 * note (UTF-8, capped at KR_DROPDIR_NOTE_MAX); the scanner adds the file's
 * name and the time. */
typedef enum kr_dropdir_outcome (*kr_dropdir_fn)(void *ctx, const char *name, const char *data,
                                                 size_t len, struct buf *note);

struct kr_dropdir;

/* What one scan did. */
struct kr_dropdir_counts {
    unsigned done, failed; /* moved there */
    unsigned kept;         /* KR_DROPDIR_KEEP, or the move failed (logged) */
    unsigned waiting;      /* new or still changing: for a later scan */
};

/*
 * A drop directory at path (created with done/ and failed/ if missing,
 * mode 0750) whose files may have at most max_size bytes.  *out belongs
 * to the caller (kr_dropdir_free).  KR_ERR_INVALID for an empty path,
 * KR_ERR_IO when a directory cannot be created, KR_ERR_NOMEM.
 */
int kr_dropdir_open(const char *path, size_t max_size, struct kr_dropdir **out,
                    struct kr_error *err) KR_MUST_CHECK;

/* Free it (the directory stays as it is).  NULL is fine. */
void kr_dropdir_free(struct kr_dropdir *d);

/*
 * One scan: remember what is there, hand over the files that did not
 * change since the previous scan (at most KR_DROPDIR_MAX_BATCH, by name),
 * move them.  counts (may be NULL) gets what happened.  Trouble with one
 * file (it vanished, a move failed) is logged and does not stop the scan.
 * KR_ERR_IO when the directory itself cannot be read; KR_ERR_NOMEM.  Not
 * for two threads at once on the same d.
 */
int kr_dropdir_scan(struct kr_dropdir *d, kr_dropdir_fn fn, void *ctx,
                    struct kr_dropdir_counts *counts, struct kr_error *err) KR_MUST_CHECK;

#endif
