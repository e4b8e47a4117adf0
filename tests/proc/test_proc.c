/* Tests of the process layer: exit status, streams, environment, cwd, stdin, deadlines and
 * cancellation of whole process groups, leftover background children, errors, concurrency. */
#define _GNU_SOURCE /* ptsname_r */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"
#include "pwtest.h"

/* PW_TEST substitutes its parameter into the `.name` member access, so any case name other than
 * `name` fails to compile; this registers cases the same way until pwtest.h is fixed. */
#define PROC_TEST(tname)                                                    \
	static void pwt_##tname(void);                                      \
	__attribute__((constructor)) static void pwt_register_##tname(void) \
	{                                                                   \
		if (pwt_case_count < PWT_MAX_CASES) {                       \
			pwt_cases[pwt_case_count].name = #tname;            \
			pwt_cases[pwt_case_count].fn = pwt_##tname;         \
			pwt_case_count++;                                   \
		}                                                           \
	}                                                                   \
	static void pwt_##tname(void)

static const char *const std_env[] = {"PATH=/usr/bin:/bin", NULL};

struct cap {
	pw_buf out;
	pw_buf err;
	size_t out_bytes;
	size_t err_bytes;
	int keep; /* append to out/err, not only count */
};

static void on_output(int stream, const char *data, size_t len, void *payload)
{
	struct cap *c = payload;
	if (stream == PW_PROC_STDOUT) {
		c->out_bytes += len;
		if (c->keep)
			pw__buf_append(&c->out, data, len);
	} else if (stream == PW_PROC_STDERR) {
		c->err_bytes += len;
		if (c->keep)
			pw__buf_append(&c->err, data, len);
	}
}

static void cap_init(struct cap *c)
{
	memset(c, 0, sizeof(*c));
	c->out.max = c->err.max = 1 << 20;
	c->keep = 1;
}

static void cap_dispose(struct cap *c)
{
	pw__buf_dispose(&c->out);
	pw__buf_dispose(&c->err);
}

/* Options for `sh -c script` with the standard environment and c as the output sink. */
static pw_proc_options sh_opts(const char *const *argv, struct cap *c)
{
	pw_proc_options o = PW_PROC_OPTIONS_INIT;
	o.argv = argv;
	o.envp = std_env;
	o.on_output = on_output;
	o.payload = c;
	o.timeout_ms = 20000; /* a safety net: no test case should ever get near it */
	return o;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pwproc.XXXXXX");
	if (!mkdtemp(tmpdir))
		tmpdir[0] = '\0';
}

static void remove_tmpdir(const char *const *files)
{
	char p[256];
	for (size_t i = 0; files && files[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

/* Writes tmpdir/name with the given text and mode into path (size len); 0 on success. */
static int tmp_file(char *path, size_t len, const char *name, const char *text, mode_t mode)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

/* A working directory that cannot be entered (a file here) is reported from the child's chdir, naming the
 * directory; no child is left behind. */
PROC_TEST(working_directory_that_is_a_file_is_named)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char file[256];
	PW_REQUIRE(tmp_file(file, sizeof(file), "notadir", "", 0755) == 0);
	const char *argv[] = {"true", NULL};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	o.cwd = file;
	pw_proc_result r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	char want[320];
	snprintf(want, sizeof(want), "cannot run 'true': working directory '%s': Not a directory", file);
	PW_CHECK_STR(pw_error_message(err), want);
	PW_CHECK_INT(r.pid, 0);
	pw_error_free(err);
	int status;
	PW_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
	const char *files[] = {"notadir", NULL};
	remove_tmpdir(files);
}

static pid_t read_pid(const char *file)
{
	char p[256], text[32] = {0};
	snprintf(p, sizeof(p), "%s/%s", tmpdir, file);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	char *end = NULL;
	long v = strtol(text, &end, 10);
	return (end != text && v > 1 && v < INT_MAX) ? (pid_t)v : -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* 1 when pid is gone or a zombie (an orphan waiting for its reaper is dead too); waits up to
 * one second for it to get there. */
static int pid_dead(pid_t pid)
{
	for (int i = 0; i < 50; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
		char p[64], st[512] = {0};
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(p, "r");
		if (f) {
			size_t n = fread(st, 1, sizeof(st) - 1, f);
			fclose(f);
			st[n] = '\0';
			const char *rp = strrchr(st, ')');
			if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
				return 1;
		}
		sleep_ms(20);
	}
	return 0;
}

PROC_TEST(exit_codes)
{
	int codes[] = {0, 1, 3, 42, 255};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char script[32];
		snprintf(script, sizeof(script), "exit %d", codes[i]);
		const char *argv[] = {"sh", "-c", script, NULL};
		struct cap c;
		cap_init(&c);
		pw_proc_options o = sh_opts(argv, &c);
		pw_proc_result r;
		pw_error *err = NULL;
		PW_CHECK_INT(pw__proc_run(&r, &o, &err), 0);
		PW_CHECK(err == NULL);
		PW_CHECK_INT(r.exited, 1);
		PW_CHECK_INT(r.exit_code, codes[i]);
		PW_CHECK_INT(r.term_signal, 0);
		PW_CHECK_INT(r.timed_out, 0);
		PW_CHECK_INT(r.cancelled, 0);
		PW_CHECK(r.pid > 0);
		pw_error_free(err);
		cap_dispose(&c);
	}
}

PROC_TEST(stdout_and_stderr_are_separate)
{
	const char *argv[] = {"sh", "-c", "echo out1; echo err1 >&2; printf 'out2'; printf 'err2\\n' >&2",
	                      NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "out1\nout2");
	PW_CHECK_STR(pw__buf_cstr(&c.err), "err1\nerr2\n");
	PW_CHECK_INT(r.exit_code, 0);
	cap_dispose(&c);
}

PROC_TEST(large_output_streams_through)
{
	const char *argv[] = {"head", "-c", "52428800", "/dev/zero", NULL};
	struct cap c;
	cap_init(&c);
	c.keep = 0;
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 1);
	PW_CHECK_INT(r.exit_code, 0);
	PW_CHECK_INT(c.out_bytes, 52428800);
	PW_CHECK_INT(c.err_bytes, 0);
	cap_dispose(&c);
}

PROC_TEST(environment_is_exactly_the_given_one)
{
	const char *const envp[] = {"A=1", "B=two words", "EMPTY=", NULL};
	const char *argv[] = {"/usr/bin/env", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.envp = envp;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "A=1\nB=two words\nEMPTY=\n");
	cap_dispose(&c);

	/* NULL: an empty environment, whatever ours holds. */
	setenv("PW_PROC_TEST_LEAK", "yes", 1);
	cap_init(&c);
	o = sh_opts(argv, &c);
	o.envp = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "");
	PW_CHECK_INT(r.exit_code, 0);
	cap_dispose(&c);
	unsetenv("PW_PROC_TEST_LEAK");
}

