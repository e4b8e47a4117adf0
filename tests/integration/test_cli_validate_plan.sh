# validate and plan: good files pass; errors carry file:line:col; plan shows commands and
# environment names but never secret values; connectors lists types and stats.
set -e
. "$(dirname "$0")/lib.sh"
for ex in hello parallel retry timeout outputs cancel; do
	f=$(example "$ex.yml")
	run_pw "v-$ex" validate "$f"
	check "$ex validates" [ "$STATUS" -eq 0 ]
done
cat >"$WORK/ws/bad.yml" <<'YML'
version: 1
steps:
  - name: a
    step_type: dokcer
    config: { image: alpine }
  - name: b
    command: make
    config:
      comand: oops
YML
run_pw bad validate "$WORK/ws/bad.yml"
check "invalid: exit 2" [ "$STATUS" -eq 2 ]
check "unknown type located" contains "$WORK/bad.err" "bad.yml:4:16: unknown connector type 'dokcer'"
check "unknown config key located" contains "$WORK/bad.err" "bad.yml:9:15: unknown shell config key 'comand'"
check "nearest key" contains "$WORK/bad.err" "did you mean 'command'?"
cat >"$WORK/ws/gcp.yml" <<'YML'
version: 1
steps:
  - name: deploy
    step_type: gcp
    config: { service: cloud-run, action: deploy }
YML
run_pw nb validate "$WORK/ws/gcp.yml"
check "gcp config checked: exit 2" [ "$STATUS" -eq 2 ]
check "gcp config checked: located" contains "$WORK/nb.err" "gcp.yml:5:13: gcp cloud-run/deploy: parameter 'service_name' is required"
f=$(example secrets.yml)
DEPLOY_TOKEN=plan-secret-value run_pw plan plan "$f"
check "plan exit 0" [ "$STATUS" -eq 0 ]
check "plan shows the command" contains "$WORK/plan.out" "run: /bin/sh -c"
check "plan names env" contains "$WORK/plan.out" "DEPLOY_TOKEN"
check "plan hides the value" lacks "$WORK/plan.out" "plan-secret-value"
# The plan's text, line by line: numbers, needs, timeouts (whole and not), retries, when,
# quoting of argv words, the working directory and the environment's names.
mkdir -p "$WORK/pf/sub"
cat >"$WORK/pf/p.yml" <<'EOF'
version: 1
env: { A: "1" }
steps:
  - name: a
    command: echo one
  - name: b
    needs: []
    timeout: 1.5
    retries: 2
    config: { command: ["printf", "it's here", "a-b_c./=:,+@%", ""], working_directory: sub }
  - name: c
    needs: [a, b]
    timeout: 3600
    when: always
    allow_failure: true
    env: { B: "2" }
    config: { command: "true", inherit_env: true }
EOF
run_pw pf plan "$WORK/pf/p.yml"
check "plan of p.yml exit 0" [ "$STATUS" -eq 0 ]
cat >"$WORK/pf/want" <<EOF
pipeline $WORK/pf/p.yml (3 steps), workspace $WORK/pf

[1] a (shell); timeout 300s
    run: /bin/sh -c 'echo one'
    in: $WORK/pf
    environment: PATH HOME A PIPEWRIGHT_OUTPUT

[2] b (shell); timeout 1.5s; retries 2
    run: printf 'it'\\''s here' a-b_c./=:,+@% ''
    in: $WORK/pf/sub
    environment: PATH HOME A PIPEWRIGHT_OUTPUT

[3] c (shell) after a, b; timeout 3600s; when always; failure allowed
    run: /bin/sh -c true
    in: $WORK/pf
EOF
check "the plan reads as expected" sh -c "head -n 15 '$WORK/pf.out' | diff -u '$WORK/pf/want' -"
check "an inherited environment lists the host's names and the step's" sh -c "tail -n 1 '$WORK/pf.out' | grep -q '^    environment (host inherited): .* A B PIPEWRIGHT_OUTPUT\$'"
# a working_directory that leads out of the workspace through a link, or is not there yet:
# the plan says what the step would meet, and still describes every step
mkdir -p "$WORK/wl"
ln -s /etc "$WORK/wl/link"
cat >"$WORK/wl/p.yml" <<'YML'
version: 1
steps:
  - name: out
    command: pwd
    config: { working_directory: link }
  - name: later
    command: pwd
    config: { working_directory: made-by-an-earlier-step }
