/* GCP credential sources through auth/oauth2 against tests/cloud/fake_cloud.py: service-account
 * key -> RS256 JWT (checked by the fake with the test public key) -> token; external_account
 * (STS token exchange from a file-sourced subject token, then impersonation); the metadata
 * server; the token cache. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "net/http.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/result.h"
#include "pipewright/secrets.h"
#include "fake_cloud.h"
#include "pwtest.h"

#include <time.h>

#include "auth/jwt.h"
#include "auth/oauth2.h"

#define GCP_SA "deployer@test-project.iam.gserviceaccount.com"
#define GCP_SUBJECT "gh-oidc-subject-token-Hk22"
#define GCP_AUDIENCE "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/gh"
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"

static char *slurp_key(size_t *len)
{
	char path[1024];
	const char *src = getenv("PW_SOURCE_DIR");
	snprintf(path, sizeof path, "%s/tests/auth/test_rsa_key.pem", src ? src : ".");
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(65536);
	*len = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

PW_TEST(service_account_jwt_bearer_token)
{
	reset(NULL);
	size_t klen = 0;
	char *key = slurp_key(&klen);
	PW_REQUIRE(key);
	char url[128];
	snprintf(url, sizeof url, "%s/google/token", base);
	long long now = (long long)time(NULL);
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", GCP_SA, "scope", SCOPE, "aud", url,
	                           "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
	char *jwt = NULL;
	pw_error *e = NULL;
	PW_REQUIRE(pw__jwt_sign_rs256(&jwt, NULL, claims, key, klen, &e) == 0);
	pw_oauth2_call call = {pool, NULL};
	pw_oauth2_token t = {0};
	PW_CHECK_INT(pw__oauth2_jwt_bearer(&t, &call, url, jwt, &e), 0);
	PW_CHECK(t.access_token && strncmp(t.access_token, "gcp-sa-token-", 13) == 0);
	PW_CHECK(t.expires_at > now + 3000);
	pw__oauth2_token_dispose(&t);
	/* a tampered signature is refused by the token endpoint, and the error says so */
	jwt[strlen(jwt) - 5] = jwt[strlen(jwt) - 5] == 'A' ? 'B' : 'A';
	PW_CHECK_INT(pw__oauth2_jwt_bearer(&t, &call, url, jwt, &e), PW_EPERM);
	PW_REQUIRE(e);
	PW_CHECK_CONTAINS(pw_error_message(e), "invalid_grant");
	PW_CHECK_NOT_CONTAINS(pw_error_message(e), jwt);
	pw_error_free(e);
	pw_free(jwt);
	json_decref(claims);
	free(key);
}

PW_TEST(external_account_sts_then_impersonation)
{
	reset(NULL);
	pw_oauth2_call call = {pool, NULL};
	pw_oauth2_token sts = {0}, imp = {0};
	pw_error *e = NULL;
	char url[256];
	snprintf(url, sizeof url, "%s/sts/v1/token", base);
	PW_CHECK_INT(pw__oauth2_sts_exchange(&sts, &call, url, GCP_SUBJECT,
	                                     "urn:ietf:params:oauth:token-type:jwt", GCP_AUDIENCE, SCOPE, &e),
	             0);
	PW_REQUIRE(sts.access_token);
	PW_CHECK(strncmp(sts.access_token, "gcp-sts-token-", 14) == 0);
	snprintf(url, sizeof url, "%s/iam/v1/projects/-/serviceAccounts/%s:generateAccessToken", base,
	         GCP_SA);
	PW_CHECK_INT(pw__oauth2_impersonate(&imp, &call, url, sts.access_token, SCOPE, &e), 0);
	PW_CHECK(imp.access_token && strncmp(imp.access_token, "gcp-impersonated-token-", 23) == 0);
	PW_CHECK(imp.expires_at > (int64_t)time(NULL) + 3000);
	/* a wrong subject token is refused */
	pw_oauth2_token bad = {0};
	snprintf(url, sizeof url, "%s/sts/v1/token", base);
	PW_CHECK_INT(pw__oauth2_sts_exchange(&bad, &call, url, "wrong-subject",
	                                     "urn:ietf:params:oauth:token-type:jwt", GCP_AUDIENCE, SCOPE, &e),
	             PW_EPERM);
	PW_CHECK_NOT_CONTAINS(e ? pw_error_message(e) : "", "wrong-subject");
	pw_error_free(e);
	pw__oauth2_token_dispose(&sts);
	pw__oauth2_token_dispose(&imp);
}

static int fetch_metadata(pw_oauth2_token *out, void *payload, pw_error **err)
{
	char url[256];
	snprintf(url, sizeof url, "%s/computeMetadata/v1/instance/service-accounts/default/token", base);
	return pw__oauth2_metadata_token(out, payload, url, "Metadata-Flavor: Google", err);
}

PW_TEST(metadata_server_token_is_cached_until_near_expiry)
{
	reset(NULL);
	pw_oauth2_call call = {pool, NULL};
	pw_oauth2_cache *c = pw__oauth2_cache_new();
	char *a = NULL, *b = NULL, *d = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__oauth2_cache_get(&a, c, "gce", 0, NULL, fetch_metadata, &call, &e), 0);
	PW_CHECK_INT(pw__oauth2_cache_get(&b, c, "gce", 0, NULL, fetch_metadata, &call, &e), 0);
	PW_CHECK(a && b && strcmp(a, b) == 0);
	PW_CHECK_INT(token_requests("gce_metadata"), 1);
	PW_CHECK_INT(pw__oauth2_cache_get(&d, c, "gce", 1, NULL, fetch_metadata, &call, &e), 0);
	PW_CHECK(d && strcmp(a, d) != 0);
	PW_CHECK_INT(token_requests("gce_metadata"), 2);
	pw_free(a);
	pw_free(b);
	pw_free(d);
	/* tokens that expire within the margin are fetched again every time */
	json_decref(control("/_test/faults", "{\"token_expires_in\":60}"));
	PW_CHECK_INT(pw__oauth2_cache_get(&a, c, "short", 0, NULL, fetch_metadata, &call, &e), 0);
	PW_CHECK_INT(pw__oauth2_cache_get(&b, c, "short", 0, NULL, fetch_metadata, &call, &e), 0);
	PW_CHECK_INT(token_requests("gce_metadata"), 4);
	PW_CHECK_INT(pw__oauth2_cache_fetches(c), 4);
	pw_free(a);
	pw_free(b);
	pw_error_free(e);
	pw__oauth2_cache_free(c);
}

PW_TEST(plain_http_refused_except_loopback)
{
	char *o = NULL, *r = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__oauth2_split_url(&o, &r, "http://login.example.com/t", 0, &e), PW_ECONFIG);
	PW_CHECK_CONTAINS(e ? pw_error_message(e) : NULL, "refusing to send credentials over plain http");
	pw_error_free(e);
	e = NULL;
	PW_CHECK_INT(pw__oauth2_split_url(&o, &r, "http://127.0.0.1:8080/a?b=c", 0, &e), 0);
	PW_CHECK_STR(o, "http://127.0.0.1:8080");
	PW_CHECK_STR(r, "/a?b=c");
	pw_free(o);
	pw_free(r);
	PW_CHECK_INT(pw__oauth2_split_url(&o, &r, "http://metadata.google.internal/x", 1, &e), 0);
	pw_free(o);
	pw_free(r);
	PW_CHECK_INT(pw__oauth2_split_url(&o, &r, "https://user:pw@host/x", 0, &e), PW_ECONFIG);
	pw_error_free(e);
}

PW_TEST_MAIN()
