/* Loading a finished run for reporting (result.json and the step logs of a run directory),
 * run history, the pipeline's `reports:` section, and writing a rendered report to a file.
 * The renderers are in report_render.c. */
#define _GNU_SOURCE /* mkostemp */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/internal.h"
#include "pipeline/pipeline.h"
#include "pipeline/report_int.h"
#include "pipewright/report.h"

#define RESULT_MAX_BYTES (64u * 1024 * 1024)

const char *pw_report_format_name(pw_report_format f)
{
	switch (f) {
	case PW_REPORT_JUNIT:
		return "junit";
	case PW_REPORT_JSON:
		return "json";
	case PW_REPORT_HTML:
		return "html";
	}
	return NULL;
}

int pw_report_format_parse(pw_report_format *out, const char *name, pw_error **err)
{
	static const pw_report_format all[] = {PW_REPORT_JUNIT, PW_REPORT_JSON, PW_REPORT_HTML};
	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, pw_report_format_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	int rc = pw_error_set(err, PW_EINVAL, "unknown report format '%s'", name ? name : "");
	if (err && *err)
		pw_error_set_hint(*err, "the report formats are junit, json and html");
	return rc;
}

/* Reads a whole file, keeping only its last `keep` bytes when it is longer (0: fail with
 * PW_EIO beyond RESULT_MAX_BYTES instead). *total gets the file's size. */
static int read_file(char **out, size_t *len, size_t *total, const char *path, size_t keep, pw_error **err)
{
	*out = NULL;
	FILE *f = fopen(path, "rbe");
	if (!f)
		return pw_error_set(err, errno == ENOENT ? PW_ENOTFOUND : PW_EIO, "fopen(\"%s\"): %s", path,
		                    strerror(errno));
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0) {
		fclose(f);
		return pw_error_set(err, PW_EIO, "fstat(\"%s\"): %s", path, strerror(errno));
	}
	size_t size = (size_t)sb.st_size;
	if (total)
		*total = size;
	if (!keep && size > RESULT_MAX_BYTES) {
		fclose(f);
		return pw_error_set(err, PW_EIO, "%s is larger than %u bytes", path, RESULT_MAX_BYTES);
	}
	if (keep && size > keep) {
		fseeko(f, (off_t)(size - keep), SEEK_SET);
		size = keep;
	}
	char *data = malloc(size + 1);
	if (!data) {
		fclose(f);
		return PW_ENOMEM;
	}
	size_t n = fread(data, 1, size, f);
	fclose(f);
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

static char *mask_copy(const pw_secrets *secrets, const char *text, size_t len, size_t *out_len)
{
	size_t n = 0;
	char *m = pw__secrets_mask_len(secrets, text, len, &n);
	if (m && out_len)
		*out_len = n; /* not strlen: a step's output may hold NUL bytes */
	return m;
}

void pw_report_free(pw_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->count; i++)
		pw_free(rep->steps[i].log);
	free(rep->steps);
	json_decref(rep->root);
	free(rep->dir);
	free(rep);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* A log file name result.json gives must stay inside the run directory. */
