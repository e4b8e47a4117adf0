/* The engine's multiplexed log stream: frames of {stream, 0, 0, 0, size (32-bit big
 * endian)} followed by size bytes, split across reads anywhere. */
#include <string.h>

#include "connectors/docker/docker.h"

void pw__docker_demux_init(pw_docker_demux *d, pw_docker_frame_fn emit, void *payload)
{
	memset(d, 0, sizeof(*d));
	d->emit = emit;
	d->payload = payload;
}

static int header_valid(const unsigned char *h)
{
	return h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

void pw__docker_demux_feed(pw_docker_demux *d, const char *data, size_t len)
{
	while (len > 0) {
		if (d->raw) {
			d->emit(1, data, len, d->payload);
			return;
		}
		if (d->remaining == 0) {
			size_t take = 8 - d->hdr_len;
			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, data, take);
			d->hdr_len += take;
			data += take;
			len -= take;
			if (d->hdr_len < 8) {
				/* even a partial header can already be told apart from raw output */
				size_t n = d->hdr_len < 4 ? d->hdr_len : 4;
				unsigned char probe[4] = {0, 0, 0, 0};
				memcpy(probe, d->hdr, n);
				if (!header_valid(probe)) {
					d->raw = 1;
					d->emit(1, (const char *)d->hdr, d->hdr_len, d->payload);
					d->hdr_len = 0;
				}
				continue;
			}
			if (!header_valid(d->hdr)) {
				d->raw = 1;
				d->emit(1, (const char *)d->hdr, 8, d->payload);
				d->hdr_len = 0;
				continue;
			}
			d->stream = d->hdr[0] == 2 ? 2 : 1;
			d->remaining = ((uint32_t)d->hdr[4] << 24) | ((uint32_t)d->hdr[5] << 16) |
			               ((uint32_t)d->hdr[6] << 8) | (uint32_t)d->hdr[7];
			d->hdr_len = 0;
			continue;
		}
		size_t take = d->remaining < len ? d->remaining : len;
		d->emit(d->stream, data, take, d->payload);
		d->remaining -= (uint32_t)take;
		data += take;
		len -= take;
	}
}

int pw__docker_demux_incomplete(const pw_docker_demux *d)
{
	return !d->raw && (d->remaining > 0 || d->hdr_len > 0);
}
