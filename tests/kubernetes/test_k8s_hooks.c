/* MongoDB lifecycle hooks against a real wire-protocol server (CongoDB, started through
 * tests/peers/congodb.sh) and the fake Kubernetes API server: the event documents of steps are
 * read back with libmongoc and checked; a sink that is down fails a step only when required. */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_k8s.h"
#include "fake_server.h"
#include "pipewright/pipeline.h"
#include "pipewright/run.h"
#include "pwtest.h"

static struct {
	pw_fake_server fs; /* CongoDB, through tests/peers/congodb.sh */
	int started;
	char uri[128];
} mdb;

static int mongo_start(void)
{
	if (mdb.started)
		return mdb.fs.pid > 0 ? 0 : -1;
	mdb.started = 1;
	const char *bin = getenv("PW_BINARY_DIR");
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/peers/congodb", bin ? bin : "/tmp/pipewright-peers");
	const char *args[] = {dir, NULL}, *names[] = {"PORT", NULL};
	if (pw_fake_server_start(&mdb.fs, "tests/peers/congodb.sh", args, names, "READY") < 0) {
		fprintf(stderr, "CongoDB did not start (%s): see tests/peers/congodb.sh\n", dir);
		return -1;
	}
	mdb.fs.grace_ms = 1000; /* it leaves when its stdin closes */
	snprintf(mdb.uri, sizeof(mdb.uri), "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=3000",
	         mdb.fs.port[0]);
	return 0;
}

/* The documents of collection coll, in insertion order, as one JSON array. */
static json_t *read_events(const char *coll)
{
	mongoc_client_t *c = mongoc_client_new(mdb.uri);
	json_t *all = json_array();
	if (!c)
		return all;
	mongoc_collection_t *col = mongoc_client_get_collection(c, "pwtest", coll);
	bson_t *q = bson_new();
	mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, q, NULL, NULL);
	const bson_t *doc;
	while (mongoc_cursor_next(cur, &doc)) {
		char *text = bson_as_relaxed_extended_json(doc, NULL);
		json_error_t je;
		json_t *j = json_loads(text, 0, &je);
		if (j)
			json_array_append_new(all, j);
		bson_free(text);
	}
	bson_error_t be;
	if (mongoc_cursor_error(cur, &be))
		fprintf(stderr, "  find: %s\n", be.message);
	mongoc_cursor_destroy(cur);
	bson_destroy(q);
	mongoc_collection_destroy(col);
	mongoc_client_destroy(c);
	return all;
}

static json_t *find_event(json_t *all, const char *event)
{
	size_t i;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		const char *e = json_string_value(json_object_get(d, "event"));
		if (e && !strcmp(e, event))
			return d;
	}
	return NULL;
}

static void use_sink(const char *uri, const char *collection, int required)
{
	setenv("PIPEWRIGHT_MONGODB_URI", uri, 1);
	setenv("PIPEWRIGHT_MONGODB_DATABASE", "pwtest", 1);
	setenv("PIPEWRIGHT_MONGODB_COLLECTION", collection, 1);
	if (required)
		setenv("PIPEWRIGHT_MONGODB_REQUIRED", "true", 1);
	else
		unsetenv("PIPEWRIGHT_MONGODB_REQUIRED");
}

