/* The life of one Kubernetes step attempt: create the Secret and the Job, follow the pod through
 * the watch API, stream its log live (resuming without loss or duplicates), read the exit code,
 * and delete what was created whatever happens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/kubeconfig.h"
#include "connectors/kubernetes/k8s.h"
#include "core/journal.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/result.h"

#define LINE_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define DEFAULT_CALL_TIMEOUT_MS 30000L
#define CLEANUP_TIMEOUT_MS 30000L

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pw__k8s_path(pw_buf *b, const char *group_version, const char *ns, const char *resource,
                  const char *name)
{
	pw__buf_printf(b, "%s/%s", strchr(group_version, '/') ? "/apis" : "/api", group_version);
	if (ns)
		pw__buf_printf(b, "/namespaces/%s", ns);
	pw__buf_printf(b, "/%s", resource);
	if (name)
		pw__buf_printf(b, "/%s", name);
}

static void put_error(pw_error **err, pw_error *e)
{
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
}

/* ---- API calls ---- */

static int auth_header(char **hdr, pw_k8s_api *api, int refresh, pw_error **err)
{
	char *tok = NULL;
	*hdr = NULL;
	int rc = pw__kube_access_token(&tok, api->access, refresh, err);
	if (rc < 0 || !tok)
		return rc;
	if (api->ex && strlen(tok) >= PW_SECRET_MIN_LENGTH)
		pw_exec_add_secret(api->ex, tok, "Kubernetes bearer token", NULL);
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "Authorization: Bearer %s", tok);
	pw_free(tok);
	*hdr = pw__buf_detach(&b);
	return 0;
}

static int forbidden(pw_k8s_api *api, long status, const char *msg, const char *verb, const char *group,
                     const char *resource, const char *ns, pw_error **err)
{
	pw_error *e;
	if (status == 401) {
		e = pw_error_new(PW_EPERM,
		                 "the Kubernetes API server at %s did not accept pipewright's credentials "
		                 "(401): %s",
		                 api->access->server, msg);
		pw_error_set_hint(
		    e, "refresh the credentials of the kubeconfig context in use (token, certificate "
		       "or exec plugin)");
	} else {
		e = pw_error_new(PW_EPERM, "permission denied: the cluster refused to %s %s%s%s %s%s%s", verb,
		                 resource, *group ? "." : "", group,
		                 ns ? "in namespace '" : "at cluster scope", ns ? ns : "", ns ? "'" : "");
		pw_buf h = PW_BUF_INIT(0);
		pw__buf_printf(
		    &h,
		    "a Role%s with the rule {apiGroups: [\"%s\"], resources: [\"%s\"], verbs: [\"%s\"]} "
		    "bound to pipewright's identity allows it (docs/kubernetes.md lists the whole Role)",
		    ns ? "" : " (a ClusterRole: cluster-scoped)", group, resource, verb);
		pw_error_set_hint(e, pw__buf_cstr(&h));
		pw__buf_dispose(&h);
	}
	pw_error_set_response(e, msg);
	put_error(err, e);
	return PW_EPERM;
}

int pw__k8s_api_call(json_t **out, long *status, pw_k8s_api *api, const char *method, const char *path,
                     const json_t *body, const char *verb, const char *group, const char *resource,
                     const char *ns, int cancellable, pw_error **err)
{
	if (out)
		*out = NULL;
	char *text = body ? pw__json_dump(body) : NULL;
	pw_http_endpoint ep;
	pw__kube_access_endpoint(&ep, api->access);
	int rc = 0;
	pw_http_response resp = {0};
	for (int attempt = 0; attempt < 2; attempt++) {
		char *auth = NULL;
		rc = auth_header(&auth, api, attempt > 0, err);
		if (rc < 0)
			break;
		const char *headers[4] = {0};
		int h = 0;
		if (auth)
			headers[h++] = auth;
		headers[h++] = "Accept: application/json";
		if (text)
			headers[h++] = "Content-Type: application/json";
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.method = method;
		req.path_and_query = path;
		req.headers = headers;
		req.body = text;
		req.body_len = text ? strlen(text) : 0;
		req.total_timeout_ms = api->call_timeout_ms ? api->call_timeout_ms : DEFAULT_CALL_TIMEOUT_MS;
		req.cancel_fd = cancellable && api->ex ? pw_exec_cancel_fd(api->ex) : -1;
		/* create calls carry a name: a repeated POST answers 409, which the caller handles */
		req.retry_non_idempotent = 1;
		pw__http_response_dispose(&resp);
		rc = pw__http_do(&resp, api->pool, &ep, &req, err);
		pw_free(auth);
		if (rc < 0)
			break;
		/* an expired exec credential or rotated token file: fetch a new one once */
		if (resp.status == 401 && attempt == 0 && (api->access->exec || api->access->token_file))
			continue;
		break;
	}
	pw_free(text);
	if (rc < 0) {
		pw__http_response_dispose(&resp);
		return rc;
	}
	if (status)
		*status = resp.status;
	json_t *doc = NULL;
	if (resp.body_len)
		pw__json_load(&doc, resp.body, resp.body_len, 0, "the API server's answer", NULL);
	if (resp.status >= 200 && resp.status < 300) {
		if (out)
			*out = doc;
		else
			json_decref(doc);
		pw__http_response_dispose(&resp);
		return 0;
	}
	const char *msg = pw__json_get_string(doc, "message");
	pw_buf m = PW_BUF_INIT(8192);
	pw__buf_puts(&m, msg ? msg : (resp.body_len ? resp.body : "(no message)"));
	if (resp.status == 401 || resp.status == 403) {
		rc = forbidden(api, resp.status, pw__buf_cstr(&m), verb, group, resource, ns, err);
	} else {
		int code = resp.status == 404   ? PW_ENOTFOUND
		           : resp.status == 409 ? PW_EEXISTS
		                                : PW_EKUBERNETES;
		char *what = pw__http_describe(&ep, method, path);
		pw_error *e =
		    pw_error_new(code, "%s: %ld %s", what ? what : path, resp.status, pw__buf_cstr(&m));
		pw_free(what);
		pw_error_set_response(e, resp.body);
		put_error(err, e);
		rc = code;
	}
	pw__buf_dispose(&m);
	json_decref(doc);
	pw__http_response_dispose(&resp);
	return rc;
}

