/* The GCP connector (type "gcp"): Cloud Run through the Cloud Run Admin API v2 (run.v2.json):
 * deploy (create the service if absent, else update it; follow the long-running operation;
 * verify that the new revision is Ready and serves the requested traffic; optionally open it to
 * unauthenticated callers through the IAM policy), delete, and jobs-execute (run a job, wait for
 * the execution and report its outcome; a cancel cancels the execution).
 * Credentials: a service-account key (GOOGLE_APPLICATION_CREDENTIALS) signed into an RS256 JWT,
 * an external_account file (workload identity federation: STS exchange of a file- or
 * URL-sourced subject token, optionally impersonating a service account), or the metadata
 * server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/oauth2.h"
#include "connectors/cloud/cloud.h"
#include "connectors/cloud/gcp.h"
#include "core/journal.h"
#include "core/step.h"
#include "net/json.h"
#include "pipewright/result.h"
#include "pipeline/gc.h"
#include "pipewright/sys/connector.h"

#define RUN_DEFAULT_ENDPOINT "https://run.googleapis.com"
#define GOOGLE_TOKEN_DEFAULT "https://oauth2.googleapis.com/token"
#define METADATA_DEFAULT "http://metadata.google.internal"
#define CLOUD_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define SUBJECT_JWT "urn:ietf:params:oauth:token-type:jwt"
/* Time a cleanup call (cancelling an execution after the step was cancelled) may take. */
#define CLEANUP_TIMEOUT_MS 10000

static const char *const top_keys[] = {
    "service",    "action",           "parameters",        "endpoint",      "token_endpoint",
    "credential", "credentials_file", "metadata_endpoint", "poll_interval", "wait_timeout",
    NULL};

#define WHERE_PARAMS                                                                                    \
	{"project", PW_CP_STRING, 0, NULL,                                                              \
	 "the project id; default: GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT or the key file's"},     \
	{                                                                                               \
		"region", PW_CP_STRING, 0, NULL,                                                        \
		    "the region, e.g. us-central1; default: CLOUDSDK_RUN_REGION or GOOGLE_CLOUD_REGION" \
	}

static const pw_cloud_param deploy_params[] = {
    {"service_name", PW_CP_STRING, 1, NULL, "the Cloud Run service, e.g. web-app"},
    {"image", PW_CP_STRING, 1, NULL, "the container image, e.g. us-docker.pkg.dev/p/repo/web-app:1.2"},
    WHERE_PARAMS,
    {"env", PW_CP_STRMAP, 0, NULL, "environment variables of the container"},
    {"secrets", PW_CP_STRMAP, 0, NULL,
     "variables from Secret Manager: NAME: secret[:version] (version default: latest)"},
    {"env_update", PW_CP_ENUM, 0, "merge|replace",
     "merge: keep the service's variables not named here; replace (default): only these"},
    {"cpu", PW_CP_NUMBER, 0, NULL, "CPU limit in cores, e.g. 1, 2 or 0.5"},
    {"memory", PW_CP_STRING, 0, NULL, "memory limit, e.g. 512Mi or 2Gi"},
    {"port", PW_CP_INT, 0, NULL, "the port the container listens on (default 8080)"},
    {"command", PW_CP_LIST, 0, NULL, "the entrypoint instead of the image's"},
    {"args", PW_CP_LIST, 0, NULL, "arguments of the entrypoint"},
    {"min_instances", PW_CP_INT, 0, NULL, "minimum number of instances"},
    {"max_instances", PW_CP_INT, 0, NULL, "maximum number of instances"},
    {"concurrency", PW_CP_INT, 0, NULL, "maximum concurrent requests per instance"},
    {"request_timeout", PW_CP_INT, 0, NULL, "request timeout in seconds"},
    {"service_account", PW_CP_STRING, 0, NULL, "the service account the revision runs as"},
    {"ingress", PW_CP_ENUM, 0, "all|internal|internal-and-cloud-load-balancing|none",
     "who may reach the service"},
    {"labels", PW_CP_STRMAP, 0, NULL, "labels of the service"},
    {"traffic", PW_CP_ENUM, 0, "latest|none",
     "latest (default): 100% to the new revision; none: traffic unchanged (with tag: a preview)"},
    {"tag", PW_CP_STRING, 0, NULL, "a traffic tag for the new revision (its own URL)"},
    {"revision_suffix", PW_CP_STRING, 0, NULL, "the new revision's name is SERVICE-SUFFIX"},
    {"allow_unauthenticated", PW_CP_BOOL, 0, NULL,
     "true: allUsers may invoke the service; false: remove that; absent: IAM unchanged"},
    {"wait", PW_CP_BOOL, 0, NULL, "wait for the rollout and verify it (default true)"},
    {NULL, 0, 0, NULL, NULL},
};
static const pw_cloud_param delete_params[] = {
    {"service_name", PW_CP_STRING, 1, NULL, "the Cloud Run service"},
    WHERE_PARAMS,
    {NULL, 0, 0, NULL, NULL},
};
static const pw_cloud_param job_params[] = {
    {"job_name", PW_CP_STRING, 1, NULL, "the Cloud Run job"},
    WHERE_PARAMS,
    {"args", PW_CP_LIST, 0, NULL, "arguments instead of the job's (an override)"},
    {"env", PW_CP_STRMAP, 0, NULL, "environment variables added for this execution (an override)"},
    {"task_count", PW_CP_INT, 0, NULL, "number of tasks for this execution"},
    {"task_timeout", PW_CP_INT, 0, NULL, "seconds a task may run (an override)"},
    {"wait", PW_CP_BOOL, 0, NULL, "wait for the execution to finish (default true)"},
    {NULL, 0, 0, NULL, NULL},
};

static const pw_cloud_action actions[] = {
    {"cloud-run", "deploy", deploy_params, "deploy an image to a service (create or update)"},
    {"cloud-run", "delete", delete_params, "delete a service"},
    {"cloud-run", "jobs-execute", job_params, "run a job and wait for its execution"},
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

/* A revision suffix, tag or service name: lowercase letters, digits and '-'. */
static int dns_label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int gcp_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	const pw_cloud_action *a = NULL;
	int rc = pw__cloud_validate(&a, step->config, "gcp", top_keys, actions, NACTIONS, err);
	if (rc < 0)
		return rc;
	json_t *cred = json_object_get(step->config, "credential");
	const char *cs = json_string_value(cred);
	if (cred && (!cs || (strcmp(cs, "auto") && strcmp(cs, "service-account") &&
	                     strcmp(cs, "external-account") && strcmp(cs, "metadata"))))
		return pw__cloud_fail(err, PW_ECONFIG, "credential", NULL, NULL,
		                      "gcp: credential must be auto, service-account, external-account or "
		                      "metadata");
	const char *name = pw__cloud_param_str(step->config, "service_name");
	if (!name)
		name = pw__cloud_param_str(step->config, "job_name");
	if (name && (!dns_label_ok(name, 49) || name[0] < 'a' || name[0] > 'z'))
		return pw__cloud_fail(
		    err, PW_ECONFIG,
		    pw__cloud_param_str(step->config, "service_name") ? "parameters.service_name"
		                                                      : "parameters.job_name",
		    "up to 49 lowercase letters, digits and hyphens, starting with a letter", NULL,
		    "gcp: '%s' is not a valid Cloud Run name", name);
	const char *tag = pw__cloud_param_str(step->config, "tag");
	if (tag && !dns_label_ok(tag, 46))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.tag",
		                      "lowercase letters, digits and hyphens", NULL,
		                      "gcp: '%s' is not a valid traffic tag", tag);
	const char *suffix = pw__cloud_param_str(step->config, "revision_suffix");
	if (suffix && name && (!dns_label_ok(suffix, 62) || strlen(name) + 1 + strlen(suffix) > 63))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.revision_suffix",
		                      "lowercase letters, digits and hyphens; SERVICE-SUFFIX at most 63 "
		                      "characters",
		                      NULL, "gcp: '%s' is not a valid revision suffix", suffix);
	const char *mem = pw__cloud_param_str(step->config, "memory");
	if (mem) {
		char *end = NULL;
		long v = strtol(mem, &end, 10);
		if (end == mem || v <= 0 ||
		    !(strcmp(end, "Mi") == 0 || strcmp(end, "Gi") == 0 || strcmp(end, "M") == 0 ||
		      strcmp(end, "G") == 0))
			return pw__cloud_fail(err, PW_ECONFIG, "parameters.memory",
			                      "a quantity such as 512Mi or 2Gi", NULL,
			                      "gcp: memory '%s' is not a memory quantity", mem);
	}
	if (pw__cloud_param_str(step->config, "env_update") &&
	    !json_object_get(json_object_get(step->config, "parameters"), "env") &&
	    !json_object_get(json_object_get(step->config, "parameters"), "secrets"))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.env_update", NULL, NULL,
		                      "gcp: env_update is set but there is no env or secrets to update");
	return 0;
}

/* ---- credentials ---- */

typedef struct gcp_cred {
	const char *kind; /* service-account | external-account | metadata */
	json_t *file;     /* the parsed credentials file (owned), NULL for metadata */
	const char *path; /* its path */
	const char *token_url;
	char metadata[512];
	pw_oauth2_call call;
} gcp_cred;

