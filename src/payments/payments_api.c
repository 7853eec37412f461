/*
 * payments_api.c - the JSON API under /api/payments/ (cash office session
 * with X-CSRF-Token for changes; errors as RFC 9457 problem+json by the
 * server), the providers' notification endpoint and the citizen's "pay
 * online" start.
 */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "payments/payments_provider.h"
#include "payments/payments_web.h"

/* The request body as a JSON object (application/json only), stolen into
 * the arena. */
static int json_body(struct http_request *req, json_t **out, struct kr_error *err)
{
    const char *type = http_header(req, "Content-Type");
    if (!type || strncmp(type, "application/json", 16) != 0)
        return kr_error_set(err, KR_ERR_INVALID, "send application/json");
    size_t len;
    const char *body = http_body(req, &len);
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return kr_error_set(err, KR_ERR_INVALID, "the body must be a JSON object");
    }
    if (arena_defer(http_arena(req), (void (*)(void *))json_decref, j) != KR_OK)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *out = j;
    return KR_OK;
}

/* The preamble of the cash office's changes: the user with the role, the
 * connection and the JSON body. */
static int cash_json(struct http_request *req, struct payments_cash *c, json_t **body,
                     struct kr_error *err)
{
    int rc = payments_cash_office(req, c, err);
    return rc ? rc : json_body(req, body, err);
}

/* The receivable named by :kz, for the cash office. */
static int cash_receivable(struct http_request *req, struct payments_cash *c,
                           struct payments_receivable *r, struct kr_error *err)
{
    int rc = payments_cash_office(req, c, err);
    return rc ? rc
              : payments_receivable_find(c->conn, http_arena(req), http_param(req, "kz"), r, err);
}

/* Answer with receivable id as it is now (after a change). */
static int reply_receivable(struct http_request *req, struct db_conn *conn, unsigned status,
                            int64_t id, struct kr_error *err)
{
    struct payments_receivable r;
    int rc = payments_receivable_get(conn, http_arena(req), id, &r, err);
    return rc ? rc : http_json(req, status, payments_receivable_json(req, &r, false));
}

/* Answer with a list of receivables: {"receivables": [...]}. */
static int reply_list(struct http_request *req, const struct payments_receivable *list, size_t n)
{
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, payments_receivable_json(req, &list[i], false));
    return http_json(req, 200, json_pack("{s:o}", "receivables", items));
}

static int api_list(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    struct payments_query q = {.text = http_query(req, "q"), .limit = 200};
    const char *amount = http_query(req, "amount");
    if (amount && payments_amount_parse(amount, strlen(amount), false, false, &q.amount_cents, err))
        return KR_ERR_INVALID;
    const char *open = http_query(req, "open");
    q.open_only = !open || strcmp(open, "0") != 0;
    struct payments_receivable *list;
    size_t n;
    rc = payments_receivables_search(c.conn, http_arena(req), &q, &list, &n, err);
    return rc ? rc : reply_list(req, list, n);
}

static int api_create(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    json_t *j;
    int rc = cash_json(req, &c, &j, err);
    if (rc)
        return rc;
    struct payments_new_receivable nr = {0};
    const char *amount = NULL;
    json_int_t due = 0;
    if (json_unpack(j, "{s:s, s:s, s:s, s?s, s?I, s?s}", "debtor_name", &nr.debtor_name, "purpose",
                    &nr.purpose, "amount", &amount, "currency", &nr.currency, "due_at", &due,
                    "case_ref", &nr.case_ref) != 0)
        return kr_error_set(err, KR_ERR_INVALID,
                            "fields: debtor_name, purpose, amount (\"12.80\"), currency, due_at, "
                            "case_ref");
    nr.due_at = due;
    rc = payments_amount_parse(amount, strlen(amount), false, false, &nr.amount_cents, err);
    int64_t id;
    if (rc == KR_OK)
        rc = payments_receivable_create(c.conn, c.actor, &nr, &id, NULL, err);
    return rc ? rc : reply_receivable(req, c.conn, 201, id, err);
}

static int api_show(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    struct payments_receivable r;
    int rc = cash_receivable(req, &c, &r, err);
    return rc ? rc : http_json(req, 200, payments_receivable_json(req, &r, false));
}

static int api_cancel(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    struct payments_receivable r;
    json_t *j;
    int rc = cash_receivable(req, &c, &r, err);
    if (rc == KR_OK)
        rc = json_body(req, &j, err);
    if (rc)
        return rc;
    json_t *reason = json_object_get(j, "reason");
    rc = payments_receivable_close(c.conn, c.actor, r.id, true,
                                   json_is_string(reason) ? json_string_value(reason) : "", err);
    return rc ? rc : reply_receivable(req, c.conn, 200, r.id, err);
}

static int api_import(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    if (rc)
        return rc;
    size_t len;
    const char *body = http_body(req, &len);
    struct payments_import_result res;
    rc = payments_statement_import(c.conn, c.actor, body, body ? len : 0, &res, err);
    if (rc)
        return rc;
    return http_json(req, 201,
                     json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "statement_id",
                               (json_int_t)res.statement_id, "entries", (json_int_t)res.entries,
                               "matched", (json_int_t)res.matched, "unmatched",
                               (json_int_t)res.unmatched, "duplicates", (json_int_t)res.duplicates,
                               "ignored", (json_int_t)res.ignored));
}

