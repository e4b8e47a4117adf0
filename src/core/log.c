/* Log levels and the audit record format shared by the exec context and the runner. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/internal.h"
#include "pipewright/error.h"
#include "pipewright/log.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *pw_log_level_name(pw_log_level level)
{
	if ((int)level < 0 || (int)level > PW_LOG_TRACE)
		return "unknown";
	return level_names[level];
}

int pw_log_level_parse(pw_log_level *out, const char *text)
{
	if (!text)
		return PW_EINVAL;
	for (int i = 0; i <= PW_LOG_TRACE; i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*out = (pw_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(text, "warning") == 0) {
		*out = PW_LOG_WARN;
		return 0;
	}
	return PW_EINVAL;
}

char *pw__audit_json(const pw_secrets *secrets, const char *run_id, const char *step, const char *event,
                     const char *action, const char *target, const char *outcome, const char *detail)
{
	char ts[40];
	pw__iso8601(ts, sizeof(ts), pw__unix_ms());
	json_t *o = json_object();
	json_object_set_new(o, "at", json_string(ts));
	json_object_set_new(o, "run_id", json_string(run_id ? run_id : ""));
	if (step && *step)
		json_object_set_new(o, "step", json_string(step));
	json_object_set_new(o, "event", json_string(event));
	if (action)
		json_object_set_new(o, "action", json_string(action));
	if (target)
		json_object_set_new(o, "target", json_string(target));
	if (outcome)
		json_object_set_new(o, "outcome", json_string(outcome));
	if (detail)
		json_object_set_new(o, "detail", json_string(detail));
	char *raw = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!raw)
		return NULL;
	/* mask the serialized form: catches the JSON-escaped shape of a secret too */
	char *masked = pw_secrets_mask_str(secrets, raw);
	free(raw);
	return masked;
}
