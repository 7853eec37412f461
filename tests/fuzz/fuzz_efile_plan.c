/* fuzz_efile_plan.c - arbitrary bytes as a file plan import (CSV or JSON,
 * the first byte picks) into an in-memory SQLite database with a few
 * units: the parser, the checks and the all-or-nothing store must never
 * crash, and a rejected import must store nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "core/log.h"
#include "core/util.h"
#include "efile/efile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static struct db_conn *conn;

static void setup(void)
{
    struct kr_error err;
    struct db_options opts = {.url = "sqlite::memory:"};
    kr_log_set_level(KR_LOG_ERROR);
    if (kr_util_init() || db_open(&db, &opts, &err) || db_migrate(db, NULL, &err) ||
        db_acquire(db, &conn, &err))
        abort();
    int64_t county, unit;
    if (accounts_org_unit_add(conn, "fuzz", 0, "county", "LK", "L", "L", &county, &err) ||
        accounts_org_unit_add(conn, "fuzz", county, "office", "36", "A", "A", &unit, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (!db)
        setup();
    struct kr_error err;
    int64_t before = 0, after = 0;
    if (db_query_int64(conn, "SELECT COUNT(*) FROM efile_plan_item", NULL, 0, &before, &err))
        abort();
    struct arena *a = arena_new(0);
    struct efile_import_result res;
    int rc = efile_plan_import(conn, a, "fuzz", data[0] & 1 ? EFILE_JSON : EFILE_CSV,
                               (const char *)data + 1, size - 1, &res, &err);
    if (db_query_int64(conn, "SELECT COUNT(*) FROM efile_plan_item", NULL, 0, &after, &err))
        abort();
    if (rc != KR_OK && after != before)
        abort(); /* a rejected import stored something */
    arena_free(a);
    return 0;
}
