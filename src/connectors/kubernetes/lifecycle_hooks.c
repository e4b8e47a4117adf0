/* Lifecycle hooks on MongoDB (libmongoc): events queue in memory and a writer thread inserts
 * them, so that the step and its log streaming never wait for the database.
 *
 * libmongoc is loaded with dlopen when a pipeline first asks for hooks, not linked: linked, it
 * would load a dozen libraries into every run and, through its constructor, create a
 * /dev/shm/mongoc-PID file in every process — left behind whenever a run is killed. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "connectors/kubernetes/lifecycle.h"
#include "core/buf.h"

#define QUEUE_MAX 4096

#ifdef PW_HAVE_MONGOC
#include <mongoc/mongoc.h>

#define MONGOC_SONAME "libmongoc-1.0.so.0"

/* The driver's functions this file calls, resolved once from the loaded library. */
static struct {
	__typeof__(&mongoc_init) init;
	__typeof__(&mongoc_uri_new_with_error) uri_new_with_error;
	__typeof__(&mongoc_uri_set_option_as_int32) uri_set_option_as_int32;
	__typeof__(&mongoc_uri_get_database) uri_get_database;
	__typeof__(&mongoc_uri_destroy) uri_destroy;
	__typeof__(&mongoc_client_new_from_uri) client_new_from_uri;
	__typeof__(&mongoc_client_set_appname) client_set_appname;
	__typeof__(&mongoc_client_get_collection) client_get_collection;
	__typeof__(&mongoc_client_destroy) client_destroy;
	__typeof__(&mongoc_collection_insert_one) collection_insert_one;
	__typeof__(&mongoc_collection_destroy) collection_destroy;
	__typeof__(&bson_new) bson_new;
	__typeof__(&bson_destroy) bson_destroy;
	__typeof__(&bson_append_utf8) append_utf8;
	__typeof__(&bson_append_null) append_null;
	__typeof__(&bson_append_date_time) append_date_time;
	__typeof__(&bson_append_int32) append_int32;
} M;
static char load_error[512]; /* why the driver could not be loaded; "" when it was */

typedef struct hook_event {
	char *run_id, *step, *connector, *event, *ns, *job, *pod, *message;
	int exit_code;
	int64_t at_ms; /* milliseconds since the epoch */
} hook_event;

struct pw_k8s_hooks {
	char *uri, *database, *collection;
	int required;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	hook_event *q;
	size_t head, count;
	int writing; /* the writer holds an event it took */
	int stop;
	int failures; /* since the last flush */
	char last_error[512];
	pthread_t thread;
	mongoc_client_t *client; /* the writer thread's */
};

static pthread_once_t mongoc_once = PTHREAD_ONCE_INIT;
static void init_mongoc(void)
{
	/* the driver's shared-memory counters are a file per process that a killed run leaves */
	setenv("MONGOC_DISABLE_SHM", "1", 0);
	void *lib = dlopen(MONGOC_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *why = dlerror();
		snprintf(load_error, sizeof(load_error), "%s", why ? why : MONGOC_SONAME " not found");
		return;
	}
	struct {
		void **slot;
		const char *name;
	} syms[] = {
	    {(void **)&M.init, "mongoc_init"},
	    {(void **)&M.uri_new_with_error, "mongoc_uri_new_with_error"},
	    {(void **)&M.uri_set_option_as_int32, "mongoc_uri_set_option_as_int32"},
	    {(void **)&M.uri_get_database, "mongoc_uri_get_database"},
	    {(void **)&M.uri_destroy, "mongoc_uri_destroy"},
	    {(void **)&M.client_new_from_uri, "mongoc_client_new_from_uri"},
	    {(void **)&M.client_set_appname, "mongoc_client_set_appname"},
	    {(void **)&M.client_get_collection, "mongoc_client_get_collection"},
	    {(void **)&M.client_destroy, "mongoc_client_destroy"},
	    {(void **)&M.collection_insert_one, "mongoc_collection_insert_one"},
	    {(void **)&M.collection_destroy, "mongoc_collection_destroy"},
	    {(void **)&M.bson_new, "bson_new"},
	    {(void **)&M.bson_destroy, "bson_destroy"},
	    {(void **)&M.append_utf8, "bson_append_utf8"},
	    {(void **)&M.append_null, "bson_append_null"},
	    {(void **)&M.append_date_time, "bson_append_date_time"},
	    {(void **)&M.append_int32, "bson_append_int32"},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(load_error, sizeof(load_error), "%s has no %s", MONGOC_SONAME, syms[i].name);
			return; /* the library stays loaded: its constructor ran */
		}
	}
	M.init();
}

