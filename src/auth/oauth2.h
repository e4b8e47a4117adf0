/* OAuth 2.0 token endpoint clients and a token cache, for the Azure and GCP connectors:
 * client credentials with a secret, a client assertion (federated token or signed JWT), the
 * JWT-bearer grant (RFC 7523, Google service accounts), STS token exchange (RFC 8693, workload
 * identity federation), GET-style metadata endpoints (Azure IMDS, the GCE metadata server) and
 * Google's IAM Credentials generateAccessToken (service-account impersonation).
 * Every token, secret and assertion handled here is registered with the step's secret set
 * (when there is an exec) before anything could print it, and none appears in an error. */
#ifndef PW_AUTH_OAUTH2_H
#define PW_AUTH_OAUTH2_H

#include <stdint.h>

#include "net/http.h"
#include "pipewright/error.h"
#include "pipewright/exec.h"

/* Tokens are used until this many seconds before they expire, then fetched anew. */
#define PW_OAUTH2_EXPIRY_MARGIN_S 120

/* How to reach the token service. Borrowed for the call. */
typedef struct pw_oauth2_call {
	pw_http_pool *pool;
	pw_exec *ex; /* NULL: no cancel, no deadline, no secret registration */
} pw_oauth2_call;

typedef struct pw_oauth2_token {
	char *access_token; /* pw_free */
	int64_t expires_at; /* unix seconds; 0 when the service did not say */
} pw_oauth2_token;

void pw__oauth2_token_dispose(pw_oauth2_token *t);

/* Splits an absolute http(s) URL into the origin ("https://host:port") and the rest ("/p?q"),
 * both new strings (pw_free). PW_ECONFIG for something that is not an http(s) URL. Plain
 * http is accepted only for loopback hosts (localhost, 127.x, [::1]) and for the well-known
 * link-local metadata address when allow_metadata_http is set: credentials never travel in
 * clear text to anything else. */
int pw__oauth2_split_url(char **origin, char **rest, const char *url, int allow_metadata_http,
                         pw_error **err);

/* grant_type=client_credentials with client_secret (Azure AD v2.0 endpoint). */
int pw__oauth2_client_secret(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                             const char *client_id, const char *client_secret, const char *scope,
                             pw_error **err);
/* grant_type=client_credentials with client_assertion_type jwt-bearer and the assertion (a
 * federated OIDC token or a signed JWT). */
int pw__oauth2_client_assertion(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                                const char *client_id, const char *assertion, const char *scope,
                                pw_error **err);
/* grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with assertion (Google). */
int pw__oauth2_jwt_bearer(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                          const char *assertion, pw_error **err);
/* RFC 8693 token exchange at an STS (Google's sts.googleapis.com/v1/token): the subject token
 * for an access token for audience with scope. */
int pw__oauth2_sts_exchange(pw_oauth2_token *out, const pw_oauth2_call *call, const char *token_url,
                            const char *subject_token, const char *subject_token_type, const char *audience,
                            const char *scope, pw_error **err);
/* A GET token endpoint answering {"access_token", "expires_in" | "expires_on"}: Azure IMDS
 * (header "Metadata: true"), the GCE metadata server ("Metadata-Flavor: Google"). url is
 * absolute; header is one "Name: value". */
int pw__oauth2_metadata_token(pw_oauth2_token *out, const pw_oauth2_call *call, const char *url,
                              const char *header, pw_error **err);
/* IAM Credentials generateAccessToken (POST url, Bearer source token, {"scope":[scope]}):
 * {"accessToken", "expireTime"}. */
int pw__oauth2_impersonate(pw_oauth2_token *out, const pw_oauth2_call *call, const char *url,
                           const char *source_token, const char *scope, pw_error **err);

/* A thread-safe map from a credential's identity (any string: source, tenant, client, scope)
 * to its current token. */
typedef struct pw_oauth2_cache pw_oauth2_cache;
pw_oauth2_cache *pw__oauth2_cache_new(void);
void pw__oauth2_cache_free(pw_oauth2_cache *c);

/* Produces a fresh token for the cache. */
typedef int (*pw_oauth2_fetch_fn)(pw_oauth2_token *out, void *payload, pw_error **err);

/* The cached token for key in *out (a copy, pw_free), fetched with fetch(payload) when there is
 * none, it expires within PW_OAUTH2_EXPIRY_MARGIN_S, or force_refresh is set (after a 401).
 * The token is registered as a secret with ex (may be NULL). fetch runs without the cache lock
 * held; concurrent first uses may both fetch, the later result wins. */
int pw__oauth2_cache_get(char **out, pw_oauth2_cache *c, const char *key, int force_refresh, pw_exec *ex,
                         pw_oauth2_fetch_fn fetch, void *payload, pw_error **err);
/* How many times fetch was called through this cache (for tests and debug logs). */
unsigned pw__oauth2_cache_fetches(pw_oauth2_cache *c);

#endif
