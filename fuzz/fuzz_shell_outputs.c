/* Fuzz target: the shell connector's PIPEWRIGHT_OUTPUT parser (key=value lines and
 * key<<DELIM heredocs) on arbitrary text. It must parse or fail with one error, and every
 * output it sets has a valid name. A single NAME=value line (no newline, no '<<' before the
 * '=') round-trips: the output holds the value whole, whatever its length. A text holding a
 * NUL byte never parses whole. */
#include <string.h>

#include "connectors/shell/shell.h"
#include "fuzz.h"
#include "pipewright/exec.h"

static int valid_name(const char *k)
{
	if (!*k || (*k >= '0' && *k <= '9'))
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_ASSERT(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	pw_exec *ex = NULL;
	pw_exec_options opts = PW_EXEC_OPTIONS_INIT;
	opts.capture_limit = 64; /* the default 1 MiB capture would dominate each run */
	FUZZ_ASSERT(pw_exec_new(&ex, &opts, NULL) == 0);
	pw_error *err = NULL;
	int rc = pw__shell_parse_outputs(text, size, ex, &err);
	if (rc == 0) {
		FUZZ_ASSERT(err == NULL);
	} else {
		FUZZ_ASSERT(rc < 0);
		FUZZ_ASSERT(err != NULL && pw_error_message(err) != NULL);
		pw_error_free(err);
	}
	/* every line is looked at (none is cut at a NUL byte), and one holding a NUL is refused */
	if (memchr(text, '\0', size))
		FUZZ_ASSERT(rc < 0);
	const pw_map *outs = pw_exec_outputs(ex);
	const char *eq = memchr(text, '=', size);
	const char *hd = strstr(text, "<<");
	if (strlen(text) == size && !memchr(text, '\n', size) && !memchr(text, '\r', size) && eq &&
	    (!hd || hd > eq)) {
		char *name = strndup(text, (size_t)(eq - text));
		FUZZ_ASSERT(name != NULL);
		if (valid_name(name)) {
			FUZZ_ASSERT(rc == 0);
			const char *v = pw_map_get(outs, name);
			FUZZ_ASSERT(v != NULL && strcmp(v, eq + 1) == 0);
		}
		free(name);
	}
	for (size_t i = 0; i < pw_map_count(outs); i++) {
		FUZZ_ASSERT(valid_name(pw_map_key_at(outs, i)));
		FUZZ_ASSERT(pw_map_value_at(outs, i) != NULL);
	}
	pw_exec_free(ex);
	free(text);
	return 0;
}
