/* Pipeline file loader: good files (every field, defaults, anchors), the corpus of bad files
 * in tests/fixtures/bad (each names its expected first error), and the loader's limits. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "pipeline/pipeline.h"
#include "pwtest.h"

static const char *source_dir(void)
{
	const char *d = getenv("PW_SOURCE_DIR");
	return d ? d : ".";
}

static pw_pipeline *load_ok(const char *yaml)
{
	pw_pipeline *p = NULL;
	pw_error *err = NULL;
	int rc = pw_pipeline_load_string(&p, yaml, strlen(yaml), "test.yml", &err);
	if (rc != 0) {
		for (const pw_error *e = err; e; e = pw_error_next(e)) {
			char *t = pw_error_format(e, 1);
			fprintf(stderr, "  unexpected: %s\n", t);
			pw_free(t);
		}
	}
	pw_error_free(err);
	return p;
}

/* Loads text expected to fail; returns the error chain (caller frees). */
static pw_error *load_bad(const char *yaml)
{
	pw_pipeline *p = (pw_pipeline *)1;
	pw_error *err = NULL;
	int rc = pw_pipeline_load_string(&p, yaml, strlen(yaml), "bad.yml", &err);
	PW_CHECK_INT(rc, PW_EPIPELINE);
	PW_CHECK(p == NULL);
	return err;
}

static size_t chain_length(const pw_error *e)
{
	size_t n = 0;
	for (; e; e = pw_error_next(e))
		n++;
	return n;
}

static void check_loc(const pw_step *s, const char *path, int line, int col)
{
	const pw_loc *l = pw__step_find_loc(s, path);
	if (!l) {
		fprintf(stderr, "  no location recorded for '%s'\n", path);
		pwt_failed_checks++;
		return;
	}
	if (l->line != line || l->column != col) {
		fprintf(stderr, "  location of '%s': %d:%d, expected %d:%d\n", path, l->line, l->column, line,
		        col);
		pwt_failed_checks++;
	}
}

