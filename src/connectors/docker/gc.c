/* The Docker connector's gc hooks (pipeline/gc.h): deleting one journaled container or image,
 * and sweeping the engine for objects labelled io.pipewright.run of runs that are not alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/docker/docker.h"
#include "connectors/docker/http.h"
#include "core/buf.h"
#include "pipeline/gc.h"

/* The API version gc speaks: old enough for every engine the connector supports (Docker 20.10+,
 * Podman 4+), recent enough for label filters. */
#define GC_API "/v1.41"
#define GC_TIMEOUT_MS 30000

static void path_escape(pw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == ':')
			pw__buf_putc(b, (char)c);
		else
			pw__buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

static int call(pw_docker_resp *r, pw_docker_http *h, const pw_docker_endpoint *ep, const char *method,
                const char *path, pw_error **err)
{
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = ep;
	req.method = method;
	req.path = path;
	req.timeout_ms = GC_TIMEOUT_MS;
	/* probing where no engine runs must not wait for retries */
	if (!strcmp(path, "/_ping"))
		req.retries = 0;
	return pw__docker_http_do(r, h, &req, err);
}

/* DELETE of a container (force, with its anonymous volumes) or an image; 404 is success. */
static int delete_object(pw_docker_http *h, const pw_docker_endpoint *ep, const char *kind, const char *name,
                         pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, GC_API "/%s/", !strcmp(kind, "container") ? "containers" : "images");
	path_escape(&p, name);
	pw__buf_puts(&p, !strcmp(kind, "container") ? "?force=1&v=1" : "?force=1");
	pw_docker_resp r;
	int rc = call(&r, h, ep, "DELETE", pw__buf_cstr(&p), err);
	if (rc == 0 && r.status != 200 && r.status != 204 && r.status != 404)
		rc = pw_error_set(err, PW_EEXTERNAL, "DELETE %s: HTTP %ld: %.300s", pw__buf_cstr(&p),
		                  r.status, pw__buf_cstr(&r.body));
	pw__buf_dispose(&r.body);
	pw__buf_dispose(&p);
	return rc;
}

int pw__docker_gc_remove(pw_gc *g, const json_t *rec, pw_error **err)
{
	(void)g;
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	const char *addr = json_string_value(json_object_get(rec, "address"));
	const char *cert_dir = json_string_value(json_object_get(json_object_get(rec, "attrs"), "cert_dir"));
	if (!kind || !name || !addr || (strcmp(kind, "container") && strcmp(kind, "image")))
		return pw_error_set(err, PW_EINVAL, "docker journal record of unknown kind '%s'",
		                    kind ? kind : "");
	pw_docker_endpoint ep;
	int rc = pw__docker_endpoint_parse(&ep, addr, cert_dir != NULL, cert_dir, "journal", err);
	if (rc < 0)
		return rc;
	pw_docker_http *h = NULL;
	if (pw__docker_http_new(&h, NULL) < 0)
		return PW_ENOMEM;
	rc = delete_object(h, &ep, kind, name, err);
	pw__docker_http_free(h);
	return rc;
}

static void sweep_list(pw_gc *g, pw_docker_http *h, const pw_docker_endpoint *ep, const char *kind)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(
	    &p, GC_API "/%s/json?all=1&filters=", !strcmp(kind, "container") ? "containers" : "images");
	pw__docker_url_encode(&p, "{\"label\":[\"" PW_DOCKER_LABEL_MANAGED "=true\"]}");
	pw_docker_resp r;
	pw_error *e = NULL;
	int rc = call(&r, h, ep, "GET", pw__buf_cstr(&p), &e);
	json_t *list = rc == 0 && r.status == 200 ? json_loads(pw__buf_cstr(&r.body), 0, NULL) : NULL;
	if (rc == 0 && !json_is_array(list)) {
		pw_error_free(e);
		e = pw_error_new(PW_EEXTERNAL, "listing %ss: HTTP %ld: %.200s", kind, r.status,
		                 pw__buf_cstr(&r.body));
		rc = PW_EEXTERNAL;
	}
	if (rc < 0)
		pw__gc_done(g, "docker", kind, NULL, "(list)", ep->url, rc, e);
	pw_error_free(e);
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		json_t *labels = json_object_get(o, "Labels");
		const char *run = json_string_value(json_object_get(labels, PW_DOCKER_LABEL_RUN));
		const char *id = json_string_value(json_object_get(o, "Id"));
		json_t *created = json_object_get(o, "Created");
		int64_t created_ms = json_is_integer(created) ? json_integer_value(created) * 1000 : 0;
		if (!id || !run || !pw__gc_should_remove(g, run, NULL, created_ms))
			continue;
		if (json_is_string(json_object_get(labels, PW_DOCKER_LABEL_KEEP)) &&
		    !strcmp(json_string_value(json_object_get(labels, PW_DOCKER_LABEL_KEEP)), "true"))
			continue; /* kept on purpose (keep_container, keep_image) */
		const char *name = NULL;
		if (!strcmp(kind, "container")) {
			name = json_string_value(json_array_get(json_object_get(o, "Names"), 0));
			if (name && name[0] == '/')
				name++;
		} else {
			name = json_string_value(json_array_get(json_object_get(o, "RepoTags"), 0));
			if (name && !strcmp(name, "<none>:<none>"))
				name = NULL;
		}
		e = NULL;
		rc = pw__gc_dry_run(g) ? 0 : delete_object(h, ep, kind, id, &e);
		pw__gc_done(g, "docker", kind, NULL, name ? name : id, ep->url, rc, e);
		pw_error_free(e);
	}
	json_decref(list);
	pw__buf_dispose(&r.body);
	pw__buf_dispose(&p);
}

int pw__docker_gc_sweep(pw_gc *g, pw_error **err)
{
	(void)err;
	pw_docker_endpoint cands[6];
	size_t n = pw__docker_candidates(cands, 6, NULL, NULL);
	pw_docker_http *h = NULL;
	if (pw__docker_http_new(&h, NULL) < 0)
		return PW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		pw_docker_resp r;
		pw_error *e = NULL;
		int rc = call(&r, h, &cands[i], "GET", "/_ping", &e);
		pw__buf_dispose(&r.body);
		pw_error_free(e);
		if (rc < 0 || r.status != 200)
			continue; /* no engine there: nothing to sweep */
		/* containers first: an image in use cannot go */
		sweep_list(g, h, &cands[i], "container");
		sweep_list(g, h, &cands[i], "image");
		break;
	}
	pw__docker_http_free(h);
	return 0;
}
