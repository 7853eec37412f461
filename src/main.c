/*
 * main.c - command-line dispatch: parse the command and its flags, set up
 * what it needs, run it.  Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include <libpq-fe.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "accounts/accounts.h"
#include "accounts/accounts_http.h"
#include "accounts/export.h"
#include "appointments/appointments.h"
#include "appointments/appointments_http.h"
#include "audit/audit.h"
#include "blob/blob.h"
#include "catalogue/catalogue.h"
#include "catalogue/catalogue_http.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "core/version.h"
#include "db/db.h"
#include "efile/efile.h"
#include "efile/efile_http.h"
#include "einvoice/einvoice.h"
#include "einvoice/einvoice_http.h"
#include "forms/forms.h"
#include "forms/forms_http.h"
#include "einvoice/einvoice_store.h"
#include "einvoice/einvoice_worker.h"
#include "http/server.h"
#include "intake/intake.h"
#include "mail/mail.h"
#include "mailbox/mailbox.h"
#include "mailbox/mailbox_http.h"
#include "webhook/webhook.h"
#include "workflow/workflow.h"
#include "notice/notice.h"
#include "workflow/workflow_http.h"
#include "payments/payments.h"
#include "payments/payments_http.h"
#include "pdf/pdf.h"
#include "oidc/oidc.h"
#include "portal/portal.h"
#include "template/template.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: kreisel [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  serve            run the web server (applies database migrations first)\n"
    "  migrate          apply database migrations and exit\n"
    "  seed-demo        set up the demo county \"Landkreis Musterland\" with an admin\n"
    "                   account (once; prints the admin password)\n"
    "  user add --login LOGIN --name NAME [--email ADDRESS] [--unit CODE]\n"
    "           [--role ROLE]... [--password-stdin]\n"
    "                   create a staff account; prints a generated password unless\n"
    "                   --password-stdin reads it from the first line of stdin.\n"
    "                   Roles: clerk, head_of_unit, cash_office, records_manager,\n"
    "                   procurement, admin\n"
    "  audit verify     check the audit log's hash chain (exit 1 when broken)\n"
    "  workflow check   validate the workflow definitions (share_dir/workflows)\n"
    "  workflow open WORKFLOW --email ADDRESS [--applicant ACCOUNT-ID] [--data JSON]\n"
    "                   open a case (paper intake); prints its number and secret\n"
    "  workflow deadlines [--at SECONDS]\n"
    "                   escalate overdue cases now (or as if it were Unix time\n"
    "                   SECONDS) and exit\n"
    "  mail send-test [--subject TEXT] [--text TEXT] [--attach FILE]...\n"
    "                 [--queue-only] ADDRESS\n"
    "                   queue a test message to ADDRESS and send it now through\n"
    "                   smtp_url; prints the result (exit 1 when not sent);\n"
    "                   --queue-only leaves the sending to `serve`\n"
    "  mail queue       the mail queue: queued, sent and failed counts, the oldest\n"
    "  invoice validate [--json] FILE...\n"
    "                   check e-invoices (XRechnung, EN 16931; UBL, CII or\n"
    "                   ZUGFeRD PDF): exit 0 when all are accepted, 1 when one is\n"
    "                   rejected, 2 when one cannot be read\n"
    "  invoice receive FILE...\n"
    "                   validate and store e-invoices for the approval workflow\n"
    "                   (duplicates are refused): exit 0 when all are stored as\n"
    "                   formally valid, 1 when one is rejected or a duplicate, 2\n"
    "                   when one cannot be read\n"
    "  invoice deadlines [--at SECONDS]\n"
    "                   mail the ordering units about e-invoice payment and\n"
    "                   Skonto deadlines now (or as if it were Unix time\n"
    "                   SECONDS), once each, and exit\n"
    "  catalogue import FILE\n"
    "                   import services (kreisel-catalogue/1) or search synonyms\n"
    "                   (kreisel-synonyms/1) from a JSON file, or changes of the\n"
    "                   essentials from a FILE.csv; exit 1 when a record was\n"
    "                   rejected (the others are stored)\n"
    "  catalogue export [--csv]\n"
    "                   print the catalogue as JSON, or its essentials as CSV\n"
    "  version          print the version\n"
    "  help [config]    this text, or the configuration keys\n"
    "\n"
    "The configuration is read from --config, $KREISEL_CONFIG or ./kreisel.conf;\n"
    "every key can be set as KREISEL_<KEY>.  See `kreisel help config`.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "kreisel: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage_text);
    return EXIT_USAGE;
}

static int fail(const struct kr_error *err)
{
    fprintf(stderr, "kreisel: %s\n", err->message);
    if (err->detail[0])
        fprintf(stderr, "  (%s)\n", err->detail);
    return EXIT_FAILURE;
}

/* ---- Shared set-up ---------------------------------------------------------- */

struct context {
    const char *config_path;
    struct kr_config cfg;
    struct db *db;
    struct blob_store *blobs; /* file contents, DATA_DIR/blobs; closed at exit */
};

/* The blob store of uploaded and generated files (blob.h). */
static int open_blobs(struct context *ctx, struct kr_error *err)
{
    char dir[KR_CONFIG_PATH_MAX + 8];
    int n = snprintf(dir, sizeof(dir), "%s/blobs", ctx->cfg.data_dir);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return kr_error_set(err, KR_ERR_CONFIG, "data_dir is too long");
    return ctx->blobs ? KR_OK : blob_store_open(dir, &ctx->blobs, err);
}

static int load_config(struct context *ctx, struct kr_error *err)
{
    int rc = kr_config_load(&ctx->cfg, ctx->config_path, NULL, 0, err);
    if (rc)
        return rc;
    kr_log_set_level(ctx->cfg.log_level);
    return KR_OK;
}

/* pool 0: the configured pool size (the server); commands need one. */
static int open_db(struct context *ctx, unsigned pool, struct kr_error *err)
{
    struct db_options opts = {.url = ctx->cfg.database,
                              .pool_size = pool ? pool : ctx->cfg.db_pool_size};
    return db_open(&ctx->db, &opts, err);
}

/* Commands other than serve and migrate need the schema of this binary. */
static int require_schema(struct context *ctx, struct kr_error *err)
{
    int version;
    int rc = db_schema_version(ctx->db, &version, err);
    if (rc)
        return rc;
    int latest = db_migrations[db_migrations_count - 1].version;
    if (version != latest)
        return kr_error_set(err, KR_ERR_CONFIG,
                            "the database schema is at version %d, this program needs %d: "
                            "run `kreisel migrate` first",
                            version, latest);
    return KR_OK;
}

static int setup(struct context *ctx, unsigned pool, bool check_schema, struct kr_error *err)
{
    int rc = kr_util_init();
    if (rc)
        return kr_error_set(err, rc, "cannot initialise libsodium");
    rc = load_config(ctx, err);
    if (rc == KR_OK)
        rc = open_db(ctx, pool, err);
    if (rc == KR_OK && check_schema)
        rc = require_schema(ctx, err);
    return rc;
}

