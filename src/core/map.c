/* Ordered string maps. Small maps are searched in order; from MAP_INDEX_FROM entries on, a
 * hash index finds a key at once (a step's environment holds the outputs of every step before
 * it: thousands of entries in a long pipeline whose steps all write outputs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/error.h"
#include "pipewright/map.h"

#define MAP_INDEX_FROM 16

struct pw_map {
	char **keys;
	char **values;
	size_t count;
	size_t cap;
	/* NULL (a small map, or no memory for it: then the search is in order), or an
	 * open-addressing table of entry numbers + 1 by key hash (0: free), index_cap a power of
	 * two of at least twice count + 1 */
	uint32_t *index;
	size_t index_cap;
};

pw_map *pw_map_new(void)
{
	return calloc(1, sizeof(pw_map));
}

static size_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static void index_put(pw_map *m, size_t i)
{
	size_t mask = m->index_cap - 1, h = key_hash(m->keys[i]) & mask;
	while (m->index[h])
		h = (h + 1) & mask;
	m->index[h] = (uint32_t)(i + 1);
}

/* (Re)builds the index for the current entries, or drops it for a small map. Without memory
 * the map stays without one: slower, not wrong. */
static void index_rebuild(pw_map *m)
{
	free(m->index);
	m->index = NULL;
	m->index_cap = 0;
	if (m->count <= MAP_INDEX_FROM || m->count >= UINT32_MAX / 4)
		return;
	size_t cap = 64;
	while (cap < 2 * (m->count + 1))
		cap <<= 1;
	m->index = calloc(cap, sizeof(uint32_t));
	if (!m->index)
		return;
	m->index_cap = cap;
	for (size_t i = 0; i < m->count; i++)
		index_put(m, i);
}

static long map_find(const pw_map *m, const char *key)
{
	if (m->index) {
		size_t mask = m->index_cap - 1, h = key_hash(key) & mask;
		for (uint32_t e; (e = m->index[h]) != 0; h = (h + 1) & mask)
			if (strcmp(m->keys[e - 1], key) == 0)
				return (long)(e - 1);
		return -1;
	}
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
	if (m->index && 2 * (m->count + 1) <= m->index_cap)
		index_put(m, m->count - 1);
	else if (m->count > MAP_INDEX_FROM)
		index_rebuild(m);
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
	if (m->index)
		index_rebuild(m);
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
	free(m->index);
	free(m);
}
