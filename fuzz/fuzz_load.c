/* Fuzz target: the pipeline loader on arbitrary bytes. It must load or fail with an error
 * chain (each error with a message), never crash, leak or run without bound. What loads is
 * also validated and planned (what `pipewright validate` and `plan` do; neither executes
 * anything), with one manager for all inputs, as the CLI has one for a run. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pipewright/manager.h"
#include "pipewright/pipeline.h"

static pw_manager *manager;

static void free_manager(void)
{
	pw_manager_free(manager);
}

static void check_error_chain(const pw_error *err)
{
	for (const pw_error *e = err; e; e = pw_error_next(e))
		FUZZ_ASSERT(pw_error_message(e) != NULL && pw_error_message(e)[0] != '\0');
}

/* validate and plan: 0, or an error chain whose every error has a message */
static void validate_and_plan(pw_pipeline *p)
{
	if (!manager) {
		FUZZ_ASSERT(pw_manager_new(&manager, NULL, NULL) == 0);
		atexit(free_manager);
	}
	pw_error *err = NULL;
	int rc = pw_pipeline_validate(p, manager, &err);
	FUZZ_ASSERT(rc <= 0 && (rc == 0) == (err == NULL));
	check_error_chain(err);
	pw_error_free(err);
	err = NULL;
	char *text = NULL;
	rc = pw_pipeline_plan(&text, p, manager, "/", &err);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0)
		FUZZ_ASSERT(text != NULL && strncmp(text, "pipeline ", 9) == 0);
	else
		check_error_chain(err);
	pw_free(text);
	pw_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pw_pipeline *p = NULL;
	pw_error *err = NULL;
	int rc = pw_pipeline_load_string(&p, (const char *)data, size, "fuzz.yml", &err);
	if (rc == 0) {
		FUZZ_ASSERT(p != NULL);
		FUZZ_ASSERT(err == NULL);
		/* walk what was loaded: every getter on every step */
		(void)pw_pipeline_name(p);
		(void)pw_pipeline_env(p);
		for (size_t i = 0; i < pw_pipeline_secret_count(p); i++)
			FUZZ_ASSERT(pw_pipeline_secret_at(p, i) != NULL);
		for (size_t i = 0; i < pw_pipeline_step_count(p); i++) {
			pw_step *s = pw_pipeline_step_at(p, i);
			FUZZ_ASSERT(s != NULL);
			const char *name = pw_step_name(s);
			FUZZ_ASSERT(name != NULL);
			FUZZ_ASSERT(pw_pipeline_find_step(p, name) == (long)i);
			for (size_t j = 0; j < pw_step_needs_count(s); j++)
				FUZZ_ASSERT(pw_pipeline_find_step(p, pw_step_need_at(s, j)) >= 0);
		}
		validate_and_plan(p);
		pw_pipeline_free(p);
	} else {
		FUZZ_ASSERT(rc < 0);
		FUZZ_ASSERT(p == NULL);
		FUZZ_ASSERT(err != NULL);
		check_error_chain(err);
		char *text = pw_error_format(err, 0);
		FUZZ_ASSERT(text != NULL);
		pw_free(text);
		pw_error_free(err);
	}
	return 0;
}
