/* The test side of the fake Kubernetes API server (see fake_k8s.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_k8s.h"
#include "net/json.h"
#include "pipewright/secrets.h"

struct fake_k8s srv;

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", srv.dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int server_start(void)
{
	if (srv.fs.pid)
		return 0;
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pw-k8s") < 0 ||
	    pw_test_certs(srv.dir, "pipewright test cluster CA", "kube-apiserver", "/CN=pipewright/O=ci") < 0)
		return -1;
	/* a kubeconfig with the certificates inline (base64); SERVER is filled in below */
	char cmd[1024];
	snprintf(
	    cmd, sizeof(cmd),
	    "cd '%s' && "
	    "printf 'current-context: certdata\\nclusters:\\n- name: f\\n  cluster:\\n    server: SERVER\\n"
	    "    certificate-authority-data: %%s\\nusers:\\n- name: u\\n  user:\\n    "
	    "client-certificate-data: %%s\\n"
	    "    client-key-data: %%s\\ncontexts:\\n- name: certdata\\n  context: {cluster: f, user: u, "
	    "namespace: ci}\\n' "
	    "\"$(base64 -w0 ca.pem)\" \"$(base64 -w0 client.pem)\" \"$(base64 -w0 client.key)\" > "
	    "certdata-kubeconfig",
	    srv.dir);
	if (system(cmd) != 0)
		return -1;
	char cert[128], key[128], ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
	snprintf(cert, sizeof(cert), "%s/srv.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/srv.key", srv.dir);
	const char *args[] = {"--cert",    cert,    "--key",       key, "--token", TOKEN,
	                      "--workdir", srv.dir, "--client-ca", ca,  NULL};
	const char *names[] = {"PORT", NULL};
	if (pw_fake_server_start(&srv.fs, "tests/kubernetes/fake_apiserver.py", args, names, "READY") < 0)
		return -1;
	snprintf(srv.base, sizeof(srv.base), "https://127.0.0.1:%d", srv.fs.port[0]);
	char kc[2048];
	snprintf(
	    kc, sizeof(kc),
	    "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n"
	    "    server: %s\n    certificate-authority: ca.pem\nusers:\n- name: ci\n  user:\n    token: %s\n"
	    "- name: crt\n  user:\n    client-certificate: client.pem\n    client-key: client.key\n"
	    "- name: ex\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
	    "      command: ./plugin.sh\ncontexts:\n- name: test\n  context: {cluster: fake, user: ci, "
	    "namespace: ci}\n"
	    "- name: exec\n  context: {cluster: fake, user: ex, namespace: ci}\n"
	    "- name: cert\n  context: {cluster: fake, user: crt, namespace: ci}\n",
	    srv.base, TOKEN);
	/* the same cluster with the certificates inline (base64), made by the shell above */
	char path[256];
	snprintf(path, sizeof(path), "%s/certdata-kubeconfig", srv.dir);
	FILE *cf = fopen(path, "r");
	if (!cf)
		return -1;
	pw_buf cd = PW_BUF_INIT(0);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), cf)) > 0)
		pw__buf_append(&cd, chunk, got);
	fclose(cf);
	const char *at = strstr(pw__buf_cstr(&cd), "SERVER");
	if (at) {
		pw_buf fixed = PW_BUF_INIT(0);
		pw__buf_append(&fixed, cd.data, (size_t)(at - cd.data));
		pw__buf_puts(&fixed, srv.base);
		pw__buf_puts(&fixed, at + 6);
		put("certdata-kubeconfig", pw__buf_cstr(&fixed));
		pw__buf_dispose(&fixed);
	}
	pw__buf_dispose(&cd);
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
	return 0;
}

/* A control call to the fake (no auth); returns the parsed answer or NULL. */
json_t *control(const char *path, const char *body)
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
	if (pw__http_do(&resp, srv.fs.pool, &ep, &req, NULL) == 0 && resp.status == 200)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "state", NULL);
	pw__http_response_dispose(&resp);
	return doc;
}

int list_has(json_t *st, const char *list, const char *needle)
{
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(json_object_get(st, list), i, x) if (strstr(json_string_value(x), needle)) n++;
	return n;
}

void reset(void)
{
	if (server_start() != 0) {
		fprintf(stderr, "the fake API server did not start\n");
		exit(1);
	}
	json_decref(control("/_test/faults", "{}"));
	json_decref(control("/_test/reset", "{}"));
}

void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	out_buf *o = payload;
	pthread_mutex_lock(&o->lock);
	pw__buf_append(&o->b, data, len);
	pthread_mutex_unlock(&o->lock);
}

void *canceller(void *arg)
{
	run *x = arg;
	usleep((useconds_t)x->cancel_after_ms * 1000);
	pw_exec_cancel(x->ex, PW_CANCEL_USER);
	return NULL;
}

/* Runs one kubernetes step with config through the manager m (NULL: a manager of its own). */
void run_step(run *x, pw_manager *m, const char *config, double timeout, const pw_map *env,
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

void run_dispose(run *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw__buf_dispose(&x->out.b);
	pthread_mutex_destroy(&x->out.lock);
}

static char cfg_buf[4096];
const char *cfg(const char *extra)
{
	snprintf(cfg_buf, sizeof(cfg_buf), "{\"kubeconfig\":\"%s\",\"image\":\"busybox:1.36\"%s%s}",
	         srv.kubeconfig, extra && *extra ? "," : "", extra ? extra : "");
	return cfg_buf;
}
