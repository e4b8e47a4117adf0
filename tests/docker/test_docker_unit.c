/* Docker connector, offline: configuration rules, request bodies and paths (checked against
 * the v1.41 spec), log-frame demultiplexing, build contexts, discovery and registry auth. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/docker/docker.h"
#include "pipewright.h"
#include "pwtest.h"

static pw_step *step_with(const char *json)
{
	pw_step *s = NULL;
	pw_step_new(&s, "build", "docker");
	pw_error *e = NULL;
	if (pw_step_set_config_json(s, json, &e) < 0) {
		fprintf(stderr, "bad test json: %s\n", json);
		pw_error_free(e);
	}
	return s;
}

/* The keys named by the chained errors, joined with ','. */
static void error_keys(char *out, size_t size, const pw_error *e)
{
	out[0] = '\0';
	for (; e; e = pw_error_next(e)) {
		size_t n = strlen(out);
		snprintf(out + n, size - n, "%s%s", n ? "," : "", pw_error_key(e) ? pw_error_key(e) : "?");
	}
}

static int validate(const char *json, char *keys, size_t size, char *first_msg, size_t msg_size)
{
	pw_step *s = step_with(json);
	pw_error *e = NULL;
	int rc = pw__docker_config_validate(s, &e);
	error_keys(keys, size, e);
	if (first_msg)
		snprintf(first_msg, msg_size, "%s", e ? pw_error_message(e) : "");
	pw_error_free(e);
	pw_step_free(s);
	return rc;
}

PW_TEST(docker_config_valid_examples)
{
	char keys[512];
	PW_CHECK_INT(validate("{\"image\":\"node:18-alpine\",\"command\":\"npm ci && npm run build\","
	                      "\"working_directory\":\"/app\",\"environment\":{\"NODE_ENV\":\"production\"}}",
	                      keys, sizeof(keys), NULL, 0),
	             0);
	PW_CHECK_INT(
	    validate("{\"dockerfile\":\"Dockerfile.build\",\"build_context\":\".\",\"build_args\":{\"V\":1},"
	             "\"keep_image\":true,\"command\":[\"make\",\"test\"]}",
	             keys, sizeof(keys), NULL, 0),
	    0);
	PW_CHECK_INT(
	    validate(
	        "{\"image\":\"registry.example.com:5000/team/app:1.2\",\"entrypoint\":\"\",\"user\":1000,"
	        "\"volumes\":[\"./cache:/cache\",\"data:/data:ro\"],\"network\":\"none\",\"pull\":\"never\","
	        "\"cpus\":0.5,\"memory\":\"256m\",\"shm_size\":67108864,\"keep_container\":false,"
	        "\"stop_timeout\":2,\"host\":\"unix:///run/podman/podman.sock\",\"workspace_mount\":\"/"
	        "src\"}",
	        keys, sizeof(keys), NULL, 0),
	    0);
	PW_CHECK_INT(
	    validate("{\"image\":\"alpine\",\"volumes\":[\"/etc:/host-etc:ro\"],\"allow_host_paths\":true}",
	             keys, sizeof(keys), NULL, 0),
	    0);
}

