/* The AWS request path: endpoint resolution, SigV4 signing with the step's credentials,
 * retries of throttling and 5xx answers, and errors that explain (AccessDenied names the IAM
 * permission). Also the small helpers the actions share. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/sigv4.h"
#include "connectors/cloud/aws.h"
#include "net/json.h"

#define AWS_MAX_ATTEMPTS 6
#define AWS_BACKOFF_BASE_MS 100

const char *pw__aws_getenv(const pw_aws_ctx *c, const char *name)
{
	const char *v = c->env ? pw_map_get(c->env, name) : NULL;
	if (v && *v)
		return v;
	v = getenv(name);
	return v && *v ? v : NULL;
}

static const char *cfg_str(const pw_aws_ctx *c, const char *key)
{
	return json_string_value(json_object_get(c->step ? pw__aws_step_config(c->step) : NULL, key));
}

char *pw__aws_endpoint(pw_aws_ctx *c, const char *service, int *custom)
{
	*custom = 1;
	const char *svc_cfg = cfg_str(c, "service");
	const char *v = NULL;
	if (strcmp(service, "sts") == 0)
		v = cfg_str(c, "sts_endpoint");
	else if (svc_cfg && strcmp(svc_cfg, service) == 0)
		v = cfg_str(c, "endpoint");
	if (!v) {
		char name[64];
		snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", service);
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		v = pw__aws_getenv(c, name);
	}
	if (!v)
		v = pw__aws_getenv(c, "AWS_ENDPOINT_URL");
	pw_buf b = PW_BUF_INIT(0);
	if (v) {
		size_t n = strlen(v);
		while (n > 0 && v[n - 1] == '/')
			n--;
		pw__buf_append(&b, v, n);
	} else {
		*custom = 0;
		pw__buf_printf(&b, "https://%s.%s.amazonaws.com", service,
		               c->region ? c->region : "us-east-1");
	}
	return pw__buf_detach(&b);
}

const char *pw__aws_param_str(const pw_aws_ctx *c, const char *name)
{
	return json_string_value(json_object_get(c->params, name));
}

int pw__aws_param_bool(const pw_aws_ctx *c, const char *name, int fallback)
{
	json_t *v = json_object_get(c->params, name);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

long long pw__aws_param_int(const pw_aws_ctx *c, const char *name, long long fallback)
{
	json_t *v = json_object_get(c->params, name);
	long long n;
	return pw__config_integer(v, &n) ? n : fallback;
}

void pw__aws_say(pw_aws_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t before = c->out.len;
	pw__buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	pw__buf_putc(&c->out, '\n');
	if (c->ex)
		pw_exec_output(c->ex, PW_STREAM_STDOUT, c->out.data + before, c->out.len - before);
}

int pw__aws_poll_wait(pw_aws_ctx *c, unsigned attempt, const char *waiting_for, pw_error **err)
{
	int64_t ms = c->poll_ms;
	for (unsigned i = 0; i < attempt && ms < c->poll_ms * 8; i++)
		ms += ms / 2;
	if (ms > c->poll_ms * 8)
		ms = c->poll_ms * 8;
	if (c->wait_until) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now >= c->wait_until) {
			pw_error_set(err, PW_ETIMEOUT, "wait_timeout (%g s) passed while waiting for %s",
			             c->wait_timeout_s, waiting_for);
			if (err && *err)
				pw_error_set_hint(
				    *err, "raise `wait_timeout`, or look at the service in the AWS console: "
				          "the wait ended, the change itself goes on");
			return PW_ETIMEOUT;
		}
		if (now + ms > c->wait_until)
			ms = c->wait_until - now;
	}
	int rc = pw_exec_sleep(c->ex, ms);
	if (rc == PW_ECANCELLED)
		return pw_error_set(err, rc, "cancelled while waiting for %s", waiting_for);
	if (rc == PW_ETIMEOUT) {
		pw_error_set(err, rc, "the step's timeout passed while waiting for %s", waiting_for);
		if (err && *err)
			pw_error_set_hint(*err, "raise the step's `timeout`, or check the service in the AWS "
			                        "console: the wait ended, the change itself goes on");
		return rc;
	}
	return rc;
}

int pw__aws_ws_path(char **out, const pw_aws_ctx *c, const char *rel, const char *key, pw_error **err)
{
	*out = NULL;
	if (!rel || !*rel)
		return pw_error_set(err, PW_ECONFIG, "parameters.%s is empty", key);
	const char *root = c->ws ? pw_workspace_root(c->ws) : ".";
	/* no ".." segment: every file comes from inside the workspace */
	const char *p = rel;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			pw_error_set(err, PW_ECONFIG, "parameters.%s: '%s' leaves the workspace", key, rel);
			if (err && *err)
				pw_error_set_key(*err, key);
			return PW_ECONFIG;
		}
		p += n;
		if (*p)
			p++;
	}
	pw_buf b = PW_BUF_INIT(0);
	if (rel[0] == '/')
		pw__buf_puts(&b, rel);
	else
		pw__buf_printf(&b, "%s/%s", root, rel);
	*out = pw__buf_detach(&b);
	return *out ? 0 : PW_ENOMEM;
}

