#!/bin/sh
# ECS update-service without wait against the local fake AWS server (tests/aws/fake_aws.py,
# which verifies the SigV4 signature of every request): `pipewright run` of a one-step pipeline
# vs the AWS CLI v2 (Debian's awscli) making the same call with --endpoint-url, best of N
# alternating runs each, and their ratio (goal: <= 0.1).
. "$(dirname "$0")/lib.sh"
N=${N:-5}
D=$SCRATCH
AWS=${AWS_CLI:-/usr/bin/aws}
if [ ! -x "$AWS" ]; then
	echo "aws_ecs_vs_cli: installing Debian's awscli (AWS CLI v2)" >&2
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends awscli >/dev/null 2>&1
	else
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends awscli >/dev/null 2>&1
	fi
	[ -x "$AWS" ] || { echo "aws_ecs_vs_cli: awscli is not installed and could not be" >&2; exit 1; }
fi
AKID=AKIDPIPEWRIGHTBENCH
SECRET=bench/Secret0123456789abcdefghijklmnopqrs
mkfifo "$D/ctl"
python3 "$ROOT/tests/aws/fake_aws.py" --specs "${PW_AWS_SPECS:-$ROOT/tests/specs/aws}" \
	--akid "$AKID" --secret "$SECRET" <"$D/ctl" >"$D/server.out" 2>"$D/server.err" &
exec 9>"$D/ctl" # the server stops when this closes
i=0
while ! grep -q READY "$D/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "aws_ecs_vs_cli: the fake AWS server did not start" >&2; cat "$D/server.err" >&2; exit 1; }
done
PORT=$(sed -n 's/^PORT //p' "$D/server.out")
URL="http://127.0.0.1:$PORT"
cat >"$D/deploy.yml" <<YML
version: 1
secrets: [AWS_SECRET_ACCESS_KEY]
steps:
  - name: deploy
    step_type: aws
    config:
      service: ecs
      action: update-service
      region: eu-west-1
      endpoint: $URL
      parameters: {cluster: prod, service: web, task_definition: "web:7", wait: false}
YML
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=eu-west-1
export AWS_CONFIG_FILE=$D/none AWS_SHARED_CREDENTIALS_FILE=$D/none AWS_PAGER=
# both must succeed against the signature-checking server before timing
"$PW" run "$D/deploy.yml" -q -w "$D" >/dev/null 2>&1 || { echo "aws_ecs_vs_cli: pipewright run failed" >&2; exit 1; }
"$AWS" ecs update-service --endpoint-url "$URL" --cluster prod --service web --task-definition web:7 \
	--no-cli-pager >/dev/null 2>&1 || { echo "aws_ecs_vs_cli: aws ecs update-service failed" >&2; exit 1; }
n=$(curl -s "$URL/_test/requests" | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get("op") == "UpdateService" and not r.get("errors")))')
[ "$n" = 2 ] || { echo "aws_ecs_vs_cli: expected 2 valid UpdateService calls, saw $n" >&2; exit 1; }
set -- $(best_pair "$N" "\"$PW\" run \"$D/deploy.yml\" -q -w \"$D\"" \
	"\"$AWS\" ecs update-service --endpoint-url $URL --cluster prod --service web --task-definition web:7 --no-cli-pager")
echo "aws_ecs_vs_cli: ECS update-service (no wait), best of $N: pipewright run $1 ms, aws ecs update-service $2 ms, ratio $(ratio "$1" "$2") (goal <= 0.1)"
