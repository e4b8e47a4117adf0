/* Nearest-word suggestions for unknown keys and names. */
#include "core/suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#define NEAREST_MAX_LEN 64

/* Optimal-string-alignment distance (Damerau-Levenshtein with adjacent transpositions),
 * case-insensitive. SIZE_MAX when either word is longer than NEAREST_MAX_LEN. */
size_t pw__edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > NEAREST_MAX_LEN || lb > NEAREST_MAX_LEN)
		return SIZE_MAX;
	size_t d[NEAREST_MAX_LEN + 1][NEAREST_MAX_LEN + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca == cb ? 0 : 1;
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *pw__suggest_n(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = pw__edit_distance(word, cands[i]);
		if (d < best_d && d < strlen(cands[i])) {
			best = cands[i];
			best_d = d;
		}
	}
	if (best)
		return best;
	size_t lw = strlen(word);
	for (size_t i = 0; i < n && lw >= 3; i++) {
		size_t lc = strlen(cands[i]);
		if (strncmp(cands[i], word, lw < lc ? lw : lc) == 0 && lc >= 3)
			return cands[i];
	}
	return NULL;
}

int pw__suggest_known(const char *word, const char *const *known)
{
	for (size_t i = 0; known && known[i]; i++)
		if (strcmp(word, known[i]) == 0)
			return 1;
	return 0;
}

const char *pw__suggest(const char *word, const char *const *known)
{
	size_t n = 0;
	while (known && known[n])
		n++;
	return pw__suggest_n(word, known, n);
}
