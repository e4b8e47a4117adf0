/* Kubernetes-specific validation of a step's config: names, labels, quantities, images and the
 * connector's keys, each error naming the key and the rule it breaks. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/kubernetes/k8s.h"
#include "core/step.h"
#include "core/suggest.h"

static const char *const k8s_keys[] = {"image",
                                       "command",
                                       "args",
                                       "namespace",
                                       "context",
                                       "kubeconfig",
                                       "parameters",
                                       "node_selector",
                                       "tolerations",
                                       "image_pull_secrets",
                                       "image_pull_policy",
                                       "labels",
                                       "annotations",
                                       "env",
                                       "pending_timeout",
                                       "security_context",
                                       "namespace_per_run",
                                       "network_policy",
                                       "ttl_seconds_after_finished",
                                       "working_dir",
                                       NULL};
static const char *const param_keys[] = {
    "use_pvc",           "storage_class",   "storage_size",    "access_mode",
    "resource_requests", "resource_limits", "service_account", NULL};
static const char *const sc_keys[] = {
    "run_as_user", "run_as_group", "run_as_non_root", "read_only_root_filesystem", "fs_group", NULL};

#define RULE_LABEL                                                                                   \
	"a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or " \
	"digit"
#define RULE_SUBDOMAIN "a DNS-1123 subdomain: DNS-1123 labels joined by '.', at most 253 characters"
#define RULE_QUANTITY                                                                                 \
	"a quantity: a number with an optional suffix (m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei) " \
	"or exponent (1e3)"

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int pw__k8s_is_dns_label(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int pw__k8s_is_dns_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > PW_K8S_SUBDOMAIN_MAX)
		return 0;
	char part[PW_K8S_SUBDOMAIN_MAX + 1];
	const char *p = s;
	for (;;) {
		size_t l = strcspn(p, ".");
		if (l == 0 || l > PW_K8S_LABEL_MAX)
			return 0;
		memcpy(part, p, l);
		part[l] = '\0';
		if (!pw__k8s_is_dns_label(part, PW_K8S_LABEL_MAX))
			return 0;
		p += l;
		if (!*p)
			return 1;
		p++;
	}
}

/* A qualified name part: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63. */
static int is_name_part(const char *s, size_t n)
{
	if (n == 0 || n > PW_K8S_LABEL_MAX || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

int pw__k8s_is_label_key(const char *s)
{
	if (!s)
		return 0;
	const char *slash = strchr(s, '/');
	if (!slash)
		return is_name_part(s, strlen(s));
	size_t pl = (size_t)(slash - s);
	char prefix[PW_K8S_SUBDOMAIN_MAX + 1];
	if (pl == 0 || pl > PW_K8S_SUBDOMAIN_MAX)
		return 0;
	memcpy(prefix, s, pl);
	prefix[pl] = '\0';
	return pw__k8s_is_dns_subdomain(prefix) && is_name_part(slash + 1, strlen(slash + 1));
}

int pw__k8s_is_label_value(const char *s)
{
	return s && (s[0] == '\0' || is_name_part(s, strlen(s)));
}

int pw__k8s_parse_quantity(double *out, const char *s)
{
	if (!s || !*s)
		return PW_EINVAL;
	const char *p = s;
	int neg = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	double v = 0;
	int digits = 0;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (*p == '.') {
		p++;
		double f = 0.1;
		while (isdigit((unsigned char)*p)) {
			v += (*p++ - '0') * f;
			f /= 10;
			digits++;
		}
	}
	if (digits == 0)
		return PW_EINVAL;
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {{"Ki", 1024.0},
	                {"Mi", 1048576.0},
	                {"Gi", 1073741824.0},
	                {"Ti", 1099511627776.0},
	                {"Pi", 1125899906842624.0},
	                {"Ei", 1152921504606846976.0},
	                {"n", 1e-9},
	                {"u", 1e-6},
	                {"m", 1e-3},
	                {"k", 1e3},
	                {"M", 1e6},
	                {"G", 1e9},
	                {"T", 1e12},
	                {"P", 1e15},
	                {"E", 1e18},
	                {"", 1.0}};
	if ((*p == 'e' || *p == 'E') && p[1]) {
		const char *q = p + 1;
		int eneg = 0;
		if (*q == '+' || *q == '-')
			eneg = *q++ == '-';
		if (!isdigit((unsigned char)*q))
			return PW_EINVAL;
		int e = 0;
		while (isdigit((unsigned char)*q) && e < 1000)
			e = e * 10 + (*q++ - '0');
		if (*q)
			return PW_EINVAL;
		double scale = 1.0; /* no libm: the exponent is applied by repeated multiplication */
		for (int i = 0; i < e && scale < 1e300 && scale > 1e-300; i++)
			scale = eneg ? scale / 10.0 : scale * 10.0;
		*out = (neg ? -v : v) * scale;
		return 0;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(p, suffixes[i].suffix) == 0) {
			*out = (neg ? -v : v) * suffixes[i].mult;
			return 0;
		}
	}
	return PW_EINVAL;
}

/* path component: [a-z0-9]+ ((.|_|__|-+)[a-z0-9]+)* */
static int is_path_component(const char *s, size_t n)
{
	if (n == 0 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (is_alnum_lower(s[i]))
			continue;
		if (s[i] == '-')
			continue;
		if (s[i] == '.' && is_alnum_lower(s[i + 1]))
			continue;
		if (s[i] == '_' &&
		    (is_alnum_lower(s[i + 1]) || (s[i + 1] == '_' && is_alnum_lower(s[i + 2])))) {
			if (s[i + 1] == '_')
				i++;
			continue;
		}
		return 0;
	}
	return 1;
}

int pw__k8s_is_image_ref(const char *s)
{
	if (!s || !*s || strlen(s) > 4096)
		return 0;
	for (const char *c = s; *c; c++)
		if (isspace((unsigned char)*c) || (unsigned char)*c < 0x20)
			return 0;
	char buf[4097];
	snprintf(buf, sizeof(buf), "%s", s);
	char *at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		const char *d = at + 1;
		const char *colon = strchr(d, ':');
		if (!colon || colon == d || strlen(colon + 1) < 32)
			return 0;
		for (const char *c = d; c < colon; c++)
			if (!is_alnum_lower(*c) && *c != '+' && *c != '.' && *c != '_' && *c != '-')
				return 0;
		for (const char *c = colon + 1; *c; c++)
			if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
				return 0;
	}
	/* the tag: after the last ':' that follows the last '/' */
	char *lastslash = strrchr(buf, '/');
	char *tagc = strrchr(lastslash ? lastslash : buf, ':');
	if (tagc) {
		*tagc = '\0';
		const char *t = tagc + 1;
		size_t tl = strlen(t);
		if (tl == 0 || tl > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
			return 0;
		for (size_t i = 0; i < tl; i++)
			if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
				return 0;
	}
	/* the first component is a registry host when it has '.', ':' or is localhost */
	char *p = buf;
	char *slash = strchr(p, '/');
	if (slash) {
		size_t hl = (size_t)(slash - p);
		int is_host =
		    memchr(p, '.', hl) || memchr(p, ':', hl) || (hl == 9 && strncmp(p, "localhost", 9) == 0);
		if (is_host) {
			for (size_t i = 0; i < hl; i++)
				if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-' &&
				    p[i] != ':' && p[i] != '[' && p[i] != ']')
					return 0;
			p = slash + 1;
		}
	}
	if (!*p)
		return 0;
	for (;;) {
		size_t l = strcspn(p, "/");
		if (!is_path_component(p, l))
			return 0;
		p += l;
		if (!*p)
			return 1;
		p++;
	}
}

