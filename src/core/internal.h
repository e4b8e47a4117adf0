/* Library-internal helpers shared across core, pipeline and connectors. */
#ifndef PW_CORE_INTERNAL_H
#define PW_CORE_INTERNAL_H

#include "core/buf.h"
#include "pipewright/exec.h"
#include "pipewright/manager.h"
#include "pipewright/secrets.h"

/* One audit record as masked compact JSON: {at, run_id, step, event, action, target,
 * outcome, detail}. NULL members are left out. Caller frees. */
char *pw__audit_json(const pw_secrets *secrets, const char *run_id, const char *step, const char *event,
                     const char *action, const char *target, const char *outcome, const char *detail);

/* Appends s to b as a JSON string: quotes, backslashes and control characters escaped,
 * valid UTF-8 kept as is, each byte of an invalid sequence written as U+FFFD (the text stays
 * valid JSON whatever a connector hands in). Sets *bad when out of memory. */
void pw__json_string_put(pw_buf *b, int *bad, const char *s);

/* pw_secrets_mask that also gives the masked length (the text may hold NUL bytes). */
char *pw__secrets_mask_len(const pw_secrets *s, const char *text, size_t len, size_t *out_len);

/* Ends an execution: disarms the deadline and flushes the maskers. */
void pw__exec_finish(pw_exec *ex);
/* The run's lifecycle-hook sink (a pw_k8s_hooks), borrowed: set by the runner so that a
 * connector records its events where the run records step start and end. NULL: none. */
void pw__exec_set_hooks(pw_exec *ex, void *hooks);
void *pw__exec_hooks(const pw_exec *ex);
/* Emits an audit record with a given event name (runner: "step_start"/"step_end"). */
void pw__exec_audit_event(pw_exec *ex, const char *event, const char *outcome, const char *detail);

/* pw_exec_new with the caller's eventfd (non-blocking, counter at zero) as the cancel
 * descriptor instead of a new one: a runner's worker keeps one for all its steps (a
 * descriptor made and released per step costs 3 us). Borrowed: pw_exec_free leaves it open,
 * emptied when the exec was cancelled. The caller must not use it for two execs at once. */
int pw__exec_new_with_cancel_fd(pw_exec **out, const pw_exec_options *opts, int cancel_fd, pw_error **err);

/* The run's resource journal (core/journal.h) for this exec: set by the runner; NULL when
 * the exec belongs to no run directory (an embedder's own exec): nothing is journaled. */
int pw__exec_set_journal(pw_exec *ex, const char *path);
const char *pw__exec_journal(const pw_exec *ex);

/* The exec of the step whose configuration pw_manager_execute_step is validating on this
 * thread before executing it (borrowed), or NULL: a connector's validate_config that blocks
 * polls its cancel descriptor, which the step's deadline and the run's cancel make readable. */
pw_exec *pw__manager_validating_exec(void);

/* A descriptor that becomes readable once pw_manager_cancel(m) was called (borrowed; polled,
 * never read), or -1: what a connector's validate or plan polls outside a run. */
int pw__manager_cancel_fd(const pw_manager *m);

/* The manager's diagnostics sink (for messages not tied to a step). */
void pw__manager_log(pw_manager *m, pw_log_level level, const char *component, const char *fmt, ...)
    PW_PRINTF(4, 5);

/* Replaces the message (copied) of one error. */
void pw__error_replace_message(pw_error *e, const char *message);
/* Masks the secrets of s in every text of every error of the chain (message, operation, key,
 * service answer, hint); s may be NULL (nothing to mask). */
void pw__error_mask(pw_error *e, const pw_secrets *s);

/* 1 when path is relative and, read lexically, never climbs above its start ("a/../b", "."
 * and "" stay; "../a" and "/a" do not). Symbolic links are the caller's business. */
int pw__path_stays_inside(const char *path);
/* 1 when k is a portable environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
int pw__env_name_valid(const char *k);

/* Built-in connector types: the table lives in core/builtin.c. */
typedef int (*pw_builtin_create_fn)(pw_connector **out, pw_manager *m, pw_error **err);
typedef struct pw_builtin {
	const char *type;
	pw_builtin_create_fn create;
} pw_builtin;
extern const pw_builtin pw__builtins[];
extern const size_t pw__builtins_count;
/* Registers the built-in factory on a new manager. */
int pw__builtin_factory_register(pw_manager *m, pw_error **err);

#endif
