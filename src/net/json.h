/* Small jansson helpers for the remote connectors: bounded parsing with errors that name what
 * was parsed, lookups by dotted path, compact dumps. */
#ifndef PW_NET_JSON_H
#define PW_NET_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "pipewright/error.h"

/* Default bound for pw__json_load when max_len is 0. */
#define PW_JSON_DEFAULT_MAX ((size_t)16 * 1024 * 1024)

/* Parses text[0..len) (any JSON value, not only objects) into *out; the caller owns the new
 * reference (json_decref). `what` names the document in errors ("the answer to GET
 * https://api.github.com/repos/o/r"); borrowed. Text longer than max_len (0: the default) is
 * refused. Errors: PW_EEXTERNAL "cannot parse <what> as JSON: <reason> at line L, column C"
 * or "<what> is larger than N bytes"; PW_EINVAL for NULL text. */
int pw__json_load(json_t **out, const char *text, size_t len, size_t max_len, const char *what,
                  pw_error **err);

/* The value at a dotted path ("metadata.name", "items.0.status.phase": all-digit segments
 * index arrays). Borrowed from root, or NULL when a step is missing or of the wrong type.
 * An empty path returns root. Keys that contain '.' cannot be reached this way. */
json_t *pw__json_get(const json_t *root, const char *path);

/* The string at path, borrowed from root; NULL when absent or not a string. */
const char *pw__json_get_string(const json_t *root, const char *path);

/* Stores the integer at path in *out. Returns 0, PW_ENOTFOUND when absent, or PW_EINVAL when
 * the value is not an integer (a real with no fraction is accepted; *out untouched). */
int pw__json_get_int(long long *out, const json_t *root, const char *path);

/* 1/0 for a boolean at path, `fallback` when absent or not a boolean. */
int pw__json_get_bool(const json_t *root, const char *path, int fallback);

/* Compact text with keys in insertion order (JSON_COMPACT | JSON_PRESERVE_ORDER | encoded
 * non-ASCII kept as UTF-8). Caller frees with pw_free. NULL when out of memory or v is NULL. */
char *pw__json_dump(const json_t *v);

#endif
