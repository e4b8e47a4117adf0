/* The HTTP client against a scripted local server (tests/net/http_server.py) over TCP, TLS with
 * a CA made here by openssl, and a unix socket: reuse, retries, deadlines, cancel, redaction. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "fake_server.h"
#include "net/curl_api.h"
#include "net/http.h"
#include "net/json.h"
#include "pwtest.h"

/* ---- the server ---- */

static struct {
	int started;
	pw_fake_server fs; /* port[]: plain, TLS, TLS with client certificates */
	char dir[64];
	char sock[128];
	char ca[128];
	char base[64], tls_base[64], mtls_base[64];
} srv;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the server once for the whole program; 0 when it is up. */
static int server(void)
{
	if (srv.started)
		return srv.fs.pid > 0 ? 0 : -1;
	srv.started = 1;
	/* a proxy from the environment must not intercept loopback tests */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pwnet") < 0 ||
	    pw_test_certs(srv.dir, "pipewright test CA", "localhost", "/CN=pipewright test client") < 0)
		return -1;
	snprintf(srv.sock, sizeof(srv.sock), "%s/http.sock", srv.dir);
	snprintf(srv.ca, sizeof(srv.ca), "%s/ca.pem", srv.dir);
	char cert[128], key[128];
	snprintf(cert, sizeof(cert), "%s/srv.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/srv.key", srv.dir);
	const char *args[] = {"--tls-cert", cert,          "--tls-key", key, "--unix",
	                      srv.sock,     "--client-ca", srv.ca,      NULL};
	const char *names[] = {"PORT", "TLSPORT", "MTLSPORT", NULL};
	if (pw_fake_server_start(&srv.fs, "tests/net/http_server.py", args, names, "READY") < 0 ||
	    !srv.fs.port[1] || !srv.fs.port[2])
		return -1;
	snprintf(srv.base, sizeof(srv.base), "http://127.0.0.1:%d", srv.fs.port[0]);
	snprintf(srv.tls_base, sizeof(srv.tls_base), "https://127.0.0.1:%d", srv.fs.port[1]);
	snprintf(srv.mtls_base, sizeof(srv.mtls_base), "https://127.0.0.1:%d", srv.fs.port[2]);
	return 0;
}

/* ---- helpers ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static pw_http_pool *pool_or_null(void)
{
	pw_http_pool *p = NULL;
	pw_error *err = NULL;
	if (pw__http_pool_new(&p, &err) < 0) {
		fprintf(stderr, "pool: %s\n", pw_error_message(err));
		pw_error_free(err);
	}
	return p;
}

static pw_http_endpoint plain_ep(void)
{
	pw_http_endpoint ep = {.base_url = srv.base};
	return ep;
}

/* GET base+path through pool; returns pw__http_do's code. */
static int get(pw_http_pool *p, const char *path, pw_http_response *out)
{
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = path;
	req.retry_base_ms = 10;
	return pw__http_do(out, p, &ep, &req, NULL);
}

/* The hit counter the server keeps for key. */
static long hits(pw_http_pool *p, const char *key)
{
	char path[128];
	snprintf(path, sizeof(path), "/hits/%s", key);
	pw_http_response r;
	long n = -1;
	if (get(p, path, &r) == 0 && r.status == 200)
		n = strtol(r.body, NULL, 10);
	pw__http_response_dispose(&r);
	return n;
}

#define SETUP_POOL(p)                     \
	PW_REQUIRE(server() == 0);        \
	pw_http_pool *p = pool_or_null(); \
	PW_REQUIRE(p != NULL)

/* ---- plain requests ---- */

PW_TEST(get_echo_with_headers)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	const char *headers[] = {"X-Test: one", "Accept: application/json", NULL};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo?a=1&b=two";
	req.headers = headers;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK(err == NULL);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_STR(pw__http_header_get(&r, "Content-Type"), "application/json");
	json_t *doc = NULL;
	PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", &err) == 0);
	PW_CHECK_STR(pw__json_get_string(doc, "method"), "GET");
	PW_CHECK_STR(pw__json_get_string(doc, "path"), "/echo?a=1&b=two");
	PW_CHECK_STR(pw__json_get_string(doc, "headers.x-test"), "one");
	PW_CHECK_CONTAINS(pw__json_get_string(doc, "headers.user-agent"), "pipewright/");
	json_decref(doc);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(methods_and_bodies)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	const char *ct[] = {"Content-Type: application/json", NULL};
	const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
	for (size_t i = 0; i < 4; i++) {
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.method = methods[i];
		req.path_and_query = "/echo";
		req.headers = ct;
		req.body = "{\"a\":1}";
		req.body_len = 7;
		pw_http_response r;
		PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
		json_t *doc = NULL;
		PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", NULL) == 0);
		PW_CHECK_STR(pw__json_get_string(doc, "method"), methods[i]);
		PW_CHECK_STR(pw__json_get_string(doc, "body"), "{\"a\":1}");
		PW_CHECK_STR(pw__json_get_string(doc, "headers.content-type"), "application/json");
		json_decref(doc);
		pw__http_response_dispose(&r);
	}
	/* POST without a body or content type: Content-Length 0, no invented form type */
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.path_and_query = "/echo";
	pw_http_response r;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	json_t *doc = NULL;
	PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", NULL) == 0);
	PW_CHECK_STR(pw__json_get_string(doc, "headers.content-length"), "0");
	PW_CHECK(pw__json_get(doc, "headers.content-type") == NULL);
	PW_CHECK(pw__json_get(doc, "headers.expect") == NULL);
	json_decref(doc);
	pw__http_response_dispose(&r);

	/* HEAD: headers only */
	req.method = "HEAD";
	req.path_and_query = "/big?bytes=50";
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_INT(r.body_len, 0);
	PW_CHECK_STR(pw__http_header_get(&r, "content-length"), "50");
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

