/* Docker connector against a real engine: Podman's Docker-compatible API service started by
 * the `podman` CTest fixture (tests/peers/podman.sh). Every request the connector makes is
 * recorded and checked against the v1.41 spec at the end of each case. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "connectors/docker/docker.h"
#include "connectors/docker/http.h"
#include "core/buf.h"
#include "core/clock.h"
#include "pipeline/gc.h"
#include "pipewright.h"
#include "pwtest.h"

#define TEST_IMAGE "pipewright/pwtest-image:latest"
#define SECRET "s3cr3t-token-value-42"

static char sock[4096];
static char trace_path[4200];
static FILE *trace;

static void on_request(const char *method, const char *path, const char *body, size_t len)
{
	if (!trace)
		return;
	json_t *line = json_object();
	json_object_set_new(line, "method", json_string(method));
	json_object_set_new(line, "path", json_string(path));
	json_object_set_new(line, "body", body ? json_stringn(body, len) : json_null());
	char *t = json_dumps(line, JSON_COMPACT);
	fprintf(trace, "%s\n", t);
	fflush(trace);
	free(t);
	json_decref(line);
}

__attribute__((constructor)) static void setup(void)
{
	const char *state = getenv("PW_PODMAN_STATE");
	char p[4200];
	snprintf(p, sizeof(p), "%s/socket", state ? state : "/nonexistent");
	FILE *f = fopen(p, "r");
	if (f) {
		if (fgets(sock, sizeof(sock), f))
			sock[strcspn(sock, "\n")] = '\0';
		fclose(f);
	}
	char host[4200];
	snprintf(host, sizeof(host), "unix://%s", sock);
	setenv("DOCKER_HOST", host, 1);
	snprintf(trace_path, sizeof(trace_path), "/tmp/pw-docker-trace-%ld.jsonl", (long)getpid());
	trace = fopen(trace_path, "w");
	pw__docker_http_trace = on_request;
}

/* Checks the recorded requests against the spec. */
static void check_spec(void)
{
	if (trace)
		fclose(trace);
	trace = NULL;
	char cmd[9000];
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(
	    cmd, sizeof(cmd),
	    "python3 '%s/tests/docker/spec_check.py' '%s/tests/docker/spec/v1.41.yaml' '%s' --allow-empty",
	    src ? src : ".", src ? src : ".", trace_path);
	PW_CHECK(system(cmd) == 0);
	unlink(trace_path);
}

static int engine_with(const char *method, const char *path, const char *json, char **body_out);

/* An engine call from the test itself (not traced). */
static int engine(const char *method, const char *path, char **body_out)
{
	return engine_with(method, path, NULL, body_out);
}

static int engine_with(const char *method, const char *path, const char *json, char **body_out)
{
	static pw_docker_http *h;
	if (!h)
		pw__docker_http_new(&h, NULL);
	pw_docker_endpoint ep;
	char url[4200];
	snprintf(url, sizeof(url), "unix://%s", sock);
	pw__docker_endpoint_parse(&ep, url, 0, NULL, "test", NULL);
	pw_docker_req req = PW_DOCKER_REQ_INIT;
	req.ep = &ep;
	req.method = method;
	req.path = path;
	if (json) {
		req.body = json;
		req.body_len = strlen(json);
		req.content_type = "application/json";
	}
	pw_docker_resp r;
	void (*saved)(const char *, const char *, const char *, size_t) = pw__docker_http_trace;
	pw__docker_http_trace = NULL;
	int rc = pw__docker_http_do(&r, h, &req, NULL);
	pw__docker_http_trace = saved;
	if (body_out)
		*body_out = pw__buf_detach(&r.body);
	else
		pw__buf_dispose(&r.body);
	return rc == 0 ? (int)r.status : rc;
}