static int api_unmatched(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    struct payments_entry *list;
    size_t n;
    if (rc == KR_OK)
        rc = payments_entries_list(c.conn, http_arena(req), 0, 0, &list, &n, err);
    if (rc)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items,
                              json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)list[i].id,
                                        "amount_cents", (json_int_t)list[i].amount_cents,
                                        "debtor_name", list[i].debtor_name, "remittance",
                                        list[i].remittance, "ref", list[i].ref));
    return http_json(req, 200, json_pack("{s:o}", "entries", items));
}

static int api_assign(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    json_t *j;
    int rc = cash_json(req, &c, &j, err);
    if (rc)
        return rc;
    int64_t entry = 0;
    const char *id = http_param(req, "id");
    if (!id || kr_parse_int64(id, 1, INT64_MAX, &entry) != KR_OK)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such entry");
    json_t *kz = json_object_get(j, "kassenzeichen");
    struct payments_receivable r;
    rc = payments_receivable_find(c.conn, http_arena(req), json_string_value(kz), &r, err);
    if (rc == KR_OK)
        rc = payments_entry_assign(c.conn, c.actor, entry, r.id, err);
    return rc ? rc : reply_receivable(req, c.conn, 200, r.id, err);
}

static int api_dunning(struct http_request *req, struct kr_error *err)
{
    struct payments_cash c;
    int rc = payments_cash_office(req, &c, err);
    struct payments_receivable *list;
    size_t n;
    if (rc == KR_OK)
        rc = payments_dunning_list(c.conn, http_arena(req), kr_now(),
                                   http_config(req)->payments_grace_days, &list, &n, err);
    return rc ? rc : reply_list(req, list, n);
}

/* POST /api/payments/providers/:name/notify - signed by the provider. */
static int api_notify(struct http_request *req, struct kr_error *err)
{
    const struct payments_provider *p = payments_provider_find(http_param(req, "name"));
    if (!p)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such payment provider");
    size_t len;
    const char *body = http_body(req, &len);
    int rc = p->verify(http_config(req), body ? body : "", body ? len : 0,
                       http_header(req, "X-Payment-Signature"), err);
    struct db_conn *conn;
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    bool duplicate = false;
    if (rc == KR_OK)
        rc = payments_notification_apply(conn, p->name, body ? body : "", body ? len : 0,
                                         &duplicate, err);
    return rc ? rc : http_json(req, 200, json_pack("{s:b}", "duplicate", duplicate));
}

/* POST /api/payments/pay/:kz {"provider": "bank_transfer"} - anyone with
 * the Kassenzeichen may start paying it; the answer says where to go. */
static int api_pay(struct http_request *req, struct kr_error *err)
{
    json_t *j;
    struct db_conn *conn;
    int rc = json_body(req, &j, err);
    if (rc == KR_OK)
        rc = http_db(req, &conn, err);
    if (rc)
        return rc;
    json_t *name = json_object_get(j, "provider");
    const struct payments_provider *p =
        payments_provider_find(json_is_string(name) ? json_string_value(name) : "bank_transfer");
    if (!p)
        return kr_error_set(err, KR_ERR_INVALID, "provider: unknown");
    struct payments_receivable r;
    rc = payments_receivable_find(conn, http_arena(req), http_param(req, "kz"), &r, err);
    struct payments_payment pay;
    if (rc == KR_OK)
        rc = p->create(conn, http_config(req), "public", &r, http_arena(req), &pay, err);
    if (rc)
        return rc;
    return http_json(req, 201,
                     json_pack("{s:s, s:s, s:I, s:s}", "payment_ref", pay.provider_ref, "redirect",
                               pay.redirect, "amount_cents", (json_int_t)pay.amount_cents, "status",
                               pay.status));
}

int payments_api_routes(struct http_server *s, struct kr_error *err)
{
    static const struct {
        unsigned method;
        const char *pattern;
        http_handler handler;
        unsigned flags;
    } routes[] = {
        {HTTP_GET, "/api/payments/receivables", api_list, 0},
        {HTTP_POST, "/api/payments/receivables", api_create, 0},
        {HTTP_GET, "/api/payments/receivables/:kz", api_show, 0},
        {HTTP_POST, "/api/payments/receivables/:kz/cancel", api_cancel, 0},
        {HTTP_POST, "/api/payments/statements", api_import, 0},
        {HTTP_GET, "/api/payments/unmatched", api_unmatched, 0},
        {HTTP_POST, "/api/payments/unmatched/:id/assign", api_assign, 0},
        {HTTP_GET, "/api/payments/dunning", api_dunning, 0},
        {HTTP_POST, "/api/payments/providers/:name/notify", api_notify, HTTP_ROUTE_NO_CSRF},
        {HTTP_POST, "/api/payments/pay/:kz", api_pay, HTTP_ROUTE_NO_CSRF},
    };
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = http_route(s, routes[i].method, routes[i].pattern, routes[i].handler, routes[i].flags,
                        err);
    return rc;
}
