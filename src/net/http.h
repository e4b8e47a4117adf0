/* The one HTTP client every remote connector uses: libcurl over TCP, TLS or a unix socket,
 * with connection reuse, deadlines, cancellation, retries with backoff, and redacted dumps. */
#ifndef PW_NET_HTTP_H
#define PW_NET_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "pipewright/error.h"
#include "pipewright/map.h"

/* Defaults applied when the matching request field is 0. */
#define PW_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define PW_HTTP_DEFAULT_RETRY_BASE_MS 200L
#define PW_HTTP_DEFAULT_MAX_RESPONSE ((size_t)16 * 1024 * 1024)
#define PW_HTTP_DEFAULT_IDLE_TIMEOUT_MS 300000L
/* The retry count PW_HTTP_REQUEST_INIT sets. */
#define PW_HTTP_DEFAULT_RETRIES 3u
/* One backoff wait never exceeds this, nor does an honoured Retry-After without a deadline. */
#define PW_HTTP_MAX_BACKOFF_MS 30000L
#define PW_HTTP_MAX_RETRY_AFTER_MS 120000L

/* A set of reusable connections plus a shared DNS and TLS-session cache; one per manager.
 *
 * Thread-safe: any number of threads may run pw__http_do on one pool at the same time.
 * libcurl does not support sharing one connection cache between concurrent threads
 * (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT), so the pool keeps a stack of idle "lanes" (each a
 * curl multi handle that owns a connection cache). A request borrows a lane exclusively,
 * preferring one that last talked to the same endpoint, and gives it back afterwards; DNS
 * entries and TLS sessions are shared between all lanes through a locked CURLSH. Sequential
 * requests to one service therefore reuse one connection; concurrent ones open their own. */
typedef struct pw_http_pool pw_http_pool;

/* Creates a pool in *out (caller frees with pw__http_pool_free). Initialises libcurl once per
 * process. Returns 0, PW_ENOMEM, or PW_EIO when libcurl cannot be initialised. */
int pw__http_pool_new(pw_http_pool **out, pw_error **err);
/* Closes every idle connection and frees the pool. No request may be running on it. NULL ok. */
void pw__http_pool_free(pw_http_pool *p);

/* How to reach a service. Every string is borrowed for the duration of the call only. */
typedef struct pw_http_endpoint {
	/* "https://host:port/prefix", or "http://localhost[/prefix]" with unix_socket; no trailing
	 * slash needed. Userinfo in it never appears in error messages. */
	const char *base_url;
	const char *unix_socket;     /* path of an AF_UNIX socket to connect to instead of host:port */
	const char *ca_file;         /* PEM CA bundle replacing the system one, or NULL */
	const char *ca_pem;          /* the same as PEM text held in memory (kubeconfig data), or NULL */
	const char *client_cert;     /* PEM file with the client certificate for mutual TLS, or NULL */
	const char *client_key;      /* PEM file with its private key, or NULL */
	const char *client_cert_pem; /* in-memory PEM variants of the two above, or NULL */
	const char *client_key_pem;
	/* Turns TLS verification off. Set only when the user asked for it by name for this
	 * endpoint; verification is on otherwise. */
	int insecure_skip_verify;
} pw_http_endpoint;

/* Streams an upload: fills buf with up to cap bytes and returns how many (0 at the end), or a
 * negative PW_E* code to abort the request (returned by pw__http_do). */
typedef long long (*pw_http_read_fn)(char *buf, size_t cap, void *payload);
/* Starts the upload over (for a retry); returns 0 or a negative PW_E* code. */
typedef int (*pw_http_rewind_fn)(void *payload);
/* Receives a piece of a 2xx response body. Return 0 to go on; a positive value stops the
 * transfer and pw__http_do returns 0 (the consumer has what it wanted, e.g. a watch event);
 * a negative PW_E* code stops it and pw__http_do returns that code. */
typedef int (*pw_http_body_fn)(const char *data, size_t len, void *payload);
/* Receives one dump line (no trailing newline) prefixed "> " (sent), "< " (received) or "* "
 * (libcurl's notes). Credentials in headers and the userinfo of URLs ("user:password@") are
 * already replaced by "***"; masking secret values elsewhere (bodies) is the callback's job.
 * The text is borrowed for the call. */
typedef void (*pw_http_debug_fn)(const char *text, void *payload);

