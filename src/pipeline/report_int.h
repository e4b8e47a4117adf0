/* The report object's insides, shared by report.c (loading) and report_render.c. */
#ifndef PW_PIPELINE_REPORT_INT_H
#define PW_PIPELINE_REPORT_INT_H

#include <jansson.h>

#include "pipewright/report.h"

/* A step log longer than this is kept by its tail (the report says so). */
#define PW__REPORT_LOG_KEEP (8u * 1024 * 1024)

typedef struct pw_report_step {
	json_t *json;      /* borrowed from the report's root */
	char *log;         /* masked; NULL when the step wrote no log */
	size_t log_len;    /* bytes kept */
	size_t log_total;  /* bytes of the log file */
	int log_truncated; /* only the tail was kept */
	int timed;         /* the step started: offset and duration are known */
	int64_t offset_ms; /* from the start of the run */
	int64_t duration_ms;
} pw_report_step;

struct pw_report {
	char *dir;
	json_t *root; /* result.json, masked */
	pw_report_step *steps;
	size_t count;
	int64_t total_ms; /* the run's duration, at least the end of its last step */
};

/* The step (its result.json entry) failed or timed out with allow_failure: true: status
 * allowed_failure, or "allowed": true. */
int pw__report_step_allowed(json_t *step);
/* Fills offset_ms, duration_ms and total_ms from result.json. */
void pw__report_compute_times(pw_report *rep);
/* The run's secrets (run.c); borrowed. */
const pw_secrets *pw__run_secrets(const pw_run *r);

#endif
