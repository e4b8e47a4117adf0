/* The shell connector, the embedded default: runs a step's command on this host, in the
 * workspace, with exactly the environment the pipeline gives it. */
#define _GNU_SOURCE /* mkostemp */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/shell/shell.h"
#include "core/buf.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"
#include "pipewright/sys/connector.h"
#include "proc/proc.h"

extern char **environ;

#define MINIMAL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OUTPUTS_MAX (1 << 20)

static const char *const shell_keys[] = {"command", "working_directory", "inherit_env", "kill_grace",
                                         "shell",   "environment",       NULL};

static pw_error *key_error(const char *key, const char *hint, const char *fmt, const char *a, const char *b)
{
	pw_error *e = pw_error_new(PW_ECONFIG, fmt, a, b);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	return e;
}

static void add(pw_error **err, pw_error *e, int *rc)
{
	*rc = PW_ECONFIG;
	if (!err) {
		pw_error_free(e);
		return;
	}
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

static int shell_validate(pw_connector *c, const pw_step *step, pw_error **err)
{
	int rc = 0;
	json_t *cfg = step->config;
	const char *key;
	json_t *v;
	json_object_foreach(cfg, key, v)
	{
		if (pw__suggest_known(key, shell_keys))
			continue;
		const char *near = pw__suggest(key, shell_keys);
		pw_buf h = PW_BUF_INIT(0);
		if (near)
			pw__buf_printf(&h, "did you mean '%s'?", near);
		else
			pw__buf_puts(
			    &h,
			    "the shell connector takes: command, working_directory, inherit_env, kill_grace, "
			    "shell, environment");
		add(err, key_error(key, pw__buf_cstr(&h), "unknown shell config key '%s'%s", key, ""), &rc);
		pw__buf_dispose(&h);
	}
	json_t *cmd = json_object_get(cfg, "command");
	if (!cmd) {
		add(err,
		    key_error("command",
		              "give `command:` a string (run by /bin/sh -c) or a list (argv, no shell)",
		              "step '%s' has no command%s", step->name, ""),
		    &rc);
	} else if (json_is_string(cmd)) {
		if (!*json_string_value(cmd))
			add(err, key_error("command", NULL, "step '%s': command is empty%s", step->name, ""),
			    &rc);
	} else if (json_is_array(cmd)) {
		size_t i;
		json_t *a;
		if (json_array_size(cmd) == 0)
			add(err,
			    key_error("command", "list the program and its arguments",
			              "step '%s': command list is empty%s", step->name, ""),
			    &rc);
		json_array_foreach(cmd, i, a)
		{
			if (!json_is_string(a) && !json_is_number(a)) {
				char k[64];
				snprintf(k, sizeof(k), "command.%zu", i);
				add(err,
				    key_error(k, "quote it so that it is a string",
				              "command argument %s is not a string%s", k + 8, ""),
				    &rc);
			}
		}
	} else {
		add(err,
		    key_error("command", "use a string (run by /bin/sh -c) or a list of strings (argv)",
		              "step '%s': command must be a string or a list%s", step->name, ""),
		    &rc);
	}
	json_t *wd = json_object_get(cfg, "working_directory");
	if (wd && !json_is_string(wd))
		add(err,
		    key_error("working_directory", "write a path relative to the workspace, e.g. `src/app`",
		              "working_directory must be a path (text)%s%s", "", ""),
		    &rc);
	else if (wd && !pw__path_stays_inside(json_string_value(wd)))
		add(err,
		    key_error("working_directory",
		              "use a path relative to the workspace that stays inside it",
		              "working_directory '%s' leaves the workspace%s", json_string_value(wd), ""),
		    &rc);
	json_t *ie = json_object_get(cfg, "inherit_env");
	if (ie && !json_is_boolean(ie))
		add(err,
		    key_error("inherit_env", "write true or false", "inherit_env must be true or false%s%s",
		              "", ""),
		    &rc);
	json_t *kg = json_object_get(cfg, "kill_grace");
	double kgs = 0;
	if (kg && (!pw__config_number(kg, &kgs) || kgs < 0 || kgs > 3600))
		add(err,
		    key_error("kill_grace", "seconds between SIGTERM and SIGKILL, 0 to 3600",
		              "kill_grace must be a number of seconds%s%s", "", ""),
		    &rc);
	json_t *sh = json_object_get(cfg, "shell");
	if (sh && (!json_is_string(sh) || !*json_string_value(sh)))
		add(err,
		    key_error("shell", "a program such as /bin/bash", "shell must be a program path%s%s", "",
		              ""),
		    &rc);
	json_t *envm = json_object_get(cfg, "environment");
	if (envm) {
		if (!json_is_object(envm)) {
			add(err,
			    key_error("environment", "a mapping of NAME: value",
			              "environment must be a mapping%s%s", "", ""),
			    &rc);
		} else {
			json_object_foreach(envm, key, v)
			{
				char k[300];
				snprintf(k, sizeof(k), "environment.%s", key);
				if (!pw__env_name_valid(key))
					add(err,
					    key_error(k,
					              "names are letters, digits and '_', not starting with "
					              "a digit",
					              "environment name '%s' is not valid%s", key, ""),
					    &rc);
				else if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
					add(err,
					    key_error(k, "quote the value",
					              "environment value of '%s' must be a scalar%s", key,
					              ""),
					    &rc);
			}
		}
	}
	return rc;
}

static char *scalar_text(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_true(v))
		return strdup("true");
	if (json_is_false(v))
		return strdup("false");
	char buf[64];
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		pw__real_text(buf, sizeof(buf), json_real_value(v));
	else
		buf[0] = '\0';
	return strdup(buf);
}