PROC_TEST(program_is_found_through_the_given_path_not_ours)
{
	/* Our PATH cannot find anything; the child's can. */
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	setenv("PATH", "/nonexistent", 1);
	const char *argv[] = {"echo", "found", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "found\n");
	pw_error_free(err);
	cap_dispose(&c);
	if (saved) {
		setenv("PATH", saved, 1);
		free(saved);
	}
}

PROC_TEST(working_directory)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char real[PATH_MAX];
	PW_REQUIRE(realpath(tmpdir, real) != NULL);
	const char *argv[] = {"sh", "-c", "pwd -P", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.cwd = tmpdir;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	char want[PATH_MAX + 2];
	snprintf(want, sizeof(want), "%s\n", real);
	PW_CHECK_STR(pw__buf_cstr(&c.out), want);
	cap_dispose(&c);
	remove_tmpdir(NULL);
}

/* A missing directory is reported as such (by the child's chdir), not as a missing program,
 * with the hint; no child is left behind. */
/* With cwd_fd the child enters that directory, not whatever cwd names by then; a descriptor of
 * something else than a directory is reported like a bad cwd. */
PROC_TEST(working_directory_descriptor_is_entered)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char dir[256], moved[256];
	snprintf(dir, sizeof(dir), "%s/dir", tmpdir);
	snprintf(moved, sizeof(moved), "%s/moved", tmpdir);
	PW_REQUIRE(mkdir(dir, 0700) == 0);
	int fd = open(dir, O_PATH | O_CLOEXEC);
	PW_REQUIRE(fd >= 0);
	/* the path now leads elsewhere */
	PW_REQUIRE(rename(dir, moved) == 0);
	PW_REQUIRE(symlink("/", dir) == 0);
	const char *argv[] = {"sh", "-c", "pwd -P", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.cwd = dir;
	o.cwd_fd = fd;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exit_code, 0);
	char want[600];
	snprintf(want, sizeof(want), "%s\n", moved);
	PW_CHECK_STR(pw__buf_cstr(&c.out), want);
	cap_dispose(&c);
	close(fd);

	char file[256];
	PW_REQUIRE(tmp_file(file, sizeof(file), "notadir", "", 0644) == 0);
	fd = open(file, O_PATH | O_CLOEXEC);
	PW_REQUIRE(fd >= 0);
	o = sh_opts(argv, NULL);
	o.on_output = NULL;
	o.cwd = file;
	o.cwd_fd = fd;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	PW_CHECK(err != NULL);
	snprintf(want, sizeof(want), "cannot run 'sh': working directory '%s': Not a directory", file);
	PW_CHECK_STR(err ? pw_error_message(err) : "", want);
	pw_error_free(err);
	close(fd);
	unlink(dir);
	rmdir(moved);
	const char *files[] = {"notadir", NULL};
	remove_tmpdir(files);
}

