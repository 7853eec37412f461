/*
 * booking.c - booking, confirming, cancelling and moving appointments, the
 * signed personal links, staff actions and the periodic release and
 * reminders.
 *
 * The one rule that keeps a slot from being sold twice lives in the
 * database: every step a booking holds is a row of appointment_claim with
 * the primary key (resource_id, starts_at).  A booking is one transaction
 * that inserts the booking and its claims; a second transaction claiming
 * the same step fails with a unique violation (PostgreSQL makes it wait
 * for the first to commit, SQLite's BEGIN IMMEDIATE lets one writer in at
 * a time), is rolled back and tries the next free resource, or reports
 * KR_ERR_CONFLICT.
 */
#include "appointments/appointments_internal.h"

#include <string.h>

#include <sodium.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "catalogue/catalogue.h"
#include "core/util.h"
#include "mail/mail.h"

#define BOOKING_COLUMNS                                                                            \
    "b.id, b.code, b.location_id, b.resource_id, COALESCE(b.account_id, 0), l.name, "              \
    "l.address, r.name, b.starts_at, b.ends_at, b.created_at, COALESCE(b.confirm_by, 0), "         \
    "b.status, b.name, b.email, b.phone, b.booked_by, b.sequence "                                 \
    "FROM appointment_booking b JOIN appointment_location l ON l.id = b.location_id "              \
    "JOIN appointment_resource r ON r.id = b.resource_id "

void appt_code_new(char code[APPOINTMENTS_CODE_LEN])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32 */
    unsigned char rnd[APPOINTMENTS_CODE_LEN - 2];
    kr_random_bytes(rnd, sizeof(rnd));
    code[0] = 'T';
    for (size_t i = 0; i < sizeof(rnd); i++)
        code[i + 1] = alphabet[rnd[i] & 31];
    code[APPOINTMENTS_CODE_LEN - 1] = '\0';
}

/* ---- Signed links ------------------------------------------------------------- */

static int secret_get(struct db_conn *conn, unsigned char key[32], struct kr_error *err)
{
    struct arena *a = arena_new(4096);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    char *hex = NULL;
    int rc = db_query_text(conn, "SELECT secret FROM appointment_secret WHERE id = 1", NULL, 0, a,
                           &hex, err);
    if (rc == KR_ERR_NOT_FOUND) {
        char fresh[65];
        kr_random_hex(fresh, 32);
        rc = db_exec(conn,
                     "INSERT INTO appointment_secret (id, secret) VALUES (1, $1) "
                     "ON CONFLICT (id) DO NOTHING",
                     DB_PARAMS(DB_TEXT(fresh)), NULL, err);
        if (rc == KR_OK)
            rc = db_query_text(conn, "SELECT secret FROM appointment_secret WHERE id = 1", NULL, 0,
                               a, &hex, err);
    }
    if (rc == KR_OK &&
        (!hex || strlen(hex) != 64 || sodium_hex2bin(key, 32, hex, 64, NULL, NULL, NULL) != 0))
        rc = kr_error_set(err, KR_ERR_INTEGRITY, "the appointment link key is damaged");
    arena_free(a);
    return rc;
}

int appointments_sign(struct db_conn *conn, const char *purpose, const char *subject,
                      char sig[APPOINTMENTS_SIG_LEN], struct kr_error *err)
{
    unsigned char key[32], mac[crypto_auth_hmacsha256_BYTES];
    int rc = secret_get(conn, key, err);
    if (rc)
        return rc;
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, key, sizeof(key));
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)purpose, strlen(purpose));
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)":", 1);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)subject, strlen(subject));
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_memzero(key, sizeof(key));
    kr_hex_encode(mac, sizeof(mac), sig);
    return KR_OK;
}

int appointments_verify(struct db_conn *conn, const char *purpose, const char *subject,
                        const char *sig, struct kr_error *err)
{
    char want[APPOINTMENTS_SIG_LEN];
    if (!sig || strlen(sig) != APPOINTMENTS_SIG_LEN - 1)
        return kr_error_set(err, KR_ERR_FORBIDDEN, "this link is not valid");
    int rc = appointments_sign(conn, purpose, subject, want, err);
    if (rc)
        return rc;
    if (!kr_secure_equal(want, sig, APPOINTMENTS_SIG_LEN - 1))
        return kr_error_set(err, KR_ERR_FORBIDDEN, "this link is not valid");
    return KR_OK;
}

/* ---- Reading ------------------------------------------------------------------ */

