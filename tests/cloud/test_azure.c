/* The Azure connector against tests/cloud/fake_cloud.py: ARM Container Instances with bodies
 * checked against containerInstance.json, tokens from the local Azure AD / IMDS endpoints. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/secrets.h"
#include "fake_cloud.h"
#include "pwtest.h"

/* The environment every case gets: the client secret credential and subscription. */
static pw_map *env_secret(void)
{
	pw_map *m = pw_map_new();
	pw_map_set(m, "AZURE_TENANT_ID", AZ_TENANT);
	pw_map_set(m, "AZURE_CLIENT_ID", AZ_CLIENT);
	pw_map_set(m, "AZURE_CLIENT_SECRET", AZ_SECRET);
	pw_map_set(m, "AZURE_SUBSCRIPTION_ID", "sub-1234");
	return m;
}

static char cfgbuf[4096];
/* A step config reaching the fake: endpoint, authority and IMDS overrides, quick polling. */
static const char *cfg(const char *action, const char *params, const char *extra)
{
	snprintf(
	    cfgbuf, sizeof cfgbuf,
	    "{\"service\":\"container-instances\",\"action\":\"%s\",\"endpoint\":\"%s\",\"authority_host\":"
	    "\"%s\","
	    "\"imds_endpoint\":\"%s\",\"poll_interval\":0.02,\"parameters\":{\"resource_group\":\"prod-rg\","
	    "\"container_group\":\"web-app\"%s%s}%s%s}",
	    action, base, base, base, params && *params ? "," : "", params ? params : "",
	    extra && *extra ? "," : "", extra ? extra : "");
	return cfgbuf;
}

#define run_step(x, m, config, env, cancel) run_step_of(x, m, "azure", config, env, cancel)

/* No secret or token in anything the step produced. */
static void check_no_secrets(run *x)
{
	const char *const secrets[] = {AZ_SECRET,         AZ_FEDERATED,     "azure-sp-token-",
	                               "azure-mi-token-", "db-password-77", NULL};
	check_absent(x, secrets);
}

#define CREATE_PARAMS                                                                                        \
	"\"image\":\"myregistry.azurecr.io/"                                                                 \
	"web-app:1.2\",\"location\":\"westeurope\",\"cpu\":1,\"memory\":1.5,"                                \
	"\"ports\":[80],\"dns_name_label\":\"web-app-ci\",\"environment\":{\"MODE\":\"prod\",\"WORKERS\":4}" \
	","                                                                                                  \
	"\"secure_environment\":{\"DB_PASSWORD\":\"db-password-77\"},\"restart_policy\":\"Always\""

