/* The step graph checks run when a pipeline file is loaded: `needs` name defined steps, no
 * step needs itself, no dependency cycles. */
#include "pipeline/graph.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/suggest.h"

#define CYCLE_SHOWN 10 /* steps named in a cycle message before "..." */

typedef struct name_ix {
	const char *name;
	size_t idx;
} name_ix;

static int name_ix_cmp(const void *a, const void *b)
{
	const name_ix *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct gctx {
	const pw_pipeline *p;
	name_ix *ix;
	pw_error *chain;
	size_t count, max;
	int oom;
} gctx;

/* The index of the first step named `name`, or -1 (lower bound in the sorted index). */
static long find_step(const gctx *g, const char *name)
{
	size_t lo = 0, hi = g->p->steps_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(g->ix[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < g->p->steps_count && strcmp(g->ix[lo].name, name) == 0)
		return (long)g->ix[lo].idx;
	return -1;
}

/* Adds an error located at need i of step s (the step itself when that need has no
 * recorded position: the implicit need on the step before). NULL when over the limit. */
static pw_error *graph_error(gctx *g, const pw_step *s, size_t i, const char *fmt, ...) PW_PRINTF(4, 5);
static pw_error *graph_error(gctx *g, const pw_step *s, size_t i, const char *fmt, ...)
{
	if (g->count >= g->max)
		return NULL;
	char msg[2048]; /* long messages are cut, never lost */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pw_error *e = pw_error_new(PW_EPIPELINE, "%s", msg);
	if (!e) {
		g->oom = 1;
		return NULL;
	}
	char path[64];
	snprintf(path, sizeof(path), "needs.%zu", i);
	const pw_loc *l = pw__step_find_loc(s, path);
	pw_error_set_location(e, s->file, l ? l->line : s->line, l ? l->column : s->column);
	if (g->chain)
		pw_error_append(g->chain, e);
	else
		g->chain = e;
	g->count++;
	return e;
}

static void check_names(gctx *g, const char **names)
{
	const pw_pipeline *p = g->p;
	for (size_t si = 0; si < p->steps_count; si++) {
		const pw_step *s = p->steps[si];
		for (size_t i = 0; i < s->needs_count; i++) {
			const char *need = s->needs[i];
			if (strcmp(need, s->name) == 0) {
				/* an implicit need on the step before names this step only when two
				 * steps share a name, which the loader reports */
				if (!s->needs_explicit)
					continue;
				pw_error *e = graph_error(g, s, i, "step '%s' needs itself", s->name);
				pw_error_set_hint(e, "remove the step's own name from its `needs`");
				continue;
			}
			if (find_step(g, need) >= 0)
				continue;
			char q[640];
			pw_error *e =
			    graph_error(g, s, i, "step '%s' needs '%s', which is not defined", s->name,
			                pw__text_escaped(q, sizeof(q), need, strlen(need), 100));
			if (!e)
				continue;
			const char *near = pw__suggest_n(need, names, p->steps_count);
			pw_buf h = PW_BUF_INIT(4096);
			if (near) {
				pw__buf_printf(&h, "did you mean '%.63s'?", near);
			} else {
				pw__buf_puts(&h,
				             "`needs` lists names of steps in this file; defined steps: ");
				for (size_t k = 0; k < p->steps_count && k < 10; k++)
					pw__buf_printf(&h, "%s%.63s", k ? ", " : "", names[k]);
				if (p->steps_count > 10)
					pw__buf_puts(&h, ", ...");
			}
			pw_error_set_hint(e, pw__buf_cstr(&h));
			pw__buf_dispose(&h);
		}
	}
}

/* Reports the cycle stack[from..top] closed by the edge top -> stack[from]. */
static void report_cycle(gctx *g, const size_t *stack, size_t from, size_t top)
{
	const pw_pipeline *p = g->p;
	size_t len = top - from + 1, start = from;
	int implicit = 0;
	for (size_t k = from; k <= top; k++) {
		if (stack[k] < stack[start])
			start = k;
		if (!p->steps[stack[k]]->needs_explicit)
			implicit = 1;
	}
	/* long cycles list their first steps, then the last one closing the cycle */
	pw_buf msg = PW_BUF_INIT(0);
	pw__buf_puts(&msg, "dependency cycle: ");
	for (size_t k = 0; k <= len; k++) {
		if (k == CYCLE_SHOWN && len > CYCLE_SHOWN + 1) {
			pw__buf_printf(&msg, " -> ... (%zu steps)", len - CYCLE_SHOWN - 1);
			k = len - 1;
		}
		size_t at = from + (start - from + k) % len;
		pw__buf_printf(&msg, "%s%s", k ? " -> " : "", p->steps[stack[at]]->name);
	}
	/* locate at the first step's need naming the next step of the cycle */
	const pw_step *s = p->steps[stack[start]];
	const char *next = p->steps[stack[start == top ? from : start + 1]]->name;
	size_t need = 0;
	for (size_t i = 0; i < s->needs_count; i++) {
		if (strcmp(s->needs[i], next) == 0) {
			need = i;
			break;
		}
	}
	pw_error *e = graph_error(g, s, need, "%s", pw__buf_cstr(&msg));
	pw__buf_dispose(&msg);
	pw_error_set_hint(
	    e, implicit ? "each step waits for the next one in the cycle; remove one of these needs "
	                  "(a step without `needs:` waits for the step before it; `needs: []` "
	                  "waits for none)"
	                : "each step waits for the next one in the cycle; remove one of these needs");
}

/* Iterative depth-first search; every back edge closes one reported cycle. */
static void check_cycles(gctx *g)
{
	const pw_pipeline *p = g->p;
	size_t n = p->steps_count;
	unsigned char *color = calloc(n ? n : 1, 1);
	size_t *stack = malloc((n ? n : 1) * sizeof(size_t));
	size_t *edge = malloc((n ? n : 1) * sizeof(size_t));
	if (!color || !stack || !edge) {
		g->oom = 1;
		goto done;
	}
	for (size_t root = 0; root < n; root++) {
		if (color[root])
			continue;
		size_t top = 0;
		stack[0] = root;
		edge[0] = 0;
		color[root] = 1;
		for (;;) {
			size_t u = stack[top];
			const pw_step *s = p->steps[u];
			if (edge[top] >= s->needs_count) {
				color[u] = 2;
				if (top == 0)
					break;
				top--;
				continue;
			}
			long v = find_step(g, s->needs[edge[top]++]);
			if (v < 0 || (size_t)v == u)
				continue; /* reported by check_names */
			if (color[v] == 1) {
				size_t from = top;
				while (stack[from] != (size_t)v)
					from--;
				report_cycle(g, stack, from, top);
			} else if (color[v] == 0) {
				color[v] = 1;
				stack[++top] = (size_t)v;
				edge[top] = 0;
			}
		}
	}
done:
	free(color);
	free(stack);
	free(edge);
}

int pw__pipeline_check_needs(const pw_pipeline *p, size_t max_errors, pw_error **chain)
{
	gctx g = {p, NULL, NULL, 0, max_errors, 0};
	size_t n = p->steps_count;
	const char **names = malloc((n ? n : 1) * sizeof(char *));
	g.ix = malloc((n ? n : 1) * sizeof(name_ix));
	if (!names || !g.ix) {
		free(names);
		free(g.ix);
		return PW_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		names[i] = p->steps[i]->name;
		g.ix[i].name = p->steps[i]->name;
		g.ix[i].idx = i;
	}
	qsort(g.ix, n, sizeof(name_ix), name_ix_cmp);
	check_names(&g, names);
	if (!g.oom)
		check_cycles(&g);
	free(names);
	free(g.ix);
	if (g.oom) {
		pw_error_free(g.chain);
		return PW_ENOMEM;
	}
	if (g.chain) {
		if (*chain)
			pw_error_append(*chain, g.chain);
		else
			*chain = g.chain;
	}
	return (int)g.count;
}
