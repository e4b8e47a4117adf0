/* The Kubernetes connector end to end against tests/kubernetes/fake_apiserver.py (HTTPS with a CA
 * made here, bearer tokens, request bodies checked against swagger.json, pods that really run):
 * success, exit codes, image pull failure, unschedulable, timeout and cancel (Job deleted),
 * dropped watch and 410 Gone, dropped log stream, 403, 500 then success, exec credential
 * refresh, in-cluster config, PVC/namespace/NetworkPolicy per run, secrets by reference. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/kubeconfig.h"
#include "connectors/kubernetes/k8s.h"
#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/secrets.h"
#include "pwtest.h"

#define TOKEN "test-token-0123456789"

static struct {
	pid_t pid;
	int to_server;
	int port;
	char dir[64];
	char base[64];
	char kubeconfig[128];
	char exec_kubeconfig[128];
	pw_http_pool *pool;
} srv;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", srv.dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void server_stop(void)
{
	if (srv.pid > 0) {
		close(srv.to_server);
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
		srv.pid = 0;
	}
	pw__http_pool_free(srv.pool);
	srv.pool = NULL;
	if (srv.dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", srv.dir);
	}
}

static int server_start(void)
{
	if (srv.pid)
		return 0;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/pw-k8s-XXXXXX");
	if (!mkdtemp(srv.dir))
		return -1;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "(cd '%s' && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
	         "-out ca.pem -days 2 -subj '/CN=pipewright test cluster CA' && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key "
	         "-out srv.csr -subj '/CN=kube-apiserver' && "
	         "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
	         "-days 2 -extfile ext.cnf) >/dev/null 2>&1",
	         srv.dir);
	if (system(cmd) != 0)
		return -1;
	const char *src = getenv("PW_SOURCE_DIR");
	char script[1024], cert[128], key[128];
	snprintf(script, sizeof(script), "%s/tests/kubernetes/fake_apiserver.py", src ? src : ".");
	snprintf(cert, sizeof(cert), "%s/srv.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/srv.key", srv.dir);
	int in[2], out[2];
	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/usr/bin/python3", "python3", script, "--cert", cert, "--key", key, "--token", TOKEN,
		      "--workdir", srv.dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	srv.pid = pid;
	srv.to_server = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[128];
	int ready = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PORT %d", &srv.port) == 1)
			continue;
		if (strncmp(line, "READY", 5) == 0) {
			ready = 1;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!ready)
		return -1;
	snprintf(srv.base, sizeof(srv.base), "https://127.0.0.1:%d", srv.port);
	char kc[2048];
	snprintf(
	    kc, sizeof(kc),
	    "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n"
	    "    server: %s\n    certificate-authority: ca.pem\nusers:\n- name: ci\n  user:\n    token: %s\n"
	    "- name: ex\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
	    "      command: ./plugin.sh\ncontexts:\n- name: test\n  context: {cluster: fake, user: ci, "
	    "namespace: ci}\n"
	    "- name: exec\n  context: {cluster: fake, user: ex, namespace: ci}\n",
	    srv.base, TOKEN);
	put("kubeconfig", kc);
	snprintf(srv.kubeconfig, sizeof(srv.kubeconfig), "%s/kubeconfig", srv.dir);
	char script2[1024];
	snprintf(
	    script2, sizeof(script2),
	    "#!/bin/sh\necho run >> '%s/plugin.runs'\nn=$(wc -l < '%s/plugin.runs' | tr -d ' ')\n"
	    "exp=$(date -u -d '+1 hour' +%%Y-%%m-%%dT%%H:%%M:%%SZ)\n"
	    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	    "\"status\":{\"token\":\"exec-token-%%s\",\"expirationTimestamp\":\"%%s\"}}' \"$n\" \"$exp\"\n",
	    srv.dir, srv.dir);
	put("plugin.sh", script2);
	char p[128];
	snprintf(p, sizeof(p), "%s/plugin.sh", srv.dir);
	chmod(p, 0755);
	atexit(server_stop);
	return pw__http_pool_new(&srv.pool, NULL);
}

/* A control call to the fake (no auth); returns the parsed answer or NULL. */
static json_t *control(const char *path, const char *body)
{
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
	pw_http_endpoint ep = {.base_url = srv.base, .ca_file = ca};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = body ? "POST" : "GET";
	req.path_and_query = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	pw_http_response resp;
	json_t *doc = NULL;
	if (pw__http_do(&resp, srv.pool, &ep, &req, NULL) == 0 && resp.status == 200)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "state", NULL);
	pw__http_response_dispose(&resp);
	return doc;
}

