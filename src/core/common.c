/* Version and the allocator used for memory that crosses the library boundary. */
#include <stdlib.h>
#include <string.h>

#include "pipewright/common.h"

const char *pw_version(void)
{
	return PW_CONNECTOR_SYSTEM_VERSION;
}

void *pw_malloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *pw_calloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}

void *pw_realloc(void *ptr, size_t size)
{
	return realloc(ptr, size ? size : 1);
}

char *pw_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void pw_free(void *ptr)
{
	free(ptr);
}
