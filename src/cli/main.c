/* The pipewright command: run, validate, plan and connectors over libpipewright. Only this
 * directory talks to the terminal. Exit statuses are documented in usage() and the README. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/board.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/utf8.h"
#include "pipewright.h"
#include "pipewright/report.h"
#include "pipewright/sys/plugin.h"

typedef struct cli {
	int color;
	int json_logs;
	pw_log_level level;
	pthread_mutex_t print_lock;
	pw_run *run;
	int tty_out;  /* stdout is a terminal: flush every line */
	int dirty;    /* buffered output not yet flushed (under print_lock) */
	board *board; /* the live board (--progress tty), under print_lock; NULL: plain */
} cli;

static cli g_cli = {.level = PW_LOG_WARN, .print_lock = PTHREAD_MUTEX_INITIALIZER};

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BOLD "\033[1m"

static const char *col(const char *code)
{
	return g_cli.color ? code : "";
}

static const char *const step_colors[] = {"\033[36m", "\033[35m", "\033[34m",
                                          "\033[33m", "\033[32m", "\033[96m"};

static const char *step_color(const char *step)
{
	unsigned h = 5381;
	for (const char *p = step; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return col(step_colors[h % (sizeof(step_colors) / sizeof(step_colors[0]))]);
}

static void usage(FILE *f)
{
	fputs("usage: pipewright <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run [FILE]         run a pipeline (default FILE: pipewright.yml)\n"
	      "  validate FILE      check a pipeline and every step's configuration; runs nothing\n"
	      "  plan FILE          show what every step would do (dry run; secrets masked)\n"
	      "  connectors         list the available connector types (--stats: statistics)\n"
	      "  runs               list past runs of the workspace\n"
	      "  logs RUN [STEP]    print the stored logs of a past run\n"
	      "  report RUN --html FILE   render a report of a past run (also --junit, --json)\n"
	      "  gc                 remove what killed runs left behind (--older-than, --dry-run)\n"
	      "\n"
	      "options: --version, --help (also after each command);\n"
	      "         --plugin FILE (repeatable, after the command) loads a connector plug-in\n"
	      "environment: PIPEWRIGHT_LOG=error|warn|info|debug|trace (default warn)\n"
	      "             PIPEWRIGHT_PLUGIN_PATH=DIR:DIR... plug-ins (*.so) loaded by every command\n"
	      "\n"
	      "exit status: 0 success; 1 a step failed or timed out (not allowed to);\n"
	      "             2 invalid or unreadable pipeline; 3 usage error; 4 other error;\n"
	      "             130 cancelled (SIGINT/SIGTERM/SIGHUP)\n",
	      f);
}

static void usage_run(FILE *f)
{
	fputs("usage: pipewright run [FILE] [options]\n"
	      "\n"
	      "Runs the pipeline in FILE (default: pipewright.yml). Steps run in file order unless\n"
	      "`needs` says otherwise; independent steps run in parallel.\n"
	      "\n"
	      "  -j, --jobs N           steps run at once (default: number of CPUs)\n"
	      "  -w, --workspace DIR    the directory steps run in (default: the file's directory)\n"
	      "      --run-id ID        name the run, a name not used before in the workspace\n"
	      "                         (default: date, time and a random suffix)\n"
	      "      --log-format F     text (default) or json for diagnostics on stderr\n"
	      "      --color WHEN       auto (default), always or never\n"
	      "  -q, --quiet            do not print step output, only the summary\n"
	      "      --progress MODE    auto (default: tty when stdout is a terminal and CI is not\n"
	      "                         set), tty (a live board of the steps) or plain (prefixed lines)\n"
	      "      --report FMT=FILE  write a report when the run ends: junit=FILE, json=FILE or\n"
	      "                         html=FILE (repeatable; replaces the pipeline file's `reports:`\n"
	      "                         entry of that format, whose paths are relative to the workspace)\n"
	      "\n"
	      "Each run writes .pipewright/runs/<run-id>/ in the workspace: one log per step,\n"
	      "result.json and audit.jsonl. SIGINT, SIGTERM or SIGHUP cancels running steps (their\n"
	      "resources are cleaned up); `when: always` steps still run; a second signal stops those.\n"
	      "\n"
	      "exit status: 0 success; 1 a step failed or timed out (not allowed to);\n"
	      "             2 invalid or unreadable pipeline; 3 usage error; 4 other error;\n"
	      "             130 cancelled\n",
	      f);
}

/* A JSON string of s, each byte of an invalid UTF-8 sequence as U+FFFD (jansson refuses
 * invalid UTF-8: a message must not lose its key for a stray byte). */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j || !s)
		return j;
	pw_buf b = PW_BUF_INIT(0);
	size_t len = strlen(s), i = 0;
	while (i < len) {
		size_t n = pw__utf8_len((const unsigned char *)s + i, len - i);
		if (n)
			pw__buf_append(&b, s + i, n);
		else
			pw__buf_puts(&b, "\xEF\xBF\xBD");
		i += n ? n : 1;
	}
	j = json_string(pw__buf_cstr(&b));
	pw__buf_dispose(&b);
	return j;
}

