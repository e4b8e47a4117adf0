# cancel.yml: SIGINT, SIGTERM or SIGHUP to `pipewright run` stops the long step (its process group), runs the
# `always` step, and ends with exit status 130.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example cancel.yml)
# A background job of a script starts with SIGINT ignored (and pipewright, like make, leaves
# ignored signals ignored): started here as from a terminal, with every signal at its default.
for sig in INT TERM HUP; do
	python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PW_CLI" run "$f" --run-id "cancel-$sig" >"$WORK/c-$sig.out" 2>"$WORK/c-$sig.err" </dev/null &
	pid=$!
	wait_for_text "$WORK/c-$sig.out" "long | started"
	signal_and_wait "$sig" $pid
	check "SIG$sig: exit status 130" [ "$STATUS" -eq 130 ]
	check "SIG$sig: cleanup ran" contains "$WORK/c-$sig.out" "cleanup | cleanup after cancel"
	r="$WORK/ws/.pipewright/runs/cancel-$sig/result.json"
	check "SIG$sig: long cancelled" contains "$r" '"status": "cancelled"'
	check "SIG$sig: no process of the run left" no_run_process "cancel-$sig"
done
# a cancelled step keeps what its process did on SIGTERM: here a trap that exits 5
cat >"$WORK/ws/trap.yml" <<'YML'
version: 1
steps:
  - name: trapped
    command: |
      trap 'echo stopping; exit 5' TERM
      echo ready
      while :; do sleep 0.1; done
YML
python3 -c 'import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PW_CLI" run "$WORK/ws/trap.yml" --run-id trap-1 >"$WORK/trap.out" 2>"$WORK/trap.err" </dev/null &
pid=$!
wait_for_text "$WORK/trap.out" "trapped | ready"
signal_and_wait TERM $pid
check "trap: exit status 130" [ "$STATUS" -eq 130 ]
check "trap: the step's exit code, its metadata and the cancel error in result.json" python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['steps'][0]
ok = (s['status'] == 'cancelled' and s['exit_code'] == 5 and 'signal' not in s
      and 'exited with code 5' in s['metadata']['ended'] and s['error']['code'] == 'ECANCELLED')
sys.exit(0 if ok else 1)" "$WORK/ws/.pipewright/runs/trap-1/result.json"
check "trap: the exit code in the audit log" contains "$WORK/ws/.pipewright/runs/trap-1/audit.jsonl" '"outcome":"cancelled","detail":"exit_code=5 attempts=1"'
check "trap: shown with the step's end" contains "$WORK/trap.out" "trapped | cancelled (exit code 5)"
# a second signal stops the `always` steps too, and says so (not the first signal's words)
cat >"$WORK/ws/twice.yml" <<'YML'
version: 1
steps:
  - name: long
    command: echo started; sleep 60
  - name: cleanup
    when: always
    command: echo cleanup started; sleep 60
YML
python3 -c 'import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PW_CLI" run "$WORK/ws/twice.yml" --run-id twice-1 >"$WORK/twice.out" 2>"$WORK/twice.err" </dev/null &
pid=$!
wait_for_text "$WORK/twice.out" "long | started"
kill -s TERM $pid
wait_for_text "$WORK/twice.out" "cleanup | cleanup started"
signal_and_wait TERM $pid
check "twice: exit status 130" [ "$STATUS" -eq 130 ]
check "twice: the first signal cancels" contains "$WORK/twice.err" "pipewright: cancelling (signal again to stop \`always\` steps too)"
check "twice: the second stops the always steps" contains "$WORK/twice.err" "pipewright: stopping the \`always\` steps too"
check "twice: each said once" [ "$(grep -c 'pipewright: cancelling' "$WORK/twice.err")" -eq 1 ]
check "twice: cleanup cancelled" python3 -c "
import json, sys
s = {x['name']: x['status'] for x in json.load(open(sys.argv[1]))['steps']}
sys.exit(0 if s == {'long': 'cancelled', 'cleanup': 'cancelled'} else 1)" "$WORK/ws/.pipewright/runs/twice-1/result.json"
check "twice: no process of the run left" no_run_process twice-1
# started with SIGHUP ignored (nohup), a hangup is ignored: the run goes on and succeeds
cat >"$WORK/ws/hup.yml" <<'YML'
version: 1
steps:
  - name: wait
    command: echo started; sleep 1
YML
nohup "$PW_CLI" run "$WORK/ws/hup.yml" --run-id nohup-1 >"$WORK/nohup.out" 2>"$WORK/nohup.err" </dev/null &
pid=$!
wait_for_text "$WORK/nohup.out" "wait | started"
signal_and_wait HUP $pid
check "nohup: SIGHUP ignored, exit status 0" [ "$STATUS" -eq 0 ]
check "nohup: the step succeeded" contains "$WORK/ws/.pipewright/runs/nohup-1/result.json" '"status": "succeeded"'
# a background job of this script has SIGINT ignored: SIGINT does not cancel it either
"$PW_CLI" run "$WORK/ws/hup.yml" --run-id bg-int >"$WORK/bg.out" 2>"$WORK/bg.err" </dev/null &
pid=$!
wait_for_text "$WORK/bg.out" "wait | started"
signal_and_wait INT $pid
check "background job: SIGINT ignored, exit status 0" [ "$STATUS" -eq 0 ]
finish
