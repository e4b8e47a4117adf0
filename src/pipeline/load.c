/* Loads pipeline files: libyaml events become a small node tree (aliases bounded), which is
 * checked and turned into the pipeline and its steps; every problem is reported with
 * file:line:column, what is wrong and how to fix it.
 *
 * Positions are 1-based lines and character columns. A recorded location (pw__step_add_loc,
 * pw_secret_ref) is where the VALUE starts: "timeout" is the position of `120` in
 * `timeout: 120`, "config" that of the config mapping; a value written as an alias (`*x`)
 * is located at the alias, its contents at the anchored original. Errors about a key itself
 * (unknown, duplicate) point at the key; errors about a value point at the value. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/internal.h"
#include "core/step.h"
#include "core/suggest.h"
#include "pipeline/graph.h"
#include "pipeline/pipeline.h"

#define LOAD_MAX_FILE ((size_t)16 * 1024 * 1024)
#define LOAD_MAX_ALIASES 10000u  /* alias expansions in the whole document */
#define LOAD_MAX_DEPTH 64        /* nested collections, counted through aliases */
#define LOAD_MAX_VALUES 1000000u /* values (keys included) after expanding aliases */
#define LOAD_MAX_ANCHORS 10000u
#define LOAD_MAX_ERRORS 100
#define LOAD_MAX_TIMEOUT (366.0 * 24 * 3600)
#define LOAD_MAX_RETRIES 100
#define STEP_NAME_MAX 63
#define DESC_SIZE 320  /* describe()'s buffer: 40 characters, each escaped at most as \u0085 */
#define QUOTE_SIZE 400 /* quoted file text: 60 characters escaped */

/* ---- the node tree ---------------------------------------------------------------- */

enum { Y_SCALAR, Y_SEQ, Y_MAP, Y_ALIAS };
enum { T_NONE, T_STR, T_INT, T_FLOAT, T_BOOL, T_NULL }; /* explicit scalar tags */

typedef struct ynode {
	uint8_t kind;
	uint8_t plain; /* scalar written without quotes or block indicator */
	uint8_t tag;   /* T_* */
	int32_t line, col;
	uint32_t text, len;        /* scalar: the value at c->text.data + text */
	int32_t first, last, next; /* children; a mapping's alternate key, value */
	int32_t count;
	int32_t target;   /* alias: the anchored node */
	int32_t height;   /* collection levels of the expanded value (scalar 0) */
	uint32_t aliases; /* alias expansions inside the expanded value */
	uint32_t size;    /* values in the expanded value */
} ynode;

typedef struct anchor {
	uint32_t name; /* offset in c->text */
	uint32_t hash;
	int32_t node;
} anchor;

typedef struct frame {
	int32_t node;
	uint32_t aliases0, size0;
	uint32_t anchor; /* offset of the anchor name to register at the end, 0: none */
} frame;

typedef struct load_ctx {
	const char *file; /* for diagnostics */
	const char *input;
	size_t input_len;
	pw_buf text; /* scalar values and anchor names, NUL-separated; offset 0 is "" */
	ynode *nodes;
	size_t n_nodes, cap_nodes;
	int32_t root;
	anchor *anchors;
	size_t n_anchors, cap_anchors;
	uint32_t total_aliases, total_size;
	pw_error *errors;
	size_t n_errors;
	int oom;
	int stop;  /* a limit or a syntax error: the tree is not usable */
	int fatal; /* stop walking */
	pw_buf path;
	int path_bad; /* pushes that did not fit the path buffer */
	pw_pipeline *p;
	size_t steps_cap;
	unsigned char *step_alias; /* per step: written as an alias (`- *x`) */
} load_ctx;

/* ---- diagnostics ------------------------------------------------------------------ */

/* Adds an error at line:col (identical ones, as through aliases, are reported once).
 * Returns it for pw_error_set_hint, or NULL (limit reached, duplicate, out of memory). */
static pw_error *report(load_ctx *c, int line, int col, const char *fmt, ...) PW_PRINTF(4, 5);
static pw_error *report(load_ctx *c, int line, int col, const char *fmt, ...)
{
	if (c->n_errors >= LOAD_MAX_ERRORS) {
		if (!c->fatal) {
			c->fatal = 1;
			pw_error *e = pw_error_new(PW_EPIPELINE, "too many problems; stopped after %d",
			                           LOAD_MAX_ERRORS);
			pw_error_set_location(e, c->file, line, col);
			pw_error_set_hint(e, "fix the problems above and load the file again");
			pw_error_append(c->errors, e);
		}
		return NULL;
	}
	char msg[2048]; /* long messages are cut, never lost */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (const pw_error *o = c->errors; o; o = pw_error_next(o))
		if (pw_error_line(o) == line && pw_error_column(o) == col &&
		    strcmp(pw_error_message(o), msg) == 0)
			return NULL;
	pw_error *e = pw_error_new(PW_EPIPELINE, "%s", msg);
	if (!e) {
		c->oom = 1;
		return NULL;
	}
	pw_error_set_location(e, c->file, line, col);
	if (c->errors)
		pw_error_append(c->errors, e);
	else
		c->errors = e;
	c->n_errors++;
	return e;
}

static void hint(pw_error *e, const char *fmt, ...) PW_PRINTF(2, 3);
static void hint(pw_error *e, const char *fmt, ...)
{
	if (!e)
		return;
	char h[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h, sizeof(h), fmt, ap);
	va_end(ap);
	pw_error_set_hint(e, h);
}

/* ---- building the tree from libyaml events ---------------------------------------- */

static ynode *N(const load_ctx *c, int32_t i)
{
	return &c->nodes[i];
}

static int32_t deref(const load_ctx *c, int32_t i)
{
	return N(c, i)->kind == Y_ALIAS ? N(c, i)->target : i;
}

static const char *stext(const load_ctx *c, int32_t i)
{
	return c->text.data + N(c, i)->text;
}

