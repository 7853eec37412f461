/* fixture_blob.c - the blob store of the fixture (see fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

static void close_blobs(struct fixture *f)
{
    char cmd[300];
    blob_store_close(f->blobs);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->blob_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->blob_dir);
}

void fixture_blobs_open(struct fixture *f)
{
    struct kr_error err;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    (void)snprintf(f->blob_dir, sizeof(f->blob_dir), "%s/efile-blobs-XXXXXX", tmp);
    assert_non_null(mkdtemp(f->blob_dir));
    assert_int_equal(blob_store_open(f->blob_dir, &f->blobs, &err), KR_OK);
    f->close_blobs = close_blobs;
}

void fixture_content(struct fixture *f, const char *data, size_t len, const char *filename,
                     const char *media_type, struct efile_content *out)
{
    struct kr_error err;
    struct blob_info info;
    assert_int_equal(blob_put(f->blobs, data, len, &info, &err), KR_OK);
    out->blob_hash = arena_strdup(f->a, info.hash);
    out->size = info.size;
    out->filename = filename;
    out->media_type = media_type;
}
