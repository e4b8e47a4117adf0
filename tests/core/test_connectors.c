/* The connector system's core: manager, factories, cache, statistics, results, errors,
 * execution contexts — with the seed's MockConnector. */
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"
#include "net/http.h"
#include "pipewright.h"
#include "pipewright/sys/connector.h"
#include "pipewright/sys/mock.h"
#include "pwtest.h"

static pw_manager *new_manager(void)
{
	pw_manager *m = NULL;
	pw_error *e = NULL;
	int rc = pw_manager_new(&m, NULL, &e);
	if (rc != 0) {
		fprintf(stderr, "pw_manager_new: %s\n", pw_error_message(e));
		pw_error_free(e);
	}
	return m;
}

static pw_step *step_with(const char *name, const char *type, const char *json)
{
	pw_step *s = NULL;
	pw_step_new(&s, name, type);
	if (s && json)
		pw_step_set_config_json(s, json, NULL);
	return s;
}

PW_TEST(test_connector_manager_creation)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_map *stats = NULL;
	PW_CHECK_INT(pw_manager_get_stats_map(&stats, m), 0);
	PW_CHECK_STR(pw_map_get(stats, "cached_connectors"), "0");
	/* the built-in factory and the executable-connector one (custom:NAME programs) */
	PW_CHECK_STR(pw_map_get(stats, "registered_factories"), "2");
	PW_CHECK_STR(pw_map_get(stats, "executions"), "0");
	pw_map_free(stats);
	PW_CHECK_STR(pw_version(), "1.0.0");
	pw_manager_free(m);
}

static int dummy_supports(const char *type, void *payload)
{
	return 0;
}

static int dummy_create(pw_connector **out, const char *type, pw_manager *mgr, void *payload, pw_error **err)
{
	return PW_EUNIMPLEMENTED;
}

static const pw_factory_ops dummy_factory = {
    .version = PW_FACTORY_OPS_VERSION, .name = "dummy", .supports = dummy_supports, .create = dummy_create};
static const pw_factory_ops future_factory = {
    .version = 99, .name = "future", .supports = dummy_supports, .create = dummy_create};
static const pw_factory_ops nameless_factory = {
    .version = PW_FACTORY_OPS_VERSION, .name = NULL, .supports = dummy_supports, .create = dummy_create};

PW_TEST(test_register_factory_rejects_duplicates_and_bad_versions)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_register_factory(m, &dummy_factory, NULL, &e), 0);
	PW_CHECK_INT(pw_manager_register_factory(m, &dummy_factory, NULL, &e), PW_EEXISTS);
	PW_CHECK_CONTAINS(pw_error_message(e), "'dummy' is already registered");
	pw_error_free(e);
	e = NULL;
	PW_CHECK_INT(pw_manager_register_factory(m, &future_factory, NULL, &e), PW_EABI);
	PW_CHECK_CONTAINS(pw_error_message(e), "version 99");
	PW_CHECK(pw_error_hint(e) != NULL);
	pw_error_free(e);
	e = NULL;
	PW_CHECK_INT(pw_manager_register_factory(m, &nameless_factory, NULL, &e), PW_EINVAL);
	pw_error_free(e);
	pw_manager_free(m);
}

PW_TEST(test_custom_factory_is_consulted_first)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"shell", "custom:my-connector", NULL};
	PW_CHECK_INT(pw_mock_factory_register(m, "my-connector-factory", types, NULL), 0);
	pw_connector *c = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "shell", NULL), 0);
	PW_REQUIRE(c != NULL);
	/* the mock factory took over the built-in type */
	PW_CHECK_STR(pw_connector_name(c), "my-connector-factory");
	PW_CHECK_STR(pw_connector_type(c), "shell");
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "custom:my-connector", NULL), 0);
	PW_CHECK_STR(pw_connector_type(c), "custom:my-connector");
	pw_manager_free(m);
}

PW_TEST(test_connector_cached_and_created_once)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"custom:cached", NULL};
	pw_mock_factory_register(m, "f", types, NULL);
	pw_connector *a = NULL, *b = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&a, m, "custom:cached", NULL), 0);
	PW_CHECK_INT(pw_manager_get_connector(&b, m, "custom:cached", NULL), 0);
	PW_CHECK(a == b);
	PW_CHECK(pw_connector_manager(a) == m);
	pw_connector_stats st[4];
	size_t n = pw_manager_get_stats(m, st, 4);
	PW_CHECK_INT(n, 1);
	PW_CHECK_STR(st[0].type, "custom:cached");
	PW_CHECK_INT(st[0].created, 1);
	PW_CHECK_INT(st[0].cache_hits, 1);
	pw_manager_free(m);
}

PW_TEST(test_clear_cache_recreates)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_connector *a = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&a, m, "shell", NULL), 0);
	pw_manager_clear_cache(m);
	pw_map *stats = NULL;
	pw_manager_get_stats_map(&stats, m);
	PW_CHECK_STR(pw_map_get(stats, "cached_connectors"), "0");
	pw_map_free(stats);
	PW_CHECK_INT(pw_manager_get_connector(&a, m, "shell", NULL), 0);
	pw_manager_get_stats_map(&stats, m);
	PW_CHECK_STR(pw_map_get(stats, "shell.created"), "2");
	PW_CHECK_STR(pw_map_get(stats, "cached_connectors"), "1");
	pw_map_free(stats);
	pw_manager_free(m);
}

PW_TEST(test_unknown_and_not_built_types)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_connector *c = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "dokcer", &e), PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_message(e), "unknown connector type 'dokcer'");
	PW_CHECK_CONTAINS(pw_error_hint(e), "shell");
	pw_error_free(e);
	e = NULL;
	/* every known type is built into this library (a build without one answers PW_ENOTBUILT) */
	const char *known[] = {"shell", "docker", "kubernetes", "aws", "azure", "gcp", "github", "gitlab"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		c = NULL;
		PW_CHECK_INT(pw_manager_get_connector(&c, m, known[i], &e), 0);
		PW_CHECK(c != NULL && strcmp(pw_connector_type(c), known[i]) == 0);
	}
	/* custom:NAME falls to the executable-connector factory, which finds no program */
	PW_CHECK_INT(pw_manager_get_connector(&c, m, "custom:nothing", &e), 0);
	pw_step *nothing = NULL;
	PW_REQUIRE(pw_step_new(&nothing, "n", "custom:nothing") == 0);
	PW_CHECK_INT(pw_connector_validate_config(c, nothing, &e), PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_message(e), "no connector is registered for 'custom:nothing'");
	pw_step_free(nothing);
	pw_error_free(e);
	PW_CHECK_INT(pw_connector_kind_of("custom:Bad Name"), PW_KIND_INVALID);
	PW_CHECK_INT(pw_connector_kind_of("custom:ok-name_1"), PW_KIND_CUSTOM);
	PW_CHECK_INT(pw_connector_kind_of("kubernetes"), PW_KIND_KUBERNETES);
	PW_CHECK_STR(pw_connector_kind_name(PW_KIND_GITLAB), "gitlab");
	pw_manager_free(m);
}