static void cred_dispose(gcp_cred *c)
{
	json_decref(c->file);
	c->file = NULL;
}

/* The subject token of an external_account credential: a file, or a URL (GitHub Actions' OIDC
 * endpoint), as text or as a JSON field. A new string (pw_free). */
static int subject_token(char **out, gcp_cred *c, pw_error **err)
{
	*out = NULL;
	json_t *src = json_object_get(c->file, "credential_source");
	const char *file = json_string_value(json_object_get(src, "file"));
	const char *url = json_string_value(json_object_get(src, "url"));
	const char *ftype = pw__json_get_string(src, "format.type");
	const char *field = pw__json_get_string(src, "format.subject_token_field_name");
	pw_buf text = PW_BUF_INIT(0);
	int rc = 0;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return pw__cloud_fail(err, PW_ECONFIG, NULL,
			                      "the external_account credential_source.file must be readable",
			                      NULL, "gcp: cannot read the subject token file '%s'", file);
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && text.len < (1u << 20))
			pw__buf_append(&text, chunk, n);
		fclose(f);
		memset(chunk, 0, sizeof chunk);
	} else if (url) {
		char *origin = NULL, *rest = NULL;
		rc = pw__oauth2_split_url(&origin, &rest, url, 0, err);
		if (rc < 0)
			return rc;
		const char *hv[16];
		size_t nh = 0;
		pw_buf hb[15];
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(src, "headers"), k, v)
		{
			if (nh >= 15 || !json_is_string(v))
				continue;
			hb[nh] = (pw_buf)PW_BUF_INIT(0);
			pw__buf_printf(&hb[nh], "%s: %s", k, json_string_value(v));
			hv[nh] = pw__buf_cstr(&hb[nh]);
			nh++;
		}
		hv[nh] = NULL;
		pw_http_endpoint ep = {.base_url = origin};
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.path_and_query = rest;
		req.headers = hv;
		if (c->call.ex) {
			req.cancel_fd = pw_exec_cancel_fd(c->call.ex);
			int64_t left = pw_exec_remaining_ms(c->call.ex);
			req.total_timeout_ms = left < 0 ? 0 : (left == 0 ? 1 : (long)left);
		}
		pw_http_response r;
		pw__http_trace(&req, c->call.ex);
		rc = pw__http_do(&r, c->call.pool, &ep, &req, err);
		for (size_t i = 0; i < nh; i++) {
			memset(hb[i].data, 0, hb[i].len);
			pw__buf_dispose(&hb[i]);
		}
		if (rc == 0 && (r.status < 200 || r.status >= 300))
			rc = pw__cloud_fail(err, PW_EPERM, NULL,
			                    "check the credential_source.url and its headers (the CI's OIDC "
			                    "token request settings)",
			                    NULL, "gcp: the subject token URL answered HTTP %ld", r.status);
		if (rc == 0)
			pw__buf_append(&text, r.body, r.body_len);
		pw__http_response_dispose(&r);
		pw_free(origin);
		pw_free(rest);
		if (rc < 0) {
			pw__buf_dispose(&text);
			return rc;
		}
	} else {
		return pw__cloud_fail(
		    err, PW_ECONFIG, NULL, "the external_account file needs credential_source.file or .url",
		    NULL, "gcp: the credentials file '%s' has no usable credential_source", c->path);
	}
	char *tok = NULL;
	if (ftype && strcmp(ftype, "json") == 0) {
		json_t *doc = NULL;
		pw__json_load(&doc, pw__buf_cstr(&text), text.len, 0, "subject token", NULL);
		const char *v = json_string_value(json_object_get(doc, field ? field : ""));
		tok = v ? pw_strdup(v) : NULL;
		json_decref(doc);
	} else {
		size_t n = text.len;
		const char *s = pw__buf_cstr(&text);
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
			n--;
		tok = n ? pw_strdup(s) : NULL;
		if (tok)
			tok[n] = '\0';
	}
	memset(text.data, 0, text.len);
	pw__buf_dispose(&text);
	if (!tok)
		return pw__cloud_fail(err, PW_ECONFIG, NULL, NULL, NULL,
		                      "gcp: the subject token of '%s' is empty%s%s", c->path,
		                      field ? " or has no field " : "", field ? field : "");
	if (c->call.ex)
		pw_exec_add_secret(c->call.ex, tok, "GCP subject token", NULL);
	*out = tok;
	return 0;
}

static int gcp_fetch(pw_oauth2_token *out, void *payload, pw_error **err)
{
	gcp_cred *c = payload;
	if (strcmp(c->kind, "metadata") == 0) {
		char url[640];
		snprintf(url, sizeof url, "%s/computeMetadata/v1/instance/service-accounts/default/token",
		         c->metadata);
		return pw__oauth2_metadata_token(out, &c->call, url, "Metadata-Flavor: Google", err);
	}
	if (strcmp(c->kind, "service-account") == 0) {
		const char *email = json_string_value(json_object_get(c->file, "client_email"));
		const char *key = json_string_value(json_object_get(c->file, "private_key"));
		const char *kid = json_string_value(json_object_get(c->file, "private_key_id"));
		long long now = (long long)time(NULL);
		json_t *claims =
		    json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", email, "scope", CLOUD_SCOPE, "aud",
		              c->token_url, "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
		json_t *hdr = kid ? json_pack("{s:s}", "kid", kid) : NULL;
		char *jwt = NULL;
		int rc = claims ? pw__jwt_sign_rs256(&jwt, hdr, claims, key, strlen(key), err) : PW_ENOMEM;
		json_decref(claims);
		json_decref(hdr);
		if (rc == 0)
			rc = pw__oauth2_jwt_bearer(out, &c->call, c->token_url, jwt, err);
		if (jwt) {
			memset(jwt, 0, strlen(jwt));
			pw_free(jwt);
		}
		return rc;
	}
	/* external_account: STS exchange, then impersonation when the file names a service account */
	char *subject = NULL;
	int rc = subject_token(&subject, c, err);
	if (rc < 0)
		return rc;
	const char *type = json_string_value(json_object_get(c->file, "subject_token_type"));
	const char *aud = json_string_value(json_object_get(c->file, "audience"));
	const char *imp = json_string_value(json_object_get(c->file, "service_account_impersonation_url"));
	pw_oauth2_token sts = {0};
	rc = pw__oauth2_sts_exchange(imp ? &sts : out, &c->call, c->token_url, subject,
	                             type ? type : SUBJECT_JWT, aud, CLOUD_SCOPE, err);
	memset(subject, 0, strlen(subject));
	pw_free(subject);
	if (rc == 0 && imp)
		rc = pw__oauth2_impersonate(out, &c->call, imp, sts.access_token, CLOUD_SCOPE, err);
	pw__oauth2_token_dispose(&sts);
	return rc;
}

/* Reads and checks the credentials file named by credentials_file or
 * GOOGLE_APPLICATION_CREDENTIALS. */
static int load_file(gcp_cred *c, pw_error **err)
{
	json_error_t je;
	c->file = json_load_file(c->path, 0, &je);
	if (!c->file || !json_is_object(c->file))
		return pw__cloud_fail(err, PW_ECONFIG, "credentials_file",
		                      "GOOGLE_APPLICATION_CREDENTIALS must name a service-account key or an "
		                      "external_account file (JSON)",
		                      NULL, "gcp: cannot read the credentials file '%s'%s%s", c->path,
		                      c->file ? "" : ": ", c->file ? "" : je.text);
	const char *type = json_string_value(json_object_get(c->file, "type"));
	if (type && strcmp(type, "service_account") == 0) {
		if (!json_string_value(json_object_get(c->file, "client_email")) ||
		    !json_string_value(json_object_get(c->file, "private_key")))
			return pw__cloud_fail(err, PW_ECONFIG, "credentials_file", NULL, NULL,
			                      "gcp: the service-account key '%s' lacks client_email or "
			                      "private_key",
			                      c->path);
		c->kind = "service-account";
		if (!c->token_url)
			c->token_url = json_string_value(json_object_get(c->file, "token_uri"));
		if (!c->token_url)
			c->token_url = GOOGLE_TOKEN_DEFAULT;
		return 0;
	}
	if (type && strcmp(type, "external_account") == 0) {
		if (!json_string_value(json_object_get(c->file, "audience")))
			return pw__cloud_fail(err, PW_ECONFIG, "credentials_file", NULL, NULL,
			                      "gcp: the external_account file '%s' has no audience", c->path);
		c->kind = "external-account";
		if (!c->token_url)
			c->token_url = json_string_value(json_object_get(c->file, "token_url"));
		if (!c->token_url)
			c->token_url = "https://sts.googleapis.com/v1/token";
		return 0;
	}
	return pw__cloud_fail(err, PW_ECONFIG, "credentials_file",
	                      "use a service-account key, workload identity federation (external_account) "
	                      "or the metadata server",
	                      NULL, "gcp: credentials of type '%s' in '%s' are not supported",
	                      type ? type : "(none)", c->path);
}

