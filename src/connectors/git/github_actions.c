/* The small GitHub actions: commit status, deployment and deployment status, issue/PR
 * comment, workflow dispatch (optionally waiting for the run and its conclusion). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/git/github.h"
#include "core/step.h"
#include "net/json.h"

#define COMMENT_MAX ((size_t)65536)

static void copy_str(json_t *o, const pw_gh *g, const char *key)
{
	const char *s = pw__gh_str(g, key);
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void copy_bool(json_t *o, const pw_gh *g, const char *key)
{
	json_t *v = json_object_get(g->cfg, key);
	if (json_is_boolean(v))
		json_object_set(o, key, v);
}

/* The integer at key (a number or a string of digits); -1 when absent or not one. */
static long long cfg_int(const pw_gh *g, const char *key)
{
	json_t *v = json_object_get(g->cfg, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	const char *s = json_string_value(v);
	if (!s || !*s)
		return -1;
	char *end = NULL;
	long long n = strtoll(s, &end, 10);
	return *end ? -1 : n;
}

/* The request of the one-call actions: *path (caller frees) and *body (new reference). */
static int simple_request(char **path, json_t **body, pw_gh *g, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	json_t *o = json_object();
	const char *a = g->action;
	if (strcmp(a, "create-status") == 0) {
		char *sha = pw__http_escape(pw__gh_str(g, "sha"));
		pw__buf_printf(&p, "%s/statuses/%s", g->repo_path, sha);
		pw_free(sha);
		copy_str(o, g, "state");
		copy_str(o, g, "target_url");
		copy_str(o, g, "description");
		copy_str(o, g, "context");
	} else if (strcmp(a, "create-deployment") == 0) {
		pw__buf_printf(&p, "%s/deployments", g->repo_path);
		copy_str(o, g, "ref");
		copy_str(o, g, "task");
		copy_bool(o, g, "auto_merge");
		json_t *rc = json_object_get(g->cfg, "required_contexts");
		if (json_is_array(rc))
			json_object_set(o, "required_contexts", rc);
		json_t *pl = json_object_get(g->cfg, "payload");
		if (pl)
			json_object_set(o, "payload", pl);
		copy_str(o, g, "environment");
		copy_str(o, g, "description");
		copy_bool(o, g, "transient_environment");
		copy_bool(o, g, "production_environment");
	} else if (strcmp(a, "deployment-status") == 0) {
		pw__buf_printf(&p, "%s/deployments/%lld/statuses", g->repo_path, cfg_int(g, "deployment_id"));
		copy_str(o, g, "state");
		copy_str(o, g, "target_url");
		copy_str(o, g, "log_url");
		copy_str(o, g, "description");
		copy_str(o, g, "environment");
		copy_str(o, g, "environment_url");
		copy_bool(o, g, "auto_inactive");
	} else if (strcmp(a, "comment") == 0) {
		pw__buf_printf(&p, "%s/issues/%lld/comments", g->repo_path, cfg_int(g, "issue"));
		const char *bf = pw__gh_str(g, "body_file");
		char *text = NULL;
		if (bf) {
			int rc = pw__gh_read_file(&text, g, "body_file", bf, COMMENT_MAX, err);
			if (rc < 0) {
				json_decref(o);
				pw__buf_dispose(&p);
				return rc;
			}
		}
		json_object_set_new(o, "body", json_string(text ? text : pw__gh_str(g, "body")));
		pw_free(text);
	} else {
		json_decref(o);
		pw__buf_dispose(&p);
		return pw_error_set(err, PW_EINVAL, "unknown github action '%s'", a);
	}
	*path = pw__buf_detach(&p);
	*body = o;
	return 0;
}

static const char *verb_of(const char *action)
{
	if (strcmp(action, "create-status") == 0)
		return "set the commit status";
	if (strcmp(action, "create-deployment") == 0)
		return "create the deployment";
	if (strcmp(action, "deployment-status") == 0)
		return "set the deployment status";
	return "comment";
}

static int simple(pw_gh *g, pw_gh_resp *r, pw_error **err)
{
	char *path = NULL;
	json_t *body = NULL;
	int rc = simple_request(&path, &body, g, err);
	if (rc < 0)
		return rc;
	pw_gh_req q = {.method = "POST", .url = path, .body = body, .what = verb_of(g->action)};
	/* a commit status is a set-to-value: repeating it is harmless */
	q.retry_post = strcmp(g->action, "create-status") == 0;
	rc = pw__gh_call(r, g, &q, err);
	json_decref(body);
	pw_free(path);
	return rc;
}

static long long id_of(const json_t *o)
{
	long long id = 0;
	pw__json_get_int(&id, o, "id");
	return id;
}

int pw__gh_create_status(pw_gh *g, pw_error **err)
{
	pw_gh_resp r;
	int rc = simple(g, &r, err);
	const char *sha = pw__gh_str(g, "sha");
	const char *ctx = pw__gh_str(g, "context");
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "commit %s context %s", sha, ctx ? ctx : "default");
	pw__gh_audit(g, "create-status", pw__buf_cstr(&t), rc == 0 ? "ok" : "failed", pw__gh_str(g, "state"));
	pw__buf_dispose(&t);
	if (rc == 0) {
		pw__gh_say(g, "commit %s: status %s (%s)", sha, pw__gh_str(g, "state"),
		           ctx ? ctx : "default");
		pw__gh_meta_int(g, "status_id", id_of(r.json));
		pw__gh_meta(g, "status_url", pw__json_get_string(r.json, "url"));
	}
	pw__gh_resp_dispose(&r);
	return rc;
}

