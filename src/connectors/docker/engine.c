/* Finding the engine (step host, DOCKER_HOST, Docker's and Podman's sockets), reading what
 * it says about itself, registry credentials for pulls, and the build output stream. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/docker/docker.h"
#include "proc/proc.h"

static int copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return PW_EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

int pw__docker_endpoint_parse(pw_docker_endpoint *out, const char *url, int tls, const char *cert_dir,
                              const char *origin, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	if (copy(out->url, sizeof(out->url), url) < 0 || copy(out->origin, sizeof(out->origin), origin) < 0)
		return pw_error_set(err, PW_EINVAL, "engine address is too long");
	if (!strncmp(url, "unix://", 7)) {
		if (url[7] != '/' || copy(out->socket, sizeof(out->socket), url + 7) < 0)
			return pw_error_set(err, PW_EINVAL,
			                    "engine address '%s' is not unix:///absolute/path", url);
		copy(out->base, sizeof(out->base), "http://localhost");
		return 0;
	}
	const char *hostport = NULL;
	if (!strncmp(url, "tcp://", 6))
		hostport = url + 6;
	else if (!strncmp(url, "http://", 7))
		hostport = url + 7, tls = 0;
	else if (!strncmp(url, "https://", 8))
		hostport = url + 8, tls = 1;
	if (!hostport || !*hostport)
		return pw_error_set(err, PW_EINVAL, "engine address '%s' is neither unix:// nor tcp://", url);
	size_t hl = strcspn(hostport, "/");
	if (hl + 16 >= sizeof(out->base))
		return pw_error_set(err, PW_EINVAL, "engine address '%s' is too long", url);
	snprintf(out->base, sizeof(out->base), "%s://%.*s", tls ? "https" : "http", (int)hl, hostport);
	out->tls = tls;
	if (cert_dir)
		copy(out->cert_dir, sizeof(out->cert_dir), cert_dir);
	return 0;
}

size_t pw__docker_candidates(pw_docker_endpoint *out, size_t max, const char *config_host,
                             const char *(*getenv_fn)(const char *name))
{
	const char *(*ge)(const char *) = getenv_fn ? getenv_fn : (const char *(*)(const char *))getenv;
	const char *home = ge("HOME");
	char certs[4096];
	const char *cp = ge("DOCKER_CERT_PATH");
	if (cp && *cp)
		snprintf(certs, sizeof(certs), "%s", cp);
	else
		snprintf(certs, sizeof(certs), "%s/.docker", home && *home ? home : "");
	const char *tv = ge("DOCKER_TLS_VERIFY");
	int tls = tv && *tv && strcmp(tv, "0") != 0;
	size_t n = 0;
	if (config_host && max > n) {
		if (pw__docker_endpoint_parse(&out[n], config_host, tls, certs, "the step's host", NULL) == 0)
			n++;
		return n;
	}
	const char *dh = ge("DOCKER_HOST");
	if (dh && *dh && max > n) {
		if (pw__docker_endpoint_parse(&out[n], dh, tls, certs, "DOCKER_HOST", NULL) == 0)
			n++;
		return n;
	}
	if (max > n && pw__docker_endpoint_parse(&out[n], "unix:///var/run/docker.sock", 0, NULL,
	                                         "Docker's default", NULL) == 0)
		n++;
	const char *xdg = ge("XDG_RUNTIME_DIR");
	if (xdg && *xdg && max > n) {
		char u[4200];
		snprintf(u, sizeof(u), "unix://%s/podman/podman.sock", xdg);
		if (pw__docker_endpoint_parse(&out[n], u, 0, NULL, "Podman's user socket", NULL) == 0)
			n++;
	}
	if (max > n && pw__docker_endpoint_parse(&out[n], "unix:///run/podman/podman.sock", 0, NULL,
	                                         "Podman's system socket", NULL) == 0)
		n++;
	return n;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *base64(const unsigned char *in, size_t n, const char *alphabet)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(int c)
{
	const char *p = c ? strchr(b64std, c) : NULL;
	if (p)
		return (int)(p - b64std);
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

static char *unbase64(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=' || isspace((unsigned char)in[i]))
			continue;
		int v = b64val((unsigned char)in[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* The auths key matching a registry: exact, with a scheme, or Docker Hub's legacy key. */
