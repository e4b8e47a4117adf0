/* The built-in factory: the connectors compiled into this library. */
#include <string.h>

#include "connectors/plugin/plugin.h"
#include "core/internal.h"
#include "pipewright/sys/connector.h"

int pw__shell_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__docker_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__kubernetes_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__github_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__gitlab_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__azure_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__aws_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
int pw__gcp_connector_create(pw_connector **out, pw_manager *m, pw_error **err);

const pw_builtin pw__builtins[] = {
    {PW_TYPE_SHELL, pw__shell_connector_create},           /* connectors/shell */
    {PW_TYPE_DOCKER, pw__docker_connector_create},         /* connectors/docker */
    {PW_TYPE_KUBERNETES, pw__kubernetes_connector_create}, /* connectors/kubernetes */
    {PW_TYPE_AWS, pw__aws_connector_create},               /* connectors/cloud/aws.c */
    {PW_TYPE_AZURE, pw__azure_connector_create},           /* connectors/cloud/azure.c */
    {PW_TYPE_GCP, pw__gcp_connector_create},               /* connectors/cloud/gcp.c */
    {PW_TYPE_GITHUB, pw__github_connector_create},         /* connectors/git/github.c */
    {PW_TYPE_GITLAB, pw__gitlab_connector_create},         /* connectors/git/gitlab.c */
};
const size_t pw__builtins_count = sizeof(pw__builtins) / sizeof(pw__builtins[0]);

static const pw_builtin *find(const char *type)
{
	for (size_t i = 0; i < pw__builtins_count; i++)
		if (strcmp(pw__builtins[i].type, type) == 0)
			return &pw__builtins[i];
	return NULL;
}

static int builtin_supports(const char *type, void *payload)
{
	return find(type) != NULL;
}

static int builtin_create(pw_connector **out, const char *type, pw_manager *m, void *payload, pw_error **err)
{
	const pw_builtin *b = find(type);
	if (!b)
		return pw_error_set(err, PW_ENOTFOUND, "built-in factory cannot create '%s'", type);
	return b->create(out, m, err);
}

static void builtin_list(pw_type_list_fn add, void *ctx, void *payload)
{
	for (size_t i = 0; i < pw__builtins_count; i++)
		add(pw__builtins[i].type, ctx);
}

static const pw_factory_ops builtin_factory = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "builtin",
    .supports = builtin_supports,
    .create = builtin_create,
    .list_types = builtin_list,
};

int pw__builtin_factory_register(pw_manager *m, pw_error **err)
{
	int rc = pw_manager_register_factory(m, &builtin_factory, NULL, err);
	/* custom:NAME served by a program pipewright-connector-NAME, unless a factory
	 * registered later (an embedder's, a plug-in's) provides it */
	return rc < 0 ? rc : pw__exec_factory_register(m, err);
}
