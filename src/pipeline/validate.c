/* `pipewright validate` and `plan`: checks beyond loading (connector types, secrets, each
 * connector's validate_config) and the dry run, executing nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/internal.h"
#include "pipeline/pipeline.h"
#include "pipewright/connector.h"

static void add_error(pw_error **err, pw_error *e)
{
	if (!err || !e) {
		pw_error_free(e);
		return;
	}
	if (!*err)
		*err = e;
	else
		pw_error_append(*err, e);
}

/* Secrets are read from the host environment; each must be set and long enough. */
static int check_secrets(const pw_pipeline *p, pw_secrets *into, pw_error **err)
{
	int rc = 0;
	for (size_t i = 0; i < p->secrets_count; i++) {
		const pw_secret_ref *ref = &p->secrets[i];
		const char *value = getenv(ref->name);
		pw_error *e = NULL;
		if (!value) {
			e = pw_error_new(PW_EVALIDATION, "secret '%s' is not set in the environment",
			                 ref->name);
			pw_buf h = PW_BUF_INIT(0);
			pw__buf_printf(&h,
			               "export %s before running pipewright, or remove it from `secrets:`",
			               ref->name);
			pw_error_set_hint(e, pw__buf_cstr(&h));
			pw__buf_dispose(&h);
		} else if (into) {
			pw_secrets_add(into, value, ref->name, &e);
		} else if (strlen(value) < PW_SECRET_MIN_LENGTH) {
			e = pw_error_new(PW_EVALIDATION, "secret '%s' is shorter than %d characters",
			                 ref->name, PW_SECRET_MIN_LENGTH);
		}
		if (e) {
			/* unset secrets carry their own hint; what pw_secrets_add refuses is a value too
			 * short to mask */
			if (!pw_error_hint(e) && pw_error_code(e) != PW_ENOMEM)
				pw_error_set_hint(e, "use a longer value: masking a very short secret would "
				                     "hide ordinary text");
			pw_error_set_location(e, p->path, ref->line, ref->column);
			add_error(err, e);
			rc = PW_EVALIDATION;
		}
	}
	return rc;
}

/* Places an error about the step's connector type at its `step_type` (the step when the type
 * was inferred). */
static void locate_type(const pw_step *s, pw_error *e)
{
	if (!s->file || pw_error_file(e))
		return;
	const pw_loc *l = pw__step_find_loc(s, "step_type");
	pw_error_set_location(e, s->file, l ? l->line : s->line, l ? l->column : s->column);
}

int pw__pipeline_load_secrets(const pw_pipeline *p, pw_secrets *into, pw_error **err)
{
	return check_secrets(p, into, err);
}

void pw__pipeline_mask_errors(const pw_pipeline *p, pw_error *e)
{
	if (!e || !p->secrets_count)
		return;
	pw_secrets *s = NULL;
	if (pw_secrets_new(&s) < 0)
		return;
	pw_error *serr = NULL;
	check_secrets(p, s, &serr); /* an unset or refused secret has nothing to mask */
	pw_error_free(serr);
	pw__error_mask(e, s);
	pw_secrets_free(s);
}

int pw_pipeline_validate(pw_pipeline *p, pw_manager *m, pw_error **err)
{
	int rc = check_secrets(p, NULL, err);
	for (size_t i = 0; i < p->steps_count; i++) {
		pw_step *s = p->steps[i];
		pw_error *e = NULL;
		char *type = NULL;
		pw_connector *c = NULL;
		int src = pw_manager_determine_connector_type(&type, m, s, &e);
		if (src == 0)
			src = pw_manager_get_connector(&c, m, type, &e);
		if (src == 0) {
			src = pw_connector_validate_config(c, s, &e);
			if (src == PW_ENOTFOUND && e && !pw_error_key(e))
				locate_type(s, e); /* custom:NAME with neither plug-in nor program */
			if (src < 0 && e && !pw_error_operation(e)) {
				pw_buf op = PW_BUF_INIT(0);
				pw__buf_printf(&op, "validating step '%s' (%s)", s->name, type);
				pw_error_set_operation(e, pw__buf_cstr(&op));
				pw__buf_dispose(&op);
			}
		} else if (e) {
			locate_type(s, e);
		}
		if (src < 0) {
			if (!e)
				e = pw_error_new(src, "step '%s' is not valid", s->name);
			for (pw_error *cur = e; cur; cur = (pw_error *)pw_error_next(cur))
				pw__step_locate_error(s, cur);
			add_error(err, e);
			rc = src;
		}
		free(type);
	}
	if (err)
		pw__pipeline_mask_errors(p, *err);
	return rc;
}