/* argv for the step: ["/bin/sh", "-c", command] or the list as given. */
static char **build_argv(const pw_step *step)
{
	json_t *cmd = json_object_get(step->config, "command");
	if (json_is_string(cmd)) {
		json_t *sh = json_object_get(step->config, "shell");
		char **argv = calloc(4, sizeof(char *));
		if (!argv)
			return NULL;
		argv[0] = strdup(json_is_string(sh) ? json_string_value(sh) : "/bin/sh");
		argv[1] = strdup("-c");
		argv[2] = strdup(json_string_value(cmd));
		return argv;
	}
	size_t n = json_array_size(cmd);
	char **argv = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; argv && i < n; i++)
		argv[i] = scalar_text(json_array_get(cmd, i));
	return argv;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The step's environment: minimal PATH and HOME (or the host's with inherit_env), then the
 * pipeline's map, then config `environment`, then PIPEWRIGHT_OUTPUT. */
static pw_map *build_env(const pw_step *step, const pw_map *env, const char *outputs_path)
{
	pw_map *m = pw_map_new();
	if (!m)
		return NULL;
	json_t *ie = json_object_get(step->config, "inherit_env");
	if (json_is_true(ie)) {
		for (char **e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			if (!eq)
				continue;
			char name[512];
			size_t n = (size_t)(eq - *e);
			if (n == 0 || n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			pw_map_set(m, name, eq + 1);
		}
	} else {
		pw_map_set(m, "PATH", MINIMAL_PATH);
		const char *home = getenv("HOME");
		pw_map_set(m, "HOME", home && *home ? home : "/");
	}
	pw_map_merge(m, env);
	json_t *envm = json_object_get(step->config, "environment");
	const char *k;
	json_t *v;
	json_object_foreach(envm, k, v)
	{
		char *t = scalar_text(v);
		pw_map_set(m, k, t);
		free(t);
	}
	if (outputs_path)
		pw_map_set(m, "PIPEWRIGHT_OUTPUT", outputs_path);
	return m;
}

void (*pw__shell_test_before_spawn)(const char *cwd);

static int cwd_error(pw_error **err, const char *hint, const char *fmt, const char *a, const char *b)
{
	pw_error *e = pw_error_new(PW_ECONFIG, fmt, a, b);
	pw_error_set_key(e, "working_directory");
	pw_error_set_hint(e, hint);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_ECONFIG;
}

/* 1 when the directory open at fd is root or below it, found by walking up its ".." entries
 * (the tree itself, not a path); for systems without /proc. */
static int below_by_walking_up(int fd, const char *root)
{
	struct stat top, st;
	if (stat(root, &top) != 0)
		return 0;
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	int inside = 0;
	for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
		if (fstat(cur, &st) != 0)
			break;
		if (st.st_dev == top.st_dev && st.st_ino == top.st_ino) {
			inside = 1;
			break;
		}
		int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat ust;
		int at_top = up >= 0 && fstat(up, &ust) == 0 && ust.st_dev == st.st_dev &&
		             ust.st_ino == st.st_ino; /* "/" is its own parent */
		close(cur);
		cur = at_top ? (close(up), -1) : up;
	}
	if (cur >= 0)
		close(cur);
	return inside;
}