static void check_inferred(pw_manager *m, const char *json, const char *want)
{
	pw_step *s = step_with("s", NULL, json);
	char *type = NULL;
	pw_error *e = NULL;
	int rc = pw_manager_determine_connector_type(&type, m, s, &e);
	if (want) {
		PW_CHECK_INT(rc, 0);
		PW_CHECK_STR(type, want);
	} else {
		PW_CHECK_INT(rc, PW_EVALIDATION);
		PW_CHECK_CONTAINS(pw_error_message(e), "cannot tell which connector");
		PW_CHECK_CONTAINS(pw_error_hint(e), "step_type");
	}
	pw_free(type);
	pw_error_free(e);
	pw_step_free(s);
}

PW_TEST(test_determine_connector_type)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	check_inferred(m, "{\"command\":\"make\"}", "shell");
	check_inferred(m, "{\"image\":\"node:18-alpine\",\"command\":\"npm ci\"}", "docker");
	check_inferred(m, "{\"dockerfile\":\"Dockerfile.build\"}", "docker");
	check_inferred(m, "{\"image\":\"ubuntu:latest\",\"namespace\":\"production\"}", "kubernetes");
	check_inferred(m, "{\"service\":\"ecs\",\"action\":\"update-service\"}", "aws");
	check_inferred(m, "{\"service\":\"container-instances\"}", "azure");
	check_inferred(m, "{\"service\":\"cloud-run\"}", "gcp");
	check_inferred(m, "{\"action\":\"create-release\",\"repository\":\"user/app\"}", "github");
	check_inferred(m, "{\"action\":\"mirror\",\"source_repo\":\"a\",\"target_repo\":\"b\"}", "gitlab");
	check_inferred(m, "{\"nothing\":1}", NULL);
	/* declared wins; an invalid declared type is refused with the list */
	pw_step *s = step_with("s", "docker", "{\"command\":\"x\"}");
	char *type = NULL;
	PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, NULL), 0);
	PW_CHECK_STR(type, "docker");
	pw_free(type);
	pw_step_free(s);
	/* the inferred type is remembered until the configuration changes; the answer "none"
	 * too */
	s = step_with("s", NULL, "{\"command\":\"make\"}");
	for (int i = 0; i < 2; i++) {
		PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, NULL), 0);
		PW_CHECK_STR(type, "shell");
		pw_free(type);
	}
	PW_CHECK_INT(pw_step_set_config_json(s, "{\"image\":\"alpine\",\"command\":\"make\"}", NULL), 0);
	PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, NULL), 0);
	PW_CHECK_STR(type, "docker");
	pw_free(type);
	PW_CHECK_INT(pw_step_set_config_json(s, "{\"nothing\":1}", NULL), 0);
	for (int i = 0; i < 2; i++) {
		type = NULL;
		PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, NULL), PW_EVALIDATION);
		PW_CHECK(type == NULL);
	}
	PW_CHECK_INT(pw_step_set_config_json(s, "{\"command\":\"make\"}", NULL), 0);
	PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, NULL), 0);
	PW_CHECK_STR(type, "shell");
	pw_free(type);
	pw_step_free(s);
	s = step_with("s", "kubernets", NULL);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_determine_connector_type(&type, m, s, &e), PW_ENOTFOUND);
	PW_CHECK_CONTAINS(pw_error_hint(e), "shell");
	pw_error_free(e);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST(test_list_available_connectors)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"custom:a", "shell", NULL};
	pw_mock_factory_register(m, "mocks", types, NULL);
	char **list = NULL;
	PW_CHECK_INT(pw_manager_list_available_connectors(&list, m), 0);
	PW_REQUIRE(list != NULL);
	size_t n = 0, shells = 0, customs = 0, kubes = 0, azures = 0;
	for (; list[n]; n++) {
		shells += strcmp(list[n], "shell") == 0;
		customs += strcmp(list[n], "custom:a") == 0;
		kubes += strcmp(list[n], "kubernetes") == 0;
		azures += strcmp(list[n], "azure") == 0;
	}
	/* every built-in type once, and the mock factory's custom:a */
	PW_CHECK_INT(n, pw__builtins_count + 1);
	for (size_t b = 0; b < pw__builtins_count; b++) {
		size_t seen = 0;
		for (size_t k = 0; k < n; k++)
			seen += strcmp(list[k], pw__builtins[b].type) == 0;
		PW_CHECK_INT(seen, 1);
	}
	PW_CHECK_INT(shells, 1);
	PW_CHECK_INT(kubes, 1);
	PW_CHECK_INT(azures, 1);
	PW_CHECK_INT(customs, 1);
	pw_strv_free(list);
	pw_manager_free(m);
}

