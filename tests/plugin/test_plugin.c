/* Custom connectors: loading shared-object plug-ins (every error path with its message) and
 * executable connectors speaking the fd-3 JSON protocol (results, garbage, crashes, limits,
 * validation, plan, timeouts ending the process group, masking). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipewright.h"
#include "pipewright/sys/plugin.h"
#include "pwtest.h"

#define BAD(name) PW_TEST_BAD_PLUGINS "/" name ".so"
#define CONN(name) PW_TEST_CONNECTORS "/pipewright-connector-" name

static pw_manager *new_manager(void)
{
	pw_manager *m = NULL;
	return pw_manager_new(&m, NULL, NULL) == 0 ? m : NULL;
}

static int has_type(pw_manager *m, const char *type)
{
	char **list = NULL;
	int found = 0;
	if (pw_manager_list_available_connectors(&list, m) != 0)
		return 0;
	for (size_t i = 0; list[i]; i++)
		found |= strcmp(list[i], type) == 0;
	pw_strv_free(list);
	return found;
}

/* Loads `path` expecting `code`; checks the message holds `what` and the file's path. */
static void expect_load_error(pw_manager *m, const char *path, int code, const char *what)
{
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_load_plugin(m, path, &e), code);
	PW_REQUIRE(e != NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), what);
	PW_CHECK_CONTAINS(pw_error_message(e), path);
	PW_CHECK(pw_error_hint(e) != NULL);
	pw_error_free(e);
}

static pw_step *step_with(const char *name, const char *type, const char *json)
{
	pw_step *s = NULL;
	if (pw_step_new(&s, name, type) != 0)
		return NULL;
	if (json && pw_step_set_config_json(s, json, NULL) != 0) {
		pw_step_free(s);
		return NULL;
	}
	return s;
}

/* {"connector_path": CONN(name)} plus extra members. */
static pw_step *conn_step(const char *type, const char *program, const char *extra)
{
	char json[2048];
	snprintf(json, sizeof(json), "{\"connector_path\":\"%s\"%s%s}", program, extra ? "," : "",
	         extra ? extra : "");
	return step_with("s", type, json);
}

PW_TEST(test_plugin_loads_and_serves)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_load_plugin(m, PW_TEST_GREET_PLUGIN, &e), 0);
	PW_CHECK(e == NULL);
	PW_CHECK_INT(pw_manager_plugin_count(m), 1);
	PW_CHECK_STR(pw_manager_plugin_path(m, 0), PW_TEST_GREET_PLUGIN);
	PW_CHECK(has_type(m, "custom:greet"));
	/* the same file again is a no-op */
	PW_CHECK_INT(pw_manager_load_plugin(m, PW_TEST_GREET_PLUGIN, NULL), 0);
	PW_CHECK_INT(pw_manager_plugin_count(m), 1);

	pw_connector *c = NULL, *c2 = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "custom:greet", NULL), 0);
	PW_CHECK_INT(pw_manager_get_connector(&c2, m, "custom:greet", NULL), 0);
	PW_REQUIRE(c != NULL);
	PW_CHECK(c == c2);
	PW_CHECK_STR(pw_connector_name(c), "greet");

	pw_step *s = step_with("hi", "custom:greet", "{\"who\":\"tests\"}");
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, "/tmp", "run-1", NULL, NULL) == 0);
	pw_result *r = NULL;
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, NULL, NULL, &e), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_exit_code(r), 0);
	PW_CHECK_CONTAINS(pw_result_stdout(r), "hello, tests, from a plug-in");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "greeted"), "tests");
	pw_result_free(r);

	char *plan = NULL;
	PW_CHECK_INT(pw_connector_plan(&plan, c, s, ws, NULL, NULL), 0);
	PW_CHECK_CONTAINS(plan, "greet tests");
	pw_free(plan);

	/* validation goes through the plug-in */
	pw_step *bad = step_with("hi", "custom:greet", "{\"who\":[1]}");
	PW_CHECK_INT(pw_connector_validate_config(c, bad, &e), PW_ECONFIG);
	PW_CHECK_STR(pw_error_key(e), "who");
	pw_error_free(e);
	pw_step_free(bad);

	pw_map *stats = NULL;
	PW_REQUIRE(pw_manager_get_stats_map(&stats, m) == 0);
	PW_CHECK_STR(pw_map_get(stats, "custom:greet.created"), "1");
	PW_CHECK_STR(pw_map_get(stats, "custom:greet.executions"), "1");
	pw_map_free(stats);
	/* clear_cache drops the plug-in's connector; the next use creates it again */
	pw_manager_clear_cache(m);
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "custom:greet", NULL), 0);
	PW_REQUIRE(pw_manager_get_stats_map(&stats, m) == 0);
	PW_CHECK_STR(pw_map_get(stats, "custom:greet.created"), "2");
	pw_map_free(stats);

	pw_step_free(s);
	pw_workspace_free(ws);
	pw_manager_free(m); /* unloads the plug-in after its connector is destroyed */
}