int pw__gh_create_deployment(pw_gh *g, pw_error **err)
{
	pw_gh_resp r;
	int rc = simple(g, &r, err);
	const char *env = pw__gh_str(g, "environment");
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "deployment of %s to %s", pw__gh_str(g, "ref"), env ? env : "production");
	if (rc == 0 && r.status == 202) {
		/* GitHub merged the default branch into ref instead of deploying */
		const char *m = pw__json_get_string(r.json, "message");
		pw__gh_audit(g, "create-deployment", pw__buf_cstr(&t), "not created", m);
		rc = pw_error_set(err, PW_EEXTERNAL,
		                  "GitHub did not create the deployment of '%s': %s (auto_merge merged the "
		                  "default branch into it)",
		                  pw__gh_str(g, "ref"), m ? m : "HTTP 202");
	} else {
		char d[48];
		snprintf(d, sizeof(d), "deployment %lld", rc == 0 ? id_of(r.json) : 0);
		pw__gh_audit(g, "create-deployment", pw__buf_cstr(&t), rc == 0 ? "ok" : "failed",
		             rc == 0 ? d : NULL);
	}
	pw__buf_dispose(&t);
	if (rc == 0) {
		pw__gh_say(g, "created deployment %lld of %s to %s", id_of(r.json), pw__gh_str(g, "ref"),
		           env ? env : "production");
		pw__gh_meta_int(g, "deployment_id", id_of(r.json));
		pw__gh_meta(g, "deployment_url", pw__json_get_string(r.json, "url"));
	}
	pw__gh_resp_dispose(&r);
	return rc;
}

int pw__gh_deployment_status(pw_gh *g, pw_error **err)
{
	pw_gh_resp r;
	int rc = simple(g, &r, err);
	char t[64];
	snprintf(t, sizeof(t), "deployment %lld", cfg_int(g, "deployment_id"));
	pw__gh_audit(g, "deployment-status", t, rc == 0 ? "ok" : "failed", pw__gh_str(g, "state"));
	if (rc == 0) {
		pw__gh_say(g, "deployment %lld: %s", cfg_int(g, "deployment_id"), pw__gh_str(g, "state"));
		pw__gh_meta_int(g, "deployment_status_id", id_of(r.json));
	}
	pw__gh_resp_dispose(&r);
	return rc;
}

int pw__gh_comment(pw_gh *g, pw_error **err)
{
	pw_gh_resp r;
	int rc = simple(g, &r, err);
	char t[64];
	snprintf(t, sizeof(t), "issue %lld", cfg_int(g, "issue"));
	char d[48];
	snprintf(d, sizeof(d), "comment %lld", rc == 0 ? id_of(r.json) : 0);
	pw__gh_audit(g, "comment", t, rc == 0 ? "ok" : "failed", rc == 0 ? d : NULL);
	if (rc == 0) {
		const char *url = pw__json_get_string(r.json, "html_url");
		pw__gh_say(g, "commented on #%lld: %s", cfg_int(g, "issue"), url ? url : "");
		pw__gh_meta_int(g, "comment_id", id_of(r.json));
		pw__gh_meta(g, "html_url", url);
	}
	pw__gh_resp_dispose(&r);
	return rc;
}