/* Parse the flags every command accepts (--config) plus none else.
 * Returns -1 to go on, or an exit status. */
static int no_flags(struct context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c != 'c')
            return usage_error("invalid option for %s", argv[0]);
        ctx->config_path = optarg;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

/* ---- serve ------------------------------------------------------------------ */

/* Working days of workflow deadlines skip the public holidays of the
 * county's state (computed by the appointments calendar). */
static char holiday_state[4];

static bool state_holiday(int y, int m, int d, void *ctx)
{
    (void)ctx;
    return appointments_holiday(holiday_state, y, m, d) != NULL;
}

/* A service's "apply online" link: a form of the form server must be
 * loaded; links elsewhere are the county's business. */
static bool form_exists(const char *url)
{
    static const char prefix[] = "/formulare/";
    if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
        return true;
    return forms_find(forms_http_set(), url + sizeof(prefix) - 1) != NULL;
}

static int register_modules(struct context *ctx, struct http_server *server, struct kr_error *err)
{
    const struct kr_config *cfg = &ctx->cfg;
    int rc = portal_http_routes(server, err);
    if (rc == KR_OK)
        rc = accounts_http_routes(server, err);
    if (rc == KR_OK)
        rc = mailbox_http_routes(server, err);
    if (rc == KR_OK)
        rc = oidc_http_routes(server, cfg, err);
    if (rc == KR_OK)
        rc = einvoice_http_routes(server, cfg->einvoice_schema_dir, err);
    /* The sections of "download all data about me", one per module that
     * stores personal data. */
    if (rc == KR_OK && (accounts_export_register("mailbox", mailbox_export) != KR_OK ||
                        accounts_export_register("oidc", oidc_export) != KR_OK ||
                        accounts_export_register("payments", payments_export) != KR_OK))
        rc = kr_error_set(err, KR_ERR_INTERNAL, "too many export sections");
    if (rc == KR_OK)
        rc = catalogue_http_routes(server, cfg, ctx->db, err);
    catalogue_http_set_form_check(form_exists);
    if (rc == KR_OK)
        rc = appointments_http_routes(server, err);
    if (rc == KR_OK)
        rc = workflow_http_routes(server, err);
    if (rc == KR_OK)
        rc = payments_http_routes(server, cfg, err);
    if (rc == KR_OK)
        rc = efile_http_routes(server, cfg, err);
    if (rc == KR_OK && !appointments_state_valid(cfg->county_state))
        rc = kr_error_set(err, KR_ERR_CONFIG, "county_state: '%s' is not a German state code",
                          cfg->county_state);
    if (rc == KR_OK) {
        (void)snprintf(holiday_state, sizeof(holiday_state), "%s", cfg->county_state);
        workflow_set_holiday_fn(state_holiday, NULL);
    }
    if (rc == KR_OK)
        rc = forms_http_routes(server, cfg, ctx->db, err);
    if (rc == KR_OK) /* submissions of forms become cases of their workflow */
        rc = intake_register(cfg, err);
    if (rc == KR_OK) /* the notices' placeholders name fields of the forms */
        rc = intake_check(err);
    static bool webhook_metrics; /* once per process */
    if (rc == KR_OK && !webhook_metrics) {
        rc = http_metrics_source(webhook_metrics_prometheus);
        if (rc)
            kr_error_set(err, rc, "too many /metrics sources");
        webhook_metrics = rc == KR_OK;
    }
    return rc;
}

/* The workflow definitions of the share dir (start errors name file and
 * line), the actions they may name (notices, the e-file) and the
 * configuration the engine uses for links. */
