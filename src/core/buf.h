/* Growable, NUL-terminated byte buffers with a required maximum (a remote peer can never
 * make us allocate without bound). */
#ifndef PW_CORE_BUF_H
#define PW_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "pipewright/common.h"

typedef struct pw_buf {
	char *data; /* NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* appends that would exceed it fail with PW_ENOMEM; 0: no limit */
} pw_buf;

#define PW_BUF_INIT(maximum)          \
	{                             \
		NULL, 0, 0, (maximum) \
	}

/* Appends; returns 0, or PW_ENOMEM when the maximum would be exceeded (nothing appended). */
int pw__buf_append(pw_buf *b, const void *data, size_t len);
int pw__buf_puts(pw_buf *b, const char *s);
int pw__buf_putc(pw_buf *b, char c);
int pw__buf_printf(pw_buf *b, const char *fmt, ...) PW_PRINTF(2, 3);
int pw__buf_vprintf(pw_buf *b, const char *fmt, va_list ap);
/* Room for `extra` more bytes, written at the returned address and then added with
 * pw__buf_commit; NULL when memory (or the maximum) does not allow it. */
char *pw__buf_space(pw_buf *b, size_t extra);
/* Adds the `n` bytes written into pw__buf_space's room (n <= the room asked for). */
void pw__buf_commit(pw_buf *b, size_t n);
/* The decimal digits of v in out, NUL-terminated; returns how many (without printf's format
 * parsing, for the hot paths that write numbers). */
int pw__u64_text(char out[24], unsigned long long v);
/* Keeps the buffer usable; len = 0. */
void pw__buf_clear(pw_buf *b);
/* Hands over the data (never NULL: "" for an empty buffer; pw_free it) and resets b. */
char *pw__buf_detach(pw_buf *b);
void pw__buf_dispose(pw_buf *b);
/* "" when empty. Borrowed. */
const char *pw__buf_cstr(const pw_buf *b);

#endif
