/* Shared-object plug-ins: dlopen, the ABI handshake through one entry point, the host
 * services table, and factories registered only once the plug-in's init succeeded. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/plugin/plugin.h"
#include "core/buf.h"
#include "core/internal.h"
#include "core/manager.h"
#include "pipewright/sys/plugin.h"

#define MAX_PENDING 32

typedef struct pending_factory {
	const pw_factory_ops *ops;
	void *payload;
} pending_factory;

/* One plug-in: while loading, its factories wait in `pending`. */
struct pw_plugin {
	char *path;     /* as given (with "./" for a bare file name) */
	char *realpath; /* for "already loaded" */
	void *handle;   /* dlopen handle */
	pending_factory pending[MAX_PENDING];
	size_t pending_count;
	int overflow; /* more than MAX_PENDING factories registered */
};

/* The plug-ins of one manager: a manager service released at pw_manager_free, after the
 * cached connectors and the factories (whose code lives in the plug-ins) are gone. */
typedef struct registry {
	pthread_mutex_t lock;
	pw_plugin **items;
	size_t count;
} registry;

static void *registry_make(void)
{
	registry *r = calloc(1, sizeof(*r));
	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

static void plugin_free(pw_plugin *p)
{
	if (!p)
		return;
	if (p->handle)
		dlclose(p->handle);
	free(p->path);
	free(p->realpath);
	free(p);
}

static void registry_release(void *v)
{
	registry *r = v;
	for (size_t i = r->count; i-- > 0;)
		plugin_free(r->items[i]);
	free(r->items);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static registry *registry_of(pw_manager *m)
{
	return pw__manager_service(m, PW__SERVICE_PLUGINS, registry_make, registry_release);
}

/* ---- the host table ---- */

static const char *host_plugin_path(const pw_plugin *p)
{
	return p ? p->path : NULL;
}

static int host_register_factory(pw_plugin *p, const pw_factory_ops *ops, void *payload, pw_error **err)
{
	if (!p || !ops)
		return pw_error_set(err, PW_EINVAL, "register_factory: no plug-in or no factory");
	if (p->pending_count >= MAX_PENDING) {
		p->overflow = 1;
		return pw_error_set(err, PW_EINVAL, "a plug-in may register at most %d factories",
		                    MAX_PENDING);
	}
	p->pending[p->pending_count].ops = ops;
	p->pending[p->pending_count].payload = payload;
	p->pending_count++;
	return 0;
}

static const pw_plugin_host host_table = {
    .abi_version = PW_PLUGIN_ABI_VERSION,
    .size = sizeof(pw_plugin_host),
    .host_version = PW_CONNECTOR_SYSTEM_VERSION,
    .plugin_path = host_plugin_path,
    .register_factory = host_register_factory,
    .connector_new = pw_connector_new,
    .connector_impl = pw_connector_impl,
    .connector_name = pw_connector_name,
    .connector_type = pw_connector_type,
    .result_new = pw_result_new,
    .result_success = pw_result_success,
    .result_failure = pw_result_failure,
    .result_with_metadata = pw_result_with_metadata,
    .result_set_signal = pw_result_set_signal,
    .result_free = pw_result_free,
    .error_new = pw_error_new,
    .error_set = pw_error_set,
    .error_set_key = pw_error_set_key,
    .error_set_hint = pw_error_set_hint,
    .error_set_response = pw_error_set_response,
    .error_set_operation = pw_error_set_operation,
    .error_append = pw_error_append,
    .error_message = pw_error_message,
    .error_code = pw_error_code,
    .error_free = pw_error_free,
    .exec_output = pw_exec_output,
    .exec_log = pw_exec_log,
    .exec_log_enabled = pw_exec_log_enabled,
    .exec_cancel_fd = pw_exec_cancel_fd,
    .exec_cancelled = pw_exec_cancelled,
    .exec_remaining_ms = pw_exec_remaining_ms,
    .exec_set_output = pw_exec_set_output,
    .exec_add_secret = pw_exec_add_secret,
    .exec_run_id = pw_exec_run_id,
    .exec_step_name = pw_exec_step_name,
    .step_name = pw_step_name,
    .step_type = pw_step_type,
    .step_config_json = pw_step_config_json,
    .step_config_string = pw_step_config_string,
    .step_config_has = pw_step_config_has,
    .step_timeout = pw_step_timeout,
    .step_env_const = pw_step_env_const,
    .workspace_root = pw_workspace_root,
    .workspace_run_id = pw_workspace_run_id,
    .workspace_run_dir = pw_workspace_run_dir,
    .map_get = pw_map_get,
    .map_count = pw_map_count,
    .map_key_at = pw_map_key_at,
    .map_value_at = pw_map_value_at,
    .pw_malloc = pw_malloc,
    .pw_calloc = pw_calloc,
    .pw_realloc = pw_realloc,
    .pw_strdup = pw_strdup,
    .pw_free = pw_free,
    .exec_journal_created = pw_exec_journal_created,
    .exec_journal_removed = pw_exec_journal_removed,
};

/* ---- loading ---- */

/* Stores e (taken over) in *err, or appends it to what is there. */
static void put_error(pw_error **err, pw_error *e)
{
	if (!e)
		return;
	if (!err) {
		pw_error_free(e);
		return;
	}
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

static int fail(pw_error **err, int code, const char *hint, const char *fmt, ...) PW_PRINTF(4, 5);

static int fail(pw_error **err, int code, const char *hint, const char *fmt, ...)
{
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(code, "%s", pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	if (e) {
		pw_error_set_operation(e, "loading a plug-in");
		if (hint)
			pw_error_set_hint(e, hint);
	}
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return code;
}

/* Releases what the plug-in registered but never got into the manager. */
static void drop_pending(pw_plugin *p)
{
	for (size_t i = 0; i < p->pending_count; i++)
		if (p->pending[i].ops && p->pending[i].ops->free)
			p->pending[i].ops->free(p->pending[i].payload);
	p->pending_count = 0;
}

typedef struct type_list {
	char **items;
	size_t count;
	int nomem;
} type_list;

static void collect(const char *type, void *ctx)
{
	type_list *l = ctx;
	if (!type || l->nomem)
		return;
	char **n = realloc(l->items, (l->count + 1) * sizeof(char *));
	char *t = strdup(type);
	if (!n || !t) {
		if (n)
			l->items = n;
		free(t);
		l->nomem = 1;
		return;
	}
	l->items = n;
	l->items[l->count++] = t;
}

static void type_list_dispose(type_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
}

static int strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* Checks the pending factories: their tables, and that every type they list is new. */
static int check_pending(pw_manager *m, pw_plugin *p, pw_error **err)
{
	if (p->pending_count == 0)
		return fail(err, PW_EINVAL, "call host->register_factory() in the entry point",
		            "plug-in '%s' registered no connector factory", p->path);
	char **taken = NULL;
	pw__exec_factory_hide_listing(1);
	int rc = pw_manager_list_available_connectors(&taken, m);
	pw__exec_factory_hide_listing(0);
	if (rc < 0)
		return rc;
	type_list mine = {NULL, 0, 0};
	for (size_t i = 0; i < p->pending_count && rc == 0; i++) {
		const pw_factory_ops *ops = p->pending[i].ops;
		if (ops->version < 1 || ops->version > PW_FACTORY_OPS_VERSION) {
			rc = fail(err, PW_EABI, "rebuild the plug-in against this pipewright's headers",
			          "plug-in '%s': factory '%s' has operations table version %u, this "
			          "pipewright knows 1 to %d",
			          p->path, ops->name ? ops->name : "?", ops->version, PW_FACTORY_OPS_VERSION);
			break;
		}
		if (!ops->name || !*ops->name || !ops->supports || !ops->create || !ops->list_types) {
			rc = fail(err, PW_EINVAL,
			          "a plug-in's factory needs name, supports, create and list_types",
			          "plug-in '%s': factory '%s' lacks %s", p->path, ops->name ? ops->name : "?",
			          !ops->name || !*ops->name ? "a name"
			          : !ops->supports          ? "supports()"
			          : !ops->create            ? "create()"
			                                    : "list_types()");
			break;
		}
		size_t first = mine.count;
		ops->list_types(collect, &mine, p->pending[i].payload);
		if (mine.nomem) {
			rc = PW_ENOMEM;
			break;
		}
		if (mine.count == first) {
			rc = fail(err, PW_EINVAL,
			          "list_types must report every connector type the factory creates",
			          "plug-in '%s': factory '%s' lists no connector type", p->path, ops->name);
			break;
		}
		for (size_t t = first; t < mine.count && rc == 0; t++) {
			const char *type = mine.items[t];
			if (pw_connector_kind_of(type) == PW_KIND_INVALID) {
				rc = fail(
				    err, PW_EINVAL, "name custom connectors custom:NAME, NAME of [a-z0-9_-]",
				    "plug-in '%s': factory '%s' lists '%s', which is not a connector type",
				    p->path, ops->name, type);
				break;
			}
			int dup_here = 0;
			for (size_t u = 0; u < t; u++)
				dup_here |= strcmp(mine.items[u], type) == 0;
			if (dup_here || strv_has(taken, type)) {
				pw_buf h = PW_BUF_INIT(0);
				pw__buf_printf(
				    &h,
				    "each connector type has one provider; rename the plug-in's type (e.g. "
				    "custom:%s-2) or do not load both",
				    type[0] && strchr(type, ':') ? strchr(type, ':') + 1 : type);
				/* a plug-in never replaces what is there: the built-in types, or a type
				 * another plug-in (or the embedding program's factory) brought first */
				rc = fail(err, PW_EEXISTS, pw__buf_cstr(&h),
				          "plug-in '%s': connector type '%s' is already provided%s", p->path,
				          type,
				          dup_here ? " by the same plug-in"
				          : !strchr(type, ':')
				              ? " by pipewright itself (a built-in type)"
				              : " by a plug-in loaded before it (or the embedding program)");
				pw__buf_dispose(&h);
			}
		}
	}
	type_list_dispose(&mine);
	pw_strv_free(taken);
	return rc;
}

/* Why a plug-in at real (its resolved path; st: its stat) could have been put there or changed
 * by someone other than this user or root, or NULL when it cannot: the file, and every
 * directory above it, owned by root or this user and not writable by group or others (a
 * directory with the sticky bit, as /tmp, may be: no one can replace another's file there).
 * The same rule as ssh's for its keys. */
static const char *unsafe_place(const char *real, const struct stat *st)
{
	uid_t me = geteuid();
	if ((st->st_uid != 0 && st->st_uid != me) || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return st->st_uid != 0 && st->st_uid != me ? "the file belongs to another user"
		                                           : "the file is writable by group or others";
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", real);
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		*slash = '\0';
		struct stat d;
		if (stat(*dir ? dir : "/", &d) != 0)
			return "a directory above it cannot be checked";
		if (d.st_uid != 0 && d.st_uid != me)
			return "a directory above it belongs to another user";
		if ((d.st_mode & (S_IWGRP | S_IWOTH)) && !(d.st_mode & S_ISVTX))
			return "a directory above it is writable by group or others";
		if (!*dir)
			break;
	}
	return NULL;
}

static int resolve(char **out_path, char **out_real, const char *path, pw_error **err)
{
	pw_buf b = PW_BUF_INIT(PATH_MAX + 8);
	if (!strchr(path, '/'))
		pw__buf_puts(&b, "./"); /* dlopen would search the library path for a bare name */
	pw__buf_puts(&b, path);
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(pw__buf_cstr(&b), real) || stat(real, &st) != 0) {
		int e = errno;
		pw__buf_dispose(&b);
		return fail(err, PW_ENOTFOUND,
		            "give the path of a shared object (.so) built as a pipewright plug-in",
		            "cannot load plug-in '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		pw__buf_dispose(&b);
		return fail(err, PW_EINVAL, "give the path of a shared object (.so), not a directory",
		            "cannot load plug-in '%s': not a regular file", path);
	}
	const char *weak = unsafe_place(real, &st);
	if (weak) {
		pw__buf_dispose(&b);
		return fail(err, PW_EPERM,
		            "a plug-in runs inside pipewright: keep it, and the directories above it, "
		            "writable only by you or root (chmod go-w)",
		            "refusing plug-in '%s': %s", path, weak);
	}
	*out_path = pw__buf_detach(&b);
	*out_real = strdup(real);
	return *out_real ? 0 : PW_ENOMEM;
}

static int already_loaded(registry *r, const char *real)
{
	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->items[i]->realpath, real) == 0)
			return 1;
	return 0;
}

int pw_manager_load_plugin(pw_manager *m, const char *path, pw_error **err)
{
	if (!m || !path || !*path)
		return pw_error_set(err, PW_EINVAL, "load_plugin: no manager or no path");
	registry *r = registry_of(m);
	if (!r)
		return PW_ENOMEM;
	pw_plugin *p = calloc(1, sizeof(*p));
	if (!p)
		return PW_ENOMEM;
	int rc = resolve(&p->path, &p->realpath, path, err);
	if (rc < 0) {
		plugin_free(p);
		return rc;
	}
	/* One load at a time per manager: checks and registration must not interleave. */
	pthread_mutex_lock(&r->lock);
	if (already_loaded(r, p->realpath)) {
		pthread_mutex_unlock(&r->lock);
		plugin_free(p);
		return 0;
	}
	dlerror();
	p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle) {
		const char *why = dlerror();
		rc = fail(err, PW_EIO,
		          "check that it is a shared object for this machine, built with -fPIC -shared, and "
		          "that the "
		          "libraries it needs are installed (ldd FILE)",
		          "cannot load plug-in '%s': %s", p->path, why ? why : "dlopen failed");
		goto out;
	}
	union {
		void *obj;
		pw_plugin_init_fn fn;
	} entry;
	dlerror();
	entry.obj = dlsym(p->handle, PW_PLUGIN_ENTRY);
	if (!entry.obj) {
		const char *why = dlerror();
		rc = fail(err, PW_ENOTFOUND,
		          "a plug-in exports `int " PW_PLUGIN_ENTRY "(...)`: use PW_PLUGIN_DEFINE(init) from "
		          "<pipewright/sys/plugin.h>, and build it with default visibility for that symbol",
		          "plug-in '%s' has no entry point '" PW_PLUGIN_ENTRY "': %s", p->path,
		          why ? why : "symbol is NULL");
		goto out;
	}
	pw_error *ie = NULL;
	rc = entry.fn(PW_PLUGIN_ABI_VERSION, &host_table, p, &ie);
	if (rc == PW_EABI) {
		pw_error_free(ie);
		char hint[256];
		snprintf(
		    hint, sizeof(hint),
		    "rebuild the plug-in against the headers of this pipewright (plug-in ABI %d, version %s)",
		    PW_PLUGIN_ABI_VERSION, PW_CONNECTOR_SYSTEM_VERSION);
		rc = fail(
		    err, PW_EABI, hint,
		    "plug-in '%s' was built for a different plug-in ABI: it refused this pipewright's ABI %d",
		    p->path, PW_PLUGIN_ABI_VERSION);
		goto out;
	}
	if (rc < 0 || p->overflow) {
		if (rc >= 0)
			rc = PW_EINVAL;
		pw_error *e =
		    pw_error_new(rc, "plug-in '%s' failed to initialise: %s", p->path,
		                 ie && pw_error_message(ie) ? pw_error_message(ie) : pw_error_code_desc(rc));
		if (e) {
			pw_error_set_operation(e, "loading a plug-in");
			pw_error_set_hint(e, ie && pw_error_hint(ie)
			                         ? pw_error_hint(ie)
			                         : "the plug-in's initialisation reported the error above");
			if (ie && pw_error_key(ie))
				pw_error_set_key(e, pw_error_key(ie));
		}
		pw_error_free(ie);
		put_error(err, e);
		goto out;
	}
	pw_error_free(ie);
	rc = check_pending(m, p, err);
	if (rc < 0)
		goto out;
	pw_plugin **n = realloc(r->items, (r->count + 1) * sizeof(*n));
	if (!n) {
		rc = PW_ENOMEM;
		goto out;
	}
	r->items = n;
	/* Register; a clash of factory names (with a factory the embedder registered) can only
	 * be found here. Factories already registered keep the object loaded. */
	size_t done = 0;
	for (; done < p->pending_count; done++) {
		pw_error *re = NULL;
		rc = pw_manager_register_factory(m, p->pending[done].ops, p->pending[done].payload, &re);
		if (rc < 0) {
			pw_error *e = pw_error_new(rc, "plug-in '%s': %s", p->path,
			                           re ? pw_error_message(re) : "cannot register");
			if (e)
				pw_error_set_hint(e, "give the plug-in's factory a name of its own");
			pw_error_free(re);
			put_error(err, e);
			break;
		}
	}
	if (rc < 0 && done == 0)
		goto out;
	if (rc < 0) {
		for (size_t i = done; i < p->pending_count; i++)
			if (p->pending[i].ops->free)
				p->pending[i].ops->free(p->pending[i].payload);
	}
	p->pending_count = 0;
	r->items[r->count++] = p;
	pthread_mutex_unlock(&r->lock);
	pw__manager_log(m, PW_LOG_DEBUG, "plugin", "loaded plug-in %s", p->path);
	return rc;
out:
	drop_pending(p);
	pthread_mutex_unlock(&r->lock);
	plugin_free(p);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with_so(const char *n)
{
	size_t l = strlen(n);
	return l > 3 && strcmp(n + l - 3, ".so") == 0;
}

static int load_dir(pw_manager *m, const char *dir, pw_error **err)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return fail(err, PW_EIO, "fix PIPEWRIGHT_PLUGIN_PATH or the directory's permissions",
		            "cannot read plug-in directory '%s': %s", dir, strerror(errno));
	}
	char **names = NULL;
	size_t count = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !ends_with_so(de->d_name))
			continue;
		char **n = realloc(names, (count + 1) * sizeof(char *));
		if (!n) {
			rc = PW_ENOMEM;
			break;
		}
		names = n;
		pw_buf b = PW_BUF_INIT(0);
		pw__buf_printf(&b, "%s/%s", dir, de->d_name);
		names[count++] = pw__buf_detach(&b);
	}
	closedir(d);
	if (count)
		qsort(names, count, sizeof(char *), by_name);
	for (size_t i = 0; i < count; i++) {
		int one = pw_manager_load_plugin(m, names[i], err);
		if (one < 0 && rc == 0)
			rc = one;
		free(names[i]);
	}
	free(names);
	return rc;
}

