/* The GitHub connector: releases with assets, commit statuses, deployments, comments and
 * workflow dispatches through GitHub's REST API (github.com or GitHub Enterprise Server),
 * authenticated with a token from the run's secrets. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/git/github.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"
#include "net/json.h"
#include "pipewright/result.h"
#include "pipewright/sys/connector.h"

#define DEFAULT_POLL_MS 5000L

void pw__gh_plan_release(pw_gh *g);
void pw__gh_plan_simple(pw_gh *g);

typedef struct gh_impl {
	pthread_mutex_t lock;
	pw_http_pool *pool; /* the manager's, borrowed */
	pw_gh_token_cache *tokens;
} gh_impl;

static const char *const actions[] = {
    "create-release",    "upload-asset", "create-status",     "create-deployment",
    "deployment-status", "comment",      "dispatch-workflow", NULL};
static const char *const common_keys[] = {
    "action",  "repository",           "token_secret", "base_url",        "upload_url",
    "ca_file", "insecure_skip_verify", "app_id",       "installation_id", "private_key_secret",
    NULL};
static const char *const release_keys[] = {"tag",
                                           "name",
                                           "body",
                                           "body_file",
                                           "target_commitish",
                                           "draft",
                                           "prerelease",
                                           "generate_release_notes",
                                           "make_latest",
                                           "on_exists",
                                           "assets",
                                           "overwrite",
                                           NULL};
static const char *const upload_keys[] = {"tag", "assets", "overwrite", NULL};
static const char *const status_keys[] = {"sha", "state", "target_url", "description", "context", NULL};
static const char *const deploy_keys[] = {"ref",
                                          "task",
                                          "auto_merge",
                                          "required_contexts",
                                          "payload",
                                          "environment",
                                          "description",
                                          "transient_environment",
                                          "production_environment",
                                          NULL};
static const char *const dstatus_keys[] = {"deployment_id",   "state",         "target_url",
                                           "log_url",         "description",   "environment",
                                           "environment_url", "auto_inactive", NULL};
static const char *const comment_keys[] = {"issue", "body", "body_file", NULL};
static const char *const dispatch_keys[] = {"workflow", "ref", "inputs", "wait", "poll_interval", NULL};

static const char *const *keys_of(const char *action)
{
	if (!action)
		return NULL;
	if (!strcmp(action, "create-release"))
		return release_keys;
	if (!strcmp(action, "upload-asset"))
		return upload_keys;
	if (!strcmp(action, "create-status"))
		return status_keys;
	if (!strcmp(action, "create-deployment"))
		return deploy_keys;
	if (!strcmp(action, "deployment-status"))
		return dstatus_keys;
	if (!strcmp(action, "comment"))
		return comment_keys;
	if (!strcmp(action, "dispatch-workflow"))
		return dispatch_keys;
	return NULL;
}

typedef struct vctx {
	pw_error **err;
	int rc;
	const char *step;
} vctx;