/* Sets key to s as JSON text, unless s is NULL or empty. */
static void json_put(json_t *o, const char *key, const char *s)
{
	if (s && *s)
		json_object_set_new(o, key, json_text(s));
}

/* One JSON line on stderr (the caller holds no lock; records are whole lines). */
static void json_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fprintf(stderr, "%s\n", s ? s : "{}");
	free(s);
	json_decref(o);
}

void cli_print_error(const pw_error *e, const char *step)
{
	for (; e; e = pw_error_next(e)) {
		if (g_cli.json_logs) {
			json_t *o = json_object();
			json_object_set_new(o, "unix_ms", json_integer(pw__unix_ms()));
			json_object_set_new(o, "level", json_string("error"));
			if (g_cli.run)
				json_put(o, "run_id", pw_run_id(g_cli.run));
			json_put(o, "step", step);
			json_put(o, "code", pw_error_code_name(pw_error_code(e)));
			json_put(o, "message", pw_error_message(e));
			json_put(o, "file", pw_error_file(e));
			if (pw_error_line(e) > 0)
				json_object_set_new(o, "line", json_integer(pw_error_line(e)));
			if (pw_error_column(e) > 0)
				json_object_set_new(o, "column", json_integer(pw_error_column(e)));
			json_put(o, "operation", pw_error_operation(e));
			json_put(o, "key", pw_error_key(e));
			json_put(o, "response", pw_error_response(e));
			json_put(o, "hint", pw_error_hint(e));
			json_line(o);
			continue;
		}
		if (step)
			fprintf(stderr, "%sstep %s:%s\n", col(C_BOLD), step, col(C_RESET));
		step = NULL;
		char *text = pw_error_format(e, 0);
		fprintf(stderr, "%serror:%s %s\n", col(C_RED C_BOLD), col(C_RESET), text);
		pw_free(text);
	}
}

static void print_error(const pw_error *e)
{
	cli_print_error(e, NULL);
}

static void on_log(const pw_log_record *rec, void *payload)
{
	pthread_mutex_lock(&g_cli.print_lock);
	if (g_cli.board) {
		board_erase(g_cli.board);
		fflush(stdout);
	}
	if (g_cli.json_logs) {
		json_t *o = json_object();
		json_object_set_new(o, "unix_ms", json_integer(rec->unix_ms));
		json_object_set_new(o, "level", json_string(pw_log_level_name(rec->level)));
		json_put(o, "run_id", rec->run_id); /* none before the run has an id */
		json_object_set_new(o, "step", json_text(rec->step));
		json_object_set_new(o, "component", json_text(rec->component));
		json_object_set_new(o, "message", json_text(rec->message));
		json_line(o);
	} else {
		fprintf(stderr, "%s%s%s run=%s%s%s %s: %s\n", col(C_DIM), pw_log_level_name(rec->level),
		        col(C_RESET), rec->run_id, *rec->step ? " step=" : "", rec->step, rec->component,
		        rec->message);
	}
	if (g_cli.board) {
		fflush(stderr);
		board_render(g_cli.board);
	}
	pthread_mutex_unlock(&g_cli.print_lock);
}

static int g_quiet;

