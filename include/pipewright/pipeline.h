/* Pipeline files: loading with file:line:column diagnostics, validation, plans. */
#ifndef PIPEWRIGHT_PIPELINE_H
#define PIPEWRIGHT_PIPELINE_H

#include "common.h"
#include "error.h"
#include "manager.h"
#include "map.h"
#include "step.h"

PW_BEGIN_DECLS

typedef struct pw_pipeline pw_pipeline;

/* Parses and checks the structure of a pipeline file: YAML syntax, keys and their types,
 * duplicate step names, `needs` naming missing steps, cycles. Every problem found is
 * reported, chained in *err, each with file:line:column, what is wrong and how to fix it.
 * Caller frees *out with pw_pipeline_free. */
PW_EXTERN int pw_pipeline_load_file(pw_pipeline **out, const char *path, pw_error **err);
/* The same from memory; `filename` is used in diagnostics and to find the directory. */
PW_EXTERN int pw_pipeline_load_string(pw_pipeline **out, const char *yaml, size_t len, const char *filename,
                                      pw_error **err);
PW_EXTERN void pw_pipeline_free(pw_pipeline *p);

/* Everything `pipewright validate` checks beyond loading: every step's connector type is
 * available (else the list of available ones), every secret is set in the environment, and
 * each step's validate_config passes. Executes nothing. All problems are chained in *err. */
PW_EXTERN int pw_pipeline_validate(pw_pipeline *p, pw_manager *m, pw_error **err);

/* The dry run: every step's connector describes what it would do; secrets are masked.
 * workspace may be NULL (the pipeline file's directory). Caller frees with pw_free. */
PW_EXTERN int pw_pipeline_plan(char **out, pw_pipeline *p, pw_manager *m, const char *workspace,
                               pw_error **err);

/* Borrowed getters. */
PW_EXTERN const char *pw_pipeline_name(const pw_pipeline *p);
PW_EXTERN int pw_pipeline_version(const pw_pipeline *p);
PW_EXTERN const char *pw_pipeline_path(const pw_pipeline *p);
/* The directory of the pipeline file (absolute). */
PW_EXTERN const char *pw_pipeline_dir(const pw_pipeline *p);
PW_EXTERN const pw_map *pw_pipeline_env(const pw_pipeline *p);
PW_EXTERN size_t pw_pipeline_secret_count(const pw_pipeline *p);
PW_EXTERN const char *pw_pipeline_secret_at(const pw_pipeline *p, size_t i);
PW_EXTERN size_t pw_pipeline_step_count(const pw_pipeline *p);
PW_EXTERN pw_step *pw_pipeline_step_at(const pw_pipeline *p, size_t i);
/* Index of the step named `name`, or -1. */
PW_EXTERN long pw_pipeline_find_step(const pw_pipeline *p, const char *name);

PW_END_DECLS

#endif
