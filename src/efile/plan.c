/*
 * plan.c - the file plan (Aktenplan): items, inheritance of retention,
 * evaluation and responsible unit, and the list in tree order.
 * Import and export are in plan_io.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/text.h"
#include "core/util.h"
#include "efile/efile_internal.h"

#define PLAN_NUMBER_MAX 32
#define PLAN_DEPTH_MAX 16

void efile_actor_name(const struct efile_actor *who, char out[32])
{
    if (who->user_id > 0)
        (void)snprintf(out, 32, "user:%lld", (long long)who->user_id);
    else
        (void)snprintf(out, 32, "system");
}

int efile_audit(struct db_conn *conn, const char *actor, const char *action, const char *type,
                int64_t id, json_t *details, struct kr_error *err)
{
    char idtext[24];
    (void)snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    struct audit_event ev = {actor, action, type, idtext, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

int efile_audit_file(struct db_conn *conn, const struct efile_actor *who, const char *action,
                     int64_t file_id, json_t *details, struct kr_error *err)
{
    char actor[32];
    efile_actor_name(who, actor);
    return efile_audit(conn, actor, action, "efile_file", file_id, details, err);
}

bool efile_text_ok(const char *s, size_t max, bool multiline)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max || !text_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (multiline && (c == '\n' || c == '\r' || c == '\t'))
            continue;
        if (c < 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

int efile_transact(struct db_conn *conn, int (*fn)(struct db_conn *, void *, struct kr_error *),
                   void *arg, struct kr_error *err)
{
    return db_transact(conn, fn, arg, err);
}

/* Numbers: digits and dots, 1-32 bytes, no leading/trailing/double dot. */
static bool number_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > PLAN_NUMBER_MAX || n[0] == '.' || n[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (n[i] == '.' && n[i + 1] == '.')
            return false;
        if (n[i] != '.' && (n[i] < '0' || n[i] > '9'))
            return false;
    }
    return true;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (s && strcmp(s, *set) == 0)
            return true;
    return false;
}

static const char *const events[] = {"closed", "date", NULL};
static const char *const evaluations[] = {"A", "V", "B", NULL};

/* ---- Reading ------------------------------------------------------------------ */

#define ITEM_COLUMNS                                                                               \
    "id, COALESCE(parent_id, 0), number, title, description, retention_years, retention_event, "   \
    "evaluation, COALESCE(unit_id, 0)"

static void read_item(struct db_stmt *st, struct arena *a, struct efile_plan_item *it)
{
    memset(it, 0, sizeof(*it));
    it->id = db_column_int64(st, 0);
    it->parent_id = db_column_int64(st, 1);
    it->number = db_column_strdup(st, 2, a);
    it->title = db_column_strdup(st, 3, a);
    it->description = db_column_strdup(st, 4, a);
    it->retention_years = db_column_is_null(st, 5) ? EFILE_INHERIT : (int)db_column_int64(st, 5);
    it->retention_event = db_column_strdup(st, 6, a);
    it->evaluation = db_column_strdup(st, 7, a);
    it->unit_id = db_column_int64(st, 8);
}

/* Fill the effective values of it from its parent's (NULL: the root
 * defaults). */
static void inherit(struct efile_plan_item *it, const struct efile_plan_item *parent)
{
    it->eff_retention_years = parent ? parent->eff_retention_years : 10;
    it->eff_event = parent ? parent->eff_event : "closed";
    it->eff_evaluation = parent ? parent->eff_evaluation : "B";
    it->eff_unit_id = parent ? parent->eff_unit_id : 0;
    if (it->retention_years != EFILE_INHERIT)
        it->eff_retention_years = it->retention_years;
    if (it->retention_event)
        it->eff_event = it->retention_event;
    if (it->evaluation)
        it->eff_evaluation = it->evaluation;
    if (it->unit_id)
        it->eff_unit_id = it->unit_id;
}

static const char *unit_code(const struct account_org_unit *units, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (units[i].id == id)
            return units[i].code;
    return NULL;
}

