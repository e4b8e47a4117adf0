/* The AWS connector (ECS update-service, its STS token endpoint) through
 * tests/faults/fault_proxy.py in front of tests/aws/fake_aws.py: refused connections, a reset
 * mid-response, an answer slower than the step's deadline, 429 with Retry-After and bursts of
 * 500/502/503 that end in success, malformed and truncated JSON. Each case ends in success or
 * in an error naming AWS and the operation, within bounds: never a hang. */
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

#define AKID "AKIDPIPEWRIGHTTEST"
#define SECRET "pipewright/Test+Secret0123456789abcdefghij"
#define WEB_TOKEN "oidc-test-token"

static struct {
	pw_fake_server fake;
	int port;
	char dir[64];
	char base[64];
	pw_http_pool *pool;
} srv;

static int server_start(void)
{
	if (srv.fake.pid)
		return 0;
	const char *src = getenv("PW_SOURCE_DIR");
	char specs[1024];
	snprintf(specs, sizeof(specs), "%s/tests/specs/aws", src ? src : ".");
	const char *const args[] = {"--specs", specs,         "--akid",  AKID, "--secret",
	                            SECRET,    "--web-token", WEB_TOKEN, NULL};
	const char *const names[] = {"PORT", NULL};
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pw-awsf") < 0 ||
	    pw_fake_server_start(&srv.fake, "tests/aws/fake_aws.py", args, names, "READY") < 0)
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

/* A fresh fake (no scenario) and no fault rules. */
static int reset(void)
{
	if (server_start() != 0)
		return -1;
	json_decref(control("/_test/reset", "{}"));
	pw_fault_rules("[]");
	return 0;
}

/* How many requests with op reached the fake. */
static int count_requests(const char *op)
{
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(r, i, x)
	{
		const char *o = json_string_value(json_object_get(x, "op"));
		if (o && strcmp(o, op) == 0)
			n++;
	}
	json_decref(r);
	return n;
}

/* Runs an aws step with the given config and timeout; env: NULL-terminated KEY, VALUE pairs. */
static void run_step(run *x, const char *config, const char *const *env, double timeout)
{
	pw_map *em = pw_map_new();
	pw_map_set(em, "HOME", srv.dir);
	for (size_t i = 0; env && env[i]; i += 2)
		pw_map_set(em, env[i], env[i + 1]);
	run_step_in(x, NULL, "aws", "deploy", config, em, srv.dir, 0, timeout);
	pw_map_free(em);
	fprintf(stderr, "  rc %d in %lld ms: %s\n", x->rc, (long long)x->ms, x->error_line);
}

static const char *const static_env[] = {"AWS_ACCESS_KEY_ID", AKID, "AWS_SECRET_ACCESS_KEY", SECRET, NULL};

static char cfg_buf[1024];
/* ECS update-service of prod/web through the proxy (or the given endpoint). */
static const char *ecs_cfg(const char *endpoint)
{
	snprintf(cfg_buf, sizeof(cfg_buf),
	         "{\"service\":\"ecs\",\"action\":\"update-service\",\"region\":\"eu-west-1\","
	         "\"endpoint\":\"%s\",\"poll_interval\":0.02,\"parameters\":{\"cluster\":\"prod\","
	         "\"service\":\"web\",\"task_definition\":\"web:7\"}}",
	         endpoint ? endpoint : pw_fault_proxy_base());
	return cfg_buf;
}

/* The first ECS request is UpdateService (then DescribeServices polls): all are "POST /". */
#define UPDATE "\"match\":\"^POST /$\""

static void check_succeeded(run *x)
{
	PW_CHECK_INT(x->rc, 0);
	PW_CHECK(x->r && pw_result_exit_code(x->r) == 0);
	PW_CHECK_STR(x->r ? pw_map_get(pw_result_metadata_const(x->r), "rollout_state") : NULL, "COMPLETED");
}

PW_TEST(refused_port_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", pw_fault_unused_port());
	run x;
	run_step(&x, ecs_cfg(url), static_env, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "AWS ecs UpdateService failed");
	PW_CHECK_CONTAINS(x.error_line, url + 7);
	PW_CHECK(x.ms < 25000);
	dispose(&x);
}

/* Every connection to the proxy is closed at once: an error naming the operation, and the
 * fake saw no update. */
PW_TEST(refused_connection_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"refuse\",\"times\":20}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "AWS ecs UpdateService failed");
	PW_CHECK_CONTAINS(x.error_line, "reset");
	PW_CHECK_INT(count_requests("UpdateService"), 0);
	PW_CHECK(x.ms < 25000);
	dispose(&x);
}

/* One refused connection: UpdateService is safe to send again (it sets the desired state), so
 * the connector retries and the rollout completes with one update. */
PW_TEST(one_refused_connection_is_retried)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"refuse\"}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(count_requests("UpdateService"), 1);
	dispose(&x);
}

