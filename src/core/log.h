/*
 * log.h - structured logging, one JSON object per line on stderr.
 *
 * Every line has "ts" (RFC 3339, UTC, milliseconds), "level" and "event" (a
 * stable snake_case name such as "request" or "db_error"); "msg" is free
 * text for humans.  Library code logs through here and never prints.
 * Safe to call from any thread: each line is written with one call.
 */
#ifndef KR_CORE_LOG_H
#define KR_CORE_LOG_H

#include <stdio.h>

#include <jansson.h>

#include "core/error.h"

enum kr_log_level { KR_LOG_DEBUG, KR_LOG_INFO, KR_LOG_WARN, KR_LOG_ERROR };

/* Drop lines below level (default KR_LOG_INFO). */
void kr_log_set_level(enum kr_log_level level);

/* Parse "debug", "info", "warn" or "error".  KR_OK or KR_ERR_INVALID. */
int kr_log_parse_level(const char *name, enum kr_log_level *out);

/* Write to stream instead of stderr (tests); NULL restores stderr. */
void kr_log_set_stream(FILE *stream);

/* True if a line at level would be written. */
int kr_log_enabled(enum kr_log_level level);

/* Log event with a formatted message. */
void kr_log(enum kr_log_level level, const char *event, const char *fmt, ...) KR_PRINTF(3, 4);

/* Log event with the members of fields (a JSON object) added to the line.
 * Takes the reference to fields (may be NULL). */
void kr_log_json(enum kr_log_level level, const char *event, json_t *fields);

/* Log an error: message as "msg", detail as "detail", code as "code". */
void kr_log_error(const char *event, const struct kr_error *err);

#endif