static void event_dispose(hook_event *e)
{
	char *s[] = {e->run_id, e->step, e->connector, e->event, e->ns, e->job, e->pod, e->message};
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		free(s[i]);
	memset(e, 0, sizeof(*e));
}

static void append_str(bson_t *d, const char *k, const char *v)
{
	if (v)
		M.append_utf8(d, k, -1, v, -1);
	else
		M.append_null(d, k, -1);
}

/* Inserts one event; returns 0 or -1 with the reason in h->last_error. */
static int write_event(pw_k8s_hooks *h, const hook_event *e)
{
	if (!h->client) {
		bson_error_t be;
		mongoc_uri_t *uri = M.uri_new_with_error(h->uri, &be);
		if (!uri) {
			snprintf(h->last_error, sizeof(h->last_error), "%s", be.message);
			return -1;
		}
		/* a sink that is down must not hold events for the driver's 30 s default */
		M.uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000);
		M.uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 3000);
		h->client = M.client_new_from_uri(uri);
		M.uri_destroy(uri);
		if (!h->client) {
			snprintf(h->last_error, sizeof(h->last_error), "cannot make a MongoDB client");
			return -1;
		}
		M.client_set_appname(h->client, "pipewright");
	}
	bson_t *doc = M.bson_new();
	append_str(doc, "run_id", e->run_id);
	append_str(doc, "step", e->step);
	append_str(doc, "connector", e->connector);
	append_str(doc, "event", e->event);
	M.append_date_time(doc, "at", -1, e->at_ms);
	append_str(doc, "namespace", e->ns);
	append_str(doc, "job", e->job);
	append_str(doc, "pod", e->pod);
	if (e->exit_code >= 0)
		M.append_int32(doc, "exit_code", -1, e->exit_code);
	else
		M.append_null(doc, "exit_code", -1);
	append_str(doc, "message", e->message);
	mongoc_collection_t *col = M.client_get_collection(h->client, h->database, h->collection);
	bson_error_t be;
	int ok = M.collection_insert_one(col, doc, NULL, NULL, &be);
	if (!ok)
		snprintf(h->last_error, sizeof(h->last_error), "%s", be.message);
	M.collection_destroy(col);
	M.bson_destroy(doc);
	return ok ? 0 : -1;
}

static void *writer(void *arg)
{
	pw_k8s_hooks *h = arg;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->count && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (!h->count && h->stop)
			break;
		hook_event e = h->q[h->head];
		memset(&h->q[h->head], 0, sizeof(e));
		h->head = (h->head + 1) % QUEUE_MAX;
		h->count--;
		h->writing = 1;
		pthread_mutex_unlock(&h->lock);
		int rc = write_event(h, &e);
		event_dispose(&e);
		pthread_mutex_lock(&h->lock);
		h->writing = 0;
		if (rc < 0)
			h->failures++;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	if (h->client)
		M.client_destroy(h->client);
	h->client = NULL;
	return NULL;
}

