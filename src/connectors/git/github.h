/* The GitHub connector's insides shared by its files: the step context, the REST call with
 * rate limits and pagination, and the actions. */
#ifndef PW_CONNECTORS_GIT_GITHUB_H
#define PW_CONNECTORS_GIT_GITHUB_H

#include <jansson.h>
#include <pthread.h>

#include "core/buf.h"
#include "net/http.h"
#include "pipewright/exec.h"
#include "pipewright/map.h"
#include "pipewright/step.h"

#define PW_GH_DEFAULT_API "https://api.github.com"
#define PW_GH_DEFAULT_UPLOADS "https://uploads.github.com"
#define PW_GH_API_VERSION "2022-11-28"
/* Longest wait for a rate limit to reset, also when the step has no deadline. */
#define PW_GH_MAX_RATE_WAIT_MS (3600L * 1000L)

/* One step's view of GitHub: where, as whom, and what it has done so far. */
typedef struct pw_gh {
	pw_http_pool *pool; /* borrowed; NULL when planning */
	pw_exec *ex;        /* borrowed; NULL when planning */
	const pw_step *step;
	const pw_workspace *ws;
	const json_t *cfg;
	const char *action;
	char *api;       /* API base URL without trailing slash */
	char *uploads;   /* upload base URL override, or NULL (the release's upload_url is used) */
	char *repo_path; /* "/repos/OWNER/REPO", escaped */
	char *repository;
	char *auth;        /* "Authorization: Bearer ..." or NULL when planning */
	const char *token; /* borrowed from env */
	const char *ca_file;
	int insecure;
	long poll_ms;   /* polling interval of waits (workflow runs) */
	pw_buf summary; /* what the step did, for stdout */
	pw_map *meta;   /* result metadata, also step outputs */
	pw_buf plan;    /* when planning: the requests, one block each */
	int planning;
	int app_jwt; /* g->auth holds the GitHub App's JWT */
} pw_gh;

/* An HTTP answer kept for the caller. */
typedef struct pw_gh_resp {
	long status;
	json_t *json; /* parsed body (NULL when empty or not JSON) */
	char *next;   /* Link rel="next" URL, or NULL */
	pw_http_response raw;
} pw_gh_resp;

/* A file streamed as a request body. */
typedef struct pw_gh_upload {
	const char *path;
	long long size;
	const char *content_type;
} pw_gh_upload;

typedef struct pw_gh_req {
	const char *method;
	const char *url; /* a path under the API base, or an absolute URL (uploads, next pages) */
	const json_t *body;
	const pw_gh_upload *file;
	int retry_post;   /* retry this POST after a reset or 5xx (it is safe to repeat) */
	const char *what; /* "create the release": for errors */
} pw_gh_req;

/* Sends one request, waiting out primary and secondary rate limits within the step deadline.
 * Returns 0 with a 2xx answer in *out; otherwise an error (PW_EPERM for 401/403, PW_ENOTFOUND
 * for 404, PW_EVALIDATION for 422, PW_EEXISTS for 422 already_exists, PW_EEXTERNAL for others)
 * and still fills *out with the answer when one came (out->status 0 when none). The caller
 * disposes *out with pw__gh_resp_dispose. */
int pw__gh_call(pw_gh_resp *out, pw_gh *g, const pw_gh_req *r, pw_error **err);
void pw__gh_resp_dispose(pw_gh_resp *r);
/* Calls f on every object of a paginated list (following Link rel="next" on the API's own
 * origin only) until f returns non-zero (stops; that value is returned), the list ends or
 * max_pages (0: 1000) pages were read (0). Errors from the calls are returned as negative codes. */
typedef int (*pw_gh_each_fn)(json_t *item, void *payload);
int pw__gh_each(pw_gh *g, const char *path, const char *what, int max_pages, pw_gh_each_fn f, void *payload,
                pw_error **err);
/* Answer parsing, pure (no I/O): fuzzed by fuzz/fuzz_github_answers.c. */

/* The origin ("scheme://host[:port]") of an absolute URL, or NULL. Caller frees. */
char *pw__gh_origin_of(const char *url);
/* The rel="next" target of a Link header, or NULL. Caller frees. */
char *pw__gh_link_next(const char *link);
/* Whether a next-page URL may be requested with the token: it is on origin (the API's, as
 * pw__gh_origin_of gives it) exactly, followed by '/' or nothing, and holds no space or control
 * character. */
