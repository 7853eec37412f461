/*
 * Tests of src/core/dropdir.c in a temporary directory: which files a scan
 * hands over (settled regular files only; no dotfiles, no *.tmp, no
 * symbolic links, no subdirectories), where they go with their note,
 * free target names, size limit, KEEP, and that a file is handed over once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dropdir.h"
#include "core/util.h"

struct calls {
    char names[16][64];
    size_t n;
    enum kr_dropdir_outcome answer;
};

static enum kr_dropdir_outcome record(void *ctx, const char *name, const char *data, size_t len,
                                      struct buf *note)
{
    struct calls *c = ctx;
    assert_true(c->n < 16);
    (void)snprintf(c->names[c->n++], 64, "%s", name);
    assert_int_equal(strlen(data), len); /* NUL-terminated, no NUL inside here */
    buf_printf(note, "seen %zu bytes", len);
    if (strcmp(data, "keep") == 0)
        return KR_DROPDIR_KEEP;
    return strcmp(data, "bad") == 0 ? KR_DROPDIR_FAILED : c->answer;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static char *slurp(const char *dir, const char *name)
{
    char path[512], *data = NULL;
    size_t len;
    struct kr_error err;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(kr_read_file(path, 1 << 20, &data, &len, &err), KR_OK);
    return data;
}

static void make_tmpdir(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    (void)snprintf(dir, size, "%s/kr-dropdir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void scan(struct kr_dropdir *d, struct calls *c, struct kr_dropdir_counts *counts)
{
    struct kr_error err;
    assert_int_equal(kr_dropdir_scan(d, record, c, counts, &err), KR_OK);
}

static void test_settled_files_only(void **state)
{
    (void)state;
    char dir[256], sub[300];
    make_tmpdir(dir, sizeof(dir));
    struct kr_dropdir *d;
    struct kr_error err;
    assert_int_equal(kr_dropdir_open(dir, 1024, &d, &err), KR_OK);
    assert_true(exists(dir, "done") && exists(dir, "failed"));
    put(dir, "a.xml", "good");
    put(dir, ".hidden.xml", "good");
    put(dir, "b.xml.tmp", "good");
    put(dir, "bad.xml", "bad");
    (void)snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put(sub, "c.xml", "good");
    (void)snprintf(sub, sizeof(sub), "%s/a.xml", dir);
    char link[300];
    (void)snprintf(link, sizeof(link), "%s/link.xml", dir);
    assert_int_equal(symlink(sub, link), 0);
    struct calls c = {.answer = KR_DROPDIR_DONE};
    struct kr_dropdir_counts k;
    /* First sight: nothing is taken, two files wait. */
    scan(d, &c, &k);
    assert_int_equal(c.n, 0);
    assert_int_equal(k.waiting, 2);
    /* Settled now: both are taken, by name; the rest stays. */
    scan(d, &c, &k);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "a.xml");
    assert_string_equal(c.names[1], "bad.xml");
    assert_int_equal(k.done, 1);
    assert_int_equal(k.failed, 1);
    assert_true(exists(dir, "done/a.xml") && exists(dir, "done/a.xml.txt"));
    assert_true(exists(dir, "failed/bad.xml") && exists(dir, "failed/bad.xml.txt"));
    char *note = slurp(dir, "failed/bad.xml.txt");
    assert_non_null(strstr(note, "seen 3 bytes"));
    assert_non_null(strstr(note, "bad.xml"));
    free(note);
    assert_false(exists(dir, "a.xml"));
    assert_true(exists(dir, ".hidden.xml") && exists(dir, "b.xml.tmp") && exists(dir, "sub/c.xml"));
    assert_true(exists(dir, "link.xml")); /* the link is left alone, its target moved */
    /* Nothing is taken twice. */
    scan(d, &c, &k);
    assert_int_equal(c.n, 2);
    /* A writer's rename of b.xml.tmp: taken at the second scan after it. */
    char from[300], to[300];
    (void)snprintf(from, sizeof(from), "%s/b.xml.tmp", dir);
    (void)snprintf(to, sizeof(to), "%s/b.xml", dir);
    assert_int_equal(rename(from, to), 0);
    scan(d, &c, &k);
    assert_int_equal(c.n, 2);
    scan(d, &c, &k);
    assert_int_equal(c.n, 3);
    assert_true(exists(dir, "done/b.xml"));
    kr_dropdir_free(d);
    remove_tree(dir);
}

static void test_changing_file_waits(void **state)
{
    (void)state;
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    struct kr_dropdir *d;
    struct kr_error err;
    assert_int_equal(kr_dropdir_open(dir, 1024, &d, &err), KR_OK);
    struct calls c = {.answer = KR_DROPDIR_DONE};
    put(dir, "grows.xml", "par");
    scan(d, &c, NULL);
    put(dir, "grows.xml", "partly written");
    scan(d, &c, NULL);
    assert_int_equal(c.n, 0);
    scan(d, &c, NULL);
    assert_int_equal(c.n, 1);
    kr_dropdir_free(d);
    remove_tree(dir);
}

static void test_names_limits_keep(void **state)
{
    (void)state;
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    struct kr_dropdir *d;
    struct kr_error err;
    assert_int_equal(kr_dropdir_open(dir, 16, &d, &err), KR_OK);
    struct calls c = {.answer = KR_DROPDIR_DONE};
    /* done/rechnung.xml is taken, and so is the note of rechnung-2.xml. */
    put(dir, "done/rechnung.xml", "old");
    put(dir, "done/rechnung-2.xml.txt", "someone's note");
    put(dir, "rechnung.xml", "new");
    put(dir, "huge.xml", "more than sixteen bytes");
    put(dir, "later.xml", "keep");
    scan(d, &c, NULL);
    struct kr_dropdir_counts k;
    scan(d, &c, &k);
    assert_int_equal(k.done, 1);
    assert_int_equal(k.failed, 1);
    assert_int_equal(k.kept, 1);
    assert_int_equal(c.n, 2); /* huge.xml never reached the callback */
    char *moved = slurp(dir, "done/rechnung-3.xml");
    assert_string_equal(moved, "new");
    free(moved);
    char *old = slurp(dir, "done/rechnung.xml");
    assert_string_equal(old, "old");
    free(old);
    char *note = slurp(dir, "failed/huge.xml.txt");
    assert_non_null(strstr(note, "too large"));
    free(note);
    assert_true(exists(dir, "later.xml"));
    scan(d, &c, &k); /* kept: offered again */
    assert_int_equal(k.kept, 1);
    assert_int_equal(c.n, 3);
    kr_dropdir_free(d);
    remove_tree(dir);
}

static void test_bad_directory(void **state)
{
    (void)state;
    struct kr_dropdir *d = NULL;
    struct kr_error err;
    assert_int_equal(kr_dropdir_open("", 16, &d, &err), KR_ERR_INVALID);
    assert_int_equal(kr_dropdir_open("/proc/kreisel-no/such", 16, &d, &err), KR_ERR_IO);
    assert_null(d);
    char dir[256];
    make_tmpdir(dir, sizeof(dir));
    assert_int_equal(kr_dropdir_open(dir, 16, &d, &err), KR_OK);
    remove_tree(dir);
    struct calls c = {.answer = KR_DROPDIR_DONE};
    assert_int_equal(kr_dropdir_scan(d, record, &c, NULL, &err), KR_ERR_IO);
    kr_dropdir_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settled_files_only),
        cmocka_unit_test(test_changing_file_waits),
        cmocka_unit_test(test_names_limits_keep),
        cmocka_unit_test(test_bad_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
