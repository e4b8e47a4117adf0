/* Kubernetes API access: kubeconfig files (merged like kubectl), contexts, the credential kinds
 * clusters hand out (tokens, certificates, exec plugins with an expiry cache) and in-cluster
 * service-account config. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#include "auth/kubeconfig.h"
#include "core/buf.h"
#include "net/json.h"
#include "proc/proc.h"

#define FILE_MAX ((size_t)4 * 1024 * 1024)
#define EXEC_OUTPUT_MAX ((size_t)1024 * 1024)
#define EXEC_TIMEOUT_MS 60000

extern char **environ;

/* ---- YAML to JSON ---- */

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	if (!n || depth > 64)
		return json_null();
	switch (n->type) {
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			json_object_set_new(
			    o, (const char *)k->data.scalar.value,
			    node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1));
		}
		return o;
	}
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
			json_array_append_new(a,
			                      node_to_json(doc, yaml_document_get_node(doc, *i), depth + 1));
		return a;
	}
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0)
				return json_true();
			if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0)
				return json_false();
			if (!*s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
				return json_null();
			char *end;
			errno = 0;
			long long v = strtoll(s, &end, 10);
			if (*end == '\0' && errno == 0 && (isdigit((unsigned char)s[0]) || s[0] == '-'))
				return json_integer(v);
		}
		return json_string(s);
	}
	default:
		return json_null();
	}
}

int pw__yaml_to_json(json_t **out, const char *text, size_t len, const char *what, pw_error **err)
{
	yaml_parser_t ps;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&ps))
		return PW_ENOMEM;
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		int rc = pw_error_set(err, PW_ECONFIG, "cannot parse %s: %s at line %zu", what,
		                      ps.problem ? ps.problem : "syntax error", ps.problem_mark.line + 1);
		yaml_parser_delete(&ps);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	*out = root ? node_to_json(&doc, root, 0) : json_object();
	yaml_document_delete(&doc);
	yaml_parser_delete(&ps);
	return 0;
}

long long pw__rfc3339_parse(const char *s)
{
	if (!s)
		return -1;
	int y, mo, d, h, mi, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
		return -1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	long off = 0;
	if (*p == '+' || *p == '-') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z' && *p != 'z') {
		return -1;
	}
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (long long)timegm(&tm) - off;
}

/* ---- files ---- */

static int read_file(char **out, const char *path, const char *what, pw_error **err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return pw_error_set(err, errno == ENOENT ? PW_ENOTFOUND : PW_ECONFIG,
		                    "cannot read %s '%s': %s", what, path, strerror(errno));
	pw_buf b = PW_BUF_INIT(FILE_MAX);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (pw__buf_append(&b, chunk, n) < 0) {
			rc = pw_error_set(err, PW_ECONFIG, "%s '%s' is larger than %zu bytes", what, path,
			                  FILE_MAX);
			break;
		}
	fclose(f);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return rc;
	}
	*out = pw__buf_detach(&b);
	return 0;
}

static char *trimmed_dup(const char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *r = pw_malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

/* base64 decoding of kubeconfig *-data fields into a new NUL-terminated string. */
static char *b64_decode(const char *in)
{
	static const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in);
	char *out = pw_malloc(n * 3 / 4 + 4);
	if (!out)
		return NULL;
	size_t o = 0;
	unsigned int acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=' || isspace((unsigned char)in[i]))
			continue;
		const char *p = strchr(tab, in[i]);
		if (!p || !*p) {
			pw_free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return out;
}

/* A path from a kubeconfig, relative to the file's directory. */
static char *resolve_path(const char *p, const char *file)
{
	if (p[0] == '/' || !file)
		return pw_strdup(p);
	const char *slash = strrchr(file, '/');
	pw_buf b = PW_BUF_INIT(0);
	if (slash)
		pw__buf_append(&b, file, (size_t)(slash - file + 1));
	pw__buf_puts(&b, p);
	return pw__buf_detach(&b);
}

/* One named entry (clusters/users/contexts) with the file it came from. */
typedef struct kc_merged {
	json_t *clusters, *users, *contexts; /* name -> {"v": entry, "file": path} */
	char *current;
	char *first_file;
} kc_merged;

static void merge_list(json_t *dst, json_t *list, const char *field, const char *file)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *v = json_object_get(e, field);
		if (!name || !v || json_object_get(dst, name))
			continue; /* the first file to name an entry wins, as in kubectl */
		json_object_set_new(dst, name, json_pack("{s:O, s:s}", "v", v, "file", file));
	}
}

