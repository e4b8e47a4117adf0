/* Secret masking: a thread-safe set of secret values and their encoded forms, matched by an
 * Aho-Corasick automaton compiled to a DFA, and a streaming masker that masks across chunks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/buf.h"
#include "core/internal.h"
#include "core/utf8.h"
#include "pipewright/secrets.h"

/* States up to this depth get a dense transition row (one entry per byte class); deeper states
 * are only reached while the text really spells a long prefix of a secret, and are walked
 * through their trie edges and failure links instead, so that long secrets (PEM keys) cost
 * memory in proportion to their length, not length x alphabet. */
#define DENSE_DEPTH 16

/* Set in a dense-table entry when the target state ends a pattern or has no dense row: the
 * scanner then leaves its tight loop. The remaining bits are the target's state index; for
 * other entries they are the target's row offset (index * nclasses). */
#define DFA_SLOW 0x80000000u

/* Up to this many bytes that leave the start state are looked for 16 at a time (SSE2). */
#define START_FEW 8
/* Up to this many distinct 3-byte pattern beginnings are looked for 16 at a time (SSE2):
 * in text, the bytes that can start a secret are common letters, their triples are not. */
#define PREFIX_FEW 8

/* Interval bookkeeping of a stream: when this many masked ranges are pending, the stream emits
 * what is already final, so that one huge write cannot make the list grow. */
#define PENDING_EMIT_AT 8

typedef struct mask_dfa {
	atomic_int refs;
	uint32_t nstates;
	uint32_t ndense;   /* states [0, ndense) have dense rows (BFS order: all of depth <= DENSE_DEPTH) */
	uint32_t nclasses; /* byte classes: 0 for bytes in no pattern, then one per byte used */
	uint32_t max_len;  /* longest pattern */
	uint8_t classes[256];
	uint8_t start_stay[256]; /* 1: from the start state, this byte leads back to it */
	uint8_t nstart;          /* how many bytes do not (START_FEW + 1: more than START_FEW) */
	uint8_t start_bytes[8];  /* those bytes, when there are at most START_FEW */
	uint8_t nprefix;         /* distinct 3-byte beginnings of patterns (PREFIX_FEW + 1: more,
	                          * or a pattern shorter than 3 bytes: not used) */
	uint8_t prefix[PREFIX_FEW][3];
	uint32_t *next;       /* [ndense * nclasses] encoded entries, see DFA_SLOW */
	uint32_t *depth;      /* [nstates] length of the pattern prefix the state stands for */
	uint32_t *match;      /* [nstates] longest pattern ending in this state, 0 for none */
	uint32_t *fail;       /* [nstates] failure link */
	uint32_t *edge_first; /* [nstates + 1] trie edges of state i: edge_first[i] .. edge_first[i+1] */
	uint32_t *edge_to;    /* [nstates - 1] */
	uint16_t *edge_cls;   /* [nstates - 1] */
} mask_dfa;

typedef struct pattern {
	char *data;
	size_t len;
} pattern;

struct pw_secrets {
	pthread_mutex_t lock;
	char **values; /* the distinct raw values, owned */
	size_t nvalues, values_cap;
	pattern *patterns; /* raw values and their encoded forms, distinct, owned */
	size_t npatterns, patterns_cap;
	mask_dfa *dfa; /* built lazily; stale when dfa_generation != generation */
	uint64_t dfa_generation;
	atomic_uint_fast64_t generation; /* bumped (under the lock) by every add that changes the set */
};

typedef struct mask_range {
	uint64_t start, end; /* absolute stream positions, [start, end) */
} mask_range;

struct pw_mask_stream {
	pw_secrets *secrets; /* borrowed; NULL for the one-shot masker */
	mask_dfa *dfa;       /* a reference; NULL when none could be built */
	uint64_t generation; /* of the secrets set when dfa was taken */
	uint32_t state;      /* automaton state index after the last byte scanned */
	uint64_t pos;        /* bytes scanned so far */
	uint64_t done;       /* bytes emitted (or replaced by a mask) so far; done <= pos */
	bool last_masked;    /* the last byte emitted was part of a masked run */
	char *hold;          /* bytes [hold_base, cur_base) not emitted yet at the start of this write */
	size_t hold_len, hold_cap;
	uint64_t hold_base;
	const char *cur; /* the chunk being written: bytes [cur_base, cur_base + len) */
	uint64_t cur_base;
	mask_range *ranges; /* pending masked ranges: sorted, disjoint, not adjacent, end > done */
	size_t nranges, ranges_cap;
	pw_mask_emit_fn emit;
	void *payload;
};

/* ---- the automaton ---- */

