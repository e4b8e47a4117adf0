/* "Did you mean ...?": the nearest known word to a misspelt one. */
#ifndef PW_CORE_SUGGEST_H
#define PW_CORE_SUGGEST_H

#include <stddef.h>

/* Optimal-string-alignment distance (Damerau-Levenshtein with adjacent transpositions),
 * case-insensitive; SIZE_MAX when either word is longer than 64 bytes. */
size_t pw__edit_distance(const char *a, const char *b);
/* Non-zero when word is in the NULL-terminated list. */
int pw__suggest_known(const char *word, const char *const *known);
/* The candidate nearest to `word`: distance at most 2 (and less than the candidate's
 * length), else one sharing a prefix of at least 3 characters; borrowed; NULL when none. */
const char *pw__suggest_n(const char *word, const char *const *cands, size_t n);
/* The same over a NULL-terminated list. */
const char *pw__suggest(const char *word, const char *const *known);

#endif
