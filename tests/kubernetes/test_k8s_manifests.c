/* Kubernetes validation and manifest generation: name, label, quantity and image rules; a corpus
 * of invalid configs each with its expected error; generated Job/Secret/PVC/Namespace/
 * NetworkPolicy manifests validated against the official swagger.json and read back from YAML. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/kubeconfig.h"
#include "connectors/kubernetes/k8s.h"
#include "core/buf.h"
#include "net/json.h"
#include "pipewright/manager.h"
#include "pipewright/secrets.h"
#include "pwtest.h"

static const char *src_dir(void)
{
	const char *s = getenv("PW_SOURCE_DIR");
	return s ? s : ".";
}

/* Runs the schema checker on YAML text; returns its exit status and its report in *report. */
static int schema_check(const char *yaml_text, char **report)
{
	char in[] = "/tmp/pw-k8s-yaml-XXXXXX";
	int fd = mkstemp(in);
	if (fd < 0)
		return -1;
	size_t n = strlen(yaml_text);
	if (write(fd, yaml_text, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	close(fd);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/kubernetes/k8s_schema.py' < '%s' 2>&1", src_dir(), in);
	FILE *p = popen(cmd, "r");
	pw_buf b = PW_BUF_INIT(0);
	char chunk[4096];
	size_t got;
	while (p && (got = fread(chunk, 1, sizeof(chunk), p)) > 0)
		pw__buf_append(&b, chunk, got);
	int st = p ? pclose(p) : -1;
	unlink(in);
	*report = pw__buf_detach(&b);
	return st;
}

PW_TEST(dns_names_labels)
{
	PW_CHECK(pw__k8s_is_dns_label("ci-1", 63));
	PW_CHECK(!pw__k8s_is_dns_label("Ci", 63));
	PW_CHECK(!pw__k8s_is_dns_label("ci-", 63));
	PW_CHECK(!pw__k8s_is_dns_label("", 63));
	PW_CHECK(!pw__k8s_is_dns_label("abcdef", 5));
	PW_CHECK(pw__k8s_is_dns_subdomain("fast.ssd-1"));
	PW_CHECK(!pw__k8s_is_dns_subdomain("fast..ssd"));
	PW_CHECK(!pw__k8s_is_dns_subdomain("fast_ssd"));
	PW_CHECK(pw__k8s_is_label_key("app.kubernetes.io/name"));
	PW_CHECK(pw__k8s_is_label_key("Team_A"));
	PW_CHECK(!pw__k8s_is_label_key("/x"));
	PW_CHECK(!pw__k8s_is_label_key("a/b/c"));
	PW_CHECK(pw__k8s_is_label_value(""));
	PW_CHECK(pw__k8s_is_label_value("v1.2_x-y"));
	PW_CHECK(!pw__k8s_is_label_value("a b"));
	char v[64];
	pw__k8s_label_value(v, sizeof(v), "--run 2026/01/02 #7--");
	PW_CHECK_STR(v, "run-2026-01-02--7");
	PW_CHECK(pw__k8s_is_label_value(v));
	char job[64];
	pw__k8s_job_name(job, sizeof(job), "Build & Test: a very long step name that goes on and on forever",
	                 "20260102-030405-ABCDEF123456", "k7x2q");
	PW_CHECK(pw__k8s_is_dns_label(job, 63));
	PW_CHECK_CONTAINS(job, "abcdef123456-k7x2q");
}

PW_TEST(quantities)
{
	double d = 0;
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "100m"), 0);
	PW_CHECK(d > 0.0999 && d < 0.1001);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "128Mi"), 0);
	PW_CHECK(d == 134217728.0);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "1.5Gi"), 0);
	PW_CHECK(d == 1610612736.0);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "1e3"), 0);
	PW_CHECK(d == 1000.0);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "2E-3"), 0);
	PW_CHECK(d > 0.00199 && d < 0.00201);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, ".5"), 0);
	PW_CHECK_INT(pw__k8s_parse_quantity(&d, "1k"), 0);
	PW_CHECK(d == 1000.0);
	PW_CHECK(pw__k8s_parse_quantity(&d, "1KB") < 0);
	PW_CHECK(pw__k8s_parse_quantity(&d, "Mi") < 0);
	PW_CHECK(pw__k8s_parse_quantity(&d, "1 Gi") < 0);
	PW_CHECK(pw__k8s_parse_quantity(&d, "") < 0);
	PW_CHECK(pw__k8s_parse_quantity(&d, "1e") < 0);
}

