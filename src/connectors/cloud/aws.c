/* The AWS connector: `service` + `action` + typed `parameters` (ECS, Lambda, S3), validated
 * before anything is sent, run with SigV4-signed requests through the manager's HTTP pool, or
 * shown by plan as the exact requests with credentials redacted. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/cloud/aws.h"
#include "core/step.h"
#include "core/suggest.h"
#include "pipewright/sys/connector.h"

#define DEFAULT_POLL_S 5.0

static const char *const top_keys[] = {"service",     "action",          "parameters",
                                       "region",      "endpoint",        "sts_endpoint",
                                       "profile",     "role_arn",        "role_session_name",
                                       "external_id", "credentials_env", "poll_interval",
                                       "ca_file",     "wait_timeout",    NULL};
static const char *const cred_env_keys[] = {"access_key_id", "secret_access_key", "session_token", NULL};

static const pw_aws_action *const tables[] = {pw__aws_ecs_actions, pw__aws_lambda_actions,
                                              pw__aws_s3_actions};
static const char *const services[] = {"ecs", "lambda", "s3", NULL};

static const pw_aws_action *find_action(const char *service, const char *action)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const pw_aws_action *a = tables[t]; a->service; a++)
			if (strcmp(a->service, service) == 0 && action && strcmp(a->action, action) == 0)
				return a;
	return NULL;
}

static void list_actions(pw_buf *b, const char *service)
{
	int n = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const pw_aws_action *a = tables[t]; a->service; a++)
			if (strcmp(a->service, service) == 0)
				pw__buf_printf(b, "%s%s", n++ ? ", " : "", a->action);
}

/* Adds one located error to the chain in *err. */
static void fail(const pw_step *step, pw_error **err, const char *key, const char *hint, const char *fmt, ...)
    PW_PRINTF(5, 6);
static void fail(const pw_step *step, pw_error **err, const char *key, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_buf m = PW_BUF_INIT(0);
	pw__buf_printf(&m, "step '%s': ", step->name);
	pw__buf_vprintf(&m, fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(PW_ECONFIG, "%s", pw__buf_cstr(&m));
	pw__buf_dispose(&m);
	if (!e)
		return;
	if (key) {
		pw_error_set_key(e, key);
		pw__step_locate_error(step, e);
	}
	if (hint)
		pw_error_set_hint(e, hint);
	if (*err)
		pw_error_append(*err, e);
	else
		*err = e;
}

static void unknown_keys(const pw_step *step, pw_error **err, const json_t *obj, const char *prefix,
                         const char *const *known, size_t nknown)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		int ok = 0;
		for (size_t i = 0; i < nknown; i++)
			ok |= strcmp(known[i], key) == 0;
		if (ok)
			continue;
		char k[300];
		snprintf(k, sizeof(k), "%s%s", prefix, key);
		const char *near = pw__suggest_n(key, known, nknown);
		pw_buf h = PW_BUF_INIT(0);
		if (near) {
			pw__buf_printf(&h, "did you mean '%s'?", near);
		} else {
			pw__buf_puts(&h, "known keys here:");
			for (size_t i = 0; i < nknown; i++)
				pw__buf_printf(&h, "%s %s", i ? "," : "", known[i]);
		}
		fail(step, err, k, pw__buf_cstr(&h), "unknown key '%s'", k);
		pw__buf_dispose(&h);
	}
}

static int is_str_list(const json_t *v)
{
	size_t i;
	json_t *x;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return 0;
	json_array_foreach(v, i, x) if (!json_is_string(x) || !*json_string_value(x)) return 0;
	return 1;
}

static void check_params(const pw_step *step, const pw_aws_action *a, const json_t *params, pw_error **err)
{
	const char *known[48];
	size_t nk = 0;
	for (const pw_aws_param *p = a->params; p->name && nk < 48; p++)
		known[nk++] = p->name;
	unknown_keys(step, err, params, "parameters.", known, nk);
	for (const pw_aws_param *p = a->params; p->name; p++) {
		json_t *v = json_object_get(params, p->name);
		char key[128];
		snprintf(key, sizeof(key), "parameters.%s", p->name);
		if (!v) {
			if (p->required)
				fail(step, err, "parameters", p->doc, "%s %s needs parameters.%s", a->service,
				     a->action, p->name);
			continue;
		}
		const char *want = NULL;
		long long iv = 0;
		double dv = 0;
		switch (p->type) {
		case 's':
			if (!json_is_string(v) || !*json_string_value(v))
				want = "a non-empty string";
			break;
		case 'b':
			if (!json_is_boolean(v))
				want = "true or false";
			break;
		case 'i':
			if (!pw__config_integer(v, &iv) || iv < 0)
				want = "a whole number >= 0";
			break;
		case 'n':
			if (!pw__config_number(v, &dv) || dv <= 0)
				want = "a number > 0";
			break;
		case 'l':
			if (!is_str_list(v))
				want = "a non-empty list of strings";
			break;
		case 'a':
			if (!is_str_list(v) && !(json_is_string(v) && *json_string_value(v)))
				want = "a string or a list of strings";
			break;
		case 'o':
			if (!json_is_object(v))
				want = "a mapping";
			break;
		default:
			break;
		}
		if (want)
			fail(step, err, key, p->doc, "parameters.%s must be %s", p->name, want);
	}
}