struct upload {
	const char *pieces[4];
	size_t next;
	int rewinds;
};

static long long upload_read(char *buf, size_t cap, void *payload)
{
	struct upload *u = payload;
	const char *s = u->pieces[u->next];
	if (!s)
		return 0;
	size_t n = strlen(s);
	if (n > cap)
		return PW_EINVAL;
	memcpy(buf, s, n);
	u->next++;
	return (long long)n;
}

PW_TEST(streamed_upload_is_sent_chunked)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	struct upload u = {{"tar-part-1;", "tar-part-2;", "end", NULL}, 0, 0};
	const char *ct[] = {"Content-Type: application/x-tar", NULL};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.path_and_query = "/echo";
	req.headers = ct;
	req.upload_read = upload_read;
	req.upload_payload = &u;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	json_t *doc = NULL;
	PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", NULL) == 0);
	PW_CHECK_STR(pw__json_get_string(doc, "method"), "POST");
	PW_CHECK_STR(pw__json_get_string(doc, "body"), "tar-part-1;tar-part-2;end");
	PW_CHECK_STR(pw__json_get_string(doc, "headers.transfer-encoding"), "chunked");
	json_decref(doc);
	pw__http_response_dispose(&r);
	pw_error_free(err);
	pw__http_pool_free(p);
}

PW_TEST(response_headers_lower_cased_and_joined)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_CHECK_INT(get(p, "/headers", &r), 0);
	PW_CHECK_STR(pw__http_header_get(&r, "X-Multi"), "a, b");
	PW_CHECK_STR(pw__http_header_get(&r, "x-mixed-case"), "v");
	PW_CHECK_STR(pw_map_get(r.headers, "x-mixed-case"), "v");
	PW_CHECK(pw__http_header_get(&r, "x-absent") == NULL);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

/* ---- connection reuse ---- */

static long conn_id(pw_http_pool *p)
{
	pw_http_response r;
	long id = -1;
	if (get(p, "/conn", &r) == 0 && r.status == 200)
		id = strtol(r.body, NULL, 10);
	pw__http_response_dispose(&r);
	return id;
}

PW_TEST(sequential_requests_reuse_one_connection)
{
	SETUP_POOL(p);
	long first = conn_id(p);
	PW_CHECK(first > 0);
	for (int i = 0; i < 5; i++)
		PW_CHECK_INT(conn_id(p), first);
	/* another pool has its own connections */
	pw_http_pool *q = pool_or_null();
	PW_REQUIRE(q != NULL);
	long other = conn_id(q);
	PW_CHECK(other > 0 && other != first);
	PW_CHECK_INT(conn_id(q), other);
	pw__http_pool_free(q);
	pw__http_pool_free(p);
}

/* A server that leaves Nagle's algorithm on (Python's http.server, and the emulators built on
 * it) writes a response's headers, then holds its body back until they are acknowledged. On a
 * kept-alive connection the client's kernel delays that ACK (it expects to send the next
 * request with it): 40 ms or more per request, unless the client acknowledges at once. Each
 * request to it is timed against the same request to a server without Nagle, alternately; the
 * stall would put the one median 40 ms above the other. */