static int load_workflows(struct context *ctx, struct kr_error *err)
{
    char dir[KR_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/workflows", ctx->cfg.share_dir);
    workflow_set_config(&ctx->cfg);
    int rc = open_blobs(ctx, err);
    if (rc == KR_OK)
        rc = intake_actions_register(&ctx->cfg, ctx->blobs, err);
    if (rc == KR_OK)
        rc = workflow_load_dir(dir, err);
    const char *hooked = rc == KR_OK ? workflow_first_webhook() : NULL;
    if (hooked && !webhook_secret_of(&ctx->cfg)[0])
        rc = kr_error_set(err, KR_ERR_CONFIG,
                          "%s: the action \"webhook\" needs webhook_secret to be set", hooked);
    return rc;
}

static void unload_workflows(void)
{
    workflow_unload();
    notice_unload();
}

/* What the modules hold for the process, after the server and its
 * threads have stopped; the PDF library's caches last. */
static void release_modules(void)
{
    einvoice_http_release();
    catalogue_http_shutdown();
    unload_workflows();
    forms_http_shutdown();
    pdf_shutdown();
}

static int run_server(struct context *ctx, const struct tpl_set *tpl, struct kr_error *err)
{
    struct http_server *server;
    struct mail_sender *mail = NULL;
    struct appointments_worker *appointments = NULL;
    struct workflow_scheduler *deadlines = NULL;
    struct efile_extractor *extractor = NULL;
    struct webhook_sender *webhooks = NULL;
    struct einvoice_worker *invoices = NULL;
    int rc = open_blobs(ctx, err);
    if (rc == KR_OK)
        rc = load_workflows(ctx, err);
    if (rc == KR_OK)
        rc = http_server_new(&server, &ctx->cfg, ctx->db, tpl, err);
    if (rc)
        return rc;
    http_server_set_blobs(server, ctx->blobs);
    rc = register_modules(ctx, server, err);
    if (rc == KR_OK)
        rc = mail_sender_start(&ctx->cfg, ctx->db, &mail, err);
    if (rc == KR_OK) /* releases unconfirmed bookings, sends reminders */
        rc = appointments_worker_start(&ctx->cfg, ctx->db, 30, &appointments, err);
    if (rc == KR_OK)
        rc = workflow_scheduler_start(&ctx->cfg, ctx->db, 60, &deadlines, err);
    if (rc == KR_OK)
        rc = efile_extractor_start(ctx->db, ctx->blobs, 10, &extractor, err);
    if (rc == KR_OK) /* directory intake, payment and Skonto deadlines */
        rc = einvoice_worker_start(&ctx->cfg, ctx->db, einvoice_http_validator(), workflow_now,
                                   &invoices, err);
    if (rc == KR_OK)
        rc = webhook_sender_start(&ctx->cfg, ctx->db, 2, &webhooks, err);
    if (rc == KR_OK)
        rc = http_server_start(server, err);
    if (rc) {
        appointments_worker_stop(appointments);
        workflow_scheduler_stop(deadlines);
        einvoice_worker_stop(invoices);
        efile_extractor_stop(extractor);
        webhook_sender_stop(webhooks);
        mail_sender_stop(mail);
        http_server_free(server);
        release_modules();
        return rc;
    }
    kr_log_json(KR_LOG_INFO, "server_started",
                json_pack("{s:s, s:i, s:s, s:s, s:s, s:i}", "listen", ctx->cfg.listen_host, "port",
                          (int)http_server_port(server), "public_url", ctx->cfg.public_url,
                          "backend", db_backend_name(ctx->db), "version", kr_version, "threads",
                          (int)ctx->cfg.threads));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    kr_log(KR_LOG_INFO, "server_stopping", "signal %d: finishing requests in flight", sig);
    http_server_stop(server);
    appointments_worker_stop(appointments);
    workflow_scheduler_stop(deadlines);
    einvoice_worker_stop(invoices); /* before the validator is released */
    mail_sender_stop(mail);         /* after the requests and workers that may queue mail */
    webhook_sender_stop(webhooks);  /* likewise for webhooks */
    efile_extractor_stop(extractor);
    http_server_free(server);
    release_modules();
    kr_log(KR_LOG_INFO, "server_stopped", "bye");
    return KR_OK;
}

static int cmd_serve(struct context *ctx, int argc, char **argv)
{
    int st = no_flags(ctx, argc, argv);
    if (st >= 0)
        return st;
    /* Block the stop signals before any thread starts, so that every thread
     * inherits the mask and only sigwait in this thread sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct kr_error err;
    kr_error_clear(&err);
    struct tpl_set *tpl = NULL;
    int rc = setup(ctx, 0, false, &err);
    int applied = 0;
    if (rc == KR_OK)
        rc = db_migrate(ctx->db, &applied, &err);
    if (rc == KR_OK) {
        char tdir[KR_CONFIG_PATH_MAX + 16], ldir[KR_CONFIG_PATH_MAX + 16];
        snprintf(tdir, sizeof(tdir), "%s/templates", ctx->cfg.share_dir);
        snprintf(ldir, sizeof(ldir), "%s/locales", ctx->cfg.share_dir);
        rc = tpl_set_load(&tpl, tdir, ldir, &err);
    }
    if (rc == KR_OK)
        rc = run_server(ctx, tpl, &err);
    if (rc)
        kr_log_error("server_failed", &err);
    tpl_set_free(tpl);
    return rc ? fail(&err) : EXIT_SUCCESS;
}

/* ---- migrate ------------------------------------------------------------------ */

static int cmd_migrate(struct context *ctx, int argc, char **argv)
{
    int st = no_flags(ctx, argc, argv);
    if (st >= 0)
        return st;
    struct kr_error err;
    kr_error_clear(&err);
    int applied = 0, version = 0;
    int rc = setup(ctx, 1, false, &err);
    if (rc == KR_OK)
        rc = db_migrate(ctx->db, &applied, &err);
    if (rc == KR_OK)
        rc = db_schema_version(ctx->db, &version, &err);
    if (rc)
        return fail(&err);
    printf("Database (%s) is at schema version %d; %d migration%s applied now.\n",
           db_backend_name(ctx->db), version, applied, applied == 1 ? "" : "s");
    return EXIT_SUCCESS;
}

/* ---- seed-demo ------------------------------------------------------------------- */

/* The demo county's organisation, numbered after the KGSt scheme that
 * German counties use for their offices (Aemter). */
static const struct {
    const char *parent, *kind, *code, *name, *name_en;
} demo_units[] = {
    {NULL, "county", "LK", "Landkreis Musterland", "District of Musterland"},
    {"LK", "department", "D1", "Dezernat I – Zentrale Verwaltung und Finanzen",
     "Department I – Central Administration and Finance"},
    {"D1", "office", "10", "Amt für Zentrale Dienste", "Central Services Office"},
    {"10", "section", "10.1", "Sachgebiet Personal", "Human Resources"},
    {"10", "section", "10.2", "Sachgebiet IT und Digitalisierung", "IT and Digitalisation"},
    {"D1", "office", "20", "Kämmerei", "Treasury"},
    {"20", "section", "20.1", "Kreiskasse", "County Cash Office"},
    {"LK", "department", "D2", "Dezernat II – Ordnung, Verkehr und Bauen",
     "Department II – Public Order, Transport and Building"},
    {"D1", "office", "80", "Wirtschaftsförderung", "Economic Development"},
    {"D2", "office", "32", "Ordnungsamt", "Public Order Office"},
    {"32", "section", "32.1", "Waffen- und Jagdrecht", "Weapons and Hunting"},
    {"32", "section", "32.2", "Gewerbe- und Gaststättenrecht", "Trade and Licensing"},
    {"D2", "office", "33", "Ausländerbehörde und Einbürgerung",
     "Immigration and Naturalisation Office"},
    {"D2", "office", "39", "Veterinär- und Lebensmittelüberwachungsamt",
     "Veterinary and Food Safety Office"},
    {"D2", "office", "36", "Straßenverkehrsamt", "Road Traffic Office"},
    {"36", "section", "36.1", "Zulassungsstelle", "Vehicle Registration"},
    {"36", "section", "36.2", "Führerscheinstelle", "Driving Licences"},
    {"D2", "office", "63", "Bauordnungsamt", "Building Control Office"},
    {"D2", "office", "70", "Umweltamt", "Environment Office"},
    {"LK", "department", "D3", "Dezernat III – Jugend, Soziales und Gesundheit",
     "Department III – Youth, Social Affairs and Health"},
    {"D3", "office", "40", "Schulverwaltungs- und Kulturamt", "Schools and Culture Office"},
    {"40", "section", "40.1", "Schülerbeförderung", "School Transport"},
    {"40", "section", "40.2", "Ausbildungsförderung (BAföG)", "Student Finance (BAföG)"},
    {"D3", "office", "50", "Sozialamt", "Social Welfare Office"},
    {"50", "section", "50.1", "Wohngeld", "Housing Benefit"},
    {"50", "section", "50.2", "Hilfe zur Pflege", "Care Assistance"},
    {"D3", "office", "51", "Jugendamt", "Youth Welfare Office"},
    {"51", "section", "51.1", "Kindertagesbetreuung", "Day Care"},
    {"51", "section", "51.2", "Elterngeldstelle", "Parental Allowance"},
    {"D3", "office", "53", "Gesundheitsamt", "Public Health Office"},
};

static int seed_units(struct db_conn *conn, struct arena *a, int64_t *it_unit, struct kr_error *err)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(demo_units); i++) {
        int64_t parent = 0, id;
        if (demo_units[i].parent) {
            struct account_org_unit p;
            int rc = accounts_org_unit_find(conn, a, demo_units[i].parent, &p, err);
            if (rc)
                return rc;
            parent = p.id;
        }
        int rc = accounts_org_unit_add(conn, "cli:seed-demo", parent, demo_units[i].kind,
                                       demo_units[i].code, demo_units[i].name,
                                       demo_units[i].name_en, &id, err);
        if (rc)
            return rc;
        if (strcmp(demo_units[i].code, "10.2") == 0)
            *it_unit = id;
    }
    return KR_OK;
}

