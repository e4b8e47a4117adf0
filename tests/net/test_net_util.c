/* Offline checks of the net layer's pure parts: retry policy, backoff, Retry-After, header
 * redaction, URL escaping and operation names, and the JSON helpers. */
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "net/http.h"
#include "net/http_internal.h"
#include "net/json.h"
#include "pwtest.h"

PW_TEST(idempotent_methods)
{
	PW_CHECK(pw__http_method_idempotent("GET"));
	PW_CHECK(pw__http_method_idempotent("delete"));
	PW_CHECK(pw__http_method_idempotent("PUT"));
	PW_CHECK(pw__http_method_idempotent(NULL));
	PW_CHECK(!pw__http_method_idempotent("POST"));
	PW_CHECK(!pw__http_method_idempotent("PATCH"));
}

PW_TEST(retryable_statuses)
{
	long always[] = {408, 429, 503};
	for (size_t i = 0; i < 3; i++) {
		PW_CHECK(pw__http_status_retryable(always[i], 0));
		PW_CHECK(pw__http_status_retryable(always[i], 1));
	}
	long repeatable[] = {500, 502, 504};
	for (size_t i = 0; i < 3; i++) {
		PW_CHECK(!pw__http_status_retryable(repeatable[i], 0));
		PW_CHECK(pw__http_status_retryable(repeatable[i], 1));
	}
	long never[] = {200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 501};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		PW_CHECK(!pw__http_status_retryable(never[i], 1));
}

PW_TEST(backoff_grows_with_jitter_and_cap)
{
	uint64_t rng = 12345;
	for (int round = 0; round < 50; round++) {
		for (unsigned retry = 1; retry <= 6; retry++) {
			long d = 100L << (retry - 1);
			long w = pw__http_backoff_ms(retry, 100, &rng);
			PW_CHECK(w >= d / 2 && w <= d);
		}
		long capped = pw__http_backoff_ms(40, 1000, &rng);
		PW_CHECK(capped >= PW_HTTP_MAX_BACKOFF_MS / 2 && capped <= PW_HTTP_MAX_BACKOFF_MS);
	}
	/* jitter: not always the same value */
	long first = pw__http_backoff_ms(3, 1000, &rng);
	int differs = 0;
	for (int i = 0; i < 20; i++)
		differs |= pw__http_backoff_ms(3, 1000, &rng) != first;
	PW_CHECK(differs);
	/* default base */
	long w = pw__http_backoff_ms(1, 0, &rng);
	PW_CHECK(w >= PW_HTTP_DEFAULT_RETRY_BASE_MS / 2 && w <= PW_HTTP_DEFAULT_RETRY_BASE_MS);
}