PW_TEST(kept_alive_connection_does_not_stall_on_a_nagle_server)
{
	SETUP_POOL(p);
	static pw_fake_server nagle;
	const char *args[] = {"--nagle", NULL};
	const char *names[] = {"PORT", NULL};
	PW_REQUIRE(pw_fake_server_start(&nagle, "tests/net/http_server.py", args, names, "READY") == 0);
	char nagle_base[64];
	snprintf(nagle_base, sizeof(nagle_base), "http://127.0.0.1:%d", nagle.port[0]);
	enum { N = 15 };
	int64_t took[2][N];
	long conn[2] = {0, 0};
	int ok = 1;
	for (int i = -1; i < N && ok; i++) {
		for (int k = 0; k < 2; k++) {
			pw_http_endpoint ep = {.base_url = k ? nagle_base : srv.base};
			pw_http_request req = PW_HTTP_REQUEST_INIT;
			req.path_and_query = "/conn";
			pw_http_response r;
			int64_t t0 = now_ms();
			int rc = pw__http_do(&r, p, &ep, &req, NULL);
			int64_t t = now_ms() - t0;
			long id = rc == 0 && r.status == 200 ? strtol(r.body, NULL, 10) : -1;
			pw__http_response_dispose(&r);
			if (i < 0) /* the first: connects */
				conn[k] = id;
			else
				took[k][i] = t;
			ok = id > 0 && id == conn[k];
		}
	}
	PW_REQUIRE(ok); /* every request answered, on the one connection of each server */
	for (int k = 0; k < 2; k++)
		qsort(took[k], N, sizeof(took[k][0]), cmp_i64);
	int64_t plain = took[0][N / 2], held = took[1][N / 2];
	if (held >= plain + 20)
		fprintf(stderr, "median %lld ms against a Nagle server, %lld ms without\n", (long long)held,
		        (long long)plain);
	PW_CHECK(held < plain + 20);
	pw__http_pool_free(p);
}

struct thread_arg {
	pw_http_pool *pool;
	int ok;
};

static void *thread_main(void *arg)
{
	struct thread_arg *t = arg;
	for (int i = 0; i < 10; i++) {
		pw_http_response r;
		if (get(t->pool, "/echo", &r) == 0 && r.status == 200)
			t->ok++;
		pw__http_response_dispose(&r);
	}
	return NULL;
}

PW_TEST(concurrent_requests_share_a_pool)
{
	SETUP_POOL(p);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i].pool = p;
		args[i].ok = 0;
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		PW_CHECK_INT(args[i].ok, 10);
	}
	pw__http_pool_free(p);
}

/* ---- retries ---- */

PW_TEST(retries_503_until_success)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_CHECK_INT(get(p, "/flaky/f1/2", &r), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_STR(r.body, "ok");
	PW_CHECK_INT(r.attempts, 3);
	PW_CHECK_INT(hits(p, "f1"), 3);
	pw__http_response_dispose(&r);

	/* retries exhausted: the last 503 is the caller's to interpret */
	PW_CHECK_INT(get(p, "/flaky/f2/10", &r), 0);
	PW_CHECK_INT(r.status, 503);
	PW_CHECK_INT(r.attempts, 1 + PW_HTTP_DEFAULT_RETRIES);
	PW_CHECK_INT(hits(p, "f2"), 1 + PW_HTTP_DEFAULT_RETRIES);
	pw__http_response_dispose(&r);

	/* the total deadline bounds the retries: no wait that would pass it */
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/flaky/f3/10";
	req.retry_base_ms = 300;
	req.total_timeout_ms = 400;
	int64_t t0 = now_ms();
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK(now_ms() - t0 < 400);
	PW_CHECK_INT(r.status, 503);
	PW_CHECK(r.attempts >= 1 && r.attempts <= 2);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(honours_retry_after)
{
	SETUP_POOL(p);
	pw_http_response r;
	int64_t t0 = now_ms();
	PW_CHECK_INT(get(p, "/ratelimit/r1", &r), 0);
	int64_t took = now_ms() - t0;
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_INT(r.attempts, 2);
	PW_CHECK(took >= 950);
	PW_CHECK(took < 3000);
	pw__http_response_dispose(&r);

	/* a Retry-After beyond the deadline: the 429 comes back at once */
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/ratelimit/r2";
	req.total_timeout_ms = 500;
	t0 = now_ms();
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 429);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK(now_ms() - t0 < 400);
	PW_CHECK_STR(pw__http_header_get(&r, "retry-after"), "1");
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(client_errors_are_not_retried)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_CHECK_INT(get(p, "/status/404/s1", &r), 0);
	PW_CHECK_INT(r.status, 404);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_STR(r.body, "status 404");
	PW_CHECK_INT(hits(p, "s1"), 1);
	pw__http_response_dispose(&r);

	/* 500: retried for GET, not for POST */
	PW_CHECK_INT(get(p, "/status/500/s2", &r), 0);
	PW_CHECK_INT(r.attempts, 1 + PW_HTTP_DEFAULT_RETRIES);
	pw__http_response_dispose(&r);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.path_and_query = "/status/500/s3";
	req.retry_base_ms = 10;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 500);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_INT(hits(p, "s3"), 1);
	pw__http_response_dispose(&r);
	/* ... unless the caller allows it */
	req.path_and_query = "/status/500/s4";
	req.retry_non_idempotent = 1;
	req.max_retries = 1;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.attempts, 2);
	PW_CHECK_INT(hits(p, "s4"), 2);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(reset_mid_response_is_retried_for_get_only)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_CHECK_INT(get(p, "/reset/x1/1", &r), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_STR(r.body, "ok");
	PW_CHECK_INT(r.attempts, 2);
	pw__http_response_dispose(&r);

	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.path_and_query = "/reset/x2/1";
	req.retry_base_ms = 10;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EIO);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_INT(hits(p, "x2"), 1);
	PW_REQUIRE(err != NULL);
	PW_CHECK_CONTAINS(pw_error_operation(err), "POST http://127.0.0.1:");
	PW_CHECK_CONTAINS(pw_error_operation(err), "/reset/x2/1");
	pw_error_free(err);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

