/* Shared machinery of the Azure and GCP connectors (see cloud.h). */
#include "connectors/cloud/cloud.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/oauth2.h"
#include "core/step.h"
#include "core/suggest.h"
#include "net/json.h"

int pw__cloud_fail(pw_error **err, int code, const char *key, const char *hint, const char *response,
                   const char *fmt, ...)
{
	if (!err || *err)
		return code;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(code, "%s", msg);
	if (key)
		pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	if (response)
		pw_error_set_response(e, response);
	*err = e;
	return code;
}

static int is_num_text(const char *s, int integer)
{
	if (!s || !*s)
		return 0;
	char *end = NULL;
	if (integer)
		(void)strtoll(s, &end, 10);
	else
		(void)strtod(s, &end);
	return end && *end == '\0';
}

static int type_ok(const json_t *v, const pw_cloud_param *p)
{
	long long iv;
	double dv;
	switch (p->type) {
	case PW_CP_STRING:
		return json_is_string(v) && json_string_length(v) > 0;
	case PW_CP_INT:
		return pw__config_integer(v, &iv);
	case PW_CP_NUMBER:
		return pw__config_number(v, &dv);
	case PW_CP_BOOL:
		return json_is_boolean(v);
	case PW_CP_ENUM: {
		if (!json_is_string(v))
			return 0;
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		for (const char *c = p->choices; c && *c;) {
			size_t l = strcspn(c, "|");
			if (l == n && strncmp(c, s, n) == 0)
				return 1;
			c += l;
			if (*c)
				c++;
		}
		return 0;
	}
	case PW_CP_STRMAP: {
		if (!json_is_object(v))
			return 0;
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			if (!(json_is_string(x) || json_is_number(x) || json_is_boolean(x)) || !*k)
				return 0;
		}
		return 1;
	}
	case PW_CP_LIST: {
		if (!json_is_array(v))
			return 0;
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (!(json_is_string(x) || json_is_number(x)))
				return 0;
		}
		return 1;
	}
	}
	return 0;
}

static const char *type_name(const pw_cloud_param *p)
{
	switch (p->type) {
	case PW_CP_STRING:
		return "a non-empty string";
	case PW_CP_INT:
		return "an integer";
	case PW_CP_NUMBER:
		return "a number";
	case PW_CP_BOOL:
		return "true or false";
	case PW_CP_ENUM:
		return "one of";
	case PW_CP_STRMAP:
		return "a mapping of names to values";
	case PW_CP_LIST:
		return "a list";
	}
	return "?";
}

