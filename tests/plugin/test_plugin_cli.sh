# Both kinds of custom connector end to end through the pipewright binary: a shared-object
# plug-in (--plugin, PIPEWRIGHT_PLUGIN_PATH) and executable connectors (PATH, connector_path);
# crashes and garbage fail their step and the run goes on per allow_failure; secrets printed
# by either kind are masked; load errors name the file and the cause; stats show the cache.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
: "${PW_GREET_PLUGIN:?}" "${PW_BAD_PLUGINS:?}"
CONNS="$PW_SOURCE_DIR/tests/plugin/connectors"
export PATH="$PW_SOURCE_DIR/examples/connectors:$PATH"
mkdir -p "$WORK/ws"
cat >"$WORK/ws/p.yml" <<YML
version: 1
name: custom-connectors
secrets: [DEPLOY_TOKEN]
steps:
  - name: so-greet
    step_type: custom:greet
    config:
      who: plug-in user
      print_env: DEPLOY_TOKEN
  - name: exec-hello
    step_type: custom:hello
    config:
      who: script user
  - name: exec-secret
    step_type: custom:echoenv
    config:
      connector_path: $CONNS/pipewright-connector-echoenv
  - name: crashes
    step_type: custom:crash
    allow_failure: true
    config:
      connector_path: $CONNS/pipewright-connector-crash
  - name: garbage
    step_type: custom:garbage
    allow_failure: true
    config:
      connector_path: $CONNS/pipewright-connector-garbage
  - name: after
    needs: [crashes, garbage]
    command: echo still running after the failures
YML
f="$WORK/ws/p.yml"
export DEPLOY_TOKEN='v3ry-s3cret-t0ken'

run_pw run1 run "$f" --plugin "$PW_GREET_PLUGIN" --run-id r1 -j 1
check "run: exit 0 (failures allowed)" [ "$STATUS" -eq 0 ]
check "plug-in output" contains "$WORK/run1.out" "so-greet | hello, plug-in user, from a plug-in"
check "plug-in output masked" contains "$WORK/run1.out" "so-greet | DEPLOY_TOKEN is ***"
check "executable connector output" contains "$WORK/run1.out" "exec-hello | hello, script user, from step exec-hello (run r1)"
check "executable connector stderr" contains "$WORK/run1.out" "exec-hello | done"
check "executable output masked" contains "$WORK/run1.out" "exec-secret | token is ***"
check "secret absent from stdout" lacks "$WORK/run1.out" "v3ry-s3cret"
check "secret absent from stderr" lacks "$WORK/run1.err" "v3ry-s3cret"
rd="$WORK/ws/.pipewright/runs/r1"
check "secret absent from result.json" lacks "$rd/result.json" "v3ry-s3cret"
check "secret absent from step log" lacks "$rd/exec-secret.log" "v3ry-s3cret"
check "crash: allowed failure" contains "$WORK/run1.out" "allowed_failure"
check "crash: names program and signal" contains "$WORK/run1.err" "connector program '$CONNS/pipewright-connector-crash' (custom:crash) crashed in execute: killed by signal 11"
check "crash: output before the crash kept" contains "$WORK/run1.out" "crashes | about to crash"
check "garbage: explained" contains "$WORK/run1.err" "(custom:garbage) wrote an invalid result on fd 3 in execute"
check "run continued" contains "$WORK/run1.out" "after | still running after the failures"

# without allow_failure the same crash fails the run
sed 's/allow_failure: true/allow_failure: false/' "$f" >"$WORK/ws/strict.yml"
run_pw strict run "$WORK/ws/strict.yml" --plugin "$PW_GREET_PLUGIN" --run-id r2
check "strict: exit 1" [ "$STATUS" -eq 1 ]
check "strict: crash reported" contains "$WORK/strict.err" "crashed in execute"

