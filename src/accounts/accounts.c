/*
 * accounts.c - organisation units, accounts, roles and passwords.
 * Sessions and logins are in session.c.
 */
#include "accounts/accounts.h"
#include "accounts/accounts_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "core/text.h"
#include "core/util.h"

static const char *const role_names[ACCOUNT_ROLE_COUNT] = {
    "clerk", "head_of_unit", "cash_office", "records_manager", "procurement", "admin",
};

const char *account_role_name(enum account_role role)
{
    for (int i = 0; i < ACCOUNT_ROLE_COUNT; i++)
        if ((unsigned)role == 1u << i)
            return role_names[i];
    return "unknown";
}

int account_role_parse(const char *name, enum account_role *out)
{
    for (int i = 0; i < ACCOUNT_ROLE_COUNT; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum account_role)(1u << i);
            return KR_OK;
        }
    }
    return KR_ERR_INVALID;
}

int accounts_audit(struct db_conn *conn, const char *actor, const char *action, const char *type,
                   int64_t id, json_t *details, struct kr_error *err)
{
    char idtext[24];
    (void)snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    struct audit_event ev = {actor, action, type, idtext, details};
    int rc = audit_append(conn, &ev, NULL, err);
    json_decref(details);
    return rc;
}

bool accounts_printable_text(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max || !text_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return true;
}

/* ---- Organisation units ----------------------------------------------------- */

static int kind_rank(const char *kind)
{
    static const char *const kinds[] = {"county", "department", "office", "section"};
    for (int i = 0; i < 4; i++)
        if (kind && strcmp(kind, kinds[i]) == 0)
            return i;
    return -1;
}

static bool valid_code(const char *code)
{
    size_t len = code ? strlen(code) : 0;
    if (len == 0 || len > 16)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = code[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

struct unit_add {
    const char *actor;
    int64_t parent_id;
    const char *kind, *code, *name, *name_en;
    int64_t id;
};

static int unit_add_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct unit_add *u = arg;
    int rank = kind_rank(u->kind);
    if (u->parent_id) {
        struct db_stmt *st;
        int rc = db_query(conn, "SELECT kind FROM account_org_unit WHERE id = $1",
                          DB_PARAMS(DB_INT(u->parent_id)), &st, err);
        if (rc)
            return rc;
        rc = db_step(st, err);
        int parent_rank = rc == DB_ROW ? kind_rank(db_column_text(st, 0)) : -1;
        db_finish(st);
        if (rc < 0)
            return rc;
        if (rc == DB_DONE)
            return kr_error_set(err, KR_ERR_INVALID, "the parent unit does not exist");
        if (rank <= parent_rank)
            return kr_error_set(err, KR_ERR_INVALID, "a %s cannot be placed below that unit",
                                u->kind);
    }
    int rc = db_query_int64(conn,
                            "INSERT INTO account_org_unit (parent_id, kind, code, name, name_en, "
                            "created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                            DB_PARAMS(u->parent_id ? DB_INT(u->parent_id) : DB_NULL,
                                      DB_TEXT(u->kind), DB_TEXT(u->code), DB_TEXT(u->name),
                                      DB_TEXT(u->name_en), DB_INT(kr_now())),
                            &u->id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, rc, "a unit with code '%s' exists already", u->code);
    if (rc)
        return rc;
    return accounts_audit(
        conn, u->actor, "org_unit.create", "org_unit", u->id,
        json_pack("{s:s, s:s, s:s}", "code", u->code, "name", u->name, "kind", u->kind), err);
}

