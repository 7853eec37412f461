#include "core/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/text.h"
#include "core/util.h"

enum key_type {
    K_STRING,
    K_PATH,
    K_UINT,
    K_SIZE,
    K_DURATION,
    K_NETS,
    K_LOG_LEVEL,
    K_LISTEN,
    K_URL,
    K_DATABASE,
    K_SMTP_TLS,
    K_SMTP_URL
};

struct key_def {
    struct kr_config_key_info info;
    enum key_type type;
    size_t offset;       /* of the field in struct kr_config */
    size_t size;         /* K_STRING/K_PATH: field size */
    uint64_t min, max;   /* K_UINT, K_SIZE, K_DURATION */
    size_t count_offset; /* K_NETS: offset of the count field */
};

#define OFF(f) offsetof(struct kr_config, f)
#define SZ(f) sizeof(((struct kr_config *)0)->f)

/* A plain text key (the oidc_* ones are checked by src/oidc at start). */
#define TEXT_KEY(name, def, doc)                                                                   \
    {                                                                                              \
        {#name, def, doc}, K_STRING, OFF(name), SZ(name), 0, 0, 0                                  \
    }

static const struct key_def keys[] = {
    {{"listen", "127.0.0.1:8080",
      "Address and port to listen on: 127.0.0.1:8080, [::1]:8080, 0.0.0.0:80."},
     K_LISTEN,
     0,
     0,
     0,
     0,
     0},
    {{"public_url", "http://127.0.0.1:8080",
      "Origin under which citizens reach the portal (scheme://host[:port], no path). "
      "With https, cookies are Secure and HSTS is sent."},
     K_URL,
     OFF(public_url),
     SZ(public_url),
     0,
     0,
     0},
    {{"database", "",
      "sqlite:PATH (default: sqlite:DATA_DIR/kreisel.db) or a PostgreSQL URI "
      "postgresql://user@host/dbname."},
     K_DATABASE,
     OFF(database),
     SZ(database),
     0,
     0,
     0},
    {{"data_dir", "var", "Directory for the SQLite database and stored files."},
     K_PATH,
     OFF(data_dir),
     SZ(data_dir),
     0,
     0,
     0},
    {{"share_dir", KREISEL_SHARE_DIR, "Directory that holds templates/, static/ and locales/."},
     K_PATH,
     OFF(share_dir),
     SZ(share_dir),
     0,
     0,
     0},
    {{"einvoice_schema_dir", "",
      "Directory with the UBL 2.1 and CII D16B XML schemas (ubl-2.1/, cii-d16b/) for "
      "e-invoice validation; empty means SHARE_DIR/../shared/xrechnung/schemas. Without "
      "the schemas the XSD check is skipped and every report says so."},
     K_STRING,
     OFF(einvoice_schema_dir),
     SZ(einvoice_schema_dir),
     0,
     0,
     0},
    TEXT_KEY(einvoice_intake_dir, "",
             "E-invoices: a directory that `serve` takes invoice files (XML or PDF) from, "
             "moving each to done/ or failed/ with a note; empty: no directory intake. "
             "Writers put name.tmp and rename it, or write the file within one interval."),
    {{"einvoice_intake_interval", "30s",
      "E-invoices: time between two scans of the intake "
      "directory and two checks of payment deadlines."},
     K_DURATION,
     OFF(einvoice_intake_interval),
     0,
     1,
     86400,
     0},
    {{"einvoice_warn_days", "3",
      "E-invoices: the ordering unit is mailed this many days before a cash discount (Skonto) "
      "deadline or the due date of an invoice that is not released yet."},
     K_UINT,
     OFF(einvoice_warn_days),
     0,
     0,
     365,
     0},
    {{"einvoice_payment_days", "30",
      "E-invoices: the due date of an invoice without one (BT-9) is its issue date plus this "
      "many days."},
     K_UINT,
     OFF(einvoice_payment_days),
     0,
     0,
     365,
     0},
    {{"threads", "0", "HTTP worker threads; 0 chooses twice the CPU count (at least 4)."},
     K_UINT,
     OFF(threads),
     0,
     0,
     256,
     0},
    {{"db_pool_size", "0", "Database connections at most; 0 means threads + 2."},
     K_UINT,
     OFF(db_pool_size),
     0,
     0,
     1024,
     0},
    {{"max_connections", "1000", "Open client connections at most."},
     K_UINT,
     OFF(max_connections),
     0,
     1,
     100000,
     0},
    {{"max_body_size", "1m", "Largest request body accepted (413 beyond)."},
     K_SIZE,
     OFF(max_body_size),
     0,
     1024,
     (uint64_t)1 << 32,
     0},
    {{"upload_max_file_size", "20m",
      "Largest uploaded file (forms, documents) unless a page allows more."},
     K_SIZE,
     OFF(upload_max_file_size),
     0,
     1024,
     (uint64_t)1 << 40,
     0},
    {{"upload_max_request_size", "100m",
      "Largest upload request (all its files together) unless a page allows more."},
     K_SIZE,
     OFF(upload_max_request_size),
     0,
     1024,
     (uint64_t)1 << 40,
     0},
    {{"upload_max_files", "20", "Files in one upload request at most."},
     K_UINT,
     OFF(upload_max_files),
     0,
     1,
     10000,
     0},
    {{"max_header_size", "32k",
      "Memory per connection for the request line and headers (431 beyond)."},
     K_SIZE,
     OFF(max_header_size),
     0,
     8192,
     1024 * 1024,
     0},
    {{"request_timeout", "30s", "Close a connection idle for this long (slow clients)."},
     K_DURATION,
     OFF(request_timeout),
     0,
     1,
     3600,
     0},
    {{"shutdown_timeout", "30s",
      "On SIGTERM, wait this long for requests in flight before stopping."},
     K_DURATION,
     OFF(shutdown_timeout),
     0,
     0,
     3600,
     0},
    {{"session_idle_timeout", "30m", "A session ends after this much inactivity."},
     K_DURATION,
     OFF(session_idle_timeout),
     0,
     60,
     7 * 86400,
     0},
    {{"session_lifetime", "12h", "A session ends this long after login, active or not."},
     K_DURATION,
     OFF(session_lifetime),
     0,
     60,
     30 * 86400,
     0},
    {{"login_max_failures", "5",
      "Failed logins per account name (and 4x that per client address) within "
      "login_window before further attempts are refused (429)."},
     K_UINT,
     OFF(login_max_failures),
     0,
     1,
     1000,
     0},
    {{"login_window", "15m", "Time window of login_max_failures."},
     K_DURATION,
     OFF(login_window),
     0,
     60,
     86400,
     0},
    {{"trusted_proxies", "",
      "Comma-separated addresses/ranges of reverse proxies whose X-Forwarded-For "
      "and X-Forwarded-Proto are believed, e.g. 127.0.0.1, 10.0.0.0/8. Empty: none."},
     K_NETS,
     OFF(trusted_proxies),
     0,
     0,
     0,
     OFF(trusted_proxy_count)},
    {{"metrics_allow", "127.0.0.0/8, ::1",
      "Comma-separated addresses/ranges allowed to read /metrics."},
     K_NETS,
     OFF(metrics_allow),
     0,
     0,
     0,
     OFF(metrics_allow_count)},
    {{"log_level", "info", "debug, info, warn or error."}, K_LOG_LEVEL, OFF(log_level), 0, 0, 0, 0},
    /* Outgoing mail (docs/mail.md). */
    {{"smtp_url", "",
      "Mail relay: smtp://host[:port] (STARTTLS per smtp_tls) or smtps://host[:port]. "
      "Empty: mail is queued but not sent."},
     K_SMTP_URL,
     OFF(smtp_url),
     SZ(smtp_url),
     0,
     0,
     0},
    {{"smtp_user", "", "User name for SMTP AUTH; empty: no AUTH."},
     K_STRING,
     OFF(smtp_user),
     SZ(smtp_user),
     0,
     0,
     0},
    {{"smtp_password", "", "Password for SMTP AUTH (better set as KREISEL_SMTP_PASSWORD)."},
     K_STRING,
     OFF(smtp_password),
     SZ(smtp_password),
     0,
     0,
     0},
    {{"smtp_tls", "try",
      "STARTTLS on smtp://: try (when offered), require (refuse to send without) or off."},
     K_SMTP_TLS,
     OFF(smtp_tls),
     SZ(smtp_tls),
     0,
     0,
     0},
    {{"smtp_ca_file", "",
      "PEM file of CA certificates to verify the relay with; empty: the system's."},
     K_STRING,
     OFF(smtp_ca_file),
     SZ(smtp_ca_file),
     0,
     0,
     0},
    {{"smtp_timeout", "60s", "Connect and whole-conversation timeout of one SMTP delivery."},
     K_DURATION,
     OFF(smtp_timeout),
     0,
     1,
     3600,
     0},
    {{"mail_from", "",
      "Sender: \"Name <address>\" or address.  Empty: the county's name and "
      "noreply@ the host of public_url (localhost.localdomain for an IP address)."},
     K_STRING,
     OFF(mail_from),
     SZ(mail_from),
     0,
     0,
     0},
    {{"mail_max_bytes", "10m", "Largest message (encoded, with attachments) accepted."},
     K_SIZE,
     OFF(mail_max_bytes),
     0,
     16 * 1024,
     (uint64_t)1 << 30,
     0},
    {{"mail_retry_first", "1m",
      "Wait after the first temporary failure; doubles per attempt up to 1h."},
     K_DURATION,
     OFF(mail_retry_first),
     0,
     1,
     3600,
     0},
    {{"mail_retry_max_age", "3d",
      "Give a message up (status failed) when it could not be sent for this long."},
     K_DURATION,
     OFF(mail_retry_max_age),
     0,
     60,
     30 * 86400,
     0},
    {{"mail_purge_after", "7d",
      "Remove recipient, text and attachments of sent or failed mail after this long."},
     K_DURATION,
     OFF(mail_purge_after),
     0,
     0,
     365 * 86400,
     0},
    {{"mail_poll_interval", "10s", "How often the sender looks for due mail."},
     K_DURATION,
     OFF(mail_poll_interval),
     0,
     1,
     3600,
     0},
    TEXT_KEY(oidc_issuer, "",
             "OpenID Connect: issuer URL of the state's service account (BundID etc.); its "
             "discovery document is ISSUER/.well-known/openid-configuration. Empty: no "
             "login with the service account."),
    TEXT_KEY(oidc_client_id, "", "OpenID Connect: the client id the provider registered."),
    TEXT_KEY(oidc_client_secret, "", "OpenID Connect: the client secret."),
    TEXT_KEY(oidc_redirect_url, "",
             "OpenID Connect: the redirect URI registered at the provider. Empty: "
             "public_url + /anmelden/servicekonto/antwort."),
    TEXT_KEY(oidc_scopes, "openid email profile",
             "OpenID Connect: scopes requested (space-separated; must contain openid)."),
    TEXT_KEY(oidc_acr_map, "",
             "OpenID Connect: acr values and the eIDAS level each stands for, e.g. "
             "urn:x:eid=high, urn:x:elster=substantial. Absent or unknown acr: low."),
    TEXT_KEY(oidc_auth_method, "client_secret_basic",
             "OpenID Connect: client authentication at the token endpoint, "
             "client_secret_basic or client_secret_post."),
    TEXT_KEY(county_state, "NI",
             "The county's state as its two-letter code (BW, BY, BE, BB, HB, HH, HE, MV, NI, NW, "
             "RP, SL, SN, ST, SH, TH): its public holidays are not working days for deadlines."),
    {{"appointments_horizon", "56d", "Online appointments can be booked this far ahead."},
     K_DURATION,
     OFF(appointments_horizon),
     0,
     86400,
     730 * 86400,
     0},
    {{"appointments_min_lead", "2h", "No appointment can be booked online sooner than this."},
     K_DURATION,
     OFF(appointments_min_lead),
     0,
     0,
     30 * 86400,
     0},
    {{"appointments_confirm_timeout", "30m",
      "A booking without account that is not confirmed by its e-mail link within this time "
      "releases its slot."},
     K_DURATION,
     OFF(appointments_confirm_timeout),
     0,
     60,
     86400,
     0},
    {{"appointments_max_per_email", "3",
      "Upcoming appointments one e-mail address may hold at once (against slot hoarding)."},
     K_UINT,
     OFF(appointments_max_per_email),
     0,
     1,
     1000,
     0},
    {{"appointments_max_per_ip", "20",
      "Bookings one client address may make per hour (against bots)."},
     K_UINT,
     OFF(appointments_max_per_ip),
     0,
     1,
     100000,
     0},
    {{"appointments_days_cache", "2",
      "Seconds a process reuses the free-days overview of a location (0: never); its own "
      "bookings refresh it at once."},
     K_UINT,
     OFF(appointments_days_cache),
     0,
     0,
     60,
     0},
    TEXT_KEY(payments_creditor_name, "Landkreis Musterland",
             "Payments: the county's name as payee on GiroCodes and reminders (1-70 bytes)."),
    TEXT_KEY(payments_iban, "DE02120300000000202051",
             "Payments: IBAN of the county's cash office account (the default is a demo IBAN)."),
    TEXT_KEY(payments_bic, "BYLADEM1001", "Payments: BIC of that account; empty: none."),
    {{"payments_grace_days", "7",
      "Payments: days after the due date before a receivable is on the dunning list."},
     K_UINT,
     OFF(payments_grace_days),
     0,
     0,
     365,
     0},
    TEXT_KEY(payments_reminder_fee, "5.00",
             "Payments: fee added by a reminder letter, in EUR (0 to 1000.00)."),
    TEXT_KEY(payments_callback_secret, "",
             "Payments: shared secret (at least 32 bytes) with which payment providers sign "
             "their notifications (HMAC-SHA256). Empty: notifications are refused."),
    TEXT_KEY(efile_reference_pattern, "{unit}-{plan}-{seq:4}/{year}",
             "E-file: pattern of file references (Aktenzeichen) with {plan}, {seq} or "
             "{seq:N} (zero-padded), {year} and {unit}; {plan} and {seq} are required."),
    TEXT_KEY(efile_today, "",
             "E-file, for tests and demonstrations only: a date (YYYY-MM-DD) that retention "
             "and disposal take as today. Empty: the real date."),
    /* Form server (src/forms, docs/forms.md). */
    TEXT_KEY(forms_dir, "", "Directory of the form definitions (*.json); empty: share_dir/forms."),
    {{"forms_draft_ttl", "30d",
      "How long a form draft is kept after its last change; expired drafts are deleted."},
     K_DURATION,
     OFF(forms_draft_ttl),
     0,
     3600,
     366 * 86400,
     0},
    TEXT_KEY(forms_webhook_secret, "",
             "Older name of webhook_secret, read when webhook_secret is empty."),
    TEXT_KEY(webhook_secret, "",
             "Key for the HMAC-SHA256 signature of outgoing webhooks (X-Kreisel-Signature); "
             "forms routed to a webhook and workflows with the action webhook need it."),
    {{"webhook_purge_after", "30d",
      "How long the body of a sent or failed webhook delivery is kept; then it is emptied."},
     K_DURATION,
     OFF(webhook_purge_after),
     0,
     3600,
     3660 * 86400,
     0},
    TEXT_KEY(forms_clamd_socket, "",
             "Unix socket of clamd (ClamAV) to scan form uploads with INSTREAM; empty: no "
             "virus scan."),
};

const struct kr_config_key_info *kr_config_keys(size_t *count)
{
    /* The info is the first member of each key_def; hand out a flat copy. */
    static struct kr_config_key_info flat[KR_ARRAY_LEN(keys)];
    static int done;
    if (!done) {
        for (size_t i = 0; i < KR_ARRAY_LEN(keys); i++)
            flat[i] = keys[i].info;
        done = 1;
    }
    *count = KR_ARRAY_LEN(keys);
    return flat;
}

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].info.name, name) == 0)
            return &keys[i];
    return NULL;
}

