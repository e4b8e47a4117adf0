/* Reports through the library: a real run (shell steps, one failing, one printing a secret and
 * markup and terminal escapes), then JUnit, JSON and HTML from the run and from its
 * directory, run listing, and the pipeline's `reports:` section. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipewright.h"
#include "pipewright/report.h"
#include "pwtest.h"

#define SECRET "report-s3cret-value"

static char workdir[256];

static const char pipeline_yaml[] = "version: 1\n"
                                    "name: report-test\n"
                                    "secrets: [PW_REPORT_TOKEN]\n"
                                    "reports:\n"
                                    "  junit: out/junit.xml\n"
                                    "  html: /abs/report.html\n"
                                    "steps:\n"
                                    "  - name: build\n"
                                    "    command: |\n"
                                    "      echo 'a <b> & \"c\"'\n"
                                    "      printf '\\033[31mred\\033[0m\\001\\n'\n"
                                    "      echo \"token=$PW_REPORT_TOKEN\"\n"
                                    "  - name: test\n"
                                    "    needs: [build]\n"
                                    "    command: echo failing >&2; echo \"$PW_REPORT_TOKEN\" >&2; exit 3\n"
                                    "  - name: deploy\n"
                                    "    needs: [test]\n"
                                    "    command: echo never\n";

/* Runs the pipeline in workdir; returns the finished run (caller frees run, m and p). */
static int run_pipeline(pw_run **run, pw_manager **m, pw_pipeline **p, const char *run_id)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pipewright.yml", workdir);
	if (pw_pipeline_load_string(p, pipeline_yaml, strlen(pipeline_yaml), path, NULL) < 0)
		return -1;
	if (pw_manager_new(m, NULL, NULL) < 0)
		return -1;
	pw_run_options ro = PW_RUN_OPTIONS_INIT;
	ro.run_id = run_id;
	ro.jobs = 2;
	if (pw_run_new(run, *m, *p, &ro, NULL) < 0)
		return -1;
	return pw_run_execute(*run, NULL);
}

static char *render(const pw_report *rep, pw_report_format f)
{
	char *out = NULL;
	size_t len = 0;
	if (pw_report_render(&out, &len, rep, f, NULL) < 0)
		return NULL;
	if (strlen(out) != len) {
		pw_free(out);
		return NULL;
	}
	return out;
}

/* A secret the runner did not know about when it wrote the directory is masked by
 * pw_report_from_dir's secrets. */
static void check_masking_from_dir(const char *dir)
{
	pw_secrets *s = NULL;
	PW_REQUIRE(pw_secrets_new(&s) == 0);
	PW_REQUIRE(pw_secrets_add(s, "report-test", NULL, NULL) == 0);
	pw_report *rep = NULL;
	PW_REQUIRE(pw_report_from_dir(&rep, dir, s, NULL) == 0);
	char *html = render(rep, PW_REPORT_HTML);
	PW_CHECK_NOT_CONTAINS(html, "report-test");
	PW_CHECK_CONTAINS(html, "***");
	pw_free(html);
	pw_report_free(rep);
	pw_secrets_free(s);
}

