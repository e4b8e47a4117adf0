/* The AWS connector against tests/aws/fake_aws.py: a local server that verifies every SigV4
 * signature, validates request bodies against the official service models, issues STS
 * credentials and plays the scenarios (rollout failure, throttling, 5xx, expired tokens,
 * AccessDenied, cancel during a wait). No secret may appear in any output, error or audit. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_server.h"
#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipeline/gc.h"
#include "pipewright/connector.h"
#include "pipewright/exec.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/secrets.h"
#include "pipewright/step.h"
#include "pwtest.h"

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

static const char *specs_dir(void)
{
	static char d[1024];
	const char *e = getenv("PW_AWS_SPECS");
	if (e)
		return e;
	/* the official service models, kept in tests/specs/aws with their licence */
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(d, sizeof(d), "%s/tests/specs/aws", src ? src : ".");
	return d;
}

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", srv.dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int server_start(void)
{
	if (srv.fake.pid)
		return 0;
	const char *const args[] = {"--specs", specs_dir(),   "--akid",  AKID, "--secret",
	                            SECRET,    "--web-token", WEB_TOKEN, NULL};
	const char *const names[] = {"PORT", NULL};
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pw-aws") < 0 ||
	    pw_fake_server_start(&srv.fake, "tests/aws/fake_aws.py", args, names, "READY") < 0)
		return -1;
	srv.port = srv.fake.port[0];
	snprintf(srv.base, sizeof(srv.base), "%s", srv.fake.base);
	srv.pool = srv.fake.pool;
	return 0;
}

static json_t *control(const char *path, const char *body)
{
	return pw_fake_server_control(&srv.fake, path, body);
}

static void reset(const char *scenario)
{
	if (server_start() != 0) {
		fprintf(stderr, "the fake AWS server did not start\n");
		exit(1);
	}
	json_decref(control("/_test/reset", "{}"));
	if (scenario)
		json_decref(control("/_test/scenario", scenario));
}

/* How many recorded requests have op (and, when err_code is set, that error). */
static int count_requests(const char *op, const char *err_code)
{
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(r, i, x)
	{
		const char *o = json_string_value(json_object_get(x, "op"));
		const char *e = json_string_value(json_object_get(x, "error"));
		if (err_code ? (e && strcmp(e, err_code) == 0) : (o && strcmp(o, op) == 0))
			n++;
	}
	json_decref(r);
	return n;
}

/* Every recorded request validated against the service model without errors. */
static int spec_errors(void)
{
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(r, i, x)
	{
		json_t *errs = json_object_get(x, "errors");
		if (json_array_size(errs)) {
			fprintf(stderr, "  spec errors in %s: %s\n",
			        json_string_value(json_object_get(x, "op")),
			        json_string_value(json_array_get(errs, 0)));
			n++;
		}
	}
	json_decref(r);
	return n;
}

/* The body of the first recorded request with op (new reference) or NULL. */
static json_t *request_body(const char *op)
{
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *x, *found = NULL;
	json_array_foreach(r, i, x)
	{
		const char *o = json_string_value(json_object_get(x, "op"));
		if (!found && o && strcmp(o, op) == 0)
			found = json_incref(json_object_get(x, "body"));
	}
	json_decref(r);
	return found;
}

typedef struct run {
	int rc;
	pw_result *r;
	pw_error *e;
	pw_buf out;
	pw_buf audit;
	pthread_mutex_t lock;
	pw_exec *ex;
	int cancel_after_ms;
	char *err_text;
} run;

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	run *x = payload;
	pthread_mutex_lock(&x->lock);
	pw__buf_append(&x->out, data, len);
	pthread_mutex_unlock(&x->lock);
}

static void on_audit(const char *json, void *payload)
{
	run *x = payload;
	pthread_mutex_lock(&x->lock);
	pw__buf_printf(&x->audit, "%s\n", json);
	pthread_mutex_unlock(&x->lock);
}

static void *canceller(void *arg)
{
	run *x = arg;
	usleep((useconds_t)x->cancel_after_ms * 1000);
	pw_exec_cancel(x->ex, PW_CANCEL_USER);
	return NULL;
}

/* When set, steps run through this manager (and so one aws connector and its credential cache). */
static pw_manager *shared_manager;

/* env: NULL-terminated KEY, VALUE pairs given to the step. */
static void run_step(run *x, const char *config, const char *const *env, int cancel_after_ms)
{
	memset(x, 0, sizeof(*x));
	pthread_mutex_init(&x->lock, NULL);
	x->cancel_after_ms = cancel_after_ms;
	pw_manager *m = shared_manager;
	if (!m)
		pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "aws");
	pw_error *ce = NULL;
	if (pw_step_set_config_json(s, config, &ce) < 0)
		fprintf(stderr, "  config: %s\n", pw_error_message(ce));
	pw_error_free(ce);
	pw_step_set_timeout(s, 30);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, srv.dir, "20261128-run-aws1", NULL, NULL);
	pw_map *em = pw_map_new();
	pw_map_set(em, "HOME", srv.dir); /* no ~/.aws of the machine */
	for (size_t i = 0; env && env[i]; i += 2)
		pw_map_set(em, env[i], env[i + 1]);
	pw_secrets *sec = NULL;
	pw_secrets_new(&sec);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "20261128-run-aws1";
	eo.step_name = "deploy";
	eo.timeout_seconds = 30;
	eo.secrets = sec;
	eo.on_output = on_output;
	eo.output_payload = x;
	eo.on_audit = on_audit;
	eo.audit_payload = x;
	pw_exec_new(&x->ex, &eo, NULL);
	pthread_t t;
	if (cancel_after_ms > 0)
		pthread_create(&t, NULL, canceller, x);
	x->rc = pw_manager_execute_step(&x->r, m, s, ws, em, x->ex, &x->e);
	if (cancel_after_ms > 0)
		pthread_join(t, NULL);
	pw_exec_free(x->ex);
	x->ex = NULL;
	pw_secrets_free(sec);
	pw_map_free(em);
	pw_workspace_free(ws);
	pw_step_free(s);
	if (m != shared_manager)
		pw_manager_free(m);
	if (x->e) {
		x->err_text = pw_error_format(x->e, 0);
		fprintf(stderr, "  (step error: %s)\n", x->err_text);
	}
}

static void run_dispose(run *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw_free(x->err_text);
	pw__buf_dispose(&x->out);
	pw__buf_dispose(&x->audit);
	pthread_mutex_destroy(&x->lock);
}