static int aws_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	pw_error *e = NULL;
	const json_t *cfg = step->config;
	unknown_keys(step, &e, cfg, "", top_keys, sizeof(top_keys) / sizeof(top_keys[0]) - 1);
	const char *svc = json_string_value(json_object_get(cfg, "service"));
	const char *act = json_string_value(json_object_get(cfg, "action"));
	if (!svc) {
		fail(step, &e, "service", "service: ecs | lambda | s3", "the aws connector needs `service`");
	} else if (!pw__suggest_known(svc, services)) {
		const char *near = pw__suggest(svc, services);
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h, "%s%s%savailable services: ecs, lambda, s3", near ? "did you mean '" : "",
		               near ? near : "", near ? "'? " : "");
		fail(step, &e, "service", pw__buf_cstr(&h), "unknown AWS service '%s'", svc);
		pw__buf_dispose(&h);
	} else {
		const pw_aws_action *a = find_action(svc, act);
		if (!a) {
			pw_buf h = PW_BUF_INIT(0);
			pw__buf_printf(&h, "available %s actions: ", svc);
			list_actions(&h, svc);
			if (act)
				fail(step, &e, "action", pw__buf_cstr(&h), "unknown %s action '%s'", svc,
				     act);
			else
				fail(step, &e, "action", pw__buf_cstr(&h),
				     "the aws connector needs `action`");
			pw__buf_dispose(&h);
		} else {
			json_t *params = json_object_get(cfg, "parameters");
			if (params && !json_is_object(params))
				fail(step, &e, "parameters", NULL, "`parameters` must be a mapping");
			else {
				json_t *empty = json_object();
				check_params(step, a, params ? params : empty, &e);
				json_decref(empty);
				if (!strcmp(svc, "ecs") && !strcmp(a->action, "run-task") &&
				    json_object_get(params, "started_by") &&
				    !json_is_false(json_object_get(params, "wait")))
					fail(step, &e, "parameters.started_by",
					     "remove started_by, or set wait: false to start the task with "
					     "your "
					     "own tag and leave it running",
					     "parameters.started_by is for wait: false only: a run-task that "
					     "waits "
					     "tags its tasks pipewright-<run-id>-<step> so that `pipewright "
					     "gc` can "
					     "stop them if the run is killed");
			}
		}
	}
	static const char *const strs[] = {"region",      "endpoint", "sts_endpoint",
	                                   "profile",     "role_arn", "role_session_name",
	                                   "external_id", "ca_file",  NULL};
	for (size_t i = 0; strs[i]; i++) {
		json_t *v = json_object_get(cfg, strs[i]);
		if (v && (!json_is_string(v) || !*json_string_value(v)))
			fail(step, &e, strs[i], NULL, "`%s` must be a non-empty string", strs[i]);
	}
	for (size_t i = 0; i < 2; i++) {
		const char *k = i ? "sts_endpoint" : "endpoint";
		const char *v = json_string_value(json_object_get(cfg, k));
		if (v && strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
			fail(step, &e, k,
			     "e.g. http://localhost:4566 (LocalStack) or https://ecs.eu-west-1.amazonaws.com",
			     "`%s` must be an http:// or https:// URL", k);
	}
	json_t *ce = json_object_get(cfg, "credentials_env");
	if (ce) {
		if (!json_is_object(ce)) {
			fail(step, &e, "credentials_env", NULL,
			     "`credentials_env` must be a mapping of variable names");
		} else {
			unknown_keys(step, &e, ce, "credentials_env.", cred_env_keys, 3);
			if (!json_is_string(json_object_get(ce, "access_key_id")) ||
			    !json_is_string(json_object_get(ce, "secret_access_key")))
				fail(step, &e, "credentials_env",
				     "e.g. {access_key_id: PROD_AWS_ACCESS_KEY_ID, secret_access_key: "
				     "PROD_AWS_SECRET}",
				     "`credentials_env` needs the variable names access_key_id and "
				     "secret_access_key");
		}
	}
	json_t *pi = json_object_get(cfg, "poll_interval");
	double d = 0;
	if (pi && (!pw__config_number(pi, &d) || d <= 0))
		fail(step, &e, "poll_interval", NULL, "`poll_interval` must be a number of seconds > 0");
	json_t *wt = json_object_get(cfg, "wait_timeout");
	if (wt && (!pw__config_number(wt, &d) || d <= 0))
		fail(step, &e, "wait_timeout", "waits also end with the step's `timeout`",
		     "`wait_timeout` must be a number of seconds > 0");
	if (!e)
		return 0;
	int code = pw_error_code(e);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return code;
}