int pw__cloud_validate(const pw_cloud_action **out, const json_t *config, const char *type,
                       const char *const *top_keys, const pw_cloud_action *actions, size_t n, pw_error **err)
{
	*out = NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)config, k, v)
	{
		if (pw__suggest_known(k, top_keys))
			continue;
		const char *near = pw__suggest(k, top_keys);
		char hint[256];
		snprintf(hint, sizeof hint,
		         "%s%s%sthe %s connector's keys are service, action, parameters, endpoint and its "
		         "credential settings (see docs/cloud.md)",
		         near ? "did you mean '" : "", near ? near : "", near ? "'? " : "", type);
		return pw__cloud_fail(err, PW_ECONFIG, k, hint, NULL,
		                      "unknown key '%s' in the %s step's config", k, type);
	}
	const char *service = json_string_value(json_object_get(config, "service"));
	const char *action = json_string_value(json_object_get(config, "action"));
	pw_buf list = PW_BUF_INIT(0);
	for (size_t i = 0; i < n; i++)
		pw__buf_printf(&list, "%s%s/%s", i ? ", " : "", actions[i].service, actions[i].action);
	if (!service || !action) {
		int rc = pw__cloud_fail(err, PW_ECONFIG, service ? "action" : "service", NULL, NULL,
		                        "the %s step needs `service` and `action`; available: %s", type,
		                        pw__buf_cstr(&list));
		pw__buf_dispose(&list);
		return rc;
	}
	const pw_cloud_action *a = NULL;
	int service_known = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(actions[i].service, service) == 0) {
			service_known = 1;
			if (strcmp(actions[i].action, action) == 0)
				a = &actions[i];
		}
	}
	if (!a) {
		int rc = pw__cloud_fail(err, PW_ECONFIG, service_known ? "action" : "service", NULL, NULL,
		                        "%s: unknown %s '%s'; available service/action pairs: %s", type,
		                        service_known ? "action" : "service",
		                        service_known ? action : service, pw__buf_cstr(&list));
		pw__buf_dispose(&list);
		return rc;
	}
	pw__buf_dispose(&list);
	json_t *params = json_object_get(config, "parameters");
	if (params && !json_is_object(params))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters", NULL, NULL,
		                      "%s %s/%s: `parameters` must be a mapping", type, service, action);
	const char *names[64];
	size_t nn = 0;
	for (const pw_cloud_param *p = a->params; p->name && nn + 1 < 64; p++)
		names[nn++] = p->name;
	names[nn] = NULL;
	json_object_foreach(params, k, v)
	{
		const pw_cloud_param *p = NULL;
		for (const pw_cloud_param *q = a->params; q->name; q++)
			if (strcmp(q->name, k) == 0)
				p = q;
		char key[160];
		snprintf(key, sizeof key, "parameters.%s", k);
		if (!p) {
			const char *near = pw__suggest(k, names);
			pw_buf h = PW_BUF_INIT(0);
			if (near)
				pw__buf_printf(&h, "did you mean '%s'? ", near);
			pw__buf_puts(&h, "known parameters: ");
			for (size_t i = 0; i < nn; i++)
				pw__buf_printf(&h, "%s%s", i ? ", " : "", names[i]);
			int rc = pw__cloud_fail(err, PW_ECONFIG, key, pw__buf_cstr(&h), NULL,
			                        "%s %s/%s: unknown parameter '%s'", type, service, action, k);
			pw__buf_dispose(&h);
			return rc;
		}
		if (!type_ok(v, p))
			return pw__cloud_fail(err, PW_ECONFIG, key, p->doc, NULL,
			                      "%s %s/%s: parameter '%s' must be %s%s%s", type, service,
			                      action, k, type_name(p), p->choices ? " " : "",
			                      p->choices ? p->choices : "");
	}
	for (const pw_cloud_param *p = a->params; p->name; p++) {
		if (p->required && !json_object_get(params, p->name)) {
			char key[160];
			snprintf(key, sizeof key, "parameters.%s", p->name);
			return pw__cloud_fail(err, PW_ECONFIG, key, p->doc, NULL,
			                      "%s %s/%s: parameter '%s' is required", type, service, action,
			                      p->name);
		}
	}
	*out = a;
	return 0;
}

static json_t *param(const json_t *config, const char *name)
{
	return json_object_get(json_object_get(config, "parameters"), name);
}

const char *pw__cloud_param_str(const json_t *config, const char *name)
{
	const char *s = json_string_value(param(config, name));
	return s && *s ? s : NULL;
}

double pw__cloud_param_num(const json_t *config, const char *name, double fallback)
{
	double d;
	return pw__config_number(param(config, name), &d) ? d : fallback;
}

long long pw__cloud_param_int(const json_t *config, const char *name, long long fallback)
{
	long long i;
	return pw__config_integer(param(config, name), &i) ? i : fallback;
}

