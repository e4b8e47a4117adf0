/* Running one step through a manager the way the runner does, keeping everything it produced:
 * for the connector suites. */
#ifndef PW_TESTS_STEP_RUN_H
#define PW_TESTS_STEP_RUN_H

#include <stdint.h>

#include "core/buf.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"

/* One step run through a manager, with everything it produced. */
typedef struct run {
	int rc;
	pw_result *r;
	pw_error *e;
	pw_buf out;   /* step output */
	pw_buf audit; /* audit records */
	pw_buf log;
	pw_exec *ex;
	int cancel_after_ms;
	int64_t ms;       /* how long the step took */
	char *outputs;    /* "key=value\n" for each step output */
	char *error_line; /* the error on one line, "" when none */
} run;

/* Runs a step `name` of type with config (JSON) and env in workspace through m (NULL: a new
 * manager) with the step's timeout in seconds; cancel_after_ms > 0 cancels it that long after
 * the start. */
void run_step_in(run *x, pw_manager *m, const char *type, const char *name, const char *config,
                 const pw_map *env, const char *workspace, int cancel_after_ms, double timeout_s);
/* The step's error as text ("" when none); pw_free it. */
char *err_text(const run *x);
void dispose(run *x);
/* Checks that none of needles (NULL-terminated) is in anything the step produced: output,
 * audit, log, error, outputs, result. */
void check_absent(const run *x, const char *const *needles);

#endif