/* How many containers (all states) carry label=value. */
static int count_containers(const char *label, const char *value)
{
	char path[1024], *body = NULL;
	snprintf(path, sizeof(path),
	         "/v1.41/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22%s%%3D%s%%22%%5D%%7D",
	         label, value);
	if (engine("GET", path, &body) != 200) {
		free(body);
		return -1;
	}
	json_t *v = json_loads(body, 0, NULL);
	int n = json_is_array(v) ? (int)json_array_size(v) : -1;
	json_decref(v);
	free(body);
	return n;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4300];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return;
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char *read_file(const char *dir, const char *name)
{
	char p[4300];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return NULL;
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

typedef struct outcome {
	int rc;
	pw_result *r;
	pw_error *e;
	int64_t ms;
} outcome;

static void outcome_dispose(outcome *o)
{
	pw_result_free(o->r);
	pw_error_free(o->e);
}

/* Runs one docker step with config JSON in workspace dir. */
static outcome run_step(const char *dir, const char *name, const char *config, double timeout,
                        const char *run_id, pw_map *env)
{
	outcome o = {0, NULL, NULL, 0};
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, name, "docker");
	pw_step_set_config_json(s, config, NULL);
	pw_step_set_timeout(s, timeout);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, dir, run_id, NULL, NULL);
	pw_secrets *sec = NULL;
	pw_secrets_new(&sec);
	pw_secrets_add(sec, SECRET, "TOKEN", NULL);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = run_id;
	eo.step_name = name;
	eo.timeout_seconds = timeout;
	eo.secrets = sec;
	pw_exec *ex = NULL;
	pw_exec_new(&ex, &eo, NULL);
	int64_t t0 = pw__now_ms();
	o.rc = pw_manager_execute_step(&o.r, m, s, ws, env, ex, &o.e);
	o.ms = pw__now_ms() - t0;
	if (o.rc < 0)
		fprintf(stderr, "  step %s: %s\n", name, o.e ? pw_error_message(o.e) : "?");
	pw_exec_free(ex);
	pw_secrets_free(sec);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m); /* removes run-scoped images */
	return o;
}

