# The secrets proof for the remote connectors: one pipeline with a step of each (aws, azure,
# gcp, github, gitlab, kubernetes) against the tests' local servers, whose credentials are
# canaries, a docker step on the suites' Podman engine that prints a canary it gets in its
# environment, and one that pulls with registry credentials whose password is a canary. It runs with valid credentials (every step succeeds), then with wrong ones (every
# step fails on its credential: the error paths), each with PIPEWRIGHT_LOG=trace (HTTP
# request dumps) in text and JSON log format; then plan and validate. No form of any canary
# (raw, base64, URL-encoded, JSON-escaped; tests/security/forms.py), no token the servers
# issued and no line of the private key may appear in the console, any file of the run
# directory (logs, result.json, audit.jsonl, journal) or the reports.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
. "$PW_SOURCE_DIR/tests/security/proof_lib.sh"
T="$PW_SOURCE_DIR/tests"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

AWS_SECRET='pwAwsCanary/7Qx+y9"z\w0123456789abcdefghij'
GH_TOKEN='ghpCanaryTokenQ7x9zZ01'
GL_TOKEN='glpatCanaryTokenR5t8'
K8S_TOKEN='k8sCanaryTokenW3v6'
DB_PASSWORD='dbCanaryPassword&q=1%'
AZ_SECRET='az-client-secret-Q7xv9' # fixed in tests/cloud/fake_cloud.py
REG_PASSWORD='regCanaryPass+Z9/w~' # a registry's, in the Docker client configuration
# the wrong ones, for the error paths
BAD_AWS='pwAwsWrongCanary/0123456789abcdefghijklm'
BAD_GH='ghpWrongCanaryTokenA1'
BAD_GL='glpatWrongCanaryTokB2'
BAD_K8S='k8sWrongCanaryTokC3'
BAD_AZ='azWrongCanarySecretD4'
KEYLINE=$(sed -n 2p "$T/auth/test_rsa_key.pem")

FORMS="$WORK/forms"
"$PY" "$T/security/forms.py" "$AWS_SECRET" "$GH_TOKEN" "$GL_TOKEN" "$K8S_TOKEN" "$DB_PASSWORD" "$AZ_SECRET" \
	"$REG_PASSWORD" "pwreguser:$REG_PASSWORD" \
	"$BAD_AWS" "$BAD_GH" "$BAD_GL" "$BAD_K8S" "$BAD_AZ" "=$KEYLINE" "=PRIVATE KEY" "=gcp-sa-token-" \
	"=azure-sp-token-" >"$FORMS"
check "forms computed" [ "$(wc -l <"$FORMS")" -ge 60 ]

# --- the servers (each stops when its stdin closes; gitlab's is killed)
mkdir -p "$WORK/ws" "$WORK/srv"
PIDS=""
trap 'exec 5>&- 6>&- 7>&- 8>&- 2>/dev/null; kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# ready FILE WORD: waits until FILE has a line starting with WORD (20 s at most)
ready() {
	i=0
	while ! grep -q "^$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 400 ] || { echo "FAIL: a test server did not start ($1)" >&2; cat "$1" "$1.err" >&2 2>/dev/null; exit 1; }
		sleep 0.05
	done
}
for n in aws cloud github k8s; do mkfifo "$WORK/srv/$n.in"; done
"$PY" "$T/aws/fake_aws.py" --specs "$T/specs/aws" --akid AKIDCANARYTEST --secret "$AWS_SECRET" \
	<"$WORK/srv/aws.in" >"$WORK/srv/aws" 2>"$WORK/srv/aws.err" &
PIDS="$PIDS $!"
exec 5>"$WORK/srv/aws.in"
"$PY" "$T/cloud/fake_cloud.py" <"$WORK/srv/cloud.in" >"$WORK/srv/cloud" 2>"$WORK/srv/cloud.err" &
PIDS="$PIDS $!"
exec 6>"$WORK/srv/cloud.in"
"$PY" "$T/github/fake_github.py" --spec "$T/specs/github/api.github.com.json.gz" --token "$GH_TOKEN" \
	<"$WORK/srv/github.in" >"$WORK/srv/github" 2>"$WORK/srv/github.err" &
PIDS="$PIDS $!"
exec 7>"$WORK/srv/github.in"
"$PY" "$T/gitlab/fake_gitlab.py" --private-token "$GL_TOKEN" --job-token glcbt-unused-job-token \
	--trigger-token glptt-unused-trigger >"$WORK/srv/gitlab" 2>"$WORK/srv/gitlab.err" &
PIDS="$PIDS $!"
(cd "$WORK/srv" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
		-days 2 -subj '/CN=test CA' &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
		-subj '/CN=kube-apiserver' &&
	printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
		-extfile ext.cnf) >/dev/null 2>&1
