/* The Kubernetes connector through tests/faults/fault_proxy.py (HTTPS on both sides, with the
 * fake cluster's certificates) in front of tests/kubernetes/fake_apiserver.py: 429 with
 * Retry-After and bursts of 500/502/503 end in success after retries; a reset mid-response of
 * a read is retried; malformed JSON and an answer slower than the deadline end in a clear error
 * without a hang; a log stream cut mid-line loses no line and repeats none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "faults/proxy.h"
#include "net/http.h"
#include "net/json.h"
#include "fake_k8s.h"
#include "pwtest.h"

static char proxy_base[64];
static char proxy_kubeconfig[128];

static int proxy_start(void)
{
	reset();
	if (proxy_kubeconfig[0])
		return 0;
	char up[64], cert[128], key[128], ca[128];
	snprintf(up, sizeof(up), "tcp:127.0.0.1:%d", srv.fs.port[0]);
	snprintf(cert, sizeof(cert), "%s/srv.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/srv.key", srv.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
	const char *extra[] = {"--upstream-tls", ca, "--tls", cert, key, NULL};
	pw_fault_proxy_set_ca(ca);
	if (pw_fault_proxy_start(up, extra) < 0)
		return -1;
	snprintf(proxy_base, sizeof(proxy_base), "%s", pw_fault_proxy_base());
	/* the fake cluster's kubeconfig, pointed at the proxy */
	FILE *f = fopen(srv.kubeconfig, "r");
	if (!f)
		return -1;
	pw_buf b = PW_BUF_INIT(0);
	char l[4096];
	while (fgets(l, sizeof(l), f)) {
		char *at = strstr(l, srv.base);
		if (at) {
			pw__buf_append(&b, l, (size_t)(at - l));
			pw__buf_puts(&b, proxy_base);
			pw__buf_puts(&b, at + strlen(srv.base));
		} else {
			pw__buf_puts(&b, l);
		}
	}
	fclose(f);
	snprintf(proxy_kubeconfig, sizeof(proxy_kubeconfig), "%s/proxy-kubeconfig", srv.dir);
	f = fopen(proxy_kubeconfig, "w");
	if (f) {
		fputs(pw__buf_cstr(&b), f);
		fclose(f);
	}
	pw__buf_dispose(&b);
	return f ? 0 : -1;
}

static const char *pcfg(const char *extra)
{
	static char b[4096];
	snprintf(b, sizeof(b),
	         "{\"kubeconfig\":\"%s\",\"image\":\"busybox:1.36\",\"pending_timeout\":10%s%s}",
	         proxy_kubeconfig, extra && *extra ? "," : "", extra ? extra : "");
	return b;
}

/* No Job or pod is left, and every request the server saw was valid. */
static void check_clean(void)
{
	json_t *st = control("/_test/state", NULL);
	PW_CHECK_INT(list_has(st, "objects", "jobs "), 0);
	PW_CHECK_INT(json_array_size(json_object_get(st, "schema_errors")), 0);
	json_decref(st);
}

PW_TEST(retry_after_429_then_success)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^POST /apis/batch/v1/namespaces/ci/jobs\",\"action\":\"status\",\"code\":429,"
	    "\"headers\":{\"Retry-After\":\"1\",\"Content-Type\":\"application/json\"},"
	    "\"body\":\"{\\\"kind\\\":\\\"Status\\\",\\\"apiVersion\\\":\\\"v1\\\",\\\"status\\\":"
	    "\\\"Failure\\\","
	    "\\\"message\\\":\\\"too many "
	    "requests\\\",\\\"reason\\\":\\\"TooManyRequests\\\",\\\"code\\\":429}\"}]");
	run x;
	run_step(&x, NULL, pcfg("\"command\":\"echo after-429\""), 60, NULL, NULL, 0);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK(x.r && pw_result_exit_code(x.r) == 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out.b), "after-429");
	check_clean();
	run_dispose(&x);
}

PW_TEST(burst_of_5xx_then_success)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^GET /api/v1/namespaces/ci/pods\\\\?\",\"action\":\"status\",\"code\":500},"
	    "{\"match\":\"^GET /api/v1/namespaces/ci/pods\\\\?\",\"action\":\"status\",\"code\":502},"
	    "{\"match\":\"^GET /api/v1/namespaces/ci/pods\\\\?\",\"action\":\"status\",\"code\":503}]");
	run x;
	run_step(&x, NULL, pcfg("\"command\":\"echo after-5xx\""), 60, NULL, NULL, 0);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out.b), "after-5xx");
	check_clean();
	run_dispose(&x);
}

PW_TEST(reset_mid_read_is_retried)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^GET /api/v1/namespaces/ci/pods\\\\?\",\"action\":\"reset\",\"n\":30}]");
	run x;
	run_step(&x, NULL, pcfg("\"command\":\"echo after-reset\""), 60, NULL, NULL, 0);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out.b), "after-reset");
	check_clean();
	run_dispose(&x);
}

/* The first pod lists answer malformed JSON: the connector reads again and the step ends with
 * its output. */
PW_TEST(malformed_json_lists_are_survived)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules("[{\"match\":\"^GET /api/v1/namespaces/ci/pods\\\\?\",\"action\":\"body\",\"text\":"
	               "\"{\\\"kind\\\":\\\"PodList\\\",\\\"items\\\":[{\",\"times\":2}]");
	run x;
	run_step(&x, NULL, pcfg("\"command\":\"echo after-malformed\""), 30, NULL, NULL, 0);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, 0);
	PW_CHECK(x.ms < 25000);
	PW_CHECK_CONTAINS(pw__buf_cstr(&x.out.b), "after-malformed");
	pw_fault_rules("[]");
	check_clean();
	run_dispose(&x);
}

PW_TEST(answer_slower_than_the_deadline_times_out)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^POST /apis/batch/v1/namespaces/ci/jobs\",\"action\":\"delay\",\"seconds\":20}]");
	run x;
	run_step(&x, NULL, pcfg("\"command\":\"echo never\""), 2, NULL, NULL, 0);
	PW_CHECK_INT(x.rc, PW_ETIMEOUT);
	PW_CHECK(x.ms < 15000);
	run_dispose(&x);
}

/* The log follow is cut mid-line: the connector resumes it and every line arrives whole, once,
 * in order. */
PW_TEST(log_stream_cut_mid_line_loses_nothing)
{
	PW_REQUIRE(proxy_start() == 0);
	pw_fault_rules(
	    "[{\"match\":\"^GET /api/v1/namespaces/ci/pods/[^/]+/log\",\"action\":\"cut\",\"n\":900}]");
	run x;
	run_step(&x, NULL,
	         pcfg("\"command\":\"i=0; while [ $i -lt 60 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; "
	              "i=$((i+1)); [ $i -eq 30 ] && sleep 1; done\""),
	         60, NULL, NULL, 0);
	pw_fault_rules_used();
	PW_CHECK_INT(x.rc, 0);
	pw_buf want = PW_BUF_INIT(0);
	for (int i = 0; i < 60; i++)
		pw__buf_printf(&want, "line-%d-abcdefghijklmnopqrstuvwxyz\n", i);
	PW_CHECK_STR(x.r ? pw_result_stdout(x.r) : "", pw__buf_cstr(&want));
	pw__buf_dispose(&want);
	check_clean();
	run_dispose(&x);
}

PW_TEST_MAIN()
