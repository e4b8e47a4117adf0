/* The HTTP client on libcurl: the connection pool, one transfer driven through a multi handle
 * (so that a cancel descriptor and the deadline are watched while waiting), and the retry loop. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

#include "net/curl_api.h"
#include "net/http.h"
#include "net/http_internal.h"

#define LANES_IDLE_MAX 8     /* idle lanes kept; more are closed when given back */
#define LANE_MAX_CONNECTS 8L /* connections one lane keeps open */
#define POLL_SLICE_MS 1000L  /* longest single wait inside a transfer */
#define DEBUG_BODY_MAX 4096u /* bytes of a body shown in dumps when debug_bodies is set */
#define MAX_REDIRECTS 5

/* A lane: a multi handle used by one request at a time; its connection cache is what makes
 * sequential requests reuse connections. */
struct lane {
	CURLM *multi;
	char *key; /* the endpoint it last served (scheme://authority + unix socket) */
	struct lane *next;
};

struct pw_http_pool {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t mu; /* guards idle and idle_count */
	struct lane *idle;
	size_t idle_count;
};

/* ---- pool ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	pw_http_pool *p = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&p->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	pw_http_pool *p = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&p->locks[data]);
}

int pw__http_pool_new(pw_http_pool **out, pw_error **err)
{
	*out = NULL;
	int rc = pw__curl_load(err);
	if (rc < 0)
		return rc;
	pw_http_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return pw_error_set(err, PW_ENOMEM, "out of memory creating the HTTP connection pool");
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->locks[i], NULL);
	pthread_mutex_init(&p->mu, NULL);
	p->share = curl_share_init();
	if (!p->share) {
		pw__http_pool_free(p);
		return pw_error_set(err, PW_ENOMEM, "out of memory creating the HTTP connection pool");
	}
	curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = p;
	return 0;
}

static void lane_free(struct lane *l)
{
	if (!l)
		return;
	curl_multi_cleanup(l->multi);
	free(l->key);
	free(l);
}

void pw__http_pool_free(pw_http_pool *p)
{
	if (!p)
		return;
	while (p->idle) {
		struct lane *next = p->idle->next;
		lane_free(p->idle);
		p->idle = next;
	}
	if (p->share)
		curl_share_cleanup(p->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->locks[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Takes an idle lane, preferring one whose connections lead to `key`; creates one when none
 * is idle. NULL when out of memory. */
static struct lane *lane_take(pw_http_pool *p, const char *key)
{
	struct lane *l = NULL;
	pthread_mutex_lock(&p->mu);
	struct lane **pp = &p->idle;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key && strcmp((*pp)->key, key) == 0)
			break;
	if (!*pp)
		pp = &p->idle;
	if (*pp) {
		l = *pp;
		*pp = l->next;
		l->next = NULL;
		p->idle_count--;
	}
	pthread_mutex_unlock(&p->mu);
	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return NULL;
	}
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, LANE_MAX_CONNECTS);
	return l;
}

static void lane_give_back(pw_http_pool *p, struct lane *l, const char *key)
{
	char *k = strdup(key);
	if (k) {
		free(l->key);
		l->key = k;
	}
	pthread_mutex_lock(&p->mu);
	if (p->idle_count < LANES_IDLE_MAX) {
		l->next = p->idle;
		p->idle = l;
		p->idle_count++;
		l = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	lane_free(l);
}

/* ---- time and waiting ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for fd to become readable; 1 when it did, 0 otherwise. fd < 0: just sleeps. */
static int wait_fd(int fd, long ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t end = now_ms() + (ms > 0 ? ms : 0);
	for (;;) {
		int64_t left = end - now_ms();
		if (left < 0)
			left = 0;
		int rc = poll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, (int)left);
		if (rc > 0)
			return 1;
		if (rc == 0 || errno != EINTR)
			return 0;
	}
}

/* ---- one transfer ---- */