/* ---- following the pod ---- */

enum { WANT_STARTED, WANT_TERMINATED };
enum { GO_ON = 0, PROCEED, FAIL, GONE };

typedef struct run_state {
	pw_k8s_api *api;
	const pw_k8s_job_params *p;
	pw_k8s_event_fn on_event;
	void *payload;
	char pod[254];
	int scheduled, running;
	int exit_code; /* -1 until known */
	char reason[128];
	pw_buf why; /* the failure's text */
	char unschedulable[512];
	int job_events_shown; /* why already holds the Job's events */
} run_state;

static void event(run_state *s, const char *ev, int code, const char *msg)
{
	if (s->on_event)
		s->on_event(ev, s->p->namespace_, s->p->job_name, s->pod[0] ? s->pod : NULL, code, msg,
		            s->payload);
	if (s->api->ex)
		pw_exec_log(s->api->ex, PW_LOG_DEBUG, "kubernetes", "%s: job %s/%s pod %s%s%s", ev,
		            s->p->namespace_, s->p->job_name, s->pod[0] ? s->pod : "-", msg ? ": " : "",
		            msg ? msg : "");
}

static int is_fatal_waiting(const char *r)
{
	static const char *const fatal[] = {
	    "ImagePullBackOff", "ErrImagePull",      "InvalidImageName",     "CreateContainerConfigError",
	    "CrashLoopBackOff", "ErrImageNeverPull", "CreateContainerError", NULL};
	for (size_t i = 0; r && fatal[i]; i++)
		if (strcmp(r, fatal[i]) == 0)
			return 1;
	return 0;
}

/* Looks at one version of the pod and decides what to do. */
static int evaluate(run_state *s, const json_t *pod, int mode)
{
	const char *name = pw__json_get_string(pod, "metadata.name");
	if (name && !s->pod[0])
		snprintf(s->pod, sizeof(s->pod), "%s", name);
	const char *phase = pw__json_get_string(pod, "status.phase");
	json_t *conds = pw__json_get(pod, "status.conditions");
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c)
	{
		const char *type = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));
		if (!type || strcmp(type, "PodScheduled") != 0)
			continue;
		if (st && strcmp(st, "True") == 0 && !s->scheduled) {
			s->scheduled = 1;
			event(s, "pod_scheduled", -1, NULL);
		} else if (st && strcmp(st, "False") == 0) {
			const char *m = json_string_value(json_object_get(c, "message"));
			const char *r = json_string_value(json_object_get(c, "reason"));
			snprintf(s->unschedulable, sizeof(s->unschedulable), "%s%s%s", r ? r : "",
			         m ? ": " : "", m ? m : "");
		}
	}
	json_t *cs = json_array_get(pw__json_get(pod, "status.containerStatuses"), 0);
	const char *wreason = pw__json_get_string(cs, "state.waiting.reason");
	if (is_fatal_waiting(wreason)) {
		const char *m = pw__json_get_string(cs, "state.waiting.message");
		snprintf(s->reason, sizeof(s->reason), "%s", wreason);
		pw__buf_clear(&s->why);
		pw__buf_printf(&s->why, "the container of pod %s cannot start: %s%s%s", s->pod, wreason,
		               m ? ": " : "", m ? m : "");
		return FAIL;
	}
	json_t *term = pw__json_get(cs, "state.terminated");
	if (term) {
		long long code = 0;
		if (pw__json_get_int(&code, term, "exitCode") == 0)
			s->exit_code = (int)code;
		const char *r = json_string_value(json_object_get(term, "reason"));
		if (r)
			snprintf(s->reason, sizeof(s->reason), "%s", r);
		return PROCEED;
	}
	if (pw__json_get(cs, "state.running") && !s->running) {
		s->running = 1;
		event(s, "running", -1, NULL);
	}
	if (mode == WANT_STARTED &&
	    (s->running || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))))
		return PROCEED;
	if (phase && strcmp(phase, "Failed") == 0 && !cs) {
		/* failed before the container ran (e.g. the Job's deadline): nothing more will come */
		const char *r = pw__json_get_string(pod, "status.reason");
		const char *m = pw__json_get_string(pod, "status.message");
		if (r) {
			snprintf(s->reason, sizeof(s->reason), "%s", r);
			pw__buf_clear(&s->why);
			pw__buf_printf(&s->why, "pod %s failed: %s%s%s", s->pod, r, m ? ": " : "",
			               m ? m : "");
			return FAIL;
		}
	}
	return GO_ON;
}