static json_t *dispatch_body(const pw_gh *g)
{
	json_t *o = json_object();
	copy_str(o, g, "ref");
	json_t *in = json_object_get(g->cfg, "inputs");
	if (json_is_object(in)) {
		json_t *conv = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(in, k, v)
		{
			/* workflow inputs are strings on the wire */
			if (json_is_string(v)) {
				json_object_set(conv, k, v);
			} else if (json_is_boolean(v)) {
				json_object_set_new(conv, k, json_string(json_is_true(v) ? "true" : "false"));
			} else if (json_is_integer(v)) {
				char t[32];
				snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(v));
				json_object_set_new(conv, k, json_string(t));
			} else if (json_is_real(v)) {
				char t[64];
				json_object_set_new(
				    conv, k, json_string(pw__real_text(t, sizeof(t), json_real_value(v))));
			}
		}
		json_object_set_new(o, "inputs", conv);
	}
	json_object_set_new(o, "return_run_details", json_true());
	return o;
}

static char *dispatch_path(const pw_gh *g)
{
	pw_buf p = PW_BUF_INIT(0);
	char *wf = pw__http_escape(pw__gh_str(g, "workflow"));
	pw__buf_printf(&p, "%s/actions/workflows/%s/dispatches", g->repo_path, wf);
	pw_free(wf);
	return pw__buf_detach(&p);
}

long long pw__gh_newest_run(const json_t *answer, const char *since)
{
	const json_t *best = NULL;
	size_t k;
	json_t *run;
	json_array_foreach(json_object_get(answer, "workflow_runs"), k, run)
	{
		const char *c = pw__json_get_string(run, "created_at");
		if (!c || (since && strcmp(c, since) < 0))
			continue;
		if (!best || id_of(run) > id_of(best))
			best = run;
	}
	return best ? id_of(best) : 0;
}

int pw__gh_run_outcome(const char **conclusion, const json_t *run)
{
	*conclusion = NULL;
	const char *status = pw__json_get_string(run, "status");
	if (!status || strcmp(status, "completed") != 0)
		return -1;
	const char *c = pw__json_get_string(run, "conclusion");
	*conclusion = c;
	return c && (strcmp(c, "success") == 0 || strcmp(c, "neutral") == 0 || strcmp(c, "skipped") == 0);
}

/* Without run details (older GitHub Enterprise Server), the run is the newest
 * workflow_dispatch run of the workflow on ref created since the dispatch. */
static int find_run(long long *id, pw_gh *g, const char *since, pw_error **err)
{
	char *wf = pw__http_escape(pw__gh_str(g, "workflow"));
	char *ref = pw__http_escape(pw__gh_str(g, "ref"));
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/actions/workflows/%s/runs?event=workflow_dispatch&branch=%s&per_page=20",
	               g->repo_path, wf, ref);
	pw_free(wf);
	pw_free(ref);
	int rc = 0;
	*id = 0;
	for (int i = 0; i < 100000 && *id == 0; i++) {
		pw_gh_resp r;
		pw_gh_req q = {.method = "GET", .url = pw__buf_cstr(&p), .what = "find the workflow run"};
		rc = pw__gh_call(&r, g, &q, err);
		*id = pw__gh_newest_run(r.json, since);
		pw__gh_resp_dispose(&r);
		if (rc < 0 || *id)
			break;
		rc = pw_exec_sleep(g->ex, g->poll_ms);
		if (rc < 0) {
			rc = pw_error_set(err, rc, "the step %s before the dispatched workflow run appeared",
			                  rc == PW_ETIMEOUT ? "timed out" : "was cancelled");
			break;
		}
	}
	pw__buf_dispose(&p);
	return rc;
}