static int cred_init(gcp_cred *c, const json_t *config, const pw_map *env, pw_exec *ex, pw_http_pool *pool,
                     pw_error **err)
{
	memset(c, 0, sizeof *c);
	c->call.pool = pool;
	c->call.ex = ex;
	const char *kind = json_string_value(json_object_get(config, "credential"));
	const char *file = json_string_value(json_object_get(config, "credentials_file"));
	c->path = file ? file : pw__cloud_env(env, "GOOGLE_APPLICATION_CREDENTIALS");
	c->token_url = json_string_value(json_object_get(config, "token_endpoint"));
	const char *md = json_string_value(json_object_get(config, "metadata_endpoint"));
	const char *mdhost = pw__cloud_env(env, "GCE_METADATA_HOST");
	if (md)
		snprintf(c->metadata, sizeof c->metadata, "%s", md);
	else if (mdhost)
		snprintf(c->metadata, sizeof c->metadata, "http://%s", mdhost);
	else
		snprintf(c->metadata, sizeof c->metadata, "%s", METADATA_DEFAULT);
	size_t n = strlen(c->metadata);
	while (n > 0 && c->metadata[n - 1] == '/')
		c->metadata[--n] = '\0';
	if (!kind || strcmp(kind, "auto") == 0)
		kind = c->path ? "file" : "metadata";
	if (strcmp(kind, "metadata") == 0) {
		c->kind = "metadata";
		return 0;
	}
	if (!c->path)
		return pw__cloud_fail(
		    err, PW_ECONFIG, "credential",
		    "set GOOGLE_APPLICATION_CREDENTIALS (or credentials_file) to the key or "
		    "external_account file",
		    NULL, "gcp: credential %s needs a credentials file", kind);
	int rc = load_file(c, err);
	if (rc == 0 && strcmp(kind, "file") != 0 && strcmp(kind, c->kind) != 0)
		rc = pw__cloud_fail(err, PW_ECONFIG, "credential", NULL, NULL,
		                    "gcp: credential %s but '%s' holds a %s credential", kind, c->path,
		                    c->kind);
	if (rc == 0 && strcmp(c->kind, "service-account") == 0 && ex)
		pw_exec_add_secret(ex, json_string_value(json_object_get(c->file, "private_key")),
		                   "GCP private key", NULL);
	return rc;
}

typedef struct gcp_token_ctx {
	pw_cloud_impl *im;
	gcp_cred *cred;
	pw_exec *ex;
} gcp_token_ctx;

static int gcp_token(char **out, int force, void *payload, pw_error **err)
{
	gcp_token_ctx *t = payload;
	char key[1600];
	snprintf(key, sizeof key, "%s|%s|%s|%s", t->cred->kind, t->cred->path ? t->cred->path : "",
	         t->cred->token_url ? t->cred->token_url : "", t->cred->metadata);
	return pw__oauth2_cache_get(out, t->im->tokens, key, force, t->ex, gcp_fetch, t->cred, err);
}

/* ---- errors ---- */

/* The role that grants a Cloud Run permission, for hints. */
static const char *role_for(const char *perm)
{
	if (!perm)
		return "roles/run.developer";
	if (strstr(perm, "IamPolicy"))
		return "roles/run.admin";
	if (strstr(perm, "actAs"))
		return "roles/iam.serviceAccountUser on the runtime service account";
	if (strstr(perm, "jobs.run") || strstr(perm, "executions"))
		return "roles/run.developer or roles/run.jobsExecutorWithOverrides";
	return "roles/run.developer";
}

int pw__gcp_error(pw_error **err, const char *op, const pw_http_response *r, const json_t *doc)
{
	const char *status = pw__json_get_string(doc, "error.status");
	const char *msg = pw__json_get_string(doc, "error.message");
	const char *perm = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(pw__json_get(doc, "error.details"), i, d)
	{
		const char *p = pw__json_get_string(d, "metadata.permission");
		if (p)
			perm = p;
	}
	char permbuf[160] = "";
	if (!perm && msg) {
		/* "Permission 'run.services.create' denied on resource ..." */
		const char *p = strstr(msg, "Permission '");
		if (p) {
			p += 12;
			size_t n = strcspn(p, "'");
			snprintf(permbuf, sizeof permbuf, "%.*s", (int)(n < 150 ? n : 150), p);
			perm = permbuf;
		}
	}
	char resp[700];
	snprintf(resp, sizeof resp, "HTTP %ld %s: %.500s", r->status, status ? status : "",
	         msg       ? msg
	         : r->body ? r->body
	                   : "");
	if (r->status == 403 || (status && strcmp(status, "PERMISSION_DENIED") == 0)) {
		char hint[512];
		snprintf(hint, sizeof hint,
		         "grant the deploying identity '%s' (e.g. %s on the project or the resource)",
		         perm ? perm : "the permission named above", role_for(perm));
		return pw__cloud_fail(err, PW_EPERM, NULL, hint, resp,
		                      "gcp: %s: permission denied: missing '%s'", op,
		                      perm ? perm : "(not named by Google)");
	}
	if (r->status == 401)
		return pw__cloud_fail(err, PW_EPERM, NULL,
		                      "check the credentials file or the workload identity pool", resp,
		                      "gcp: %s: the access token was refused (HTTP 401)", op);
	if (r->status == 404)
		return pw__cloud_fail(err, PW_ENOTFOUND, NULL, "check project, region and the name", resp,
		                      "gcp: %s: not found%s%s", op, msg ? ": " : "", msg ? msg : "");
	if (r->status == 429)
		return pw__cloud_fail(err, PW_EEXTERNAL, NULL,
		                      "the project's Cloud Run Admin API quota is exhausted; retry later or "
		                      "raise the quota",
		                      resp, "gcp: %s: rate limited (HTTP 429 %s)", op, status ? status : "");
	return pw__cloud_fail(err, r->status == 400 || r->status == 409 ? PW_EVALIDATION : PW_EEXTERNAL, NULL,
	                      NULL, resp, "gcp: %s: HTTP %ld %s%s%s", op, r->status, status ? status : "",
	                      msg ? ": " : "", msg ? msg : "");
}

/* ---- requests ---- */

typedef struct gcp_ctx {
	const json_t *config;
	pw_exec *ex;
	pw_cloud_api api;
	char parent[512]; /* projects/P/locations/R */
	char name[700];   /* parent/services/S or parent/jobs/J */
	const char *short_name;
} gcp_ctx;

static const char *last_segment(const char *s)
{
	const char *p = s ? strrchr(s, '/') : NULL;
	return p ? p + 1 : s;
}

static int resolve_where(gcp_ctx *x, const pw_map *env, const gcp_cred *cred, const char *coll, int for_plan,
                         pw_error **err)
{
	const char *project = pw__cloud_param_str(x->config, "project");
	const char *vars[] = {"GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GCLOUD_PROJECT", NULL};
	for (size_t i = 0; !project && vars[i]; i++)
		project = pw__cloud_env(env, vars[i]);
	if (!project && cred)
		project = json_string_value(json_object_get(cred->file, "project_id"));
	if (!project)
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.project",
		                      "set parameters.project or GOOGLE_CLOUD_PROJECT", NULL,
		                      "gcp: no project id");
	const char *region = pw__cloud_param_str(x->config, "region");
	const char *rvars[] = {"CLOUDSDK_RUN_REGION", "GOOGLE_CLOUD_REGION", "CLOUDSDK_COMPUTE_REGION", NULL};
	for (size_t i = 0; !region && rvars[i]; i++)
		region = pw__cloud_env(env, rvars[i]);
	if (!region)
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.region",
		                      "set parameters.region or CLOUDSDK_RUN_REGION", NULL, "gcp: no region");
	/* project ids: letters, digits, '-' (and "domain.com:project"); regions: letters, digits, '-' */
	if (!for_plan && strspn(project, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != strlen(project))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.project", NULL, NULL,
		                      "gcp: '%s' is not a project id (lowercase letters, digits, hyphens)",
		                      project);
	if (!for_plan && strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		return pw__cloud_fail(err, PW_ECONFIG, "parameters.region", NULL, NULL,
		                      "gcp: '%s' is not a region (e.g. us-central1)", region);
	snprintf(x->parent, sizeof x->parent, "projects/%s/locations/%s", project, region);
	x->short_name =
	    pw__cloud_param_str(x->config, strcmp(coll, "jobs") == 0 ? "job_name" : "service_name");
	snprintf(x->name, sizeof x->name, "%s/%s/%s", x->parent, coll, x->short_name);
	return 0;
}

/* A transport failure (refused, reset, cut answer, TLS) of a call to Cloud Run as "gcp: OP NAME:
 * ...", with what to do when the call may have reached Cloud Run. Cancel and timeout pass
 * through as they are. Returns the code. */
static int transport_context(pw_error **err, int rc, const char *op, const char *name, const char *hint)
{
	if (!err || !*err || rc == PW_ECANCELLED || rc == PW_ETIMEOUT)
		return rc;
	pw_error *old = *err;
	pw_error *e = pw_error_new(rc, "gcp: %s %s: %s", op, name, pw_error_message(old));
	pw_error_set_hint(e, hint ? hint : pw_error_hint(old));
	if (pw_error_response(old))
		pw_error_set_response(e, pw_error_response(old));
	pw_error_free(old);
	*err = e;
	return rc;
}

/* The hint of a create whose outcome is unknown. */
#define MAYBE_SENT "the request may have reached Cloud Run; run the step again: "

