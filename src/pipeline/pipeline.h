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

/* Masks, in every message of the chain e, the values of p's secrets that are set in the
 * environment: an error may quote the file's text, and the file may hold a secret's value. */
void pw__pipeline_mask_errors(const pw_pipeline *p, pw_error *e);

#endif