PROC_TEST(missing_working_directory_is_named)
{
	const char *argv[] = {"sh", "-c", "pwd -P", NULL};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	o.cwd = "/nonexistent/dir";
	pw_proc_result r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ENOTFOUND);
	PW_CHECK_STR(pw_error_message(err),
	             "cannot run 'sh': working directory '/nonexistent/dir': No such file or directory");
	PW_CHECK_STR(pw_error_hint(err), "create the directory first or fix the step's working directory");
	PW_CHECK_INT(r.pid, 0);
	pw_error_free(err);
	int status;
	PW_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

PROC_TEST(stdin_is_dev_null)
{
	const char *argv[] = {"cat", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 5000;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 1);
	PW_CHECK_INT(r.exit_code, 0);
	PW_CHECK_INT(r.timed_out, 0);
	PW_CHECK(r.duration_ms < 2000);
	PW_CHECK_INT(c.out_bytes, 0);
	cap_dispose(&c);
}

PROC_TEST(stdin_data_is_fed)
{
	const char *argv[] = {"cat", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.stdin_data = "hello\nworld";
	o.stdin_len = strlen(o.stdin_data);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "hello\nworld");
	cap_dispose(&c);

	/* More than a pipe holds, while the child writes back. */
	size_t big = 3000000;
	char *data = malloc(big);
	PW_REQUIRE(data);
	memset(data, 'x', big);
	const char *wc[] = {"sh", "-c", "wc -c | tr -d ' '", NULL};
	cap_init(&c);
	o = sh_opts(wc, &c);
	o.stdin_data = data;
	o.stdin_len = big;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "3000000\n");
	cap_dispose(&c);

	/* A child that does not read: no SIGPIPE for us, and the run ends normally. */
	const char *no_read[] = {"true", NULL};
	cap_init(&c);
	o = sh_opts(no_read, &c);
	o.stdin_data = data;
	o.stdin_len = big;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 1);
	PW_CHECK_INT(r.exit_code, 0);
	cap_dispose(&c);
	free(data);
}

PROC_TEST(only_standard_descriptors_are_inherited)
{
	int stray = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
	PW_REQUIRE(stray >= 0);
	const char *argv[] = {"ls", "/proc/self/fd", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	/* 3 is the directory ls itself opened to list. */
	PW_CHECK_STR(pw__buf_cstr(&c.out), "0\n1\n2\n3\n");
	cap_dispose(&c);
	close(stray);
}

/* The child leads a process group of its own (the group that timeouts and cancels signal),
 * in our session. */
PROC_TEST(child_leads_its_own_group)
{
	const char *argv[] = {"sh", "-c", "cut -d' ' -f5,6 /proc/$$/stat", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	char want[64];
	snprintf(want, sizeof(want), "%d %d\n", r.pid, (int)getsid(0));
	PW_CHECK_STR(pw__buf_cstr(&c.out), want);
	cap_dispose(&c);
}

/* Even when we run on a terminal, the child has none: a prompt on /dev/tty fails at once
 * instead of stopping a background step. A helper process leads a session of its own with a
 * pseudo-terminal as its controlling terminal (as an interactive shell does), checks that it
 * can open /dev/tty, runs the step and reports what the step found. */
PROC_TEST(child_has_no_controlling_terminal)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	PW_CHECK(master >= 0);
	if (master < 0)
		return;
	PW_CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
	char slave[128];
	PW_CHECK(ptsname_r(master, slave, sizeof(slave)) == 0);
	int rep[2];
	PW_CHECK(pipe(rep) == 0);
	pid_t helper = fork();
	if (helper == 0) {
		close(rep[0]);
		close(master);
		int t = -1;
		if (setsid() < 0 || open(slave, O_RDWR) < 0 || (t = open("/dev/tty", O_RDONLY)) < 0) {
			dprintf(rep[1], "the helper got no terminal: %s", strerror(errno));
			_exit(1);
		}
		close(t);
		const char *argv[] = {
		    "sh", "-c", "if (exec 3</dev/tty) 2>/dev/null; then echo terminal; else echo none; fi",
		    NULL};
		struct cap c;
		cap_init(&c);
		pw_proc_options o = sh_opts(argv, &c);
		pw_proc_result r;
		int rc = pw__proc_run(&r, &o, NULL);
		dprintf(rep[1], "%d %s", rc, pw__buf_cstr(&c.out));
		cap_dispose(&c);
		_exit(0);
	}
	close(rep[1]);
	char got[256] = "";
	size_t len = 0;
	ssize_t n;
	while (len < sizeof(got) - 1 && (n = read(rep[0], got + len, sizeof(got) - 1 - len)) > 0)
		len += (size_t)n;
	got[len] = '\0';
	close(rep[0]);
	int status = 0;
	waitpid(helper, &status, 0);
	PW_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	PW_CHECK_STR(got, "0 none\n");
	close(master);
}

/* Runs argv with the standard options, its output into *c (initialised here). */
static int run_into(struct cap *c, const char *const *argv, pw_proc_result *r)
{
	cap_init(c);
	pw_proc_options o = sh_opts(argv, c);
	return pw__proc_run(r, &o, NULL);
}

static void on_usr2(int sig)
{
	(void)sig;
}

/* Whatever this process ignores, catches or blocks, the child starts with default dispositions
 * and an empty mask (cat installs no handler of its own). */
PROC_TEST(child_gets_default_signal_dispositions_and_an_empty_mask)
{
	struct sigaction ign = {0}, catch = {0}, old_pipe, old_hup, old_usr2;
	ign.sa_handler = SIG_IGN;
	catch.sa_handler = on_usr2;
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGHUP, &ign, &old_hup);
	sigaction(SIGUSR2, &catch, &old_usr2);
	sigset_t block, old_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	/* 32 and 33, glibc's own, are left ignored in every program glibc's posix_spawn starts
	 * (a test runner, say); libc's sigaction refuses them, so the kernel is asked directly */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} kign = {SIG_IGN, 0, NULL, 0}, kold[2];
	for (int i = 0; i < 2; i++)
		syscall(SYS_rt_sigaction, 32 + i, &kign, &kold[i], sizeof(uint64_t));

	const char *argv[] = {"cat", "/proc/self/status", NULL};
	struct cap c;
	pw_proc_result r;
	PW_CHECK_INT(run_into(&c, argv, &r), 0);
	const char *status = pw__buf_cstr(&c.out);
	PW_CHECK_CONTAINS(status, "\nSigBlk:\t0000000000000000\n");
	PW_CHECK_CONTAINS(status, "\nSigIgn:\t0000000000000000\n");
	PW_CHECK_CONTAINS(status, "\nSigCgt:\t0000000000000000\n");
	cap_dispose(&c);

	for (int i = 0; i < 2; i++)
		syscall(SYS_rt_sigaction, 32 + i, &kold[i], NULL, sizeof(uint64_t));
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
}

