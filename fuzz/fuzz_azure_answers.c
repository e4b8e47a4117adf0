/* Fuzz target: the Azure connector's reading of Azure Resource Manager answers (laid out as in
 * fuzz_http.h): error bodies with the "perform action 'X' over scope 'Y'" extraction,
 * Retry-After, Azure-AsyncOperation and provisioningState polls, container group instance
 * views and exit codes, and the follow-up URLs that the token may be sent to. Properties: no
 * crash or leak; every error is set, coded as returned and NUL-terminated; extracted names fit
 * their buffers and hold no quote; a final state is one of Succeeded, Failed, Canceled; a
 * Retry-After wait is within 0..600 s; an exit code in 0..255, non-zero when a terminated
 * container exited non-zero; a follow-up URL is used only on the endpoint's origin, and
 * refusing one never quotes its query. */
#include "connectors/cloud/azure.h"
#include "connectors/cloud/cloud.h"
#include "fuzz_http.h"
#include "net/json.h"

static void quoted(const char *msg)
{
	static const size_t caps[] = {1, 2, 8, 256};
	static const char *const markers[] = {"perform action", "over scope"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		for (size_t m = 0; m < 2; m++) {
			char out[256];
			memset(out, 'x', sizeof(out));
			pw__azure_quoted_after(out, caps[i], msg, markers[m]);
			FUZZ_ASSERT(memchr(out, '\0', caps[i]) != NULL);
			FUZZ_ASSERT(strchr(out, '\'') == NULL);
		}
}

static void group(const json_t *doc)
{
	pw_buf b = PW_BUF_INIT(0);
	pw__azure_describe_group(&b, doc);
	FUZZ_ASSERT(b.len == 0 || strncmp(pw__buf_cstr(&b), "\n  ", 3) == 0);
	pw__buf_dispose(&b);
	int exit_code = -1;
	int done = pw__azure_containers_terminated(&exit_code, doc);
	FUZZ_ASSERT(exit_code >= 0 && exit_code <= 255);
	if (!done) {
		FUZZ_ASSERT(exit_code == 0);
		return;
	}
	int failed = 0;
	size_t i;
	json_t *c;
	json_array_foreach(pw__json_get(doc, "properties.containers"), i, c)
	{
		long long ec = 0;
		if (pw__json_get_int(&ec, c, "properties.instanceView.currentState.exitCode") == 0 && ec != 0)
			failed = 1;
	}
	FUZZ_ASSERT((exit_code != 0) == failed);
}

static void lro(const json_t *doc)
{
	for (int async = 0; async < 2; async++) {
		char state[64], failure[16];
		memset(state, 'x', sizeof(state));
		memset(failure, 'y', sizeof(failure));
		failure[0] = '\0';
		int final = pw__azure_lro_state(state, sizeof(state), failure, sizeof(failure), doc, async);
		FUZZ_ASSERT(memchr(state, '\0', sizeof(state)) != NULL);
		FUZZ_ASSERT(memchr(failure, '\0', sizeof(failure)) != NULL);
		FUZZ_ASSERT(state[0] != '\0');
		FUZZ_ASSERT(!final || strcmp(state, "Succeeded") == 0 || strcmp(state, "Failed") == 0 ||
		            strcmp(state, "Canceled") == 0);
		FUZZ_ASSERT(async || failure[0] == '\0');
	}
}

#define PLANTED "sig=PLANTEDxSIGNATUREx0123456789"

/* A follow-up URL (Azure-AsyncOperation, Location) is sent to only on the endpoint's origin;
 * refusing it names the foreign origin, never the URL's path or query (a signature). */
static void follow_up(const char *url)
{
	if (!url)
		return;
	pw_buf raw = PW_BUF_INIT(0);
	pw_error *re = NULL;
	static char origin[] = "https://management.azure.com", prefix[] = "";
	pw_cloud_api api;
	memset(&api, 0, sizeof(api));
	api.origin = origin;
	api.prefix = prefix;
	api.service = "azure";
	(void)pw__cloud_target(&raw, &api, url, &re);
	pw_error_free(re);
	pw__buf_dispose(&raw);
	size_t n = strlen(url);
	char *signed_url = malloc(n + sizeof("?" PLANTED));
	FUZZ_ASSERT(signed_url != NULL);
	memcpy(signed_url, url, n);
	memcpy(signed_url + n, "?" PLANTED, sizeof("?" PLANTED));
	pw_buf t = PW_BUF_INIT(0);
	pw_error *e = NULL;
	int rc = pw__cloud_target(&t, &api, signed_url, &e);
	int absolute = strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;
	if (rc == 0) {
		FUZZ_ASSERT(e == NULL);
		FUZZ_ASSERT(!absolute || (strncmp(url, origin, sizeof(origin) - 1) == 0 &&
		                          (t.len == 0 || t.data[0] == '/' || t.data[0] == '?')));
	} else {
		FUZZ_ASSERT(absolute && e != NULL && pw_error_code(e) == rc);
		FUZZ_ASSERT(!strstr(pw_error_message(e), PLANTED) || strstr(url, PLANTED));
	}
	pw_error_free(e);
	pw__buf_dispose(&t);
	free(signed_url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_http_response r;
	fuzz_http_answer(&r, data, size);
	int64_t ra = pw__cloud_retry_after_ms(&r);
	FUZZ_ASSERT(ra >= 0 && ra <= 600 * 1000);
	json_t *doc = NULL;
	pw__json_load(&doc, r.body, r.body_len, 0, "the answer", NULL);
	pw_error *e = NULL;
	int rc = pw__azure_error(&e, "create or update the container group", &r, doc);
	FUZZ_ASSERT(rc < 0 && e != NULL && pw_error_code(e) == rc);
	FUZZ_ASSERT(fuzz_text_ok(pw_error_message(e), 64 * 1024 + r.body_len));
	pw_error_free(e);
	follow_up(pw__http_header_get(&r, "azure-asyncoperation"));
	follow_up(pw__http_header_get(&r, "location"));
	quoted(r.body);
	quoted(pw__json_get_string(doc, "error.message"));
	group(doc);
	lro(doc);
	json_decref(doc);
	fuzz_http_dispose(&r);
	return 0;
}