typedef struct watch_ctx {
	run_state *s;
	int mode;
	pw_buf line;
	char rv[64];
	int decision;
} watch_ctx;

static int watch_line(watch_ctx *w, const char *text, size_t len)
{
	json_t *ev = NULL;
	if (len == 0 || pw__json_load(&ev, text, len, 0, "a watch event", NULL) < 0)
		return 0;
	const char *type = pw__json_get_string(ev, "type");
	json_t *obj = json_object_get(ev, "object");
	if (type && strcmp(type, "ERROR") == 0) {
		long long code = 0;
		pw__json_get_int(&code, obj, "code");
		json_decref(ev);
		w->decision = GONE; /* 410 Gone or another error: list again */
		return 1;
	}
	const char *rv = pw__json_get_string(obj, "metadata.resourceVersion");
	if (rv)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
	if (type && strcmp(type, "BOOKMARK") == 0) {
		json_decref(ev);
		return 0;
	}
	if (type && strcmp(type, "DELETED") == 0) {
		w->decision = FAIL;
		pw__buf_clear(&w->s->why);
		pw__buf_printf(&w->s->why, "pod %s was deleted before its container finished",
		               pw__json_get_string(obj, "metadata.name"));
		json_decref(ev);
		return 1;
	}
	w->decision = evaluate(w->s, obj, w->mode);
	json_decref(ev);
	return w->decision != GO_ON;
}

static int on_watch_body(const char *data, size_t len, void *payload)
{
	watch_ctx *w = payload;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (pw__buf_putc(&w->line, data[i]) < 0)
				return PW_EEXTERNAL;
			continue;
		}
		int stop = watch_line(w, w->line.data ? w->line.data : "", w->line.len);
		pw__buf_clear(&w->line);
		if (stop)
			return 1;
	}
	return 0;
}

static void selector_path(pw_buf *b, run_state *s)
{
	pw__k8s_path(b, "v1", s->p->namespace_, "pods", NULL);
	char sel[128];
	snprintf(sel, sizeof(sel), "job-name=%s", s->p->job_name);
	pw__http_query_add(b, "labelSelector", sel);
}

static int cancel_reason_rc(run_state *s, pw_error **err)
{
	pw_cancel_reason why = s->api->ex ? pw_exec_cancelled(s->api->ex) : PW_CANCEL_NONE;
	if (err && *err) {
		pw_error_free(*err);
		*err = NULL;
	}
	return pw_error_set(err, PW_ECANCELLED, "step %s while job %s/%s was running",
	                    why == PW_CANCEL_TIMEOUT ? "timed out" : "was cancelled", s->p->namespace_,
	                    s->p->job_name);
}

static int object_warnings(run_state *s, const char *name, pw_buf *out, char *first_reason, size_t cap);

/* Lists the job's pods then watches them until the decision for mode; deadline_ms (monotonic, 0:
 * none) bounds the wait. Returns PROCEED, FAIL, or 0 when the deadline passed; negative on error. */
