/* The GitLab connector: `mirror` (real git, see mirror.c) and the REST API v4 actions
 * `create-release`, `trigger-pipeline` and `remote-mirror`, against gitlab.com or a
 * self-managed instance (base_url), with personal, project or CI job tokens. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/git/gitlab.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/sys/connector.h"

#define DEFAULT_BASE_URL "https://gitlab.com"
#define DEFAULT_POLL_SECONDS 5.0

static const char *const actions[] = {"mirror", "create-release", "trigger-pipeline", "remote-mirror", NULL};

static const char *const common_keys[] = {"action",     "base_url", "project", "token_secret",
                                          "token_type", "ca_file",  NULL};
static const char *const mirror_keys[] = {"source_repo",
                                          "target_repo",
                                          "branch",
                                          "force",
                                          "prune",
                                          "source_token_secret",
                                          "target_token_secret",
                                          "source_username",
                                          "target_username",
                                          "ssh_key_secret",
                                          "ssh_key_file",
                                          "known_hosts_file",
                                          "keep_repository",
                                          NULL};
static const char *const release_keys[] = {"tag",    "name",       "description", "ref",
                                           "assets", "milestones", "on_exists",   NULL};
static const char *const trigger_keys[] = {"ref",  "variables",     "trigger_token_secret",
                                           "wait", "poll_interval", NULL};
static const char *const rmirror_keys[] = {"mirror_url",
                                           "mirror_token_secret",
                                           "mirror_username",
                                           "only_protected_branches",
                                           "keep_divergent_refs",
                                           "enabled",
                                           "sync",
                                           "wait",
                                           "poll_interval",
                                           NULL};

typedef struct gl_impl {
	pw_manager *mgr;
} gl_impl;

static const char *cfg_str(const pw_step *step, const char *key)
{
	return json_string_value(json_object_get(step->config, key));
}

static void add_err(pw_error **err, int *rc, const char *key, const char *hint, const char *fmt,
                    const char *a)
{
	*rc = PW_ECONFIG;
	if (!err)
		return;
	pw_error *e = pw_error_new(PW_ECONFIG, fmt, a);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

static const char *const *keys_of(const char *action)
{
	if (!action)
		return NULL;
	if (strcmp(action, "mirror") == 0)
		return mirror_keys;
	if (strcmp(action, "create-release") == 0)
		return release_keys;
	if (strcmp(action, "trigger-pipeline") == 0)
		return trigger_keys;
	if (strcmp(action, "remote-mirror") == 0)
		return rmirror_keys;
	return NULL;
}

static int valid_secret_name(const char *k)
{
	if (!k || !*k || (*k >= '0' && *k <= '9'))
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

static int http_url_ok(const char *u, int allow_ftp)
{
	if (!u)
		return 0;
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0 &&
	    !(allow_ftp && strncmp(u, "ftp://", 6) == 0))
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return strstr(u, "://")[3] != '\0';
}

static int url_has_userinfo(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p)
		return 0;
	p += 3;
	return memchr(p, '@', strcspn(p, "/?#")) != NULL;
}

static void check_bool(const pw_step *step, const char *key, pw_error **err, int *rc)
{
	json_t *v = json_object_get(step->config, key);
	if (v && !json_is_boolean(v))
		add_err(err, rc, key, "write true or false", "%s must be true or false", key);
}

static void check_secret_key(const pw_step *step, const char *key, pw_error **err, int *rc)
{
	json_t *v = json_object_get(step->config, key);
	if (v && !valid_secret_name(json_string_value(v)))
		add_err(err, rc, key,
		        "the name of a pipeline secret (listed under `secrets:`), not its value",
		        "%s must name a secret (letters, digits, '_')", key);
}

static void check_project(const pw_step *step, pw_error **err, int *rc)
{
	json_t *p = json_object_get(step->config, "project");
	if (!p)
		add_err(err, rc, "project", "the project's numeric id or its full path, such as group/app",
		        "this action needs project%s", "");
	else if (!(json_is_string(p) && *json_string_value(p)) && !json_is_integer(p))
		add_err(err, rc, "project", "the project's numeric id or its full path, such as group/app",
		        "project must be an id or a path%s", "");
}

static void check_poll(const pw_step *step, pw_error **err, int *rc)
{
	json_t *v = json_object_get(step->config, "poll_interval");
	double d = 0;
	if (v && (!pw__config_number(v, &d) || d < 0.05 || d > 3600))
		add_err(err, rc, "poll_interval", "seconds between status checks, 0.05 to 3600",
		        "poll_interval must be a number of seconds%s", "");
}

static int gl_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	int rc = 0;
	json_t *av = json_object_get(step->config, "action");
	const char *action = json_string_value(av);
	const char *const *ak = keys_of(action);
	if (!av) {
		add_err(err, &rc, "action", "one of: mirror, create-release, trigger-pipeline, remote-mirror",
		        "the gitlab step has no action%s", "");
	} else if (!ak) {
		const char *near = action ? pw__suggest(action, actions) : NULL;
		char hint[160];
		snprintf(hint, sizeof(hint), "%s%s%s",
		         near ? "did you mean '" : "one of: mirror, create-release, ",
		         near ? near : "trigger-pipeline, remote-mirror", near ? "'?" : "");
		add_err(err, &rc, "action", hint, "unknown gitlab action '%s'", action ? action : "?");
	}
	const char *key;
	json_t *v;
	json_object_foreach(step->config, key, v)
	{
		if (pw__suggest_known(key, common_keys) || (ak && pw__suggest_known(key, ak)))
			continue;
		const char *near = ak ? pw__suggest(key, ak) : NULL;
		if (!near)
			near = pw__suggest(key, common_keys);
		char hint[200];
		if (near)
			snprintf(hint, sizeof(hint), "did you mean '%s'?", near);
		else
			snprintf(hint, sizeof(hint), "see docs/git.md (GitLab) for the keys of the %s action",
			         action ? action : "chosen");
		add_err(err, &rc, key, hint, "unknown gitlab config key '%s'", key);
	}
	json_t *bu = json_object_get(step->config, "base_url");
	if (bu && (!http_url_ok(json_string_value(bu), 0) || url_has_userinfo(json_string_value(bu))))
		add_err(err, &rc, "base_url",
		        "the instance's root URL, such as https://gitlab.example.com (no credentials)",
		        "base_url must be an http(s) URL without credentials%s", "");
	check_secret_key(step, "token_secret", err, &rc);
	json_t *tt = json_object_get(step->config, "token_type");
	const char *tts = json_string_value(tt);
	if (tt && (!tts || (strcmp(tts, "private") && strcmp(tts, "project") && strcmp(tts, "job"))))
		add_err(err, &rc, "token_type",
		        "private (personal access token), project (project or group access token) or job "
		        "(CI_JOB_TOKEN)",
		        "token_type must be private, project or job%s", "");
	if (!ak)
		return rc;
	if (strcmp(action, "mirror") == 0) {
		if (pw__gitlab_mirror_validate(step, err) < 0)
			rc = PW_ECONFIG;
		return rc;
	}
	check_project(step, err, &rc);
	if (strcmp(action, "create-release") == 0) {
		json_t *t = json_object_get(step->config, "tag");
		if (!json_is_string(t) || !*json_string_value(t))
			add_err(err, &rc, "tag", "the tag the release is for, such as v1.2.0",
			        "create-release needs a tag%s", "");
		static const char *const strs[] = {"name", "description", "ref", NULL};
		for (size_t i = 0; strs[i]; i++) {
			json_t *s = json_object_get(step->config, strs[i]);
			if (s && !json_is_string(s))
				add_err(err, &rc, strs[i], "quote it", "%s must be a string", strs[i]);
		}
		json_t *oe = json_object_get(step->config, "on_exists");
		const char *oes = json_string_value(oe);
		if (oe && (!oes || (strcmp(oes, "fail") && strcmp(oes, "update") && strcmp(oes, "skip"))))
			add_err(err, &rc, "on_exists", "fail (default), update or skip",
			        "on_exists must be fail, update or skip%s", "");
		json_t *ms = json_object_get(step->config, "milestones");
		if (ms && !json_is_array(ms))
			add_err(err, &rc, "milestones", "a list of milestone titles",
			        "milestones must be a list%s", "");
		json_t *as = json_object_get(step->config, "assets");
		if (as && !json_is_array(as)) {
			add_err(err, &rc, "assets", "a list of {name, url, link_type, direct_asset_path}",
			        "assets must be a list of links%s", "");
		} else if (as) {
			size_t i;
			json_t *a;
			json_array_foreach(as, i, a)
			{
				char k[64];
				snprintf(k, sizeof(k), "assets.%zu", i);
				const char *n = json_string_value(json_object_get(a, "name"));
				const char *u = json_string_value(json_object_get(a, "url"));
				const char *lt = json_string_value(json_object_get(a, "link_type"));
				if (!json_is_object(a) || !n || !*n || !http_url_ok(u, 1))
					add_err(err, &rc, k,
					        "each asset link has a name and an http(s) or ftp url",
					        "asset link %s needs a name and a url", k + 7);
				else if (lt && strcmp(lt, "other") && strcmp(lt, "runbook") &&
				         strcmp(lt, "image") && strcmp(lt, "package"))
					add_err(err, &rc, k, "other, runbook, image or package",
					        "asset link %s has an unknown link_type", k + 7);
				const char *kk;
				json_t *vv;
				json_object_foreach(a, kk, vv)
				{
					static const char *const lk[] = {"name", "url", "link_type",
					                                 "direct_asset_path", NULL};
					if (!pw__suggest_known(kk, lk))
						add_err(err, &rc, k,
						        "an asset link takes name, url, link_type, "
						        "direct_asset_path",
						        "unknown key '%s' in an asset link", kk);
				}
			}
		}
	} else if (strcmp(action, "trigger-pipeline") == 0) {
		json_t *r = json_object_get(step->config, "ref");
		if (!json_is_string(r) || !*json_string_value(r))
			add_err(err, &rc, "ref", "the branch or tag to run the pipeline for",
			        "trigger-pipeline needs a ref%s", "");
		if (!json_object_get(step->config, "trigger_token_secret"))
			add_err(
			    err, &rc, "trigger_token_secret",
			    "name the pipeline secret holding the trigger token (Settings > CI/CD > Pipeline "
			    "trigger tokens), or CI_JOB_TOKEN inside a GitLab job",
			    "trigger-pipeline needs trigger_token_secret%s", "");
		check_secret_key(step, "trigger_token_secret", err, &rc);
		check_bool(step, "wait", err, &rc);
		check_poll(step, err, &rc);
		json_t *vars = json_object_get(step->config, "variables");
		if (vars && !json_is_object(vars)) {
			add_err(err, &rc, "variables", "a mapping of NAME: value",
			        "variables must be a mapping%s", "");
		} else if (vars) {
			const char *vk;
			json_t *vv;
			json_object_foreach(vars, vk, vv)
			{
				if (!valid_secret_name(vk))
					add_err(err, &rc, "variables", "names are letters, digits and '_'",
					        "variable name '%s' is not valid", vk);
				else if (!json_is_string(vv) && !json_is_number(vv) && !json_is_boolean(vv))
					add_err(err, &rc, "variables", "quote the value",
					        "variable '%s' must be a scalar", vk);
			}
		}
	} else if (strcmp(action, "remote-mirror") == 0) {
		json_t *u = json_object_get(step->config, "mirror_url");
		const char *us = json_string_value(u);
		if (!u)
			add_err(err, &rc, "mirror_url",
			        "the repository GitLab pushes to, such as https://github.com/org/app.git",
			        "remote-mirror needs mirror_url%s", "");
		else if (!us || (!http_url_ok(us, 0) && strncmp(us, "ssh://", 6) != 0))
			add_err(err, &rc, "mirror_url", "an https:// or ssh:// URL",
			        "mirror_url must be an http(s) or ssh URL%s", "");
		else if (url_has_userinfo(us) && strncmp(us, "ssh://", 6) != 0)
			add_err(
			    err, &rc, "mirror_url",
			    "remove the credentials from the URL and name the secret holding the token in "
			    "mirror_token_secret",
			    "mirror_url holds credentials (not shown here)%s", "");
		check_secret_key(step, "mirror_token_secret", err, &rc);
		static const char *const bools[] = {
		    "only_protected_branches", "keep_divergent_refs", "enabled", "sync", "wait", NULL};
		for (size_t i = 0; bools[i]; i++)
			check_bool(step, bools[i], err, &rc);
		json_t *mu = json_object_get(step->config, "mirror_username");
		if (mu && (!json_is_string(mu) || !*json_string_value(mu)))
			add_err(err, &rc, "mirror_username", NULL,
			        "mirror_username must be a non-empty string%s", "");
		check_poll(step, err, &rc);
	}
	return rc;
}

/* ---- the API ---- */

