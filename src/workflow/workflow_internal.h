/*
 * workflow_internal.h - shared between the files of src/workflow only.
 */
#ifndef KR_WORKFLOW_INTERNAL_H
#define KR_WORKFLOW_INTERNAL_H

#include "audit/audit.h"
#include "workflow/workflow.h"

/* The current guard evaluator (built-in until one is set). */
void *workflow_guard_compile(const char *form_id, const char *text, struct kr_error *err);
bool workflow_guard_eval(const void *compiled, json_t *data);
void workflow_guard_release(void *compiled);
/* The evaluator compile uses now (a compiled guard keeps it: evaluated
 * and released by the one that made it, even if another is set later). */
const struct workflow_guard_evaluator *workflow_guard_current(void);

/* cfg, or the one set with workflow_set_config, or the defaults. */
const struct kr_config *workflow_config(const struct kr_config *cfg);

/* The registered action, or NULL. */
workflow_action_fn workflow_action_lookup(const char *name);

/* Append an audit entry for case id; details stolen (NULL: {}). */
int workflow_audit(struct db_conn *conn, const char *actor, const char *action, int64_t case_id,
                   json_t *details, struct kr_error *err) KR_MUST_CHECK;

/* Append a history entry. */
struct workflow_hist {
    int64_t case_id, at, actor_id;
    const char *kind, *transition, *from_state, *to_state, *text, *fields;
    bool public;
};
int workflow_history_add(struct db_conn *conn, const struct workflow_hist *h,
                         struct kr_error *err) KR_MUST_CHECK;

/* Run the actions of state on entering it. */
int workflow_run_actions(const struct workflow_action_ctx *ctx, struct kr_error *err) KR_MUST_CHECK;

/* "user:7" or "system" into out. */
void workflow_actor_name(int64_t id, char out[32]);

/* Mail the heads of unit_id about case number (no personal data). */
int workflow_notify_heads(struct db_conn *conn, const struct kr_config *cfg, int64_t unit_id,
                          const char *number, const char *what, struct kr_error *err) KR_MUST_CHECK;

#endif