PW_TEST(docker_config_errors_name_their_key)
{
	static const struct {
		const char *json;
		const char *keys;
		const char *in_message;
	} cases[] = {
	    {"{\"imagee\":\"alpine\",\"image\":\"alpine\"}", "imagee", "unknown docker config key"},
	    {"{\"image\":\"Alpine:latest\"}", "image", "not a valid image reference"},
	    {"{\"image\":\"alpine::1\"}", "image", "not a valid image reference"},
	    {"{\"command\":\"true\"}", "image", "neither image nor dockerfile"},
	    {"{\"image\":\"alpine\",\"dockerfile\":\"Dockerfile\"}", "dockerfile", "exclude each other"},
	    {"{\"image\":\"alpine\",\"build_context\":\"ctx\"}", "build_context", "only with dockerfile"},
	    {"{\"image\":\"alpine\",\"keep_image\":true}", "keep_image", "only with dockerfile"},
	    {"{\"dockerfile\":\"../Dockerfile\"}", "dockerfile", "leaves the workspace"},
	    {"{\"dockerfile\":\"Dockerfile\",\"build_context\":\"/\"}", "build_context",
	     "leaves the workspace"},
	    {"{\"image\":\"alpine\",\"command\":[]}", "command", "empty"},
	    {"{\"image\":\"alpine\",\"command\":[\"ls\",{}]}", "command.1", "not a string"},
	    {"{\"image\":\"alpine\",\"command\":5}", "command", "string or a list"},
	    {"{\"image\":\"alpine\",\"environment\":{\"1BAD\":\"x\"}}", "environment.1BAD", "not valid"},
	    {"{\"image\":\"alpine\",\"environment\":{\"A\":[1]}}", "environment.A", "must be a string"},
	    {"{\"image\":\"alpine\",\"environment\":[\"A=1\"]}", "environment", "mapping"},
	    {"{\"image\":\"alpine\",\"working_directory\":\"../x\"}", "working_directory",
	     "path in the container"},
	    {"{\"image\":\"alpine\",\"workspace_mount\":\"rel\"}", "workspace_mount", "absolute"},
	    {"{\"image\":\"alpine\",\"user\":\"a b\"}", "user", "uid"},
	    {"{\"image\":\"alpine\",\"volumes\":\"./a:/a\"}", "volumes", "must be a list"},
	    {"{\"image\":\"alpine\",\"volumes\":[\"/etc:/etc\"]}", "volumes.0", "outside the workspace"},
	    {"{\"image\":\"alpine\",\"volumes\":[\"./../x:/x\"]}", "volumes.0", "leaves the workspace"},
	    {"{\"image\":\"alpine\",\"volumes\":[\"./a:rel\"]}", "volumes.0", "not valid"},
	    {"{\"image\":\"alpine\",\"volumes\":[\"./a:/a:rx\"]}", "volumes.0", "not valid"},
	    {"{\"image\":\"alpine\",\"volumes\":[\"nocolon\"]}", "volumes.0", "not valid"},
	    {"{\"image\":\"alpine\",\"network\":\"container:x\"}", "network", "network"},
	    {"{\"image\":\"alpine\",\"pull\":\"sometimes\"}", "pull", "always, if-not-present or never"},
	    {"{\"image\":\"alpine\",\"cpus\":0}", "cpus", "above 0"},
	    {"{\"image\":\"alpine\",\"memory\":\"lots\"}", "memory", "size"},
	    {"{\"image\":\"alpine\",\"memory\":1024}", "memory", "at least"},
	    {"{\"image\":\"alpine\",\"shm_size\":\"1x\"}", "shm_size", "size"},
	    {"{\"image\":\"alpine\",\"keep_container\":\"yes\"}", "keep_container", "true or false"},
	    {"{\"image\":\"alpine\",\"allow_host_paths\":1}", "allow_host_paths", "true or false"},
	    {"{\"image\":\"alpine\",\"stop_timeout\":1.5}", "stop_timeout", "integer"},
	    {"{\"image\":\"alpine\",\"stop_timeout\":-1}", "stop_timeout", "integer"},
	    {"{\"image\":\"alpine\",\"host\":\"ssh://x\"}", "host", "unix:// or tcp://"},
	    {"{\"dockerfile\":\"D\",\"build_args\":{\"a-b\":\"1\"}}", "build_args.a-b", "not valid"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char keys[512], msg[1024];
		int rc = validate(cases[i].json, keys, sizeof(keys), msg, sizeof(msg));
		if (rc != PW_ECONFIG || strcmp(keys, cases[i].keys) != 0 ||
		    !strstr(msg, cases[i].in_message)) {
			fprintf(stderr, "  case %zu %s: rc %d keys '%s' (want '%s') message '%s'\n", i,
			        cases[i].json, rc, keys, cases[i].keys, msg);
			pwt_failed_checks++;
		}
	}
	/* several problems: one error each */
	char keys[512];
	PW_CHECK_INT(validate("{\"image\":\"alpine\",\"pull\":\"x\",\"cpus\":-1,\"memory\":\"q\"}", keys,
	                      sizeof(keys), NULL, 0),
	             PW_ECONFIG);
	PW_CHECK_STR(keys, "pull,cpus,memory");
}

PW_TEST(docker_image_references)
{
	const char *good[] = {
	    "alpine",
	    "alpine:3.19",
	    "library/alpine",
	    "docker.io/library/alpine:latest",
	    "localhost/app",
	    "localhost:5000/a/b/c:v1.2-rc_3",
	    "registry.example.com:5000/team/app:1.2",
	    "my-registry/x__y.z-w",
	    "alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "a/b:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "REGISTRY.example/x",
	    NULL};
	const char *bad[] = {"",      "Alpine",      "alpine:",     "alpine::1",   ":tag",  "a//b",
	                     "-a",    "a-",          "a/.b",        "a@sha256:12", "a:t t", "a b",
	                     "a___b", "host:port/x", "alpine:-tag", NULL};
	for (size_t i = 0; good[i]; i++)
		if (!pw__docker_image_ref_valid(good[i])) {
			fprintf(stderr, "  should be valid: %s\n", good[i]);
			pwt_failed_checks++;
		}
	for (size_t i = 0; bad[i]; i++)
		if (pw__docker_image_ref_valid(bad[i])) {
			fprintf(stderr, "  should be invalid: %s\n", bad[i]);
			pwt_failed_checks++;
		}
	char *n, *t, *r;
	PW_REQUIRE(pw__docker_image_ref_split(&n, &t, &r, "localhost:5000/a/b:v1") == 0);
	PW_CHECK_STR(n, "localhost:5000/a/b");
	PW_CHECK_STR(t, "v1");
	PW_CHECK_STR(r, "localhost:5000");
	free(n), free(t), free(r);
	PW_REQUIRE(pw__docker_image_ref_split(&n, &t, &r, "alpine") == 0);
	PW_CHECK_STR(n, "alpine");
	PW_CHECK_STR(t, "latest");
	PW_CHECK_STR(r, "docker.io");
	free(n), free(t), free(r);
}

PW_TEST(docker_sizes_and_volumes)
{
	int64_t v = 0;
	PW_CHECK(pw__docker_parse_size(&v, "512m") == 0 && v == 512LL << 20);
	PW_CHECK(pw__docker_parse_size(&v, "2g") == 0 && v == 2LL << 30);
	PW_CHECK(pw__docker_parse_size(&v, "1.5GiB") == 0 && v == 3LL << 29);
	PW_CHECK(pw__docker_parse_size(&v, "64kb") == 0 && v == 64 << 10);
	PW_CHECK(pw__docker_parse_size(&v, "1024") == 0 && v == 1024);
	PW_CHECK(pw__docker_parse_size(&v, "-1") < 0);
	PW_CHECK(pw__docker_parse_size(&v, "1q") < 0);
	PW_CHECK(pw__docker_parse_size(&v, "m") < 0);
	pw_docker_volume vol;
	const char *why = NULL;
	PW_CHECK(pw__docker_volume_parse(&vol, "./a:/b:ro", &why) == 0 && vol.read_only && vol.is_path &&
	         !strcmp(vol.host, "./a") && !strcmp(vol.container, "/b"));
	PW_CHECK(pw__docker_volume_parse(&vol, "cache:/c", &why) == 0 && !vol.is_path && !vol.read_only);
	PW_CHECK(pw__docker_volume_parse(&vol, "./a:/b/../c", &why) < 0 && why);
}

static json_t *create_body(const char *config_json, const pw_map *env, int redact)
{
	pw_step *s = step_with(config_json);
	pw_error *e = NULL;
	if (pw__docker_config_validate(s, &e) < 0) {
		fprintf(stderr, "  invalid: %s\n", pw_error_message(e));
		pw_error_free(e);
		pw_step_free(s);
		return NULL;
	}
	pw_docker_config cfg;
	pw__docker_config_read(&cfg, s);
	pw_docker_create_input in = {&cfg,  cfg.image ? cfg.image : "built", env, "/ws", "run1", "build",
	                             redact};
	json_t *b = pw__docker_create_body(&in, &e);
	pw_error_free(e);
	/* the body borrows nothing from the step */
	pw_step_free(s);
	return b;
}

static const char *jstr(json_t *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *cur = o;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(cur))
			cur = json_array_get(cur, (size_t)strtol(tok, NULL, 10));
		else
			cur = json_object_get(cur, tok);
	}
	return json_string_value(cur);
}

