/* The runner through the library API: events, statuses, retries with backoff, capture
 * limits, outputs, cancellation from another thread, result.json. */
#define _GNU_SOURCE /* prctl's constants */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pipewright.h"
#include "pwtest.h"

static char workdir[256];

static void make_workdir(void)
{
	snprintf(workdir, sizeof(workdir), "/tmp/pw-runner-XXXXXX");
	if (!mkdtemp(workdir))
		workdir[0] = '\0';
}

static void remove_workdir(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", workdir);
}

typedef struct events {
	pthread_mutex_t lock;
	char log[8192];
	size_t len;
} events;

static void on_event(const char *step, pw_step_status status, unsigned int attempt, const pw_result *result,
                     const pw_error *error, void *payload)
{
	events *ev = payload;
	pthread_mutex_lock(&ev->lock);
	int n = snprintf(ev->log + ev->len, sizeof(ev->log) - ev->len, "%s:%s:%u\n", step,
	                 pw_step_status_name(status), attempt);
	if (n > 0 && (size_t)n < sizeof(ev->log) - ev->len)
		ev->len += (size_t)n;
	pthread_mutex_unlock(&ev->lock);
}

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	events *ev = payload;
	pthread_mutex_lock(&ev->lock);
	int n = snprintf(ev->log + ev->len, sizeof(ev->log) - ev->len, "%s>%.*s", step, (int)len, data);
	if (n > 0 && (size_t)n < sizeof(ev->log) - ev->len)
		ev->len += (size_t)n;
	pthread_mutex_unlock(&ev->lock);
}

static pw_pipeline *load(const char *yaml)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/p.yml", workdir);
	pw_pipeline *p = NULL;
	pw_error *e = NULL;
	if (pw_pipeline_load_string(&p, yaml, strlen(yaml), path, &e) < 0) {
		char *t = pw_error_format(e, 1);
		fprintf(stderr, "load: %s\n", t);
		pw_free(t);
	}
	pw_error_free(e);
	return p;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

/* A pipeline loaded in a fresh work directory, a manager, and its run. */
typedef struct fixture {
	pw_pipeline *p;
	pw_manager *m;
	pw_run *run;
} fixture;

/* 0, or -1 with what failed printed. NULL options: the defaults. */
static int fixture_new(fixture *f, const char *yaml, const pw_run_options *o)
{
	memset(f, 0, sizeof(*f));
	make_workdir();
	if (!workdir[0] || !(f->p = load(yaml)) || pw_manager_new(&f->m, NULL, NULL) < 0)
		return -1;
	pw_error *e = NULL;
	if (pw_run_new(&f->run, f->m, f->p, o, &e) < 0) {
		fprintf(stderr, "pw_run_new: %s\n", pw_error_message(e));
		pw_error_free(e);
		return -1;
	}
	return 0;
}

static void fixture_free(fixture *f)
{
	pw_run_free(f->run);
	pw_manager_free(f->m);
	pw_pipeline_free(f->p);
	if (workdir[0])
		remove_workdir();
}