static int get_json(json_t **out, gcp_ctx *x, const char *path, const char *op, int missing_ok,
                    pw_error **err)
{
	*out = NULL;
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, "GET", path, NULL, err);
	if (rc < 0)
		transport_context(err, rc, op, x->short_name, NULL);
	if (rc == 0 && r.status == 404 && missing_ok) {
		json_decref(doc);
		doc = NULL;
	} else if (rc == 0 && r.status != 200) {
		rc = pw__gcp_error(err, op, &r, doc);
	} else if (rc == 0 && !json_is_object(doc)) {
		rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, NULL, "gcp: %s: the answer is not JSON",
		                    op);
	}
	pw__http_response_dispose(&r);
	if (rc < 0) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

/* Polls a long-running operation until done; its response (or NULL) in *response. An
 * operation that ended in error is PW_EEXTERNAL with Google's message. */
static int wait_operation(json_t **response, gcp_ctx *x, const char *opname, const char *what, pw_error **err)
{
	*response = NULL;
	pw_cloud_poll poll;
	pw__cloud_poll_init(&poll, x->config, x->ex);
	char path[800];
	snprintf(path, sizeof path, "/v2/%s", opname);
	int64_t ra = 0;
	int malformed = 0;
	for (;;) {
		int rc = pw__cloud_poll_wait(&poll, x->ex, ra);
		if (rc < 0)
			return pw__cloud_fail(
			    err, rc, NULL,
			    rc == PW_ETIMEOUT ? "the operation goes on in Google Cloud; raise the "
			                        "step's timeout or wait_timeout"
			                      : NULL,
			    NULL, "gcp: %s while waiting for %s (operation %s)",
			    rc == PW_ECANCELLED ? "cancelled" : "timed out", what, last_segment(opname));
		pw_http_response r;
		json_t *doc = NULL;
		rc = pw__cloud_send(&r, &doc, &x->api, "GET", path, NULL, err);
		if (rc < 0)
			transport_context(err, rc, "follow", what, NULL);
		if (rc == 0 && r.status != 200)
			rc = pw__gcp_error(err, what, &r, doc);
		if (rc == 0 && !json_is_object(doc) && ++malformed <= 3) {
			/* a read: asked again at the next poll */
			pw_exec_log(x->ex, PW_LOG_WARN, "gcp",
			            "the state of operation %s is not JSON; asking again",
			            last_segment(opname));
			pw__http_response_dispose(&r);
			continue;
		}
		if (rc == 0 && !json_is_object(doc))
			rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, NULL,
			                    "gcp: the state of %s (operation %s) is not JSON", what,
			                    last_segment(opname));
		if (rc == 0)
			malformed = 0;
		ra = rc == 0 ? pw__cloud_retry_after_ms(&r) : 0;
		pw__http_response_dispose(&r);
		if (rc < 0) {
			json_decref(doc);
			return rc;
		}
		if (json_is_true(json_object_get(doc, "done"))) {
			json_t *e = json_object_get(doc, "error");
			if (e) {
				const char *m = json_string_value(json_object_get(e, "message"));
				long long code = 0;
				pw__json_get_int(&code, e, "code");
				rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, NULL,
				                    "gcp: %s failed: %s (code %lld)", what,
				                    m ? m : "no message", code);
				json_decref(doc);
				return rc;
			}
			*response = json_incref(json_object_get(doc, "response"));
			json_decref(doc);
			return 0;
		}
		json_decref(doc);
		if (x->ex)
			pw_exec_log(x->ex, PW_LOG_INFO, "gcp", "waiting for %s (poll %u)", what, poll.polls);
	}
}

static void set_out(pw_exec *ex, pw_result *r, const char *k, const char *v)
{
	if (!v || !*v)
		return;
	if (ex)
		pw_exec_set_output(ex, k, v);
	if (r)
		pw_result_with_metadata(r, k, v);
}

static json_t *strlist(const json_t *list)
{
	json_t *a = json_array();
	size_t i;
	json_t *v;
	char nb[64];
	json_array_foreach(list, i, v)
	    json_array_append_new(a, json_string(pw__cloud_scalar(v, nb, sizeof nb)));
	return a;
}

/* obj.key = parameter `param` (seconds) as a google-duration ("300s"), when the step sets it. */
static void set_duration(json_t *obj, const char *key, const json_t *config, const char *param)
{
	if (!json_object_get(json_object_get(config, "parameters"), param))
		return;
	char nb[32];
	snprintf(nb, sizeof nb, "%llds", pw__cloud_param_int(config, param, 0));
	json_object_set_new(obj, key, json_string(nb));
}

/* env entries from the env and secrets parameters (Secret Manager references, never values). */
static void add_env(json_t *envs, const json_t *pe, const json_t *ps)
{
	const char *k;
	json_t *v;
	char nb[64];
	json_object_foreach((json_t *)pe, k, v) json_array_append_new(
	    envs, json_pack("{s:s, s:s}", "name", k, "value", pw__cloud_scalar(v, nb, sizeof nb)));
	json_object_foreach((json_t *)ps, k, v)
	{
		const char *ref = pw__cloud_scalar(v, nb, sizeof nb);
		/* secret[:version]; the secret may be a full "projects/P/secrets/S" name */
		const char *colon = strrchr(ref, ':');
		char secret[512];
		snprintf(secret, sizeof secret, "%.*s", (int)(colon ? (size_t)(colon - ref) : strlen(ref)),
		         ref);
		json_array_append_new(envs, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", k, "valueSource",
		                                      "secretKeyRef", "secret", secret, "version",
		                                      colon && colon[1] ? colon + 1 : "latest"));
	}
}

/* Output-only fields of a Service (run.v2.json), dropped from an update. */
static const char *const service_output_only[] = {"conditions",
                                                  "createTime",
                                                  "creator",
                                                  "deleteTime",
                                                  "etag",
                                                  "expireTime",
                                                  "generation",
                                                  "lastModifier",
                                                  "latestCreatedRevision",
                                                  "latestReadyRevision",
                                                  "observedGeneration",
                                                  "reconciling",
                                                  "satisfiesPzs",
                                                  "terminalCondition",
                                                  "trafficStatuses",
                                                  "uid",
                                                  "updateTime",
                                                  "uri",
                                                  NULL};

/* The Service body: the existing service (output-only fields dropped) with the new template,
 * or a new one. rev is the new revision's short name. */
static json_t *service_body(const json_t *config, const json_t *existing, const char *rev)
{
	json_t *params = json_object_get(config, "parameters");
	json_t *svc = existing ? json_deep_copy(existing) : json_object();
	for (size_t i = 0; service_output_only[i]; i++)
		json_object_del(svc, service_output_only[i]);
	if (!existing)
		json_object_del(svc, "name");
	json_t *tpl = json_object_get(svc, "template");
	if (!json_is_object(tpl)) {
		tpl = json_object();
		json_object_set_new(svc, "template", tpl);
	}
	json_object_set_new(tpl, "revision", json_string(rev));
	json_t *containers = json_object_get(tpl, "containers");
	if (!json_is_array(containers) || json_array_size(containers) == 0) {
		containers = json_array();
		json_array_append_new(containers, json_object());
		json_object_set_new(tpl, "containers", containers);
	}
	json_t *c = json_array_get(containers, 0);
	json_object_set_new(c, "image", json_string(pw__cloud_param_str(config, "image")));
	if (json_object_get(params, "command"))
		json_object_set_new(c, "command", strlist(json_object_get(params, "command")));
	if (json_object_get(params, "args"))
		json_object_set_new(c, "args", strlist(json_object_get(params, "args")));
	if (json_object_get(params, "port"))
		json_object_set_new(c, "ports",
		                    json_pack("[{s:I}]", "containerPort",
		                              (json_int_t)pw__cloud_param_int(config, "port", 8080)));
	json_t *pe = json_object_get(params, "env"), *ps = json_object_get(params, "secrets");
	if (pe || ps) {
		json_t *envs = json_array();
		const char *upd = pw__cloud_param_str(config, "env_update");
		if (upd && strcmp(upd, "merge") == 0) {
			size_t i;
			json_t *v;
			json_array_foreach(json_object_get(c, "env"), i, v)
			{
				const char *n = json_string_value(json_object_get(v, "name"));
				if (n && !json_object_get(pe, n) && !json_object_get(ps, n))
					json_array_append(envs, v);
			}
		}
		add_env(envs, pe, ps);
		json_object_set_new(c, "env", envs);
	}
	if (json_object_get(params, "cpu") || json_object_get(params, "memory")) {
		json_t *res = json_object_get(c, "resources");
		if (!json_is_object(res)) {
			res = json_object();
			json_object_set_new(c, "resources", res);
		}
		json_t *lim = json_object_get(res, "limits");
		if (!json_is_object(lim)) {
			lim = json_object();
			json_object_set_new(res, "limits", lim);
		}
		char nb[64];
		if (json_object_get(params, "cpu")) {
			snprintf(nb, sizeof nb, "%g", pw__cloud_param_num(config, "cpu", 1));
			json_object_set_new(lim, "cpu", json_string(nb));
		}
		if (json_object_get(params, "memory"))
			json_object_set_new(lim, "memory",
			                    json_string(pw__cloud_param_str(config, "memory")));
	}
	if (json_object_get(params, "min_instances") || json_object_get(params, "max_instances")) {
		json_t *sc = json_object_get(tpl, "scaling");
		if (!json_is_object(sc)) {
			sc = json_object();
			json_object_set_new(tpl, "scaling", sc);
		}
		if (json_object_get(params, "min_instances"))
			json_object_set_new(sc, "minInstanceCount",
			                    json_integer(pw__cloud_param_int(config, "min_instances", 0)));
		if (json_object_get(params, "max_instances"))
			json_object_set_new(sc, "maxInstanceCount",
			                    json_integer(pw__cloud_param_int(config, "max_instances", 0)));
	}
	if (json_object_get(params, "concurrency"))
		json_object_set_new(tpl, "maxInstanceRequestConcurrency",
		                    json_integer(pw__cloud_param_int(config, "concurrency", 80)));
	set_duration(tpl, "timeout", config, "request_timeout");
	const char *sa = pw__cloud_param_str(config, "service_account");
	if (sa)
		json_object_set_new(tpl, "serviceAccount", json_string(sa));
	const char *ingress = pw__cloud_param_str(config, "ingress");
	if (ingress)
		json_object_set_new(
		    svc, "ingress",
		    json_string(strcmp(ingress, "all") == 0        ? "INGRESS_TRAFFIC_ALL"
		                : strcmp(ingress, "internal") == 0 ? "INGRESS_TRAFFIC_INTERNAL_ONLY"
		                : strcmp(ingress, "none") == 0     ? "INGRESS_TRAFFIC_NONE"
		                                               : "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"));
	json_t *labels = json_object_get(params, "labels");
	if (labels) {
		json_t *l = json_object_get(svc, "labels");
		if (!json_is_object(l)) {
			l = json_object();
			json_object_set_new(svc, "labels", l);
		}
		const char *k;
		json_t *v;
		char nb[64];
		json_object_foreach(labels, k, v)
		    json_object_set_new(l, k, json_string(pw__cloud_scalar(v, nb, sizeof nb)));
	}
	/* traffic: latest moves everything to the new revision; none keeps the service's split */
	const char *traffic = pw__cloud_param_str(config, "traffic");
	const char *tag = pw__cloud_param_str(config, "tag");
	int latest = traffic ? strcmp(traffic, "latest") == 0 : !tag;
	json_t *tr = json_array();
	if (latest || !existing || !json_array_size(json_object_get(existing, "traffic"))) {
		json_array_append_new(tr, json_pack("{s:s, s:i}", "type",
		                                    "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent", 100));
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(existing, "traffic"), i, v)
		{
			const char *t = json_string_value(json_object_get(v, "tag"));
			if (!(tag && t && strcmp(t, tag) == 0))
				json_array_append(tr, v);
		}
	}
	if (tag)
		json_array_append_new(tr, json_pack("{s:s, s:s, s:s, s:i}", "type",
		                                    "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision",
		                                    rev, "tag", tag, "percent", 0));
	json_object_set_new(svc, "traffic", tr);
	return svc;
}

