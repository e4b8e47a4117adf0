/* Lifecycle hooks: the events of a Kubernetes step (job created, pod scheduled, running,
 * succeeded/failed, timed out, cancelled, deleted). Without a configured sink they go to the
 * step's debug log only. */
#include <stdlib.h>

#include "connectors/kubernetes/lifecycle.h"

struct pw_k8s_hooks {
	char *uri;
};

pw_k8s_hooks *pw__k8s_hooks_from_env(void)
{
	/* the MongoDB sink is not built yet: see docs/kubernetes.md */
	return NULL;
}

void pw__k8s_hooks_event(pw_k8s_hooks_step *hs, const char *event, const char *ns, const char *job,
                         const char *pod, int exit_code, const char *message)
{
	(void)hs;
	(void)event;
	(void)ns;
	(void)job;
	(void)pod;
	(void)exit_code;
	(void)message;
}

void pw__k8s_hooks_free(pw_k8s_hooks *h)
{
	if (h) {
		free(h->uri);
		free(h);
	}
}
