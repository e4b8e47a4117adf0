/* Starts tests/cloud/fake_cloud.py once per test program (stopped at exit) and drives it through
 * its /_test endpoints; runs a step the way the runner does. Shared by the Azure and GCP suites. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "fake_cloud.h"
#include "fake_server.h"
#include "pwtest.h"
#include "net/json.h"
#include "pipewright/secrets.h"

static pw_fake_server srv;
char base[64];
char dir[64];
pw_http_pool *pool;

static int start(void)
{
	if (srv.pid)
		return 0;
	const char *const names[] = {"PORT", NULL};
	if (pw_test_dir(dir, sizeof dir, "pw-cloud") < 0 ||
	    pw_fake_server_start(&srv, "tests/cloud/fake_cloud.py", NULL, names, "READY") < 0)
		return -1;
	snprintf(base, sizeof base, "%s", srv.base);
	pool = srv.pool;
	char p[128];
	snprintf(p, sizeof p, "%s/fed-token", dir);
	FILE *t = fopen(p, "w");
	if (t) {
		fputs(AZ_FEDERATED "\n", t);
		fclose(t);
	}
	return 0;
}

json_t *control(const char *path, const char *body)
{
	return pw_fake_server_control(&srv, path, body);
}

void reset(const char *faults)
{
	if (start() != 0) {
		fprintf(stderr, "the fake cloud server did not start\n");
		exit(1);
	}
	json_decref(control("/_test/faults", faults ? faults : "{}"));
	json_decref(control("/_test/reset", "{}"));
}

/* ---- running a step ---- */

void run_step_of(run *x, pw_manager *m, const char *type, const char *config, const pw_map *env,
                 int cancel_after_ms)
{
	run_step_timed(x, m, type, config, env, cancel_after_ms, 5);
}

void run_step_timed(run *x, pw_manager *m, const char *type, const char *config, const pw_map *env,
                    int cancel_after_ms, double timeout_s)
{
	run_step_in(x, m, type, "deploy", config, env, dir, cancel_after_ms, timeout_s);
}

int violations(void)
{
	json_t *st = control("/_test/state", NULL);
	json_t *v = json_object_get(st, "violations");
	int n = (int)json_array_size(v);
	if (n)
		fprintf(stderr, "  spec violations: %s\n", pw__json_dump(v));
	json_decref(st);
	return n;
}

int token_requests(const char *grant)
{
	json_t *st = control("/_test/state", NULL);
	long long n = 0;
	json_t *tr = json_object_get(st, "token_requests");
	if (json_is_integer(json_object_get(tr, grant)))
		n = json_integer_value(json_object_get(tr, grant));
	json_decref(st);
	return (int)n;
}

int request_count(const char *prefix)
{
	json_t *st = control("/_test/state", NULL);
	size_t i;
	json_t *r;
	int n = 0;
	json_array_foreach(json_object_get(st, "requests"), i, r)
	{
		const char *t = json_string_value(r);
		if (t && !strncmp(t, prefix, strlen(prefix)))
			n++;
	}
	json_decref(st);
	return n;
}
