/* ExecutionResult. */
#include <stdlib.h>
#include <string.h>

#include "pipewright/error.h"
#include "pipewright/result.h"

struct pw_result {
	int exit_code;
	int signo;
	char *out;
	char *err;
	pw_map *metadata;
};

pw_result *pw_result_new(int exit_code, const char *stdout_text, const char *stderr_text)
{
	pw_result *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->exit_code = exit_code;
	r->out = strdup(stdout_text ? stdout_text : "");
	r->err = strdup(stderr_text ? stderr_text : "");
	r->metadata = pw_map_new();
	if (!r->out || !r->err || !r->metadata) {
		pw_result_free(r);
		return NULL;
	}
	return r;
}

pw_result *pw_result_success(const char *stdout_text)
{
	return pw_result_new(0, stdout_text, NULL);
}

pw_result *pw_result_failure(int exit_code, const char *stderr_text)
{
	return pw_result_new(exit_code, NULL, stderr_text);
}

pw_result *pw_result_with_metadata(pw_result *r, const char *key, const char *value)
{
	if (r && key)
		pw_map_set(r->metadata, key, value);
	return r;
}

int pw_result_is_success(const pw_result *r)
{
	return r && r->exit_code == 0;
}

int pw_result_exit_code(const pw_result *r)
{
	return r ? r->exit_code : -1;
}

const char *pw_result_stdout(const pw_result *r)
{
	return r && r->out ? r->out : "";
}

const char *pw_result_stderr(const pw_result *r)
{
	return r && r->err ? r->err : "";
}

pw_map *pw_result_metadata(pw_result *r)
{
	return r ? r->metadata : NULL;
}

const pw_map *pw_result_metadata_const(const pw_result *r)
{
	return r ? r->metadata : NULL;
}

int pw_result_signal(const pw_result *r)
{
	return r ? r->signo : 0;
}

void pw_result_set_signal(pw_result *r, int signo)
{
	if (r)
		r->signo = signo;
}

static int replace(char **field, const char *text)
{
	char *d = strdup(text ? text : "");
	if (!d)
		return PW_ENOMEM;
	free(*field);
	*field = d;
	return 0;
}

int pw_result_set_stdout(pw_result *r, const char *text)
{
	return r ? replace(&r->out, text) : PW_EINVAL;
}

int pw_result_set_stderr(pw_result *r, const char *text)
{
	return r ? replace(&r->err, text) : PW_EINVAL;
}

void pw_result_free(pw_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	pw_map_free(r->metadata);
	free(r);
}
