/* The Azure connector (type "azure"): Container Instances through Azure Resource Manager
 * (api-version 2025-09-01, containerInstance.json): create-or-update (PUT, following
 * Azure-AsyncOperation / provisioningState to Succeeded or Failed, optionally waiting for the
 * containers to terminate), delete, restart and logs. Credentials: a client secret, workload
 * identity federation (a federated token file) or managed identity (IMDS). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oauth2.h"
#include "connectors/cloud/azure.h"
#include "connectors/cloud/cloud.h"
#include "core/internal.h"
#include "core/step.h"
#include "net/json.h"
#include "pipewright/result.h"
#include "pipewright/sys/connector.h"

#define ARM_API_VERSION "2025-09-01"
#define ARM_DEFAULT_ENDPOINT "https://management.azure.com"
#define AAD_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define IMDS_DEFAULT "http://169.254.169.254"
#define ARM_SCOPE "https://management.azure.com/.default"

static const char *const top_keys[] = {
    "service",      "action",    "parameters", "endpoint",      "authority_host",
    "credential",   "tenant_id", "client_id",  "imds_endpoint", "poll_interval",
    "wait_timeout", "audience",  NULL};

#define COMMON_PARAMS                                                                                   \
	{"subscription_id", PW_CP_STRING, 0, NULL, "the subscription; default: AZURE_SUBSCRIPTION_ID"}, \
	    {"resource_group", PW_CP_STRING, 1, NULL, "the resource group of the container group"},     \
	{                                                                                               \
		"container_group", PW_CP_STRING, 1, NULL, "the container group's name"                  \
	}

static const pw_cloud_param create_params[] = {
    COMMON_PARAMS,
    {"image", PW_CP_STRING, 1, NULL, "the container image, e.g. myregistry.azurecr.io/web-app:1.2"},
    {"location", PW_CP_STRING, 0, NULL,
     "the Azure region; default: AZURE_LOCATION or AZURE_DEFAULTS_LOCATION"},
    {"container_name", PW_CP_STRING, 0, NULL, "the container's name; default: the container group's"},
    {"cpu", PW_CP_NUMBER, 0, NULL, "CPU cores requested (default 1)"},
    {"memory", PW_CP_NUMBER, 0, NULL, "memory in GB requested (default 1.5)"},
    {"ports", PW_CP_LIST, 0, NULL, "TCP ports to open, e.g. [80, 443]"},
    {"dns_name_label", PW_CP_STRING, 0, NULL, "DNS label of the public IP address"},
    {"environment", PW_CP_STRMAP, 0, NULL, "environment variables"},
    {"secure_environment", PW_CP_STRMAP, 0, NULL, "environment variables sent as secure values"},
    {"env_update", PW_CP_ENUM, 0, "merge|replace",
     "merge: keep the existing group's plain variables not named here; replace (default): only these"},
    {"command", PW_CP_LIST, 0, NULL, "the command to run instead of the image's"},
    {"restart_policy", PW_CP_ENUM, 0, "Always|OnFailure|Never", "the container group's restart policy"},
    {"os_type", PW_CP_ENUM, 0, "Linux|Windows", "the operating system (default Linux)"},
    {"registry_server", PW_CP_STRING, 0, NULL, "private registry host"},
    {"registry_username", PW_CP_STRING, 0, NULL, "private registry user"},
    {"registry_password_env", PW_CP_STRING, 0, NULL, "name of the variable holding the registry password"},
    {"wait", PW_CP_BOOL, 0, NULL, "wait for the containers to terminate; the step's exit code is theirs"},
    {"logs_tail", PW_CP_INT, 0, NULL, "log lines fetched on failure or after wait (default 50)"},
    {NULL, 0, 0, NULL, NULL},
};
static const pw_cloud_param group_params[] = {COMMON_PARAMS, {NULL, 0, 0, NULL, NULL}};
static const pw_cloud_param logs_params[] = {
    COMMON_PARAMS,
    {"container_name", PW_CP_STRING, 0, NULL, "the container; default: the container group's name"},
    {"tail", PW_CP_INT, 0, NULL, "the last N lines only"},
    {NULL, 0, 0, NULL, NULL},
};

static const pw_cloud_action actions[] = {
    {"container-instances", "create-or-update", create_params, "create or update a container group"},
    {"container-instances", "delete", group_params, "delete a container group"},
    {"container-instances", "restart", group_params, "restart every container of a group"},
    {"container-instances", "logs", logs_params, "print a container's logs"},
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static int az_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	const pw_cloud_action *a = NULL;
	int rc = pw__cloud_validate(&a, step->config, "azure", top_keys, actions, NACTIONS, err);
	if (rc < 0)
		return rc;
	const char *cred = json_string_value(json_object_get(step->config, "credential"));
	if (json_object_get(step->config, "credential") &&
	    (!cred || (strcmp(cred, "auto") && strcmp(cred, "client-secret") &&
	               strcmp(cred, "workload-identity") && strcmp(cred, "managed-identity"))))
		return pw__cloud_fail(err, PW_ECONFIG, "credential", NULL, NULL,
		                      "azure: credential must be auto, client-secret, workload-identity or "
		                      "managed-identity");
	const char *upd = pw__cloud_param_str(step->config, "env_update");
	if (upd && !json_object_get(json_object_get(step->config, "parameters"), "environment") &&
	    !json_object_get(json_object_get(step->config, "parameters"), "secure_environment"))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.env_update", NULL, NULL,
		                      "azure: env_update is set but there is no environment to update");
	return 0;
}

/* ---- credentials ---- */

