/*
 * forms_bench.c - form server figures (never fails on speed):
 *   1. submissions per second of a 20-field, 3-step form with logic
 *      (show_if, required_if, skip_if, a cross-field check, a computed
 *      fee): each submission parses the three posted step bodies, checks
 *      them, creates a draft, stores it and submits it (validation again,
 *      cleaning, fee, submission row, case intake record, audit entry,
 *      draft deletion, one transaction) - everything but HTTP and
 *      rendering; THREADS threads, each with its own connection;
 *   2. the receipt PDF of such a submission, ms per document.
 *
 *   forms_bench DATABASE_URL SECONDS THREADS
 *
 * DATABASE_URL is a fresh database (sqlite:PATH or postgresql://...); it
 * is migrated first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/util.h"
#include "forms/forms.h"
#include "forms/receipt.h"

static const char form[] =
    "{\"id\": \"bench\", \"title\": \"Bench\", \"unit\": \"51\", "
    "\"fee\": \"if(express, 25.00, 10.00) * copies\", \"steps\": [\n"
    "{\"id\": \"a\", \"title\": \"A\", \"fields\": [\n"
    " {\"id\": \"first\", \"type\": \"text\", \"label\": \"F\", \"required\": true},\n"
    " {\"id\": \"last\", \"type\": \"text\", \"label\": \"L\", \"required\": true},\n"
    " {\"id\": \"born\", \"type\": \"date\", \"label\": \"B\", \"required\": true},\n"
    " {\"id\": \"email\", \"type\": \"email\", \"label\": \"E\", \"required\": true},\n"
    " {\"id\": \"phone\", \"type\": \"phone\", \"label\": \"P\"},\n"
    " {\"id\": \"addr\", \"type\": \"address\", \"label\": \"A\", \"required\": true},\n"
    " {\"id\": \"iban\", \"type\": \"iban\", \"label\": \"I\", \"required\": true}]},\n"
    "{\"id\": \"b\", \"title\": \"B\", \"fields\": [\n"
    " {\"id\": \"kind\", \"type\": \"radio\", \"label\": \"K\", \"required\": true, "
    "\"options\": [{\"value\": \"x\", \"label\": \"X\"}, {\"value\": \"y\", \"label\": \"Y\"}]},\n"
    " {\"id\": \"copies\", \"type\": \"number\", \"label\": \"C\", \"min\": 1, \"max\": 10, "
    "\"required\": true},\n"
    " {\"id\": \"express\", \"type\": \"yesno\", \"label\": \"X\", \"required\": true},\n"
    " {\"id\": \"reason\", \"type\": \"textarea\", \"label\": \"R\", \"show_if\": \"express\", "
    "\"required\": true},\n"
    " {\"id\": \"start\", \"type\": \"date\", \"label\": \"S\", \"required\": true},\n"
    " {\"id\": \"end\", \"type\": \"date\", \"label\": \"E\", \"required\": true},\n"
    " {\"id\": \"topics\", \"type\": \"checkbox\", \"label\": \"T\", \"options\": "
    "[{\"value\": \"a\", \"label\": \"A\"}, {\"value\": \"b\", \"label\": \"B\"}]},\n"
    " {\"id\": \"amount\", \"type\": \"money\", \"label\": \"M\", \"required_if\": \"kind == "
    "'y'\"}],\n"
    " \"checks\": [{\"field\": \"end\", \"rule\": \"end > start and end - start <= 365\", "
    "\"message\": \"bad\"}]},\n"
    "{\"id\": \"c\", \"title\": \"C\", \"skip_if\": \"copies == 1\", \"fields\": [\n"
    " {\"id\": \"deliver\", \"type\": \"select\", \"label\": \"D\", \"required\": true, "
    "\"options\": [{\"value\": \"post\", \"label\": \"P\"}, {\"value\": \"pick\", \"label\": "
    "\"K\"}]},\n"
    " {\"id\": \"deliver_to\", \"type\": \"address\", \"label\": \"T\", \"show_if\": \"deliver == "
    "'post'\", \"required\": true},\n"
    " {\"id\": \"postcode\", \"type\": \"postcode\", \"label\": \"Z\"},\n"
    " {\"id\": \"note\", \"type\": \"text\", \"label\": \"N\"},\n"
    " {\"id\": \"fee_shown\", \"type\": \"computed\", \"label\": \"F\", "
    "\"value\": \"if(express, 25.00, 10.00) * copies\"}]}\n"
    "]}\n";

static const char *const bodies[3] = {
    "first=Anna&last=Muster&born=1990-04-01&email=anna%40example.org&phone=%2B49+170+123456"
    "&addr.street=Hauptstr.&addr.number=1&addr.postcode=12345&addr.city=Musterstadt"
    "&iban=DE89+3704+0044+0532+0130+00",
    "kind=y&copies=3&express=ja&reason=Frist+l%C3%A4uft+ab&start=2025-08-01&end=2025-12-31"
    "&topics=a&topics=b&amount=120%2C50",
    "deliver=post&deliver_to.street=Nebenweg&deliver_to.number=2&deliver_to.postcode=54321"
    "&deliver_to.city=Musterdorf&postcode=12345&note=Bitte+klingeln",
};

struct worker {
    struct db *db;
    const struct forms_def *def;
    double seconds;
    long done;
    int64_t submit_ns; /* time spent in forms_submit alone */
    int failed;
};