PW_TEST(test_plugin_load_errors)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	expect_load_error(m, PW_TEST_BAD_PLUGINS "/missing.so", PW_ENOTFOUND, "No such file or directory");
	expect_load_error(m, BAD("noentry"), PW_ENOTFOUND, "has no entry point 'pipewright_plugin_init'");
	expect_load_error(m, BAD("noentry"), PW_ENOTFOUND, "undefined symbol"); /* dlerror() */
	expect_load_error(m, BAD("abi"), PW_EABI, "was built for a different plug-in ABI");
	expect_load_error(m, BAD("initfail"), PW_ECONFIG,
	                  "failed to initialise: TEST_PLUGIN_TOKEN is not set");
	expect_load_error(
	    m, BAD("dupshell"), PW_EEXISTS,
	    "connector type 'shell' is already provided by pipewright itself (a built-in type)");
	expect_load_error(m, BAD("dupself"), PW_EEXISTS,
	                  "'custom:twice' is already provided by the same plug-in");
	expect_load_error(m, BAD("nofactory"), PW_EINVAL, "registered no connector factory");
	expect_load_error(m, PW_TEST_BAD_PLUGINS, PW_EINVAL, "not a regular file");

	/* a file that is not a shared object: dlopen's own words */
	char path[] = "/tmp/pw-plugin-test-XXXXXX.so";
	int fd = mkstemps(path, 3);
	PW_REQUIRE(fd >= 0);
	PW_CHECK(write(fd, "not an ELF file\n", 16) == 16);
	close(fd);
	expect_load_error(m, path, PW_EIO, "cannot load plug-in");
	pw_error *e = NULL;
	pw_manager_load_plugin(m, path, &e);
	PW_CHECK(e && (strstr(pw_error_message(e), "ELF") || strstr(pw_error_message(e), "too short")));
	pw_error_free(e);
	unlink(path);

	/* a failed init registered nothing; the broken files are not kept */
	PW_CHECK(!has_type(m, "custom:initfail"));
	PW_CHECK(!has_type(m, "custom:twice"));
	PW_CHECK_INT(pw_manager_plugin_count(m), 0);

	/* a second provider of a plug-in's type */
	PW_CHECK_INT(pw_manager_load_plugin(m, PW_TEST_GREET_PLUGIN, NULL), 0);
	expect_load_error(m, BAD("dupgreet"), PW_EEXISTS,
	                  "connector type 'custom:greet' is already provided by a plug-in loaded before it");
	PW_CHECK_INT(pw_manager_plugin_count(m), 1);
	pw_manager_free(m);
}

PW_TEST(test_plugin_dirs)
{
	char dir[] = "/tmp/pw-plugin-dir-XXXXXX";
	PW_REQUIRE(mkdtemp(dir) != NULL);
	char a[512], b[512], c[512];
	snprintf(a, sizeof(a), "%s/greet.so", dir);
	snprintf(b, sizeof(b), "%s/two.so", dir);
	snprintf(c, sizeof(c), "%s/README", dir);
	PW_REQUIRE(symlink(PW_TEST_GREET_PLUGIN, a) == 0);
	PW_REQUIRE(symlink(BAD("two"), b) == 0);
	FILE *f = fopen(c, "w");
	PW_REQUIRE(f != NULL);
	fputs("not a plug-in\n", f);
	fclose(f);

	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	char dirs[1200];
	snprintf(dirs, sizeof(dirs), "/nonexistent/pw::%s", dir);
	PW_CHECK_INT(pw_manager_load_plugin_dirs(m, dirs, NULL), 0);
	PW_CHECK_INT(pw_manager_plugin_count(m), 2);
	PW_CHECK(has_type(m, "custom:greet"));
	PW_CHECK(has_type(m, "custom:two-a"));
	PW_CHECK(has_type(m, "custom:two-b"));
	pw_manager_free(m);

	/* one broken plug-in among good ones: reported, the others still load */
	char d[512];
	snprintf(d, sizeof(d), "%s/abi.so", dir);
	PW_REQUIRE(symlink(BAD("abi"), d) == 0);
	m = new_manager();
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_load_plugin_dirs(m, dir, &e), PW_EABI);
	PW_CHECK(e && strstr(pw_error_message(e), "abi.so"));
	PW_CHECK_INT(pw_manager_plugin_count(m), 2);
	pw_error_free(e);
	pw_manager_free(m);
	unlink(a);
	unlink(b);
	unlink(c);
	unlink(d);
	rmdir(dir);
}

