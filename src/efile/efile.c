/*
 * efile.c - files (Akten): references from the configured pattern, access
 * by unit, role, share and name list, closing, reopening, moving, legal
 * hold.  Transactions and documents are in document.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/accounts.h"
#include "core/buf.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define REFERENCE_MAX 120
#define PATTERN_MAX 100
#define NAMED_MAX 50

static char reference_pattern[PATTERN_MAX + 1] = "{unit}-{plan}-{seq:4}/{year}";

/* Expand pattern into out; with check only, values are dummies.  Returns
 * KR_ERR_INVALID for an unknown placeholder or a missing {plan}/{seq}. */
static int expand(const char *pattern, const char *plan, int64_t seq, int year, const char *unit,
                  struct buf *out)
{
    bool has_plan = false, has_seq = false;
    for (const char *p = pattern; *p; p++) {
        if (*p != '{') {
            buf_putc(out, *p);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end)
            return KR_ERR_INVALID;
        size_t n = (size_t)(end - p - 1);
        if (n == 4 && memcmp(p + 1, "plan", 4) == 0) {
            buf_puts(out, plan);
            has_plan = true;
        } else if (n == 4 && memcmp(p + 1, "year", 4) == 0) {
            buf_printf(out, "%04d", year);
        } else if (n == 4 && memcmp(p + 1, "unit", 4) == 0) {
            buf_puts(out, unit ? unit : "");
        } else if (n == 3 && memcmp(p + 1, "seq", 3) == 0) {
            buf_printf(out, "%lld", (long long)seq);
            has_seq = true;
        } else if (n == 5 && memcmp(p + 1, "seq:", 4) == 0 && p[5] >= '1' && p[5] <= '9') {
            buf_printf(out, "%0*lld", p[5] - '0', (long long)seq);
            has_seq = true;
        } else {
            return KR_ERR_INVALID;
        }
        p = end;
    }
    return has_plan && has_seq ? buf_status(out) : KR_ERR_INVALID;
}

int efile_set_reference_pattern(const char *pattern, struct kr_error *err)
{
    if (!pattern || !*pattern)
        pattern = "{unit}-{plan}-{seq:4}/{year}";
    struct buf b;
    buf_init(&b, REFERENCE_MAX);
    int rc =
        strlen(pattern) <= PATTERN_MAX ? expand(pattern, "1", 1, 2000, "X", &b) : KR_ERR_INVALID;
    buf_release(&b);
    if (rc)
        return kr_error_set(err, KR_ERR_CONFIG,
                            "efile_reference_pattern: use {plan}, {seq} or {seq:N}, {year}, "
                            "{unit} (with {plan} and {seq}), at most 100 characters");
    (void)snprintf(reference_pattern, sizeof(reference_pattern), "%s", pattern);
    return KR_OK;
}

static int year_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return tm.tm_year + 1900;
}

int64_t efile_disposal_date(int64_t event, int retention_years)
{
    if (retention_years < 0 || !event)
        return 0;
    struct tm tm = {.tm_year = year_of(event) + 1 + retention_years - 1900, .tm_mday = 1};
    return (int64_t)timegm(&tm);
}

/* ---- Access ------------------------------------------------------------------- */

static bool works_in(const struct efile_actor *who, int64_t unit)
{
    return who->unit_id == unit &&
           (who->roles & (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT)) != 0;
}

