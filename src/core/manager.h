/* Manager internals shared with connectors: lazily created shared services. */
#ifndef PW_CORE_MANAGER_H
#define PW_CORE_MANAGER_H

#include "pipewright/manager.h"

typedef enum pw_manager_service {
	PW__SERVICE_HTTP_POOL = 0, /* the shared HTTP connection cache */
	PW__SERVICE_HOOKS = 1,     /* lifecycle event sinks */
	PW__SERVICE_PLUGINS = 7,   /* loaded shared-object plug-ins (connectors/plugin), released last */
	PW__MANAGER_SERVICE_MAX = 8
} pw_manager_service;

/* The manager's shared service `which`, created on first use with make() and released
 * with release() at pw_manager_free. Borrowed. */
void *pw__manager_service(pw_manager *m, pw_manager_service which, void *(*make)(void),
                          void (*release)(void *));
/* "shell, docker, ..." of the available types; caller frees. */
char *pw__manager_available_text(pw_manager *m);

#endif
