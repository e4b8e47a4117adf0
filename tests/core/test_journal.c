/* The resource journal (core/journal.h), the run lock that keeps gc away from live runs, and
 * gc's duration parser and journal pass (pipeline/gc.h) on journals of connectors without a
 * remote (a made-up connector: no hook, reported as a failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/internal.h"
#include "core/journal.h"
#include "pipeline/gc.h"
#include "pipewright.h"
#include "pwtest.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pw-journal-XXXXXX");
	if (!mkdtemp(dir))
		dir[0] = '\0';
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		pw__buf_append(&b, tmp, n);
	fclose(f);
	return pw__buf_detach(&b);
}

PW_TEST(journal_created_removed_pending_and_masked)
{
	make_dir();
	PW_REQUIRE(dir[0]);
	char path[128];
	snprintf(path, sizeof(path), "%s/journal", dir);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "r1";
	eo.step_name = "build";
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &eo, NULL) == 0);
	PW_REQUIRE(pw_exec_add_secret(ex, "hunter2-secret", "pw", NULL) == 0);
	pw_journal_entry a = PW_JOURNAL_ENTRY_INIT;
	a.connector = "docker";
	a.kind = "container";
	a.name = "c1";
	a.address = "unix:///run/x.sock";
	const char *labels[] = {"io.pipewright.run", "r1", NULL};
	const char *attrs[] = {"note", "has hunter2-secret inside", NULL};
	a.labels = labels;
	a.attrs = attrs;
	/* no journal set: nothing is written, and that is not an error */
	PW_CHECK_INT(pw__journal_created(ex, &a, NULL), 0);
	PW_CHECK(access(path, F_OK) != 0);
	PW_REQUIRE(pw__exec_set_journal(ex, path) == 0);
	PW_CHECK_INT(pw__journal_created(ex, &a, NULL), 0);
	pw_journal_entry b = a;
	b.name = "c2";
	b.labels = NULL;
	b.attrs = NULL;
	PW_CHECK_INT(pw__journal_created(ex, &b, NULL), 0);
	pw__journal_removed(ex, &a);
	char *text = slurp(path);
	PW_REQUIRE(text);
	PW_CHECK_CONTAINS(text, "\"event\":\"created\"");
	PW_CHECK_CONTAINS(text, "\"run_id\":\"r1\"");
	PW_CHECK_CONTAINS(text, "\"step\":\"build\"");
	PW_CHECK_CONTAINS(text, "\"io.pipewright.run\":\"r1\"");
	PW_CHECK_NOT_CONTAINS(text, "hunter2-secret");
	free(text);
	json_t *pending = NULL;
	PW_CHECK_INT(pw__journal_pending(&pending, path, NULL), 0);
	PW_CHECK_INT(json_array_size(pending), 1);
	PW_CHECK_STR(json_string_value(json_object_get(json_array_get(pending, 0), "name")), "c2");
	/* a crash mid-write leaves a torn last line: skipped */
	FILE *f = fopen(path, "a");
	PW_REQUIRE(f);
	fputs("{\"event\":\"removed\",\"connector\":\"docker\",\"kind\":\"container\",\"na", f);
	fclose(f);
	json_decref(pending);
	PW_CHECK_INT(pw__journal_pending(&pending, path, NULL), 0);
	PW_CHECK_INT(json_array_size(pending), 1);
	/* the next record starts on a line of its own: not lost to the torn one */
	PW_CHECK_INT(pw__journal_mark_removed(path, json_array_get(pending, 0), "gc", NULL), 0);
	json_decref(pending);
	PW_CHECK_INT(pw__journal_pending(&pending, path, NULL), 0);
	PW_CHECK_INT(json_array_size(pending), 0);
	json_decref(pending);
	pw_exec_free(ex);
	/* a missing journal: nothing pending */
	PW_CHECK_INT(pw__journal_pending(&pending, "/nonexistent/journal", NULL), 0);
	PW_CHECK_INT(json_array_size(pending), 0);
	json_decref(pending);
	remove_dir();
}