static int load_files(kc_merged *m, const char *paths, pw_error **err)
{
	m->clusters = json_object();
	m->users = json_object();
	m->contexts = json_object();
	const char *p = paths;
	int loaded = 0;
	while (*p) {
		size_t l = strcspn(p, ":");
		char file[4096];
		if (l > 0 && l < sizeof(file)) {
			memcpy(file, p, l);
			file[l] = '\0';
			char *text = NULL;
			int rc = read_file(&text, file, "kubeconfig", err);
			if (rc == PW_ENOTFOUND) {
				/* missing entries of a KUBECONFIG list are skipped, as kubectl does */
				if (err && *err) {
					pw_error_free(*err);
					*err = NULL;
				}
			} else if (rc < 0) {
				return rc;
			} else {
				json_t *doc = NULL;
				char what[4200];
				snprintf(what, sizeof(what), "kubeconfig '%s'", file);
				rc = pw__yaml_to_json(&doc, text, strlen(text), what, err);
				pw_free(text);
				if (rc < 0)
					return rc;
				merge_list(m->clusters, json_object_get(doc, "clusters"), "cluster", file);
				merge_list(m->users, json_object_get(doc, "users"), "user", file);
				merge_list(m->contexts, json_object_get(doc, "contexts"), "context", file);
				const char *cur = json_string_value(json_object_get(doc, "current-context"));
				if (cur && *cur && !m->current)
					m->current = pw_strdup(cur);
				if (!m->first_file)
					m->first_file = pw_strdup(file);
				json_decref(doc);
				loaded++;
			}
		}
		p += l;
		if (*p == ':')
			p++;
	}
	return loaded ? 0 : PW_ENOTFOUND;
}

static void merged_dispose(kc_merged *m)
{
	json_decref(m->clusters);
	json_decref(m->users);
	json_decref(m->contexts);
	pw_free(m->current);
	pw_free(m->first_file);
}

static pw_kube_access *access_new(void)
{
	pw_kube_access *a = pw_calloc(1, sizeof(*a));
	if (a)
		pthread_mutex_init(&a->lock, NULL);
	return a;
}

void pw__kube_access_free(pw_kube_access *a)
{
	if (!a)
		return;
	char *strs[] = {a->server,   a->ca_file, a->ca_pem,  a->cert_file,  a->key_file,
	                a->cert_pem, a->key_pem, a->token,   a->token_file, a->namespace_,
	                a->context,  a->source,  a->warning, a->exec_token};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		pw_free(strs[i]);
	json_decref(a->exec);
	pthread_mutex_destroy(&a->lock);
	pw_free(a);
}

/* A *-data field (base64) or a file path field into the access. */
static int take_pem(char **file_out, char **pem_out, const json_t *o, const char *file_key,
                    const char *data_key, const char *src, const char *what, pw_error **err)
{
	const char *data = json_string_value(json_object_get(o, data_key));
	const char *file = json_string_value(json_object_get(o, file_key));
	if (data) {
		*pem_out = b64_decode(data);
		if (!*pem_out)
			return pw_error_set(err, PW_ECONFIG, "%s: %s of %s is not valid base64", src,
			                    data_key, what);
	} else if (file) {
		*file_out = resolve_path(file, src);
	}
	return 0;
}

