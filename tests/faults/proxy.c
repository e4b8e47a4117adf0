/* The launcher of tests/faults/fault_proxy.py shared by the connectors' fault tests. */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults/proxy.h"
#include "net/http.h"
#include "net/json.h"
#include "pwtest.h"

static struct {
	pid_t pid;
	int in;
	int port;
	char base[64];
	char ca[4096];
	pw_http_pool *pool;
} px = {0, -1, 0, "", "", NULL};

static void proxy_stop(void)
{
	if (px.in >= 0)
		close(px.in);
	if (px.pid > 0) {
		kill(px.pid, SIGTERM);
		waitpid(px.pid, NULL, 0);
	}
	px.pid = 0;
	px.in = -1;
	pw__http_pool_free(px.pool);
	px.pool = NULL;
}

int pw_fault_proxy_start(const char *upstream, const char *const *extra)
{
	if (px.pid)
		return 0;
	const char *src = getenv("PW_SOURCE_DIR");
	char script[4200];
	snprintf(script, sizeof(script), "%s/tests/faults/fault_proxy.py", src ? src : ".");
	const char *argv[16] = {"python3", script, "--upstream", upstream};
	size_t n = 4;
	int tls = 0;
	for (size_t i = 0; extra && extra[i] && n < 15; i++) {
		if (!strcmp(extra[i], "--tls"))
			tls = 1;
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	int in[2], out[2];
	if (pipe(in) || pipe(out))
		return -1;
	px.pid = fork();
	if (px.pid < 0)
		return -1;
	if (px.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	px.in = in[1];
	FILE *o = fdopen(out[0], "r");
	char line[128];
	int ready = 0;
	while (o && fgets(line, sizeof(line), o)) {
		if (!strncmp(line, "PORT ", 5))
			px.port = atoi(line + 5);
		if (!strncmp(line, "READY", 5)) {
			ready = 1;
			break;
		}
	}
	if (o)
		fclose(o);
	atexit(proxy_stop);
	snprintf(px.base, sizeof(px.base), "%s://127.0.0.1:%d", tls ? "https" : "http", px.port);
	if (!ready || px.port <= 0 || pw__http_pool_new(&px.pool, NULL) < 0)
		return -1;
	return 0;
}

void pw_fault_proxy_set_ca(const char *ca_file)
{
	snprintf(px.ca, sizeof(px.ca), "%s", ca_file ? ca_file : "");
}

const char *pw_fault_proxy_base(void)
{
	return px.base;
}

int pw_fault_proxy_port(void)
{
	return px.port;
}

static json_t *control(const char *path, const char *body)
{
	pw_http_endpoint ep = {.base_url = px.base};
	if (px.ca[0])
		ep.ca_file = px.ca;
	else
		ep.insecure_skip_verify = !strncmp(px.base, "https:", 6);
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = body ? "POST" : "GET";
	req.path_and_query = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	pw_http_response resp;
	json_t *doc = NULL;
	if (px.pool && pw__http_do(&resp, px.pool, &ep, &req, NULL) == 0 && resp.status == 200)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "fault proxy state", NULL);
	pw__http_response_dispose(&resp);
	return doc;
}

void pw_fault_rules(const char *json)
{
	json_t *r = control("/_faults/rules", json);
	PW_CHECK(r != NULL);
	json_decref(r);
}

json_t *pw_fault_state(void)
{
	return control("/_faults/state", NULL);
}

void pw_fault_rules_used(void)
{
	json_t *st = pw_fault_state();
	PW_CHECK(st != NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "pending")), 0);
	if (json_array_size(json_object_get(st, "pending"))) {
		char *t = json_dumps(st, 0);
		fprintf(stderr, "  fault state: %s\n", t);
		free(t);
	}
	json_decref(st);
}

int pw_fault_unused_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}