int appt_titles(struct db_conn *conn, struct arena *a, struct appointments_booking *b,
                struct kr_error *err)
{
    char *title = arena_strdup(a, "");
    for (size_t i = 0; title && i < b->service_count; i++) {
        json_t *rec = NULL;
        const char *t = NULL;
        int rc = catalogue_service_get(conn, a, b->services[i], &rec, NULL, err);
        if (rc && rc != KR_ERR_NOT_FOUND)
            return rc;
        if (rc == KR_OK)
            t = json_string_value(json_object_get(rec, "title"));
        title = arena_printf(a, "%s%s%s", title, i ? ", " : "", t ? t : b->services[i]);
    }
    b->title = title;
    return title ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

static void booking_read(struct db_stmt *st, struct arena *a, struct appointments_booking *b)
{
    memset(b, 0, sizeof(*b));
    b->id = db_column_int64(st, 0);
    (void)snprintf(b->code, sizeof(b->code), "%s", db_column_text(st, 1));
    b->location_id = db_column_int64(st, 2);
    b->resource_id = db_column_int64(st, 3);
    b->account_id = db_column_int64(st, 4);
    b->location_name = db_column_strdup(st, 5, a);
    b->location_address = db_column_strdup(st, 6, a);
    b->resource_name = db_column_strdup(st, 7, a);
    b->starts_at = db_column_int64(st, 8);
    b->ends_at = db_column_int64(st, 9);
    b->created_at = db_column_int64(st, 10);
    b->confirm_by = db_column_int64(st, 11);
    b->status = db_column_strdup(st, 12, a);
    b->name = db_column_strdup(st, 13, a);
    b->email = db_column_strdup(st, 14, a);
    b->phone = db_column_strdup(st, 15, a);
    b->booked_by = db_column_strdup(st, 16, a);
    b->sequence = (int)db_column_int64(st, 17);
}

static int services_read(struct db_conn *conn, struct arena *a, struct appointments_booking *b,
                         struct kr_error *err)
{
    b->services = arena_calloc(a, APPOINTMENTS_MAX_SERVICES, sizeof(char *));
    if (!b->services)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    b->service_count = 0;
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT service_id FROM appointment_booking_service WHERE booking_id = $1 "
                      "ORDER BY position",
                      DB_PARAMS(DB_INT(b->id)), &st, err);
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW)
        if (b->service_count < APPOINTMENTS_MAX_SERVICES)
            b->services[b->service_count++] = db_column_strdup(st, 0, a);
    db_finish(st);
    if (rc < 0)
        return rc;
    return appt_titles(conn, a, b, err);
}

/* Bookings of a query whose first columns are BOOKING_COLUMNS. */
static int bookings_query(struct db_conn *conn, struct arena *a, const char *sql,
                          const struct db_param *params, size_t np,
                          struct appointments_booking **out, size_t *count, size_t cap,
                          struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, sql, params, np, &st, err);
    if (rc)
        return rc;
    *out = arena_calloc(a, cap, sizeof(**out));
    *count = 0;
    if (!*out)
        rc = kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    while (rc >= 0 && (rc = db_step(st, err)) == DB_ROW && *count < cap)
        booking_read(st, a, &(*out)[(*count)++]);
    db_finish(st);
    for (size_t i = 0; rc >= 0 && i < *count; i++)
        rc = services_read(conn, a, &(*out)[i], err);
    return rc < 0 ? rc : KR_OK;
}

int appointments_get(struct db_conn *conn, struct arena *a, const char *code,
                     struct appointments_booking *out, struct kr_error *err)
{
    if (!code || strlen(code) != APPOINTMENTS_CODE_LEN - 1)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such appointment");
    struct appointments_booking *list;
    size_t n;
    int rc = bookings_query(conn, a, "SELECT " BOOKING_COLUMNS "WHERE b.code = $1",
                            DB_PARAMS(DB_TEXT(code)), &list, &n, 1, err);
    if (rc)
        return rc;
    if (n == 0)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such appointment");
    *out = list[0];
    return KR_OK;
}

int appointments_of_account(struct db_conn *conn, struct arena *a, int64_t account_id, int64_t from,
                            struct appointments_booking **out, size_t *count, struct kr_error *err)
{
    return bookings_query(conn, a,
                          "SELECT " BOOKING_COLUMNS "WHERE b.account_id = $1 AND b.starts_at >= $2 "
                          "AND b.status <> 'released' ORDER BY b.starts_at",
                          DB_PARAMS(DB_INT(account_id), DB_INT(from - 30 * 86400)), out, count, 500,
                          err);
}

int appointments_day_list(struct db_conn *conn, struct arena *a, int64_t location_id, int64_t day,
                          struct appointments_booking **out, size_t *count, struct kr_error *err)
{
    return bookings_query(
        conn, a,
        "SELECT " BOOKING_COLUMNS "WHERE b.location_id = $1 AND b.starts_at >= $2 "
        "AND b.starts_at < $3 AND b.status <> 'released' ORDER BY b.starts_at, r.id",
        DB_PARAMS(DB_INT(location_id), DB_INT(appointments_local_to_utc(day, 0)),
                  DB_INT(appointments_local_to_utc(day + 1, 0))),
        out, count, 2000, err);
}