/* The answer to UpdateService is reset after its first bytes: the update reached AWS; sending
 * it again sets the same state, and the step ends with the completed rollout. */
PW_TEST(reset_mid_response_is_retried)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"reset\",\"n\":30}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK(count_requests("UpdateService") >= 1);
	dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.error_line, "timed out");
	PW_CHECK(x.ms < 15000);
	dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/x-amz-json-1.1\"},\"body\":\"{\\\"__type\\\":"
	               "\\\"ThrottlingException\\\",\\\"message\\\":\\\"Rate exceeded\\\"}\"}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK(x.ms >= 900); /* Retry-After: 1 was waited out */
	PW_CHECK_INT(count_requests("UpdateService"), 1);
	dispose(&x);
}

PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" UPDATE ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" UPDATE ",\"action\":\"status\",\"code\":503,\"body\":\"\"}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 60);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(count_requests("UpdateService"), 1);
	dispose(&x);
}

/* 503 every time: the step gives up with the status, naming the operation. */
PW_TEST(persistent_503_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"status\",\"code\":503,\"times\":100,"
	               "\"body\":\"{\\\"__type\\\":\\\"ServiceUnavailableException\\\","
	               "\\\"message\\\":\\\"try later\\\"}\"}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 60);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.error_line, "AWS ecs UpdateService failed: ServiceUnavailableException");
	PW_CHECK_CONTAINS(x.error_line, "503");
	PW_CHECK_INT(count_requests("UpdateService"), 0);
	dispose(&x);
}

PW_TEST(malformed_json_is_a_clear_error)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE
	               ",\"action\":\"body\",\"text\":\"{\\\"service\\\": {\\\"deployments\\\": [\"}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.error_line, "UpdateService");
	PW_CHECK_CONTAINS(x.error_line, "JSON");
	dispose(&x);
}

/* A truncated answer to a read (DescribeServices) is read again: the step succeeds. */
PW_TEST(truncated_read_is_retried)
{
	PW_REQUIRE(reset() == 0);
	/* the first request (UpdateService) passes, the second (DescribeServices) is cut */
	pw_fault_rules("[{" UPDATE ",\"action\":\"pass\"},{" UPDATE ",\"action\":\"truncate\",\"n\":20}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	check_succeeded(&x);
	dispose(&x);
}

/* A truncated answer to UpdateService: the update reached AWS and is sent again (it sets the
 * same desired state); the step succeeds. */
PW_TEST(truncated_update_answer_is_retried)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"truncate\",\"n\":20}]");
	run x;
	run_step(&x, ecs_cfg(NULL), static_env, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(count_requests("UpdateService"), 2);
	dispose(&x);
}

/* RunTask starts a task each time it is sent: after a reset mid-answer it is not sent again
 * (the fake started one task), and the step fails saying which operation was cut. */
PW_TEST(reset_mid_run_task_answer_is_not_repeated)
{
	PW_REQUIRE(reset() == 0);
	pw_fault_rules("[{" UPDATE ",\"action\":\"reset\",\"n\":30}]");
	snprintf(cfg_buf, sizeof(cfg_buf),
	         "{\"service\":\"ecs\",\"action\":\"run-task\",\"region\":\"eu-west-1\",\"endpoint\":\"%s\","
	         "\"poll_interval\":0.02,\"parameters\":{\"cluster\":\"batch\",\"task_definition\":"
	         "\"migrate:2\"}}",
	         pw_fault_proxy_base());
	run x;
	run_step(&x, cfg_buf, static_env, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "AWS ecs RunTask failed");
	PW_CHECK_CONTAINS(x.error_line, "was not sent again");
	PW_CHECK_INT(count_requests("RunTask"), 1);
	dispose(&x);
}

/* The STS token endpoint behind the proxy: a 503 and a reset on AssumeRoleWithWebIdentity are
 * retried and the update goes through with the issued credentials. */
PW_TEST(token_endpoint_faults_are_retried)
{
	PW_REQUIRE(reset() == 0);
	char tf[128];
	snprintf(tf, sizeof(tf), "%s/oidc-token", srv.dir);
	FILE *f = fopen(tf, "w");
	PW_REQUIRE(f != NULL);
	fputs(WEB_TOKEN "\n", f);
	fclose(f);
	const char *env[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
	                     tf,
	                     "AWS_ROLE_ARN",
	                     "arn:aws:iam::123456789012:role/deployer",
	                     "AWS_ENDPOINT_URL_STS",
	                     pw_fault_proxy_base(),
	                     NULL};
	/* STS is asked first (POST / too) */
	pw_fault_rules("[{" UPDATE ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" UPDATE ",\"action\":\"reset\",\"n\":20}]");
	run x;
	run_step(&x, ecs_cfg(NULL), env, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	/* the 503 never reached STS; the reset one did, and its retry */
	PW_CHECK_INT(count_requests("AssumeRoleWithWebIdentity"), 2);
	dispose(&x);
}

PW_TEST_MAIN()
