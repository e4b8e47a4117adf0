/* Running one child process for a step: exact environment, own process group, streamed output,
 * deadline and cancellation with SIGTERM-then-SIGKILL of the whole group. Thread-safe. */
#ifndef PW_PROC_PROC_H
#define PW_PROC_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "pipewright/error.h"
#include "pipewright/map.h"

/* Searched for argv[0] when envp holds no PATH. */
#define PW_PROC_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define PW_PROC_DEFAULT_KILL_GRACE_MS 10000
#define PW_PROC_DEFAULT_LINGER_MS 500

/* Stream numbers passed to on_output. */
#define PW_PROC_STDOUT 1
#define PW_PROC_STDERR 2

/* An open descriptor of the caller handed to the child at a given number. */
typedef struct pw_proc_fd {
	int child_fd;  /* >= 3; the number the child sees */
	int parent_fd; /* borrowed: stays open in the caller, which closes it after the run */
} pw_proc_fd;

typedef struct pw_proc_options {
	unsigned int version;
	/* argv[0] with no '/' is looked up in the PATH of envp (not the host's); relative
	 * PATH entries are skipped. NULL-terminated. Borrowed. */
	const char *const *argv;
	/* The child's exact environment, "K=V" strings, NULL-terminated; NULL: empty. The host
	 * environment is never added. Borrowed. */
	const char *const *envp;
	const char *cwd;       /* the child's working directory, or NULL to inherit ours */
	int cancel_fd;         /* -1, or a descriptor that becomes readable when the process must
	                        * stop (e.g. pw_exec_cancel_fd); it is polled, never read */
	int64_t timeout_ms;    /* 0: none; measured from the spawn */
	int64_t kill_grace_ms; /* after a timeout or cancel: SIGTERM to the group, SIGKILL this
	                        * much later (0: at once) to whatever of the group is left, even
	                        * when the child itself exited sooner */
	int64_t linger_ms;     /* once the child has exited: how long what is left of its group
	                        * may keep our pipes open after a SIGTERM before SIGKILL */
	/* Called from the calling thread as soon as output is read; data is borrowed for the
	 * call and not NUL-terminated. NULL: output is discarded. */
	void (*on_output)(int stream, const char *data, size_t len, void *payload);
	void *payload;
	/* Bytes written to the child's stdin, then stdin is closed; NULL: stdin is /dev/null.
	 * Borrowed for the run. A child that exits without reading is not an error. */
	const char *stdin_data;
	size_t stdin_len;
	/* When capture_fd >= 3: the child gets the write end of a pipe at that number and
	 * everything it writes there is appended to *capture_out (the caller's buffer; its max
	 * bounds it: beyond, data is drained and dropped and result.capture_overflow is set). */
	int capture_fd;
	pw_buf *capture_out;
	/* Further descriptors for the child (count entries, borrowed). */
	const pw_proc_fd *extra_fds;
	size_t extra_fd_count;
	/* -1, or /dev/null opened by the caller (borrowed), for the child's stdin when there is no
	 * stdin_data: a caller that starts many children opens it once instead of each child. */
	int null_fd;
	/* -1, or an open directory (O_PATH is enough; borrowed) that the child fchdir()s to
	 * instead of walking cwd: the directory the caller checked is the one the child runs in,
	 * whatever is renamed or replaced by a symbolic link in between. cwd then only names it
	 * in messages (NULL: "(descriptor)"). */
	int cwd_fd;
} pw_proc_options;

#define PW_PROC_OPTIONS_VERSION 1
#define PW_PROC_OPTIONS_INIT                                                                     \
	{                                                                                        \
		PW_PROC_OPTIONS_VERSION, NULL, NULL, NULL, -1, 0, PW_PROC_DEFAULT_KILL_GRACE_MS, \
		    PW_PROC_DEFAULT_LINGER_MS, NULL, NULL, NULL, 0, -1, NULL, NULL, 0, -1, -1    \
	}

