/* Steps and workspaces. */
#include "core/step.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipewright/error.h"

struct pw_workspace {
	char *root;
	char *run_id;
	char *run_dir;
};

int pw_step_new(pw_step **out, const char *name, const char *step_type)
{
	*out = NULL;
	if (!name)
		return PW_EINVAL;
	pw_step *s = calloc(1, sizeof(*s));
	if (!s)
		return PW_ENOMEM;
	pthread_mutex_init(&s->cache_lock, NULL);
	s->name = strdup(name);
	s->type = step_type ? strdup(step_type) : NULL;
	s->env = pw_map_new();
	s->config = json_object();
	s->timeout = PW_DEFAULT_TIMEOUT_SECONDS;
	if (!s->name || (step_type && !s->type) || !s->env || !s->config) {
		pw_step_free(s);
		return PW_ENOMEM;
	}
	*out = s;
	return 0;
}

void pw_step_free(pw_step *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->type);
	for (size_t i = 0; i < s->needs_count; i++)
		free(s->needs[i]);
	free(s->needs);
	pw_map_free(s->env);
	json_decref(s->config);
	free(s->file);
	for (size_t i = 0; i < s->locs_count; i++)
		free(s->locs[i].path);
	free(s->locs);
	free(s->config_text);
	for (size_t i = 0; i < s->rendered_count; i++)
		free(s->rendered[i]);
	free(s->rendered);
	pthread_mutex_destroy(&s->cache_lock);
	free(s);
}

static void invalidate_cache(pw_step *s)
{
	free(s->config_text);
	s->config_text = NULL;
	__atomic_store_n(&s->inferred_type, NULL, __ATOMIC_RELEASE);
}

const char *pw__step_inferred_type(const pw_step *s)
{
	return __atomic_load_n(&s->inferred_type, __ATOMIC_ACQUIRE);
}

void pw__step_set_inferred_type(const pw_step *cs, const char *type)
{
	pw_step *s = (pw_step *)cs; /* a cache, as config_text */
	__atomic_store_n(&s->inferred_type, type, __ATOMIC_RELEASE);
}

void pw__step_set_config(pw_step *s, json_t *config)
{
	json_decref(s->config);
	s->config = config;
	invalidate_cache(s);
}

int pw_step_set_config_json(pw_step *s, const char *json, pw_error **err)
{
	json_error_t jerr;
	json_t *v = json_loads(json ? json : "{}", 0, &jerr);
	if (!v)
		return pw_error_set(err, PW_EINVAL,
		                    "step '%s': config is not valid JSON: %s (line %d, column %d)", s->name,
		                    jerr.text, jerr.line, jerr.column);
	if (!json_is_object(v)) {
		json_decref(v);
		return pw_error_set(err, PW_EINVAL, "step '%s': config must be a JSON object", s->name);
	}
	pw__step_set_config(s, v);
	return 0;
}

int pw_step_set_timeout(pw_step *s, double seconds)
{
	if (!(seconds > 0))
		return PW_EINVAL;
	s->timeout = seconds;
	return 0;
}

int pw_step_set_retries(pw_step *s, unsigned int retries)
{
	s->retries = retries;
	return 0;
}

int pw_step_set_when(pw_step *s, pw_when when)
{
	if (when != PW_WHEN_ON_SUCCESS && when != PW_WHEN_ON_FAILURE && when != PW_WHEN_ALWAYS)
		return PW_EINVAL;
	s->when = when;
	return 0;
}

int pw_step_set_allow_failure(pw_step *s, int allow)
{
	s->allow_failure = allow != 0;
	return 0;
}

int pw_step_add_need(pw_step *s, const char *name)
{
	if (!name)
		return PW_EINVAL;
	if (s->needs_count == s->needs_cap) {
		size_t ncap = s->needs_cap ? s->needs_cap * 2 : 4;
		char **n = realloc(s->needs, ncap * sizeof(char *));
		if (!n)
			return PW_ENOMEM;
		s->needs = n;
		s->needs_cap = ncap;
	}
	s->needs[s->needs_count] = strdup(name);
	if (!s->needs[s->needs_count])
		return PW_ENOMEM;
	s->needs_count++;
	s->needs_explicit = 1;
	return 0;
}

pw_map *pw_step_env(pw_step *s)
{
	return s->env;
}

const char *pw_step_name(const pw_step *s)
{
	return s->name;
}

