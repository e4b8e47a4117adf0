/* The GitHub connector end to end against tests/github/fake_github.py (a local API host and a
 * separate upload host, every request checked against api.github.com.json): releases with
 * assets (drafts, publish last, on_exists, overwrite, reset and 5xx uploads, a parallel run's
 * draft, 422 already_exists), pagination, rate limits, statuses, deployments, comments,
 * workflow dispatch, GHES URLs, validation and plans; the token appears nowhere. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connectors/git/github.h"
#include "fake_server.h"
#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/connector.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/secrets.h"
#include "pwtest.h"

#define TOKEN "ghp_testtoken0123456789abcdefXYZ"

static struct {
	pw_fake_server fake;
	int api_port, up_port;
	char base[64], uploads[64];
	char dir[64];
	pw_http_pool *pool;
} srv;

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", srv.dir, name);
	char *slash = strrchr(p, '/');
	if (slash && slash > p + strlen(srv.dir)) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int server_start(void)
{
	if (srv.fake.pid)
		return 0;
	const char *src = getenv("PW_SOURCE_DIR");
	char spec[1024], pub[1024];
	/* the official description, kept gzipped in tests/specs (PW_SPECS_DIR: another copy) */
	const char *specdir = getenv("PW_SPECS_DIR");
	if (specdir)
		snprintf(spec, sizeof(spec), "%s/github/api.github.com.json", specdir);
	else
		snprintf(spec, sizeof(spec), "%s/tests/specs/github/api.github.com.json.gz", src ? src : ".");
	snprintf(pub, sizeof(pub), "%s/tests/auth/test_rsa_pub.pem", src ? src : ".");
	const char *const args[] = {"--spec",           spec, "--token", TOKEN, "--app-id", "4242",
	                            "--app-public-key", pub,  NULL};
	const char *const names[] = {"API", "UPLOADS", NULL};
	if (pw_test_dir(srv.dir, sizeof(srv.dir), "pw-gh") < 0 ||
	    pw_fake_server_start(&srv.fake, "tests/github/fake_github.py", args, names, "READY") < 0)
		return -1;
	srv.api_port = srv.fake.port[0];
	srv.up_port = srv.fake.port[1];
	snprintf(srv.base, sizeof(srv.base), "%s", srv.fake.base);
	snprintf(srv.uploads, sizeof(srv.uploads), "http://127.0.0.1:%d", srv.up_port);
	srv.pool = srv.fake.pool;
	return 0;
}

static json_t *control(const char *path, const char *body)
{
	return pw_fake_server_control(&srv.fake, path, body);
}

static void reset(void)
{
	if (server_start() != 0) {
		fprintf(stderr, "the fake GitHub server did not start\n");
		exit(1);
	}
	json_decref(control("/_test/reset", "{}"));
}

/* How many strings of the array `list` in st contain needle. */
static int count_in(json_t *st, const char *list, const char *needle)
{
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(json_object_get(st, list), i, x)
	{
		const char *s = json_string_value(x);
		if (s && strstr(s, needle))
			n++;
	}
	return n;
}

typedef struct run {
	int rc;
	pw_result *r;
	pw_error *e;
	pthread_mutex_t lock;
	pw_buf out;   /* step output */
	pw_buf log;   /* diagnostics */
	pw_buf audit; /* audit records, one a line */
	int cancel_after_ms;
	pw_exec *ex;
} run;

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	run *x = payload;
	pthread_mutex_lock(&x->lock);
	pw__buf_append(&x->out, data, len);
	pthread_mutex_unlock(&x->lock);
}

static void on_log(const pw_log_record *rec, void *payload)
{
	run *x = payload;
	pthread_mutex_lock(&x->lock);
	pw__buf_printf(&x->log, "%s: %s\n", rec->component ? rec->component : "", rec->message);
	pthread_mutex_unlock(&x->lock);
}

static void on_audit(const char *json, void *payload)
{
	run *x = payload;
	pthread_mutex_lock(&x->lock);
	pw__buf_printf(&x->audit, "%s\n", json);
	pthread_mutex_unlock(&x->lock);
}

static void *canceller(void *arg)
{
	run *x = arg;
	usleep((useconds_t)x->cancel_after_ms * 1000);
	pw_exec_cancel(x->ex, PW_CANCEL_USER);
	return NULL;
}

/* Other values that must not appear (NULL-terminated), set by a case. */
static const char *also_secret[4];

static void check_absent(run *x, const char *s)
{
	PW_CHECK(!strstr(pw__buf_cstr(&x->out), s));
	PW_CHECK(!strstr(pw__buf_cstr(&x->log), s));
	PW_CHECK(!strstr(pw__buf_cstr(&x->audit), s));
	if (x->r) {
		PW_CHECK(!strstr(pw_result_stdout(x->r), s));
		PW_CHECK(!strstr(pw_result_stderr(x->r), s));
		const pw_map *m = pw_result_metadata_const(x->r);
		for (size_t i = 0; i < pw_map_count(m); i++)
			PW_CHECK(!strstr(pw_map_value_at(m, i), s));
	}
	if (x->e) {
		char *t = pw_error_format(x->e, 0);
		PW_CHECK(t && !strstr(t, s));
		pw_free(t);
	}
}

