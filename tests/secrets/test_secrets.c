/* Tests for secret masking: raw values, encoded forms, overlaps, streaming across chunk
 * boundaries, a random streaming == one-shot property, errors and concurrent use. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/secrets.h"
#include "pwtest.h"

/* ---- helpers ---- */

typedef struct sink {
	char *data;
	size_t len, cap;
	int calls;
} sink;

static void sink_emit(const char *data, size_t len, void *payload)
{
	sink *k = payload;
	if (k->len + len + 1 > k->cap) {
		k->cap = (k->len + len + 1) * 2;
		k->data = realloc(k->data, k->cap);
	}
	memcpy(k->data + k->len, data, len);
	k->len += len;
	k->data[k->len] = '\0';
	k->calls++;
}

static pw_secrets *secrets_of(const char *const *values)
{
	pw_secrets *s = NULL;
	if (pw_secrets_new(&s) < 0)
		return NULL;
	for (size_t i = 0; values[i]; i++) {
		pw_error *err = NULL;
		if (pw_secrets_add(s, values[i], "TEST", &err) < 0) {
			fprintf(stderr, "  add: %s\n", pw_error_message(err));
			pw_error_free(err);
		}
	}
	return s;
}

/* Checks the one-shot mask of text against want; returns 1 when equal. */
static int check_mask(pw_secrets *s, const char *text, const char *want)
{
	char *got = pw_secrets_mask_str(s, text);
	int ok = got && strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "  mask(\"%s\") = \"%s\", want \"%s\"\n", text, got ? got : "(null)", want);
	pw_free(got);
	return ok;
}

/* Streams text through a masker in the given chunk sizes (cycled), then flushes. */
static char *stream_chunks(pw_secrets *s, const char *text, size_t len, const size_t *sizes, size_t nsizes)
{
	sink k = {0};
	pw_mask_stream *ms = NULL;
	if (pw_mask_stream_new(&ms, s, sink_emit, &k) < 0)
		return NULL;
	size_t at = 0, i = 0;
	while (at < len) {
		size_t n = sizes[i++ % nsizes];
		if (n > len - at)
			n = len - at;
		pw_mask_stream_write(ms, text + at, n);
		at += n;
	}
	pw_mask_stream_free(ms);
	if (!k.data)
		k.data = calloc(1, 1);
	return k.data;
}

