/* The GCP connector against tests/cloud/fake_cloud.py: Cloud Run Admin API v2 with request
 * bodies checked against run.v2.json; tokens from the local Google token endpoint (JWTs signed
 * with the test key and verified there), STS, IAM Credentials and the metadata server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "fake_cloud.h"
#include "pwtest.h"

#define GCP_SA "deployer@test-project.iam.gserviceaccount.com"
#define GCP_SUBJECT "gh-oidc-subject-token-Hk22"
#define GCP_OIDC_REQUEST "oidc-request-token-Lm30"
#define GCP_AUDIENCE "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/gh"
#define SVC "projects/test-project/locations/us-central1/services/web-app"

#define run_step(x, m, config, env, cancel) run_step_of(x, m, "gcp", config, env, cancel)

/* dir/sa.json: a service-account key (the test key) whose token_uri is the fake's. */
static const char *key_file(void)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/sa.json", dir);
	char src[1024];
	const char *root = getenv("PW_SOURCE_DIR");
	snprintf(src, sizeof src, "%s/tests/auth/test_rsa_key.pem", root ? root : ".");
	FILE *f = fopen(src, "rb");
	char pem[8192];
	size_t n = f ? fread(pem, 1, sizeof pem - 1, f) : 0;
	if (f)
		fclose(f);
	pem[n] = '\0';
	char uri[128];
	snprintf(uri, sizeof uri, "%s/google/token", base);
	json_t *k = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "service_account", "project_id",
	                      "test-project", "private_key_id", "kid-0001", "private_key", pem,
	                      "client_email", GCP_SA, "token_uri", uri);
	json_dump_file(k, path, 0);
	json_decref(k);
	return path;
}

static pw_map *env_key(void)
{
	pw_map *m = pw_map_new();
	pw_map_set(m, "GOOGLE_APPLICATION_CREDENTIALS", key_file());
	return m;
}

static char cfgbuf[4096];
/* A step config reaching the fake, quick polling. */
static const char *cfg(const char *action, const char *params, const char *extra)
{
	snprintf(cfgbuf, sizeof cfgbuf,
	         "{\"service\":\"cloud-run\",\"action\":\"%s\",\"endpoint\":\"%s\",\"poll_interval\":0.02,"
	         "\"parameters\":{\"region\":\"us-central1\"%s%s}%s%s}",
	         action, base, params && *params ? "," : "", params ? params : "", extra && *extra ? "," : "",
	         extra ? extra : "");
	return cfgbuf;
}

/* No token, key or secret value in anything the step produced. */
static void check_no_secrets(run *x)
{
	const char *const secrets[] = {
	    "gcp-sa-token-", "gcp-sts-token-", "gcp-impersonated-token-", "gcp-gce-token-",
	    "PRIVATE KEY",   GCP_SUBJECT,      GCP_OIDC_REQUEST,          NULL};
	check_absent(x, secrets);
}

static json_t *service(const char *name)
{
	json_t *st = control("/_test/state", NULL);
	json_t *s = json_incref(json_object_get(json_object_get(st, "services"), name));
	json_decref(st);
	return s;
}

static int has_service(const char *name)
{
	json_t *s = service(name);
	json_decref(s);
	return s != NULL;
}

#define DEPLOY_PARAMS                                                                                       \
	"\"service_name\":\"web-app\",\"image\":\"us-docker.pkg.dev/test-project/apps/web-app:1.2\","       \
	"\"env\":{\"MODE\":\"prod\",\"WORKERS\":4},\"secrets\":{\"DB_PASSWORD\":\"db-pass:3\",\"API_KEY\":" \
	"\"api-"                                                                                            \
	"key\"},\"cpu\":1,\"memory\":\"512Mi\",\"port\":8080,\"min_instances\":0,\"max_instances\":5,"      \
	"\"concurrency\":40,\"labels\":{\"team\":\"web\"},\"revision_suffix\":\"v12\""