int pw__cloud_param_bool(const json_t *config, const char *name, int fallback)
{
	json_t *v = param(config, name);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

const char *pw__cloud_scalar(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		pw__real_text(buf, cap, json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, cap, "%s", "");
	return buf;
}

const char *pw__cloud_env(const pw_map *env, const char *name)
{
	const char *v = env ? pw_map_get(env, name) : NULL;
	if (!v || !*v)
		v = getenv(name);
	return v && *v ? v : NULL;
}

int64_t pw__cloud_config_ms(const json_t *config, const char *key, int64_t fallback_ms)
{
	json_t *v = json_object_get(config, key);
	double d = 0;
	if (pw__config_number(v, &d) && d >= 0)
		return (int64_t)(d * 1000.0 + 0.5);
	return fallback_ms;
}

int pw__cloud_api_init(pw_cloud_api *api, const char *endpoint, pw_error **err)
{
	char *origin = NULL, *rest = NULL;
	int rc = pw__oauth2_split_url(&origin, &rest, endpoint, 0, err);
	if (rc < 0) {
		if (err && *err)
			pw_error_set_key(*err, "endpoint");
		return rc;
	}
	size_t n = strcspn(rest, "?#");
	while (n > 0 && rest[n - 1] == '/')
		n--;
	rest[n] = '\0';
	api->origin = origin;
	api->prefix = rest;
	return 0;
}

void pw__cloud_api_dispose(pw_cloud_api *api)
{
	pw_free(api->origin);
	pw_free(api->prefix);
	api->origin = api->prefix = NULL;
}

int pw__cloud_target(pw_buf *out, const pw_cloud_api *api, const char *path, pw_error **err)
{
	if (strncmp(path, "https://", 8) != 0 && strncmp(path, "http://", 7) != 0) {
		pw__buf_printf(out, "%s%s", api->prefix, path);
		return 0;
	}
	size_t ol = strlen(api->origin);
	if (strncmp(path, api->origin, ol) == 0 && (path[ol] == '/' || path[ol] == '\0')) {
		pw__buf_puts(out, path + ol);
		return 0;
	}
	/* name the foreign origin only: the rest may hold a signature */
	const char *host = strstr(path, "://") + 3;
	return pw__cloud_fail(err, PW_EEXTERNAL, NULL,
	                      "the service pointed at another host than the configured endpoint; set "
	                      "`endpoint` to the service that issued it",
	                      NULL,
	                      "%s sent a follow-up URL on another host (%.*s); not sending credentials there",
	                      api->service, (int)(host - path + strcspn(host, "/?#")), path);
}

int pw__cloud_send(pw_http_response *r, json_t **doc, pw_cloud_api *api, const char *method, const char *path,
                   const json_t *body, pw_error **err)
{
	memset(r, 0, sizeof *r);
	*doc = NULL;
	pw_buf target = PW_BUF_INIT(0);
	int rc = pw__cloud_target(&target, api, path, err);
	if (rc < 0) {
		pw__buf_dispose(&target);
		return rc;
	}
	char *text = body ? pw__json_dump(body) : NULL;
	pw_http_endpoint ep = {.base_url = api->origin};
	for (int attempt = 0; attempt < 2; attempt++) {
		char *tok = NULL;
		rc = api->token(&tok, attempt > 0, api->token_payload, err);
		if (rc < 0)
			break;
		pw_buf auth = PW_BUF_INIT(0);
		pw__buf_printf(&auth, "Authorization: Bearer %s", tok);
		const char *headers[] = {pw__buf_cstr(&auth), "Accept: application/json",
		                         text ? "Content-Type: application/json" : NULL, NULL};
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.method = method;
		req.path_and_query = pw__buf_cstr(&target);
		req.headers = headers;
		req.body = text;
		req.body_len = text ? strlen(text) : 0;
		req.max_retries = 4;
		req.retry_base_ms = 100;
		if (api->ex) {
			req.cancel_fd = pw_exec_cancel_fd(api->ex);
			int64_t left = pw_exec_remaining_ms(api->ex);
			req.total_timeout_ms = left < 0 ? 0 : (left == 0 ? 1 : (long)left);
		} else if (api->timeout_ms > 0) {
			req.total_timeout_ms = api->timeout_ms;
		}
		pw__http_response_dispose(r);
		pw__http_trace(&req, api->ex);
		rc = pw__http_do(r, api->pool, &ep, &req, err);
		api->requests++;
		memset(auth.data, 0, auth.len);
		pw__buf_dispose(&auth);
		pw_free(tok);
		if (rc < 0)
			break;
		if (r->status != 401 || attempt > 0)
			break;
		if (api->ex)
			pw_exec_log(api->ex, PW_LOG_INFO, api->service,
			            "%s %s: 401, refreshing the access token", method, pw__buf_cstr(&target));
	}
	if (rc == 0 && r->body_len > 0)
		pw__json_load(doc, r->body, r->body_len, 0, "answer", NULL);
	pw_free(text);
	pw__buf_dispose(&target);
	return rc;
}

int64_t pw__cloud_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pw__cloud_poll_init(pw_cloud_poll *p, const json_t *config, pw_exec *ex)
{
	p->interval_ms = pw__cloud_config_ms(config, "poll_interval", 2000);
	if (p->interval_ms < 1)
		p->interval_ms = 1;
	p->max_ms = p->interval_ms * 8 > 15000 ? p->interval_ms * 8 : 15000;
	p->polls = 0;
	int64_t wt = pw__cloud_config_ms(config, "wait_timeout", -1);
	p->deadline = wt >= 0 ? pw__cloud_now_ms() + wt : 0;
	(void)ex;
}

int pw__cloud_poll_wait(pw_cloud_poll *p, pw_exec *ex, int64_t retry_after_ms)
{
	int64_t d = retry_after_ms > 0 ? retry_after_ms : p->interval_ms;
	if (retry_after_ms <= 0 && p->polls > 0) {
		p->interval_ms = p->interval_ms * 3 / 2 + 1;
		if (p->interval_ms > p->max_ms)
			p->interval_ms = p->max_ms;
	}
	p->polls++;
	if (p->deadline) {
		int64_t left = p->deadline - pw__cloud_now_ms();
		if (left <= 0)
			return PW_ETIMEOUT;
		if (d > left)
			d = left;
	}
	int rc = pw_exec_sleep(ex, d);
	if (rc < 0)
		return rc;
	if (p->deadline && pw__cloud_now_ms() >= p->deadline)
		return PW_ETIMEOUT;
	return 0;
}

int64_t pw__cloud_retry_after_ms(const pw_http_response *r)
{
	const char *v = pw__http_header_get(r, "retry-after");
	if (!v || !is_num_text(v, 1))
		return 0;
	long long s = strtoll(v, NULL, 10);
	return s > 0 && s < 600 ? (int64_t)s * 1000 : 0;
}

void pw__cloud_plan_request(pw_buf *b, const char *method, const char *origin, const char *prefix,
                            const char *path, const json_t *body)
{
	pw__buf_printf(b, "%s %s%s%s\nAuthorization: Bearer ***\n", method, origin, prefix ? prefix : "",
	               path);
	if (body) {
		char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		pw__buf_printf(b, "Content-Type: application/json\n\n%s\n", text ? text : "");
		free(text);
	}
	pw__buf_putc(b, '\n');
}

int pw__cloud_connector_new(pw_connector **out, const pw_connector_ops *ops, const char *type, pw_error **err)
{
	pw_cloud_impl *im = pw_calloc(1, sizeof *im);
	if (!im)
		return PW_ENOMEM;
	im->tokens = pw__oauth2_cache_new();
	if (!im->tokens) {
		pw_free(im);
		return PW_ENOMEM;
	}
	int rc = pw_connector_new(out, ops, type, type, im, err);
	if (rc < 0) {
		pw__oauth2_cache_free(im->tokens);
		pw_free(im);
	}
	return rc;
}

void pw__cloud_connector_destroy(pw_connector *c)
{
	pw_cloud_impl *im = pw_connector_impl(c);
	if (!im)
		return;
	pw__oauth2_cache_free(im->tokens);
	pw_free(im);
}
