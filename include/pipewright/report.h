/* Reports of finished runs: JUnit XML, JSON (docs/report-schema.json) and a self-contained
 * HTML page, made from a pw_run or from a run directory (.pipewright/runs/<run-id>/). */
#ifndef PIPEWRIGHT_REPORT_H
#define PIPEWRIGHT_REPORT_H

#include "common.h"
#include "error.h"
#include "pipeline.h"
#include "run.h"
#include "secrets.h"

PW_BEGIN_DECLS

typedef enum pw_report_format {
	PW_REPORT_JUNIT = 1, /* JUnit XML: one testcase per step (GitLab, Jenkins) */
	PW_REPORT_JSON = 2,  /* docs/report-schema.json */
	PW_REPORT_HTML = 3   /* one file, no network: timeline, statuses, collapsible logs */
} pw_report_format;

/* The version of the JSON report's schema ("schema_version" in the document). */
#define PW_REPORT_SCHEMA_VERSION 1

/* "junit", "json", "html"; static. NULL for an unknown value. */
PW_EXTERN const char *pw_report_format_name(pw_report_format f);
/* Parses "junit", "json" or "html". Returns 0 or PW_EINVAL (with the accepted names). */
PW_EXTERN int pw_report_format_parse(pw_report_format *out, const char *name, pw_error **err);

/* A finished run loaded for reporting: its result.json and the step logs it names. */
typedef struct pw_report pw_report;

/* From a run that pw_run_execute finished (it reads the run directory the run wrote);
 * everything taken in is masked again with the run's secrets. Caller frees. */
PW_EXTERN int pw_report_from_run(pw_report **out, const pw_run *r, pw_error **err);
/* From a run directory. secrets (may be NULL) are masked in everything read, on top of the
 * masking the runner did when it wrote the directory. Caller frees. */
PW_EXTERN int pw_report_from_dir(pw_report **out, const char *run_dir, const pw_secrets *secrets,
                                 pw_error **err);
PW_EXTERN void pw_report_free(pw_report *rep);

/* Renders the report; *out is NUL-terminated, *out_len its length (out_len may be NULL).
 * Caller frees *out with pw_free. */
PW_EXTERN int pw_report_render(char **out, size_t *out_len, const pw_report *rep, pw_report_format f,
                               pw_error **err);
/* Renders into path (written to path.tmp, then renamed); creates missing parent
 * directories. */
PW_EXTERN int pw_report_write(const pw_report *rep, pw_report_format f, const char *path, pw_error **err);

/* Borrowed getters; strings are "" when the run did not record them. */
PW_EXTERN const char *pw_report_run_id(const pw_report *rep);
PW_EXTERN const char *pw_report_run_dir(const pw_report *rep);
PW_EXTERN const char *pw_report_pipeline_name(const pw_report *rep);
PW_EXTERN const char *pw_report_status(const pw_report *rep);     /* "succeeded", "failed", ... */
PW_EXTERN const char *pw_report_started_at(const pw_report *rep); /* ISO 8601, UTC */
PW_EXTERN int64_t pw_report_duration_ms(const pw_report *rep);
PW_EXTERN size_t pw_report_step_count(const pw_report *rep);
PW_EXTERN const char *pw_report_step_name(const pw_report *rep, size_t i);
PW_EXTERN const char *pw_report_step_status(const pw_report *rep, size_t i);
/* Non-zero when the step failed or timed out and allow_failure: true kept the run going
 * (status "allowed_failure", or "timed_out" marked allowed). */
PW_EXTERN int pw_report_step_allowed(const pw_report *rep, size_t i);
PW_EXTERN int64_t pw_report_step_duration_ms(const pw_report *rep, size_t i);
/* The step's masked log; NULL in *out when the step wrote none. Caller frees with pw_free. */
PW_EXTERN int pw_report_step_log(char **out, size_t *out_len, const pw_report *rep, size_t i, pw_error **err);

/* The run directories of a workspace (<workspace>/.pipewright/runs/<id>/result.json), as
 * run ids, oldest first. NULL-terminated; free with pw_strv_free. */
PW_EXTERN int pw_report_list_runs(char ***out, const char *workspace, pw_error **err);

/* A report a pipeline asks for in its `reports:` section (junit/json/html: PATH). */
typedef struct pw_report_target {
	pw_report_format format;
	char *path; /* relative paths resolved against `base` */
} pw_report_target;

/* The pipeline's `reports:` section as targets (count may be 0); unknown keys or values that
 * are not a path are PW_EVALIDATION errors. Relative paths are joined to base (NULL: the
 * pipeline file's directory). Caller frees with pw_report_targets_free. */
PW_EXTERN int pw_report_targets_from_pipeline(pw_report_target **out, size_t *count, const pw_pipeline *p,
                                              const char *base, pw_error **err);
PW_EXTERN void pw_report_targets_free(pw_report_target *targets, size_t count);

PW_END_DECLS

#endif