PROC_TEST(stopped_child_is_still_terminated)
{
	const char *argv[] = {"sh", "-c", "kill -STOP $$; sleep 100", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 300;
	o.kill_grace_ms = 5000;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.timed_out, 1);
	PW_CHECK_INT(r.killed, 0);
	PW_CHECK_INT(r.term_signal, SIGTERM);
	PW_CHECK(r.duration_ms < 2000);
	cap_dispose(&c);
}

PROC_TEST(timeout_kills_the_whole_group_after_the_grace)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char script[512];
	snprintf(script, sizeof(script),
	         "trap '' TERM; sleep 100 & echo $! > %s/gc; echo $$ > %s/leader; echo ready; wait", tmpdir,
	         tmpdir);
	const char *argv[] = {"sh", "-c", script, NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 400;
	o.kill_grace_ms = 300;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "ready\n");
	PW_CHECK_INT(r.timed_out, 1);
	PW_CHECK_INT(r.cancelled, 0);
	PW_CHECK_INT(r.killed, 1);
	PW_CHECK_INT(r.exited, 0);
	PW_CHECK_INT(r.term_signal, SIGKILL);
	PW_CHECK(r.duration_ms >= 700);
	PW_CHECK(r.duration_ms < 3000);
	pid_t gc = read_pid("gc");
	PW_CHECK(gc > 0);
	if (gc > 0)
		PW_CHECK(pid_dead(gc));
	PW_CHECK_INT(read_pid("leader"), r.pid);

	pw_buf d = PW_BUF_INIT(0);
	PW_CHECK_INT(pw__proc_result_describe(&d, &r, &o), 0);
	PW_CHECK_STR(pw__buf_cstr(&d), "timed out after 400 ms; killed by signal 9 (Killed) after ignoring "
	                               "SIGTERM for 300 ms");
	pw__buf_dispose(&d);
	cap_dispose(&c);
	const char *files[] = {"gc", "leader", NULL};
	remove_tmpdir(files);
}

PROC_TEST(timeout_with_a_cooperative_child_needs_no_sigkill)
{
	const char *argv[] = {"sleep", "100", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 200;
	o.kill_grace_ms = 10000;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.timed_out, 1);
	PW_CHECK_INT(r.killed, 0);
	PW_CHECK_INT(r.term_signal, SIGTERM);
	PW_CHECK(r.duration_ms >= 200);
	PW_CHECK(r.duration_ms < 2000);
	cap_dispose(&c);
}

/* A timeout's SIGTERM gives the whole group kill_grace_ms, not only the child: a background
 * shell's trap that takes a second still runs to its end after the child (sh) has exited, held
 * pipes or not; and what outlives the grace is killed then, not sooner. */