PW_TEST(test_run_statuses_events_and_result_json)
{
	const char *yaml = "version: 1\n"
	                   "steps:\n"
	                   "  - { name: a, command: 'echo out-a; echo err-a >&2' }\n"
	                   "  - { name: b, command: 'exit 4', allow_failure: true }\n"
	                   "  - { name: c, command: 'exit 5', retries: 2 }\n"
	                   "  - { name: d, command: 'echo never' }\n"
	                   "  - { name: e, command: 'echo rescue', when: on_failure }\n";
	static events ev = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "r-statuses";
	o.on_step_event = on_event;
	o.event_payload = &ev;
	o.on_output = on_output;
	o.output_payload = &ev;
	o.retry_backoff_seconds = 0.05;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	PW_CHECK_INT(pw_run_execute(run, NULL), PW_ESTEP);
	PW_CHECK_INT(pw_run_step_status(run, 0), PW_STEP_SUCCEEDED);
	PW_CHECK_INT(pw_run_step_status(run, 1), PW_STEP_ALLOWED_FAILURE);
	PW_CHECK_INT(pw_run_step_status(run, 2), PW_STEP_FAILED);
	PW_CHECK_INT(pw_run_step_attempts(run, 2), 3);
	PW_CHECK_INT(pw_result_exit_code(pw_run_step_result(run, 2)), 5);
	PW_CHECK_INT(pw_run_step_status(run, 3), PW_STEP_SKIPPED);
	PW_CHECK_INT(pw_run_step_status(run, 4), PW_STEP_SUCCEEDED);
	PW_CHECK_STR(pw_result_stdout(pw_run_step_result(run, 0)), "out-a\n");
	PW_CHECK_STR(pw_result_stderr(pw_run_step_result(run, 0)), "err-a\n");
	ev.log[ev.len] = '\0';
	PW_CHECK_CONTAINS(ev.log, "a:running:0\n");
	PW_CHECK_CONTAINS(ev.log, "a>out-a\n");
	PW_CHECK_CONTAINS(ev.log, "a:succeeded:1\n");
	PW_CHECK_CONTAINS(ev.log, "c:failed:3\n");
	PW_CHECK_CONTAINS(ev.log, "d:skipped:0\n");
	PW_CHECK_CONTAINS(ev.log, "e>rescue\n");
	char path[600];
	snprintf(path, sizeof(path), "%s/result.json", pw_run_dir(run));
	json_error_t je;
	json_t *rj = json_load_file(path, 0, &je);
	PW_REQUIRE(rj != NULL);
	PW_CHECK_STR(json_string_value(json_object_get(rj, "status")), "failed");
	PW_CHECK_STR(json_string_value(json_object_get(rj, "run_id")), "r-statuses");
	json_t *steps = json_object_get(rj, "steps");
	PW_CHECK_INT(json_array_size(steps), 5);
	PW_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 1), "status")),
	             "allowed_failure");
	PW_CHECK_INT(json_integer_value(json_object_get(json_array_get(steps, 2), "exit_code")), 5);
	json_decref(rj);
	snprintf(path, sizeof(path), "%s/a.log", pw_run_dir(run));
	char *log = read_text(path);
	PW_CHECK(log != NULL);
	if (log) {
		PW_CHECK_CONTAINS(log, "out-a");
		PW_CHECK_CONTAINS(log, "err-a");
	}
	free(log);
	fixture_free(&f);
}

PW_TEST(test_run_capture_limit_and_parallel_jobs)
{
	/* s1, s2 and s3 each wait (up to 20 s) until all three have started: they can only all
	 * succeed when they run side by side */
	const char *yaml =
	    "version: 1\n"
	    "steps:\n"
	    "  - { name: big, needs: [], command: 'seq 1 100000' }\n"
	    "  - name: s1\n"
	    "    needs: []\n"
	    "    command: &meet >-\n"
	    "      touch \"$PIPEWRIGHT_WORKSPACE/here-$PIPEWRIGHT_STEP\"; i=0;\n"
	    "      until [ -e \"$PIPEWRIGHT_WORKSPACE/here-s1\" ] &&\n"
	    "      [ -e \"$PIPEWRIGHT_WORKSPACE/here-s2\" ] && [ -e \"$PIPEWRIGHT_WORKSPACE/here-s3\" ];\n"
	    "      do i=$((i+1)); [ $i -lt 400 ] || exit 9; sleep 0.05; done\n"
	    "  - { name: s2, needs: [], command: *meet }\n"
	    "  - { name: s3, needs: [], command: *meet }\n";
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.capture_limit = 64;
	o.jobs = 4;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	PW_CHECK_INT(pw_run_execute(run, NULL), 0);
	for (size_t i = 1; i <= 3; i++)
		PW_CHECK_INT(pw_run_step_status(run, i), PW_STEP_SUCCEEDED);
	const pw_result *r = pw_run_step_result(run, 0);
	PW_CHECK_INT(strlen(pw_result_stdout(r)), 64);
	PW_CHECK(strstr(pw_result_stdout(r), "100000\n") != NULL);
	PW_CHECK_STR(pw_map_get(pw_result_metadata_const(r), "stdout_truncated"), "true");
	fixture_free(&f);
}

static void *cancel_later(void *arg)
{
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	pw_run_cancel(arg);
	return NULL;
}

