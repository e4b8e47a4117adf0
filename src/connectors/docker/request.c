/* Request bodies and query strings of the Engine API calls the connector makes, built from
 * a validated step configuration (never by pasting text into JSON). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/step.h"
#include "connectors/docker/docker.h"

void pw__docker_url_encode(pw_buf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			pw__buf_putc(b, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			pw__buf_append(b, e, 3);
		}
	}
}

static char *scalar_text(json_t *v)
{
	char buf[64];
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_true(v))
		return strdup("true");
	if (json_is_false(v))
		return strdup("false");
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		pw__real_text(buf, sizeof(buf), json_real_value(v));
	else
		buf[0] = '\0';
	return strdup(buf);
}

static json_t *argv_json(json_t *v, int shell)
{
	json_t *a = json_array();
	if (json_is_string(v)) {
		if (shell) {
			json_array_append_new(a, json_string("/bin/sh"));
			json_array_append_new(a, json_string("-c"));
		}
		json_array_append_new(a, json_string(json_string_value(v)));
		return a;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		char *t = scalar_text(e);
		json_array_append_new(a, json_string(t ? t : ""));
		free(t);
	}
	return a;
}

/* Joins base and a relative path lexically, dropping "." components. */
static void join_path(pw_buf *b, const char *base, const char *rel)
{
	pw__buf_puts(b, base);
	const char *p = rel;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (!(n == 1 && p[0] == '.')) {
			if (b->len == 0 || b->data[b->len - 1] != '/')
				pw__buf_putc(b, '/');
			pw__buf_append(b, p, n);
		}
		p += n;
	}
}

/* keep: the object is kept on purpose (keep_container, keep_image); `pipewright gc` leaves it */
static json_t *labels_json(const char *run_id, const char *step, int keep)
{
	json_t *l = json_object();
	json_object_set_new(l, PW_DOCKER_LABEL_MANAGED, json_string("true"));
	json_object_set_new(l, PW_DOCKER_LABEL_RUN, json_string(run_id ? run_id : ""));
	json_object_set_new(l, PW_DOCKER_LABEL_STEP, json_string(step ? step : ""));
	if (keep)
		json_object_set_new(l, PW_DOCKER_LABEL_KEEP, json_string("true"));
	return l;
}

json_t *pw__docker_create_body(const pw_docker_create_input *in, pw_error **err)
{
	const pw_docker_config *cfg = in->cfg;
	json_t *body = json_object();
	json_t *hc = json_object();
	json_object_set_new(body, "Image", json_string(in->image));
	if (cfg->command)
		json_object_set_new(body, "Cmd", argv_json(cfg->command, 1));
	if (cfg->entrypoint)
		json_object_set_new(body, "Entrypoint", argv_json(cfg->entrypoint, 0));
	json_t *envj = json_array();
	pw_buf kv = PW_BUF_INIT(0);
	for (size_t i = 0; in->env && i < pw_map_count(in->env); i++) {
		const char *k = pw_map_key_at(in->env, i);
		if (!*k || strchr(k, '=') || (cfg->environment && json_object_get(cfg->environment, k)))
			continue;
		pw__buf_clear(&kv);
		pw__buf_printf(&kv, "%s=%s", k, in->redact_env ? "***" : pw_map_value_at(in->env, i));
		json_array_append_new(envj, json_string(pw__buf_cstr(&kv)));
	}
	const char *k;
	json_t *v;
	json_object_foreach(cfg->environment, k, v)
	{
		char *t = scalar_text(v);
		pw__buf_clear(&kv);
		pw__buf_printf(&kv, "%s=%s", k, t ? t : "");
		free(t);
		json_array_append_new(envj, json_string(pw__buf_cstr(&kv)));
	}
	json_object_set_new(body, "Env", envj);
	pw__buf_clear(&kv);
	if (!cfg->working_directory)
		pw__buf_puts(&kv, cfg->workspace_mount);
	else if (cfg->working_directory[0] == '/')
		pw__buf_puts(&kv, cfg->working_directory);
	else
		join_path(&kv, cfg->workspace_mount, cfg->working_directory);
	json_object_set_new(body, "WorkingDir", json_string(pw__buf_cstr(&kv)));
	if (cfg->user)
		json_object_set_new(body, "User", json_string(cfg->user));
	json_object_set_new(body, "Labels", labels_json(in->run_id, in->step, cfg->keep_container));
	json_object_set_new(body, "AttachStdin", json_false());
	json_object_set_new(body, "AttachStdout", json_false());
	json_object_set_new(body, "AttachStderr", json_false());
	json_object_set_new(body, "Tty", json_false());
	json_object_set_new(body, "OpenStdin", json_false());
	json_object_set_new(body, "StopTimeout", json_integer(cfg->stop_timeout));

	json_t *binds = json_array();
	pw__buf_clear(&kv);
	pw__buf_printf(&kv, "%s:%s", in->workspace, cfg->workspace_mount);
	json_array_append_new(binds, json_string(pw__buf_cstr(&kv)));
	size_t i;
	json_array_foreach(cfg->volumes, i, v)
	{
		pw_docker_volume vol;
		const char *why = NULL;
		if (pw__docker_volume_parse(&vol, json_string_value(v), &why) < 0) {
			pw_error_set(err, PW_ECONFIG, "volume '%s' is not valid: %s", json_string_value(v),
			             why);
			goto fail;
		}
		pw__buf_clear(&kv);
		if (vol.is_path && vol.host[0] != '/')
			join_path(&kv, in->workspace, vol.host);
		else
			pw__buf_puts(&kv, vol.host);
		pw__buf_printf(&kv, ":%s%s", vol.container, vol.read_only ? ":ro" : "");
		json_array_append_new(binds, json_string(pw__buf_cstr(&kv)));
	}
	json_object_set_new(hc, "Binds", binds);
	json_object_set_new(hc, "NetworkMode", json_string(cfg->network ? cfg->network : "bridge"));
	if (cfg->cpus > 0)
		json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(cfg->cpus * 1e9)));
	if (cfg->memory > 0)
		json_object_set_new(hc, "Memory", json_integer(cfg->memory));
	if (cfg->shm_size > 0)
		json_object_set_new(hc, "ShmSize", json_integer(cfg->shm_size));
	json_object_set_new(hc, "AutoRemove", json_false());
	json_object_set_new(body, "HostConfig", hc);
	pw__buf_dispose(&kv);
	return body;