int pw__kube_access_load(pw_kube_access **out, const char *path, const char *context, pw_error **err)
{
	*out = NULL;
	char home_cfg[4200];
	if (!path || !*path)
		path = getenv("KUBECONFIG");
	if (!path || !*path) {
		const char *home = getenv("HOME");
		struct stat st;
		snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", home ? home : "/");
		if (stat(home_cfg, &st) == 0) {
			path = home_cfg;
		} else if (getenv("KUBERNETES_SERVICE_HOST")) {
			return pw__kube_access_in_cluster(out, NULL, err);
		} else {
			pw_error *e =
			    pw_error_new(PW_ENOTFOUND,
			                 "no Kubernetes cluster is configured: no KUBECONFIG, no %s "
			                 "and not running in a cluster",
			                 home_cfg);
			pw_error_set_hint(
			    e, "point KUBECONFIG (or the step's `kubeconfig:` key) at a kubeconfig file");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return PW_ENOTFOUND;
		}
	}
	kc_merged m = {0};
	int rc = load_files(&m, path, err);
	if (rc == PW_ENOTFOUND && !(err && *err))
		rc = pw_error_set(err, PW_ENOTFOUND, "no kubeconfig file found in '%s'", path);
	if (rc < 0) {
		merged_dispose(&m);
		return rc;
	}
	const char *ctx_name = context && *context ? context : m.current;
	json_t *ctx = ctx_name ? json_object_get(m.contexts, ctx_name) : NULL;
	if (!ctx) {
		pw_buf names = PW_BUF_INIT(4096);
		const char *k;
		json_t *v;
		json_object_foreach(m.contexts, k, v)
		    pw__buf_printf(&names, "%s%s", names.len ? ", " : "", k);
		pw_error *e =
		    ctx_name ? pw_error_new(PW_ECONFIG, "kubeconfig %s has no context '%s'", path, ctx_name)
		             : pw_error_new(PW_ECONFIG, "kubeconfig %s sets no current-context", path);
		pw_error_set_key(e, "context");
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h, "set the step's `context:` to one of: %s",
		               names.len ? pw__buf_cstr(&names) : "(none)");
		pw_error_set_hint(e, pw__buf_cstr(&h));
		pw__buf_dispose(&h);
		pw__buf_dispose(&names);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		merged_dispose(&m);
		return PW_ECONFIG;
	}
	json_t *cv = json_object_get(ctx, "v");
	const char *cl_name = json_string_value(json_object_get(cv, "cluster"));
	const char *us_name = json_string_value(json_object_get(cv, "user"));
	json_t *cl = cl_name ? json_object_get(m.clusters, cl_name) : NULL;
	json_t *us = us_name ? json_object_get(m.users, us_name) : NULL;
	if (!cl) {
		rc = pw_error_set(err, PW_ECONFIG,
		                  "kubeconfig context '%s' names cluster '%s', which is not defined",
		                  ctx_name, cl_name ? cl_name : "");
		merged_dispose(&m);
		return rc;
	}
	pw_kube_access *a = access_new();
	if (!a) {
		merged_dispose(&m);
		return PW_ENOMEM;
	}
	a->context = pw_strdup(ctx_name);
	a->source = pw_strdup(path);
	const char *ns = json_string_value(json_object_get(cv, "namespace"));
	if (ns)
		a->namespace_ = pw_strdup(ns);
	json_t *c = json_object_get(cl, "v");
	const char *cfile = json_string_value(json_object_get(cl, "file"));
	const char *server = json_string_value(json_object_get(c, "server"));
	if (!server || strncmp(server, "http", 4) != 0) {
		rc =
		    pw_error_set(err, PW_ECONFIG, "%s: cluster '%s' has no https server URL", cfile, cl_name);
		goto fail;
	}
	a->server = pw_strdup(server);
	size_t sl = strlen(a->server);
	while (sl > 0 && a->server[sl - 1] == '/')
		a->server[--sl] = '\0';
	rc = take_pem(&a->ca_file, &a->ca_pem, c, "certificate-authority", "certificate-authority-data",
	              cfile, cl_name, err);
	if (rc < 0)
		goto fail;
	if (json_is_true(json_object_get(c, "insecure-skip-tls-verify"))) {
		a->insecure = 1;
		pw_buf w = PW_BUF_INIT(0);
		pw__buf_printf(
		    &w,
		    "cluster '%s' in %s sets insecure-skip-tls-verify: the API server's certificate is "
		    "not checked and anyone on the path can read the credentials sent",
		    cl_name, cfile);
		a->warning = pw__buf_detach(&w);
	}
	if (us) {
		json_t *u = json_object_get(us, "v");
		const char *ufile = json_string_value(json_object_get(us, "file"));
		rc = take_pem(&a->cert_file, &a->cert_pem, u, "client-certificate", "client-certificate-data",
		              ufile, us_name, err);
		if (rc == 0)
			rc = take_pem(&a->key_file, &a->key_pem, u, "client-key", "client-key-data", ufile,
			              us_name, err);
		if (rc < 0)
			goto fail;
		const char *tok = json_string_value(json_object_get(u, "token"));
		const char *tf = json_string_value(json_object_get(u, "tokenFile"));
		if (tok) {
			a->token = pw_strdup(tok);
		} else if (tf) {
			a->token_file = resolve_path(tf, ufile);
			char *t = NULL;
			rc = read_file(&t, a->token_file, "tokenFile", err);
			if (rc < 0)
				goto fail;
			a->token = trimmed_dup(t);
			pw_free(t);
		}
		json_t *ex = json_object_get(u, "exec");
		if (json_is_object(ex)) {
			if (!json_is_string(json_object_get(ex, "command"))) {
				rc = pw_error_set(err, PW_ECONFIG,
				                  "%s: user '%s' has an exec plugin without a command", ufile,
				                  us_name);
				goto fail;
			}
			a->exec = json_deep_copy(ex);
			/* relative commands with a '/' are relative to the kubeconfig file */
			const char *cmd = json_string_value(json_object_get(ex, "command"));
			if (strchr(cmd, '/') && cmd[0] != '/') {
				char *abs = resolve_path(cmd, ufile);
				json_object_set_new(a->exec, "command", json_string(abs));
				pw_free(abs);
			}
		}
	}
	merged_dispose(&m);
	*out = a;
	return 0;
