/* The outcome of one step: the seed's ExecutionResult. */
#ifndef PIPEWRIGHT_RESULT_H
#define PIPEWRIGHT_RESULT_H

#include "common.h"
#include "map.h"

PW_BEGIN_DECLS

typedef struct pw_result pw_result;

/* ExecutionResult::new. Strings are copied; NULL means empty. Caller frees. */
PW_EXTERN pw_result *pw_result_new(int exit_code, const char *stdout_text, const char *stderr_text);
/* ExecutionResult::success: exit code 0 with the given stdout. */
PW_EXTERN pw_result *pw_result_success(const char *stdout_text);
/* ExecutionResult::failure: the given exit code and stderr. */
PW_EXTERN pw_result *pw_result_failure(int exit_code, const char *stderr_text);
/* ExecutionResult::with_metadata: sets key=value (copied) and returns r, so calls chain.
 * r may be NULL (then NULL is returned). */
PW_EXTERN pw_result *pw_result_with_metadata(pw_result *r, const char *key, const char *value);
/* Non-zero when the exit code is 0. */
PW_EXTERN int pw_result_is_success(const pw_result *r);

PW_EXTERN int pw_result_exit_code(const pw_result *r);
/* Borrowed, never NULL. Captured output is bounded (see pw_exec_options.capture_limit). */
PW_EXTERN const char *pw_result_stdout(const pw_result *r);
PW_EXTERN const char *pw_result_stderr(const pw_result *r);
/* Borrowed metadata map, never NULL; the caller may add entries. */
PW_EXTERN pw_map *pw_result_metadata(pw_result *r);
PW_EXTERN const pw_map *pw_result_metadata_const(const pw_result *r);
/* The signal that ended the step's process, 0 when none. */
PW_EXTERN int pw_result_signal(const pw_result *r);
PW_EXTERN void pw_result_set_signal(pw_result *r, int signo);
/* Replace the captured streams (copied). */
PW_EXTERN int pw_result_set_stdout(pw_result *r, const char *text);
PW_EXTERN int pw_result_set_stderr(pw_result *r, const char *text);

PW_EXTERN void pw_result_free(pw_result *r);

PW_END_DECLS

#endif
