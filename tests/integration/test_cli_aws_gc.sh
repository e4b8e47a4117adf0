# pipewright gc of what a killed run left in AWS, against tests/aws/fake_aws.py (every request
# SigV4-verified, ECS bodies checked against the official model): an ECS run-task step that
# waits is killed with kill -9 while its task runs, and gc stops exactly that task (a --dry-run
# first stops nothing, a gc whose StopTask is denied keeps the record and fails, a second gc
# has nothing left to do; a task started with wait: false is the user's and stays); SIGTERM to
# `pipewright run` during the wait stops the task by itself. The same for an S3 multipart upload
# killed in the middle of a part: gc aborts that upload and no other of the same bucket.
set -e
. "$(dirname "$0")/lib.sh"
SPECS=${PW_AWS_SPECS:-$PW_SOURCE_DIR/tests/specs/aws}
SECRET='gc/Secret0123456789abcdefghijklmnopqrstuvw'
mkfifo "$WORK/ctl"
python3 "$PW_SOURCE_DIR/tests/aws/fake_aws.py" --specs "$SPECS" --akid AKIDGCTEST --secret "$SECRET" \
	<"$WORK/ctl" >"$WORK/server.out" 2>"$WORK/server.err" &
exec 9>"$WORK/ctl"
i=0
while ! grep -q READY "$WORK/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "fake AWS server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
done
URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/server.out")"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION AWS_ROLE_ARN \
	AWS_WEB_IDENTITY_TOKEN_FILE AWS_ENDPOINT_URL_ECS AWS_ENDPOINT_URL_S3
export AWS_ACCESS_KEY_ID=AKIDGCTEST AWS_SECRET_ACCESS_KEY="$SECRET"
export HOME="$WORK" KUBECONFIG=/nonexistent/kubeconfig DOCKER_HOST=unix:///nonexistent

# ctl PATH [JSON]: a control request to the fake server
ctl() {
	python3 -c 'import sys, urllib.request as u
d = sys.argv[3].encode() if len(sys.argv) > 3 else None
print(u.urlopen(u.Request(sys.argv[1] + sys.argv[2], data=d)).read().decode())' "$URL" "$@" >/dev/null
}
# fake EXPR: prints EXPR evaluated with S = the server's state and R = its requests
fake() {
	python3 -c 'import json, sys, urllib.request as u
S = json.load(u.urlopen(sys.argv[1] + "/_test/state"))
R = json.load(u.urlopen(sys.argv[1] + "/_test/requests"))
ops = lambda op: [r for r in R if r.get("op") == op]
running = lambda sb: [a for a, t in S["tasks"].items() if t["startedBy"] == sb and t["desiredStatus"] == "RUNNING"]
print(eval(sys.argv[2]))' "$URL" "$1"
}
# is EXPR VALUE: the fake's EXPR prints VALUE
is() { [ "$(fake "$1")" = "$2" ]; }
# wait_fake EXPR: until EXPR is True (10 s at most)
wait_fake() {
	n=0
	until is "$1" True; do
		n=$((n + 1))
		[ $n -lt 200 ] || return 1
		sleep 0.05
	done
}
# not_journaled RUN_ID: the run's journal records nothing created
not_journaled() { ! grep -qs '"created"' "$WORK/ws/.pipewright/runs/$1/journal"; }
# start_run ID FILE: pipewright run in the background, its pid in $PID
start_run() {
	"$PW_CLI" run "$2" -q -w "$WORK/ws" --run-id "$1" >"$WORK/$1.out" 2>"$WORK/$1.err" </dev/null &
	PID=$!
}
stop_run() { signal_and_wait "$1" "$PID"; }

mkdir -p "$WORK/ws"
cat >"$WORK/ws/task.yml" <<YML
version: 1
steps:
  - name: migrate
    step_type: aws
    config:
      service: ecs
      action: run-task
      region: eu-west-1
      endpoint: $URL
      poll_interval: 0.05
      parameters: {cluster: batch, task_definition: "migrate:2"}
YML
cat >"$WORK/ws/detached.yml" <<YML
version: 1
steps:
  - name: nightly
    step_type: aws
    config:
      service: ecs
      action: run-task
      region: eu-west-1
      endpoint: $URL
      parameters: {cluster: batch, task_definition: "report:1", wait: false, started_by: nightly}
YML
ctl /_test/scenario '{"task":"hang"}'

