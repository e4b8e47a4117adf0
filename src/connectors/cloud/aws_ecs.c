/* ECS actions (JSON 1.1 over POST / with X-Amz-Target): update-service with a wait that follows
 * the new PRIMARY deployment's rolloutState and explains failures with the service events and
 * stopped tasks; run-task waiting for STOPPED with exit codes; register-task-definition from a
 * workspace file. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/cloud/aws.h"
#include "net/json.h"

#define ECS_TARGET "AmazonEC2ContainerServiceV20141113."
#define MAX_EVENTS 10
#define MAX_TASKDEF_FILE (1024 * 1024)

/* Calls an ECS operation with body (borrowed); the parsed answer in *out (NULL in plan). */
static int ecs_call(json_t **out, pw_aws_ctx *c, const char *op, const json_t *body, pw_error **err)
{
	*out = NULL;
	char target[128], iam[96];
	snprintf(target, sizeof(target), ECS_TARGET "%s", op);
	snprintf(iam, sizeof(iam), "ecs:%s", op);
	char *text = pw__json_dump(body);
	if (!text)
		return PW_ENOMEM;
	pw_aws_req r = {.service = "ecs",
	                .operation = op,
	                .iam_action = iam,
	                .method = "POST",
	                .path = "/",
	                .content_type = "application/x-amz-json-1.1",
	                .amz_target = target,
	                .body = text,
	                .body_len = strlen(text)};
	pw_http_response resp;
	int rc = pw__aws_call(&resp, c, &r, err);
	pw_free(text);
	if (rc < 0 || c->plan) {
		pw__http_response_dispose(&resp);
		return rc;
	}
	char what[160];
	snprintf(what, sizeof(what), "the answer to ECS %s", op);
	rc = pw__json_load(out, resp.body, resp.body_len, 0, what, err);
	pw__http_response_dispose(&resp);
	return rc;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static const char *cluster_of(const pw_aws_ctx *c)
{
	const char *cl = pw__aws_param_str(c, "cluster");
	return cl ? cl : "default";
}

/* Does the deployment's task definition ARN answer the requested one (ARN, family:rev, family)? */
static int td_matches(const char *arn, const char *want)
{
	if (!arn || !want)
		return 1;
	if (strncmp(want, "arn:", 4) == 0)
		return strcmp(arn, want) == 0;
	const char *slash = strrchr(arn, '/');
	const char *fam = slash ? slash + 1 : arn;
	if (strchr(want, ':'))
		return strcmp(fam, want) == 0;
	size_t n = strlen(want);
	return strncmp(fam, want, n) == 0 && fam[n] == ':';
}

static int seen_event(const json_t *ids, const char *id)
{
	size_t i;
	json_t *x;
	if (!id)
		return 0;
	json_array_foreach(ids, i, x)
	{
		const char *v = json_string_value(x);
		if (v && strcmp(v, id) == 0)
			return 1;
	}
	return 0;
}

static const char *str_or(const json_t *o, const char *key, const char *fallback)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : fallback;
}

void pw__aws_ecs_new_events(pw_buf *b, const json_t *svc, const json_t *before)
{
	size_t i, n = 0;
	json_t *ev;
	json_array_foreach(json_object_get(svc, "events"), i, ev)
	{
		const char *id = json_string_value(json_object_get(ev, "id"));
		if (seen_event(before, id) || n >= MAX_EVENTS)
			continue;
		pw__buf_printf(b, "  event: %s\n", str_or(ev, "message", "(no message)"));
		n++;
	}
}

void pw__aws_ecs_stopped_reasons(pw_buf *b, const json_t *answer)
{
	size_t i, j;
	json_t *t, *ct;
	json_array_foreach(json_object_get(answer, "tasks"), i, t)
	{
		const char *arn = json_string_value(json_object_get(t, "taskArn"));
		const char *id = arn && strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn;
		pw__buf_printf(b, "  stopped task %s: %s", id ? id : "?",
		               str_or(t, "stoppedReason", "(no reason given)"));
		json_array_foreach(json_object_get(t, "containers"), j, ct)
		{
			json_t *ec = json_object_get(ct, "exitCode");
			const char *why = json_string_value(json_object_get(ct, "reason"));
			pw__buf_printf(b, "; container %s", str_or(ct, "name", "?"));
			if (json_is_integer(ec))
				pw__buf_printf(b, " exit %lld", (long long)json_integer_value(ec));
			if (why)
				pw__buf_printf(b, " (%s)", why);
		}
		pw__buf_putc(b, '\n');
	}
}

