/*
 * intake.h - the first path of the county's online services: a form
 * submission becomes a case with its e-file, the case's decisions become
 * notices, paid fees move the case on.
 *
 * The form server (forms.h) knows nothing of cases, the workflow engine
 * (workflow.h) nothing of forms.  This module joins them: registered as a
 * forms_on_submit hook, it runs inside the submission's transaction and
 *
 *   - opens a case of the workflow that names the form (workflow "form"
 *     key), with the answers as case data and the submission number as
 *     reference; a form without a workflow is left alone;
 *   - for a logged-in applicant the case belongs to the account (status
 *     under /antraege); for an anonymous applicant the answers' e-mail
 *     address (a field named "email" or ending in "_email") gets the case
 *     number and the status secret for /antragsstatus by mail, the only
 *     place the secret is ever shown.  An anonymous submission without an
 *     address gets no case here: the form's own routing (case intake
 *     record, mail to the office) still takes it, and a warning is logged.
 *
 *   - opens the case's e-file: a file under the workflow's file plan item
 *     ("plan" key) with a first transaction named after the case, holding
 *     the receipt PDF and the uploaded files (efile_case_open).
 *
 * Anything failing rolls the submission back, so there is never a
 * submission whose case went missing.
 *
 * For the workflow engine it registers the actions
 *   "notice"      render the state's notice template (notice.h) with the
 *                 case data, the unpaid fee's payment details and GiroCode;
 *                 file it in the case's e-file (direction out), deliver it
 *                 to the applicant (mailbox with the PDF, or e-mail with
 *                 the PDF to an anonymous applicant); public history entry
 *                 and audit ("case.notice");
 *   "close_file"  close the case's e-file (its retention period starts);
 * and a payments_on_settled hook: when a receivable of a case is paid and
 * the case's state names "on_paid", that transition is taken by the system.
 */
#ifndef KR_INTAKE_INTAKE_H
#define KR_INTAKE_INTAKE_H

#include "blob/blob.h"
#include "core/config.h"
#include "core/error.h"

/* Register the hook; cfg (public URL for the status link, mail settings)
 * must outlive the server.  Call once before the server starts. */
int intake_register(const struct kr_config *cfg, struct kr_error *err) KR_MUST_CHECK;

/* Load the notice templates (<share_dir>/notices) and register the
 * workflow actions and the payment hook; call before the workflows are
 * loaded (their "notice" actions must be known).  cfg and blobs must
 * outlive every case.  Idempotent for the actions. */
int intake_actions_register(const struct kr_config *cfg, struct blob_store *blobs,
                            struct kr_error *err) KR_MUST_CHECK;

/* After the forms and workflows are loaded: every "notice" of a state
 * names a loaded template, and every data.<field> placeholder of it is a
 * field of the workflow's form.  KR_ERR_CONFIG naming workflow, state,
 * template and field. */
int intake_check(struct kr_error *err) KR_MUST_CHECK;

#endif
