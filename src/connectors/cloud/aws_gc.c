/* The AWS connector's gc hook (pipeline/gc.h): stopping the ECS tasks of one journaled
 * "ecs-tasks" record (ListTasks by its run-scoped startedBy, StopTask each) and aborting the
 * multipart uploads of one "s3-multipart" record (ListMultipartUploads of its key, uploads
 * initiated since the record, AbortMultipartUpload each). gc signs with the credentials of its
 * own environment (the connector's chain: AWS_* variables, web identity, profiles), in the
 * record's region and at its endpoint, with the profile and role the step named. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/cloud/aws.h"
#include "pipeline/gc.h"

static const char *attr(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(json_object_get(rec, "attrs"), key));
}

int pw__aws_gc_remove(pw_gc *g, const json_t *rec, pw_error **err)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *name = json_string_value(json_object_get(rec, "name"));
	const char *region = json_string_value(json_object_get(rec, "scope"));
	const char *service = NULL;
	if (kind && !strcmp(kind, "ecs-tasks"))
		service = "ecs";
	else if (kind && !strcmp(kind, "s3-multipart"))
		service = "s3";
	if (!service || !name || !*name)
		return pw_error_set(err, PW_EINVAL, "aws journal record of unknown kind '%s'",
		                    kind ? kind : "");
	pw_http_pool *pool = pw__manager_http_pool(pw__gc_manager(g));
	if (!pool)
		return pw_error_set(err, PW_ENOMEM, "no HTTP connection pool");

	/* the step's view, as far as the record keeps it: never a secret */
	json_t *cfg = json_object();
	json_object_set_new(cfg, "service", json_string(service));
	static const char *const keys[] = {"endpoint", "profile", "role_arn", "sts_endpoint", "ca_file"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (attr(rec, keys[i]))
			json_object_set_new(cfg, keys[i], json_string(attr(rec, keys[i])));
	if (region && *region)
		json_object_set_new(cfg, "region", json_string(region));
	pw_step step;
	memset(&step, 0, sizeof(step));
	step.name = (char *)"gc";
	step.config = cfg;
	pw_aws_impl im;
	memset(&im, 0, sizeof(im));
	pthread_mutex_init(&im.lock, NULL);
	im.pool = pool;
	json_t *empty = json_object();
	pw_aws_ctx c;
	memset(&c, 0, sizeof(c));
	c.im = &im;
	c.pool = pool;
	c.step = &step;
	c.params = empty;
	c.poll_ms = 1000;
	c.cleanup = 1;
	pw_buf o = PW_BUF_INIT(1 << 20);
	c.out = o;
	char *reg = pw__aws_region(&c);
	c.region = reg;

	int rc;
	const char *run = json_string_value(json_object_get(rec, "run_id"));
	const char *stepname = json_string_value(json_object_get(rec, "step"));
	json_t *done = json_array();
	if (!reg) {
		rc = pw_error_set(err, PW_ECONFIG, "the journal record names no AWS region and none is set");
	} else if (!strcmp(service, "ecs")) {
		const char *cluster = attr(rec, "cluster");
		char reason[256];
		snprintf(reason, sizeof(reason),
		         "stopped by pipewright gc: run %.80s (step %.80s) ended without stopping it",
		         run ? run : "?", stepname ? stepname : "?");
		rc = pw__aws_ecs_stop_started_by(&c, cluster ? cluster : "default", name, reason, done, err);
		size_t i;
		json_t *a;
		json_array_foreach(done, i, a) pw__gc_note(g, "stopped ECS task %s", json_string_value(a));
	} else {
		const char *bucket = attr(rec, "bucket");
		const char *key = attr(rec, "key");
		if (!bucket || !key) {
			rc = pw_error_set(err, PW_EINVAL,
			                  "aws s3-multipart journal record without bucket and key");
		} else {
			int64_t ts = json_integer_value(json_object_get(rec, "ts_ms"));
			rc = pw__aws_s3_abort_uploads(&c, bucket, key, ts > 0 ? ts - PW_AWS_CLOCK_SKEW_MS : 0,
			                              done, err);
			size_t i;
			json_t *a;
			json_array_foreach(done, i, a)
			    pw__gc_note(g, "aborted S3 multipart upload %s of s3://%s/%s",
			                json_string_value(a), bucket, key);
		}
	}
	json_decref(done);
	pw__aws_creds_dispose(&c.creds);
	pw__buf_dispose(&c.out);
	pw_free(reg);
	pw__aws_cache_dispose(&im);
	pthread_mutex_destroy(&im.lock);
	json_decref(empty);
	json_decref(cfg);
	return rc;
}
