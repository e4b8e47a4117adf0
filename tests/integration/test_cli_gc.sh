# pipewright gc: usage errors, a workspace without runs, and a shell-only run (no journal
# records: shell steps create nothing outside the process) leave nothing to do; a journal
# record of a connector without a gc hook is reported and fails the command. The Docker and
# Kubernetes paths: tests/docker (docker_engine_kill9_then_gc), tests/kubernetes/test_k8s_gc.c.
set -e
. "$(dirname "$0")/lib.sh"
export KUBECONFIG=/nonexistent/kubeconfig DOCKER_HOST=unix:///nonexistent
mkdir -p "$WORK/ws"
run_pw bad gc --older-than 5y -w "$WORK/ws"
check "bad duration: usage error" [ "$STATUS" -eq 3 ]
check "bad duration: says why" contains "$WORK/bad.err" "--older-than takes a duration like 90s"
run_pw help gc --help
check "help" [ "$STATUS" -eq 0 ]
check "help mentions dry run" contains "$WORK/help.out" "--dry-run"
run_pw empty gc -w "$WORK/ws"
check "no runs: ok" [ "$STATUS" -eq 0 ]
check "no runs: nothing removed" contains "$WORK/empty.out" "gc: 0 removed, 0 failed"
f=$(example hello.yml)
run_pw hello run "$f" -q --run-id gc-hello
check "hello runs" [ "$STATUS" -eq 0 ]
# -q: the summary only, no step output and no step status lines
check "quiet: the summary" contains "$WORK/hello.out" "summary (run gc-hello)"
check "quiet: no status lines" lacks "$WORK/hello.out" "-> started"
check "quiet: no step output" lacks "$WORK/hello.out" "greet |"
check "run lock left behind for gc" [ -f "$WORK/ws/.pipewright/runs/gc-hello/lock" ]
run_pw after gc -w "$WORK/ws" --dry-run
check "shell run: nothing to remove" contains "$WORK/after.out" "gc: 0 would be removed, 0 failed"
printf '%s\n' '{"event":"created","ts_ms":1,"run_id":"gc-hello","connector":"made-up","kind":"thing","name":"t1","address":""}' \
	>>"$WORK/ws/.pipewright/runs/gc-hello/journal"
run_pw nohook gc -w "$WORK/ws"
check "no hook: exit 4" [ "$STATUS" -eq 4 ]
check "no hook: reported" contains "$WORK/nohook.out" "failed to remove made-up thing t1"

# kill -9 of a run in the middle of a step: the step's processes run on, orphaned, and so does
# the run's outputs file; gc lists them (dry run), then stops and removes them, and leaves the
# processes of a live run alone
mkdir -p "$WORK/k9"
cat >"$WORK/k9/long.yml" <<'YML'
version: 1
steps:
  - name: first
    command: echo a=1 >> "$PIPEWRIGHT_OUTPUT"
  - name: hold
    command: sh -c 'sleep 2741; true' & sleep 2742
YML
running() { pgrep -f "$1" >/dev/null; }
# wait_for_process PATTERN: up to 10 s until a process matches
wait_for_process() {
	i=0
	while ! pgrep -f "$1" >/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
"$PW_CLI" run "$WORK/k9/long.yml" -q --run-id gck-1 >/dev/null 2>&1 &
PID=$!
wait_for_process '^sleep 2742$'
wait_for_process '^sleep 2741$'
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
check "killed run: its step's processes run on" running '^sleep 2742$'
check "killed run: and their children" running '^sleep 2741$'
check "killed run: its outputs file is left" sh -c "ls /dev/shm/pipewright-outputs-$PID-* || ls /tmp/pipewright-outputs-$PID-*"
run_pw k9dry gc -w "$WORK/k9" --dry-run
check "dry run: exit 0" [ "$STATUS" -eq 0 ]
check "dry run: lists the step's process" grep -qE "^would remove step process gck-1/[0-9]+ sleep 2742 of step hold \(local\)$" "$WORK/k9dry.out"
check "dry run: lists its child" grep -qE "^would remove step process gck-1/[0-9]+ sleep 2741 of step hold \(local\)$" "$WORK/k9dry.out"
check "dry run: lists the outputs file" grep -qE "^would remove shell outputs file /(dev/shm|tmp)/pipewright-outputs-$PID-" "$WORK/k9dry.out"
check "dry run: stops nothing" running '^sleep 2742$'
run_pw k9 gc -w "$WORK/k9"
check "gc: exit 0" [ "$STATUS" -eq 0 ]
check "gc: reports the step's process" grep -qE "^removed step process gck-1/[0-9]+ sleep 2742 of step hold \(local\)$" "$WORK/k9.out"
check "gc: reports its child" grep -qE "^removed step process gck-1/[0-9]+ sleep 2741 of step hold \(local\)$" "$WORK/k9.out"
check "gc: the step's processes are gone" no_run_process gck-1
check "gc: the outputs file is gone" sh -c "! ls /dev/shm/pipewright-outputs-$PID-* /tmp/pipewright-outputs-$PID-* 2>/dev/null"
run_pw k9again gc -w "$WORK/k9"
check "a second gc: nothing left" contains "$WORK/k9again.out" "gc: 0 removed, 0 failed"
cat >"$WORK/k9/live.yml" <<'YML'
version: 1
steps:
  - name: live
    command: sleep 2743
YML
"$PW_CLI" run "$WORK/k9/live.yml" -q --run-id gck-live >/dev/null 2>&1 &
PID=$!
wait_for_process '^sleep 2743$'
run_pw k9live gc -w "$WORK/k9"
check "a live run's processes: kept" grep -qE "^gc: 0 removed, 0 failed, [1-9][0-9]* kept \(run alive\)" "$WORK/k9live.out"
check "a live run's process: still running" running '^sleep 2743$'
signal_and_wait TERM "$PID"
check "the live run ends when cancelled" [ "$STATUS" -eq 130 ]
check "the live run leaves nothing" no_run_process gck-live
finish
