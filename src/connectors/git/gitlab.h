/* The GitLab connector's parts: the git mirror (mirror.c) and the API v4 actions (gitlab.c). */
#ifndef PW_CONNECTORS_GIT_GITLAB_H
#define PW_CONNECTORS_GIT_GITLAB_H

#include <jansson.h>

#include "core/buf.h"
#include "pipewright/exec.h"
#include "pipewright/map.h"
#include "pipewright/result.h"
#include "pipewright/step.h"

/* Checks the mirror keys of a step's config (source_repo, target_repo, branch, ...).
 * Appends errors to *err (the first one becomes *err); returns 0 or PW_ECONFIG. */
int pw__gitlab_mirror_validate(const pw_step *step, pw_error **err);

/* Fetches source_repo bare into the run directory and pushes it to target_repo with real git,
 * run with argv through the process layer. Credentials reach git only through GIT_ASKPASS
 * (a helper in a private 0700 directory reading them from its environment) and
 * GIT_SSH_COMMAND. *out gets the result also when git failed (exit code, message on stderr);
 * an error return means the mirror could not be attempted. */
int pw__gitlab_mirror_run(pw_result **out, const pw_step *step, const pw_workspace *ws, const pw_map *env,
                          pw_exec *ex, pw_error **err);

/* Appends the git commands the mirror would run (credentials shown as where they come from). */
int pw__gitlab_mirror_plan(pw_buf *b, const pw_step *step, const pw_workspace *ws, const pw_map *env);

/* The config value at key as a boolean: fallback when absent. */
int pw__gitlab_cfg_bool(const pw_step *step, const char *key, int fallback);

/* Answer parsing of the API actions, pure (no I/O): fuzzed by fuzz/fuzz_gitlab_answers.c. */

/* The message of a GitLab error answer: {"message": ...} or {"error": ...} (a string, or
 * other JSON compacted), else the first 300 bytes of the body. Caller frees. */
char *pw__gitlab_answer_message(const char *body, size_t len);
/* Whether a pipeline status is final (success, failed, canceled, skipped, manual). */
int pw__gitlab_pipeline_final(const char *status);
/* For each job of a list-jobs answer: a "failed job: NAME (stage S): REASON URL" line (newline
 * terminated) to lines, and its name to names, comma-separated. */
void pw__gitlab_failed_jobs(pw_buf *lines, pw_buf *names, const json_t *jobs);
/* scheme://host/path of a URL without the userinfo (GitLab scrubs it in its answers), for
 * comparing mirror URLs; a URL without "://" is copied. Caller frees. */
char *pw__gitlab_strip_userinfo(const char *url);
/* The id of the first remote mirror in a list answer whose URL without userinfo is bare, or -1. */
long long pw__gitlab_find_mirror(const json_t *list, const char *bare);
/* Whether a remote mirror's update_status is final (finished, failed). */
int pw__gitlab_mirror_final(const char *status);

#endif