/* The step's working directory: the workspace root, or working_directory opened once (fd,
 * following symbolic links as a path does) and checked to lie inside the workspace by where
 * the opened directory really is. The child enters that descriptor (pw_proc_options.cwd_fd),
 * so a link swapped in after the check cannot move the step elsewhere. *out: the directory's
 * real path (caller frees); *fd_out: -1 or the descriptor (caller closes). */
static int resolve_cwd(char **out, int *fd_out, const pw_step *step, const pw_workspace *ws, pw_error **err)
{
	*out = NULL;
	*fd_out = -1;
	const char *root = pw_workspace_root(ws);
	json_t *wd = json_object_get(step->config, "working_directory");
	if (!json_is_string(wd)) {
		*out = strdup(root);
		return *out ? 0 : PW_ENOMEM;
	}
	const char *name = json_string_value(wd);
	const char *missing_hint = "create the directory in the workspace first, or fix the path";
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/%s", root, name);
	/* no O_DIRECTORY: a file named here fails in the child's fchdir, as chdir did */
	int fd = open(pw__buf_cstr(&p), O_PATH | O_CLOEXEC);
	int e = errno;
	pw__buf_dispose(&p);
	if (fd < 0)
		return cwd_error(err, missing_hint, "working_directory '%s' cannot be used: %s", name,
		                 strerror(e));
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_nlink == 0) { /* removed since */
		close(fd);
		return cwd_error(err, missing_hint, "working_directory '%s' cannot be used: %s", name,
		                 strerror(ENOENT));
	}
	char real[PATH_MAX];
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	int inside;
	size_t rl = strlen(root);
	if (n >= 0 && (size_t)n < sizeof(real) - 1) {
		real[n] = '\0';
		inside =
		    real[0] == '/' && strncmp(real, root, rl) == 0 && (real[rl] == '\0' || real[rl] == '/');
	} else {
		/* no /proc: the path names the directory in messages; the tree decides */
		snprintf(real, sizeof(real), "%s/%s", root, name);
		inside = below_by_walking_up(fd, root);
	}
	if (!inside) {
		close(fd);
		return cwd_error(err,
		                 "a symbolic link points out of the workspace; use a directory inside it",
		                 "working_directory '%s' resolves outside the workspace (%s)", name, real);
	}
	*out = strdup(real);
	if (!*out) {
		close(fd);
		return PW_ENOMEM;
	}
	*fd_out = fd;
	return 0;
}

typedef struct out_ctx {
	pw_exec *ex;
} out_ctx;

static void on_proc_output(int stream, const char *data, size_t len, void *payload)
{
	out_ctx *o = payload;
	pw_exec_output(o->ex, stream == PW_PROC_STDERR ? PW_STREAM_STDERR : PW_STREAM_STDOUT, data, len);
}

