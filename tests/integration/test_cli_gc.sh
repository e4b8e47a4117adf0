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
finish