static void dfa_release(mask_dfa *d)
{
	if (!d || atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(d->next);
	free(d->depth);
	free(d->match);
	free(d->fail);
	free(d->edge_first);
	free(d->edge_to);
	free(d->edge_cls);
	free(d);
}

static uint32_t dfa_child(const mask_dfa *d, uint32_t state, uint32_t cls)
{
	for (uint32_t e = d->edge_first[state]; e < d->edge_first[state + 1]; e++)
		if (d->edge_cls[e] == cls)
			return d->edge_to[e];
	return 0;
}

/* The transition from a state without a dense row: trie edges, else follow failure links down
 * to a dense state (whose row is complete). Amortized O(1) per byte like any Aho-Corasick walk. */
static uint32_t dfa_sparse_step(const mask_dfa *d, uint32_t state, uint32_t cls)
{
	while (state >= d->ndense) {
		uint32_t child = dfa_child(d, state, cls);
		if (child)
			return child;
		state = d->fail[state];
	}
	uint32_t e = d->next[(size_t)state * d->nclasses + cls];
	return (e & DFA_SLOW) ? (e & ~DFA_SLOW) : e / d->nclasses;
}

/* The trie while it is being built, in insertion numbering. */
typedef struct trie {
	uint32_t *first_child, *sibling, *term, *depth;
	uint16_t *cls;
	uint32_t n;
} trie;

static void trie_dispose(trie *t)
{
	free(t->first_child);
	free(t->sibling);
	free(t->term);
	free(t->depth);
	free(t->cls);
	memset(t, 0, sizeof(*t));
}

static int trie_init(trie *t, size_t cap)
{
	memset(t, 0, sizeof(*t));
	t->first_child = calloc(cap, sizeof(uint32_t));
	t->sibling = calloc(cap, sizeof(uint32_t));
	t->term = calloc(cap, sizeof(uint32_t));
	t->depth = calloc(cap, sizeof(uint32_t));
	t->cls = calloc(cap, sizeof(uint16_t));
	t->n = 1;
	if (!t->first_child || !t->sibling || !t->term || !t->depth || !t->cls) {
		trie_dispose(t);
		return PW_ENOMEM;
	}
	return 0;
}

static void trie_insert(trie *t, const uint8_t *classes, const pattern *p)
{
	uint32_t s = 0;
	for (size_t i = 0; i < p->len; i++) {
		uint16_t c = classes[(unsigned char)p->data[i]];
		uint32_t v = t->first_child[s];
		while (v && t->cls[v] != c)
			v = t->sibling[v];
		if (!v) {
			v = t->n++;
			t->cls[v] = c;
			t->depth[v] = t->depth[s] + 1;
			t->sibling[v] = t->first_child[s];
			t->first_child[s] = v;
		}
		s = v;
	}
	t->term[s] = (uint32_t)p->len;
}

/* The 3-byte beginnings of the patterns (the trie's states at depth 3), when there are few and
 * every pattern has 3 bytes or more: a position whose next three bytes are none of them starts
 * no pattern, and the automaton in its start state would be back there (or where the scan of
 * the next position from the start state leads) after them, so the position can be skipped. */
static void dfa_find_prefixes(mask_dfa *d, size_t min_len)
{
	d->nprefix = PREFIX_FEW + 1;
	/* a byte per class, unless all 256 are used and one shares class 0 */
	if (min_len < 3 || min_len == (size_t)-1 || d->nclasses >= 256)
		return;
	uint8_t byte_of[256] = {0};
	for (int b = 0; b < 256; b++)
		byte_of[d->classes[b]] = (uint8_t)b;
	unsigned n = 0;
	for (uint32_t e0 = d->edge_first[0]; e0 < d->edge_first[1]; e0++) {
		uint32_t s1 = d->edge_to[e0];
		for (uint32_t e1 = d->edge_first[s1]; e1 < d->edge_first[s1 + 1]; e1++) {
			uint32_t s2 = d->edge_to[e1];
			for (uint32_t e2 = d->edge_first[s2]; e2 < d->edge_first[s2 + 1]; e2++) {
				if (n == PREFIX_FEW)
					return;
				d->prefix[n][0] = byte_of[d->edge_cls[e0]];
				d->prefix[n][1] = byte_of[d->edge_cls[e1]];
				d->prefix[n][2] = byte_of[d->edge_cls[e2]];
				n++;
			}
		}
	}
	d->nprefix = (uint8_t)n;
}

/* Builds the automaton for pats (each at least 1 byte). Caller releases with dfa_release. */
static int dfa_build(mask_dfa **out, const pattern *pats, size_t npats)
{
	size_t total = 1;
	for (size_t i = 0; i < npats; i++)
		total += pats[i].len;
	if (total >= 0x7fffffffu)
		return PW_ENOMEM;

	mask_dfa *d = calloc(1, sizeof(*d));
	if (!d)
		return PW_ENOMEM;
	atomic_init(&d->refs, 1);

	bool used[256] = {false};
	size_t min_len = (size_t)-1;
	for (size_t i = 0; i < npats; i++) {
		for (size_t j = 0; j < pats[i].len; j++)
			used[(unsigned char)pats[i].data[j]] = true;
		if (pats[i].len > d->max_len)
			d->max_len = (uint32_t)pats[i].len;
		if (pats[i].len < min_len)
			min_len = pats[i].len;
	}
	d->nclasses = 1;
	for (int b = 0; b < 256; b++)
		d->classes[b] = used[b] ? (uint8_t)d->nclasses++ : 0;
	/* 256 used bytes would need class 256: fold the last one into the unused class 0 slot. */
	if (d->nclasses == 257) {
		d->classes[255] = 0;
		d->nclasses = 256;
	}

	trie t;
	uint32_t *order = NULL, *newidx = NULL, *raw = NULL;
	if (trie_init(&t, total) < 0) {
		free(d);
		return PW_ENOMEM;
	}
	for (size_t i = 0; i < npats; i++)
		trie_insert(&t, d->classes, &pats[i]);
	uint32_t n = t.n;
	d->nstates = n;

	/* Breadth-first renumbering: shallow states first, so dense states are a prefix. */
	order = malloc(n * sizeof(uint32_t));
	newidx = malloc(n * sizeof(uint32_t));
	d->depth = malloc(n * sizeof(uint32_t));
	d->match = malloc(n * sizeof(uint32_t));
	d->fail = calloc(n, sizeof(uint32_t));
	d->edge_first = calloc((size_t)n + 1, sizeof(uint32_t));
	d->edge_to = malloc(n * sizeof(uint32_t));
	d->edge_cls = malloc(n * sizeof(uint16_t));
	if (!order || !newidx || !d->depth || !d->match || !d->fail || !d->edge_first || !d->edge_to ||
	    !d->edge_cls)
		goto nomem;
	uint32_t head = 0, tail = 0;
	order[tail++] = 0;
	while (head < tail) {
		uint32_t u = order[head++];
		for (uint32_t v = t.first_child[u]; v; v = t.sibling[v])
			order[tail++] = v;
	}
	d->ndense = 0;
	for (uint32_t i = 0; i < n; i++) {
		newidx[order[i]] = i;
		d->depth[i] = t.depth[order[i]];
		d->match[i] = t.term[order[i]];
		if (d->depth[i] <= DENSE_DEPTH)
			d->ndense = i + 1;
	}
	uint32_t nedges = 0;
	for (uint32_t i = 0; i < n; i++) {
		d->edge_first[i] = nedges;
		for (uint32_t v = t.first_child[order[i]]; v; v = t.sibling[v]) {
			d->edge_to[nedges] = newidx[v];
			d->edge_cls[nedges] = t.cls[v];
			nedges++;
		}
	}
	d->edge_first[n] = nedges;
	trie_dispose(&t);
	free(order);
	free(newidx);
	order = newidx = NULL;

	size_t cells = (size_t)d->ndense * d->nclasses;
	if (cells >= 0x7fffffffu)
		goto nomem;
	raw = malloc(cells * sizeof(uint32_t));
	if (!raw)
		goto nomem;
	d->next = raw;

	/* Failure links and dense rows, in BFS order: everything a state needs is shallower.
	 * During this pass d->next holds plain state indexes; it is encoded afterwards, and
	 * dfa_sparse_step is not used until then except through raw lookups below. */
	for (uint32_t u = 0; u < n; u++) {
		if (u < d->ndense) {
			uint32_t *row = raw + (size_t)u * d->nclasses;
			if (u == 0)
				memset(row, 0, d->nclasses * sizeof(uint32_t));
			else
				memcpy(row, raw + (size_t)d->fail[u] * d->nclasses,
				       d->nclasses * sizeof(uint32_t));
			for (uint32_t e = d->edge_first[u]; e < d->edge_first[u + 1]; e++)
				row[d->edge_cls[e]] = d->edge_to[e];
		}
		for (uint32_t e = d->edge_first[u]; e < d->edge_first[u + 1]; e++) {
			uint32_t v = d->edge_to[e], c = d->edge_cls[e], f = 0;
			if (u != 0) {
				f = d->fail[u];
				while (f >= d->ndense) {
					uint32_t child = dfa_child(d, f, c);
					if (child)
						break;
					f = d->fail[f];
				}
				f = f >= d->ndense ? dfa_child(d, f, c) : raw[(size_t)f * d->nclasses + c];
			}
			d->fail[v] = f;
			if (d->match[f] > d->match[v])
				d->match[v] = d->match[f];
		}
	}
	for (size_t i = 0; i < cells; i++) {
		uint32_t target = raw[i];
		raw[i] =
		    (target < d->ndense && !d->match[target]) ? target * d->nclasses : (DFA_SLOW | target);
	}
	for (int b = 0; b < 256; b++) {
		d->start_stay[b] = raw[d->classes[b]] == 0;
		if (!d->start_stay[b] && d->nstart <= START_FEW) {
			if (d->nstart < START_FEW)
				d->start_bytes[d->nstart] = (uint8_t)b;
			d->nstart++;
		}
	}
	dfa_find_prefixes(d, min_len);
	*out = d;
	return 0;

nomem:
	trie_dispose(&t);
	free(order);
	free(newidx);
	dfa_release(d);
	return PW_ENOMEM;
}

/* ---- encoded forms ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 digit covering bits [6j, 6j+6) of b[0..n) (zero bits past the end). */
static char b64_digit(const unsigned char *b, size_t n, size_t j)
{
	size_t bit = 6 * j, byte = bit / 8, off = bit % 8;
	unsigned window = (unsigned)b[byte] << 8 | (byte + 1 < n ? b[byte + 1] : 0);
	return b64_alphabet[(window >> (10 - off)) & 63];
}

/* Standard base64 of v with '=' padding. */
static int form_base64(pw_buf *out, const unsigned char *v, size_t n)
{
	size_t digits = (8 * n + 5) / 6;
	for (size_t j = 0; j < digits; j++)
		if (pw__buf_putc(out, b64_digit(v, n, j)) < 0)
			return PW_ENOMEM;
	while (out->len % 4)
		if (pw__buf_putc(out, '=') < 0)
			return PW_ENOMEM;
	return 0;
}

/* The digits of base64(k unknown bytes + v + unknown bytes) that depend on v alone. */
static int form_base64_aligned(pw_buf *out, const unsigned char *v, size_t n, size_t k)
{
	unsigned char *tmp = calloc(k + n, 1);
	if (!tmp)
		return PW_ENOMEM;
	memcpy(tmp + k, v, n);
	size_t first = (8 * k + 5) / 6, end = (8 * (k + n)) / 6;
	int rc = 0;
	for (size_t j = first; j < end && rc == 0; j++)
		rc = pw__buf_putc(out, b64_digit(tmp, k + n, j));
	free(tmp);
	return rc;
}

/* Base64 as encoders that wrap lines write it when the value is encoded on its own: `base64`
 * and MIME wrap at 76 columns, OpenSSL and PEM at 64, some with CRLF. full: the padded
 * encoding of the value alone, else only the digits it fixes (`echo "$V" | base64` also encodes
 * the newline). Within a longer encoded blob the wrap falls anywhere and is not matched. */
static int form_base64_wrapped(pw_buf *out, const unsigned char *v, size_t n, bool full, size_t width,
                               const char *eol)
{
	pw_buf line = PW_BUF_INIT(0);
	int rc = full ? form_base64(&line, v, n) : form_base64_aligned(&line, v, n, 0);
	for (size_t at = 0; rc == 0 && at < line.len; at += width) {
		size_t take = line.len - at < width ? line.len - at : width;
		if (at)
			rc = pw__buf_puts(out, eol);
		if (rc == 0)
			rc = pw__buf_append(out, line.data + at, take);
	}
	pw__buf_dispose(&line);
	return rc;
}

static bool url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* Percent-encoding of everything outside RFC 3986 unreserved and `keep` (the characters an
 * encoder leaves alone besides those: "/" for Python's quote(), "!'()*" for JavaScript's
 * encodeURIComponent); plus_for_space gives the application/x-www-form-urlencoded variant. */
static int form_url(pw_buf *out, const unsigned char *v, size_t n, bool lower_hex, bool plus_for_space,
                    const char *keep)
{
	const char *hex = lower_hex ? "0123456789abcdef" : "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		char enc[3] = {'%', hex[v[i] >> 4], hex[v[i] & 15]};
		int rc;
		if (url_unreserved(v[i]) || (v[i] && strchr(keep, v[i])))
			rc = pw__buf_putc(out, (char)v[i]);
		else if (plus_for_space && v[i] == ' ')
			rc = pw__buf_putc(out, '+');
		else
			rc = pw__buf_append(out, enc, 3);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* How a JSON encoder writes a string's body: jansson writes "\uXXXX" for other controls
 * (optionally "\/"); most others write lowercase hex; some also escape every character
 * outside ASCII (Python's json.dumps, PHP's json_encode: JSON_NON_ASCII, with UTF-16 surrogate
 * pairs above U+FFFF) or, as Go's encoding/json does, "<", ">", "&", U+2028 and U+2029
 * (JSON_HTML). */
enum { JSON_LOWER = 1, JSON_SLASH = 2, JSON_NON_ASCII = 4, JSON_HTML = 8 };

/* Not a form of this value (a JSON_NON_ASCII form of bytes that are not UTF-8). */
#define FORM_NONE 1

static int put_u_escape(pw_buf *out, uint32_t unit, const char *hex)
{
	char u[6] = {'\\',          'u', hex[unit >> 12 & 15], hex[unit >> 8 & 15], hex[unit >> 4 & 15],
	             hex[unit & 15]};
	return pw__buf_append(out, u, 6);
}

/* The code point of the valid UTF-8 sequence of len (2..4) bytes at s. */
static uint32_t utf8_code_point(const unsigned char *s, size_t len)
{
	uint32_t cp = s[0] & (0x7f >> len);
	for (size_t k = 1; k < len; k++)
		cp = cp << 6 | (s[k] & 0x3f);
	return cp;
}

static int form_json(pw_buf *out, const unsigned char *v, size_t n, int flags)
{
	const char *hex = flags & JSON_LOWER ? "0123456789abcdef" : "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];
		const char *esc = NULL;
		int rc;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '/':
			esc = flags & JSON_SLASH ? "\\/" : NULL;
			break;
		default:
			break;
		}
		if (esc) {
			rc = pw__buf_puts(out, esc);
		} else if (c < 0x20 || ((flags & JSON_HTML) && (c == '<' || c == '>' || c == '&'))) {
			rc = put_u_escape(out, c, hex);
		} else if (c >= 0x80 && (flags & (JSON_NON_ASCII | JSON_HTML))) {
			size_t len = pw__utf8_len(v + i, n - i);
			if (!len)
				return FORM_NONE;
			uint32_t cp = utf8_code_point(v + i, len);
			if (flags & JSON_NON_ASCII && cp > 0xffff) {
				rc = put_u_escape(out, 0xd800 + ((cp - 0x10000) >> 10), hex);
				if (rc == 0)
					rc = put_u_escape(out, 0xdc00 + ((cp - 0x10000) & 0x3ff), hex);
			} else if (flags & JSON_NON_ASCII || cp == 0x2028 || cp == 0x2029) {
				rc = put_u_escape(out, cp, hex);
			} else {
				rc = pw__buf_append(out, (const char *)v + i, len);
			}
			i += len - 1;
		} else {
			rc = pw__buf_putc(out, (char)c);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the set ---- */

int pw_secrets_new(pw_secrets **out)
{
	if (!out)
		return PW_EINVAL;
	*out = NULL;
	pw_secrets *s = calloc(1, sizeof(*s));
	if (!s)
		return PW_ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return PW_ENOMEM;
	}
	atomic_init(&s->generation, 0);
	*out = s;
	return 0;
}

static bool has_pattern(const pw_secrets *s, const char *data, size_t len)
{
	for (size_t i = 0; i < s->npatterns; i++)
		if (s->patterns[i].len == len && memcmp(s->patterns[i].data, data, len) == 0)
			return true;
	return false;
}

/* Takes ownership of data on success. Skips (and frees) forms that are too short or known. */
static int add_pattern(pw_secrets *s, char *data, size_t len)
{
	if (len < PW_SECRET_MIN_LENGTH || has_pattern(s, data, len)) {
		free(data);
		return 0;
	}
	if (s->npatterns == s->patterns_cap) {
		size_t cap = s->patterns_cap ? s->patterns_cap * 2 : 16;
		pattern *p = realloc(s->patterns, cap * sizeof(*p));
		if (!p)
			return PW_ENOMEM;
		s->patterns = p;
		s->patterns_cap = cap;
	}
	s->patterns[s->npatterns].data = data;
	s->patterns[s->npatterns].len = len;
	s->npatterns++;
	return 0;
}

/* The encoded forms registered with every value (a form equal to the value or to an earlier
 * form, or shorter than PW_SECRET_MIN_LENGTH, is skipped). */
enum form_how { HOW_BASE64, HOW_B64_ALIGNED, HOW_B64_WRAPPED, HOW_URL, HOW_JSON };

static const struct form {
	uint8_t how;
	uint8_t arg;      /* HOW_B64_ALIGNED: the alignment; HOW_B64_WRAPPED: 1 = padded, whole;
	                   * HOW_URL: 1 = lowercase hex, 2 = "+" for space; HOW_JSON: JSON_* */
	uint8_t width;    /* HOW_B64_WRAPPED: the line length */
	const char *text; /* HOW_B64_WRAPPED: the line end; HOW_URL: characters kept */
} forms[] = {
    {HOW_BASE64, 0, 0, NULL},
    {HOW_B64_ALIGNED, 0, 0, NULL},
    {HOW_B64_ALIGNED, 1, 0, NULL},
    {HOW_B64_ALIGNED, 2, 0, NULL},
    {HOW_B64_WRAPPED, 1, 76, "\n"},
    {HOW_B64_WRAPPED, 0, 76, "\n"},
    {HOW_B64_WRAPPED, 1, 76, "\r\n"},
    {HOW_B64_WRAPPED, 0, 76, "\r\n"},
    {HOW_B64_WRAPPED, 1, 64, "\n"},
    {HOW_B64_WRAPPED, 0, 64, "\n"},
    {HOW_B64_WRAPPED, 1, 64, "\r\n"},
    {HOW_B64_WRAPPED, 0, 64, "\r\n"},
    {HOW_URL, 0, 0, ""},
    {HOW_URL, 1, 0, ""},
    {HOW_URL, 2, 0, ""},
    {HOW_URL, 3, 0, ""},
    {HOW_URL, 0, 0, "/"},                /* Python's urllib.parse.quote() */
    {HOW_URL, 0, 0, "!'()*"},            /* JavaScript's encodeURIComponent() */
    {HOW_URL, 0, 0, "!#$&'()*+,/:;=?@"}, /* JavaScript's encodeURI() */
    {HOW_JSON, 0, 0, NULL},
    {HOW_JSON, JSON_LOWER, 0, NULL},
    {HOW_JSON, JSON_SLASH, 0, NULL},
    {HOW_JSON, JSON_SLASH | JSON_LOWER, 0, NULL},
    {HOW_JSON, JSON_NON_ASCII | JSON_LOWER, 0, NULL},              /* Python */
    {HOW_JSON, JSON_NON_ASCII, 0, NULL},                           /* Java (Jackson) */
    {HOW_JSON, JSON_NON_ASCII | JSON_SLASH | JSON_LOWER, 0, NULL}, /* PHP */
    {HOW_JSON, JSON_HTML | JSON_LOWER, 0, NULL},                   /* Go */
};

/* 0, FORM_NONE, or PW_ENOMEM. */
static int make_form(pw_buf *b, const struct form *f, const unsigned char *v, size_t n)
{
	switch (f->how) {
	case HOW_BASE64:
		return form_base64(b, v, n);
	case HOW_B64_ALIGNED:
		return form_base64_aligned(b, v, n, f->arg);
	case HOW_B64_WRAPPED:
		return form_base64_wrapped(b, v, n, f->arg, f->width, f->text);
	case HOW_URL:
		return form_url(b, v, n, f->arg & 1, f->arg & 2, f->text);
	default:
		return form_json(b, v, n, f->arg);
	}
}

/* Adds value and its forms under the lock; on failure the set is left as it was. */
static int add_locked(pw_secrets *s, const char *value, size_t n)
{
	size_t patterns_before = s->npatterns;
	int rc = 0;
	if (s->nvalues == s->values_cap) {
		size_t cap = s->values_cap ? s->values_cap * 2 : 8;
		char **p = realloc(s->values, cap * sizeof(*p));
		if (!p)
			return PW_ENOMEM;
		s->values = p;
		s->values_cap = cap;
	}
	char *copy = malloc(n + 1);
	char *raw = malloc(n + 1);
	if (!copy || !raw) {
		free(copy);
		free(raw);
		return PW_ENOMEM;
	}
	memcpy(copy, value, n + 1);
	memcpy(raw, value, n + 1);
	rc = add_pattern(s, raw, n);
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]) && rc == 0; f++) {
		pw_buf b = PW_BUF_INIT(0);
		int made = make_form(&b, &forms[f], (const unsigned char *)value, n);
		if (made < 0) {
			rc = made;
		} else if (made == 0 && !(b.len == n && memcmp(b.data, value, n) == 0)) {
			size_t len = b.len;
			char *data = pw__buf_detach(&b);
			rc = add_pattern(s, data, len);
			if (rc < 0)
				free(data);
		}
		pw__buf_dispose(&b);
	}
	if (rc < 0) {
		while (s->npatterns > patterns_before)
			free(s->patterns[--s->npatterns].data);
		free(copy);
		return rc;
	}
	s->values[s->nvalues++] = copy;
	atomic_fetch_add_explicit(&s->generation, 1, memory_order_release);
	return 0;
}