/* The token is in none of what the step produced. */
static void check_no_token(run *x)
{
	for (size_t i = 0; also_secret[i]; i++)
		check_absent(x, also_secret[i]);
	PW_CHECK(!strstr(pw__buf_cstr(&x->out), TOKEN));
	PW_CHECK(!strstr(pw__buf_cstr(&x->log), TOKEN));
	PW_CHECK(!strstr(pw__buf_cstr(&x->audit), TOKEN));
	if (x->r) {
		PW_CHECK(!strstr(pw_result_stdout(x->r), TOKEN));
		PW_CHECK(!strstr(pw_result_stderr(x->r), TOKEN));
		const pw_map *m = pw_result_metadata_const(x->r);
		for (size_t i = 0; i < pw_map_count(m); i++)
			PW_CHECK(!strstr(pw_map_value_at(m, i), TOKEN));
	}
	if (x->e) {
		char *t = pw_error_format(x->e, 0);
		PW_CHECK(t && !strstr(t, TOKEN));
		pw_free(t);
	}
}

/* Runs one github step named "release" with config (base_url and upload host filled in unless
 * the config names them) and GITHUB_TOKEN = token (NULL: TOKEN) in its environment. */
/* When set, steps run through this manager (its connector and token cache) instead of their own. */
static pw_manager *shared_mgr;
/* When set, the next run_step cancels its step after this many ms. */
static int next_cancel_ms;

static void run_step(run *x, const char *config, const char *token, const pw_map *extra_env, double timeout)
{
	memset(x, 0, sizeof(*x));
	x->cancel_after_ms = next_cancel_ms;
	next_cancel_ms = 0;
	pthread_mutex_init(&x->lock, NULL);
	pw_manager *m = shared_mgr;
	if (!m)
		pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "release", "github");
	pw_buf cfg = PW_BUF_INIT(0);
	if (strstr(config, "\"base_url\""))
		pw__buf_puts(&cfg, config);
	else
		pw__buf_printf(&cfg, "{\"base_url\":\"%s\",%s", srv.base, config + 1);
	pw_error *ce = NULL;
	if (pw_step_set_config_json(s, pw__buf_cstr(&cfg), &ce) < 0)
		fprintf(stderr, "  config: %s\n", pw_error_message(ce));
	pw_error_free(ce);
	pw__buf_dispose(&cfg);
	pw_step_set_timeout(s, timeout);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, srv.dir, "20261128-gh-run", NULL, NULL);
	pw_secrets *sec = NULL;
	pw_secrets_new(&sec);
	pw_map *env = extra_env ? pw_map_dup(extra_env) : pw_map_new();
	pw_map_set(env, "GITHUB_TOKEN", token ? token : TOKEN);
	pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
	eo.run_id = "20261128-gh-run";
	eo.step_name = "release";
	eo.timeout_seconds = timeout;
	eo.secrets = sec;
	eo.on_output = on_output;
	eo.output_payload = x;
	eo.on_log = on_log;
	eo.log_payload = x;
	eo.log_level = PW_LOG_TRACE;
	eo.on_audit = on_audit;
	eo.audit_payload = x;
	pw_exec_new(&x->ex, &eo, NULL);
	pthread_t t;
	if (x->cancel_after_ms > 0)
		pthread_create(&t, NULL, canceller, x);
	x->rc = pw_manager_execute_step(&x->r, m, s, ws, env, x->ex, &x->e);
	if (x->cancel_after_ms > 0)
		pthread_join(t, NULL);
	pw_exec_free(x->ex);
	x->ex = NULL;
	pw_map_free(env);
	pw_secrets_free(sec);
	pw_workspace_free(ws);
	pw_step_free(s);
	if (m != shared_mgr)
		pw_manager_free(m);
	if (x->e && getenv("PW_TEST_VERBOSE"))
		fprintf(stderr, "  (step error: %s%s%s)\n", pw_error_message(x->e),
		        pw_error_hint(x->e) ? " / hint: " : "",
		        pw_error_hint(x->e) ? pw_error_hint(x->e) : "");
	check_no_token(x);
}

static void run_dispose(run *x)
{
	pw_result_free(x->r);
	pw_error_free(x->e);
	pw__buf_dispose(&x->out);
	pw__buf_dispose(&x->log);
	pw__buf_dispose(&x->audit);
	pthread_mutex_destroy(&x->lock);
}

static const char *meta(run *x, const char *key)
{
	return x->r ? pw_map_get(pw_result_metadata_const(x->r), key) : NULL;
}

/* Every request of the case matched the spec. */
static void check_spec_clean(json_t *st)
{
	PW_CHECK_INT(json_array_size(json_object_get(st, "spec_errors")), 0);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(st, "spec_errors"), i, e)
	    fprintf(stderr, "  spec: %s\n", json_string_value(e));
	PW_CHECK_INT(json_integer_value(json_object_get(st, "auth_failures")), 0);
}

/* The releases with a tag in the server's state. */
static int releases_with_tag(json_t *st, const char *tag, json_t **last)
{
	int n = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(st, "releases"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "tag_name")), tag) == 0) {
			n++;
			if (last)
				*last = r;
		}
	}
	return n;
}

static json_t *asset_named(json_t *st, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(st, "assets"), i,
	                   a) if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0) return a;
	return NULL;
}

static void make_dist(void)
{
	put("dist/app-linux.tar.gz", "tarball-bytes-0123456789");
	put("dist/app-windows.zip", "zip-bytes-abcdef");
	put("NOTES.md", "## What's new\n- everything\n");
}

