/* The resource journal: what a run created outside the process, so that nothing a killed run
 * leaves behind is lost track of.
 *
 * Each run directory holds `journal` (.pipewright/runs/<run-id>/journal), one JSON object a
 * line:
 *   {"at": "2026-11-28T15:21:44.123Z", "ts_ms": 1795878104123, "event": "created" | "removed",
 *    "run_id": "...", "step": "...", "connector": "docker", "kind": "container",
 *    "name": "pipewright-...", "address": "unix:///run/docker.sock", "scope": "ns" (optional),
 *    "labels": {...} (optional), "attrs": {...} (optional), "by": "gc" (optional)}
 * A "created" record is appended and fsync'd BEFORE the call that creates the object; a
 * "removed" record follows its cleanup. A "created" record without a later "removed" one with
 * the same (connector, kind, address, scope, name) is a possible leftover, which
 * `pipewright gc` removes through the connector's gc hook (pipeline/gc.h) once the run is
 * dead (its run directory's `lock` is not held).
 *
 * Adopting it in a connector (cloud, git, plug-in): one call before each create, one after
 * each delete, with the same entry:
 *
 *     pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
 *     je.connector = "aws"; je.kind = "s3-object"; je.name = key; je.address = bucket_url;
 *     je.scope = region;                          // optional
 *     const char *attrs[] = {"bucket", bucket, NULL};
 *     je.attrs = attrs;                           // optional: what gc needs to delete it
 *     if ((rc = pw__journal_created(ex, &je, err)) < 0)
 *             return rc;                          // not journaled: do not create
 *     ... create ...
 *     ... delete ...
 *     pw__journal_removed(ex, &je);
 *
 * and a gc hook in pipeline/gc.c that deletes one record's object. Without a run directory
 * (an embedder's own pw_exec) both calls do nothing. Never put a secret in an entry: the
 * journal is a plain file (values are masked with the run's secrets all the same). */
#ifndef PW_CORE_JOURNAL_H
#define PW_CORE_JOURNAL_H

#include <jansson.h>

#include "pipewright/error.h"
#include "pipewright/exec.h"

typedef struct pw_journal_entry {
	const char *connector;     /* type name: "docker", "kubernetes", ... */
	const char *kind;          /* what: "container", "image", "jobs", "secrets", ... */
	const char *name;          /* its name or id, known before the create call */
	const char *address;       /* engine or cluster address ("" when there is one only) */
	const char *scope;         /* namespace, region, ...; NULL: none */
	const char *const *labels; /* NULL or "key", "value", ..., NULL */
	const char *const *attrs;  /* NULL or "key", "value", ..., NULL: what gc needs */
} pw_journal_entry;

#define PW_JOURNAL_ENTRY_INIT                            \
	{                                                \
		NULL, NULL, NULL, NULL, NULL, NULL, NULL \
	}

/* Appends and fsyncs a "created" record to ex's run journal. 0, or an error (PW_EIO) after
 * which the caller must not create the object. No journal (ex NULL or without one): 0. */
int pw__journal_created(pw_exec *ex, const pw_journal_entry *e, pw_error **err);
/* Appends a "removed" record (best effort: a failure is logged to ex). */
void pw__journal_removed(pw_exec *ex, const pw_journal_entry *e);

/* The same by journal path, for cleanup that runs without an exec (a connector's destroy):
 * keep a copy of pw__exec_journal(ex) and the run id and step. event: "created"/"removed". */
int pw__journal_append(const char *path, const char *run_id, const char *step, const char *event,
                       const pw_journal_entry *e, pw_error **err);
/* Appends a "removed" record for a parsed "created" record (gc), with "by": by. */
int pw__journal_mark_removed(const char *path, const json_t *created, const char *by, pw_error **err);

/* The "created" records of a journal without a later matching "removed" record, oldest first
 * (a new array). A torn last line (a crash mid-write) and unparseable lines are skipped.
 * A missing journal gives an empty array. */
int pw__journal_pending(json_t **out, const char *path, pw_error **err);

#endif
