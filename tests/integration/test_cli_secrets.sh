# secrets.yml: the value is masked in console, logs, result.json and audit, also in base64
# and JSON forms; an unset or too-short secret is refused with the file position.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example secrets.yml)
SECRET='s3cr3t-token/with"quote'
B64=$(printf '%s' "$SECRET" | base64)
DEPLOY_TOKEN=$SECRET run_pw sec run "$f" --run-id sec-1
check "exit 0" [ "$STATUS" -eq 0 ]
check "masked in console" contains "$WORK/sec.out" "use-token | token is ***"
rd="$WORK/ws/.pipewright/runs/sec-1"
for file in "$WORK/sec.out" "$WORK/sec.err" "$rd/use-token.log" "$rd/result.json" "$rd/audit.jsonl"; do
	check "raw secret absent from $file" lacks "$file" "s3cr3t-token"
	check "base64 absent from $file" lacks "$file" "$B64"
done
DEPLOY_TOKEN=$SECRET PIPEWRIGHT_LOG=trace run_pw trace run "$f" --run-id sec-2
check "trace logs mask too" lacks "$WORK/trace.err" "s3cr3t-token"
check "trace logs exist" contains "$WORK/trace.err" "run=sec-2"
run_pw unset validate "$f"
check "unset secret: exit 2" [ "$STATUS" -eq 2 ]
check "unset secret: file:line:col" contains "$WORK/unset.err" "secrets.yml:5:11: secret 'DEPLOY_TOKEN' is not set in the environment"
DEPLOY_TOKEN=abc run_pw short run "$f"
check "short secret: exit 2" [ "$STATUS" -eq 2 ]
check "short secret: explained" contains "$WORK/short.err" "shorter than 4"
check "short secret: value not printed" lacks "$WORK/short.err" "abc"

# a pipeline file that quotes a secret's value: the loader's and the connectors' errors are
# masked like everything else (validate, run and plan all report them)
cat >"$WORK/ws/quoted.yml" <<'EOF_YML'
version: 1
secrets: [DEPLOY_TOKEN]
steps:
  - name: wd
    command: "true"
    config: { working_directory: "../s3cr3t-token-quoted" }
EOF_YML
cat >"$WORK/ws/quoted-load.yml" <<'EOF_YML'
version: 1
secrets: [DEPLOY_TOKEN]
steps:
  - name: wd
    when: s3cr3t-token-quoted
    command: "true"
EOF_YML
for cmd in validate run plan; do
	DEPLOY_TOKEN=s3cr3t-token-quoted run_pw "quoted-$cmd" "$cmd" "$WORK/ws/quoted.yml"
	check "$cmd: a quoted secret is an invalid pipeline" [ "$STATUS" -eq 2 ]
	check "$cmd: the connector's error is masked" contains "$WORK/quoted-$cmd.err" "quoted.yml:6:34: working_directory '../***' leaves the workspace"
	check "$cmd: the value is not printed" lacks "$WORK/quoted-$cmd.err" "s3cr3t"
done
DEPLOY_TOKEN=s3cr3t-token-quoted run_pw quoted-load validate "$WORK/ws/quoted-load.yml"
check "load error: exit 2" [ "$STATUS" -eq 2 ]
check "load error: masked" contains "$WORK/quoted-load.err" "quoted-load.yml:5:11: when of step 'wd' must be on_success, on_failure or always, not '***'"
check "load error: the value is not printed" lacks "$WORK/quoted-load.err" "s3cr3t"

# the forms real encoders print: base64 and openssl wrap long values, Python's json.dumps
# escapes what is not ASCII and urllib's quote() keeps "/"
cat >"$WORK/ws/encoders.yml" <<'EOF_YML'
version: 1
secrets: [LONG_TOKEN]
steps:
  - name: enc
    command: |
      printf %s "$LONG_TOKEN" | base64
      echo "$LONG_TOKEN" | base64
      printf %s "$LONG_TOKEN" | openssl base64
      python3 -c 'import json, os; print(json.dumps(os.environ["LONG_TOKEN"]))'
      python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["LONG_TOKEN"]))'
EOF_YML
LONG='eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXBsb3kiLCJ3aG8iOiJwXHUwMGU0c3MifQ/sïgnätüre-välue'
LONG_TOKEN=$LONG run_pw enc run "$WORK/ws/encoders.yml" --run-id enc-1
check "encoders: exit 0" [ "$STATUS" -eq 0 ]
rd="$WORK/ws/.pipewright/runs/enc-1"
check "encoders: five masked values" [ "$(grep -c '\*\*\*' "$rd/enc.log")" -ge 5 ]
# no 12 characters of any encoding's lines survive (the last base64 group may)
printf %s "$LONG" | base64 >"$WORK/forms"
echo "$LONG" | base64 >>"$WORK/forms"
printf %s "$LONG" | openssl base64 >>"$WORK/forms"
LONG_TOKEN=$LONG python3 -c 'import json, os; print(json.dumps(os.environ["LONG_TOKEN"]))' >>"$WORK/forms"
LONG_TOKEN=$LONG python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["LONG_TOKEN"]))' >>"$WORK/forms"
leaked=0
while read -r line; do
	piece=$(printf %s "$line" | tr -d '"' | cut -c1-12)
	if [ ${#piece} -eq 12 ] && grep -qF -- "$piece" "$rd/enc.log" "$WORK/enc.out"; then
		leaked=$((leaked + 1))
		echo "leaked: $piece" >&2
	fi
done <"$WORK/forms"
check "encoders: no encoded line leaks" [ "$leaked" -eq 0 ]
finish