# --- ECS: kill -9 while waiting for the task -----------------------------------------------------
run_pw detached run "$WORK/ws/detached.yml" -q -w "$WORK/ws" --run-id ecs-detached
check "wait: false task started" [ "$STATUS" -eq 0 ]
check "wait: false task not journaled" not_journaled ecs-detached
SB=pipewright-ecs-kill-migrate
start_run ecs-kill "$WORK/ws/task.yml"
check "the task runs with the run-scoped startedBy" wait_fake "len(running('$SB')) == 1 and len(ops('DescribeTasks')) > 0"
kill -9 "$PID"
wait "$PID" || true
J="$WORK/ws/.pipewright/runs/ecs-kill/journal"
check "journaled before RunTask" contains "$J" '"kind":"ecs-tasks","name":"'$SB'"'
check "journal keeps the cluster" contains "$J" '"cluster":"batch"'
check "journal keeps the endpoint" contains "$J" "\"endpoint\":\"$URL\""
check "journal has no secret" lacks "$J" "$SECRET"
TASK=$(fake "running('$SB')[0]")

run_pw dry gc --dry-run -w "$WORK/ws"
check "dry run: exit 0" [ "$STATUS" -eq 0 ]
check "dry run: lists the task record" contains "$WORK/dry.out" "would remove aws ecs-tasks eu-west-1/$SB ($URL)"
check "dry run: stops nothing" is "len(ops('StopTask'))" 0
check "dry run: task still running" is "len(running('$SB'))" 1

ctl /_test/scenario '{"deny":["ecs:StopTask"]}'
run_pw denied gc -w "$WORK/ws"
check "denied: exit 4" [ "$STATUS" -eq 4 ]
check "denied: reported with the permission" contains "$WORK/denied.out" "failed to remove aws ecs-tasks eu-west-1/$SB"
check "denied: names the action" contains "$WORK/denied.out" "ecs:StopTask"
check "denied: record kept" lacks "$J" '"by":"gc"'
ctl /_test/scenario '{"deny":[]}'

run_pw gc1 gc -w "$WORK/ws"
check "gc: exit 0" [ "$STATUS" -eq 0 ]
check "gc: says which task it stopped" contains "$WORK/gc1.out" "stopped ECS task $TASK"
check "gc: the record" contains "$WORK/gc1.out" "removed aws ecs-tasks eu-west-1/$SB ($URL)"
check "gc: summary" contains "$WORK/gc1.out" "gc: 1 removed, 0 failed"
check "gc: listed by startedBy alone" is "[r['body'] for r in ops('ListTasks')][-1] == {'cluster': 'batch', 'startedBy': '$SB'}" True
check "gc: StopTask of exactly that task" is "set(r['body']['task'] for r in ops('StopTask')) == {'$TASK'}" True
STOPS=$(fake "len(ops('StopTask'))")
check "gc: the reason names pipewright and the run" is "'pipewright gc' in ops('StopTask')[0]['body']['reason'] and 'ecs-kill' in ops('StopTask')[0]['body']['reason']" True
check "gc: nothing RUNNING with that startedBy" is "len(running('$SB'))" 0
check "gc: the wait: false task still runs" is "len(running('nightly'))" 1
check "gc: marked removed by gc" contains "$J" '"by":"gc"'
check "gc: requests match the ECS model" is "[r for r in R if r.get('errors')]" "[]"
run_pw gc2 gc -w "$WORK/ws"
check "second gc: exit 0" [ "$STATUS" -eq 0 ]
check "second gc: nothing to do" contains "$WORK/gc2.out" "gc: 0 removed, 0 failed"
check "second gc: no new StopTask" is "len(ops('StopTask'))" "$STOPS"

# --- ECS: SIGTERM during the wait stops the task --------------------------------------------------
SB=pipewright-ecs-term-migrate
start_run ecs-term "$WORK/ws/task.yml"
check "term: task runs" wait_fake "len(running('$SB')) == 1 and len(ops('DescribeTasks')) > 2"
TASK=$(fake "running('$SB')[0]")
stop_run TERM
check "term: exit 130" [ "$STATUS" -eq 130 ]
check "term: stopped that task" is "[r['body']['task'] for r in ops('StopTask')][-1] == '$TASK'" True
check "term: the reason says cancelled" is "'ecs-term' in ops('StopTask')[-1]['body']['reason'] and 'cancelled' in ops('StopTask')[-1]['body']['reason']" True
check "term: nothing RUNNING" is "len(running('$SB'))" 0
check "term: says so" contains "$WORK/ws/.pipewright/runs/ecs-term/migrate.log" "ECS task stopped: $TASK"
run_pw gc3 gc -w "$WORK/ws"
check "term: gc has nothing left" contains "$WORK/gc3.out" "gc: 0 removed, 0 failed"

