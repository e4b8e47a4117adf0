/* Input hardening: pipeline values never reach a host shell command line, paths that leave
 * the workspace are refused, the loader bounds alias bombs and deep nesting, and errors never
 * quote a secret (whole or in part). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connectors/shell/shell.h"
#include "core/buf.h"
#include "core/internal.h"
#include "pipewright.h"
#include "pwtest.h"

static char workdir[256];

/* A fresh scratch directory holding ws/ (the workspace) and outside/ (next to it). */
static void make_workdir(void)
{
	snprintf(workdir, sizeof(workdir), "/tmp/pw-harden-XXXXXX");
	if (!mkdtemp(workdir)) {
		workdir[0] = '\0';
		return;
	}
	char p[512];
	snprintf(p, sizeof(p), "%s/ws", workdir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/outside", workdir);
	mkdir(p, 0700);
}

static void remove_workdir(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", workdir);
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", workdir, rel);
	return lstat(p, &st) == 0;
}

/* Runs one step (config as JSON) in workdir/ws with env; returns the rc, the result and the
 * error (caller frees both). */
static int run_step(pw_result **out, pw_error **err, const char *type, const char *config, const pw_map *env)
{
	pw_manager *m = NULL;
	pw_step *s = NULL;
	pw_workspace *ws = NULL;
	char root[512];
	snprintf(root, sizeof(root), "%s/ws", workdir);
	*out = NULL;
	int rc = pw_manager_new(&m, NULL, err);
	if (rc == 0)
		rc = pw_step_new(&s, "harden", type);
	if (rc == 0)
		rc = pw_step_set_config_json(s, config, err);
	if (rc == 0)
		rc = pw_workspace_new(&ws, root, "harden-run", NULL, err);
	if (rc == 0)
		rc = pw_manager_execute_step(out, m, s, ws, env, NULL, err);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
	return rc;
}

/* ---- no pipeline value reaches a host shell ---- */

PW_TEST(argv_command_is_not_run_by_a_shell)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc = run_step(&r, &e, "shell",
	                  "{\"command\": [\"printf\", \"%s|\", \"$(touch ../outside/p1)\", "
	                  "\"`touch ../outside/p2`\", \"; touch ../outside/p3\", \"&& touch p4\"]}",
	                  NULL);
	PW_CHECK_INT(rc, 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_STR(pw_result_stdout(r),
	             "$(touch ../outside/p1)|`touch ../outside/p2`|; touch ../outside/p3|&& touch p4|");
	PW_CHECK(!exists("outside/p1") && !exists("outside/p2") && !exists("outside/p3") && !exists("ws/p4"));
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

PW_TEST(environment_values_are_data_not_code)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	pw_map *env = pw_map_new();
	pw_map_set(env, "V", "$(touch ../outside/e1)`touch ../outside/e2`; touch ../outside/e3");
	pw_result *r = NULL;
	pw_error *e = NULL;
	/* the string command is the step itself (run by /bin/sh); values arrive as variables */
	int rc = run_step(&r, &e, "shell",
	                  "{\"command\": \"printf '%s' \\\"$V\\\"\", "
	                  "\"environment\": {\"W\": \"$(touch ../outside/e4)\"}}",
	                  env);
	PW_CHECK_INT(rc, 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_STR(pw_result_stdout(r), "$(touch ../outside/e1)`touch ../outside/e2`; touch ../outside/e3");
	PW_CHECK(!exists("outside/e1") && !exists("outside/e2") && !exists("outside/e3") &&
	         !exists("outside/e4"));
	pw_result_free(r);
	pw_error_free(e);
	pw_map_free(env);
	remove_workdir();
}

PW_TEST(connector_path_is_a_path_not_a_command_line)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc = run_step(&r, &e, "custom:x",
	                  "{\"connector_path\": \"./prog; touch ../outside/c1 #\", \"a\": \"$(touch "
	                  "../outside/c2)\"}",
	                  NULL);
	PW_CHECK(rc < 0);
	PW_CHECK(r == NULL);
	PW_REQUIRE(e != NULL);
	PW_CHECK(!exists("outside/c1") && !exists("outside/c2"));
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

PW_TEST(steps_and_connector_programs_do_not_get_the_host_environment)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	char prog[512];
	snprintf(prog, sizeof(prog), "%s/ws/pipewright-connector-env", workdir);
	FILE *f = fopen(prog, "w");
	PW_REQUIRE(f != NULL);
	fputs("#!/bin/sh\ncat >/dev/null\nenv | sort\nprintf '{\"exit_code\":0}' >&3\n", f);
	fclose(f);
	PW_REQUIRE(chmod(prog, 0700) == 0);
	PW_REQUIRE(setenv("PW_HOST_ONLY_CREDENTIAL", "host-credential-value", 1) == 0);
	pw_map *env = pw_map_new();
	pw_map_set(env, "GIVEN", "given-value");
	char cfg[700];
	snprintf(cfg, sizeof(cfg), "{\"connector_path\": \"%s\"}", prog);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_step(&r, &e, "custom:env", cfg, env), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_NOT_CONTAINS(pw_result_stdout(r), "PW_HOST_ONLY_CREDENTIAL");
	PW_CHECK_CONTAINS(pw_result_stdout(r), "GIVEN=given-value");
	PW_CHECK_CONTAINS(pw_result_stdout(r), "PIPEWRIGHT_PROTOCOL=1");
	pw_result_free(r);
	pw_error_free(e);
	r = NULL;
	e = NULL;
	PW_CHECK_INT(run_step(&r, &e, "shell", "{\"command\": \"env\"}", env), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK_NOT_CONTAINS(pw_result_stdout(r), "PW_HOST_ONLY_CREDENTIAL");
	PW_CHECK_CONTAINS(pw_result_stdout(r), "GIVEN=given-value");
	pw_result_free(r);
	pw_error_free(e);
	unsetenv("PW_HOST_ONLY_CREDENTIAL");
	pw_map_free(env);
	remove_workdir();
}

/* ---- paths that leave the workspace ---- */

static void check_refused(const char *wd, const char *message)
{
	char cfg[512];
	snprintf(cfg, sizeof(cfg), "{\"command\": \"touch escaped\", \"working_directory\": \"%s\"}", wd);
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc = run_step(&r, &e, "shell", cfg, NULL);
	PW_CHECK_INT(rc, PW_ECONFIG);
	PW_CHECK(r == NULL);
	PW_REQUIRE(e != NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), message);
	PW_CHECK_STR(pw_error_key(e), "working_directory");
	PW_CHECK(pw_error_hint(e) != NULL);
	pw_result_free(r);
	pw_error_free(e);
}

PW_TEST(working_directory_that_is_not_text_is_refused)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	const char *cfgs[] = {"{\"command\": \"true\", \"working_directory\": 5}",
	                      "{\"command\": \"true\", \"working_directory\": [\"a\"]}"};
	for (size_t i = 0; i < 2; i++) {
		pw_result *r = NULL;
		pw_error *e = NULL;
		PW_CHECK_INT(run_step(&r, &e, "shell", cfgs[i], NULL), PW_ECONFIG);
		PW_CHECK(r == NULL);
		PW_REQUIRE(e != NULL);
		PW_CHECK_CONTAINS(pw_error_message(e), "working_directory must be a path");
		PW_CHECK_NOT_CONTAINS(pw_error_message(e), "leaves the workspace");
		PW_CHECK_STR(pw_error_key(e), "working_directory");
		PW_CHECK_CONTAINS(pw_error_hint(e), "relative to the workspace");
		pw_error_free(e);
	}
	remove_workdir();
}

