/*
 * payments_provider.c - the provider registry, the built-in "bank_transfer"
 * provider, and verified, idempotent notifications.
 */
#include "payments/payments_provider.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/util.h"

#define MAX_PROVIDERS 8

void payments_hmac_hex(const char *key, const char *body, size_t len, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    kr_hex_encode(mac, sizeof(mac), out);
}

/* ---- bank_transfer --------------------------------------------------------------------- */

static int bt_create(struct db_conn *conn, const struct kr_config *cfg, const char *actor,
                     const struct payments_receivable *r, struct arena *a,
                     struct payments_payment *out, struct kr_error *err)
{
    (void)cfg;
    (void)actor;
    int64_t amount = payments_outstanding(r);
    if (amount == 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "nothing is outstanding");
    char rnd[17];
    kr_random_hex(rnd, 8);
    char *ref = arena_printf(a, "BT-%s-%s", r->kz, rnd);
    char *redirect = arena_printf(a, "/zahlung/%s", r->kz);
    if (!ref || !redirect)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int64_t now = kr_now(), id;
    int rc = db_query_int64(conn,
                            "INSERT INTO payments_payment (receivable_id, provider, provider_ref, "
                            "amount_cents, status, created_at, updated_at) VALUES ($1, "
                            "'bank_transfer', $2, $3, 'pending', $4, $4) RETURNING id",
                            DB_PARAMS(DB_INT(r->id), DB_TEXT(ref), DB_INT(amount), DB_INT(now)),
                            &id, err);
    if (rc)
        return rc;
    *out = (struct payments_payment){id, r->id, amount, "bank_transfer", ref, "pending", redirect};
    return KR_OK;
}

static int bt_verify(const struct kr_config *cfg, const char *body, size_t len,
                     const char *signature, struct kr_error *err)
{
    const char *key = cfg->payments_callback_secret;
    if (!key[0])
        return kr_error_set(err, KR_ERR_FORBIDDEN, "notifications are switched off");
    char want[65];
    payments_hmac_hex(key, body, len, want);
    if (!signature || strlen(signature) != 64 || !kr_secure_equal(signature, want, 64))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "the notification's signature is wrong");
    return KR_OK;
}

static int read_payment(struct db_conn *conn, struct arena *a, const char *provider,
                        const char *ref, struct payments_payment *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, receivable_id, amount_cents, provider, provider_ref, status "
                      "FROM payments_payment WHERE provider = $1 AND provider_ref = $2",
                      DB_PARAMS(DB_TEXT(provider), DB_TEXT(ref)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        *out = (struct payments_payment){db_column_int64(st, 0),
                                         db_column_int64(st, 1),
                                         db_column_int64(st, 2),
                                         db_column_strdup(st, 3, a),
                                         db_column_strdup(st, 4, a),
                                         db_column_strdup(st, 5, a),
                                         NULL};
        rc = KR_OK;
    } else if (rc == DB_DONE) {
        rc = kr_error_set(err, KR_ERR_NOT_FOUND, "no such payment");
    }
    db_finish(st);
    return rc;
}

static int bt_status(struct db_conn *conn, const struct kr_config *cfg, struct arena *a,
                     const char *ref, struct payments_payment *out, struct kr_error *err)
{
    (void)cfg;
    return read_payment(conn, a, "bank_transfer", ref, out, err);
}

struct refund_args {
    const char *actor, *ref;
    int64_t amount;
};

static int refund_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct refund_args *f = arg;
    int64_t receivable;
    int rc = db_query_int64(conn,
                            "UPDATE payments_payment SET status = 'refunded', updated_at = $3 "
                            "WHERE provider = 'bank_transfer' AND provider_ref = $1 AND status = "
                            "'paid' AND amount_cents >= $2 RETURNING receivable_id",
                            DB_PARAMS(DB_TEXT(f->ref), DB_INT(f->amount), DB_INT(kr_now())),
                            &receivable, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, KR_ERR_CONFLICT, "only paid payments can be refunded");
    if (rc)
        return rc;
    return payments_book(conn, f->actor, receivable, -f->amount, "reversal", 0, "refund", err);
}

