/* The Docker connector: runs a step in a container on a Docker-compatible engine (Docker
 * Engine or Podman's API service) through the Engine API; builds images from Dockerfiles. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "connectors/docker/docker.h"
#include "connectors/docker/http.h"
#include "net/http.h"
#include "core/clock.h"
#include "core/step.h"
#include "core/journal.h"
#include "core/internal.h"

#define MAX_CANDIDATES 6
#define MAX_ENGINES 8
#define CALL_TIMEOUT_MS 30000
#define CLEANUP_TIMEOUT_MS 15000
#define NOT_RUNNING_HINT                                                                                     \
	"start an engine: Docker (systemctl start docker), or Podman's API service (systemctl --user start " \
	"podman.socket, or: podman system service --time=0 unix://$XDG_RUNTIME_DIR/podman/podman.sock &); "  \
	"or point "                                                                                          \
	"DOCKER_HOST or the step's `host:` at a running one"

typedef struct engine {
	pw_docker_endpoint ep;
	pw_docker_engine_info info;
} engine;

typedef struct built_image {
	pw_docker_endpoint ep;
	char api[16];
	char *tag;
	char *journal; /* the run's resource journal, run id and step: "removed" at destroy */
	char *run_id;
	char *step;
} built_image;

typedef struct docker_impl {
	pw_docker_http *http;
	pthread_mutex_t lock;
	engine engines[MAX_ENGINES]; /* engines that answered, by endpoint url */
	size_t engines_count;
	built_image *built; /* run-scoped images removed at destroy */
	size_t built_count;
	unsigned long counter;
} docker_impl;

/* ---- small helpers ---- */

static void set_err(pw_error **err, pw_error *e)
{
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
}

static const char *body_text(const pw_docker_resp *r)
{
	return pw__buf_cstr(&r->body);
}

/* The engine's error message from a JSON error body ({"message": "..."}), or the body. */
static void engine_message(char *out, size_t size, const pw_docker_resp *r)
{
	json_t *v = json_loads(body_text(r), 0, NULL);
	const char *m = json_string_value(json_object_get(v, "message"));
	if (!m)
		m = json_string_value(json_object_get(v, "cause"));
	snprintf(out, size, "%s", m ? m : body_text(r));
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	json_decref(v);
}

static pw_error *api_error(int code, const pw_docker_resp *r, const char *fmt, const char *a, const char *b)
{
	char msg[2048];
	engine_message(msg, sizeof(msg), r);
	pw_error *e = pw_error_new(code, fmt, a, b);
	char resp[2300];
	snprintf(resp, sizeof(resp), "HTTP %ld: %s", r->status, msg);
	pw_error_set_response(e, resp);
	return e;
}

typedef struct call {
	docker_impl *impl;
	const engine *eng;
	pw_exec *ex;
} call;

/* One API call: path is relative to the version prefix ("/containers/create"), unless it
 * starts with "/libpod" (then Podman's own API). */
static int api(pw_docker_resp *out, const call *c, const char *method, const char *path, const char *body,
               int64_t timeout_ms, int cancellable, pw_error **err)
{
	char full[8192];
	if (!strncmp(path, "/libpod/", 8))
		snprintf(full, sizeof(full), "/v4.0.0%s", path);
	else
		snprintf(full, sizeof(full), "/v%s%s", c->eng->info.api_version, path);
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &c->eng->ep;
	req.method = method;
	req.path = full;
	if (body) {
		req.body = body;
		req.body_len = strlen(body);
		req.content_type = "application/json";
	}
	req.timeout_ms = timeout_ms;
	req.cancel_fd = cancellable && c->ex ? pw_exec_cancel_fd(c->ex) : -1;
	if (c->ex)
		pw_exec_log(c->ex, PW_LOG_DEBUG, "docker", "%s %s", method, full);
	return pw__docker_http_do(out, c->impl->http, &req, err);
}

/* ---- resource journal ---- */

/* A journal entry for an object of kind on c's engine; attrs must hold 5 slots. */
static void journal_entry(pw_journal_entry *je, const char **attrs, const pw_docker_endpoint *ep,
                          const char *kind, const char *name)
{
	*je = (pw_journal_entry)PW_JOURNAL_ENTRY_INIT;
	je->connector = "docker";
	je->kind = kind;
	je->name = name;
	je->address = ep->url;
	size_t n = 0;
	if (ep->tls) {
		attrs[n++] = "cert_dir";
		attrs[n++] = ep->cert_dir;
	}
	attrs[n] = NULL;
	je->attrs = n ? attrs : NULL;
}

/* ---- engine discovery ---- */

/* Whether a unix socket accepts connections; the OS reason otherwise. */
static int probe_socket(const char *path, char *why, size_t size)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, size, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, size, "socket(): %s", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (rc < 0) {
		snprintf(why, size, "connect(\"%s\"): %s", path, strerror(e));
		return -1;
	}
	return 0;
}

static const engine *cached_engine(docker_impl *impl, const char *url)
{
	const engine *found = NULL;
	pthread_mutex_lock(&impl->lock);
	for (size_t i = 0; i < impl->engines_count; i++)
		if (!strcmp(impl->engines[i].ep.url, url))
			found = &impl->engines[i];
	pthread_mutex_unlock(&impl->lock);
	return found;
}

static const engine *remember_engine(docker_impl *impl, const pw_docker_endpoint *ep,
                                     const pw_docker_engine_info *info)
{
	const engine *found = NULL;
	pthread_mutex_lock(&impl->lock);
	for (size_t i = 0; i < impl->engines_count && !found; i++)
		if (!strcmp(impl->engines[i].ep.url, ep->url))
			found = &impl->engines[i];
	if (!found && impl->engines_count < MAX_ENGINES) {
		engine *e = &impl->engines[impl->engines_count++];
		e->ep = *ep;
		e->info = *info;
		found = e;
	}
	pthread_mutex_unlock(&impl->lock);
	return found;
}