PW_TEST(create_or_update_succeeds_with_spec_conformant_body)
{
	reset(NULL);
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_CONTAINS(x.outputs, "provisioning_state=Succeeded");
	PW_CHECK_CONTAINS(x.outputs, "ip=20.1.2.3");
	PW_CHECK_CONTAINS(x.outputs, "fqdn=web-app-ci.westeurope.azurecontainer.io");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "azure.container-instances.create-or-update");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "containerGroups/web-app");
	PW_CHECK_INT(violations(), 0);
	json_t *st = control("/_test/state", NULL);
	json_t *g = json_object_get(json_object_get(st, "groups"),
	                            "/subscriptions/sub-1234/resourceGroups/prod-rg/providers/"
	                            "Microsoft.ContainerInstance/containerGroups/web-app");
	PW_CHECK_STR(pw__json_get_string(g, "properties.provisioningState"), "Succeeded");
	PW_CHECK_STR(pw__json_get_string(g, "properties.containers.0.properties.image"),
	             "myregistry.azurecr.io/web-app:1.2");
	/* the secure value was sent as secureValue (the fake checked the body) */
	char *bodies = pw__json_dump(json_object_get(st, "bodies"));
	PW_CHECK_CONTAINS(bodies, "\"secureValue\":\"db-password-77\"");
	PW_CHECK_CONTAINS(bodies, "\"name\":\"WORKERS\",\"value\":\"4\"");
	pw_free(bodies);
	json_decref(st);
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(provisioning_failed_reports_events_and_logs)
{
	reset("{\"provision\":\"Failed\"}");
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK(x.rc < 0);
	PW_REQUIRE(x.e);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "provisioning Failed");
	PW_CHECK_CONTAINS(t, "InaccessibleImage");
	PW_CHECK_CONTAINS(t, "manifest unknown");
	PW_CHECK_CONTAINS(t, "ErrImagePull");
	PW_CHECK_CONTAINS(t, "no logs: the image was never pulled");
	pw_free(t);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "failed");
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(throttling_and_5xx_burst_then_success)
{
	reset("{\"throttle\":{\"match\":\"/containerGroups/\",\"method\":\"PUT\",\"count\":1},"
	      "\"burst5xx\":{\"match\":\"/operations/\",\"count\":2}}");
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(x.outputs, "provisioning_state=Succeeded");
	json_t *st = control("/_test/state", NULL);
	char *reqs = pw__json_dump(json_object_get(st, "requests"));
	json_decref(st);
	/* two PUTs (429, then accepted) */
	const char *p = strstr(reqs, "PUT /subscriptions");
	PW_CHECK(p && strstr(p + 1, "PUT /subscriptions"));
	pw_free(reqs);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(expired_token_is_refreshed_and_cached_otherwise)
{
	reset(NULL);
	pw_map *env = env_secret();
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	run x;
	run_step(&x, m, cfg("logs", "\"tail\":1", NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ENOTFOUND); /* the group does not exist yet */
	dispose(&x);
	run_step(&x, m, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	dispose(&x);
	/* one token for both steps: cached */
	PW_CHECK_INT(token_requests("client_secret"), 1);
	json_decref(control("/_test/expire", "{}"));
	run_step(&x, m, cfg("logs", "\"tail\":1", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(x.r ? pw_result_stdout(x.r) : NULL, "listening on :80\n");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.log), "401, refreshing the access token");
	PW_CHECK_INT(token_requests("client_secret"), 2);
	check_no_secrets(&x);
	dispose(&x);
	pw_manager_free(m);
	pw_map_free(env);
}

PW_TEST(authorization_failed_names_the_missing_action)
{
	reset("{\"deny\":[\"Microsoft.ContainerInstance/containerGroups/write\"]}");
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "missing 'Microsoft.ContainerInstance/containerGroups/write'");
	PW_CHECK_CONTAINS(t, "grant the pipeline's identity");
	pw_free(t);
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(workload_identity_and_managed_identity)
{
	reset(NULL);
	pw_map *env = pw_map_new();
	char p[128];
	snprintf(p, sizeof p, "%s/fed-token", dir);
	pw_map_set(env, "AZURE_TENANT_ID", AZ_TENANT);
	pw_map_set(env, "AZURE_CLIENT_ID", AZ_CLIENT);
	pw_map_set(env, "AZURE_FEDERATED_TOKEN_FILE", p);
	pw_map_set(env, "AZURE_SUBSCRIPTION_ID", "sub-1234");
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(token_requests("client_assertion"), 1);
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);

	env = pw_map_new();
	pw_map_set(env, "AZURE_SUBSCRIPTION_ID", "sub-1234");
	run_step(&x, NULL, cfg("delete", NULL, "\"credential\":\"managed-identity\""), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(token_requests("imds"), 1);
	PW_CHECK_CONTAINS(x.r ? pw_result_stdout(x.r) : NULL, "deleted");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "azure.container-instances.delete");
	check_no_secrets(&x);
	dispose(&x);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_object_size(json_object_get(st, "groups")), 0);
	json_decref(st);
	pw_map_free(env);
}

PW_TEST(wait_returns_the_container_exit_code_and_restart_works)
{
	reset("{\"exit_code\":3,\"run_polls\":2}");
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("create-or-update", CREATE_PARAMS ",\"wait\":true", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 3);
	PW_CHECK_CONTAINS(pw_result_stdout(x.r), "listening on :80");
	dispose(&x);
	run_step(&x, NULL, cfg("restart", NULL, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "azure.container-instances.restart");
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(cancel_during_a_wait)
{
	reset("{\"polls\":100000}");
	pw_map *env = env_secret();
	run x;
	char c[4096];
	snprintf(c, sizeof c, "%s", cfg("create-or-update", CREATE_PARAMS, NULL));
	/* slow polling so that the cancel lands in a wait */
	char *pi = strstr(c, "0.02");
	if (pi)
		memcpy(pi, "0.50", 4);
	run_step(&x, NULL, c, env, 300);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	/* the group was submitted; the cancel came while waiting for its provisioning */
	json_t *st = control("/_test/state", NULL);
	char *reqs = pw__json_dump(json_object_get(st, "requests"));
	PW_CHECK_CONTAINS(reqs, "PUT /subscriptions/sub-1234");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "failed");
	pw_free(reqs);
	json_decref(st);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(bad_config_is_refused_before_sending)
{
	reset(NULL);
	pw_map *env = env_secret();
	run x;
	run_step(&x, NULL, cfg("scale", NULL, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "container-instances/create-or-update, container-instances/delete");
	pw_free(t);
	dispose(&x);
	run_step(&x, NULL, cfg("create-or-update", "\"image\":\"x\",\"cpus\":2", NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	t = err_text(&x);
	PW_CHECK_CONTAINS(t, "unknown parameter 'cpus'");
	PW_CHECK_CONTAINS(t, "did you mean 'cpu'?");
	pw_free(t);
	dispose(&x);
	run_step(&x, NULL, cfg("create-or-update", "\"image\":\"x\",\"memory\":\"lots\"", NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	t = err_text(&x);
	PW_CHECK_CONTAINS(t, "parameter 'memory' must be a number");
	pw_free(t);
	dispose(&x);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "requests")), 0);
	json_decref(st);
	pw_map_free(env);
}

PW_TEST(plan_prints_the_exact_request_redacted)
{
	reset(NULL);
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "azure", NULL) == 0);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "azure");
	pw_step_set_config_json(s, cfg("create-or-update", CREATE_PARAMS, NULL), NULL);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, dir, "plan", NULL, NULL);
	pw_map *env = env_secret();
	char *text = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_connector_plan(&text, c, s, ws, env, &e), 0);
	PW_CHECK_CONTAINS(text, "PUT http://127.0.0.1:");
	PW_CHECK_CONTAINS(text, "/subscriptions/sub-1234/resourceGroups/prod-rg/providers/"
	                        "Microsoft.ContainerInstance/containerGroups/web-app?api-version=2025-09-01");
	PW_CHECK_CONTAINS(text, "Authorization: Bearer ***");
	PW_CHECK_CONTAINS(text, "\"secureValue\": \"***\"");
	PW_CHECK_NOT_CONTAINS(text, "db-password-77");
	PW_CHECK_NOT_CONTAINS(text, AZ_SECRET);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "requests")), 0);
	json_decref(st);
	pw_free(text);
	pw_error_free(e);
	pw_map_free(env);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST_MAIN()
