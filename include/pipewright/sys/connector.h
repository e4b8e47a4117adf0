/* For connector and factory authors: the ops tables behind pw_connector and factories. */
#ifndef PIPEWRIGHT_SYS_CONNECTOR_H
#define PIPEWRIGHT_SYS_CONNECTOR_H

#include "../connector.h"
#include "../manager.h"

PW_BEGIN_DECLS

/* Capability bits a connector advertises. */
#define PW_CAP_PLAN (1u << 0)   /* plan() describes the step without doing it */
#define PW_CAP_CANCEL (1u << 1) /* cancel() actively interrupts a running step */
#define PW_CAP_REMOTE (1u << 2) /* talks to a service over the network */

/* 2: gc_remove. Tables of version 1 are still accepted. */
#define PW_CONNECTOR_OPS_VERSION 2

/* A connector implementation (Strategy). Make it `static const` with designated
 * initializers. Fields are only ever appended; `version` says how many exist. Mandatory:
 * execute_step and destroy. Every operation may be called from several threads at once. */
typedef struct pw_connector_ops {
	unsigned int version;
	unsigned int caps;
	int (*validate_config)(pw_connector *c, const pw_step *step, pw_error **err);
	int (*pre_execute)(pw_connector *c, const pw_step *step, pw_exec *ex, pw_error **err);
	int (*execute_step)(pw_result **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
	                    const pw_map *env, pw_exec *ex, pw_error **err);
	int (*post_execute)(pw_connector *c, const pw_step *step, const pw_result *result, pw_exec *ex,
	                    pw_error **err);
	/* *out allocated with pw_malloc/pw_strdup. */
	int (*plan)(char **out, pw_connector *c, const pw_step *step, const pw_workspace *ws,
	            const pw_map *env, pw_error **err);
	/* Called from another thread when the step is cancelled; execute_step also sees
	 * pw_exec_cancel_fd become readable, so most connectors need no cancel. */
	void (*cancel)(pw_connector *c, pw_exec *ex);
	/* Releases the implementation; cannot fail. */
	void (*destroy)(pw_connector *c);
	/* Version 2, optional: removes the object of one journal record this connector type
	 * wrote (pw_exec_journal_created) in a run that was killed before it removed it; called
	 * by `pipewright gc` (docs/gc.md) on a connector the manager made for the record's type,
	 * without a step. record_json: the record as JSON, {"kind", "name", "address", "scope",
	 * "attrs": {...}, "run_id", "step", "at"}; workspace: the workspace gc works on. 0 when the
	 * object is gone, also when it was gone already; else an error (the record stays, and the
	 * next gc tries again). */
	int (*gc_remove)(pw_connector *c, const char *record_json, const char *workspace, pw_error **err);
} pw_connector_ops;

/* Something a connector creates outside the process, as the run's resource journal records
 * it: what `pipewright gc` needs to find it again after a killed run. Never a secret. */
typedef struct pw_journal_object {
	const char *kind;         /* what: "bucket", "vm", ... (required) */
	const char *name;         /* its name or id, known before the create call (required) */
	const char *address;      /* the service's address; NULL: "" */
	const char *scope;        /* region, namespace, ...; NULL: none */
	const char *const *attrs; /* NULL or "key", "value", ..., NULL: what gc_remove needs */
} pw_journal_object;

/* Before creating o: appends a "created" record (connector: c's type) to the run's journal
 * and fsyncs it. 0, or an error after which the object must not be created. Without a
 * journal (an exec not made by a run): 0, nothing written. */
PW_EXTERN int pw_exec_journal_created(pw_exec *ex, const pw_connector *c, const pw_journal_object *o,
                                      pw_error **err);
/* After removing o: appends the matching "removed" record (same type, kind, name, address
 * and scope). Best effort: a failure is logged to ex. */
PW_EXTERN void pw_exec_journal_removed(pw_exec *ex, const pw_connector *c, const pw_journal_object *o);

/* Wraps an implementation in a handle. ops is borrowed (static); name and type are copied;
 * impl is owned by the connector and released by ops->destroy. On error nothing is taken
 * over. PW_EABI for an unknown version, PW_EINVAL when a mandatory slot is missing. */
PW_EXTERN int pw_connector_new(pw_connector **out, const pw_connector_ops *ops, const char *name,
                               const char *type, void *impl, pw_error **err);
/* Calls ops->destroy, then frees the handle. */
PW_EXTERN void pw_connector_free(pw_connector *c);
PW_EXTERN void *pw_connector_impl(const pw_connector *c);
PW_EXTERN unsigned int pw_connector_caps(const pw_connector *c);
/* The manager that created the connector (NULL for one made outside a manager). */
PW_EXTERN pw_manager *pw_connector_manager(const pw_connector *c);

#define PW_FACTORY_OPS_VERSION 1

typedef void (*pw_type_list_fn)(const char *type, void *ctx);

/* A connector factory (the seed's ConnectorFactory). */
typedef struct pw_factory_ops {
	unsigned int version;
	const char *name; /* unique among registered factories */
	/* supports_type: non-zero when create() can make this type. */
	int (*supports)(const char *type, void *payload);
	/* create_connector. mgr is the manager asking (for shared services). */
	int (*create)(pw_connector **out, const char *type, pw_manager *mgr, void *payload, pw_error **err);
	/* Optional: reports every type it supports (for list_available_connectors). */
	void (*list_types)(pw_type_list_fn add, void *ctx, void *payload);
	/* Optional: releases payload at pw_manager_free. */
	void (*free)(void *payload);
} pw_factory_ops;

PW_END_DECLS

#endif
