/* Libraries loaded on first use rather than linked: libcurl (net/curl_api.h), libcrypto
 * (auth/crypto_api.h) and libarchive (core/archive_api.h). Linked, each was loaded and
 * relocated at every start of the program with its whole dependency tree (libarchive alone
 * brings libxml2, ICU and the C++ runtime) -- most of the start-up of a run that needs none of
 * them. */
#ifndef PW_CORE_DL_H
#define PW_CORE_DL_H

#include <stddef.h>

typedef struct pw_dl_sym {
	void **slot;
	const char *name;
} pw_dl_sym;

/* dlopens soname (RTLD_NOW | RTLD_LOCAL) and fills every slot with its symbol. Returns 0, or -1
 * with the reason in failure[0..cap) (dlerror's text, or the missing symbol and `needs`, e.g.
 * "libcurl 7.66 or newer is needed"). The library stays loaded for the process. */
int pw__dl_load(const char *soname, const pw_dl_sym *syms, size_t n, const char *needs, char *failure,
                size_t cap);

/* The symbol name a function-like name expands to (OpenSSL 3 renames some with macros). */
#define PW_DL_NAME(f) PW_DL_NAME_(f)
#define PW_DL_NAME_(f) #f

#endif
