/* Connectors (the seed's Connector trait, used through a handle) and connector types. */
#ifndef PIPEWRIGHT_CONNECTOR_H
#define PIPEWRIGHT_CONNECTOR_H

#include "common.h"
#include "error.h"
#include "exec.h"
#include "map.h"
#include "result.h"
#include "step.h"

PW_BEGIN_DECLS

/* Connector types are names: the seed's ConnectorType variants, plus "custom:NAME" for
 * ConnectorType::Custom(NAME). */
#define PW_TYPE_SHELL "shell"
#define PW_TYPE_DOCKER "docker"
#define PW_TYPE_KUBERNETES "kubernetes"
#define PW_TYPE_AWS "aws"
#define PW_TYPE_AZURE "azure"
#define PW_TYPE_GCP "gcp"
#define PW_TYPE_GITHUB "github"
#define PW_TYPE_GITLAB "gitlab"
#define PW_TYPE_CUSTOM_PREFIX "custom:"

typedef enum pw_connector_kind {
	PW_KIND_INVALID = -1,
	PW_KIND_SHELL = 0,
	PW_KIND_DOCKER,
	PW_KIND_KUBERNETES,
	PW_KIND_AWS,
	PW_KIND_AZURE,
	PW_KIND_GCP,
	PW_KIND_GITHUB,
	PW_KIND_GITLAB,
	PW_KIND_CUSTOM
} pw_connector_kind;

/* The kind of a type name; PW_KIND_CUSTOM for "custom:NAME" with a valid NAME
 * ([a-z0-9][a-z0-9_-]*), PW_KIND_INVALID otherwise. */
PW_EXTERN pw_connector_kind pw_connector_kind_of(const char *type);
/* The type name of a built-in kind; static; NULL for CUSTOM and INVALID. */
PW_EXTERN const char *pw_connector_kind_name(pw_connector_kind kind);

typedef struct pw_connector pw_connector;

/* Borrowed getters. */
PW_EXTERN const char *pw_connector_name(const pw_connector *c);
PW_EXTERN const char *pw_connector_type(const pw_connector *c);

/* The Connector trait's operations. Each checks the connector's slot: an absent optional
 * one gets its default (validate/pre/post: success) or the error
 * "cannot <op>: connector '<name>' does not support it". */
PW_EXTERN int pw_connector_validate_config(pw_connector *c, const pw_step *step, pw_error **err);
PW_EXTERN int pw_connector_pre_execute(pw_connector *c, const pw_step *step, pw_exec *ex, pw_error **err);
/* The result (caller frees) is returned also when the step's command failed; an error
 * return means the connector could not run the step at all, or failed it after it ran: then
 * *out may still hold the result of what ran (its exit status, output, metadata), which the
 * caller frees too (pw_result_free accepts NULL). */
PW_EXTERN int pw_connector_execute_step(pw_result **out, pw_connector *c, const pw_step *step,
                                        const pw_workspace *ws, const pw_map *env, pw_exec *ex,
                                        pw_error **err);
PW_EXTERN int pw_connector_post_execute(pw_connector *c, const pw_step *step, const pw_result *result,
                                        pw_exec *ex, pw_error **err);
/* What the connector would do, as text, without doing it. Caller frees with pw_free. */
PW_EXTERN int pw_connector_plan(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
                                const pw_map *env, pw_error **err);
PW_EXTERN void pw_connector_cancel(pw_connector *c, pw_exec *ex);

PW_END_DECLS

#endif
