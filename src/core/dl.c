/* Loading a library on first use (see dl.h). */
#include <dlfcn.h>
#include <stdio.h>

#include "core/dl.h"

int pw__dl_load(const char *soname, const pw_dl_sym *syms, size_t n, const char *needs, char *failure,
                size_t cap)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *why = dlerror();
		snprintf(failure, cap, "%s", why ? why : "not found");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(failure, cap, "%s has no %s (%s)", soname, syms[i].name, needs);
			return -1; /* stays loaded: nothing of it runs */
		}
	}
	return 0;
}
