/* S3 upload: workspace files or globs to a bucket (PutObject, or multipart above a threshold,
 * aborted when a part fails), with a content type given or guessed from the extension. S3
 * requests are signed with x-amz-content-sha256 and without path normalisation. */
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/sigv4.h"
#include "connectors/cloud/aws.h"
#include "core/clock.h"

#define MIN_PART ((long long)5 * 1024 * 1024)
#define MAX_PART ((long long)512 * 1024 * 1024)
#define DEFAULT_THRESHOLD ((long long)16 * 1024 * 1024)
#define DEFAULT_PART ((long long)8 * 1024 * 1024)
#define MAX_FILES 10000

static const char *guess_type(const char *name)
{
	static const char *const map[][2] = {
	    {".html", "text/html"},      {".htm", "text/html"},         {".css", "text/css"},
	    {".js", "text/javascript"},  {".mjs", "text/javascript"},   {".json", "application/json"},
	    {".txt", "text/plain"},      {".md", "text/markdown"},      {".xml", "application/xml"},
	    {".svg", "image/svg+xml"},   {".png", "image/png"},         {".jpg", "image/jpeg"},
	    {".jpeg", "image/jpeg"},     {".gif", "image/gif"},         {".webp", "image/webp"},
	    {".ico", "image/x-icon"},    {".wasm", "application/wasm"}, {".zip", "application/zip"},
	    {".gz", "application/gzip"}, {".tar", "application/x-tar"}, {".pdf", "application/pdf"},
	    {".csv", "text/csv"},        {".yaml", "application/yaml"}, {".yml", "application/yaml"},
	    {".woff2", "font/woff2"},    {".map", "application/json"}};
	const char *dot = strrchr(name, '.');
	const char *slash = strrchr(name, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcasecmp(dot, map[i][0]) == 0)
				return map[i][1];
	return "application/octet-stream";
}

static char *object_path(const char *key)
{
	char *ek = pw__http_escape_path(key);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "/%s", ek ? ek : "");
	pw_free(ek);
	return pw__buf_detach(&b);
}

static int read_range(pw_buf *b, int fd, long long off, long long len, const char *path, pw_error **err)
{
	pw__buf_clear(b);
	char chunk[65536];
	while (len > 0) {
		ssize_t got = pread(fd, chunk,
		                    (size_t)(len < (long long)sizeof(chunk) ? len : (long long)sizeof(chunk)),
		                    (off_t)off);
		if (got <= 0)
			return pw_error_set(err, PW_EIO, "cannot read '%s'", path);
		if (pw__buf_append(b, chunk, (size_t)got) < 0)
			return PW_ENOMEM;
		off += got;
		len -= got;
	}
	return 0;
}

char *pw__aws_s3_error_message(const char *body)
{
	if (!body || !strstr(body, "<Error>"))
		return NULL;
	char *m = pw__aws_xml_get(body, "Message");
	return m ? m : pw_strdup(body);
}

static int put_object(pw_aws_ctx *c, const char *bucket, const char *key, const char *file, long long size,
                      const char *ctype, pw_error **err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pw_error_set(err, PW_ECONFIG, "cannot open '%s'", file);
	pw_buf body = PW_BUF_INIT(0);
	int rc = read_range(&body, fd, 0, size, file, err);
	close(fd);
	char *path = object_path(key);
	char plan[300];
	snprintf(plan, sizeof(plan), "<%lld bytes of %s>", size, file);
	pw_aws_req r = {.service = "s3",
	                .operation = "PutObject",
	                .iam_action = "s3:PutObject",
	                .method = "PUT",
	                .path = path,
	                .content_type = ctype,
	                .body = body.data ? body.data : "",
	                .body_len = body.len,
	                .s3 = 1,
	                .plan_body = plan,
	                .bucket = bucket};
	pw_http_response resp;
	memset(&resp, 0, sizeof(resp));
	if (rc == 0)
		rc = pw__aws_call(&resp, c, &r, err);
	pw__http_response_dispose(&resp);
	pw__buf_dispose(&body);
	pw_free(path);
	return rc;
}