/* "512", "64k", "1m", "2g" (binary units). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return KR_ERR_INVALID;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return KR_ERR_INVALID;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return KR_ERR_INVALID;
    *out = (uint64_t)v << shift;
    return KR_OK;
}

/* "90" or "90s", "15m", "12h", "7d" into seconds. */
static int parse_duration(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return KR_ERR_INVALID;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return KR_ERR_INVALID;
    uint64_t unit = 1;
    switch (*end) {
    case '\0': break;
    case 's':
        unit = 1;
        end++;
        break;
    case 'm':
        unit = 60;
        end++;
        break;
    case 'h':
        unit = 3600;
        end++;
        break;
    case 'd':
        unit = 86400;
        end++;
        break;
    default: return KR_ERR_INVALID;
    }
    if (*end || v > UINT64_MAX / unit)
        return KR_ERR_INVALID;
    *out = v * unit;
    return KR_OK;
}

int kr_net_parse(const char *text, struct kr_net *net)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof(addr))
        return KR_ERR_INVALID;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    memset(net, 0, sizeof(*net));
    unsigned maxbits;
    if (inet_pton(AF_INET, addr, net->addr) == 1) {
        net->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, addr, net->addr) == 1) {
        net->family = AF_INET6;
        maxbits = 128;
    } else {
        return KR_ERR_INVALID;
    }
    net->prefix = maxbits;
    if (slash) {
        int64_t bits;
        if (kr_parse_int64(slash + 1, 0, maxbits, &bits))
            return KR_ERR_INVALID;
        net->prefix = (unsigned)bits;
    }
    return KR_OK;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool kr_net_contains(const struct kr_net *nets, size_t n, const char *ip)
{
    unsigned char a4[4], a6[16];
    bool is4 = inet_pton(AF_INET, ip, a4) == 1;
    bool is6 = !is4 && inet_pton(AF_INET6, ip, a6) == 1;
    /* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4. */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (is6 && memcmp(a6, mapped, 12) == 0) {
        memcpy(a4, a6 + 12, 4);
        is4 = true;
        is6 = false;
    }
    for (size_t i = 0; i < n; i++) {
        if (is4 && nets[i].family == AF_INET && prefix_match(a4, nets[i].addr, nets[i].prefix))
            return true;
        if (is6 && nets[i].family == AF_INET6 && prefix_match(a6, nets[i].addr, nets[i].prefix))
            return true;
    }
    return false;
}