int pw__aws_ecs_tasks_stopped(pw_buf *lines, pw_buf *reasons, int *exit_code, const json_t *answer)
{
	size_t i;
	json_t *t;
	*exit_code = 0;
	json_array_foreach(json_object_get(answer, "tasks"), i, t)
	{
		const char *ls = json_string_value(json_object_get(t, "lastStatus"));
		if (!ls || strcmp(ls, "STOPPED") != 0)
			return 0;
	}
	json_array_foreach(json_object_get(answer, "tasks"), i, t)
	{
		const char *sr = json_string_value(json_object_get(t, "stoppedReason"));
		pw__buf_printf(lines, "ECS task %s STOPPED (%s): %s\n", str_or(t, "taskArn", "?"),
		               str_or(t, "stopCode", "no stop code"), sr ? sr : "no reason given");
		if (sr)
			pw__buf_printf(reasons, "%s%s", reasons->len ? "; " : "", sr);
		size_t j;
		json_t *ct;
		json_array_foreach(json_object_get(t, "containers"), j, ct)
		{
			const char *name = str_or(ct, "name", "?");
			json_t *ec = json_object_get(ct, "exitCode");
			const char *why = json_string_value(json_object_get(ct, "reason"));
			if (json_is_integer(ec)) {
				long long x = json_integer_value(ec);
				pw__buf_printf(lines, "  container %s: exit %lld%s%s\n", name, x,
				               why ? " - " : "", why ? why : "");
				if (x != 0 && *exit_code == 0)
					*exit_code = (int)(x > 255 || x < 0 ? 1 : x);
			} else {
				pw__buf_printf(lines, "  container %s: no exit code%s%s\n", name,
				               why ? " - " : "", why ? why : "");
				if (*exit_code == 0)
					*exit_code = 1;
			}
		}
	}
	return 1;
}

/* Reasons of recently stopped tasks of the service: "task ID: reason; container X exit N". */
static void stopped_tasks(pw_buf *b, pw_aws_ctx *c, const char *service)
{
	json_t *q = json_object(), *ans = NULL;
	set_str(q, "cluster", cluster_of(c));
	set_str(q, "serviceName", service);
	set_str(q, "desiredStatus", "STOPPED");
	json_object_set_new(q, "maxResults", json_integer(5));
	pw_error *e = NULL;
	int rc = ecs_call(&ans, c, "ListTasks", q, &e);
	json_decref(q);
	json_t *arns = json_object_get(ans, "taskArns");
	if (rc < 0 || json_array_size(arns) == 0) {
		pw_error_free(e);
		json_decref(ans);
		return;
	}
	q = json_object();
	set_str(q, "cluster", cluster_of(c));
	json_object_set(q, "tasks", arns);
	json_t *d = NULL;
	rc = ecs_call(&d, c, "DescribeTasks", q, &e);
	json_decref(q);
	json_decref(ans);
	pw_error_free(e);
	pw__aws_ecs_stopped_reasons(b, d);
	json_decref(d);
}

static int deploy_failed(pw_aws_ctx *c, const char *service, const char *what, const json_t *svc,
                         const json_t *before, pw_error **err)
{
	pw_buf d = PW_BUF_INIT(0);
	pw__aws_ecs_new_events(&d, svc, before);
	stopped_tasks(&d, c, service);
	if (c->ex && d.len)
		pw_exec_output(c->ex, PW_STREAM_STDERR, d.data, d.len);
	pw_error_set(err, PW_EEXTERNAL, "ECS service %s/%s: %s", cluster_of(c), service, what);
	if (err && *err) {
		pw_error_set_response(*err, d.len ? pw__buf_cstr(&d) : "(ECS listed no new service events)");
		pw_error_set_hint(*err,
		                  "the service events and stopped tasks above say why the new tasks did not "
		                  "become healthy (image, health check, resources, permissions of the task "
		                  "execution role)");
	}
	pw__buf_dispose(&d);
	return PW_EEXTERNAL;
}

/* ECS allows up to 128 letters, digits, hyphens, underscores and slashes in startedBy. */
#define STARTED_BY_MAX 128

/* The run-scoped startedBy a waiting run-task tags its tasks with, so that a task of a run that
 * died can be found again (ListTasks startedBy): "pipewright-<run-id>-<step>", other characters
 * replaced by '-', and when too long cut with a hash of the whole so that two steps stay apart. */
static void started_by_value(char *out, size_t cap, const pw_aws_ctx *c)
{
	const char *run = c->ex ? pw_exec_run_id(c->ex) : NULL;
	const char *step = c->ex ? pw_exec_step_name(c->ex) : NULL;
	if (!step && c->step)
		step = c->step->name;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "pipewright-%s-%s", run && *run ? run : (c->plan ? "RUN_ID" : "run"),
	               step && *step ? step : "step");
	char *v = b.data ? b.data : "";
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (char *p = v; *p; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			*p = '-';
	}
	size_t max = cap - 1 < STARTED_BY_MAX ? cap - 1 : STARTED_BY_MAX;
	if (strlen(v) <= max)
		snprintf(out, cap, "%s", v);
	else
		snprintf(out, cap, "%.*s-%016llx", (int)(max - 17), v, (unsigned long long)h);
	pw__buf_dispose(&b);
}