PW_TEST(full_file_every_field)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/good/full.yml", source_dir());
	pw_pipeline *p = NULL;
	pw_error *err = NULL;
	int rc = pw_pipeline_load_file(&p, path, &err);
	if (err) {
		char *t = pw_error_format(err, 1);
		fprintf(stderr, "  %s\n", t);
		pw_free(t);
	}
	PW_CHECK_INT(rc, 0);
	PW_REQUIRE(p);
	pw_error_free(err);
	PW_CHECK_STR(pw_pipeline_name(p), "build-and-deploy");
	PW_CHECK_INT(pw_pipeline_version(p), 1);
	PW_CHECK_STR(pw_pipeline_path(p), path);
	PW_CHECK(pw_pipeline_dir(p)[0] == '/');
	PW_CHECK_CONTAINS(pw_pipeline_dir(p), "tests/fixtures/good");

	const pw_map *env = pw_pipeline_env(p);
	PW_CHECK_STR(pw_map_get(env, "NODE_ENV"), "production");
	PW_CHECK_STR(pw_map_get(env, "PORT"), "8080");
	PW_CHECK_STR(pw_map_get(env, "DEBUG"), "true");
	PW_CHECK_STR(pw_map_get(env, "RATIO"), "1.50"); /* as written, not re-rendered */
	PW_CHECK_STR(pw_map_get(env, "EMPTY"), "");

	PW_CHECK_INT(pw_pipeline_secret_count(p), 2);
	PW_CHECK_STR(pw_pipeline_secret_at(p, 0), "GITHUB_TOKEN");
	PW_CHECK_STR(pw_pipeline_secret_at(p, 1), "NPM_TOKEN");
	PW_CHECK(pw_pipeline_secret_at(p, 2) == NULL);
	PW_CHECK_INT(p->secrets[1].line, 5);
	PW_CHECK_INT(p->secrets[1].column, 25);

	PW_REQUIRE(p->sections);
	PW_CHECK_STR(json_string_value(json_object_get(
	                 json_object_get(json_object_get(p->sections, "hooks"), "mongodb"), "uri")),
	             "mongodb://127.0.0.1:27017/ci");
	PW_CHECK_STR(json_string_value(json_object_get(json_object_get(p->sections, "reports"), "junit")),
	             "out/junit.xml");

	PW_REQUIRE(pw_pipeline_step_count(p) == 3);
	PW_CHECK_INT(pw_pipeline_find_step(p, "release"), 1);
	PW_CHECK_INT(pw_pipeline_find_step(p, "nope"), -1);
	PW_CHECK(pw_pipeline_step_at(p, 3) == NULL);

	pw_step *b = pw_pipeline_step_at(p, 0);
	PW_CHECK_STR(pw_step_name(b), "build");
	PW_CHECK_STR(pw_step_type(b), "docker");
	PW_CHECK_INT(pw_step_needs_count(b), 0);
	PW_CHECK_STR(pw_step_file(b), path);
	PW_CHECK_INT(pw_step_line(b), 11);
	PW_CHECK_INT(pw_step_column(b), 5);
	PW_CHECK_STR(pw_step_config_string(b, "image"), "node:18-alpine");
	PW_CHECK_STR(pw_step_config_string(b, "parameters.storage_size"), "10Gi");
	PW_CHECK_STR(pw_step_config_string(b, "volumes.1"), "./out:/out");
	check_loc(b, "name", 11, 11);
	check_loc(b, "step_type", 12, 16);
	check_loc(b, "config", 14, 7);
	check_loc(b, "config.image", 14, 14);
	check_loc(b, "config.parameters", 17, 9);
	check_loc(b, "config.parameters.storage_size", 17, 23);
	check_loc(b, "config.volumes.0", 19, 11);
	check_loc(b, "config.volumes.1", 20, 11);
	int line = 0, col = 0;
	PW_CHECK_INT(pw_step_config_location(b, "parameters.storage_size", &line, &col), 0);
	PW_CHECK_INT(line, 17);
	PW_CHECK_INT(col, 23);

	pw_step *r = pw_pipeline_step_at(p, 1);
	PW_CHECK_STR(pw_step_type(r), "github");
	PW_CHECK_INT(pw_step_needs_count(r), 1);
	PW_CHECK_STR(pw_step_need_at(r, 0), "build");
	PW_CHECK_INT(r->needs_explicit, 1);
	PW_CHECK(pw_step_timeout(r) == 120);
	PW_CHECK_INT(pw_step_retries(r), 1);
	PW_CHECK_INT(pw_step_when(r), PW_WHEN_ON_SUCCESS);
	PW_CHECK_INT(pw_step_allow_failure(r), 0);
	PW_CHECK_STR(pw_map_get(pw_step_env_const(r), "TAG"), "v1.0.0");
	PW_CHECK_STR(pw_step_config_json(r),
	             "{\"action\":\"create-release\",\"repository\":\"user/app\",\"tag\":\"v1.0.0\"}");
	check_loc(r, "needs", 23, 12);
	check_loc(r, "needs.0", 23, 13);
	check_loc(r, "timeout", 24, 14);
	check_loc(r, "retries", 25, 14);
	check_loc(r, "when", 26, 11);
	check_loc(r, "allow_failure", 27, 20);
	check_loc(r, "env.TAG", 29, 12);
	check_loc(r, "config.tag", 30, 66);

	pw_step *n = pw_pipeline_step_at(p, 2);
	PW_CHECK(pw_step_type(n) == NULL);
	PW_CHECK_INT(pw_step_needs_count(n), 2);
	PW_CHECK_STR(pw_step_need_at(n, 1), "release");
	PW_CHECK(pw_step_timeout(n) == 5400);
	PW_CHECK_INT(pw_step_when(n), PW_WHEN_ALWAYS);
	PW_CHECK_INT(pw_step_allow_failure(n), 1);
	PW_CHECK_STR(pw_step_config_json(n), "{\"command\":[\"echo\",\"done\"]}");
	check_loc(n, "command", 37, 14);
	check_loc(n, "config.command", 37, 14);
	check_loc(n, "config.command.1", 37, 21);
	pw_pipeline_free(p);
}