PW_TEST(release_with_assets_published_last)
{
	reset();
	make_dist();
	run x;
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v1.0.0\",\"name\":\"Release "
	         "v1.0.0\",\"body_file\":\"NOTES.md\",\"make_latest\":true,\"assets\":[\"dist/*\"]}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	json_t *rel = NULL;
	PW_CHECK_INT(releases_with_tag(st, "v1.0.0", &rel), 1);
	PW_REQUIRE(rel);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	PW_CHECK_STR(json_string_value(json_object_get(rel, "name")), "Release v1.0.0");
	PW_CHECK_STR(json_string_value(json_object_get(rel, "body")), "## What's new\n- everything\n");
	/* created as a draft, published once both assets were uploaded */
	PW_CHECK_INT(count_in(st, "requests", "POST /repos/octo/app/releases"), 1);
	json_t *pub = json_array_get(json_object_get(st, "published"), 0);
	PW_REQUIRE(pub);
	PW_CHECK_INT(json_array_size(json_object_get(pub, "assets_at_publish")), 2);
	PW_CHECK_STR(json_string_value(json_object_get(pub, "make_latest")), "true");
	json_t *a = asset_named(st, "app-linux.tar.gz");
	PW_REQUIRE(a);
	PW_CHECK_STR(json_string_value(json_object_get(a, "state")), "uploaded");
	PW_CHECK_STR(json_string_value(json_object_get(a, "content_type")), "application/gzip");
	PW_CHECK_INT(json_integer_value(json_object_get(a, "size")), 24);
	a = asset_named(st, "app-windows.zip");
	PW_REQUIRE(a);
	PW_CHECK_STR(json_string_value(json_object_get(a, "content_type")), "application/zip");
	json_t *up = json_array_get(json_object_get(st, "uploads"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(up, "content")), "tarball-bytes-0123456789");
	/* uploads went to the upload host named by the release's upload_url */
	PW_CHECK_INT(count_in(st, "requests", "POST uploads:/repos/octo/app/releases/"), 2);
	/* result metadata and outputs */
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(rel, "id")));
	PW_CHECK_STR(meta(&x, "release_id"), id);
	PW_CHECK_STR(meta(&x, "html_url"), "https://github.example/octo/app/releases/tag/v1.0.0");
	PW_CHECK_CONTAINS(meta(&x, "asset_urls"), "/releases/download/v1.0.0/app-linux.tar.gz");
	PW_CHECK_CONTAINS(meta(&x, "asset_urls"), "/releases/download/v1.0.0/app-windows.zip");
	PW_CHECK_STR(meta(&x, "draft"), "false");
	/* every mutation audited */
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"github.create-release\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"github.publish-release\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "release");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "uploaded app-linux.tar.gz (24 bytes, application/gzip)");
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out),
	                  "published https://github.example/octo/app/releases/tag/v1.0.0");
	json_decref(st);
	run_dispose(&x);

	/* the same step again: the release exists; on_exists defaults to fail */
	run_step(&x, "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v1.0.0\"}", NULL,
	         NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXISTS);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "a release for tag 'v1.0.0' already exists");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "on_exists");
	run_dispose(&x);

	/* skip: success, nothing changed */
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v1.0.0\",\"on_exists\":\"skip\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(meta(&x, "skipped"), "true");
	PW_CHECK_STR(meta(&x, "release_id"), id);
	st = control("/_test/state", NULL);
	PW_CHECK_INT(count_in(st, "requests", "POST /repos/octo/app/releases"), 1);
	PW_CHECK_INT(count_in(st, "requests", "PATCH"), 1);
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(existing_draft_is_found_and_finished)
{
	reset();
	make_dist();
	/* a draft left by an interrupted run, with an asset whose upload was cut */
	json_decref(
	    control("/_test/seed",
	            "{\"releases\":[{\"tag_name\":\"v2.0.0\",\"draft\":true,"
	            "\"assets\":[{\"name\":\"app-linux.tar.gz\",\"state\":\"starter\",\"size\":0}]}]}"));
	run x;
	run_step(&x, "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v2.0.0\"}", NULL,
	         NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXISTS);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "draft release for tag 'v2.0.0'");
	run_dispose(&x);

	run_step(
	    &x,
	    "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v2.0.0\",\"on_exists\":"
	    "\"update\",\"body\":\"second try\",\"assets\":[\"dist/app-linux.tar.gz\"]}",
	    NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	json_t *rel = NULL;
	PW_CHECK_INT(releases_with_tag(st, "v2.0.0", &rel), 1);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	PW_CHECK_STR(json_string_value(json_object_get(rel, "body")), "second try");
	PW_CHECK_INT(count_in(st, "requests", "POST /repos/octo/app/releases"), 0);
	/* the tag endpoint does not show drafts: the list found it */
	/* (once by each of the two runs) */
	PW_CHECK_INT(count_in(st, "requests", "GET /repos/octo/app/releases/tags/v2.0.0"), 2);
	PW_CHECK_INT(count_in(st, "requests", "GET /repos/octo/app/releases?per_page=100"), 2);
	PW_CHECK_INT(count_in(st, "deleted_assets", "app-linux.tar.gz"), 1);
	json_t *a = asset_named(st, "app-linux.tar.gz");
	PW_CHECK_STR(json_string_value(json_object_get(a, "state")), "uploaded");
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(overwrite_replaces_a_same_named_asset)
{
	reset();
	make_dist();
	json_decref(control("/_test/seed",
	                    "{\"releases\":[{\"tag_name\":\"v3\",\"assets\":[{\"name\":\"app-linux.tar.gz\","
	                    "\"size\":5}]}]}"));
	const char *cfg =
	    "{\"action\":\"upload-asset\",\"repository\":\"octo/app\",\"tag\":\"v3\",\"assets\":[\"dist/"
	    "app-linux.tar.gz\"]%s}";
	char c[512];
	snprintf(c, sizeof(c), cfg, "");
	run x;
	run_step(&x, c, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXISTS);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "already has an asset named 'app-linux.tar.gz'");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "overwrite: true");
	run_dispose(&x);
	snprintf(c, sizeof(c), cfg, ",\"overwrite\":true");
	run_step(&x, c, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	PW_CHECK_INT(count_in(st, "deleted_assets", "app-linux.tar.gz"), 1);
	PW_CHECK_INT(json_integer_value(json_object_get(asset_named(st, "app-linux.tar.gz"), "size")), 24);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"github.delete-asset\"");
	json_decref(st);
	run_dispose(&x);

	/* upload-asset to a tag without a release */
	snprintf(c, sizeof(c),
	         "{\"action\":\"upload-asset\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v404\",\"assets\":[\"dist/*\"]}");
	run_step(&x, c, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "no release for tag 'v404'");
	run_dispose(&x);
}