struct xfer {
	const pw_http_request *req;
	CURL *easy;
	pw_buf body;
	pw_map *headers;
	size_t max_response;
	int too_big;      /* the buffered body went past max_response */
	int body_stop;    /* on_body's non-zero answer */
	int delivered;    /* something went to on_body: no retry */
	int sent;         /* the connection was up and the request about to go: may have been acted on */
	int sent_unknown; /* libcurl cannot tell (no CURLOPT_PREREQFUNCTION before 7.80): assume sent */
	int upload_started;
	int upload_err; /* upload_read's error code */
	int nomem;
	int tcp;               /* the endpoint is TCP (not a unix socket) */
	int ack_due;           /* a response began: acknowledge what came of it (acknowledge_now) */
	int got_head;          /* a status line arrived */
	int64_t last_activity; /* when a byte last went either way (idle timeout) */
	curl_off_t moved;      /* bytes up and down so far, as the progress callback saw them */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->req->on_body && status >= 200 && status < 300) {
		if (len == 0)
			return 0;
		x->delivered = 1;
		int rc = x->req->on_body(data, len, x->req->payload);
		if (rc != 0) {
			x->body_stop = rc;
			return 0; /* aborts with CURLE_WRITE_ERROR */
		}
		return len;
	}
	if (x->body.len + len > x->max_response || x->body.len + len < x->body.len) {
		x->too_big = 1;
		return 0;
	}
	if (pw__buf_append(&x->body, data, len) < 0) {
		x->nomem = 1;
		return 0;
	}
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	x->last_activity = now_ms();
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->ack_due = x->tcp;
		x->got_head = 1;
		/* a new response (after 100 Continue or a redirect): forget the previous headers */
		pw_map *fresh = pw_map_new();
		if (!fresh) {
			x->nomem = 1;
			return 0;
		}
		pw_map_free(x->headers);
		x->headers = fresh;
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon || colon == data || !x->headers)
		return len;
	pw_buf name = PW_BUF_INIT(0), value = PW_BUF_INIT(0);
	for (const char *p = data; p < colon; p++)
		pw__buf_putc(&name, (char)tolower((unsigned char)*p));
	const char *v = colon + 1, *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	const char *prev = pw_map_get(x->headers, pw__buf_cstr(&name));
	if (prev) {
		pw__buf_puts(&value, prev);
		pw__buf_puts(&value, ", ");
	}
	pw__buf_append(&value, v, (size_t)(end - v));
	if (pw_map_set(x->headers, pw__buf_cstr(&name), pw__buf_cstr(&value)) < 0)
		x->nomem = 1;
	pw__buf_dispose(&name);
	pw__buf_dispose(&value);
	return x->nomem ? 0 : len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = userp;
	if (dlnow + ulnow != x->moved) {
		x->moved = dlnow + ulnow;
		x->last_activity = now_ms();
	}
	return 0;
}

static int on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
	struct xfer *x = userp;
	x->sent = 1;
	return CURL_PREREQFUNC_OK;
}

static size_t on_read(char *buf, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t cap = size * n;
	x->upload_started = 1;
	long long got = x->req->upload_read(buf, cap, x->req->upload_payload);
	if (got < 0 || (unsigned long long)got > cap) {
		x->upload_err = got < 0 ? (int)got : PW_EINVAL;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

static int on_seek(void *userp, curl_off_t offset, int origin)
{
	struct xfer *x = userp;
	if (offset != 0 || origin != SEEK_SET || !x->req->upload_rewind)
		return CURL_SEEKFUNC_CANTSEEK;
	return x->req->upload_rewind(x->req->upload_payload) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
			return 0;
	}
	return 1;
}

enum dump_kind { DUMP_BODY, DUMP_NOTE, DUMP_HEADERS };

/* Emits text line by line with prefix: header lines redacted (DUMP_HEADERS), credentials in
 * URLs masked in libcurl's notes (DUMP_NOTE), bodies as they are. */
static void debug_lines(const pw_http_request *req, const char *prefix, const char *text, size_t len,
                        enum dump_kind kind)
{
	pw_buf line = PW_BUF_INIT(0);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t n = (size_t)(stop - p);
		while (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			pw__buf_clear(&line);
			pw__buf_puts(&line, prefix);
			if (kind == DUMP_HEADERS)
				pw__http_redact_line(&line, p, n, req->redact_headers);
			else if (kind == DUMP_NOTE)
				pw__http_redact_text(&line, p, n);
			else
				pw__buf_append(&line, p, n);
			req->on_debug(pw__buf_cstr(&line), req->debug_payload);
		}
		p = nl ? nl + 1 : end;
	}
	pw__buf_dispose(&line);
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	struct xfer *x = userp;
	const pw_http_request *req = x->req;
	switch (type) {
	case CURLINFO_TEXT:
		debug_lines(req, "* ", data, size, DUMP_NOTE);
		break;
	case CURLINFO_HEADER_OUT:
		debug_lines(req, "> ", data, size, DUMP_HEADERS);
		break;
	case CURLINFO_HEADER_IN:
		debug_lines(req, "< ", data, size, DUMP_HEADERS);
		break;
	case CURLINFO_DATA_OUT:
	case CURLINFO_DATA_IN: {
		const char *prefix = type == CURLINFO_DATA_OUT ? "> " : "< ";
		if (req->debug_bodies && printable(data, size)) {
			size_t n = size > DEBUG_BODY_MAX ? DEBUG_BODY_MAX : size;
			debug_lines(req, prefix, data, n, DUMP_BODY);
			if (n < size) {
				char note[64];
				snprintf(note, sizeof(note), "%s[%zu more bytes]", prefix, size - n);
				req->on_debug(note, req->debug_payload);
			}
		} else {
			char note[64];
			snprintf(note, sizeof(note), "%s[%zu bytes of body]", prefix, size);
			req->on_debug(note, req->debug_payload);
		}
		break;
	}
	default:
		break; /* TLS records */
	}
	return 0;
}

