/* The GCP connector's Cloud Run deploy through tests/faults/fault_proxy.py in front of
 * tests/cloud/fake_cloud.py, with the Cloud Run API and the token endpoint behind the proxy:
 * refused connections, a reset mid-response, an answer slower than the step's deadline, 429 with
 * Retry-After and bursts of 500/502/503, malformed and truncated JSON. Each case ends in success
 * or in an error naming the operation, never a hang; a create is never sent twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/proxy.h"
#include "net/json.h"
#include "pipewright/result.h"
#include "fake_cloud.h"
#include "pwtest.h"

#define SVC_PATH "/v2/projects/test-project/locations/us-central1/services"
#define CREATE "\"match\":\"^POST " SVC_PATH "\\\\?serviceId=web-app\""
#define GET_SVC "\"match\":\"^GET " SVC_PATH "/web-app$\""
#define OP_POLL "\"match\":\"^GET /v2/projects/test-project/locations/us-central1/operations/\""
#define TOKEN_EP "\"match\":\"^POST /google/token\""

static char keyfile[128];

/* A fresh fake and proxy, no fault rules; the key file's token endpoint is the proxy's. */
static int start(void)
{
	reset(NULL);
	char up[64];
	snprintf(up, sizeof up, "tcp:%s", base + 7);
	if (pw_fault_proxy_start(up, NULL) < 0)
		return -1;
	pw_fault_rules("[]");
	snprintf(keyfile, sizeof keyfile, "%s/sa-faults.json", dir);
	char cmd[1024];
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(cmd, sizeof cmd, "python3 '%s/tests/cloud/gcp_key.py' '%s' '%s'", src ? src : ".",
	         pw_fault_proxy_base(), keyfile);
	return system(cmd) == 0 ? 0 : -1;
}

/* deploy of web-app at url (NULL: the proxy), with the step's timeout. */
static void deploy(run *x, const char *url, double timeout)
{
	char cfg[2048];
	snprintf(
	    cfg, sizeof cfg,
	    "{\"service\":\"cloud-run\",\"action\":\"deploy\",\"endpoint\":\"%s\",\"poll_interval\":0.02,"
	    "\"parameters\":{\"service_name\":\"web-app\",\"image\":\"us-docker.pkg.dev/test-project/"
	    "apps/web-app:1.2\",\"region\":\"us-central1\",\"revision_suffix\":\"v1\"}}",
	    url ? url : pw_fault_proxy_base());
	pw_map *env = pw_map_new();
	pw_map_set(env, "GOOGLE_APPLICATION_CREDENTIALS", keyfile);
	run_step_timed(x, NULL, "gcp", cfg, env, 0, timeout);
	pw_map_free(env);
	char *t = err_text(x);
	PW_CHECK_NOT_CONTAINS(t, "gcp-sa-token-");
	PW_CHECK_NOT_CONTAINS(t, "PRIVATE KEY");
	pw_free(t);
}

static void check_deployed(run *x)
{
	PW_CHECK_INT(x->rc, 0);
	PW_CHECK(x->r && pw_result_exit_code(x->r) == 0);
	PW_CHECK_CONTAINS(x->outputs, "revision=web-app-v1");
	PW_CHECK_INT(violations(), 0);
}

#define CHECK_ERROR(x, text)                 \
	do {                                 \
		char *t_ = err_text(x);      \
		PW_CHECK_CONTAINS(t_, text); \
		pw_free(t_);                 \
	} while (0)

PW_TEST(refused_connections_are_clear_errors)
{
	PW_REQUIRE(start() == 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", pw_fault_unused_port());
	run x;
	deploy(&x, url, 30);
	PW_CHECK(x.rc < 0);
	CHECK_ERROR(&x, "gcp: read the service web-app");
	dispose(&x);
	/* the proxy refusing the create every time: no service, and the error says what to do */
	pw_fault_rules("[{" CREATE ",\"action\":\"refuse\",\"times\":10}]");
	deploy(&x, NULL, 30);
	PW_CHECK(x.rc < 0);
	CHECK_ERROR(&x, "gcp: create the service web-app");
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 0);
	dispose(&x);
}