/* ---- Mail ------------------------------------------------------------------------ */

/* Queue the mail of kind for b (nothing without an address), in conn's
 * transaction.  token: the confirmation token for "confirm_link". */
static int queue_mail(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const char *kind,
                      const struct appointments_booking *b, const char *token, struct kr_error *err)
{
    if (!b->email || !b->email[0])
        return KR_OK;
    char *link;
    if (token) {
        link = arena_printf(a, "%s/termine/bestaetigen/%s?token=%s", p->public_url, b->code, token);
    } else {
        char sig[APPOINTMENTS_SIG_LEN];
        int rc = appointments_sign(conn, "booking", b->code, sig, err);
        if (rc)
            return rc;
        link = arena_printf(a, "%s/termine/buchung/%s?s=%s", p->public_url, b->code, sig);
    }
    char *subject, *text, *ics = NULL;
    size_t ics_len = 0;
    int rc = link ? appt_mail_text(a, kind, b, link, &subject, &text, err)
                  : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc)
        return rc;
    bool cancel = strcmp(kind, "cancelled") == 0;
    if (!token)
        rc = appointments_ical(a, now, p->public_url, cancel ? "CANCEL" : "REQUEST", b, 1, &ics,
                               &ics_len, err);
    if (rc)
        return rc;
    struct mail_attachment att = {"termin.ics",
                                  cancel ? "text/calendar; method=CANCEL; charset=utf-8"
                                         : "text/calendar; method=REQUEST; charset=utf-8",
                                  ics, ics_len};
    struct mail_message m = {b->email, subject, text, ics ? &att : NULL, ics ? 1 : 0};
    return mail_enqueue(conn, &m, NULL, err);
}

