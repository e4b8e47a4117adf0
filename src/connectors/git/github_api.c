/* GitHub REST calls: headers, errors that say what GitHub answered and what to do, primary and
 * secondary rate limits waited out within the step deadline, Link pagination, plans. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "connectors/git/github.h"
#include "core/internal.h"
#include "core/step.h"
#include "net/json.h"
#include "pipewright/log.h"

#define MAX_RATE_WAITS 8
#define SECONDARY_DEFAULT_WAIT_MS 60000L

const char *pw__gh_str(const pw_gh *g, const char *key)
{
	return json_string_value(json_object_get(g->cfg, key));
}

int pw__gh_bool(const pw_gh *g, const char *key, int fallback)
{
	json_t *v = json_object_get(g->cfg, key);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

void pw__gh_say(pw_gh *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t start = g->summary.len;
	pw__buf_vprintf(&g->summary, fmt, ap);
	va_end(ap);
	pw__buf_putc(&g->summary, '\n');
	if (g->ex)
		pw_exec_output(g->ex, PW_STREAM_STDOUT, g->summary.data + start, g->summary.len - start);
}

void pw__gh_meta(pw_gh *g, const char *key, const char *value)
{
	if (!value)
		return;
	pw_map_set(g->meta, key, value);
	if (g->ex)
		pw_exec_set_output(g->ex, key, value);
}

void pw__gh_meta_int(pw_gh *g, const char *key, long long value)
{
	char v[32];
	snprintf(v, sizeof(v), "%lld", value);
	pw__gh_meta(g, key, v);
}

void pw__gh_audit(pw_gh *g, const char *verb, const char *target, const char *outcome, const char *detail)
{
	if (!g->ex)
		return;
	char action[64];
	snprintf(action, sizeof(action), "github.%s", verb);
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "%s %s", g->repository, target ? target : "");
	pw_exec_audit(g->ex, action, pw__buf_cstr(&t), outcome, detail);
	pw__buf_dispose(&t);
}

char *pw__gh_url(const pw_gh *g, const char *path)
{
	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0)
		return pw_strdup(path);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "%s%s", g->api, path);
	return pw__buf_detach(&b);
}

void pw__gh_plan_request(pw_gh *g, const char *method, const char *url, const json_t *body, const char *note)
{
	char *u = pw__gh_url(g, url);
	pw__buf_printf(&g->plan, "%s %s\n", method, u);
	pw_free(u);
	pw__buf_puts(&g->plan, "  Authorization: Bearer ***\n");
	if (body) {
		char *j = pw__json_dump(body);
		pw__buf_printf(&g->plan, "  %s\n", j ? j : "");
		pw_free(j);
	}
	if (note)
		pw__buf_printf(&g->plan, "  # %s\n", note);
}

int pw__gh_read_file(char **out, const pw_gh *g, const char *key, const char *rel, size_t max, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	if (rel[0] == '/' || !g->ws)
		pw__buf_puts(&p, rel);
	else
		pw__buf_printf(&p, "%s/%s", pw_workspace_root(g->ws), rel);
	FILE *f = fopen(pw__buf_cstr(&p), "rb");
	if (!f) {
		pw_error *e = pw_error_new(PW_ECONFIG, "step '%s': config key '%s': cannot read '%s'",
		                           pw_step_name(g->step), key, rel);
		pw_error_set_key(e, key);
		pw_error_set_hint(e, "give a path relative to the workspace");
		pw__buf_dispose(&p);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	pw__buf_dispose(&p);
	pw_buf b = PW_BUF_INIT(max);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = pw__buf_append(&b, chunk, n);
	fclose(f);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return pw_error_set(err, PW_ECONFIG,
		                    "step '%s': config key '%s': '%s' is larger than %zu bytes",
		                    pw_step_name(g->step), key, rel, max);
	}
	*out = pw__buf_detach(&b);
	return 0;
}

void pw__gh_resp_dispose(pw_gh_resp *r)
{
	if (!r)
		return;
	json_decref(r->json);
	pw_free(r->next);
	pw__http_response_dispose(&r->raw);
	memset(r, 0, sizeof(*r));
}

char *pw__gh_origin_of(const char *url)
{
	const char *s = strstr(url, "://");
	if (!s)
		return NULL;
	const char *e = strchr(s + 3, '/');
	size_t n = e ? (size_t)(e - url) : strlen(url);
	char *o = pw_malloc(n + 1);
	if (o) {
		memcpy(o, url, n);
		o[n] = '\0';
	}
	return o;
}

char *pw__gh_link_next(const char *link)
{
	const char *p = link;
	while (p && *p) {
		const char *lt = strchr(p, '<');
		if (!lt)
			return NULL;
		const char *gt = strchr(lt, '>');
		if (!gt)
			return NULL;
		const char *end = strchr(gt, ',');
		size_t seg = end ? (size_t)(end - gt) : strlen(gt);
		const char *rel = strstr(gt, "rel=\"next\"");
		if (rel && (size_t)(rel - gt) < seg) {
			size_t n = (size_t)(gt - lt - 1);
			char *u = pw_malloc(n + 1);
			if (u) {
				memcpy(u, lt + 1, n);
				u[n] = '\0';
			}
			return u;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static long long file_read(char *buf, size_t cap, void *payload)
{
	FILE *f = payload;
	size_t n = fread(buf, 1, cap, f);
	if (n == 0 && ferror(f))
		return PW_EIO;
	return (long long)n;
}

static int file_rewind(void *payload)
{
	return fseek(payload, 0, SEEK_SET) == 0 ? 0 : PW_EIO;
}

void pw__gh_describe_answer(pw_buf *b, const pw_gh_resp *r)
{
	pw__buf_printf(b, "HTTP %ld", r->status);
	const char *msg = pw__json_get_string(r->json, "message");
	if (msg)
		pw__buf_printf(b, ": %s", msg);
	json_t *errs = json_object_get(r->json, "errors");
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e)
	{
		const char *code = pw__json_get_string(e, "code");
		const char *field = pw__json_get_string(e, "field");
		const char *m = pw__json_get_string(e, "message");
		pw__buf_printf(b, "%s%s%s%s%s%s", i ? "; " : " (", field ? field : "", field ? " " : "",
		               code ? code : "", m && code ? ": " : "", m ? m : "");
	}
	if (json_array_size(errs))
		pw__buf_putc(b, ')');
	if (!r->json && r->raw.body_len) {
		size_t n = r->raw.body_len > 300 ? 300 : r->raw.body_len;
		pw__buf_puts(b, ": ");
		for (size_t k = 0; k < n; k++) {
			char ch = r->raw.body[k];
			pw__buf_putc(b, ch >= 32 && ch < 127 ? ch : ' ');
		}
	}
}

int pw__gh_has_already_exists(const json_t *doc)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "errors"), i, e)
	{
		const char *code = pw__json_get_string(e, "code");
		if (code && strcmp(code, "already_exists") == 0)
			return 1;
	}
	return 0;
}

static const char *hint_for(const pw_gh *g, long status)
{
	switch (status) {
	case 401:
		if (g->app_jwt)
			return "GitHub refused the GitHub App's JWT: check `app_id` and that the private key "
			       "is "
			       "the app's current one";
		return "the token was refused: check that the secret holds a valid, unexpired token "
		       "(GITHUB_TOKEN or the secret named by token_secret)";
	case 403:
		return "the token lacks a permission: see docs/git.md for the scope or fine-grained "
		       "permission this action needs";
	case 404:
		return "check `repository` (owner/name) and the other names; GitHub answers 404 also when "
		       "the token cannot see the repository";
	case 422:
		return "GitHub refused the request's content: see the answer above";
	default:
		return status >= 500 ? "GitHub had a problem; run the step again later" : NULL;
	}
}

/* Longest wait a rate-limited answer may ask for: beyond any step deadline, and far from
 * overflowing when turned into ms. */
