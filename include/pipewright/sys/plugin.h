/* For plug-in authors and hosts: shared-object plug-ins that add connector factories at run
 * time (dlopen), the host services table they receive, and loading them into a manager. */
#ifndef PIPEWRIGHT_SYS_PLUGIN_H
#define PIPEWRIGHT_SYS_PLUGIN_H

#include "connector.h"

PW_BEGIN_DECLS

/* The plug-in ABI: the layout of pw_plugin_host and the entry point's signature. Bumped only
 * when an existing field changes; new host services are appended and announced by `size`. */
#define PW_PLUGIN_ABI_VERSION 1
/* The one symbol a plug-in exports (see pw_plugin_init_fn). */
#define PW_PLUGIN_ENTRY "pipewright_plugin_init"

#if defined(__GNUC__)
#define PW_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PW_PLUGIN_EXPORT
#endif

/* The host's view of a plug-in being loaded; opaque. Valid for the plug-in's lifetime. */
typedef struct pw_plugin pw_plugin;

/* Everything a plug-in may call in the host. A plug-in does not link libpipewright (the
 * pipewright program has the library built in and exports nothing): it calls the host
 * through this table only. Memory handed to the host (plan text, strings in results) comes
 * from the table's malloc/strdup; objects the host hands out are released with the table's
 * *_free. Each function behaves as the public function of the same name without `host->`
 * (pw_result_new, pw_error_set, pw_exec_output, ...), documented in <pipewright/...>. */
typedef struct pw_plugin_host {
	unsigned int abi_version; /* PW_PLUGIN_ABI_VERSION of the host */
	size_t size;              /* sizeof(pw_plugin_host) in the host; fields are only appended */
	const char *host_version; /* pw_version() */

	/* The plug-in being loaded. */
	const char *(*plugin_path)(const pw_plugin *plugin);
	/* Registers a factory for the plug-in. ops and payload must stay valid until the
	 * manager is freed (make ops `static const`). Registration takes effect when the entry
	 * point returns 0; if it fails, ops->free(payload) is called and nothing is registered.
	 * Every type the factory reports through list_types (mandatory for plug-ins) must be
	 * new to the manager: a duplicate makes the whole plug-in fail to load. */
	int (*register_factory)(pw_plugin *plugin, const pw_factory_ops *ops, void *payload, pw_error **err);

	/* Connectors. */
	int (*connector_new)(pw_connector **out, const pw_connector_ops *ops, const char *name,
	                     const char *type, void *impl, pw_error **err);
	void *(*connector_impl)(const pw_connector *c);
	const char *(*connector_name)(const pw_connector *c);
	const char *(*connector_type)(const pw_connector *c);

	/* Results. */
	pw_result *(*result_new)(int exit_code, const char *stdout_text, const char *stderr_text);
	pw_result *(*result_success)(const char *stdout_text);
	pw_result *(*result_failure)(int exit_code, const char *stderr_text);
	pw_result *(*result_with_metadata)(pw_result *r, const char *key, const char *value);
	void (*result_set_signal)(pw_result *r, int signo);
	void (*result_free)(pw_result *r);

	/* Errors. */
	pw_error *(*error_new)(int code, const char *fmt, ...)PW_PRINTF(2, 3);
	int (*error_set)(pw_error **err, int code, const char *fmt, ...) PW_PRINTF(3, 4);
	pw_error *(*error_set_key)(pw_error *e, const char *key);
	pw_error *(*error_set_hint)(pw_error *e, const char *hint);
	pw_error *(*error_set_response)(pw_error *e, const char *response);
	pw_error *(*error_set_operation)(pw_error *e, const char *operation);
	void (*error_append)(pw_error *e, pw_error *next);
	const char *(*error_message)(const pw_error *e);
	int (*error_code)(const pw_error *e);
	void (*error_free)(pw_error *e);

	/* The execution context of a step. */
	void (*exec_output)(pw_exec *ex, pw_stream stream, const char *data, size_t len);
	void (*exec_log)(pw_exec *ex, pw_log_level level, const char *component, const char *fmt, ...)
	    PW_PRINTF(4, 5);
	int (*exec_log_enabled)(const pw_exec *ex, pw_log_level level);
	int (*exec_cancel_fd)(const pw_exec *ex);
	pw_cancel_reason (*exec_cancelled)(const pw_exec *ex);
	int64_t (*exec_remaining_ms)(const pw_exec *ex);
	int (*exec_set_output)(pw_exec *ex, const char *key, const char *value);
	int (*exec_add_secret)(pw_exec *ex, const char *value, const char *label, pw_error **err);
	const char *(*exec_run_id)(const pw_exec *ex);
	const char *(*exec_step_name)(const pw_exec *ex);

	/* Steps and workspaces. */
	const char *(*step_name)(const pw_step *step);
	const char *(*step_type)(const pw_step *step);
	const char *(*step_config_json)(const pw_step *step);
	const char *(*step_config_string)(const pw_step *step, const char *path);
	int (*step_config_has)(const pw_step *step, const char *path);
	double (*step_timeout)(const pw_step *step);
	const pw_map *(*step_env_const)(const pw_step *step);
	const char *(*workspace_root)(const pw_workspace *ws);
	const char *(*workspace_run_id)(const pw_workspace *ws);
	const char *(*workspace_run_dir)(const pw_workspace *ws);

	/* Maps (environments, metadata). */
	const char *(*map_get)(const pw_map *m, const char *key);
	size_t (*map_count)(const pw_map *m);
	const char *(*map_key_at)(const pw_map *m, size_t i);
	const char *(*map_value_at)(const pw_map *m, size_t i);

	/* Memory that crosses the boundary. */
	void *(*pw_malloc)(size_t size);
	void *(*pw_calloc)(size_t n, size_t size);
	void *(*pw_realloc)(void *ptr, size_t size);
	char *(*pw_strdup)(const char *s);
	void (*pw_free)(void *ptr);
	/* The resource journal (appended: present when size reaches them). */
	int (*exec_journal_created)(pw_exec *ex, const pw_connector *c, const pw_journal_object *o,
	                            pw_error **err);
	void (*exec_journal_removed)(pw_exec *ex, const pw_connector *c, const pw_journal_object *o);
} pw_plugin_host;

