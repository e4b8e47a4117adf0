/* Internal: the loader's checks of the step graph (`needs`), and the "did you mean"
 * helper shared by the pipeline diagnostics. */
#ifndef PW_PIPELINE_GRAPH_H
#define PW_PIPELINE_GRAPH_H

#include <stddef.h>

#include "pipeline/pipeline.h"

/* Checks the `needs` of every step of p: each names a defined step (else the nearest name
 * is suggested), no step needs itself, and there is no dependency cycle (each cycle is
 * listed: "dependency cycle: a -> b -> a", where "->" reads "needs"). Appends at most
 * max_errors PW_EPIPELINE errors, located at the `needs.N` entry (or the step when the need
 * is the implicit one), to *chain (created when NULL; caller frees).
 * Returns the number of problems appended, or PW_ENOMEM. */
int pw__pipeline_check_needs(const pw_pipeline *p, size_t max_errors, pw_error **chain);

#endif
