/* The runner: executes a pipeline's steps as a graph on worker threads, with timeouts,
 * retries, `when` conditions, cancellation, per-step logs, result.json and an audit log. */
#ifndef PIPEWRIGHT_RUN_H
#define PIPEWRIGHT_RUN_H

#include "common.h"
#include "error.h"
#include "exec.h"
#include "log.h"
#include "manager.h"
#include "pipeline.h"
#include "result.h"

PW_BEGIN_DECLS

typedef struct pw_run pw_run;

typedef enum pw_step_status {
	PW_STEP_PENDING = 0,
	PW_STEP_RUNNING,
	PW_STEP_SUCCEEDED,
	PW_STEP_FAILED,
	PW_STEP_ALLOWED_FAILURE, /* failed with allow_failure: true */
	PW_STEP_SKIPPED,         /* its `when` condition did not hold */
	PW_STEP_TIMED_OUT,       /* with allow_failure: true, pw_run_step_allowed says so */
	PW_STEP_CANCELLED
} pw_step_status;

/* "pending", "running", "succeeded", ...; static. */
PW_EXTERN const char *pw_step_status_name(pw_step_status s);

/* A step changed state (attempt counts from 1; error may be NULL). Called on a worker
 * thread; borrowed arguments. */
typedef void (*pw_step_event_fn)(const char *step, pw_step_status status, unsigned int attempt,
                                 const pw_result *result, const pw_error *error, void *payload);

typedef struct pw_run_options {
	unsigned int version;
	const char *workspace; /* NULL: the pipeline file's directory */
	unsigned int jobs;     /* parallel steps; 0: the number of CPUs */
	const char *run_id;    /* NULL: generated (time + random) */
	size_t capture_limit;  /* per stream; 0: 1 MiB */
	/* Masked output in whole lines: one or more complete lines per call (a line longer than
	 * 64 KiB, or the last one of a step, may come without its newline). */
	pw_output_fn on_output;
	void *output_payload;
	pw_log_fn on_log;
	void *log_payload;
	pw_log_level log_level;
	pw_step_event_fn on_step_event;
	void *event_payload;
	double retry_backoff_seconds; /* first retry delay, doubled per attempt; 0: 1 s */
} pw_run_options;

#define PW_RUN_OPTIONS_VERSION 1
#define PW_RUN_OPTIONS_INIT                                                                                  \
	{                                                                                                    \
		PW_RUN_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, PW_LOG_WARN, NULL, NULL, 0 \
	}

/* Prepares a run: workspace, run id and run directory, secrets from the environment.
 * p and m are borrowed and must outlive the run. Caller frees with pw_run_free. */
PW_EXTERN int pw_run_new(pw_run **out, pw_manager *m, pw_pipeline *p, const pw_run_options *opts,
                         pw_error **err);
/* Runs every step. Returns 0 when every step succeeded or was allowed to fail (also by
 * timing out) or skipped by design, PW_ESTEP when a step failed or timed out without
 * allow_failure, PW_ECANCELLED when the run was cancelled; other codes when the run could not
 * be carried out (*err says why).
 *
 * Processes a step leaves running outside its process group (`setsid server &`, a double
 * fork) stay up for the later steps and are ended when the run ends, after the last step
 * (`when: always` ones included), also after a cancel: SIGTERM (to the process and the group
 * it leads), 5 s of grace (none after a second pw_run_cancel), SIGKILL; each gets a warning
 * on on_log and a "process_left_behind" audit record naming its pid and command, masked.
 * How they are found depends on the embedding program:
 * - a child subreaper (prctl(PR_SET_CHILD_SUBREAPER, 1), as `pipewright run` is) adopts
 *   every orphan of the steps: its children that pipewright is not running, that started
 *   after this run did and that do not belong to another run executing in the process are
 *   ended and reaped. Orphans that exit during the run stay zombies until the run's end
 *   reaps them. Such a program must not start children of its own while a run executes
 *   that it wants kept (or reaps itself with waitpid(pid)).
 * - otherwise, the processes whose environment holds PIPEWRIGHT_RUN_ID=<this run's id>
 *   (every step's does) are found in /proc and signalled; one that cleared or replaced its
 *   environment, or runs as another user, is not found. */
PW_EXTERN int pw_run_execute(pw_run *r, pw_error **err);
/* Cancels running steps (their connectors clean up); `when: always` steps still run.
 * Thread-safe and async-signal-safe. */
PW_EXTERN void pw_run_cancel(pw_run *r);
PW_EXTERN void pw_run_free(pw_run *r);

PW_EXTERN const char *pw_run_id(const pw_run *r);
/* .pipewright/runs/<run-id> under the workspace; absolute. */
PW_EXTERN const char *pw_run_dir(const pw_run *r);
PW_EXTERN size_t pw_run_step_count(const pw_run *r);
/* Per step, in pipeline order; valid after pw_run_execute. Borrowed. */
PW_EXTERN const char *pw_run_step_name(const pw_run *r, size_t i);
PW_EXTERN pw_step_status pw_run_step_status(const pw_run *r, size_t i);
PW_EXTERN const pw_result *pw_run_step_result(const pw_run *r, size_t i);
PW_EXTERN const pw_error *pw_run_step_error(const pw_run *r, size_t i);
/* Non-zero when the step failed (PW_STEP_ALLOWED_FAILURE) or timed out (PW_STEP_TIMED_OUT)
 * and allow_failure: true kept that from failing the run and the steps that need it: for
 * their `when`, it did not fail. */
PW_EXTERN int pw_run_step_allowed(const pw_run *r, size_t i);
PW_EXTERN unsigned int pw_run_step_attempts(const pw_run *r, size_t i);
PW_EXTERN double pw_run_step_duration_ms(const pw_run *r, size_t i);

PW_END_DECLS

#endif
