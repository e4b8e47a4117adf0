/* Starting and driving the tests' local servers (see fake_server.h). */
#include "fake_server.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/json.h"

static pw_fake_server *started;
static char *dirs[8];
static size_t ndirs;

static void stop_all(void)
{
	for (pw_fake_server *s = started; s; s = s->next) {
		if (s->to_server >= 0)
			close(s->to_server);
		if (s->pid > 0) {
			int gone = 0;
			for (int t = 0; t < s->grace_ms && !gone; t += 20) {
				gone = waitpid(s->pid, NULL, WNOHANG) == s->pid;
				if (!gone)
					usleep(20000);
			}
			if (!gone) {
				kill(s->pid, s->grace_ms > 0 ? SIGKILL : SIGTERM);
				waitpid(s->pid, NULL, 0);
			}
		}
		s->pid = 0;
		pw__http_pool_free(s->pool);
		s->pool = NULL;
	}
	for (size_t i = 0; i < ndirs; i++) {
		if (!getenv("PW_TEST_KEEP")) {
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dirs[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", dirs[i]);
		}
		free(dirs[i]);
	}
	ndirs = 0;
}

static void at_exit_once(void)
{
	static int done;
	if (!done) {
		atexit(stop_all);
		done = 1;
	}
}

int pw_fake_server_start(pw_fake_server *s, const char *script, const char *const *args,
                         const char *const *names, const char *ready)
{
	memset(s, 0, sizeof(*s));
	s->to_server = -1;
	const char *src = getenv("PW_SOURCE_DIR");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", script);
	/* Debian's interpreter: a version manager's shim in front of it costs a second per start */
	size_t sl = strlen(script);
	const char *py = sl > 3 && !strcmp(script + sl - 3, ".sh") ? "/bin/sh"
	                 : access("/usr/bin/python3", X_OK) == 0   ? "/usr/bin/python3"
	                                                           : "python3";
	const char *argv[32] = {py, path};
	size_t n = 2;
	for (size_t i = 0; args && args[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
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
		execvp(py, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	s->pid = pid;
	s->to_server = in[1];
	s->next = started;
	started = s;
	at_exit_once();
	size_t nnames = 0;
	while (names && names[nnames] && nnames < 3)
		nnames++;
	FILE *f = fdopen(out[0], "r");
	char line[256];
	int ok = 0;
	while (!ok && f && fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < nnames; i++) {
			size_t l = strlen(names[i]);
			if (!strncmp(line, names[i], l) && line[l] == ' ')
				s->port[i] = atoi(line + l + 1);
		}
		if (ready) {
			ok = !strncmp(line, ready, strlen(ready));
		} else {
			ok = 1;
			for (size_t i = 0; i < nnames; i++)
				ok = ok && s->port[i] > 0;
		}
	}
	if (f)
		fclose(f);
	if (!ok || (nnames && s->port[0] <= 0)) {
		fprintf(stderr, "the test server %s did not start\n", script);
		return -1;
	}
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port[0]);
	return pw__http_pool_new(&s->pool, NULL) == 0 ? 0 : -1;
}

json_t *pw_fake_server_control(pw_fake_server *s, const char *path, const char *body)
{
	pw_http_endpoint ep = {.base_url = s->base};
	pw_http_request req = PW_HTTP_REQUEST_INIT;
	req.method = body ? "POST" : "GET";
	req.path_and_query = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	pw_http_response resp;
	json_t *doc = NULL;
	if (pw__http_do(&resp, s->pool, &ep, &req, NULL) == 0 && resp.status == 200)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "state", NULL);
	pw__http_response_dispose(&resp);
	return doc;
}

int pw_test_certs(const char *dir, const char *ca_cn, const char *server_cn, const char *client_subject)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "(cd '%s' && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
	         "-out ca.pem -days 2 -subj '/CN=%s' && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key "
	         "-out srv.csr -subj '/CN=%s' && "
	         "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
	         "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
	         "-days 2 -extfile ext.cnf && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key "
	         "-out client.csr -subj '%s' && "
	         "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem "
	         "-days 2) >/dev/null 2>&1",
	         dir, ca_cn, server_cn, client_subject);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl could not make the test certificates in %s\n", dir);
		return -1;
	}
	return 0;
}

int pw_test_dir(char *dir, size_t cap, const char *prefix)
{
	snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(dir) || ndirs >= sizeof(dirs) / sizeof(dirs[0]))
		return -1;
	dirs[ndirs++] = strdup(dir);
	at_exit_once();
	return 0;
}
