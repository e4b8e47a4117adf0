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

/* Whether a query parameter of this name carries a credential: names holding token,
 * signature, secret, password, passwd or credential, and sig, key, code, apikey, api_key
 * (case ignored). */
static int secret_param(const char *name, size_t n)
{
	static const char *const within[] = {"token",    "signature", "secret",
	                                     "password", "passwd",    "credential"};
	static const char *const exact[] = {"sig", "key", "code", "apikey", "api_key"};
	char low[64];
	if (n >= sizeof(low))
		return 1; /* a name that long: better hidden */
	for (size_t k = 0; k < n; k++)
		low[k] = (char)tolower((unsigned char)name[k]);
	low[n] = '\0';
	for (size_t k = 0; k < sizeof(within) / sizeof(within[0]); k++)
		if (strstr(low, within[k]))
			return 1;
	for (size_t k = 0; k < sizeof(exact) / sizeof(exact[0]); k++)
		if (!strcmp(low, exact[k]))
			return 1;
	return 0;
}

/* At text[i] == '?' or '&': the length of "?name=" when the parameter's value is a credential
 * (then *value_len is the value's), else 0. */
static size_t secret_query_param(const char *text, size_t len, size_t i, size_t *value_len)
{
	size_t n = i + 1;
	while (n < len && (isalnum((unsigned char)text[n]) || strchr("_.-", text[n])))
		n++;
	if (n == i + 1 || n >= len || text[n] != '=' || !secret_param(text + i + 1, n - i - 1))
		return 0;
	size_t v = n + 1;
	while (v < len && !strchr("& #\"'\r\n", text[v]))
		v++;
	*value_len = v - n - 1;
	return n + 1 - i;
}

int pw__http_redact_text(pw_buf *out, const char *text, size_t len)
{
	static const char user_note[] = "with user '"; /* "Proxy auth using Basic with user 'u'" */
	size_t i = 0, from = 0;
	while (i < len) {
		size_t vlen = 0, plen = 0;
		if ((text[i] == '?' || text[i] == '&') &&
		    (plen = secret_query_param(text, len, i, &vlen)) != 0) {
			/* ?access_token=... and the like: the name stays, the value goes */
			if (pw__buf_append(out, text + from, i + plen - from) < 0 ||
			    pw__buf_puts(out, "***") < 0)
				return PW_ENOMEM;
			from = i = i + plen + vlen;
			continue;
		}
		if (i + 3 > len) {
			i++;
			continue;
		}
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
	/* a folded (obsolete) continuation line: which header it continues is not known here,
	 * and it may be a secret one's */
	if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
		return pw__buf_puts(out, " ***") < 0 ? PW_ENOMEM : 0;
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
