/* `pipewright gc`: journals first, then the labelled-object sweeps (see gc.h). */
#include "pipeline/gc.h"

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/connector.h"
#include "core/journal.h"
#include "connectors/shell/shell.h"
#include "proc/proc.h"

static const pw_gc_hook hooks[] = {
    {"docker", pw__docker_gc_remove, pw__docker_gc_sweep},
    {"kubernetes", pw__k8s_gc_remove, pw__k8s_gc_sweep},
    {"aws", pw__aws_gc_remove, NULL},
    {"gcp", pw__gcp_gc_remove, NULL},
};

typedef struct run_info {
	char *id;
	int alive;
	int lock_fd; /* held while gc runs: the run cannot start again meanwhile */
} run_info;

struct pw_gc {
	pw_manager *m;
	const pw_gc_options *o;
	pw_gc_stats *st;
	run_info *runs;
	size_t nruns;
	json_t *seen;   /* "connector kind scope name" reported */
	json_t *scopes; /* connector -> [scope] from the journals */
	int64_t now_ms;
};

pw_manager *pw__gc_manager(pw_gc *g)
{
	return g->m;
}

int pw__gc_dry_run(const pw_gc *g)
{
	return g->o->dry_run;
}

int64_t pw__gc_parse_duration(const char *text)
{
	if (!text || !*text)
		return -1;
	int64_t total = 0;
	const char *p = text;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -1;
		int64_t n = 0;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > 100000000)
				return -1;
		}
		int64_t unit = 1000;
		switch (*p) {
		case '\0':
			if (p != text && total == 0) { /* a plain number: seconds */
				unit = 1000;
				break;
			}
			return -1;
		case 's':
			unit = 1000;
			p++;
			break;
		case 'm':
			unit = 60 * 1000;
			p++;
			break;
		case 'h':
			unit = 3600 * 1000;
			p++;
			break;
		case 'd':
			unit = 86400 * 1000;
			p++;
			break;
		default:
			return -1;
		}
		total += n * unit;
	}
	return total;
}

static int old_enough(pw_gc *g, int64_t created_ms)
{
	if (g->o->older_than_ms < 0)
		return 1;
	return created_ms > 0 && g->now_ms - created_ms >= g->o->older_than_ms;
}

int pw__gc_should_remove(pw_gc *g, const char *run_label, pw_gc_label_fn to_label, int64_t created_ms)
{
	if (!run_label || !*run_label)
		return 0;
	for (size_t i = 0; i < g->nruns; i++) {
		char lab[256];
		if (to_label)
			to_label(lab, sizeof(lab), g->runs[i].id);
		else
			snprintf(lab, sizeof(lab), "%s", g->runs[i].id);
		if (strcmp(lab, run_label) != 0)
			continue;
		if (g->runs[i].alive) {
			g->st->kept_live++;
			return 0;
		}
		if (!old_enough(g, created_ms)) {
			g->st->kept_new++;
			return 0;
		}
		return 1;
	}
	/* a run this workspace does not know (another workspace, or its directory was deleted):
	 * only by age, when an age is given */
	if (g->o->older_than_ms >= 0 && old_enough(g, created_ms))
		return 1;
	g->st->kept_new++;
	return 0;
}

static void report(pw_gc *g, const char *fmt, ...) PW_PRINTF(2, 3);
static void report(pw_gc *g, const char *fmt, ...)
{
	if (!g->o->report)
		return;
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	char tmp[2048];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	pw__buf_puts(&b, tmp);
	g->o->report(pw__buf_cstr(&b), g->o->payload);
	pw__buf_dispose(&b);
}

void pw__gc_note(pw_gc *g, const char *fmt, ...)
{
	if (!g->o->report)
		return;
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	g->o->report(tmp, g->o->payload);
}