static int audit_booking(struct db_conn *conn, const char *actor, const char *action,
                         const struct appointments_booking *b, struct kr_error *err)
{
    json_t *details = json_pack("{s:I, s:I, s:s}", "starts_at", (json_int_t)b->starts_at,
                                "resource_id", (json_int_t)b->resource_id, "status", b->status);
    if (!details)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct audit_event ev = {actor, action, "appointment", b->code, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

/* ---- Booking ------------------------------------------------------------------------ */

static bool plain_text(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool phone_valid(const char *s)
{
    if (!s || !s[0])
        return true;
    if (strlen(s) > APPOINTMENTS_PHONE_MAX)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789 +-/()", *c))
            return false;
    return true;
}

/* Check the person's details; the normalised address goes to email. */
static int request_check(const struct appointments_request *r, char email[255],
                         struct kr_error *err)
{
    if (!plain_text(r->name, APPOINTMENTS_NAME_MAX))
        return kr_error_set(err, KR_ERR_INVALID, "name: please give your name (up to %d bytes)",
                            APPOINTMENTS_NAME_MAX);
    if (!phone_valid(r->phone))
        return kr_error_set(err, KR_ERR_INVALID,
                            "phone: digits, spaces and + - / ( ), at most %d characters",
                            APPOINTMENTS_PHONE_MAX);
    email[0] = '\0';
    bool staff = r->channel && strcmp(r->channel, "phone") == 0;
    if ((!r->email || !r->email[0]) && (r->account_id || staff))
        return KR_OK;
    if (!r->email || accounts_normalise_email(r->email, email, NULL) != KR_OK ||
        mail_address_check(email, NULL) != KR_OK)
        return kr_error_set(err, KR_ERR_INVALID, "email: please give a valid e-mail address");
    return KR_OK;
}

static int limits_check(struct db_conn *conn, int64_t now, const struct appointments_policy *p,
                        const char *email, const char *ip_hash, struct kr_error *err)
{
    int64_t n = 0;
    int rc = KR_OK;
    if (ip_hash) {
        rc = db_query_int64(conn,
                            "SELECT COUNT(*) FROM appointment_booking WHERE ip_hash = $1 "
                            "AND created_at > $2",
                            DB_PARAMS(DB_TEXT(ip_hash), DB_INT(now - 3600)), &n, err);
        if (rc == KR_OK && n >= (int64_t)p->max_per_ip)
            return kr_error_set(err, KR_ERR_RATE_LIMITED,
                                "too many bookings from your address; please try again later");
    }
    if (rc == KR_OK && email[0]) {
        rc = db_query_int64(conn,
                            "SELECT COUNT(*) FROM appointment_booking WHERE email = $1 "
                            "AND starts_at > $2 AND status IN ('pending', 'confirmed')",
                            DB_PARAMS(DB_TEXT(email), DB_INT(now)), &n, err);
        if (rc == KR_OK && n >= (int64_t)p->max_per_email)
            return kr_error_set(err, KR_ERR_RATE_LIMITED,
                                "this e-mail address already holds %u upcoming appointments",
                                p->max_per_email);
    }
    return rc;
}

/* Claim the steps of b on its resource from starts_at. */
static int claims_insert(struct db_conn *conn, const struct appt_plan *plan,
                         const struct appointments_booking *b, struct kr_error *err)
{
    int64_t day;
    int minute;
    appointments_utc_to_local(b->starts_at, &day, &minute);
    for (int k = 0; k < plan->hold_steps; k++) {
        int64_t t = appointments_local_to_utc(day, minute + k * plan->loc.step_minutes);
        int rc = db_exec(conn,
                         "INSERT INTO appointment_claim (resource_id, starts_at, booking_id) "
                         "VALUES ($1, $2, $3)",
                         DB_PARAMS(DB_INT(b->resource_id), DB_INT(t), DB_INT(b->id)), NULL, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

struct book_ctx {
    const struct appointments_policy *p;
    const struct appt_plan *plan;
    const struct appointments_request *r;
    struct appointments_booking *b;
    struct arena *a;
    const char *ip_hash, *token, *confirm_hash;
    int64_t now;
};

/* A change of claims: fn in a transaction, then the reused overviews of
 * appointments_days are dropped (whatever the outcome: cheap, and never
 * stale). */
static int claims_transact(struct db_conn *conn,
                           int (*fn)(struct db_conn *, void *, struct kr_error *), void *x,
                           struct kr_error *err)
{
    int rc = db_transact(conn, fn, x, err);
    appointments_days_forget();
    return rc;
}

static int book_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct book_ctx *x = arg;
    struct appointments_booking *b = x->b;
    int rc = db_query_int64(
        conn,
        "INSERT INTO appointment_booking (code, location_id, resource_id, starts_at, ends_at, "
        "status, name, email, phone, account_id, booked_by, ip_hash, confirm_hash, confirm_by, "
        "created_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15, $16) RETURNING id",
        DB_PARAMS(DB_TEXT(b->code), DB_INT(b->location_id), DB_INT(b->resource_id),
                  DB_INT(b->starts_at), DB_INT(b->ends_at), DB_TEXT(b->status), DB_TEXT(b->name),
                  b->email ? DB_TEXT(b->email) : DB_NULL, b->phone ? DB_TEXT(b->phone) : DB_NULL,
                  b->account_id ? DB_INT(b->account_id) : DB_NULL, DB_TEXT(b->booked_by),
                  x->ip_hash ? DB_TEXT(x->ip_hash) : DB_NULL,
                  x->confirm_hash ? DB_TEXT(x->confirm_hash) : DB_NULL,
                  b->confirm_by ? DB_INT(b->confirm_by) : DB_NULL, DB_INT(x->now),
                  x->token ? DB_NULL : DB_INT(x->now)),
        &b->id, err);
    for (size_t i = 0; rc == KR_OK && i < b->service_count; i++)
        rc = db_exec(conn,
                     "INSERT INTO appointment_booking_service (booking_id, position, service_id) "
                     "VALUES ($1, $2, $3)",
                     DB_PARAMS(DB_INT(b->id), DB_INT(i), DB_TEXT(b->services[i])), NULL, err);
    if (rc == KR_OK)
        rc = claims_insert(conn, x->plan, b, err);
    if (rc == KR_OK)
        rc = audit_booking(conn, x->r->actor ? x->r->actor : "anonymous", "appointment.book", b,
                           err);
    if (rc == KR_OK)
        rc = queue_mail(conn, x->a, x->now, x->p, x->token ? "confirm_link" : "confirmed", b,
                        x->token, err);
    return rc;
}

/* The booking as it will be stored, before its resource is known. */
static int booking_prepare(struct arena *a, int64_t now, const struct appointments_policy *p,
                           const struct appointments_request *r, const struct appt_plan *plan,
                           const char *email, struct appointments_booking *b, struct kr_error *err)
{
    memset(b, 0, sizeof(*b));
    bool staff = r->channel && strcmp(r->channel, "phone") == 0;
    b->location_id = plan->loc.id;
    b->location_name = plan->loc.name;
    b->location_address = plan->loc.address;
    b->account_id = r->account_id;
    b->starts_at = r->starts_at;
    b->ends_at = r->starts_at + (int64_t)plan->total_minutes * 60;
    b->created_at = now;
    b->status = r->account_id || staff ? "confirmed" : "pending";
    b->confirm_by = r->account_id || staff ? 0 : now + p->confirm_timeout;
    b->name = r->name;
    b->email = email[0] ? arena_strdup(a, email) : NULL;
    b->phone = r->phone && r->phone[0] ? r->phone : NULL;
    b->booked_by = r->channel ? r->channel : "web";
    b->services = arena_calloc(a, r->want.service_count, sizeof(char *));
    if (!b->services || (email[0] && !b->email))
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->want.service_count; i++)
        b->services[i] = r->want.services[i];
    b->service_count = r->want.service_count;
    return KR_OK;
}

/* Load the plan of the day of starts_at and find its free resources. */
static int slot_candidates(struct db_conn *conn, struct arena *a, int64_t now,
                           const struct appointments_policy *p, const struct appointments_want *w,
                           int64_t starts_at, struct appt_plan *plan, int64_t *ids, size_t *n,
                           struct kr_error *err)
{
    int64_t today, last, lo, hi, day;
    int minute;
    appt_window(now, p, &today, &last, &lo, &hi);
    if (starts_at < lo || starts_at >= hi)
        return kr_error_set(err, KR_ERR_INVALID,
                            "not a bookable time: it is in the past, too soon or beyond the "
                            "booking period");
    appointments_utc_to_local(starts_at, &day, &minute);
    int rc = appt_plan_load(conn, a, w, day, day, plan, err);
    if (rc)
        return rc;
    bool on_grid;
    *n = appt_plan_free_at(plan, starts_at, ids, &on_grid);
    if (!on_grid)
        return kr_error_set(err, KR_ERR_INVALID, "not a bookable time at this location");
    if (*n == 0)
        return kr_error_set(err, KR_ERR_CONFLICT, "this slot was just taken");
    return KR_OK;
}

static int resource_name(struct db_conn *conn, struct arena *a, struct appointments_booking *b,
                         struct kr_error *err)
{
    char *name = NULL;
    int rc = db_query_text(conn, "SELECT name FROM appointment_resource WHERE id = $1",
                           DB_PARAMS(DB_INT(b->resource_id)), a, &name, err);
    b->resource_name = name;
    return rc;
}

int appointments_book(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const struct appointments_request *r,
                      struct appointments_booking *out, char token[APPOINTMENTS_TOKEN_LEN],
                      struct kr_error *err)
{
    char email[255], ip_hash[65];
    int rc = request_check(r, email, err);
    if (r->ip)
        kr_sha256_hex(r->ip, strlen(r->ip), ip_hash);
    if (rc == KR_OK)
        rc = limits_check(conn, now, p, email, r->ip ? ip_hash : NULL, err);
    struct appt_plan plan;
    int64_t ids[APPT_MAX_RESOURCES];
    size_t n = 0;
    if (rc == KR_OK)
        rc = slot_candidates(conn, a, now, p, &r->want, r->starts_at, &plan, ids, &n, err);
    if (rc == KR_OK)
        rc = booking_prepare(a, now, p, r, &plan, email, out, err);
    if (rc == KR_OK)
        rc = appt_titles(conn, a, out, err);
    if (rc)
        return rc;
    char confirm_hash[65];
    bool pending = strcmp(out->status, "pending") == 0;
    token[0] = '\0';
    if (pending) {
        kr_random_hex(token, 32);
        kr_sha256_hex(token, strlen(token), confirm_hash);
    }
    struct book_ctx x = {p,
                         &plan,
                         r,
                         out,
                         a,
                         r->ip ? ip_hash : NULL,
                         pending ? token : NULL,
                         pending ? confirm_hash : NULL,
                         now};
    rc = KR_ERR_CONFLICT;
    for (size_t i = 0; i < n && rc == KR_ERR_CONFLICT; i++) {
        appt_code_new(out->code);
        out->resource_id = ids[i];
        if (resource_name(conn, a, out, err) != KR_OK)
            out->resource_name = "";
        rc = claims_transact(conn, book_tx, &x, err);
    }
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT, "this slot was just taken");
    return rc;
}

/* ---- Confirm, cancel, move ------------------------------------------------------------ */

struct change_ctx {
    struct arena *a;
    const struct appointments_policy *p;
    const char *code, *token, *actor, *status;
    int64_t now, new_start;
    struct appointments_booking b;
    enum appointments_confirm_result result;
    const struct appt_plan *plan;
    const int64_t *ids;
    size_t n;
};

static int confirm_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    int rc = appointments_get(conn, x->a, x->code, &x->b, err);
    char *hash = NULL;
    if (rc == KR_OK)
        rc = db_query_text(conn, "SELECT confirm_hash FROM appointment_booking WHERE id = $1",
                           DB_PARAMS(DB_INT(x->b.id)), x->a, &hash, err);
    char want[65];
    kr_sha256_hex(x->token, strlen(x->token), want);
    if (rc == KR_ERR_NOT_FOUND ||
        (rc == KR_OK && (!hash || strlen(hash) != 64 || !kr_secure_equal(hash, want, 64))))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this confirmation link is not valid");
    if (rc)
        return rc;
    if (strcmp(x->b.status, "confirmed") == 0 || strcmp(x->b.status, "checked_in") == 0) {
        x->result = APPOINTMENTS_ALREADY_CONFIRMED;
        return KR_OK;
    }
    if (strcmp(x->b.status, "pending") != 0 || x->b.confirm_by < x->now)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "this booking was not confirmed in time or was cancelled; its slot "
                            "is free again");
    int64_t changed = 0;
    rc = db_exec(conn,
                 "UPDATE appointment_booking SET status = 'confirmed', confirmed_at = $2 "
                 "WHERE id = $1 AND status = 'pending'",
                 DB_PARAMS(DB_INT(x->b.id), DB_INT(x->now)), &changed, err);
    if (rc == KR_OK && changed != 1)
        return kr_error_set(err, KR_ERR_CONFLICT, "this booking changed meanwhile");
    x->b.status = "confirmed";
    x->result = APPOINTMENTS_CONFIRMED;
    if (rc == KR_OK)
        rc = audit_booking(conn, "anonymous", "appointment.confirm", &x->b, err);
    if (rc == KR_OK)
        rc = queue_mail(conn, x->a, x->now, x->p, "confirmed", &x->b, NULL, err);
    return rc;
}

int appointments_confirm(struct db_conn *conn, struct arena *a, int64_t now,
                         const struct appointments_policy *p, const char *code, const char *token,
                         enum appointments_confirm_result *result, struct kr_error *err)
{
    if (!token || strlen(token) != APPOINTMENTS_TOKEN_LEN - 1)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "this confirmation link is not valid");
    struct change_ctx x = {.a = a, .p = p, .code = code, .token = token, .now = now};
    int rc = db_transact(conn, confirm_tx, &x, err);
    if (rc == KR_OK)
        *result = x.result;
    return rc;
}