typedef struct gl_api {
	pw_http_pool *pool;
	pw_http_endpoint ep;
	char *base;    /* base_url + "/api/v4" */
	char *auth;    /* "PRIVATE-TOKEN: ..." or "JOB-TOKEN: ..."; NULL without a token */
	char *project; /* escaped id or path */
	const char *token_name;
	pw_exec *ex;
} gl_api;

static void api_dispose(gl_api *a)
{
	pw_free(a->base);
	pw_free(a->auth);
	pw_free(a->project);
}

static char *base_of(const pw_step *step)
{
	const char *b = cfg_str(step, "base_url");
	if (!b)
		b = DEFAULT_BASE_URL;
	size_t n = strlen(b);
	while (n > 0 && b[n - 1] == '/')
		n--;
	pw_buf u = PW_BUF_INIT(0);
	pw__buf_append(&u, b, n);
	pw__buf_puts(&u, "/api/v4");
	return pw__buf_detach(&u);
}

static char *project_of(const pw_step *step)
{
	json_t *p = json_object_get(step->config, "project");
	if (json_is_integer(p)) {
		char n[32];
		snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(p));
		return pw_strdup(n);
	}
	return pw__http_escape(json_string_value(p) ? json_string_value(p) : "");
}

/* Which secret holds the API token and which header carries it. *name NULL when none. */
static void token_choice(const char **name, int *job, const pw_step *step, const pw_map *env)
{
	*name = cfg_str(step, "token_secret");
	const char *tt = cfg_str(step, "token_type");
	if (!*name) {
		if (env && pw_map_get(env, "GITLAB_TOKEN"))
			*name = "GITLAB_TOKEN";
		else if (env && pw_map_get(env, "CI_JOB_TOKEN"))
			*name = "CI_JOB_TOKEN";
	}
	*job = tt ? strcmp(tt, "job") == 0 : (*name && strcmp(*name, "CI_JOB_TOKEN") == 0);
}

