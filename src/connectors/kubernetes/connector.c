/* The Kubernetes connector: a step runs as a batch/v1 Job in a cluster reached through a
 * kubeconfig or in-cluster config; run-scoped resources (namespace, PVC, NetworkPolicy) live
 * until the connector is released at the end of the run. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/kubeconfig.h"
#include "connectors/kubernetes/k8s.h"
#include "connectors/kubernetes/lifecycle.h"
#include "core/internal.h"
#include "core/journal.h"
#include "core/step.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/result.h"

#define DEFAULT_PENDING_TIMEOUT 300.0

typedef struct access_entry {
	char *key; /* kubeconfig path "\n" context */
	pw_kube_access *a;
} access_entry;

/* Something created for the whole run, deleted at the end. */
typedef struct run_resource {
	char *key;  /* kind/ns/name, to create it once */
	char *path; /* its API path for DELETE */
	char *what; /* for messages and the Role hint: resource, group */
	char *group;
	char *ns;
	char *name;
	char *journal; /* the run's resource journal, run id and step, for the "removed" record */
	char *run_id;
	char *step;
	pw_kube_access *a; /* borrowed from the access cache */
} run_resource;

typedef struct k8s_impl {
	pthread_mutex_t lock;
	pw_http_pool *pool; /* the manager's, borrowed */
	access_entry *acc;
	size_t nacc;
	run_resource *res;
	size_t nres;
	pw_k8s_hooks *hooks;
	char *hooks_error; /* why the configured sink could not be set up, or NULL */
} k8s_impl;

static int k8s_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	int rc = pw__k8s_validate_config(step->config, step->name, err);
	return rc;
}

static void random_suffix(char *out, size_t n)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char raw[16] = {0};
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, raw, sizeof(raw)) < 0)
			raw[0] = (unsigned char)time(NULL);
		close(fd);
	}
	for (size_t i = 0; i + 1 < n && i < sizeof(raw); i++)
		out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	out[n - 1 < sizeof(raw) ? n - 1 : sizeof(raw)] = '\0';
}