PW_TEST(uploads_survive_a_reset_and_a_502)
{
	reset();
	make_dist();
	json_decref(control("/_test/faults", "{\"upload_reset\":1,\"upload_502\":1}"));
	run x;
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v4\",\"assets\":[{\"path\":\"dist/"
	         "*.zip\",\"name\":\"windows.zip\",\"label\":\"Windows build\"},\"dist/*.tar.gz\"]}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "resets")), 1);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "upload_502s")), 1);
	PW_CHECK_INT(json_array_size(json_object_get(st, "assets")), 2);
	json_t *a = asset_named(st, "windows.zip");
	PW_REQUIRE(a);
	PW_CHECK_STR(json_string_value(json_object_get(a, "state")), "uploaded");
	PW_CHECK_STR(json_string_value(json_object_get(a, "label")), "Windows build");
	PW_CHECK_INT(json_integer_value(json_object_get(a, "size")), 16);
	a = asset_named(st, "app-linux.tar.gz");
	PW_REQUIRE(a);
	PW_CHECK_STR(json_string_value(json_object_get(a, "state")), "uploaded");
	json_t *rel = NULL;
	releases_with_tag(st, "v4", &rel);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(parallel_runs_share_one_release)
{
	reset();
	make_dist();
	/* another run's draft for the same tag appears while this one creates its own */
	json_decref(control("/_test/faults", "{\"concurrent_draft\":true}"));
	run x;
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v5\",\"on_exists\":\"update\","
	         "\"assets\":[\"dist/*.zip\"]}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	json_t *rel = NULL;
	PW_CHECK_INT(releases_with_tag(st, "v5", &rel), 1);
	PW_CHECK_INT(json_integer_value(json_object_get(rel, "id")),
	             json_integer_value(json_object_get(st, "twin")));
	PW_CHECK_INT(json_array_size(json_object_get(st, "deleted_releases")), 1);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	json_decref(st);
	run_dispose(&x);

	/* another run publishes the tag between our lookup and our create: 422 already_exists */
	json_decref(control("/_test/faults", "{\"race_publish\":true}"));
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v6\",\"on_exists\":\"update\","
	         "\"assets\":[\"dist/*.zip\"]}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	st = control("/_test/state", NULL);
	check_spec_clean(st);
	PW_CHECK_INT(releases_with_tag(st, "v6", &rel), 1);
	PW_CHECK_STR(json_string_value(json_object_get(rel, "name")), "published by another run");
	PW_CHECK_INT(json_array_size(json_object_get(rel, "assets")), 1);
	json_decref(st);
	run_dispose(&x);
}

typedef struct par {
	run x;
	const char *cfg;
} par;

static void *run_in_thread(void *arg)
{
	par *p = arg;
	run_step(&p->x, p->cfg, NULL, NULL, 60);
	return NULL;
}

PW_TEST(two_steps_at_once_make_one_release)
{
	reset();
	make_dist();
	/* whatever the interleaving, both steps end on one release that holds both assets */
	par a = {
	    .cfg = "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v9\",\"on_exists\":"
	           "\"update\",\"assets\":[\"dist/*.zip\"]}"};
	par b = {
	    .cfg = "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v9\",\"on_exists\":"
	           "\"update\",\"assets\":[\"dist/*.tar.gz\"]}"};
	pthread_t ta, tb;
	PW_REQUIRE(pthread_create(&ta, NULL, run_in_thread, &a) == 0);
	PW_REQUIRE(pthread_create(&tb, NULL, run_in_thread, &b) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	PW_CHECK_INT(a.x.rc, 0);
	PW_CHECK_INT(b.x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	json_t *rel = NULL;
	PW_CHECK_INT(releases_with_tag(st, "v9", &rel), 1);
	PW_REQUIRE(rel);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	PW_CHECK_INT(json_array_size(json_object_get(rel, "assets")), 2);
	PW_CHECK_STR(meta(&a.x, "release_id"), meta(&b.x, "release_id"));
	json_decref(st);
	run_dispose(&a.x);
	run_dispose(&b.x);
}

PW_TEST(pagination_finds_an_old_draft)
{
	reset();
	json_decref(control("/_test/seed",
	                    "{\"releases\":[{\"tag_name\":\"v0.9\",\"draft\":true},{\"tag_name\":\"v1\"},"
	                    "{\"tag_name\":\"v2\"},{\"tag_name\":\"v3\"},{\"tag_name\":\"v4\"},"
	                    "{\"tag_name\":\"v5\"}]}"));
	json_decref(control("/_test/faults", "{\"page_max\":2}"));
	run x;
	run_step(&x,
	         "{\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v0.9\",\"on_exists\":\"update\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	PW_CHECK_INT(count_in(st, "requests", "page=3"), 1);
	PW_CHECK_INT(count_in(st, "requests", "POST /repos/octo/app/releases"), 0);
	json_t *rel = NULL;
	PW_CHECK_INT(releases_with_tag(st, "v0.9", &rel), 1);
	PW_CHECK(json_is_false(json_object_get(rel, "draft")));
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(next_page_on_another_origin_is_not_followed)
{
	reset();
	make_dist();
	json_decref(
	    control("/_test/seed",
	            "{\"releases\":[{\"tag_name\":\"v1\"},{\"tag_name\":\"v2\"},{\"tag_name\":\"v3\"}]}"));
	json_decref(control("/_test/faults", "{\"page_max\":1,\"foreign_next\":true}"));
	run x;
	run_step(&x,
	         "{\"action\":\"upload-asset\",\"repository\":\"octo/app\",\"tag\":\"v0\",\"assets\":[\"dist/"
	         "*.zip\"]}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "the next page is on another origin");
	json_t *st = control("/_test/state", NULL);
	/* the upload host (the other origin) heard nothing */
	PW_CHECK_INT(count_in(st, "requests", "uploads:"), 0);
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(upload_url_on_another_host_gets_no_token)
{
	reset();
	make_dist();
	json_decref(control("/_test/faults", "{\"foreign_upload\":true}"));
	run x;
	run_step(
	    &x,
	    "{\"action\":\"create-release\",\"repository\":\"octo/app\",\"tag\":\"v9\",\"assets\":[\"dist/"
	    "*.zip\"]}",
	    NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "upload_url is on 'localhost'");
	PW_CHECK_CONTAINS(x.e ? pw_error_message(x.e) : NULL, "not sending the token there");
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(count_in(st, "requests", "uploads:"), 0);
	json_decref(st);
	run_dispose(&x);
	/* the rule itself */
	PW_CHECK(pw__gh_upload_host_ok("https://api.github.com",
	                               "https://uploads.github.com/repos/o/r/releases/1/assets"));
	PW_CHECK(!pw__gh_upload_host_ok("https://api.github.com", "http://uploads.github.com/x"));
	PW_CHECK(!pw__gh_upload_host_ok("https://api.github.com", "https://uploads.github.com.evil.test/x"));
	PW_CHECK(!pw__gh_upload_host_ok("https://api.github.com", "https://evil.test@uploads.github.com/x"));
	PW_CHECK(
	    pw__gh_upload_host_ok("https://ghe.corp.test/api/v3", "https://ghe.corp.test/api/uploads/x"));
	PW_CHECK(
	    !pw__gh_upload_host_ok("https://ghe.corp.test/api/v3", "https://other.corp.test/api/uploads/x"));
	PW_CHECK(
	    !pw__gh_upload_host_ok("https://ghe.corp.test/api/v3", "http://ghe.corp.test/api/uploads/x"));
	PW_CHECK(pw__gh_upload_host_ok("http://127.0.0.1:8080", "http://127.0.0.1:9090/x"));
}

PW_TEST(rate_limits_are_waited_out)
{
	reset();
	json_decref(control("/_test/faults", "{\"secondary\":1,\"primary\":1,\"secondary_429\":1}"));
	run x;
	run_step(&x,
	         "{\"action\":\"create-status\",\"repository\":\"octo/"
	         "app\",\"sha\":\"0123456789abcdef0123456789abcdef01234567\","
	         "\"state\":\"success\",\"context\":\"ci/pipewright\",\"description\":\"all green\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	PW_CHECK_INT(json_integer_value(json_object_get(st, "rate_limited")), 3);
	PW_CHECK_INT(json_array_size(json_object_get(st, "statuses")), 1);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.log), "rate limit");
	json_decref(st);
	run_dispose(&x);

	/* a reset beyond the step's deadline fails at once with what to do */
	json_decref(control("/_test/faults", "{\"primary\":1,\"primary_reset_in\":3600}"));
	run_step(&x,
	         "{\"action\":\"create-status\",\"repository\":\"octo/"
	         "app\",\"sha\":\"0123456789abcdef0123456789abcdef01234567\","
	         "\"state\":\"pending\"}",
	         NULL, NULL, 30);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "primary rate limit");
	PW_CHECK_CONTAINS(pw_error_message(x.e), "beyond the step's deadline");
	run_dispose(&x);
}

PW_TEST(deployment_and_its_status)
{
	reset();
	run x;
	run_step(&x,
	         "{\"action\":\"create-deployment\",\"repository\":\"octo/"
	         "app\",\"ref\":\"main\",\"environment\":\"staging\","
	         "\"auto_merge\":false,\"required_contexts\":[],\"payload\":{\"version\":\"1.2\"}}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	const char *id = meta(&x, "deployment_id");
	PW_REQUIRE(id);
	pw_map *env = pw_map_new();
	pw_map_set(env, "PIPEWRIGHT_STEP_DEPLOY_DEPLOYMENT_ID", id);
	run_dispose(&x);
	run_step(
	    &x,
	    "{\"action\":\"deployment-status\",\"repository\":\"octo/"
	    "app\",\"deployment_id\":\"${PIPEWRIGHT_STEP_"
	    "DEPLOY_DEPLOYMENT_ID}\",\"state\":\"success\",\"environment_url\":\"https://staging.example\"}",
	    NULL, env, 60);
	PW_CHECK_INT(x.rc, 0);
	pw_map_free(env);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	json_t *d = json_array_get(json_object_get(st, "deployments"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(d, "environment")), "staging");
	PW_CHECK(json_is_false(json_object_get(d, "auto_merge")));
	json_t *ds = json_array_get(json_object_get(st, "deployment_statuses"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(ds, "state")), "success");
	PW_CHECK_INT(json_integer_value(json_object_get(ds, "deployment_id")),
	             json_integer_value(json_object_get(d, "id")));
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.audit), "\"github.deployment-status\"");
	json_decref(st);
	run_dispose(&x);

	/* GitHub merged the default branch instead of deploying (202) */
	run_step(&x, "{\"action\":\"create-deployment\",\"repository\":\"octo/app\",\"ref\":\"needs-merge\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_EEXTERNAL);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "Auto-merged main into topic branch");
	run_dispose(&x);
	/* an unset reference */
	run_step(&x,
	         "{\"action\":\"deployment-status\",\"repository\":\"octo/"
	         "app\",\"deployment_id\":\"${NOPE}\",\"state\":\"success\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "${NOPE} is not set");
	run_dispose(&x);
}

PW_TEST(comment_on_a_pull_request)
{
	reset();
	put("comment.md", "Build **passed**: artifacts attached.");
	run x;
	run_step(
	    &x,
	    "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":42,\"body_file\":\"comment.md\"}",
	    NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	json_t *c = json_array_get(json_object_get(st, "comments"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(c, "body")), "Build **passed**: artifacts attached.");
	PW_CHECK_INT(json_integer_value(json_object_get(c, "issue")), 42);
	PW_CHECK_CONTAINS(meta(&x, "html_url"), "/issues/42#issuecomment");
	json_decref(st);
	run_dispose(&x);
	run_step(&x, "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":404,\"body\":\"x\"}",
	         NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "HTTP 404");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "repository");
	PW_CHECK_CONTAINS(pw_error_operation(x.e), "POST http://127.0.0.1:");
	run_dispose(&x);
}

PW_TEST(dispatch_workflow_and_wait)
{
	reset();
	run x;
	const char *cfg =
	    "{\"action\":\"dispatch-workflow\",\"repository\":\"octo/"
	    "app\",\"workflow\":\"deploy.yml\",\"ref\":"
	    "\"main\",\"inputs\":{\"env\":\"prod\",\"dry_run\":false,\"replicas\":3},\"wait\":true,"
	    "\"poll_interval\":0.05}";
	run_step(&x, cfg, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 0);
	PW_CHECK_STR(meta(&x, "conclusion"), "success");
	PW_CHECK(meta(&x, "run_id") != NULL);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out), "concluded: success");
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	json_t *d = json_array_get(json_object_get(st, "dispatches"), 0);
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "inputs"), "dry_run")), "false");
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "inputs"), "replicas")), "3");
	json_decref(st);
	run_dispose(&x);

	/* a failed run fails the step, and without run details the run is found by listing */
	json_decref(
	    control("/_test/faults", "{\"conclusion\":\"failure\",\"no_run_details\":true,\"run_polls\":3}"));
	run_step(&x, cfg, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_REQUIRE(x.r);
	PW_CHECK_INT(pw_result_exit_code(x.r), 1);
	PW_CHECK_STR(meta(&x, "conclusion"), "failure");
	st = control("/_test/state", NULL);
	check_spec_clean(st);
	PW_CHECK_INT(count_in(st, "requests", "/actions/workflows/deploy.yml/runs?"), 1);
	json_decref(st);
	run_dispose(&x);

	/* cancelled while waiting */
	json_decref(control("/_test/faults", "{\"run_polls\":100000,\"no_run_details\":false}"));
	next_cancel_ms = 300;
	run_step(&x, cfg, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_ECANCELLED);
	run_dispose(&x);
}