int pw__gh_next_page_ok(const char *next, const char *origin);
/* The wait, in ms, that a rate-limited answer asks for (Retry-After, else x-ratelimit-reset
 * when x-ratelimit-remaining is 0, else the secondary limit's default), never negative and at
 * most 30 days; -1 when the answer is not a rate limit. now: the current epoch time in seconds.
 * *primary is set when it is the primary rate limit. */
long long pw__gh_rate_wait_ms(int *primary, const pw_gh_resp *r, long long now);
/* Appends "HTTP <status>: <message> (<field> <code>: <message>; ...)", or a printable excerpt of
 * a body that is not JSON. */
void pw__gh_describe_answer(pw_buf *b, const pw_gh_resp *r);
/* Whether a 422 answer's errors list an already_exists code. */
int pw__gh_has_already_exists(const json_t *doc);
/* A workflow run's outcome: -1 while its status is not "completed", else 1 when its conclusion
 * (borrowed into *conclusion, NULL when absent) is success, neutral or skipped, 0 otherwise. */
int pw__gh_run_outcome(const char **conclusion, const json_t *run);
/* The id of the newest run (highest id) in a list-runs answer's workflow_runs created at or
 * after since (ISO 8601 UTC), or 0. */
long long pw__gh_newest_run(const json_t *answer, const char *since);

/* Whether the token may go to upload (an asset upload URL from a release answer) for the API at
 * api: uploads.github.com for api.github.com (https), else the API's own host (GitHub
 * Enterprise Server); never a URL with userinfo. */
int pw__gh_upload_host_ok(const char *api, const char *upload);

/* The base URL of a release's asset uploads: its upload_url (http or https) without the
 * "{?name,label}" template, or NULL. Caller frees. */
char *pw__gh_upload_url(const json_t *rel);

/* A plan line block for one request: METHOD URL, the auth header redacted, the JSON body. */
void pw__gh_plan_request(pw_gh *g, const char *method, const char *url, const json_t *body, const char *note);
/* An absolute URL for a path under the API base (for messages and plans). Caller frees. */
char *pw__gh_url(const pw_gh *g, const char *path);

/* A line of the step's output (masked by the exec), also kept for the result's stdout. */
void pw__gh_say(pw_gh *g, const char *fmt, ...) PW_PRINTF(2, 3);
/* Records a result value, also as a step output. */
void pw__gh_meta(pw_gh *g, const char *key, const char *value);
void pw__gh_meta_int(pw_gh *g, const char *key, long long value);
/* An audit record of a mutation: action "github.<verb>", target "owner/repo <what>". */
void pw__gh_audit(pw_gh *g, const char *verb, const char *target, const char *outcome, const char *detail);

/* Config getters (borrowed; NULL when absent). */
const char *pw__gh_str(const pw_gh *g, const char *key);
int pw__gh_bool(const pw_gh *g, const char *key, int fallback);

/* Reads a workspace-relative file into a new string of at most max bytes. */
int pw__gh_read_file(char **out, const pw_gh *g, const char *key, const char *rel, size_t max,
                     pw_error **err);

/* GitHub App installation tokens, cached for the connector's lifetime (one run). */
typedef struct pw_gh_token_cache pw_gh_token_cache;
int pw__gh_token_cache_new(pw_gh_token_cache **out);
void pw__gh_token_cache_free(pw_gh_token_cache *c);
/* Authenticates g as the GitHub App of `app_id` (private key from the variable named by
 * `private_key_secret`, default GITHUB_APP_PRIVATE_KEY): sets g->auth to an installation token,
 * from cache when one is valid for at least another minute. The key, the JWT and the token are
 * registered as secrets. cache may be NULL. */
int pw__gh_app_auth(pw_gh *g, pw_gh_token_cache *cache, const pw_map *env, pw_error **err);

/* The actions. */
int pw__gh_create_release(pw_gh *g, pw_error **err);
int pw__gh_upload_asset(pw_gh *g, pw_error **err);
int pw__gh_create_status(pw_gh *g, pw_error **err);
int pw__gh_create_deployment(pw_gh *g, pw_error **err);
int pw__gh_deployment_status(pw_gh *g, pw_error **err);
int pw__gh_comment(pw_gh *g, pw_error **err);
/* Sets *failed to 1 when the workflow run it waited for did not succeed. */
int pw__gh_dispatch_workflow(pw_gh *g, int *failed, pw_error **err);

/* The request bodies, shared by execution and plans. New references. */
json_t *pw__gh_release_body(const pw_gh *g, const char *body_text, int draft);

/* Validation of a step's config (every error chained). */
int pw__gh_validate(const json_t *cfg, const char *step_name, pw_error **err);

#endif