/* The next line of *p, before end (without its '\n'), advancing *p past it. Lines may hold
 * NUL bytes: the length says where they end. */
static size_t next_line(const char **p, const char *end, const char **line)
{
	*line = *p;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p += n;
	if (*p < end)
		(*p)++;
	return n;
}

/* A NUL byte cannot be part of an environment variable's name or value: the line is refused
 * (not cut at the NUL, which would drop the rest of it unseen). */
static int nul_line(pw_error **err, int line)
{
	return pw_error_set(err, PW_EVALIDATION,
	                    "PIPEWRIGHT_OUTPUT line %d holds a NUL byte, which no environment variable "
	                    "can hold",
	                    line);
}

static const char *find_heredoc(const char *l, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (l[i] == '<' && l[i + 1] == '<')
			return l + i;
	return NULL;
}

/* Error messages name the line, never quote its text beyond a valid name: values written
 * there are often secrets, and a message quoting part of a line could show a part of a secret
 * that masking cannot recognise. Lines of any length are kept whole. */
int pw__shell_parse_outputs(const char *text, size_t len, pw_exec *ex, pw_error **err)
{
	const char *p = text, *end = text + len;
	int line = 0, rc = 0;
	pw_buf key = PW_BUF_INIT(OUTPUTS_MAX), val = PW_BUF_INIT(OUTPUTS_MAX);
	while (p < end && rc == 0) {
		const char *l;
		size_t n = next_line(&p, end, &l);
		line++;
		if (n && l[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (memchr(l, '\0', n)) {
			rc = nul_line(err, line);
			break;
		}
		const char *eq = memchr(l, '=', n);
		const char *heredoc = find_heredoc(l, n);
		pw__buf_clear(&key);
		pw__buf_clear(&val);
		if (heredoc && (!eq || heredoc < eq)) {
			/* key<<DELIM, then lines until one that is exactly DELIM */
			const char *delim = heredoc + 2;
			size_t dl = (size_t)(l + n - delim);
			int start = line;
			pw__buf_append(&key, l, (size_t)(heredoc - l));
			if (!pw__env_name_valid(pw__buf_cstr(&key)) || dl == 0) {
				rc = pw_error_set(
				    err, PW_EVALIDATION,
				    "PIPEWRIGHT_OUTPUT line %d: write NAME<<DELIMITER, with a valid "
				    "name (letters, digits, '_') and a delimiter",
				    line);
				break;
			}
			int closed = 0, first = 1;
			while (p < end) {
				const char *c;
				size_t m = next_line(&p, end, &c);
				line++;
				if (memchr(c, '\0', m)) {
					rc = nul_line(err, line);
					break;
				}
				if ((m == dl || (m == dl + 1 && c[dl] == '\r')) &&
				    memcmp(c, delim, dl) == 0) {
					closed = 1;
					break;
				}
				if (!first && pw__buf_putc(&val, '\n') < 0)
					break;
				first = 0;
				if (pw__buf_append(&val, c, m) < 0)
					break;
			}
			if (rc < 0)
				break;
			if (!closed) {
				rc = pw_error_set(
				    err, PW_EVALIDATION,
				    "PIPEWRIGHT_OUTPUT line %d: the value of '%s' is not closed by a "
				    "line holding its delimiter",
				    start, pw__buf_cstr(&key));
				break;
			}
		} else if (!eq) {
			rc = pw_error_set(err, PW_EVALIDATION, "PIPEWRIGHT_OUTPUT line %d is not NAME=value",
			                  line);
			break;
		} else {
			pw__buf_append(&key, l, (size_t)(eq - l));
			if (!pw__env_name_valid(pw__buf_cstr(&key))) {
				rc = pw_error_set(
				    err, PW_EVALIDATION,
				    "PIPEWRIGHT_OUTPUT line %d: the name before '=' is not a valid "
				    "output name (letters, digits, '_', not starting with a digit)",
				    line);
				break;
			}
			pw__buf_append(&val, eq + 1, (size_t)(l + n - eq - 1));
		}
		pw_exec_set_output(ex, pw__buf_cstr(&key), pw__buf_cstr(&val));
	}
	pw__buf_dispose(&key);
	pw__buf_dispose(&val);
	return rc;
}

/* own: what fstat said of the file made for the step (after it ran), or NULL. */
static int read_outputs(const char *path, const struct stat *own, pw_exec *ex, pw_error **err)
{
	struct stat st;
	/* most steps write none: nothing to look at beyond our descriptor, unless the step
	 * replaced the file (renamed another over it: ours is then unlinked) */
	if (own && own->st_nlink > 0 && own->st_size == 0)
		return 0;
	if (stat(path, &st) < 0 || st.st_size == 0)
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	pw_buf b = PW_BUF_INIT(OUTPUTS_MAX);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (pw__buf_append(&b, chunk, n) < 0) {
			rc = pw_error_set(err, PW_EVALIDATION, "PIPEWRIGHT_OUTPUT holds more than %d bytes",
			                  OUTPUTS_MAX);
			break;
		}
	}
	fclose(f);
	if (rc == 0)
		rc = pw__shell_parse_outputs(pw__buf_cstr(&b), b.len, ex, err);
	pw__buf_dispose(&b);
	return rc;
}

/* The outputs file handed to a step. Made once and handed from step to step (emptied in
 * between) while it stays as made: a file created and removed per step cost a twentieth of a
 * `true` step. Private (0600, a name no one can guess or choose, O_EXCL) because steps write
 * secrets there; in memory (/dev/shm) where there is one, so what a step writes there never
 * reaches a disk; else in the run directory (not kept: that directory is the run's), else in
 * /tmp. */
typedef struct outputs_file {
	int fd;
	int pooled; /* may go back to the connector's pool (not in a run directory) */
	char path[4300];
} outputs_file;

#define OUTPUTS_POOL_MAX 64

typedef struct shell_impl {
	int null_fd; /* /dev/null for every step's stdin, opened once (-1: each child opens it) */
	pthread_mutex_t lock;
	outputs_file *pool[OUTPUTS_POOL_MAX];
	size_t pooled;
} shell_impl;

static outputs_file *outputs_take(shell_impl *impl, const char *rundir)
{
	outputs_file *of = NULL;
	pthread_mutex_lock(&impl->lock);
	if (impl->pooled)
		of = impl->pool[--impl->pooled];
	pthread_mutex_unlock(&impl->lock);
	if (of)
		return of;
	of = malloc(sizeof(*of));
	if (!of)
		return NULL;
	const char *const places[][2] = {
	    {"/dev/shm", "pipewright-outputs"}, {rundir, ".outputs"}, {"/tmp", "pipewright-outputs"}};
	of->fd = -1;
	for (size_t i = 0; i < 3 && of->fd < 0; i++) {
		if (!places[i][0])
			continue;
		/* mkostemp replaces the six X with a name of its own; our pid in the name tells
		 * `pipewright gc` whose it is (PW_SHELL_OUTPUTS_PREFIX) once we are gone */
		snprintf(of->path, sizeof(of->path), "%s/%s-%ld-XXXXXX", places[i][0], places[i][1],
		         (long)getpid());
		of->fd = mkostemp(of->path, O_CLOEXEC);
		of->pooled = i != 1;
	}
	if (of->fd < 0) {
		free(of);
		return NULL;
	}
	return of;
}

#define OUTPUTS_TREE_DEPTH 32 /* directories the step made there, nested: deeper is left */

/* Removes `name` in the directory dirfd: a file, a link (never followed) or a directory with
 * everything in it, walked by descriptors opened O_NOFOLLOW, so that nothing outside it is
 * touched whatever the step put there. 0, or -1 with errno (of the first failure). */
static int remove_tree_at(int dirfd, const char *name, int depth)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth >= OUTPUTS_TREE_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	int rc = 0, first_errno = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (remove_tree_at(fd, e->d_name, depth + 1) < 0 && rc == 0) {
			rc = -1;
			first_errno = errno;
		}
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0) {
		rc = -1;
		first_errno = errno;
	}
	errno = first_errno;
	return rc;
}