typedef struct pw_http_request {
	const char *method;         /* "GET", "POST", ...; NULL means GET */
	const char *path_and_query; /* appended to base_url as is: escape parts with the helpers below */
	const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */

	/* Body, either in memory (borrowed, body_len bytes; NULL body = none) ... */
	const char *body;
	size_t body_len;
	/* ... or streamed (tar archives, files): upload_size bytes, -1 when unknown (sent
	 * chunked). Without upload_rewind a request whose upload has started is not retried. */
	pw_http_read_fn upload_read;
	pw_http_rewind_fn upload_rewind;
	long long upload_size;
	void *upload_payload;

	long connect_timeout_ms; /* per connection attempt; 0: PW_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	long total_timeout_ms;   /* the whole call including retries and waits; 0: none */
	/* -1, or a descriptor that becomes readable to abort the call (a cancel token's pipe).
	 * The call returns PW_ECANCELLED within ~100 ms, also while waiting between retries. */
	int cancel_fd;

	/* Retries after the first attempt (0: none). Backoff doubles from retry_base_ms (0: the
	 * default), capped at PW_HTTP_MAX_BACKOFF_MS, with jitter in [d/2, d]. */
	unsigned max_retries;
	long retry_base_ms;
	/* POST and PATCH are retried after failures that may have reached the server (reset,
	 * 500/502/504) only when this is set. */
	int retry_non_idempotent;

	size_t max_response; /* bound on a buffered body; 0: PW_HTTP_DEFAULT_MAX_RESPONSE */
	/* When set, 2xx bodies go here in pieces instead of the buffer (log follow, watches);
	 * other statuses are still buffered so that their error text is available. */
	pw_http_body_fn on_body;
	void *payload;

	/* Follow up to 5 redirects. Credentials stay with the first origin: once a redirect changes
	 * scheme, host or port, the headers listed under on_debug below (built-in and
	 * redact_headers) are no longer sent. A redirect from https to http is refused (PW_EEXTERNAL).
	 * 303, and 301/302 after a POST, continue as a GET without body. */
	int follow_redirects;

	/* Request/response dumps (see pw_http_debug_fn). Authorization, Proxy-Authorization,
	 * Cookie, Set-Cookie, X-Registry-Auth, X-Registry-Config, Private-Token, Job-Token,
	 * X-Amz-Security-Token, X-Api-Key and the names in redact_headers (NULL-terminated,
	 * case-insensitive) are shown as "Name: ***". Bodies are shown only as their size
	 * unless debug_bodies is set (then up to 4 KiB of printable text). */
	pw_http_debug_fn on_debug;
	void *debug_payload;
	const char *const *redact_headers;
	int debug_bodies;

	/* No byte received or sent for this long ends the call with PW_ETIMEOUT (a server that
	 * accepted and went silent), also without total_timeout_ms. 0: the default,
	 * PW_HTTP_DEFAULT_IDLE_TIMEOUT_MS, which for a streamed body (on_body: watches, log
	 * follows, which may stay silent for long) applies only until the response head arrived;
	 * a positive value applies throughout; negative: none. */
	long idle_timeout_ms;
} pw_http_request;

/* cancel_fd must be -1 when unused (0 is a valid descriptor), hence the initializer. */
#define PW_HTTP_REQUEST_INIT                                                                                \
	{                                                                                                   \
		.method = "GET", .cancel_fd = -1, .max_retries = PW_HTTP_DEFAULT_RETRIES, .upload_size = -1 \
	}

typedef struct pw_http_response {
	long status;     /* the final HTTP status */
	pw_map *headers; /* lower-cased names; repeated headers joined with ", " */
	char *body;      /* NUL-terminated; "" when empty or streamed to on_body */
	size_t body_len;
	unsigned attempts; /* how many attempts were made (1 + retries) */
} pw_http_response;

/* Sends req to ep through pool, retrying as described below, and fills *out (caller disposes
 * with pw__http_response_dispose; on error *out holds only `attempts`, disposing it is harmless).
 *
 * Any HTTP status is a response (returns 0): interpreting it is the caller's job. Retried:
 *  - failures before the request can have reached the server (DNS, refused, connect timeout,
 *    TLS handshake cut) for every method;
 *  - failures after it (reset, empty reply) and 500, 502, 504 only for idempotent methods
 *    (GET HEAD PUT DELETE OPTIONS) unless retry_non_idempotent;
 *  - 408, 429 and 503 for every method, honouring Retry-After (seconds or HTTP date); when the
 *    wait would pass the total deadline the last response is returned at once.
 * Nothing is retried once a piece of the body went to on_body. After the last retry, the last
 * response (e.g. 503) is returned.
 * Errors: PW_EINVAL (a CR or LF in the method or a header), PW_ETIMEOUT (deadline),
 * PW_ECANCELLED (cancel_fd), PW_EIO (transport, TLS),
 * PW_ECONFIG (unreadable CA or client certificate, bad URL), PW_EEXTERNAL (body beyond
 * max_response, malformed reply), PW_ENOMEM, or an upload/on_body callback's code. The error
 * names the operation ("GET https://host/path", without query or userinfo), libcurl's reason
 * and a hint where one helps. */
int pw__http_do(pw_http_response *out, pw_http_pool *pool, const pw_http_endpoint *ep,
                const pw_http_request *req, pw_error **err);

/* When ex logs at trace level (PIPEWRIGHT_LOG=trace), sets req's on_debug to dump the request
 * and response heads into ex's log (src/net/trace.c). ex may be NULL. */
struct pw_exec;
void pw__http_trace(pw_http_request *req, struct pw_exec *ex);

/* Frees the contents of r and zeroes it. NULL ok. */
void pw__http_response_dispose(pw_http_response *r);

/* A response header by case-insensitive name; borrowed from r, or NULL when absent. */
const char *pw__http_header_get(const pw_http_response *r, const char *name);

/* Percent-encodes every byte but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), for one
 * path segment or query component. Returns a new string (pw_free it), NULL when out of memory. */
char *pw__http_escape(const char *s);
/* The same but keeps '/', for multi-segment paths such as object keys. */
char *pw__http_escape_path(const char *s);
/* Appends "?name=value" (or "&name=value" when b already holds a '?'), both escaped.
 * Returns 0 or PW_ENOMEM. */
int pw__http_query_add(pw_buf *b, const char *name, const char *value);

/* "GET https://host/path" for messages: userinfo and query string dropped, unix socket named.
 * Returns a new string (pw_free it), NULL when out of memory. */
char *pw__http_describe(const pw_http_endpoint *ep, const char *method, const char *path_and_query);

struct pw_manager;
/* The manager's shared connection pool (the seed's connection pooling: one per manager,
 * created on first use, freed with the manager). Borrowed; NULL when it cannot be made. */
pw_http_pool *pw__manager_http_pool(struct pw_manager *m);

#endif