int pw__aws_ecs_stop_started_by(pw_aws_ctx *c, const char *cluster, const char *started_by,
                                const char *reason, json_t *stopped, pw_error **err)
{
	/* every page first: a stopped task leaves the RUNNING list and would shift the pages */
	json_t *arns = json_array();
	char *token = NULL;
	int rc = 0;
	for (int page = 0; rc == 0 && page < 1000; page++) {
		json_t *q = json_object(), *ans = NULL;
		set_str(q, "cluster", cluster);
		set_str(q, "startedBy", started_by);
		set_str(q, "nextToken", token);
		rc = ecs_call(&ans, c, "ListTasks", q, err);
		json_decref(q);
		pw_free(token);
		token = NULL;
		if (rc == PW_ENOTFOUND) { /* ClusterNotFoundException: its tasks went with it */
			if (err) {
				pw_error_free(*err);
				*err = NULL;
			}
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(ans, "taskArns"), i, a) if (json_is_string(a))
		    json_array_append(arns, a);
		const char *next = json_string_value(json_object_get(ans, "nextToken"));
		token = next && *next ? pw_strdup(next) : NULL;
		json_decref(ans);
		if (!token)
			break;
	}
	pw_free(token);
	size_t i;
	json_t *a;
	/* one that cannot be stopped does not keep the others running: the first error is kept */
	json_array_foreach(arns, i, a)
	{
		if (rc < 0 && rc != PW_EEXTERNAL)
			break; /* denied, no credentials, cancelled: the next would fail the same way */
		json_t *q = json_object(), *ans = NULL;
		set_str(q, "cluster", cluster);
		json_object_set(q, "task", a);
		set_str(q, "reason", reason);
		pw_error *e = NULL;
		int one = ecs_call(&ans, c, "StopTask", q, &e);
		json_decref(q);
		json_decref(ans);
		char target[512];
		snprintf(target, sizeof(target), "ecs task %s", json_string_value(a));
		pw_exec_audit(c->ex, "ecs:StopTask", target, one == 0 ? "ok" : "failed",
		              one == 0 ? reason : (e ? pw_error_message(e) : NULL));
		if (one == 0 && stopped)
			json_array_append(stopped, a);
		if (one < 0 && rc == 0) {
			rc = one;
			if (err && !*err) {
				*err = e;
				e = NULL;
			}
		}
		pw_error_free(e);
	}
	json_decref(arns);
	return rc;
}

/* After a waiting run-task ended without its tasks stopping (cancelled, timed out, an error):
 * stops them, and marks the journal record removed once nothing of it runs. */
static void stop_after(pw_aws_ctx *c, const char *sb, const pw_journal_entry *je, const char *why)
{
	char reason[256];
	const char *run = c->ex ? pw_exec_run_id(c->ex) : NULL;
	const char *step = c->ex ? pw_exec_step_name(c->ex) : NULL;
	snprintf(reason, sizeof(reason), "stopped by pipewright: run %.80s, step %.80s %s", run ? run : "?",
	         step ? step : "?", why);
	int was = c->cleanup;
	c->cleanup = 1; /* the exec may be cancelled: these calls must still go out */
	json_t *stopped = json_array();
	pw_error *e = NULL;
	int rc = pw__aws_ecs_stop_started_by(c, cluster_of(c), sb, reason, stopped, &e);
	c->cleanup = was;
	size_t i;
	json_t *a;
	json_array_foreach(stopped, i, a)
	    pw__aws_say(c, "ECS task stopped: %s (%s)", json_string_value(a), why);
	if (rc == 0)
		pw__journal_removed(c->ex, je);
	else
		pw_exec_log(c->ex, PW_LOG_WARN, "aws",
		            "could not stop the ECS tasks started by %s (pipewright gc will): %s", sb,
		            pw_error_message(e));
	pw_error_free(e);
	json_decref(stopped);
}