const char *pw_step_type(const pw_step *s)
{
	return s->type;
}

double pw_step_timeout(const pw_step *s)
{
	return s->timeout;
}

unsigned int pw_step_retries(const pw_step *s)
{
	return s->retries;
}

pw_when pw_step_when(const pw_step *s)
{
	return s->when;
}

int pw_step_allow_failure(const pw_step *s)
{
	return s->allow_failure;
}

size_t pw_step_needs_count(const pw_step *s)
{
	return s->needs_count;
}

const char *pw_step_need_at(const pw_step *s, size_t i)
{
	return i < s->needs_count ? s->needs[i] : NULL;
}

const pw_map *pw_step_env_const(const pw_step *s)
{
	return s->env;
}

const char *pw_step_file(const pw_step *s)
{
	return s->file;
}

int pw_step_line(const pw_step *s)
{
	return s->line;
}

int pw_step_column(const pw_step *s)
{
	return s->column;
}

int pw__step_set_location(pw_step *s, const char *file, int line, int column)
{
	free(s->file);
	s->file = file ? strdup(file) : NULL;
	s->line = line;
	s->column = column;
	return file && !s->file ? PW_ENOMEM : 0;
}

int pw__step_add_loc(pw_step *s, const char *path, int line, int column)
{
	if (s->locs_count == s->locs_cap) {
		size_t ncap = s->locs_cap ? s->locs_cap * 2 : 16;
		pw_loc *n = realloc(s->locs, ncap * sizeof(pw_loc));
		if (!n)
			return PW_ENOMEM;
		s->locs = n;
		s->locs_cap = ncap;
	}
	char *p = strdup(path);
	if (!p)
		return PW_ENOMEM;
	s->locs[s->locs_count].path = p;
	s->locs[s->locs_count].line = line;
	s->locs[s->locs_count].column = column;
	s->locs_count++;
	return 0;
}

const pw_loc *pw__step_find_loc(const pw_step *s, const char *path)
{
	for (size_t i = 0; i < s->locs_count; i++)
		if (strcmp(s->locs[i].path, path) == 0)
			return &s->locs[i];
	return NULL;
}

json_t *pw__step_config_get(const pw_step *s, const char *path)
{
	json_t *cur = s->config;
	const char *p = path;
	char seg[256];
	while (cur && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, seg);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx = strtoul(seg, &end, 10);
			cur = (*seg && !*end) ? json_array_get(cur, idx) : NULL;
		} else {
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

static const char *remember(pw_step *s, char *text)
{
	char **n = realloc(s->rendered, (s->rendered_count + 1) * sizeof(char *));
	if (!n) {
		free(text);
		return NULL;
	}
	s->rendered = n;
	s->rendered[s->rendered_count++] = text;
	return text;
}

const char *pw_step_config_json(const pw_step *cs)
{
	pw_step *s = (pw_step *)cs;
	pthread_mutex_lock(&s->cache_lock);
	if (!s->config_text)
		s->config_text = json_dumps(s->config, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *t = s->config_text ? s->config_text : "{}";
	pthread_mutex_unlock(&s->cache_lock);
	return t;
}

const char *pw_step_config_string(const pw_step *cs, const char *path)
{
	pw_step *s = (pw_step *)cs;
	json_t *v = pw__step_config_get(s, path);
	if (!v)
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	char buf[64];
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		pw__real_text(buf, sizeof(buf), json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, sizeof(buf), "true");
	else if (json_is_false(v))
		snprintf(buf, sizeof(buf), "false");
	else
		return NULL;
	pthread_mutex_lock(&s->cache_lock);
	const char *r = remember(s, strdup(buf));
	pthread_mutex_unlock(&s->cache_lock);
	return r;
}

int pw_step_config_has(const pw_step *s, const char *path)
{
	return pw__step_config_get(s, path) != NULL;
}

int pw_step_config_location(const pw_step *s, const char *path, int *line, int *column)
{
	char full[512];
	snprintf(full, sizeof(full), "config.%s", path);
	const pw_loc *l = pw__step_find_loc(s, full);
	if (!l)
		return PW_ENOTFOUND;
	if (line)
		*line = l->line;
	if (column)
		*column = l->column;
	return 0;
}

void pw__step_locate_error(const pw_step *s, pw_error *e)
{
	if (!s || !e || !s->file || pw_error_file(e))
		return;
	int line = s->line, col = s->column;
	const char *key = pw_error_key(e);
	if (key) {
		/* the nearest recorded ancestor of the key path */
		char path[512];
		snprintf(path, sizeof(path), "%s", key);
		for (;;) {
			if (pw_step_config_location(s, path, &line, &col) == 0)
				break;
			char *dot = strrchr(path, '.');
			if (!dot) {
				const pw_loc *l = pw__step_find_loc(s, "config");
				if (l) {
					line = l->line;
					col = l->column;
				}
				break;
			}
			*dot = '\0';
		}
	}
	pw_error_set_location(e, s->file, line, col);
}

/* Workspaces */

int pw_workspace_new(pw_workspace **out, const char *root, const char *run_id, const char *run_dir,
                     pw_error **err)
{
	*out = NULL;
	char abs[PATH_MAX];
	if (!realpath(root ? root : ".", abs))
		return pw_error_set(err, PW_EIO, "workspace '%s' cannot be used: %s", root ? root : ".",
		                    strerror(errno));
	struct stat st;
	if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode))
		return pw_error_set(err, PW_EINVAL, "workspace '%s' is not a directory", abs);
	pw_workspace *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return PW_ENOMEM;
	ws->root = strdup(abs);
	ws->run_id = strdup(run_id ? run_id : "");
	ws->run_dir = run_dir ? strdup(run_dir) : NULL;
	if (!ws->root || !ws->run_id || (run_dir && !ws->run_dir)) {
		pw_workspace_free(ws);
		return PW_ENOMEM;
	}
	*out = ws;
	return 0;
}

