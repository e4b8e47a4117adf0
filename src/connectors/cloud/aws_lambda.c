/* Lambda update-function-code (rest-json): the code from a zip built with libarchive from a
 * workspace directory, a zip file, an S3 object or an image URI; waits for LastUpdateStatus
 * Successful, checks that the function now runs the code we sent (CodeSha256), and optionally
 * publishes a version and points an alias at it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/crypto_api.h"
#include "core/archive_api.h"
#include "connectors/cloud/aws.h"
#include "net/json.h"

/* Lambda takes at most 50 MB of zipped code in a direct upload. */
#define MAX_ZIP ((size_t)50 * 1024 * 1024)
#define ZIP_MTIME 1577836800 /* 2020-01-01: the same tree gives the same zip */

static la_ssize_t zip_write(struct archive *a, void *payload, const void *buf, size_t len)
{
	pw_buf *b = payload;
	if (pw__buf_append(b, buf, len) < 0) {
		archive_set_error(a, ENOMEM, "the zip would be larger than 50 MB");
		return -1;
	}
	return (la_ssize_t)len;
}

static int add_tree(struct archive *a, const char *root, const char *rel, size_t *count, pw_error **err)
{
	pw_buf dir = PW_BUF_INIT(0);
	pw__buf_printf(&dir, "%s%s%s", root, *rel ? "/" : "", rel);
	struct dirent **list = NULL;
	int n = scandir(pw__buf_cstr(&dir), &list, NULL, alphasort);
	if (n < 0) {
		pw_error_set(err, PW_ECONFIG, "cannot read directory '%s'", pw__buf_cstr(&dir));
		pw__buf_dispose(&dir);
		return PW_ECONFIG;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *nm = list[i]->d_name;
		if (rc == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
			pw_buf r = PW_BUF_INIT(0), full = PW_BUF_INIT(0);
			pw__buf_printf(&r, "%s%s%s", rel, *rel ? "/" : "", nm);
			pw__buf_printf(&full, "%s/%s", root, pw__buf_cstr(&r));
			struct stat st;
			if (lstat(pw__buf_cstr(&full), &st) == 0 && S_ISDIR(st.st_mode)) {
				rc = add_tree(a, root, pw__buf_cstr(&r), count, err);
			} else if (lstat(pw__buf_cstr(&full), &st) == 0 && S_ISREG(st.st_mode)) {
				struct archive_entry *e = archive_entry_new();
				archive_entry_set_pathname(e, pw__buf_cstr(&r));
				archive_entry_set_size(e, st.st_size);
				archive_entry_set_filetype(e, AE_IFREG);
				archive_entry_set_perm(e, (st.st_mode & 0111) ? 0755 : 0644);
				archive_entry_set_mtime(e, ZIP_MTIME, 0);
				if (archive_write_header(a, e) != ARCHIVE_OK) {
					rc = pw_error_set(err, PW_EIO, "cannot zip '%s': %s",
					                  pw__buf_cstr(&r), archive_error_string(a));
				} else {
					int fd = open(pw__buf_cstr(&full), O_RDONLY | O_CLOEXEC);
					char chunk[65536];
					ssize_t got;
					while (fd >= 0 && rc == 0 &&
					       (got = read(fd, chunk, sizeof(chunk))) > 0)
						if (archive_write_data(a, chunk, (size_t)got) < 0)
							rc = pw_error_set(
							    err, PW_ECONFIG, "cannot zip '%s': %s",
							    pw__buf_cstr(&r), archive_error_string(a));
					if (fd >= 0)
						close(fd);
					else
						rc = pw_error_set(err, PW_ECONFIG, "cannot read '%s'",
						                  pw__buf_cstr(&full));
					(*count)++;
				}
				archive_entry_free(e);
			}
			pw__buf_dispose(&r);
			pw__buf_dispose(&full);
		}
		free(list[i]);
	}
	free(list);
	pw__buf_dispose(&dir);
	return rc;
}