static int follow_pod(run_state *s, int mode, int64_t deadline_ms, pw_error **err)
{
	watch_ctx w = {s, mode, PW_BUF_INIT(LINE_MAX_BYTES), "", GO_ON};
	int need_list = 1, rc = 0;
	for (;;) {
		if (s->api->ex && pw_exec_cancelled(s->api->ex)) {
			rc = cancel_reason_rc(s, err);
			break;
		}
		int64_t left = deadline_ms ? deadline_ms - now_ms() : 60000;
		if (left <= 0) {
			rc = 0;
			break;
		}
		if (need_list) {
			pw_buf path = PW_BUF_INIT(0);
			selector_path(&path, s);
			json_t *list = NULL;
			rc = pw__k8s_api_call(&list, NULL, s->api, "GET", pw__buf_cstr(&path), NULL, "list",
			                      "", "pods", s->p->namespace_, 1, err);
			pw__buf_dispose(&path);
			if (rc < 0) {
				if (rc == PW_ECANCELLED)
					rc = cancel_reason_rc(s, err);
				break;
			}
			const char *rv = pw__json_get_string(list, "metadata.resourceVersion");
			snprintf(w.rv, sizeof(w.rv), "%s", rv ? rv : "");
			size_t i;
			json_t *pod;
			w.decision = GO_ON;
			json_array_foreach(json_object_get(list, "items"), i, pod)
			{
				w.decision = evaluate(s, pod, mode);
				if (w.decision != GO_ON)
					break;
			}
			json_decref(list);
			need_list = 0;
			if (w.decision != GO_ON) {
				rc = w.decision;
				break;
			}
		}
		/* the watch, resumed from the last resourceVersion seen */
		pw_buf path = PW_BUF_INIT(0);
		selector_path(&path, s);
		pw__http_query_add(&path, "watch", "true");
		pw__http_query_add(&path, "allowWatchBookmarks", "true");
		if (w.rv[0])
			pw__http_query_add(&path, "resourceVersion", w.rv);
		char secs[32];
		long tsec = (long)((left + 999) / 1000);
		/* while the Job has made no pod, look at its events every few seconds: a pod refused by
		 * admission or quota never appears, and the watch alone would wait for pending_timeout */
		long cap = mode == WANT_STARTED && !s->pod[0] ? 3 : 300;
		if (tsec > cap)
			tsec = cap;
		snprintf(secs, sizeof(secs), "%ld", tsec);
		pw__http_query_add(&path, "timeoutSeconds", secs);
		char *auth = NULL;
		rc = auth_header(&auth, s->api, 0, err);
		if (rc < 0) {
			pw__buf_dispose(&path);
			break;
		}
		const char *headers[] = {auth ? auth : "Accept: application/json", "Accept: application/json",
		                         NULL};
		pw_http_endpoint ep;
		pw__kube_access_endpoint(&ep, s->api->access);
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.path_and_query = pw__buf_cstr(&path);
		req.headers = headers;
		req.cancel_fd = s->api->ex ? pw_exec_cancel_fd(s->api->ex) : -1;
		req.total_timeout_ms = (tsec > 300 ? 300 : tsec) * 1000 + 10000;
		req.on_body = on_watch_body;
		req.payload = &w;
		pw_http_response resp;
		pw__buf_clear(&w.line);
		w.decision = GO_ON;
		pw_error *werr = NULL;
		rc = pw__http_do(&resp, s->api->pool, &ep, &req, &werr);
		pw_free(auth);
		pw__buf_dispose(&path);
		long st = rc == 0 ? resp.status : 0;
		pw__http_response_dispose(&resp);
		if (rc == PW_ECANCELLED) {
			pw_error_free(werr);
			rc = cancel_reason_rc(s, err);
			break;
		}
		if (rc < 0 || st == 410 || w.decision == GONE) {
			/* a dropped stream resumes from the last resourceVersion; 410 Gone (history
			 * compacted) means listing again */
			if (s->api->ex)
				pw_exec_log(s->api->ex, PW_LOG_DEBUG, "kubernetes",
				            "watch of job %s ended (%s); %s", s->p->job_name,
				            werr        ? pw_error_message(werr)
				            : st == 410 ? "410 Gone"
				                        : "error event",
				            rc < 0 ? "resuming" : "listing again");
			pw_error_free(werr);
			if (rc < 0)
				usleep(100 * 1000);
			else
				need_list = 1;
			rc = 0;
			continue;
		}
		pw_error_free(werr);
		if (st == 401 || st == 403 || st >= 400) {
			/* let a plain call produce the error with its explanation */
			need_list = 1;
			if (st == 401 || st == 403) {
				pw_buf p2 = PW_BUF_INIT(0);
				selector_path(&p2, s);
				pw__buf_puts(&p2, "&watch=true&timeoutSeconds=1");
				rc = pw__k8s_api_call(NULL, NULL, s->api, "GET", pw__buf_cstr(&p2), NULL,
				                      "watch", "", "pods", s->p->namespace_, 1, err);
				pw__buf_dispose(&p2);
				if (rc < 0)
					break;
			}
			usleep(200 * 1000);
			continue;
		}
		if (w.decision == PROCEED || w.decision == FAIL) {
			rc = w.decision;
			break;
		}
		/* the server ended the watch (timeoutSeconds): go on from where it stopped */
		if (mode == WANT_STARTED && !s->pod[0]) {
			pw_buf ev = PW_BUF_INIT(16 * 1024);
			char reason[64] = "";
			if (object_warnings(s, s->p->job_name, &ev, reason, sizeof(reason)) > 0 &&
			    strcmp(reason, "FailedCreate") == 0) {
				pw__buf_clear(&s->why);
				pw__buf_printf(&s->why, "job %s could not create its pod:%s", s->p->job_name,
				               pw__buf_cstr(&ev));
				snprintf(s->reason, sizeof(s->reason), "FailedCreate");
				s->job_events_shown = 1;
				pw__buf_dispose(&ev);
				rc = FAIL;
				break;
			}
			pw__buf_dispose(&ev);
		}
	}
	pw__buf_dispose(&w.line);
	return rc;
}