PW_TEST(ghes_base_and_upload_urls)
{
	reset();
	make_dist();
	char cfg[1024];
	snprintf(
	    cfg, sizeof(cfg),
	    "{\"base_url\":\"%s/api/v3/\",\"upload_url\":\"%s/api/uploads\",\"action\":\"create-release\","
	    "\"repository\":\"octo/app\",\"tag\":\"v7\",\"prerelease\":true,\"assets\":[\"dist/*.zip\"]}",
	    srv.base, srv.uploads);
	run x;
	run_step(&x, cfg, NULL, NULL, 60);
	PW_CHECK_INT(x.rc, 0);
	json_t *st = control("/_test/state", NULL);
	check_spec_clean(st);
	/* tag lookup, list, create, assets list x2, upload, publish: all under the GHES prefixes */
	PW_CHECK(json_integer_value(json_object_get(st, "ghes_requests")) >= 7);
	json_t *rel = NULL;
	releases_with_tag(st, "v7", &rel);
	PW_CHECK(json_is_true(json_object_get(rel, "prerelease")));
	json_decref(st);
	run_dispose(&x);
}

PW_TEST(token_problems)
{
	reset();
	run x;
	const char *cfg = "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":1,\"body\":\"hi\"}";
	run_step(&x, cfg, "ghp_wrongtoken_9876543210", NULL, 60);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "Bad credentials");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "token");
	char *t = pw_error_format(x.e, 0);
	PW_CHECK(t && !strstr(t, "ghp_wrongtoken_9876543210"));
	pw_free(t);
	run_dispose(&x);
	run_step(&x, cfg, "", NULL, 60);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "GITHUB_TOKEN is not set");
	run_dispose(&x);
	/* a token named by token_secret */
	pw_map *env = pw_map_new();
	pw_map_set(env, "RELEASE_BOT_TOKEN", TOKEN);
	run_step(&x,
	         "{\"action\":\"comment\",\"repository\":\"octo/"
	         "app\",\"issue\":1,\"body\":\"hi\",\"token_secret\":\"RELEASE_BOT_TOKEN\"}",
	         "ghp_wrongtoken_9876543210", env, 60);
	PW_CHECK_INT(x.rc, 0);
	pw_map_free(env);
	run_dispose(&x);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pw__buf_append(&b, chunk, n);
	fclose(f);
	return pw__buf_detach(&b);
}

