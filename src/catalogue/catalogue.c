/*
 * catalogue.c - service records: the schema check, import (idempotent by
 * id), export as JSON and CSV, and reading single records.  Snapshots and
 * search are in snapshot.c.
 */
#include "catalogue/catalogue.h"

#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "audit/audit.h"
#include "core/util.h"

static const char *const situations[CATALOGUE_SITUATION_COUNT] = {
    "moving", "birth",     "car",    "building", "school",      "care",    "business",
    "family", "migration", "health", "animals",  "environment", "leisure",
};

const char *catalogue_situation_name(unsigned i)
{
    return i < CATALOGUE_SITUATION_COUNT ? situations[i] : NULL;
}

int catalogue_situation_parse(const char *name)
{
    for (unsigned i = 0; name && i < CATALOGUE_SITUATION_COUNT; i++)
        if (strcmp(situations[i], name) == 0)
            return (int)i;
    return -1;
}

bool catalogue_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 3 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
            return false;
    return true;
}

/* ---- The schema check --------------------------------------------------------- */

#define TEXT_SHORT 300   /* titles, labels, names */
#define TEXT_MEDIUM 2000 /* summaries, single items */
#define TEXT_LONG 20000  /* description */
#define LIST_MAX 100

static int invalid(struct kr_error *err, const char *field, const char *what)
{
    return kr_error_set(err, KR_ERR_INVALID, "%s: %s", field, what);
}

/* A string of 1..max bytes, valid UTF-8 without control characters other
 * than newlines (json already guarantees UTF-8). */
static int check_text(const json_t *v, const char *field, size_t max, struct kr_error *err)
{
    if (!json_is_string(v))
        return invalid(err, field, v ? "must be a string" : "missing");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0)
        return invalid(err, field, "must not be empty");
    if (n > max)
        return kr_error_set(err, KR_ERR_INVALID, "%s: longer than %zu bytes", field, max);
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7F)
            return invalid(err, field, "contains a control character");
    return KR_OK;
}

static int check_text_list(const json_t *v, const char *field, size_t max, struct kr_error *err)
{
    if (!json_is_array(v))
        return invalid(err, field, v ? "must be a list" : "missing");
    if (json_array_size(v) > LIST_MAX)
        return invalid(err, field, "has too many entries");
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        char name[64];
        (void)snprintf(name, sizeof(name), "%s[%zu]", field, i);
        int rc = check_text(item, name, max, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int check_keys(const json_t *obj, const char *field, const char *const *allowed,
                      struct kr_error *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok)
            return kr_error_set(err, KR_ERR_INVALID, "%s%sunknown field '%.60s'", field,
                                *field ? ": " : "", key);
    }
    return KR_OK;
}

static bool cents(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0 &&
           json_integer_value(v) <= 100000000000LL;
}

static int check_fee(const json_t *fee, const char *field, struct kr_error *err)
{
    static const char *const keys[] = {"label", "amount_cents", "min_cents", "max_cents", NULL};
    if (!json_is_object(fee))
        return invalid(err, field, "must be an object");
    int rc = check_keys(fee, field, keys, err);
    char name[80];
    (void)snprintf(name, sizeof(name), "%s.label", field);
    if (rc == KR_OK)
        rc = check_text(json_object_get(fee, "label"), name, TEXT_SHORT, err);
    if (rc)
        return rc;
    const json_t *amount = json_object_get(fee, "amount_cents");
    const json_t *min = json_object_get(fee, "min_cents"), *max = json_object_get(fee, "max_cents");
    if (amount && !min && !max)
        return cents(amount) ? KR_OK : invalid(err, field, "amount_cents must be cents (>= 0)");
    if (!amount && min && max) {
        if (!cents(min) || !cents(max))
            return invalid(err, field, "min_cents and max_cents must be cents (>= 0)");
        if (json_integer_value(min) > json_integer_value(max))
            return invalid(err, field, "min_cents is larger than max_cents");
        return KR_OK;
    }
    return invalid(err, field, "needs amount_cents, or min_cents and max_cents");
}

static int check_contact(const json_t *c, const char *field, struct kr_error *err)
{
    static const char *const keys[] = {"name", "address", "phone", "email", "opening_hours", NULL};
    if (!json_is_object(c))
        return invalid(err, field, "must be an object");
    int rc = check_keys(c, field, keys, err);
    for (size_t i = 0; rc == KR_OK && keys[i]; i++) {
        const json_t *v = json_object_get(c, keys[i]);
        char name[80];
        (void)snprintf(name, sizeof(name), "%s.%s", field, keys[i]);
        if (v || i == 0)
            rc = check_text(v, name, TEXT_MEDIUM, err);
    }
    const json_t *email = json_object_get(c, "email");
    if (rc == KR_OK && email && !strchr(json_string_value(email), '@'))
        return invalid(err, field, "email is not an e-mail address");
    return rc;
}