int efile_plan_effective(struct db_conn *conn, struct arena *a, int64_t id,
                         struct efile_plan_item *out, struct kr_error *err)
{
    struct efile_plan_item chain[PLAN_DEPTH_MAX];
    size_t n = 0;
    for (int64_t cur = id; cur && n < PLAN_DEPTH_MAX; cur = chain[n - 1].parent_id) {
        struct db_stmt *st;
        int rc = db_query(conn, "SELECT " ITEM_COLUMNS " FROM efile_plan_item WHERE id = $1",
                          DB_PARAMS(DB_INT(cur)), &st, err);
        if (rc)
            return rc;
        rc = db_step(st, err);
        if (rc == DB_ROW)
            read_item(st, a, &chain[n++]);
        db_finish(st);
        if (rc < 0)
            return rc;
        if (rc == DB_DONE)
            return kr_error_set(err, KR_ERR_NOT_FOUND, "no such plan item");
    }
    for (size_t i = n; i-- > 0;)
        inherit(&chain[i], i + 1 < n ? &chain[i + 1] : NULL);
    *out = chain[0];
    out->depth = (int)n - 1;
    int64_t children = 0;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_plan_item WHERE parent_id = $1",
                            DB_PARAMS(DB_INT(id)), &children, err);
    out->has_children = children > 0;
    if (rc == KR_OK && out->eff_unit_id) {
        struct account_org_unit *units;
        size_t nunits;
        rc = accounts_org_units_list(conn, a, &units, &nunits, err);
        if (rc == KR_OK)
            out->eff_unit_code = unit_code(units, nunits, out->eff_unit_id);
    }
    return rc;
}

int efile_plan_get(struct db_conn *conn, struct arena *a, int64_t id, struct efile_plan_item *out,
                   struct kr_error *err)
{
    return efile_plan_effective(conn, a, id, out, err);
}

static int load_items(struct db_conn *conn, struct arena *a, struct efile_plan_item **items,
                      size_t *count, struct kr_error *err)
{
    int64_t total;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_plan_item", NULL, 0, &total, err);
    if (rc)
        return rc;
    *items = arena_calloc(a, (size_t)total + 1, sizeof(**items));
    if (!*items)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct db_stmt *st;
    rc = db_query(conn, "SELECT " ITEM_COLUMNS " FROM efile_plan_item ORDER BY number", NULL, 0,
                  &st, err);
    if (rc)
        return rc;
    size_t n = 0;
    while ((rc = db_step(st, err)) == DB_ROW && n < (size_t)total)
        read_item(st, a, &(*items)[n++]);
    db_finish(st);
    *count = n;
    return rc < 0 ? rc : KR_OK;
}

/* Append the subtree of parent to out in depth-first order; items are
 * sorted by number, so siblings come in order. */
static void walk(struct efile_plan_item *items, size_t n, int64_t parent,
                 const struct efile_plan_item *p, int depth, struct efile_plan_item *out, size_t *m)
{
    if (depth > PLAN_DEPTH_MAX)
        return;
    for (size_t i = 0; i < n; i++) {
        if (items[i].parent_id != parent)
            continue;
        struct efile_plan_item it = items[i];
        inherit(&it, p);
        it.depth = depth;
        size_t at = (*m)++;
        out[at] = it;
        size_t before = *m;
        walk(items, n, it.id, &out[at], depth + 1, out, m);
        out[at].has_children = *m > before;
    }
}

int efile_plan_list(struct db_conn *conn, struct arena *a, struct efile_plan_item **items,
                    size_t *count, struct kr_error *err)
{
    struct efile_plan_item *raw = NULL;
    size_t n = 0;
    int rc = load_items(conn, a, &raw, &n, err);
    if (rc)
        return rc;
    struct account_org_unit *units = NULL;
    size_t nunits = 0;
    rc = accounts_org_units_list(conn, a, &units, &nunits, err);
    if (rc)
        return rc;
    struct efile_plan_item *out = arena_calloc(a, n + 1, sizeof(*out));
    if (!out)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    size_t m = 0;
    walk(raw, n, 0, NULL, 0, out, &m);
    for (size_t i = 0; i < m; i++)
        out[i].eff_unit_code = unit_code(units, nunits, out[i].eff_unit_id);
    *items = out;
    *count = m;
    return KR_OK;
}