int pw__k8s_hooks_new(pw_k8s_hooks **out, const pw_k8s_hooks_config *cfg, pw_error **err)
{
	*out = NULL;
	pthread_once(&mongoc_once, init_mongoc);
	if (load_error[0]) {
		pw_error *e =
		    pw_error_new(PW_ECONFIG, "MongoDB lifecycle hooks need libmongoc: %s", load_error);
		pw_error_set_hint(
		    e, "install it (apt-get install libmongoc-1.0-0) or remove the hooks settings");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	bson_error_t be;
	mongoc_uri_t *uri = M.uri_new_with_error(cfg->uri, &be);
	if (!uri) {
		pw_error *e = pw_error_new(PW_ECONFIG, "the MongoDB hook URI is not usable: %s", be.message);
		pw_error_set_key(e, "hooks.mongodb.uri");
		pw_error_set_hint(e, "write it as mongodb://host:port[/database]");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	const char *db_in_uri = M.uri_get_database(uri);
	pw_k8s_hooks *h = calloc(1, sizeof(*h));
	if (!h) {
		M.uri_destroy(uri);
		return PW_ENOMEM;
	}
	h->uri = strdup(cfg->uri);
	h->database = strdup(cfg->database ? cfg->database : db_in_uri ? db_in_uri : "pipewright");
	h->collection = strdup(cfg->collection ? cfg->collection : "events");
	M.uri_destroy(uri);
	h->required = cfg->required;
	h->q = calloc(QUEUE_MAX, sizeof(hook_event));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (!h->uri || !h->database || !h->collection || !h->q ||
	    pthread_create(&h->thread, NULL, writer, h) != 0) {
		free(h->uri);
		free(h->database);
		free(h->collection);
		free(h->q);
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->cond);
		free(h);
		return PW_ENOMEM;
	}
	*out = h;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void pw__k8s_hooks_event(pw_k8s_hooks_step *hs, const char *event, const char *ns, const char *job,
                         const char *pod, int exit_code, const char *message)
{
	if (hs && hs->ex)
		pw_exec_log(hs->ex, PW_LOG_DEBUG, "hooks", "%s %s%s%s", event, job ? job : "",
		            message ? ": " : "", message ? message : "");
	if (!hs || !hs->hooks)
		return;
	pw_k8s_hooks *h = hs->hooks;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	/* messages may quote step output: mask them like everything else pipewright writes */
	char *masked = message && hs->ex ? pw_secrets_mask_str(pw_exec_secrets(hs->ex), message) : NULL;
	hook_event e = {dup_or_null(hs->run_id),
	                dup_or_null(hs->step),
	                dup_or_null(hs->connector),
	                dup_or_null(event),
	                dup_or_null(ns),
	                dup_or_null(job),
	                dup_or_null(pod),
	                masked ? strdup(masked) : dup_or_null(message),
	                exit_code,
	                (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000};
	pw_free(masked);
	pthread_mutex_lock(&h->lock);
	if (h->count >= QUEUE_MAX) {
		h->failures++;
		snprintf(h->last_error, sizeof(h->last_error), "the event queue was full");
		pthread_mutex_unlock(&h->lock);
		event_dispose(&e);
		return;
	}
	h->q[(h->head + h->count) % QUEUE_MAX] = e;
	h->count++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

int pw__k8s_hooks_flush(pw_k8s_hooks *h, long timeout_ms, pw_error **err)
{
	if (!h)
		return 0;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	int timed_out = 0;
	while ((h->count || h->writing) && !timed_out)
		timed_out = pthread_cond_timedwait(&h->cond, &h->lock, &dl) != 0;
	int failures = h->failures + (timed_out ? 1 : 0);
	char why[512];
	snprintf(why, sizeof(why), "%s", timed_out ? "writes did not finish in time" : h->last_error);
	h->failures = 0;
	pthread_mutex_unlock(&h->lock);
	if (!failures || !h->required)
		return 0;
	pw_error *e = pw_error_new(
	    PW_EEXTERNAL, "the required MongoDB lifecycle hook (%s.%s) could not record %d event%s: %s",
	    h->database, h->collection, failures, failures == 1 ? "" : "s", why);
	pw_error_set_hint(e, "check that MongoDB is reachable at the hook's URI, or set required: false");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_EEXTERNAL;
}

int pw__k8s_hooks_required(const pw_k8s_hooks *h)
{
	return h && h->required;
}

void pw__k8s_hooks_free(pw_k8s_hooks *h)
{
	if (!h)
		return;
	pw__k8s_hooks_flush(h, 5000, NULL);
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	/* what could not be written in time is dropped */
	while (h->count) {
		event_dispose(&h->q[h->head]);
		h->head = (h->head + 1) % QUEUE_MAX;
		h->count--;
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->q);
	free(h->uri);
	free(h->database);
	free(h->collection);
	free(h);
}

#else /* no libmongoc */

struct pw_k8s_hooks {
	int unused;
};

int pw__k8s_hooks_new(pw_k8s_hooks **out, const pw_k8s_hooks_config *cfg, pw_error **err)
{
	*out = NULL;
	return pw_error_set(err, PW_EUNIMPLEMENTED,
	                    "this pipewright was built without MongoDB support (libmongoc)");
}

void pw__k8s_hooks_event(pw_k8s_hooks_step *hs, const char *event, const char *ns, const char *job,
                         const char *pod, int exit_code, const char *message)
{
	if (hs && hs->ex)
		pw_exec_log(hs->ex, PW_LOG_DEBUG, "hooks", "%s %s%s%s", event, job ? job : "",
		            message ? ": " : "", message ? message : "");
}

int pw__k8s_hooks_flush(pw_k8s_hooks *h, long timeout_ms, pw_error **err)
{
	return 0;
}

int pw__k8s_hooks_required(const pw_k8s_hooks *h)
{
	return 0;
}

void pw__k8s_hooks_free(pw_k8s_hooks *h)
{
	free(h);
}

#endif

int pw__k8s_hooks_from_env(pw_k8s_hooks **out, pw_error **err)
{
	*out = NULL;
	const char *uri = getenv("PIPEWRIGHT_MONGODB_URI");
	if (!uri || !*uri)
		return 0;
	const char *req = getenv("PIPEWRIGHT_MONGODB_REQUIRED");
	pw_k8s_hooks_config c = {uri, getenv("PIPEWRIGHT_MONGODB_DATABASE"),
	                         getenv("PIPEWRIGHT_MONGODB_COLLECTION"),
	                         req && (!strcmp(req, "1") || !strcmp(req, "true"))};
	return pw__k8s_hooks_new(out, &c, err);
}