static int api_init(gl_api *a, gl_impl *im, const pw_step *step, const pw_workspace *ws, const pw_map *env,
                    pw_exec *ex, int need_token, pw_error **err)
{
	memset(a, 0, sizeof(*a));
	a->ex = ex;
	a->pool = pw__manager_http_pool(im->mgr);
	if (!a->pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool for the gitlab connector");
	a->base = base_of(step);
	a->project = project_of(step);
	a->ep.base_url = a->base;
	const char *ca = cfg_str(step, "ca_file");
	a->ep.ca_file = ca;
	const char *name;
	int job;
	token_choice(&name, &job, step, env);
	const char *tok = name ? pw_map_get(env, name) : NULL;
	if (name && cfg_str(step, "token_secret") && (!tok || !*tok)) {
		pw_error *e = pw_error_new(
		    PW_ECONFIG, "token_secret names '%s', which this step's environment does not hold", name);
		pw_error_set_key(e, "token_secret");
		pw_error_set_hint(e, "list it under the pipeline's `secrets:` and set it in the environment "
		                     "pipewright runs in");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	if (tok && *tok) {
		pw_exec_add_secret(ex, tok, name, NULL);
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h, "%s: %s", job ? "JOB-TOKEN" : "PRIVATE-TOKEN", tok);
		a->auth = pw__buf_detach(&h);
		a->token_name = name;
	} else if (need_token) {
		pw_error *e =
		    pw_error_new(PW_ECONFIG, "this gitlab action needs an API token and the step has none");
		pw_error_set_key(e, "token_secret");
		pw_error_set_hint(
		    e, "put a token with the api scope in a pipeline secret (GITLAB_TOKEN is used by "
		       "default, CI_JOB_TOKEN inside a GitLab job) or name it in token_secret");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	return 0;
}

static const char *status_hint(long status, int job)
{
	switch (status) {
	case 400:
		return "GitLab refused the request's fields: see its message";
	case 401:
		return "the token is missing, invalid, expired or revoked: check the secret named in "
		       "token_secret";
	case 403:
		return job ? "the CI job token may not do this: allow the calling project in the target's "
		             "CI/CD job token settings, or use an access token with the api scope"
		           : "the token lacks the scope (api) or the role (Developer for releases and "
		             "pipelines, "
		             "Maintainer for mirrors)";
	case 404:
		return "the project (or object) does not exist, or the token cannot see it: check project "
		       "and base_url";
	case 409:
		return "it exists already";
	case 422:
		return "GitLab could not process the fields: see its message";
	case 429:
		return "rate limited: retry later";
	default:
		return status >= 500 ? "GitLab had an internal error: retry the step" : NULL;
	}
}

char *pw__gitlab_answer_message(const char *body, size_t len)
{
	json_t *doc = NULL;
	char *msg = NULL;
	if (len && pw__json_load(&doc, body, len, 0, "answer", NULL) == 0) {
		json_t *m = json_object_get(doc, "message");
		if (!m)
			m = json_object_get(doc, "error");
		if (json_is_string(m))
			msg = pw_strdup(json_string_value(m));
		else if (m)
			msg = pw__json_dump(m);
		json_decref(doc);
	}
	if (!msg) {
		pw_buf b = PW_BUF_INIT(0);
		pw__buf_append(&b, body, len > 300 ? 300 : len);
		msg = pw__buf_detach(&b);
	}
	return msg;
}

/* One API call. body is JSON text (ctype NULL) or a form (ctype given). Returns 0 for 2xx (and
 * for `tolerated` when non-zero), *out parsed when the answer has a body; *status_out the status. */
static int api_call(json_t **out, long *status_out, gl_api *a, const char *method, const char *path,
                    const char *body, const char *ctype, long tolerated, int with_auth, pw_error **err)
{
	if (out)
		*out = NULL;
	pw_buf full = PW_BUF_INIT(0), ct = PW_BUF_INIT(0);
	pw__buf_printf(&full, "%s", path);
	pw__buf_printf(&ct, "Content-Type: %s", ctype ? ctype : "application/json");
	const char *headers[4];
	size_t h = 0;
	headers[h++] = "Accept: application/json";
	if (body)
		headers[h++] = pw__buf_cstr(&ct);
	if (with_auth && a->auth)
		headers[h++] = a->auth;
	headers[h] = NULL;
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = method;
	req.path_and_query = pw__buf_cstr(&full);
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.cancel_fd = a->ex ? pw_exec_cancel_fd(a->ex) : -1;
	int64_t rem = a->ex ? pw_exec_remaining_ms(a->ex) : -1;
	req.total_timeout_ms = rem > 0 ? (long)rem : 0;
	req.max_response = (size_t)8 << 20;
	pw__http_trace(&req, a->ex);
	pw_http_response resp;
	int rc = pw__http_do(&resp, a->pool, &a->ep, &req, err);
	if (rc == 0) {
		if (status_out)
			*status_out = resp.status;
		if ((resp.status >= 200 && resp.status < 300) || (tolerated && resp.status == tolerated)) {
			if (out && resp.body_len) {
				char *what = pw__http_describe(&a->ep, method, path);
				pw_buf w = PW_BUF_INIT(0);
				pw__buf_printf(&w, "the answer to %s", what ? what : path);
				rc = pw__json_load(out, resp.body, resp.body_len, 0, pw__buf_cstr(&w), err);
				pw__buf_dispose(&w);
				pw_free(what);
			}
		} else {
			char *what = pw__http_describe(&a->ep, method, path);
			char *msg = pw__gitlab_answer_message(resp.body, resp.body_len);
			pw_error *e = pw_error_new(PW_EEXTERNAL, "GitLab answered %ld to %s: %s", resp.status,
			                           what ? what : path, msg ? msg : "");
			pw_error_set_operation(e, what);
			pw_error_set_response(e, resp.body);
			const char *hint =
			    status_hint(resp.status, a->auth && strncmp(a->auth, "JOB-TOKEN", 9) == 0);
			if (hint)
				pw_error_set_hint(e, hint);
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			pw_free(msg);
			pw_free(what);
			rc = PW_EEXTERNAL;
		}
	}
	pw__http_response_dispose(&resp);
	pw__buf_dispose(&full);
	pw__buf_dispose(&ct);
	return rc;
}

static void out_both(pw_result *r, pw_exec *ex, const char *k, const char *v)
{
	if (!v)
		return;
	pw_result_with_metadata(r, k, v);
	pw_exec_set_output(ex, k, v);
}

static void say(pw_exec *ex, pw_stream s, const char *fmt, ...) PW_PRINTF(3, 4);
static void say(pw_exec *ex, pw_stream s, const char *fmt, ...)
{
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw__buf_putc(&b, '\n');
	pw_exec_output(ex, s, b.data, b.len);
	pw__buf_dispose(&b);
}

/* ---- create-release ---- */

static json_t *release_body(const pw_step *step, int for_update)
{
	json_t *b = json_object();
	if (!for_update)
		json_object_set_new(b, "tag_name", json_string(cfg_str(step, "tag")));
	static const char *const strs[] = {"name", "description", NULL};
	for (size_t i = 0; strs[i]; i++)
		if (cfg_str(step, strs[i]))
			json_object_set_new(b, strs[i], json_string(cfg_str(step, strs[i])));
	if (!for_update && cfg_str(step, "ref"))
		json_object_set_new(b, "ref", json_string(cfg_str(step, "ref")));
	json_t *ms = json_object_get(step->config, "milestones");
	if (ms)
		json_object_set(b, "milestones", ms);
	json_t *as = json_object_get(step->config, "assets");
	if (!for_update && json_array_size(as)) {
		json_t *links = json_array();
		size_t i;
		json_t *a;
		json_array_foreach(as, i, a)
		{
			json_array_append(links, a);
		}
		json_t *assets = json_object();
		json_object_set_new(assets, "links", links);
		json_object_set_new(b, "assets", assets);
	}
	return b;
}

static char *release_path(gl_api *a, const char *tag, const char *suffix)
{
	char *t = tag ? pw__http_escape(tag) : NULL;
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "/projects/%s/releases%s%s%s", a->project, t ? "/" : "", t ? t : "",
	               suffix ? suffix : "");
	pw_free(t);
	return pw__buf_detach(&p);
}

/* Makes the release's links match the step's assets: missing ones added, changed ones updated. */
static int sync_links(int *added, int *updated, gl_api *a, const pw_step *step, pw_error **err)
{
	*added = *updated = 0;
	json_t *as = json_object_get(step->config, "assets");
	if (!json_array_size(as))
		return 0;
	const char *tag = cfg_str(step, "tag");
	char *lp = release_path(a, tag, "/assets/links");
	json_t *have = NULL;
	int rc = api_call(&have, NULL, a, "GET", lp, NULL, NULL, 0, 1, err);
	size_t i;
	json_t *want;
	json_array_foreach(as, i, want)
	{
		if (rc < 0)
			break;
		const char *name = json_string_value(json_object_get(want, "name"));
		json_t *found = NULL, *l;
		size_t j;
		json_array_foreach(have, j, l)
		{
			if (json_is_string(json_object_get(l, "name")) &&
			    strcmp(json_string_value(json_object_get(l, "name")), name) == 0)
				found = l;
		}
		char *body = pw__json_dump(want);
		if (!found) {
			rc = api_call(NULL, NULL, a, "POST", lp, body, NULL, 0, 1, err);
			(*added)++;
		} else {
			const char *u = json_string_value(json_object_get(found, "url"));
			const char *lt = json_string_value(json_object_get(want, "link_type"));
			const char *hlt = json_string_value(json_object_get(found, "link_type"));
			if (!u || strcmp(u, json_string_value(json_object_get(want, "url"))) != 0 ||
			    (lt && (!hlt || strcmp(lt, hlt) != 0))) {
				long long id = 0;
				pw__json_get_int(&id, found, "id");
				pw_buf p = PW_BUF_INIT(0);
				pw__buf_printf(&p, "%s/%lld", lp, id);
				rc = api_call(NULL, NULL, a, "PUT", pw__buf_cstr(&p), body, NULL, 0, 1, err);
				pw__buf_dispose(&p);
				(*updated)++;
			}
		}
		pw_free(body);
	}
	json_decref(have);
	pw_free(lp);
	return rc;
}

static int do_release(pw_result **out, gl_api *a, const pw_step *step, pw_exec *ex, pw_error **err)
{
	const char *tag = cfg_str(step, "tag");
	const char *on_exists = cfg_str(step, "on_exists");
	if (!on_exists)
		on_exists = "fail";
	pw_buf target = PW_BUF_INIT(0);
	pw__buf_printf(&target, "%s@%s",
	               json_is_string(json_object_get(step->config, "project")) ? cfg_str(step, "project")
	                                                                        : a->project,
	               tag);
	json_t *body = release_body(step, 0);
	char *text = pw__json_dump(body);
	json_decref(body);
	char *path = release_path(a, NULL, NULL);
	json_t *rel = NULL;
	long status = 0;
	const char *did = "created";
	/* create first and learn of an existing release from the 409: race-free between
	 * parallel builds, where a get-then-create would create twice */
	int rc;
	for (int attempt = 0;; attempt++) {
		pw_error *ce = NULL;
		status = 0;
		rc = api_call(&rel, &status, a, "POST", path, text, NULL, 409, 1, &ce);
		/* a reset, a cut answer or 500/502/504: GitLab may have made the release. A 409 on a
		 * second POST would then call our own release somebody else's: look first. */
		int unsure =
		    rc == PW_EIO || (rc == PW_EEXTERNAL && (status == 500 || status == 502 || status == 504));
		if (unsure && attempt < 3) {
			char *rp = release_path(a, tag, NULL);
			json_t *got = NULL;
			long gs = 0;
			int grc = api_call(&got, &gs, a, "GET", rp, NULL, NULL, 404, 1, NULL);
			pw_free(rp);
			if (grc == 0 && gs == 200 && json_is_object(got)) {
				say(ex, PW_STREAM_STDOUT, "creating release %s failed (%s) but GitLab has it",
				    tag, pw_error_message(ce));
				pw_error_free(ce);
				json_decref(rel);
				rel = got;
				status = 201;
				rc = 0;
				break;
			}
			json_decref(got);
			if (grc == 0 && gs == 404 && pw_exec_sleep(ex, 200LL << attempt) == 0) {
				say(ex, PW_STREAM_STDOUT,
				    "creating release %s failed (%s) and GitLab does not have it: asking "
				    "again",
				    tag, pw_error_message(ce));
				pw_error_free(ce);
				json_decref(rel);
				rel = NULL;
				continue;
			}
		}
		if (ce && rc < 0) {
			/* the failure, said as the failure of this step's action */
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "gitlab: cannot create the release %s: %s", pw__buf_cstr(&target),
			               pw_error_message(ce));
			pw__error_replace_message(ce, pw__buf_cstr(&m));
			pw__buf_dispose(&m);
		}
		if (ce && err && !*err)
			*err = ce;
		else
			pw_error_free(ce);
		break;
	}
	pw_free(text);
	int added = 0, updated = 0;
	if (rc == 0 && status == 409) {
		json_decref(rel);
		rel = NULL;
		if (strcmp(on_exists, "fail") == 0) {
			pw_error *e = pw_error_new(PW_EEXTERNAL, "a release for tag %s already exists in %s",
			                           tag, pw__buf_cstr(&target));
			pw_error_set_key(e, "tag");
			pw_error_set_hint(
			    e, "set on_exists: update to update it (name, description, asset links) or "
			       "on_exists: skip to keep it as it is");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			pw_exec_audit(ex, "create-release", pw__buf_cstr(&target), "failed",
			              "the release exists");
			rc = PW_EEXISTS;
		} else if (strcmp(on_exists, "skip") == 0) {
			char *rp = release_path(a, tag, NULL);
			rc = api_call(&rel, NULL, a, "GET", rp, NULL, NULL, 0, 1, err);
			pw_free(rp);
			did = "skipped";
		} else {
			json_t *ub = release_body(step, 1);
			char *ut = pw__json_dump(ub);
			json_decref(ub);
			char *rp = release_path(a, tag, NULL);
			rc = api_call(&rel, NULL, a, "PUT", rp, ut, NULL, 0, 1, err);
			pw_free(rp);
			pw_free(ut);
			if (rc == 0)
				rc = sync_links(&added, &updated, a, step, err);
			did = "updated";
		}
	} else if (rc == 0) {
		added = (int)json_array_size(json_object_get(step->config, "assets"));
	}
	if (rc == 0) {
		pw_buf d = PW_BUF_INIT(0);
		pw__buf_printf(&d, "%d asset links added, %d updated", added, updated);
		if (strcmp(did, "skipped") != 0)
			pw_exec_audit(ex, strcmp(did, "created") == 0 ? "create-release" : "update-release",
			              pw__buf_cstr(&target), "ok", pw__buf_cstr(&d));
		pw__buf_dispose(&d);
		pw_result *r = pw_result_new(0, NULL, NULL);
		const char *url = pw__json_get_string(rel, "_links.self");
		out_both(r, ex, "release_tag", tag);
		out_both(r, ex, "release_url", url);
		out_both(r, ex, "release_action", did);
		char n[32];
		snprintf(n, sizeof(n), "%zu", json_array_size(pw__json_get(rel, "assets.links")));
		out_both(r, ex, "asset_links", n);
		say(ex, PW_STREAM_STDOUT, "release %s %s%s%s (%d asset links added, %d updated)", tag, did,
		    url ? ": " : "", url ? url : "", added, updated);
		*out = r;
	} else if (rc != PW_EEXISTS) {
		pw_exec_audit(ex, "create-release", pw__buf_cstr(&target), "failed",
		              err && *err ? pw_error_message(*err) : NULL);
	}
	json_decref(rel);
	pw_free(path);
	pw__buf_dispose(&target);
	return rc;
}

