/* Connector handles: an ops table plus its implementation, with slot checks. */
#include <stdlib.h>
#include <string.h>

#include "core/connector.h"
#include "pipewright/sys/connector.h"

static const char *const kind_names[] = {"shell", "docker", "kubernetes", "aws",
                                         "azure", "gcp",    "github",     "gitlab"};

static int valid_custom_name(const char *n)
{
	if (!n || !((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9')))
		return 0;
	size_t len = 0;
	for (const char *p = n; *p; p++, len++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return len <= 63;
}

pw_connector_kind pw_connector_kind_of(const char *type)
{
	if (!type)
		return PW_KIND_INVALID;
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(type, kind_names[i]) == 0)
			return (pw_connector_kind)i;
	size_t plen = strlen(PW_TYPE_CUSTOM_PREFIX);
	if (strncmp(type, PW_TYPE_CUSTOM_PREFIX, plen) == 0 && valid_custom_name(type + plen))
		return PW_KIND_CUSTOM;
	return PW_KIND_INVALID;
}

const char *pw_connector_kind_name(pw_connector_kind kind)
{
	if ((int)kind < 0 || kind >= PW_KIND_CUSTOM)
		return NULL;
	return kind_names[kind];
}

int pw_connector_new(pw_connector **out, const pw_connector_ops *ops, const char *name, const char *type,
                     void *impl, pw_error **err)
{
	*out = NULL;
	if (!ops)
		return pw_error_set(err, PW_EINVAL, "connector '%s': no operations table", name ? name : "?");
	if (ops->version < 1 || ops->version > PW_CONNECTOR_OPS_VERSION) {
		pw_error *e = NULL;
		pw_error_set(&e, PW_EABI, "connector '%s': operations table version %u is not supported",
		             name ? name : "?", ops->version);
		pw_error_set_hint(e, "rebuild the connector against this pipewright's headers "
		                     "(PW_CONNECTOR_OPS_VERSION " PW__STR(PW_CONNECTOR_OPS_VERSION) ")");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_EABI;
	}
	if (!name || !*name || !type || !*type)
		return pw_error_set(err, PW_EINVAL, "a connector needs a name and a type");
	if (!ops->execute_step || !ops->destroy)
		return pw_error_set(err, PW_EINVAL, "connector '%s' lacks the mandatory %s operation", name,
		                    !ops->execute_step ? "execute_step" : "destroy");
	pw_connector *c = calloc(1, sizeof(*c));
	if (!c)
		return PW_ENOMEM;
	c->ops = ops;
	c->name = strdup(name);
	c->type = strdup(type);
	c->impl = impl;
	if (!c->name || !c->type) {
		free(c->name);
		free(c->type);
		free(c);
		return PW_ENOMEM;
	}
	*out = c;
	return 0;
}

void pw_connector_free(pw_connector *c)
{
	if (!c)
		return;
	c->ops->destroy(c);
	free(c->name);
	free(c->type);
	free(c);
}

void *pw_connector_impl(const pw_connector *c)
{
	return c ? c->impl : NULL;
}

unsigned int pw_connector_caps(const pw_connector *c)
{
	return c ? c->ops->caps : 0;
}

pw_manager *pw_connector_manager(const pw_connector *c)
{
	return c ? c->manager : NULL;
}

const char *pw_connector_name(const pw_connector *c)
{
	return c ? c->name : NULL;
}

const char *pw_connector_type(const pw_connector *c)
{
	return c ? c->type : NULL;
}

static int unsupported(pw_error **err, const pw_connector *c, const char *op)
{
	return pw_error_set(err, PW_EUNIMPLEMENTED, "cannot %s: connector '%s' does not support it", op,
	                    c->name);
}

int pw_connector_validate_config(pw_connector *c, const pw_step *step, pw_error **err)
{
	if (!c->ops->validate_config)
		return 0;
	return c->ops->validate_config(c, step, err);
}

int pw_connector_pre_execute(pw_connector *c, const pw_step *step, pw_exec *ex, pw_error **err)
{
	if (!c->ops->pre_execute)
		return 0;
	return c->ops->pre_execute(c, step, ex, err);
}

int pw_connector_execute_step(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                              const pw_map *env, pw_exec *ex, pw_error **err)
{
	*out = NULL;
	int rc = c->ops->execute_step(out, c, step, ws, env, ex, err);
	if (rc == 0 && !*out)
		return pw_error_set(err, PW_EEXTERNAL,
		                    "connector '%s' returned neither a result nor an error", c->name);
	/* a result beside an error stays: the process's status, output and metadata of a step
	 * the connector failed after it ran */
	return rc;
}

int pw_connector_post_execute(pw_connector *c, const pw_step *step, const pw_result *result, pw_exec *ex,
                              pw_error **err)
{
	if (!c->ops->post_execute)
		return 0;
	return c->ops->post_execute(c, step, result, ex, err);
}

int pw_connector_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_error **err)
{
	*out = NULL;
	if (!c->ops->plan || !(c->ops->caps & PW_CAP_PLAN))
		return unsupported(err, c, "plan");
	return c->ops->plan(out, c, step, ws, env, err);
}

void pw_connector_cancel(pw_connector *c, pw_exec *ex)
{
	if (c && c->ops->cancel)
		c->ops->cancel(c, ex);
}