static uint32_t text_add(load_ctx *c, const char *s, size_t len)
{
	size_t off = c->text.len;
	if (off > UINT32_MAX - len - 1 || pw__buf_append(&c->text, s, len) < 0 ||
	    pw__buf_putc(&c->text, '\0') < 0) {
		c->oom = 1;
		return 0;
	}
	return (uint32_t)off;
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int32_t new_node(load_ctx *c, int kind, const yaml_mark_t *m)
{
	if (c->n_nodes == c->cap_nodes) {
		size_t ncap = c->cap_nodes ? c->cap_nodes * 2 : 256;
		ynode *n = realloc(c->nodes, ncap * sizeof(ynode));
		if (!n) {
			c->oom = 1;
			return -1;
		}
		c->nodes = n;
		c->cap_nodes = ncap;
	}
	ynode *n = &c->nodes[c->n_nodes];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->line = m->line < INT_MAX ? (int32_t)m->line + 1 : INT_MAX;
	n->col = m->column < INT_MAX ? (int32_t)m->column + 1 : INT_MAX;
	n->first = n->last = n->next = n->target = -1;
	return (int32_t)c->n_nodes++;
}

/* Links a new node under the open collection (or makes it the root). */
static void attach(load_ctx *c, const frame *stack, int depth, int32_t idx)
{
	if (depth == 0) {
		if (c->root < 0)
			c->root = idx;
		return;
	}
	ynode *parent = N(c, stack[depth - 1].node);
	if (parent->last >= 0)
		N(c, parent->last)->next = idx;
	else
		parent->first = idx;
	parent->last = idx;
	parent->count++;
}

/* A finished child raises the open parent's height (kept as the children's maximum). */
static void raise_height(load_ctx *c, const frame *stack, int depth, int32_t idx)
{
	if (depth > 0 && N(c, idx)->height > N(c, stack[depth - 1].node)->height)
		N(c, stack[depth - 1].node)->height = N(c, idx)->height;
}

static void count_values(load_ctx *c, uint32_t n, int32_t at)
{
	c->total_size += n;
	if (c->total_size <= LOAD_MAX_VALUES)
		return;
	pw_error *e =
	    report(c, N(c, at)->line, N(c, at)->col,
	           "the file holds more than %u values (counting alias expansions)", LOAD_MAX_VALUES);
	hint(e, "a pipeline file this large is not supported; split it or use fewer aliases");
	c->stop = 1;
}

static void register_anchor(load_ctx *c, uint32_t name, int32_t node)
{
	if (c->n_anchors >= LOAD_MAX_ANCHORS) {
		pw_error *e = report(c, N(c, node)->line, N(c, node)->col, "more than %u YAML anchors",
		                     LOAD_MAX_ANCHORS);
		hint(e, "use fewer anchors (&name)");
		c->stop = 1;
		return;
	}
	if (c->n_anchors == c->cap_anchors) {
		size_t ncap = c->cap_anchors ? c->cap_anchors * 2 : 16;
		anchor *a = realloc(c->anchors, ncap * sizeof(anchor));
		if (!a) {
			c->oom = 1;
			return;
		}
		c->anchors = a;
		c->cap_anchors = ncap;
	}
	anchor *a = &c->anchors[c->n_anchors++];
	a->name = name;
	a->hash = hash_name(c->text.data + name);
	a->node = node;
}

/* The latest definition of an anchor (YAML lets a later anchor override), or -1. */
static int32_t find_anchor(const load_ctx *c, const char *name)
{
	uint32_t h = hash_name(name);
	for (size_t i = c->n_anchors; i-- > 0;)
		if (c->anchors[i].hash == h && strcmp(c->text.data + c->anchors[i].name, name) == 0)
			return c->anchors[i].node;
	return -1;
}

static const char *tag_display(const char *tag, char *buf, size_t size)
{
	static const char core[] = "tag:yaml.org,2002:";
	if (strncmp(tag, core, sizeof(core) - 1) == 0)
		snprintf(buf, size, "!!%s", tag + sizeof(core) - 1);
	else
		snprintf(buf, size, "%s", tag);
	return buf;
}

/* Maps a tag to T_*, reporting tags pipewright does not understand (then T_NONE). */
static int tag_kind(load_ctx *c, const unsigned char *utag, int scalar, const yaml_mark_t *m)
{
	const char *tag = (const char *)utag;
	if (!tag)
		return T_NONE;
	if (strcmp(tag, "!") == 0)
		return scalar ? T_STR : T_NONE;
	static const struct {
		const char *tag;
		int scalar, kind;
	} known[] = {
	    {"tag:yaml.org,2002:str", 1, T_STR},     {"tag:yaml.org,2002:int", 1, T_INT},
	    {"tag:yaml.org,2002:float", 1, T_FLOAT}, {"tag:yaml.org,2002:bool", 1, T_BOOL},
	    {"tag:yaml.org,2002:null", 1, T_NULL},   {"tag:yaml.org,2002:map", 0, T_NONE},
	    {"tag:yaml.org,2002:seq", 0, T_NONE},
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(tag, known[i].tag) == 0 && known[i].scalar == scalar)
			return known[i].kind;
	char buf[128];
	pw_error *e = report(c, (int)m->line + 1, (int)m->column + 1, "unsupported YAML tag '%s'",
	                     tag_display(tag, buf, sizeof(buf)));
	hint(e, "remove the tag; pipewright understands !!str, !!int, !!float, !!bool and !!null on values, "
	        "!!map and !!seq on collections");
	return T_NONE;
}

static void on_scalar(load_ctx *c, const yaml_event_t *ev, frame *stack, int depth)
{
	int tag = tag_kind(c, ev->data.scalar.tag, 1, &ev->start_mark);
	int32_t idx = new_node(c, Y_SCALAR, &ev->start_mark);
	if (idx < 0)
		return;
	ynode *n = N(c, idx);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->tag = (uint8_t)tag;
	n->len = (uint32_t)ev->data.scalar.length;
	n->text = text_add(c, (const char *)ev->data.scalar.value, ev->data.scalar.length);
	n->size = 1;
	attach(c, stack, depth, idx);
	count_values(c, 1, idx);
	if (ev->data.scalar.anchor) {
		const char *a = (const char *)ev->data.scalar.anchor;
		register_anchor(c, text_add(c, a, strlen(a)), idx);
	}
}

static int on_start(load_ctx *c, const yaml_event_t *ev, frame *stack, int depth)
{
	int seq = ev->type == YAML_SEQUENCE_START_EVENT;
	const unsigned char *tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
	const unsigned char *anc = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
	if (depth >= LOAD_MAX_DEPTH) {
		pw_error *e = report(c, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
		                     "values are nested deeper than %d levels", LOAD_MAX_DEPTH);
		hint(e, "flatten the structure; pipewright reads at most %d nested lists and mappings",
		     LOAD_MAX_DEPTH);
		c->stop = 1;
		return depth;
	}
	tag_kind(c, tag, 0, &ev->start_mark);
	int32_t idx = new_node(c, seq ? Y_SEQ : Y_MAP, &ev->start_mark);
	if (idx < 0)
		return depth;
	attach(c, stack, depth, idx);
	count_values(c, 1, idx);
	stack[depth].node = idx;
	stack[depth].aliases0 = c->total_aliases;
	stack[depth].size0 = c->total_size - 1;
	stack[depth].anchor = anc ? text_add(c, (const char *)anc, strlen((const char *)anc)) : 0;
	return depth + 1;
}

static int on_end(load_ctx *c, frame *stack, int depth)
{
	if (depth == 0)
		return 0;
	frame *f = &stack[--depth];
	ynode *n = N(c, f->node);
	n->height++;
	n->aliases = c->total_aliases - f->aliases0;
	n->size = c->total_size - f->size0;
	raise_height(c, stack, depth, f->node);
	if (f->anchor)
		register_anchor(c, f->anchor, f->node);
	return depth;
}

static void on_alias(load_ctx *c, const yaml_event_t *ev, frame *stack, int depth)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	int32_t target = find_anchor(c, name);
	if (target < 0) {
		pw_error *e = report(c, line, col, "unknown alias '*%s'", name);
		hint(e,
		     "define the anchor with `&%s` before this alias (an anchor cannot be used inside its "
		     "own value)",
		     name);
		int32_t idx = new_node(c, Y_SCALAR, &ev->start_mark); /* stands in as null */
		if (idx >= 0) {
			N(c, idx)->plain = 1;
			N(c, idx)->size = 1;
			attach(c, stack, depth, idx);
		}
		return;
	}
	if (depth + N(c, target)->height > LOAD_MAX_DEPTH) {
		pw_error *e = report(c, line, col, "alias '*%s' nests values deeper than %d levels", name,
		                     LOAD_MAX_DEPTH);
		hint(e, "flatten the anchored value or use it at a shallower place");
		c->stop = 1;
		return;
	}
	c->total_aliases += 1 + N(c, target)->aliases;
	if (c->total_aliases > LOAD_MAX_ALIASES) {
		pw_error *e = report(c, line, col, "more than %u alias expansions", LOAD_MAX_ALIASES);
		hint(e,
		     "every alias (*name) copies its anchored value, and aliases inside it are copied again; "
		     "use fewer aliases");
		c->stop = 1;
		return;
	}
	int32_t idx = new_node(c, Y_ALIAS, &ev->start_mark);
	if (idx < 0)
		return;
	ynode *n = N(c, idx);
	n->target = target;
	n->height = N(c, target)->height;
	n->aliases = 1 + N(c, target)->aliases;
	n->size = N(c, target)->size;
	attach(c, stack, depth, idx);
	raise_height(c, stack, depth, idx);
	count_values(c, N(c, target)->size, idx);
}

/* The length of the line break at input[i] as libyaml counts lines (CR LF, LF, CR, NEL,
 * LS, PS), or 0. */
static size_t break_at(const load_ctx *c, size_t i)
{
	const unsigned char *s = (const unsigned char *)c->input;
	size_t n = c->input_len;
	if (s[i] == '\r')
		return i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
	if (s[i] == '\n')
		return 1;
	if (s[i] == 0xC2 && i + 1 < n && s[i + 1] == 0x85)
		return 2;
	if (s[i] == 0xE2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
		return 3;
	return 0;
}

/* Where the text starts: after a UTF-8 byte order mark, which libyaml skips. */
static size_t text_start(const load_ctx *c)
{
	return c->input_len >= 3 && memcmp(c->input, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* Line and character column of a byte offset in the input (reader errors carry only that). */
static void offset_pos(const load_ctx *c, size_t off, int *line, int *col)
{
	int l = 1, k = 1;
	for (size_t i = text_start(c); i < off && i < c->input_len;) {
		size_t b = break_at(c, i);
		if (b) {
			l++;
			k = 1;
			i += b;
			continue;
		}
		if (((unsigned char)c->input[i] & 0xC0) != 0x80)
			k++;
		i++;
	}
	*line = l;
	*col = k;
}

/* Non-zero when the indentation of 1-based `line` holds a tab. */
static int line_indent_has_tab(const load_ctx *c, int line)
{
	size_t i = text_start(c);
	for (int l = 1; l < line && i < c->input_len;) {
		size_t b = break_at(c, i);
		l += b != 0;
		i += b ? b : 1;
	}
	for (; i < c->input_len && (c->input[i] == ' ' || c->input[i] == '\t'); i++)
		if (c->input[i] == '\t')
			return 1;
	return 0;
}

static void syntax_error(load_ctx *c, const yaml_parser_t *ps)
{
	c->stop = 1;
	if (ps->error == YAML_MEMORY_ERROR) {
		c->oom = 1;
		return;
	}
	const char *problem = ps->problem ? ps->problem : "unknown error";
	int line, col;
	pw_error *e;
	if (ps->error == YAML_READER_ERROR) {
		offset_pos(c, ps->problem_offset, &line, &col);
		e = report(c, line, col, "invalid YAML: %s", problem);
		if (strstr(problem, "control"))
			hint(e, "remove the control character; only tab, newline and printable characters "
			        "are allowed");
		else
			hint(e, "save the file as UTF-8 text");
		return;
	}
	line = (int)ps->problem_mark.line + 1;
	col = (int)ps->problem_mark.column + 1;
	if (ps->context)
		e = report(c, line, col, "invalid YAML: %s (%s started on line %d)", problem, ps->context,
		           (int)ps->context_mark.line + 1);
	else
		e = report(c, line, col, "invalid YAML: %s", problem);
	if (line_indent_has_tab(c, line) || strstr(problem, "tab"))
		hint(e, "indent with spaces: YAML does not allow tabs for indentation");
	else if (strstr(problem, "mapping values are not allowed"))
		hint(e, "quote a value that contains ': ', or check the indentation of this line");
	else if (ps->context && strstr(ps->context, "flow sequence"))
		hint(e, "close the bracket that starts on line %d with `]`", (int)ps->context_mark.line + 1);
	else if (ps->context && strstr(ps->context, "flow mapping"))
		hint(e, "close the brace that starts on line %d with `}`", (int)ps->context_mark.line + 1);
	else if (strstr(problem, "did not find expected"))
		hint(e,
		     "check the indentation: the keys of one mapping and the items of one list must start in "
		     "the same column");
	else if (strstr(problem, "end of stream") || strstr(problem, "unexpected end"))
		hint(e, "close the quoted string or bracket that starts on line %d",
		     (int)ps->context_mark.line + 1);
	else
		hint(e, "check the indentation and the quoting near this position");
}

static void build_tree(load_ctx *c)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		c->oom = 1;
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)c->input, c->input_len);
	frame stack[LOAD_MAX_DEPTH + 1];
	int depth = 0, docs = 0, done = 0;
	while (!done && !c->oom && !c->stop) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(c, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0) {
				pw_error *e =
				    report(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				           "the file holds more than one YAML document");
				hint(e, "a pipeline file is one document: remove the second `---` and what "
				        "follows, "
				        "or move it to its own file");
				done = 1;
			}
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(c, &ev, stack, depth);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			depth = on_start(c, &ev, stack, depth);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth = on_end(c, stack, depth);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(c, &ev, stack, depth);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
}

/* ---- scalars ---------------------------------------------------------------------- */

enum { SV_NULL, SV_BOOL, SV_INT, SV_FLOAT, SV_STR, SV_BAD_RANGE, SV_BAD_FINITE, SV_BAD_TAG };