static int list_has(json_t *st, const char *list, const char *needle)
{
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(json_object_get(st, list), i, x) if (strstr(json_string_value(x), needle)) n++;
	return n;
}

static void reset(void)
{
	if (server_start() != 0) {
		fprintf(stderr, "the fake API server did not start\n");
		exit(1);
	}
	json_decref(control("/_test/faults", "{}"));
	json_decref(control("/_test/reset", "{}"));
}

typedef struct out_buf {
	pthread_mutex_t lock;
	pw_buf b;
} out_buf;

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	out_buf *o = payload;
	pthread_mutex_lock(&o->lock);
	pw__buf_append(&o->b, data, len);
	pthread_mutex_unlock(&o->lock);
}

typedef struct run {
	int rc;
	pw_result *r;
	pw_error *e;
	out_buf out;
	int64_t ms;
	pw_exec *ex;
	int cancel_after_ms;
} run;

static void *canceller(void *arg)
{
	run *x = arg;
	usleep((useconds_t)x->cancel_after_ms * 1000);
	pw_exec_cancel(x->ex, PW_CANCEL_USER);
	return NULL;
}

/* Runs one kubernetes step with config through the manager m (NULL: a manager of its own). */
static void run_step(run *x, pw_manager *m, const char *config, double timeout, const pw_map *env,
                     const char *secret, int cancel_after_ms)
{
	memset(x, 0, sizeof(*x));
	pthread_mutex_init(&x->out.lock, NULL);
	x->out.b.max = 256 << 20;
	x->cancel_after_ms = cancel_after_ms;
	pw_manager *own = NULL;
	if (!m) {
		pw_manager_new(&own, NULL, NULL);
		m = own;
	}
	pw_step *s = NULL;
	pw_step_new(&s, "build", "kubernetes");
	pw_error *ce = NULL;
	if (pw_step_set_config_json(s, config, &ce) < 0)
		fprintf(stderr, "  config: %s\n", pw_error_message(ce));
	pw_error_free(ce);
	pw_step_set_timeout(s, timeout);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, srv.dir, "20261128-run-ab12", NULL, NULL);
	pw_secrets *sec = NULL;
	pw_secrets_new(&sec);
	if (secret)
		pw_secrets_add(sec, secret, "API_TOKEN", NULL);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "20261128-run-ab12";
	eo.step_name = "build";
	eo.timeout_seconds = timeout;
	eo.secrets = sec;
	eo.on_output = on_output;
	eo.output_payload = &x->out;
	pw_exec_new(&x->ex, &eo, NULL);
	pthread_t t;
	if (cancel_after_ms > 0)
		pthread_create(&t, NULL, canceller, x);
	int64_t t0 = now_ms();
	x->rc = pw_manager_execute_step(&x->r, m, s, ws, env, x->ex, &x->e);
	x->ms = now_ms() - t0;
	if (cancel_after_ms > 0)
		pthread_join(t, NULL);
	pw_exec_free(x->ex);
	x->ex = NULL;
	pw_secrets_free(sec);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(own);
	if (x->e)
		fprintf(stderr, "  (step error: %s%s%s)\n", pw_error_message(x->e),
		        pw_error_hint(x->e) ? " / hint: " : "",
		        pw_error_hint(x->e) ? pw_error_hint(x->e) : "");
}

static void run_dispose(run *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw__buf_dispose(&x->out.b);
	pthread_mutex_destroy(&x->out.lock);
}

static char cfg_buf[4096];
static const char *cfg(const char *extra)
{
	snprintf(cfg_buf, sizeof(cfg_buf), "{\"kubeconfig\":\"%s\",\"image\":\"busybox:1.36\"%s%s}",
	         srv.kubeconfig, extra && *extra ? "," : "", extra ? extra : "");
	return cfg_buf;
}

/* After a step: its Job (and Secret) deleted in the background, no pod left running, and no
 * request body the schema refused. */
static void check_cleaned(int with_secret)
{
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	PW_CHECK_INT(list_has(st, "deleted", "jobs ci/build-"), 1);
	PW_CHECK_INT(list_has(st, "deleted", " Background"), 1 + with_secret);
	PW_CHECK_INT(list_has(st, "deleted", "secrets ci/"), with_secret);
	PW_CHECK_INT(list_has(st, "objects", "jobs "), 0);
	PW_CHECK_INT(list_has(st, "objects", "pods "), 0);
	PW_CHECK_INT(json_array_size(json_object_get(st, "schema_errors")), 0);
	for (int i = 0; i < 50 && json_integer_value(json_object_get(st, "running")) > 0; i++) {
		json_decref(st);
		usleep(20000);
		st = control("/_test/state", NULL);
	}
	PW_CHECK_INT(json_integer_value(json_object_get(st, "running")), 0);
	json_decref(st);
}