fail:
	pw__buf_dispose(&kv);
	json_decref(hc);
	json_decref(body);
	return NULL;
}

static void sanitize_into(pw_buf *b, const char *s)
{
	size_t start = b->len;
	for (const char *p = s; p && *p; p++) {
		char c = (char)tolower((unsigned char)*p);
		pw__buf_putc(b, (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-');
	}
	/* a path component must start and end with a letter or digit */
	while (b->len > start && b->data[start] == '-') {
		memmove(b->data + start, b->data + start + 1, b->len - start);
		b->len--;
	}
	while (b->len > start && b->data[b->len - 1] == '-')
		b->data[--b->len] = '\0';
}

char *pw__docker_build_tag(const char *run_id, const char *step)
{
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "pipewright/");
	size_t start = b.len;
	sanitize_into(&b, run_id);
	if (b.len > start)
		pw__buf_putc(&b, '-');
	sanitize_into(&b, step);
	if (b.len == start)
		pw__buf_puts(&b, "step");
	if (b.len > 200) {
		b.len = 200;
		b.data[b.len] = '\0';
		while (b.data[b.len - 1] == '-')
			b.data[--b.len] = '\0';
	}
	pw__buf_puts(&b, ":latest");
	return pw__buf_detach(&b);
}

static void query_param(pw_buf *b, const char *name, const char *value)
{
	if (b->len)
		pw__buf_putc(b, '&');
	pw__buf_puts(b, name);
	pw__buf_putc(b, '=');
	pw__docker_url_encode(b, value);
}

char *pw__docker_build_query(const pw_docker_config *cfg, const char *tag, const char *dockerfile_in_context,
                             const char *run_id, const char *step)
{
	pw_buf b = PW_BUF_INIT(0);
	query_param(&b, "t", tag);
	query_param(&b, "dockerfile", dockerfile_in_context);
	query_param(&b, "rm", "1");
	query_param(&b, "forcerm", "1");
	if (cfg->pull == PW_DOCKER_PULL_ALWAYS)
		query_param(&b, "pull", "1");
	if (cfg->network && strcmp(cfg->network, "bridge") != 0)
		query_param(&b, "networkmode", cfg->network);
	json_t *labels = labels_json(run_id, step, cfg->keep_image);
	char *lt = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
	query_param(&b, "labels", lt ? lt : "{}");
	free(lt);
	json_decref(labels);
	if (cfg->build_args && json_object_size(cfg->build_args)) {
		json_t *ba = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(cfg->build_args, k, v)
		{
			char *t = scalar_text(v);
			json_object_set_new(ba, k, json_string(t ? t : ""));
			free(t);
		}
		char *bt = json_dumps(ba, JSON_COMPACT);
		query_param(&b, "buildargs", bt ? bt : "{}");
		free(bt);
		json_decref(ba);
	}
	return pw__buf_detach(&b);
}