PW_TEST(test_execute_step_with_mock)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"custom:mock", NULL};
	pw_mock_factory_register(m, "mocks", types, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:mock", NULL) == 0);
	pw_mock_connector_set_next_result(
	    c, pw_result_with_metadata(pw_result_success("mock success"), "k", "v"));
	pw_step *s = step_with("build", "custom:mock", "{}");
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, ".", "run-1", NULL, NULL) == 0);
	pw_map *env = pw_map_new();
	pw_result *r = NULL;
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, env, NULL, NULL), 0);
	PW_REQUIRE(r != NULL);
	PW_CHECK(pw_result_is_success(r));
	PW_CHECK_STR(pw_result_stdout(r), "mock success");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "k"), "v");
	PW_CHECK_INT(pw_mock_connector_calls(c, "validate_config"), 1);
	PW_CHECK_INT(pw_mock_connector_calls(c, "pre_execute"), 1);
	PW_CHECK_INT(pw_mock_connector_calls(c, "execute_step"), 1);
	PW_CHECK_INT(pw_mock_connector_calls(c, "post_execute"), 1);
	pw_result_free(r);
	/* after the scripted result, success("") again; a failing result counts as failure */
	pw_mock_connector_set_next_result(c, pw_result_failure(3, "bad"));
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, env, NULL, NULL), 0);
	PW_CHECK_INT(pw_result_exit_code(r), 3);
	PW_CHECK_STR(pw_result_stderr(r), "bad");
	pw_result_free(r);
	pw_connector_stats st;
	PW_CHECK_INT(pw_manager_get_stats(m, &st, 1), 1);
	PW_CHECK_INT(st.executions, 2);
	PW_CHECK_INT(st.successes, 1);
	PW_CHECK_INT(st.failures, 1);
	PW_CHECK(st.max_ms >= 0 && st.total_ms >= st.max_ms);
	pw_map_free(env);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST(test_execute_step_error_and_stats)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"custom:mock", NULL};
	pw_mock_factory_register(m, "mocks", types, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:mock", NULL) == 0);
	pw_error *scripted = pw_error_new(PW_EEXTERNAL, "service said no to token s3cr3t-value");
	pw_error_set_response(scripted, "HTTP 500: s3cr3t-value");
	pw_mock_connector_set_next_error(c, scripted);
	pw_step *s = step_with("deploy", "custom:mock", "{}");
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, ".", NULL, NULL, NULL) == 0);
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
	PW_CHECK_INT(pw_exec_add_secret(ex, "s3cr3t-value", "TOKEN", NULL), 0);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, NULL, ex, &e), PW_EEXTERNAL);
	PW_CHECK(r == NULL);
	PW_CHECK_STR(pw_error_message(e), "service said no to token ***");
	PW_CHECK_STR(pw_error_response(e), "HTTP 500: ***");
	pw_error_free(e);
	pw_connector_stats st;
	pw_manager_get_stats(m, &st, 1);
	PW_CHECK_INT(st.failures, 1);
	pw_exec_free(ex);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

/* Cancels the step once its TERM trap is set (it prints "ready"). */
static void cancel_when_ready(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	if (len >= 5 && !memcmp(data, "ready", 5))
		pw_exec_cancel(*(pw_exec **)payload, PW_CANCEL_USER);
}

/* A step stopped at its deadline, or cancelled, returns its error together with what its
 * process left: exit code 128 + signal, the signal, the output so far and the metadata. */
PW_TEST(test_execute_step_timeout_keeps_result)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	pw_step *s =
	    step_with("slow", "shell", "{\"command\": \"echo begun; sleep 1000\", \"kill_grace\": 1}");
	pw_step_set_timeout(s, 0.5);
	pw_workspace *ws = NULL;
	PW_REQUIRE(pw_workspace_new(&ws, "/tmp", NULL, NULL, NULL) == 0);
	pw_result *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, NULL, NULL, &e), PW_ETIMEOUT);
	PW_REQUIRE(e != NULL);
	PW_CHECK_INT(pw_error_code(e), PW_ETIMEOUT);
	PW_CHECK_CONTAINS(pw_error_message(e), "step 'slow' timed out after 0.5 s");
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_signal(r), 15);
	PW_CHECK_INT(pw_result_exit_code(r), 128 + 15);
	PW_CHECK_STR(pw_result_stdout(r), "begun\n");
	const pw_map *md = pw_result_metadata_const(r);
	PW_CHECK_STR(pw_map_get(md, "signal"), "15");
	PW_CHECK(pw_map_get(md, "killed") == NULL); /* it ended at SIGTERM */
	PW_CHECK_CONTAINS(pw_map_get(md, "ended"), "signal 15");
	pw_result_free(r);
	pw_error_free(e);

	/* cancelled: the exit code the process chose on SIGTERM */
	pw_step *t =
	    step_with("trap", "shell",
	              "{\"command\": \"trap 'exit 5' TERM; echo ready; while :; do sleep 0.05; done\"}");
	pw_exec *ex = NULL;
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.on_output = cancel_when_ready;
	o.output_payload = &ex;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	r = NULL;
	e = NULL;
	PW_CHECK_INT(pw_manager_execute_step(&r, m, t, ws, NULL, ex, &e), PW_ECANCELLED);
	PW_CHECK_INT(pw_error_code(e), PW_ECANCELLED);
	PW_REQUIRE(r != NULL);
	PW_CHECK_INT(pw_result_exit_code(r), 5);
	PW_CHECK_INT(pw_result_signal(r), 0);
	PW_CHECK_STR(pw_result_stdout(r), "ready\n");
	PW_CHECK_CONTAINS(pw_map_get(pw_result_metadata_const(r), "ended"), "5");
	pw_result_free(r);
	pw_error_free(e);
	pw_exec_free(ex);
	pw_connector_stats st;
	pw_manager_get_stats(m, &st, 1);
	PW_CHECK_INT(st.failures, 2);
	pw_workspace_free(ws);
	pw_step_free(t);
	pw_step_free(s);
	pw_manager_free(m);
}

PW_TEST(test_validate_error_is_located)
{
	pw_manager *m = new_manager();
	PW_REQUIRE(m != NULL);
	const char *types[] = {"custom:mock", NULL};
	pw_mock_factory_register(m, "mocks", types, NULL);
	pw_connector *c = NULL;
	PW_REQUIRE(pw_manager_get_connector(&c, m, "custom:mock", NULL) == 0);
	pw_error *ve = pw_error_new(PW_ECONFIG, "storage_size is not a quantity");
	pw_error_set_key(ve, "parameters.storage_size");
	pw_mock_connector_set_validate_error(c, ve);
	pw_step *s = step_with("k", "custom:mock", "{\"parameters\":{\"storage_size\":\"ten\"}}");
	pw__step_set_location(s, "p.yml", 3, 5);
	pw__step_add_loc(s, "config.parameters.storage_size", 9, 21);
	pw_result *r = NULL;
	pw_error *e = NULL;
	pw_workspace *ws = NULL;
	pw_workspace_new(&ws, ".", NULL, NULL, NULL);
	PW_CHECK_INT(pw_manager_execute_step(&r, m, s, ws, NULL, NULL, &e), PW_ECONFIG);
	PW_CHECK_STR(pw_error_file(e), "p.yml");
	PW_CHECK_INT(pw_error_line(e), 9);
	PW_CHECK_INT(pw_error_column(e), 21);
	char *text = pw_error_format(e, 1);
	PW_CHECK_STR(text, "p.yml:9:21: storage_size is not a quantity; config: parameters.storage_size");
	pw_free(text);
	PW_CHECK_INT(pw_mock_connector_calls(c, "execute_step"), 0);
	pw_error_free(e);
	pw_workspace_free(ws);
	pw_step_free(s);
	pw_manager_free(m);
}