PROC_TEST(timeout_grace_covers_the_whole_group)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	static const char *const redirects[] = {"", " >/dev/null 2>&1"};
	for (int i = 0; i < 2; i++) {
		char script[512], done[256];
		snprintf(done, sizeof(done), "%s/done%d", tmpdir, i);
		snprintf(script, sizeof(script),
		         "sh -c \"trap 'sleep 1; echo cleaned > %s; exit 0' TERM; "
		         "while :; do sleep 0.1; done\"%s & echo ready; wait",
		         done, redirects[i]);
		const char *argv[] = {"sh", "-c", script, NULL};
		struct cap c;
		cap_init(&c);
		pw_proc_options o = sh_opts(argv, &c);
		o.timeout_ms = 500;
		o.kill_grace_ms = 5000;
		pw_proc_result r;
		PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
		PW_CHECK_INT(r.timed_out, 1);
		PW_CHECK_INT(r.term_signal, SIGTERM);
		PW_CHECK_INT(r.killed, 0);
		PW_CHECK(r.duration_ms >= 1400);
		PW_CHECK(r.duration_ms < 4500); /* it ended when the group did, not at the grace */
		char text[32] = {0};
		FILE *f = fopen(done, "r");
		PW_CHECK(f != NULL);
		if (f) {
			PW_CHECK(fgets(text, sizeof(text), f) != NULL);
			fclose(f);
		}
		PW_CHECK_STR(text, "cleaned\n");
		PW_CHECK_STR(pw__buf_cstr(&c.out), "ready\n");
		cap_dispose(&c);
	}

	/* a member that ignores SIGTERM is killed when the grace is over */
	char script[256];
	snprintf(script, sizeof(script),
	         "sh -c \"trap '' TERM; while :; do sleep 0.1; done\" >/dev/null & echo $! > %s/gc; "
	         "wait",
	         tmpdir);
	const char *argv[] = {"sh", "-c", script, NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 300;
	o.kill_grace_ms = 700;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.timed_out, 1);
	PW_CHECK_INT(r.term_signal, SIGTERM);
	PW_CHECK(r.duration_ms >= 950);
	PW_CHECK(r.duration_ms < 3000);
	pid_t gc = read_pid("gc");
	PW_CHECK(gc > 0);
	if (gc > 0)
		PW_CHECK(pid_dead(gc));
	cap_dispose(&c);
	const char *files[] = {"done0", "done1", "gc", NULL};
	remove_tmpdir(files);
}

/* In a child subreaper, members of the group that outlive the child become our children: when
 * they go, the grace ends, their zombies do not keep the group alive until it is over. */
PROC_TEST(timeout_grace_ends_with_the_group_in_a_subreaper)
{
	PW_REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	const char *argv[] = {"sh", "-c", "sleep 30 & sleep 0.2; echo ready; wait", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.timeout_ms = 500;
	o.kill_grace_ms = 5000;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.timed_out, 1);
	PW_CHECK(r.duration_ms < 2500);
	int status;
	PW_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
	cap_dispose(&c);
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

struct canceller {
	int fd;
	const char *ready; /* cancels once this file exists (the child got going), 20 s at most */
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	for (int i = 0; i < 2000 && access(k->ready, F_OK) != 0; i++)
		sleep_ms(10);
	ssize_t n = write(k->fd, "x", 1);
	(void)n;
	return NULL;
}

PROC_TEST(cancel_fd_from_another_thread)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char ready[128], script[256];
	snprintf(ready, sizeof(ready), "%s/ready", tmpdir);
	snprintf(script, sizeof(script), "echo started; : > %s; sleep 100; echo never", ready);
	int p[2];
	PW_REQUIRE(pipe(p) == 0);
	struct canceller k = {p[1], ready};
	pthread_t t;
	PW_REQUIRE(pthread_create(&t, NULL, cancel_later, &k) == 0);
	const char *argv[] = {"sh", "-c", script, NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.cancel_fd = p[0];
	o.kill_grace_ms = 5000;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	pthread_join(t, NULL);
	PW_CHECK_INT(r.cancelled, 1);
	PW_CHECK_INT(r.timed_out, 0);
	PW_CHECK_INT(r.exited, 0);
	PW_CHECK_INT(r.term_signal, SIGTERM);
	PW_CHECK_INT(r.killed, 0); /* SIGTERM was enough: the 5 s grace was not used up */
	PW_CHECK_STR(pw__buf_cstr(&c.out), "started\n");
	cap_dispose(&c);
	close(p[0]);
	close(p[1]);
	const char *files[] = {"ready", NULL};
	remove_tmpdir(files);
}

PROC_TEST(background_child_holding_stdout_does_not_hang_the_run)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char script[256];
	snprintf(script, sizeof(script), "sleep 1000 & echo $! > %s/gc; echo started", tmpdir);
	const char *argv[] = {"sh", "-c", script, NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.linger_ms = 300;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 1);
	PW_CHECK_INT(r.exit_code, 0);
	PW_CHECK_INT(r.timed_out, 0);
	PW_CHECK(r.duration_ms < 2000);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "started\n");
	pid_t gc = read_pid("gc");
	PW_CHECK(gc > 0);
	if (gc > 0)
		PW_CHECK(pid_dead(gc));
	cap_dispose(&c);

	/* One that ignores SIGTERM is killed once linger_ms is over. */
	snprintf(script, sizeof(script), "trap '' TERM; sleep 1000 & echo $! > %s/gc; echo started", tmpdir);
	cap_init(&c);
	o = sh_opts(argv, &c);
	o.linger_ms = 300;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 1);
	PW_CHECK_INT(r.exit_code, 0);
	PW_CHECK(r.duration_ms >= 250);
	PW_CHECK(r.duration_ms < 2000);
	gc = read_pid("gc");
	PW_CHECK(gc > 0);
	if (gc > 0)
		PW_CHECK(pid_dead(gc));
	cap_dispose(&c);
	const char *files[] = {"gc", NULL};
	remove_tmpdir(files);
}