PW_TEST(docker_create_body)
{
	pw_map *env = pw_map_new();
	pw_map_set(env, "CI", "true");
	pw_map_set(env, "TOKEN", "s3cr3t-value");
	pw_map_set(env, "MODE", "pipeline");
	json_t *b = create_body(
	    "{\"image\":\"node:18-alpine\",\"command\":\"npm ci && npm run build\",\"working_directory\":"
	    "\"sub/dir\",\"environment\":{\"MODE\":\"config\",\"N\":3},\"user\":\"1000:1000\","
	    "\"volumes\":[\"./cache:/cache:ro\",\"named:/named\"],\"network\":\"none\",\"cpus\":1.5,"
	    "\"memory\":\"64m\",\"shm_size\":\"1m\",\"stop_timeout\":3}",
	    env, 0);
	PW_REQUIRE(b);
	PW_CHECK_STR(jstr(b, "Image"), "node:18-alpine");
	PW_CHECK_STR(jstr(b, "Cmd.0"), "/bin/sh");
	PW_CHECK_STR(jstr(b, "Cmd.1"), "-c");
	PW_CHECK_STR(jstr(b, "Cmd.2"), "npm ci && npm run build");
	PW_CHECK_STR(jstr(b, "WorkingDir"), "/workspace/sub/dir");
	PW_CHECK_STR(jstr(b, "User"), "1000:1000");
	/* pipeline env first; config `environment` wins for a name in both */
	PW_CHECK_INT(json_array_size(json_object_get(b, "Env")), 4);
	PW_CHECK_STR(jstr(b, "Env.0"), "CI=true");
	PW_CHECK_STR(jstr(b, "Env.1"), "TOKEN=s3cr3t-value");
	PW_CHECK_STR(jstr(b, "Env.2"), "MODE=config");
	PW_CHECK_STR(jstr(b, "Env.3"), "N=3");
	json_t *labels = json_object_get(b, "Labels");
	PW_CHECK_STR(json_string_value(json_object_get(labels, "io.pipewright.run")), "run1");
	PW_CHECK_STR(json_string_value(json_object_get(labels, "io.pipewright.step")), "build");
	PW_CHECK_STR(json_string_value(json_object_get(labels, "io.pipewright.managed")), "true");
	PW_CHECK(json_object_get(labels, "io.pipewright.keep") == NULL); /* gc may remove it */
	PW_CHECK_STR(jstr(b, "HostConfig.Binds.0"), "/ws:/workspace");
	PW_CHECK_STR(jstr(b, "HostConfig.Binds.1"), "/ws/cache:/cache:ro");
	PW_CHECK_STR(jstr(b, "HostConfig.Binds.2"), "named:/named");
	PW_CHECK_STR(jstr(b, "HostConfig.NetworkMode"), "none");
	json_t *hc = json_object_get(b, "HostConfig");
	PW_CHECK_INT(json_integer_value(json_object_get(hc, "NanoCpus")), 1500000000LL);
	PW_CHECK_INT(json_integer_value(json_object_get(hc, "Memory")), 64LL << 20);
	PW_CHECK_INT(json_integer_value(json_object_get(hc, "ShmSize")), 1LL << 20);
	PW_CHECK_INT(json_integer_value(json_object_get(b, "StopTimeout")), 3);
	PW_CHECK(json_is_false(json_object_get(b, "Tty")));
	json_decref(b);

	/* list command is argv; defaults: workspace as working dir, bridge network */
	b = create_body("{\"image\":\"alpine\",\"command\":[\"ls\",\"-l\",1],\"entrypoint\":[\"/bin/env\"],"
	                "\"workspace_mount\":\"/src\"}",
	                env, 1);
	PW_REQUIRE(b);
	PW_CHECK_INT(json_array_size(json_object_get(b, "Cmd")), 3);
	PW_CHECK_STR(jstr(b, "Cmd.0"), "ls");
	PW_CHECK_STR(jstr(b, "Cmd.2"), "1");
	PW_CHECK_STR(jstr(b, "Entrypoint.0"), "/bin/env");
	PW_CHECK_STR(jstr(b, "WorkingDir"), "/src");
	PW_CHECK_STR(jstr(b, "HostConfig.Binds.0"), "/ws:/src");
	PW_CHECK_STR(jstr(b, "HostConfig.NetworkMode"), "bridge");
	json_decref(b);
	/* a container kept on purpose says so, and `pipewright gc` leaves it */
	b = create_body("{\"image\":\"alpine\",\"keep_container\":true}", env, 1);
	PW_REQUIRE(b);
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(b, "Labels"), "io.pipewright.keep")),
	             "true");
	json_decref(b);
	b = create_body("{\"image\":\"alpine\",\"command\":[\"ls\",\"-l\",1],\"entrypoint\":[\"/bin/env\"],"
	                "\"workspace_mount\":\"/src\"}",
	                env, 1);
	PW_REQUIRE(b);
	/* plan: values of the pipeline environment are redacted */
	PW_CHECK_STR(jstr(b, "Env.1"), "TOKEN=***");
	char *text = json_dumps(b, 0);
	PW_CHECK(text && !strstr(text, "s3cr3t"));
	free(text);
	json_decref(b);
	pw_map_free(env);
}

