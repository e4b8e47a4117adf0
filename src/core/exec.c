/* The execution context of one step attempt: masked output with a bounded capture,
 * cancellation (an eventfd that poll() can watch), a deadline timer, logs, audit, outputs. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/internal.h"
#include "pipewright/exec.h"

typedef struct capture {
	pw_mask_stream *ms;
	char *data;  /* the tail of the masked stream: [head, head + len) modulo limit */
	size_t head; /* 0 until the output has filled the window; then a ring of `limit` bytes */
	size_t len;  /* at most limit */
	size_t cap;  /* allocated: grows with the output, at most limit */
	size_t limit;
	uint64_t total;
	int truncated;
	char *view; /* NUL-terminated copy handed out by pw_exec_captured */
} capture;

struct pw_exec {
	char *run_id;
	char *step_name;
	char *journal; /* the run's resource journal path, or NULL (core/journal.h) */
	double timeout_s;
	pw_secrets *secrets;
	int own_secrets;
	pw_output_fn on_output;
	void *output_payload;
	pw_log_fn on_log;
	void *log_payload;
	pw_log_level log_level;
	pw_audit_fn on_audit;
	void *audit_payload;

	atomic_int cancel_reason;
	int cancel_fd;            /* eventfd: readable once cancelled (one descriptor, created in one call) */
	int own_cancel_fd;        /* ours to close; else the caller's, drained for its next exec */
	atomic_llong deadline_ms; /* monotonic; 0: none */

	void *hooks;                /* the run's lifecycle-hook sink, borrowed */
	struct pw_exec *timer_next; /* in the timer thread's list while armed (under its lock) */
	int timer_armed;

	pthread_mutex_t out_lock;
	capture cap[2];
	int current_stream; /* which capture the mask callback appends to */
	pw_map *outputs;
};

/* Makes room for `need` bytes (at most limit); the buffer grows on demand so that a step
 * that prints little costs little. Returns 0, or -1 when memory is exhausted (the chunk is
 * dropped from the capture; the console and log still get it). */
static int capture_reserve(capture *c, size_t need)
{
	if (need <= c->cap)
		return 0;
	size_t want = c->cap ? c->cap : 4096;
	while (want < need)
		want *= 2;
	if (want > c->limit)
		want = c->limit;
	char *p = realloc(c->data, want);
	if (!p)
		return -1;
	c->data = p;
	c->cap = want;
	return 0;
}

/* Keeps the last `limit` bytes: appended while they fit, then in a ring (each byte copied
 * once; compacting a buffer of twice the window copied each byte a second time). */
static void capture_append(capture *c, const char *data, size_t len)
{
	c->total += len;
	c->truncated = c->total > c->limit;
	if (len >= c->limit) {
		/* the chunk alone fills the window */
		if (capture_reserve(c, c->limit) < 0)
			return;
		memcpy(c->data, data + len - c->limit, c->limit);
		c->head = 0;
		c->len = c->limit;
		return;
	}
	if (c->head == 0 && c->len + len <= c->limit) {
		if (capture_reserve(c, c->len + len) < 0)
			return;
		memcpy(c->data + c->len, data, len);
		c->len += len;
		return;
	}
	if (capture_reserve(c, c->limit) < 0)
		return;
	size_t at = (c->head + c->len) % c->limit, first = c->limit - at;
	if (first > len)
		first = len;
	memcpy(c->data + at, data, first);
	memcpy(c->data, data + first, len - first);
	size_t held = c->len + len, dropped = held > c->limit ? held - c->limit : 0;
	c->len = held - dropped;
	c->head = (c->head + dropped) % c->limit;
}

static void masked_emit(const char *data, size_t len, void *payload)
{
	pw_exec *ex = payload;
	int idx = ex->current_stream;
	capture_append(&ex->cap[idx], data, len);
	if (ex->on_output)
		ex->on_output(ex->step_name, idx == 0 ? PW_STREAM_STDOUT : PW_STREAM_STDERR, data, len,
		              ex->output_payload);
}