/* ---- the log ---- */

typedef struct log_ctx {
	run_state *s;
	pw_buf line;
	long long last_s; /* the timestamp of the last line emitted and how many carried it */
	long last_ns;
	long at_last;
	long skip_left; /* on a resumed stream: lines at last_* already emitted */
	int resumed;
	size_t lines;
} log_ctx;

static int parse_ts(const char *t, size_t n, long long *s, long *ns)
{
	char buf[64];
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	long long v = pw__rfc3339_parse(buf);
	if (v < 0)
		return -1;
	*s = v;
	*ns = 0;
	const char *dot = strchr(buf, '.');
	if (dot) {
		long mul = 100000000;
		for (const char *p = dot + 1; *p >= '0' && *p <= '9' && mul > 0; p++, mul /= 10)
			*ns += (*p - '0') * mul;
	}
	return 0;
}

static void log_line(log_ctx *l, const char *text, size_t len, int complete)
{
	const char *sp = memchr(text, ' ', len);
	long long ts;
	long tns;
	if (!sp || parse_ts(text, (size_t)(sp - text), &ts, &tns) < 0) {
		pw_exec_output(l->s->api->ex, PW_STREAM_STDOUT, text, len);
		if (complete)
			pw_exec_output(l->s->api->ex, PW_STREAM_STDOUT, "\n", 1);
		return;
	}
	if (l->resumed) {
		int cmp = ts < l->last_s   ? -1
		          : ts > l->last_s ? 1
		                           : (tns < l->last_ns ? -1 : tns > l->last_ns);
		if (cmp < 0)
			return;
		if (cmp == 0 && l->skip_left > 0) {
			l->skip_left--;
			return;
		}
		l->resumed = 0;
	}
	if (ts == l->last_s && tns == l->last_ns) {
		l->at_last++;
	} else {
		l->last_s = ts;
		l->last_ns = tns;
		l->at_last = 1;
	}
	const char *msg = sp + 1;
	size_t mlen = len - (size_t)(msg - text);
	pw_exec_output(l->s->api->ex, PW_STREAM_STDOUT, msg, mlen);
	if (complete)
		pw_exec_output(l->s->api->ex, PW_STREAM_STDOUT, "\n", 1);
	l->lines++;
}

static int on_log_body(const char *data, size_t len, void *payload)
{
	log_ctx *l = payload;
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (l->line.len) {
			if (pw__buf_append(&l->line, data + start, i - start) < 0)
				return PW_EEXTERNAL;
			log_line(l, l->line.data, l->line.len, 1);
			pw__buf_clear(&l->line);
		} else {
			log_line(l, data + start, i - start, 1);
		}
		start = i + 1;
	}
	if (start < len && pw__buf_append(&l->line, data + start, len - start) < 0) {
		/* a line beyond the bound is emitted in pieces */
		log_line(l, l->line.data ? l->line.data : "", l->line.len, 0);
		pw__buf_clear(&l->line);
	}
	return 0;
}