# PIPEWRIGHT_PLUGIN_PATH instead of --plugin
mkdir -p "$WORK/plugins"
ln -s "$PW_GREET_PLUGIN" "$WORK/plugins/greet.so"
PIPEWRIGHT_PLUGIN_PATH="$WORK/nonexistent:$WORK/plugins" run_pw env validate "$f"
check "PIPEWRIGHT_PLUGIN_PATH: valid" [ "$STATUS" -eq 0 ]
# a relative entry would load from wherever the command runs: ignored, with a warning
cd "$WORK"
PIPEWRIGHT_PLUGIN_PATH=plugins run_pw rel validate "$f"
cd - >/dev/null
check "relative PIPEWRIGHT_PLUGIN_PATH: not loaded" [ "$STATUS" -eq 2 ]
check "relative PIPEWRIGHT_PLUGIN_PATH: warned" contains "$WORK/rel.err" "PIPEWRIGHT_PLUGIN_PATH entry 'plugins' is not an absolute path: ignored"
# a plug-in someone else could have changed is refused: a file writable by others, a
# directory writable by others (without the sticky bit)
mkdir -p "$WORK/open" "$WORK/shared"
cp "$PW_GREET_PLUGIN" "$WORK/open/greet.so"
chmod 0666 "$WORK/open/greet.so"
run_pw wfile validate "$f" --plugin "$WORK/open/greet.so"
check "plug-in writable by others: refused" [ "$STATUS" -eq 4 ]
check "plug-in writable by others: says why" contains "$WORK/wfile.err" "refusing plug-in '$WORK/open/greet.so': the file is writable by group or others"
cp "$PW_GREET_PLUGIN" "$WORK/shared/greet.so"
chmod 0755 "$WORK/shared/greet.so"
chmod 0777 "$WORK/shared"
run_pw wdir validate "$f" --plugin "$WORK/shared/greet.so"
check "plug-in in a directory writable by others: refused" [ "$STATUS" -eq 4 ]
check "plug-in in a directory writable by others: says why" contains "$WORK/wdir.err" "a directory above it is writable by group or others"
chmod 1777 "$WORK/shared"
run_pw sticky validate "$f" --plugin "$WORK/shared/greet.so"
check "plug-in in a sticky directory (as /tmp): loaded" [ "$STATUS" -eq 0 ]
# a connector program that cannot answer validate is not an invalid pipeline (4), one that
# reports configuration errors is (2)
mkdir -p "$WORK/vx"
for c in crashcheck picky; do
	printf 'version: 1\nsteps:\n  - name: a\n    step_type: custom:%s\n    config: { connector_path: %s }\n' \
		"$c" "$CONNS/pipewright-connector-$c" >"$WORK/vx/$c.yml"
done
run_pw vxc validate "$WORK/vx/crashcheck.yml"
check "validate, the program crashes: other error (4)" [ "$STATUS" -eq 4 ]
run_pw vxp validate "$WORK/vx/picky.yml"
check "validate, the program reports errors: invalid (2)" [ "$STATUS" -eq 2 ]
run_pw noplugin validate "$f"
check "without the plug-in: invalid" [ "$STATUS" -eq 2 ]
check "without the plug-in: says what to do" contains "$WORK/noplugin.err" "no program 'pipewright-connector-greet' is on PATH"
check "without the plug-in: located" contains "$WORK/noplugin.err" "p.yml:"

# plan through both kinds (the first two steps); a garbage plan answer is an error
sed -n '1,/^  - name: exec-secret/p' "$f" | sed '$d' >"$WORK/ws/plan.yml"
run_pw plan plan "$WORK/ws/plan.yml" --plugin "$PW_GREET_PLUGIN"
check "plan: exit 0" [ "$STATUS" -eq 0 ]
check "plan: plug-in" contains "$WORK/plan.out" "greet plug-in user (plug-in custom:greet)"
check "plan: executable" contains "$WORK/plan.out" "say hello to script user in $WORK/ws"
run_pw badplan plan "$f" --plugin "$PW_GREET_PLUGIN"
check "garbage plan: exit 4" [ "$STATUS" -eq 4 ]
check "garbage plan: explained" contains "$WORK/badplan.err" "(custom:garbage) wrote a result on fd 3 in plan that is not a JSON object"

