/* What a run's steps left running when the run ends: found among this process's children when
 * it is a child subreaper, else by the run id in /proc/<pid>/environ; SIGTERM, a grace, SIGKILL,
 * and reaping. */
#define _GNU_SOURCE /* pidfd syscalls */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"

/* After the grace: how long SIGKILLed strays (and the children they leave) may take to go. */
#define STRAYS_KILL_SETTLE_MS 5000
/* Between two looks at what is left. */
#define STRAYS_POLL_MS 10
/* A command line as reported, at most. */
#define STRAYS_CMD_MAX 256
/* An environment read, at most (Linux passes at most 6 MiB of arguments and environment). */
#define STRAYS_ENV_MAX (8 << 20)
/* Processes followed at once, at most. */
#define STRAYS_MAX 4096

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = {0, STRAYS_POLL_MS * 1000000L};
	nanosleep(&ts, NULL);
}

/* Reads /proc/<pid>/<what> whole (up to max bytes) into a NUL-terminated buffer the caller
 * frees; *len: its length. NULL when it cannot be read. */
static char *read_proc(pid_t pid, const char *what, size_t max, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	while (b) {
		if (n == cap) {
			if (cap >= max)
				break;
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb)
				break;
			b = nb, cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				free(b), b = NULL;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (b) {
		b[n] = '\0';
		*len = n;
	}
	return b;
}

/* The value of key in an environment block read from /proc ("K=V\0K=V\0"), or NULL. */
static const char *env_value(const char *env, size_t len, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < len;) {
		const char *e = env + i;
		size_t el = strnlen(e, len - i);
		if (el > kl && memcmp(e, key, kl) == 0 && e[kl] == '=')
			return e + kl + 1;
		i += el + 1;
	}
	return NULL;
}

/* pid's state letter, process group and start time (clock ticks since boot); -1 when gone. */
static int read_stat(pid_t pid, char *state, pid_t *pgrp, unsigned long long *start)
{
	size_t len = 0;
	char *st = read_proc(pid, "stat", 4096, &len);
	if (!st)
		return -1;
	/* after the command name in parentheses (which may hold anything): state, ppid, pgrp,
	 * then fields 6 to 21; starttime is field 22 */
	const char *p = strrchr(st, ')');
	int rc = -1;
	if (p) {
		char s;
		int pg;
		unsigned long long t;
		if (sscanf(p + 1,
		           " %c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		           &s, &pg, &t) == 3) {
			*state = s;
			*pgrp = (pid_t)pg;
			*start = t;
			rc = 0;
		}
	}
	free(st);
	return rc;
}

/* pid's command line, arguments joined by spaces, into buf; "?" when unreadable. */
static void read_cmdline(pid_t pid, char *buf, size_t size)
{
	size_t len = 0;
	char *c = read_proc(pid, "cmdline", STRAYS_CMD_MAX, &len);
	size_t n = 0;
	if (c) {
		while (len && c[len - 1] == '\0')
			len--;
		for (size_t i = 0; i < len && n + 1 < size; i++)
			buf[n++] = c[i] ? c[i] : ' ';
		free(c);
	}
	if (!n)
		buf[n++] = '?';
	buf[n] = '\0';
}

/* The next process listed in the /proc directory d other than `self` (0: none): its pid, or 0
 * at the end. */
static pid_t next_pid(DIR *d, pid_t self)
{
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid != self)
			return pid;
	}
	return 0;
}

/* The children of this process: every thread's (an orphan goes to any live thread of its
 * subreaper), from /proc/self/task/<tid>/children, else by the parent pid in /proc/<pid>/stat.
 * Returns how many were put in pids (max at most). */
static size_t list_children(pid_t *pids, size_t max)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/task");
	int have_children_files = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char path[96];
		snprintf(path, sizeof(path), "task/%.32s/children", de->d_name);
		size_t len = 0;
		char *text = read_proc(getpid(), path, 1 << 20, &len);
		if (!text)
			continue;
		have_children_files = 1;
		for (char *p = text; *p && n < max;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v > 0)
				pids[n++] = (pid_t)v;
			p = end;
		}
		free(text);
	}
	if (d)
		closedir(d);
	if (have_children_files)
		return n;
	/* a kernel without CONFIG_PROC_CHILDREN */
	pid_t self = getpid();
	d = opendir("/proc");
	for (pid_t pid; n < max && (pid = next_pid(d, 0)) != 0;) {
		size_t len = 0;
		char *st = read_proc(pid, "stat", 4096, &len);
		const char *p = st ? strrchr(st, ')') : NULL;
		int ppid = 0;
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == (int)self)
			pids[n++] = pid;
		free(st);
	}
	if (d)
		closedir(d);
	return n;
}

static void report(const pw_proc_strays *o, pid_t pid, const char *step)
{
	if (!o->on_stray)
		return;
	char cmd[STRAYS_CMD_MAX + 1];
	read_cmdline(pid, cmd, sizeof(cmd));
	o->on_stray((int)pid, cmd, step ? step : "", o->payload);
}