/* AbortMultipartUpload; an upload already gone counts as aborted. */
static int abort_upload(pw_aws_ctx *c, const char *bucket, const char *path, const char *upload_id,
                        pw_error **err)
{
	char *eid = pw__http_escape(upload_id);
	pw_buf q = PW_BUF_INIT(0);
	pw__buf_printf(&q, "uploadId=%s", eid ? eid : "");
	pw_aws_req ar = {.service = "s3",
	                 .operation = "AbortMultipartUpload",
	                 .iam_action = "s3:AbortMultipartUpload",
	                 .method = "DELETE",
	                 .path = path,
	                 .query = pw__buf_cstr(&q),
	                 .s3 = 1,
	                 .bucket = bucket};
	pw_http_response resp;
	pw_error *e = NULL;
	int rc = pw__aws_call(&resp, c, &ar, &e);
	pw__http_response_dispose(&resp);
	if (rc == PW_ENOTFOUND) /* NoSuchUpload: completed or aborted meanwhile */
		rc = 0;
	else if (rc < 0 && err && !*err) {
		*err = e;
		e = NULL;
	}
	pw_error_free(e);
	pw__buf_dispose(&q);
	pw_free(eid);
	return rc;
}

/* The text of each <tag>...</tag> element of xml, in order (a new array of strings). */
static json_t *xml_elements(const char *xml, const char *tag)
{
	json_t *out = json_array();
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *p = xml;
	while (p && (p = strstr(p, open)) != NULL) {
		const char *z = strstr(p, close);
		if (!z)
			break;
		json_array_append_new(out, json_stringn(p, (size_t)(z - p) + strlen(close)));
		p = z + strlen(close);
	}
	return out;
}

int pw__aws_s3_abort_uploads(pw_aws_ctx *c, const char *bucket, const char *key, int64_t since_ms,
                             json_t *aborted, pw_error **err)
{
	/* every page first, then the aborts: the listing's markers stay valid */
	json_t *ids = json_array();
	char *key_marker = NULL, *id_marker = NULL;
	char *ek = pw__http_escape(key);
	int rc = 0;
	for (int page = 0; rc == 0 && page < 1000; page++) {
		pw_buf q = PW_BUF_INIT(0);
		if (key_marker) {
			char *m = pw__http_escape(key_marker);
			pw__buf_printf(&q, "key-marker=%s&", m ? m : "");
			pw_free(m);
		}
		pw__buf_printf(&q, "prefix=%s", ek ? ek : "");
		if (id_marker) {
			char *m = pw__http_escape(id_marker);
			pw__buf_printf(&q, "&upload-id-marker=%s", m ? m : "");
			pw_free(m);
		}
		pw__buf_puts(&q, "&uploads=");
		pw_aws_req r = {.service = "s3",
		                .operation = "ListMultipartUploads",
		                .iam_action = "s3:ListBucketMultipartUploads",
		                .method = "GET",
		                .path = "/",
		                .query = pw__buf_cstr(&q),
		                .s3 = 1,
		                .bucket = bucket};
		pw_http_response resp;
		rc = pw__aws_call(&resp, c, &r, err);
		pw__buf_dispose(&q);
		pw_free(key_marker);
		pw_free(id_marker);
		key_marker = id_marker = NULL;
		if (rc < 0) {
			pw__http_response_dispose(&resp);
			if (rc == PW_ENOTFOUND) { /* NoSuchBucket: nothing of it is left */
				if (err) {
					pw_error_free(*err);
					*err = NULL;
				}
				rc = 0;
			}
			break;
		}
		json_t *ups = xml_elements(resp.body, "Upload");
		size_t i;
		json_t *u;
		json_array_foreach(ups, i, u)
		{
			char *k = pw__aws_xml_get(json_string_value(u), "Key");
			char *id = pw__aws_xml_get(json_string_value(u), "UploadId");
			char *at = pw__aws_xml_get(json_string_value(u), "Initiated");
			time_t t = pw__aws_parse_time(at);
			/* exactly this key (the prefix matches longer ones too), and not older than the
			 * journal record: an upload of the same key by an earlier run is not this one's */
			if (k && id && !strcmp(k, key) && (since_ms <= 0 || (int64_t)t * 1000 >= since_ms))
				json_array_append_new(ids, json_string(id));
			pw_free(k);
			pw_free(id);
			pw_free(at);
		}
		json_decref(ups);
		char *trunc = pw__aws_xml_get(resp.body, "IsTruncated");
		if (trunc && !strcmp(trunc, "true")) {
			key_marker = pw__aws_xml_get(resp.body, "NextKeyMarker");
			id_marker = pw__aws_xml_get(resp.body, "NextUploadIdMarker");
		}
		pw_free(trunc);
		pw__http_response_dispose(&resp);
		if (!key_marker)
			break;
	}
	pw_free(key_marker);
	pw_free(id_marker);
	pw_free(ek);
	char *path = object_path(key);
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
	{
		if (rc < 0)
			break;
		rc = abort_upload(c, bucket, path, json_string_value(id), err);
		char target[1200];
		snprintf(target, sizeof(target), "s3://%s/%s upload %s", bucket, key, json_string_value(id));
		pw_exec_audit(c->ex, "s3:AbortMultipartUpload", target, rc == 0 ? "ok" : "failed",
		              rc < 0 && err && *err ? pw_error_message(*err) : NULL);
		if (rc == 0 && aborted)
			json_array_append(aborted, id);
	}
	pw_free(path);
	json_decref(ids);
	return rc;
}