static int update_service(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	const char *service = pw__aws_param_str(c, "service");
	const char *td = pw__aws_param_str(c, "task_definition");
	int wait = pw__aws_param_bool(c, "wait", 1);
	json_t *q = json_object();
	set_str(q, "cluster", cluster_of(c));
	set_str(q, "service", service);
	set_str(q, "taskDefinition", td);
	json_t *fnd = json_object_get(c->params, "force_new_deployment");
	if (fnd)
		json_object_set(q, "forceNewDeployment", fnd);
	json_t *dc = json_object_get(c->params, "desired_count");
	if (dc)
		json_object_set_new(q, "desiredCount", pw__config_typed(dc));
	json_t *ans = NULL;
	int rc = ecs_call(&ans, c, "UpdateService", q, err);
	json_decref(q);
	char target[512];
	snprintf(target, sizeof(target), "ecs service %s/%s", cluster_of(c), service);
	if (c->plan) {
		if (wait)
			pw__buf_printf(
			    c->plan,
			    "# then: POST DescribeServices every %.1fs (growing) until the new PRIMARY "
			    "deployment's rolloutState is COMPLETED; FAILED or a rollback fails the step\n\n",
			    (double)c->poll_ms / 1000.0);
		return 0;
	}
	if (rc < 0) {
		pw_exec_audit(c->ex, "ecs:UpdateService", target, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
		return rc;
	}
	json_t *svc = json_object_get(ans, "service");
	const char *dep_id = NULL, *dep_td = NULL;
	int already = 0; /* the PRIMARY deployment had completed before this update */
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(svc, "deployments"), i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "status"))
		               ? json_string_value(json_object_get(d, "status"))
		               : "",
		           "PRIMARY") == 0) {
			dep_id = json_string_value(json_object_get(d, "id"));
			dep_td = json_string_value(json_object_get(d, "taskDefinition"));
			const char *rs0 = json_string_value(json_object_get(d, "rolloutState"));
			already = rs0 && strcmp(rs0, "COMPLETED") == 0;
		}
	}
	json_t *before = json_array();
	json_t *ev;
	json_array_foreach(json_object_get(svc, "events"), i, ev)
	    json_array_append(before, json_object_get(ev, "id"));
	char *dep = pw_strdup(dep_id ? dep_id : "");
	char *dtd = pw_strdup(dep_td ? dep_td : (td ? td : ""));
	char *svc_arn = pw_strdup(json_string_value(json_object_get(svc, "serviceArn"))
	                              ? json_string_value(json_object_get(svc, "serviceArn"))
	                              : "");
	char detail[1024];
	snprintf(detail, sizeof(detail), "deployment %s, task definition %s", dep, dtd);
	pw_exec_audit(c->ex, "ecs:UpdateService", target, "ok", detail);
	if (already)
		pw__aws_say(c,
		            "ECS service %s/%s: no new deployment (the service already runs %s; "
		            "force_new_deployment: true restarts its tasks)",
		            cluster_of(c), service, dtd);
	else
		pw__aws_say(c, "ECS service %s/%s: deployment %s started with %s", cluster_of(c), service,
		            dep, dtd);
	json_decref(ans);
	ans = NULL;
	if (!dep_id) {
		rc = pw_error_set(err, PW_EEXTERNAL,
		                  "ECS UpdateService answered without a PRIMARY deployment for %s", target);
	} else if (td && !td_matches(dtd, td)) {
		rc = pw_error_set(
		    err, PW_EEXTERNAL,
		    "ECS service %s: the PRIMARY deployment runs %s, not the requested task definition %s",
		    target, dtd, td);
	}
	const char *state = wait ? "IN_PROGRESS" : "STARTED";
	char last[256] = "";
	for (unsigned attempt = 0; rc == 0 && wait; attempt++) {
		rc = pw__aws_poll_wait(c, attempt, "the ECS deployment to complete", err);
		if (rc < 0)
			break;
		q = json_object();
		set_str(q, "cluster", cluster_of(c));
		json_t *list = json_array();
		json_array_append_new(list, json_string(service));
		json_object_set_new(q, "services", list);
		rc = ecs_call(&ans, c, "DescribeServices", q, err);
		json_decref(q);
		if (rc < 0)
			break;
		json_t *s = json_array_get(json_object_get(ans, "services"), 0);
		if (!s) {
			json_t *f = json_array_get(json_object_get(ans, "failures"), 0);
			rc = pw_error_set(err, PW_ENOTFOUND, "ECS DescribeServices: service %s is %s", target,
			                  str_or(f, "reason", "missing"));
			break;
		}
		json_t *mine = NULL;
		size_t ndep = json_array_size(json_object_get(s, "deployments"));
		json_array_foreach(json_object_get(s, "deployments"), i,
		                   d) if (strcmp(json_string_value(json_object_get(d, "id"))
		                                     ? json_string_value(json_object_get(d, "id"))
		                                     : "",
		                                 dep) == 0) mine = d;
		if (!mine) {
			rc = deploy_failed(
			    c, service,
			    "deployment was rolled back (the deployment circuit breaker replaced it)", s,
			    before, err);
			break;
		}
		const char *rs = json_string_value(json_object_get(mine, "rolloutState"));
		const char *st = json_string_value(json_object_get(mine, "status"));
		long long run = 0, want = 0, pend = 0, failed = 0;
		pw__json_get_int(&run, mine, "runningCount");
		pw__json_get_int(&want, mine, "desiredCount");
		pw__json_get_int(&pend, mine, "pendingCount");
		pw__json_get_int(&failed, mine, "failedTasks");
		char now[256];
		snprintf(now, sizeof(now), "rollout %s: running %lld/%lld, pending %lld, failed tasks %lld",
		         rs ? rs : "(no rolloutState)", run, want, pend, failed);
		if (strcmp(now, last) != 0) {
			pw__aws_say(c, "%s", now);
			snprintf(last, sizeof(last), "%s", now);
		}
		if (rs && strcmp(rs, "FAILED") == 0) {
			const char *why = json_string_value(json_object_get(mine, "rolloutStateReason"));
			pw_buf m = PW_BUF_INIT(0);
			pw__buf_printf(&m, "deployment %s FAILED: %s", dep, why ? why : "(no reason given)");
			rc = deploy_failed(c, service, pw__buf_cstr(&m), s, before, err);
			pw__buf_dispose(&m);
			break;
		}
		if (st && strcmp(st, "PRIMARY") != 0) {
			rc = deploy_failed(c, service, "deployment is no longer PRIMARY (rolled back)", s,
			                   before, err);
			break;
		}
		if ((rs && strcmp(rs, "COMPLETED") == 0) || (!rs && ndep == 1 && run == want)) {
			state = "COMPLETED";
			break;
		}
		json_decref(ans);
		ans = NULL;
	}
	json_decref(ans);
	json_decref(before);
	if (rc == 0) {
		pw__aws_say(c, "ECS service %s/%s: deployment %s %s", cluster_of(c), service, dep, state);
		*out = pw_result_success(NULL);
		pw_result_with_metadata(*out, "service_arn", svc_arn);
		pw_result_with_metadata(*out, "deployment_id", dep);
		pw_result_with_metadata(*out, "task_definition", dtd);
		pw_result_with_metadata(*out, "rollout_state", state);
		pw_exec_set_output(c->ex, "deployment_id", dep);
		pw_exec_set_output(c->ex, "task_definition_arn", dtd);
	} else if (wait && dep_id) {
		pw_exec_audit(c->ex, "ecs:UpdateService", target, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
	}
	pw_free(dep);
	pw_free(dtd);
	pw_free(svc_arn);
	return rc;
}

