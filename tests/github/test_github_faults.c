/* The github connector's create-release (with an asset) through tests/faults/fault_proxy.py in
 * front of tests/github/fake_github.py: refused connections, a reset mid-response, an answer
 * slower than the step's deadline, 429 with Retry-After and bursts of 500/502/503, malformed and
 * truncated JSON. Each case ends in success or a clear error naming GitHub's operation, never a
 * hang, and never with two releases for one tag: the create is not sent again blindly. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "fake_server.h"
#include "faults/proxy.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/step.h"
#include "pwtest.h"
#include "step_run.h"

#define TOKEN "ghp_testtoken0123456789abcdefXYZ"

static struct {
	pw_fake_server fake;
	int api_port, up_port;
	char dir[64];
	char base[64];
	pw_http_pool *pool;
} srv;

static int server_start(void)
{
	if (srv.fake.pid)
		return 0;
	const char *src = getenv("PW_SOURCE_DIR");
	char spec[1024], pub[1024];
	snprintf(spec, sizeof(spec), "%s/tests/specs/github/api.github.com.json.gz", src ? src : ".");
	snprintf(pub, sizeof(pub), "%s/tests/auth/test_rsa_pub.pem", src ? src : ".");
	const char *const args[] = {"--spec",           spec, "--token", TOKEN, "--app-id", "4242",
	                            "--app-public-key", pub,  NULL};
	const char *const names[] = {"API", "UPLOADS", NULL};
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pw-ghf") < 0 ||
	    pw_fake_server_start(&srv.fake, "tests/github/fake_github.py", args, names, "READY") < 0)
		return -1;
	srv.api_port = srv.fake.port[0];
	srv.up_port = srv.fake.port[1];
	snprintf(srv.base, sizeof(srv.base), "%s", srv.fake.base);
	srv.pool = srv.fake.pool;
	char up[64];
	snprintf(up, sizeof(up), "tcp:127.0.0.1:%d", srv.api_port);
	if (pw_fault_proxy_start(up, NULL) < 0)
		return -1;
	char p[128];
	snprintf(p, sizeof(p), "%s/dist", srv.dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dist/app.tar.gz", srv.dir);
	FILE *a = fopen(p, "w");
	if (!a)
		return -1;
	fputs("tarball-bytes-0123456789", a);
	fclose(a);
	return 0;
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

/* When set, the step authenticates as the GitHub App 4242 with this private key (PEM). */
static char *app_key;

static void run_step(run *x, const char *base_url, double timeout)
{
	char cfg[1024];
	snprintf(cfg, sizeof(cfg),
	         "{\"base_url\":\"%s\",\"action\":\"create-release\",\"repository\":\"octo/app\","
	         "\"tag\":\"v1.0.0\",\"name\":\"Release v1.0.0\",\"assets\":[\"dist/*\"]%s}",
	         base_url ? base_url : pw_fault_proxy_base(), app_key ? ",\"app_id\":4242" : "");
	pw_map *env = pw_map_new();
	pw_map_set(env, "GITHUB_TOKEN", app_key ? "ghp_not_used_by_app_auth" : TOKEN);
	if (app_key)
		pw_map_set(env, "GITHUB_APP_PRIVATE_KEY", app_key);
	run_step_in(x, NULL, "github", "release", cfg, env, srv.dir, 0, timeout);
	pw_map_free(env);
	fprintf(stderr, "  rc %d in %lld ms: %s\n", x->rc, (long long)x->ms, x->error_line);
	PW_CHECK_NOT_CONTAINS(x->error_line, TOKEN);
}

/* How many releases the fake holds for the tag, and how many create requests reached it. */
static int releases(int *creates)
{
	json_t *st = control("/_test/state", NULL);
	int n = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(st, "releases"), i, r)
	{
		const char *t = json_string_value(json_object_get(r, "tag_name"));
		if (t && strcmp(t, "v1.0.0") == 0)
			n++;
	}
	if (creates) {
		*creates = 0;
		json_array_foreach(json_object_get(st, "requests"), i, r)
		{
			const char *q = json_string_value(r);
			if (q && strstr(q, "POST /repos/octo/app/releases") && !strstr(q, "/assets"))
				(*creates)++;
		}
	}
	json_decref(st);
	return n;
}

/* The release is published with its asset. */
static void check_published(run *x)
{
	PW_CHECK_INT(x->rc, 0);
	PW_CHECK(x->r && pw_result_exit_code(x->r) == 0);
	PW_CHECK_STR(x->r ? pw_map_get(pw_result_metadata_const(x->r), "draft") : NULL, "false");
	PW_CHECK_CONTAINS(x->r ? pw_map_get(pw_result_metadata_const(x->r), "asset_urls") : NULL,
	                  "app.tar.gz");
	PW_CHECK_INT(releases(NULL), 1);
}

