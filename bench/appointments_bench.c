/*
 * appointments_bench.c - figures of the appointment module (bench/appointments
 * runs it; never fails on speed):
 *
 *   appointments_bench setup DB            a location "bench" with 20
 *                                          counters, 15-minute steps,
 *                                          Mon-Sat 07:00-19:00
 *   appointments_bench book DB THREADS N   N bookings (anonymous, e-mail
 *                                          confirmation queued) spread over
 *                                          the free slots of 8 weeks, from
 *                                          THREADS threads: bookings/s
 *   appointments_bench slots DB N          N slot lists (one day) and N day
 *                                          lists (8 weeks): p50/p99 in ms
 *
 * DB is a database URL as in kreisel.conf.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appointments/appointments.h"
#include "core/log.h"
#include "core/util.h"

static struct db *db;
static struct appointments_policy pol = {
    56 * 86400, 7200, 1800, 1000000, 1000000, 0, "http://127.0.0.1:8080"};
static int64_t location_id;
static struct appointments_slot *slots;
static size_t slot_count;
static atomic_size_t next_slot;
static atomic_long booked, taken, failed;

static int die(const char *what, const struct kr_error *err)
{
    fprintf(stderr, "%s: %s (%s)\n", what, err->message, err->detail);
    return 1;
}

static int setup(struct db_conn *conn, struct kr_error *err)
{
    static const char *const svc[] = {"bench-service"};
    struct appointments_new_location l = {
        "bench", "Benchmark", "Benchmark", "Teststraße 1", "", "", "NI", 0, 15, 0};
    int rc = db_begin(conn, err);
    if (rc == KR_OK)
        rc = appointments_location_add(conn, "bench", &l, &location_id, err);
    for (int i = 1; rc == KR_OK && i <= 20; i++) {
        char name[32];
        (void)snprintf(name, sizeof(name), "Schalter %d", i);
        rc = appointments_resource_add(conn, location_id, name, svc, 1, NULL, err);
    }
    if (rc == KR_OK)
        rc = appointments_duration_set(conn, location_id, svc[0], 15, err);
    for (int wd = 1; rc == KR_OK && wd <= 6; wd++)
        rc = appointments_hours_add(conn, location_id, wd, 7 * 60, 19 * 60, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    return rc;
}

static struct appointments_want want(void)
{
    struct appointments_want w = {.location_id = location_id, .service_count = 1};
    w.services[0] = "bench-service";
    return w;
}

static void *booker(void *arg)
{
    (void)arg;
    struct db_conn *conn;
    struct kr_error err;
    struct arena *a = arena_new(0);
    if (db_acquire(db, &conn, &err) != KR_OK)
        return NULL;
    for (;;) {
        size_t i = atomic_fetch_add(&next_slot, 1);
        if (i >= slot_count)
            break;
        char email[64], token[APPOINTMENTS_TOKEN_LEN];
        (void)snprintf(email, sizeof(email), "b%zu@example.org", i);
        struct appointments_request r = {.want = want(),
                                         .starts_at = slots[i].starts_at,
                                         .name = "Bench",
                                         .email = email,
                                         .actor = "bench",
                                         .channel = "web"};
        struct appointments_booking b;
        int rc = appointments_book(conn, a, kr_now(), &pol, &r, &b, token, &err);
        atomic_fetch_add(rc == KR_OK ? &booked : rc == KR_ERR_CONFLICT ? &taken : &failed, 1);
        if (rc && rc != KR_ERR_CONFLICT && atomic_load(&failed) == 1)
            die("book", &err);
        arena_reset(a);
    }
    db_release(conn);
    arena_free(a);
    return NULL;
}

/* Every free (slot, counter) of 8 weeks, in a shuffled order. */
static int collect(struct db_conn *conn, struct arena *a, size_t want_n, struct kr_error *err)
{
    struct appointments_want w = want();
    struct appointments_day *days;
    size_t nd;
    int rc = appointments_days(conn, a, kr_now(), &pol, &w, &days, &nd, err);
    if (rc)
        return rc;
    slots = calloc(nd * 48 * 20 + 1, sizeof(*slots));
    for (size_t d = 0; d < nd; d++) {
        struct appointments_slot *s;
        size_t n;
        rc = appointments_slots(conn, a, kr_now(), &pol, &w, days[d].day, &s, &n, err);
        for (size_t i = 0; rc == KR_OK && i < n; i++)
            for (unsigned k = 0; k < s[i].free; k++)
                slots[slot_count++] = s[i];
    }
    for (size_t i = slot_count; i > 1; i--) {
        uint32_t j;
        kr_random_bytes(&j, sizeof(j));
        struct appointments_slot t = slots[i - 1];
        slots[i - 1] = slots[j % i];
        slots[j % i] = t;
    }
    if (slot_count > want_n)
        slot_count = want_n;
    return rc;
}