/* ---- trigger-pipeline ---- */

static double poll_ms(const pw_step *step)
{
	json_t *v = json_object_get(step->config, "poll_interval");
	double d = 0;
	return (pw__config_number(v, &d) ? d : DEFAULT_POLL_SECONDS) * 1000.0;
}

int pw__gitlab_pipeline_final(const char *s)
{
	static const char *const fin[] = {"success", "failed", "canceled", "skipped", "manual", NULL};
	for (size_t i = 0; s && fin[i]; i++)
		if (strcmp(s, fin[i]) == 0)
			return 1;
	return 0;
}

void pw__gitlab_failed_jobs(pw_buf *lines, pw_buf *names, const json_t *jobs)
{
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		const char *n = json_string_value(json_object_get(j, "name"));
		const char *st = json_string_value(json_object_get(j, "stage"));
		const char *fr = json_string_value(json_object_get(j, "failure_reason"));
		const char *wu = json_string_value(json_object_get(j, "web_url"));
		pw__buf_printf(lines, "failed job: %s (stage %s)%s%s%s%s\n", n ? n : "?", st ? st : "?",
		               fr ? ": " : "", fr ? fr : "", wu ? " " : "", wu ? wu : "");
		if (names->len)
			pw__buf_putc(names, ',');
		pw__buf_puts(names, n ? n : "?");
	}
}