/* Streams the container's log until it ends with the container; resumes dropped streams. */
static int follow_log(run_state *s, pw_error **err)
{
	log_ctx l = {s, PW_BUF_INIT(LINE_MAX_BYTES), 0, 0, 0, 0, 0, 0};
	int rc = 0;
	for (int round = 0;; round++) {
		if (s->api->ex && pw_exec_cancelled(s->api->ex)) {
			rc = cancel_reason_rc(s, err);
			break;
		}
		pw_buf path = PW_BUF_INIT(0);
		pw__k8s_path(&path, "v1", s->p->namespace_, "pods", s->pod);
		pw__buf_puts(&path, "/log");
		pw__http_query_add(&path, "container", "step");
		pw__http_query_add(&path, "follow", "true");
		pw__http_query_add(&path, "timestamps", "true");
		if (l.last_s > 0) {
			char since[40];
			time_t t = (time_t)l.last_s;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
			pw__http_query_add(&path, "sinceTime", since);
			l.resumed = 1;
			l.skip_left = l.at_last;
		}
		char *auth = NULL;
		rc = auth_header(&auth, s->api, 0, err);
		if (rc < 0) {
			pw__buf_dispose(&path);
			break;
		}
		const char *headers[] = {auth ? auth : "Accept: */*", NULL};
		pw_http_endpoint ep;
		pw__kube_access_endpoint(&ep, s->api->access);
		pw_http_request req = PW_HTTP_REQUEST_INIT;
		req.path_and_query = pw__buf_cstr(&path);
		req.headers = headers;
		req.cancel_fd = s->api->ex ? pw_exec_cancel_fd(s->api->ex) : -1;
		req.on_body = on_log_body;
		req.payload = &l;
		pw_http_response resp;
		pw__buf_clear(&l.line);
		pw_error *lerr = NULL;
		rc = pw__http_do(&resp, s->api->pool, &ep, &req, &lerr);
		pw_free(auth);
		pw__buf_dispose(&path);
		long st = rc == 0 ? resp.status : 0;
		pw__http_response_dispose(&resp);
		if (rc == PW_ECANCELLED) {
			pw_error_free(lerr);
			rc = cancel_reason_rc(s, err);
			break;
		}
		if (st == 401 || st == 403) {
			pw_error_free(lerr);
			rc = forbidden(s->api, st, "reading the log was refused", "get", "", "pods/log",
			               s->p->namespace_, err);
			break;
		}
		if (st == 404) {
			/* the pod is gone (deleted by someone else, or its node lost): no log will come */
			pw_error_free(lerr);
			pw__buf_clear(&s->why);
			pw__buf_printf(&s->why, "pod %s was deleted before its container finished", s->pod);
			snprintf(s->reason, sizeof(s->reason), "PodDeleted");
			rc = FAIL;
			break;
		}
		int clean = rc == 0 && st >= 200 && st < 300;
		if (s->api->ex && !clean)
			pw_exec_log(s->api->ex, PW_LOG_DEBUG, "kubernetes",
			            "log stream of %s ended (%s); resuming", s->pod,
			            lerr ? pw_error_message(lerr) : "status");
		pw_error_free(lerr);
		/* has the container ended? */
		int d = follow_pod(s, WANT_TERMINATED, now_ms() + (clean ? 2000 : 200), err);
		if (d < 0) {
			rc = d;
			break;
		}
		if (d == PROCEED && clean) {
			/* the final line without a newline */
			if (l.line.len)
				log_line(&l, l.line.data, l.line.len, 0);
			rc = 0;
			break;
		}
		if (d == FAIL) {
			rc = FAIL;
			break;
		}
		if (!clean)
			usleep(100 * 1000);
		rc = 0;
		if (round > 100000)
			break;
	}
	pw__buf_dispose(&l.line);
	return rc;
}

/* ---- events and cleanup ---- */

/* Appends the Warning events of object `name` to out ("\n  event Reason: message") and returns
 * how many there were; the first one's reason goes to first_reason. */
static int object_warnings(run_state *s, const char *name, pw_buf *out, char *first_reason, size_t cap)
{
	pw_buf path = PW_BUF_INIT(0);
	pw__k8s_path(&path, "v1", s->p->namespace_, "events", NULL);
	char sel[300];
	snprintf(sel, sizeof(sel), "involvedObject.name=%s", name);
	pw__http_query_add(&path, "fieldSelector", sel);
	json_t *list = NULL;
	int n = 0;
	if (pw__k8s_api_call(&list, NULL, s->api, "GET", pw__buf_cstr(&path), NULL, "list", "", "events",
	                     s->p->namespace_, 0, NULL) == 0) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(list, "items"), i, e)
		{
			const char *type = json_string_value(json_object_get(e, "type"));
			if (!type || strcmp(type, "Warning") != 0)
				continue;
			const char *r = pw__json_get_string(e, "reason");
			const char *m = pw__json_get_string(e, "message");
			pw__buf_printf(out, "\n  event %s: %s", r ? r : "?", m ? m : "");
			if (n++ == 0 && first_reason)
				snprintf(first_reason, cap, "%s", r ? r : "");
		}
	}
	json_decref(list);
	pw__buf_dispose(&path);
	return n;
}

/* The pod's warnings, then the Job's (quota, admission and other reasons a pod is not made). */
static void warning_events(run_state *s, pw_buf *out)
{
	if (s->pod[0])
		object_warnings(s, s->pod, out, NULL, 0);
	if (!s->job_events_shown)
		object_warnings(s, s->p->job_name, out, NULL, 0);
}

void pw__k8s_journal_entry(pw_journal_entry *je, const char **attrs, const pw_k8s_api *api,
                           const char *obj_path, const char *group, const char *resource, const char *ns,
                           const char *name)
{
	*je = (pw_journal_entry)PW_JOURNAL_ENTRY_INIT;
	je->connector = "kubernetes";
	je->kind = resource;
	je->name = name;
	je->address = api->access->server;
	je->scope = ns;
	size_t n = 0;
	attrs[n++] = "path";
	attrs[n++] = obj_path;
	attrs[n++] = "group";
	attrs[n++] = group ? group : "";
	if (api->access->source) {
		attrs[n++] = "kubeconfig";
		attrs[n++] = api->access->source;
	}
	if (api->access->context) {
		attrs[n++] = "context";
		attrs[n++] = api->access->context;
	}
	attrs[n] = NULL;
	je->attrs = attrs;
}