/* Runs a step of an executable connector with a run-wide secret set. */
static int run_exec(pw_result **out, pw_error **err, pw_manager *m, pw_step *s, pw_secrets *sec,
                    const pw_map *env)
{
	pw_workspace *ws = NULL;
	if (pw_workspace_new(&ws, "/tmp", "run-x", NULL, NULL) != 0)
		return -100;
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.step_name = pw_step_name(s);
	o.timeout_seconds = pw_step_timeout(s);
	o.secrets = sec;
	pw_exec *ex = NULL;
	int rc = pw_exec_new(&ex, &o, NULL);
	if (rc == 0)
		rc = pw_manager_execute_step(out, m, s, ws, env, ex, err);
	pw_exec_free(ex);
	pw_workspace_free(ws);
	return rc;
}

PW_TEST(test_exec_connector_result_and_masking)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_secrets *sec = NULL;
	PW_REQUIRE(pw_secrets_new(&sec) == 0);
	PW_REQUIRE(pw_secrets_add(sec, "t0ps3cret-value", "DEPLOY_TOKEN", NULL) == 0);
	pw_map *env = pw_map_new();
	pw_map_set(env, "DEPLOY_TOKEN", "t0ps3cret-value");
	pw_step *s = conn_step("custom:echoenv", CONN("echoenv"), NULL);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_exec(&r, &e, m, s, sec, env), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_exit_code(r), 0);
	PW_CHECK_CONTAINS(pw_result_stdout(r), "token is ***");
	PW_CHECK_CONTAINS(pw_result_stdout(r), "request ok");
	PW_CHECK_NOT_CONTAINS(pw_result_stdout(r), "t0ps3cret");
	PW_CHECK_CONTAINS(pw_result_stderr(r), "protocol 1 step s");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "token"), "***");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "n"), "3");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "connector_program"), CONN("echoenv"));
	pw_result_free(r);
	pw_step_free(s);

	/* a proper failure result is a result, not an error */
	s = conn_step("custom:failing", CONN("failing"), NULL);
	PW_CHECK_INT(run_exec(&r, &e, m, s, sec, NULL), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_exit_code(r), 7);
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "why"), "on purpose");
	PW_CHECK_CONTAINS(pw_result_stderr(r), "step failed on purpose");
	pw_result_free(r);
	pw_step_free(s);
	pw_map_free(env);
	pw_secrets_free(sec);
	pw_manager_free(m);
}

/* Executes and expects an error with `code` whose message holds `what` and the program. */
static void expect_exec_error(const char *name, int code, const char *what, const char *response)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	char type[64], prog[512];
	snprintf(type, sizeof(type), "custom:%s", name);
	snprintf(prog, sizeof(prog), PW_TEST_CONNECTORS "/pipewright-connector-%s", name);
	pw_step *s = conn_step(type, prog, NULL);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), code);
	PW_CHECK(r == NULL);
	PW_REQUIRE(e != NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), what);
	PW_CHECK_CONTAINS(pw_error_message(e), prog);
	PW_CHECK(pw_error_hint(e) != NULL);
	if (response)
		PW_CHECK_CONTAINS(pw_error_response(e), response);
	pw_error_free(e);
	pw_map *stats = NULL;
	pw_manager_get_stats_map(&stats, m);
	char key[128];
	snprintf(key, sizeof(key), "%s.failures", type);
	PW_CHECK_STR(pw_map_get(stats, key), "1");
	pw_map_free(stats);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST(test_exec_connector_failures)
{
	expect_exec_error("crash", PW_EEXTERNAL, "crashed in execute: killed by signal 11", NULL);
	expect_exec_error("garbage", PW_EEXTERNAL, "wrote an invalid result on fd 3 in execute",
	                  "this is {not json");
	expect_exec_error("noresult", PW_EEXTERNAL, "exited with code 3 in execute without writing a result",
	                  NULL);
	expect_exec_error("huge", PW_EEXTERNAL, "wrote more than 1048576 bytes on fd 3", NULL);
}

