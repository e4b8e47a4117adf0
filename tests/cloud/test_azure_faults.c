/* The Azure connector's container-instances create-or-update through
 * tests/faults/fault_proxy.py in front of tests/cloud/fake_cloud.py, with both ARM and the Azure
 * AD token endpoint behind the proxy: refused connections, a reset mid-response, an answer
 * slower than the step's deadline, 429 with Retry-After and bursts of 500/502/503, malformed and
 * truncated JSON. Each case ends in success or in an error naming the operation, never a hang. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "faults/proxy.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/step.h"
#include "fake_cloud.h"
#include "pwtest.h"
#include "step_run.h"

/* A fresh fake and proxy, no fault rules. */
static int start(void)
{
	reset(NULL);
	char up[64];
	snprintf(up, sizeof up, "tcp:%s", base + 7);
	if (pw_fault_proxy_start(up, NULL) < 0)
		return -1;
	pw_fault_rules("[]");
	return 0;
}

#define CREATE_PARAMS                        \
	"\"image\":\"myregistry.azurecr.io/" \
	"web-app:1.2\",\"location\":\"westeurope\",\"cpu\":1,\"memory\":1.5"

/* create-or-update of prod-rg/web-app with ARM and the token endpoints at url (NULL: the proxy). */
static void run_step(run *x, const char *url, double timeout)
{
	const char *u = url ? url : pw_fault_proxy_base();
	char cfg[2048];
	snprintf(
	    cfg, sizeof cfg,
	    "{\"service\":\"container-instances\",\"action\":\"create-or-update\",\"endpoint\":\"%s\","
	    "\"authority_host\":\"%s\",\"imds_endpoint\":\"%s\",\"poll_interval\":0.02,"
	    "\"parameters\":{\"resource_group\":\"prod-rg\",\"container_group\":\"web-app\"," CREATE_PARAMS
	    "}}",
	    u, u, u);
	pw_map *env = pw_map_new();
	pw_map_set(env, "AZURE_TENANT_ID", AZ_TENANT);
	pw_map_set(env, "AZURE_CLIENT_ID", AZ_CLIENT);
	pw_map_set(env, "AZURE_CLIENT_SECRET", AZ_SECRET);
	pw_map_set(env, "AZURE_SUBSCRIPTION_ID", "sub-1234");
	run_step_in(x, NULL, "azure", "deploy", cfg, env, dir, 0, timeout);
	pw_map_free(env);
	fprintf(stderr, "  rc %d in %lld ms: %s\n", x->rc, (long long)x->ms, x->error_line);
	PW_CHECK_NOT_CONTAINS(x->error_line, AZ_SECRET);
	PW_CHECK_NOT_CONTAINS(x->error_line, "azure-sp-token-");
}

static void check_succeeded(run *x)
{
	PW_CHECK_INT(x->rc, 0);
	PW_CHECK(x->r && pw_result_exit_code(x->r) == 0);
	PW_CHECK_CONTAINS(x->outputs, "provisioning_state=Succeeded");
}

#define PUT "\"match\":\"^PUT /subscriptions/sub-1234/resourceGroups/prod-rg/.*containerGroups/web-app\\\\?\""
#define TOKEN_EP "\"match\":\"^POST /" AZ_TENANT "/oauth2/v2.0/token\""
#define GROUP_PUT "PUT /subscriptions/sub-1234/resourceGroups/prod-rg/"

PW_TEST(refused_port_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", pw_fault_unused_port());
	run x;
	run_step(&x, url, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, url + 7);
	PW_CHECK_CONTAINS(x.error_line, "token");
	PW_CHECK(x.ms < 25000);
	dispose(&x);
}

PW_TEST(refused_create_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"refuse\",\"times\":50}]");
	run x;
	run_step(&x, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.error_line, "azure: cannot create or update the container group web-app: PUT");
	PW_CHECK_CONTAINS(x.error_line, "containerGroups/web-app");
	PW_CHECK_CONTAINS(x.error_line, "reset");
	PW_CHECK_INT(request_count(GROUP_PUT), 0);
	dispose(&x);
}

/* A PUT sets the whole desired state: sent again after a reset mid-answer, it changes nothing
 * more, and the step succeeds. */
PW_TEST(reset_mid_response_is_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"reset\",\"n\":40}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(request_count(GROUP_PUT), 2);
	dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	run_step(&x, NULL, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.error_line, "timed out");
	PW_CHECK(x.ms < 15000);
	dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/json\"},\"body\":\"{\\\"error\\\":{\\\"code\\\":"
	               "\\\"TooManyRequests\\\",\\\"message\\\":\\\"slow down\\\"}}\"}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK(x.ms >= 900);
	PW_CHECK_INT(request_count(GROUP_PUT), 1);
	dispose(&x);
}

PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" PUT ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" PUT ",\"action\":\"status\",\"code\":503,\"body\":\"\"}]");
	run x;
	run_step(&x, NULL, 60);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(request_count(GROUP_PUT), 1);
	dispose(&x);
}

/* The token endpoint behind the proxy: a 503, a reset and a 502 are retried. */
PW_TEST(token_endpoint_faults_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" TOKEN_EP ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" TOKEN_EP ",\"action\":\"reset\",\"n\":20},"
	               "{" TOKEN_EP ",\"action\":\"status\",\"code\":502,\"body\":\"\"}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	dispose(&x);
}

PW_TEST(malformed_create_answer_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"body\",\"code\":201,\"text\":\"{\\\"properties\\\": {\"}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.error_line, "azure: cannot create or update the container group web-app");
	PW_CHECK_CONTAINS(x.error_line, "containerGroups/web-app is not JSON");
	dispose(&x);
}

PW_TEST(malformed_token_answer_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" TOKEN_EP
	               ",\"action\":\"body\",\"text\":\"{\\\"access_token\\\": \",\"times\":20}]");
	run x;
	run_step(&x, NULL, 30);
	PW_CHECK(x.rc < 0);
	PW_CHECK_CONTAINS(x.error_line, "token");
	PW_CHECK_CONTAINS(x.error_line, "JSON");
	PW_CHECK_INT(request_count(GROUP_PUT), 0);
	dispose(&x);
}

/* A cut answer to the PUT and to a status read: both asked again, then success. */
PW_TEST(truncated_answers_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules(
	    "[{" PUT ",\"action\":\"truncate\",\"n\":30},"
	    "{\"match\":\"^GET /subscriptions/.*containerGroups/web-app\\\\?\",\"action\":\"truncate\","
	    "\"n\":30}]");
	run x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	dispose(&x);
}

PW_TEST_MAIN()
