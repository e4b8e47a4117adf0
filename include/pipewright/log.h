/* Diagnostics: the library never prints; it hands log records to a callback. */
#ifndef PIPEWRIGHT_LOG_H
#define PIPEWRIGHT_LOG_H

#include "common.h"

PW_BEGIN_DECLS

typedef enum pw_log_level {
	PW_LOG_ERROR = 0,
	PW_LOG_WARN = 1,
	PW_LOG_INFO = 2,
	PW_LOG_DEBUG = 3,
	PW_LOG_TRACE = 4
} pw_log_level;

/* One diagnostic. Strings are borrowed for the duration of the call; the message has
 * already been through secret masking. run_id and step are "" when not applicable. */
typedef struct pw_log_record {
	pw_log_level level;
	const char *run_id;
	const char *step;
	const char *component; /* "runner", "shell", "http", ... */
	const char *message;
	int64_t unix_ms;
} pw_log_record;

typedef void (*pw_log_fn)(const pw_log_record *rec, void *payload);

/* "error", "warn", ...; static. */
PW_EXTERN const char *pw_log_level_name(pw_log_level level);
/* Parses "error|warn|info|debug|trace" (case-insensitive). Returns 0 or PW_EINVAL. */
PW_EXTERN int pw_log_level_parse(pw_log_level *out, const char *text);

PW_END_DECLS

#endif
