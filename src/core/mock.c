/* The seed's MockConnector and a factory of mocks, for the project's own tests. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/sys/mock.h"

typedef struct mock {
	pthread_mutex_t lock;
	pw_result *next_result;
	pw_error *next_error;
	pw_error *validate_error;
	unsigned int calls_validate, calls_pre, calls_execute, calls_post, calls_plan, calls_cancel;
} mock;

static mock *impl(const pw_connector *c)
{
	return pw_connector_impl(c);
}

static pw_error *copy_error(const pw_error *e)
{
	pw_error *c = pw_error_new(pw_error_code(e), "%s", pw_error_message(e));
	pw_error_set_key(c, pw_error_key(e));
	pw_error_set_hint(c, pw_error_hint(e));
	pw_error_set_operation(c, pw_error_operation(e));
	pw_error_set_response(c, pw_error_response(e));
	return c;
}

static int mock_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_validate++;
	int rc = 0;
	if (m->validate_error) {
		rc = pw_error_code(m->validate_error);
		if (err && !*err)
			*err = copy_error(m->validate_error);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mock_pre(pw_connector *c, const pw_step *step, pw_exec *ex, pw_error **err)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_pre++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mock_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                        const pw_map *env, pw_exec *ex, pw_error **err)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_execute++;
	pw_result *r = m->next_result;
	pw_error *e = m->next_error;
	m->next_result = NULL;
	m->next_error = NULL;
	pthread_mutex_unlock(&m->lock);
	if (e) {
		pw_result_free(r);
		int code = pw_error_code(e);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return code;
	}
	*out = r ? r : pw_result_success("");
	return *out ? 0 : PW_ENOMEM;
}

static int mock_post(pw_connector *c, const pw_step *step, const pw_result *result, pw_exec *ex,
                     pw_error **err)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_post++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mock_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                     const pw_map *env, pw_error **err)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_plan++;
	pthread_mutex_unlock(&m->lock);
	*out = pw_strdup("mock: would return the next scripted result");
	return *out ? 0 : PW_ENOMEM;
}

static void mock_cancel(pw_connector *c, pw_exec *ex)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	m->calls_cancel++;
	pthread_mutex_unlock(&m->lock);
}

static void mock_destroy(pw_connector *c)
{
	mock *m = impl(c);
	pw_result_free(m->next_result);
	pw_error_free(m->next_error);
	pw_error_free(m->validate_error);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const pw_connector_ops mock_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_CANCEL,
    .validate_config = mock_validate,
    .pre_execute = mock_pre,
    .execute_step = mock_execute,
    .post_execute = mock_post,
    .plan = mock_plan,
    .cancel = mock_cancel,
    .destroy = mock_destroy,
};

int pw_mock_connector_new(pw_connector **out, const char *name, const char *type, pw_error **err)
{
	mock *m = calloc(1, sizeof(*m));
	if (!m)
		return PW_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	int rc = pw_connector_new(out, &mock_ops, name, type, m, err);
	if (rc < 0) {
		pthread_mutex_destroy(&m->lock);
		free(m);
	}
	return rc;
}

void pw_mock_connector_set_next_result(pw_connector *c, pw_result *result)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	pw_result_free(m->next_result);
	m->next_result = result;
	pthread_mutex_unlock(&m->lock);
}

void pw_mock_connector_set_next_error(pw_connector *c, pw_error *error)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	pw_error_free(m->next_error);
	m->next_error = error;
	pthread_mutex_unlock(&m->lock);
}

void pw_mock_connector_set_validate_error(pw_connector *c, pw_error *error)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	pw_error_free(m->validate_error);
	m->validate_error = error;
	pthread_mutex_unlock(&m->lock);
}

unsigned int pw_mock_connector_calls(const pw_connector *c, const char *op)
{
	mock *m = impl(c);
	pthread_mutex_lock(&m->lock);
	unsigned int n = 0;
	if (!strcmp(op, "validate_config"))
		n = m->calls_validate;
	else if (!strcmp(op, "pre_execute"))
		n = m->calls_pre;
	else if (!strcmp(op, "execute_step"))
		n = m->calls_execute;
	else if (!strcmp(op, "post_execute"))
		n = m->calls_post;
	else if (!strcmp(op, "plan"))
		n = m->calls_plan;
	else if (!strcmp(op, "cancel"))
		n = m->calls_cancel;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* The mock factory: a NULL-terminated list of types it creates mocks for. */
typedef struct mock_factory {
	pw_factory_ops ops;
	char *name;
	char **types;
} mock_factory;

static int mf_supports(const char *type, void *payload)
{
	mock_factory *f = payload;
	for (size_t i = 0; f->types[i]; i++)
		if (strcmp(f->types[i], type) == 0)
			return 1;
	return 0;
}

static int mf_create(pw_connector **out, const char *type, pw_manager *mgr, void *payload, pw_error **err)
{
	mock_factory *f = payload;
	return pw_mock_connector_new(out, f->name, type, err);
}

static void mf_list(pw_type_list_fn add, void *ctx, void *payload)
{
	mock_factory *f = payload;
	for (size_t i = 0; f->types[i]; i++)
		add(f->types[i], ctx);
}

static void mf_free(void *payload)
{
	mock_factory *f = payload;
	for (size_t i = 0; f->types[i]; i++)
		free(f->types[i]);
	free(f->types);
	free(f->name);
	free(f);
}

int pw_mock_factory_register(pw_manager *m, const char *factory_name, const char *const *types,
                             pw_error **err)
{
	mock_factory *f = calloc(1, sizeof(*f));
	if (!f)
		return PW_ENOMEM;
	size_t n = 0;
	while (types && types[n])
		n++;
	f->types = calloc(n + 1, sizeof(char *));
	f->name = strdup(factory_name);
	for (size_t i = 0; f->types && i < n; i++)
		f->types[i] = strdup(types[i]);
	/* The ops table lives with the payload: each mock factory has its own name. */
	f->ops.version = PW_FACTORY_OPS_VERSION;
	f->ops.name = f->name;
	f->ops.supports = mf_supports;
	f->ops.create = mf_create;
	f->ops.list_types = mf_list;
	f->ops.free = mf_free;
	int rc = pw_manager_register_factory(m, &f->ops, f, err);
	if (rc < 0)
		mf_free(f);
	return rc;
}