/* Pings one endpoint and reads its version. 0, or -1 with why filled. */
static int try_engine(docker_impl *impl, const pw_docker_endpoint *ep, pw_docker_engine_info *info,
                      pw_exec *ex, char *why, size_t size)
{
	if (ep->socket[0] && probe_socket(ep->socket, why, size) < 0)
		return -1;
	engine tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.ep = *ep;
	snprintf(tmp.info.api_version, sizeof(tmp.info.api_version), "%s", PW_DOCKER_API_VERSION);
	call c = {impl, &tmp, ex};
	pw_docker_resp r;
	pw_error *e = NULL;
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = ep;
	req.path = "/_ping";
	req.timeout_ms = 5000;
	req.retries = 0; /* the next candidate is tried instead */
	req.cancel_fd = ex ? pw_exec_cancel_fd(ex) : -1;
	int rc = pw__docker_http_do(&r, impl->http, &req, &e);
	if (rc == 0 && r.status != 200) {
		snprintf(why, size, "GET /_ping answered HTTP %ld", r.status);
		rc = -1;
	} else if (rc < 0) {
		snprintf(why, size, "%s", e ? pw_error_message(e) : "no answer");
	}
	if (rc == 0 && pw__docker_parse_ping(info, r.api_version, r.libpod_version, r.server) == 0) {
		pw__buf_dispose(&r.body);
		return 0;
	}
	pw__buf_dispose(&r.body);
	pw_error_free(e);
	e = NULL;
	if (rc < 0)
		return -1;
	(void)c;
	req.path = "/version";
	rc = pw__docker_http_do(&r, impl->http, &req, &e);
	if (rc == 0 && r.status == 200)
		rc = pw__docker_parse_version(info, body_text(&r), &e);
	else if (rc == 0)
		rc = -1;
	if (rc < 0)
		snprintf(why, size, "GET /version failed: %s", e ? pw_error_message(e) : body_text(&r));
	pw__buf_dispose(&r.body);
	pw_error_free(e);
	return rc < 0 ? -1 : 0;
}

static int find_engine(const engine **out, docker_impl *impl, const char *host, pw_exec *ex, pw_error **err)
{
	pw_docker_endpoint cands[MAX_CANDIDATES];
	size_t n = pw__docker_candidates(cands, MAX_CANDIDATES, host, NULL);
	for (size_t i = 0; i < n; i++) {
		const engine *e = cached_engine(impl, cands[i].url);
		if (e) {
			*out = e;
			return 0;
		}
	}
	pw_buf tried = PW_BUF_INIT(16384);
	for (size_t i = 0; i < n; i++) {
		char why[1024] = "";
		pw_docker_engine_info info;
		if (try_engine(impl, &cands[i], &info, ex, why, sizeof(why)) == 0) {
			pw__buf_dispose(&tried);
			*out = remember_engine(impl, &cands[i], &info);
			if (ex)
				pw_exec_log(ex, PW_LOG_INFO, "docker", "engine: %s %s at %s (API %s)",
				            info.name, info.version, cands[i].url, info.api_version);
			return *out ? 0 : PW_ENOMEM;
		}
		if (ex && pw_exec_cancelled(ex) != PW_CANCEL_NONE) {
			pw__buf_dispose(&tried);
			return pw_error_set(err, PW_ECANCELLED,
			                    "cancelled while looking for the container engine");
		}
		pw__buf_printf(&tried, "%s%s %s (%s)", i ? "; " : "", cands[i].origin, cands[i].url, why);
	}
	if (n == 0)
		pw__buf_puts(&tried, "no usable address (check DOCKER_HOST and the step's host)");
	pw_error *e =
	    pw_error_new(PW_EEXTERNAL, "no container engine is running: tried %s", pw__buf_cstr(&tried));
	pw_error_set_operation(e, "find the container engine");
	pw_error_set_hint(e, NOT_RUNNING_HINT);
	if (host)
		pw_error_set_key(e, "host");
	pw__buf_dispose(&tried);
	set_err(err, e);
	return PW_EEXTERNAL;
}

/* ---- images ---- */

static void path_escape(pw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("._-/:@", *p)) {
			pw__buf_putc(b, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			pw__buf_append(b, e, 3);
		}
	}
}

/* 1 present (image id copied), 0 absent, negative on error. */
static int image_inspect(const call *c, const char *ref, char *id, size_t id_size, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_puts(&p, "/images/");
	path_escape(&p, ref);
	pw__buf_puts(&p, "/json");
	pw_docker_resp r;
	int rc = api(&r, c, "GET", pw__buf_cstr(&p), NULL, CALL_TIMEOUT_MS, 1, err);
	pw__buf_dispose(&p);
	if (rc == 0) {
		if (r.status == 200) {
			json_t *v = json_loads(body_text(&r), 0, NULL);
			const char *i = json_string_value(json_object_get(v, "Id"));
			snprintf(id, id_size, "%s", i ? i : "");
			json_decref(v);
			rc = 1;
		} else if (r.status == 404) {
			rc = 0;
		} else {
			set_err(err, api_error(PW_EEXTERNAL, &r, "cannot inspect image '%s'%s", ref, ""));
			rc = PW_EEXTERNAL;
		}
	}
	pw__buf_dispose(&r.body);
	return rc;
}

/* Splits a JSON-lines stream into whole lines. */
typedef struct line_splitter {
	pw_buf pending;
	void (*line)(const char *s, size_t n, void *payload);
	void *payload;
} line_splitter;

static int split_lines(const char *data, size_t len, void *payload)
{
	line_splitter *ls = payload;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			if (pw__buf_append(&ls->pending, p, (size_t)(end - p)) < 0)
				return 1;
			return 0;
		}
		if (ls->pending.len) {
			if (pw__buf_append(&ls->pending, p, (size_t)(nl - p)) < 0)
				return 1;
			ls->line(ls->pending.data, ls->pending.len, ls->payload);
			pw__buf_clear(&ls->pending);
		} else {
			ls->line(p, (size_t)(nl - p), ls->payload);
		}
		p = nl + 1;
	}
	return 0;
}

