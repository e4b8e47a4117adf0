/* Executable connectors: custom:NAME served by a program pipewright-connector-NAME (on PATH
 * or the step's connector_path) speaking the versioned JSON protocol of docs/plugins.md:
 * verb as argv[1], request on stdin, output on stdout/stderr, result on fd 3. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/plugin/plugin.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/internal.h"
#include "core/journal.h"
#include "core/step.h"
#include "proc/proc.h"

#define RESULT_FD 3
#define ERR_TAIL_MAX 4096
#define AUX_TIMEOUT_MS 60000 /* validate and plan */
#define AUX_KILL_GRACE_MS 2000
#define DEFAULT_KILL_GRACE_MS 10000

static _Thread_local int hide_listing;

void pw__exec_factory_hide_listing(int hide)
{
	hide_listing = hide;
}

typedef struct exec_impl {
	pw_manager *manager; /* borrowed: it owns the connector */
	char name[128];      /* NAME of custom:NAME */
	char program[160];   /* pipewright-connector-NAME */
	char type[136];      /* custom:NAME */
} exec_impl;

static const char *host_path(void)
{
	const char *p = getenv("PATH");
	return p && *p ? p : PW_PROC_DEFAULT_PATH;
}

/* Stores a new error with operation and optional key/hint/response. */
static int put(pw_error **err, int code, const char *key, const char *hint, const char *response,
               const char *fmt, ...) PW_PRINTF(6, 7);

