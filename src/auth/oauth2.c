/* OAuth 2.0 token endpoint clients and the token cache (see oauth2.h). */
#include "auth/oauth2.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "net/json.h"

void pw__oauth2_token_dispose(pw_oauth2_token *t)
{
	if (!t)
		return;
	pw_free(t->access_token);
	t->access_token = NULL;
	t->expires_at = 0;
}

static int loopback_host(const char *host, size_t n)
{
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) || (n >= 4 && strncmp(host, "127.", 4) == 0) ||
	    (n == 5 && strncmp(host, "[::1]", 5) == 0))
		return 1;
	return 0;
}

int pw__oauth2_split_url(char **origin, char **rest, const char *url, int allow_metadata_http, pw_error **err)
{
	*origin = NULL;
	*rest = NULL;
	size_t scheme = 0;
	int https = 0;
	if (url && strncasecmp(url, "https://", 8) == 0) {
		scheme = 8;
		https = 1;
	} else if (url && strncasecmp(url, "http://", 7) == 0) {
		scheme = 7;
	} else {
		return pw_error_set(err, PW_ECONFIG, "'%s' is not an http(s) URL", url ? url : "(none)");
	}
	const char *host = url + scheme;
	size_t hl = strcspn(host, "/?#");
	if (hl == 0 || memchr(host, '@', hl))
		return pw_error_set(err, PW_ECONFIG,
		                    "'%.*s' is not a usable URL: no host, or credentials in it",
		                    (int)(scheme + hl), url);
	if (!https) {
		size_t name = hl;
		const char *colon = memchr(host, ':', hl);
		if (colon && host[0] != '[')
			name = (size_t)(colon - host);
		else if (host[0] == '[') {
			const char *close = memchr(host, ']', hl);
			name = close ? (size_t)(close - host) + 1 : hl;
		}
		int ok = loopback_host(host, name) ||
		         (allow_metadata_http &&
		          ((name == 15 && strncmp(host, "169.254.169.254", 15) == 0) ||
		           (name == 24 && strncmp(host, "metadata.google.internal", 24) == 0)));
		if (!ok) {
			pw_error *e =
			    pw_error_new(PW_ECONFIG, "refusing to send credentials over plain http to '%.*s'",
			                 (int)hl, host);
			pw_error_set_hint(
			    e, "use an https:// URL; plain http is accepted only for localhost (test "
			       "servers and emulators) and the cloud metadata address");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return PW_ECONFIG;
		}
	}
	*origin = pw_malloc(scheme + hl + 1);
	*rest = pw_strdup(host[hl] ? host + hl : "/");
	if (!*origin || !*rest) {
		pw_free(*origin);
		pw_free(*rest);
		*origin = *rest = NULL;
		return pw_error_set(err, PW_ENOMEM, "out of memory");
	}
	memcpy(*origin, url, scheme + hl);
	(*origin)[scheme + hl] = '\0';
	return 0;
}

static void secret(const pw_oauth2_call *call, const char *value, const char *label)
{
	if (call->ex && value && *value)
		pw_exec_add_secret(call->ex, value, label, NULL);
}

static int64_t parse_rfc3339(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int y, mo, d, h, mi, se;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm);
}

/* A number that may come as a JSON integer or as a string of digits (IMDS). */
static int64_t json_num(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v)) {
		char *end = NULL;
		long long n = strtoll(json_string_value(v), &end, 10);
		return end && *end == '\0' ? (int64_t)n : 0;
	}
	return 0;
}

/* Turns a token service's error answer into a PW_EPERM/PW_EEXTERNAL error. */
static int token_error(const char *what, const pw_http_response *r, pw_error **err)
{
	json_t *doc = NULL;
	pw__json_load(&doc, r->body, r->body_len, 0, "token error", NULL);
	const char *code = pw__json_get_string(doc, "error");
	const char *desc = pw__json_get_string(doc, "error_description");
	if (!code)
		code = pw__json_get_string(doc, "error.status");
	if (!desc)
		desc = pw__json_get_string(doc, "error.message");
	int rc = (r->status == 400 || r->status == 401 || r->status == 403) ? PW_EPERM : PW_EEXTERNAL;
	pw_error *e =
	    pw_error_new(rc, "cannot get an access token from %s: HTTP %ld%s%s%s%s", what, r->status,
	                 code ? " " : "", code ? code : "", desc ? ": " : "", desc ? desc : "");
	char resp[256];
	snprintf(resp, sizeof resp, "HTTP %ld %.200s", r->status, r->body ? r->body : "");
	pw_error_set_response(e, resp);
	pw_error_set_operation(e, "get an access token");
	if (rc == PW_EPERM)
		pw_error_set_hint(e,
		                  "check the credential's client id, tenant/audience and secret or key, and "
		                  "that it is not expired or revoked");
	json_decref(doc);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return rc;
}