static void fail(vctx *v, const char *key, const char *hint, const char *fmt, ...) PW_PRINTF(4, 5);
static void fail(vctx *v, const char *key, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw_error *e =
	    pw_error_new(PW_ECONFIG, "step '%s': config key '%s': %s", v->step, key, pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	v->rc = PW_ECONFIG;
	if (!v->err)
		pw_error_free(e);
	else if (!*v->err)
		*v->err = e;
	else
		pw_error_append(*v->err, e);
}

/* "${NAME}": a value taken from the step's environment when the step runs. */
static int is_env_ref(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}')
		return 0;
	for (size_t i = 2; i + 1 < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return !isdigit((unsigned char)s[2]);
}

static int is_repo(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return 0;
	for (const char *p = s; *p; p++)
		if (p != slash && !isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return strcmp(slash + 1, ".") && strcmp(slash + 1, "..");
}

static const char *str_of(const json_t *cfg, const char *k)
{
	return json_string_value(json_object_get(cfg, k));
}

static void need_string(vctx *v, const json_t *cfg, const char *key, const char *hint)
{
	json_t *x = json_object_get(cfg, key);
	if (!x)
		fail(v, key, hint, "is required for action '%s'", str_of(cfg, "action"));
	else if (!json_is_string(x) || !*json_string_value(x))
		fail(v, key, hint, "must be a non-empty string");
}

static void opt_type(vctx *v, const json_t *cfg, const char *key, int want_bool)
{
	json_t *x = json_object_get(cfg, key);
	if (!x)
		return;
	if (want_bool && !json_is_boolean(x))
		fail(v, key, "write true or false", "must be a boolean");
	else if (!want_bool && !json_is_string(x))
		fail(v, key, "quote it", "must be a string");
}

static void need_enum(vctx *v, const json_t *cfg, const char *key, const char *const *allowed, int required)
{
	json_t *x = json_object_get(cfg, key);
	if (!x) {
		if (required)
			fail(v, key, NULL, "is required for action '%s'", str_of(cfg, "action"));
		return;
	}
	const char *s = json_string_value(x);
	if (s && (pw__suggest_known(s, allowed) || is_env_ref(s)))
		return;
	pw_buf h = PW_BUF_INIT(0);
	pw__buf_puts(&h, "one of:");
	for (size_t i = 0; allowed[i]; i++)
		pw__buf_printf(&h, "%s %s", i ? "," : "", allowed[i]);
	fail(v, key, pw__buf_cstr(&h), "'%s' is not allowed", s ? s : "(not a string)");
	pw__buf_dispose(&h);
}

/* A positive integer, or a "${NAME}" reference. */
static void need_number(vctx *v, const json_t *cfg, const char *key)
{
	json_t *x = json_object_get(cfg, key);
	if (!x) {
		fail(v, key, NULL, "is required for action '%s'", str_of(cfg, "action"));
		return;
	}
	if (json_is_integer(x) && json_integer_value(x) > 0)
		return;
	const char *s = json_string_value(x);
	if (s && is_env_ref(s))
		return;
	int digits = s && *s;
	for (const char *p = s; digits && *p; p++)
		digits = isdigit((unsigned char)*p);
	if (!digits)
		fail(v, key, "e.g. 42, or \"${PIPEWRIGHT_STEP_DEPLOY_DEPLOYMENT_ID}\"",
		     "must be a positive number");
}

static void check_url(vctx *v, const json_t *cfg, const char *key)
{
	const char *s = str_of(cfg, key);
	if (!json_object_get(cfg, key))
		return;
	if (!s || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) || strchr(s, '?') ||
	    strchr(s, '@'))
		fail(v, key, "e.g. https://github.example.com/api/v3",
		     "must be an http(s) URL without credentials or query");
}

static void check_assets(vctx *v, const json_t *cfg, int required)
{
	json_t *a = json_object_get(cfg, "assets");
	if (!a) {
		if (required)
			fail(v, "assets", "a list of paths or globs in the workspace, e.g. [dist/*.tar.gz]",
			     "is required for action 'upload-asset'");
		return;
	}
	if (!json_is_array(a)) {
		fail(v, "assets", "a list of paths or globs in the workspace, e.g. [dist/*.tar.gz]",
		     "must be a list");
		return;
	}
	static const char *const akeys[] = {"path", "name", "label", "content_type", NULL};
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
	{
		char key[64];
		snprintf(key, sizeof(key), "assets.%zu", i);
		const char *path = json_is_string(x) ? json_string_value(x) : NULL;
		if (json_is_object(x)) {
			const char *k;
			json_t *val;
			json_object_foreach(x, k, val)
			{
				char kk[128];
				snprintf(kk, sizeof(kk), "%s.%s", key, k);
				if (!pw__suggest_known(k, akeys)) {
					const char *near = pw__suggest(k, akeys);
					char h[64];
					snprintf(h, sizeof(h), "did you mean '%s'?", near ? near : "path");
					fail(v, kk, h, "unknown key (rule: path, name, label, content_type)");
				} else if (!json_is_string(val) || !*json_string_value(val)) {
					fail(v, kk, NULL, "must be a non-empty string");
				}
			}
			path = str_of(x, "path");
			const char *name = str_of(x, "name");
			if (name && strchr(name, '/'))
				fail(v, key, NULL, "name '%s' must not contain '/'", name);
		}
		if (!path || !*path) {
			fail(v, key, "e.g. dist/*.tar.gz or {path: dist/app.tgz, name: app-linux.tgz}",
			     "must be a path (or a mapping with `path`)");
			continue;
		}
		if (path[0] == '/' || !strncmp(path, "../", 3) || strstr(path, "/../") || !strcmp(path, ".."))
			fail(v, key, "give a path relative to the workspace", "'%s' leaves the workspace",
			     path);
	}
}

int pw__gh_validate(const json_t *cfg, const char *step_name, pw_error **err)
{
	vctx v = {err, 0, step_name ? step_name : "?"};
	json_t *act = json_object_get(cfg, "action");
	const char *action = json_string_value(act);
	const char *const *keys = keys_of(action);
	if (!act) {
		fail(&v, "action", "e.g. action: create-release", "is required");
	} else if (!keys) {
		const char *near = action ? pw__suggest(action, actions) : NULL;
		pw_buf h = PW_BUF_INIT(0);
		if (near)
			pw__buf_printf(&h, "did you mean '%s'? ", near);
		pw__buf_puts(&h, "actions:");
		for (size_t i = 0; actions[i]; i++)
			pw__buf_printf(&h, "%s %s", i ? "," : "", actions[i]);
		fail(&v, "action", pw__buf_cstr(&h), "'%s' is not a github action",
		     action ? action : "(not a string)");
		pw__buf_dispose(&h);
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)cfg, key, val)
	{
		if (pw__suggest_known(key, common_keys) || (keys && pw__suggest_known(key, keys)))
			continue;
		if (!strcmp(key, "token") || !strcmp(key, "github_token")) {
			fail(&v, key,
			     "list the variable under `secrets:` and name it with `token_secret:` (default "
			     "GITHUB_TOKEN)",
			     "a token is never written in the pipeline file");
			continue;
		}
		const char *cands[64];
		size_t n = 0;
		for (size_t i = 0; common_keys[i] && n < 63; i++)
			cands[n++] = common_keys[i];
		for (size_t i = 0; keys && keys[i] && n < 63; i++)
			cands[n++] = keys[i];
		const char *near = pw__suggest_n(key, cands, n);
		pw_buf h = PW_BUF_INIT(0);
		if (near) {
			pw__buf_printf(&h, "did you mean '%s'?", near);
		} else {
			pw__buf_puts(&h, "known keys here:");
			for (size_t i = 0; i < n; i++)
				pw__buf_printf(&h, "%s %s", i ? "," : "", cands[i]);
		}
		fail(&v, key, pw__buf_cstr(&h),
		     "unknown key (rule: only the github connector's keys for action '%s')",
		     action ? action : "?");
		pw__buf_dispose(&h);
	}
	json_t *repo = json_object_get(cfg, "repository");
	if (!repo)
		fail(&v, "repository", "e.g. repository: user/app", "is required");
	else if (!is_repo(json_string_value(repo)) && !is_env_ref(json_string_value(repo)))
		fail(&v, "repository", "e.g. repository: user/app", "'%s' is not OWNER/NAME",
		     json_is_string(repo) ? json_string_value(repo) : "(not a string)");
	const char *ts = str_of(cfg, "token_secret");
	if (json_object_get(cfg, "token_secret") && (!ts || !*ts || is_env_ref(ts)))
		fail(&v, "token_secret", "the name of a variable listed under `secrets:`, e.g. GITHUB_TOKEN",
		     "must be a variable name");
	if (json_object_get(cfg, "app_id")) {
		const char *id = str_of(cfg, "app_id");
		int digits = id && *id;
		for (const char *p = id; digits && *p; p++)
			digits = isdigit((unsigned char)*p);
		if (!digits && !json_is_integer(json_object_get(cfg, "app_id")))
			fail(&v, "app_id", "the GitHub App's numeric id, from its settings page",
			     "must be a number");
		if (json_object_get(cfg, "token_secret"))
			fail(&v, "token_secret", "keep `app_id` (GitHub App) or `token_secret` (a token)",
			     "a token and a GitHub App are both configured");
		if (json_object_get(cfg, "installation_id"))
			need_number(&v, cfg, "installation_id");
	} else if (json_object_get(cfg, "installation_id") || json_object_get(cfg, "private_key_secret")) {
		fail(&v, json_object_get(cfg, "installation_id") ? "installation_id" : "private_key_secret",
		     "add `app_id` to authenticate as a GitHub App", "is only used with `app_id`");
	}
	const char *pks = str_of(cfg, "private_key_secret");
	if (json_object_get(cfg, "private_key_secret") && (!pks || !*pks || is_env_ref(pks)))
		fail(&v, "private_key_secret", "the name of a variable listed under `secrets:`",
		     "must be a variable name");
	check_url(&v, cfg, "base_url");
	check_url(&v, cfg, "upload_url");
	opt_type(&v, cfg, "ca_file", 0);
	opt_type(&v, cfg, "insecure_skip_verify", 1);
	if (!keys)
		return v.rc;
	static const char *const commit_states[] = {"error", "failure", "pending", "success", NULL};
	static const char *const deploy_states[] = {"error",  "failure", "inactive", "in_progress",
	                                            "queued", "pending", "success",  NULL};
	static const char *const on_exists[] = {"fail", "update", "skip", NULL};
	static const char *const latest[] = {"true", "false", "legacy", NULL};
	if (keys == release_keys || keys == upload_keys) {
		need_string(&v, cfg, "tag", "e.g. tag: v1.0.0");
		check_assets(&v, cfg, keys == upload_keys);
		opt_type(&v, cfg, "overwrite", 1);
	}
	if (keys == release_keys) {
		const char *b[] = {"name", "body", "body_file", "target_commitish"};
		for (size_t i = 0; i < 4; i++)
			opt_type(&v, cfg, b[i], 0);
		const char *bools[] = {"draft", "prerelease", "generate_release_notes"};
		for (size_t i = 0; i < 3; i++)
			opt_type(&v, cfg, bools[i], 1);
		if (json_object_get(cfg, "body") && json_object_get(cfg, "body_file"))
			fail(&v, "body_file", "keep one of them", "`body` and `body_file` are both set");
		need_enum(&v, cfg, "on_exists", on_exists, 0);
		json_t *ml = json_object_get(cfg, "make_latest");
		if (ml && !json_is_boolean(ml))
			need_enum(&v, cfg, "make_latest", latest, 0);
	} else if (keys == status_keys) {
		need_string(&v, cfg, "sha", "the full commit SHA, e.g. \"${GIT_COMMIT}\"");
		need_enum(&v, cfg, "state", commit_states, 1);
		const char *o[] = {"target_url", "description", "context"};
		for (size_t i = 0; i < 3; i++)
			opt_type(&v, cfg, o[i], 0);
	} else if (keys == deploy_keys) {
		need_string(&v, cfg, "ref", "a branch, tag or SHA");
		const char *o[] = {"task", "environment", "description"};
		for (size_t i = 0; i < 3; i++)
			opt_type(&v, cfg, o[i], 0);
		const char *bools[] = {"auto_merge", "transient_environment", "production_environment"};
		for (size_t i = 0; i < 3; i++)
			opt_type(&v, cfg, bools[i], 1);
		json_t *rc = json_object_get(cfg, "required_contexts");
		if (rc && !json_is_array(rc))
			fail(&v, "required_contexts", "e.g. [ci/build], or [] to skip the checks",
			     "must be a list");
	} else if (keys == dstatus_keys) {
		need_number(&v, cfg, "deployment_id");
		need_enum(&v, cfg, "state", deploy_states, 1);
		const char *o[] = {"target_url", "log_url", "description", "environment", "environment_url"};
		for (size_t i = 0; i < 5; i++)
			opt_type(&v, cfg, o[i], 0);
		opt_type(&v, cfg, "auto_inactive", 1);
	} else if (keys == comment_keys) {
		need_number(&v, cfg, "issue");
		int b = json_object_get(cfg, "body") != NULL, bf = json_object_get(cfg, "body_file") != NULL;
		if (!b && !bf)
			fail(&v, "body", "write `body:` or `body_file:`", "is required for action 'comment'");
		else if (b && bf)
			fail(&v, "body_file", "keep one of them", "`body` and `body_file` are both set");
		opt_type(&v, cfg, "body", 0);
		opt_type(&v, cfg, "body_file", 0);
	} else if (keys == dispatch_keys) {
		need_string(&v, cfg, "workflow", "the workflow file name or id, e.g. deploy.yml");
		need_string(&v, cfg, "ref", "the branch or tag to run the workflow on");
		json_t *in = json_object_get(cfg, "inputs");
		if (in && (!json_is_object(in) || json_object_size(in) > 25))
			fail(&v, "inputs", "a mapping of at most 25 input names to values",
			     "must be a mapping");
		const char *k;
		json_t *x;
		json_object_foreach(json_is_object(in) ? in : NULL, k, x)
		{
			if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x)) {
				char kk[128];
				snprintf(kk, sizeof(kk), "inputs.%s", k);
				fail(&v, kk, NULL, "must be a string, number or boolean");
			}
		}
		opt_type(&v, cfg, "wait", 1);
		json_t *pi = json_object_get(cfg, "poll_interval");
		double pis = 0;
		if (pi && (!pw__config_number(pi, &pis) || pis <= 0 || pis > 600))
			fail(&v, "poll_interval", "seconds, e.g. 10",
			     "must be a number of seconds in (0, 600]");
	}
	return v.rc;
}