/* The run part of names: lowercase alphanumerics from the end of the run id. */
static void run_part(char *out, size_t cap, const char *run_id)
{
	size_t n = 0;
	const char *r = run_id ? run_id : "";
	size_t l = strlen(r);
	for (size_t i = l > 12 ? l - 12 : 0; i < l && n + 1 < cap; i++) {
		char ch = r[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			out[n++] = ch;
	}
	out[n] = '\0';
	if (n == 0)
		random_suffix(out, cap < 9 ? cap : 9);
}

/* The step's `kubeconfig` with each entry of the ':' list made absolute: "~/" is $HOME, other
 * relative paths are relative to the workspace. NULL when the key is not set. */
static char *kubeconfig_paths(const pw_step *step, const pw_workspace *ws)
{
	const char *v = json_string_value(json_object_get(step->config, "kubeconfig"));
	if (!v)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	const char *p = v;
	while (*p) {
		size_t n = strcspn(p, ":");
		if (n > 0) {
			if (b.len)
				pw__buf_putc(&b, ':');
			const char *home = getenv("HOME");
			if (n >= 2 && p[0] == '~' && p[1] == '/' && home) {
				pw__buf_puts(&b, home);
				pw__buf_append(&b, p + 1, n - 1);
			} else {
				if (p[0] != '/' && ws)
					pw__buf_printf(&b, "%s/", pw_workspace_root(ws));
				pw__buf_append(&b, p, n);
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return pw__buf_detach(&b);
}

static int get_access(pw_kube_access **out, k8s_impl *im, const pw_step *step, const pw_workspace *ws,
                      pw_error **err)
{
	char *path = kubeconfig_paths(step, ws);
	const char *ctx = json_string_value(json_object_get(step->config, "context"));
	pw_buf key = PW_BUF_INIT(0);
	pw__buf_printf(&key, "%s\n%s", path ? path : "", ctx ? ctx : "");
	int rc = 0;
	pthread_mutex_lock(&im->lock);
	*out = NULL;
	for (size_t i = 0; i < im->nacc; i++)
		if (strcmp(im->acc[i].key, pw__buf_cstr(&key)) == 0)
			*out = im->acc[i].a;
	if (!*out) {
		pw_kube_access *a = NULL;
		rc = pw__kube_access_load(&a, path, ctx, err);
		if (rc == 0) {
			access_entry *n = pw_realloc(im->acc, (im->nacc + 1) * sizeof(*n));
			if (!n) {
				pw__kube_access_free(a);
				rc = PW_ENOMEM;
			} else {
				im->acc = n;
				im->acc[im->nacc].key = pw__buf_detach(&key);
				im->acc[im->nacc++].a = a;
				*out = a;
			}
		}
	}
	pthread_mutex_unlock(&im->lock);
	pw__buf_dispose(&key);
	pw_free(path);
	return rc;
}

/* Creates a run-scoped object once (an existing one is adopted) and remembers to delete it. */
static int ensure_run_resource(k8s_impl *im, pw_k8s_api *api, const char *gv, const char *group,
                               const char *resource, const char *ns, const char *name, json_t *manifest,
                               pw_error **err)
{
	pw_buf key = PW_BUF_INIT(0);
	pw__buf_printf(&key, "%s/%s/%s/%s", api->access->server, resource, ns ? ns : "", name);
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->nres; i++) {
		if (strcmp(im->res[i].key, pw__buf_cstr(&key)) == 0) {
			pthread_mutex_unlock(&im->lock);
			pw__buf_dispose(&key);
			return 0;
		}
	}
	pw_buf path = PW_BUF_INIT(0);
	pw__k8s_path(&path, gv, ns, resource, NULL);
	pw_buf obj = PW_BUF_INIT(0);
	pw__k8s_path(&obj, gv, ns, resource, name);
	pw_journal_entry je;
	const char *attrs[9];
	pw__k8s_journal_entry(&je, attrs, api, pw__buf_cstr(&obj), group, resource, ns, name);
	int rc = pw__journal_created(api->ex, &je, err);
	pw__buf_dispose(&obj);
	if (rc < 0) {
		pthread_mutex_unlock(&im->lock);
		pw__buf_dispose(&key);
		pw__buf_dispose(&path);
		return rc;
	}
	pw_error *e = NULL;
	rc = pw__k8s_api_call(NULL, NULL, api, "POST", pw__buf_cstr(&path), manifest, "create", group,
	                      resource, ns, 1, &e);
	if (rc == PW_EEXISTS) {
		rc = 0;
		pw_error_free(e);
		e = NULL;
	}
	if (rc == 0) {
		run_resource *n = pw_realloc(im->res, (im->nres + 1) * sizeof(*n));
		if (!n) {
			rc = PW_ENOMEM;
		} else {
			im->res = n;
			pw__buf_printf(&path, "/%s", name);
			run_resource *r = &im->res[im->nres++];
			r->key = pw__buf_detach(&key);
			r->path = pw__buf_detach(&path);
			r->what = pw_strdup(resource);
			r->group = pw_strdup(group);
			r->ns = ns ? pw_strdup(ns) : NULL;
			r->name = pw_strdup(name);
			const char *jp = pw__exec_journal(api->ex);
			r->journal = jp ? pw_strdup(jp) : NULL;
			r->run_id = pw_strdup(pw_exec_run_id(api->ex));
			r->step = pw_strdup(pw_exec_step_name(api->ex));
			r->a = api->access;
			if (api->ex) {
				pw_buf t = PW_BUF_INIT(0);
				pw__buf_printf(&t, "%s %s%s%s", resource, ns ? ns : "", ns ? "/" : "", name);
				pw_exec_audit(api->ex, "create", pw__buf_cstr(&t), "ok",
				              "deleted when the run ends");
				pw__buf_dispose(&t);
			}
		}
	} else if (e) {
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
	}
	pthread_mutex_unlock(&im->lock);
	pw__buf_dispose(&key);
	pw__buf_dispose(&path);
	return rc;
}

/* The plain and secret parts of the step's environment: a value that holds a registered secret
 * goes to the run's Secret. */
static void split_env(pw_map **plain, pw_map **secret, const pw_map *env, pw_exec *ex)
{
	*plain = pw_map_new();
	*secret = pw_map_new();
	pw_secrets *s = ex ? pw_exec_secrets(ex) : NULL;
	for (size_t i = 0; env && i < pw_map_count(env); i++) {
		const char *k = pw_map_key_at(env, i), *v = pw_map_value_at(env, i);
		char *masked = s ? pw_secrets_mask_str(s, v) : NULL;
		int is_secret = masked && strcmp(masked, v) != 0;
		pw_free(masked);
		pw_map_set(is_secret ? *secret : *plain, k, v);
	}
}

static const char *cfg_str(const pw_step *step, const char *path)
{
	return json_string_value(pw__step_config_get(step, path));
}

typedef struct names {
	char run[16];
	char ns[64];
	char job[64];
	char secret[80];
	char pvc[64];
	char netpol[64];
} names;

static void make_names(names *n, const pw_step *step, const char *run_id, const char *base_ns,
                       const char *rnd)
{
	run_part(n->run, sizeof(n->run), run_id);
	if (json_is_true(json_object_get(step->config, "namespace_per_run")))
		snprintf(n->ns, sizeof(n->ns), "%s-%s",
		         base_ns && strcmp(base_ns, "default") ? base_ns : "pipewright", n->run);
	else
		snprintf(n->ns, sizeof(n->ns), "%s", base_ns ? base_ns : "default");
	pw__k8s_job_name(n->job, sizeof(n->job), step->name, run_id ? run_id : n->run, rnd);
	snprintf(n->secret, sizeof(n->secret), "%s-env", n->job);
	snprintf(n->pvc, sizeof(n->pvc), "pipewright-ws-%s", n->run);
	snprintf(n->netpol, sizeof(n->netpol), "pipewright-%s", n->run);
}

static void on_job_event(const char *ev, const char *ns, const char *job, const char *pod, int exit_code,
                         const char *message, void *payload)
{
	pw__k8s_hooks_event(payload, ev, ns, job, pod, exit_code, message);
}

static int run_in_cluster(pw_result **out, k8s_impl *im, pw_k8s_api *api_in, const pw_step *step,
                          const pw_map *env, pw_exec *ex, const names *np_names, const char *run_id,
                          pw_k8s_hooks_step *hsp, pw_error **err);

static int k8s_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                       const pw_map *env, pw_exec *ex, pw_error **err)
{
	k8s_impl *im = pw_connector_impl(c);
	pw_kube_access *a = NULL;
	int rc = get_access(&a, im, step, ws, err);
	if (rc < 0)
		return rc;
	if (a->warning)
		pw_exec_log(ex, PW_LOG_WARN, "kubernetes", "%s", a->warning);
	if (im->hooks_error)
		pw_exec_log(ex, PW_LOG_WARN, "hooks", "lifecycle hooks are off: %s", im->hooks_error);
	pthread_mutex_lock(&im->lock);
	if (!im->pool)
		im->pool = pw__manager_http_pool(pw_connector_manager(c));
	pthread_mutex_unlock(&im->lock);
	if (!im->pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool for the kubernetes connector");
	const char *run_id = pw_exec_run_id(ex);
	if (!run_id || !*run_id)
		run_id = pw_workspace_run_id(ws);
	const char *ns = cfg_str(step, "namespace");
	if (!ns)
		ns = a->namespace_;
	char rnd[8];
	random_suffix(rnd, 6);
	names n;
	make_names(&n, step, run_id, ns, rnd);
	pw_k8s_api api = {a, im->pool, ex, 0};

	/* in a run, the runner's sink records step start and end (for every connector) and the
	 * Job's events go there too; used on its own, the connector's sink (environment) does both */
	pw_k8s_hooks *run_hooks = pw__exec_hooks(ex);
	pw_k8s_hooks *own = run_hooks ? NULL : im->hooks;
	pw_k8s_hooks_step hs = {run_hooks ? run_hooks : im->hooks, run_id, step->name, "kubernetes", ex};
	if (own)
		pw__k8s_hooks_event(&hs, "step_started", n.ns, n.job, NULL, -1, NULL);
	rc = run_in_cluster(out, im, &api, step, env, ex, &n, run_id, &hs, err);
	if (own)
		pw__k8s_hooks_event(&hs, "step_finished", n.ns, n.job, NULL,
		                    rc == 0 && *out ? pw_result_exit_code(*out) : -1,
		                    rc < 0 && err && *err ? pw_error_message(*err) : NULL);
	/* a required sink that could not record the step fails it */
	if (pw__k8s_hooks_required(own) && pw__k8s_hooks_flush(own, 10000, rc == 0 ? err : NULL) < 0 &&
	    rc == 0) {
		pw_result_free(*out);
		*out = NULL;
		rc = PW_EEXTERNAL;
	}
	return rc;
}

static int run_in_cluster(pw_result **out, k8s_impl *im, pw_k8s_api *api_in, const pw_step *step,
                          const pw_map *env, pw_exec *ex, const names *np_names, const char *run_id,
                          pw_k8s_hooks_step *hsp, pw_error **err)
{
	pw_k8s_api api = *api_in;
	names n = *np_names;
	pw_k8s_hooks_step hs = *hsp;
	int rc = 0;
	json_t *doc = NULL;
	if (json_is_true(json_object_get(step->config, "namespace_per_run"))) {
		pw__k8s_namespace_manifest(&doc, n.ns, run_id);
		rc = ensure_run_resource(im, &api, "v1", "", "namespaces", NULL, n.ns, doc, err);
		json_decref(doc);
		if (rc < 0)
			return rc;
	}
	const char *np = cfg_str(step, "network_policy");
	if (np && strcmp(np, "none") != 0) {
		pw__k8s_network_policy_manifest(&doc, np, n.netpol, n.ns, run_id);
		rc = ensure_run_resource(im, &api, "networking.k8s.io/v1", "networking.k8s.io",
		                         "networkpolicies", n.ns, n.netpol, doc, err);
		json_decref(doc);
		if (rc < 0)
			return rc;
	}
	int use_pvc = json_is_true(pw__step_config_get(step, "parameters.use_pvc"));
	if (use_pvc) {
		pw__k8s_pvc_manifest(&doc, step->config, n.pvc, n.ns, run_id);
		rc = ensure_run_resource(im, &api, "v1", "", "persistentvolumeclaims", n.ns, n.pvc, doc, err);
		json_decref(doc);
		if (rc < 0)
			return rc;
	}
	pw_map *plain = NULL, *secret = NULL;
	split_env(&plain, &secret, env, ex);
	pw_k8s_job_params p = {step->config,
	                       run_id,
	                       step->name,
	                       n.job,
	                       n.ns,
	                       pw_step_timeout(step),
	                       plain,
	                       secret,
	                       pw_map_count(secret) ? n.secret : NULL,
	                       use_pvc ? n.pvc : NULL};
	json_t *pt = json_object_get(step->config, "pending_timeout");
	double pending = DEFAULT_PENDING_TIMEOUT;
	if (!pw__config_number(pt, &pending))
		pending = DEFAULT_PENDING_TIMEOUT;
	rc = pw__k8s_job_run(out, &api, &p, pending, on_job_event, &hs, err);
	pw_map_free(plain);
	pw_map_free(secret);
	return rc;
}

static int k8s_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                    const pw_map *env, pw_error **err)
{
	const char *run_id = pw_workspace_run_id(ws);
	const char *ns = cfg_str(step, "namespace");
	names n;
	make_names(&n, step, run_id && *run_id ? run_id : "plan", ns, "xxxxx");
	pw_map *plain = pw_map_dup(env);
	pw_map *secret = pw_map_new();
	/* a plan has no exec and so no secret set: the pipeline masks secret values in the text */
	pw_k8s_job_params p = {step->config,          run_id, step->name, n.job, n.ns,
	                       pw_step_timeout(step), plain,  secret,     NULL,  NULL};
	int use_pvc = json_is_true(pw__step_config_get(step, "parameters.use_pvc"));
	if (use_pvc)
		p.pvc_name = n.pvc;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "# kubernetes: Job %s in namespace %s%s (deleted when the step ends)\n", n.job,
	               n.ns, ns ? "" : " (or the kubeconfig context's namespace)");
	json_t *doc = NULL;
	int rc = 0;
	if (json_is_true(json_object_get(step->config, "namespace_per_run")) &&
	    pw__k8s_namespace_manifest(&doc, n.ns, run_id) == 0) {
		rc = pw__k8s_yaml_emit_quoted(&b, doc);
		json_decref(doc);
	}
	const char *np = cfg_str(step, "network_policy");
	if (rc == 0 && np && strcmp(np, "none") != 0 &&
	    pw__k8s_network_policy_manifest(&doc, np, n.netpol, n.ns, run_id) == 0) {
		rc = pw__k8s_yaml_emit_quoted(&b, doc);
		json_decref(doc);
	}
	if (rc == 0 && use_pvc && pw__k8s_pvc_manifest(&doc, step->config, n.pvc, n.ns, run_id) == 0) {
		rc = pw__k8s_yaml_emit_quoted(&b, doc);
		json_decref(doc);
	}
	if (rc == 0 && pw_map_count(secret) && pw__k8s_secret_manifest(&doc, &p, 1) == 0) {
		rc = pw__k8s_yaml_emit_quoted(&b, doc);
		json_decref(doc);
	}
	if (rc == 0 && pw__k8s_job_manifest(&doc, &p) == 0) {
		rc = pw__k8s_yaml_emit_quoted(&b, doc);
		json_decref(doc);
	}
	pw_map_free(plain);
	pw_map_free(secret);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return pw_error_set(err, rc, "cannot emit the manifests of step '%s' as YAML", step->name);
	}
	*out = pw__buf_detach(&b);
	return 0;
}

