/* The pipeline object's insides, shared by the loader, validation, plan and the runner. */
#ifndef PW_PIPELINE_PIPELINE_H
#define PW_PIPELINE_PIPELINE_H

#include <jansson.h>

#include "core/step.h"
#include "pipewright/pipeline.h"

typedef struct pw_secret_ref {
	char *name; /* the host environment variable holding the value */
	int line;
	int column;
} pw_secret_ref;

struct pw_pipeline {
	char *path; /* as given */
	char *dir;  /* absolute directory of the file */
	char *name;
	int version;
	pw_map *env;
	pw_secret_ref *secrets;
	size_t secrets_count;
	pw_step **steps;
	size_t steps_count;
	/* Top-level sections other parts own ("hooks", "reports"), kept as JSON; may be NULL. */
	json_t *sections;
};

#endif