/* 1 when a process whose environment names run (or NULL: none readable) belongs to another run
 * that is live in this process. */
static int other_live_run(const pw_proc_strays *o, const char *run)
{
	for (size_t i = 0; run && o->other_runs && o->other_runs[i]; i++)
		if (strcmp(run, o->other_runs[i]) == 0)
			return 1;
	return 0;
}

/* Our child, and its group when it leads one (never ours). Our unreaped child's pid, and the
 * group id it holds, cannot have been reused. */
static void signal_child(pid_t pid, pid_t pgrp, int sig)
{
	kill(pid, sig);
	if (pgrp == pid && pgrp != getpgrp())
		kill(-pgrp, sig);
}

struct tracked {
	pid_t pid;
	int pidfd; /* -1: none (fallback: kill by pid) */
	int killed;
};

static size_t end_children(const pw_proc_strays *o)
{
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	pid_t *pids = malloc(STRAYS_MAX * sizeof(pid_t));
	unsigned char *owned = malloc(STRAYS_MAX);
	struct tracked *t = malloc(STRAYS_MAX * sizeof(*t));
	size_t nt = 0, signalled = 0;
	int64_t start = mono_ms();
	int64_t grace_end = start + (o->grace_ms > 0 ? o->grace_ms : 0);
	int64_t give_up = grace_end + STRAYS_KILL_SETTLE_MS;
	while (pids && owned && t) {
		size_t n = list_children(pids, STRAYS_MAX);
		if (!n)
			break;
		int64_t now = mono_ms();
		if (pw__proc_owns((const int *)pids, n, owned) < 0) {
			/* a step of another run is being started: look again */
			if (now >= give_up)
				break;
			nap();
			continue;
		}
		size_t pending = 0;
		for (size_t i = 0; i < n; i++) {
			pid_t pid = pids[i];
			char state;
			pid_t pgrp;
			unsigned long long started;
			if (owned[i] || read_stat(pid, &state, &pgrp, &started) < 0)
				continue;
			size_t k = 0;
			while (k < nt && t[k].pid != pid)
				k++;
			int ours = k < nt;
			/* started before the run (in clock ticks, one tick of slack): not the run's */
			int young = (int64_t)(started * 1000 / (unsigned long long)hz) + 1000 / hz >=
			            o->since_boot_ms;
			if (state == 'Z' || state == 'X') {
				if (ours || young) {
					siginfo_t si;
					waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
				}
				if (ours)
					t[k] = t[--nt];
				continue;
			}
			if (!ours) {
				if (!young || nt == STRAYS_MAX)
					continue;
				size_t len = 0;
				char *env = read_proc(pid, "environ", STRAYS_ENV_MAX, &len);
				const char *run = env ? env_value(env, len, "PIPEWRIGHT_RUN_ID") : NULL;
				const char *step = env ? env_value(env, len, "PIPEWRIGHT_STEP") : NULL;
				int skip = other_live_run(o, run);
				if (!skip) {
					report(o, pid, run && strcmp(run, o->run_id) == 0 ? step : NULL);
					t[nt++] = (struct tracked){pid, -1, 0};
					k = nt - 1;
					signalled++;
					if (now < grace_end) {
						signal_child(pid, pgrp, SIGTERM);
						signal_child(pid, pgrp, SIGCONT);
					}
				}
				free(env);
				if (skip)
					continue;
			}
			if (now >= grace_end && !t[k].killed) {
				signal_child(pid, pgrp, SIGKILL);
				t[k].killed = 1;
			}
			pending++;
		}
		if (!pending || now >= give_up)
			break;
		nap();
	}
	free(pids);
	free(owned);
	free(t);
	return signalled;
}

static int send_signal(const struct tracked *s, int sig)
{
	if (s->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, s->pidfd, sig, NULL, 0);
	return kill(s->pid, sig);
}