/* SERVICE-SUFFIX: the configured suffix, or one made of the time and the process. */
static void revision_name(char *out, size_t cap, const json_t *config, const char *service)
{
	const char *suffix = pw__cloud_param_str(config, "revision_suffix");
	if (suffix) {
		snprintf(out, cap, "%s-%s", service, suffix);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long v = (unsigned long long)ts.tv_sec * 1000003ULL ^ (unsigned long long)ts.tv_nsec ^
	                       ((unsigned long long)getpid() << 20);
	v *= 0x9E3779B97F4A7C15ULL;
	snprintf(out, cap, "%s-pw%08llx", service, (v >> 24) & 0xffffffffULL);
}

/* "  Ready: CONDITION_FAILED (HEALTH_CHECK_CONTAINER_ERROR): message\n" for each condition. */
void pw__gcp_describe_service(pw_buf *b, const json_t *svc)
{
	const json_t *tc = json_object_get(svc, "terminalCondition");
	json_t *all = json_array();
	if (tc)
		json_array_append(all, (json_t *)tc);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(svc, "conditions"), i, c) json_array_append(all, c);
	json_array_foreach(all, i, c)
	{
		const char *reason = json_string_value(json_object_get(c, "revisionReason"));
		if (!reason)
			reason = json_string_value(json_object_get(c, "reason"));
		const char *msg = json_string_value(json_object_get(c, "message"));
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *state = json_string_value(json_object_get(c, "state"));
		pw__buf_printf(b, "\n  %s: %s%s%s%s%s%s", type ? type : "?", state ? state : "?",
		               reason ? " (" : "", reason ? reason : "", reason ? ")" : "", msg ? ": " : "",
		               msg ? msg : "");
	}
	json_decref(all);
	json_array_foreach(json_object_get(svc, "trafficStatuses"), i, c)
	{
		long long pct = 0;
		pw__json_get_int(&pct, c, "percent");
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *rv = json_string_value(json_object_get(c, "revision"));
		const char *tag = json_string_value(json_object_get(c, "tag"));
		pw__buf_printf(b, "\n  traffic: %lld%% to %s%s%s", pct,
		               t && strcmp(t, "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST") == 0
		                   ? "the latest revision"
		               : rv ? rv
		                    : "?",
		               tag ? ", tag " : "", tag ? tag : "");
	}
}

/* Does the service serve what was asked: the revision Ready and latest, the traffic where
 * requested? NULL when it does, else why not (static text in why). */
const char *pw__gcp_verify_service(char *why, size_t cap, const json_t *svc, const char *rev, int latest,
                                   const char *tag, const char **tag_url)
{
	*tag_url = NULL;
	const char *state = pw__json_get_string(svc, "terminalCondition.state");
	if (!state || strcmp(state, "CONDITION_SUCCEEDED") != 0) {
		snprintf(why, cap, "the service is not Ready (%s)", state ? state : "no Ready condition");
		return why;
	}
	const char *ready = json_string_value(json_object_get(svc, "latestReadyRevision"));
	if (!ready || strcmp(last_segment(ready), rev) != 0) {
		snprintf(why, cap, "the new revision %s is not the latest ready one (that is %s)", rev,
		         ready && *ready ? last_segment(ready) : "none");
		return why;
	}
	int serves = 0, tagged = 0;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(svc, "trafficStatuses"), i, t)
	{
		const char *type = json_string_value(json_object_get(t, "type"));
		const char *rv = json_string_value(json_object_get(t, "revision"));
		const char *tg = json_string_value(json_object_get(t, "tag"));
		long long pct = 0;
		pw__json_get_int(&pct, t, "percent");
		int ours = (type && strcmp(type, "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST") == 0) ||
		           (rv && strcmp(last_segment(rv), rev) == 0);
		if (ours && pct == 100)
			serves = 1;
		if (tag && tg && strcmp(tg, tag) == 0 && ours) {
			tagged = 1;
			*tag_url = json_string_value(json_object_get(t, "uri"));
		}
	}
	if (latest && !serves) {
		snprintf(why, cap, "the new revision %s is Ready but does not receive 100%% of the traffic",
		         rev);
		return why;
	}
	if (tag && !tagged) {
		snprintf(why, cap, "the tag '%s' does not point at the new revision %s", tag, rev);
		return why;
	}
	return NULL;
}

/* Adds or removes allUsers from roles/run.invoker; *changed tells whether a write was made. */
static int set_public(gcp_ctx *x, int allow, int *changed, pw_error **err)
{
	*changed = 0;
	char path[800];
	snprintf(path, sizeof path, "/v2/%s:getIamPolicy", x->name);
	json_t *pol = NULL;
	int rc = get_json(&pol, x, path, "read the service's IAM policy", 0, err);
	if (rc < 0)
		return rc;
	json_t *bindings = json_object_get(pol, "bindings");
	if (!json_is_array(bindings)) {
		bindings = json_array();
		json_object_set_new(pol, "bindings", bindings);
	}
	json_t *invoker = NULL;
	size_t i;
	json_t *b;
	json_array_foreach(bindings, i, b)
	{
		const char *role = json_string_value(json_object_get(b, "role"));
		if (role && strcmp(role, "roles/run.invoker") == 0 && !json_object_get(b, "condition"))
			invoker = b;
	}
	int present = 0;
	size_t at = 0;
	json_t *m;
	json_array_foreach(json_object_get(invoker, "members"), i, m)
	{
		if (json_string_value(m) && strcmp(json_string_value(m), "allUsers") == 0) {
			present = 1;
			at = i;
		}
	}
	if (present == allow) {
		json_decref(pol);
		return 0;
	}
	if (allow) {
		if (!invoker) {
			invoker = json_pack("{s:s, s:[]}", "role", "roles/run.invoker", "members");
			json_array_append_new(bindings, invoker);
		}
		json_array_append_new(json_object_get(invoker, "members"), json_string("allUsers"));
	} else {
		json_array_remove(json_object_get(invoker, "members"), at);
	}
	snprintf(path, sizeof path, "/v2/%s:setIamPolicy", x->name);
	json_t *req = json_pack("{s:O}", "policy", pol);
	pw_http_response r;
	json_t *doc = NULL;
	rc = pw__cloud_send(&r, &doc, &x->api, "POST", path, req, err);
	if (rc == 0 && r.status != 200)
		rc = pw__gcp_error(
		    err, allow ? "allow unauthenticated calls" : "remove unauthenticated access", &r, doc);
	pw__http_response_dispose(&r);
	json_decref(doc);
	json_decref(req);
	json_decref(pol);
	if (rc == 0)
		*changed = 1;
	return rc;
}

