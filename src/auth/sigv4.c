/* AWS Signature Version 4: canonical request, string to sign, signing key and signature, as the
 * published test suite defines them (header and presigned-query variants). */
#include "auth/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/crypto_api.h"
#include "core/buf.h"

static const char hexd[] = "0123456789abcdef";
static const char hexu[] = "0123456789ABCDEF";

static void to_hex(char *out, const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[d[i] >> 4];
		out[2 * i + 1] = hexd[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void pw__sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	if (pw__crypto_load(NULL) < 0) {
		/* no libcrypto: every request is signed through pw__sigv4_sign, which reports it */
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	SHA256(data ? data : (const void *)"", len, md);
	to_hex(out, md, sizeof(md));
}

static void hmac(unsigned char out[32], const void *key, size_t klen, const char *msg, size_t mlen)
{
	unsigned int olen = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen);
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static int encode_into(pw_buf *b, const char *s, size_t n, int keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (pw__buf_putc(b, (char)c) < 0)
				return PW_ENOMEM;
		} else {
			char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
			if (pw__buf_append(b, e, 3) < 0)
				return PW_ENOMEM;
		}
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into b ('+' stays a '+'). */
static int decode_into(pw_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			char c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			if (pw__buf_putc(b, c) < 0)
				return PW_ENOMEM;
			i += 2;
		} else if (pw__buf_putc(b, s[i]) < 0) {
			return PW_ENOMEM;
		}
	}
	return 0;
}

char *pw__sigv4_canonical_path(const char *path, int normalize, int double_encode)
{
	const char *p = path && *path ? path : "/";
	pw_buf norm = PW_BUF_INIT(0);
	if (normalize) {
		/* segments kept so far, as offsets into norm */
		size_t n = strlen(p), nseg = 0, cap = 8;
		size_t *starts = pw_malloc(cap * sizeof(*starts));
		if (!starts)
			return NULL;
		int trailing = 0;
		size_t i = 0;
		while (i <= n) {
			size_t j = i;
			while (j < n && p[j] != '/')
				j++;
			size_t len = j - i;
			int last = j >= n;
			if (len == 0 || (len == 1 && p[i] == '.')) {
				trailing = 1;
			} else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
				if (nseg > 0) {
					nseg--;
					norm.len = starts[nseg];
					if (norm.data)
						norm.data[norm.len] = '\0';
				}
				trailing = 1;
			} else {
				if (nseg == cap) {
					size_t *ns = pw_realloc(starts, 2 * cap * sizeof(*starts));
					if (!ns) {
						pw_free(starts);
						pw__buf_dispose(&norm);
						return NULL;
					}
					starts = ns;
					cap *= 2;
				}
				starts[nseg++] = norm.len;
				pw__buf_putc(&norm, '/');
				pw__buf_append(&norm, p + i, len);
				trailing = 0;
			}
			if (last)
				break;
			i = j + 1;
		}
		pw_free(starts);
		if (nseg == 0 || trailing)
			pw__buf_putc(&norm, '/');
	} else {
		pw__buf_puts(&norm, p);
	}
	char *np = pw__buf_detach(&norm);
	if (!np)
		return NULL;
	if (!double_encode)
		return np;
	pw_buf enc = PW_BUF_INIT(0);
	int rc = encode_into(&enc, np, strlen(np), 1);
	pw_free(np);
	if (rc < 0) {
		pw__buf_dispose(&enc);
		return NULL;
	}
	return pw__buf_detach(&enc);
}

typedef struct qparam {
	char *name; /* encoded */
	char *value;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* Adds one encoded name=value from raw (possibly percent-encoded) text. */
static int qparam_add(qparam **v, size_t *n, const char *name, size_t nl, const char *value, size_t vl,
                      int raw)
{
	qparam *nv = pw_realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return PW_ENOMEM;
	*v = nv;
	pw_buf dn = PW_BUF_INIT(0), dv = PW_BUF_INIT(0), en = PW_BUF_INIT(0), ev = PW_BUF_INIT(0);
	int rc = 0;
	if (raw) {
		rc |= encode_into(&en, name, nl, 0);
		rc |= encode_into(&ev, value, vl, 0);
	} else {
		rc |= decode_into(&dn, name, nl);
		rc |= decode_into(&dv, value, vl);
		rc |= encode_into(&en, dn.data ? dn.data : "", dn.len, 0);
		rc |= encode_into(&ev, dv.data ? dv.data : "", dv.len, 0);
	}
	pw__buf_dispose(&dn);
	pw__buf_dispose(&dv);
	if (rc) {
		pw__buf_dispose(&en);
		pw__buf_dispose(&ev);
		return PW_ENOMEM;
	}
	nv[*n].name = pw__buf_detach(&en);
	nv[*n].value = pw__buf_detach(&ev);
	(*n)++;
	return 0;
}

static int qparams_parse(qparam **v, size_t *n, const char *q)
{
	const char *p = q ? q : "";
	while (*p) {
		size_t l = strcspn(p, "&");
		if (l > 0) {
			const char *eq = memchr(p, '=', l);
			size_t nl = eq ? (size_t)(eq - p) : l;
			const char *val = eq ? eq + 1 : p + l;
			size_t vl = eq ? l - nl - 1 : 0;
			if (qparam_add(v, n, p, nl, val, vl, 0) < 0)
				return PW_ENOMEM;
		}
		p += l;
		if (*p)
			p++;
	}
	return 0;
}

static void qparams_free(qparam *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pw_free(v[i].name);
		pw_free(v[i].value);
	}
	pw_free(v);
}