int accounts_org_unit_add(struct db_conn *conn, const char *actor, int64_t parent_id,
                          const char *kind, const char *code, const char *name, const char *name_en,
                          int64_t *id_out, struct kr_error *err)
{
    int rank = kind_rank(kind);
    if (rank < 0)
        return kr_error_set(err, KR_ERR_INVALID, "unknown kind of unit '%s'", kind ? kind : "");
    if ((rank == 0) != (parent_id == 0))
        return kr_error_set(err, KR_ERR_INVALID, "only the county has no parent, and it has none");
    if (!valid_code(code))
        return kr_error_set(err, KR_ERR_INVALID,
                            "the code must have 1 to 16 letters, digits, '.' or '-'");
    if (!accounts_printable_text(name, 200) || !accounts_printable_text(name_en, 200))
        return kr_error_set(err, KR_ERR_INVALID, "the names must have 1 to 200 characters");
    if (rank == 0) {
        int64_t counties;
        int rc = db_query_int64(conn, "SELECT COUNT(*) FROM account_org_unit WHERE kind = 'county'",
                                NULL, 0, &counties, err);
        if (rc)
            return rc;
        if (counties > 0)
            return kr_error_set(err, KR_ERR_CONFLICT, "the county exists already");
    }
    struct unit_add u = {actor, parent_id, kind, code, name, name_en, 0};
    int rc = db_transact(conn, unit_add_tx, &u, err);
    if (rc == KR_OK && id_out)
        *id_out = u.id;
    return rc;
}

static void read_unit(struct db_stmt *st, struct arena *a, struct account_org_unit *u)
{
    u->id = db_column_int64(st, 0);
    u->parent_id = db_column_int64(st, 1);
    u->kind = db_column_strdup(st, 2, a);
    u->code = db_column_strdup(st, 3, a);
    u->name = db_column_strdup(st, 4, a);
    u->name_en = db_column_strdup(st, 5, a);
    u->depth = 0;
}

#define UNIT_COLUMNS "SELECT id, parent_id, kind, code, name, name_en FROM account_org_unit "
#define UNITS_MAX 10000

/* Append the children of parent (and theirs) to out in depth-first order. */
static void tree_order(const struct account_org_unit *all, size_t n, int64_t parent, int depth,
                       struct account_org_unit *out, size_t *used)
{
    if (depth > 32)
        return; /* a cycle cannot be stored (parents exist first), but be safe */
    for (size_t i = 0; i < n; i++) {
        if (all[i].parent_id != parent)
            continue;
        out[*used] = all[i];
        out[(*used)++].depth = depth;
        tree_order(all, n, all[i].id, depth + 1, out, used);
    }
}

int accounts_org_units_list(struct db_conn *conn, struct arena *a, struct account_org_unit **units,
                            size_t *count, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, UNIT_COLUMNS "ORDER BY code", NULL, 0, &st, err);
    if (rc)
        return rc;
    size_t cap = 64, n = 0;
    struct account_org_unit *all = arena_calloc(a, cap, sizeof(*all));
    while (all && (rc = db_step(st, err)) == DB_ROW && n < UNITS_MAX) {
        if (n == cap) {
            struct account_org_unit *grown = arena_calloc(a, cap * 2, sizeof(*grown));
            if (grown)
                memcpy(grown, all, n * sizeof(*all));
            all = grown;
            cap *= 2;
            if (!all)
                break;
        }
        read_unit(st, a, &all[n++]);
    }
    db_finish(st);
    if (!all)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    if (rc < 0)
        return rc;
    *units = arena_calloc(a, n ? n : 1, sizeof(**units));
    if (!*units)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    *count = 0;
    tree_order(all, n, 0, 0, *units, count);
    return KR_OK;
}

int accounts_org_unit_find(struct db_conn *conn, struct arena *a, const char *code,
                           struct account_org_unit *out, struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn, UNIT_COLUMNS "WHERE code = $1", DB_PARAMS(DB_TEXT(code)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW)
        read_unit(st, a, out);
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no unit with code '%s'", code);
    return rc < 0 ? rc : KR_OK;
}

int accounts_county_name(struct db_conn *conn, struct arena *a, const char *lang, char **out,
                         struct kr_error *err)
{
    const char *sql = strcmp(lang, "en") == 0
                          ? "SELECT name_en FROM account_org_unit WHERE kind = 'county'"
                          : "SELECT name FROM account_org_unit WHERE kind = 'county'";
    int rc = db_query_text(conn, sql, NULL, 0, a, out, err);
    if (rc == KR_ERR_NOT_FOUND)
        return kr_error_set(err, rc, "the county is not set up yet");
    return rc;
}

/* ---- Passwords -------------------------------------------------------------- */

