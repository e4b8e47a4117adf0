/* Fuzz target: the GitLab connector's reading of API v4 answers (laid out as in fuzz_http.h):
 * error bodies ({"message"} or {"error"}), pipeline statuses and failed jobs, remote mirror lists
 * and URLs. Properties: no crash or leak; an error message is NUL-terminated and, for a body
 * that is not JSON, at most 300 bytes; a mirror URL without userinfo drops the credentials GitLab
 * would push with (a planted token never survives); one failed-job line per job. */
#include "connectors/git/gitlab.h"
#include "fuzz_http.h"
#include "net/json.h"

#define PLANTED "glpat-PLANTEDxTOKENx0123456789"

static void urls(const char *body, size_t len)
{
	size_t n = strcspn(body, "\r\n");
	char *u = pw__gitlab_strip_userinfo(body);
	FUZZ_ASSERT(u && strlen(u) <= strlen(body));
	pw_free(u);
	/* the URL GitLab is given carries the token in its userinfo */
	char *authed = malloc(n + sizeof("https://oauth2:" PLANTED "@"));
	FUZZ_ASSERT(authed != NULL);
	memcpy(authed, "https://oauth2:" PLANTED "@", sizeof("https://oauth2:" PLANTED "@") - 1);
	memcpy(authed + sizeof("https://oauth2:" PLANTED "@") - 1, body, n);
	authed[sizeof("https://oauth2:" PLANTED "@") - 1 + n] = '\0';
	char *bare = pw__gitlab_strip_userinfo(authed);
	FUZZ_ASSERT(bare != NULL);
	char *rest = authed + sizeof("https://oauth2:" PLANTED "@") - 1;
	FUZZ_ASSERT(!strstr(bare, PLANTED) || strstr(rest, PLANTED));
	pw_free(bare);
	free(authed);
	(void)len;
}

static void jobs(const json_t *doc)
{
	pw_buf lines = PW_BUF_INIT(0), names = PW_BUF_INIT(0);
	pw__gitlab_failed_jobs(&lines, &names, doc);
	size_t n = json_array_size(doc), nl = 0;
	for (size_t i = 0; i < lines.len; i++)
		nl += lines.data[i] == '\n';
	FUZZ_ASSERT(nl >= n);
	FUZZ_ASSERT(n == 0 || names.len > 0);
	pw__buf_dispose(&lines);
	pw__buf_dispose(&names);
	(void)pw__gitlab_pipeline_final(pw__json_get_string(doc, "status"));
	(void)pw__gitlab_mirror_final(pw__json_get_string(doc, "update_status"));
	long long id = pw__gitlab_find_mirror(doc, "https://github.com/acme/app.git");
	FUZZ_ASSERT(id == -1 || json_array_size(doc) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_http_response r;
	fuzz_http_answer(&r, data, size);
	json_t *doc = NULL;
	int is_json = r.body_len && pw__json_load(&doc, r.body, r.body_len, 0, "answer", NULL) == 0;
	char *m = pw__gitlab_answer_message(r.body, r.body_len);
	FUZZ_ASSERT(m != NULL);
	FUZZ_ASSERT(is_json || strlen(m) <= 300);
	pw_free(m);
	urls(r.body, r.body_len);
	if (doc) {
		jobs(doc);
		jobs(json_object_get(doc, "jobs"));
	}
	json_decref(doc);
	fuzz_http_dispose(&r);
	return 0;
}
