/* Fuzz target: SigV4 canonicalisation. Input lines: a path, a query string, a header value.
 * Checks that canonical paths and queries hold only unreserved characters and %XX escapes, that
 * normalised paths have no empty, "." or ".." segments, that canonicalising twice changes
 * nothing, and that signing succeeds without the secret in any output. */
#include <string.h>

#include "auth/sigv4.h"
#include "fuzz.h"

#define SECRET "fuzzsecretkeyvalue"

static int hexu(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_encoded(const char *s, const char *extra)
{
	for (const char *p = s; *p; p++) {
		char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) || strchr(extra, c))
			continue;
		FUZZ_ASSERT(c == '%' && hexu(p[1]) && hexu(p[2]));
		p += 2;
	}
}

static int holds(const uint8_t *d, size_t n, const char *needle)
{
	size_t l = strlen(needle);
	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(d + i, needle, l) == 0)
			return 1;
	return 0;
}

static int hexv(uint8_t c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

/* The input holds the secret as it is or once %XX escapes are decoded (canonicalisation
 * decodes and encodes again). The secret is lower-case letters only: the escapes it adds are
 * upper case, so they cannot complete it (with an upper-case secret, "%1F" before "UZZ..."
 * made "FUZZ..." out of an input that never held it). */
static int input_holds(const uint8_t *d, size_t n, const char *needle)
{
	if (holds(d, n, needle))
		return 1;
	uint8_t *dec = malloc(n + 1);
	size_t m = 0;
	for (size_t i = 0; dec && i < n; i++) {
		if (d[i] == '%' && i + 2 < n && hexv(d[i + 1]) >= 0 && hexv(d[i + 2]) >= 0) {
			dec[m++] = (uint8_t)(hexv(d[i + 1]) * 16 + hexv(d[i + 2]));
			i += 2;
		} else {
			dec[m++] = d[i];
		}
	}
	int found = !dec || holds(dec, m, needle);
	free(dec);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_ASSERT(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	char *lines[3] = {text, (char *)"", (char *)""};
	for (int i = 1; i < 3; i++) {
		char *nl = strchr(lines[i - 1], '\n');
		if (!nl)
			break;
		*nl = '\0';
		lines[i] = nl + 1;
	}
	const char *path = lines[0], *query = lines[1], *value = lines[2];

	char *norm = pw__sigv4_canonical_path(path, 1, 0);
	FUZZ_ASSERT(norm != NULL && norm[0] == '/');
	FUZZ_ASSERT(strstr(norm, "//") == NULL);
	FUZZ_ASSERT(strstr(norm, "/./") == NULL && strstr(norm, "/../") == NULL);
	char *again = pw__sigv4_canonical_path(norm, 1, 0);
	FUZZ_ASSERT(again != NULL && strcmp(again, norm) == 0);
	pw_free(again);
	char *enc = pw__sigv4_canonical_path(path, 1, 1);
	FUZZ_ASSERT(enc != NULL);
	check_encoded(enc, "/");
	pw_free(enc);
	pw_free(norm);

	char *q = pw__sigv4_canonical_query(query);
	FUZZ_ASSERT(q != NULL);
	check_encoded(q, "=&");
	char *q2 = pw__sigv4_canonical_query(q);
	FUZZ_ASSERT(q2 != NULL && strcmp(q, q2) == 0);
	pw_free(q2);
	pw_free(q);

	pw_sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Fuzz", value}};
	pw_sigv4_input in = {0};
	in.method = "POST";
	in.path = path;
	in.query = query;
	in.headers = h;
	in.nheaders = 2;
	in.body = value;
	in.body_len = strlen(value);
	in.region = "us-east-1";
	in.service = "service";
	in.access_key_id = "AKIDEXAMPLE";
	in.secret_access_key = SECRET;
	in.session_token = "tok";
	in.when = 1440938160;
	in.normalize_path = 1;
	in.double_encode = 1;
	in.presign = size & 1;
	pw_sigv4_output o;
	FUZZ_ASSERT(pw__sigv4_sign(&o, &in, NULL) == 0);
	FUZZ_ASSERT(strlen(o.signature) == 64);
	/* the secret may only appear in the outputs when the input itself holds it */
	if (!input_holds(data, size, SECRET)) {
		FUZZ_ASSERT(strstr(o.canonical_request, SECRET) == NULL);
		FUZZ_ASSERT(!o.authorization || strstr(o.authorization, SECRET) == NULL);
		FUZZ_ASSERT(!o.signed_query || strstr(o.signed_query, SECRET) == NULL);
	}
	pw__sigv4_output_dispose(&o);
	free(text);
	return 0;
}