/* No secret value in anything the step produced. */
static void check_no_secret(run *x, const char *secret)
{
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&x->out), secret);
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&x->audit), secret);
	if (x->err_text)
		PW_CHECK_NOT_CONTAINS(x->err_text, secret);
	if (x->r) {
		PW_CHECK_NOT_CONTAINS(pw_result_stdout(x->r), secret);
		PW_CHECK_NOT_CONTAINS(pw_result_stderr(x->r), secret);
		const pw_map *md = pw_result_metadata_const(x->r);
		for (size_t i = 0; i < pw_map_count(md); i++)
			PW_CHECK_NOT_CONTAINS(pw_map_value_at(md, i), secret);
	}
}

static const char *const static_env[] = {"AWS_ACCESS_KEY_ID", AKID, "AWS_SECRET_ACCESS_KEY", SECRET, NULL};

static char cfg_buf[8192];
/* {"service": svc, "action": act, "region": "eu-west-1", "endpoint": <server>, "poll_interval":
 * 0.02, "parameters": params, extra} */
static const char *cfg(const char *svc, const char *act, const char *params, const char *extra)
{
	snprintf(cfg_buf, sizeof(cfg_buf),
	         "{\"service\":\"%s\",\"action\":\"%s\",\"region\":\"eu-west-1\",\"endpoint\":\"%s\","
	         "\"poll_interval\":0.02,\"parameters\":%s%s%s}",
	         svc, act, srv.base, params, extra ? "," : "", extra ? extra : "");
	return cfg_buf;
}

#define ECS_PARAMS "{\"cluster\":\"prod\",\"service\":\"web\",\"task_definition\":\"web:7\"}"

PW_TEST(test_ecs_update_service_waits_for_completed)
{
	reset("{\"rollout\":\"complete\",\"rollout_polls\":3}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_STR(pw_map_get(pw_result_metadata_const(x.r), "rollout_state"), "COMPLETED");
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata_const(x.r), "task_definition"),
	                  "task-definition/web:7");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "deployment ecs-svc/");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "COMPLETED");
	/* the request as the model wants it */
	json_t *b = request_body("UpdateService");
	PW_CHECK_STR(json_string_value(json_object_get(b, "cluster")), "prod");
	PW_CHECK_STR(json_string_value(json_object_get(b, "service")), "web");
	PW_CHECK_STR(json_string_value(json_object_get(b, "taskDefinition")), "web:7");
	json_decref(b);
	PW_CHECK(count_requests("DescribeServices", NULL) >= 3);
	PW_CHECK_INT(spec_errors(), 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "ecs:UpdateService");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "ecs service prod/web");
	check_no_secret(&x, SECRET);
	run_dispose(&x);
}