/* Generated passwords of the demo's people, printed once. */
struct demo_passwords {
    char admin[21], clerk[21], citizen[21];
    int64_t citizen_id; /* for the demo cases */
};

/* A clerk of the vehicle registration and a citizen with a confirmed
 * account and a first message in the mailbox, so that the portal can be
 * tried at once (no mail server needed). */
static int seed_people(struct db_conn *conn, struct arena *a, const struct kr_config *cfg,
                       struct demo_passwords *pw, struct kr_error *err)
{
    struct account_org_unit unit;
    int rc = accounts_org_unit_find(conn, a, "36.1", &unit, err);
    accounts_password_generate(pw->clerk);
    struct account_new_user clerk = {.kind = "staff",
                                     .login = "k.zulassung",
                                     .email = "zulassung@landkreis-musterland.example",
                                     .display_name = "Karla Zulassung",
                                     .password = pw->clerk,
                                     .org_unit_id = unit.id,
                                     .roles = ACCOUNT_ROLE_CLERK};
    int64_t clerk_id = 0, citizen_id = 0, existing = 0, confirmed = 0;
    if (rc == KR_OK)
        rc = accounts_user_add(conn, "cli:seed-demo", &clerk, &clerk_id, err);
    accounts_password_generate(pw->citizen);
    struct account_registration erika = {"erika.mustermann@musterland.example", "Erika Mustermann",
                                         pw->citizen, NULL};
    char token[ACCOUNT_TOKEN_LEN];
    if (rc == KR_OK)
        rc = accounts_register(conn, &erika, &citizen_id, &existing, token, err);
    if (rc == KR_OK)
        rc = accounts_confirm(conn, token, &confirmed, err);
    struct mailbox_new welcome = {
        .account_id = citizen_id,
        .sender_id = clerk_id,
        .unit_id = unit.id,
        .subject = "Willkommen im Serviceportal",
        .body = "Guten Tag Frau Mustermann,\n\nin diesem Postfach erhalten Sie Nachrichten und "
                "Bescheide des Landkreises. Sie können hier auch antworten.\n\nMit freundlichen "
                "Grüßen\nIhre Zulassungsstelle",
    };
    if (rc == KR_OK)
        rc = mailbox_send(conn, cfg, &welcome, NULL, err);
    pw->citizen_id = citizen_id;
    if (rc == KR_OK)
        rc = payments_seed_demo(conn, citizen_id, "Erika Mustermann", err);
    return rc;
}

static int seed(struct db_conn *conn, const struct kr_config *cfg, struct demo_passwords *pw,
                struct kr_error *err)
{
    char *password = pw->admin;
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int64_t it_unit = 0;
    int rc = db_begin(conn, err);
    if (rc == KR_OK)
        rc = seed_units(conn, a, &it_unit, err);
    if (rc == KR_OK) {
        accounts_password_generate(password);
        struct account_new_user admin = {.kind = "staff",
                                         .login = "admin",
                                         .email = "it@landkreis-musterland.example",
                                         .display_name = "Administrator",
                                         .password = password,
                                         .org_unit_id = it_unit,
                                         .roles = ACCOUNT_ROLE_ADMIN};
        rc = accounts_user_add(conn, "cli:seed-demo", &admin, NULL, err);
    }
    if (rc == KR_OK)
        rc = seed_people(conn, a, cfg, pw, err);
    /* The Leitweg-IDs of the demo invoices: IT buys, IT checks the facts. */
    static const char *const leitweg[] = {"04011000-12345-34", "04011000-12345-67",
                                          "90000000-03083-12"};
    for (size_t i = 0; rc == KR_OK && i < KR_ARRAY_LEN(leitweg); i++)
        rc = einvoice_leitweg_set(conn, "cli:seed-demo", leitweg[i], it_unit, err);
    if (rc == KR_OK)
        rc = appointments_seed_demo(conn, err);
    if (rc == KR_OK)
        rc = db_commit(conn, err);
    if (rc)
        db_rollback(conn);
    arena_free(a);
    return rc;
}

static int import_file(struct db_conn *conn, const char *path, const char *actor,
                       struct kr_error *err);

/* The demo catalogue and its search synonyms, from the share dir. */
static int seed_catalogue(struct context *ctx, struct db_conn *conn, struct kr_error *err)
{
    static const char *const files[] = {"synonyms.json", "services.json"};
    for (size_t i = 0; i < KR_ARRAY_LEN(files); i++) {
        char path[KR_CONFIG_PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/data/catalogue/%s", ctx->cfg.share_dir, files[i]);
        int rc = import_file(conn, path, "cli:seed-demo", err);
        if (rc)
            return rc;
    }
    return KR_OK;
}

static int cmd_seed_demo(struct context *ctx, int argc, char **argv)
{
    int st = no_flags(ctx, argc, argv);
    if (st >= 0)
        return st;
    struct kr_error err;
    kr_error_clear(&err);
    int rc = setup(ctx, 1, true, &err);
    struct db_conn *conn = NULL;
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    struct arena *a = arena_new(0);
    char *county = NULL;
    if (rc == KR_OK && a && accounts_county_name(conn, a, "de", &county, &err) == KR_OK) {
        printf("The county \"%s\" is set up already; nothing to do.\n", county);
        arena_free(a);
        db_release(conn);
        return EXIT_SUCCESS;
    }
    arena_free(a);
    struct demo_passwords pw;
    if (rc == KR_OK)
        rc = seed(conn, &ctx->cfg, &pw, &err);
    if (rc) {
        db_release(conn);
        return fail(&err);
    }
    printf("Set up the demo county \"Landkreis Musterland\" with %zu organisation units.\n"
           "Administrator account:\n"
           "  login:    admin\n"
           "  password: %s\n"
           "A clerk of the vehicle registration (36.1):\n"
           "  login:    k.zulassung\n"
           "  password: %s\n"
           "A citizen with a service account and a first message in the mailbox:\n"
           "  login:    erika.mustermann@musterland.example\n"
           "  password: %s\n"
           "These passwords are shown only now. Keep them safe or create another admin\n"
           "with `kreisel user add --role admin`.\n",
           KR_ARRAY_LEN(demo_units), pw.admin, pw.clerk, pw.citizen);
    rc = seed_catalogue(ctx, conn, &err);
    if (rc == KR_OK)
        rc = load_workflows(ctx, &err);
    if (rc == KR_OK)
        rc = efile_seed_demo(conn, ctx->cfg.share_dir, &err); /* the file plan */
    if (rc == KR_OK)
        rc = workflow_seed_demo(conn, &ctx->cfg, pw.citizen_id, &err);
    db_release(conn);
    return rc ? fail(&err) : EXIT_SUCCESS;
}

/* ---- user add ---------------------------------------------------------------------- */

static int read_password_line(char *out, size_t size, struct kr_error *err)
{
    if (!fgets(out, (int)size, stdin))
        return kr_error_set(err, KR_ERR_INVALID, "no password on stdin");
    size_t len = strlen(out);
    if (len && out[len - 1] == '\n')
        out[--len] = '\0';
    else if (len == size - 1)
        return kr_error_set(err, KR_ERR_INVALID, "the password is too long");
    if (len && out[len - 1] == '\r')
        out[--len] = '\0';
    return KR_OK;
}

struct user_args {
    struct account_new_user u;
    const char *unit;
    bool password_stdin;
};

static int parse_user_args(struct context *ctx, int argc, char **argv, struct user_args *ua)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"login", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'n'},     {"email", required_argument, NULL, 'e'},
        {"unit", required_argument, NULL, 'u'},     {"role", required_argument, NULL, 'r'},
        {"password-stdin", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        enum account_role role;
        switch (c) {
        case 'c': ctx->config_path = optarg; break;
        case 'l': ua->u.login = optarg; break;
        case 'n': ua->u.display_name = optarg; break;
        case 'e': ua->u.email = optarg; break;
        case 'u': ua->unit = optarg; break;
        case 'p': ua->password_stdin = true; break;
        case 'r':
            if (account_role_parse(optarg, &role))
                return usage_error("unknown role '%s'", optarg);
            ua->u.roles |= (unsigned)role;
            break;
        default: return usage_error("invalid option for %s", "user add");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!ua->u.login || !ua->u.display_name)
        return usage_error("%s needs --login and --name", "user add");
    return -1;
}