static void scalar_text(pw_buf *b, json_t *v)
{
	if (json_is_string(v))
		pw__buf_puts(b, json_string_value(v));
	else if (json_is_true(v))
		pw__buf_puts(b, "true");
	else if (json_is_false(v))
		pw__buf_puts(b, "false");
	else if (json_is_integer(v))
		pw__buf_printf(b, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v)) {
		char num[64];
		pw__buf_puts(b, pw__real_text(num, sizeof(num), json_real_value(v)));
	}
}

/* The form body of the trigger call: token, ref, variables[NAME]=value, all escaped. */
static char *trigger_form(const pw_step *step, const char *token)
{
	pw_buf f = PW_BUF_INIT(0);
	char *t = pw__http_escape(token);
	char *r = pw__http_escape(cfg_str(step, "ref"));
	pw__buf_printf(&f, "token=%s&ref=%s", t ? t : "", r ? r : "");
	pw_free(t);
	pw_free(r);
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(step->config, "variables"), k, v)
	{
		pw_buf val = PW_BUF_INIT(0);
		scalar_text(&val, v);
		char *ek = pw__http_escape(k), *ev = pw__http_escape(pw__buf_cstr(&val));
		pw__buf_printf(&f, "&variables%%5B%s%%5D=%s", ek ? ek : "", ev ? ev : "");
		pw_free(ek);
		pw_free(ev);
		pw__buf_dispose(&val);
	}
	return pw__buf_detach(&f);
}

