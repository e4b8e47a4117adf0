/* The Docker connector through tests/faults/fault_proxy.py in front of the real engine (the
 * `podman` CTest fixture): refused connections, 5xx and 429 answers, malformed and truncated
 * JSON, a reset mid-response, an answer slower than the step's deadline and a log stream cut
 * mid-line. Each case ends in success or a clear error within bounds — never a hang — and
 * leaves no container behind; output sent before a cut arrives whole, once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/docker/docker.h"
#include "connectors/docker/http.h"
#include "core/buf.h"
#include "core/clock.h"
#include "faults/proxy.h"
#include "pipewright.h"
#include "pwtest.h"

#define TEST_IMAGE "pipewright/pwtest-image:latest"

static int proxy_port;
static char engine_sock[4096];

static int proxy_start(void)
{
	if (proxy_port)
		return 0;
	const char *state = getenv("PW_PODMAN_STATE");
	char p[4200];
	snprintf(p, sizeof(p), "%s/socket", state ? state : "/nonexistent");
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	if (!fgets(engine_sock, sizeof(engine_sock), f))
		engine_sock[0] = '\0';
	fclose(f);
	engine_sock[strcspn(engine_sock, "\n")] = '\0';
	char up[4200];
	snprintf(up, sizeof(up), "unix:%s", engine_sock);
	if (pw_fault_proxy_start(up, NULL) < 0)
		return -1;
	proxy_port = pw_fault_proxy_port();
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", proxy_port);
	setenv("DOCKER_HOST", host, 1);
	return 0;
}

/* A plain request to the proxy (its control paths) or, through it, the engine. */
static int request(const char *method, const char *path, const char *body, char **out)
{
	pw_docker_endpoint ep;
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", proxy_port);
	if (pw__docker_endpoint_parse(&ep, url, 0, NULL, "test", NULL) < 0)
		return -1;
	pw_docker_http *h = NULL;
	pw__docker_http_new(&h, NULL);
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &ep;
	req.method = method;
	req.path = path;
	if (body) {
		req.body = body;
		req.body_len = strlen(body);
		req.content_type = "application/json";
	}
	pw_docker_resp r;
	int rc = pw__docker_http_do(&r, h, &req, NULL);
	if (out)
		*out = rc == 0 ? strdup(pw__buf_cstr(&r.body)) : NULL;
	pw__buf_dispose(&r.body);
	pw__docker_http_free(h);
	return rc == 0 ? (int)r.status : rc;
}

static int count_containers(const char *run_id)
{
	char path[512], *body = NULL;
	snprintf(path, sizeof(path),
	         "/v1.41/containers/"
	         "json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22io.pipewright.run%%3D%s%%22%%5D%%7D",
	         run_id);
	pw_fault_rules("[]");
	int st = request("GET", path, NULL, &body);
	json_t *v = st == 200 ? json_loads(body, 0, NULL) : NULL;
	int n = json_is_array(v) ? (int)json_array_size(v) : -1;
	json_decref(v);
	free(body);
	return n;
}

typedef struct outcome {
	int rc;
	pw_result *r;
	pw_error *e;
	int64_t ms;
} outcome;

static outcome run_step(const char *run_id, const char *config, double timeout)
{
	outcome o = {0, NULL, NULL, 0};
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "faulty", "docker");
	pw_step_set_config_json(s, config, NULL);
	pw_step_set_timeout(s, timeout);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, "/tmp", run_id, NULL, NULL);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = run_id;
	eo.step_name = "faulty";
	eo.timeout_seconds = timeout;
	pw_exec *ex = NULL;
	pw_exec_new(&ex, &eo, NULL);
	int64_t t0 = pw__now_ms();
	o.rc = pw_manager_execute_step(&o.r, m, s, ws, NULL, ex, &o.e);
	o.ms = pw__now_ms() - t0;
	fprintf(stderr, "  %s: rc %d in %lld ms: %s\n", run_id, o.rc, (long long)o.ms,
	        o.e ? pw_error_message(o.e) : "ok");
	pw_exec_free(ex);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
	return o;
}

static void dispose(outcome *o)
{
	pw_result_free(o->r);
	pw_error_free(o->e);
}

#define CFG(cmd) "{\"image\":\"" TEST_IMAGE "\",\"pull\":\"never\",\"stop_timeout\":1,\"command\":" cmd "}"

PW_TEST(refused_connection_is_a_clear_error)
{
	PW_REQUIRE(proxy_start() == 0);
	/* a port nothing listens on */
	int port = pw_fault_unused_port();
	PW_REQUIRE(port > 0);
	char host[64], saved[64];
	snprintf(saved, sizeof(saved), "%s", getenv("DOCKER_HOST"));
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%d", port);
	setenv("DOCKER_HOST", host, 1);
	outcome o = run_step("pwfault-refused", CFG("\"true\""), 30);
	setenv("DOCKER_HOST", saved, 1);
	PW_CHECK_INT(o.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(o.e ? pw_error_message(o.e) : "", "no container engine is running");
	PW_CHECK_CONTAINS(o.e ? pw_error_message(o.e) : "", host + 6);
	dispose(&o);
}

PW_TEST(reset_on_connect_is_a_clear_error)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^POST .*/containers/create\",\"action\":\"refuse\"}]");
	outcome o = run_step("pwfault-reset-create", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK(o.rc < 0);
	PW_CHECK(o.e && strlen(pw_error_message(o.e)) > 10);
	PW_CHECK_INT(count_containers("pwfault-reset-create"), 0);
	dispose(&o);
}

