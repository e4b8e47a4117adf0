/* The AWS credential chain: names of variables given in the step config, the AWS_* environment
 * variables, web identity (a CI's OIDC token through STS AssumeRoleWithWebIdentity), and shared
 * profiles in ~/.aws/credentials and ~/.aws/config (with role_arn + source_profile through STS
 * AssumeRole). STS credentials are cached per connector until shortly before they expire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/cloud/aws.h"

#define MAX_FILE (1024 * 1024)
#define MAX_PROFILE_DEPTH 4

void pw__aws_creds_dispose(pw_aws_creds *c)
{
	if (!c)
		return;
	if (c->secret)
		memset(c->secret, 0, strlen(c->secret));
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	pw_free(c->akid);
	pw_free(c->secret);
	pw_free(c->token);
	memset(c, 0, sizeof(*c));
}

static int creds_copy(pw_aws_creds *dst, const pw_aws_creds *src)
{
	*dst = *src;
	dst->akid = pw_strdup(src->akid);
	dst->secret = pw_strdup(src->secret);
	dst->token = src->token ? pw_strdup(src->token) : NULL;
	if (!dst->akid || !dst->secret || (src->token && !dst->token)) {
		pw__aws_creds_dispose(dst);
		return PW_ENOMEM;
	}
	return 0;
}

static int set_static(pw_aws_creds *out, const char *akid, const char *secret, const char *token,
                      const char *source)
{
	memset(out, 0, sizeof(*out));
	out->akid = pw_strdup(akid);
	out->secret = pw_strdup(secret);
	out->token = token && *token ? pw_strdup(token) : NULL;
	snprintf(out->source, sizeof(out->source), "%s", source);
	if (!out->akid || !out->secret || (token && *token && !out->token)) {
		pw__aws_creds_dispose(out);
		return PW_ENOMEM;
	}
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(MAX_FILE);
	char chunk[4096];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = pw__buf_append(&b, chunk, n);
	fclose(f);
	if (rc < 0) {
		pw__buf_dispose(&b);
		return NULL;
	}
	return pw__buf_detach(&b);
}

/* The value of key in [section] of an INI text; caller frees; NULL when absent. */
static char *ini_get(const char *text, const char *section, const char *key)
{
	if (!text)
		return NULL;
	const char *p = text;
	int in = 0;
	while (*p) {
		size_t n = strcspn(p, "\n");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s < e && *s == '[' && e[-1] == ']') {
			const char *ns = s + 1, *ne = e - 1;
			while (ns < ne && *ns == ' ')
				ns++;
			while (ne > ns && ne[-1] == ' ')
				ne--;
			in = (size_t)(ne - ns) == strlen(section) &&
			     strncmp(ns, section, strlen(section)) == 0;
		} else if (in && s < e && *s != '#' && *s != ';') {
			const char *eq = memchr(s, '=', (size_t)(e - s));
			if (eq) {
				const char *ke = eq;
				while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
					ke--;
				if ((size_t)(ke - s) == strlen(key) && strncmp(s, key, strlen(key)) == 0) {
					const char *v = eq + 1;
					while (v < e && (*v == ' ' || *v == '\t'))
						v++;
					pw_buf b = PW_BUF_INIT(0);
					pw__buf_append(&b, v, (size_t)(e - v));
					return pw__buf_detach(&b);
				}
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

typedef struct profiles {
	char *cred_path, *conf_path;
	char *cred, *conf; /* file texts or NULL */
} profiles;

static void profiles_load(profiles *pf, const pw_aws_ctx *c)
{
	memset(pf, 0, sizeof(*pf));
	const char *home = pw__aws_getenv(c, "HOME");
	pw_buf b = PW_BUF_INIT(0);
	const char *v = pw__aws_getenv(c, "AWS_SHARED_CREDENTIALS_FILE");
	if (v)
		pw__buf_puts(&b, v);
	else
		pw__buf_printf(&b, "%s/.aws/credentials", home ? home : "");
	pf->cred_path = pw__buf_detach(&b);
	v = pw__aws_getenv(c, "AWS_CONFIG_FILE");
	if (v)
		pw__buf_puts(&b, v);
	else
		pw__buf_printf(&b, "%s/.aws/config", home ? home : "");
	pf->conf_path = pw__buf_detach(&b);
	pf->cred = read_file(pf->cred_path);
	pf->conf = read_file(pf->conf_path);
}

static void profiles_dispose(profiles *pf)
{
	pw_free(pf->cred_path);
	pw_free(pf->conf_path);
	if (pf->cred)
		memset(pf->cred, 0, strlen(pf->cred));
	pw_free(pf->cred);
	pw_free(pf->conf);
}

/* key of a profile: the credentials file's [name], else the config file's [profile name]
 * ([default] for default). */
static char *profile_get(const profiles *pf, const char *name, const char *key)
{
	char *v = ini_get(pf->cred, name, key);
	if (v)
		return v;
	char sec[256];
	if (strcmp(name, "default") == 0)
		snprintf(sec, sizeof(sec), "default");
	else
		snprintf(sec, sizeof(sec), "profile %.200s", name);
	v = ini_get(pf->conf, sec, key);
	if (!v && strcmp(name, "default") == 0)
		v = ini_get(pf->conf, "profile default", key);
	return v;
}

static const char *profile_name(const pw_aws_ctx *c)
{
	const char *p = json_string_value(json_object_get(pw__aws_step_config(c->step), "profile"));
	if (!p)
		p = pw__aws_getenv(c, "AWS_PROFILE");
	return p ? p : "default";
}

char *pw__aws_region(const pw_aws_ctx *c)
{
	const char *r = json_string_value(json_object_get(pw__aws_step_config(c->step), "region"));
	if (!r)
		r = pw__aws_getenv(c, "AWS_REGION");
	if (!r)
		r = pw__aws_getenv(c, "AWS_DEFAULT_REGION");
	if (r)
		return pw_strdup(r);
	profiles pf;
	profiles_load(&pf, c);
	char *v = profile_get(&pf, profile_name(c), "region");
	profiles_dispose(&pf);
	return v;
}

static void now_session_name(char *out, size_t n, const pw_aws_ctx *c)
{
	const char *run = c->ex ? pw_exec_run_id(c->ex) : NULL;
	snprintf(out, n, "pipewright-%.40s", run && *run ? run : "session");
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("=,.@-_", *p)))
			*p = '-';
}

static void form_add(pw_buf *b, const char *k, const char *v)
{
	char *ek = pw__http_escape(k), *ev = pw__http_escape(v);
	pw__buf_printf(b, "%s%s=%s", b->len ? "&" : "", ek ? ek : "", ev ? ev : "");
	pw_free(ek);
	pw_free(ev);
}

/* STS AssumeRole (signed with base) or AssumeRoleWithWebIdentity (web_token, unsigned). */
static int sts_call(pw_aws_creds *out, pw_aws_ctx *c, const char *role_arn, const char *session,
                    const pw_aws_creds *base, const char *web_token, const char *external_id,
                    const char *source, pw_error **err)
{
	pw_buf body = PW_BUF_INIT(0);
	const char *action = web_token ? "AssumeRoleWithWebIdentity" : "AssumeRole";
	form_add(&body, "Action", action);
	form_add(&body, "Version", "2011-06-15");
	form_add(&body, "RoleArn", role_arn);
	form_add(&body, "RoleSessionName", session);
	if (web_token)
		form_add(&body, "WebIdentityToken", web_token);
	if (external_id)
		form_add(&body, "ExternalId", external_id);
	char iam[64];
	snprintf(iam, sizeof(iam), "sts:%s", action);
	pw_aws_req r = {.service = "sts",
	                .operation = action,
	                .iam_action = iam,
	                .method = "POST",
	                .path = "/",
	                .content_type = "application/x-www-form-urlencoded; charset=utf-8",
	                .body = body.data,
	                .body_len = body.len,
	                .unsigned_ = web_token != NULL,
	                .use_creds = base};
	pw_buf *plan = c->plan;
	c->plan = NULL; /* credentials are never fetched while planning */
	pw_http_response resp;
	int rc = plan ? PW_EINVAL : pw__aws_call(&resp, c, &r, err);
	c->plan = plan;
	if (body.data)
		memset(body.data, 0, body.len);
	pw__buf_dispose(&body);
	if (rc < 0) {
		if (err && *err) {
			pw_buf h = PW_BUF_INIT(0);
			pw__buf_printf(&h, "obtaining credentials from %s (role %s)", source, role_arn);
			if (!pw_error_hint(*err) && rc == PW_EPERM)
				pw_error_set_hint(
				    *err, web_token ? "the role's trust policy must allow this OIDC "
				                      "provider and subject (sts:AssumeRoleWithWebIdentity)"
				                    : "the role's trust policy must allow the source "
				                      "principal (sts:AssumeRole)");
			pw__buf_dispose(&h);
		}
		return rc;
	}
	char *akid = pw__aws_xml_get(resp.body, "AccessKeyId");
	char *secret = pw__aws_xml_get(resp.body, "SecretAccessKey");
	char *token = pw__aws_xml_get(resp.body, "SessionToken");
	char *exp = pw__aws_xml_get(resp.body, "Expiration");
	pw__http_response_dispose(&resp);
	if (!akid || !secret || !token) {
		rc = pw_error_set(err, PW_EEXTERNAL, "STS %s answered without credentials", action);
	} else {
		rc = set_static(out, akid, secret, token, source);
		out->expires = pw__aws_parse_time(exp);
		out->refreshable = 1;
	}
	if (secret)
		memset(secret, 0, strlen(secret));
	if (token)
		memset(token, 0, strlen(token));
	pw_free(akid);
	pw_free(secret);
	pw_free(token);
	pw_free(exp);
	return rc;
}

static int register_secrets(pw_aws_ctx *c, const pw_aws_creds *cr, pw_error **err)
{
	if (!c->ex)
		return 0;
	int rc = pw_exec_add_secret(c->ex, cr->secret, "AWS secret access key", err);
	if (rc == 0 && cr->token)
		rc = pw_exec_add_secret(c->ex, cr->token, "AWS session token", err);
	return rc;
}

/* Looks up / stores STS credentials in the connector's cache. */
static int cache_get(pw_aws_ctx *c, const char *key, pw_aws_creds *out, int force)
{
	int found = 0;
	pw_aws_impl *im = c->im;
	if (!im)
		return 0;
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->ncache; i++) {
		if (strcmp(im->cache[i].key, key) != 0)
			continue;
		pw_aws_creds *e = &im->cache[i].creds;
		if (!force && (e->expires == 0 || e->expires - PW_AWS_REFRESH_MARGIN_S > time(NULL)))
			found = creds_copy(out, e) == 0;
		break;
	}
	pthread_mutex_unlock(&im->lock);
	return found;
}