static json_t *find_auth(json_t *auths, const char *registry)
{
	const char *key;
	json_t *v;
	int hub = !strcmp(registry, "docker.io") || !strcmp(registry, "index.docker.io") ||
	          !strcmp(registry, "registry-1.docker.io");
	json_object_foreach(auths, key, v)
	{
		const char *k = key;
		if (!strncmp(k, "https://", 8))
			k += 8;
		else if (!strncmp(k, "http://", 7))
			k += 7;
		size_t kl = strcspn(k, "/");
		if (strlen(registry) == kl && !strncmp(k, registry, kl))
			return v;
		if (hub && (!strncmp(k, "index.docker.io", kl) || !strncmp(k, "docker.io", kl) ||
		            !strncmp(k, "registry-1.docker.io", kl)))
			return v;
	}
	return NULL;
}

static void collect(int stream, const char *data, size_t len, void *payload)
{
	if (stream == PW_PROC_STDOUT)
		pw__buf_append(payload, data, len);
}

/* Asks a credential helper (docker-credential-NAME get, the protocol of
 * docker/docker-credential-helpers) for a registry's credentials: the server address on
 * stdin, {"ServerURL","Username","Secret"} on stdout. Returns the answer (caller decrefs) or
 * NULL: no such helper, no credentials stored, or an unusable answer -- then the pull goes
 * without credentials, as Docker's does. */
static json_t *ask_helper(const char *helper, const char *registry)
{
	if (!helper || !*helper || strchr(helper, '/') || strlen(helper) > 64)
		return NULL;
	char prog[96], server[512];
	snprintf(prog, sizeof(prog), "docker-credential-%s", helper);
	int hub = !strcmp(registry, "docker.io") || !strcmp(registry, "index.docker.io") ||
	          !strcmp(registry, "registry-1.docker.io");
	/* Docker stores Docker Hub under its legacy index address */
	snprintf(server, sizeof(server), "%s", hub ? "https://index.docker.io/v1/" : registry);
	/* helpers find their store through HOME, and the desktop ones through D-Bus */
	static const char *const pass[] = {"PATH",
	                                   "HOME",
	                                   "XDG_RUNTIME_DIR",
	                                   "DBUS_SESSION_BUS_ADDRESS",
	                                   "DOCKER_CONFIG",
	                                   "PASSWORD_STORE_DIR",
	                                   "GNUPGHOME"};
	char *envs[sizeof(pass) / sizeof(pass[0]) + 1];
	size_t ne = 0;
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = getenv(pass[i]);
		if (!v)
			continue;
		size_t l = strlen(pass[i]) + strlen(v) + 2;
		if ((envs[ne] = malloc(l)))
			snprintf(envs[ne++], l, "%s=%s", pass[i], v);
	}
	envs[ne] = NULL;
	const char *argv[] = {prog, "get", NULL};
	pw_buf outb = PW_BUF_INIT(64 * 1024);
	pw_proc_options o = PW_PROC_OPTIONS_INIT;
	o.argv = argv;
	o.envp = (const char *const *)envs;
	o.timeout_ms = 30000;
	o.kill_grace_ms = 1000;
	o.stdin_data = server;
	o.stdin_len = strlen(server);
	o.on_output = collect;
	o.payload = &outb;
	pw_proc_result r;
	pw_error *e = NULL;
	int rc = pw__proc_run(&r, &o, &e);
	pw_error_free(e);
	for (size_t i = 0; i < ne; i++)
		free(envs[i]);
	json_t *answer = NULL;
	if (rc == 0 && r.exited && r.exit_code == 0) {
		answer = json_loads(pw__buf_cstr(&outb), 0, NULL);
		if (!json_is_string(json_object_get(answer, "Secret")) ||
		    !*json_string_value(json_object_get(answer, "Secret"))) {
			json_decref(answer);
			answer = NULL;
		}
	}
	pw__buf_dispose(&outb);
	return answer;
}

