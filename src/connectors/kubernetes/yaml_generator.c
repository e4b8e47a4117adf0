/* Manifests for a step attempt (Job, Secret, PVC, Namespace, NetworkPolicy) built as JSON
 * objects (the API's request bodies) and emitted as YAML with libyaml's emitter for `plan`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/step.h"
#include "connectors/kubernetes/k8s.h"

#define LABEL_MANAGED "app.kubernetes.io/managed-by"
#define LABEL_RUN "pipewright.dev/run-id"
#define LABEL_STEP "pipewright.dev/step"
#define DEFAULT_TTL 600

void pw__k8s_label_value(char *out, size_t cap, const char *text)
{
	size_t n = 0;
	for (const char *p = text ? text : ""; *p && n + 1 < cap && n < PW_K8S_LABEL_MAX; p++) {
		char c = *p;
		out[n++] = (isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.') ? c : '-';
	}
	out[n] = '\0';
	/* alphanumeric at both ends */
	while (n > 0 && !isalnum((unsigned char)out[n - 1]))
		out[--n] = '\0';
	size_t s = 0;
	while (out[s] && !isalnum((unsigned char)out[s]))
		s++;
	if (s)
		memmove(out, out + s, n - s + 1);
}

/* Lowercase DNS-1123 label text from any input, at most max characters, maybe empty. */
static void dns_part(char *out, size_t max, const char *text)
{
	size_t n = 0;
	for (const char *p = text ? text : ""; *p && n < max; p++) {
		char c = (char)tolower((unsigned char)*p);
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[n++] = c;
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

void pw__k8s_job_name(char *out, size_t cap, const char *step_name, const char *run_id, const char *rnd)
{
	char base[PW_K8S_LABEL_MAX + 1], run[16], r[8];
	dns_part(base, PW_K8S_LABEL_MAX - PW_K8S_NAME_SUFFIX_MAX, step_name);
	const char *rid = run_id ? run_id : "";
	size_t rl = strlen(rid);
	dns_part(run, 12, rl > 12 ? rid + rl - 12 : rid);
	dns_part(r, 5, rnd);
	snprintf(out, cap, "%s%s%s%s%s", *base ? base : "step", *run ? "-" : "", run, *r ? "-" : "", r);
	/* trailing '-' can only come from an empty part; dns_part trims the rest */
}

static json_t *labels_for(const char *run_id, const char *step_name)
{
	char rv[PW_K8S_LABEL_MAX + 1];
	json_t *l = json_object();
	json_object_set_new(l, LABEL_MANAGED, json_string("pipewright"));
	pw__k8s_label_value(rv, sizeof(rv), run_id);
	if (*rv)
		json_object_set_new(l, LABEL_RUN, json_string(rv));
	if (step_name) {
		pw__k8s_label_value(rv, sizeof(rv), step_name);
		if (*rv)
			json_object_set_new(l, LABEL_STEP, json_string(rv));
	}
	return l;
}

static json_t *metadata(const char *name, const char *ns, json_t *labels)
{
	json_t *m = json_object();
	json_object_set_new(m, "name", json_string(name));
	if (ns)
		json_object_set_new(m, "namespace", json_string(ns));
	json_object_set_new(m, "labels", labels);
	return m;
}

static json_t *scalar_string(const json_t *v)
{
	char buf[64];
	if (json_is_string(v))
		return json_string(json_string_value(v));
	if (json_is_true(v))
		return json_string("true");
	if (json_is_false(v))
		return json_string("false");
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		pw__real_text(buf, sizeof(buf), json_real_value(v));
	else
		buf[0] = '\0';
	return json_string(buf);
}

static json_t *string_list(const json_t *a)
{
	json_t *out = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) json_array_append_new(out, scalar_string(x));
	return out;
}

static json_t *resources(const json_t *params)
{
	json_t *r = json_object();
	const char *which[2] = {"resource_requests", "resource_limits"};
	const char *to[2] = {"requests", "limits"};
	for (int i = 0; i < 2; i++) {
		json_t *src = json_object_get(params, which[i]);
		if (!json_is_object(src) || json_object_size(src) == 0)
			continue;
		json_t *o = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(src, k, v) json_object_set_new(o, k, scalar_string(v));
		json_object_set_new(r, to[i], o);
	}
	return r;
}

int pw__k8s_job_manifest(json_t **out, const pw_k8s_job_params *p)
{
	const json_t *cfg = p->cfg;
	const json_t *params = json_object_get(cfg, "parameters");
	json_t *labels = labels_for(p->run_id, p->step_name);
	json_t *ul = json_object_get(cfg, "labels");
	const char *k;
	json_t *v;
	json_object_foreach(ul, k, v)
	{
		if (!json_object_get(labels, k))
			json_object_set_new(labels, k, scalar_string(v));
	}

	/* the container */
	json_t *c = json_object();
	json_object_set_new(c, "name", json_string("step"));
	json_object_set(c, "image", json_object_get(cfg, "image"));
	json_t *ipp = json_object_get(cfg, "image_pull_policy");
	if (ipp)
		json_object_set(c, "imagePullPolicy", ipp);
	json_t *cmd = json_object_get(cfg, "command");
	if (json_is_string(cmd)) {
		json_t *a = json_array();
		json_array_append_new(a, json_string("/bin/sh"));
		json_array_append_new(a, json_string("-c"));
		json_array_append_new(a, json_string(json_string_value(cmd)));
		json_object_set_new(c, "command", a);
	} else if (json_is_array(cmd)) {
		json_object_set_new(c, "command", string_list(cmd));
	}
	json_t *args = json_object_get(cfg, "args");
	if (json_is_array(args))
		json_object_set_new(c, "args", string_list(args));
	json_t *wd = json_object_get(cfg, "working_dir");
	if (json_is_string(wd))
		json_object_set(c, "workingDir", wd);
	else if (p->pvc_name)
		json_object_set_new(c, "workingDir", json_string("/workspace"));

	json_t *env = json_array();
	for (size_t i = 0; p->env && i < pw_map_count(p->env); i++) {
		if (p->secret_env && pw_map_get(p->secret_env, pw_map_key_at(p->env, i)))
			continue;
		json_array_append_new(env, json_pack("{s:s, s:s}", "name", pw_map_key_at(p->env, i), "value",
		                                     pw_map_value_at(p->env, i)));
	}
	json_t *cenv = json_object_get(cfg, "env");
	json_object_foreach(cenv, k, v)
	{
		json_t *e = json_object();
		json_object_set_new(e, "name", json_string(k));
		json_object_set_new(e, "value", scalar_string(v));
		json_array_append_new(env, e);
	}
	for (size_t i = 0; p->secret_env && p->secret_name && i < pw_map_count(p->secret_env); i++) {
		const char *name = pw_map_key_at(p->secret_env, i);
		json_array_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", name, "valueFrom",
		                                     "secretKeyRef", "name", p->secret_name, "key", name));
	}
	if (json_array_size(env))
		json_object_set(c, "env", env);
	json_decref(env);
	json_t *res = resources(params);
	if (json_object_size(res))
		json_object_set(c, "resources", res);
	json_decref(res);

	json_t *csc =
	    json_pack("{s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL");
	json_t *sc = json_object_get(cfg, "security_context");
	json_t *x;
	if ((x = json_object_get(sc, "run_as_non_root")))
		json_object_set(csc, "runAsNonRoot", x);
	if ((x = json_object_get(sc, "read_only_root_filesystem")))
		json_object_set(csc, "readOnlyRootFilesystem", x);
	if ((x = json_object_get(sc, "run_as_user")))
		json_object_set_new(csc, "runAsUser", pw__config_typed(x));
	if ((x = json_object_get(sc, "run_as_group")))
		json_object_set_new(csc, "runAsGroup", pw__config_typed(x));
	json_object_set_new(c, "securityContext", csc);
	if (p->pvc_name)
		json_object_set_new(
		    c, "volumeMounts",
		    json_pack("[{s:s, s:s}]", "name", "workspace", "mountPath", "/workspace"));

	/* the pod */
	json_t *ps = json_object();
	json_object_set_new(ps, "restartPolicy", json_string("Never"));
	const char *sa = json_string_value(json_object_get(params, "service_account"));
	if (sa)
		json_object_set_new(ps, "serviceAccountName", json_string(sa));
	json_object_set_new(ps, "automountServiceAccountToken", json_boolean(sa != NULL));
	json_t *psc = json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault");
	if ((x = json_object_get(sc, "fs_group")))
		json_object_set_new(psc, "fsGroup", pw__config_typed(x));
	json_object_set_new(ps, "securityContext", psc);
	json_t *ns = json_object_get(cfg, "node_selector");
	if (json_object_size(ns))
		json_object_set(ps, "nodeSelector", ns);
	json_t *tol = json_object_get(cfg, "tolerations");
	if (json_array_size(tol)) {
		json_t *tl = json_array();
		size_t i;
		json_t *t;
		json_array_foreach(tol, i, t)
		{
			json_t *o = json_object();
			const char *map[][2] = {{"key", "key"},
			                        {"operator", "operator"},
			                        {"value", "value"},
			                        {"effect", "effect"},
			                        {"toleration_seconds", "tolerationSeconds"}};
			for (size_t j = 0; j < 5; j++)
				if ((x = json_object_get(t, map[j][0])))
					json_object_set_new(o, map[j][1],
					                    j == 4 ? pw__config_typed(x) : json_incref(x));
			json_array_append_new(tl, o);
		}
		json_object_set_new(ps, "tolerations", tl);
	}
	json_t *ips = json_object_get(cfg, "image_pull_secrets");
	if (json_array_size(ips)) {
		json_t *l = json_array();
		size_t i;
		json_t *s;
		json_array_foreach(ips, i, s) json_array_append_new(l, json_pack("{s:O}", "name", s));
		json_object_set_new(ps, "imagePullSecrets", l);
	}
	json_object_set_new(ps, "containers", json_pack("[o]", c));
	if (p->pvc_name)
		json_object_set_new(ps, "volumes",
		                    json_pack("[{s:s, s:{s:s}}]", "name", "workspace",
		                              "persistentVolumeClaim", "claimName", p->pvc_name));

	json_t *tmeta = json_object();
	json_object_set(tmeta, "labels", labels);
	json_t *js = json_object();
	json_object_set_new(js, "backoffLimit", json_integer(0));
	if (p->timeout_s > 0)
		json_object_set_new(js, "activeDeadlineSeconds",
		                    json_integer((json_int_t)(p->timeout_s + 0.999)));
	json_t *ttl = json_object_get(cfg, "ttl_seconds_after_finished");
	double ttls = DEFAULT_TTL;
	if (!pw__config_number(ttl, &ttls))
		ttls = DEFAULT_TTL;
	json_object_set_new(js, "ttlSecondsAfterFinished", json_integer((json_int_t)ttls));
	json_object_set_new(js, "template", json_pack("{s:o, s:o}", "metadata", tmeta, "spec", ps));

	json_t *meta = metadata(p->job_name, p->namespace_, labels);
	json_t *ann = json_object_get(cfg, "annotations");
	json_t *a = json_object();
	json_object_foreach(ann, k, v) json_object_set_new(a, k, scalar_string(v));
	if (p->run_id)
		json_object_set_new(a, LABEL_RUN, json_string(p->run_id));
	json_object_set_new(meta, "annotations", a);
	*out = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "batch/v1", "kind", "Job", "metadata", meta,
	                 "spec", js);
	return *out ? 0 : PW_ENOMEM;
}

