/* URL helpers of the HTTP client: percent-encoding, query building, the "METHOD URL" text that
 * names an operation in errors (no credentials, no query), and response header lookup. */
#include <ctype.h>
#include <string.h>

#include "net/http.h"

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* A path segment (from p to the next '/' with keep_slash, else to the end) that is "." or
 * "..": kept as is, it would address the directory or its parent (libcurl and servers
 * resolve it), not a name. */
static int dot_segment(const unsigned char *p, int keep_slash)
{
	size_t n = 0;
	while (p[n] == '.')
		n++;
	return (n == 1 || n == 2) && (!p[n] || (keep_slash && p[n] == '/'));
}

static int escape_into(pw_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int seg_start = p == (const unsigned char *)s || (keep_slash && p[-1] == '/');
		if (seg_start && dot_segment(p, keep_slash)) {
			for (; *p == '.'; p++)
				if (pw__buf_puts(b, "%2E") < 0)
					return PW_ENOMEM;
			p--;
			continue;
		}
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			if (pw__buf_putc(b, (char)*p) < 0)
				return PW_ENOMEM;
			continue;
		}
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		if (pw__buf_append(b, enc, 3) < 0)
			return PW_ENOMEM;
	}
	return 0;
}

static char *escape(const char *s, int keep_slash)
{
	pw_buf b = PW_BUF_INIT(0);
	if (escape_into(&b, s ? s : "", keep_slash) < 0) {
		pw__buf_dispose(&b);
		return NULL;
	}
	return pw__buf_detach(&b);
}

char *pw__http_escape(const char *s)
{
	return escape(s, 0);
}

char *pw__http_escape_path(const char *s)
{
	return escape(s, 1);
}

int pw__http_query_add(pw_buf *b, const char *name, const char *value)
{
	int has_query = b->data && memchr(b->data, '?', b->len) != NULL;
	if (pw__buf_putc(b, has_query ? '&' : '?') < 0 || escape_into(b, name ? name : "", 0) < 0 ||
	    pw__buf_putc(b, '=') < 0 || escape_into(b, value ? value : "", 0) < 0)
		return PW_ENOMEM;
	return 0;
}

char *pw__http_describe(const pw_http_endpoint *ep, const char *method, const char *path_and_query)
{
	pw_buf b = PW_BUF_INIT(0);
	const char *base = ep && ep->base_url ? ep->base_url : "";
	const char *path = path_and_query ? path_and_query : "";
	pw__buf_printf(&b, "%s ", method ? method : "GET");

	/* scheme://[userinfo@]authority/prefix: drop the userinfo */
	const char *auth = strstr(base, "://");
	auth = auth ? auth + 3 : base;
	size_t auth_len = strcspn(auth, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < auth_len; i++)
		if (auth[i] == '@')
			at = auth + i;
	pw__buf_append(&b, base, (size_t)(auth - base));
	const char *host = at ? at + 1 : auth;
	const char *rest = host;
	size_t rest_len = strcspn(rest, "?#");
	while (rest_len > 0 && rest[rest_len - 1] == '/' && *path == '/')
		rest_len--;
	pw__buf_append(&b, rest, rest_len);
	if (*path && *path != '/' && *path != '?' && (rest_len == 0 || rest[rest_len - 1] != '/'))
		pw__buf_putc(&b, '/');
	pw__buf_append(&b, path, strcspn(path, "?#"));
	if (ep && ep->unix_socket)
		pw__buf_printf(&b, " (unix socket %s)", ep->unix_socket);
	/* a line break in a path must not start a new line in an error message or log */
	pw_buf safe = PW_BUF_INIT(0);
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c < 0x20 || c == 0x7f) {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
			pw__buf_append(&safe, enc, 3);
		} else {
			pw__buf_putc(&safe, (char)c);
		}
	}
	pw__buf_dispose(&b);
	return pw__buf_detach(&safe);
}

const char *pw__http_header_get(const pw_http_response *r, const char *name)
{
	if (!r || !r->headers || !name)
		return NULL;
	char lower[256];
	size_t n = strlen(name);
	if (n >= sizeof(lower))
		return NULL;
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[n] = '\0';
	return pw_map_get(r->headers, lower);
}