static int exec_only(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                     const pw_map *env, pw_exec *ex, pw_error **err)
{
	*out = pw_result_success("x");
	return 0;
}

static void destroy_nothing(pw_connector *c)
{
}

static const pw_connector_ops minimal_ops = {
    .version = PW_CONNECTOR_OPS_VERSION, .execute_step = exec_only, .destroy = destroy_nothing};
static const pw_connector_ops no_destroy_ops = {.version = PW_CONNECTOR_OPS_VERSION,
                                                .execute_step = exec_only};
static const pw_connector_ops future_ops = {
    .version = PW_CONNECTOR_OPS_VERSION + 1, .execute_step = exec_only, .destroy = destroy_nothing};
/* a table built against the first headers (no gc_remove slot) still works */
static const pw_connector_ops v1_ops = {.version = 1, .execute_step = exec_only, .destroy = destroy_nothing};

PW_TEST(test_connector_ops_slot_checks)
{
	pw_connector *c = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw_connector_new(&c, &no_destroy_ops, "n", "custom:n", NULL, &e), PW_EINVAL);
	PW_CHECK_CONTAINS(pw_error_message(e), "destroy");
	pw_error_free(e);
	e = NULL;
	PW_CHECK_INT(pw_connector_new(&c, &future_ops, "n", "custom:n", NULL, &e), PW_EABI);
	pw_error_free(e);
	e = NULL;
	PW_REQUIRE(pw_connector_new(&c, &v1_ops, "v1", "custom:v1", NULL, &e) == 0);
	pw_connector_free(c);
	c = NULL;
	PW_REQUIRE(pw_connector_new(&c, &minimal_ops, "minimal", "custom:minimal", NULL, &e) == 0);
	pw_step *s = step_with("s", NULL, "{}");
	PW_CHECK_INT(pw_connector_validate_config(c, s, NULL), 0); /* default: valid */
	char *plan = NULL;
	PW_CHECK_INT(pw_connector_plan(&plan, c, s, NULL, NULL, &e), PW_EUNIMPLEMENTED);
	PW_CHECK_STR(pw_error_message(e), "cannot plan: connector 'minimal' does not support it");
	pw_error_free(e);
	pw_step_free(s);
	pw_connector_free(c);
}

PW_TEST(test_mock_connector_set_next_result)
{
	pw_connector *c = NULL;
	PW_REQUIRE(pw_mock_connector_new(&c, "test-mock", PW_TYPE_DOCKER, NULL) == 0);
	pw_mock_connector_set_next_result(c, pw_result_success("mock success"));
	pw_step *s = step_with("s", "docker", "{}");
	pw_result *r = NULL;
	PW_CHECK_INT(pw_connector_execute_step(&r, c, s, NULL, NULL, NULL, NULL), 0);
	PW_CHECK_STR(pw_result_stdout(r), "mock success");
	pw_result_free(r);
	PW_CHECK_INT(pw_connector_execute_step(&r, c, s, NULL, NULL, NULL, NULL), 0);
	PW_CHECK_STR(pw_result_stdout(r), "");
	pw_result_free(r);
	PW_CHECK_STR(pw_connector_type(c), "docker");
	PW_CHECK_STR(pw_connector_name(c), "test-mock");
	pw_step_free(s);
	pw_connector_free(c);
}

PW_TEST(test_execution_result_api)
{
	pw_result *r = pw_result_new(2, "out", "err");
	PW_CHECK_INT(pw_result_exit_code(r), 2);
	PW_CHECK(!pw_result_is_success(r));
	PW_CHECK_STR(pw_result_stdout(r), "out");
	PW_CHECK_STR(pw_result_stderr(r), "err");
	PW_CHECK(pw_result_with_metadata(r, "a", "1") == r);
	pw_result_with_metadata(r, "a", "2");
	PW_CHECK_STR(pw_map_get(pw_result_metadata(r), "a"), "2");
	PW_CHECK_INT(pw_map_count(pw_result_metadata(r)), 1);
	pw_result_free(r);
	r = pw_result_success(NULL);
	PW_CHECK(pw_result_is_success(r));
	PW_CHECK_STR(pw_result_stdout(r), "");
	pw_result_free(r);
	r = pw_result_failure(1, "boom");
	PW_CHECK_STR(pw_result_stderr(r), "boom");
	PW_CHECK_STR(pw_result_stdout(r), "");
	pw_result_free(r);
	PW_CHECK(pw_result_with_metadata(NULL, "a", "b") == NULL);
}

