/*
 * payments_provider.h - online payment providers (ePayBL, PayPal, cards)
 * behind one interface; built in: "bank_transfer" (the citizen transfers
 * with the GiroCode; the bank statement settles it).  See docs/payments.md
 * for how another provider plugs in.
 *
 * The flow: create() records a payment for the outstanding amount and
 * returns where to send the citizen; the provider later notifies us
 * (POST /api/payments/providers/<name>/notify), the notification is
 * verified (HMAC-SHA256 with payments_callback_secret over the raw body,
 * header X-Payment-Signature: hex) and applied once per event id
 * (idempotent); status() reads the state; refund() gives money back.
 */
#ifndef KR_PAYMENTS_PROVIDER_H
#define KR_PAYMENTS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"
#include "payments/payments.h"

struct kr_config;

/* A payment at a provider, as stored in payments_payment. */
struct payments_payment {
    int64_t id, receivable_id, amount_cents;
    const char *provider, *provider_ref, *status; /* created pending paid failed refunded */
    const char *redirect;                         /* create() only: local path or https URL */
};

struct payments_provider {
    const char *name;
    /* Start paying r's outstanding amount: store the payment (joins the
     * caller's transaction) and fill out (arena strings). */
    int (*create)(struct db_conn *conn, const struct kr_config *cfg, const char *actor,
                  const struct payments_receivable *r, struct arena *a,
                  struct payments_payment *out, struct kr_error *err);
    /* Check a notification's signature; KR_ERR_FORBIDDEN when wrong. */
    int (*verify)(const struct kr_config *cfg, const char *body, size_t len, const char *signature,
                  struct kr_error *err);
    /* Ask the provider for the state of a payment (may update it). */
    int (*status)(struct db_conn *conn, const struct kr_config *cfg, struct arena *a,
                  const char *provider_ref, struct payments_payment *out, struct kr_error *err);
    /* Give amount_cents of a paid payment back (a reversal booking). */
    int (*refund)(struct db_conn *conn, const struct kr_config *cfg, const char *actor,
                  const char *provider_ref, int64_t amount_cents, struct kr_error *err);
};

/* The provider called name, or NULL.  The built-in one is
 * "bank_transfer"; payments_provider_register adds others at start. */
const struct payments_provider *payments_provider_find(const char *name);
int payments_provider_register(const struct payments_provider *p) KR_MUST_CHECK;

/*
 * Apply a verified notification (JSON: {"event_id", "payment_ref",
 * "status": "paid"|"failed", "amount_cents"}) of provider in one
 * transaction: an event id seen before changes nothing (*duplicate true);
 * "paid" books the amount on the receivable (source "provider").
 * KR_ERR_INVALID for a malformed body, KR_ERR_NOT_FOUND for an unknown
 * payment, KR_ERR_CONFLICT for an amount that differs from the payment's.
 */
int payments_notification_apply(struct db_conn *conn, const char *provider, const char *body,
                                size_t len, bool *duplicate, struct kr_error *err) KR_MUST_CHECK;

/* HMAC-SHA256 of body with key, as 64 hex digits + NUL (for providers and
 * tests). */
void payments_hmac_hex(const char *key, const char *body, size_t len, char out[65]);

#endif
