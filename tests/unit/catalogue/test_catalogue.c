/* Tests of src/catalogue/ (catalogue.c, io.c, snapshot.c) on SQLite and
 * PostgreSQL: the schema check, import (idempotent, per-record
 * rejections, broken JSON), export, snapshots and the demo queries of
 * tests/catalogue/search_queries.tsv, every one with its service in the
 * top 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accounts/accounts.h"
#include "catalogue/catalogue.h"
#include "core/util.h"
#include "testdb.h"

struct fixture {
    struct db *db;
    struct db_conn *conn;
    struct arena *a;
};

static char *slurp(const char *rel, size_t *len)
{
    const char *root = getenv("KREISEL_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 64 * 1024 * 1024);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_detach(&b, len);
}

/* The units the demo catalogue names, as offices of one department. */
static void add_units(struct fixture *f)
{
    static const char *const codes[] = {
        "10",   "20.1", "32",   "32.1", "32.2", "33",   "36",   "36.1", "36.2", "39", "40.1",
        "40.2", "50",   "50.1", "50.2", "51",   "51.1", "51.2", "53",   "63",   "70", "80"};
    struct kr_error err;
    int64_t county, dept, id;
    assert_int_equal(accounts_org_unit_add(f->conn, "test", 0, "county", "LK", "Landkreis Test",
                                           "District of Test", &county, &err),
                     KR_OK);
    assert_int_equal(accounts_org_unit_add(f->conn, "test", county, "department", "D1", "Dezernat",
                                           "Department", &dept, &err),
                     KR_OK);
    for (size_t i = 0; i < KR_ARRAY_LEN(codes); i++)
        assert_int_equal(accounts_org_unit_add(f->conn, "test", dept, "office", codes[i], codes[i],
                                               codes[i], &id, &err),
                         KR_OK);
}

static void open_fixture(void **state, struct fixture *f)
{
    struct kr_error err;
    assert_int_equal(kr_util_init(), KR_OK);
    assert_int_equal(testdb_open(*(enum db_dialect *)*state, &f->db), KR_OK);
    assert_int_equal(db_acquire(f->db, &f->conn, &err), KR_OK);
    f->a = arena_new(0);
    add_units(f);
}

static void close_fixture(struct fixture *f)
{
    arena_free(f->a);
    db_release(f->conn);
    testdb_close(f->db);
}

static int64_t count(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    struct kr_error err;
    assert_int_equal(db_query_int64(f->conn, sql, NULL, 0, &n, &err), KR_OK);
    return n;
}

static void import_text(struct fixture *f, const char *text, struct catalogue_import_result *res,
                        int want)
{
    struct kr_error err;
    int rc = catalogue_import(f->conn, f->a, "test", text, strlen(text), res, &err);
    if (rc != want)
        fail_msg("import: %d (%s), want %d", rc, err.message, want);
}

static void import_demo(struct fixture *f, struct catalogue_import_result *res)
{
    static const char *const files[] = {"data/catalogue/synonyms.json",
                                        "data/catalogue/services.json"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *text = slurp(files[i], &len);
        assert_non_null(text);
        struct kr_error err;
        int rc = catalogue_import(f->conn, f->a, "test", text, len, res, &err);
        free(text);
        if (rc)
            fail_msg("%s: %s", files[i], err.message);
        for (size_t k = 0; k < res->rejected_count; k++)
            fail_msg("%s: services[%zu] %s: %s", files[i], res->rejected[k].index,
                     res->rejected[k].id ? res->rejected[k].id : "", res->rejected[k].reason);
    }
}