/* Zips the directory at path into *zip (bounded by MAX_ZIP). */
static int zip_dir(pw_buf *zip, const char *path, size_t *count, pw_error **err)
{
	int lrc = pw__archive_load(err);
	if (lrc < 0)
		return lrc;
	struct archive *a = archive_write_new();
	if (!a)
		return PW_ENOMEM;
	archive_write_set_format_zip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	int rc = 0;
	if (archive_write_open2(a, zip, NULL, zip_write, NULL, NULL) != ARCHIVE_OK)
		rc = pw_error_set(err, PW_EIO, "cannot start a zip: %s", archive_error_string(a));
	if (rc == 0)
		rc = add_tree(a, path, "", count, err);
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = pw_error_set(err, PW_ECONFIG, "cannot finish the zip of '%s': %s", path,
		                  archive_error_string(a));
	archive_write_free(a);
	if (rc == 0 && *count == 0)
		rc = pw_error_set(err, PW_ECONFIG, "the directory '%s' holds no files to deploy", path);
	return rc;
}

static int read_zip(pw_buf *zip, const char *path, pw_error **err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return pw_error_set(err, PW_ECONFIG, "cannot read the zip file '%s'", path);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = pw__buf_append(zip, chunk, n);
	fclose(f);
	if (rc < 0)
		return pw_error_set(err, PW_ECONFIG,
		                    "the zip '%s' is larger than 50 MB: upload it to S3 and use "
		                    "s3_bucket/s3_key",
		                    path);
	return 0;
}

