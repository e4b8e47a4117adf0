# gitlab API v4 actions against fake_gitlab.py (which checks every request against the
# documented routes, fields and authentication): create-release with asset links and
# on_exists fail/update/skip, personal and job tokens, trigger-pipeline with variables and
# waiting (success, failure listing the failed jobs), remote-mirror create/update/sync with
# last_error, plan output, and no token in any output.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
HERE="$PW_SOURCE_DIR/tests/gitlab"
# Debian's interpreter: a version-manager shim in front of it costs a second per start
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$WORK/ws"
PAT='glpat-Pr1vateT0ken_abc123'
JOB='glcbt-J0bT0ken_def456'
TRIG='glptt-Tr1ggerT0ken_ghi789'
MIRR='ghp_M1rrorT0ken_jkl012'
"$PY" "$HERE/fake_gitlab.py" --private-token "$PAT" --job-token "$JOB" --trigger-token "$TRIG" >"$WORK/port" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
for _ in $(seq 50); do grep -q PORT "$WORK/port" && break; sleep 0.1; done
PORT=$(sed -n 's/PORT //p' "$WORK/port")
BASE="http://127.0.0.1:$PORT"
export GITLAB_TOKEN=$PAT CI_JOB_TOKEN=$JOB TRIGGER_TOKEN=$TRIG MIRROR_TOKEN=$MIRR