PW_TEST(retry_after_values)
{
	time_t now = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", NULL);
	PW_REQUIRE(now != (time_t)-1);
	PW_CHECK_INT(pw__http_retry_after_ms("1", now), 1000);
	PW_CHECK_INT(pw__http_retry_after_ms(" 120 ", now), 120000);
	PW_CHECK_INT(pw__http_retry_after_ms("0", now), 0);
	PW_CHECK_INT(pw__http_retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
	PW_CHECK_INT(pw__http_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
	PW_CHECK_INT(pw__http_retry_after_ms("soon", now), -1);
	PW_CHECK_INT(pw__http_retry_after_ms("12abc", now), -1);
	PW_CHECK_INT(pw__http_retry_after_ms(NULL, now), -1);
	PW_CHECK(pw__http_retry_after_ms("99999999999999999999", now) > 0);
}

static void redact(const char *line, const char *const *extra, const char *want)
{
	pw_buf b = PW_BUF_INIT(0);
	PW_CHECK_INT(pw__http_redact_line(&b, line, strlen(line), extra), 0);
	PW_CHECK_STR(pw__buf_cstr(&b), want);
	pw__buf_dispose(&b);
}

PW_TEST(header_redaction)
{
	const char *extra[] = {"X-Vault-Token", NULL};
	redact("Authorization: Bearer abc", NULL, "Authorization: ***");
	redact("authorization:Basic Zm9v", NULL, "authorization: ***");
	redact("Proxy-Authorization: x", NULL, "Proxy-Authorization: ***");
	redact("Cookie: a=b", NULL, "Cookie: ***");
	redact("X-Registry-Auth: eyJ", NULL, "X-Registry-Auth: ***");
	redact("x-vault-token: s.123", extra, "x-vault-token: ***");
	redact("x-vault-token: s.123", NULL, "x-vault-token: s.123");
	redact("Content-Type: application/json", extra, "Content-Type: application/json");
	redact("GET /authorization: HTTP/1.1", NULL, "GET /authorization: HTTP/1.1");
	redact("Authorizations: x", NULL, "Authorizations: x");
}

static void redact_text(const char *text, const char *want)
{
	pw_buf b = PW_BUF_INIT(0);
	PW_CHECK_INT(pw__http_redact_text(&b, text, strlen(text)), 0);
	PW_CHECK_STR(pw__buf_cstr(&b), want);
	pw__buf_dispose(&b);
}

PW_TEST(url_credentials_redaction)
{
	redact_text("Uses proxy env variable http_proxy == 'http://puser:PROXYSECRET@127.0.0.1:18082'",
	            "Uses proxy env variable http_proxy == 'http://***@127.0.0.1:18082'");
	redact_text("Location: https://u:p@w@host/x?a=b", "Location: https://***@host/x?a=b");
	redact_text("to http://host/a@b and ftp://x@y", "to http://host/a@b and ftp://***@y");
	redact_text("no url here://", "no url here://");
	redact_text("Proxy auth using Basic with user 'puser'", "Proxy auth using Basic with user '***'");
	redact("Location: https://u:pw@host/", NULL, "Location: https://***@host/");
}

PW_TEST(query_credentials_redaction)
{
	redact_text("GET /ok?access_token=QSECRET&X-Amz-Signature=SIGSECRET&sig=AZSECRET&page=2 HTTP/1.1",
	            "GET /ok?access_token=***&X-Amz-Signature=***&sig=***&page=2 HTTP/1.1");
	redact_text("GET /a?code=c0de#frag", "GET /a?code=***#frag");
	redact_text("Location: https://h/p?X-Goog-Credential=abc&state=s",
	            "Location: https://h/p?X-Goog-Credential=***&state=s");
	redact_text("GET /a?keys=1&monkey=2&api_key=k", "GET /a?keys=1&monkey=2&api_key=***");
	redact_text("a ?b and & c=", "a ?b and & c=");
	redact("Location: https://h/?token=t", NULL, "Location: https://h/?token=***");
	/* a folded continuation line may continue a secret header */
	redact(" SECRETPART=1", NULL, " ***");
	redact("\tSECRETPART=1", NULL, " ***");
}

PW_TEST(escaping)
{
	char *s = pw__http_escape("a b/c?d=\xc3\xa9~-._&+");
	PW_CHECK_STR(s, "a%20b%2Fc%3Fd%3D%C3%A9~-._%26%2B");
	pw_free(s);
	s = pw__http_escape_path("dir one/file#1.txt");
	PW_CHECK_STR(s, "dir%20one/file%231.txt");
	pw_free(s);
	s = pw__http_escape("");
	PW_CHECK_STR(s, "");
	pw_free(s);
	/* "." and ".." segments are names here, not the directory and its parent */
	s = pw__http_escape_path("../../admin/x y/./..a/.b/..");
	PW_CHECK_STR(s, "%2E%2E/%2E%2E/admin/x%20y/%2E/..a/.b/%2E%2E");
	pw_free(s);
	s = pw__http_escape("..");
	PW_CHECK_STR(s, "%2E%2E");
	pw_free(s);
	s = pw__http_escape("a..b");
	PW_CHECK_STR(s, "a..b");
	pw_free(s);

	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "/containers/json");
	PW_CHECK_INT(pw__http_query_add(&b, "all", "true"), 0);
	PW_CHECK_INT(pw__http_query_add(&b, "filters", "{\"label\":[\"run=1\"]}"), 0);
	PW_CHECK_STR(pw__buf_cstr(&b),
	             "/containers/json?all=true&filters=%7B%22label%22%3A%5B%22run%3D1%22%5D%7D");
	pw__buf_dispose(&b);
}

static void describe(const char *base, const char *sock, const char *method, const char *path,
                     const char *want)
{
	pw_http_endpoint ep = {.base_url = base, .unix_socket = sock};
	char *s = pw__http_describe(&ep, method, path);
	PW_CHECK_STR(s, want);
	pw_free(s);
}

PW_TEST(operation_names_hide_credentials_and_queries)
{
	describe("https://api.github.com", NULL, "GET", "/repos/o/r", "GET https://api.github.com/repos/o/r");
	describe("https://user:pa@ss@host:8443/api/", NULL, "POST", "/v1/x?token=abc",
	         "POST https://host:8443/api/v1/x");
	describe("https://host/prefix", NULL, NULL, "items", "GET https://host/prefix/items");
	describe("http://localhost", "/run/docker.sock", "DELETE", "/containers/abc?force=1",
	         "DELETE http://localhost/containers/abc (unix socket /run/docker.sock)");
	describe("https://acct.blob.core.windows.net/c?sv=1&sig=secret", NULL, "PUT", NULL,
	         "PUT https://acct.blob.core.windows.net/c");
}

PW_TEST(header_get_without_headers)
{
	pw_http_response r = {0};
	PW_CHECK(pw__http_header_get(&r, "x") == NULL);
	PW_CHECK(pw__http_header_get(NULL, "x") == NULL);
	pw__http_response_dispose(&r);
	pw__http_response_dispose(NULL);
}

PW_TEST(json_load_and_errors)
{
	json_t *v = NULL;
	pw_error *err = NULL;
	const char *text = "{\"a\": {\"b\": [ {\"c\": \"deep\"}, 7 ]}, \"n\": 42, \"r\": 3.0, \"f\": 2.5, "
	                   "\"t\": true, \"s\": \"str\"}";
	PW_REQUIRE(pw__json_load(&v, text, strlen(text), 0, "a test document", &err) == 0);
	PW_CHECK_STR(pw__json_get_string(v, "a.b.0.c"), "deep");
	PW_CHECK_STR(pw__json_get_string(v, "s"), "str");
	PW_CHECK(pw__json_get_string(v, "n") == NULL);
	PW_CHECK(pw__json_get_string(v, "a.b.5.c") == NULL);
	PW_CHECK(pw__json_get_string(v, "a.x.c") == NULL);
	PW_CHECK(pw__json_get_string(v, "s.deeper") == NULL);
	PW_CHECK(pw__json_get(v, "") == v);
	long long n = 0;
	PW_CHECK_INT(pw__json_get_int(&n, v, "n"), 0);
	PW_CHECK_INT(n, 42);
	PW_CHECK_INT(pw__json_get_int(&n, v, "a.b.1"), 0);
	PW_CHECK_INT(n, 7);
	PW_CHECK_INT(pw__json_get_int(&n, v, "r"), 0);
	PW_CHECK_INT(n, 3);
	n = -1;
	PW_CHECK_INT(pw__json_get_int(&n, v, "f"), PW_EINVAL);
	PW_CHECK_INT(pw__json_get_int(&n, v, "s"), PW_EINVAL);
	PW_CHECK_INT(pw__json_get_int(&n, v, "missing"), PW_ENOTFOUND);
	PW_CHECK_INT(n, -1);
	PW_CHECK_INT(pw__json_get_bool(v, "t", 0), 1);
	PW_CHECK_INT(pw__json_get_bool(v, "missing", 5), 5);

	char *dumped = pw__json_dump(pw__json_get(v, "a"));
	PW_CHECK_STR(dumped, "{\"b\":[{\"c\":\"deep\"},7]}");
	pw_free(dumped);
	json_decref(v);

	/* parse error: names what and where */
	const char *bad = "{\n  \"a\": 1,\n  oops\n}";
	PW_CHECK_INT(pw__json_load(&v, bad, strlen(bad), 0, "the answer to GET https://x/y", &err),
	             PW_EEXTERNAL);
	PW_CHECK(v == NULL);
	PW_CHECK_CONTAINS(pw_error_message(err), "cannot parse the answer to GET https://x/y as JSON: ");
	PW_CHECK_CONTAINS(pw_error_message(err), "line 3");
	pw_error_free(err);
	err = NULL;

	/* size bound */
	PW_CHECK_INT(pw__json_load(&v, "[1,2,3]", 7, 5, "a list", &err), PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(err), "a list is larger than 5 bytes");
	pw_error_free(err);
	err = NULL;

	/* not only objects; text need not be NUL-terminated */
	PW_CHECK_INT(pw__json_load(&v, "\"hi\"garbage", 4, 0, "a string", &err), 0);
	PW_CHECK_STR(json_string_value(v), "hi");
	json_decref(v);
	PW_CHECK_INT(pw__json_load(&v, NULL, 0, 0, "nothing", &err), PW_EINVAL);
	pw_error_free(err);
}

PW_TEST_MAIN()
