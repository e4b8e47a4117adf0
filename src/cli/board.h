/* The live terminal board of `pipewright run --progress tty`: one line per running or
 * finished step (state, elapsed time, latest log line), redrawn in place. */
#ifndef PW_CLI_BOARD_H
#define PW_CLI_BOARD_H

#include <stdio.h>

#include "pipewright/run.h"

typedef struct board board;

/* A board drawing on out (a terminal) for a run of `total` steps of pipeline `name`.
 * Not thread-safe: the caller serializes every call (the CLI's print lock). */
board *board_new(FILE *out, const char *name, size_t total, int color);
void board_free(board *b);

/* A step changed state; exit_code is -1 when there is no result; allowed: it failed or timed
 * out with allow_failure: true (pw_run_step_allowed). */
void board_step_event(board *b, const char *step, pw_step_status status, int exit_code, int allowed);
/* Masked whole lines of a step's output: the last non-empty one becomes its latest line. */
void board_output(board *b, const char *step, const char *data, size_t len);
/* Redraws in place when something changed or a running step's time ticked. */
void board_render(board *b);
/* Removes the board from the screen so that other text can be printed where it was; the
 * next board_render draws it again below that text. */
void board_erase(board *b);
/* Draws the final state and leaves it on the screen; later renders do nothing. */
void board_finish(board *b);

/* The terminal's width and height (80x24 when unknown); COLUMNS/LINES override. */
void board_term_size(int fd, int *cols, int *rows);

#endif