typedef struct pull_state {
	pw_exec *ex;
	char error[2048];
} pull_state;

static void pull_line(const char *s, size_t n, void *payload)
{
	pull_state *ps = payload;
	json_t *v = json_loadb(s, n, 0, NULL);
	const char *e = json_string_value(json_object_get(v, "error"));
	const char *d = json_string_value(json_object_get(json_object_get(v, "errorDetail"), "message"));
	if (e || d)
		snprintf(ps->error, sizeof(ps->error), "%s", d ? d : e);
	const char *status = json_string_value(json_object_get(v, "status"));
	if (status && ps->ex && !json_object_get(v, "progressDetail"))
		pw_exec_log(ps->ex, PW_LOG_INFO, "docker", "pull: %s", status);
	json_decref(v);
}

static int image_pull(const call *c, const char *ref, pw_error **err)
{
	char *name = NULL, *tag = NULL, *registry = NULL;
	if (pw__docker_image_ref_split(&name, &tag, &registry, ref) < 0)
		return PW_ENOMEM;
	char *config = pw__docker_read_config_file();
	char *auth = NULL, *secret = NULL;
	pw__docker_registry_auth(&auth, &secret, config, registry);
	free(config);
	if (secret && c->ex)
		pw_exec_add_secret(c->ex, secret, "registry credential", NULL);
	pw_buf path = PW_BUF_INIT(0);
	pw_buf hdr = PW_BUF_INIT(0);
	pw__buf_printf(&path, "/v%s/images/create?fromImage=", c->eng->info.api_version);
	pw__docker_url_encode(&path, name);
	pw__buf_puts(&path, "&tag=");
	pw__docker_url_encode(&path, tag);
	if (auth)
		pw__buf_printf(&hdr, "X-Registry-Auth: %s", auth);
	const char *headers[2] = {auth ? pw__buf_cstr(&hdr) : NULL, NULL};
	pull_state ps = {c->ex, ""};
	line_splitter ls = {PW_BUF_INIT(1 << 20), pull_line, &ps};
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &c->eng->ep;
	req.method = "POST";
	req.path = pw__buf_cstr(&path);
	req.headers = headers;
	req.on_data = split_lines;
	req.payload = &ls;
	req.timeout_ms = 0;
	req.cancel_fd = c->ex ? pw_exec_cancel_fd(c->ex) : -1;
	if (c->ex)
		pw_exec_log(c->ex, PW_LOG_INFO, "docker", "pulling %s:%s%s", name, tag,
		            auth ? " (with credentials)" : "");
	pw_docker_resp r;
	int rc = pw__docker_http_do(&r, c->impl->http, &req, err);
	if (ls.pending.len)
		pull_line(ls.pending.data, ls.pending.len, &ps);
	if (rc == 0 && r.status != 200) {
		pw_error *e = api_error(PW_EEXTERNAL, &r, "cannot pull image '%s'%s", ref, "");
		pw_error_set_key(e, "image");
		pw_error_set_hint(e, "check the name and tag, the network, and the registry credentials in "
		                     "~/.docker/config.json (auths)");
		set_err(err, e);
		rc = PW_EEXTERNAL;
	} else if (rc == 0 && ps.error[0]) {
		pw_error *e = pw_error_new(PW_EEXTERNAL, "cannot pull image '%s': %s", ref, ps.error);
		pw_error_set_key(e, "image");
		pw_error_set_hint(e, "check the name and tag, the network, and the registry credentials in "
		                     "~/.docker/config.json (auths)");
		set_err(err, e);
		rc = PW_EEXTERNAL;
	}
	pw__buf_dispose(&r.body);
	pw__buf_dispose(&ls.pending);
	pw__buf_dispose(&path);
	pw__buf_dispose(&hdr);
	free(auth);
	free(secret);
	free(name);
	free(tag);
	free(registry);
	return rc;
}

static int ensure_image(const call *c, const pw_docker_config *cfg, char *id, size_t id_size, int *pulled,
                        pw_error **err)
{
	*pulled = 0;
	int present = 0;
	if (cfg->pull != PW_DOCKER_PULL_ALWAYS) {
		present = image_inspect(c, cfg->image, id, id_size, err);
		if (present < 0)
			return present;
		if (present)
			return 0;
		if (cfg->pull == PW_DOCKER_PULL_NEVER) {
			pw_error *e = pw_error_new(
			    PW_ENOTFOUND,
			    "image '%s' is not on the engine (%s at %s) and pull: never forbids pulling it",
			    cfg->image, c->eng->info.name, c->eng->ep.url);
			pw_error_set_key(e, "pull");
			pw_error_set_hint(
			    e, "build or load the image on that engine first, or set pull: if-not-present");
			set_err(err, e);
			return PW_ENOTFOUND;
		}
	}
	int rc = image_pull(c, cfg->image, err);
	if (rc < 0)
		return rc;
	*pulled = 1;
	present = image_inspect(c, cfg->image, id, id_size, err);
	if (present < 0)
		return present;
	if (!present) {
		pw_error *e =
		    pw_error_new(PW_EEXTERNAL, "image '%s' is still missing after the pull", cfg->image);
		pw_error_set_key(e, "image");
		set_err(err, e);
		return PW_EEXTERNAL;
	}
	return 0;
}

/* ---- build ---- */

typedef struct build_ctx {
	pw_exec *ex;
	pw_docker_build_state st;
	pw_buf log;
} build_ctx;

