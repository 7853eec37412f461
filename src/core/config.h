/*
 * config.h - kreisel.conf and KREISEL_<KEY> environment variables.
 *
 * The configuration is a fixed set of documented keys (kr_config_keys()).
 * Values come, later ones winning, from: the built-in defaults, the file
 * (key = value lines, '#' comments), and the environment variable
 * KREISEL_<KEY> (upper case).  Every value, defaults included, goes through
 * the same parser, so an invalid value stops the start with a message that
 * names its source and key:
 *
 *   kreisel.conf:7: max_body_size: invalid size 'lots' (use e.g. 512k, 1m)
 *   KREISEL_PORT: unknown key 'port'
 *
 * The file is found as: the --config argument, else $KREISEL_CONFIG, else
 * ./kreisel.conf if it exists; without any the defaults apply.
 *
 * struct kr_config is a plain value owned by the caller (main), filled once
 * before the server starts and read-only afterwards.
 */
#ifndef KR_CORE_CONFIG_H
#define KR_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/log.h"

/* An address range: 10.0.0.0/8, 192.168.1.7 (a /32), ::1, fd00::/8. */
struct kr_net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

#define KR_CONFIG_MAX_NETS 16
#define KR_CONFIG_PATH_MAX 512

struct kr_config {
    char listen_host[64]; /* from listen: address to bind */
    unsigned port;        /* from listen */
    char public_url[256]; /* origin the public reaches us at, no slash at end */
    bool public_https;    /* derived: public_url is https */
    char database[1024];  /* sqlite:PATH or postgresql://...; see db.h */
    char data_dir[KR_CONFIG_PATH_MAX];
    char share_dir[KR_CONFIG_PATH_MAX];
    char einvoice_schema_dir[KR_CONFIG_PATH_MAX + 32]; /* derived from share_dir if empty */
    /* E-invoice intake and deadlines (src/einvoice/einvoice_worker.h). */
    char einvoice_intake_dir[KR_CONFIG_PATH_MAX]; /* "" = no directory intake */
    unsigned einvoice_intake_interval;            /* seconds between two scans */
    unsigned einvoice_warn_days;                  /* escalate deadlines this many days ahead */
    unsigned einvoice_payment_days;               /* due date when the invoice has none (BT-9) */
    unsigned threads;      /* HTTP worker threads (0 in the file: automatic) */
    unsigned db_pool_size; /* (0 in the file: threads + 2) */
    unsigned max_connections;
    size_t max_body_size;
    size_t upload_max_file_size;
    size_t upload_max_request_size;
    unsigned upload_max_files;
    size_t max_header_size;
    unsigned request_timeout;      /* seconds */
    unsigned shutdown_timeout;     /* seconds */
    unsigned session_idle_timeout; /* seconds */
    unsigned session_lifetime;     /* seconds */
    unsigned login_max_failures;
    unsigned login_window; /* seconds */
    struct kr_net trusted_proxies[KR_CONFIG_MAX_NETS];
    size_t trusted_proxy_count;
    struct kr_net metrics_allow[KR_CONFIG_MAX_NETS];
    size_t metrics_allow_count;
    enum kr_log_level log_level;
    /* Outgoing mail (src/mail/mail.h, docs/mail.md). */
    char smtp_url[512]; /* smtp://host:port or smtps://...; "" = queue only */
    char smtp_user[256];
    char smtp_password[256];
    char smtp_tls[8]; /* "try", "require" or "off" */
    char smtp_ca_file[KR_CONFIG_PATH_MAX];
    unsigned smtp_timeout; /* seconds */
    char mail_from[256];   /* "Name <addr>" or addr; "" = derived */
    size_t mail_max_bytes;
    unsigned mail_retry_first;   /* seconds */
    unsigned mail_retry_max_age; /* seconds */
    unsigned mail_purge_after;   /* seconds */
    unsigned mail_poll_interval; /* seconds */
    /* Login through the state's service account over OpenID Connect
     * (src/oidc, docs/oidc.md); off while oidc_issuer is empty. */
    char oidc_issuer[512];
    char oidc_client_id[256];
    char oidc_client_secret[512];
    char oidc_redirect_url[512]; /* "": public_url + the callback path */
    char oidc_scopes[256];
    char oidc_acr_map[1024];
    char oidc_auth_method[32];
    char county_state[4]; /* "NI": holidays of this state for working-day deadlines */
    /* Online appointments (src/appointments, docs/appointments.md). */
    unsigned appointments_horizon;         /* seconds ahead that can be booked */
    unsigned appointments_min_lead;        /* seconds: no booking sooner than this */
    unsigned appointments_confirm_timeout; /* seconds an unconfirmed booking holds */
    unsigned appointments_max_per_email;   /* upcoming bookings per address */
    unsigned appointments_max_per_ip;      /* bookings per client address and hour */
    unsigned appointments_days_cache;      /* seconds the free-days overview is reused */
    /* Payments (src/payments, docs/payments.md). */
    char payments_creditor_name[128];
    char payments_iban[64];
    char payments_bic[16];
    unsigned payments_grace_days;
    char payments_reminder_fee[16];
    char payments_callback_secret[256];
    /* E-file (src/efile/efile.h). */
    char efile_reference_pattern[128];
    char efile_today[16]; /* "" or YYYY-MM-DD: the disposal clock (tests) */
    /* Form server (src/forms, docs/forms.md). */
    char forms_dir[KR_CONFIG_PATH_MAX]; /* "": share_dir/forms */
    unsigned forms_draft_ttl;           /* seconds */
    char forms_webhook_secret[256];
    char webhook_secret[256];           /* HMAC key of all webhooks (webhook.h) */
    unsigned webhook_purge_after;       /* seconds */
    char forms_clamd_socket[KR_CONFIG_PATH_MAX];
};