PW_TEST(images)
{
	const char *good[] = {
	    "alpine",
	    "alpine:3.19",
	    "library/alpine:latest",
	    "registry.example.com:5000/team/app:v1.2-rc_1",
	    "localhost/app",
	    "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "a__b/c.d-e:T",
	    NULL};
	const char *bad[] = {"",          "Alpine",    "alpine:",
	                     "alpine:-x", "a b",       "alpine@sha256:xyz",
	                     "/alpine",   "alpine//x", "alpine:" /* empty tag */,
	                     "a..b",      NULL};
	for (int i = 0; good[i]; i++) {
		if (!pw__k8s_is_image_ref(good[i]))
			fprintf(stderr, "  rejected %s\n", good[i]);
		PW_CHECK(pw__k8s_is_image_ref(good[i]));
	}
	for (int i = 0; bad[i]; i++) {
		if (pw__k8s_is_image_ref(bad[i]))
			fprintf(stderr, "  accepted %s\n", bad[i]);
		PW_CHECK(!pw__k8s_is_image_ref(bad[i]));
	}
}

PW_TEST(invalid_config_corpus)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/kubernetes/corpus/invalid_configs.jsonl", src_dir());
	FILE *f = fopen(path, "r");
	PW_REQUIRE(f);
	char line[8192];
	int cases = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] != '{')
			continue;
		json_error_t je;
		json_t *c = json_loads(line, 0, &je);
		PW_REQUIRE(c);
		const char *key = json_string_value(json_object_get(c, "key"));
		const char *want = json_string_value(json_object_get(c, "error"));
		pw_error *e = NULL;
		int rc = pw__k8s_validate_config(json_object_get(c, "config"), "build", &e);
		cases++;
		PW_CHECK_INT(rc, PW_ECONFIG);
		int found = 0;
		for (const pw_error *x = e; x; x = pw_error_next(x))
			if (pw_error_key(x) && !strcmp(pw_error_key(x), key) &&
			    strstr(pw_error_message(x), want) && strstr(pw_error_message(x), key))
				found = 1;
		if (!found) {
			fprintf(stderr, "  case %d (%s): wanted key %s with '%s', got:\n", cases, line, key,
			        want);
			for (const pw_error *x = e; x; x = pw_error_next(x))
				fprintf(stderr, "    [%s] %s\n", pw_error_key(x) ? pw_error_key(x) : "-",
				        pw_error_message(x));
		}
		PW_CHECK(found);
		pw_error_free(e);
		json_decref(c);
	}
	fclose(f);
	PW_CHECK(cases >= 30);
}

PW_TEST(valid_config_passes)
{
	json_error_t je;
	json_t *cfg = json_loads(
	    "{\"image\":\"registry.example.com/ci/build:1.0\",\"command\":\"make test\",\"namespace\":\"ci\","
	    "\"parameters\":{\"use_pvc\":true,\"storage_class\":\"fast-ssd\",\"storage_size\":\"2Gi\","
	    "\"resource_requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},\"resource_limits\":{\"cpu\":1,"
	    "\"memory\":\"1Gi\"},\"service_account\":\"ci-runner\"},\"labels\":{\"team\":\"core\"},"
	    "\"node_selector\":{\"kubernetes.io/"
	    "arch\":\"amd64\"},\"tolerations\":[{\"key\":\"ci\",\"operator\":"
	    "\"Exists\",\"effect\":\"NoSchedule\"}],\"pending_timeout\":60,\"network_policy\":\"deny-all\"}",
	    0, &je);
	PW_REQUIRE(cfg);
	pw_error *e = NULL;
	PW_CHECK_INT(pw__k8s_validate_config(cfg, "build", &e), 0);
	PW_CHECK(e == NULL);
	pw_error_free(e);
	json_decref(cfg);
}