PW_TEST(test_error_object)
{
	PW_CHECK_STR(pw_error_code_name(PW_ECONFIG), "ECONFIG");
	PW_CHECK_STR(pw_error_code_name(PW_EKUBERNETES), "EKUBERNETES");
	PW_CHECK_STR(pw_error_code_name(PW_EUNIMPLEMENTED), "EUNIMPLEMENTED");
	PW_CHECK_STR(pw_error_code_name(12345), "UNKNOWN");
	PW_CHECK_STR(pw_error_code_desc(PW_EPERM), "permission denied");
	pw_error *e = pw_error_new(PW_EEXTERNAL, "creating job %s\n", "j1");
	PW_CHECK_STR(pw_error_message(e), "creating job j1");
	pw_error_set_operation(e, "POST /apis/batch/v1/namespaces/ci/jobs");
	pw_error_set_response(e, "403 Forbidden");
	pw_error_set_hint(e, "grant create on jobs");
	pw_error_set_location(e, "p.yml", 4, 7);
	pw_error_append(e, pw_error_new(PW_EIO, "second"));
	char *one = pw_error_format(e, 1);
	PW_CHECK_STR(one,
	             "p.yml:4:7: creating job j1; while: POST /apis/batch/v1/namespaces/ci/jobs; service "
	             "answered: 403 Forbidden; hint: grant create on jobs");
	pw_free(one);
	/* an error page: 2 KiB of it shown, cut before a character, the rest counted; on one
	 * line, its line breaks are spaces; pw_error_response keeps it whole */
	char page[3000];
	memset(page, 'x', sizeof(page) - 1);
	page[sizeof(page) - 1] = '\0';
	memcpy(page, "<html>\r\n\t<body>", 15);
	memcpy(page + 2047, "\xc3\xa9", 2); /* an é across the cut */
	pw_error *big = pw_error_new(PW_EIO, "deploy failed");
	pw_error_set_response(big, page);
	char *shown = pw_error_format(big, 1);
	PW_CHECK(strncmp(shown, "deploy failed; service answered: <html> <body>xxx", 49) == 0);
	PW_CHECK_CONTAINS(shown, "xxx [952 more bytes]");
	PW_CHECK(strstr(shown, "\xc3") == NULL && strchr(shown, '\n') == NULL);
	PW_CHECK_INT(strlen(shown),
	             strlen("deploy failed; service answered: ") + 2047 - 2 + strlen(" [952 more bytes]"));
	pw_free(shown);
	char *lines = pw_error_format(big, 0);
	PW_CHECK(strncmp(lines, "deploy failed\n  service answered: <html>\r\n\t<body>", 49) == 0);
	pw_free(lines);
	PW_CHECK_INT(strlen(pw_error_response(big)), sizeof(page) - 1);
	pw_error_free(big);
	PW_CHECK_STR(pw_error_message(pw_error_next(e)), "second");
	pw_error *first = NULL;
	PW_CHECK_INT(pw_error_set(&first, PW_ETIMEOUT, "a"), PW_ETIMEOUT);
	pw_error_set(&first, PW_EIO, "b");
	PW_CHECK_STR(pw_error_message(first), "a"); /* the first error wins */
	pw_error_free(first);
	pw_error_free(e);

	/* control characters from a file or a service never reach the terminal as such: a CR
	 * cannot forge an "error:" line, an escape sequence cannot colour it; a service's
	 * multi-line answer keeps its lines */
	pw_error *ctl = pw_error_new(PW_EPIPELINE, "unknown key 'x\rerror: p.yml:1:1: forged\nfoo'");
	pw_error_set_location(ctl, "p\x1b[2J.yml", 2, 1);
	pw_error_set_key(ctl, "a\tb");
	pw_error_set_hint(ctl, "\x1b[31mred\x7f \xc2\x9b \xc3\xa9");
	pw_error_set_response(ctl, "line 1\r\nline 2\n\x1b]0;title\x07\rover");
	char *ml = pw_error_format(ctl, 0);
	PW_CHECK_STR(ml, "p\\x1b[2J.yml:2:1: unknown key 'x\\rerror: p.yml:1:1: forged\\nfoo'\n"
	                 "  config: a\\tb\n"
	                 "  service answered: line 1\r\nline 2\n\\x1b]0;title\\x07\\rover\n"
	                 "  hint: \\x1b[31mred\\x7f \\u009b \xc3\xa9");
	pw_free(ml);
	char *ol = pw_error_format(ctl, 1);
	PW_CHECK_CONTAINS(ol, "service answered: line 1 line 2 \\x1b]0;title\\x07 over");
	PW_CHECK(strchr(ol, '\n') == NULL && strchr(ol, '\r') == NULL && strchr(ol, '\x1b') == NULL);
	pw_free(ol);
	pw_error_free(ctl);
}

/* Timestamps in results and audit records: UTC, milliseconds, the same text strftime gives,
 * also at the edges of a second, a day and a year. */
PW_TEST(test_clock_iso8601)
{
	const int64_t cases[] = {0,
	                         999,
	                         1000,
	                         86399999,
	                         951782400001 /* 2000-02-29 */,
	                         1798761599999 /* 2026-12-31T23:59:59.999 */,
	                         253402300799999};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t secs = (time_t)(cases[i] / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		char want[64], got[64], day[32];
		strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof(want), "%s.%03dZ", day, (int)(cases[i] % 1000));
		pw__iso8601(got, sizeof(got), cases[i]);
		PW_CHECK_STR(got, want);
	}
	/* a buffer too small is cut, not overrun */
	char small[11];
	pw__iso8601(small, sizeof(small), 0);
	PW_CHECK_STR(small, "1970-01-01");
}

/* JSON strings as the audit log and result.json write them: what jansson writes for valid
 * UTF-8 (and it reads them back), U+FFFD for bytes that are not UTF-8, and the same text
 * whether written in place or a piece at a time (a bounded buffer without room for the
 * longest form). */
static char *json_put(const char *s, size_t max)
{
	pw_buf b = PW_BUF_INIT(max);
	int bad = 0;
	pw__buf_puts(&b, "[");
	pw__json_string_put(&b, &bad, s);
	pw__buf_puts(&b, "]");
	if (bad) {
		pw__buf_dispose(&b);
		return NULL;
	}
	return pw__buf_detach(&b);
}

PW_TEST(test_json_string_put)
{
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	const char *cases[] = {"",
	                       "plain text",
	                       "quote \" and backslash \\ and slash /",
	                       "\b\f\n\r\t\x01\x1f\x7f",
	                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	                       "bad \xc3 then \xff\xfe and cut \xe2\x82",
	                       all};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *fast = json_put(cases[i], 0);
		PW_CHECK(fast != NULL);
		/* room for the text written, but not for 6 bytes a byte: the piecewise way */
		char *slow = json_put(cases[i], strlen(fast) + 1);
		PW_CHECK(slow != NULL);
		if (fast && slow)
			PW_CHECK_STR(slow, fast);
		json_error_t je;
		json_t *back = fast ? json_loads(fast, 0, &je) : NULL;
		PW_CHECK(back != NULL && json_is_string(json_array_get(back, 0)));
		json_t *orig = json_string(cases[i]);
		if (orig) {
			/* valid UTF-8: jansson's own text, and the same string read back */
			char *want = json_dumps(orig, JSON_ENCODE_ANY);
			char wrapped[2048];
			snprintf(wrapped, sizeof(wrapped), "[%s]", want);
			PW_CHECK_STR(fast, wrapped);
			PW_CHECK_STR(json_string_value(json_array_get(back, 0)), cases[i]);
			free(want);
			json_decref(orig);
		} else {
			PW_CHECK_CONTAINS(fast, "\\ufffd");
		}
		json_decref(back);
		pw_free(fast);
		pw_free(slow);
	}
	/* a bound too small for the text: an error, never a cut string */
	PW_CHECK(json_put("0123456789", 8) == NULL);
}

