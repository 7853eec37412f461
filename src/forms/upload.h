/*
 * upload.h - checks of uploaded files for the form server: the real type
 * from the content (libmagic, never the name or the browser's claim) and
 * an optional virus scan by clamd (ClamAV) over its INSTREAM protocol.
 */
#ifndef KR_FORMS_UPLOAD_H
#define KR_FORMS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* Load the magic database once (at start).  KR_ERR_INTERNAL when libmagic
 * cannot be loaded. */
int forms_magic_init(struct kr_error *err) KR_MUST_CHECK;
void forms_magic_release(void);

/* The MIME type of the file at path ("application/pdf") into out;
 * thread-safe (one magic handle behind a mutex).  KR_ERR_IO on failure. */
int forms_sniff(const char *path, char *out, size_t size, struct kr_error *err) KR_MUST_CHECK;

/*
 * Scan the file at path with clamd listening on the Unix socket
 * socket_path (zINSTREAM, chunks of at most 64 KiB, 30 s timeout).
 * *infected is set and sig gets the signature name when clamd found
 * something.  KR_ERR_IO when clamd cannot be reached or answers
 * something else (the upload is then refused, not waved through).
 */
int forms_clamd_scan(const char *socket_path, const char *path, bool *infected, char *sig,
                     size_t sig_size, struct kr_error *err) KR_MUST_CHECK;

#endif
