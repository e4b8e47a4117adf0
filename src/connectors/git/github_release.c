/* Releases: create-or-get that also sees drafts, create as a draft, upload assets (retried,
 * replaced when asked, each verified as uploaded), publish last; upload-asset to an existing
 * release. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "connectors/git/github.h"
#include "core/step.h"
#include "net/json.h"

#define BODY_MAX ((size_t)125000) /* GitHub's limit for a release body */
#define MAX_ASSETS 1000
#define UPLOAD_TRIES 3

typedef struct asset_file {
	char *path; /* absolute */
	char *name;
	char *label;
	const char *ctype;
	long long size;
	/* after the upload */
	long long id;
	char *url;
} asset_file;

typedef struct asset_set {
	asset_file *v;
	size_t n;
} asset_set;

static void assets_dispose(asset_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		pw_free(s->v[i].path);
		pw_free(s->v[i].name);
		pw_free(s->v[i].label);
		pw_free(s->v[i].url);
	}
	pw_free(s->v);
	s->v = NULL;
	s->n = 0;
}

static const struct {
	const char *ext;
	const char *type;
} ctypes[] = {
    {".tar.gz", "application/gzip"},
    {".tgz", "application/gzip"},
    {".gz", "application/gzip"},
    {".zip", "application/zip"},
    {".tar", "application/x-tar"},
    {".xz", "application/x-xz"},
    {".bz2", "application/x-bzip2"},
    {".zst", "application/zstd"},
    {".json", "application/json"},
    {".txt", "text/plain"},
    {".md", "text/markdown"},
    {".sha256", "text/plain"},
    {".sha512", "text/plain"},
    {".sig", "application/pgp-signature"},
    {".asc", "application/pgp-signature"},
    {".deb", "application/vnd.debian.binary-package"},
    {".rpm", "application/x-rpm"},
    {".exe", "application/vnd.microsoft.portable-executable"},
    {".msi", "application/x-msi"},
    {".dmg", "application/x-apple-diskimage"},
    {".apk", "application/vnd.android.package-archive"},
    {".jar", "application/java-archive"},
    {".pdf", "application/pdf"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".html", "text/html"},
    {".yaml", "application/yaml"},
    {".yml", "application/yaml"},
};

static const char *content_type_of(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++) {
		size_t l = strlen(ctypes[i].ext);
		if (n > l && strcmp(name + n - l, ctypes[i].ext) == 0)
			return ctypes[i].type;
	}
	return "application/octet-stream";
}

/* Escapes glob metacharacters of a literal path prefix. */
static void glob_escape(pw_buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("*?[]\\", *s))
			pw__buf_putc(b, '\\');
		pw__buf_putc(b, *s);
	}
}

static int asset_err(pw_gh *g, pw_error **err, const char *key, const char *hint, const char *msg,
                     const char *what)
{
	pw_error *e = pw_error_new(PW_ECONFIG, "step '%s': config key '%s': %s '%s'", pw_step_name(g->step),
	                           key, msg, what);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_ECONFIG;
}