PW_TEST(test_run_cancel_from_another_thread)
{
	const char *yaml = "version: 1\n"
	                   "steps:\n"
	                   "  - { name: long, command: 'sleep 30', config: { kill_grace: 1 } }\n"
	                   "  - { name: next, command: 'echo next' }\n"
	                   "  - { name: always, command: 'echo always', when: always }\n";
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, NULL) == 0);
	pw_run *run = f.run;
	pthread_t t;
	pthread_create(&t, NULL, cancel_later, run);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_run_execute(run, &e), PW_ECANCELLED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	PW_CHECK(t1.tv_sec - t0.tv_sec < 10);
	PW_CHECK_INT(pw_run_step_status(run, 0), PW_STEP_CANCELLED);
	PW_CHECK_INT(pw_error_code(pw_run_step_error(run, 0)), PW_ECANCELLED);
	PW_CHECK_INT(pw_run_step_status(run, 1), PW_STEP_CANCELLED);
	PW_CHECK_INT(pw_run_step_status(run, 2), PW_STEP_SUCCEEDED);
	pw_error_free(e);
	fixture_free(&f);
}

/* ---- processes the steps leave behind ---- */

typedef struct log_lines {
	pthread_mutex_t lock;
	char text[16384];
	size_t len;
} log_lines;

static void on_log(const pw_log_record *rec, void *payload)
{
	log_lines *l = payload;
	pthread_mutex_lock(&l->lock);
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", rec->message);
	if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
		l->len += (size_t)n;
	pthread_mutex_unlock(&l->lock);
}

static pid_t read_pid_file(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", workdir, name);
	char *t = read_text(path);
	long v = t ? strtol(t, NULL, 10) : 0;
	free(t);
	return v > 1 ? (pid_t)v : -1;
}

/* 1 when pid is gone or a zombie of someone else's, within two seconds. */
static int pid_gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		char *st = read_text(path);
		const char *rp = st ? strrchr(st, ')') : NULL;
		int zombie = rp && rp[1] == ' ' && rp[2] == 'Z';
		free(st);
		if (zombie)
			return 1;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A step's `setsid` daemon outlives its step (a later step uses it) but not the run; it is
 * named in a warning and an audit record with the run's secrets masked. With subreaper set,
 * this process adopts the orphans and ends them (and reaps every zombie of them); without, it
 * finds them by the run id in their environment. */
static void run_with_a_daemon(int subreaper)
{
	PW_REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, subreaper, 0, 0, 0) == 0);
	setenv("PW_STRAY_SECRET", "stray-secret-4711", 1);
	const char *yaml =
	    "version: 1\n"
	    "secrets: [PW_STRAY_SECRET]\n"
	    "steps:\n"
	    "  - name: daemon\n"
	    "    command: |\n"
	    "      setsid sh -c 'sleep 1011; : \"$0\"' \"$PW_STRAY_SECRET\" >/dev/null 2>&1 </dev/null &\n"
	    "      echo $! > daemon.pid; sleep 0.3\n"
	    "  - name: uses-it\n"
	    "    command: grep -q '^State:.*[RS]' /proc/$(cat daemon.pid)/status\n"
	    "  - name: orphan\n"
	    "    command: (sleep 0.1 & echo $! > orphan.pid); sleep 0.4\n";
	log_lines logs = {.lock = PTHREAD_MUTEX_INITIALIZER};
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.on_log = on_log;
	o.log_payload = &logs;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_run_execute(f.run, &e), 0);
	PW_CHECK_INT(pw_run_step_status(f.run, 1), PW_STEP_SUCCEEDED); /* the daemon was there */
	pid_t daemon = read_pid_file("daemon.pid");
	PW_CHECK(daemon > 0);
	if (daemon > 0)
		PW_CHECK(pid_gone(daemon));
	if (subreaper) {
		/* the daemon, its sleep and the orphan that exited during the run: all reaped */
		int status;
		PW_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
	}
	PW_CHECK(strstr(logs.text, "left running by step 'daemon'") != NULL);
	PW_CHECK(strstr(logs.text, "sleep 1011") != NULL);
	PW_CHECK(strstr(logs.text, "stray-secret-4711") == NULL);
	char path[600];
	snprintf(path, sizeof(path), "%s/audit.jsonl", pw_run_dir(f.run));
	char *audit = read_text(path);
	PW_CHECK(audit && strstr(audit, "\"process_left_behind\""));
	PW_CHECK(audit && strstr(audit, "sleep 1011"));
	PW_CHECK(audit && !strstr(audit, "stray-secret-4711"));
	free(audit);
	pw_error_free(e);
	fixture_free(&f);
	unsetenv("PW_STRAY_SECRET");
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