/* Everything the attempts of one call share. */
struct call {
	const pw_http_endpoint *ep;
	const pw_http_request *req;
	const char *method;
	char *url;
	struct curl_slist *headers;
	int64_t deadline;  /* 0: none */
	int drop_body;     /* a redirect turned the request into a GET without body */
	int strip_secrets; /* a redirect left the first origin: no credential headers */
	int may_repeat;    /* the request may be processed twice (idempotent, or allowed) */
};

static int has_header(const pw_http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return 1;
	return 0;
}

static int uses_postfields(const struct call *c)
{
	const pw_http_request *req = c->req;
	if (req->upload_read || c->drop_body || strcasecmp(c->method, "HEAD") == 0)
		return 0;
	if (req->body)
		return 1;
	return strcasecmp(c->method, "POST") == 0 || strcasecmp(c->method, "PUT") == 0 ||
	       strcasecmp(c->method, "PATCH") == 0;
}

static int build_headers(struct call *c)
{
	const pw_http_request *req = c->req;
	struct curl_slist *l = NULL;
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		const char *h = req->headers[i];
		if (c->strip_secrets && pw__http_header_secret(h, strcspn(h, ":"), req->redact_headers))
			continue;
		struct curl_slist *n = curl_slist_append(l, h);
		if (!n)
			goto nomem;
		l = n;
	}
	/* no "Expect: 100-continue" round trip, no form content type libcurl would invent */
	const char *extra[2] = {NULL, NULL};
	size_t k = 0;
	if (!has_header(req, "Expect"))
		extra[k++] = "Expect:";
	if (uses_postfields(c) && !has_header(req, "Content-Type"))
		extra[k++] = "Content-Type:";
	for (size_t i = 0; i < k; i++) {
		struct curl_slist *n = curl_slist_append(l, extra[i]);
		if (!n)
			goto nomem;
		l = n;
	}
	c->headers = l;
	return 0;
nomem:
	curl_slist_free_all(l);
	return PW_ENOMEM;
}

static void set_blob(CURL *e, CURLoption opt, const char *pem)
{
	struct curl_blob blob = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
	curl_easy_setopt(e, opt, &blob);
}

