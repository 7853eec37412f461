/*
 * payments_export.c - CSV for the accounting system and the demo data.
 * The columns are documented in docs/payments.md.
 */
#include <stdio.h>
#include <string.h>

#include "accounts/export.h"
#include "core/buf.h"
#include "core/util.h"
#include "payments/payments.h"

#define EXPORT_MAX (64u * 1024 * 1024)

/* A CSV field: quoted when it holds a separator, quote or line break;
 * a leading = + - @ is prefixed with ' so spreadsheets do not run it. */
static void csv_field(struct buf *b, const char *s, bool last)
{
    s = s ? s : "";
    bool quote = strpbrk(s, ";\"\r\n") != NULL;
    if (quote)
        buf_putc(b, '"');
    if (strchr("=+-@", s[0]) && s[0])
        buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            buf_putc(b, '"');
        buf_putc(b, *s);
    }
    if (quote)
        buf_putc(b, '"');
    buf_puts(b, last ? "\r\n" : ";");
}

static void csv_row(struct buf *b, struct db_stmt *st)
{
    char amount[32], date[32], id[24];
    snprintf(id, sizeof(id), "%lld", (long long)db_column_int64(st, 0));
    csv_field(b, id, false);
    kr_time_format_rfc3339(db_column_int64(st, 1), date, sizeof(date));
    date[10] = '\0';
    csv_field(b, date, false);
    csv_field(b, db_column_text(st, 2), false);
    payments_amount_format(db_column_int64(st, 3), amount, sizeof(amount));
    csv_field(b, amount, false);
    csv_field(b, "EUR", false);
    csv_field(b, db_column_text(st, 4), false);
    csv_field(b, db_column_text(st, 5), false);
    csv_field(b, db_column_text(st, 6), false);
    csv_field(b, db_column_text(st, 7), false);
    csv_field(b, db_column_text(st, 8), true);
}

int payments_export_csv(struct db_conn *conn, struct arena *a, int64_t from, int64_t to, char **out,
                        size_t *len, struct kr_error *err)
{
    struct db_stmt *st;
    int rc =
        db_query(conn,
                 "SELECT b.id, b.created_at, r.kz, b.amount_cents, b.source, r.status, "
                 "r.purpose, r.debtor_name, COALESCE(r.case_ref, '') "
                 "FROM payments_booking b JOIN payments_receivable r ON r.id = b.receivable_id "
                 "WHERE b.created_at >= $1 AND b.created_at < $2 ORDER BY b.id",
                 DB_PARAMS(DB_INT(from), DB_INT(to)), &st, err);
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, EXPORT_MAX);
    buf_puts(&b, "booking_id;booking_date;kassenzeichen;amount;currency;source;status;purpose;"
                 "debtor_name;case_ref\r\n");
    while ((rc = db_step(st, err)) == DB_ROW && buf_status(&b) == KR_OK)
        csv_row(&b, st);
    db_finish(st);
    if (rc < 0) {
        buf_release(&b);
        return rc;
    }
    if (buf_status(&b)) {
        rc = buf_status(&b);
        buf_release(&b);
        return kr_error_set(err, rc, "the export is too large; choose a shorter period");
    }
    *out = arena_strndup(a, buf_cstr(&b), b.len);
    *len = b.len;
    buf_release(&b);
    return *out ? KR_OK : kr_error_set(err, KR_ERR_NOMEM, "out of memory");
}

int payments_seed_demo(struct db_conn *conn, int64_t account_id, const char *name,
                       struct kr_error *err)
{
    int64_t now = kr_now();
    const struct payments_new_receivable demo[] = {
        {name, account_id, "Gebühr Wunschkennzeichen", 1280, "EUR", now + 14 * 86400, NULL},
        {name, account_id, "Gebühr Führungszeugnis", 1300, "EUR", now + 7 * 86400, NULL},
        {name, account_id, "Verwarnungsgeld Parkverstoß", 3000, "EUR", now - 30 * 86400, NULL},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(demo); i++) {
        int rc = payments_receivable_create(conn, "cli:seed-demo", &demo[i], NULL, NULL, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int query_by_account(struct db_conn *conn, struct arena *a, int64_t account_id,
                            struct payments_receivable **out, size_t *count, struct kr_error *err)
{
    /* At most 500 per request of the search; an account has far fewer. */
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id FROM payments_receivable WHERE debtor_account_id = $1 "
                      "ORDER BY id LIMIT 10000",
                      DB_PARAMS(DB_INT(account_id)), &st, err);
    if (rc)
        return rc;
    size_t cap = 10000, n = 0;
    struct payments_receivable *list = arena_calloc(a, cap, sizeof(*list));
    while (list && (rc = db_step(st, err)) == DB_ROW)
        list[n++].id = db_column_int64(st, 0);
    db_finish(st);
    if (!list)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == KR_OK && i < n; i++)
        rc = payments_receivable_get(conn, a, list[i].id, &list[i], err);
    *out = list;
    *count = n;
    return rc;
}

/* The account's receivables with their bookings, as one JSON file. */
int payments_export(struct db_conn *conn, struct arena *a, int64_t account_id,
                    struct export_sink *sink, struct kr_error *err)
{
    struct payments_receivable *list = NULL;
    size_t n = 0;
    int rc = query_by_account(conn, a, account_id, &list, &n, err);
    if (rc)
        return rc;
    json_t *all = json_array();
    for (size_t i = 0; rc == KR_OK && i < n; i++) {
        struct payments_booking *b;
        size_t nb;
        rc = payments_bookings_list(conn, a, list[i].id, &b, &nb, err);
        json_t *bookings = json_array();
        for (size_t k = 0; rc == KR_OK && k < nb; k++)
            json_array_append_new(bookings,
                                  json_pack("{s:I, s:s, s:I}", "amount_cents",
                                            (json_int_t)b[k].amount_cents, "source", b[k].source,
                                            "created_at", (json_int_t)b[k].created_at));
        json_array_append_new(
            all, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "kassenzeichen",
                           list[i].kz, "debtor_name", list[i].debtor_name, "purpose",
                           list[i].purpose, "amount_cents", (json_int_t)list[i].amount_cents,
                           "fee_cents", (json_int_t)list[i].fee_cents, "paid_cents",
                           (json_int_t)list[i].paid_cents, "due_at", (json_int_t)list[i].due_at,
                           "status", payments_status_name(list[i].status), "bookings", bookings));
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    return export_add_json(sink, "zahlungen/forderungen.json", all, err);
}