char *pw__aws_xml_get(const char *xml, const char *tag)
{
	if (!xml)
		return NULL;
	char open[96], close[96];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = strstr(xml, open);
	if (!a)
		return NULL;
	a += strlen(open);
	const char *z = strstr(a, close);
	if (!z)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	static const char *const ent[][2] = {
	    {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
	while (a < z) {
		int done = 0;
		if (*a == '&') {
			for (size_t i = 0; i < 5 && !done; i++) {
				size_t l = strlen(ent[i][0]);
				if ((size_t)(z - a) >= l && strncmp(a, ent[i][0], l) == 0) {
					pw__buf_puts(&b, ent[i][1]);
					a += l;
					done = 1;
				}
			}
		}
		if (!done)
			pw__buf_putc(&b, *a++);
	}
	return pw__buf_detach(&b);
}

time_t pw__aws_parse_time(const char *s)
{
	if (!s)
		return 0;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec) == 6) {
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		return timegm(&tm);
	}
	char *end = NULL;
	double d = strtod(s, &end);
	/* NaN, infinities and numbers beyond time_t are no time (converting them is undefined) */
	if (!end || end == s || !(d > -1e12 && d < 1e12))
		return 0;
	return (time_t)d;
}

void pw__aws_parse_error(char **code, char **msg, const pw_http_response *r)
{
	*code = NULL;
	*msg = NULL;
	const char *h = pw__http_header_get(r, "x-amzn-errortype");
	json_t *doc = NULL;
	if (r->body_len && r->body[0] == '{' &&
	    pw__json_load(&doc, r->body, r->body_len, 0, "error", NULL) == 0) {
		const char *t = h ? h : pw__json_get_string(doc, "__type");
		if (!t)
			t = pw__json_get_string(doc, "code");
		if (t)
			*code = pw_strdup(t);
		const char *m = pw__json_get_string(doc, "message");
		if (!m)
			m = pw__json_get_string(doc, "Message");
		if (m)
			*msg = pw_strdup(m);
		json_decref(doc);
	} else if (r->body_len && strstr(r->body, "<Code>")) {
		*code = pw__aws_xml_get(r->body, "Code");
		*msg = pw__aws_xml_get(r->body, "Message");
	}
	if (!*code && h)
		*code = pw_strdup(h);
	if (*code) {
		/* "com.amazonaws.ecs#ClientException" and "ThrottlingException:http://..." */
		char *hash = strrchr(*code, '#');
		if (hash)
			memmove(*code, hash + 1, strlen(hash + 1) + 1);
		char *colon = strchr(*code, ':');
		if (colon)
			*colon = '\0';
	}
}