PW_TEST(defaults_and_implicit_needs_chain)
{
	pw_pipeline *p = load_ok("version: 1\nsteps:\n  - name: a\n  - name: b\n  - name: c\n    needs: []\n"
	                         "  - name: d\n");
	PW_REQUIRE(p);
	PW_CHECK(pw_pipeline_name(p) == NULL);
	PW_CHECK_INT(pw_map_count(pw_pipeline_env(p)), 0);
	PW_CHECK_INT(pw_pipeline_secret_count(p), 0);
	PW_CHECK(p->sections == NULL);
	pw_step *a = pw_pipeline_step_at(p, 0), *b = pw_pipeline_step_at(p, 1);
	pw_step *c = pw_pipeline_step_at(p, 2), *d = pw_pipeline_step_at(p, 3);
	PW_CHECK(pw_step_timeout(a) == PW_DEFAULT_TIMEOUT_SECONDS);
	PW_CHECK_INT(pw_step_retries(a), 0);
	PW_CHECK_INT(pw_step_when(a), PW_WHEN_ON_SUCCESS);
	PW_CHECK_INT(pw_step_allow_failure(a), 0);
	PW_CHECK_STR(pw_step_config_json(a), "{}");
	PW_CHECK_INT(pw_step_needs_count(a), 0);
	PW_CHECK_INT(a->needs_explicit, 0);
	PW_CHECK_INT(pw_step_needs_count(b), 1);
	PW_CHECK_STR(pw_step_need_at(b, 0), "a");
	PW_CHECK_INT(b->needs_explicit, 0);
	PW_CHECK_INT(pw_step_needs_count(c), 0); /* needs: [] starts at once */
	PW_CHECK_INT(c->needs_explicit, 1);
	PW_CHECK_INT(pw_step_needs_count(d), 1);
	PW_CHECK_STR(pw_step_need_at(d, 0), "c");
	PW_CHECK_INT(d->needs_explicit, 0);
	pw_pipeline_free(p);
}

PW_TEST(shorthand_command_string)
{
	pw_pipeline *p = load_ok("version: 1\nsteps:\n  - name: a\n    command: make test\n"
	                         "    config: { workdir: src }\n");
	PW_REQUIRE(p);
	pw_step *a = pw_pipeline_step_at(p, 0);
	PW_CHECK_STR(pw_step_config_string(a, "command"), "make test");
	PW_CHECK_STR(pw_step_config_string(a, "workdir"), "src");
	check_loc(a, "config.command", 4, 14);
	pw_pipeline_free(p);
}

PW_TEST(core_schema_scalars_in_config)
{
	pw_pipeline *p =
	    load_ok("version: 1\nsteps:\n  - name: a\n    config:\n"
	            "      n1: null\n      n2: ~\n      n3:\n      t: true\n      f: False\n"
	            "      i: -42\n      h: 0x1F\n      o: 0o17\n      fl: 1.5e3\n      r: 2.5\n"
	            "      z: 007\n      one: 1.0\n      tf: !!float 1e3\n      th: !!int 0x10\n"
	            "      q: \"123\"\n      sq: 'true'\n      tagged: !!str 5\n      ti: !!int \"7\"\n"
	            "      yes_is_text: yes\n      lit: |\n        line1\n        line2\n");
	PW_REQUIRE(p);
	json_t *c = pw_pipeline_step_at(p, 0)->config;
	PW_CHECK(json_is_null(json_object_get(c, "n1")));
	PW_CHECK(json_is_null(json_object_get(c, "n2")));
	PW_CHECK(json_is_null(json_object_get(c, "n3")));
	PW_CHECK(json_is_true(json_object_get(c, "t")));
	PW_CHECK(json_is_false(json_object_get(c, "f")));
	PW_CHECK_INT(json_integer_value(json_object_get(c, "i")), -42);
	/* a number that would not print back as written stays text */
	PW_CHECK_STR(json_string_value(json_object_get(c, "h")), "0x1F");
	PW_CHECK_STR(json_string_value(json_object_get(c, "o")), "0o17");
	PW_CHECK_STR(json_string_value(json_object_get(c, "fl")), "1.5e3");
	PW_CHECK_STR(json_string_value(json_object_get(c, "z")), "007");
	PW_CHECK_STR(json_string_value(json_object_get(c, "one")), "1.0");
	PW_CHECK(json_is_real(json_object_get(c, "r")) && json_real_value(json_object_get(c, "r")) == 2.5);
	PW_CHECK(json_is_real(json_object_get(c, "tf")) &&
	         json_real_value(json_object_get(c, "tf")) == 1000.0);
	PW_CHECK_INT(json_integer_value(json_object_get(c, "th")), 16);
	PW_CHECK_STR(json_string_value(json_object_get(c, "q")), "123");
	PW_CHECK_STR(json_string_value(json_object_get(c, "sq")), "true");
	PW_CHECK_STR(json_string_value(json_object_get(c, "tagged")), "5");
	PW_CHECK_INT(json_integer_value(json_object_get(c, "ti")), 7);
	PW_CHECK_STR(json_string_value(json_object_get(c, "yes_is_text")), "yes");
	PW_CHECK_STR(json_string_value(json_object_get(c, "lit")), "line1\nline2\n");
	pw_pipeline_free(p);
}

