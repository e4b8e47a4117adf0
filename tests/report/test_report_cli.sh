# Reports end to end: `pipewright run --report` and the pipeline's `reports:` section, JUnit
# validated against tests/fixtures/junit.xsd with xmllint, JSON against docs/report-schema.json
# (python3-jsonschema), the HTML rendered in headless Chromium (DOM and screenshot checked; the
# PNG is kept in $PW_BINARY_DIR/test-artifacts/), no secret in any of them, and the history
# commands: runs, logs, report.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
ARTIFACTS="${PW_BINARY_DIR:-$WORK}/test-artifacts"
mkdir -p "$ARTIFACTS" "$WORK/ws"
for tool in xmllint chromium; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (make deps)" >&2; exit 1; }
done
python3 -c 'import jsonschema' || { echo "FAIL: python3-jsonschema is not installed (make deps)" >&2; exit 1; }

SECRET=rep0rt-t0ken-value
export REPORT_TOKEN="$SECRET"
f="$WORK/ws/pipeline.yml"
cat >"$f" <<'EOF'
version: 1
name: report-demo
secrets: [REPORT_TOKEN]
reports:
  json: reports/run.json
steps:
  - name: checkout
    command: echo "checked out <main> & ready"
  - name: lint
    needs: [checkout]
    command: |
      sleep 1
      printf '\033[33mwarning\033[0m: style\n'
      echo "using $REPORT_TOKEN"
  - name: unit-tests
    needs: [checkout]
    command: sleep 1; echo "12 tests"; echo "test_parse failed" >&2; exit 2
  - name: flaky-check
    needs: [checkout]
    allow_failure: true
    command: sleep 0.5; exit 1
  - name: package
    needs: [lint, unit-tests]
    command: echo packaged
EOF

run_pw run run "$f" -j 3 --run-id rep-1 --progress plain --report "junit=$WORK/out/junit.xml" \
	--report=html="$WORK/out/report.html"
check "a failed step: exit 1" [ "$STATUS" -eq 1 ]
check "plain progress keeps the prefixed lines" contains "$WORK/run.out" "checkout | -> started"
check "plain: step output prefixed" contains "$WORK/run.out" "unit-tests | 12 tests"
check "plain: a failure line" contains "$WORK/run.out" "unit-tests | failed (exit code 2)"
check "says where the junit report went" contains "$WORK/run.out" "junit report: $WORK/out/junit.xml"
check "reports: section resolved against the workspace" [ -f "$WORK/ws/reports/run.json" ]

# JUnit
check "junit validates against the XSD" xmllint --noout --schema "$PW_SOURCE_DIR/tests/fixtures/junit.xsd" \
	"$WORK/out/junit.xml"
check "junit counts" contains "$WORK/out/junit.xml" 'tests="5" failures="1" errors="0" skipped="2"'
check "junit failure" contains "$WORK/out/junit.xml" '<failure message="exit code 2" type="failed">'
check "junit log tail" contains "$WORK/out/junit.xml" 'test_parse failed'
check "junit escapes markup" contains "$WORK/out/junit.xml" 'checked out &lt;main&gt; &amp; ready'
# a broken document must not validate (the check can fail)
sed 's/<testcase /<testcase bogus="1" /' "$WORK/out/junit.xml" >"$WORK/bad.xml"
check "xsd rejects an unknown attribute" sh -c "! xmllint --noout --schema '$PW_SOURCE_DIR/tests/fixtures/junit.xsd' '$WORK/bad.xml' 2>/dev/null"