static int free_claims(struct db_conn *conn, int64_t booking_id, struct kr_error *err)
{
    return db_exec(conn, "DELETE FROM appointment_claim WHERE booking_id = $1",
                   DB_PARAMS(DB_INT(booking_id)), NULL, err);
}

static int cancel_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    int rc = appointments_get(conn, x->a, x->code, &x->b, err);
    if (rc)
        return rc;
    bool was_confirmed = strcmp(x->b.status, "confirmed") == 0;
    if ((!was_confirmed && strcmp(x->b.status, "pending") != 0) || x->b.starts_at <= x->now)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "this appointment cannot be cancelled any more (it was cancelled "
                            "already or has begun)");
    int64_t changed = 0;
    rc = db_exec(conn,
                 "UPDATE appointment_booking SET status = 'cancelled', cancelled_at = $2, "
                 "sequence = sequence + 1 WHERE id = $1 AND status IN ('pending', 'confirmed')",
                 DB_PARAMS(DB_INT(x->b.id), DB_INT(x->now)), &changed, err);
    if (rc == KR_OK && changed != 1)
        return kr_error_set(err, KR_ERR_CONFLICT, "this appointment changed meanwhile");
    x->b.status = "cancelled";
    x->b.sequence++;
    if (rc == KR_OK)
        rc = free_claims(conn, x->b.id, err);
    if (rc == KR_OK)
        rc = audit_booking(conn, x->actor, "appointment.cancel", &x->b, err);
    if (rc == KR_OK && was_confirmed)
        rc = queue_mail(conn, x->a, x->now, x->p, "cancelled", &x->b, NULL, err);
    return rc;
}