static char *qparams_join(qparam *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), qparam_cmp);
	pw_buf b = PW_BUF_INIT(0);
	for (size_t i = 0; i < n; i++)
		pw__buf_printf(&b, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
	return pw__buf_detach(&b);
}

char *pw__sigv4_canonical_query(const char *query)
{
	qparam *v = NULL;
	size_t n = 0;
	if (qparams_parse(&v, &n, query) < 0) {
		qparams_free(v, n);
		return NULL;
	}
	char *s = qparams_join(v, n);
	qparams_free(v, n);
	return s;
}

typedef struct chdr {
	char *name; /* lower case */
	pw_buf value;
	size_t order;
} chdr;

static int chdr_cmp(const void *a, const void *b)
{
	const chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Trimmed value with runs of white space (also folded lines) as one space. */
static void trim_into(pw_buf *b, const char *v)
{
	int space = 0, any = 0;
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = 1;
			continue;
		}
		if (space && any)
			pw__buf_putc(b, ' ');
		space = 0;
		any = 1;
		pw__buf_putc(b, *p);
	}
}

static int add_hdr(chdr **hs, size_t *n, const char *name, const char *value)
{
	chdr *nh = pw_realloc(*hs, (*n + 1) * sizeof(**hs));
	if (!nh)
		return PW_ENOMEM;
	*hs = nh;
	chdr *h = &nh[*n];
	h->name = pw_strdup(name);
	if (!h->name)
		return PW_ENOMEM;
	for (char *c = h->name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	pw_buf init = PW_BUF_INIT(0);
	h->value = init;
	trim_into(&h->value, value);
	h->order = *n;
	(*n)++;
	return 0;
}

static void hdrs_free(chdr *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pw_free(hs[i].name);
		pw__buf_dispose(&hs[i].value);
	}
	pw_free(hs);
}

void pw__sigv4_output_dispose(pw_sigv4_output *o)
{
	if (!o)
		return;
	pw_free(o->canonical_request);
	pw_free(o->string_to_sign);
	pw_free(o->authorization);
	pw_free(o->signed_query);
	memset(o, 0, sizeof(*o));
}

