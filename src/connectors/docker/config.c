/* Docker step configuration: every key checked with an error that names it and its rule,
 * image references, sizes and volume specs. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/docker/docker.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"

static const char *const docker_keys[] = {"image",
                                          "command",
                                          "dockerfile",
                                          "build_context",
                                          "working_directory",
                                          "environment",
                                          "entrypoint",
                                          "user",
                                          "volumes",
                                          "network",
                                          "pull",
                                          "cpus",
                                          "memory",
                                          "shm_size",
                                          "keep_container",
                                          "stop_timeout",
                                          "build_args",
                                          "keep_image",
                                          "allow_host_paths",
                                          "host",
                                          "workspace_mount",
                                          NULL};

static void add(pw_error **err, int *rc, const char *key, const char *hint, const char *fmt, ...)
    PW_PRINTF(5, 6);

static void add(pw_error **err, int *rc, const char *key, const char *hint, const char *fmt, ...)
{
	*rc = PW_ECONFIG;
	if (!err)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(PW_ECONFIG, "%s", msg);
	if (!e)
		return;
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

/* ---- image references (the grammar of distribution/reference) ---- */

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
static int path_component_ok(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	size_t i = 0;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t len = j - i;
		const char *sep = s + i;
		int ok = (len == 1 && (*sep == '.' || *sep == '_' || *sep == '-')) ||
		         (len == 2 && sep[0] == '_' && sep[1] == '_');
		if (!ok) {
			ok = 1;
			for (size_t k = 0; k < len; k++)
				if (sep[k] != '-')
					ok = 0;
		}
		if (!ok)
			return 0;
		i = j;
	}
	return 1;
}

/* domain := component ('.' component)* (':' port)?, component := [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static int domain_ok(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n;
	if (colon) {
		size_t pn = n - hn - 1;
		if (pn == 0 || pn > 5)
			return 0;
		for (size_t i = 0; i < pn; i++)
			if (!isdigit((unsigned char)colon[1 + i]))
				return 0;
	}
	size_t i = 0;
	while (i < hn) {
		size_t j = i;
		while (j < hn && s[j] != '.')
			j++;
		if (j == i || !isalnum((unsigned char)s[i]) || !isalnum((unsigned char)s[j - 1]))
			return 0;
		for (size_t k = i; k < j; k++)
			if (!isalnum((unsigned char)s[k]) && s[k] != '-')
				return 0;
		i = j + 1;
		if (j < hn && i == hn)
			return 0;
	}
	return hn > 0;
}

static int tag_ok(const char *s, size_t n)
{
	if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static int digest_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !isalpha((unsigned char)s[0]))
		return 0;
	for (const char *p = s; p < colon; p++)
		if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '.' || *p == '-' || *p == '_'))
			return 0;
	size_t hex = strlen(colon + 1);
	if (hex < 32)
		return 0;
	for (const char *p = colon + 1; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* Finds where the name ends: the tag colon is the last ':' after the last '/'. */
static void ref_parts(const char *ref, size_t *name_len, const char **tag, size_t *tag_len,
                      const char **digest)
{
	const char *at = strchr(ref, '@');
	size_t base = at ? (size_t)(at - ref) : strlen(ref);
	*digest = at ? at + 1 : NULL;
	const char *slash = NULL;
	for (size_t i = 0; i < base; i++)
		if (ref[i] == '/')
			slash = ref + i;
	const char *colon = NULL;
	for (const char *p = slash ? slash : ref; p < ref + base; p++)
		if (*p == ':')
			colon = p;
	*name_len = colon ? (size_t)(colon - ref) : base;
	*tag = colon ? colon + 1 : NULL;
	*tag_len = colon ? (size_t)(ref + base - colon - 1) : 0;
}

/* Whether the first component is a registry host (has '.' or ':', is localhost, or has
 * upper-case letters, which a path component cannot). */
static int first_is_domain(const char *s, size_t n)
{
	if (memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && memcmp(s, "localhost", 9) == 0))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)s[i]))
			return 1;
	return 0;
}

