/* Starts tests/cloud/fake_cloud.py once per test program (stopped at exit) and drives it through
 * its /_test endpoints: shared by the Azure and GCP suites. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_cloud.h"
#include "net/json.h"

static pid_t srv_pid;
static int srv_in = -1;
static int srv_port;
char base[64];
char dir[64];
pw_http_pool *pool;

static void stop(void)
{
	if (srv_pid > 0) {
		close(srv_in);
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = 0;
	}
	pw__http_pool_free(pool);
	pool = NULL;
	if (dir[0]) {
		char p[128];
		snprintf(p, sizeof p, "%s/fed-token", dir);
		unlink(p);
		rmdir(dir);
	}
}

static int start(void)
{
	if (srv_pid)
		return 0;
	snprintf(dir, sizeof dir, "/tmp/pw-cloud-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	const char *src = getenv("PW_SOURCE_DIR");
	char script[1024];
	snprintf(script, sizeof script, "%s/tests/cloud/fake_cloud.py", src ? src : ".");
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
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	srv_pid = pid;
	srv_in = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[128];
	int ready = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "PORT %d", &srv_port) == 1)
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
	snprintf(base, sizeof base, "http://127.0.0.1:%d", srv_port);
	char p[128];
	snprintf(p, sizeof p, "%s/fed-token", dir);
	FILE *t = fopen(p, "w");
	if (t) {
		fputs(AZ_FEDERATED "\n", t);
		fclose(t);
	}
	atexit(stop);
	return pw__http_pool_new(&pool, NULL);
}

json_t *control(const char *path, const char *body)
{
	pw_http_endpoint ep = {.base_url = base};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = body ? "POST" : "GET";
	req.path_and_query = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	pw_http_response resp;
	json_t *doc = NULL;
	if (pw__http_do(&resp, pool, &ep, &req, NULL) == 0 && resp.status == 200)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "state", NULL);
	pw__http_response_dispose(&resp);
	return doc;
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