PW_TEST(docker_build_query_and_tag)
{
	char *tag = pw__docker_build_tag("20261128-1200-ab12", "Build Image!");
	PW_CHECK_STR(tag, "pipewright/20261128-1200-ab12-build-image:latest");
	PW_CHECK(pw__docker_image_ref_valid(tag));
	free(tag);
	tag = pw__docker_build_tag("", "--");
	PW_CHECK_STR(tag, "pipewright/step:latest");
	free(tag);
	pw_step *s = step_with("{\"dockerfile\":\"Dockerfile\",\"build_args\":{\"VERSION\":\"1 2\",\"N\":3},"
	                       "\"pull\":\"always\",\"network\":\"none\"}");
	pw_docker_config cfg;
	pw__docker_config_read(&cfg, s);
	char *q = pw__docker_build_query(&cfg, "pipewright/r-s:latest", "sub/Dockerfile", "r", "s");
	PW_CHECK_CONTAINS(q, "t=pipewright%2Fr-s%3Alatest");
	PW_CHECK_CONTAINS(q, "dockerfile=sub%2FDockerfile");
	PW_CHECK_CONTAINS(q, "pull=1");
	PW_CHECK_CONTAINS(q, "networkmode=none");
	PW_CHECK_CONTAINS(q, "buildargs=%7B%22VERSION%22%3A%221%202%22%2C%22N%22%3A%223%22%7D");
	PW_CHECK_CONTAINS(q, "labels=");
	free(q);
	pw_step_free(s);
}

typedef struct collected {
	char out[256];
	char err[256];
	size_t out_len, err_len;
	int calls;
} collected;

static void collect(int stream, const char *data, size_t len, void *payload)
{
	collected *c = payload;
	c->calls++;
	if (stream == 2) {
		memcpy(c->err + c->err_len, data, len);
		c->err_len += len;
	} else {
		memcpy(c->out + c->out_len, data, len);
		c->out_len += len;
	}
}

static size_t frame(unsigned char *buf, int stream, const char *text)
{
	size_t n = strlen(text);
	buf[0] = (unsigned char)stream;
	buf[1] = buf[2] = buf[3] = 0;
	buf[4] = (unsigned char)(n >> 24);
	buf[5] = (unsigned char)(n >> 16);
	buf[6] = (unsigned char)(n >> 8);
	buf[7] = (unsigned char)n;
	memcpy(buf + 8, text, n);
	return n + 8;
}