typedef struct sval {
	int type;
	long long i;
	double d;
	int b;
} sval;

static int match_null(const char *s)
{
	if (*s != '~' && *s != 'n' && *s != 'N') /* most scalars: one compare */
		return !*s;
	return !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int match_bool(const char *s, int *b)
{
	if (*s != 't' && *s != 'T' && *s != 'f' && *s != 'F')
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*b = 1;
		return 1;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*b = 0;
		return 1;
	}
	return 0;
}

/* The texts a, b and c one after another in buf (cut to its size): what snprintf would make
 * of "%s%s%s", without the format parsing, which cost a 2,000-step pipeline's load more than
 * its own work (several labels a step; numbers go through pw__u64_text). */
static void join3(char *buf, size_t size, const char *a, const char *b, const char *c)
{
	const char *parts[3] = {a, b, c};
	size_t n = 0;
	for (int i = 0; i < 3 && n + 1 < size; i++) {
		size_t l = strlen(parts[i]);
		if (l > size - 1 - n)
			l = size - 1 - n;
		memcpy(buf + n, parts[i], l);
		n += l;
	}
	buf[n] = '\0';
}

/* Resolves scalar node d (not an alias): quoted and !!str are strings, plain ones follow
 * the core schema, other explicit tags must match their type. */
static void scalar_value(const load_ctx *c, int32_t d, sval *out)
{
	const ynode *n = N(c, d);
	const char *s = stext(c, d);
	memset(out, 0, sizeof(*out));
	out->type = SV_STR;
	if (n->tag == T_STR || (n->tag == T_NONE && !n->plain) || strlen(s) != n->len)
		return;
	if ((n->tag == T_NONE || n->tag == T_NULL) && match_null(s)) {
		out->type = SV_NULL;
		return;
	}
	if ((n->tag == T_NONE || n->tag == T_BOOL) && match_bool(s, &out->b)) {
		out->type = SV_BOOL;
		return;
	}
	if (n->tag == T_NONE || n->tag == T_INT || n->tag == T_FLOAT) {
		int r = pw__yaml_int(s, &out->i);
		if (r) {
			out->type = r < 0 ? SV_BAD_RANGE : SV_INT;
			if (n->tag == T_FLOAT && r > 0) {
				out->type = SV_FLOAT;
				out->d = strtod(s, NULL);
			}
			return;
		}
	}
	if (n->tag == T_NONE || n->tag == T_FLOAT) {
		int r = pw__yaml_float(s, &out->d);
		if (r) {
			out->type = r < 0 ? SV_BAD_FINITE : SV_FLOAT;
			return;
		}
	}
	if (n->tag != T_NONE)
		out->type = SV_BAD_TAG;
}

static int is_null(const load_ctx *c, int32_t idx)
{
	int32_t d = deref(c, idx);
	if (N(c, d)->kind != Y_SCALAR)
		return 0;
	sval v;
	scalar_value(c, d, &v);
	return v.type == SV_NULL;
}

/* Text from the file for a message: control characters escaped (a CR, a newline or an escape
 * sequence must not reach the terminal), cut after max characters. Returns buf. */
static const char *quote(char *buf, size_t size, const char *s, size_t len, size_t max)
{
	return pw__text_escaped(buf, size, s, len, max);
}

/* 1 for a scalar with a NUL character (a "\0" escape): it cannot be passed on as text. */
static int has_nul(const load_ctx *c, int32_t d)
{
	return N(c, d)->kind == Y_SCALAR && strlen(stext(c, d)) != N(c, d)->len;
}

/* 1 for quoted text that would be a boolean or a number without the quotes ("true", "2"). */
static int quoted_lookalike(const load_ctx *c, int32_t d)
{
	const ynode *n = N(c, d);
	if (n->kind != Y_SCALAR || (n->plain && n->tag != T_STR) || has_nul(c, d))
		return 0;
	const char *s = stext(c, d);
	int b;
	long long i;
	double f;
	return match_bool(s, &b) || pw__yaml_int(s, &i) == 1 || pw__yaml_float(s, &f) == 1;
}

/* "'text'", "the quoted text '2'", "a mapping", "a list" or "an empty value", for messages. */
static const char *describe(const load_ctx *c, int32_t idx, char *buf, size_t size)
{
	int32_t d = deref(c, idx);
	if (N(c, d)->kind == Y_MAP)
		return "a mapping";
	if (N(c, d)->kind == Y_SEQ)
		return "a list";
	if (is_null(c, d) && N(c, d)->len == 0)
		return "an empty value";
	char q[DESC_SIZE - 32];
	quote(q, sizeof(q), stext(c, d), N(c, d)->len, 40);
	snprintf(buf, size, "%s'%s'", quoted_lookalike(c, d) ? "the quoted text " : "", q);
	return buf;
}

/* Reports scalar idx when it holds a NUL character; returns 1 then. `what` names it
 * ("the text", "the key", "name"). */
static int refuse_nul(load_ctx *c, int32_t idx, const char *what)
{
	int32_t d = deref(c, idx);
	if (!has_nul(c, d))
		return 0;
	char q[QUOTE_SIZE];
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "%s contains a NUL character (\\0): '%s'",
	                     what, quote(q, sizeof(q), stext(c, d), N(c, d)->len, 60));
	hint(e, "remove the \\0 escape: names, commands and variables are passed on as C strings, "
	        "which end at a NUL");
	return 1;
}

/* ---- mappings: duplicate keys and `<<` merge keys ---------------------------------- */

typedef struct pair {
	int32_t key; /* as written: its position */
	int32_t value;
	const char *text; /* the key's text */
	uint32_t len;
	uint32_t prio;  /* 0: written in this mapping; 1 + j: from the j-th merged mapping */
	uint64_t order; /* position in the resulting mapping */
} pair;

typedef struct pairs {
	pair *v;
	size_t n, cap;
} pairs;

static int pair_push(load_ctx *c, pairs *ps, pair p)
{
	if (ps->n == ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 8;
		pair *v = realloc(ps->v, ncap * sizeof(pair));
		if (!v) {
			c->oom = 1;
			return -1;
		}
		ps->v = v;
		ps->cap = ncap;
	}
	ps->v[ps->n++] = p;
	return 0;
}