PW_TEST(working_directory_with_dotdot_is_refused)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	check_refused("..", "leaves the workspace");
	check_refused("../outside", "leaves the workspace");
	check_refused("a/../../outside", "leaves the workspace");
	check_refused("./a/b/../../..", "leaves the workspace");
	check_refused("/tmp", "leaves the workspace");
	PW_CHECK(!exists("escaped") && !exists("outside/escaped"));
	/* climbing inside the workspace is fine */
	char p[512];
	snprintf(p, sizeof(p), "%s/ws/sub", workdir);
	PW_REQUIRE(mkdir(p, 0700) == 0);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_step(&r, &e, "shell",
	                      "{\"command\": \"touch inside\", \"working_directory\": \"sub/../sub\"}", NULL),
	             0);
	PW_CHECK(exists("ws/sub/inside"));
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

PW_TEST(working_directory_through_a_symlink_out_is_refused)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	char link[512], target[512];
	snprintf(link, sizeof(link), "%s/ws/out", workdir);
	snprintf(target, sizeof(target), "%s/outside", workdir);
	PW_REQUIRE(symlink(target, link) == 0);
	snprintf(link, sizeof(link), "%s/ws/root", workdir);
	PW_REQUIRE(symlink("/", link) == 0);
	snprintf(link, sizeof(link), "%s/ws/up", workdir);
	PW_REQUIRE(symlink("..", link) == 0);
	check_refused("out", "resolves outside the workspace");
	check_refused("root/tmp", "resolves outside the workspace");
	check_refused("up/outside", "resolves outside the workspace");
	PW_CHECK(!exists("outside/escaped"));
	/* a link that stays inside is followed */
	char p[512];
	snprintf(p, sizeof(p), "%s/ws/real", workdir);
	PW_REQUIRE(mkdir(p, 0700) == 0);
	snprintf(link, sizeof(link), "%s/ws/alias", workdir);
	PW_REQUIRE(symlink("real", link) == 0);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(run_step(&r, &e, "shell",
	                      "{\"command\": \"touch here\", \"working_directory\": \"alias\"}", NULL),
	             0);
	PW_CHECK(exists("ws/real/here"));
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