static void build_line(const char *s, size_t n, void *payload)
{
	build_ctx *b = payload;
	pw__buf_clear(&b->log);
	pw__docker_build_line(&b->st, s, n, &b->log);
	if (b->log.len && b->ex)
		pw_exec_output(b->ex, PW_STREAM_STDOUT, b->log.data, b->log.len);
}

/* A failed build leaves the image of its last complete instruction behind, untagged but
 * carrying our labels: remove those of this run and step. */
static void remove_build_leftovers(const call *c, const char *run_id, const char *step)
{
	json_t *filters = json_object();
	json_t *labels = json_array();
	pw_buf l = PW_BUF_INIT(0);
	pw__buf_printf(&l, "%s=%s", PW_DOCKER_LABEL_RUN, run_id);
	json_array_append_new(labels, json_string(pw__buf_cstr(&l)));
	/* one label filter only: Podman 4.3 matches nothing when given two; the step label is
	 * checked here instead */
	json_object_set_new(filters, "label", labels);
	json_t *dangling = json_array();
	json_array_append_new(dangling, json_string("true"));
	json_object_set_new(filters, "dangling", dangling);
	char *ft = json_dumps(filters, JSON_COMPACT);
	json_decref(filters);
	pw__buf_clear(&l);
	pw__buf_puts(&l, "/images/json?all=1&filters=");
	pw__docker_url_encode(&l, ft ? ft : "{}");
	free(ft);
	call nc = *c;
	pw_docker_resp r;
	if (api(&r, &nc, "GET", pw__buf_cstr(&l), NULL, CLEANUP_TIMEOUT_MS, 0, NULL) == 0 &&
	    r.status == 200) {
		json_t *v = json_loads(body_text(&r), 0, NULL);
		size_t i;
		json_t *img;
		json_array_foreach(v, i, img)
		{
			const char *id = json_string_value(json_object_get(img, "Id"));
			const char *st = json_string_value(
			    json_object_get(json_object_get(img, "Labels"), PW_DOCKER_LABEL_STEP));
			if (!id || strlen(id) > 100 || !st || strcmp(st, step) != 0)
				continue;
			char path[256];
			snprintf(path, sizeof(path), "/images/%s", id);
			pw_docker_resp d;
			if (api(&d, &nc, "DELETE", path, NULL, CLEANUP_TIMEOUT_MS, 0, NULL) == 0 && c->ex)
				pw_exec_log(c->ex, PW_LOG_DEBUG, "docker",
				            "removed build leftover %.19s: HTTP %ld", id, d.status);
			pw__buf_dispose(&d.body);
		}
		json_decref(v);
	}
	pw__buf_dispose(&r.body);
	pw__buf_dispose(&l);
}

static void join_ws(char *out, size_t size, const char *root, const char *rel)
{
	if (rel[0] == '/')
		snprintf(out, size, "%s", rel);
	else
		snprintf(out, size, "%s/%s", root, rel);
}

static int build_image(const call *c, const pw_docker_config *cfg, const pw_workspace *ws, const char *run_id,
                       const char *step, char **tag_out, char *id, size_t id_size, pw_error **err)
{
	char ctxdir[PATH_MAX], dfpath[PATH_MAX];
	join_ws(ctxdir, sizeof(ctxdir), pw_workspace_root(ws), cfg->build_context);
	join_ws(dfpath, sizeof(dfpath), pw_workspace_root(ws), cfg->dockerfile);
	FILE *tar = tmpfile();
	if (!tar)
		return pw_error_set(err, PW_EIO, "build context: tmpfile(): %s", strerror(errno));
	char *dfname = NULL;
	size_t files = 0;
	int rc = pw__docker_context_tar(tar, ctxdir, dfpath, &dfname, &files, err);
	if (rc < 0) {
		fclose(tar);
		return rc;
	}
	rewind(tar);
	char *tag = pw__docker_build_tag(run_id, step);
	pw_journal_entry je;
	const char *jattrs[5];
	journal_entry(&je, jattrs, &c->eng->ep, "image", tag);
	rc = pw__journal_created(c->ex, &je, err);
	if (rc < 0) {
		free(tag);
		free(dfname);
		fclose(tar);
		return rc;
	}
	char *query = pw__docker_build_query(cfg, tag, dfname, run_id, step);
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "/v%s/build?%s", c->eng->info.api_version, query);
	build_ctx b;
	memset(&b, 0, sizeof(b));
	b.ex = c->ex;
	line_splitter ls = {PW_BUF_INIT(4 << 20), build_line, &b};
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &c->eng->ep;
	req.method = "POST";
	req.path = pw__buf_cstr(&path);
	req.content_type = "application/x-tar";
	req.upload = tar;
	req.on_data = split_lines;
	req.payload = &ls;
	req.timeout_ms = 0;
	req.cancel_fd = c->ex ? pw_exec_cancel_fd(c->ex) : -1;
	if (c->ex)
		pw_exec_log(c->ex, PW_LOG_INFO, "docker", "building %s from %s (%zu context entries)", tag,
		            cfg->dockerfile, files);
	pw_docker_resp r;
	rc = pw__docker_http_do(&r, c->impl->http, &req, err);
	if (ls.pending.len)
		build_line(ls.pending.data, ls.pending.len, &b);
	if (rc == 0 && r.status != 200) {
		pw_error *e = api_error(PW_ESTEP, &r, "building '%s' failed%s", cfg->dockerfile, "");
		pw_error_set_key(e, "dockerfile");
		set_err(err, e);
		rc = PW_ESTEP;
	} else if (rc == 0 && b.st.failed) {
		pw_error *e = NULL;
		if (b.st.last_step[0])
			e = pw_error_new(PW_ESTEP, "building '%s' failed at %s: %s", cfg->dockerfile,
			                 b.st.last_step, b.st.error);
		else
			e = pw_error_new(PW_ESTEP, "building '%s' failed: %s", cfg->dockerfile, b.st.error);
		pw_error_set_key(e, "dockerfile");
		pw_error_set_response(e, b.st.error);
		pw_error_set_hint(e, "the build output above shows the failing instruction's own output");
		set_err(err, e);
		rc = PW_ESTEP;
	}
	if (rc < 0)
		remove_build_leftovers(c, run_id, step);
	if (rc < 0 || cfg->keep_image)
		pw__journal_removed(c->ex, &je); /* not made, or kept on purpose */
	if (rc == 0) {
		/* remember it for removal, whether or not the id can be read back */
		docker_impl *impl = c->impl;
		pthread_mutex_lock(&impl->lock);
		built_image *nb = realloc(impl->built, (impl->built_count + 1) * sizeof(*nb));
		if (nb) {
			impl->built = nb;
			int dup = 0;
			for (size_t i = 0; i < impl->built_count; i++)
				if (!strcmp(nb[i].tag, tag) && !strcmp(nb[i].ep.url, c->eng->ep.url))
					dup = 1;
			if (!dup && !cfg->keep_image) {
				nb[impl->built_count].ep = c->eng->ep;
				snprintf(nb[impl->built_count].api, sizeof(nb[0].api), "%s",
				         c->eng->info.api_version);
				built_image *bi = &nb[impl->built_count];
				const char *jp = c->ex ? pw__exec_journal(c->ex) : NULL;
				bi->tag = strdup(tag);
				bi->journal = jp ? strdup(jp) : NULL;
				bi->run_id = strdup(run_id);
				bi->step = strdup(step);
				if (bi->tag && bi->run_id && bi->step && (bi->journal || !jp)) {
					impl->built_count++;
				} else {
					free(bi->tag);
					free(bi->journal);
					free(bi->run_id);
					free(bi->step);
				}
			}
		}
		pthread_mutex_unlock(&impl->lock);
		if (image_inspect(c, tag, id, id_size, NULL) <= 0)
			snprintf(id, id_size, "%s", b.st.image_id);
	}
	pw__buf_dispose(&r.body);
	pw__buf_dispose(&ls.pending);
	pw__buf_dispose(&b.log);
	pw__buf_dispose(&path);
	free(query);
	free(dfname);
	fclose(tar);
	if (rc == 0)
		*tag_out = tag;
	else
		free(tag);
	return rc;
}

