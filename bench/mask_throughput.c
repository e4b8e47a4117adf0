/* Masking throughput: streams generated log-like text with a few secrets registered through
 * pw_mask_stream (and once through pw_secrets_mask) and prints MB/s. Not a test.
 * Usage: bench_mask [megabytes per round (default 64)] [chunk bytes (default 65536)] [rounds (default 5)] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipewright/secrets.h"

static void count_emit(const char *data, size_t len, void *payload)
{
	(void)data;
	*(size_t *)payload += len;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_long(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end = NULL;
	long v = strtol(argv[i], &end, 10);
	return (end && *end == '\0' && v > 0) ? v : def;
}

int main(int argc, char **argv)
{
	size_t megabytes = (size_t)arg_long(argc, argv, 1, 64);
	size_t chunk = (size_t)arg_long(argc, argv, 2, 65536);
	int rounds = (int)arg_long(argc, argv, 3, 5);
	const char *secrets[] = {
	    "ghp_R4nd0mT0kenV4lue0123456789abcdefXYZ",
	    "AKIAIOSFODNN7EXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	    "p@ssw0rd with spaces & symbols!",
	    "xoxb-1234567890-abcdefghij",
	};
	const size_t nsecrets = sizeof(secrets) / sizeof(secrets[0]);
	const char *words[] = {"INFO",
	                       "building",
	                       "target",
	                       "src/core/main.c",
	                       "npm",
	                       "install",
	                       "ok",
	                       "Downloading",
	                       "https://registry.example.com/pkg/-/pkg-1.2.3.tgz",
	                       "step",
	                       "finished",
	                       "in",
	                       "0.42s",
	                       "warning:",
	                       "unused",
	                       "variable",
	                       "[100%]",
	                       "Linking",
	                       "C",
	                       "executable",
	                       "tests",
	                       "passed",
	                       "{\"id\":42}"};
	const size_t nwords = sizeof(words) / sizeof(words[0]);

	size_t size = megabytes * 1024 * 1024;
	char *text = malloc(size);
	if (!text)
		return 1;
	uint64_t rng = 88172645463325252ull;
	size_t n = 0, inserted = 0;
	while (n < size) {
		char line[512];
		int len = snprintf(line, sizeof(line), "2024-05-01T12:%02u:%02u.%03uZ ",
		                   (unsigned)(n / 7 % 60), (unsigned)(n / 13 % 60), (unsigned)(n % 1000));
		int words_in_line = 6 + (int)(rng % 10);
		for (int w = 0; w < words_in_line && len < 400; w++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			const char *word =
			    (rng % 500 == 0) ? secrets[rng / 500 % nsecrets] : words[rng % nwords];
			inserted += word == secrets[rng / 500 % nsecrets] && rng % 500 == 0;
			len += snprintf(line + len, sizeof(line) - (size_t)len, "%s ", word);
		}
		line[len - 1] = '\n';
		size_t take = (size_t)len < size - n ? (size_t)len : size - n;
		memcpy(text + n, line, take);
		n += take;
	}

	pw_secrets *s = NULL;
	if (pw_secrets_new(&s) < 0)
		return 1;
	for (size_t i = 0; i < nsecrets; i++)
		if (pw_secrets_add(s, secrets[i], "BENCH", NULL) < 0)
			return 1;

	double best = 0, total = 0;
	size_t out = 0;
	for (int r = 0; r < rounds; r++) {
		pw_mask_stream *ms = NULL;
		out = 0;
		if (pw_mask_stream_new(&ms, s, count_emit, &out) < 0)
			return 1;
		double t0 = now();
		for (size_t at = 0; at < size; at += chunk)
			pw_mask_stream_write(ms, text + at, at + chunk <= size ? chunk : size - at);
		pw_mask_stream_free(ms);
		double mbs = (double)size / (1024.0 * 1024.0) / (now() - t0);
		total += mbs;
		if (mbs > best)
			best = mbs;
	}
	printf("stream: %zu MiB in %zu-byte chunks, %zu secrets (%zu occurrences), output %zu bytes\n",
	       megabytes, chunk, nsecrets, inserted, out);
	printf("stream: best %.0f MB/s, mean %.0f MB/s over %d rounds\n", best, total / rounds, rounds);

	double t0 = now();
	char *masked = pw_secrets_mask(s, text, size);
	double dt = now() - t0;
	printf("one-shot: %.0f MB/s (%zu bytes out)\n", (double)size / (1024.0 * 1024.0) / dt,
	       masked ? strlen(masked) : 0);
	pw_free(masked);
	pw_secrets_free(s);
	free(text);
	return 0;
}
