/* fixture.h - a migrated database with the demo units, people and the demo
 * file plan, shared by the e-file unit tests. */
#ifndef KR_TESTS_EFILE_FIXTURE_H
#define KR_TESTS_EFILE_FIXTURE_H

#include "accounts/accounts.h"
#include "efile/efile.h"

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
    struct blob_store *blobs;
    char blob_dir[256];
    /* Two clerks of 36.1, one of 50.1, two records managers, a head of
     * 36.1. */
    struct efile_actor clerk, clerk2, other, records, records2, head;
    int64_t unit_361, unit_501;
    void (*close_blobs)(struct fixture *f);
};

/* Open the fixture on dialect (skips PostgreSQL without a cluster);
 * with_plan loads data/efile/plan.csv. */
void fixture_open(void **state, struct fixture *f, bool with_plan);
void fixture_close(struct fixture *f);

/* Id of the plan item with number. */
int64_t fixture_plan(struct fixture *f, const char *number);

/* Open a blob store in a fresh directory (fixture_blob.c); closed and
 * removed by fixture_close. */
void fixture_blobs_open(struct fixture *f);

/* Store text as a blob and fill content (filename and media type given). */
void fixture_content(struct fixture *f, const char *data, size_t len, const char *filename,
                     const char *media_type, struct efile_content *out);

/* COUNT(*) of a query without parameters. */
int64_t fixture_count(struct fixture *f, const char *sql);

#endif
