# Executable connectors journal what they create (requests on fd 3, answered once the record
# is on disk) and `pipewright gc` has their program's gc verb remove what a killed run left:
# tests/plugin/connectors/pipewright-connector-journaled makes files outside the workspace.
set -e
. "$(dirname "$0")/lib.sh"
export KUBECONFIG=/nonexistent/kubeconfig DOCKER_HOST=unix:///nonexistent
PROG="$PW_SOURCE_DIR/tests/plugin/connectors/pipewright-connector-journaled"
mkdir -p "$WORK/ws" "$WORK/res"
# pipeline NAME CONFIG: a one-step pipeline file
pipeline() {
	cat >"$WORK/ws/$1.yml" <<YML
version: 1
steps:
  - name: make
    step_type: custom:journaled
    config: { connector_path: "$PROG", dir: "$WORK/res", $2 }
YML
}
journal() { echo "$WORK/ws/.pipewright/runs/$1/journal"; }
# count FILE TEXT: how many lines of FILE hold TEXT
count() { grep -cF -- "$2" "$1" || true; }
# kill_once_made FILE: once FILE exists, kill -9 the background run $PID, then end the program
# (in a process group of its own, it outlives pipewright until the test ends it)
kill_once_made() {
	wait_for_file "$1"
	kill -9 "$PID"
	wait "$PID" 2>/dev/null || true
	pkill -f "connector-journaled execute" 2>/dev/null || true
	# gone before gc looks (gc would count it among the run's processes)
	i=0
	while pgrep -f "connector-journaled execute" >/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# a run that ends: each file journaled before it is made, and marked removed after
pipeline plain "count: 2"
run_pw plain run "$WORK/ws/plain.yml" -q --run-id exec-plain
check "plain run succeeds" [ "$STATUS" -eq 0 ]
check "plain: files made then removed" [ ! -e "$WORK/res/res-0" ] && [ ! -e "$WORK/res/res-1" ]
J=$(journal exec-plain)
check "plain: two created records" [ "$(count "$J" '"event":"created"')" -eq 2 ]
check "plain: two removed records" [ "$(count "$J" '"event":"removed"')" -eq 2 ]
check "plain: the connector's records" contains "$J" '"connector":"custom:journaled","kind":"file"'
check "plain: the program kept for gc" contains "$J" "\"pipewright.program\":\"$PROG\""
check "plain: attrs kept" contains "$J" '"index":"1"'
check "plain: result after the requests" contains "$WORK/ws/.pipewright/runs/exec-plain/result.json" '"made": "2"'
run_pw plain_gc gc -w "$WORK/ws"
check "plain: gc has nothing to do" contains "$WORK/plain_gc.out" "gc: 0 removed, 0 failed"

# a request without a name is refused, and the program hears why
pipeline bad "count: 1, bad_request: true"
run_pw bad run "$WORK/ws/bad.yml" --run-id exec-bad
check "bad request: the run goes on" [ "$STATUS" -eq 0 ]
check "bad request: refused with the reason" contains "$WORK/bad.out" 'refused: a journal request names the object'
check "bad request: unknown event" contains "$WORK/bad.out" 'refused: "journal" is "created" or "removed", not made'
check "bad request: attrs are strings" contains "$WORK/bad.out" "refused: attrs: at most 32, each a string, none named pipewright.program (attribute 'n')"
check "bad request: the reserved attribute" contains "$WORK/bad.out" "(attribute 'pipewright.program')"
check "bad request: scope is a string" contains "$WORK/bad.out" 'refused: "address" and "scope" are strings'
check "bad request: not journaled" [ "$(count "$(journal exec-bad)" '"event":"created"')" -eq 1 ]

# kill -9 while the program holds three files: gc removes them through the program's gc verb
pipeline hold "count: 3, hold: true"
"$PW_CLI" run "$WORK/ws/hold.yml" -q --run-id exec-hold >"$WORK/hold.out" 2>&1 </dev/null &
PID=$!
kill_once_made "$WORK/res/res-2"
check "killed: the files are left" [ -e "$WORK/res/res-0" ] && [ -e "$WORK/res/res-2" ]
run_pw dry gc -w "$WORK/ws" --dry-run
check "dry run: three would go" contains "$WORK/dry.out" "gc: 3 would be removed, 0 failed"
check "dry run: names the file" contains "$WORK/dry.out" "would remove custom:journaled file $WORK/res/res-1 (local)"
check "dry run: removes nothing" [ -e "$WORK/res/res-1" ]
touch "$WORK/res/gc-fail"
run_pw failing gc -w "$WORK/ws"
check "gc verb fails: exit 4" [ "$STATUS" -eq 4 ]
check "gc verb fails: reported with the program's words" contains "$WORK/failing.out" "cannot remove $WORK/res/res-2 now"
check "gc verb fails: records kept" [ "$(count "$(journal exec-hold)" '"by":"gc"')" -eq 0 ]
rm "$WORK/res/gc-fail"
run_pw gc gc -w "$WORK/ws"
check "gc: ok" [ "$STATUS" -eq 0 ]
check "gc: three removed" contains "$WORK/gc.out" "gc: 3 removed, 0 failed"
check "gc: the files are gone" [ ! -e "$WORK/res/res-0" ] && [ ! -e "$WORK/res/res-1" ] && [ ! -e "$WORK/res/res-2" ]
check "gc: marked removed by gc" [ "$(count "$(journal exec-hold)" '"by":"gc"')" -eq 3 ]
run_pw again gc -w "$WORK/ws"
check "gc again: nothing left" contains "$WORK/again.out" "gc: 0 removed, 0 failed"

# a relative pipeline path and connector_path: the program is found from the workspace it runs
# in, and its records name it by an absolute path (gc runs from another directory)
mkdir -p "$WORK/ws/tools"
cp "$PROG" "$WORK/ws/tools/"
cat >"$WORK/ws/rel.yml" <<YML
version: 1
steps:
  - name: make
    step_type: custom:journaled
    config: { connector_path: ./tools/pipewright-connector-journaled, dir: "$WORK/res", count: 1, hold: true }
YML
(cd "$WORK" && exec "$PW_CLI" run ws/rel.yml -q --run-id exec-rel >"$WORK/rel.out" 2>&1 </dev/null) &
PID=$!
kill_once_made "$WORK/res/res-0"
check "relative: the program ran" [ -e "$WORK/res/res-0" ]
check "relative: the program named absolutely" contains "$(journal exec-rel)" "\"pipewright.program\":\"$WORK/ws/./tools/pipewright-connector-journaled\""
(cd / && run_pw relgc gc -w "$WORK/ws")
check "relative: gc from elsewhere removes it" contains "$WORK/relgc.out" "gc: 1 removed, 0 failed"
check "relative: the file is gone" [ ! -e "$WORK/res/res-0" ]
finish