PW_TEST(test_exec_connector_validate_and_find)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_connector *c = NULL;
	pw_error *e = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:picky", NULL) == 0);
	PW_CHECK_STR(pw_connector_name(c), "pipewright-connector-picky");
	pw_step *s = conn_step("custom:picky", CONN("picky"), NULL);
	PW_CHECK_INT(pw_connector_validate_config(c, s, &e), PW_ECONFIG);
	PW_REQUIRE(e != NULL);
	PW_CHECK_STR(pw_error_key(e), "region");
	PW_CHECK_CONTAINS(pw_error_message(e), "region is required");
	PW_CHECK_STR(pw_error_hint(e), "add region: eu-west-1");
	PW_REQUIRE(pw_error_next(e) != NULL);
	PW_CHECK_STR(pw_error_key(pw_error_next(e)), "size");
	pw_error_free(e);
	e = NULL;
	pw_step_free(s);

	/* no program anywhere */
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:nope", NULL) == 0);
	s = step_with("s", "custom:nope", NULL);
	PW_CHECK_INT(pw_connector_validate_config(c, s, &e), PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_message(e), "no program 'pipewright-connector-nope' is on PATH");
	PW_CHECK_CONTAINS(pw_error_hint(e), "--plugin");
	pw_error_free(e);
	e = NULL;
	pw_step_free(s);

	/* connector_path to a file that is not executable */
	s = conn_step("custom:nope", PW_TEST_CONNECTORS "/../bad_plugins.c", NULL);
	PW_CHECK_INT(pw_connector_validate_config(c, s, &e), PW_EPERM);
	PW_CHECK_CONTAINS(pw_error_message(e), "not executable");
	PW_CHECK_STR(pw_error_key(e), "connector_path");
	pw_error_free(e);
	e = NULL;
	pw_step_free(s);

	/* found on PATH */
	const char *old = getenv("PATH");
	char *saved = strdup(old ? old : "/usr/bin:/bin");
	char path[4096];
	snprintf(path, sizeof(path), "%s:%s", PW_TEST_EXAMPLES "/connectors", saved);
	setenv("PATH", path, 1);
	char **list = NULL;
	pw_manager_list_available_connectors(&list, m);
	int listed = 0;
	for (size_t i = 0; list && list[i]; i++)
		listed |= strcmp(list[i], "custom:hello") == 0;
	PW_CHECK(listed);
	pw_strv_free(list);
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:hello", NULL) == 0);
	s = step_with("s", "custom:hello", "{\"who\":\"path\"}");
	PW_CHECK_INT(pw_connector_validate_config(c, s, NULL), 0);
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, "/tmp", "plan", NULL, NULL) == 0);
	char *plan = NULL;
	PW_CHECK_INT(pw_connector_plan(&plan, c, s, ws, NULL, NULL), 0);
	PW_CHECK_CONTAINS(plan, "say hello to path in /tmp");
	pw_free(plan);
	pw_step_free(s);
	s = step_with("s", "custom:hello", "{\"who\":\"path\",\"colour\":1}");
	PW_CHECK_INT(pw_connector_validate_config(c, s, &e), PW_ECONFIG);
	PW_CHECK_STR(pw_error_key(e), "colour");
	pw_error_free(e);
	e = NULL;
	pw_step_free(s);
	setenv("PATH", saved, 1);
	free(saved);

	/* a plan answer that is not an object */
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:garbage", NULL) == 0);
	s = conn_step("custom:garbage", CONN("garbage"), NULL);
	PW_CHECK_INT(pw_connector_plan(&plan, c, s, ws, NULL, &e), PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(e), "that is not a JSON object");
	pw_error_free(e);
	pw_step_free(s);
	pw_workspace_free(ws);
	pw_manager_free(m);
}

/* 1 once no process matches the pgrep pattern (a signalled one may take a moment to go). */
static int gone_soon(const char *pattern)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "pgrep -f '%s' >/dev/null", pattern);
	for (int i = 0; i < 100; i++) {
		if (system(cmd) != 0)
			return 1;
		usleep(20 * 1000);
	}
	return 0;
}