PW_TEST(github_app_installation_token_cached)
{
	reset();
	char path[1024];
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(path, sizeof(path), "%s/tests/auth/test_rsa_key.pem", src ? src : ".");
	char *pem = slurp(path);
	PW_REQUIRE(pem);
	pw_map *env = pw_map_new();
	pw_map_set(env, "GITHUB_APP_PRIVATE_KEY", pem);
	also_secret[0] = "ghs_installation";
	also_secret[1] = "MIIEvAIBADAN"; /* the key's first bytes */
	also_secret[2] = NULL;
	pw_manager_new(&shared_mgr, NULL, NULL);
	const char *cfg =
	    "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":7,\"body\":\"from the app\","
	    "\"app_id\":4242}";
	run x;
	/* GITHUB_TOKEN holds a wrong token: the app's installation token is what is used */
	run_step(&x, cfg, "ghp_not_used_by_app_auth", env, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(meta(&x, "auth"), "github-app");
	run_dispose(&x);
	run_step(&x, cfg, "ghp_not_used_by_app_auth", env, 60);
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_STR(meta(&x, "auth"), "github-app (cached installation token)");
	run_dispose(&x);
	pw_manager_free(shared_mgr);
	shared_mgr = NULL;
	json_t *st = control("/_test/state", NULL);
	PW_REQUIRE(st);
	check_spec_clean(st);
	PW_CHECK_INT(json_array_size(json_object_get(st, "comments")), 2);
	/* one JWT exchange for both steps, the token scoped to the repository */
	PW_CHECK_INT(json_array_size(json_object_get(st, "token_requests")), 1);
	PW_CHECK_INT(count_in(st, "requests", "GET /repos/octo/app/installation"), 1);
	json_t *tr = json_array_get(json_object_get(st, "token_requests"), 0);
	PW_CHECK_STR(json_string_value(json_array_get(json_object_get(tr, "repositories"), 0)), "app");
	PW_CHECK_INT(json_array_size(json_object_get(st, "jwt_errors")), 0);
	json_decref(st);

	/* another app id: GitHub refuses the JWT */
	run_step(
	    &x,
	    "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":7,\"body\":\"x\",\"app_id\":4243,"
	    "\"installation_id\":777}",
	    NULL, env, 60);
	PW_CHECK_INT(x.rc, PW_EPERM);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "get an installation token for the GitHub App");
	PW_CHECK_CONTAINS(pw_error_hint(x.e), "app_id");
	run_dispose(&x);
	st = control("/_test/state", NULL);
	PW_CHECK_CONTAINS(json_string_value(json_array_get(json_object_get(st, "jwt_errors"), 0)), "iss");
	json_decref(st);
	/* no key */
	run_step(
	    &x,
	    "{\"action\":\"comment\",\"repository\":\"octo/app\",\"issue\":7,\"body\":\"x\",\"app_id\":4242}",
	    NULL, NULL, 60);
	PW_CHECK_INT(x.rc, PW_ECONFIG);
	PW_CHECK_CONTAINS(pw_error_message(x.e), "GITHUB_APP_PRIVATE_KEY is empty or not in the environment");
	run_dispose(&x);
	also_secret[0] = NULL;
	pw_map_free(env);
	pw_free(pem);
}

