/* The HTTP client's retry policy (which failures and statuses are retried, backoff with
 * jitter, Retry-After) and the redaction of credential headers in dumps. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "net/curl_api.h"

#include "net/http.h"
#include "net/http_internal.h"

int pw__http_method_idempotent(const char *method)
{
	static const char *const idem[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
	if (!method)
		return 1; /* NULL means GET */
	for (size_t i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
		if (strcasecmp(method, idem[i]) == 0)
			return 1;
	return 0;
}

int pw__http_status_retryable(long status, int may_repeat)
{
	switch (status) {
	case 408: /* the server gave up waiting for the request */
	case 429: /* rate limited: not processed */
	case 503: /* unavailable: not processed */
		return 1;
	case 500:
	case 502: /* a gateway's upstream may have acted on it */
	case 504:
		return may_repeat;
	default:
		return 0;
	}
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

long pw__http_backoff_ms(unsigned retry, long base_ms, uint64_t *rng)
{
	if (base_ms <= 0)
		base_ms = PW_HTTP_DEFAULT_RETRY_BASE_MS;
	long d = base_ms;
	for (unsigned i = 1; i < retry && d < PW_HTTP_MAX_BACKOFF_MS; i++)
		d *= 2;
	if (d > PW_HTTP_MAX_BACKOFF_MS)
		d = PW_HTTP_MAX_BACKOFF_MS;
	long half = d / 2;
	return half + (long)(xorshift(rng) % (uint64_t)(d - half + 1));
}

long pw__http_retry_after_ms(const char *value, time_t now)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		long long secs = 0;
		const char *p = value;
		for (; isdigit((unsigned char)*p); p++) {
			secs = secs * 10 + (*p - '0');
			if (secs > 86400LL * 365)
				secs = 86400LL * 365;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -1;
		long long ms = secs * 1000;
		return ms > (long long)0x7fffffff ? 0x7fffffffL : (long)ms;
	}
	if (pw__curl_load(NULL) < 0)
		return -1; /* no date parser: the caller's own backoff applies */
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	long long ms = ((long long)t - (long long)now) * 1000;
	return ms > (long long)0x7fffffff ? 0x7fffffffL : (long)ms;
}

int pw__http_header_secret(const char *name, size_t len, const char *const *extra)
{
	static const char *const builtin[] = {
	    "Authorization",        "Proxy-Authorization", "Cookie",        "Set-Cookie",
	    "X-Registry-Auth",      "X-Registry-Config",   "Private-Token", "Job-Token",
	    "X-Amz-Security-Token", "X-Api-Key",
	};
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strlen(builtin[i]) == len && strncasecmp(builtin[i], name, len) == 0)
			return 1;
	for (size_t i = 0; extra && extra[i]; i++)
		if (strlen(extra[i]) == len && strncasecmp(extra[i], name, len) == 0)
			return 1;
	return 0;
}

/* RFC 9110 token characters: what a header name is made of. */
static int is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Where the authority of a URL starting at s[0..len) ends: at a path, query, fragment, or a
 * character that ends a URL quoted in text (blank, quote, bracket). */
static size_t authority_len(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && !strchr("/?#'\"<> \t", s[i]))
		i++;
	return i;
}

int pw__http_redact_text(pw_buf *out, const char *text, size_t len)
{
	static const char user_note[] = "with user '"; /* "Proxy auth using Basic with user 'u'" */
	size_t i = 0, from = 0;
	while (i + 3 <= len) {
		size_t un = sizeof(user_note) - 1;
		if (i + un <= len && memcmp(text + i, user_note, un) == 0) {
			const char *q = memchr(text + i + un, '\'', len - i - un);
			if (!q)
				break;
			if (pw__buf_append(out, text + from, i + un - from) < 0 ||
			    pw__buf_puts(out, "***") < 0)
				return PW_ENOMEM;
			from = (size_t)(q - text);
			i = from + 1;
			continue;
		}
		if (memcmp(text + i, "://", 3) != 0) {
			i++;
			continue;
		}
		size_t auth = i + 3;
		size_t alen = authority_len(text + auth, len - auth);
		const char *at = NULL;
		for (size_t k = 0; k < alen; k++)
			if (text[auth + k] == '@')
				at = text + auth + k;
		if (at) {
			/* user:password@host becomes ***@host */
			if (pw__buf_append(out, text + from, auth - from) < 0 || pw__buf_puts(out, "***") < 0)
				return PW_ENOMEM;
			from = (size_t)(at - text);
		}
		i = auth + alen;
	}
	return pw__buf_append(out, text + from, len - from);
}

int pw__http_redact_line(pw_buf *out, const char *line, size_t len, const char *const *extra)
{
	size_t n = 0;
	while (n < len && is_tchar(line[n]))
		n++;
	if (n > 0 && n < len && line[n] == ':' && pw__http_header_secret(line, n, extra)) {
		if (pw__buf_append(out, line, n) < 0 || pw__buf_puts(out, ": ***") < 0)
			return PW_ENOMEM;
		return 0;
	}
	return pw__http_redact_text(out, line, len);
}