/* ---- Changing ------------------------------------------------------------------ */

int efile_plan_check(const struct efile_plan_input *in, struct kr_error *err)
{
    if (!number_ok(in->number))
        return kr_error_set(err, KR_ERR_INVALID, "number: 1 to 32 digits and dots, like 51.20.03");
    if (in->parent && *in->parent && !number_ok(in->parent))
        return kr_error_set(err, KR_ERR_INVALID, "parent: not a plan number");
    if (!efile_text_ok(in->title, EFILE_TITLE_MAX, false))
        return kr_error_set(err, KR_ERR_INVALID, "title: 1 to 500 characters");
    if (in->description && *in->description &&
        !efile_text_ok(in->description, EFILE_TEXT_MAX, true))
        return kr_error_set(err, KR_ERR_INVALID, "description: at most 2000 characters");
    if (in->retention_years != EFILE_INHERIT && in->retention_years != EFILE_PERMANENT &&
        (in->retention_years < 0 || in->retention_years > EFILE_RETENTION_MAX))
        return kr_error_set(err, KR_ERR_INVALID,
                            "retention: %d is out of range (0 to 100 years or permanent)",
                            in->retention_years);
    if (in->retention_event && !one_of(in->retention_event, events))
        return kr_error_set(err, KR_ERR_INVALID, "event: closed or date");
    if (in->evaluation && !one_of(in->evaluation, evaluations))
        return kr_error_set(err, KR_ERR_INVALID, "evaluation: A, V or B");
    return KR_OK;
}

/* Id of the plan item with number, 0 when there is none. */
static int find_number(struct db_conn *conn, const char *number, int64_t *id, struct kr_error *err)
{
    int rc = db_query_int64(conn, "SELECT id FROM efile_plan_item WHERE number = $1",
                            DB_PARAMS(DB_TEXT(number)), id, err);
    if (rc == KR_ERR_NOT_FOUND) {
        *id = 0;
        kr_error_clear(err);
        return KR_OK;
    }
    return rc;
}

/* KR_ERR_INVALID when parent is id itself or below it. */
static int check_cycle(struct db_conn *conn, int64_t id, int64_t parent, struct kr_error *err)
{
    for (int i = 0; parent && i < PLAN_DEPTH_MAX + 1; i++) {
        if (parent == id)
            return kr_error_set(err, KR_ERR_INVALID, "parent: an item cannot be below itself");
        int rc =
            db_query_int64(conn, "SELECT COALESCE(parent_id, 0) FROM efile_plan_item WHERE id = $1",
                           DB_PARAMS(DB_INT(parent)), &parent, err);
        if (rc)
            return rc;
    }
    if (parent)
        return kr_error_set(err, KR_ERR_INVALID, "parent: the plan is deeper than 16 levels");
    return KR_OK;
}

struct save_ctx {
    const char *actor;
    const struct efile_plan_input *in;
    int64_t id;
};

static int resolve_refs(struct db_conn *conn, const struct efile_plan_input *in, int64_t *parent,
                        int64_t *unit, struct kr_error *err)
{
    *parent = 0;
    *unit = 0;
    if (in->parent && *in->parent) {
        int rc = find_number(conn, in->parent, parent, err);
        if (rc)
            return rc;
        if (!*parent)
            return kr_error_set(err, KR_ERR_INVALID, "parent: unknown plan item %s", in->parent);
    }
    if (in->unit_code && *in->unit_code) {
        struct arena *a = arena_new(4096);
        struct account_org_unit u;
        int rc = a ? accounts_org_unit_find(conn, a, in->unit_code, &u, err) : KR_ERR_NOMEM;
        arena_free(a);
        if (rc == KR_ERR_NOT_FOUND)
            return kr_error_set(err, KR_ERR_INVALID, "unit: unknown unit %s", in->unit_code);
        if (rc)
            return kr_error_set(err, rc, "unit: cannot look it up");
        *unit = u.id;
    }
    return KR_OK;
}

