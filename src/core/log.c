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

/* Appends s as a JSON string (see core/internal.h): written in place, in room for the
 * longest form (6 bytes a byte, "\u00XX" or "\ufffd"), rather than a call per piece. */
void pw__json_string_put(pw_buf *b, int *bad, const char *s)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes them */
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	const unsigned char *end = p + len;
	char *out = len < ((size_t)-1 - 2) / 6 ? pw__buf_space(b, 6 * len + 2) : NULL;
	if (!out) {
		/* a bounded buffer without room for the longest form: the text made aside, then
		 * appended within the bound (or an error) */
		pw_buf aside = PW_BUF_INIT(0);
		int failed = b->max == 0;
		if (!failed)
			pw__json_string_put(&aside, &failed, s);
		*bad |= failed ? PW_ENOMEM : pw__buf_append(b, aside.data, aside.len);
		pw__buf_dispose(&aside);
		return;
	}
	char *o = out;
	*o++ = '"';
	while (p < end) {
		unsigned char c = *p;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			p++;
		} else if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
			p++;
		} else if (c < 0x20) {
			char named = c == '\n'   ? 'n'
			             : c == '\t' ? 't'
			             : c == '\r' ? 'r'
			             : c == '\b' ? 'b'
			             : c == '\f' ? 'f'
			                         : 0;
			*o++ = '\\';
			if (named) {
				*o++ = named;
			} else {
				memcpy(o, "u00", 3);
				o[3] = hex[c >> 4];
				o[4] = hex[c & 15];
				o += 5;
			}
			p++;
		} else {
			size_t n = pw__utf8_len(p, (size_t)(end - p));
			if (n) {
				memcpy(o, p, n);
				o += n;
				p += n;
			} else {
				memcpy(o, "\\ufffd", 6);
				o += 6;
				p++;
			}
		}
	}
	*o++ = '"';
	pw__buf_commit(b, (size_t)(o - out));
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
	pw__buf_space(&b, 300); /* a record's usual size at once */
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
