/* The test server of the cloud suites (tests/cloud/fake_cloud.py) from C. */
#ifndef PW_TESTS_FAKE_CLOUD_H
#define PW_TESTS_FAKE_CLOUD_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"
#include "step_run.h"
#include "net/http.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"

/* What the tests configure the connectors with (fake_cloud.py has the same values). */
#define AZ_TENANT "tenant-0001"
#define AZ_CLIENT "client-0002"
#define AZ_SECRET "az-client-secret-Q7xv9"
#define AZ_FEDERATED "federated-oidc-token-Zr51"

extern char base[64];      /* http://127.0.0.1:PORT of the running server */
extern char dir[64];       /* a private directory (removed at exit); dir/fed-token holds AZ_FEDERATED */
extern pw_http_pool *pool; /* for control() */

/* GET (body NULL) or POST a /_test endpoint; its JSON answer (caller decrefs) or NULL. */
json_t *control(const char *path, const char *body);
/* Starts the server on first use (exits the test program when it cannot), sets its fault
 * plan (JSON; NULL: none) and forgets every recorded request and object. */
void reset(const char *faults);

/* Runs a step of type with config (JSON) and env through m (NULL: a new manager), 5 s timeout;
 * cancel_after_ms > 0 cancels it that long after the start. */
void run_step_of(run *x, pw_manager *m, const char *type, const char *config, const pw_map *env,
                 int cancel_after_ms);
/* The same with the step's timeout in seconds. */
void run_step_timed(run *x, pw_manager *m, const char *type, const char *config, const pw_map *env,
                    int cancel_after_ms, double timeout_s);
/* How many request bodies the server found not conforming to the spec (printed). */
int violations(void);
/* How many recorded requests ("METHOD /path?query") start with prefix. */
int request_count(const char *prefix);
/* How many tokens were asked for with this grant. */
int token_requests(const char *grant);

#endif