static void delete_object(run_state *s, const char *gv, const char *resource, const char *group,
                          const char *name)
{
	pw_buf path = PW_BUF_INIT(0);
	pw__k8s_path(&path, gv, s->p->namespace_, resource, name);
	pw_journal_entry je;
	const char *attrs[9];
	char *obj_path = pw_strdup(pw__buf_cstr(&path));
	pw__k8s_journal_entry(&je, attrs, s->api, obj_path ? obj_path : "", group, resource, s->p->namespace_,
	                      name);
	pw__http_query_add(&path, "propagationPolicy", "Background");
	json_t *opts = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
	                         "propagationPolicy", "Background");
	pw_k8s_api c = *s->api;
	c.call_timeout_ms = CLEANUP_TIMEOUT_MS;
	pw_error *e = NULL;
	int rc = pw__k8s_api_call(NULL, NULL, &c, "DELETE", pw__buf_cstr(&path), opts, "delete", group,
	                          resource, s->p->namespace_, 0, &e);
	if (rc == 0 || rc == PW_ENOTFOUND)
		pw__journal_removed(c.ex, &je);
	pw_free(obj_path);
	if (c.ex) {
		pw_buf tgt = PW_BUF_INIT(0);
		pw__buf_printf(&tgt, "%s %s/%s", resource, s->p->namespace_, name);
		pw_exec_audit(c.ex, "delete", pw__buf_cstr(&tgt),
		              rc == 0 || rc == PW_ENOTFOUND ? "ok" : "failed",
		              e ? pw_error_message(e) : NULL);
		if (rc < 0 && rc != PW_ENOTFOUND)
			pw_exec_log(c.ex, PW_LOG_WARN, "kubernetes",
			            "could not delete %s: %s (the Job's "
			            "ttlSecondsAfterFinished still reaps it)",
			            pw__buf_cstr(&tgt), pw_error_message(e));
		pw__buf_dispose(&tgt);
	}
	pw_error_free(e);
	json_decref(opts);
	pw__buf_dispose(&path);
}

/* Creates an object whose name is unique to this attempt (random suffix): a 409 can then only
 * mean that a retried POST had reached the server the first time, so the object is ours. */
static int create_own(pw_k8s_api *api, const char *path, const json_t *doc, const char *group,
                      const char *resource, const char *ns, pw_error **err)
{
	pw_error *e = NULL;
	pw_journal_entry je;
	const char *attrs[9];
	const char *name = pw__json_get_string(doc, "metadata.name");
	pw_buf obj = PW_BUF_INIT(0);
	pw__buf_printf(&obj, "%s/%s", path, name ? name : "");
	pw__k8s_journal_entry(&je, attrs, api, pw__buf_cstr(&obj), group, resource, ns, name);
	int jrc = pw__journal_created(api->ex, &je, err);
	if (jrc < 0) {
		pw__buf_dispose(&obj);
		return jrc;
	}
	long status = 0;
	int rc =
	    pw__k8s_api_call(NULL, &status, api, "POST", path, doc, "create", group, resource, ns, 1, &e);
	if (rc < 0 && rc != PW_EEXISTS && status >= 400 && status < 500 && status != 408 && status != 429)
		pw__journal_removed(api->ex, &je); /* refused: never made, nothing for gc */
	pw__buf_dispose(&obj);
	if (rc == PW_EEXISTS) {
		if (api->ex)
			pw_exec_log(api->ex, PW_LOG_DEBUG, "kubernetes",
			            "%s: created by an earlier attempt of the same request",
			            pw__json_get_string(doc, "metadata.name"));
		pw_error_free(e);
		return 0;
	}
	if (e) {
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
	}
	return rc;
}