static json_t *full_config(void)
{
	json_error_t je;
	return json_loads(
	    "{\"image\":\"registry.example.com/ci/build:1.0\",\"command\":\"echo $GREETING; make test\","
	    "\"args\":[\"x\",1],\"namespace\":\"ci\",\"working_dir\":\"/src\","
	    "\"parameters\":{\"use_pvc\":true,\"storage_class\":\"fast-ssd\",\"storage_size\":\"2Gi\","
	    "\"access_mode\":\"ReadWriteMany\",\"resource_requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},"
	    "\"resource_limits\":{\"cpu\":1,\"memory\":\"1Gi\"},\"service_account\":\"ci-runner\"},"
	    "\"labels\":{\"team\":\"core\",\"version\":\"1.10\"},\"annotations\":{\"note\":\"true\",\"n\":"
	    "\"007\"},"
	    "\"node_selector\":{\"kubernetes.io/arch\":\"amd64\"},\"tolerations\":[{\"key\":\"ci\","
	    "\"operator\":\"Equal\",\"value\":\"yes\",\"effect\":\"NoExecute\",\"toleration_seconds\":30}],"
	    "\"image_pull_secrets\":[\"regcred\"],\"image_pull_policy\":\"IfNotPresent\","
	    "\"env\":{\"DEBUG\":true,\"LEVEL\":3,\"EMPTY\":\"\"},\"security_context\":{\"run_as_user\":1000,"
	    "\"run_as_group\":1000,\"run_as_non_root\":true,\"read_only_root_filesystem\":true,\"fs_group\":"
	    "2000},"
	    "\"ttl_seconds_after_finished\":120}",
	    0, &je);
}

