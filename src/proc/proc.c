/* Process spawning for steps: posix_spawn into a new process group, one poll() loop over the
 * pipes, the cancel fd and a pidfd (or short WNOHANG polling), SIGTERM then SIGKILL of the group. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np / addclosefrom_np, sigdescr_np */

#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define PROC_HAVE_ADDCHDIR 1
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define PROC_HAVE_ADDCLOSEFROM 1
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define PROC_HAVE_SIGDESCR 1
#endif

#define PROC_READ_CHUNK 65536
/* Without a pidfd, how often the child's exit is checked. */
#define PROC_PID_POLL_MS 20
/* After the final SIGKILL, how long pipes held by something outside the group (setsid) are
 * still drained before we stop listening. */
#define PROC_DRAIN_AFTER_KILL_MS 200

int pw__proc_test_no_pidfd;

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
	size_t in_off;
	int leader_exited; /* the child is a zombie: its pid and pgid cannot be reused yet */
	int lost;          /* someone else reaped it: never signal that pid again */
	char *rbuf;
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Only called before the child is reaped, so neither the pid nor the group id can have been
 * reused. The child itself too, in case it left the group (setsid). */
static void signal_group(struct proc_run *pr, int sig)
{
	if (pr->lost)
		return;
	kill(-pr->pid, sig);
	kill(pr->pid, sig);
	if (sig == SIGTERM) { /* a stopped process would not act on it */
		kill(-pr->pid, SIGCONT);
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

struct fd_map {
	int child_fd;
	int src_fd; /* in the parent; a CLOEXEC duplicate above every child_fd */
};

/* Spawns; on success pr->pid is set and the parent's ends are in pr. */
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
	maps[nmaps++] = (struct fd_map){1, p_out[1]};
	maps[nmaps++] = (struct fd_map){2, p_err[1]};
	if (p_cap[1] >= 0)
		maps[nmaps++] = (struct fd_map){o->capture_fd, p_cap[1]};
	if (p_in[0] >= 0)
		maps[nmaps++] = (struct fd_map){0, p_in[0]};
	for (size_t i = 0; i < o->extra_fd_count; i++)
		maps[nmaps++] = (struct fd_map){o->extra_fds[i].child_fd, o->extra_fds[i].parent_fd};

	/* Every source is first duplicated above the highest target, so that no dup2 in the child
	 * can overwrite a source that a later dup2 still needs. */
	int top = 2;
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].child_fd > top)
			top = maps[i].child_fd;
	for (size_t i = 0; i < nmaps; i++) {
		int d = fcntl(maps[i].src_fd, F_DUPFD_CLOEXEC, top + 1);
		if (d < 0) {
			rc = set_error(err, PW_EIO, NULL, "cannot run '%s': duplicating descriptor %d: %s",
			               name, maps[i].src_fd, os_reason(errno, rb, sizeof(rb)));
			for (size_t j = 0; j < i; j++)
				close(maps[j].src_fd);
			goto out;
		}
		maps[i].src_fd = d;
	}

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int e = posix_spawn_file_actions_init(&fa);
	if (e == 0) {
		e = posix_spawnattr_init(&attr);
		if (e != 0)
			posix_spawn_file_actions_destroy(&fa);
	}
	if (e != 0) {
		rc = spawn_failure(err, name, e);
		goto close_dups;
	}
	if (!o->stdin_data)
		e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	for (size_t i = 0; i < nmaps && e == 0; i++)
		e = posix_spawn_file_actions_adddup2(&fa, maps[i].src_fd, maps[i].child_fd);
#ifdef PROC_HAVE_ADDCLOSEFROM
	/* Descriptors opened without O_CLOEXEC by other code in this process stay ours. */
	if (e == 0)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, top + 1);
#endif
	if (e == 0 && o->cwd) {
#ifdef PROC_HAVE_ADDCHDIR
		e = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
#else
		e = ENOSYS;
#endif
	}
	/* A session of its own (so a process group of its own, pgid = pid) and no controlling
	 * terminal: a prompt on /dev/tty fails at once instead of stopping the step in a background
	 * group. */
#ifdef POSIX_SPAWN_SETSID
	short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#else
	short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#endif
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if (e == 0)
		e = posix_spawnattr_setflags(&attr, flags);
#ifndef POSIX_SPAWN_SETSID
	if (e == 0)
		e = posix_spawnattr_setpgroup(&attr, 0);