static int is_throttle(const char *code, long status)
{
	static const char *const t[] = {
	    "ThrottlingException",  "Throttling", "TooManyRequestsException",
	    "RequestLimitExceeded", "SlowDown",   "ProvisionedThroughputExceededException",
	    "RequestThrottled",     NULL};
	if (status == 429)
		return 1;
	for (size_t i = 0; code && t[i]; i++)
		if (strcmp(code, t[i]) == 0)
			return 1;
	return 0;
}

static int is_expired(const char *code)
{
	/* also a token the service no longer knows: obtained credentials are fetched again once */
	return code && (strcmp(code, "ExpiredTokenException") == 0 || strcmp(code, "ExpiredToken") == 0 ||
	                strcmp(code, "RequestExpired") == 0 || strcmp(code, "InvalidClientTokenId") == 0 ||
	                strcmp(code, "UnrecognizedClientException") == 0);
}

static int is_denied(const char *code, long status)
{
	return (code && (strstr(code, "AccessDenied") || strcmp(code, "UnauthorizedOperation") == 0 ||
	                 strcmp(code, "AuthorizationError") == 0)) ||
	       (status == 403 && !code);
}

/* "host[:port]" and the path prefix of a base URL. */
static void split_base(const char *base, pw_buf *host, pw_buf *prefix)
{
	const char *p = strstr(base, "://");
	p = p ? p + 3 : base;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at && (!slash || at < slash))
		p = at + 1;
	size_t n = strcspn(p, "/");
	pw__buf_append(host, p, n);
	pw__buf_puts(prefix, p + n);
}

static void plan_request(pw_aws_ctx *c, const char *base, const pw_aws_req *r)
{
	pw_buf *b = c->plan;
	pw__buf_printf(b, "%s %s%s%s%s\n", r->method, base, r->path, r->query ? "?" : "",
	               r->query ? r->query : "");
	if (r->amz_target)
		pw__buf_printf(b, "X-Amz-Target: %s\n", r->amz_target);
	if (r->content_type)
		pw__buf_printf(b, "Content-Type: %s\n", r->content_type);
	for (size_t i = 0; r->headers && r->headers[i]; i++)
		pw__buf_printf(b, "%s\n", r->headers[i]);
	if (!r->unsigned_)
		pw__buf_printf(b,
		               "Authorization: AWS4-HMAC-SHA256 Credential=***/%s/%s/aws4_request, "
		               "SignedHeaders=..., Signature=***\n",
		               c->region ? c->region : "(region)", r->service);
	if (r->plan_body)
		pw__buf_printf(b, "\n%s\n", r->plan_body);
	else if (r->body_len)
		pw__buf_printf(b, "\n%.*s\n", (int)r->body_len, r->body);
	pw__buf_putc(b, '\n');
}

/* Whether sending the operation again after a failure that may have reached AWS (a reset, a
 * cut answer, 500/502/504) does no harm: reads, and updates that set a desired state. Creating
 * ones (RunTask, RegisterTaskDefinition, CreateAlias) are not repeated blindly. */
static int op_repeatable(const pw_aws_req *r)
{
	static const char *const prefixes[] = {"Describe", "Get", "List", "Head", "AssumeRole", NULL};
	static const char *const ops[] = {"UpdateService", "UpdateFunctionCode",
	                                  "UpdateFunctionConfiguration", "UpdateAlias", NULL};
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD") || !strcmp(r->method, "PUT") ||
	    !strcmp(r->method, "DELETE"))
		return 1;
	for (size_t i = 0; prefixes[i]; i++)
		if (!strncmp(r->operation, prefixes[i], strlen(prefixes[i])))
			return 1;
	for (size_t i = 0; ops[i]; i++)
		if (!strcmp(r->operation, ops[i]))
			return 1;
	return 0;
}