static int pair_by_key(const void *a, const void *b)
{
	const pair *x = a, *y = b;
	size_t l = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->text, y->text, l);
	if (r)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int pair_by_order(const void *a, const void *b)
{
	const pair *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

static pairs map_pairs(load_ctx *c, int32_t map);

/* Adds the pairs of the mapping(s) that `<<` at pair position i names. */
static void merge_into(load_ctx *c, pairs *ps, int32_t value, uint64_t i)
{
	int32_t d = deref(c, value);
	int32_t single[1] = {d};
	int32_t *srcs = single;
	size_t n = 1;
	char buf[DESC_SIZE];
	if (N(c, d)->kind == Y_SEQ) {
		n = 0;
		srcs = malloc(((size_t)N(c, d)->count + 1) * sizeof(int32_t));
		if (!srcs) {
			c->oom = 1;
			return;
		}
		for (int32_t k = N(c, d)->first; k >= 0; k = N(c, k)->next) {
			if (N(c, deref(c, k))->kind != Y_MAP) {
				pw_error *e = report(c, N(c, k)->line, N(c, k)->col,
				                     "merge key '<<' takes mappings, not %s",
				                     describe(c, k, buf, sizeof(buf)));
				hint(e, "list aliases of mappings: `<<: [*defaults, *more]`");
				continue;
			}
			srcs[n++] = deref(c, k);
		}
	} else if (N(c, d)->kind != Y_MAP) {
		pw_error *e = report(c, N(c, value)->line, N(c, value)->col,
		                     "merge key '<<' takes a mapping or a list of mappings, not %s",
		                     describe(c, value, buf, sizeof(buf)));
		hint(e, "write `<<: *anchor` where `&anchor` names a mapping, or quote '<<' to use it as a "
		        "plain key");
		return;
	}
	uint64_t sub = 0;
	for (size_t j = 0; j < n && !c->oom; j++) {
		pairs m = map_pairs(c, srcs[j]);
		for (size_t k = 0; k < m.n; k++) {
			pair p = m.v[k];
			p.prio = (uint32_t)(1 + j);
			p.order = (i << 32) | ++sub;
			if (pair_push(c, ps, p) < 0)
				break;
		}
		free(m.v);
	}
	if (srcs != single)
		free(srcs);
}

/* The entries of mapping `map` (not an alias), in order, with `<<` merges applied (keys
 * written in the mapping win, then earlier merged mappings). Reports non-text and
 * duplicate keys. Caller frees .v. */
static pairs map_pairs(load_ctx *c, int32_t map)
{
	pairs ps = {NULL, 0, 0};
	uint64_t i = 0;
	int32_t merge_key = -1;
	char buf[DESC_SIZE];
	for (int32_t k = N(c, map)->first; k >= 0 && !c->oom; i++) {
		int32_t v = N(c, k)->next;
		if (v < 0)
			break;
		int32_t kd = deref(c, k);
		if (N(c, kd)->kind != Y_SCALAR) {
			pw_error *e =
			    report(c, N(c, k)->line, N(c, k)->col, "a mapping key must be text, not %s",
			           describe(c, k, buf, sizeof(buf)));
			hint(e, "complex keys (`? ...`) are not supported; write a plain `key: value`");
		} else if (refuse_nul(c, k, "the key")) {
			/* left out */
		} else if (N(c, kd)->plain && N(c, kd)->tag == T_NONE && strcmp(stext(c, kd), "<<") == 0) {
			if (merge_key >= 0) {
				pw_error *e =
				    report(c, N(c, k)->line, N(c, k)->col,
				           "duplicate key '<<' (first on line %d)", N(c, merge_key)->line);
				hint(e, "merge several mappings with one key: `<<: [*a, *b]`");
			} else {
				merge_key = k;
				merge_into(c, &ps, v, i);
			}
		} else {
			pair p = {k, v, stext(c, kd), N(c, kd)->len, 0, i << 32};
			pair_push(c, &ps, p);
		}
		k = N(c, v)->next;
	}
	if (c->oom || ps.n == 0)
		return ps;
	if (merge_key < 0 && ps.n <= 16) {
		/* the common small mapping without merges: already in order; a pairwise check
		 * finds duplicates faster than the two sorts below */
		size_t out = 0;
		for (size_t k = 0; k < ps.n; k++) {
			const pair *first = NULL;
			for (size_t j = 0; j < out && !first; j++)
				if (ps.v[j].len == ps.v[k].len &&
				    memcmp(ps.v[j].text, ps.v[k].text, ps.v[k].len) == 0)
					first = &ps.v[j];
			if (first) {
				char q[QUOTE_SIZE];
				pw_error *e = report(c, N(c, ps.v[k].key)->line, N(c, ps.v[k].key)->col,
				                     "duplicate key '%s' (first on line %d)",
				                     quote(q, sizeof(q), ps.v[k].text, ps.v[k].len, 60),
				                     N(c, first->key)->line);
				hint(e, "keys of a mapping must be unique; remove or rename one of them");
				continue;
			}
			ps.v[out++] = ps.v[k];
		}
		ps.n = out;
		return ps;
	}
	qsort(ps.v, ps.n, sizeof(pair), pair_by_key);
	size_t out = 0;
	for (size_t k = 0; k < ps.n; k++) {
		pair *first = out ? &ps.v[out - 1] : NULL;
		if (first && first->len == ps.v[k].len &&
		    memcmp(first->text, ps.v[k].text, first->len) == 0) {
			if (first->prio == 0 && ps.v[k].prio == 0) {
				char q[QUOTE_SIZE];
				pw_error *e = report(c, N(c, ps.v[k].key)->line, N(c, ps.v[k].key)->col,
				                     "duplicate key '%s' (first on line %d)",
				                     quote(q, sizeof(q), ps.v[k].text, ps.v[k].len, 60),
				                     N(c, first->key)->line);
				hint(e, "keys of a mapping must be unique; remove or rename one of them");
			}
			continue;
		}
		ps.v[out++] = ps.v[k];
	}
	ps.n = out;
	qsort(ps.v, ps.n, sizeof(pair), pair_by_order);
	return ps;
}

/* ---- generic values -> JSON, recording locations ---------------------------------- */

static size_t path_push(load_ctx *c, const char *seg, size_t len)
{
	size_t saved = c->path.len;
	if ((saved && pw__buf_putc(&c->path, '.') < 0) || pw__buf_append(&c->path, seg, len) < 0) {
		c->path_bad++;
		c->path.len = saved;
		if (c->path.data)
			c->path.data[saved] = '\0';
		return SIZE_MAX;
	}
	return saved;
}

static void path_pop(load_ctx *c, size_t saved)
{
	if (saved == SIZE_MAX) {
		c->path_bad--;
		return;
	}
	c->path.len = saved;
	c->path.data[saved] = '\0';
}

static void path_reset(load_ctx *c, const char *p)
{
	pw__buf_clear(&c->path);
	c->path_bad = 0;
	if (pw__buf_puts(&c->path, p) < 0)
		c->path_bad = 1;
}

/* Records where the value at the current path starts. */
static void record_loc(load_ctx *c, pw_step *s, int32_t idx)
{
	if (s && !c->path_bad &&
	    pw__step_add_loc(s, pw__buf_cstr(&c->path), N(c, idx)->line, N(c, idx)->col) < 0)
		c->oom = 1;
}

/* 1 when number v (SV_INT or SV_FLOAT), printed as connectors print numbers, is the text s
 * it was read from. A plain scalar becomes a JSON number only then: wherever the value is
 * used as text (an argument, a variable), it is what the file says. */
static int prints_back(const sval *v, const char *s)
{
	char buf[DESC_SIZE];
	if (v->type == SV_INT)
		pw__u64_text(buf, v->i < 0 ? 0 - (uint64_t)v->i : (uint64_t)v->i);
	else
		pw__real_text(buf, sizeof(buf), v->d);
	if (v->type == SV_INT && v->i < 0)
		return s[0] == '-' && strcmp(s + 1, buf) == 0;
	return strcmp(s, buf) == 0;
}

static json_t *scalar_json(load_ctx *c, int32_t idx)
{
	int32_t d = deref(c, idx);
	if (refuse_nul(c, idx, "the text"))
		return NULL;
	sval v;
	scalar_value(c, d, &v);
	const char *s = stext(c, d);
	json_t *j = NULL;
	pw_error *e;
	switch (v.type) {
	case SV_NULL:
		return json_null();
	case SV_BOOL:
		return json_boolean(v.b);
	case SV_INT:
	case SV_FLOAT:
		if (N(c, d)->tag == T_NONE && !prints_back(&v, s)) {
			j = json_stringn(s, N(c, d)->len); /* 007, 1.50, 1e3, 0x10: kept as written */
			break;
		}
		j = v.type == SV_INT ? json_integer((json_int_t)v.i) : json_real(v.d);
		break;
	case SV_STR:
		j = json_stringn(s, N(c, d)->len);
		if (!j) {
			e = report(c, N(c, idx)->line, N(c, idx)->col, "the value is not valid UTF-8 text");
			hint(e, "remove the invalid escape sequence");
			return NULL;
		}
		return j;
	case SV_BAD_RANGE:
		e = report(c, N(c, idx)->line, N(c, idx)->col, "integer %.40s is out of range", s);
		hint(e, "quote it (\"%.40s\") to keep it as text", s);
		return NULL;
	case SV_BAD_FINITE:
		e = report(c, N(c, idx)->line, N(c, idx)->col,
		           "'%s' is not a finite number; JSON cannot hold it", s);
		hint(e, "quote it (\"%s\") to keep it as text", s);
		return NULL;
	default:
		e = report(c, N(c, idx)->line, N(c, idx)->col, "'%.40s' does not match its YAML tag", s);
		hint(e, "remove the tag or write a value of that type");
		return NULL;
	}
	if (!j)
		c->oom = 1;
	return j;
}

/* Converts the value at idx (recording locations under the current path when s is set).
 * Problems are reported and the value skipped; NULL only then or when out of memory. */
static json_t *to_json(load_ctx *c, int32_t idx, pw_step *s)
{
	if (c->oom || c->fatal)
		return NULL;
	record_loc(c, s, idx);
	int32_t d = deref(c, idx);
	if (N(c, d)->kind == Y_SCALAR)
		return scalar_json(c, idx);
	if (N(c, d)->kind == Y_SEQ) {
		json_t *a = json_array();
		if (!a) {
			c->oom = 1;
			return NULL;
		}
		size_t i = 0;
		for (int32_t k = N(c, d)->first; k >= 0; k = N(c, k)->next, i++) {
			char seg[24];
			int len = pw__u64_text(seg, i);
			size_t saved = path_push(c, seg, (size_t)len);
			json_t *v = to_json(c, k, s);
			path_pop(c, saved);
			if (v && json_array_append_new(a, v) < 0)
				c->oom = 1;
		}
		return a;
	}
	json_t *o = json_object();
	if (!o) {
		c->oom = 1;
		return NULL;
	}
	pairs ps = map_pairs(c, d);
	for (size_t i = 0; i < ps.n; i++) {
		size_t saved = path_push(c, ps.v[i].text, ps.v[i].len);
		json_t *v = to_json(c, ps.v[i].value, s);
		path_pop(c, saved);
		if (v && json_object_setn_new(o, ps.v[i].text, ps.v[i].len, v) < 0)
			c->oom = 1;
	}
	free(ps.v);
	return o;
}

/* ---- pipeline and step fields ----------------------------------------------------- */

static const char *const top_keys[] = {"version", "name", "env", "secrets", "hooks", "reports", "steps"};
static const char *const step_keys[] = {"name",    "step_type", "command",       "needs", "timeout",
                                        "retries", "when",      "allow_failure", "env",   "config"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void unknown_key(load_ctx *c, const pair *p, const char *where, const char *const *keys, size_t n)
{
	char q[QUOTE_SIZE];
	pw_error *e = report(c, N(c, p->key)->line, N(c, p->key)->col, "unknown key '%s'%s",
	                     quote(q, sizeof(q), p->text, p->len, 60), where);
	if (!e)
		return;
	const char *near = pw__suggest_n(p->text, keys, n);
	if (near) {
		hint(e, "did you mean '%s'?", near);
		return;
	}
	pw_buf h = PW_BUF_INIT(4096);
	pw__buf_puts(&h, "valid keys: ");
	for (size_t i = 0; i < n; i++)
		pw__buf_printf(&h, "%s%s", i ? ", " : "", keys[i]);
	pw_error_set_hint(e, pw__buf_cstr(&h));
	pw__buf_dispose(&h);
}

static int valid_env_name(const char *s, size_t len)
{
	return strlen(s) == len && pw__env_name_valid(s);
}

static int valid_step_name(const char *s, size_t len)
{
	if (len == 0 || len > STEP_NAME_MAX || strlen(s) != len)
		return 0;
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	if (!strchr(alnum, s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!strchr(alnum, s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* The text of a non-null scalar, or NULL after reporting "<what> must be text". */
static const char *want_text(load_ctx *c, int32_t idx, const char *what, const char *fix)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	if (refuse_nul(c, idx, what))
		return NULL;
	if (N(c, d)->kind == Y_SCALAR && !is_null(c, d))
		return stext(c, d);
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "%s must be text, not %s", what,
	                     describe(c, idx, buf, sizeof(buf)));
	hint(e, "%s", fix);
	return NULL;
}

/* Fills env from a mapping NAME: scalar; values are kept as written ("" for null). */
static void load_env(load_ctx *c, int32_t idx, pw_map *env, pw_step *s, const char *owner)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	path_reset(c, "env");
	record_loc(c, s, idx);
	if (is_null(c, d))
		return;
	if (N(c, d)->kind != Y_MAP) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
		                     "env%s must be a mapping of NAME: value, not %s", owner,
		                     describe(c, idx, buf, sizeof(buf)));
		hint(e, "write `env: { NAME: value }` or one `NAME: value` per indented line");
		return;
	}
	pairs ps = map_pairs(c, d);
	for (size_t i = 0; i < ps.n && !c->oom && !c->fatal; i++) {
		const pair *p = &ps.v[i];
		if (!valid_env_name(p->text, p->len)) {
			char q[QUOTE_SIZE];
			pw_error *e = report(c, N(c, p->key)->line, N(c, p->key)->col,
			                     "invalid environment variable name '%s'%s",
			                     quote(q, sizeof(q), p->text, p->len, 60), owner);
			hint(e, "names start with a letter or '_' and contain only letters, digits and '_'");
			continue;
		}
		int32_t vd = deref(c, p->value);
		if (N(c, vd)->kind != Y_SCALAR) {
			pw_error *e =
			    report(c, N(c, p->value)->line, N(c, p->value)->col,
			           "environment variable '%s'%s must be text, a number or a boolean, not %s",
			           p->text, owner, describe(c, p->value, buf, sizeof(buf)));
			hint(e, "quote the value; use a block scalar (`|`) for text over several lines");
			continue;
		}
		char what[192];
		join3(what, sizeof(what), "the value of environment variable '", p->text, "'");
		if (refuse_nul(c, p->value, what))
			continue;
		size_t saved = path_push(c, p->text, p->len);
		record_loc(c, s, p->value);
		path_pop(c, saved);
		if (pw_map_set(env, p->text, is_null(c, vd) ? "" : stext(c, vd)) < 0)
			c->oom = 1;
	}
	free(ps.v);
}

/* "90", "1.5", "90s", "5m", "1h30m", "1.5h": seconds, > 0. Returns 0 or -1. */
static int parse_duration(const char *s, double *out)
{
	double total = 0;
	int groups = 0;
	if (!*s)
		return -1;
	while (*s) {
		size_t n = strspn(s, "0123456789.");
		char num[32];
		if (!n || n >= sizeof(num))
			return -1;
		memcpy(num, s, n);
		num[n] = '\0';
		char *dot = strchr(num, '.');
		if (num[0] == '.' || num[n - 1] == '.' || (dot && strchr(dot + 1, '.')))
			return -1;
		double v = strtod(num, NULL);
		s += n;
		double unit;
		if (*s == 'h')
			unit = 3600;
		else if (*s == 'm')
			unit = 60;
		else if (*s == 's')
			unit = 1;
		else if (!*s && groups == 0)
			unit = 1;
		else
			return -1;
		if (*s)
			s++;
		total += v * unit;
		groups++;
	}
	*out = total;
	return 0;
}

static void load_timeout(load_ctx *c, pw_step *s, int32_t idx, const char *label)
{
	int32_t d = deref(c, idx);
	double secs = -1;
	if (N(c, d)->kind == Y_SCALAR) {
		sval v;
		scalar_value(c, d, &v);
		if (v.type == SV_INT)
			secs = (double)v.i;
		else if (v.type == SV_FLOAT)
			secs = v.d;
		else if (v.type == SV_STR && parse_duration(stext(c, d), &secs) < 0)
			secs = -1;
	}
	if (secs > 0 && secs <= LOAD_MAX_TIMEOUT) {
		s->timeout = secs;
		return;
	}
	char buf[DESC_SIZE];
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
	                     "timeout of %s must be a number of seconds greater than 0 or a duration, not %s",
	                     label, describe(c, idx, buf, sizeof(buf)));
	hint(e,
	     "write seconds (`timeout: 120`, `timeout: 1.5`) or a duration (`timeout: 90s`, `5m`, `1h30m`), "
	     "at most 366 days");
}

