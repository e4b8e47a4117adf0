/* Checks of names and paths that several connectors apply to their configuration. */
#include <string.h>

#include "core/internal.h"

int pw__path_stays_inside(const char *path)
{
	if (!path || path[0] == '/')
		return 0;
	int depth = 0;
	const char *p = path;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			depth--;
		else if (n > 0 && !(n == 1 && p[0] == '.'))
			depth++;
		if (depth < 0)
			return 0;
		p += n;
		while (*p == '/')
			p++;
	}
	return 1;
}

static int letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

int pw__env_name_valid(const char *k)
{
	if (!k || !letter(*k))
		return 0;
	for (const char *p = k; *p; p++)
		if (!letter(*p) && !(*p >= '0' && *p <= '9'))
			return 0;
	return 1;
}
