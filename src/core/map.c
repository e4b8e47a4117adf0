/* Ordered string maps. Linear lookup: maps here hold tens of entries, not thousands. */
#include <stdlib.h>
#include <string.h>

#include "pipewright/error.h"
#include "pipewright/map.h"

struct pw_map {
	char **keys;
	char **values;
	size_t count;
	size_t cap;
};

pw_map *pw_map_new(void)
{
	return calloc(1, sizeof(pw_map));
}

static long map_find(const pw_map *m, const char *key)
{
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->keys[i], key) == 0)
			return (long)i;
	return -1;
}

int pw_map_set(pw_map *m, const char *key, const char *value)
{
	if (!m || !key)
		return PW_EINVAL;
	char *v = strdup(value ? value : "");
	if (!v)
		return PW_ENOMEM;
	long i = map_find(m, key);
	if (i >= 0) {
		free(m->values[i]);
		m->values[i] = v;
		return 0;
	}
	if (m->count == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		char **nk = realloc(m->keys, ncap * sizeof(char *));
		if (!nk) {
			free(v);
			return PW_ENOMEM;
		}
		m->keys = nk;
		char **nv = realloc(m->values, ncap * sizeof(char *));
		if (!nv) {
			free(v);
			return PW_ENOMEM;
		}
		m->values = nv;
		m->cap = ncap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return PW_ENOMEM;
	}
	m->keys[m->count] = k;
	m->values[m->count] = v;
	m->count++;
	return 0;
}

int pw_map_merge(pw_map *m, const pw_map *src)
{
	if (!src)
		return 0;
	for (size_t i = 0; i < src->count; i++) {
		int rc = pw_map_set(m, src->keys[i], src->values[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

pw_map *pw_map_dup(const pw_map *m)
{
	pw_map *d = pw_map_new();
	if (d && m && pw_map_merge(d, m) < 0) {
		pw_map_free(d);
		return NULL;
	}
	return d;
}

const char *pw_map_get(const pw_map *m, const char *key)
{
	if (!m || !key)
		return NULL;
	long i = map_find(m, key);
	return i >= 0 ? m->values[i] : NULL;
}

int pw_map_remove(pw_map *m, const char *key)
{
	if (!m || !key)
		return 0;
	long i = map_find(m, key);
	if (i < 0)
		return 0;
	free(m->keys[i]);
	free(m->values[i]);
	memmove(&m->keys[i], &m->keys[i + 1], (m->count - (size_t)i - 1) * sizeof(char *));
	memmove(&m->values[i], &m->values[i + 1], (m->count - (size_t)i - 1) * sizeof(char *));
	m->count--;
	return 1;
}

size_t pw_map_count(const pw_map *m)
{
	return m ? m->count : 0;
}

const char *pw_map_key_at(const pw_map *m, size_t i)
{
	return m && i < m->count ? m->keys[i] : NULL;
}

const char *pw_map_value_at(const pw_map *m, size_t i)
{
	return m && i < m->count ? m->values[i] : NULL;
}

void pw_map_free(pw_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->count; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	free(m);
}