typedef struct az_cred {
	const char *kind; /* client-secret | workload-identity | managed-identity */
	const char *tenant, *client_id, *secret, *token_file, *authority, *imds, *scope;
	pw_oauth2_call call;
} az_cred;

static int az_fetch(pw_oauth2_token *out, void *payload, pw_error **err)
{
	az_cred *c = payload;
	char url[1024];
	if (strcmp(c->kind, "managed-identity") == 0) {
		char *res = pw__http_escape("https://management.azure.com/");
		snprintf(url, sizeof url,
		         "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s", c->imds,
		         res ? res : "", c->client_id ? "&client_id=" : "", c->client_id ? c->client_id : "");
		pw_free(res);
		return pw__oauth2_metadata_token(out, &c->call, url, "Metadata: true", err);
	}
	snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", c->authority, c->tenant);
	if (strcmp(c->kind, "client-secret") == 0)
		return pw__oauth2_client_secret(out, &c->call, url, c->client_id, c->secret, c->scope, err);
	/* workload identity: the federated token is re-read each time (it is rotated on disk) */
	FILE *f = fopen(c->token_file, "r");
	if (!f)
		return pw__cloud_fail(
		    err, PW_ECONFIG, NULL,
		    "AZURE_FEDERATED_TOKEN_FILE must name a readable file with the OIDC token", NULL,
		    "azure: cannot read the federated token file '%s'", c->token_file);
	char buf[16384];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n == 0)
		return pw__cloud_fail(err, PW_ECONFIG, NULL, NULL, NULL,
		                      "azure: the federated token file '%s' is empty", c->token_file);
	int rc = pw__oauth2_client_assertion(out, &c->call, url, c->client_id, buf, c->scope, err);
	memset(buf, 0, sizeof buf);
	return rc;
}

/* Picks the credential source from config and environment. */
static int az_cred_init(az_cred *c, const json_t *config, const pw_map *env, pw_exec *ex, pw_http_pool *pool,
                        pw_error **err)
{
	memset(c, 0, sizeof *c);
	c->call.pool = pool;
	c->call.ex = ex;
	const char *kind = json_string_value(json_object_get(config, "credential"));
	const char *tenant = json_string_value(json_object_get(config, "tenant_id"));
	const char *client = json_string_value(json_object_get(config, "client_id"));
	c->tenant = tenant ? tenant : pw__cloud_env(env, "AZURE_TENANT_ID");
	c->client_id = client ? client : pw__cloud_env(env, "AZURE_CLIENT_ID");
	c->secret = pw__cloud_env(env, "AZURE_CLIENT_SECRET");
	c->token_file = pw__cloud_env(env, "AZURE_FEDERATED_TOKEN_FILE");
	const char *auth = json_string_value(json_object_get(config, "authority_host"));
	c->authority = auth ? auth : pw__cloud_env(env, "AZURE_AUTHORITY_HOST");
	if (!c->authority)
		c->authority = AAD_DEFAULT_AUTHORITY;
	const char *imds = json_string_value(json_object_get(config, "imds_endpoint"));
	c->imds = imds ? imds : pw__cloud_env(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
	if (!c->imds)
		c->imds = IMDS_DEFAULT;
	const char *aud = json_string_value(json_object_get(config, "audience"));
	c->scope = aud ? aud : ARM_SCOPE;
	if (!kind || strcmp(kind, "auto") == 0)
		kind = c->secret ? "client-secret" : c->token_file ? "workload-identity" : "managed-identity";
	c->kind = kind;
	if (strcmp(kind, "managed-identity") != 0 && (!c->tenant || !c->client_id))
		return pw__cloud_fail(
		    err, PW_ECONFIG, "credential",
		    "set AZURE_TENANT_ID and AZURE_CLIENT_ID (or tenant_id/client_id in the step config) "
		    "with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE, or use a managed identity",
		    NULL, "azure: the %s credential needs a tenant id and a client id", kind);
	if (strcmp(kind, "client-secret") == 0 && !c->secret)
		return pw__cloud_fail(err, PW_ECONFIG, "credential",
		                      "add AZURE_CLIENT_SECRET to the pipeline's secrets", NULL,
		                      "azure: credential client-secret but AZURE_CLIENT_SECRET is not set");
	if (strcmp(kind, "workload-identity") == 0 && !c->token_file)
		return pw__cloud_fail(
		    err, PW_ECONFIG, "credential", NULL, NULL,
		    "azure: credential workload-identity but AZURE_FEDERATED_TOKEN_FILE is not set");
	if (c->secret && ex)
		pw_exec_add_secret(ex, c->secret, "AZURE_CLIENT_SECRET", NULL);
	return 0;
}

typedef struct az_token_ctx {
	pw_cloud_impl *im;
	az_cred *cred;
	pw_exec *ex;
} az_token_ctx;

static int az_token(char **out, int force, void *payload, pw_error **err)
{
	az_token_ctx *t = payload;
	char key[1024];
	snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%s", t->cred->kind, t->cred->authority, t->cred->imds,
	         t->cred->tenant ? t->cred->tenant : "", t->cred->client_id ? t->cred->client_id : "",
	         t->cred->scope);
	return pw__oauth2_cache_get(out, t->im->tokens, key, force, t->ex, az_fetch, t->cred, err);
}