PW_TEST(gc_parse_duration)
{
	PW_CHECK(pw__gc_parse_duration("90s") == 90000);
	PW_CHECK(pw__gc_parse_duration("30m") == 1800000);
	PW_CHECK(pw__gc_parse_duration("2h") == 7200000);
	PW_CHECK(pw__gc_parse_duration("7d") == 7LL * 86400000);
	PW_CHECK(pw__gc_parse_duration("1h30m") == 5400000);
	PW_CHECK(pw__gc_parse_duration("45") == 45000);
	PW_CHECK(pw__gc_parse_duration("0s") == 0);
	PW_CHECK(pw__gc_parse_duration("") < 0);
	PW_CHECK(pw__gc_parse_duration("h") < 0);
	PW_CHECK(pw__gc_parse_duration("5x") < 0);
	PW_CHECK(pw__gc_parse_duration("-1h") < 0);
	PW_CHECK(pw__gc_parse_duration("1.5h") < 0);
	PW_CHECK(pw__gc_parse_duration("1h30") < 0);
	PW_CHECK(pw__gc_parse_duration("999999999999d") < 0);
}

static void collect(const char *line, void *payload)
{
	pw__buf_printf(payload, "%s\n", line);
}

/* The runner holds .pipewright/runs/<id>/lock for the run's lifetime: a second run with the
 * same id is refused, and gc leaves the live run's journal records alone; once the run is
 * freed, gc handles them (here: a connector without a gc hook, reported as a failure), and
 * its id stays taken. */
PW_TEST(run_lock_keeps_gc_away_from_live_runs)
{
	make_dir();
	PW_REQUIRE(dir[0]);
	char yml[128];
	snprintf(yml, sizeof(yml), "%s/p.yml", dir);
	const char *text = "version: 1\nsteps:\n  - { name: a, command: 'true' }\n";
	pw_pipeline *p = NULL;
	PW_REQUIRE(pw_pipeline_load_string(&p, text, strlen(text), yml, NULL) == 0);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_run_options o = PW_RUN_OPTIONS_INIT;
	o.run_id = "locked-run";
	pw_run *r1 = NULL, *r2 = NULL;
	PW_REQUIRE(pw_run_new(&r1, m, p, &o, NULL) == 0);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_run_new(&r2, m, p, &o, &e), PW_EEXISTS);
	PW_CHECK_CONTAINS(pw_error_message(e), "already running");
	pw_error_free(e);
	char path[256];
	snprintf(path, sizeof(path), "%s/.pipewright/runs/locked-run/journal", dir);
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	je.connector = "made-up";
	je.kind = "thing";
	je.name = "t1";
	PW_CHECK_INT(pw__journal_append(path, "locked-run", "a", "created", &je, NULL), 0);
	pw_buf out = PW_BUF_INIT(0);
	pw_gc_options go = {dir, -1, 0, 0, collect, &out};
	pw_gc_stats st;
	PW_CHECK_INT(pw__gc_run(&st, m, &go, NULL), 0);
	PW_CHECK_INT(st.kept_live, 1);
	PW_CHECK_INT(st.removed + st.failed, 0);
	pw_run_free(r1);
	PW_CHECK_INT(pw__gc_run(&st, m, &go, NULL), 0);
	PW_CHECK_INT(st.kept_live, 0);
	PW_CHECK_INT(st.failed, 1);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "failed to remove made-up thing t1");
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "no gc hook");
	pw__buf_dispose(&out);
	/* finished, its directory stays its own: the id is not used again */
	e = NULL;
	PW_CHECK_INT(pw_run_new(&r2, m, p, &o, &e), PW_EEXISTS);
	PW_CHECK(r2 == NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), "run id 'locked-run' is already used");
	PW_CHECK(e && pw_error_hint(e) && strstr(pw_error_hint(e), "choose another run id"));
	pw_error_free(e);
	pw_manager_free(m);
	pw_pipeline_free(p);
	remove_dir();
}

PW_TEST_MAIN()
