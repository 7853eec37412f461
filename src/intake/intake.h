/*
 * intake.h - the first path of the county's online services: a form
 * submission becomes a case.
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
 * Anything failing rolls the submission back, so there is never a
 * submission whose case went missing.
 */
#ifndef KR_INTAKE_INTAKE_H
#define KR_INTAKE_INTAKE_H

#include "core/config.h"
#include "core/error.h"

/* Register the hook; cfg (public URL for the status link, mail settings)
 * must outlive the server.  Call once before the server starts. */
int intake_register(const struct kr_config *cfg, struct kr_error *err) KR_MUST_CHECK;

#endif