static int gh_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	(void)c;
	return pw__gh_validate(step->config, step->name, err);
}

/* The config with every "${NAME}" value replaced from env (NULL env: left as is). */
static int resolve_config(json_t **out, const pw_step *step, const pw_map *env, pw_error **err)
{
	json_t *cfg = json_deep_copy(step->config);
	if (!cfg)
		return PW_ENOMEM;
	const char *k;
	json_t *v;
	/* ids given as numbers are used as text */
	const char *ids[] = {"app_id", "installation_id"};
	for (size_t i = 0; i < 2; i++) {
		json_t *n = json_object_get(cfg, ids[i]);
		if (json_is_integer(n)) {
			char t[32];
			snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(n));
			json_object_set_new(cfg, ids[i], json_string(t));
		}
	}
	json_object_foreach(cfg, k, v)
	{
		const char *s = json_string_value(v);
		if (!is_env_ref(s) || !env)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(s) - 3), s + 2);
		const char *val = pw_map_get(env, name);
		if (!val) {
			pw_error *e = pw_error_new(PW_ECONFIG, "step '%s': config key '%s': %s is not set",
			                           step->name, k, s);
			pw_error_set_key(e, k);
			pw_error_set_hint(
			    e, "set it in the pipeline's env, the step's env, or as an output of a step "
			       "this one needs");
			json_decref(cfg);
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return PW_ECONFIG;
		}
		json_string_set(v, val);
	}
	*out = cfg;
	return 0;
}