int pw_secrets_add(pw_secrets *s, const char *value, const char *label, pw_error **err)
{
	const char *sep = label ? " " : "";
	if (!label)
		label = "";
	if (!s)
		return pw_error_set(err, PW_EINVAL, "cannot register secret%s%s: no secret set", sep, label);
	if (!value)
		return pw_error_set(err, PW_EINVAL, "secret%s%s has no value", sep, label);
	size_t n = strlen(value);
	if (n < PW_SECRET_MIN_LENGTH)
		return pw_error_set(err, PW_EINVAL,
		                    "secret%s%s is shorter than %d characters; masking it would hide "
		                    "ordinary text \xe2\x80\x94 use a longer value",
		                    sep, label, PW_SECRET_MIN_LENGTH);

	pthread_mutex_lock(&s->lock);
	int rc = 0;
	bool known = false;
	for (size_t i = 0; i < s->nvalues && !known; i++)
		known = strcmp(s->values[i], value) == 0;
	if (!known)
		rc = add_locked(s, value, n);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		return pw_error_set(err, rc, "out of memory while registering secret%s%s", sep, label);
	return 0;
}

size_t pw_secrets_count(const pw_secrets *s)
{
	if (!s)
		return 0;
	pw_secrets *m = (pw_secrets *)s; /* the lock is not part of the value */
	pthread_mutex_lock(&m->lock);
	size_t n = m->nvalues;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* A reference to the automaton for the current set, (re)built here when secrets were added
 * since the last build. Caller releases with dfa_release. */
static int secrets_acquire(pw_secrets *s, mask_dfa **out, uint64_t *out_generation)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	uint64_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	if (!s->dfa || s->dfa_generation != gen) {
		mask_dfa *d = NULL;
		rc = dfa_build(&d, s->patterns, s->npatterns);
		if (rc == 0) {
			dfa_release(s->dfa);
			s->dfa = d;
			s->dfa_generation = gen;
		}
	}
	if (rc == 0) {
		atomic_fetch_add_explicit(&s->dfa->refs, 1, memory_order_relaxed);
		*out = s->dfa;
		*out_generation = s->dfa_generation;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void pw_secrets_free(pw_secrets *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nvalues; i++)
		free(s->values[i]);
	free(s->values);
	for (size_t i = 0; i < s->npatterns; i++)
		free(s->patterns[i].data);
	free(s->patterns);
	dfa_release(s->dfa);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- the masker (one-shot and streaming share it) ---- */

static void add_range(pw_mask_stream *ms, uint64_t start, uint64_t end)
{
	mask_range *r = ms->ranges;
	size_t n = ms->nranges;
	size_t hi = n;
	while (hi > 0 && r[hi - 1].start > end)
		hi--;
	size_t lo = hi;
	while (lo > 0 && r[lo - 1].end >= start)
		lo--;
	if (lo < hi) { /* overlaps or touches r[lo .. hi): merge them all */
		r[lo].start = start < r[lo].start ? start : r[lo].start;
		r[lo].end = end > r[hi - 1].end ? end : r[hi - 1].end;
		memmove(r + lo + 1, r + hi, (n - hi) * sizeof(*r));
		ms->nranges = n - (hi - lo - 1);
		return;
	}
	if (n == ms->ranges_cap) {
		/* Cannot happen with the capacity chosen in stream_set_dfa; mask too much rather than
		 * too little if it ever did. */
		r[0].start = start < r[0].start ? start : r[0].start;
		r[0].end = end > r[n - 1].end ? end : r[n - 1].end;
		ms->nranges = 1;
		return;
	}
	memmove(r + lo + 1, r + lo, (n - lo) * sizeof(*r));
	r[lo].start = start;
	r[lo].end = end;
	ms->nranges = n + 1;
}

static void emit_plain(pw_mask_stream *ms, uint64_t from, uint64_t to)
{
	if (from < ms->cur_base) {
		uint64_t stop = to < ms->cur_base ? to : ms->cur_base;
		ms->emit(ms->hold + (from - ms->hold_base), (size_t)(stop - from), ms->payload);
		from = stop;
	}
	if (from < to)
		ms->emit(ms->cur + (from - ms->cur_base), (size_t)(to - from), ms->payload);
	ms->last_masked = false;
}

/* Emits bytes [done, upto): plain bytes as they are, each maximal masked run as one mask. */
static void emit_upto(pw_mask_stream *ms, uint64_t upto)
{
	if (upto <= ms->done)
		return;
	uint64_t at = ms->done;
	size_t k = 0;
	while (k < ms->nranges && ms->ranges[k].start < upto) {
		mask_range *r = &ms->ranges[k];
		if (r->start > at) {
			emit_plain(ms, at, r->start);
			at = r->start;
		}
		uint64_t stop = r->end < upto ? r->end : upto;
		if (stop > at) {
			if (!ms->last_masked)
				ms->emit(PW_SECRET_MASK, sizeof(PW_SECRET_MASK) - 1, ms->payload);
			ms->last_masked = true;
			at = stop;
		}
		if (r->end > upto)
			break;
		k++;
	}
	if (at < upto)
		emit_plain(ms, at, upto);
	memmove(ms->ranges, ms->ranges + k, (ms->nranges - k) * sizeof(mask_range));
	ms->nranges -= k;
	ms->done = upto;
}

static void on_match(pw_mask_stream *ms, uint64_t end, uint32_t state)
{
	const mask_dfa *d = ms->dfa;
	add_range(ms, end - d->match[state], end);
	/* Nothing before end - depth can be part of a later match: it is final. */
	if (ms->nranges >= PENDING_EMIT_AT)
		emit_upto(ms, end - d->depth[state]);
}

/* Runs the automaton over p[0..len), the bytes at absolute positions base.. */
static void scan(pw_mask_stream *ms, const unsigned char *p, size_t len, uint64_t base)
{
	const mask_dfa *d = ms->dfa;
	const uint32_t *next = d->next;
	const uint8_t *cls = d->classes;
	const uint32_t ncls = d->nclasses;
	const uint8_t *stay = d->start_stay;
#if defined(__SSE2__)
	__m128i want[START_FEW];
	int nwant = d->nstart <= START_FEW ? d->nstart : -1;
	for (int k = 0; k < nwant; k++)
		want[k] = _mm_set1_epi8((char)d->start_bytes[k]);
	__m128i pre[PREFIX_FEW][3];
	int npre = d->nprefix <= PREFIX_FEW ? d->nprefix : -1;
	for (int k = 0; k < npre; k++)
		for (int j = 0; j < 3; j++)
			pre[k][j] = _mm_set1_epi8((char)d->prefix[k][j]);
#endif
	uint32_t t = ms->state;
	size_t i = 0;
	while (i < len) {
		if (t == 0) {
			/* In the start state most bytes (all, in text that holds no secret) lead back to
			 * it: they are skipped without walking the automaton, whose every step waits for
			 * the one before (two dependent loads a byte). When only a few bytes can start a
			 * pattern, they are looked for 16 at a time. */
#if defined(__SSE2__)
			if (npre >= 0) {
				/* a position is a candidate when it and the next two bytes begin a pattern */
				while (i + 18 <= len) {
					__m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
					__m128i x1 =
					    _mm_loadu_si128((const __m128i *)(const void *)(p + i + 1));
					__m128i x2 =
					    _mm_loadu_si128((const __m128i *)(const void *)(p + i + 2));
					__m128i hit = _mm_setzero_si128();
					for (int k = 0; k < npre; k++)
						hit = _mm_or_si128(
						    hit, _mm_and_si128(
						             _mm_and_si128(_mm_cmpeq_epi8(x0, pre[k][0]),
						                           _mm_cmpeq_epi8(x1, pre[k][1])),
						             _mm_cmpeq_epi8(x2, pre[k][2])));
					unsigned m = (unsigned)_mm_movemask_epi8(hit);
					if (m) {
						i += (size_t)__builtin_ctz(m);
						break;
					}
					i += 16;
				}
			}
			if (nwant >= 0) {
				while (i + 16 <= len) {
					__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
					__m128i hit = _mm_setzero_si128();
					for (int k = 0; k < nwant; k++)
						hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, want[k]));
					unsigned m = (unsigned)_mm_movemask_epi8(hit);
					if (m) {
						i += (size_t)__builtin_ctz(m);
						break;
					}
					i += 16;
				}
			}
#endif
			while (i < len && stay[p[i]])
				i++;
			if (i == len)
				break;
		}
		if (t < d->ndense) {
			uint32_t st = t * ncls, e = 0;
			int restart = 0;
			for (; i < len; i++) {
				e = next[st + cls[p[i]]];
				if (e & DFA_SLOW)
					break;
				st = e;
				if (st == 0) { /* back at the start: skip again */
					restart = 1;
					i++;
					break;
				}
			}
			if (restart) {
				t = 0;
				continue;
			}
			if (i == len) {
				t = st / ncls;
				break;
			}
			t = e & ~DFA_SLOW;
		} else {
			t = dfa_sparse_step(d, t, cls[p[i]]);
		}
		i++;
		if (d->match[t])
			on_match(ms, base + i, t);
	}
	ms->state = t;
}

