/* The runner: schedules the step graph on worker threads; each attempt gets an execution
 * context with the deadline, masking and sinks; writes per-step logs, result.json and
 * audit.jsonl into the run directory. */
#define _GNU_SOURCE /* pipe2 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "connectors/kubernetes/lifecycle.h"
#include "core/internal.h"
#include "pipeline/pipeline.h"
#include "pipeline/report_int.h"
#include "pipewright/run.h"
#include "proc/proc.h"

int pw__pipeline_load_secrets(const pw_pipeline *p, pw_secrets *into, pw_error **err);

#define LINE_MAX_BYTES (64 * 1024) /* a partial line longer than this is passed on as is */
#define AUDIT_BUFFER (16 * 1024)   /* records held for one write (audit_put) */
/* At the run's end, between SIGTERM and SIGKILL of the processes steps left running (shorter
 * than a step's default kill_grace: nothing waits for these; 0 after a second cancel). */
#define STRAY_GRACE_MS 5000

typedef struct step_state {
	pw_step *step;
	pw_run *run;
	size_t index;
	pw_step_status status;
	int allowed; /* failed or timed out, and allow_failure: true keeps the run going */
	unsigned int attempts;
	pw_result *result;
	pw_error *error;
	int64_t started_unix_ms;
	int64_t start_ms, end_ms;
	int failed_upstream; /* some (transitive) dependency failed */
	size_t waiting;      /* needs not finished yet */
	char *type;
	pw_map *outputs;
	pw_exec *exec;  /* the running attempt, under run->lock */
	int log_fd;     /* the step's log file, -1: none (or not opened yet: log_later) */
	int log_later;  /* its log is created at its first output, if any */
	int log_opened; /* it was (or a failure was reported): the run's thread need not make it */
	pw_buf log_buf; /* what is not written there yet (bounded: written out when full) */
	pthread_mutex_t out_lock;
	pw_buf line[2];        /* partial lines per stream */
	uint64_t out_bytes[2]; /* masked output bytes per stream, all attempts */
	uint64_t out_lines;    /* complete lines delivered */
	size_t *needs;         /* the steps it needs, as indexes (names resolved once) */
	size_t needs_count;
	size_t *dependents; /* the steps that need it, in file order */
	size_t dependents_count;
	atomic_int ended; /* finished or not run: nothing changes any more (set under run->lock) */
	char *entry;      /* its result.json entry, rendered ahead (masked, indented) */
} step_state;

struct pw_run {
	pw_manager *manager;
	pw_pipeline *pipeline;
	pw_run_options opts;
	char *run_id;
	char *run_dir;
	char *spare_dir;     /* the next run's directory, made ahead by this one (SPARE_RUN_DIR) */
	int dir_fd;          /* run_dir (O_PATH): the logs are opened relative to it, no path walked */
	int empty_log_tried; /* EMPTY_LOG: made (or tried) by the run's thread */
	int empty_log_made;  /* it exists: removed at the end */
	int empty_log_links; /* links to it can be made */
	char *journal;       /* run_dir/journal: the resource journal (core/journal.h) */
	int lock_fd;         /* run_dir/lock, flock'd for the run's lifetime: gc leaves live runs alone */
	pw_workspace *ws;
	pw_secrets *secrets;
	FILE *audit;
	pthread_mutex_t audit_lock;
	size_t audit_held; /* bytes of records in r->audit's buffer, not yet written (audit_put) */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* workers: a step was queued, or stopping */
	step_state *steps;
	size_t count;
	size_t *queue; /* step indexes to run, in the order they became ready */
	size_t queue_head, queue_tail;
	size_t *ready; /* steps whose needs have all finished, not decided yet (schedule) */
	size_t ready_count;
	size_t *wave;   /* schedule's copy of ready */
	size_t *walk;   /* [2 * count]: needs_with_outputs' result and stack */
	uint32_t *mark; /* needs_with_outputs: steps seen in walk number mark_gen */
	uint32_t mark_gen;
	size_t with_outputs; /* steps that ended with outputs: none, no walk */
	size_t running;
	size_t finished;
	int stopping; /* workers exit */

	atomic_int cancel_requests;
	int cancel_pipe[2];  /* wakes pw_run_execute: a cancel request, or the run is over */
	pw_k8s_hooks *hooks; /* lifecycle events of every step, when the pipeline asks; may be NULL */
	int64_t started_unix_ms;
	int64_t start_ms;
	int64_t start_boot_ms; /* CLOCK_BOOTTIME: what started before the run is not its own */
};

/* The ids of the runs executing in this process: at one run's end, processes of another live
 * run are not its strays. */
static pthread_mutex_t live_runs_lock = PTHREAD_MUTEX_INITIALIZER;
static const char **live_runs;
static size_t live_runs_count, live_runs_cap;

