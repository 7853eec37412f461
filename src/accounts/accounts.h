/*
 * accounts.h - organisation units, staff accounts, roles, logins and
 * sessions.
 *
 * The foundation has staff accounts (created by `kreisel user add` and the
 * demo seed) that log in with a password; citizen and business accounts,
 * e-mail confirmation and second factors follow in the accounts issue.
 *
 * Everything here is domain code: it takes a database connection, never
 * sees HTTP, and returns data allocated in the caller's arena.  Changes of
 * state are written to the audit log in the same transaction.  A function
 * that changes data opens its own transaction, or joins the caller's when
 * the connection is in one.
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str,
 * "interactive" limits: 2 passes, 64 MiB).  Session ids are 256-bit random
 * values; only their SHA-256 is stored.
 */
#ifndef KR_ACCOUNTS_ACCOUNTS_H
#define KR_ACCOUNTS_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "db/db.h"

/* Roles of staff, as a bit set. */
enum account_role {
    ACCOUNT_ROLE_CLERK = 1 << 0,           /* Sachbearbeitung */
    ACCOUNT_ROLE_HEAD_OF_UNIT = 1 << 1,    /* Amts-/Sachgebietsleitung */
    ACCOUNT_ROLE_CASH_OFFICE = 1 << 2,     /* Kasse */
    ACCOUNT_ROLE_RECORDS_MANAGER = 1 << 3, /* Registratur / Schriftgutverwaltung */
    ACCOUNT_ROLE_PROCUREMENT = 1 << 4,     /* Vergabestelle */
    ACCOUNT_ROLE_ADMIN = 1 << 5,           /* IT-Administration */
};
#define ACCOUNT_ROLE_COUNT 6

/* "clerk", "head_of_unit", ... (the names stored in account_role.role). */
const char *account_role_name(enum account_role role);

/* Parse a role name.  KR_OK or KR_ERR_INVALID. */
int account_role_parse(const char *name, enum account_role *out) KR_MUST_CHECK;

/* An account as handlers see it; strings live in the caller's arena. */
struct account_user {
    int64_t id;
    const char *kind; /* "staff", "citizen", "business" */
    const char *login;
    const char *email; /* may be NULL */
    const char *display_name;
    int64_t org_unit_id; /* 0 when none */
    unsigned roles;      /* enum account_role bits */
};

/* An organisation unit of the county's tree. */
struct account_org_unit {
    int64_t id;
    int64_t parent_id; /* 0 for the county itself */
    const char *kind;  /* "county", "department", "office", "section" */
    const char *code;  /* short designation, unique: "LK", "D1", "32" */
    const char *name;
    const char *name_en;
    int depth; /* 0 for the county (filled by the list function) */
};

/* ---- Organisation units --------------------------------------------------- */

/*
 * Add a unit below parent_id (0 only for the county, of which there is one).
 * KR_ERR_INVALID for an unknown kind, empty names or a code that is not 1-16
 * letters, digits, '.' or '-'; KR_ERR_CONFLICT for a duplicate code or a
 * second county.  actor is recorded in the audit log ("cli", "user:7").
 */
int accounts_org_unit_add(struct db_conn *conn, const char *actor, int64_t parent_id,
                          const char *kind, const char *code, const char *name, const char *name_en,
                          int64_t *id_out, struct kr_error *err) KR_MUST_CHECK;

/* All units in tree order (depth first, siblings by code).  *units is an
 * arena array of *count entries. */
