/* Cluster access: kubeconfig files merged through KUBECONFIG, contexts, every credential kind
 * (token, tokenFile, client certificate files and data, exec plugins with their expiry cache),
 * insecure-skip-tls-verify warned, and in-cluster service-account config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/kubeconfig.h"
#include "pwtest.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/pw-kubeconfig-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	/* "-----BEGIN X-----" in base64 */
	put("a.yaml",
	    "apiVersion: v1\nkind: Config\ncurrent-context: ctx-token\n"
	    "clusters:\n"
	    "- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n    certificate-authority: ca.pem\n"
	    "- name: c2\n  cluster:\n    server: https://kube.example.com\n"
	    "    certificate-authority-data: LS0tLS1CRUdJTiBYLS0tLS0=\n    insecure-skip-tls-verify: true\n"
	    "users:\n"
	    "- name: u-token\n  user:\n    token: abcd-token-1234\n"
	    "- name: u-file\n  user:\n    tokenFile: tok.txt\n"
	    "- name: u-cert\n  user:\n    client-certificate: /etc/c.pem\n    client-key: k.pem\n"
	    "- name: u-data\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBYLS0tLS0=\n"
	    "    client-key-data: LS0tLS1CRUdJTiBYLS0tLS0=\n"
	    "- name: u-exec\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
	    "      command: ./plugin.sh\n      args: [\"get-token\", \"--cluster\", \"c1\"]\n"
	    "      env:\n      - name: PLUGIN_MODE\n        value: fresh\n"
	    "contexts:\n"
	    "- name: ctx-token\n  context: {cluster: c1, user: u-token, namespace: team-a}\n"
	    "- name: ctx-file\n  context: {cluster: c1, user: u-file}\n"
	    "- name: ctx-cert\n  context: {cluster: c1, user: u-cert}\n"
	    "- name: ctx-data\n  context: {cluster: c2, user: u-data}\n"
	    "- name: ctx-exec\n  context: {cluster: c1, user: u-exec}\n");
	put("b.yaml", "apiVersion: v1\nkind: Config\ncurrent-context: ctx-b\n"
	              "clusters:\n- name: c1\n  cluster:\n    server: https://other:1\n"
	              "- name: cb\n  cluster:\n    server: https://b.example.com:8443\n"
	              "users:\n- name: u-token\n  user:\n    token: other-token\n"
	              "contexts:\n- name: ctx-b\n  context: {cluster: cb, user: u-token}\n");
	put("tok.txt", "file-token-5678\n");
	/* the plugin counts its runs; its credential expires in an hour unless PLUGIN_EXPIRED */
	char script[2048];
	snprintf(
	    script, sizeof(script),
	    "#!/bin/sh\n"
	    "echo run >> '%s/plugin.runs'\n"
	    "[ \"$1\" = get-token ] && [ \"$PLUGIN_MODE\" = fresh ] || exit 3\n"
	    "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 4;; esac\n"
	    "n=$(wc -l < '%s/plugin.runs' | tr -d ' ')\n"
	    "if [ -n \"$PLUGIN_EXPIRED\" ]; then exp=2001-01-01T00:00:00Z; else exp=$(date -u -d '+1 hour' "
	    "+%%Y-%%m-%%dT%%H:%%M:%%SZ); fi\n"
	    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
	    "\"status\":{\"token\":\"exec-token-%%s\",\"expirationTimestamp\":\"%%s\"}}' \"$n\" \"$exp\"\n",
	    dir, dir);
	put("plugin.sh", script);
	char p[256];
	snprintf(p, sizeof(p), "%s/plugin.sh", dir);
	chmod(p, 0755);
}

static pw_kube_access *load(const char *files, const char *ctx)
{
	char list[1024] = "";
	const char *f = files;
	while (*f) {
		size_t n = strcspn(f, ":");
		char one[64];
		snprintf(one, sizeof(one), "%.*s", (int)n, f);
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s/%s", l ? ":" : "", dir, one);
		f += n;
		if (*f)
			f++;
	}
	pw_kube_access *a = NULL;
	pw_error *e = NULL;
	if (pw__kube_access_load(&a, list, ctx, &e) < 0)
		fprintf(stderr, "  load %s: %s\n", files, pw_error_message(e));
	pw_error_free(e);
	return a;
}