static void on_output(const char *step, pw_stream stream, const char *data, size_t len, void *payload)
{
	if (g_quiet)
		return;
	pthread_mutex_lock(&g_cli.print_lock);
	if (g_cli.board) {
		board_output(g_cli.board, step, data, len);
		pthread_mutex_unlock(&g_cli.print_lock);
		return;
	}
	/* on a terminal, what the step prints cannot move the cursor, retitle the window or write
	 * over another line's prefix (the log file keeps it as printed) */
	char *clean = g_cli.tty_out ? malloc(len ? len : 1) : NULL;
	if (clean) {
		len = cli_tty_clean(clean, data, len, g_cli.color);
		data = clean;
	}
	/* "step | " before and a newline after each line, assembled in one buffer and written
	 * with one call per chunk: a step may print gigabytes */
	static char out[64 * 1024];
	char pre[256], post[16];
	int pl = snprintf(pre, sizeof(pre), "%s%s |%s %s", step_color(step), step, col(C_RESET),
	                  stream == PW_STREAM_STDERR && g_cli.color ? C_YELLOW : "");
	int sl =
	    snprintf(post, sizeof(post), "%s\n", stream == PW_STREAM_STDERR && g_cli.color ? C_RESET : "");
	size_t prel = pl < 0 ? 0 : (size_t)pl >= sizeof(pre) ? sizeof(pre) - 1 : (size_t)pl;
	size_t postl = (size_t)sl;
	size_t used = 0;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (used + prel + n + postl > sizeof(out)) {
			fwrite(out, 1, used, stdout);
			used = 0;
		}
		if (prel + n + postl > sizeof(out)) { /* a line longer than the buffer */
			fwrite(pre, 1, prel, stdout);
			fwrite(data, 1, n, stdout);
			fwrite(post, 1, postl, stdout);
		} else if (nl && postl == 1) {
			/* no colour: the line's own newline ends it (one copy fewer a line) */
			memcpy(out + used, pre, prel);
			memcpy(out + used + prel, data, n + 1);
			used += prel + n + 1;
		} else {
			memcpy(out + used, pre, prel);
			memcpy(out + used + prel, data, n);
			memcpy(out + used + prel + n, post, postl);
			used += prel + n + postl;
		}
		n += nl ? 1 : 0;
		data += n;
		len -= n;
	}
	fwrite(out, 1, used, stdout);
	if (g_cli.tty_out)
		fflush(stdout);
	else
		g_cli.dirty = 1;
	pthread_mutex_unlock(&g_cli.print_lock);
	free(clean);
}

static void on_event(const char *step, pw_step_status status, unsigned int attempt, const pw_result *result,
                     const pw_error *error, void *payload)
{
	if (g_quiet) /* only the summary */
		return;
	/* a timeout may be allowed too: asked of the run (payload: the pipeline, whose step index
	 * is the run's) only then, the search being linear */
	int allowed = status == PW_STEP_ALLOWED_FAILURE;
	if (status == PW_STEP_TIMED_OUT && g_cli.run) {
		long idx = pw_pipeline_find_step(payload, step);
		allowed = idx >= 0 && pw_run_step_allowed(g_cli.run, (size_t)idx);
	}
	pthread_mutex_lock(&g_cli.print_lock);
	if (g_cli.board) {
		board_step_event(g_cli.board, step, status, result ? pw_result_exit_code(result) : -1,
		                 allowed);
		board_render(g_cli.board);
		pthread_mutex_unlock(&g_cli.print_lock);
		return;
	}
	switch (status) {
	case PW_STEP_RUNNING:
		fprintf(stdout, "%s%s |%s %s-> started%s\n", step_color(step), step, col(C_RESET), col(C_DIM),
		        col(C_RESET));
		break;
	case PW_STEP_SUCCEEDED:
		fprintf(stdout, "%s%s |%s %sok%s\n", step_color(step), step, col(C_RESET), col(C_GREEN),
		        col(C_RESET));
		break;
	case PW_STEP_SKIPPED:
	case PW_STEP_CANCELLED:
		fprintf(stdout, "%s%s |%s %s%s%s", step_color(step), step, col(C_RESET), col(C_YELLOW),
		        pw_step_status_name(status), col(C_RESET));
		if (result) /* it was running: how its process took the cancel */
			fprintf(stdout, " (exit code %d)", pw_result_exit_code(result));
		fputc('\n', stdout);
		break;
	default:
		fprintf(stdout, "%s%s |%s %s%s%s", step_color(step), step, col(C_RESET),
		        col(allowed ? C_YELLOW : C_RED), pw_step_status_name(status), col(C_RESET));
		if (result)
			fprintf(stdout, " (exit code %d)", pw_result_exit_code(result));
		if (allowed && status != PW_STEP_ALLOWED_FAILURE)
			fputs(" (allowed to fail)", stdout);
		fputc('\n', stdout);
		break;
	}
	/* like step output: at once on a terminal, else with the next flush (100 ms at most) */
	if (g_cli.tty_out)
		fflush(stdout);
	else
		g_cli.dirty = 1;
	pthread_mutex_unlock(&g_cli.print_lock);
}

static int load(pw_pipeline **out, const char *path)
{
	pw_error *e = NULL;
	if (pw_pipeline_load_file(out, path, &e) < 0) {
		print_error(e);
		pw_error_free(e);
		return EXIT_INVALID;
	}
	return EXIT_OK;
}

/* --plugin FILE arguments, taken out of argv by take_plugins() (docs/plugins.md). */
#define MAX_PLUGINS 64
static const char *g_plugins[MAX_PLUGINS];
static int g_plugin_count;

/* Removes every `--plugin FILE` / `--plugin=FILE` after the command from argv, keeping FILE.
 * Returns the new argc, or -1 after printing a usage error. */