typedef struct pw_proc_result {
	int pid;              /* the child's pid (and process group id); not valid after the run */
	int exited;           /* 1 when it exited normally */
	int exit_code;        /* when exited */
	int term_signal;      /* the signal that ended it, 0 otherwise */
	int timed_out;        /* stopped because timeout_ms passed */
	int cancelled;        /* stopped because cancel_fd became readable */
	int killed;           /* SIGKILL was needed: it outlived SIGTERM by kill_grace_ms */
	int capture_overflow; /* the capture pipe got more than capture_out->max */
	int64_t duration_ms;  /* from the spawn to the reaping */
} pw_proc_result;

/* Runs opts->argv to completion: spawns it in a process group of its own (pgid = pid) and
 * without a controlling terminal with default signal dispositions, an empty signal
 * mask and only fds 0-2 (plus capture_fd and extra_fds) open; stdin from stdin_data or
 * /dev/null; stdout and stderr to on_output. Returns once the child is reaped and both pipes
 * are closed (or, after it exited, the rest of its group was killed and the pipes drained for
 * a bounded time: a background `sleep 1000 &` never makes a run hang). When the child exits,
 * whatever is left of its process group gets SIGTERM, then SIGKILL after linger_ms.
 *
 * Returns 0 once the process ran, whatever its status: *out tells how it ended (timeouts and
 * cancellation are flags there, not errors). Returns a negative code with *err set when it
 * could not be started: PW_ENOTFOUND ("cannot run 'foo': No such file or directory", hint
 * naming the PATH searched; also for a missing working directory, named in the message),
 * PW_EPERM (not executable), PW_EINVAL (bad options), PW_EIO (pipe/spawn failures). *out is
 * zeroed then (out->pid stays 0). On a timeout or cancel, the group gets SIGTERM (and SIGCONT)
 * and SIGKILL kill_grace_ms later: the whole group has that long to clean up (a trap in a
 * background shell included), not only the child. Signals go out before the child is reaped,
 * so the pid and group id cannot have been reused by then; the one exception is that grace:
 * once the child has exited, it is reaped and the rest of its group is watched with
 * kill(-pgid, 0), and a group id cannot be reused while any member of the group lives.
 *
 * Thread-safe: installs no signal handler and does not rely on SIGCHLD; the embedding program
 * must not reap children it did not start (waitpid(-1), SIGCHLD set to SIG_IGN). */
int pw__proc_run(pw_proc_result *out, const pw_proc_options *opts, pw_error **err);

/* For tests only: when non-zero, runs started afterwards do without a pidfd and notice the
 * child's exit by WNOHANG polling, as on kernels older than 5.3. Set it while no run is going. */
extern int pw__proc_test_no_pidfd;

/* For each of count pids, owned[i] = 1 when it is a child pw__proc_run is running now (in any
 * thread). Returns -1 when a spawn is under way (a child may exist that is not known yet: ask
 * again a little later), else 0. */
int pw__proc_owns(const int *pids, size_t count, unsigned char *owned);

/* Processes a run left behind (strays.c). */
typedef struct pw_proc_strays {
	const char *run_id;    /* the PIPEWRIGHT_RUN_ID every step of the run was given */
	int64_t since_boot_ms; /* CLOCK_BOOTTIME when the run started: children older than
	                        * that are not the run's */
	int64_t grace_ms;      /* from the first SIGTERM to SIGKILL */
	/* Called once for each process, as it gets its first signal: its pid, command line
	 * (arguments joined by spaces, shortened) and PIPEWRIGHT_STEP when readable (else "").
	 * Borrowed for the call. */
	void (*on_stray)(int pid, const char *command, const char *step, void *payload);
	void *payload;
	const char *const *other_runs; /* run ids live in this process besides this one, whose
	                                * processes are left alone; NULL-terminated or NULL */
	const char *workspace;         /* found by environment: also PIPEWRIGHT_WORKSPACE must be
	                                * this (NULL: any) */
} pw_proc_strays;