PW_TEST(docker_demux_frames_split_anywhere)
{
	unsigned char stream[512];
	size_t n = 0;
	n += frame(stream + n, 1, "hello ");
	n += frame(stream + n, 2, "oops\n");
	n += frame(stream + n, 1, "world\n");
	n += frame(stream + n, 1, "");
	n += frame(stream + n, 2, "again");
	/* every chunk size, including one byte at a time */
	for (size_t chunk = 1; chunk <= n; chunk++) {
		collected c;
		memset(&c, 0, sizeof(c));
		pw_docker_demux d;
		pw__docker_demux_init(&d, collect, &c);
		for (size_t off = 0; off < n; off += chunk)
			pw__docker_demux_feed(&d, (const char *)stream + off,
			                      off + chunk <= n ? chunk : n - off);
		if (c.out_len != 12 || memcmp(c.out, "hello world\n", 12) != 0 || c.err_len != 10 ||
		    memcmp(c.err, "oops\nagain", 10) != 0 || pw__docker_demux_incomplete(&d)) {
			fprintf(stderr, "  chunk %zu: out '%.*s' err '%.*s'\n", chunk, (int)c.out_len, c.out,
			        (int)c.err_len, c.err);
			pwt_failed_checks++;
		}
	}
	/* a frame cut short is reported */
	collected c;
	memset(&c, 0, sizeof(c));
	pw_docker_demux d;
	pw__docker_demux_init(&d, collect, &c);
	pw__docker_demux_feed(&d, (const char *)stream, 10);
	PW_CHECK(pw__docker_demux_incomplete(&d));
	/* unframed output (a TTY) passes through as stdout */
	memset(&c, 0, sizeof(c));
	pw__docker_demux_init(&d, collect, &c);
	pw__docker_demux_feed(&d, "pl", 2);
	pw__docker_demux_feed(&d, "ain text\n", 9);
	PW_CHECK(c.out_len == 11 && !memcmp(c.out, "plain text\n", 11) && c.err_len == 0);
}

PW_TEST(docker_dockerignore_patterns)
{
	pw_docker_ignore ig;
	PW_REQUIRE(pw__docker_ignore_parse(
	               &ig, "# comment\n\n*.log\n/build\n!build/keep.txt\n**/node_modules\n"
	                    "docs/*.md\n!docs/README.md\n./tmp/\nsecret?.key\n[abc].bin\n") == 0);
	PW_CHECK(pw__docker_ignore_match(&ig, "x.log"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "sub/x.log")); /* * does not cross '/' */
	PW_CHECK(pw__docker_ignore_match(&ig, "build"));
	PW_CHECK(pw__docker_ignore_match(&ig, "build/out.o"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "build/keep.txt"));
	PW_CHECK(pw__docker_ignore_match(&ig, "node_modules"));
	PW_CHECK(pw__docker_ignore_match(&ig, "a/b/node_modules/x/y.js"));
	PW_CHECK(pw__docker_ignore_match(&ig, "docs/guide.md"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "docs/README.md"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "docs/sub/guide.md"));
	PW_CHECK(pw__docker_ignore_match(&ig, "tmp/a"));
	PW_CHECK(pw__docker_ignore_match(&ig, "secret1.key"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "secret12.key"));
	PW_CHECK(pw__docker_ignore_match(&ig, "b.bin"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "d.bin"));
	PW_CHECK(!pw__docker_ignore_match(&ig, "src/main.c"));
	PW_CHECK(ig.has_negation);
	pw__docker_ignore_dispose(&ig);
	PW_CHECK(pw__docker_glob("**/*.c", "main.c"));
	PW_CHECK(pw__docker_glob("**/*.c", "a/b/main.c"));
	PW_CHECK(pw__docker_glob("a/**/z", "a/z"));
	PW_CHECK(pw__docker_glob("a/**/z", "a/b/c/z"));
	PW_CHECK(!pw__docker_glob("a/**/z", "b/z"));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Names in a tar file, '\n'-separated, in archive order. */
static void tar_names(char *out, size_t size, FILE *f)
{
	out[0] = '\0';
	rewind(f);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fileno(f), 10240) != ARCHIVE_OK) {
		archive_read_free(a);
		return;
	}
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		size_t n = strlen(out);
		snprintf(out + n, size - n, "%s\n", archive_entry_pathname(e));
	}
	archive_read_free(a);
}