/* Makes d (a reference, taken over) the stream's automaton. The held bytes are scanned again
 * from the start state: the new automaton knows more patterns. */
static int stream_set_dfa(pw_mask_stream *ms, mask_dfa *d, uint64_t generation)
{
	size_t hold_cap = d->max_len > ms->hold_len ? d->max_len : ms->hold_len;
	size_t ranges_cap = d->max_len / 4 + 2 * PENDING_EMIT_AT;
	if (ranges_cap < ms->nranges + PENDING_EMIT_AT)
		ranges_cap = ms->nranges + PENDING_EMIT_AT;
	if (hold_cap > ms->hold_cap) {
		char *h = realloc(ms->hold, hold_cap);
		if (!h)
			return PW_ENOMEM;
		ms->hold = h;
		ms->hold_cap = hold_cap;
	}
	if (ranges_cap > ms->ranges_cap) {
		mask_range *r = realloc(ms->ranges, ranges_cap * sizeof(*r));
		if (!r)
			return PW_ENOMEM;
		ms->ranges = r;
		ms->ranges_cap = ranges_cap;
	}
	dfa_release(ms->dfa);
	ms->dfa = d;
	ms->generation = generation;
	ms->state = 0;
	ms->cur = NULL;
	ms->cur_base = ms->pos;
	uint64_t from = ms->done;
	if (ms->pos > from)
		scan(ms, (const unsigned char *)ms->hold + (from - ms->hold_base), (size_t)(ms->pos - from),
		     from);
	return 0;
}