static int run_task(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	const char *td = pw__aws_param_str(c, "task_definition");
	int wait = pw__aws_param_bool(c, "wait", 1);
	json_t *q = json_object();
	set_str(q, "cluster", cluster_of(c));
	set_str(q, "taskDefinition", td);
	json_t *v = json_object_get(c->params, "count");
	if (v)
		json_object_set_new(q, "count", pw__config_typed(v));
	set_str(q, "launchType", pw__aws_param_str(c, "launch_type"));
	char sb[STARTED_BY_MAX + 1];
	started_by_value(sb, sizeof(sb), c);
	const char *user_sb = pw__aws_param_str(c, "started_by");
	/* with wait, started_by is refused by validation (aws.c): the tag is gc's */
	set_str(q, "startedBy", user_sb ? user_sb : sb);
	json_t *subnets = json_object_get(c->params, "subnets");
	if (subnets) {
		json_t *vpc = json_object();
		json_object_set(vpc, "subnets", subnets);
		json_t *sg = json_object_get(c->params, "security_groups");
		if (sg)
			json_object_set(vpc, "securityGroups", sg);
		json_t *pub = json_object_get(c->params, "assign_public_ip");
		if (pub)
			set_str(vpc, "assignPublicIp", json_is_true(pub) ? "ENABLED" : "DISABLED");
		json_t *nc = json_object();
		json_object_set_new(nc, "awsvpcConfiguration", vpc);
		json_object_set_new(q, "networkConfiguration", nc);
	}
	json_t *cmd = json_object_get(c->params, "command");
	json_t *env = json_object_get(c->params, "environment");
	const char *cname = pw__aws_param_str(c, "container");
	const char *mode = pw__aws_param_str(c, "env_update");
	if ((cmd || env) && !cname) {
		json_decref(q);
		pw_error_set(err, PW_ECONFIG,
		             "parameters.command and parameters.environment need parameters.container");
		if (err && *err)
			pw_error_set_key(*err, "parameters.container");
		return PW_ECONFIG;
	}
	if (env && mode && strcmp(mode, "merge") != 0) {
		json_decref(q);
		pw_error_set(err, PW_ECONFIG,
		             "ECS container overrides always merge with the task definition's "
		             "environment: env_update must be merge");
		if (err && *err) {
			pw_error_set_key(*err, "parameters.env_update");
			pw_error_set_hint(*err,
			                  "to replace the environment, register a task definition with it "
			                  "(register-task-definition)");
		}
		return PW_ECONFIG;
	}
	if (cmd || env) {
		json_t *co = json_object();
		set_str(co, "name", cname);
		if (cmd)
			json_object_set(co, "command", cmd);
		if (env) {
			json_t *list = json_array();
			const char *k;
			json_t *ev;
			json_object_foreach(env, k, ev)
			{
				if (!json_is_string(ev)) {
					json_decref(list);
					json_decref(co);
					json_decref(q);
					return pw_error_set(err, PW_ECONFIG,
					                    "parameters.environment.%s must be a string", k);
				}
				json_t *pair = json_object();
				set_str(pair, "name", k);
				json_object_set(pair, "value", ev);
				json_array_append_new(list, pair);
			}
			json_object_set_new(co, "environment", list);
		}
		json_t *arr = json_array();
		json_array_append_new(arr, co);
		json_t *ov = json_object();
		json_object_set_new(ov, "containerOverrides", arr);
		json_object_set_new(q, "overrides", ov);
	}
	/* a task the step waits for is the step's: journaled (by its startedBy, the ARN is not
	 * known before the call) so that gc stops it if the run dies; one that runs on without the
	 * step (wait: false) is the user's on purpose and is not journaled */
	pw_journal_entry je = PW_JOURNAL_ENTRY_INIT;
	pw_aws_journal jb;
	memset(&jb, 0, sizeof(jb));
	int journaled = 0;
	if (wait && !c->plan) {
		const char *attrs[] = {"cluster", cluster_of(c), NULL};
		pw__aws_journal_entry(&je, &jb, c, "ecs", "ecs-tasks", sb, attrs);
		int jrc = pw__journal_created(c->ex, &je, err);
		if (jrc < 0) {
			pw__aws_journal_dispose(&jb);
			json_decref(q);
			return jrc;
		}
		journaled = 1;
	}
	json_t *ans = NULL;
	int rc = ecs_call(&ans, c, "RunTask", q, err);
	json_decref(q);
	char target[512];
	snprintf(target, sizeof(target), "ecs task %s on cluster %s", td, cluster_of(c));
	if (c->plan) {
		if (wait)
			pw__buf_printf(c->plan, "# then: POST DescribeTasks until every task is STOPPED; the "
			                        "containers' exit codes decide the step's\n\n");
		return 0;
	}
	if (rc < 0) {
		pw_exec_audit(c->ex, "ecs:RunTask", target, "failed",
		              err && *err ? pw_error_message(*err) : NULL);
		if (journaled && err && *err && pw_error_response(*err))
			pw__journal_removed(c->ex, &je); /* ECS answered with an error: nothing started */
		else if (journaled)
			stop_after(c, sb, &je, "lost the answer to RunTask"); /* it may have started */
		pw__aws_journal_dispose(&jb);
		return rc;
	}
	json_t *failures = json_object_get(ans, "failures");
	json_t *tasks = json_object_get(ans, "tasks");
	if (json_array_size(failures) > 0 || json_array_size(tasks) == 0) {
		pw_buf m = PW_BUF_INIT(0);
		size_t i;
		json_t *f;
		json_array_foreach(failures, i, f)
		    pw__buf_printf(&m, "%s%s: %s%s%s", i ? "; " : "",
		                   json_string_value(json_object_get(f, "arn"))
		                       ? json_string_value(json_object_get(f, "arn"))
		                       : "task",
		                   json_string_value(json_object_get(f, "reason"))
		                       ? json_string_value(json_object_get(f, "reason"))
		                       : "?",
		                   json_string_value(json_object_get(f, "detail")) ? " - " : "",
		                   json_string_value(json_object_get(f, "detail"))
		                       ? json_string_value(json_object_get(f, "detail"))
		                       : "");
		rc = pw_error_set(err, PW_EEXTERNAL, "ECS RunTask started no task for %s", target);
		if (err && *err) {
			pw_error_set_response(*err, m.len ? pw__buf_cstr(&m) : "no failures listed");
			pw_error_set_hint(
			    *err, "RESOURCE:CPU/MEMORY means the cluster has no room; MISSING means a "
			          "name is wrong; check launch_type and the network parameters");
		}
		pw__buf_dispose(&m);
		pw_exec_audit(c->ex, "ecs:RunTask", target, "failed", "no task started");
		if (journaled && json_array_size(tasks) > 0)
			stop_after(c, sb, &je, "failed: not every task started"); /* the ones that did */
		else if (journaled)
			pw__journal_removed(c->ex, &je);
		pw__aws_journal_dispose(&jb);
		json_decref(ans);
		return rc;
	}
	json_t *arns = json_array();
	size_t i;
	json_t *t;
	pw_buf arnlist = PW_BUF_INIT(0);
	json_array_foreach(tasks, i, t)
	{
		const char *arn = json_string_value(json_object_get(t, "taskArn"));
		json_array_append_new(arns, json_string(arn ? arn : ""));
		pw__buf_printf(&arnlist, "%s%s", i ? "," : "", arn ? arn : "");
		pw__aws_say(c, "ECS task started: %s", arn ? arn : "?");
	}
	pw_exec_audit(c->ex, "ecs:RunTask", target, "ok", pw__buf_cstr(&arnlist));
	json_decref(ans);
	ans = NULL;
	int exit_code = 0;
	pw_buf reasons = PW_BUF_INIT(0);
	for (unsigned attempt = 0; rc == 0 && wait; attempt++) {
		rc = pw__aws_poll_wait(c, attempt, "the ECS task to stop", err);
		if (rc < 0)
			break;
		q = json_object();
		set_str(q, "cluster", cluster_of(c));
		json_object_set(q, "tasks", arns);
		rc = ecs_call(&ans, c, "DescribeTasks", q, err);
		json_decref(q);
		if (rc < 0)
			break;
		if (json_array_size(json_object_get(ans, "tasks")) == 0) {
			rc = pw_error_set(err, PW_EEXTERNAL,
			                  "ECS DescribeTasks does not know the tasks of %s any more "
			                  "(%s)",
			                  target,
			                  pw__json_get_string(ans, "failures.0.reason")
			                      ? pw__json_get_string(ans, "failures.0.reason")
			                      : "no reason");
			break;
		}
		pw_buf lines = PW_BUF_INIT(0);
		int all = pw__aws_ecs_tasks_stopped(&lines, &reasons, &exit_code, ans);
		for (const char *l = pw__buf_cstr(&lines); *l;) {
			size_t n = strcspn(l, "\n");
			pw__aws_say(c, "%.*s", (int)n, l);
			l += n + (l[n] ? 1 : 0);
		}
		pw__buf_dispose(&lines);
		if (all)
			break;
		json_decref(ans);
		ans = NULL;
	}
	json_decref(ans);
	json_decref(arns);
	if (journaled && rc == 0) {
		pw__journal_removed(c->ex, &je); /* every task stopped */
	} else if (journaled) {
		int code = err && *err ? pw_error_code(*err) : rc;
		stop_after(c, sb, &je,
		           code == PW_ECANCELLED ? "was cancelled"
		           : code == PW_ETIMEOUT ? "timed out waiting for the task"
		                                 : "failed waiting for the task");
	}
	pw__aws_journal_dispose(&jb);
	if (rc == 0) {
		*out = exit_code == 0 ? pw_result_success(NULL)
		                      : pw_result_failure(exit_code, reasons.len ? pw__buf_cstr(&reasons)
		                                                                 : "a container failed");
		pw_result_with_metadata(*out, "task_arns", pw__buf_cstr(&arnlist));
		if (reasons.len)
			pw_result_with_metadata(*out, "stopped_reason", pw__buf_cstr(&reasons));
		pw_exec_set_output(c->ex, "task_arns", pw__buf_cstr(&arnlist));
	}
	pw__buf_dispose(&reasons);
	pw__buf_dispose(&arnlist);
	return rc;
}