/* One documented key, for `kreisel help config`, the example file and
 * tests. */
struct kr_config_key_info {
    const char *name;
    const char *default_value;
    const char *doc;
};

/* The documented keys; *count gets their number. */
const struct kr_config_key_info *kr_config_keys(size_t *count);

/* Fill cfg with the defaults.  Cannot fail (a broken default is a bug and
 * asserts). */
void kr_config_defaults(struct kr_config *cfg);

/*
 * Set one key from text.  source names where the value came from, for the
 * message ("kreisel.conf:7", "KREISEL_PORT").  KR_ERR_CONFIG for an unknown
 * key or invalid value.
 */
int kr_config_set(struct kr_config *cfg, const char *source, const char *key, const char *value,
                  struct kr_error *err) KR_MUST_CHECK;

/* Read key = value lines from path.  KR_ERR_IO when it cannot be read,
 * KR_ERR_CONFIG for a syntax error, unknown or repeated key, bad value. */
int kr_config_read_file(struct kr_config *cfg, const char *path,
                        struct kr_error *err) KR_MUST_CHECK;

/* Apply KREISEL_<KEY> variables from the environment. */
int kr_config_read_env(struct kr_config *cfg, struct kr_error *err) KR_MUST_CHECK;

/*
 * The whole sequence: defaults, the file (explicit_path, or $KREISEL_CONFIG,
 * or ./kreisel.conf when present), environment, then derived values
 * (automatic threads and pool size, default database under data_dir).
 * *used_path gets the file read or "" (may be NULL).
 */
int kr_config_load(struct kr_config *cfg, const char *explicit_path, char *used_path,
                   size_t used_path_size, struct kr_error *err) KR_MUST_CHECK;

/* Parse "10.0.0.0/8" or "::1" into *net.  KR_OK or KR_ERR_INVALID. */
int kr_net_parse(const char *text, struct kr_net *net) KR_MUST_CHECK;

/* True if the textual IP address ip lies in one of nets[0..n). */
bool kr_net_contains(const struct kr_net *nets, size_t n, const char *ip);

#endif