/* Long passwords that still appear in every breach list.  The accounts issue
 * brings a full list; these catch the obvious. */
static const char *const common_passwords[] = {
    "123456789012",  "1234567890123",   "12345678901234", "123456789123", "qwertyuiop12",
    "qwertzuiop12",  "passwort1234",    "password1234",   "passwort123!", "password123!",
    "hallohallo12",  "administrator",   "administrator1", "kennwort1234", "willkommen12",
    "willkommen123", "sommer2024!!",    "1q2w3e4r5t6y",   "abcdefghijkl", "iloveyou1234",
    "landkreis123",  "kreisverwaltung",
};

int accounts_password_check(const char *login, const char *password, struct kr_error *err)
{
    size_t len = password ? strlen(password) : 0;
    if (len < ACCOUNT_PASSWORD_MIN)
        return kr_error_set(err, KR_ERR_INVALID, "the password must have at least %d characters",
                            ACCOUNT_PASSWORD_MIN);
    if (len > ACCOUNT_PASSWORD_MAX || !text_utf8_valid(password, len))
        return kr_error_set(err, KR_ERR_INVALID, "the password must be UTF-8 of at most %d bytes",
                            ACCOUNT_PASSWORD_MAX);
    bool same = true;
    for (size_t i = 1; i < len; i++)
        same = same && password[i] == password[0];
    if (same)
        return kr_error_set(err, KR_ERR_INVALID, "the password repeats one character");
    for (size_t i = 0; i < KR_ARRAY_LEN(common_passwords); i++)
        if (text_equal_nocase(password, common_passwords[i]))
            return kr_error_set(err, KR_ERR_INVALID, "the password is too common");
    if (login && text_equal_nocase(password, login))
        return kr_error_set(err, KR_ERR_INVALID, "the password must differ from the login");
    return KR_OK;
}

void accounts_password_generate(char out[21])
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (int i = 0; i < 20; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[20] = '\0';
}

/* ---- Accounts ----------------------------------------------------------------- */

int accounts_normalise_login(const char *login, char out[65], struct kr_error *err)
{
    size_t len = login ? strlen(login) : 0;
    if (len < 3 || len > 64)
        return kr_error_set(err, KR_ERR_INVALID, "the login must have 3 to 64 characters");
    for (size_t i = 0; i < len; i++) {
        char c = login[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '@'))
            return kr_error_set(err, KR_ERR_INVALID,
                                "the login may contain only a-z, 0-9, '.', '_', '-' and '@'");
        out[i] = c;
    }
    out[len] = '\0';
    return KR_OK;
}

struct user_add {
    const char *actor;
    const struct account_new_user *u;
    const char *login;
    const char *hash;
    int64_t id;
};

static int user_add_tx(struct db_conn *conn, void *arg, struct kr_error *err)
{
    struct user_add *ua = arg;
    const struct account_new_user *u = ua->u;
    int64_t now = kr_now();
    int rc =
        db_query_int64(conn,
                       "INSERT INTO account_user (kind, login, email, display_name, password_hash, "
                       "org_unit_id, disabled, created_at, updated_at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING id",
                       DB_PARAMS(DB_TEXT(u->kind), DB_TEXT(ua->login), DB_TEXT(u->email),
                                 DB_TEXT(u->display_name), *ua->hash ? DB_TEXT(ua->hash) : DB_NULL,
                                 u->org_unit_id ? DB_INT(u->org_unit_id) : DB_NULL, DB_INT(now)),
                       &ua->id, err);
    if (rc == KR_ERR_CONFLICT)
        return kr_error_set(err, rc, "the login '%s' is taken, or the unit does not exist",
                            ua->login);
    json_t *roles = json_array();
    for (int i = 0; rc == KR_OK && i < ACCOUNT_ROLE_COUNT; i++) {
        if (!(u->roles & (1u << i)))
            continue;
        rc = db_exec(conn, "INSERT INTO account_role (user_id, role) VALUES ($1, $2)",
                     DB_PARAMS(DB_INT(ua->id), DB_TEXT(role_names[i])), NULL, err);
        json_array_append_new(roles, json_string(role_names[i]));
    }
    if (rc) {
        json_decref(roles);
        return rc;
    }
    return accounts_audit(
        conn, ua->actor, "account.create", "account", ua->id,
        json_pack("{s:s, s:s, s:o}", "login", ua->login, "kind", u->kind, "roles", roles), err);
}

