# pipewright gc of a Cloud Run job execution a killed run left running, against
# tests/cloud/fake_cloud.py (bodies checked against run.v2.json, tokens from its JWT-verifying
# token endpoint): a waiting jobs-execute step is killed with kill -9 while the execution runs;
# `gc --dry-run` cancels nothing, `gc` cancels exactly that execution, a second gc has nothing
# left to do. SIGTERM to `pipewright run` during the wait cancels the execution by itself and
# leaves nothing for gc; an execution that finished is not journaled as left behind.
set -e
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkfifo "$WORK/ctl"
"$PY" "$PW_SOURCE_DIR/tests/cloud/fake_cloud.py" <"$WORK/ctl" >"$WORK/server.out" 2>"$WORK/server.err" &
exec 9>"$WORK/ctl"
i=0
while ! grep -q READY "$WORK/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "fake cloud server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
done
URL="http://127.0.0.1:$(sed -n 's/^PORT //p' "$WORK/server.out")"
mkdir -p "$WORK/ws"
"$PY" "$PW_SOURCE_DIR/tests/cloud/gcp_key.py" "$URL" "$WORK/key.json"
unset GCE_METADATA_HOST CLOUDSDK_CORE_PROJECT GCLOUD_PROJECT CLOUDSDK_RUN_REGION
export GOOGLE_APPLICATION_CREDENTIALS="$WORK/key.json" GOOGLE_CLOUD_PROJECT=test-project
export HOME="$WORK" KUBECONFIG=/nonexistent/kubeconfig DOCKER_HOST=unix:///nonexistent

# ctl PATH JSON: a control request to the fake server
ctl() { "$PY" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + sys.argv[2], data=sys.argv[3].encode()))' "$URL" "$@"; }
# fake EXPR: EXPR evaluated with S = the server's state; E = its executions, C = cancel requests
fake() {
	"$PY" -c 'import json, sys, urllib.request as u
S = json.load(u.urlopen(sys.argv[1] + "/_test/state"))
E = S["executions"]
C = [r for r in S["requests"] if r.endswith(":cancel")]
print(eval(sys.argv[2]))' "$URL" "$1"
}
is() { [ "$(fake "$1")" = "$2" ]; }
# wait_for COND: until the shell condition holds (10 s at most)
wait_for() {
	n=0
	until eval "$1"; do
		n=$((n + 1))
		[ $n -lt 200 ] || return 1
		sleep 0.05
	done
}
journaled() { grep -qs '"run-execution"' "$WORK/ws/.pipewright/runs/$1/journal"; }
start_run() {
	"$PW_CLI" run "$WORK/ws/job.yml" -q -w "$WORK/ws" --run-id "$1" >"$WORK/$1.out" 2>"$WORK/$1.err" </dev/null &
	PID=$!
}
stop_run() { signal_and_wait "$1" "$PID"; }

cat >"$WORK/ws/job.yml" <<YML
version: 1
steps:
  - name: migrate
    step_type: gcp
    timeout: 120
    config:
      service: cloud-run
      action: jobs-execute
      endpoint: $URL
      poll_interval: 0.1
      parameters: {job_name: migrate, region: us-central1}
YML

# --- kill -9 during the wait, then gc
ctl /_test/faults '{"polls": 100000}'
start_run gcp-kill
check "kill: the execution started" wait_for 'is "len(E)" 1'
check "kill: the execution is journaled" wait_for 'journaled gcp-kill'
stop_run KILL
check "kill: pipewright died (137)" [ "$STATUS" -eq 137 ]
check "kill: the execution was not cancelled" is "len(C)" 0
run_pw dry gc --dry-run -w "$WORK/ws"
check "dry-run: exit 0" [ "$STATUS" -eq 0 ]
check "dry-run: names the execution" contains "$WORK/dry.out" "run-execution"
check "dry-run: cancels nothing" is "len(C)" 0
run_pw gc gc -w "$WORK/ws"
check "gc: exit 0" [ "$STATUS" -eq 0 ]
check "gc: reports the cancel" contains "$WORK/gc.out" "cancelled Cloud Run execution projects/test-project/locations/us-central1/jobs/migrate/executions/"
check "gc: one cancel" is "len(C)" 1
check "gc: the execution is cancelled" is "[e.get('cancelledCount') for e in E.values()]" "[1]"
run_pw gc2 gc -w "$WORK/ws"
check "second gc: exit 0" [ "$STATUS" -eq 0 ]
check "second gc: no further cancel" is "len(C)" 1

# --- SIGTERM during the wait: the run cancels its execution and leaves nothing
ctl /_test/reset '{}'
start_run gcp-term
check "term: the execution started" wait_for 'is "len(E)" 1'
check "term: journaled" wait_for 'journaled gcp-term'
stop_run TERM
check "term: exit 130" [ "$STATUS" -eq 130 ]
check "term: the run cancelled it" is "[e.get('cancelledCount') for e in E.values()]" "[1]"
run_pw gc3 gc -w "$WORK/ws"
check "term: gc has nothing to cancel" is "len(C)" 1

# --- an execution that finishes is not left behind
ctl /_test/faults '{}'
ctl /_test/reset '{}'
run_pw ok run "$WORK/ws/job.yml" -q -w "$WORK/ws" --run-id gcp-ok
check "finished: exit 0" [ "$STATUS" -eq 0 ]
check "finished: journal record closed" grep -q '"removed"' "$WORK/ws/.pipewright/runs/gcp-ok/journal"
run_pw gc4 gc -w "$WORK/ws"
check "finished: gc cancels nothing" is "len(C)" 0
finish