/* ---- containers ---- */

typedef struct log_ctx {
	pw_exec *ex;
	pw_docker_demux demux;
	uint64_t seen[3]; /* bytes of stdout [1] and stderr [2] received */
	uint64_t skip[3]; /* bytes per stream already emitted by an earlier read */
} log_ctx;

static void on_frame(int stream, const char *data, size_t len, void *payload)
{
	log_ctx *l = payload;
	int s = stream == 2 ? 2 : 1;
	if (l->skip[s] >= len) {
		l->skip[s] -= len;
		return;
	}
	data += l->skip[s];
	len -= (size_t)l->skip[s];
	l->skip[s] = 0;
	l->seen[s] += len;
	if (l->ex)
		pw_exec_output(l->ex, s == 2 ? PW_STREAM_STDERR : PW_STREAM_STDOUT, data, len);
}

static int on_log_data(const char *data, size_t len, void *payload)
{
	log_ctx *l = payload;
	pw__docker_demux_feed(&l->demux, data, len);
	return 0;
}

/* GET /containers/{id}/logs into l (follow: until the container stops or cancel_fd). */
static int read_logs(const call *c, const char *id, int follow, log_ctx *l, int cancel_fd, pw_error **err)
{
	char path[512];
	snprintf(path, sizeof(path), "/v%s/containers/%s/logs?%sstdout=1&stderr=1", c->eng->info.api_version,
	         id, follow ? "follow=1&" : "");
	pw__docker_demux_init(&l->demux, on_frame, l);
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &c->eng->ep;
	req.path = path;
	req.on_data = on_log_data;
	req.payload = l;
	req.timeout_ms = follow ? 0 : CALL_TIMEOUT_MS;
	req.cancel_fd = cancel_fd;
	pw_docker_resp r;
	int rc = pw__docker_http_do(&r, c->impl->http, &req, err);
	if (rc == 0 && r.status != 200) {
		set_err(err,
		        api_error(PW_EEXTERNAL, &r, "cannot read the logs of container %.12s%s", id, ""));
		rc = PW_EEXTERNAL;
	}
	pw__buf_dispose(&r.body);
	return rc;
}

/* Follows the logs on a thread of its own while the calling thread waits for the exit:
 * Podman ends a log follow only some 300 ms after the container stopped, while its wait
 * endpoint answers within 10 ms. */
typedef struct follower {
	const call *c;
	const char *id;
	log_ctx l;
	int stop[2]; /* written to stop the follow */
	int done[2]; /* written by the thread when the follow ended */
	int rc;
	pw_error *err;
} follower;

static int cloexec_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

static void *follow_main(void *arg)
{
	follower *f = arg;
	f->rc = read_logs(f->c, f->id, 1, &f->l, f->stop[0], &f->err);
	ssize_t w = write(f->done[1], "x", 1);
	(void)w;
	return NULL;
}

/* Small outputs are cheaper to read again than to wait for the follow to end by itself. */
#define REREAD_MAX ((uint64_t)4 << 20)

static int finish_logs(follower *f, pthread_t th, int exited, pw_error **err)
{
	int ended = 0;
	if (exited) {
		uint64_t seen = f->l.seen[1] + f->l.seen[2];
		struct pollfd p = {f->done[0], POLLIN, 0};
		ended = poll(&p, 1, seen < REREAD_MAX ? 0 : 10000) > 0;
	}
	if (!ended) {
		ssize_t w = write(f->stop[1], "x", 1);
		(void)w;
	}
	pthread_join(th, NULL);
	int rc = 0;
	if (exited && (!ended || f->rc < 0)) {
		/* read the whole log again, passing on only what the follow had not */
		log_ctx again;
		memset(&again, 0, sizeof(again));
		again.ex = f->l.ex;
		again.skip[1] = f->l.seen[1];
		again.skip[2] = f->l.seen[2];
		rc = read_logs(f->c, f->id, 0, &again, -1, err);
		f->l.seen[1] += again.seen[1];
		f->l.seen[2] += again.seen[2];
	}
	pw_error_free(f->err);
	f->err = NULL;
	close(f->stop[0]);
	close(f->stop[1]);
	close(f->done[0]);
	close(f->done[1]);
	return rc;
}