int appointments_cancel(struct db_conn *conn, struct arena *a, int64_t now,
                        const struct appointments_policy *p, const char *code, const char *actor,
                        struct kr_error *err)
{
    struct change_ctx x = {.a = a, .p = p, .code = code, .actor = actor, .now = now};
    return claims_transact(conn, cancel_tx, &x, err);
}

static int move_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    struct appointments_booking *b = &x->b;
    int rc = free_claims(conn, b->id, err);
    b->starts_at = x->new_start;
    b->ends_at = x->new_start + (int64_t)x->plan->total_minutes * 60;
    b->resource_id = x->ids[x->n];
    b->sequence++;
    if (rc == KR_OK)
        rc = claims_insert(conn, x->plan, b, err);
    int64_t changed = 0;
    if (rc == KR_OK)
        rc = db_exec(conn,
                     "UPDATE appointment_booking SET starts_at = $2, ends_at = $3, "
                     "resource_id = $4, sequence = sequence + 1, reminded_at = NULL "
                     "WHERE id = $1 AND status IN ('pending', 'confirmed')",
                     DB_PARAMS(DB_INT(b->id), DB_INT(b->starts_at), DB_INT(b->ends_at),
                               DB_INT(b->resource_id)),
                     &changed, err);
    if (rc == KR_OK && changed != 1)
        return kr_error_set(err, KR_ERR_CONFLICT, "this appointment changed meanwhile");
    if (rc == KR_OK)
        rc = resource_name(conn, x->a, b, err);
    if (rc == KR_OK)
        rc = audit_booking(conn, x->actor, "appointment.move", b, err);
    if (rc == KR_OK && strcmp(b->status, "confirmed") == 0)
        rc = queue_mail(conn, x->a, x->now, x->p, "moved", b, NULL, err);
    return rc;
}