/* Deletes the run-scoped objects (newest first: the PVC before its namespace). */
static void cleanup_run(k8s_impl *im)
{
	for (size_t i = im->nres; i-- > 0;) {
		run_resource *r = &im->res[i];
		if (im->pool) {
			pw_k8s_api api = {r->a, im->pool, NULL, 30000};
			pw_buf path = PW_BUF_INIT(0);
			pw__buf_printf(&path, "%s?propagationPolicy=Background", r->path);
			int rc = pw__k8s_api_call(NULL, NULL, &api, "DELETE", pw__buf_cstr(&path), NULL,
			                          "delete", r->group, r->what, r->ns, 0, NULL);
			if ((rc == 0 || rc == PW_ENOTFOUND) && r->journal && r->name) {
				pw_journal_entry je;
				const char *attrs[9];
				pw__k8s_journal_entry(&je, attrs, &api, r->path, r->group, r->what, r->ns,
				                      r->name);
				pw__journal_append(r->journal, r->run_id, r->step, "removed", &je, NULL);
			}
			pw__buf_dispose(&path);
		}
		pw_free(r->name);
		pw_free(r->journal);
		pw_free(r->run_id);
		pw_free(r->step);
		pw_free(r->key);
		pw_free(r->path);
		pw_free(r->what);
		pw_free(r->group);
		pw_free(r->ns);
	}
	pw_free(im->res);
	im->res = NULL;
	im->nres = 0;
}

