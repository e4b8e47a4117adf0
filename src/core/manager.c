/* The connector manager (Facade): factories consulted newest first, a cache of connectors
 * created once, execution through validate/pre/execute/post with statistics. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/connector.h"
#include "core/internal.h"
#include "core/manager.h"
#include "core/step.h"

typedef struct factory_entry {
	const pw_factory_ops *ops;
	void *payload;
} factory_entry;

typedef struct cache_entry {
	char *type;
	pw_connector *connector;
} cache_entry;

struct pw_manager {
	pthread_mutex_t lock;
	factory_entry *factories;
	size_t factories_count;
	cache_entry *cache;
	size_t cache_count;
	pw_connector_stats *stats;
	size_t stats_count;
	pw_log_fn on_log;
	void *log_payload;
	pw_log_level log_level;
	/* Its own lock: factories create connectors under `lock`, and may ask for services. */
	pthread_mutex_t services_lock;
	void *services[PW__MANAGER_SERVICE_MAX];
	void (*services_free[PW__MANAGER_SERVICE_MAX])(void *);
	int cancel_fd; /* eventfd, readable once pw_manager_cancel was called; -1 if none */
};

int pw_manager_new(pw_manager **out, const pw_manager_options *opts, pw_error **err)
{
	*out = NULL;
	if (opts && (opts->version < 1 || opts->version > PW_MANAGER_OPTIONS_VERSION))
		return pw_error_set(err, PW_EABI, "pw_manager_options version %u is not supported",
		                    opts->version);
	pw_manager *m = calloc(1, sizeof(*m));
	if (!m)
		return PW_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->services_lock, NULL);
	m->log_level = PW_LOG_WARN;
	m->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->cancel_fd < 0) {
		pw_manager_free(m);
		return pw_error_set(err, PW_EIO, "cannot make a manager: eventfd: %s", strerror(errno));
	}
	if (opts) {
		m->on_log = opts->on_log;
		m->log_payload = opts->log_payload;
		m->log_level = opts->log_level;
	}
	int rc = pw__builtin_factory_register(m, err);
	if (rc < 0) {
		pw_manager_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void pw_manager_clear_cache(pw_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cache_count; i++) {
		pw_connector_free(m->cache[i].connector);
		free(m->cache[i].type);
	}
	free(m->cache);
	m->cache = NULL;
	m->cache_count = 0;
	pthread_mutex_unlock(&m->lock);
}

void pw_manager_free(pw_manager *m)
{
	if (!m)
		return;
	pw_manager_clear_cache(m);
	for (size_t i = 0; i < m->factories_count; i++)
		if (m->factories[i].ops->free)
			m->factories[i].ops->free(m->factories[i].payload);
	free(m->factories);
	for (int i = 0; i < PW__MANAGER_SERVICE_MAX; i++)
		if (m->services[i] && m->services_free[i])
			m->services_free[i](m->services[i]);
	free(m->stats);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->services_lock);
	if (m->cancel_fd >= 0)
		close(m->cancel_fd);
	free(m);
}

void pw_manager_cancel(pw_manager *m)
{
	if (!m || m->cancel_fd < 0)
		return;
	uint64_t one = 1;
	ssize_t n = write(m->cancel_fd, &one, sizeof(one));
	(void)n;
}

int pw__manager_cancel_fd(const pw_manager *m)
{
	return m ? m->cancel_fd : -1;
}

void *pw__manager_service(pw_manager *m, pw_manager_service which, void *(*make)(void),
                          void (*release)(void *))
{
	if (!m || which < 0 || which >= PW__MANAGER_SERVICE_MAX)
		return NULL;
	pthread_mutex_lock(&m->services_lock);
	if (!m->services[which] && make) {
		m->services[which] = make();
		m->services_free[which] = release;
	}
	void *s = m->services[which];
	pthread_mutex_unlock(&m->services_lock);
	return s;
}