static int cmd_user(struct context *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "add") != 0)
        return usage_error("unknown user command '%s'", argc < 2 ? "" : argv[1]);
    struct user_args ua = {.u = {.kind = "staff"}};
    int st = parse_user_args(ctx, argc - 1, argv + 1, &ua);
    if (st >= 0)
        return st;
    struct kr_error err;
    kr_error_clear(&err);
    char password[ACCOUNT_PASSWORD_MAX + 2];
    int rc = KR_OK;
    if (ua.password_stdin)
        rc = read_password_line(password, sizeof(password), &err);
    else
        accounts_password_generate(password);
    ua.u.password = password;
    if (rc == KR_OK)
        rc = setup(ctx, 1, true, &err);
    struct db_conn *conn = NULL;
    struct arena *a = arena_new(0);
    if (rc == KR_OK)
        rc = a ? db_acquire(ctx->db, &conn, &err) : KR_ERR_NOMEM;
    struct account_org_unit unit;
    if (rc == KR_OK && ua.unit) {
        rc = accounts_org_unit_find(conn, a, ua.unit, &unit, &err);
        ua.u.org_unit_id = unit.id;
    }
    int64_t id = 0;
    if (rc == KR_OK)
        rc = accounts_user_add(conn, "cli", &ua.u, &id, &err);
    db_release(conn);
    arena_free(a);
    if (rc)
        return fail(&err);
    printf("Created staff account '%s' (id %lld).\n", ua.u.login, (long long)id);
    if (!ua.password_stdin)
        printf("Password (shown only now): %s\n", password);
    return EXIT_SUCCESS;
}

/* ---- audit verify -------------------------------------------------------------------- */

static int cmd_audit(struct context *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        return usage_error("unknown audit command '%s'", argc < 2 ? "" : argv[1]);
    int st = no_flags(ctx, argc - 1, argv + 1);
    if (st >= 0)
        return st;
    struct kr_error err;
    kr_error_clear(&err);
    int rc = setup(ctx, 1, true, &err);
    struct audit_verify_result res;
    if (rc == KR_OK)
        rc = audit_verify(ctx->db, &res, &err);
    if (rc == KR_ERR_INTEGRITY) {
        printf("Audit log BROKEN at entry %lld: %s\n(%lld entries checked before it)\n",
               (long long)res.first_bad, res.reason, (long long)res.checked);
        return EXIT_FAILURE;
    }
    if (rc)
        return fail(&err);
    printf("Audit log intact: %lld entries, hash chain verified.\n", (long long)res.checked);
    return EXIT_SUCCESS;
}

/* ---- files named on the command line -------------------------------------------------- */

/* ---- mail send-test, mail queue ------------------------------------------------------ */

struct send_test_args {
    const char *address, *subject, *text;
    const char *files[MAIL_ATTACHMENTS_MAX + 1];
    size_t file_count;
    bool queue_only;
};

static int parse_send_test(struct context *ctx, int argc, char **argv, struct send_test_args *t)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"subject", required_argument, NULL, 's'},
        {"text", required_argument, NULL, 't'},   {"attach", required_argument, NULL, 'a'},
        {"queue-only", no_argument, NULL, 'q'},   {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c': ctx->config_path = optarg; break;
        case 's': t->subject = optarg; break;
        case 't': t->text = optarg; break;
        case 'q': t->queue_only = true; break;
        case 'a':
            if (t->file_count == MAIL_ATTACHMENTS_MAX)
                return usage_error("%s", "too many --attach");
            t->files[t->file_count++] = optarg;
            break;
        default: return usage_error("invalid option for %s", "mail send-test");
        }
    }
    if (argc - optind != 1)
        return usage_error("%s", "mail send-test needs exactly one ADDRESS");
    t->address = argv[optind];
    return -1;
}