/* Keeps the bytes not emitted yet ([done, pos)) in the hold buffer for the next write. */
static void keep_tail(pw_mask_stream *ms, size_t len)
{
	uint64_t keep = ms->pos - ms->done;
	if (keep > ms->hold_cap) { /* cannot happen: keep <= depth <= max_len <= hold_cap */
		emit_upto(ms, ms->pos - ms->hold_cap);
		keep = ms->pos - ms->done;
	}
	if (keep == 0) {
		/* nothing held */
	} else if (ms->done >= ms->cur_base) {
		memcpy(ms->hold, ms->cur + (ms->done - ms->cur_base), (size_t)keep);
	} else {
		size_t from_hold = (size_t)(ms->cur_base - ms->done);
		memmove(ms->hold, ms->hold + (ms->done - ms->hold_base), from_hold);
		memcpy(ms->hold + from_hold, ms->cur, len);
	}
	ms->hold_base = ms->done;
	ms->hold_len = (size_t)keep;
	ms->cur = NULL;
	ms->cur_base = ms->pos;
}

/* Without an automaton nothing can be checked: withhold the data (fail closed). */
static void stream_withhold(pw_mask_stream *ms, size_t len)
{
	if (!ms->last_masked)
		ms->emit(PW_SECRET_MASK, sizeof(PW_SECRET_MASK) - 1, ms->payload);
	ms->last_masked = true;
	ms->pos += len;
	ms->done = ms->hold_base = ms->cur_base = ms->pos;
	ms->hold_len = 0;
	ms->nranges = 0;
	ms->state = 0;
}

