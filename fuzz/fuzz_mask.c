/* Fuzz target: the secret masker. From one input it takes up to four secrets, a chunking and
 * a text, and checks the masker's promises:
 *   - streamed in random chunks, the output equals the one-shot masking of the whole text;
 *   - no secret (nor its standard base64) survives in the output;
 *   - in "clean" mode, where the text cannot contain any form of the secrets, the output is
 *     the text unchanged.
 * Input layout: [flags] then per secret [length byte][bytes], then [chunk seed], then text. */
#include <string.h>

#include "fuzz.h"
#include "pipewright/secrets.h"

#define MAX_SECRETS 4
#define MAX_SECRET_LEN 48

typedef struct sink {
	char *data;
	size_t len, cap;
} sink;

static void sink_emit(const char *data, size_t len, void *payload)
{
	sink *s = payload;
	if (s->len + len > s->cap) {
		size_t cap = (s->len + len) * 2 + 16;
		char *p = realloc(s->data, cap);
		FUZZ_ASSERT(p != NULL);
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, data, len);
	s->len += len;
}

static int contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0 || nlen > hlen)
		return 0;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return 1;
	return 0;
}

static size_t base64(char *out, const unsigned char *v, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)v[i] << 16 | (i + 1 < n ? (unsigned)v[i + 1] << 8 : 0) |
		             (i + 2 < n ? v[i + 2] : 0);
		out[o++] = a[(x >> 18) & 63];
		out[o++] = a[(x >> 12) & 63];
		out[o++] = i + 1 < n ? a[(x >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[x & 63] : '=';
	}
	return o;
}

/* In clean mode secrets are made of [a-z0-9] and the text of bytes that are neither letters,
 * digits nor '*': every registered form of such a secret (raw, base64, URL, JSON) contains a
 * letter or digit in every window of PW_SECRET_MIN_LENGTH bytes, so none can occur. */
static unsigned char clean_secret_byte(unsigned char b)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	return (unsigned char)set[b % (sizeof(set) - 1)];
}

static unsigned char clean_text_byte(unsigned char b)
{
	if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '*')
		return (unsigned char)(b & 0x1f ? (b & 0x1f) : ' '); /* a control byte or space */
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t at = 0;
	unsigned flags = data[at++];
	int clean = flags & 0x80;
	size_t nsecrets = flags % (MAX_SECRETS + 1);
	char secrets[MAX_SECRETS][MAX_SECRET_LEN + 1];
	size_t lens[MAX_SECRETS];
	size_t have = 0;
	for (size_t i = 0; i < nsecrets && at < size; i++) {
		size_t n = PW_SECRET_MIN_LENGTH + data[at++] % (MAX_SECRET_LEN - PW_SECRET_MIN_LENGTH + 1);
		if (at + n > size)
			break;
		for (size_t j = 0; j < n; j++) {
			unsigned char b = data[at + j];
			if (clean)
				b = clean_secret_byte(b);
			else if (b == '\0' || b == '*') /* a secret with the mask's byte could be */
				b = 'x';                /* spelt by mask + text: not a leak */
			secrets[have][j] = (char)b;
		}
		secrets[have][n] = '\0';
		lens[have++] = n;
		at += n;
	}
	if (at >= size)
		return 0;
	unsigned seed = data[at++];
	size_t tlen = size - at;
	char *text = malloc(tlen + 1);
	FUZZ_ASSERT(text != NULL);
	for (size_t i = 0; i < tlen; i++) {
		/* no NUL: the one-shot masker's output is a C string */
		unsigned char b = clean ? clean_text_byte(data[at + i]) : data[at + i];
		text[i] = (char)(b ? b : ' ');
	}
	text[tlen] = '\0';

	pw_secrets *set = NULL;
	FUZZ_ASSERT(pw_secrets_new(&set) == 0);
	for (size_t i = 0; i < have; i++)
		FUZZ_ASSERT(pw_secrets_add(set, secrets[i], NULL, NULL) == 0);

	char *once = pw_secrets_mask(set, text, tlen);
	FUZZ_ASSERT(once != NULL);
	size_t once_len = strlen(once);
	FUZZ_ASSERT(once_len <= tlen);

	/* the same text in chunks of 1 .. max bytes, sizes from a small generator */
	sink out = {NULL, 0, 0};
	pw_mask_stream *ms = NULL;
	FUZZ_ASSERT(pw_mask_stream_new(&ms, set, sink_emit, &out) == 0);
	unsigned state = seed * 2654435761u + 1;
	size_t max_chunk = 1 + seed % 64;
	for (size_t off = 0; off < tlen;) {
		state = state * 1103515245u + 12345u;
		size_t n = 1 + (state >> 16) % max_chunk;
		if (n > tlen - off)
			n = tlen - off;
		pw_mask_stream_write(ms, text + off, n);
		off += n;
	}
	pw_mask_stream_free(ms);

	FUZZ_ASSERT(out.len == once_len);
	FUZZ_ASSERT(out.len == 0 || memcmp(out.data, once, out.len) == 0);
	for (size_t i = 0; i < have; i++) {
		FUZZ_ASSERT(!contains(out.data, out.len, secrets[i], lens[i]));
		char b64[(MAX_SECRET_LEN + 2) / 3 * 4 + 1];
		size_t bl = base64(b64, (const unsigned char *)secrets[i], lens[i]);
		FUZZ_ASSERT(!contains(out.data, out.len, b64, bl));
	}
	if (clean) {
		FUZZ_ASSERT(out.len == tlen);
		FUZZ_ASSERT(tlen == 0 || memcmp(out.data, text, tlen) == 0);
	}

	free(out.data);
	pw_free(once);
	free(text);
	pw_secrets_free(set);
	return 0;
}
