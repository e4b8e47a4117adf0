/* Process spawning for steps: a vfork-style clone into a process group of its own, one
 * poll() loop over the pipes, the cancel fd and a pidfd (or short WNOHANG polling), SIGTERM
 * then SIGKILL of the group. */
#define _GNU_SOURCE /* clone, sigdescr_np */

#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define PROC_HAVE_SIGDESCR 1
#endif

#define PROC_READ_CHUNK 65536
/* Without a pidfd, how often the child's exit is checked. */
#define PROC_PID_POLL_MS 20
/* After the final SIGKILL, how long pipes held by something outside the group (setsid) are
 * still drained before we stop listening. */
#define PROC_DRAIN_AFTER_KILL_MS 200
/* While the rest of a stopped group uses up its grace: how often we look whether it is gone. */
#define PROC_GROUP_POLL_MS 20

int pw__proc_test_no_pidfd;

/* The children pw__proc_run is running, for pw__proc_owns: whatever else is a child of this
 * process at a run's end was left behind (strays.c). Spawns between their clone and their
 * registration are counted, so that a child exiting at once is never taken for a stray. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *live_pids;
static size_t live_count, live_cap;
static unsigned int live_spawning;
static unsigned int live_unknown; /* running, but not in live_pids (no memory) */

static void live_spawn_begin(void)
{
	pthread_mutex_lock(&live_lock);
	live_spawning++;
	pthread_mutex_unlock(&live_lock);
}

/* pid > 0: registered (when there is no memory for it, counted in live_unknown instead). */
static void live_spawn_end(pid_t pid)
{
	pthread_mutex_lock(&live_lock);
	live_spawning--;
	if (pid > 0) {
		if (live_count == live_cap) {
			size_t cap = live_cap ? live_cap * 2 : 16;
			pid_t *n = realloc(live_pids, cap * sizeof(pid_t));
			if (n)
				live_pids = n, live_cap = cap;
		}
		if (live_count < live_cap)
			live_pids[live_count++] = pid;
		else
			live_unknown++;
	}
	pthread_mutex_unlock(&live_lock);
}

static void live_forget(pid_t pid)
{
	pthread_mutex_lock(&live_lock);
	size_t i = 0;
	while (i < live_count && live_pids[i] != pid)
		i++;
	if (i < live_count)
		live_pids[i] = live_pids[--live_count];
	else if (live_unknown)
		live_unknown--;
	pthread_mutex_unlock(&live_lock);
}

int pw__proc_owns(const int *pids, size_t count, unsigned char *owned)
{
	pthread_mutex_lock(&live_lock);
	int busy = live_spawning > 0 || live_unknown > 0;
	for (size_t i = 0; i < count; i++) {
		owned[i] = 0;
		for (size_t j = 0; j < live_count; j++)
			if (live_pids[j] == (pid_t)pids[i])
				owned[i] = 1;
	}
	pthread_mutex_unlock(&live_lock);
	return busy ? -1 : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* strerror, thread-safely. Returns buf or a static string. */
static const char *os_reason(int errnum, char *buf, size_t len)
{
#if defined(__GLIBC__)
	return strerror_r(errnum, buf, len); /* the GNU variant under _GNU_SOURCE */
#else
	if (strerror_r(errnum, buf, len) != 0)
		snprintf(buf, len, "error %d", errnum);
	return buf;
#endif
}

static const char *signal_desc(int sig)
{
#ifdef PROC_HAVE_SIGDESCR
	const char *d = sigdescr_np(sig);
	return d ? d : "unknown signal";
#else
	return strsignal(sig);
#endif
}

/* Sets *err (when empty) with a formatted message and an optional hint; returns code. */
static int set_error(pw_error **err, int code, const char *hint, const char *fmt, ...) PW_PRINTF(4, 5);
static int set_error(pw_error **err, int code, const char *hint, const char *fmt, ...)
{
	if (!err || *err)
		return code;
	pw_buf msg = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	*err = pw_error_new(code, "%s", pw__buf_cstr(&msg));
	pw__buf_dispose(&msg);
	if (*err && hint)
		pw_error_set_hint(*err, hint);
	return code;
}

int pw__proc_find_program(char **out, const char *name, const char *path_value, pw_error **err)
{
	*out = NULL;
	if (!name || !*name)
		return set_error(err, PW_EINVAL, NULL, "cannot run a program with an empty name");
	if (strchr(name, '/')) {
		*out = pw_strdup(name);
		return *out ? 0 : PW_ENOMEM;
	}
	if (!path_value)
		path_value = PW_PROC_DEFAULT_PATH;

	pw_buf cand = PW_BUF_INIT(0);
	int found_noexec = 0;
	const char *p = path_value;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		/* Relative entries ("", ".") would mean different directories to us and to the
		 * child after its chdir: skipped. */
		if (n > 0 && p[0] == '/') {
			pw__buf_clear(&cand);
			if (pw__buf_append(&cand, p, n) < 0 || pw__buf_putc(&cand, '/') < 0 ||
			    pw__buf_puts(&cand, name) < 0) {
				pw__buf_dispose(&cand);
				return set_error(err, PW_ENOMEM, NULL, "out of memory");
			}
			struct stat st;
			if (stat(cand.data, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(cand.data, X_OK) == 0) {
					*out = pw__buf_detach(&cand);
					return 0;
				}
				found_noexec = 1;
			}
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	pw__buf_dispose(&cand);

	pw_buf hint = PW_BUF_INIT(0);
	int rc;
	if (found_noexec) {
		pw__buf_printf(&hint,
		               "'%s' was found in PATH=%s but is not executable; make it executable "
		               "(chmod +x) or fix PATH in the step's environment",
		               name, path_value);
		rc = set_error(err, PW_EPERM, pw__buf_cstr(&hint), "cannot run '%s': %s", name,
		               "Permission denied");
	} else {
		pw__buf_printf(&hint,
		               "'%s' is in no directory of PATH=%s (the step's environment, not the "
		               "host's); install it, add its directory to PATH, or give its full path",
		               name, path_value);
		rc = set_error(err, PW_ENOTFOUND, pw__buf_cstr(&hint), "cannot run '%s': %s", name,
		               "No such file or directory");
	}
	pw__buf_dispose(&hint);
	return rc;
}

const char *pw__proc_envp_get(const char *const *envp, const char *key)
{
	if (!envp || !key)
		return NULL;
	size_t klen = strlen(key);
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], key, klen) == 0 && envp[i][klen] == '=')
			return envp[i] + klen + 1;
	return NULL;
}