PW_TEST(reports_from_a_run)
{
	pw_run *run = NULL;
	pw_manager *m = NULL;
	pw_pipeline *p = NULL;
	int rc = run_pipeline(&run, &m, &p, "rep-1");
	PW_CHECK_INT(rc, PW_ESTEP);
	PW_REQUIRE(run);
	pw_report *rep = NULL;
	pw_error *e = NULL;
	PW_REQUIRE(pw_report_from_run(&rep, run, &e) == 0);
	PW_CHECK_STR(pw_report_run_id(rep), "rep-1");
	PW_CHECK_STR(pw_report_pipeline_name(rep), "report-test");
	PW_CHECK_STR(pw_report_status(rep), "failed");
	PW_CHECK_INT(pw_report_step_count(rep), 3);
	PW_CHECK_STR(pw_report_step_status(rep, 0), "succeeded");
	PW_CHECK_STR(pw_report_step_status(rep, 1), "failed");
	PW_CHECK_STR(pw_report_step_status(rep, 2), "skipped");
	PW_CHECK(pw_report_duration_ms(rep) >= pw_report_step_duration_ms(rep, 0));

	char *log = NULL;
	size_t len = 0;
	PW_CHECK(pw_report_step_log(&log, &len, rep, 0, NULL) == 0);
	PW_CHECK_CONTAINS(log, "token=***");
	PW_CHECK_NOT_CONTAINS(log, SECRET);
	pw_free(log);
	PW_CHECK(pw_report_step_log(&log, &len, rep, 2, NULL) == 0);
	PW_CHECK(log == NULL); /* deploy never ran */

	char *junit = render(rep, PW_REPORT_JUNIT);
	PW_REQUIRE(junit);
	PW_CHECK_CONTAINS(
	    junit, "<testsuite name=\"report-test\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\"");
	PW_CHECK_CONTAINS(junit, "<testcase name=\"test\" classname=\"report-test\"");
	PW_CHECK_CONTAINS(junit, "<failure message=\"exit code 3\" type=\"failed\">");
	PW_CHECK_CONTAINS(junit, "a &lt;b&gt; &amp; &quot;c&quot;");
	PW_CHECK_CONTAINS(junit, "red\n"); /* escape sequences and \001 removed */
	PW_CHECK_NOT_CONTAINS(junit, "\033");
	PW_CHECK_NOT_CONTAINS(junit, "\001");
	PW_CHECK_CONTAINS(junit, "<skipped message=");
	PW_CHECK_NOT_CONTAINS(junit, SECRET);
	pw_free(junit);

	char *json = render(rep, PW_REPORT_JSON);
	PW_REQUIRE(json);
	json_t *root = json_loads(json, 0, NULL);
	PW_REQUIRE(root);
	PW_CHECK_STR(json_string_value(json_object_get(root, "schema")), "pipewright-report");
	PW_CHECK_INT(json_integer_value(json_object_get(root, "schema_version")), PW_REPORT_SCHEMA_VERSION);
	json_t *steps = json_object_get(root, "steps");
	PW_CHECK_INT(json_array_size(steps), 3);
	json_t *t = json_array_get(steps, 1);
	PW_CHECK_INT(json_integer_value(json_object_get(t, "exit_code")), 3);
	PW_CHECK_STR(json_string_value(json_array_get(json_object_get(t, "needs"), 0)), "build");
	PW_CHECK(json_is_null(json_object_get(json_array_get(steps, 2), "duration_ms")));
	PW_CHECK_INT(json_integer_value(json_object_get(json_object_get(root, "summary"), "failed")), 1);
	PW_CHECK(json_array_size(json_object_get(root, "connector_stats")) >= 1);
	PW_CHECK(json_integer_value(json_object_get(json_object_get(json_array_get(steps, 0), "stats"),
	                                            "stdout_bytes")) > 10);
	PW_CHECK_NOT_CONTAINS(json, SECRET);
	json_decref(root);
	pw_free(json);

	char *html = render(rep, PW_REPORT_HTML);
	PW_REQUIRE(html);
	PW_CHECK_CONTAINS(html, "<!DOCTYPE html>");
	PW_CHECK_CONTAINS(html, "data-status=\"failed\"");
	PW_CHECK_CONTAINS(html, "class=\"bar s-succeeded\"");
	PW_CHECK_CONTAINS(html, "a &lt;b&gt; &amp; &quot;c&quot;");
	PW_CHECK_NOT_CONTAINS(html, "<script");
	PW_CHECK_NOT_CONTAINS(html, "http://");
	PW_CHECK_NOT_CONTAINS(html, "https://");
	PW_CHECK_NOT_CONTAINS(html, SECRET);
	pw_free(html);

	/* the same report from the directory, and written to a file in a new directory */
	pw_report *again = NULL;
	PW_REQUIRE(pw_report_from_dir(&again, pw_run_dir(run), NULL, NULL) == 0);
	char *a = render(rep, PW_REPORT_JSON), *b = render(again, PW_REPORT_JSON);
	PW_CHECK(a && b && !strcmp(a, b));
	pw_free(a);
	pw_free(b);
	char out[512];
	snprintf(out, sizeof(out), "%s/new/dir/report.html", workdir);
	PW_CHECK(pw_report_write(again, PW_REPORT_HTML, out, NULL) == 0);
	PW_CHECK(access(out, R_OK) == 0);
	pw_report_free(again);

	char **ids = NULL;
	PW_CHECK(pw_report_list_runs(&ids, workdir, NULL) == 0);
	int listed = 0;
	for (size_t i = 0; ids && ids[i]; i++)
		listed |= !strcmp(ids[i], "rep-1");
	PW_CHECK(listed);
	pw_strv_free(ids);
	check_masking_from_dir(pw_run_dir(run));

	pw_report_free(rep);
	pw_run_free(run);
	pw_manager_free(m);
	pw_pipeline_free(p);
}

