/* The test server of the cloud suites (tests/cloud/fake_cloud.py) from C. */
#ifndef PW_TESTS_FAKE_CLOUD_H
#define PW_TESTS_FAKE_CLOUD_H

#include <jansson.h>

#include "net/http.h"

/* What the tests configure the connectors with (fake_cloud.py has the same values). */
#define AZ_TENANT "tenant-0001"
#define AZ_CLIENT "client-0002"
#define AZ_SECRET "az-client-secret-Q7xv9"
#define AZ_FEDERATED "federated-oidc-token-Zr51"

extern char base[64];      /* http://127.0.0.1:PORT of the running server */
extern char dir[64];       /* a private directory; dir/fed-token holds AZ_FEDERATED */
extern pw_http_pool *pool; /* for control() */

/* GET (body NULL) or POST a /_test endpoint; its JSON answer (caller decrefs) or NULL. */
json_t *control(const char *path, const char *body);
/* Starts the server on first use (exits the test program when it cannot), sets its fault
 * plan (JSON; NULL: none) and forgets every recorded request and object. */
void reset(const char *faults);

#endif