PW_TEST(token_and_context_namespace)
{
	setup();
	pw_kube_access *a = load("a.yaml", NULL);
	PW_REQUIRE(a);
	PW_CHECK_STR(a->server, "https://127.0.0.1:6443");
	PW_CHECK_STR(a->context, "ctx-token");
	PW_CHECK_STR(a->namespace_, "team-a");
	char want[128];
	snprintf(want, sizeof(want), "%s/ca.pem", dir);
	PW_CHECK_STR(a->ca_file, want); /* relative to the kubeconfig */
	PW_CHECK(!a->insecure && !a->warning);
	char *tok = NULL;
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, NULL), 0);
	PW_CHECK_STR(tok, "abcd-token-1234");
	pw_free(tok);
	pw_http_endpoint ep;
	pw__kube_access_endpoint(&ep, a);
	PW_CHECK_STR(ep.base_url, "https://127.0.0.1:6443");
	PW_CHECK_STR(ep.ca_file, want);
	pw__kube_access_free(a);
}

PW_TEST(token_file_reread_on_refresh)
{
	setup();
	pw_kube_access *a = load("a.yaml", "ctx-file");
	PW_REQUIRE(a);
	char *tok = NULL;
	pw__kube_access_token(&tok, a, 0, NULL);
	PW_CHECK_STR(tok, "file-token-5678");
	pw_free(tok);
	put("tok.txt", "rotated-token-9\n");
	pw__kube_access_token(&tok, a, 0, NULL);
	PW_CHECK_STR(tok, "file-token-5678");
	pw_free(tok);
	pw__kube_access_token(&tok, a, 1, NULL);
	PW_CHECK_STR(tok, "rotated-token-9");
	pw_free(tok);
	put("tok.txt", "file-token-5678\n");
	pw__kube_access_free(a);
}

PW_TEST(client_certificates)
{
	setup();
	pw_kube_access *a = load("a.yaml", "ctx-cert");
	PW_REQUIRE(a);
	PW_CHECK_STR(a->cert_file, "/etc/c.pem");
	char want[128];
	snprintf(want, sizeof(want), "%s/k.pem", dir);
	PW_CHECK_STR(a->key_file, want);
	char *tok = (char *)1;
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, NULL), 0);
	PW_CHECK(tok == NULL);
	pw__kube_access_free(a);

	a = load("a.yaml", "ctx-data");
	PW_REQUIRE(a);
	PW_CHECK_STR(a->cert_pem, "-----BEGIN X-----");
	PW_CHECK_STR(a->key_pem, "-----BEGIN X-----");
	PW_CHECK_STR(a->ca_pem, "-----BEGIN X-----");
	PW_CHECK(a->insecure);
	PW_CHECK_CONTAINS(a->warning, "insecure-skip-tls-verify");
	PW_CHECK_CONTAINS(a->warning, "c2");
	pw__kube_access_free(a);
}

PW_TEST(kubeconfig_list_merged)
{
	setup();
	/* a.yaml first: its c1, u-token and current-context win; b.yaml adds ctx-b; a missing file
	 * in the list is skipped */
	pw_kube_access *a = load("missing.yaml:a.yaml:b.yaml", NULL);
	PW_REQUIRE(a);
	PW_CHECK_STR(a->context, "ctx-token");
	PW_CHECK_STR(a->server, "https://127.0.0.1:6443");
	pw__kube_access_free(a);
	a = load("a.yaml:b.yaml", "ctx-b");
	PW_REQUIRE(a);
	PW_CHECK_STR(a->server, "https://b.example.com:8443");
	PW_CHECK_STR(a->token, "abcd-token-1234"); /* u-token from a.yaml */
	pw__kube_access_free(a);
	a = load("b.yaml:a.yaml", NULL);
	PW_REQUIRE(a);
	PW_CHECK_STR(a->context, "ctx-b");
	pw__kube_access_free(a);
	/* through the environment */
	char list[256];
	snprintf(list, sizeof(list), "%s/b.yaml:%s/a.yaml", dir, dir);
	setenv("KUBECONFIG", list, 1);
	pw_error *e = NULL;
	PW_CHECK_INT(pw__kube_access_load(&a, NULL, "ctx-exec", &e), 0);
	PW_CHECK(a && a->exec);
	pw__kube_access_free(a);
	unsetenv("KUBECONFIG");
}

PW_TEST(unknown_context_lists_the_known)
{
	setup();
	char p[128];
	snprintf(p, sizeof(p), "%s/a.yaml", dir);
	pw_kube_access *a = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__kube_access_load(&a, p, "prod", &e), PW_ECONFIG);
	PW_REQUIRE(e);
	PW_CHECK_CONTAINS(pw_error_message(e), "no context 'prod'");
	PW_CHECK_CONTAINS(pw_error_hint(e), "ctx-token, ctx-file");
	PW_CHECK_STR(pw_error_key(e), "context");
	pw_error_free(e);
	e = NULL;
	snprintf(p, sizeof(p), "%s/none.yaml", dir);
	PW_CHECK_INT(pw__kube_access_load(&a, p, NULL, &e), PW_ENOTFOUND);
	pw_error_free(e);
	e = NULL;
	put("broken.yaml", "clusters: [\n");
	snprintf(p, sizeof(p), "%s/broken.yaml", dir);
	PW_CHECK_INT(pw__kube_access_load(&a, p, NULL, &e), PW_ECONFIG);
	PW_CHECK_CONTAINS(e ? pw_error_message(e) : NULL, "broken.yaml");
	pw_error_free(e);
}