int efile_file_access(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                      enum efile_access *out, struct kr_error *err)
{
    *out = EFILE_NONE;
    struct db_stmt *st;
    int rc = db_query(
        conn,
        "SELECT f.unit_id, f.restricted, COALESCE(f.created_by, 0), "
        "(SELECT s.mode FROM efile_share s WHERE s.file_id = f.id AND s.unit_id = $2 "
        "AND (s.until_at IS NULL OR s.until_at > $3)), "
        "(SELECT COUNT(*) FROM efile_file_access x WHERE x.file_id = f.id "
        "AND x.user_id = $1) FROM efile_file f WHERE f.id = $4",
        DB_PARAMS(DB_INT(who->user_id), DB_INT(who->unit_id), DB_INT(kr_now()), DB_INT(file_id)),
        &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        int64_t unit = db_column_int64(st, 0);
        bool restricted = db_column_int64(st, 1) != 0;
        bool named = db_column_int64(st, 2) == who->user_id || db_column_int64(st, 4) > 0;
        const char *mode = db_column_text(st, 3);
        if (restricted && !named)
            *out = EFILE_NONE;
        else if (works_in(who, unit))
            *out = EFILE_WRITE;
        else if (mode && strcmp(mode, "write") == 0 && !restricted &&
                 (who->roles & (ACCOUNT_ROLE_CLERK | ACCOUNT_ROLE_HEAD_OF_UNIT)))
            *out = EFILE_WRITE;
        else if (mode || restricted || (who->roles & ACCOUNT_ROLE_RECORDS_MANAGER))
            *out = EFILE_READ;
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

/* KR_OK when who has at least want on file_id; KR_ERR_NOT_FOUND when the
 * file is invisible, KR_ERR_FORBIDDEN when only readable. */
static int require(struct db_conn *conn, const struct efile_actor *who, int64_t file_id,
                   enum efile_access want, struct kr_error *err)
{
    enum efile_access have;
    int rc = efile_file_access(conn, who, file_id, &have, err);
    if (rc)
        return rc;
    if (have == EFILE_NONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    if (have < want)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "you may read this file but not change it");
    return KR_OK;
}

int efile_require(struct db_conn *conn, const struct efile_actor *who, int64_t file_id, bool write,
                  struct kr_error *err)
{
    return require(conn, who, file_id, write ? EFILE_WRITE : EFILE_READ, err);
}

/* ---- Reading files ------------------------------------------------------------------ */

void efile_read_file(struct db_stmt *st, struct arena *a, struct efile_file *f)
{
    memset(f, 0, sizeof(*f));
    f->id = db_column_int64(st, 0);
    f->plan_item_id = db_column_int64(st, 1);
    f->unit_id = db_column_int64(st, 2);
    f->reference = db_column_strdup(st, 3, a);
    f->title = db_column_strdup(st, 4, a);
    f->parties = db_column_strdup(st, 5, a);
    f->case_ref = db_column_strdup(st, 6, a);
    f->status = db_column_strdup(st, 7, a);
    f->restricted = db_column_int64(st, 8) != 0;
    f->legal_hold = db_column_int64(st, 9) != 0;
    f->opened_at = db_column_int64(st, 10);
    f->closed_at = db_column_int64(st, 11);
    f->disposal_at = db_column_int64(st, 12);
    f->retention_start_at = db_column_int64(st, 13);
    f->disposal = db_column_strdup(st, 14, a);
    f->version = (int)db_column_int64(st, 15);
    f->plan_number = db_column_strdup(st, 16, a);
    f->plan_title = db_column_strdup(st, 17, a);
    f->unit_code = db_column_strdup(st, 18, a);
}

/* The file row without an access check. */
int efile_load_file(struct db_conn *conn, struct arena *a, int64_t id, struct efile_file *out,
                    struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, "SELECT " FILE_COLUMNS FILE_FROM " WHERE f.id = $1",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW)
        efile_read_file(st, a, out);
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    if (rc < 0)
        return rc;
    struct efile_plan_item p;
    rc = efile_plan_effective(conn, a, out->plan_item_id, &p, err);
    out->evaluation = p.eff_evaluation;
    out->retention_years = p.eff_retention_years;
    return rc;
}

struct view_ctx {
    const struct efile_actor *who;
    int64_t id;
};

static int audit_view(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct view_ctx *v = arg;
    return efile_audit_file(conn, v->who, "efile.file.view", v->id, NULL, err);
}

int efile_file_get(struct db_conn *conn, struct arena *a, const struct efile_actor *who, int64_t id,
                   bool audit, struct efile_file *out, struct kr_error *err)
{
    enum efile_access acc;
    int rc = efile_file_access(conn, who, id, &acc, err);
    if (rc)
        return rc;
    if (acc == EFILE_NONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    rc = efile_load_file(conn, a, id, out, err);
    if (rc)
        return rc;
    out->access = acc;
    if (!audit)
        return KR_OK;
    struct view_ctx v = {who, id};
    return db_transact(conn, audit_view, &v, err);
}

static char *like_pattern(struct arena *a, const char *q)
{
    struct buf b;
    buf_init(&b, 512);
    buf_putc(&b, '%');
    for (; q && *q; q++) {
        char c = *q >= 'A' && *q <= 'Z' ? (char)(*q + 32) : *q;
        if (c == '%' || c == '_' || c == '\\')
            buf_putc(&b, '\\');
        buf_putc(&b, c);
    }
    buf_putc(&b, '%');
    char *s = buf_status(&b) ? NULL : arena_strdup(a, buf_cstr(&b));
    buf_release(&b);
    return s;
}

#define LIST_WHERE                                                                                 \
    " AND ($4 = '%' OR LOWER(f.reference) LIKE $4 ESCAPE '\\' OR LOWER(f.title) LIKE $4 "          \
    "ESCAPE '\\') AND ($5 = 0 OR f.plan_item_id = $5) AND ($6 = '' OR f.status = $6) "             \
    "ORDER BY f.opened_at DESC, f.id DESC LIMIT $7 OFFSET $8"

int efile_file_list(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                    const struct efile_file_filter *f, struct efile_file **out, size_t *count,
                    struct kr_error *err)
{
    unsigned limit = f->limit && f->limit <= 200 ? f->limit : 50;
    if (f->query && strlen(f->query) > 200)
        return kr_error_set(err, KR_ERR_INVALID, "query: at most 200 characters");
    char *pat = like_pattern(a, f->query);
    *out = arena_calloc(a, limit, sizeof(**out));
    if (!pat || !*out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    bool all = (who->roles & ACCOUNT_ROLE_RECORDS_MANAGER) != 0;
    const char *sql =
        all ? "SELECT " FILE_COLUMNS FILE_FROM " WHERE " EFILE_READABLE_ALL_SQL LIST_WHERE
            : "SELECT " FILE_COLUMNS FILE_FROM " WHERE " EFILE_READABLE_SQL LIST_WHERE;
    struct db_stmt *st;
    int rc =
        db_query(conn, sql,
                 DB_PARAMS(DB_INT(who->user_id), DB_INT(who->unit_id), DB_INT(kr_now()),
                           DB_TEXT(pat), DB_INT(f->plan_item_id),
                           DB_TEXT(f->status ? f->status : ""), DB_INT(limit), DB_INT(f->offset)),
                 &st, err);
    if (rc)
        return rc;
    size_t n = 0;
    while ((rc = db_step(st, err)) == DB_ROW && n < limit)
        efile_read_file(st, a, &(*out)[n++]);
    db_finish(st);
    *count = n;
    return rc < 0 ? rc : KR_OK;
}

/* ---- Creating --------------------------------------------------------------------- */

struct create_ctx {
    struct arena *a;
    const struct efile_actor *who;
    const struct efile_file_new *in;
    int64_t now, id;
    char *ref;
};

static int next_reference(struct db_conn *conn, struct create_ctx *c, int64_t unit,
                          struct kr_error *err)
{
    int year = year_of(c->now);
    int64_t seq;
    int rc = db_query_int64(conn,
                            "INSERT INTO efile_counter (plan_item_id, unit_id, year, last) "
                            "VALUES ($1, $2, $3, 1) ON CONFLICT (plan_item_id, unit_id, year) "
                            "DO UPDATE SET last = efile_counter.last + 1 RETURNING last",
                            DB_PARAMS(DB_INT(c->in->plan_item_id), DB_INT(unit), DB_INT(year)),
                            &seq, err);
    if (rc)
        return rc;
    char *plan = NULL, *code = NULL;
    rc = db_query_text(conn, "SELECT number FROM efile_plan_item WHERE id = $1",
                       DB_PARAMS(DB_INT(c->in->plan_item_id)), c->a, &plan, err);
    if (rc == KR_OK)
        rc = db_query_text(conn, "SELECT code FROM account_org_unit WHERE id = $1",
                           DB_PARAMS(DB_INT(unit)), c->a, &code, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_INVALID, "plan item or unit unknown");
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, REFERENCE_MAX);
    rc = expand(reference_pattern, plan, seq, year, code, &b);
    c->ref = rc ? NULL : arena_strdup(c->a, buf_cstr(&b));
    buf_release(&b);
    if (rc || !c->ref)
        return kr_error_set(err, rc ? rc : KR_ERR_NOMEM, "cannot build the file reference");
    return KR_OK;
}

static int add_named(struct db_conn *conn, struct create_ctx *c, struct kr_error *err)
{
    for (size_t i = 0; i < c->in->named_count; i++) {
        int rc = db_exec(conn,
                         "INSERT INTO efile_file_access (file_id, user_id) VALUES ($1, $2) "
                         "ON CONFLICT DO NOTHING",
                         DB_PARAMS(DB_INT(c->id), DB_INT(c->in->named_users[i])), NULL, err);
        if (rc == KR_ERR_CONFLICT)
            return kr_error_set(err, KR_ERR_INVALID, "named person %lld unknown",
                                (long long)c->in->named_users[i]);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int create_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct create_ctx *c = arg;
    const struct efile_file_new *in = c->in;
    int64_t unit = in->unit_id ? in->unit_id : c->who->unit_id;
    if (!works_in(c->who, unit))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "only clerks of the owning unit create files");
    struct efile_plan_item p;
    int rc = efile_plan_effective(conn, c->a, in->plan_item_id, &p, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_INVALID, "plan item: unknown");
    if (rc == KR_OK)
        rc = next_reference(conn, c, unit, err);
    if (rc)
        return rc;
    rc = db_query_int64(
        conn,
        "INSERT INTO efile_file (plan_item_id, unit_id, reference, title, parties, case_ref, "
        "restricted, retention_start_at, opened_at, created_by, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING id",
        DB_PARAMS(DB_INT(in->plan_item_id), DB_INT(unit), DB_TEXT(c->ref), DB_TEXT(in->title),
                  DB_TEXT(in->parties ? in->parties : ""),
                  in->case_ref ? DB_TEXT(in->case_ref) : DB_NULL, DB_INT(in->restricted),
                  in->retention_start_at ? DB_INT(in->retention_start_at) : DB_NULL, DB_INT(c->now),
                  EFILE_BY(c->who)),
        &c->id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT, "the file reference %s exists already", c->ref);
    if (rc == KR_OK)
        rc = add_named(conn, c, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, c->who, "efile.file.create", c->id,
                            json_pack("{s:s, s:s, s:s, s:b}", "reference", c->ref, "title",
                                      in->title, "plan", p.number, "restricted", in->restricted),
                            err);
}

int efile_file_create(struct db_conn *conn, struct arena *a, const struct efile_actor *who,
                      const struct efile_file_new *in, int64_t now, int64_t *id, char **ref,
                      struct kr_error *err)
{
    if (!efile_text_ok(in->title, EFILE_TITLE_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "title: 1 to 500 characters");
    if (in->parties && *in->parties && !efile_text_ok(in->parties, EFILE_TEXT_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "parties: at most 2000 characters");
    if (in->case_ref && !efile_text_ok(in->case_ref, 64, false))
        return kr_error_set(err, KR_ERR_INVALID, "case: 1 to 64 characters");
    if (in->named_count > NAMED_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "at most %d named people", NAMED_MAX);
    struct create_ctx c = {a, who, in, now, 0, NULL};
    int rc = db_transact(conn, create_in_tx, &c, err);
    if (rc)
        return rc;
    if (id)
        *id = c.id;
    if (ref)
        *ref = c.ref;
    return KR_OK;
}

/* ---- Changing state (optimistic locking) -------------------------------------------- */

/* Bump the version of file id from version (KR_ERR_CONFLICT when stale). */
int efile_bump(struct db_conn *conn, int64_t id, int version, int64_t now, struct kr_error *err)
{
    int64_t changes;
    int rc = db_exec(conn,
                     "UPDATE efile_file SET version = version + 1, updated_at = $3 "
                     "WHERE id = $1 AND version = $2",
                     DB_PARAMS(DB_INT(id), DB_INT(version), DB_INT(now)), &changes, err);
    if (rc)
        return rc;
    if (changes == 0)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "the file was changed by someone else meanwhile; reload it");
    return KR_OK;
}

struct state_ctx {
    const struct efile_actor *who;
    int64_t id, now, plan;
    int version;
    const char *reason;
    bool hold;
    int op; /* 0 close, 1 reopen, 2 move, 3 hold */
};

static int do_close(struct db_conn *conn, struct state_ctx *s, struct arena *a,
                    const struct efile_file *f, struct kr_error *err)
{
    if (strcmp(f->status, "open") != 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "the file is closed already");
    struct efile_plan_item p;
    int rc = efile_plan_effective(conn, a, f->plan_item_id, &p, err);
    if (rc)
        return rc;
    int64_t start =
        strcmp(p.eff_event, "date") == 0 && f->retention_start_at ? f->retention_start_at : s->now;
    int64_t due = efile_disposal_date(start, p.eff_retention_years);
    rc = db_exec(conn,
                 "UPDATE efile_file SET status = 'closed', closed_at = $2, disposal_at = $3 "
                 "WHERE id = $1",
                 DB_PARAMS(DB_INT(s->id), DB_INT(s->now), due ? DB_INT(due) : DB_NULL), NULL, err);
    if (rc)
        return rc;
    char when[32] = "";
    if (due)
        kr_time_format_rfc3339(due, when, sizeof(when));
    return efile_audit_file(
        conn, s->who, "efile.file.close", s->id,
        json_pack("{s:s?, s:s}", "disposal_at", due ? when : NULL, "evaluation", p.eff_evaluation),
        err);
}

static int do_reopen(struct db_conn *conn, struct state_ctx *s, const struct efile_file *f,
                     struct kr_error *err)
{
    if (strcmp(f->status, "closed") != 0 || f->disposal)
        return kr_error_set(err, KR_ERR_CONFLICT, "only a closed file can be reopened");
    if (!efile_text_ok(s->reason, EFILE_TEXT_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "reason: say why the file is reopened");
    int rc = db_exec(conn,
                     "UPDATE efile_file SET status = 'open', closed_at = NULL, disposal_at = NULL "
                     "WHERE id = $1",
                     DB_PARAMS(DB_INT(s->id)), NULL, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, s->who, "efile.file.reopen", s->id,
                            json_pack("{s:s}", "reason", s->reason), err);
}

static int do_move(struct db_conn *conn, struct state_ctx *s, struct arena *a,
                   const struct efile_file *f, struct kr_error *err)
{
    if (strcmp(f->status, "open") != 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "only open files can be moved");
    struct efile_plan_item p;
    int rc = efile_plan_effective(conn, a, s->plan, &p, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_INVALID, "plan item: unknown");
    if (rc == KR_OK)
        rc = db_exec(conn, "UPDATE efile_file SET plan_item_id = $2 WHERE id = $1",
                     DB_PARAMS(DB_INT(s->id), DB_INT(s->plan)), NULL, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, s->who, "efile.file.move", s->id,
                            json_pack("{s:s, s:s}", "from", f->plan_number, "to", p.number), err);
}

static int do_hold(struct db_conn *conn, struct state_ctx *s, const struct efile_file *f,
                   struct kr_error *err)
{
    bool may = (s->who->roles & ACCOUNT_ROLE_RECORDS_MANAGER) ||
               ((s->who->roles & ACCOUNT_ROLE_HEAD_OF_UNIT) && s->who->unit_id == f->unit_id);
    if (!may)
        return kr_error_set(err, KR_ERR_FORBIDDEN,
                            "only records managers and the head of the unit set a legal hold");
    if (f->disposal)
        return kr_error_set(err, KR_ERR_CONFLICT, "the file was disposed of");
    if (!efile_text_ok(s->reason, EFILE_TEXT_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "reason: say why");
    int rc = db_exec(conn, "UPDATE efile_file SET legal_hold = $2 WHERE id = $1",
                     DB_PARAMS(DB_INT(s->id), DB_INT(s->hold)), NULL, err);
    if (rc)
        return rc;
    return efile_audit_file(conn, s->who, s->hold ? "efile.file.hold" : "efile.file.release", s->id,
                            json_pack("{s:s}", "reason", s->reason), err);
}

static int state_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct state_ctx *s = arg;
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct efile_file f;
    int rc = require(conn, s->who, s->id, s->op == 3 ? EFILE_READ : EFILE_WRITE, err);
    if (rc == KR_OK)
        rc = efile_load_file(conn, a, s->id, &f, err);
    if (rc == KR_OK)
        rc = efile_bump(conn, s->id, s->version, s->now, err);
    if (rc == KR_OK) {
        switch (s->op) {
        case 0: rc = do_close(conn, s, a, &f, err); break;
        case 1: rc = do_reopen(conn, s, &f, err); break;
        case 2: rc = do_move(conn, s, a, &f, err); break;
        default: rc = do_hold(conn, s, &f, err); break;
        }
    }
    arena_free(a);
    return rc;
}

int efile_file_close(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                     int64_t now, struct kr_error *err)
{
    struct state_ctx s = {.who = who, .id = id, .now = now, .version = version, .op = 0};
    return db_transact(conn, state_in_tx, &s, err);
}

int efile_file_reopen(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                      const char *reason, int64_t now, struct kr_error *err)
{
    struct state_ctx s = {
        .who = who, .id = id, .now = now, .version = version, .reason = reason, .op = 1};
    return db_transact(conn, state_in_tx, &s, err);
}

int efile_file_move(struct db_conn *conn, const struct efile_actor *who, int64_t id, int version,
                    int64_t plan_item_id, int64_t now, struct kr_error *err)
{
    struct state_ctx s = {
        .who = who, .id = id, .now = now, .version = version, .plan = plan_item_id, .op = 2};
    return db_transact(conn, state_in_tx, &s, err);
}

static int current_version(struct db_conn *conn, int64_t id, int *version, struct kr_error *err)
{
    int64_t v;
    int rc = db_query_int64(conn, "SELECT version FROM efile_file WHERE id = $1",
                            DB_PARAMS(DB_INT(id)), &v, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such file");
    *version = (int)v;
    return rc;
}

int efile_file_hold(struct db_conn *conn, const struct efile_actor *who, int64_t id, bool hold,
                    const char *reason, int64_t now, struct kr_error *err)
{
    struct state_ctx s = {
        .who = who, .id = id, .now = now, .reason = reason, .hold = hold, .op = 3};
    int rc = current_version(conn, id, &s.version, err);
    return rc ? rc : db_transact(conn, state_in_tx, &s, err);
}

/* ---- Sharing (naming people: named.c) ------------------------------------------ */

struct share_ctx {
    const struct efile_actor *who;
    int64_t id, unit, until, now;
    const char *mode;
};

static int share_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct share_ctx *s = arg;
    int rc = require(conn, s->who, s->id, EFILE_WRITE, err);
    if (rc)
        return rc;
    if (!s->mode)
        rc = db_exec(conn, "DELETE FROM efile_share WHERE file_id = $1 AND unit_id = $2",
                     DB_PARAMS(DB_INT(s->id), DB_INT(s->unit)), NULL, err);
    else
        rc = db_exec(conn,
                     "INSERT INTO efile_share (file_id, unit_id, mode, until_at, created_by, "
                     "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (file_id, unit_id) "
                     "DO UPDATE SET mode = $3, until_at = $4",
                     DB_PARAMS(DB_INT(s->id), DB_INT(s->unit), DB_TEXT(s->mode),
                               s->until ? DB_INT(s->until) : DB_NULL, DB_INT(s->who->user_id),
                               DB_INT(s->now)),
                     NULL, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_INVALID, "unit: unknown");
    if (rc)
        return rc;
    return efile_audit_file(conn, s->who, s->mode ? "efile.file.share" : "efile.file.unshare",
                            s->id,
                            json_pack("{s:I, s:s?, s:I}", "unit", (json_int_t)s->unit, "mode",
                                      s->mode, "until", (json_int_t)s->until),
                            err);
}

int efile_file_share(struct db_conn *conn, const struct efile_actor *who, int64_t id,
                     int64_t unit_id, const char *mode, int64_t until, int64_t now,
                     struct kr_error *err)
{
    if (mode && strcmp(mode, "read") != 0 && strcmp(mode, "write") != 0)
        return kr_error_set(err, KR_ERR_INVALID, "mode: read or write");
    if (mode && until && until <= now)
        return kr_error_set(err, KR_ERR_INVALID, "until: must lie in the future");
    if (unit_id == who->unit_id)
        return kr_error_set(err, KR_ERR_INVALID, "unit: the file belongs to it already");
    struct share_ctx s = {who, id, unit_id, until, now, mode};
    return db_transact(conn, share_in_tx, &s, err);
}
