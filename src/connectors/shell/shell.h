/* The shell connector (built in). */
#ifndef PW_CONNECTORS_SHELL_H
#define PW_CONNECTORS_SHELL_H

#include "pipewright/sys/connector.h"

int pw__shell_connector_create(pw_connector **out, pw_manager *m, pw_error **err);
/* Parses PIPEWRIGHT_OUTPUT text, len bytes (key=value lines, or key<<DELIM ... DELIM), into
 * the exec's outputs. The first malformed line (one holding a NUL byte, too) stops it with a
 * PW_EVALIDATION error naming the line; the lines before it have been set. */
int pw__shell_parse_outputs(const char *text, size_t len, pw_exec *ex, pw_error **err);

/* Outputs files made outside the run directory are /dev/shm (else /tmp) /
 * PW_SHELL_OUTPUTS_PREFIX "<pid>-XXXXXX", pid: the process that made it. */
#define PW_SHELL_OUTPUTS_PREFIX "pipewright-outputs-"
/* Removes whatever is at path now: an outputs file, or what a step put there instead (a file,
 * a link, never followed, a directory tree). 0, or -1 with errno. */
int pw__shell_remove_outputs_path(const char *path);

/* For tests only: when set, called with the step's checked working directory (its real path)
 * just before the step's process is started. */
extern void (*pw__shell_test_before_spawn)(const char *cwd);

#endif
