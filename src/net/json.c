/* Small jansson helpers: bounded parsing with named errors, dotted-path lookups, compact dumps. */
#include "net/json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

int pw__json_load(json_t **out, const char *text, size_t len, size_t max_len, const char *what,
                  pw_error **err)
{
	*out = NULL;
	what = what ? what : "the document";
	if (!text)
		return pw_error_set(err, PW_EINVAL, "cannot parse %s as JSON: no text", what);
	if (max_len == 0)
		max_len = PW_JSON_DEFAULT_MAX;
	if (len > max_len)
		return pw_error_set(err, PW_EEXTERNAL, "%s is larger than %zu bytes", what, max_len);
	json_error_t je;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!v)
		return pw_error_set(err, PW_EEXTERNAL, "cannot parse %s as JSON: %s at line %d, column %d",
		                    what, je.text, je.line, je.column);
	*out = v;
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

json_t *pw__json_get(const json_t *root, const char *path)
{
	json_t *cur = (json_t *)root;
	if (!cur || !path)
		return cur;
	const char *p = path;
	while (*p && cur) {
		size_t n = strcspn(p, ".");
		if (json_is_object(cur)) {
			cur = json_object_getn(cur, p, n);
		} else if (json_is_array(cur) && all_digits(p, n) && n < 10) {
			size_t idx = 0;
			for (size_t i = 0; i < n; i++)
				idx = idx * 10 + (size_t)(p[i] - '0');
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *pw__json_get_string(const json_t *root, const char *path)
{
	json_t *v = pw__json_get(root, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int pw__json_get_int(long long *out, const json_t *root, const char *path)
{
	json_t *v = pw__json_get(root, path);
	if (!v)
		return PW_ENOTFOUND;
	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= -9.2e18 && d <= 9.2e18 && (double)(long long)d == d) {
			*out = (long long)d;
			return 0;
		}
	}
	return PW_EINVAL;
}

int pw__json_get_bool(const json_t *root, const char *path, int fallback)
{
	json_t *v = pw__json_get(root, path);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

char *pw__json_dump(const json_t *v)
{
	if (!v)
		return NULL;
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (!s)
		return NULL;
	/* hand over memory from the library's own allocator */
	char *copy = pw_strdup(s);
	free(s);
	return copy;
}