char **pw__proc_envp_from_map(const pw_map *m)
{
	size_t count = m ? pw_map_count(m) : 0;
	char **envp = calloc(count + 1, sizeof(char *));
	if (!envp)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < count; i++) {
		const char *k = pw_map_key_at(m, i);
		const char *v = pw_map_value_at(m, i);
		if (!k || !*k || strchr(k, '='))
			continue;
		if (!v)
			v = "";
		size_t kl = strlen(k), vl = strlen(v);
		char *kv = malloc(kl + vl + 2);
		if (!kv) {
			pw__proc_envp_free(envp);
			return NULL;
		}
		memcpy(kv, k, kl);
		kv[kl] = '=';
		memcpy(kv + kl + 1, v, vl + 1);
		envp[j++] = kv;
	}
	return envp;
}

void pw__proc_envp_free(char **envp)
{
	if (!envp)
		return;
	for (size_t i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

int pw__proc_result_describe(pw_buf *out, const pw_proc_result *r, const pw_proc_options *opts)
{
	int rc = 0;
	if (r->timed_out)
		rc = pw__buf_printf(out, "timed out after %lld ms; ",
		                    (long long)(opts ? opts->timeout_ms : 0));
	else if (r->cancelled)
		rc = pw__buf_puts(out, "cancelled; ");
	if (rc < 0)
		return rc;
	if (r->exited)
		rc = pw__buf_printf(out, "exited with code %d", r->exit_code);
	else if (r->term_signal)
		rc = pw__buf_printf(out, "killed by signal %d (%s)", r->term_signal,
		                    signal_desc(r->term_signal));
	else
		rc = pw__buf_puts(out, "ended with an unknown status");
	if (rc == 0 && r->killed)
		rc = pw__buf_printf(out, " after ignoring SIGTERM for %lld ms",
		                    (long long)(opts ? opts->kill_grace_ms : 0));
	return rc;
}

/* ---- one run ---- */

struct proc_run {
	const pw_proc_options *o;
	pw_proc_result *r;
	pid_t pid;
	int pidfd;  /* -1: none (old kernel, seccomp): WNOHANG polling instead */
	int out_fd; /* parent ends; -1 once closed */
	int err_fd;
	int cap_fd;
	int in_fd;
	/* The child's write ends of the output pipes, kept open here until the child has exited
	 * (with a pidfd only): so its exit wakes us once, at the pidfd, rather than first for the
	 * pipes closing half-way through its exit and again for the exit itself. -1: closed. */
	int held[3];
	size_t in_off;
	int leader_exited; /* the child is a zombie: its pid and pgid cannot be reused yet */
	int lost;          /* someone else reaped it: never signal that pid again */
	int reaped;        /* we reaped it already (status holds its wait status) */
	int status;
	char *rbuf;
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Closes the write ends held for the child; returns 1 when there were any. */
static int release_held(struct proc_run *pr)
{
	int any = 0;
	for (int i = 0; i < 3; i++) {
		any |= pr->held[i] >= 0;
		close_fd(&pr->held[i]);
	}
	return any;
}

/* Only called before the child is reaped, so neither the pid nor the group id can have been
 * reused. The child itself too while it lives, in case it left the group (setsid); once it is
 * a zombie, only what is left of its group. */
static void signal_group(struct proc_run *pr, int sig)
{
	if (pr->lost)
		return;
	kill(-pr->pid, sig);
	if (!pr->leader_exited)
		kill(pr->pid, sig);
	if (sig == SIGTERM) { /* a stopped process would not act on it */
		kill(-pr->pid, SIGCONT);
		if (!pr->leader_exited)
			kill(pr->pid, SIGCONT);
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int spawn_failure(pw_error **err, const char *name, int e)
{
	char rb[128];
	const char *reason = os_reason(e, rb, sizeof(rb));
	pw_buf hint = PW_BUF_INIT(0);
	int code = PW_EIO;
	if (e == ENOENT) {
		code = PW_ENOTFOUND;
		pw__buf_printf(&hint,
		               "check that '%s' exists; for a script, also that the interpreter on its "
		               "'#!' line exists",
		               name);
	} else if (e == EACCES || e == EPERM) {
		code = PW_EPERM;
		pw__buf_printf(&hint,
		               "make '%s' executable (chmod +x) and check that its file system is not "
		               "mounted noexec",
		               name);
	} else if (e == ENOEXEC) {
		pw__buf_printf(&hint,
		               "'%s' is not a program this system can run; a script needs a '#!' first "
		               "line naming its interpreter",
		               name);
	} else if (e == EMFILE || e == ENFILE || e == EAGAIN || e == ENOMEM) {
		pw__buf_puts(&hint, "the system is out of processes, descriptors or memory; retry later or "
		                    "raise the limits");
	}
	int rc =
	    set_error(err, code, hint.len ? pw__buf_cstr(&hint) : NULL, "cannot run '%s': %s", name, reason);
	pw__buf_dispose(&hint);
	return rc;
}

/* The prefix of the variables that carry earlier steps' outputs (see the shell connector). */
#define OUTPUTS_ENV_PREFIX "PIPEWRIGHT_STEP_"

/* execve said E2BIG: tells which limit was passed. Linux refuses one string longer than 32
 * pages (MAX_ARG_STRLEN), and all of them together (with a pointer each) beyond a quarter of
 * the stack size limit (what sysconf reports as ARG_MAX), and never more than 6 MiB. */
static int too_big_failure(pw_error **err, const char *name, const char *const *argv, const char *const *envp)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t one_max = (size_t)(page > 0 ? page : 4096) * 32;
	size_t total = 0, count = 0, outputs = 0, outputs_bytes = 0, biggest = 0;
	const char *big = NULL;
	int big_is_env = 0;
	for (int env = 0; env < 2; env++) {
		const char *const *v = env ? envp : argv;
		for (size_t i = 0; v && v[i]; i++) {
			size_t n = strlen(v[i]) + 1;
			total += n + sizeof(char *);
			count += (size_t)env;
			if (env && strncmp(v[i], OUTPUTS_ENV_PREFIX, strlen(OUTPUTS_ENV_PREFIX)) == 0)
				outputs++, outputs_bytes += n;
			if (n > biggest)
				biggest = n, big = v[i], big_is_env = env;
		}
	}
	if (big && biggest > one_max) {
		const char *eq = big_is_env ? strchr(big, '=') : NULL;
		int name_len = eq ? (int)(eq - big) : 0;
		const char *hint = "pass a value this large in a file (written by an earlier step, or kept "
		                   "in the workspace) rather than in the environment or on the command line";
		if (eq)
			return set_error(err, PW_ECONFIG, hint,
			                 "cannot run '%s': environment variable '%.*s' takes %zu bytes "
			                 "(name=value), over Linux's limit of %zu for one variable",
			                 name, name_len, big, biggest - 1, one_max - 1);
		return set_error(err, PW_ECONFIG, hint,
		                 "cannot run '%s': an argument holds %zu bytes, over Linux's limit of %zu "
		                 "bytes for one argument",
		                 name, biggest - 1, one_max - 1);
	}
	/* the kernel takes at most three quarters of its default 8 MiB stack limit */
	long arg_max = sysconf(_SC_ARG_MAX);
	if (arg_max <= 0 || arg_max > 6L * 1024 * 1024)
		arg_max = 6L * 1024 * 1024;
	pw_buf hint = PW_BUF_INIT(0);
	if (outputs)
		pw__buf_printf(&hint,
		               "%zu of the variables (%zu bytes) are outputs of earlier steps (%s*): have "
		               "steps write fewer or smaller outputs, or ",
		               outputs, outputs_bytes, OUTPUTS_ENV_PREFIX);
	else
		pw__buf_puts(&hint, "pass fewer or smaller variables and arguments, or ");
	pw__buf_puts(&hint, "raise the stack size limit (ulimit -s): a quarter of it, up to 6 MiB, is the "
	                    "limit");
	int rc = set_error(err, PW_ECONFIG, pw__buf_cstr(&hint),
	                   "cannot run '%s': its arguments and environment (%zu variables) take %zu "
	                   "bytes, over this system's limit of %ld bytes",
	                   name, count, total, arg_max);
	pw__buf_dispose(&hint);
	return rc;
}

struct fd_map {
	int child_fd;
	int src_fd; /* in the parent; above every child_fd (duplicated there when it was not) */
	int dup;    /* src_fd is our duplicate, closed after the spawn */
};

/* Where the child failed, reported back through memory it shares with us until execve. */
enum { SPAWN_OK, SPAWN_FAIL_SETUP, SPAWN_FAIL_CHDIR, SPAWN_FAIL_EXEC };

struct spawn_args {
	const char *path;
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int cwd_fd; /* >= 0: fchdir to it, cwd unused */
	const struct fd_map *maps;
	size_t nmaps;
	int stdin_null;     /* stdin from /dev/null opened here (no stdin_data, no null_fd) */
	int tty_fd;         /* -1: no controlling terminal to leave; else /dev/tty, opened by us */
	int close_from;     /* every descriptor from here up is closed */
	int fd_limit;       /* without close_range: closed up to here (RLIMIT_NOFILE) */
	uint64_t rt_reset;  /* real-time signals above 33 to reset too (bit sig - 1) */
	volatile int stage; /* SPAWN_FAIL_*, set by the child */
	volatile int err;   /* its errno */
};

/* The kernel's struct sigaction for rt_sigaction (not libc's): a zeroed one is SIG_DFL. */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROC_NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#if !defined(PROC_NO_ASAN) && defined(__SANITIZE_ADDRESS__)
#define PROC_NO_ASAN __attribute__((no_sanitize_address))
#endif
#ifndef PROC_NO_ASAN
#define PROC_NO_ASAN
#endif

static PROC_NO_ASAN void child_fail(struct spawn_args *a, int stage)
{
	a->err = errno;
	a->stage = stage;
	syscall(SYS_exit_group, 127);
}

/* The child between clone and execve. It runs on a stack inside proc_spawn's frame and shares
 * our memory (CLONE_VM | CLONE_VFORK: the parent thread waits until execve or exit), so it
 * makes raw system calls only: no allocation, no locks, no interposed libc function. Every
 * signal is blocked on entry (by the parent), so no handler of ours can run here. */
static PROC_NO_ASAN int spawn_child(void *arg)
{
	struct spawn_args *a = arg;
	/* Default dispositions: execve keeps ignored signals ignored (a parent that ignores
	 * SIGPIPE, a `nohup` SIGHUP, or 32 and 33, which glibc's posix_spawn leaves ignored in
	 * every program it starts, must not hand that on to the step), and a handler must not
	 * run in this shared-memory child once the mask is cleared. The standard signals and
	 * glibc's two are reset always; the other real-time ones when found set (rt_reset). */
	struct kernel_sigaction dfl = {0};
	for (int sig = 1; sig <= 64; sig++)
		if (sig <= 33 ? sig != SIGKILL && sig != SIGSTOP : (a->rt_reset >> (sig - 1)) & 1)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	/* A process group of its own (pgid = pid), and no controlling terminal: a prompt on
	 * /dev/tty fails at once instead of stopping the step. Not setsid(): a new session also
	 * gets a scheduler group of its own (autogroup), which costs more than the rest of the
	 * child's work together. TIOCNOTTY from a process that does not lead its session only
	 * drops the terminal for that process; without a terminal the open fails (ENXIO). */
	if (syscall(SYS_setpgid, 0, 0) < 0)
		child_fail(a, SPAWN_FAIL_SETUP);
	if (a->tty_fd >= 0)
		syscall(SYS_ioctl, a->tty_fd, TIOCNOTTY, 0);
	/* before the descriptors are moved and closed: cwd_fd may be among them */
	if (a->cwd_fd >= 0 && syscall(SYS_fchdir, a->cwd_fd) < 0)
		child_fail(a, SPAWN_FAIL_CHDIR);
	if (a->stdin_null) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
		if (fd < 0)
			child_fail(a, SPAWN_FAIL_SETUP);
		if (fd != 0 && (syscall(SYS_dup3, fd, 0, 0) < 0 || syscall(SYS_close, fd) < 0))
			child_fail(a, SPAWN_FAIL_SETUP);
	}
	/* every source is above every target, so no dup3 overwrites a later source; dup3 clears
	 * close-on-exec on the target */
	for (size_t i = 0; i < a->nmaps; i++)
		if (syscall(SYS_dup3, a->maps[i].src_fd, a->maps[i].child_fd, 0) < 0)
			child_fail(a, SPAWN_FAIL_SETUP);
	/* descriptors opened without O_CLOEXEC by other code in this process stay ours */
	if (syscall(SYS_close_range, (unsigned)a->close_from, ~0U, 0) < 0) {
		if (errno != ENOSYS && errno != EINVAL)
			child_fail(a, SPAWN_FAIL_SETUP);
		for (int fd = a->close_from; fd < a->fd_limit; fd++) /* kernels before 5.9 */
			syscall(SYS_close, fd);
	}
	if (a->cwd_fd < 0 && a->cwd && syscall(SYS_chdir, a->cwd) < 0)
		child_fail(a, SPAWN_FAIL_CHDIR);
	uint64_t none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
	syscall(SYS_execve, a->path, a->argv, a->envp);
	child_fail(a, SPAWN_FAIL_EXEC);
	return 127;
}

/* The real-time signals above glibc's two that this process does not leave at SIG_DFL, found
 * at the first spawn: they are rarely touched, and asking for all 31 at every spawn would
 * double the child's work. (One ignored later by the embedding program is not reset.) */
static uint64_t rt_signals_to_reset(void)
{
	static int done;
	static uint64_t mask;
	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		return mask;
	uint64_t m = 0;
	for (int sig = 34; sig <= 64 && sig <= SIGRTMAX; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
			m |= (uint64_t)1 << (sig - 1);
	}
	mask = m;
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return m;
}

/* How far a child without close_range closes descriptors: the soft RLIMIT_NOFILE, read once
 * (a race between two first spawns only reads it twice). */
static int fd_limit(void)
{
	static int cached;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (!v) {
		long m = sysconf(_SC_OPEN_MAX);
		v = m > 0 && m < (1 << 20) ? (int)m : 1 << 20;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* Our controlling terminal, opened for the child to leave it (TIOCNOTTY), or -1 when we have
 * none. Without one (CI, services, nohup) the answer is kept for a second, for this process
 * in this session: a session gains a terminal only through its leader, and that open costs
 * 3 us a step. A forked child or a new session (setsid) asks again. */
static int open_ctty(void)
{
	static struct {
		int64_t until;
		uint64_t who; /* pid and session of the answer */
	} none;
	int64_t now = now_ms();
	uint64_t who = (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)getsid(0);
	if (now < __atomic_load_n(&none.until, __ATOMIC_ACQUIRE) &&
	    who == __atomic_load_n(&none.who, __ATOMIC_RELAXED))
		return -1;
	int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENXIO) {
		__atomic_store_n(&none.until, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&none.who, who, __ATOMIC_RELAXED);
		__atomic_store_n(&none.until, now + 1000, __ATOMIC_RELEASE);
	}
	return fd;
}

/* Spawns; on success pr->pid is set and the parent's ends are in pr. One clone with
 * CLONE_VM | CLONE_VFORK and a child that only makes system calls: no stack to map and unmap
 * and no page tables to copy, unlike posix_spawn (which also resets all 64 signals) or fork. */
static int proc_spawn(struct proc_run *pr, const char *path, int64_t *start, pw_error **err)
{
	const pw_proc_options *o = pr->o;
	const char *name = o->argv[0];
	int p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, p_cap[2] = {-1, -1}, p_in[2] = {-1, -1};
	struct fd_map maps[4 + 64];
	size_t nmaps = 0;
	int rc = 0;
	char rb[128];

	if (o->extra_fd_count > 64)
		return set_error(err, PW_EINVAL, NULL, "cannot run '%s': more than 64 extra descriptors",
		                 name);
	if (pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 ||
	    (o->capture_fd >= 3 && pipe2(p_cap, O_CLOEXEC) < 0) ||
	    (o->stdin_data && pipe2(p_in, O_CLOEXEC) < 0)) {
		rc = set_error(err, PW_EIO, NULL, "cannot run '%s': pipe: %s", name,
		               os_reason(errno, rb, sizeof(rb)));
		goto out;
	}
	maps[nmaps++] = (struct fd_map){1, p_out[1], 0};
	maps[nmaps++] = (struct fd_map){2, p_err[1], 0};
	if (p_cap[1] >= 0)
		maps[nmaps++] = (struct fd_map){o->capture_fd, p_cap[1], 0};
	if (p_in[0] >= 0)
		maps[nmaps++] = (struct fd_map){0, p_in[0], 0};
	else if (o->null_fd >= 0)
		maps[nmaps++] = (struct fd_map){0, o->null_fd, 0};
	for (size_t i = 0; i < o->extra_fd_count; i++)
		maps[nmaps++] = (struct fd_map){o->extra_fds[i].child_fd, o->extra_fds[i].parent_fd, 0};

	/* A source at or below the highest target could be overwritten by an earlier dup3 in the
	 * child: it is duplicated above first (the usual case, fresh pipes above 2, needs none). */
	int top = 2;
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].child_fd > top)
			top = maps[i].child_fd;
	for (size_t i = 0; i < nmaps; i++) {
		if (maps[i].src_fd > top)
			continue;
		int d = fcntl(maps[i].src_fd, F_DUPFD_CLOEXEC, top + 1);
		if (d < 0) {
			rc = set_error(err, PW_EIO, NULL, "cannot run '%s': duplicating descriptor %d: %s",
			               name, maps[i].src_fd, os_reason(errno, rb, sizeof(rb)));
			goto close_dups;
		}
		maps[i].src_fd = d;
		maps[i].dup = 1;
	}

	struct spawn_args a = {
	    .path = path,
	    .argv = (char *const *)o->argv,
	    .envp = (char *const *)(o->envp ? o->envp : (const char *const[]){NULL}),
	    .cwd = o->cwd,
	    .cwd_fd = o->cwd_fd,
	    .maps = maps,
	    .nmaps = nmaps,
	    .stdin_null = !o->stdin_data && o->null_fd < 0,
	    .tty_fd = open_ctty(),
	    .close_from = top + 1,
	    .fd_limit = fd_limit(),
	    .rt_reset = rt_signals_to_reset(),
	    .stage = SPAWN_OK,
	    .err = 0,
	};
	/* The child's stack: this frame is not in use while the clone call waits for the child's
	 * execve or exit. */
	_Alignas(64) char stack[16384];
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	live_spawn_begin();
	*start = now_ms();
	/* CLONE_PIDFD (Linux 5.2) hands us the pidfd with the pid, race-free and in the same call;
	 * a kernel without it says EINVAL, and the child is started without */
	int pidfd = -1, flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
	int with_pidfd = !pw__proc_test_no_pidfd;
	pid_t pid = -1;
#ifdef CLONE_PIDFD
	if (with_pidfd)
		pid = clone(spawn_child, stack + sizeof(stack), flags | CLONE_PIDFD, &a, &pidfd);
	with_pidfd = with_pidfd && (pid >= 0 || errno != EINVAL);
#else
	with_pidfd = 0;
#endif
	if (!with_pidfd)
		pid = clone(spawn_child, stack + sizeof(stack), flags, &a);
	int clone_errno = errno;
	live_spawn_end(pid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (a.tty_fd >= 0)
		close(a.tty_fd);
	if (pid < 0) {
		rc = spawn_failure(err, name, clone_errno);
	} else if (a.stage != SPAWN_OK) {
		/* it has exited: reap it here, no caller will see its pid */
		if (pidfd >= 0)
			close(pidfd);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		live_forget(pid);
		if (a.stage == SPAWN_FAIL_CHDIR)
			rc = set_error(err,
			               a.err == ENOENT   ? PW_ENOTFOUND
			               : a.err == EACCES ? PW_EPERM
			                                 : PW_EINVAL,
			               "create the directory first or fix the step's working directory",
			               "cannot run '%s': working directory '%s': %s", name,
			               o->cwd ? o->cwd : "(descriptor)", os_reason(a.err, rb, sizeof(rb)));
		else if (a.stage == SPAWN_FAIL_SETUP)
			rc = set_error(err, PW_EIO, NULL, "cannot run '%s': setting up the process: %s", name,
			               os_reason(a.err, rb, sizeof(rb)));
		else if (a.err == E2BIG)
			rc = too_big_failure(err, name, o->argv, o->envp);
		else
			rc = spawn_failure(err, name, a.err);
	} else {
		pr->pid = pid;
		pr->pidfd = pidfd >= 0 ? pidfd : -1;
	}

close_dups:
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].dup)
			close(maps[i].src_fd);
out:
	/* The child's ends are the child's now (or nobody's on failure); with a pidfd, its output
	 * ends are held until it has exited (see proc_run.held). */
	if (rc == 0 && pr->pidfd >= 0) {
		pr->held[0] = p_out[1], p_out[1] = -1;
		pr->held[1] = p_err[1], p_err[1] = -1;
		pr->held[2] = p_cap[1], p_cap[1] = -1;
	}
	close_fd(&p_out[1]);
	close_fd(&p_err[1]);
	close_fd(&p_cap[1]);
	close_fd(&p_in[0]);
	if (rc < 0) {
		close_fd(&p_out[0]);
		close_fd(&p_err[0]);
		close_fd(&p_cap[0]);
		close_fd(&p_in[1]);
		return rc;
	}
	/* The read ends stay blocking: they are read only when poll() says so, and one read then
	 * returns what is there. */
	pr->out_fd = p_out[0];
	pr->err_fd = p_err[0];
	pr->cap_fd = p_cap[0];
	pr->in_fd = p_in[1];
	if (pr->in_fd >= 0) {
		set_nonblock(pr->in_fd);
		if (o->stdin_len == 0)
			close_fd(&pr->in_fd);
	}
	return 0;
}

static void deliver_capture(struct proc_run *pr, const char *data, size_t len)
{
	pw_buf *b = pr->o->capture_out;
	if (!b || pr->r->capture_overflow) {
		pr->r->capture_overflow = pr->r->capture_overflow || (b == NULL);
		return;
	}
	size_t room = len;
	if (b->max && b->len + len > b->max)
		room = b->max > b->len ? b->max - b->len : 0;
	if (room && pw__buf_append(b, data, room) < 0)
		room = 0;
	if (room < len)
		pr->r->capture_overflow = 1;
}

/* Reads once from *fd; closes it at end of file or on error. revents: what poll() said; a
 * pipe that hung up with nothing left in it is at its end without a read. */
static void drain_fd(struct proc_run *pr, int *fd, int stream, short revents)
{
	if ((revents & (POLLHUP | POLLIN)) == POLLHUP) {
		close_fd(fd);
		return;
	}
	ssize_t n = read(*fd, pr->rbuf, PROC_READ_CHUNK);
	if (n > 0) {
		if (stream == 0)
			deliver_capture(pr, pr->rbuf, (size_t)n);
		else if (pr->o->on_output)
			pr->o->on_output(stream, pr->rbuf, (size_t)n, pr->o->payload);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	close_fd(fd);
}

/* Writes the next piece of stdin_data. SIGPIPE is blocked in this thread for the write (and a
 * SIGPIPE it raised is consumed), so that a child that does not read cannot kill us. */
static void feed_stdin(struct proc_run *pr)
{
	size_t left = pr->o->stdin_len - pr->in_off;
	size_t chunk = left < PROC_READ_CHUNK ? left : PROC_READ_CHUNK;
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigemptyset(&pending);
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGPIPE);
	ssize_t n = write(pr->in_fd, pr->o->stdin_data + pr->in_off, chunk);
	int e = errno;
	if (n < 0 && e == EPIPE && !was_pending) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (n > 0) {
		pr->in_off += (size_t)n;
		if (pr->in_off >= pr->o->stdin_len)
			close_fd(&pr->in_fd);
		return;
	}
	if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR))
		return;
	close_fd(&pr->in_fd);
}

