/* What the pipewright command's files share: exit statuses (documented in usage() and the
 * README) and the subcommands that live outside main.c. */
#ifndef PW_CLI_CLI_H
#define PW_CLI_CLI_H

#include "pipewright/manager.h"

enum {
	EXIT_OK = 0,
	EXIT_STEP_FAILED = 1,
	EXIT_INVALID = 2,
	EXIT_USAGE = 3,
	EXIT_ERROR = 4,
	EXIT_CANCELLED = 130
};

/* history.c: past runs from <workspace>/.pipewright/runs/. argv starts after the command. */
/* Says "pipewright CMD: ARG needs a value" and returns 1 when arg is one of the options of
 * opts (NULL-terminated) that take a value (it was the last argument); else returns 0. */
int cli_missing_value(const char *cmd, const char *arg, const char *const *opts);

/* Terminal text (term.c). The length of the character at s (UTF-8; a byte that is not one
 * counts alone) and, in *cols, the columns it takes (0: controls, combining marks; 2: wide). */
size_t cli_next_char(const char *s, size_t len, int *cols);
/* The columns len bytes of s take. */
int cli_text_cols(const char *s, size_t len);
/* Step output made safe to show on a terminal: escape sequences other than colours (kept only
 * with keep_colour) and control characters other than tab and newline are dropped, a carriage
 * return starts a new line (so that it cannot write over a step's prefix). dst has room for
 * len bytes; returns the length written. */
size_t cli_tty_clean(char *dst, const char *src, size_t len, int keep_colour);

int cli_cmd_runs(int argc, char **argv);
int cli_cmd_logs(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
/* `pipewright gc`: leftovers of killed runs (pipeline/gc.h). */
int cli_cmd_gc(int argc, char **argv);

/* main.c: a manager with the CLI's logging and the plug-ins of PIPEWRIGHT_PLUGIN_PATH and
 * --plugin loaded. EXIT_OK, or EXIT_ERROR after printing why. */
int cli_make_manager(pw_manager **out);
/* Prints an error chain on stderr: text, or with --log-format json one JSON object a line
 * (level, run_id once there is a run, step, code, message, file, line, column, operation, key,
 * response, hint; empty ones left out). step: the step it belongs to, or NULL. */
void cli_print_error(const pw_error *e, const char *step);

/* run_reports.c: the reports `pipewright run` writes. */
#include <stdio.h>

#include "pipewright/report.h"
#include "pipewright/run.h"

/* The reports of a run: the pipeline's `reports:` section (paths relative to workspace, or to
 * the pipeline file's directory when NULL) with each format in cli_paths (indexed by
 * pw_report_format; relative to the current directory) replacing the file's entry. Prints
 * problems; returns EXIT_OK or EXIT_INVALID. */
int cli_report_targets(pw_report_target **out, size_t *count, const pw_pipeline *p, const char *workspace,
                       const char *const cli_paths[4]);
/* Writes them from the finished run; says on out where each went. EXIT_OK or EXIT_ERROR. */
int cli_write_reports(const pw_run *run, const pw_report_target *targets, size_t count, FILE *out);
/* The last `lines` lines of each failed step's log (the board does not show step output). */
void cli_print_failed_tails(const pw_run *run, FILE *out, int lines);

#endif
