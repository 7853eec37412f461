/*
 * metrics.c - process figures: lead time per workflow and per state, open
 * and overdue cases per unit, cases closed per week.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util.h"

#include "workflow/workflow_internal.h"

/* Rows of (key text, count, seconds, overdue) into an arena array. */
static int rows(struct db_conn *conn, struct arena *a, const char *sql, const struct db_param *p,
                size_t n, struct workflow_metric_row **out, size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    *count = 0;
    *out = arena_calloc(a, 201, sizeof(**out));
    int rc = *out ? db_query(conn, sql, p, n, &st, err)
                  : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW && *count < 200) {
        struct workflow_metric_row *r = &(*out)[(*count)++];
        r->key = db_column_strdup(st, 0, a);
        r->count = db_column_int64(st, 1);
        r->seconds = db_column_int64(st, 2);
        r->overdue = db_column_int64(st, 3);
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* Week keys "2026-W07" from the week number since the epoch. */
static void name_weeks(struct arena *a, struct workflow_metric_row *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t week = 0;
        if (kr_parse_int64(r[i].key, 0, INT64_MAX / 604800, &week) != KR_OK)
            continue;
        time_t t = (time_t)(week * 604800 + 4 * 86400); /* a Monday of that week */
        struct tm tm;
        gmtime_r(&t, &tm);
        char buf[16];
        strftime(buf, sizeof(buf), "%G-W%V", &tm);
        r[i].key = arena_strdup(a, buf);
    }
}

int workflow_metrics_get(struct db_conn *conn, struct arena *a, int64_t unit_id, int64_t now,
                         struct workflow_metrics *out, struct kr_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = rows(conn, a,
                  "SELECT workflow, COUNT(*), COALESCE(SUM(closed_at - created_at), 0), 0 "
                  "FROM workflow_case WHERE closed_at IS NOT NULL AND ($1 = 0 OR unit_id = $1) "
                  "GROUP BY workflow ORDER BY workflow",
                  DB_PARAMS(DB_INT(unit_id)), &out->per_workflow, &out->per_workflow_count, err);
    if (rc == KR_OK)
        rc = rows(conn, a,
                  "SELECT c.workflow || '/' || h.from_state, COUNT(*), "
                  "COALESCE(SUM(h.at - COALESCE((SELECT MAX(p.at) FROM workflow_history p "
                  "WHERE p.case_id = h.case_id AND p.id < h.id AND p.to_state = h.from_state "
                  "AND p.kind IN ('open', 'transition')), c.created_at)), 0), 0 "
                  "FROM workflow_history h JOIN workflow_case c ON c.id = h.case_id "
                  "WHERE h.kind = 'transition' AND ($1 = 0 OR c.unit_id = $1) "
                  "GROUP BY c.workflow || '/' || h.from_state ORDER BY 1",
                  DB_PARAMS(DB_INT(unit_id)), &out->per_state, &out->per_state_count, err);
    if (rc == KR_OK)
        rc = rows(conn, a,
                  "SELECT u.name, COUNT(*), 0, SUM(CASE WHEN c.escalated_at IS NOT NULL OR "
                  "c.due_at <= $2 THEN 1 ELSE 0 END) FROM workflow_case c "
                  "JOIN account_org_unit u ON u.id = c.unit_id WHERE c.closed_at IS NULL AND "
                  "($1 = 0 OR c.unit_id = $1) GROUP BY u.name ORDER BY u.name",
                  DB_PARAMS(DB_INT(unit_id), DB_INT(now)), &out->per_unit, &out->per_unit_count,
                  err);
    if (rc == KR_OK)
        rc = rows(conn, a,
                  "SELECT CAST(((closed_at - 345600) / 604800) AS TEXT), COUNT(*), 0, 0 "
                  "FROM workflow_case WHERE closed_at IS NOT NULL AND ($1 = 0 OR unit_id = $1) "
                  "GROUP BY (closed_at - 345600) / 604800 ORDER BY 1 DESC LIMIT 52",
                  DB_PARAMS(DB_INT(unit_id)), &out->per_week, &out->per_week_count, err);
    if (rc == KR_OK)
        name_weeks(a, out->per_week, out->per_week_count);
    return rc;
}

