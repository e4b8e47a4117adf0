/* Fuzz target: the nearest-word helper. The input is newline-separated words: the first is
 * the misspelt word, the others the candidates. Checks the distance's metric properties and
 * that a suggestion is always one of the candidates. */
#include <string.h>
#include <strings.h>

#include "core/suggest.h"
#include "fuzz.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_ASSERT(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	const char *words[MAX_WORDS + 1];
	size_t n = 0;
	char *p = text;
	while (n < MAX_WORDS) {
		words[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	words[n] = NULL;

	const char *word = words[0];
	const char *const *cands = words + 1;
	size_t nc = n - 1;
	size_t lw = strlen(word);
	for (size_t i = 0; i < nc; i++) {
		size_t d = pw__edit_distance(word, cands[i]);
		size_t back = pw__edit_distance(cands[i], word);
		size_t lc = strlen(cands[i]);
		FUZZ_ASSERT(d == back);
		if (lw > 64 || lc > 64) {
			FUZZ_ASSERT(d == SIZE_MAX);
			continue;
		}
		FUZZ_ASSERT(d <= (lw > lc ? lw : lc));
		FUZZ_ASSERT(d >= (lw > lc ? lw - lc : lc - lw));
		FUZZ_ASSERT((d == 0) == (strcasecmp(word, cands[i]) == 0));
	}
	const char *s = pw__suggest_n(word, cands, nc);
	int found = s == NULL;
	for (size_t i = 0; i < nc && !found; i++)
		found = s == cands[i];
	FUZZ_ASSERT(found);
	const char *s2 = pw__suggest(word, cands);
	FUZZ_ASSERT(s2 == s);
	/* a word that is in the list is its own nearest word */
	if (pw__suggest_known(word, cands) && lw >= 1 && lw <= 64)
		FUZZ_ASSERT(s != NULL && pw__edit_distance(word, s) == 0);
	free(text);
	return 0;
}