static int multipart(pw_aws_ctx *c, const char *bucket, const char *key, const char *file, long long size,
                     const char *ctype, long long part, pw_error **err)
{
	char *path = object_path(key);
	/* journaled before the upload exists: parts are billed until it is completed or aborted */
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	pw_aws_journal jb;
	memset(&jb, 0, sizeof(jb));
	pw_buf jname = PW_BUF_INIT(0);
	pw__buf_printf(&jname, "%s/%s", bucket, key);
	if (!c->plan) {
		const char *attrs[] = {"bucket", bucket, "key", key, NULL};
		pw__aws_journal_entry(&je, &jb, c, "s3", "s3-multipart", pw__buf_cstr(&jname), attrs);
		int jrc = pw__journal_created(c->ex, &je, err);
		if (jrc < 0) {
			pw__aws_journal_dispose(&jb);
			pw__buf_dispose(&jname);
			pw_free(path);
			return jrc;
		}
	}
	pw__buf_dispose(&jname);
	pw_aws_req r = {.service = "s3",
	                .operation = "CreateMultipartUpload",
	                .iam_action = "s3:PutObject",
	                .method = "POST",
	                .path = path,
	                .query = "uploads=",
	                .content_type = ctype,
	                .s3 = 1,
	                .bucket = bucket};
	pw_http_response resp;
	int64_t started_ms = pw__unix_ms();
	int rc = pw__aws_call(&resp, c, &r, err);
	char *upload_id = rc == 0 && !c->plan ? pw__aws_xml_get(resp.body, "UploadId") : NULL;
	pw__http_response_dispose(&resp);
	if (rc < 0) {
		if (err && *err && pw_error_response(*err)) {
			pw__journal_removed(c->ex, &je); /* S3 answered with an error: no upload */
		} else if (!c->plan) {
			/* no answer (cancelled, timed out): the upload may exist */
			int was = c->cleanup;
			c->cleanup = 1;
			if (pw__aws_s3_abort_uploads(c, bucket, key, started_ms - PW_AWS_CLOCK_SKEW_MS, NULL,
			                             NULL) == 0)
				pw__journal_removed(c->ex, &je);
			c->cleanup = was;
		}
		pw__aws_journal_dispose(&jb);
		pw_free(path);
		return rc;
	}
	if (c->plan) {
		pw__buf_printf(c->plan,
		               "# then: %lld parts of up to %lld bytes (PUT ?partNumber=N&uploadId=...), "
		               "then POST ?uploadId=... with the part list\n\n",
		               (size + part - 1) / part, part);
		pw_free(path);
		return 0;
	}
	if (!upload_id) {
		pw__journal_removed(c->ex, &je);
		pw__aws_journal_dispose(&jb);
		pw_free(path);
		return pw_error_set(err, PW_EEXTERNAL,
		                    "S3 CreateMultipartUpload answered without an UploadId");
	}
	char *eid = pw__http_escape(upload_id);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		rc = pw_error_set(err, PW_ECONFIG, "cannot open '%s'", file);
	pw_buf body = PW_BUF_INIT(0), done = PW_BUF_INIT(0), q = PW_BUF_INIT(0);
	pw__buf_puts(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	long long n = 0;
	for (long long off = 0; rc == 0 && off < size; off += part) {
		n++;
		long long len = size - off < part ? size - off : part;
		rc = read_range(&body, fd, off, len, file, err);
		if (rc < 0)
			break;
		pw__buf_clear(&q);
		pw__buf_printf(&q, "partNumber=%lld&uploadId=%s", n, eid);
		pw_aws_req pr = {.service = "s3",
		                 .operation = "UploadPart",
		                 .iam_action = "s3:PutObject",
		                 .method = "PUT",
		                 .path = path,
		                 .query = pw__buf_cstr(&q),
		                 .body = body.data,
		                 .body_len = body.len,
		                 .s3 = 1,
		                 .bucket = bucket};
		rc = pw__aws_call(&resp, c, &pr, err);
		const char *etag = rc == 0 ? pw__http_header_get(&resp, "etag") : NULL;
		if (rc == 0 && !etag)
			rc = pw_error_set(err, PW_EEXTERNAL,
			                  "S3 UploadPart %lld of %s answered without an ETag", n, key);
		if (rc == 0)
			pw__buf_printf(&done, "<Part><PartNumber>%lld</PartNumber><ETag>%s</ETag></Part>", n,
			               etag);
		pw__http_response_dispose(&resp);
	}
	if (fd >= 0)
		close(fd);
	pw__buf_puts(&done, "</CompleteMultipartUpload>");
	pw__buf_clear(&q);
	pw__buf_printf(&q, "uploadId=%s", eid);
	if (rc == 0) {
		pw_aws_req cr = {.service = "s3",
		                 .operation = "CompleteMultipartUpload",
		                 .iam_action = "s3:PutObject",
		                 .method = "POST",
		                 .path = path,
		                 .query = pw__buf_cstr(&q),
		                 .content_type = "application/xml",
		                 .body = done.data,
		                 .body_len = done.len,
		                 .s3 = 1,
		                 .bucket = bucket};
		rc = pw__aws_call(&resp, c, &cr, err);
		/* S3 may answer 200 with an <Error> body */
		char *m = rc == 0 ? pw__aws_s3_error_message(resp.body) : NULL;
		if (m)
			rc = pw_error_set(err, PW_EEXTERNAL, "S3 CompleteMultipartUpload of %s failed: %s",
			                  key, m);
		pw_free(m);
		pw__http_response_dispose(&resp);
	}
	if (rc == 0) {
		pw__journal_removed(c->ex, &je);
	} else {
		/* leave no half upload behind (they are billed until aborted), also when the step was
		 * cancelled or timed out: the abort goes out regardless */
		int was = c->cleanup;
		c->cleanup = 1;
		pw_error *ae = NULL;
		if (abort_upload(c, bucket, path, upload_id, &ae) == 0) {
			pw_exec_log(c->ex, PW_LOG_INFO, "aws", "aborted the multipart upload of %s", key);
			pw__journal_removed(c->ex, &je);
		} else {
			pw_exec_log(c->ex, PW_LOG_WARN, "aws",
			            "could not abort the multipart upload of %s (pipewright gc will): %s",
			            key, ae ? pw_error_message(ae) : "?");
		}
		pw_error_free(ae);
		c->cleanup = was;
	}
	pw__aws_journal_dispose(&jb);
	pw__buf_dispose(&body);
	pw__buf_dispose(&done);
	pw__buf_dispose(&q);
	pw_free(eid);
	pw_free(upload_id);
	pw_free(path);
	return rc;
}

static int upload(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	const char *bucket = pw__aws_param_str(c, "bucket");
	const char *key = pw__aws_param_str(c, "key");
	const char *prefix = pw__aws_param_str(c, "prefix");
	const char *ctype = pw__aws_param_str(c, "content_type");
	long long threshold = pw__aws_param_int(c, "multipart_threshold", DEFAULT_THRESHOLD);
	long long part = pw__aws_param_int(c, "part_size", DEFAULT_PART);
	if (part < MIN_PART || part > MAX_PART) {
		pw_error_set(err, PW_ECONFIG,
		             "parameters.part_size must be between 5 MiB and 512 MiB (S3's rule)");
		if (err && *err)
			pw_error_set_key(*err, "parameters.part_size");
		return PW_ECONFIG;
	}
	json_t *files = json_object_get(c->params, "files");
	json_t *list = json_is_string(files) ? json_pack("[O]", files) : json_incref(files);
	const char *root = c->ws ? pw_workspace_root(c->ws) : ".";
	size_t rootlen = strlen(root);
	int rc = 0;
	glob_t g;
	memset(&g, 0, sizeof(g));
	size_t i;
	json_t *pat;
	json_array_foreach(list, i, pat)
	{
		char *abs = NULL;
		rc = pw__aws_ws_path(&abs, c, json_string_value(pat), "files", err);
		if (rc < 0)
			break;
		size_t before = g.gl_pathc;
		int grc = glob(abs, i ? GLOB_APPEND : 0, NULL, &g);
		if (grc != 0 && grc != GLOB_NOMATCH)
			rc = pw_error_set(err, PW_EIO, "cannot expand '%s'", json_string_value(pat));
		else if (g.gl_pathc == before)
			rc = pw_error_set(err, PW_ECONFIG,
			                  "parameters.files: '%s' matches no file in the workspace",
			                  json_string_value(pat));
		pw_free(abs);
		if (rc < 0)
			break;
	}
	json_decref(list);
	size_t nfiles = 0;
	for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
		struct stat st;
		if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
			nfiles++;
	}
	if (rc == 0 && key && nfiles != 1)
		rc = pw_error_set(err, PW_ECONFIG,
		                  "parameters.key names one object, but parameters.files matches %zu files; "
		                  "use prefix",
		                  nfiles);
	if (rc == 0 && nfiles > MAX_FILES)
		rc = pw_error_set(err, PW_ECONFIG, "parameters.files matches %zu files (at most %d)", nfiles,
		                  MAX_FILES);
	size_t count = 0;
	long long bytes = 0;
	pw_buf keys = PW_BUF_INIT(0);
	for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
		const char *f = g.gl_pathv[i];
		struct stat st;
		if (stat(f, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		const char *rel = strncmp(f, root, rootlen) == 0 && f[rootlen] == '/' ? f + rootlen + 1 : f;
		pw_buf k = PW_BUF_INIT(0);
		if (key)
			pw__buf_puts(&k, key);
		else
			pw__buf_printf(&k, "%s%s%s", prefix ? prefix : "",
			               prefix && *prefix && prefix[strlen(prefix) - 1] != '/' ? "/" : "",
			               rel);
		const char *ct = ctype ? ctype : guess_type(f);
		long long size = (long long)st.st_size;
		rc = size > threshold ? multipart(c, bucket, pw__buf_cstr(&k), f, size, ct, part, err)
		                      : put_object(c, bucket, pw__buf_cstr(&k), f, size, ct, err);
		char target[1200];
		snprintf(target, sizeof(target), "s3://%s/%s", bucket, pw__buf_cstr(&k));
		if (!c->plan) {
			char detail[200];
			snprintf(detail, sizeof(detail), "%lld bytes, %s%s", size, ct,
			         size > threshold ? ", multipart" : "");
			pw_exec_audit(c->ex, "s3:PutObject", target, rc == 0 ? "ok" : "failed", detail);
			if (rc == 0)
				pw__aws_say(c, "uploaded %s (%lld bytes, %s)", target, size, ct);
		}
		pw__buf_printf(&keys, "%s%s", keys.len ? "," : "", pw__buf_cstr(&k));
		pw__buf_dispose(&k);
		count++;
		bytes += size;
	}
	globfree(&g);
	if (rc == 0 && !c->plan) {
		char n[64];
		*out = pw_result_success(NULL);
		snprintf(n, sizeof(n), "%zu", count);
		pw_result_with_metadata(*out, "objects", n);
		snprintf(n, sizeof(n), "%lld", bytes);
		pw_result_with_metadata(*out, "bytes", n);
		pw_result_with_metadata(*out, "keys", pw__buf_cstr(&keys));
		pw_exec_set_output(c->ex, "keys", pw__buf_cstr(&keys));
	}
	pw__buf_dispose(&keys);
	return rc;
}

static const pw_aws_param upload_params[] = {
    {"bucket", 's', 1, "the bucket name"},
    {"files", 'a', 1, "workspace files or globs (dist/*.js)"},
    {"key", 's', 0, "the object key, when files names one file"},
    {"prefix", 's', 0, "a key prefix; keys are prefix + the path relative to the workspace"},
    {"content_type", 's', 0, "the Content-Type (default: guessed from the extension)"},
    {"multipart_threshold", 'i', 0, "files larger than this many bytes go up in parts (default 16 MiB)"},
    {"part_size", 'i', 0, "bytes per part, 5 MiB to 512 MiB (default 8 MiB)"},
    {NULL, 0, 0, NULL}};

const pw_aws_action pw__aws_s3_actions[] = {
    {"s3", "upload", upload_params, upload,
     "s3:PutObject (+ s3:AbortMultipartUpload, s3:ListBucketMultipartUploads for multipart)",
     "upload workspace files"},
    {NULL, NULL, NULL, NULL, NULL, NULL}};
