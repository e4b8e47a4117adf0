/* The AWS connector's insides: the signed-request client (endpoints, credentials, retries,
 * errors that name the missing permission), the credential chain, and the services' actions. */
#ifndef PW_CONNECTORS_CLOUD_AWS_H
#define PW_CONNECTORS_CLOUD_AWS_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "core/buf.h"
#include "core/journal.h"
#include "core/step.h"
#include "net/http.h"
#include "pipewright/exec.h"
#include "pipewright/result.h"
#include "pipewright/step.h"

/* Credentials are refreshed this long before they expire. */
#define PW_AWS_REFRESH_MARGIN_S 300

typedef struct pw_aws_creds {
	char *akid;
	char *secret;
	char *token;     /* NULL when none */
	time_t expires;  /* 0: does not expire */
	char source[96]; /* where they came from, for messages: "environment", "profile 'ci'" */
	int refreshable; /* obtained from STS: can be fetched again */
} pw_aws_creds;

void pw__aws_creds_dispose(pw_aws_creds *c);

/* Cached STS credentials, shared by the steps of a run (one per connector). */
typedef struct pw_aws_cache_entry {
	char *key;
	pw_aws_creds creds;
} pw_aws_cache_entry;

typedef struct pw_aws_impl {
	pthread_mutex_t lock;
	pw_http_pool *pool; /* the manager's, borrowed */
	pw_aws_cache_entry *cache;
	size_t ncache;
} pw_aws_impl;

static inline json_t *pw__aws_step_config(const pw_step *s)
{
	return s ? s->config : NULL;
}

/* One step's view: its config, environment, exec, and either the network or a plan text. */
typedef struct pw_aws_ctx {
	pw_aws_impl *im;
	pw_http_pool *pool;
	pw_exec *ex; /* NULL in plan */
	const pw_step *step;
	const json_t *params; /* the step's `parameters` (an object, possibly empty) */
	const pw_workspace *ws;
	const pw_map *env;
	const char *region;
	int64_t poll_ms;       /* first poll interval */
	int64_t wait_until;    /* CLOCK_MONOTONIC ms when waits give up (wait_timeout), 0: none */
	double wait_timeout_s; /* for messages */
	pw_buf *plan;          /* non-NULL: requests are written here instead of sent */
	pw_buf out;            /* the step's stdout summary */
	pw_aws_creds creds;
	int have_creds;
	/* Cleanup after the step was cancelled or timed out (StopTask, AbortMultipartUpload), and
	 * gc: requests ignore the exec's cancellation and deadline and get PW_AWS_CLEANUP_MS each. */
	int cleanup;
} pw_aws_ctx;

#define PW_AWS_CLEANUP_MS 30000
/* How much earlier than this machine's clock S3 may have stamped an upload's Initiated time
 * and still have it count as ours. */
#define PW_AWS_CLOCK_SKEW_MS 60000

/* A request to one AWS service. */
typedef struct pw_aws_req {
	const char *service;    /* endpoint and signing name: "ecs", "lambda", "s3", "sts" */
	const char *operation;  /* "UpdateService": for messages */
	const char *iam_action; /* "ecs:UpdateService": named when access is denied */
	const char *method;
	const char *path;  /* escaped path below the endpoint, starting with '/' */
	const char *query; /* escaped query without '?', or NULL */
	const char *content_type;
	const char *amz_target; /* X-Amz-Target (JSON 1.1 protocols) or NULL */
	const char *body;
	size_t body_len;
	const char *const *headers;    /* extra "Name: value" headers to send and sign, or NULL */
	int s3;                        /* S3 rules: no path normalisation, x-amz-content-sha256 */
	int unsigned_;                 /* sent without credentials (AssumeRoleWithWebIdentity) */
	const pw_aws_creds *use_creds; /* sign with these instead of the step's (STS chains) */
	const char *plan_body;         /* text shown by plan instead of the body (binary uploads), or NULL */
	/* S3: the bucket, addressed virtual-hosted on AWS (https://BUCKET.s3.REGION.amazonaws.com)
	 * and path-style below an endpoint override (LocalStack, MinIO): then path gets /BUCKET. */
	const char *bucket;
} pw_aws_req;