int accounts_user_add(struct db_conn *conn, const char *actor, const struct account_new_user *u,
                      int64_t *id_out, struct kr_error *err)
{
    char login[65];
    int rc = accounts_normalise_login(u->login, login, err);
    if (rc)
        return rc;
    bool staff = u->kind && strcmp(u->kind, "staff") == 0;
    if (!staff &&
        !(u->kind && (strcmp(u->kind, "citizen") == 0 || strcmp(u->kind, "business") == 0)))
        return kr_error_set(err, KR_ERR_INVALID,
                            "the kind of account must be staff, citizen or "
                            "business");
    if (!accounts_printable_text(u->display_name, 200))
        return kr_error_set(err, KR_ERR_INVALID, "the name must have 1 to 200 characters");
    if (u->email && (!accounts_printable_text(u->email, 254) || !strchr(u->email, '@')))
        return kr_error_set(err, KR_ERR_INVALID, "the e-mail address is not valid");
    if (u->roles >= (1u << ACCOUNT_ROLE_COUNT))
        return kr_error_set(err, KR_ERR_INVALID, "unknown role");
    if (!staff && (u->roles || u->org_unit_id))
        return kr_error_set(err, KR_ERR_INVALID, "only staff accounts have roles and units");
    /* Citizens who only log in through the state's service account
     * (OpenID Connect) have no password. */
    char hash[crypto_pwhash_STRBYTES] = "";
    if (staff || u->password) {
        rc = accounts_password_check(login, u->password, err);
        if (rc)
            return rc;
        /* Hash before the transaction: Argon2 takes a while and the write
         * lock should not wait for it. */
        if (crypto_pwhash_str(hash, u->password, strlen(u->password),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return kr_error_set(err, KR_ERR_NOMEM, "not enough memory to hash the password");
    }
    struct user_add ua = {actor, u, login, hash, 0};
    rc = db_transact(conn, user_add_tx, &ua, err);
    sodium_memzero(hash, sizeof(hash));
    if (rc == KR_OK && id_out)
        *id_out = ua.id;
    return rc;
}

int accounts_user_get(struct db_conn *conn, struct arena *a, int64_t id, struct account_user *out,
                      struct kr_error *err)
{
    struct db_stmt *st;
    int rc = db_query(conn,
                      "SELECT id, kind, login, email, display_name, org_unit_id FROM account_user "
                      "WHERE id = $1 AND disabled = 0",
                      DB_PARAMS(DB_INT(id)), &st, err);
    if (rc)
        return rc;
    rc = db_step(st, err);
    if (rc == DB_ROW) {
        out->id = db_column_int64(st, 0);
        out->kind = db_column_strdup(st, 1, a);
        out->login = db_column_strdup(st, 2, a);
        out->email = db_column_strdup(st, 3, a);
        out->display_name = db_column_strdup(st, 4, a);
        out->org_unit_id = db_column_int64(st, 5);
        out->roles = 0;
    }
    db_finish(st);
    if (rc == DB_DONE)
        return kr_error_set(err, KR_ERR_NOT_FOUND, "no such account");
    if (rc < 0)
        return rc;
    if (!out->display_name || !out->login)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    rc = db_query(conn, "SELECT role FROM account_role WHERE user_id = $1", DB_PARAMS(DB_INT(id)),
                  &st, err);
    if (rc)
        return rc;
    while ((rc = db_step(st, err)) == DB_ROW) {
        enum account_role role;
        if (account_role_parse(db_column_text(st, 0), &role) == KR_OK)
            out->roles |= (unsigned)role;
    }
    db_finish(st);
    return rc < 0 ? rc : KR_OK;
}

int accounts_user_count(struct db_conn *conn, int64_t *count, struct kr_error *err)
{
    return db_query_int64(conn, "SELECT COUNT(*) FROM account_user", NULL, 0, count, err);
}
