/*
 * export.h - "download all data about me" (GDPR Art. 15 and 20): one ZIP
 * with a JSON file per module and the files a module holds for the person.
 *
 * Each module that stores personal data registers a section at start
 * (before the server serves; the list is then only read):
 *
 *   accounts_export_register("mailbox", mailbox_export);
 *
 * and the section writes its part for an account through the sink.  The
 * accounts module's own section (account, company, sessions, the audit
 * entries about the account) is always first.
 */
#ifndef KR_ACCOUNTS_EXPORT_H
#define KR_ACCOUNTS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

struct export_sink;

/* Add a file at path (relative, e.g. "mailbox/12/bescheid.pdf"). */
int export_add_file(struct export_sink *sink, const char *path, const void *data, size_t len,
                    struct kr_error *err) KR_MUST_CHECK;

/* Add value (stolen) as pretty-printed UTF-8 JSON at path. */
int export_add_json(struct export_sink *sink, const char *path, json_t *value,
                    struct kr_error *err) KR_MUST_CHECK;

typedef int (*export_section_fn)(struct db_conn *conn, struct arena *a, int64_t user_id,
                                 struct export_sink *sink, struct kr_error *err);

/* Register a section (again: no effect); at most 16.  Not thread-safe:
 * call at start only. */
int accounts_export_register(const char *name, export_section_fn fn) KR_MUST_CHECK;

/* The ZIP for account user_id: *zip and *len in a.  Sections run in one
 * read transaction so that the export is consistent. */
int accounts_export_zip(struct db_conn *conn, struct arena *a, int64_t user_id, void **zip,
                        size_t *len, struct kr_error *err) KR_MUST_CHECK;

#endif
