/* The Docker connector's requests on the project's HTTP layer (src/net): the manager's shared
 * connection pool, deadlines, the cancel descriptor, retries of idempotent calls, streamed
 * bodies. This file only translates between the engine's terms and the layer's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/docker/http.h"
#include "net/http.h"

#define ERROR_BODY_MAX (64 * 1024)
#define BODY_MAX (64 * 1024 * 1024)
#define MAX_HEADERS 32

struct pw_docker_http {
	pw_http_pool *pool;
	int owned; /* the pool is ours, not the manager's */
};

void (*pw__docker_http_trace)(const char *method, const char *path, const char *body, size_t body_len);

int pw__docker_http_new(pw_docker_http **out, pw_http_pool *shared)
{
	pw_docker_http *h = calloc(1, sizeof(*h));
	if (!h)
		return PW_ENOMEM;
	h->pool = shared;
	if (!shared) {
		if (pw__http_pool_new(&h->pool, NULL) < 0) {
			free(h);
			return PW_ENOMEM;
		}
		h->owned = 1;
	}
	*out = h;
	return 0;
}

void pw__docker_http_free(pw_docker_http *h)
{
	if (!h)
		return;
	if (h->owned)
		pw__http_pool_free(h->pool);
	free(h);
}

typedef struct upload {
	FILE *f;
	long start; /* where the body starts, for a retry; -1 when the stream cannot seek */
} upload;

static long long read_upload(char *buf, size_t cap, void *payload)
{
	upload *u = payload;
	size_t n = fread(buf, 1, cap, u->f);
	if (n == 0 && ferror(u->f))
		return PW_EIO;
	return (long long)n;
}

static int rewind_upload(void *payload)
{
	upload *u = payload;
	if (u->start < 0 || fseek(u->f, u->start, SEEK_SET) != 0)
		return PW_EIO;
	clearerr(u->f);
	return 0;
}

typedef struct stream {
	const pw_docker_req *req;
} stream;

static int on_body(const char *data, size_t len, void *payload)
{
	stream *s = payload;
	/* the engine's consumer says stop: the transfer ends without an error */
	return s->req->on_data(data, len, s->req->payload) != 0 ? 1 : 0;
}

static void copy_header(char *out, size_t size, const pw_http_response *r, const char *name)
{
	const char *v = pw__http_header_get(r, name);
	snprintf(out, size, "%s", v ? v : "");
}

/* Transport failures keep the layer's message (operation, libcurl's reason, hint) but are the
 * engine's failures to the connector: PW_EEXTERNAL, as deadlines and cancels keep theirs. */
static int engine_error(pw_error **err, int code, pw_error *e)
{
	if (code == PW_EIO || code == PW_EEXTERNAL) {
		pw_error *x = pw_error_new(PW_EEXTERNAL, "%s", e ? pw_error_message(e) : "no answer");
		if (e && pw_error_hint(e))
			pw_error_set_hint(x, pw_error_hint(e));
		pw_error_free(e);
		e = x;
		code = PW_EEXTERNAL;
	}
	if (e)
		pw_error_set_operation(e, "docker engine request");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return code;
}

int pw__docker_http_do(pw_docker_resp *out, pw_docker_http *h, const pw_docker_req *req, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	pw_buf init = PW_BUF_INIT(req->on_data ? ERROR_BODY_MAX : BODY_MAX);
	out->body = init;
	if (pw__docker_http_trace)
		pw__docker_http_trace(req->method, req->path, req->body, req->body_len);

	char cert[4200], key[4200], ca[4200];
	pw_http_endpoint ep = {.base_url = req->ep->base};
	if (req->ep->socket[0])
		ep.unix_socket = req->ep->socket;
	if (req->ep->tls && req->ep->cert_dir[0]) {
		snprintf(cert, sizeof(cert), "%s/cert.pem", req->ep->cert_dir);
		snprintf(key, sizeof(key), "%s/key.pem", req->ep->cert_dir);
		snprintf(ca, sizeof(ca), "%s/ca.pem", req->ep->cert_dir);
		ep.client_cert = cert;
		ep.client_key = key;
		ep.ca_file = ca;
	}

	const char *headers[MAX_HEADERS + 2];
	size_t nh = 0;
	char ct[256];
	if (req->content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
		headers[nh++] = ct;
	}
	for (size_t i = 0; req->headers && req->headers[i] && nh < MAX_HEADERS; i++)
		headers[nh++] = req->headers[i];
	headers[nh] = NULL;

	pw_http_request r = PW_HTTP_REQUEST_INIT;
	r.method = req->method;
	r.path_and_query = req->path;
	r.headers = headers;
	r.total_timeout_ms = req->timeout_ms > 0 ? (long)req->timeout_ms : 0;
	r.connect_timeout_ms = 5000;
	r.cancel_fd = req->cancel_fd;
	r.max_retries = req->retries;
	r.max_response = req->on_data ? ERROR_BODY_MAX : BODY_MAX;
	upload up = {req->upload, -1};
	if (req->upload) {
		up.start = ftell(req->upload);
		r.upload_read = read_upload;
		r.upload_rewind = up.start >= 0 ? rewind_upload : NULL;
		r.upload_payload = &up;
	} else if (req->body) {
		r.body = req->body;
		r.body_len = req->body_len;
	} else if (!strcmp(req->method, "POST")) {
		r.body = "";
	}
	stream st = {req};
	if (req->on_data) {
		r.on_body = on_body;
		r.payload = &st;
	}

	pw_http_response resp;
	pw_error *e = NULL;
	int rc = pw__http_do(&resp, h->pool, &ep, &r, &e);
	if (rc < 0) {
		pw__http_response_dispose(&resp);
		return engine_error(err, rc, e);
	}
	out->status = resp.status;
	copy_header(out->api_version, sizeof(out->api_version), &resp, "api-version");
	copy_header(out->libpod_version, sizeof(out->libpod_version), &resp, "libpod-api-version");
	copy_header(out->server, sizeof(out->server), &resp, "server");
	if (resp.body_len && pw__buf_append(&out->body, resp.body, resp.body_len) < 0)
		rc = engine_error(err, PW_EEXTERNAL,
		                  pw_error_new(PW_EEXTERNAL, "%s %s: the answer is larger than allowed",
		                               req->method, req->path));
	pw__http_response_dispose(&resp);
	return rc;
}