static void load_retries(load_ctx *c, pw_step *s, int32_t idx, const char *label)
{
	int32_t d = deref(c, idx);
	if (N(c, d)->kind == Y_SCALAR) {
		sval v;
		scalar_value(c, d, &v);
		if (v.type == SV_INT && v.i >= 0 && v.i <= LOAD_MAX_RETRIES) {
			s->retries = (unsigned int)v.i;
			return;
		}
	}
	char buf[DESC_SIZE];
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
	                     "retries of %s must be a whole number from 0 to %d, not %s", label,
	                     LOAD_MAX_RETRIES, describe(c, idx, buf, sizeof(buf)));
	if (quoted_lookalike(c, d))
		hint(e, "remove the quotes: `retries: %s` (quoted, it is text, not a number)", stext(c, d));
	else
		hint(e, "retries is how often a failed step is run again: `retries: 2`");
}

static void load_when(load_ctx *c, pw_step *s, int32_t idx, const char *label)
{
	static const char *const names[] = {"on_success", "on_failure", "always"};
	static const pw_when values[] = {PW_WHEN_ON_SUCCESS, PW_WHEN_ON_FAILURE, PW_WHEN_ALWAYS};
	int32_t d = deref(c, idx);
	const char *t = N(c, d)->kind == Y_SCALAR ? stext(c, d) : NULL;
	for (size_t i = 0; t && i < COUNT(names); i++) {
		if (strcmp(t, names[i]) == 0) {
			s->when = values[i];
			return;
		}
	}
	char buf[DESC_SIZE];
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
	                     "when of %s must be on_success, on_failure or always, not %s", label,
	                     describe(c, idx, buf, sizeof(buf)));
	const char *near = t ? pw__suggest_n(t, names, COUNT(names)) : NULL;
	if (near)
		hint(e, "did you mean '%s'? valid values: on_success, on_failure, always", near);
	else
		hint(e, "valid values: on_success (the default), on_failure, always");
}

static void load_allow_failure(load_ctx *c, pw_step *s, int32_t idx, const char *label)
{
	int32_t d = deref(c, idx);
	if (N(c, d)->kind == Y_SCALAR) {
		sval v;
		scalar_value(c, d, &v);
		if (v.type == SV_BOOL) {
			s->allow_failure = v.b;
			return;
		}
	}
	char buf[DESC_SIZE];
	pw_error *e =
	    report(c, N(c, idx)->line, N(c, idx)->col, "allow_failure of %s must be true or false, not %s",
	           label, describe(c, idx, buf, sizeof(buf)));
	if (quoted_lookalike(c, d))
		hint(e, "remove the quotes: `allow_failure: %s` (quoted, it is text, not a boolean)",
		     stext(c, d));
	else
		hint(e, "write `allow_failure: true` or `allow_failure: false` (yes/no/on/off are text in "
		        "YAML 1.2)");
}

typedef struct name_at {
	const char *name;
	size_t idx;
} name_at;

static int name_at_cmp(const void *a, const void *b)
{
	const name_at *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* first_of[i] = index of the first earlier equal name, or SIZE_MAX. Caller frees. */
static size_t *find_dups(load_ctx *c, const char *const *names, size_t n)
{
	name_at *v = malloc((n ? n : 1) * sizeof(name_at));
	size_t *first_of = malloc((n ? n : 1) * sizeof(size_t));
	if (!v || !first_of) {
		free(v);
		free(first_of);
		c->oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].name = names[i];
		v[i].idx = i;
		first_of[i] = SIZE_MAX;
	}
	qsort(v, n, sizeof(name_at), name_at_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t g = i - 1;
		if (strcmp(v[i].name, v[g].name) == 0)
			first_of[v[i].idx] = first_of[v[g].idx] == SIZE_MAX ? v[g].idx : first_of[v[g].idx];
	}
	free(v);
	return first_of;
}

static void load_needs(load_ctx *c, pw_step *s, int32_t idx, const char *label)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	path_reset(c, "needs");
	record_loc(c, s, idx);
	s->needs_explicit = 1;
	if (is_null(c, d)) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "needs of %s is empty", label);
		hint(e, "write `needs: []` for a step that starts at once, or list the steps it waits for: "
		        "`needs: [build]`");
		return;
	}
	if (N(c, d)->kind == Y_MAP) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
		                     "needs of %s must be a list of step names, not %s", label,
		                     describe(c, idx, buf, sizeof(buf)));
		hint(e, "write `needs: [build, test]`");
		return;
	}
	int32_t single[1] = {idx};
	int32_t *elems = single;
	size_t n = 1;
	if (N(c, d)->kind == Y_SEQ) {
		n = (size_t)N(c, d)->count;
		elems = malloc((n ? n : 1) * sizeof(int32_t));
		if (!elems) {
			c->oom = 1;
			return;
		}
		size_t i = 0;
		for (int32_t k = N(c, d)->first; k >= 0; k = N(c, k)->next)
			elems[i++] = k;
	}
	for (size_t i = 0; i < n && !c->oom; i++) {
		char what[128];
		join3(what, sizeof(what), "each entry of needs of ", label, "");
		const char *name = want_text(c, elems[i], what, "list step names: `needs: [build, test]`");
		if (!name)
			continue;
		char seg[24];
		int len = pw__u64_text(seg, s->needs_count);
		size_t saved = path_push(c, seg, (size_t)len);
		record_loc(c, s, elems[i]);
		path_pop(c, saved);
		if (pw_step_add_need(s, name) < 0)
			c->oom = 1;
	}
	if (elems != single)
		free(elems);
	size_t *first_of = find_dups(c, (const char *const *)s->needs, s->needs_count);
	for (size_t i = 0; first_of && i < s->needs_count; i++) {
		if (first_of[i] == SIZE_MAX)
			continue;
		char p[64];
		snprintf(p, sizeof(p), "needs.%zu", i);
		const pw_loc *l = pw__step_find_loc(s, p);
		pw_error *e = report(c, l ? l->line : s->line, l ? l->column : s->column,
		                     "%s lists '%s' twice in needs", label, s->needs[i]);
		hint(e, "remove the second '%s'", s->needs[i]);
	}
	free(first_of);
}

static int add_step(load_ctx *c, pw_step *s, int alias)
{
	pw_pipeline *p = c->p;
	if (p->steps_count == c->steps_cap) {
		size_t ncap = c->steps_cap ? c->steps_cap * 2 : 8;
		pw_step **v = realloc(p->steps, ncap * sizeof(pw_step *));
		if (v)
			p->steps = v;
		unsigned char *a = v ? realloc(c->step_alias, ncap) : NULL;
		if (!a) {
			c->oom = 1;
			return -1;
		}
		c->step_alias = a;
		c->steps_cap = ncap;
	}
	c->step_alias[p->steps_count] = (unsigned char)alias;
	p->steps[p->steps_count++] = s;
	return 0;
}

