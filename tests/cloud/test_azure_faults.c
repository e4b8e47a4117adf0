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

typedef struct frun {
	int rc;
	pw_result *r;
	pw_error *e;
	char *err_text;
	char *outputs;
	int64_t ms;
} frun;

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
static void run_step(frun *x, const char *url, double timeout)
{
	memset(x, 0, sizeof *x);
	const char *u = url ? url : pw_fault_proxy_base();
	char cfg[2048];
	snprintf(
	    cfg, sizeof cfg,
	    "{\"service\":\"container-instances\",\"action\":\"create-or-update\",\"endpoint\":\"%s\","
	    "\"authority_host\":\"%s\",\"imds_endpoint\":\"%s\",\"poll_interval\":0.02,"
	    "\"parameters\":{\"resource_group\":\"prod-rg\",\"container_group\":\"web-app\"," CREATE_PARAMS
	    "}}",
	    u, u, u);
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "azure");
	pw_error *ce = NULL;
	if (pw_step_set_config_json(s, cfg, &ce) < 0)
		fprintf(stderr, "  config: %s\n", pw_error_message(ce));
	pw_error_free(ce);
	pw_step_set_timeout(s, timeout);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, dir, "20261129-run-azf1", NULL, NULL);
	pw_map *env = pw_map_new();
	pw_map_set(env, "AZURE_TENANT_ID", AZ_TENANT);
	pw_map_set(env, "AZURE_CLIENT_ID", AZ_CLIENT);
	pw_map_set(env, "AZURE_CLIENT_SECRET", AZ_SECRET);
	pw_map_set(env, "AZURE_SUBSCRIPTION_ID", "sub-1234");
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "20261129-run-azf1";
	eo.step_name = "deploy";
	eo.timeout_seconds = timeout;
	pw_exec *ex = NULL;
	pw_exec_new(&ex, &eo, NULL);
	int64_t t0 = pw__now_ms();
	x->rc = pw_manager_execute_step(&x->r, m, s, ws, env, ex, &x->e);
	x->ms = pw__now_ms() - t0;
	pw_buf o = PW_BUF_INIT(0);
	const pw_map *outs = pw_exec_outputs(ex);
	for (size_t i = 0; outs && i < pw_map_count(outs); i++)
		pw__buf_printf(&o, "%s=%s\n", pw_map_key_at(outs, i), pw_map_value_at(outs, i));
	x->outputs = pw__buf_detach(&o);
	pw_exec_free(ex);
	pw_map_free(env);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
	x->err_text = x->e ? pw_error_format(x->e, 1) : pw_strdup("");
	fprintf(stderr, "  rc %d in %lld ms: %s\n", x->rc, (long long)x->ms, x->err_text);
	PW_CHECK_NOT_CONTAINS(x->err_text, AZ_SECRET);
	PW_CHECK_NOT_CONTAINS(x->err_text, "azure-sp-token-");
}

static void frun_dispose(frun *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw_free(x->err_text);
	pw_free(x->outputs);
}

static void check_succeeded(frun *x)
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
	frun x;
	run_step(&x, url, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.err_text, url + 7);
	PW_CHECK_CONTAINS(x.err_text, "token");
	PW_CHECK(x.ms < 25000);
	frun_dispose(&x);
}

PW_TEST(refused_create_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"refuse\",\"times\":50}]");
	frun x;
	run_step(&x, NULL, 30);
	PW_CHECK_INT(x.rc, PW_EIO);
	PW_CHECK_CONTAINS(x.err_text, "azure: cannot create or update the container group web-app: PUT");
	PW_CHECK_CONTAINS(x.err_text, "containerGroups/web-app");
	PW_CHECK_CONTAINS(x.err_text, "reset");
	PW_CHECK_INT(request_count(GROUP_PUT), 0);
	frun_dispose(&x);
}

/* A PUT sets the whole desired state: sent again after a reset mid-answer, it changes nothing
 * more, and the step succeeds. */
PW_TEST(reset_mid_response_is_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"reset\",\"n\":40}]");
	frun x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(request_count(GROUP_PUT), 2);
	frun_dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"delay\",\"seconds\":20}]");
	frun x;
	run_step(&x, NULL, 2);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.err_text, "timed out");
	PW_CHECK(x.ms < 15000);
	frun_dispose(&x);
}

PW_TEST(retry_after_429_is_honoured_then_success)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"status\",\"code\":429,\"headers\":{\"Retry-After\":\"1\","
	               "\"Content-Type\":\"application/json\"},\"body\":\"{\\\"error\\\":{\\\"code\\\":"
	               "\\\"TooManyRequests\\\",\\\"message\\\":\\\"slow down\\\"}}\"}]");
	frun x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK(x.ms >= 900);
	PW_CHECK_INT(request_count(GROUP_PUT), 1);
	frun_dispose(&x);
}

PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"status\",\"code\":500,\"body\":\"{}\"},"
	               "{" PUT ",\"action\":\"status\",\"code\":502,\"body\":\"bad gateway\"},"
	               "{" PUT ",\"action\":\"status\",\"code\":503,\"body\":\"\"}]");
	frun x;
	run_step(&x, NULL, 60);
	pw_fault_rules_used();
	check_succeeded(&x);
	PW_CHECK_INT(request_count(GROUP_PUT), 1);
	frun_dispose(&x);
}

/* The token endpoint behind the proxy: a 503, a reset and a 502 are retried. */
PW_TEST(token_endpoint_faults_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" TOKEN_EP ",\"action\":\"status\",\"code\":503,\"body\":\"\"},"
	               "{" TOKEN_EP ",\"action\":\"reset\",\"n\":20},"
	               "{" TOKEN_EP ",\"action\":\"status\",\"code\":502,\"body\":\"\"}]");
	frun x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	frun_dispose(&x);
}

PW_TEST(malformed_create_answer_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" PUT ",\"action\":\"body\",\"code\":201,\"text\":\"{\\\"properties\\\": {\"}]");
	frun x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "azure: cannot create or update the container group web-app");
	PW_CHECK_CONTAINS(x.err_text, "containerGroups/web-app is not JSON");
	frun_dispose(&x);
}

PW_TEST(malformed_token_answer_is_a_clear_error)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules("[{" TOKEN_EP
	               ",\"action\":\"body\",\"text\":\"{\\\"access_token\\\": \",\"times\":20}]");
	frun x;
	run_step(&x, NULL, 30);
	PW_CHECK(x.rc < 0);
	PW_CHECK_CONTAINS(x.err_text, "token");
	PW_CHECK_CONTAINS(x.err_text, "JSON");
	PW_CHECK_INT(request_count(GROUP_PUT), 0);
	frun_dispose(&x);
}

/* A cut answer to the PUT and to a status read: both asked again, then success. */
PW_TEST(truncated_answers_are_retried)
{
	PW_REQUIRE(start() == 0);
	pw_fault_rules(
	    "[{" PUT ",\"action\":\"truncate\",\"n\":30},"
	    "{\"match\":\"^GET /subscriptions/.*containerGroups/web-app\\\\?\",\"action\":\"truncate\","
	    "\"n\":30}]");
	frun x;
	run_step(&x, NULL, 30);
	pw_fault_rules_used();
	check_succeeded(&x);
	frun_dispose(&x);
}

PW_TEST_MAIN()