int pw__sigv4_sign(pw_sigv4_output *out, const pw_sigv4_input *in, pw_error **err)
{
	memset(out, 0, sizeof(*out));
	if (pw__crypto_load(err) < 0)
		return PW_EEXTERNAL;
	if (!in->method || !in->region || !in->service || !in->access_key_id || !in->secret_access_key)
		return pw_error_set(err, PW_EINVAL,
		                    "cannot sign the request: method, region, service or "
		                    "credentials missing");
	struct tm tm;
	gmtime_r(&in->when, &tm);
	char date[9];
	strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	if (in->payload_hash && strlen(in->payload_hash) == 64)
		memcpy(out->payload_hash, in->payload_hash, 65);
	else
		pw__sha256_hex(out->payload_hash, in->body, in->body_len);
	const char *token = in->session_token && *in->session_token ? in->session_token : NULL;
	int sign_token = token && !in->omit_session_token;

	pw_buf scope = PW_BUF_INIT(0);
	pw__buf_printf(&scope, "%s/%s/%s/aws4_request", date, in->region, in->service);

	chdr *hs = NULL;
	size_t nh = 0;
	int rc = 0, has_host = 0;
	for (size_t i = 0; i < in->nheaders && rc == 0; i++) {
		rc = add_hdr(&hs, &nh, in->headers[i].name, in->headers[i].value);
		if (in->headers[i].name && strcasecmp(in->headers[i].name, "host") == 0)
			has_host = 1;
	}
	if (!in->presign && rc == 0) {
		if (in->add_content_sha256)
			rc = add_hdr(&hs, &nh, "x-amz-content-sha256", out->payload_hash);
		if (rc == 0)
			rc = add_hdr(&hs, &nh, "x-amz-date", out->amz_date);
		if (rc == 0 && sign_token)
			rc = add_hdr(&hs, &nh, "x-amz-security-token", token);
	}
	if (rc == 0 && !has_host)
		rc = pw_error_set(err, PW_EINVAL, "cannot sign the request: no Host header");
	if (nh > 1)
		qsort(hs, nh, sizeof(*hs), chdr_cmp);
	/* canonical headers with repeated names joined by ',' in the order they came */
	pw_buf ch = PW_BUF_INIT(0), sh = PW_BUF_INIT(0);
	for (size_t i = 0; i < nh && rc == 0; i++) {
		if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0) {
			pw__buf_printf(&ch, ",%s", pw__buf_cstr(&hs[i].value));
			continue;
		}
		if (i > 0)
			pw__buf_putc(&ch, '\n');
		pw__buf_printf(&ch, "%s:%s", hs[i].name, pw__buf_cstr(&hs[i].value));
		pw__buf_printf(&sh, "%s%s", sh.len ? ";" : "", hs[i].name);
	}
	pw__buf_putc(&ch, '\n');

	qparam *qp = NULL;
	size_t nq = 0;
	if (rc == 0)
		rc = qparams_parse(&qp, &nq, in->query);
	if (rc == 0 && in->presign) {
		char cred[512], exp[24];
		snprintf(cred, sizeof(cred), "%s/%s", in->access_key_id, pw__buf_cstr(&scope));
		snprintf(exp, sizeof(exp), "%ld", in->expires > 0 ? in->expires : 3600);
		const char *add[][2] = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
		                        {"X-Amz-Credential", cred},
		                        {"X-Amz-Date", out->amz_date},
		                        {"X-Amz-Expires", exp},
		                        {"X-Amz-SignedHeaders", pw__buf_cstr(&sh)}};
		for (size_t i = 0; i < sizeof(add) / sizeof(add[0]) && rc == 0; i++)
			rc = qparam_add(&qp, &nq, add[i][0], strlen(add[i][0]), add[i][1], strlen(add[i][1]),
			                1);
		if (rc == 0 && sign_token)
			rc = qparam_add(&qp, &nq, "X-Amz-Security-Token", 20, token, strlen(token), 1);
	}
	char *cq = rc == 0 ? qparams_join(qp, nq) : NULL;
	char *cpath =
	    rc == 0 ? pw__sigv4_canonical_path(in->path, in->normalize_path, in->double_encode) : NULL;
	if (rc == 0 && (!cq || !cpath))
		rc = PW_ENOMEM;
	pw_buf creq = PW_BUF_INIT(0), sts = PW_BUF_INIT(0);
	if (rc == 0) {
		pw__buf_printf(&creq, "%s\n%s\n%s\n%s\n%s\n%s", in->method, cpath, cq, pw__buf_cstr(&ch),
		               pw__buf_cstr(&sh), out->payload_hash);
		char ch_hex[65];
		pw__sha256_hex(ch_hex, creq.data, creq.len);
		pw__buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date, pw__buf_cstr(&scope),
		               ch_hex);
		/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
		 */
		pw_buf k = PW_BUF_INIT(0);
		pw__buf_printf(&k, "AWS4%s", in->secret_access_key);
		unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
		hmac(k1, k.data, k.len, date, strlen(date));
		OPENSSL_cleanse(k.data, k.len);
		pw__buf_dispose(&k);
		hmac(k2, k1, 32, in->region, strlen(in->region));
		hmac(k3, k2, 32, in->service, strlen(in->service));
		hmac(k4, k3, 32, "aws4_request", 12);
		hmac(sig, k4, 32, sts.data, sts.len);
		OPENSSL_cleanse(k1, 32);
		OPENSSL_cleanse(k4, 32);
		to_hex(out->signature, sig, 32);
		pw_buf res = PW_BUF_INIT(0);
		if (in->presign) {
			pw__buf_printf(&res, "%s%sX-Amz-Signature=%s", cq, *cq ? "&" : "", out->signature);
			if (token && !sign_token) {
				pw__buf_puts(&res, "&X-Amz-Security-Token=");
				encode_into(&res, token, strlen(token), 0);
			}
			out->signed_query = pw__buf_detach(&res);
		} else {
			pw__buf_printf(
			    &res, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			    in->access_key_id, pw__buf_cstr(&scope), pw__buf_cstr(&sh), out->signature);
			out->authorization = pw__buf_detach(&res);
		}
		out->canonical_request = pw__buf_detach(&creq);
		out->string_to_sign = pw__buf_detach(&sts);
		if (!out->canonical_request || !out->string_to_sign ||
		    !(out->signed_query || out->authorization))
			rc = PW_ENOMEM;
	}
	pw__buf_dispose(&creq);
	pw__buf_dispose(&sts);
	pw_free(cq);
	pw_free(cpath);
	qparams_free(qp, nq);
	hdrs_free(hs, nh);
	pw__buf_dispose(&ch);
	pw__buf_dispose(&sh);
	pw__buf_dispose(&scope);
	if (rc < 0) {
		pw__sigv4_output_dispose(out);
		return pw_error_set(err, rc, "cannot sign the request");
	}
	return 0;
}