PW_TEST(timeout_forms)
{
	pw_pipeline *p = load_ok("version: 1\nsteps:\n"
	                         "  - {name: a, timeout: 90s}\n  - {name: b, timeout: 5m}\n"
	                         "  - {name: c, timeout: \"1h30m\"}\n  - {name: d, timeout: 1.5}\n"
	                         "  - {name: e, timeout: \"45\"}\n  - {name: f, timeout: 2h}\n");
	PW_REQUIRE(p);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 0)) == 90);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 1)) == 300);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 2)) == 5400);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 3)) == 1.5);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 4)) == 45);
	PW_CHECK(pw_step_timeout(pw_pipeline_step_at(p, 5)) == 7200);
	pw_pipeline_free(p);
}

PW_TEST(anchors_aliases_and_merge_keys)
{
	pw_pipeline *p =
	    load_ok("version: 1\n"
	            "env: &common\n  A: one\n  B: two\n"
	            "steps:\n"
	            "  - name: a\n"
	            "    config: &base\n      image: alpine\n      user: root\n      mounts: &m [x, y]\n"
	            "  - name: b\n"
	            "    env:\n      <<: *common\n      B: override\n"
	            "    config:\n      <<: *base\n      user: app\n      extra: *m\n");
	PW_REQUIRE(p);
	pw_step *b = pw_pipeline_step_at(p, 1);
	PW_CHECK_STR(pw_map_get(pw_step_env_const(b), "A"), "one");
	PW_CHECK_STR(pw_map_get(pw_step_env_const(b), "B"), "override");
	PW_CHECK_STR(
	    pw_step_config_json(b),
	    "{\"image\":\"alpine\",\"mounts\":[\"x\",\"y\"],\"user\":\"app\",\"extra\":[\"x\",\"y\"]}");
	/* merged values are located at their anchored original, an alias where it is written */
	check_loc(b, "config.image", 8, 14);
	check_loc(b, "config.user", 17, 13);
	check_loc(b, "config.extra", 18, 14);
	check_loc(b, "config.extra.1", 10, 22);
	pw_pipeline_free(p);
}

PW_TEST(merge_list_earlier_wins)
{
	pw_pipeline *p = load_ok("version: 1\nsteps:\n  - name: a\n    config:\n"
	                         "      x: &one {k: 1, a: 1}\n      y: &two {k: 2, b: 2}\n"
	                         "      z:\n        <<: [*one, *two]\n");
	PW_REQUIRE(p);
	json_t *z = json_object_get(pw_pipeline_step_at(p, 0)->config, "z");
	PW_CHECK_INT(json_integer_value(json_object_get(z, "k")), 1);
	PW_CHECK_INT(json_integer_value(json_object_get(z, "a")), 1);
	PW_CHECK_INT(json_integer_value(json_object_get(z, "b")), 2);
	pw_pipeline_free(p);
}

PW_TEST(needs_single_name_and_string_source)
{
	pw_pipeline *p = NULL;
	const char *y = "version: 1\nsteps:\n  - name: a\n  - name: b\n    needs: a\n";
	PW_CHECK_INT(pw_pipeline_load_string(&p, y, strlen(y), NULL, NULL), 0);
	PW_REQUIRE(p);
	PW_CHECK_STR(pw_pipeline_path(p), "<string>");
	char cwd[4096];
	PW_REQUIRE(getcwd(cwd, sizeof(cwd)));
	PW_CHECK_STR(pw_pipeline_dir(p), cwd);
	PW_CHECK_STR(pw_step_need_at(pw_pipeline_step_at(p, 1), 0), "a");
	pw_pipeline_free(p);
}