/* ---- the config ---- */

typedef struct vctx {
	pw_error **err;
	int rc;
	const char *step;
} vctx;

static void fail(vctx *v, const char *key, const char *hint, const char *fmt, ...) PW_PRINTF(4, 5);
static void fail(vctx *v, const char *key, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw_error *e =
	    pw_error_new(PW_ECONFIG, "step '%s': config key '%s': %s", v->step, key, pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	v->rc = PW_ECONFIG;
	if (!v->err)
		pw_error_free(e);
	else if (!*v->err)
		*v->err = e;
	else
		pw_error_append(*v->err, e);
}

static void unknown_keys(vctx *v, const json_t *obj, const char *prefix, const char *const *known)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		if (pw__suggest_known(key, known))
			continue;
		char k[300];
		snprintf(k, sizeof(k), "%s%s", prefix, key);
		const char *near = pw__suggest(key, known);
		pw_buf h = PW_BUF_INIT(0);
		if (near) {
			pw__buf_printf(&h, "did you mean '%s'?", near);
		} else {
			pw__buf_puts(&h, "known keys here:");
			for (size_t i = 0; known[i]; i++)
				pw__buf_printf(&h, "%s %s", i ? "," : "", known[i]);
		}
		fail(v, k, pw__buf_cstr(&h), "unknown key (rule: only the kubernetes connector's keys)");
		pw__buf_dispose(&h);
	}
}

