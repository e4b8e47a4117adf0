/* The Docker connector's HTTP transport on libcurl's multi interface, so that the cancel
 * descriptor is polled together with the transfer. Connections are cached per connector
 * (a CURLSH sharing the connection cache), so consecutive calls reuse one socket. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/docker/http.h"
#include "core/clock.h"

#define ERROR_BODY_MAX (64 * 1024)
#define BODY_MAX (64 * 1024 * 1024)

struct pw_docker_http {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t count_lock;
	long connects;
};

void (*pw__docker_http_trace)(const char *method, const char *path, const char *body, size_t body_len);

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr)
{
	pw_docker_http *h = userptr;
	pthread_mutex_lock(&h->locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
	pw_docker_http *h = userptr;
	pthread_mutex_unlock(&h->locks[data]);
}

int pw__docker_http_new(pw_docker_http **out)
{
	pthread_once(&global_once, global_init);
	pw_docker_http *h = calloc(1, sizeof(*h));
	if (!h)
		return PW_ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->locks[i], NULL);
	pthread_mutex_init(&h->count_lock, NULL);
	h->share = curl_share_init();
	if (!h->share) {
		free(h);
		return PW_ENOMEM;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	*out = h;
	return 0;
}

void pw__docker_http_free(pw_docker_http *h)
{
	if (!h)
		return;
	curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->locks[i]);
	pthread_mutex_destroy(&h->count_lock);
	free(h);
}

long pw__docker_http_connects(pw_docker_http *h)
{
	pthread_mutex_lock(&h->count_lock);
	long n = h->connects;
	pthread_mutex_unlock(&h->count_lock);
	return n;
}

typedef struct xfer {
	const pw_docker_req *req;
	pw_docker_resp *resp;
	CURL *easy;
	int stopped; /* on_data asked to stop */
	int overflow;
} xfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	xfer *x = userp;
	size_t n = size * nmemb;
	if (x->resp->status == 0)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp->status);
	int ok = x->resp->status >= 200 && x->resp->status < 300;
	if (ok && x->req->on_data) {
		if (x->req->on_data(data, n, x->req->payload) != 0) {
			x->stopped = 1;
			return 0;
		}
		return n;
	}
	if (pw__buf_append(&x->resp->body, data, n) < 0) {
		x->overflow = 1;
		return ok ? 0 : n; /* keep the start of an error body, drop the rest */
	}
	return n;
}

static void header_value(char *out, size_t size, const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= size)
		vl = size - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	xfer *x = userp;
	size_t n = size * nmemb;
	header_value(x->resp->api_version, sizeof(x->resp->api_version), data, n, "Api-Version");
	header_value(x->resp->libpod_version, sizeof(x->resp->libpod_version), data, n, "Libpod-Api-Version");
	header_value(x->resp->server, sizeof(x->resp->server), data, n, "Server");
	return n;
}

static size_t on_read(char *buffer, size_t size, size_t nitems, void *userp)
{
	xfer *x = userp;
	size_t n = fread(buffer, 1, size * nitems, x->req->upload);
	if (n == 0 && ferror(x->req->upload))
		return CURL_READFUNC_ABORT;
	return n;
}

static int on_socket_open(void *clientp, curl_socket_t curlfd, curlsocktype purpose)
{
	pw_docker_http *h = clientp;
	pthread_mutex_lock(&h->count_lock);
	h->connects++;
	pthread_mutex_unlock(&h->count_lock);
	return CURL_SOCKOPT_OK;
}

static int fail(pw_error **err, int code, const pw_docker_req *req, const char *what)
{
	pw_error *e = pw_error_new(code, "%s %s on %s: %s", req->method, req->path, req->ep->url, what);
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
	if (pw__docker_http_trace)
		pw__docker_http_trace(req->method, req->path, req->body, req->body_len);
	pw_buf init = PW_BUF_INIT(req->on_data ? ERROR_BODY_MAX : BODY_MAX);
	out->body = init;
	CURL *easy = curl_easy_init();
	CURLM *multi = curl_multi_init();
	if (!easy || !multi) {
		curl_easy_cleanup(easy);
		curl_multi_cleanup(multi);
		return PW_ENOMEM;
	}
	xfer x = {req, out, easy, 0, 0};
	char url[8192];
	snprintf(url, sizeof(url), "%s%s", req->ep->base, req->path);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_SHARE, h->share);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, on_socket_open);
	curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, h);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "pipewright/" PW_CONNECTOR_SYSTEM_VERSION);
	if (req->timeout_ms > 0)
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	if (req->ep->socket[0])
		curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, req->ep->socket);
	if (req->ep->tls && req->ep->cert_dir[0]) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/cert.pem", req->ep->cert_dir);
		curl_easy_setopt(easy, CURLOPT_SSLCERT, p);
		snprintf(p, sizeof(p), "%s/key.pem", req->ep->cert_dir);
		curl_easy_setopt(easy, CURLOPT_SSLKEY, p);
		snprintf(p, sizeof(p), "%s/ca.pem", req->ep->cert_dir);
		curl_easy_setopt(easy, CURLOPT_CAINFO, p);
	}
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Expect:");
	char ct[256];
	if (req->content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, req->headers[i]);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
	if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->upload) {
			curl_easy_setopt(easy, CURLOPT_POST, 1L);
			curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(easy, CURLOPT_READDATA, &x);
			hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
			curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
		} else if (!strcmp(req->method, "POST") || req->body) {
			curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
			curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)(req->body ? req->body_len : 0));
		}
	}
	curl_multi_add_handle(multi, easy);
	int rc = 0;
	int running = 1;
	while (running) {
		CURLMcode mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK) {
			rc = fail(err, PW_EEXTERNAL, req, curl_multi_strerror(mc));
			break;
		}
		if (!running)
			break;
		struct curl_waitfd extra = {req->cancel_fd, CURL_WAIT_POLLIN, 0};
		int nfds = 0;
		mc = curl_multi_poll(multi, req->cancel_fd >= 0 ? &extra : NULL, req->cancel_fd >= 0 ? 1 : 0,
		                     1000, &nfds);
		if (mc != CURLM_OK) {
			rc = fail(err, PW_EEXTERNAL, req, curl_multi_strerror(mc));
			break;
		}
		if (req->cancel_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN)) {
			rc = fail(err, PW_ECANCELLED, req, "cancelled");
			break;
		}
	}
	if (rc == 0) {
		int left = 0;
		CURLMsg *msg;
		CURLcode res = CURLE_OK;
		while ((msg = curl_multi_info_read(multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				res = msg->data.result;
		if (out->status == 0)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out->status);
		if (res == CURLE_WRITE_ERROR && x.stopped) {
			res = CURLE_OK;
		} else if (res == CURLE_WRITE_ERROR && x.overflow) {
			rc = fail(err, PW_EEXTERNAL, req, "the answer is larger than allowed");
		} else if (res == CURLE_OPERATION_TIMEDOUT && out->status > 0) {
			rc = fail(err, PW_ETIMEOUT, req, "timed out");
		} else if (res == CURLE_OPERATION_TIMEDOUT) {
			rc = fail(err, PW_ETIMEOUT, req, errbuf[0] ? errbuf : curl_easy_strerror(res));
		} else if (res != CURLE_OK) {
			rc = fail(err, PW_EEXTERNAL, req, errbuf[0] ? errbuf : curl_easy_strerror(res));
		}
	}
	curl_multi_remove_handle(multi, easy);
	curl_easy_cleanup(easy);
	curl_multi_cleanup(multi);
	curl_slist_free_all(hdrs);
	return rc;
}