/* The step's name, or NULL after reporting why there is none usable. */
static const char *step_name(load_ctx *c, int32_t idx, const pairs *ps, size_t pos, int32_t *name_value)
{
	*name_value = -1;
	for (size_t i = 0; i < ps->n; i++) {
		if (strcmp(ps->v[i].text, "name") != 0)
			continue;
		*name_value = ps->v[i].value;
		char what[64], num[24];
		pw__u64_text(num, pos + 1);
		join3(what, sizeof(what), "the name of step #", num, "");
		const char *name = want_text(c, ps->v[i].value, what, "write `name: build`");
		return name;
	}
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "step #%zu has no name", pos + 1);
	hint(e, "add `name: <step-name>` to the step (letters, digits, '_', '.' and '-')");
	return NULL;
}

/* Sets config.command from the step-level shorthand `command`. */
static void move_command(load_ctx *c, pw_step *s, json_t *conf, int32_t cmd, const char *label)
{
	int32_t d = deref(c, cmd);
	char buf[DESC_SIZE];
	if (N(c, d)->kind == Y_MAP || is_null(c, d)) {
		pw_error *e = report(c, N(c, cmd)->line, N(c, cmd)->col,
		                     "command of %s must be text or a list of arguments, not %s", label,
		                     describe(c, cmd, buf, sizeof(buf)));
		hint(e, "write `command: make test` or `command: [make, test]`");
		return;
	}
	if (json_object_get(conf, "command")) {
		const pw_loc *l = pw__step_find_loc(s, "config.command");
		pw_error *e = report(c, N(c, cmd)->line, N(c, cmd)->col,
		                     "%s sets command both at step level and in config (line %d)", label,
		                     l ? l->line : 0);
		hint(e, "keep only one: a step-level `command:` is shorthand for `config: { command: ... }`");
		return;
	}
	path_reset(c, "command");
	record_loc(c, s, cmd);
	path_reset(c, "config.command");
	json_t *v = to_json(c, cmd, s);
	if (v && json_object_set_new(conf, "command", v) < 0)
		c->oom = 1;
}

static void load_step(load_ctx *c, int32_t idx, size_t pos, const char **prev)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	if (N(c, d)->kind != Y_MAP) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
		                     "step #%zu must be a mapping with at least a name, not %s", pos + 1,
		                     describe(c, idx, buf, sizeof(buf)));
		if (N(c, d)->kind == Y_SCALAR && !is_null(c, d))
			hint(e, "write `- name: %s` and put the step's keys under it",
			     quote(buf, sizeof(buf), stext(c, d), N(c, d)->len, 60));
		else
			hint(e, "write each step as a mapping: `- name: build` followed by its keys");
		return;
	}
	pairs ps = map_pairs(c, d);
	int32_t name_value;
	const char *name = step_name(c, idx, &ps, pos, &name_value);
	char label[96];
	if (name && !valid_step_name(name, strlen(name))) {
		pw_error *e;
		char q[QUOTE_SIZE];
		if (strlen(name) > STEP_NAME_MAX)
			e = report(c, N(c, name_value)->line, N(c, name_value)->col,
			           "step name '%s' is too long (%zu characters, at most %d)",
			           quote(q, sizeof(q), name, strlen(name), 20), strlen(name), STEP_NAME_MAX);
		else
			e = report(c, N(c, name_value)->line, N(c, name_value)->col, "invalid step name '%s'",
			           quote(q, sizeof(q), name, strlen(name), 80));
		hint(e,
		     "a step name starts with a letter or digit and contains only letters, digits, '_', '.' "
		     "and '-' "
		     "(at most %d characters)",
		     STEP_NAME_MAX);
	}
	char num[24];
	if (name && valid_step_name(name, strlen(name))) {
		join3(label, sizeof(label), "step '", name, "'");
	} else {
		pw__u64_text(num, pos + 1);
		join3(label, sizeof(label), "step #", num, "");
	}
	pw_step *s;
	if (pw_step_new(&s, name ? name : "", NULL) < 0 ||
	    pw__step_set_location(s, c->file, N(c, idx)->line, N(c, idx)->col) < 0) {
		if (s)
			pw_step_free(s);
		free(ps.v);
		c->oom = 1;
		return;
	}
	char where[128], owner[128];
	join3(where, sizeof(where), " in ", label, "");
	join3(owner, sizeof(owner), " of ", label, "");
	int32_t cmd = -1, cfg = -1;
	for (size_t i = 0; i < ps.n && !c->oom && !c->fatal; i++) {
		const pair *p = &ps.v[i];
		const char *k = p->text;
		path_reset(c, k);
		if (!strcmp(k, "name")) {
			record_loc(c, s, p->value);
		} else if (!strcmp(k, "step_type")) {
			record_loc(c, s, p->value);
			if (is_null(c, p->value))
				continue;
			char what[128];
			join3(what, sizeof(what), "step_type of ", label, "");
			const char *t =
			    want_text(c, p->value, what, "write a connector type, e.g. `step_type: docker`");
			if (t) {
				s->type = strdup(t);
				c->oom |= !s->type;
			}
		} else if (!strcmp(k, "command")) {
			cmd = p->value;
		} else if (!strcmp(k, "needs")) {
			load_needs(c, s, p->value, label);
		} else if (!strcmp(k, "timeout")) {
			record_loc(c, s, p->value);
			load_timeout(c, s, p->value, label);
		} else if (!strcmp(k, "retries")) {
			record_loc(c, s, p->value);
			load_retries(c, s, p->value, label);
		} else if (!strcmp(k, "when")) {
			record_loc(c, s, p->value);
			load_when(c, s, p->value, label);
		} else if (!strcmp(k, "allow_failure")) {
			record_loc(c, s, p->value);
			load_allow_failure(c, s, p->value, label);
		} else if (!strcmp(k, "env")) {
			load_env(c, p->value, s->env, s, owner);
		} else if (!strcmp(k, "config")) {
			cfg = p->value;
		} else {
			unknown_key(c, p, where, step_keys, COUNT(step_keys));
		}
	}
	free(ps.v);

	json_t *conf = NULL;
	if (cfg >= 0) {
		int32_t cd = deref(c, cfg);
		path_reset(c, "config");
		if (N(c, cd)->kind == Y_MAP) {
			conf = to_json(c, cfg, s);
		} else {
			record_loc(c, s, cfg);
			if (!is_null(c, cd)) {
				pw_error *e = report(c, N(c, cfg)->line, N(c, cfg)->col,
				                     "config of %s must be a mapping, not %s", label,
				                     describe(c, cfg, buf, sizeof(buf)));
				hint(e, "write `config:` followed by indented `key: value` lines");
			}
		}
	}
	if (!conf) {
		conf = json_object();
		c->oom |= !conf;
	}
	if (conf && cmd >= 0)
		move_command(c, s, conf, cmd, label);
	if (conf)
		pw__step_set_config(s, conf);

	if (!s->needs_explicit && *prev) {
		if (pw_step_add_need(s, *prev) < 0)
			c->oom = 1;
		s->needs_explicit = 0;
	}
	if (!name || add_step(c, s, N(c, idx)->kind == Y_ALIAS) < 0) {
		pw_step_free(s);
		return;
	}
	*prev = s->name;
}

/* The part of an output variable a step's name gives: PIPEWRIGHT_STEP_<STEP>_<KEY> has the
 * name in upper case, other characters as '_' (run.c). */
static void output_prefix(char *out, size_t size, const char *name)
{
	size_t n = 0;
	for (; *name && n + 1 < size; name++)
		out[n++] = isalnum((unsigned char)*name) ? (char)toupper((unsigned char)*name) : '_';
	out[n] = '\0';
}

typedef struct prefix_at {
	char prefix[STEP_NAME_MAX + 1];
	size_t idx;
} prefix_at;

static int prefix_at_cmp(const void *a, const void *b)
{
	const prefix_at *x = a, *y = b;
	int r = strcmp(x->prefix, y->prefix);
	return r ? r : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Different step names that give the same output variables (`a-b` and `a_b`, `A` and `a`):
 * a step needing both would see one step's outputs only. Exact duplicates are reported
 * before. */
static void check_output_prefixes(load_ctx *c, const char **names)
{
	pw_pipeline *p = c->p;
	size_t n = p->steps_count;
	prefix_at *v = malloc((n ? n : 1) * sizeof(prefix_at));
	if (!v) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		output_prefix(v[i].prefix, sizeof(v[i].prefix), names[i]);
		v[i].idx = i;
	}
	qsort(v, n, sizeof(prefix_at), prefix_at_cmp);
	size_t *first_of = malloc((n ? n : 1) * sizeof(size_t)); /* reported in file order */
	if (!first_of) {
		free(v);
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++)
		first_of[i] = SIZE_MAX;
	for (size_t i = 1, g = 0; i < n; i++) {
		if (strcmp(v[i].prefix, v[g].prefix) != 0)
			g = i;
		else
			first_of[v[i].idx] = v[g].idx;
	}
	for (size_t i = 0; i < n; i++) {
		if (first_of[i] == SIZE_MAX)
			continue;
		const pw_step *first = p->steps[first_of[i]], *s = p->steps[i];
		if (strcmp(first->name, s->name) == 0 || !valid_step_name(s->name, strlen(s->name)))
			continue;
		char prefix[STEP_NAME_MAX + 1];
		output_prefix(prefix, sizeof(prefix), s->name);
		const pw_loc *l = c->step_alias[i] ? NULL : pw__step_find_loc(s, "name");
		pw_error *e = report(c, l ? l->line : s->line, l ? l->column : s->column,
		                     "step name '%s' gives the same output variables as step '%s' (line "
		                     "%d): both are PIPEWRIGHT_STEP_%s_<KEY>",
		                     s->name, first->name, first->line, prefix);
		hint(e, "rename one of the steps: in output variables a name is written in upper case, "
		        "with characters other than letters and digits as '_'");
	}
	free(first_of);
	free(v);
}

