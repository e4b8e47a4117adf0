/* "Did you mean ...?": the nearest known word to a misspelt one. */
#ifndef PW_CORE_SUGGEST_H
#define PW_CORE_SUGGEST_H

#include <stddef.h>

/* Optimal-string-alignment distance (Levenshtein with transpositions), capped at 64 bytes
 * of input; longer inputs compare their first 64 bytes. */
size_t pw__edit_distance(const char *a, const char *b);
/* Non-zero when word is in the NULL-terminated list. */
int pw__suggest_known(const char *word, const char *const *known);
/* The known word nearest to `word` (distance <= 2, or `word` is a prefix of it, or it is a
 * prefix of `word`), borrowed from the list; NULL when none is near. */
const char *pw__suggest(const char *word, const char *const *known);

#endif