static int deploy_fail(gcp_ctx *x, const json_t *svc, int code, const char *hint, pw_error **err,
                       const char *fmt, const char *a, const char *b)
{
	pw_buf d = PW_BUF_INIT(0);
	if (svc)
		pw__gcp_describe_service(&d, svc);
	int rc = pw__cloud_fail(err, code, NULL, hint, NULL, fmt, a, b);
	if (err && *err && d.len)
		pw_error_set_response(*err, pw__buf_cstr(&d) + 1);
	pw__buf_dispose(&d);
	pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "failed",
	              err && *err ? pw_error_message(*err) : NULL);
	return rc;
}

static int do_deploy(pw_result **out, gcp_ctx *x, pw_error **err)
{
	char path[900];
	snprintf(path, sizeof path, "/v2/%s", x->name);
	json_t *existing = NULL;
	int rc = get_json(&existing, x, path, "read the service", 1, err);
	if (rc < 0)
		return rc;
	char rev[128];
	revision_name(rev, sizeof rev, x->config, x->short_name);
	json_t *body = service_body(x->config, existing, rev);
	pw_http_response r;
	json_t *doc = NULL;
	const char *op = existing ? "update the service" : "create the service";
	if (existing) {
		rc = pw__cloud_send(&r, &doc, &x->api, "PATCH", path, body, err);
	} else {
		char cpath[900];
		char *es = pw__http_escape(x->short_name);
		snprintf(cpath, sizeof cpath, "/v2/%s/services?serviceId=%s", x->parent, es ? es : "");
		pw_free(es);
		rc = pw__cloud_send(&r, &doc, &x->api, "POST", cpath, body, err);
	}
	json_decref(body);
	if (rc < 0)
		transport_context(err, rc, op, x->short_name,
		                  existing ? MAYBE_SENT "it deploys a new revision either way"
		                           : MAYBE_SENT "it updates the service if it was created (a service "
		                                        "name cannot be created twice)");
	json_decref(existing);
	if (rc == 0 && r.status != 200)
		rc = pw__gcp_error(err, op, &r, doc);
	char opname[700] = "";
	const char *on = json_string_value(json_object_get(doc, "name"));
	if (rc == 0 && !on)
		rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, MAYBE_SENT "see whether the revision exists",
		                    NULL, "gcp: %s %s: the answer %s", op, x->short_name,
		                    doc ? "names no operation" : "is not JSON");
	pw__http_response_dispose(&r);
	if (on)
		snprintf(opname, sizeof opname, "%s", on);
	int done = json_is_true(json_object_get(doc, "done"));
	json_decref(doc);
	if (rc < 0) {
		pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
		return rc;
	}
	pw_exec_log(x->ex, PW_LOG_INFO, "gcp", "%s %s: revision %s submitted (operation %s)",
	            existing ? "updating" : "creating", x->short_name, rev, last_segment(opname));
	if (!pw__cloud_param_bool(x->config, "wait", 1)) {
		pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "submitted", rev);
		char msg[300];
		snprintf(msg, sizeof msg, "submitted revision %s of %s (not waiting)\n", rev, x->short_name);
		pw_exec_output(x->ex, PW_STREAM_STDOUT, msg, strlen(msg));
		*out = pw_result_success(msg);
		set_out(x->ex, *out, "revision", rev);
		set_out(x->ex, *out, "operation", opname);
		return *out ? 0 : PW_ENOMEM;
	}
	json_t *resp = NULL;
	char what[200];
	snprintf(what, sizeof what, "the rollout of %s", rev);
	rc = done ? 0 : wait_operation(&resp, x, opname, what, err);
	json_decref(resp);
	json_t *svc = NULL;
	if (rc < 0) {
		if (rc == PW_ECANCELLED || rc == PW_ETIMEOUT) {
			pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "failed",
			              err && *err ? pw_error_message(*err) : NULL);
			return rc;
		}
		/* the operation failed: Google's diagnosis is in the service's conditions */
		pw_error *keep = err ? *err : NULL;
		if (err)
			*err = NULL;
		pw_error *ignored = NULL;
		get_json(&svc, x, path, "read the service", 1, &ignored);
		pw_error_free(ignored);
		pw_buf d = PW_BUF_INIT(0);
		if (svc)
			pw__gcp_describe_service(&d, svc);
		if (keep && d.len)
			pw_error_set_response(keep, pw__buf_cstr(&d) + 1);
		if (keep)
			pw_error_set_hint(
			    keep, "the conditions above are Cloud Run's own diagnosis; fix the image, "
			          "its port or its settings and deploy again");
		pw__buf_dispose(&d);
		if (err)
			*err = keep;
		else
			pw_error_free(keep);
		json_decref(svc);
		pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "failed",
		              keep ? pw_error_message(keep) : NULL);
		return rc;
	}
	rc = get_json(&svc, x, path, "read the deployed service", 0, err);
	if (rc < 0)
		return rc;
	const char *traffic = pw__cloud_param_str(x->config, "traffic");
	const char *tag = pw__cloud_param_str(x->config, "tag");
	int latest = traffic ? strcmp(traffic, "latest") == 0 : !tag;
	char why[300];
	const char *tag_url = NULL;
	if (pw__gcp_verify_service(why, sizeof why, svc, rev, latest, tag, &tag_url)) {
		rc = deploy_fail(x, svc, PW_EEXTERNAL,
		                 "the operation finished but the service does not serve the new revision as "
		                 "asked; see the conditions and traffic above",
		                 err, "gcp: deploy of %s: %s", x->short_name, why);
		json_decref(svc);
		return rc;
	}
	json_t *allow = json_object_get(json_object_get(x->config, "parameters"), "allow_unauthenticated");
	int changed = 0;
	if (allow) {
		rc = set_public(x, json_is_true(allow), &changed, err);
		if (rc < 0) {
			pw_exec_log(x->ex, PW_LOG_WARN, "gcp",
			            "revision %s of %s is deployed and serving; only the IAM change failed",
			            rev, x->short_name);
			pw_exec_audit(x->ex, "gcp.cloud-run.set-iam-policy", x->name, "failed",
			              err && *err ? pw_error_message(*err) : NULL);
			json_decref(svc);
			return rc;
		}
		if (changed)
			pw_exec_audit(x->ex, "gcp.cloud-run.set-iam-policy", x->name, "ok",
			              json_is_true(allow) ? "allUsers may invoke" : "allUsers removed");
	}
	const char *uri = json_string_value(json_object_get(svc, "uri"));
	pw_buf msg = PW_BUF_INIT(0);
	pw__buf_printf(&msg, "deployed revision %s of %s: Ready, %s", rev, x->short_name,
	               latest ? "serving 100% of the traffic" : "traffic unchanged");
	if (uri)
		pw__buf_printf(&msg, " at %s", uri);
	if (tag_url)
		pw__buf_printf(&msg, "; tag %s at %s", tag, tag_url);
	if (allow)
		pw__buf_printf(&msg, "; %s",
		               json_is_true(allow) ? "public (allUsers may invoke)" : "not public");
	pw__buf_puts(&msg, "\n");
	pw_exec_output(x->ex, PW_STREAM_STDOUT, pw__buf_cstr(&msg), msg.len);
	pw_result *res = pw_result_success(pw__buf_cstr(&msg));
	pw__buf_dispose(&msg);
	set_out(x->ex, res, "url", uri);
	set_out(x->ex, res, "revision", rev);
	set_out(x->ex, res, "service", x->name);
	set_out(x->ex, res, "tag_url", tag_url);
	pw_exec_audit(x->ex, "gcp.cloud-run.deploy", x->name, "ok", rev);
	json_decref(svc);
	*out = res;
	return res ? 0 : PW_ENOMEM;
}

static int do_delete(pw_result **out, gcp_ctx *x, pw_error **err)
{
	char path[900];
	snprintf(path, sizeof path, "/v2/%s", x->name);
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, "DELETE", path, NULL, err);
	const char *note = "deleted";
	char opname[700] = "";
	if (rc == 0 && r.status == 404)
		note = "already absent";
	else if (rc == 0 && r.status != 200)
		rc = pw__gcp_error(err, "delete the service", &r, doc);
	else if (rc == 0 && json_string_value(json_object_get(doc, "name")))
		snprintf(opname, sizeof opname, "%s", json_string_value(json_object_get(doc, "name")));
	int done = json_is_true(json_object_get(doc, "done"));
	json_decref(doc);
	pw__http_response_dispose(&r);
	if (rc == 0 && opname[0] && !done) {
		json_t *resp = NULL;
		rc = wait_operation(&resp, x, opname, "the deletion", err);
		json_decref(resp);
	}
	pw_exec_audit(x->ex, "gcp.cloud-run.delete", x->name, rc == 0 ? note : "failed",
	              rc < 0 && err && *err ? pw_error_message(*err) : NULL);
	if (rc < 0)
		return rc;
	char msg[900];
	snprintf(msg, sizeof msg, "%s %s: %s\n", note, x->short_name, x->name);
	pw_exec_output(x->ex, PW_STREAM_STDOUT, msg, strlen(msg));
	*out = pw_result_success(msg);
	return *out ? 0 : PW_ENOMEM;
}