/* The exit code once the container has stopped. Podman: its own wait endpoint, which polls
 * every 10 ms on the server (the compatible one polls far more slowly). */
static int wait_exit(const call *c, const char *id, int *code, pw_error **err)
{
	char path[512];
	if (c->eng->info.podman)
		snprintf(path, sizeof(path), "/libpod/containers/%s/wait?condition=exited&interval=10ms", id);
	else
		snprintf(path, sizeof(path), "/containers/%s/wait?condition=not-running", id);
	pw_docker_resp r;
	int rc = api(&r, c, "POST", path, NULL, 0, 1, err);
	if (rc == 0 && r.status != 200) {
		set_err(err, api_error(PW_EEXTERNAL, &r, "cannot wait for container %.12s%s", id, ""));
		rc = PW_EEXTERNAL;
	}
	if (rc == 0) {
		json_t *v = json_loads(body_text(&r), JSON_DECODE_ANY, NULL);
		if (json_is_integer(v))
			*code = (int)json_integer_value(v);
		else if (json_is_integer(json_object_get(v, "StatusCode")))
			*code = (int)json_integer_value(json_object_get(v, "StatusCode"));
		else
			rc = pw_error_set(err, PW_EEXTERNAL,
			                  "the engine's wait answer has no exit code: %.200s", body_text(&r));
		json_decref(v);
	}
	pw__buf_dispose(&r.body);
	return rc;
}

/* Stops (grace: stop_timeout, then the engine kills), kills for engines that do not, and
 * removes. Never uses the cancel descriptor: this runs after a cancel too. Returns 0 when
 * the container is gone. */
static int remove_container(const call *c, const char *id, int stop_first, int stop_timeout, pw_error **err)
{
	call nc = *c;
	char path[512];
	pw_docker_resp r;
	if (stop_first) {
		snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", id, stop_timeout);
		if (api(&r, &nc, "POST", path, NULL, (int64_t)stop_timeout * 1000 + CLEANUP_TIMEOUT_MS, 0,
		        NULL) == 0 &&
		    c->ex)
			pw_exec_log(c->ex, PW_LOG_DEBUG, "docker", "stop %.12s: HTTP %ld", id, r.status);
		pw__buf_dispose(&r.body);
		/* busybox and other PID 1s that ignore SIGTERM: make sure. A container already
		 * stopped answers 409 (Docker) or 500 (Podman); both are fine here. */
		snprintf(path, sizeof(path), "/containers/%s/kill?signal=KILL", id);
		if (api(&r, &nc, "POST", path, NULL, CLEANUP_TIMEOUT_MS, 0, NULL) == 0 && c->ex)
			pw_exec_log(c->ex, PW_LOG_DEBUG, "docker", "kill %.12s: HTTP %ld", id, r.status);
		pw__buf_dispose(&r.body);
	}
	snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
	int rc = api(&r, &nc, "DELETE", path, NULL, CLEANUP_TIMEOUT_MS, 0, err);
	if (rc == 0 && r.status != 204 && r.status != 200 && r.status != 404) {
		set_err(err, api_error(PW_EEXTERNAL, &r, "cannot remove container %.12s%s", id, ""));
		rc = PW_EEXTERNAL;
	}
	if (c->ex)
		pw_exec_audit(c->ex, "remove_container", id, rc == 0 ? "ok" : "failed", NULL);
	pw__buf_dispose(&r.body);
	return rc;
}

static void container_name(char *out, size_t size, docker_impl *impl, const char *run_id, const char *step)
{
	pthread_mutex_lock(&impl->lock);
	unsigned long n = ++impl->counter;
	pthread_mutex_unlock(&impl->lock);
	char *tag = pw__docker_build_tag(run_id, step);
	/* "pipewright/<run>-<step>:latest" -> "pipewright-<run>-<step>-<pid>-<n>" */
	char *colon = tag ? strrchr(tag, ':') : NULL;
	if (colon)
		*colon = '\0';
	char *slash = tag ? strchr(tag, '/') : NULL;
	if (slash)
		*slash = '-';
	snprintf(out, size, "%.180s-%ld-%lu", tag ? tag : "pipewright", (long)getpid(), n);
	free(tag);
}

static void meta_ms(pw_result *r, const char *key, int64_t ms)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)ms);
	pw_result_with_metadata(r, key, buf);
}