static int take_plugins(int argc, char **argv)
{
	int n = 2;
	for (int i = 2; i < argc; i++) {
		const char *file = NULL;
		if (!strcmp(argv[i], "--plugin") && i + 1 < argc)
			file = argv[++i];
		else if (!strncmp(argv[i], "--plugin=", 9) && argv[i][9])
			file = argv[i] + 9;
		else if (!strcmp(argv[i], "--plugin") || !strcmp(argv[i], "--plugin=")) {
			fprintf(stderr, "pipewright: --plugin needs the path of a plug-in (.so)\n");
			return -1;
		}
		if (!file) {
			argv[n++] = argv[i];
		} else if (g_plugin_count == MAX_PLUGINS) {
			fprintf(stderr, "pipewright: at most %d --plugin options\n", MAX_PLUGINS);
			return -1;
		} else {
			g_plugins[g_plugin_count++] = file;
		}
	}
	argv[n] = NULL;
	return n;
}

/* Loads PIPEWRIGHT_PLUGIN_PATH's plug-ins, then each --plugin, into m. */
static int load_plugins(pw_manager *m)
{
	pw_error *e = NULL;
	int rc = pw_manager_load_plugin_dirs(m, getenv("PIPEWRIGHT_PLUGIN_PATH"), &e);
	for (int i = 0; i < g_plugin_count; i++) {
		int one = pw_manager_load_plugin(m, g_plugins[i], &e);
		rc = rc < 0 ? rc : one;
	}
	if (rc < 0) {
		print_error(e);
		pw_error_free(e);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int cli_missing_value(const char *cmd, const char *arg, const char *const *opts)
{
	for (size_t i = 0; opts[i]; i++)
		if (!strcmp(arg, opts[i])) {
			fprintf(stderr, "pipewright %s: %s needs a value (see pipewright %s --help)\n", cmd,
			        arg, cmd);
			return 1;
		}
	return 0;
}

int cli_make_manager(pw_manager **out)
{
	pw_manager_options mo = PW_MANAGER_OPTIONS_INIT;
	mo.on_log = on_log;
	mo.log_level = g_cli.level;
	pw_error *e = NULL;
	if (pw_manager_new(out, &mo, &e) < 0) {
		print_error(e);
		pw_error_free(e);
		return EXIT_ERROR;
	}
	int rc = load_plugins(*out);
	if (rc != EXIT_OK) {
		pw_manager_free(*out);
		*out = NULL;
	}
	return rc;
}

static void signals_start(pw_manager *m);
static void signals_stop(void);
static int g_signalled; /* a signal came before the run existed */

/* Whether an error of validation is about the pipeline (fix the file: exit 2) rather than
 * about something that could not be asked (a connector program that timed out, crashed or
 * answered nonsense, no memory: exit 4). */
static int pipeline_problem(int code)
{
	switch (code) {
	case PW_ECONFIG:
	case PW_EVALIDATION:
	case PW_EPIPELINE:
	case PW_ENOTFOUND:
	case PW_ENOTBUILT:
	case PW_EPERM:
	case PW_EINVAL:
	case PW_EEXISTS:
		return 1;
	default:
		return 0;
	}
}

static int validate_into(pw_pipeline *p, pw_manager *m)
{
	pw_error *e = NULL;
	if (pw_pipeline_validate(p, m, &e) < 0) {
		int rc = EXIT_INVALID;
		for (const pw_error *cur = e; cur; cur = pw_error_next(cur))
			if (!pipeline_problem(pw_error_code(cur)))
				rc = EXIT_ERROR;
		print_error(e);
		pw_error_free(e);
		return rc;
	}
	return EXIT_OK;
}

static int want_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

static int cmd_validate(int argc, char **argv)
{
	if (argc == 1 && argv[0][0] == '-' && !want_help(argc, argv)) {
		fprintf(stderr,
		        "pipewright validate: unexpected argument '%s' (see pipewright validate --help)\n",
		        argv[0]);
		return EXIT_USAGE;
	}
	if (want_help(argc, argv) || argc != 1) {
		fputs("usage: pipewright validate FILE\n\nLoads FILE, checks its structure, secrets, "
		      "connector types and "
		      "each step's\nconfiguration, and reports every problem with file:line:column. Runs "
		      "nothing.\n"
		      "exit status: 0 valid; 2 invalid or unreadable; 3 usage error\n",
		      argc == 1 ? stdout : stderr);
		return argc == 1 ? EXIT_OK : EXIT_USAGE;
	}
	pw_pipeline *p = NULL;
	pw_manager *m = NULL;
	int rc = load(&p, argv[0]);
	if (rc == EXIT_OK)
		rc = cli_make_manager(&m);
	if (rc == EXIT_OK) {
		signals_start(m);
		rc = validate_into(p, m);
		signals_stop();
		if (__atomic_load_n(&g_signalled, __ATOMIC_SEQ_CST))
			rc = EXIT_CANCELLED;
	}
	if (rc == EXIT_OK)
		printf("%s: valid (%zu step%s)\n", argv[0], pw_pipeline_step_count(p),
		       pw_pipeline_step_count(p) == 1 ? "" : "s");
	pw_manager_free(m);
	pw_pipeline_free(p);
	return rc;
}

static int cmd_plan(int argc, char **argv)
{
	const char *workspace = NULL, *file = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs("usage: pipewright plan FILE [-w DIR]\n\nShows what each step's connector "
			      "would do, "
			      "without doing it. Secret values are masked.\n",
			      stdout);
			return EXIT_OK;
		} else if ((!strcmp(argv[i], "-w") || !strcmp(argv[i], "--workspace")) && i + 1 < argc) {
			workspace = argv[++i];
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			static const char *const valued[] = {"-w", "--workspace", NULL};
			if (cli_missing_value("plan", argv[i], valued))
				return EXIT_USAGE;
			fprintf(stderr, "pipewright plan: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!file) {
		fputs("usage: pipewright plan FILE [-w DIR]\n", stderr);
		return EXIT_USAGE;
	}
	pw_pipeline *p = NULL;
	pw_manager *m = NULL;
	int rc = load(&p, file);
	if (rc == EXIT_OK)
		rc = cli_make_manager(&m);
	if (rc == EXIT_OK) {
		signals_start(m);
		rc = validate_into(p, m);
	}
	if (rc == EXIT_OK) {
		char *text = NULL;
		pw_error *e = NULL;
		if (pw_pipeline_plan(&text, p, m, workspace, &e) < 0) {
			print_error(e);
			pw_error_free(e);
			rc = EXIT_ERROR;
		} else {
			fputs(text, stdout);
		}
		pw_free(text);
	}
	signals_stop();
	if (__atomic_load_n(&g_signalled, __ATOMIC_SEQ_CST))
		rc = EXIT_CANCELLED;
	pw_manager_free(m);
	pw_pipeline_free(p);
	return rc;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_connectors(int argc, char **argv)
{
	int stats = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--stats")) {
			stats = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs("usage: pipewright connectors [--stats]\n\nLists the connector types this "
			      "pipewright can run "
			      "(list_available_connectors);\n--stats adds the manager's statistics after "
			      "creating each "
			      "connector once.\n",
			      stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "pipewright connectors: unexpected argument '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	pw_manager *m = NULL;
	int rc = cli_make_manager(&m);
	if (rc != EXIT_OK)
		return rc;
	char **types = NULL;
	pw_manager_list_available_connectors(&types, m);
	size_t count = 0;
	int w = 12; /* the type column: as wide as the longest name */
	for (; types && types[count]; count++)
		if ((int)strlen(types[count]) > w)
			w = (int)strlen(types[count]);
	/* the built-in types in their order, then the custom ones by name (plug-ins, programs
	 * found on PATH in directory order) */
	size_t builtin = 0;
	for (size_t i = 0; i < count; i++)
		if (strncmp(types[i], "custom:", 7) != 0) {
			char *t = types[i];
			memmove(types + builtin + 1, types + builtin, (i - builtin) * sizeof(char *));
			types[builtin++] = t;
		}
	if (count - builtin > 1)
		qsort(types + builtin, count - builtin, sizeof(char *), cmp_strp);
	for (size_t i = 0; types && types[i]; i++) {
		pw_connector *c = NULL;
		pw_error *e = NULL;
		if (pw_manager_get_connector(&c, m, types[i], &e) == 0)
			printf("%-*s %s\n", w, types[i], pw_connector_name(c));
		else
			printf("%-*s (unavailable: %s)\n", w, types[i], pw_error_message(e));
		pw_error_free(e);
	}
	static const char *const known[] = {"docker", "kubernetes", "aws",   "azure",
	                                    "gcp",    "github",     "gitlab"};
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		int have = 0;
		for (size_t i = 0; types && types[i]; i++)
			have |= !strcmp(types[i], known[k]);
		if (!have)
			printf("%-*s (not built into this pipewright)\n", w, known[k]);
	}
	pw_strv_free(types);
	if (stats) {
		pw_map *sm = NULL;
		if (pw_manager_get_stats_map(&sm, m) == 0) {
			printf("\nstatistics:\n");
			for (size_t i = 0; i < pw_map_count(sm); i++)
				printf("  %s = %s\n", pw_map_key_at(sm, i), pw_map_value_at(sm, i));
		}
		pw_map_free(sm);
	}
	pw_manager_free(m);
	return EXIT_OK;
}

typedef struct sigctx {
	sigset_t set;
	int stop;
} sigctx;

/* The manager a signal cancels while there is no run yet (validation, plan). */
static pw_manager *g_signal_manager;

/* The run's helper thread. Signals go to it (every other thread blocks them): SIGINT,
 * SIGTERM and SIGHUP cancel the run. Every 100 ms it redraws the board and flushes step output going to a
 * pipe or file (on a terminal every line is flushed as it comes): live enough for a CI log,
 * and cheap when a step prints gigabytes. SIGUSR1 with stop set ends it, after a last flush. */
static void *helper_main(void *arg)
{
	sigctx *sc = arg;
	const struct timespec period = {0, 100 * 1000 * 1000};
	unsigned int cancels = 0;
	for (;;) {
		int sig = sigtimedwait(&sc->set, NULL, &period);
		int stop = sig == SIGUSR1 && __atomic_load_n(&sc->stop, __ATOMIC_SEQ_CST);
		if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP) && !g_cli.run) {
			/* before the run (validate, plan): end the connector programs answering */
			static const char msg[] = "\npipewright: cancelling\n";
			if (!__atomic_exchange_n(&g_signalled, 1, __ATOMIC_SEQ_CST)) {
				ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
				(void)n;
			}
			pw_manager_cancel(g_signal_manager);
		} else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			/* the first cancels all but the `always` steps, the next ones those too */
			static const char first[] =
			    "\npipewright: cancelling (signal again to stop `always` steps too)\n";
			static const char again[] = "\npipewright: stopping the `always` steps too\n";
			int repeated = cancels++ > 0;
			ssize_t n = repeated ? write(STDERR_FILENO, again, sizeof(again) - 1)
			                     : write(STDERR_FILENO, first, sizeof(first) - 1);
			(void)n;
			pw_run_cancel(g_cli.run);
		}
		pthread_mutex_lock(&g_cli.print_lock);
		if (g_cli.board)
			board_render(g_cli.board);
		if (g_cli.dirty) {
			fflush(stdout);
			g_cli.dirty = 0;
		}
		pthread_mutex_unlock(&g_cli.print_lock);
		if (stop)
			return NULL;
	}
}