/* The content type of an attachment, from its file name's extension. */
static const char *guess_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".pdf", "application/pdf"}, {".txt", "text/plain; charset=utf-8"},
                 {".ics", "text/calendar"},   {".xml", "application/xml"},
                 {".png", "image/png"},       {".jpg", "image/jpeg"},
                 {".zip", "application/zip"}, {".json", "application/json"}};
    size_t len = strlen(path);
    for (size_t i = 0; i < KR_ARRAY_LEN(types); i++) {
        size_t n = strlen(types[i].ext);
        if (len > n && strcasecmp(path + len - n, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* Read path (at most max bytes) into a->data (malloc, the caller frees). */
static int read_attachment(const char *path, size_t max, struct mail_attachment *a,
                           struct kr_error *err)
{
    char *data;
    int rc = kr_read_file(path, max, &data, &a->len, err);
    if (rc)
        return rc;
    const char *slash = strrchr(path, '/');
    a->filename = slash ? slash + 1 : path;
    a->content_type = guess_type(path);
    a->data = data;
    return KR_OK;
}

static int queue_test(struct context *ctx, const struct send_test_args *t, struct db_conn *conn,
                      int64_t *id, struct kr_error *err)
{
    struct mail_attachment att[MAIL_ATTACHMENTS_MAX];
    size_t n = 0;
    int rc = KR_OK;
    for (; rc == KR_OK && n < t->file_count; n++)
        rc = read_attachment(t->files[n], ctx->cfg.mail_max_bytes, &att[n], err);
    if (rc)
        n--; /* the one that failed holds nothing */
    struct mail_message m = {
        .to = t->address,
        .subject = t->subject ? t->subject : "Kreisel: Testnachricht (test message)",
        .text = t->text ? t->text
                        : "Diese Nachricht prüft den Versand von E-Mails aus Kreisel "
                          "(`kreisel mail send-test`).\n\n"
                          "This message tests sending e-mail from Kreisel.\n",
        .attachments = att,
        .attachment_count = n};
    if (rc == KR_OK)
        rc = mail_enqueue(conn, &m, id, err);
    for (size_t i = 0; i < n; i++)
        if (att[i].len)
            free((void *)(uintptr_t)att[i].data);
    return rc;
}

static int mail_send_test(struct context *ctx, const struct send_test_args *t)
{
    struct kr_error err;
    kr_error_clear(&err);
    if (mail_address_check(t->address, &err) != KR_OK)
        return usage_error("invalid address: %s", err.message);
    int rc = setup(ctx, 1, true, &err);
    if (rc)
        return fail(&err);
    if (!ctx->cfg.smtp_url[0] && !t->queue_only) {
        fprintf(stderr, "kreisel: smtp_url is not set; nothing can be sent\n");
        return EXIT_FAILURE;
    }
    if (mail_check_config(&ctx->cfg, &err) != KR_OK)
        return fail(&err);
    mail_set_config(&ctx->cfg);
    struct db_conn *conn = NULL;
    int64_t id = 0;
    const char *status = NULL;
    char error[800] = "";
    rc = db_acquire(ctx->db, &conn, &err);
    if (rc == KR_OK)
        rc = queue_test(ctx, t, conn, &id, &err);
    if (rc == KR_OK && !t->queue_only)
        rc = mail_send_one(conn, &ctx->cfg, id, &status, error, sizeof(error), &err);
    db_release(conn);
    mail_set_config(NULL);
    if (rc == KR_ERR_INVALID)
        return usage_error("%s", err.message);
    if (rc)
        return fail(&err);
    if (t->queue_only) {
        printf("Queued test message %lld to %s.\n", (long long)id, t->address);
        return EXIT_SUCCESS;
    }
    if (strcmp(status, "sent") == 0) {
        printf("Sent test message %lld to %s through %s.\n", (long long)id, t->address,
               ctx->cfg.smtp_url);
        return EXIT_SUCCESS;
    }
    printf("Test message %lld NOT sent (%s): %s\n", (long long)id,
           strcmp(status, "queued") == 0 ? "queued, will be retried" : "failed", error);
    return EXIT_FAILURE;
}

static void print_time(const char *label, int64_t t)
{
    char when[32];
    kr_time_format_rfc3339(t, when, sizeof(when));
    printf("%s%s", label, when);
}

static int mail_queue(struct context *ctx)
{
    struct kr_error err;
    kr_error_clear(&err);
    int rc = setup(ctx, 1, true, &err);
    struct db_conn *conn = NULL;
    struct mail_queue_stats st;
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    if (rc == KR_OK)
        rc = mail_queue_stats(conn, &st, &err);
    db_release(conn);
    if (rc)
        return fail(&err);
    printf("queued: %lld\nsent:   %lld\nfailed: %lld\n", (long long)st.queued, (long long)st.sent,
           (long long)st.failed);
    if (st.queued) {
        printf("oldest queued: %lld", (long long)st.oldest_queued_id);
        print_time(", since ", st.oldest_queued_at);
        print_time("\nnext attempt:  ", st.next_attempt_at);
        printf("\nlast error:    %s\n", st.oldest_error[0] ? st.oldest_error : "(none yet)");
    }
    if (!ctx->cfg.smtp_url[0])
        printf("smtp_url is not set: mail is queued but not sent.\n");
    return EXIT_SUCCESS;
}

static int cmd_mail(struct context *ctx, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "mail needs a command: send-test ADDRESS, queue");
    const char *sub = argv[1];
    if (strcmp(sub, "send-test") == 0) {
        struct send_test_args t = {0};
        int st = parse_send_test(ctx, argc - 1, argv + 1, &t);
        return st >= 0 ? st : mail_send_test(ctx, &t);
    }
    if (strcmp(sub, "queue") == 0) {
        int st = no_flags(ctx, argc - 1, argv + 1);
        return st >= 0 ? st : mail_queue(ctx);
    }
    return usage_error("unknown mail command '%s'", sub);
}

/* ---- workflow ------------------------------------------------------------------------ */

/* `workflow check` validates the definitions; `workflow deadlines [--at
 * UNIX-SECONDS]` escalates overdue cases now, or as if the clock were at
 * the given time (the injectable clock of the integration tests). */
/* `workflow open WORKFLOW --email ADDRESS [--applicant ID] [--data JSON]`:
 * a case from paper intake; prints the number and the status secret. */
static int workflow_open_cli(struct context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"email", required_argument, NULL, 'e'},
                                         {"applicant", required_argument, NULL, 'a'},
                                         {"data", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    struct workflow_case_new in = {.data = "{}", .actor = "cli"};
    int c;
    optind = 0; /* GNU: re-initialise, this call permutes */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            ctx->config_path = optarg;
        else if (c == 'e')
            in.applicant_email = optarg;
        else if (c == 'd')
            in.data = optarg;
        else if (c != 'a' || kr_parse_int64(optarg, 1, INT64_MAX, &in.applicant_id) != KR_OK)
            return usage_error("%s", "invalid option for workflow open");
    }
    if (optind + 1 != argc)
        return usage_error("%s", "workflow open needs one WORKFLOW id");
    in.workflow = argv[optind];
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn = NULL;
    int rc = setup(ctx, 1, true, &err);
    if (rc == KR_OK)
        rc = load_workflows(ctx, &err);
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    int64_t id;
    char number[WORKFLOW_NUMBER_LEN], secret[WORKFLOW_SECRET_LEN];
    if (rc == KR_OK)
        rc = workflow_case_open(conn, &in, &id, number, secret, &err);
    db_release(conn);
    unload_workflows();
    if (rc)
        return fail(&err);
    printf("case: %s\nsecret: %s\n", number, secret[0] ? secret : "-");
    return EXIT_SUCCESS;
}

static int cmd_workflow(struct context *ctx, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "open") == 0)
        return workflow_open_cli(ctx, argc - 1, argv + 1);
    if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "deadlines") != 0))
        return usage_error("%s", "workflow needs a command: check, deadlines [--at SECONDS]");
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"at", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    int64_t at = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
        if (c == 'c')
            ctx->config_path = optarg;
        else if (c != 'a' || kr_parse_int64(optarg, 1, INT64_MAX, &at) != KR_OK)
            return usage_error("%s", "invalid option for workflow (--at takes Unix seconds)");
    }
    struct kr_error err;
    kr_error_clear(&err);
    bool check = strcmp(argv[1], "check") == 0;
    int rc = setup(ctx, 1, !check, &err);
    if (rc == KR_OK)
        rc = load_workflows(ctx, &err);
    size_t n = 0;
    (void)workflow_list(&n);
    if (rc == KR_OK && check) {
        printf("%zu workflow definitions are valid.\n", n);
        unload_workflows();
        return EXIT_SUCCESS;
    }
    struct db_conn *conn = NULL;
    unsigned escalated = 0;
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    if (rc == KR_OK)
        rc = workflow_check_deadlines(conn, &ctx->cfg, at ? at : kr_now(), &escalated, &err);
    db_release(conn);
    unload_workflows();
    if (rc)
        return fail(&err);
    printf("%u overdue case%s escalated.\n", escalated, escalated == 1 ? "" : "s");
    return EXIT_SUCCESS;
}