/* ---- deadlines and cancellation ---- */

/* libcurl before 7.80 (no CURLOPT_PREREQFUNCTION) and 7.85 (no CURLOPT_PROTOCOLS_STR):
 * curl_easy_setopt answers CURLE_UNKNOWN_OPTION for them. */
static __typeof__(pw__curl.easy_setopt) real_setopt;

static CURLcode old_curl_setopt(CURL *e, CURLoption opt, ...)
{
	if (opt == CURLOPT_PREREQFUNCTION || opt == CURLOPT_PREREQDATA || opt == CURLOPT_PROTOCOLS_STR)
		return CURLE_UNKNOWN_OPTION;
	va_list ap;
	va_start(ap, opt);
	CURLcode rc;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = real_setopt(e, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		rc = real_setopt(e, opt, va_arg(ap, curl_off_t));
	else
		rc = real_setopt(e, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

PW_TEST(post_is_not_retried_when_libcurl_cannot_tell_it_was_sent)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.body = "x";
	req.body_len = 1;
	req.path_and_query = "/reset/oldcurl/1";
	req.retry_base_ms = 10;
	pw_http_response r;
	real_setopt = pw__curl.easy_setopt;
	pw__curl.easy_setopt = old_curl_setopt;
	int rc = pw__http_do(&r, p, &ep, &req, NULL);
	pw__curl.easy_setopt = real_setopt;
	PW_CHECK_INT(rc, PW_EIO);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_INT(hits(p, "oldcurl"), 1);
	pw__http_response_dispose(&r);

	/* a GET is still retried, and plain http works without CURLOPT_PROTOCOLS_STR */
	req.method = "GET";
	req.body = NULL;
	req.path_and_query = "/reset/oldcurl-get/1";
	pw__curl.easy_setopt = old_curl_setopt;
	rc = pw__http_do(&r, p, &ep, &req, NULL);
	pw__curl.easy_setopt = real_setopt;
	PW_CHECK_INT(rc, 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_INT(r.attempts, 2);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(post_is_not_replayed_by_libcurl_on_a_reused_connection)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_REQUIRE(get(p, "/conn", &r) == 0); /* leaves a kept-alive connection */
	pw__http_response_dispose(&r);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.body = "once";
	req.body_len = 4;
	req.path_and_query = "/drop/replay";
	req.retry_base_ms = 10;
	pw_error *err = NULL;
	PW_CHECK(pw__http_do(&r, p, &ep, &req, &err) < 0);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_INT(hits(p, "replay"), 1);
	pw_error_free(err);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(silent_server_hits_the_idle_timeout)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/slow?ms=3000";
	req.idle_timeout_ms = 300; /* no total_timeout_ms */
	req.max_retries = 0;
	pw_http_response r;
	pw_error *err = NULL;
	int64_t t0 = now_ms();
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_ETIMEOUT);
	int64_t took = now_ms() - t0;
	PW_CHECK(took >= 250 && took < 2000);
	PW_CHECK_CONTAINS(pw_error_message(err), "nothing was sent or received for 300 ms");
	pw_error_free(err);
	pw__http_response_dispose(&r);

	/* a stream that keeps sending is not idle */
	req.path_and_query = "/stream?chunks=6&ms=100";
	req.idle_timeout_ms = 300;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(slow_answer_times_out)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/slow?ms=3000";
	req.total_timeout_ms = 300;
	pw_http_response r;
	pw_error *err = NULL;
	int64_t t0 = now_ms();
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_ETIMEOUT);
	int64_t took = now_ms() - t0;
	PW_CHECK(took >= 290 && took < 800);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_CONTAINS(pw_error_message(err), "timed out");
	PW_CHECK_CONTAINS(pw_error_operation(err), "GET http://127.0.0.1:");
	pw_error_free(err);
	pw__http_pool_free(p);
}

struct canceller {
	int fd;
	long after_ms;
	int64_t fired_at;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = {c->after_ms / 1000, (c->after_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	c->fired_at = now_ms();
	if (write(c->fd, "x", 1) != 1)
		c->fired_at = -1;
	return NULL;
}

static int run_cancelled(pw_http_pool *p, const char *path, long base_ms, int64_t *latency, pw_error **err)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	struct canceller c = {fds[1], 200, 0};
	pthread_t th;
	pthread_create(&th, NULL, cancel_later, &c);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = path;
	req.cancel_fd = fds[0];
	req.retry_base_ms = base_ms;
	pw_http_response r;
	int rc = pw__http_do(&r, p, &ep, &req, err);
	int64_t end = now_ms();
	pthread_join(th, NULL);
	*latency = end - c.fired_at;
	pw__http_response_dispose(&r);
	close(fds[0]);
	close(fds[1]);
	return rc;
}

PW_TEST(cancel_fd_aborts_a_slow_answer_promptly)
{
	SETUP_POOL(p);
	int64_t latency = 0;
	pw_error *err = NULL;
	PW_CHECK_INT(run_cancelled(p, "/slow?ms=5000", 10, &latency, &err), PW_ECANCELLED);
	PW_CHECK(latency >= 0 && latency < 200);
	PW_CHECK_CONTAINS(pw_error_message(err), "cancelled");
	pw_error_free(err);
	/* the pool still works afterwards */
	pw_http_response r;
	PW_CHECK_INT(get(p, "/echo", &r), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

PW_TEST(cancel_fd_interrupts_the_wait_between_retries)
{
	SETUP_POOL(p);
	int64_t latency = 0;
	pw_error *err = NULL;
	PW_CHECK_INT(run_cancelled(p, "/flaky/c1/10", 5000, &latency, &err), PW_ECANCELLED);
	PW_CHECK(latency >= 0 && latency < 200);
	PW_CHECK_INT(hits(p, "c1"), 1);
	pw_error_free(err);
	pw__http_pool_free(p);
}

/* ---- bodies ---- */

struct sink {
	pw_buf data;
	int pieces;
	int stop_after;
};

static int collect(const char *data, size_t len, void *payload)
{
	struct sink *s = payload;
	pw__buf_append(&s->data, data, len);
	s->pieces++;
	return s->stop_after && s->pieces >= s->stop_after ? 1 : 0;
}

PW_TEST(streamed_body_arrives_in_pieces)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	struct sink s = {PW_BUF_INIT(0), 0, 0};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/stream?chunks=4&ms=40";
	req.on_body = collect;
	req.payload = &s;
	pw_http_response r;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_STR(pw__buf_cstr(&s.data), "chunk-0\nchunk-1\nchunk-2\nchunk-3\n");
	PW_CHECK(s.pieces >= 3);
	PW_CHECK_INT(r.body_len, 0);
	pw__http_response_dispose(&r);

	/* the consumer stops after the first piece: not an error, and quick */
	pw__buf_clear(&s.data);
	s.pieces = 0;
	s.stop_after = 1;
	req.path_and_query = "/stream?chunks=20&ms=100";
	int64_t t0 = now_ms();
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK(now_ms() - t0 < 1000);
	PW_CHECK_INT(s.pieces, 1);
	PW_CHECK_STR(pw__buf_cstr(&s.data), "chunk-0\n");
	pw__http_response_dispose(&r);

	/* error statuses are buffered, not streamed */
	pw__buf_clear(&s.data);
	s.pieces = 0;
	req.path_and_query = "/status/404/st1";
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 404);
	PW_CHECK_INT(s.pieces, 0);
	PW_CHECK_STR(r.body, "status 404");
	pw__http_response_dispose(&r);
	pw__buf_dispose(&s.data);
	pw__http_pool_free(p);
}

PW_TEST(oversized_body_is_an_error)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/big?bytes=100000";
	req.max_response = 1000;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(err), "exceeds the limit of 1000 bytes");
	PW_CHECK(r.body == NULL);
	pw_error_free(err);
	req.path_and_query = "/big?bytes=1000";
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.body_len, 1000);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

