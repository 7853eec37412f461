/*
 * testdb.h - a fresh, migrated database for a unit test, on either backend.
 *
 * Every module's unit tests that touch the database use this, so that each
 * test runs against its own empty database and tests can run in parallel
 * (meson runs test programs concurrently):
 *
 *   SQLite      a new file in a new directory under $TMPDIR (default /tmp)
 *   PostgreSQL  a database CREATEd with a unique name in the cluster given
 *               by the environment variable KREISEL_TEST_PG_URL, e.g.
 *                 export KREISEL_TEST_PG_URL=$(scripts/pg-test-cluster start /tmp/kr-pg)
 *               (the URL must name a role that may CREATE DATABASE; its
 *               database part is only used to connect for CREATE/DROP)
 *
 * When KREISEL_TEST_PG_URL is not set, testdb_open(DB_POSTGRES, ...) prints
 * "PostgreSQL tests skipped: KREISEL_TEST_PG_URL not set" once per process
 * and calls cmocka's skip(), which ends the calling test as skipped.  So call
 * it from the test function itself, not from a cmocka setup function
 * (cmocka counts a skip() in a setup as an error).
 *
 * A test typically runs once per dialect:
 *
 *   static void test_x(void **state)
 *   {
 *       struct db *db;
 *       assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
 *       ...
 *       testdb_close(db);
 *   }
 *
 * Failures of the helper itself are printed on stderr (test code may
 * print; library code may not).  Not thread-safe against itself for the
 * same database, but different threads may open and close different ones.
 */
#ifndef KR_TESTS_TESTDB_H
#define KR_TESTS_TESTDB_H

#include <stdbool.h>

#include "db/db.h"

/* True if KREISEL_TEST_PG_URL is set (and not empty). */
bool testdb_pg_available(void);

/*
 * A fresh database of dialect with every embedded migration applied, in a
 * pool with default options.  *out belongs to the caller: testdb_close().
 * Returns KR_OK or the error of creating, opening or migrating it.
 */
int testdb_open(enum db_dialect dialect, struct db **out);

/*
 * Like testdb_open, but with the pool options of opts (its url is ignored;
 * opts may be NULL) and migrations applied only if migrate is true (tests
 * of the migrations themselves want an empty database).
 */
int testdb_open_with(enum db_dialect dialect, const struct db_options *opts, bool migrate,
                     struct db **out);

/*
 * The URL of a database opened by testdb_open*, for opening a second pool
 * on the same database (as a second process would).  Valid until
 * testdb_close(db).  NULL for a pool testdb did not open.
 */
const char *testdb_url(const struct db *db);

/* Free the pool (every connection must have been released) and delete the
 * database: the file and its directory, or DROP DATABASE.  NULL is ok. */
void testdb_close(struct db *db);

/*
 * Register a test twice, once per dialect; the test finds its dialect in
 * *state:  TESTDB_BOTH(test_x) inside the CMUnitTest array, and
 *   assert_int_equal(testdb_open(*(enum db_dialect *)*state, &db), KR_OK);
 */
extern enum db_dialect testdb_dialects[2];
#define TESTDB_BOTH(fn)                                                                       \
    {#fn "/sqlite", fn, NULL, NULL, &testdb_dialects[0]},                                   \
    {                                                                                         \
        #fn "/postgresql", fn, NULL, NULL, &testdb_dialects[1]                              \
    }

#endif