/* A create cut mid-answer is not sent again (it may have been made); the error says so, and the
 * step run again updates the service it finds. */
PW_TEST(create_reset_mid_answer_is_not_sent_twice)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"reset\",\"n\":30}]");
	run x;
	deploy(&x, NULL, 30);
	pw_fault_rules_used();
	PW_CHECK(x.rc < 0);
	CHECK_ERROR(&x, "gcp: create the service web-app");
	CHECK_ERROR(&x, "may have reached Cloud Run");
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 1);
	dispose(&x);
	pw_fault_rules("[]");
	deploy(&x, NULL, 30);
	check_deployed(&x);
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 1);
	PW_CHECK_INT(request_count("PATCH " SVC_PATH "/web-app"), 1);
	dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" GET_SVC ",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	deploy(&x, NULL, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	CHECK_ERROR(&x, "timed out");
	PW_CHECK(x.ms < 15000);
	dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" CREATE ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/json\"},\"body\":\"{\\\"error\\\":{\\\"code\\\":429,"
	               "\\\"status\\\":\\\"RESOURCE_EXHAUSTED\\\",\\\"message\\\":\\\"quota\\\"}}\"}]");
	run x;
	deploy(&x, NULL, 30);
	pw_fault_rules_used();
	check_deployed(&x);
	PW_CHECK(x.ms >= 900);
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 1);
	dispose(&x);
}

PW_TEST(bursts_of_5xx_then_success)
{
	PW_REQUIRE(start() == 0);
	/* on the reads (retried) and the create (503 only: the server did not act on it) */
	pw_fault_rules("[{" GET_SVC ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" GET_SVC ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" CREATE ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" OP_POLL ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" OP_POLL ",\"action\":\"status\",\"code\":500,\"body\":\"\"}]");
	run x;
	deploy(&x, NULL, 60);
	pw_fault_rules_used();
	check_deployed(&x);
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 1);
	dispose(&x);
}

PW_TEST(token_endpoint_faults_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" TOKEN_EP ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" TOKEN_EP ",\"action\":\"reset\",\"n\":20}]");
	run x;
	deploy(&x, NULL, 30);
	pw_fault_rules_used();
	check_deployed(&x);
	dispose(&x);
}

PW_TEST(malformed_answers)
{
	PW_REQUIRE(start() == 0);
	/* the service read: a clear error before anything is sent */
	pw_fault_rules("[{" GET_SVC ",\"action\":\"body\",\"text\":\"{\\\"name\\\": \"}]");
	run x;
	deploy(&x, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	CHECK_ERROR(&x, "gcp: read the service: the answer is not JSON");
	PW_CHECK_INT(request_count("POST " SVC_PATH "?"), 0);
	dispose(&x);
	/* the create's answer: the create is not sent again, and the error says what to look at */
	pw_fault_rules("[{" CREATE ",\"action\":\"body\",\"text\":\"<html>oops\"}]");
	deploy(&x, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	CHECK_ERROR(&x, "gcp: create the service web-app: the answer is not JSON");
	CHECK_ERROR(&x, "may have reached Cloud Run");
	dispose(&x);
	/* an operation poll: asked again at the next poll */
	json_decref(control("/_test/reset", "{}"));
	pw_fault_rules("[{" OP_POLL ",\"action\":\"body\",\"text\":\"{\\\"done\\\": tr\"}]");
	deploy(&x, NULL, 30);
	pw_fault_rules_used();
	check_deployed(&x);
	dispose(&x);
}

PW_TEST(truncated_answers_of_reads_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" GET_SVC ",\"action\":\"truncate\",\"n\":10},"
	               "{" OP_POLL ",\"action\":\"truncate\",\"n\":10}]");
	run x;
	deploy(&x, NULL, 30);
	pw_fault_rules_used();
	check_deployed(&x);
	dispose(&x);
}

PW_TEST_MAIN()