#endif
	if (e == 0)
		e = posix_spawnattr_setsigmask(&attr, &none);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(&attr, &all);
	if (e == 0) {
		*start = now_ms();
		e = posix_spawn(&pr->pid, path, &fa, &attr, (char *const *)o->argv,
		                (char *const *)(o->envp ? o->envp : (const char *const[]){NULL}));
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (e != 0)
		rc = spawn_failure(err, name, e);

close_dups:
	for (size_t i = 0; i < nmaps; i++)
		close(maps[i].src_fd);
out:
	/* The child's ends are the child's now (or nobody's on failure). */
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
	pr->out_fd = p_out[0];
	pr->err_fd = p_err[0];
	pr->cap_fd = p_cap[0];
	pr->in_fd = p_in[1];
	set_nonblock(pr->out_fd);
	set_nonblock(pr->err_fd);
	if (pr->cap_fd >= 0)
		set_nonblock(pr->cap_fd);
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

/* Reads once from *fd; closes it at end of file or on error. */
static void drain_fd(struct proc_run *pr, int *fd, int stream)
{
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
	char rb[128];

	for (;;) {
		int64_t now = now_ms();
		if (!stopping && !pr->leader_exited && deadline >= 0 && now >= deadline) {
			stopping = 1;
			r->timed_out = 1;
			signal_group(pr, SIGTERM);
			kill_at = now + grace;
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
		if (pr->leader_exited && !pipes_open)
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
		int timeout = -1;
		if (wake >= 0)
			timeout = wake - now > INT_MAX ? INT_MAX : (int)(wake > now ? wake - now : 0);

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
			drain_fd(pr, &pr->out_fd, PW_PROC_STDOUT);
		if (idx_err >= 0 && (fds[idx_err].revents & (in_ev | POLLNVAL)))
			drain_fd(pr, &pr->err_fd, PW_PROC_STDERR);
		if (idx_cap >= 0 && (fds[idx_cap].revents & (in_ev | POLLNVAL)))
			drain_fd(pr, &pr->cap_fd, 0);
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
		if (!pr->leader_exited && (pr->pidfd < 0 || (idx_pid >= 0 && fds[idx_pid].revents))) {
			check_leader(pr);
			if (pr->leader_exited) {
				int64_t t = now_ms();
				close_fd(&pr->in_fd);
				if (killed) {
					give_up_at = t + PROC_DRAIN_AFTER_KILL_MS;
				} else {
					/* What is left of its group is orphaned: ask it to go. */
					if (!stopping)
						signal_group(pr, SIGTERM);
					kill_at = earliest(kill_at, t + linger);
				}
			}
		}
	}
	/* Before reaping, while the zombie still holds the group id. */
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
	if (opts->cwd) {
		struct stat st;
		char rb[128];
		if (stat(opts->cwd, &st) < 0)
			return set_error(err, errno == ENOENT ? PW_ENOTFOUND : PW_EINVAL,
			                 "create the directory first or fix the step's working directory",
			                 "cannot run '%s': working directory '%s': %s", name, opts->cwd,
			                 os_reason(errno, rb, sizeof(rb)));
		if (!S_ISDIR(st.st_mode))
			return set_error(err, PW_EINVAL, NULL, "cannot run '%s': working directory '%s': %s",
			                 name, opts->cwd, "Not a directory");
		if (access(opts->cwd, X_OK) < 0)
			return set_error(err, PW_EPERM, NULL, "cannot run '%s': working directory '%s': %s",
			                 name, opts->cwd, os_reason(errno, rb, sizeof(rb)));
	}

	char *path = NULL;
	int rc = pw__proc_find_program(&path, name, pw__proc_envp_get(opts->envp, "PATH"), err);
	if (rc < 0)
		return rc;

	struct proc_run pr = {opts, out, -1, -1, -1, -1, -1, -1, 0, 0, 0, NULL};
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
#ifdef SYS_pidfd_open
	if (!pw__proc_test_no_pidfd)
		pr.pidfd = (int)syscall(SYS_pidfd_open, (int)pr.pid, 0); /* O_CLOEXEC by design */
	if (pr.pidfd < 0)
		pr.pidfd = -1;
#endif

	rc = proc_loop(&pr, start, err);

	int status = 0;
	pid_t w = -1;
	if (!pr.lost) {
		do
			w = waitpid(pr.pid, &status, 0);
		while (w < 0 && errno == EINTR);
	}
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
	free(pr.rbuf);
	return rc;
}