static int safe_log_name(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static int load_logs(pw_report *rep, const pw_secrets *secrets, pw_error **err)
{
	for (size_t i = 0; i < rep->count; i++) {
		pw_report_step *s = &rep->steps[i];
		const char *name = json_string_value(json_object_get(s->json, "log"));
		if (!safe_log_name(name))
			continue;
		pw_buf path = PW_BUF_INIT(0);
		pw__buf_printf(&path, "%s/%s", rep->dir, name);
		char *raw = NULL;
		size_t len = 0, total = 0;
		pw_error *e = NULL;
		int rc = read_file(&raw, &len, &total, pw__buf_cstr(&path), PW__REPORT_LOG_KEEP, &e);
		pw__buf_dispose(&path);
		if (rc == PW_ENOTFOUND) {
			pw_error_free(e);
			continue;
		}
		if (rc < 0) {
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return rc;
		}
		s->log_total = total;
		s->log_truncated = total > len;
		s->log = mask_copy(secrets, raw, len, &s->log_len);
		free(raw);
		if (!s->log)
			return PW_ENOMEM;
	}
	return 0;
}

int pw_report_from_dir(pw_report **out, const char *run_dir, const pw_secrets *secrets, pw_error **err)
{
	*out = NULL;
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "%s/result.json", run_dir);
	char *raw = NULL;
	size_t len = 0;
	int rc = read_file(&raw, &len, NULL, pw__buf_cstr(&path), 0, err);
	if (rc < 0) {
		if (rc == PW_ENOTFOUND && err && *err)
			pw_error_set_hint(*err, "a run directory has result.json once its run has finished; "
			                        "`pipewright runs` lists the finished runs");
		pw__buf_dispose(&path);
		return rc;
	}
	char *masked = mask_copy(secrets, raw, len, NULL);
	free(raw);
	if (!masked) {
		pw__buf_dispose(&path);
		return PW_ENOMEM;
	}
	json_error_t je;
	json_t *root = json_loads(masked, 0, &je);
	pw_free(masked);
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "steps"))) {
		rc = pw_error_set(err, PW_EIO, "%s:%d: not a pipewright result: %s", pw__buf_cstr(&path),
		                  je.line, root ? "no steps" : je.text);
		json_decref(root);
		pw__buf_dispose(&path);
		return rc;
	}
	pw__buf_dispose(&path);
	pw_report *rep = calloc(1, sizeof(*rep));
	if (!rep) {
		json_decref(root);
		return PW_ENOMEM;
	}
	rep->root = root;
	rep->dir = strdup(run_dir);
	json_t *steps = json_object_get(root, "steps");
	rep->count = json_array_size(steps);
	rep->steps = calloc(rep->count ? rep->count : 1, sizeof(pw_report_step));
	if (!rep->dir || !rep->steps) {
		pw_report_free(rep);
		return PW_ENOMEM;
	}
	for (size_t i = 0; i < rep->count; i++) {
		pw_report_step *s = &rep->steps[i];
		s->json = json_array_get(steps, i);
		if (!json_is_object(s->json)) {
			pw_report_free(rep);
			return pw_error_set(err, PW_EIO, "%s/result.json: step %zu is not an object", run_dir,
			                    i);
		}
	}
	pw__report_compute_times(rep);
	rc = load_logs(rep, secrets, err);
	if (rc < 0) {
		pw_report_free(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

int pw_report_from_run(pw_report **out, const pw_run *r, pw_error **err)
{
	return pw_report_from_dir(out, pw_run_dir(r), pw__run_secrets(r), err);
}

static int mkparents(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* The process's umask, read without changing it (umask() would, for every thread, until set
 * back): /proc/self/status "Umask:", else the usual 022. */
static mode_t process_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned int mask = 022;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &mask) == 1)
			break;
	if (f)
		fclose(f);
	return (mode_t)(mask & 0777);
}

/* Writes len bytes of text to fd and closes it: 0, or the errno of the failure. */
static int write_all_close(int fd, const char *text, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	int werr = done == len ? 0 : errno ? errno : EIO;
	if (close(fd) != 0 && !werr && errno != EINTR)
		werr = errno;
	return werr;
}

/* Writes text into the existing path (opened, truncated when it is a file). */
static int write_into(const char *path, const char *text, size_t len, pw_error **err)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return pw_error_set(err, PW_EIO, "cannot open %s: %s", path, strerror(errno));
	int werr = write_all_close(fd, text, len);
	return werr ? pw_error_set(err, PW_EIO, "write(\"%s\"): %s", path, strerror(werr)) : 0;
}