static void cache_put(pw_aws_ctx *c, const char *key, const pw_aws_creds *cr)
{
	pw_aws_impl *im = c->im;
	if (!im)
		return;
	pthread_mutex_lock(&im->lock);
	size_t i = 0;
	for (; i < im->ncache; i++)
		if (strcmp(im->cache[i].key, key) == 0)
			break;
	if (i == im->ncache) {
		pw_aws_cache_entry *n = pw_realloc(im->cache, (im->ncache + 1) * sizeof(*n));
		if (n) {
			im->cache = n;
			memset(&n[i], 0, sizeof(n[i]));
			n[i].key = pw_strdup(key);
			im->ncache++;
		}
	} else {
		pw__aws_creds_dispose(&im->cache[i].creds);
	}
	if (i < im->ncache && creds_copy(&im->cache[i].creds, cr) < 0)
		memset(&im->cache[i].creds, 0, sizeof(im->cache[i].creds));
	pthread_mutex_unlock(&im->lock);
}

void pw__aws_cache_dispose(pw_aws_impl *im)
{
	for (size_t i = 0; i < im->ncache; i++) {
		pw_free(im->cache[i].key);
		pw__aws_creds_dispose(&im->cache[i].creds);
	}
	pw_free(im->cache);
	im->cache = NULL;
	im->ncache = 0;
}