/* ---- errors ---- */

void pw__azure_quoted_after(char *out, size_t cap, const char *msg, const char *marker)
{
	out[0] = '\0';
	const char *p = msg ? strstr(msg, marker) : NULL;
	if (!p)
		return;
	p = strchr(p + strlen(marker), '\'');
	if (!p)
		return;
	p++;
	size_t n = strcspn(p, "'");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int pw__azure_error(pw_error **err, const char *op, const pw_http_response *r, const json_t *doc)
{
	const char *code = pw__json_get_string(doc, "error.code");
	const char *msg = pw__json_get_string(doc, "error.message");
	char resp[600];
	snprintf(resp, sizeof resp, "HTTP %ld %s: %.400s", r->status, code ? code : "", msg ? msg : r->body);
	if (r->status == 403 || (code && (strcmp(code, "AuthorizationFailed") == 0 ||
	                                  strcmp(code, "LinkedAuthorizationFailed") == 0))) {
		char action[256], scope[512], hint[1024];
		pw__azure_quoted_after(action, sizeof action, msg, "perform action");
		pw__azure_quoted_after(scope, sizeof scope, msg, "over scope");
		snprintf(
		    hint, sizeof hint,
		    "grant the pipeline's identity a role that allows '%s'%s%s (e.g. a custom role with the "
		    "Microsoft.ContainerInstance/containerGroups/* actions, or Contributor on the resource "
		    "group)",
		    action[0] ? action : "this operation", scope[0] ? " on " : "", scope);
		return pw__cloud_fail(err, PW_EPERM, NULL, hint, resp,
		                      "azure: %s: permission denied: missing '%s'", op,
		                      action[0] ? action : "(not named by Azure)");
	}
	if (r->status == 401)
		return pw__cloud_fail(err, PW_EPERM, NULL, "check the credential's tenant and client id",
		                      resp, "azure: %s: the access token was refused (HTTP 401 %s)", op,
		                      code ? code : "");
	if (r->status == 404)
		return pw__cloud_fail(err, PW_ENOTFOUND, NULL,
		                      "check subscription_id, resource_group and container_group", resp,
		                      "azure: %s: not found (%s)", op, code ? code : "HTTP 404");
	return pw__cloud_fail(err, r->status == 400 || r->status == 409 ? PW_EVALIDATION : PW_EEXTERNAL, NULL,
	                      NULL, resp, "azure: %s: HTTP %ld %s%s%s", op, r->status, code ? code : "",
	                      msg ? ": " : "", msg ? msg : "");
}

/* ---- requests ---- */

typedef struct az_ctx {
	const json_t *config;
	pw_exec *ex;
	pw_cloud_api api;
	char path[1024]; /* the container group's resource path with ?api-version */
	char rid[900];   /* the resource id, for messages and audit */
	const char *group;
} az_ctx;

static int group_path(az_ctx *x, const pw_map *env, pw_error **err)
{
	const char *sub = pw__cloud_param_str(x->config, "subscription_id");
	if (!sub)
		sub = pw__cloud_env(env, "AZURE_SUBSCRIPTION_ID");
	if (!sub)
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.subscription_id",
		                      "set parameters.subscription_id or AZURE_SUBSCRIPTION_ID", NULL,
		                      "azure: no subscription id");
	const char *rg = pw__cloud_param_str(x->config, "resource_group");
	x->group = pw__cloud_param_str(x->config, "container_group");
	char *esub = pw__http_escape(sub), *erg = pw__http_escape(rg), *ecg = pw__http_escape(x->group);
	snprintf(
	    x->rid, sizeof x->rid,
	    "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerInstance/containerGroups/%s",
	    esub ? esub : "", erg ? erg : "", ecg ? ecg : "");
	snprintf(x->path, sizeof x->path, "%s?api-version=" ARM_API_VERSION, x->rid);
	pw_free(esub);
	pw_free(erg);
	pw_free(ecg);
	return 0;
}

static const char *container_name(const json_t *config)
{
	const char *n = pw__cloud_param_str(config, "container_name");
	return n ? n : pw__cloud_param_str(config, "container_group");
}