/* ---- debug dumps ---- */

static void dump(const char *text, void *payload)
{
	pw_buf *b = payload;
	pw__buf_puts(b, text);
	pw__buf_putc(b, '\n');
}

PW_TEST(debug_dump_redacts_credentials)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = plain_ep();
	pw_buf d = PW_BUF_INIT(0);
	const char *headers[] = {"Authorization: Bearer s3cr3t-token", "X-Custom-Secret: hush-hush",
	                         "PRIVATE-TOKEN: glpat-abc", "X-Visible: shown", NULL};
	const char *redact[] = {"x-custom-secret", NULL};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo";
	req.headers = headers;
	req.redact_headers = redact;
	req.on_debug = dump;
	req.debug_payload = &d;
	pw_http_response r;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_CONTAINS(r.body, "s3cr3t-token"); /* it was sent */
	const char *text = pw__buf_cstr(&d);
	PW_CHECK_CONTAINS(text, "> GET /echo HTTP/1.1");
	PW_CHECK_CONTAINS(text, "> Authorization: ***");
	PW_CHECK_CONTAINS(text, "> X-Custom-Secret: ***");
	PW_CHECK_CONTAINS(text, "> PRIVATE-TOKEN: ***");
	PW_CHECK_CONTAINS(text, "> X-Visible: shown");
	PW_CHECK_CONTAINS(text, "< HTTP/1.1 200 OK");
	PW_CHECK_CONTAINS(text, "bytes of body]");
	PW_CHECK_NOT_CONTAINS(text, "s3cr3t-token");
	PW_CHECK_NOT_CONTAINS(text, "hush-hush");
	PW_CHECK_NOT_CONTAINS(text, "glpat-abc");
	pw__http_response_dispose(&r);

	/* response cookies too */
	pw__buf_clear(&d);
	req.path_and_query = "/headers";
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&d), "< Set-Cookie: ***");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&d), "sekrit");
	pw__http_response_dispose(&r);
	pw__buf_dispose(&d);
	pw__http_pool_free(p);
}

