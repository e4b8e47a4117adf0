/* Plug-ins that go wrong in one way each, built once per VARIANT for the loader's tests. */
#include <string.h>

#include <pipewright/sys/plugin.h>

#if !defined(VARIANT_ABI) && !defined(VARIANT_NOENTRY)
static const pw_plugin_host *host;

static int any_supports(const char *type, void *payload)
{
	return strcmp(type, (const char *)payload) == 0;
}

static int any_create(pw_connector **out, const char *type, pw_manager *m, void *payload, pw_error **err)
{
	return host->error_set(err, PW_EUNIMPLEMENTED, "test plug-in creates nothing");
}

static void any_list(pw_type_list_fn add, void *ctx, void *payload)
{
	add((const char *)payload, ctx);
}

/* The loader calls it for factories of a plug-in that failed to load. */
static void any_free(void *payload)
{
	(void)payload; /* payloads here are string literals */
}

__attribute__((unused)) static const pw_factory_ops factory_a = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "test-a",
    .supports = any_supports,
    .create = any_create,
    .list_types = any_list,
    .free = any_free,
};

__attribute__((unused)) static const pw_factory_ops factory_b = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "test-b",
    .supports = any_supports,
    .create = any_create,
    .list_types = any_list,
    .free = any_free,
};
#endif

#if defined(VARIANT_ABI)
/* Built for an ABI this host does not speak. */
PW_PLUGIN_EXPORT int pipewright_plugin_init(unsigned int abi, const pw_plugin_host *h, pw_plugin *p,
                                            pw_error **err);
int pipewright_plugin_init(unsigned int abi, const pw_plugin_host *h, pw_plugin *p, pw_error **err)
{
	return abi == 999 ? 0 : PW_EABI;
}
#elif defined(VARIANT_NOENTRY)
/* Exports something else. */
PW_PLUGIN_EXPORT int pipewright_plugin_start(void);
int pipewright_plugin_start(void)
{
	return 0;
}
#else
static int init(const pw_plugin_host *h, pw_plugin *plugin, pw_error **err)
{
	host = h;
#if defined(VARIANT_INITFAIL)
	/* registers, then finds it cannot work: the factory must be released, not registered */
	host->register_factory(plugin, &factory_a, (void *)"custom:initfail", err);
	int rc = host->error_set(err, PW_ECONFIG, "TEST_PLUGIN_TOKEN is not set");
	if (err && *err)
		host->error_set_hint(*err, "export TEST_PLUGIN_TOKEN before loading this plug-in");
	return rc;
#elif defined(VARIANT_DUPSHELL)
	return host->register_factory(plugin, &factory_a, (void *)"shell", err);
#elif defined(VARIANT_DUPGREET)
	return host->register_factory(plugin, &factory_a, (void *)"custom:greet", err);
#elif defined(VARIANT_DUPSELF)
	host->register_factory(plugin, &factory_a, (void *)"custom:twice", err);
	return host->register_factory(plugin, &factory_b, (void *)"custom:twice", err);
#elif defined(VARIANT_NOFACTORY)
	return 0;
#elif defined(VARIANT_TWO)
	host->register_factory(plugin, &factory_a, (void *)"custom:two-a", err);
	return host->register_factory(plugin, &factory_b, (void *)"custom:two-b", err);
#else
#error "define a VARIANT_*"
#endif
}

PW_PLUGIN_DEFINE(init)
#endif