int pw_mask_stream_new(pw_mask_stream **out, pw_secrets *s, pw_mask_emit_fn emit, void *payload)
{
	if (!out)
		return PW_EINVAL;
	*out = NULL;
	if (!s || !emit)
		return PW_EINVAL;
	pw_mask_stream *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return PW_ENOMEM;
	ms->secrets = s;
	ms->emit = emit;
	ms->payload = payload;
	mask_dfa *d = NULL;
	uint64_t gen = 0;
	int rc = secrets_acquire(s, &d, &gen);
	if (rc == 0) {
		rc = stream_set_dfa(ms, d, gen);
		if (rc < 0)
			dfa_release(d);
	}
	if (rc < 0) {
		pw_mask_stream_free(ms);
		return rc;
	}
	*out = ms;
	return 0;
}

void pw_mask_stream_write(pw_mask_stream *ms, const char *data, size_t len)
{
	if (!ms || !data || len == 0)
		return;
	uint64_t gen = atomic_load_explicit(&ms->secrets->generation, memory_order_acquire);
	if (!ms->dfa || gen != ms->generation) {
		mask_dfa *d = NULL;
		int rc = secrets_acquire(ms->secrets, &d, &gen);
		if (rc == 0) {
			rc = stream_set_dfa(ms, d, gen);
			if (rc < 0)
				dfa_release(d);
		}
		if (rc < 0) {
			dfa_release(ms->dfa);
			ms->dfa = NULL;
			stream_withhold(ms, len);
			return;
		}
	}
	if (ms->dfa->max_len == 0 && ms->nranges == 0 && ms->done == ms->pos) {
		ms->emit(data, len, ms->payload);
		ms->last_masked = false;
		ms->pos += len;
		ms->done = ms->hold_base = ms->cur_base = ms->pos;
		return;
	}
	ms->cur = data;
	ms->cur_base = ms->pos;
	scan(ms, (const unsigned char *)data, len, ms->pos);
	ms->pos += len;
	emit_upto(ms, ms->pos - ms->dfa->depth[ms->state]);
	keep_tail(ms, len);
}

