/* Loading libcrypto on first use (see crypto_api.h). */
#define PW_CRYPTO_API_IMPLEMENTATION 1
#include <pthread.h>
#include <stdio.h>

#include "auth/crypto_api.h"
#include "core/dl.h"

#define CRYPTO_SONAME "libcrypto.so.3"

pw_crypto_api pw__crypto;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512]; /* why libcrypto is unusable; "" when it was loaded */

static void load(void)
{
	/* PW_DL_NAME: OpenSSL 3 renames some functions with macros (EVP_PKEY_base_id) */
	const pw_dl_sym syms[] = {
	    {(void **)&pw__crypto.hmac, PW_DL_NAME(HMAC)},
	    {(void **)&pw__crypto.sha256, PW_DL_NAME(SHA256)},
	    {(void **)&pw__crypto.cleanse, PW_DL_NAME(OPENSSL_cleanse)},
	    {(void **)&pw__crypto.evp_sha256, PW_DL_NAME(EVP_sha256)},
	    {(void **)&pw__crypto.pkey_free, PW_DL_NAME(EVP_PKEY_free)},
	    {(void **)&pw__crypto.encode_block, PW_DL_NAME(EVP_EncodeBlock)},
	    {(void **)&pw__crypto.digest_sign, PW_DL_NAME(EVP_DigestSign)},
	    {(void **)&pw__crypto.err_clear_error, PW_DL_NAME(ERR_clear_error)},
	    {(void **)&pw__crypto.pem_read_bio_privatekey, PW_DL_NAME(PEM_read_bio_PrivateKey)},
	    {(void **)&pw__crypto.pkey_base_id, PW_DL_NAME(EVP_PKEY_base_id)},
	    {(void **)&pw__crypto.md_ctx_new, PW_DL_NAME(EVP_MD_CTX_new)},
	    {(void **)&pw__crypto.md_ctx_free, PW_DL_NAME(EVP_MD_CTX_free)},
	    {(void **)&pw__crypto.digest_sign_init, PW_DL_NAME(EVP_DigestSignInit)},
	    {(void **)&pw__crypto.bio_new_mem_buf, PW_DL_NAME(BIO_new_mem_buf)},
	    {(void **)&pw__crypto.bio_free, PW_DL_NAME(BIO_free)},
	};
	pw__dl_load(CRYPTO_SONAME, syms, sizeof(syms) / sizeof(syms[0]), "OpenSSL 3 is needed", failure,
	            sizeof(failure));
}

int pw__crypto_load(pw_error **err)
{
	pthread_once(&once, load);
	if (!failure[0])
		return 0;
	pw_error *e = pw_error_new(PW_EEXTERNAL, "cannot sign or hash: cannot load libcrypto: %s", failure);
	pw_error_set_hint(e, "install OpenSSL's library (Debian: apt-get install libssl3)");
	if (err && !*err)
		*err = e;
	else
		pw_error_free(e);
	return PW_EEXTERNAL;
}
