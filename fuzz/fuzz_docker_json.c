/* Fuzz target: the Docker connector's parsing of engine answers: a /version body and the /build
 * JSON stream, line by line. Properties: no crash or leak; the build state's texts stay
 * NUL-terminated within their buffers; a parsed version names an API version. */
#include <string.h>

#include "connectors/docker/docker.h"
#include "core/buf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_ASSERT(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	pw_docker_engine_info info;
	memset(&info, 0, sizeof(info));
	pw_error *e = NULL;
	if (pw__docker_parse_version(&info, text, &e) == 0)
		FUZZ_ASSERT(info.api_version[0] != '\0');
	pw_error_free(e);
	FUZZ_ASSERT(memchr(info.api_version, '\0', sizeof(info.api_version)) != NULL);
	pw_docker_build_state st;
	memset(&st, 0, sizeof(st));
	pw_buf log = PW_BUF_INIT(0);
	const char *p = (const char *)data;
	size_t left = size;
	while (left > 0) {
		const char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) : left;
		pw__buf_clear(&log);
		pw__docker_build_line(&st, p, n, &log);
		FUZZ_ASSERT(memchr(st.last_step, '\0', sizeof(st.last_step)) != NULL);
		FUZZ_ASSERT(memchr(st.error, '\0', sizeof(st.error)) != NULL);
		FUZZ_ASSERT(memchr(st.image_id, '\0', sizeof(st.image_id)) != NULL);
		p += n + (nl ? 1 : 0);
		left -= n + (nl ? 1 : 0);
	}
	pw__buf_dispose(&log);
	free(text);
	return 0;
}
