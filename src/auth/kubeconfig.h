/* Access to a Kubernetes API server: kubeconfig files (KUBECONFIG merged, ~/.kube/config,
 * contexts; token, tokenFile, client certificates, exec credential plugins) and in-cluster
 * service-account config. */
#ifndef PW_AUTH_KUBECONFIG_H
#define PW_AUTH_KUBECONFIG_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "net/http.h"
#include "pipewright/error.h"

/* Where in-cluster credentials live (KUBERNETES_SERVICE_HOST/PORT select in-cluster mode). */
#define PW_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct pw_kube_access {
	char *server; /* "https://host:port[/prefix]" */
	char *ca_file, *ca_pem;
	char *cert_file, *key_file, *cert_pem, *key_pem;
	int insecure;     /* insecure-skip-tls-verify: true (see warning) */
	char *token;      /* static bearer token (token, or tokenFile read at load), or NULL */
	char *token_file; /* re-read when a request is refused with 401 (rotated tokens) */
	json_t *exec;     /* the user's exec config, or NULL */
	char *namespace_; /* the context's namespace, the in-cluster one, or NULL */
	char *context;    /* the context used, "in-cluster" otherwise */
	char *source;     /* what was read, for messages: "/root/.kube/config", "in-cluster" */
	char *warning;    /* a warning for the user (insecure TLS), or NULL */

	/* exec credential cache */
	pthread_mutex_t lock;
	char *exec_token;
	time_t exec_expiry; /* 0: does not expire */
	int exec_runs;      /* how many times the plugin ran (tests, diagnostics) */
} pw_kube_access;

/* Loads access. path: a kubeconfig file or ':'-separated list (NULL: $KUBECONFIG, then
 * ~/.kube/config, then in-cluster config when KUBERNETES_SERVICE_HOST is set). context: the
 * context to use (NULL: current-context). Caller frees with pw__kube_access_free.
 * Errors: PW_ECONFIG naming the file and key; PW_ENOTFOUND when nothing is configured. */
int pw__kube_access_load(pw_kube_access **out, const char *path, const char *context, pw_error **err);
/* In-cluster config from sa_dir (NULL: PW_KUBE_SA_DIR) and KUBERNETES_SERVICE_HOST/PORT. */
int pw__kube_access_in_cluster(pw_kube_access **out, const char *sa_dir, pw_error **err);
/* The bearer token to send, or *out = NULL when the user authenticates by certificate only.
 * Runs the exec plugin when its cached credential is missing or expired (or refresh is set,
 * after a 401); re-reads token_file when refresh is set. *out is a new string (pw_free). */
int pw__kube_access_token(char **out, pw_kube_access *a, int refresh, pw_error **err);
/* Fills ep with borrowed pointers into a (valid while a lives). */
void pw__kube_access_endpoint(pw_http_endpoint *ep, const pw_kube_access *a);
void pw__kube_access_free(pw_kube_access *a);

/* Parses YAML text (one document) into JSON: mappings, sequences; plain scalars true/false,
 * null/~ and integers typed, everything else a string. *out is a new reference. PW_ECONFIG on
 * a syntax error naming `what` and the line. */
int pw__yaml_to_json(json_t **out, const char *text, size_t len, const char *what, pw_error **err);
/* Seconds since the epoch of an RFC 3339 time ("2026-01-02T03:04:05Z", fractions and offsets
 * allowed); -1 when it cannot be parsed. */
long long pw__rfc3339_parse(const char *s);

#endif
