/* Tests of src/appointments on SQLite and PostgreSQL with a fixed clock:
 * slots from hours, holidays, exceptions and claims; booking, capacity,
 * confirmation, release, reminders, cancel and move with signed links;
 * staff actions and figures; and every calendar the module writes,
 * parsed by libical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libical/ical.h>

#include "appointments/appointments.h"
#include "core/util.h"
#include "testdb.h"

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct appointments_policy pol;
    int64_t loc, res1, res2, now, tuesday;
};

static const char *const kfz[] = {"kfz-zulassung", "kfz-umschreibung"};

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    f->pol =
        (struct appointments_policy){56 * 86400, 7200, 1800, 3, 20, 0, "https://kreis.example"};
    struct appointments_new_location l = {"zulassung",
                                          "Zulassungsstelle",
                                          "Vehicle registration",
                                          "Hauptstraße 1, 12345 Musterstadt",
                                          "Bus 5",
                                          "Stufenlos",
                                          "NI",
                                          0,
                                          15,
                                          0};
    assert_int_equal(appointments_location_add(f->conn, "test", &l, &f->loc, &err), KR_OK);
    assert_int_equal(
        appointments_resource_add(f->conn, f->loc, "Schalter 1", kfz, 2, &f->res1, &err), KR_OK);
    assert_int_equal(appointments_duration_set(f->conn, f->loc, kfz[0], 15, &err), KR_OK);
    assert_int_equal(appointments_duration_set(f->conn, f->loc, kfz[1], 30, &err), KR_OK);
    for (int wd = 1; wd <= 5; wd++)
        assert_int_equal(appointments_hours_add(f->conn, f->loc, wd, 8 * 60, 12 * 60, &err), KR_OK);
    /* Monday 2 June 2025, 08:00 in Germany. */
    f->now = appointments_local_to_utc(appointments_days_from_civil(2025, 6, 2), 8 * 60);
    f->tuesday = appointments_days_from_civil(2025, 6, 3);
}

