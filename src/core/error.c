/* Error codes and the error detail object. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/internal.h"
#include "pipewright/error.h"

struct pw_error {
	int code;
	char *message;
	char *operation;
	char *key;
	char *response;
	char *hint;
	char *file;
	int line;
	int column;
	struct pw_error *next;
};

const char *pw_error_code_name(int code)
{
	switch (code) {
	case PW_OK:
		return "OK";
#define PW__ERRNAME(name, val, desc) \
	case PW_##name:              \
		return #name;
		PW_ERROR_MAP(PW__ERRNAME)
#undef PW__ERRNAME
	}
	return "UNKNOWN";
}

const char *pw_error_code_desc(int code)
{
	switch (code) {
	case PW_OK:
		return "success";
#define PW__ERRDESC(name, val, desc) \
	case PW_##name:              \
		return desc;
		PW_ERROR_MAP(PW__ERRDESC)
#undef PW__ERRDESC
	}
	return "unknown error";
}

static pw_error *error_vnew(int code, const char *fmt, va_list ap)
{
	pw_error *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_vprintf(&b, fmt, ap);
	/* one line: no trailing newline */
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	e->message = pw__buf_detach(&b);
	e->code = code;
	return e;
}

pw_error *pw_error_new(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pw_error *e = error_vnew(code, fmt, ap);
	va_end(ap);
	return e;
}

int pw_error_set(pw_error **err, int code, const char *fmt, ...)
{
	if (err && !*err) {
		va_list ap;
		va_start(ap, fmt);
		*err = error_vnew(code, fmt, ap);
		va_end(ap);
	}
	return code;
}

static pw_error *set_field(pw_error *e, char **field, const char *value)
{
	if (!e)
		return NULL;
	free(*field);
	*field = value ? strdup(value) : NULL;
	return e;
}

pw_error *pw_error_set_operation(pw_error *e, const char *v)
{
	return e ? set_field(e, &e->operation, v) : NULL;
}

pw_error *pw_error_set_key(pw_error *e, const char *v)
{
	return e ? set_field(e, &e->key, v) : NULL;
}

pw_error *pw_error_set_response(pw_error *e, const char *v)
{
	return e ? set_field(e, &e->response, v) : NULL;
}

pw_error *pw_error_set_hint(pw_error *e, const char *v)
{
	return e ? set_field(e, &e->hint, v) : NULL;
}

pw_error *pw_error_set_location(pw_error *e, const char *file, int line, int column)
{
	if (!e)
		return NULL;
	set_field(e, &e->file, file);
	e->line = line;
	e->column = column;
	return e;
}

void pw_error_append(pw_error *e, pw_error *next)
{
	if (!e || !next)
		return;
	while (e->next)
		e = e->next;
	e->next = next;
}

int pw_error_code(const pw_error *e)
{
	return e ? e->code : PW_OK;
}

const char *pw_error_message(const pw_error *e)
{
	return e ? e->message : NULL;
}

const char *pw_error_operation(const pw_error *e)
{
	return e ? e->operation : NULL;
}

const char *pw_error_key(const pw_error *e)
{
	return e ? e->key : NULL;
}

const char *pw_error_response(const pw_error *e)
{
	return e ? e->response : NULL;
}

const char *pw_error_hint(const pw_error *e)
{
	return e ? e->hint : NULL;
}

const char *pw_error_file(const pw_error *e)
{
	return e ? e->file : NULL;
}

int pw_error_line(const pw_error *e)
{
	return e ? e->line : 0;
}

int pw_error_column(const pw_error *e)
{
	return e ? e->column : 0;
}

const pw_error *pw_error_next(const pw_error *e)
{
	return e ? e->next : NULL;
}

/* The service's answer as a formatted error shows it: its first RESPONSE_SHOWN bytes (cut at a
 * character boundary; the rest is counted), on one line when one_line is set (every run of
 * line breaks and tabs is one space). An error page can be megabytes; pw_error_response keeps
 * all of it. Errors are masked before they are formatted, so the cut cannot leave a part of a
 * secret showing. */
#define RESPONSE_SHOWN 2048u

static void put_response(pw_buf *b, const char *sep, const char *response, int one_line)
{
	size_t len = strlen(response), n = len;
	if (n > RESPONSE_SHOWN) {
		n = RESPONSE_SHOWN;
		while (n > 0 && ((unsigned char)response[n] & 0xC0) == 0x80)
			n--;
	}
	pw__buf_printf(b, "%sservice answered: ", sep);
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char c = response[i];
		if (one_line && (c == '\n' || c == '\r' || c == '\t')) {
			pw__buf_put_escaped(b, response + start, i - start, PW_ESC_ALL);
			start = i + 1;
			if (b->len && b->data[b->len - 1] != ' ')
				pw__buf_putc(b, ' ');
		}
	}
	pw__buf_put_escaped(b, response + start, n - start, one_line ? PW_ESC_ALL : PW_ESC_KEEP_LINES);
	if (n < len)
		pw__buf_printf(b, " [%zu more bytes]", len - n);
}

/* A field as one line a terminal cannot act on: text from a pipeline file or a service may
 * hold control characters (a CR and a forged "error:" line, an escape sequence). */
static void put_field(pw_buf *b, const char *label, const char *text)
{
	pw__buf_puts(b, label);
	pw__buf_put_escaped(b, text, strlen(text), PW_ESC_ALL);
}

char *pw_error_format(const pw_error *e, int one_line)
{
	pw_buf b = PW_BUF_INIT(0);
	if (!e)
		return pw__buf_detach(&b);
	if (e->file) {
		put_field(&b, "", e->file);
		if (e->line > 0)
			pw__buf_printf(&b, ":%d:%d", e->line, e->column);
		pw__buf_puts(&b, ": ");
	}
	put_field(&b, "", e->message ? e->message : pw_error_code_desc(e->code));
	const char *sep = one_line ? "; " : "\n  ";
	if (e->operation) {
		pw__buf_puts(&b, sep);
		put_field(&b, "while: ", e->operation);
	}
	if (e->key) {
		pw__buf_puts(&b, sep);
		put_field(&b, "config: ", e->key);
	}
	if (e->response)
		put_response(&b, sep, e->response, one_line);
	if (e->hint) {
		pw__buf_puts(&b, sep);
		put_field(&b, "hint: ", e->hint);
	}
	return pw__buf_detach(&b);
}

void pw_error_free(pw_error *e)
{
	while (e) {
		pw_error *next = e->next;
		free(e->message);
		free(e->operation);
		free(e->key);
		free(e->response);
		free(e->hint);
		free(e->file);
		free(e);
		e = next;
	}
}

void pw__error_replace_message(pw_error *e, const char *message)
{
	if (e && message)
		set_field(e, &e->message, message);
}

/* Masks one field in place; when masking fails the field becomes the mask (fail closed). */
static void mask_field(char **field, const pw_secrets *s)
{
	if (!*field)
		return;
	char *m = pw_secrets_mask_str(s, *field);
	free(*field);
	*field = m ? m : strdup(PW_SECRET_MASK);
}

void pw__error_mask(pw_error *e, const pw_secrets *s)
{
	if (!s)
		return;
	for (; e; e = e->next) {
		mask_field(&e->message, s);
		mask_field(&e->operation, s);
		mask_field(&e->key, s);
		mask_field(&e->response, s);
		mask_field(&e->hint, s);
	}
}