"$PY" "$T/kubernetes/fake_apiserver.py" --cert "$WORK/srv/srv.pem" --key "$WORK/srv/srv.key" \
	--token "$K8S_TOKEN" --workdir "$WORK/srv" <"$WORK/srv/k8s.in" >"$WORK/srv/k8s" 2>"$WORK/srv/k8s.err" &
PIDS="$PIDS $!"
exec 8>"$WORK/srv/k8s.in"
for n in aws cloud k8s; do ready "$WORK/srv/$n" READY; done
ready "$WORK/srv/github" READY
ready "$WORK/srv/gitlab" PORT
AWS_URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/srv/aws")"
CLOUD_URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/srv/cloud")"
GH_URL="http://127.0.0.1:$(awk '/^API/{print $2}' "$WORK/srv/github")"
GL_URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/srv/gitlab")"
K8S_URL="https://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/srv/k8s")"

# credentials files: a GCP service-account key (the test key; the fake checks its JWTs) and a
# kubeconfig with a token
"$PY" "$T/cloud/gcp_key.py" "$CLOUD_URL" "$WORK/ws/gcp-key.json"
# refused by the token endpoint
"$PY" "$T/cloud/gcp_key.py" "$CLOUD_URL" "$WORK/ws/gcp-bad-key.json" someone-else@test-project.iam.gserviceaccount.com
kubeconfig() {
	cat >"$1" <<KC
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: t
  cluster: {server: "$K8S_URL", certificate-authority: "$WORK/srv/ca.pem"}
users:
- name: u
  user: {token: "$2"}
contexts:
- name: t
  context: {cluster: t, user: u, namespace: ci}
KC
}
kubeconfig "$WORK/ws/kubeconfig" "$K8S_TOKEN"
kubeconfig "$WORK/ws/kubeconfig-bad" "$BAD_K8S"

P="$WORK/ws/remote.yml"
cat >"$P" <<YML
version: 1
name: secrets-proof-remote
secrets: [AWS_SECRET_ACCESS_KEY, AZURE_CLIENT_SECRET, GITHUB_TOKEN, GITLAB_TOKEN, DB_PASSWORD]
steps:
  - name: aws
    step_type: aws
    allow_failure: true
    timeout: 60
    config:
      service: ecs
      action: update-service
      region: eu-west-1
      endpoint: $AWS_URL
      poll_interval: 0.02
      parameters: {cluster: prod, service: web, task_definition: "web:3"}
  - name: azure
    step_type: azure
    allow_failure: true
    timeout: 60
    config:
      service: container-instances
      action: create-or-update
      endpoint: $CLOUD_URL
      authority_host: $CLOUD_URL
      poll_interval: 0.02
      parameters:
        resource_group: prod-rg
        container_group: web-app
        image: myregistry.azurecr.io/web-app:1.2
        location: westeurope
        secure_environment: {DB_PASSWORD: "\${DB_PASSWORD}"}
  - name: gcp
    step_type: gcp
    allow_failure: true
    timeout: 60
    config:
      service: cloud-run
      action: deploy
      endpoint: $CLOUD_URL
      poll_interval: 0.02
      parameters: {service_name: web-app, image: "us-docker.pkg.dev/test-project/apps/web-app:1.2",
                   region: us-central1, revision_suffix: proof}
  - name: github
    step_type: github
    allow_failure: true
    timeout: 60
    config:
      action: create-release
      repository: octo/app
      base_url: $GH_URL
      tag: v1.0.0
      name: Release v1.0.0
      on_exists: update
  - name: gitlab
    step_type: gitlab
    allow_failure: true
    timeout: 60
    config:
      action: create-release
      base_url: $GL_URL/
      project: group/app
      tag: v1.0.0
      name: Version 1
  - name: docker
    step_type: docker
    allow_failure: true
    timeout: 120
    config:
      image: pipewright/pwtest-image:latest
      pull: never
      environment: {LEAK: "\${DB_PASSWORD}"}
      command: 'echo "raw \$LEAK"; printf %s "\$LEAK" | base64; echo "to stderr \$LEAK" >&2'
  - name: registry
    step_type: docker
    allow_failure: true
    timeout: 120
    config:
      image: localhost:5999/team/private-app:1.0
      pull: always
      command: echo never
  - name: kubernetes
    step_type: kubernetes
    allow_failure: true
    timeout: 60
    config:
      image: busybox:1.36
      command: echo job ran
YML

unset AWS_ACCESS_KEY_ID AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_REGION KUBECONFIG
export HOME="$WORK" # no ~/.aws, ~/.kube or ~/.docker of the machine
# the registry step's credentials: sent to the engine with its pull of an image from a registry
# that is not there (the pull fails, the step with it), as Docker's client keeps them
mkdir -p "$WORK/.docker"
printf '{"auths": {"localhost:5999": {"auth": "%s"}}}\n' \
	"$(printf 'pwreguser:%s' "$REG_PASSWORD" | base64 | tr -d '\n')" >"$WORK/.docker/config.json"