PROC_TEST(signal_termination_is_reported)
{
	const char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exited, 0);
	PW_CHECK_INT(r.term_signal, SIGKILL);
	PW_CHECK_INT(r.timed_out, 0);
	PW_CHECK_INT(r.killed, 0);
	pw_buf d = PW_BUF_INIT(0);
	pw__proc_result_describe(&d, &r, &o);
	PW_CHECK_STR(pw__buf_cstr(&d), "killed by signal 9 (Killed)");
	pw__buf_dispose(&d);
	cap_dispose(&c);
}

PROC_TEST(program_not_found_is_a_clear_error)
{
	const char *argv[] = {"no-such-program-pw", "x", NULL};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	pw_proc_result r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ENOTFOUND);
	PW_REQUIRE(err != NULL);
	PW_CHECK_INT(pw_error_code(err), PW_ENOTFOUND);
	PW_CHECK_STR(pw_error_message(err), "cannot run 'no-such-program-pw': No such file or directory");
	PW_CHECK_CONTAINS(pw_error_hint(err), "PATH=/usr/bin:/bin");
	PW_CHECK_INT(r.pid, 0);
	pw_error_free(err);

	/* With a '/', the OS's own answer. */
	const char *abs_argv[] = {"/nonexistent/prog", NULL};
	o.argv = abs_argv;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ENOTFOUND);
	PW_CHECK_STR(pw_error_message(err), "cannot run '/nonexistent/prog': No such file or directory");
	PW_CHECK(pw_error_hint(err) != NULL);
	pw_error_free(err);
}

/* E2BIG: the message says which of Linux's two limits was passed, and by what. */
PROC_TEST(too_large_environment_is_explained)
{
	const char *argv[] = {"/bin/sh", "-c", "true", NULL};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	pw_proc_result r;

	/* one variable over the per-string limit (32 pages) */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t big_len = page * 32 + 100;
	char *big = malloc(big_len + 1);
	PW_REQUIRE(big != NULL);
	memcpy(big, "HUGE=", 5);
	memset(big + 5, 'x', big_len - 5);
	big[big_len] = '\0';
	const char *const env1[] = {"PATH=/usr/bin:/bin", big, NULL};
	o.envp = env1;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ECONFIG);
	PW_CHECK(err != NULL); /* (the checks below take NULL) */
	char want[200];
	snprintf(want, sizeof(want),
	         "cannot run '/bin/sh': environment variable 'HUGE' takes %zu bytes (name=value), over "
	         "Linux's limit of %zu for one variable",
	         big_len, page * 32 - 1);
	PW_CHECK_STR(pw_error_message(err), want);
	PW_CHECK_CONTAINS(pw_error_hint(err), "in a file");
	PW_CHECK_INT(r.pid, 0);
	pw_error_free(err);

	/* the same length as an argument */
	const char *argv2[] = {"/bin/sh", "-c", "true", big + 5, NULL};
	o.argv = argv2;
	o.envp = NULL;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ECONFIG);
	snprintf(want, sizeof(want),
	         "cannot run '/bin/sh': an argument holds %zu bytes, over Linux's limit of %zu bytes "
	         "for one argument",
	         big_len - 5, page * 32 - 1);
	PW_CHECK_STR(pw_error_message(err), want);
	pw_error_free(err);
	free(big);

	/* many small outputs of earlier steps, over the total (a quarter of the stack limit, at
	 * most 6 MiB): 60,000 variables of 120 bytes */
	size_t n = 60000;
	char **env3 = calloc(n + 2, sizeof(char *));
	PW_REQUIRE(env3 != NULL);
	env3[0] = strdup("PATH=/usr/bin:/bin");
	for (size_t i = 1; i <= n; i++) {
		env3[i] = malloc(121);
		PW_REQUIRE(env3[i] != NULL);
		int k = snprintf(env3[i], 121, "PIPEWRIGHT_STEP_S%zu_KEY=", i);
		memset(env3[i] + k, 'v', (size_t)(120 - k));
		env3[i][120] = '\0';
	}
	o.argv = argv;
	o.envp = (const char *const *)env3;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_ECONFIG);
	PW_CHECK(err != NULL);
	PW_CHECK_CONTAINS(pw_error_message(err),
	                  "cannot run '/bin/sh': its arguments and environment (60001 variables) take ");
	PW_CHECK_CONTAINS(pw_error_message(err), "bytes, over this system's limit of ");
	snprintf(want, sizeof(want), "60000 of the variables (%zu bytes) are outputs of earlier steps",
	         n * 121);
	PW_CHECK_CONTAINS(pw_error_hint(err), want);
	PW_CHECK_CONTAINS(pw_error_hint(err), "ulimit -s");
	pw_error_free(err);
	for (size_t i = 0; i <= n; i++)
		free(env3[i]);
	free(env3);
}