void pw__gc_done(pw_gc *g, const char *connector, const char *kind, const char *scope, const char *name,
                 const char *address, int rc, const pw_error *e)
{
	char key[1024];
	snprintf(key, sizeof(key), "%s %s %s %s", connector, kind, scope ? scope : "", name);
	if (rc == 0 && json_object_get(g->seen, key))
		return; /* the journal and the sweep found the same object */
	json_object_set_new(g->seen, key, json_true());
	char where[512] = "";
	if (scope && *scope)
		snprintf(where, sizeof(where), "%s/", scope);
	if (rc == 0) {
		g->st->removed++;
		report(g, "%s %s %s %s%s (%s)", g->o->dry_run ? "would remove" : "removed", connector, kind,
		       where, name, address && *address ? address : "default");
	} else {
		g->st->failed++;
		report(g, "failed to remove %s %s %s%s (%s): %s", connector, kind, where, name,
		       address && *address ? address : "default",
		       e ? pw_error_message(e) : pw_error_code_desc(rc));
	}
}

json_t *pw__gc_scopes(pw_gc *g, const char *connector)
{
	json_t *a = json_object_get(g->scopes, connector);
	return a ? json_deep_copy(a) : json_array();
}

static void add_scope(pw_gc *g, const char *connector, const char *scope)
{
	if (!connector || !scope || !*scope)
		return;
	json_t *a = json_object_get(g->scopes, connector);
	if (!a) {
		a = json_array();
		json_object_set_new(g->scopes, connector, a);
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), scope)) return;
	json_array_append_new(a, json_string(scope));
}

