/* Fuzz target: the AWS connector's reading of service answers (laid out as in fuzz_http.h):
 * JSON, header and XML error answers; S3 XML (UploadId, ETag, an <Error> given with 200); ECS
 * DescribeServices events, DescribeTasks stopped reasons and exit codes; Lambda's
 * LastUpdateStatus; credential expiry times. Properties: no crash or leak; texts NUL-terminated
 * and no longer than what they were taken from; an error code carries no namespace or URL
 * suffix; at most 10 new events; an exit code in 0..255, non-zero when a container failed. */
#include "connectors/cloud/aws.h"
#include "fuzz_http.h"
#include "net/json.h"

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);
	for (const char *p = s; p && *p; p++)
		if ((p == s || p[-1] == '\n') && strncmp(p, prefix, pl) == 0)
			n++;
	return n;
}

static void errors(const pw_http_response *r)
{
	size_t max = r->body_len;
	for (size_t i = 0; i < pw_map_count(r->headers); i++)
		max += strlen(pw_map_value_at(r->headers, i));
	char *code = NULL, *msg = NULL;
	pw__aws_parse_error(&code, &msg, r);
	FUZZ_ASSERT(fuzz_text_ok(code, max));
	FUZZ_ASSERT(fuzz_text_ok(msg, max));
	FUZZ_ASSERT(!code || (!strchr(code, '#') && !strchr(code, ':')));
	pw_free(code);
	pw_free(msg);
	char *m = pw__aws_s3_error_message(r->body);
	FUZZ_ASSERT((m != NULL) == (strstr(r->body, "<Error>") != NULL));
	FUZZ_ASSERT(fuzz_text_ok(m, r->body_len));
	pw_free(m);
	static const char *const tags[] = {"UploadId", "ETag", "Code", "Message", "Expiration"};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		char *v = pw__aws_xml_get(r->body, tags[i]);
		FUZZ_ASSERT(fuzz_text_ok(v, r->body_len));
		if (v && i == 4)
			(void)pw__aws_parse_time(v);
		pw_free(v);
	}
	(void)pw__aws_parse_time(r->body);
	(void)pw__aws_parse_time(pw__http_header_get(r, "x-amz-expiration"));
}

static void ecs(const json_t *doc)
{
	/* update-service keeps the ids of the events its UpdateService answer listed */
	json_t *before = json_array();
	FUZZ_ASSERT(before != NULL);
	size_t i;
	json_t *ev;
	json_array_foreach(pw__json_get(doc, "service.events"), i, ev)
	    json_array_append(before, json_object_get(ev, "id"));
	pw_buf b = PW_BUF_INIT(0);
	pw__aws_ecs_new_events(&b, pw__json_get(doc, "services.0"), before);
	FUZZ_ASSERT(count_lines(pw__buf_cstr(&b), "  event: ") <= 10);
	pw__aws_ecs_new_events(&b, pw__json_get(doc, "service"), before);
	json_decref(before);
	pw__buf_clear(&b);
	pw__aws_ecs_stopped_reasons(&b, doc);
	FUZZ_ASSERT(count_lines(pw__buf_cstr(&b), "  stopped task ") >=
	            json_array_size(json_object_get(doc, "tasks")));
	pw__buf_dispose(&b);

	pw_buf lines = PW_BUF_INIT(0), reasons = PW_BUF_INIT(0);
	int exit_code = -1;
	int all = pw__aws_ecs_tasks_stopped(&lines, &reasons, &exit_code, doc);
	FUZZ_ASSERT(exit_code >= 0 && exit_code <= 255);
	if (!all) {
		FUZZ_ASSERT(lines.len == 0 && reasons.len == 0);
	} else {
		json_t *t, *ct;
		size_t j;
		int failed = 0;
		json_array_foreach(json_object_get(doc, "tasks"), i, t)
		    json_array_foreach(json_object_get(t, "containers"), j, ct)
		{
			json_t *ec = json_object_get(ct, "exitCode");
			if (!json_is_integer(ec) || json_integer_value(ec) != 0)
				failed = 1;
		}
		FUZZ_ASSERT((exit_code != 0) == failed);
		FUZZ_ASSERT(lines.len == 0 || lines.data[lines.len - 1] == '\n');
	}
	pw__buf_dispose(&lines);
	pw__buf_dispose(&reasons);

	pw_buf why = PW_BUF_INIT(0);
	pw_aws_update_state st = pw__aws_lambda_update_state(&why, doc);
	FUZZ_ASSERT((st == PW_AWS_UPDATE_FAILED) == (why.len > 0));
	pw__buf_dispose(&why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_http_response r;
	fuzz_http_answer(&r, data, size);
	errors(&r);
	json_t *doc = NULL;
	if (pw__json_load(&doc, r.body, r.body_len, 0, "the answer", NULL) == 0) {
		ecs(doc);
		json_decref(doc);
	}
	fuzz_http_dispose(&r);
	return 0;
}