static void test_import_is_idempotent(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct catalogue_import_result res;
    import_demo(&f, &res);
    size_t n = res.created;
    assert_true(n >= 60);
    assert_int_equal(count(&f, "SELECT count(*) FROM catalogue_service"), (int64_t)n);
    assert_int_equal(count(&f, "SELECT count(*) FROM audit_entry WHERE action = "
                               "'catalogue.service.create'"),
                     (int64_t)n);
    int64_t gen = count(&f, "SELECT generation FROM catalogue_state");
    import_demo(&f, &res);
    assert_int_equal(res.created, 0);
    assert_int_equal(res.updated, 0);
    assert_int_equal(res.unchanged, n);
    assert_int_equal(count(&f, "SELECT generation FROM catalogue_state"), gen);

    /* Export and import again: nothing changes; CSV has a line per service. */
    struct buf out;
    buf_init(&out, 64 * 1024 * 1024);
    struct kr_error err;
    assert_int_equal(catalogue_export_json(f.conn, &out, &err), KR_OK);
    import_text(&f, buf_cstr(&out), &res, KR_OK);
    assert_int_equal(res.unchanged, n);
    buf_reset(&out);
    assert_int_equal(catalogue_export_csv(f.conn, &out, &err), KR_OK);
    assert_true(strncmp(buf_cstr(&out), "id,leika,title,", 15) == 0);
    size_t lines = 0;
    for (const char *p = buf_cstr(&out); (p = strstr(p, "\r\n")); p += 2)
        lines++;
    assert_int_equal(lines, n + 1);
    buf_release(&out);
    close_fixture(&f);
}

/* A valid record with one field replaced by a JSON snippet. */
static char *record_with(const char *key, const char *value)
{
    json_t *r = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[{s:s, s:i}], s:[s], s:s, s:s, "
        "s:[{s:s, s:s}], s:[s], s:s, s:b, s:[s]}",
        "id", "test-service", "title", "Testleistung", "title_en", "Test service", "summary",
        "Kurz.", "summary_en", "Short.", "description", "Lang.\n\nNoch mehr.", "who_may_apply",
        "Alle.", "documents", "Ausweis", "fees", "label", "Gebühr", "amount_cents", 1000,
        "legal_basis", "§ 1 Testgesetz", "processing_time", "Eine Woche", "org_unit", "36",
        "contacts", "name", "Team Test", "email", "test@example.org", "life_situations", "car",
        "last_reviewed", "2026-09-15", "plain_language", 1, "synonyms", "Probe");
    if (key) {
        json_error_t jerr;
        json_t *v = value ? json_loads(value, JSON_DECODE_ANY, &jerr) : NULL;
        if (v)
            json_object_set_new(r, key, v);
        else
            json_object_del(r, key);
    }
    json_t *doc = json_pack("{s:s, s:[o]}", "schema", CATALOGUE_SCHEMA, "services", r);
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

static void test_bad_records_are_rejected_whole(void **state)
{
    static const struct {
        const char *key, *value, *reason;
    } cases[] = {
        {"id", "\"Bad Id\"", "id:"},
        {"id", "\"ab\"", "id:"},
        {"title", NULL, "title: missing"},
        {"title", "\"\"", "title: must not be empty"},
        {"title", "42", "title: must be a string"},
        {"summary", "\"a\\u0001b\"", "summary: contains a control character"},
        {"leika", "\"123\"", "leika:"},
        {"fees", "[{\"label\": \"x\"}]", "fees[0]:"},
        {"fees", "[{\"label\": \"x\", \"amount_cents\": -1}]", "fees[0]:"},
        {"fees", "[{\"label\": \"x\", \"min_cents\": 5, \"max_cents\": 1}]", "fees[0]:"},
        {"contacts", "[{\"email\": \"x@y\"}]", "contacts[0].name: missing"},
        {"contacts", "[{\"name\": \"x\", \"email\": \"nope\"}]", "contacts[0]:"},
        {"online", "{\"form\": \"javascript:alert(1)\"}", "online.form:"},
        {"online", "{\"form\": \"//evil.example\"}", "online.form:"},
        {"life_situations", "[\"holidays\"]", "life_situations[0]: unknown"},
        {"last_reviewed", "\"2026-02-30\"", "last_reviewed:"},
        {"plain_language", "\"yes\"", "plain_language:"},
        {"org_unit", "\"99\"", "org_unit: no unit"},
        {"colour", "\"blue\"", "unknown field 'colour'"},
    };
    struct fixture f;
    open_fixture(state, &f);
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char *text = record_with(cases[i].key, cases[i].value);
        struct catalogue_import_result res;
        import_text(&f, text, &res, KR_OK);
        free(text);
        if (res.rejected_count != 1 || !strstr(res.rejected[0].reason, cases[i].reason))
            fail_msg("case %zu (%s): %zu rejected, reason '%s'", i, cases[i].key,
                     res.rejected_count, res.rejected_count ? res.rejected[0].reason : "");
        assert_int_equal(count(&f, "SELECT count(*) FROM catalogue_service"), 0);
    }
    /* The valid record goes in; the same id twice in one file is refused. */
    char *text = record_with(NULL, NULL);
    struct catalogue_import_result res;
    import_text(&f, text, &res, KR_OK);
    assert_int_equal(res.created, 1);
    free(text);
    import_text(&f,
                "{\"schema\": \"kreisel-catalogue/1\", \"services\": [{\"id\": \"test-service\"}, "
                "5]}",
                &res, KR_OK);
    assert_int_equal(res.rejected_count, 2);
    assert_int_equal(res.rejected[1].index, 1);
    close_fixture(&f);
}