PW_TEST(many_errors_all_reported)
{
	pw_error *err = load_bad("version: 3\n"        /* 1 */
	                         "nmae: x\n"           /* 2 */
	                         "steps:\n"            /* 3 */
	                         "  - name: a\n"       /* 4 */
	                         "    timeout: -5\n"   /* 5 */
	                         "    when: never\n"   /* 6 */
	                         "  - name: b\n"       /* 7 */
	                         "    needs: [c]\n"    /* 8 */
	                         "    retries: lots\n" /* 9 */
	                         "  - name: a\n");     /* 10 */
	PW_REQUIRE(err);
	static const struct {
		int line, col;
		const char *msg;
	} want[] = {
	    {1, 10, "unsupported pipeline version 3"},
	    {2, 1, "unknown key 'nmae'"},
	    {5, 14, "timeout of step 'a'"},
	    {6, 11, "when of step 'a'"},
	    {9, 14, "retries of step 'b'"},
	    {10, 11, "duplicate step name 'a' (first defined on line 4)"},
	    {8, 13, "step 'b' needs 'c', which is not defined"},
	};
	PW_CHECK_INT(chain_length(err), sizeof(want) / sizeof(want[0]));
	const pw_error *e = err;
	for (size_t i = 0; e && i < sizeof(want) / sizeof(want[0]); i++, e = pw_error_next(e)) {
		PW_CHECK_INT(pw_error_code(e), PW_EPIPELINE);
		PW_CHECK_STR(pw_error_file(e), "bad.yml");
		PW_CHECK_INT(pw_error_line(e), want[i].line);
		PW_CHECK_INT(pw_error_column(e), want[i].col);
		PW_CHECK_CONTAINS(pw_error_message(e), want[i].msg);
		PW_CHECK(pw_error_hint(e) != NULL);
	}
	char *text = pw_error_format(pw_error_next(err), 0);
	PW_CHECK_CONTAINS(text,
	                  "bad.yml:2:1: unknown key 'nmae' at the top level\n  hint: did you mean 'name'?");
	pw_free(text);
	pw_error_free(err);
}

PW_TEST(error_count_is_capped)
{
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "version: 1\nsteps:\n  - name: a\n");
	for (int i = 0; i < 150; i++)
		pw__buf_printf(&b, "    bogus%d: 1\n", i);
	pw_error *err = load_bad(pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	PW_CHECK_INT(chain_length(err), 101);
	const pw_error *last = err;
	while (pw_error_next(last))
		last = pw_error_next(last);
	PW_CHECK_CONTAINS(pw_error_message(last), "too many problems");
	pw_error_free(err);
}

PW_TEST(file_over_16_mib_is_refused)
{
	size_t len = (size_t)16 * 1024 * 1024 + 1;
	char *big = malloc(len);
	PW_REQUIRE(big);
	memset(big, '#', len);
	pw_pipeline *p = NULL;
	pw_error *err = NULL;
	PW_CHECK_INT(pw_pipeline_load_string(&p, big, len, "big.yml", &err), PW_EPIPELINE);
	PW_CHECK(p == NULL);
	PW_CHECK_CONTAINS(pw_error_message(err), "larger than 16 MiB");
	PW_CHECK_STR(pw_error_file(err), "big.yml");
	pw_error_free(err);

	char tmpl[] = "/tmp/pw-big-XXXXXX";
	int fd = mkstemp(tmpl);
	PW_REQUIRE(fd >= 0);
	PW_CHECK(write(fd, big, len) == (ssize_t)len);
	close(fd);
	err = NULL;
	PW_CHECK_INT(pw_pipeline_load_file(&p, tmpl, &err), PW_EPIPELINE);
	PW_CHECK_CONTAINS(pw_error_message(err), "larger than 16 MiB");
	pw_error_free(err);
	unlink(tmpl);
	free(big);
}

PW_TEST(many_aliases_under_the_limit_load)
{
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b,
	             "version: 1\nsteps:\n  - name: a\n    config:\n      base: &b {k: v}\n      list:\n");
	for (int i = 0; i < 10000; i++)
		pw__buf_puts(&b, "        - *b\n");
	pw_pipeline *p = load_ok(pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	PW_REQUIRE(p);
	PW_CHECK_INT(json_array_size(json_object_get(pw_pipeline_step_at(p, 0)->config, "list")), 10000);
	pw_pipeline_free(p);
}

PW_TEST(missing_file)
{
	pw_pipeline *p = NULL;
	pw_error *err = NULL;
	PW_CHECK_INT(pw_pipeline_load_file(&p, "/nonexistent/pipeline.yml", &err), PW_ENOTFOUND);
	PW_CHECK(p == NULL);
	PW_CHECK_CONTAINS(pw_error_message(err), "No such file");
	pw_error_free(err);
}

