/* The gitlab connector's `mirror` action: real git, run with argv through the process layer,
 * fetching the source bare into the run directory and pushing it to the target. Credentials
 * never appear in a URL, an argument, a log line or an error: git asks a helper we write
 * (GIT_ASKPASS), which prints them from its own environment, or uses GIT_SSH_COMMAND with a
 * key file in a private directory. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/git/gitlab.h"
#include "core/step.h"
#include "proc/proc.h"

#define MINIMAL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PORCELAIN_MAX ((size_t)4 << 20)
#define ALLOWED_PROTOCOLS "file:git:http:https:ssh"

/* The askpass helper: git runs it with the prompt as $1 ("Username for ...", "Password for
 * ..."); it answers from variables only git's environment holds. */
static const char askpass_script[] = "#!/bin/sh\n"
                                     "case \"$1\" in\n"
                                     "[Uu]sername*) printf '%s\\n' \"$PIPEWRIGHT_GIT_USERNAME\" ;;\n"
                                     "*) printf '%s\\n' \"$PIPEWRIGHT_GIT_PASSWORD\" ;;\n"
                                     "esac\n";

static const char *cfg_str(const pw_step *step, const char *key)
{
	return json_string_value(json_object_get(step->config, key));
}

int pw__gitlab_cfg_bool(const pw_step *step, const char *key, int fallback)
{
	json_t *v = json_object_get(step->config, key);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

static void add_err(pw_error **err, int *rc, const char *key, const char *hint, const char *fmt,
                    const char *a)
{
	*rc = PW_ECONFIG;
	if (!err)
		return;
	pw_error *e = pw_error_new(PW_ECONFIG, fmt, a);
	pw_error_set_key(e, key);
	if (hint)
		pw_error_set_hint(e, hint);
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

/* A repository location git may be given: a URL of an allowed scheme, scp-like
 * user@host:path, or an absolute path. Never starts with '-' (it would be an option). */
static int repo_ok(const char *u)
{
	if (!u || !*u || u[0] == '-')
		return 0;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	static const char *const schemes[] = {"https://", "http://", "ssh://", "git://", "file://", NULL};
	for (size_t i = 0; schemes[i]; i++)
		if (strncmp(u, schemes[i], strlen(schemes[i])) == 0)
			return u[strlen(schemes[i])] != '\0';
	if (u[0] == '/')
		return 1;
	if (strstr(u, "::")) /* transport helpers (ext::, fd::) */
		return 0;
	const char *colon = strchr(u, ':');
	const char *slash = strchr(u, '/');
	return colon && colon != u && (!slash || colon < slash);
}

/* Non-zero when an http(s) URL carries userinfo with a password ("user:pass@"). */
static int url_has_password(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p)
		return 0;
	p += 3;
	size_t host_end = strcspn(p, "/?#");
	const char *at = memchr(p, '@', host_end);
	return at && memchr(p, ':', (size_t)(at - p)) != NULL;
}

static int is_ssh_url(const char *u)
{
	if (strncmp(u, "ssh://", 6) == 0)
		return 1;
	if (strstr(u, "://") || u[0] == '/')
		return 0;
	return strchr(u, ':') != NULL;
}

static int valid_ref_name(const char *b)
{
	if (!b || !*b || b[0] == '-' || b[0] == '/' || strstr(b, "..") || strstr(b, "@{") || strstr(b, "//"))
		return 0;
	size_t n = strlen(b);
	if (b[n - 1] == '/' || b[n - 1] == '.' || (n >= 5 && strcmp(b + n - 5, ".lock") == 0))
		return 0;
	for (const char *p = b; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || strchr("~^:?*[\\", *p))
			return 0;
	return 1;
}

static int valid_env_name(const char *k)
{
	if (!k || !*k || (*k >= '0' && *k <= '9'))
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

int pw__gitlab_mirror_validate(const pw_step *step, pw_error **err)
{
	int rc = 0;
	static const char *const repos[] = {"source_repo", "target_repo"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(step->config, repos[i]);
		if (!v) {
			add_err(err, &rc, repos[i],
			        "give the repository as an https://, ssh://, git:// or file:// URL, "
			        "user@host:path "
			        "or an absolute path",
			        "the mirror action needs %s", repos[i]);
			continue;
		}
		const char *u = json_string_value(v);
		if (!repo_ok(u)) {
			add_err(
			    err, &rc, repos[i],
			    "use an https://, ssh://, git:// or file:// URL, user@host:path or an absolute "
			    "path (not starting with '-', no transport helpers such as ext::)",
			    "%s is not a repository location git may be given", repos[i]);
			continue;
		}
		if (url_has_password(u))
			add_err(err, &rc, repos[i],
			        "remove the credentials from the URL, put the token in a pipeline secret and "
			        "name it in source_token_secret / target_token_secret",
			        "%s holds a password in its URL (not shown here)", repos[i]);
	}
	json_t *b = json_object_get(step->config, "branch");
	if (b && !valid_ref_name(json_string_value(b)))
		add_err(
		    err, &rc, "branch", "a branch name such as main or release/1.2 (git check-ref-format)",
		    "branch '%s' is not a valid branch name", json_is_string(b) ? json_string_value(b) : "?");
	static const char *const bools[] = {"force", "prune", NULL};
	for (size_t i = 0; bools[i]; i++) {
		json_t *v = json_object_get(step->config, bools[i]);
		if (v && !json_is_boolean(v))
			add_err(err, &rc, bools[i], "write true or false", "%s must be true or false",
			        bools[i]);
	}
	if (b && json_is_true(json_object_get(step->config, "prune")))
		add_err(err, &rc, "prune",
		        "prune deletes target refs missing from the source: mirror everything "
		        "(no branch) to use it",
		        "prune applies to a whole mirror, not to one branch%s", "");
	static const char *const names[] = {"source_token_secret", "target_token_secret", "ssh_key_secret",
	                                    NULL};
	for (size_t i = 0; names[i]; i++) {
		json_t *v = json_object_get(step->config, names[i]);
		if (v && !valid_env_name(json_string_value(v)))
			add_err(err, &rc, names[i],
			        "the name of a pipeline secret (listed under `secrets:`), not its value",
			        "%s must name a secret (letters, digits, '_')", names[i]);
	}
	static const char *const strs[] = {"source_username", "target_username", "ssh_key_file",
	                                   "known_hosts_file", NULL};
	for (size_t i = 0; strs[i]; i++) {
		json_t *v = json_object_get(step->config, strs[i]);
		if (v && (!json_is_string(v) || !*json_string_value(v)))
			add_err(err, &rc, strs[i], NULL, "%s must be a non-empty string", strs[i]);
	}
	int uses_ssh = 0;
	for (size_t i = 0; i < 2; i++) {
		const char *u = cfg_str(step, repos[i]);
		uses_ssh |= u && is_ssh_url(u);
	}
	int has_key =
	    json_object_get(step->config, "ssh_key_secret") || json_object_get(step->config, "ssh_key_file");
	if (has_key && !json_object_get(step->config, "known_hosts_file"))
		add_err(
		    err, &rc, "known_hosts_file",
		    "host keys are always checked: give a known_hosts file (ssh-keyscan HOST > known_hosts, "
		    "then verify the fingerprints)",
		    "an SSH key needs known_hosts_file%s", "");
	if (json_object_get(step->config, "ssh_key_secret") && json_object_get(step->config, "ssh_key_file"))
		add_err(err, &rc, "ssh_key_file", "give one of them",
		        "ssh_key_secret and ssh_key_file both set%s", "");
	(void)uses_ssh;
	return rc;
}

/* A path from the config made absolute against the workspace. Caller frees. */
static char *ws_path(const pw_workspace *ws, const char *p)
{
	pw_buf b = PW_BUF_INIT(0);
	if (p[0] == '/' || !ws)
		pw__buf_puts(&b, p);
	else
		pw__buf_printf(&b, "%s/%s", pw_workspace_root(ws), p);
	return pw__buf_detach(&b);
}

/* Single-quoted for the shell git runs GIT_SSH_COMMAND with. */
static void sh_quote(pw_buf *b, const char *a)
{
	pw__buf_putc(b, '\'');
	for (const char *p = a; *p; p++) {
		if (*p == '\'')
			pw__buf_puts(b, "'\\''");
		else
			pw__buf_putc(b, *p);
	}
	pw__buf_putc(b, '\'');
}

typedef struct side {
	const char *url;
	const char *token;    /* borrowed from env, or NULL */
	const char *username; /* for http(s) */
} side;

typedef struct mirror_run {
	pw_exec *ex;
	const pw_step *step;
	const pw_workspace *ws;
	const pw_map *env;
	char tmpdir[64];   /* private: askpass helper, key file */
	char *repo;        /* the bare repository */
	char *ssh_command; /* GIT_SSH_COMMAND, or NULL */
	pw_buf last_err;   /* the tail of git's stderr, for the failure message */
} mirror_run;

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *path)
{
	if (path && *path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The environment of every git run: nothing from the host but a PATH, no user or system
 * configuration (a credential helper there would store our token), no prompts, only the
 * allowed transports. Per side: the askpass helper and the credentials it reads. */
static char **git_env(mirror_run *m, const side *s)
{
	pw_map *e = pw_map_new();
	if (!e)
		return NULL;
	const char *path = pw_map_get(m->env, "PATH");
	pw_map_set(e, "PATH", path && *path ? path : MINIMAL_PATH);
	pw_map_set(e, "HOME", m->tmpdir);
	pw_map_set(e, "XDG_CONFIG_HOME", m->tmpdir);
	pw_map_set(e, "GIT_CONFIG_NOSYSTEM", "1");
	pw_map_set(e, "GIT_TERMINAL_PROMPT", "0");
	pw_map_set(e, "GIT_ALLOW_PROTOCOL", ALLOWED_PROTOCOLS);
	pw_map_set(e, "LC_ALL", "C");
	/* an empty credential.helper clears any helper list; the environment-scoped config
	 * (GIT_CONFIG_COUNT) applies to this process only */
	pw_map_set(e, "GIT_CONFIG_COUNT", "1");
	pw_map_set(e, "GIT_CONFIG_KEY_0", "credential.helper");
	pw_map_set(e, "GIT_CONFIG_VALUE_0", "");
	if (s && s->token) {
		pw_buf p = PW_BUF_INIT(0);
		pw__buf_printf(&p, "%s/askpass", m->tmpdir);
		pw_map_set(e, "GIT_ASKPASS", pw__buf_cstr(&p));
		pw__buf_dispose(&p);
		pw_map_set(e, "PIPEWRIGHT_GIT_USERNAME", s->username);
		pw_map_set(e, "PIPEWRIGHT_GIT_PASSWORD", s->token);
	}
	if (m->ssh_command)
		pw_map_set(e, "GIT_SSH_COMMAND", m->ssh_command);
	char **envp = pw__proc_envp_from_map(e);
	pw_map_free(e);
	return envp;
}

typedef struct git_out {
	mirror_run *m;
	pw_buf *capture; /* stdout, when wanted */
	int show_stdout;
} git_out;

static void on_git_output(int stream, const char *data, size_t len, void *payload)
{
	git_out *o = payload;
	if (stream == PW_PROC_STDOUT && o->capture)
		pw__buf_append(o->capture, data, len);
	if (stream == PW_PROC_STDERR) {
		/* keep the last 2 KiB for the failure message */
		pw_buf *t = &o->m->last_err;
		if (t->len + len > 2048) {
			size_t keep = len >= 2048 ? 0 : 2048 - len;
			if (keep < t->len) {
				memmove(t->data, t->data + t->len - keep, keep);
				t->len = keep;
				t->data[keep] = '\0';
			}
			if (len > 2048) {
				data += len - 2048;
				len = 2048;
			}
		}
		pw__buf_append(t, data, len);
	}
	if (stream == PW_PROC_STDERR || o->show_stdout)
		pw_exec_output(o->m->ex, stream == PW_PROC_STDERR ? PW_STREAM_STDERR : PW_STREAM_STDOUT, data,
		               len);
}

/* Runs git with argv (argv[0] is "git"). Returns 0 with *code its exit status (128+signal, or
 * -1 when cancelled/timed out), or an error when it could not be started. */
static int run_git(int *code, mirror_run *m, const side *s, const char *const *argv, pw_buf *capture,
                   int show_stdout, pw_error **err)
{
	char **envp = git_env(m, s);
	if (!envp)
		return PW_ENOMEM;
	pw__buf_clear(&m->last_err);
	git_out o = {m, capture, show_stdout};
	pw_proc_options po = PW_PROC_OPTIONS_INIT;
	po.argv = argv;
	po.envp = (const char *const *)envp;
	po.cwd = m->tmpdir;
	po.cancel_fd = pw_exec_cancel_fd(m->ex);
	po.kill_grace_ms = 5000;
	po.on_output = on_git_output;
	po.payload = &o;
	pw_buf line = PW_BUF_INIT(0);
	for (size_t i = 0; argv[i]; i++)
		pw__buf_printf(&line, "%s%s", i ? " " : "", argv[i]);
	pw_exec_log(m->ex, PW_LOG_INFO, "gitlab", "running %s", pw__buf_cstr(&line));
	pw__buf_dispose(&line);
	pw_proc_result pr;
	int rc = pw__proc_run(&pr, &po, err);
	pw__proc_envp_free(envp);
	if (rc < 0) {
		if (err && *err)
			pw_error_set_hint(*err,
			                  "install git (Debian: apt-get install git) or put it on the PATH "
			                  "given in the pipeline's env");
		return rc;
	}
	if (pr.cancelled || pr.timed_out)
		*code = -1;
	else
		*code = pr.exited ? pr.exit_code : 128 + pr.term_signal;
	return 0;
}

/* Counts of `git push --porcelain` lines: "<flag>\t<from>:<to>\t<summary>". */
typedef struct push_counts {
	int updated, up_to_date, rejected, deleted;
} push_counts;

static void parse_porcelain(push_counts *c, const char *text)
{
	memset(c, 0, sizeof(*c));
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (n >= 2 && p[1] == '\t') {
			switch (p[0]) {
			case ' ':
			case '+':
			case '*':
				c->updated++;
				break;
			case '-':
				c->updated++;
				c->deleted++;
				break;
			case '=':
				c->up_to_date++;
				break;
			case '!':
				c->rejected++;
				break;
			default:
				break;
			}
		}
		p += n;
		if (*p)
			p++;
	}
}

static long long objects_total;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		objects_total += (long long)st->st_size;
	return 0;
}

/* The size of the object store (packs and loose objects) of the bare copy. nftw has no
 * payload, so the running total is a static guarded by a lock. */
static pthread_mutex_t size_lock = PTHREAD_MUTEX_INITIALIZER;

static long long object_bytes(const char *repo)
{
	pw_buf d = PW_BUF_INIT(0);
	pw__buf_printf(&d, "%s/objects", repo);
	pthread_mutex_lock(&size_lock);
	objects_total = 0;
	nftw(pw__buf_cstr(&d), add_size, 16, FTW_PHYS);
	long long total = objects_total;
	pthread_mutex_unlock(&size_lock);
	pw__buf_dispose(&d);
	return total;
}

/* The token for one side: the secret named in `key`, else (for the target only) GITLAB_TOKEN
 * when the pipeline has it. */
static int side_token(const char **out, const pw_step *step, const pw_map *env, const char *key,
                      const char *fallback, pw_error **err)
{
	*out = NULL;
	const char *name = cfg_str(step, key);
	if (!name) {
		if (fallback)
			*out = pw_map_get(env, fallback);
		return 0;
	}
	*out = pw_map_get(env, name);
	if (!*out || !**out) {
		pw_error *e = pw_error_new(
		    PW_ECONFIG, "%s names '%s', which this step's environment does not hold", key, name);
		pw_error_set_key(e, key);
		pw_error_set_hint(e, "list it under the pipeline's `secrets:` and set it in the environment "
		                     "pipewright runs in");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	return 0;
}

static int prepare_ssh(mirror_run *m, pw_error **err)
{
	const char *key_secret = cfg_str(m->step, "ssh_key_secret");
	const char *key_file = cfg_str(m->step, "ssh_key_file");
	const char *kh = cfg_str(m->step, "known_hosts_file");
	if (!key_secret && !key_file && !kh)
		return 0;
	pw_buf cmd = PW_BUF_INIT(0);
	pw__buf_puts(&cmd, "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes");
	if (key_secret) {
		const char *key = pw_map_get(m->env, key_secret);
		if (!key || !*key) {
			pw__buf_dispose(&cmd);
			pw_error *e =
			    pw_error_new(PW_ECONFIG,
			                 "ssh_key_secret names '%s', which this step's environment does "
			                 "not hold",
			                 key_secret);
			pw_error_set_key(e, "ssh_key_secret");
			pw_error_set_hint(e, "list it under the pipeline's `secrets:`");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			return PW_ECONFIG;
		}
		pw_exec_add_secret(m->ex, key, "ssh key", NULL);
		pw_buf p = PW_BUF_INIT(0), body = PW_BUF_INIT(0);
		pw__buf_printf(&p, "%s/id_key", m->tmpdir);
		pw__buf_puts(&body, key);
		if (body.len && body.data[body.len - 1] != '\n')
			pw__buf_putc(&body, '\n');
		int w = write_file(pw__buf_cstr(&p), body.data, body.len, 0600);
		pw__buf_dispose(&body);
		if (w < 0) {
			int rc = pw_error_set(err, PW_EIO, "cannot write the SSH key into %s: %s", m->tmpdir,
			                      strerror(errno));
			pw__buf_dispose(&p);
			pw__buf_dispose(&cmd);
			return rc;
		}
		pw__buf_puts(&cmd, " -o IdentitiesOnly=yes -i ");
		sh_quote(&cmd, pw__buf_cstr(&p));
		pw__buf_dispose(&p);
	} else if (key_file) {
		char *abs = ws_path(m->ws, key_file);
		pw__buf_puts(&cmd, " -o IdentitiesOnly=yes -i ");
		sh_quote(&cmd, abs);
		pw_free(abs);
	}
	if (kh) {
		char *abs = ws_path(m->ws, kh);
		if (access(abs, R_OK) != 0) {
			pw_error *e = pw_error_new(PW_ECONFIG, "known_hosts_file '%s' cannot be read: %s", kh,
			                           strerror(errno));
			pw_error_set_key(e, "known_hosts_file");
			pw_error_set_hint(
			    e, "a path relative to the workspace, made with ssh-keyscan and checked");
			if (err && !*err)
				*err = e;
			else
				pw_error_free(e);
			pw_free(abs);
			pw__buf_dispose(&cmd);
			return PW_ECONFIG;
		}
		pw__buf_puts(&cmd, " -o UserKnownHostsFile=");
		sh_quote(&cmd, abs);
		pw_free(abs);
	}
	m->ssh_command = pw__buf_detach(&cmd);
	return 0;
}

/* The refspecs fetched and pushed: branches and tags for a mirror (hidden refs such as
 * refs/pull/N or refs/merge-requests/N are refused by the hosting services), or one branch. */
static void refspecs(const char **out, char *branch_spec, size_t cap, const pw_step *step, int force)
{
	const char *branch = cfg_str(step, "branch");
	if (branch) {
		snprintf(branch_spec, cap, "%srefs/heads/%s:refs/heads/%s", force ? "+" : "", branch, branch);
		out[0] = branch_spec;
		out[1] = NULL;
	} else {
		out[0] = force ? "+refs/heads/*:refs/heads/*" : "refs/heads/*:refs/heads/*";
		out[1] = force ? "+refs/tags/*:refs/tags/*" : "refs/tags/*:refs/tags/*";
		out[2] = NULL;
	}
}

/* The argv of each command; repo is the bare repository's path. The copy is made by
 * `git clone --bare` (branches and tags, as git hosts' push mirrors carry; faster than an init
 * and a fetch, which checks for forced updates and writes FETCH_HEAD). */
typedef struct mirror_argv {
	const char *clone[12];
	const char *push[14];
	char push_spec[600];
	char git_dir[PATH_MAX + 16];
} mirror_argv;

static void build_argv(mirror_argv *a, const pw_step *step, const char *repo)
{
	const char *branch = cfg_str(step, "branch");
	int force = pw__gitlab_cfg_bool(step, "force", branch ? 0 : 1);
	int prune = pw__gitlab_cfg_bool(step, "prune", branch ? 0 : 1);
	snprintf(a->git_dir, sizeof(a->git_dir), "--git-dir=%s", repo);
	size_t i = 0;
	a->clone[i++] = "git";
	a->clone[i++] = "clone";
	a->clone[i++] = "--bare";
	if (branch) {
		a->clone[i++] = "--single-branch";
		a->clone[i++] = "--no-tags";
		a->clone[i++] = "--branch";
		a->clone[i++] = branch;
	}
	a->clone[i++] = "--";
	a->clone[i++] = cfg_str(step, "source_repo");
	a->clone[i++] = repo;
	a->clone[i] = NULL;
	const char *specs[3];
	refspecs(specs, a->push_spec, sizeof(a->push_spec), step, force);
	i = 0;
	a->push[i++] = "git";
	a->push[i++] = a->git_dir;
	a->push[i++] = "push";
	a->push[i++] = "--porcelain";
	if (prune)
		a->push[i++] = "--prune";
	a->push[i++] = "--";
	a->push[i++] = cfg_str(step, "target_repo");
	for (size_t k = 0; specs[k]; k++)
		a->push[i++] = specs[k];
	a->push[i] = NULL;
}

static void plan_cmd(pw_buf *b, const char *const *argv)
{
	for (size_t i = 0; argv[i]; i++) {
		if (i == 0)
			pw__buf_puts(b, "  $ ");
		else
			pw__buf_putc(b, ' ');
		if (*argv[i] &&
		    strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		                    "-_./=:,+@%") == strlen(argv[i]))
			pw__buf_puts(b, argv[i]);
		else
			sh_quote(b, argv[i]);
	}
	pw__buf_putc(b, '\n');
}

static void plan_auth(pw_buf *b, const pw_step *step, const pw_map *env, const char *which, const char *key,
                      const char *fallback, const char *url)
{
	const char *name = cfg_str(step, key);
	if (!name && fallback && pw_map_get(env, fallback))
		name = fallback;
	if (name)
		pw__buf_printf(
		    b, "  %s credentials: secret %s, given to git through GIT_ASKPASS (user %s)\n", which,
		    name,
		    cfg_str(step, strcmp(which, "source") == 0 ? "source_username" : "target_username")
		        ? cfg_str(step, strcmp(which, "source") == 0 ? "source_username" : "target_username")
		        : "oauth2");
	else if (!is_ssh_url(url))
		pw__buf_printf(b, "  %s credentials: none\n", which);
}

int pw__gitlab_mirror_plan(pw_buf *b, const pw_step *step, const pw_workspace *ws, const pw_map *env)
{
	mirror_argv a;
	const char *rd = ws ? pw_workspace_run_dir(ws) : NULL;
	pw_buf repo = PW_BUF_INIT(0);
	pw__buf_printf(&repo, "%s/mirror-XXXXXX", rd ? rd : "/tmp/pw-git-XXXXXX");
	build_argv(&a, step, pw__buf_cstr(&repo));
	pw__buf_puts(
	    b, "# gitlab mirror: real git, argv without a shell; the bare copy is removed afterwards\n");
	plan_cmd(b, a.clone);
	plan_cmd(b, a.push);
	plan_auth(b, step, env, "source", "source_token_secret", NULL, cfg_str(step, "source_repo"));
	plan_auth(b, step, env, "target", "target_token_secret", "GITLAB_TOKEN",
	          cfg_str(step, "target_repo"));
	if (cfg_str(step, "ssh_key_secret"))
		pw__buf_printf(
		    b,
		    "  ssh: key from secret %s (written 0600 into a private directory), host keys from %s\n",
		    cfg_str(step, "ssh_key_secret"), cfg_str(step, "known_hosts_file"));
	else if (cfg_str(step, "ssh_key_file"))
		pw__buf_printf(b, "  ssh: key file %s, host keys from %s\n", cfg_str(step, "ssh_key_file"),
		               cfg_str(step, "known_hosts_file"));
	pw__buf_dispose(&repo);
	return 0;
}

static pw_result *failed(mirror_run *m, int code, const char *what, const char *url, const char *hint)
{
	pw_buf msg = PW_BUF_INIT(0);
	pw__buf_printf(&msg, "pipewright: %s %s failed", what, url);
	if (code < 0)
		pw__buf_puts(&msg, " (stopped: the step was cancelled or timed out)");
	else
		pw__buf_printf(&msg, " (git exited with code %d)", code);
	if (hint)
		pw__buf_printf(&msg, "; %s", hint);
	pw__buf_putc(&msg, '\n');
	pw_exec_output(m->ex, PW_STREAM_STDERR, msg.data, msg.len);
	pw_result *r = pw_result_new(code < 0 ? 1 : code, NULL, NULL);
	if (r) {
		msg.data[msg.len - 1] = '\0';
		pw_result_with_metadata(r, "error", msg.data + strlen("pipewright: "));
		pw_result_with_metadata(r, "failed_command", what);
	}
	pw__buf_dispose(&msg);
	return r;
}

/* A hint for a failed git run, from the tail of what git said. */
static const char *failure_hint(const char *said, int has_token)
{
	if (strstr(said, "Authentication failed") || strstr(said, "could not read Username") ||
	    strstr(said, "could not read Password") || strstr(said, "401"))
		return has_token
		           ? "the repository refused the token: check that it is valid, not expired, and "
		             "has the scope (read_repository / write_repository)"
		           : "the repository needs credentials: name a secret in source_token_secret / "
		             "target_token_secret";
	if (strstr(said, "Host key verification failed"))
		return "the host's key is not in known_hosts_file (or does not match it)";
	if (strstr(said, "Permission denied (publickey"))
		return "the SSH key was refused: add its public key to the account or as a deploy key";
	if (strstr(said, "rejected") || strstr(said, "non-fast-forward"))
		return "the target has commits the source lacks: set force: true to overwrite them";
	if (strstr(said, "protected branch") || strstr(said, "pre-receive hook declined"))
		return "the target refused the push (a protected branch?): allow force pushes or unprotect "
		       "it";
	if (strstr(said, "not found") || strstr(said, "does not appear to be a git repository"))
		return "check the repository URL and that the token can see the project";
	return NULL;
}

int pw__gitlab_mirror_run(pw_result **out, const pw_step *step, const pw_workspace *ws, const pw_map *env,
                          pw_exec *ex, pw_error **err)
{
	*out = NULL;
	mirror_run m;
	memset(&m, 0, sizeof(m));
	m.ex = ex;
	m.step = step;
	m.ws = ws;
	m.env = env;
	m.last_err.max = 0;
	side src = {cfg_str(step, "source_repo"), NULL, cfg_str(step, "source_username")};
	side dst = {cfg_str(step, "target_repo"), NULL, cfg_str(step, "target_username")};
	if (!src.username)
		src.username = "oauth2";
	if (!dst.username)
		dst.username = "oauth2";
	int rc = side_token(&src.token, step, env, "source_token_secret", NULL, err);
	if (rc == 0)
		rc = side_token(&dst.token, step, env, "target_token_secret", "GITLAB_TOKEN", err);
	if (rc < 0)
		return rc;
	if (src.token)
		pw_exec_add_secret(ex, src.token, "source_token_secret", NULL);
	if (dst.token)
		pw_exec_add_secret(ex, dst.token, "target_token_secret", NULL);

	snprintf(m.tmpdir, sizeof(m.tmpdir), "/tmp/pw-git-XXXXXX");
	if (!mkdtemp(m.tmpdir))
		return pw_error_set(err, PW_EIO, "cannot create a private directory in /tmp: %s",
		                    strerror(errno));
	chmod(m.tmpdir, 0700);
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/askpass", m.tmpdir);
	if ((src.token || dst.token) &&
	    write_file(pw__buf_cstr(&p), askpass_script, sizeof(askpass_script) - 1, 0700) < 0) {
		rc = pw_error_set(err, PW_EIO, "cannot write the askpass helper into %s: %s", m.tmpdir,
		                  strerror(errno));
		goto done;
	}
	rc = prepare_ssh(&m, err);
	if (rc < 0)
		goto done;
	const char *rd = ws ? pw_workspace_run_dir(ws) : NULL;
	pw_buf repo = PW_BUF_INIT(0);
	if (rd && access(rd, W_OK) == 0)
		pw__buf_printf(&repo, "%s/mirror-XXXXXX", rd);
	else
		pw__buf_printf(&repo, "%s/mirror-XXXXXX", m.tmpdir);
	m.repo = pw__buf_detach(&repo);
	if (!m.repo || !mkdtemp(m.repo)) {
		rc = pw_error_set(err, PW_EIO, "cannot create the mirror's bare repository directory: %s",
		                  strerror(errno));
		goto done;
	}
	mirror_argv a;
	build_argv(&a, step, m.repo);
	int code = 0;
	rc = run_git(&code, &m, &src, a.clone, NULL, 1, err);
	if (rc < 0)
		goto done;
	if (code != 0) {
		*out = failed(&m, code, "cloning", src.url,
		              failure_hint(pw__buf_cstr(&m.last_err), src.token != NULL));
		goto done;
	}
	pw_buf porcelain = PW_BUF_INIT(PORCELAIN_MAX);
	rc = run_git(&code, &m, &dst, a.push, &porcelain, 1, err);
	if (rc < 0) {
		pw__buf_dispose(&porcelain);
		goto done;
	}
	push_counts pc;
	parse_porcelain(&pc, pw__buf_cstr(&porcelain));
	pw__buf_dispose(&porcelain);
	char num[32];
	if (code != 0) {
		const char *hint = failure_hint(pw__buf_cstr(&m.last_err), dst.token != NULL);
		if (!hint && pc.rejected)
			hint = "the target has commits the source lacks: set force: true to overwrite them";
		*out = failed(&m, code, "pushing to", dst.url, hint);
		pw_exec_audit(ex, "git-push", dst.url, "failed", pw_result_stderr(*out));
		if (*out) {
			snprintf(num, sizeof(num), "%d", pc.rejected);
			pw_result_with_metadata(*out, "refs_rejected", num);
		}
		goto done;
	}
	/* what was mirrored */
	pw_buf count = PW_BUF_INIT(4096);
	const char *branch = cfg_str(step, "branch");
	char revspec[600];
	snprintf(revspec, sizeof(revspec), "refs/heads/%s", branch ? branch : "");
	const char *rl[] = {"git", a.git_dir, "rev-list", "--count", branch ? revspec : "--all", NULL};
	int c2 = 0;
	if (run_git(&c2, &m, NULL, rl, &count, 0, NULL) < 0 || c2 != 0)
		pw__buf_clear(&count);
	long long commits = count.len ? strtoll(count.data, NULL, 10) : 0;
	pw__buf_dispose(&count);
	long long bytes = object_bytes(m.repo);
	pw_result *r = pw_result_new(0, NULL, NULL);
	if (!r) {
		rc = PW_ENOMEM;
		goto done;
	}
	struct {
		const char *k;
		long long v;
	} nums[] = {{"refs_pushed", pc.updated},
	            {"refs_deleted", pc.deleted},
	            {"refs_up_to_date", pc.up_to_date},
	            {"commits", commits},
	            {"bytes", bytes}};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(num, sizeof(num), "%lld", nums[i].v);
		pw_result_with_metadata(r, nums[i].k, num);
		pw_exec_set_output(ex, nums[i].k, num);
	}
	pw_buf d = PW_BUF_INIT(0);
	pw__buf_printf(&d, "from %s: %d refs updated (%d deleted), %d up to date, %lld commits, %lld bytes",
	               src.url, pc.updated, pc.deleted, pc.up_to_date, commits, bytes);
	pw_exec_audit(ex, "git-push", dst.url, "ok", pw__buf_cstr(&d));
	pw__buf_putc(&d, '\n');
	pw_exec_output(ex, PW_STREAM_STDOUT, "mirrored ", 9);
	pw_exec_output(ex, PW_STREAM_STDOUT, d.data, d.len);
	pw__buf_dispose(&d);
	*out = r;
done:
	pw__buf_dispose(&p);
	if (m.repo && !pw__gitlab_cfg_bool(step, "keep_repository", 0))
		rm_rf(m.repo);
	rm_rf(m.tmpdir);
	pw_free(m.repo);
	pw_free(m.ssh_command);
	pw__buf_dispose(&m.last_err);
	return rc;
}