static const char *str_or_null(const json_t *o, const char *k)
{
	json_t *x = json_object_get(o, k);
	return json_is_string(x) ? json_string_value(x) : NULL;
}

static int check_string(vctx *v, const json_t *o, const char *k, const char *key_path)
{
	json_t *x = json_object_get(o, k);
	if (x && !json_is_string(x)) {
		fail(v, key_path, "quote the value", "must be a string");
		return 0;
	}
	return x != NULL;
}

static void check_string_map(vctx *v, const json_t *o, const char *k, int label_values)
{
	json_t *m = json_object_get(o, k);
	if (!m)
		return;
	if (!json_is_object(m)) {
		fail(v, k, "a mapping of key: value", "must be a mapping");
		return;
	}
	const char *key;
	json_t *val;
	json_object_foreach(m, key, val)
	{
		char kp[400];
		snprintf(kp, sizeof(kp), "%s.%s", k, key);
		if (!pw__k8s_is_label_key(key))
			fail(v, kp, "prefix/name with name of letters, digits, '-', '_', '.'",
			     "'%s' is not a valid key (rule: [DNS-1123 subdomain/]name, name at most 63 "
			     "characters of [A-Za-z0-9-_.] starting and ending alphanumeric)",
			     key);
		if (!json_is_string(val)) {
			fail(v, kp, "quote the value", "the value must be a string");
			continue;
		}
		if (label_values && !pw__k8s_is_label_value(json_string_value(val)))
			fail(v, kp, NULL,
			     "'%s' is not a valid label value (rule: empty, or at most 63 characters of "
			     "[A-Za-z0-9-_.] starting and ending alphanumeric)",
			     json_string_value(val));
	}
}