static char *workspace(void)
{
	char *d = strdup("/tmp/pw-docker-ws-XXXXXX");
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static void remove_tree(char *dir)
{
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot remove %s\n", dir);
	free(dir);
}

/* Builds the busybox test image through the connector's own build path (Dockerfile +
 * .dockerignore), keeping it for the other cases. */
PW_TEST(docker_engine_build_test_image)
{
	PW_REQUIRE(sock[0]);
	char *ws = workspace();
	PW_REQUIRE(ws);
	char ctx[4200], cmd[8600];
	snprintf(ctx, sizeof(ctx), "%s/image", ws);
	mkdir(ctx, 0755);
	snprintf(cmd, sizeof(cmd),
	         "cp /bin/busybox '%s/busybox' 2>/dev/null || cp /usr/bin/busybox '%s/busybox'", ctx, ctx);
	PW_REQUIRE(system(cmd) == 0);
	write_file(
	    ctx, "Dockerfile",
	    "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n"
	    "COPY . /ctx\n");
	write_file(ctx, "kept.txt", "kept\n");
	write_file(ctx, "debug.log", "ignored\n");
	snprintf(cmd, sizeof(cmd), "%s/private", ctx);
	mkdir(cmd, 0755);
	write_file(cmd, "key", "ignored\n");
	write_file(ctx, ".dockerignore", "*.log\nprivate/\n");
	outcome o =
	    run_step(ws, "image",
	             "{\"dockerfile\":\"image/Dockerfile\",\"build_context\":\"image\",\"keep_image\":true,"
	             "\"command\":\"ls -a /ctx\",\"network\":\"none\"}",
	             120, "pwtest", NULL);
	PW_CHECK_INT(o.rc, 0);
	if (o.r) {
		PW_CHECK_INT(pw_result_exit_code(o.r), 0);
		const char *out = pw_result_stdout(o.r);
		PW_CHECK_CONTAINS(out, "kept.txt");
		PW_CHECK_CONTAINS(out, "Dockerfile");
		PW_CHECK(!strstr(out, "debug.log"));
		PW_CHECK(!strstr(out, "private"));
		const pw_map *md = pw_result_metadata_const(o.r);
		PW_CHECK_STR(pw_map_get(md, "image"), TEST_IMAGE);
		PW_CHECK_STR(pw_map_get(md, "engine"), "Podman Engine");
		PW_CHECK(pw_map_get(md, "build_ms") != NULL);
		PW_CHECK(strlen(pw_map_get(md, "container_id") ? pw_map_get(md, "container_id") : "") == 64);
	}
	outcome_dispose(&o);
	/* kept: it is there after the manager was freed */
	PW_CHECK_INT(engine("GET", "/v1.41/images/" TEST_IMAGE "/json", NULL), 200);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_exit_codes_and_streams)
{
	char *ws = workspace();
	outcome o = run_step(ws, "codes",
	                     "{\"image\":\"" TEST_IMAGE
	                     "\",\"pull\":\"never\",\"command\":\"echo to-out; echo to-err >&2; "
	                     "exit 7\"}",
	                     60, "pwtest-codes", NULL);
	PW_CHECK_INT(o.rc, 0);
	if (o.r) {
		PW_CHECK_INT(pw_result_exit_code(o.r), 7);
		PW_CHECK_STR(pw_result_stdout(o.r), "to-out\n");
		PW_CHECK_STR(pw_result_stderr(o.r), "to-err\n");
	}
	outcome_dispose(&o);
	o = run_step(ws, "ok",
	             "{\"image\":\"" TEST_IMAGE
	             "\",\"pull\":\"never\",\"command\":[\"true\"],\"network\":\"none\"}",
	             60, "pwtest-codes", NULL);
	PW_CHECK(o.rc == 0 && o.r && pw_result_exit_code(o.r) == 0);
	outcome_dispose(&o);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-codes"), 0);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_environment_and_secrets)
{
	char *ws = workspace();
	pw_map *env = pw_map_new();
	pw_map_set(env, "TOKEN", SECRET);
	pw_map_set(env, "PLAIN", "visible-value");
	outcome o = run_step(
	    ws, "env",
	    "{\"image\":\"" TEST_IMAGE "\",\"pull\":\"never\",\"environment\":{\"FROM_CONFIG\":\"cfg-1\"},"
	    "\"command\":\"echo token=$TOKEN; echo plain=$PLAIN; echo cfg=$FROM_CONFIG; echo $TOKEN >&2\"}",
	    60, "pwtest-env", env);
	PW_CHECK_INT(o.rc, 0);
	if (o.r) {
		PW_CHECK_STR(pw_result_stdout(o.r), "token=***\nplain=visible-value\ncfg=cfg-1\n");
		PW_CHECK_STR(pw_result_stderr(o.r), "***\n");
	}
	outcome_dispose(&o);
	pw_map_free(env);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_working_directory_and_workspace)
{
	char *ws = workspace();
	char sub[4200];
	snprintf(sub, sizeof(sub), "%s/sub", ws);
	mkdir(sub, 0755);
	write_file(sub, "input.txt", "from-host\n");
	outcome o = run_step(ws, "wd",
	                     "{\"image\":\"" TEST_IMAGE "\",\"pull\":\"never\",\"working_directory\":\"sub\","
	                     "\"command\":\"pwd; cat input.txt; echo written-in-container > out.txt\"}",
	                     60, "pwtest-wd", NULL);
	PW_CHECK_INT(o.rc, 0);
	if (o.r) {
		PW_CHECK_INT(pw_result_exit_code(o.r), 0);
		PW_CHECK_STR(pw_result_stdout(o.r), "/workspace/sub\nfrom-host\n");
	}
	outcome_dispose(&o);
	char *out = read_file(sub, "out.txt");
	PW_CHECK_STR(out, "written-in-container\n");
	free(out);
	/* absolute working directory, another mount point, a read-only volume */
	mkdir(sub, 0755);
	o = run_step(
	    ws, "wd2",
	    "{\"image\":\"" TEST_IMAGE
	    "\",\"pull\":\"never\",\"working_directory\":\"/tmp\",\"workspace_mount\":"
	    "\"/src\",\"volumes\":[\"./sub:/data:ro\"],\"command\":\"pwd; ls /src; cat /data/input.txt; "
	    "touch /data/x 2>/dev/null && echo writable || echo read-only\"}",
	    60, "pwtest-wd", NULL);
	PW_CHECK_INT(o.rc, 0);
	if (o.r)
		PW_CHECK_STR(pw_result_stdout(o.r), "/tmp\nsub\nfrom-host\nread-only\n");
	outcome_dispose(&o);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_build_failure_message)
{
	char *ws = workspace();
	write_file(ws, "Dockerfile",
	           "FROM " TEST_IMAGE "\nRUN echo before\nRUN echo failing-step-output && exit 3\n");
	outcome o = run_step(ws, "badbuild",
	                     "{\"dockerfile\":\"Dockerfile\",\"command\":\"true\",\"network\":\"none\"}", 120,
	                     "pwtest-badbuild", NULL);
	PW_CHECK_INT(o.rc, PW_ESTEP);
	PW_REQUIRE(o.e);
	PW_CHECK_CONTAINS(pw_error_message(o.e), "building 'Dockerfile' failed at");
	PW_CHECK_CONTAINS(pw_error_message(o.e), "RUN echo failing-step-output && exit 3");
	PW_CHECK_CONTAINS(pw_error_message(o.e), "exit status 3");
	PW_CHECK_STR(pw_error_key(o.e), "dockerfile");
	outcome_dispose(&o);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_missing_image_pull_never)
{
	char *ws = workspace();
	outcome o = run_step(ws, "missing", "{\"image\":\"pipewright/no-such-image:1\",\"pull\":\"never\"}",
	                     60, "pwtest-missing", NULL);
	PW_CHECK_INT(o.rc, PW_ENOTFOUND);
	PW_REQUIRE(o.e);
	PW_CHECK_CONTAINS(pw_error_message(o.e), "image 'pipewright/no-such-image:1' is not on the engine");
	PW_CHECK_CONTAINS(pw_error_message(o.e), "pull: never");
	PW_CHECK_STR(pw_error_key(o.e), "pull");
	outcome_dispose(&o);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-missing"), 0);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_timeout_kills_and_removes)
{
	char *ws = workspace();
	/* busybox as PID 1 ignores SIGTERM: the stop needs the kill that follows */
	outcome o = run_step(ws, "slow",
	                     "{\"image\":\"" TEST_IMAGE
	                     "\",\"pull\":\"never\",\"stop_timeout\":1,\"command\":[\"sleep\","
	                     "\"60\"]}",
	                     1.5, "pwtest-timeout", NULL);
	PW_CHECK_INT(o.rc, PW_ETIMEOUT);
	PW_CHECK(o.ms < 15000);
	outcome_dispose(&o);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-timeout"), 0);
	remove_tree(ws);
	check_spec();
}

PW_TEST(docker_engine_sigint_to_cli_removes_container)
{
	const char *cli = getenv("PW_CLI");
	PW_REQUIRE(cli);
	char *ws = workspace();
	write_file(ws, "pipewright.yml",
	           "version: 1\nname: sigint\nsteps:\n  - name: long\n    step_type: docker\n    config:\n   "
	           "   image: " TEST_IMAGE
	           "\n      pull: never\n      stop_timeout: 1\n      command: [sleep, \"60\"]\n");
	char file[4300];
	snprintf(file, sizeof(file), "%s/pipewright.yml", ws);
	pid_t pid = fork();
	PW_REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(cli, cli, "run", file, "--run-id", "pwtest-sigint", "-q", (char *)NULL);
		_exit(127);
	}
	/* wait until its container exists and runs */
	int seen = 0;
	for (int i = 0; i < 300 && !seen; i++) {
		seen = count_containers("io.pipewright.run", "pwtest-sigint") > 0;
		if (!seen)
			usleep(50000);
	}
	PW_CHECK(seen);
	usleep(300000);
	kill(pid, SIGINT);
	int status = 0;
	int64_t t0 = pw__now_ms();
	waitpid(pid, &status, 0);
	PW_CHECK(pw__now_ms() - t0 < 15000);
	PW_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 130);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-sigint"), 0);
	remove_tree(ws);
	check_spec();
}

/* Starts `pipewright run` of a `sleep 60` docker step in ws with run id `id`, output to
 * /dev/null; returns its pid once the step's container exists (0 when it never appears). */
static pid_t start_cli_run(const char *cli, const char *ws, const char *id)
{
	char file[4300];
	snprintf(file, sizeof(file), "%s/pipewright.yml", ws);
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(cli, cli, "run", file, "--run-id", id, "-q", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		if (count_containers("io.pipewright.run", id) > 0)
			return pid;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}

static void gc_collect(const char *line, void *payload)
{
	pw__buf_printf(payload, "%s\n", line);
}

/* `kill -9` of `pipewright run` in the middle of a docker step leaves its container running;
 * gc finds it in the run's journal and removes it: --older-than and --dry-run remove nothing,
 * a live run's container is not touched, and `pipewright gc` then leaves zero labelled
 * containers of the killed run. */
PW_TEST(docker_engine_kill9_then_gc)
{
	const char *cli = getenv("PW_CLI");
	PW_REQUIRE(cli);
	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1); /* no cluster sweep here */
	char *ws = workspace();
	PW_REQUIRE(ws);
	write_file(ws, "pipewright.yml",
	           "version: 1\nname: gc\nsteps:\n  - name: long\n    step_type: docker\n    config:\n   "
	           "   image: " TEST_IMAGE
	           "\n      pull: never\n      stop_timeout: 1\n      command: [sleep, \"47\"]\n");
	pid_t dead = start_cli_run(cli, ws, "pwtest-gc-dead");
	PW_REQUIRE(dead > 0);
	kill(dead, SIGKILL);
	waitpid(dead, NULL, 0);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-dead"), 1);
	char *journal = read_file(ws, ".pipewright/runs/pwtest-gc-dead/journal");
	PW_REQUIRE(journal);
	PW_CHECK_CONTAINS(journal, "\"event\":\"created\"");
	PW_CHECK_CONTAINS(journal, "\"kind\":\"container\"");
	PW_CHECK_NOT_CONTAINS(journal, "\"event\":\"removed\"");
	free(journal);
	pid_t live = start_cli_run(cli, ws, "pwtest-gc-live");
	PW_REQUIRE(live > 0);

	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_buf out = PW_BUF_INIT(0);
	pw_gc_options o = {ws, 3600 * 1000, 0, 1, gc_collect, &out};
	pw_gc_stats st;
	/* too recent for --older-than 1h: nothing removed */
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 0);
	PW_CHECK(st.kept_new >= 1);
	PW_CHECK(st.kept_live >= 1);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-dead"), 1);
	/* dry run: reported, not removed */
	o.older_than_ms = -1;
	o.dry_run = 1;
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 1);
	PW_CHECK_INT(st.failed, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "would remove docker container pipewright-pwtest-gc-dead-long");
	PW_CHECK_NOT_CONTAINS(pw__buf_cstr(&out), "pwtest-gc-live");
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-dead"), 1);
	/* a container of the dead run kept on purpose (keep_container: the keep label) stays */
	PW_CHECK_INT(
	    engine_with("POST", "/v1.41/containers/create?name=pwtest-gc-kept",
	                "{\"Image\":\"" TEST_IMAGE "\",\"Cmd\":[\"true\"],\"Labels\":{"
	                "\"io.pipewright.managed\":\"true\",\"io.pipewright.run\":\"pwtest-gc-dead\","
	                "\"io.pipewright.step\":\"kept\",\"io.pipewright.keep\":\"true\"}}",
	                NULL),
	    201);
	/* in-process (its requests are checked against the spec below) and then the command */
	o.dry_run = 0;
	pw__buf_clear(&out);
	PW_CHECK_INT(pw__gc_run(&st, m, &o, NULL), 0);
	PW_CHECK_INT(st.removed, 1);
	PW_CHECK_INT(st.failed, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&out), "removed docker container pipewright-pwtest-gc-dead-long");
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-dead"), 1); /* the kept one */
	PW_CHECK_INT(count_containers("io.pipewright.step", "kept"), 1);
	PW_CHECK_INT(engine("DELETE", "/v1.41/containers/pwtest-gc-kept?force=1", NULL), 204);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-dead"), 0);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-live"), 1);
	journal = read_file(ws, ".pipewright/runs/pwtest-gc-dead/journal");
	PW_CHECK_CONTAINS(journal, "\"by\":\"gc\"");
	free(journal);
	pw__buf_dispose(&out);
	pw_manager_free(m);

	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "'%s' gc -w '%s' 2>&1", cli, ws);
	FILE *p = popen(cmd, "r");
	PW_REQUIRE(p);
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	PW_CHECK_INT(pclose(p), 0);
	PW_CHECK_CONTAINS(text, "gc: 0 removed, 0 failed");
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-live"), 1);

	kill(live, SIGINT);
	waitpid(live, NULL, 0);
	PW_CHECK_INT(count_containers("io.pipewright.run", "pwtest-gc-live"), 0);
	remove_tree(ws);
	check_spec();
}

/* Runs last (fixture cleanup of the test image): removes the kept test image, then asserts
 * that no container and no image with the suite's labels is left on the engine. */
PW_TEST(docker_engine_nothing_left_behind)
{
	int st = engine("DELETE", "/v1.41/images/" TEST_IMAGE "?force=1", NULL);
	PW_CHECK(st == 200 || st == 404);
	PW_CHECK_INT(count_containers("io.pipewright.managed", "true"), 0);
	char *body = NULL;
	PW_CHECK_INT(engine("GET",
	                    "/v1.41/images/"
	                    "json?all=1&filters=%7B%22label%22%3A%5B%22io.pipewright.managed%3Dtrue%22%5D%7D",
	                    &body),
	             200);
	json_t *v = json_loads(body ? body : "", 0, NULL);
	PW_CHECK(json_is_array(v) && json_array_size(v) == 0);
	if (json_array_size(v))
		fprintf(stderr, "  left behind: %s\n", body);
	json_decref(v);
	free(body);
	check_spec();
}

PW_TEST_MAIN()