PW_TEST(docker_context_tar_honours_dockerignore)
{
	char dir[] = "/tmp/pw-docker-ctx-XXXXXX";
	PW_REQUIRE(mkdtemp(dir));
	char p[512];
	snprintf(p, sizeof(p), "%s/Dockerfile", dir);
	write_file(p, "FROM scratch\n");
	snprintf(p, sizeof(p), "%s/.dockerignore", dir);
	write_file(p, "*.log\nsecret/\nDockerfile\n");
	snprintf(p, sizeof(p), "%s/app.c", dir);
	write_file(p, "int main;\n");
	snprintf(p, sizeof(p), "%s/debug.log", dir);
	write_file(p, "x\n");
	snprintf(p, sizeof(p), "%s/secret", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/secret/key", dir);
	write_file(p, "k\n");
	snprintf(p, sizeof(p), "%s/lib", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/lib/a.h", dir);
	write_file(p, "h\n");
	FILE *f = tmpfile();
	char *df = NULL, df_path[512];
	size_t files = 0;
	pw_error *e = NULL;
	snprintf(df_path, sizeof(df_path), "%s/Dockerfile", dir);
	PW_REQUIRE(pw__docker_context_tar(f, dir, df_path, &df, &files, &e) == 0);
	PW_CHECK_STR(df, "Dockerfile");
	char names[2048];
	tar_names(names, sizeof(names), f);
	/* sorted; the Dockerfile and .dockerignore are always sent */
	PW_CHECK_STR(names, ".dockerignore\nDockerfile\napp.c\nlib/\nlib/a.h\n");
	PW_CHECK_INT(files, 5);
	free(df);
	fclose(f);
	/* a Dockerfile outside the context is added under its own name */
	char dir2[] = "/tmp/pw-docker-ctx2-XXXXXX";
	PW_REQUIRE(mkdtemp(dir2));
	f = tmpfile();
	PW_REQUIRE(pw__docker_context_tar(f, dir2, df_path, &df, &files, &e) == 0);
	PW_CHECK_STR(df, ".pipewright.Dockerfile");
	tar_names(names, sizeof(names), f);
	PW_CHECK_STR(names, ".pipewright.Dockerfile\n");
	free(df);
	fclose(f);
	/* a missing context names its key */
	f = tmpfile();
	PW_CHECK(pw__docker_context_tar(f, "/nonexistent/ctx", df_path, &df, &files, &e) == PW_ECONFIG);
	PW_CHECK_STR(e ? pw_error_key(e) : NULL, "build_context");
	pw_error_free(e);
	fclose(f);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, dir2);
	PW_CHECK(system(cmd) == 0);
}

static const char *fake_env_values[16];
static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; fake_env_values[i]; i += 2)
		if (!strcmp(fake_env_values[i], name))
			return fake_env_values[i + 1];
	return NULL;
}

PW_TEST(docker_engine_discovery_order)
{
	pw_docker_endpoint eps[6];
	memset(fake_env_values, 0, sizeof(fake_env_values));
	fake_env_values[0] = "XDG_RUNTIME_DIR";
	fake_env_values[1] = "/run/user/1000";
	fake_env_values[2] = "HOME";
	fake_env_values[3] = "/home/u";
	size_t n = pw__docker_candidates(eps, 6, NULL, fake_getenv);
	PW_CHECK_INT(n, 3);
	PW_CHECK_STR(eps[0].socket, "/var/run/docker.sock");
	PW_CHECK_STR(eps[1].socket, "/run/user/1000/podman/podman.sock");
	PW_CHECK_STR(eps[2].socket, "/run/podman/podman.sock");
	PW_CHECK_STR(eps[0].base, "http://localhost");
	/* DOCKER_HOST alone, with TLS */
	fake_env_values[4] = "DOCKER_HOST";
	fake_env_values[5] = "tcp://build.example:2376";
	fake_env_values[6] = "DOCKER_TLS_VERIFY";
	fake_env_values[7] = "1";
	n = pw__docker_candidates(eps, 6, NULL, fake_getenv);
	PW_CHECK_INT(n, 1);
	PW_CHECK_STR(eps[0].base, "https://build.example:2376");
	PW_CHECK(eps[0].tls);
	PW_CHECK_STR(eps[0].cert_dir, "/home/u/.docker");
	PW_CHECK_STR(eps[0].origin, "DOCKER_HOST");
	/* the step's host wins */
	n = pw__docker_candidates(eps, 6, "unix:///tmp/x.sock", fake_getenv);
	PW_CHECK_INT(n, 1);
	PW_CHECK_STR(eps[0].socket, "/tmp/x.sock");
	pw_error *e = NULL;
	PW_CHECK(pw__docker_endpoint_parse(&eps[0], "ssh://x", 0, NULL, "t", &e) < 0);
	pw_error_free(e);
}

