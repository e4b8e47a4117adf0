# hello.yml on the shell connector: output, step outputs, run directory contents.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example hello.yml)
run_pw hello run "$f" --run-id hello-1
check "exit status 0" [ "$STATUS" -eq 0 ]
check "greeting printed with step prefix" contains "$WORK/hello.out" "greet | Hello from pipewright, step greet of run hello-1"
check "facts ran in the workspace" contains "$WORK/hello.out" "working directory: $WORK/ws"
check "step output passed on" contains "$WORK/hello.out" "use-output | facts said version 1.0.0"
check "summary lists steps" contains "$WORK/hello.out" "succeeded"
rd="$WORK/ws/.pipewright/runs/hello-1"
check "run dir" [ -d "$rd" ]
check "per-step log" contains "$rd/greet.log" "Hello from pipewright"
check "result.json status" contains "$rd/result.json" '"status": "succeeded"'
check "result.json exit codes" contains "$rd/result.json" '"exit_code": 0'
check "audit has step_start" contains "$rd/audit.jsonl" '"event":"step_start"'
check "audit has run_end" contains "$rd/audit.jsonl" '"event":"run_end"'
check "audit lines are JSON" python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$rd/audit.jsonl"
# the host environment does not leak into steps
cat >"$WORK/ws/env.yml" <<'YML'
version: 1
steps:
  - name: show
    command: env
  - name: inherit
    command: env
    config: { inherit_env: true }
YML
PW_HOST_ONLY=visible-on-host run_pw env run "$WORK/ws/env.yml"
check "env run ok" [ "$STATUS" -eq 0 ]
check "host variable not passed by default" lacks "$WORK/env.out" "show | PW_HOST_ONLY="
check "host variable passed with inherit_env" contains "$WORK/env.out" "inherit | PW_HOST_ONLY=visible-on-host"
check "minimal PATH" contains "$WORK/env.out" "show | PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# one log per step that ran, including one that printed nothing; none for a step that did not
# run (logs are made ahead while the first steps run, and taken back for steps that never do)
cat >"$WORK/ws/logs.yml" <<'YML'
version: 1
steps:
  - name: quiet
    command: "true"
  - name: talks
    command: echo said
  - name: fails
    command: exit 3
  - name: after
    command: echo never
  - name: later
    command: echo never either
YML
run_pw logs run "$WORK/ws/logs.yml" --run-id logs-1 -j 1
check "logs run failed" [ "$STATUS" -eq 1 ]
lrd="$WORK/ws/.pipewright/runs/logs-1"
check "a log for the quiet step" [ -f "$lrd/quiet.log" ]
check "and it is empty" [ ! -s "$lrd/quiet.log" ]
check "the talking step's log" [ "$(cat "$lrd/talks.log")" = "said" ]
check "the failing step's log" [ -f "$lrd/fails.log" ]
check "no log for a skipped step" [ ! -e "$lrd/after.log" ]
check "no log for the next skipped step" [ ! -e "$lrd/later.log" ]
check "only those logs" [ "$(cd "$lrd" && ls *.log | tr '\n' ' ')" = "fails.log quiet.log talks.log " ]
check "nothing else in the run directory" \
	[ "$(cd "$lrd" && ls -A | tr '\n' ' ')" = "audit.jsonl fails.log lock quiet.log result.json talks.log " ]
# the logs of steps that printed nothing share one empty file
# run_q OUT ID CMD...: steps q1, q2 ... running the commands, one after the other, as run ID
run_q() {
	out=$1
	id=$2
	shift 2
	{
		echo "version: 1"
		echo "steps:"
		n=1
		for c in "$@"; do
			echo "  - { name: q$n, command: \"$c\" }"
			n=$((n + 1))
		done
	} >"$WORK/ws/quiet.yml"
	run_pw "$out" run "$WORK/ws/quiet.yml" --run-id "$id" -j 1
}
qrd="$WORK/ws/.pipewright/runs/quiet-3"
run_q quiet3 quiet-3 true true true
check "quiet logs exist, empty" sh -c "[ -f '$qrd/q1.log' ] && [ ! -s '$qrd/q1.log' ] && [ ! -s '$qrd/q3.log' ]"
check "quiet logs share a file" [ "$(stat -c %i "$qrd/q1.log")" = "$(stat -c %i "$qrd/q3.log")" ]
check "which is not left in the run directory" [ ! -e "$qrd/.empty.log" ]
# an id whose run directory exists is refused: a second run is not mixed into the first
result_before=$(cat "$qrd/result.json")
run_q quiet3b quiet-3 "echo now q1 talks; exit 1" true true
check "the same id again: a usage error" [ "$STATUS" -eq 3 ]
check "the same id again: says the directory exists" contains "$WORK/quiet3b.err" \
	"run id 'quiet-3' is already used: $qrd exists"