/* A step stopped at its timeout is reported with how its process ended (exit code 128 +
 * signal, the signal, the connector's metadata), beside the timeout error; one allowed to
 * fail stays timed_out, is marked allowed and is no failure. */
PW_TEST(timed_out_step_reports_how_it_ended)
{
	static const char yaml[] = "version: 1\n"
	                           "name: stopped\n"
	                           "steps:\n"
	                           "  - name: slow\n"
	                           "    timeout: 1\n"
	                           "    command: sleep 1000\n"
	                           "    config: { kill_grace: 1 }\n"
	                           "  - name: optional\n"
	                           "    needs: []\n"
	                           "    timeout: 1\n"
	                           "    allow_failure: true\n"
	                           "    command: sleep 1000\n";
	char path[512];
	snprintf(path, sizeof(path), "%s/stopped.yml", workdir);
	pw_pipeline *p = NULL;
	PW_REQUIRE(pw_pipeline_load_string(&p, yaml, strlen(yaml), path, NULL) == 0);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_run_options ro = PW_RUN_OPTIONS_INIT;
	ro.run_id = "rep-stopped";
	ro.jobs = 2;
	pw_run *run = NULL;
	PW_REQUIRE(pw_run_new(&run, m, p, &ro, NULL) == 0);
	PW_CHECK_INT(pw_run_execute(run, NULL), PW_ESTEP);
	pw_report *rep = NULL;
	PW_REQUIRE(pw_report_from_run(&rep, run, NULL) == 0);

	char *junit = render(rep, PW_REPORT_JUNIT);
	PW_REQUIRE(junit);
	PW_CHECK_CONTAINS(junit, "<failure message=\"timed out (killed by signal 15)\" type=\"timed_out\">");
	PW_CHECK_CONTAINS(junit, "ETIMEOUT: step &#39;slow&#39; timed out after 1 s");
	PW_CHECK_CONTAINS(junit, "tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\"");
	PW_CHECK_CONTAINS(junit, "<skipped message=\"timed out (killed by signal 15) (allowed to fail)\"/>");
	pw_free(junit);

	char *json = render(rep, PW_REPORT_JSON);
	PW_REQUIRE(json);
	json_t *root = json_loads(json, 0, NULL);
	PW_REQUIRE(root);
	json_t *st = json_array_get(json_object_get(root, "steps"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(st, "status")), "timed_out");
	PW_CHECK_INT(json_integer_value(json_object_get(st, "exit_code")), 143);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "signal")), 15);
	PW_CHECK_CONTAINS(json_string_value(json_object_get(json_object_get(st, "metadata"), "ended")),
	                  "signal 15");
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(st, "error"), "code")), "ETIMEOUT");
	PW_CHECK(json_is_false(json_object_get(st, "allowed")));
	json_t *opt = json_array_get(json_object_get(root, "steps"), 1);
	PW_CHECK_STR(json_string_value(json_object_get(opt, "status")), "timed_out");
	PW_CHECK(json_is_true(json_object_get(opt, "allowed")));
	json_t *sum = json_object_get(root, "summary");
	PW_CHECK_INT(json_integer_value(json_object_get(sum, "timed_out")), 2);
	PW_CHECK_INT(json_integer_value(json_object_get(sum, "timed_out_allowed")), 1);
	json_decref(root);
	pw_free(json);

	char *html = render(rep, PW_REPORT_HTML);
	PW_REQUIRE(html);
	PW_CHECK_CONTAINS(html, "timed out (killed by signal 15)");
	PW_CHECK_CONTAINS(html, "2 timed out (1 allowed to)");
	PW_CHECK_CONTAINS(html, "data-status=\"timed_out\" id=\"step-1\" data-allowed=\"true\"><summary>");
	PW_CHECK_CONTAINS(html, "data-status=\"timed_out\" id=\"step-0\" open><summary>");
	pw_free(html);

	pw_report_free(rep);
	pw_run_free(run);
	pw_manager_free(m);
	pw_pipeline_free(p);
}

