/* Custom connectors beyond the built-in ones: shared-object plug-ins (loader.c) and
 * executable connectors `pipewright-connector-NAME` (exec.c). Library-internal. */
#ifndef PW_CONNECTORS_PLUGIN_H
#define PW_CONNECTORS_PLUGIN_H

#include <jansson.h>

#include "pipewright/sys/connector.h"

/* The executable-connector protocol version spoken by this pipewright (docs/plugins.md). */
#define PW_EXEC_PROTOCOL_VERSION 1
/* The largest result a connector program may write on fd 3. */
#define PW_EXEC_RESULT_MAX ((size_t)1 << 20)
/* The program name for custom:NAME is this prefix followed by NAME. */
#define PW_EXEC_PROGRAM_PREFIX "pipewright-connector-"
/* The factory's name (as listed among registered factories). */
#define PW_EXEC_FACTORY_NAME "executable"

/* Registers the executable-connector factory on a new manager (called from
 * pw__builtin_factory_register, after the built-in factory). */
int pw__exec_factory_register(pw_manager *m, pw_error **err);

/* While non-zero on the calling thread, the executable factory reports no types from
 * list_types (the plug-in loader uses it to find types that are really taken). */
void pw__exec_factory_hide_listing(int hide);

/* The result an executable connector wrote on fd 3 (data[0..len), not NUL-terminated): a JSON
 * object (new reference), or NULL with *err explaining why not (invalid JSON, not an object,
 * another protocol, or the program's own "error"), quoting at most 200 bytes of it. program,
 * name and verb name the call in the message. */
json_t *pw__exec_parse_result(const char *data, size_t len, const char *program, const char *name,
                              const char *verb, pw_error **err);
/* The checks of an execute result: an integer "exit_code", "metadata" and "outputs" objects when
 * present. 0, or PW_EEXTERNAL with *err (text, the result as written, is quoted). */
int pw__exec_check_execute_result(const json_t *j, const char *text, const char *program, const char *name,
                                  pw_error **err);

#endif