PW_TEST(success_with_output_and_cleanup)
{
	PW_REQUIRE(server_start() == 0);
	reset();
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo hello; echo to-stderr >&2; echo \\\"$GREETING\\\"\""), 60,
	         NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "hello\nto-stderr\n\n");
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata_const(x.r), "pod"), "build-");
	PW_CHECK_STR(pw_map_get(pw_result_metadata_const(x.r), "namespace"), "ci");
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(nonzero_exit_code)
{
	reset();
	run x;
	run_step(&x, NULL, cfg("\"command\":[\"/bin/sh\",\"-c\",\"echo failing; exit 3\"]"), 60, NULL, NULL,
	         0);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 3);
	PW_CHECK_STR(pw_map_get(pw_result_metadata_const(x.r), "reason"), "Error");
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "failing\n");
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(image_pull_failure_fails_fast)
{
	reset();
	run x;
	char c[512];
	snprintf(c, sizeof(c), "{\"kubeconfig\":\"%s\",\"image\":\"missing/nothing:1\",\"command\":\"true\"}",
	         srv.kubeconfig);
	run_step(&x, NULL, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EKUBERNETES);
	PW_REQUIRE(x.e);
	PW_CHECK(strstr(pw_error_message(x.e), "ImagePullBackOff") ||
	         strstr(pw_error_message(x.e), "ErrImagePull"));
	PW_CHECK_CONTAINS(pw_error_message(x.e), "Failed to pull image");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "image");
	PW_CHECK(x.ms < 10000);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(unschedulable_past_pending_timeout)
{
	reset();
	run x;
	run_step(&x, NULL,
	         cfg("\"command\":\"true\",\"pending_timeout\":1,\"node_selector\":{\"pipewright.dev/"
	             "test-unschedulable\":\"yes\"}"),
	         60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EKUBERNETES);
	PW_REQUIRE(x.e);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "did not start within pending_timeout (1 s)");
	PW_CHECK_CONTAINS(pw_error_message(x.e), "Unschedulable");
	PW_CHECK_CONTAINS(pw_error_message(x.e), "event FailedScheduling");
	PW_CHECK(x.ms >= 900 && x.ms < 8000);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(timeout_deletes_the_job)
{
	reset();
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo started; sleep 30\""), 1.5, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK(x.ms < 8000);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "started\n");
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(cancel_deletes_the_job)
{
	reset();
	run x;
	run_step(&x, NULL, cfg("\"command\":\"sleep 30\""), 60, NULL, NULL, 700);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	PW_CHECK(x.ms < 8000);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(watch_dropped_and_410_gone)
{
	reset();
	json_decref(control("/_test/faults", "{\"drop_watch_after\": 1, \"gone_on_watch\": 2}"));
	run x;
	run_step(&x, NULL, cfg("\"command\":\"sleep 0.5; echo done\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK(x.r && pw_result_exit_code(x.r) == 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "done\n");
	json_t *st = control("/_test/state", NULL);
	/* the dropped watch resumed from the last resourceVersion, the 410 made it list again */
	PW_CHECK(json_integer_value(json_object_get(st, "watches")) >= 2);
	PW_CHECK(list_has(st, "requests", "watch=true") >= 2);
	PW_CHECK(list_has(st, "requests", "&resourceVersion=") >= 2);
	size_t i, lists = 0;
	json_t *rq;
	json_array_foreach(json_object_get(st, "requests"), i, rq)
	{
		const char *t = json_string_value(rq);
		if (strstr(t, "GET /api/v1/namespaces/ci/pods?") && !strstr(t, "watch=true"))
			lists++;
	}
	PW_CHECK(lists >= 2);
	json_decref(st);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(log_stream_dropped_no_loss_no_duplicates)
{
	reset();
	json_decref(control("/_test/faults", "{\"drop_log_after\": 37}"));
	run x;
	run_step(&x, NULL,
	         cfg("\"command\":\"i=1; while [ $i -le 150 ]; do echo line $i; i=$((i+1)); if [ $((i % 10)) "
	             "= 0 ]; "
	             "then sleep 0.02; fi; done\""),
	         60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	pw_buf want = PW_BUF_INIT(0);
	for (int i = 1; i <= 150; i++)
		pw__buf_printf(&want, "line %d\n", i);
	PW_CHECK(strcmp(pw__buf_cstr(&x.out.b), pw__buf_cstr(&want)) == 0);
	if (strcmp(pw__buf_cstr(&x.out.b), pw__buf_cstr(&want)) != 0)
		fprintf(stderr, "  got:\n%s\n", pw__buf_cstr(&x.out.b));
	pw__buf_dispose(&want);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK(json_integer_value(json_object_get(st, "log_streams")) >= 2);
	json_decref(st);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(forbidden_explains_the_role)
{
	reset();
	json_decref(
	    control("/_test/faults", "{\"forbid\": [{\"verb\": \"create\", \"resource\": \"jobs\"}]}"));
	pw_map *env = pw_map_new();
	pw_map_set(env, "API_TOKEN", "tok-very-secret-42");
	run x;
	run_step(&x, NULL, cfg("\"command\":\"true\""), 60, env, "tok-very-secret-42", 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_REQUIRE(x.e);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "refused to create jobs.batch in namespace 'ci'");
	PW_CHECK_CONTAINS(pw_error_hint(x.e),
	                  "apiGroups: [\"batch\"], resources: [\"jobs\"], verbs: [\"create\"]");
	PW_CHECK_CONTAINS(pw_error_response(x.e), "cannot create resource \"jobs\"");
	run_dispose(&x);
	/* the Secret made before the refusal is deleted */
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "created", "secrets ci/"), 1);
	PW_CHECK_INT(list_has(st, "deleted", "secrets ci/"), 1);
	json_decref(st);
	pw_map_free(env);
}

PW_TEST(server_error_then_success)
{
	reset();
	json_decref(control("/_test/faults", "{\"fail\": [{\"method\": \"POST\", \"path_contains\": "
	                                     "\"/jobs\", \"status\": 500, \"count\": 1}]}"));
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo ok\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "ok\n");
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "requests", "POST /apis/batch/v1/namespaces/ci/jobs"), 2);
	json_decref(st);
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(secrets_by_reference_and_masked)
{
	reset();
	pw_map *env = pw_map_new();
	pw_map_set(env, "API_TOKEN", "tok-very-secret-42");
	pw_map_set(env, "PLAIN", "visible");
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo token=$API_TOKEN plain=$PLAIN\""), 60, env,
	         "tok-very-secret-42", 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "token=*** plain=visible\n");
	json_t *st = control("/_test/state", NULL);
	size_t i;
	json_t *b;
	int jobs = 0;
	json_array_foreach(json_object_get(st, "bodies"), i, b)
	{
		const char *t = json_string_value(b);
		if (strstr(t, "\"kind\":\"Job\"")) {
			jobs++;
			PW_CHECK(strstr(t, "tok-very-secret-42") == NULL);
			PW_CHECK_CONTAINS(t, "secretKeyRef");
			PW_CHECK_CONTAINS(t, "\"value\":\"visible\"");
		}
	}
	PW_CHECK_INT(jobs, 1);
	json_decref(st);
	run_dispose(&x);
	check_cleaned(1);
	pw_map_free(env);
}