fail:
	merged_dispose(&m);
	pw__kube_access_free(a);
	return rc;
}

int pw__kube_access_in_cluster(pw_kube_access **out, const char *sa_dir, pw_error **err)
{
	*out = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host)
		return pw_error_set(err, PW_ENOTFOUND,
		                    "not running in a cluster: KUBERNETES_SERVICE_HOST is not set");
	const char *dir = sa_dir ? sa_dir : PW_KUBE_SA_DIR;
	pw_kube_access *a = access_new();
	if (!a)
		return PW_ENOMEM;
	pw_buf b = PW_BUF_INIT(0);
	int v6 = strchr(host, ':') != NULL;
	pw__buf_printf(&b, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
	               port && *port ? port : "443");
	a->server = pw__buf_detach(&b);
	pw__buf_printf(&b, "%s/token", dir);
	a->token_file = pw__buf_detach(&b);
	pw__buf_printf(&b, "%s/ca.crt", dir);
	a->ca_file = pw__buf_detach(&b);
	a->context = pw_strdup("in-cluster");
	a->source = pw_strdup("in-cluster");
	char *t = NULL;
	int rc = read_file(&t, a->token_file, "the service-account token", err);
	if (rc < 0) {
		pw__kube_access_free(a);
		return rc;
	}
	a->token = trimmed_dup(t);
	pw_free(t);
	pw__buf_printf(&b, "%s/namespace", dir);
	char *nsf = pw__buf_detach(&b);
	char *ns = NULL;
	if (read_file(&ns, nsf, "namespace", NULL) == 0) {
		a->namespace_ = trimmed_dup(ns);
		pw_free(ns);
	}
	pw_free(nsf);
	*out = a;
	return 0;
}

void pw__kube_access_endpoint(pw_http_endpoint *ep, const pw_kube_access *a)
{
	memset(ep, 0, sizeof(*ep));
	ep->base_url = a->server;
	ep->ca_file = a->ca_file;
	ep->ca_pem = a->ca_pem;
	ep->client_cert = a->cert_file;
	ep->client_key = a->key_file;
	ep->client_cert_pem = a->cert_pem;
	ep->client_key_pem = a->key_pem;
	ep->insecure_skip_verify = a->insecure;
}

typedef struct collect {
	pw_buf out, errb;
} collect;

static void on_exec_output(int stream, const char *data, size_t len, void *payload)
{
	collect *c = payload;
	pw__buf_append(stream == PW_PROC_STDOUT ? &c->out : &c->errb, data, len);
}