static int bench_book(struct db_conn *conn, int threads, size_t n, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    int rc = collect(conn, a, n, err);
    arena_free(a);
    if (rc)
        return die("collect", err);
    db_release(conn);
    pthread_t t[64];
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = kr_monotonic_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, booker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double secs = (double)(kr_monotonic_ns() - t0) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                          ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                          ru0.ru_stime.tv_usec) /
                     1e6;
    printf("bookings: %ld in %.2f s with %d threads = %.0f bookings/s (%ld taken, %ld failed; "
           "each: claims + audit entry + confirmation mail queued, one transaction)\n",
           atomic_load(&booked), secs, threads, (double)atomic_load(&booked) / secs,
           atomic_load(&taken), atomic_load(&failed));
    printf("  CPU time of this process (user+sys): %.3f ms per booking = %.0f bookings per CPU "
           "second\n",
           cpu * 1e3 / (double)atomic_load(&booked), (double)atomic_load(&booked) / cpu);
    free(slots);
    return 0;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static void report(const char *what, int64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(*ns), cmp_i64);
    printf("%s: p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu calls\n", what,
           (double)ns[n / 2] / 1e6, (double)ns[n * 99 / 100] / 1e6, (double)ns[n - 1] / 1e6, n);
}

static int bench_slots(struct db_conn *conn, size_t n, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    struct appointments_want w = want();
    int64_t *day_ns = calloc(n, sizeof(int64_t)), *list_ns = calloc(n, sizeof(int64_t));
    int64_t today;
    int minute;
    appointments_utc_to_local(kr_now(), &today, &minute);
    for (size_t i = 0; i < n; i++) {
        struct appointments_slot *s;
        struct appointments_day *d;
        size_t c;
        int64_t t0 = kr_monotonic_ns();
        if (appointments_slots(conn, a, kr_now(), &pol, &w, today + 1 + (int64_t)(i % 50), &s, &c,
                               err))
            return die("slots", err);
        int64_t t1 = kr_monotonic_ns();
        if (appointments_days(conn, a, kr_now(), &pol, &w, &d, &c, err))
            return die("days", err);
        day_ns[i] = t1 - t0;
        list_ns[i] = kr_monotonic_ns() - t1;
        arena_reset(a);
    }
    report("slot list of one day (20 counters)", day_ns, n);
    report("days with free slots over 8 weeks (20 counters)", list_ns, n);
    free(day_ns);
    free(list_ns);
    arena_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    struct kr_error err;
    kr_error_clear(&err);
    kr_log_set_level(KR_LOG_WARN);
    if (argc < 3 || kr_util_init() != KR_OK) {
        fprintf(stderr, "usage: appointments_bench setup|book|slots DB [THREADS] [N]\n");
        return 2;
    }
    struct db_options o = {.url = argv[2], .pool_size = 40};
    struct db_conn *conn;
    int applied;
    if (db_open(&db, &o, &err) || db_migrate(db, &applied, &err) || db_acquire(db, &conn, &err))
        return die("database", &err);
    int rc = 0;
    struct appointments_location loc;
    struct arena *a = arena_new(0);
    if (strcmp(argv[1], "setup") == 0) {
        rc = setup(conn, &err) ? die("setup", &err) : 0;
        db_release(conn);
    } else if (appointments_location_get(conn, a, "bench", 0, &loc, &err)) {
        rc = die("no bench location (run setup first)", &err);
        db_release(conn);
    } else {
        location_id = loc.id;
        if (strcmp(argv[1], "book") == 0 && argc == 5) {
            long threads = strtol(argv[3], NULL, 10);
            rc = bench_book(conn, threads < 1 || threads > 64 ? 4 : (int)threads,
                            (size_t)strtoul(argv[4], NULL, 10), &err);
        } else {
            rc = bench_slots(conn, argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 200, &err);
            db_release(conn);
        }
    }
    arena_free(a);
    db_free(db);
    return rc;
}
