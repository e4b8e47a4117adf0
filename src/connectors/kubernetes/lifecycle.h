/* Lifecycle hooks of the Kubernetes connector: every event of a step's Job is recorded in a
 * sink (MongoDB) when one is configured. */
#ifndef PW_CONNECTORS_KUBERNETES_LIFECYCLE_H
#define PW_CONNECTORS_KUBERNETES_LIFECYCLE_H

#include "pipewright/exec.h"

typedef struct pw_k8s_hooks pw_k8s_hooks;

/* The step an event belongs to; every pointer borrowed. */
typedef struct pw_k8s_hooks_step {
	pw_k8s_hooks *hooks; /* NULL: events are only logged */
	const char *run_id;
	const char *step;
	const char *connector;
	pw_exec *ex;
} pw_k8s_hooks_step;

/* Hooks configured by PIPEWRIGHT_MONGODB_URI (database PIPEWRIGHT_MONGODB_DATABASE, default
 * "pipewright"; collection PIPEWRIGHT_MONGODB_COLLECTION, default "events"); NULL when unset. */
pw_k8s_hooks *pw__k8s_hooks_from_env(void);
/* Records one event; never blocks the caller for long and never fails the step. */
void pw__k8s_hooks_event(pw_k8s_hooks_step *hs, const char *event, const char *ns, const char *job,
                         const char *pod, int exit_code, const char *message);
void pw__k8s_hooks_free(pw_k8s_hooks *h);

#endif