void pw_workspace_free(pw_workspace *ws)
{
	if (!ws)
		return;
	free(ws->root);
	free(ws->run_id);
	free(ws->run_dir);
	free(ws);
}

const char *pw_workspace_root(const pw_workspace *ws)
{
	return ws->root;
}

const char *pw_workspace_run_id(const pw_workspace *ws)
{
	return ws->run_id;
}

const char *pw_workspace_run_dir(const pw_workspace *ws)
{
	return ws->run_dir;
}

static int all_digits(const char *s, const char *set)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

int pw__yaml_int(const char *s, long long *out)
{
	int base = 10;
	const char *digits = s;
	if (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, "01234567")) {
		base = 8;
		digits = s + 2;
	} else if (s[0] == '0' && s[1] == 'x' && all_digits(s + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		digits = s + 2;
	} else if (!all_digits(s + (*s == '-' || *s == '+'), "0123456789")) {
		return 0;
	}
	errno = 0;
	char *end;
	*out = strtoll(digits, &end, base);
	return errno == ERANGE ? -1 : 1;
}

int pw__yaml_float(const char *s, double *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") || !strcmp(s, ".nan") ||
	    !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return -1;
	size_t intd = strspn(p, "0123456789");
	const char *q = p + intd;
	size_t fracd = 0;
	if (*q == '.') {
		fracd = strspn(q + 1, "0123456789");
		q += 1 + fracd;
	}
	if (intd == 0 && fracd == 0)
		return 0;
	if (*q == 'e' || *q == 'E') {
		q++;
		q += (*q == '-' || *q == '+');
		size_t expd = strspn(q, "0123456789");
		if (!expd)
			return 0;
		q += expd;
	}
	if (*q)
		return 0;
	*out = strtod(s, NULL);
	return isfinite(*out) ? 1 : -1;
}

const char *pw__real_text(char *buf, size_t size, double d)
{
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d) { /* %g writes 100 as 1e+02 */
		snprintf(buf, size, "%.0f", d);
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return buf;
	}
	return buf;
}

int pw__config_number(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 1;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return 0;
	long long i;
	if (pw__yaml_int(json_string_value(v), &i) == 1) {
		*out = (double)i;
		return 1;
	}
	return pw__yaml_float(json_string_value(v), out) == 1;
}

int pw__config_integer(const json_t *v, long long *out)
{
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 1;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return 0;
	return pw__yaml_int(json_string_value(v), out) == 1;
}

json_t *pw__config_typed(json_t *v)
{
	long long i;
	double d;
	if (!json_is_string(v))
		return json_incref(v);
	if (pw__config_integer(v, &i))
		return json_integer((json_int_t)i);
	if (pw__config_number(v, &d))
		return json_real(d);
	return json_incref(v);
}