static char *validate(const char *cfg)
{
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "release", "github");
	pw_step_set_config_json(s, cfg, NULL);
	pw_connector *c = NULL;
	pw_error *e = NULL;
	char *out = NULL;
	if (pw_manager_get_connector(&c, m, "github", &e) == 0 &&
	    pw_connector_validate_config(c, s, &e) < 0) {
		pw_buf b = PW_BUF_INIT(0);
		for (const pw_error *i = e; i; i = pw_error_next(i))
			pw__buf_printf(&b, "%s | %s\n", pw_error_message(i),
			               pw_error_hint(i) ? pw_error_hint(i) : "");
		out = pw__buf_detach(&b);
	}
	pw_error_free(e);
	pw_step_free(s);
	pw_manager_free(m);
	return out;
}

PW_TEST(validation_errors_name_the_key)
{
	char *v = validate("{\"action\":\"create-release\",\"repository\":\"user/"
	                   "app\",\"tag\":\"v1\",\"name\":\"x\",\"body\":\"y\"}");
	PW_CHECK(v == NULL);
	pw_free(v);
	v = validate("{\"action\":\"create-relase\",\"repository\":\"user/app\"}");
	PW_CHECK_CONTAINS(v, "did you mean 'create-release'?");
	pw_free(v);
	v = validate(
	    "{\"action\":\"create-release\",\"repository\":\"user\",\"tga\":\"v1\",\"token\":\"ghp_x\"}");
	PW_CHECK_CONTAINS(v, "'user' is not OWNER/NAME");
	PW_CHECK_CONTAINS(v, "config key 'tga': unknown key");
	PW_CHECK_CONTAINS(v, "did you mean 'tag'?");
	PW_CHECK_CONTAINS(v, "config key 'tag': is required");
	PW_CHECK_CONTAINS(v, "a token is never written in the pipeline file");
	pw_free(v);
	v = validate(
	    "{\"action\":\"create-release\",\"repository\":\"a/b\",\"tag\":\"v1\",\"on_exists\":\"replace\","
	    "\"assets\":[\"../etc/passwd\",{\"pth\":\"x\"}]}");
	PW_CHECK_CONTAINS(v, "'replace' is not allowed");
	PW_CHECK_CONTAINS(v, "leaves the workspace");
	PW_CHECK_CONTAINS(v, "assets.1.pth");
	pw_free(v);
	v = validate(
	    "{\"action\":\"create-status\",\"repository\":\"a/b\",\"sha\":\"abc\",\"state\":\"green\"}");
	PW_CHECK_CONTAINS(v, "'green' is not allowed");
	PW_CHECK_CONTAINS(v, "success");
	pw_free(v);
	v = validate("{\"action\":\"comment\",\"repository\":\"a/b\",\"issue\":\"twelve\"}");
	PW_CHECK_CONTAINS(v, "'issue': must be a positive number");
	PW_CHECK_CONTAINS(v, "'body': is required");
	pw_free(v);
	v = validate(
	    "{\"action\":\"comment\",\"repository\":\"a/b\",\"issue\":1,\"body\":\"x\",\"app_id\":\"12x\","
	    "\"token_secret\":\"T\"}");
	PW_CHECK_CONTAINS(v, "'app_id': must be a number");
	PW_CHECK_CONTAINS(v, "a token and a GitHub App are both configured");
	pw_free(v);
	v = validate("{\"action\":\"comment\",\"repository\":\"a/"
	             "b\",\"issue\":1,\"body\":\"x\",\"installation_id\":5}");
	PW_CHECK_CONTAINS(v, "is only used with `app_id`");
	pw_free(v);
	v = validate("{\"action\":\"dispatch-workflow\",\"repository\":\"a/"
	             "b\",\"workflow\":\"ci.yml\",\"ref\":\"main\","
	             "\"base_url\":\"ftp://x\",\"inputs\":{\"a\":[1]}}");
	PW_CHECK_CONTAINS(v, "'base_url': must be an http(s) URL");
	PW_CHECK_CONTAINS(v, "'inputs.a': must be a string");
	pw_free(v);
}

