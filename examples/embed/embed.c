/* Embedding pipewright: the seed's "Extending the System" in C. (1) implement a connector,
 * (2) write a factory that creates it for custom:my-connector, (3) register the factory with
 * the manager; then load a pipeline that uses it and run it.
 *   cc embed.c $(pkg-config --cflags --libs pipewright) -o embed && ./embed */
#include <stdio.h>
#include <string.h>

#include <pipewright.h>
#include <pipewright/sys/connector.h>

/* 1. The connector (the seed's `impl Connector for MyCustomConnector`). */
static int my_execute_step(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                           const pw_map *env, pw_exec *ex, pw_error **err)
{
	const char *what = pw_step_config_string(step, "what");
	char line[256];
	int n = snprintf(line, sizeof(line), "my-connector ran step %s: %s\n", pw_step_name(step),
	                 what ? what : "(nothing to do)");
	pw_exec_output(ex, PW_STREAM_STDOUT, line, (size_t)n);
	*out = pw_result_with_metadata(pw_result_success(NULL), "connector", pw_connector_name(c));
	return *out ? 0 : PW_ENOMEM;
}

static int my_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	if (!pw_step_config_has(step, "what")) {
		pw_error_set(err, PW_ECONFIG, "step '%s' says nothing about `what` to do",
		             pw_step_name(step));
		if (err && *err)
			pw_error_set_hint(pw_error_set_key(*err, "what"),
			                  "add `what: TEXT` to the step's config");
		return PW_ECONFIG;
	}
	return 0;
}

static void my_destroy(pw_connector *c)
{
	(void)c; /* no state to release */
}

static const pw_connector_ops my_connector_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .validate_config = my_validate,
    .execute_step = my_execute_step,
    .destroy = my_destroy,
};

/* 2. The factory (the seed's `impl ConnectorFactory for MyConnectorFactory`). */
static int my_supports(const char *type, void *payload)
{
	return strcmp(type, "custom:my-connector") == 0;
}

static int my_create(pw_connector **out, const char *type, pw_manager *m, void *payload, pw_error **err)
{
	if (!my_supports(type, payload))
		return pw_error_set(err, PW_EUNIMPLEMENTED, "Unsupported type: %s", type);
	/* connector_type() is the type, name() is "my-connector" */
	return pw_connector_new(out, &my_connector_ops, "my-connector", type, NULL, err);
}

static void my_list(pw_type_list_fn add, void *ctx, void *payload)
{
	add("custom:my-connector", ctx);
}

static const pw_factory_ops my_factory = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "my-connector-factory",
    .supports = my_supports,
    .create = my_create,
    .list_types = my_list,
};

static const char pipeline_yaml[] = "version: 1\n"
                                    "name: embedded\n"
                                    "steps:\n"
                                    "  - name: custom-step\n"
                                    "    step_type: custom:my-connector\n"
                                    "    config:\n"
                                    "      what: build the thing\n"
                                    "  - name: shell-step\n"
                                    "    command: echo the shell connector is there too\n";

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	printf("[%s] %.*s", step, (int)len, data);
	if (len && data[len - 1] != '\n')
		putchar('\n');
}

static int fail(const char *what, pw_error *e)
{
	char *text = pw_error_format(e, 0);
	fprintf(stderr, "embed: %s: %s\n", what, text ? text : "(no detail)");
	pw_free(text);
	pw_error_free(e);
	return 1;
}

int main(int argc, char **argv)
{
	const char *workspace = argc > 1 ? argv[1] : ".";
	pw_manager *manager = NULL;
	pw_error *e = NULL;
	if (pw_manager_new(&manager, NULL, &e) < 0)
		return fail("creating the manager", e);
	/* 3. Register the factory. */
	if (pw_manager_register_factory(manager, &my_factory, NULL, &e) < 0) {
		pw_manager_free(manager);
		return fail("registering the factory", e);
	}
	pw_pipeline *p = NULL;
	if (pw_pipeline_load_string(&p, pipeline_yaml, sizeof(pipeline_yaml) - 1, "embedded.yml", &e) < 0 ||
	    pw_pipeline_validate(p, manager, &e) < 0) {
		pw_pipeline_free(p);
		pw_manager_free(manager);
		return fail("loading the pipeline", e);
	}
	pw_run_options opts = PW_RUN_OPTIONS_INIT;
	opts.workspace = workspace;
	opts.jobs = 1;
	opts.on_output = on_output;
	pw_run *run = NULL;
	int rc = pw_run_new(&run, manager, p, &opts, &e);
	if (rc == 0)
		rc = pw_run_execute(run, &e);
	for (size_t i = 0; run && i < pw_run_step_count(run); i++)
		printf("%s: %s\n", pw_run_step_name(run, i), pw_step_status_name(pw_run_step_status(run, i)));
	pw_run_free(run);
	pw_pipeline_free(p);
	pw_manager_free(manager);
	if (rc < 0)
		return fail("running the pipeline", e);
	printf("embedded run succeeded\n");
	return 0;
}