/* Expands `assets` (globs in the workspace, or {path, name, label, content_type}). */
static int collect_assets(asset_set *out, pw_gh *g, pw_error **err)
{
	json_t *list = json_object_get(g->cfg, "assets");
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a)
	{
		char key[48];
		snprintf(key, sizeof(key), "assets.%zu", i);
		const char *pattern =
		    json_is_string(a) ? json_string_value(a) : pw__json_get_string(a, "path");
		const char *name = json_is_object(a) ? pw__json_get_string(a, "name") : NULL;
		const char *label = json_is_object(a) ? pw__json_get_string(a, "label") : NULL;
		const char *ctype = json_is_object(a) ? pw__json_get_string(a, "content_type") : NULL;
		pw_buf pat = PW_BUF_INIT(0);
		glob_escape(&pat, pw_workspace_root(g->ws));
		pw__buf_printf(&pat, "/%s", pattern);
		glob_t gl;
		memset(&gl, 0, sizeof(gl));
		int grc = glob(pw__buf_cstr(&pat), GLOB_ERR, NULL, &gl);
		pw__buf_dispose(&pat);
		size_t files = 0;
		for (size_t k = 0; grc == 0 && k < gl.gl_pathc; k++) {
			struct stat st;
			if (stat(gl.gl_pathv[k], &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (out->n >= MAX_ASSETS) {
				globfree(&gl);
				return asset_err(g, err, key, NULL, "more than 1000 files match", pattern);
			}
			asset_file *nv = pw_realloc(out->v, (out->n + 1) * sizeof(*nv));
			if (!nv) {
				globfree(&gl);
				return PW_ENOMEM;
			}
			out->v = nv;
			asset_file *f = &out->v[out->n++];
			memset(f, 0, sizeof(*f));
			f->path = pw_strdup(gl.gl_pathv[k]);
			const char *base = strrchr(gl.gl_pathv[k], '/');
			f->name = pw_strdup(name ? name : base ? base + 1 : gl.gl_pathv[k]);
			f->label = label ? pw_strdup(label) : NULL;
			f->ctype = ctype ? ctype : content_type_of(f->name);
			f->size = (long long)st.st_size;
			files++;
		}
		if (grc == 0)
			globfree(&gl);
		if (files == 0)
			return asset_err(g, err, key, "assets are paths or globs relative to the workspace",
			                 "no file matches", pattern);
		if (name && files > 1)
			return asset_err(g, err, key, "drop `name` or make the path match a single file",
			                 "`name` is set but several files match", pattern);
	}
	for (size_t x = 0; x < out->n; x++)
		for (size_t y = x + 1; y < out->n; y++)
			if (strcmp(out->v[x].name, out->v[y].name) == 0)
				return asset_err(g, err, "assets", "give one of them another `name`",
				                 "two assets would have the same name", out->v[x].name);
	return 0;
}

/* make_latest as GitHub wants it: "true", "false" or "legacy". */
static const char *make_latest(const pw_gh *g)
{
	json_t *v = json_object_get(g->cfg, "make_latest");
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return json_string_value(v);
}

json_t *pw__gh_release_body(const pw_gh *g, const char *body_text, int draft)
{
	json_t *o = json_object();
	json_object_set_new(o, "tag_name", json_string(pw__gh_str(g, "tag")));
	const char *s = pw__gh_str(g, "target_commitish");
	if (s)
		json_object_set_new(o, "target_commitish", json_string(s));
	s = pw__gh_str(g, "name");
	if (s)
		json_object_set_new(o, "name", json_string(s));
	if (body_text)
		json_object_set_new(o, "body", json_string(body_text));
	json_object_set_new(o, "draft", json_boolean(draft));
	if (json_object_get(g->cfg, "prerelease"))
		json_object_set_new(o, "prerelease", json_boolean(pw__gh_bool(g, "prerelease", 0)));
	if (json_object_get(g->cfg, "generate_release_notes"))
		json_object_set_new(o, "generate_release_notes",
		                    json_boolean(pw__gh_bool(g, "generate_release_notes", 0)));
	if (!draft && make_latest(g))
		json_object_set_new(o, "make_latest", json_string(make_latest(g)));
	return o;
}

/* The fields an update changes on an existing release (draft state is left to the publish). */
static json_t *update_body(const pw_gh *g, const char *body_text)
{
	json_t *o = json_object();
	const char *s = pw__gh_str(g, "name");
	if (s)
		json_object_set_new(o, "name", json_string(s));
	if (body_text)
		json_object_set_new(o, "body", json_string(body_text));
	s = pw__gh_str(g, "target_commitish");
	if (s)
		json_object_set_new(o, "target_commitish", json_string(s));
	if (json_object_get(g->cfg, "prerelease"))
		json_object_set_new(o, "prerelease", json_boolean(pw__gh_bool(g, "prerelease", 0)));
	return o;
}

static int body_text(char **out, pw_gh *g, pw_error **err)
{
	*out = NULL;
	const char *bf = pw__gh_str(g, "body_file");
	if (bf)
		return pw__gh_read_file(out, g, "body_file", bf, BODY_MAX, err);
	const char *b = pw__gh_str(g, "body");
	if (b) {
		*out = pw_strdup(b);
		return *out ? 0 : PW_ENOMEM;
	}
	return 0;
}

typedef struct find_ctx {
	const char *tag;
	json_t *found; /* the oldest (lowest id) release with the tag */
	int all;       /* look at every page (to see duplicates) */
} find_ctx;

static int find_tag(json_t *item, void *payload)
{
	find_ctx *c = payload;
	const char *t = pw__json_get_string(item, "tag_name");
	if (!t || strcmp(t, c->tag) != 0)
		return 0;
	long long id = 0, best = 0;
	pw__json_get_int(&id, item, "id");
	if (c->found)
		pw__json_get_int(&best, c->found, "id");
	if (!c->found || id < best) {
		json_decref(c->found);
		c->found = json_incref(item);
	}
	return c->all ? 0 : 1;
}

/* The release with the tag, drafts included (the tag endpoint does not show drafts). */
static int find_release(json_t **out, pw_gh *g, const char *tag, int all, pw_error **err)
{
	*out = NULL;
	char *et = pw__http_escape(tag);
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases/tags/%s", g->repo_path, et);
	pw_free(et);
	int rc = 0;
	if (!all) {
		pw_gh_resp r;
		pw_gh_req q = {
		    .method = "GET", .url = pw__buf_cstr(&p), .what = "look up the release by tag"};
		pw_error *e = NULL;
		rc = pw__gh_call(&r, g, &q, &e);
		if (rc == 0 && json_is_object(r.json)) {
			*out = json_incref(r.json);
		} else if (r.status == 404) {
			rc = 0;
		} else if (e) {
			if (err && !*err) {
				*err = e;
				e = NULL;
			}
		}
		pw_error_free(e);
		pw__gh_resp_dispose(&r);
		if (rc < 0 || *out) {
			pw__buf_dispose(&p);
			return rc;
		}
	}
	pw__buf_clear(&p);
	pw__buf_printf(&p, "%s/releases?per_page=100", g->repo_path);
	find_ctx c = {tag, NULL, all};
	/* a twin made in parallel is among the newest releases: the first page holds them */
	rc = pw__gh_each(g, pw__buf_cstr(&p), "list the releases (to find drafts)", all ? 1 : 0, find_tag, &c,
	                 err);
	pw__buf_dispose(&p);
	if (rc < 0) {
		json_decref(c.found);
		return rc;
	}
	*out = c.found;
	return 0;
}

static long long json_id(const json_t *o)
{
	long long id = 0;
	pw__json_get_int(&id, o, "id");
	return id;
}

char *pw__gh_upload_url(const json_t *rel)
{
	const char *t = pw__json_get_string(rel, "upload_url");
	if (!t || (strncmp(t, "https://", 8) != 0 && strncmp(t, "http://", 7) != 0))
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_append(&b, t, strcspn(t, "{"));
	return pw__buf_detach(&b);
}

/* The host of an http(s) URL (without userinfo and port) into out; "" when there is none. */
static void url_host(char *out, size_t cap, const char *url)
{
	out[0] = '\0';
	const char *s = url ? strstr(url, "://") : NULL;
	if (!s)
		return;
	s += 3;
	size_t n = strcspn(s, "/?#");
	const char *at = memchr(s, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	size_t h = s[0] == '[' ? strcspn(s, "]") + 1 : strcspn(s, ":/?#");
	if (h > n)
		h = n;
	snprintf(out, cap, "%.*s", (int)(h < cap ? h : cap - 1), s);
}

int pw__gh_upload_host_ok(const char *api, const char *upload)
{
	char ah[256], uh[256];
	url_host(ah, sizeof(ah), api);
	url_host(uh, sizeof(uh), upload);
	if (!uh[0] || strchr(upload, '@'))
		return 0;
	/* github.com's uploads host; GitHub Enterprise Server serves uploads on its own host */
	if (strcasecmp(ah, "api.github.com") == 0)
		return strcasecmp(uh, "uploads.github.com") == 0 && strncmp(upload, "https://", 8) == 0;
	return strcasecmp(ah, uh) == 0 &&
	       (strncmp(upload, "https://", 8) == 0 || strncmp(api, "http://", 7) == 0);
}

/* The upload base for a release: the override, else the release's upload_url template when it
 * is on GitHub's upload host for the configured API (the token goes nowhere else). */
static char *upload_base(pw_gh *g, const json_t *rel, pw_error **err)
{
	char *u = g->uploads ? NULL : pw__gh_upload_url(rel);
	if (u && !pw__gh_upload_host_ok(g->api, u)) {
		char host[256];
		url_host(host, sizeof(host), u);
		pw_error *e =
		    pw_error_new(PW_EEXTERNAL,
		                 "the release's upload_url is on '%s', not GitHub's upload host for %s; "
		                 "not sending the token there",
		                 host, g->api);
		pw_error_set_key(e, "upload_url");
		pw_error_set_hint(e,
		                  "if that host is really your GitHub's upload host, set `upload_url` in the "
		                  "step's config");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		pw_free(u);
		return NULL;
	}
	if (u)
		return u;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "%s%s/releases/%lld/assets", g->uploads ? g->uploads : PW_GH_DEFAULT_UPLOADS,
	               g->repo_path, json_id(rel));
	return pw__buf_detach(&b);
}

static int collect(json_t *item, void *payload)
{
	json_array_append(payload, item);
	return 0;
}

static int list_assets(json_t **out, pw_gh *g, long long rel_id, pw_error **err)
{
	*out = json_array();
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases/%lld/assets?per_page=100", g->repo_path, rel_id);
	int rc = pw__gh_each(g, pw__buf_cstr(&p), "list the release's assets", 0, collect, *out, err);
	pw__buf_dispose(&p);
	return rc;
}

static json_t *asset_named(json_t *list, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a)
	{
		const char *n = pw__json_get_string(a, "name");
		if (n && strcmp(n, name) == 0)
			return a;
	}
	return NULL;
}