static int put(pw_error **err, int code, const char *key, const char *hint, const char *response,
               const char *fmt, ...)
{
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(code, "%s", pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	if (e) {
		if (key)
			pw_error_set_key(e, key);
		if (hint)
			pw_error_set_hint(e, hint);
		if (response && *response)
			pw_error_set_response(e, response);
	}
	if (err && !*err)
		*err = e;
	else if (err && *err)
		pw_error_append(*err, e);
	else
		pw_error_free(e);
	return code;
}

/* The directory of the pipeline file that defined the step, or NULL. Caller frees. */
static char *step_dir(const pw_step *step)
{
	const char *f = pw_step_file(step);
	if (!f)
		return NULL;
	const char *slash = strrchr(f, '/');
	if (!slash)
		return strdup(".");
	return strndup(f, (size_t)(slash - f) + (slash == f ? 1 : 0));
}

/* The program for this step: config connector_path (relative to the pipeline file's
 * directory), else pipewright-connector-NAME on the host's PATH. Caller frees. */
static int find_program(char **out, const exec_impl *x, const pw_step *step, pw_error **err)
{
	*out = NULL;
	json_t *cp = pw__step_config_get(step, "connector_path");
	if (cp) {
		if (!json_is_string(cp) || !*json_string_value(cp))
			return put(err, PW_ECONFIG, "connector_path",
			           "the path of the connector program, e.g. ./tools/" PW_EXEC_PROGRAM_PREFIX
			           "x",
			           NULL, "connector_path must be a non-empty string");
		const char *p = json_string_value(cp);
		pw_buf b = PW_BUF_INIT(PATH_MAX * 2);
		char *dir = p[0] == '/' ? NULL : step_dir(step);
		if (dir && strcmp(dir, ".") != 0) /* "." + "./bin/x" would read ././bin/x */
			pw__buf_printf(&b, "%s/", dir);
		free(dir);
		pw__buf_puts(&b, p);
		const char *full = pw__buf_cstr(&b);
		struct stat st;
		int have = stat(full, &st) == 0;
		const char *why = !have                     ? strerror(errno)
		                  : !S_ISREG(st.st_mode)    ? "not a regular file"
		                  : access(full, X_OK) != 0 ? "not executable"
		                                            : NULL;
		if (why) {
			int code = have ? PW_EPERM : PW_ENOTFOUND;
			put(err, code, "connector_path",
			    have ? "make it an executable file (chmod +x)"
			         : "fix the path (a relative path starts at the pipeline file's directory)",
			    NULL, "connector program '%s' for custom:%s cannot be run: %s", full, x->name,
			    why);
			pw__buf_dispose(&b);
			return code;
		}
		/* absolute (symbolic links kept: argv[0] is the name given): the program runs in
		 * the workspace (validate: the pipeline file's directory), and its journal records
		 * name it for gc, which runs from elsewhere */
		char cwd[PATH_MAX];
		if (full[0] != '/' && getcwd(cwd, sizeof(cwd))) {
			pw_buf a = PW_BUF_INIT(0);
			pw__buf_printf(&a, "%s/%s", cwd, full);
			pw__buf_dispose(&b);
			b = a;
		}
		*out = pw__buf_detach(&b);
		return *out ? 0 : PW_ENOMEM;
	}
	pw_error *pe = NULL;
	int rc = pw__proc_find_program(out, x->program, host_path(), &pe);
	if (rc == 0)
		return 0;
	if (rc == PW_EPERM) {
		/* found on pipewright's own PATH (not a step's): say so */
		pw_error_set_hint(pe, "make it executable (chmod +x), or take it out of pipewright's "
		                      "PATH");
		if (err && !*err)
			*err = pe;
		else
			pw_error_free(pe);
		return rc;
	}
	pw_error_free(pe);
	pw_buf h = PW_BUF_INIT(0);
	pw__buf_printf(
	    &h,
	    "load a plug-in that provides it (--plugin FILE or PIPEWRIGHT_PLUGIN_PATH), install an "
	    "executable "
	    "'%s' in a directory of PATH, or set `connector_path:` in the step's config (docs/plugins.md)",
	    x->program);
	put(err, PW_ENOTFOUND, NULL, pw__buf_cstr(&h), NULL,
	    "no connector is registered for 'custom:%s', and no program '%s' is on PATH (%s)", x->name,
	    x->program, host_path());
	pw__buf_dispose(&h);
	return PW_ENOTFOUND;
}

static json_t *map_json(const pw_map *m)
{
	json_t *o = json_object();
	for (size_t i = 0; m && i < pw_map_count(m); i++)
		json_object_set_new(o, pw_map_key_at(m, i), json_string(pw_map_value_at(m, i)));
	return o;
}

/* The request of docs/plugins.md as compact JSON. Caller frees. */
static char *build_request(const exec_impl *x, const char *verb, const pw_step *step, const pw_workspace *ws,
                           const pw_map *env, pw_exec *ex)
{
	json_t *r = json_object();
	json_object_set_new(r, "protocol", json_integer(PW_EXEC_PROTOCOL_VERSION));
	json_object_set_new(r, "verb", json_string(verb));
	json_object_set_new(r, "connector", json_string(x->type));
	json_object_set_new(r, "step", json_string(pw_step_name(step)));
	json_t *cfg = json_loads(pw_step_config_json(step), 0, NULL);
	json_object_set_new(r, "config", cfg ? cfg : json_object());
	json_object_set_new(r, "environment", map_json(env ? env : pw_step_env_const(step)));
	json_object_set_new(r, "workspace", ws ? json_string(pw_workspace_root(ws)) : json_null());
	const char *run_id = ws ? pw_workspace_run_id(ws) : "";
	if ((!run_id || !*run_id) && ex && pw_exec_run_id(ex))
		run_id = pw_exec_run_id(ex);
	json_object_set_new(r, "run_id", json_string(run_id ? run_id : ""));
	const char *run_dir = ws ? pw_workspace_run_dir(ws) : NULL;
	json_object_set_new(r, "run_dir", run_dir ? json_string(run_dir) : json_null());
	json_object_set_new(r, "timeout_seconds", json_real(pw_step_timeout(step)));
	int64_t left = ex ? pw_exec_remaining_ms(ex) : -1;
	json_object_set_new(r, "deadline_unix_ms",
	                    left >= 0 ? json_integer(pw__unix_ms() + left) : json_null());
	char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	return s;
}

static void set_if_host(pw_map *m, const char *name)
{
	const char *v = getenv(name);
	if (v)
		pw_map_set(m, name, v);
}

/* What every call's environment starts with: the host's PATH, HOME and locale. */
static pw_map *host_env(void)
{
	pw_map *m = pw_map_new();
	if (!m)
		return NULL;
	pw_map_set(m, "PATH", host_path());
	const char *home = getenv("HOME");
	pw_map_set(m, "HOME", home && *home ? home : "/");
	set_if_host(m, "TMPDIR");
	set_if_host(m, "LANG");
	set_if_host(m, "LC_ALL");
	return m;
}

/* The protocol's variables of every verb. */
static void protocol_env(pw_map *m, const char *name, const char *verb)
{
	char proto[16];
	snprintf(proto, sizeof(proto), "%d", PW_EXEC_PROTOCOL_VERSION);
	pw_map_set(m, "PIPEWRIGHT_PROTOCOL", proto);
	pw_map_set(m, "PIPEWRIGHT_VERB", verb);
	pw_map_set(m, "PIPEWRIGHT_CONNECTOR", name);
}

/* The program's environment: the host's PATH, HOME and locale, the step's environment,
 * then the PIPEWRIGHT_* variables of the protocol. */
static char **build_envp(const exec_impl *x, const char *verb, const pw_step *step, const pw_workspace *ws,
                         const pw_map *env)
{
	pw_map *m = host_env();
	if (!m)
		return NULL;
	pw_map_merge(m, env ? env : pw_step_env_const(step));
	protocol_env(m, x->name, verb);
	pw_map_set(m, "PIPEWRIGHT_STEP", pw_step_name(step));
	if (ws) {
		pw_map_set(m, "PIPEWRIGHT_WORKSPACE", pw_workspace_root(ws));
		pw_map_set(m, "PIPEWRIGHT_RUN_ID", pw_workspace_run_id(ws));
	}
	char **envp = pw__proc_envp_from_map(m);
	pw_map_free(m);
	return envp;
}

typedef struct out_ctx {
	pw_exec *ex;  /* execute: output goes to the step */
	pw_buf *tail; /* validate/plan: kept for error messages */
} out_ctx;

static void on_output(int stream, const char *data, size_t len, void *payload)
{
	out_ctx *o = payload;
	if (o->ex) {
		pw_exec_output(o->ex, stream == PW_PROC_STDERR ? PW_STREAM_STDERR : PW_STREAM_STDOUT, data,
		               len);
		return;
	}
	if (o->tail->len + 1 >= o->tail->max)
		return;
	size_t room = o->tail->max - 1 - o->tail->len;
	pw__buf_append(o->tail, data, len < room ? len : room);
}

/* ---- fd 3 of execute: the result, and journal requests answered on the same socket ----
 *
 * Before the program creates something outside the process it writes a request object with a
 * "journal" member on fd 3 and reads one line back: {"ok": true} once the record is on disk,
 * or {"ok": false, "error": "..."} (then it must not create). The stream is read as it comes,
 * on a thread of its own: the leading requests are answered and taken out, and the first other
 * value, the result, and everything after it are kept as the result (checked as before). */

/* The attribute under which the program's path is kept in its records, for gc. */
#define PROGRAM_ATTR "pipewright.program"
#define MAX_ATTRS 32

typedef pw_exec_channel channel;

static void reply(channel *ch, json_t *answer)
{
	char *text = json_dumps(answer, JSON_COMPACT);
	json_decref(answer);
	if (!text)
		return;
	size_t n = strlen(text), off = 0;
	text[n++] = '\n'; /* replaces the NUL */
	while (off < n) {
		/* MSG_NOSIGNAL: a program that is gone must not take us with it (SIGPIPE) */
		ssize_t w = send(ch->fd, text + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(text);
}

static json_t *refusal(const char *fmt, ...) PW_PRINTF(1, 2);
static json_t *refusal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* One journal request: recorded (and fsync'd) or refused, and answered. */
static void journal_request(channel *ch, json_t *req)
{
	const char *event = json_string_value(json_object_get(req, "journal"));
	json_t *kind = json_object_get(req, "kind"), *name = json_object_get(req, "name");
	json_t *address = json_object_get(req, "address"), *scope = json_object_get(req, "scope");
	json_t *attrs = json_object_get(req, "attrs");
	int created = event && !strcmp(event, "created");
	if (!created && !(event && !strcmp(event, "removed"))) {
		reply(ch, refusal("\"journal\" is \"created\" or \"removed\", not %s",
		                  event ? event : "a string"));
		return;
	}
	if (!json_is_string(kind) || !*json_string_value(kind) || !json_is_string(name) ||
	    !*json_string_value(name)) {
		reply(ch, refusal("a journal request names the object: \"kind\" and \"name\" (non-empty "
		                  "strings)"));
		return;
	}
	if ((address && !json_is_string(address) && !json_is_null(address)) ||
	    (scope && !json_is_string(scope) && !json_is_null(scope)) ||
	    (attrs && !json_is_object(attrs) && !json_is_null(attrs))) {
		reply(ch, refusal("\"address\" and \"scope\" are strings, \"attrs\" an object of strings"));
		return;
	}
	const char *kv[2 * MAX_ATTRS + 3];
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(attrs, k, v)
	{
		if (!json_is_string(v) || !strcmp(k, PROGRAM_ATTR) || n >= 2 * MAX_ATTRS) {
			reply(ch, refusal("attrs: at most %d, each a string, none named %s (attribute '%s')",
			                  MAX_ATTRS, PROGRAM_ATTR, k));
			return;
		}
		kv[n++] = k;
		kv[n++] = json_string_value(v);
	}
	kv[n++] = PROGRAM_ATTR;
	kv[n++] = ch->program;
	kv[n] = NULL;
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	je.connector = ch->connector;
	je.kind = json_string_value(kind);
	je.name = json_string_value(name);
	je.address = json_is_string(address) ? json_string_value(address) : "";
	je.scope = json_is_string(scope) ? json_string_value(scope) : NULL;
	je.attrs = kv;
	pw_error *e = NULL;
	if (created && pw__journal_created(ch->ex, &je, &e) < 0) {
		reply(ch, refusal("%s", pw_error_message(e)));
		pw_error_free(e);
		return;
	}
	if (!created)
		pw__journal_removed(ch->ex, &je);
	pw_exec_log(ch->ex, PW_LOG_DEBUG, "exec-connector", "journal: %s %s %s", event, je.kind, je.name);
	reply(ch, json_pack("{s:b}", "ok", 1));
}

static void keep(channel *ch, const char *data, size_t len)
{
	if (pw__buf_append(ch->result, data, len) < 0)
		ch->overflow = 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The length of the object that starts s[0..n) with '{' (through the brace that closes it,
 * strings skipped), or 0 while it does not end within n bytes. Only the bytes decide where a
 * value ends, not how they arrived: a read that stops inside `null` or a number must not make
 * a request look like something else. */
static size_t object_extent(const char *s, size_t n)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* No more requests: pending and all that follows are the result. */
static void stop_serving(channel *ch)
{
	ch->serving = 0;
	keep(ch, ch->pending.data, ch->pending.len);
	ch->pending.len = 0;
}

/* Answers the whole requests at the front of pending (one longer than a request may be with a
 * refusal); stops serving at the first value that is not one (the result). */
static void serve(channel *ch)
{
	while (ch->serving) {
		size_t off = 0;
		while (off < ch->pending.len && is_blank(ch->pending.data[off]))
			off++;
		if (off == ch->pending.len)
			return;
		const char *at = ch->pending.data + off;
		size_t left = ch->pending.len - off;
		size_t len = at[0] == '{' ? object_extent(at, left) : 0;
		if (at[0] == '{' && !len)
			return; /* the rest is on its way (pending is bounded like the result) */
		json_t *v = len ? json_loadb(at, len, 0, NULL) : NULL;
		if (!json_is_object(v) || !json_object_get(v, "journal")) {
			json_decref(v);
			stop_serving(ch);
			return;
		}
		/* the program waits for an answer: an oversized request is refused, not ignored */
		if (len > PW_EXEC_REQUEST_MAX)
			reply(ch, refusal("request over %zu KiB", PW_EXEC_REQUEST_MAX >> 10));
		else
			journal_request(ch, v);
		json_decref(v);
		size_t used = off + len;
		memmove(ch->pending.data, ch->pending.data + used, ch->pending.len - used);
		ch->pending.len -= used;
	}
}

void pw__exec_channel_feed(pw_exec_channel *ch, const char *data, size_t len)
{
	if (!ch->serving) {
		keep(ch, data, len);
	} else if (pw__buf_append(&ch->pending, data, len) < 0) {
		ch->overflow = 1;
		ch->serving = 0;
	} else {
		serve(ch);
	}
}

void pw__exec_channel_end(pw_exec_channel *ch)
{
	keep(ch, ch->pending.data, ch->pending.len);
	pw__buf_dispose(&ch->pending);
}

static void *channel_main(void *arg)
{
	channel *ch = arg;
	char chunk[8192];
	for (;;) {
		ssize_t n = read(ch->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pw__exec_channel_feed(ch, chunk, (size_t)n);
	}
	pw__exec_channel_end(ch);
	return NULL;
}

/* One invocation of the program. */
typedef struct call {
	char *program;
	pw_proc_options po;
	pw_proc_result pr;
	pw_buf result; /* fd 3 */
	pw_buf tail;   /* stdout+stderr of validate/plan */
	char *request;
	char **envp;
	char *cwd;
} call;

static void call_dispose(call *c)
{
	free(c->program);
	pw__buf_dispose(&c->result);
	pw__buf_dispose(&c->tail);
	free(c->request);
	pw__proc_envp_free(c->envp);
	free(c->cwd);
}

/* ex: the execution (execute only). aux_cancel_fd: for the other verbs, -1 or a descriptor
 * that becomes readable when the call must stop (the step's deadline or a cancel). */
static int run_program(call *c, const exec_impl *x, const char *verb, const pw_step *step,
                       const pw_workspace *ws, const pw_map *env, pw_exec *ex, int aux_cancel_fd,
                       pw_error **err)
{
	memset(c, 0, sizeof(*c));
	c->result = (pw_buf)PW_BUF_INIT(PW_EXEC_RESULT_MAX);
	c->tail = (pw_buf)PW_BUF_INIT(ERR_TAIL_MAX);
	int rc = find_program(&c->program, x, step, err);
	if (rc < 0)
		return rc;
	c->request = build_request(x, verb, step, ws, env, ex);
	c->envp = build_envp(x, verb, step, ws, env);
	c->cwd = ws ? strdup(pw_workspace_root(ws)) : step_dir(step);
	if (!c->request || !c->envp)
		return PW_ENOMEM;
	const char *argv[] = {c->program, verb, NULL};
	out_ctx *octx = malloc(sizeof(*octx));
	if (!octx)
		return PW_ENOMEM;
	octx->ex = ex;
	octx->tail = &c->tail;
	pw_proc_options po = PW_PROC_OPTIONS_INIT;
	po.argv = argv;
	po.envp = (const char *const *)c->envp;
	po.cwd = c->cwd;
	po.on_output = on_output;
	po.payload = octx;
	po.stdin_data = c->request;
	po.stdin_len = strlen(c->request);
	/* execute: fd 3 is a socket that also carries journal requests; else a pipe */
	int pair[2] = {-1, -1};
	channel ch = {.fd = -1,
	              .ex = ex,
	              .connector = x->type,
	              .program = c->program,
	              .pending = PW_BUF_INIT(PW_EXEC_RESULT_MAX),
	              .result = &c->result,
	              .serving = 1};
	pw_proc_fd fd3 = {.parent_fd = -1, .child_fd = RESULT_FD};
	if (!ex) {
		po.capture_fd = RESULT_FD;
		po.capture_out = &c->result;
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		free(octx);
		return put(err, PW_EIO, NULL, NULL, NULL, "cannot run connector program '%s': socketpair: %s",
		           c->program, strerror(errno));
	} else {
		ch.fd = pair[0];
		fd3.parent_fd = pair[1];
		po.extra_fds = &fd3;
		po.extra_fd_count = 1;
		if (pthread_create(&ch.thread, NULL, channel_main, &ch) != 0) {
			close(pair[0]);
			close(pair[1]);
			free(octx);
			return put(err, PW_EIO, NULL, NULL, NULL,
			           "cannot run connector program '%s': no thread for its fd 3", c->program);
		}
	}
	if (ex) {
		json_t *kg = pw__step_config_get(step, "kill_grace");
		po.cancel_fd = pw_exec_cancel_fd(ex);
		double kgs = 0;
		po.kill_grace_ms =
		    pw__config_number(kg, &kgs) && kgs >= 0 ? (int64_t)(kgs * 1000.0) : DEFAULT_KILL_GRACE_MS;
	} else {
		po.cancel_fd = aux_cancel_fd;
		po.timeout_ms = AUX_TIMEOUT_MS;
		po.kill_grace_ms = AUX_KILL_GRACE_MS;
	}
	if (ex)
		pw_exec_log(ex, PW_LOG_DEBUG, "exec-connector", "running %s %s", c->program, verb);
	rc = pw__proc_run(&c->pr, &po, err);
	if (ch.fd >= 0) {
		/* the program is gone: what it wrote is in the socket; what is left of its group
		 * that still holds fd 3 is cut off (the thread reads to the end, then stops) */
		close(pair[1]);
		shutdown(ch.fd, SHUT_RDWR);
		pthread_join(ch.thread, NULL);
		close(ch.fd);
		c->pr.capture_overflow = c->pr.capture_overflow || ch.overflow;
	}
	c->po = po;
	c->po.extra_fds = NULL;
	c->po.extra_fd_count = 0;
	c->po.argv = NULL;
	c->po.payload = NULL;
	free(octx);
	if (rc < 0 && err && *err && !pw_error_operation(*err)) {
		char op[256];
		snprintf(op, sizeof(op), "running connector program for custom:%s (%s)", x->name, verb);
		pw_error_set_operation(*err, op);
	}
	return rc;
}

/* How the call ended, when it did not end with a result to read: a crash, an overflow, a
 * timeout of validate/plan. Returns 0 when the result can be read. */
static int check_ended(call *c, const exec_impl *x, const char *verb, pw_error **err)
{
	pw_buf how = PW_BUF_INIT(1024);
	pw__proc_result_describe(&how, &c->pr, &c->po);
	int rc = 0;
	if (c->pr.capture_overflow) {
		rc = put(err, PW_EEXTERNAL, NULL,
		         "keep the result small: large data belongs in files in the workspace", NULL,
		         "connector program '%s' (custom:%s) wrote more than %zu bytes on fd 3 in %s",
		         c->program, x->name, PW_EXEC_RESULT_MAX, verb);
	} else if (c->pr.timed_out) {
		rc = put(err, PW_ETIMEOUT, NULL, "validate and plan must answer within 60 seconds",
		         pw__buf_cstr(&c->tail), "connector program '%s' (custom:%s) did not answer %s: %s",
		         c->program, x->name, verb, pw__buf_cstr(&how));
	} else if (!c->pr.exited && !c->pr.cancelled) {
		rc = put(
		    err, PW_EEXTERNAL, NULL,
		    "the connector program crashed; run it by hand to see why (docs/plugins.md, \"Testing a "
		    "connector program\")",
		    pw__buf_cstr(&c->tail), "connector program '%s' (custom:%s) crashed in %s: %s",
		    c->program, x->name, verb, pw__buf_cstr(&how));
	}
	pw__buf_dispose(&how);
	return rc;
}

json_t *pw__exec_parse_result(const char *data, size_t len, const char *program, const char *name,
                              const char *verb, pw_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(data ? data : "", len, 0, &je);
	/* the excerpt: up to 200 bytes, cut at the first NUL like the text it came from */
	char excerpt[201];
	size_t n = len < sizeof(excerpt) - 1 ? len : sizeof(excerpt) - 1;
	memcpy(excerpt, data ? data : "", data ? n : 0);
	excerpt[data ? n : 0] = '\0';
	if (!j) {
		put(err, PW_EEXTERNAL, NULL,
		    "the connector program must write one JSON object on fd 3 (docs/plugins.md, \"The "
		    "result\")",
		    excerpt,
		    "connector program '%s' (custom:%s) wrote an invalid result on fd 3 in %s: %s (line %d, "
		    "column %d)",
		    program, name, verb, je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		put(err, PW_EEXTERNAL, NULL, "the result is a JSON object such as {\"exit_code\":0}", excerpt,
		    "connector program '%s' (custom:%s) wrote a result on fd 3 in %s that is not a JSON "
		    "object",
		    program, name, verb);
		json_decref(j);
		return NULL;
	}
	json_t *proto = json_object_get(j, "protocol");
	if (proto && (!json_is_integer(proto) || json_integer_value(proto) != PW_EXEC_PROTOCOL_VERSION)) {
		put(err, PW_EABI, NULL,
		    "update the connector program, or leave \"protocol\" out of its result", excerpt,
		    "connector program '%s' (custom:%s) answers with protocol %s; this pipewright speaks "
		    "protocol %d",
		    program, name, json_is_integer(proto) ? "other than 1" : "(not a number)",
		    PW_EXEC_PROTOCOL_VERSION);
		json_decref(j);
		return NULL;
	}
	json_t *e = json_object_get(j, "error");
	if (e) {
		json_t *msg = json_is_object(e) ? json_object_get(e, "message") : e;
		json_t *hint = json_is_object(e) ? json_object_get(e, "hint") : NULL;
		put(err, PW_EEXTERNAL, NULL, json_is_string(hint) ? json_string_value(hint) : NULL, NULL,
		    "custom:%s (%s): %s", name, verb,
		    json_is_string(msg) ? json_string_value(msg) : "failed");
		json_decref(j);
		return NULL;
	}
	return j;
}

int pw__exec_check_execute_result(const json_t *j, const char *text, const char *program, const char *name,
                                  pw_error **err)
{
	if (!json_is_integer(json_object_get(j, "exit_code")))
		return put(
		    err, PW_EEXTERNAL, NULL, "write {\"exit_code\": 0} (an integer) on fd 3", text,
		    "connector program '%s' (custom:%s) wrote a result without an integer \"exit_code\"",
		    program, name);
	json_t *md = json_object_get(j, "metadata"), *outs = json_object_get(j, "outputs");
	if ((md && !json_is_object(md)) || (outs && !json_is_object(outs)))
		return put(
		    err, PW_EEXTERNAL, NULL, "\"metadata\" and \"outputs\" are JSON objects", text,
		    "connector program '%s' (custom:%s) wrote a result whose metadata or outputs is not "
		    "an object",
		    program, name);
	return 0;
}

/* Parses fd 3 as a JSON object. NULL (with *err) when it is not one. */
static json_t *parse_result(call *c, const exec_impl *x, const char *verb, pw_error **err)
{
	return pw__exec_parse_result(c->result.data, c->result.len, c->program, x->name, verb, err);
}

/* A program that exited non-zero without a result. */
static int no_result(call *c, const exec_impl *x, const char *verb, pw_error **err)
{
	pw_buf how = PW_BUF_INIT(1024);
	pw__proc_result_describe(&how, &c->pr, &c->po);
	int rc = put(err, PW_EEXTERNAL, NULL,
	             "a connector program writes its result as JSON on file descriptor 3 and exits 0 "
	             "(docs/plugins.md)",
	             pw__buf_cstr(&c->tail),
	             "connector program '%s' (custom:%s) %s in %s without writing a result on fd 3",
	             c->program, x->name, pw__buf_cstr(&how), verb);
	pw__buf_dispose(&how);
	return rc;
}

/* A validate or plan call ended on request (deadline, cancel). */
static int stopped(call *c, const exec_impl *x, const char *verb, pw_error **err)
{
	pw_buf how = PW_BUF_INIT(1024);
	pw__proc_result_describe(&how, &c->pr, &c->po);
	int rc = put(err, PW_ECANCELLED, NULL, NULL, pw__buf_cstr(&c->tail),
	             "connector program '%s' (custom:%s) was stopped in %s: %s", c->program, x->name, verb,
	             pw__buf_cstr(&how));
	pw__buf_dispose(&how);
	return rc;
}

static int exec_validate(pw_connector *conn, const pw_step *step, pw_error **err)
{
	const exec_impl *x = pw_connector_impl(conn);
	call c;
	/* before an execution, the step's deadline and the run's cancel bound the call */
	pw_exec *limit = pw__manager_validating_exec();
	int rc = run_program(&c, x, "validate", step, NULL, NULL, NULL,
	                     limit ? pw_exec_cancel_fd(limit) : pw__manager_cancel_fd(x->manager), err);
	if (rc == 0)
		rc = check_ended(&c, x, "validate", err);
	if (rc == 0 && c.pr.cancelled)
		rc = stopped(&c, x, "validate", err);
	if (rc == 0 && c.result.len == 0 && !(c.pr.exited && c.pr.exit_code == 0))
		rc = no_result(&c, x, "validate", err);
	if (rc == 0 && c.result.len > 0) {
		json_t *j = parse_result(&c, x, "validate", err);
		if (!j) {
			rc = PW_EEXTERNAL;
		} else {
			json_t *errors = json_object_get(j, "errors");
			size_t i;
			json_t *one;
			if (errors && !json_is_array(errors)) {
				rc = put(err, PW_EEXTERNAL, NULL,
				         "\"errors\" is a list of {key, message, hint}", NULL,
				         "connector program '%s' (custom:%s) answered validate with "
				         "\"errors\" that is not a list",
				         c.program, x->name);
			}
			json_array_foreach(errors, i, one)
			{
				json_t *k = json_object_get(one, "key"), *m = json_object_get(one, "message"),
				       *h = json_object_get(one, "hint");
				rc = put(err, PW_ECONFIG, json_is_string(k) ? json_string_value(k) : NULL,
				         json_is_string(h) ? json_string_value(h) : NULL, NULL,
				         "step '%s' (custom:%s): %s", pw_step_name(step), x->name,
				         json_is_string(m) ? json_string_value(m) : "invalid configuration");
			}
			json_decref(j);
		}
	}
	call_dispose(&c);
	return rc;
}

static char *value_text(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

static int exec_execute(pw_result **out, pw_connector *conn, const pw_step *step, const pw_workspace *ws,
                        const pw_map *env, pw_exec *ex, pw_error **err)
{
	const exec_impl *x = pw_connector_impl(conn);
	call c;
	int rc = run_program(&c, x, "execute", step, ws, env, ex, -1, err);
	if (rc == 0)
		rc = check_ended(&c, x, "execute", err);
	if (rc == 0 && (c.pr.cancelled || pw_exec_cancelled(ex) != PW_CANCEL_NONE)) {
		/* stopped on request: the manager reports the timeout or cancellation */
		pw_result *r =
		    pw_result_new(c.pr.exited ? c.pr.exit_code : 128 + c.pr.term_signal, NULL, NULL);
		if (r && !c.pr.exited)
			pw_result_set_signal(r, c.pr.term_signal);
		*out = r;
		call_dispose(&c);
		return r ? 0 : PW_ENOMEM;
	}
	if (rc == 0 && c.result.len == 0)
		rc = no_result(&c, x, "execute", err);
	json_t *j = NULL;
	if (rc == 0) {
		j = parse_result(&c, x, "execute", err);
		if (!j)
			rc = PW_EEXTERNAL;
	}
	if (rc == 0)
		rc = pw__exec_check_execute_result(j, pw__buf_cstr(&c.result), c.program, x->name, err);
	json_t *code = j ? json_object_get(j, "exit_code") : NULL;
	json_t *md = j ? json_object_get(j, "metadata") : NULL;
	json_t *outs = j ? json_object_get(j, "outputs") : NULL;
	/* a result, then a non-zero exit: the program did not finish as it said; the step fails
	 * with the program's status, and the result's metadata stays with the error */
	int late_exit = rc == 0 && c.pr.exited && c.pr.exit_code != 0;
	if (rc == 0) {
		json_int_t ec = late_exit ? c.pr.exit_code : json_integer_value(code);
		pw_result *r = pw_result_new(ec < INT_MIN   ? INT_MIN
		                             : ec > INT_MAX ? INT_MAX
		                                            : (int)ec,
		                             NULL, NULL);
		if (!r) {
			rc = PW_ENOMEM;
		} else {
			const char *k;
			json_t *v;
			json_object_foreach(md, k, v)
			{
				char *t = value_text(v);
				pw_result_with_metadata(r, k, t ? t : "");
				free(t);
			}
			json_object_foreach(outs, k, v)
			{
				char *t = value_text(v);
				pw_exec_set_output(ex, k, t ? t : "");
				free(t);
			}
			pw_result_with_metadata(r, "connector_program", c.program);
			char buf[32];
			snprintf(buf, sizeof(buf), "%lld", (long long)c.pr.duration_ms);
			pw_result_with_metadata(r, "duration_ms", buf);
			*out = r;
		}
	}
	if (rc == 0 && late_exit)
		rc = put(err, PW_EEXTERNAL, NULL,
		         "a connector program writes its result on fd 3 and exits 0 (docs/plugins.md)", NULL,
		         "connector program '%s' (custom:%s) exited with code %d after writing its result "
		         "in execute",
		         c.program, x->name, c.pr.exit_code);
	json_decref(j);
	call_dispose(&c);
	return rc;
}

/* ---- gc: the program removes what a killed run of it journaled ---- */

/* The program that made the record (its path is kept in it), else NAME's on PATH. */
static int gc_program(char **out, const json_t *rec, const exec_impl *x, pw_error **err)
{
	const char *kept = json_string_value(json_object_get(json_object_get(rec, "attrs"), PROGRAM_ATTR));
	struct stat st;
	if (kept && stat(kept, &st) == 0 && S_ISREG(st.st_mode) && access(kept, X_OK) == 0) {
		*out = strdup(kept);
		return *out ? 0 : PW_ENOMEM;
	}
	pw_error *pe = NULL;
	int rc = pw__proc_find_program(out, x->program, host_path(), &pe);
	if (rc == PW_ENOTFOUND) {
		pw_error_free(pe);
		return put(err, PW_ENOTFOUND, NULL,
		           "load the plug-in that provides it (pipewright gc --plugin FILE, or "
		           "PIPEWRIGHT_PLUGIN_PATH), or put the program on PATH",
		           NULL,
		           "nothing here removes what %s made: no plug-in provides it and no program "
		           "'%s' is on PATH",
		           x->type, x->program);
	}
	if (rc < 0 && err && !*err)
		*err = pe;
	else
		pw_error_free(pe);
	return rc;
}

/* The last line of text that is not blank, cut to fit out. */
static void last_line(char *out, size_t cap, const pw_buf *text)
{
	size_t end = text->len;
	while (end > 0 && is_blank(text->data[end - 1]))
		end--;
	size_t start = end;
	while (start > 0 && text->data[start - 1] != '\n')
		start--;
	size_t n = end - start < cap - 1 ? end - start : cap - 1;
	memcpy(out, text->data + start, n);
	out[n] = '\0';
}

static char *gc_request(const json_t *rec, const char *workspace)
{
	json_t *r = json_object();
	json_object_set_new(r, "protocol", json_integer(PW_EXEC_PROTOCOL_VERSION));
	json_object_set_new(r, "verb", json_string("gc"));
	static const char *const copied[] = {"connector", "run_id", "step", "at"};
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		json_object_set(r, copied[i],
		                json_object_get(rec, copied[i]) ? json_object_get(rec, copied[i])
		                                                : json_null());
	json_t *obj = json_object();
	static const char *const fields[] = {"kind", "name", "address", "scope"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(rec, fields[i]);
		json_object_set(obj, fields[i], v ? v : json_null());
	}
	json_t *attrs = json_deep_copy(json_object_get(rec, "attrs"));
	json_object_del(attrs, PROGRAM_ATTR);
	json_object_set_new(obj, "attrs", attrs ? attrs : json_object());
	json_object_set_new(r, "object", obj);
	json_object_set_new(r, "workspace", workspace ? json_string(workspace) : json_null());
	char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	return s;
}

/* pw_connector_ops.gc_remove: the program's gc verb, given the object of the record. */
static int exec_gc_remove(pw_connector *conn, const char *record_json, const char *workspace, pw_error **err)
{
	const exec_impl *x = pw_connector_impl(conn);
	json_t *rec = json_loads(record_json, 0, NULL);
	if (!json_is_object(rec)) {
		json_decref(rec);
		return pw_error_set(err, PW_EINVAL, "%s: a journal record that is not a JSON object",
		                    x->type);
	}
	char *program = NULL;
	int rc = gc_program(&program, rec, x, err);
	if (rc < 0) {
		json_decref(rec);
		return rc;
	}
	char *request = gc_request(rec, workspace);
	json_decref(rec);
	pw_map *m = host_env();
	char **envp = NULL;
	if (m) {
		protocol_env(m, x->name, "gc");
		envp = pw__proc_envp_from_map(m);
		pw_map_free(m);
	}
	if (!request || !envp) {
		free(program);
		free(request);
		pw__proc_envp_free(envp);
		return pw_error_set(err, PW_ENOMEM, "out of memory running a connector program's gc");
	}
	pw_buf result = PW_BUF_INIT(PW_EXEC_RESULT_MAX), tail = PW_BUF_INIT(ERR_TAIL_MAX);
	out_ctx octx = {NULL, &tail};
	const char *argv[] = {program, "gc", NULL};
	pw_proc_options po = PW_PROC_OPTIONS_INIT;
	po.argv = argv;
	po.envp = (const char *const *)envp;
	po.cwd = workspace;
	po.on_output = on_output;
	po.payload = &octx;
	po.stdin_data = request;
	po.stdin_len = strlen(request);
	po.capture_fd = RESULT_FD;
	po.capture_out = &result;
	po.timeout_ms = AUX_TIMEOUT_MS;
	po.kill_grace_ms = AUX_KILL_GRACE_MS;
	pw_proc_result pr;
	rc = pw__proc_run(&pr, &po, err);
	if (rc == 0) {
		pw_buf how = PW_BUF_INIT(1024);
		pw__proc_result_describe(&how, &pr, &po);
		json_t *j = NULL;
		if (pr.capture_overflow || !pr.exited || pr.exit_code != 0) {
			/* gc prints one line an object: the program's last words belong in it */
			char said[240] = "";
			last_line(said, sizeof(said), &tail);
			rc = put(
			    err, PW_EEXTERNAL, NULL,
			    "the program's gc verb removes the object of the record it is given and exits 0 "
			    "(docs/plugins.md, \"Journaling what you create, and gc\")",
			    pw__buf_cstr(&tail), "connector program '%s' (%s) %s in gc%s%s", program, x->type,
			    pr.capture_overflow ? "wrote more than 1 MiB on fd 3" : pw__buf_cstr(&how),
			    *said ? ": " : "", said);
		} else if (result.len > 0 && !(j = pw__exec_parse_result(result.data, result.len, program,
		                                                         x->name, "gc", err))) {
			rc = PW_EEXTERNAL;
		}
		json_decref(j);
		pw__buf_dispose(&how);
	}
	pw__buf_dispose(&result);
	pw__buf_dispose(&tail);
	free(request);
	pw__proc_envp_free(envp);
	free(program);
	return rc;
}

static int exec_plan(char **out, pw_connector *conn, const pw_step *step, const pw_workspace *ws,
                     const pw_map *env, pw_error **err)
{
	const exec_impl *x = pw_connector_impl(conn);
	call c;
	int rc = run_program(&c, x, "plan", step, ws, env, NULL, pw__manager_cancel_fd(x->manager), err);
	if (rc == 0)
		rc = check_ended(&c, x, "plan", err);
	if (rc == 0 && c.pr.cancelled)
		rc = stopped(&c, x, "plan", err);
	if (rc == 0 && c.result.len == 0) {
		if (c.pr.exited && c.pr.exit_code == 0) {
			pw_buf b = PW_BUF_INIT(0);
			pw__buf_printf(
			    &b, "run: %s execute (executable connector custom:%s; it describes no plan)\n",
			    c.program, x->name);
			*out = pw__buf_detach(&b);
		} else {
			rc = no_result(&c, x, "plan", err);
		}
	} else if (rc == 0) {
		json_t *j = parse_result(&c, x, "plan", err);
		json_t *p = j ? json_object_get(j, "plan") : NULL;
		if (!j) {
			rc = PW_EEXTERNAL;
		} else if (!json_is_string(p)) {
			rc = put(err, PW_EEXTERNAL, NULL, "answer plan with {\"plan\": \"text\"}",
			         pw__buf_cstr(&c.result),
			         "connector program '%s' (custom:%s) answered plan without a \"plan\" string",
			         c.program, x->name);
		} else {
			size_t n = strlen(json_string_value(p));
			pw_buf b = PW_BUF_INIT(0);
			pw__buf_puts(&b, json_string_value(p));
			if (n == 0 || json_string_value(p)[n - 1] != '\n')
				pw__buf_putc(&b, '\n');
			*out = pw__buf_detach(&b);
		}
		json_decref(j);
	}
	call_dispose(&c);
	return rc;
}

static void exec_destroy(pw_connector *c)
{
	free(pw_connector_impl(c));
}

static const pw_connector_ops exec_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN | PW_CAP_CANCEL,
    .validate_config = exec_validate,
    .execute_step = exec_execute,
    .plan = exec_plan,
    .destroy = exec_destroy,
    .gc_remove = exec_gc_remove,
};

static int exec_supports(const char *type, void *payload)
{
	return pw_connector_kind_of(type) == PW_KIND_CUSTOM;
}

static int exec_create(pw_connector **out, const char *type, pw_manager *m, void *payload, pw_error **err)
{
	*out = NULL;
	if (pw_connector_kind_of(type) != PW_KIND_CUSTOM)
		return pw_error_set(err, PW_EINVAL,
		                    "the executable-connector factory makes custom:NAME types, not '%s'",
		                    type);
	const char *name = type + strlen(PW_TYPE_CUSTOM_PREFIX);
	exec_impl *x = calloc(1, sizeof(*x));
	if (!x)
		return PW_ENOMEM;
	if (strlen(name) >= sizeof(x->name)) {
		free(x);
		return pw_error_set(err, PW_EINVAL, "connector name '%s' is too long", name);
	}
	snprintf(x->name, sizeof(x->name), "%s", name);
	snprintf(x->program, sizeof(x->program), PW_EXEC_PROGRAM_PREFIX "%s", name);
	snprintf(x->type, sizeof(x->type), "%s", type);
	x->manager = m;
	int rc = pw_connector_new(out, &exec_ops, x->program, type, x, err);
	if (rc < 0)
		free(x);
	return rc;
}

/* Reports custom:NAME for every executable pipewright-connector-NAME on the host's PATH. */
static void exec_list(pw_type_list_fn add, void *ctx, void *payload)
{
	if (hide_listing)
		return;
	const char *path = host_path();
	size_t plen = strlen(PW_EXEC_PROGRAM_PREFIX);
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && path[0] == '/' && n < PATH_MAX) {
			char dir[PATH_MAX];
			memcpy(dir, path, n);
			dir[n] = '\0';
			DIR *d = opendir(dir);
			struct dirent *de;
			while (d && (de = readdir(d)) != NULL) {
				if (strncmp(de->d_name, PW_EXEC_PROGRAM_PREFIX, plen) != 0)
					continue;
				char type[300], full[PATH_MAX + 300];
				snprintf(type, sizeof(type), PW_TYPE_CUSTOM_PREFIX "%s", de->d_name + plen);
				snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
				if (pw_connector_kind_of(type) == PW_KIND_CUSTOM && access(full, X_OK) == 0)
					add(type, ctx);
			}
			if (d)
				closedir(d);
		}
		path += n;
		if (*path == ':')
			path++;
	}
}

static const pw_factory_ops exec_factory = {
    .version = PW_FACTORY_OPS_VERSION,
    .name = PW_EXEC_FACTORY_NAME,
    .supports = exec_supports,
    .create = exec_create,
    .list_types = exec_list,
};

int pw__exec_factory_register(pw_manager *m, pw_error **err)
{
	return pw_manager_register_factory(m, &exec_factory, NULL, err);
}