int pw__shell_remove_outputs_path(const char *path)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path || !slash[1])
		return -1;
	char dir[sizeof(((outputs_file *)0)->path)];
	size_t n = (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	int rc = remove_tree_at(dirfd, slash + 1, 0);
	int saved = errno;
	close(dirfd);
	errno = saved;
	return rc;
}

/* ex: the step's, for a warning when what is at the path cannot be removed; may be NULL. */
static void outputs_drop(outputs_file *of, pw_exec *ex)
{
	if (!of)
		return;
	/* whatever is at the path now: ours, or what the step put there */
	if (pw__shell_remove_outputs_path(of->path) < 0 && ex)
		pw_exec_log(ex, PW_LOG_WARN, "shell",
		            "cannot remove what the step left at its PIPEWRIGHT_OUTPUT path %s: %s; remove "
		            "it by hand",
		            of->path, strerror(errno));
	close(of->fd);
	free(of);
}

/* Ours, and only ours, still at its path (itself, not a symbolic link to it), private: the
 * next step can have it. */
static int outputs_intact(const outputs_file *of, const struct stat *st)
{
	struct stat at;
	return S_ISREG(st->st_mode) && st->st_nlink == 1 && (st->st_mode & 07777) == 0600 &&
	       st->st_uid == geteuid() && lstat(of->path, &at) == 0 && at.st_ino == st->st_ino &&
	       at.st_dev == st->st_dev;
}