static int delete_asset(pw_gh *g, const json_t *asset, const char *why, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	long long id = json_id(asset);
	pw__buf_printf(&p, "%s/releases/assets/%lld", g->repo_path, id);
	pw_gh_resp r;
	pw_gh_req q = {.method = "DELETE", .url = pw__buf_cstr(&p), .what = "delete a release asset"};
	int rc = pw__gh_call(&r, g, &q, err);
	pw__gh_resp_dispose(&r);
	pw__buf_dispose(&p);
	const char *name = pw__json_get_string(asset, "name");
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "asset %s (%lld)", name ? name : "?", id);
	pw__gh_audit(g, "delete-asset", pw__buf_cstr(&t), rc == 0 ? "ok" : "failed", why);
	pw__buf_dispose(&t);
	return rc;
}

static int upload_one(pw_gh *g, long long rel_id, const char *base, asset_file *f, json_t *existing,
                      int overwrite, pw_error **err)
{
	json_t *old = asset_named(existing, f->name);
	if (old) {
		const char *state = pw__json_get_string(old, "state");
		int complete = state && strcmp(state, "uploaded") == 0;
		if (complete && !overwrite) {
			pw_error *e =
			    pw_error_new(PW_EEXISTS, "the release already has an asset named '%s'", f->name);
			pw_error_set_key(e, "assets");
			pw_error_set_hint(
			    e, "set `overwrite: true` to replace it, or give the file another `name`");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return PW_EEXISTS;
		}
		int rc = delete_asset(g, old,
		                      complete ? "replaced (overwrite: true)" : "an incomplete upload", err);
		if (rc < 0)
			return rc;
	}
	char *en = pw__http_escape(f->name);
	pw_buf u = PW_BUF_INIT(0);
	pw__buf_printf(&u, "%s?name=%s", base, en);
	pw_free(en);
	if (f->label) {
		char *el = pw__http_escape(f->label);
		pw__buf_printf(&u, "&label=%s", el);
		pw_free(el);
	}
	pw_gh_upload up = {f->path, f->size, f->ctype};
	int rc = 0;
	for (int t = 0; t < UPLOAD_TRIES; t++) {
		pw_gh_resp r;
		pw_gh_req q = {.method = "POST",
		               .url = pw__buf_cstr(&u),
		               .file = &up,
		               .retry_post = 1,
		               .what = "upload a release asset"};
		pw_error *e = NULL;
		rc = pw__gh_call(&r, g, &q, &e);
		if (rc == 0) {
			const char *state = pw__json_get_string(r.json, "state");
			if (!state || strcmp(state, "uploaded") != 0) {
				rc = pw_error_set(err, PW_EEXTERNAL,
				                  "GitHub did not finish the upload of '%s' (state '%s')",
				                  f->name, state ? state : "none");
			} else {
				f->id = json_id(r.json);
				const char *dl = pw__json_get_string(r.json, "browser_download_url");
				f->url = dl ? pw_strdup(dl) : NULL;
			}
			pw__gh_resp_dispose(&r);
			break;
		}
		pw__gh_resp_dispose(&r);
		if (rc != PW_EEXISTS) {
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			break;
		}
		/* an earlier attempt reached GitHub: keep it when it completed, else start over */
		pw_error_free(e);
		json_t *now = NULL;
		rc = list_assets(&now, g, rel_id, err);
		json_t *a = rc == 0 ? asset_named(now, f->name) : NULL;
		if (a) {
			const char *state = pw__json_get_string(a, "state");
			long long size = -1;
			pw__json_get_int(&size, a, "size");
			if (state && strcmp(state, "uploaded") == 0 && size == f->size) {
				f->id = json_id(a);
				const char *dl = pw__json_get_string(a, "browser_download_url");
				f->url = dl ? pw_strdup(dl) : NULL;
				json_decref(now);
				rc = 0;
				break;
			}
			rc = delete_asset(g, a, "an incomplete upload", err);
		}
		json_decref(now);
		if (rc < 0)
			break;
		rc = PW_EEXISTS;
	}
	if (rc == PW_EEXISTS)
		rc = pw_error_set(err, PW_EEXTERNAL,
		                  "cannot upload '%s': GitHub keeps answering that it exists", f->name);
	pw__buf_dispose(&u);
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "release %lld asset %s", rel_id, f->name);
	char detail[96];
	snprintf(detail, sizeof(detail), "%lld bytes, %s", f->size, f->ctype);
	pw__gh_audit(g, "upload-asset", pw__buf_cstr(&t), rc == 0 ? "ok" : "failed", detail);
	pw__buf_dispose(&t);
	if (rc == 0)
		pw__gh_say(g, "uploaded %s (%lld bytes, %s)", f->name, f->size, f->ctype);
	return rc;
}