static void close_fixture(struct fixture *f)
{
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static struct appointments_want want1(const struct fixture *f, size_t n)
{
    struct appointments_want w = {.location_id = f->loc, .service_count = n};
    for (size_t i = 0; i < n; i++)
        w.services[i] = kfz[i];
    return w;
}

static size_t slot_count(struct fixture *f, const struct appointments_want *w, int64_t day)
{
    struct appointments_slot *s;
    size_t n;
    struct kr_error err;
    int rc = appointments_slots(f->conn, f->a, f->now, &f->pol, w, day, &s, &n, &err);
    if (rc)
        fail_msg("slots: %s", err.message);
    return n;
}

static int64_t at(int64_t day, int h, int m)
{
    return appointments_local_to_utc(day, h * 60 + m);
}

static void test_slots(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_want w = want1(&f, 1), both = want1(&f, 2);
    assert_int_equal(slot_count(&f, &w, f.tuesday), 16);
    assert_int_equal(slot_count(&f, &both, f.tuesday), 14); /* 45 min: last start 11:15 */
    assert_int_equal(slot_count(&f, &w, f.tuesday - 1), 8); /* today from 10:00 */
    assert_int_equal(slot_count(&f, &w, f.tuesday + 4), 0); /* Saturday */
    int64_t whit = appointments_days_from_civil(2025, 6, 9);
    assert_int_equal(slot_count(&f, &w, whit), 0); /* Pfingstmontag */
    assert_int_equal(appointments_holiday_add(f.conn, 0, whit + 1, "Schützenfest", &err), KR_OK);
    assert_int_equal(slot_count(&f, &w, whit + 1), 0);
    assert_int_equal(
        appointments_exception_add(f.conn, f.loc, whit + 2, 9 * 60, 10 * 60, "kurz", &err), KR_OK);
    assert_int_equal(slot_count(&f, &w, whit + 2), 4);
    assert_int_equal(appointments_exception_add(f.conn, f.loc, whit + 3, -1, -1, "zu", &err),
                     KR_OK);
    assert_int_equal(slot_count(&f, &w, whit + 3), 0);
    struct appointments_slot *s;
    size_t n;
    assert_int_equal(
        appointments_slots(f.conn, f.a, f.now, &f.pol, &w, f.tuesday - 2, &s, &n, &err),
        KR_ERR_INVALID);
    assert_int_equal(
        appointments_slots(f.conn, f.a, f.now, &f.pol, &w, f.tuesday + 60, &s, &n, &err),
        KR_ERR_INVALID);
    struct appointments_want bad = w;
    bad.services[0] = "baugenehmigung";
    assert_int_equal(appointments_slots(f.conn, f.a, f.now, &f.pol, &bad, f.tuesday, &s, &n, &err),
                     KR_ERR_NOT_FOUND);
    bad = w;
    bad.location_id = 999;
    assert_int_equal(appointments_slots(f.conn, f.a, f.now, &f.pol, &bad, f.tuesday, &s, &n, &err),
                     KR_ERR_NOT_FOUND);
    struct appointments_day *days;
    assert_int_equal(appointments_days(f.conn, f.a, f.now, &f.pol, &w, &days, &n, &err), KR_OK);
    assert_true(n >= 35 && n <= 41); /* 8 weeks of weekdays without holidays */
    assert_int_equal(days[0].day, f.tuesday - 1);
    assert_int_equal(days[0].slots, 8);
    close_fixture(&f);
}

/* The free-days overview is reused for days_cache seconds; a change made
 * elsewhere (another process: here plain SQL) shows after that, a booking
 * through this module at once. */
static void test_days_reused(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    f.pol.days_cache = 2;
    struct appointments_want w = want1(&f, 1);
    struct appointments_day *days;
    size_t n, n0;
    assert_int_equal(appointments_days(f.conn, f.a, f.now, &f.pol, &w, &days, &n0, &err), KR_OK);
    assert_int_equal(days[0].day, f.tuesday - 1);
    int y, m, d;
    appointments_civil_from_days(f.tuesday - 1, &y, &m, &d);
    char day[16];
    snprintf(day, sizeof(day), "%04d-%02d-%02d", y, m, d);
    assert_int_equal(db_exec(f.conn,
                             "INSERT INTO appointment_exception (location_id, day, opens, closes) "
                             "VALUES ($1, $2, NULL, NULL)",
                             DB_PARAMS(DB_INT(f.loc), DB_TEXT(day)), NULL, &err),
                     KR_OK);
    /* Within the reuse time: the same overview. */
    assert_int_equal(appointments_days(f.conn, f.a, f.now + 1, &f.pol, &w, &days, &n, &err), KR_OK);
    assert_int_equal(n, n0);
    assert_int_equal(days[0].day, f.tuesday - 1);
    /* Not reused when switched off. */
    struct appointments_policy off = f.pol;
    off.days_cache = 0;
    assert_int_equal(appointments_days(f.conn, f.a, f.now + 1, &off, &w, &days, &n, &err), KR_OK);
    assert_int_equal(days[0].day, f.tuesday);
    /* After it: today is closed. */
    assert_int_equal(appointments_days(f.conn, f.a, f.now + 2, &f.pol, &w, &days, &n, &err), KR_OK);
    assert_int_equal(days[0].day, f.tuesday);
    unsigned tuesday_slots = days[0].slots;
    /* A booking through the module shows at once. */
    struct appointments_request r = {.want = w,
                                     .starts_at = appointments_local_to_utc(f.tuesday, 9 * 60),
                                     .name = "Erika Mustermann",
                                     .email = "erika@example.org",
                                     .ip = "192.0.2.1",
                                     .actor = "anonymous",
                                     .channel = "web"};
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    assert_int_equal(appointments_book(f.conn, f.a, f.now + 2, &f.pol, &r, &b, token, &err), KR_OK);
    assert_int_equal(appointments_days(f.conn, f.a, f.now + 2, &f.pol, &w, &days, &n, &err), KR_OK);
    assert_int_equal(days[0].day, f.tuesday);
    assert_int_equal(days[0].slots, tuesday_slots - 1);
    appointments_days_forget();
    close_fixture(&f);
}

static struct appointments_request request(const struct fixture *f, int64_t start,
                                           const char *email)
{
    struct appointments_request r = {.want = want1(f, 1),
                                     .starts_at = start,
                                     .name = "Erika Mustermann",
                                     .email = email,
                                     .ip = "192.0.2.1",
                                     .actor = "anonymous",
                                     .channel = "web"};
    return r;
}

static const char *status_of(struct fixture *f, const char *code)
{
    struct appointments_booking b;
    struct kr_error err;
    assert_int_equal(appointments_get(f->conn, f->a, code, &b, &err), KR_OK);
    return b.status;
}

static void test_book_confirm_release(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_want w = want1(&f, 1);
    struct appointments_booking b, b2;
    char token[APPOINTMENTS_TOKEN_LEN], token2[APPOINTMENTS_TOKEN_LEN];
    struct appointments_request r = request(&f, at(f.tuesday, 9, 0), "Erika@Example.org");
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    assert_string_equal(b.status, "pending");
    assert_string_equal(b.email, "erika@example.org");
    assert_int_equal(strlen(token), 64);
    assert_int_equal(slot_count(&f, &w, f.tuesday), 15);
    /* The same slot again: taken; the next free one is 09:15. */
    r.email = "max@example.org";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b2, token2, &err),
                     KR_ERR_CONFLICT);
    struct appointments_slot *next;
    size_t n;
    assert_int_equal(
        appointments_next_free(f.conn, f.a, f.now, &f.pol, &w, r.starts_at, 3, &next, &n, &err),
        KR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(next[0].starts_at, at(f.tuesday, 9, 15));
    /* Bad times: off the grid, in the past, too soon, beyond the horizon. */
    int64_t bad[] = {at(f.tuesday, 9, 7), f.now - 3600, f.now + 1800, at(f.tuesday + 70, 9, 0),
                     at(f.tuesday, 12, 0)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r.starts_at = bad[i];
        assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b2, token2, &err),
                         KR_ERR_INVALID);
    }
    /* Confirmation: a wrong token changes nothing; twice is fine. */
    enum appointments_confirm_result res;
    char wrong[APPOINTMENTS_TOKEN_LEN];
    memcpy(wrong, token, sizeof(wrong));
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    assert_int_equal(appointments_confirm(f.conn, f.a, f.now, &f.pol, b.code, wrong, &res, &err),
                     KR_ERR_NOT_FOUND);
    assert_string_equal(status_of(&f, b.code), "pending");
    assert_int_equal(
        appointments_confirm(f.conn, f.a, f.now + 60, &f.pol, b.code, token, &res, &err), KR_OK);
    assert_int_equal(res, APPOINTMENTS_CONFIRMED);
    assert_int_equal(
        appointments_confirm(f.conn, f.a, f.now + 90, &f.pol, b.code, token, &res, &err), KR_OK);
    assert_int_equal(res, APPOINTMENTS_ALREADY_CONFIRMED);
    assert_string_equal(status_of(&f, b.code), "confirmed");
    /* A second booking left unconfirmed is released after 30 minutes. */
    r.starts_at = at(f.tuesday, 10, 0);
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b2, token2, &err), KR_OK);
    int64_t released, reminded;
    assert_int_equal(
        appointments_tick(f.conn, f.a, f.now + 1700, &f.pol, &released, &reminded, &err), KR_OK);
    assert_int_equal(released, 0);
    assert_int_equal(reminded, 1); /* the confirmed one is tomorrow */
    assert_int_equal(
        appointments_tick(f.conn, f.a, f.now + 1801, &f.pol, &released, &reminded, &err), KR_OK);
    assert_int_equal(released, 1);
    assert_int_equal(reminded, 0);
    assert_string_equal(status_of(&f, b2.code), "released");
    assert_int_equal(slot_count(&f, &w, f.tuesday), 15);
    assert_int_equal(
        appointments_confirm(f.conn, f.a, f.now + 1900, &f.pol, b2.code, token2, &res, &err),
        KR_ERR_CONFLICT);
    /* The reminder went out once, on the day before. */
    assert_int_equal(
        appointments_tick(f.conn, f.a, f.now + 7200, &f.pol, &released, &reminded, &err), KR_OK);
    assert_int_equal(reminded, 0);
    int64_t mails;
    assert_int_equal(
        db_query_int64(f.conn, "SELECT COUNT(*) FROM mail_message", NULL, 0, &mails, &err), KR_OK);
    assert_int_equal(mails, 4); /* 2 confirmation links, confirmed, reminder */
    close_fixture(&f);
}