/* The PUT body per containerInstance.json ContainerGroup. secure values are "***" in plans. */
static json_t *group_body(const json_t *config, const pw_map *env, const json_t *existing, int for_plan,
                          pw_exec *ex, pw_error **err)
{
	const char *location = pw__cloud_param_str(config, "location");
	if (!location)
		location = pw__cloud_env(env, "AZURE_LOCATION");
	if (!location)
		location = pw__cloud_env(env, "AZURE_DEFAULTS_LOCATION");
	if (!location)
		location = pw__json_get_string(existing, "location");
	if (!location) {
		pw__cloud_fail(err, PW_ECONFIG, "parameters.location",
		               "set parameters.location or AZURE_LOCATION", NULL,
		               "azure: creating a container group needs a location");
		return NULL;
	}
	json_t *props = json_object();
	json_t *cprops = json_object();
	json_object_set_new(cprops, "image", json_string(pw__cloud_param_str(config, "image")));
	json_t *cmd = json_object_get(json_object_get(config, "parameters"), "command");
	if (cmd) {
		json_t *a = json_array();
		size_t i;
		json_t *v;
		char nb[64];
		json_array_foreach(cmd, i, v)
		    json_array_append_new(a, json_string(pw__cloud_scalar(v, nb, sizeof nb)));
		json_object_set_new(cprops, "command", a);
	}
	json_object_set_new(cprops, "resources",
	                    json_pack("{s:{s:f, s:f}}", "requests", "cpu",
	                              pw__cloud_param_num(config, "cpu", 1.0), "memoryInGB",
	                              pw__cloud_param_num(config, "memory", 1.5)));
	json_t *ports = json_object_get(json_object_get(config, "parameters"), "ports");
	json_t *cports = json_array(), *gports = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ports, i, v)
	{
		char nb[64];
		long long p = strtoll(pw__cloud_scalar(v, nb, sizeof nb), NULL, 10);
		json_array_append_new(cports,
		                      json_pack("{s:s, s:I}", "protocol", "TCP", "port", (json_int_t)p));
		json_array_append_new(gports,
		                      json_pack("{s:s, s:I}", "protocol", "TCP", "port", (json_int_t)p));
	}
	if (json_array_size(cports))
		json_object_set_new(cprops, "ports", cports);
	else
		json_decref(cports);

	/* environment: merge keeps the existing group's plain values not named here */
	json_t *envs = json_array();
	json_t *pe = json_object_get(json_object_get(config, "parameters"), "environment");
	json_t *se = json_object_get(json_object_get(config, "parameters"), "secure_environment");
	const char *upd = pw__cloud_param_str(config, "env_update");
	if (upd && strcmp(upd, "merge") == 0) {
		json_t *old =
		    pw__json_get(existing, "properties.containers.0.properties.environmentVariables");
		json_array_foreach(old, i, v)
		{
			const char *n = pw__json_get_string(v, "name");
			if (n && json_object_get(v, "value") && !json_object_get(pe, n) &&
			    !json_object_get(se, n))
				json_array_append(envs, v);
		}
	}
	const char *k;
	json_object_foreach(pe, k, v)
	{
		char nb[64];
		json_array_append_new(
		    envs, json_pack("{s:s, s:s}", "name", k, "value", pw__cloud_scalar(v, nb, sizeof nb)));
	}
	json_object_foreach(se, k, v)
	{
		char nb[64];
		const char *val = pw__cloud_scalar(v, nb, sizeof nb);
		if (ex && !for_plan)
			pw_exec_add_secret(ex, val, k, NULL);
		json_array_append_new(
		    envs, json_pack("{s:s, s:s}", "name", k, "secureValue", for_plan ? "***" : val));
	}
	if (json_array_size(envs))
		json_object_set_new(cprops, "environmentVariables", envs);
	else
		json_decref(envs);

	json_object_set_new(props, "containers",
	                    json_pack("[{s:s, s:o}]", "name", container_name(config), "properties", cprops));
	const char *os = pw__cloud_param_str(config, "os_type");
	json_object_set_new(props, "osType", json_string(os ? os : "Linux"));
	const char *rp = pw__cloud_param_str(config, "restart_policy");
	if (rp)
		json_object_set_new(props, "restartPolicy", json_string(rp));
	const char *dns = pw__cloud_param_str(config, "dns_name_label");
	if (json_array_size(gports)) {
		json_t *ip = json_pack("{s:o, s:s}", "ports", gports, "type", "Public");
		if (dns)
			json_object_set_new(ip, "dnsNameLabel", json_string(dns));
		json_object_set_new(props, "ipAddress", ip);
	} else {
		json_decref(gports);
	}
	const char *rs = pw__cloud_param_str(config, "registry_server");
	if (rs) {
		json_t *cred = json_pack("{s:s}", "server", rs);
		const char *ru = pw__cloud_param_str(config, "registry_username");
		const char *pv = pw__cloud_param_str(config, "registry_password_env");
		const char *pw = pv ? pw__cloud_env(env, pv) : NULL;
		if (ru)
			json_object_set_new(cred, "username", json_string(ru));
		if (pv && !pw && !for_plan) {
			json_decref(cred);
			json_decref(props);
			pw__cloud_fail(err, PW_ECONFIG, "parameters.registry_password_env", NULL, NULL,
			               "azure: the variable '%s' named by registry_password_env is not set",
			               pv);
			return NULL;
		}
		if (pv) {
			if (ex && pw && !for_plan)
				pw_exec_add_secret(ex, pw, pv, NULL);
			json_object_set_new(cred, "password", json_string(for_plan || !pw ? "***" : pw));
		}
		json_object_set_new(props, "imageRegistryCredentials", json_pack("[o]", cred));
	}
	return json_pack("{s:s, s:o}", "location", location, "properties", props);
}

static void append_events(pw_buf *b, const json_t *events, const char *who)
{
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev)
	{
		const char *type = pw__json_get_string(ev, "type");
		const char *name = pw__json_get_string(ev, "name");
		const char *msg = pw__json_get_string(ev, "message");
		pw__buf_printf(b, "\n  %s: %s %s: %s", who, type ? type : "", name ? name : "",
		               msg ? msg : "");
	}
}

void pw__azure_describe_group(pw_buf *b, const json_t *group)
{
	append_events(b, pw__json_get(group, "properties.instanceView.events"), "group");
	size_t i;
	json_t *c;
	json_array_foreach(pw__json_get(group, "properties.containers"), i, c)
	{
		const char *n = pw__json_get_string(c, "name");
		append_events(b, pw__json_get(c, "properties.instanceView.events"), n ? n : "container");
		const char *st = pw__json_get_string(c, "properties.instanceView.currentState.state");
		const char *ds = pw__json_get_string(c, "properties.instanceView.currentState.detailStatus");
		if (st)
			pw__buf_printf(b, "\n  %s: state %s%s%s%s", n ? n : "container", st, ds ? " (" : "",
			               ds ? ds : "", ds ? ")" : "");
	}
}