PW_TEST(test_ecs_wait_without_circuit_breaker)
{
	/* no rolloutState: stable once the new deployment is the only one and fully running */
	reset("{\"no_circuit_breaker\":true,\"rollout_polls\":3}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK(count_requests("DescribeServices", NULL) >= 3);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "rollout (no rolloutState): running 2/2");
	run_dispose(&x);
}

PW_TEST(test_ecs_rollout_failed_reports_events_and_stopped_tasks)
{
	reset("{\"rollout\":\"failed\",\"rollout_polls\":2}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "FAILED: ECS deployment circuit breaker: tasks failed to start");
	PW_CHECK_CONTAINS(x.err_text, "failed container health checks");
	PW_CHECK_CONTAINS(x.err_text, "OutOfMemoryError");
	/* events from before the deployment are not blamed */
	PW_CHECK_NOT_CONTAINS(x.err_text, "has reached a steady state");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"outcome\":\"failed\"");
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
}

PW_TEST(test_ecs_circuit_breaker_rollback_fails)
{
	reset("{\"rollout\":\"rollback\",\"rollout_polls\":2}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "rolled back");
	PW_CHECK_CONTAINS(x.err_text, "circuit breaker triggered");
	run_dispose(&x);
}

PW_TEST(test_throttling_then_success)
{
	reset("{\"throttle\":2}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests(NULL, "ThrottlingException"), 2);
	PW_CHECK_INT(count_requests("UpdateService", NULL), 1);
	run_dispose(&x);
}

PW_TEST(test_5xx_burst_then_success)
{
	reset("{\"burst5xx\":3}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests(NULL, "InternalFailure"), 3);
	PW_CHECK_INT(count_requests("UpdateService", NULL), 1);
	run_dispose(&x);
}

PW_TEST(test_access_denied_names_permission)
{
	reset("{\"deny\":[\"ecs:UpdateService\"]}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_CHECK_CONTAINS(x.err_text, "AccessDeniedException");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "IAM permission ecs:UpdateService");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "environment");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"outcome\":\"failed\"");
	check_no_secret(&x, SECRET);
	run_dispose(&x);
}

PW_TEST(test_cancel_during_wait)
{
	reset("{\"rollout\":\"hang\"}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), static_env, 400);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	PW_CHECK_CONTAINS(x.err_text, "cancelled");
	PW_CHECK(count_requests("DescribeServices", NULL) >= 1);
	run_dispose(&x);
}

PW_TEST(test_endpoint_from_environment_and_no_wait)
{
	reset(NULL);
	char url[96];
	snprintf(url, sizeof(url), "%s", srv.base);
	const char *env[] = {"AWS_ACCESS_KEY_ID",
	                     AKID,
	                     "AWS_SECRET_ACCESS_KEY",
	                     SECRET,
	                     "AWS_ENDPOINT_URL_ECS",
	                     url,
	                     "AWS_REGION",
	                     "ap-south-1",
	                     NULL};
	run x;
	run_step(&x,
	         "{\"service\":\"ecs\",\"action\":\"update-service\",\"parameters\":{\"service\":\"api\","
	         "\"force_new_deployment\":true,\"desired_count\":3,\"wait\":false}}",
	         env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests("DescribeServices", NULL), 0);
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&x.out), "no new deployment");
	json_t *b = request_body("UpdateService");
	PW_CHECK(json_is_true(json_object_get(b, "forceNewDeployment")));
	PW_CHECK_INT(json_integer_value(json_object_get(b, "desiredCount")), 3);
	json_decref(b);
	run_dispose(&x);
}

PW_TEST(test_ecs_update_without_change_says_so)
{
	reset(NULL);
	run x;
	run_step(&x, cfg("ecs", "update-service", "{\"cluster\":\"prod\",\"service\":\"web\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "no new deployment (the service already runs");
	run_dispose(&x);
}

PW_TEST(test_lambda_code_from_s3_and_plan)
{
	reset(NULL);
	put("code.zip", "PK-not-really-a-zip");
	run x;
	run_step(&x,
	         cfg("s3", "upload",
	             "{\"bucket\":\"artifacts\",\"files\":\"code.zip\",\"key\":\"fn/v2.zip\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("lambda", "update-function-code",
	             "{\"function_name\":\"f\",\"s3_bucket\":\"artifacts\",\"s3_key\":\"fn/"
	             "v2.zip\",\"publish\":true}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	json_t *b = request_body("UpdateFunctionCode");
	PW_CHECK_STR(json_string_value(json_object_get(b, "S3Key")), "fn/v2.zip");
	PW_CHECK(json_is_true(json_object_get(b, "Publish")));
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
	/* two sources at once are refused */
	run_step(&x,
	         cfg("lambda", "update-function-code",
	             "{\"function_name\":\"f\",\"s3_bucket\":\"a\",\"s3_key\":\"k\",\"image_uri\":\"i\"}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "exactly one code source");
	run_dispose(&x);
}

static void write_token(void)
{
	put("oidc-token", WEB_TOKEN "\n");
}

PW_TEST(test_web_identity_credentials)
{
	reset(NULL);
	write_token();
	char tf[128];
	snprintf(tf, sizeof(tf), "%s/oidc-token", srv.dir);
	char url[96];
	snprintf(url, sizeof(url), "%s", srv.base);
	const char *env[] = {"AWS_WEB_IDENTITY_TOKEN_FILE",
	                     tf,
	                     "AWS_ROLE_ARN",
	                     "arn:aws:iam::123456789012:role/deployer",
	                     "AWS_ENDPOINT_URL_STS",
	                     url,
	                     NULL};
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests("AssumeRoleWithWebIdentity", NULL), 1);
	json_t *b = request_body("AssumeRoleWithWebIdentity");
	PW_CHECK_STR(json_string_value(json_object_get(b, "RoleArn")),
	             "arn:aws:iam::123456789012:role/deployer");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(b, "RoleSessionName")), "pipewright-");
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	check_no_secret(&x, WEB_TOKEN);
	check_no_secret(&x, "stsSecret");
	check_no_secret(&x, "stsToken");
	run_dispose(&x);
}

PW_TEST(test_expired_token_is_refreshed)
{
	reset("{\"expire_sts_after\":2,\"rollout_polls\":3}");
	write_token();
	char tf[128];
	snprintf(tf, sizeof(tf), "%s/oidc-token", srv.dir);
	const char *env[] = {"AWS_WEB_IDENTITY_TOKEN_FILE", tf, "AWS_ROLE_ARN",
	                     "arn:aws:iam::123456789012:role/deployer", NULL};
	char extra[160];
	snprintf(extra, sizeof(extra), "\"sts_endpoint\":\"%s\"", srv.base);
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, extra), env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests(NULL, "ExpiredTokenException"), 1);
	PW_CHECK_INT(count_requests("AssumeRoleWithWebIdentity", NULL), 2);
	check_no_secret(&x, "stsSecret");
	check_no_secret(&x, "stsToken");
	run_dispose(&x);
}

PW_TEST(test_sts_credentials_cached_until_near_expiry)
{
	reset(NULL);
	write_token();
	char tf[128];
	snprintf(tf, sizeof(tf), "%s/oidc-token", srv.dir);
	const char *env[] = {"AWS_WEB_IDENTITY_TOKEN_FILE", tf, "AWS_ROLE_ARN",
	                     "arn:aws:iam::123456789012:role/deployer", NULL};
	char extra[160];
	snprintf(extra, sizeof(extra), "\"sts_endpoint\":\"%s\"", srv.base);
	pw_manager_new(&shared_manager, NULL, NULL);
	run x;
	for (int i = 0; i < 3; i++) {
		run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, extra), env, 0);
		PW_CHECK_INT(x.rc, 0);
		run_dispose(&x);
	}
	/* three steps of one run, one STS call */
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "sts_issued")), 1);
	json_decref(st);
	/* credentials that expire within the refresh margin are fetched again */
	reset("{\"sts_lifetime\":120}");
	pw_manager_free(shared_manager);
	pw_manager_new(&shared_manager, NULL, NULL);
	for (int i = 0; i < 2; i++) {
		run_step(&x, cfg("ecs", "update-service", "{\"service\":\"w\",\"wait\":false}", extra), env,
		         0);
		PW_CHECK_INT(x.rc, 0);
		run_dispose(&x);
	}
	st = control("/_test/state", NULL);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "sts_issued")), 2);
	json_decref(st);
	pw_manager_free(shared_manager);
	shared_manager = NULL;
}

PW_TEST(test_wait_timeout)
{
	reset("{\"rollout\":\"hang\"}");
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, "\"wait_timeout\":0.3"), static_env, 0);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(x.err_text, "wait_timeout (0.3 s) passed while waiting for the ECS deployment");
	run_dispose(&x);
}

PW_TEST(test_profile_role_arn_source_profile)
{
	reset(NULL);
	char text[512];
	snprintf(text, sizeof(text), "[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n", AKID,
	         SECRET);
	put("credentials", text);
	put("config",
	    "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/ecs-deploy\nsource_profile = base\n"
	    "region = eu-central-1\n");
	char cf[128], cc[128], url[96];
	snprintf(cf, sizeof(cf), "%s/credentials", srv.dir);
	snprintf(cc, sizeof(cc), "%s/config", srv.dir);
	snprintf(url, sizeof(url), "%s", srv.base);
	const char *env[] = {"AWS_SHARED_CREDENTIALS_FILE",
	                     cf,
	                     "AWS_CONFIG_FILE",
	                     cc,
	                     "AWS_PROFILE",
	                     "deploy",
	                     "AWS_ENDPOINT_URL",
	                     url,
	                     NULL};
	run x;
	run_step(&x,
	         "{\"service\":\"ecs\",\"action\":\"update-service\",\"poll_interval\":0.02,"
	         "\"parameters\":{\"service\":\"web\"}}",
	         env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests("AssumeRole", NULL), 1);
	json_t *b = request_body("AssumeRole");
	PW_CHECK_STR(json_string_value(json_object_get(b, "RoleArn")),
	             "arn:aws:iam::123456789012:role/ecs-deploy");
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	check_no_secret(&x, SECRET);
	check_no_secret(&x, "stsToken");
	run_dispose(&x);
}