PW_TEST(run_resources_pvc_namespace_network_policy)
{
	reset();
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	const char *c =
	    cfg("\"command\":\"echo in-run\",\"namespace_per_run\":true,\"network_policy\":\"deny-all\","
	        "\"parameters\":{\"use_pvc\":true,\"storage_size\":\"1Gi\",\"storage_class\":\"standard\"}");
	char config[4096];
	snprintf(config, sizeof(config), "%s", c);
	run x;
	for (int i = 0; i < 2; i++) {
		run_step(&x, m, config, 60, NULL, NULL, 0);
		PW_CHECK_INT(x.rc, 0);
		PW_CHECK_STR(pw__buf_cstr(&x.out.b), "in-run\n");
		PW_CHECK_STR(x.r ? pw_map_get(pw_result_metadata_const(x.r), "namespace") : NULL,
		             "ci-128runab12");
		run_dispose(&x);
	}
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "created", "namespaces "), 1);
	PW_CHECK_INT(list_has(st, "created", "persistentvolumeclaims ci-128runab12/pipewright-ws-"), 1);
	PW_CHECK_INT(list_has(st, "created", "networkpolicies ci-128runab12/"), 1);
	PW_CHECK_INT(list_has(st, "created", "jobs "), 2);
	PW_CHECK_INT(list_has(st, "deleted", "persistentvolumeclaims"), 0);
	PW_CHECK_INT(json_array_size(json_object_get(st, "schema_errors")), 0);
	json_decref(st);
	/* the end of the run: the PVC, the policy and the namespace go */
	pw_manager_free(m);
	st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "deleted", "persistentvolumeclaims ci-128runab12/"), 1);
	PW_CHECK_INT(list_has(st, "deleted", "networkpolicies ci-128runab12/"), 1);
	PW_CHECK_INT(list_has(st, "deleted", "namespaces /ci-128runab12"), 1);
	PW_CHECK_INT(list_has(st, "objects", "ci-128runab12"), 0);
	json_decref(st);
}