int pw__azure_containers_terminated(int *exit_code, const json_t *group)
{
	int all = 1, any = 0;
	size_t i;
	json_t *c;
	*exit_code = 0;
	json_array_foreach(pw__json_get(group, "properties.containers"), i, c)
	{
		any = 1;
		const char *st = pw__json_get_string(c, "properties.instanceView.currentState.state");
		long long ec = 0;
		if (!st || strcmp(st, "Terminated") != 0)
			all = 0;
		else if (pw__json_get_int(&ec, c, "properties.instanceView.currentState.exitCode") == 0 &&
		         ec != 0 && *exit_code == 0)
			*exit_code = ec > 0 && ec <= 255 ? (int)ec : 1;
	}
	if (!(any && all))
		*exit_code = 0;
	return any && all;
}

int pw__azure_lro_state(char *state, size_t cap, char *failure, size_t fcap, const json_t *doc, int async)
{
	const char *s = async ? pw__json_get_string(doc, "status")
	                      : pw__json_get_string(doc, "properties.provisioningState");
	snprintf(state, cap, "%s", s ? s : "unknown");
	if (async) {
		const char *ec = pw__json_get_string(doc, "error.code");
		const char *em = pw__json_get_string(doc, "error.message");
		if (ec || em)
			snprintf(failure, fcap, "%s%s%s", ec ? ec : "", ec && em ? ": " : "", em ? em : "");
	}
	return strcmp(state, "Succeeded") == 0 || strcmp(state, "Failed") == 0 ||
	       strcmp(state, "Canceled") == 0;
}

static int get_group(json_t **out, az_ctx *x, pw_error **err)
{
	*out = NULL;
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, "GET", x->path, NULL, err);
	if (rc == 0 && r.status == 200)
		*out = doc;
	else if (rc == 0 && r.status != 404) {
		rc = pw__azure_error(err, "get the container group", &r, doc);
		json_decref(doc);
	} else
		json_decref(doc);
	pw__http_response_dispose(&r);
	return rc;
}

static char *fetch_logs(az_ctx *x, const char *container, long long tail)
{
	char path[1400];
	char *ec = pw__http_escape(container);
	snprintf(path, sizeof path, "%s/containers/%s/logs?api-version=" ARM_API_VERSION "%s%lld", x->rid,
	         ec ? ec : "", tail > 0 ? "&tail=" : "", tail > 0 ? tail : 0LL);
	if (tail <= 0)
		path[strlen(path) - 1] = '\0';
	pw_free(ec);
	pw_http_response r;
	json_t *doc = NULL;
	char *out = NULL;
	pw_error *e = NULL;
	if (pw__cloud_send(&r, &doc, &x->api, "GET", path, NULL, &e) == 0 && r.status == 200) {
		const char *content = pw__json_get_string(doc, "content");
		out = pw_strdup(content ? content : "");
	}
	pw_error_free(e);
	json_decref(doc);
	pw__http_response_dispose(&r);
	return out;
}

/* Follows an ARM long-running operation: the Azure-AsyncOperation URL when given, else the
 * resource's provisioningState. *state receives the final status (static string or NULL). */
static int follow_lro(az_ctx *x, const pw_http_response *first, const char *what, char *state, size_t cap,
                      char *failure, size_t fcap, pw_error **err)
{
	const char *async = pw__http_header_get(first, "azure-asyncoperation");
	const char *loc = pw__http_header_get(first, "location");
	char *async_url = async ? pw_strdup(async) : NULL;
	char *loc_url = !async && loc ? pw_strdup(loc) : NULL;
	int64_t ra = pw__cloud_retry_after_ms(first);
	pw_cloud_poll poll;
	pw__cloud_poll_init(&poll, x->config, x->ex);
	int rc = 0;
	failure[0] = '\0';
	for (;;) {
		rc = pw__cloud_poll_wait(&poll, x->ex, ra);
		if (rc < 0) {
			if (rc == PW_ECANCELLED)
				pw__cloud_fail(err, rc, NULL, NULL, NULL,
				               "azure: cancelled while waiting for %s of %s (last state %s)",
				               what, x->group, state[0] ? state : "unknown");
			else
				pw__cloud_fail(err, rc, "wait_timeout",
				               "raise the step's timeout or wait_timeout, or look at the "
				               "container group in "
				               "the portal",
				               NULL, "azure: %s of %s did not finish in time (last state %s)",
				               what, x->group, state[0] ? state : "unknown");
			break;
		}
		pw_http_response r;
		json_t *doc = NULL;
		const char *target = async_url ? async_url : loc_url ? loc_url : x->path;
		rc = pw__cloud_send(&r, &doc, &x->api, "GET", target, NULL, err);
		if (rc < 0) {
			json_decref(doc);
			pw__http_response_dispose(&r);
			break;
		}
		ra = pw__cloud_retry_after_ms(&r);
		if (loc_url && (r.status == 202)) {
			json_decref(doc);
			pw__http_response_dispose(&r);
			continue;
		}
		if (loc_url && (r.status == 200 || r.status == 204 || r.status == 404)) {
			snprintf(state, cap, "%s", "Succeeded");
			json_decref(doc);
			pw__http_response_dispose(&r);
			break;
		}
		if (r.status == 404 && !async_url) {
			snprintf(state, cap, "%s", "Deleted");
			json_decref(doc);
			pw__http_response_dispose(&r);
			break;
		}
		if (r.status < 200 || r.status >= 300) {
			rc = pw__azure_error(err, what, &r, doc);
			json_decref(doc);
			pw__http_response_dispose(&r);
			break;
		}
		int final = pw__azure_lro_state(state, cap, failure, fcap, doc, async_url != NULL);
		json_decref(doc);
		pw__http_response_dispose(&r);
		if (final)
			break;
		if (x->ex)
			pw_exec_log(x->ex, PW_LOG_INFO, "azure", "%s of %s: %s", what, x->group, state);
	}
	pw_free(async_url);
	pw_free(loc_url);
	return rc;
}