void pw_mask_stream_flush(pw_mask_stream *ms)
{
	if (!ms)
		return;
	emit_upto(ms, ms->pos);
	ms->hold_base = ms->cur_base = ms->pos;
	ms->hold_len = 0;
	ms->nranges = 0;
	ms->state = 0;
}

void pw_mask_stream_free(pw_mask_stream *ms)
{
	if (!ms)
		return;
	pw_mask_stream_flush(ms);
	dfa_release(ms->dfa);
	free(ms->hold);
	free(ms->ranges);
	free(ms);
}

/* One-shot output: at most the input's length (every masked run is at least
 * PW_SECRET_MIN_LENGTH bytes and becomes a shorter mask). */
typedef struct out_text {
	char *data;
	size_t len, cap;
	bool failed;
} out_text;

static void out_text_emit(const char *data, size_t len, void *payload)
{
	out_text *o = payload;
	if (o->failed)
		return;
	if (o->len + len + 1 > o->cap) {
		size_t cap = (o->len + len + 1) * 2;
		char *p = realloc(o->data, cap);
		if (!p) {
			o->failed = true;
			return;
		}
		o->data = p;
		o->cap = cap;
	}
	memcpy(o->data + o->len, data, len);
	o->len += len;
}

char *pw_secrets_mask(const pw_secrets *s, const char *text, size_t len)
{
	return pw__secrets_mask_len(s, text, len, NULL);
}