/* Independent base64 (the classic three-bytes-to-four loop). */
static char *b64(const unsigned char *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* The digits of base64(k other bytes + value + more bytes) fixed by value alone. */
static char *b64_aligned(const char *value, size_t k)
{
	size_t n = strlen(value);
	unsigned char *buf = calloc(k + n + 3, 1);
	memcpy(buf + k, value, n);
	char *full = b64(buf, k + n + 3);
	size_t first = (8 * k + 5) / 6, end = 8 * (k + n) / 6;
	char *out = strndup(full + first, end - first);
	free(full);
	free(buf);
	return out;
}

/* ---- basic masking ---- */

PW_TEST(raw_value_is_masked)
{
	const char *v[] = {"hunter2secret", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	PW_CHECK_INT(pw_secrets_count(s), 1);
	PW_CHECK(check_mask(s, "password=hunter2secret; next", "password=***; next"));
	PW_CHECK(check_mask(s, "hunter2secret", "***"));
	PW_CHECK(check_mask(s, "hunter2secrethunter2secret", "***"));
	PW_CHECK(check_mask(s, "a hunter2secret b hunter2secret c", "a *** b *** c"));
	PW_CHECK(check_mask(s, "hunter2secre and unter2secret", "hunter2secre and unter2secret"));
	PW_CHECK(check_mask(s, "", ""));
	char *got = pw_secrets_mask(s, "xxhunter2secretyy", 9); /* only part of it: not a match */
	PW_CHECK_STR(got, "xxhunter2");
	pw_free(got);
	pw_secrets_free(s);
}

PW_TEST(multiple_overlapping_and_adjacent)
{
	const char *v[] = {"abcdef", "defghi", "wxyz", "1234", "secretvalue", "retva", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	PW_CHECK_INT(pw_secrets_count(s), 6);
	PW_CHECK(check_mask(s, "xxabcdefghixx", "xx***xx")); /* overlapping */
	PW_CHECK(check_mask(s, "[wxyz1234]", "[***]"));      /* adjacent: one run */
	PW_CHECK(check_mask(s, "[wxyz 1234]", "[*** ***]")); /* one byte apart: two */
	PW_CHECK(check_mask(s, "<secretvalue>", "<***>"));   /* one inside another */
	PW_CHECK(check_mask(s, "<retva>", "<***>"));
	PW_CHECK(check_mask(s, "abcdefghiwxyz1234secretvalue!", "***!"));
	PW_CHECK(check_mask(s, "abcde defgh", "abcde defgh"));
	pw_secrets_free(s);
}

PW_TEST(duplicate_add_is_noop)
{
	pw_secrets *s = NULL;
	PW_REQUIRE(pw_secrets_new(&s) == 0);
	PW_CHECK_INT(pw_secrets_add(s, "same-value", "A", NULL), 0);
	PW_CHECK_INT(pw_secrets_add(s, "same-value", "B", NULL), 0);
	PW_CHECK_INT(pw_secrets_count(s), 1);
	PW_CHECK(check_mask(s, "x same-value y", "x *** y"));
	pw_secrets_free(s);
}

/* ---- encoded forms ---- */

PW_TEST(base64_forms)
{
	const char *value = "s3cr3t-T0ken!";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);

	/* Standalone, as in "Authorization: Basic ..." (printf %s s3cr3t-T0ken! | base64). */
	char *enc = b64((const unsigned char *)value, strlen(value));
	PW_CHECK_STR(enc, "czNjcjN0LVQwa2VuIQ==");
	char text[256];
	snprintf(text, sizeof(text), "Authorization: Basic %s\n", enc);
	PW_CHECK(check_mask(s, text, "Authorization: Basic ***\n"));
	free(enc);

	/* Inside a longer blob, at every alignment: only the digits the secret fixes are masked. */
	const char *prefixes[] = {"", "u", "us", "use", "user:", "userid:", NULL};
	for (size_t p = 0; prefixes[p]; p++) {
		char blob[128];
		int n = snprintf(blob, sizeof(blob), "%s%s:more-bytes", prefixes[p], value);
		char *b = b64((const unsigned char *)blob, (size_t)n);
		size_t k = strlen(prefixes[p]), first = (8 * k + 5) / 6, end = 8 * (k + strlen(value)) / 6;
		char want[256];
		snprintf(want, sizeof(want), "[%.*s***%s]", (int)first, b, b + end);
		snprintf(text, sizeof(text), "[%s]", b);
		PW_CHECK(check_mask(s, text, want));
		char *fixed = b64_aligned(value, k % 3);
		char *got = pw_secrets_mask_str(s, text);
		PW_CHECK_NOT_CONTAINS(got, fixed);
		pw_free(got);
		free(fixed);
		free(b);
	}
	pw_secrets_free(s);
}

PW_TEST(url_encoded_forms)
{
	const char *value = "p@ss w/rd&x=1~ok";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	CURL *curl = curl_easy_init();
	PW_REQUIRE(curl);
	char *upper = curl_easy_escape(curl, value, 0); /* RFC 3986: all but unreserved, %XX */
	PW_CHECK_STR(upper, "p%40ss%20w%2Frd%26x%3D1~ok");
	char text[256];
	snprintf(text, sizeof(text), "GET /?token=%s&a=b", upper);
	PW_CHECK(check_mask(s, text, "GET /?token=***&a=b"));
	curl_free(upper);
	curl_easy_cleanup(curl);

	PW_CHECK(check_mask(s, "q=p%40ss%20w%2frd%26x%3d1~ok;", "q=***;")); /* lowercase hex */
	PW_CHECK(check_mask(s, "q=p%40ss+w%2Frd%26x%3D1~ok;", "q=***;"));   /* form: + for space */
	PW_CHECK(check_mask(s, "q=p%40ss+w%2frd%26x%3d1~ok;", "q=***;"));   /* form, lowercase */
	PW_CHECK(check_mask(s, "q=p@ss w/rd&x=1~ok;", "q=***;"));           /* raw still */
	pw_secrets_free(s);
}

static char *json_body(const char *value, size_t flags)
{
	json_t *j = json_string(value);
	char *dump = json_dumps(j, JSON_ENCODE_ANY | flags);
	json_decref(j);
	size_t n = strlen(dump);
	char *body = strndup(dump + 1, n - 2); /* without the quotes */
	free(dump);
	return body;
}

PW_TEST(json_escaped_forms)
{
	const char *value = "li\"ne1\nline2\\tab\t/ctl\x01!";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	char *plain = json_body(value, 0);
	char *slash = json_body(value, JSON_ESCAPE_SLASH);
	PW_CHECK_STR(plain, "li\\\"ne1\\nline2\\\\tab\\t/ctl\\u0001!");
	PW_CHECK_STR(slash, "li\\\"ne1\\nline2\\\\tab\\t\\/ctl\\u0001!");
	char text[256], want[] = "{\"k\":\"***\"}";
	snprintf(text, sizeof(text), "{\"k\":\"%s\"}", plain);
	PW_CHECK(check_mask(s, text, want));
	snprintf(text, sizeof(text), "{\"k\":\"%s\"}", slash);
	PW_CHECK(check_mask(s, text, want));
	free(plain);
	free(slash);
	pw_secrets_free(s);

	/* Lowercase hex matters only for controls with a letter digit: \u001b (ESC). */
	const char *v2[] = {"esc\x1b[0mcode", NULL};
	s = secrets_of(v2);
	PW_REQUIRE(s);
	PW_CHECK(check_mask(s, "\"esc\\u001B[0mcode\"", "\"***\""));
	PW_CHECK(check_mask(s, "\"esc\\u001b[0mcode\"", "\"***\""));
	pw_secrets_free(s);
}

/* s with eol inserted after every width characters (not at the end). */
static char *wrap(const char *s, size_t width, const char *eol)
{
	size_t n = strlen(s), lines = n / width + 1;
	char *out = calloc(n + lines * strlen(eol) + 1, 1);
	for (size_t at = 0; at < n; at += width) {
		if (at)
			strcat(out, eol);
		strncat(out, s + at, width);
	}
	return out;
}

PW_TEST(base64_wrapped_forms)
{
	/* 83 bytes: 112 base64 digits, two lines at 76 columns and at 64 */
	const char *value =
	    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXBsb3kiLCJpYXQiOjE1MTYyMzkwMjJ9.c2lnbmF0dXJlLXZhbHVl";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	size_t n = strlen(value);
	char *whole = b64((const unsigned char *)value, n);
	char *with_newline_src = calloc(n + 2, 1);
	memcpy(with_newline_src, value, n);
	with_newline_src[n] = '\n'; /* echo "$V" | base64 */
	char *with_newline = b64((const unsigned char *)with_newline_src, n + 1);
	const char *encodings[] = {whole, with_newline};
	const size_t widths[] = {76, 64};
	const char *eols[] = {"\n", "\r\n"};
	for (size_t e = 0; e < 2; e++)
		for (size_t w = 0; w < 2; w++)
			for (size_t l = 0; l < 2; l++) {
				char *wrapped = wrap(encodings[e], widths[w], eols[l]);
				char *text = calloc(strlen(wrapped) + 16, 1);
				sprintf(text, "<%s%s>", wrapped, eols[l]);
				char *got = pw_secrets_mask_str(s, text);
				PW_CHECK(got && strncmp(got, "<***", 4) == 0);
				/* what is left is at most the encoding's last group (the newline's bits,
				 * padding) */
				PW_CHECK(got && strlen(got) <= strlen("<***") + 4 + strlen(eols[l]) + 1);
				PW_CHECK_NOT_CONTAINS(got, "eyJ");
				pw_free(got);
				free(text);
				free(wrapped);
			}
	free(whole);
	free(with_newline);
	free(with_newline_src);
	pw_secrets_free(s);
}

PW_TEST(url_forms_that_keep_reserved_characters)
{
	const char *value = "s3cr3t/p@ss w0rd\"x!(y)*'";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	/* urllib.parse.quote(v): "/" kept */
	PW_CHECK(check_mask(s, "u=s3cr3t/p%40ss%20w0rd%22x%21%28y%29%2A%27;", "u=***;"));
	/* encodeURIComponent(v): !'()* kept */
	PW_CHECK(check_mask(s, "u=s3cr3t%2Fp%40ss%20w0rd%22x!(y)*';", "u=***;"));
	/* encodeURI(v): the reserved characters kept */
	PW_CHECK(check_mask(s, "u=s3cr3t/p@ss%20w0rd%22x!(y)*';", "u=***;"));
	pw_secrets_free(s);
}

PW_TEST(json_forms_of_other_encoders)
{
	/* ä (2 bytes), € (3 bytes), U+1F511 (4 bytes: a surrogate pair), and Go's HTML escapes */
	const char *value = "p\xc3\xa4ss/w\xe2\x82\xac<rd>&\xf0\x9f\x94\x91";
	const char *v[] = {value, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	/* Python json.dumps (ensure_ascii) */
	PW_CHECK(check_mask(s, "{\"k\": \"p\\u00e4ss/w\\u20ac<rd>&\\ud83d\\udd11\"}", "{\"k\": \"***\"}"));
	/* Jackson, ESCAPE_NON_ASCII */
	PW_CHECK(check_mask(s, "{\"k\":\"p\\u00E4ss/w\\u20AC<rd>&\\uD83D\\uDD11\"}", "{\"k\":\"***\"}"));
	/* PHP json_encode */
	PW_CHECK(check_mask(s, "{\"k\":\"p\\u00e4ss\\/w\\u20ac<rd>&\\ud83d\\udd11\"}", "{\"k\":\"***\"}"));
	/* Go encoding/json */
	PW_CHECK(check_mask(s, "{\"k\":\"p\xc3\xa4ss/w\xe2\x82\xac\\u003crd\\u003e\\u0026\xf0\x9f\x94\x91\"}",
	                    "{\"k\":\"***\"}"));
	pw_secrets_free(s);

	/* bytes that are not UTF-8 have no \u form; the others still apply */
	const char *v2[] = {"bad\xff\"utf8", NULL};
	s = secrets_of(v2);
	PW_REQUIRE(s);
	PW_CHECK(check_mask(s, "[bad\xff\\\"utf8]", "[***]"));
	pw_secrets_free(s);
}

PW_TEST(forms_equal_to_raw_or_short_are_harmless)
{
	/* Alphanumeric values have URL/JSON forms equal to themselves; a 4-byte value has
	 * base64 pieces of 4 or 5 digits. Ordinary short text must stay untouched. */
	const char *v[] = {"abcd", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	PW_CHECK(check_mask(s, "abc bcd YWJjZA== end", "abc bcd *** end"));
	PW_CHECK(check_mask(s, "YW Jj ZA", "YW Jj ZA"));
	pw_secrets_free(s);
}

/* ---- streaming ---- */

PW_TEST(stream_split_at_every_point)
{
	const char *v[] = {"TOKEN-1234567890", "other-secret", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	const char *text = "start TOKEN-1234567890 middle other-secretTOKEN-1234567890 end TOKEN-12345";
	const char *want = "start *** middle *** end TOKEN-12345";
	size_t len = strlen(text);
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j += 7) {
			sink k = {0};
			pw_mask_stream *ms = NULL;
			PW_REQUIRE(pw_mask_stream_new(&ms, s, sink_emit, &k) == 0);
			pw_mask_stream_write(ms, text, i);
			pw_mask_stream_write(ms, text + i, j - i);
			pw_mask_stream_write(ms, text + j, len - j);
			pw_mask_stream_free(ms);
			if (!k.data || strcmp(k.data, want) != 0) {
				fprintf(stderr, "  split at %zu,%zu: \"%s\"\n", i, j,
				        k.data ? k.data : "(null)");
				PW_CHECK(0);
			}
			free(k.data);
		}
	}
	pw_secrets_free(s);
}

PW_TEST(stream_one_byte_writes)
{
	const char *v[] = {"abcdef", "defghi", "wxyz", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	const char *text = "xxabcdefghixx wxyzwxyz abcde wxy";
	size_t one = 1;
	char *got = stream_chunks(s, text, strlen(text), &one, 1);
	PW_CHECK_STR(got, "xx***xx *** abcde wxy");
	free(got);
	pw_secrets_free(s);
}

PW_TEST(stream_holds_back_only_possible_prefixes)
{
	const char *v[] = {"abcdef", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	sink k = {0};
	pw_mask_stream *ms = NULL;
	PW_REQUIRE(pw_mask_stream_new(&ms, s, sink_emit, &k) == 0);
	pw_mask_stream_write(ms, "plain text\n", 11);
	PW_CHECK_STR(k.data, "plain text\n"); /* nothing could start a secret: all out */
	pw_mask_stream_write(ms, "hello abc", 9);
	PW_CHECK_STR(k.data, "plain text\nhello "); /* "abc" may still become the secret */
	pw_mask_stream_write(ms, "d", 1);
	PW_CHECK_STR(k.data, "plain text\nhello ");
	pw_mask_stream_write(ms, "x", 1);
	PW_CHECK_STR(k.data, "plain text\nhello abcdx");
	pw_mask_stream_write(ms, "abcdefab", 8);
	PW_CHECK_STR(k.data, "plain text\nhello abcdx***");
	pw_mask_stream_flush(ms); /* "ab" cannot be a whole secret */
	PW_CHECK_STR(k.data, "plain text\nhello abcdx***ab");
	pw_mask_stream_write(ms, "cdef", 4); /* after a flush, a new stretch of text */
	pw_mask_stream_free(ms);
	PW_CHECK_STR(k.data, "plain text\nhello abcdx***abcdef");
	free(k.data);
	pw_secrets_free(s);
}

PW_TEST(stream_sees_secrets_added_later)
{
	const char *v[] = {"abcdefgh", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	sink k = {0};
	pw_mask_stream *ms = NULL;
	PW_REQUIRE(pw_mask_stream_new(&ms, s, sink_emit, &k) == 0);
	pw_mask_stream_write(ms, "xx abcdef", 9); /* "abcdef" held back */
	PW_CHECK_INT(pw_secrets_add(s, "cdefXY", "LATE", NULL), 0);
	pw_mask_stream_write(ms, "XY yy ", 6); /* the held bytes are checked again */
	PW_CHECK_INT(pw_secrets_add(s, "newtoken", "LATER", NULL), 0);
	pw_mask_stream_write(ms, "newtoken abcdefgh.", 18);
	pw_mask_stream_free(ms);
	PW_CHECK_STR(k.data, "xx ab*** yy *** ***.");
	free(k.data);
	pw_secrets_free(s);
}

PW_TEST(long_and_repetitive_secrets)
{
	/* Long secrets go past the dense part of the automaton; repetitive ones stress the
	 * failure links there. */
	char pem[3200];
	size_t n = 0;
	n += (size_t)snprintf(pem + n, sizeof(pem) - n, "-----BEGIN PRIVATE KEY-----\n");
	for (int line = 0; line < 40; line++) {
		for (int c = 0; c < 64; c++)
			pem[n++] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			    [(line * 7 + c * 13) % 64];
		pem[n++] = '\n';
	}
	n += (size_t)snprintf(pem + n, sizeof(pem) - n, "-----END PRIVATE KEY-----");
	char rep[81];
	for (int i = 0; i < 80; i++)
		rep[i] = "ab"[i % 2];
	rep[80] = '\0';
	const char *v[] = {pem, rep, NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);

	size_t cap = 3 * n + 1000;
	char *text = malloc(cap);
	PW_REQUIRE(text);
	snprintf(text, cap, "key: %s\nend", pem);
	PW_CHECK(check_mask(s, text, "key: ***\nend"));
	char *json = json_body(pem, 0);
	snprintf(text, cap, "{\"key\":\"%s\"}", json);
	PW_CHECK(check_mask(s, text, "{\"key\":\"***\"}"));
	free(json);

	/* "abab..." 100 times, then a "c": the secret (80 chars) matches at every even offset. */
	size_t m = 0;
	text[m++] = '<';
	for (int i = 0; i < 200; i++)
		text[m++] = "ab"[i % 2];
	text[m++] = 'c';
	text[m] = '\0';
	PW_CHECK(check_mask(s, text, "<***c"));
	text[m - 1] = '\0'; /* remove the c */
	text[41] = 'X';     /* 40 chars before the X (too few), 159 after it ("b" + 79 x "ab") */
	char want[64];
	snprintf(want, sizeof(want), "<%.40sXb***", rep);
	PW_CHECK(check_mask(s, text, want));
	size_t sizes[] = {1, 5, 2, 64};
	char *got = stream_chunks(s, text, strlen(text), sizes, 4);
	PW_CHECK_STR(got, want);
	free(got);
	free(text);
	pw_secrets_free(s);
}

/* ---- random property: streaming == one-shot == naive reference ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

typedef struct patlist {
	char *p[64];
	size_t n;
} patlist;

static void patlist_add(patlist *l, char *p, const char *raw)
{
	if (strlen(p) < 4 || strcmp(p, raw) == 0 || l->n == 64) {
		free(p);
		return;
	}
	l->p[l->n++] = p;
}

/* Marks every occurrence of every pattern, then replaces each maximal marked run by "***". */
static char *reference_mask(const char *text, size_t len, patlist *l)
{
	char *mark = calloc(len + 1, 1);
	for (size_t k = 0; k < l->n; k++) {
		size_t pl = strlen(l->p[k]);
		for (size_t i = 0; i + pl <= len; i++)
			if (memcmp(text + i, l->p[k], pl) == 0)
				memset(mark + i, 1, pl);
	}
	char *out = malloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (!mark[i])
			out[o++] = text[i];
		else if (i == 0 || !mark[i - 1]) {
			memcpy(out + o, "***", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	free(mark);
	return out;
}

PW_TEST(random_streaming_equals_reference)
{
	static const char *alphabets[] = {
	    "ab", "abc ", "abcdefgh xyz\n",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 =+/"};
	int failures = 0;
	for (int iter = 0; iter < 3000 && failures < 5; iter++) {
		const char *alpha = alphabets[rnd(4)];
		size_t alen = strlen(alpha);
		pw_secrets *s = NULL;
		PW_REQUIRE(pw_secrets_new(&s) == 0);
		patlist pats = {{0}, 0};
		char secrets[4][48];
		size_t nsec = 1 + rnd(4);
		for (size_t i = 0; i < nsec; i++) {
			size_t sl = 4 + (rnd(4) == 0 ? rnd(37) : rnd(9));
			/* alphanumeric: the URL and JSON forms are the raw value itself */
			for (size_t j = 0; j < sl; j++) {
				char c = alpha[rnd((uint32_t)alen)];
				secrets[i][j] = strchr(" \n=+/", c) ? 'q' : c;
			}
			secrets[i][sl] = '\0';
			PW_CHECK_INT(pw_secrets_add(s, secrets[i], "RANDOM", NULL), 0);
			pats.p[pats.n++] = strdup(secrets[i]);
			patlist_add(&pats, b64((const unsigned char *)secrets[i], sl), secrets[i]);
			for (size_t k = 0; k < 3; k++)
				patlist_add(&pats, b64_aligned(secrets[i], k), secrets[i]);
		}
		size_t len = rnd(300);
		char *text = malloc(len + 1);
		for (size_t i = 0; i < len; i++)
			text[i] = alpha[rnd((uint32_t)alen)];
		text[len] = '\0';
		for (uint32_t ins = rnd(6); ins > 0; ins--) { /* paste secrets over random places */
			const char *sec = secrets[rnd((uint32_t)nsec)];
			size_t sl = strlen(sec);
			if (sl <= len) {
				size_t at = rnd((uint32_t)(len - sl + 1));
				memcpy(text + at, sec, sl);
			}
		}
		char *want = reference_mask(text, len, &pats);
		char *once = pw_secrets_mask(s, text, len);
		size_t sizes[8], nsizes = 1 + rnd(8);
		uint32_t maxchunk = (uint32_t[]){1, 3, 17, 64, 400}[rnd(5)];
		for (size_t i = 0; i < nsizes; i++)
			sizes[i] = 1 + rnd(maxchunk);
		char *streamed = stream_chunks(s, text, len, sizes, nsizes);
		int ok = once && streamed && strcmp(once, want) == 0 && strcmp(streamed, want) == 0;
		for (size_t i = 0; i < nsec && ok; i++)
			ok = strstr(streamed, secrets[i]) == NULL;
		if (!ok) {
			failures++;
			fprintf(stderr,
			        "  iteration %d: text \"%s\"\n    want     \"%s\"\n    one-shot \"%s\"\n    "
			        "streamed \"%s\"\n",
			        iter, text, want, once ? once : "(null)", streamed ? streamed : "(null)");
			for (size_t i = 0; i < nsec; i++)
				fprintf(stderr, "    secret \"%s\"\n", secrets[i]);
			PW_CHECK(0);
		}
		for (size_t i = 0; i < pats.n; i++)
			free(pats.p[i]);
		free(text);
		free(want);
		pw_free(once);
		free(streamed);
		pw_secrets_free(s);
	}
}

/* ---- errors and edge cases ---- */

PW_TEST(too_short_secret_is_refused)
{
	pw_secrets *s = NULL;
	PW_REQUIRE(pw_secrets_new(&s) == 0);
	pw_error *err = NULL;
	PW_CHECK_INT(pw_secrets_add(s, "q7z", "GITHUB_TOKEN", &err), PW_EINVAL);
	PW_REQUIRE(err);
	PW_CHECK_INT(pw_error_code(err), PW_EINVAL);
	PW_CHECK_CONTAINS(pw_error_message(err), "GITHUB_TOKEN");
	PW_CHECK_CONTAINS(pw_error_message(err), "shorter than 4 characters");
	PW_CHECK_CONTAINS(pw_error_message(err), "longer value");
	PW_CHECK_NOT_CONTAINS(pw_error_message(err), "q7z");
	char *formatted = pw_error_format(err, 0);
	PW_CHECK_NOT_CONTAINS(formatted, "q7z");
	pw_free(formatted);
	pw_error_free(err);
	err = NULL;
	PW_CHECK_INT(pw_secrets_add(s, "", NULL, &err), PW_EINVAL);
	PW_REQUIRE(err);
	PW_CHECK_CONTAINS(pw_error_message(err), "secret is shorter than 4");
	pw_error_free(err);
	PW_CHECK_INT(pw_secrets_add(s, NULL, "X", NULL), PW_EINVAL);
	PW_CHECK_INT(pw_secrets_count(s), 0);
	PW_CHECK(check_mask(s, "q7z stays", "q7z stays"));
	pw_secrets_free(s);
}

PW_TEST(null_set_and_arguments)
{
	char *got = pw_secrets_mask(NULL, "some text", 9);
	PW_CHECK_STR(got, "some text");
	pw_free(got);
	got = pw_secrets_mask(NULL, "some text", 4);
	PW_CHECK_STR(got, "some");
	pw_free(got);
	PW_CHECK(pw_secrets_mask_str(NULL, NULL) == NULL);
	got = pw_secrets_mask_str(NULL, "abc");
	PW_CHECK_STR(got, "abc");
	pw_free(got);
	got = pw_secrets_mask(NULL, NULL, 0);
	PW_CHECK_STR(got, "");
	pw_free(got);
	PW_CHECK_INT(pw_secrets_count(NULL), 0);
	PW_CHECK_INT(pw_secrets_add(NULL, "value", "L", NULL), PW_EINVAL);
	pw_mask_stream *ms = (pw_mask_stream *)1;
	PW_CHECK_INT(pw_mask_stream_new(&ms, NULL, sink_emit, NULL), PW_EINVAL);
	PW_CHECK(ms == NULL);
	pw_mask_stream_write(NULL, "x", 1);
	pw_mask_stream_flush(NULL);
	pw_mask_stream_free(NULL);
	pw_secrets_free(NULL);

	pw_secrets *s = NULL; /* an empty set masks nothing, streams pass everything through */
	PW_REQUIRE(pw_secrets_new(&s) == 0);
	PW_CHECK(check_mask(s, "anything at all", "anything at all"));
	size_t sizes[] = {3};
	got = stream_chunks(s, "anything at all", 15, sizes, 1);
	PW_CHECK_STR(got, "anything at all");
	free(got);
	pw_secrets_free(s);
}

PW_TEST(large_stream_counts_every_secret)
{
	const char *v[] = {"ghp_0123456789abcdefABCDEF0123456789ab", "AKIAIOSFODNN7EXAMPLE", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	sink k = {0};
	pw_mask_stream *ms = NULL;
	PW_REQUIRE(pw_mask_stream_new(&ms, s, sink_emit, &k) == 0);
	char line[160];
	size_t written = 0;
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "line %d: token=%s key=%s ok\n", i, v[i % 2],
		                 v[(i + 1) % 2]);
		/* split each line into two writes in the middle of a secret */
		pw_mask_stream_write(ms, line, 20);
		pw_mask_stream_write(ms, line + 20, (size_t)n - 20);
		written += (size_t)n;
	}
	pw_mask_stream_free(ms);
	size_t masks = 0;
	for (size_t i = 0; i + 3 <= k.len; i++) /* by hand: strstr in a loop is slow under ASan */
		if (memcmp(k.data + i, "***", 3) == 0) {
			masks++;
			i += 2;
		}
	PW_CHECK_INT(masks, 40000);
	PW_CHECK_NOT_CONTAINS(k.data, "AKIA");
	PW_CHECK_NOT_CONTAINS(k.data, "ghp_");
	PW_CHECK(k.len < written);
	free(k.data);
	pw_secrets_free(s);
}

/* ---- threads ---- */

typedef struct thread_ctx {
	pw_secrets *s;
	int failures;
	int rounds;
} thread_ctx;

static void *adder(void *arg)
{
	thread_ctx *c = arg;
	for (int i = 0; i < 150; i++) {
		char v[32];
		snprintf(v, sizeof(v), "late-secret-%04d", i);
		if (pw_secrets_add(c->s, v, "LATE", NULL) != 0)
			c->failures++;
	}
	return NULL;
}

static void *masker(void *arg)
{
	thread_ctx *c = arg;
	const char *text = "before base-secret-value after late-secret-0001 end";
	sink k = {0};
	pw_mask_stream *ms = NULL;
	if (pw_mask_stream_new(&ms, c->s, sink_emit, &k) < 0) {
		c->failures++;
		return NULL;
	}
	for (int r = 0; r < c->rounds; r++) {
		char *got = pw_secrets_mask_str(c->s, text);
		if (!got || strstr(got, "base-secret-value") || !strstr(got, "before *** after"))
			c->failures++;
		pw_free(got);
		pw_mask_stream_write(ms, text, 20);
		pw_mask_stream_write(ms, text + 20, strlen(text) - 20);
	}
	pw_mask_stream_free(ms);
	if (!k.data || strstr(k.data, "base-secret-value"))
		c->failures++;
	free(k.data);
	return NULL;
}

PW_TEST(concurrent_add_and_mask)
{
	const char *v[] = {"base-secret-value", NULL};
	pw_secrets *s = secrets_of(v);
	PW_REQUIRE(s);
	thread_ctx ctx[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		ctx[i].s = s;
		ctx[i].failures = 0;
		ctx[i].rounds = 300;
		PW_REQUIRE(pthread_create(&th[i], NULL, i == 0 ? adder : masker, &ctx[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		PW_CHECK_INT(ctx[i].failures, 0);
	}
	PW_CHECK_INT(pw_secrets_count(s), 151);
	PW_CHECK(check_mask(s, "x late-secret-0149 late-secret-0000 y", "x *** *** y"));
	pw_secrets_free(s);
}

PW_TEST_MAIN()