static int web_identity(pw_aws_creds *out, pw_aws_ctx *c, const char *token_file, const char *role,
                        const char *session, const char *source, int force, pw_error **err)
{
	pw_buf key = PW_BUF_INIT(0);
	pw__buf_printf(&key, "web\n%s\n%s", token_file, role);
	int rc = 0;
	if (!cache_get(c, pw__buf_cstr(&key), out, force)) {
		char *tok = read_file(token_file);
		if (!tok) {
			rc = pw_error_set(err, PW_ECONFIG, "cannot read the web identity token file '%s'",
			                  token_file);
			if (err && *err)
				pw_error_set_hint(
				    *err, "AWS_WEB_IDENTITY_TOKEN_FILE must name a readable file holding "
				          "the CI's OIDC token");
		} else {
			size_t n = strlen(tok);
			while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
				tok[--n] = '\0';
			if (c->ex)
				pw_exec_add_secret(c->ex, tok, "web identity token", NULL);
			char sess[96];
			if (!session)
				now_session_name(sess, sizeof(sess), c);
			rc = sts_call(out, c, role, session ? session : sess, NULL, tok, NULL, source, err);
			memset(tok, 0, n);
			pw_free(tok);
			if (rc == 0)
				cache_put(c, pw__buf_cstr(&key), out);
		}
	}
	pw__buf_dispose(&key);
	return rc;
}