void pw__manager_log(pw_manager *m, pw_log_level level, const char *component, const char *fmt, ...)
{
	if (!m || !m->on_log || level > m->log_level)
		return;
	pw_buf b = PW_BUF_INIT(0);
	va_list ap;
	va_start(ap, fmt);
	pw__buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pw_log_record rec = {level, "", "", component, pw__buf_cstr(&b), pw__unix_ms()};
	m->on_log(&rec, m->log_payload);
	pw__buf_dispose(&b);
}

int pw_manager_register_factory(pw_manager *m, const pw_factory_ops *ops, void *payload, pw_error **err)
{
	if (!m || !ops)
		return pw_error_set(err, PW_EINVAL, "register_factory: no manager or no factory");
	if (ops->version < 1 || ops->version > PW_FACTORY_OPS_VERSION) {
		int rc =
		    pw_error_set(err, PW_EABI, "factory '%s': operations table version %u is not supported",
		                 ops->name ? ops->name : "?", ops->version);
		if (err && *err)
			pw_error_set_hint(*err, "rebuild the factory against this pipewright's headers");
		return rc;
	}
	if (!ops->name || !*ops->name || !ops->supports || !ops->create)
		return pw_error_set(err, PW_EINVAL, "factory '%s' lacks %s", ops->name ? ops->name : "?",
		                    !ops->name || !*ops->name ? "a name"
		                    : !ops->supports          ? "supports()"
		                                              : "create()");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->factories_count; i++) {
		if (strcmp(m->factories[i].ops->name, ops->name) == 0) {
			pthread_mutex_unlock(&m->lock);
			return pw_error_set(err, PW_EEXISTS, "a factory named '%s' is already registered",
			                    ops->name);
		}
	}
	factory_entry *n = realloc(m->factories, (m->factories_count + 1) * sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&m->lock);
		return PW_ENOMEM;
	}
	m->factories = n;
	m->factories[m->factories_count].ops = ops;
	m->factories[m->factories_count].payload = payload;
	m->factories_count++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Statistics entry for a type; called under the lock. */
static pw_connector_stats *stats_for(pw_manager *m, const char *type)
{
	for (size_t i = 0; i < m->stats_count; i++)
		if (strcmp(m->stats[i].type, type) == 0)
			return &m->stats[i];
	pw_connector_stats *n = realloc(m->stats, (m->stats_count + 1) * sizeof(*n));
	if (!n)
		return NULL;
	m->stats = n;
	pw_connector_stats *s = &m->stats[m->stats_count++];
	memset(s, 0, sizeof(*s));
	snprintf(s->type, sizeof(s->type), "%s", type);
	return s;
}

static void collect_type(const char *type, void *ctx)
{
	char ***list = ctx;
	if (!*list || !type)
		return;
	size_t n = 0;
	for (; (*list)[n]; n++)
		if (strcmp((*list)[n], type) == 0)
			return;
	char **g = realloc(*list, (n + 2) * sizeof(char *));
	if (!g)
		return;
	g[n] = strdup(type);
	g[n + 1] = NULL;
	*list = g;
}

/* Newest factories first, as they are consulted. */
int pw_manager_list_available_connectors(char ***out, pw_manager *m)
{
	char **list = calloc(1, sizeof(char *));
	if (!list)
		return PW_ENOMEM;
	pthread_mutex_lock(&m->lock);
	for (size_t i = m->factories_count; i-- > 0;)
		if (m->factories[i].ops->list_types)
			m->factories[i].ops->list_types(collect_type, &list, m->factories[i].payload);
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return list ? 0 : PW_ENOMEM;
}

void pw_strv_free(char **strv)
{
	if (!strv)
		return;
	for (size_t i = 0; strv[i]; i++)
		free(strv[i]);
	free(strv);
}

char *pw__manager_available_text(pw_manager *m)
{
	char **list = NULL;
	pw_buf b = PW_BUF_INIT(0);
	if (pw_manager_list_available_connectors(&list, m) == 0) {
		for (size_t i = 0; list[i]; i++)
			pw__buf_printf(&b, "%s%s", i ? ", " : "", list[i]);
	}
	pw_strv_free(list);
	return pw__buf_detach(&b);
}

