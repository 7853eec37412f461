/*
 * testdb.c - fresh databases for unit tests (see testdb.h).
 */
#include "testdb.h"

enum db_dialect testdb_dialects[2] = {DB_SQLITE, DB_POSTGRES};

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/buf.h"

#define PG_URL_ENV "KREISEL_TEST_PG_URL"
#define URL_MAX 4096

/* What testdb_close must delete, for each database handed out. */
struct testdb_entry {
    struct db *db;
    enum db_dialect dialect;
    char *url;
    char *dir;  /* SQLite: the temporary directory */
    char *name; /* PostgreSQL: the database name */
    struct testdb_entry *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct testdb_entry *registry;

bool testdb_pg_available(void)
{
    const char *url = getenv(PG_URL_ENV);
    return url && *url;
}

static void entry_free(struct testdb_entry *e)
{
    if (!e)
        return;
    free(e->url);
    free(e->dir);
    free(e->name);
    free(e);
}

/* ------------------------------------------------------------------------
 * SQLite: a file in a directory of its own */

static const char *const sqlite_files[] = {"test.db", "test.db-wal", "test.db-shm",
                                           "test.db-journal"};

static int sqlite_create(struct testdb_entry *e)
{
    const char *tmp = getenv("TMPDIR");
    struct buf b;
    buf_init(&b, URL_MAX);
    (void)buf_printf(&b, "%s/kreisel-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    e->dir = buf_detach(&b, NULL);
    if (!e->dir || !mkdtemp(e->dir)) {
        fprintf(stderr, "testdb: cannot create a temporary directory: %s\n", strerror(errno));
        return KR_ERR_IO;
    }
    (void)buf_printf(&b, "sqlite:%s/test.db", e->dir);
    e->url = buf_detach(&b, NULL);
    return e->url ? KR_OK : KR_ERR_NOMEM;
}

static void sqlite_remove(const struct testdb_entry *e)
{
    if (!e->dir)
        return;
    for (size_t i = 0; i < KR_ARRAY_LEN(sqlite_files); i++) {
        char path[URL_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", e->dir, sqlite_files[i]) < (int)sizeof(path))
            (void)unlink(path);
    }
    if (rmdir(e->dir) != 0)
        fprintf(stderr, "testdb: cannot remove %s: %s\n", e->dir, strerror(errno));
}

/* ------------------------------------------------------------------------
 * PostgreSQL: a database of its own in the test cluster */

static void skip_postgres(void)
{
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&said))
        fprintf(stderr, "PostgreSQL tests skipped: " PG_URL_ENV " not set\n");
    skip();
}

/* Run one statement on the cluster's maintenance connection. */
static int pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(getenv(PG_URL_ENV));
    int rc = KR_OK;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "testdb: cannot connect to %s: %s", PG_URL_ENV,
                c ? PQerrorMessage(c) : "out of memory\n");
        rc = KR_ERR_DB;
    } else {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(c));
            rc = KR_ERR_DB;
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static void uri_append_encoded(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/-._~", c))
            (void)buf_putc(b, (char)c);
        else
            (void)buf_printf(b, "%%%02X", c);
    }
}

/* The cluster's URL with the database replaced by name: every other
 * connection option (host, port, user, password, ...) is kept. */
static char *pg_url_for(const char *name)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(getenv(PG_URL_ENV), &msg);
    if (!opts) {
        fprintf(stderr, "testdb: %s: %s\n", PG_URL_ENV, msg ? msg : "out of memory");
        PQfreemem(msg);
        return NULL;
    }
    struct buf b;
    buf_init(&b, URL_MAX);
    (void)buf_printf(&b, "postgresql:///%s", name);
    char sep = '?';
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || strcmp(o->keyword, "dbname") == 0)
            continue;
        (void)buf_printf(&b, "%c%s=", sep, o->keyword);
        uri_append_encoded(&b, o->val);
        sep = '&';
    }
    PQconninfoFree(opts);
    return buf_detach(&b, NULL);
}

static int pg_create(struct testdb_entry *e)
{
    static atomic_uint counter;
    char name[64];
    /* Unique across the processes meson runs at once and across runs. */
    (void)snprintf(name, sizeof(name), "kreisel_test_%ld_%u_%llx", (long)getpid(),
                   atomic_fetch_add(&counter, 1),
                   (unsigned long long)(kr_monotonic_ns() & 0xffffffffffULL));
    e->name = strdup(name);
    e->url = pg_url_for(name);
    if (!e->name || !e->url)
        return KR_ERR_NOMEM;
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0", name);
    return pg_admin(sql);
}

static void pg_drop(const struct testdb_entry *e)
{
    char sql[128];
    if (!e->name)
        return;
    /* FORCE: a connection a failed test left open must not keep it. */
    (void)snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->name);
    (void)pg_admin(sql);
}

/* ------------------------------------------------------------------------ */

static void entry_remove(struct testdb_entry *e)
{
    if (e->dialect == DB_SQLITE)
        sqlite_remove(e);
    else
        pg_drop(e);
}

static int open_pool(struct testdb_entry *e, const struct db_options *opts, bool migrate)
{
    struct db_options o = opts ? *opts : (struct db_options){0};
    o.url = e->url;
    struct kr_error err;
    kr_error_clear(&err);
    int rc = db_open(&e->db, &o, &err);
    if (rc == KR_OK && migrate)
        rc = db_migrate(e->db, NULL, &err);
    if (rc) {
        fprintf(stderr, "testdb: %s: %s (%s)\n", kr_status_name(rc), err.message, err.detail);
        db_free(e->db);
        e->db = NULL;
    }
    return rc;
}

int testdb_open_with(enum db_dialect dialect, const struct db_options *opts, bool migrate,
                     struct db **out)
{
    *out = NULL;
    if (dialect == DB_POSTGRES && !testdb_pg_available())
        skip_postgres(); /* does not return */
    if (kr_util_init() != KR_OK)
        return KR_ERR_INTERNAL;
    struct testdb_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return KR_ERR_NOMEM;
    e->dialect = dialect;
    int rc = dialect == DB_SQLITE ? sqlite_create(e) : pg_create(e);
    if (rc == KR_OK)
        rc = open_pool(e, opts, migrate);
    if (rc) {
        entry_remove(e);
        entry_free(e);
        return rc;
    }
    pthread_mutex_lock(&registry_lock);
    e->next = registry;
    registry = e;
    pthread_mutex_unlock(&registry_lock);
    *out = e->db;
    return KR_OK;
}

int testdb_open(enum db_dialect dialect, struct db **out)
{
    return testdb_open_with(dialect, NULL, true, out);
}

static struct testdb_entry *find_locked(const struct db *db, bool unlink_it)
{
    for (struct testdb_entry **p = &registry; *p; p = &(*p)->next) {
        struct testdb_entry *e = *p;
        if (e->db == db) {
            if (unlink_it)
                *p = e->next;
            return e;
        }
    }
    return NULL;
}

const char *testdb_url(const struct db *db)
{
    pthread_mutex_lock(&registry_lock);
    struct testdb_entry *e = find_locked(db, false);
    pthread_mutex_unlock(&registry_lock);
    return e ? e->url : NULL;
}

void testdb_close(struct db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&registry_lock);
    struct testdb_entry *e = find_locked(db, true);
    pthread_mutex_unlock(&registry_lock);
    db_free(db);
    if (e) {
        entry_remove(e);
        entry_free(e);
    }
}
