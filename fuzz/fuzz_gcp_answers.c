/* Fuzz target: the GCP connector's reading of Cloud Run answers: an error answer (status from
 * the first byte, the rest as its body), a Service's conditions and traffic described, and the
 * check that a Service serves a deployed revision. Properties: no crash or leak; an error is
 * always made, with a message, and bounded; the verdict's text stays inside its buffer; a
 * Service passes only when its Ready condition succeeded and its latest ready revision is the
 * one deployed. */
#include <string.h>

#include "connectors/cloud/gcp.h"
#include "fuzz.h"
#include "net/json.h"

static const long statuses[] = {400, 401, 403, 404, 409, 429, 500, 503};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	FUZZ_ASSERT(text != NULL);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	json_t *doc = json_loadb(text, size - 1, JSON_DECODE_ANY, NULL);

	pw_http_response r;
	memset(&r, 0, sizeof(r));
	r.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	r.body = text;
	r.body_len = size - 1;
	pw_error *e = NULL;
	int rc = pw__gcp_error(&e, "deploy", &r, doc);
	FUZZ_ASSERT(rc < 0);
	FUZZ_ASSERT(e != NULL);
	FUZZ_ASSERT(pw_error_message(e) != NULL && pw_error_message(e)[0] != '\0');
	FUZZ_ASSERT(strlen(pw_error_message(e)) < 4096);
	pw_error_free(e);

	pw_buf b = PW_BUF_INIT(0);
	pw__gcp_describe_service(&b, doc);
	pw__buf_dispose(&b);

	for (int k = 0; k < 4; k++) {
		char why[64];
		memset(why, 'x', sizeof(why));
		const char *tag_url = NULL;
		const char *v = pw__gcp_verify_service(why, sizeof(why), doc, "web-app-v1", k & 1,
		                                       k & 2 ? "canary" : NULL, &tag_url);
		if (v) {
			FUZZ_ASSERT(v == why);
			FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL);
		} else {
			const char *state = pw__json_get_string(doc, "terminalCondition.state");
			FUZZ_ASSERT(state && strcmp(state, "CONDITION_SUCCEEDED") == 0);
			const char *ready = pw__json_get_string(doc, "latestReadyRevision");
			FUZZ_ASSERT(ready != NULL);
			const char *last = strrchr(ready, '/');
			FUZZ_ASSERT(strcmp(last ? last + 1 : ready, "web-app-v1") == 0);
			FUZZ_ASSERT(!(k & 2) || tag_url == NULL || strlen(tag_url) < size);
		}
	}
	json_decref(doc);
	free(text);
	return 0;
}
