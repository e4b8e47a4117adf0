/* The step object's insides, shared by the loader, the manager and built-in connectors. */
#ifndef PW_CORE_STEP_H
#define PW_CORE_STEP_H

#include <jansson.h>
#include <pthread.h>

#include "pipewright/step.h"

/* Where a key or value was in the pipeline file. path is dotted ("config.image",
 * "config.volumes.0", "needs.1", "timeout"); paths under "config." are what
 * pw_step_config_location looks up without the prefix. */
typedef struct pw_loc {
	char *path;
	int line;
	int column;
} pw_loc;

struct pw_step {
	char *name;
	char *type; /* declared step_type or NULL */
	char **needs;
	size_t needs_count;
	size_t needs_cap;
	int needs_explicit; /* `needs:` was written (possibly empty) */
	double timeout;     /* seconds */
	unsigned int retries;
	pw_when when;
	int allow_failure;
	pw_map *env;
	json_t *config; /* always an object */

	char *file; /* where the step was defined */
	int line;
	int column;
	pw_loc *locs;
	size_t locs_count;
	size_t locs_cap;

	/* the connector type its configuration implies (manager.c), once asked: NULL until then;
	 * atomic, as steps are shared between threads. Reset with the configuration. */
	const char *inferred_type;

	/* lazily rendered text for the borrowed-string getters */
	pthread_mutex_t cache_lock;
	char *config_text;
	char **rendered;
	size_t rendered_count;
};

/* Records the location of `path` (copied). Returns 0 or PW_ENOMEM. */
int pw__step_add_loc(pw_step *step, const char *path, int line, int column);
/* Looks up a recorded location by full path ("config.image", "needs.0", "name"). */
const pw_loc *pw__step_find_loc(const pw_step *step, const char *path);
/* Takes over `config` (must be a JSON object). */
void pw__step_set_config(pw_step *step, json_t *config);
int pw__step_set_location(pw_step *step, const char *file, int line, int column);
/* The JSON value at a dotted path in the config ("parameters.storage_size", "volumes.0"),
 * borrowed, or NULL. */
json_t *pw__step_config_get(const pw_step *step, const char *path);
/* The remembered answer of the manager's type inference (see inferred_type), NULL when not
 * asked since the configuration was set. */
const char *pw__step_inferred_type(const pw_step *step);
void pw__step_set_inferred_type(const pw_step *step, const char *type);
/* Sets an error's location from the config key path it names (pw_error_key), when the step
 * came from a file. */
void pw__step_locate_error(const pw_step *step, pw_error *e);

#endif