/* pw__buf_printf formats into the room there is, or grows and formats again: either way the
 * same text as snprintf, and a bound is never passed nor a partial text left behind. */
PW_TEST(test_buf_printf)
{
	pw_buf b = PW_BUF_INIT(0);
	char want[8192] = "";
	size_t wl = 0;
	for (int i = 0; i < 400; i++) {
		/* short pieces that fit the room left, and now and then one longer than all of it */
		char piece[3000];
		int n = i % 37 == 0 ? 2000 + i : i % 7;
		memset(piece, 'a' + i % 26, (size_t)n);
		piece[n] = '\0';
		PW_CHECK_INT(pw__buf_printf(&b, "%d:%s;", i, piece), 0);
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%d:%s;", i, piece);
		if (wl >= sizeof(want) - 3100) {
			PW_CHECK_INT(b.len, wl);
			PW_CHECK_STR(pw__buf_cstr(&b), want);
			pw__buf_clear(&b);
			wl = 0;
			want[0] = '\0';
		}
	}
	PW_CHECK_INT(b.len, wl);
	PW_CHECK_STR(pw__buf_cstr(&b), want);
	pw__buf_dispose(&b);

	/* bounded: a text that would pass the bound fails and leaves the buffer as it was, also
	 * when it would have fit the allocation */
	pw_buf m = PW_BUF_INIT(16);
	PW_CHECK_INT(pw__buf_printf(&m, "%s", "0123456789"), 0);
	PW_CHECK_INT(pw__buf_printf(&m, "%s", "abcdefgh"), PW_ENOMEM);
	PW_CHECK_INT(m.len, 10);
	PW_CHECK_STR(pw__buf_cstr(&m), "0123456789");
	PW_CHECK_INT(pw__buf_printf(&m, "%d", 123456), 0);
	PW_CHECK_STR(pw__buf_cstr(&m), "0123456789123456");
	PW_CHECK_INT(pw__buf_printf(&m, "%c", 'x'), PW_ENOMEM);
	PW_CHECK_STR(pw__buf_cstr(&m), "0123456789123456");
	pw__buf_dispose(&m);

	/* numbers without printf: the same digits */
	const unsigned long long nums[] = {0, 7, 10, 99, 1000000, 18446744073709551615ULL};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char got[24], exp[32];
		int n = pw__u64_text(got, nums[i]);
		snprintf(exp, sizeof(exp), "%llu", nums[i]);
		PW_CHECK_STR(got, exp);
		PW_CHECK_INT(n, (int)strlen(exp));
	}
}

PW_TEST(test_map)
{
	pw_map *m = pw_map_new();
	pw_map_set(m, "B", "1");
	pw_map_set(m, "A", "2");
	pw_map_set(m, "B", "3");
	PW_CHECK_INT(pw_map_count(m), 2);
	PW_CHECK_STR(pw_map_key_at(m, 0), "B");
	PW_CHECK_STR(pw_map_get(m, "B"), "3");
	pw_map *d = pw_map_dup(m);
	PW_CHECK_INT(pw_map_remove(m, "B"), 1);
	PW_CHECK_INT(pw_map_remove(m, "B"), 0);
	PW_CHECK(pw_map_get(m, "B") == NULL);
	PW_CHECK_STR(pw_map_get(d, "B"), "3");
	pw_map_free(m);
	pw_map_free(d);
}

/* A large map (a step's environment with the outputs of every step before it) keeps its
 * order and finds, replaces and removes every key, also past the size where it starts to
 * index its keys and back below it. */
PW_TEST(test_map_large)
{
	pw_map *m = pw_map_new();
	char k[32], v[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "PIPEWRIGHT_STEP_S%d_K", i);
		snprintf(v, sizeof(v), "%d", i);
		PW_CHECK_INT(pw_map_set(m, k, v), 0);
	}
	PW_CHECK_INT(pw_map_count(m), 1000);
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "PIPEWRIGHT_STEP_S%d_K", i);
		snprintf(v, sizeof(v), "%d", i);
		const char *got = pw_map_get(m, k);
		bad += !got || strcmp(got, v) != 0 || strcmp(pw_map_key_at(m, (size_t)i), k) != 0;
	}
	PW_CHECK_INT(bad, 0);
	PW_CHECK(pw_map_get(m, "PIPEWRIGHT_STEP_S1000_K") == NULL);
	/* replacing keeps the place and the count */
	PW_CHECK_INT(pw_map_set(m, "PIPEWRIGHT_STEP_S500_K", "new"), 0);
	PW_CHECK_INT(pw_map_count(m), 1000);
	PW_CHECK_STR(pw_map_value_at(m, 500), "new");
	/* removing every even key: the odd ones are still found, in order */
	for (int i = 0; i < 1000; i += 2) {
		snprintf(k, sizeof(k), "PIPEWRIGHT_STEP_S%d_K", i);
		PW_CHECK_INT(pw_map_remove(m, k), 1);
	}
	PW_CHECK_INT(pw_map_count(m), 500);
	bad = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "PIPEWRIGHT_STEP_S%d_K", i);
		const char *got = pw_map_get(m, k);
		bad += (i % 2 == 0) != (got == NULL);
	}
	PW_CHECK_INT(bad, 0);
	PW_CHECK_STR(pw_map_key_at(m, 0), "PIPEWRIGHT_STEP_S1_K");
	pw_map *d = pw_map_dup(m);
	PW_CHECK_INT(pw_map_count(d), 500);
	PW_CHECK_STR(pw_map_get(d, "PIPEWRIGHT_STEP_S999_K"), "999");
	/* down to a few keys (searched in order again) and up once more */
	for (int i = 1; i < 990; i += 2) {
		snprintf(k, sizeof(k), "PIPEWRIGHT_STEP_S%d_K", i);
		pw_map_remove(m, k);
	}
	PW_CHECK_INT(pw_map_count(m), 5);
	PW_CHECK_STR(pw_map_get(m, "PIPEWRIGHT_STEP_S991_K"), "991");
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "X%d", i);
		pw_map_set(m, k, "x");
	}
	PW_CHECK_INT(pw_map_count(m), 45);
	PW_CHECK_STR(pw_map_get(m, "X39"), "x");
	PW_CHECK_STR(pw_map_get(m, "PIPEWRIGHT_STEP_S999_K"), "999");
	pw_map_free(m);
	pw_map_free(d);
}