PW_TEST(deploy_creates_the_service_and_verifies_it_serves)
{
	reset(NULL);
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_CONTAINS(x.outputs, "url=https://web-app-x7k2q-uc.a.run.app");
	PW_CHECK_CONTAINS(x.outputs, "revision=web-app-v12");
	PW_CHECK_CONTAINS(x.outputs, "service=" SVC);
	PW_CHECK_CONTAINS(pw_result_stdout(x.r),
	                  "deployed revision web-app-v12 of web-app: Ready, serving 100%");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "gcp.cloud-run.deploy");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), SVC);
	PW_CHECK_INT(violations(), 0);
	/* created with POST ?serviceId (the GET before found nothing) */
	PW_CHECK_INT(
	    request_count("POST /v2/projects/test-project/locations/us-central1/services?serviceId=web-app"),
	    1);
	PW_CHECK_INT(request_count("PATCH"), 0);
	json_t *s = service(SVC);
	PW_REQUIRE(s);
	PW_CHECK_STR(pw__json_get_string(s, "template.containers.0.image"),
	             "us-docker.pkg.dev/test-project/apps/web-app:1.2");
	PW_CHECK_STR(pw__json_get_string(s, "template.containers.0.resources.limits.memory"), "512Mi");
	PW_CHECK_STR(pw__json_get_string(s, "template.containers.0.resources.limits.cpu"), "1");
	PW_CHECK_STR(pw__json_get_string(s, "template.revision"), "web-app-v12");
	PW_CHECK_STR(pw__json_get_string(s, "labels.team"), "web");
	char *body = pw__json_dump(pw__json_get(s, "template.containers.0.env"));
	PW_CHECK_CONTAINS(body, "{\"name\":\"WORKERS\",\"value\":\"4\"}");
	PW_CHECK_CONTAINS(
	    body, "\"name\":\"DB_PASSWORD\",\"valueSource\":{\"secretKeyRef\":{\"secret\":\"db-pass\","
	          "\"version\":\"3\"}}");
	PW_CHECK_CONTAINS(body, "\"secret\":\"api-key\",\"version\":\"latest\"");
	pw_free(body);
	json_decref(s);
	PW_CHECK_INT(token_requests("jwt_bearer"), 1);
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(update_merges_env_and_tags_a_preview_without_moving_traffic)
{
	reset(NULL);
	pw_map *env = env_key();
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	run x;
	run_step(&x, m, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	dispose(&x);
	run_step(
	    &x, m,
	    cfg("deploy",
	        "\"service_name\":\"web-app\",\"image\":\"us-docker.pkg.dev/test-project/apps/web-app:1.3\","
	        "\"env\":{\"WORKERS\":8},\"env_update\":\"merge\",\"tag\":\"canary\"",
	        NULL),
	    env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(request_count("PATCH /v2/" SVC), 1);
	PW_CHECK_INT(violations(), 0);
	PW_CHECK_CONTAINS(x.outputs, "tag_url=https://canary---web-app-x7k2q-uc.a.run.app");
	PW_CHECK_CONTAINS(x.r ? pw_result_stdout(x.r) : NULL, "traffic unchanged");
	json_t *s = service(SVC);
	char *envs = pw__json_dump(pw__json_get(s, "template.containers.0.env"));
	/* merged: MODE and the secrets kept, WORKERS replaced */
	PW_CHECK_CONTAINS(envs, "{\"name\":\"MODE\",\"value\":\"prod\"}");
	PW_CHECK_CONTAINS(envs, "{\"name\":\"WORKERS\",\"value\":\"8\"}");
	PW_CHECK_NOT_CONTAINS(envs, "\"value\":\"4\"");
	PW_CHECK_CONTAINS(envs, "\"secret\":\"db-pass\"");
	pw_free(envs);
	/* the new revision is tagged with 0%; the latest-100% target stays */
	char *traffic = pw__json_dump(json_object_get(s, "traffic"));
	PW_CHECK_CONTAINS(traffic, "\"type\":\"TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST\",\"percent\":100");
	PW_CHECK_CONTAINS(traffic, "\"tag\":\"canary\",\"percent\":0");
	pw_free(traffic);
	/* unchanged settings survive the update (the existing service is the base) */
	PW_CHECK_STR(pw__json_get_string(s, "template.containers.0.resources.limits.memory"), "512Mi");
	json_decref(s);
	/* one token for both steps */
	PW_CHECK_INT(token_requests("jwt_bearer"), 1);
	check_no_secrets(&x);
	dispose(&x);
	pw_manager_free(m);
	pw_map_free(env);
}

PW_TEST(failed_revision_reports_cloud_runs_conditions)
{
	reset("{\"revision_fail\":true}");
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "the rollout of web-app-v12 failed");
	PW_CHECK_CONTAINS(t, "failed to start and listen on the port");
	PW_CHECK_CONTAINS(t, "HEALTH_CHECK_CONTAINER_ERROR");
	PW_CHECK_CONTAINS(t, "Cloud Run's own diagnosis");
	pw_free(t);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "failed");
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(a_done_rollout_that_does_not_serve_the_revision_fails)
{
	reset("{\"traffic_stuck\":true}");
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "web-app-v12 is Ready but does not receive 100% of the traffic");
	PW_CHECK_CONTAINS(t, "traffic: 100% to old-00001-aaa");
	pw_free(t);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(allow_unauthenticated_edits_the_iam_policy_both_ways)
{
	reset(NULL);
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS ",\"allow_unauthenticated\":true", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "gcp.cloud-run.set-iam-policy");
	json_t *st = control("/_test/state", NULL);
	char *pol = pw__json_dump(json_object_get(json_object_get(st, "policies"), SVC));
	PW_CHECK_CONTAINS(pol, "\"role\":\"roles/run.invoker\",\"members\":[\"allUsers\"]");
	pw_free(pol);
	json_decref(st);
	PW_CHECK_INT(violations(), 0);
	dispose(&x);
	/* already public: no second write */
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS ",\"allow_unauthenticated\":true", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(request_count("POST /v2/" SVC ":setIamPolicy"), 1);
	dispose(&x);
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS ",\"allow_unauthenticated\":false", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	st = control("/_test/state", NULL);
	pol = pw__json_dump(json_object_get(json_object_get(st, "policies"), SVC));
	PW_CHECK_NOT_CONTAINS(pol, "allUsers");
	pw_free(pol);
	json_decref(st);
	dispose(&x);
	/* without the permission: the missing one named, with the role that has it */
	json_decref(control("/_test/faults", "{\"deny\":[\"run.services.setIamPolicy\"]}"));
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS ",\"allow_unauthenticated\":true", NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "missing 'run.services.setIamPolicy'");
	PW_CHECK_CONTAINS(t, "roles/run.admin");
	pw_free(t);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.log), "deployed and serving; only the IAM change failed");
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(permission_denied_names_the_missing_permission)
{
	reset("{\"deny\":[\"run.services.create\"]}");
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "gcp: create the service: permission denied: missing 'run.services.create'");
	PW_CHECK_CONTAINS(t, "roles/run.developer");
	pw_free(t);
	PW_CHECK(!has_service(SVC));
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(throttling_and_5xx_bursts_are_retried)
{
	reset("{\"throttle\":{\"match\":\"/services\",\"method\":\"POST\",\"count\":1},"
	      "\"burst5xx\":{\"match\":\"/operations/\",\"count\":2}}");
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(x.outputs, "revision=web-app-v12");
	/* two POSTs: 429, then accepted; one service */
	PW_CHECK_INT(request_count("POST /v2/projects/test-project/locations/us-central1/services?"), 2);
	PW_CHECK(has_service(SVC));
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(expired_token_is_refreshed_once)
{
	reset(NULL);
	pw_map *env = env_key();
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	run x;
	run_step(&x, m, cfg("deploy", DEPLOY_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	dispose(&x);
	json_decref(control("/_test/expire", "{}"));
	run_step(&x, m, cfg("delete", "\"service_name\":\"web-app\"", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.log), "401, refreshing the access token");
	PW_CHECK_INT(token_requests("jwt_bearer"), 2);
	PW_CHECK(!has_service(SVC));
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "gcp.cloud-run.delete");
	check_no_secrets(&x);
	dispose(&x);
	/* deleting again is not an error */
	run_step(&x, m, cfg("delete", "\"service_name\":\"web-app\"", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(x.r ? pw_result_stdout(x.r) : NULL, "already absent");
	dispose(&x);
	pw_manager_free(m);
	pw_map_free(env);
}

/* dir/NAME: an external_account file with a file- or URL-sourced subject token. */
static const char *external_file(const char *name, int from_url)
{
	static char path[128];
	char tokfile[128], sts[128], imp[256], url[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tokfile, sizeof tokfile, "%s/subject-token", dir);
	FILE *f = fopen(tokfile, "w");
	if (f) {
		fputs(GCP_SUBJECT "\n", f);
		fclose(f);
	}
	snprintf(sts, sizeof sts, "%s/sts/v1/token", base);
	snprintf(imp, sizeof imp, "%s/iam/v1/projects/-/serviceAccounts/%s:generateAccessToken", base,
	         GCP_SA);
	snprintf(url, sizeof url, "%s/oidc/token", base);
	json_t *src = from_url ? json_pack("{s:s, s:{s:s}, s:{s:s, s:s}}", "url", url, "headers",
	                                   "Authorization", "Bearer " GCP_OIDC_REQUEST, "format", "type",
	                                   "json", "subject_token_field_name", "value")
	                       : json_pack("{s:s}", "file", tokfile);
	json_t *k =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "type", "external_account", "audience", GCP_AUDIENCE,
	              "subject_token_type", "urn:ietf:params:oauth:token-type:jwt", "token_url", sts,
	              "service_account_impersonation_url", imp, "credential_source", src);
	json_dump_file(k, path, 0);
	json_decref(k);
	return path;
}

PW_TEST(workload_identity_federation_and_the_metadata_server)
{
	reset(NULL);
	run x;
	for (int from_url = 0; from_url < 2; from_url++) {
		pw_map *env = pw_map_new();
		pw_map_set(env, "GOOGLE_APPLICATION_CREDENTIALS", external_file("wif.json", from_url));
		pw_map_set(env, "GOOGLE_CLOUD_PROJECT", "test-project");
		run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, "\"credential\":\"external-account\""), env,
		         0);
		PW_CHECK_INT(x.rc, 0);
		PW_CHECK_INT(token_requests("sts"), from_url + 1);
		PW_CHECK_INT(token_requests("impersonate"), from_url + 1);
		check_no_secrets(&x);
		dispose(&x);
		pw_map_free(env);
	}
	PW_CHECK_INT(token_requests("oidc"), 1);
	/* the metadata server, found through GCE_METADATA_HOST */
	pw_map *env = pw_map_new();
	pw_map_set(env, "GCE_METADATA_HOST", base + strlen("http://"));
	pw_map_set(env, "CLOUDSDK_CORE_PROJECT", "test-project");
	run_step(&x, NULL, cfg("delete", "\"service_name\":\"web-app\"", "\"credential\":\"metadata\""), env,
	         0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(token_requests("gce_metadata"), 1);
	check_no_secrets(&x);
	dispose(&x);
	pw_map_free(env);
	/* a key file named as the wrong kind */
	env = env_key();
	run_step(&x, NULL,
	         cfg("delete", "\"service_name\":\"web-app\"", "\"credential\":\"external-account\""), env,
	         0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "holds a service-account credential");
	pw_free(t);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(jobs_execute_waits_and_reports_the_outcome)
{
	reset(NULL);
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL,
	         cfg("jobs-execute",
	             "\"job_name\":\"migrate\",\"args\":[\"--to\",\"v12\"],\"env\":{\"DRY\":false},\"task_"
	             "count\":2,"
	             "\"task_timeout\":600",
	             NULL),
	         env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_CONTAINS(pw_result_stdout(x.r), "of job migrate: succeeded; 1 task(s) succeeded, 0 failed");
	PW_CHECK_CONTAINS(x.outputs,
	                  "execution=projects/test-project/locations/us-central1/jobs/migrate/executions/");
	PW_CHECK_CONTAINS(x.outputs, "log_uri=https://console.cloud.google.com/logs/");
	PW_CHECK_INT(violations(), 0);
	json_t *st = control("/_test/state", NULL);
	char *bodies = pw__json_dump(json_object_get(st, "bodies"));
	PW_CHECK_CONTAINS(bodies,
	                  "{\"overrides\":{\"containerOverrides\":[{\"args\":[\"--to\",\"v12\"],\"env\":[{"
	                  "\"name\":\"DRY\",\"value\":\"false\"}]}],\"taskCount\":2,\"timeout\":\"600s\"}}");
	pw_free(bodies);
	json_decref(st);
	dispose(&x);
	/* a failed execution fails the step with Cloud Run's message and where the logs are */
	json_decref(control("/_test/faults", "{\"job_fail\":true}"));
	run_step(&x, NULL, cfg("jobs-execute", "\"job_name\":\"migrate\"", NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 1);
	PW_CHECK_CONTAINS(pw_result_stderr(x.r), "FAILED");
	PW_CHECK_CONTAINS(pw_result_stderr(x.r), "failed with exit code 3");
	PW_CHECK_CONTAINS(pw_result_stderr(x.r), "logs: https://console.cloud.google.com/logs/");
	dispose(&x);
	/* a job that does not exist */
	run_step(&x, NULL, cfg("jobs-execute", "\"job_name\":\"nope\"", NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ENOTFOUND);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(cancel_during_a_job_wait_cancels_the_execution)
{
	reset("{\"polls\":100000}");
	pw_map *env = env_key();
	run x;
	char c[4096];
	snprintf(c, sizeof c, "%s", cfg("jobs-execute", "\"job_name\":\"migrate\"", NULL));
	char *pi = strstr(c, "0.02");
	if (pi)
		memcpy(pi, "0.30", 4);
	run_step(&x, NULL, c, env, 400);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	PW_CHECK_INT(
	    request_count("POST /v2/projects/test-project/locations/us-central1/jobs/migrate/executions/"),
	    1);
	json_t *st = control("/_test/state", NULL);
	const char *k;
	json_t *v;
	int cancelled = 0;
	json_object_foreach(json_object_get(st, "executions"), k, v)
	{
		if (json_integer_value(json_object_get(v, "cancelledCount")) == 1)
			cancelled++;
	}
	PW_CHECK_INT(cancelled, 1);
	json_decref(st);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "gcp.cloud-run.cancel-execution");
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(a_rollout_past_wait_timeout_is_a_timeout)
{
	reset("{\"polls\":100000}");
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("deploy", DEPLOY_PARAMS, "\"wait_timeout\":0.3"), env, 0);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "timed out while waiting for the rollout of web-app-v12");
	pw_free(t);
	dispose(&x);
	pw_map_free(env);
}

PW_TEST(bad_config_is_refused_before_sending)
{
	reset(NULL);
	pw_map *env = env_key();
	run x;
	run_step(&x, NULL, cfg("scale", NULL, NULL), env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	char *t = err_text(&x);
	PW_CHECK_CONTAINS(t, "cloud-run/deploy, cloud-run/delete, cloud-run/jobs-execute");
	pw_free(t);
	dispose(&x);
	const char *bad[][2] = {
	    {"\"service_name\":\"web-app\",\"image\":\"x\",\"memmory\":\"1Gi\"", "did you mean 'memory'?"},
	    {"\"service_name\":\"web-app\",\"image\":\"x\",\"memory\":\"lots\"", "not a memory quantity"},
	    {"\"service_name\":\"Web_App\",\"image\":\"x\"", "not a valid Cloud Run name"},
	    {"\"service_name\":\"web-app\",\"image\":\"x\",\"tag\":\"Canary!\"", "not a valid traffic tag"},
	    {"\"service_name\":\"web-app\",\"image\":\"x\",\"env_update\":\"merge\"",
	     "no env or secrets to update"},
	    {"\"service_name\":\"web-app\"", "parameter 'image' is required"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		run_step(&x, NULL, cfg("deploy", bad[i][0], NULL), env, 0);
		PW_CHECK_INT(x.rc, PW_ECONFIG);
		t = err_text(&x);
		PW_CHECK_CONTAINS(t, bad[i][1]);
		pw_free(t);
		dispose(&x);
	}
	/* no project anywhere */
	pw_map *none = pw_map_new();
	run_step(&x, NULL, cfg("delete", "\"service_name\":\"web-app\"", "\"credential\":\"metadata\""), none,
	         0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	t = err_text(&x);
	PW_CHECK_CONTAINS(t, "no project id");
	pw_free(t);
	dispose(&x);
	pw_map_free(none);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "requests")), 0);
	json_decref(st);
	pw_map_free(env);
}

PW_TEST(plan_prints_the_exact_requests_redacted)
{
	reset(NULL);
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "gcp", NULL) == 0);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "gcp");
	pw_step_set_config_json(s, cfg("deploy", DEPLOY_PARAMS ",\"allow_unauthenticated\":true", NULL),
	                        NULL);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, dir, "plan", NULL, NULL);
	pw_map *env = pw_map_new();
	char *text = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_connector_plan(&text, c, s, ws, env, &e), 0);
	PW_CHECK_CONTAINS(text, "GET http://127.0.0.1:");
	PW_CHECK_CONTAINS(text, "POST http://127.0.0.1:");
	PW_CHECK_CONTAINS(
	    text, "/v2/projects/${GOOGLE_CLOUD_PROJECT}/locations/us-central1/services?serviceId=web-app");
	PW_CHECK_CONTAINS(text, "Authorization: Bearer ***");
	PW_CHECK_CONTAINS(text, "\"revision\": \"web-app-v12\"");
	PW_CHECK_CONTAINS(text, "\"secret\": \"db-pass\"");
	PW_CHECK_CONTAINS(text, ":setIamPolicy");
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