/* Uploads every asset to the release, then checks each is there, complete, with its size. */
static int upload_all(pw_gh *g, const json_t *rel, asset_set *as, pw_error **err)
{
	if (as->n == 0)
		return 0;
	long long id = json_id(rel);
	json_t *existing = NULL;
	int rc = list_assets(&existing, g, id, err);
	char *base = rc == 0 ? upload_base(g, rel, err) : NULL;
	if (rc == 0 && !base)
		rc = err && *err ? pw_error_code(*err) : PW_ENOMEM;
	int overwrite = pw__gh_bool(g, "overwrite", 0);
	for (size_t i = 0; rc == 0 && i < as->n; i++)
		rc = upload_one(g, id, base, &as->v[i], existing, overwrite, err);
	pw_free(base);
	json_decref(existing);
	existing = NULL;
	if (rc == 0)
		rc = list_assets(&existing, g, id, err);
	for (size_t i = 0; rc == 0 && i < as->n; i++) {
		json_t *a = asset_named(existing, as->v[i].name);
		const char *state = pw__json_get_string(a, "state");
		long long size = -1;
		pw__json_get_int(&size, a, "size");
		if (!a || !state || strcmp(state, "uploaded") != 0 || size != as->v[i].size)
			rc = pw_error_set(
			    err, PW_EEXTERNAL,
			    "asset '%s' is not complete on the release after its upload (state %s, "
			    "%lld of %lld bytes)",
			    as->v[i].name, state ? state : "missing", size, as->v[i].size);
	}
	json_decref(existing);
	if (rc == 0) {
		pw_buf urls = PW_BUF_INIT(0);
		for (size_t i = 0; i < as->n; i++)
			if (as->v[i].url)
				pw__buf_printf(&urls, "%s%s", urls.len ? " " : "", as->v[i].url);
		pw__gh_meta(g, "asset_urls", pw__buf_cstr(&urls));
		pw__gh_meta_int(g, "asset_count", (long long)as->n);
		pw__buf_dispose(&urls);
	}
	return rc;
}