int pw__k8s_secret_manifest(json_t **out, const pw_k8s_job_params *p, int redact)
{
	json_t *data = json_object();
	for (size_t i = 0; p->secret_env && i < pw_map_count(p->secret_env); i++)
		json_object_set_new(data, pw_map_key_at(p->secret_env, i),
		                    json_string(redact ? "***" : pw_map_value_at(p->secret_env, i)));
	json_t *meta = metadata(p->secret_name, p->namespace_, labels_for(p->run_id, p->step_name));
	*out = json_pack("{s:s, s:s, s:o, s:s, s:o}", "apiVersion", "v1", "kind", "Secret", "metadata", meta,
	                 "type", "Opaque", "stringData", data);
	return *out ? 0 : PW_ENOMEM;
}

int pw__k8s_pvc_manifest(json_t **out, const json_t *cfg, const char *name, const char *ns,
                         const char *run_id)
{
	const json_t *params = json_object_get(cfg, "parameters");
	const char *size = json_string_value(json_object_get(params, "storage_size"));
	const char *mode = json_string_value(json_object_get(params, "access_mode"));
	const char *sc = json_string_value(json_object_get(params, "storage_class"));
	json_t *spec = json_pack("{s:[s], s:{s:{s:s}}}", "accessModes", mode ? mode : "ReadWriteOnce",
	                         "resources", "requests", "storage", size ? size : "1Gi");
	if (sc)
		json_object_set_new(spec, "storageClassName", json_string(sc));
	*out = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
	                 "metadata", metadata(name, ns, labels_for(run_id, NULL)), "spec", spec);
	return *out ? 0 : PW_ENOMEM;
}