static int docker_execute(pw_result **out, pw_connector *conn, const pw_step *step, const pw_workspace *ws,
                          const pw_map *env, pw_exec *ex, pw_error **err)
{
	docker_impl *impl = pw_connector_impl(conn);
	pw_docker_config cfg;
	pw__docker_config_read(&cfg, step);
	const char *run_id = ex && pw_exec_run_id(ex) ? pw_exec_run_id(ex) : pw_workspace_run_id(ws);
	const char *step_name = pw_step_name(step);
	const engine *eng = NULL;
	int rc = find_engine(&eng, impl, cfg.host, ex, err);
	if (rc < 0)
		return rc;
	call c = {impl, eng, ex};
	char image_id[256] = "";
	char *built_tag = NULL;
	int64_t t0 = pw__now_ms(), pull_ms = 0, build_ms = 0;
	int pulled = 0;
	const char *image = cfg.image;
	if (cfg.dockerfile) {
		rc = build_image(&c, &cfg, ws, run_id ? run_id : "", step_name, &built_tag, image_id,
		                 sizeof(image_id), err);
		build_ms = pw__now_ms() - t0;
		image = built_tag;
	} else {
		rc = ensure_image(&c, &cfg, image_id, sizeof(image_id), &pulled, err);
		pull_ms = pw__now_ms() - t0;
	}
	if (rc < 0) {
		free(built_tag);
		return rc;
	}
	pw_docker_create_input in = {
	    &cfg, image_id[0] ? image_id : image, env, pw_workspace_root(ws), run_id ? run_id : "", step_name,
	    0};
	json_t *body = pw__docker_create_body(&in, err);
	char *body_text_s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!body_text_s) {
		free(built_tag);
		return rc < 0 ? rc : PW_ECONFIG;
	}
	char name[256], path[512];
	container_name(name, sizeof(name), impl, run_id ? run_id : "", step_name);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	pw_journal_entry je;
	const char *jattrs[5];
	journal_entry(&je, jattrs, &eng->ep, "container", name);
	rc = pw__journal_created(ex, &je, err);
	if (rc < 0) {
		free(body_text_s);
		free(built_tag);
		return rc;
	}
	int64_t t_run = pw__now_ms();
	pw_docker_resp r;
	rc = api(&r, &c, "POST", path, body_text_s, CALL_TIMEOUT_MS, 1, err);
	free(body_text_s);
	char id[128] = "";
	if (rc == 0 && r.status != 201) {
		pw_error *e = api_error(r.status == 404 ? PW_ENOTFOUND : PW_EEXTERNAL, &r,
		                        "cannot create the container for step '%s'%s", step_name, "");
		pw_error_set_operation(e, "POST /containers/create");
		set_err(err, e);
		rc = r.status == 404 ? PW_ENOTFOUND : PW_EEXTERNAL;
	} else if (rc == 0) {
		json_t *v = json_loads(body_text(&r), 0, NULL);
		const char *i = json_string_value(json_object_get(v, "Id"));
		if (i && strlen(i) < sizeof(id) && strspn(i, "0123456789abcdef") == strlen(i))
			snprintf(id, sizeof(id), "%s", i);
		else
			rc = pw_error_set(err, PW_EEXTERNAL,
			                  "the engine's create answer has no container id: %.200s",
			                  body_text(&r));
		json_decref(v);
	}
	pw__buf_dispose(&r.body);
	if (rc < 0) {
		/* the engine may have made it all the same (an answer lost or cut on the way back): the
		 * name is ours, so remove by name; 404 means it was never made */
		snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", name);
		call nc = c;
		if (api(&r, &nc, "DELETE", path, NULL, CLEANUP_TIMEOUT_MS, 0, NULL) == 0 &&
		    (r.status == 204 || r.status == 200 || r.status == 404)) {
			pw__journal_removed(ex, &je);
			if (r.status != 404 && ex)
				pw_exec_log(ex, PW_LOG_INFO, "docker",
				            "removed container %s, made although its create failed", name);
		}
		pw__buf_dispose(&r.body);
		free(built_tag);
		return rc;
	}
	if (ex)
		pw_exec_audit(ex, "create_container", id, "ok", name);
	int exit_code = -1;
	uint64_t log_bytes = 0;
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	rc = api(&r, &c, "POST", path, NULL, CALL_TIMEOUT_MS, 1, err);
	if (rc == 0 && r.status != 204 && r.status != 304) {
		pw_error *e =
		    api_error(PW_ESTEP, &r, "cannot start the container of step '%s'%s", step_name, "");
		pw_error_set_hint(
		    e,
		    "the command or entrypoint may not exist in the image, or a volume path may be missing");
		set_err(err, e);
		rc = PW_ESTEP;
	}
	pw__buf_dispose(&r.body);
	if (rc == 0) {
		follower f;
		memset(&f, 0, sizeof(f));
		f.c = &c;
		f.id = id;
		f.l.ex = ex;
		pthread_t th;
		if (cloexec_pipe(f.stop) < 0 || cloexec_pipe(f.done) < 0) {
			rc = pw_error_set(err, PW_EIO, "pipe(): %s", strerror(errno));
		} else if (pthread_create(&th, NULL, follow_main, &f) != 0) {
			rc = pw_error_set(err, PW_EIO, "cannot start the log reader thread");
			close(f.stop[0]);
			close(f.stop[1]);
			close(f.done[0]);
			close(f.done[1]);
		} else {
			rc = wait_exit(&c, id, &exit_code, err);
			int lrc = finish_logs(&f, th, rc == 0, err);
			if (rc == 0)
				rc = lrc;
			log_bytes = f.l.seen[1] + f.l.seen[2];
		}
	}
	int64_t run_ms = pw__now_ms() - t_run;
	int stopped = ex && pw_exec_cancelled(ex) != PW_CANCEL_NONE;
	if (rc < 0 && stopped && ex)
		pw_exec_log(ex, PW_LOG_INFO, "docker", "stopping container %.12s (grace %d s)", id,
		            cfg.stop_timeout);
	int kept = cfg.keep_container && rc == 0;
	if (kept)
		pw__journal_removed(ex, &je); /* kept on purpose: not gc's to remove */
	if (!kept) {
		pw_error *re = NULL;
		int rr = remove_container(&c, id, rc < 0, cfg.stop_timeout, &re);
		if (rr == 0)
			pw__journal_removed(ex, &je);
		if (rr < 0 && rc == 0) {
			rc = rr;
			set_err(err, re);
			re = NULL;
		} else if (rr < 0 && ex) {
			pw_exec_log(ex, PW_LOG_ERROR, "docker", "%s", pw_error_message(re));
		}
		pw_error_free(re);
	}
	if (rc < 0) {
		free(built_tag);
		return rc;
	}
	pw_result *res = pw_result_new(exit_code, NULL, NULL);
	if (!res) {
		free(built_tag);
		return PW_ENOMEM;
	}
	char buf[64];
	pw_result_with_metadata(res, "container_id", id);
	pw_result_with_metadata(res, "container_name", name);
	pw_result_with_metadata(res, "image", image);
	pw_result_with_metadata(res, "image_id", image_id);
	pw_result_with_metadata(res, "engine", eng->info.name);
	pw_result_with_metadata(res, "engine_version", eng->info.version);
	pw_result_with_metadata(res, "api_version", eng->info.api_version);
	pw_result_with_metadata(res, "engine_host", eng->ep.url);
	if (cfg.dockerfile)
		meta_ms(res, "build_ms", build_ms);
	else
		meta_ms(res, "pull_ms", pull_ms);
	pw_result_with_metadata(res, "pulled", pulled ? "true" : "false");
	meta_ms(res, "run_ms", run_ms);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)log_bytes);
	pw_result_with_metadata(res, "log_bytes", buf);
	if (kept)
		pw_result_with_metadata(res, "kept_container", "true");
	if (built_tag && ex)
		pw_exec_set_output(ex, "image", built_tag);
	free(built_tag);
	*out = res;
	return 0;
}

