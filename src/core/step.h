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

/* Numbers as a pipeline file writes them (YAML 1.2 core schema). pw__yaml_int reads
 * [-+]?[0-9]+, 0o[0-7]+ and 0x[0-9a-fA-F]+; pw__yaml_float adds fractions and exponents and
 * refuses .inf and .nan. Both return 1 (stored in *out), 0 (not such a number) or -1 (out of
 * range, not finite). */
int pw__yaml_int(const char *s, long long *out);
int pw__yaml_float(const char *s, double *out);

/* The shortest text that reads back as d ("0.1", "2.5", "1e+100"), as the loader compares
 * written numbers with and every connector prints a real. Returns buf. */
const char *pw__real_text(char *buf, size_t size, double d);

/* Numeric configuration values. The loader keeps a plain scalar as a JSON number only when
 * the number prints back exactly as written (`5`, `2.5`); `1.0`, `1e3`, `0x10` or `007` stay
 * text, so that a command or a variable receives them unchanged. A key that wants a number
 * reads it with these: a JSON number, or text that is a YAML number. pw__config_integer
 * accepts integers only (no fraction, no exponent). Return 1 and store, or 0. */
int pw__config_number(const json_t *v, double *out);
int pw__config_integer(const json_t *v, long long *out);
/* v as a number for a request body that wants one: a new reference to a JSON integer or real
 * when v is a YAML number written as text, else to v itself; NULL for NULL. */
json_t *pw__config_typed(json_t *v);

#endif