/* A 503 is retried (the HTTP layer's policy for every method): one busy answer ends in success,
 * an engine that stays overloaded in an error naming its message. */
PW_TEST(server_error_on_create_names_the_engine_message)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^POST .*/containers/create\",\"action\":\"status\",\"code\":503,"
	    "\"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"{\\\"message\\\":\\\"engine is "
	    "overloaded\\\"}\"}]");
	outcome o = run_step("pwfault-503-once", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK_INT(o.rc, 0);
	PW_CHECK(o.r && pw_result_is_success(o.r));
	PW_CHECK_INT(count_containers("pwfault-503-once"), 0);
	dispose(&o);

	pw_fault_rules(
	    "[{\"match\":\"^POST .*/containers/create\",\"action\":\"status\",\"code\":503,\"times\":10,"
	    "\"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"{\\\"message\\\":\\\"engine is "
	    "overloaded\\\"}\"}]");
	o = run_step("pwfault-503", CFG("\"true\""), 30);
	PW_CHECK_INT(o.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(o.e ? pw_error_message(o.e) : "", "cannot create the container");
	PW_CHECK_CONTAINS(o.e && pw_error_response(o.e) ? pw_error_response(o.e) : "",
	                  "HTTP 503: engine is overloaded");
	PW_CHECK_INT(count_containers("pwfault-503"), 0);
	dispose(&o);
}

/* 429 with Retry-After: waited out, then the create goes through. */
PW_TEST(too_many_requests_with_retry_after_is_a_clear_error)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^POST .*/containers/create\",\"action\":\"status\",\"code\":429,"
	               "\"headers\":{\"Retry-After\":\"1\"},\"body\":\"slow down\"}]");
	outcome o = run_step("pwfault-429", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK_INT(o.rc, 0);
	PW_CHECK(o.r && pw_result_is_success(o.r));
	PW_CHECK(o.ms >= 900); /* Retry-After: 1 was honoured, not ignored */
	PW_CHECK_INT(count_containers("pwfault-429"), 0);
	dispose(&o);
}

PW_TEST(malformed_create_answer_is_a_clear_error)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^POST "
	    ".*/containers/create\",\"action\":\"body\",\"code\":201,\"text\":\"{\\\"Id\\\": 12\"}]");
	outcome o = run_step("pwfault-malformed", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK_INT(o.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(o.e ? pw_error_message(o.e) : "", "no container id");
	dispose(&o);
}

/* The engine made the container but its answer is cut: the connector removes it by name. */
PW_TEST(truncated_create_answer_fails_and_removes_the_container)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^POST .*/containers/create\",\"action\":\"truncate\",\"n\":5}]");
	outcome o = run_step("pwfault-truncated", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK(o.rc < 0);
	PW_CHECK(o.e && strlen(pw_error_message(o.e)) > 10);
	PW_CHECK_INT(count_containers("pwfault-truncated"), 0);
	dispose(&o);
}

PW_TEST(reset_mid_wait_answer_fails_and_removes_the_container)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^POST .*/containers/[0-9a-f]+/wait\",\"action\":\"reset\",\"n\":20}]");
	outcome o = run_step("pwfault-reset", CFG("\"true\""), 30);
	pw_fault_rules_used();
	PW_CHECK(o.rc < 0);
	PW_CHECK_INT(count_containers("pwfault-reset"), 0);
	dispose(&o);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^POST .*/containers/[0-9a-f]+/wait\",\"action\":\"delay\",\"seconds\":20}]");
	outcome o = run_step("pwfault-slow", CFG("\"true\""), 2);
	PW_CHECK_INT(o.rc, PW_ETIMEOUT);
	PW_CHECK(o.ms < 15000);
	PW_CHECK_INT(count_containers("pwfault-slow"), 0);
	dispose(&o);
}

/* The log follow is cut mid-line after 700 bytes: the connector reads the log again from where
 * it was and every line arrives whole, once, in order. */
PW_TEST(log_stream_cut_mid_line_loses_nothing)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^GET .*/containers/[0-9a-f]+/logs\",\"action\":\"cut\",\"n\":700}]");
	outcome o = run_step(
	    "pwfault-cut",
	    CFG("\"i=0; while [ $i -lt 60 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); "
	        "[ $i -eq 30 ] && sleep 1; done\""),
	    60);
	pw_fault_rules_used();
	PW_CHECK_INT(o.rc, 0);
	const char *out = o.r ? pw_result_stdout(o.r) : "";
	pw_buf want = PW_BUF_INIT(0);
	for (int i = 0; i < 60; i++)
		pw__buf_printf(&want, "line-%d-abcdefghijklmnopqrstuvwxyz\n", i);
	PW_CHECK_STR(out, pw__buf_cstr(&want));
	pw__buf_dispose(&want);
	PW_CHECK_INT(count_containers("pwfault-cut"), 0);
	dispose(&o);
}

PW_TEST_MAIN()