/* Notices the child's exit without reaping it. */
static void check_leader(struct proc_run *pr)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pr->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			return;
		pr->lost = 1; /* ECHILD: reaped elsewhere */
		pr->leader_exited = 1;
		return;
	}
	if (si.si_pid == pr->pid)
		pr->leader_exited = 1;
}

/* Reaps the exited child (a zombie: this does not block) and keeps its status for the
 * caller. From here on kill(-pid, 0) tells whether anything of its group is left: a group id
 * cannot be taken by a new process while a member of the group lives. */
static void reap_leader(struct proc_run *pr)
{
	if (pr->lost || pr->reaped)
		return;
	pid_t w;
	do
		w = waitpid(pr->pid, &pr->status, 0);
	while (w < 0 && errno == EINTR);
	if (w == pr->pid) {
		pr->reaped = 1;
		live_forget(pr->pid);
	} else {
		pr->lost = 1;
	}
}

/* 1 while some process of the (reaped) child's group lives. Members that became our children
 * (this process is a child subreaper: orphans are reparented to it) and exited are reaped
 * first, or their zombies would keep the group "alive" until the grace is over. */
static int group_alive(struct proc_run *pr)
{
	if (pr->lost)
		return 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PGID, (id_t)pr->pid, &si, WEXITED | WNOHANG) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (si.si_pid == 0)
			break;
	}
	return kill(-pr->pid, 0) == 0 || errno != ESRCH;
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static int proc_loop(struct proc_run *pr, int64_t start, pw_error **err)
{
	const pw_proc_options *o = pr->o;
	pw_proc_result *r = pr->r;
	int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : -1;
	int64_t grace = o->kill_grace_ms > 0 ? o->kill_grace_ms : 0;
	int64_t linger = o->linger_ms > 0 ? o->linger_ms : 0;
	int64_t kill_at = -1, give_up_at = -1;
	int stopping = 0, killed = 0, cancel_live = o->cancel_fd >= 0;
	int settle = 0;      /* the child exited and the held ends were closed: look at the pipes once
	                      * more before deciding whether anything else holds them */
	int group_grace = 0; /* stopping, the child was reaped: the rest of its group has until
	                      * kill_at to exit after its SIGTERM */
	char rb[128];

	for (;;) {
		int64_t now = now_ms();
		if (!stopping && !pr->leader_exited && deadline >= 0 && now >= deadline) {
			stopping = 1;
			r->timed_out = 1;
			signal_group(pr, SIGTERM);
			kill_at = now + grace;
		}
		if (group_grace && !killed && !group_alive(pr)) {
			/* the whole group went within its grace: nothing to kill; pipes still open
			 * are held from outside it (setsid) and drained a little longer */
			killed = 1;
			give_up_at = now + PROC_DRAIN_AFTER_KILL_MS;
		}
		if (!killed && kill_at >= 0 && now >= kill_at) {
			signal_group(pr, SIGKILL);
			killed = 1;
			if (pr->leader_exited)
				give_up_at = now + PROC_DRAIN_AFTER_KILL_MS;
			else if (stopping)
				r->killed = 1;
		}
		int pipes_open = pr->out_fd >= 0 || pr->err_fd >= 0 || pr->cap_fd >= 0;
		if (pr->leader_exited && !pipes_open && !(group_grace && !killed))
			break;
		if (pr->leader_exited && give_up_at >= 0 && now >= give_up_at)
			break;

		int64_t wake = -1;
		if (!stopping && !pr->leader_exited)
			wake = earliest(wake, deadline);
		if (!killed)
			wake = earliest(wake, kill_at);
		wake = earliest(wake, give_up_at);
		if (pr->pidfd < 0 && !pr->leader_exited)
			wake = earliest(wake, now + PROC_PID_POLL_MS);
		if (group_grace && !killed)
			wake = earliest(wake, now + PROC_GROUP_POLL_MS);
		int timeout = -1;
		if (wake >= 0)
			timeout = wake - now > INT_MAX ? INT_MAX : (int)(wake > now ? wake - now : 0);
		if (settle)
			timeout = 0;

		struct pollfd fds[6];
		int idx_out = -1, idx_err = -1, idx_cap = -1, idx_in = -1, idx_cancel = -1, idx_pid = -1;
		nfds_t n = 0;
#define PROC_ADD(idx, fdv, ev)        \
	do {                          \
		idx = (int)n;         \
		fds[n].fd = (fdv);    \
		fds[n].events = (ev); \
		fds[n].revents = 0;   \
		n++;                  \
	} while (0)
		if (pr->out_fd >= 0)
			PROC_ADD(idx_out, pr->out_fd, POLLIN);
		if (pr->err_fd >= 0)
			PROC_ADD(idx_err, pr->err_fd, POLLIN);
		if (pr->cap_fd >= 0)
			PROC_ADD(idx_cap, pr->cap_fd, POLLIN);
		if (pr->in_fd >= 0)
			PROC_ADD(idx_in, pr->in_fd, POLLOUT);
		if (cancel_live && !stopping && !pr->leader_exited)
			PROC_ADD(idx_cancel, o->cancel_fd, POLLIN);
		if (pr->pidfd >= 0 && !pr->leader_exited)
			PROC_ADD(idx_pid, pr->pidfd, POLLIN);
#undef PROC_ADD

		int ready = poll(fds, n, timeout);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			signal_group(pr, SIGKILL);
			return set_error(err, PW_EIO, NULL, "waiting for '%s': poll: %s", o->argv[0],
			                 os_reason(e, rb, sizeof(rb)));
		}
		const short in_ev = POLLIN | POLLHUP | POLLERR;
		if (idx_out >= 0 && (fds[idx_out].revents & (in_ev | POLLNVAL)))
			drain_fd(pr, &pr->out_fd, PW_PROC_STDOUT, fds[idx_out].revents);
		if (idx_err >= 0 && (fds[idx_err].revents & (in_ev | POLLNVAL)))
			drain_fd(pr, &pr->err_fd, PW_PROC_STDERR, fds[idx_err].revents);
		if (idx_cap >= 0 && (fds[idx_cap].revents & (in_ev | POLLNVAL)))
			drain_fd(pr, &pr->cap_fd, 0, fds[idx_cap].revents);
		if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)))
			feed_stdin(pr);
		if (idx_cancel >= 0) {
			short rev = fds[idx_cancel].revents;
			if (rev & POLLNVAL) {
				cancel_live = 0; /* not a descriptor: the caller's bug, not a request */
			} else if (rev & in_ev) {
				stopping = 1;
				r->cancelled = 1;
				signal_group(pr, SIGTERM);
				kill_at = now_ms() + grace;
			}
		}
		int decide = 0;
		if (!pr->leader_exited && (pr->pidfd < 0 || (idx_pid >= 0 && fds[idx_pid].revents))) {
			check_leader(pr);
			if (pr->leader_exited) {
				close_fd(&pr->in_fd);
				if (stopping && !killed) {
					/* A timeout or cancel sent SIGTERM to the whole group: all of
					 * it, not only the child, gets the rest of kill_grace to clean
					 * up. The child is reaped so that kill(-pgid, 0) can tell when
					 * the group is gone. */
					reap_leader(pr);
					group_grace = !pr->lost;
				}
				if (release_held(pr))
					settle = 1;
				else
					decide = 1;
			}
		} else if (settle) {
			settle = 0;
			decide = 1;
		}
		if (decide) {
			int64_t t = now_ms();
			if (killed) {
				give_up_at = t + PROC_DRAIN_AFTER_KILL_MS;
			} else if (group_grace) {
				/* the group's grace runs on (see the top of the loop) */
			} else if (pr->out_fd >= 0 || pr->err_fd >= 0 || pr->cap_fd >= 0) {
				/* What is left of its group holds our pipes: ask it to go. */
				if (!stopping)
					signal_group(pr, SIGTERM);
				kill_at = earliest(kill_at, t + linger);
			}
			/* else the run is over; the SIGKILL below takes whatever of the group does
			 * not hold the pipes */
		}
	}
	/* Before reaping, while the zombie still holds the group id. (Reaped already only with
	 * group_grace, and then killed is set.) */
	if (!killed)
		signal_group(pr, SIGKILL);
	return 0;
}