/* Duplicate names are reported once, where the second step is written (an alias included),
 * without a "needs itself" for the implicit need on the step before. */
PW_TEST(duplicate_step_reported_once)
{
	pw_error *err = load_bad("version: 1\nsteps:\n  - name: x\n  - &s {name: a, command: echo}\n"
	                         "  - name: b\n  - *s\n");
	PW_REQUIRE(err);
	PW_CHECK_INT(chain_length(err), 1);
	PW_CHECK_INT(pw_error_line(err), 6);
	PW_CHECK_INT(pw_error_column(err), 5);
	PW_CHECK_CONTAINS(pw_error_message(err), "duplicate step name 'a' (first defined on line 4)");
	pw_error_free(err);

	err = load_bad("version: 1\nsteps:\n  - name: a\n    command: make\n  - name: a\n");
	PW_REQUIRE(err);
	PW_CHECK_INT(chain_length(err), 1);
	PW_CHECK_NOT_CONTAINS(pw_error_message(err), "needs itself");
	pw_error_free(err);

	/* a written self-need is still one */
	err = load_bad("version: 1\nsteps:\n  - name: a\n    needs: [a]\n");
	PW_REQUIRE(err);
	PW_CHECK_INT(chain_length(err), 1);
	PW_CHECK_CONTAINS(pw_error_message(err), "step 'a' needs itself");
	pw_error_free(err);
}

/* Reader errors (bad UTF-8, control characters) are placed as libyaml counts: after a byte
 * order mark, with CR LF and lone CR line ends. */
PW_TEST(reader_error_positions)
{
	static const struct {
		const char *text;
		int line, col;
	} cases[] = {
	    {"\xEF\xBB\xBFname: \"\xff\"\n", 1, 8},
	    {"version: 1\rsteps:\r  - name: a\r    command: \"\xff\"\r", 4, 15},
	    {"version: 1\r\nsteps:\r\n  - name: a\r\n    command: \"\xff\"\r\n", 4, 15},
	    {"\xEF\xBB\xBFversion: 1\r\nsteps:\r\n  - name: \"\x01\"\r\n", 3, 12},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pw_error *err = load_bad(cases[i].text);
		PW_REQUIRE(err);
		PW_CHECK_CONTAINS(pw_error_message(err), "invalid YAML");
		PW_CHECK_INT(pw_error_line(err), cases[i].line);
		PW_CHECK_INT(pw_error_column(err), cases[i].col);
		pw_error_free(err);
	}
	/* a tab in the indentation of a CR-only file is named as such */
	pw_error *err = load_bad("version: 1\rsteps:\r  - name: a\r\t command: x\r");
	PW_REQUIRE(err);
	PW_CHECK_CONTAINS(pw_error_hint(err), "indent with spaces");
	pw_error_free(err);
}

PW_TEST(expanded_values_are_bounded)
{
	/* 1,000 values copied by 1,001 aliases: small text, over a million values */
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "version: 1\nsteps:\n  - name: a\n    config:\n      big: &big [");
	for (int i = 0; i < 1000; i++)
		pw__buf_puts(&b, i ? ",1" : "1");
	pw__buf_puts(&b, "]\n      copies: [");
	for (int i = 0; i < 1001; i++)
		pw__buf_puts(&b, i ? ",*big" : "*big");
	pw__buf_puts(&b, "]\n");
	pw_error *err = load_bad(pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	PW_CHECK_CONTAINS(pw_error_message(err), "more than 1000000 values");
	PW_CHECK_INT(pw_error_line(err), 6);
	PW_CHECK_INT(chain_length(err), 1);
	pw_error_free(err);
}

PW_TEST(every_prefix_loads_or_fails_cleanly)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/good/full.yml", source_dir());
	FILE *f = fopen(path, "rb");
	PW_REQUIRE(f);
	char text[8192];
	size_t len = fread(text, 1, sizeof(text), f);
	fclose(f);
	PW_REQUIRE(len > 100);
	int loaded = 0;
	for (size_t n = 0; n <= len; n++) {
		pw_pipeline *p = NULL;
		pw_error *err = NULL;
		int rc = pw_pipeline_load_string(&p, text, n, "prefix.yml", &err);
		if (rc == 0) {
			loaded++;
			PW_CHECK(p && !err);
		} else {
			PW_CHECK_INT(rc, PW_EPIPELINE);
			PW_CHECK(!p);
			for (const pw_error *e = err; e; e = pw_error_next(e)) {
				PW_CHECK(pw_error_line(e) >= 1 && pw_error_column(e) >= 1);
				PW_CHECK(pw_error_hint(e) != NULL);
			}
		}
		pw_error_free(err);
		pw_pipeline_free(p);
	}
	PW_CHECK(loaded > 0);
}

