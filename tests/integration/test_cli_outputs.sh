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

# The outputs file: there and empty when the step starts, private (0600), in memory when the
# machine has /dev/shm, unique per step, and gone once the run has read it.
mkdir -p "$WORK/of"
cat >"$WORK/of/p.yml" <<'EOF'
version: 1
steps:
  - name: one
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-one
      echo "$PIPEWRIGHT_OUTPUT" > path-one
      echo "k=v" >> "$PIPEWRIGHT_OUTPUT"
  - name: two
    command: |
      echo "$PIPEWRIGHT_OUTPUT" > path-two
      [ "$PIPEWRIGHT_STEP_ONE_K" = v ] && echo seen > seen-two
EOF
run_pw of run "$WORK/of/p.yml" -w "$WORK/of"
check "outputs run exit 0" [ "$STATUS" -eq 0 ]
check "the file exists, empty, mode 600" [ "$(cat "$WORK/of/info-one")" = "600 0" ]
check "its value reached the next step" [ -f "$WORK/of/seen-two" ]
check "one file per step" [ "$(cat "$WORK/of/path-one")" != "$(cat "$WORK/of/path-two")" ]
check "removed once read (one)" [ ! -e "$(cat "$WORK/of/path-one")" ]
check "removed once read (two)" [ ! -e "$(cat "$WORK/of/path-two")" ]
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	check "in memory (/dev/shm)" contains "$WORK/of/path-one" "/dev/shm/pipewright-outputs-"
fi
finish