# JSON
validate_json() {
	python3 - "$PW_SOURCE_DIR/docs/report-schema.json" "$1" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
for e in errors:
    print("schema:", list(e.path), e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
}
check "json validates against docs/report-schema.json" validate_json "$WORK/ws/reports/run.json"
facts=$(python3 - "$WORK/ws/reports/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["steps"]}
print(r["run"]["status"], s["unit-tests"]["exit_code"], s["flaky-check"]["status"],
      s["lint"]["needs"][0], r["summary"]["succeeded"], r["connector_stats"][0]["type"],
      1 if s["lint"]["start_offset_ms"] < s["unit-tests"]["start_offset_ms"] + s["unit-tests"]["duration_ms"] else 0)
PY
)
check "json facts ($facts)" [ "$facts" = "failed 2 allowed_failure checkout 2 shell 1" ]
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["steps"][0]["status"]="bogus"; json.dump(d,open(sys.argv[2],"w"))' \
	"$WORK/ws/reports/run.json" "$WORK/bad.json"
check "schema rejects a bad status" sh -c "! python3 -c 'import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' '$PW_SOURCE_DIR/docs/report-schema.json' '$WORK/bad.json' 2>/dev/null"

# no secret anywhere
for r in "$WORK/out/junit.xml" "$WORK/out/report.html" "$WORK/ws/reports/run.json"; do
	check "no secret in $(basename "$r")" lacks "$r" "$SECRET"
done
check "the masked value is in the html" contains "$WORK/out/report.html" "using ***"

# HTML in headless Chromium
chrome() {
	prof=$(mktemp -d "$WORK/chrome.XXXXXX")
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
		--user-data-dir="$prof" "$@" 2>>"$WORK/chromium.err"
}
chrome --dump-dom "file://$WORK/out/report.html" >"$WORK/dom.html" || true
check "chromium rendered the DOM" contains "$WORK/dom.html" 'id="run-status"'
for s in checkout lint unit-tests flaky-check package; do
	check "dom has step $s" contains "$WORK/dom.html" "data-step=\"$s\""
done
check "dom: failed step" contains "$WORK/dom.html" 'data-status="failed"'
check "dom: allowed failure" contains "$WORK/dom.html" 'data-status="allowed_failure"'
check "dom: failed step open" contains "$WORK/dom.html" 'data-status="failed" id="step-2" open'
check "dom: no external resources" sh -c "! grep -Eq '(src|href)=\"(https?:)?//' '$WORK/dom.html'"
rm -f "$ARTIFACTS/report.png"
chrome --screenshot="$ARTIFACTS/report.png" --window-size=1280,900 "file://$WORK/out/report.html" >/dev/null || true
check "screenshot written" [ -s "$ARTIFACTS/report.png" ]
# green bars of succeeded steps, the red one of the failure, the amber one of the allowed failure
px=$(python3 "$PW_SOURCE_DIR/tests/report/png_colors.py" "$ARTIFACTS/report.png" 1f883d cf222e bf8700 2>&1 || true)
set -- $px
check "screenshot is 1280x900 ($px)" [ "${1:-0}" = 1280 ] && [ "${2:-0}" = 900 ]
check "screenshot shows succeeded steps in green ($px)" [ "${3:-0}" -gt 2000 ]
check "screenshot shows the failed step in red ($px)" [ "${4:-0}" -gt 500 ]
check "screenshot shows the allowed failure in amber ($px)" [ "${5:-0}" -gt 300 ]

# history
cd "$WORK/ws"
run_pw runs runs
check "runs lists the run" contains "$WORK/runs.out" "rep-1"
check "runs shows pipeline and status" sh -c "grep 'rep-1' '$WORK/runs.out' | grep 'report-demo' | grep -q failed"
run_pw logs1 logs rep-1 unit-tests
check "logs RUN STEP" [ "$STATUS" -eq 0 ]
check "logs prints the stored log" contains "$WORK/logs1.out" "test_parse failed"
run_pw logs2 logs last
check "logs last: every step with headers" contains "$WORK/logs2.out" "==> lint (succeeded) <=="
check "logs last: a step that did not run" contains "$WORK/logs2.out" "==> package (skipped) <=="
check "logs: masked" lacks "$WORK/logs2.out" "$SECRET"
run_pw logs3 logs rep-1 nope
check "logs: unknown step is an error" [ "$STATUS" -eq 4 ]
check "logs: lists the steps" contains "$WORK/logs3.err" "checkout lint unit-tests"
run_pw rep report rep-1 --html "$WORK/past/report.html" --junit "$WORK/past/junit.xml" --json "$WORK/past/r.json"
check "report RUN: exit 0" [ "$STATUS" -eq 0 ]
check "report RUN: html" contains "$WORK/past/report.html" 'data-step="package"'
check "report RUN: junit valid" xmllint --noout --schema "$PW_SOURCE_DIR/tests/fixtures/junit.xsd" "$WORK/past/junit.xml"
check "report RUN: json valid" validate_json "$WORK/past/r.json"
run_pw rep2 report no-such-run --html "$WORK/x.html"
check "report: unknown run is an error" [ "$STATUS" -eq 4 ]
check "report: says how to list runs" contains "$WORK/rep2.err" "pipewright runs"
run_pw rep3 report rep-1
check "report without a format: usage" [ "$STATUS" -eq 3 ]
cd - >/dev/null

# bad options and sections
run_pw bad1 run "$f" --report pdf=x.pdf
check "--report pdf: usage error" [ "$STATUS" -eq 3 ]
cat >"$WORK/ws/badsec.yml" <<'EOF'
version: 1
reports:
  xml: out.xml
steps:
  - name: a
    command: "true"
EOF
run_pw bad2 run "$WORK/ws/badsec.yml"
check "bad reports: section is an invalid pipeline" [ "$STATUS" -eq 2 ]
check "names the bad key where it is" contains "$WORK/bad2.err" "badsec.yml:3:3: unknown key 'xml' in reports"
finish