static void set_out(pw_exec *ex, pw_result *r, const char *k, const char *v)
{
	if (!v)
		return;
	if (ex)
		pw_exec_set_output(ex, k, v);
	if (r)
		pw_result_with_metadata(r, k, v);
}

static int do_create(pw_result **out, az_ctx *x, const pw_map *env, pw_error **err)
{
	json_t *existing = NULL;
	int rc = 0;
	const char *upd = pw__cloud_param_str(x->config, "env_update");
	if (upd && strcmp(upd, "merge") == 0)
		rc = get_group(&existing, x, err);
	json_t *body = rc < 0 ? NULL : group_body(x->config, env, existing, 0, x->ex, err);
	json_decref(existing);
	if (!body)
		return rc < 0 ? rc : (err && *err ? pw_error_code(*err) : PW_ENOMEM);
	pw_http_response r;
	json_t *doc = NULL;
	pw_error *se = NULL;
	rc = pw__cloud_send(&r, &doc, &x->api, "PUT", x->path, body, &se);
	json_decref(body);
	if (rc < 0 && se && pw_error_code(se) != PW_ETIMEOUT && pw_error_code(se) != PW_ECANCELLED) {
		/* the transport's reason, said as the failure of this operation */
		pw_buf m = PW_BUF_INIT(0);
		pw__buf_printf(&m, "azure: cannot create or update the container group %s: %s", x->group,
		               pw_error_message(se));
		pw__error_replace_message(se, pw__buf_cstr(&m));
		pw__buf_dispose(&m);
	}
	if (se && err && !*err)
		*err = se;
	else
		pw_error_free(se);
	if (rc == 0 && r.status != 200 && r.status != 201) {
		rc = pw__azure_error(err, "create or update the container group", &r, doc);
		pw_exec_audit(x->ex, "azure.container-instances.create-or-update", x->rid, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
	} else if (rc == 0 && r.body_len > 0 && !json_is_object(doc)) {
		/* not the group: going on would report a state Azure never gave */
		rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL,
		                    "the group may have been created or updated: run the step again (the "
		                    "PUT sets the same state)",
		                    r.body,
		                    "azure: cannot create or update the container group %s: the answer to "
		                    "PUT %s is not JSON",
		                    x->group, x->rid);
	}
	char state[64] = "", failure[1024] = "";
	const char *ps = pw__json_get_string(doc, "properties.provisioningState");
	snprintf(state, sizeof state, "%s", ps ? ps : "");
	if (rc == 0 && !(ps && (strcmp(ps, "Succeeded") == 0 || strcmp(ps, "Failed") == 0)))
		rc = follow_lro(x, &r, "provisioning", state, sizeof state, failure, sizeof failure, err);
	json_decref(doc);
	pw__http_response_dispose(&r);
	if (rc < 0) {
		if (rc != PW_EPERM && rc != PW_EVALIDATION)
			pw_exec_audit(x->ex, "azure.container-instances.create-or-update", x->rid, "failed",
			              err && *err ? pw_error_message(*err) : NULL);
		return rc;
	}
	json_t *group = NULL;
	rc = get_group(&group, x, err);
	if (rc < 0)
		return rc;
	const char *gs = pw__json_get_string(group, "properties.provisioningState");
	if (strcmp(state, "Succeeded") != 0 || (gs && strcmp(gs, "Succeeded") != 0)) {
		pw_buf d = PW_BUF_INIT(0);
		pw__azure_describe_group(&d, group);
		long long tail = pw__cloud_param_int(x->config, "logs_tail", 50);
		char *logs = fetch_logs(x, container_name(x->config), tail);
		if (logs && *logs)
			pw__buf_printf(&d, "\n  logs of %s (last %lld lines):\n%s", container_name(x->config),
			               tail, logs);
		pw_free(logs);
		rc = pw__cloud_fail(
		    err, PW_EEXTERNAL, NULL,
		    "the events above are Azure's own diagnosis; fix the image, command or resources "
		    "and run again",
		    NULL, "azure: container group %s: provisioning %s%s%s%s", x->group, gs ? gs : state,
		    failure[0] ? " (" : "", failure, failure[0] ? ")" : "");
		if (err && *err && d.len)
			pw_error_set_response(*err, pw__buf_cstr(&d) + 1);
		pw_exec_audit(x->ex, "azure.container-instances.create-or-update", x->rid, "failed",
		              gs ? gs : state);
		pw__buf_dispose(&d);
		json_decref(group);
		return rc;
	}
	pw_exec_audit(x->ex, "azure.container-instances.create-or-update", x->rid, "ok", "Succeeded");
	int exit_code = 0;
	char *logs = NULL;
	if (pw__cloud_param_bool(x->config, "wait", 0)) {
		pw_cloud_poll poll;
		pw__cloud_poll_init(&poll, x->config, x->ex);
		for (;;) {
			if (pw__azure_containers_terminated(&exit_code, group))
				break;
			rc = pw__cloud_poll_wait(&poll, x->ex, 0);
			if (rc < 0) {
				json_decref(group);
				return pw__cloud_fail(
				    err, rc, NULL, NULL, NULL,
				    "azure: %s while waiting for the containers of %s to terminate",
				    rc == PW_ECANCELLED ? "cancelled" : "timed out", x->group);
			}
			json_decref(group);
			group = NULL;
			rc = get_group(&group, x, err);
			if (rc < 0)
				return rc;
			if (!group)
				return pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, NULL,
				                      "azure: container group %s disappeared while waiting",
				                      x->group);
		}
		logs =
		    fetch_logs(x, container_name(x->config), pw__cloud_param_int(x->config, "logs_tail", 0));
	}
	pw_result *res = exit_code ? pw_result_failure(exit_code, "") : pw_result_success(logs ? logs : "");
	if (res && exit_code)
		pw_result_set_stdout(res, logs ? logs : "");
	if (logs && x->ex)
		pw_exec_output(x->ex, PW_STREAM_STDOUT, logs, strlen(logs));
	pw_free(logs);
	set_out(x->ex, res, "provisioning_state", "Succeeded");
	set_out(x->ex, res, "resource_id", x->rid);
	set_out(x->ex, res, "ip", pw__json_get_string(group, "properties.ipAddress.ip"));
	set_out(x->ex, res, "fqdn", pw__json_get_string(group, "properties.ipAddress.fqdn"));
	json_decref(group);
	*out = res;
	return res ? 0 : PW_ENOMEM;
}