/* Members of RegisterTaskDefinitionRequest (ecs-2014-11-13.normal.json). */
static const char *const register_members[] = {"family",
                                               "taskRoleArn",
                                               "executionRoleArn",
                                               "networkMode",
                                               "containerDefinitions",
                                               "volumes",
                                               "placementConstraints",
                                               "requiresCompatibilities",
                                               "cpu",
                                               "memory",
                                               "tags",
                                               "pidMode",
                                               "ipcMode",
                                               "proxyConfiguration",
                                               "inferenceAccelerators",
                                               "ephemeralStorage",
                                               "runtimePlatform",
                                               NULL};

/* Drops null-valued keys (and nulls in arrays) everywhere below v. */
static void drop_nulls(json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, x)
		{
			if (json_is_null(x))
				json_object_del(v, k);
			else
				drop_nulls(x);
		}
	} else if (json_is_array(v)) {
		for (size_t i = json_array_size(v); i-- > 0;) {
			json_t *x = json_array_get(v, i);
			if (json_is_null(x))
				json_array_remove(v, i);
			else
				drop_nulls(x);
		}
	}
}

static int register_task_definition(pw_result **out, pw_aws_ctx *c, pw_error **err)
{
	char *path = NULL;
	int rc = pw__aws_ws_path(&path, c, pw__aws_param_str(c, "file"), "file", err);
	if (rc < 0)
		return rc;
	FILE *f = fopen(path, "rb");
	if (!f) {
		pw_error_set(err, PW_ECONFIG, "cannot read the task definition file '%s'", path);
		if (err && *err) {
			pw_error_set_key(*err, "parameters.file");
			pw_error_set_hint(*err, "paths are relative to the workspace");
		}
		pw_free(path);
		return PW_ECONFIG;
	}
	pw_buf b = PW_BUF_INIT(MAX_TASKDEF_FILE);
	char chunk[4096];
	size_t n;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = pw__buf_append(&b, chunk, n);
	fclose(f);
	json_t *doc = NULL;
	if (rc < 0)
		rc =
		    pw_error_set(err, PW_ECONFIG, "the task definition file '%s' is larger than 1 MiB", path);
	else
		rc = pw__json_load(&doc, pw__buf_cstr(&b), b.len, 0, path, err);
	pw__buf_dispose(&b);
	pw_free(path);
	if (rc < 0)
		return rc;
	/* the output of describe-task-definition holds it under "taskDefinition" */
	json_t *td = json_object_get(doc, "taskDefinition");
	td = json_is_object(td) ? json_deep_copy(td) : json_deep_copy(doc);
	json_decref(doc);
	if (!json_is_object(td)) {
		json_decref(td);
		return pw_error_set(err, PW_ECONFIG, "the task definition file is not a JSON object");
	}
	const char *k;
	json_t *x;
	void *tmp;
	pw_buf dropped = PW_BUF_INIT(0);
	json_object_foreach_safe(td, tmp, k, x)
	{
		int ok = 0;
		for (size_t i = 0; register_members[i]; i++)
			ok |= strcmp(register_members[i], k) == 0;
		if (!ok) {
			pw__buf_printf(&dropped, "%s%s", dropped.len ? ", " : "", k);
			json_object_del(td, k);
		}
	}
	drop_nulls(td);
	if (dropped.len)
		pw_exec_log(c->ex, PW_LOG_INFO, "aws",
		            "dropped fields RegisterTaskDefinition does not take: %s",
		            pw__buf_cstr(&dropped));
	pw__buf_dispose(&dropped);
	const char *fam = pw__aws_param_str(c, "family");
	if (fam)
		json_object_set_new(td, "family", json_string(fam));
	json_t *defs = json_object_get(td, "containerDefinitions");
	const char *image = pw__aws_param_str(c, "image");
	const char *cname = pw__aws_param_str(c, "container_name");
	rc = 0;
	if (!json_is_string(json_object_get(td, "family")) || !json_is_array(defs) ||
	    json_array_size(defs) == 0) {
		rc = pw_error_set(err, PW_ECONFIG,
		                  "the task definition needs `family` and `containerDefinitions`");
	} else if (image) {
		json_t *hit = NULL;
		size_t i;
		json_t *cd;
		pw_buf names = PW_BUF_INIT(0);
		json_array_foreach(defs, i, cd)
		{
			const char *nm = json_string_value(json_object_get(cd, "name"));
			pw__buf_printf(&names, "%s%s", i ? ", " : "", nm ? nm : "?");
			if ((cname && nm && strcmp(nm, cname) == 0) || (!cname && json_array_size(defs) == 1))
				hit = cd;
		}
		if (!hit) {
			rc = pw_error_set(err, PW_ECONFIG, "%s: the task definition's containers are %s",
			                  cname ? "no container by parameters.container_name"
			                        : "several containers and no parameters.container_name",
			                  pw__buf_cstr(&names));
			if (err && *err)
				pw_error_set_key(*err, "parameters.container_name");
		} else {
			json_object_set_new(hit, "image", json_string(image));
		}
		pw__buf_dispose(&names);
	}
	json_t *ans = NULL;
	if (rc == 0)
		rc = ecs_call(&ans, c, "RegisterTaskDefinition", td, err);
	char target[300];
	snprintf(target, sizeof(target), "ecs task definition family %s",
	         json_string_value(json_object_get(td, "family"))
	             ? json_string_value(json_object_get(td, "family"))
	             : "?");
	json_decref(td);
	if (c->plan || rc < 0) {
		if (rc < 0 && !c->plan && ans == NULL && err && *err && pw_error_code(*err) != PW_ECONFIG)
			pw_exec_audit(c->ex, "ecs:RegisterTaskDefinition", target, "failed",
			              pw_error_message(*err));
		json_decref(ans);
		return rc;
	}
	const char *arn = pw__json_get_string(ans, "taskDefinition.taskDefinitionArn");
	pw_exec_audit(c->ex, "ecs:RegisterTaskDefinition", target, "ok", arn);
	pw__aws_say(c, "ECS task definition registered: %s", arn ? arn : "?");
	*out = pw_result_success(NULL);
	pw_result_with_metadata(*out, "task_definition_arn", arn ? arn : "");
	pw_exec_set_output(c->ex, "task_definition_arn", arn ? arn : "");
	json_decref(ans);
	return 0;
}