YML
run_pw wl plan "$WORK/wl/p.yml"
check "plan with odd working directories: exit 0" [ "$STATUS" -eq 0 ]
check "plan warns of a link out" contains "$WORK/wl.out" "warning: working_directory 'link' resolves outside the workspace (/etc); the step fails unless an earlier one changes that"
check "plan warns of a missing directory" contains "$WORK/wl.out" "warning: working_directory 'made-by-an-earlier-step' cannot be used"
check "plan describes both steps" contains "$WORK/wl.out" "[2] later (shell)"
# a custom connector's name that cannot be one says what a name may be; a relative
# connector_path is shown as written; one step is "1 step"
mkdir -p "$WORK/names"
cat >"$WORK/names/p.yml" <<'YML'
version: 1
steps:
  - name: a
    step_type: custom:Bad_Name
    command: x
YML
cat >"$WORK/names/q.yml" <<'YML'
version: 1
steps:
  - name: a
    step_type: custom:nope
    config: { connector_path: ./bin/nothere }
YML
run_pw badname validate "$WORK/names/p.yml"
check "custom:Bad_Name: invalid" [ "$STATUS" -eq 2 ]
check "custom:Bad_Name: says what a name is" contains "$WORK/badname.err" "p.yml:4:16: 'custom:Bad_Name' is not a custom connector's name"
(cd "$WORK/names" && "$PW_CLI" validate q.yml >"$WORK/relpath.out" 2>"$WORK/relpath.err") || true
check "relative connector_path shown as written" contains "$WORK/relpath.err" "connector program './bin/nothere' for custom:nope cannot be run"
printf 'version: 1\nsteps:\n  - { name: one, command: "true" }\n' >"$WORK/names/one.yml"
run_pw one validate "$WORK/names/one.yml"
check "one step: 1 step" contains "$WORK/one.out" "valid (1 step)"
run_pw conn connectors --stats
check "connectors exit 0" [ "$STATUS" -eq 0 ]
check "connectors lists shell" contains "$WORK/conn.out" "shell"
check "connectors stats" contains "$WORK/conn.out" "shell.created = 1"
check "connectors lists gcp" grep -qE "^gcp +gcp$" "$WORK/conn.out"
# Numbers reach a program as written: in a command list, in config.environment and in env.
mkdir -p "$WORK/num"
cat >"$WORK/num/n.yml" <<'EOF'
version: 1
env: { T: 0x10 }
steps:
  - name: list
    command: [echo, 11.0, 0123, 1.10, 12345678.9, 0o17, 1e3, 5, -3, 2.5, 0.1]
  - name: vars
    command: echo "$A $B $C $D $E $T"
    config: { environment: { A: 0x10, B: 1e3, C: 1.50, D: 007, E: 0.1 }, kill_grace: 1.0 }
EOF
run_pw num run "$WORK/num/n.yml"
check "numbers as written: exit 0" [ "$STATUS" -eq 0 ]
check "numbers in a command list as written" contains "$WORK/num.out" "11.0 0123 1.10 12345678.9 0o17 1e3 5 -3 2.5 0.1"
check "numbers in config.environment as written" contains "$WORK/num.out" "0x10 1e3 1.50 007 0.1 0x10"
# Unknown options are usage errors (3); a file that cannot be read is 2.
run_pw vx validate -x
check "validate -x: usage error" [ "$STATUS" -eq 3 ]
check "validate -x: says so" contains "$WORK/vx.err" "unexpected argument '-x'"
run_pw vmissing validate "$WORK/no-such.yml"
check "validate of a missing file: exit 2" [ "$STATUS" -eq 2 ]
# An unknown custom connector is located at its step_type; a short secret says what to do.
cat >"$WORK/ws/custom.yml" <<'EOF'
version: 1
secrets: [PW_SHORT]
steps:
  - name: a
    step_type: custom:nonexistent
    config: { x: 1 }
EOF
PW_SHORT=abc
export PW_SHORT
run_pw custom validate "$WORK/ws/custom.yml"
unset PW_SHORT
check "custom/short secret: exit 2" [ "$STATUS" -eq 2 ]
check "unknown custom connector at its step_type" contains "$WORK/custom.err" "custom.yml:5:16: no connector is registered for 'custom:nonexistent'"
check "short secret located" contains "$WORK/custom.err" "custom.yml:2:11: secret 'PW_SHORT' is shorter than 4 characters"
check "short secret hint" contains "$WORK/custom.err" "hint: use a longer value"
# Control characters in the file are shown escaped, never sent to the terminal.
printf 'version: 1\n"x\\rerror: forged\\e[31m": 1\nsteps:\n  - name: a\n    command: make\n' >"$WORK/ws/ctl.yml"
run_pw ctl validate "$WORK/ws/ctl.yml"
check "control characters: exit 2" [ "$STATUS" -eq 2 ]
check "control characters escaped" contains "$WORK/ctl.err" "unknown key 'x\\rerror: forged\\x1b[31m'"
no_raw_controls() { ! od -c "$1" | grep -qE '\\r|033'; }
check "no raw CR or ESC" no_raw_controls "$WORK/ctl.err"
finish