static void k8s_destroy(pw_connector *c)
{
	k8s_impl *im = pw_connector_impl(c);
	if (!im)
		return;
	cleanup_run(im);
	for (size_t i = 0; i < im->nacc; i++) {
		pw_free(im->acc[i].key);
		pw__kube_access_free(im->acc[i].a);
	}
	pw_free(im->acc);
	pw__k8s_hooks_free(im->hooks);
	pw_free(im->hooks_error);
	pthread_mutex_destroy(&im->lock);
	pw_free(im);
}

static const pw_connector_ops k8s_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = k8s_validate,
    .execute_step = k8s_execute,
    .plan = k8s_plan,
    .destroy = k8s_destroy,
};

int pw__kubernetes_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	k8s_impl *im = pw_calloc(1, sizeof(*im));
	if (!im)
		return PW_ENOMEM;
	pthread_mutex_init(&im->lock, NULL);
	pw_error *he = NULL;
	if (pw__k8s_hooks_from_env(&im->hooks, &he) < 0)
		im->hooks_error = pw_strdup(pw_error_message(he));
	pw_error_free(he);
	int rc = pw_connector_new(out, &k8s_ops, "kubernetes", PW_TYPE_KUBERNETES, im, err);
	if (rc < 0) {
		pw__k8s_hooks_free(im->hooks);
		pw_free(im->hooks_error);
		pthread_mutex_destroy(&im->lock);
		pw_free(im);
	}
	return rc;
}
