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
/* Control characters as text a terminal shows and cannot act on. PW_ESC_ALL: every C0
 * control, DEL, the C1 controls (U+0080..U+009F) and NUL become \0 \t \n \r \xHH or \u0085;
 * PW_ESC_KEEP_LINES keeps newline and tab and a CR before a newline (multi-line text from a
 * service). Other bytes, valid UTF-8 or not, are kept. */
enum { PW_ESC_ALL = 0, PW_ESC_KEEP_LINES = 1 };
/* Appends s[0..len) escaped; returns 0 or PW_ENOMEM. */
int pw__buf_put_escaped(pw_buf *b, const char *s, size_t len, int flags);
/* s[0..len) escaped into buf (always NUL-terminated), cut after max_chars characters of the
 * result with "..." added; returns buf. For the text a message quotes. */
const char *pw__text_escaped(char *buf, size_t size, const char *s, size_t len, size_t max_chars);
/* 1 when s[0..len) holds a byte pw__buf_put_escaped(PW_ESC_ALL) would change. */
int pw__text_needs_escape(const char *s, size_t len);
/* Keeps the buffer usable; len = 0. */
void pw__buf_clear(pw_buf *b);
/* Hands over the data (never NULL: "" for an empty buffer; pw_free it) and resets b. */
char *pw__buf_detach(pw_buf *b);
void pw__buf_dispose(pw_buf *b);
/* "" when empty. Borrowed. */
const char *pw__buf_cstr(const pw_buf *b);

#endif