static int64_t submit_ns;
static __thread int64_t *submit_clock;

static int one(struct db_conn *conn, const struct forms_def *def, struct arena *a,
               struct forms_submission *sub)
{
    struct kr_error err;
    struct forms_draft d;
    int rc = forms_draft_create(conn, def, 0, 3600, a, &d, &err);
    struct forms_eval ev;
    forms_eval_init(&ev, def, d.answers, a);
    for (int s = 0; rc == KR_OK && s < 3; s++) {
        struct text_pairs in;
        struct forms_problems probs = {0};
        rc = text_parse_urlencoded(a, bodies[s], strlen(bodies[s]), 200, &in, &err);
        if (rc == KR_OK)
            rc = forms_read_step(&ev, s, &in, &probs);
        if (rc == KR_OK)
            rc = forms_check_step(&ev, s, &probs);
        if (rc == KR_OK && probs.count)
            rc = kr_error_set(&err, KR_ERR_INVALID, "%s: %s", probs.items[0].field,
                              probs.items[0].code);
        d.done |= (int64_t)1 << s;
        if (rc == KR_OK)
            rc = forms_draft_save(conn, &d, 3600, &err);
    }
    struct forms_submitter who = {.user_id = 0, .actor = "bench"};
    struct forms_problems probs = {0};
    int64_t t0 = kr_monotonic_ns();
    if (rc == KR_OK)
        rc = forms_submit(conn, def, &d, &who, &probs, a, sub, &err);
    *(submit_clock ? submit_clock : &submit_ns) += kr_monotonic_ns() - t0;
    if (rc)
        fprintf(stderr, "forms_bench: %s\n", err.message);
    return rc;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct db_conn *conn;
    struct kr_error err;
    if (db_acquire(w->db, &conn, &err) != KR_OK) {
        w->failed = 1;
        return NULL;
    }
    struct arena *a = arena_new(0);
    submit_clock = &w->submit_ns;
    int64_t end = kr_monotonic_ns() + (int64_t)(w->seconds * 1e9);
    while (kr_monotonic_ns() < end) {
        struct forms_submission sub;
        if (one(conn, w->def, a, &sub) != KR_OK) {
            w->failed = 1;
            break;
        }
        w->done++;
        arena_reset(a);
    }
    arena_free(a);
    db_release(conn);
    return NULL;
}

static void receipt_figures(struct db *db, const struct forms_def *def)
{
    struct db_conn *conn;
    struct kr_error err;
    struct forms_submission sub;
    struct arena *a = arena_new(0);
    if (db_acquire(db, &conn, &err) != KR_OK || one(conn, def, a, &sub) != KR_OK)
        return;
    db_release(conn);
    int n = 200;
    int64_t t0 = kr_monotonic_ns();
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        struct buf pdf;
        if (forms_receipt(def, &sub, "Landkreis Musterland", "de", &pdf, &err) != KR_OK) {
            fprintf(stderr, "forms_bench: receipt: %s\n", err.message);
            return;
        }
        bytes = pdf.len;
        buf_release(&pdf);
    }
    double ms = (double)(kr_monotonic_ns() - t0) / 1e6 / n;
    printf("receipt PDF: %.2f ms per document (%d documents, %zu bytes each)\n", ms, n, bytes);
    arena_free(a);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: forms_bench DATABASE_URL SECONDS THREADS\n");
        return 2;
    }
    struct kr_error err;
    struct db *db;
    struct forms_set *set;
    const struct forms_def *def;
    int threads = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    struct db_options opts = {.url = argv[1], .pool_size = (unsigned)threads + 1};
    if (kr_util_init() || db_open(&db, &opts, &err) || db_migrate(db, NULL, &err) ||
        forms_set_new(&set, &err) || forms_set_add(set, "bench", form, strlen(form), &def, &err)) {
        fprintf(stderr, "forms_bench: %s\n", err.message);
        return 1;
    }
    struct worker w[16] = {0};
    pthread_t t[16];
    if (threads > 16)
        threads = 16;
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){.db = db, .def = def, .seconds = atof(argv[2])};
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    long total = 0;
    int failed = 0;
    double submit_rate = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += w[i].done;
        failed |= w[i].failed;
        if (w[i].submit_ns)
            submit_rate += w[i].done / ((double)w[i].submit_ns / 1e9);
    }
    printf("%s, %d threads, 20 fields, 3 steps with logic:\n", db_backend_name(db), threads);
    printf("  whole fills:  %.0f/s (draft, 3 steps read, checked and saved, submission; %ld in "
           "%ss)\n",
           total / atof(argv[2]), total, argv[2]);
    printf("  submissions:  %.0f/s (the final POST's transaction alone: validate, clean, fee, "
           "store, route, audit)\n",
           submit_rate);
    receipt_figures(db, def);
    forms_set_free(set);
    db_free(db);
    return failed;
}