static void release_meta(pw_gh *g, const json_t *rel)
{
	pw__gh_meta_int(g, "release_id", json_id(rel));
	pw__gh_meta(g, "html_url", pw__json_get_string(rel, "html_url"));
	pw__gh_meta(g, "upload_url", pw__json_get_string(rel, "upload_url"));
	pw__gh_meta(g, "tag", pw__json_get_string(rel, "tag_name"));
	pw__gh_meta(g, "draft", pw__json_get_bool(rel, "draft", 0) ? "true" : "false");
}

static int patch_release(json_t **out, pw_gh *g, long long id, json_t *body, const char *what, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases/%lld", g->repo_path, id);
	pw_gh_resp r;
	pw_gh_req q = {.method = "PATCH", .url = pw__buf_cstr(&p), .body = body, .what = what};
	int rc = pw__gh_call(&r, g, &q, err);
	if (rc == 0 && out)
		*out = json_incref(r.json);
	pw__gh_resp_dispose(&r);
	pw__buf_dispose(&p);
	return rc;
}

static int delete_release(pw_gh *g, long long id, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases/%lld", g->repo_path, id);
	pw_gh_resp r;
	pw_gh_req q = {
	    .method = "DELETE", .url = pw__buf_cstr(&p), .what = "delete a duplicate draft release"};
	int rc = pw__gh_call(&r, g, &q, err);
	pw__gh_resp_dispose(&r);
	pw__buf_dispose(&p);
	char t[64];
	snprintf(t, sizeof(t), "release %lld", id);
	pw__gh_audit(g, "delete-release", t, rc == 0 ? "ok" : "failed",
	             "a duplicate draft made by a parallel run; the older release is used");
	return rc;
}