# --- S3: kill -9 in the middle of a multipart upload ---------------------------------------------
python3 -c 'import sys; sys.stdout.buffer.write(b"x" * (6 * 1024 * 1024 + 5))' >"$WORK/ws/big.bin"
cat >"$WORK/ws/upload.yml" <<YML
version: 1
steps:
  - name: publish
    step_type: aws
    config:
      service: s3
      action: upload
      region: eu-west-1
      endpoint: $URL
      parameters: {bucket: artifacts, files: big.bin, key: v1/big.bin, multipart_threshold: 5242880, part_size: 5242880}
YML
ctl /_test/scenario '{"hang_parts":true}'
ctl /_test/seed_upload '{"bucket":"artifacts","key":"v1/big.bin","age_s":3600}'
ctl /_test/seed_upload '{"bucket":"artifacts","key":"v1/big.bin.sig","age_s":0}'
start_run s3-kill "$WORK/ws/upload.yml"
check "s3: a part is on its way" wait_fake "S['parts_waiting'] >= 1"
kill -9 "$PID"
wait "$PID" || true
ctl /_test/scenario '{"hang_parts":false}'
UP=$(fake "[u for u, k in S['upload_keys'].items() if k == 'artifacts/v1/big.bin' and 'seed' not in u][0]")
J="$WORK/ws/.pipewright/runs/s3-kill/journal"
check "s3: journaled" contains "$J" '"kind":"s3-multipart","name":"artifacts/v1/big.bin"'
run_pw s3dry gc --dry-run -w "$WORK/ws"
check "s3 dry run: listed" contains "$WORK/s3dry.out" "would remove aws s3-multipart eu-west-1/artifacts/v1/big.bin"
check "s3 dry run: nothing aborted" is "len(ops('AbortMultipartUpload'))" 0
ctl /_test/scenario '{"s3_page_size":1}' # one upload a page: gc follows the markers
run_pw s3gc gc -w "$WORK/ws"
check "s3 gc: exit 0" [ "$STATUS" -eq 0 ]
check "s3 gc: says which upload" contains "$WORK/s3gc.out" "aborted S3 multipart upload $UP of s3://artifacts/v1/big.bin"
check "s3 gc: summary" contains "$WORK/s3gc.out" "gc: 1 removed, 0 failed"
check "s3 gc: listed by the key" is "ops('ListMultipartUploads')[-1]['body']['prefix']" "v1/big.bin"
check "s3 gc: every page" is "len(ops('ListMultipartUploads')) >= 3" True
check "s3 gc: aborted exactly that upload" is "[r['body']['uploadId'] for r in ops('AbortMultipartUpload')] == ['$UP']" True
check "s3 gc: the upload is gone" is "'$UP' in S['uploads']" False
check "s3 gc: an older upload of the key stays" is "sorted(S['upload_keys'].values())" "['artifacts/v1/big.bin', 'artifacts/v1/big.bin.sig']"
run_pw s3gc2 gc -w "$WORK/ws"
check "s3 second gc: nothing to do" contains "$WORK/s3gc2.out" "gc: 0 removed, 0 failed"

# --- S3: SIGTERM in the middle of a part: the step aborts its upload itself ------------------------
ctl /_test/scenario '{"hang_parts":true}'
start_run s3-term "$WORK/ws/upload.yml"
check "s3 term: a part is on its way" wait_fake "S['parts_waiting'] >= 2"
stop_run TERM
ctl /_test/scenario '{"hang_parts":false}'
check "s3 term: exit 130" [ "$STATUS" -eq 130 ]
check "s3 term: aborted its upload" is "len(ops('AbortMultipartUpload'))" 2
check "s3 term: no upload of its own left" is "sorted(S['upload_keys'].values())" "['artifacts/v1/big.bin', 'artifacts/v1/big.bin.sig']"
check "s3 term: journal marks it removed" contains "$WORK/ws/.pipewright/runs/s3-term/journal" '"event":"removed"'
run_pw s3gc3 gc -w "$WORK/ws"
check "s3 term: gc has nothing left" contains "$WORK/s3gc3.out" "gc: 0 removed, 0 failed"
finish