static char *b64(const void *data, size_t len)
{
	char *out = pw_malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* One Lambda call: *out the parsed answer (NULL in plan). */
static int lambda_call(json_t **out, pw_aws_ctx *c, const char *method, const char *path, const char *op,
                       const json_t *body, const char *plan_body, pw_error **err)
{
	*out = NULL;
	char iam[96];
	snprintf(iam, sizeof(iam), "lambda:%s", op);
	char *text = body ? pw__json_dump(body) : NULL;
	pw_aws_req r = {.service = "lambda",
	                .operation = op,
	                .iam_action = iam,
	                .method = method,
	                .path = path,
	                .content_type = body ? "application/json" : NULL,
	                .body = text,
	                .body_len = text ? strlen(text) : 0,
	                .plan_body = plan_body};
	pw_http_response resp;
	int rc = pw__aws_call(&resp, c, &r, err);
	if (text) {
		memset(text, 0, strlen(text));
		pw_free(text);
	}
	if (rc < 0 || c->plan) {
		pw__http_response_dispose(&resp);
		return rc;
	}
	char what[160];
	snprintf(what, sizeof(what), "the answer to Lambda %s", op);
	rc = pw__json_load(out, resp.body, resp.body_len, 0, what, err);
	pw__http_response_dispose(&resp);
	return rc;
}

pw_aws_update_state pw__aws_lambda_update_state(pw_buf *reason, const json_t *conf)
{
	const char *st = pw__json_get_string(conf, "LastUpdateStatus");
	if (st && strcmp(st, "Successful") == 0)
		return PW_AWS_UPDATE_SUCCESSFUL;
	if (!st || strcmp(st, "Failed") != 0)
		return PW_AWS_UPDATE_PENDING;
	const char *why = pw__json_get_string(conf, "LastUpdateStatusReason");
	const char *code = pw__json_get_string(conf, "LastUpdateStatusReasonCode");
	pw__buf_printf(reason, "%s%s%s", why ? why : "(no reason given)", code ? " " : "", code ? code : "");
	return PW_AWS_UPDATE_FAILED;
}

/* Polls GetFunctionConfiguration (cpath: path and optional ?Qualifier=) until LastUpdateStatus
 * is Successful (*done set) or Failed (an error with Lambda's reason). */
static int wait_updated(pw_aws_ctx *c, const char *fn, const char *cpath_text, const char *audit_action,
                        int *done, pw_error **err)
{
	int rc = 0;
	json_t *ans = NULL;
	char target[300];
	snprintf(target, sizeof(target), "lambda function %s", fn);
	pw_buf cpath = PW_BUF_INIT(0);
	pw__buf_puts(&cpath, cpath_text);
	for (unsigned attempt = 0; rc == 0 && !*done; attempt++) {
		rc = pw__aws_poll_wait(c, attempt, "the Lambda update to finish", err);
		if (rc < 0)
			break;
		/* the query string goes separately so that it is signed as a query */
		char *qm = strchr(cpath.data, '?');
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_append(&p, cpath.data, qm ? (size_t)(qm - cpath.data) : cpath.len);
		pw_aws_req r = {.service = "lambda",
		                .operation = "GetFunctionConfiguration",
		                .iam_action = "lambda:GetFunctionConfiguration",
		                .method = "GET",
		                .path = pw__buf_cstr(&p),
		                .query = qm ? qm + 1 : NULL};
		pw_http_response resp;
		rc = pw__aws_call(&resp, c, &r, err);
		pw__buf_dispose(&p);
		if (rc == 0)
			rc = pw__json_load(&ans, resp.body, resp.body_len, 0,
			                   "the Lambda function configuration", err);
		pw__http_response_dispose(&resp);
		if (rc < 0)
			break;
		pw_buf reason = PW_BUF_INIT(0);
		pw_aws_update_state st = pw__aws_lambda_update_state(&reason, ans);
		if (st == PW_AWS_UPDATE_FAILED) {
			const char *why = pw__json_get_string(ans, "LastUpdateStatusReason");
			rc = pw_error_set(err, PW_EEXTERNAL, "Lambda %s: the update failed: %s", fn,
			                  pw__buf_cstr(&reason));
			if (err && *err)
				pw_error_set_hint(
				    *err,
				    "Lambda's reason above; for an image, check that the function's role "
				    "may pull it (ecr:BatchGetImage) and the architecture matches");
			pw_exec_audit(c->ex, audit_action, target, "failed", why);
		} else if (st == PW_AWS_UPDATE_SUCCESSFUL) {
			*done = 1;
		}
		pw__buf_dispose(&reason);
		json_decref(ans);
		ans = NULL;
	}
	pw__buf_dispose(&cpath);
	return rc;
}

static int update_function_code(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	const char *fn = pw__aws_param_str(c, "function_name");
	const char *dir = pw__aws_param_str(c, "zip_dir");
	const char *zf = pw__aws_param_str(c, "zip_file");
	const char *bucket = pw__aws_param_str(c, "s3_bucket");
	const char *key = pw__aws_param_str(c, "s3_key");
	const char *image = pw__aws_param_str(c, "image_uri");
	const char *alias = pw__aws_param_str(c, "alias");
	int publish = pw__aws_param_bool(c, "publish", alias != NULL);
	int wait = pw__aws_param_bool(c, "wait", 1);
	int sources = (dir != NULL) + (zf != NULL) + (bucket != NULL || key != NULL) + (image != NULL);
	if (sources != 1 || (bucket && !key) || (key && !bucket)) {
		pw_error_set(err, PW_ECONFIG,
		             "lambda update-function-code needs exactly one code source: zip_dir, "
		             "zip_file, s3_bucket + s3_key, or image_uri");
		if (err && *err)
			pw_error_set_key(*err, "parameters");
		return PW_ECONFIG;
	}
	if (alias && !publish)
		return pw_error_set(err, PW_ECONFIG,
		                    "an alias needs a published version: drop `publish: false`");
	json_t *q = json_object();
	pw_buf zip = PW_BUF_INIT(MAX_ZIP);
	char local_sha[64] = "";
	char plan_body[512] = "";
	int rc = 0;
	if (dir || zf) {
		char *path = NULL;
		rc = pw__aws_ws_path(&path, c, dir ? dir : zf, dir ? "zip_dir" : "zip_file", err);
		size_t count = 0;
		if (rc == 0)
			rc = dir ? zip_dir(&zip, path, &count, err) : read_zip(&zip, path, err);
		pw_free(path);
		if (rc == 0)
			rc = pw__crypto_load(err);
		if (rc == 0) {
			unsigned char md[SHA256_DIGEST_LENGTH];
			SHA256((const unsigned char *)zip.data, zip.len, md);
			EVP_EncodeBlock((unsigned char *)local_sha, md, sizeof(md));
			char *enc = b64(zip.data, zip.len);
			if (!enc)
				rc = PW_ENOMEM;
			else
				json_object_set_new(q, "ZipFile", json_string(enc));
			pw_free(enc);
			snprintf(
			    plan_body, sizeof(plan_body),
			    "{\"ZipFile\":\"<base64 of a %zu-byte zip%s%s%s, SHA-256 %s>\",\"Publish\":%s}",
			    zip.len, dir ? " of " : "", dir ? dir : "", dir ? "/" : "", local_sha,
			    publish ? "true" : "false");
		}
	} else if (bucket) {
		json_object_set_new(q, "S3Bucket", json_string(bucket));
		json_object_set_new(q, "S3Key", json_string(key));
		const char *ver = pw__aws_param_str(c, "s3_object_version");
		if (ver)
			json_object_set_new(q, "S3ObjectVersion", json_string(ver));
	} else {
		json_object_set_new(q, "ImageUri", json_string(image));
	}
	json_object_set_new(q, "Publish", json_boolean(publish));
	pw__buf_dispose(&zip);
	char *efn = pw__http_escape(fn);
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "/2015-03-31/functions/%s/code", efn);
	json_t *ans = NULL;
	if (rc == 0)
		rc = lambda_call(&ans, c, "PUT", pw__buf_cstr(&path), "UpdateFunctionCode", q,
		                 plan_body[0] ? plan_body : NULL, err);
	json_decref(q);
	char target[300];
	snprintf(target, sizeof(target), "lambda function %s", fn);
	if (c->plan) {
		if (rc == 0 && wait)
			pw__buf_printf(c->plan,
			               "# then: GET %s/2015-03-31/functions/%s/configuration until "
			               "LastUpdateStatus is Successful\n",
			               "(lambda endpoint)", efn);
		if (rc == 0 && alias)
			pw__buf_printf(
			    c->plan,
			    "# then: PUT /2015-03-31/functions/%s/aliases/%s {\"FunctionVersion\": "
			    "<the published version>} (POST .../aliases when it does not exist)\n",
			    efn, alias);
		pw__buf_putc(c->plan, '\n');
		pw__buf_dispose(&path);
		pw_free(efn);
		return rc;
	}
	if (rc < 0) {
		if (pw_error_code(err && *err ? *err : NULL) != PW_ECONFIG)
			pw_exec_audit(c->ex, "lambda:UpdateFunctionCode", target, "failed",
			              err && *err ? pw_error_message(*err) : NULL);
		pw__buf_dispose(&path);
		pw_free(efn);
		return rc;
	}
	char *version =
	    pw_strdup(pw__json_get_string(ans, "Version") ? pw__json_get_string(ans, "Version") : "$LATEST");
	char *sha =
	    pw_strdup(pw__json_get_string(ans, "CodeSha256") ? pw__json_get_string(ans, "CodeSha256") : "");
	char *arn =
	    pw_strdup(pw__json_get_string(ans, "FunctionArn") ? pw__json_get_string(ans, "FunctionArn") : "");
	const char *status = pw__json_get_string(ans, "LastUpdateStatus");
	char detail[512];
	snprintf(detail, sizeof(detail), "CodeSha256 %s, version %s", sha, version);
	pw_exec_audit(c->ex, "lambda:UpdateFunctionCode", target, "ok", detail);
	pw__aws_say(c, "Lambda %s: code updated (CodeSha256 %s, version %s, LastUpdateStatus %s)", fn, sha,
	            version, status ? status : "?");
	if (local_sha[0] && strcmp(local_sha, sha) != 0)
		rc = pw_error_set(
		    err, PW_EEXTERNAL,
		    "Lambda %s reports CodeSha256 %s, but the zip sent has %s: the function does not "
		    "run the uploaded code",
		    fn, sha, local_sha);
	int done = status && strcmp(status, "Successful") == 0;
	json_decref(ans);
	ans = NULL;
	pw_buf cpath = PW_BUF_INIT(0);
	pw__buf_printf(&cpath, "/2015-03-31/functions/%s/configuration", efn);
	if (publish && strcmp(version, "$LATEST") != 0) {
		char *ev = pw__http_escape(version);
		pw__buf_printf(&cpath, "?Qualifier=%s", ev);
		pw_free(ev);
	}
	if (rc == 0 && wait && !done)
		rc = wait_updated(c, fn, pw__buf_cstr(&cpath), "lambda:UpdateFunctionCode", &done, err);
	if (rc == 0 && done)
		pw__aws_say(c, "Lambda %s: LastUpdateStatus Successful", fn);
	if (rc == 0 && alias) {
		char *ea = pw__http_escape(alias);
		pw_buf ap = PW_BUF_INIT(0);
		pw__buf_printf(&ap, "/2015-03-31/functions/%s/aliases/%s", efn, ea);
		json_t *b = json_object();
		json_object_set_new(b, "FunctionVersion", json_string(version));
		pw_error *ae = NULL;
		rc = lambda_call(&ans, c, "PUT", pw__buf_cstr(&ap), "UpdateAlias", b, NULL, &ae);
		if (rc == PW_ENOTFOUND) {
			pw_error_free(ae);
			ae = NULL;
			json_object_set_new(b, "Name", json_string(alias));
			pw__buf_clear(&ap);
			pw__buf_printf(&ap, "/2015-03-31/functions/%s/aliases", efn);
			rc = lambda_call(&ans, c, "POST", pw__buf_cstr(&ap), "CreateAlias", b, NULL, &ae);
		}
		char at[400];
		snprintf(at, sizeof(at), "lambda alias %s:%s", fn, alias);
		pw_exec_audit(c->ex, "lambda:UpdateAlias", at, rc == 0 ? "ok" : "failed", version);
		if (rc < 0 && err && !*err)
			*err = ae;
		else
			pw_error_free(ae);
		if (rc == 0)
			pw__aws_say(c, "Lambda %s: alias %s -> version %s", fn, alias, version);
		json_decref(b);
		json_decref(ans);
		pw__buf_dispose(&ap);
		pw_free(ea);
	}
	if (rc == 0) {
		*out = pw_result_success(NULL);
		pw_result_with_metadata(*out, "function_arn", arn);
		pw_result_with_metadata(*out, "version", version);
		pw_result_with_metadata(*out, "code_sha256", sha);
		pw_exec_set_output(c->ex, "version", version);
		pw_exec_set_output(c->ex, "code_sha256", sha);
	}
	pw_free(version);
	pw_free(sha);
	pw_free(arn);
	pw__buf_dispose(&cpath);
	pw__buf_dispose(&path);
	pw_free(efn);
	return rc;
}