int pw_report_write(const pw_report *rep, pw_report_format f, const char *path, pw_error **err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = pw_report_render(&text, &len, rep, f, err);
	if (rc < 0)
		return rc;
	if (mkparents(path) != 0) {
		pw_free(text);
		return pw_error_set(err, PW_EIO, "cannot create the directory of %s: %s", path,
		                    strerror(errno));
	}
	struct stat st, lst;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		pw_free(text);
		return pw_error_set(err, PW_EINVAL, "cannot write the report to %s: it is a directory", path);
	}
	if (lstat(path, &lst) == 0 && !S_ISREG(lst.st_mode)) {
		/* /dev/stdout, /dev/null, a pipe, a link someone placed: written into, never
		 * replaced (a rename over /dev/null would make it a file) */
		rc = write_into(path, text, len, err);
		pw_free(text);
		return rc;
	}
	/* a new file of our own beside the target (never one that is there, nor a link), then
	 * renamed over it: readers see the old report or the new one whole */
	pw_buf tmp = PW_BUF_INIT(0);
	pw__buf_printf(&tmp, "%s.XXXXXX", path);
	int fd = mkostemp(tmp.data, O_CLOEXEC);
	if (fd < 0) {
		rc = pw_error_set(err, PW_EIO, "cannot create a file beside %s: %s", path, strerror(errno));
	} else {
		/* mkostemp makes it 0600; a report is for reading, as a file open() creates is */
		fchmod(fd, 0666 & ~process_umask());
		int werr = write_all_close(fd, text, len);
		if (werr)
			rc = pw_error_set(err, PW_EIO, "write(\"%s\"): %s", pw__buf_cstr(&tmp),
			                  strerror(werr));
		else if (rename(pw__buf_cstr(&tmp), path) != 0)
			rc = pw_error_set(err, PW_EIO, "rename(\"%s\", \"%s\"): %s", pw__buf_cstr(&tmp), path,
			                  strerror(errno));
		if (rc < 0)
			unlink(pw__buf_cstr(&tmp));
	}
	pw__buf_dispose(&tmp);
	pw_free(text);
	return rc;
}

const char *pw_report_run_id(const pw_report *rep)
{
	return jstr(rep->root, "run_id");
}

const char *pw_report_run_dir(const pw_report *rep)
{
	return rep->dir;
}

const char *pw_report_pipeline_name(const pw_report *rep)
{
	return jstr(rep->root, "pipeline");
}

const char *pw_report_status(const pw_report *rep)
{
	return jstr(rep->root, "status");
}

const char *pw_report_started_at(const pw_report *rep)
{
	return jstr(rep->root, "started_at");
}

int64_t pw_report_duration_ms(const pw_report *rep)
{
	return rep->total_ms;
}

size_t pw_report_step_count(const pw_report *rep)
{
	return rep->count;
}

const char *pw_report_step_name(const pw_report *rep, size_t i)
{
	return i < rep->count ? jstr(rep->steps[i].json, "name") : NULL;
}

const char *pw_report_step_status(const pw_report *rep, size_t i)
{
	return i < rep->count ? jstr(rep->steps[i].json, "status") : NULL;
}

int pw__report_step_allowed(json_t *step)
{
	return !strcmp(jstr(step, "status"), "allowed_failure") ||
	       json_is_true(json_object_get(step, "allowed"));
}

int pw_report_step_allowed(const pw_report *rep, size_t i)
{
	return i < rep->count && pw__report_step_allowed(rep->steps[i].json);
}

int64_t pw_report_step_duration_ms(const pw_report *rep, size_t i)
{
	return i < rep->count ? rep->steps[i].duration_ms : 0;
}

int pw_report_step_log(char **out, size_t *out_len, const pw_report *rep, size_t i, pw_error **err)
{
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (i >= rep->count)
		return pw_error_set(err, PW_EINVAL, "step %zu is out of range (%zu steps)", i, rep->count);
	const pw_report_step *s = &rep->steps[i];
	if (!s->log)
		return 0;
	*out = pw_malloc(s->log_len + 1);
	if (!*out)
		return PW_ENOMEM;
	memcpy(*out, s->log, s->log_len + 1);
	if (out_len)
		*out_len = s->log_len;
	return 0;
}

typedef struct run_entry {
	char *id;
	char *started_at;
} run_entry;

static int cmp_runs(const void *a, const void *b)
{
	const run_entry *x = a, *y = b;
	int c = strcmp(x->started_at, y->started_at);
	return c ? c : strcmp(x->id, y->id);
}