int pw__docker_image_ref_valid(const char *ref)
{
	if (!ref || !*ref || strlen(ref) > 512)
		return 0;
	size_t name_len, tag_len;
	const char *tag, *digest;
	ref_parts(ref, &name_len, &tag, &tag_len, &digest);
	if (name_len == 0 || name_len > 255)
		return 0;
	if (tag && !tag_ok(tag, tag_len))
		return 0;
	if (digest && !digest_ok(digest))
		return 0;
	size_t i = 0, comp = 0;
	while (i <= name_len) {
		size_t j = i;
		while (j < name_len && ref[j] != '/')
			j++;
		int ok = (comp == 0 && j < name_len && first_is_domain(ref + i, j - i))
		             ? domain_ok(ref + i, j - i)
		             : path_component_ok(ref + i, j - i);
		if (!ok)
			return 0;
		comp++;
		i = j + 1;
	}
	return 1;
}

int pw__docker_image_ref_split(char **name, char **tag, char **registry, const char *ref)
{
	size_t name_len, tag_len;
	const char *t, *digest;
	ref_parts(ref, &name_len, &t, &tag_len, &digest);
	*name = strndup(ref, name_len);
	if (digest)
		*tag = strdup(digest);
	else if (t)
		*tag = strndup(t, tag_len);
	else
		*tag = strdup("latest");
	const char *slash = memchr(ref, '/', name_len);
	if (slash && first_is_domain(ref, (size_t)(slash - ref)))
		*registry = strndup(ref, (size_t)(slash - ref));
	else
		*registry = strdup("docker.io");
	if (!*name || !*tag || !*registry) {
		free(*name);
		free(*tag);
		free(*registry);
		*name = *tag = *registry = NULL;
		return PW_ENOMEM;
	}
	return 0;
}

