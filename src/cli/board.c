/* The live terminal board: a header and one line per started step, redrawn in place with
 * cursor-up and clear-to-end; lines never exceed the terminal width, so nothing wraps and
 * the next redraw always knows how many rows to take back. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/board.h"
#include "cli/cli.h"

#define LAST_LINE_MAX 512

typedef struct entry {
	char *name;
	pw_step_status status;
	int allowed; /* failed or timed out with allow_failure: true */
	int exit_code;
	int64_t start_ms, end_ms;
	char last[LAST_LINE_MAX]; /* printable ASCII/UTF-8, no control characters */
	size_t order;             /* event order, for choosing what to show on a short screen */
} entry;

struct board {
	FILE *out;
	char *name;
	size_t total;
	int color;
	entry *entries;
	size_t count, cap;
	size_t events;
	int64_t start_ms;
	int drawn_rows;  /* rows the last frame occupies */
	int *drawn_cols; /* columns used by each of those rows */
	int drawn_width; /* terminal width when it was drawn */
	int dirty;
	int64_t drawn_at;
	int finished;
	unsigned spin;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void board_term_size(int fd, int *cols, int *rows)
{
	*cols = 80;
	*rows = 24;
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_col > 0)
			*cols = ws.ws_col;
		if (ws.ws_row > 0)
			*rows = ws.ws_row;
	}
	const char *c = getenv("COLUMNS");
	if (c && *c) {
		long v = strtol(c, NULL, 10);
		if (v > 0 && v < 10000)
			*cols = (int)v;
	}
}

board *board_new(FILE *out, const char *name, size_t total, int color)
{
	board *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->out = out;
	b->name = strdup(name && *name ? name : "pipeline");
	b->total = total;
	b->color = color;
	b->start_ms = now_ms();
	b->dirty = 1;
	if (!b->name) {
		free(b);
		return NULL;
	}
	return b;
}

void board_free(board *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++)
		free(b->entries[i].name);
	free(b->entries);
	free(b->drawn_cols);
	free(b->name);
	free(b);
}

static entry *find(board *b, const char *step, int create)
{
	for (size_t i = 0; i < b->count; i++)
		if (!strcmp(b->entries[i].name, step))
			return &b->entries[i];
	if (!create)
		return NULL;
	if (b->count == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		entry *ne = realloc(b->entries, ncap * sizeof(*ne));
		if (!ne)
			return NULL;
		b->entries = ne;
		b->cap = ncap;
	}
	entry *e = &b->entries[b->count];
	memset(e, 0, sizeof(*e));
	e->name = strdup(step);
	if (!e->name)
		return NULL;
	e->exit_code = -1;
	b->count++;
	return e;
}

void board_step_event(board *b, const char *step, pw_step_status status, int exit_code, int allowed)
{
	entry *e = find(b, step, 1);
	if (!e)
		return;
	int64_t t = now_ms();
	if (status == PW_STEP_RUNNING && e->status != PW_STEP_RUNNING)
		e->start_ms = t;
	if (status != PW_STEP_RUNNING && status != PW_STEP_PENDING)
		e->end_ms = t;
	e->status = status;
	e->allowed = allowed;
	e->exit_code = exit_code;
	e->order = ++b->events;
	b->dirty = 1;
}

/* Copies one line without terminal escapes and control characters. */
static void set_last(entry *e, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < sizeof(e->last); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\033') {
			/* skip CSI ... final byte, or ESC + one character */
			if (i + 1 < len && s[i + 1] == '[') {
				i += 2;
				while (i < len &&
				       !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7E))
					i++;
			} else {
				i++;
			}
			continue;
		}
		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c == 0x7F)
			continue;
		e->last[o++] = (char)c;
	}
	/* do not end inside a UTF-8 sequence */
	while (o > 0 && ((unsigned char)e->last[o - 1] & 0xC0) == 0x80)
		o--;
	if (o > 0 && ((unsigned char)e->last[o - 1] & 0x80))
		o--;
	e->last[o] = '\0';
}

void board_output(board *b, const char *step, const char *data, size_t len)
{
	entry *e = find(b, step, 1);
	if (!e)
		return;
	/* the last line that has something on it */
	size_t end = len;
	while (end > 0) {
		while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == '\r'))
			end--;
		size_t start = end;
		while (start > 0 && data[start - 1] != '\n')
			start--;
		const char *cr = NULL;
		for (size_t i = start; i < end; i++)
			if (data[i] == '\r')
				cr = data + i; /* progress bars: what follows the last \r is on screen */
		size_t from = cr ? (size_t)(cr - data) + 1 : start;
		int blank = 1;
		for (size_t i = from; i < end; i++)
			if (data[i] != ' ' && data[i] != '\t')
				blank = 0;
		if (!blank) {
			set_last(e, data + from, end - from);
			b->dirty = 1;
			return;
		}
		end = start;
	}
}