static void load_steps(load_ctx *c, int32_t idx)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	if (is_null(c, d) || (N(c, d)->kind == Y_SEQ && N(c, d)->count == 0)) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "the pipeline has no steps");
		hint(e, "list at least one step under `steps:`, e.g. `- name: build` with `command: make`");
		return;
	}
	if (N(c, d)->kind != Y_SEQ) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "steps must be a list, not %s",
		                     describe(c, idx, buf, sizeof(buf)));
		hint(e, "write each step as a list item starting with `- name: ...`");
		return;
	}
	const char *prev = NULL;
	size_t pos = 0;
	for (int32_t k = N(c, d)->first; k >= 0 && !c->oom && !c->fatal; k = N(c, k)->next, pos++)
		load_step(c, k, pos, &prev);

	pw_pipeline *p = c->p;
	const char **names = malloc((p->steps_count ? p->steps_count : 1) * sizeof(char *));
	if (!names) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < p->steps_count; i++)
		names[i] = p->steps[i]->name;
	size_t *first_of = find_dups(c, names, p->steps_count);
	for (size_t i = 0; first_of && i < p->steps_count; i++) {
		if (first_of[i] == SIZE_MAX)
			continue;
		const pw_step *s = p->steps[i];
		/* a step written as an alias repeats its original: located at the alias */
		const pw_loc *l = c->step_alias[i] ? NULL : pw__step_find_loc(s, "name");
		char q[QUOTE_SIZE];
		pw_error *e =
		    report(c, l ? l->line : s->line, l ? l->column : s->column,
		           "duplicate step name '%s' (first defined on line %d)",
		           quote(q, sizeof(q), s->name, strlen(s->name), 60), p->steps[first_of[i]]->line);
		hint(e, c->step_alias[i] ? "step names must be unique; to reuse a step's keys, merge "
		                           "them into a new step: `- <<: *anchor` then `name: other`"
		                         : "step names must be unique; rename one of them");
	}
	free(first_of);
	check_output_prefixes(c, names);
	free(names);
}

static void load_secrets(load_ctx *c, int32_t idx)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	if (is_null(c, d))
		return;
	if (N(c, d)->kind != Y_SEQ) {
		pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
		                     "secrets must be a list of environment variable names, not %s",
		                     describe(c, idx, buf, sizeof(buf)));
		hint(e, "write `secrets: [GITHUB_TOKEN, NPM_TOKEN]`");
		return;
	}
	pw_pipeline *p = c->p;
	p->secrets = calloc((size_t)N(c, d)->count + 1, sizeof(pw_secret_ref));
	if (!p->secrets) {
		c->oom = 1;
		return;
	}
	for (int32_t k = N(c, d)->first; k >= 0 && !c->oom; k = N(c, k)->next) {
		const char *name =
		    want_text(c, k, "each entry of secrets", "list environment variable names");
		if (!name)
			continue;
		if (!valid_env_name(name, strlen(name))) {
			char q[QUOTE_SIZE];
			pw_error *e = report(c, N(c, k)->line, N(c, k)->col, "invalid secret name '%s'",
			                     quote(q, sizeof(q), name, strlen(name), 60));
			hint(e, "a secret names a host environment variable: a letter or '_', then letters, "
			        "digits and '_'");
			continue;
		}
		pw_secret_ref *r = &p->secrets[p->secrets_count];
		r->name = strdup(name);
		if (!r->name) {
			c->oom = 1;
			return;
		}
		r->line = N(c, k)->line;
		r->column = N(c, k)->col;
		p->secrets_count++;
	}
	const char **names = malloc((p->secrets_count + 1) * sizeof(char *));
	if (!names) {
		c->oom = 1;
		return;
	}
	for (size_t i = 0; i < p->secrets_count; i++)
		names[i] = p->secrets[i].name;
	size_t *first_of = find_dups(c, names, p->secrets_count);
	for (size_t i = 0; first_of && i < p->secrets_count; i++) {
		if (first_of[i] == SIZE_MAX)
			continue;
		pw_error *e = report(c, p->secrets[i].line, p->secrets[i].column,
		                     "secret '%s' is listed twice (first on line %d)", p->secrets[i].name,
		                     p->secrets[first_of[i]].line);
		hint(e, "remove the second '%s'", p->secrets[i].name);
	}
	free(first_of);
	free(names);
}

static void load_version(load_ctx *c, int32_t idx)
{
	int32_t d = deref(c, idx);
	char buf[DESC_SIZE];
	if (N(c, d)->kind == Y_SCALAR) {
		sval v;
		scalar_value(c, d, &v);
		if (v.type == SV_INT && v.i == 1) {
			c->p->version = 1;
			return;
		}
		if (v.type == SV_INT) {
			pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col,
			                     "unsupported pipeline version %lld", v.i);
			hint(e, "this pipewright reads version 1 files: write `version: 1`");
			return;
		}
	}
	pw_error *e = report(c, N(c, idx)->line, N(c, idx)->col, "version must be the number 1, not %s",
	                     describe(c, idx, buf, sizeof(buf)));
	hint(e, "write `version: 1` (a number, without quotes)");
}

static const char *const report_keys[] = {"junit", "json", "html"};
static const char *const hooks_keys[] = {"mongodb"};
static const char *const mongodb_keys[] = {"uri", "database", "collection", "required"};

/* reports: each known format names a file. */
static void check_reports(load_ctx *c, int32_t map)
{
	pairs ps = map_pairs(c, map);
	for (size_t i = 0; i < ps.n && !c->oom; i++) {
		const pair *q = &ps.v[i];
		if (!strcmp(q->text, "junit") || !strcmp(q->text, "json") || !strcmp(q->text, "html")) {
			char what[64], fix[96];
			snprintf(what, sizeof(what), "reports: %s", q->text);
			snprintf(fix, sizeof(fix), "give a file path, for example `%s: reports/run.%s`",
			         q->text, !strcmp(q->text, "junit") ? "xml" : q->text);
			const char *t = want_text(c, q->value, what, fix);
			if (t && !*t) {
				pw_error *e = report(c, N(c, q->value)->line, N(c, q->value)->col,
				                     "%s must be a file path, not empty text", what);
				hint(e, "%s", fix);
			}
		} else {
			unknown_key(c, q, " in reports", report_keys, COUNT(report_keys));
		}
	}
	free(ps.v);
}

/* hooks: { mongodb: { uri, database, collection, required } } */
static void check_hooks(load_ctx *c, int32_t map)
{
	pairs ps = map_pairs(c, map);
	char buf[DESC_SIZE];
	for (size_t i = 0; i < ps.n && !c->oom; i++) {
		const pair *q = &ps.v[i];
		if (strcmp(q->text, "mongodb") != 0) {
			unknown_key(c, q, " in hooks", hooks_keys, COUNT(hooks_keys));
			continue;
		}
		int32_t d = deref(c, q->value);
		if (N(c, d)->kind != Y_MAP) {
			pw_error *e = report(c, N(c, q->value)->line, N(c, q->value)->col,
			                     "hooks: mongodb must be a mapping, not %s",
			                     describe(c, q->value, buf, sizeof(buf)));
			hint(e, "write `mongodb:` followed by `uri: mongodb://host:27017/db`");
			continue;
		}
		pairs ms = map_pairs(c, d);
		int have_uri = 0;
		for (size_t k = 0; k < ms.n && !c->oom; k++) {
			const pair *m = &ms.v[k];
			if (!strcmp(m->text, "uri")) {
				have_uri = 1;
				const char *t = want_text(c, m->value, "hooks: mongodb: uri",
				                          "write `uri: mongodb://host:27017/database`");
				if (t && strncmp(t, "mongodb://", 10) != 0 &&
				    strncmp(t, "mongodb+srv://", 14) != 0) {
					pw_error *e =
					    report(c, N(c, m->value)->line, N(c, m->value)->col,
					           "hooks: mongodb: uri must start with mongodb:// or "
					           "mongodb+srv://");
					hint(e, "write `uri: mongodb://host:27017/database`");
				}
			} else if (!strcmp(m->text, "database") || !strcmp(m->text, "collection")) {
				char what[64];
				snprintf(what, sizeof(what), "hooks: mongodb: %s", m->text);
				want_text(c, m->value, what, "write a plain name, e.g. `pipewright`");
			} else if (!strcmp(m->text, "required")) {
				sval v;
				scalar_value(c, deref(c, m->value), &v);
				if (v.type != SV_BOOL) {
					pw_error *e =
					    report(c, N(c, m->value)->line, N(c, m->value)->col,
					           "hooks: mongodb: required must be true or false, not %s",
					           describe(c, m->value, buf, sizeof(buf)));
					if (quoted_lookalike(c, deref(c, m->value)))
						hint(e, "remove the quotes: `required: %s`",
						     stext(c, deref(c, m->value)));
					else
						hint(e,
						     "`required: true` fails a step when its events cannot "
						     "be written");
				}
			} else {
				unknown_key(c, m, " in hooks: mongodb", mongodb_keys, COUNT(mongodb_keys));
			}
		}
		free(ms.v);
		if (!have_uri) {
			pw_error *e =
			    report(c, N(c, q->key)->line, N(c, q->key)->col, "hooks: mongodb has no uri");
			hint(e, "add `uri: mongodb://host:27017/database`");
		}
	}
	free(ps.v);
}

/* hooks, reports: a mapping, checked here (so that validate places every mistake), then kept as
 * JSON for the modules that interpret it. */
static void load_section(load_ctx *c, const pair *p)
{
	int32_t d = deref(c, p->value);
	char buf[DESC_SIZE];
	if (is_null(c, d))
		return;
	if (N(c, d)->kind != Y_MAP) {
		pw_error *e =
		    report(c, N(c, p->value)->line, N(c, p->value)->col, "%s must be a mapping, not %s",
		           p->text, describe(c, p->value, buf, sizeof(buf)));
		hint(e, "write `%s:` followed by indented `key: value` lines", p->text);
		return;
	}
	if (!strcmp(p->text, "reports"))
		check_reports(c, d);
	else
		check_hooks(c, d);
	if (!c->p->sections)
		c->p->sections = json_object();
	if (!c->p->sections) {
		c->oom = 1;
		return;
	}
	json_t *v = to_json(c, p->value, NULL);
	if (v && json_object_set_new(c->p->sections, p->text, v) < 0)
		c->oom = 1;
}