export DOCKER_HOST="unix://${PW_PODMAN_STATE:?the Podman fixture's state directory}/podman.sock"
export AWS_ACCESS_KEY_ID=AKIDCANARYTEST AZURE_TENANT_ID=tenant-0001 AZURE_CLIENT_ID=client-0002
export AZURE_SUBSCRIPTION_ID=sub-1234 DB_PASSWORD

# run ID GOOD(1|0) LOGFORMAT: the pipeline with the valid or the wrong credentials
run() {
	if [ "$2" = 1 ]; then
		set -- "$1" "$2" "$3" "$AWS_SECRET" "$AZ_SECRET" "$GH_TOKEN" "$GL_TOKEN" gcp-key.json kubeconfig
	else
		set -- "$1" "$2" "$3" "$BAD_AWS" "$BAD_AZ" "$BAD_GH" "$BAD_GL" gcp-bad-key.json kubeconfig-bad
	fi
	AWS_SECRET_ACCESS_KEY=$4 AZURE_CLIENT_SECRET=$5 GITHUB_TOKEN=$6 GITLAB_TOKEN=$7 \
		GOOGLE_APPLICATION_CREDENTIALS="$WORK/ws/$8" KUBECONFIG="$WORK/ws/$9" PIPEWRIGHT_LOG=trace \
		run_pw "$1" run "$P" -w "$WORK/ws" --run-id "$1" --color never --log-format "$3" \
		--report "json=$WORK/ws/$1-report.json" --report "junit=$WORK/ws/$1-junit.xml" \
		--report "html=$WORK/ws/$1-report.html"
}

# status RUN STEP: the step's status in result.json
status() { "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print([s['status'] for s in r['steps'] if s['name']==sys.argv[2]][0])" \
	"$WORK/ws/.pipewright/runs/$1/result.json" "$2"; }

run good-text 1 text
check "valid credentials: exit 0" [ "$STATUS" -eq 0 ]
check "the docker step printed (masked)" contains "$WORK/good-text.out" "raw ***"
for s in aws azure gcp github gitlab kubernetes docker; do
	check "valid credentials: $s succeeded ($(status good-text $s))" [ "$(status good-text $s)" = succeeded ]
done
check "the registry step pulled with the credentials" contains "$WORK/good-text.err" "(with credentials)"
check "the registry step failed on its pull ($(status good-text registry))" [ "$(status good-text registry)" = allowed_failure ]
check "the registry step's error says so" contains "$WORK/ws/.pipewright/runs/good-text/result.json" "localhost:5999"
for h in "PRIVATE-TOKEN: ***" "Authorization: ***" "X-Amz-Target: AmazonEC2ContainerServiceV20141113.UpdateService"; do
	check "trace output has the HTTP requests ($h)" contains "$WORK/good-text.err" "> $h"
done
run good-json 1 json
check "json logs: exit 0" [ "$STATUS" -eq 0 ]
run bad-text 0 text
for s in aws azure gcp github gitlab kubernetes; do
	check "wrong credentials: $s failed ($(status bad-text $s))" [ "$(status bad-text $s)" = allowed_failure ]
done
check "wrong credentials: errors are reported" contains "$WORK/ws/.pipewright/runs/bad-text/result.json" "error"
run bad-json 0 json
for r in good-text good-json bad-text bad-json; do
	no_canary "$r console" "$WORK/$r.out" "$WORK/$r.err"
	no_canary_dir "$r run directory" "$WORK/ws/.pipewright/runs/$r"
	no_canary "$r reports" "$WORK/ws/$r-report.json" "$WORK/ws/$r-junit.xml" "$WORK/ws/$r-report.html"
done

AWS_SECRET_ACCESS_KEY=$AWS_SECRET AZURE_CLIENT_SECRET=$AZ_SECRET GITHUB_TOKEN=$GH_TOKEN GITLAB_TOKEN=$GL_TOKEN \
	GOOGLE_APPLICATION_CREDENTIALS="$WORK/ws/gcp-key.json" KUBECONFIG="$WORK/ws/kubeconfig" \
	PIPEWRIGHT_LOG=trace run_pw plan plan "$P" -w "$WORK/ws"
check "plan: exit 0" [ "$STATUS" -eq 0 ]
check "plan: requests shown, redacted" contains "$WORK/plan.out" "Authorization: Bearer ***"
no_canary "plan" "$WORK/plan.out" "$WORK/plan.err"
AWS_SECRET_ACCESS_KEY=$AWS_SECRET AZURE_CLIENT_SECRET=$AZ_SECRET GITHUB_TOKEN=$GH_TOKEN GITLAB_TOKEN=$GL_TOKEN \
	PIPEWRIGHT_LOG=trace run_pw validate validate "$P"
check "validate: exit 0" [ "$STATUS" -eq 0 ]
no_canary "validate" "$WORK/validate.out" "$WORK/validate.err"
finish
