# timeout.yml: the step is stopped at its deadline with a timeout error; `always` still runs.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example timeout.yml)
start=$(date +%s)
run_pw to run "$f" --run-id to-1
end=$(date +%s)
check "timeout is a step failure (exit 1)" [ "$STATUS" -eq 1 ]
check "stopped long before 30 s" [ $((end - start)) -lt 15 ]
r="$WORK/ws/.pipewright/runs/to-1/result.json"
check "status timed_out" contains "$r" '"status": "timed_out"'
check "error code ETIMEOUT" contains "$r" '"code": "ETIMEOUT"'
check "error names the step and timeout" contains "$WORK/to.err" "step 'too-slow' timed out after 1 s"
check "hint about timeout" contains "$WORK/to.err" "hint: raise the step's \`timeout:\`"
check "report ran" contains "$WORK/to.out" "report | too-slow was stopped"
check "the stopped process's exit code, signal and metadata in result.json" python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))['steps'][0]
ok = (s['exit_code'] == 143 and s['signal'] == 15 and s['metadata']['signal'] == '15'
      and 'signal 15' in s['metadata']['ended'])
sys.exit(0 if ok else 1)" "$r"
check "exit code in the audit log" contains "$WORK/ws/.pipewright/runs/to-1/audit.jsonl" '"outcome":"timed_out","detail":"exit_code=143 attempts=1"'
check "exit code shown with the step's end" contains "$WORK/to.out" "too-slow | timed_out (exit code 143)"
check "no process of the run left behind" no_run_process to-1
# one worker: the step after the timed-out one runs with the same cancel descriptor, which
# must have been emptied
run_pw to1 run "$f" --run-id to-j1 -j 1
check "-j 1: exit 1" [ "$STATUS" -eq 1 ]
check "-j 1: report ran to its end" contains "$WORK/to1.out" "report | too-slow was stopped"
check "-j 1: report succeeded" python3 -c "
import json, sys
s = {x['name']: x['status'] for x in json.load(open(sys.argv[1]))['steps']}
sys.exit(0 if s == {'too-slow': 'timed_out', 'report': 'succeeded'} else 1)" "$WORK/ws/.pipewright/runs/to-j1/result.json"
# allow_failure covers a timeout: the step stays timed_out, marked allowed, and the run succeeds
cat >"$WORK/ws/allowed.yml" <<'YML'
version: 1
steps:
  - name: optional
    timeout: 1
    retries: 1
    allow_failure: true
    command: sleep 5
  - name: next
    command: echo next ran
YML
run_pw al run "$WORK/ws/allowed.yml" --run-id allowed-1
check "allowed timeout: exit 0" [ "$STATUS" -eq 0 ]
check "allowed timeout: timed_out, allowed, run succeeded, next ran" python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
s = {x['name']: x for x in r['steps']}
ok = (r['status'] == 'succeeded' and s['optional']['status'] == 'timed_out'
      and s['optional']['allowed'] is True and s['optional']['attempts'] == 2
      and s['next']['status'] == 'succeeded')
sys.exit(0 if ok else 1)" "$WORK/ws/.pipewright/runs/allowed-1/result.json"
check "allowed timeout: said so" contains "$WORK/al.out" "optional | timed_out (exit code 143) (allowed to fail)"
# kill_grace is for the whole process group, not only its leader: a background shell's TERM
# trap that takes a second finishes after the step's shell has exited
cat >"$WORK/ws/grace.yml" <<'YML'
version: 1
steps:
  - name: trapper
    timeout: 1
    config:
      kill_grace: 5
      command: sh -c "trap 'sleep 1; echo cleaned > done1.txt; exit 0' TERM; while :; do sleep 0.1; done" & wait
YML
run_pw grace run "$WORK/ws/grace.yml" --run-id to-grace
check "grace: timed out (exit 1)" [ "$STATUS" -eq 1 ]
check "grace: the background trap ran to its end" contains "$WORK/ws/done1.txt" "cleaned"
check "grace: nothing left behind" no_run_process to-grace
# a process that traps SIGTERM and exits 0 was still stopped at its deadline: timed_out, not
# succeeded, and the steps after it do not run
cat >"$WORK/ws/trap0.yml" <<'YML'
version: 1
steps:
  - name: t
    timeout: 1
    command: 'trap "echo term; exit 0" TERM; sleep 10 & wait'
  - name: after
    needs: [t]
    command: echo after ran
YML
run_pw trap0 run "$WORK/ws/trap0.yml" --run-id to-trap0
check "trap exit 0: a step failure (exit 1)" [ "$STATUS" -eq 1 ]
check "trap exit 0: timed_out with its exit code 0 kept, next not run" python3 -c "
import json, sys
s = {x['name']: x for x in json.load(open(sys.argv[1]))['steps']}
ok = (s['t']['status'] == 'timed_out' and s['t']['exit_code'] == 0
      and s['t']['error']['code'] == 'ETIMEOUT' and s['after']['status'] != 'succeeded')
sys.exit(0 if ok else 1)" "$WORK/ws/.pipewright/runs/to-trap0/result.json"
check "trap exit 0: next step did not run" lacks "$WORK/trap0.out" "after ran"
finish