static int bt_refund(struct db_conn *conn, const struct kr_config *cfg, const char *actor,
                     const char *ref, int64_t amount, struct kr_error *err)
{
    (void)cfg;
    if (amount < 1 || amount > PAYMENTS_AMOUNT_MAX)
        return kr_error_set(err, KR_ERR_INVALID, "amount out of range");
    struct refund_args f = {actor, ref, amount};
    return db_transact(conn, refund_tx, &f, err);
}

static const struct payments_provider bank_transfer = {"bank_transfer", bt_create, bt_verify,
                                                       bt_status, bt_refund};

static const struct payments_provider *providers[MAX_PROVIDERS] = {&bank_transfer};
static size_t provider_count = 1;

const struct payments_provider *payments_provider_find(const char *name)
{
    for (size_t i = 0; name && i < provider_count; i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

int payments_provider_register(const struct payments_provider *p)
{
    if (!p || !p->name || payments_provider_find(p->name))
        return KR_ERR_CONFLICT;
    if (provider_count == MAX_PROVIDERS)
        return KR_ERR_TOO_LARGE;
    providers[provider_count++] = p;
    return KR_OK;
}

/* ---- Notifications ----------------------------------------------------------------------- */

struct notify_args {
    const char *provider, *event, *ref, *status;
    int64_t amount;
    bool duplicate;
};

static int notify_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct notify_args *n = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "INSERT INTO payments_callback (provider, event_id, received_at) VALUES ($1, "
                     "$2, $3) ON CONFLICT (provider, event_id) DO NOTHING",
                     DB_PARAMS(DB_TEXT(n->provider), DB_TEXT(n->event), DB_INT(kr_now())), &changed,
                     err);
    if (rc)
        return rc;
    if (changed == 0) {
        n->duplicate = true;
        return KR_OK;
    }
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct payments_payment p = {0};
    rc = read_payment(conn, a, n->provider, n->ref, &p, err);
    if (rc == KR_OK && strcmp(n->status, "paid") == 0 && p.amount_cents != n->amount)
        rc = kr_error_set(err, KR_ERR_CONFLICT, "the amount differs from the payment's");
    bool book = rc == KR_OK && strcmp(n->status, "paid") == 0 && strcmp(p.status, "paid") != 0;
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE payments_payment SET status = $2, updated_at = $3 WHERE id = $1 "
                     "AND status <> 'refunded'",
                     DB_PARAMS(DB_INT(p.id), DB_TEXT(n->status), DB_INT(kr_now())), NULL, err);
    if (rc == KR_OK && book)
        rc = payments_book(conn, n->provider, p.receivable_id, p.amount_cents, "provider", 0,
                           n->ref, err);
    arena_free(a);
    return rc;
}

int payments_notification_apply(struct db_conn *conn, const char *provider, const char *body,
                                size_t len, bool *duplicate, struct kr_error *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    struct notify_args n = {.provider = provider};
    json_int_t amount = 0;
    if (!j ||
        json_unpack(j, "{s:s, s:s, s:s, s?I}", "event_id", &n.event, "payment_ref", &n.ref,
                    "status", &n.status, "amount_cents", &amount) != 0 ||
        strlen(n.event) == 0 || strlen(n.event) > 128 || strlen(n.ref) > 128 ||
        (strcmp(n.status, "paid") != 0 && strcmp(n.status, "failed") != 0)) {
        json_decref(j);
        return kr_error_set(err, KR_ERR_INVALID,
                            "notification: {event_id, payment_ref, status paid|failed, "
                            "amount_cents}");
    }
    n.amount = amount;
    int rc = db_transact(conn, notify_tx, &n, err);
    json_decref(j);
    if (rc == KR_OK && duplicate)
        *duplicate = n.duplicate;
    return rc;
}