const char *pw_step_status_name(pw_step_status s)
{
	static const char *const names[] = {"pending",         "running", "succeeded", "failed",
	                                    "allowed_failure", "skipped", "timed_out", "cancelled"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int is_failure(pw_step_status s)
{
	return s == PW_STEP_FAILED || s == PW_STEP_TIMED_OUT || s == PW_STEP_CANCELLED;
}

/* A failure that counts: for the run's outcome and for the `when` of the steps that need it.
 * A step allowed to fail (allow_failure: true) that failed or timed out does not count, as in
 * GitLab's allow_failure and GitHub's continue-on-error. */
static int step_failed(const step_state *st)
{
	return is_failure(st->status) && !st->allowed;
}

static void run_log(pw_run *r, pw_log_level level, const char *step, const char *fmt, ...) PW_PRINTF(4, 5);
static void run_log(pw_run *r, pw_log_level level, const char *step, const char *fmt, ...)
{
	if (!r->opts.on_log || level > r->opts.log_level)
		return;
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *masked = pw_secrets_mask_str(r->secrets, pw__buf_cstr(&b));
	pw_log_record rec = {level,        r->run_id, step ? step : "", "runner", masked ? masked : "",
	                     pw__unix_ms()};
	r->opts.on_log(&rec, r->opts.log_payload);
	free(masked);
	pw__buf_dispose(&b);
}

/* A step's start and end wait in the buffer, for a connector's record of an external change
 * (written at once, with them) or for the run's thread (audit_release, at most 50 ms later):
 * steps that take a millisecond cost one write every few milliseconds, not one each. */
static void audit_put(pw_run *r, const char *json, int hold)
{
	if (!r->audit)
		return;
	size_t len = strlen(json) + 1;
	pthread_mutex_lock(&r->audit_lock);
	/* records go out whole: the held ones first when this one would not fit with them */
	if (r->audit_held && r->audit_held + len > AUDIT_BUFFER)
		fflush(r->audit), r->audit_held = 0;
	fputs(json, r->audit);
	fputc('\n', r->audit);
	r->audit_held += len;
	if (!hold)
		fflush(r->audit), r->audit_held = 0;
	pthread_mutex_unlock(&r->audit_lock);
}

static void audit_write(const char *json, void *payload)
{
	audit_put(payload, json, 0);
}

static void audit_release(pw_run *r)
{
	if (!r->audit)
		return;
	pthread_mutex_lock(&r->audit_lock);
	if (r->audit_held)
		fflush(r->audit);
	r->audit_held = 0;
	pthread_mutex_unlock(&r->audit_lock);
}

/* A step's records are held (audit_put); the run's own are written at once. */
static void audit_run(pw_run *r, const char *step, const char *event, const char *outcome, const char *detail)
{
	char *json = pw__audit_json(r->secrets, r->run_id, step, event, NULL, NULL, outcome, detail);
	if (json)
		audit_put(r, json, step != NULL);
	free(json);
}

static void make_run_id(char *buf, size_t size)
{
	char ts[40];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
	unsigned int rnd = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
			rnd = 0;
		close(fd);
	}
	if (!rnd)
		rnd = (unsigned int)getpid() ^ (unsigned int)pw__now_ms();
	snprintf(buf, size, "%s-%06x", ts, rnd & 0xffffff);
}

/* mkdir -p. The directory itself first: its parents usually exist already. */
static int mkdirs(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Marks the runs directory as the top of a hierarchy (ext2/3/4's FS_TOPDIR_FL, `chattr +T`)
 * so that each run directory is placed in a block group of its own rather than next to
 * whatever else was created and deleted there: on ext4 without a journal every new inode is
 * searched for past each inode freed in the last minute, and after a burst of deletions
 * nearby (the previous runs' scratch directories, say) the 200 logs of a run cost 400 us each
 * instead of 13. The price, reading the chosen group's bitmaps (2-3 ms), is paid by the run
 * before, which makes the next run's directory ahead (SPARE_RUN_DIR). Other file systems do
 * not know the flag; nothing changes there. */
static void spread_runs(const char *runs_dir)
{
	int fd = open(runs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	int flags = 0;
	/* refused (not the owner, a file system without it): the default placement stays */
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

/* The directory a run makes for the next one in the same workspace, while its steps run:
 * with the runs directory a top directory, making a run directory is where the bitmaps of a
 * block group are read (2-3 ms of waiting), and a run that finds one made ahead only renames
 * it. A dot name: `pipewright runs` and gc pass over it. */
#define SPARE_RUN_DIR ".next"

/* Renames the spare directory to the run's, when there is one and it is ours. Two runs
 * starting at once: one takes it, the other makes its own. 0 when taken; never replaces an
 * existing directory (errno EEXIST). */
static int take_spare(const char *spare, const char *run_dir)
{
	struct stat st;
	if (!spare || lstat(spare, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -1;
	return renameat2(AT_FDCWD, spare, AT_FDCWD, run_dir, RENAME_NOREPLACE);
}

/* The error for a run id whose directory exists: a run still holding its lock is running,
 * any other was an earlier run (its result, logs and audit records are not to be mixed with
 * a new run's). */
static int run_dir_exists(const pw_run *r, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/lock", r->run_dir);
	int fd = open(pw__buf_cstr(&p), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int running = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	if (fd >= 0)
		close(fd);
	int rc;
	if (running)
		rc = pw_error_set(err, PW_EEXISTS, "run '%s' is already running (%s is locked)", r->run_id,
		                  pw__buf_cstr(&p));
	else
		rc = pw_error_set(err, PW_EEXISTS, "run id '%s' is already used: %s exists", r->run_id,
		                  r->run_dir);
	pw__buf_dispose(&p);
	if (err && *err)
		pw_error_set_hint(*err, "choose another run id, or remove that run's directory");
	return rc;
}

/* Makes the run's directory, new: the spare one renamed when there is one, else mkdir. */
static int make_run_dir(pw_run *r, pw_error **err)
{
	struct stat st;
	if (lstat(r->run_dir, &st) == 0)
		return run_dir_exists(r, err);
	if (take_spare(r->spare_dir, r->run_dir) == 0)
		return 0;
	if (errno != EEXIST && mkdir(r->run_dir, 0755) == 0)
		return 0;
	if (errno == EEXIST)
		return run_dir_exists(r, err);
	return pw_error_set(err, PW_EIO, "mkdir(\"%s\"): %s", r->run_dir, strerror(errno));
}

/* A run id names a directory and is given back to `logs` and `report`: 1 to 128 letters,
 * digits, '-', '_' and '.', not starting with '.' or '-', and not "last" (the newest run). */
static int valid_run_id(const char *id)
{
	if (!id || !*id || strlen(id) > 128 || id[0] == '.' || id[0] == '-' || !strcmp(id, "last"))
		return 0;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

#define LOG_BUF_SIZE (64 * 1024)
#define LOG_NAME_MAX 300 /* step names are at most 63 characters */

/* The step's log file name, relative to the run directory. */
static const char *log_name(char out[LOG_NAME_MAX], const pw_step *s)
{
	snprintf(out, LOG_NAME_MAX, "%s.log", s->name);
	return out;
}

static void log_warn(step_state *st);

/* Creates the step's log in the run directory (mode 0666 before the umask), for writing. A
 * file already there (a run id used again) is replaced, not truncated: it may be a link to
 * the run's empty log (make_empty_log), which must stay empty. */
static int log_create(step_state *st)
{
	char name[LOG_NAME_MAX];
	int dfd = st->run->dir_fd;
	log_name(name, st->step);
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, name, 0) == 0)
		fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
	return fd;
}

/* The empty file that the logs of the steps that printed nothing are links to, while the run
 * goes on; removed at its end (the logs keep it). */
#define EMPTY_LOG ".empty.log"

/* The log of a step that printed nothing: a link to the run's empty file. On ext4 a new file
 * costs an inode, 50-70 us each on the development VM, where a link is a name only (15 us):
 * a run of 200 quiet steps spent 4% of its time making their logs. Where links cannot be made
 * (some file systems; ext4 after 65,000 links), a file of its own. Run's thread only. */
static void make_empty_log(pw_run *r, step_state *st)
{
	char name[LOG_NAME_MAX];
	log_name(name, st->step);
	if (!r->empty_log_tried) {
		r->empty_log_tried = 1;
		int fd = openat(r->dir_fd, EMPTY_LOG, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0666);
		r->empty_log_made = r->empty_log_links = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	if (r->empty_log_links) {
		int rc = linkat(r->dir_fd, EMPTY_LOG, r->dir_fd, name, 0);
		/* a log from an earlier run with this id: replaced */
		if (rc < 0 && errno == EEXIST && unlinkat(r->dir_fd, name, 0) == 0)
			rc = linkat(r->dir_fd, EMPTY_LOG, r->dir_fd, name, 0);
		if (rc == 0)
			return;
		if (errno != EEXIST) /* no links here (or no more): files from now on */
			r->empty_log_links = 0;
	}
	int fd = log_create(st);
	if (fd >= 0)
		close(fd);
	else
		log_warn(st);
}

static void log_warn(step_state *st)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s.log", st->run->run_dir, st->step->name);
	run_log(st->run, PW_LOG_WARN, st->step->name, "cannot write the step log open(\"%s\"): %s", path,
	        strerror(errno));
}

/* Writes len bytes to the log, creating it at the first bytes; a failure (a full disk) ends
 * the log, not the step. */
static void log_put(step_state *st, const char *data, size_t len)
{
	if (st->log_later && len) {
		st->log_later = 0;
		st->log_opened = 1;
		st->log_fd = log_create(st);
		if (st->log_fd < 0)
			log_warn(st);
	}
	size_t off = 0;
	while (st->log_fd >= 0 && off < len) {
		ssize_t n = write(st->log_fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(st->log_fd);
			st->log_fd = -1;
			break;
		}
		off += (size_t)n;
	}
}

/* Writes out what the log buffer holds. Under st->out_lock (or with no other thread left). */
static void log_flush(step_state *st)
{
	log_put(st, st->log_buf.data, st->log_buf.len);
	pw__buf_clear(&st->log_buf);
}

/* Small pieces are gathered into one write; a large one (a busy step's chunks are up to
 * 64 KiB) goes out as it is, after what was gathered, without a copy into the buffer. */
static void log_write(step_state *st, const char *data, size_t len)
{
	if (st->log_fd < 0 && !st->log_later)
		return;
	if (st->log_buf.len + len > LOG_BUF_SIZE || len >= LOG_BUF_SIZE / 4)
		log_flush(st);
	if (len >= LOG_BUF_SIZE / 4 || pw__buf_append(&st->log_buf, data, len) < 0)
		log_put(st, data, len);
}

static void log_close(step_state *st)
{
	log_flush(st);
	if (st->log_fd >= 0)
		close(st->log_fd);
	st->log_fd = -1;
	st->log_later = 0;
	pw__buf_dispose(&st->log_buf);
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* The hook URI's password (mongodb://user:password@hosts/...) is a secret of the run, as it
 * is written and percent-decoded: whatever quotes the URI, or a step that prints the password,
 * shows "***". A password too short to be masked is only warned about. */
static void hide_uri_password(pw_run *r, const char *uri)
{
	const char *p = uri ? strstr(uri, "://") : NULL;
	if (!p)
		return;
	p += 3;
	const char *end = p + strcspn(p, "?#"), *at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q; /* the last one: an unescaped '@' in the password stays in it */
	const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
	if (!colon || colon + 1 == at)
		return;
	size_t n = (size_t)(at - colon - 1);
	char *raw = strndup(colon + 1, n), *dec = malloc(n + 1);
	if (raw && dec) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			int hi = raw[i] == '%' && i + 2 < n ? hex_value(raw[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(raw[i + 2]) : -1;
			if (lo >= 0) {
				dec[k++] = (char)(hi * 16 + lo);
				i += 2;
			} else {
				dec[k++] = raw[i];
			}
		}
		dec[k] = '\0';
		pw_error *e = NULL;
		if (pw_secrets_add(r->secrets, raw, "the MongoDB hook URI's password", &e) < 0 ||
		    (strcmp(dec, raw) &&
		     pw_secrets_add(r->secrets, dec, "the MongoDB hook URI's password", &e) < 0))
			run_log(r, PW_LOG_WARN, NULL, "the MongoDB hook URI's password is not masked: %s",
			        e ? pw_error_message(e) : "out of memory");
		pw_error_free(e);
	}
	free(raw);
	free(dec);
}

/* The lifecycle-hook sink: the pipeline's `hooks: mongodb:` (checked by the loader), else
 * PIPEWRIGHT_MONGODB_URI. A sink that cannot be set up stops the run only when required. */
static int open_hooks(pw_run *r, const pw_pipeline *p, pw_error **err)
{
	json_t *mdb = p->sections ? json_object_get(json_object_get(p->sections, "hooks"), "mongodb") : NULL;
	pw_error *e = NULL;
	int rc, required;
	hide_uri_password(r, mdb ? json_string_value(json_object_get(mdb, "uri"))
	                         : getenv("PIPEWRIGHT_MONGODB_URI"));
	if (mdb) {
		pw_k8s_hooks_config c = {json_string_value(json_object_get(mdb, "uri")),
		                         json_string_value(json_object_get(mdb, "database")),
		                         json_string_value(json_object_get(mdb, "collection")),
		                         json_is_true(json_object_get(mdb, "required"))};
		required = c.required;
		rc = pw__k8s_hooks_new(&r->hooks, &c, &e);
	} else {
		const char *req = getenv("PIPEWRIGHT_MONGODB_REQUIRED");
		required = req && (!strcmp(req, "1") || !strcmp(req, "true"));
		rc = pw__k8s_hooks_from_env(&r->hooks, &e);
	}
	if (rc == 0)
		return 0;
	if (required) {
		if (err && !*err) {
			*err = e;
			if (p->path)
				pw_error_set_operation(e, "hooks: mongodb");
		} else {
			pw_error_free(e);
		}
		return rc;
	}
	run_log(r, PW_LOG_WARN, NULL, "lifecycle hooks are off: %s", e ? pw_error_message(e) : "unusable");
	pw_error_free(e);
	r->hooks = NULL;
	return 0;
}

/* One lifecycle event of a step, for every connector. */
static void hook_step(pw_run *r, step_state *st, const char *event, int exit_code, const char *message)
{
	if (!r->hooks)
		return;
	pw_k8s_hooks_step hs = {r->hooks, r->run_id, st->step->name, st->type ? st->type : "unknown", NULL};
	pw__k8s_hooks_event(&hs, event, NULL, NULL, NULL, exit_code, message);
}

/* Takes run_dir/lock for the run's lifetime (released by the kernel when the process dies,
 * even by SIGKILL): `pipewright gc` treats a run whose lock it can take as dead. The file
 * holds the pid for people. Close-on-exec, so that step processes do not keep it. */
static int hold_run_lock(pw_run *r, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/lock", r->run_dir);
	int fd = open(pw__buf_cstr(&p), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0) {
		rc = pw_error_set(err, PW_EIO, "cannot open %s: %s", pw__buf_cstr(&p), strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = pw_error_set(err, errno == EWOULDBLOCK ? PW_EEXISTS : PW_EIO,
		                  "run '%s' is already running (%s is locked)", r->run_id, pw__buf_cstr(&p));
		close(fd);
	} else {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n)
			rc = pw_error_set(err, PW_EIO, "cannot write %s: %s", pw__buf_cstr(&p),
			                  strerror(errno));
		if (rc < 0)
			close(fd);
		else
			r->lock_fd = fd;
	}
	pw__buf_clear(&p);
	pw__buf_printf(&p, "%s/journal", r->run_dir);
	r->journal = pw__buf_detach(&p);
	return rc == 0 && !r->journal ? PW_ENOMEM : rc;
}

int pw_run_new(pw_run **out, pw_manager *m, pw_pipeline *p, const pw_run_options *opts, pw_error **err)
{
	*out = NULL;
	pw_run_options defaults = PW_RUN_OPTIONS_INIT;
	if (!opts)
		opts = &defaults;
	if (opts->version < 1 || opts->version > PW_RUN_OPTIONS_VERSION)
		return pw_error_set(err, PW_EABI, "pw_run_options version %u is not supported",
		                    opts->version);
	if (opts->run_id && !valid_run_id(opts->run_id))
		return pw_error_set(
		    err, PW_EINVAL,
		    "run id '%.200s' is not valid: 1 to 128 letters, digits, '-', '_' or '.', "
		    "not starting with '.' or '-', and not 'last' (which names the newest "
		    "run)",
		    opts->run_id);
	pw_run *r = calloc(1, sizeof(*r));
	if (!r)
		return PW_ENOMEM;
	r->manager = m;
	r->pipeline = p;
	r->opts = *opts;
	r->cancel_pipe[0] = r->cancel_pipe[1] = -1;
	r->lock_fd = -1;
	r->dir_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_init(&r->audit_lock, NULL);
	if (!r->opts.jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		r->opts.jobs = n > 0 ? (unsigned int)n : 1;
	}
	char idbuf[160];
	if (opts->run_id)
		snprintf(idbuf, sizeof(idbuf), "%s", opts->run_id);
	else
		make_run_id(idbuf, sizeof(idbuf));
	r->run_id = strdup(idbuf);
	int rc = pw_secrets_new(&r->secrets);
	if (rc == 0)
		rc = pw__pipeline_load_secrets(p, r->secrets, err);
	pw_workspace *probe = NULL;
	if (rc == 0)
		rc = pw_workspace_new(&probe, opts->workspace ? opts->workspace : p->dir, NULL, NULL, err);
	if (rc == 0) {
		pw_buf d = PW_BUF_INIT(0);
		pw__buf_printf(&d, "%s/.pipewright/runs", pw_workspace_root(probe));
		if (mkdirs(pw__buf_cstr(&d)) == 0)
			spread_runs(pw__buf_cstr(&d));
		pw_buf spare = PW_BUF_INIT(0);
		pw__buf_printf(&spare, "%s/%s", pw__buf_cstr(&d), SPARE_RUN_DIR);
		r->spare_dir = pw__buf_detach(&spare);
		size_t runs_len = d.len;
		pw__buf_printf(&d, "/%s", r->run_id);
		r->run_dir = pw__buf_detach(&d);
		rc = make_run_dir(r, err);
		/* a made-up id another run took in the same second: another one */
		for (int tries = 0; rc == PW_EEXISTS && !opts->run_id && tries < 8; tries++) {
			if (err) {
				pw_error_free(*err);
				*err = NULL;
			}
			make_run_id(idbuf, sizeof(idbuf));
			d = (pw_buf)PW_BUF_INIT(0);
			pw__buf_append(&d, r->run_dir, runs_len + 1);
			pw__buf_puts(&d, idbuf);
			free(r->run_dir);
			free(r->run_id);
			r->run_dir = pw__buf_detach(&d);
			r->run_id = strdup(idbuf);
			rc = r->run_id && r->run_dir ? make_run_dir(r, err) : PW_ENOMEM;
		}
		if (rc == 0 && (r->dir_fd = open(r->run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			rc = pw_error_set(err, PW_EIO, "open(\"%s\"): %s", r->run_dir, strerror(errno));
	}
	if (rc == 0)
		rc = hold_run_lock(r, err);
	if (rc == 0)
		rc = pw_workspace_new(&r->ws, pw_workspace_root(probe), r->run_id, r->run_dir, err);
	pw_workspace_free(probe);
	if (rc == 0) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/audit.jsonl", r->run_dir);
		r->audit = fopen(path, "ae");
		if (r->audit)
			setvbuf(r->audit, NULL, _IOFBF, AUDIT_BUFFER);
		if (!r->audit)
			rc = pw_error_set(err, PW_EIO, "fopen(\"%s\"): %s", path, strerror(errno));
	}
	if (rc == 0)
		rc = open_hooks(r, p, err);
	if (rc == 0 && pipe2(r->cancel_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		rc = pw_error_set(err, PW_EIO, "pipe(): %s", strerror(errno));
	if (rc == 0) {
		r->count = p->steps_count;
		r->steps = calloc(r->count ? r->count : 1, sizeof(step_state));
		size_t n = r->count ? r->count : 1;
		r->queue = calloc(n, sizeof(size_t));
		r->ready = calloc(n, sizeof(size_t));
		r->wave = calloc(n, sizeof(size_t));
		r->walk = calloc(2 * n, sizeof(size_t));
		r->mark = calloc(n, sizeof(uint32_t));
		if (!r->steps || !r->queue || !r->ready || !r->wave || !r->walk || !r->mark)
			rc = PW_ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < r->count; i++) {
		step_state *st = &r->steps[i];
		st->step = p->steps[i];
		st->run = r;
		st->index = i;
		st->outputs = pw_map_new();
		st->needs = calloc(st->step->needs_count ? st->step->needs_count : 1, sizeof(size_t));
		for (size_t n = 0; st->needs && n < st->step->needs_count; n++) {
			long j = pw_pipeline_find_step(p, st->step->needs[n]);
			if (j >= 0) /* the loader checked every name */
				st->needs[st->needs_count++] = (size_t)j;
		}
		st->waiting = st->needs_count;
		st->line[0] = (pw_buf)PW_BUF_INIT(0);
		st->line[1] = (pw_buf)PW_BUF_INIT(0);
		st->log_fd = -1;
		st->log_buf = (pw_buf)PW_BUF_INIT(0);
		pthread_mutex_init(&st->out_lock, NULL);
		if (!st->outputs || !st->needs)
			rc = PW_ENOMEM;
	}
	/* who needs whom, the other way round (a step named twice in needs counts twice, and is
	 * counted down twice) */
	for (size_t i = 0; rc == 0 && i < r->count; i++)
		for (size_t n = 0; n < r->steps[i].needs_count; n++)
			r->steps[r->steps[i].needs[n]].dependents_count++;
	for (size_t i = 0; rc == 0 && i < r->count; i++) {
		step_state *st = &r->steps[i];
		st->dependents = calloc(st->dependents_count ? st->dependents_count : 1, sizeof(size_t));
		if (!st->dependents)
			rc = PW_ENOMEM;
		st->dependents_count = 0;
	}
	for (size_t i = 0; rc == 0 && i < r->count; i++)
		for (size_t n = 0; n < r->steps[i].needs_count; n++) {
			step_state *d = &r->steps[r->steps[i].needs[n]];
			d->dependents[d->dependents_count++] = i;
		}
	if (rc < 0) {
		pw_run_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void pw_run_free(pw_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->steps && i < r->count; i++) {
		step_state *st = &r->steps[i];
		pw_result_free(st->result);
		pw_error_free(st->error);
		pw_map_free(st->outputs);
		free(st->needs);
		free(st->dependents);
		free(st->type);
		pw__buf_dispose(&st->line[0]);
		pw__buf_dispose(&st->line[1]);
		log_close(st);
		free(st->entry);
		pthread_mutex_destroy(&st->out_lock);
	}
	free(r->steps);
	free(r->queue);
	free(r->ready);
	free(r->wave);
	free(r->walk);
	free(r->mark);
	pw__k8s_hooks_free(r->hooks); /* writes what is still queued (bounded) */
	if (r->audit)
		fclose(r->audit);
	for (int i = 0; i < 2; i++)
		if (r->cancel_pipe[i] >= 0)
			close(r->cancel_pipe[i]);
	pw_workspace_free(r->ws);
	pw_secrets_free(r->secrets);
	free(r->run_id);
	free(r->run_dir);
	free(r->spare_dir);
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	free(r->journal);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->audit_lock);
	free(r);
}

/* Wakes pw_run_execute's thread. Async-signal-safe. */
static void wake_run(pw_run *r)
{
	char b = 1;
	ssize_t n = write(r->cancel_pipe[1], &b, 1);
	(void)n;
}

void pw_run_cancel(pw_run *r)
{
	if (!r)
		return;
	atomic_fetch_add(&r->cancel_requests, 1);
	wake_run(r);
}

/* Output: masked chunks arrive from the exec; the log file gets them as they come, the
 * callback gets complete lines. */
static void deliver_line(step_state *st, pw_stream stream, const char *data, size_t len)
{
	pw_run *r = st->run;
	for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		st->out_lines++;
	if (r->opts.on_output)
		r->opts.on_output(st->step->name, stream, data, len, r->opts.output_payload);
}

static const char *last_newline(const char *data, size_t len)
{
	while (len--)
		if (data[len] == '\n')
			return data + len;
	return NULL;
}

static void on_step_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	step_state *st = payload;
	pthread_mutex_lock(&st->out_lock);
	log_write(st, data, len);
	st->out_bytes[stream == PW_STREAM_STDERR ? 1 : 0] += len;
	pw_buf *lb = &st->line[stream == PW_STREAM_STDERR ? 1 : 0];
	while (len) {
		if (lb->len) {
			/* complete the pending partial line first */
			const char *nl = memchr(data, '\n', len);
			size_t take = nl ? (size_t)(nl - data) + 1 : len;
			pw__buf_append(lb, data, take);
			if (nl || lb->len > LINE_MAX_BYTES) {
				deliver_line(st, stream, lb->data, lb->len);
				pw__buf_clear(lb);
			}
			data += take;
			len -= take;
			continue;
		}
		/* every complete line of the chunk in one call; keep the tail */
		const char *last = last_newline(data, len);
		size_t whole = last ? (size_t)(last - data) + 1 : 0;
		if (whole) {
			deliver_line(st, stream, data, whole);
			data += whole;
			len -= whole;
		}
		if (len > LINE_MAX_BYTES)
			deliver_line(st, stream, data, len);
		else if (len)
			pw__buf_append(lb, data, len);
		len = 0;
	}
	pthread_mutex_unlock(&st->out_lock);
}

static void flush_lines(step_state *st)
{
	pthread_mutex_lock(&st->out_lock);
	for (int i = 0; i < 2; i++) {
		if (st->line[i].len) {
			deliver_line(st, i ? PW_STREAM_STDERR : PW_STREAM_STDOUT, st->line[i].data,
			             st->line[i].len);
			pw__buf_clear(&st->line[i]);
		}
	}
	log_flush(st);
	pthread_mutex_unlock(&st->out_lock);
}

static void on_exec_log(const pw_log_record *rec, void *payload)
{
	pw_run *r = payload;
	if (r->opts.on_log)
		r->opts.on_log(rec, r->opts.log_payload);
}

/* PIPEWRIGHT_STEP_<STEP>_<KEY>: upper case, other characters as '_'. */
static void output_var_name(pw_buf *b, const char *step, const char *key)
{
	pw__buf_puts(b, "PIPEWRIGHT_STEP_");
	for (const char *p = step; *p; p++)
		pw__buf_putc(b, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
	pw__buf_putc(b, '_');
	for (const char *p = key; *p; p++)
		pw__buf_putc(b, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
}

static int cmp_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* The steps st needs, directly or through others, that have outputs: into r->walk, in file
 * order. Returns how many. Lock held. Memory stays linear in the number of steps; the time is
 * that of the walk, made only once some step has outputs (every step without needs needs the
 * one before it, so a long pipeline is a long chain). */
static size_t needs_with_outputs(pw_run *r, step_state *st)
{
	if (!r->with_outputs)
		return 0;
	if (++r->mark_gen == 0) { /* wrapped: every old mark could look current */
		memset(r->mark, 0, r->count * sizeof(*r->mark));
		r->mark_gen = 1;
	}
	size_t *stack = r->walk + r->count;
	size_t top = 0, found = 0;
	for (size_t n = 0; n < st->needs_count; n++)
		if (r->mark[st->needs[n]] != r->mark_gen) {
			r->mark[st->needs[n]] = r->mark_gen;
			stack[top++] = st->needs[n];
		}
	while (top) {
		size_t j = stack[--top];
		step_state *d = &r->steps[j];
		if (pw_map_count(d->outputs))
			r->walk[found++] = j;
		for (size_t n = 0; n < d->needs_count; n++)
			if (r->mark[d->needs[n]] != r->mark_gen) {
				r->mark[d->needs[n]] = r->mark_gen;
				stack[top++] = d->needs[n];
			}
	}
	qsort(r->walk, found, sizeof(size_t), cmp_index);
	return found;
}

/* The step's environment: pipeline env, secrets, outputs of the steps it needs, the
 * run's variables, then the step's own env (which wins). Called with run->lock held. */
static pw_map *step_env(pw_run *r, step_state *st)
{
	pw_map *env = pw_map_dup(r->pipeline->env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < r->pipeline->secrets_count; i++) {
		const char *v = getenv(r->pipeline->secrets[i].name);
		if (v)
			pw_map_set(env, r->pipeline->secrets[i].name, v);
	}
	size_t found = needs_with_outputs(r, st);
	for (size_t a = 0; a < found; a++) {
		size_t j = r->walk[a];
		pw_map *o = r->steps[j].outputs;
		for (size_t k = 0; k < pw_map_count(o); k++) {
			pw_buf name = PW_BUF_INIT(0);
			output_var_name(&name, r->steps[j].step->name, pw_map_key_at(o, k));
			/* names are unique, but a step name and key can spell another's: a_b + c and
			 * a + b_c are both PIPEWRIGHT_STEP_A_B_C */
			if (pw_map_get(env, pw__buf_cstr(&name)))
				run_log(
				    r, PW_LOG_WARN, st->step->name,
				    "%s, the output '%s' of step '%s', replaces a value already given to "
				    "this step under that name (another needed step's output, or the "
				    "pipeline's env); rename the key or the step so that each output has a "
				    "name of its own",
				    pw__buf_cstr(&name), pw_map_key_at(o, k), r->steps[j].step->name);
			pw_map_set(env, pw__buf_cstr(&name), pw_map_value_at(o, k));
			pw__buf_dispose(&name);
		}
	}
	pw_map_set(env, "PIPEWRIGHT_RUN_ID", r->run_id);
	pw_map_set(env, "PIPEWRIGHT_STEP", st->step->name);
	pw_map_set(env, "PIPEWRIGHT_WORKSPACE", pw_workspace_root(r->ws));
	pw_map_set(env, "PIPEWRIGHT_RUN_DIR", r->run_dir);
	pw_map_merge(env, st->step->env);
	return env;
}

static void emit_event(pw_run *r, step_state *st)
{
	if (r->opts.on_step_event)
		r->opts.on_step_event(st->step->name, st->status, st->attempts, st->result, st->error,
		                      r->opts.event_payload);
}

/* Sleeps up to ms, waking early when the run is cancelled. Returns 1 if cancelled. */
static int backoff_sleep(pw_run *r, int64_t ms)
{
	struct pollfd pfd = {r->cancel_pipe[0], POLLIN, 0};
	int64_t until = pw__now_ms() + ms;
	for (;;) {
		if (atomic_load(&r->cancel_requests) > 0)
			return 1;
		int64_t left = until - pw__now_ms();
		if (left <= 0)
			return 0;
		poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
	}
}

static void run_step(pw_run *r, step_state *st, int cancel_fd)
{
	pw_step *s = st->step;
	/* The log is created at the step's first output: a step that prints nothing costs no
	 * file on its way; its empty log is made by the run's thread once it has ended
	 * (finish_ended). */
	st->log_later = 1;
	pw_error *terr = NULL;
	if (pw_manager_determine_connector_type(&st->type, r->manager, s, &terr) < 0)
		st->type = NULL;
	pw_error_free(terr);
	st->started_unix_ms = pw__unix_ms();
	st->start_ms = pw__now_ms();
	audit_run(r, s->name, "step_start", NULL, st->type);
	hook_step(r, st, "step_started", -1, NULL);
	for (;;) {
		st->attempts++;
		pw_exec_options eo = PW_EXEC_OPTIONS_INIT;
		eo.run_id = r->run_id;
		eo.step_name = s->name;
		eo.timeout_seconds = s->timeout;
		eo.capture_limit = r->opts.capture_limit;
		eo.secrets = r->secrets;
		eo.on_output = on_step_output;
		eo.output_payload = st;
		eo.on_log = on_exec_log;
		eo.log_payload = r;
		eo.log_level = r->opts.on_log ? r->opts.log_level : PW_LOG_ERROR;
		eo.on_audit = audit_write;
		eo.audit_payload = r;
		pw_exec *ex = NULL;
		pw_error *e = NULL;
		pw_result *res = NULL;
		int rc = pw__exec_new_with_cancel_fd(&ex, &eo, cancel_fd, &e);
		if (rc == 0)
			rc = pw__exec_set_journal(ex, r->journal);
		pw_map *env = NULL;
		pthread_mutex_lock(&r->lock);
		if (rc == 0) {
			st->exec = ex;
			pw__exec_set_hooks(ex, r->hooks);
			/* a cancel that arrived before the exec existed still applies */
			int req = atomic_load(&r->cancel_requests);
			if (req >= 2 || (req >= 1 && s->when != PW_WHEN_ALWAYS))
				pw_exec_cancel(ex, PW_CANCEL_USER);
			env = step_env(r, st);
		}
		pthread_mutex_unlock(&r->lock);
		if (rc == 0) {
			run_log(r, PW_LOG_INFO, s->name, "starting attempt %u of %u", st->attempts,
			        s->retries + 1);
			rc = pw_manager_execute_step(&res, r->manager, s, r->ws, env, ex, &e);
		}
		flush_lines(st);
		pw_map_free(env);
		pthread_mutex_lock(&r->lock);
		st->exec = NULL;
		pthread_mutex_unlock(&r->lock);
		pw_step_status status;
		if (rc == 0 && pw_result_is_success(res))
			status = PW_STEP_SUCCEEDED;
		else if (rc == PW_ETIMEOUT)
			status = PW_STEP_TIMED_OUT;
		else if (rc == PW_ECANCELLED)
			status = PW_STEP_CANCELLED;
		else
			status = PW_STEP_FAILED;
		if (status == PW_STEP_SUCCEEDED && ex)
			pw_map_merge(st->outputs, pw_exec_outputs(ex));
		pw_exec_free(ex);
		pw_result_free(st->result);
		pw_error_free(st->error);
		st->result = res;
		st->error = e;
		if (e && !pw_error_file(e))
			pw__step_locate_error(s, e);
		int retry = (status == PW_STEP_FAILED || status == PW_STEP_TIMED_OUT) &&
		            st->attempts <= s->retries && atomic_load(&r->cancel_requests) == 0;
		if (!retry) {
			st->status = status;
			break;
		}
		double base = r->opts.retry_backoff_seconds > 0 ? r->opts.retry_backoff_seconds : 1.0;
		int64_t delay = (int64_t)(base * 1000.0 *
		                          (double)(1u << (st->attempts - 1 > 10 ? 10 : st->attempts - 1)));
		run_log(r, PW_LOG_WARN, s->name, "attempt %u %s; retrying in %.1f s", st->attempts,
		        pw_step_status_name(status), (double)delay / 1000.0);
		if (backoff_sleep(r, delay)) {
			st->status = status;
			break;
		}
	}
	/* a failure allowed to happen has a status of its own; a timeout stays one, marked
	 * allowed (result.json "allowed": true) */
	if (st->status == PW_STEP_FAILED && s->allow_failure)
		st->status = PW_STEP_ALLOWED_FAILURE;
	st->allowed =
	    s->allow_failure && (st->status == PW_STEP_ALLOWED_FAILURE || st->status == PW_STEP_TIMED_OUT);
	st->end_ms = pw__now_ms();
	char detail[64];
	snprintf(detail, sizeof(detail), "exit_code=%d attempts=%u",
	         st->result ? pw_result_exit_code(st->result) : -1, st->attempts);
	hook_step(r, st, "step_finished", st->result ? pw_result_exit_code(st->result) : -1,
	          pw_step_status_name(st->status));
	if (pw__k8s_hooks_required(r->hooks)) {
		pw_error *he = NULL;
		if (pw__k8s_hooks_flush(r->hooks, 10000, &he) < 0 && !is_failure(st->status)) {
			/* `required: true`: a step whose events were not recorded has not succeeded */
			st->status = PW_STEP_FAILED;
			if (!st->error)
				st->error = he, he = NULL;
		}
		pw_error_free(he);
	}
	audit_run(r, s->name, "step_end", pw_step_status_name(st->status), detail);
	pthread_mutex_lock(&st->out_lock);
	log_close(st);
	pthread_mutex_unlock(&st->out_lock);
}

/* Decides what happens to a step whose needs are all done. Called with the lock held.
 * Returns 1 when it should run. */
static int decide(pw_run *r, step_state *st)
{
	pw_step *s = st->step;
	int failed = 0;
	for (size_t n = 0; n < st->needs_count; n++) {
		step_state *d = &r->steps[st->needs[n]];
		if (step_failed(d) || d->failed_upstream)
			failed = 1;
	}
	st->failed_upstream = failed;
	int cancelled = atomic_load(&r->cancel_requests) > 0;
	switch (s->when) {
	case PW_WHEN_ALWAYS:
		return atomic_load(&r->cancel_requests) < 2;
	case PW_WHEN_ON_FAILURE:
		return failed && !cancelled;
	default:
		return !failed && !cancelled;
	}
}

/* A step has finished or will not run: the steps that need it are one need closer to ready.
 * Lock held. */
static void step_over(pw_run *r, step_state *st)
{
	for (size_t n = 0; n < st->dependents_count; n++) {
		step_state *d = &r->steps[st->dependents[n]];
		if (--d->waiting == 0)
			r->ready[r->ready_count++] = d->index;
	}
}

/* Decides the steps that became ready (every need finished), in file order: each is queued to
 * run or marked as not run, which can make the steps that need it ready in turn. Lock held. */
static void schedule(pw_run *r)
{
	while (r->ready_count) {
		size_t n = r->ready_count;
		memcpy(r->wave, r->ready, n * sizeof(size_t));
		r->ready_count = 0;
		qsort(r->wave, n, sizeof(size_t), cmp_index);
		for (size_t w = 0; w < n; w++) {
			step_state *st = &r->steps[r->wave[w]];
			if (decide(r, st)) {
				r->queue[r->queue_tail++] = st->index;
				continue;
			}
			st->status =
			    atomic_load(&r->cancel_requests) > 0 ? PW_STEP_CANCELLED : PW_STEP_SKIPPED;
			atomic_store(&st->ended, 1);
			r->finished++;
			audit_run(r, st->step->name, "step_end", pw_step_status_name(st->status), "not run");
			emit_event(r, st);
			step_over(r, st);
		}
	}
}

static void *worker_main(void *arg)
{
	pw_run *r = arg;
	/* one cancel descriptor for every step this worker runs (-1: each exec makes its own) */
	int cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stopping && r->queue_head == r->queue_tail)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stopping)
			break;
		step_state *st = &r->steps[r->queue[r->queue_head++]];
		st->status = PW_STEP_RUNNING;
		r->running++;
		pthread_mutex_unlock(&r->lock);
		emit_event(r, st);
		run_step(r, st, cancel_fd);
		emit_event(r, st);
		pthread_mutex_lock(&r->lock);
		atomic_store(&st->ended, 1);
		if (pw_map_count(st->outputs))
			r->with_outputs++;
		r->running--;
		r->finished++;
		step_over(r, st);
		schedule(r);
		/* wake idle workers only for queued steps, and the run only when it is over */
		if (r->queue_head != r->queue_tail)
			pthread_cond_broadcast(&r->cond);
		if (r->finished >= r->count)
			wake_run(r);
	}
	pthread_mutex_unlock(&r->lock);
	if (cancel_fd >= 0)
		close(cancel_fd);
	return NULL;
}

/* Acts on the cancel requests made so far: first, every running attempt but the `always`
 * steps'; second, everything. Steps already queued are cancelled as they start, steps still
 * waiting as their needs finish (decide). Lock held. */
static void apply_cancel(pw_run *r, int req)
{
	for (size_t i = 0; i < r->count; i++) {
		step_state *st = &r->steps[i];
		if (st->exec && (req >= 2 || st->step->when != PW_WHEN_ALWAYS))
			pw_exec_cancel(st->exec, PW_CANCEL_USER);
	}
}

/* The manager's statistics per connector type, as of the end of the run (cumulative over
 * every run the manager carried out). */
static json_t *connector_stats_json(pw_manager *m)
{
	json_t *a = json_array();
	pw_connector_stats st[32];
	size_t n = pw_manager_get_stats(m, st, sizeof(st) / sizeof(st[0]));
	if (n > sizeof(st) / sizeof(st[0]))
		n = sizeof(st) / sizeof(st[0]);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string(st[i].type));
		json_object_set_new(o, "created", json_integer((json_int_t)st[i].created));
		json_object_set_new(o, "cache_hits", json_integer((json_int_t)st[i].cache_hits));
		json_object_set_new(o, "executions", json_integer((json_int_t)st[i].executions));
		json_object_set_new(o, "successes", json_integer((json_int_t)st[i].successes));
		json_object_set_new(o, "failures", json_integer((json_int_t)st[i].failures));
		json_object_set_new(o, "total_ms", json_real(st[i].total_ms));
		json_object_set_new(o, "max_ms", json_real(st[i].max_ms));
		json_array_append_new(a, o);
	}
	return a;
}

/* One step's entry in result.json. */
/* result.json is written as it is serialized, one step at a time, through the masker: no
 * tree of every step and no copy of the whole text in memory (a large pipeline's result is
 * megabytes). The layout is what one JSON_INDENT(2) dump of the whole object would give. */
struct result_writer {
	pw_mask_stream *ms;
	int nested; /* inside "steps": every line goes 4 columns further in */
};

static void result_emit(const char *data, size_t len, void *payload)
{
	fwrite(data, 1, len, (FILE *)payload);
}

static int result_dump(const char *buffer, size_t size, void *data)
{
	struct result_writer *w = data;
	const char *p = buffer, *end = buffer + size;
	while (p < end) {
		const char *nl = w->nested ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		pw_mask_stream_write(w->ms, p, n);
		if (nl)
			pw_mask_stream_write(w->ms, "    ", 4);
		p += n;
	}
	return 0;
}

static void result_puts(struct result_writer *w, const char *text)
{
	result_dump(text, strlen(text), w);
}

/* A step's result.json entry is written directly, in the layout of a JSON_INDENT(2) dump
 * nested in "steps" (every line after the first 4 columns further in): a jansson tree and
 * its dump cost 60,000 instructions an entry, more than the rest of a step's bookkeeping. */
typedef struct entry_writer {
	pw_buf b;
	int depth; /* of the members being written: 1 inside the entry */
	int empty; /* nothing written yet inside the innermost object or array */
	int bad;   /* out of memory */
} entry_writer;

/* A line break and the indentation of the current depth (no printf: it was most of the cost). */
static void ew_line(entry_writer *w)
{
	static const char spaces[] = "\n                                                                ";
	size_t n = 1 + 4 + 2 * (size_t)w->depth;
	w->bad |= pw__buf_append(&w->b, spaces, n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1);
}

static void ew_next(entry_writer *w)
{
	if (!w->empty)
		w->bad |= pw__buf_putc(&w->b, ',');
	w->empty = 0;
	ew_line(w);
}

static void ew_key(entry_writer *w, const char *key)
{
	ew_next(w);
	pw__json_string_put(&w->b, &w->bad, key);
	w->bad |= pw__buf_puts(&w->b, ": ");
}

static void ew_open(entry_writer *w, char c)
{
	w->bad |= pw__buf_putc(&w->b, c);
	w->depth++;
	w->empty = 1;
}

static void ew_close(entry_writer *w, char c)
{
	w->depth--;
	if (!w->empty)
		ew_line(w);
	w->bad |= pw__buf_putc(&w->b, c);
	w->empty = 0;
}

static void ew_str(entry_writer *w, const char *key, const char *value)
{
	ew_key(w, key);
	if (value)
		pw__json_string_put(&w->b, &w->bad, value);
	else
		w->bad |= pw__buf_puts(&w->b, "null");
}

static void ew_int(entry_writer *w, const char *key, long long value)
{
	ew_key(w, key);
	char digits[25];
	digits[0] = '-';
	int n = pw__u64_text(digits + 1,
	                     value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value);
	w->bad |= pw__buf_append(&w->b, value < 0 ? digits : digits + 1, (size_t)n + (value < 0));
}

static void ew_map(entry_writer *w, const char *key, const pw_map *m)
{
	ew_key(w, key);
	ew_open(w, '{');
	for (size_t k = 0; k < pw_map_count(m); k++)
		ew_str(w, pw_map_key_at(m, k), pw_map_value_at(m, k));
	ew_close(w, '}');
}

/* A step's entry as result.json has it, masked; made while the run goes on so that writing
 * the file at the end costs little. NULL when out of memory (the entry is then made at the
 * end). */
static char *render_entry(pw_run *r, step_state *st)
{
	char ts[40];
	entry_writer w = {PW_BUF_INIT(0), 0, 1, 0};
	pw__buf_space(&w.b, 1000); /* an entry's usual size at once, not by doubling from 64 */
	ew_open(&w, '{');
	ew_str(&w, "name", st->step->name);
	ew_str(&w, "connector", st->type);
	ew_str(&w, "status", pw_step_status_name(st->status));
	if (st->allowed) {
		ew_key(&w, "allowed");
		w.bad |= pw__buf_puts(&w.b, "true");
	}
	ew_int(&w, "attempts", st->attempts);
	ew_key(&w, "needs");
	ew_open(&w, '[');
	for (size_t n = 0; n < st->step->needs_count; n++) {
		ew_next(&w);
		pw__json_string_put(&w.b, &w.bad, st->step->needs[n]);
	}
	ew_close(&w, ']');
	if (st->start_ms) {
		pw__iso8601(ts, sizeof(ts), st->started_unix_ms);
		ew_str(&w, "started_at", ts);
		ew_int(&w, "start_offset_ms", st->start_ms - r->start_ms);
		ew_int(&w, "duration_ms", st->end_ms - st->start_ms);
		ew_key(&w, "stats");
		ew_open(&w, '{');
		ew_int(&w, "stdout_bytes", (long long)st->out_bytes[0]);
		ew_int(&w, "stderr_bytes", (long long)st->out_bytes[1]);
		ew_int(&w, "output_lines", (long long)st->out_lines);
		ew_close(&w, '}');
	}
	if (st->result) {
		ew_int(&w, "exit_code", pw_result_exit_code(st->result));
		if (pw_result_signal(st->result))
			ew_int(&w, "signal", pw_result_signal(st->result));
		ew_map(&w, "metadata", pw_result_metadata_const(st->result));
	}
	if (pw_map_count(st->outputs))
		ew_map(&w, "outputs", st->outputs);
	if (st->error) {
		const pw_error *e = st->error;
		ew_key(&w, "error");
		ew_open(&w, '{');
		ew_str(&w, "code", pw_error_code_name(pw_error_code(e)));
		ew_str(&w, "message", pw_error_message(e));
		if (pw_error_operation(e))
			ew_str(&w, "operation", pw_error_operation(e));
		if (pw_error_key(e))
			ew_str(&w, "key", pw_error_key(e));
		if (pw_error_response(e))
			ew_str(&w, "response", pw_error_response(e));
		if (pw_error_hint(e))
			ew_str(&w, "hint", pw_error_hint(e));
		ew_close(&w, '}');
	}
	char logname[LOG_NAME_MAX];
	if (st->start_ms)
		ew_str(&w, "log", log_name(logname, st->step));
	ew_close(&w, '}');
	char *masked = w.bad ? NULL : pw_secrets_mask_str(r->secrets, pw__buf_cstr(&w.b));
	pw__buf_dispose(&w.b);
	return masked;
}

/* For the steps that ended since the last call: the empty log of a step that ran and printed
 * nothing, and the step's result.json entry. Steps before *from are all done; it moves past
 * those done now. Returns how many were done in this call. */
static size_t finish_ended(pw_run *r, size_t *from)
{
	size_t done = 0;
	int prefix = 1;
	for (size_t i = *from; i < r->count; i++) {
		step_state *st = &r->steps[i];
		/* no lock: the workers take it at every step's start and end */
		if (!atomic_load(&st->ended)) {
			prefix = 0; /* a long step does not hold back the ones after it */
			continue;
		}
		if (!st->entry) {
			if (st->start_ms && !st->log_opened) {
				st->log_opened = 1;
				make_empty_log(r, st);
			}
			st->entry = render_entry(r, st);
			done++;
		}
		if (prefix)
			*from = i + 1;
	}
	return done;
}

static void write_result_json(pw_run *r, const char *status)
{
	char ts[40];
	json_t *root = json_object();
	json_object_set_new(root, "schema_version", json_integer(1));
	json_object_set_new(root, "run_id", json_string(r->run_id));
	json_object_set_new(root, "pipeline", json_string(r->pipeline->name ? r->pipeline->name : ""));
	json_object_set_new(root, "pipeline_file", json_string(r->pipeline->path));
	json_object_set_new(root, "workspace", json_string(pw_workspace_root(r->ws)));
	pw__iso8601(ts, sizeof(ts), r->started_unix_ms);
	json_object_set_new(root, "started_at", json_string(ts));
	int64_t elapsed = pw__now_ms() - r->start_ms;
	pw__iso8601(ts, sizeof(ts), r->started_unix_ms + elapsed);
	json_object_set_new(root, "finished_at", json_string(ts));
	json_object_set_new(root, "duration_ms", json_integer(elapsed));
	json_object_set_new(root, "status", json_string(status));
	json_object_set_new(root, "connector_system_version", json_string(pw_version()));
	json_object_set_new(root, "jobs", json_integer(r->opts.jobs));
	json_object_set_new(root, "connector_stats", connector_stats_json(r->manager));
	char *head = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	char *close_brace = head ? strrchr(head, '}') : NULL;

	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/result.json", r->run_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = close_brace ? fopen(tmp, "we") : NULL;
	struct result_writer w = {NULL, 0};
	if (f && pw_mask_stream_new(&w.ms, r->secrets, result_emit, f) < 0) {
		fclose(f);
		f = NULL;
	}
	if (!f) {
		free(head);
		return;
	}
	/* a few large writes rather than one per 4 KiB (an entry is about 600 bytes) */
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	/* the head without its closing "\n}", then the steps */
	size_t head_len = (size_t)(close_brace - head);
	if (head_len && head[head_len - 1] == '\n')
		head_len--;
	result_dump(head, head_len, &w);
	free(head);
	result_puts(&w, ",\n  \"steps\": [");
	w.nested = 1;
	for (size_t i = 0; i < r->count; i++) {
		step_state *st = &r->steps[i];
		result_puts(&w, i ? ",\n" : "\n");
		if (!st->entry)
			st->entry = render_entry(r, st);
		/* already masked: past the masker (which holds nothing back at a line end); out of
		 * memory, an empty entry keeps the file valid */
		pw_mask_stream_flush(w.ms);
		fputs(st->entry ? st->entry : "{}", f);
	}
	w.nested = 0;
	result_puts(&w, r->count ? "\n  ]\n}\n" : "]\n}\n");
	pw_mask_stream_flush(w.ms);
	pw_mask_stream_free(w.ms);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void live_run_add(pw_run *r)
{
	pthread_mutex_lock(&live_runs_lock);
	if (live_runs_count == live_runs_cap) {
		size_t cap = live_runs_cap ? live_runs_cap * 2 : 4;
		const char **n = realloc(live_runs, cap * sizeof(*n));
		if (n)
			live_runs = n, live_runs_cap = cap;
	}
	if (live_runs_count < live_runs_cap)
		live_runs[live_runs_count++] = r->run_id;
	pthread_mutex_unlock(&live_runs_lock);
}

/* Removes r and returns a copy of the other live runs' ids (NULL-terminated; caller frees the
 * array and the strings with pw__proc_envp_free), or NULL when there are none. */
static char **live_run_remove(pw_run *r)
{
	pthread_mutex_lock(&live_runs_lock);
	for (size_t i = 0; i < live_runs_count; i++)
		if (live_runs[i] == r->run_id) {
			live_runs[i] = live_runs[--live_runs_count];
			break;
		}
	char **others = NULL;
	if (live_runs_count) {
		others = calloc(live_runs_count + 1, sizeof(char *));
		for (size_t i = 0; others && i < live_runs_count; i++)
			others[i] = strdup(live_runs[i]);
	}
	pthread_mutex_unlock(&live_runs_lock);
	return others;
}

static void on_stray(int pid, const char *command, const char *step, void *payload)
{
	pw_run *r = payload;
	run_log(r, PW_LOG_WARN, *step ? step : NULL,
	        "process %d was left running%s%s%s when the run ended; stopping it: %s", pid,
	        *step ? " by step '" : "", step, *step ? "'" : "", command);
	char detail[400];
	snprintf(detail, sizeof(detail), "pid %d: %s", pid, command);
	audit_run(r, *step ? step : NULL, "process_left_behind", "stopped", detail);
}

/* Ends what the steps left running (see pw__proc_end_strays): after the last step, also
 * after a cancel. */
static void end_strays(pw_run *r, char **other_runs)
{
	pw_proc_strays so = {0};
	so.run_id = r->run_id;
	so.since_boot_ms = r->start_boot_ms;
	so.grace_ms = atomic_load(&r->cancel_requests) >= 2 ? 0 : STRAY_GRACE_MS;
	so.on_stray = on_stray;
	so.payload = r;
	so.other_runs = (const char *const *)other_runs;
	size_t n = pw__proc_end_strays(&so);
	if (n)
		run_log(r, PW_LOG_INFO, NULL, "stopped %zu process%s left running by the steps", n,
		        n == 1 ? "" : "es");
}

/* The run's own thread while the workers run the steps: acts on cancel requests, finishes
 * the steps that ended (finish_ended), and returns when every step has, with how many it
 * finished. */
static size_t watch_run(pw_run *r)
{
	struct pollfd pfd = {r->cancel_pipe[0], POLLIN, 0};
	int handled = 0;
	size_t rendered = 0;
	/* the next run's directory, while this thread has nothing else to do (one there already
	 * stays) */
	if (r->spare_dir)
		mkdir(r->spare_dir, 0755);
	for (;;) {
		char buf[64];
		while (read(r->cancel_pipe[0], buf, sizeof(buf)) > 0)
			;
		pthread_mutex_lock(&r->lock);
		int req = atomic_load(&r->cancel_requests);
		if (req > handled)
			apply_cancel(r, req);
		int over = r->finished >= r->count;
		pthread_mutex_unlock(&r->lock);
		if (req > handled) {
			run_log(r, PW_LOG_WARN, NULL, "cancellation requested (%d)", req);
			handled = req;
		}
		if (over)
			return rendered;
		audit_release(r);
		size_t done = finish_ended(r, &rendered);
		/* woken by a cancel request or the run's end; in between, every 50 ms the entries of
		 * the steps that ended are finished, every 5 ms while steps end that fast (so that
		 * few are left for the end of the run) */
		poll(&pfd, 1, done ? 5 : 50);
	}
}

int pw_run_execute(pw_run *r, pw_error **err)
{
	r->started_unix_ms = pw__unix_ms();
	r->start_ms = pw__now_ms();
	struct timespec boot;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	r->start_boot_ms = (int64_t)boot.tv_sec * 1000 + boot.tv_nsec / 1000000;
	live_run_add(r);
	audit_run(r, NULL, "run_start", NULL, r->pipeline->path);
	run_log(r, PW_LOG_INFO, NULL, "run %s: %zu steps, %u parallel, workspace %s", r->run_id, r->count,
	        r->opts.jobs, pw_workspace_root(r->ws));
	unsigned int nworkers = r->opts.jobs < r->count ? r->opts.jobs : (unsigned int)r->count;
	if (!nworkers)
		nworkers = 1;
	pthread_t *workers = calloc(nworkers, sizeof(pthread_t));
	if (!workers) {
		pw__proc_envp_free(live_run_remove(r));
		return PW_ENOMEM;
	}
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->count; i++)
		if (r->steps[i].waiting == 0)
			r->ready[r->ready_count++] = i;
	schedule(r);
	pthread_mutex_unlock(&r->lock);
	unsigned int started = 0;
	for (; started < nworkers; started++)
		if (pthread_create(&workers[started], NULL, worker_main, r) != 0)
			break;
	int rc = 0;
	size_t finished = 0;
	if (!started) {
		rc = pw_error_set(err, PW_EIO, "cannot start worker threads");
	} else {
		finished = watch_run(r);
		pthread_mutex_lock(&r->lock);
		r->stopping = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
	for (unsigned int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	char **other_runs = live_run_remove(r);
	end_strays(r, other_runs);
	pw__proc_envp_free(other_runs);
	finish_ended(r, &finished);
	if (r->empty_log_made)
		unlinkat(r->dir_fd, EMPTY_LOG, 0);
	int failed = 0;
	for (size_t i = 0; i < r->count; i++)
		if ((r->steps[i].status == PW_STEP_FAILED || r->steps[i].status == PW_STEP_TIMED_OUT) &&
		    !r->steps[i].allowed)
			failed = 1;
	const char *status = "succeeded";
	if (rc == 0 && atomic_load(&r->cancel_requests) > 0) {
		rc = PW_ECANCELLED;
		status = "cancelled";
	} else if (rc == 0 && failed) {
		rc = PW_ESTEP;
		status = "failed";
	} else if (rc < 0) {
		status = "error";
	}
	write_result_json(r, status);
	audit_run(r, NULL, "run_end", status, NULL);
	run_log(r, PW_LOG_INFO, NULL, "run %s %s in %lld ms", r->run_id, status,
	        (long long)(pw__now_ms() - r->start_ms));
	return rc;
}

const char *pw_run_id(const pw_run *r)
{
	return r->run_id;
}

const char *pw_run_dir(const pw_run *r)
{
	return r->run_dir;
}

const pw_secrets *pw__run_secrets(const pw_run *r)
{
	return r->secrets;
}

size_t pw_run_step_count(const pw_run *r)
{
	return r->count;
}

const char *pw_run_step_name(const pw_run *r, size_t i)
{
	return i < r->count ? r->steps[i].step->name : NULL;
}

pw_step_status pw_run_step_status(const pw_run *r, size_t i)
{
	return i < r->count ? r->steps[i].status : PW_STEP_PENDING;
}

const pw_result *pw_run_step_result(const pw_run *r, size_t i)
{
	return i < r->count ? r->steps[i].result : NULL;
}

const pw_error *pw_run_step_error(const pw_run *r, size_t i)
{
	return i < r->count ? r->steps[i].error : NULL;
}

int pw_run_step_allowed(const pw_run *r, size_t i)
{
	return i < r->count && r->steps[i].allowed;
}

unsigned int pw_run_step_attempts(const pw_run *r, size_t i)
{
	return i < r->count ? r->steps[i].attempts : 0;
}

double pw_run_step_duration_ms(const pw_run *r, size_t i)
{
	return i < r->count && r->steps[i].start_ms ? (double)(r->steps[i].end_ms - r->steps[i].start_ms) : 0;
}
