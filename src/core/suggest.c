/* Nearest-word suggestions for unknown keys and names. */
#include "core/suggest.h"

#include <string.h>

#define MAXLEN 64

size_t pw__edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > MAXLEN)
		la = MAXLEN;
	if (lb > MAXLEN)
		lb = MAXLEN;
	size_t d[MAXLEN + 1][MAXLEN + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
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
	const char *best = NULL;
	size_t best_d = 3;
	size_t wl = strlen(word);
	for (size_t i = 0; known && known[i]; i++) {
		size_t d = pw__edit_distance(word, known[i]);
		size_t kl = strlen(known[i]);
		/* short words: one edit at most, or everything would be "near" */
		size_t limit = wl <= 3 ? 1 : 2;
		if (d <= limit && d < best_d) {
			best = known[i];
			best_d = d;
		} else if (!best && wl >= 3 && ((kl > wl && strncmp(known[i], word, wl) == 0) ||
		                                (wl > kl && kl >= 3 && strncmp(word, known[i], kl) == 0))) {
			best = known[i];
		}
	}
	return best;
}
