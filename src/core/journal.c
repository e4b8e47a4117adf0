/* The resource journal: append-only JSON lines, fsync'd (see journal.h). */
#include "core/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/internal.h"
#include "pipewright/secrets.h"
#include "pipewright/sys/connector.h"

static json_t *pairs_json(const char *const *kv, const pw_secrets *s)
{
	json_t *o = json_object();
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
		char *m = s ? pw_secrets_mask_str(s, kv[i + 1]) : NULL;
		json_object_set_new(o, kv[i], json_string(m ? m : kv[i + 1]));
		free(m);
	}
	return o;
}

static void set_str(json_t *o, const char *k, const char *v, const pw_secrets *s)
{
	if (!v)
		return;
	char *m = s ? pw_secrets_mask_str(s, v) : NULL;
	json_object_set_new(o, k, json_string(m ? m : v));
	free(m);
}

static void stamp(json_t *o)
{
	int64_t ms = pw__unix_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char at[64];
	snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	json_object_set_new(o, "at", json_string(at));
	json_object_set_new(o, "ts_ms", json_integer(ms));
}

static int write_line(const char *path, json_t *rec, pw_error **err)
{
	char *text = json_dumps(rec, JSON_COMPACT);
	if (!text)
		return pw_error_set(err, PW_ENOMEM, "out of memory writing the resource journal");
	size_t n = strlen(text);
	text[n] = '\n'; /* replaces the NUL; n + 1 bytes written in one write() */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0) {
		rc = pw_error_set(err, PW_EIO, "cannot open the resource journal %s: %s", path,
		                  strerror(errno));
	} else {
		/* after a crash mid-write the file ends in a torn line: start on a new one */
		struct stat sb;
		char last = '\n';
		if (fstat(fd, &sb) == 0 && sb.st_size > 0 && pread(fd, &last, 1, sb.st_size - 1) == 1 &&
		    last != '\n' && write(fd, "\n", 1) != 1)
			last = '\n';
		ssize_t w = write(fd, text, n + 1);
		if (w != (ssize_t)(n + 1))
			rc = pw_error_set(err, PW_EIO, "cannot write the resource journal %s: %s", path,
			                  w < 0 ? strerror(errno) : "short write");
		else if (fsync(fd) != 0)
			rc = pw_error_set(err, PW_EIO, "cannot fsync the resource journal %s: %s", path,
			                  strerror(errno));
		close(fd);
	}
	free(text);
	return rc;
}

static json_t *record(const char *run_id, const char *step, const char *event, const pw_journal_entry *e,
                      const pw_secrets *s)
{
	json_t *o = json_object();
	stamp(o);
	json_object_set_new(o, "event", json_string(event));
	set_str(o, "run_id", run_id ? run_id : "", s);
	set_str(o, "step", step ? step : "", s);
	set_str(o, "connector", e->connector ? e->connector : "", s);
	set_str(o, "kind", e->kind ? e->kind : "", s);
	set_str(o, "name", e->name ? e->name : "", s);
	set_str(o, "address", e->address ? e->address : "", s);
	set_str(o, "scope", e->scope, s);
	if (e->labels)
		json_object_set_new(o, "labels", pairs_json(e->labels, s));
	if (e->attrs)
		json_object_set_new(o, "attrs", pairs_json(e->attrs, s));
	return o;
}

int pw__journal_append(const char *path, const char *run_id, const char *step, const char *event,
                       const pw_journal_entry *e, pw_error **err)
{
	if (!path || !e)
		return 0;
	json_t *o = record(run_id, step, event, e, NULL);
	int rc = write_line(path, o, err);
	json_decref(o);
	return rc;
}

int pw__journal_created(pw_exec *ex, const pw_journal_entry *e, pw_error **err)
{
	const char *path = pw__exec_journal(ex);
	if (!path || !e)
		return 0;
	json_t *o = record(pw_exec_run_id(ex), pw_exec_step_name(ex), "created", e, pw_exec_secrets(ex));
	int rc = write_line(path, o, err);
	json_decref(o);
	return rc;
}

