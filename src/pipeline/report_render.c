/* Report renderers: JUnit XML (the Jenkins/Ant shape GitLab also reads), JSON
 * (docs/report-schema.json) and a self-contained HTML page with a timeline. Text from logs is
 * stripped of terminal escapes and control characters and made valid UTF-8 before escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "pipeline/report_int.h"

#define JUNIT_TAIL_LINES 200
#define JUNIT_TAIL_BYTES (64u * 1024)
#define JSON_TAIL_LINES 20
#define JSON_TAIL_BYTES (4u * 1024)
#define HTML_TAIL_BYTES (512u * 1024)

/* ---- times ---- */

/* "2024-05-01T10:00:00.123Z" to Unix milliseconds; -1 when it does not parse. */
static int64_t parse_iso_ms(const char *s)
{
	int v[7] = {0};
	const char seps[] = "--T::.";
	const char *p = s;
	if (!s || !*s)
		return -1;
	for (int i = 0; i < 7; i++) {
		char *end = NULL;
		long n = strtol(p, &end, 10);
		if (end == p)
			return -1;
		v[i] = (int)n;
		p = end;
		if (i < 6) {
			if (*p != seps[i])
				return -1;
			p++;
		}
	}
	struct tm tm = {0};
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	time_t t = timegm(&tm);
	return (int64_t)t * 1000 + v[6];
}

static int64_t jint(json_t *o, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

void pw__report_compute_times(pw_report *rep)
{
	int64_t run_start = parse_iso_ms(jstr(rep->root, "started_at"));
	int64_t total = jint(rep->root, "duration_ms", 0);
	for (size_t i = 0; i < rep->count; i++) {
		pw_report_step *s = &rep->steps[i];
		json_t *o = s->json;
		if (!json_is_integer(json_object_get(o, "duration_ms")))
			continue;
		s->timed = 1;
		s->duration_ms = jint(o, "duration_ms", 0);
		s->offset_ms = jint(o, "start_offset_ms", -1);
		if (s->offset_ms < 0) {
			int64_t st = parse_iso_ms(jstr(o, "started_at"));
			s->offset_ms = st >= 0 && run_start >= 0 && st >= run_start ? st - run_start : 0;
		}
		if (s->duration_ms < 0)
			s->duration_ms = 0;
		if (s->offset_ms + s->duration_ms > total)
			total = s->offset_ms + s->duration_ms;
	}
	rep->total_ms = total;
}

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when the bytes are not one. Also refuses
 * the code points XML cannot carry that UTF-8 can (U+FFFE, U+FFFF). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	size_t n = pw__utf8_len(s, len);
	if (n == 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
		return 0;
	return n;
}

/* Bytes of the terminal escape sequence at s (ESC already seen at s[0]). */
static size_t escape_len(const char *s, size_t len)
{
	if (len < 2)
		return len;
	size_t i = 2;
	if (s[1] == '[') {
		while (i < len && !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7E))
			i++;
		return i < len ? i + 1 : len;
	}
	if (s[1] == ']') {
		while (i < len && s[i] != '\a' && !(s[i] == '\033' && i + 1 < len && s[i + 1] == '\\'))
			i++;
		if (i >= len)
			return len;
		return s[i] == '\a' ? i + 1 : i + 2;
	}
	return 2;
}

/* Appends text for XML or HTML: escapes dropped, control characters other than tab and
 * newline dropped, NUL and invalid UTF-8 as U+FFFD, markup characters as entities. */