/* After the step (own: fstat of our descriptor then, or NULL): back to the pool, emptied,
 * when it is intact; else removed, with whatever the step put at its path. */
static void outputs_give_back(shell_impl *impl, outputs_file *of, const struct stat *own, pw_exec *ex)
{
	if (!of)
		return;
	int keep =
	    of->pooled && own && outputs_intact(of, own) && (own->st_size == 0 || ftruncate(of->fd, 0) == 0);
	if (keep) {
		pthread_mutex_lock(&impl->lock);
		if (impl->pooled < OUTPUTS_POOL_MAX)
			impl->pool[impl->pooled++] = of, of = NULL;
		pthread_mutex_unlock(&impl->lock);
	}
	outputs_drop(of, ex);
}

/* Says which key a failure to start the step is about: the working_directory when the step
 * could not enter it (it names a file, or one it cannot search), else the command. */
static void tag_start_error(pw_error *e, const pw_step *step, const char *cwd)
{
	struct stat st;
	int not_dir = stat(cwd, &st) == 0 && !S_ISDIR(st.st_mode);
	int unusable = not_dir || access(cwd, X_OK) != 0;
	if (!unusable || !json_is_string(json_object_get(step->config, "working_directory"))) {
		pw_error_set_key(e, "command");
		return;
	}
	pw_error_set_key(e, "working_directory");
	pw_error_set_hint(e, not_dir ? "working_directory names a file, not a directory: give the "
	                               "directory to run in, relative to the workspace"
	                             : "working_directory must be a directory this user can enter: "
	                               "check that it exists and its permissions");
}

