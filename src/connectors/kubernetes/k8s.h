/* The Kubernetes connector's insides, shared by its files: validation rules, manifest
 * generation, the API client and the job manager. */
#ifndef PW_CONNECTORS_KUBERNETES_K8S_H
#define PW_CONNECTORS_KUBERNETES_K8S_H

#include <jansson.h>

#include "core/buf.h"
#include "pipewright/exec.h"
#include "pipewright/map.h"
#include "pipewright/step.h"
#include "pipewright/sys/connector.h"

/* The longest suffix pipewright appends to a step's name to make a Job name ("-" + 12 characters
 * of the run id + "-" + 5 random characters); Job names must stay DNS-1123 labels (63). */
#define PW_K8S_NAME_SUFFIX_MAX 19
#define PW_K8S_LABEL_MAX 63
#define PW_K8S_SUBDOMAIN_MAX 253

/* ---- validation.c ---- */

/* 1 when s is a DNS-1123 label (lowercase alphanumerics and '-', alphanumeric at both ends) of at
 * most max characters. */
int pw__k8s_is_dns_label(const char *s, size_t max);
/* 1 when s is a DNS-1123 subdomain (labels joined by '.') of at most 253 characters. */
int pw__k8s_is_dns_subdomain(const char *s);
/* 1 for a valid label key ([prefix/]name) and label value. */
int pw__k8s_is_label_key(const char *s);
int pw__k8s_is_label_value(const char *s);
/* Parses a resource quantity ("100m", "128Mi", "1.5Gi", "1e3") into its value in base units.
 * Returns 0 or PW_EINVAL. */
int pw__k8s_parse_quantity(double *out, const char *s);
/* 1 for an image reference [host[:port]/]path[:tag][@algo:hex]. */
int pw__k8s_is_image_ref(const char *s);
/* Checks a kubernetes step's config; every problem is one error (chained) naming the key and the
 * rule. Returns 0 or PW_ECONFIG. */
int pw__k8s_validate_config(const json_t *cfg, const char *step_name, pw_error **err);

/* ---- yaml_generator.c ---- */

/* What one step attempt's manifests are made from. Every pointer is borrowed. */
typedef struct pw_k8s_job_params {
	const json_t *cfg;  /* the step's validated config */
	const char *run_id; /* label value source */
	const char *step_name;
	const char *job_name;     /* DNS-1123 label */
	const char *namespace_;   /* where everything lives */
	double timeout_s;         /* activeDeadlineSeconds; 0: none */
	const pw_map *env;        /* plain environment variables, set inline */
	const pw_map *secret_env; /* secret ones: held by the run's Secret, referenced by secretKeyRef */
	const char *secret_name;  /* the Secret's name, NULL when secret_env is empty */
	const char *pvc_name;     /* the run's PVC mounted at /workspace, or NULL */
} pw_k8s_job_params;

/* Builds the manifests as JSON objects (*out: a new reference). */
int pw__k8s_job_manifest(json_t **out, const pw_k8s_job_params *p);
/* The run's Secret: stringData holds secret_env; with redact every value becomes "***". */
int pw__k8s_secret_manifest(json_t **out, const pw_k8s_job_params *p, int redact);
/* The run's PVC (parameters.storage_class, storage_size (default 1Gi), access_mode (default
 * ReadWriteOnce)). */
int pw__k8s_pvc_manifest(json_t **out, const json_t *cfg, const char *name, const char *ns,
                         const char *run_id);
int pw__k8s_namespace_manifest(json_t **out, const char *name, const char *run_id);
/* network_policy deny-ingress or deny-all, selecting the run's pods. */
int pw__k8s_network_policy_manifest(json_t **out, const char *mode, const char *name, const char *ns,
                                    const char *run_id);
/* Emits doc as a YAML document ("---" start) with libyaml's emitter, appended to out. Strings
 * that YAML would read as something else are quoted. Returns 0, PW_ENOMEM or PW_EINVAL. */
int pw__k8s_yaml_emit(pw_buf *out, const json_t *doc);
/* The same with every string value double-quoted: text masked afterwards ("***") stays valid
 * YAML (a plain *** would read as an alias). For `plan`, whose output is masked. */
int pw__k8s_yaml_emit_quoted(pw_buf *out, const json_t *doc);
/* A label value made from any text: invalid characters become '-', cut to 63, trimmed. Writes
 * into out (cap >= 64). */
void pw__k8s_label_value(char *out, size_t cap, const char *text);
/* The job name for a step attempt: sanitised step name + "-" + run part + "-" + rnd. */
void pw__k8s_job_name(char *out, size_t cap, const char *step_name, const char *run_id, const char *rnd);

#endif

/* ---- job_manager.c ---- */

struct pw_kube_access;
struct pw_http_pool;

/* A lifecycle event of a Kubernetes step ("job_created", "pod_scheduled", "running",
 * "succeeded", "failed", "timed_out", "cancelled", "deleted"); exit_code is -1 when none. */
typedef void (*pw_k8s_event_fn)(const char *event, const char *ns, const char *job, const char *pod,
                                int exit_code, const char *message, void *payload);

/* How to talk to the API server. */
typedef struct pw_k8s_api {
	struct pw_kube_access *access; /* borrowed */
	struct pw_http_pool *pool;     /* borrowed */
	pw_exec *ex;                   /* for cancellation, logs and secrets; NULL: none */
	long call_timeout_ms;          /* bound on one non-streaming call; 0: 30 s */
} pw_k8s_api;

/* One API call. method, path (with query) as sent; body (may be NULL) sent as JSON. verb,
 * group ("" for core), resource and ns describe the call for a 403's explanation. On a 2xx
 * response *out holds the parsed body (or NULL when empty; caller decrefs). Errors: PW_EPERM
 * for 401/403 (the verb, resource, namespace and the Role rule that would allow it),
 * PW_ENOTFOUND for 404, PW_EEXISTS for 409, PW_EKUBERNETES for other statuses with the
 * Status message; transport errors from the HTTP layer. cancellable: follow ex's cancel fd. */
int pw__k8s_api_call(json_t **out, long *status, pw_k8s_api *api, const char *method, const char *path,
                     const json_t *body, const char *verb, const char *group, const char *resource,
                     const char *ns, int cancellable, pw_error **err);
/* A resource-journal entry (core/journal.h) for the object at API path obj_path (borrowed, like
 * every string): kind = resource, scope = ns, address = the cluster, attrs (9 slots) = what gc
 * needs to delete it (path, group, kubeconfig, context). */
struct pw_journal_entry;
void pw__k8s_journal_entry(struct pw_journal_entry *je, const char **attrs, const pw_k8s_api *api,
                           const char *obj_path, const char *group, const char *resource, const char *ns,
                           const char *name);
/* Creates (Secret,) Job; follows the pod to its end (watch, log follow); deletes Job and
 * Secret in every case. pending_timeout_s bounds the time until the container starts. */
int pw__k8s_job_run(pw_result **out, pw_k8s_api *api, const pw_k8s_job_params *p, double pending_timeout_s,
                    pw_k8s_event_fn on_event, void *payload, pw_error **err);
/* The API path of a collection or object: "/apis/batch/v1/namespaces/NS/jobs[/NAME]". */
void pw__k8s_path(pw_buf *b, const char *group_version, const char *ns, const char *resource,
                  const char *name);