PROC_TEST(program_not_executable_is_a_permission_error)
{
	make_tmpdir();
	PW_REQUIRE(tmpdir[0]);
	char path[256];
	PW_REQUIRE(tmp_file(path, sizeof(path), "pwproc-script", "#!/bin/sh\necho hi\n", 0644) == 0);

	const char *argv[] = {path, NULL};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	pw_proc_result r;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EPERM);
	PW_CHECK_CONTAINS(pw_error_message(err), "Permission denied");
	PW_CHECK_CONTAINS(pw_error_message(err), "cannot run '");
	PW_CHECK_CONTAINS(pw_error_hint(err), "chmod +x");
	pw_error_free(err);

	/* Found through PATH but not executable. */
	char envpath[300];
	snprintf(envpath, sizeof(envpath), "PATH=%s:/usr/bin", tmpdir);
	const char *const envp[] = {envpath, NULL};
	const char *byname[] = {"pwproc-script", NULL};
	o.argv = byname;
	o.envp = envp;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EPERM);
	PW_CHECK_STR(pw_error_message(err), "cannot run 'pwproc-script': Permission denied");
	pw_error_free(err);

	/* Once executable, it runs. */
	chmod(path, 0755);
	struct cap c;
	cap_init(&c);
	o.on_output = on_output;
	o.payload = &c;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "hi\n");
	pw_error_free(err);
	cap_dispose(&c);
	const char *files[] = {"pwproc-script", NULL};
	remove_tmpdir(files);
}

PROC_TEST(capture_fd_collects_a_result)
{
	const char *argv[] = {"sh", "-c", "echo '{\"ok\":true}' >&3; echo out", NULL};
	struct cap c;
	cap_init(&c);
	pw_buf result = PW_BUF_INIT(4096);
	pw_proc_options o = sh_opts(argv, &c);
	o.capture_fd = 3;
	o.capture_out = &result;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&result), "{\"ok\":true}\n");
	PW_CHECK_STR(pw__buf_cstr(&c.out), "out\n");
	PW_CHECK_INT(r.capture_overflow, 0);
	pw__buf_dispose(&result);
	cap_dispose(&c);

	/* Beyond the maximum: kept up to it, the rest drained (the child never blocks). */
	const char *flood[] = {"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a >&3", NULL};
	pw_buf small = PW_BUF_INIT(100);
	cap_init(&c);
	o = sh_opts(flood, &c);
	o.capture_fd = 3;
	o.capture_out = &small;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exit_code, 0);
	PW_CHECK_INT(r.capture_overflow, 1);
	PW_CHECK_INT(small.len, 100);
	PW_CHECK(small.data && small.data[0] == 'a' && small.data[99] == 'a');
	pw__buf_dispose(&small);
	cap_dispose(&c);
}

PROC_TEST(extra_fds_are_passed)
{
	int p[2];
	PW_REQUIRE(pipe(p) == 0);
	const char *argv[] = {"sh", "-c", "echo via5 >&5", NULL};
	pw_proc_fd extra[] = {{5, p[1]}};
	pw_proc_options o = sh_opts(argv, NULL);
	o.on_output = NULL;
	o.extra_fds = extra;
	o.extra_fd_count = 1;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_INT(r.exit_code, 0);
	close(p[1]);
	char got[32] = {0};
	ssize_t n = read(p[0], got, sizeof(got) - 1);
	PW_CHECK_INT(n, 5);
	PW_CHECK_STR(got, "via5\n");
	close(p[0]);

	/* Targets below 3 or used twice are refused. */
	pw_proc_fd bad[] = {{1, p[1]}};
	o.extra_fds = bad;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	pw_error_free(err);
}

struct worker {
	int id;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 5; i++) {
		char code[16], want_out[32], want_err[32];
		snprintf(code, sizeof(code), "%d", w->id * 10 + i);
		snprintf(want_out, sizeof(want_out), "out %s\n", code);
		snprintf(want_err, sizeof(want_err), "err %s\n", code);
		const char *argv[] = {"sh", "-c", "echo out $1; sleep 0.05; echo err $1 >&2; exit $1",
		                      "sh", code, NULL};
		struct cap c;
		cap_init(&c);
		pw_proc_options o = sh_opts(argv, &c);
		pw_proc_result r;
		pw_error *err = NULL;
		int rc = pw__proc_run(&r, &o, &err);
		if (rc != 0 || r.exit_code != w->id * 10 + i || strcmp(pw__buf_cstr(&c.out), want_out) != 0 ||
		    strcmp(pw__buf_cstr(&c.err), want_err) != 0)
			w->failures++;
		pw_error_free(err);
		cap_dispose(&c);
	}
	return NULL;
}