static int from_profile(pw_aws_creds *out, pw_aws_ctx *c, const profiles *pf, const char *name, int depth,
                        int force, pw_error **err)
{
	char src[96];
	snprintf(src, sizeof(src), "profile '%.60s'", name);
	if (depth > MAX_PROFILE_DEPTH)
		return pw_error_set(err, PW_ECONFIG, "AWS profile '%s': source_profile chain longer than %d",
		                    name, MAX_PROFILE_DEPTH);
	char *role = profile_get(pf, name, "role_arn");
	char *akid = profile_get(pf, name, "aws_access_key_id");
	char *secret = profile_get(pf, name, "aws_secret_access_key");
	char *token = profile_get(pf, name, "aws_session_token");
	char *source_profile = profile_get(pf, name, "source_profile");
	char *wif = profile_get(pf, name, "web_identity_token_file");
	char *session = profile_get(pf, name, "role_session_name");
	char *ext = profile_get(pf, name, "external_id");
	int rc = 0;
	if (role && wif) {
		rc = web_identity(out, c, wif, role, session, src, force, err);
	} else if (role && source_profile) {
		pw_buf key = PW_BUF_INIT(0);
		pw__buf_printf(&key, "role\n%s\n%s", name, role);
		if (!cache_get(c, pw__buf_cstr(&key), out, force)) {
			pw_aws_creds base;
			memset(&base, 0, sizeof(base));
			rc = strcmp(source_profile, name) == 0 && akid && secret
			         ? set_static(&base, akid, secret, token, src)
			         : from_profile(&base, c, pf, source_profile, depth + 1, 0, err);
			if (rc == 0) {
				char sess[96];
				if (!session)
					now_session_name(sess, sizeof(sess), c);
				rc = sts_call(out, c, role, session ? session : sess, &base, NULL, ext, src,
				              err);
			}
			pw__aws_creds_dispose(&base);
			if (rc == 0)
				cache_put(c, pw__buf_cstr(&key), out);
		}
		pw__buf_dispose(&key);
	} else if (akid && secret) {
		rc = set_static(out, akid, secret, token, src);
	} else {
		rc = pw_error_set(err, PW_ECONFIG, "AWS profile '%s' has no credentials (%s, %s)", name,
		                  pf->cred_path, pf->conf_path);
		if (err && *err)
			pw_error_set_hint(*err,
			                  "give the profile aws_access_key_id and aws_secret_access_key, or "
			                  "role_arn with source_profile or web_identity_token_file");
	}
	if (secret)
		memset(secret, 0, strlen(secret));
	if (token)
		memset(token, 0, strlen(token));
	pw_free(role);
	pw_free(akid);
	pw_free(secret);
	pw_free(token);
	pw_free(source_profile);
	pw_free(wif);
	pw_free(session);
	pw_free(ext);
	return rc;
}