static int set_nets(struct kr_config *cfg, const struct key_def *k, const char *value,
                    struct kr_error *err)
{
    struct kr_net *nets = (struct kr_net *)((char *)cfg + k->offset);
    size_t *count = (size_t *)((char *)cfg + k->count_offset);
    size_t n = 0;
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = text_trim(p, &len);
        if (len > 0) {
            char one[80];
            if (n == KR_CONFIG_MAX_NETS)
                return kr_error_set(err, KR_ERR_CONFIG, "more than %d entries", KR_CONFIG_MAX_NETS);
            if (len >= sizeof(one))
                return kr_error_set(err, KR_ERR_CONFIG, "invalid address '%.*s'", (int)len, item);
            memcpy(one, item, len);
            one[len] = '\0';
            if (kr_net_parse(one, &nets[n]))
                return kr_error_set(err, KR_ERR_CONFIG,
                                    "invalid address or range '%s' (use e.g. 10.0.0.0/8 or ::1)",
                                    one);
            n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *count = n;
    return KR_OK;
}

static int set_listen(struct kr_config *cfg, const char *value, struct kr_error *err)
{
    const char *colon = strrchr(value, ':');
    if (!colon || colon == value)
        return kr_error_set(err, KR_ERR_CONFIG, "expected HOST:PORT, got '%s'", value);
    const char *host = value;
    size_t hlen = (size_t)(colon - value);
    if (host[0] == '[') { /* [::1]:8080 */
        if (hlen < 3 || host[hlen - 1] != ']')
            return kr_error_set(err, KR_ERR_CONFIG, "expected [IPv6]:PORT, got '%s'", value);
        host++;
        hlen -= 2;
    }
    if (hlen >= sizeof(cfg->listen_host))
        return kr_error_set(err, KR_ERR_CONFIG, "host too long");
    char hostbuf[sizeof(cfg->listen_host)];
    memcpy(hostbuf, host, hlen);
    hostbuf[hlen] = '\0';
    unsigned char tmp[16];
    if (inet_pton(AF_INET, hostbuf, tmp) != 1 && inet_pton(AF_INET6, hostbuf, tmp) != 1)
        return kr_error_set(err, KR_ERR_CONFIG, "'%s' is not an IP address", hostbuf);
    int64_t port;
    if (kr_parse_int64(colon + 1, 0, 65535, &port))
        return kr_error_set(err, KR_ERR_CONFIG, "invalid port '%s' (0-65535)", colon + 1);
    memcpy(cfg->listen_host, hostbuf, hlen + 1);
    cfg->port = (unsigned)port;
    return KR_OK;
}

static int set_url(struct kr_config *cfg, const struct key_def *k, const char *value,
                   struct kr_error *err)
{
    bool https = strncmp(value, "https://", 8) == 0;
    if (!https && strncmp(value, "http://", 7) != 0)
        return kr_error_set(err, KR_ERR_CONFIG, "must start with http:// or https://");
    const char *host = value + (https ? 8 : 7);
    if (!*host || strchr(host, '/') || strchr(host, '?') || strchr(host, '#') ||
        strchr(host, ' ') || strchr(host, '@'))
        return kr_error_set(err, KR_ERR_CONFIG,
                            "expected scheme://host[:port] without path, got '%s'", value);
    if (strlen(value) >= k->size)
        return kr_error_set(err, KR_ERR_CONFIG, "too long");
    memcpy((char *)cfg + k->offset, value, strlen(value) + 1);
    cfg->public_https = https;
    return KR_OK;
}

static int set_string(struct kr_config *cfg, const struct key_def *k, const char *value,
                      struct kr_error *err)
{
    size_t len = strlen(value);
    if (len >= k->size)
        return kr_error_set(err, KR_ERR_CONFIG, "too long (at most %zu bytes)", k->size - 1);
    if (k->type == K_PATH && len == 0)
        return kr_error_set(err, KR_ERR_CONFIG, "must not be empty");
    if (k->type == K_DATABASE && len > 0 && strncmp(value, "sqlite:", 7) != 0 &&
        strncmp(value, "postgresql://", 13) != 0 && strncmp(value, "postgres://", 11) != 0)
        return kr_error_set(err, KR_ERR_CONFIG,
                            "expected sqlite:PATH or postgresql://..., got '%.40s'", value);
    memcpy((char *)cfg + k->offset, value, len + 1);
    return KR_OK;
}

static int set_number(struct kr_config *cfg, const struct key_def *k, const char *value,
                      struct kr_error *err)
{
    uint64_t v;
    int64_t iv;
    switch (k->type) {
    case K_UINT:
        if (kr_parse_int64(value, 0, INT64_MAX, &iv))
            return kr_error_set(err, KR_ERR_CONFIG, "'%s' is not a whole number", value);
        v = (uint64_t)iv;
        break;
    case K_SIZE:
        if (parse_size(value, &v))
            return kr_error_set(err, KR_ERR_CONFIG, "invalid size '%s' (use e.g. 512k, 1m)", value);
        break;
    default:
        if (parse_duration(value, &v))
            return kr_error_set(err, KR_ERR_CONFIG,
                                "invalid duration '%s' (use e.g. 30s, 15m, 12h, 7d)", value);
        break;
    }
    /* 0 means "automatic" for threads and db_pool_size: min is 0 there. */
    if (v < k->min || v > k->max)
        return kr_error_set(err, KR_ERR_CONFIG, "'%s' is out of range (%llu to %llu)", value,
                            (unsigned long long)k->min, (unsigned long long)k->max);
    if (k->type == K_SIZE)
        *(size_t *)((char *)cfg + k->offset) = (size_t)v;
    else
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)v;
    return KR_OK;
}

