/* JSON Web Tokens signed with RS256 (RSASSA-PKCS1-v1_5 over SHA-256, RFC 7515/7518), for
 * Google's JWT-bearer grant, Azure client assertions and GitHub App authentication. */
#ifndef PW_AUTH_JWT_H
#define PW_AUTH_JWT_H

#include <stddef.h>

#include <jansson.h>

#include "pipewright/error.h"

/* Signs claims into a compact JWS "header.payload.signature" in *out (caller frees with
 * pw_free). The header is {"alg":"RS256","typ":"JWT"} plus the members of header_extra (may be
 * NULL; e.g. {"kid": "..."}; "alg" cannot be overridden). claims must be an object; it is
 * serialised compactly with keys in insertion order. pem_private_key[0..pem_len) is a PEM RSA
 * private key (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"), not encrypted; it never
 * appears in an error message.
 * Errors: PW_EINVAL (NULL/non-object claims or header_extra), PW_ECONFIG (the key cannot be
 * parsed or is not RSA), PW_EIO (signing failed), PW_ENOMEM. */
int pw__jwt_sign_rs256(char **out, const json_t *header_extra, const json_t *claims,
                       const char *pem_private_key, size_t pem_len, pw_error **err);

/* Base64url without padding (RFC 4648 section 5) of data[0..len). Caller frees with pw_free;
 * NULL when out of memory. */
char *pw__base64url_encode(const unsigned char *data, size_t len);

/* Decodes base64url (padding optional; standard '+' '/' accepted too) into a new buffer
 * (*out, caller frees with pw_free; NUL-terminated for convenience) of *out_len bytes.
 * Returns 0, PW_EINVAL for characters outside the alphabet, or PW_ENOMEM. */
int pw__base64url_decode(unsigned char **out, size_t *out_len, const char *text, size_t len);

#endif
