/* Custom connectors beyond the built-in ones: shared-object plug-ins (loader.c) and
 * executable connectors `pipewright-connector-NAME` (exec.c). Library-internal. */
#ifndef PW_CONNECTORS_PLUGIN_H
#define PW_CONNECTORS_PLUGIN_H

#include <jansson.h>
#include <pthread.h>

#include "core/buf.h"

#include "pipewright/sys/connector.h"

/* The executable-connector protocol version spoken by this pipewright (docs/plugins.md). */
#define PW_EXEC_PROTOCOL_VERSION 1
/* The largest result a connector program may write on fd 3. */
#define PW_EXEC_RESULT_MAX ((size_t)1 << 20)
/* The program name for custom:NAME is this prefix followed by NAME. */
#define PW_EXEC_PROGRAM_PREFIX "pipewright-connector-"
/* The factory's name (as listed among registered factories). */
#define PW_EXEC_FACTORY_NAME "executable"

/* The longest journal request on fd 3 (a value still incomplete past it is the result). */
#define PW_EXEC_REQUEST_MAX ((size_t)64 << 10)

/* fd 3 of execute as it is read (exec.c): the journal requests at its front are answered on
 * fd and recorded in ex's journal; the first other value and all after it go to result. */
typedef struct pw_exec_channel {
	int fd;                /* our end of the socket pair (-1: answers go nowhere) */
	pw_exec *ex;           /* NULL: nothing is recorded (every request is answered ok) */
	const char *connector; /* custom:NAME */
	const char *program;
	pw_buf pending; /* read, not yet a whole value (bounded: PW_EXEC_RESULT_MAX) */
	pw_buf *result; /* the result and what follows it (bounded: PW_EXEC_RESULT_MAX) */
	int serving;    /* still reading requests (no result yet): start at 1 */
	int overflow;   /* more than PW_EXEC_RESULT_MAX */
	pthread_t thread;
} pw_exec_channel;

/* The next bytes read, and the end of the stream (releases pending). */
void pw__exec_channel_feed(pw_exec_channel *ch, const char *data, size_t len);
void pw__exec_channel_end(pw_exec_channel *ch);

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
