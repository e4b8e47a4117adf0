/* Fuzz target: the Kubernetes name, label and quantity validators and the label-value
 * sanitiser (src/connectors/kubernetes/validation.c, yaml_generator.c), and the config
 * validator when the input is a JSON object. Properties: what the DNS-1123 label check accepts
 * is one (length, alphabet, ends); the sanitiser always yields a valid label value; a parsed
 * quantity is a number. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "connectors/kubernetes/k8s.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	FUZZ_ASSERT(s != NULL);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	size_t len = strlen(s);
	if (pw__k8s_is_dns_label(s, PW_K8S_LABEL_MAX)) {
		FUZZ_ASSERT(len >= 1 && len <= PW_K8S_LABEL_MAX);
		for (size_t i = 0; i < len; i++)
			FUZZ_ASSERT(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			            s[i] == '-');
		FUZZ_ASSERT(s[0] != '-' && s[len - 1] != '-');
	}
	if (pw__k8s_is_dns_subdomain(s))
		FUZZ_ASSERT(len >= 1 && len <= PW_K8S_SUBDOMAIN_MAX);
	if (pw__k8s_is_label_value(s))
		FUZZ_ASSERT(len <= PW_K8S_LABEL_MAX);
	(void)pw__k8s_is_label_key(s);
	(void)pw__k8s_is_image_ref(s);
	double q = 0;
	if (pw__k8s_parse_quantity(&q, s) == 0)
		FUZZ_ASSERT(!isnan(q));
	char lv[PW_K8S_LABEL_MAX + 1];
	pw__k8s_label_value(lv, sizeof(lv), s);
	FUZZ_ASSERT(pw__k8s_is_label_value(lv));
	char small[8];
	pw__k8s_label_value(small, sizeof(small), s);
	FUZZ_ASSERT(strlen(small) < sizeof(small) && pw__k8s_is_label_value(small));
	json_t *cfg = json_loadb((const char *)data, size, 0, NULL);
	if (json_is_object(cfg)) {
		pw_error *e = NULL;
		(void)pw__k8s_validate_config(cfg, "step", &e);
		pw_error_free(e);
	}
	json_decref(cfg);
	free(s);
	return 0;
}
