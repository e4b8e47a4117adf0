# outputs.yml: key=value and multi-line outputs reach later steps.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example outputs.yml)
run_pw out run "$f" --run-id out-1
check "exit 0" [ "$STATUS" -eq 0 ]
check "single-line output" contains "$WORK/out.out" "release | releasing v1.4.2"
check "multi-line output (1)" contains "$WORK/out.out" "release | line one"
check "multi-line output (2)" contains "$WORK/out.out" "release | line two"
check "outputs in result.json" contains "$WORK/ws/.pipewright/runs/out-1/result.json" '"tag": "v1.4.2"'
finish
