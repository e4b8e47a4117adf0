/* Fuzz target: the result an executable connector writes on fd 3, read as pipewright reads it
 * for validate, plan and execute. Properties: no crash or leak; either a JSON object comes back
 * or an error does, never both or neither; an error quotes at most 200 bytes of the result; an
 * execute result that passes the checks has an integer exit code and object metadata/outputs.
 * And execute's stream, with the journal requests at its front (answered nowhere, recorded
 * nowhere): what is left as the result is the same whether the bytes come at once or in small
 * pieces, and it is the end of the input. */
#include <string.h>

#include "connectors/plugin/plugin.h"
#include "fuzz.h"

/* The execute stream fed in pieces of `piece` bytes (0: at once) into result. */
static int split(pw_buf *result, const uint8_t *data, size_t size, size_t piece)
{
	pw_exec_channel ch = {.fd = -1,
	                      .connector = "custom:fuzz",
	                      .program = "pipewright-connector-fuzz",
	                      .pending = PW_BUF_INIT(PW_EXEC_RESULT_MAX),
	                      .result = result,
	                      .serving = 1};
	for (size_t off = 0; off < size;) {
		size_t n = piece && size - off > piece ? piece : size - off;
		pw__exec_channel_feed(&ch, (const char *)data + off, n);
		off += n;
	}
	pw__exec_channel_end(&ch);
	return ch.overflow;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_buf whole = PW_BUF_INIT(PW_EXEC_RESULT_MAX), pieces = PW_BUF_INIT(PW_EXEC_RESULT_MAX);
	int over = split(&whole, data, size, 0);
	/* pieces of 2-8 bytes, and of one byte for short inputs */
	const size_t piece[2] = {2 + size % 7, size <= 512 ? 1 : 0};
	for (size_t k = 0; k < 2 && piece[k]; k++) {
		pw__buf_clear(&pieces);
		FUZZ_ASSERT(split(&pieces, data, size, piece[k]) == over);
		if (!over)
			FUZZ_ASSERT(whole.len == pieces.len && !memcmp(whole.data, pieces.data, whole.len));
	}
	if (!over)
		FUZZ_ASSERT(whole.len <= size && !memcmp(whole.data, data + size - whole.len, whole.len));
	pw__buf_dispose(&whole);
	pw__buf_dispose(&pieces);

	const char *verbs[] = {"validate", "plan", "execute"};
	for (size_t v = 0; v < 3; v++) {
		pw_error *e = NULL;
		json_t *j = pw__exec_parse_result((const char *)data, size, "pipewright-connector-fuzz",
		                                  "fuzz", verbs[v], &e);
		FUZZ_ASSERT((j != NULL) != (e != NULL));
		if (e) {
			const char *resp = pw_error_response(e);
			FUZZ_ASSERT(!resp || strlen(resp) <= 200);
			FUZZ_ASSERT(pw_error_message(e) && pw_error_message(e)[0]);
			pw_error_free(e);
			continue;
		}
		FUZZ_ASSERT(json_is_object(j));
		if (v == 2) {
			pw_error *ce = NULL;
			int rc =
			    pw__exec_check_execute_result(j, "", "pipewright-connector-fuzz", "fuzz", &ce);
			FUZZ_ASSERT((rc == 0) == (ce == NULL));
			if (rc == 0) {
				FUZZ_ASSERT(json_is_integer(json_object_get(j, "exit_code")));
				json_t *md = json_object_get(j, "metadata"),
				       *outs = json_object_get(j, "outputs");
				FUZZ_ASSERT(!md || json_is_object(md));
				FUZZ_ASSERT(!outs || json_is_object(outs));
			}
			pw_error_free(ce);
		}
		json_decref(j);
	}
	return 0;
}
