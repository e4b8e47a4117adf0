/* Fuzz target: the result an executable connector writes on fd 3, read as pipewright reads it
 * for validate, plan and execute. Properties: no crash or leak; either a JSON object comes back
 * or an error does, never both or neither; an error quotes at most 200 bytes of the result; an
 * execute result that passes the checks has an integer exit code and object metadata/outputs. */
#include <string.h>

#include "connectors/plugin/plugin.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