int pw_pipeline_plan(char **out, pw_pipeline *p, pw_manager *m, const char *workspace, pw_error **err)
{
	*out = NULL;
	pw_secrets *secrets = NULL;
	if (pw_secrets_new(&secrets) < 0)
		return PW_ENOMEM;
	pw_error *serr = NULL;
	check_secrets(p, secrets, &serr); /* unset secrets only weaken masking; validate reports them */
	pw_error_free(serr);
	pw_workspace *ws = NULL;
	int rc = pw_workspace_new(&ws, workspace ? workspace : p->dir, "plan", NULL, err);
	if (rc < 0) {
		pw_secrets_free(secrets);
		return rc;
	}
	pw_buf b = PW_BUF_INIT(0);
	pw__buf_printf(&b, "pipeline %s (%zu steps), workspace %s\n", p->name ? p->name : p->path,
	               p->steps_count, pw_workspace_root(ws));
	for (size_t i = 0; i < p->steps_count && rc == 0; i++) {
		pw_step *s = p->steps[i];
		char *type = NULL;
		pw_connector *c = NULL;
		rc = pw_manager_determine_connector_type(&type, m, s, err);
		if (rc == 0)
			rc = pw_manager_get_connector(&c, m, type, err);
		if (rc < 0) {
			free(type);
			break;
		}
		char num[32];
		snprintf(num, sizeof(num), "\n[%zu] ", i + 1);
		pw__buf_puts(&b, num);
		pw__buf_puts(&b, s->name);
		pw__buf_puts(&b, " (");
		pw__buf_puts(&b, type);
		pw__buf_putc(&b, ')');
		if (s->needs_count) {
			pw__buf_puts(&b, " after ");
			for (size_t n = 0; n < s->needs_count; n++) {
				if (n)
					pw__buf_puts(&b, ", ");
				pw__buf_puts(&b, s->needs[n]);
			}
		}
		/* whole seconds (nearly always) without the cost of %g */
		if (s->timeout >= 0 && s->timeout < 1e9 && s->timeout == (double)(long)s->timeout)
			pw__buf_printf(&b, "; timeout %lds", (long)s->timeout);
		else
			pw__buf_printf(&b, "; timeout %gs", s->timeout);
		if (s->retries)
			pw__buf_printf(&b, "; retries %u", s->retries);
		if (s->when != PW_WHEN_ON_SUCCESS)
			pw__buf_printf(&b, "; when %s", s->when == PW_WHEN_ALWAYS ? "always" : "on_failure");
		if (s->allow_failure)
			pw__buf_puts(&b, "; failure allowed");
		pw__buf_puts(&b, "\n");
		pw_map *env = pw_map_dup(p->env);
		pw_map_merge(env, s->env);
		for (size_t k = 0; k < p->secrets_count; k++)
			pw_map_set(env, p->secrets[k].name, getenv(p->secrets[k].name));
		char *text = NULL;
		rc = pw_connector_plan(&text, c, s, ws, env, err);
		pw_map_free(env);
		if (rc == 0 && text) {
			/* indent the connector's description under the step */
			for (const char *line = text; *line;) {
				size_t n = strcspn(line, "\n");
				pw__buf_puts(&b, "    ");
				pw__buf_append(&b, line, n);
				pw__buf_puts(&b, "\n");
				line += n;
				if (*line == '\n')
					line++;
			}
		}
		pw_free(text);
		free(type);
	}
	pw_workspace_free(ws);
	if (rc == 0)
		*out = pw_secrets_mask_str(secrets, pw__buf_cstr(&b));
	else if (err)
		pw__error_mask(*err, secrets); /* a connector's plan error may quote a secret */
	pw__buf_dispose(&b);
	pw_secrets_free(secrets);
	return rc;
}