int pw__docker_registry_auth(char **out, char **secret_out, const char *config_json, const char *registry)
{
	*out = NULL;
	if (secret_out)
		*secret_out = NULL;
	if (!config_json)
		return 0;
	json_t *root = json_loads(config_json, 0, NULL);
	json_t *entry = find_auth(json_object_get(root, "auths"), registry);
	/* a credential helper for this registry (credHelpers) or for all (credsStore) holds the
	 * secret; `auths` then lists the registry with an empty entry, if at all */
	json_t *helped = NULL;
	const char *helper =
	    json_string_value(json_object_get(json_object_get(root, "credHelpers"), registry));
	if (!helper)
		helper = json_string_value(json_object_get(root, "credsStore"));
	if (helper && (!entry || !json_object_size(entry))) {
		json_t *answer = ask_helper(helper, registry);
		if (answer) {
			const char *user = json_string_value(json_object_get(answer, "Username"));
			const char *secret = json_string_value(json_object_get(answer, "Secret"));
			/* "<token>" as the user name marks an identity token */
			helped = user && strcmp(user, "<token>") != 0
			             ? json_pack("{s:s, s:s}", "username", user, "password", secret)
			             : json_pack("{s:s}", "identitytoken", secret);
			json_decref(answer);
			entry = helped;
		}
	}
	if (!entry) {
		json_decref(root);
		return 0;
	}
	json_t *req = json_object();
	const char *secret = NULL;
	char *decoded = NULL;
	json_t *tok = json_object_get(entry, "identitytoken");
	json_t *auth = json_object_get(entry, "auth");
	if (json_is_string(tok) && *json_string_value(tok)) {
		json_object_set_new(req, "identitytoken", json_string(json_string_value(tok)));
		secret = json_string_value(tok);
	} else if (json_is_string(auth) && (decoded = unbase64(json_string_value(auth))) &&
	           strchr(decoded, ':')) {
		char *colon = strchr(decoded, ':');
		*colon = '\0';
		json_object_set_new(req, "username", json_string(decoded));
		json_object_set_new(req, "password", json_string(colon + 1));
		secret = colon + 1;
	} else if (json_is_string(json_object_get(entry, "username"))) {
		json_object_set_new(req, "username",
		                    json_string(json_string_value(json_object_get(entry, "username"))));
		json_t *pw = json_object_get(entry, "password");
		json_object_set_new(req, "password",
		                    json_string(json_is_string(pw) ? json_string_value(pw) : ""));
		secret = json_is_string(pw) ? json_string_value(pw) : NULL;
	}
	int rc = 0;
	if (json_object_size(req)) {
		json_object_set_new(req, "serveraddress", json_string(registry));
		char *text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
		*out = text ? base64((const unsigned char *)text, strlen(text), b64url) : NULL;
		free(text);
		if (!*out)
			rc = PW_ENOMEM;
		if (secret_out && secret && *secret)
			*secret_out = strdup(secret);
	}
	free(decoded);
	json_decref(req);
	json_decref(helped);
	json_decref(root);
	return rc;
}

char *pw__docker_read_config_file(void)
{
	char path[4200];
	const char *dc = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	if (dc && *dc)
		snprintf(path, sizeof(path), "%s/config.json", dc);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.docker/config.json", home);
	else
		return NULL;
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(4 << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (pw__buf_append(&b, chunk, n) < 0)
			break;
	fclose(f);
	return pw__buf_detach(&b);
}

/* "1.41" < "1.43": compares dotted numbers. */
static int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		long x = strtol(a, (char **)&a, 10);
		long y = strtol(b, (char **)&b, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
		if (!isdigit((unsigned char)*a) && !isdigit((unsigned char)*b))
			break;
	}
	return 0;
}

static void negotiate(pw_docker_engine_info *out, const char *api)
{
	if (api && *api && isdigit((unsigned char)api[0]) && version_cmp(api, PW_DOCKER_API_VERSION) < 0)
		snprintf(out->api_version, sizeof(out->api_version), "%s", api);
	else
		snprintf(out->api_version, sizeof(out->api_version), "%s", PW_DOCKER_API_VERSION);
}

