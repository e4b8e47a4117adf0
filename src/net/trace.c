/* HTTP request dumps into a step's log at trace level (PIPEWRIGHT_LOG=trace). */
#include "net/http.h"
#include "pipewright/exec.h"

static void to_log(const char *text, void *payload)
{
	/* the step's log masks its secrets; credentials in headers are already "***" */
	pw_exec_log(payload, PW_LOG_TRACE, "http", "%s", text);
}

void pw__http_trace(pw_http_request *req, pw_exec *ex)
{
	if (ex && pw_exec_log_enabled(ex, PW_LOG_TRACE)) {
		req->on_debug = to_log;
		req->debug_payload = ex;
	}
}