int accounts_org_units_list(struct db_conn *conn, struct arena *a, struct account_org_unit **units,
                            size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* The unit with that code; KR_ERR_NOT_FOUND. */
int accounts_org_unit_find(struct db_conn *conn, struct arena *a, const char *code,
                           struct account_org_unit *out, struct kr_error *err) KR_MUST_CHECK;

/* The county's name (the root unit) in lang ("de"/"en"); KR_ERR_NOT_FOUND
 * before the county is set up. */
int accounts_county_name(struct db_conn *conn, struct arena *a, const char *lang, char **out,
                         struct kr_error *err) KR_MUST_CHECK;

/* ---- Users ---------------------------------------------------------------- */

struct account_new_user {
    const char *kind;  /* "staff", "citizen" or "business" */
    const char *login; /* 3-64 of a-z 0-9 . _ - @, stored lower-case */
    const char *email; /* optional */
    const char *display_name;
    const char *password; /* see accounts_password_check; NULL for a citizen
                           * who only logs in through an identity provider */
    int64_t org_unit_id;  /* staff only; 0 for none */
    unsigned roles;       /* staff only */
};

/* Minimum password length for staff accounts. */
#define ACCOUNT_PASSWORD_MIN 12
#define ACCOUNT_PASSWORD_MAX 256

/* KR_OK if password is acceptable: 12 to 256 bytes of UTF-8, not one of the
 * most common passwords, not the login itself.  The message says why not. */
int accounts_password_check(const char *login, const char *password,
                            struct kr_error *err) KR_MUST_CHECK;

/*
 * Create an account (transaction and audit entry "account.create" inside).
 * KR_ERR_INVALID with a message naming the field, KR_ERR_CONFLICT when the
 * login is taken.  *id_out may be NULL.
 */
int accounts_user_add(struct db_conn *conn, const char *actor, const struct account_new_user *u,
                      int64_t *id_out, struct kr_error *err) KR_MUST_CHECK;

/* Load account id with its roles; KR_ERR_NOT_FOUND (also when disabled). */
int accounts_user_get(struct db_conn *conn, struct arena *a, int64_t id, struct account_user *out,
                      struct kr_error *err) KR_MUST_CHECK;

/* Number of accounts (for the seed's "is this database new?"). */
int accounts_user_count(struct db_conn *conn, int64_t *count, struct kr_error *err) KR_MUST_CHECK;

/* Random password of 20 characters from an unambiguous alphabet (no 0/O,
 * 1/l/I), for generated admin accounts; out must hold 21 bytes. */
void accounts_password_generate(char out[21]);

/* ---- Login ---------------------------------------------------------------- */

struct accounts_login_policy {
    unsigned max_failures; /* per login name within window; 4x per address */
    unsigned window;       /* seconds */
};

/*
 * Check login and password.  Order matters: first the rate limit
 * (KR_ERR_RATE_LIMITED, nothing else is checked or revealed), then the
 * password (KR_ERR_UNAUTHENTICATED for an unknown login, wrong password or
 * disabled account alike, and in the same time: an unknown login still
 * costs one Argon2 computation).  Every attempt is recorded; a success is
 * audited ("account.login").  On success *out is the account.
 */
int accounts_login(struct db_conn *conn, struct arena *a, const char *login, const char *password,
                   const char *ip, const struct accounts_login_policy *policy,
                   struct account_user *out, struct kr_error *err) KR_MUST_CHECK;

/* ---- Sessions ------------------------------------------------------------- */

/* The id in the cookie: 64 hex digits (256 bits) plus NUL. */
#define ACCOUNT_SESSION_TOKEN_LEN 65

/*
 * How a session's user proved who they are.  method: "password",
 * "password+totp", "oidc"; assurance: the eIDAS level of assurance,
 * "low", "substantial" or "high" (an eID card through the state's account
 * is "high"), so that a service can require a level.  Anonymous sessions
 * have "none" for both.
 */
struct account_auth {
    const char *method;
    const char *assurance;
};

struct account_session {
    char token[ACCOUNT_SESSION_TOKEN_LEN]; /* only set by create */
    const char *csrf_token;                /* 64 hex digits */
    int64_t user_id;                       /* 0 for an anonymous session */
    int64_t pending_user_id;               /* waiting for this user's 2nd factor */
    struct account_auth auth;
    int64_t created_at, last_seen_at, expires_at;
};

struct accounts_session_policy {
    unsigned idle_timeout; /* seconds */
    unsigned lifetime;     /* seconds */
};

/*
 * Create a session for user_id (0: anonymous, to carry a CSRF token) and
 * return its token (only here; the database keeps its hash).  auth says how
 * the user logged in; NULL means a password ("password", "low").
 */
int accounts_session_create(struct db_conn *conn, struct arena *a, int64_t user_id,
                            const struct account_auth *auth, const char *ip, const char *user_agent,
                            const struct accounts_session_policy *policy,
                            struct account_session *out, struct kr_error *err) KR_MUST_CHECK;

/*
 * Find the session of a cookie token.  KR_ERR_NOT_FOUND for an unknown or
 * malformed token; KR_ERR_UNAUTHENTICATED for a session that existed but
 * expired (idle or lifetime; it is deleted).  Updates last_seen_at at most
 * once a minute.  When the session has a user, *user is loaded (else
 * user->id is 0).
 */
int accounts_session_lookup(struct db_conn *conn, struct arena *a, const char *token,
                            const struct accounts_session_policy *policy,
                            struct account_session *out, struct account_user *user,
                            struct kr_error *err) KR_MUST_CHECK;

/* Delete the session of token (logout).  Unknown tokens are not an error. */
int accounts_session_destroy(struct db_conn *conn, const char *token,
                             struct kr_error *err) KR_MUST_CHECK;

/* Unconfirmed registrations and dead tokens are kept this long (seconds). */
#define ACCOUNT_UNCONFIRMED_KEEP (7 * 86400)

/* Delete expired sessions, login attempts older than keep_attempts
 * seconds, dead tokens and registrations never confirmed; *removed gets
 * the number of sessions deleted (may be NULL). */
int accounts_purge(struct db_conn *conn, const struct accounts_session_policy *policy,
                   unsigned keep_attempts, int64_t *removed, struct kr_error *err) KR_MUST_CHECK;

/* ---- Citizen and business accounts (Servicekonto) ------------------------- */

/* Lower-case, trimmed e-mail address into out (255 bytes); KR_ERR_INVALID
 * unless it looks like local@domain.tld (no spaces or control characters,
 * at most 254 bytes). */
int accounts_normalise_email(const char *email, char out[255], struct kr_error *err) KR_MUST_CHECK;

struct account_registration {
    const char *email;
    const char *display_name;
    const char *password;
    const char *company; /* NULL or "" for a private person; else a business */
};

/* Token sent by e-mail: 64 hex digits plus NUL; only its hash is stored. */
#define ACCOUNT_TOKEN_LEN 65

/* Count one attempt of purpose ("register", "reset", "email") for key
 * (an address) from ip, and refuse with KR_ERR_RATE_LIMITED when key or
 * ip made too many within the policy's window (the same limits as failed
 * logins, counted apart). */
int accounts_throttle(struct db_conn *conn, const char *purpose, const char *key, const char *ip,
                      const struct accounts_login_policy *policy,
                      struct kr_error *err) KR_MUST_CHECK;

/*
 * Register an account; it can log in once the e-mail address is confirmed
 * (accounts_confirm).  Joins the caller's transaction, so that the caller
 * can queue the confirmation mail in the same one.  When the address
 * already belongs to an account nothing is created: *existing_id is set
 * (else 0) and the caller sends a "you already have an account" mail
 * instead, so that the page never tells who is registered.  On creation
 * *id and token (valid for 48 hours) are set.  KR_ERR_INVALID names the
 * field.  Audited ("account.register").
 */
int accounts_register(struct db_conn *conn, const struct account_registration *r, int64_t *id,
                      int64_t *existing_id, char token[ACCOUNT_TOKEN_LEN],
                      struct kr_error *err) KR_MUST_CHECK;

/* Confirm the address of a registration (single use).  KR_ERR_NOT_FOUND
 * for an unknown, used or expired token.  *id is the account. */
int accounts_confirm(struct db_conn *conn, const char *token, int64_t *id,
                     struct kr_error *err) KR_MUST_CHECK;

/*
 * Start a password reset for email: when a confirmed citizen or business
 * account has it, *id and token (valid 1 hour) are set and earlier reset
 * tokens die; otherwise *id is 0 and KR_OK is returned all the same.
 */
int accounts_reset_request(struct db_conn *conn, const char *email, int64_t *id,
                           char token[ACCOUNT_TOKEN_LEN], struct kr_error *err) KR_MUST_CHECK;

/* Set a new password with a reset token (single use); every session of the
 * account ends.  KR_ERR_NOT_FOUND for a bad token, KR_ERR_INVALID for a
 * weak password (token not used up then). */
int accounts_reset_password(struct db_conn *conn, const char *token, const char *password,
                            int64_t *id, struct kr_error *err) KR_MUST_CHECK;

/* Ask to change the address of account id to new_email: token (24 hours)
 * goes to the new address.  The current password is required. */
int accounts_email_change_request(struct db_conn *conn, int64_t id, const char *password,
                                  const char *new_email, char token[ACCOUNT_TOKEN_LEN],
                                  struct kr_error *err) KR_MUST_CHECK;

/* Confirm a change of address.  KR_ERR_NOT_FOUND for a bad token,
 * KR_ERR_CONFLICT when the address was taken meanwhile.  *old_email (in a)
 * is the previous address, for a notice. */
int accounts_email_change_confirm(struct db_conn *conn, struct arena *a, const char *token,
                                  int64_t *id, char **old_email,
                                  struct kr_error *err) KR_MUST_CHECK;

/* Change the password of account id (the current one is required). */
int accounts_password_change(struct db_conn *conn, int64_t id, const char *current,
                             const char *password, struct kr_error *err) KR_MUST_CHECK;

/* The company of a business account (NULL in a when the account acts for
 * none) and whether the account is its owner. */
struct account_business {
    int64_t id;
    const char *name;
    bool owner;
};
int accounts_business_of(struct db_conn *conn, struct arena *a, int64_t user_id,
                         struct account_business *out, struct kr_error *err) KR_MUST_CHECK;

/* A member of a company. */
struct account_member {
    int64_t id;
    const char *display_name, *email;
    bool owner;
};

/* The members of business_id (owner first), in a. */
int accounts_business_members(struct db_conn *conn, struct arena *a, int64_t business_id,
                              struct account_member **out, size_t *count,
                              struct kr_error *err) KR_MUST_CHECK;

/* The owner owner_id invites email into their company: token (valid 7
 * days) for the mail.  KR_ERR_FORBIDDEN unless owner_id owns a company.
 * Audited ("business.invite"). */
int accounts_business_invite(struct db_conn *conn, int64_t owner_id, const char *email,
                             char token[ACCOUNT_TOKEN_LEN], struct kr_error *err) KR_MUST_CHECK;

/* Account id joins the company of an invitation.  The invitation is for
 * one address: it works only for the account with that confirmed address
 * (KR_ERR_NOT_FOUND otherwise, and for bad tokens); KR_ERR_CONFLICT when
 * the account already acts for a company.  Audited ("business.join"). */
int accounts_business_join(struct db_conn *conn, int64_t id, const char *token,
                           struct kr_error *err) KR_MUST_CHECK;

/* The owner removes member_id from the company (not themself). */
int accounts_business_remove(struct db_conn *conn, int64_t owner_id, int64_t member_id,
                             struct kr_error *err) KR_MUST_CHECK;

/* Settings of account id that the pages show. */
struct account_settings {
    bool totp_enabled;
    bool has_password;
    int64_t email_verified_at; /* 0 when not confirmed */
    unsigned recovery_codes_left;
};
int accounts_settings(struct db_conn *conn, int64_t id, struct account_settings *out,
                      struct kr_error *err) KR_MUST_CHECK;

/* ---- Second factor (TOTP, RFC 6238: SHA-1, 6 digits, 30 s) ---------------- */

#define ACCOUNT_TOTP_SECRET_LEN 33 /* 32 base32 characters (160 bits) + NUL */
#define ACCOUNT_RECOVERY_CODES 10
#define ACCOUNT_RECOVERY_CODE_LEN 12 /* "xxxxx-xxxxx" + NUL */

/* The code for secret (base32) at Unix time t; -1 when secret is invalid.
 * Exposed for tests (RFC 6238 appendix B vectors). */
long accounts_totp_code(const char *secret_base32, int64_t t);

/* Begin setting up TOTP for id: a new secret (kept pending until enabled)
 * and the otpauth:// URI for authenticator apps (in a). */
int accounts_totp_begin(struct db_conn *conn, struct arena *a, int64_t id, const char *issuer,
                        char secret[ACCOUNT_TOTP_SECRET_LEN], char **uri,
                        struct kr_error *err) KR_MUST_CHECK;

/* Enable the pending secret when code matches it; returns fresh recovery
 * codes (shown once; only hashes are kept).  KR_ERR_INVALID on a wrong
 * code, KR_ERR_NOT_FOUND without a pending secret. */
int accounts_totp_enable(struct db_conn *conn, int64_t id, const char *code,
                         char codes[ACCOUNT_RECOVERY_CODES][ACCOUNT_RECOVERY_CODE_LEN],
                         struct kr_error *err) KR_MUST_CHECK;

/* Check a TOTP code (one step of clock drift either way; a code is
 * accepted once) or a recovery code (used up).  Rate limited like logins
 * per account (KR_ERR_RATE_LIMITED); KR_ERR_UNAUTHENTICATED when wrong. */
int accounts_totp_verify(struct db_conn *conn, int64_t id, const char *code, const char *ip,
                         const struct accounts_login_policy *policy,
                         struct kr_error *err) KR_MUST_CHECK;

/* Switch the second factor off (password required). */
int accounts_totp_disable(struct db_conn *conn, int64_t id, const char *password,
                          struct kr_error *err) KR_MUST_CHECK;

/* ---- Own sessions ---------------------------------------------------------- */

struct account_session_info {
    const char *handle; /* 16 hex digits naming the session in pages */
    int64_t created_at, last_seen_at;
    const char *ip, *user_agent, *auth_method;
    bool current;
};

/* The sessions of user id (newest first); current_token marks the own. */
int accounts_sessions_list(struct db_conn *conn, struct arena *a, int64_t id,
                           const char *current_token, struct account_session_info **out,
                           size_t *count, struct kr_error *err) KR_MUST_CHECK;

/* End the session handle of user id (KR_ERR_NOT_FOUND when it is not
 * theirs), or with handle NULL every session but current_token's. */
int accounts_sessions_revoke(struct db_conn *conn, int64_t id, const char *handle,
                             const char *current_token, struct kr_error *err) KR_MUST_CHECK;

/* ---- Second step of a login ---------------------------------------------- */

/* Mark the session of token as waiting for user id's second factor (0
 * clears it); accounts_session_lookup reports it in pending_user_id. */
int accounts_session_set_pending(struct db_conn *conn, const char *token, int64_t user_id,
                                 struct kr_error *err) KR_MUST_CHECK;

/* ---- Deletion --------------------------------------------------------------- */

/* Delete citizen or business account id (password required unless the
 * account has none): sessions, tokens, memberships and the account go;
 * audit entries stay (they are the county's record).  Audited. */
int accounts_delete(struct db_conn *conn, int64_t id, const char *password,
                    struct kr_error *err) KR_MUST_CHECK;

#endif