/* A configured easy handle for one attempt, or NULL when out of memory. */
static CURL *make_easy(const struct call *c, struct xfer *x, pw_http_pool *pool)
{
	const pw_http_request *req = c->req;
	const pw_http_endpoint *ep = c->ep;
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	x->easy = e;
	x->tcp = !ep->unix_socket;
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	/* the path as built: libcurl would resolve "/../" and "/./" (names are escaped first) */
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_SHARE, pool->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
		/* before 7.85: the bitmask, deprecated since */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		if (curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
		    CURLE_OK) {
			curl_easy_cleanup(e);
			return NULL;
		}
#pragma GCC diagnostic pop
	}
	curl_easy_setopt(e, CURLOPT_USERAGENT, "pipewright/" PW_CONNECTOR_SYSTEM_VERSION);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* On a reused connection that the server closes without answering, libcurl sends the request
	 * again on a new one by itself ("Connection died, retrying a fresh connect"), whatever the
	 * method: a request that must not be repeated goes out on a connection of its own. */
	if (!c->may_repeat)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	if (curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PREREQDATA, x) != CURLE_OK)
		x->sent_unknown = 1;
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                             : PW_HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	if (c->deadline) {
		int64_t left = c->deadline - now_ms();
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	}
	/* redirects are followed by pw__http_do itself (follow_redirect), not by libcurl */

	/* method and body */
	const char *m = c->method;
	if (strcasecmp(m, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (req->upload_read && !c->drop_body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		if (req->upload_size >= 0)
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->upload_size);
		if (strcasecmp(m, "PUT") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	} else if (uses_postfields(c)) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		if (strcasecmp(m, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcasecmp(m, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
	}

	/* where and how to connect */
	if (ep->unix_socket) {
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, ep->unix_socket);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	}
	if (ep->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ep->ca_file);
	if (ep->ca_pem)
		set_blob(e, CURLOPT_CAINFO_BLOB, ep->ca_pem);
	if (ep->client_cert) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, ep->client_cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (ep->client_key) {
		curl_easy_setopt(e, CURLOPT_SSLKEY, ep->client_key);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (ep->client_cert_pem) {
		set_blob(e, CURLOPT_SSLCERT_BLOB, ep->client_cert_pem);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (ep->client_key_pem) {
		set_blob(e, CURLOPT_SSLKEY_BLOB, ep->client_key_pem);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (ep->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	if (req->on_debug) {
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, x);
	}
	return e;
}

/* A response began: acknowledge its first bytes now rather than with the next request. On a
 * kept-alive connection the kernel holds that ACK back (up to 40 ms; it expects to send it with
 * our next data), and a server with Nagle's algorithm on that wrote the headers apart from the
 * body (Python's http.server and the emulators built on it) holds the body back until the ACK
 * comes: a stall per request, which a new connection (curl's command, say) never sees, as it
 * acknowledges at once. libcurl does not tell a callback the transfer's socket, so this runs
 * between two curl_multi_perform calls, on the lane's sockets (its one transfer's). */
static void acknowledge_now(struct lane *l)
{
	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	int max = -1;
	if (curl_multi_fdset(l->multi, &rd, &wr, &ex, &max) != CURLM_OK)
		return;
	int on = 1;
	for (int fd = 0; fd <= max; fd++)
		if (FD_ISSET(fd, &rd))
			setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}

enum outcome { DONE, CANCELLED, DEADLINE, IDLE, MULTI_FAILED };

/* The idle limit in force for x now, or 0 for none (see pw_http_request.idle_timeout_ms). */
static long idle_limit(const struct xfer *x)
{
	const pw_http_request *req = x->req;
	if (req->idle_timeout_ms > 0)
		return req->idle_timeout_ms;
	if (req->idle_timeout_ms < 0 || (req->on_body && x->got_head))
		return 0;
	return PW_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
}

/* Drives one transfer on the lane until it ends, cancel_fd turns readable or the deadline
 * passes; *res gets libcurl's result when DONE. */
static enum outcome run_transfer(struct lane *l, struct xfer *x, const struct call *c, CURLcode *res)
{
	CURL *e = x->easy;
	int fd = c->req->cancel_fd;
	enum outcome oc = DONE;
	*res = CURLE_OK;
	x->last_activity = now_ms();
	if (curl_multi_add_handle(l->multi, e) != CURLM_OK)
		return MULTI_FAILED;
	for (;;) {
		int running = 0;
		if (curl_multi_perform(l->multi, &running) != CURLM_OK) {
			oc = MULTI_FAILED;
			break;
		}
		if (!running)
			break;
		if (x->ack_due) {
			x->ack_due = 0;
			acknowledge_now(l);
		}
		long slice = POLL_SLICE_MS;
		if (c->deadline) {
			int64_t left = c->deadline - now_ms();
			if (left <= 0) {
				oc = DEADLINE;
				break;
			}
			if (left < slice)
				slice = (long)left;
		}
		long idle = idle_limit(x);
		if (idle > 0) {
			int64_t left = x->last_activity + idle - now_ms();
			if (left <= 0) {
				oc = IDLE;
				break;
			}
			if (left < slice)
				slice = (long)left;
		}
		struct curl_waitfd wfd = {.fd = fd, .events = CURL_WAIT_POLLIN, .revents = 0};
		if (curl_multi_poll(l->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0, (int)slice, NULL) !=
		    CURLM_OK) {
			oc = MULTI_FAILED;
			break;
		}
		if (wfd.revents) {
			oc = CANCELLED;
			break;
		}
	}
	if (oc == DONE) {
		int left = 0;
		for (;;) {
			CURLMsg *msg = curl_multi_info_read(l->multi, &left);
			if (!msg)
				break;
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == e)
				*res = msg->data.result;
		}
	}
	curl_multi_remove_handle(l->multi, e);
	return oc;
}

/* ---- errors ---- */

enum failure { PERMANENT, BEFORE_SEND, AFTER_SEND };

static enum failure classify(CURLcode res, const struct xfer *x)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return BEFORE_SEND;
	case CURLE_OPERATION_TIMEDOUT: /* reached only for connect timeouts, see pw__http_do */
		return BEFORE_SEND;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return x->sent || x->sent_unknown ? AFTER_SEND : BEFORE_SEND;
	default:
		return PERMANENT;
	}
}

static int error_code_for(CURLcode res)
{
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		return PW_ETIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
		return PW_ECONFIG;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_TOO_MANY_REDIRECTS:
		return PW_EEXTERNAL;
	case CURLE_OUT_OF_MEMORY:
		return PW_ENOMEM;
	default:
		return PW_EIO;
	}
}

static void hint_for(pw_buf *h, CURLcode res, const struct call *c, long os_errno)
{
	const pw_http_endpoint *ep = c->ep;
	switch (res) {
	case CURLE_PEER_FAILED_VERIFICATION:
		if (ep->ca_file || ep->ca_pem)
			pw__buf_printf(
			    &h[0],
			    "the server's certificate is not signed by the configured CA (%s) or does not "
			    "name this host; check the endpoint URL and the CA file",
			    ep->ca_file ? ep->ca_file : "in-memory CA");
		else
			pw__buf_puts(h,
			             "the server's certificate is not trusted by the system CA store; if it "
			             "comes from a private CA, set the endpoint's CA file (ca_file) to that "
			             "CA's PEM bundle");
		break;
	case CURLE_SSL_CACERT_BADFILE:
		pw__buf_printf(
		    h, "cannot use the CA file '%s'; check the path and that it holds PEM certificates",
		    ep->ca_file ? ep->ca_file : "(in-memory CA)");
		break;
	case CURLE_SSL_CERTPROBLEM:
		pw__buf_printf(h, "check the client certificate '%s' and key '%s' (PEM) used for mutual TLS",
		               ep->client_cert ? ep->client_cert : "(in memory)",
		               ep->client_key ? ep->client_key : "(in memory)");
		break;
	case CURLE_SSL_CONNECT_ERROR:
		pw__buf_puts(
		    h, "the TLS handshake failed; check that the endpoint speaks HTTPS on this port and, "
		       "if the server requires one, the client certificate");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		pw__buf_puts(
		    h, "the host name could not be resolved; check the endpoint URL, DNS and proxy settings");
		break;
	case CURLE_COULDNT_CONNECT:
		if (!ep->unix_socket)
			pw__buf_puts(
			    h, "nothing accepted the connection: is the service running at this address, and "
			       "is the endpoint URL right?");
		else if (os_errno == ENOENT)
			pw__buf_printf(
			    h,
			    "the unix socket %s does not exist: the service may not be running, or its "
			    "socket is elsewhere",
			    ep->unix_socket);
		else if (os_errno == EACCES || os_errno == EPERM)
			pw__buf_printf(
			    h, "this user may not open the unix socket %s; check its owner, group and mode",
			    ep->unix_socket);
		else
			pw__buf_printf(
			    h, "the unix socket %s refused the connection: the service may not be running",
			    ep->unix_socket);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		pw__buf_puts(
		    h,
		    "the service did not answer in time; check that it is reachable, or raise the timeout");
		break;
	default:
		break;
	}
}

static int fail(pw_error **err, int code, const char *op, const char *msg, const char *hint)
{
	pw_error_set(err, code, "%s", msg);
	if (err && *err) {
		pw_error_set_operation(*err, op);
		if (hint && *hint)
			pw_error_set_hint(*err, hint);
	}
	return code;
}

static int transfer_error(pw_error **err, CURLcode res, const struct xfer *x, const struct call *c,
                          const char *op, unsigned attempts)
{
	pw_buf msg = PW_BUF_INIT(0), hint = PW_BUF_INIT(0);
	long os_errno = 0;
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	pw__buf_printf(&msg, "%s failed: %s", op, x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	if (attempts > 1)
		pw__buf_printf(&msg, " (after %u attempts)", attempts);
	hint_for(&hint, res, c, os_errno);
	if (hint.len == 0 &&
	    (strstr(x->errbuf, "certificate required") || strstr(x->errbuf, "handshake failure")))
		/* TLS 1.3 reports a missing client certificate only on the first read */
		pw__buf_puts(
		    &hint, "the server requires a client certificate: set the endpoint's client certificate "
		           "and key (client_cert, client_key) for mutual TLS");
	int code = error_code_for(res);
	fail(err, code, op, pw__buf_cstr(&msg), pw__buf_cstr(&hint));
	pw__buf_dispose(&msg);
	pw__buf_dispose(&hint);
	return code;
}

/* ---- the call ---- */

static char *join_url(const char *base, const char *path)
{
	pw_buf b = PW_BUF_INIT(0);
	size_t n = strlen(base);
	path = path ? path : "";
	while (n > 0 && base[n - 1] == '/' && *path == '/')
		n--;
	int rc = pw__buf_append(&b, base, n);
	if (rc == 0 && *path && *path != '/' && *path != '?' && (n == 0 || base[n - 1] != '/'))
		rc = pw__buf_putc(&b, '/');
	if (rc == 0)
		rc = pw__buf_puts(&b, path);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return NULL;
	}
	return pw__buf_detach(&b);
}

/* scheme://authority plus the socket: which lane's connections can serve this endpoint. */
static char *endpoint_key(const pw_http_endpoint *ep)
{
	pw_buf b = PW_BUF_INIT(0);
	const char *base = ep->base_url;
	const char *auth = strstr(base, "://");
	size_t n = auth ? (size_t)(auth + 3 - base) + strcspn(auth + 3, "/?#") : strlen(base);
	pw__buf_append(&b, base, n);
	pw__buf_printf(&b, "|%s", ep->unix_socket ? ep->unix_socket : "");
	return pw__buf_detach(&b);
}

static void xfer_reset(struct xfer *x, const pw_http_request *req)
{
	pw__buf_dispose(&x->body);
	pw_map_free(x->headers);
	memset(x, 0, sizeof(*x));
	x->req = req;
	x->max_response = req->max_response ? req->max_response : PW_HTTP_DEFAULT_MAX_RESPONSE;
	x->headers = pw_map_new();
	if (!x->headers)
		x->nomem = 1;
}

static uint64_t rng_seed(const void *salt)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t s = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)salt;
	return s ? s : 1;
}

