/* An ordered string-to-string map: environments, result metadata, step outputs. */
#ifndef PIPEWRIGHT_MAP_H
#define PIPEWRIGHT_MAP_H

#include "common.h"

PW_BEGIN_DECLS

typedef struct pw_map pw_map;

/* New empty map; NULL when memory is exhausted. Caller frees with pw_map_free. */
PW_EXTERN pw_map *pw_map_new(void);
/* Deep copy; NULL when memory is exhausted. */
PW_EXTERN pw_map *pw_map_dup(const pw_map *m);
/* Copies key and value; replaces an existing key's value in place (order kept).
 * Returns 0 or PW_ENOMEM. */
PW_EXTERN int pw_map_set(pw_map *m, const char *key, const char *value);
/* Copies every entry of src into m (later wins). */
PW_EXTERN int pw_map_merge(pw_map *m, const pw_map *src);
/* Borrowed value, or NULL when absent. */
PW_EXTERN const char *pw_map_get(const pw_map *m, const char *key);
/* Removes key; returns 1 when it was present. */
PW_EXTERN int pw_map_remove(pw_map *m, const char *key);
PW_EXTERN size_t pw_map_count(const pw_map *m);
/* Borrowed key/value at insertion index i (< count). */
PW_EXTERN const char *pw_map_key_at(const pw_map *m, size_t i);
PW_EXTERN const char *pw_map_value_at(const pw_map *m, size_t i);
PW_EXTERN void pw_map_free(pw_map *m);

PW_END_DECLS

#endif