/* Display columns of UTF-8 text: wide characters take two, combining marks none. */
static int text_cols(const char *s, size_t len)
{
	return cli_text_cols(s, len);
}

/* Appends at most `cols` columns of s to the line; returns the columns used. A wide character
 * that would cross the limit is left out whole. */
static int put_clipped(FILE *out, const char *s, int cols)
{
	int used = 0;
	size_t i = 0, len = strlen(s);
	while (i < len) {
		int c;
		size_t n = cli_next_char(s + i, len - i, &c);
		if (used + c > cols)
			break;
		if (c > 0 || ((unsigned char)s[i] >= 0x80 && n > 1)) /* not a control byte */
			fwrite(s + i, 1, n, out);
		used += c;
		i += n;
	}
	return used;
}

static void put_pad(FILE *out, int n)
{
	for (int i = 0; i < n; i++)
		fputc(' ', out);
}

static void format_elapsed(char *buf, size_t size, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, size, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
	else
		snprintf(buf, size, "%dh%02dm", (int)(ms / 3600000), (int)(ms / 60000 % 60));
}

static const char *state_word(const entry *e)
{
	switch (e->status) {
	case PW_STEP_RUNNING:
		return "running";
	case PW_STEP_SUCCEEDED:
		return "ok";
	case PW_STEP_FAILED:
		return "failed";
	case PW_STEP_ALLOWED_FAILURE:
		return "allowed";
	case PW_STEP_SKIPPED:
		return "skipped";
	case PW_STEP_TIMED_OUT:
		return "timeout";
	case PW_STEP_CANCELLED:
		return "cancel";
	default:
		return "waiting";
	}
}

static const char *state_color(const entry *e)
{
	if (e->allowed)
		return "\033[33m";
	switch (e->status) {
	case PW_STEP_RUNNING:
		return "\033[36m";
	case PW_STEP_SUCCEEDED:
		return "\033[32m";
	case PW_STEP_FAILED:
	case PW_STEP_TIMED_OUT:
		return "\033[31m";
	default:
		return "\033[33m";
	}
}

/* One step's row in `width` columns; returns the columns used. */
static int draw_entry(board *b, const entry *e, int width, int namew, int64_t t)
{
	static const char spinner[] = "|/-\\";
	FILE *out = b->out;
	int avail = width - 1; /* never touch the last column: some terminals wrap there */
	int used = 0;
	char sym = e->status == PW_STEP_RUNNING           ? spinner[b->spin % 4]
	           : e->status == PW_STEP_SUCCEEDED       ? '+'
	           : e->allowed                           ? '!'
	           : e->status == PW_STEP_FAILED          ? 'x'
	           : e->status == PW_STEP_TIMED_OUT       ? 'x'
	           : e->status == PW_STEP_SKIPPED         ? '-'
	           : e->status == PW_STEP_CANCELLED       ? '-'
	           : e->status == PW_STEP_ALLOWED_FAILURE ? '!'
	                                                  : ' ';
	char elapsed[16] = "";
	if (e->start_ms)
		format_elapsed(elapsed, sizeof(elapsed),
		               (e->status == PW_STEP_RUNNING ? t : e->end_ms) - e->start_ms);
	const char *word = state_word(e);
	if (avail < 24) {
		/* narrow: "name state", name cut to fit */
		int wl = (int)strlen(word);
		int nl = avail - wl - 1;
		if (nl < 1) {
			used = put_clipped(out, word, avail);
			return used;
		}
		used += put_clipped(out, e->name, nl);
		fputc(' ', out);
		used++;
		if (b->color)
			fputs(state_color(e), out);
		used += put_clipped(out, word, avail - used);
		if (b->color)
			fputs("\033[0m", out);
		return used;
	}
	fputc(sym, out);
	fputc(' ', out);
	used = 2;
	int nw = namew < avail - 18 ? namew : avail - 18;
	int n = put_clipped(out, e->name, nw);
	put_pad(out, nw - n + 1);
	used += nw + 1;
	if (b->color)
		fputs(state_color(e), out);
	fprintf(out, "%-7s", word);
	if (b->color)
		fputs("\033[0m", out);
	fprintf(out, " %6s", elapsed);
	used += 7 + 7;
	int rest = avail - used - 2;
	if (avail >= 40 && rest > 4) {
		const char *text = e->last;
		char code[32];
		if (!*text && e->status != PW_STEP_RUNNING && e->exit_code > 0) {
			snprintf(code, sizeof(code), "exit code %d", e->exit_code);
			text = code;
		}
		if (*text) {
			fputs("  ", out);
			used += 2;
			if (b->color)
				fputs("\033[2m", out);
			if (text_cols(text, strlen(text)) > rest) {
				used += put_clipped(out, text, rest - 3);
				fputs("...", out);
				used += 3;
			} else {
				used += put_clipped(out, text, rest);
			}
			if (b->color)
				fputs("\033[0m", out);
		}
	}
	return used;
}

/* Which entries fit on a screen of `rows` lines: running steps first, then the most recent
 * others. Marks chosen ones in `show`; returns how many were left out. */