PW_TEST(missing_and_corrupt_directories)
{
	pw_report *rep = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_report_from_dir(&rep, "/nonexistent/run", NULL, &e), PW_ENOTFOUND);
	PW_CHECK(e && pw_error_hint(e));
	pw_error_free(e);
	e = NULL;
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/.pipewright/runs/broken", workdir);
	snprintf(path, sizeof(path), "%s/result.json", dir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && echo '{not json' > '%s'", dir, path);
	PW_REQUIRE(system(cmd) == 0);
	PW_CHECK_INT(pw_report_from_dir(&rep, dir, NULL, &e), PW_EIO);
	PW_CHECK(rep == NULL);
	pw_error_free(e);
	/* a log name that leaves the run directory is not followed */
	snprintf(cmd, sizeof(cmd),
	         "echo '{\"run_id\":\"x\",\"steps\":[{\"name\":\"s\",\"status\":\"succeeded\","
	         "\"duration_ms\":5,\"log\":\"../../../../etc/passwd\"}]}' > '%s'",
	         path);
	PW_REQUIRE(system(cmd) == 0);
	PW_REQUIRE(pw_report_from_dir(&rep, dir, NULL, NULL) == 0);
	char *log = NULL;
	size_t len = 0;
	PW_CHECK(pw_report_step_log(&log, &len, rep, 0, NULL) == 0);
	PW_CHECK(log == NULL);
	pw_report_free(rep);
}

/* A NUL byte in a step's output ends nothing: the whole log is kept, and the reports show
 * the NUL as U+FFFD (valid XML, visible). */
PW_TEST(nul_in_output_keeps_the_rest)
{
	static const char yaml[] =
	    "version: 1\n"
	    "name: nul\n"
	    "secrets: [PW_REPORT_TOKEN]\n"
	    "steps:\n"
	    "  - name: s\n"
	    "    command: printf 'before\\000after <x>\\n'; echo \"$PW_REPORT_TOKEN\"\n";
	char path[512];
	snprintf(path, sizeof(path), "%s/nul.yml", workdir);
	pw_pipeline *p = NULL;
	PW_REQUIRE(pw_pipeline_load_string(&p, yaml, strlen(yaml), path, NULL) == 0);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_run_options ro = PW_RUN_OPTIONS_INIT;
	ro.run_id = "rep-nul";
	pw_run *run = NULL;
	PW_REQUIRE(pw_run_new(&run, m, p, &ro, NULL) == 0);
	PW_CHECK_INT(pw_run_execute(run, NULL), 0);
	pw_report *rep = NULL;
	PW_REQUIRE(pw_report_from_dir(&rep, pw_run_dir(run), NULL, NULL) == 0);
	char *log = NULL;
	size_t len = 0;
	PW_CHECK(pw_report_step_log(&log, &len, rep, 0, NULL) == 0);
	PW_CHECK(log && len == strlen("before") + 1 + strlen("after <x>\n***\n"));
	PW_CHECK(log && len > 7 && !memcmp(log, "before\0after <x>\n***\n", len));
	pw_free(log);

	char *junit = render(rep, PW_REPORT_JUNIT);
	PW_CHECK_CONTAINS(junit, "<system-out>before\xEF\xBF\xBD"
	                         "after &lt;x&gt;\n***\n</system-out>");
	pw_free(junit);
	char *html = render(rep, PW_REPORT_HTML);
	PW_CHECK_CONTAINS(html, "<pre class=\"log\">before\xEF\xBF\xBD"
	                        "after &lt;x&gt;\n***\n</pre>");
	pw_free(html);
	char *json = render(rep, PW_REPORT_JSON);
	json_t *root = json ? json_loads(json, 0, NULL) : NULL;
	json_t *st = json_array_get(json_object_get(root, "steps"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(st, "log"), "tail")),
	             "before\xEF\xBF\xBD"
	             "after <x>\n***\n");
	json_decref(root);
	pw_free(json);

	pw_report_free(rep);
	pw_run_free(run);
	pw_manager_free(m);
	pw_pipeline_free(p);
}

/* Statuses in a result.json are data from wherever the directory came from (a downloaded CI
 * artifact): in HTML they never open markup, and classes and attributes get a fixed word. */