static int exists_error(pw_gh *g, const json_t *rel, pw_error **err)
{
	int draft = pw__json_get_bool(rel, "draft", 0);
	pw_error *e = pw_error_new(PW_EEXISTS, "a %srelease for tag '%s' already exists in %s (id %lld)",
	                           draft ? "draft " : "", pw__gh_str(g, "tag"), g->repository, json_id(rel));
	pw_error_set_key(e, "on_exists");
	pw_error_set_hint(e, draft ? "set `on_exists: update` to finish this draft (assets, publish), or "
	                             "delete it on GitHub"
	                           : "set `on_exists: update` to update it, `on_exists: skip` to leave it");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_EEXISTS;
}

/* Creates the release as a draft when assets follow (or as asked otherwise). When a parallel run
 * made a draft for the same tag at the same time, the older one wins and ours is deleted:
 * *rel is then the older release and *created 0. */
static int create(json_t **rel, int *created, pw_gh *g, const char *text, int as_draft, pw_error **err)
{
	*created = 0;
	json_t *body = pw__gh_release_body(g, text, as_draft);
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases", g->repo_path);
	pw_gh_resp r;
	pw_gh_req q = {.method = "POST", .url = pw__buf_cstr(&p), .body = body, .what = "create the release"};
	pw_error *e = NULL;
	const char *tag = pw__gh_str(g, "tag");
	json_t *made = NULL;
	int rc;
	for (int attempt = 0;; attempt++) {
		rc = pw__gh_call(&r, g, &q, &e);
		if (rc == 0 && json_id(r.json) <= 0) {
			pw_error_free(e);
			e = pw_error_new(PW_EEXTERNAL,
			                 "cannot create the release in %s: GitHub's answer is not a release "
			                 "(malformed JSON or no id)",
			                 g->repository);
			pw_error_set_hint(e, "the release may have been created: look at the repository's "
			                     "releases before running the step again");
			rc = PW_EEXTERNAL;
			break;
		}
		/* a reset, a cut answer or 500/502/504: the release may exist now. It is never created
		 * twice: look for it first, and ask again only when it is not there. */
		int unsure = rc == PW_EIO ||
		             (rc == PW_EEXTERNAL && (r.status == 500 || r.status == 502 || r.status == 504));
		if (!unsure || attempt >= 3)
			break;
		pw_error *fe = NULL;
		if (find_release(&made, g, tag, 1, &fe) < 0 || made) {
			pw_error_free(fe);
			if (made) {
				pw__gh_say(
				    g,
				    "creating release %s failed (%s) but GitHub has it: using release %lld",
				    tag, pw_error_message(e), json_id(made));
				pw_error_free(e);
				e = NULL;
				rc = 0;
			}
			break;
		}
		pw__gh_say(g, "creating release %s failed (%s) and GitHub does not have it: asking again",
		           tag, pw_error_message(e));
		if (pw_exec_sleep(g->ex, 200LL << attempt) < 0)
			break;
		pw_error_free(e);
		e = NULL;
		pw__gh_resp_dispose(&r);
	}
	json_decref(body);
	pw__buf_dispose(&p);
	if (rc == PW_EEXISTS) {
		/* published in the meantime by someone else: treat it as existing */
		pw_error_free(e);
		pw__gh_resp_dispose(&r);
		rc = find_release(rel, g, tag, 0, err);
		if (rc == 0 && !*rel)
			rc = pw_error_set(err, PW_EEXTERNAL,
			                  "GitHub says a release for tag '%s' exists but does not show it",
			                  tag);
		return rc;
	}
	if (rc < 0) {
		pw__gh_resp_dispose(&r);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		pw__gh_audit(g, "create-release", tag, "failed", NULL);
		return rc;
	}
	*rel = made ? made : json_incref(r.json);
	pw__gh_resp_dispose(&r);
	*created = 1;
	long long id = json_id(*rel);
	char detail[64];
	snprintf(detail, sizeof(detail), "release %lld%s", id, as_draft ? " (draft)" : "");
	pw__gh_audit(g, "create-release", tag, "ok", detail);
	if (!as_draft)
		return 0;
	/* drafts do not reserve the tag: look for a twin made in parallel */
	json_t *oldest = NULL;
	rc = find_release(&oldest, g, tag, 1, err);
	if (rc == 0 && oldest && json_id(oldest) < id) {
		pw__gh_say(g, "another run created a draft for %s at the same time: using release %lld", tag,
		           json_id(oldest));
		rc = delete_release(g, id, err);
		json_decref(*rel);
		*rel = oldest;
		oldest = NULL;
		*created = 0;
	}
	json_decref(oldest);
	return rc;
}