int pw__k8s_job_run(pw_result **out, pw_k8s_api *api, const pw_k8s_job_params *p, double pending_timeout_s,
                    pw_k8s_event_fn on_event, void *payload, pw_error **err)
{
	run_state s = {.api = api, .p = p, .on_event = on_event, .payload = payload, .exit_code = -1};
	pw__buf_clear(&s.why);
	s.why.max = 64 * 1024;
	int rc = 0, secret_made = 0, job_made = 0;
	int64_t t0 = now_ms();
	json_t *doc = NULL;
	if (p->secret_name && p->secret_env && pw_map_count(p->secret_env)) {
		rc = pw__k8s_secret_manifest(&doc, p, 0);
		pw_buf path = PW_BUF_INIT(0);
		pw__k8s_path(&path, "v1", p->namespace_, "secrets", NULL);
		if (rc == 0)
			rc = create_own(api, pw__buf_cstr(&path), doc, "", "secrets", p->namespace_, err);
		pw__buf_dispose(&path);
		json_decref(doc);
		doc = NULL;
		if (rc < 0)
			goto cleanup;
		secret_made = 1;
	}
	rc = pw__k8s_job_manifest(&doc, p);
	if (rc == 0) {
		pw_buf path = PW_BUF_INIT(0);
		pw__k8s_path(&path, "batch/v1", p->namespace_, "jobs", NULL);
		rc = create_own(api, pw__buf_cstr(&path), doc, "batch", "jobs", p->namespace_, err);
		pw__buf_dispose(&path);
	}
	json_decref(doc);
	if (rc < 0)
		goto cleanup;
	job_made = 1;
	if (api->ex) {
		pw_buf t = PW_BUF_INIT(0);
		pw__buf_printf(&t, "jobs %s/%s", p->namespace_, p->job_name);
		pw_exec_audit(api->ex, "create", pw__buf_cstr(&t), "ok", NULL);
		pw__buf_dispose(&t);
	}
	int64_t created_ms = now_ms();
	event(&s, "job_created", -1, NULL);
	if (api->ex)
		pw_exec_log(api->ex, PW_LOG_DEBUG, "kubernetes", "job created in %lld ms",
		            (long long)(created_ms - t0));

	int64_t pend_deadline = created_ms + (int64_t)(pending_timeout_s * 1000.0);
	rc = follow_pod(&s, WANT_STARTED, pend_deadline, err);
	if (rc == 0) {
		pw__buf_clear(&s.why);
		pw__buf_printf(&s.why, "pod %s of job %s did not start within pending_timeout (%g s)%s%s",
		               s.pod[0] ? s.pod : "(none created)", p->job_name, pending_timeout_s,
		               s.unschedulable[0] ? ": " : "", s.unschedulable);
		snprintf(s.reason, sizeof(s.reason), "%s",
		         s.unschedulable[0] ? "Unschedulable" : "PendingTimeout");
		rc = FAIL;
	}
	if (rc == PROCEED)
		rc = follow_log(&s, err);
	if (rc == 0 && s.exit_code < 0)
		rc = follow_pod(&s, WANT_TERMINATED, 0, err) == PROCEED ? 0 : FAIL;
	if (rc == FAIL) {
		warning_events(&s, &s.why);
		pw_error *e = pw_error_new(PW_EKUBERNETES, "%s", pw__buf_cstr(&s.why));
		if (!strcmp(s.reason, "ImagePullBackOff") || !strcmp(s.reason, "ErrImagePull") ||
		    !strcmp(s.reason, "InvalidImageName"))
			pw_error_set_hint(
			    e, "check the image name and tag, and image_pull_secrets for private registries");
		else if (!strcmp(s.reason, "FailedCreate"))
			pw_error_set_hint(
			    e, "the cluster refused the pod: check the namespace's Pod Security level and "
			       "resource quota against security_context and resource_requests");
		else if (!strcmp(s.reason, "Unschedulable"))
			pw_error_set_hint(
			    e, "no node fits: check node_selector, tolerations and resource_requests");
		put_error(err, e);
		event(&s, "failed", -1, pw__buf_cstr(&s.why));
		rc = PW_EKUBERNETES;
	} else if (rc == PW_ECANCELLED) {
		event(&s,
		      api->ex && pw_exec_cancelled(api->ex) == PW_CANCEL_TIMEOUT ? "timed_out" : "cancelled",
		      -1, NULL);
	} else if (rc == 0) {
		int64_t ended = now_ms();
		event(&s, s.exit_code == 0 ? "succeeded" : "failed", s.exit_code,
		      s.reason[0] ? s.reason : NULL);
		pw_result *r = pw_result_new(s.exit_code, NULL, NULL);
		if (!r) {
			rc = PW_ENOMEM;
		} else {
			char buf[64];
			pw_result_with_metadata(r, "namespace", p->namespace_);
			pw_result_with_metadata(r, "job", p->job_name);
			pw_result_with_metadata(r, "pod", s.pod);
			if (s.reason[0])
				pw_result_with_metadata(r, "reason", s.reason);
			snprintf(buf, sizeof(buf), "%lld", (long long)(created_ms - t0));
			pw_result_with_metadata(r, "create_ms", buf);
			snprintf(buf, sizeof(buf), "%lld", (long long)(ended - t0));
			pw_result_with_metadata(r, "duration_ms", buf);
			*out = r;
		}
	}
cleanup:
	/* the log is collected by now; deleting comes last */
	if (job_made) {
		delete_object(&s, "batch/v1", "jobs", "batch", p->job_name);
		event(&s, "deleted", -1, NULL);
	}
	if (secret_made)
		delete_object(&s, "v1", "secrets", "", p->secret_name);
	pw__buf_dispose(&s.why);
	return rc;
}