#define MAX_ANSWER_WAIT_S (30LL * 24 * 3600)

long long pw__gh_rate_wait_ms(int *primary, const pw_gh_resp *r, long long now)
{
	*primary = 0;
	if (r->status != 403 && r->status != 429)
		return -1;
	const char *ra = pw__http_header_get(&r->raw, "retry-after");
	if (ra) {
		char *end = NULL;
		long long s = strtoll(ra, &end, 10);
		if (end != ra && s >= 0)
			return (s < MAX_ANSWER_WAIT_S ? s : MAX_ANSWER_WAIT_S) * 1000;
	}
	const char *rem = pw__http_header_get(&r->raw, "x-ratelimit-remaining");
	const char *reset = pw__http_header_get(&r->raw, "x-ratelimit-reset");
	if (rem && strcmp(rem, "0") == 0 && reset) {
		*primary = 1;
		char *end = NULL;
		long long at = strtoll(reset, &end, 10);
		if (end == reset)
			return 60000;
		long long left = MAX_ANSWER_WAIT_S;
		if (now >= 0) /* then at - now cannot overflow */
			left = at > now ? at - now : 0;
		if (left > MAX_ANSWER_WAIT_S)
			left = MAX_ANSWER_WAIT_S;
		return left * 1000 + 1000;
	}
	const char *msg = pw__json_get_string(r->json, "message");
	if (msg && strstr(msg, "rate limit"))
		return SECONDARY_DEFAULT_WAIT_MS;
	return r->status == 429 ? SECONDARY_DEFAULT_WAIT_MS : -1;
}