int pw__gh_create_release(pw_gh *g, pw_error **err)
{
	const char *tag = pw__gh_str(g, "tag");
	const char *on_exists = pw__gh_str(g, "on_exists");
	if (!on_exists)
		on_exists = "fail";
	int want_draft = pw__gh_bool(g, "draft", 0);
	asset_set as = {0};
	char *text = NULL;
	json_t *rel = NULL;
	int rc = collect_assets(&as, g, err);
	if (rc == 0)
		rc = body_text(&text, g, err);
	if (rc == 0)
		rc = find_release(&rel, g, tag, 0, err);
	if (rc < 0)
		goto out;
	int created = 0;
	if (!rel) {
		rc = create(&rel, &created, g, text, want_draft || as.n > 0, err);
		if (rc < 0)
			goto out;
	}
	if (!created) {
		if (strcmp(on_exists, "skip") == 0) {
			pw__gh_say(g, "release %s exists (id %lld): skipped", tag, json_id(rel));
			pw__gh_meta(g, "skipped", "true");
			release_meta(g, rel);
			goto out;
		}
		if (strcmp(on_exists, "update") != 0) {
			rc = exists_error(g, rel, err);
			goto out;
		}
		json_t *ub = update_body(g, text);
		if (json_object_size(ub)) {
			json_t *upd = NULL;
			rc = patch_release(&upd, g, json_id(rel), ub, "update the release", err);
			pw__gh_audit(g, "update-release", tag, rc == 0 ? "ok" : "failed", NULL);
			if (rc == 0) {
				json_decref(rel);
				rel = upd;
			}
		}
		json_decref(ub);
		if (rc < 0)
			goto out;
		pw__gh_say(g, "updating release %s (id %lld%s)", tag, json_id(rel),
		           pw__json_get_bool(rel, "draft", 0) ? ", draft" : "");
	} else {
		pw__gh_say(g, "created release %s (id %lld%s)", tag, json_id(rel),
		           pw__json_get_bool(rel, "draft", 0) ? ", draft" : "");
	}
	rc = upload_all(g, rel, &as, err);
	if (rc < 0)
		goto out;
	if (!want_draft && pw__json_get_bool(rel, "draft", 0)) {
		json_t *pb = json_object();
		json_object_set_new(pb, "draft", json_false());
		if (make_latest(g))
			json_object_set_new(pb, "make_latest", json_string(make_latest(g)));
		json_t *pub = NULL;
		rc = patch_release(&pub, g, json_id(rel), pb, "publish the release", err);
		json_decref(pb);
		pw__gh_audit(g, "publish-release", tag, rc == 0 ? "ok" : "failed", NULL);
		if (rc < 0)
			goto out;
		json_decref(rel);
		rel = pub;
		pw__gh_say(g, "published %s",
		           pw__json_get_string(rel, "html_url") ? pw__json_get_string(rel, "html_url") : tag);
	}
	release_meta(g, rel);
out:
	json_decref(rel);
	pw_free(text);
	assets_dispose(&as);
	return rc;
}