/* The directory checked is the directory entered: `real` is replaced by a link to outside the
 * workspace after the check and before the step starts (as a parallel step could), and the step
 * still runs in the directory that was checked. */
static void swap_real_for_a_link_out(const char *cwd)
{
	(void)cwd;
	char real[512], moved[512], target[512];
	snprintf(real, sizeof(real), "%s/ws/real", workdir);
	snprintf(moved, sizeof(moved), "%s/ws/moved", workdir);
	snprintf(target, sizeof(target), "%s/outside", workdir);
	if (rename(real, moved) != 0 || symlink(target, real) != 0)
		fprintf(stderr, "  could not swap %s: %s\n", real, strerror(errno));
}

PW_TEST(working_directory_swapped_for_a_link_after_the_check_is_not_followed)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	char p[512];
	snprintf(p, sizeof(p), "%s/ws/real", workdir);
	PW_REQUIRE(mkdir(p, 0700) == 0);
	pw__shell_test_before_spawn = swap_real_for_a_link_out;
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc =
	    run_step(&r, &e, "shell", "{\"command\": \"touch here\", \"working_directory\": \"real\"}", NULL);
	pw__shell_test_before_spawn = NULL;
	PW_CHECK_INT(rc, 0);
	PW_CHECK(r != NULL && pw_result_exit_code(r) == 0);
	PW_CHECK(exists("ws/moved/here"));
	PW_CHECK(!exists("outside/here"));
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

/* A working_directory that exists but is a file: the step cannot start, and the error says so
 * of working_directory (not of the command), with a hint that fits. */
PW_TEST(working_directory_that_is_a_file_is_named)
{
	make_workdir();
	PW_REQUIRE(workdir[0]);
	char p[512];
	snprintf(p, sizeof(p), "%s/ws/p.yml", workdir);
	FILE *f = fopen(p, "w");
	PW_REQUIRE(f != NULL);
	fclose(f);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK(run_step(&r, &e, "shell", "{\"command\": \"touch here\", \"working_directory\": \"p.yml\"}",
	                  NULL) < 0);
	PW_REQUIRE(e != NULL);
	PW_CHECK_STR(pw_error_key(e), "working_directory");
	PW_CHECK_CONTAINS(pw_error_message(e), "Not a directory");
	PW_CHECK_CONTAINS(pw_error_hint(e), "names a file, not a directory");
	pw_result_free(r);
	pw_error_free(e);
	/* a command that cannot start is still the command's */
	r = NULL;
	e = NULL;
	PW_CHECK(run_step(&r, &e, "shell", "{\"command\": [\"./no-such-program\"]}", NULL) < 0);
	PW_CHECK_STR(e ? pw_error_key(e) : NULL, "command");
	pw_result_free(r);
	pw_error_free(e);
	remove_workdir();
}