static int not_found(pw_manager *m, const char *type, pw_error **err)
{
	char *avail = pw__manager_available_text(m);
	pw_connector_kind kind = pw_connector_kind_of(type);
	int code;
	pw_error *e;
	if (kind == PW_KIND_INVALID && !strncmp(type, "custom:", 7)) {
		code = PW_ENOTFOUND;
		e = pw_error_new(code, "'%s' is not a custom connector's name", type);
		pw_error_set_hint(e, "NAME in custom:NAME is lower-case letters, digits, '-' and '_', "
		                     "starting with a letter or digit");
	} else if (kind == PW_KIND_INVALID) {
		code = PW_ENOTFOUND;
		e = pw_error_new(code, "unknown connector type '%s'", type);
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h, "use one of: %s, or custom:NAME for a custom connector", avail);
		pw_error_set_hint(e, pw__buf_cstr(&h));
		pw__buf_dispose(&h);
	} else if (kind == PW_KIND_CUSTOM) {
		code = PW_ENOTFOUND;
		e = pw_error_new(code, "no connector is registered for '%s'", type);
		pw_error_set_hint(
		    e, "register a factory that supports it (pw_manager_register_factory) or load a "
		       "plug-in that provides it");
	} else {
		code = PW_ENOTBUILT;
		e = pw_error_new(code, "connector '%s' is not built into this pipewright", type);
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h, "connectors available in this build: %s", avail);
		pw_error_set_hint(e, pw__buf_cstr(&h));
		pw__buf_dispose(&h);
	}
	free(avail);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return code;
}

int pw_manager_get_connector(pw_connector **out, pw_manager *m, const char *type, pw_error **err)
{
	*out = NULL;
	if (!type)
		return pw_error_set(err, PW_EINVAL, "get_connector: no connector type given");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cache_count; i++) {
		if (strcmp(m->cache[i].type, type) == 0) {
			pw_connector_stats *s = stats_for(m, type);
			if (s)
				s->cache_hits++;
			*out = m->cache[i].connector;
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
	}
	/* Create under the lock so that a type is created exactly once. */
	int rc = 0, found = 0;
	pw_connector *c = NULL;
	for (size_t i = m->factories_count; i-- > 0;) {
		factory_entry *f = &m->factories[i];
		if (!f->ops->supports(type, f->payload))
			continue;
		found = 1;
		rc = f->ops->create(&c, type, m, f->payload, err);
		if (rc == 0 && !c)
			rc = pw_error_set(err, PW_EEXTERNAL, "factory '%s' created no connector for '%s'",
			                  f->ops->name, type);
		break;
	}
	if (found && rc == 0) {
		cache_entry *n = realloc(m->cache, (m->cache_count + 1) * sizeof(*n));
		char *t = strdup(type);
		if (!n || !t) {
			if (n)
				m->cache = n;
			free(t);
			pw_connector_free(c);
			pthread_mutex_unlock(&m->lock);
			return PW_ENOMEM;
		}
		m->cache = n;
		c->manager = m;
		m->cache[m->cache_count].type = t;
		m->cache[m->cache_count].connector = c;
		m->cache_count++;
		pw_connector_stats *s = stats_for(m, type);
		if (s)
			s->created++;
		*out = c;
	}
	pthread_mutex_unlock(&m->lock);
	if (!found)
		return not_found(m, type, err);
	if (rc == 0)
		pw__manager_log(m, PW_LOG_DEBUG, "manager", "created connector '%s' for type %s", c->name,
		                type);
	return rc;
}

static int has(const pw_step *s, const char *key)
{
	return pw__step_config_get(s, key) != NULL;
}