static int backoff(pw_aws_ctx *c, unsigned attempt, const char *what, pw_error **err)
{
	unsigned long long ms = (unsigned long long)AWS_BACKOFF_BASE_MS << (attempt < 8 ? attempt : 8);
	unsigned char r = (unsigned char)(rand() & 0xff);
	ms = ms / 2 + (ms / 2) * r / 255;
	if (c->cleanup) {
		/* the exec is cancelled or past its deadline: its sleep would end at once */
		struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		return 0;
	}
	int rc = pw_exec_sleep(c->ex, (int64_t)ms);
	if (rc < 0)
		return pw_error_set(err, rc, "%s while retrying %s",
		                    rc == PW_ECANCELLED ? "cancelled" : "timed out", what);
	return 0;
}

int pw__aws_call(pw_http_response *out, pw_aws_ctx *c, const pw_aws_req *r, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	int custom = 0;
	char *base = pw__aws_endpoint(c, r->service, &custom);
	if (!base)
		return PW_ENOMEM;
	pw_buf bpath = PW_BUF_INIT(0);
	if (r->bucket) {
		char *eb = pw__http_escape(r->bucket);
		if (custom) {
			pw__buf_printf(&bpath, "/%s%s", eb ? eb : "", r->path);
		} else {
			pw_free(base);
			pw_buf nb = PW_BUF_INIT(0);
			pw__buf_printf(&nb, "https://%s.s3.%s.amazonaws.com", eb ? eb : "",
			               c->region ? c->region : "us-east-1");
			base = pw__buf_detach(&nb);
			pw__buf_puts(&bpath, r->path);
		}
		pw_free(eb);
	} else {
		pw__buf_puts(&bpath, r->path);
	}
	pw_aws_req rr = *r;
	rr.path = pw__buf_cstr(&bpath);
	r = &rr;
	if (c->plan) {
		plan_request(c, base, r);
		pw_free(base);
		pw__buf_dispose(&bpath);
		out->body = pw_strdup("");
		return 0;
	}
	pw_buf host = PW_BUF_INIT(0), prefix = PW_BUF_INIT(0), full = PW_BUF_INIT(0);
	split_base(base, &host, &prefix);
	pw__buf_printf(&full, "%s%s", pw__buf_cstr(&prefix), r->path);
	char desc[160];
	snprintf(desc, sizeof(desc), "%s %s", r->service, r->operation);
	pw_http_endpoint ep = {.base_url = base};
	const char *ca = pw__aws_getenv(c, "AWS_CA_BUNDLE");
	json_t *cab = json_object_get(pw__aws_step_config(c->step), "ca_file");
	ep.ca_file = json_is_string(cab) ? json_string_value(cab) : ca;
	int rc = 0, refreshed = 0, repeatable = op_repeatable(r);
	for (unsigned attempt = 0;; attempt++) {
		const pw_aws_creds *cr = r->use_creds;
		if (!r->unsigned_ && !cr) {
			rc = pw__aws_creds_get(c, 0, err);
			if (rc < 0)
				break;
			cr = &c->creds;
		}
		/* headers: signed ones first, then what the signer adds */
		const char *hv[24];
		size_t nhv = 0;
		pw_sigv4_header sh[16];
		size_t nsh = 0;
		sh[nsh++] = (pw_sigv4_header){"Host", pw__buf_cstr(&host)};
		if (r->content_type)
			sh[nsh++] = (pw_sigv4_header){"Content-Type", r->content_type};
		if (r->amz_target)
			sh[nsh++] = (pw_sigv4_header){"X-Amz-Target", r->amz_target};
		pw_buf hbuf[12];
		size_t nhbuf = 0;
		for (size_t i = 0; r->headers && r->headers[i] && nsh < 10; i++) {
			const char *colon = strchr(r->headers[i], ':');
			if (!colon)
				continue;
			pw_buf nb = PW_BUF_INIT(0);
			pw__buf_append(&nb, r->headers[i], (size_t)(colon - r->headers[i]));
			hbuf[nhbuf] = nb;
			const char *val = colon + 1;
			while (*val == ' ')
				val++;
			sh[nsh++] = (pw_sigv4_header){pw__buf_cstr(&hbuf[nhbuf]), val};
			nhbuf++;
		}
		pw_buf lines = PW_BUF_INIT(0);
		pw_sigv4_output so;
		memset(&so, 0, sizeof(so));
		char hostline[300], ctline[200], tgline[200], dateline[64], shaline[100];
		snprintf(hostline, sizeof(hostline), "Host: %s", pw__buf_cstr(&host));
		hv[nhv++] = hostline;
		if (r->content_type) {
			snprintf(ctline, sizeof(ctline), "Content-Type: %s", r->content_type);
			hv[nhv++] = ctline;
		}
		if (r->amz_target) {
			snprintf(tgline, sizeof(tgline), "X-Amz-Target: %s", r->amz_target);
			hv[nhv++] = tgline;
		}
		for (size_t i = 0; r->headers && r->headers[i] && nhv < 16; i++)
			hv[nhv++] = r->headers[i];
		char *auth = NULL, *tok = NULL;
		if (!r->unsigned_) {
			pw_sigv4_input in = {0};
			in.method = r->method;
			in.path = pw__buf_cstr(&full);
			in.query = r->query;
			in.headers = sh;
			in.nheaders = nsh;
			in.body = r->body;
			in.body_len = r->body_len;
			in.region = c->region ? c->region : "us-east-1";
			in.service = r->service;
			in.access_key_id = cr->akid;
			in.secret_access_key = cr->secret;
			in.session_token = cr->token;
			in.when = time(NULL);
			in.normalize_path = !r->s3;
			in.double_encode = !r->s3;
			in.add_content_sha256 = r->s3;
			rc = pw__sigv4_sign(&so, &in, err);
			if (rc < 0) {
				for (size_t i = 0; i < nhbuf; i++)
					pw__buf_dispose(&hbuf[i]);
				break;
			}
			snprintf(dateline, sizeof(dateline), "X-Amz-Date: %s", so.amz_date);
			hv[nhv++] = dateline;
			if (r->s3) {
				snprintf(shaline, sizeof(shaline), "X-Amz-Content-Sha256: %s",
				         so.payload_hash);
				hv[nhv++] = shaline;
			}
			if (cr->token) {
				pw__buf_printf(&lines, "X-Amz-Security-Token: %s", cr->token);
				tok = pw__buf_detach(&lines);
				hv[nhv++] = tok;
			}
			pw__buf_printf(&lines, "Authorization: %s", so.authorization);
			auth = pw__buf_detach(&lines);
			hv[nhv++] = auth;
		}
		hv[nhv++] = "Expect:";
		hv[nhv] = NULL;
		pw_buf pq = PW_BUF_INIT(0);
		pw__buf_printf(&pq, "%s%s%s", r->path, r->query ? "?" : "", r->query ? r->query : "");
		pw_http_request hr = PW_HTTP_REQUEST_INIT;
		hr.method = r->method;
		hr.path_and_query = pw__buf_cstr(&pq);
		hr.headers = hv;
		hr.body = r->body
		              ? r->body
		              : (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ? "" : NULL);
		hr.body_len = r->body_len;
		hr.cancel_fd = c->ex && !c->cleanup ? pw_exec_cancel_fd(c->ex) : -1;
		int64_t rem = c->ex && !c->cleanup ? pw_exec_remaining_ms(c->ex) : -1;
		hr.total_timeout_ms = c->cleanup ? PW_AWS_CLEANUP_MS : rem > 0 ? (long)rem : 0;
		hr.max_retries = 2;
		hr.retry_non_idempotent = repeatable;
		pw_http_response resp;
		pw_error *he = NULL;
		pw__http_trace(&hr, c->ex);
		rc = pw__http_do(&resp, c->pool, &ep, &hr, &he);
		pw__buf_dispose(&pq);
		pw__sigv4_output_dispose(&so);
		if (auth) {
			memset(auth, 0, strlen(auth));
			pw_free(auth);
		}
		if (tok) {
			memset(tok, 0, strlen(tok));
			pw_free(tok);
		}
		for (size_t i = 0; i < nhbuf; i++)
			pw__buf_dispose(&hbuf[i]);
		if (rc < 0) {
			pw__http_response_dispose(&resp);
			if (rc == PW_EIO && repeatable && attempt + 1 < AWS_MAX_ATTEMPTS &&
			    backoff(c, attempt, desc, NULL) == 0) {
				pw_exec_log(c->ex, PW_LOG_INFO, "aws", "%s: %s; retrying", desc,
				            he ? pw_error_message(he) : "transport error");
				pw_error_free(he);
				continue;
			}
			/* the transport's reason, said as the failure of this AWS operation */
			if (err && !*err && he) {
				*err = pw_error_new(rc, "AWS %s %s: %s", desc,
				                    rc == PW_ETIMEOUT ? "timed out" : "failed",
				                    pw_error_message(he));
				if (*err) {
					pw_error_set_operation(*err, pw_error_operation(he));
					pw_error_set_hint(*err, pw_error_hint(he));
					if (!pw_error_hint(he) && !repeatable)
						pw_error_set_hint(
						    *err,
						    "the request may have reached AWS and was not sent again "
						    "(it would act twice): check whether it took effect "
						    "before running the step again");
				}
			}
			pw_error_free(he);
			break;
		}
		if (resp.status >= 200 && resp.status < 300) {
			*out = resp;
			break;
		}
		char *code = NULL, *msg = NULL;
		pw__aws_parse_error(&code, &msg, &resp);
		int retry = 0;
		if (is_expired(code) && !refreshed && !r->use_creds && !r->unsigned_ &&
		    c->creds.refreshable) {
			pw_exec_log(c->ex, PW_LOG_INFO, "aws",
			            "%s: credentials expired (%s); fetching new ones", desc, code);
			pw__aws_creds_dispose(&c->creds);
			c->have_creds = 0;
			rc = pw__aws_creds_get(c, 1, err);
			refreshed = 1;
			retry = rc == 0;
		} else if ((is_throttle(code, resp.status) || resp.status >= 500) &&
		           attempt + 1 < AWS_MAX_ATTEMPTS) {
			pw_exec_log(c->ex, PW_LOG_INFO, "aws", "%s: HTTP %ld %s; retrying", desc, resp.status,
			            code ? code : "");
			rc = backoff(c, attempt, desc, err);
			retry = rc == 0;
		}
		if (retry) {
			pw_free(code);
			pw_free(msg);
			pw__http_response_dispose(&resp);
			continue;
		}
		if (rc == 0) {
			int ecode = PW_EEXTERNAL;
			if (is_denied(code, resp.status))
				ecode = PW_EPERM;
			else if (code &&
			         (strstr(code, "NotFound") || strcmp(code, "NoSuchBucket") == 0 ||
			          strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchUpload") == 0))
				ecode = PW_ENOTFOUND;
			else if (code && (strcmp(code, "ExpiredTokenException") == 0 ||
			                  strcmp(code, "ExpiredToken") == 0 ||
			                  strcmp(code, "InvalidClientTokenId") == 0 ||
			                  strcmp(code, "UnrecognizedClientException") == 0 ||
			                  strcmp(code, "SignatureDoesNotMatch") == 0 ||
			                  strcmp(code, "InvalidSignatureException") == 0))
				ecode = PW_EPERM;
			pw_error_set(err, ecode, "AWS %s failed: %s%s%s", desc, code ? code : "HTTP error",
			             msg ? ": " : "", msg ? msg : "");
			if (err && *err) {
				char *d = pw__http_describe(&ep, r->method, pw__buf_cstr(&full));
				pw_error_set_operation(*err, d);
				pw_free(d);
				pw_buf rb = PW_BUF_INIT(0);
				pw__buf_printf(&rb, "HTTP %ld %s: %.600s", resp.status, code ? code : "",
				               msg ? msg : resp.body);
				pw_error_set_response(*err, pw__buf_cstr(&rb));
				pw__buf_dispose(&rb);
				pw_buf hb = PW_BUF_INIT(0);
				if (ecode == PW_EPERM && is_denied(code, resp.status))
					pw__buf_printf(&hb,
					               "the credentials (%s) need the IAM permission %s on "
					               "the resource: add it "
					               "to the role or user's policy",
					               c->have_creds ? c->creds.source : "in use",
					               r->iam_action);
				else if (ecode == PW_EPERM)
					pw__buf_printf(&hb,
					               "check the AWS credentials (%s): the key, secret and "
					               "session token "
					               "must belong together and be current",
					               c->have_creds ? c->creds.source : "in use");
				else if (is_throttle(code, resp.status) || resp.status >= 500)
					pw__buf_printf(
					    &hb,
					    "AWS kept answering %ld after %u attempts; retry the step later",
					    resp.status, attempt + 1);
				else if (ecode == PW_ENOTFOUND)
					pw__buf_puts(&hb, "check the names in `parameters` and the region");
				if (hb.len)
					pw_error_set_hint(*err, pw__buf_cstr(&hb));
				pw__buf_dispose(&hb);
			}
			rc = ecode;
		}
		pw_free(code);
		pw_free(msg);
		pw__http_response_dispose(&resp);
		break;
	}
	pw__buf_dispose(&host);
	pw__buf_dispose(&prefix);
	pw__buf_dispose(&full);
	pw__buf_dispose(&bpath);
	pw_free(base);
	return rc;
}

void pw__aws_journal_entry(pw_journal_entry *je, pw_aws_journal *j, pw_aws_ctx *c, const char *service,
                           const char *kind, const char *name, const char *const *attrs)
{
	memset(j, 0, sizeof(*j));
	int custom = 0;
	j->address = pw__aws_endpoint(c, service, &custom);
	j->name = pw_strdup(name);
	for (size_t i = 0; attrs && attrs[i] && attrs[i + 1] && j->nattrs + 2 <= PW_AWS_JOURNAL_ATTRS;
	     i += 2) {
		j->attrs[j->nattrs++] = attrs[i];
		j->attrs[j->nattrs++] = attrs[i + 1];
	}
	if (custom && j->address && j->nattrs + 2 <= PW_AWS_JOURNAL_ATTRS) {
		j->attrs[j->nattrs++] = "endpoint";
		j->attrs[j->nattrs++] = j->address;
	}
	/* what gc needs to sign as the same identity: never a secret, only where to find one */
	static const char *const cfg_keys[] = {"profile", "role_arn", "sts_endpoint", "ca_file"};
	for (size_t i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++) {
		const char *v = cfg_str(c, cfg_keys[i]);
		if (v && j->nattrs + 2 <= PW_AWS_JOURNAL_ATTRS) {
			j->attrs[j->nattrs++] = cfg_keys[i];
			j->attrs[j->nattrs++] = v;
		}
	}
	j->attrs[j->nattrs] = NULL;
	*je = (pw_journal_entry)PW_JOURNAL_ENTRY_INIT;
	je->connector = "aws";
	je->kind = kind;
	je->name = j->name ? j->name : "";
	je->address = j->address ? j->address : "";
	je->scope = c->region;
	je->attrs = j->attrs;
}

void pw__aws_journal_dispose(pw_aws_journal *j)
{
	pw_free(j->address);
	pw_free(j->name);
	memset(j, 0, sizeof(*j));
}