/* The per-stream mask streams share one emit callback; each is written under out_lock with
 * current_stream set, so the callback knows where the bytes belong. */
static void emit_stdout(const char *data, size_t len, void *payload)
{
	pw_exec *ex = payload;
	ex->current_stream = 0;
	masked_emit(data, len, payload);
}

static void emit_stderr(const char *data, size_t len, void *payload)
{
	pw_exec *ex = payload;
	ex->current_stream = 1;
	masked_emit(data, len, payload);
}

static int exec_new(pw_exec **out, const pw_exec_options *opts, int cancel_fd, pw_error **err)
{
	*out = NULL;
	pw_exec_options defaults = PW_EXEC_OPTIONS_INIT;
	if (!opts)
		opts = &defaults;
	if (opts->version < 1 || opts->version > PW_EXEC_OPTIONS_VERSION)
		return pw_error_set(err, PW_EABI,
		                    "pw_exec_options version %u is not supported (this library: %d)",
		                    opts->version, PW_EXEC_OPTIONS_VERSION);
	pw_exec *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return PW_ENOMEM;
	ex->cancel_fd = -1;
	pthread_mutex_init(&ex->out_lock, NULL);
	ex->run_id = strdup(opts->run_id ? opts->run_id : "");
	ex->step_name = strdup(opts->step_name ? opts->step_name : "");
	ex->timeout_s = opts->timeout_seconds;
	ex->on_output = opts->on_output;
	ex->output_payload = opts->output_payload;
	ex->on_log = opts->on_log;
	ex->log_payload = opts->log_payload;
	ex->log_level = opts->log_level;
	ex->on_audit = opts->on_audit;
	ex->audit_payload = opts->audit_payload;
	ex->outputs = pw_map_new();
	int rc = 0;
	if (!ex->run_id || !ex->step_name || !ex->outputs)
		rc = PW_ENOMEM;
	if (!rc && opts->secrets) {
		ex->secrets = opts->secrets;
	} else if (!rc) {
		rc = pw_secrets_new(&ex->secrets);
		ex->own_secrets = 1;
	}
	if (!rc && cancel_fd >= 0)
		ex->cancel_fd = cancel_fd;
	else if (!rc && (ex->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		rc = pw_error_set(err, PW_EIO, "eventfd(): %s", strerror(errno));
	else
		ex->own_cancel_fd = 1;
	size_t limit = opts->capture_limit ? opts->capture_limit : PW_DEFAULT_CAPTURE_LIMIT;
	for (int i = 0; !rc && i < 2; i++) {
		ex->cap[i].limit = limit;
		rc = pw_mask_stream_new(&ex->cap[i].ms, ex->secrets, i == 0 ? emit_stdout : emit_stderr, ex);
	}
	if (rc) {
		pw_exec_free(ex);
		return rc == PW_ENOMEM ? pw_error_set(err, PW_ENOMEM, "out of memory creating a step context")
		                       : rc;
	}
	*out = ex;
	return 0;
}

int pw_exec_new(pw_exec **out, const pw_exec_options *opts, pw_error **err)
{
	return exec_new(out, opts, -1, err);
}

int pw__exec_new_with_cancel_fd(pw_exec **out, const pw_exec_options *opts, int cancel_fd, pw_error **err)
{
	return exec_new(out, opts, cancel_fd, err);
}

/* Deadlines: one timer thread per process serves every armed step (a thread per step would
 * cost a thread creation, its stack and a join per step). It cancels each exec whose deadline
 * passed, and exits after a while with nothing armed. The list is short (one entry per running
 * step), so it is kept unsorted. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pw_exec *armed;      /* linked through timer_next */
	int running;         /* the thread exists (joinable) */
	int stop;            /* the library is being unloaded */
	int thread_started;  /* `thread` was created and not yet joined */
	int64_t sleep_until; /* when the thread wakes next by itself (monotonic ms) */
	pthread_t thread;
} timers = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t timers_once = PTHREAD_ONCE_INIT;

#define TIMER_LINGER_MS 2000

static void timers_init(void)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&timers.cond, &attr);
	pthread_condattr_destroy(&attr);
}

