/* RS256 JWT signing: the signature verifies with the matching public key (a test-only key pair
 * under tests/auth/), the header and claims decode to what was asked, and bad keys fail clearly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "pwtest.h"

static char *slurp(const char *name, size_t *len)
{
	char path[4096];
	const char *src = getenv("PW_SOURCE_DIR");
	int n = snprintf(path, sizeof path, "%s/tests/auth/%s", src ? src : ".", name);
	if (n < 0 || (size_t)n >= sizeof path)
		return NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(65536);
	size_t got = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (buf)
		buf[got] = '\0';
	*len = got;
	return buf;
}

/* 1 when sig verifies over signing_input with the PEM public key. */
static int verify(const char *pub_pem, size_t pub_len, const char *signing_input, size_t in_len,
                  const unsigned char *sig, size_t sig_len)
{
	BIO *bio = BIO_new_mem_buf(pub_pem, (int)pub_len);
	EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pub)
		return 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	         EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signing_input, in_len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	return ok;
}

PW_TEST(signature_verifies_with_public_key)
{
	size_t klen = 0, plen = 0;
	char *key = slurp("test_rsa_key.pem", &klen);
	char *pub = slurp("test_rsa_pub.pem", &plen);
	PW_REQUIRE(key && pub);
	json_t *claims = json_pack("{s:s, s:s, s:I, s:I}", "iss", "sa@example.iam.gserviceaccount.com", "aud",
	                           "https://oauth2.googleapis.com/token", "iat", (json_int_t)1700000000,
	                           "exp", (json_int_t)1700003600);
	json_t *extra = json_pack("{s:s, s:s}", "kid", "key-1", "alg", "none");
	char *jwt = NULL;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__jwt_sign_rs256(&jwt, extra, claims, key, klen, &err), 0);
	PW_REQUIRE(jwt);
	const char *d1 = strchr(jwt, '.');
	PW_REQUIRE(d1);
	const char *d2 = strchr(d1 + 1, '.');
	PW_REQUIRE(d2);
	PW_CHECK(strchr(d2 + 1, '.') == NULL);
	PW_CHECK(strpbrk(jwt, "=+/") == NULL);

	unsigned char *h = NULL, *c = NULL, *s = NULL;
	size_t hl = 0, cl = 0, sl = 0;
	PW_CHECK_INT(pw__base64url_decode(&h, &hl, jwt, (size_t)(d1 - jwt)), 0);
	PW_CHECK_INT(pw__base64url_decode(&c, &cl, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
	PW_CHECK_INT(pw__base64url_decode(&s, &sl, d2 + 1, strlen(d2 + 1)), 0);
	PW_CHECK_STR((char *)h, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"key-1\"}");
	PW_CHECK_CONTAINS((char *)c, "\"iss\":\"sa@example.iam.gserviceaccount.com\"");
	PW_CHECK_CONTAINS((char *)c, "\"exp\":1700003600");
	PW_CHECK_INT(sl, 256);
	PW_CHECK(verify(pub, plen, jwt, (size_t)(d2 - jwt), s, sl));
	/* a changed claim no longer verifies */
	char *tampered = pw_strdup(jwt);
	tampered[(d1 - jwt) + 3] ^= 1;
	PW_CHECK(!verify(pub, plen, tampered, (size_t)(d2 - jwt), s, sl));

	pw_free(tampered);
	pw_free(h);
	pw_free(c);
	pw_free(s);
	pw_free(jwt);
	json_decref(claims);
	json_decref(extra);
	free(key);
	free(pub);
	pw_error_free(err);
}

PW_TEST(bad_key_is_a_config_error_without_key_text)
{
	const char *bogus = "-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY\n-----END PRIVATE KEY-----\n";
	json_t *claims = json_pack("{s:s}", "iss", "x");
	char *jwt = NULL;
	pw_error *err = NULL;
	PW_CHECK_INT(pw__jwt_sign_rs256(&jwt, NULL, claims, bogus, strlen(bogus), &err), PW_ECONFIG);
	PW_CHECK(jwt == NULL);
	PW_REQUIRE(err);
	PW_CHECK_CONTAINS(pw_error_message(err), "private key");
	char *all = pw_error_format(err, 0);
	PW_CHECK_NOT_CONTAINS(all, "TOPSECRET");
	pw_free(all);
	pw_error_free(err);
	err = NULL;
	PW_CHECK_INT(pw__jwt_sign_rs256(&jwt, NULL, NULL, bogus, strlen(bogus), &err), PW_EINVAL);
	pw_error_free(err);
	json_decref(claims);
}

PW_TEST(base64url_round_trip)
{
	const unsigned char data[] = {0xfb, 0xff, 0xfe, 0x00, 0x41};
	for (size_t n = 0; n <= sizeof data; n++) {
		char *enc = pw__base64url_encode(data, n);
		PW_REQUIRE(enc);
		PW_CHECK(strpbrk(enc, "=+/") == NULL);
		unsigned char *dec = NULL;
		size_t dl = 0;
		PW_CHECK_INT(pw__base64url_decode(&dec, &dl, enc, strlen(enc)), 0);
		PW_CHECK_INT(dl, n);
		PW_CHECK(dec && memcmp(dec, data, n) == 0);
		pw_free(dec);
		pw_free(enc);
	}
	char *e = pw__base64url_encode((const unsigned char *)"\xfb\xff", 2);
	PW_CHECK_STR(e, "-_8");
	pw_free(e);
	unsigned char *dec = NULL;
	size_t dl = 0;
	PW_CHECK_INT(pw__base64url_decode(&dec, &dl, "ab$d", 4), PW_EINVAL);
}

PW_TEST_MAIN()