static int set_value(struct kr_config *cfg, const struct key_def *k, const char *value,
                     struct kr_error *err)
{
    enum kr_log_level level;
    switch (k->type) {
    case K_STRING:
    case K_PATH:
    case K_DATABASE: return set_string(cfg, k, value, err);
    case K_SMTP_TLS:
        if (strcmp(value, "try") != 0 && strcmp(value, "require") != 0 && strcmp(value, "off") != 0)
            return kr_error_set(err, KR_ERR_CONFIG, "expected try, require or off, got '%.20s'",
                                value);
        return set_string(cfg, k, value, err);
    case K_SMTP_URL:
        if (*value && strncmp(value, "smtp://", 7) != 0 && strncmp(value, "smtps://", 8) != 0)
            return kr_error_set(err, KR_ERR_CONFIG,
                                "expected smtp://host[:port] or smtps://host[:port], got '%.40s'",
                                value);
        if (strpbrk(value, " \r\n\t"))
            return kr_error_set(err, KR_ERR_CONFIG, "must not contain spaces");
        return set_string(cfg, k, value, err);
    case K_UINT:
    case K_SIZE:
    case K_DURATION: return set_number(cfg, k, value, err);
    case K_NETS: return set_nets(cfg, k, value, err);
    case K_LISTEN: return set_listen(cfg, value, err);
    case K_URL: return set_url(cfg, k, value, err);
    case K_LOG_LEVEL:
        if (kr_log_parse_level(value, &level))
            return kr_error_set(err, KR_ERR_CONFIG, "unknown level '%s' (debug, info, warn, error)",
                                value);
        cfg->log_level = level;
        return KR_OK;
    }
    return kr_error_set(err, KR_ERR_INTERNAL, "unhandled key type");
}

