/* AWS Signature Version 4 (HMAC-SHA256 with OpenSSL libcrypto): the canonical request, the
 * string to sign and the signature, for requests signed in headers or presigned in the query. */
#ifndef PW_AUTH_SIGV4_H
#define PW_AUTH_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "pipewright/error.h"

/* One request header as it will be sent; name and value are borrowed. */
typedef struct pw_sigv4_header {
	const char *name;
	const char *value;
} pw_sigv4_header;

typedef struct pw_sigv4_input {
	const char *method;
	/* The path as it goes on the wire. With double_encode (every service but S3) each byte
	 * that is not unreserved or '/' is percent-encoded (again) for the canonical form; without
	 * it the path is taken as already encoded. */
	const char *path;
	const char *query; /* the query string without '?', or NULL */
	const pw_sigv4_header *headers;
	size_t nheaders; /* every header to sign; must include Host */
	const void *body;
	size_t body_len;
	const char *payload_hash; /* hex SHA-256 of the body when the body is not at hand, or NULL */
	const char *region;
	const char *service;
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL when none */
	time_t when;
	int normalize_path;     /* remove "." and ".." segments and repeated slashes (not S3) */
	int double_encode;      /* see path */
	int add_content_sha256; /* sign an x-amz-content-sha256 header (S3) */
	/* The token is sent but left out of the signature (services that add it after signing). */
	int omit_session_token;
	int presign;  /* sign in the query string instead of the Authorization header */
	long expires; /* X-Amz-Expires of a presigned request */
} pw_sigv4_input;

/* What to send. Strings are owned by the output (pw__sigv4_output_dispose). */
typedef struct pw_sigv4_output {
	char *canonical_request;
	char *string_to_sign;
	char signature[65];
	char amz_date[17]; /* YYYYMMDDTHHMMSSZ: the X-Amz-Date header in header mode */
	char payload_hash[65];
	char *authorization; /* header mode: the Authorization header's value */
	char *signed_query;  /* presign: the whole query string (with X-Amz-Signature) to send */
} pw_sigv4_output;

/* Signs in. Returns 0, PW_EINVAL (missing field, no Host header) or PW_ENOMEM; on error the
 * output holds nothing to dispose. No secret appears in an error message. */
int pw__sigv4_sign(pw_sigv4_output *out, const pw_sigv4_input *in, pw_error **err);
void pw__sigv4_output_dispose(pw_sigv4_output *o);

/* Lower-case hex SHA-256 of data into out[65]. */
void pw__sha256_hex(char out[65], const void *data, size_t len);

/* The canonical URI of a path (normalised and encoded as the input's flags say); caller frees
 * with pw_free; NULL when out of memory. Exposed for the fuzz target. */
char *pw__sigv4_canonical_path(const char *path, int normalize, int double_encode);
/* The canonical query string: every name=value percent-decoded, re-encoded (RFC 3986
 * unreserved kept), sorted by name then value. Caller frees with pw_free. */
char *pw__sigv4_canonical_query(const char *query);

#endif