PW_TEST(debug_dump_hides_proxy_credentials)
{
	SETUP_POOL(p);
	/* the test server answers absolute-form requests too, so it stands in for the proxy */
	char proxy[128];
	snprintf(proxy, sizeof(proxy), "http://puser:PROXYSECRET@127.0.0.1:%d", srv.fs.port[0]);
	setenv("http_proxy", proxy, 1);
	pw_http_endpoint ep = {.base_url = "http://proxied.invalid"};
	pw_buf d = PW_BUF_INIT(0);
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo";
	req.on_debug = dump;
	req.debug_payload = &d;
	pw_http_response r;
	int rc = pw__http_do(&r, p, &ep, &req, NULL);
	unsetenv("http_proxy");
	PW_CHECK_INT(rc, 0);
	PW_CHECK_INT(r.status, 200);
	const char *text = pw__buf_cstr(&d);
	PW_CHECK_CONTAINS(text, "http://***@127.0.0.1:");
	PW_CHECK_NOT_CONTAINS(text, "PROXYSECRET");
	PW_CHECK_NOT_CONTAINS(text, "puser");
	pw__http_response_dispose(&r);
	pw__buf_dispose(&d);
	pw__http_pool_free(p);
}

/* ---- redirects ---- */

static const char *const cred_headers[] = {"Authorization: Bearer AUTHSECRET",
                                           "Private-Token: PTSECRET",
                                           "Job-Token: JTSECRET",
                                           "X-Api-Key: KEYSECRET",
                                           "X-Registry-Auth: RASECRET",
                                           "X-Amz-Security-Token: STSECRET",
                                           "X-Custom-Secret: CUSTOMSECRET",
                                           "X-Visible: shown",
                                           NULL};
static const char *const cred_redact[] = {"x-custom-secret", NULL};

/* path "/redirect?to=<to>&code=<code>" in b */
static void redirect_path(pw_buf *b, const char *to, const char *code)
{
	pw__buf_clear(b);
	pw__buf_puts(b, "/redirect");
	pw__http_query_add(b, "to", to);
	pw__http_query_add(b, "code", code);
}

PW_TEST(redirect_to_another_origin_drops_credentials)
{
	SETUP_POOL(p);
	pw_http_response r;
	PW_REQUIRE(get(p, "/otherport", &r) == 0 && r.status == 200);
	char other[128];
	snprintf(other, sizeof(other), "http://127.0.0.1:%ld/echo", strtol(r.body, NULL, 10));
	pw__http_response_dispose(&r);

	pw_http_endpoint ep = plain_ep();
	pw_buf path = PW_BUF_INIT(0);
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "PUT";
	req.body = "payload";
	req.body_len = 7;
	req.headers = cred_headers;
	req.redact_headers = cred_redact;
	req.follow_redirects = 1;

	/* the same origin keeps them */
	redirect_path(&path, "/echo", "307");
	req.path_and_query = pw__buf_cstr(&path);
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_CONTAINS(r.body, "PTSECRET");
	PW_CHECK_CONTAINS(r.body, "AUTHSECRET");
	pw__http_response_dispose(&r);

	/* another port gets the request and its body, but none of the credentials */
	redirect_path(&path, other, "307");
	req.path_and_query = pw__buf_cstr(&path);
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	PW_CHECK_INT(r.attempts, 1);
	PW_CHECK_CONTAINS(r.body, "\"method\": \"PUT\"");
	PW_CHECK_CONTAINS(r.body, "payload");
	PW_CHECK_CONTAINS(r.body, "shown");
	const char *secrets[] = {"AUTHSECRET", "PTSECRET", "JTSECRET",    "KEYSECRET",
	                         "RASECRET",   "STSECRET", "CUSTOMSECRET"};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		PW_CHECK_NOT_CONTAINS(r.body, secrets[i]);
	pw__http_response_dispose(&r);
	pw_error_free(err);

	/* 303 turns it into a GET without body */
	redirect_path(&path, other, "303");
	req.path_and_query = pw__buf_cstr(&path);
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, NULL), 0);
	PW_CHECK_CONTAINS(r.body, "\"method\": \"GET\"");
	PW_CHECK_NOT_CONTAINS(r.body, "payload");
	PW_CHECK_NOT_CONTAINS(r.body, "PTSECRET");
	pw__http_response_dispose(&r);
	pw__buf_dispose(&path);
	pw__http_pool_free(p);
}