/* The run's start time from result.json, "" when unreadable. Caller frees. */
static char *started_at_of(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL);
	const char *s = json_string_value(json_object_get(root, "started_at"));
	char *copy = strdup(s ? s : "");
	json_decref(root);
	return copy;
}

int pw_report_list_runs(char ***out, const char *workspace, pw_error **err)
{
	*out = NULL;
	pw_buf dir = PW_BUF_INIT(0);
	pw__buf_printf(&dir, "%s/.pipewright/runs", workspace);
	DIR *d = opendir(pw__buf_cstr(&dir));
	run_entry *list = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	if (!d && errno != ENOENT)
		rc = pw_error_set(err, PW_EIO, "opendir(\"%s\"): %s", pw__buf_cstr(&dir), strerror(errno));
	for (struct dirent *de = d ? readdir(d) : NULL; de && rc == 0; de = readdir(d)) {
		if (de->d_name[0] == '.')
			continue;
		pw_buf path = PW_BUF_INIT(0);
		pw__buf_printf(&path, "%s/%s/result.json", pw__buf_cstr(&dir), de->d_name);
		if (access(pw__buf_cstr(&path), R_OK) == 0) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				run_entry *nl = realloc(list, ncap * sizeof(*nl));
				if (!nl)
					rc = PW_ENOMEM;
				else {
					list = nl;
					cap = ncap;
				}
			}
			if (rc == 0) {
				list[n].id = strdup(de->d_name);
				list[n].started_at = started_at_of(pw__buf_cstr(&path));
				n++;
				if (!list[n - 1].id || !list[n - 1].started_at)
					rc = PW_ENOMEM;
			}
		}
		pw__buf_dispose(&path);
	}
	if (d)
		closedir(d);
	pw__buf_dispose(&dir);
	char **ids = NULL;
	if (rc == 0) {
		qsort(list, n, sizeof(*list), cmp_runs);
		ids = pw_calloc(n + 1, sizeof(char *));
		if (!ids)
			rc = PW_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids) {
			ids[i] = list[i].id;
		} else {
			free(list[i].id);
		}
		free(list[i].started_at);
	}
	free(list);
	if (rc < 0)
		return rc;
	*out = ids;
	return 0;
}

void pw_report_targets_free(pw_report_target *targets, size_t count)
{
	for (size_t i = 0; targets && i < count; i++)
		free(targets[i].path);
	free(targets);
}

int pw_report_targets_from_pipeline(pw_report_target **out, size_t *count, const pw_pipeline *p,
                                    const char *base, pw_error **err)
{
	*out = NULL;
	*count = 0;
	json_t *sec = p->sections ? json_object_get(p->sections, "reports") : NULL;
	if (!sec)
		return 0;
	if (!base)
		base = p->dir;
	size_t n = json_object_size(sec);
	pw_report_target *t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return PW_ENOMEM;
	size_t k = 0;
	int rc = 0;
	const char *key;
	json_t *v;
	json_object_foreach(sec, key, v)
	{
		pw_report_format f;
		const char *path = json_string_value(v);
		if (pw_report_format_parse(&f, key, NULL) < 0) {
			rc = pw_error_set(err, PW_EVALIDATION, "%s: reports: unknown report format '%s'",
			                  p->path, key);
			if (err && *err)
				pw_error_set_hint(
				    *err, "write `junit:`, `json:` or `html:` followed by a file path");
			break;
		}
		if (!path || !*path) {
			rc = pw_error_set(err, PW_EVALIDATION, "%s: reports: %s must be a file path", p->path,
			                  key);
			if (err && *err)
				pw_error_set_hint(*err,
				                  "give a file path, for example `junit: reports/junit.xml`");
			break;
		}
		pw_buf b = PW_BUF_INIT(0);
		if (path[0] == '/')
			pw__buf_puts(&b, path);
		else
			pw__buf_printf(&b, "%s/%s", base, path);
		t[k].format = f;
		t[k].path = pw__buf_detach(&b);
		k++;
	}
	if (rc < 0) {
		pw_report_targets_free(t, k);
		return rc;
	}
	*out = t;
	*count = k;
	return 0;
}