PW_TEST(test_profile_static_keys_and_region)
{
	reset(NULL);
	char text[512];
	snprintf(text, sizeof(text),
	         "# comment\n[default]\naws_access_key_id=%s\n  aws_secret_access_key = %s  \n", AKID,
	         SECRET);
	put("credentials2", text);
	put("config2", "[default]\nregion = sa-east-1\n");
	char cf[128], cc[128], url[96];
	snprintf(cf, sizeof(cf), "%s/credentials2", srv.dir);
	snprintf(cc, sizeof(cc), "%s/config2", srv.dir);
	snprintf(url, sizeof(url), "%s", srv.base);
	const char *env[] = {
	    "AWS_SHARED_CREDENTIALS_FILE", cf, "AWS_CONFIG_FILE", cc, "AWS_ENDPOINT_URL", url, NULL};
	run x;
	run_step(&x,
	         "{\"service\":\"ecs\",\"action\":\"update-service\",\"parameters\":{\"service\":\"web\","
	         "\"wait\":false}}",
	         env, 0);
	PW_CHECK_INT(x.rc, 0);
	/* the region came from the profile: the fake names it in the service ARN */
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata_const(x.r), "service_arn"), ":sa-east-1:");
	check_no_secret(&x, SECRET);
	run_dispose(&x);
	/* a profile named in the config that does not exist */
	run_step(&x,
	         "{\"service\":\"ecs\",\"action\":\"update-service\",\"region\":\"eu-west-1\",\"profile\":"
	         "\"nope\","
	         "\"parameters\":{\"service\":\"web\"}}",
	         env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "AWS profile 'nope' has no credentials");
	run_dispose(&x);
}

PW_TEST(test_session_token_from_environment_is_signed_and_masked)
{
	reset(NULL);
	/* the token goes out as X-Amz-Security-Token, covered by the signature the fake recomputes over
	 * every signed header; it appears in no output */
	const char *env[] = {"AWS_ACCESS_KEY_ID",
	                     AKID,
	                     "AWS_SECRET_ACCESS_KEY",
	                     SECRET,
	                     "AWS_SESSION_TOKEN",
	                     "FwoGZXIvYXdzSessionTokenValue123",
	                     NULL};
	run x;
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), env, 0);
	PW_CHECK_INT(x.rc, 0);
	check_no_secret(&x, "FwoGZXIvYXdzSessionTokenValue123");
	run_dispose(&x);
}

PW_TEST(test_credentials_env_names_and_missing_credentials)
{
	reset(NULL);
	const char *env[] = {"PROD_KEY", AKID, "PROD_SECRET", SECRET, NULL};
	run x;
	run_step(
	    &x,
	    cfg("ecs", "update-service", ECS_PARAMS,
	        "\"credentials_env\":{\"access_key_id\":\"PROD_KEY\",\"secret_access_key\":\"PROD_SECRET\"}"),
	    env, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	/* the variable named is not set */
	run_step(&x,
	         cfg("ecs", "update-service", ECS_PARAMS,
	             "\"credentials_env\":{\"access_key_id\":\"PROD_KEY\",\"secret_access_key\":\"NOPE\"}"),
	         env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "'NOPE', which is not set");
	run_dispose(&x);
	/* nothing at all */
	reset(NULL);
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), NULL, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "no AWS credentials found");
	PW_CHECK_CONTAINS(x.err_text, "AWS_WEB_IDENTITY_TOKEN_FILE");
	PW_CHECK_INT(count_requests("UpdateService", NULL), 0);
	run_dispose(&x);
	/* a wrong secret: the server's signature check refuses it */
	const char *bad[] = {"AWS_ACCESS_KEY_ID", AKID, "AWS_SECRET_ACCESS_KEY", "not-the-secret", NULL};
	run_step(&x, cfg("ecs", "update-service", ECS_PARAMS, NULL), bad, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_CHECK_CONTAINS(x.err_text, "SignatureDoesNotMatch");
	check_no_secret(&x, "not-the-secret");
	run_dispose(&x);
}