typedef struct sink {
	char data[4096];
	size_t len;
} sink;

static void collect(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	sink *s = payload;
	if (s->len + len < sizeof(s->data)) {
		memcpy(s->data + s->len, data, len);
		s->len += len;
	}
}

PW_TEST(test_exec_capture_is_bounded)
{
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.capture_limit = 16;
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	for (int i = 0; i < 100; i++)
		pw_exec_output(ex, PW_STREAM_STDOUT, "0123456789", 10);
	pw_exec_output(ex, PW_STREAM_STDOUT, "END", 3);
	pw_exec_flush(ex);
	int trunc = 0;
	const char *cap = pw_exec_captured(ex, PW_STREAM_STDOUT, &trunc);
	PW_CHECK_INT(strlen(cap), 16);
	PW_CHECK_STR(cap, "7890123456789END");
	PW_CHECK(trunc);
	cap = pw_exec_captured(ex, PW_STREAM_STDERR, &trunc);
	PW_CHECK_STR(cap, "");
	PW_CHECK(!trunc);
	pw_exec_free(ex);
}

/* The capture keeps exactly the last capture_limit bytes, whatever the sizes of the writes
 * (smaller, larger, equal to the window; wrapping the ring at every offset), checked against
 * the whole stream at many points. */
PW_TEST(test_exec_capture_keeps_the_tail)
{
	enum { LIMIT = 37, WRITES = 3000 };
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.capture_limit = LIMIT;
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	char *all = malloc(WRITES * 80 + 1);
	size_t total = 0;
	uint32_t x = 12345;
	int bad = 0;
	for (int i = 0; i < WRITES && !bad; i++) {
		x = x * 1103515245u + 12345u;
		size_t n = (x >> 16) % 80; /* 0 .. 79: below, at and above the window */
		char chunk[80];
		for (size_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			chunk[k] = (char)('a' + (x >> 16) % 26);
		}
		pw_exec_output(ex, PW_STREAM_STDOUT, chunk, n);
		memcpy(all + total, chunk, n);
		total += n;
		if (i % 7 == 0 || i == WRITES - 1) {
			pw_exec_flush(ex);
			int trunc = -1;
			const char *cap = pw_exec_captured(ex, PW_STREAM_STDOUT, &trunc);
			size_t keep = total < LIMIT ? total : LIMIT;
			bad = strlen(cap) != keep || memcmp(cap, all + total - keep, keep) != 0 ||
			      trunc != (total > LIMIT);
			if (bad)
				fprintf(stderr, "  after %d writes (%zu bytes): got \"%s\"\n", i + 1, total,
				        cap);
		}
	}
	PW_CHECK(!bad);
	free(all);
	pw_exec_free(ex);
}

PW_TEST(test_exec_cancel_fd_and_timeout)
{
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
	struct pollfd p = {pw_exec_cancel_fd(ex), POLLIN, 0};
	PW_CHECK_INT(poll(&p, 1, 0), 0);
	PW_CHECK_INT(pw_exec_remaining_ms(ex), -1);
	pw_exec_cancel(ex, PW_CANCEL_USER);
	pw_exec_cancel(ex, PW_CANCEL_TIMEOUT); /* the first reason sticks */
	PW_CHECK_INT(poll(&p, 1, 0), 1);
	PW_CHECK_INT(pw_exec_cancelled(ex), PW_CANCEL_USER);
	pw_exec_free(ex);

	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.timeout_seconds = 0.2;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	pw_exec_start(ex);
	PW_CHECK(pw_exec_remaining_ms(ex) > 0);
	struct pollfd q = {pw_exec_cancel_fd(ex), POLLIN, 0};
	PW_CHECK_INT(poll(&q, 1, 5000), 1); /* the deadline wakes pollers */
	PW_CHECK_INT(pw_exec_cancelled(ex), PW_CANCEL_TIMEOUT);
	PW_CHECK_INT(pw_exec_remaining_ms(ex), 0);
	pw_exec_free(ex);
}

PW_TEST(test_exec_sleep_ends_with_the_step)
{
	PW_CHECK_INT(pw_exec_sleep(NULL, 5), 0);
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, NULL, NULL) == 0);
	PW_CHECK_INT(pw_exec_sleep(ex, 5), 0);
	pw_exec_cancel(ex, PW_CANCEL_USER);
	PW_CHECK_INT(pw_exec_sleep(ex, 60000), PW_ECANCELLED); /* returns at once */
	pw_exec_free(ex);

	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.timeout_seconds = 0.1;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	pw_exec_start(ex);
	/* a full wait would return 0; the deadline cuts it short */
	PW_CHECK_INT(pw_exec_sleep(ex, 60000), PW_ETIMEOUT);
	pw_exec_free(ex);
}

static void log_into(const pw_log_record *rec, void *payload)
{
	sink *s = payload;
	int n = snprintf(s->data + s->len, sizeof(s->data) - s->len, "%s|%s|%s|%s\n", rec->run_id, rec->step,
	                 rec->component, rec->message);
	if (n > 0)
		s->len += (size_t)n;
}

static void audit_into(const char *json, void *payload)
{
	sink *s = payload;
	int n = snprintf(s->data + s->len, sizeof(s->data) - s->len, "%s\n", json);
	if (n > 0)
		s->len += (size_t)n;
}

