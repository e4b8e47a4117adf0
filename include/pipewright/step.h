/* Steps and workspaces: what a connector is asked to execute, and where. */
#ifndef PIPEWRIGHT_STEP_H
#define PIPEWRIGHT_STEP_H

#include "common.h"
#include "error.h"
#include "map.h"

PW_BEGIN_DECLS

typedef struct pw_step pw_step;
typedef struct pw_workspace pw_workspace;

typedef enum pw_when {
	PW_WHEN_ON_SUCCESS = 0, /* run only when every step it needs succeeded (default) */
	PW_WHEN_ON_FAILURE = 1, /* run only when some earlier step failed */
	PW_WHEN_ALWAYS = 2      /* run whatever happened, also after cancellation */
} pw_when;

/* A new step named `name` with the declared `step_type` (NULL: inferred by
 * pw_manager_determine_connector_type). Strings are copied. Caller frees. */
PW_EXTERN int pw_step_new(pw_step **out, const char *name, const char *step_type);
PW_EXTERN void pw_step_free(pw_step *step);

/* Replaces the configuration with the JSON object in `json` (the step's `config:` mapping).
 * PW_EINVAL with a message when it is not a JSON object. */
PW_EXTERN int pw_step_set_config_json(pw_step *step, const char *json, pw_error **err);
PW_EXTERN int pw_step_set_timeout(pw_step *step, double seconds);
PW_EXTERN int pw_step_set_retries(pw_step *step, unsigned int retries);
PW_EXTERN int pw_step_set_when(pw_step *step, pw_when when);
PW_EXTERN int pw_step_set_allow_failure(pw_step *step, int allow);
/* Appends a dependency on the step named `name`. */
PW_EXTERN int pw_step_add_need(pw_step *step, const char *name);
/* The step's own env (borrowed, modifiable). */
PW_EXTERN pw_map *pw_step_env(pw_step *step);

/* Borrowed getters, valid while the step lives. */
PW_EXTERN const char *pw_step_name(const pw_step *step);
/* The declared step_type, or NULL when none was declared. */
PW_EXTERN const char *pw_step_type(const pw_step *step);
PW_EXTERN double pw_step_timeout(const pw_step *step); /* seconds; default 300 */
PW_EXTERN unsigned int pw_step_retries(const pw_step *step);
PW_EXTERN pw_when pw_step_when(const pw_step *step);
PW_EXTERN int pw_step_allow_failure(const pw_step *step);
PW_EXTERN size_t pw_step_needs_count(const pw_step *step);
PW_EXTERN const char *pw_step_need_at(const pw_step *step, size_t i);
PW_EXTERN const pw_map *pw_step_env_const(const pw_step *step);
/* Where the step was defined (file borrowed; NULL and 0 for steps built in code). */
PW_EXTERN const char *pw_step_file(const pw_step *step);
PW_EXTERN int pw_step_line(const pw_step *step);
PW_EXTERN int pw_step_column(const pw_step *step);

/* The configuration as compact JSON text ("{}" when empty). Borrowed. */
PW_EXTERN const char *pw_step_config_json(const pw_step *step);
/* The value at a dotted key path ("parameters.storage_size"): a string, or a number or
 * boolean rendered as text. Borrowed; NULL when absent or not a scalar. */
PW_EXTERN const char *pw_step_config_string(const pw_step *step, const char *path);
/* Non-zero when the key path exists. */
PW_EXTERN int pw_step_config_has(const pw_step *step, const char *path);
/* The file position of the value at a key path, when the step was loaded from a file.
 * Returns 0 and fills line/column, or PW_ENOTFOUND. */
PW_EXTERN int pw_step_config_location(const pw_step *step, const char *path, int *line, int *column);

/* A workspace: the host directory steps run in, and the run it belongs to.
 * root is made absolute; run_id and run_dir may be NULL. Caller frees. */
PW_EXTERN int pw_workspace_new(pw_workspace **out, const char *root, const char *run_id, const char *run_dir,
                               pw_error **err);
PW_EXTERN void pw_workspace_free(pw_workspace *ws);
PW_EXTERN const char *pw_workspace_root(const pw_workspace *ws);
/* "" when none. */
PW_EXTERN const char *pw_workspace_run_id(const pw_workspace *ws);
/* The run's directory (.pipewright/runs/<run-id>), NULL when none. */
PW_EXTERN const char *pw_workspace_run_dir(const pw_workspace *ws);

PW_END_DECLS

#endif