int pw__proc_run(pw_proc_result *out, const pw_proc_options *opts, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	if (!opts || !opts->argv || !opts->argv[0])
		return set_error(err, PW_EINVAL, NULL, "cannot run a process: no program given");
	if (opts->version != PW_PROC_OPTIONS_VERSION)
		return set_error(err, PW_EINVAL, NULL, "cannot run '%s': unknown pw_proc_options version %u",
		                 opts->argv[0], opts->version);
	const char *name = opts->argv[0];
	if (opts->capture_fd >= 0 && (opts->capture_fd < 3 || !opts->capture_out))
		return set_error(err, PW_EINVAL, NULL,
		                 "cannot run '%s': capture_fd must be >= 3 and come with capture_out", name);
	for (size_t i = 0; i < opts->extra_fd_count; i++) {
		const pw_proc_fd *f = &opts->extra_fds[i];
		int dup_target = f->child_fd == opts->capture_fd;
		for (size_t j = 0; j < i; j++)
			dup_target = dup_target || opts->extra_fds[j].child_fd == f->child_fd;
		if (f->child_fd < 3 || f->parent_fd < 0 || dup_target)
			return set_error(
			    err, PW_EINVAL, NULL,
			    "cannot run '%s': extra descriptor %d -> %d is invalid or used twice", name,
			    f->parent_fd, f->child_fd);
	}

	char *path = NULL;
	int rc = pw__proc_find_program(&path, name, pw__proc_envp_get(opts->envp, "PATH"), err);
	if (rc < 0)
		return rc;

	struct proc_run pr = {opts, out, -1, -1, -1, -1, -1, -1, {-1, -1, -1}, 0, 0, 0, 0, 0, NULL};
	pr.rbuf = malloc(PROC_READ_CHUNK);
	if (!pr.rbuf) {
		free(path);
		return set_error(err, PW_ENOMEM, NULL, "cannot run '%s': out of memory", name);
	}
	int64_t start = 0;
	rc = proc_spawn(&pr, path, &start, err);
	free(path);
	if (rc < 0) {
		free(pr.rbuf);
		return rc;
	}
	out->pid = (int)pr.pid;

	rc = proc_loop(&pr, start, err);

	int status = pr.status;
	pid_t w = pr.reaped ? pr.pid : -1;
	if (!pr.lost && !pr.reaped) {
		do
			w = waitpid(pr.pid, &status, 0);
		while (w < 0 && errno == EINTR);
	}
	if (!pr.reaped) /* (reap_leader forgot it already) */
		live_forget(pr.pid);
	out->duration_ms = now_ms() - start;
	if (w == pr.pid) {
		if (WIFEXITED(status)) {
			out->exited = 1;
			out->exit_code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			out->term_signal = WTERMSIG(status);
		}
	} else if (rc == 0) {
		rc = set_error(err, PW_EIO,
		               "the program embedding pipewright must not reap children it did not start "
		               "(waitpid(-1) or SIGCHLD set to SIG_IGN)",
		               "lost track of '%s' (pid %d): it was reaped elsewhere", name, (int)pr.pid);
	}
	close_fd(&pr.out_fd);
	close_fd(&pr.err_fd);
	close_fd(&pr.cap_fd);
	close_fd(&pr.in_fd);
	close_fd(&pr.pidfd);
	release_held(&pr);
	free(pr.rbuf);
	return rc;
}
