/* The per-manager HTTP connection pool, created lazily through the manager's services. */
#include "core/manager.h"
#include "net/http.h"

static void *pool_make(void)
{
	pw_http_pool *p = NULL;
	if (pw__http_pool_new(&p, NULL) < 0)
		return NULL;
	return p;
}

static void pool_release(void *p)
{
	pw__http_pool_free(p);
}

pw_http_pool *pw__manager_http_pool(struct pw_manager *m)
{
	return pw__manager_service(m, PW__SERVICE_HTTP_POOL, pool_make, pool_release);
}