/* Signals go to one thread that cancels the run (before it, the manager's validate and plan
 * calls); every other thread blocks them, until signals_stop. */
static sigctx g_sigctx;
static pthread_t g_helper;
static int g_have_helper;

static void signals_start(pw_manager *m)
{
	sigctx *sc = &g_sigctx;
	sc->stop = 0;
	sigemptyset(&sc->set);
	/* SIGHUP: a closed terminal or a dropped ssh connection cancels the steps (and cleans
	 * up) like Ctrl-C instead of leaving them running without us. A signal we were started
	 * with ignored stays ignored (`nohup`, SIGINT in a background job of a script): blocked,
	 * it would be queued and taken, not dropped. */
	const int cancelling[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof(cancelling) / sizeof(cancelling[0]); i++) {
		struct sigaction old;
		if (sigaction(cancelling[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&sc->set, cancelling[i]);
	}
	sigaddset(&sc->set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc->set, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_signal_manager = m;
	g_have_helper = pthread_create(&g_helper, NULL, helper_main, sc) == 0;
}

static void signals_stop(void)
{
	if (g_have_helper) {
		__atomic_store_n(&g_sigctx.stop, 1, __ATOMIC_SEQ_CST);
		pthread_kill(g_helper, SIGUSR1);
		pthread_join(g_helper, NULL);
		g_have_helper = 0;
	}
}

static int parse_uint(const char *s, unsigned int *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v == 0 || v > 4096)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	const char *file = NULL, *workspace = NULL, *run_id = NULL, *color = "auto", *progress = "auto";
	const char *report_paths[4] = {NULL, NULL, NULL, NULL}; /* by pw_report_format */
	unsigned int jobs = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage_run(stdout);
			return EXIT_OK;
		} else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && i + 1 < argc) {
			if (parse_uint(argv[++i], &jobs) < 0) {
				fprintf(stderr,
				        "pipewright run: --jobs needs a number from 1 to 4096, not '%s'\n",
				        argv[i]);
				return EXIT_USAGE;
			}
		} else if (!strncmp(a, "-j", 2) && a[2]) {
			if (parse_uint(a + 2, &jobs) < 0) {
				fprintf(stderr,
				        "pipewright run: -j needs a number from 1 to 4096, not '%s'\n",
				        a + 2);
				return EXIT_USAGE;
			}
		} else if ((!strcmp(a, "-w") || !strcmp(a, "--workspace")) && i + 1 < argc) {
			workspace = argv[++i];
		} else if (!strcmp(a, "--run-id") && i + 1 < argc) {
			run_id = argv[++i];
		} else if (!strcmp(a, "--log-format") && i + 1 < argc) {
			const char *f = argv[++i];
			if (strcmp(f, "text") && strcmp(f, "json")) {
				fprintf(stderr, "pipewright run: --log-format is text or json, not '%s'\n",
				        f);
				return EXIT_USAGE;
			}
			g_cli.json_logs = !strcmp(f, "json");
		} else if (!strcmp(a, "--color") && i + 1 < argc) {
			color = argv[++i];
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			g_quiet = 1;
		} else if (!strcmp(a, "--progress") && i + 1 < argc) {
			progress = argv[++i];
		} else if (!strncmp(a, "--progress=", 11)) {
			progress = a + 11;
		} else if ((!strcmp(a, "--report") && i + 1 < argc) || !strncmp(a, "--report=", 9)) {
			const char *spec = a[8] == '=' ? a + 9 : argv[++i];
			const char *eq = strchr(spec, '=');
			char fmt[16];
			pw_report_format f;
			snprintf(fmt, sizeof(fmt), "%.*s", eq && eq - spec < 15 ? (int)(eq - spec) : 0, spec);
			if (!eq || !eq[1] || pw_report_format_parse(&f, fmt, NULL) < 0) {
				fprintf(
				    stderr,
				    "pipewright run: --report takes junit=FILE, json=FILE or html=FILE, not "
				    "'%s'\n",
				    spec);
				return EXIT_USAGE;
			}
			if (report_paths[f]) {
				fprintf(stderr, "pipewright run: --report %s= is given twice\n", fmt);
				return EXIT_USAGE;
			}
			report_paths[f] = eq + 1;
		} else if (a[0] != '-' && !file) {
			file = a;
		} else {
			static const char *const valued[] = {
			    "-j",      "--jobs",       "-w",         "--workspace", "--run-id",
			    "--color", "--log-format", "--progress", "--report",    NULL};
			if (cli_missing_value("run", a, valued))
				return EXIT_USAGE;
			fprintf(stderr,
			        "pipewright run: unexpected argument '%s' (see pipewright run --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(color, "always"))
		g_cli.color = 1;
	else if (!strcmp(color, "never"))
		g_cli.color = 0;
	else if (!strcmp(color, "auto"))
		g_cli.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	else {
		fprintf(stderr, "pipewright run: --color is auto, always or never, not '%s'\n", color);
		return EXIT_USAGE;
	}
	int use_board;
	if (!strcmp(progress, "tty"))
		use_board = 1;
	else if (!strcmp(progress, "plain"))
		use_board = 0;
	else if (!strcmp(progress, "auto")) {
		const char *term = getenv("TERM"), *ci = getenv("CI");
		use_board = isatty(STDOUT_FILENO) && !(ci && *ci) && !(term && !strcmp(term, "dumb"));
	} else {
		fprintf(stderr, "pipewright run: --progress is auto, tty or plain, not '%s'\n", progress);
		return EXIT_USAGE;
	}
	if (g_quiet)
		use_board = 0;
	if (!file)
		file = "pipewright.yml";

	pw_pipeline *p = NULL;
	pw_manager *m = NULL;
	int rc = load(&p, file);
	if (rc == EXIT_OK)
		rc = cli_make_manager(&m);
	if (rc == EXIT_OK) {
		signals_start(m);
		rc = validate_into(p, m);
		if (__atomic_load_n(&g_signalled, __ATOMIC_SEQ_CST))
			rc = EXIT_CANCELLED;
	}
	pw_report_target *reports = NULL;
	size_t nreports = 0;
	if (rc == EXIT_OK)
		rc = cli_report_targets(&reports, &nreports, p, workspace, report_paths);
	if (rc != EXIT_OK) {
		signals_stop();
		pw_manager_free(m);
		pw_pipeline_free(p);
		return rc;
	}

	/* Every process a step leaves behind (`setsid daemon &`, a double fork) is reparented to
	 * us rather than to init, and the run ends it when it ends (pw_run_execute). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 && g_cli.level >= PW_LOG_DEBUG)
		fprintf(stderr, "pipewright: prctl(PR_SET_CHILD_SUBREAPER): %s\n", strerror(errno));

	pw_run_options ro = PW_RUN_OPTIONS_INIT;
	ro.workspace = workspace;
	ro.jobs = jobs;
	ro.run_id = run_id;
	ro.on_output = on_output;
	ro.on_log = on_log;
	ro.log_level = g_cli.level;
	ro.on_step_event = on_event;
	ro.event_payload = p;
	pw_error *e = NULL;
	pw_run *run = NULL;
	if (pw_run_new(&run, m, p, &ro, &e) < 0) {
		int code = pw_error_code(e);
		signals_stop();
		print_error(e);
		pw_error_free(e);
		pw_report_targets_free(reports, nreports);
		pw_manager_free(m);
		pw_pipeline_free(p);
		/* a run id that is not one or is already used: choose another, as for any option of
		 * the command line */
		return code == PW_EVALIDATION                    ? EXIT_INVALID
		       : code == PW_EEXISTS || code == PW_EINVAL ? EXIT_USAGE
		                                                 : EXIT_ERROR;
	}
	g_cli.run = run;
	if (__atomic_load_n(&g_signalled, __ATOMIC_SEQ_CST))
		pw_run_cancel(run); /* the signal came while the run was being made */
	g_cli.tty_out = isatty(STDOUT_FILENO);
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (use_board) {
		pthread_mutex_lock(&g_cli.print_lock);
		g_cli.board = board_new(stdout, pw_pipeline_name(p), pw_pipeline_step_count(p), g_cli.color);
		board_render(g_cli.board);
		pthread_mutex_unlock(&g_cli.print_lock);
	}
	int runrc = pw_run_execute(run, &e);

	signals_stop();
	pthread_mutex_lock(&g_cli.print_lock);
	board *bd = g_cli.board;
	g_cli.board = NULL;
	pthread_mutex_unlock(&g_cli.print_lock);
	if (bd) {
		board_finish(bd);
		board_free(bd);
		cli_print_failed_tails(run, stdout, 10);
	}
	fflush(stdout);
	if (e)
		print_error(e);
	pw_error_free(e);

	/* summary */
	size_t n = pw_run_step_count(run);
	int namew = 12; /* the name column fits the longest name (names are at most 63 characters) */
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(pw_run_step_name(run, i));
		if ((int)l > namew)
			namew = (int)l;
	}
	fprintf(stdout, "\n%ssummary%s (run %s)\n", col(C_BOLD), col(C_RESET), pw_run_id(run));
	for (size_t i = 0; i < n; i++) {
		pw_step_status st = pw_run_step_status(run, i);
		int allowed = pw_run_step_allowed(run, i);
		const char *c = st == PW_STEP_SUCCEEDED                              ? C_GREEN
		                : (st == PW_STEP_SKIPPED || st == PW_STEP_CANCELLED) ? C_YELLOW
		                : allowed                                            ? C_YELLOW
		                                                                     : C_RED;
		fprintf(stdout, "  %s%-16s%s %-*s %8.2fs", col(c), pw_step_status_name(st), col(C_RESET),
		        namew, pw_run_step_name(run, i), pw_run_step_duration_ms(run, i) / 1000.0);
		if (pw_run_step_attempts(run, i) > 1)
			fprintf(stdout, "  (%u attempts)", pw_run_step_attempts(run, i));
		if (allowed && st != PW_STEP_ALLOWED_FAILURE)
			fputs("  (allowed to fail)", stdout);
		fputc('\n', stdout);
	}
	fprintf(stdout, "logs: %s\n", pw_run_dir(run));
	int report_rc = cli_write_reports(run, reports, nreports, stdout);
	pw_report_targets_free(reports, nreports);
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		const pw_error *se = pw_run_step_error(run, i);
		if (se)
			cli_print_error(se, pw_run_step_name(run, i));
	}
	g_cli.run = NULL;
	pw_run_free(run);
	pw_manager_free(m);
	pw_pipeline_free(p);
	switch (runrc) {
	case 0:
		return report_rc;
	case PW_ESTEP:
		return EXIT_STEP_FAILED;
	case PW_ECANCELLED:
		return EXIT_CANCELLED;
	default:
		return EXIT_ERROR;
	}
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("PIPEWRIGHT_LOG");
	if (lvl && *lvl && pw_log_level_parse(&g_cli.level, lvl) < 0) {
		fprintf(stderr, "pipewright: PIPEWRIGHT_LOG is error, warn, info, debug or trace, not '%s'\n",
		        lvl);
		return EXIT_USAGE;
	}
	g_cli.color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	argc = take_plugins(argc, argv);
	if (argc < 0)
		return EXIT_USAGE;
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		if (argc > 2) {
			fprintf(stderr, "pipewright: %s takes no argument, not '%s'\n", cmd, argv[2]);
			return EXIT_USAGE;
		}
		printf("pipewright %s\n", pw_version());
		return EXIT_OK;
	}
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} commands[] = {
	    {"run", cmd_run},           {"validate", cmd_validate},
	    {"plan", cmd_plan},         {"connectors", cmd_connectors},
	    {"runs", cli_cmd_runs},     {"logs", cli_cmd_logs},
	    {"report", cli_cmd_report}, {"gc", cli_cmd_gc},
	};
	int help_of = !strcmp(cmd, "help") && argc > 2; /* `help run`: run --help */
	if (!help_of && (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (help_of)
		cmd = argv[2];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		char help[] = "--help";
		char *help_argv[] = {help, NULL};
		return help_of ? commands[i].fn(1, help_argv) : commands[i].fn(argc - 2, argv + 2);
	}
	fprintf(stderr, "pipewright: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