static int do_trigger(pw_result **out, gl_api *a, const pw_step *step, const pw_map *env, pw_exec *ex,
                      pw_error **err)
{
	const char *tname = cfg_str(step, "trigger_token_secret");
	const char *tok = pw_map_get(env, tname);
	if (!tok || !*tok) {
		pw_error *e = pw_error_new(
		    PW_ECONFIG,
		    "trigger_token_secret names '%s', which this step's environment does not hold", tname);
		pw_error_set_key(e, "trigger_token_secret");
		pw_error_set_hint(e, "list it under the pipeline's `secrets:` and set it in the environment "
		                     "pipewright runs in");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	pw_exec_add_secret(ex, tok, tname, NULL);
	int wait = pw__gitlab_cfg_bool(step, "wait", 0);
	if (wait && !a->auth) {
		pw_error *e = pw_error_new(PW_ECONFIG,
		                           "waiting for the pipeline needs an API token to read its status");
		pw_error_set_key(e, "wait");
		pw_error_set_hint(e, "give a token with read_api (GITLAB_TOKEN, or name it in token_secret), "
		                     "or set wait: false");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	const char *ref = cfg_str(step, "ref");
	pw_buf target = PW_BUF_INIT(0);
	pw__buf_printf(&target, "%s@%s", a->project, ref);
	char *form = trigger_form(step, tok);
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "/projects/%s/trigger/pipeline", a->project);
	json_t *pl = NULL;
	/* the trigger token authenticates this call (in the form, never the URL) */
	int rc = api_call(&pl, NULL, a, "POST", pw__buf_cstr(&path), form,
	                  "application/x-www-form-urlencoded", 0, 0, err);
	pw_free(form);
	if (rc < 0) {
		pw_exec_audit(ex, "trigger-pipeline", pw__buf_cstr(&target), "failed",
		              err && *err ? pw_error_message(*err) : NULL);
		pw__buf_dispose(&target);
		pw__buf_dispose(&path);
		return rc;
	}
	long long id = 0;
	pw__json_get_int(&id, pl, "id");
	char ids[32];
	snprintf(ids, sizeof(ids), "%lld", id);
	pw_buf d = PW_BUF_INIT(0);
	pw__buf_printf(&d, "pipeline %s", ids);
	pw_exec_audit(ex, "trigger-pipeline", pw__buf_cstr(&target), "ok", pw__buf_cstr(&d));
	pw__buf_dispose(&d);
	char *web = pw_strdup(pw__json_get_string(pl, "web_url"));
	char *status = pw_strdup(pw__json_get_string(pl, "status"));
	say(ex, PW_STREAM_STDOUT, "pipeline %s triggered on %s: %s%s%s", ids, ref, status ? status : "?",
	    web ? " " : "", web ? web : "");
	json_decref(pl);
	pl = NULL;
	pw_buf failed_jobs = PW_BUF_INIT(0);
	if (wait) {
		pw_buf pp = PW_BUF_INIT(0);
		pw__buf_printf(&pp, "/projects/%s/pipelines/%s", a->project, ids);
		int64_t interval = (int64_t)poll_ms(step);
		while (rc == 0 && !pw__gitlab_pipeline_final(status)) {
			rc = pw_exec_sleep(ex, interval);
			if (rc < 0) {
				rc = pw_error_set(err, rc,
				                  "stopped waiting for pipeline %s (last status %s)%s", ids,
				                  status ? status : "unknown",
				                  rc == PW_ETIMEOUT ? ": the step's timeout passed" : "");
				if (err && *err && rc == PW_ETIMEOUT)
					pw_error_set_hint(*err,
					                  "raise the step's timeout, or set wait: false");
				break;
			}
			rc = api_call(&pl, NULL, a, "GET", pw__buf_cstr(&pp), NULL, NULL, 0, 1, err);
			if (rc < 0)
				break;
			const char *s = pw__json_get_string(pl, "status");
			if (s && (!status || strcmp(s, status) != 0)) {
				say(ex, PW_STREAM_STDOUT, "pipeline %s: %s", ids, s);
				pw_free(status);
				status = pw_strdup(s);
			}
			json_decref(pl);
			pl = NULL;
		}
		pw__buf_dispose(&pp);
		if (rc == 0 && status && strcmp(status, "success") != 0) {
			pw_buf jp = PW_BUF_INIT(0);
			pw__buf_printf(&jp,
			               "/projects/%s/pipelines/%s/jobs?scope%%5B%%5D=failed&per_page=100",
			               a->project, ids);
			json_t *jobs = NULL;
			pw_error *je = NULL;
			if (api_call(&jobs, NULL, a, "GET", pw__buf_cstr(&jp), NULL, NULL, 0, 1, &je) == 0) {
				pw_buf lines = PW_BUF_INIT(0);
				pw__gitlab_failed_jobs(&lines, &failed_jobs, jobs);
				for (const char *l = pw__buf_cstr(&lines); *l;) {
					size_t n = strcspn(l, "\n");
					say(ex, PW_STREAM_STDERR, "%.*s", (int)n, l);
					l += n + (l[n] ? 1 : 0);
				}
				pw__buf_dispose(&lines);
			} else {
				say(ex, PW_STREAM_STDERR, "pipewright: cannot list the failed jobs: %s",
				    pw_error_message(je));
			}
			pw_error_free(je);
			json_decref(jobs);
			pw__buf_dispose(&jp);
		}
	}
	if (rc == 0) {
		int ok = !wait || (status && strcmp(status, "success") == 0);
		pw_result *r = pw_result_new(ok ? 0 : 1, NULL, NULL);
		out_both(r, ex, "pipeline_id", ids);
		out_both(r, ex, "pipeline_url", web);
		out_both(r, ex, "pipeline_status", status);
		if (failed_jobs.len)
			out_both(r, ex, "failed_jobs", pw__buf_cstr(&failed_jobs));
		if (!ok)
			say(ex, PW_STREAM_STDERR, "pipewright: pipeline %s ended %s", ids,
			    status ? status : "?");
		*out = r;
	}
	pw__buf_dispose(&failed_jobs);
	pw_free(web);
	pw_free(status);
	pw__buf_dispose(&target);
	pw__buf_dispose(&path);
	return rc;
}

/* ---- remote-mirror ---- */

char *pw__gitlab_strip_userinfo(const char *u)
{
	pw_buf b = PW_BUF_INIT(0);
	const char *p = u ? strstr(u, "://") : NULL;
	if (!p) {
		pw__buf_puts(&b, u ? u : "");
		return pw__buf_detach(&b);
	}
	p += 3;
	pw__buf_append(&b, u, (size_t)(p - u));
	size_t hl = strcspn(p, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < hl; i++)
		if (p[i] == '@')
			at = p + i;
	pw__buf_puts(&b, at ? at + 1 : p);
	return pw__buf_detach(&b);
}

/* The URL GitLab pushes to, with the credentials in its userinfo as the API requires. */
static char *mirror_url_with_auth(const char *url, const char *user, const char *token)
{
	if (!token)
		return pw_strdup(url);
	const char *p = strstr(url, "://") + 3;
	char *eu = pw__http_escape(user), *et = pw__http_escape(token);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_append(&b, url, (size_t)(p - url));
	pw__buf_printf(&b, "%s:%s@%s", eu ? eu : "", et ? et : "", p);
	pw_free(eu);
	pw_free(et);
	return pw__buf_detach(&b);
}

int pw__gitlab_mirror_final(const char *s)
{
	return s && (strcmp(s, "finished") == 0 || strcmp(s, "failed") == 0);
}

long long pw__gitlab_find_mirror(const json_t *list, const char *bare)
{
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m)
	{
		char *s = pw__gitlab_strip_userinfo(json_string_value(json_object_get(m, "url")));
		int same = s && bare && strcmp(s, bare) == 0;
		pw_free(s);
		long long id = -1;
		if (same && pw__json_get_int(&id, m, "id") == 0)
			return id;
	}
	return -1;
}

