/* A shared-object plug-in for the journal tests: custom:sojournal makes config "count" files in
 * config "dir", each journaled through the host table before it is made; with "hold" it then
 * waits until cancelled (or killed); else it removes them, journaling each removal. Its
 * gc_remove deletes the file a record names (and fails while "<dir>/gc-fail" exists). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pipewright/sys/plugin.h>

static const pw_plugin_host *host;

static int sj_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_exec *ex, pw_error **err)
{
	const char *dir = host->step_config_string(step, "dir");
	const char *count = host->step_config_string(step, "count");
	int n = count ? atoi(count) : 1;
	char path[4096], index[16], line[4200];
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/so-%d", dir ? dir : ".", i);
		snprintf(index, sizeof(index), "%d", i);
		const char *attrs[] = {"index", index, NULL};
		pw_journal_object o = {"file", path, "local", NULL, attrs};
		if (host->exec_journal_created(ex, c, &o, err) < 0)
			return PW_EIO; /* not journaled: not made */
		FILE *f = fopen(path, "w");
		if (!f)
			return host->error_set(err, PW_EIO, "cannot make %s: %s", path, strerror(errno));
		fclose(f);
		int len = snprintf(line, sizeof(line), "created %s\n", path);
		host->exec_output(ex, PW_STREAM_STDOUT, line, (size_t)len);
	}
	if (host->step_config_has(step, "hold")) {
		struct pollfd p = {host->exec_cancel_fd(ex), POLLIN, 0};
		poll(&p, 1, 60000);
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/so-%d", dir ? dir : ".", i);
		unlink(path);
		pw_journal_object o = {"file", path, "local", NULL, NULL};
		host->exec_journal_removed(ex, c, &o);
	}
	*out = host->result_new(0, NULL, NULL);
	return *out ? 0 : PW_ENOMEM;
}

/* The record is JSON; this test plug-in links no JSON library, so it finds "name":"...". */
static int sj_gc_remove(pw_connector *c, const char *record_json, const char *workspace, pw_error **err)
{
	const char *k = strstr(record_json, "\"name\":\"");
	if (!k || !strstr(record_json, "\"index\":\""))
		return host->error_set(err, PW_EINVAL, "not a record of mine: %s", record_json);
	k += 8;
	const char *end = strchr(k, '"');
	char path[4096];
	snprintf(path, sizeof(path), "%.*s", (int)(end - k), k);
	char fail[4200];
	snprintf(fail, sizeof(fail), "%.*s/gc-fail", (int)(strrchr(path, '/') - path), path);
	if (access(fail, F_OK) == 0)
		return host->error_set(err, PW_EIO, "cannot remove %s now", path);
	if (unlink(path) != 0 && errno != ENOENT)
		return host->error_set(err, PW_EIO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static void sj_destroy(pw_connector *c)
{
	(void)c;
}

static const pw_connector_ops sj_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .execute_step = sj_execute,
    .destroy = sj_destroy,
    .gc_remove = sj_gc_remove,
};

static int sj_supports(const char *type, void *payload)
{
	return strcmp(type, "custom:sojournal") == 0;
}

static int sj_create(pw_connector **out, const char *type, pw_manager *mgr, void *payload, pw_error **err)
{
	return host->connector_new(out, &sj_ops, "sojournal", type, NULL, err);
}

static void sj_list(pw_type_list_fn add, void *ctx, void *payload)
{
	add("custom:sojournal", ctx);
}

static const pw_factory_ops sj_factory = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = "sojournal-plugin",
    .supports = sj_supports,
    .create = sj_create,
    .list_types = sj_list,
};

static int init(const pw_plugin_host *h, pw_plugin *plugin, pw_error **err)
{
	host = h; /* PW_PLUGIN_DEFINE checked that the table has every member we know */
	return host->register_factory(plugin, &sj_factory, NULL, err);
}

PW_PLUGIN_DEFINE(init)
