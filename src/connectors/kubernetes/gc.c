/* The Kubernetes connector's gc hooks (pipeline/gc.h): deleting one journaled object
 * (propagationPolicy Background, so a Job's pods go too), and sweeping the default cluster for
 * objects labelled pipewright.dev/run-id of runs that are not alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/kubeconfig.h"
#include "connectors/kubernetes/k8s.h"
#include "core/buf.h"
#include "net/http.h"
#include "pipeline/gc.h"

#define GC_TIMEOUT_MS 30000

static int load_access(pw_kube_access **a, const char *source, const char *context, pw_error **err)
{
	if (source && !strcmp(source, "in-cluster"))
		return pw__kube_access_in_cluster(a, NULL, err);
	return pw__kube_access_load(a, source, context, err);
}

static int delete_path(pw_gc *g, pw_kube_access *a, const char *path, const char *group, const char *resource,
                       const char *ns, pw_error **err)
{
	pw_http_pool *pool = pw__manager_http_pool(pw__gc_manager(g));
	if (!pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool");
	pw_k8s_api api = {a, pool, NULL, GC_TIMEOUT_MS};
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_puts(&p, path);
	pw__http_query_add(&p, "propagationPolicy", "Background");
	int rc = pw__k8s_api_call(NULL, NULL, &api, "DELETE", pw__buf_cstr(&p), NULL, "delete", group,
	                          resource, ns, 0, err);
	pw__buf_dispose(&p);
	if (rc == PW_ENOTFOUND) {
		if (err) {
			pw_error_free(*err);
			*err = NULL;
		}
		rc = 0;
	}
	return rc;
}

int pw__k8s_gc_remove(pw_gc *g, const json_t *rec, pw_error **err)
{
	json_t *attrs = json_object_get(rec, "attrs");
	const char *path = json_string_value(json_object_get(attrs, "path"));
	const char *group = json_string_value(json_object_get(attrs, "group"));
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *ns = json_string_value(json_object_get(rec, "scope"));
	if (!path || path[0] != '/' || !kind)
		return pw_error_set(err, PW_EINVAL, "kubernetes journal record without an API path");
	pw_kube_access *a = NULL;
	int rc = load_access(&a, json_string_value(json_object_get(attrs, "kubeconfig")),
	                     json_string_value(json_object_get(attrs, "context")), err);
	if (rc < 0)
		return rc;
	const char *addr = json_string_value(json_object_get(rec, "address"));
	if (addr && *addr && strcmp(addr, a->server) != 0) {
		rc = pw_error_set(err, PW_ECONFIG,
		                  "the kubeconfig %s (context %s) now points at %s, not at %s where the "
		                  "object was made",
		                  a->source ? a->source : "", a->context ? a->context : "", a->server, addr);
	} else {
		rc = delete_path(g, a, path, group ? group : "", kind, ns, err);
	}
	pw__kube_access_free(a);
	return rc;
}

typedef struct kind_info {
	const char *gv, *group, *resource;
	int namespaced;
} kind_info;

static const kind_info kinds[] = {
    {"batch/v1", "batch", "jobs", 1},
    {"v1", "", "secrets", 1},
    {"networking.k8s.io/v1", "networking.k8s.io", "networkpolicies", 1},
    {"v1", "", "persistentvolumeclaims", 1},
    {"v1", "", "namespaces", 0},
};

static void sweep_kind(pw_gc *g, pw_kube_access *a, const kind_info *k, const char *ns)
{
	pw_http_pool *pool = pw__manager_http_pool(pw__gc_manager(g));
	if (!pool)
		return;
	pw_k8s_api api = {a, pool, NULL, GC_TIMEOUT_MS};
	pw_buf p = PW_BUF_INIT(0);
	pw__k8s_path(&p, k->gv, k->namespaced ? ns : NULL, k->resource, NULL);
	pw__http_query_add(&p, "labelSelector", "app.kubernetes.io/managed-by=pipewright");
	json_t *list = NULL;
	pw_error *e = NULL;
	int rc = pw__k8s_api_call(&list, NULL, &api, "GET", pw__buf_cstr(&p), NULL, "list", k->group,
	                          k->resource, k->namespaced ? ns : NULL, 0, &e);
	if (rc < 0 && rc != PW_ENOTFOUND)
		pw__gc_done(g, "kubernetes", k->resource, k->namespaced ? ns : NULL, "(list)", a->server, rc,
		            e);
	pw_error_free(e);
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(list, "items"), i, o)
	{
		json_t *md = json_object_get(o, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *run = json_string_value(
		    json_object_get(json_object_get(md, "labels"), "pipewright.dev/run-id"));
		const char *ts = json_string_value(json_object_get(md, "creationTimestamp"));
		long long sec = ts ? pw__rfc3339_parse(ts) : -1;
		if (!name || !run ||
		    !pw__gc_should_remove(g, run, pw__k8s_label_value, sec > 0 ? sec * 1000 : 0))
			continue;
		pw_buf op = PW_BUF_INIT(0);
		pw__k8s_path(&op, k->gv, k->namespaced ? ns : NULL, k->resource, name);
		e = NULL;
		rc = pw__gc_dry_run(g) ? 0
		                       : delete_path(g, a, pw__buf_cstr(&op), k->group, k->resource,
		                                     k->namespaced ? ns : NULL, &e);
		pw__gc_done(g, "kubernetes", k->resource, k->namespaced ? ns : NULL, name, a->server, rc, e);
		pw_error_free(e);
		pw__buf_dispose(&op);
	}
	json_decref(list);
	pw__buf_dispose(&p);
}

int pw__k8s_gc_sweep(pw_gc *g, pw_error **err)
{
	(void)err;
	pw_kube_access *a = NULL;
	pw_error *e = NULL;
	if (pw__kube_access_load(&a, NULL, NULL, &e) < 0) {
		pw_error_free(e); /* no cluster configured: nothing to sweep */
		return 0;
	}
	json_t *scopes = pw__gc_scopes(g, "kubernetes");
	const char *def = a->namespace_ ? a->namespace_ : "default";
	int has = 0;
	size_t i;
	json_t *v;
	json_array_foreach(scopes, i, v) has |= !strcmp(json_string_value(v), def);
	if (!has)
		json_array_append_new(scopes, json_string(def));
	json_array_foreach(scopes, i, v)
	{
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (kinds[k].namespaced)
				sweep_kind(g, a, &kinds[k], json_string_value(v));
	}
	/* namespaces last: what they hold goes with them */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (!kinds[k].namespaced)
			sweep_kind(g, a, &kinds[k], NULL);
	json_decref(scopes);
	pw__kube_access_free(a);
	return 0;
}