int kr_config_set(struct kr_config *cfg, const char *source, const char *key, const char *value,
                  struct kr_error *err)
{
    const struct key_def *k = find_key(key);
    if (!k)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: unknown key '%s'", source, key);
    int rc = set_value(cfg, k, value, err);
    if (rc) {
        if (err)
            err->code = KR_ERR_CONFIG;
        kr_error_prefix(err, "%s: %s", source, key);
        return KR_ERR_CONFIG;
    }
    return KR_OK;
}

void kr_config_defaults(struct kr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < KR_ARRAY_LEN(keys); i++) {
        struct kr_error err;
        int rc = kr_config_set(cfg, "default", keys[i].info.name, keys[i].info.default_value, &err);
        assert(rc == KR_OK);
        (void)rc;
    }
}

/* The file is small; read it whole, with a cap against accidents. */
#define CONFIG_FILE_MAX (1024 * 1024)

static int read_whole(const char *path, struct buf *out, struct kr_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return kr_error_set(err, KR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed)
        return kr_error_set(err, KR_ERR_IO, "%s: read error", path);
    if (buf_status(out))
        return kr_error_set(err, KR_ERR_CONFIG, "%s: larger than 1 MiB", path);
    return KR_OK;
}

static bool valid_key_name(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Parse one non-empty, non-comment line "key = value". */
static int parse_line(struct kr_config *cfg, const char *source, unsigned lineno, char *line,
                      size_t len, unsigned *seen_lines, struct kr_error *err)
{
    char *eq = memchr(line, '=', len);
    if (!eq)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: expected 'key = value'", source);
    size_t klen = (size_t)(eq - line);
    const char *key = text_trim(line, &klen);
    size_t vlen = len - (size_t)(eq + 1 - line);
    /* The same position as the trimmed const pointer, but writable. */
    char *value = eq + 1 + (text_trim(eq + 1, &vlen) - (eq + 1));
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
        value++;
        vlen -= 2;
    }
    if (!valid_key_name(key, klen))
        return kr_error_set(err, KR_ERR_CONFIG, "%s: invalid key '%.*s'", source, (int)klen, key);
    char keybuf[64];
    if (klen >= sizeof(keybuf))
        return kr_error_set(err, KR_ERR_CONFIG, "%s: key too long", source);
    memcpy(keybuf, key, klen);
    keybuf[klen] = '\0';
    const struct key_def *k = find_key(keybuf);
    if (!k)
        return kr_error_set(err, KR_ERR_CONFIG, "%s: unknown key '%s'", source, keybuf);
    size_t idx = (size_t)(k - keys);
    if (seen_lines[idx])
        return kr_error_set(err, KR_ERR_CONFIG, "%s: %s: already set on line %u", source, keybuf,
                            seen_lines[idx]);
    value[vlen] = '\0';
    seen_lines[idx] = lineno;
    return kr_config_set(cfg, source, keybuf, value, err);
}