PW_TEST(long_cycle_is_shortened)
{
	/* s0 needs s29; every other step needs the one before it (implicitly) */
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "version: 1\nsteps:\n  - name: s0\n    needs: [s29]\n");
	for (int i = 1; i < 30; i++)
		pw__buf_printf(&b, "  - name: s%d\n", i);
	pw_error *err = load_bad(pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	PW_CHECK_INT(chain_length(err), 1);
	PW_CHECK_STR(pw_error_message(err),
	             "dependency cycle: s0 -> s29 -> s28 -> s27 -> s26 -> s25 -> s24 -> s23 -> "
	             "s22 -> s21 -> ... (19 steps) -> s1 -> s0");
	PW_CHECK_INT(pw_error_line(err), 4);
	PW_CHECK_INT(pw_error_column(err), 13);
	PW_CHECK_CONTAINS(pw_error_hint(err), "`needs: []`");
	pw_error_free(err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads "# expect: L:C: text" and the optional "# hint: text" from the file's head. */
static int read_expectation(const char *path, int *line, int *col, char *msg, size_t msz, char *hint,
                            size_t hsz)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char l1[512] = "", l2[512] = "";
	if (!fgets(l1, sizeof(l1), f))
		l1[0] = '\0';
	if (!fgets(l2, sizeof(l2), f))
		l2[0] = '\0';
	fclose(f);
	l1[strcspn(l1, "\n")] = '\0';
	l2[strcspn(l2, "\n")] = '\0';
	int off = 0;
	if (sscanf(l1, "# expect: %d:%d: %n", line, col, &off) != 2 || off == 0)
		return -1;
	snprintf(msg, msz, "%s", l1 + off);
	hint[0] = '\0';
	if (strncmp(l2, "# hint: ", 8) == 0)
		snprintf(hint, hsz, "%s", l2 + 8);
	return 0;
}

PW_TEST(bad_fixture_corpus)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/fixtures/bad", source_dir());
	DIR *d = opendir(dir);
	PW_REQUIRE(d);
	char *names[512];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 512) {
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".yml") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	PW_CHECK(n >= 30);
	for (size_t i = 0; i < n; i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int line, col;
		char msg[512], hint[512];
		if (read_expectation(path, &line, &col, msg, sizeof(msg), hint, sizeof(hint)) < 0) {
			fprintf(stderr, "  %s: no '# expect: L:C: message' first line\n", names[i]);
			pwt_failed_checks++;
			continue;
		}
		pw_pipeline *p = NULL;
		pw_error *err = NULL;
		int rc = pw_pipeline_load_file(&p, path, &err);
		int before = pwt_failed_checks;
		PW_CHECK_INT(rc, PW_EPIPELINE);
		PW_CHECK(p == NULL);
		if (err) {
			PW_CHECK_INT(pw_error_code(err), PW_EPIPELINE);
			PW_CHECK_STR(pw_error_file(err), path);
			PW_CHECK_INT(pw_error_line(err), line);
			PW_CHECK_INT(pw_error_column(err), col);
			PW_CHECK_CONTAINS(pw_error_message(err), msg);
			PW_CHECK_NOT_CONTAINS(pw_error_message(err),
			                      names[i]); /* no file:line:col in the text */
			PW_CHECK(pw_error_hint(err) != NULL);
			if (hint[0])
				PW_CHECK_CONTAINS(pw_error_hint(err), hint);
		}
		if (pwt_failed_checks != before) {
			fprintf(stderr, "  ^ in %s\n", names[i]);
			for (const pw_error *e = err; e; e = pw_error_next(e)) {
				char *t = pw_error_format(e, 1);
				fprintf(stderr, "    got: %s\n", t);
				pw_free(t);
			}
		}
		pw_error_free(err);
		pw_pipeline_free(p);
		free(names[i]);
	}
}

PW_TEST_MAIN()