int appointments_move(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, const char *code, int64_t new_start,
                      const char *actor, struct kr_error *err)
{
    struct change_ctx x = {.a = a, .p = p, .code = code, .actor = actor, .now = now};
    int rc = appointments_get(conn, a, code, &x.b, err);
    if (rc)
        return rc;
    if ((strcmp(x.b.status, "confirmed") != 0 && strcmp(x.b.status, "pending") != 0) ||
        x.b.starts_at <= now)
        return kr_error_set(err, KR_ERR_CONFLICT, "this appointment cannot be moved any more");
    struct appointments_want w = {.location_id = x.b.location_id,
                                  .service_count = x.b.service_count};
    for (size_t i = 0; i < x.b.service_count; i++)
        w.services[i] = x.b.services[i];
    struct appt_plan plan;
    int64_t ids[APPT_MAX_RESOURCES];
    size_t n = 0;
    rc = slot_candidates(conn, a, now, p, &w, new_start, &plan, ids, &n, err);
    if (rc)
        return rc;
    x.plan = &plan;
    x.ids = ids;
    x.new_start = new_start;
    struct appointments_booking orig = x.b;
    rc = KR_ERR_CONFLICT;
    for (x.n = 0; x.n < n && rc == KR_ERR_CONFLICT; x.n++) {
        x.b = orig;
        rc = claims_transact(conn, move_tx, &x, err);
    }
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT, "this slot was just taken");
    return rc;
}

/* ---- Staff ------------------------------------------------------------------------------ */

static int mark_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    int rc = appointments_get(conn, x->a, x->code, &x->b, err);
    if (rc)
        return rc;
    int64_t changed = 0;
    rc = db_exec(conn,
                 "UPDATE appointment_booking SET status = $2, checked_in_at = $3 "
                 "WHERE id = $1 AND status = 'confirmed'",
                 DB_PARAMS(DB_INT(x->b.id), DB_TEXT(x->status),
                           strcmp(x->status, "checked_in") == 0 ? DB_INT(x->now) : DB_NULL),
                 &changed, err);
    if (rc == KR_OK && changed != 1)
        return kr_error_set(err, KR_ERR_CONFLICT,
                            "only a confirmed appointment can be checked in or marked no-show");
    x->b.status = x->status;
    if (rc == KR_OK)
        rc = audit_booking(conn, x->actor,
                           strcmp(x->status, "checked_in") == 0 ? "appointment.check_in"
                                                                : "appointment.no_show",
                           &x->b, err);
    return rc;
}

int appointments_mark(struct db_conn *conn, int64_t now, const char *code, const char *status,
                      const char *actor, struct kr_error *err)
{
    if (!status || (strcmp(status, "checked_in") != 0 && strcmp(status, "no_show") != 0))
        return kr_error_set(err, KR_ERR_INVALID, "status: checked_in or no_show");
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    struct change_ctx x = {.a = a, .code = code, .actor = actor, .status = status, .now = now};
    int rc = db_transact(conn, mark_tx, &x, err);
    arena_free(a);
    return rc;
}

struct block_ctx {
    struct appointments_booking b;
    struct appt_plan plan;
    const char *actor;
    int64_t now;
};

static int block_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct block_ctx *x = arg;
    int rc = db_query_int64(
        conn,
        "INSERT INTO appointment_booking (code, location_id, resource_id, starts_at, ends_at, "
        "status, name, booked_by, created_at) VALUES ($1, $2, $3, $4, $5, 'blocked', $6, $7, $8) "
        "RETURNING id",
        DB_PARAMS(DB_TEXT(x->b.code), DB_INT(x->b.location_id), DB_INT(x->b.resource_id),
                  DB_INT(x->b.starts_at), DB_INT(x->b.ends_at), DB_TEXT(x->b.name),
                  DB_TEXT(x->actor), DB_INT(x->now)),
        &x->b.id, err);
    if (rc == KR_OK)
        rc = claims_insert(conn, &x->plan, &x->b, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, KR_ERR_CONFLICT, "a part of this time is booked already");
    if (rc == KR_OK)
        rc = audit_booking(conn, x->actor, "appointment.block", &x->b, err);
    return rc;
}