/* Runs the exec plugin; stores its token and expiry. Called with a->lock held. */
static int run_exec(pw_kube_access *a, pw_error **err)
{
	json_t *ex = a->exec;
	const char *cmd = json_string_value(json_object_get(ex, "command"));
	const char *api = json_string_value(json_object_get(ex, "apiVersion"));
	if (!api)
		api = "client.authentication.k8s.io/v1";
	json_t *args = json_object_get(ex, "args");
	size_t na = json_array_size(args);
	const char **argv = pw_calloc(na + 2, sizeof(char *));
	pw_map *env = pw_map_new();
	if (!argv || !env) {
		pw_free(argv);
		pw_map_free(env);
		return PW_ENOMEM;
	}
	argv[0] = cmd;
	for (size_t i = 0; i < na; i++)
		argv[i + 1] =
		    json_is_string(json_array_get(args, i)) ? json_string_value(json_array_get(args, i)) : "";
	/* plugins get the host environment (cloud CLIs need it) plus their configured env */
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[512];
		size_t n = eq ? (size_t)(eq - *e) : 0;
		if (n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, *e, n);
		name[n] = '\0';
		pw_map_set(env, name, eq + 1);
	}
	size_t i;
	json_t *ev;
	json_array_foreach(json_object_get(ex, "env"), i, ev)
	{
		const char *n = json_string_value(json_object_get(ev, "name"));
		const char *v = json_string_value(json_object_get(ev, "value"));
		if (n && v)
			pw_map_set(env, n, v);
	}
	char info[256];
	snprintf(info, sizeof(info),
	         "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}", api);
	pw_map_set(env, "KUBERNETES_EXEC_INFO", info);
	char **envp = pw__proc_envp_from_map(env);
	pw_map_free(env);
	collect c = {PW_BUF_INIT(EXEC_OUTPUT_MAX), PW_BUF_INIT(64 * 1024)};
	pw_proc_options po = PW_PROC_OPTIONS_INIT;
	po.argv = argv;
	po.envp = (const char *const *)envp;
	po.timeout_ms = EXEC_TIMEOUT_MS;
	po.kill_grace_ms = 1000;
	po.on_output = on_exec_output;
	po.payload = &c;
	pw_proc_result pr;
	int rc = pw__proc_run(&pr, &po, err);
	a->exec_runs++;
	pw__proc_envp_free(envp);
	pw_free(argv);
	if (rc < 0) {
		/* the kubeconfig's installHint says how to get the plugin, in its author's words */
		const char *install = json_string_value(json_object_get(ex, "installHint"));
		if (err && *err)
			pw_error_set_hint(
			    *err, install ? install
			                  : "install the credential plugin the kubeconfig's exec section "
			                    "names (e.g. aws, gke-gcloud-auth-plugin, kubelogin)");
		goto done;
	}
	if (!pr.exited || pr.exit_code != 0) {
		rc = pw_error_set(err, PW_EPERM, "the kubeconfig credential plugin '%s' failed (%s %d): %s",
		                  cmd, pr.exited ? "exit code" : "signal",
		                  pr.exited ? pr.exit_code : pr.term_signal, pw__buf_cstr(&c.errb));
		goto done;
	}
	json_t *doc = NULL;
	rc = pw__json_load(&doc, pw__buf_cstr(&c.out), c.out.len, 0, "the credential plugin's ExecCredential",
	                   err);
	if (rc < 0)
		goto done;
	const char *tok = pw__json_get_string(doc, "status.token");
	if (!tok) {
		rc = pw_error_set(err, PW_EPERM, "the credential plugin '%s' returned no status.token", cmd);
		json_decref(doc);
		goto done;
	}
	pw_free(a->exec_token);
	a->exec_token = pw_strdup(tok);
	const char *exp = pw__json_get_string(doc, "status.expirationTimestamp");
	long long t = exp ? pw__rfc3339_parse(exp) : 0;
	a->exec_expiry = t > 0 ? (time_t)t : 0;
	json_decref(doc);
done:
	pw__buf_dispose(&c.out);
	pw__buf_dispose(&c.errb);
	return rc;
}

int pw__kube_access_token(char **out, pw_kube_access *a, int refresh, pw_error **err)
{
	*out = NULL;
	int rc = 0;
	pthread_mutex_lock(&a->lock);
	if (a->exec) {
		/* a credential is renewed a little before it expires */
		if (refresh || !a->exec_token || (a->exec_expiry && time(NULL) + 10 >= a->exec_expiry))
			rc = run_exec(a, err);
		if (rc == 0)
			*out = pw_strdup(a->exec_token);
	} else {
		if (refresh && a->token_file) {
			char *t = NULL;
			if (read_file(&t, a->token_file, "tokenFile", NULL) == 0) {
				pw_free(a->token);
				a->token = trimmed_dup(t);
				pw_free(t);
			}
		}
		if (a->token)
			*out = pw_strdup(a->token);
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}
