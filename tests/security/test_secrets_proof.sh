# The secrets proof: pipelines run through the shell connector and an executable connector
# (tests/security/connectors/pipewright-connector-leaky) with canary secrets that the steps
# try to leak in every form. No canary — raw, base64 (also inside a longer base64 blob),
# URL-encoded or JSON-escaped — may appear in console output (stdout, stderr), any file of the
# run directory (step logs, result.json, audit.jsonl, outputs), error messages, `pipewright
# plan`, `pipewright validate`, or PIPEWRIGHT_LOG=trace output (text and JSON log format).
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
PATH="$PW_SOURCE_DIR/tests/security/connectors:$PATH"
export PATH

# Two canaries: one with every character that encodings change, one of plain letters.
CANARY_A='pwCanary-7Q/x+y"z\w q&t=1%'
CANARY_B='pwcanaryPlainZZ91'
export CANARY_A CANARY_B

# Every form of each canary that must not appear, one per line.
FORMS="$WORK/forms"
python3 "$PW_SOURCE_DIR/tests/security/forms.py" "$CANARY_A" "$CANARY_B" >"$FORMS"
check "forms computed" [ "$(wc -l <"$FORMS")" -ge 10 ]

. "$PW_SOURCE_DIR/tests/security/proof_lib.sh"

mkdir -p "$WORK/ws"
P="$WORK/ws/leaky.yml"
cat >"$P" <<'YML'
version: 1
name: secrets-proof
secrets: [CANARY_A, CANARY_B]
steps:
  - name: shell-forms
    command: |
      echo "raw A=$CANARY_A B=$CANARY_B"
      echo "raw to stderr $CANARY_A" >&2
      printf '%s' "$CANARY_A" | base64
      printf '%s' "$CANARY_B" | base64
      printf 'user:%s' "$CANARY_A" | base64
      printf 'x%s' "$CANARY_B" | base64 >&2
      python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["CANARY_A"], safe=""))'
      python3 -c 'import os, urllib.parse; print(urllib.parse.quote_plus(os.environ["CANARY_A"]))'
      python3 -c 'import os, json; print(json.dumps({"t": os.environ["CANARY_A"]}))'
      python3 -c 'import os, json; print(json.dumps(os.environ["CANARY_B"]))'
      printf '%s' "$CANARY_A" | od -c | head -n 1 >/dev/null
      echo "token=$CANARY_A" >> "$PIPEWRIGHT_OUTPUT"
      printf 'multi<<END\n%s\nEND\n' "$CANARY_B" >> "$PIPEWRIGHT_OUTPUT"
  - name: shell-uses-output
    needs: [shell-forms]
    command: |
      echo "got $PIPEWRIGHT_STEP_SHELL_FORMS_TOKEN and $PIPEWRIGHT_STEP_SHELL_FORMS_MULTI"
  - name: shell-bad-output-name
    allow_failure: true
    command: |
      echo "$CANARY_A=x" >> "$PIPEWRIGHT_OUTPUT"
  - name: shell-bad-heredoc
    allow_failure: true
    command: |
      printf 'k<<%s\nnever closed\n' "$CANARY_B" >> "$PIPEWRIGHT_OUTPUT"
  - name: shell-fails-with-it
    allow_failure: true
    command: |
      echo "fatal: authentication failed for $CANARY_A" >&2
      exit 3
  - name: exec-ok
    step_type: custom:leaky
    config: { secret: CANARY_A }
  - name: exec-plain
    step_type: custom:leaky
    config: { secret: CANARY_B, mode: fail }
    allow_failure: true
  - name: exec-error
    step_type: custom:leaky
    config: { secret: CANARY_A, mode: error }
    allow_failure: true
  - name: exec-garbage
    step_type: custom:leaky
    config: { secret: CANARY_B, mode: garbage }
    allow_failure: true
YML

run_pw run run "$P" --run-id proof-1 --color never
check "run ends (exit 0 or 1): $STATUS" [ "$STATUS" -le 1 ]
rd="$WORK/ws/.pipewright/runs/proof-1"
check "run directory written" [ -f "$rd/result.json" ]
check "audit written" [ -f "$rd/audit.jsonl" ]
check "step log written" [ -f "$rd/shell-forms.log" ]
check "steps really printed (masked)" contains "$WORK/run.out" "raw A=*** B=***"
check "outputs reached the next step (masked)" contains "$WORK/run.out" "got *** and ***"
check "failing step's error is reported" contains "$rd/result.json" "not a valid output name"
check "connector error is reported" contains "$rd/result.json" "login refused for token"
check "invalid result is reported" contains "$rd/result.json" "invalid result"
no_canary "run console" "$WORK/run.out" "$WORK/run.err"
no_canary_dir "run directory" "$rd"

DIAG="$WORK/ws/.pipewright/runs"
PIPEWRIGHT_LOG=trace run_pw trace run "$P" --run-id proof-2 --color never
check "trace output is there" contains "$WORK/trace.err" "run=proof-2"
no_canary "trace console" "$WORK/trace.out" "$WORK/trace.err"
no_canary_dir "trace run directory" "$DIAG/proof-2"

PIPEWRIGHT_LOG=trace run_pw json run "$P" --run-id proof-3 --log-format json
check "json log output is there" contains "$WORK/json.err" "proof-3"
no_canary "json trace console" "$WORK/json.out" "$WORK/json.err"

run_pw plan plan "$P"
check "plan exit 0" [ "$STATUS" -eq 0 ]
check "plan has the connector's text (masked)" contains "$WORK/plan.out" "would use ***"
no_canary "plan" "$WORK/plan.out" "$WORK/plan.err"

P2="$WORK/ws/plan-error.yml"
cat >"$P2" <<'YML'
version: 1
secrets: [CANARY_A]
steps:
  - name: exec-plan-error
    step_type: custom:leaky
    config: { secret: CANARY_A, mode: plan-error }
YML
run_pw planerr plan "$P2"
check "plan error: exit non-zero" [ "$STATUS" -ne 0 ]
check "plan error: reported" contains "$WORK/planerr.err" "cannot plan with ***"
no_canary "plan error" "$WORK/planerr.out" "$WORK/planerr.err"

PIPEWRIGHT_LOG=trace run_pw validate validate "$P"
check "validate exit 0" [ "$STATUS" -eq 0 ]
no_canary "validate" "$WORK/validate.out" "$WORK/validate.err"

# Partial canaries: an error must not quote a line that holds part of a secret.
check "bad output name: line named, text not quoted" contains "$WORK/run.out" "PIPEWRIGHT_OUTPUT line 1: the name before '=' is not a valid output name"
check "no canary prefix in console" lacks "$WORK/run.out" "pwCanary"
check "the raw outputs file does not stay in the run directory" [ ! -e "$rd/shell-forms.outputs" ]
finish