/* ---- invoice validate ------------------------------------------------------------------ */

/* Read an invoice file; NULL with the reason in why. */
static char *read_invoice(const char *path, size_t *len, char *why, size_t why_size)
{
    char *data = NULL;
    struct kr_error err;
    if (kr_read_file(path, EINVOICE_MAX_SIZE, &data, len, &err) != KR_OK) {
        snprintf(why, why_size, "%s", err.message);
        return NULL;
    }
    return data;
}

/* Validate one file; returns its exit status (0, 1, 2).  Appends to json
 * when given, else prints the text report. */
static int validate_file(struct einvoice_validator *v, const char *path, json_t *json)
{
    char why[256];
    size_t len = 0;
    char *data = read_invoice(path, &len, why, sizeof(why));
    struct arena *a = arena_new(0);
    struct einvoice_report *r = NULL, unread = {.verdict = EINVOICE_UNREADABLE, .reason = why};
    struct kr_error err;
    kr_error_clear(&err);
    if (!a || (data && einvoice_validate(v, a, data, len, &r, &err)))
        snprintf(why, sizeof(why), "out of memory");
    if (!r)
        r = &unread;
    int st = r->verdict == EINVOICE_ACCEPT ? 0 : r->verdict == EINVOICE_REJECT ? 1 : 2;
    if (json) {
        json_t *o = einvoice_report_json(r);
        json_object_set_new(o, "file", json_string(path));
        json_array_append_new(json, o);
    } else {
        struct buf out;
        buf_init(&out, 16 * 1024 * 1024);
        (void)einvoice_report_text(r, path, &out);
        fputs(buf_cstr(&out), stdout);
        buf_release(&out);
    }
    arena_free(a);
    free(data);
    return st;
}

/* Store one file; returns its exit status (0, 1, 2). */
static int receive_file(struct context *ctx, struct db_conn *conn, struct einvoice_validator *v,
                        const char *path)
{
    (void)ctx;
    char why[256];
    size_t len = 0;
    char *data = read_invoice(path, &len, why, sizeof(why));
    if (!data) {
        printf("%s: UNREADABLE: %s\n", path, why);
        return 2;
    }
    struct arena *a = arena_new(0);
    struct einvoice_received got;
    struct kr_error err;
    kr_error_clear(&err);
    int rc = a ? einvoice_receive(conn, v, a, "cli", "cli", data, len, &got, &err) : KR_ERR_NOMEM;
    int st = 0;
    if (rc == KR_OK) {
        printf("%s: stored as invoice %lld (%s)\n", path, (long long)got.id, got.status);
        st = strcmp(got.status, "rejected") == 0;
    } else {
        printf("%s: %s: %s\n", path, rc == KR_ERR_CONFLICT ? "DUPLICATE" : "NOT STORED",
               err.message);
        st = rc == KR_ERR_CONFLICT ? 1 : 2;
    }
    arena_free(a);
    free(data);
    return st;
}

static int cmd_invoice_receive(struct context *ctx, int argc, char **argv)
{
    int st = 0;
    optind = 1;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c != 'c')
            return usage_error("invalid option for %s", "invoice receive");
        ctx->config_path = optarg;
    }
    if (optind >= argc)
        return usage_error("%s needs at least one FILE", "invoice receive");
    struct kr_error err;
    kr_error_clear(&err);
    struct einvoice_validator *v = NULL;
    struct db_conn *conn = NULL;
    int rc = setup(ctx, 1, true, &err);
    if (rc == KR_OK)
        rc = einvoice_validator_new(ctx->cfg.einvoice_schema_dir, &v, &err);
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    for (int i = optind; rc == KR_OK && i < argc; i++) {
        int one = receive_file(ctx, conn, v, argv[i]);
        st = one > st ? one : st;
    }
    db_release(conn);
    einvoice_validator_free(v);
    return rc ? fail(&err) : st;
}

/* invoice deadlines [--at SECONDS]: what the worker of `serve` does
 * every interval, once, with the clock given (as `workflow deadlines`). */
static int cmd_invoice_deadlines(struct context *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"at", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    int64_t at = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'c')
            ctx->config_path = optarg;
        else if (c != 'a' || kr_parse_int64(optarg, 1, INT64_MAX, &at) != KR_OK)
            return usage_error("%s", "invalid option for invoice deadlines (--at takes Unix "
                                     "seconds)");
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    struct kr_error err;
    kr_error_clear(&err);
    struct db_conn *conn = NULL;
    unsigned escalated = 0;
    int rc = setup(ctx, 1, true, &err);
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    if (rc == KR_OK)
        rc = einvoice_check_deadlines(conn, &ctx->cfg, at ? at : kr_now(), &escalated, &err);
    db_release(conn);
    if (rc)
        return fail(&err);
    printf("%u invoice deadline%s escalated.\n", escalated, escalated == 1 ? "" : "s");
    return EXIT_SUCCESS;
}

static int cmd_invoice(struct context *ctx, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "receive") == 0)
        return cmd_invoice_receive(ctx, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "deadlines") == 0)
        return cmd_invoice_deadlines(ctx, argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "validate") != 0)
        return usage_error("unknown invoice command '%s'", argc < 2 ? "" : argv[1]);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
        if (c == 'c')
            ctx->config_path = optarg;
        else if (c == 'j')
            as_json = true;
        else
            return usage_error("invalid option for %s", "invoice validate");
    }
    if (optind >= argc - 1)
        return usage_error("%s needs at least one FILE", "invoice validate");
    struct kr_error err;
    kr_error_clear(&err);
    struct einvoice_validator *v = NULL;
    int rc = load_config(ctx, &err);
    if (rc == KR_OK)
        rc = einvoice_validator_new(ctx->cfg.einvoice_schema_dir, &v, &err);
    if (rc) { /* a configuration error: nothing could be read */
        (void)fail(&err);
        return EXIT_USAGE;
    }
    json_t *json = as_json ? json_array() : NULL;
    int worst = 0;
    for (int i = optind + 1; i < argc; i++) {
        int st = validate_file(v, argv[i], json);
        worst = st > worst ? st : worst;
    }
    if (json) {
        char *text = json_dumps(json, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
        json_decref(json);
    }
    einvoice_validator_free(v);
    return worst;
}