/* Sends r signed with the step's credentials (resolved on first use, refreshed before expiry
 * and once when the service says they expired), retrying throttling and 5xx answers with
 * backoff inside the step's deadline. 0 with a 2xx response in *out (dispose it), or an error
 * that names the operation, the service's answer and, for AccessDenied, the IAM permission.
 * In plan mode the request is written to ctx->plan and *out is an empty 0-status response. */
int pw__aws_call(pw_http_response *out, pw_aws_ctx *c, const pw_aws_req *r, pw_error **err);

/* The base URL of a service for this step: `endpoint` (the step's service) or
 * `sts_endpoint` in the config, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, else the public
 * regional endpoint. Caller frees. *custom is set when overridden. */
char *pw__aws_endpoint(pw_aws_ctx *c, const char *service, int *custom);

/* A variable of the step's environment, else of this process; borrowed; NULL when unset. */
const char *pw__aws_getenv(const pw_aws_ctx *c, const char *name);

/* Resolves the credential chain into c->creds (see docs/cloud.md). force: drop cached STS
 * credentials first. Registers the secret parts with the exec. */
int pw__aws_creds_get(pw_aws_ctx *c, int force, pw_error **err);
/* The region: `region` in the config, AWS_REGION, AWS_DEFAULT_REGION, the profile's region.
 * Caller frees; NULL when none is set. */
char *pw__aws_region(const pw_aws_ctx *c);
/* Frees the cache. */
void pw__aws_cache_dispose(pw_aws_impl *im);

/* The text between <tag> and </tag> in xml, unescaped; caller frees; NULL when absent. */
char *pw__aws_xml_get(const char *xml, const char *tag);
/* Parses an ISO 8601 UTC time (2026-11-28T16:00:00Z, fraction allowed) or epoch seconds;
 * 0 for text that is neither, and for a number beyond +-1e12 s, NaN or an infinity. */
time_t pw__aws_parse_time(const char *s);

/* Answer parsing, pure (no I/O): fuzzed by fuzz/fuzz_aws_answers.c. */

/* The service's error code and message from a JSON (__type/code, message/Message), an
 * x-amzn-errortype header or an XML (<Code>, <Message>) error answer; the code without its
 * namespace ("com.amazonaws.ecs#") or URL suffix (":http://..."). Each NULL when absent; caller
 * frees both. */
void pw__aws_parse_error(char **code, char **msg, const pw_http_response *r);
/* The message of an S3 <Error> answer given with status 200 (CompleteMultipartUpload): a new
 * string (the <Message>, else the body), or NULL when body is no error. Caller frees. */
char *pw__aws_s3_error_message(const char *body);
/* Appends, one "  event: ..." line each, at most 10 of the ECS service's events (newest first,
 * as DescribeServices lists them) whose ids are not in the array `before`. */
void pw__aws_ecs_new_events(pw_buf *b, const json_t *svc, const json_t *before);
/* Appends one line per task of a DescribeTasks answer: "  stopped task ID: reason; container X
 * exit N (why)". */
void pw__aws_ecs_stopped_reasons(pw_buf *b, const json_t *answer);
/* Reads a DescribeTasks answer of run-task's wait: 0 while a task is not STOPPED; else 1 with
 * one line per task and container in *lines (newline-terminated), the tasks' stoppedReasons
 * joined by "; " in *reasons, and *exit_code the first non-zero container exit (1 for one
 * outside 0..255 or without an exit code), 0 when all exited 0. */
int pw__aws_ecs_tasks_stopped(pw_buf *lines, pw_buf *reasons, int *exit_code, const json_t *answer);
/* The state of a Lambda function configuration's last update. */
typedef enum pw_aws_update_state {
	PW_AWS_UPDATE_PENDING = 0,
	PW_AWS_UPDATE_SUCCESSFUL,
	PW_AWS_UPDATE_FAILED
} pw_aws_update_state;
/* LastUpdateStatus of a GetFunctionConfiguration answer; for Failed, the reason and its code
 * ("(no reason given)" when none) are appended to *reason. */