# connectors lists both, and --stats shows the cache
run_pw conns connectors --stats --plugin "$PW_GREET_PLUGIN"
check "connectors: exit 0" [ "$STATUS" -eq 0 ]
check "connectors: plug-in type" contains "$WORK/conns.out" "custom:greet greet"
check "connectors: executable on PATH" contains "$WORK/conns.out" "custom:hello pipewright-connector-hello"
check "stats: plug-in connector created once" contains "$WORK/conns.out" "custom:greet.created = 1"
check "stats: factories" contains "$WORK/conns.out" "registered_factories = 3"

# load errors: the file and the cause, exit 4
run_pw abi connectors --plugin "$PW_BAD_PLUGINS/abi.so"
check "abi: exit 4" [ "$STATUS" -eq 4 ]
check "abi: message" contains "$WORK/abi.err" "plug-in '$PW_BAD_PLUGINS/abi.so' was built for a different plug-in ABI"
run_pw noentry validate "$f" --plugin="$PW_BAD_PLUGINS/noentry.so"
check "noentry: exit 4" [ "$STATUS" -eq 4 ]
check "noentry: dlerror" contains "$WORK/noentry.err" "has no entry point 'pipewright_plugin_init'"
run_pw init run "$f" --plugin "$PW_BAD_PLUGINS/initfail.so"
check "initfail: exit 4" [ "$STATUS" -eq 4 ]
check "initfail: cause" contains "$WORK/init.err" "failed to initialise: TEST_PLUGIN_TOKEN is not set"
check "initfail: hint" contains "$WORK/init.err" "export TEST_PLUGIN_TOKEN"
run_pw dup plan "$f" --plugin "$PW_GREET_PLUGIN" --plugin "$PW_BAD_PLUGINS/dupgreet.so"
check "duplicate: exit 4" [ "$STATUS" -eq 4 ]
check "duplicate: names type" contains "$WORK/dup.err" "connector type 'custom:greet' is already provided"
run_pw missing connectors --plugin "$WORK/nope.so"
check "missing: exit 4" [ "$STATUS" -eq 4 ]
check "missing: cause" contains "$WORK/missing.err" "cannot load plug-in '$WORK/nope.so': No such file or directory"
run_pw noarg connectors --plugin
check "--plugin without a file: usage error" [ "$STATUS" -eq 3 ]

# timeout of an executable connector ends its whole process group
cat >"$WORK/ws/slow.yml" <<YML
version: 1
name: slow
steps:
  - name: sleepy
    step_type: custom:sleepy
    timeout: 1
    env: { SLEEPY_MARK: "373" }
    config:
      connector_path: $CONNS/pipewright-connector-sleepy
      kill_grace: 1
YML
start=$(date +%s)
run_pw slow run "$WORK/ws/slow.yml"
end=$(date +%s)
check "timeout: exit 1" [ "$STATUS" -eq 1 ]
check "timeout: quick" [ $((end - start)) -lt 10 ]
check "timeout: reported" contains "$WORK/slow.err" "timed out after 1 s"
check "timeout: no sleep left" no_process '(^|/)slee[p] 373$'
# a signal while a connector program answers validate (run, validate, plan): pipewright ends
# the program's process group and exits 130, leaving nothing behind
for cmd in run validate plan; do
	mark=$((3750 + ${#cmd}))
	cat >"$WORK/ws/slowcheck.yml" <<YML
version: 1
steps:
  - name: checked
    step_type: custom:slowcheck
    env:
      SLEEPY_MARK: "$mark"
    config:
      connector_path: $CONNS/pipewright-connector-slowcheck
YML
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PW_CLI" $cmd "$WORK/ws/slowcheck.yml" >"$WORK/sc-$cmd.out" 2>"$WORK/sc-$cmd.err" </dev/null &
	pid=$!
	i=0
	while ! pgrep -f "slee[p] $mark" >/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	signal_and_wait INT $pid
	check "SIGINT in $cmd's validation: exit status 130" [ "$STATUS" -eq 130 ]
	check "SIGINT in $cmd's validation: pipewright handled it" contains "$WORK/sc-$cmd.err" "pipewright: cancelling"
	sleep 0.3
	check "SIGINT in $cmd's validation: the program's group is gone" sh -c "! pgrep -f 'slee[p] $mark' >/dev/null"
done
finish