static int shell_execute(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                         const pw_map *env, pw_exec *ex, pw_error **err)
{
	char *cwd = NULL;
	int cwd_fd = -1;
	int rc = resolve_cwd(&cwd, &cwd_fd, step, ws, err);
	if (rc < 0)
		return rc;
	shell_impl *impl = pw_connector_impl(c);
	outputs_file *of = outputs_take(impl, pw_workspace_run_dir(ws));
	const char *outputs_path = of ? of->path : NULL;
	char **argv = build_argv(step);
	pw_map *envm = build_env(step, env, outputs_path);
	char **envp = envm ? pw__proc_envp_from_map(envm) : NULL;
	if (!argv || !envp) {
		outputs_drop(of, ex);
		free(cwd);
		if (cwd_fd >= 0)
			close(cwd_fd);
		free_strv(argv);
		pw_map_free(envm);
		pw__proc_envp_free(envp);
		return PW_ENOMEM;
	}
	json_t *kg = json_object_get(step->config, "kill_grace");
	out_ctx octx = {ex};
	pw_proc_options po = PW_PROC_OPTIONS_INIT;
	po.argv = (const char *const *)argv;
	po.envp = (const char *const *)envp;
	po.cwd = cwd;
	po.cwd_fd = cwd_fd;
	po.cancel_fd = pw_exec_cancel_fd(ex);
	po.null_fd = impl->null_fd;
	double kgs = 0;
	po.kill_grace_ms = pw__config_number(kg, &kgs) ? (int64_t)(kgs * 1000.0) : 10000;
	po.on_output = on_proc_output;
	po.payload = &octx;
	pw_exec_log(ex, PW_LOG_DEBUG, "shell", "running %s in %s", argv[0], cwd);
	pw_proc_result pr;
	if (pw__shell_test_before_spawn)
		pw__shell_test_before_spawn(cwd);
	rc = pw__proc_run(&pr, &po, err);
	if (cwd_fd >= 0)
		close(cwd_fd);
	struct stat own;
	const struct stat *ownp = of && fstat(of->fd, &own) == 0 ? &own : NULL;
	/* (a configuration error here is an environment too large to start the step with) */
	if (rc < 0 && err && *err && !pw_error_key(*err) && pw_error_code(*err) != PW_ECONFIG)
		tag_start_error(*err, step, cwd);
	if (rc == 0) {
		int code = pr.exited ? pr.exit_code : 128 + pr.term_signal;
		pw_result *r = pw_result_new(code, NULL, NULL);
		if (!r) {
			rc = PW_ENOMEM;
		} else {
			char buf[64];
			if (!pr.exited) {
				pw_result_set_signal(r, pr.term_signal);
				snprintf(buf, sizeof(buf), "%d", pr.term_signal);
				pw_result_with_metadata(r, "signal", buf);
			}
			snprintf(buf, sizeof(buf), "%lld", (long long)pr.duration_ms);
			pw_result_with_metadata(r, "duration_ms", buf);
			pw_result_with_metadata(r, "working_directory", cwd);
			if (pr.killed)
				pw_result_with_metadata(r, "killed", "true");
			pw_buf how = PW_BUF_INIT(1024);
			pw__proc_result_describe(&how, &pr, &po);
			pw_result_with_metadata(r, "ended", pw__buf_cstr(&how));
			pw__buf_dispose(&how);
			if (pr.exited && pr.exit_code == 0) {
				pw_error *oe = NULL;
				if (outputs_path && read_outputs(outputs_path, ownp, ex, &oe) < 0) {
					pw_exec_output(ex, PW_STREAM_STDERR, "pipewright: ", 12);
					pw_exec_output(ex, PW_STREAM_STDERR, pw_error_message(oe),
					               strlen(pw_error_message(oe)));
					pw_exec_output(ex, PW_STREAM_STDERR, "\n", 1);
					pw_result_free(r);
					r = pw_result_new(1, NULL, NULL);
					pw_result_with_metadata(r, "outputs_error", pw_error_message(oe));
				}
				pw_error_free(oe);
			}
			*out = r;
		}
	}
	/* what the step wrote there is now in the exec's outputs (masked wherever it is shown);
	 * the raw file is emptied for the next step or removed */
	outputs_give_back(impl, of, ownp, ex);
	free(cwd);
	free_strv(argv);
	pw_map_free(envm);
	pw__proc_envp_free(envp);
	return rc;
}

