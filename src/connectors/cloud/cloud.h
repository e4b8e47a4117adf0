/* What the Azure and GCP connectors share: typed service/action tables validated before
 * anything is sent, environment lookups, one authenticated JSON call with a refresh on 401,
 * polling with backoff inside the step's deadline, and plan text. */
#ifndef PW_CONNECTORS_CLOUD_H
#define PW_CONNECTORS_CLOUD_H

#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "net/http.h"
#include "pipewright/error.h"
#include "pipewright/exec.h"
#include "pipewright/map.h"
#include "pipewright/sys/connector.h"

typedef enum pw_cloud_ptype {
	PW_CP_STRING,
	PW_CP_INT,    /* an integer, or a string of digits */
	PW_CP_NUMBER, /* an integer or decimal, or such a string */
	PW_CP_BOOL,
	PW_CP_ENUM,   /* a string among `choices` ("a|b|c") */
	PW_CP_STRMAP, /* an object of scalar values (environment maps) */
	PW_CP_LIST    /* a list of scalars (ports, command) */
} pw_cloud_ptype;

typedef struct pw_cloud_param {
	const char *name;
	pw_cloud_ptype type;
	int required;
	const char *choices;
	const char *doc;
} pw_cloud_param;

/* One documented operation; params ends with a {NULL} entry. */
typedef struct pw_cloud_action {
	const char *service;
	const char *action;
	const pw_cloud_param *params;
	const char *summary;
} pw_cloud_action;

/* Checks a step's config: top-level keys among top_keys (NULL-terminated), `service` and
 * `action` naming one of actions (an unknown one lists the available ones), and every
 * parameter known (nearest name suggested), of its type, and present when required.
 * *out is the matched action. Errors are PW_ECONFIG with the key path set. */
int pw__cloud_validate(const pw_cloud_action **out, const json_t *config, const char *type,
                       const char *const *top_keys, const pw_cloud_action *actions, size_t n, pw_error **err);

/* Typed parameter getters on config.parameters (after validation). */
const char *pw__cloud_param_str(const json_t *config, const char *name);
double pw__cloud_param_num(const json_t *config, const char *name, double fallback);
long long pw__cloud_param_int(const json_t *config, const char *name, long long fallback);
int pw__cloud_param_bool(const json_t *config, const char *name, int fallback);
/* A scalar as text in buf (numbers without trailing zeros), for env maps. */
const char *pw__cloud_scalar(const json_t *v, char *buf, size_t cap);

/* A variable from the step's environment, else from the host's; NULL when unset or empty. */
const char *pw__cloud_env(const pw_map *env, const char *name);

/* Seconds from config (top-level key) as milliseconds, fallback when absent. */
int64_t pw__cloud_config_ms(const json_t *config, const char *key, int64_t fallback_ms);

/* Obtains a bearer token (a copy, pw_free); force_refresh after a 401. */
typedef int (*pw_cloud_token_fn)(char **out, int force_refresh, void *payload, pw_error **err);
/* Turns a non-2xx answer into an error for `op` (provider-specific diagnosis). Returns the code. */
typedef int (*pw_cloud_error_fn)(pw_error **err, const char *op, const pw_http_response *r,
                                 const json_t *doc);

typedef struct pw_cloud_api {
	pw_http_pool *pool;
	pw_exec *ex;
	char *origin; /* "https://management.azure.com" (owned) */
	char *prefix; /* path prefix of the endpoint, no trailing slash, may be "" (owned) */
	const char *service;
	pw_cloud_token_fn token;
	void *token_payload;
	pw_cloud_error_fn error;
	unsigned requests; /* sent so far */
	long timeout_ms;   /* bound on each call when ex is NULL (cleanup after a cancel); 0: none */
} pw_cloud_api;

/* Fills origin/prefix from an endpoint URL (https, or http to loopback). */
int pw__cloud_api_init(pw_cloud_api *api, const char *endpoint, pw_error **err);
void pw__cloud_api_dispose(pw_cloud_api *api);

/* The path and query to send for path (relative to the endpoint: prefixed; an absolute URL:
 * only on the endpoint's origin, then without it) appended to *out; else PW_EEXTERNAL naming the
 * foreign origin (not the rest of the URL). Pure: fuzzed by fuzz/fuzz_azure_answers.c. */
int pw__cloud_target(pw_buf *out, const pw_cloud_api *api, const char *path, pw_error **err);

/* Sends an authenticated request: path is relative to the endpoint ("/subscriptions/...") or an
 * absolute URL, which must be on the endpoint's origin (the token never goes elsewhere). body
 * may be NULL. A 401 refreshes the token once and resends. Any final status is returned in
 * *r (dispose it) with the parsed JSON body in *doc (NULL when empty or not JSON); transport
 * errors, cancel and deadline are errors. */
int pw__cloud_send(pw_http_response *r, json_t **doc, pw_cloud_api *api, const char *method, const char *path,
                   const json_t *body, pw_error **err);

/* Polling with backoff: the first wait is interval_ms, each later one 1.5x longer up to
 * max_ms, a server's Retry-After (ms, > 0) taking precedence; never past deadline (monotonic
 * ms, 0: only the step's). */
typedef struct pw_cloud_poll {
	int64_t interval_ms;
	int64_t max_ms;
	int64_t deadline;
	unsigned polls;
} pw_cloud_poll;
void pw__cloud_poll_init(pw_cloud_poll *p, const json_t *config, pw_exec *ex);
/* Sleeps before the next poll: 0, PW_ETIMEOUT (the wait's or the step's deadline passed),
 * PW_ECANCELLED. No error object: the caller says what it was waiting for. */
int pw__cloud_poll_wait(pw_cloud_poll *p, pw_exec *ex, int64_t retry_after_ms);
/* The Retry-After of a response in ms (seconds form only), 0 when absent. */
int64_t pw__cloud_retry_after_ms(const pw_http_response *r);
int64_t pw__cloud_now_ms(void);

/* Appends "METHOD URL\nAuthorization: Bearer ***\n[Content-Type...\n\nbody]\n" to b. */
void pw__cloud_plan_request(pw_buf *b, const char *method, const char *origin, const char *prefix,
                            const char *path, const json_t *body);

/* What the Azure and GCP connectors keep between steps: their token cache. */
typedef struct pw_cloud_impl {
	struct pw_oauth2_cache *tokens;
} pw_cloud_impl;

/* A connector of type (its name too) with ops and a new pw_cloud_impl; ops->destroy is
 * pw__cloud_connector_destroy. */
int pw__cloud_connector_new(pw_connector **out, const pw_connector_ops *ops, const char *type,
                            pw_error **err);
void pw__cloud_connector_destroy(pw_connector *c);

/* An error with message, key, hint, response: stored in *err (first wins); returns code. */
int pw__cloud_fail(pw_error **err, int code, const char *key, const char *hint, const char *response,
                   const char *fmt, ...) PW_PRINTF(6, 7);

#endif