static json_t *run_job_body(const json_t *config)
{
	json_t *params = json_object_get(config, "parameters");
	json_t *ov = json_object();
	json_t *args = json_object_get(params, "args"), *env = json_object_get(params, "env");
	if (args || env) {
		json_t *co = json_object();
		if (args)
			json_object_set_new(co, "args", strlist(args));
		if (env) {
			json_t *envs = json_array();
			add_env(envs, env, NULL);
			json_object_set_new(co, "env", envs);
		}
		json_object_set_new(ov, "containerOverrides", json_pack("[o]", co));
	}
	if (json_object_get(params, "task_count"))
		json_object_set_new(ov, "taskCount",
		                    json_integer(pw__cloud_param_int(config, "task_count", 1)));
	set_duration(ov, "timeout", config, "task_timeout");
	json_t *body = json_object();
	if (json_object_size(ov))
		json_object_set_new(body, "overrides", ov);
	else
		json_decref(ov);
	return body;
}

/* POST EXECUTION:cancel without the step's cancel and deadline, bounded by CLEANUP_TIMEOUT_MS.
 * An execution that is gone or already finished counts as done (*note says which). */
static int send_cancel(gcp_ctx *x, const char *execution, const char **note, pw_error **err)
{
	char path[900];
	snprintf(path, sizeof path, "/v2/%s:cancel", execution);
	pw_exec *ex = x->api.ex;
	x->api.ex = NULL;
	x->api.timeout_ms = CLEANUP_TIMEOUT_MS;
	pw_http_response r;
	json_t *doc = NULL;
	json_t *body = json_object();
	int rc = pw__cloud_send(&r, &doc, &x->api, "POST", path, body, err);
	const char *status = pw__json_get_string(doc, "error.status");
	*note = "cancelled";
	if (rc == 0 && r.status == 404)
		*note = "already gone";
	else if (rc == 0 && status && strcmp(status, "FAILED_PRECONDITION") == 0)
		*note = "already finished";
	else if (rc == 0 && r.status != 200)
		rc = pw__gcp_error(err, "cancel the execution", &r, doc);
	json_decref(body);
	json_decref(doc);
	pw__http_response_dispose(&r);
	x->api.ex = ex;
	x->api.timeout_ms = 0;
	return rc;
}

/* Cancels an execution after the step was cancelled, timed out or lost track of it. */
static int cancel_execution(gcp_ctx *x, const char *execution)
{
	const char *note = NULL;
	pw_error *e = NULL;
	int rc = send_cancel(x, execution, &note, &e);
	pw_exec_audit(x->ex, "gcp.cloud-run.cancel-execution", execution, rc == 0 ? note : "failed",
	              e ? pw_error_message(e) : NULL);
	pw_exec_log(x->ex, rc == 0 ? PW_LOG_INFO : PW_LOG_WARN, "gcp", "%s execution %s%s%s",
	            rc == 0 ? note : "could not cancel", last_segment(execution), e ? ": " : "",
	            e ? pw_error_message(e) : "");
	pw_error_free(e);
	return rc;
}

/* The journal record of an execution a waiting jobs-execute started: what gc needs to cancel
 * it (where, and how to authenticate -- never a secret). */
typedef struct exec_journal {
	pw_journal_entry je;
	const char *attrs[11];
	char address[600];
} exec_journal;

static void exec_journal_init(exec_journal *j, gcp_ctx *x, const char *execution)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->address, sizeof(j->address), "%s%s", x->api.origin, x->api.prefix);
	size_t n = 0;
	j->attrs[n++] = "endpoint";
	j->attrs[n++] = j->address;
	static const char *const keys[] = {"credential", "credentials_file", "token_endpoint",
	                                   "metadata_endpoint"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(x->config, keys[i]));
		if (v) {
			j->attrs[n++] = keys[i];
			j->attrs[n++] = v;
		}
	}
	j->attrs[n] = NULL;
	j->je.connector = "gcp";
	j->je.kind = "run-execution";
	j->je.name = execution;
	j->je.address = j->address;
	j->je.attrs = j->attrs;
}

static int do_jobs_execute(pw_result **out, gcp_ctx *x, pw_error **err)
{
	char path[900];
	snprintf(path, sizeof path, "/v2/%s:run", x->name);
	json_t *body = run_job_body(x->config);
	pw_http_response r;
	json_t *doc = NULL;
	int rc = pw__cloud_send(&r, &doc, &x->api, "POST", path, body, err);
	json_decref(body);
	if (rc < 0)
		transport_context(
		    err, rc, "run the job", x->short_name,
		    "the request may have reached Cloud Run and started an execution: look at "
		    "the job's executions before running the step again (it is not sent twice)");
	if (rc == 0 && r.status != 200)
		rc = pw__gcp_error(err, "run the job", &r, doc);
	pw__http_response_dispose(&r);
	char opname[700] = "", execution[700] = "";
	const char *on = json_string_value(json_object_get(doc, "name"));
	const char *en = pw__json_get_string(doc, "metadata.name");
	if (on)
		snprintf(opname, sizeof opname, "%s", on);
	if (en)
		snprintf(execution, sizeof execution, "%s", en);
	json_t *resp =
	    json_is_true(json_object_get(doc, "done")) ? json_incref(json_object_get(doc, "response")) : NULL;
	json_decref(doc);
	if (rc == 0 && !opname[0])
		rc = pw__cloud_fail(err, PW_EEXTERNAL, NULL, NULL, NULL,
		                    "gcp: run the job: the answer names no operation");
	if (rc < 0) {
		json_decref(resp);
		pw_exec_audit(x->ex, "gcp.cloud-run.jobs-execute", x->name, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
		return rc;
	}
	pw_exec_audit(x->ex, "gcp.cloud-run.jobs-execute", x->name, "started",
	              execution[0] ? execution : opname);
	pw_exec_log(x->ex, PW_LOG_INFO, "gcp", "job %s: execution %s started", x->short_name,
	            execution[0] ? last_segment(execution) : "(unnamed)");
	if (!pw__cloud_param_bool(x->config, "wait", 1)) {
		char msg[900];
		snprintf(msg, sizeof msg, "started execution %s of job %s (not waiting)\n",
		         execution[0] ? last_segment(execution) : "?", x->short_name);
		pw_exec_output(x->ex, PW_STREAM_STDOUT, msg, strlen(msg));
		*out = pw_result_success(msg);
		set_out(x->ex, *out, "execution", execution);
		return *out ? 0 : PW_ENOMEM;
	}
	if (!resp) {
		/* journaled once its name is known (the run call names it): a killed run's execution
		 * is cancelled by `pipewright gc` */
		exec_journal jr;
		exec_journal_init(&jr, x, execution);
		if (execution[0] && (rc = pw__journal_created(x->ex, &jr.je, err)) < 0) {
			cancel_execution(x, execution);
			return rc;
		}
		char what[800];
		snprintf(what, sizeof what, "execution %s of job %s",
		         execution[0] ? last_segment(execution) : "?", x->short_name);
		rc = wait_operation(&resp, x, opname, what, err);
		if (rc < 0) {
			/* cancelled, timed out, or lost track of it: it must not run on unobserved */
			if (execution[0] && cancel_execution(x, execution) == 0)
				pw__journal_removed(x->ex, &jr.je);
			return rc;
		}
		if (execution[0])
			pw__journal_removed(x->ex, &jr.je);
	}
	const char *state = NULL, *cmsg = NULL;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(resp, "conditions"), i, c)
	{
		const char *type = json_string_value(json_object_get(c, "type"));
		if (type && strcmp(type, "Completed") == 0) {
			state = json_string_value(json_object_get(c, "state"));
			cmsg = json_string_value(json_object_get(c, "message"));
		}
	}
	long long ok = 0, failed = 0, cancelled = 0;
	pw__json_get_int(&ok, resp, "succeededCount");
	pw__json_get_int(&failed, resp, "failedCount");
	pw__json_get_int(&cancelled, resp, "cancelledCount");
	const char *log_uri = json_string_value(json_object_get(resp, "logUri"));
	int success = state && strcmp(state, "CONDITION_SUCCEEDED") == 0;
	pw_buf msg = PW_BUF_INIT(0);
	pw__buf_printf(&msg, "execution %s of job %s: %s; %lld task(s) succeeded, %lld failed%s%s%s\n",
	               execution[0] ? last_segment(execution) : "?", x->short_name,
	               success ? "succeeded" : "FAILED", ok, failed, cmsg ? " (" : "", cmsg ? cmsg : "",
	               cmsg ? ")" : "");
	if (log_uri)
		pw__buf_printf(&msg, "logs: %s\n", log_uri);
	pw_exec_output(x->ex, success ? PW_STREAM_STDOUT : PW_STREAM_STDERR, pw__buf_cstr(&msg), msg.len);
	pw_result *res =
	    success ? pw_result_success(pw__buf_cstr(&msg)) : pw_result_failure(1, pw__buf_cstr(&msg));
	pw__buf_dispose(&msg);
	char nb[32];
	set_out(x->ex, res, "execution", execution);
	set_out(x->ex, res, "log_uri", log_uri);
	snprintf(nb, sizeof nb, "%lld", ok);
	set_out(x->ex, res, "succeeded_count", nb);
	snprintf(nb, sizeof nb, "%lld", failed);
	set_out(x->ex, res, "failed_count", nb);
	pw_exec_audit(x->ex, "gcp.cloud-run.jobs-execute", x->name, success ? "ok" : "failed",
	              state ? state : "no Completed condition");
	json_decref(resp);
	*out = res;
	return res ? 0 : PW_ENOMEM;
}