PW_TEST(test_ecs_run_task_exit_codes)
{
	reset("{\"exit_codes\":{\"app\":3}}");
	run x;
	run_step(
	    &x,
	    cfg("ecs", "run-task",
	        "{\"cluster\":\"batch\",\"task_definition\":\"migrate:2\",\"launch_type\":\"FARGATE\","
	        "\"subnets\":[\"subnet-1\"],\"assign_public_ip\":false,\"container\":\"app\",\"command\":["
	        "\"./migrate\",\"up\"]}",
	        NULL),
	    static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_INT(pw_result_exit_code(x.r), 3);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "container app: exit 3");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "EssentialContainerExited");
	json_t *b = request_body("RunTask");
	PW_CHECK_STR(pw__json_get_string(b, "networkConfiguration.awsvpcConfiguration.assignPublicIp"),
	             "DISABLED");
	PW_CHECK_STR(pw__json_get_string(b, "overrides.containerOverrides.0.command.1"), "up");
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
	reset("{\"no_exit\":[\"app\"]}");
	run_step(&x, cfg("ecs", "run-task", "{\"task_definition\":\"migrate\"}", NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_INT(pw_result_exit_code(x.r), 1);
	PW_CHECK_CONTAINS(pw_result_stderr(x.r), "CannotPullContainerError");
	run_dispose(&x);
	reset("{\"run_task_failure\":true}");
	run_step(&x, cfg("ecs", "run-task", "{\"task_definition\":\"migrate\"}", NULL), static_env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "RESOURCE:MEMORY");
	run_dispose(&x);
}

PW_TEST(test_ecs_register_task_definition_from_file)
{
	reset(NULL);
	put("taskdef.json",
	    "{\"taskDefinition\":{\"taskDefinitionArn\":\"arn:aws:ecs:eu-west-1:1:task-definition/web:6\","
	    "\"family\":\"web\",\"revision\":6,\"status\":\"ACTIVE\",\"requiresAttributes\":[{\"name\":\"x\"}"
	    "],"
	    "\"compatibilities\":[\"FARGATE\"],\"registeredAt\":1700000000,\"registeredBy\":\"me\","
	    "\"networkMode\":\"awsvpc\",\"cpu\":\"256\",\"memory\":\"512\",\"taskRoleArn\":null,"
	    "\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"old:1\",\"essential\":true,"
	    "\"portMappings\":[{\"containerPort\":80}],\"healthCheck\":null},{\"name\":\"sidecar\","
	    "\"image\":\"envoy:1\"}]},\"tags\":[]}");
	run x;
	run_step(
	    &x,
	    cfg("ecs", "register-task-definition",
	        "{\"file\":\"taskdef.json\",\"container_name\":\"web\",\"image\":\"registry/web:abc123\"}",
	        NULL),
	    static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata_const(x.r), "task_definition_arn"),
	                  "task-definition/web:1");
	json_t *b = request_body("RegisterTaskDefinition");
	PW_CHECK_STR(pw__json_get_string(b, "containerDefinitions.0.image"), "registry/web:abc123");
	PW_CHECK_STR(pw__json_get_string(b, "containerDefinitions.1.image"), "envoy:1");
	PW_CHECK(json_object_get(b, "revision") == NULL);
	PW_CHECK(json_object_get(b, "taskRoleArn") == NULL);
	PW_CHECK(pw__json_get(b, "containerDefinitions.0.healthCheck") == NULL);
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("ecs", "register-task-definition",
	             "{\"file\":\"taskdef.json\",\"container_name\":\"nope\",\"image\":\"x:1\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "web, sidecar");
	run_dispose(&x);
}

PW_TEST(test_lambda_zip_publish_alias)
{
	reset(NULL);
	char d[160];
	snprintf(d, sizeof(d), "%s/fn", srv.dir);
	mkdir(d, 0755);
	snprintf(d, sizeof(d), "%s/fn/lib", srv.dir);
	mkdir(d, 0755);
	put("fn/index.js", "exports.handler = async () => 'hi';\n");
	put("fn/lib/util.js", "module.exports = 1;\n");
	run x;
	run_step(&x,
	         cfg("lambda", "update-function-code",
	             "{\"function_name\":\"api-handler\",\"zip_dir\":\"fn\",\"alias\":\"live\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r != NULL);
	PW_CHECK_STR(pw_map_get(pw_result_metadata_const(x.r), "version"), "1");
	json_t *st = control("/_test/state", NULL);
	json_t *fn = pw__json_get(st, "functions.api-handler");
	PW_CHECK_STR(pw__json_get_string(fn, "zip_names.0"), "index.js");
	PW_CHECK_STR(pw__json_get_string(fn, "zip_names.1"), "lib/util.js");
	PW_CHECK_STR(pw__json_get_string(fn, "aliases.live"), "1");
	json_decref(st);
	/* the alias did not exist: UpdateAlias answered 404, then CreateAlias */
	PW_CHECK_INT(count_requests("UpdateAlias", NULL), 1);
	PW_CHECK_INT(count_requests(NULL, "ResourceNotFoundException"), 1);
	PW_CHECK_INT(count_requests("CreateAlias", NULL), 1);
	PW_CHECK(count_requests("GetFunctionConfiguration", NULL) >= 1);
	PW_CHECK_INT(spec_errors(), 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "lambda:UpdateFunctionCode");
	run_dispose(&x);
	/* the second deploy moves the existing alias */
	run_step(&x,
	         cfg("lambda", "update-function-code",
	             "{\"function_name\":\"api-handler\",\"zip_dir\":\"fn\",\"alias\":\"live\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests("UpdateAlias", NULL), 2);
	PW_CHECK_INT(count_requests("CreateAlias", NULL), 1);
	run_dispose(&x);
}

PW_TEST(test_lambda_failed_update_and_checksum)
{
	reset("{\"lambda_update\":\"failed\"}");
	run x;
	run_step(
	    &x,
	    cfg("lambda", "update-function-code",
	        "{\"function_name\":\"img-fn\",\"image_uri\":\"123.dkr.ecr.eu-west-1.amazonaws.com/fn:1\"}",
	        NULL),
	    static_env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "media type for the source image is not supported");
	PW_CHECK_CONTAINS(x.err_text, "ImageNotFound");
	run_dispose(&x);
	reset("{\"lambda_sha_mismatch\":true}");
	put("fn/index.js", "exports.handler = async () => 'hi';\n");
	run_step(&x,
	         cfg("lambda", "update-function-code", "{\"function_name\":\"f\",\"zip_dir\":\"fn\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.err_text, "does not run the uploaded code");
	run_dispose(&x);
}

PW_TEST(test_s3_upload_globs_and_multipart)
{
	reset("{\"throttle\":1,\"throttle_services\":[\"s3\"]}");
	char d[160];
	snprintf(d, sizeof(d), "%s/site", srv.dir);
	mkdir(d, 0755);
	put("site/index.html", "<h1>hi</h1>");
	put("site/app.js", "console.log(1)");
	/* 6 MiB + 3 bytes: two parts of 5 MiB and the rest */
	char big[160];
	snprintf(big, sizeof(big), "%s/site/big.bin", srv.dir);
	FILE *f = fopen(big, "wb");
	PW_REQUIRE(f != NULL);
	for (int i = 0; i < 6 * 1024 + 0; i++) {
		char block[1024];
		memset(block, 'a' + i % 26, sizeof(block));
		fwrite(block, 1, sizeof(block), f);
	}
	fwrite("end", 1, 3, f);
	fclose(f);
	run x;
	run_step(&x,
	         cfg("s3", "upload",
	             "{\"bucket\":\"my-site\",\"files\":[\"site/*.html\",\"site/*.js\",\"site/"
	             "big.bin\"],\"prefix\":"
	             "\"v1\",\"multipart_threshold\":5242880,\"part_size\":5242880}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	json_t *objs = json_object_get(st, "objects");
	PW_CHECK_STR(pw__json_get_string(json_object_get(objs, "my-site/v1/site/index.html"), "content_type"),
	             "text/html");
	PW_CHECK_STR(pw__json_get_string(json_object_get(objs, "my-site/v1/site/app.js"), "content_type"),
	             "text/javascript");
	json_t *bo = json_object_get(objs, "my-site/v1/site/big.bin");
	PW_CHECK_INT(json_integer_value(json_object_get(bo, "size")), 6 * 1024 * 1024 + 3);
	PW_CHECK_INT(json_array_size(json_object_get(st, "uploads")), 0);
	json_decref(st);
	PW_CHECK_INT(count_requests("UploadPart", NULL), 2);
	PW_CHECK_INT(count_requests("CompleteMultipartUpload", NULL), 1);
	PW_CHECK_INT(count_requests(NULL, "SlowDown"), 1);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "s3://my-site/v1/site/big.bin");
	run_dispose(&x);
	run_step(&x, cfg("s3", "upload", "{\"bucket\":\"my-site\",\"files\":\"site/*.css\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "matches no file");
	run_dispose(&x);
	run_step(&x, cfg("s3", "upload", "{\"bucket\":\"b\",\"files\":\"../etc/passwd\"}", NULL), static_env,
	         0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "leaves the workspace");
	run_dispose(&x);
}

PW_TEST(test_lambda_configuration_env_merge_and_replace)
{
	reset(NULL);
	run x;
	run_step(&x,
	         cfg("lambda", "update-function-configuration",
	             "{\"function_name\":\"api\",\"environment\":{\"A\":\"1\",\"B\":\"2\"},\"env_update\":"
	             "\"replace\",\"timeout\":30}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("lambda", "update-function-configuration",
	             "{\"function_name\":\"api\",\"environment\":{\"B\":\"3\",\"TOKEN\":\"s3cr3t-value\"},"
	             "\"env_update\":\"merge\"}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	json_t *vars = pw__json_get(st, "functions.api.Environment.Variables");
	PW_CHECK_STR(pw__json_get_string(vars, "A"), "1");
	PW_CHECK_STR(pw__json_get_string(vars, "B"), "3");
	PW_CHECK_STR(pw__json_get_string(vars, "TOKEN"), "s3cr3t-value");
	PW_CHECK_INT(json_integer_value(pw__json_get(st, "functions.api.Timeout")), 30);
	json_decref(st);
	/* the update named the revision it merged into */
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *e;
	int with_rev = 0;
	json_array_foreach(r, i, e) if (json_is_string(pw__json_get(e, "body.RevisionId"))) with_rev++;
	json_decref(r);
	PW_CHECK_INT(with_rev, 1);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "environment (merge): B TOKEN");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&x.audit), "s3cr3t-value");
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("lambda", "update-function-configuration",
	             "{\"function_name\":\"api\",\"environment\":{\"X\":\"1\"},\"env_update\":\"replace\"}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	st = control("/_test/state", NULL);
	vars = pw__json_get(st, "functions.api.Environment.Variables");
	PW_CHECK_INT(json_object_size(vars), 1);
	PW_CHECK_STR(pw__json_get_string(vars, "X"), "1");
	json_decref(st);
	run_dispose(&x);
	/* an environment without env_update is refused before anything is sent */
	reset(NULL);
	run_step(&x,
	         cfg("lambda", "update-function-configuration",
	             "{\"function_name\":\"api\",\"environment\":{\"X\":\"1\"}}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "env_update: merge");
	PW_CHECK_INT(count_requests("UpdateFunctionConfiguration", NULL), 0);
	run_dispose(&x);
}

PW_TEST(test_ecs_run_task_environment_override)
{
	reset(NULL);
	run x;
	run_step(&x,
	         cfg("ecs", "run-task",
	             "{\"task_definition\":\"migrate\",\"container\":\"app\",\"environment\":{\"STAGE\":"
	             "\"prod\"},\"env_update\":\"merge\"}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	json_t *b = request_body("RunTask");
	PW_CHECK_STR(pw__json_get_string(b, "overrides.containerOverrides.0.environment.0.name"), "STAGE");
	PW_CHECK_STR(pw__json_get_string(b, "overrides.containerOverrides.0.environment.0.value"), "prod");
	json_decref(b);
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("ecs", "run-task",
	             "{\"task_definition\":\"migrate\",\"container\":\"app\",\"environment\":{\"STAGE\":"
	             "\"prod\"},\"env_update\":\"replace\"}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "env_update must be merge");
	run_dispose(&x);
}

/* How many tasks the fake knows whose desired status is status and whose startedBy is sb. */
static int tasks_with(const char *sb, const char *status)
{
	json_t *st = control("/_test/state", NULL);
	const char *k;
	json_t *t;
	int n = 0;
	json_object_foreach(json_object_get(st, "tasks"), k, t)
	{
		const char *b = json_string_value(json_object_get(t, "startedBy"));
		const char *d = json_string_value(json_object_get(t, "desiredStatus"));
		if (b && d && !strcmp(b, sb) && !strcmp(d, status))
			n++;
	}
	json_decref(st);
	return n;
}

/* The reason of every recorded StopTask, joined with "|". */
static void stop_reasons(pw_buf *b)
{
	json_t *r = control("/_test/requests", NULL);
	size_t i;
	json_t *x;
	json_array_foreach(r, i, x)
	{
		const char *o = json_string_value(json_object_get(x, "op"));
		if (o && !strcmp(o, "StopTask"))
			pw__buf_printf(b, "%s|", pw__json_get_string(json_object_get(x, "body"), "reason"));
	}
	json_decref(r);
}

PW_TEST(test_ecs_run_task_stops_its_tasks)
{
	/* a waiting run-task tags its tasks with the run-scoped startedBy and stops them all when
	 * the wait ends early; ListTasks is followed across pages (one task a page here) */
	const char *sb = "pipewright-20261128-run-aws1-deploy";
	reset("{\"task\":\"hang\",\"ecs_page_size\":1}");
	run x;
	run_step(&x,
	         cfg("ecs", "run-task",
	             "{\"cluster\":\"batch\",\"task_definition\":\"migrate:2\",\"count\":3}",
	             "\"wait_timeout\":0.3"),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	json_t *b = request_body("RunTask");
	PW_CHECK_STR(pw__json_get_string(b, "startedBy"), sb);
	json_decref(b);
	PW_CHECK_INT(count_requests("StopTask", NULL), 3);
	PW_CHECK(count_requests("ListTasks", NULL) >= 3);
	PW_CHECK_INT(tasks_with(sb, "RUNNING"), 0);
	PW_CHECK_INT(tasks_with(sb, "STOPPED"), 3);
	b = request_body("ListTasks");
	PW_CHECK_STR(pw__json_get_string(b, "startedBy"), sb);
	PW_CHECK(json_object_get(b, "desiredStatus") == NULL); /* startedBy must be the only filter */
	json_decref(b);
	pw_buf reasons = PW_BUF_INIT(0);
	stop_reasons(&reasons);
	PW_CHECK_CONTAINS(pw__buf_cstr(&reasons), "stopped by pipewright: run 20261128-run-aws1, step deploy "
	                                          "timed out waiting for the task");
	pw__buf_dispose(&reasons);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "ECS task stopped: arn:aws:ecs:eu-west-1:");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "ecs:StopTask");
	PW_CHECK_INT(spec_errors(), 0);
	run_dispose(&x);

	/* cancelled during the wait: the StopTask still goes out */
	reset("{\"task\":\"hang\"}");
	run_step(&x, cfg("ecs", "run-task", "{\"task_definition\":\"migrate\"}", NULL), static_env, 300);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	PW_CHECK_INT(count_requests("StopTask", NULL), 1);
	PW_CHECK_INT(tasks_with(sb, "RUNNING"), 0);
	stop_reasons(&reasons);
	PW_CHECK_CONTAINS(pw__buf_cstr(&reasons), "step deploy was cancelled");
	pw__buf_dispose(&reasons);
	run_dispose(&x);

	/* a task that stopped by itself is not stopped again */
	reset(NULL);
	run_step(&x, cfg("ecs", "run-task", "{\"task_definition\":\"migrate\"}", NULL), static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(count_requests("StopTask", NULL), 0);
	PW_CHECK_INT(count_requests("ListTasks", NULL), 0);
	run_dispose(&x);

	/* started_by is the user's tag for a task that runs on: only with wait: false */
	reset(NULL);
	run_step(&x,
	         cfg("ecs", "run-task", "{\"task_definition\":\"migrate\",\"started_by\":\"nightly\"}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(x.err_text, "parameters.started_by");
	PW_CHECK_INT(count_requests("RunTask", NULL), 0);
	run_dispose(&x);
	run_step(&x,
	         cfg("ecs", "run-task",
	             "{\"task_definition\":\"migrate\",\"started_by\":\"nightly\",\"wait\":false}", NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_INT(tasks_with("nightly", "RUNNING"), 1);
	PW_CHECK_INT(count_requests("StopTask", NULL), 0);
	run_dispose(&x);
}

PW_TEST(test_s3_multipart_cancelled_mid_part_is_aborted)
{
	/* the UploadPart hangs; cancel ends it, and the abort goes out although the exec is
	 * cancelled */
	reset("{\"hang_parts\":true}");
	char big[160];
	snprintf(big, sizeof(big), "%s/part.bin", srv.dir);
	FILE *f = fopen(big, "wb");
	PW_REQUIRE(f != NULL);
	static char block[1024 * 1024];
	memset(block, 'p', sizeof(block));
	for (int i = 0; i < 6; i++)
		fwrite(block, 1, sizeof(block), f);
	fclose(f);
	run x;
	run_step(
	    &x,
	    cfg("s3", "upload",
	        "{\"bucket\":\"b\",\"files\":\"part.bin\",\"key\":\"k/part.bin\",\"multipart_threshold\":"
	        "5242880,\"part_size\":5242880}",
	        NULL),
	    static_env, 500);
	json_decref(control("/_test/scenario", "{\"hang_parts\":false}"));
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	PW_CHECK_INT(count_requests("CreateMultipartUpload", NULL), 1);
	PW_CHECK_INT(count_requests("AbortMultipartUpload", NULL), 1);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "uploads")), 0);
	json_decref(st);
	run_dispose(&x);
}

static void gc_collect(const char *line, void *payload)
{
	pw__buf_printf(payload, "%s\n", line);
}

static void gc_record(FILE *f, const char *kind, const char *name, const char *attrs)
{
	fprintf(f,
	        "{\"event\":\"created\",\"ts_ms\":%lld,\"run_id\":\"dead1\",\"step\":\"s\",\"connector\":"
	        "\"aws\",\"kind\":\"%s\",\"name\":\"%s\",\"address\":\"%s\",\"scope\":\"eu-west-1\","
	        "\"attrs\":{%s,\"endpoint\":\"%s\"}}\n",
	        (long long)time(NULL) * 1000, kind, name, srv.base, attrs, srv.base);
}

PW_TEST(test_gc_hook_from_records)
{
	/* gc from journal records alone, signed with this process's environment, in the record's
	 * region (not AWS_REGION) at its endpoint; a cluster or bucket that no longer exists counts
	 * as done; without credentials every record stays and is reported */
	reset("{\"missing_clusters\":[\"gone\"],\"missing_buckets\":[\"gone-bucket\"]}");
	run x;
	run_step(&x,
	         cfg("ecs", "run-task",
	             "{\"cluster\":\"batch\",\"task_definition\":\"migrate\",\"started_by\":"
	             "\"pipewright-dead1-t\",\"wait\":false}",
	             NULL),
	         static_env, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	PW_CHECK_INT(tasks_with("pipewright-dead1-t", "RUNNING"), 1);
	char ws[160], d[200];
	snprintf(ws, sizeof(ws), "%s/gcws", srv.dir);
	const char *parts[] = {"", "/.pipewright", "/.pipewright/runs", "/.pipewright/runs/dead1"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(d, sizeof(d), "%s%s", ws, parts[i]);
		mkdir(d, 0755);
	}
	snprintf(d, sizeof(d), "%s/.pipewright/runs/dead1/journal", ws);
	FILE *f = fopen(d, "w");
	PW_REQUIRE(f != NULL);
	gc_record(f, "ecs-tasks", "pipewright-dead1-s", "\"cluster\":\"gone\"");
	gc_record(f, "s3-multipart", "gone-bucket/k", "\"bucket\":\"gone-bucket\",\"key\":\"k\"");
	gc_record(f, "ecs-tasks", "pipewright-dead1-t", "\"cluster\":\"batch\"");
	fclose(f);

	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", srv.dir, 1); /* no ~/.aws of the machine */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	setenv("AWS_REGION", "us-west-2", 1);
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_buf out = PW_BUF_INIT(0);
	pw_gc_options o = {ws, -1, 0, 0, gc_collect, &out};
	pw_gc_stats st;
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 0);
	PW_CHECK_INT(st.failed, 3);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "failed to remove aws ecs-tasks eu-west-1/pipewright-dead1-t");
	PW_CHECK_INT(tasks_with("pipewright-dead1-t", "RUNNING"), 1);

	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	pw__buf_clear(&out);
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 3);
	PW_CHECK_INT(st.failed, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "stopped ECS task arn:aws:ecs:eu-west-1:");
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "removed aws ecs-tasks eu-west-1/pipewright-dead1-s");
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "removed aws s3-multipart eu-west-1/gone-bucket/k");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&out), SECRET);
	PW_CHECK_INT(tasks_with("pipewright-dead1-t", "RUNNING"), 0);
	PW_CHECK_INT(count_requests("StopTask", NULL), 1);
	PW_CHECK_INT(spec_errors(), 0);
	pw__buf_clear(&out);
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 0);
	PW_CHECK_INT(st.failed, 0);
	pw__buf_dispose(&out);
	pw_manager_free(m);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_REGION");
	if (home)
		setenv("HOME", home, 1);
	free(home);
}

static int validate(const char *config, char **text)
{
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_connector *c = NULL;
	pw_manager_get_connector(&c, m, "aws", NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "aws");
	pw_step_set_config_json(s, config, NULL);
	pw_error *e = NULL;
	int rc = pw_connector_validate_config(c, s, &e);
	pw_buf b = PW_BUF_INIT(0);
	for (const pw_error *x = e; x; x = pw_error_next(x)) {
		char *t = pw_error_format(x, 1);
		pw__buf_printf(&b, "%s\n", t);
		pw_free(t);
	}
	*text = pw__buf_detach(&b);
	pw_error_free(e);
	pw_step_free(s);
	pw_manager_free(m);
	return rc;
}

PW_TEST(test_validation_explains)
{
	char *t = NULL;
	PW_CHECK_INT(validate("{\"service\":\"ecs\",\"action\":\"deploy\"}", &t), PW_ECONFIG);
	PW_CHECK_CONTAINS(t, "unknown ecs action 'deploy'");
	PW_CHECK_CONTAINS(t, "update-service, run-task, register-task-definition");
	pw_free(t);
	PW_CHECK_INT(
	    validate("{\"service\":\"ecs\",\"action\":\"update-service\",\"parameters\":{\"servce\":\"w\","
	             "\"desired_count\":\"two\"}}",
	             &t),
	    PW_ECONFIG);
	PW_CHECK_CONTAINS(t, "did you mean 'service'?");
	PW_CHECK_CONTAINS(t, "needs parameters.service");
	PW_CHECK_CONTAINS(t, "parameters.desired_count must be a whole number");
	pw_free(t);
	PW_CHECK_INT(validate("{\"service\":\"ec2\",\"action\":\"x\"}", &t), PW_ECONFIG);
	PW_CHECK_CONTAINS(t, "unknown AWS service 'ec2'");
	PW_CHECK_CONTAINS(t, "ecs, lambda, s3");
	pw_free(t);
	PW_CHECK_INT(validate("{\"service\":\"s3\",\"action\":\"upload\",\"endpoint\":\"localhost:4566\","
	                      "\"parameters\":{\"bucket\":\"b\",\"files\":[]}}",
	                      &t),
	             PW_ECONFIG);
	PW_CHECK_CONTAINS(t, "http:// or https:// URL");
	PW_CHECK_CONTAINS(t, "parameters.files must be a string or a list of strings");
	pw_free(t);
	PW_CHECK_INT(validate("{\"service\":\"ecs\",\"action\":\"run-task\",\"parameters\":{"
	                      "\"task_definition\":\"m\",\"started_by\":\"me\"}}",
	                      &t),
	             PW_ECONFIG);
	PW_CHECK_CONTAINS(t, "parameters.started_by is for wait: false only");
	pw_free(t);
	PW_CHECK_INT(validate("{\"service\":\"ecs\",\"action\":\"run-task\",\"parameters\":{"
	                      "\"task_definition\":\"m\",\"started_by\":\"me\",\"wait\":false}}",
	                      &t),
	             0);
	pw_free(t);
	PW_CHECK_INT(
	    validate("{\"service\":\"ecs\",\"action\":\"update-service\",\"parameters\":{\"service\":\"w\"}}",
	             &t),
	    0);
	pw_free(t);
}

PW_TEST(test_plan_shows_requests_without_credentials)
{
	reset(NULL);
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "aws", NULL) == 0);
	pw_step *s = NULL;
	pw_step_new(&s, "deploy", "aws");
	pw_step_set_config_json(s, cfg("ecs", "update-service", ECS_PARAMS, NULL), NULL);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, srv.dir, "r", NULL, NULL);
	pw_map *env = pw_map_new();
	pw_map_set(env, "AWS_ACCESS_KEY_ID", AKID);
	pw_map_set(env, "AWS_SECRET_ACCESS_KEY", SECRET);
	char *text = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_connector_plan(&text, c, s, ws, env, &e), 0);
	char want[160];
	snprintf(want, sizeof(want), "POST %s/\n", srv.base);
	PW_CHECK_CONTAINS(text, want);
	PW_CHECK_CONTAINS(text, "X-Amz-Target: AmazonEC2ContainerServiceV20141113.UpdateService");
	PW_CHECK_CONTAINS(text, "{\"cluster\":\"prod\",\"service\":\"web\",\"taskDefinition\":\"web:7\"}");
	PW_CHECK_CONTAINS(text, "Credential=***/eu-west-1/ecs/aws4_request");
	PW_CHECK_NOT_CONTAINS(text, SECRET);
	PW_CHECK_NOT_CONTAINS(text, AKID);
	/* planning sends nothing */
	PW_CHECK_INT(count_requests("UpdateService", NULL), 0);
	pw_free(text);
	text = NULL;
	/* a zip upload shows its size and checksum, not the bytes */
	char d[160];
	snprintf(d, sizeof(d), "%s/planfn", srv.dir);
	mkdir(d, 0755);
	put("planfn/index.js", "exports.handler = 1;\n");
	pw_step_set_config_json(
	    s,
	    cfg("lambda", "update-function-code", "{\"function_name\":\"f\",\"zip_dir\":\"planfn\"}", NULL),
	    NULL);
	PW_CHECK_INT(pw_connector_plan(&text, c, s, ws, env, &e), 0);
	snprintf(want, sizeof(want), "PUT %s/2015-03-31/functions/f/code\n", srv.base);
	PW_CHECK_CONTAINS(text, want);
	PW_CHECK_CONTAINS(text, "-byte zip of planfn/, SHA-256 ");
	PW_CHECK_NOT_CONTAINS(text, "UEsD"); /* base64 of a zip's "PK\3\4" */
	PW_CHECK_INT(count_requests("UpdateFunctionCode", NULL), 0);
	pw_free(text);
	pw_error_free(e);
	pw_map_free(env);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST_MAIN()