PW_TEST(plan_prints_the_requests_without_the_token)
{
	reset();
	make_dist();
	pw_manager *m = NULL;
	pw_manager_new(&m, NULL, NULL);
	pw_step *s = NULL;
	pw_step_new(&s, "release", "github");
	char cfg[512];
	snprintf(cfg, sizeof(cfg),
	         "{\"base_url\":\"%s\",\"action\":\"create-release\",\"repository\":\"octo/"
	         "app\",\"tag\":\"v1.0.0\","
	         "\"name\":\"Release v1.0.0\",\"body\":\"Automated release\",\"assets\":[\"dist/*.zip\"]}",
	         srv.base);
	pw_step_set_config_json(s, cfg, NULL);
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, srv.dir, "plan", NULL, NULL);
	pw_map *env = pw_map_new();
	pw_map_set(env, "GITHUB_TOKEN", TOKEN);
	pw_connector *c = NULL;
	char *plan = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "github", NULL) == 0);
	PW_CHECK_INT(pw_connector_plan(&plan, c, s, ws, env, NULL), 0);
	PW_REQUIRE(plan);
	char want[256];
	snprintf(want, sizeof(want), "POST %s/repos/octo/app/releases\n", srv.base);
	PW_CHECK_CONTAINS(plan, want);
	PW_CHECK_CONTAINS(plan, "{\"tag_name\":\"v1.0.0\",\"name\":\"Release v1.0.0\",\"body\":\"Automated "
	                        "release\",\"draft\":true}");
	PW_CHECK_CONTAINS(plan, "Authorization: Bearer ***");
	PW_CHECK_CONTAINS(plan, "/releases/{release_id}/assets?name=app-windows.zip");
	PW_CHECK_CONTAINS(plan, "PATCH ");
	PW_CHECK_CONTAINS(plan, "{\"draft\":false}");
	PW_CHECK(!strstr(plan, TOKEN));
	/* nothing was sent */
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(json_array_size(json_object_get(st, "requests")), 0);
	json_decref(st);
	pw_free(plan);
	pw_map_free(env);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST(the_fake_checks_requests_against_the_spec)
{
	reset();
	/* the checks the other cases rely on do refuse what the spec does not allow */
	json_t *r =
	    control("/_test/spec-check",
	            "{\"method\":\"POST\",\"path\":\"/repos/o/r/releases\",\"body\":{\"name\":\"x\"}}");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(r, "error")),
	                  "required body field tag_name missing");
	json_decref(r);
	r = control("/_test/spec-check",
	            "{\"method\":\"POST\",\"path\":\"/repos/o/r/releases\",\"body\":{\"tag_name\":\"v\","
	            "\"drafty\":true}}");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(r, "error")), "drafty is not in the schema");
	json_decref(r);
	r = control("/_test/spec-check", "{\"method\":\"PUT\",\"path\":\"/repos/o/r/releases\"}");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(r, "error")), "method not in the spec");
	json_decref(r);
	r = control("/_test/spec-check",
	            "{\"method\":\"POST\",\"path\":\"/repos/o/r/releases/x/assets\",\"query\":{}}");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(r, "error")), "must be an integer");
	json_decref(r);
	r = control(
	    "/_test/spec-check",
	    "{\"method\":\"POST\",\"path\":\"/repos/o/r/statuses/abc\",\"body\":{\"state\":\"green\"}}");
	PW_CHECK_CONTAINS(json_string_value(json_object_get(r, "error")), "is not one of");
	json_decref(r);
	r = control("/_test/spec-check",
	            "{\"method\":\"POST\",\"path\":\"/repos/o/r/releases\",\"body\":{\"tag_name\":\"v\"}}");
	PW_CHECK_STR(json_string_value(json_object_get(r, "operation")), "repos/create-release");
	json_decref(r);
}

PW_TEST_MAIN()