/* The chain before an optional step-level role_arn. */
static int base_chain(pw_aws_creds *out, pw_aws_ctx *c, int force, pw_error **err)
{
	const json_t *cfg = pw__aws_step_config(c->step);
	const json_t *names = json_object_get(cfg, "credentials_env");
	if (names) {
		const char *kn = json_string_value(json_object_get(names, "access_key_id"));
		const char *sn = json_string_value(json_object_get(names, "secret_access_key"));
		const char *tn = json_string_value(json_object_get(names, "session_token"));
		const char *k = kn ? pw__aws_getenv(c, kn) : NULL;
		const char *s = sn ? pw__aws_getenv(c, sn) : NULL;
		const char *t = tn ? pw__aws_getenv(c, tn) : NULL;
		if (!k || !s || (tn && !t)) {
			pw_error_set(err, PW_ECONFIG, "credentials_env names variable '%s', which is not set",
			             !k   ? (kn ? kn : "?")
			             : !s ? (sn ? sn : "?")
			                  : tn);
			if (err && *err) {
				pw_error_set_key(*err, "credentials_env");
				pw_error_set_hint(
				    *err, "pass it to the step (pipeline `secrets:` or `env:`), or remove "
				          "credentials_env to use the default chain");
			}
			return PW_ECONFIG;
		}
		return set_static(out, k, s, t, "credentials_env");
	}
	const char *k = pw__aws_getenv(c, "AWS_ACCESS_KEY_ID");
	const char *s = pw__aws_getenv(c, "AWS_SECRET_ACCESS_KEY");
	if (k && s)
		return set_static(out, k, s, pw__aws_getenv(c, "AWS_SESSION_TOKEN"), "environment");
	if (k || s) {
		pw_error_set(err, PW_ECONFIG, "%s is set but %s is not",
		             k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		             k ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		if (err && *err)
			pw_error_set_hint(*err, "set both, or neither to use a profile or web identity");
		return PW_ECONFIG;
	}
	const char *wif = pw__aws_getenv(c, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = pw__aws_getenv(c, "AWS_ROLE_ARN");
	if (wif && role)
		return web_identity(out, c, wif, role, pw__aws_getenv(c, "AWS_ROLE_SESSION_NAME"),
		                    "web identity", force, err);
	profiles pf;
	profiles_load(&pf, c);
	const char *name = profile_name(c);
	int explicit_ = json_object_get(cfg, "profile") || pw__aws_getenv(c, "AWS_PROFILE");
	int rc;
	if (!pf.cred && !pf.conf && !explicit_) {
		rc = pw_error_set(err, PW_ECONFIG, "no AWS credentials found");
		if (err && *err)
			pw_error_set_hint(
			    *err,
			    "tried, in order: `credentials_env` in the step config; AWS_ACCESS_KEY_ID and "
			    "AWS_SECRET_ACCESS_KEY; AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN; the "
			    "profile in ~/.aws/credentials and ~/.aws/config (AWS_PROFILE). Set one of them");
	} else {
		rc = from_profile(out, c, &pf, name, 0, force, err);
	}
	profiles_dispose(&pf);
	return rc;
}

int pw__aws_creds_get(pw_aws_ctx *c, int force, pw_error **err)
{
	if (c->have_creds && !force &&
	    (c->creds.expires == 0 || c->creds.expires - PW_AWS_REFRESH_MARGIN_S > time(NULL)))
		return 0;
	pw__aws_creds_dispose(&c->creds);
	c->have_creds = 0;
	pw_aws_creds base;
	memset(&base, 0, sizeof(base));
	int rc = base_chain(&base, c, force, err);
	if (rc < 0)
		return rc;
	const json_t *cfg = pw__aws_step_config(c->step);
	const char *role = json_string_value(json_object_get(cfg, "role_arn"));
	if (role) {
		pw_buf key = PW_BUF_INIT(0);
		pw__buf_printf(&key, "step-role\n%s\n%s", base.akid, role);
		char src[160];
		snprintf(src, sizeof(src), "role_arn over %.60s", base.source);
		if (!cache_get(c, pw__buf_cstr(&key), &c->creds, force)) {
			const char *sess = json_string_value(json_object_get(cfg, "role_session_name"));
			char def[96];
			now_session_name(def, sizeof(def), c);
			rc = sts_call(&c->creds, c, role, sess ? sess : def, &base, NULL,
			              json_string_value(json_object_get(cfg, "external_id")), src, err);
			if (rc == 0)
				cache_put(c, pw__buf_cstr(&key), &c->creds);
		}
		pw__buf_dispose(&key);
		if (rc == 0) {
			c->creds.refreshable = 1;
			register_secrets(c, &base, NULL);
		}
		pw__aws_creds_dispose(&base);
	} else {
		c->creds = base;
	}
	if (rc < 0)
		return rc;
	c->have_creds = 1;
	return register_secrets(c, &c->creds, err);
}