static int save_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct save_ctx *c = arg;
    const struct efile_plan_input *in = c->in;
    int64_t parent, unit, id;
    int rc = resolve_refs(conn, in, &parent, &unit, err);
    if (rc == KR_OK)
        rc = find_number(conn, in->number, &id, err);
    if (rc == KR_OK && id)
        rc = check_cycle(conn, id, parent, err);
    if (rc)
        return rc;
    int64_t now = kr_now();
    struct db_param p[] = {
        DB_TEXT(in->number),
        parent ? DB_INT(parent) : DB_NULL,
        DB_TEXT(in->title),
        DB_TEXT(in->description ? in->description : ""),
        in->retention_years == EFILE_INHERIT ? DB_NULL : DB_INT(in->retention_years),
        in->retention_event ? DB_TEXT(in->retention_event) : DB_NULL,
        in->evaluation ? DB_TEXT(in->evaluation) : DB_NULL,
        unit ? DB_INT(unit) : DB_NULL,
        DB_INT(now),
    };
    if (id)
        rc = db_exec(conn,
                     "UPDATE efile_plan_item SET parent_id = $2, title = $3, description = $4, "
                     "retention_years = $5, retention_event = $6, evaluation = $7, unit_id = $8, "
                     "updated_at = $9 WHERE number = $1",
                     p, KR_ARRAY_LEN(p), NULL, err);
    else
        rc = db_query_int64(conn,
                            "INSERT INTO efile_plan_item (number, parent_id, title, description, "
                            "retention_years, retention_event, evaluation, unit_id, created_at, "
                            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) "
                            "RETURNING id",
                            p, KR_ARRAY_LEN(p), &id, err);
    if (rc)
        return rc;
    c->id = id;
    return efile_audit(conn, c->actor, "efile.plan.save", "efile_plan", id,
                       json_pack("{s:s, s:s}", "number", in->number, "title", in->title), err);
}

int efile_plan_save(struct db_conn *conn, const char *actor, const struct efile_plan_input *in,
                    int64_t *id, struct kr_error *err)
{
    int rc = efile_plan_check(in, err);
    if (rc)
        return rc;
    struct save_ctx c = {actor, in, 0};
    rc = db_transact(conn, save_in_tx, &c, err);
    if (rc == KR_OK && id)
        *id = c.id;
    return rc;
}

struct delete_ctx {
    const char *actor;
    int64_t id;
};

static int delete_in_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct delete_ctx *c = arg;
    int64_t n;
    int rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_plan_item WHERE parent_id = $1",
                            DB_PARAMS(DB_INT(c->id)), &n, err);
    if (rc)
        return rc;
    if (n)
        return kr_error_set(err, KR_ERR_CONFLICT, "the plan item has %lld items below it",
                            (long long)n);
    rc = db_query_int64(conn, "SELECT COUNT(*) FROM efile_file WHERE plan_item_id = $1",
                        DB_PARAMS(DB_INT(c->id)), &n, err);
    if (rc)
        return rc;
    if (n)
        return kr_error_set(err, KR_ERR_CONFLICT, "the plan item has %lld files", (long long)n);
    int64_t changes;
    rc = db_exec(conn, "DELETE FROM efile_counter WHERE plan_item_id = $1",
                 DB_PARAMS(DB_INT(c->id)), NULL, err);
    if (rc == KR_OK)
        rc = db_exec(conn, "DELETE FROM efile_plan_item WHERE id = $1", DB_PARAMS(DB_INT(c->id)),
                     &changes, err);
    if (rc)
        return rc;
    if (!changes)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such plan item");
    return efile_audit(conn, c->actor, "efile.plan.delete", "efile_plan", c->id, NULL, err);
}

int efile_plan_delete(struct db_conn *conn, const char *actor, int64_t id, struct kr_error *err)
{
    struct delete_ctx c = {actor, id};
    return db_transact(conn, delete_in_tx, &c, err);
}