static void put_text(pw_buf *b, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\033') {
			i += escape_len(s + i, len - i);
			continue;
		}
		if (c == 0) { /* visible, and valid XML: U+FFFD */
			pw__buf_puts(b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			if (c == '\n' || c == '\t')
				pw__buf_putc(b, (char)c);
			i++;
			continue;
		}
		switch (c) {
		case '&':
			pw__buf_puts(b, "&amp;");
			i++;
			continue;
		case '<':
			pw__buf_puts(b, "&lt;");
			i++;
			continue;
		case '>':
			pw__buf_puts(b, "&gt;");
			i++;
			continue;
		case '"':
			pw__buf_puts(b, "&quot;");
			i++;
			continue;
		case '\'':
			pw__buf_puts(b, "&#39;");
			i++;
			continue;
		default:
			break;
		}
		size_t n = utf8_len((const unsigned char *)s + i, len - i);
		if (!n) {
			pw__buf_puts(b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		pw__buf_append(b, s + i, n);
		i += n;
	}
}

static void put_str(pw_buf *b, const char *s)
{
	put_text(b, s, strlen(s));
}

/* A plain-text copy of the same cleaning for JSON strings (jansson escapes the rest). */
static char *clean_text(const char *s, size_t len)
{
	pw_buf b = PW_BUF_INIT(0);
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\033') {
			i += escape_len(s + i, len - i);
			continue;
		}
		if (c == 0) {
			pw__buf_puts(&b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
			i++;
			continue;
		}
		size_t n = utf8_len((const unsigned char *)s + i, len - i);
		if (!n) {
			pw__buf_puts(&b, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		pw__buf_append(&b, s + i, n);
		i += n;
	}
	return pw__buf_detach(&b);
}

/* Where the tail of a log starts: at most max_lines lines and max_bytes bytes, beginning at
 * a line start when possible. */
static size_t tail_start(const char *s, size_t len, size_t max_lines, size_t max_bytes)
{
	size_t end = len;
	if (end && s[end - 1] == '\n')
		end--;
	size_t lines = 0, i = end;
	while (i > 0) {
		if (s[i - 1] == '\n' && ++lines >= max_lines)
			break;
		if (len - (i - 1) > max_bytes)
			break;
		i--;
	}
	if (len - i > max_bytes) {
		i = len - max_bytes;
		const char *nl = memchr(s + i, '\n', len - i);
		if (nl && (size_t)(nl - s) + 1 < len)
			i = (size_t)(nl - s) + 1;
	}
	return i;
}

static void put_seconds(pw_buf *b, int64_t ms)
{
	pw__buf_printf(b, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

/* "1.23 s", "2 min 05 s" */
static void put_duration(pw_buf *b, int64_t ms)
{
	if (ms < 60000)
		pw__buf_printf(b, "%.2f s", (double)ms / 1000.0);
	else
		pw__buf_printf(b, "%lld min %02lld s", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
}

typedef struct counts {
	size_t total, succeeded, failed, allowed_failure, skipped, timed_out, cancelled, other;
	size_t timed_out_allowed; /* of timed_out: with allow_failure: true */
} counts;

static counts count_steps(const pw_report *rep)
{
	counts c = {0};
	for (size_t i = 0; i < rep->count; i++) {
		const char *st = jstr(rep->steps[i].json, "status");
		c.total++;
		if (!strcmp(st, "succeeded"))
			c.succeeded++;
		else if (!strcmp(st, "failed"))
			c.failed++;
		else if (!strcmp(st, "allowed_failure"))
			c.allowed_failure++;
		else if (!strcmp(st, "skipped"))
			c.skipped++;
		else if (!strcmp(st, "timed_out")) {
			c.timed_out++;
			if (pw__report_step_allowed(rep->steps[i].json))
				c.timed_out_allowed++;
		} else if (!strcmp(st, "cancelled"))
			c.cancelled++;
		else
			c.other++;
	}
	return c;
}

/* The error of a step as text: message, then "hint: ..." (masked by the runner). */
static void error_text(pw_buf *b, json_t *err)
{
	if (!json_is_object(err))
		return;
	pw__buf_printf(b, "%s: %s", jstr(err, "code"), jstr(err, "message"));
	if (*jstr(err, "response"))
		pw__buf_printf(b, "\nresponse: %s", jstr(err, "response"));
	if (*jstr(err, "hint"))
		pw__buf_printf(b, "\nhint: %s", jstr(err, "hint"));
}

/* How the step's process ended, when it ran: "killed by signal 15", "exit code 5", "". */
static void ended_text(pw_buf *b, json_t *o)
{
	json_t *code = json_object_get(o, "exit_code");
	if (json_is_integer(json_object_get(o, "signal")))
		pw__buf_printf(b, "killed by signal %lld", (long long)jint(o, "signal", 0));
	else if (json_is_integer(code))
		pw__buf_printf(b, "exit code %lld", (long long)json_integer_value(code));
}

/* "exit code 2", "killed by signal 9", "timed out (killed by signal 15)", ... */
static void outcome_text(pw_buf *b, json_t *o)
{
	const char *st = jstr(o, "status");
	pw_buf how = PW_BUF_INIT(0);
	ended_text(&how, o);
	if (!strcmp(st, "timed_out") || !strcmp(st, "cancelled")) {
		/* stopped by us: how its process took it, when it had one */
		pw__buf_puts(b, !strcmp(st, "timed_out") ? "timed out" : "cancelled");
		if (how.len)
			pw__buf_printf(b, " (%s)", pw__buf_cstr(&how));
	} else if (!strcmp(st, "skipped")) {
		pw__buf_puts(b, "not run: a step it needs failed, or its `when` condition did not hold");
	} else if (how.len) {
		pw__buf_puts(b, pw__buf_cstr(&how));
	} else if (json_is_object(json_object_get(o, "error"))) {
		pw__buf_puts(b, jstr(json_object_get(o, "error"), "message"));
	} else {
		pw__buf_puts(b, st);
	}
	pw__buf_dispose(&how);
	if (pw__report_step_allowed(o))
		pw__buf_puts(b, " (allowed to fail)");
}

/* Failed or timed out, and not allowed to: it fails the run. */
static int step_fails_run(json_t *o)
{
	const char *st = jstr(o, "status");
	return (!strcmp(st, "failed") || !strcmp(st, "timed_out")) && !pw__report_step_allowed(o);
}

/* The status as a CSS class or attribute word: one of the statuses the runner writes, else
 * "unknown" (a result.json may come from anywhere, e.g. a downloaded CI artifact). */
static const char *status_word(const char *st)
{
	static const char *const known[] = {"pending", "running",   "succeeded", "failed", "allowed_failure",
	                                    "skipped", "timed_out", "cancelled", "error"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(st, known[i]))
			return known[i];
	return "unknown";
}

/* ---- JUnit ---- */

static void junit_testcase(pw_buf *b, const pw_report *rep, size_t i, const char *suite)
{
	const pw_report_step *s = &rep->steps[i];
	json_t *o = s->json;
	const char *st = jstr(o, "status");
	pw__buf_puts(b, "    <testcase name=\"");
	put_str(b, jstr(o, "name"));
	pw__buf_puts(b, "\" classname=\"");
	put_str(b, suite);
	pw__buf_puts(b, "\" time=\"");
	put_seconds(b, s->duration_ms);
	pw__buf_puts(b, "\">\n");
	pw_buf why = PW_BUF_INIT(0);
	outcome_text(&why, o);
	pw_buf detail = PW_BUF_INIT(0);
	error_text(&detail, json_object_get(o, "error"));
	const char *elem = NULL;
	if (step_fails_run(o))
		elem = "failure";
	else if (!strcmp(st, "cancelled"))
		elem = "error";
	if (!strcmp(st, "skipped") || pw__report_step_allowed(o) || !strcmp(st, "pending")) {
		pw__buf_puts(b, "      <skipped message=\"");
		put_str(b, pw__buf_cstr(&why));
		pw__buf_puts(b, "\"/>\n");
	} else if (elem) {
		pw__buf_printf(b, "      <%s message=\"", elem);
		put_str(b, pw__buf_cstr(&why));
		pw__buf_puts(b, "\" type=\"");
		put_str(b, st);
		pw__buf_puts(b, "\">");
		put_str(b, detail.len ? pw__buf_cstr(&detail) : pw__buf_cstr(&why));
		pw__buf_printf(b, "</%s>\n", elem);
	}
	if (s->log && s->log_len) {
		size_t from = tail_start(s->log, s->log_len, JUNIT_TAIL_LINES, JUNIT_TAIL_BYTES);
		pw__buf_puts(b, "      <system-out>");
		if (from > 0 || s->log_truncated) {
			pw__buf_printf(b, "[last %zu of %zu bytes; the whole log is ", s->log_len - from,
			               s->log_total);
			put_str(b, rep->dir);
			pw__buf_putc(b, '/');
			put_str(b, jstr(o, "log"));
			pw__buf_puts(b, "]\n");
		}
		put_text(b, s->log + from, s->log_len - from);
		pw__buf_puts(b, "</system-out>\n");
	}
	pw__buf_dispose(&why);
	pw__buf_dispose(&detail);
	pw__buf_puts(b, "    </testcase>\n");
}

static void render_junit(pw_buf *b, const pw_report *rep)
{
	counts c = count_steps(rep);
	const char *name = *jstr(rep->root, "pipeline") ? jstr(rep->root, "pipeline") : "pipewright";
	size_t failures = c.failed + c.timed_out - c.timed_out_allowed, errors = c.cancelled,
	       skipped = c.skipped + c.allowed_failure + c.timed_out_allowed + c.other;
	char ts[32] = "1970-01-01T00:00:00";
	int64_t start = parse_iso_ms(jstr(rep->root, "started_at"));
	if (start >= 0) {
		time_t t = (time_t)(start / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	pw__buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
	put_str(b, name);
	pw__buf_printf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"", c.total, failures,
	               errors);
	put_seconds(b, rep->total_ms);
	pw__buf_puts(b, "\">\n  <testsuite name=\"");
	put_str(b, name);
	pw__buf_printf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"", c.total,
	               failures, errors, skipped);
	put_seconds(b, rep->total_ms);
	pw__buf_printf(b, "\" timestamp=\"%s\" id=\"0\" package=\"pipewright\" hostname=\"localhost\">\n",
	               ts);
	pw__buf_puts(b, "    <properties>\n");
	static const char *const props[] = {"run_id", "status", "pipeline_file", "workspace", "started_at"};
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		pw__buf_printf(b, "      <property name=\"%s\" value=\"", props[i]);
		put_str(b, jstr(rep->root, props[i]));
		pw__buf_puts(b, "\"/>\n");
	}
	pw__buf_puts(b, "    </properties>\n");
	for (size_t i = 0; i < rep->count; i++)
		junit_testcase(b, rep, i, name);
	pw__buf_puts(b, "  </testsuite>\n</testsuites>\n");
}

/* ---- JSON ---- */

static json_t *copy_or_null(json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static json_t *json_step(const pw_report *rep, size_t i)
{
	const pw_report_step *s = &rep->steps[i];
	json_t *in = s->json, *o = json_object();
	json_object_set_new(o, "name", json_string(jstr(in, "name")));
	json_t *conn = json_object_get(in, "connector");
	json_object_set_new(o, "connector", json_is_string(conn) ? json_deep_copy(conn) : json_null());
	json_object_set_new(o, "status", json_string(jstr(in, "status")));
	json_object_set_new(o, "allowed", json_boolean(pw__report_step_allowed(in)));
	json_object_set_new(o, "attempts", json_integer(jint(in, "attempts", 0)));
	json_t *needs = json_object_get(in, "needs");
	json_object_set_new(o, "needs", json_is_array(needs) ? json_deep_copy(needs) : json_array());
	if (s->timed) {
		json_object_set_new(o, "started_at", json_string(jstr(in, "started_at")));
		json_object_set_new(o, "start_offset_ms", json_integer(s->offset_ms));
		json_object_set_new(o, "duration_ms", json_integer(s->duration_ms));
	} else {
		json_object_set_new(o, "started_at", json_null());
		json_object_set_new(o, "start_offset_ms", json_null());
		json_object_set_new(o, "duration_ms", json_null());
	}
	json_t *code = json_object_get(in, "exit_code");
	json_object_set_new(o, "exit_code", json_is_integer(code) ? json_deep_copy(code) : json_null());
	json_t *sig = json_object_get(in, "signal");
	json_object_set_new(o, "signal", json_is_integer(sig) ? json_deep_copy(sig) : json_null());
	json_t *md = json_object_get(in, "metadata");
	json_object_set_new(o, "metadata", json_is_object(md) ? json_deep_copy(md) : json_object());
	json_t *outs = json_object_get(in, "outputs");
	json_object_set_new(o, "outputs", json_is_object(outs) ? json_deep_copy(outs) : json_object());
	json_object_set_new(o, "error", copy_or_null(json_object_get(in, "error")));
	if (s->log) {
		json_t *log = json_object();
		json_object_set_new(log, "file", json_string(jstr(in, "log")));
		json_object_set_new(log, "bytes", json_integer((json_int_t)s->log_total));
		size_t from = tail_start(s->log, s->log_len, JSON_TAIL_LINES, JSON_TAIL_BYTES);
		char *tail = clean_text(s->log + from, s->log_len - from);
		json_object_set_new(log, "tail", json_string(tail ? tail : ""));
		free(tail);
		json_object_set_new(o, "log", log);
	} else {
		json_object_set_new(o, "log", json_null());
	}
	json_t *stats = json_object_get(in, "stats");
	json_object_set_new(o, "stats", json_is_object(stats) ? json_deep_copy(stats) : json_null());
	return o;
}

static int render_json(pw_buf *b, const pw_report *rep)
{
	counts c = count_steps(rep);
	json_t *root = json_object();
	json_object_set_new(root, "schema", json_string("pipewright-report"));
	json_object_set_new(root, "schema_version", json_integer(PW_REPORT_SCHEMA_VERSION));
	json_t *gen = json_object();
	json_object_set_new(gen, "name", json_string("pipewright"));
	json_object_set_new(gen, "version", json_string(pw_version()));
	json_object_set_new(root, "generator", gen);
	json_t *run = json_object();
	json_object_set_new(run, "id", json_string(jstr(rep->root, "run_id")));
	json_object_set_new(run, "pipeline", json_string(jstr(rep->root, "pipeline")));
	json_object_set_new(run, "pipeline_file", json_string(jstr(rep->root, "pipeline_file")));
	json_object_set_new(run, "workspace", json_string(jstr(rep->root, "workspace")));
	json_object_set_new(run, "run_dir", json_string(rep->dir));
	json_object_set_new(run, "status", json_string(jstr(rep->root, "status")));
	json_object_set_new(run, "started_at", json_string(jstr(rep->root, "started_at")));
	json_t *fin = json_object_get(rep->root, "finished_at");
	json_object_set_new(run, "finished_at", json_is_string(fin) ? json_deep_copy(fin) : json_null());
	json_object_set_new(run, "duration_ms", json_integer(rep->total_ms));
	json_t *jobs = json_object_get(rep->root, "jobs");
	json_object_set_new(run, "jobs", json_is_integer(jobs) ? json_deep_copy(jobs) : json_null());
	json_object_set_new(root, "run", run);
	json_t *sum = json_object();
	json_object_set_new(sum, "total", json_integer((json_int_t)c.total));
	json_object_set_new(sum, "succeeded", json_integer((json_int_t)c.succeeded));
	json_object_set_new(sum, "failed", json_integer((json_int_t)c.failed));
	json_object_set_new(sum, "allowed_failure", json_integer((json_int_t)c.allowed_failure));
	json_object_set_new(sum, "timed_out", json_integer((json_int_t)c.timed_out));
	json_object_set_new(sum, "timed_out_allowed", json_integer((json_int_t)c.timed_out_allowed));
	json_object_set_new(sum, "cancelled", json_integer((json_int_t)c.cancelled));
	json_object_set_new(sum, "skipped", json_integer((json_int_t)c.skipped));
	json_object_set_new(sum, "other", json_integer((json_int_t)c.other));
	json_object_set_new(root, "summary", sum);
	json_t *cs = json_object_get(rep->root, "connector_stats");
	json_object_set_new(root, "connector_stats", json_is_array(cs) ? json_deep_copy(cs) : json_array());
	json_t *steps = json_array();
	for (size_t i = 0; i < rep->count; i++)
		json_array_append_new(steps, json_step(rep, i));
	json_object_set_new(root, "steps", steps);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return PW_ENOMEM;
	pw__buf_puts(b, text);
	pw__buf_putc(b, '\n');
	free(text);
	return 0;
}

/* ---- HTML ---- */

static const char html_style[] =
    "*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;color:#1f2328;background:#f6f8fa}"
    "header{background:#fff;border-bottom:1px solid #d0d7de;padding:18px 28px}"
    "h1{margin:0 0 6px;font-size:22px}h2{font-size:16px;margin:0 0 12px}"
    ".meta{color:#59636e}.meta span{margin-right:18px}"
    "main{padding:20px 28px}section{background:#fff;border:1px solid #d0d7de;border-radius:8px;"
    "padding:16px 18px;margin-bottom:20px}"
    ".badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;"
    "font-size:13px;vertical-align:middle;margin-left:8px}"
    ".s-succeeded{background:#1f883d}.s-failed{background:#cf222e}.s-timed_out{background:#bc4c00}"
    ".s-cancelled{background:#6e7781}.s-skipped{background:#afb8c1}.s-allowed_failure{background:#bf8700}"
    ".s-pending,.s-running,.s-error,.s-unknown{background:#8250df}"
    ".tl{position:relative}.axis{position:relative;height:20px;margin-left:200px;"
    "border-bottom:1px solid #d0d7de;font-size:11px;color:#59636e}"
    ".tick{position:absolute;top:0;height:20px;border-left:1px solid #d0d7de;padding-left:3px;"
    "white-space:nowrap}"
    ".row{display:flex;align-items:center;height:28px;border-bottom:1px dashed #eaeef2}"
    ".row .label{width:200px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;"
    "padding-right:10px;font-family:ui-monospace,monospace;font-size:13px}"
    ".track{position:relative;flex:1;height:100%}"
    ".bar{position:absolute;top:5px;height:18px;border-radius:4px;min-width:3px}"
    ".blabel{position:absolute;top:5px;line-height:18px;font-size:11px;color:#59636e;"
    "white-space:nowrap}"
    ".bar.s-skipped,.bar.s-cancelled{opacity:.8}"
    ".legend{margin-top:10px;color:#59636e;font-size:12px}.legend i{display:inline-block;width:10px;"
    "height:10px;border-radius:2px;margin:0 4px 0 12px}"
    "details{border:1px solid #d0d7de;border-radius:6px;margin-bottom:8px;background:#fff}"
    "summary{cursor:pointer;padding:8px 12px;list-style-position:inside}"
    "summary .name{font-family:ui-monospace,monospace;font-weight:600;margin:0 8px}"
    "summary .st{font-weight:600}summary .info{color:#59636e;margin-left:10px}"
    ".dot{display:inline-block;width:10px;height:10px;border-radius:50%}"
    ".err{margin:0 12px 8px;padding:8px 10px;background:#ffebe9;border:1px solid #ffcecb;"
    "border-radius:6px;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}"
    "pre.log{margin:0;padding:10px 12px;background:#0d1117;color:#e6edf3;font:12px/1.5 "
    "ui-monospace,monospace;overflow:auto;max-height:480px;border-radius:0 0 6px 6px;"
    "white-space:pre-wrap;word-break:break-all}"
    ".note{color:#59636e;font-size:12px;margin:0 12px 6px}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d0d7de;padding:3px 8px;"
    "text-align:left}footer{color:#59636e;font-size:12px;padding:0 28px 20px}";

/* A tick spacing giving 4..10 ticks over total ms: 1, 2 or 5 times a power of ten. */
static int64_t tick_step(int64_t total)
{
	int64_t step = 1;
	for (;;) {
		static const int mult[] = {1, 2, 5};
		for (int k = 0; k < 3; k++)
			if (total / (step * mult[k]) <= 8)
				return step * mult[k];
		step *= 10;
	}
}

/* The most steps that ran at the same time. */
static size_t max_parallel(const pw_report *rep)
{
	size_t best = 0;
	for (size_t i = 0; i < rep->count; i++) {
		const pw_report_step *a = &rep->steps[i];
		if (!a->timed)
			continue;
		size_t n = 0;
		for (size_t j = 0; j < rep->count; j++) {
			const pw_report_step *x = &rep->steps[j];
			if (x->timed && x->offset_ms <= a->offset_ms &&
			    x->offset_ms + x->duration_ms > a->offset_ms)
				n++;
		}
		if (n > best)
			best = n;
	}
	return best;
}

static void html_timeline(pw_buf *b, const pw_report *rep)
{
	int64_t total = rep->total_ms > 0 ? rep->total_ms : 1;
	pw__buf_printf(b,
	               "<section class=\"timeline\"><h2>Timeline</h2><div class=\"tl\"><div class=\"axis\">");
	int64_t step = tick_step(total);
	for (int64_t t = 0; t <= total && (t == 0 || (double)t / (double)total < 0.93); t += step) {
		pw__buf_printf(b, "<span class=\"tick\" style=\"left:%.3f%%\">",
		               100.0 * (double)t / (double)total);
		put_duration(b, t);
		pw__buf_puts(b, "</span>");
	}
	pw__buf_puts(b, "</div>\n");
	for (size_t i = 0; i < rep->count; i++) {
		const pw_report_step *s = &rep->steps[i];
		const char *name = jstr(s->json, "name"), *st = jstr(s->json, "status");
		pw__buf_puts(b, "<div class=\"row\" data-step=\"");
		put_str(b, name);
		pw__buf_puts(b, "\"><div class=\"label\" title=\"");
		put_str(b, name);
		pw__buf_puts(b, "\">");
		put_str(b, name);
		pw__buf_puts(b, "</div><div class=\"track\">");
		if (s->timed) {
			double left = 100.0 * (double)s->offset_ms / (double)total;
			double width = 100.0 * (double)s->duration_ms / (double)total;
			pw__buf_printf(b,
			               "<div class=\"bar s-%s\" style=\"left:%.3f%%;width:%.3f%%\" title=\"",
			               status_word(st), left, width);
			put_str(b, name);
			pw__buf_puts(b, ": ");
			put_str(b, st);
			pw__buf_puts(b, ", started at +");
			put_duration(b, s->offset_ms);
			pw__buf_puts(b, ", took ");
			put_duration(b, s->duration_ms);
			pw__buf_puts(b, "\"></div>");
			/* the duration beside the bar, on whichever side has room */
			if (left + width < 80.0)
				pw__buf_printf(b, "<span class=\"blabel\" style=\"left:calc(%.3f%% + 5px)\">",
				               left + width);
			else
				pw__buf_printf(b,
				               "<span class=\"blabel\" style=\"right:calc(%.3f%% + 5px)\">",
				               100.0 - left);
			put_duration(b, s->duration_ms);
			pw__buf_puts(b, "</span>");
		} else {
			pw__buf_printf(b,
			               "<div class=\"bar s-%s\" style=\"left:0;width:0\"></div>"
			               "<span style=\"color:#59636e;font-size:12px;padding-left:8px\">",
			               status_word(st));
			put_str(b, st);
			pw__buf_puts(b, ", not run</span>");
		}
		pw__buf_puts(b, "</div></div>\n");
	}
	pw__buf_printf(b,
	               "</div><div class=\"legend\">up to %zu steps ran at the same time (%lld parallel "
	               "allowed)",
	               max_parallel(rep), (long long)jint(rep->root, "jobs", 0));
	static const char *const legend[] = {"succeeded",       "failed",    "timed_out",
	                                     "allowed_failure", "cancelled", "skipped"};
	for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]); i++)
		pw__buf_printf(b, "<i class=\"s-%s\"></i>%s", legend[i], legend[i]);
	pw__buf_puts(b, "</div></section>\n");
}

static void html_step(pw_buf *b, const pw_report *rep, size_t i)
{
	const pw_report_step *s = &rep->steps[i];
	json_t *o = s->json;
	const char *st = jstr(o, "status");
	int failed = step_fails_run(o);
	pw__buf_printf(b, "<details class=\"step\" data-status=\"%s\" id=\"step-%zu\"%s%s><summary>",
	               status_word(st), i, pw__report_step_allowed(o) ? " data-allowed=\"true\"" : "",
	               failed ? " open" : "");
	pw__buf_printf(b, "<span class=\"dot s-%s\"></span><span class=\"name\">", status_word(st));
	put_str(b, jstr(o, "name"));
	pw__buf_puts(b, "</span><span class=\"st\">");
	put_str(b, st);
	pw__buf_puts(b, "</span><span class=\"info\">");
	pw_buf why = PW_BUF_INIT(0);
	outcome_text(&why, o);
	if (strcmp(pw__buf_cstr(&why), st))
		put_str(b, pw__buf_cstr(&why));
	pw__buf_dispose(&why);
	if (s->timed) {
		pw__buf_puts(b, " · ");
		put_duration(b, s->duration_ms);
	}
	if (*jstr(o, "connector")) {
		pw__buf_puts(b, " · ");
		put_str(b, jstr(o, "connector"));
	}
	if (jint(o, "attempts", 0) > 1)
		pw__buf_printf(b, " · %lld attempts", (long long)jint(o, "attempts", 0));
	pw__buf_puts(b, "</span></summary>\n");
	pw_buf detail = PW_BUF_INIT(0);
	error_text(&detail, json_object_get(o, "error"));
	if (detail.len) {
		pw__buf_puts(b, "<div class=\"err\">");
		put_text(b, detail.data, detail.len);
		pw__buf_puts(b, "</div>\n");
	}
	pw__buf_dispose(&detail);
	if (s->log) {
		size_t from = s->log_len > HTML_TAIL_BYTES
		                  ? tail_start(s->log, s->log_len, (size_t)-1, HTML_TAIL_BYTES)
		                  : 0;
		if (from > 0 || s->log_truncated) {
			pw__buf_printf(b, "<p class=\"note\">the last %zu of %zu bytes; the whole log is ",
			               s->log_len - from, s->log_total);
			put_str(b, rep->dir);
			pw__buf_putc(b, '/');
			put_str(b, jstr(o, "log"));
			pw__buf_puts(b, "</p>");
		}
		pw__buf_puts(b, "<pre class=\"log\">");
		if (s->log_len == 0)
			pw__buf_puts(b, "(no output)");
		put_text(b, s->log + from, s->log_len - from);
		pw__buf_puts(b, "</pre>");
	} else {
		pw__buf_puts(b, "<p class=\"note\">no log: the step did not run</p>");
	}
	pw__buf_puts(b, "</details>\n");
}

static void html_stats(pw_buf *b, const pw_report *rep)
{
	json_t *cs = json_object_get(rep->root, "connector_stats");
	if (!json_array_size(cs))
		return;
	pw__buf_puts(b, "<section><h2>Connectors</h2><table><tr><th>type</th><th>executions</th>"
	                "<th>successes</th><th>failures</th><th>total</th><th>slowest</th></tr>");
	size_t i;
	json_t *c;
	json_array_foreach(cs, i, c)
	{
		pw__buf_puts(b, "<tr><td>");
		put_str(b, jstr(c, "type"));
		pw__buf_printf(b, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>",
		               (long long)jint(c, "executions", 0), (long long)jint(c, "successes", 0),
		               (long long)jint(c, "failures", 0));
		put_duration(b, (int64_t)json_number_value(json_object_get(c, "total_ms")));
		pw__buf_puts(b, "</td><td>");
		put_duration(b, (int64_t)json_number_value(json_object_get(c, "max_ms")));
		pw__buf_puts(b, "</td></tr>");
	}
	pw__buf_puts(b, "</table></section>\n");
}

static void render_html(pw_buf *b, const pw_report *rep)
{
	counts c = count_steps(rep);
	const char *name = *jstr(rep->root, "pipeline") ? jstr(rep->root, "pipeline") : "pipeline";
	const char *status = jstr(rep->root, "status");
	pw__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	                "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	                "style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'\"><title>");
	put_str(b, name);
	pw__buf_puts(b, " — ");
	put_str(b, status);
	pw__buf_printf(b, " — pipewright</title><style>%s</style></head><body>\n", html_style);
	pw__buf_puts(b, "<header><h1>");
	put_str(b, name);
	pw__buf_printf(b, "<span class=\"badge s-%s\" id=\"run-status\">", status_word(status));
	put_str(b, status);
	pw__buf_puts(b, "</span></h1><div class=\"meta\">");
	pw__buf_puts(b, "<span>run <b>");
	put_str(b, jstr(rep->root, "run_id"));
	pw__buf_puts(b, "</b></span><span>started ");
	put_str(b, jstr(rep->root, "started_at"));
	pw__buf_puts(b, "</span><span>took ");
	put_duration(b, rep->total_ms);
	pw__buf_printf(b, "</span><span>%zu steps: %zu succeeded", c.total, c.succeeded);
	if (c.failed)
		pw__buf_printf(b, ", %zu failed", c.failed);
	if (c.timed_out)
		pw__buf_printf(b, ", %zu timed out", c.timed_out);
	if (c.timed_out_allowed)
		pw__buf_printf(b, " (%zu allowed to)", c.timed_out_allowed);
	if (c.allowed_failure)
		pw__buf_printf(b, ", %zu allowed to fail", c.allowed_failure);
	if (c.cancelled)
		pw__buf_printf(b, ", %zu cancelled", c.cancelled);
	if (c.skipped)
		pw__buf_printf(b, ", %zu skipped", c.skipped);
	pw__buf_puts(b, "</span><span>");
	put_str(b, jstr(rep->root, "pipeline_file"));
	pw__buf_puts(b, "</span></div></header>\n<main>\n");
	html_timeline(b, rep);
	pw__buf_puts(b, "<section class=\"steps\"><h2>Steps</h2>\n");
	for (size_t i = 0; i < rep->count; i++)
		html_step(b, rep, i);
	pw__buf_puts(b, "</section>\n");
	html_stats(b, rep);
	pw__buf_printf(b, "</main><footer>pipewright %s · report schema %d · logs in ", pw_version(),
	               PW_REPORT_SCHEMA_VERSION);
	put_str(b, rep->dir);
	pw__buf_puts(b, "</footer></body></html>\n");
}

int pw_report_render(char **out, size_t *out_len, const pw_report *rep, pw_report_format f, pw_error **err)
{
	*out = NULL;
	if (out_len)
		*out_len = 0;
	pw_buf b = PW_BUF_INIT(0);
	int rc = 0;
	switch (f) {
	case PW_REPORT_JUNIT:
		render_junit(&b, rep);
		break;
	case PW_REPORT_JSON:
		rc = render_json(&b, rep);
		break;
	case PW_REPORT_HTML:
		render_html(&b, rep);
		break;
	default:
		rc = pw_error_set(err, PW_EINVAL, "unknown report format %d", (int)f);
		break;
	}
	if (rc < 0) {
		pw__buf_dispose(&b);
		return rc;
	}
	if (out_len)
		*out_len = b.len;
	*out = pw__buf_detach(&b);
	return 0;
}