PW_TEST(events_recorded_for_a_step)
{
	PW_REQUIRE(mongo_start() == 0);
	reset();
	char coll[64];
	snprintf(coll, sizeof(coll), "ok_%d", (int)getpid());
	use_sink(mdb.uri, coll, 1);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	run x;
	run_step(&x, m, cfg("\"command\":\"echo hi\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	run_step(&x, m, cfg("\"command\":\"exit 3\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK(x.r && pw_result_exit_code(x.r) == 3);
	run_dispose(&x);
	pw_manager_free(m); /* flushes the sink */

	json_t *all = read_events(coll);
	const char *want[] = {"step_started", "job_created", "pod_scheduled", "running",
	                      "succeeded",    "deleted",     "step_finished", "failed"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!find_event(all, want[i]))
			fprintf(stderr, "  no '%s' event\n", want[i]);
		PW_CHECK(find_event(all, want[i]) != NULL);
	}
	PW_CHECK(json_array_size(all) >= 14); /* two steps of 7 events each */
	json_t *ok = find_event(all, "succeeded");
	PW_REQUIRE(ok);
	PW_CHECK_STR(json_string_value(json_object_get(ok, "run_id")), "20261128-run-ab12");
	PW_CHECK_STR(json_string_value(json_object_get(ok, "step")), "build");
	PW_CHECK_STR(json_string_value(json_object_get(ok, "connector")), "kubernetes");
	PW_CHECK_STR(json_string_value(json_object_get(ok, "namespace")), "ci");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(ok, "job")), "build-");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(ok, "pod")),
	                  json_string_value(json_object_get(ok, "job")));
	PW_CHECK_INT(json_integer_value(json_object_get(ok, "exit_code")), 0);
	PW_CHECK(json_object_get(json_object_get(ok, "at"), "$date") != NULL);
	json_t *bad = find_event(all, "failed");
	PW_CHECK(bad && json_integer_value(json_object_get(bad, "exit_code")) == 3);
	json_t *started = find_event(all, "step_started");
	PW_CHECK(started && json_is_null(json_object_get(started, "exit_code")));
	PW_CHECK(started && json_is_null(json_object_get(started, "pod")));
	json_decref(all);
}

PW_TEST(cancel_recorded)
{
	PW_REQUIRE(mongo_start() == 0);
	reset();
	char coll[64];
	snprintf(coll, sizeof(coll), "cancel_%d", (int)getpid());
	use_sink(mdb.uri, coll, 0);
	run x;
	run_step(&x, NULL, cfg("\"command\":\"sleep 30\""), 60, NULL, NULL, 600);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	run_dispose(&x);
	json_t *all = read_events(coll);
	PW_CHECK(find_event(all, "cancelled") != NULL);
	PW_CHECK(find_event(all, "deleted") != NULL);
	json_decref(all);
}

