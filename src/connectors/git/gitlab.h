/* The GitLab connector's parts: the git mirror (mirror.c) and the API v4 actions (gitlab.c). */
#ifndef PW_CONNECTORS_GIT_GITLAB_H
#define PW_CONNECTORS_GIT_GITLAB_H

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

#endif