/* Checks that every value of the map at params[key] is a string. */
static int string_map(const json_t *m, const char *key, pw_error **err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		if (!json_is_string(v)) {
			pw_error_set(err, PW_ECONFIG,
			             "parameters.%s.%s must be a string (quote numbers and booleans)", key,
			             k);
			if (err && *err)
				pw_error_set_key(*err, key);
			return PW_ECONFIG;
		}
	}
	return 0;
}

static int update_function_configuration(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	const char *fn = pw__aws_param_str(c, "function_name");
	json_t *env = json_object_get(c->params, "environment");
	const char *mode = pw__aws_param_str(c, "env_update");
	int wait = pw__aws_param_bool(c, "wait", 1);
	if (env && (!mode || (strcmp(mode, "merge") != 0 && strcmp(mode, "replace") != 0))) {
		pw_error_set(err, PW_ECONFIG,
		             "parameters.environment needs env_update: merge (keep the function's "
		             "other variables) or replace (only these variables)");
		if (err && *err)
			pw_error_set_key(*err, "parameters.env_update");
		return PW_ECONFIG;
	}
	if (env && string_map(env, "environment", err) < 0)
		return PW_ECONFIG;
	char *efn = pw__http_escape(fn);
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "/2015-03-31/functions/%s/configuration", efn);
	int rc = 0;
	json_t *vars = env ? json_deep_copy(env) : NULL;
	char *revision = NULL;
	if (env && strcmp(mode, "merge") == 0) {
		/* the current variables, and the revision to update so that a concurrent change fails */
		json_t *cur = NULL;
		pw_aws_req r = {.service = "lambda",
		                .operation = "GetFunctionConfiguration",
		                .iam_action = "lambda:GetFunctionConfiguration",
		                .method = "GET",
		                .path = pw__buf_cstr(&path)};
		pw_http_response resp;
		rc = pw__aws_call(&resp, c, &r, err);
		if (rc == 0 && !c->plan)
			rc = pw__json_load(&cur, resp.body, resp.body_len, 0,
			                   "the Lambda function configuration", err);
		pw__http_response_dispose(&resp);
		if (rc == 0 && cur) {
			json_t *old = json_deep_copy(pw__json_get(cur, "Environment.Variables"));
			if (json_is_object(old)) {
				json_object_update(old, vars);
				json_decref(vars);
				vars = old;
			} else {
				json_decref(old);
			}
			const char *rev = pw__json_get_string(cur, "RevisionId");
			revision = rev ? pw_strdup(rev) : NULL;
		}
		json_decref(cur);
		if (c->plan)
			pw__buf_puts(c->plan,
			             "# then, with the function's current variables merged under these:\n");
	}
	json_t *q = json_object();
	if (vars) {
		json_t *e = json_object();
		json_object_set(e, "Variables", vars);
		json_object_set_new(q, "Environment", e);
	}
	static const char *const str_keys[][2] = {
	    {"handler", "Handler"}, {"runtime", "Runtime"}, {"description", "Description"}, {"role", "Role"}};
	for (size_t i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
		const char *v = pw__aws_param_str(c, str_keys[i][0]);
		if (v)
			json_object_set_new(q, str_keys[i][1], json_string(v));
	}
	json_t *t = json_object_get(c->params, "timeout");
	if (t)
		json_object_set_new(q, "Timeout", pw__config_typed(t));
	json_t *mem = json_object_get(c->params, "memory_size");
	if (mem)
		json_object_set_new(q, "MemorySize", pw__config_typed(mem));
	if (revision)
		json_object_set_new(q, "RevisionId", json_string(revision));
	json_t *ans = NULL;
	if (rc == 0 && json_object_size(q) == 0)
		rc = pw_error_set(err, PW_ECONFIG, "lambda update-function-configuration: nothing to change");
	if (rc == 0)
		rc = lambda_call(&ans, c, "PUT", pw__buf_cstr(&path), "UpdateFunctionConfiguration", q, NULL,
		                 err);
	/* the audit names the variables, never their values */
	pw_buf detail = PW_BUF_INIT(0);
	const char *k;
	json_t *v;
	if (env) {
		pw__buf_printf(&detail, "environment (%s):", mode);
		json_object_foreach(env, k, v) pw__buf_printf(&detail, " %s", k);
	}
	json_decref(q);
	json_decref(vars);
	pw_free(revision);
	char target[300];
	snprintf(target, sizeof(target), "lambda function %s", fn);
	if (c->plan) {
		if (rc == 0 && wait)
			pw__buf_puts(c->plan,
			             "# then: GET .../configuration until LastUpdateStatus is Successful\n");
		pw__buf_putc(c->plan, '\n');
	} else if (rc < 0) {
		if (pw_error_code(err && *err ? *err : NULL) != PW_ECONFIG)
			pw_exec_audit(c->ex, "lambda:UpdateFunctionConfiguration", target, "failed",
			              err && *err ? pw_error_message(*err) : NULL);
	} else {
		pw_exec_audit(c->ex, "lambda:UpdateFunctionConfiguration", target, "ok",
		              pw__buf_cstr(&detail));
		const char *st = pw__json_get_string(ans, "LastUpdateStatus");
		int done = st && strcmp(st, "Successful") == 0;
		pw__aws_say(c, "Lambda %s: configuration updated%s%s", fn, detail.len ? ", " : "",
		            pw__buf_cstr(&detail));
		if (wait && !done)
			rc = wait_updated(c, fn, pw__buf_cstr(&path), "lambda:UpdateFunctionConfiguration",
			                  &done, err);
		if (rc == 0) {
			if (done)
				pw__aws_say(c, "Lambda %s: LastUpdateStatus Successful", fn);
			*out = pw_result_success(NULL);
			pw_result_with_metadata(*out, "function_arn",
			                        pw__json_get_string(ans, "FunctionArn")
			                            ? pw__json_get_string(ans, "FunctionArn")
			                            : "");
		}
	}
	json_decref(ans);
	pw__buf_dispose(&detail);
	pw__buf_dispose(&path);
	pw_free(efn);
	return rc;
}

