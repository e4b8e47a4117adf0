/* Growable buffers with a maximum. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/error.h"

static int buf_reserve(pw_buf *b, size_t extra)
{
	if (b->max && (b->len + extra > b->max || b->len + extra < b->len))
		return PW_ENOMEM;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t want = b->cap ? b->cap : 64;
	while (want < b->len + extra + 1)
		want *= 2;
	char *p = realloc(b->data, want);
	if (!p)
		return PW_ENOMEM;
	b->data = p;
	b->cap = want;
	return 0;
}

int pw__buf_append(pw_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return PW_ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

char *pw__buf_space(pw_buf *b, size_t extra)
{
	return buf_reserve(b, extra) < 0 ? NULL : b->data + b->len;
}

void pw__buf_commit(pw_buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int pw__buf_puts(pw_buf *b, const char *s)
{
	return pw__buf_append(b, s, strlen(s));
}

int pw__buf_putc(pw_buf *b, char c)
{
	return pw__buf_append(b, &c, 1);
}

int pw__buf_vprintf(pw_buf *b, const char *fmt, va_list ap)
{
	/* formatted once into the room there is (most calls), twice when it does not fit */
	size_t room = b->data ? b->cap - b->len : 0;
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, copy);
	va_end(copy);
	if (n >= 0 && (size_t)n < room && (!b->max || b->len + (size_t)n <= b->max)) {
		b->len += (size_t)n;
		return 0;
	}
	if (b->data)
		b->data[b->len] = '\0'; /* what did not fit is not part of it */
	if (n < 0)
		return PW_EINVAL;
	if (buf_reserve(b, (size_t)n) < 0)
		return PW_ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int pw__buf_printf(pw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = pw__buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int pw__u64_text(char out[24], unsigned long long v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	int n = (int)(tmp + sizeof(tmp) - p);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return n;
}

/* The escape for the character at s[i] (advancing *n over its bytes), or NULL to keep it. */
static const char *escape_at(const char *s, size_t len, size_t i, size_t *n, int flags, char out[8])
{
	unsigned char ch = (unsigned char)s[i];
	*n = 1;
	if (ch == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F) {
		static const char hex[] = "0123456789abcdef";
		unsigned char c1 = (unsigned char)s[i + 1];
		*n = 2;
		memcpy(out, "\\u00", 4);
		out[4] = hex[c1 >> 4];
		out[5] = hex[c1 & 15];
		out[6] = '\0';
		return out;
	}
	if (ch >= 0x20 && ch != 0x7F)
		return NULL;
	if (flags & PW_ESC_KEEP_LINES) {
		if (ch == '\n' || ch == '\t' || (ch == '\r' && i + 1 < len && s[i + 1] == '\n'))
			return NULL;
	}
	switch (ch) {
	case '\0':
		return "\\0";
	case '\t':
		return "\\t";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	default:
		snprintf(out, 8, "\\x%02x", ch);
		return out;
	}
}

int pw__buf_put_escaped(pw_buf *b, const char *s, size_t len, int flags)
{
	char tmp[8];
	size_t start = 0, i = 0;
	while (i < len) {
		size_t n;
		const char *esc = escape_at(s, len, i, &n, flags, tmp);
		if (!esc) {
			i += n;
			continue;
		}
		if (pw__buf_append(b, s + start, i - start) < 0 || pw__buf_puts(b, esc) < 0)
			return PW_ENOMEM;
		i += n;
		start = i;
	}
	return pw__buf_append(b, s + start, len - start);
}

int pw__text_needs_escape(const char *s, size_t len)
{
	char tmp[8];
	for (size_t i = 0; i < len;) {
		size_t n;
		if (escape_at(s, len, i, &n, PW_ESC_ALL, tmp))
			return 1;
		i += n;
	}
	return 0;
}

const char *pw__text_escaped(char *buf, size_t size, const char *s, size_t len, size_t max_chars)
{
	char tmp[8];
	size_t o = 0, chars = 0;
	if (!size)
		return buf;
	for (size_t i = 0; i < len;) {
		size_t n;
		const char *esc = escape_at(s, len, i, &n, PW_ESC_ALL, tmp);
		size_t k = n;
		while (!esc && i + k < len && ((unsigned char)s[i + k] & 0xC0) == 0x80)
			k++; /* a whole UTF-8 character */
		const char *piece = esc ? esc : s + i;
		size_t plen = esc ? strlen(esc) : k;
		if (chars == max_chars || o + plen + 4 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, piece, plen);
		o += plen;
		chars++;
		i += k;
	}
	buf[o] = '\0';
	return buf;
}

void pw__buf_clear(pw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *pw__buf_detach(pw_buf *b)
{
	char *d = b->data;
	if (!d)
		d = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void pw__buf_dispose(pw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *pw__buf_cstr(const pw_buf *b)
{
	return b->data ? b->data : "";
}