static void apply_exec(pw_http_request *req, const pw_oauth2_call *call)
{
	if (call->ex) {
		req->cancel_fd = pw_exec_cancel_fd(call->ex);
		int64_t left = pw_exec_remaining_ms(call->ex);
		if (left == 0)
			left = 1;
		req->total_timeout_ms = left > 0 ? (long)left : 0;
	} else {
		req->total_timeout_ms = 60000;
	}
}

/* Sends one request to an absolute url and parses a JSON answer. */
static int token_request(json_t **doc, const pw_oauth2_call *call, const char *method, const char *url,
                         const char *const *headers, const char *body, int allow_metadata_http,
                         pw_error **err)
{
	*doc = NULL;
	char *origin = NULL, *rest = NULL;
	int rc = pw__oauth2_split_url(&origin, &rest, url, allow_metadata_http, err);
	if (rc < 0)
		return rc;
	pw_http_endpoint ep = {.base_url = origin};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = method;
	req.path_and_query = rest;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	/* a token request is safe to repeat: it creates nothing */
	req.retry_non_idempotent = 1;
	apply_exec(&req, call);
	pw_http_response r;
	memset(&r, 0, sizeof r);
	char what[512];
	snprintf(what, sizeof what, "%s%s", origin, rest);
	char *q = strchr(what, '?');
	if (q)
		*q = '\0';
	pw__http_trace(&req, call->ex);
	rc = pw__http_do(&r, call->pool, &ep, &req, err);
	if (rc == 0 && (r.status < 200 || r.status >= 300))
		rc = token_error(what, &r, err);
	if (rc == 0) {
		char desc[600];
		snprintf(desc, sizeof desc, "the answer of the token endpoint %s", what);
		rc = pw__json_load(doc, r.body, r.body_len, 0, desc, err);
	}
	pw__http_response_dispose(&r);
	pw_free(origin);
	pw_free(rest);
	return rc;
}

static int parse_token(pw_oauth2_token *out, const pw_oauth2_call *call, json_t *doc, const char *url,
                       pw_error **err)
{
	const char *tok = pw__json_get_string(doc, "access_token");
	if (!tok)
		tok = pw__json_get_string(doc, "accessToken");
	if (!tok || !*tok) {
		json_decref(doc);
		return pw_error_set(err, PW_EEXTERNAL,
		                    "the token endpoint %s answered without an access token", url);
	}
	secret(call, tok, "access token");
	out->access_token = pw_strdup(tok);
	int64_t now = (int64_t)time(NULL);
	int64_t in = json_num(json_object_get(doc, "expires_in"));
	int64_t on = json_num(json_object_get(doc, "expires_on"));
	const char *et = pw__json_get_string(doc, "expireTime");
	if (in > 0)
		out->expires_at = now + in;
	else if (on > 0)
		out->expires_at = on;
	else if (et)
		out->expires_at = parse_rfc3339(et);
	else
		out->expires_at = now + 3600;
	json_decref(doc);
	return out->access_token ? 0 : pw_error_set(err, PW_ENOMEM, "out of memory");
}

static int form_add(pw_buf *b, const char *name, const char *value)
{
	char *v = pw__http_escape(value ? value : "");
	if (!v)
		return PW_ENOMEM;
	int rc = pw__buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, v);
	pw_free(v);
	return rc;
}

static int post_form(pw_oauth2_token *out, const pw_oauth2_call *call, const char *url, pw_buf *form,
                     pw_error **err)
{
	memset(out, 0, sizeof *out);
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
	                                      "Accept: application/json", NULL};
	json_t *doc = NULL;
	int rc = token_request(&doc, call, "POST", url, headers, pw__buf_cstr(form), 0, err);
	/* the form holds the secret or assertion: wipe it */
	if (form->data)
		memset(form->data, 0, form->len);
	pw__buf_dispose(form);
	return rc < 0 ? rc : parse_token(out, call, doc, url, err);
}

int pw__oauth2_client_secret(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                             const char *client_id, const char *client_secret, const char *scope,
                             pw_error **err)
{
	secret(call, client_secret, "client secret");
	pw_buf f = PW_BUF_INIT(0);
	form_add(&f, "grant_type", "client_credentials");
	form_add(&f, "client_id", client_id);
	form_add(&f, "client_secret", client_secret);
	form_add(&f, "scope", scope);
	return post_form(out, call, token_url, &f, err);
}