static int do_delete_restart(pw_result **out, az_ctx *x, int restart, pw_error **err)
{
	const char *audit =
	    restart ? "azure.container-instances.restart" : "azure.container-instances.delete";
	char path[1200];
	if (restart)
		snprintf(path, sizeof path, "%s/restart?api-version=" ARM_API_VERSION, x->rid);
	else
		snprintf(path, sizeof path, "%s", x->path);
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, restart ? "POST" : "DELETE", path, NULL, err);
	const char *note = "ok";
	char state[64] = "", failure[512] = "";
	if (rc == 0) {
		if (!restart && r.status == 204)
			note = "already absent";
		else if (r.status == 202 || (r.status == 200 && !restart) ||
		         (restart && r.status == 204 && pw__http_header_get(&r, "azure-asyncoperation")))
			rc = follow_lro(x, &r, restart ? "the restart" : "the deletion", state, sizeof state,
			                failure, sizeof failure, err);
		else if (!(restart && (r.status == 204 || r.status == 200)))
			rc = pw__azure_error(
			    err, restart ? "restart the container group" : "delete the container group", &r,
			    doc);
	}
	if (rc == 0 && state[0] && strcmp(state, "Succeeded") != 0 && strcmp(state, "Deleted") != 0)
		rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, failure[0] ? failure : NULL,
		                    "azure: %s of %s ended %s", restart ? "the restart" : "the deletion",
		                    x->group, state);
	json_decref(doc);
	pw__http_response_dispose(&r);
	pw_exec_audit(x->ex, audit, x->rid, rc == 0 ? note : "failed",
	              rc < 0 && err && *err ? pw_error_message(*err) : NULL);
	if (rc < 0)
		return rc;
	char msg[1200];
	snprintf(msg, sizeof msg, "%s %s: %s\n", restart ? "restarted" : "deleted", x->rid, note);
	*out = pw_result_success(msg);
	return *out ? 0 : PW_ENOMEM;
}

static int do_logs(pw_result **out, az_ctx *x, pw_error **err)
{
	char path[1400];
	char *ec = pw__http_escape(container_name(x->config));
	long long tail = pw__cloud_param_int(x->config, "tail", 0);
	int n = snprintf(path, sizeof path, "%s/containers/%s/logs?api-version=" ARM_API_VERSION, x->rid,
	                 ec ? ec : "");
	if (tail > 0 && n > 0 && (size_t)n < sizeof path)
		snprintf(path + n, sizeof path - (size_t)n, "&tail=%lld", tail);
	pw_free(ec);
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, "GET", path, NULL, err);
	if (rc == 0 && r.status != 200)
		rc = pw__azure_error(err, "get the container's logs", &r, doc);
	if (rc == 0) {
		const char *content = pw__json_get_string(doc, "content");
		if (content && x->ex)
			pw_exec_output(x->ex, PW_STREAM_STDOUT, content, strlen(content));
		*out = pw_result_success(content ? content : "");
		if (!*out)
			rc = PW_ENOMEM;
	}
	json_decref(doc);
	pw__http_response_dispose(&r);
	return rc;
}