static void test_limits_and_input(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    for (int i = 0; i < 3; i++) {
        struct appointments_request r = request(&f, at(f.tuesday, 8, 15 * i), "a@example.org");
        assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    }
    struct appointments_request r = request(&f, at(f.tuesday, 9, 0), "a@example.org");
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                     KR_ERR_RATE_LIMITED);
    const char *bad_email[] = {"", "nope", "a b@example.org", NULL};
    for (size_t i = 0; i < 4; i++) {
        r = request(&f, at(f.tuesday, 9, 0), bad_email[i]);
        assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                         KR_ERR_INVALID);
    }
    r = request(&f, at(f.tuesday, 9, 0), "b@example.org");
    r.name = "";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                     KR_ERR_INVALID);
    r.name = "Max";
    r.phone = "0123<script>";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                     KR_ERR_INVALID);
    f.pol.max_per_ip = 3;
    r.phone = "+49 511 123-45";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                     KR_ERR_RATE_LIMITED);
    close_fixture(&f);
}

static void test_capacity_two_counters(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    assert_int_equal(appointments_resource_add(f.conn, f.loc, "Schalter 2", kfz, 1, &f.res2, &err),
                     KR_OK);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    const char *mails[] = {"a@example.org", "b@example.org", "c@example.org"};
    int ok = 0, taken = 0;
    for (int i = 0; i < 3; i++) {
        struct appointments_request r = request(&f, at(f.tuesday, 9, 0), mails[i]);
        r.ip = NULL;
        int rc = appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err);
        ok += rc == KR_OK;
        taken += rc == KR_ERR_CONFLICT;
    }
    assert_int_equal(ok, 2);
    assert_int_equal(taken, 1);
    int64_t claims;
    assert_int_equal(
        db_query_int64(f.conn, "SELECT COUNT(*) FROM appointment_claim", NULL, 0, &claims, &err),
        KR_OK);
    assert_int_equal(claims, 2);
    /* Two services (45 minutes) only on counter 1, which serves both. */
    struct appointments_request r = request(&f, at(f.tuesday, 10, 0), "d@example.org");
    r.want = want1(&f, 2);
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    assert_int_equal(b.resource_id, f.res1);
    assert_int_equal(b.ends_at - b.starts_at, 45 * 60);
    assert_int_equal(
        db_query_int64(f.conn, "SELECT COUNT(*) FROM appointment_claim", NULL, 0, &claims, &err),
        KR_OK);
    assert_int_equal(claims, 5);
    close_fixture(&f);
}