check "the same id again: how to go on" contains "$WORK/quiet3b.err" "choose another run id"
check "the same id again: nothing ran" lacks "$WORK/quiet3b.out" "now q1 talks"
check "the earlier run's result is untouched" [ "$(cat "$qrd/result.json")" = "$result_before" ]
check "the earlier run's logs are untouched" [ ! -s "$qrd/q1.log" ]
check "one run in the earlier run's audit" [ "$(grep -c '"event":"step_start"' "$qrd/audit.jsonl")" -eq 3 ]
# the runs directory carries the "top of a hierarchy" flag where the file system has it
# (ext2/3/4), so that run directories are spread over block groups; each run makes the next
# one's directory ahead (.next), which the next run renames to its own
mkdir -p "$WORK/probe-topdir"
if chattr +T "$WORK/probe-topdir" 2>/dev/null && lsattr -d "$WORK/probe-topdir" 2>/dev/null | grep -q '^[^ ]*T'; then
	check "runs directory is a top directory" sh -c "lsattr -d '$WORK/ws/.pipewright/runs' | grep -q '^[^ ]*T'"
fi
runs="$WORK/ws/.pipewright/runs"
check "a directory made ahead for the next run" [ -d "$runs/.next" ]
ahead=$(stat -c %i "$runs/.next")
run_pw ahead run "$f" --run-id ahead-1
check "ahead run exit 0" [ "$STATUS" -eq 0 ]
check "the next run took it" [ "$(stat -c %i "$runs/ahead-1")" = "$ahead" ]
check "and made another" sh -c "[ -d '$runs/.next' ] && [ \"\$(stat -c %i '$runs/.next')\" != '$ahead' ]"
run_pw runs-list runs -w "$WORK/ws"
check "runs does not list it" sh -c "! grep -qF .next '$WORK/runs-list.out'"
check "runs lists the run" contains "$WORK/runs-list.out" "ahead-1"
# --version and --help
run_pw version --version
check "version" contains "$WORK/version.out" "pipewright 1.0.0"
for c in run validate plan connectors; do
	run_pw "help-$c" "$c" --help
	check "$c --help exits 0" [ "$STATUS" -eq 0 ]
	check "$c --help prints usage" contains "$WORK/help-$c.out" "usage: pipewright $c"
done
run_pw nocmd frobnicate
check "unknown command is a usage error" [ "$STATUS" -eq 3 ]
# a working_directory that names a file: the error is about working_directory, where it is
# written, with a hint that fits (the command is not blamed)
cat >"$WORK/ws/wd.yml" <<'YML'
version: 1
steps:
  - name: a
    command: echo hi
    config:
      working_directory: wd.yml
YML
run_pw wd run "$WORK/ws/wd.yml"
check "file as working_directory: the step fails" [ "$STATUS" -eq 1 ]
check "file as working_directory: located at the key's value" contains "$WORK/wd.err" "wd.yml:6:26: cannot run '/bin/sh': working directory '$WORK/ws/wd.yml': Not a directory"
check "file as working_directory: the key" contains "$WORK/wd.err" "config: working_directory"
check "file as working_directory: the hint" contains "$WORK/wd.err" "hint: working_directory names a file, not a directory"
check "file as working_directory: not the command" lacks "$WORK/wd.err" "config: command"
check "file as working_directory: no hint to create it" lacks "$WORK/wd.err" "create the directory"
# --log-format json: every line on stderr is a JSON object, errors included, with their fields
run_pw wdjson run "$WORK/ws/wd.yml" --run-id wd-json --log-format json
check "json: the step fails" [ "$STATUS" -eq 1 ]
check "json: every stderr line is JSON" python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$WORK/wdjson.err"
check "json: the step error as an object" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
e = [r for r in recs if r.get("level") == "error" and r.get("step") == "a"][0]
assert e["run_id"] == "wd-json" and e["line"] == 6 and e["column"] == 26, e
assert e["file"].endswith("wd.yml") and "Not a directory" in e["message"], e
assert e["key"] == "working_directory" and "names a file" in e["hint"], e
' "$WORK/wdjson.err"
printf 'version: 1\nsteps:\n  - name: a\n    needs: [nope]\n    command: true\n' >"$WORK/ws/badneeds.yml"
run_pw badjson run "$WORK/ws/badneeds.yml" --log-format json
check "json: an invalid pipeline" [ "$STATUS" -eq 2 ]
check "json: the pipeline error as an object, without run_id" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs and all(r["level"] == "error" and "run_id" not in r for r in recs), recs
assert recs[0]["file"].endswith("badneeds.yml") and recs[0]["line"] == 4 and "nope" in recs[0]["message"], recs
' "$WORK/badjson.err"
run_pw utf8json run "$WORK/ws/$(printf 'bad\377name').yml" --log-format json
check "json: a message with invalid UTF-8 keeps its message" python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert recs and "bad\ufffdname" in recs[0]["message"], recs
' "$WORK/utf8json.err"
finish
