/* Running one step for the connector suites (see step_run.h). */
#include "step_run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "pipewright/secrets.h"
#include "pwtest.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	pthread_mutex_lock(&out_lock);
	pw__buf_append(payload, data, len);
	pthread_mutex_unlock(&out_lock);
}
static void on_audit(const char *json, void *payload)
{
	pw__buf_printf(payload, "%s\n", json);
}
static void on_log(const pw_log_record *rec, void *payload)
{
	pw__buf_printf(payload, "%s\n", rec->message ? rec->message : "");
}
static void *canceller(void *arg)
{
	run *x = arg;
	usleep((useconds_t)x->cancel_after_ms * 1000);
	pw_exec_cancel(x->ex, PW_CANCEL_USER);
	return NULL;
}

void run_step_in(run *x, pw_manager *m, const char *type, const char *name, const char *config,
                 const pw_map *env, const char *workspace, int cancel_after_ms, double timeout_s)
{
	memset(x, 0, sizeof *x);
	x->cancel_after_ms = cancel_after_ms;
	pw_manager *own = NULL;
	if (!m) {
		pw_manager_new(&own, NULL, NULL);
		m = own;
	}
	pw_step *s = NULL;
	pw_step_new(&s, name, type);
	pw_error *ce = NULL;
	if (pw_step_set_config_json(s, config, &ce) < 0)
		fprintf(stderr, "  config: %s\n", pw_error_message(ce));
	pw_error_free(ce);
	pw_step_set_timeout(s, timeout_s);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, workspace, "20261128-run-test", NULL, NULL);
	pw_secrets *sec = NULL;
	pw_secrets_new(&sec);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "20261128-run-test";
	eo.step_name = name;
	eo.timeout_seconds = timeout_s;
	eo.secrets = sec;
	eo.on_output = on_output;
	eo.output_payload = &x->out;
	eo.on_audit = on_audit;
	eo.audit_payload = &x->audit;
	eo.on_log = on_log;
	eo.log_payload = &x->log;
	eo.log_level = PW_LOG_DEBUG;
	pw_exec_new(&x->ex, &eo, NULL);
	pthread_t t;
	if (cancel_after_ms > 0)
		pthread_create(&t, NULL, canceller, x);
	int64_t t0 = pw__now_ms();
	x->rc = pw_manager_execute_step(&x->r, m, s, ws, env, x->ex, &x->e);
	x->ms = pw__now_ms() - t0;
	if (cancel_after_ms > 0)
		pthread_join(t, NULL);
	pw_buf o = PW_BUF_INIT(0);
	const pw_map *outs = pw_exec_outputs(x->ex);
	for (size_t i = 0; outs && i < pw_map_count(outs); i++)
		pw__buf_printf(&o, "%s=%s\n", pw_map_key_at(outs, i), pw_map_value_at(outs, i));
	x->outputs = pw__buf_detach(&o);
	pw_exec_free(x->ex);
	x->ex = NULL;
	pw_secrets_free(sec);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(own);
	x->error_line = x->e ? pw_error_format(x->e, 1) : pw_strdup("");
	if (x->e && getenv("PW_TEST_VERBOSE"))
		fprintf(stderr, "  log:\n%s\n", pw__buf_cstr(&x->log));
	if (x->e)
		fprintf(stderr, "  (step error: %s%s%s)\n", pw_error_message(x->e),
		        pw_error_hint(x->e) ? " / hint: " : "",
		        pw_error_hint(x->e) ? pw_error_hint(x->e) : "");
}

char *err_text(const run *x)
{
	return x->e ? pw_error_format(x->e, 0) : pw_strdup("");
}

void dispose(run *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw__buf_dispose(&x->out);
	pw__buf_dispose(&x->audit);
	pw__buf_dispose(&x->log);
	pw_free(x->outputs);
	pw_free(x->error_line);
}

void check_absent(const run *x, const char *const *needles)
{
	char *et = err_text(x);
	const char *all[] = {pw__buf_cstr(&x->out),
	                     pw__buf_cstr(&x->audit),
	                     pw__buf_cstr(&x->log),
	                     et,
	                     x->outputs,
	                     x->r ? pw_result_stdout(x->r) : "",
	                     x->r ? pw_result_stderr(x->r) : ""};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		for (size_t n = 0; needles[n]; n++)
			PW_CHECK_NOT_CONTAINS(all[i], needles[n]);
	pw_free(et);
}
