/* Fuzz target: the Docker log-frame demultiplexer (src/connectors/docker/frames.c). The first
 * byte picks where the rest is split in two reads; the property: what comes out per stream is
 * the same however the input is split, and never more than went in. */
#include <string.h>

#include "connectors/docker/docker.h"
#include "core/buf.h"
#include "fuzz.h"

typedef struct sink {
	pw_buf out[3];
} sink;

static void emit(int stream, const char *data, size_t len, void *payload)
{
	sink *s = payload;
	FUZZ_ASSERT(stream == 1 || stream == 2);
	pw__buf_append(&s->out[stream], data, len);
}

static void run(sink *s, const char *data, size_t size, size_t cut, int *incomplete)
{
	for (int i = 0; i < 3; i++)
		s->out[i] = (pw_buf)PW_BUF_INIT(0);
	pw_docker_demux d;
	pw__docker_demux_init(&d, emit, s);
	pw__docker_demux_feed(&d, data, cut);
	pw__docker_demux_feed(&d, data + cut, size - cut);
	*incomplete = pw__docker_demux_incomplete(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = size > 1 ? data[0] % size : 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	if (cut > n)
		cut = n;
	sink a, b;
	int ia, ib;
	run(&a, in, n, 0, &ia);
	run(&b, in, n, cut, &ib);
	FUZZ_ASSERT(ia == ib);
	for (int i = 1; i < 3; i++) {
		FUZZ_ASSERT(a.out[i].len == b.out[i].len);
		FUZZ_ASSERT(a.out[i].len == 0 || memcmp(a.out[i].data, b.out[i].data, a.out[i].len) == 0);
	}
	FUZZ_ASSERT(a.out[1].len + a.out[2].len <= n);
	for (int i = 0; i < 3; i++) {
		pw__buf_dispose(&a.out[i]);
		pw__buf_dispose(&b.out[i]);
	}
	return 0;
}