/* Ends what the run's steps left running, once no step of the run runs any more, and returns
 * how many processes it signalled.
 *
 * When this process is a child subreaper (PR_SET_CHILD_SUBREAPER), every orphaned descendant
 * of a step was reparented to it: its children that pw__proc_run is not running, that started
 * after since_boot_ms and whose environment does not name one of other_runs are the strays.
 * Each gets SIGTERM and SIGCONT (and so does its process group when it leads one), then
 * SIGKILL once grace_ms has passed since the first SIGTERM; their own children, reparented to
 * us as they die, are found in turn, until no stray is left (or grace_ms + 5 s have passed).
 * Strays are reaped with waitid(P_PID): so are the zombies of orphans that exited during the
 * run. The first look is one waitid(P_ALL, WNOHANG | WNOWAIT): ECHILD means nothing to do.
 *
 * Otherwise the processes whose environment holds PIPEWRIGHT_RUN_ID=run_id are found in
 * /proc/<pid>/environ (those this user may read) and signalled the same way through a pidfd;
 * a process that cleared its environment escapes that scan, and the processes' own parents
 * (or init) reap them. */
size_t pw__proc_end_strays(const pw_proc_strays *opts);

/* The second way of pw__proc_end_strays alone, for any process (pipewright gc: the steps of a
 * run that was killed, orphaned to init): the processes whose environment holds
 * PIPEWRIGHT_RUN_ID=run_id (and PIPEWRIGHT_WORKSPACE=workspace when set) get SIGTERM, SIGKILL
 * after grace_ms. Returns how many were signalled. */
size_t pw__proc_end_run_processes(const pw_proc_strays *opts);

/* A process whose environment carries a run id (a step's, or something a step started). */
typedef struct pw_run_process {
	int pid;
	const char *run_id;      /* PIPEWRIGHT_RUN_ID */
	const char *workspace;   /* PIPEWRIGHT_WORKSPACE, "" when absent */
	const char *step;        /* PIPEWRIGHT_STEP, "" when absent */
	const char *command;     /* its command line, arguments joined by spaces, shortened */
	int64_t started_unix_ms; /* when it started */
} pw_run_process;

/* Calls fn (borrowed fields, for the call) for every process but this one whose environment
 * this user can read and holds PIPEWRIGHT_RUN_ID. */
void pw__proc_each_run_process(void (*fn)(const pw_run_process *p, void *payload), void *payload);

/* Resolves a program name the way the child's execvp would, against path_value (a PATH
 * value; NULL: PW_PROC_DEFAULT_PATH). A name containing '/' is returned unchanged. Sets *out
 * to a string the caller frees (pw_free). Returns PW_ENOTFOUND when no entry holds it,
 * PW_EPERM when one holds it but not executable, with *err ("cannot run 'foo': ...") when
 * err is non-NULL. */
int pw__proc_find_program(char **out, const char *name, const char *path_value, pw_error **err);

/* The value of `key` in a "K=V" environment array, borrowed from it, or NULL. */
const char *pw__proc_envp_get(const char *const *envp, const char *key);

/* A NULL-terminated "K=V" array with the map's entries in order (keys that are empty or hold
 * '=' cannot be represented and are skipped). Caller frees with pw__proc_envp_free. NULL when
 * memory is exhausted. */
char **pw__proc_envp_from_map(const pw_map *m);
/* Frees an array from pw__proc_envp_from_map; NULL is fine. */
void pw__proc_envp_free(char **envp);

/* Appends a short English account of how the process ended to out: "exited with code 3",
 * "killed by signal 9 (Killed)", "timed out after 5000 ms (killed by signal 15 (Terminated))".
 * Returns 0 or PW_ENOMEM (out's max). */
int pw__proc_result_describe(pw_buf *out, const pw_proc_result *r, const pw_proc_options *opts);

#endif