/* The entry point, exported as PW_PLUGIN_ENTRY. abi_version is the host's ABI: the plug-in
 * compares it with the PW_PLUGIN_ABI_VERSION it was built with BEFORE touching host, and
 * returns PW_EABI on a mismatch (PW_PLUGIN_DEFINE does this). Then it registers its
 * factories with host->register_factory and returns 0, or a negative PW_E* code with *err
 * set (host->error_set) when it cannot work; the host then unloads it. */
typedef int (*pw_plugin_init_fn)(unsigned int abi_version, const pw_plugin_host *host, pw_plugin *plugin,
                                 pw_error **err);

/* Defines the entry point with the ABI checks, calling
 * `int init(const pw_plugin_host *host, pw_plugin *plugin, pw_error **err)`. */
#define PW_PLUGIN_DEFINE(init)                                                                            \
	PW_PLUGIN_EXPORT int pipewright_plugin_init(unsigned int pw_abi_, const pw_plugin_host *pw_host_, \
	                                            pw_plugin *pw_plugin_, pw_error **pw_err_);           \
	int pipewright_plugin_init(unsigned int pw_abi_, const pw_plugin_host *pw_host_,                  \
	                           pw_plugin *pw_plugin_, pw_error **pw_err_)                             \
	{                                                                                                 \
		if (pw_abi_ != PW_PLUGIN_ABI_VERSION || !pw_host_ ||                                      \
		    pw_host_->size < sizeof(pw_plugin_host))                                              \
			return PW_EABI;                                                                   \
		return init(pw_host_, pw_plugin_, pw_err_);                                               \
	}

/* Host side. Loads the shared object at `path` into the manager: dlopen(RTLD_NOW |
 * RTLD_LOCAL), looks up PW_PLUGIN_ENTRY, calls it, and registers the factories it gave
 * (consulted before those registered earlier). Loading a file already loaded into this
 * manager is a no-op. On failure nothing is registered, the object is closed and *err names
 * the file and the cause (dlerror() text included): PW_ENOTFOUND (no such file, no entry
 * point), PW_EIO (dlopen failed), PW_EABI (ABI mismatch), PW_EEXISTS (a connector type or
 * factory name already provided), or the plug-in's own code. Plug-ins stay loaded until
 * pw_manager_free, which unloads them after their connectors and factories are released. */
PW_EXTERN int pw_manager_load_plugin(pw_manager *m, const char *path, pw_error **err);

/* Loads every "*.so" file (in name order) in each directory of `dirs`, a colon-separated list
 * like PIPEWRIGHT_PLUGIN_PATH; missing directories and empty entries are skipped. Every
 * failure is chained in *err; returns 0 or the first failure's code. The library never reads
 * PIPEWRIGHT_PLUGIN_PATH itself: the caller (the pipewright CLI does) passes its value. */
PW_EXTERN int pw_manager_load_plugin_dirs(pw_manager *m, const char *dirs, pw_error **err);

/* How many plug-ins are loaded into the manager, and the path of the i-th (borrowed). */
PW_EXTERN size_t pw_manager_plugin_count(pw_manager *m);
PW_EXTERN const char *pw_manager_plugin_path(pw_manager *m, size_t i);

PW_END_DECLS

#endif