PW_TEST(redirect_from_https_to_http_is_refused)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = {.base_url = srv.tls_base, .ca_file = srv.ca};
	char to[128];
	snprintf(to, sizeof(to), "%s/status/200/downgrade", srv.base);
	pw_buf path = PW_BUF_INIT(0);
	redirect_path(&path, to, "302");
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = pw__buf_cstr(&path);
	req.headers = cred_headers;
	req.follow_redirects = 1;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(err), "from HTTPS to plain HTTP");
	PW_CHECK_INT(hits(p, "downgrade"), 0);
	pw_error_free(err);
	pw__http_response_dispose(&r);
	pw__buf_dispose(&path);
	pw__http_pool_free(p);
}

/* ---- malformed requests ---- */

static void check_refused(pw_http_pool *p, const char *method, const char *header)
{
	pw_http_endpoint ep = plain_ep();
	const char *headers[] = {header, NULL};
	pw_buf d = PW_BUF_INIT(0);
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = method;
	req.path_and_query = "/status/200/injected";
	req.headers = headers;
	req.on_debug = dump;
	req.debug_payload = &d;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EINVAL);
	PW_CHECK_CONTAINS(pw_error_message(err), "contains a line break");
	PW_CHECK_NOT_CONTAINS(pw_error_message(err), "SECRETTAIL");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&d), "SECRETTAIL");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&d), "X-Injected");
	pw_error_free(err);
	pw__http_response_dispose(&r);
	pw__buf_dispose(&d);
}

PW_TEST(line_breaks_in_headers_and_method_are_refused)
{
	SETUP_POOL(p);
	check_refused(p, "GET", "X-Token: abc\r\nX-Injected: evil");
	check_refused(p, "GET", "Authorization: Bearer tok\nSECRETTAIL");
	check_refused(p, "GET", "X-Inj\r\nected: SECRETTAIL");
	check_refused(p, "GET / HTTP/1.1\r\nX-Injected: SECRETTAIL\r\n", "X-Ok: 1");
	PW_CHECK_INT(hits(p, "injected"), 0);

	/* a line break in the path does not break the error message */
	pw_http_endpoint ep = {.base_url = "http://127.0.0.1:1"};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/a\r\nb";
	req.max_retries = 0;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK(pw__http_do(&r, p, &ep, &req, &err) < 0);
	PW_CHECK_NOT_CONTAINS(pw_error_message(err), "\n");
	PW_CHECK_NOT_CONTAINS(pw_error_message(err), "\r");
	PW_CHECK_CONTAINS(pw_error_message(err), "/a%0D%0Ab");
	pw_error_free(err);
	pw__http_response_dispose(&r);
	pw__http_pool_free(p);
}

/* ---- unix socket ---- */

PW_TEST(unix_socket_endpoint)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = {.base_url = "http://localhost", .unix_socket = srv.sock};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo";
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	json_t *doc = NULL;
	PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", NULL) == 0);
	PW_CHECK_STR(pw__json_get_string(doc, "headers.host"), "localhost");
	long long conn = 0;
	PW_CHECK_INT(pw__json_get_int(&conn, doc, "conn"), 0);
	json_decref(doc);
	pw__http_response_dispose(&r);
	/* reused as well */
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_REQUIRE(pw__json_load(&doc, r.body, r.body_len, 0, "the echo", NULL) == 0);
	long long again = -1;
	PW_CHECK_INT(pw__json_get_int(&again, doc, "conn"), 0);
	PW_CHECK_INT(again, conn);
	json_decref(doc);
	pw__http_response_dispose(&r);
	pw_error_free(err);
	pw__http_pool_free(p);
}

PW_TEST(missing_unix_socket_names_the_path)
{
	SETUP_POOL(p);
	char path[256];
	snprintf(path, sizeof(path), "%s/absent.sock", srv.dir);
	pw_http_endpoint ep = {.base_url = "http://localhost", .unix_socket = path};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/_ping";
	req.max_retries = 1;
	req.retry_base_ms = 10;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EIO);
	PW_CHECK_INT(r.attempts, 2);
	PW_REQUIRE(err != NULL);
	PW_CHECK_CONTAINS(pw_error_message(err), "after 2 attempts");
	PW_CHECK_CONTAINS(pw_error_operation(err), "GET http://localhost/_ping (unix socket ");
	PW_CHECK_CONTAINS(pw_error_hint(err), path);
	PW_CHECK_CONTAINS(pw_error_hint(err), "may not be running");
	pw_error_free(err);
	pw__http_pool_free(p);
}