/* ---- validate, plan, lifecycle ---- */

static int docker_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	return pw__docker_config_validate(step, err);
}

static int docker_plan(char **out, pw_connector *conn, const pw_step *step, const pw_workspace *ws,
                       const pw_map *env, pw_error **err)
{
	pw_docker_config cfg;
	pw__docker_config_read(&cfg, step);
	pw_buf b = PW_BUF_INIT(0);
	pw_docker_endpoint cands[MAX_CANDIDATES];
	size_t n = pw__docker_candidates(cands, MAX_CANDIDATES, cfg.host, NULL);
	pw__buf_puts(&b, "engine: ");
	for (size_t i = 0; i < n; i++)
		pw__buf_printf(&b, "%s%s", i ? ", else " : "", cands[i].url);
	pw__buf_puts(&b, "\n");
	const char *run_id = pw_workspace_run_id(ws);
	char *tag = NULL;
	if (cfg.dockerfile) {
		tag = pw__docker_build_tag(run_id, pw_step_name(step));
		char *q = pw__docker_build_query(&cfg, tag, cfg.dockerfile, run_id, pw_step_name(step));
		pw__buf_printf(&b,
		               "build: POST /v%s/build?%s\n  context: %s/%s (tar, .dockerignore honoured)\n  "
		               "image %s %s\n",
		               PW_DOCKER_API_VERSION, q, pw_workspace_root(ws), cfg.build_context, tag,
		               cfg.keep_image ? "kept" : "removed at the end of the run");
		free(q);
	} else {
		static const char *const policies[] = {"if-not-present", "always", "never"};
		pw__buf_printf(&b, "image: %s (pull: %s)\n", cfg.image, policies[cfg.pull]);
	}
	pw_docker_create_input in = {&cfg,   tag ? tag : cfg.image, env, pw_workspace_root(ws),
	                             run_id, pw_step_name(step),    1};
	json_t *body = pw__docker_create_body(&in, err);
	free(tag);
	if (!body) {
		pw__buf_dispose(&b);
		return PW_ECONFIG;
	}
	char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(body);
	pw__buf_printf(&b, "create: POST /v%s/containers/create\n%s\n", PW_DOCKER_API_VERSION,
	               text ? text : "{}");
	free(text);
	pw__buf_printf(&b, "then: start, follow logs, wait for the exit code, %s\n",
	               cfg.keep_container ? "keep the container" : "remove the container");
	*out = pw__buf_detach(&b);
	return 0;
}

static void docker_destroy(pw_connector *conn)
{
	docker_impl *impl = pw_connector_impl(conn);
	if (!impl)
		return;
	for (size_t i = 0; i < impl->built_count; i++) {
		engine e;
		memset(&e, 0, sizeof(e));
		e.ep = impl->built[i].ep;
		snprintf(e.info.api_version, sizeof(e.info.api_version), "%s", impl->built[i].api);
		call c = {impl, &e, NULL};
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_puts(&p, "/images/");
		path_escape(&p, impl->built[i].tag);
		pw_docker_resp r;
		if (api(&r, &c, "DELETE", pw__buf_cstr(&p), NULL, CLEANUP_TIMEOUT_MS, 0, NULL) == 0) {
			if (r.status == 200 || r.status == 404) {
				pw_journal_entry je;
				const char *jattrs[5];
				journal_entry(&je, jattrs, &e.ep, "image", impl->built[i].tag);
				pw__journal_append(impl->built[i].journal, impl->built[i].run_id,
				                   impl->built[i].step, "removed", &je, NULL);
			}
			pw__buf_dispose(&r.body);
		}
		pw__buf_dispose(&p);
		free(impl->built[i].tag);
		free(impl->built[i].journal);
		free(impl->built[i].run_id);
		free(impl->built[i].step);
	}
	free(impl->built);
	pw__docker_http_free(impl->http);
	pthread_mutex_destroy(&impl->lock);
	free(impl);
}

static const pw_connector_ops docker_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = docker_validate,
    .execute_step = docker_execute,
    .plan = docker_plan,
    .destroy = docker_destroy,
};

int pw__docker_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	docker_impl *impl = calloc(1, sizeof(*impl));
	if (!impl)
		return PW_ENOMEM;
	if (pw__docker_http_new(&impl->http, pw__manager_http_pool(m)) < 0) {
		free(impl);
		return PW_ENOMEM;
	}
	pthread_mutex_init(&impl->lock, NULL);
	int rc = pw_connector_new(out, &docker_ops, "docker", PW_TYPE_DOCKER, impl, err);
	if (rc < 0) {
		pw__docker_http_free(impl->http);
		pthread_mutex_destroy(&impl->lock);
		free(impl);
	}
	return rc;
}