static int az_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_exec *ex, pw_error **err)
{
	*out = NULL;
	pw_cloud_impl *im = pw_connector_impl(c);
	const pw_cloud_action *a = NULL;
	int rc = pw__cloud_validate(&a, step->config, "azure", top_keys, actions, NACTIONS, err);
	if (rc < 0)
		return rc;
	pw_http_pool *pool = pw__manager_http_pool(pw_connector_manager(c));
	if (!pool)
		return pw_error_set(err, PW_ENOMEM, "azure: no HTTP connection pool");
	az_cred cred;
	rc = az_cred_init(&cred, step->config, env, ex, pool, err);
	if (rc < 0)
		return rc;
	az_ctx x;
	memset(&x, 0, sizeof x);
	x.config = step->config;
	x.ex = ex;
	az_token_ctx tc = {im, &cred, ex};
	const char *endpoint = json_string_value(json_object_get(step->config, "endpoint"));
	rc = pw__cloud_api_init(&x.api, endpoint ? endpoint : ARM_DEFAULT_ENDPOINT, err);
	if (rc < 0)
		return rc;
	x.api.pool = pool;
	x.api.ex = ex;
	x.api.service = "azure";
	x.api.token = az_token;
	x.api.token_payload = &tc;
	x.api.error = pw__azure_error;
	rc = group_path(&x, env, err);
	if (rc == 0) {
		if (strcmp(a->action, "create-or-update") == 0)
			rc = do_create(out, &x, env, err);
		else if (strcmp(a->action, "delete") == 0)
			rc = do_delete_restart(out, &x, 0, err);
		else if (strcmp(a->action, "restart") == 0)
			rc = do_delete_restart(out, &x, 1, err);
		else
			rc = do_logs(out, &x, err);
	}
	pw__cloud_api_dispose(&x.api);
	return rc;
}

static int az_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                   const pw_map *env, pw_error **err)
{
	const pw_cloud_action *a = NULL;
	int rc = pw__cloud_validate(&a, step->config, "azure", top_keys, actions, NACTIONS, err);
	if (rc < 0)
		return rc;
	az_ctx x;
	memset(&x, 0, sizeof x);
	x.config = step->config;
	const char *endpoint = json_string_value(json_object_get(step->config, "endpoint"));
	rc = pw__cloud_api_init(&x.api, endpoint ? endpoint : ARM_DEFAULT_ENDPOINT, err);
	if (rc < 0)
		return rc;
	pw_map *penv = pw_map_dup(env);
	if (penv && !pw__cloud_env(env, "AZURE_SUBSCRIPTION_ID"))
		pw_map_set(penv, "AZURE_SUBSCRIPTION_ID", "${AZURE_SUBSCRIPTION_ID}");
	rc = group_path(&x, penv, err);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "# azure: %s %s (Azure Resource Manager, api-version " ARM_API_VERSION ")\n",
	               a->service, a->action);
	if (rc == 0 && strcmp(a->action, "create-or-update") == 0) {
		const char *upd = pw__cloud_param_str(step->config, "env_update");
		if (upd && strcmp(upd, "merge") == 0) {
			pw__buf_puts(&b, "# first: read the existing group to merge its environment\n");
			pw__cloud_plan_request(&b, "GET", x.api.origin, x.api.prefix, x.path, NULL);
		}
		if (penv && !pw__cloud_param_str(step->config, "location") &&
		    !pw__cloud_env(env, "AZURE_LOCATION") && !pw__cloud_env(env, "AZURE_DEFAULTS_LOCATION"))
			pw_map_set(penv, "AZURE_LOCATION", "${AZURE_LOCATION}");
		json_t *body = group_body(step->config, penv, NULL, 1, NULL, err);
		if (!body)
			rc = err && *err ? pw_error_code(*err) : PW_ENOMEM;
		else {
			pw__cloud_plan_request(&b, "PUT", x.api.origin, x.api.prefix, x.path, body);
			pw__buf_puts(
			    &b, "# then: poll the Azure-AsyncOperation URL (or provisioningState) until "
			        "Succeeded or "
			        "Failed; on Failed, the group's events and container logs are reported\n");
			if (pw__cloud_param_bool(step->config, "wait", 0))
				pw__buf_puts(&b, "# then: poll the group until every container is "
				                 "Terminated; its exit code "
				                 "and logs are the step's\n");
			json_decref(body);
		}
	} else if (rc == 0 && strcmp(a->action, "delete") == 0) {
		pw__cloud_plan_request(&b, "DELETE", x.api.origin, x.api.prefix, x.path, NULL);
	} else if (rc == 0 && strcmp(a->action, "restart") == 0) {
		char p[1200];
		snprintf(p, sizeof p, "%s/restart?api-version=" ARM_API_VERSION, x.rid);
		pw__cloud_plan_request(&b, "POST", x.api.origin, x.api.prefix, p, NULL);
	} else if (rc == 0) {
		char p[1400];
		snprintf(p, sizeof p, "%s/containers/%s/logs?api-version=" ARM_API_VERSION, x.rid,
		         container_name(step->config));
		pw__cloud_plan_request(&b, "GET", x.api.origin, x.api.prefix, p, NULL);
	}
	pw_map_free(penv);
	pw__cloud_api_dispose(&x.api);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return rc;
	}
	*out = pw__buf_detach(&b);
	return 0;
}

static const pw_connector_ops az_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = az_validate,
    .execute_step = az_execute,
    .plan = az_plan,
    .destroy = pw__cloud_connector_destroy,
};

int pw__azure_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	return pw__cloud_connector_new(out, &az_ops, PW_TYPE_AZURE, err);
}