PW_TEST(test_exec_connector_timeout_kills_group)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s = conn_step("custom:sleepy", CONN("sleepy"), "\"kill_grace\":1");
	pw_step_set_timeout(s, 1);
	pw_result *r = NULL;
	pw_error *e = NULL;
	time_t t0 = time(NULL);
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), PW_ETIMEOUT);
	PW_CHECK(time(NULL) - t0 < 6);
	PW_CHECK(e && strstr(pw_error_message(e), "timed out"));
	pw_error_free(e);
	pw_result_free(r);
	/* the background sleep of the program's group is gone too */
	PW_CHECK(gone_soon("slee[p] 371"));
	pw_step_free(s);
	pw_manager_free(m);
}

/* Stopped at its deadline, a program that traps SIGTERM and exits 0 without a result did not
 * succeed: the step timed out, and its process's status stays in the result. */
PW_TEST(test_exec_connector_stopped_never_succeeds)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s = conn_step("custom:trapper", CONN("trapper"), "\"kill_grace\":1");
	pw_step_set_timeout(s, 1);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), PW_ETIMEOUT);
	PW_CHECK(e && strstr(pw_error_message(e), "timed out"));
	pw_map *stats = NULL;
	pw_manager_get_stats_map(&stats, m);
	PW_CHECK_STR(pw_map_get(stats, "custom:trapper.failures"), "1");
	pw_map_free(stats);
	pw_error_free(e);
	pw_result_free(r);
	PW_CHECK(gone_soon("slee[p] 373"));
	pw_step_free(s);
	pw_manager_free(m);
}

static void *cancel_later(void *arg)
{
	usleep(700 * 1000);
	pw_exec_cancel(arg, PW_CANCEL_USER);
	return NULL;
}

/* The validation before an execution runs under the step's deadline and its cancellation,
 * not under the 60 s of a validation on its own. */
PW_TEST(test_exec_connector_validate_before_execute_is_bounded)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s = conn_step("custom:slowcheck", CONN("slowcheck"), "\"kill_grace\":1");
	pw_step_set_timeout(s, 1);
	pw_result *r = NULL;
	pw_error *e = NULL;
	time_t t0 = time(NULL);
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), PW_ETIMEOUT);
	PW_CHECK(time(NULL) - t0 < 8);
	PW_CHECK(e && strstr(pw_error_message(e), "timed out after 1 s"));
	pw_error_free(e);
	e = NULL;
	pw_result_free(r);
	r = NULL;
	PW_CHECK(gone_soon("slee[p] 374"));

	/* a cancel stops it too */
	pw_step_set_timeout(s, 0);
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, "/tmp", "run-v", NULL, NULL) == 0);
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.step_name = "s";
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	pthread_t t;
	PW_REQUIRE(pthread_create(&t, NULL, cancel_later, ex) == 0);
	t0 = time(NULL);
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, NULL, ex, &e), PW_ECANCELLED);
	pthread_join(t, NULL);
	PW_CHECK(time(NULL) - t0 < 8);
	PW_CHECK(e && strstr(pw_error_message(e), "was cancelled"));
	pw_error_free(e);
	pw_result_free(r);
	pw_exec_free(ex);
	pw_workspace_free(ws);
	PW_CHECK(gone_soon("slee[p] 374"));
	pw_step_free(s);
	pw_manager_free(m);
}

/* A journal request over 64 KiB is answered with a refusal, not left unanswered. */
PW_TEST(test_exec_connector_oversized_journal_request)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s = conn_step("custom:bigjournal", CONN("bigjournal"), "\"kill_grace\":1");
	pw_step_set_timeout(s, 10);
	pw_result *r = NULL;
	pw_error *e = NULL;
	time_t t0 = time(NULL);
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), 0);
	PW_CHECK(time(NULL) - t0 < 8);
	PW_REQUIRE(r != NULL);
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata(r), "answer"), "request over 64 KiB");
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata(r), "answer"), "\"ok\":false");
	pw_result_free(r);
	pw_error_free(e);
	pw_step_free(s);
	pw_manager_free(m);
}

/* A result, then a non-zero exit: the step fails, naming the status; the metadata stays. */
PW_TEST(test_exec_connector_exit_status_after_result)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s = conn_step("custom:lateexit", CONN("lateexit"), NULL);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_exec(&r, &e, m, s, NULL, NULL), PW_EEXTERNAL);
	PW_REQUIRE(e != NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), "exited with code 7 after writing its result");
	PW_REQUIRE(r != NULL);
	PW_CHECK(!pw_result_is_success(r));
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "kept"), "yes");
	pw_result_free(r);
	pw_error_free(e);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST_MAIN()