int pw_manager_load_plugin_dirs(pw_manager *m, const char *dirs, pw_error **err)
{
	if (!m)
		return pw_error_set(err, PW_EINVAL, "load_plugin_dirs: no manager");
	if (!dirs)
		return 0;
	int rc = 0;
	const char *p = dirs;
	while (1) {
		size_t n = strcspn(p, ":");
		if (n > 0 && p[0] != '/') {
			/* a relative entry would load from wherever the command is run */
			pw__manager_log(
			    m, PW_LOG_WARN, "plugin",
			    "PIPEWRIGHT_PLUGIN_PATH entry '%.*s' is not an absolute path: ignored", (int)n,
			    p);
		} else if (n > 0) {
			char *dir = strndup(p, n);
			if (!dir)
				return PW_ENOMEM;
			int one = load_dir(m, dir, err);
			if (one < 0 && rc == 0)
				rc = one;
			free(dir);
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	return rc;
}

size_t pw_manager_plugin_count(pw_manager *m)
{
	registry *r = m ? registry_of(m) : NULL;
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	size_t n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

const char *pw_manager_plugin_path(pw_manager *m, size_t i)
{
	registry *r = m ? registry_of(m) : NULL;
	if (!r)
		return NULL;
	pthread_mutex_lock(&r->lock);
	const char *s = i < r->count ? r->items[i]->path : NULL;
	pthread_mutex_unlock(&r->lock);
	return s;
}