PW_TEST(manifests_validate_against_swagger)
{
	json_t *cfg = full_config();
	PW_REQUIRE(cfg);
	PW_CHECK_INT(pw__k8s_validate_config(cfg, "build", NULL), 0);
	pw_map *env = pw_map_new();
	pw_map_set(env, "GREETING", "hello: world");
	pw_map_set(env, "NUM", "0123");
	pw_map *sec = pw_map_new();
	pw_map_set(sec, "API_TOKEN", "s3cr3t-value-123");
	pw_k8s_job_params p = {cfg,
	                       "20260102-abc",
	                       "build",
	                       "build-20260102abc-k7x2q",
	                       "ci",
	                       90.5,
	                       env,
	                       sec,
	                       "build-20260102abc-k7x2q-env",
	                       "pipewright-ws-20260102abc"};
	json_t *docs[6] = {0};
	PW_CHECK_INT(pw__k8s_job_manifest(&docs[0], &p), 0);
	PW_CHECK_INT(pw__k8s_secret_manifest(&docs[1], &p, 0), 0);
	PW_CHECK_INT(pw__k8s_pvc_manifest(&docs[2], cfg, p.pvc_name, "ci", p.run_id), 0);
	PW_CHECK_INT(pw__k8s_namespace_manifest(&docs[3], "ci-20260102abc", p.run_id), 0);
	PW_CHECK_INT(pw__k8s_network_policy_manifest(&docs[4], "deny-all", "pipewright-x", "ci", p.run_id),
	             0);
	pw_buf y = PW_BUF_INIT(0);
	for (int i = 0; i < 5; i++) {
		PW_REQUIRE(docs[i]);
		PW_CHECK_INT(pw__k8s_yaml_emit(&y, docs[i]), 0);
	}
	char *report = NULL;
	int st = schema_check(pw__buf_cstr(&y), &report);
	if (st != 0)
		fprintf(stderr, "  schema report:\n%s\n--- yaml:\n%s\n", report, pw__buf_cstr(&y));
	PW_CHECK_INT(st, 0);
	PW_CHECK_CONTAINS(report, "documents: 5");
	free(report);

	/* the security defaults and the Job's own limits */
	json_t *job = docs[0];
	PW_CHECK_INT(json_integer_value(pw__json_get(job, "spec.backoffLimit")), 0);
	PW_CHECK_INT(json_integer_value(pw__json_get(job, "spec.activeDeadlineSeconds")), 91);
	PW_CHECK_INT(json_integer_value(pw__json_get(job, "spec.ttlSecondsAfterFinished")), 120);
	json_t *c = pw__json_get(job, "spec.template.spec.containers.0");
	PW_CHECK(json_is_false(pw__json_get(c, "securityContext.allowPrivilegeEscalation")));
	PW_CHECK_STR(json_string_value(pw__json_get(c, "securityContext.capabilities.drop.0")), "ALL");
	PW_CHECK_STR(
	    json_string_value(pw__json_get(job, "spec.template.spec.securityContext.seccompProfile.type")),
	    "RuntimeDefault");
	PW_CHECK(json_is_true(pw__json_get(job, "spec.template.spec.automountServiceAccountToken")));
	PW_CHECK_STR(json_string_value(pw__json_get(c, "volumeMounts.0.mountPath")), "/workspace");
	/* the secret goes by reference, never inline */
	char *jt = json_dumps(job, 0);
	PW_CHECK(strstr(jt, "s3cr3t-value-123") == NULL);
	PW_CHECK_CONTAINS(
	    jt, "\"secretKeyRef\": {\"name\": \"build-20260102abc-k7x2q-env\", \"key\": \"API_TOKEN\"}");
	free(jt);

	/* YAML read back gives the same objects: quoting keeps "true", "007", "1.10" strings */
	const char *text = pw__buf_cstr(&y);
	const char *d = text;
	for (int i = 0; i < 5; i++) {
		const char *next = strstr(d + 3, "\n---");
		size_t len = next ? (size_t)(next - d) + 1 : strlen(d);
		json_t *back = NULL;
		PW_CHECK_INT(pw__yaml_to_json(&back, d, len, "yaml", NULL), 0);
		if (!json_equal(back, docs[i])) {
			char *a = json_dumps(back, JSON_SORT_KEYS), *b = json_dumps(docs[i], JSON_SORT_KEYS);
			fprintf(stderr, "  round trip %d differs:\n%s\n%s\n", i, a, b);
			free(a);
			free(b);
		}
		PW_CHECK(json_equal(back, docs[i]));
		json_decref(back);
		if (!next)
			break;
		d = next + 1;
	}
	pw__buf_dispose(&y);

	/* redacted Secret for plan */
	json_t *red = NULL;
	PW_CHECK_INT(pw__k8s_secret_manifest(&red, &p, 1), 0);
	pw_buf r = PW_BUF_INIT(0);
	pw__k8s_yaml_emit(&r, red);
	PW_CHECK(strstr(pw__buf_cstr(&r), "s3cr3t") == NULL);
	PW_CHECK_CONTAINS(pw__buf_cstr(&r), "API_TOKEN: '***'");
	pw__buf_dispose(&r);
	json_decref(red);
	for (int i = 0; i < 5; i++)
		json_decref(docs[i]);
	pw_map_free(env);
	pw_map_free(sec);
	json_decref(cfg);
}

PW_TEST(minimal_manifest_defaults)
{
	json_error_t je;
	json_t *cfg = json_loads("{\"image\":\"alpine\",\"command\":[\"true\"]}", 0, &je);
	pw_k8s_job_params p = {cfg, NULL, "s", "s-x", "default", 0, NULL, NULL, NULL, NULL};
	json_t *job = NULL;
	PW_CHECK_INT(pw__k8s_job_manifest(&job, &p), 0);
	PW_CHECK(json_is_false(pw__json_get(job, "spec.template.spec.automountServiceAccountToken")));
	PW_CHECK(pw__json_get(job, "spec.activeDeadlineSeconds") == NULL);
	PW_CHECK_STR(json_string_value(pw__json_get(job, "spec.template.spec.restartPolicy")), "Never");
	pw_buf y = PW_BUF_INIT(0);
	pw__k8s_yaml_emit(&y, job);
	char *report = NULL;
	PW_CHECK_INT(schema_check(pw__buf_cstr(&y), &report), 0);
	free(report);
	pw__buf_dispose(&y);
	json_decref(job);
	json_decref(cfg);
}