static int valid_env_name(const char *k)
{
	if (!k || !*k || isdigit((unsigned char)*k))
		return 0;
	for (const char *p = k; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return 0;
	return 1;
}

static void check_resources(vctx *v, const json_t *params, const char *which, double vals[2])
{
	json_t *r = json_object_get(params, which);
	vals[0] = vals[1] = -1;
	if (!r)
		return;
	char kp[128];
	snprintf(kp, sizeof(kp), "parameters.%s", which);
	if (!json_is_object(r)) {
		fail(v, kp, "e.g. {cpu: 500m, memory: 256Mi}", "must be a mapping of resource: quantity");
		return;
	}
	const char *key;
	json_t *q;
	json_object_foreach(r, key, q)
	{
		char qk[300];
		snprintf(qk, sizeof(qk), "parameters.%s.%s", which, key);
		if (!pw__k8s_is_label_key(key))
			fail(v, qk, "cpu, memory, ephemeral-storage or a vendor/name resource",
			     "'%s' is not a valid resource name", key);
		char num[64];
		const char *text = NULL;
		if (json_is_string(q)) {
			text = json_string_value(q);
		} else if (json_is_number(q)) {
			snprintf(num, sizeof(num), "%.17g", json_number_value(q));
			text = num;
		}
		double d;
		if (!text || pw__k8s_parse_quantity(&d, text) < 0) {
			fail(v, qk, "e.g. 100m, 0.5, 128Mi, 1.5Gi, 1e3", "'%s' is not %s",
			     text ? text : "(not a scalar)", RULE_QUANTITY);
			continue;
		}
		if (d < 0) {
			fail(v, qk, NULL, "'%s' is negative (rule: quantities are >= 0)", text);
			continue;
		}
		if (strcmp(key, "cpu") == 0)
			vals[0] = d;
		else if (strcmp(key, "memory") == 0)
			vals[1] = d;
	}
}

static void check_params(vctx *v, const json_t *cfg)
{
	json_t *p = json_object_get(cfg, "parameters");
	if (!p)
		return;
	if (!json_is_object(p)) {
		fail(v, "parameters", NULL, "must be a mapping");
		return;
	}
	unknown_keys(v, p, "parameters.", param_keys);
	json_t *up = json_object_get(p, "use_pvc");
	if (up && !json_is_boolean(up))
		fail(v, "parameters.use_pvc", "write true or false", "must be true or false");
	if (check_string(v, p, "storage_class", "parameters.storage_class") &&
	    !pw__k8s_is_dns_subdomain(str_or_null(p, "storage_class")))
		fail(v, "parameters.storage_class", NULL, "'%s' is not a valid storage class name (rule: %s)",
		     str_or_null(p, "storage_class"), RULE_SUBDOMAIN);
	if (check_string(v, p, "storage_size", "parameters.storage_size")) {
		double d;
		const char *s = str_or_null(p, "storage_size");
		if (pw__k8s_parse_quantity(&d, s) < 0 || d <= 0)
			fail(v, "parameters.storage_size", "e.g. 1Gi or 500Mi",
			     "'%s' is not %s greater than 0", s, RULE_QUANTITY);
	}
	if (check_string(v, p, "access_mode", "parameters.access_mode")) {
		const char *m = str_or_null(p, "access_mode");
		if (strcmp(m, "ReadWriteOnce") && strcmp(m, "ReadWriteMany") && strcmp(m, "ReadOnlyMany") &&
		    strcmp(m, "ReadWriteOncePod"))
			fail(
			    v, "parameters.access_mode", NULL,
			    "'%s' is not an access mode (rule: ReadWriteOnce, ReadWriteMany, ReadOnlyMany or "
			    "ReadWriteOncePod)",
			    m);
	}
	if (check_string(v, p, "service_account", "parameters.service_account") &&
	    !pw__k8s_is_dns_subdomain(str_or_null(p, "service_account")))
		fail(v, "parameters.service_account", NULL,
		     "'%s' is not a valid service account name (rule: %s)", str_or_null(p, "service_account"),
		     RULE_SUBDOMAIN);
	double req[2], lim[2];
	check_resources(v, p, "resource_requests", req);
	check_resources(v, p, "resource_limits", lim);
	const char *names[2] = {"cpu", "memory"};
	for (int i = 0; i < 2; i++) {
		if (req[i] >= 0 && lim[i] >= 0 && req[i] > lim[i]) {
			char kp[64];
			snprintf(kp, sizeof(kp), "parameters.resource_requests.%s", names[i]);
			fail(v, kp, "raise the limit or lower the request",
			     "the request is above parameters.resource_limits.%s (rule: requests <= limits)",
			     names[i]);
		}
	}
}

int pw__k8s_validate_config(const json_t *cfg, const char *step_name, pw_error **err)
{
	vctx v = {err, 0, step_name ? step_name : "?"};
	unknown_keys(&v, cfg, "", k8s_keys);

	json_t *img = json_object_get(cfg, "image");
	if (!img)
		fail(&v, "image", "e.g. image: alpine:3.19", "is required");
	else if (!json_is_string(img) || !pw__k8s_is_image_ref(json_string_value(img)))
		fail(&v, "image", "e.g. alpine:3.19, registry.example.com:5000/team/app@sha256:<hex>",
		     "'%s' is not a valid image reference (rule: [host[:port]/]path[:tag][@digest], path "
		     "in lowercase)",
		     json_is_string(img) ? json_string_value(img) : "(not a string)");

	const char *lists[] = {"command", "args"};
	for (int i = 0; i < 2; i++) {
		json_t *c = json_object_get(cfg, lists[i]);
		if (!c)
			continue;
		if (json_is_string(c) && i == 0) {
			if (!*json_string_value(c))
				fail(&v, "command", NULL, "is empty");
			continue;
		}
		if (!json_is_array(c)) {
			fail(&v, lists[i], "a list of strings", "must be %s",
			     i == 0 ? "a string or a list" : "a list");
			continue;
		}
		size_t k;
		json_t *a;
		json_array_foreach(c, k, a)
		{
			if (!json_is_string(a) && !json_is_number(a)) {
				char kp[64];
				snprintf(kp, sizeof(kp), "%s.%zu", lists[i], k);
				fail(&v, kp, "quote it", "must be a string");
			}
		}
	}

	if (check_string(&v, cfg, "namespace", "namespace")) {
		const char *ns = str_or_null(cfg, "namespace");
		if (!pw__k8s_is_dns_label(ns, PW_K8S_LABEL_MAX))
			fail(&v, "namespace", NULL,
			     "'%s' is not a valid namespace (rule: %s, at most 63 characters)", ns,
			     RULE_LABEL);
		else if (json_is_true(json_object_get(cfg, "namespace_per_run")) &&
		         strlen(ns) > PW_K8S_LABEL_MAX - PW_K8S_NAME_SUFFIX_MAX)
			fail(&v, "namespace", "shorten it",
			     "'%s' leaves no room for the run suffix of namespace_per_run (rule: at most %d "
			     "characters)",
			     ns, PW_K8S_LABEL_MAX - PW_K8S_NAME_SUFFIX_MAX);
	}
	check_string(&v, cfg, "context", "context");
	check_string(&v, cfg, "kubeconfig", "kubeconfig");
	check_string(&v, cfg, "working_dir", "working_dir");
	check_params(&v, cfg);
	check_string_map(&v, cfg, "node_selector", 1);
	check_string_map(&v, cfg, "labels", 1);
	check_string_map(&v, cfg, "annotations", 0);

	json_t *tol = json_object_get(cfg, "tolerations");
	if (tol) {
		static const char *const tol_keys[] = {"key",    "operator",           "value",
		                                       "effect", "toleration_seconds", NULL};
		if (!json_is_array(tol)) {
			fail(&v, "tolerations", "a list of {key, operator, value, effect}", "must be a list");
		} else {
			size_t i;
			json_t *t;
			json_array_foreach(tol, i, t)
			{
				char kp[64];
				snprintf(kp, sizeof(kp), "tolerations.%zu.", i);
				if (!json_is_object(t)) {
					kp[strlen(kp) - 1] = '\0';
					fail(&v, kp, NULL, "must be a mapping");
					continue;
				}
				unknown_keys(&v, t, kp, tol_keys);
				const char *op = str_or_null(t, "operator");
				if (op && strcmp(op, "Exists") && strcmp(op, "Equal"))
					fail(&v, "tolerations.operator", NULL, "'%s' is not Exists or Equal",
					     op);
				const char *ef = str_or_null(t, "effect");
				if (ef && strcmp(ef, "NoSchedule") && strcmp(ef, "PreferNoSchedule") &&
				    strcmp(ef, "NoExecute"))
					fail(&v, "tolerations.effect", NULL,
					     "'%s' is not NoSchedule, PreferNoSchedule or NoExecute", ef);
				json_t *ts = json_object_get(t, "toleration_seconds");
				long long tsv;
				if (ts && !pw__config_integer(ts, &tsv))
					fail(&v, "tolerations.toleration_seconds", NULL,
					     "must be an integer");
			}
		}
	}
	json_t *ips = json_object_get(cfg, "image_pull_secrets");
	if (ips) {
		size_t i;
		json_t *s;
		if (!json_is_array(ips))
			fail(&v, "image_pull_secrets", "a list of Secret names", "must be a list");
		json_array_foreach(ips, i, s)
		{
			if (!json_is_string(s) || !pw__k8s_is_dns_subdomain(json_string_value(s)))
				fail(&v, "image_pull_secrets", NULL,
				     "'%s' is not a valid Secret name (rule: %s)",
				     json_is_string(s) ? json_string_value(s) : "?", RULE_SUBDOMAIN);
		}
	}
	if (check_string(&v, cfg, "image_pull_policy", "image_pull_policy")) {
		const char *p = str_or_null(cfg, "image_pull_policy");
		if (strcmp(p, "Always") && strcmp(p, "IfNotPresent") && strcmp(p, "Never"))
			fail(&v, "image_pull_policy", NULL, "'%s' is not Always, IfNotPresent or Never", p);
	}
	json_t *env = json_object_get(cfg, "env");
	if (env) {
		if (!json_is_object(env)) {
			fail(&v, "env", "a mapping of NAME: value", "must be a mapping");
		} else {
			const char *k;
			json_t *x;
			json_object_foreach(env, k, x)
			{
				char kp[300];
				snprintf(kp, sizeof(kp), "env.%s", k);
				if (!valid_env_name(k))
					fail(&v, kp, NULL,
					     "'%s' is not a valid variable name (rule: letters, digits, '_', "
					     "'-', "
					     "'.', not starting with a digit)",
					     k);
				else if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
					fail(&v, kp, "quote the value", "must be a scalar");
			}
		}
	}
	const char *nums[] = {"pending_timeout", "ttl_seconds_after_finished"};
	for (int i = 0; i < 2; i++) {
		json_t *n = json_object_get(cfg, nums[i]);
		double d = 0;
		if (n && (!pw__config_number(n, &d) || d < 0 || d > 86400 * 7))
			fail(&v, nums[i], "seconds, e.g. 300",
			     "must be a number of seconds between 0 and 604800");
	}
	json_t *sc = json_object_get(cfg, "security_context");
	if (sc) {
		if (!json_is_object(sc)) {
			fail(&v, "security_context", NULL, "must be a mapping");
		} else {
			unknown_keys(&v, sc, "security_context.", sc_keys);
			const char *ints[] = {"run_as_user", "run_as_group", "fs_group"};
			for (int i = 0; i < 3; i++) {
				json_t *x = json_object_get(sc, ints[i]);
				char kp[64];
				snprintf(kp, sizeof(kp), "security_context.%s", ints[i]);
				long long xi = 0;
				if (x && (!pw__config_integer(x, &xi) || xi < 0))
					fail(&v, kp, NULL, "must be a non-negative integer");
			}
			const char *bools[] = {"run_as_non_root", "read_only_root_filesystem"};
			for (int i = 0; i < 2; i++) {
				json_t *x = json_object_get(sc, bools[i]);
				char kp[64];
				snprintf(kp, sizeof(kp), "security_context.%s", bools[i]);
				if (x && !json_is_boolean(x))
					fail(&v, kp, "write true or false", "must be true or false");
			}
		}
	}
	json_t *npr = json_object_get(cfg, "namespace_per_run");
	if (npr && !json_is_boolean(npr))
		fail(&v, "namespace_per_run", "write true or false", "must be true or false");
	if (check_string(&v, cfg, "network_policy", "network_policy")) {
		const char *np = str_or_null(cfg, "network_policy");
		if (strcmp(np, "none") && strcmp(np, "deny-ingress") && strcmp(np, "deny-all"))
			fail(&v, "network_policy", NULL, "'%s' is not none, deny-ingress or deny-all", np);
	}
	return v.rc;
}