PW_TEST(test_exec_masks_output_and_logs)
{
	static sink out, logs, audit;
	memset(&out, 0, sizeof(out));
	memset(&logs, 0, sizeof(logs));
	memset(&audit, 0, sizeof(audit));
	pw_secrets *sec = NULL;
	PW_REQUIRE(pw_secrets_new(&sec) == 0);
	PW_CHECK_INT(pw_secrets_add(sec, "hunter22", "PASSWORD", NULL), 0);
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.run_id = "r1";
	o.step_name = "deploy";
	o.secrets = sec;
	o.on_output = collect;
	o.output_payload = &out;
	o.on_log = log_into;
	o.log_payload = &logs;
	o.log_level = PW_LOG_DEBUG;
	o.on_audit = audit_into;
	o.audit_payload = &audit;
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	pw_exec_output(ex, PW_STREAM_STDOUT, "pass=hun", 8);
	pw_exec_output(ex, PW_STREAM_STDOUT, "ter22 done\n", 11);
	pw_exec_flush(ex);
	out.data[out.len] = '\0';
	PW_CHECK_STR(out.data, "pass=*** done\n");
	PW_CHECK_STR(pw_exec_captured(ex, PW_STREAM_STDOUT, NULL), "pass=*** done\n");
	pw_exec_log(ex, PW_LOG_DEBUG, "http", "Authorization: Bearer %s", "hunter22");
	pw_exec_log(ex, PW_LOG_TRACE, "http", "not shown");
	logs.data[logs.len] = '\0';
	PW_CHECK_STR(logs.data, "r1|deploy|http|Authorization: Bearer ***\n");
	pw_exec_audit(ex, "create", "job/hunter22", "ok", NULL);
	audit.data[audit.len] = '\0';
	PW_CHECK_CONTAINS(audit.data, "\"target\":\"job/***\"");
	PW_CHECK_CONTAINS(audit.data, "\"run_id\":\"r1\"");
	PW_CHECK_NOT_CONTAINS(audit.data, "hunter22");
	pw_exec_set_output(ex, "version", "1.2.3");
	PW_CHECK_STR(pw_map_get(pw_exec_outputs(ex), "version"), "1.2.3");
	pw_exec_free(ex);
	pw_secrets_free(sec);
}

/* Audit records are written without a JSON library: whatever a connector names (quotes,
 * backslashes, control characters, multi-byte and invalid UTF-8), each is one valid JSON
 * object whose fields read back as given (invalid bytes as U+FFFD). */
PW_TEST(test_audit_record_is_valid_json_for_any_text)
{
	static sink audit;
	memset(&audit, 0, sizeof(audit));
	pw_exec_options o = PW_EXEC_OPTIONS_INIT;
	o.run_id = "r\"1";
	o.step_name = "st\\ep";
	o.on_audit = audit_into;
	o.audit_payload = &audit;
	pw_exec *ex = NULL;
	PW_REQUIRE(pw_exec_new(&ex, &o, NULL) == 0);
	pw_exec_audit(ex, "cre\tate\n", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80/\x01\x1f", "o\xffk\xc3",
	              "bad \xed\xa0\x80 \xc0\xaf end");
	audit.data[audit.len] = '\0';
	PW_REQUIRE(audit.len > 0 && audit.data[audit.len - 1] == '\n');
	audit.data[audit.len - 1] = '\0';
	json_error_t je;
	json_t *j = json_loads(audit.data, 0, &je);
	PW_REQUIRE(j != NULL);
	PW_CHECK_STR(json_string_value(json_object_get(j, "run_id")), "r\"1");
	PW_CHECK_STR(json_string_value(json_object_get(j, "step")), "st\\ep");
	PW_CHECK_STR(json_string_value(json_object_get(j, "event")), "mutation");
	PW_CHECK_STR(json_string_value(json_object_get(j, "action")), "cre\tate\n");
	PW_CHECK_STR(json_string_value(json_object_get(j, "target")),
	             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80/\x01\x1f");
	PW_CHECK_STR(json_string_value(json_object_get(j, "outcome")), "o\xef\xbf\xbdk\xef\xbf\xbd");
	PW_CHECK_STR(json_string_value(json_object_get(j, "detail")),
	             "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd end");
	PW_CHECK(json_string_value(json_object_get(j, "at")) != NULL);
	json_decref(j);
	pw_exec_free(ex);
}

PW_TEST(test_step_config_access)
{
	pw_step *s =
	    step_with("k8s", "kubernetes",
	              "{\"image\":\"ubuntu\",\"parameters\":{\"use_pvc\":true,\"storage_size\":\"10Gi\","
	              "\"replicas\":3},\"volumes\":[\"a:b\",\"c:d\"]}");
	PW_REQUIRE(s != NULL);
	PW_CHECK_STR(pw_step_config_string(s, "image"), "ubuntu");
	PW_CHECK_STR(pw_step_config_string(s, "parameters.storage_size"), "10Gi");
	PW_CHECK_STR(pw_step_config_string(s, "parameters.use_pvc"), "true");
	PW_CHECK_STR(pw_step_config_string(s, "parameters.replicas"), "3");
	PW_CHECK_STR(pw_step_config_string(s, "volumes.1"), "c:d");
	PW_CHECK(pw_step_config_string(s, "parameters") == NULL);
	PW_CHECK(pw_step_config_has(s, "parameters"));
	PW_CHECK(!pw_step_config_has(s, "nope.deeper"));
	PW_CHECK_CONTAINS(pw_step_config_json(s), "\"storage_size\":\"10Gi\"");
	PW_CHECK_INT(pw_step_timeout(s), 300);
	pw_error *e = NULL;
	PW_CHECK_INT(pw_step_set_config_json(s, "[1]", &e), PW_EINVAL);
	pw_error_free(e);
	pw_step_free(s);
}

PW_TEST(test_suggest)
{
	const char *keys[] = {"needs", "name", "timeout", "retries", "step_type", NULL};
	PW_CHECK_STR(pw__suggest("neds", keys), "needs");
	PW_CHECK_STR(pw__suggest("timout", keys), "timeout");
	PW_CHECK_STR(pw__suggest("step", keys), "step_type");
	PW_CHECK(pw__suggest("zzzzzz", keys) == NULL);
	PW_CHECK_INT(pw__edit_distance("abc", "acb"), 1);
}

PW_TEST(test_manager_http_pool_is_shared)
{
	pw_manager *a = new_manager(), *b = new_manager();
	PW_REQUIRE(a != NULL && b != NULL);
	pw_http_pool *p1 = pw__manager_http_pool(a);
	PW_CHECK(p1 != NULL);
	PW_CHECK(pw__manager_http_pool(a) == p1); /* one pool per manager, created once */
	PW_CHECK(pw__manager_http_pool(b) != p1);
	/* factories create connectors under the manager's lock; one that asks for the pool
	 * there (docker's does) must not deadlock */
	pw_connector *c = NULL;
	PW_CHECK_INT(pw_manager_get_connector(&c, b, "docker", NULL), 0);
	PW_CHECK(c != NULL);
	pw_manager_free(a); /* frees the pool (the leak checker would say otherwise) */
	pw_manager_free(b);
}

PW_TEST_MAIN()
