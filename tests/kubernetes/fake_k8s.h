/* The test side of tests/kubernetes/fake_apiserver.py: starting it with a CA made by openssl, a
 * kubeconfig pointing at it, control calls, and running one kubernetes step through a manager. */
#ifndef PW_TESTS_FAKE_K8S_H
#define PW_TESTS_FAKE_K8S_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "fake_server.h"
#include "net/http.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"

#define TOKEN "test-token-0123456789"

struct fake_k8s {
	pw_fake_server fs; /* port[0]: the API server's (https) */
	char dir[64];
	char base[64];
	char kubeconfig[128];
	char exec_kubeconfig[128];
};
extern struct fake_k8s srv;

typedef struct out_buf {
	pthread_mutex_t lock;
	pw_buf b;
} out_buf;

typedef struct run {
	int rc;
	pw_result *r;
	pw_error *e;
	out_buf out;
	int64_t ms;
	pw_exec *ex;
	int cancel_after_ms;
} run;

int64_t now_ms(void);
/* Writes a file under srv.dir. */
void put(const char *name, const char *text);
/* Starts the server once (certificates, kubeconfig, exec plugin); it is stopped and its
 * directory removed at exit. */
int server_start(void);
/* GET (body NULL) or POST a /_test/ control path; the parsed answer or NULL. */
json_t *control(const char *path, const char *body);
/* How many strings of the array `list` in st contain needle. */
int list_has(json_t *st, const char *list, const char *needle);
/* Starts the server when needed, clears faults and records. */
void reset(void);
/* Runs a kubernetes step named "build" (run id 20261128-run-ab12) with config through m (NULL: a
 * manager of its own); secret is registered as a secret value; cancel_after_ms > 0 cancels. */
void run_step(run *x, pw_manager *m, const char *config, double timeout, const pw_map *env,
              const char *secret, int cancel_after_ms);
void run_dispose(run *x);
/* {"kubeconfig": <the server's>, "image": "busybox:1.36", extra}; a static buffer. */
const char *cfg(const char *extra);

#endif