/* A buffer after each appointment: 15 minutes plus 10 hold two steps. */
static void test_buffer(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_new_location l = {"puffer", "Puffer", "Buffer", "Weg 2", "",
                                          "",       "NI",     0,        15,      10};
    int64_t loc, res;
    assert_int_equal(appointments_location_add(f.conn, "test", &l, &loc, &err), KR_OK);
    assert_int_equal(appointments_resource_add(f.conn, loc, "Tisch", kfz, 1, &res, &err), KR_OK);
    assert_int_equal(appointments_duration_set(f.conn, loc, kfz[0], 15, &err), KR_OK);
    assert_int_equal(appointments_hours_add(f.conn, loc, 2, 8 * 60, 12 * 60, &err), KR_OK);
    struct appointments_want w = {.location_id = loc, .service_count = 1};
    w.services[0] = kfz[0];
    assert_int_equal(slot_count(&f, &w, f.tuesday), 16);
    struct appointments_request r = request(&f, at(f.tuesday, 9, 0), "p@example.org");
    r.want = w;
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    /* 08:45 would run into 09:00, 09:00 is taken, 09:15 is the buffer. */
    assert_int_equal(slot_count(&f, &w, f.tuesday), 13);
    r.starts_at = at(f.tuesday, 8, 45);
    r.email = "q@example.org";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err),
                     KR_ERR_CONFLICT);
    r.starts_at = at(f.tuesday, 9, 30);
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    close_fixture(&f);
}