/* ---- the loader's bounds ---- */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check_load_refused(const char *yaml, size_t len, const char *message)
{
	pw_pipeline *p = NULL;
	pw_error *e = NULL;
	double t0 = now_s();
	int rc = pw_pipeline_load_string(&p, yaml, len, "bomb.yml", &e);
	double secs = now_s() - t0;
	PW_CHECK(rc < 0);
	PW_CHECK(p == NULL);
	PW_REQUIRE(e != NULL);
	PW_CHECK_CONTAINS(pw_error_message(e), message);
	PW_CHECK(pw_error_line(e) > 0);
	PW_CHECK(secs < 5.0);
	pw_error_free(e);
	pw_pipeline_free(p);
}

PW_TEST(billion_laughs_is_refused_quickly)
{
	/* the classic: nine levels of ten aliases each, 10^9 values once expanded */
	char y[2048];
	size_t n = (size_t)snprintf(y, sizeof(y), "version: 1\nl0: &l0 lol\n");
	for (int i = 1; i <= 9; i++) {
		n += (size_t)snprintf(y + n, sizeof(y) - n, "l%d: &l%d [", i, i);
		for (int k = 0; k < 10; k++)
			n += (size_t)snprintf(y + n, sizeof(y) - n, "%s*l%d", k ? ", " : "", i - 1);
		n += (size_t)snprintf(y + n, sizeof(y) - n, "]\n");
	}
	n += (size_t)snprintf(y + n, sizeof(y) - n, "steps: [{name: a, command: [echo, *l9]}]\n");
	PW_REQUIRE(n < sizeof(y));
	check_load_refused(y, n, "alias");
}

PW_TEST(deep_nesting_is_refused_without_recursion)
{
	/* 200 000 levels of flow sequences and of block mappings */
	size_t depth = 200000;
	char *y = malloc(2 * depth + 64);
	PW_REQUIRE(y != NULL);
	size_t n = (size_t)snprintf(y, 64, "version: 1\nsteps: ");
	memset(y + n, '[', depth);
	n += depth;
	memset(y + n, ']', depth);
	n += depth;
	check_load_refused(y, n, "nested deeper than");
	free(y);

	size_t levels = 2000; /* "a:\n  a:\n    a: ..." grows as levels^2: keep it moderate */
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "version: 1\nsteps: []\nx:\n");
	for (size_t i = 1; i <= levels; i++) {
		for (size_t k = 0; k < i; k++)
			pw__buf_putc(&b, ' ');
		pw__buf_puts(&b, "a:\n");
	}
	check_load_refused(pw__buf_cstr(&b), b.len, "nested deeper than");
	pw__buf_dispose(&b);
}

/* ---- errors and outputs never show a secret ---- */

PW_TEST(outputs_errors_do_not_quote_the_line)
{
	static const char *bad[] = {
	    "s3cr3t-pa$$word=x\n",      /* invalid name before '=' */
	    "no equals s3cr3t-pa$$\n",  /* not key=value */
	    "s3cr3t pa<<EOF\nx\nEOF\n", /* invalid heredoc name */
	    "k<<\n",                    /* heredoc without delimiter */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pw_exec *ex = NULL;
		PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
		pw_error *e = NULL;
		PW_CHECK_INT(pw__shell_parse_outputs(bad[i], strlen(bad[i]), ex, &e), PW_EVALIDATION);
		PW_REQUIRE(e != NULL);
		PW_CHECK_CONTAINS(pw_error_message(e), "PIPEWRIGHT_OUTPUT line 1");
		PW_CHECK_NOT_CONTAINS(pw_error_message(e), "s3cr3t");
		PW_CHECK_INT(pw_map_count(pw_exec_outputs(ex)), 0);
		pw_error_free(e);
		pw_exec_free(ex);
	}
}

