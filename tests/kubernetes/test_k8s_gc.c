/* `pipewright gc` against tests/kubernetes/fake_apiserver.py: `kill -9` of `pipewright run` in
 * the middle of a kubernetes step leaves its Job and PVC; gc removes them from the run's journal
 * and, by the run label, an object no journal knows; --older-than and --dry-run remove nothing;
 * a live run is not touched. Every request is validated against the API's schema by the server;
 * what is left is asserted by listing through the API with the run's label selector. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipeline/gc.h"
#include "pipewright/manager.h"
#include "fake_k8s.h"
#include "pwtest.h"

/* How many objects of a collection path carry pipewright.dev/run-id=run (-1: list failed). */
static int count(const char *collection, const char *run_id)
{
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
	pw_http_endpoint ep = {.base_url = srv.base, .ca_file = ca};
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_puts(&p, collection);
	pw_buf sel = PW_BUF_INIT(0);
	pw__buf_printf(&sel, "pipewright.dev/run-id=%s", run_id);
	pw__http_query_add(&p, "labelSelector", pw__buf_cstr(&sel));
	const char *hdrs[] = {"Authorization: Bearer " TOKEN, NULL};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.path_and_query = pw__buf_cstr(&p);
	req.headers = hdrs;
	pw_http_response resp;
	json_t *doc = NULL;
	int n = -1;
	if (pw__http_do(&resp, srv.fs.pool, &ep, &req, NULL) == 0 && resp.status == 200 &&
	    pw__json_load(&doc, resp.body, resp.body_len, 0, "list", NULL) == 0)
		n = (int)json_array_size(json_object_get(doc, "items"));
	json_decref(doc);
	pw__http_response_dispose(&resp);
	pw__buf_dispose(&p);
	pw__buf_dispose(&sel);
	return n;
}

#define JOBS "/apis/batch/v1/namespaces/ci/jobs"
#define PVCS "/api/v1/namespaces/ci/persistentvolumeclaims"
#define SECRETS "/api/v1/namespaces/ci/secrets"

static int running(void)
{
	json_t *st = control("/_test/state", NULL);
	int n = (int)json_integer_value(json_object_get(st, "running"));
	json_decref(st);
	return n;
}