#define CREATE "\"match\":\"^POST /repos/octo/app/releases$\""

PW_TEST(refused_port_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", pw_fault_unused_port());
	run x;
	run_step(&x, url, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "cannot look up the release by tag");
	PW_CHECK_CONTAINS(x.error_line, url + 7);
	PW_CHECK_INT(releases(NULL), 0);
	dispose(&x);
}

/* The create's connection is closed by the server without an answer, every time: the step
 * fails naming the create; no release is left. */
PW_TEST(refused_create_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"refuse\",\"times\":20}]");
	run x;
	run_step(&x, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "cannot create the release");
	PW_CHECK_CONTAINS(x.error_line, "reset");
	PW_CHECK_INT(releases(NULL), 0);
	dispose(&x);
}

/* The create reached GitHub but its answer was reset: the connector must not create a second
 * release. It finds the draft it made and finishes it, or fails saying so. */
PW_TEST(reset_mid_create_answer_makes_no_second_release)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"reset\",\"n\":40}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	int creates = 0;
	PW_CHECK(releases(&creates) <= 1);
	PW_CHECK_INT(creates, 1);
	check_published(&x);
	dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	run_step(&x, NULL, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.error_line, "timed out");
	PW_CHECK(x.ms < 15000);
	dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/json\"},\"body\":\"{\\\"message\\\":\\\"You have "
	               "exceeded a secondary rate limit\\\"}\"}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_published(&x);
	PW_CHECK(x.ms >= 900);
	dispose(&x);
}

/* 500 and 502 on the create may have created the release: the connector looks before it asks
 * again. The 503 was not processed. One release in the end. */
PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" CREATE ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" CREATE ",\"action\":\"status\",\"code\":503,\"body\":\"\"}]");
	run x;
	run_step(&x, NULL, 60);
	pw_fault_rules_used();
	check_published(&x);
	dispose(&x);
}

PW_TEST(malformed_create_answer_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules(
	    "[{" CREATE
	    ",\"action\":\"body\",\"code\":201,\"text\":\"{\\\"id\\\": 12, \\\"upload_url\\\"\"}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.error_line, "create the release");
	PW_CHECK_CONTAINS(x.error_line, "JSON");
	PW_CHECK_INT(releases(NULL), 0);
	dispose(&x);
}

/* The create's answer is cut: the release exists on GitHub; the connector finds it rather than
 * making a second one. */
PW_TEST(truncated_create_answer_makes_no_second_release)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"truncate\",\"n\":30}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	int creates = 0;
	PW_CHECK(releases(&creates) <= 1);
	PW_CHECK_INT(creates, 1);
	check_published(&x);
	dispose(&x);
}

/* A read (the tag lookup) answered with malformed JSON, then cut: read again, then success. */
PW_TEST(malformed_and_truncated_reads_are_survived)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^GET /repos/octo/app/releases\\\\?\",\"action\":\"truncate\",\"n\":5}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_published(&x);
	dispose(&x);
}

/* The GitHub App's token endpoint behind the proxy: a 503 and a reset of the installation token
 * exchange are retried (asking for a token again does no harm); the release is made with it. */
PW_TEST(app_token_endpoint_faults_are_retried)
{
	PW_REQUIRE(reset() == 0);
	char path[1024];
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(path, sizeof(path), "%s/tests/auth/test_rsa_key.pem", src ? src : ".");
	FILE *f = fopen(path, "r");
	PW_REQUIRE(f != NULL);
	pw_buf pem = PW_BUF_INIT(0);
	char l[256];
	while (fgets(l, sizeof(l), f))
		pw__buf_puts(&pem, l);
	fclose(f);
	app_key = pw__buf_detach(&pem);
	pw_fault_rules("[{\"match\":\"^POST /app/installations/[0-9]+/access_tokens$\",\"action\":\"status\","
	               "\"code\":503,\"body\":\"\"},"
	               "{\"match\":\"^POST /app/installations/[0-9]+/access_tokens$\",\"action\":\"reset\","
	               "\"n\":30}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_published(&x);
	PW_CHECK_STR(x.r ? pw_map_get(pw_result_metadata_const(x.r), "auth") : NULL, "github-app");
	dispose(&x);
	pw_free(app_key);
	app_key = NULL;
}

PW_TEST_MAIN()
