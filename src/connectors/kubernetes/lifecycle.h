/* Lifecycle hooks: every event of a step (and of a Kubernetes step's Job) written as a document
 * to MongoDB when a sink is configured, from a writer thread so that a slow sink never holds up
 * the step or its log. */
#ifndef PW_CONNECTORS_KUBERNETES_LIFECYCLE_H
#define PW_CONNECTORS_KUBERNETES_LIFECYCLE_H

#include "pipewright/exec.h"

typedef struct pw_k8s_hooks pw_k8s_hooks;

/* Where events go. Strings are copied. */
typedef struct pw_k8s_hooks_config {
	const char *uri;        /* mongodb://host:port/... */
	const char *database;   /* NULL: "pipewright" */
	const char *collection; /* NULL: "events" */
	int required;           /* a failed write fails the step */
} pw_k8s_hooks_config;

/* Starts a sink (connects lazily, in the writer thread). PW_EUNIMPLEMENTED when this build has
 * no MongoDB support; PW_ECONFIG for an unusable URI. Caller frees with pw__k8s_hooks_free. */
int pw__k8s_hooks_new(pw_k8s_hooks **out, const pw_k8s_hooks_config *cfg, pw_error **err);
/* From PIPEWRIGHT_MONGODB_URI (+ _DATABASE, _COLLECTION, _REQUIRED=1); *out NULL when unset. */
int pw__k8s_hooks_from_env(pw_k8s_hooks **out, pw_error **err);

/* The step an event belongs to; every pointer borrowed. */
typedef struct pw_k8s_hooks_step {
	pw_k8s_hooks *hooks; /* NULL: nothing is recorded */
	const char *run_id;
	const char *step;
	const char *connector;
	pw_exec *ex;
} pw_k8s_hooks_step;

/* Queues one event document {run_id, step, connector, event, at, namespace, job, pod,
 * exit_code, message}; exit_code < 0 and NULL strings are stored as null. Never blocks on the
 * sink; when the queue is full the event is dropped and counted. */
void pw__k8s_hooks_event(pw_k8s_hooks_step *hs, const char *event, const char *ns, const char *job,
                         const char *pod, int exit_code, const char *message);
/* Waits (up to timeout_ms) until every queued event is written. With `required`, returns
 * PW_EEXTERNAL when a write failed or an event was dropped since the last call; 0 otherwise. */
int pw__k8s_hooks_flush(pw_k8s_hooks *h, long timeout_ms, pw_error **err);
/* 1 when the sink was configured with required: true. NULL: 0. */
int pw__k8s_hooks_required(const pw_k8s_hooks *h);
/* Flushes (bounded), stops the writer, frees. NULL ok. */
void pw__k8s_hooks_free(pw_k8s_hooks *h);

#endif