PW_TEST(outputs_keep_long_lines_and_empty_lines_whole)
{
	size_t len = 10000;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "long=");
	for (size_t i = 0; i < len; i++)
		pw__buf_putc(&b, (char)('a' + i % 26));
	pw__buf_puts(&b, "\r\nnotes<<END\n\nsecond\n\nEND\nlast=\n");
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
	pw_error *e = NULL;
	PW_CHECK_INT(pw__shell_parse_outputs(pw__buf_cstr(&b), b.len, ex, &e), 0);
	const char *v = pw_map_get(pw_exec_outputs(ex), "long");
	PW_REQUIRE(v != NULL);
	PW_CHECK_INT(strlen(v), len);
	PW_CHECK(v[len - 1] == (char)('a' + (len - 1) % 26));
	PW_CHECK_STR(pw_map_get(pw_exec_outputs(ex), "notes"), "\nsecond\n");
	PW_CHECK_STR(pw_map_get(pw_exec_outputs(ex), "last"), "");
	pw_error_free(e);
	pw_exec_free(ex);
	pw__buf_dispose(&b);
}

/* A NUL byte does not end the text: the lines after it are read, and the line holding it,
 * which no environment variable could carry, is refused by its number like any other
 * malformed line (and not quoted). */
PW_TEST(outputs_refuse_a_line_holding_a_nul_byte)
{
	static const struct {
		const char *text;
		size_t len;
		int line;
	} cases[] = {
	    {"a=1\0b=2\nc=3\n", 12, 1},
	    {"a=1\nb=s3cr3t\0x\nc=3\n", 19, 2},
	    {"a=1\nnotes<<END\none\ntw\0o\nEND\n", 28, 4},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pw_exec *ex = NULL;
		PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
		pw_error *e = NULL;
		PW_CHECK_INT(pw__shell_parse_outputs(cases[i].text, cases[i].len, ex, &e), PW_EVALIDATION);
		PW_REQUIRE(e != NULL);
		char want[64];
		snprintf(want, sizeof(want), "PIPEWRIGHT_OUTPUT line %d holds a NUL byte", cases[i].line);
		PW_CHECK_CONTAINS(pw_error_message(e), want);
		PW_CHECK_NOT_CONTAINS(pw_error_message(e), "s3cr3t");
		pw_error_free(e);
		pw_exec_free(ex);
	}
	/* with the length, what follows a NUL-free text's end is not read */
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
	PW_CHECK_INT(pw__shell_parse_outputs("a=1\nb=2\n\0c=3\n", 8, ex, NULL), 0);
	PW_CHECK_STR(pw_map_get(pw_exec_outputs(ex), "b"), "2");
	PW_CHECK(pw_map_get(pw_exec_outputs(ex), "c") == NULL);
	pw_exec_free(ex);
}

PW_TEST(error_mask_covers_every_text_of_the_chain)
{
	pw_secrets *s = NULL;
	PW_REQUIRE(pw_secrets_new(&s) == 0);
	PW_REQUIRE(pw_secrets_add(s, "hunter2-token", "T", NULL) == 0);
	pw_error *e = pw_error_new(PW_EEXTERNAL, "login with hunter2-token refused");
	pw_error_set_operation(e, "POST /login hunter2-token");
	pw_error_set_key(e, "hunter2-token");
	pw_error_set_response(e, "{\"token\":\"hunter2-token\"}");
	pw_error_set_hint(e, "check aHVudGVyMi10b2tlbg== and hunter2-token");
	pw_error *next = pw_error_new(PW_EEXTERNAL, "again: hunter2-token");
	pw_error_append(e, next);
	pw__error_mask(e, s);
	char *text = pw_error_format(e, 0);
	PW_REQUIRE(text != NULL);
	PW_CHECK_NOT_CONTAINS(text, "hunter2");
	PW_CHECK_NOT_CONTAINS(text, "aHVudGVyMi10b2tlbg");
	PW_CHECK_CONTAINS(pw_error_hint(e), "check ***");
	PW_CHECK_STR(pw_error_message(pw_error_next(e)), "again: ***");
	pw_free(text);
	pw_error_free(e);
	pw_secrets_free(s);
}

PW_TEST_MAIN()
