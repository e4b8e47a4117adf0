/* Starts tests/faults/fault_proxy.py in front of a local server and drives its rules: one copy
 * for the fault tests of every remote connector. */
#ifndef PW_TESTS_FAULT_PROXY_H
#define PW_TESTS_FAULT_PROXY_H

#include <jansson.h>

/* Starts the proxy once per process (later calls return 0 at once) with upstream
 * "tcp:127.0.0.1:PORT" or "unix:/path"; extra: NULL-terminated further arguments
 * (--upstream-tls CA, --tls CERT KEY) or NULL. Fills base with "http://127.0.0.1:PORT" (or
 * https with --tls). The proxy stops at exit. Returns 0 or -1. */
int pw_fault_proxy_start(const char *upstream, const char *const *extra);
/* The CA that signed the proxy's --tls certificate, for its control requests (copied). Without
 * it, the control requests to an HTTPS proxy do not verify its certificate. */
void pw_fault_proxy_set_ca(const char *ca_file);
/* The proxy's base URL and port (after a successful start). */
const char *pw_fault_proxy_base(void);
int pw_fault_proxy_port(void);
/* Replaces the rules (a JSON list, see fault_proxy.py). Records a failed check when refused. */
void pw_fault_rules(const char *json);
/* Checks that every rule was met (a case that never met its fault proves nothing). */
void pw_fault_rules_used(void);
/* The proxy's state {"done": [...], "pending": [...]} (new reference) or NULL. */
json_t *pw_fault_state(void);
/* A loopback TCP port nothing listens on (bound, then closed). */
int pw_fault_unused_port(void);

#endif