/* Whether another attempt can start: the upload can be replayed. Rewinds it when needed. */
static int can_repeat_upload(const pw_http_request *req, const struct xfer *x)
{
	if (!req->upload_read || !x->upload_started)
		return 1;
	return req->upload_rewind && req->upload_rewind(req->upload_payload) == 0;
}

/* Waits before the next attempt. Returns 0 to go on, 1 when the wait would pass the deadline
 * (give up retrying), PW_ECANCELLED when cancel_fd fired. */
static int backoff_wait(const struct call *c, long wait)
{
	if (c->deadline && now_ms() + wait >= c->deadline)
		return 1;
	if (wait_fd(c->req->cancel_fd, wait))
		return PW_ECANCELLED;
	return 0;
}

/* "scheme://host:port" of an absolute URL, lower-cased, without userinfo, with the default port
 * made explicit: what must stay equal for credentials to go along. NULL when out of memory. */
static char *origin_of(const char *url)
{
	pw_buf b = PW_BUF_INIT(0);
	const char *sep = strstr(url, "://");
	const char *auth = sep ? sep + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *host = auth;
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			host = auth + i + 1;
	size_t hlen = alen - (size_t)(host - auth);
	for (const char *p = url; sep && p < sep; p++)
		pw__buf_putc(&b, (char)tolower((unsigned char)*p));
	pw__buf_puts(&b, "://");
	for (size_t i = 0; i < hlen; i++)
		pw__buf_putc(&b, (char)tolower((unsigned char)host[i]));
	const char *close = memchr(host, ']', hlen); /* [v6]:port */
	const char *after = close ? close + 1 : host;
	if (!memchr(after, ':', hlen - (size_t)(after - host)))
		pw__buf_puts(&b, sep && (size_t)(sep - url) == 5 ? ":443" : ":80");
	return pw__buf_detach(&b);
}