static size_t choose(const board *b, unsigned char *show, int max_rows)
{
	size_t shown = 0;
	if ((int)b->count <= max_rows) {
		memset(show, 1, b->count);
		return 0;
	}
	memset(show, 0, b->count);
	for (size_t i = 0; i < b->count && (int)shown < max_rows; i++)
		if (b->entries[i].status == PW_STEP_RUNNING) {
			show[i] = 1;
			shown++;
		}
	while ((int)shown < max_rows) {
		size_t best = b->count;
		for (size_t i = 0; i < b->count; i++)
			if (!show[i] && (best == b->count || b->entries[i].order > b->entries[best].order))
				best = i;
		if (best == b->count)
			break;
		show[best] = 1;
		shown++;
	}
	return b->count - shown;
}

/* Rows the last frame takes on the screen now (rows drawn at another width may wrap). */
static int physical_rows(const board *b)
{
	int width, rows;
	board_term_size(fileno(b->out), &width, &rows);
	int physical = 0;
	for (int i = 0; i < b->drawn_rows; i++) {
		int c = b->drawn_cols[i];
		physical += c > 0 && width > 0 ? (c + width - 1) / width : 1;
	}
	return physical;
}

/* Line by line rather than with one clear-to-end-of-screen: terminals such as tmux copy a
 * screen cleared from its top-left corner into their scrollback. */
void board_erase(board *b)
{
	if (!b || !b->drawn_rows)
		return;
	int n = physical_rows(b);
	fprintf(b->out, "\r\033[%dA\033[2K", n);
	for (int i = 1; i < n; i++)
		fputs("\033[1B\033[2K", b->out);
	if (n > 1)
		fprintf(b->out, "\033[%dA", n - 1);
	b->drawn_rows = 0;
	b->dirty = 1;
}

static void draw(board *b)
{
	int width, rows;
	board_term_size(fileno(b->out), &width, &rows);
	int64_t t = now_ms();
	/* overwrite the last frame in place; each line ends with clear-to-end-of-line */
	if (b->drawn_rows)
		fprintf(b->out, "\r\033[%dA", physical_rows(b));
	size_t done = 0, running = 0, failed = 0;
	int namew = 4;
	for (size_t i = 0; i < b->count; i++) {
		entry *e = &b->entries[i];
		if (e->status == PW_STEP_RUNNING)
			running++;
		else if (e->status != PW_STEP_PENDING)
			done++;
		if ((e->status == PW_STEP_FAILED || e->status == PW_STEP_TIMED_OUT) && !e->allowed)
			failed++;
		int l = text_cols(e->name, strlen(e->name));
		if (l > namew)
			namew = l;
	}
	if (namew > 24)
		namew = 24;
	int max_rows = rows - 3;
	if (max_rows < 1)
		max_rows = 1;
	unsigned char *show = calloc(b->count ? b->count : 1, 1);
	int *cols = calloc(b->count + 2, sizeof(int));
	if (!show || !cols) {
		free(show);
		free(cols);
		return;
	}
	size_t hidden = choose(b, show, max_rows);
	int nrows = 0;
	/* header */
	char el[16], head[256];
	format_elapsed(el, sizeof(el), t - b->start_ms);
	if (width - 1 >= 40)
		snprintf(head, sizeof(head), "%s  %zu/%zu done  %zu running%s  %s", b->name, done, b->total,
		         running, failed ? "  FAILED" : "", el);
	else
		snprintf(head, sizeof(head), "%zu/%zu %s", done, b->total, el);
	if (b->color)
		fputs("\033[1m", b->out);
	cols[nrows++] = put_clipped(b->out, head, width - 1);
	if (b->color)
		fputs("\033[0m", b->out);
	fputs("\033[K\n", b->out);
	for (size_t i = 0; i < b->count; i++) {
		if (!show[i])
			continue;
		cols[nrows++] = draw_entry(b, &b->entries[i], width, namew, t);
		fputs("\033[K\n", b->out);
	}
	if (hidden) {
		char more[64];
		snprintf(more, sizeof(more), "  (+%zu more)", hidden);
		cols[nrows++] = put_clipped(b->out, more, width - 1);
		fputs("\033[K\n", b->out);
	}
	fputs("\033[J", b->out); /* rows of a longer last frame */
	fflush(b->out);
	free(show);
	free(b->drawn_cols);
	b->drawn_cols = cols;
	b->drawn_rows = nrows;
	b->drawn_width = width;
	b->drawn_at = t;
	b->dirty = 0;
	b->spin++;
}

void board_render(board *b)
{
	if (!b || b->finished)
		return;
	int64_t t = now_ms();
	/* running steps tick every 100 ms at most; changes show at once */
	if (!b->dirty && t - b->drawn_at < 100)
		return;
	draw(b);
}

void board_finish(board *b)
{
	if (!b || b->finished)
		return;
	draw(b);
	b->finished = 1;
}
