/* OpenSSL's libcrypto, loaded with dlopen the first time something is signed or hashed (SigV4,
 * RS256 JWTs, Lambda code digests) rather than linked (see core/dl.h). The files that use it
 * include this header instead of OpenSSL's and call pw__crypto_load before their first call; the
 * names below then call through the table. */
#ifndef PW_AUTH_CRYPTO_API_H
#define PW_AUTH_CRYPTO_API_H

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "pipewright/error.h"

typedef struct pw_crypto_api {
	__typeof__(&HMAC) hmac;
	__typeof__(&SHA256) sha256;
	__typeof__(&OPENSSL_cleanse) cleanse;
	__typeof__(&EVP_sha256) evp_sha256;
	__typeof__(&EVP_PKEY_free) pkey_free;
	__typeof__(&EVP_EncodeBlock) encode_block;
	__typeof__(&EVP_DigestSign) digest_sign;
	__typeof__(&ERR_clear_error) err_clear_error;
	__typeof__(&PEM_read_bio_PrivateKey) pem_read_bio_privatekey;
	__typeof__(&EVP_PKEY_base_id) pkey_base_id;
	__typeof__(&EVP_MD_CTX_new) md_ctx_new;
	__typeof__(&EVP_MD_CTX_free) md_ctx_free;
	__typeof__(&EVP_DigestSignInit) digest_sign_init;
	__typeof__(&BIO_new_mem_buf) bio_new_mem_buf;
	__typeof__(&BIO_free) bio_free;
} pw_crypto_api;

extern pw_crypto_api pw__crypto;

/* Loads libcrypto, once per process. Returns 0, or PW_EEXTERNAL with *err naming the library
 * and the package that provides it. */
int pw__crypto_load(pw_error **err);

#ifndef PW_CRYPTO_API_IMPLEMENTATION
#undef HMAC
#define HMAC (pw__crypto.hmac)
#undef SHA256
#define SHA256 (pw__crypto.sha256)
#undef OPENSSL_cleanse
#define OPENSSL_cleanse (pw__crypto.cleanse)
#undef EVP_sha256
#define EVP_sha256 (pw__crypto.evp_sha256)
#undef EVP_PKEY_free
#define EVP_PKEY_free (pw__crypto.pkey_free)
#undef EVP_EncodeBlock
#define EVP_EncodeBlock (pw__crypto.encode_block)
#undef EVP_DigestSign
#define EVP_DigestSign (pw__crypto.digest_sign)
#undef ERR_clear_error
#define ERR_clear_error (pw__crypto.err_clear_error)
#undef PEM_read_bio_PrivateKey
#define PEM_read_bio_PrivateKey (pw__crypto.pem_read_bio_privatekey)
#undef EVP_PKEY_base_id
#define EVP_PKEY_base_id (pw__crypto.pkey_base_id)
#undef EVP_MD_CTX_new
#define EVP_MD_CTX_new (pw__crypto.md_ctx_new)
#undef EVP_MD_CTX_free
#define EVP_MD_CTX_free (pw__crypto.md_ctx_free)
#undef EVP_DigestSignInit
#define EVP_DigestSignInit (pw__crypto.digest_sign_init)
#undef BIO_new_mem_buf
#define BIO_new_mem_buf (pw__crypto.bio_new_mem_buf)
#undef BIO_free
#define BIO_free (pw__crypto.bio_free)
#endif

#endif