static int starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* The answer was a redirect (status) to `to`: prepares c for the next hop. Returns 1 to follow,
 * 0 to return the redirect response as it is (a streamed upload that cannot be sent again), or
 * a negative code with *err set (downgrade to plain HTTP, another scheme, out of memory).
 * Leaving the first origin (scheme, host or port) drops every credential header for the rest
 * of the call; libcurl's own following would pass on all but Authorization and Cookie. */
static int follow_redirect(struct call *c, struct xfer *x, long status, const char *to, const char *op,
                           pw_error **err)
{
	const pw_http_request *req = c->req;
	if (!starts_with_ci(to, "http://") && !starts_with_ci(to, "https://"))
		return fail(err, PW_EEXTERNAL, op,
		            "the server redirected to a URL that is not HTTP or HTTPS; not followed", NULL);
	if (starts_with_ci(c->url, "https://") && starts_with_ci(to, "http://")) {
		pw_buf m = PW_BUF_INIT(0);
		pw__buf_printf(&m, "%s failed: the server redirected from HTTPS to plain HTTP; not followed",
		               op);
		fail(err, PW_EEXTERNAL, op, pw__buf_cstr(&m),
		     "a redirect to plain HTTP would send the request unencrypted; point the endpoint at "
		     "the final HTTPS address");
		pw__buf_dispose(&m);
		return PW_EEXTERNAL;
	}
	int to_get = (status == 303 && strcasecmp(c->method, "HEAD") != 0) ||
	             ((status == 301 || status == 302) && strcasecmp(c->method, "POST") == 0);
	if (!to_get && !c->drop_body && !can_repeat_upload(req, x))
		return 0;
	char *from = origin_of(c->url), *dest = origin_of(to), *url = strdup(to);
	if (!from || !dest || !url) {
		free(from);
		free(dest);
		free(url);
		return pw_error_set(err, PW_ENOMEM, "out of memory following a redirect");
	}
	if (strcmp(from, dest) != 0)
		c->strip_secrets = 1;
	free(from);
	free(dest);
	free(c->url);
	c->url = url;
	if (to_get) {
		c->method = "GET";
		c->drop_body = 1;
	}
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	if (build_headers(c) < 0)
		return pw_error_set(err, PW_ENOMEM, "out of memory following a redirect");
	return 1;
}