static char *unb64url(const char *in)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = calloc(1, strlen(in) + 1);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (const char *p = in; *p && *p != '='; p++) {
		const char *q = strchr(a, *p);
		if (!q)
			break;
		acc = (acc << 6) | (unsigned)(q - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return out;
}

PW_TEST(docker_registry_auth_header)
{
	/* "robot:pa55/word+?" in standard base64 */
	const char *cfg =
	    "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"cm9ib3Q6cGE1NS93b3JkKz8=\"},"
	    "\"ghcr.io\":{\"identitytoken\":\"tok-123456\"}}}";
	char *h = NULL, *secret = NULL;
	PW_REQUIRE(pw__docker_registry_auth(&h, &secret, cfg, "docker.io") == 0 && h);
	PW_CHECK(strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=") == strlen(h));
	char *json = unb64url(h);
	PW_CHECK_STR(json,
	             "{\"password\":\"pa55/word+?\",\"serveraddress\":\"docker.io\",\"username\":\"robot\"}");
	PW_CHECK_STR(secret, "pa55/word+?");
	free(json);
	free(h);
	free(secret);
	PW_REQUIRE(pw__docker_registry_auth(&h, &secret, cfg, "ghcr.io") == 0 && h);
	json = unb64url(h);
	PW_CHECK_STR(json, "{\"identitytoken\":\"tok-123456\",\"serveraddress\":\"ghcr.io\"}");
	free(json);
	free(h);
	free(secret);
	PW_CHECK(pw__docker_registry_auth(&h, &secret, cfg, "quay.io") == 0 && h == NULL && secret == NULL);
	PW_CHECK(pw__docker_registry_auth(&h, NULL, NULL, "quay.io") == 0 && h == NULL);
}

/* credsStore / credHelpers: the secret comes from docker-credential-NAME get (a program on
 * PATH speaking the docker-credential-helpers protocol), as Docker Desktop and the ECR, GCR
 * and pass helpers store it. */
PW_TEST(docker_registry_auth_from_credential_helpers)
{
	char dir[] = "/tmp/pw-credhelper-XXXXXX";
	PW_REQUIRE(mkdtemp(dir) != NULL);
	char prog[256];
	snprintf(prog, sizeof(prog), "%s/docker-credential-pwtest", dir);
	FILE *f = fopen(prog, "w");
	PW_REQUIRE(f);
	fputs(
	    "#!/bin/sh\n"
	    "read -r server\n"
	    "case \"$1:$server\" in\n"
	    "get:registry.example.com) echo '{\"ServerURL\":\"registry.example.com\",\"Username\":\"ci-bot\","
	    "\"Secret\":\"helper-s3cret\"}';;\n"
	    "get:https://index.docker.io/v1/) echo '{\"ServerURL\":\"https://index.docker.io/v1/\","
	    "\"Username\":\"<token>\",\"Secret\":\"hub-token-42\"}';;\n"
	    "*) echo 'credentials not found in native keychain'; exit 1;;\n"
	    "esac\n",
	    f);
	fclose(f);
	PW_REQUIRE(chmod(prog, 0755) == 0);
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	char path[4096];
	snprintf(path, sizeof(path), "%s:%s", dir, old ? old : "/usr/bin:/bin");
	setenv("PATH", path, 1);

	const char *cfg = "{\"auths\":{\"https://index.docker.io/v1/\":{}},\"credsStore\":\"pwtest\","
	                  "\"credHelpers\":{\"other.example.com\":\"not-installed\"}}";
	char *h = NULL, *secret = NULL;
	PW_REQUIRE(pw__docker_registry_auth(&h, &secret, cfg, "registry.example.com") == 0 && h);
	char *json = unb64url(h);
	PW_CHECK_STR(json, "{\"password\":\"helper-s3cret\",\"serveraddress\":\"registry.example.com\","
	                   "\"username\":\"ci-bot\"}");
	PW_CHECK_STR(secret, "helper-s3cret"); /* masked in the step's output */
	free(json);
	free(h);
	free(secret);
	/* Docker Hub is asked for by its legacy address; "<token>" means an identity token */
	PW_REQUIRE(pw__docker_registry_auth(&h, &secret, cfg, "docker.io") == 0 && h);
	json = unb64url(h);
	PW_CHECK_STR(json, "{\"identitytoken\":\"hub-token-42\",\"serveraddress\":\"docker.io\"}");
	free(json);
	free(h);
	free(secret);
	/* nothing stored, or a helper that is not installed: pull without credentials */
	PW_CHECK(pw__docker_registry_auth(&h, &secret, cfg, "unknown.example.com") == 0 && !h && !secret);
	PW_CHECK(pw__docker_registry_auth(&h, &secret, cfg, "other.example.com") == 0 && !h && !secret);

	if (saved) {
		setenv("PATH", saved, 1);
		free(saved);
	}
	unlink(prog);
	rmdir(dir);
}

PW_TEST(docker_engine_version_negotiation)
{
	pw_docker_engine_info info;
	PW_CHECK(pw__docker_parse_ping(&info, "1.41", "4.3.1", "Libpod/4.3.1 (linux)") == 0);
	PW_CHECK(info.podman);
	PW_CHECK_STR(info.name, "Podman Engine");
	PW_CHECK_STR(info.version, "4.3.1");
	PW_CHECK_STR(info.api_version, "1.41");
	PW_CHECK(pw__docker_parse_ping(&info, "1.44", "", "Docker/25.0.3 (linux)") == 0);
	PW_CHECK(!info.podman);
	PW_CHECK_STR(info.version, "25.0.3");
	PW_CHECK_STR(info.api_version, "1.41"); /* we speak 1.41 to newer engines */
	PW_CHECK(pw__docker_parse_ping(&info, "1.40", "", "Docker/19.03.1 (linux)") == 0);
	PW_CHECK_STR(info.api_version, "1.40"); /* and their own version to older ones */
	PW_CHECK(pw__docker_parse_ping(&info, "", "", "") < 0);
	pw_error *e = NULL;
	PW_CHECK(pw__docker_parse_version(
	             &info,
	             "{\"Platform\":{\"Name\":\"linux/amd64/debian-12\"},\"Components\":[{\"Name\":"
	             "\"Podman Engine\",\"Version\":\"4.3.1\"}],\"Version\":\"4.3.1\",\"ApiVersion\":"
	             "\"1.41\"}",
	             &e) == 0);
	PW_CHECK(info.podman);
	PW_CHECK(pw__docker_parse_version(&info, "{\"Version\":\"24.0.7\",\"ApiVersion\":\"1.43\"}", &e) ==
	         0);
	PW_CHECK(!info.podman);
	PW_CHECK_STR(info.name, "Docker Engine");
	PW_CHECK(pw__docker_parse_version(&info, "not json", &e) == PW_EEXTERNAL);
	pw_error_free(e);
}

PW_TEST(docker_build_stream_failure)
{
	pw_docker_build_state st;
	memset(&st, 0, sizeof(st));
	pw_buf log = PW_BUF_INIT(0);
	const char *lines[] = {
	    "{\"stream\":\"Step 1/3 : FROM scratch\\n\"}", "{\"stream\":\"STEP 2/3: RUN false\\n\"}",
	    "{\"error\":\"error building at STEP \\\"RUN false\\\": exit status 1\",\"errorDetail\":{"
	    "\"message\":\"error building at STEP \\\"RUN false\\\": exit status 1\"}}"};
	for (size_t i = 0; i < 3; i++)
		pw__docker_build_line(&st, lines[i], strlen(lines[i]), &log);
	PW_CHECK(st.failed);
	PW_CHECK_STR(st.last_step, "STEP 2/3: RUN false");
	PW_CHECK_CONTAINS(st.error, "exit status 1");
	PW_CHECK_CONTAINS(pw__buf_cstr(&log), "Step 1/3 : FROM scratch\n");
	pw__buf_dispose(&log);
	memset(&st, 0, sizeof(st));
	const char *ok = "{\"aux\":{\"ID\":\"sha256:abc\"}}";
	pw__docker_build_line(&st, ok, strlen(ok), &log);
	PW_CHECK_STR(st.image_id, "sha256:abc");
	PW_CHECK(!st.failed);
	pw__buf_dispose(&log);
}

/* Requests the connector makes, as the spec checker reads them. */
static void add_request(FILE *f, const char *method, const char *path, json_t *body)
{
	json_t *line = json_object();
	json_object_set_new(line, "method", json_string(method));
	json_object_set_new(line, "path", json_string(path));
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_object_set_new(line, "body", b ? json_string(b) : json_null());
	free(b);
	char *text = json_dumps(line, JSON_COMPACT);
	fprintf(f, "%s\n", text);
	free(text);
	json_decref(line);
}

PW_TEST(docker_requests_match_the_v1_41_spec)
{
	const char *src = getenv("PW_SOURCE_DIR");
	PW_REQUIRE(src);
	char jsonl[] = "/tmp/pw-docker-requests-XXXXXX";
	int fd = mkstemp(jsonl);
	PW_REQUIRE(fd >= 0);
	FILE *f = fdopen(fd, "w");
	pw_map *env = pw_map_new();
	pw_map_set(env, "A", "1");
	json_t *b = create_body(
	    "{\"image\":\"alpine\",\"command\":\"true\",\"entrypoint\":[\"/bin/sh\"],\"user\":\"1\","
	    "\"volumes\":[\"./c:/c:ro\"],\"network\":\"none\",\"cpus\":2,\"memory\":\"1g\","
	    "\"shm_size\":\"64m\",\"environment\":{\"B\":2}}",
	    env, 0);
	add_request(f, "POST", "/v1.41/containers/create?name=pipewright-r-s-1-1", b);
	json_decref(b);
	pw_step *s = step_with(
	    "{\"dockerfile\":\"D\",\"build_args\":{\"V\":\"1\"},\"pull\":\"always\",\"network\":\"none\"}");
	pw_docker_config cfg;
	pw__docker_config_read(&cfg, s);
	char *q = pw__docker_build_query(&cfg, "pipewright/r-s:latest", "D", "r", "s");
	char path[4096];
	snprintf(path, sizeof(path), "/v1.41/build?%s", q);
	add_request(f, "POST", path, NULL);
	free(q);
	pw_step_free(s);
	pw_map_free(env);
	fclose(f);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "python3 '%s/tests/docker/spec_check.py' '%s/tests/docker/spec/v1.41.yaml' '%s'", src, src,
	         jsonl);
	PW_CHECK(system(cmd) == 0);
	unlink(jsonl);
}

PW_TEST(docker_engine_not_running_names_places)
{
	pw_manager *m = NULL;
	PW_REQUIRE(pw_manager_new(&m, NULL, NULL) == 0);
	pw_step *s = step_with("{\"image\":\"alpine\",\"host\":\"unix:///tmp/pw-no-such-engine.sock\"}");
	pw_step_set_timeout(s, 10);
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, "/tmp", NULL, NULL, NULL) == 0);
	pw_result *r = NULL;
	pw_error *e = NULL;
	int rc = pw_manager_execute_step(&r, m, s, ws, NULL, NULL, &e);
	PW_CHECK_INT(rc, PW_EEXTERNAL);
	PW_CHECK(r == NULL);
	PW_REQUIRE(e);
	PW_CHECK_CONTAINS(pw_error_message(e), "no container engine is running");
	PW_CHECK_CONTAINS(pw_error_message(e),
	                  "connect(\"/tmp/pw-no-such-engine.sock\"): No such file or directory");
	PW_CHECK_CONTAINS(pw_error_hint(e), "podman system service");
	PW_CHECK_STR(pw_error_key(e), "host");
	pw_error_free(e);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST_MAIN()
