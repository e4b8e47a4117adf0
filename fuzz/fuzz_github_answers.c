/* Fuzz target: the GitHub connector's reading of REST answers (laid out as in fuzz_http.h): Link
 * pagination, primary and secondary rate limits (x-ratelimit-remaining/reset, Retry-After),
 * error bodies, release upload URLs, workflow run lists and conclusions. Properties: no crash or
 * leak; a next-page URL the token may follow is on the API's origin exactly (a lookalike host, a
 * userinfo or a port is not); a rate-limit wait is -1 or within 0 ms..30 days; an upload URL is
 * http(s) without its template; texts NUL-terminated and bounded. */
#include <time.h>

#include "connectors/git/github.h"
#include "fuzz_http.h"
#include "net/json.h"

#define MAX_WAIT_MS ((30LL * 24 * 3600 + 1) * 1000)

static void pages(const char *link)
{
	char *next = pw__gh_link_next(link);
	FUZZ_ASSERT(!next || (link && strlen(next) < strlen(link) && !strchr(next, '>')));
	static const char *const origins[] = {"https://api.github.com", "http://127.0.0.1:43210",
	                                      "https://ghe.example.com"};
	for (size_t i = 0; next && i < sizeof(origins) / sizeof(origins[0]); i++) {
		if (!pw__gh_next_page_ok(next, origins[i]))
			continue;
		char *o = pw__gh_origin_of(next);
		FUZZ_ASSERT(o && strcmp(o, origins[i]) == 0);
		pw_free(o);
		for (const char *p = next; *p; p++)
			FUZZ_ASSERT((unsigned char)*p > ' ' && *p != 0x7f);
	}
	pw_free(next);
}

static void limits(pw_gh_resp *r)
{
	static const long long nows[] = {0, 1764288000, -1, 9223372036854775807LL};
	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		int primary = -1;
		long long w = pw__gh_rate_wait_ms(&primary, r, nows[i]);
		FUZZ_ASSERT(w == -1 || (w >= 0 && w <= MAX_WAIT_MS));
		FUZZ_ASSERT(primary == 0 || primary == 1);
		if (r->status != 403 && r->status != 429)
			FUZZ_ASSERT(w == -1);
	}
}

static void bodies(pw_gh_resp *r)
{
	pw_buf b = PW_BUF_INIT(0);
	pw__gh_describe_answer(&b, r);
	FUZZ_ASSERT(strncmp(pw__buf_cstr(&b), "HTTP ", 5) == 0);
	if (!r->json)
		FUZZ_ASSERT(b.len <= 32 + 300);
	for (size_t i = 0; !r->json && i < b.len; i++)
		FUZZ_ASSERT(b.data[i] != '\n' && b.data[i] != '\r');
	pw__buf_dispose(&b);
	(void)pw__gh_has_already_exists(r->json);
	char *u = pw__gh_upload_url(r->json);
	FUZZ_ASSERT(!u ||
	            ((strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) && !strchr(u, '{')));
	pw_free(u);
	const char *c = "x";
	int ok = pw__gh_run_outcome(&c, r->json);
	FUZZ_ASSERT(ok == -1 || ok == 0 || ok == 1);
	FUZZ_ASSERT(ok >= 0 || c == NULL);
	FUZZ_ASSERT(ok != 1 || c != NULL);
	long long id = pw__gh_newest_run(r->json, "2026-11-28T00:00:00Z");
	FUZZ_ASSERT(id == 0 || json_array_size(json_object_get(r->json, "workflow_runs")) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_gh_resp r;
	memset(&r, 0, sizeof(r));
	fuzz_http_answer(&r.raw, data, size);
	r.status = r.raw.status;
	if (r.raw.body_len)
		pw__json_load(&r.json, r.raw.body, r.raw.body_len, 0, "GitHub's answer", NULL);
	pages(pw__http_header_get(&r.raw, "link"));
	pages(r.raw.body);
	limits(&r);
	bodies(&r);
	json_decref(r.json);
	fuzz_http_dispose(&r.raw);
	return 0;
}