static int plugin_runs(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/plugin.runs", dir);
	FILE *f = fopen(p, "r");
	int n = 0;
	char line[64];
	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

PW_TEST(exec_plugin_cached_until_expiry)
{
	setup();
	char p[128];
	snprintf(p, sizeof(p), "%s/plugin.runs", dir);
	unlink(p);
	pw_kube_access *a = load("a.yaml", "ctx-exec");
	PW_REQUIRE(a);
	char *tok = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", pw_error_message(e));
	PW_CHECK_STR(tok, "exec-token-1");
	pw_free(tok);
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, NULL), 0);
	PW_CHECK_STR(tok, "exec-token-1"); /* cached: valid for an hour */
	pw_free(tok);
	PW_CHECK_INT(plugin_runs(), 1);
	/* a 401 makes the caller ask for a refresh */
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 1, NULL), 0);
	PW_CHECK_STR(tok, "exec-token-2");
	pw_free(tok);
	/* an expired credential is fetched again on every use */
	setenv("PLUGIN_EXPIRED", "1", 1);
	pw__kube_access_token(&tok, a, 1, NULL);
	pw_free(tok);
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, NULL), 0);
	PW_CHECK_STR(tok, "exec-token-4");
	pw_free(tok);
	unsetenv("PLUGIN_EXPIRED");
	PW_CHECK_INT(plugin_runs(), 4);
	pw__kube_access_free(a);
}

PW_TEST(exec_plugin_failure)
{
	setup();
	put("c.yaml",
	    "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
	    "users:\n- name: u\n  user:\n    exec:\n      command: ./plugin.sh\n      args: [wrong]\n"
	    "- name: m\n  user:\n    exec:\n      command: no-such-plugin-here\n"
	    "      installHint: apt-get install no-such-plugin\n"
	    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n- name: y\n  context: {cluster: c, "
	    "user: m}\n");
	pw_kube_access *a = load("c.yaml", NULL);
	PW_REQUIRE(a);
	char *tok = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__kube_access_token(&tok, a, 0, &e), PW_EPERM);
	PW_CHECK_CONTAINS(e ? pw_error_message(e) : NULL, "exit code 3");
	pw_error_free(e);
	pw__kube_access_free(a);
	a = load("c.yaml", "y");
	PW_REQUIRE(a);
	e = NULL;
	PW_CHECK(pw__kube_access_token(&tok, a, 0, &e) < 0);
	PW_CHECK_CONTAINS(e ? pw_error_hint(e) : NULL, "apt-get install no-such-plugin");
	pw_error_free(e);
	pw__kube_access_free(a);
}

PW_TEST(in_cluster)
{
	setup();
	char sa[128];
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	put("sa/token", "in-cluster-token-xyz\n");
	put("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n");
	put("sa/namespace", "build-ns\n");
	unsetenv("KUBERNETES_SERVICE_HOST");
	pw_kube_access *a = NULL;
	pw_error *e = NULL;
	PW_CHECK_INT(pw__kube_access_in_cluster(&a, sa, &e), PW_ENOTFOUND);
	pw_error_free(e);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	PW_CHECK_INT(pw__kube_access_in_cluster(&a, sa, NULL), 0);
	PW_REQUIRE(a);
	PW_CHECK_STR(a->server, "https://10.96.0.1:443");
	PW_CHECK_STR(a->namespace_, "build-ns");
	PW_CHECK_STR(a->token, "in-cluster-token-xyz");
	char want[160];
	snprintf(want, sizeof(want), "%s/ca.crt", sa);
	PW_CHECK_STR(a->ca_file, want);
	pw__kube_access_free(a);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	PW_CHECK_INT(pw__kube_access_in_cluster(&a, sa, NULL), 0);
	PW_CHECK_STR(a ? a->server : NULL, "https://[fd00::1]:443");
	pw__kube_access_free(a);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

PW_TEST(rfc3339)
{
	PW_CHECK(pw__rfc3339_parse("1970-01-01T00:00:10Z") == 10);
	PW_CHECK(pw__rfc3339_parse("1970-01-01T01:00:10.123456789+01:00") == 10);
	PW_CHECK(pw__rfc3339_parse("2026-11-28T13:30:00Z") == 1795872600LL);
	PW_CHECK(pw__rfc3339_parse("yesterday") == -1);
	PW_CHECK(pw__rfc3339_parse("2026-11-28T13:30:00") == -1);
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
	if (dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

PW_TEST_MAIN()