static const pw_aws_param update_params[] = {
    {"cluster", 's', 0, "the cluster name or ARN (default: default)"},
    {"service", 's', 1, "the ECS service name"},
    {"task_definition", 's', 0, "family, family:revision or ARN"},
    {"force_new_deployment", 'b', 0, "true starts new tasks even with an unchanged task definition"},
    {"desired_count", 'i', 0, "the number of tasks to run"},
    {"wait", 'b', 0, "wait for the deployment's rolloutState COMPLETED (default true)"},
    {NULL, 0, 0, NULL}};
static const pw_aws_param run_params[] = {
    {"cluster", 's', 0, "the cluster name or ARN (default: default)"},
    {"task_definition", 's', 1, "family, family:revision or ARN"},
    {"count", 'i', 0, "how many tasks (1-10)"},
    {"launch_type", 's', 0, "EC2, FARGATE or EXTERNAL"},
    {"subnets", 'l', 0, "awsvpc subnets"},
    {"security_groups", 'l', 0, "awsvpc security groups"},
    {"assign_public_ip", 'b', 0, "awsvpc public IP"},
    {"started_by", 's', 0,
     "a tag for the task, with wait: false only (a waiting step tags it pipewright-<run-id>-<step>)"},
    {"container", 's', 0, "the container whose command to override"},
    {"command", 'l', 0, "the command override for `container`"},
    {"environment", 'o', 0, "environment variables for `container` (added to the task definition's)"},
    {"env_update", 's', 0, "merge (the only way ECS overrides work)"},
    {"wait", 'b', 0, "wait for STOPPED and use the exit codes (default true)"},
    {NULL, 0, 0, NULL}};
static const pw_aws_param register_params[] = {
    {"file", 's', 1, "a JSON task definition in the workspace (describe-task-definition output works)"},
    {"container_name", 's', 0, "the container whose image to replace"},
    {"image", 's', 0, "the new image"},
    {"family", 's', 0, "overrides the file's family"},
    {NULL, 0, 0, NULL}};

const pw_aws_action pw__aws_ecs_actions[] = {
    {"ecs", "update-service", update_params, update_service,
     "ecs:UpdateService, ecs:DescribeServices, ecs:ListTasks, ecs:DescribeTasks",
     "deploy a task definition to a service and wait for the rollout"},
    {"ecs", "run-task", run_params, run_task,
     "ecs:RunTask, ecs:DescribeTasks, ecs:StopTask, ecs:ListTasks, iam:PassRole", "run a task to completion"},
    {"ecs", "register-task-definition", register_params, register_task_definition,
     "ecs:RegisterTaskDefinition, iam:PassRole", "register a task definition from a workspace file"},
    {NULL, NULL, NULL, NULL, NULL, NULL}};