static int plugin_runs(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/plugin.runs", srv.dir);
	FILE *f = fopen(p, "r");
	int n = 0;
	char line[64];
	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

PW_TEST(exec_credential_refreshed_after_401)
{
	reset();
	json_decref(control("/_test/tokens", "[\"" TOKEN "\", \"exec-token-1\"]"));
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	char c[1024];
	snprintf(c, sizeof(c),
	         "{\"kubeconfig\":\"%s\",\"context\":\"exec\",\"image\":\"busybox\",\"command\":\"echo a\"}",
	         srv.kubeconfig);
	run x;
	run_step(&x, m, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	run_dispose(&x);
	PW_CHECK_INT(plugin_runs(), 1);
	/* the cluster stops accepting the credential: a 401, then the plugin runs again */
	json_decref(control("/_test/tokens", "[\"" TOKEN "\", \"exec-token-2\"]"));
	run_step(&x, m, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "a\n");
	run_dispose(&x);
	PW_CHECK_INT(plugin_runs(), 2);
	pw_manager_free(m);
	json_decref(control("/_test/tokens", "[\"" TOKEN "\"]"));
	/* a token the cluster refuses outright: the 401 explained */
	char kc[1024];
	snprintf(kc, sizeof(kc),
	         "current-context: t\nclusters:\n- name: f\n  cluster: {server: '%s', certificate-authority: "
	         "ca.pem}\n"
	         "users:\n- name: u\n  user: {token: wrong-token-1}\ncontexts:\n- name: t\n  context: "
	         "{cluster: f, "
	         "user: u, namespace: ci}\n",
	         srv.base);
	put("bad-kubeconfig", kc);
	snprintf(c, sizeof(c),
	         "{\"kubeconfig\":\"%s/bad-kubeconfig\",\"image\":\"busybox\",\"command\":\"true\"}",
	         srv.dir);
	run_step(&x, NULL, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "(401)");
	run_dispose(&x);
}

PW_TEST(in_cluster_config)
{
	reset();
	char sa[128], ca[128], dst[400];
	snprintf(sa, sizeof(sa), "%s/sa", srv.dir);
	mkdir(sa, 0700);
	put("sa/token", TOKEN "\n");
	put("sa/namespace", "build-ns\n");
	snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
	snprintf(dst, sizeof(dst), "cp '%s' '%s/ca.crt'", ca, sa);
	PW_REQUIRE(system(dst) == 0);
	char port[16];
	snprintf(port, sizeof(port), "%d", srv.port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	pw_kube_access *a = NULL;
	PW_REQUIRE(pw__kube_access_in_cluster(&a, sa, NULL) == 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	json_error_t je;
	json_t *config = json_loads("{\"image\":\"busybox\",\"command\":\"echo from-inside\"}", 0, &je);
	pw_k8s_api api = {a, srv.pool, NULL, 0};
	pw_k8s_job_params p = {config, "r1", "inside", "inside-r1-abcde", a->namespace_, 30, NULL,
	                       NULL,   NULL, NULL};
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc = pw__k8s_job_run(&r, &api, &p, 30, NULL, NULL, &e);
	if (e)
		fprintf(stderr, "  %s\n", pw_error_message(e));
	PW_CHECK_INT(rc, 0);
	PW_CHECK(r && pw_result_exit_code(r) == 0);
	PW_CHECK_STR(r ? pw_map_get(pw_result_metadata_const(r), "namespace") : NULL, "build-ns");
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "deleted", "jobs build-ns/inside-r1-abcde Background"), 1);
	json_decref(st);
	pw_result_free(r);
	pw_error_free(e);
	json_decref(config);
	pw__kube_access_free(a);
}

PW_TEST_MAIN()