static const char *config_str(const pw_step *s, const char *key)
{
	json_t *v = pw__step_config_get(s, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Infers the type from the seed's configuration keys. NULL when nothing fits. */
static const char *infer_type(const pw_step *s)
{
	const char *service = config_str(s, "service");
	if (service) {
		if (!strcmp(service, "ecs") || !strcmp(service, "lambda") || !strcmp(service, "s3"))
			return PW_TYPE_AWS;
		if (!strcmp(service, "container-instances"))
			return PW_TYPE_AZURE;
		if (!strcmp(service, "cloud-run"))
			return PW_TYPE_GCP;
	}
	const char *action = config_str(s, "action");
	if (has(s, "source_repo") || has(s, "target_repo") || (action && !strcmp(action, "mirror")))
		return PW_TYPE_GITLAB;
	if (action && has(s, "repository"))
		return PW_TYPE_GITHUB;
	if (has(s, "image") &&
	    (has(s, "namespace") || has(s, "kubeconfig") || has(s, "context") || has(s, "cluster") ||
	     has(s, "parameters.use_pvc") || has(s, "parameters.service_account")))
		return PW_TYPE_KUBERNETES;
	if (has(s, "image") || has(s, "dockerfile"))
		return PW_TYPE_DOCKER;
	if (has(s, "command"))
		return PW_TYPE_SHELL;
	return NULL;
}

/* infer_type, remembered in the step: a pipeline's steps are asked at validation, at the plan
 * and at every attempt, a dozen lookups in the configuration each time. */
static const char *infer_type_once(const pw_step *s)
{
	static const char none[] = ""; /* asked: nothing fits */
	const char *t = pw__step_inferred_type(s);
	if (!t) {
		t = infer_type(s);
		if (!t)
			t = none;
		pw__step_set_inferred_type(s, t);
	}
	return t == none ? NULL : t;
}

int pw_manager_determine_connector_type(char **out, pw_manager *m, const pw_step *step, pw_error **err)
{
	*out = NULL;
	const char *declared = pw_step_type(step);
	const char *type = declared ? declared : infer_type_once(step);
	if (!type) {
		pw_error *e = pw_error_new(PW_EVALIDATION, "cannot tell which connector runs step '%s'",
		                           pw_step_name(step));
		char *avail = pw__manager_available_text(m);
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(&h,
		               "add `step_type:` (available: %s), or give a `command` to run it in the shell",
		               avail);
		pw_error_set_hint(e, pw__buf_cstr(&h));
		pw__buf_dispose(&h);
		free(avail);
		const pw_loc *l = pw__step_find_loc(step, "name");
		if (step->file)
			pw_error_set_location(e, step->file, l ? l->line : step->line,
			                      l ? l->column : step->column);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_EVALIDATION;
	}
	if (pw_connector_kind_of(type) == PW_KIND_INVALID) {
		pw_error *e = NULL;
		not_found(m, type, &e);
		const pw_loc *l = pw__step_find_loc(step, "step_type");
		if (e && step->file)
			pw_error_set_location(e, step->file, l ? l->line : step->line,
			                      l ? l->column : step->column);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ENOTFOUND;
	}
	*out = strdup(type);
	return *out ? 0 : PW_ENOMEM;
}

static void record(pw_manager *m, const char *type, int success, double ms)
{
	pthread_mutex_lock(&m->lock);
	pw_connector_stats *s = stats_for(m, type);
	if (s) {
		s->executions++;
		if (success)
			s->successes++;
		else
			s->failures++;
		s->total_ms += ms;
		if (ms > s->max_ms)
			s->max_ms = ms;
	}
	pthread_mutex_unlock(&m->lock);
}

/* Masks what a connector put into the result, and fills streamed output from the capture. */
static void finish_result(pw_result *r, pw_exec *ex)
{
	pw_secrets *sec = pw_exec_secrets(ex);
	int trunc = 0;
	if (!*pw_result_stdout(r)) {
		const char *cap = pw_exec_captured(ex, PW_STREAM_STDOUT, &trunc);
		pw_result_set_stdout(r, cap);
		if (trunc)
			pw_result_with_metadata(r, "stdout_truncated", "true");
	} else {
		char *m = pw_secrets_mask_str(sec, pw_result_stdout(r));
		pw_result_set_stdout(r, m);
		free(m);
	}
	if (!*pw_result_stderr(r)) {
		const char *cap = pw_exec_captured(ex, PW_STREAM_STDERR, &trunc);
		pw_result_set_stderr(r, cap);
		if (trunc)
			pw_result_with_metadata(r, "stderr_truncated", "true");
	} else {
		char *m = pw_secrets_mask_str(sec, pw_result_stderr(r));
		pw_result_set_stderr(r, m);
		free(m);
	}
	pw_map *md = pw_result_metadata(r);
	for (size_t i = 0; i < pw_map_count(md); i++) {
		const char *v = pw_map_value_at(md, i);
		char *mv = pw_secrets_mask_str(sec, v);
		if (mv && strcmp(mv, v) != 0)
			pw_map_set(md, pw_map_key_at(md, i), mv);
		free(mv);
	}
}

/* Turns a cancelled or timed-out attempt into the matching error. */
static int cancel_error(pw_exec *ex, const pw_step *step, pw_error **err)
{
	pw_cancel_reason why = pw_exec_cancelled(ex);
	if (why == PW_CANCEL_TIMEOUT) {
		pw_error *e = pw_error_new(PW_ETIMEOUT, "step '%s' timed out after %g s", pw_step_name(step),
		                           pw_step_timeout(step));
		pw_error_set_hint(
		    e, "raise the step's `timeout:` (seconds) if it needs longer, or find out why it hangs");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ETIMEOUT;
	}
	return pw_error_set(err, PW_ECANCELLED, "step '%s' was cancelled", pw_step_name(step));
}

/* The step was stopped (deadline or cancel): *e becomes the timeout or cancel error, with the
 * connector's own error (when it is another) appended to it. Returns that error's code. */
static int stopped_error(pw_exec *ex, const pw_step *step, pw_error **e)
{
	pw_error *ce = NULL;
	int rc = cancel_error(ex, step, &ce);
	if (*e && pw_error_code(*e) != PW_ECANCELLED && pw_error_code(*e) != PW_ETIMEOUT)
		pw_error_append(ce, *e);
	else
		pw_error_free(*e);
	*e = ce;
	return rc;
}

static void mask_error(pw_error *e, pw_exec *ex)
{
	/* Errors may quote service answers and connectors' hints: mask every text in place. */
	pw__error_mask(e, pw_exec_secrets(ex));
}

/* Gives e, masked with the step's secrets, to *err when that is empty; else frees it. */
static void hand_error(pw_error *e, pw_exec *ex, pw_error **err)
{
	if (e)
		mask_error(e, ex);
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
}

/* The exec whose step this thread is validating before executing it, or NULL. */
static _Thread_local pw_exec *validating_for;

pw_exec *pw__manager_validating_exec(void)
{
	return validating_for;
}

int pw_manager_execute_step(pw_result **out, pw_manager *m, const pw_step *step, const pw_workspace *ws,
                            const pw_map *env, pw_exec *ex_in, pw_error **err)
{
	*out = NULL;
	char *type = NULL;
	pw_error *e = NULL;
	int rc = pw_manager_determine_connector_type(&type, m, step, &e);
	pw_connector *c = NULL;
	if (rc == 0)
		rc = pw_manager_get_connector(&c, m, type, &e);
	if (rc < 0) {
		if (e)
			pw__step_locate_error(step, e);
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		free(type);
		return rc;
	}
	pw_exec *ex = ex_in;
	if (!ex) {
		pw_exec_options o = PW_EXEC_OPTIONS_INIT;
		o.step_name = pw_step_name(step);
		o.timeout_seconds = pw_step_timeout(step);
		rc = pw_exec_new(&ex, &o, err);
		if (rc < 0) {
			free(type);
			return rc;
		}
	}
	int64_t t0 = pw__now_ms();
	/* the deadline covers the validation before the execution too, and a cancel stops it:
	 * a connector that hangs there must not outlast the step's timeout */
	pw_exec_start(ex);
	validating_for = ex;
	rc = pw_connector_validate_config(c, step, &e);
	validating_for = NULL;
	if (rc < 0) {
		pw__exec_finish(ex);
		if (pw_exec_cancelled(ex) != PW_CANCEL_NONE) {
			rc = stopped_error(ex, step, &e);
			record(m, type, 0, (double)(pw__now_ms() - t0));
		} else if (e) {
			pw__step_locate_error(step, e);
		}
		hand_error(e, ex, err);
		if (!ex_in)
			pw_exec_free(ex);
		free(type);
		return rc;
	}
	pw_result *r = NULL;
	rc = pw_connector_pre_execute(c, step, ex, &e);
	if (rc == 0)
		rc = pw_connector_execute_step(&r, c, step, ws, env, ex, &e);
	if (rc == 0)
		rc = pw_connector_post_execute(c, step, r, ex, &e);
	pw__exec_finish(ex);
	if (pw_exec_cancelled(ex) != PW_CANCEL_NONE) {
		/* the connector was stopped because we asked it to: say so, keeping its detail. A
		 * process that traps SIGTERM and exits 0 did not finish its work, so this holds
		 * whatever its exit status; its result stays beside the error. */
		rc = stopped_error(ex, step, &e);
	}
	if (r)
		finish_result(r, ex);
	double ms = (double)(pw__now_ms() - t0);
	record(m, type, rc == 0 && pw_result_is_success(r), ms);
	/* the connector's result stays with the error: a step stopped at its deadline or by a
	 * cancel still has the exit code, signal, output and metadata of its process */
	if (rc < 0)
		hand_error(e, ex, err);
	if (!ex_in)
		pw_exec_free(ex);
	free(type);
	*out = r;
	return rc;
}

size_t pw_manager_get_stats(pw_manager *m, pw_connector_stats *out, size_t max)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->stats_count;
	for (size_t i = 0; out && i < n && i < max; i++)
		out[i] = m->stats[i];
	pthread_mutex_unlock(&m->lock);
	return n;
}

int pw_manager_get_stats_map(pw_map **out, pw_manager *m)
{
	pw_map *map = pw_map_new();
	if (!map)
		return PW_ENOMEM;
	char key[128], val[64];
	pthread_mutex_lock(&m->lock);
	uint64_t created = 0, hits = 0, execs = 0, ok = 0, fail = 0;
	for (size_t i = 0; i < m->stats_count; i++) {
		pw_connector_stats *s = &m->stats[i];
		created += s->created;
		hits += s->cache_hits;
		execs += s->executions;
		ok += s->successes;
		fail += s->failures;
	}
#define PUT(k, fmt, v)                              \
	do {                                        \
		snprintf(val, sizeof(val), fmt, v); \
		pw_map_set(map, k, val);            \
	} while (0)
	PUT("cached_connectors", "%zu", m->cache_count);
	PUT("registered_factories", "%zu", m->factories_count);
	PUT("connectors_created", "%llu", (unsigned long long)created);
	PUT("cache_hits", "%llu", (unsigned long long)hits);
	PUT("executions", "%llu", (unsigned long long)execs);
	PUT("successes", "%llu", (unsigned long long)ok);
	PUT("failures", "%llu", (unsigned long long)fail);
	for (size_t i = 0; i < m->stats_count; i++) {
		pw_connector_stats *s = &m->stats[i];
		snprintf(key, sizeof(key), "%s.created", s->type);
		PUT(key, "%llu", (unsigned long long)s->created);
		snprintf(key, sizeof(key), "%s.cache_hits", s->type);
		PUT(key, "%llu", (unsigned long long)s->cache_hits);
		snprintf(key, sizeof(key), "%s.executions", s->type);
		PUT(key, "%llu", (unsigned long long)s->executions);
		snprintf(key, sizeof(key), "%s.successes", s->type);
		PUT(key, "%llu", (unsigned long long)s->successes);
		snprintf(key, sizeof(key), "%s.failures", s->type);
		PUT(key, "%llu", (unsigned long long)s->failures);
		snprintf(key, sizeof(key), "%s.total_ms", s->type);
		PUT(key, "%.0f", s->total_ms);
		snprintf(key, sizeof(key), "%s.max_ms", s->type);
		PUT(key, "%.0f", s->max_ms);
	}
#undef PUT
	pthread_mutex_unlock(&m->lock);
	*out = map;
	return 0;
}