PW_TEST(test_run_ends_what_steps_left_as_subreaper)
{
	run_with_a_daemon(1);
}

PW_TEST(test_run_ends_what_steps_left_by_run_id)
{
	run_with_a_daemon(0);
}

PW_TEST(test_run_rejects_bad_run_id)
{
	make_workdir();
	pw_pipeline *p = load("version: 1\nsteps:\n  - { name: a, command: 'true' }\n");
	PW_REQUIRE(p != NULL);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "../escape";
	pw_run *run = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_run_new(&run, m, p, &o, &e), PW_EINVAL);
	PW_CHECK_CONTAINS(pw_error_message(e), "run id");
	pw_error_free(e);
	pw_manager_free(m);
	pw_pipeline_free(p);
	remove_workdir();
}

/* The entries of steps that ended are made while later steps still run (the run's thread
 * renders them every 50 ms): made early or at the end, result.json is the same document,
 * laid out as one indented dump of it, with secrets masked. */
PW_TEST(test_result_json_entries_made_during_the_run)
{
	setenv("PW_RUNNER_TEST_SECRET", "s3cr3t-runner-value", 1);
	const char *yaml = "version: 1\n"
	                   "secrets: [PW_RUNNER_TEST_SECRET]\n"
	                   "steps:\n"
	                   "  - { name: first, command: 'echo \"token=$PW_RUNNER_TEST_SECRET\" >> "
	                   "\"$PIPEWRIGHT_OUTPUT\"; echo \"note=plain\" >> \"$PIPEWRIGHT_OUTPUT\"' }\n"
	                   "  - { name: broken, command: 'exit 3', allow_failure: true }\n"
	                   "  - { name: slow, command: 'sleep 0.3' }\n"
	                   "  - { name: rescue, command: 'true', when: on_failure, needs: [slow] }\n";
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "r-entries";
	o.jobs = 1;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	PW_CHECK_INT(pw_run_execute(run, NULL), 0);
	char path[600];
	snprintf(path, sizeof(path), "%s/result.json", pw_run_dir(run));
	char *text = read_text(path);
	PW_REQUIRE(text != NULL);
	PW_CHECK(strstr(text, "s3cr3t-runner-value") == NULL);
	json_error_t je;
	json_t *rj = json_loads(text, 0, &je);
	PW_REQUIRE(rj != NULL);
	char *again = json_dumps(rj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	PW_REQUIRE(again != NULL);
	size_t len = strlen(again);
	PW_CHECK(strncmp(text, again, len) == 0 && !strcmp(text + len, "\n"));
	json_t *steps = json_object_get(rj, "steps");
	PW_CHECK_INT(json_array_size(steps), 4);
	json_t *first = json_array_get(steps, 0);
	PW_CHECK_STR(json_string_value(json_object_get(first, "name")), "first");
	json_t *outs = json_object_get(first, "outputs");
	PW_CHECK_STR(json_string_value(json_object_get(outs, "token")), "***");
	PW_CHECK_STR(json_string_value(json_object_get(outs, "note")), "plain");
	PW_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 1), "status")),
	             "allowed_failure");
	PW_CHECK_INT(json_integer_value(json_object_get(json_array_get(steps, 1), "exit_code")), 3);
	PW_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 2), "status")), "succeeded");
	json_t *rescue = json_array_get(steps, 3);
	PW_CHECK_STR(json_string_value(json_object_get(rescue, "status")), "skipped");
	PW_CHECK(json_object_get(rescue, "log") == NULL);
	free(again);
	json_decref(rj);
	free(text);
	unsetenv("PW_RUNNER_TEST_SECRET");
	fixture_free(&f);
}