/* ---- catalogue import / export ---------------------------------------------------------- */

/* Import path; prints the result.  Returns KR_OK, KR_ERR_INVALID when
 * records were rejected (the others are stored), or the error. */
static int import_file(struct db_conn *conn, const char *path, const char *actor,
                       struct kr_error *err)
{
    char *text;
    size_t len;
    int rc = kr_read_file(path, CATALOGUE_IMPORT_MAX, &text, &len, err);
    if (rc)
        return rc;
    struct arena *a = arena_new(0);
    struct catalogue_import_result res;
    size_t plen = strlen(path);
    bool csv = plen > 4 && strcmp(path + plen - 4, ".csv") == 0;
    rc = !a    ? KR_ERR_NOMEM
         : csv ? catalogue_import_csv(conn, a, actor, text, len, &res, err)
               : catalogue_import(conn, a, actor, text, len, &res, err);
    free(text);
    if (rc) {
        kr_error_prefix(err, "%s", path);
        arena_free(a);
        return rc;
    }
    if (res.synonym_groups)
        printf("%s: %zu synonym groups %s.\n", path, res.synonym_groups,
               res.unchanged ? "unchanged" : "stored");
    else
        printf("%s: %zu created, %zu updated, %zu unchanged, %zu rejected.\n", path, res.created,
               res.updated, res.unchanged, res.rejected_count);
    for (size_t i = 0; i < res.rejected_count; i++)
        printf("  rejected %s%zu%s%s%s%s: %s\n", res.lines ? "line " : "services[",
               res.rejected[i].index, res.lines ? "" : "]", res.rejected[i].id ? " (" : "",
               res.rejected[i].id ? res.rejected[i].id : "", res.rejected[i].id ? ")" : "",
               res.rejected[i].reason);
    rc = res.rejected_count ? kr_error_set(err, KR_ERR_INVALID, "%s: %zu record%s rejected", path,
                                           res.rejected_count, res.rejected_count == 1 ? "" : "s")
                            : KR_OK;
    arena_free(a);
    return rc;
}

static int catalogue_export(struct db_conn *conn, bool csv, struct kr_error *err)
{
    struct buf out;
    buf_init(&out, (size_t)1 << 30);
    int rc = csv ? catalogue_export_csv(conn, &out, err) : catalogue_export_json(conn, &out, err);
    if (rc == KR_OK && fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len)
        rc = kr_error_set(err, KR_ERR_IO, "cannot write the export");
    buf_release(&out);
    return rc;
}

static int cmd_catalogue(struct context *ctx, int argc, char **argv)
{
    bool import = argc >= 2 && strcmp(argv[1], "import") == 0;
    bool export = argc >= 2 && strcmp(argv[1], "export") == 0;
    if (!import && !export)
        return usage_error("unknown catalogue command '%s'", argc < 2 ? "" : argv[1]);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"csv", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    bool csv = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
        if (c == 'c')
            ctx->config_path = optarg;
        else if (c == 'v' && export)
            csv = true;
        else
            return usage_error("invalid option for catalogue %s", argv[1]);
    }
    int rest = argc - 1 - optind;
    if (import && rest != 1)
        return usage_error("%s", "catalogue import needs exactly one FILE");
    if (export && rest != 0)
        return usage_error("unexpected argument '%s'", argv[1 + optind]);
    struct kr_error err;
    kr_error_clear(&err);
    int rc = setup(ctx, 1, true, &err);
    struct db_conn *conn = NULL;
    if (rc == KR_OK)
        rc = db_acquire(ctx->db, &conn, &err);
    if (rc == KR_OK)
        rc = import ? import_file(conn, argv[1 + optind], "cli", &err)
                    : catalogue_export(conn, csv, &err);
    db_release(conn);
    return rc ? fail(&err) : EXIT_SUCCESS;
}

/* ---- version, help ------------------------------------------------------------------------ */

static int cmd_version(struct context *ctx, int argc, char **argv)
{
    int st = no_flags(ctx, argc, argv);
    if (st >= 0)
        return st;
    printf("kreisel %s (revision %s; SQLite %s, libpq %d, libmicrohttpd %s)\n", kr_version,
           kr_revision, sqlite3_libversion(), PQlibVersion(), MHD_get_version());
    return EXIT_SUCCESS;
}

static int cmd_help(struct context *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc == 2 && strcmp(argv[1], "config") == 0) {
        size_t n;
        const struct kr_config_key_info *keys = kr_config_keys(&n);
        for (size_t i = 0; i < n; i++) {
            char var[64];
            size_t k = 0;
            for (const char *p = keys[i].name; *p && k + 1 < sizeof(var); p++)
                var[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
            var[k] = '\0';
            printf("%s = %s\n    %s\n    (environment: KREISEL_%s)\n\n", keys[i].name,
                   keys[i].default_value, keys[i].doc, var);
        }
        return EXIT_SUCCESS;
    }
    if (argc > 1)
        return usage_error("unknown help topic '%s'", argv[1]);
    fputs(usage_text, stdout);
    return EXIT_SUCCESS;
}

static const struct {
    const char *name;
    int (*fn)(struct context *ctx, int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},       {"migrate", cmd_migrate},     {"seed-demo", cmd_seed_demo},
    {"user", cmd_user},         {"audit", cmd_audit},         {"mail", cmd_mail},
    {"invoice", cmd_invoice},   {"catalogue", cmd_catalogue}, {"version", cmd_version},
    {"workflow", cmd_workflow}, {"help", cmd_help},
};

int main(int argc, char **argv)
{
    /* Dates on pages are the county's local time; logs and the database
     * stay in UTC.  An operator's TZ wins. */
    if (!getenv("TZ"))
        setenv("TZ", "Europe/Berlin", 0);
    tzset();
    /* SQLite frees its statement journals after every statement; with
     * glibc's default 128 KiB trim threshold each free shrinks and the next
     * statement regrows the heap (brk plus a TLB flush on every CPU), which
     * made a 100,000-entry bank statement import 30x slower.  Keep up to
     * 64 MiB of free heap instead (bench/payments). */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    struct context ctx = {0};
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'c')
            ctx.config_path = optarg;
        else if (c == 'h')
            return cmd_help(&ctx, 1, argv);
        else if (c == 'v')
            return cmd_version(&ctx, 1, argv);
        else
            return usage_error("%s", "invalid option");
    }
    if (optind >= argc)
        return usage_error("%s", "no command given");
    for (size_t i = 0; i < KR_ARRAY_LEN(commands); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int rc = commands[i].fn(&ctx, argc - optind, argv + optind);
            db_free(ctx.db);
            blob_store_close(ctx.blobs);
            return rc;
        }
    }
    return usage_error("unknown command '%s'", argv[optind]);
}
