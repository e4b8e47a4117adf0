/* `pipewright runs`, `pipewright logs RUN [STEP]` and `pipewright report RUN`: past runs,
 * read from the run directories under <workspace>/.pipewright/runs/. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipewright.h"
#include "pipeline/gc.h"
#include "pipewright/report.h"

static void print_err(const char *cmd, pw_error *e)
{
	for (const pw_error *x = e; x; x = pw_error_next(x)) {
		char *text = pw_error_format(x, 0);
		fprintf(stderr, "pipewright %s: %s\n", cmd, text ? text : pw_error_message(x));
		pw_free(text);
	}
	pw_error_free(e);
}

static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The workspace: -w DIR, else the nearest of the current directory and its parents that
 * has .pipewright/runs (like git finding .git), else the current directory. */
/* The workspace given (-w) or the nearest with .pipewright/runs; -1 (said) when a given one
 * is not a directory. */
static int find_workspace(char *out, size_t size, const char *given)
{
	if (given) {
		snprintf(out, size, "%s", given);
		if (is_dir(given))
			return 0;
		fprintf(stderr, "pipewright: workspace %s: %s\n", given,
		        access(given, F_OK) == 0 ? "not a directory" : strerror(errno));
		return -1;
	}
	char dir[PATH_MAX];
	if (!getcwd(dir, sizeof(dir))) {
		snprintf(out, size, ".");
		return 0;
	}
	snprintf(out, size, "%s", dir);
	for (;;) {
		char probe[PATH_MAX + 32];
		snprintf(probe, sizeof(probe), "%s/.pipewright/runs", dir);
		if (is_dir(probe)) {
			snprintf(out, size, "%s", dir);
			return 0;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 0;
		*slash = '\0';
	}
}

/* RUN: a run id, "last" (the newest run), or the path of a run directory. */
static int resolve_run(char *out, size_t size, const char *workspace, const char *run, const char *cmd)
{
	if (strchr(run, '/')) {
		snprintf(out, size, "%s", run);
		return EXIT_OK;
	}
	if (!strcmp(run, "last") || !strcmp(run, "latest")) {
		char **ids = NULL;
		pw_error *e = NULL;
		if (pw_report_list_runs(&ids, workspace, &e) < 0) {
			print_err(cmd, e);
			return EXIT_ERROR;
		}
		size_t n = 0;
		while (ids && ids[n])
			n++;
		if (!n) {
			fprintf(stderr, "pipewright %s: no finished runs in %s/.pipewright/runs\n", cmd,
			        workspace);
			pw_strv_free(ids);
			return EXIT_ERROR;
		}
		snprintf(out, size, "%s/.pipewright/runs/%s", workspace, ids[n - 1]);
		pw_strv_free(ids);
		return EXIT_OK;
	}
	snprintf(out, size, "%s/.pipewright/runs/%s", workspace, run);
	if (!is_dir(out)) {
		fprintf(stderr,
		        "pipewright %s: no run '%s' in %s/.pipewright/runs\n"
		        "hint: `pipewright runs` lists the runs; `last` names the newest\n",
		        cmd, run, workspace);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

static int load_run(pw_report **out, const char *dir, const char *cmd)
{
	pw_error *e = NULL;
	if (pw_report_from_dir(out, dir, NULL, &e) < 0) {
		print_err(cmd, e);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

static void format_duration(char *buf, size_t size, int64_t ms)
{
	if (ms < 60000)
		snprintf(buf, size, "%.2fs", (double)ms / 1000.0);
	else
		snprintf(buf, size, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
}

int cli_cmd_runs(int argc, char **argv)
{
	const char *ws_arg = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs("usage: pipewright runs [-w DIR]\n\nLists the finished runs of the workspace "
			      "(default: the nearest directory\nwith .pipewright/runs, from the current one "
			      "up), oldest first:\nrun id, pipeline, start (UTC), duration and status.\n",
			      stdout);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workspace")) && i + 1 < argc) {
			ws_arg = argv[++i];
		} else {
			static const char *const valued[] = {"-w", "--workspace", NULL};
			if (cli_missing_value("runs", argv[i], valued))
				return EXIT_USAGE;
			fprintf(stderr, "pipewright runs: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	char ws[PATH_MAX];
	if (find_workspace(ws, sizeof(ws), ws_arg) < 0)
		return EXIT_ERROR;
	char **ids = NULL;
	pw_error *e = NULL;
	if (pw_report_list_runs(&ids, ws, &e) < 0) {
		print_err("runs", e);
		return EXIT_ERROR;
	}
	if (!ids || !ids[0]) {
		printf("no runs in %s/.pipewright/runs\n", ws);
		pw_strv_free(ids);
		return EXIT_OK;
	}
	printf("%-28s %-20s %-20s %9s  %s\n", "RUN", "PIPELINE", "STARTED (UTC)", "DURATION", "STATUS");
	for (size_t i = 0; ids[i]; i++) {
		char dir[PATH_MAX + 300];
		snprintf(dir, sizeof(dir), "%s/.pipewright/runs/%s", ws, ids[i]);
		pw_report *rep = NULL;
		if (pw_report_from_dir(&rep, dir, NULL, &e) < 0) {
			printf("%-28s (unreadable: %s)\n", ids[i], pw_error_message(e));
			pw_error_free(e);
			e = NULL;
			continue;
		}
		char started[24], dur[24];
		snprintf(started, sizeof(started), "%.19s", pw_report_started_at(rep));
		char *t = strchr(started, 'T');
		if (t)
			*t = ' ';
		format_duration(dur, sizeof(dur), pw_report_duration_ms(rep));
		printf("%-28s %-20s %-20s %9s  %s\n", ids[i], pw_report_pipeline_name(rep), started, dur,
		       pw_report_status(rep));
		pw_report_free(rep);
	}
	pw_strv_free(ids);
	return EXIT_OK;
}

int cli_cmd_logs(int argc, char **argv)
{
	const char *ws_arg = NULL, *run = NULL, *step = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(
			    "usage: pipewright logs RUN [STEP] [-w DIR]\n\nPrints the stored (masked) log "
			    "of STEP, or of every step with a header\nline each. RUN is a run id, `last`, or "
			    "the path of a run directory.\n",
			    stdout);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workspace")) && i + 1 < argc) {
			ws_arg = argv[++i];
		} else if (argv[i][0] != '-' && !run) {
			run = argv[i];
		} else if (argv[i][0] != '-' && !step) {
			step = argv[i];
		} else {
			static const char *const valued[] = {"-w", "--workspace", NULL};
			if (cli_missing_value("logs", argv[i], valued))
				return EXIT_USAGE;
			fprintf(stderr, "pipewright logs: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!run) {
		fputs("usage: pipewright logs RUN [STEP] [-w DIR]\n", stderr);
		return EXIT_USAGE;
	}
	char ws[PATH_MAX], dir[PATH_MAX + 300];
	if (find_workspace(ws, sizeof(ws), ws_arg) < 0)
		return EXIT_ERROR;
	int rc = resolve_run(dir, sizeof(dir), ws, run, "logs");
	pw_report *rep = NULL;
	if (rc == EXIT_OK)
		rc = load_run(&rep, dir, "logs");
	if (rc != EXIT_OK)
		return rc;
	int found = 0;
	for (size_t i = 0; i < pw_report_step_count(rep); i++) {
		const char *name = pw_report_step_name(rep, i);
		if (step && strcmp(step, name))
			continue;
		found = 1;
		char *log = NULL;
		size_t len = 0;
		pw_error *e = NULL;
		if (pw_report_step_log(&log, &len, rep, i, &e) < 0) {
			print_err("logs", e);
			rc = EXIT_ERROR;
			continue;
		}
		if (!step)
			printf("==> %s (%s) <==\n", name, pw_report_step_status(rep, i));
		if (log && isatty(STDOUT_FILENO)) /* as a run shows it there: no cursor moves */
			len = cli_tty_clean(log, log, len, !getenv("NO_COLOR"));
		if (log)
			fwrite(log, 1, len, stdout);
		else if (!step)
			printf("(no log: the step did not run)\n");
		if (!step && len && log[len - 1] != '\n')
			fputc('\n', stdout);
		pw_free(log);
	}
	if (step && !found) {
		fprintf(stderr, "pipewright logs: run %s has no step '%s'; its steps:", pw_report_run_id(rep),
		        step);
		for (size_t i = 0; i < pw_report_step_count(rep); i++)
			fprintf(stderr, " %s", pw_report_step_name(rep, i));
		fputc('\n', stderr);
		rc = EXIT_ERROR;
	}
	pw_report_free(rep);
	return rc;
}

int cli_cmd_report(int argc, char **argv)
{
	const char *ws_arg = NULL, *run = NULL;
	const char *paths[4] = {NULL, NULL, NULL, NULL}; /* by pw_report_format */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		pw_report_format f;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs("usage: pipewright report RUN [--html FILE] [--junit FILE] [--json FILE] [-w "
			      "DIR]\n"
			      "\nRenders reports of a finished run (RUN: a run id, `last`, or the path of a\n"
			      "run directory). --report FORMAT=FILE is the same as --FORMAT FILE.\n",
			      stdout);
			return EXIT_OK;
		} else if ((!strcmp(a, "-w") || !strcmp(a, "--workspace")) && i + 1 < argc) {
			ws_arg = argv[++i];
		} else if (!strncmp(a, "--", 2) && i + 1 < argc &&
		           pw_report_format_parse(&f, a + 2, NULL) == 0) {
			paths[f] = argv[++i];
		} else if (!strcmp(a, "--report") && i + 1 < argc) {
			const char *spec = argv[++i], *eq = strchr(spec, '=');
			char fmt[16];
			pw_error *e = NULL;
			snprintf(fmt, sizeof(fmt), "%.*s", eq ? (int)(eq - spec) : 0, spec);
			if (!eq || !eq[1] || pw_report_format_parse(&f, fmt, &e) < 0) {
				pw_error_free(e);
				fprintf(stderr,
				        "pipewright report: --report takes junit=FILE, json=FILE or "
				        "html=FILE, not '%s'\n",
				        spec);
				return EXIT_USAGE;
			}
			paths[f] = eq + 1;
		} else if (a[0] != '-' && !run) {
			run = a;
		} else {
			static const char *const valued[] = {"-w",     "--workspace", "--html", "--junit",
			                                     "--json", "--report",    NULL};
			if (cli_missing_value("report", a, valued))
				return EXIT_USAGE;
			fprintf(stderr, "pipewright report: unexpected argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!run || (!paths[PW_REPORT_HTML] && !paths[PW_REPORT_JUNIT] && !paths[PW_REPORT_JSON])) {
		fprintf(stderr, "pipewright report: %s\n",
		        !run ? "name the run: a run id, `last`, or a run directory"
		             : "say which report to write: --html FILE, --junit FILE or --json FILE");
		fputs("usage: pipewright report RUN [--html FILE] [--junit FILE] [--json FILE] [-w DIR]\n",
		      stderr);
		return EXIT_USAGE;
	}
	char ws[PATH_MAX], dir[PATH_MAX + 300];
	if (find_workspace(ws, sizeof(ws), ws_arg) < 0)
		return EXIT_ERROR;
	int rc = resolve_run(dir, sizeof(dir), ws, run, "report");
	pw_report *rep = NULL;
	if (rc == EXIT_OK)
		rc = load_run(&rep, dir, "report");
	if (rc != EXIT_OK)
		return rc;
	for (int f = PW_REPORT_JUNIT; f <= PW_REPORT_HTML; f++) {
		if (!paths[f])
			continue;
		pw_error *e = NULL;
		if (pw_report_write(rep, (pw_report_format)f, paths[f], &e) < 0) {
			print_err("report", e);
			rc = EXIT_ERROR;
		} else {
			printf("%s report: %s\n", pw_report_format_name((pw_report_format)f), paths[f]);
		}
	}
	pw_report_free(rep);
	return rc;
}

static void gc_line(const char *line, void *payload)
{
	(void)payload;
	printf("%s\n", line);
	fflush(stdout);
}

int cli_cmd_gc(int argc, char **argv)
{
	const char *ws_arg = NULL;
	pw_gc_options o = {NULL, -1, 0, 1, gc_line, NULL};
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(
			    "usage: pipewright gc [--older-than DURATION] [--dry-run] [--no-sweep] [-w DIR]\n"
			    "                     [--plugin FILE]...\n"
			    "\n"
			    "Removes what killed runs left behind: containers, images, Jobs, Secrets, PVCs,\n"
			    "ECS tasks, S3 multipart uploads, ... recorded in the runs' resource journals\n"
			    "(.pipewright/runs/*/journal) and not removed (AWS calls are signed with the\n"
			    "credentials of this environment), and, on the default Docker engine and\n"
			    "Kubernetes cluster, objects labelled with the id of a run of this workspace\n"
			    "that is not alive. A run that is still running (its lock is held) is never\n"
			    "touched.\n"
			    "\n"
			    "  --older-than D  only what is older than D (90s, 30m, 2h, 7d, 1h30m); "
			    "labelled\n"
			    "                  objects of runs this workspace does not know are removed "
			    "only\n"
			    "                  with this option\n"
			    "  --dry-run       print what would be removed; remove nothing\n"
			    "  --no-sweep      journals only: do not list the engine and cluster by label\n"
			    "  -w DIR          the workspace (default: the nearest with .pipewright/runs)\n"
			    "  --plugin FILE   load a plug-in whose connector removes what it recorded "
			    "(also\n"
			    "                  every plug-in of PIPEWRIGHT_PLUGIN_PATH); custom connector\n"
			    "                  programs are run with the verb gc\n"
			    "\n"
			    "exit status: 0 done; 4 something could not be removed (printed); 3 usage "
			    "error\n",
			    stdout);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workspace")) && i + 1 < argc) {
			ws_arg = argv[++i];
		} else if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
			o.older_than_ms = pw__gc_parse_duration(argv[++i]);
			if (o.older_than_ms < 0) {
				fprintf(
				    stderr,
				    "pipewright gc: --older-than takes a duration like 90s, 30m, 2h, 7d or "
				    "1h30m, not '%s'\n",
				    argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) {
			o.dry_run = 1;
		} else if (!strcmp(argv[i], "--no-sweep")) {
			o.sweep = 0;
		} else {
			static const char *const valued[] = {"-w", "--workspace", "--older-than", NULL};
			if (cli_missing_value("gc", argv[i], valued))
				return EXIT_USAGE;
			fprintf(stderr, "pipewright gc: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	char ws[PATH_MAX];
	if (find_workspace(ws, sizeof(ws), ws_arg) < 0)
		return EXIT_ERROR;
	o.workspace = ws;
	pw_manager *m = NULL;
	pw_error *e = NULL;
	/* with the plug-ins: their connectors remove what they journaled (gc_remove) */
	if (cli_make_manager(&m) != EXIT_OK)
		return EXIT_ERROR;
	pw_gc_stats st;
	int rc = pw__gc_run(&st, m, &o, &e);
	pw_manager_free(m);
	if (rc < 0) {
		print_err("gc", e);
		return EXIT_ERROR;
	}
	printf("gc: %u %s, %u failed, %u kept (run alive), %u kept (too recent or unknown run)\n", st.removed,
	       o.dry_run ? "would be removed" : "removed", st.failed, st.kept_live, st.kept_new);
	return st.failed ? EXIT_ERROR : EXIT_OK;
}
