# The aws connector through the CLI against tests/aws/fake_aws.py: ECS update-service with web
# identity credentials (STS-issued keys never reach the console, step log, result.json, audit or
# trace logs), plan output, and validation errors with file:line:col.
set -e
. "$(dirname "$0")/lib.sh"
SPECS=${PW_AWS_SPECS:-$PW_SOURCE_DIR/tests/specs/aws}
SECRET='cli/Secret0123456789abcdefghijklmnopqrstu'
mkfifo "$WORK/ctl"
python3 "$PW_SOURCE_DIR/tests/aws/fake_aws.py" --specs "$SPECS" --akid AKIDCLITEST --secret "$SECRET" \
	--web-token oidc-cli-token-123 <"$WORK/ctl" >"$WORK/server.out" 2>"$WORK/server.err" &
exec 9>"$WORK/ctl"
i=0
while ! grep -q READY "$WORK/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "fake AWS server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
done
URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/server.out")"
mkdir -p "$WORK/ws"
printf 'oidc-cli-token-123\n' >"$WORK/ws/token"
cat >"$WORK/ws/deploy.yml" <<YML
version: 1
steps:
  - name: deploy
    step_type: aws
    timeout: 60
    config:
      service: ecs
      action: update-service
      region: eu-west-1
      endpoint: $URL
      sts_endpoint: $URL
      poll_interval: 0.02
      parameters: {cluster: prod, service: web, task_definition: "web:3"}
YML
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_REGION
export HOME="$WORK" # no ~/.aws of the machine
AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/ws/token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/ci PIPEWRIGHT_LOG=trace \
	run_pw wi run "$WORK/ws/deploy.yml" -w "$WORK/ws" --run-id aws-1
check "web identity run: exit 0" [ "$STATUS" -eq 0 ]
check "deployment reported" contains "$WORK/wi.out" "COMPLETED"
rd="$WORK/ws/.pipewright/runs/aws-1"
check "audit has the update" contains "$rd/audit.jsonl" "ecs:UpdateService"
for file in "$WORK/wi.out" "$WORK/wi.err" "$rd/deploy.log" "$rd/result.json" "$rd/audit.jsonl"; do
	check "STS secret absent from $file" lacks "$file" "stsSecret"
	check "STS token absent from $file" lacks "$file" "stsToken"
	check "OIDC token absent from $file" lacks "$file" "oidc-cli-token-123"
done
# static keys from the environment, and the plan
AWS_ACCESS_KEY_ID=AKIDCLITEST AWS_SECRET_ACCESS_KEY=$SECRET PIPEWRIGHT_LOG=trace \
	run_pw st run "$WORK/ws/deploy.yml" -w "$WORK/ws" --run-id aws-2
check "static keys run: exit 0" [ "$STATUS" -eq 0 ]
for file in "$WORK/st.out" "$WORK/st.err" "$WORK/ws/.pipewright/runs/aws-2/deploy.log"; do
	check "secret key absent from $file" lacks "$file" "$SECRET"
done
AWS_ACCESS_KEY_ID=AKIDCLITEST AWS_SECRET_ACCESS_KEY=$SECRET run_pw plan plan "$WORK/ws/deploy.yml" -w "$WORK/ws"
check "plan: exit 0" [ "$STATUS" -eq 0 ]
check "plan: the request" contains "$WORK/plan.out" "POST $URL/"
check "plan: the target" contains "$WORK/plan.out" "X-Amz-Target: AmazonEC2ContainerServiceV20141113.UpdateService"
check "plan: the body" contains "$WORK/plan.out" '{"cluster":"prod","service":"web","taskDefinition":"web:3"}'
check "plan: redacted" contains "$WORK/plan.out" "Credential=***"
check "plan: no secret" lacks "$WORK/plan.out" "$SECRET"
cat >"$WORK/ws/bad.yml" <<'YML'
version: 1
steps:
  - name: deploy
    step_type: aws
    config:
      service: ecs
      action: update-servce
YML
run_pw bad validate "$WORK/ws/bad.yml"
check "bad action: exit 2" [ "$STATUS" -eq 2 ]
check "bad action: located and listed" contains "$WORK/bad.err" "bad.yml:7:15"
check "bad action: available actions" contains "$WORK/bad.err" "update-service, run-task, register-task-definition"
finish
