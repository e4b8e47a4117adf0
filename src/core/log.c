/* Log levels and the audit record format shared by the exec context and the runner. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/utf8.h"
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

/* Appends s as a JSON string (see core/internal.h). */
void pw__json_string_put(pw_buf *b, int *bad, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	*bad |= pw__buf_putc(b, '"');
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			*bad |= pw__buf_append(b, (const char *)run, (size_t)(p - run));
		unsigned char c = *p;
		if (!c)
			break;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			*bad |= pw__buf_append(b, e, 2);
			p++;
		} else if (c < 0x20) {
			const char *named = c == '\n'   ? "\\n"
			                    : c == '\t' ? "\\t"
			                    : c == '\r' ? "\\r"
			                    : c == '\b' ? "\\b"
			                    : c == '\f' ? "\\f"
			                                : NULL;
			if (named) {
				*bad |= pw__buf_puts(b, named);
			} else {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				*bad |= pw__buf_append(b, e, 6);
			}
			p++;
		} else {
			size_t n = pw__utf8_len(p, (size_t)(end - p));
			if (n) {
				*bad |= pw__buf_append(b, (const char *)p, n);
				p += n;
			} else {
				*bad |= pw__buf_puts(b, "\\ufffd");
				p++;
			}
		}
	}
	*bad |= pw__buf_putc(b, '"');
}

static void json_member(pw_buf *b, int *bad, const char *key, const char *value)
{
	if (b->len && b->data[b->len - 1] != '{') /* len 0: the '{' failed, the record is dropped */
		*bad |= pw__buf_putc(b, ',');
	pw__json_string_put(b, bad, key);
	*bad |= pw__buf_putc(b, ':');
	pw__json_string_put(b, bad, value);
}

char *pw__audit_json(const pw_secrets *secrets, const char *run_id, const char *step, const char *event,
                     const char *action, const char *target, const char *outcome, const char *detail)
{
	char ts[40];
	pw__iso8601(ts, sizeof(ts), pw__unix_ms());
	/* written directly rather than through a jansson tree: two records per step */
	pw_buf b = PW_BUF_INIT(0);
	int bad = pw__buf_putc(&b, '{');
	json_member(&b, &bad, "at", ts);
	json_member(&b, &bad, "run_id", run_id ? run_id : "");
	if (step && *step)
		json_member(&b, &bad, "step", step);
	json_member(&b, &bad, "event", event ? event : "");
	if (action)
		json_member(&b, &bad, "action", action);
	if (target)
		json_member(&b, &bad, "target", target);
	if (outcome)
		json_member(&b, &bad, "outcome", outcome);
	if (detail)
		json_member(&b, &bad, "detail", detail);
	bad |= pw__buf_putc(&b, '}');
	if (bad) {
		pw__buf_dispose(&b);
		return NULL;
	}
	/* mask the serialized form: catches the JSON-escaped shape of a secret too */
	char *masked = pw_secrets_mask_str(secrets, pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	return masked;
}