char *pw__secrets_mask_len(const pw_secrets *s, const char *text, size_t len, size_t *out_len)
{
	if (out_len)
		*out_len = 0;
	if (!text)
		len = 0;
	out_text o = {malloc(len + 1), 0, len + 1, false};
	if (!o.data)
		return NULL;
	int none = !s;
	if (s && len) { /* no secret at all (most pipelines): a copy, without the scan */
		pthread_mutex_lock(&((pw_secrets *)s)->lock);
		none = s->npatterns == 0;
		pthread_mutex_unlock(&((pw_secrets *)s)->lock);
	}
	if (none || len == 0) {
		if (len)
			memcpy(o.data, text, len);
		o.data[len] = '\0';
		if (out_len)
			*out_len = len;
		return o.data;
	}
	pw_mask_stream ms;
	memset(&ms, 0, sizeof(ms));
	uint64_t gen;
	if (secrets_acquire((pw_secrets *)s, &ms.dfa, &gen) < 0) {
		free(o.data);
		return NULL;
	}
	ms.ranges_cap = ms.dfa->max_len / 4 + 2 * PENDING_EMIT_AT;
	ms.ranges = malloc(ms.ranges_cap * sizeof(mask_range));
	if (!ms.ranges) {
		dfa_release(ms.dfa);
		free(o.data);
		return NULL;
	}
	ms.emit = out_text_emit;
	ms.payload = &o;
	ms.cur = text;
	scan(&ms, (const unsigned char *)text, len, 0);
	ms.pos = len;
	emit_upto(&ms, len);
	free(ms.ranges);
	dfa_release(ms.dfa);
	if (o.failed) {
		free(o.data);
		return NULL;
	}
	o.data[o.len] = '\0';
	if (out_len)
		*out_len = o.len;
	return o.data;
}

char *pw_secrets_mask_str(const pw_secrets *s, const char *text)
{
	return text ? pw_secrets_mask(s, text, strlen(text)) : NULL;
}