void pw__journal_removed(pw_exec *ex, const pw_journal_entry *e)
{
	const char *path = pw__exec_journal(ex);
	if (!path || !e)
		return;
	json_t *o = record(pw_exec_run_id(ex), pw_exec_step_name(ex), "removed", e, pw_exec_secrets(ex));
	pw_error *er = NULL;
	if (write_line(path, o, &er) < 0)
		pw_exec_log(ex, PW_LOG_WARN, "journal", "%s", pw_error_message(er));
	pw_error_free(er);
	json_decref(o);
}

/* The public form (sys/connector.h): the connector's type names the records. */
static int entry_of(pw_journal_entry *je, const pw_connector *c, const pw_journal_object *o, pw_error **err)
{
	if (!c || !o || !o->kind || !*o->kind || !o->name || !*o->name)
		return pw_error_set(err, PW_EINVAL,
		                    "a journal record needs the connector and the object's kind and name");
	je->connector = pw_connector_type(c);
	je->kind = o->kind;
	je->name = o->name;
	je->address = o->address ? o->address : "";
	je->scope = o->scope;
	je->attrs = o->attrs;
	return 0;
}

int pw_exec_journal_created(pw_exec *ex, const pw_connector *c, const pw_journal_object *o, pw_error **err)
{
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	int rc = entry_of(&je, c, o, err);
	return rc < 0 ? rc : pw__journal_created(ex, &je, err);
}

void pw_exec_journal_removed(pw_exec *ex, const pw_connector *c, const pw_journal_object *o)
{
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	if (entry_of(&je, c, o, NULL) == 0)
		pw__journal_removed(ex, &je);
}

int pw__journal_mark_removed(const char *path, const json_t *created, const char *by, pw_error **err)
{
	json_t *o = json_deep_copy(created);
	if (!o)
		return pw_error_set(err, PW_ENOMEM, "out of memory");
	stamp(o);
	json_object_set_new(o, "event", json_string("removed"));
	if (by)
		json_object_set_new(o, "by", json_string(by));
	int rc = write_line(path, o, err);
	json_decref(o);
	return rc;
}

static void key_of(pw_buf *b, const json_t *r)
{
	static const char *const parts[] = {"connector", "kind", "address", "scope", "name"};
	pw__buf_clear(b);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *v = json_string_value(json_object_get(r, parts[i]));
		pw__buf_puts(b, v ? v : "");
		pw__buf_putc(b, '\x1f');
	}
}

#define JOURNAL_MAX_BYTES (64u << 20)

int pw__journal_pending(json_t **out, const char *path, pw_error **err)
{
	*out = NULL;
	FILE *f = fopen(path, "re");
	json_t *created = json_array();
	if (!created)
		return PW_ENOMEM;
	if (!f) {
		if (errno == ENOENT) {
			*out = created;
			return 0;
		}
		json_decref(created);
		return pw_error_set(err, PW_EIO, "cannot read the resource journal %s: %s", path,
		                    strerror(errno));
	}
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;
	pw_buf k = PW_BUF_INIT(0), k2 = PW_BUF_INIT(0);
	while ((n = getline(&line, &cap, f)) > 0 && total < JOURNAL_MAX_BYTES) {
		total += (size_t)n;
		if (line[n - 1] != '\n')
			break; /* torn last line */
		json_t *r = json_loadb(line, (size_t)n, 0, NULL);
		const char *ev = json_string_value(json_object_get(r, "event"));
		if (ev && !strcmp(ev, "created")) {
			json_array_append(created, r);
		} else if (ev && !strcmp(ev, "removed")) {
			key_of(&k, r);
			/* the latest matching create is the one removed */
			for (size_t i = json_array_size(created); i-- > 0;) {
				key_of(&k2, json_array_get(created, i));
				if (!strcmp(pw__buf_cstr(&k), pw__buf_cstr(&k2))) {
					json_array_remove(created, i);
					break;
				}
			}
		}
		json_decref(r);
	}
	free(line);
	fclose(f);
	pw__buf_dispose(&k);
	pw__buf_dispose(&k2);
	*out = created;
	return 0;
}
