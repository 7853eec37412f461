/*
 * payments_export.c - CSV for the accounting system and the demo data.
 * The columns are documented in docs/payments.md.
 */
#include <stdio.h>
#include <string.h>

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