int pw__docker_parse_size(int64_t *out, const char *text)
{
	if (!text || !isdigit((unsigned char)text[0]))
		return PW_EINVAL;
	errno = 0;
	char *end = NULL;
	double v = strtod(text, &end);
	if (errno || end == text || v < 0)
		return PW_EINVAL;
	while (*end == ' ')
		end++;
	double mul = 1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'b':
		end++;
		break;
	case 'k':
		mul = 1024.0;
		end++;
		break;
	case 'm':
		mul = 1024.0 * 1024;
		end++;
		break;
	case 'g':
		mul = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't':
		mul = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return PW_EINVAL;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (mul > 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end)
		return PW_EINVAL;
	v *= mul;
	if (v > 9.0e18)
		return PW_EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int abs_clean_path(const char *p)
{
	if (!p || p[0] != '/')
		return 0;
	for (const char *s = p; *s; s++)
		if (*s == ':' || *s == '\n')
			return 0;
	const char *c = p;
	while (*c) {
		while (*c == '/')
			c++;
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return 0;
		c += n;
	}
	return 1;
}

static int volume_name_ok(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return 0;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

int pw__docker_volume_parse(pw_docker_volume *out, const char *spec, const char **why)
{
	memset(out, 0, sizeof(*out));
	const char *c1 = strchr(spec, ':');
	if (!c1 || c1 == spec) {
		*why = "a volume is \"host:container\" or \"host:container:ro\"";
		return PW_EINVAL;
	}
	const char *c2 = strchr(c1 + 1, ':');
	size_t hn = (size_t)(c1 - spec);
	size_t cn = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (hn >= sizeof(out->host) || cn >= sizeof(out->container)) {
		*why = "the path is too long";
		return PW_EINVAL;
	}
	memcpy(out->host, spec, hn);
	memcpy(out->container, c1 + 1, cn);
	if (c2) {
		if (!strcmp(c2 + 1, "ro"))
			out->read_only = 1;
		else if (strcmp(c2 + 1, "rw") != 0) {
			*why = "the mode after the second ':' is \"ro\" or \"rw\"";
			return PW_EINVAL;
		}
	}
	if (!abs_clean_path(out->container)) {
		*why = "the container path must be absolute, without '..'";
		return PW_EINVAL;
	}
	out->is_path = out->host[0] == '/' || out->host[0] == '.';
	if (!out->is_path && !volume_name_ok(out->host)) {
		*why = "the host side is a path (starting with '/' or '.') or a volume name "
		       "([A-Za-z0-9][A-Za-z0-9_.-]*)";
		return PW_EINVAL;
	}
	return 0;
}

static int is_scalar(json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static void check_argv(pw_error **err, int *rc, json_t *v, const char *key, int allow_empty_string)
{
	if (json_is_string(v)) {
		if (!allow_empty_string && !*json_string_value(v))
			add(err, rc, key, "write the command to run", "%s is empty", key);
		return;
	}
	if (!json_is_array(v)) {
		add(err, rc, key, "a string (run by /bin/sh -c) or a list of strings (argv, no shell)",
		    "%s must be a string or a list of strings", key);
		return;
	}
	if (json_array_size(v) == 0 && !allow_empty_string)
		add(err, rc, key, "list the program and its arguments", "%s list is empty", key);
	size_t i;
	json_t *a;
	json_array_foreach(v, i, a)
	{
		if (!json_is_string(a) && !json_is_number(a)) {
			char k[64];
			snprintf(k, sizeof(k), "%s.%zu", key, i);
			add(err, rc, k, "quote it so that it is a string", "%s is not a string", k);
		}
	}
}

static void check_map(pw_error **err, int *rc, json_t *v, const char *key)
{
	if (!json_is_object(v)) {
		add(err, rc, key, "a mapping of NAME: value", "%s must be a mapping", key);
		return;
	}
	const char *k;
	json_t *val;
	json_object_foreach(v, k, val)
	{
		char path[300];
		snprintf(path, sizeof(path), "%s.%s", key, k);
		if (!pw__env_name_valid(k))
			add(err, rc, path, "names are letters, digits and '_', not starting with a digit",
			    "%s: name '%s' is not valid", key, k);
		else if (!is_scalar(val))
			add(err, rc, path, "quote the value",
			    "%s: the value of '%s' must be a string, number or boolean", key, k);
	}
}

static void check_bool(pw_error **err, int *rc, json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	if (v && !json_is_boolean(v))
		add(err, rc, key, "write true or false", "%s must be true or false", key);
}

static void check_size(pw_error **err, int *rc, json_t *cfg, const char *key, int64_t min)
{
	json_t *v = json_object_get(cfg, key);
	if (!v)
		return;
	int64_t n = 0;
	int ok = 0;
	long long i;
	if (pw__config_integer(v, &i)) {
		n = i;
		ok = n >= 0;
	} else if (json_is_string(v)) {
		ok = pw__docker_parse_size(&n, json_string_value(v)) == 0;
	}
	if (!ok)
		add(err, rc, key, "bytes as a number, or with a unit: 512k, 256m, 2g", "%s must be a size",
		    key);
	else if (n < min)
		add(err, rc, key, NULL, "%s must be at least %lld bytes (Docker's minimum)", key,
		    (long long)min);
}

static int network_ok(const char *n)
{
	if (!strcmp(n, "bridge") || !strcmp(n, "none") || !strcmp(n, "host"))
		return 1;
	return volume_name_ok(n);
}

static int host_ok(const char *h)
{
	if (!strncmp(h, "unix://", 7))
		return h[7] == '/';
	if (!strncmp(h, "tcp://", 6) || !strncmp(h, "http://", 7) || !strncmp(h, "https://", 8))
		return strstr(h, "://")[3] != '\0';
	return 0;
}

static void check_path_key(pw_error **err, int *rc, json_t *cfg, const char *key, int allow_host)
{
	json_t *v = json_object_get(cfg, key);
	if (!v)
		return;
	if (!json_is_string(v) || !*json_string_value(v)) {
		add(err, rc, key, "a path relative to the workspace", "%s must be a path", key);
		return;
	}
	if (!allow_host && !(*json_string_value(v) && pw__path_stays_inside(json_string_value(v))))
		add(err, rc, key,
		    "use a path relative to the workspace that stays inside it, or set allow_host_paths: "
		    "true",
		    "%s '%s' leaves the workspace", key, json_string_value(v));
}

int pw__docker_config_validate(const pw_step *step, pw_error **err)
{
	int rc = 0;
	json_t *cfg = step->config;
	const char *key;
	json_t *v;
	json_object_foreach(cfg, key, v)
	{
		if (pw__suggest_known(key, docker_keys))
			continue;
		const char *near = pw__suggest(key, docker_keys);
		char hint[512];
		if (near)
			snprintf(hint, sizeof(hint), "did you mean '%s'?", near);
		else
			snprintf(hint, sizeof(hint), "see docs/docker.md for the docker connector's keys");
		add(err, &rc, key, hint, "unknown docker config key '%s'", key);
	}
	json_t *image = json_object_get(cfg, "image");
	json_t *dockerfile = json_object_get(cfg, "dockerfile");
	if (image && (!json_is_string(image) || !pw__docker_image_ref_valid(json_string_value(image))))
		add(err, &rc, "image",
		    "a reference like alpine, alpine:3.19, registry.example.com:5000/team/app:1.2 or "
		    "name@sha256:<64 hex>",
		    "image '%s' is not a valid image reference",
		    json_is_string(image) ? json_string_value(image) : "?");
	if (image && dockerfile)
		add(err, &rc, "dockerfile",
		    "drop `image:` (the built image is what runs) or drop `dockerfile:`",
		    "image and dockerfile exclude each other: the step runs either a given image or the one "
		    "it builds");
	if (!image && !dockerfile)
		add(err, &rc, "image", "give `image:` (an image reference) or `dockerfile:` (to build one)",
		    "step '%s' has neither image nor dockerfile", step->name);
	int allow_host = json_is_true(json_object_get(cfg, "allow_host_paths"));
	check_path_key(err, &rc, cfg, "dockerfile", allow_host);
	check_path_key(err, &rc, cfg, "build_context", allow_host);
	static const char *const build_only[] = {"build_context", "build_args", "keep_image", NULL};
	for (size_t i = 0; build_only[i]; i++)
		if (json_object_get(cfg, build_only[i]) && !dockerfile)
			add(err, &rc, build_only[i], "add `dockerfile:` or remove this key",
			    "%s applies only with dockerfile", build_only[i]);
	if ((v = json_object_get(cfg, "build_args")))
		check_map(err, &rc, v, "build_args");
	if ((v = json_object_get(cfg, "command")))
		check_argv(err, &rc, v, "command", 0);
	if ((v = json_object_get(cfg, "entrypoint")))
		check_argv(err, &rc, v, "entrypoint", 1);
	if ((v = json_object_get(cfg, "environment")))
		check_map(err, &rc, v, "environment");
	if ((v = json_object_get(cfg, "working_directory"))) {
		const char *w = json_is_string(v) ? json_string_value(v) : NULL;
		int ok = w && *w && strstr(w, "..") == NULL && !strchr(w, '\n');
		if (!ok)
			add(err, &rc, "working_directory",
			    "an absolute path in the container, or one relative to the workspace mount, "
			    "without '..'",
			    "working_directory must be a path in the container");
	}
	if ((v = json_object_get(cfg, "workspace_mount")) &&
	    (!json_is_string(v) || !abs_clean_path(json_string_value(v)) ||
	     !strcmp(json_string_value(v), "/")))
		add(err, &rc, "workspace_mount",
		    "an absolute path in the container other than /, such as /workspace",
		    "workspace_mount must be an absolute container path");
	if ((v = json_object_get(cfg, "user"))) {
		int ok =
		    (json_is_string(v) && *json_string_value(v) && !strpbrk(json_string_value(v), " \t\n")) ||
		    (json_is_integer(v) && json_integer_value(v) >= 0);
		if (!ok)
			add(err, &rc, "user",
			    "a user name or uid, optionally with :group or :gid (\"1000:1000\")",
			    "user must be a name or uid[:gid]");
	}
	if ((v = json_object_get(cfg, "volumes"))) {
		if (!json_is_array(v)) {
			add(err, &rc, "volumes", "a list of \"host:container[:ro]\"",
			    "volumes must be a list");
		} else {
			size_t i;
			json_t *a;
			json_array_foreach(v, i, a)
			{
				char k[64];
				snprintf(k, sizeof(k), "volumes.%zu", i);
				const char *why = "a volume is a string \"host:container[:ro]\"";
				pw_docker_volume vol;
				if (!json_is_string(a) ||
				    pw__docker_volume_parse(&vol, json_string_value(a), &why) < 0) {
					add(err, &rc, k, why, "volume '%s' is not valid",
					    json_is_string(a) ? json_string_value(a) : "?");
					continue;
				}
				if (vol.is_path && !allow_host && vol.host[0] == '/')
					add(err, &rc, k,
					    "use a path relative to the workspace (./data), or set "
					    "allow_host_paths: true",
					    "volume '%s' mounts a host path outside the workspace",
					    json_string_value(a));
				else if (vol.is_path && !allow_host &&
				         !(*vol.host && pw__path_stays_inside(vol.host)))
					add(err, &rc, k,
					    "use a path relative to the workspace that stays inside it",
					    "volume '%s' leaves the workspace", json_string_value(a));
			}
		}
	}
	if ((v = json_object_get(cfg, "network")) &&
	    (!json_is_string(v) || !network_ok(json_string_value(v))))
		add(err, &rc, "network", "bridge (default), none, host, or the name of a network",
		    "network must be bridge, none, host or a network name");
	if ((v = json_object_get(cfg, "pull"))) {
		const char *p = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(p, "always") && strcmp(p, "if-not-present") && strcmp(p, "never"))
			add(err, &rc, "pull", "one of: always, if-not-present (default), never",
			    "pull must be always, if-not-present or never");
	}
	double d = 0;
	long long i = 0;
	if ((v = json_object_get(cfg, "cpus")) && (!pw__config_number(v, &d) || d <= 0 || d > 1024))
		add(err, &rc, "cpus", "a number of CPUs such as 0.5 or 2",
		    "cpus must be a number above 0 (at most 1024)");
	check_size(err, &rc, cfg, "memory", 6 * 1024 * 1024);
	check_size(err, &rc, cfg, "shm_size", 1);
	check_bool(err, &rc, cfg, "keep_container");
	check_bool(err, &rc, cfg, "keep_image");
	check_bool(err, &rc, cfg, "allow_host_paths");
	if ((v = json_object_get(cfg, "stop_timeout")) && (!pw__config_integer(v, &i) || i < 0 || i > 3600))
		add(err, &rc, "stop_timeout", "whole seconds between SIGTERM and SIGKILL, 0 to 3600",
		    "stop_timeout must be an integer number of seconds");
	if ((v = json_object_get(cfg, "host")) && (!json_is_string(v) || !host_ok(json_string_value(v))))
		add(err, &rc, "host", "unix:///var/run/docker.sock or tcp://HOST:PORT",
		    "host must be a unix:// or tcp:// address");
	return rc;
}

static const char *str(json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t size_of(json_t *v)
{
	int64_t n = 0;
	long long i;
	if (pw__config_integer(v, &i))
		return i;
	if (json_is_string(v) && pw__docker_parse_size(&n, json_string_value(v)) == 0)
		return n;
	return 0;
}

void pw__docker_config_read(pw_docker_config *out, const pw_step *step)
{
	json_t *cfg = step->config;
	memset(out, 0, sizeof(*out));
	out->image = str(cfg, "image");
	out->command = json_object_get(cfg, "command");
	out->entrypoint = json_object_get(cfg, "entrypoint");
	out->dockerfile = str(cfg, "dockerfile");
	out->build_context = str(cfg, "build_context");
	if (!out->build_context)
		out->build_context = ".";
	out->build_args = json_object_get(cfg, "build_args");
	out->working_directory = str(cfg, "working_directory");
	out->environment = json_object_get(cfg, "environment");
	out->user = str(cfg, "user");
	json_t *u = json_object_get(cfg, "user");
	if (json_is_integer(u)) {
		/* rendered once into the step's text cache by pw_step_config_string */
		out->user = pw_step_config_string(step, "user");
	}
	out->volumes = json_object_get(cfg, "volumes");
	out->network = str(cfg, "network");
	out->host = str(cfg, "host");
	out->workspace_mount = str(cfg, "workspace_mount");
	if (!out->workspace_mount)
		out->workspace_mount = PW_DOCKER_DEFAULT_WORKSPACE_MOUNT;
	const char *p = str(cfg, "pull");
	out->pull = !p || !strcmp(p, "if-not-present") ? PW_DOCKER_PULL_IF_NOT_PRESENT
	            : !strcmp(p, "always")             ? PW_DOCKER_PULL_ALWAYS
	                                               : PW_DOCKER_PULL_NEVER;
	json_t *c = json_object_get(cfg, "cpus");
	if (!pw__config_number(c, &out->cpus))
		out->cpus = 0;
	out->memory = size_of(json_object_get(cfg, "memory"));
	out->shm_size = size_of(json_object_get(cfg, "shm_size"));
	out->keep_container = json_is_true(json_object_get(cfg, "keep_container"));
	out->keep_image = json_is_true(json_object_get(cfg, "keep_image"));
	out->allow_host_paths = json_is_true(json_object_get(cfg, "allow_host_paths"));
	json_t *st = json_object_get(cfg, "stop_timeout");
	long long sti;
	out->stop_timeout = pw__config_integer(st, &sti) ? (int)sti : PW_DOCKER_DEFAULT_STOP_TIMEOUT;
}
