/* The Azure connector's reading of Azure Resource Manager answers, pure (no I/O) so that
 * fuzz/fuzz_azure_answers.c can drive it: error bodies, long-running operation states and
 * container group instance views. */
#ifndef PW_CONNECTORS_CLOUD_AZURE_H
#define PW_CONNECTORS_CLOUD_AZURE_H

#include <jansson.h>

#include "core/buf.h"
#include "net/http.h"
#include "pipewright/error.h"

/* The text between the first pair of single quotes after marker in msg ("... perform action
 * 'X' over scope 'Y'" -> X for "perform action"), cut to fit cap (> 0) and NUL-terminated; ""
 * when msg or the quotes are missing. */
void pw__azure_quoted_after(char *out, size_t cap, const char *msg, const char *marker);

/* Sets *err from an ARM error answer r (doc: its parsed body, or NULL): PW_EPERM naming the
 * missing action and scope for 403/AuthorizationFailed, PW_EPERM for 401, PW_ENOTFOUND for
 * 404, PW_EVALIDATION for 400/409, else PW_EEXTERNAL. Returns that code. */
int pw__azure_error(pw_error **err, const char *op, const pw_http_response *r, const json_t *doc);

/* Copies the state of one long-running operation poll into state (cap > 0): the `status` of
 * an Azure-AsyncOperation answer (async) or the resource's properties.provisioningState, else
 * "unknown"; for async answers an error's "code: message" goes to failure (fcap > 0), which is
 * left alone otherwise. Returns 1 when the state is final (Succeeded, Failed, Canceled). */
int pw__azure_lro_state(char *state, size_t cap, char *failure, size_t fcap, const json_t *doc, int async);

/* Appends the platform's own diagnosis of a container group: group and container events and
 * container states, each on a line of its own starting with "\n  ". */
void pw__azure_describe_group(pw_buf *b, const json_t *group);

/* Whether every container of the group has terminated (0 also when it lists none); when so,
 * *exit_code is the first non-zero exit code (1 for one outside 1..255), else 0. */
int pw__azure_containers_terminated(int *exit_code, const json_t *group);

#endif
