/* Secret masking: every value registered here is replaced by "***" wherever pipewright
 * writes text (console, logs, results, reports, errors, audit), also when the value is split
 * across output chunks, and also in its base64, URL-encoded and JSON-escaped forms. */
#ifndef PIPEWRIGHT_SECRETS_H
#define PIPEWRIGHT_SECRETS_H

#include "common.h"
#include "error.h"

PW_BEGIN_DECLS

/* Values shorter than this are refused: masking them would mask ordinary text. */
#define PW_SECRET_MIN_LENGTH 4
#define PW_SECRET_MASK "***"

/* A thread-safe set of secret values. Caller frees. */
typedef struct pw_secrets pw_secrets;

PW_EXTERN int pw_secrets_new(pw_secrets **out);
/* Registers a value (copied) and its encoded forms. PW_EINVAL (with a message that does
 * not contain the value) for values under PW_SECRET_MIN_LENGTH bytes; `label` names the
 * secret in that message ("GITHUB_TOKEN") and may be NULL. Adding a value twice is a no-op. */
PW_EXTERN int pw_secrets_add(pw_secrets *s, const char *value, const char *label, pw_error **err);
PW_EXTERN size_t pw_secrets_count(const pw_secrets *s);
/* A masked copy of text[0..len) ; NUL-terminated; caller frees with pw_free. s may be NULL. */
PW_EXTERN char *pw_secrets_mask(const pw_secrets *s, const char *text, size_t len);
/* Same for a NUL-terminated string; NULL in gives NULL out. */
PW_EXTERN char *pw_secrets_mask_str(const pw_secrets *s, const char *text);
PW_EXTERN void pw_secrets_free(pw_secrets *s);

/* A streaming masker: data written in arbitrary chunks comes out masked through `emit`,
 * holding back only the bytes that might still be the start of a secret. */
typedef struct pw_mask_stream pw_mask_stream;
typedef void (*pw_mask_emit_fn)(const char *data, size_t len, void *payload);

/* The stream masks the secrets registered in s when it is created and any added later. */
PW_EXTERN int pw_mask_stream_new(pw_mask_stream **out, pw_secrets *s, pw_mask_emit_fn emit, void *payload);
PW_EXTERN void pw_mask_stream_write(pw_mask_stream *ms, const char *data, size_t len);
/* Emits whatever is held back (end of stream). */
PW_EXTERN void pw_mask_stream_flush(pw_mask_stream *ms);
/* Flushes, then frees. */
PW_EXTERN void pw_mask_stream_free(pw_mask_stream *ms);

PW_END_DECLS

#endif
