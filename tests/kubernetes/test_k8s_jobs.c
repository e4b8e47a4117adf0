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
#include "fake_k8s.h"
#include "pwtest.h"

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
	/* a relative kubeconfig path is relative to the workspace (srv.dir here) */
	run_step(&x, NULL,
	         "{\"kubeconfig\":\"kubeconfig\",\"image\":\"busybox\",\"command\":[\"/bin/"
	         "sh\",\"-c\",\"echo failing; "
	         "exit 3\"]}",
	         60, NULL, NULL, 0);
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

PW_TEST(pod_refused_by_admission_fails_fast)
{
	reset();
	json_decref(control("/_test/faults",
	                    "{\"reject_pods\": \"violates PodSecurity \\\"restricted:latest\\\"\"}"));
	run x;
	run_step(&x, NULL, cfg("\"command\":\"true\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EKUBERNETES);
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "could not create its pod");
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "event FailedCreate");
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "PodSecurity");
	PW_CHECK_CONTAINS(x.e ? pw_error_hint(x.e) : NULL, "Pod Security");
	PW_CHECK(x.ms < 10000); /* not the 300 s pending_timeout */
	run_dispose(&x);
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "deleted", "jobs ci/build-"), 1);
	json_decref(st);
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

PW_TEST(pod_deleted_mid_run_fails_the_step)
{
	reset();
	json_decref(control("/_test/faults", "{\"delete_pod_after\": 1}"));
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo first; sleep 30\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_EKUBERNETES);
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "was deleted before its container finished");
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "first\n");
	PW_CHECK(x.ms < 10000);
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

PW_TEST(lost_create_response_adopts_the_job)
{
	reset();
	/* the Job is created but the answer is a 504: the retried POST meets a 409 for our own name */
	json_decref(control("/_test/faults",
	                    "{\"fail\": [{\"method\": \"POST\", \"path_contains\": \"/jobs\", "
	                    "\"status\": 504, \"count\": 1, \"after\": true}]}"));
	run x;
	run_step(&x, NULL, cfg("\"command\":\"echo once\""), 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "once\n");
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "requests", "POST /apis/batch/v1/namespaces/ci/jobs"), 2);
	PW_CHECK_INT(list_has(st, "created", "jobs ci/"), 1);
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
	snprintf(port, sizeof(port), "%d", srv.fs.port[0]);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	pw_kube_access *a = NULL;
	PW_REQUIRE(pw__kube_access_in_cluster(&a, sa, NULL) == 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	json_error_t je;
	json_t *config = json_loads("{\"image\":\"busybox\",\"command\":\"echo from-inside\"}", 0, &je);
	pw_k8s_api api = {a, srv.fs.pool, NULL, 0};
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

PW_TEST(client_certificate_auth)
{
	reset();
	/* no token: the cluster knows pipewright by its client certificate (files, then inline data) */
	char c[1024];
	snprintf(
	    c, sizeof(c),
	    "{\"kubeconfig\":\"%s\",\"context\":\"cert\",\"image\":\"busybox\",\"command\":\"echo mtls\"}",
	    srv.kubeconfig);
	run x;
	run_step(&x, NULL, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "mtls\n");
	run_dispose(&x);
	check_cleaned(0);
	reset();
	snprintf(
	    c, sizeof(c),
	    "{\"kubeconfig\":\"%s/certdata-kubeconfig\",\"image\":\"busybox\",\"command\":\"echo data\"}",
	    srv.dir);
	run_step(&x, NULL, c, 60, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(pw__buf_cstr(&x.out.b), "data\n");
	run_dispose(&x);
	check_cleaned(0);
}

PW_TEST(sigint_through_the_cli_deletes_the_job)
{
	reset();
	const char *cli = getenv("PW_CLI");
	PW_REQUIRE(cli);
	char yml[1024];
	snprintf(yml, sizeof(yml),
	         "version: 1\nsteps:\n  - name: build\n    step_type: kubernetes\n    config: { kubeconfig: "
	         "%s, image: "
	         "busybox, command: \"sleep 30\" }\n",
	         srv.kubeconfig);
	put("sigint.yml", yml);
	char file[128];
	snprintf(file, sizeof(file), "%s/sigint.yml", srv.dir);
	pid_t pid = fork();
	PW_REQUIRE(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(cli, "pipewright", "run", file, "-q", "-w", srv.dir, (char *)NULL);
		_exit(127);
	}
	/* wait until the pod runs */
	int running = 0;
	for (int i = 0; i < 200 && !running; i++) {
		json_t *st = control("/_test/state", NULL);
		running = json_integer_value(json_object_get(st, "running")) > 0;
		json_decref(st);
		if (!running)
			usleep(25000);
	}
	PW_CHECK(running);
	int64_t t0 = now_ms();
	kill(pid, SIGINT);
	int status = 0;
	waitpid(pid, &status, 0);
	PW_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	PW_CHECK(now_ms() - t0 < 8000);
	check_cleaned(0);
}

PW_TEST_MAIN()