int pw__k8s_namespace_manifest(json_t **out, const char *name, const char *run_id)
{
	*out = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "Namespace", "metadata",
	                 metadata(name, NULL, labels_for(run_id, NULL)));
	return *out ? 0 : PW_ENOMEM;
}

int pw__k8s_network_policy_manifest(json_t **out, const char *mode, const char *name, const char *ns,
                                    const char *run_id)
{
	char rv[PW_K8S_LABEL_MAX + 1];
	pw__k8s_label_value(rv, sizeof(rv), run_id);
	json_t *types = json_pack("[s]", "Ingress");
	if (strcmp(mode, "deny-all") == 0)
		json_array_append_new(types, json_string("Egress"));
	json_t *spec = json_pack("{s:{s:{s:s}}, s:o}", "podSelector", "matchLabels", LABEL_RUN, rv,
	                         "policyTypes", types);
	*out =
	    json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy",
	              "metadata", metadata(name, ns, labels_for(run_id, NULL)), "spec", spec);
	return *out ? 0 : PW_ENOMEM;
}

/* ---- YAML ---- */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	return pw__buf_append(data, buffer, size) == 0;
}

/* A plain scalar that a YAML 1.1 or 1.2 reader would take for something other than a string. */
static int needs_quotes(const char *s)
{
	static const char *const special[] = {"",   "~",  "null", "true", "false", "yes",
	                                      "no", "on", "off",  "y",    "n",     NULL};
	char low[8];
	size_t n = strlen(s);
	if (n < sizeof(low)) {
		for (size_t i = 0; i < n; i++)
			low[i] = (char)tolower((unsigned char)s[i]);
		low[n] = '\0';
		for (size_t i = 0; special[i]; i++)
			if (strcmp(low, special[i]) == 0)
				return 1;
	}
	return isdigit((unsigned char)s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.';
}

static int emit_value(yaml_emitter_t *em, const json_t *v, int quote_all)
{
	yaml_event_t ev;
	char num[64];
	const char *text = NULL;
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -1;
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)k, (int)strlen(k), 1, 1,
			                             needs_quotes(k) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
			                                             : YAML_ANY_SCALAR_STYLE);
			if (!yaml_emitter_emit(em, &ev) || emit_value(em, x, quote_all) < 0)
				return -1;
		}
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev) ? 0 : -1;
	}
	case JSON_ARRAY: {
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(em, &ev))
			return -1;
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (emit_value(em, x, quote_all) < 0)
				return -1;
		}
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(em, &ev) ? 0 : -1;
	}
	case JSON_STRING:
		text = json_string_value(v);
		style =
		    quote_all || needs_quotes(text) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		text = num;
		break;
	case JSON_REAL:
		pw__real_text(num, sizeof(num), json_real_value(v));
		text = num;
		break;
	case JSON_TRUE:
		text = "true";
		break;
	case JSON_FALSE:
		text = "false";
		break;
	case JSON_NULL:
		text = "null";
		break;
	}
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1, style);
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_doc(pw_buf *out, const json_t *doc, int quote_all)
{
	if (!doc)
		return PW_EINVAL;
	yaml_emitter_t em;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em))
		return PW_ENOMEM;
	yaml_emitter_set_output(&em, write_handler, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	int ok = 1;
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
	ok = ok && yaml_emitter_emit(&em, &ev);
	ok = ok && emit_value(&em, doc, quote_all) == 0;
	yaml_document_end_event_initialize(&ev, 1);
	ok = ok && yaml_emitter_emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	ok = ok && yaml_emitter_emit(&em, &ev);
	ok = ok && yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	return ok ? 0 : PW_ENOMEM;
}

int pw__k8s_yaml_emit(pw_buf *out, const json_t *doc)
{
	return emit_doc(out, doc, 0);
}

int pw__k8s_yaml_emit_quoted(pw_buf *out, const json_t *doc)
{
	return emit_doc(out, doc, 1);
}