static void test_broken_files(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct catalogue_import_result res;
    struct kr_error err;
    const char *broken = "{\n  \"schema\": \"kreisel-catalogue/1\",\n  \"services\": [ {,\n";
    assert_int_equal(catalogue_import(f.conn, f.a, "t", broken, strlen(broken), &res, &err),
                     KR_ERR_INVALID);
    assert_non_null(strstr(err.message, "line 3, column"));
    const char *schema = "{\"schema\": \"other/2\", \"services\": []}";
    assert_int_equal(catalogue_import(f.conn, f.a, "t", schema, strlen(schema), &res, &err),
                     KR_ERR_INVALID);
    const char *dup = "{\"schema\": \"kreisel-catalogue/1\", \"schema\": \"x\", \"services\": []}";
    assert_int_equal(catalogue_import(f.conn, f.a, "t", dup, strlen(dup), &res, &err),
                     KR_ERR_INVALID);
    const char *syn = "{\"schema\": \"kreisel-synonyms/1\", \"groups\": [[\"only-one\"]]}";
    assert_int_equal(catalogue_import(f.conn, f.a, "t", syn, strlen(syn), &res, &err),
                     KR_ERR_INVALID);
    assert_int_equal(count(&f, "SELECT count(*) FROM catalogue_synonym"), 0);
    json_t *r;
    assert_int_equal(catalogue_service_get(f.conn, f.a, "gibt-es-nicht", &r, NULL, &err),
                     KR_ERR_NOT_FOUND);
    assert_int_equal(catalogue_service_get(f.conn, f.a, "../../etc", &r, NULL, &err),
                     KR_ERR_NOT_FOUND);
    close_fixture(&f);
}

/* Run every query of the TSV; returns how many failed. */
static size_t run_queries(const struct catalogue_snapshot *snap, struct arena *a, char *tsv,
                          const char *name)
{
    size_t total = 0, passed = 0;
    for (char *line = strtok_r(tsv, "\n", &tsv); line; line = strtok_r(NULL, "\n", &tsv)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *q = line, *id = strchr(line, '\t');
        if (!id)
            continue;
        *id++ = '\0';
        char *kind = strchr(id, '\t');
        if (kind)
            *kind++ = '\0';
        uint32_t *found;
        size_t n;
        struct kr_error err;
        struct catalogue_query cq = {q, -1, false, 3};
        assert_int_equal(catalogue_search(snap, &cq, a, &found, &n, &err), KR_OK);
        bool ok = false;
        for (size_t i = 0; i < n && i < 3; i++)
            ok = ok || strcmp(snap->services[found[i]].id, id) == 0;
        total++;
        passed += ok;
        if (!ok)
            printf("  MISS %-40s want %-30s got %s, %s, %s (%s)\n", q, id,
                   n > 0 ? snap->services[found[0]].id : "-",
                   n > 1 ? snap->services[found[1]].id : "-",
                   n > 2 ? snap->services[found[2]].id : "-", kind ? kind : "");
    }
    printf("%s: %zu of %zu queries have their service in the top 3\n", name, passed, total);
    return total - passed;
}

static void test_demo_queries_top3(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct catalogue_import_result res;
    import_demo(&f, &res);
    struct catalogue_snapshot *snap;
    struct kr_error err;
    assert_int_equal(catalogue_snapshot_load(f.conn, &snap, &err), KR_OK);
    const char *name = "tests/catalogue/search_queries.tsv";
    size_t len;
    char *tsv = slurp(name, &len);
    if (!tsv) {
        name = "tests/unit/catalogue/fixture_queries.tsv";
        tsv = slurp(name, &len);
    }
    assert_non_null(tsv);
    size_t failed = run_queries(snap, f.a, tsv, name);
    free(tsv);
    assert_non_null(catalogue_snapshot_find(snap, "kfz-zulassung"));
    assert_null(catalogue_snapshot_find(snap, "nope"));
    /* Without text: everything of the situation, by title. */
    uint32_t *found;
    size_t n;
    struct catalogue_query all = {"", catalogue_situation_parse("car"), false, 0};
    assert_int_equal(catalogue_search(snap, &all, f.a, &found, &n, &err), KR_OK);
    assert_true(n > 5 && n < snap->count);
    for (size_t i = 0; i < n; i++)
        assert_true(snap->services[found[i]].situations & (1u << all.situation));
    catalogue_snapshot_release(snap);
    close_fixture(&f);
    assert_int_equal(failed, 0);
}

