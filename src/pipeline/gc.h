/* `pipewright gc`: removes what killed runs left behind outside the process.
 *
 * Two sources: the resource journals of the workspace's runs (core/journal.h): each "created"
 * record without a "removed" one, of a run that is not alive (its run directory's `lock` can
 * be taken), is deleted through its connector's hook and then marked removed; and, on
 * connectors that label what they create with the run id (Docker, Kubernetes), a sweep that
 * lists labelled objects and deletes those of runs that are not alive. A live run is never
 * touched: its lock is held from pw_run_new to pw_run_free and released by the kernel when the
 * process dies. Then the processes steps of this workspace's dead runs left running (found by
 * the run id and workspace in their environment) and the outputs files of those runs'
 * processes. older_than_ms >= 0 keeps objects (and journal records) younger than that. */
#ifndef PW_PIPELINE_GC_H
#define PW_PIPELINE_GC_H

#include <jansson.h>
#include <stdint.h>

#include "pipewright/error.h"
#include "pipewright/manager.h"

typedef struct pw_gc pw_gc;

/* One line per object: what was (or with dry_run, would be) removed, or why not. */
typedef void (*pw_gc_report_fn)(const char *line, void *payload);

typedef struct pw_gc_options {
	const char *workspace; /* holds .pipewright/runs */
	int64_t older_than_ms; /* -1: any age */
	int dry_run;
	int sweep; /* also look for labelled objects on the default engine and cluster */
	pw_gc_report_fn report;
	void *payload;
} pw_gc_options;

typedef struct pw_gc_stats {
	unsigned removed;   /* or, with dry_run, would be removed */
	unsigned failed;    /* could not be removed (reported) */
	unsigned kept_live; /* left alone: their run is alive */
	unsigned kept_new;  /* left alone: younger than older_than */
} pw_gc_stats;

int pw__gc_run(pw_gc_stats *stats, pw_manager *m, const pw_gc_options *opts, pw_error **err);

/* Parses "90s", "30m", "2h", "7d", "1h30m" or a plain number of seconds into ms; -1 if bad. */
int64_t pw__gc_parse_duration(const char *text);

/* ---- for the connectors' hooks ---- */

pw_manager *pw__gc_manager(pw_gc *g);
int pw__gc_dry_run(const pw_gc *g);
/* Whether a labelled object should go: its run label value (as the connector wrote it: the
 * connector's label form of the run id, see to_label) and when it was created (unix ms,
 * 0: unknown). Counts kept objects. */
typedef void (*pw_gc_label_fn)(char *out, size_t cap, const char *run_id);
int pw__gc_should_remove(pw_gc *g, const char *run_label, pw_gc_label_fn to_label, int64_t created_ms);
/* Reports one removal (rc 0) or failure (e's message) and counts it. */
void pw__gc_done(pw_gc *g, const char *connector, const char *kind, const char *scope, const char *name,
                 const char *address, int rc, const pw_error *e);
/* One more line of the report (what a hook did beyond the object itself: the tasks it stopped). */
void pw__gc_note(pw_gc *g, const char *fmt, ...) PW_PRINTF(2, 3);
/* Namespaces (or other scopes) that journals of this workspace mention for a connector, so a
 * sweep knows where to look: a new array of strings. */
json_t *pw__gc_scopes(pw_gc *g, const char *connector);

typedef struct pw_gc_hook {
	const char *connector;
	/* Deletes the object of one "created" journal record; 0 when it is gone (also when it was
	 * already gone). Never called with dry_run. */
	int (*remove)(pw_gc *g, const json_t *record, pw_error **err);
	/* Lists labelled objects, asks pw__gc_should_remove for each, deletes (unless dry run) and
	 * reports through pw__gc_done. NULL: the connector labels nothing. */
	int (*sweep)(pw_gc *g, pw_error **err);
} pw_gc_hook;

/* The connectors' hooks (connectors/<type>/gc.c). */
int pw__docker_gc_remove(pw_gc *g, const json_t *record, pw_error **err);
int pw__docker_gc_sweep(pw_gc *g, pw_error **err);
int pw__k8s_gc_remove(pw_gc *g, const json_t *record, pw_error **err);
int pw__k8s_gc_sweep(pw_gc *g, pw_error **err);
int pw__aws_gc_remove(pw_gc *g, const json_t *record, pw_error **err);
int pw__gcp_gc_remove(pw_gc *g, const json_t *record, pw_error **err);

#endif