int pw__gh_upload_asset(pw_gh *g, pw_error **err)
{
	const char *tag = pw__gh_str(g, "tag");
	asset_set as = {0};
	json_t *rel = NULL;
	int rc = collect_assets(&as, g, err);
	if (rc == 0)
		rc = find_release(&rel, g, tag, 0, err);
	if (rc == 0 && !rel) {
		pw_error *e = pw_error_new(PW_ENOTFOUND, "no release for tag '%s' in %s (drafts included)",
		                           tag, g->repository);
		pw_error_set_key(e, "tag");
		pw_error_set_hint(e, "create it first (action: create-release), or check the tag");
		rc = PW_ENOTFOUND;
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
	}
	if (rc == 0)
		rc = upload_all(g, rel, &as, err);
	if (rc == 0)
		release_meta(g, rel);
	json_decref(rel);
	assets_dispose(&as);
	return rc;
}

/* Plans of the two release actions: the requests in order, with placeholders for ids. */
void pw__gh_plan_release(pw_gh *g);
void pw__gh_plan_release(pw_gh *g)
{
	const char *tag = pw__gh_str(g, "tag");
	char *et = pw__http_escape(tag ? tag : "");
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/releases/tags/%s", g->repo_path, et);
	pw_free(et);
	pw__gh_plan_request(g, "GET", pw__buf_cstr(&p), NULL, "find a published release with the tag");
	pw__buf_clear(&p);
	pw__buf_printf(&p, "%s/releases?per_page=100", g->repo_path);
	pw__gh_plan_request(g, "GET", pw__buf_cstr(&p), NULL,
	                    "find a draft with the tag (following Link rel=\"next\")");
	asset_set as = {0};
	pw_error *e = NULL;
	int assets_ok = collect_assets(&as, g, &e) == 0;
	int has_assets = json_array_size(json_object_get(g->cfg, "assets")) > 0;
	int create_release = strcmp(g->action, "create-release") == 0;
	int want_draft = pw__gh_bool(g, "draft", 0);
	if (create_release) {
		char *text = NULL;
		pw_error *be = NULL;
		if (body_text(&text, g, &be) < 0)
			text = pw_strdup("<body_file cannot be read>");
		pw_error_free(be);
		json_t *body = pw__gh_release_body(g, text, want_draft || has_assets);
		pw__buf_clear(&p);
		pw__buf_printf(&p, "%s/releases", g->repo_path);
		const char *oe = pw__gh_str(g, "on_exists");
		pw_buf note = PW_BUF_INIT(0);
		pw__buf_printf(&note, "when no release has the tag; otherwise on_exists: %s",
		               oe ? oe : "fail");
		pw__gh_plan_request(g, "POST", pw__buf_cstr(&p), body, pw__buf_cstr(&note));
		pw__buf_dispose(&note);
		json_decref(body);
		pw_free(text);
	}
	for (size_t i = 0; assets_ok && i < as.n; i++) {
		char *en = pw__http_escape(as.v[i].name);
		pw__buf_clear(&p);
		pw__buf_printf(&p, "%s%s/releases/{release_id}/assets?name=%s",
		               g->uploads ? g->uploads : PW_GH_DEFAULT_UPLOADS, g->repo_path, en);
		pw_free(en);
		pw_buf note = PW_BUF_INIT(0);
		pw__buf_printf(&note, "%s: %lld bytes, Content-Type: %s%s", as.v[i].path, as.v[i].size,
		               as.v[i].ctype,
		               pw__gh_bool(g, "overwrite", 0) ? "; a same-named asset is deleted first" : "");
		pw__gh_plan_request(g, "POST", pw__buf_cstr(&p), NULL, pw__buf_cstr(&note));
		pw__buf_dispose(&note);
	}
	if (!assets_ok)
		pw__buf_printf(&g->plan, "# assets: %s\n", pw_error_message(e));
	pw_error_free(e);
	if (create_release && has_assets && !want_draft) {
		json_t *pb = json_object();
		json_object_set_new(pb, "draft", json_false());
		if (make_latest(g))
			json_object_set_new(pb, "make_latest", json_string(make_latest(g)));
		pw__buf_clear(&p);
		pw__buf_printf(&p, "%s/releases/{release_id}", g->repo_path);
		pw__gh_plan_request(g, "PATCH", pw__buf_cstr(&p), pb, "publish once every asset is uploaded");
		json_decref(pb);
	}
	pw__buf_dispose(&p);
	assets_dispose(&as);
}
