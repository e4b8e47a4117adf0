/* Every v4 case of the AWS signing test suite (specs/aws-sigv4/v4): each request.txt is signed
 * with its context.json in header and presigned-query form, and the canonical request, string
 * to sign and signature must equal the suite's files. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/sigv4.h"
#include "core/buf.h"
#include "pwtest.h"

static char *slurp(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pw__buf_append(&b, chunk, n);
	fclose(f);
	return pw__buf_detach(&b);
}

static const char *suite_dir(void)
{
	static char d[1024];
	const char *e = getenv("PW_SIGV4_SUITE");
	if (e)
		return e;
	/* AWS's signing test suite, kept in tests/specs/aws-sigv4 with its licence */
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(d, sizeof(d), "%s/tests/specs/aws-sigv4/v4", src ? src : ".");
	return d;
}

typedef struct parsed {
	char *text; /* request.txt, cut in place */
	const char *method;
	char *path;
	char *query;
	pw_sigv4_header h[32];
	size_t nh;
	const char *body;
} parsed;

/* request.txt: "METHOD PATH[?QUERY] HTTP/1.1", headers (lines starting with white space continue
 * the previous value), an empty line, the body. */
static int parse_request(parsed *r, char *text)
{
	memset(r, 0, sizeof(*r));
	r->text = text;
	char *eol = strchr(text, '\n');
	if (!eol)
		return -1;
	*eol = '\0';
	char *sp = strchr(text, ' ');
	char *ver = strstr(text, " HTTP/1.1");
	if (!sp || !ver)
		return -1;
	*sp = '\0';
	*ver = '\0';
	r->method = text;
	r->path = sp + 1;
	char *q = strchr(r->path, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	char *line = eol + 1;
	while (*line && *line != '\n') {
		char *end = strchr(line, '\n');
		/* join continuation lines into this header's value */
		while (end && (end[1] == ' ' || end[1] == '\t'))
			end = strchr(end + 1, '\n');
		char *next = end ? end + 1 : line + strlen(line);
		if (end)
			*end = '\0';
		char *colon = strchr(line, ':');
		if (!colon || r->nh == 32)
			return -1;
		*colon = '\0';
		r->h[r->nh].name = line;
		r->h[r->nh++].value = colon + 1;
		line = next;
	}
	r->body = *line == '\n' ? line + 1 : line;
	return 0;
}

static time_t parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	                 &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void rstrip(char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* Signs one case in one mode; returns the number of mismatches. */
static int check_case(const char *dir, const char *name, int presign)
{
	char *ctx_text = slurp(dir, "context.json");
	char *req_text = slurp(dir, "request.txt");
	const char *pre = presign ? "query" : "header";
	char f1[64], f2[64], f3[64];
	snprintf(f1, sizeof(f1), "%s-canonical-request.txt", pre);
	snprintf(f2, sizeof(f2), "%s-string-to-sign.txt", pre);
	snprintf(f3, sizeof(f3), "%s-signature.txt", pre);
	char *want_creq = slurp(dir, f1), *want_sts = slurp(dir, f2), *want_sig = slurp(dir, f3);
	int bad = 0;
	json_t *ctx = ctx_text ? json_loads(ctx_text, 0, NULL) : NULL;
	parsed r;
	if (!ctx || !req_text || !want_creq || !want_sts || !want_sig || parse_request(&r, req_text) < 0) {
		fprintf(stderr, "  %s: cannot read the case\n", name);
		bad = 1;
		goto done;
	}
	rstrip(want_creq);
	rstrip(want_sts);
	rstrip(want_sig);
	json_t *cr = json_object_get(ctx, "credentials");
	pw_sigv4_input in = {0};
	in.method = r.method;
	in.path = r.path;
	in.query = r.query;
	in.headers = r.h;
	in.nheaders = r.nh;
	in.body = r.body;
	in.body_len = strlen(r.body);
	in.region = json_string_value(json_object_get(ctx, "region"));
	in.service = json_string_value(json_object_get(ctx, "service"));
	in.access_key_id = json_string_value(json_object_get(cr, "access_key_id"));
	in.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key"));
	in.session_token = json_string_value(json_object_get(cr, "token"));
	in.when = parse_time(json_string_value(json_object_get(ctx, "timestamp")));
	in.normalize_path = json_is_true(json_object_get(ctx, "normalize"));
	in.double_encode = 1;
	in.add_content_sha256 = json_is_true(json_object_get(ctx, "sign_body"));
	in.omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token"));
	in.presign = presign;
	in.expires = (long)json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
	pw_sigv4_output o;
	pw_error *e = NULL;
	if (pw__sigv4_sign(&o, &in, &e) < 0) {
		fprintf(stderr, "  %s (%s): sign failed: %s\n", name, pre, pw_error_message(e));
		pw_error_free(e);
		bad = 1;
		goto done;
	}
	if (strcmp(o.canonical_request, want_creq) != 0) {
		fprintf(stderr, "  %s (%s): canonical request\n--- got\n%s\n--- want\n%s\n", name, pre,
		        o.canonical_request, want_creq);
		bad++;
	}
	if (strcmp(o.string_to_sign, want_sts) != 0) {
		fprintf(stderr, "  %s (%s): string to sign differs\n", name, pre);
		bad++;
	}
	if (strcmp(o.signature, want_sig) != 0) {
		fprintf(stderr, "  %s (%s): signature %s, want %s\n", name, pre, o.signature, want_sig);
		bad++;
	}
	if (!presign) {
		/* the Authorization line of the signed request */
		char *signed_req = slurp(dir, "header-signed-request.txt");
		char want_auth[1024];
		snprintf(want_auth, sizeof(want_auth), "Authorization:%s\n", o.authorization);
		if (!signed_req || !strstr(signed_req, want_auth)) {
			fprintf(stderr, "  %s: Authorization header not in header-signed-request.txt\n",
			        name);
			bad++;
		}
		free(signed_req);
	} else {
		char *signed_req = slurp(dir, "query-signed-request.txt");
		char want[128];
		snprintf(want, sizeof(want), "X-Amz-Signature=%s", o.signature);
		if (!signed_req || !strstr(signed_req, want) || !strstr(o.signed_query, want)) {
			fprintf(stderr, "  %s: signature not in the presigned query\n", name);
			bad++;
		}
		free(signed_req);
	}
	pw__sigv4_output_dispose(&o);
done:
	json_decref(ctx);
	pw_free(ctx_text);
	pw_free(req_text);
	pw_free(want_creq);
	pw_free(want_sts);
	pw_free(want_sig);
	return bad;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

PW_TEST(test_every_v4_case_header_and_query)
{
	const char *root = suite_dir();
	DIR *d = opendir(root);
	PW_REQUIRE(d != NULL);
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 256)
		if (de->d_name[0] != '.')
			names[n++] = pw_strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	/* the suite has 38 v4 cases; each must be found and pass in both forms */
	PW_CHECK(n >= 38);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		char dir[1024];
		snprintf(dir, sizeof(dir), "%.800s/%.200s", root, names[i]);
		int b = check_case(dir, names[i], 0) + check_case(dir, names[i], 1);
		if (b)
			failed++;
		pw_free(names[i]);
	}
	fprintf(stderr, "  %zu cases, %d failed\n", n, failed);
	PW_CHECK_INT(failed, 0);
}

PW_TEST(test_canonical_path_rules)
{
	char *p = pw__sigv4_canonical_path("/a/./b/../c//d/", 1, 1);
	PW_CHECK_STR(p, "/a/c/d/");
	pw_free(p);
	p = pw__sigv4_canonical_path("/my%20key/x y", 0, 0);
	PW_CHECK_STR(p, "/my%20key/x y");
	pw_free(p);
	/* services other than S3 encode the wire path once more */
	p = pw__sigv4_canonical_path("/functions/a%3Ab", 1, 1);
	PW_CHECK_STR(p, "/functions/a%253Ab");
	pw_free(p);
	p = pw__sigv4_canonical_path("", 1, 1);
	PW_CHECK_STR(p, "/");
	pw_free(p);
	char *q = pw__sigv4_canonical_query("b=2&a=1&a=0&c");
	PW_CHECK_STR(q, "a=0&a=1&b=2&c=");
	pw_free(q);
}

PW_TEST(test_secret_not_in_any_output)
{
	pw_sigv4_header h[] = {{"Host", "ecs.us-east-1.amazonaws.com"}};
	pw_sigv4_input in = {0};
	in.method = "POST";
	in.path = "/";
	in.headers = h;
	in.nheaders = 1;
	in.region = "us-east-1";
	in.service = "ecs";
	in.access_key_id = "AKIDTEST";
	in.secret_access_key = "SECRETKEYVALUE";
	in.when = 1700000000;
	in.normalize_path = 1;
	in.double_encode = 1;
	pw_sigv4_output o;
	PW_REQUIRE(pw__sigv4_sign(&o, &in, NULL) == 0);
	PW_CHECK_NOT_CONTAINS(o.authorization, "SECRETKEYVALUE");
	PW_CHECK_NOT_CONTAINS(o.canonical_request, "SECRETKEYVALUE");
	PW_CHECK_NOT_CONTAINS(o.string_to_sign, "SECRETKEYVALUE");
	pw__sigv4_output_dispose(&o);
	in.nheaders = 0; /* no Host */
	pw_error *e = NULL;
	PW_CHECK_INT(pw__sigv4_sign(&o, &in, &e), PW_EINVAL);
	PW_CHECK_CONTAINS(pw_error_message(e), "no Host header");
	pw_error_free(e);
}

PW_TEST_MAIN()