/* A step stopped at its timeout keeps the timeout error and what its process left: exit code
 * 128 + signal, the signal and the connector's metadata, in the run, result.json and the
 * audit log. */
PW_TEST(test_timed_out_step_keeps_exit_code_and_metadata)
{
	const char *yaml = "version: 1\n"
	                   "steps:\n"
	                   "  - { name: slow, timeout: 1, command: 'echo begun; sleep 1000', config: "
	                   "{ kill_grace: 1 } }\n";
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "r-timeout-result";
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	PW_CHECK_INT(pw_run_execute(run, NULL), PW_ESTEP);
	PW_CHECK_INT(pw_run_step_status(run, 0), PW_STEP_TIMED_OUT);
	PW_CHECK_INT(pw_error_code(pw_run_step_error(run, 0)), PW_ETIMEOUT);
	const pw_result *r = pw_run_step_result(run, 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_exit_code(r), 143);
	PW_CHECK_INT(pw_result_signal(r), 15);
	PW_CHECK_STR(pw_result_stdout(r), "begun\n");
	char path[600];
	snprintf(path, sizeof(path), "%s/result.json", pw_run_dir(run));
	json_error_t je;
	json_t *rj = json_load_file(path, 0, &je);
	PW_REQUIRE(rj != NULL);
	json_t *st = json_array_get(json_object_get(rj, "steps"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(st, "status")), "timed_out");
	PW_CHECK_INT(json_integer_value(json_object_get(st, "exit_code")), 143);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "signal")), 15);
	json_t *md = json_object_get(st, "metadata");
	PW_CHECK_STR(json_string_value(json_object_get(md, "signal")), "15");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(md, "ended")), "signal 15");
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(st, "error"), "code")), "ETIMEOUT");
	json_decref(rj);
	snprintf(path, sizeof(path), "%s/audit.jsonl", pw_run_dir(run));
	char *audit = read_text(path);
	PW_REQUIRE(audit != NULL);
	PW_CHECK_CONTAINS(audit, "\"outcome\":\"timed_out\",\"detail\":\"exit_code=143 attempts=1\"");
	free(audit);
	fixture_free(&f);
}

/* allow_failure covers a timeout, as GitLab's allow_failure and GitHub's continue-on-error do:
 * the step keeps its timed_out status, marked allowed; the run succeeds, and the steps that
 * need it see no failure for their `when`. */
PW_TEST(test_allow_failure_covers_a_timeout)
{
	const char *yaml =
	    "version: 1\n"
	    "steps:\n"
	    "  - { name: slow, timeout: 1, retries: 1, allow_failure: true, command: 'sleep 5',"
	    " config: { kill_grace: 1 } }\n"
	    "  - { name: after, needs: [slow], command: 'echo after' }\n"
	    "  - { name: rescue, needs: [slow], when: on_failure, command: 'echo rescue' }\n"
	    "  - { name: strict, needs: [], timeout: 1, command: 'sleep 5' }\n";
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "r-allowed-timeout";
	o.retry_backoff_seconds = 0.05;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	/* the run fails only because of `strict`, which timed out without allow_failure */
	PW_CHECK_INT(pw_run_execute(run, NULL), PW_ESTEP);
	PW_CHECK_INT(pw_run_step_status(run, 0), PW_STEP_TIMED_OUT);
	PW_CHECK(pw_run_step_allowed(run, 0));
	PW_CHECK_INT(pw_run_step_attempts(run, 0), 2);
	PW_CHECK_INT(pw_error_code(pw_run_step_error(run, 0)), PW_ETIMEOUT);
	PW_CHECK_INT(pw_run_step_status(run, 1), PW_STEP_SUCCEEDED);
	PW_CHECK_INT(pw_run_step_status(run, 2), PW_STEP_SKIPPED);
	PW_CHECK_INT(pw_run_step_status(run, 3), PW_STEP_TIMED_OUT);
	PW_CHECK(!pw_run_step_allowed(run, 3));
	char path[600];
	snprintf(path, sizeof(path), "%s/result.json", pw_run_dir(run));
	json_error_t je;
	json_t *rj = json_load_file(path, 0, &je);
	PW_REQUIRE(rj != NULL);
	json_t *steps = json_object_get(rj, "steps");
	PW_CHECK_STR(json_string_value(json_object_get(json_array_get(steps, 0), "status")), "timed_out");
	PW_CHECK(json_is_true(json_object_get(json_array_get(steps, 0), "allowed")));
	PW_CHECK(json_object_get(json_array_get(steps, 3), "allowed") == NULL);
	json_decref(rj);
	fixture_free(&f);

	/* without the strict step the run succeeds */
	const char *alone = "version: 1\n"
	                    "steps:\n"
	                    "  - { name: slow, timeout: 1, allow_failure: true, command: 'sleep 5' }\n";
	o.run_id = "r-allowed-timeout-alone";
	PW_REQUIRE(fixture_new(&f, alone, &o) == 0);
	PW_CHECK_INT(pw_run_execute(f.run, NULL), 0);
	PW_CHECK_INT(pw_run_step_status(f.run, 0), PW_STEP_TIMED_OUT);
	PW_CHECK(pw_run_step_allowed(f.run, 0));
	snprintf(path, sizeof(path), "%s/result.json", pw_run_dir(f.run));
	rj = json_load_file(path, 0, &je);
	PW_REQUIRE(rj != NULL);
	PW_CHECK_STR(json_string_value(json_object_get(rj, "status")), "succeeded");
	json_decref(rj);
	fixture_free(&f);
}