static void abs_after(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void *timer_main(void *arg)
{
	pthread_mutex_lock(&timers.lock);
	int64_t idle_since = pw__now_ms();
	while (!timers.stop) {
		int64_t now = pw__now_ms(), next = INT64_MAX;
		for (pw_exec **pp = &timers.armed; *pp;) {
			pw_exec *ex = *pp;
			int64_t d = atomic_load(&ex->deadline_ms);
			if (d <= now) {
				/* under the lock: timer_stop cannot free ex meanwhile */
				pw_exec_cancel(ex, PW_CANCEL_TIMEOUT);
				*pp = ex->timer_next;
				ex->timer_next = NULL;
				ex->timer_armed = 0;
				continue;
			}
			if (d < next)
				next = d;
			pp = &ex->timer_next;
		}
		if (timers.armed)
			idle_since = now;
		else if (now - idle_since >= TIMER_LINGER_MS)
			break;
		struct timespec ts;
		int64_t wait = timers.armed ? next - now : TIMER_LINGER_MS;
		timers.sleep_until = now + wait;
		abs_after(&ts, wait);
		pthread_cond_timedwait(&timers.cond, &timers.lock, &ts);
	}
	/* leaving: the next pw_exec_start starts a new thread and joins this one */
	timers.running = 0;
	timers.sleep_until = 0;
	pthread_mutex_unlock(&timers.lock);
	return NULL;
}

void pw_exec_start(pw_exec *ex)
{
	if (!ex || ex->timeout_s <= 0)
		return;
	pthread_once(&timers_once, timers_init);
	atomic_store(&ex->deadline_ms, pw__now_ms() + (int64_t)(ex->timeout_s * 1000.0));
	pthread_mutex_lock(&timers.lock);
	if (!ex->timer_armed) {
		ex->timer_next = timers.armed;
		timers.armed = ex;
		ex->timer_armed = 1;
	}
	if (!timers.running && !timers.stop) {
		if (timers.thread_started) {
			/* the previous thread has left its loop (running == 0); reap it */
			pthread_t old = timers.thread;
			timers.thread_started = 0;
			pthread_mutex_unlock(&timers.lock);
			pthread_join(old, NULL);
			pthread_mutex_lock(&timers.lock);
		}
		if (!timers.running && !timers.thread_started &&
		    pthread_create(&timers.thread, NULL, timer_main, NULL) == 0) {
			timers.running = 1;
			timers.thread_started = 1;
		}
	}
	/* wake the thread only when this deadline comes before its own next wake-up: with many
	 * steps of the usual long timeouts, it sleeps through their starts */
	if (atomic_load(&ex->deadline_ms) < timers.sleep_until || !timers.sleep_until)
		pthread_cond_signal(&timers.cond);
	pthread_mutex_unlock(&timers.lock);
}

static void timer_stop(pw_exec *ex)
{
	if (ex->timeout_s <= 0)
		return; /* never armed */
	pthread_mutex_lock(&timers.lock);
	for (pw_exec **pp = &timers.armed; *pp; pp = &(*pp)->timer_next) {
		if (*pp == ex) {
			*pp = ex->timer_next;
			break;
		}
	}
	ex->timer_next = NULL;
	ex->timer_armed = 0;
	pthread_mutex_unlock(&timers.lock);
}

/* Unloading the library (dlclose, process exit): the thread must not outlive its code. */
__attribute__((destructor)) static void timers_shutdown(void)
{
	pthread_mutex_lock(&timers.lock);
	int started = timers.thread_started;
	timers.stop = 1;
	timers.thread_started = 0;
	if (started)
		pthread_cond_signal(&timers.cond);
	pthread_t t = timers.thread;
	pthread_mutex_unlock(&timers.lock);
	if (started)
		pthread_join(t, NULL);
}

void pw_exec_cancel(pw_exec *ex, pw_cancel_reason reason)
{
	if (!ex || reason == PW_CANCEL_NONE)
		return;
	int expected = PW_CANCEL_NONE;
	if (atomic_compare_exchange_strong(&ex->cancel_reason, &expected, (int)reason)) {
		uint64_t one = 1;
		ssize_t n = write(ex->cancel_fd, &one, sizeof(one));
		(void)n;
	}
}

pw_cancel_reason pw_exec_cancelled(const pw_exec *ex)
{
	return ex ? (pw_cancel_reason)atomic_load(&((pw_exec *)ex)->cancel_reason) : PW_CANCEL_NONE;
}

int pw_exec_cancel_fd(const pw_exec *ex)
{
	return ex ? ex->cancel_fd : -1;
}

int64_t pw_exec_remaining_ms(const pw_exec *ex)
{
	long long d = ex ? atomic_load(&((pw_exec *)ex)->deadline_ms) : 0;
	if (!d)
		return -1;
	int64_t left = d - pw__now_ms();
	return left > 0 ? left : 0;
}

static int ended(const pw_exec *ex)
{
	switch (pw_exec_cancelled(ex)) {
	case PW_CANCEL_NONE:
		return 0;
	case PW_CANCEL_TIMEOUT:
		return PW_ETIMEOUT;
	default:
		return PW_ECANCELLED;
	}
}

void pw__exec_set_hooks(pw_exec *ex, void *hooks)
{
	if (ex)
		ex->hooks = hooks;
}

void *pw__exec_hooks(const pw_exec *ex)
{
	return ex ? ex->hooks : NULL;
}

int pw_exec_sleep(pw_exec *ex, int64_t ms)
{
	int64_t until = pw__now_ms() + (ms > 0 ? ms : 0);
	for (;;) {
		int rc = ex ? ended(ex) : 0;
		if (rc)
			return rc;
		int64_t left = until - pw__now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = ex ? pw_exec_cancel_fd(ex) : -1, .events = POLLIN};
		if (poll(&p, 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
			return PW_EIO;
	}
}

void pw_exec_output(pw_exec *ex, pw_stream stream, const char *data, size_t len)
{
	if (!ex || !data || !len)
		return;
	int idx = stream == PW_STREAM_STDERR ? 1 : 0;
	pthread_mutex_lock(&ex->out_lock);
	pw_mask_stream_write(ex->cap[idx].ms, data, len);
	pthread_mutex_unlock(&ex->out_lock);
}

void pw_exec_flush(pw_exec *ex)
{
	if (!ex)
		return;
	pthread_mutex_lock(&ex->out_lock);
	for (int i = 0; i < 2; i++)
		if (ex->cap[i].ms)
			pw_mask_stream_flush(ex->cap[i].ms);
	pthread_mutex_unlock(&ex->out_lock);
}

void pw__exec_finish(pw_exec *ex)
{
	if (!ex)
		return;
	timer_stop(ex);
	pw_exec_flush(ex);
}

const char *pw_exec_captured(pw_exec *ex, pw_stream stream, int *truncated)
{
	int idx = stream == PW_STREAM_STDERR ? 1 : 0;
	pthread_mutex_lock(&ex->out_lock);
	capture *c = &ex->cap[idx];
	size_t n = c->len;
	char *v = realloc(c->view, n + 1);
	if (v) {
		size_t first = c->limit - c->head < n ? c->limit - c->head : n;
		if (first)
			memcpy(v, c->data + c->head, first);
		if (n > first)
			memcpy(v + first, c->data, n - first);
		v[n] = '\0';
		c->view = v;
	}
	if (truncated)
		*truncated = c->truncated;
	pthread_mutex_unlock(&ex->out_lock);
	return c->view ? c->view : "";
}

int pw_exec_log_enabled(const pw_exec *ex, pw_log_level level)
{
	return ex && ex->on_log && level <= ex->log_level;
}

void pw_exec_log(pw_exec *ex, pw_log_level level, const char *component, const char *fmt, ...)
{
	if (!pw_exec_log_enabled(ex, level))
		return;
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *masked = pw_secrets_mask_str(ex->secrets, pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	pw_log_record rec = {
	    level,        ex->run_id, ex->step_name, component ? component : "", masked ? masked : "",
	    pw__unix_ms()};
	ex->on_log(&rec, ex->log_payload);
	free(masked);
}

void pw__exec_audit_event(pw_exec *ex, const char *event, const char *outcome, const char *detail)
{
	if (!ex || !ex->on_audit)
		return;
	char *json =
	    pw__audit_json(ex->secrets, ex->run_id, ex->step_name, event, NULL, NULL, outcome, detail);
	if (json)
		ex->on_audit(json, ex->audit_payload);
	free(json);
}

void pw_exec_audit(pw_exec *ex, const char *action, const char *target, const char *outcome,
                   const char *detail)
{
	if (!ex || !ex->on_audit)
		return;
	char *json = pw__audit_json(ex->secrets, ex->run_id, ex->step_name, "mutation", action, target,
	                            outcome, detail);
	if (json)
		ex->on_audit(json, ex->audit_payload);
	free(json);
}

int pw_exec_add_secret(pw_exec *ex, const char *value, const char *label, pw_error **err)
{
	return pw_secrets_add(ex->secrets, value, label, err);
}

pw_secrets *pw_exec_secrets(pw_exec *ex)
{
	return ex ? ex->secrets : NULL;
}

int pw_exec_set_output(pw_exec *ex, const char *key, const char *value)
{
	return pw_map_set(ex->outputs, key, value);
}

const pw_map *pw_exec_outputs(const pw_exec *ex)
{
	return ex ? ex->outputs : NULL;
}

const char *pw_exec_run_id(const pw_exec *ex)
{
	return ex ? ex->run_id : "";
}

int pw__exec_set_journal(pw_exec *ex, const char *path)
{
	char *c = path ? strdup(path) : NULL;
	if (path && !c)
		return PW_ENOMEM;
	free(ex->journal);
	ex->journal = c;
	return 0;
}

const char *pw__exec_journal(const pw_exec *ex)
{
	return ex ? ex->journal : NULL;
}

const char *pw_exec_step_name(const pw_exec *ex)
{
	return ex ? ex->step_name : "";
}

void pw_exec_free(pw_exec *ex)
{
	if (!ex)
		return;
	timer_stop(ex);
	for (int i = 0; i < 2; i++) {
		if (ex->cap[i].ms) {
			pthread_mutex_lock(&ex->out_lock);
			pw_mask_stream_free(ex->cap[i].ms);
			ex->cap[i].ms = NULL;
			pthread_mutex_unlock(&ex->out_lock);
		}
		free(ex->cap[i].data);
		free(ex->cap[i].view);
	}
	if (ex->cancel_fd >= 0 && ex->own_cancel_fd) {
		close(ex->cancel_fd);
	} else if (ex->cancel_fd >= 0 && atomic_load(&ex->cancel_reason) != PW_CANCEL_NONE) {
		/* written once, by the cancel that set the reason (done: the timer is stopped above
		 * and the owner has withdrawn the exec from other threads); empty for the next */
		uint64_t v;
		ssize_t n = read(ex->cancel_fd, &v, sizeof(v));
		(void)n;
	}
	if (ex->own_secrets)
		pw_secrets_free(ex->secrets);
	pw_map_free(ex->outputs);
	free(ex->run_id);
	free(ex->step_name);
	free(ex->journal);
	pthread_mutex_destroy(&ex->out_lock);
	free(ex);
}