static int api_init(gcp_ctx *x, const json_t *config, pw_error **err)
{
	const char *endpoint = json_string_value(json_object_get(config, "endpoint"));
	return pw__cloud_api_init(&x->api, endpoint ? endpoint : RUN_DEFAULT_ENDPOINT, err);
}

static int gcp_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                       const pw_map *env, pw_exec *ex, pw_error **err)
{
	*out = NULL;
	pw_cloud_impl *im = pw_connector_impl(c);
	const pw_cloud_action *a = NULL;
	int rc = gcp_validate(c, step, err);
	if (rc < 0)
		return rc;
	pw__cloud_validate(&a, step->config, "gcp", top_keys, actions, NACTIONS, NULL);
	pw_http_pool *pool = pw__manager_http_pool(pw_connector_manager(c));
	if (!pool)
		return pw_error_set(err, PW_ENOMEM, "gcp: no HTTP connection pool");
	gcp_cred cred;
	rc = cred_init(&cred, step->config, env, ex, pool, err);
	if (rc < 0) {
		cred_dispose(&cred);
		return rc;
	}
	gcp_ctx x;
	memset(&x, 0, sizeof x);
	x.config = step->config;
	x.ex = ex;
	gcp_token_ctx tc = {im, &cred, ex};
	rc = api_init(&x, step->config, err);
	if (rc < 0) {
		cred_dispose(&cred);
		return rc;
	}
	x.api.pool = pool;
	x.api.ex = ex;
	x.api.service = "gcp";
	x.api.token = gcp_token;
	x.api.token_payload = &tc;
	x.api.error = pw__gcp_error;
	rc = resolve_where(&x, env, &cred, strcmp(a->action, "jobs-execute") == 0 ? "jobs" : "services", 0,
	                   err);
	if (rc == 0) {
		if (strcmp(a->action, "deploy") == 0)
			rc = do_deploy(out, &x, err);
		else if (strcmp(a->action, "delete") == 0)
			rc = do_delete(out, &x, err);
		else
			rc = do_jobs_execute(out, &x, err);
	}
	pw__cloud_api_dispose(&x.api);
	cred_dispose(&cred);
	return rc;
}

static int gcp_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                    const pw_map *env, pw_error **err)
{
	const pw_cloud_action *a = NULL;
	int rc = gcp_validate(c, step, err);
	if (rc < 0)
		return rc;
	pw__cloud_validate(&a, step->config, "gcp", top_keys, actions, NACTIONS, NULL);
	gcp_ctx x;
	memset(&x, 0, sizeof x);
	x.config = step->config;
	rc = api_init(&x, step->config, err);
	if (rc < 0)
		return rc;
	/* the project may come from the key file; the plan does not read credentials */
	pw_map *penv = pw_map_dup(env);
	if (penv && !pw__cloud_param_str(step->config, "project") &&
	    !pw__cloud_env(env, "GOOGLE_CLOUD_PROJECT") && !pw__cloud_env(env, "CLOUDSDK_CORE_PROJECT") &&
	    !pw__cloud_env(env, "GCLOUD_PROJECT"))
		pw_map_set(penv, "GOOGLE_CLOUD_PROJECT", "${GOOGLE_CLOUD_PROJECT}");
	int job = strcmp(a->action, "jobs-execute") == 0;
	rc = resolve_where(&x, penv, NULL, job ? "jobs" : "services", 1, err);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "# gcp: %s %s (Cloud Run Admin API v2)\n", a->service, a->action);
	char path[1000];
	if (rc == 0 && strcmp(a->action, "deploy") == 0) {
		snprintf(path, sizeof path, "/v2/%s", x.name);
		pw__buf_puts(&b, "# first: read the service (absent: create it; present: update it)\n");
		pw__cloud_plan_request(&b, "GET", x.api.origin, x.api.prefix, path, NULL);
		char rev[128];
		const char *suffix = pw__cloud_param_str(step->config, "revision_suffix");
		snprintf(rev, sizeof rev, "%s-%s", x.short_name, suffix ? suffix : "${REVISION_SUFFIX}");
		if (!suffix)
			pw__buf_puts(&b,
			             "# REVISION_SUFFIX: pw and 8 hex digits, chosen when the step runs (set "
			             "revision_suffix to name the revision)\n");
		json_t *body = service_body(step->config, NULL, rev);
		char cpath[1000];
		snprintf(cpath, sizeof cpath, "/v2/%s/services?serviceId=%s", x.parent, x.short_name);
		pw__buf_puts(&b, "# when absent:\n");
		pw__cloud_plan_request(&b, "POST", x.api.origin, x.api.prefix, cpath, body);
		pw__buf_puts(&b, "# when present: the same template merged into the existing service "
		                 "(output-only fields dropped)\n");
		pw__cloud_plan_request(&b, "PATCH", x.api.origin, x.api.prefix, path, NULL);
		json_decref(body);
		if (pw__cloud_param_bool(step->config, "wait", 1))
			pw__buf_puts(&b,
			             "# then: poll the operation (GET /v2/OPERATION) until done, read the "
			             "service and verify that the new revision is Ready, latest, and serves "
			             "the requested traffic\n");
		json_t *allow =
		    json_object_get(json_object_get(step->config, "parameters"), "allow_unauthenticated");
		if (allow) {
			snprintf(path, sizeof path, "/v2/%s:getIamPolicy", x.name);
			pw__cloud_plan_request(&b, "GET", x.api.origin, x.api.prefix, path, NULL);
			snprintf(path, sizeof path, "/v2/%s:setIamPolicy", x.name);
			pw__buf_printf(&b, "# then, if allUsers is %s roles/run.invoker:\n",
			               json_is_true(allow) ? "not in" : "in");
			pw__cloud_plan_request(&b, "POST", x.api.origin, x.api.prefix, path, NULL);
		}
	} else if (rc == 0 && strcmp(a->action, "delete") == 0) {
		snprintf(path, sizeof path, "/v2/%s", x.name);
		pw__cloud_plan_request(&b, "DELETE", x.api.origin, x.api.prefix, path, NULL);
		pw__buf_puts(&b, "# then: poll the operation until done\n");
	} else if (rc == 0) {
		snprintf(path, sizeof path, "/v2/%s:run", x.name);
		json_t *body = run_job_body(step->config);
		pw__cloud_plan_request(&b, "POST", x.api.origin, x.api.prefix, path, body);
		json_decref(body);
		if (pw__cloud_param_bool(step->config, "wait", 1))
			pw__buf_puts(&b, "# then: poll the operation until the execution completes; its "
			                 "Completed condition is the step's outcome; a cancel cancels the "
			                 "execution (POST /v2/EXECUTION:cancel)\n");
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

/* ---- pipewright gc ---- */

int pw__gcp_gc_remove(pw_gc *g, const json_t *rec, pw_error **err)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	if (!kind || strcmp(kind, "run-execution") != 0 || !name || strncmp(name, "projects/", 9) != 0)
		return pw_error_set(err, PW_EINVAL, "gcp journal record of unknown kind '%s'",
		                    kind ? kind : "");
	pw_http_pool *pool = pw__manager_http_pool(pw__gc_manager(g));
	if (!pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool");
	/* the step's view, as far as the record keeps it; credentials from gc's environment */
	json_t *cfg = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rec, "attrs"), k, v)
	{
		if (json_is_string(v))
			json_object_set(cfg, strcmp(k, "endpoint") == 0 ? "endpoint" : k, v);
	}
	pw_cloud_impl im = {pw__oauth2_cache_new()};
	gcp_cred cred;
	memset(&cred, 0, sizeof cred);
	int rc = im.tokens ? cred_init(&cred, cfg, NULL, NULL, pool, err) : PW_ENOMEM;
	gcp_ctx x;
	memset(&x, 0, sizeof x);
	x.config = cfg;
	if (rc == 0)
		rc = api_init(&x, cfg, err);
	if (rc == 0) {
		gcp_token_ctx tc = {&im, &cred, NULL};
		x.api.pool = pool;
		x.api.service = "gcp";
		x.api.token = gcp_token;
		x.api.token_payload = &tc;
		x.api.error = pw__gcp_error;
		const char *note = NULL;
		rc = send_cancel(&x, name, &note, err);
		if (rc == 0)
			pw__gc_note(g, "%s Cloud Run execution %s", note, name);
		pw__cloud_api_dispose(&x.api);
	}
	cred_dispose(&cred);
	pw__oauth2_cache_free(im.tokens);
	json_decref(cfg);
	return rc;
}

static const pw_connector_ops gcp_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_REMOTE,
    .validate_config = gcp_validate,
    .execute_step = gcp_execute,
    .plan = gcp_plan,
    .destroy = pw__cloud_connector_destroy,
};

int pw__gcp_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	return pw__cloud_connector_new(out, &gcp_ops, PW_TYPE_GCP, err);
}