int appointments_block(struct db_conn *conn, struct arena *a, int64_t now, int64_t location_id,
                       int64_t resource_id, int64_t starts_at, int minutes, const char *note,
                       const char *actor, char code[APPOINTMENTS_CODE_LEN], struct kr_error *err)
{
    if (minutes < 5 || minutes > 1440)
        return kr_error_set(err, KR_ERR_INVALID, "minutes: 5-1440");
    if (!plain_text(note, APPOINTMENTS_NAME_MAX))
        return kr_error_set(err, KR_ERR_INVALID, "note: 1-%d bytes", APPOINTMENTS_NAME_MAX);
    struct block_ctx x = {.actor = actor, .now = now};
    int rc = appointments_location_get(conn, a, NULL, location_id, &x.plan.loc, err);
    int64_t owner = 0;
    if (rc == KR_OK)
        rc = db_query_int64(conn, "SELECT location_id FROM appointment_resource WHERE id = $1",
                            DB_PARAMS(DB_INT(resource_id)), &owner, err);
    if (rc == KR_ERR_NOT_FOUND || (rc == KR_OK && owner != location_id))
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such counter at this location");
    if (rc)
        return rc;
    int step = x.plan.loc.step_minutes;
    int64_t day;
    int minute;
    appointments_utc_to_local(starts_at, &day, &minute);
    if (minute % step != 0 || appointments_local_to_utc(day, minute) != starts_at)
        return kr_error_set(err, KR_ERR_INVALID, "the start must be on the %d-minute grid", step);
    x.plan.hold_steps = (minutes + step - 1) / step;
    appt_code_new(x.b.code);
    x.b.location_id = location_id;
    x.b.resource_id = resource_id;
    x.b.starts_at = starts_at;
    x.b.ends_at = starts_at + (int64_t)minutes * 60;
    x.b.name = note;
    x.b.status = "blocked";
    rc = claims_transact(conn, block_tx, &x, err);
    if (rc == KR_OK)
        memcpy(code, x.b.code, APPOINTMENTS_CODE_LEN);
    return rc;
}

/* ---- Periodic work ---------------------------------------------------------------------- */

static int release_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE appointment_booking SET status = 'released' WHERE id = $1 "
                     "AND status = 'pending' AND confirm_by < $2",
                     DB_PARAMS(DB_INT(x->b.id), DB_INT(x->now)), &changed, err);
    if (rc || changed != 1)
        return rc;
    x->n++;
    x->b.status = "released";
    rc = free_claims(conn, x->b.id, err);
    if (rc == KR_OK)
        rc = audit_booking(conn, "system", "appointment.release", &x->b, err);
    return rc;
}

static int remind_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct change_ctx *x = arg;
    int64_t changed = 0;
    int rc = db_exec(conn,
                     "UPDATE appointment_booking SET reminded_at = $2 WHERE id = $1 "
                     "AND status = 'confirmed' AND reminded_at IS NULL",
                     DB_PARAMS(DB_INT(x->b.id), DB_INT(x->now)), &changed, err);
    if (rc || changed != 1)
        return rc;
    x->n++;
    return queue_mail(conn, x->a, x->now, x->p, "reminder", &x->b, NULL, err);
}

/* Run fn once per booking that sql (with $1, $2 bound to p1, p2) selects. */
static int each_booking(struct db_conn *conn, struct arena *a, const char *sql, int64_t p1,
                        int64_t p2, int (*fn)(struct db_conn *, void *, struct kr_error *),
                        struct change_ctx *x, struct kr_error *err)
{
    struct appointments_booking *list;
    size_t n;
    int rc = bookings_query(conn, a, sql, DB_PARAMS(DB_INT(p1), DB_INT(p2)), &list, &n, 200, err);
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        x->b = list[i];
        rc = claims_transact(conn, fn, x, err);
    }
    return rc;
}

int appointments_tick(struct db_conn *conn, struct arena *a, int64_t now,
                      const struct appointments_policy *p, int64_t *released, int64_t *reminded,
                      struct kr_error *err)
{
    struct change_ctx x = {.a = a, .p = p, .now = now};
    int rc = each_booking(conn, a,
                          "SELECT " BOOKING_COLUMNS "WHERE b.status = 'pending' "
                          "AND b.confirm_by < $1 AND $2 = 0 ORDER BY b.id",
                          now, 0, release_tx, &x, err);
    if (released)
        *released = (int64_t)x.n;
    x.n = 0;
    int64_t today;
    int minute;
    appointments_utc_to_local(now, &today, &minute);
    if (rc == KR_OK)
        rc = each_booking(conn, a,
                          "SELECT " BOOKING_COLUMNS "WHERE b.status = 'confirmed' "
                          "AND b.reminded_at IS NULL AND b.email IS NOT NULL "
                          "AND b.starts_at >= $1 AND b.starts_at < $2 ORDER BY b.id",
                          appointments_local_to_utc(today + 1, 0),
                          appointments_local_to_utc(today + 2, 0), remind_tx, &x, err);
    if (reminded)
        *reminded = (int64_t)x.n;
    return rc;
}
