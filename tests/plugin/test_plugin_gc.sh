# A shared-object plug-in journals what it creates through the host table, and `pipewright gc`
# (with the plug-in loaded by --plugin or PIPEWRIGHT_PLUGIN_PATH) has its connector's gc_remove
# delete what a killed run left: tests/plugin/journal_plugin.c makes files outside the
# workspace. Without the plug-in, gc says which connector it lacks and keeps the records.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
: "${PW_JOURNAL_PLUGIN:?}"
export KUBECONFIG=/nonexistent/kubeconfig DOCKER_HOST=unix:///nonexistent
unset PIPEWRIGHT_PLUGIN_PATH
mkdir -p "$WORK/ws" "$WORK/res"
pipeline() {
	cat >"$WORK/ws/$1.yml" <<YML
version: 1
steps:
  - name: make
    step_type: custom:sojournal
    config: { dir: "$WORK/res", $2 }
YML
}
journal() { echo "$WORK/ws/.pipewright/runs/$1/journal"; }
count() { grep -cF -- "$2" "$1" || true; }

pipeline plain "count: 2"
run_pw plain run "$WORK/ws/plain.yml" -q --run-id so-plain --plugin "$PW_JOURNAL_PLUGIN"
check "plain run succeeds" [ "$STATUS" -eq 0 ]
J=$(journal so-plain)
check "plain: two created records" [ "$(count "$J" '"event":"created"')" -eq 2 ]
check "plain: two removed records" [ "$(count "$J" '"event":"removed"')" -eq 2 ]
check "plain: named by the connector's type" contains "$J" '"connector":"custom:sojournal","kind":"file"'
check "plain: files gone" [ ! -e "$WORK/res/so-0" ] && [ ! -e "$WORK/res/so-1" ]

pipeline hold "count: 3, hold: true"
"$PW_CLI" run "$WORK/ws/hold.yml" -q --run-id so-hold --plugin "$PW_JOURNAL_PLUGIN" \
	>"$WORK/hold.out" 2>&1 </dev/null &
PID=$!
wait_for_file "$WORK/res/so-2"
check "hold: three files made" [ -e "$WORK/res/so-2" ]
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
check "killed: the files are left" [ -e "$WORK/res/so-0" ] && [ -e "$WORK/res/so-2" ]

run_pw noplugin gc -w "$WORK/ws"
check "without the plug-in: exit 4" [ "$STATUS" -eq 4 ]
check "without the plug-in: says what is missing" contains "$WORK/noplugin.out" "nothing here removes what custom:sojournal made: no plug-in provides it"
check "without the plug-in: files kept" [ -e "$WORK/res/so-1" ]
touch "$WORK/res/gc-fail"
run_pw failing gc -w "$WORK/ws" --plugin "$PW_JOURNAL_PLUGIN"
check "gc_remove fails: exit 4" [ "$STATUS" -eq 4 ]
check "gc_remove fails: its reason" contains "$WORK/failing.out" "cannot remove $WORK/res/so-2 now"
rm "$WORK/res/gc-fail"
PIPEWRIGHT_PLUGIN_PATH=$(dirname "$PW_JOURNAL_PLUGIN") run_pw dry gc -w "$WORK/ws" --dry-run
check "dry run (plug-in from PIPEWRIGHT_PLUGIN_PATH): three would go" contains "$WORK/dry.out" "gc: 3 would be removed, 0 failed"
check "dry run: removes nothing" [ -e "$WORK/res/so-0" ]
run_pw gc gc -w "$WORK/ws" --plugin "$PW_JOURNAL_PLUGIN"
check "gc: ok" [ "$STATUS" -eq 0 ]
check "gc: three removed" contains "$WORK/gc.out" "gc: 3 removed, 0 failed"
check "gc: names each" contains "$WORK/gc.out" "removed custom:sojournal file $WORK/res/so-1 (local)"
check "gc: the files are gone" [ ! -e "$WORK/res/so-0" ] && [ ! -e "$WORK/res/so-1" ] && [ ! -e "$WORK/res/so-2" ]
check "gc: marked removed by gc" [ "$(count "$(journal so-hold)" '"by":"gc"')" -eq 3 ]
finish
