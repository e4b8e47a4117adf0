/* Errors: codes from one append-only table and a detail object carried to the caller. */
#ifndef PIPEWRIGHT_ERROR_H
#define PIPEWRIGHT_ERROR_H

#include "common.h"

PW_BEGIN_DECLS

/* X(NAME, value, short description). Append only; values are never renumbered.
 * The first six mirror the seed's AppError variants. */
#define PW_ERROR_MAP(X)                                 \
	X(ECONFIG, -1, "connector configuration error") \
	X(EKUBERNETES, -2, "kubernetes error")          \
	X(EPERM, -3, "permission denied")               \
	X(EVALIDATION, -4, "validation error")          \
	X(EEXTERNAL, -5, "external service error")      \
	X(EUNIMPLEMENTED, -6, "not implemented")        \
	X(ETIMEOUT, -7, "timed out")                    \
	X(ECANCELLED, -8, "cancelled")                  \
	X(EIO, -9, "input/output error")                \
	X(ENOMEM, -10, "out of memory")                 \
	X(ENOTFOUND, -11, "not found")                  \
	X(EINVAL, -12, "invalid argument")              \
	X(EEXISTS, -13, "already exists")               \
	X(EPIPELINE, -14, "invalid pipeline file")      \
	X(ENOTBUILT, -15, "connector not built in")     \
	X(EABI, -16, "ABI version mismatch")            \
	X(ESTEP, -17, "step failed")

typedef enum pw_error_code {
	PW_OK = 0,
#define PW__ERRENUM(name, val, desc) PW_##name = val,
	PW_ERROR_MAP(PW__ERRENUM)
#undef PW__ERRENUM
} pw_errcode;

/* An error's detail. Opaque; the caller that receives one frees it with pw_error_free().
 * Errors may be chained (several diagnostics of one pipeline file): pw_error_next(). */
typedef struct pw_error pw_error;

/* "ECONFIG" etc.; static string, "UNKNOWN" for values not in the table. */
PW_EXTERN const char *pw_error_code_name(int code);
/* The short description from the table; static string. */
PW_EXTERN const char *pw_error_code_desc(int code);

/* Creates an error; the message is one line, without a trailing newline.
 * Returns NULL only when memory is exhausted. Caller frees. */
PW_EXTERN pw_error *pw_error_new(int code, const char *fmt, ...) PW_PRINTF(2, 3);

/* When err is non-NULL and *err is NULL, stores a new error in *err (an existing error is
 * kept: the first, most specific error wins). Always returns code, so that
 * `return pw_error_set(err, PW_ECONFIG, "...");` reads naturally. */
PW_EXTERN int pw_error_set(pw_error **err, int code, const char *fmt, ...) PW_PRINTF(3, 4);

/* Setters copy their string; NULL clears. They return the error for chaining. */
PW_EXTERN pw_error *pw_error_set_operation(pw_error *e, const char *operation);
/* The configuration involved: a config key path such as "parameters.storage_size". */
PW_EXTERN pw_error *pw_error_set_key(pw_error *e, const char *key);
/* What the external service answered (status line and body excerpt). */
PW_EXTERN pw_error *pw_error_set_response(pw_error *e, const char *response);
/* The remediation a user needs. */
PW_EXTERN pw_error *pw_error_set_hint(pw_error *e, const char *hint);
/* Where in a file the error is; file is copied. */
PW_EXTERN pw_error *pw_error_set_location(pw_error *e, const char *file, int line, int column);
/* Appends `next` (taking ownership) at the end of e's chain. */
PW_EXTERN void pw_error_append(pw_error *e, pw_error *next);

/* Getters return borrowed strings (valid until pw_error_free) or NULL when unset. */
PW_EXTERN int pw_error_code(const pw_error *e);
PW_EXTERN const char *pw_error_message(const pw_error *e);
PW_EXTERN const char *pw_error_operation(const pw_error *e);
PW_EXTERN const char *pw_error_key(const pw_error *e);
PW_EXTERN const char *pw_error_response(const pw_error *e);
PW_EXTERN const char *pw_error_hint(const pw_error *e);
PW_EXTERN const char *pw_error_file(const pw_error *e);
PW_EXTERN int pw_error_line(const pw_error *e);
PW_EXTERN int pw_error_column(const pw_error *e);
PW_EXTERN const pw_error *pw_error_next(const pw_error *e);

/* Formats the whole error (location, message, operation, key, response, hint) as text with
 * one item per line, or as one line when one_line is non-zero (line breaks in the service's
 * answer become spaces). Of the service's answer, the first 2 KiB are shown and the rest is
 * counted ("[N more bytes]"); pw_error_response has all of it. Caller frees with pw_free. */
PW_EXTERN char *pw_error_format(const pw_error *e, int one_line);

/* Frees e and everything chained after it. NULL is fine. */
PW_EXTERN void pw_error_free(pw_error *e);

PW_END_DECLS

#endif
