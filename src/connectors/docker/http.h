/* The connector's requests to an engine (unix socket or TCP/TLS), carried by the project's
 * HTTP layer (src/net): shared connections, deadlines, a cancel descriptor, streamed bodies. */
#ifndef PW_CONNECTORS_DOCKER_HTTP_H
#define PW_CONNECTORS_DOCKER_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "connectors/docker/docker.h"
#include "core/buf.h"

typedef struct pw_docker_http pw_docker_http;

struct pw_http_pool;
/* shared: the manager's pool (borrowed), or NULL for a pool of its own. */
int pw__docker_http_new(pw_docker_http **out, struct pw_http_pool *shared);
void pw__docker_http_free(pw_docker_http *h);

/* Called with each piece of a streamed response body (2xx only); return non-zero to stop. */
typedef int (*pw_docker_data_fn)(const char *data, size_t len, void *payload);

typedef struct pw_docker_req {
	const pw_docker_endpoint *ep;
	const char *method;
	const char *path; /* with the version prefix and query: "/v1.41/containers/create?name=x" */
	const char *content_type;
	const char *body; /* NULL: no body (unless upload) */
	size_t body_len;
	FILE *upload;               /* a streamed body read from the current position */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
	pw_docker_data_fn on_data;  /* NULL: the body is buffered in the response */
	void *payload;
	int64_t timeout_ms; /* whole-request deadline; 0: none */
	int cancel_fd;      /* -1, or a descriptor that becomes readable to abort */
	/* Retries of failures that cannot have reached the engine, and (for idempotent methods)
	 * resets and 500/502/504; 408/429/503 for every method. 0 while probing for engines. */
	unsigned retries;
} pw_docker_req;

#define PW_DOCKER_REQ_INIT                                                            \
	{                                                                             \
		NULL, "GET", "/", NULL, NULL, 0, NULL, NULL, NULL, NULL, 30000, -1, 2 \
	}

typedef struct pw_docker_resp {
	long status;
	pw_buf body; /* error bodies are always buffered (bounded) */
	/* headers the connector negotiates with (empty when absent) */
	char api_version[32];    /* Api-Version */
	char libpod_version[32]; /* Libpod-Api-Version: the engine is Podman */
	char server[128];        /* Server */
} pw_docker_resp;

/* Performs the request. Returns 0 once the engine answered (any status: look at
 * out->status), PW_EEXTERNAL when it could not be reached or the exchange broke
 * ("connect(\"/run/podman/podman.sock\"): Connection refused"), PW_ETIMEOUT, PW_ECANCELLED.
 * The caller disposes out->body (also on error). */
int pw__docker_http_do(pw_docker_resp *out, pw_docker_http *h, const pw_docker_req *req, pw_error **err);

/* For tests: when set, called with every request before it is sent (body may be NULL). */
extern void (*pw__docker_http_trace)(const char *method, const char *path, const char *body, size_t body_len);

#endif