static int do_remote_mirror(pw_result **out, gl_api *a, const pw_step *step, const pw_map *env, pw_exec *ex,
                            pw_error **err)
{
	const char *url = cfg_str(step, "mirror_url");
	const char *tname = cfg_str(step, "mirror_token_secret");
	const char *tok = tname ? pw_map_get(env, tname) : NULL;
	if (tname && (!tok || !*tok)) {
		pw_error *e = pw_error_new(
		    PW_ECONFIG, "mirror_token_secret names '%s', which this step's environment does not hold",
		    tname);
		pw_error_set_key(e, "mirror_token_secret");
		pw_error_set_hint(e, "list it under the pipeline's `secrets:` and set it in the environment "
		                     "pipewright runs in");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	const char *user = cfg_str(step, "mirror_username");
	if (!user)
		user = "oauth2";
	if (tok)
		pw_exec_add_secret(ex, tok, tname, NULL);
	char *authed = mirror_url_with_auth(url, user, tok);
	if (tok)
		pw_exec_add_secret(ex, authed, "mirror URL with credentials", NULL);
	char *bare = pw__gitlab_strip_userinfo(url);
	pw_buf target = PW_BUF_INIT(0);
	pw__buf_printf(&target, "%s -> %s", a->project, bare);
	pw_buf lp = PW_BUF_INIT(0);
	pw__buf_printf(&lp, "/projects/%s/remote_mirrors", a->project);
	json_t *list = NULL, *mirror = NULL;
	int rc = api_call(&list, NULL, a, "GET", pw__buf_cstr(&lp), NULL, NULL, 0, 1, err);
	long long id = pw__gitlab_find_mirror(list, bare);
	json_decref(list);
	json_t *body = json_object();
	json_object_set_new(body, "enabled", json_boolean(pw__gitlab_cfg_bool(step, "enabled", 1)));
	json_object_set_new(body, "only_protected_branches",
	                    json_boolean(pw__gitlab_cfg_bool(step, "only_protected_branches", 0)));
	json_object_set_new(body, "keep_divergent_refs",
	                    json_boolean(pw__gitlab_cfg_bool(step, "keep_divergent_refs", 0)));
	const char *did = NULL;
	if (rc == 0 && id < 0) {
		json_object_set_new(body, "url", json_string(authed));
		if (tok)
			json_object_set_new(body, "auth_method", json_string("password"));
		char *text = pw__json_dump(body);
		rc = api_call(&mirror, NULL, a, "POST", pw__buf_cstr(&lp), text, NULL, 0, 1, err);
		pw_free(text);
		pw__json_get_int(&id, mirror, "id");
		did = "create-remote-mirror";
	} else if (rc == 0) {
		char *text = pw__json_dump(body);
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_printf(&p, "%s/%lld", pw__buf_cstr(&lp), id);
		rc = api_call(&mirror, NULL, a, "PUT", pw__buf_cstr(&p), text, NULL, 0, 1, err);
		pw__buf_dispose(&p);
		pw_free(text);
		did = "update-remote-mirror";
	}
	json_decref(body);
	if (did)
		pw_exec_audit(ex, did, pw__buf_cstr(&target), rc == 0 ? "ok" : "failed",
		              rc < 0 && err && *err ? pw_error_message(*err) : NULL);
	char ids[32];
	snprintf(ids, sizeof(ids), "%lld", id);
	char *started = pw_strdup(pw__json_get_string(mirror, "last_update_started_at"));
	json_decref(mirror);
	mirror = NULL;
	if (rc == 0)
		say(ex, PW_STREAM_STDOUT, "push mirror %s %s: %s", ids,
		    strcmp(did, "create-remote-mirror") == 0 ? "created" : "updated", bare);
	int synced = 0;
	if (rc == 0 && pw__gitlab_cfg_bool(step, "sync", 1)) {
		pw_buf sp = PW_BUF_INIT(0);
		pw__buf_printf(&sp, "%s/%s/sync", pw__buf_cstr(&lp), ids);
		rc = api_call(NULL, NULL, a, "POST", pw__buf_cstr(&sp), NULL, NULL, 0, 1, err);
		pw__buf_dispose(&sp);
		pw_exec_audit(ex, "sync-remote-mirror", pw__buf_cstr(&target), rc == 0 ? "ok" : "failed",
		              rc < 0 && err && *err ? pw_error_message(*err) : NULL);
		synced = rc == 0;
	}
	/* the state: after a sync, wait (when asked) until GitLab reports this attempt's end */
	char *status = NULL, *last_error = NULL, *last_ok = NULL;
	if (rc == 0) {
		pw_buf gp = PW_BUF_INIT(0);
		pw__buf_printf(&gp, "%s/%s", pw__buf_cstr(&lp), ids);
		int wait = synced && pw__gitlab_cfg_bool(step, "wait", 1);
		int seen_running = 0;
		int64_t interval = (int64_t)poll_ms(step);
		for (;;) {
			rc = api_call(&mirror, NULL, a, "GET", pw__buf_cstr(&gp), NULL, NULL, 0, 1, err);
			if (rc < 0)
				break;
			const char *s = pw__json_get_string(mirror, "update_status");
			const char *st = pw__json_get_string(mirror, "last_update_started_at");
			if (s && (!status || strcmp(s, status) != 0))
				say(ex, PW_STREAM_STDOUT, "push mirror %s: %s", ids, s);
			pw_free(status);
			status = pw_strdup(s);
			pw_free(last_error);
			last_error = pw_strdup(pw__json_get_string(mirror, "last_error"));
			pw_free(last_ok);
			last_ok = pw_strdup(pw__json_get_string(mirror, "last_successful_update_at"));
			int new_attempt = st && (!started || strcmp(st, started) != 0);
			int final = pw__gitlab_mirror_final(s);
			seen_running |= !final;
			json_decref(mirror);
			mirror = NULL;
			if (!wait || (final && (seen_running || new_attempt)))
				break;
			rc = pw_exec_sleep(ex, interval);
			if (rc < 0) {
				rc = pw_error_set(err, rc,
				                  "stopped waiting for push mirror %s to finish (status %s)",
				                  ids, status ? status : "unknown");
				if (err && *err)
					pw_error_set_hint(*err,
					                  "raise the step's timeout, or set wait: false");
				break;
			}
		}
		pw__buf_dispose(&gp);
	}
	if (rc == 0) {
		int bad = (status && strcmp(status, "failed") == 0) || (last_error && *last_error);
		pw_result *r = pw_result_new(bad ? 1 : 0, NULL, NULL);
		out_both(r, ex, "mirror_id", ids);
		out_both(r, ex, "update_status", status);
		out_both(r, ex, "last_error", last_error ? last_error : "");
		out_both(r, ex, "last_successful_update_at", last_ok);
		if (bad)
			say(ex, PW_STREAM_STDERR, "pipewright: push mirror %s to %s failed: %s", ids, bare,
			    last_error ? last_error : status);
		*out = r;
	}
	pw_free(status);
	pw_free(last_error);
	pw_free(last_ok);
	pw_free(started);
	pw__buf_dispose(&lp);
	pw__buf_dispose(&target);
	pw_free(bare);
	pw_free(authed);
	return rc;
}

static int gl_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_exec *ex, pw_error **err)
{
	gl_impl *im = pw_connector_impl(c);
	const char *action = cfg_str(step, "action");
	if (!action || !keys_of(action))
		return pw_error_set(err, PW_ECONFIG, "unknown gitlab action '%s'", action ? action : "");
	if (strcmp(action, "mirror") == 0)
		return pw__gitlab_mirror_run(out, step, ws, env, ex, err);
	gl_api a;
	int need_token = strcmp(action, "trigger-pipeline") != 0;
	int rc = api_init(&a, im, step, ws, env, ex, need_token, err);
	if (rc == 0) {
		if (strcmp(action, "create-release") == 0)
			rc = do_release(out, &a, step, ex, err);
		else if (strcmp(action, "trigger-pipeline") == 0)
			rc = do_trigger(out, &a, step, env, ex, err);
		else
			rc = do_remote_mirror(out, &a, step, env, ex, err);
	}
	api_dispose(&a);
	return rc;
}