PW_TEST(schema_checker_rejects)
{
	/* the checker itself must catch what it is there for */
	char *report = NULL;
	int st = schema_check(
	    "apiVersion: batch/v1\nkind: Job\nmetadata: {name: Bad_Name}\nspec:\n  template:\n    "
	    "spec:\n      containers:\n      - {name: a, image: b, bogus: 1}\n      restartPolicy: 7\n",
	    &report);
	PW_CHECK(st != 0);
	PW_CHECK_CONTAINS(report, "unknown field 'bogus'");
	PW_CHECK_CONTAINS(report, "expected a string");
	PW_CHECK_CONTAINS(report, "DNS-1123");
	free(report);
	st = schema_check(
	    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\nspec:\n  resources:\n"
	    "    requests: {storage: 2 Gi}\n",
	    &report);
	PW_CHECK(st != 0);
	PW_CHECK_CONTAINS(report, "is not a quantity");
	free(report);
}

PW_TEST(cli_plan_prints_valid_manifests)
{
	const char *cli = getenv("PW_CLI");
	PW_REQUIRE(cli);
	char dir[] = "/tmp/pw-k8s-plan-XXXXXX";
	PW_REQUIRE(mkdtemp(dir));
	char file[128];
	snprintf(file, sizeof(file), "%s/p.yml", dir);
	FILE *f = fopen(file, "w");
	PW_REQUIRE(f);
	fputs("version: 1\nsecrets: [PW_TEST_K8S_TOKEN]\nenv: { GREETING: \"yes\" }\nsteps:\n  - name: test\n"
	      "    step_type: kubernetes\n    config:\n      image: alpine:3.19\n      command: \"echo "
	      "$PW_TEST_K8S_TOKEN\"\n"
	      "      namespace: ci\n      namespace_per_run: true\n      network_policy: deny-ingress\n"
	      "      parameters: { use_pvc: true, storage_size: 2Gi, resource_limits: { cpu: 1 } }\n",
	      f);
	fclose(f);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "PW_TEST_K8S_TOKEN=plan-secret-value-77 '%s' plan '%s' 2>&1", cli, file);
	FILE *p = popen(cmd, "r");
	PW_REQUIRE(p);
	pw_buf all = PW_BUF_INIT(0), yaml = PW_BUF_INIT(0);
	char line[4096];
	int in_yaml = 0;
	while (fgets(line, sizeof(line), p)) {
		pw__buf_puts(&all, line);
		/* the connector's text is indented by 4 under its step; YAML starts at the first "---" */
		if (strncmp(line, "    ---", 7) == 0)
			in_yaml = 1;
		if (in_yaml && strncmp(line, "    ", 4) == 0)
			pw__buf_puts(&yaml, line + 4);
	}
	PW_CHECK_INT(pclose(p), 0);
	PW_CHECK(strstr(pw__buf_cstr(&all), "plan-secret-value-77") == NULL);
	PW_CHECK_CONTAINS(pw__buf_cstr(&all), "kind: \"Namespace\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&all), "kind: \"NetworkPolicy\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&all), "kind: \"PersistentVolumeClaim\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&all), "kind: \"Job\"");
	PW_CHECK_CONTAINS(pw__buf_cstr(&all), "value: \"***\"");
	char *report = NULL;
	int st = schema_check(pw__buf_cstr(&yaml), &report);
	if (st != 0)
		fprintf(stderr, "  %s\n%s\n", report, pw__buf_cstr(&yaml));
	PW_CHECK_INT(st, 0);
	PW_CHECK_CONTAINS(report, "documents: 4");
	free(report);
	pw__buf_dispose(&all);
	pw__buf_dispose(&yaml);
	unlink(file);
	rmdir(dir);
}

PW_TEST_MAIN()
