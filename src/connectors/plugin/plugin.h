/* Custom connectors beyond the built-in ones: shared-object plug-ins (loader.c) and
 * executable connectors `pipewright-connector-NAME` (exec.c). Library-internal. */
#ifndef PW_CONNECTORS_PLUGIN_H
#define PW_CONNECTORS_PLUGIN_H

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

#endif