/* ---- plan ---- */

static void plan_request(pw_buf *b, const char *base, const char *method, const char *path,
                         const char *auth_line, const char *body)
{
	pw__buf_printf(b, "%s %s%s\n", method, base, path);
	if (auth_line)
		pw__buf_printf(b, "  %s\n", auth_line);
	if (body)
		pw__buf_printf(b, "  body: %s\n", body);
}

static int gl_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                   const pw_map *env, pw_error **err)
{
	const char *action = cfg_str(step, "action");
	pw_buf b = PW_BUF_INIT(0);
	if (action && strcmp(action, "mirror") == 0) {
		pw__gitlab_mirror_plan(&b, step, ws, env);
		*out = pw__buf_detach(&b);
		return 0;
	}
	char *base = base_of(step);
	char *project = project_of(step);
	const char *tname;
	int job;
	token_choice(&tname, &job, step, env);
	pw_buf auth = PW_BUF_INIT(0);
	if (tname)
		pw__buf_printf(&auth, "%s: *** (secret %s)", job ? "JOB-TOKEN" : "PRIVATE-TOKEN", tname);
	else
		pw__buf_puts(&auth, "(no API token: GITLAB_TOKEN or CI_JOB_TOKEN is not set)");
	const char *al = pw__buf_cstr(&auth);
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&b, "# gitlab %s (API v4 at %s)\n", action ? action : "?", base);
	if (action && strcmp(action, "create-release") == 0) {
		json_t *body = release_body(step, 0);
		char *text = pw__json_dump(body);
		json_decref(body);
		pw__buf_printf(&p, "/projects/%s/releases", project);
		plan_request(&b, base, "POST", pw__buf_cstr(&p), al, text);
		pw_free(text);
		pw__buf_printf(&b, "  on 409 (the release exists): %s\n",
		               cfg_str(step, "on_exists") ? cfg_str(step, "on_exists") : "fail");
	} else if (action && strcmp(action, "trigger-pipeline") == 0) {
		char *form = trigger_form(step, "***");
		pw__buf_printf(&p, "/projects/%s/trigger/pipeline", project);
		plan_request(&b, base, "POST", pw__buf_cstr(&p), NULL, form);
		pw_free(form);
		pw__buf_printf(&b, "  token: secret %s\n",
		               cfg_str(step, "trigger_token_secret") ? cfg_str(step, "trigger_token_secret")
		                                                     : "?");
		if (pw__gitlab_cfg_bool(step, "wait", 0)) {
			pw__buf_clear(&p);
			pw__buf_printf(&p, "/projects/%s/pipelines/:pipeline_id", project);
			plan_request(&b, base, "GET", pw__buf_cstr(&p), al, NULL);
			pw__buf_printf(
			    &b,
			    "  every %g s until the pipeline ends; on failure GET .../jobs?scope[]=failed\n",
			    poll_ms(step) / 1000.0);
		}
	} else if (action && strcmp(action, "remote-mirror") == 0) {
		const char *url = cfg_str(step, "mirror_url");
		const char *mt = cfg_str(step, "mirror_token_secret");
		pw_buf shown = PW_BUF_INIT(0);
		const char *rest = url ? strstr(url, "://") : NULL;
		if (rest && mt)
			pw__buf_printf(&shown, "%.*s***:***@%s", (int)(rest + 3 - url), url, rest + 3);
		else
			pw__buf_puts(&shown, url ? url : "?");
		json_t *body = json_object();
		json_object_set_new(body, "enabled", json_boolean(pw__gitlab_cfg_bool(step, "enabled", 1)));
		json_object_set_new(body, "only_protected_branches",
		                    json_boolean(pw__gitlab_cfg_bool(step, "only_protected_branches", 0)));
		json_object_set_new(body, "keep_divergent_refs",
		                    json_boolean(pw__gitlab_cfg_bool(step, "keep_divergent_refs", 0)));
		json_object_set_new(body, "url", json_string(pw__buf_cstr(&shown)));
		if (mt)
			json_object_set_new(body, "auth_method", json_string("password"));
		char *text = pw__json_dump(body);
		json_decref(body);
		pw__buf_printf(&p, "/projects/%s/remote_mirrors", project);
		plan_request(&b, base, "GET", pw__buf_cstr(&p), al, NULL);
		pw__buf_printf(&b, "POST %s%s (PUT .../:mirror_id without url when a mirror to %s exists)\n",
		               base, pw__buf_cstr(&p), url ? url : "?");
		pw__buf_printf(&b, "  %s\n  body: %s\n", al, text);
		if (mt)
			pw__buf_printf(&b, "  mirror credentials: user %s, secret %s\n",
			               cfg_str(step, "mirror_username") ? cfg_str(step, "mirror_username")
			                                                : "oauth2",
			               mt);
		if (pw__gitlab_cfg_bool(step, "sync", 1))
			pw__buf_printf(&b, "POST %s%s/:mirror_id/sync\n  %s\n", base, pw__buf_cstr(&p), al);
		pw_free(text);
		pw__buf_dispose(&shown);
	}
	pw__buf_dispose(&p);
	pw__buf_dispose(&auth);
	pw_free(base);
	pw_free(project);
	*out = pw__buf_detach(&b);
	return 0;
}

static void gl_destroy(pw_connector *c)
{
	pw_free(pw_connector_impl(c));
}

static const pw_connector_ops gitlab_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = gl_validate,
    .execute_step = gl_execute,
    .plan = gl_plan,
    .destroy = gl_destroy,
};

int pw__gitlab_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	gl_impl *im = pw_calloc(1, sizeof(*im));
	if (!im)
		return PW_ENOMEM;
	im->mgr = m;
	int rc = pw_connector_new(out, &gitlab_ops, "gitlab", PW_TYPE_GITLAB, im, err);
	if (rc < 0)
		pw_free(im);
	return rc;
}
