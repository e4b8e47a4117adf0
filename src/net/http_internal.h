/* Pieces of the HTTP client shared between its files and its tests: retry policy, backoff,
 * Retry-After parsing and header redaction. Not for connectors: use net/http.h. */
#ifndef PW_NET_HTTP_INTERNAL_H
#define PW_NET_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* 1 for GET, HEAD, PUT, DELETE, OPTIONS and TRACE (case-insensitive), 0 otherwise. */
int pw__http_method_idempotent(const char *method);

/* Whether a response with this status is worth another attempt. `may_repeat` says that the
 * request may be processed twice (idempotent method, or the caller allowed it): 408, 429 and
 * 503 are retried regardless (the server did not act on the request), 500, 502 and 504 only
 * when may_repeat. */
int pw__http_status_retryable(long status, int may_repeat);

/* The wait before retry number `retry` (1 for the first retry): base_ms * 2^(retry-1), capped
 * at PW_HTTP_MAX_BACKOFF_MS, with jitter: a value in [d/2, d]. rng is the caller's xorshift
 * state (non-zero). */
long pw__http_backoff_ms(unsigned retry, long base_ms, uint64_t *rng);

/* A Retry-After value ("120" seconds or an HTTP date) as milliseconds from `now` (0 for a date
 * in the past), or -1 when value is NULL or unparsable. */
long pw__http_retry_after_ms(const char *value, time_t now);

/* 1 when a header named name[0..len) must not be shown: the built-in credential headers or a
 * name in extra (NULL-terminated, may be NULL); case-insensitive. */
int pw__http_header_secret(const char *name, size_t len, const char *const *extra);

/* Appends text[0..len) to out with the userinfo of every URL in it ("scheme://user:pw@host")
 * replaced by "***", and the user name in libcurl's "... with user 'name'" notes (they name
 * proxies with their credentials). 0 or PW_ENOMEM. */
int pw__http_redact_text(pw_buf *out, const char *text, size_t len);

/* Appends line[0..len) to out, with the value replaced by "***" when it is a header line whose
 * name pw__http_header_secret reports, and other lines (request line, Location) passed through
 * pw__http_redact_text. Returns 0 or PW_ENOMEM. */
int pw__http_redact_line(pw_buf *out, const char *line, size_t len, const char *const *extra);

#endif