PW_TEST(crafted_statuses_stay_text)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/.pipewright/runs/crafted", workdir);
	snprintf(path, sizeof(path), "%s/result.json", dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	PW_REQUIRE(system(cmd) == 0);
	FILE *f = fopen(path, "w");
	PW_REQUIRE(f);
	fputs("{\"run_id\":\"crafted\",\"status\":\"</title><form action=x>\",\"steps\":["
	      "{\"name\":\"s\",\"status\":\"x\\\" style=\\\"color:red\",\"duration_ms\":5},"
	      "{\"name\":\"t\",\"status\":\"<b>\"}]}",
	      f);
	fclose(f);
	pw_report *rep = NULL;
	PW_REQUIRE(pw_report_from_dir(&rep, dir, NULL, NULL) == 0);
	PW_CHECK_STR(pw_report_step_status(rep, 0), "x\" style=\"color:red");
	char *html = render(rep, PW_REPORT_HTML);
	PW_REQUIRE(html);
	PW_CHECK_NOT_CONTAINS(html, "<form");
	PW_CHECK_NOT_CONTAINS(html, "</title><form");
	PW_CHECK_NOT_CONTAINS(html, "style=\"color:red");
	PW_CHECK_NOT_CONTAINS(html, "<b></span>");
	PW_CHECK_CONTAINS(html, "<span class=\"st\">&lt;b&gt;</span>");
	PW_CHECK_CONTAINS(html, "&lt;/title&gt;&lt;form action=x&gt; — pipewright</title>");
	PW_CHECK_CONTAINS(html, "class=\"badge s-unknown\"");
	PW_CHECK_CONTAINS(html, "class=\"bar s-unknown\"");
	PW_CHECK_CONTAINS(html, "data-status=\"unknown\" id=\"step-0\"");
	PW_CHECK_CONTAINS(html, "class=\"dot s-unknown\"");
	PW_CHECK_CONTAINS(html, "x&quot; style=&quot;color:red");
	PW_CHECK_CONTAINS(html, "form-action 'none'");
	PW_CHECK_CONTAINS(html, "base-uri 'none'");
	pw_free(html);
	char *junit = render(rep, PW_REPORT_JUNIT);
	PW_CHECK_NOT_CONTAINS(junit, "<form");
	PW_CHECK_NOT_CONTAINS(junit, "<b>");
	pw_free(junit);
	pw_report_free(rep);
}

PW_TEST(formats_and_pipeline_section)
{
	pw_report_format f;
	PW_CHECK(pw_report_format_parse(&f, "junit", NULL) == 0 && f == PW_REPORT_JUNIT);
	PW_CHECK(pw_report_format_parse(&f, "html", NULL) == 0 && f == PW_REPORT_HTML);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_report_format_parse(&f, "pdf", &e), PW_EINVAL);
	PW_CHECK(e && strstr(pw_error_hint(e), "junit, json and html"));
	pw_error_free(e);
	e = NULL;

	pw_pipeline *p = NULL;
	PW_REQUIRE(pw_pipeline_load_string(&p, pipeline_yaml, strlen(pipeline_yaml), "/ws/pipewright.yml",
	                                   NULL) == 0);
	pw_report_target *t = NULL;
	size_t n = 0;
	PW_REQUIRE(pw_report_targets_from_pipeline(&t, &n, p, NULL, NULL) == 0);
	PW_CHECK_INT(n, 2);
	PW_CHECK(n == 2 && t[0].format == PW_REPORT_JUNIT);
	PW_CHECK_STR(n == 2 ? t[0].path : NULL, "/ws/out/junit.xml");
	PW_CHECK_STR(n == 2 ? t[1].path : NULL, "/abs/report.html");
	pw_report_targets_free(t, n);
	PW_REQUIRE(pw_report_targets_from_pipeline(&t, &n, p, "/elsewhere", NULL) == 0);
	PW_CHECK_STR(n == 2 ? t[0].path : NULL, "/elsewhere/out/junit.xml");
	pw_report_targets_free(t, n);
	pw_pipeline_free(p);

	static const char bad[] =
	    "version: 1\nreports:\n  pdf: out.pdf\nsteps:\n  - name: a\n    command: true\n";
	/* the loader refuses an unknown format where it is written */
	PW_CHECK_INT(pw_pipeline_load_string(&p, bad, strlen(bad), "/ws/p.yml", &e), PW_EPIPELINE);
	PW_CHECK(p == NULL);
	PW_CHECK(e && strstr(pw_error_message(e), "unknown key 'pdf' in reports"));
	PW_CHECK_INT(e ? pw_error_line(e) : 0, 3);
	PW_CHECK_INT(e ? pw_error_column(e) : 0, 3);
	pw_error_free(e);
}

static void setup(void) __attribute__((constructor(200)));
static void setup(void)
{
	snprintf(workdir, sizeof(workdir), "/tmp/pw-report-XXXXXX");
	if (!mkdtemp(workdir))
		workdir[0] = '\0';
	setenv("PW_REPORT_TOKEN", SECRET, 1);
}

static void teardown(void) __attribute__((destructor));
static void teardown(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", workdir);
}

PW_TEST_MAIN()