static int check_list_of(const json_t *v, const char *field,
                         int (*fn)(const json_t *, const char *, struct kr_error *),
                         struct kr_error *err)
{
    if (!json_is_array(v))
        return invalid(err, field, v ? "must be a list" : "missing");
    if (json_array_size(v) > LIST_MAX)
        return invalid(err, field, "has too many entries");
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        char name[64];
        (void)snprintf(name, sizeof(name), "%s[%zu]", field, i);
        int rc = fn(item, name, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

/* A link to a form: a local path or an https URL, nothing else. */
static bool link_ok(const char *s)
{
    if (strncmp(s, "https://", 8) == 0)
        return strlen(s) > 8 && !strpbrk(s, " \"'<>\\");
    return s[0] == '/' && s[1] != '/' && s[1] != '\\' && !strpbrk(s, " \"'<>\\");
}

static int check_online(const json_t *o, struct kr_error *err)
{
    static const char *const keys[] = {"form", "appointment", NULL};
    if (!json_is_object(o))
        return invalid(err, "online", "must be an object");
    int rc = check_keys(o, "online", keys, err);
    if (rc)
        return rc;
    const json_t *form = json_object_get(o, "form"), *appt = json_object_get(o, "appointment");
    if (form && (check_text(form, "online.form", 500, err) || !link_ok(json_string_value(form))))
        return invalid(err, "online.form", "must be a local path (/...) or an https:// URL");
    if (appt && !json_is_boolean(appt))
        return invalid(err, "online.appointment", "must be true or false");
    return KR_OK;
}

static int check_situations(const json_t *v, struct kr_error *err)
{
    if (!json_is_array(v))
        return invalid(err, "life_situations", v ? "must be a list" : "missing");
    unsigned seen = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        int s = catalogue_situation_parse(json_string_value(item));
        if (s < 0)
            return kr_error_set(err, KR_ERR_INVALID, "life_situations[%zu]: unknown situation", i);
        if (seen & (1u << s))
            return kr_error_set(err, KR_ERR_INVALID, "life_situations[%zu]: repeated", i);
        seen |= 1u << s;
    }
    return KR_OK;
}

static bool date_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 2000 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return false;
    return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

static int check_ids(const json_t *r, struct kr_error *err)
{
    const json_t *id = json_object_get(r, "id");
    if (!json_is_string(id))
        return invalid(err, "id", id ? "must be a string" : "missing");
    if (!catalogue_id_valid(json_string_value(id)))
        return invalid(err, "id", "must be 3-64 of a-z, 0-9 and '-'");
    const json_t *leika = json_object_get(r, "leika");
    if (leika) {
        const char *s = json_string_value(leika);
        bool ok = s && strlen(s) == 14;
        for (size_t i = 0; ok && i < 14; i++)
            ok = s[i] >= '0' && s[i] <= '9';
        if (!ok)
            return invalid(err, "leika", "must be 14 digits");
    }
    return KR_OK;
}

static int check_texts(const json_t *r, struct kr_error *err)
{
    static const struct {
        const char *key;
        size_t max;
        bool optional;
    } texts[] = {
        {"title", TEXT_SHORT, false},           {"title_en", TEXT_SHORT, false},
        {"summary", TEXT_MEDIUM, false},        {"summary_en", TEXT_MEDIUM, false},
        {"description", TEXT_LONG, false},      {"who_may_apply", TEXT_MEDIUM, false},
        {"fee_legal_basis", TEXT_MEDIUM, true}, {"processing_time", TEXT_MEDIUM, false},
        {"deadlines", TEXT_MEDIUM, true},       {"org_unit", 16, false},
        {"last_reviewed", 10, false},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(texts); i++) {
        const json_t *v = json_object_get(r, texts[i].key);
        if (!v && texts[i].optional)
            continue;
        int rc = check_text(v, texts[i].key, texts[i].max, err);
        if (rc)
            return rc;
    }
    if (!date_ok(json_string_value(json_object_get(r, "last_reviewed"))))
        return invalid(err, "last_reviewed", "must be a date YYYY-MM-DD");
    return KR_OK;
}

int catalogue_record_check(const json_t *r, struct kr_error *err)
{
    static const char *const keys[] = {"id",
                                       "leika",
                                       "title",
                                       "title_en",
                                       "synonyms",
                                       "summary",
                                       "summary_en",
                                       "description",
                                       "who_may_apply",
                                       "documents",
                                       "fees",
                                       "fee_legal_basis",
                                       "legal_basis",
                                       "processing_time",
                                       "deadlines",
                                       "org_unit",
                                       "contacts",
                                       "online",
                                       "life_situations",
                                       "last_reviewed",
                                       "plain_language",
                                       NULL};
    if (!json_is_object(r))
        return kr_error_set(err, KR_ERR_INVALID, "a service must be an object");
    int rc = check_ids(r, err);
    if (rc == KR_OK)
        rc = check_keys(r, "", keys, err);
    if (rc == KR_OK)
        rc = check_texts(r, err);
    const json_t *syn = json_object_get(r, "synonyms");
    if (rc == KR_OK && syn)
        rc = check_text_list(syn, "synonyms", TEXT_SHORT, err);
    if (rc == KR_OK)
        rc = check_text_list(json_object_get(r, "documents"), "documents", TEXT_MEDIUM, err);
    if (rc == KR_OK)
        rc = check_text_list(json_object_get(r, "legal_basis"), "legal_basis", TEXT_MEDIUM, err);
    if (rc == KR_OK)
        rc = check_list_of(json_object_get(r, "fees"), "fees", check_fee, err);
    if (rc == KR_OK)
        rc = check_list_of(json_object_get(r, "contacts"), "contacts", check_contact, err);
    if (rc == KR_OK && json_object_get(r, "online"))
        rc = check_online(json_object_get(r, "online"), err);
    if (rc == KR_OK)
        rc = check_situations(json_object_get(r, "life_situations"), err);
    if (rc == KR_OK && !json_is_boolean(json_object_get(r, "plain_language")))
        rc = invalid(err, "plain_language", "must be true or false");
    return rc;
}