static char *trim_slash(const char *s)
{
	char *d = pw_strdup(s);
	size_t n = d ? strlen(d) : 0;
	while (n > 0 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

static void gh_dispose(pw_gh *g)
{
	pw_free(g->api);
	pw_free(g->uploads);
	pw_free(g->repo_path);
	pw_free(g->repository);
	if (g->auth) {
		memset(g->auth, 0, strlen(g->auth));
		pw_free(g->auth);
	}
	pw__buf_dispose(&g->summary);
	pw__buf_dispose(&g->plan);
	pw_map_free(g->meta);
	json_decref((json_t *)g->cfg);
}

/* Fills g from the step (g->cfg takes over cfg). */
static int gh_init(pw_gh *g, const pw_step *step, const pw_workspace *ws, json_t *cfg)
{
	memset(g, 0, sizeof(*g));
	g->step = step;
	g->ws = ws;
	g->cfg = cfg;
	g->action = str_of(cfg, "action");
	const char *base = str_of(cfg, "base_url");
	g->api = trim_slash(base ? base : PW_GH_DEFAULT_API);
	const char *up = str_of(cfg, "upload_url");
	g->uploads = up ? trim_slash(up) : NULL;
	g->repository = pw_strdup(str_of(cfg, "repository"));
	const char *r = g->repository ? g->repository : "";
	const char *slash = strchr(r, '/');
	pw_buf p = PW_BUF_INIT(0);
	char *owner = pw_malloc(slash ? (size_t)(slash - r) + 1 : 1);
	if (owner) {
		size_t n = slash ? (size_t)(slash - r) : 0;
		memcpy(owner, r, n);
		owner[n] = '\0';
	}
	char *eo = pw__http_escape(owner ? owner : "");
	char *en = pw__http_escape(slash ? slash + 1 : r);
	pw__buf_printf(&p, "/repos/%s/%s", eo ? eo : "", en ? en : "");
	pw_free(owner);
	pw_free(eo);
	pw_free(en);
	g->repo_path = pw__buf_detach(&p);
	g->ca_file = str_of(cfg, "ca_file");
	g->insecure = json_is_true(json_object_get(cfg, "insecure_skip_verify"));
	json_t *pi = json_object_get(cfg, "poll_interval");
	double pis = 0;
	g->poll_ms = pw__config_number(pi, &pis) ? (long)(pis * 1000.0) : DEFAULT_POLL_MS;
	if (g->poll_ms < 1)
		g->poll_ms = 1;
	g->meta = pw_map_new();
	g->summary.max = 1 << 20;
	if (!g->api || !g->repository || !g->repo_path || !g->meta || (up && !g->uploads))
		return PW_ENOMEM;
	return 0;
}

static const char *token_name(const pw_gh *g)
{
	const char *n = pw__gh_str(g, "token_secret");
	return n ? n : "GITHUB_TOKEN";
}

static int run_action(pw_gh *g, int *failed, pw_error **err)
{
	const char *a = g->action;
	*failed = 0;
	if (!strcmp(a, "create-release"))
		return pw__gh_create_release(g, err);
	if (!strcmp(a, "upload-asset"))
		return pw__gh_upload_asset(g, err);
	if (!strcmp(a, "create-status"))
		return pw__gh_create_status(g, err);
	if (!strcmp(a, "create-deployment"))
		return pw__gh_create_deployment(g, err);
	if (!strcmp(a, "deployment-status"))
		return pw__gh_deployment_status(g, err);
	if (!strcmp(a, "comment"))
		return pw__gh_comment(g, err);
	if (!strcmp(a, "dispatch-workflow"))
		return pw__gh_dispatch_workflow(g, failed, err);
	return pw_error_set(err, PW_ECONFIG, "unknown github action '%s'", a ? a : "(none)");
}

static int gh_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_exec *ex, pw_error **err)
{
	gh_impl *im = pw_connector_impl(c);
	int rc = pw__gh_validate(step->config, step->name, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&im->lock);
	if (!im->pool)
		im->pool = pw__manager_http_pool(pw_connector_manager(c));
	pthread_mutex_unlock(&im->lock);
	if (!im->pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool for the github connector");
	json_t *cfg = NULL;
	rc = resolve_config(&cfg, step, env, err);
	if (rc < 0)
		return rc;
	pw_gh g;
	rc = gh_init(&g, step, ws, cfg);
	g.pool = im->pool;
	g.ex = ex;
	if (rc == 0 && pw__gh_validate(g.cfg, step->name, err) < 0)
		rc = PW_ECONFIG; /* a "${NAME}" that held something invalid */
	const char *tn = token_name(&g);
	int app = json_object_get(g.cfg, "app_id") != NULL;
	const char *token = rc == 0 && !app ? pw_map_get(env, tn) : NULL;
	if (rc == 0 && app) {
		rc = pw__gh_app_auth(&g, im->tokens, env, err);
	} else if (rc == 0 && (!token || !*token)) {
		pw_error *e =
		    pw_error_new(PW_ECONFIG, "step '%s': no GitHub token: %s is not set", step->name, tn);
		pw_error_set_key(e, json_object_get(g.cfg, "token_secret") ? "token_secret" : "action");
		pw_error_set_hint(
		    e, "list the variable under the pipeline's `secrets:` and set it in the environment "
		       "pipewright runs in; `token_secret:` names another variable");
		rc = PW_ECONFIG;
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
	}
	if (rc == 0 && ex && !app)
		rc = pw_exec_add_secret(ex, token, tn, err);
	if (rc == 0 && !app) {
		pw_buf a = PW_BUF_INIT(0);
		pw__buf_printf(&a, "Authorization: Bearer %s", token);
		g.auth = pw__buf_detach(&a);
		g.token = token;
	}
	int failed = 0;
	if (rc == 0)
		rc = run_action(&g, &failed, err);
	if (rc == 0) {
		pw_result *r = failed ? pw_result_failure(1, "the workflow run did not succeed")
		                      : pw_result_success(pw__buf_cstr(&g.summary));
		if (r && failed)
			pw_result_set_stdout(r, pw__buf_cstr(&g.summary));
		for (size_t i = 0; r && i < pw_map_count(g.meta); i++)
			pw_result_with_metadata(r, pw_map_key_at(g.meta, i), pw_map_value_at(g.meta, i));
		pw_result_with_metadata(r, "action", g.action);
		pw_result_with_metadata(r, "repository", g.repository);
		*out = r;
		if (!r)
			rc = PW_ENOMEM;
	}
	gh_dispose(&g);
	return rc;
}

static int gh_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                   const pw_map *env, pw_error **err)
{
	(void)c;
	int rc = pw__gh_validate(step->config, step->name, err);
	if (rc < 0)
		return rc;
	json_t *cfg = json_deep_copy(step->config);
	if (!cfg)
		return PW_ENOMEM;
	/* references that can be resolved now are; the others stay as written */
	const char *k;
	json_t *v;
	json_object_foreach(cfg, k, v)
	{
		const char *s = json_string_value(v);
		if (is_env_ref(s) && env) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)(strlen(s) - 3), s + 2);
			const char *val = pw_map_get(env, name);
			if (val)
				json_string_set(v, val);
		}
	}
	pw_gh g;
	rc = gh_init(&g, step, ws, cfg);
	if (rc < 0) {
		gh_dispose(&g);
		return rc;
	}
	g.planning = 1;
	if (json_object_get(g.cfg, "app_id"))
		pw__buf_printf(
		    &g.plan,
		    "# github %s in %s at %s (as GitHub App %s: an installation token obtained with a JWT "
		    "signed by the key in %s, sent as a bearer token)\n",
		    g.action, g.repository, g.api, pw__gh_str(&g, "app_id"),
		    pw__gh_str(&g, "private_key_secret") ? pw__gh_str(&g, "private_key_secret")
		                                         : "GITHUB_APP_PRIVATE_KEY");
	else
		pw__buf_printf(&g.plan, "# github %s in %s at %s (token from %s, sent as a bearer token)\n",
		               g.action, g.repository, g.api, token_name(&g));
	if (!strcmp(g.action, "create-release") || !strcmp(g.action, "upload-asset"))
		pw__gh_plan_release(&g);
	else
		pw__gh_plan_simple(&g);
	*out = pw__buf_detach(&g.plan);
	gh_dispose(&g);
	return 0;
}

static void gh_destroy(pw_connector *c)
{
	gh_impl *im = pw_connector_impl(c);
	if (!im)
		return;
	pw__gh_token_cache_free(im->tokens);
	pthread_mutex_destroy(&im->lock);
	pw_free(im);
}

static const pw_connector_ops gh_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = gh_validate,
    .execute_step = gh_execute,
    .plan = gh_plan,
    .destroy = gh_destroy,
};

int pw__github_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	(void)m;
	gh_impl *im = pw_calloc(1, sizeof(*im));
	if (!im)
		return PW_ENOMEM;
	if (pw__gh_token_cache_new(&im->tokens) < 0) {
		pw_free(im);
		return PW_ENOMEM;
	}
	pthread_mutex_init(&im->lock, NULL);
	int rc = pw_connector_new(out, &gh_ops, "github", PW_TYPE_GITHUB, im, err);
	if (rc < 0) {
		pw__gh_token_cache_free(im->tokens);
		pthread_mutex_destroy(&im->lock);
		pw_free(im);
	}
	return rc;
}