static pid_t start_run(const char *cli, const char *file, const char *id, int before)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(cli, "pipewright", "run", file, "-q", "-w", srv.dir, "--run-id", id, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		if (running() > before)
			return pid;
		usleep(25000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}

/* How many lines of text start with prefix. */
static unsigned count_lines(const char *text, const char *prefix)
{
	unsigned n = 0;
	size_t pl = strlen(prefix);
	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		n += strncmp(l, prefix, pl) == 0;
	return n;
}

static void collect(const char *line, void *payload)
{
	pw__buf_printf(payload, "%s\n", line);
}

PW_TEST(kill9_then_gc_removes_job_pvc_and_labelled)
{
	reset();
	const char *cli = getenv("PW_CLI");
	PW_REQUIRE(cli);
	setenv("KUBECONFIG", srv.kubeconfig, 1);         /* the cluster gc sweeps */
	setenv("DOCKER_HOST", "unix:///nonexistent", 1); /* no engine sweep here */
	char yml[1024];
	snprintf(yml, sizeof(yml),
	         "version: 1\nsteps:\n  - name: build\n    step_type: kubernetes\n    config: { kubeconfig: "
	         "%s, image: busybox, command: \"sleep 30\", parameters: { use_pvc: true } }\n",
	         srv.kubeconfig);
	put("gc.yml", yml);
	char file[128];
	snprintf(file, sizeof(file), "%s/gc.yml", srv.dir);
	pid_t dead = start_run(cli, file, "pwtest-k8s-dead", 0);
	PW_REQUIRE(dead > 0);
	kill(dead, SIGKILL);
	waitpid(dead, NULL, 0);
	PW_CHECK_INT(count(JOBS, "pwtest-k8s-dead"), 1);
	PW_CHECK_INT(count(PVCS, "pwtest-k8s-dead"), 1);
	/* an object of the dead run that no journal records: found by its label */
	json_t *st0 = control("/_test/state", NULL);
	json_decref(st0);
	{
		char ca[128];
		snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
		pw_http_endpoint ep = {.base_url = srv.base, .ca_file = ca};
		const char *hdrs[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
		const char *body =
		    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"stray\","
		    "\"labels\":{\"app.kubernetes.io/managed-by\":\"pipewright\","
		    "\"pipewright.dev/run-id\":\"pwtest-k8s-dead\"}},\"stringData\":{\"a\":\"b\"}}";
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.method = "POST";
		req.path_and_query = SECRETS;
		req.headers = hdrs;
		req.body = body;
		req.body_len = strlen(body);
		pw_http_response resp;
		PW_CHECK_INT(pw__http_do(&resp, srv.fs.pool, &ep, &req, NULL), 0);
		PW_CHECK_INT(resp.status, 201);
		pw__http_response_dispose(&resp);
	}
	PW_CHECK_INT(count(SECRETS, "pwtest-k8s-dead"), 1);
	pid_t live = start_run(cli, file, "pwtest-k8s-live", running());
	PW_REQUIRE(live > 0);

	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_buf out = PW_BUF_INIT(0);
	pw_gc_options o = {srv.dir, 3600 * 1000, 0, 1, collect, &out};
	pw_gc_stats st;
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 0);
	PW_CHECK(st.kept_new >= 3);
	PW_CHECK(st.kept_live >= 2);
	o.older_than_ms = -1;
	o.dry_run = 1;
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	/* this fake cluster runs its pods as local processes, with the Job's environment: those of
	 * the dead run are a killed run's processes on this machine, and gc stops them too */
	unsigned local = count_lines(pw__buf_cstr(&out), "would remove step process pwtest-k8s-dead/");
	PW_CHECK(local >= 1);
	PW_CHECK_INT(st.removed, 3 + local);
	PW_CHECK_INT(st.failed, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "would remove kubernetes jobs ci/build-");
	PW_CHECK_CONTAINS(pw__buf_cstr(&out),
	                  "would remove kubernetes persistentvolumeclaims ci/pipewright-ws-");
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "would remove kubernetes secrets ci/stray");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&out), "live");
	PW_CHECK_INT(count(JOBS, "pwtest-k8s-dead"), 1);
	PW_CHECK_INT(count(PVCS, "pwtest-k8s-dead"), 1);
	PW_CHECK_INT(count(SECRETS, "pwtest-k8s-dead"), 1);
	pw__buf_dispose(&out);
	pw_manager_free(m);

	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' gc -w '%s' 2>&1", cli, srv.dir);
	FILE *p = popen(cmd, "r");
	PW_REQUIRE(p);
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	PW_CHECK_INT(pclose(p), 0);
	PW_CHECK_CONTAINS(text, "removed kubernetes jobs ci/build-");
	PW_CHECK_CONTAINS(text, "removed kubernetes persistentvolumeclaims ci/pipewright-ws-");
	PW_CHECK_CONTAINS(text, "removed kubernetes secrets ci/stray");
	/* the Job's removal came first and ended its pods here: the processes may be gone */
	unsigned removed = 0;
	const char *sum = strstr(text, "gc: ");
	PW_CHECK(sum && sscanf(sum, "gc: %u removed, 0 failed", &removed) == 1);
	PW_CHECK_INT(removed, 3 + count_lines(text, "removed step process pwtest-k8s-dead/"));
	PW_CHECK_INT(count(JOBS, "pwtest-k8s-dead"), 0);
	PW_CHECK_INT(count(PVCS, "pwtest-k8s-dead"), 0);
	PW_CHECK_INT(count(SECRETS, "pwtest-k8s-dead"), 0);
	PW_CHECK_INT(count(JOBS, "pwtest-k8s-live"), 1);
	PW_CHECK_INT(count(PVCS, "pwtest-k8s-live"), 1);

	json_t *state = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(state, "schema_errors")), 0);
	PW_CHECK(list_has(state, "requests", "DELETE /apis/batch/v1/namespaces/ci/jobs/build-") >= 1);
	PW_CHECK(list_has(state, "requests", "propagationPolicy=Background") >= 3);
	json_decref(state);

	kill(live, SIGINT);
	waitpid(live, NULL, 0);
	PW_CHECK_INT(count(JOBS, "pwtest-k8s-live"), 0);
	PW_CHECK_INT(count(PVCS, "pwtest-k8s-live"), 0);
}

PW_TEST_MAIN()
