/*
 * einvoice_bench.c - invoices validated per second, single-threaded, with
 * the XSD check and all rules, over every invoice in a directory (the
 * shared XRechnung test invoices), read into memory first.  Prints figures;
 * never fails on speed.
 *
 *   einvoice_bench SCHEMA_DIR INVOICE_DIR [ROUNDS]
 *
 * Memory per invoice: libxml2's allocations are counted through
 * xmlMemSetup (the document, the schema validation context) and added to
 * the arena's bytes; the figure is the peak of one validation.  The
 * counting runs in a child process, so that the timed rounds use the
 * allocator the server uses (counting costs about a tenth of the time).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/xmlmemory.h>

#include "core/arena.h"
#include "einvoice/einvoice.h"

/* ---- Counting allocator for libxml2 ------------------------------------------ */

static size_t live, peak;

struct header {
    size_t size;
    size_t pad; /* keep 16-byte alignment */
};

static void *count_malloc(size_t n)
{
    struct header *h = malloc(sizeof(*h) + n);
    if (!h)
        return NULL;
    h->size = n;
    live += n;
    if (live > peak)
        peak = live;
    return h + 1;
}

static void count_free(void *p)
{
    if (!p)
        return;
    struct header *h = (struct header *)p - 1;
    live -= h->size;
    free(h);
}

static void *count_realloc(void *p, size_t n)
{
    if (!p)
        return count_malloc(n);
    struct header *h = (struct header *)p - 1;
    size_t old = h->size;
    struct header *nh = realloc(h, sizeof(*nh) + n);
    if (!nh)
        return NULL;
    nh->size = n;
    live = live - old + n;
    if (live > peak)
        peak = live;
    return nh + 1;
}

static char *count_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = count_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- Invoices ----------------------------------------------------------------- */

struct invoice {
    char *data;
    size_t len;
    char name[256];
    double secs;
};

static size_t load(const char *dir, struct invoice **out)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0, cap = 0;
    struct invoice *list = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 4 || strcmp(e->d_name + nl - 4, ".xml") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *data = malloc((size_t)size + 1);
        if (data && fread(data, 1, (size_t)size, f) == (size_t)size) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                list = realloc(list, cap * sizeof(*list));
            }
            list[n].data = data;
            snprintf(list[n].name, sizeof(list[n].name), "%s", e->d_name);
            list[n++].len = (size_t)size;
        } else {
            free(data);
        }
        fclose(f);
    }
    closedir(d);
    *out = list;
    return n;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Memory, counted in a child process ------------------------------------------- */

struct memory {
    size_t schema_bytes, sum, worst, accepted;
};

/* The child: count libxml2's allocations (xmlMemSetup must come before any
 * other libxml2 call of the process) and validate every invoice once. */
static int count_memory(const char *schemas, struct invoice *inv, size_t n, struct memory *m)
{
    xmlMemSetup(count_free, count_malloc, count_realloc, count_strdup);
    struct einvoice_validator *v;
    struct kr_error err;
    if (einvoice_validator_new(schemas, &v, &err) || einvoice_validator_preload(v, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    memset(m, 0, sizeof(*m));
    m->schema_bytes = live;
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < n; i++) {
        struct einvoice_report *r;
        peak = live;
        if (einvoice_validate(v, a, inv[i].data, inv[i].len, &r, &err)) {
            fprintf(stderr, "%s: %s\n", inv[i].name, err.message);
            return 1;
        }
        m->accepted += r->verdict == EINVOICE_ACCEPT;
        size_t used = (peak - m->schema_bytes) + arena_used(a);
        m->sum += used;
        m->worst = used > m->worst ? used : m->worst;
        arena_reset(a);
    }
    arena_free(a);
    einvoice_validator_free(v);
    return 0;
}

static int memory_in_child(const char *schemas, struct invoice *inv, size_t n, struct memory *m)
{
    int fd[2];
    if (pipe(fd) != 0)
        return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(fd[0]);
        int rc = count_memory(schemas, inv, n, m);
        if (rc == 0 && write(fd[1], m, sizeof(*m)) != (ssize_t)sizeof(*m))
            rc = 1;
        _exit(rc);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], m, sizeof(*m));
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof(*m) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s SCHEMA_DIR INVOICE_DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    if (rounds < 1)
        rounds = 1;
    struct invoice *inv;
    size_t n = load(argv[2], &inv);
    if (n == 0) {
        fprintf(stderr, "no invoices in %s\n", argv[2]);
        return 1;
    }
    struct memory m;
    if (memory_in_child(argv[1], inv, n, &m))
        return 1;
    struct einvoice_validator *v;
    struct kr_error err;
    double t0 = now();
    if (einvoice_validator_new(argv[1], &v, &err) || einvoice_validator_preload(v, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double load_s = now() - t0;
    struct arena *a = arena_new(0);
    /* One warm-up round. */
    for (size_t i = 0; i < n; i++) {
        struct einvoice_report *r;
        if (einvoice_validate(v, a, inv[i].data, inv[i].len, &r, &err))
            return 1;
        arena_reset(a);
    }
    double *each = calloc(n, sizeof(double));
    size_t bytes = 0;
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        double t1 = now();
        for (int k = 0; k < rounds; k++) {
            struct einvoice_report *r;
            if (einvoice_validate(v, a, inv[i].data, inv[i].len, &r, &err))
                return 1;
            arena_reset(a);
        }
        each[i] = inv[i].secs = (now() - t1) / rounds;
        bytes += inv[i].len;
    }
    double secs = now() - t0;
    double per = secs / ((double)n * rounds);
    qsort(each, n, sizeof(double), cmp_double);
    double each_p90 = each[n * 97 / 100];
    printf("e-invoice validation (XSD + EN 16931 + XRechnung rules), one thread:\n");
    printf("  %zu invoices (%.1f MB) x %d rounds: %.0f invoices/s, %.3f ms per invoice, "
           "%.0f MB/s\n",
           n, (double)bytes / 1e6, rounds, 1.0 / per, per * 1000.0,
           (double)bytes * rounds / secs / 1e6);
    printf("  per invoice: median %.3f ms, 90th percentile %.3f ms, largest %.3f ms\n",
           each[n / 2] * 1000.0, each[n * 9 / 10] * 1000.0, each[n - 1] * 1000.0);
    free(each);
    if (getenv("BENCH_SLOWEST")) {
        for (size_t i = 0; i < n; i++)
            if (inv[i].secs >= each_p90)
                printf("    %.3f ms  %7zu bytes  %s\n", inv[i].secs * 1000.0, inv[i].len,
                       inv[i].name);
    }
    printf("  accepted %zu of %zu; schemas compiled once in %.0f ms (%.1f MB)\n", m.accepted, n,
           load_s * 1000.0, (double)m.schema_bytes / 1e6);
    printf("  memory per invoice (libxml2 peak + arena): mean %.0f KB, max %.0f KB\n",
           (double)m.sum / (double)n / 1024.0, (double)m.worst / 1024.0);
    arena_free(a);
    einvoice_validator_free(v);
    for (size_t i = 0; i < n; i++)
        free(inv[i].data);
    free(inv);
    return 0;
}