static void test_cancel_move_and_links(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    struct appointments_request r = request(&f, at(f.tuesday, 9, 0), "erika@example.org");
    r.account_id = 0;
    r.channel = "phone";
    r.ip = NULL;
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    assert_string_equal(b.status, "confirmed");
    char sig[APPOINTMENTS_SIG_LEN];
    assert_int_equal(appointments_sign(f.conn, "booking", b.code, sig, &err), KR_OK);
    assert_int_equal(appointments_verify(f.conn, "booking", b.code, sig, &err), KR_OK);
    char bad[APPOINTMENTS_SIG_LEN];
    memcpy(bad, sig, sizeof(bad));
    bad[10] = bad[10] == '0' ? '1' : '0';
    assert_int_equal(appointments_verify(f.conn, "booking", b.code, bad, &err), KR_ERR_FORBIDDEN);
    assert_int_equal(appointments_verify(f.conn, "feed", b.code, sig, &err), KR_ERR_FORBIDDEN);
    assert_int_equal(appointments_verify(f.conn, "booking", b.code, "", &err), KR_ERR_FORBIDDEN);
    /* Move to 11:00: the old time is free, the new one taken. */
    assert_int_equal(
        appointments_move(f.conn, f.a, f.now, &f.pol, b.code, at(f.tuesday, 11, 0), "test", &err),
        KR_OK);
    struct appointments_booking moved;
    assert_int_equal(appointments_get(f.conn, f.a, b.code, &moved, &err), KR_OK);
    assert_int_equal(moved.starts_at, at(f.tuesday, 11, 0));
    assert_int_equal(moved.sequence, 1);
    assert_int_equal(
        appointments_move(f.conn, f.a, f.now, &f.pol, b.code, at(f.tuesday, 11, 5), "test", &err),
        KR_ERR_INVALID);
    struct appointments_want w = want1(&f, 1);
    assert_int_equal(slot_count(&f, &w, f.tuesday), 15);
    /* Staff: block 10:00-10:30; check-in; cancel. */
    char code[APPOINTMENTS_CODE_LEN];
    assert_int_equal(appointments_block(f.conn, f.a, f.now, f.loc, f.res1, at(f.tuesday, 10, 0), 30,
                                        "Teamsitzung", "user:1", code, &err),
                     KR_OK);
    assert_int_equal(slot_count(&f, &w, f.tuesday), 13);
    assert_int_equal(appointments_block(f.conn, f.a, f.now, f.loc, f.res1, at(f.tuesday, 10, 15),
                                        15, "doppelt", "user:1", code, &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(appointments_cancel(f.conn, f.a, f.now, &f.pol, b.code, "anonymous", &err),
                     KR_OK);
    assert_int_equal(appointments_cancel(f.conn, f.a, f.now, &f.pol, b.code, "anonymous", &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(appointments_mark(f.conn, f.now, b.code, "checked_in", "user:1", &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(slot_count(&f, &w, f.tuesday), 14);
    struct appointments_booking *day;
    size_t n;
    assert_int_equal(appointments_day_list(f.conn, f.a, f.loc, f.tuesday, &day, &n, &err), KR_OK);
    assert_int_equal(n, 2); /* the block and the cancelled one */
    struct appointments_stat *st;
    assert_int_equal(
        appointments_stats(f.conn, f.a, f.now, &f.pol, f.now - 86400, f.now + 86400, &st, &n, &err),
        KR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(st[0].service_id, "kfz-umschreibung");
    assert_int_equal(st[1].bookings, 1);
    assert_int_equal(st[1].cancellations, 1);
    assert_int_equal(st[1].lead_seconds, 7200); /* today 10:00 */
    r.starts_at = at(f.tuesday, 11, 30);
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    assert_int_equal(appointments_mark(f.conn, f.now, b.code, "checked_in", "user:1", &err), KR_OK);
    assert_string_equal(status_of(&f, b.code), "checked_in");
    assert_int_equal(appointments_mark(f.conn, f.now, b.code, "no_show", "user:1", &err),
                     KR_ERR_CONFLICT);
    assert_int_equal(appointments_mark(f.conn, f.now, b.code, "gone", "user:1", &err),
                     KR_ERR_INVALID);
    struct appointments_location *locs;
    assert_int_equal(appointments_locations(f.conn, f.a, "kfz-zulassung", &locs, &n, &err), KR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(appointments_locations(f.conn, f.a, "wohngeld", &locs, &n, &err), KR_OK);
    assert_int_equal(n, 0);
    close_fixture(&f);
}

/* Every calendar in the mail queue: CRLF, lines of at most 75 octets,
 * and libical reads it without an error property. */
static void check_calendar(const char *ics, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (ics[i] == '\n') {
            assert_true(i > 0 && ics[i - 1] == '\r');
            assert_true(i - 1 - start <= 75);
            start = i + 1;
        }
    }
    char *text = strndup(ics, len);
    icalcomponent *cal = icalparser_parse_string(text);
    assert_non_null(cal);
    assert_int_equal(icalcomponent_count_errors(cal), 0);
    icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
    assert_non_null(ev);
    struct icaltimetype start_t = icalcomponent_get_dtstart(ev);
    assert_int_equal(start_t.year, 2025);
    assert_non_null(icalcomponent_get_uid(ev));
    assert_non_null(strstr(icalcomponent_get_location(ev), "Musterstadt"));
    icalcomponent_free(cal);
    free(text);
}

static void test_calendars(void **state)
{
    struct fixture f;
    struct kr_error err;
    open_fixture(state, &f);
    struct appointments_booking b;
    char token[APPOINTMENTS_TOKEN_LEN];
    struct appointments_request r = request(&f, at(f.tuesday, 9, 0), "erika@example.org");
    r.channel = "phone";
    r.name = "Ölçü, Ærøskøbing; \\ Straße \"Ä\" "
             "mit einem sehr langen Namen für die Faltung";
    assert_int_equal(appointments_book(f.conn, f.a, f.now, &f.pol, &r, &b, token, &err), KR_OK);
    assert_int_equal(
        appointments_move(f.conn, f.a, f.now, &f.pol, b.code, at(f.tuesday, 9, 30), "test", &err),
        KR_OK);
    assert_int_equal(appointments_cancel(f.conn, f.a, f.now, &f.pol, b.code, "test", &err), KR_OK);
    struct db_stmt *st;
    assert_int_equal(db_query(f.conn, "SELECT data FROM mail_attachment", NULL, 0, &st, &err),
                     KR_OK);
    int n = 0, rc;
    while ((rc = db_step(st, &err)) == DB_ROW) {
        check_calendar(db_column_blob(st, 0), db_column_len(st, 0));
        n++;
    }
    db_finish(st);
    assert_int_equal(rc, DB_DONE);
    assert_int_equal(n, 3); /* confirmed, moved, cancelled */
    /* A feed of several with folding of long UTF-8 text. */
    struct appointments_booking list[2] = {b, b};
    list[0].title = "Fahrzeug zulassen, Fahrzeug umschreiben, "
                    "Führerschein umtauschen äöü ÄÖÜ";
    list[1].status = "confirmed";
    char *ics;
    size_t len;
    assert_int_equal(appointments_ical(f.a, f.now, "https://kreis.example:8443/x", "PUBLISH", list,
                                       2, &ics, &len, &err),
                     KR_OK);
    check_calendar(ics, len);
    assert_non_null(strstr(ics, "UID:"));
    assert_non_null(strstr(ics, "@kreis.example\r\n"));
    assert_non_null(strstr(ics, "DTSTART;TZID=Europe/Berlin:20250603T090000\r\n"));
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_slots),
        TESTDB_BOTH(test_days_reused),
        TESTDB_BOTH(test_book_confirm_release),
        TESTDB_BOTH(test_limits_and_input),
        TESTDB_BOTH(test_capacity_two_counters),
        TESTDB_BOTH(test_buffer),
        TESTDB_BOTH(test_cancel_move_and_links),
        TESTDB_BOTH(test_calendars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