PW_TEST(sink_down)
{
	reset();
	/* a port nothing listens on */
	use_sink("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500&connectTimeoutMS=500", "none", 0);
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo still-runs\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "still-runs\n");
	run_dispose(&x);
	use_sink("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500&connectTimeoutMS=500", "none", 1);
	run_step(&x, NULL, cfg("\"command\":\"echo runs\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "required MongoDB lifecycle hook");
	run_dispose(&x);
	unsetenv("PIPEWRIGHT_MONGODB_URI");
	unsetenv("PIPEWRIGHT_MONGODB_REQUIRED");
}

/* A pipeline run through the library in a workspace of its own (removed at exit). */
typedef struct piperun {
	pw_pipeline *p;
	pw_manager *m;
	pw_run *r;
	char ws[64];
} piperun;

/* Loads yaml and executes it as run run_id: pw_run_execute's result, or -1 when it could not
 * start (reported). */
static int piperun_go(piperun *x, const char *yaml, const char *run_id)
{
	memset(x, 0, sizeof(*x));
	pw_error *e = NULL;
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.workspace = x->ws;
	o.run_id = run_id;
	if (pw_test_dir(x->ws, sizeof(x->ws), "pw-hooks") < 0 ||
	    pw_pipeline_load_string(&x->p, yaml, strlen(yaml), "hooks.yml", &e) < 0 ||
	    pw_manager_new(&x->m, NULL, &e) < 0 || pw_run_new(&x->r, x->m, x->p, &o, &e) < 0) {
		fprintf(stderr, "  cannot start the run: %s\n", e ? pw_error_message(e) : "?");
		pw_error_free(e);
		return -1;
	}
	int rc = pw_run_execute(x->r, &e);
	pw_error_free(e);
	return rc;
}

/* Frees the run (which writes or gives up what the sink still holds), manager and pipeline. */
static void piperun_end(piperun *x)
{
	pw_run_free(x->r);
	pw_manager_free(x->m);
	pw_pipeline_free(x->p);
}

/* The pipeline's `hooks:` section: the runner records the start and end of every step, whatever
 * its connector, with the exit code and final status. */
PW_TEST(pipeline_hooks_record_every_step)
{
	PW_REQUIRE(mongo_start() == 0);
	unsetenv("PIPEWRIGHT_MONGODB_URI");
	char coll[64], yaml[1024];
	snprintf(coll, sizeof(coll), "pipeline_%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
	         "version: 1\n"
	         "hooks:\n"
	         "  mongodb: { uri: \"%s\", database: pwtest, collection: %s, required: true }\n"
	         "steps:\n"
	         "  - { name: build, command: \"echo built\" }\n"
	         "  - { name: lint, command: \"exit 4\", allow_failure: true }\n",
	         mdb.uri, coll);
	piperun x;
	PW_CHECK_INT(piperun_go(&x, yaml, "hooks-run-1"), 0);
	piperun_end(&x);

	json_t *all = read_events(coll);
	size_t i, started = 0, finished = 0;
	json_t *d;
	json_array_foreach(all, i, d)
	{
		const char *ev = json_string_value(json_object_get(d, "event"));
		const char *step = json_string_value(json_object_get(d, "step"));
		PW_CHECK_STR(json_string_value(json_object_get(d, "run_id")), "hooks-run-1");
		PW_CHECK_STR(json_string_value(json_object_get(d, "connector")), "shell");
		if (ev && !strcmp(ev, "step_started"))
			started++;
		if (ev && !strcmp(ev, "step_finished") && step && !strcmp(step, "build")) {
			finished++;
			PW_CHECK_INT(json_integer_value(json_object_get(d, "exit_code")), 0);
			PW_CHECK_STR(json_string_value(json_object_get(d, "message")), "succeeded");
		}
		if (ev && !strcmp(ev, "step_finished") && step && !strcmp(step, "lint")) {
			finished++;
			PW_CHECK_INT(json_integer_value(json_object_get(d, "exit_code")), 4);
			PW_CHECK_STR(json_string_value(json_object_get(d, "message")), "allowed_failure");
		}
	}
	PW_CHECK_INT(started, 2);
	PW_CHECK_INT(finished, 2);
	json_decref(all);
}

static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* The password in the hook URI is a secret of the run, as written and percent-decoded: a step
 * that prints it shows "***" on the console, in its log and in result.json, and the sink's
 * failure (nothing listens there) quotes no part of it. */
PW_TEST(hook_uri_password_is_masked)
{
	unsetenv("PIPEWRIGHT_MONGODB_URI");
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
	         "version: 1\n"
	         "hooks:\n"
	         "  mongodb:\n"
	         "    uri: \"mongodb://pwhook:hookCanary%%2Bq7%%40Zx@127.0.0.1:9/"
	         "?serverSelectionTimeoutMS=500&connectTimeoutMS=500\"\n"
	         "    collection: none\n"
	         "steps:\n"
	         "  - { name: leak, command: 'echo \"d=hookCanary+q7@Zx r=hookCanary%%2Bq7%%40Zx\"' }\n");
	piperun x;
	PW_CHECK_INT(piperun_go(&x, yaml, "hooks-secret"), 0);
	PW_REQUIRE(x.r != NULL);
	pw_run *r = x.r;
	PW_CHECK_STR(pw_result_stdout(pw_run_step_result(r, 0)), "d=*** r=***\n");
	char path[512];
	const char *files[] = {"leak.log", "result.json", "audit.jsonl"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pw_run_dir(r), files[i]);
		PW_CHECK_INT(file_has(path, "hookCanary"), 0);
	}
	snprintf(path, sizeof(path), "%s/leak.log", pw_run_dir(r));
	PW_CHECK_INT(file_has(path, "d=*** r=***"), 1);
	piperun_end(&x);
}

PW_TEST_MAIN()
