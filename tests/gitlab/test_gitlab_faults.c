/* The gitlab connector's create-release (with asset links) through tests/faults/fault_proxy.py
 * in front of tests/gitlab/fake_gitlab.py: refused connections, a reset mid-response, an answer
 * slower than the step's deadline, 429 with Retry-After and bursts of 500/502/503, malformed and
 * truncated JSON. Each case ends in success or a clear error naming GitLab's operation, never a
 * hang; a create whose answer was lost is not taken for somebody else's release. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "fake_server.h"
#include "faults/proxy.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/exec.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/step.h"
#include "pwtest.h"
#include "step_run.h"

#define PAT "glpat-Pr1vateT0ken_abc123"

static struct {
	pw_fake_server fake;
	int port;
	char base[64];
	pw_http_pool *pool;
} srv;

static int server_start(void)
{
	if (srv.fake.pid)
		return 0;
	const char *const args[] = {"--private-token", PAT, "--job-token", "glcbt-job", "--trigger-token",
	                            "glptt-trigger",   NULL};
	const char *const names[] = {"PORT", NULL};
	if (pw_fake_server_start(&srv.fake, "tests/gitlab/fake_gitlab.py", args, names, NULL) < 0)
		return -1;
	srv.port = srv.fake.port[0];
	snprintf(srv.base, sizeof(srv.base), "%s", srv.fake.base);
	srv.pool = srv.fake.pool;
	char up[64];
	snprintf(up, sizeof(up), "tcp:127.0.0.1:%d", srv.port);
	return pw_fault_proxy_start(up, NULL) < 0 ? -1 : 0;
}

static json_t *control(const char *path, const char *body)
{
	return pw_fake_server_control(&srv.fake, path, body);
}

static int reset(void)
{
	if (server_start() != 0)
		return -1;
	json_decref(control("/_test/reset", "{}"));
	pw_fault_rules("[]");
	return 0;
}

static void run_step(run *x, const char *base_url, const char *extra, double timeout)
{
	char cfg[1024];
	snprintf(cfg, sizeof(cfg),
	         "{\"base_url\":\"%s/\",\"project\":\"group/app\",\"action\":\"create-release\","
	         "\"tag\":\"v1.0.0\",\"name\":\"Version 1\",\"assets\":[{\"name\":\"app.tar.gz\","
	         "\"url\":\"https://dl.example.test/app.tar.gz\",\"link_type\":\"package\"}]%s%s}",
	         base_url ? base_url : pw_fault_proxy_base(), extra ? "," : "", extra ? extra : "");
	pw_map *env = pw_map_new();
	pw_map_set(env, "GITLAB_TOKEN", PAT);
	run_step_in(x, NULL, "gitlab", "gl", cfg, env, "/tmp", 0, timeout);
	pw_map_free(env);
	fprintf(stderr, "  rc %d in %lld ms: %s\n", x->rc, (long long)x->ms, x->error_line);
	PW_CHECK_NOT_CONTAINS(x->error_line, PAT);
}

/* Whether the fake holds the release (with its one link), and how many creates reached it. */
static int has_release(int *creates)
{
	json_t *st = control("/_test/state", NULL);
	json_t *rel = json_object_get(json_object_get(st, "releases"), "v1.0.0");
	int n = rel ? 1 : 0;
	if (rel)
		PW_CHECK_INT(json_array_size(json_object_get(rel, "links")), 1);
	PW_CHECK_INT(json_array_size(json_object_get(st, "violations")), 0);
	if (creates) {
		*creates = 0;
		size_t i;
		json_t *q;
		json_array_foreach(json_object_get(st, "requests"), i, q)
		{
			const char *m = json_string_value(json_object_get(q, "method"));
			const char *p = json_string_value(json_object_get(q, "path"));
			if (m && p && !strcmp(m, "POST") && strstr(p, "/releases") && !strstr(p, "/links"))
				(*creates)++;
		}
	}
	json_decref(st);
	return n;
}

static void check_created(run *x)
{
	PW_CHECK_INT(x->rc, 0);
	PW_CHECK(x->r && pw_result_exit_code(x->r) == 0);
	PW_CHECK_CONTAINS(x->outputs, "release_action=created");
	PW_CHECK_CONTAINS(x->outputs, "release_url=");
	PW_CHECK_INT(has_release(NULL), 1);
}

#define CREATE "\"match\":\"^POST /api/v4/projects/group%2Fapp/releases$\""

PW_TEST(refused_port_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", pw_fault_unused_port());
	run x;
	run_step(&x, url, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "gitlab: cannot create the release group/app@v1.0.0: POST");
	PW_CHECK_CONTAINS(x.error_line, url + 7);
	PW_CHECK_CONTAINS(x.error_line, "releases");
	PW_CHECK_INT(has_release(NULL), 0);
	dispose(&x);
}

PW_TEST(refused_create_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"refuse\",\"times\":20}]");
	run x;
	run_step(&x, NULL, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "gitlab: cannot create the release group/app@v1.0.0: POST");
	PW_CHECK_CONTAINS(x.error_line, "reset");
	PW_CHECK_INT(has_release(NULL), 0);
	dispose(&x);
}

/* The create reached GitLab but its answer was reset: the release is GitLab's now. The step
 * finds it and reports it created (it is ours), not "already exists". */
PW_TEST(reset_mid_create_answer_finds_the_release)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"reset\",\"n\":40}]");
	run x;
	run_step(&x, NULL, NULL, 30);
	pw_fault_rules_used();
	check_created(&x);
	int creates = 0;
	has_release(&creates);
	PW_CHECK_INT(creates, 1);
	dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	run_step(&x, NULL, NULL, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.error_line, "timed out");
	PW_CHECK(x.ms < 15000);
	dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/json\"},\"body\":\"{\\\"message\\\":\\\"Retry "
	               "later\\\"}\"}]");
	run x;
	run_step(&x, NULL, NULL, 30);
	pw_fault_rules_used();
	check_created(&x);
	PW_CHECK(x.ms >= 900);
	dispose(&x);
}

/* 500 and 502 may have created the release: the connector looks before it asks again. */
PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" CREATE ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" CREATE ",\"action\":\"status\",\"code\":503,\"body\":\"\"}]");
	run x;
	run_step(&x, NULL, NULL, 60);
	pw_fault_rules_used();
	check_created(&x);
	dispose(&x);
}

PW_TEST(malformed_create_answer_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"body\",\"code\":201,\"text\":\"{\\\"tag_name\\\": \"}]");
	run x;
	run_step(&x, NULL, NULL, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.error_line, "gitlab: cannot create the release group/app@v1.0.0");
	PW_CHECK_CONTAINS(x.error_line, "releases");
	PW_CHECK_CONTAINS(x.error_line, "JSON");
	dispose(&x);
}

/* The create's answer is cut: the release exists; the step finds it and succeeds. */
PW_TEST(truncated_create_answer_finds_the_release)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"truncate\",\"n\":20}]");
	run x;
	run_step(&x, NULL, NULL, 30);
	pw_fault_rules_used();
	check_created(&x);
	int creates = 0;
	has_release(&creates);
	PW_CHECK_INT(creates, 1);
	dispose(&x);
}

PW_TEST_MAIN()