/* The pid namespace of pid ("pid:[N]"), or "" when unreadable. */
static void pid_namespace(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	ssize_t n = readlink(path, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* Whether the process pid, whose environment is env (len bytes, NULL: unreadable), is one of
 * o's run: it names the run id (and o's workspace, when set; both sides resolved) and lives in
 * our pid namespace (own_ns). */
static int of_run(const pw_proc_strays *o, pid_t pid, const char *env, size_t len, const char *own_ns)
{
	const char *run = env ? env_value(env, len, "PIPEWRIGHT_RUN_ID") : NULL;
	if (!run || strcmp(run, o->run_id) != 0)
		return 0;
	char ns[64];
	pid_namespace(pid, ns, sizeof(ns));
	if (strcmp(ns, own_ns) != 0)
		return 0;
	if (!o->workspace)
		return 1;
	const char *ws = env_value(env, len, "PIPEWRIGHT_WORKSPACE");
	char a[PATH_MAX], b[PATH_MAX];
	return ws && !strcmp(realpath(ws, a) ? a : ws, realpath(o->workspace, b) ? b : o->workspace);
}

/* Not a subreaper: the processes that carry the run id, wherever they are in this pid
 * namespace (a container's processes are its engine's). */
static size_t end_by_environment(const pw_proc_strays *o)
{
	struct tracked *t = malloc(STRAYS_MAX * sizeof(*t));
	size_t nt = 0, signalled = 0;
	pid_t self = getpid();
	char own_ns[64];
	pid_namespace(self, own_ns, sizeof(own_ns));
	int64_t grace_end = mono_ms() + (o->grace_ms > 0 ? o->grace_ms : 0);
	int64_t give_up = grace_end + STRAYS_KILL_SETTLE_MS;
	while (t) {
		DIR *d = opendir("/proc");
		if (!d)
			break;
		int64_t now = mono_ms();
		size_t found = 0;
		for (pid_t pid; (pid = next_pid(d, self)) != 0;) {
			size_t k = 0;
			while (k < nt && t[k].pid != pid)
				k++;
			/* pinned first: what the environment says is then about the process the
			 * pidfd signals (a pid reused in between gets ESRCH, not our signal) */
			int pidfd = k < nt ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
			size_t len = 0;
			char *env = read_proc(pid, "environ", STRAYS_ENV_MAX, &len);
			if (!of_run(o, pid, env, len, own_ns)) {
				free(env);
				if (pidfd >= 0)
					close(pidfd);
				continue;
			}
			found++;
			if (k == nt) {
				if (nt == STRAYS_MAX) {
					free(env);
					if (pidfd >= 0)
						close(pidfd);
					continue;
				}
				report(o, pid, env_value(env, len, "PIPEWRIGHT_STEP"));
				t[nt++] = (struct tracked){pid, pidfd, 0};
				signalled++;
				if (now < grace_end) {
					send_signal(&t[k], SIGTERM);
					send_signal(&t[k], SIGCONT);
				}
			}
			free(env);
			if (now >= grace_end && !t[k].killed) {
				send_signal(&t[k], SIGKILL);
				t[k].killed = 1;
			}
		}
		closedir(d);
		if (!found || now >= give_up)
			break;
		nap();
	}
	for (size_t i = 0; i < nt; i++)
		if (t[i].pidfd >= 0)
			close(t[i].pidfd);
	free(t);
	return signalled;
}

size_t pw__proc_end_run_processes(const pw_proc_strays *opts)
{
	if (!opts || !opts->run_id || !*opts->run_id)
		return 0;
	return end_by_environment(opts);
}

void pw__proc_each_run_process(void (*fn)(const pw_run_process *p, void *payload), void *payload)
{
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	/* boot time, on the wall clock: what a start time in ticks since boot is measured from */
	struct timespec wall, boot;
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	int64_t boot_unix_ms =
	    ((int64_t)wall.tv_sec - boot.tv_sec) * 1000 + ((int64_t)wall.tv_nsec - boot.tv_nsec) / 1000000;
	pid_t self = getpid();
	char own_ns[64];
	pid_namespace(self, own_ns, sizeof(own_ns));
	DIR *d = opendir("/proc");
	for (pid_t pid; (pid = next_pid(d, self)) != 0;) {
		size_t len = 0;
		char *env = read_proc(pid, "environ", STRAYS_ENV_MAX, &len);
		const char *run = env ? env_value(env, len, "PIPEWRIGHT_RUN_ID") : NULL;
		char state;
		pid_t pgrp;
		unsigned long long started;
		char ns[64];
		if (run)
			pid_namespace(pid, ns, sizeof(ns));
		/* a container's processes (another pid namespace) are its engine's */
		if (run && !strcmp(ns, own_ns) && read_stat(pid, &state, &pgrp, &started) == 0 &&
		    state != 'Z' && state != 'X') {
			const char *ws = env_value(env, len, "PIPEWRIGHT_WORKSPACE");
			const char *step = env_value(env, len, "PIPEWRIGHT_STEP");
			char cmd[STRAYS_CMD_MAX + 1];
			read_cmdline(pid, cmd, sizeof(cmd));
			pw_run_process p = {
			    (int)pid,     run,
			    ws ? ws : "", step ? step : "",
			    cmd,          boot_unix_ms + (int64_t)(started * 1000 / (unsigned long long)hz)};
			fn(&p, payload);
		}
		free(env);
	}
	if (d)
		closedir(d);
}

size_t pw__proc_end_strays(const pw_proc_strays *opts)
{
	if (!opts || !opts->run_id || !*opts->run_id)
		return 0;
	int subreaper = 0;
	if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&subreaper, 0, 0, 0) != 0 || !subreaper)
		return end_by_environment(opts);
	siginfo_t si;
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
		return 0; /* no child at all: nothing was left (the usual case) */
	return end_children(opts);
}