static const pw_gc_hook *hook_for(const char *connector)
{
	for (size_t i = 0; connector && i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (!strcmp(hooks[i].connector, connector))
			return &hooks[i];
	return NULL;
}

/* A record of a connector without a built-in hook: its own gc_remove, given the record. */
static int connector_remove(pw_connector *c, const json_t *record, const char *workspace, pw_error **err)
{
	char *text = json_dumps(record, JSON_COMPACT);
	int rc = text ? c->ops->gc_remove(c, text, workspace, err) : PW_ENOMEM;
	free(text);
	return rc;
}

static int valid_id(const char *s)
{
	if (!*s || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* The run directories and whether each is alive (its lock is held by a process). */
static int scan_runs(pw_gc *g, const char *runs_dir, pw_error **err)
{
	DIR *d = opendir(runs_dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return pw_error_set(err, PW_EIO, "cannot read %s: %s", runs_dir, strerror(errno));
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!valid_id(de->d_name))
			continue;
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_printf(&p, "%s/%s/lock", runs_dir, de->d_name);
		run_info ri = {strdup(de->d_name), 0, -1};
		int fd = open(pw__buf_cstr(&p), O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
				ri.alive = 1;
				close(fd);
			} else {
				ri.lock_fd = fd;
			}
		}
		pw__buf_dispose(&p);
		run_info *n = realloc(g->runs, (g->nruns + 1) * sizeof(*n));
		if (!n || !ri.id) {
			free(ri.id);
			if (ri.lock_fd >= 0)
				close(ri.lock_fd);
			rc = PW_ENOMEM;
			if (n)
				g->runs = n;
			break;
		}
		g->runs = n;
		g->runs[g->nruns++] = ri;
	}
	closedir(d);
	return rc;
}

static void gc_journal(pw_gc *g, const char *runs_dir, run_info *ri)
{
	pw_buf path = PW_BUF_INIT(0);
	pw__buf_printf(&path, "%s/%s/journal", runs_dir, ri->id);
	json_t *pending = NULL;
	pw_error *e = NULL;
	if (pw__journal_pending(&pending, pw__buf_cstr(&path), &e) < 0) {
		report(g, "cannot read the journal of run %s: %s", ri->id, pw_error_message(e));
		g->st->failed++;
		pw_error_free(e);
		pw__buf_dispose(&path);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach(pending, i, r) add_scope(g, json_string_value(json_object_get(r, "connector")),
	                                            json_string_value(json_object_get(r, "scope")));
	/* newest first: a container before its image, a PVC before its namespace */
	for (i = json_array_size(pending); i-- > 0;) {
		r = json_array_get(pending, i);
		const char *conn = json_string_value(json_object_get(r, "connector"));
		const char *kind = json_string_value(json_object_get(r, "kind"));
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *scope = json_string_value(json_object_get(r, "scope"));
		const char *addr = json_string_value(json_object_get(r, "address"));
		if (!conn || !kind || !name)
			continue;
		if (ri->alive) {
			g->st->kept_live++;
			continue;
		}
		if (!old_enough(g, json_integer_value(json_object_get(r, "ts_ms")))) {
			g->st->kept_new++;
			continue;
		}
		const pw_gc_hook *h = hook_for(conn);
		pw_connector *c = NULL;
		e = NULL;
		/* else the connector the manager makes for the type, when its table has gc_remove
		 * (custom connectors: plug-ins, executable programs, an embedder's own) */
		if (!h && pw_manager_get_connector(&c, g->m, conn, &e) < 0) {
			pw_error *ne = pw_error_new(PW_ENOTBUILT, "connector '%s' has no gc hook here: %s",
			                            conn, pw_error_message(e));
			pw_error_set_hint(ne, "a plug-in's connector: load it (pipewright gc --plugin FILE, "
			                      "or PIPEWRIGHT_PLUGIN_PATH)");
			pw__gc_done(g, conn, kind, scope, name, addr, PW_ENOTBUILT, ne);
			pw_error_free(ne);
			pw_error_free(e);
			continue;
		}
		if (!h && (c->ops->version < 2 || !c->ops->gc_remove)) {
			pw_error *ne = pw_error_new(PW_ENOTBUILT, "connector '%s' has no gc hook", conn);
			pw__gc_done(g, conn, kind, scope, name, addr, PW_ENOTBUILT, ne);
			pw_error_free(ne);
			continue;
		}
		int rc = 0;
		if (!g->o->dry_run) {
			rc = h ? h->remove(g, r, &e) : connector_remove(c, r, g->o->workspace, &e);
			if (rc == 0 && pw__journal_mark_removed(pw__buf_cstr(&path), r, "gc", &e) < 0) {
				report(g, "%s", pw_error_message(e));
				pw_error_free(e);
				e = NULL;
			}
		}
		pw__gc_done(g, conn, kind, scope, name, addr, rc, e);
		pw_error_free(e);
	}
	json_decref(pending);
	pw__buf_dispose(&path);
}

/* ---- what steps left on this machine ---- */

/* From SIGTERM to SIGKILL for the processes of a run that is gone. */
#define GC_PROCESS_GRACE_MS 5000

typedef struct proc_sweep {
	pw_gc *g;
	const char *workspace; /* real path */
	json_t *runs;          /* run id -> true: runs whose processes go */
} proc_sweep;

static void real_or_same(char out[PATH_MAX], const char *path)
{
	if (!realpath(path, out))
		snprintf(out, PATH_MAX, "%s", path);
}

static void consider_process(const pw_run_process *p, void *payload)
{
	proc_sweep *ps = payload;
	char ws[PATH_MAX];
	real_or_same(ws, p->workspace);
	if (strcmp(ws, ps->workspace) != 0 ||
	    !pw__gc_should_remove(ps->g, p->run_id, NULL, p->started_unix_ms))
		return;
	if (pw__gc_dry_run(ps->g)) {
		char name[512];
		snprintf(name, sizeof(name), "%d %s%s%s", p->pid, p->command, *p->step ? " of step " : "",
		         p->step);
		pw__gc_done(ps->g, "step", "process", p->run_id, name, "local", 0, NULL);
	} else {
		json_object_set_new(ps->runs, p->run_id, json_true());
	}
}

typedef struct stray_report {
	pw_gc *g;
	const char *run_id;
} stray_report;

static void stopped_process(int pid, const char *command, const char *step, void *payload)
{
	stray_report *sr = payload;
	char name[512];
	snprintf(name, sizeof(name), "%d %s%s%s", pid, command, *step ? " of step " : "", step);
	pw__gc_done(sr->g, "step", "process", sr->run_id, name, "local", 0, NULL);
}

/* The processes of runs that are not alive: the steps of a run killed with SIGKILL (a run that
 * ends stops what its steps left, see pw_run_execute) run on, orphaned; their environment
 * names the run and the workspace. SIGTERM, then SIGKILL after GC_PROCESS_GRACE_MS. */
static void sweep_processes(pw_gc *g)
{
	char ws[PATH_MAX];
	real_or_same(ws, g->o->workspace ? g->o->workspace : ".");
	proc_sweep ps = {g, ws, json_object()};
	pw__proc_each_run_process(consider_process, &ps);
	const char *run;
	json_t *v;
	json_object_foreach(ps.runs, run, v)
	{
		stray_report sr = {g, run};
		pw_proc_strays o = {0};
		o.run_id = run;
		o.workspace = ws;
		o.grace_ms = GC_PROCESS_GRACE_MS;
		o.on_stray = stopped_process;
		o.payload = &sr;
		pw__proc_end_run_processes(&o);
	}
	json_decref(ps.runs);
}

/* The pid a dead run's lock file names (the process that ran it), or 0. */
static long run_pid(const run_info *ri)
{
	char buf[32];
	ssize_t n = ri->lock_fd >= 0 ? pread(ri->lock_fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || !*end) ? pid : 0;
}

/* The step outputs files that the processes of this workspace's dead runs (killed before they
 * could remove them) left in /dev/shm or /tmp: PW_SHELL_OUTPUTS_PREFIX "<pid>-XXXXXX", this
 * user's, of a pid a dead run's lock names and that is not running (one taken again by another
 * process keeps its files: safe). */
static void sweep_outputs_files(pw_gc *g)
{
	static const char *const dirs[] = {"/dev/shm", "/tmp"};
	size_t pl = strlen(PW_SHELL_OUTPUTS_PREFIX);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, PW_SHELL_OUTPUTS_PREFIX, pl) != 0)
				continue;
			char *end;
			long pid = strtol(de->d_name + pl, &end, 10);
			if (pid <= 0 || *end != '-' || strlen(end + 1) != 6)
				continue;
			int of_dead_run = 0;
			for (size_t r = 0; r < g->nruns && !of_dead_run; r++)
				of_dead_run = !g->runs[r].alive && run_pid(&g->runs[r]) == pid;
			struct stat st;
			if (!of_dead_run || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    st.st_uid != geteuid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;
			if (!old_enough(g, (int64_t)st.st_mtime * 1000)) {
				g->st->kept_new++;
				continue;
			}
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			int rc = 0;
			pw_error *e = NULL;
			if (!g->o->dry_run && pw__shell_remove_outputs_path(path) < 0) {
				rc = PW_EIO;
				e = pw_error_new(PW_EIO, "%s", strerror(errno));
			}
			pw__gc_done(g, "shell", "outputs file", dirs[i], de->d_name, "local", rc, e);
			pw_error_free(e);
		}
		if (d)
			closedir(d);
	}
}

