#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util.h"

static _Atomic int min_level = KR_LOG_INFO;
static FILE *_Atomic log_stream;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void kr_log_set_level(enum kr_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int kr_log_parse_level(const char *name, enum kr_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum kr_log_level)i;
            return KR_OK;
        }
    }
    return KR_ERR_INVALID;
}

void kr_log_set_stream(FILE *stream)
{
    atomic_store(&log_stream, stream);
}

int kr_log_enabled(enum kr_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

void kr_log_json(enum kr_log_level level, const char *event, json_t *fields)
{
    if (!kr_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    char ts[40];
    kr_time_format_rfc3339_ms(kr_now_ms(), ts, sizeof(ts));

    /* Field order: ts, level, event first (jansson keeps insertion order),
     * then the caller's fields. */
    json_t *line = json_object();
    if (!line) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "event", json_string(event ? event : "log"));
    if (fields && json_is_object(fields))
        json_object_update(line, fields);
    json_decref(fields);

    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text)
        return;
    FILE *out = atomic_load(&log_stream);
    if (!out)
        out = stderr;
    /* One fprintf call per line: stdio locks the stream for the call. */
    fprintf(out, "%s\n", text);
    fflush(out);
    free(text);
}

void kr_log(enum kr_log_level level, const char *event, const char *fmt, ...)
{
    if (!kr_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *f = json_object();
    /* json_string rejects invalid UTF-8; fall back to a marker then. */
    json_t *m = json_string(msg);
    json_object_set_new(f, "msg", m ? m : json_string("(message not valid UTF-8)"));
    kr_log_json(level, event, f);
}

void kr_log_error(const char *event, const struct kr_error *err)
{
    json_t *f = json_object();
    json_object_set_new(f, "code", json_string(kr_status_name(err->code)));
    json_t *m = json_string(err->message);
    json_object_set_new(f, "msg", m ? m : json_string("(invalid UTF-8)"));
    if (err->detail[0]) {
        json_t *d = json_string(err->detail);
        json_object_set_new(f, "detail", d ? d : json_string("(invalid UTF-8)"));
    }
    kr_log_json(KR_LOG_ERROR, event, f);
}