# st EXPR: evaluates a Python expression over the fake's state `s`
st() { "$PY" -c "import json,sys,urllib.request; s=json.load(urllib.request.urlopen('$BASE/_test/state')); print($1)"; }
reset() { "$PY" -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$BASE/_test/reset', data=b'{}'))"; }
step() { # name, then config lines (base_url and project added)
	f="$WORK/ws/$1.yml"
	shift
	{
		printf 'version: 1\nname: gl\nsecrets: [%s]\n' "${SECRETS:-GITLAB_TOKEN, CI_JOB_TOKEN, TRIGGER_TOKEN, MIRROR_TOKEN}"
		printf 'steps:\n  - name: gl\n    step_type: gitlab\n    config:\n'
		printf '      base_url: %s/\n      project: group/app\n' "$BASE"
		for l in "$@"; do printf '      %s\n' "$l"; done
	} >"$f"
	echo "$f"
}
rd() { echo "$WORK/ws/.pipewright/runs/$1"; }
no_leak() { # RUN_ID OUT_PREFIX
	for v in "$PAT" "$JOB" "$TRIG" "$MIRR"; do
		for file in "$WORK/$2.out" "$WORK/$2.err" "$(rd "$1")"/*.log "$(rd "$1")/result.json" "$(rd "$1")/audit.jsonl"; do
			[ -f "$file" ] || continue
			check "$2: no token in $(basename "$file")" lacks "$file" "$v"
		done
	done
}
no_violations() { check "$1: requests as documented" [ "$(st 's["violations"]')" = "[]" ]; }

# create-release: personal token, two asset links, on an existing tag
f=$(step rel "action: create-release" "tag: v1.0.0" "name: Version 1" "description: first" \
	"assets:" "  - { name: app.tar.gz, url: 'https://dl.example.test/app.tar.gz', link_type: package }" \
	"  - { name: notes, url: 'https://dl.example.test/notes' }")
PIPEWRIGHT_LOG=trace run_pw rel run "$f" --run-id rel-1
check "release: exit 0" [ "$STATUS" -eq 0 ]
check "release: created with 2 links" [ "$(st 'len(s["releases"]["v1.0.0"]["links"])')" = 2 ]
check "release: link type kept" [ "$(st 's["releases"]["v1.0.0"]["links"][0]["link_type"]')" = package ]
check "release: PRIVATE-TOKEN used" [ "$(st 's["requests"][-1]["auth"]')" = private ]
check "release: url output" contains "$(rd rel-1)/result.json" "\"release_url\": \"$BASE/group/app/-/releases/v1.0.0\""
check "release: action output" contains "$(rd rel-1)/result.json" '"release_action": "created"'
check "release: audited" contains "$(rd rel-1)/audit.jsonl" '"create-release"'
no_leak rel-1 rel
no_violations release

# the same tag again: fails by default, with the way out in the hint
run_pw rel2 run "$f" --run-id rel-2
check "release exists: fails" [ "$STATUS" -ne 0 ]
check "release exists: explained" contains "$WORK/rel2.err" "already exists"
check "release exists: hint" contains "$WORK/rel2.err" "on_exists: update"
# update: new description, one link moved, one link added
f=$(step relu "action: create-release" "tag: v1.0.0" "description: second" "on_exists: update" \
	"assets:" "  - { name: app.tar.gz, url: 'https://dl.example.test/v2/app.tar.gz', link_type: package }" \
	"  - { name: notes, url: 'https://dl.example.test/notes' }" "  - { name: sbom, url: 'https://dl.example.test/sbom.json' }")
run_pw relu run "$f" --run-id rel-3
check "release update: exit 0" [ "$STATUS" -eq 0 ]
check "release update: description" [ "$(st 's["releases"]["v1.0.0"]["description"]')" = second ]
check "release update: 3 links" [ "$(st 'len(s["releases"]["v1.0.0"]["links"])')" = 3 ]
check "release update: link moved" [ "$(st 's["releases"]["v1.0.0"]["links"][0]["url"]')" = "https://dl.example.test/v2/app.tar.gz" ]
check "release update: action output" contains "$(rd rel-3)/result.json" '"release_action": "updated"'
check "release update: audited" contains "$(rd rel-3)/audit.jsonl" '"update-release"'
f=$(step rels "action: create-release" "tag: v1.0.0" "on_exists: skip")
run_pw rels run "$f" --run-id rel-4
check "release skip: exit 0" [ "$STATUS" -eq 0 ]
check "release skip: action output" contains "$(rd rel-4)/result.json" '"release_action": "skipped"'
check "release skip: unchanged" [ "$(st 's["releases"]["v1.0.0"]["description"]')" = second ]
no_violations "release update"

# a job token (JOB-TOKEN header), a new tag made from ref
f=$(step relj "action: create-release" "tag: v2.0.0" "ref: main" "token_secret: CI_JOB_TOKEN")
run_pw relj run "$f" --run-id rel-5
check "job token release: exit 0" [ "$STATUS" -eq 0 ]
check "job token release: JOB-TOKEN used" [ "$(st 's["requests"][-1]["auth"]')" = job ]
# a missing tag without ref: GitLab's 422 message reaches the user
f=$(step relr "action: create-release" "tag: v9.9.9")
run_pw relr run "$f" --run-id rel-6
check "no ref: fails" [ "$STATUS" -ne 0 ]
check "no ref: GitLab's message" contains "$WORK/relr.err" "Ref is not specified"
# a wrong token: 401 with a hint, the wrong value nowhere
GITLAB_TOKEN='glpat-Wr0ng_Value_zz99' run_pw relw run "$(step relw "action: create-release" "tag: v3.0.0" "ref: main")" --run-id rel-7
check "wrong token: fails" [ "$STATUS" -ne 0 ]
check "wrong token: 401 hint" contains "$WORK/relw.err" "invalid, expired or revoked"
check "wrong token: value not shown" lacks "$WORK/relw.err" "Wr0ng_Value"
check "wrong token: audited as failed" contains "$(rd rel-7)/audit.jsonl" '"failed"'
no_leak rel-7 relw
check "no token ever in a URL" [ "$(st 'any(r["secret_in_url"] for r in s["requests"])')" = False ]

# trigger-pipeline: variables, wait for success
reset
f=$(step trig "action: trigger-pipeline" "ref: main" "trigger_token_secret: TRIGGER_TOKEN" "wait: true" \
	"poll_interval: 0.05" "variables: { DEPLOY_ENV: staging, DRY_RUN: true }")
run_pw trig run "$f" --run-id trig-1
check "trigger: exit 0" [ "$STATUS" -eq 0 ]
check "trigger: variables passed" [ "$(st 'sorted(list(s["pipelines"].values())[0]["variables"].items())')" = "[('DEPLOY_ENV', 'staging'), ('DRY_RUN', 'true')]" ]
check "trigger: status followed" contains "$WORK/trig.out" "pipeline 101: running"
check "trigger: final status output" contains "$(rd trig-1)/result.json" '"pipeline_status": "success"'
check "trigger: id output" contains "$(rd trig-1)/result.json" '"pipeline_id": "101"'
check "trigger: audited" contains "$(rd trig-1)/audit.jsonl" '"trigger-pipeline"'
check "trigger: token sent in the form only" [ "$(st '[r["auth"] for r in s["requests"]][0]')" = none ]
no_leak trig-1 trig
# a failing pipeline: the step fails and names the failed jobs
f=$(step trigf "action: trigger-pipeline" "ref: broken" "trigger_token_secret: TRIGGER_TOKEN" "wait: true" "poll_interval: 0.05")
run_pw trigf run "$f" --run-id trig-2
check "failed pipeline: step fails" [ "$STATUS" -ne 0 ]
check "failed pipeline: failed job listed" contains "$WORK/trigf.out" "failed job: unit-tests (stage test): script_failure"
check "failed pipeline: failed_jobs output" contains "$(rd trig-2)/result.json" '"failed_jobs": "unit-tests"'
# without waiting no API token is needed
SECRETS=TRIGGER_TOKEN
f=$(step trign "action: trigger-pipeline" "ref: main" "trigger_token_secret: TRIGGER_TOKEN")
SECRETS=""
run_pw trign run "$f" --run-id trig-3
check "trigger without wait: exit 0" [ "$STATUS" -eq 0 ]
check "trigger without wait: created" contains "$(rd trig-3)/result.json" '"pipeline_status": "created"'
no_violations trigger

# remote-mirror: created with the credentials GitLab needs, synced, waited for
reset
f=$(step rm "action: remote-mirror" "mirror_url: https://github.example.test/org/app.git" \
	"mirror_token_secret: MIRROR_TOKEN" "mirror_username: ci-bot" "poll_interval: 0.05")
run_pw rm run "$f" --run-id rm-1
check "remote mirror: exit 0" [ "$STATUS" -eq 0 ]
check "remote mirror: one mirror" [ "$(st 'len(s["mirrors"])')" = 1 ]
check "remote mirror: credentials reached GitLab" [ "$(st 's["mirror_credentials"][0]')" = "{'username': 'ci-bot', 'password': '$MIRR'}" ]
check "remote mirror: finished" contains "$(rd rm-1)/result.json" '"update_status": "finished"'
check "remote mirror: no error" contains "$(rd rm-1)/result.json" '"last_error": ""'
check "remote mirror: audited create" contains "$(rd rm-1)/audit.jsonl" '"create-remote-mirror"'
check "remote mirror: audited sync" contains "$(rd rm-1)/audit.jsonl" '"sync-remote-mirror"'
no_leak rm-1 rm
run_pw rm2 run "$f" --run-id rm-2
check "remote mirror again: exit 0" [ "$STATUS" -eq 0 ]
check "remote mirror again: still one" [ "$(st 'len(s["mirrors"])')" = 1 ]
check "remote mirror again: updated" contains "$(rd rm-2)/audit.jsonl" '"update-remote-mirror"'
# a mirror that fails: last_error reported, the step fails
f=$(step rmf "action: remote-mirror" "mirror_url: https://unreachable.example.test/org/app.git" \
	"mirror_token_secret: MIRROR_TOKEN" "poll_interval: 0.05")
run_pw rmf run "$f" --run-id rm-3
check "failing mirror: step fails" [ "$STATUS" -ne 0 ]
check "failing mirror: last_error shown" contains "$WORK/rmf.out" "Could not resolve host"
check "failing mirror: last_error output" contains "$(rd rm-3)/result.json" "Could not resolve host"
no_leak rm-3 rmf
# job tokens cannot manage mirrors: 403 with the job-token hint
f=$(step rmj "action: remote-mirror" "mirror_url: https://github.example.test/org/app.git" "token_secret: CI_JOB_TOKEN")
run_pw rmj run "$f" --run-id rm-4
check "job token mirror: fails" [ "$STATUS" -ne 0 ]
check "job token mirror: hint" contains "$WORK/rmj.err" "job token"
no_violations "remote mirror"

# plan: exact requests, tokens redacted
f=$(step plan "action: create-release" "tag: v5.0.0" "ref: main" "assets:" "  - { name: a, url: 'https://x.test/a' }")
run_pw plan plan "$f"
check "plan release: request" contains "$WORK/plan.out" "POST $BASE/api/v4/projects/group%2Fapp/releases"
check "plan release: header redacted" contains "$WORK/plan.out" "PRIVATE-TOKEN: *** (secret GITLAB_TOKEN)"
check "plan release: body" contains "$WORK/plan.out" '"tag_name":"v5.0.0"'
f=$(step plan2 "action: trigger-pipeline" "ref: main" "trigger_token_secret: TRIGGER_TOKEN" "variables: { A: b }")
run_pw plan2 plan "$f"
check "plan trigger: form redacted" contains "$WORK/plan2.out" "token=%2A%2A%2A&ref=main&variables%5BA%5D=b"
f=$(step plan3 "action: remote-mirror" "mirror_url: https://github.example.test/org/app.git" "mirror_token_secret: MIRROR_TOKEN")
run_pw plan3 plan "$f"
check "plan mirror: url redacted" contains "$WORK/plan3.out" "https://***:***@github.example.test/org/app.git"
for o in plan plan2 plan3; do
	for v in "$PAT" "$JOB" "$TRIG" "$MIRR"; do check "$o: no token" lacks "$WORK/$o.out" "$v"; done
done

# configuration errors
f=$(step bad "action: create-relase" "tag: v1")
run_pw bad validate "$f"
check "unknown action: exit 2" [ "$STATUS" -eq 2 ]
check "unknown action: suggestion" contains "$WORK/bad.err" "did you mean 'create-release'?"
f=$(step bad2 "action: remote-mirror" "mirror_url: https://bot:$MIRR@github.example.test/org/app.git")
run_pw bad2 validate "$f"
check "mirror_url with credentials: exit 2" [ "$STATUS" -eq 2 ]
check "mirror_url with credentials: not echoed" lacks "$WORK/bad2.err" "$MIRR"
f=$(step bad3 "action: trigger-pipeline" "ref: main" "variabels: { A: b }")
run_pw bad3 validate "$f"
check "misspelt key: suggestion" contains "$WORK/bad3.err" "did you mean 'variables'?"
check "trigger token required" contains "$WORK/bad3.err" "trigger-pipeline needs trigger_token_secret"
# under ASan/UBSan a report would also make a failing run look like the expected failure
check "no sanitizer report in any run" sh -c "! cat \"\$1\"/*.out \"\$1\"/*.err | grep -q Sanitizer" sh "$WORK"
finish