int pw__gh_next_page_ok(const char *next, const char *origin)
{
	size_t n = origin ? strlen(origin) : 0;
	if (!next || !n || strncmp(next, origin, n) != 0 || (next[n] != '/' && next[n] != '\0'))
		return 0;
	for (const unsigned char *p = (const unsigned char *)next; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int set_err(pw_error **err, pw_error *e)
{
	int code = pw_error_code(e);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return code;
}

int pw__gh_call(pw_gh_resp *out, pw_gh *g, const pw_gh_req *r, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	const char *url = r->url;
	int absolute = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
	char *origin = absolute ? pw__gh_origin_of(url) : NULL;
	const char *path = absolute ? url + (origin ? strlen(origin) : 0) : url;
	pw_http_endpoint ep = {.base_url = absolute ? origin : g->api,
	                       .ca_file = g->ca_file,
	                       .insecure_skip_verify = g->insecure};
	char *body = r->body ? pw__json_dump(r->body) : NULL;
	char ctype[160];
	snprintf(ctype, sizeof(ctype), "Content-Type: %s",
	         r->file ? r->file->content_type : "application/json; charset=utf-8");
	const char *headers[8];
	size_t nh = 0;
	headers[nh++] = "Accept: application/vnd.github+json";
	headers[nh++] = "X-GitHub-Api-Version: " PW_GH_API_VERSION;
	headers[nh++] = "User-Agent: pipewright/" PW_CONNECTOR_SYSTEM_VERSION;
	if (g->auth)
		headers[nh++] = g->auth;
	if (body || r->file)
		headers[nh++] = ctype;
	headers[nh] = NULL;
	FILE *f = NULL;
	int rc = 0;
	if (r->file) {
		f = fopen(r->file->path, "rb");
		if (!f) {
			rc = pw_error_set(err, PW_EIO, "cannot %s: cannot open '%s'", r->what, r->file->path);
			goto done;
		}
	}
	for (int attempt = 0;; attempt++) {
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.method = r->method;
		req.path_and_query = path;
		req.headers = headers;
		req.body = body;
		req.body_len = body ? strlen(body) : 0;
		if (f) {
			file_rewind(f);
			req.upload_read = file_read;
			req.upload_rewind = file_rewind;
			req.upload_size = r->file->size;
			req.upload_payload = f;
		}
		req.retry_non_idempotent = r->retry_post;
		req.cancel_fd = g->ex ? pw_exec_cancel_fd(g->ex) : -1;
		int64_t left = g->ex ? pw_exec_remaining_ms(g->ex) : -1;
		req.total_timeout_ms = left > 0 ? (long)left : 0;
		if (left == 0) {
			rc = pw_error_set(err, PW_ETIMEOUT, "cannot %s: the step's deadline has passed",
			                  r->what);
			goto done;
		}
		pw__gh_resp_dispose(out);
		pw_error *he = NULL;
		pw__http_trace(&req, g->ex);
		rc = pw__http_do(&out->raw, g->pool, &ep, &req, &he);
		if (rc < 0) {
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "cannot %s: %s", r->what, pw_error_message(he));
			pw__error_replace_message(he, pw__buf_cstr(&m));
			pw__buf_dispose(&m);
			rc = set_err(err, he);
			goto done;
		}
		out->status = out->raw.status;
		if (out->raw.body_len)
			pw__json_load(&out->json, out->raw.body, out->raw.body_len, 0, "GitHub's answer",
			              NULL);
		const char *link = pw__http_header_get(&out->raw, "link");
		if (link)
			out->next = pw__gh_link_next(link);
		if (out->status >= 200 && out->status < 300) {
			rc = 0;
			goto done;
		}
		int primary = 0;
		long long wait = pw__gh_rate_wait_ms(&primary, out, (long long)time(NULL));
		if (wait >= 0 && attempt < MAX_RATE_WAITS) {
			int64_t rem = g->ex ? pw_exec_remaining_ms(g->ex) : -1;
			long long cap = rem >= 0 ? rem : PW_GH_MAX_RATE_WAIT_MS;
			if (wait <= cap) {
				if (g->ex)
					pw_exec_log(g->ex, PW_LOG_WARN, "github",
					            "%s rate limit of GitHub reached while trying to %s: "
					            "waiting %lld ms",
					            primary ? "the primary" : "a secondary", r->what, wait);
				rc = pw_exec_sleep(g->ex, wait);
				if (rc < 0) {
					rc = pw_error_set(
					    err, rc,
					    "cannot %s: the step %s while waiting out GitHub's rate limit",
					    r->what, rc == PW_ETIMEOUT ? "timed out" : "was cancelled");
					goto done;
				}
				continue;
			}
			pw_error *e =
			    pw_error_new(PW_ETIMEOUT,
			                 "cannot %s: GitHub's %s rate limit asks to wait %lld s, beyond the "
			                 "step's deadline",
			                 r->what, primary ? "primary" : "secondary", wait / 1000);
			pw_error_set_hint(
			    e, "raise the step's timeout, spread the calls out, or use a token with a "
			       "higher rate limit (a GitHub App installation token)");
			rc = set_err(err, e);
			goto done;
		}
		break;
	}
	{
		pw_buf m = PW_BUF_INIT(0);
		pw__gh_describe_answer(&m, out);
		int code = PW_EEXTERNAL;
		if (out->status == 401 || out->status == 403)
			code = PW_EPERM;
		else if (out->status == 404)
			code = PW_ENOTFOUND;
		else if (out->status == 422)
			code = pw__gh_has_already_exists(out->json) ? PW_EEXISTS : PW_EVALIDATION;
		pw_error *e = pw_error_new(code, "cannot %s in %s: GitHub answered %s", r->what,
		                           g->repository, pw__buf_cstr(&m));
		pw__buf_dispose(&m);
		char *u = pw__gh_url(g, r->url);
		char *q = u ? strchr(u, '?') : NULL;
		if (q)
			*q = '\0';
		pw_buf op = PW_BUF_INIT(0);
		pw__buf_printf(&op, "%s %s", r->method, u ? u : r->url);
		pw_error_set_operation(e, pw__buf_cstr(&op));
		pw__buf_dispose(&op);
		pw_free(u);
		if (out->raw.body_len) {
			size_t n = out->raw.body_len > 1000 ? 1000 : out->raw.body_len;
			char *ex = pw_malloc(n + 1);
			if (ex) {
				memcpy(ex, out->raw.body, n);
				ex[n] = '\0';
				pw_error_set_response(e, ex);
				pw_free(ex);
			}
		}
		const char *h = hint_for(g, out->status);
		if (h)
			pw_error_set_hint(e, h);
		rc = set_err(err, e);
	}
done:
	if (f)
		fclose(f);
	pw_free(body);
	pw_free(origin);
	return rc;
}

int pw__gh_each(pw_gh *g, const char *path, const char *what, int max_pages, pw_gh_each_fn fn, void *payload,
                pw_error **err)
{
	char *api_origin = pw__gh_origin_of(g->api);
	char *url = pw_strdup(path);
	int rc = 0;
	for (int page = 0; url && page < (max_pages > 0 ? max_pages : 1000); page++) {
		pw_gh_resp r;
		pw_gh_req q = {.method = "GET", .url = url, .what = what};
		rc = pw__gh_call(&r, g, &q, err);
		if (rc < 0) {
			pw__gh_resp_dispose(&r);
			break;
		}
		size_t i;
		json_t *item;
		json_array_foreach(r.json, i, item)
		{
			rc = fn(item, payload);
			if (rc != 0)
				break;
		}
		pw_free(url);
		url = NULL;
		/* the next page only on the API's own origin: the token goes nowhere else */
		if (rc == 0 && r.next) {
			if (pw__gh_next_page_ok(r.next, api_origin)) {
				url = pw_strdup(r.next);
			} else {
				char *o = pw__gh_origin_of(r.next);
				pw_error *e = pw_error_new(
				    PW_EEXTERNAL,
				    "cannot %s: the next page is on another origin (%s) than the "
				    "API (%s); not sending the token there",
				    what, o ? o : "?", api_origin ? api_origin : "?");
				pw_error_set_hint(
				    e, "check `base_url`: it must be the origin GitHub answers from (a "
				       "proxy in between must rewrite Link headers)");
				pw_free(o);
				rc = set_err(err, e);
			}
		}
		pw__gh_resp_dispose(&r);
		if (rc != 0)
			break;
	}
	pw_free(url);
	pw_free(api_origin);
	return rc;
}
