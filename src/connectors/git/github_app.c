/* GitHub App authentication: the app's private key signs an RS256 JWT (valid 10 minutes), which
 * finds the installation (when not given) and exchanges it for an installation token; tokens
 * are cached per API, app and installation until a minute before they expire. */
#define _GNU_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jwt.h"
#include "connectors/git/github.h"
#include "net/json.h"

#define JWT_LIFETIME_S 540 /* GitHub allows 10 minutes; leave room for clock drift */
#define JWT_BACKDATE_S 60
#define REFRESH_MARGIN_S 60

struct pw_gh_token_cache {
	pthread_mutex_t lock;
	struct entry {
		char *key;
		char *token;
		time_t expires;
		struct entry *next;
	} * head;
};

int pw__gh_token_cache_new(pw_gh_token_cache **out)
{
	*out = pw_calloc(1, sizeof(**out));
	if (!*out)
		return PW_ENOMEM;
	pthread_mutex_init(&(*out)->lock, NULL);
	return 0;
}

void pw__gh_token_cache_free(pw_gh_token_cache *c)
{
	if (!c)
		return;
	struct entry *e = c->head;
	while (e) {
		struct entry *n = e->next;
		pw_free(e->key);
		if (e->token) {
			memset(e->token, 0, strlen(e->token));
			pw_free(e->token);
		}
		pw_free(e);
		e = n;
	}
	pthread_mutex_destroy(&c->lock);
	pw_free(c);
}

static char *cache_get(pw_gh_token_cache *c, const char *key, time_t now)
{
	char *t = NULL;
	pthread_mutex_lock(&c->lock);
	for (struct entry *e = c->head; e; e = e->next)
		if (strcmp(e->key, key) == 0 && e->expires - REFRESH_MARGIN_S > now)
			t = pw_strdup(e->token);
	pthread_mutex_unlock(&c->lock);
	return t;
}

static void cache_put(pw_gh_token_cache *c, const char *key, const char *token, time_t expires)
{
	pthread_mutex_lock(&c->lock);
	struct entry *e = c->head;
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (!e) {
		e = pw_calloc(1, sizeof(*e));
		if (e) {
			e->key = pw_strdup(key);
			e->next = c->head;
			c->head = e;
		}
	}
	if (e) {
		if (e->token) {
			memset(e->token, 0, strlen(e->token));
			pw_free(e->token);
		}
		e->token = pw_strdup(token);
		e->expires = expires;
	}
	pthread_mutex_unlock(&c->lock);
}

static time_t parse_time(const char *s)
{
	struct tm tmv;
	memset(&tmv, 0, sizeof(tmv));
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tmv.tm_year, &tmv.tm_mon, &tmv.tm_mday, &tmv.tm_hour,
	                 &tmv.tm_min, &tmv.tm_sec) != 6)
		return 0;
	tmv.tm_year -= 1900;
	tmv.tm_mon -= 1;
	return timegm(&tmv);
}

static void set_auth(pw_gh *g, const char *bearer)
{
	if (g->auth) {
		memset(g->auth, 0, strlen(g->auth));
		pw_free(g->auth);
	}
	pw_buf a = PW_BUF_INIT(0);
	pw__buf_printf(&a, "Authorization: Bearer %s", bearer);
	g->auth = pw__buf_detach(&a);
}

static int config_error(pw_gh *g, const char *key, const char *hint, const char *msg, pw_error **err)
{
	pw_error *e =
	    pw_error_new(PW_ECONFIG, "step '%s': config key '%s': %s", pw_step_name(g->step), key, msg);
	pw_error_set_key(e, key);
	pw_error_set_hint(e, hint);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_ECONFIG;
}

/* The app's JWT for this moment (registered as a secret). */
static int app_jwt(char **out, pw_gh *g, const char *app_id, const char *pem, pw_error **err)
{
	time_t now = time(NULL);
	json_t *claims = json_object();
	json_object_set_new(claims, "iat", json_integer((json_int_t)(now - JWT_BACKDATE_S)));
	json_object_set_new(claims, "exp", json_integer((json_int_t)(now + JWT_LIFETIME_S)));
	json_object_set_new(claims, "iss", json_string(app_id));
	int rc = pw__jwt_sign_rs256(out, NULL, claims, pem, strlen(pem), err);
	json_decref(claims);
	if (rc < 0)
		return rc;
	if (g->ex)
		rc = pw_exec_add_secret(g->ex, *out, "GitHub App JWT", err);
	return rc;
}

