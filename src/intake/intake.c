/*
 * intake.c - submissions become cases (see intake.h).
 */
#include "intake/intake.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "forms/forms.h"
#include "intake/intake_internal.h"
#include "mail/mail.h"
#include "payments/payments.h"
#include "workflow/workflow.h"

static const struct kr_config *intake_cfg;

/* The applicant's address among the answers: "email", else the first
 * top-level field whose name ends in "_email".  NULL when none. */
static const char *answer_email(json_t *answers)
{
    const char *v = json_string_value(json_object_get(answers, "email"));
    if (v && *v)
        return v;
    const char *key;
    json_t *val;
    json_object_foreach(answers, key, val)
    {
        size_t n = strlen(key);
        if (n > 6 && strcmp(key + n - 6, "_email") == 0 && json_is_string(val) &&
            *json_string_value(val))
            return json_string_value(val);
    }
    return NULL;
}

const char *intake_debtor_name(json_t *answers, const char *email)
{
    static const char *const keys[] = {"name", "applicant_name", "last_name", "client_name",
                                       "parent_name"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = json_string_value(json_object_get(answers, keys[i]));
        if (v && *v)
            return v;
    }
    return email && *email ? email : "Antragsteller/in";
}

/* The fee of the submission as a receivable of the case (Kassenzeichen in
 * kz, "" when the form computed no fee). */
static int fee_receivable(struct db_conn *conn, const struct forms_submission *s, json_t *answers,
                          const char *email, const char *number, char kz[PAYMENTS_KZ_SIZE],
                          struct kr_error *err)
{
    kz[0] = '\0';
    if (s->fee_cents <= 0)
        return KR_OK;
    char purpose[80], name[141];
    (void)snprintf(purpose, sizeof(purpose), "Gebuehr Antrag %s", number);
    (void)snprintf(name, sizeof(name), "%s", intake_debtor_name(answers, email));
    struct payments_new_receivable nr = {.debtor_name = name,
                                         .debtor_account_id = s->user_id,
                                         .purpose = purpose,
                                         .amount_cents = s->fee_cents,
                                         .case_ref = number};
    int64_t id;
    return payments_receivable_create(conn, "forms", &nr, &id, kz, err);
}

/* The status secret (and the fee's payment page) go to the anonymous
 * applicant, once, by mail. */
static int mail_secret(struct db_conn *conn, const char *to, const char *number, const char *secret,
                       const char *kz, int64_t fee, struct kr_error *err)
{
    char text[2000], subject[96], pay[400] = "";
    const char *url = intake_cfg->public_url;
    if (kz[0])
        (void)snprintf(pay, sizeof(pay),
                       "\nGebuehr / fee: %lld,%02lld EUR, Kassenzeichen %s\n"
                       "Zahlung mit GiroCode / pay with the GiroCode: %s/zahlung/%s\n",
                       (long long)(fee / 100), (long long)(fee % 100), kz, url, kz);
    (void)snprintf(subject, sizeof(subject), "Ihr Antrag %s / Your application %s", number, number);
    (void)snprintf(text, sizeof(text),
                   "Guten Tag,\n\nIhr Antrag ist eingegangen und wird unter der Vorgangsnummer "
                   "%s bearbeitet.\nDen Stand sehen Sie jederzeit unter\n%s/antragsstatus\n"
                   "mit der Vorgangsnummer und diesem Zugangscode: %s\n\nBitte bewahren Sie den "
                   "Code auf; er wird nicht noch einmal verschickt.\n%s\n---\nYour application is "
                   "being processed as case %s. Follow it at %s/antragsstatus with the case "
                   "number and this access code: %s\n",
                   number, url, secret, pay, number, url, secret);
    struct mail_message m = {.to = to, .subject = subject, .text = text};
    return mail_enqueue_cfg(conn, intake_cfg, &m, NULL, err);
}

static int open_case(struct db_conn *conn, const struct forms_submission *s,
                     const struct workflow_def *def, json_t *answers, const char *email,
                     struct kr_error *err)
{
    struct workflow_case_new in = {.workflow = def->id,
                                   .applicant_id = s->user_id,
                                   .applicant_email = email,
                                   .submission_ref = s->number,
                                   .data = s->answers,
                                   .actor = "forms"};
    int64_t id;
    char number[WORKFLOW_NUMBER_LEN], secret[WORKFLOW_SECRET_LEN] = "", kz[PAYMENTS_KZ_SIZE];
    int rc = workflow_case_open(conn, &in, &id, number, secret, err);
    if (rc == KR_OK)
        rc = intake_efile_open(conn, def, id, s, err);
    if (rc == KR_OK)
        rc = fee_receivable(conn, s, answers, email, number, kz, err);
    if (rc == KR_OK && !s->user_id)
        rc = mail_secret(conn, email, number, secret, kz, s->fee_cents, err);
    return rc;
}

static int on_submit(struct db_conn *conn, const struct forms_submission *s, struct kr_error *err)
{
    const struct workflow_def *def = workflow_find_for_form(s->form_id);
    if (!def)
        return KR_OK;
    json_t *answers = json_loads(s->answers ? s->answers : "{}", 0, NULL);
    const char *email = s->user_id ? NULL : answer_email(answers);
    int rc = KR_OK;
    if (!s->user_id && !email)
        kr_log(KR_LOG_WARN, "intake_no_address",
               "submission %s of form %s: anonymous and without an e-mail address, no case",
               s->number, s->form_id);
    else
        rc = open_case(conn, s, def, answers, email, err);
    json_decref(answers);
    return rc;
}

int intake_register(const struct kr_config *cfg, struct kr_error *err)
{
    intake_cfg = cfg;
    int rc = forms_on_submit(on_submit);
    return rc ? kr_error_set(err, rc, "intake: the form server's hooks are full") : KR_OK;
}
