/* The connector manager (the seed's ConnectorManager facade): factories, a cache of
 * connectors created once, execution with statistics. Thread-safe. */
#ifndef PIPEWRIGHT_MANAGER_H
#define PIPEWRIGHT_MANAGER_H

#include "common.h"
#include "connector.h"
#include "error.h"
#include "exec.h"
#include "log.h"

PW_BEGIN_DECLS

typedef struct pw_manager pw_manager;
struct pw_factory_ops;

typedef struct pw_manager_options {
	unsigned int version;
	pw_log_fn on_log; /* diagnostics not tied to a step; may be NULL */
	void *log_payload;
	pw_log_level log_level;
} pw_manager_options;

#define PW_MANAGER_OPTIONS_VERSION 1
#define PW_MANAGER_OPTIONS_INIT                                     \
	{                                                           \
		PW_MANAGER_OPTIONS_VERSION, NULL, NULL, PW_LOG_WARN \
	}

/* ConnectorManager::new, with the built-in factory registered. opts may be NULL.
 * Caller frees with pw_manager_free. */
PW_EXTERN int pw_manager_new(pw_manager **out, const pw_manager_options *opts, pw_error **err);
/* Destroys every cached connector, then frees factory payloads. */
PW_EXTERN void pw_manager_free(pw_manager *m);
/* Stops what the manager's connectors do outside a run, now and from then on: a connector
 * program answering validate or plan (pw_pipeline_validate, pw_pipeline_plan) has its process
 * group ended, and the call fails with PW_ECANCELLED. Async-signal-safe (one write); for a
 * run, use pw_run_cancel. */
PW_EXTERN void pw_manager_cancel(pw_manager *m);

/* ConnectorManager::register_factory. Factories registered later are consulted first, so a
 * factory can take over a built-in type. The ops table is borrowed for the manager's
 * lifetime (make it static const); payload is released by ops->free at pw_manager_free.
 * PW_EABI for an unknown ops version, PW_EINVAL for missing slots, PW_EEXISTS for a
 * factory name already registered. */
PW_EXTERN int pw_manager_register_factory(pw_manager *m, const struct pw_factory_ops *ops, void *payload,
                                          pw_error **err);

/* ConnectorManager::get_connector: created on first use by the first factory that supports
 * the type, then cached. The connector is borrowed: it lives until pw_manager_clear_cache or
 * pw_manager_free. PW_ENOTFOUND when no factory supports the type, PW_ENOTBUILT for a known
 * type that this build lacks. */
PW_EXTERN int pw_manager_get_connector(pw_connector **out, pw_manager *m, const char *type, pw_error **err);

/* ConnectorManager::execute_step: determines the type, gets the connector, validates,
 * runs pre_execute, execute_step and post_execute, and records statistics. ex may be NULL
 * (a default context). The result's stdout/stderr hold the masked, bounded capture of the
 * step's output when the connector streamed it. *out is the connector's result whenever it
 * made one, also when an error is returned: a step stopped at its timeout (PW_ETIMEOUT) or
 * cancelled (PW_ECANCELLED) keeps its process's exit code, signal, output and metadata
 * beside the error. *out is NULL when the step did not get that far. The caller frees *out
 * (pw_result_free accepts NULL) whatever the return value. */
PW_EXTERN int pw_manager_execute_step(pw_result **out, pw_manager *m, const pw_step *step,
                                      const pw_workspace *ws, const pw_map *env, pw_exec *ex, pw_error **err);

/* ConnectorManager::determine_connector_type: the declared step_type, or inferred from the
 * config (image + cluster keys: kubernetes; image or dockerfile: docker; service: cloud by
 * name; action + repository: github; source_repo/target_repo: gitlab; command: shell).
 * Caller frees *out with pw_free. */
PW_EXTERN int pw_manager_determine_connector_type(char **out, pw_manager *m, const pw_step *step,
                                                  pw_error **err);

/* ConnectorManager::list_available_connectors: every type some registered factory can
 * create, without duplicates. NULL-terminated array; free with pw_strv_free. */
PW_EXTERN int pw_manager_list_available_connectors(char ***out, pw_manager *m);
PW_EXTERN void pw_strv_free(char **strv);

/* Statistics per connector type (the seed's get_stats, with execution times and success
 * rates for monitoring). */
typedef struct pw_connector_stats {
	char type[64];
	uint64_t created;    /* connectors created (cache misses) */
	uint64_t cache_hits; /* get_connector calls served from the cache */
	uint64_t executions;
	uint64_t successes; /* finished with exit code 0 */
	uint64_t failures;  /* non-zero exit code or an error */
	double total_ms;    /* summed execution time */
	double max_ms;      /* the slowest execution */
} pw_connector_stats;

/* Copies up to `max` entries into out and returns how many types have statistics (which
 * may exceed max); out may be NULL to count. Entries are in first-use order. */
PW_EXTERN size_t pw_manager_get_stats(pw_manager *m, pw_connector_stats *out, size_t max);
/* The seed's HashMap<String, usize> view: "cached_connectors", "registered_factories",
 * "connectors_created", "cache_hits", "executions", "successes", "failures", and
 * "<type>.<counter>" per type. Caller frees. */
PW_EXTERN int pw_manager_get_stats_map(pw_map **out, pw_manager *m);
/* ConnectorManager::clear_cache: destroys cached connectors (statistics are kept). Must not
 * be called while steps execute. */
PW_EXTERN void pw_manager_clear_cache(pw_manager *m);

PW_END_DECLS

#endif
