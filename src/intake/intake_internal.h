/*
 * intake_internal.h - shared between the files of src/intake only.
 */
#ifndef KR_INTAKE_INTERNAL_H
#define KR_INTAKE_INTERNAL_H

#include "forms/forms.h"
#include "workflow/workflow.h"

/* Open the e-file of case case_id (file under the workflow's plan item,
 * first transaction) and file the submission s (receipt PDF and uploaded
 * files; s may be NULL).  Nothing when the workflow names no plan item;
 * a plan item the county has not imported is logged and skipped.  Inside
 * the caller's transaction. */
int intake_efile_open(struct db_conn *conn, const struct workflow_def *def, int64_t case_id,
                      const struct forms_submission *s, struct kr_error *err) KR_MUST_CHECK;

/* Who pays: the answers' name fields (name, applicant_name, last_name,
 * client_name, parent_name), else the address, else a placeholder. */
const char *intake_debtor_name(json_t *answers, const char *email);

/* Make the forms expression language the workflows' guard evaluator
 * (before the workflows load). */
void intake_guards_use(void);

/* Every field a guard of def refers to is a field of form (after the
 * forms are loaded).  KR_ERR_CONFIG naming file, transition and field. */
int intake_guards_check(const struct workflow_def *def, const struct forms_def *form,
                        struct kr_error *err) KR_MUST_CHECK;

#endif