int pw__oauth2_client_assertion(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                                const char *client_id, const char *assertion, const char *scope,
                                pw_error **err)
{
	secret(call, assertion, "client assertion");
	pw_buf f = PW_BUF_INIT(0);
	form_add(&f, "grant_type", "client_credentials");
	form_add(&f, "client_id", client_id);
	form_add(&f, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
	form_add(&f, "client_assertion", assertion);
	form_add(&f, "scope", scope);
	return post_form(out, call, token_url, &f, err);
}

int pw__oauth2_jwt_bearer(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                          const char *assertion, pw_error **err)
{
	secret(call, assertion, "signed JWT");
	pw_buf f = PW_BUF_INIT(0);
	form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
	form_add(&f, "assertion", assertion);
	return post_form(out, call, token_url, &f, err);
}

int pw__oauth2_sts_exchange(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                            const char *subject_token, const char *subject_token_type, const char *audience,
                            const char *scope, pw_error **err)
{
	secret(call, subject_token, "subject token");
	pw_buf f = PW_BUF_INIT(0);
	form_add(&f, "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
	form_add(&f, "audience", audience);
	form_add(&f, "scope", scope);
	form_add(&f, "requested_token_type", "urn:ietf:params:oauth:token-type:access_token");
	form_add(&f, "subject_token", subject_token);
	form_add(&f, "subject_token_type", subject_token_type);
	return post_form(out, call, token_url, &f, err);
}

int pw__oauth2_metadata_token(pw_oauth2_token *out, const pw_oauth2_call *call, const char *url,
                              const char *header, pw_error **err)
{
	memset(out, 0, sizeof *out);
	const char *headers[] = {header, "Accept: application/json", NULL};
	json_t *doc = NULL;
	int rc = token_request(&doc, call, "GET", url, headers, NULL, 1, err);
	return rc < 0 ? rc : parse_token(out, call, doc, url, err);
}

int pw__oauth2_impersonate(pw_oauth2_token *out, const pw_oauth2_call *call, const char *url,
                           const char *source_token, const char *scope, pw_error **err)
{
	memset(out, 0, sizeof *out);
	pw_buf auth = PW_BUF_INIT(0);
	pw__buf_printf(&auth, "Authorization: Bearer %s", source_token);
	const char *headers[] = {pw__buf_cstr(&auth), "Content-Type: application/json",
	                         "Accept: application/json", NULL};
	json_t *body = json_pack("{s:[s], s:s}", "scope", scope, "lifetime", "3600s");
	char *text = pw__json_dump(body);
	json_decref(body);
	json_t *doc = NULL;
	int rc = text ? token_request(&doc, call, "POST", url, headers, text, 0, err)
	              : pw_error_set(err, PW_ENOMEM, "out of memory");
	pw_free(text);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	pw__buf_dispose(&auth);
	return rc < 0 ? rc : parse_token(out, call, doc, url, err);
}

typedef struct cache_entry {
	char *key;
	pw_oauth2_token tok;
} cache_entry;

struct pw_oauth2_cache {
	pthread_mutex_t lock;
	cache_entry *e;
	size_t n;
	unsigned fetches;
};

pw_oauth2_cache *pw__oauth2_cache_new(void)
{
	pw_oauth2_cache *c = pw_calloc(1, sizeof *c);
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

void pw__oauth2_cache_free(pw_oauth2_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		pw_free(c->e[i].key);
		pw__oauth2_token_dispose(&c->e[i].tok);
	}
	pw_free(c->e);
	pthread_mutex_destroy(&c->lock);
	pw_free(c);
}

unsigned pw__oauth2_cache_fetches(pw_oauth2_cache *c)
{
	pthread_mutex_lock(&c->lock);
	unsigned n = c->fetches;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int pw__oauth2_cache_get(char **out, pw_oauth2_cache *c, const char *key, int force_refresh, pw_exec *ex,
                         pw_oauth2_fetch_fn fetch, void *payload, pw_error **err)
{
	*out = NULL;
	int64_t now = (int64_t)time(NULL);
	pthread_mutex_lock(&c->lock);
	cache_entry *hit = NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			hit = &c->e[i];
	if (hit && !force_refresh && hit->tok.access_token &&
	    hit->tok.expires_at - PW_OAUTH2_EXPIRY_MARGIN_S > now) {
		*out = pw_strdup(hit->tok.access_token);
		pthread_mutex_unlock(&c->lock);
		if (ex && *out)
			pw_exec_add_secret(ex, *out, "access token", NULL);
		return *out ? 0 : pw_error_set(err, PW_ENOMEM, "out of memory");
	}
	c->fetches++;
	pthread_mutex_unlock(&c->lock);

	pw_oauth2_token t;
	memset(&t, 0, sizeof t);
	int rc = fetch(&t, payload, err);
	if (rc < 0)
		return rc;
	if (ex)
		pw_exec_add_secret(ex, t.access_token, "access token", NULL);
	*out = pw_strdup(t.access_token);
	pthread_mutex_lock(&c->lock);
	hit = NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].key, key) == 0)
			hit = &c->e[i];
	if (!hit) {
		cache_entry *n = pw_realloc(c->e, (c->n + 1) * sizeof *n);
		char *k = pw_strdup(key);
		if (n && k) {
			c->e = n;
			hit = &c->e[c->n++];
			hit->key = k;
			memset(&hit->tok, 0, sizeof hit->tok);
		} else {
			if (n)
				c->e = n;
			pw_free(k);
		}
	}
	if (hit) {
		pw__oauth2_token_dispose(&hit->tok);
		hit->tok = t;
	} else {
		pw__oauth2_token_dispose(&t);
	}
	pthread_mutex_unlock(&c->lock);
	return *out ? 0 : pw_error_set(err, PW_ENOMEM, "out of memory");
}