static void ctx_init(pw_aws_ctx *x, pw_aws_impl *im, const pw_step *step, const pw_workspace *ws,
                     const pw_map *env, pw_exec *ex, json_t *empty)
{
	memset(x, 0, sizeof(*x));
	x->im = im;
	x->pool = im->pool;
	x->ex = ex;
	x->step = step;
	x->ws = ws;
	x->env = env;
	json_t *p = json_object_get(step->config, "parameters");
	x->params = json_is_object(p) ? p : empty;
	json_t *pi = json_object_get(step->config, "poll_interval");
	double pis = 0;
	x->poll_ms = (int64_t)((pw__config_number(pi, &pis) ? pis : DEFAULT_POLL_S) * 1000.0);
	if (x->poll_ms < 1)
		x->poll_ms = 1;
	json_t *wt = json_object_get(step->config, "wait_timeout");
	double wts = 0;
	if (pw__config_number(wt, &wts) && wts > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x->wait_timeout_s = wts;
		x->wait_until =
		    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t)(x->wait_timeout_s * 1000.0);
	}
	pw_buf o = PW_BUF_INIT(1 << 20);
	x->out = o;
}

static void ctx_dispose(pw_aws_ctx *x)
{
	pw__aws_creds_dispose(&x->creds);
	pw__buf_dispose(&x->out);
	pw_free((char *)x->region);
}

static int aws_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                       const pw_map *env, pw_exec *ex, pw_error **err)
{
	pw_aws_impl *im = pw_connector_impl(c);
	int rc = aws_validate(c, step, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&im->lock);
	if (!im->pool)
		im->pool = pw__manager_http_pool(pw_connector_manager(c));
	pthread_mutex_unlock(&im->lock);
	if (!im->pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool for the aws connector");
	json_t *empty = json_object();
	pw_aws_ctx x;
	ctx_init(&x, im, step, ws, env, ex, empty);
	x.region = pw__aws_region(&x);
	const pw_aws_action *a = find_action(json_string_value(json_object_get(step->config, "service")),
	                                     json_string_value(json_object_get(step->config, "action")));
	if (!x.region) {
		rc = pw_error_set(err, PW_ECONFIG, "step '%s': no AWS region", step->name);
		if (err && *err)
			pw_error_set_hint(
			    *err, "set `region` in the step config, AWS_REGION, or the profile's region");
	} else {
		rc = a->run(out, &x, err);
	}
	if (rc == 0 && *out && !*pw_result_stdout(*out))
		pw_result_set_stdout(*out, pw__buf_cstr(&x.out));
	ctx_dispose(&x);
	json_decref(empty);
	return rc;
}

static int aws_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                    const pw_map *env, pw_error **err)
{
	pw_aws_impl *im = pw_connector_impl(c);
	int rc = aws_validate(c, step, err);
	if (rc < 0)
		return rc;
	json_t *empty = json_object();
	pw_aws_ctx x;
	ctx_init(&x, im, step, ws, env, NULL, empty);
	x.region = pw__aws_region(&x);
	pw_buf b = PW_BUF_INIT(0);
	x.plan = &b;
	const char *svc = json_string_value(json_object_get(step->config, "service"));
	const char *act = json_string_value(json_object_get(step->config, "action"));
	const pw_aws_action *a = find_action(svc, act);
	pw__buf_printf(&b, "# aws %s %s in %s (credentials redacted; needs %s)\n", svc, act,
	               x.region ? x.region : "(no region set)", a->permissions);
	pw_result *r = NULL;
	rc = a->run(&r, &x, err);
	pw_result_free(r);
	ctx_dispose(&x);
	json_decref(empty);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return rc;
	}
	*out = pw__buf_detach(&b);
	return 0;
}

static void aws_destroy(pw_connector *c)
{
	pw_aws_impl *im = pw_connector_impl(c);
	if (!im)
		return;
	pw__aws_cache_dispose(im);
	pthread_mutex_destroy(&im->lock);
	pw_free(im);
}

static const pw_connector_ops aws_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = aws_validate,
    .execute_step = aws_execute,
    .plan = aws_plan,
    .destroy = aws_destroy,
};

int pw__aws_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	pw_aws_impl *im = pw_calloc(1, sizeof(*im));
	if (!im)
		return PW_ENOMEM;
	pthread_mutex_init(&im->lock, NULL);
	int rc = pw_connector_new(out, &aws_ops, "aws", PW_TYPE_AWS, im, err);
	if (rc < 0) {
		pthread_mutex_destroy(&im->lock);
		pw_free(im);
	}
	return rc;
}