pw_aws_update_state pw__aws_lambda_update_state(pw_buf *reason, const json_t *conf);

/* Actions. Each validates its parameters (pw__aws_validate), and runs or plans. */
typedef int (*pw_aws_action_fn)(pw_result **out, pw_aws_ctx *c, pw_error **err);
typedef struct pw_aws_param {
	const char *name;
	char type; /* 's' string, 'b' boolean, 'i' integer >= 0, 'n' number > 0, 'l' list of strings,
	            * 'a' string or list of strings, 'o' object */
	int required;
	const char *doc;
} pw_aws_param;
typedef struct pw_aws_action {
	const char *service;
	const char *action;
	const pw_aws_param *params;
	pw_aws_action_fn run;
	const char *permissions; /* the IAM actions it needs, for the docs and errors */
	const char *summary;
} pw_aws_action;

extern const pw_aws_action pw__aws_ecs_actions[];
extern const pw_aws_action pw__aws_lambda_actions[];
extern const pw_aws_action pw__aws_s3_actions[];

/* The resource journal (core/journal.h) for what a killed run would leave behind: ECS tasks a
 * step waits for ("ecs-tasks", named by the run-scoped startedBy value) and S3 multipart
 * uploads ("s3-multipart", named bucket/key). The entry's strings live in je_buf. */
#define PW_AWS_JOURNAL_ATTRS 16
typedef struct pw_aws_journal {
	const char *attrs[PW_AWS_JOURNAL_ATTRS + 1];
	size_t nattrs;
	char *address;
	char *name;
} pw_aws_journal;
/* Fills je (connector "aws", kind, name, scope = region, address = the service's endpoint) and
 * the attrs gc needs to reach the same account and endpoint: the given key/value pairs
 * (NULL-terminated), `endpoint` when overridden, and the step's profile, role_arn,
 * sts_endpoint and ca_file when set. */
void pw__aws_journal_entry(pw_journal_entry *je, pw_aws_journal *j, pw_aws_ctx *c, const char *service,
                           const char *kind, const char *name, const char *const *attrs);
void pw__aws_journal_dispose(pw_aws_journal *j);

/* ListTasks (cluster, startedBy: ECS allows no other filter with it; desiredStatus defaults to
 * RUNNING), then StopTask of each with reason. The stopped ARNs are appended to stopped (may be
 * NULL). 0 when none is left running. */
int pw__aws_ecs_stop_started_by(pw_aws_ctx *c, const char *cluster, const char *started_by,
                                const char *reason, json_t *stopped, pw_error **err);
/* ListMultipartUploads of bucket with prefix key, then AbortMultipartUpload of each upload of
 * exactly that key initiated at or after since_ms (unix ms; 0: any). Aborted upload ids are
 * appended to aborted (may be NULL). 0 when none is left. */
int pw__aws_s3_abort_uploads(pw_aws_ctx *c, const char *bucket, const char *key, int64_t since_ms,
                             json_t *aborted, pw_error **err);

/* Parameter helpers: borrowed values of c->params. */
const char *pw__aws_param_str(const pw_aws_ctx *c, const char *name);
int pw__aws_param_bool(const pw_aws_ctx *c, const char *name, int fallback);
long long pw__aws_param_int(const pw_aws_ctx *c, const char *name, long long fallback);

/* Waits before the next poll (attempt counts from 0): ctx->poll_ms growing by half each time up
 * to 8 times it. PW_ECANCELLED/PW_ETIMEOUT when the step ends first (error set, naming what). */
int pw__aws_poll_wait(pw_aws_ctx *c, unsigned attempt, const char *waiting_for, pw_error **err);

/* Appends to the step's stdout summary and writes the line to the step output. */
void pw__aws_say(pw_aws_ctx *c, const char *fmt, ...) PW_PRINTF(2, 3);

/* A workspace path: relative ones resolve against the workspace root; ".." that leaves the
 * workspace is refused. Caller frees. */
int pw__aws_ws_path(char **out, const pw_aws_ctx *c, const char *rel, const char *key, pw_error **err);

#endif
