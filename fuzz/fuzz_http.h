/* Shared by the fuzz targets of remote answers: turns an input into an HTTP answer laid out as
 * on the wire, without the status text:
 *   STATUS\n  Name: value\n ...  \n  body
 * (the first line the status, then header lines up to an empty line, then the body; an input
 * without an empty line is all headers). Names are lower-cased and repeated headers joined
 * with ", " as the HTTP layer does. */
#ifndef PW_FUZZ_HTTP_H
#define PW_FUZZ_HTTP_H

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "net/http.h"
#include "pipewright/map.h"

/* Fills *r (headers and a NUL-terminated copy of the body); free with fuzz_http_dispose. */
static inline void fuzz_http_answer(pw_http_response *r, const uint8_t *data, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->headers = pw_map_new();
	FUZZ_ASSERT(r->headers != NULL);
	const char *p = (const char *)data;
	size_t left = size;
	for (int line = 0; left > 0; line++) {
		const char *nl = memchr(p, '\n', left);
		size_t n = nl ? (size_t)(nl - p) : left;
		size_t used = n + (nl ? 1 : 0);
		if (line > 0 && (n == 0 || (n == 1 && p[0] == '\r'))) {
			p += used;
			left -= used;
			break;
		}
		char text[8192];
		size_t t = n < sizeof(text) - 1 ? n : sizeof(text) - 1;
		memcpy(text, p, t);
		text[t] = '\0';
		if (t && text[t - 1] == '\r')
			text[--t] = '\0';
		p += used;
		left -= used;
		if (line == 0) {
			r->status = strtol(text, NULL, 10);
			continue;
		}
		char *colon = strchr(text, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (char *k = text; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		const char *old = pw_map_get(r->headers, text);
		if (old) {
			size_t ol = strlen(old), vl = strlen(v);
			char *j = malloc(ol + 2 + vl + 1);
			FUZZ_ASSERT(j != NULL);
			memcpy(j, old, ol);
			memcpy(j + ol, ", ", 2);
			memcpy(j + ol + 2, v, vl + 1);
			pw_map_set(r->headers, text, j);
			free(j);
		} else {
			pw_map_set(r->headers, text, v);
		}
	}
	r->body = malloc(left + 1);
	FUZZ_ASSERT(r->body != NULL);
	if (left)
		memcpy(r->body, p, left);
	r->body[left] = '\0';
	r->body_len = left;
}

static inline void fuzz_http_dispose(pw_http_response *r)
{
	pw_map_free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Whether s is a NUL-terminated text of at most max bytes (NULL passes). */
static inline int fuzz_text_ok(const char *s, size_t max)
{
	return !s || strnlen(s, max + 1) <= max;
}

#endif
