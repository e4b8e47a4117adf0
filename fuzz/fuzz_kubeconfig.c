/* Fuzz target: the kubeconfig parser (src/auth/kubeconfig.c): the YAML-to-JSON reader on the
 * input, then the whole loader on the input written to a file (contexts, clusters, users,
 * inline certificates, exec and token settings). Properties: no crash or leak; a loaded
 * access names a server and a context. Exec plugins are never run by loading. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/kubeconfig.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL;
	pw_error *e = NULL;
	if (pw__yaml_to_json(&doc, (const char *)data, size, "kubeconfig", &e) == 0)
		FUZZ_ASSERT(doc != NULL);
	json_decref(doc);
	pw_error_free(e);
	e = NULL;
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/pw-fuzz-kubeconfig-%ld", (long)getpid());
	FILE *f = fopen(path, "w");
	FUZZ_ASSERT(f != NULL);
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	pw_kube_access *a = NULL;
	if (pw__kube_access_load(&a, path, NULL, &e) == 0) {
		FUZZ_ASSERT(a != NULL && a->server != NULL && a->context != NULL);
		pw__kube_access_free(a);
	}
	pw_error_free(e);
	unlink(path);
	return 0;
}
