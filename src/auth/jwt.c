/* RS256 JWT signing with OpenSSL's EVP_DigestSign; base64url by hand (no padding). */
#include "auth/jwt.h"

#include <string.h>

#include "auth/crypto_api.h"
#include "core/buf.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *pw__base64url_encode(const unsigned char *data, size_t len)
{
	size_t n = (len / 3) * 4 + 4 + 1;
	char *out = pw_malloc(n);
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)data[i] << 16;
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

int pw__base64url_decode(unsigned char **out, size_t *out_len, const char *text, size_t len)
{
	*out = NULL;
	*out_len = 0;
	while (len > 0 && text[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return PW_EINVAL;
	unsigned char *buf = pw_malloc(len / 4 * 3 + 3 + 1);
	if (!buf)
		return PW_ENOMEM;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(text[i]);
		if (v < 0) {
			pw_free(buf);
			return PW_EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)((acc >> bits) & 0xff);
		}
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

static char *json_b64(const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return NULL;
	char *enc = pw__base64url_encode((const unsigned char *)text, strlen(text));
	free(text);
	return enc;
}

static int load_key(EVP_PKEY **out, const char *pem, size_t pem_len, pw_error **err)
{
	*out = NULL;
	if (pw__crypto_load(err) < 0)
		return PW_EEXTERNAL;
	if (!pem || pem_len == 0 || pem_len > (size_t)1 << 20)
		return pw_error_set(err, PW_ECONFIG,
		                    "cannot sign the JWT: the private key is empty or too large");
	BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio)
		return pw_error_set(err, PW_ENOMEM, "cannot sign the JWT: out of memory");
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!key) {
		pw_error *e = NULL;
		pw_error_set(&e, PW_ECONFIG,
		             "cannot sign the JWT: the private key is not a readable PEM private key");
		pw_error_set_hint(
		    e, "expected an unencrypted \"-----BEGIN PRIVATE KEY-----\" (PKCS#8) or "
		       "\"-----BEGIN RSA PRIVATE KEY-----\" block, as in a service-account key file");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		return pw_error_set(err, PW_ECONFIG,
		                    "cannot sign the JWT: RS256 needs an RSA key, this is another type");
	}
	*out = key;
	return 0;
}

int pw__jwt_sign_rs256(char **out, const json_t *header_extra, const json_t *claims,
                       const char *pem_private_key, size_t pem_len, pw_error **err)
{
	*out = NULL;
	if (!json_is_object(claims) || (header_extra && !json_is_object(header_extra)))
		return pw_error_set(err, PW_EINVAL,
		                    "cannot sign the JWT: claims and header must be JSON objects");
	EVP_PKEY *key = NULL;
	int rc = load_key(&key, pem_private_key, pem_len, err);
	if (rc < 0)
		return rc;

	json_t *header = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	char *h64 = NULL, *c64 = NULL, *s64 = NULL;
	unsigned char *sig = NULL;
	EVP_MD_CTX *md = NULL;
	pw_buf b = PW_BUF_INIT(0);
	rc = PW_ENOMEM;
	if (!header)
		goto done;
	if (header_extra) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)header_extra, k, v)
		{
			if (strcmp(k, "alg") != 0 && json_object_set(header, k, v) != 0)
				goto done;
		}
	}
	h64 = json_b64(header);
	c64 = json_b64(claims);
	if (!h64 || !c64 || pw__buf_printf(&b, "%s.%s", h64, c64) < 0)
		goto done;

	md = EVP_MD_CTX_new();
	if (!md)
		goto done;
	size_t siglen = 0;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)b.data, b.len) != 1) {
		rc = pw_error_set(err, PW_EIO,
		                  "cannot sign the JWT: OpenSSL could not start an RS256 signature");
		goto done;
	}
	sig = pw_malloc(siglen);
	if (!sig)
		goto done;
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data, b.len) != 1) {
		rc = pw_error_set(err, PW_EIO,
		                  "cannot sign the JWT: OpenSSL could not compute the RS256 signature");
		goto done;
	}
	s64 = pw__base64url_encode(sig, siglen);
	if (!s64 || pw__buf_printf(&b, ".%s", s64) < 0)
		goto done;
	*out = pw__buf_detach(&b);
	rc = 0;
done:
	if (rc == PW_ENOMEM)
		pw_error_set(err, PW_ENOMEM, "cannot sign the JWT: out of memory");
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	json_decref(header);
	pw_free(h64);
	pw_free(c64);
	pw_free(s64);
	pw_free(sig);
	pw__buf_dispose(&b);
	return rc;
}