static int has_line_break(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

/* Refuses a method or header with CR or LF: it would end the line early, so that the rest goes
 * out as a header of its own (and escapes redaction in dumps). The value is never quoted in
 * the message, as it may be a credential. */
static int check_request(const struct call *c, const char *op, pw_error **err)
{
	const pw_http_request *req = c->req;
	pw_buf m = PW_BUF_INIT(0);
	char *target = NULL;
	if (has_line_break(c->method, strlen(c->method))) {
		/* the method is not named: what follows its line break may be anything */
		target = pw__http_describe(c->ep, "request", c->req->path_and_query);
		op = target ? target : "HTTP request";
		pw__buf_printf(&m, "%s: the HTTP method contains a line break", op);
	}
	for (size_t i = 0; m.len == 0 && req->headers && req->headers[i]; i++) {
		const char *h = req->headers[i];
		size_t name = strcspn(h, ":");
		if (has_line_break(h, name))
			pw__buf_printf(&m, "%s: the name of request header %zu contains a line break", op,
			               i + 1);
		else if (has_line_break(h + name, strlen(h + name)))
			pw__buf_printf(&m, "%s: the value of request header '%.*s' contains a line break", op,
			               (int)name, h);
	}
	if (m.len == 0)
		return 0;
	fail(err, PW_EINVAL, op, pw__buf_cstr(&m),
	     "HTTP methods and header names and values must be single lines; remove CR and LF from them");
	pw__buf_dispose(&m);
	free(target);
	return PW_EINVAL;
}

int pw__http_do(pw_http_response *out, pw_http_pool *pool, const pw_http_endpoint *ep,
                const pw_http_request *req, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	if (!pool || !ep || !ep->base_url || !req)
		return pw_error_set(err, PW_EINVAL, "HTTP request without a pool, endpoint or base URL");

	struct call c = {.ep = ep, .req = req, .method = req->method ? req->method : "GET"};
	char *op = pw__http_describe(ep, c.method, req->path_and_query);
	char *key = endpoint_key(ep);
	c.url = join_url(ep->base_url, req->path_and_query);
	struct lane *lane = NULL;
	struct xfer x = {0};
	int rc = 0;
	if (!op || !key || !c.url) {
		rc = pw_error_set(err, PW_ENOMEM, "out of memory preparing an HTTP request");
		goto out;
	}
	rc = check_request(&c, op, err);
	if (rc < 0)
		goto out;
	if (build_headers(&c) < 0) {
		rc = pw_error_set(err, PW_ENOMEM, "out of memory preparing an HTTP request");
		goto out;
	}
	if (req->total_timeout_ms > 0)
		c.deadline = now_ms() + req->total_timeout_ms;
	lane = lane_take(pool, key);
	if (!lane) {
		rc = pw_error_set(err, PW_ENOMEM, "out of memory preparing an HTTP request");
		goto out;
	}

	int may_repeat = pw__http_method_idempotent(c.method) || req->retry_non_idempotent;
	c.may_repeat = may_repeat;
	uint64_t rng = rng_seed(&x);
	unsigned redirects = 0;
	for (unsigned attempt = 1;; attempt++) {
		xfer_reset(&x, req);
		out->attempts = attempt;
		if (req->cancel_fd >= 0 && wait_fd(req->cancel_fd, 0)) {
			rc = fail(err, PW_ECANCELLED, op, "request cancelled", NULL);
			break;
		}
		CURL *e = x.nomem ? NULL : make_easy(&c, &x, pool);
		if (!e) {
			rc = pw_error_set(err, PW_ENOMEM, "out of memory preparing an HTTP request");
			break;
		}
		CURLcode res;
		enum outcome oc = run_transfer(lane, &x, &c, &res);
		int deadline_passed = c.deadline && now_ms() >= c.deadline - 5;
		if (oc == CANCELLED) {
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "%s cancelled", op);
			rc = fail(err, PW_ECANCELLED, op, pw__buf_cstr(&m), NULL);
			pw__buf_dispose(&m);
		} else if (oc == DEADLINE ||
		           (res == CURLE_OPERATION_TIMEDOUT && (deadline_passed || x.sent))) {
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "%s timed out after %ld ms", op, req->total_timeout_ms);
			if (attempt > 1)
				pw__buf_printf(&m, " (%u attempts)", attempt);
			rc = fail(err, PW_ETIMEOUT, op, pw__buf_cstr(&m),
			          "the service did not finish answering within the time limit; raise the "
			          "timeout if "
			          "it is expected to be slow");
			pw__buf_dispose(&m);
		} else if (oc == IDLE) {
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "%s timed out: nothing was sent or received for %ld ms", op,
			               idle_limit(&x));
			rc = fail(
			    err, PW_ETIMEOUT, op, pw__buf_cstr(&m),
			    "the service accepted the connection but stopped answering; check that it is "
			    "healthy, or raise the request's idle timeout if it is expected to be quiet");
			pw__buf_dispose(&m);
		} else if (oc == MULTI_FAILED || x.nomem || res == CURLE_OUT_OF_MEMORY) {
			rc = pw_error_set(err, PW_ENOMEM, "%s failed: out of memory", op);
		} else if (x.too_big) {
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "%s failed: the response body exceeds the limit of %zu bytes", op,
			               x.max_response);
			rc = fail(err, PW_EEXTERNAL, op, pw__buf_cstr(&m), NULL);
			pw__buf_dispose(&m);
		} else if (x.body_stop < 0) {
			rc = x.body_stop;
			pw_error_set(err, rc, "%s stopped by the response consumer", op);
		} else if (x.upload_err) {
			rc = x.upload_err;
			pw_error_set(err, rc, "%s failed: reading the upload body failed", op);
		} else if (res == CURLE_OK || x.body_stop > 0) {
			long status = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			char *location = NULL;
			curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location);
			if (req->follow_redirects && location && x.body_stop == 0 && status >= 300 &&
			    status < 400) {
				if (++redirects > MAX_REDIRECTS) {
					pw_buf m = PW_BUF_INIT(0);
					pw__buf_printf(&m, "%s failed: more than %d redirects", op,
					               MAX_REDIRECTS);
					rc = fail(err, PW_EEXTERNAL, op, pw__buf_cstr(&m), NULL);
					pw__buf_dispose(&m);
					curl_easy_cleanup(e);
					break;
				}
				int f = follow_redirect(&c, &x, status, location, op, err);
				if (f < 0) {
					rc = f;
					curl_easy_cleanup(e);
					break;
				}
				if (f > 0) {
					curl_easy_cleanup(e);
					attempt--; /* a redirect is not a retry */
					continue;
				}
			}
			if (attempt <= req->max_retries && x.body_stop == 0 && !x.delivered &&
			    pw__http_status_retryable(status, may_repeat)) {
				long wait = pw__http_backoff_ms(attempt, req->retry_base_ms, &rng);
				long ra =
				    pw__http_retry_after_ms(pw_map_get(x.headers, "retry-after"), time(NULL));
				if (ra > PW_HTTP_MAX_RETRY_AFTER_MS && !c.deadline)
					ra = PW_HTTP_MAX_RETRY_AFTER_MS;
				if (ra > wait)
					wait = ra;
				if (can_repeat_upload(req, &x)) {
					int w = backoff_wait(&c, wait);
					if (w == 0) {
						curl_easy_cleanup(e);
						continue;
					}
					if (w == PW_ECANCELLED) {
						curl_easy_cleanup(e);
						rc = fail(err, PW_ECANCELLED, op,
						          "request cancelled while waiting to retry", NULL);
						break;
					}
				}
			}
			out->status = status;
			out->headers = x.headers;
			x.headers = NULL;
			out->body_len = x.body.len;
			out->body = pw__buf_detach(&x.body);
			if (!out->body) {
				rc = pw_error_set(err, PW_ENOMEM, "%s: out of memory", op);
				out->body_len = 0;
			}
		} else {
			enum failure f = classify(res, &x);
			int retry = attempt <= req->max_retries && !x.delivered &&
			            (f == BEFORE_SEND || (f == AFTER_SEND && may_repeat)) &&
			            can_repeat_upload(req, &x);
			if (retry) {
				int w =
				    backoff_wait(&c, pw__http_backoff_ms(attempt, req->retry_base_ms, &rng));
				if (w == 0) {
					curl_easy_cleanup(e);
					continue;
				}
				if (w == PW_ECANCELLED) {
					curl_easy_cleanup(e);
					rc = fail(err, PW_ECANCELLED, op,
					          "request cancelled while waiting to retry", NULL);
					break;
				}
			}
			rc = transfer_error(err, res, &x, &c, op, attempt);
		}
		curl_easy_cleanup(e);
		break;
	}

out:
	if (lane)
		lane_give_back(pool, lane, key ? key : "");
	pw__buf_dispose(&x.body);
	pw_map_free(x.headers);
	curl_slist_free_all(c.headers);
	free(c.url);
	free(key);
	free(op);
	if (rc < 0) {
		unsigned attempts = out->attempts;
		pw__http_response_dispose(out);
		out->attempts = attempts;
	}
	return rc;
}

void pw__http_response_dispose(pw_http_response *r)
{
	if (!r)
		return;
	pw_map_free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
