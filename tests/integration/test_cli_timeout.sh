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
check "no process of the run left behind" no_run_process to-1
finish