PROC_TEST(concurrent_runs_from_four_threads)
{
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i].id = i + 1;
		w[i].failures = 0;
		PW_REQUIRE(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		PW_CHECK_INT(w[i].failures, 0);
	}
}

PROC_TEST(find_program)
{
	char *p = NULL;
	PW_CHECK_INT(pw__proc_find_program(&p, "sh", "/nonexistent:/bin", NULL), 0);
	PW_CHECK_STR(p, "/bin/sh");
	pw_free(p);
	PW_CHECK_INT(pw__proc_find_program(&p, "./x/y", "/bin", NULL), 0);
	PW_CHECK_STR(p, "./x/y");
	pw_free(p);
	/* Relative entries are not searched. */
	PW_CHECK_INT(pw__proc_find_program(&p, "sh", ":.:bin", NULL), PW_ENOTFOUND);
	PW_CHECK(p == NULL);
	/* A directory of that name is not a program. */
	PW_CHECK_INT(pw__proc_find_program(&p, "bin", "/", NULL), PW_ENOTFOUND);
	pw_error *err = NULL;
	PW_CHECK_INT(pw__proc_find_program(&p, "", "/bin", &err), PW_EINVAL);
	pw_error_free(err);
}

PROC_TEST(envp_from_map)
{
	pw_map *m = pw_map_new();
	PW_REQUIRE(m);
	pw_map_set(m, "PATH", "/usr/bin:/bin");
	pw_map_set(m, "BAD=KEY", "x");
	pw_map_set(m, "", "x");
	pw_map_set(m, "GREETING", "hello world");
	char **envp = pw__proc_envp_from_map(m);
	PW_REQUIRE(envp);
	PW_CHECK_STR(envp[0], "PATH=/usr/bin:/bin");
	PW_CHECK_STR(envp[1], "GREETING=hello world");
	PW_CHECK(envp[2] == NULL);
	PW_CHECK_STR(pw__proc_envp_get((const char *const *)envp, "GREETING"), "hello world");
	PW_CHECK(pw__proc_envp_get((const char *const *)envp, "GREET") == NULL);

	const char *argv[] = {"sh", "-c", "echo \"$GREETING\"", NULL};
	struct cap c;
	cap_init(&c);
	pw_proc_options o = sh_opts(argv, &c);
	o.envp = (const char *const *)envp;
	pw_proc_result r;
	PW_CHECK_INT(pw__proc_run(&r, &o, NULL), 0);
	PW_CHECK_STR(pw__buf_cstr(&c.out), "hello world\n");
	cap_dispose(&c);
	pw__proc_envp_free(envp);
	pw_map_free(m);

	char **empty = pw__proc_envp_from_map(NULL);
	PW_REQUIRE(empty);
	PW_CHECK(empty[0] == NULL);
	pw__proc_envp_free(empty);
}

PROC_TEST(bad_options_are_refused)
{
	pw_proc_result r;
	pw_error *err = NULL;
	pw_proc_options o = PW_PROC_OPTIONS_INIT;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	pw_error_free(err);
	const char *argv[] = {"true", NULL};
	o.argv = argv;
	o.capture_fd = 2;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	pw_error_free(err);
	o.capture_fd = -1;
	o.version = 99;
	err = NULL;
	PW_CHECK_INT(pw__proc_run(&r, &o, &err), PW_EINVAL);
	pw_error_free(err);
}

/* The same group handling when the child's exit is noticed by polling instead of a pidfd. */
PROC_TEST(without_pidfd)
{
	pw__proc_test_no_pidfd = 1;
	pwt_exit_codes();
	pwt_stdin_data_is_fed();
	pwt_timeout_kills_the_whole_group_after_the_grace();
	pwt_timeout_grace_covers_the_whole_group();
	pwt_cancel_fd_from_another_thread();
	pwt_background_child_holding_stdout_does_not_hang_the_run();
	pwt_signal_termination_is_reported();
	pwt_concurrent_runs_from_four_threads();
	pw__proc_test_no_pidfd = 0;
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

PROC_TEST(no_descriptors_or_children_left_behind)
{
	int before = count_fds();
	pwt_exit_codes();
	pwt_program_not_found_is_a_clear_error();
	pwt_too_large_environment_is_explained();
	pwt_capture_fd_collects_a_result();
	pwt_timeout_with_a_cooperative_child_needs_no_sigkill();
	pwt_bad_options_are_refused();
	PW_CHECK_INT(count_fds(), before);
	int status;
	PW_CHECK(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

PW_TEST_MAIN()
