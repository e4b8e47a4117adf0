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
run_pw conn connectors --stats
check "connectors exit 0" [ "$STATUS" -eq 0 ]
check "connectors lists shell" contains "$WORK/conn.out" "shell"
check "connectors stats" contains "$WORK/conn.out" "shell.created = 1"
check "connectors lists gcp" grep -qE "^gcp +gcp$" "$WORK/conn.out"
finish
