/* The reports `pipewright run --report FMT=FILE` (or the pipeline's `reports:` section)
 * writes when the run ends, and the log tails of failed steps after the live board. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static void print_err(pw_error *e)
{
	cli_print_error(e, NULL);
	pw_error_free(e);
}

int cli_report_targets(pw_report_target **out, size_t *count, const pw_pipeline *p, const char *workspace,
                       const char *const cli_paths[4])
{
	pw_error *e = NULL;
	pw_report_target *t = NULL;
	size_t n = 0;
	if (pw_report_targets_from_pipeline(&t, &n, p, workspace, &e) < 0) {
		print_err(e);
		return EXIT_INVALID;
	}
	pw_report_target *all = calloc(n + 3, sizeof(*all));
	if (!all) {
		pw_report_targets_free(t, n);
		return EXIT_INVALID;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (cli_paths[t[i].format]) {
			free(t[i].path);
			continue;
		}
		all[k++] = t[i];
	}
	free(t);
	for (int f = PW_REPORT_JUNIT; f <= PW_REPORT_HTML; f++) {
		if (!cli_paths[f])
			continue;
		all[k].format = (pw_report_format)f;
		all[k].path = strdup(cli_paths[f]);
		if (all[k].path)
			k++;
	}
	/* a target that is a directory would fail only once the steps have run */
	for (size_t i = 0; i < k; i++) {
		struct stat st;
		if (stat(all[i].path, &st) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "pipewright run: the %s report's file %s is a directory\n",
			        pw_report_format_name(all[i].format), all[i].path);
			pw_report_targets_free(all, k);
			return EXIT_USAGE;
		}
	}
	*out = all;
	*count = k;
	return EXIT_OK;
}

int cli_write_reports(const pw_run *run, const pw_report_target *targets, size_t count, FILE *out)
{
	if (!count)
		return EXIT_OK;
	pw_report *rep = NULL;
	pw_error *e = NULL;
	if (pw_report_from_run(&rep, run, &e) < 0) {
		print_err(e);
		return EXIT_ERROR;
	}
	int rc = EXIT_OK;
	for (size_t i = 0; i < count; i++) {
		if (pw_report_write(rep, targets[i].format, targets[i].path, &e) < 0) {
			print_err(e);
			e = NULL;
			rc = EXIT_ERROR;
			continue;
		}
		fprintf(out, "%s report: %s\n", pw_report_format_name(targets[i].format), targets[i].path);
	}
	pw_report_free(rep);
	return rc;
}

void cli_print_failed_tails(const pw_run *run, FILE *out, int lines)
{
	pw_report *rep = NULL;
	pw_error *e = NULL;
	if (pw_report_from_run(&rep, run, &e) < 0) {
		pw_error_free(e);
		return;
	}
	for (size_t i = 0; i < pw_report_step_count(rep); i++) {
		const char *st = pw_report_step_status(rep, i);
		if ((strcmp(st, "failed") && strcmp(st, "timed_out")) || pw_report_step_allowed(rep, i))
			continue;
		char *log = NULL;
		size_t len = 0;
		if (pw_report_step_log(&log, &len, rep, i, &e) < 0 || !log || !len) {
			pw_error_free(e);
			e = NULL;
			pw_free(log);
			continue;
		}
		size_t end = len, start = len;
		if (log[end - 1] == '\n')
			end--;
		int n = 0;
		start = end;
		while (start > 0 && !(log[start - 1] == '\n' && ++n >= lines))
			start--;
		fprintf(out, "\n--- %s %s; the end of its log:\n", pw_report_step_name(rep, i), st);
		fwrite(log + start, 1, end - start, out);
		fputc('\n', out);
		pw_free(log);
	}
	pw_report_free(rep);
}