static int wait_run(pw_gh *g, long long run_id, int *failed, pw_error **err)
{
	pw_buf p = PW_BUF_INIT(0);
	pw__buf_printf(&p, "%s/actions/runs/%lld", g->repo_path, run_id);
	int rc = 0;
	char *last = NULL;
	for (;;) {
		pw_gh_resp r;
		pw_gh_req q = {.method = "GET", .url = pw__buf_cstr(&p), .what = "follow the workflow run"};
		rc = pw__gh_call(&r, g, &q, err);
		if (rc < 0) {
			pw__gh_resp_dispose(&r);
			break;
		}
		const char *status = pw__json_get_string(r.json, "status");
		if (status && (!last || strcmp(last, status) != 0)) {
			pw__gh_say(g, "workflow run %lld: %s", run_id, status);
			pw_free(last);
			last = pw_strdup(status);
		}
		const char *c = NULL;
		int ok = pw__gh_run_outcome(&c, r.json);
		if (ok >= 0) {
			pw__gh_meta(g, "conclusion", c ? c : "unknown");
			pw__gh_meta(g, "run_url", pw__json_get_string(r.json, "html_url"));
			pw__gh_say(g, "workflow run %lld concluded: %s", run_id, c ? c : "unknown");
			*failed = !ok;
			pw__gh_resp_dispose(&r);
			break;
		}
		pw__gh_resp_dispose(&r);
		rc = pw_exec_sleep(g->ex, g->poll_ms);
		if (rc < 0) {
			rc = pw_error_set(err, rc,
			                  "the step %s while waiting for workflow run %lld (last status: %s)",
			                  rc == PW_ETIMEOUT ? "timed out" : "was cancelled", run_id,
			                  last ? last : "unknown");
			break;
		}
	}
	pw_free(last);
	pw__buf_dispose(&p);
	return rc;
}

int pw__gh_dispatch_workflow(pw_gh *g, int *failed, pw_error **err)
{
	*failed = 0;
	char since[32];
	time_t now = time(NULL) - 5; /* some leeway for clock skew */
	struct tm tmv;
	gmtime_r(&now, &tmv);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tmv);
	char *path = dispatch_path(g);
	json_t *body = dispatch_body(g);
	pw_gh_resp r;
	pw_gh_req q = {.method = "POST", .url = path, .body = body, .what = "dispatch the workflow"};
	int rc = pw__gh_call(&r, g, &q, err);
	json_decref(body);
	pw_free(path);
	long long run_id = 0;
	if (rc == 0)
		pw__json_get_int(&run_id, r.json, "workflow_run_id");
	pw_buf t = PW_BUF_INIT(0);
	pw__buf_printf(&t, "workflow %s on %s", pw__gh_str(g, "workflow"), pw__gh_str(g, "ref"));
	char d[48];
	snprintf(d, sizeof(d), "run %lld", run_id);
	pw__gh_audit(g, "dispatch-workflow", pw__buf_cstr(&t), rc == 0 ? "ok" : "failed", run_id ? d : NULL);
	pw__buf_dispose(&t);
	if (rc == 0 && run_id) {
		pw__gh_meta(g, "run_url", pw__json_get_string(r.json, "html_url"));
	}
	pw__gh_resp_dispose(&r);
	if (rc < 0)
		return rc;
	pw__gh_say(g, "dispatched workflow %s on %s%s", pw__gh_str(g, "workflow"), pw__gh_str(g, "ref"),
	           run_id ? "" : " (GitHub did not name the run)");
	if (!pw__gh_bool(g, "wait", 0)) {
		if (run_id)
			pw__gh_meta_int(g, "run_id", run_id);
		return 0;
	}
	if (!run_id)
		rc = find_run(&run_id, g, since, err);
	if (rc < 0)
		return rc;
	pw__gh_meta_int(g, "run_id", run_id);
	return wait_run(g, run_id, failed, err);
}

/* The plans of these actions: their one request (and the polling of a dispatch). */
void pw__gh_plan_simple(pw_gh *g);
void pw__gh_plan_simple(pw_gh *g)
{
	if (strcmp(g->action, "dispatch-workflow") == 0) {
		char *path = dispatch_path(g);
		json_t *body = dispatch_body(g);
		pw__gh_plan_request(g, "POST", path, body, NULL);
		json_decref(body);
		pw_free(path);
		if (pw__gh_bool(g, "wait", 0)) {
			pw_buf p = PW_BUF_INIT(0);
			pw__buf_printf(&p, "%s/actions/runs/{workflow_run_id}", g->repo_path);
			pw__gh_plan_request(
			    g, "GET", pw__buf_cstr(&p), NULL,
			    "repeated until the run completes; its conclusion decides the step");
			pw__buf_dispose(&p);
		}
		return;
	}
	char *path = NULL;
	json_t *body = NULL;
	pw_error *e = NULL;
	if (simple_request(&path, &body, g, &e) == 0)
		pw__gh_plan_request(g, "POST", path, body, NULL);
	else
		pw__buf_printf(&g->plan, "# %s\n", pw_error_message(e));
	pw_error_free(e);
	json_decref(body);
	pw_free(path);
}
