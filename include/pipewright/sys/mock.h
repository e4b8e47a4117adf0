/* The seed's MockConnector: a connector whose next result the test sets, counting calls. */
#ifndef PIPEWRIGHT_SYS_MOCK_H
#define PIPEWRIGHT_SYS_MOCK_H

#include "connector.h"

PW_BEGIN_DECLS

/* A mock connector named `name` of type `type`. It is not cached by any manager; free it
 * with pw_connector_free. */
PW_EXTERN int pw_mock_connector_new(pw_connector **out, const char *name, const char *type, pw_error **err);
/* set_next_result: the result (taken over) returned by the next execute_step; after it is
 * used, executions return success("") again. */
PW_EXTERN void pw_mock_connector_set_next_result(pw_connector *c, pw_result *result);
/* Makes the next execute_step fail with this error (taken over). */
PW_EXTERN void pw_mock_connector_set_next_error(pw_connector *c, pw_error *error);
/* Makes validate_config fail with this error (taken over) until cleared with NULL. */
PW_EXTERN void pw_mock_connector_set_validate_error(pw_connector *c, pw_error *error);
/* Call counters. */
PW_EXTERN unsigned int pw_mock_connector_calls(const pw_connector *c, const char *op);

/* A factory that creates mock connectors for the given types (NULL-terminated, copied) —
 * for tests of the manager. */
PW_EXTERN int pw_mock_factory_register(pw_manager *m, const char *factory_name, const char *const *types,
                                       pw_error **err);

PW_END_DECLS

#endif