/* Needs no quotes for the shell: letters, digits and -_./=:,+@% */
static int shell_safe(const char *a)
{
	if (!*a)
		return 0;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-_./=:,+@%", *p)))
			return 0;
	return 1;
}

static void quote_arg(pw_buf *b, const char *a)
{
	if (shell_safe(a)) {
		pw__buf_puts(b, a);
		return;
	}
	pw__buf_putc(b, '\'');
	for (const char *p = a; *p; p++) {
		if (*p == '\'')
			pw__buf_puts(b, "'\\''");
		else
			pw__buf_putc(b, *p);
	}
	pw__buf_putc(b, '\'');
}

static int shell_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                      const pw_map *env, pw_error **err)
{
	char **argv = build_argv(step);
	if (!argv)
		return PW_ENOMEM;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_puts(&b, "run:");
	for (size_t i = 0; argv[i]; i++) {
		pw__buf_putc(&b, ' ');
		quote_arg(&b, argv[i]);
	}
	json_t *wd = json_object_get(step->config, "working_directory");
	pw__buf_puts(&b, "\nin: ");
	pw__buf_puts(&b, pw_workspace_root(ws));
	if (json_is_string(wd)) {
		pw__buf_putc(&b, '/');
		pw__buf_puts(&b, json_string_value(wd));
		/* as the step would find it now (an earlier step may still make or change it) */
		char *real = NULL;
		int fd = -1;
		pw_error *e = NULL;
		if (resolve_cwd(&real, &fd, step, ws, &e) < 0 && e)
			pw__buf_printf(&b, "\nwarning: %s; the step fails unless an earlier one changes that",
			               pw_error_message(e));
		if (fd >= 0)
			close(fd);
		free(real);
		pw_error_free(e);
	}
	pw_map *envm = build_env(step, env, "(per run)");
	pw__buf_puts(&b, json_is_true(json_object_get(step->config, "inherit_env"))
	                     ? "\nenvironment (host inherited):"
	                     : "\nenvironment:");
	for (size_t i = 0; envm && i < pw_map_count(envm); i++) {
		pw__buf_putc(&b, ' ');
		pw__buf_puts(&b, pw_map_key_at(envm, i));
	}
	pw__buf_puts(&b, "\n");
	pw_map_free(envm);
	free_strv(argv);
	*out = pw__buf_detach(&b);
	return 0;
}

static void shell_destroy(pw_connector *c)
{
	shell_impl *impl = pw_connector_impl(c);
	if (!impl)
		return;
	for (size_t i = 0; i < impl->pooled; i++)
		outputs_drop(impl->pool[i], NULL);
	if (impl->null_fd >= 0)
		close(impl->null_fd);
	pthread_mutex_destroy(&impl->lock);
	free(impl);
}

static const pw_connector_ops shell_ops = {
    .version = PW_CONNECTOR_OPS_VERSION,
    .caps = PW_CAP_PLAN,
    .validate_config = shell_validate,
    .execute_step = shell_execute,
    .plan = shell_plan,
    .destroy = shell_destroy,
};

int pw__shell_connector_create(pw_connector **out, pw_manager *m, pw_error **err)
{
	shell_impl *impl = calloc(1, sizeof(*impl));
	if (!impl || pthread_mutex_init(&impl->lock, NULL) != 0) {
		free(impl);
		return pw_error_set(err, PW_ENOMEM, "out of memory");
	}
	impl->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int rc = pw_connector_new(out, &shell_ops, "shell", PW_TYPE_SHELL, impl, err);
	if (rc < 0) {
		if (impl->null_fd >= 0)
			close(impl->null_fd);
		pthread_mutex_destroy(&impl->lock);
		free(impl);
	}
	return rc;
}