int pw__gc_run(pw_gc_stats *stats, pw_manager *m, const pw_gc_options *opts, pw_error **err)
{
	memset(stats, 0, sizeof(*stats));
	pw_gc g = {m, opts, stats, NULL, 0, json_object(), json_object(), pw__unix_ms()};
	pw_buf runs_dir = PW_BUF_INIT(0);
	pw__buf_printf(&runs_dir, "%s/.pipewright/runs", opts->workspace ? opts->workspace : ".");
	int rc = scan_runs(&g, pw__buf_cstr(&runs_dir), err);
	for (size_t i = 0; rc == 0 && i < g.nruns; i++)
		gc_journal(&g, pw__buf_cstr(&runs_dir), &g.runs[i]);
	if (rc == 0) {
		sweep_processes(&g);
		sweep_outputs_files(&g);
	}
	for (size_t i = 0; rc == 0 && opts->sweep && i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		if (!hooks[i].sweep)
			continue;
		pw_error *e = NULL;
		if (hooks[i].sweep(&g, &e) < 0) {
			report(&g, "%s: %s", hooks[i].connector, pw_error_message(e));
			stats->failed++;
		}
		pw_error_free(e);
	}
	for (size_t i = 0; i < g.nruns; i++) {
		if (g.runs[i].lock_fd >= 0)
			close(g.runs[i].lock_fd);
		free(g.runs[i].id);
	}
	free(g.runs);
	json_decref(g.seen);
	json_decref(g.scopes);
	pw__buf_dispose(&runs_dir);
	return rc;
}