static const pw_aws_param ufc_params[] = {
    {"function_name", 's', 1, "the function's name or ARN"},
    {"zip_dir", 's', 0, "a workspace directory to zip and upload"},
    {"zip_file", 's', 0, "a zip file in the workspace"},
    {"s3_bucket", 's', 0, "the bucket of a zip already in S3 (with s3_key)"},
    {"s3_key", 's', 0, "the key of that zip"},
    {"s3_object_version", 's', 0, "its version"},
    {"image_uri", 's', 0, "a container image URI in ECR"},
    {"publish", 'b', 0, "publish a new version (default: true when alias is set)"},
    {"alias", 's', 0, "point this alias at the published version"},
    {"wait", 'b', 0, "wait for LastUpdateStatus Successful (default true)"},
    {NULL, 0, 0, NULL}};

static const pw_aws_param ucfg_params[] = {
    {"function_name", 's', 1, "the function's name or ARN"},
    {"environment", 'o', 0, "environment variables (string values)"},
    {"env_update", 's', 0, "merge: keep the function's other variables; replace: only these"},
    {"handler", 's', 0, "the handler"},
    {"runtime", 's', 0, "the runtime identifier (nodejs20.x, python3.12, ...)"},
    {"description", 's', 0, "the description"},
    {"role", 's', 0, "the execution role ARN"},
    {"timeout", 'i', 0, "seconds"},
    {"memory_size", 'i', 0, "MB"},
    {"wait", 'b', 0, "wait for LastUpdateStatus Successful (default true)"},
    {NULL, 0, 0, NULL}};

const pw_aws_action pw__aws_lambda_actions[] = {
    {"lambda", "update-function-code", ufc_params, update_function_code,
     "lambda:UpdateFunctionCode, lambda:GetFunctionConfiguration (+ lambda:UpdateAlias, lambda:CreateAlias "
     "with alias; s3:GetObject on the bucket for s3_bucket)",
     "deploy new code to a function"},
    {"lambda", "update-function-configuration", ucfg_params, update_function_configuration,
     "lambda:UpdateFunctionConfiguration, lambda:GetFunctionConfiguration",
     "change a function's environment, handler, runtime, timeout or memory"},
    {NULL, NULL, NULL, NULL, NULL, NULL}};
