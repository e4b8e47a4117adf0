/* An example shared-object plug-in: connector type custom:greet, built as
 * pipewright-greet.so. It uses nothing but the host table it is handed (docs/plugins.md). */
#include <stdio.h>
#include <string.h>

#include <pipewright/sys/plugin.h>

/* The host's services, kept from init for the connector's operations. */
static const pw_plugin_host *host;

/* config: who (string, default "world"), message (string, echoed), print_env (the name of an
 * environment variable to print), exit_code (integer). */
static int greet_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	int rc = 0;
	if (host->step_config_has(step, "who") && !host->step_config_string(step, "who")) {
		rc = host->error_set(err, PW_ECONFIG, "step '%s': who must be a name", host->step_name(step));
		if (err && *err) {
			host->error_set_key(*err, "who");
			host->error_set_hint(*err, "write who: NAME");
		}
	}
	return rc;
}

static int greet_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                         const pw_map *env, pw_exec *ex, pw_error **err)
{
	const char *who = host->step_config_string(step, "who");
	const char *message = host->step_config_string(step, "message");
	const char *code = host->step_config_string(step, "exit_code");
	char line[512];
	int n = snprintf(line, sizeof(line), "hello, %s, from a plug-in\n", who ? who : "world");
	host->exec_output(ex, PW_STREAM_STDOUT, line, (size_t)n);
	if (message) {
		/* whatever the step asks us to print goes through the host: secrets come out as *** */
		host->exec_output(ex, PW_STREAM_STDOUT, message, strlen(message));
		host->exec_output(ex, PW_STREAM_STDOUT, "\n", 1);
	}
	const char *print_env = host->step_config_string(step, "print_env");
	const char *value = print_env && env ? host->map_get(env, print_env) : NULL;
	if (value) {
		char envline[512];
		int m = snprintf(envline, sizeof(envline), "%s is %s\n", print_env, value);
		host->exec_output(ex, PW_STREAM_STDOUT, envline,
		                  (size_t)m < sizeof(envline) ? (size_t)m : sizeof(envline) - 1);
	}
	int exit_code = 0;
	if (code)
		sscanf(code, "%d", &exit_code);
	pw_result *r = host->result_new(exit_code, NULL, NULL);
	if (!r)
		return PW_ENOMEM;
	host->result_with_metadata(r, "greeted", who ? who : "world");
	host->exec_set_output(ex, "greeting", line);
	*out = r;
	return 0;
}

static int greet_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_error **err)
{
	const char *who = host->step_config_string(step, "who");
	char text[512];
	snprintf(text, sizeof(text), "greet %s (plug-in custom:greet)\n", who ? who : "world");
	*out = host->pw_strdup(text);
	return *out ? 0 : PW_ENOMEM;
}

static void greet_destroy(pw_connector *c)
{
	(void)c; /* no state */
}

static const pw_connector_ops greet_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN,
    .validate_config = greet_validate,
    .execute_step = greet_execute,
    .plan = greet_plan,
    .destroy = greet_destroy,
};

static int greet_supports(const char *type, void *payload)
{
	return strcmp(type, "custom:greet") == 0;
}

static int greet_create(pw_connector **out, const char *type, pw_manager *mgr, void *payload, pw_error **err)
{
	return host->connector_new(out, &greet_ops, "greet", type, NULL, err);
}

static void greet_list(pw_type_list_fn add, void *ctx, void *payload)
{
	add("custom:greet", ctx);
}

static const pw_factory_ops greet_factory = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "greet-plugin",
    .supports = greet_supports,
    .create = greet_create,
    .list_types = greet_list,
};

static int init(const pw_plugin_host *h, pw_plugin *plugin, pw_error **err)
{
	host = h;
	return host->register_factory(plugin, &greet_factory, NULL, err);
}

PW_PLUGIN_DEFINE(init)