/* The graph: a step sees the outputs of every step it needs, directly or through others, and
 * of no other; a failure skips what needs it, transitively, and not a step declared before
 * that needs nothing failed; needs may name a step further down the file. */
PW_TEST(test_run_graph_outputs_and_skips)
{
	const char *yaml =
	    "version: 1\n"
	    "steps:\n"
	    "  - { name: late, needs: [mid], command: 'echo \"late:$PIPEWRIGHT_STEP_ROOT_X:"
	    "$PIPEWRIGHT_STEP_MID_Y:${PIPEWRIGHT_STEP_SIDE_Z-none}\"' }\n"
	    "  - { name: root, needs: [], command: 'echo x=1 >> \"$PIPEWRIGHT_OUTPUT\"' }\n"
	    "  - { name: side, needs: [], command: 'echo z=3 >> \"$PIPEWRIGHT_OUTPUT\"' }\n"
	    "  - { name: mid, needs: [root], command: 'echo y=2 >> \"$PIPEWRIGHT_OUTPUT\"' }\n"
	    "  - { name: bad, needs: [], command: 'exit 1' }\n"
	    "  - { name: after_bad, needs: [bad], command: 'echo never' }\n"
	    "  - { name: after_after, needs: [after_bad, late], command: 'echo never' }\n"
	    "  - { name: cleanup, needs: [after_after], when: always, command: 'echo cleanup' }\n";
	static events ev = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "r-graph";
	o.on_output = on_output;
	o.output_payload = &ev;
	o.jobs = 2;
	fixture f;
	PW_REQUIRE(fixture_new(&f, yaml, &o) == 0);
	pw_run *run = f.run;
	PW_CHECK_INT(pw_run_execute(run, NULL), PW_ESTEP);
	PW_CHECK_INT(pw_run_step_status(run, 0), PW_STEP_SUCCEEDED);
	PW_CHECK_STR(pw_result_stdout(pw_run_step_result(run, 0)), "late:1:2:none\n");
	PW_CHECK_INT(pw_run_step_status(run, 4), PW_STEP_FAILED);
	PW_CHECK_INT(pw_run_step_status(run, 5), PW_STEP_SKIPPED);
	PW_CHECK_INT(pw_run_step_status(run, 6), PW_STEP_SKIPPED);
	PW_CHECK_INT(pw_run_step_status(run, 7), PW_STEP_SUCCEEDED);
	ev.log[ev.len] = '\0';
	PW_CHECK(strstr(ev.log, "never") == NULL);
	PW_CHECK_CONTAINS(ev.log, "cleanup>cleanup\n");
	fixture_free(&f);
}

PW_TEST_MAIN()
