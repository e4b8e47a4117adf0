/* The execution context of one step: output, cancellation, deadline, secrets, audit.
 * The runner makes one per step attempt; embedders calling pw_manager_execute_step directly
 * may make their own, or pass NULL for a default one. */
#ifndef PIPEWRIGHT_EXEC_H
#define PIPEWRIGHT_EXEC_H

#include "common.h"
#include "error.h"
#include "log.h"
#include "map.h"
#include "secrets.h"

PW_BEGIN_DECLS

typedef struct pw_exec pw_exec;

typedef enum pw_stream { PW_STREAM_STDOUT = 1, PW_STREAM_STDERR = 2 } pw_stream;

typedef enum pw_cancel_reason {
	PW_CANCEL_NONE = 0,
	PW_CANCEL_USER = 1,   /* pw_exec_cancel, SIGINT/SIGTERM of the run */
	PW_CANCEL_TIMEOUT = 2 /* the step's deadline passed */
} pw_cancel_reason;

/* Masked step output. data is not NUL-terminated; it is borrowed for the call. */
typedef void (*pw_output_fn)(const char *step, pw_stream stream, const char *data, size_t len, void *payload);
/* One audit record as a JSON object (one line, no newline, secrets masked). */
typedef void (*pw_audit_fn)(const char *json, void *payload);

#define PW_DEFAULT_CAPTURE_LIMIT ((size_t)1 << 20)

typedef struct pw_exec_options {
	unsigned int version;
	const char *run_id;     /* copied; may be NULL */
	const char *step_name;  /* copied; may be NULL */
	double timeout_seconds; /* 0: no deadline. Armed by pw_exec_start. */
	size_t capture_limit;   /* tail of each stream kept for pw_result; 0: default 1 MiB */
	pw_secrets *secrets;    /* borrowed, shared by the run; NULL: a private empty set */
	pw_output_fn on_output;
	void *output_payload;
	pw_log_fn on_log;
	void *log_payload;
	pw_log_level log_level;
	pw_audit_fn on_audit;
	void *audit_payload;
} pw_exec_options;

#define PW_EXEC_OPTIONS_VERSION 1
#define PW_EXEC_OPTIONS_INIT                                                                                \
	{                                                                                                   \
		PW_EXEC_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, PW_LOG_WARN, NULL, \
		    NULL                                                                                    \
	}

/* opts may be NULL (defaults). Caller frees. */
PW_EXTERN int pw_exec_new(pw_exec **out, const pw_exec_options *opts, pw_error **err);
PW_EXTERN void pw_exec_free(pw_exec *ex);

/* Arms the deadline (timeout_seconds from now). Called by the manager before execute_step. */
PW_EXTERN void pw_exec_start(pw_exec *ex);
/* Requests cancellation; thread-safe and async-signal-safe. The first reason sticks. */
PW_EXTERN void pw_exec_cancel(pw_exec *ex, pw_cancel_reason reason);
/* PW_CANCEL_NONE while the step may go on. */
PW_EXTERN pw_cancel_reason pw_exec_cancelled(const pw_exec *ex);
/* A descriptor that becomes readable once the step is cancelled or timed out: add it to
 * poll() sets so that every blocking wait ends promptly. Owned by the exec. */
PW_EXTERN int pw_exec_cancel_fd(const pw_exec *ex);
/* Milliseconds until the deadline (>= 0), or -1 when there is none. */
PW_EXTERN int64_t pw_exec_remaining_ms(const pw_exec *ex);
/* Waits ms milliseconds unless the step is cancelled or its deadline passes first, for polling
 * loops that must honour both: 0 after the full wait, PW_ECANCELLED or PW_ETIMEOUT at once
 * when the step ends (also when it had already ended). ex may be NULL (a plain sleep). */
PW_EXTERN int pw_exec_sleep(pw_exec *ex, int64_t ms);

/* Step output, masked on its way to the output callback and the bounded capture. */
PW_EXTERN void pw_exec_output(pw_exec *ex, pw_stream stream, const char *data, size_t len);
/* A diagnostic tagged with the run and step; masked. */
PW_EXTERN void pw_exec_log(pw_exec *ex, pw_log_level level, const char *component, const char *fmt, ...)
    PW_PRINTF(4, 5);
PW_EXTERN int pw_exec_log_enabled(const pw_exec *ex, pw_log_level level);
/* An audit record of an external mutation: what was done, to what, and how it ended.
 * detail may be NULL or extra text. Masked. */
PW_EXTERN void pw_exec_audit(pw_exec *ex, const char *action, const char *target, const char *outcome,
                             const char *detail);
/* Marks a value secret for the rest of the run (for tokens a connector obtains). */
PW_EXTERN int pw_exec_add_secret(pw_exec *ex, const char *value, const char *label, pw_error **err);
/* The run's secret set (borrowed). */
PW_EXTERN pw_secrets *pw_exec_secrets(pw_exec *ex);
/* Step outputs (key=value) handed to later steps; copied. */
PW_EXTERN int pw_exec_set_output(pw_exec *ex, const char *key, const char *value);
/* Borrowed. */
PW_EXTERN const pw_map *pw_exec_outputs(const pw_exec *ex);
PW_EXTERN const char *pw_exec_run_id(const pw_exec *ex);
PW_EXTERN const char *pw_exec_step_name(const pw_exec *ex);

/* The masked tail of what the step wrote to each stream (borrowed) and whether it was cut. */
PW_EXTERN const char *pw_exec_captured(pw_exec *ex, pw_stream stream, int *truncated);
/* Emits whatever the maskers hold back; the manager calls it after execute_step. */
PW_EXTERN void pw_exec_flush(pw_exec *ex);

PW_END_DECLS

#endif