/* A label value in the exposition format: \ " and newline escaped. */
static void label(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (s[i] == '\\' || s[i] == '"')
            (void)buf_putc(out, '\\');
        if (s[i] == '\n')
            (void)buf_puts(out, "\\n");
        else
            (void)buf_putc(out, s[i]);
    }
}

static void unit_series(struct buf *out, const struct workflow_metrics *m)
{
    (void)buf_puts(out, "# HELP kreisel_workflow_cases_open Open cases per org unit.\n"
                        "# TYPE kreisel_workflow_cases_open gauge\n");
    for (size_t i = 0; i < m->per_unit_count; i++) {
        (void)buf_puts(out, "kreisel_workflow_cases_open{unit=\"");
        label(out, m->per_unit[i].key, SIZE_MAX);
        (void)buf_printf(out, "\"} %" PRId64 "\n", m->per_unit[i].count);
    }
    (void)buf_puts(out, "# HELP kreisel_workflow_cases_overdue Open cases past their deadline "
                        "or escalated, per org unit.\n"
                        "# TYPE kreisel_workflow_cases_overdue gauge\n");
    for (size_t i = 0; i < m->per_unit_count; i++) {
        (void)buf_puts(out, "kreisel_workflow_cases_overdue{unit=\"");
        label(out, m->per_unit[i].key, SIZE_MAX);
        (void)buf_printf(out, "\"} %" PRId64 "\n", m->per_unit[i].overdue);
    }
}

static void time_series(struct buf *out, const struct workflow_metrics *m)
{
    (void)buf_puts(out, "# HELP kreisel_workflow_lead_time_seconds Time from opening to "
                        "closing of closed cases, per workflow.\n"
                        "# TYPE kreisel_workflow_lead_time_seconds summary\n");
    for (size_t i = 0; i < m->per_workflow_count; i++) {
        const struct workflow_metric_row *r = &m->per_workflow[i];
        for (int k = 0; k < 2; k++) {
            (void)buf_printf(out, "kreisel_workflow_lead_time_seconds_%s{workflow=\"",
                             k ? "count" : "sum");
            label(out, r->key, SIZE_MAX);
            (void)buf_printf(out, "\"} %" PRId64 "\n", k ? r->count : r->seconds);
        }
    }
    (void)buf_puts(out, "# HELP kreisel_workflow_state_seconds Time cases spent in a state "
                        "before leaving it, per workflow and state.\n"
                        "# TYPE kreisel_workflow_state_seconds summary\n");
    for (size_t i = 0; i < m->per_state_count; i++) {
        const struct workflow_metric_row *r = &m->per_state[i];
        const char *slash = strchr(r->key, '/');
        if (!slash)
            continue;
        for (int k = 0; k < 2; k++) {
            (void)buf_printf(out, "kreisel_workflow_state_seconds_%s{workflow=\"",
                             k ? "count" : "sum");
            label(out, r->key, (size_t)(slash - r->key));
            (void)buf_puts(out, "\",state=\"");
            label(out, slash + 1, SIZE_MAX);
            (void)buf_printf(out, "\"} %" PRId64 "\n", k ? r->count : r->seconds);
        }
    }
}

int workflow_metrics_prometheus(struct db_conn *conn, struct arena *a, struct buf *out,
                                struct kr_error *err)
{
    struct workflow_metrics m;
    int rc = workflow_metrics_get(conn, a, 0, workflow_now(), &m, err);
    if (rc != KR_OK)
        return rc;
    unit_series(out, &m);
    time_series(out, &m);
    return buf_status(out);
}