int kr_config_read_file(struct kr_config *cfg, const char *path, struct kr_error *err)
{
    struct buf text;
    buf_init(&text, CONFIG_FILE_MAX);
    int rc = read_whole(path, &text, err);
    if (rc)
        goto out;
    if (!text_utf8_valid(text.data ? text.data : "", text.len)) {
        rc = kr_error_set(err, KR_ERR_CONFIG, "%s: not valid UTF-8", path);
        goto out;
    }
    unsigned seen[KR_ARRAY_LEN(keys)] = {0};
    char *p = text.data;
    char *end = p ? p + text.len : p;
    for (unsigned lineno = 1; p && p < end; lineno++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len && p[len - 1] == '\r')
            len--;
        size_t tlen = len;
        const char *t = text_trim(p, &tlen);
        if (tlen > 0 && t[0] != '#') {
            char source[KR_CONFIG_PATH_MAX + 16];
            (void)snprintf(source, sizeof(source), "%s:%u", path, lineno);
            rc = parse_line(cfg, source, lineno, p, len, seen, err);
            if (rc)
                goto out;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
out:
    buf_release(&text);
    return rc;
}

int kr_config_read_env(struct kr_config *cfg, struct kr_error *err)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(keys); i++) {
        char var[80] = "KREISEL_";
        size_t n = strlen(var);
        for (const char *k = keys[i].info.name; *k && n + 1 < sizeof(var); k++)
            var[n++] = (char)(*k >= 'a' && *k <= 'z' ? *k - 'a' + 'A' : *k);
        var[n] = '\0';
        const char *value = getenv(var);
        if (!value)
            continue;
        int rc = kr_config_set(cfg, var, keys[i].info.name, value, err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static void derive(struct kr_config *cfg)
{
    if (cfg->threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned t = cpus > 0 ? (unsigned)cpus * 2 : 4;
        cfg->threads = t < 4 ? 4 : (t > 64 ? 64 : t);
    }
    if (cfg->db_pool_size == 0)
        cfg->db_pool_size = cfg->threads + 2;
    if (cfg->database[0] == '\0')
        (void)snprintf(cfg->database, sizeof(cfg->database), "sqlite:%s/kreisel.db", cfg->data_dir);
    if (cfg->einvoice_schema_dir[0] == '\0')
        (void)snprintf(cfg->einvoice_schema_dir, sizeof(cfg->einvoice_schema_dir),
                       "%s/../shared/xrechnung/schemas", cfg->share_dir);
}

int kr_config_load(struct kr_config *cfg, const char *explicit_path, char *used_path,
                   size_t used_path_size, struct kr_error *err)
{
    kr_config_defaults(cfg);
    const char *path = explicit_path;
    if (!path || !*path)
        path = getenv("KREISEL_CONFIG");
    if ((!path || !*path) && access("kreisel.conf", F_OK) == 0)
        path = "kreisel.conf";
    if (used_path && used_path_size)
        used_path[0] = '\0';
    if (path && *path) {
        int rc = kr_config_read_file(cfg, path, err);
        if (rc)
            return rc;
        if (used_path)
            (void)snprintf(used_path, used_path_size, "%s", path);
    }
    int rc = kr_config_read_env(cfg, err);
    if (rc)
        return rc;
    derive(cfg);
    return KR_OK;
}