static void load_top(load_ctx *c)
{
	if (c->root < 0 || is_null(c, c->root)) {
		pw_error *e = report(c, 1, 1, "the pipeline file is empty");
		hint(e, "a pipeline needs at least `version: 1` and a `steps:` list");
		return;
	}
	int32_t d = deref(c, c->root);
	char buf[DESC_SIZE];
	if (N(c, d)->kind != Y_MAP) {
		pw_error *e = report(c, N(c, c->root)->line, N(c, c->root)->col,
		                     "the top level of a pipeline file must be a mapping, not %s",
		                     describe(c, c->root, buf, sizeof(buf)));
		hint(e,
		     "start the file with `version: 1`, then `steps:` and the other keys, each at column 1");
		return;
	}
	pairs ps = map_pairs(c, d);
	int have_version = 0, have_steps = 0;
	for (size_t i = 0; i < ps.n && !c->oom && !c->fatal; i++) {
		const pair *p = &ps.v[i];
		const char *k = p->text;
		if (!strcmp(k, "version")) {
			have_version = 1;
			load_version(c, p->value);
		} else if (!strcmp(k, "name")) {
			if (is_null(c, p->value))
				continue;
			const char *t = want_text(c, p->value, "name", "write `name: my-pipeline`");
			if (t) {
				c->p->name = strdup(t);
				c->oom |= !c->p->name;
			}
		} else if (!strcmp(k, "env")) {
			load_env(c, p->value, c->p->env, NULL, "");
		} else if (!strcmp(k, "secrets")) {
			load_secrets(c, p->value);
		} else if (!strcmp(k, "hooks") || !strcmp(k, "reports")) {
			load_section(c, p);
		} else if (!strcmp(k, "steps")) {
			have_steps = 1;
			load_steps(c, p->value);
		} else {
			unknown_key(c, p, " at the top level", top_keys, COUNT(top_keys));
		}
	}
	free(ps.v);
	if (!have_version) {
		pw_error *e =
		    report(c, N(c, c->root)->line, N(c, c->root)->col, "the pipeline has no version");
		hint(e, "add `version: 1` as the first line");
	}
	if (!have_steps) {
		pw_error *e = report(c, N(c, c->root)->line, N(c, c->root)->col, "the pipeline has no steps");
		hint(e, "add a `steps:` list, e.g. `- name: build` with `command: make`");
	}
	if (c->p->steps_count && !c->oom && !c->fatal && c->n_errors < LOAD_MAX_ERRORS) {
		int n = pw__pipeline_check_needs(c->p, LOAD_MAX_ERRORS - c->n_errors, &c->errors);
		if (n < 0)
			c->oom = 1;
		else
			c->n_errors += (size_t)n;
	}
}

/* ---- entry points ----------------------------------------------------------------- */

/* The absolute directory of `path` (symlinks resolved when it exists). */
static char *abs_dir(const char *path)
{
	pw_buf dir = PW_BUF_INIT(0);
	const char *slash = strrchr(path, '/');
	if (!slash)
		pw__buf_puts(&dir, ".");
	else if (slash == path)
		pw__buf_puts(&dir, "/");
	else
		pw__buf_append(&dir, path, (size_t)(slash - path));
	char real[PATH_MAX];
	if (realpath(pw__buf_cstr(&dir), real)) {
		pw__buf_dispose(&dir);
		return strdup(real);
	}
	if (dir.data && dir.data[0] == '/')
		return pw__buf_detach(&dir);
	char cwd[PATH_MAX];
	pw_buf out = PW_BUF_INIT(0);
	if (getcwd(cwd, sizeof(cwd)))
		pw__buf_puts(&out, cwd);
	if (strcmp(pw__buf_cstr(&dir), ".") != 0)
		pw__buf_printf(&out, "/%s", pw__buf_cstr(&dir));
	pw__buf_dispose(&dir);
	return pw__buf_detach(&out);
}

static void hand_over(pw_error **err, pw_error *chain)
{
	if (!err) {
		pw_error_free(chain);
		return;
	}
	if (*err)
		pw_error_append(*err, chain);
	else
		*err = chain;
}

int pw_pipeline_load_string(pw_pipeline **out, const char *yaml, size_t len, const char *filename,
                            pw_error **err)
{
	*out = NULL;
	const char *file = filename ? filename : "<string>";
	if (!yaml)
		return pw_error_set(err, PW_EINVAL, "no pipeline text given");
	if (len > LOAD_MAX_FILE) {
		pw_error *e = pw_error_new(PW_EPIPELINE, "the pipeline file is larger than %zu MiB",
		                           LOAD_MAX_FILE >> 20);
		pw_error_set_location(e, file, 0, 0);
		pw_error_set_hint(e, "a pipeline file holds steps, not data: keep it under 16 MiB");
		hand_over(err, e);
		return PW_EPIPELINE;
	}
	load_ctx c;
	memset(&c, 0, sizeof(c));
	c.file = file;
	c.input = yaml;
	c.input_len = len;
	c.root = -1;
	c.text.max = 0;
	c.path.max = 1 << 16;
	c.p = calloc(1, sizeof(pw_pipeline));
	if (!c.p || pw__buf_putc(&c.text, '\0') < 0)
		goto oom;
	c.p->path = strdup(file);
	c.p->dir = abs_dir(file);
	c.p->env = pw_map_new();
	if (!c.p->path || !c.p->dir || !c.p->env)
		goto oom;

	build_tree(&c);
	if (!c.oom && !c.stop)
		load_top(&c);
	if (c.oom)
		goto oom;

	free(c.nodes);
	free(c.anchors);
	free(c.step_alias);
	pw__buf_dispose(&c.text);
	pw__buf_dispose(&c.path);
	if (c.errors) {
		pw__pipeline_mask_errors(c.p, c.errors);
		pw_pipeline_free(c.p);
		hand_over(err, c.errors);
		return PW_EPIPELINE;
	}
	*out = c.p;
	return 0;
oom:
	free(c.nodes);
	free(c.anchors);
	free(c.step_alias);
	pw__buf_dispose(&c.text);
	pw__buf_dispose(&c.path);
	pw_pipeline_free(c.p);
	pw_error_free(c.errors);
	return pw_error_set(err, PW_ENOMEM, "out of memory while loading '%s'", file);
}

int pw_pipeline_load_file(pw_pipeline **out, const char *path, pw_error **err)
{
	*out = NULL;
	if (!path)
		return pw_error_set(err, PW_EINVAL, "no pipeline file given");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		int e = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : errno;
		if (fd >= 0)
			close(fd);
		int code = e == ENOENT ? PW_ENOTFOUND : PW_EIO;
		if (err && !*err) {
			pw_error_set(err, code, "cannot read pipeline file '%s': %s", path, strerror(e));
			pw_error_set_location(*err, path, 0, 0);
			pw_error_set_hint(*err, e == ENOENT ? "check the path of the pipeline file"
			                                    : "give the path of a readable pipeline file");
		}
		return code;
	}
	pw_buf data = PW_BUF_INIT(LOAD_MAX_FILE + 1);
	char chunk[65536];
	int too_big = 0, rerr = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rerr = errno;
			break;
		}
		if (n == 0)
			break;
		if (pw__buf_append(&data, chunk, (size_t)n) < 0) {
			too_big = data.len + (size_t)n > LOAD_MAX_FILE;
			if (!too_big)
				rerr = ENOMEM;
			break;
		}
	}
	close(fd);
	if (rerr) {
		pw__buf_dispose(&data);
		if (rerr == ENOMEM)
			return pw_error_set(err, PW_ENOMEM, "out of memory while reading '%s'", path);
		if (err && !*err) {
			pw_error_set(err, PW_EIO, "cannot read pipeline file '%s': %s", path, strerror(rerr));
			pw_error_set_location(*err, path, 0, 0);
		}
		return PW_EIO;
	}
	/* a file over the limit is reported by load_string from its length */
	size_t len = too_big ? LOAD_MAX_FILE + 1 : data.len;
	int rc = pw_pipeline_load_string(out, data.data ? data.data : "", len, path, err);
	pw__buf_dispose(&data);
	return rc;
}

void pw_pipeline_free(pw_pipeline *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->dir);
	free(p->name);
	pw_map_free(p->env);
	for (size_t i = 0; i < p->secrets_count; i++)
		free(p->secrets[i].name);
	free(p->secrets);
	for (size_t i = 0; i < p->steps_count; i++)
		pw_step_free(p->steps[i]);
	free(p->steps);
	json_decref(p->sections);
	free(p);
}

const char *pw_pipeline_name(const pw_pipeline *p)
{
	return p->name;
}

int pw_pipeline_version(const pw_pipeline *p)
{
	return p->version;
}

const char *pw_pipeline_path(const pw_pipeline *p)
{
	return p->path;
}

const char *pw_pipeline_dir(const pw_pipeline *p)
{
	return p->dir;
}

const pw_map *pw_pipeline_env(const pw_pipeline *p)
{
	return p->env;
}

size_t pw_pipeline_secret_count(const pw_pipeline *p)
{
	return p->secrets_count;
}

const char *pw_pipeline_secret_at(const pw_pipeline *p, size_t i)
{
	return i < p->secrets_count ? p->secrets[i].name : NULL;
}

size_t pw_pipeline_step_count(const pw_pipeline *p)
{
	return p->steps_count;
}

pw_step *pw_pipeline_step_at(const pw_pipeline *p, size_t i)
{
	return i < p->steps_count ? p->steps[i] : NULL;
}

long pw_pipeline_find_step(const pw_pipeline *p, const char *name)
{
	for (size_t i = 0; name && i < p->steps_count; i++)
		if (strcmp(p->steps[i]->name, name) == 0)
			return (long)i;
	return -1;
}