int pw__gh_app_auth(pw_gh *g, pw_gh_token_cache *cache, const pw_map *env, pw_error **err)
{
	const char *app_id = pw__gh_str(g, "app_id");
	const char *inst = pw__gh_str(g, "installation_id");
	const char *key_var = pw__gh_str(g, "private_key_secret");
	if (!key_var)
		key_var = "GITHUB_APP_PRIVATE_KEY";
	const char *pem = pw_map_get(env, key_var);
	if (!pem || !*pem) {
		pw_buf m = PW_BUF_INIT(0);
		pw__buf_printf(
		    &m, "the GitHub App's private key is not set: %s is empty or not in the environment",
		    key_var);
		int rc =
		    config_error(g, "private_key_secret",
		                 "list the variable holding the app's PEM private key under the pipeline's "
		                 "`secrets:`; `private_key_secret:` names another variable",
		                 pw__buf_cstr(&m), err);
		pw__buf_dispose(&m);
		return rc;
	}
	if (g->ex) {
		int rc = pw_exec_add_secret(g->ex, pem, key_var, err);
		if (rc < 0)
			return rc;
	}
	pw_buf key = PW_BUF_INIT(0);
	pw__buf_printf(&key, "%s\n%s\n%s\n%s", g->api, app_id, inst ? inst : "", inst ? "" : g->repository);
	time_t now = time(NULL);
	char *tok = cache ? cache_get(cache, pw__buf_cstr(&key), now) : NULL;
	if (tok) {
		set_auth(g, tok);
		memset(tok, 0, strlen(tok));
		pw_free(tok);
		pw__buf_dispose(&key);
		pw__gh_meta(g, "auth", "github-app (cached installation token)");
		return 0;
	}
	char *jwt = NULL;
	int rc = app_jwt(&jwt, g, app_id, pem, err);
	if (rc < 0) {
		pw__buf_dispose(&key);
		return rc;
	}
	set_auth(g, jwt);
	g->app_jwt = 1;
	memset(jwt, 0, strlen(jwt));
	pw_free(jwt);
	long long inst_id = 0;
	if (inst) {
		inst_id = strtoll(inst, NULL, 10);
	} else {
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_printf(&p, "%s/installation", g->repo_path);
		pw_gh_resp r;
		pw_gh_req q = {
		    .method = "GET", .url = pw__buf_cstr(&p), .what = "find the GitHub App's installation"};
		rc = pw__gh_call(&r, g, &q, err);
		if (rc == 0)
			pw__json_get_int(&inst_id, r.json, "id");
		pw__gh_resp_dispose(&r);
		pw__buf_dispose(&p);
		if (rc < 0 && err && *err)
			pw_error_set_hint(
			    *err, "install the GitHub App on the repository, or give `installation_id`");
	}
	if (rc == 0 && inst_id <= 0)
		rc = pw_error_set(err, PW_EEXTERNAL, "GitHub did not name the app's installation for %s",
		                  g->repository);
	if (rc == 0) {
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_printf(&p, "/app/installations/%lld/access_tokens", inst_id);
		json_t *body = json_object();
		/* the token is scoped to the step's repository */
		const char *slash = strchr(g->repository, '/');
		json_t *repos = json_array();
		json_array_append_new(repos, json_string(slash ? slash + 1 : g->repository));
		json_object_set_new(body, "repositories", repos);
		pw_gh_resp r;
		pw_gh_req q = {.method = "POST",
		               .url = pw__buf_cstr(&p),
		               .body = body,
		               .retry_post = 1,
		               .what = "get an installation token for the GitHub App"};
		rc = pw__gh_call(&r, g, &q, err);
		json_decref(body);
		pw__buf_dispose(&p);
		const char *t = rc == 0 ? pw__json_get_string(r.json, "token") : NULL;
		if (rc == 0 && !t)
			rc = pw_error_set(err, PW_EEXTERNAL, "GitHub's answer holds no installation token");
		if (rc == 0 && g->ex)
			rc = pw_exec_add_secret(g->ex, t, "GitHub App installation token", err);
		if (rc == 0) {
			time_t exp = parse_time(pw__json_get_string(r.json, "expires_at"));
			if (exp == 0)
				exp = now + 3600;
			if (cache)
				cache_put(cache, pw__buf_cstr(&key), t, exp);
			set_auth(g, t);
			g->app_jwt = 0;
			pw__gh_meta(g, "auth", "github-app");
		}
		pw__gh_resp_dispose(&r);
	}
	pw__buf_dispose(&key);
	return rc;
}