PW_TEST(refused_connection_is_an_io_error_with_hint)
{
	SETUP_POOL(p);
	/* a port nobody listens on: bind one, note it, close it */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	PW_REQUIRE(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	PW_REQUIRE(getsockname(s, (struct sockaddr *)&a, &alen) == 0);
	close(s);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/api", ntohs(a.sin_port));
	pw_http_endpoint ep = {.base_url = base};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = "POST"; /* refused: never reached the server, so even POST is retried */
	req.path_and_query = "/x";
	req.max_retries = 2;
	req.retry_base_ms = 5;
	pw_http_response r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EIO);
	PW_CHECK_INT(r.attempts, 3);
	PW_CHECK_CONTAINS(pw_error_message(err), "POST http://127.0.0.1:");
	PW_CHECK_CONTAINS(pw_error_message(err), "/api/x failed: ");
	PW_CHECK_CONTAINS(pw_error_hint(err), "is the service running");
	pw_error_free(err);
	pw__http_pool_free(p);
}

/* ---- TLS ---- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(1 << 20);
	char chunk[4096];
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		if (n == 0)
			break;
		pw__buf_append(&b, chunk, n);
	}
	fclose(f);
	return pw__buf_detach(&b);
}

PW_TEST(tls_verification_and_ca_override)
{
	SETUP_POOL(p);
	pw_http_endpoint ep = {.base_url = srv.tls_base};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo";
	req.retry_base_ms = 10;
	pw_http_response r;
	pw_error *err = NULL;

	/* unknown CA: refused, with the CA-file hint, not retried */
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_EIO);
	PW_CHECK_INT(r.attempts, 1);
	PW_REQUIRE(err != NULL);
	PW_CHECK_CONTAINS(pw_error_message(err), "GET https://127.0.0.1:");
	PW_CHECK_CONTAINS(pw_error_hint(err), "CA file (ca_file)");
	pw_error_free(err);
	err = NULL;

	/* with the CA file */
	ep.ca_file = srv.ca;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);

	/* with the CA in memory (kubeconfig certificate-authority-data) */
	char *pem = read_file(srv.ca);
	PW_REQUIRE(pem != NULL);
	ep.ca_file = NULL;
	ep.ca_pem = pem;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);
	pw_free(pem);

	/* verification off by name */
	ep.ca_pem = NULL;
	ep.insecure_skip_verify = 1;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);

	/* a CA file that does not exist is a configuration error naming it */
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/nope.pem", srv.dir);
	ep.insecure_skip_verify = 0;
	ep.ca_file = missing;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_ECONFIG);
	PW_CHECK_CONTAINS(pw_error_hint(err), missing);
	pw_error_free(err);
	pw__http_pool_free(p);
}

PW_TEST(mutual_tls_client_certificate)
{
	SETUP_POOL(p);
	char cert[200], key[200];
	snprintf(cert, sizeof(cert), "%s/client.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/client.key", srv.dir);
	pw_http_endpoint ep = {.base_url = srv.mtls_base, .ca_file = srv.ca};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = "/echo";
	req.max_retries = 0;
	pw_http_response r;
	pw_error *err = NULL;

	/* without a client certificate the server refuses */
	PW_CHECK(pw__http_do(&r, p, &ep, &req, &err) < 0);
	PW_CHECK(err != NULL);
	/* how the refusal surfaces depends on timing (an alert on the first read, or a closed
	 * socket); when it is the alert, the hint says what is missing */
	if (strstr(pw_error_message(err), "certificate required"))
		PW_CHECK_CONTAINS(pw_error_hint(err), "client certificate");
	pw_error_free(err);
	err = NULL;

	/* from files */
	ep.client_cert = cert;
	ep.client_key = key;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);

	/* from memory */
	char *cert_pem = read_file(cert), *key_pem = read_file(key);
	PW_REQUIRE(cert_pem && key_pem);
	ep.client_cert = ep.client_key = NULL;
	ep.client_cert_pem = cert_pem;
	ep.client_key_pem = key_pem;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), 0);
	PW_CHECK_INT(r.status, 200);
	pw__http_response_dispose(&r);
	pw_free(cert_pem);
	pw_free(key_pem);

	/* an unreadable certificate file is a configuration error naming it */
	char missing[200];
	snprintf(missing, sizeof(missing), "%s/absent-client.pem", srv.dir);
	ep.client_cert_pem = ep.client_key_pem = NULL;
	ep.client_cert = missing;
	ep.client_key = key;
	PW_CHECK_INT(pw__http_do(&r, p, &ep, &req, &err), PW_ECONFIG);
	PW_CHECK_CONTAINS(pw_error_hint(err), missing);
	pw_error_free(err);
	pw__http_pool_free(p);
}

PW_TEST_MAIN()