int pw__docker_parse_ping(pw_docker_engine_info *out, const char *api_version, const char *libpod_version,
                          const char *server)
{
	memset(out, 0, sizeof(*out));
	if (!api_version || !*api_version)
		return PW_ENOTFOUND;
	negotiate(out, api_version);
	if (libpod_version && *libpod_version) {
		out->podman = 1;
		snprintf(out->name, sizeof(out->name), "Podman Engine");
		snprintf(out->version, sizeof(out->version), "%s", libpod_version);
		return 0;
	}
	/* Docker: "Server: Docker/24.0.7 (linux)" */
	if (!server || strncmp(server, "Docker/", 7) != 0)
		return PW_ENOTFOUND;
	snprintf(out->name, sizeof(out->name), "Docker Engine");
	snprintf(out->version, sizeof(out->version), "%.*s", (int)strcspn(server + 7, " "), server + 7);
	return 0;
}

int pw__docker_parse_version(pw_docker_engine_info *out, const char *body, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	json_t *v = json_loads(body ? body : "", 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return pw_error_set(err, PW_EEXTERNAL, "the engine's /version answer is not a JSON object");
	}
	const char *ver = json_string_value(json_object_get(v, "Version"));
	const char *api = json_string_value(json_object_get(v, "ApiVersion"));
	snprintf(out->version, sizeof(out->version), "%s", ver ? ver : "unknown");
	snprintf(out->name, sizeof(out->name), "Docker Engine");
	const char *platform = json_string_value(json_object_get(json_object_get(v, "Platform"), "Name"));
	if (platform && strstr(platform, "Podman"))
		out->podman = 1;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(v, "Components"), i, c)
	{
		const char *n = json_string_value(json_object_get(c, "Name"));
		if (n && strstr(n, "Podman")) {
			out->podman = 1;
			const char *pv = json_string_value(json_object_get(c, "Version"));
			if (pv)
				snprintf(out->version, sizeof(out->version), "%s", pv);
		}
	}
	if (out->podman)
		snprintf(out->name, sizeof(out->name), "Podman Engine");
	negotiate(out, api);
	json_decref(v);
	return 0;
}

static void set_step_line(pw_docker_build_state *st, const char *text)
{
	/* Docker: "Step 2/3 : COPY x y"; Podman/Buildah: "STEP 2/3: COPY x y" */
	const char *p = text;
	while (*p == '\n' || *p == ' ')
		p++;
	if (strncmp(p, "Step ", 5) != 0 && strncmp(p, "STEP ", 5) != 0)
		return;
	size_t n = strcspn(p, "\n");
	if (n >= sizeof(st->last_step))
		n = sizeof(st->last_step) - 1;
	memcpy(st->last_step, p, n);
	st->last_step[n] = '\0';
}

void pw__docker_build_line(pw_docker_build_state *st, const char *line, size_t len, pw_buf *log)
{
	json_error_t je;
	json_t *v = json_loadb(line, len, 0, &je);
	if (!json_is_object(v)) {
		json_decref(v);
		if (len)
			pw__buf_append(log, line, len);
		return;
	}
	const char *s = json_string_value(json_object_get(v, "stream"));
	if (s) {
		pw__buf_puts(log, s);
		/* a stream string can hold several lines */
		for (const char *p = s; p && *p;) {
			set_step_line(st, p);
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		const char *ok = strstr(s, "Successfully built ");
		if (ok)
			snprintf(st->image_id, sizeof(st->image_id), "%.*s", (int)strcspn(ok + 19, "\n "),
			         ok + 19);
	}
	const char *status = json_string_value(json_object_get(v, "status"));
	if (status) {
		pw__buf_puts(log, status);
		pw__buf_putc(log, '\n');
	}
	json_t *aux = json_object_get(v, "aux");
	const char *id = json_string_value(json_object_get(aux, "ID"));
	if (id)
		snprintf(st->image_id, sizeof(st->image_id), "%s", id);
	const char *e = json_string_value(json_object_get(v, "error"));
	const char *detail = json_string_value(json_object_get(json_object_get(v, "errorDetail"), "message"));
	if (e || detail) {
		st->failed = 1;
		snprintf(st->error, sizeof(st->error), "%s", detail ? detail : e);
		size_t n = strlen(st->error);
		while (n && (st->error[n - 1] == '\n' || st->error[n - 1] == ' '))
			st->error[--n] = '\0';
		pw__buf_puts(log, st->error);
		pw__buf_putc(log, '\n');
	}
	json_decref(v);
}