static void csv_import(struct fixture *f, const char *text, struct catalogue_import_result *res,
                       int want)
{
    struct kr_error err;
    int rc = catalogue_import_csv(f->conn, f->a, "test", text, strlen(text), res, &err);
    if (rc != want)
        fail_msg("csv import: %d (%s), want %d", rc, err.message, want);
}

static void test_csv_round_trip_and_changes(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct catalogue_import_result res;
    import_demo(&f, &res);
    size_t n = res.created;
    struct buf out;
    buf_init(&out, 64 * 1024 * 1024);
    struct kr_error err;
    assert_int_equal(catalogue_export_csv(f.conn, &out, &err), KR_OK);
    csv_import(&f, buf_cstr(&out), &res, KR_OK);
    assert_int_equal(res.unchanged, n);
    assert_int_equal(res.updated, 0);
    buf_release(&out);
    csv_import(&f,
               "\xEF\xBB\xBFtitle,id,appointment\r\n"
               "\"Wohngeld \"\"neu\"\", jetzt\",wohngeld,1\r\n"
               "x,gibt-es-nicht,0\r\n"
               "y,elterngeld,ja\r\n",
               &res, KR_OK);
    assert_int_equal(res.updated, 1);
    assert_int_equal(res.rejected_count, 2);
    assert_true(res.lines);
    assert_int_equal(res.rejected[0].index, 3);
    assert_string_equal(res.rejected[0].id, "gibt-es-nicht");
    assert_int_equal(res.rejected[1].index, 4);
    json_t *r;
    assert_int_equal(catalogue_service_get(f.conn, f.a, "wohngeld", &r, NULL, &err), KR_OK);
    assert_string_equal(json_string_value(json_object_get(r, "title")), "Wohngeld \"neu\", jetzt");
    assert_true(json_is_true(json_object_get(json_object_get(r, "online"), "appointment")));
    static const char *const broken[] = {
        "id,colour\r\nx,y\r\n",         /* unknown column */
        "title\r\nx\r\n",               /* no id */
        "id,id\r\nx,y\r\n",             /* repeated column */
        "id,title\r\n\"wohngeld,x\r\n", /* unterminated quote */
        "id,title\r\nwohngeld\r\n",     /* too few fields */
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(broken); i++)
        csv_import(&f, broken[i], &res, KR_ERR_INVALID);
    close_fixture(&f);
}

static void test_live_snapshot_follows_imports(void **state)
{
    struct fixture f;
    open_fixture(state, &f);
    struct catalogue_live *live;
    struct kr_error err;
    assert_int_equal(catalogue_live_new(&live, &err), KR_OK);
    struct catalogue_snapshot *s1, *s2;
    assert_int_equal(catalogue_live_get(live, f.conn, &s1, &err), KR_OK);
    assert_int_equal(s1->count, 0);
    char *text = record_with(NULL, NULL);
    struct catalogue_import_result res;
    import_text(&f, text, &res, KR_OK);
    free(text);
    assert_int_equal(catalogue_live_get(live, f.conn, &s2, &err), KR_OK);
    assert_int_equal(s2->count, 1);
    assert_int_equal(s1->count, 0); /* the old snapshot lives while referenced */
    catalogue_snapshot_release(s1);
    catalogue_snapshot_release(s2);
    catalogue_live_free(live);
    close_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTDB_BOTH(test_import_is_idempotent),
        TESTDB_BOTH(test_bad_records_are_rejected_whole),
        TESTDB_BOTH(test_broken_files),
        TESTDB_BOTH(test_demo_queries_top3),
        TESTDB_BOTH(test_live_snapshot_follows_imports),
        TESTDB_BOTH(test_csv_round_trip_and_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
