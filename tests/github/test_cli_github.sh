# pipewright run / plan / validate with github steps against tests/github/fake_github.py: a
# release with assets, then a comment that uses the release step's output; the token appears in
# no console output, log file, result.json or audit record.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
SPEC=$PW_SOURCE_DIR/tests/specs/github/api.github.com.json.gz
[ -n "${PW_SPECS_DIR:-}" ] && SPEC=$PW_SPECS_DIR/github/api.github.com.json
TOKEN='ghp_cliToken_0123456789abcdefABCDEF'
mkfifo "$WORK/in"
python3 "$PW_SOURCE_DIR/tests/github/fake_github.py" --spec "$SPEC" --token "$TOKEN" <"$WORK/in" >"$WORK/ports" &
SRV=$!
exec 9>"$WORK/in"
trap 'cd /; exec 9>&-; wait $SRV 2>/dev/null; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do grep -q READY "$WORK/ports" 2>/dev/null && break; sleep 0.1; done
API="http://127.0.0.1:$(awk '/^API/{print $2}' "$WORK/ports")"
state() { python3 -c "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen('$API/_test/state').read().decode())"; }

mkdir -p "$WORK/ws"
sed -e "s#repository: user/app#repository: octo/app\n      base_url: $API#" \
    "$EXAMPLES/github-release.yml" >"$WORK/ws/rel.yml"
GITHUB_TOKEN=$TOKEN run_pw val validate "$WORK/ws/rel.yml"
check "validate: exit 0" [ "$STATUS" -eq 0 ]

sed -e 's/      on_exists: update/      on_exist: update/' "$WORK/ws/rel.yml" >"$WORK/ws/typo.yml"
GITHUB_TOKEN=$TOKEN run_pw typo validate "$WORK/ws/typo.yml"
check "validate typo: exit 2" [ "$STATUS" -eq 2 ]
check "validate typo: file:line:col and the nearest key" contains "$WORK/typo.err" "typo.yml:20:17: step 'release': config key 'on_exist': unknown key"
check "validate typo: suggestion" contains "$WORK/typo.err" "did you mean 'on_exists'?"

GITHUB_TOKEN=$TOKEN run_pw plan plan "$WORK/ws/rel.yml"
check "plan: exit 0" [ "$STATUS" -eq 0 ]
check "plan: the create request" contains "$WORK/plan.out" "POST $API/repos/octo/app/releases"
check "plan: the body" contains "$WORK/plan.out" '"tag_name":"v1.0.0","name":"Release v1.0.0"'
check "plan: token redacted" contains "$WORK/plan.out" "Authorization: Bearer ***"
check "plan: no token" lacks "$WORK/plan.out" "$TOKEN"
check "plan: sent nothing" [ "$(state | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["requests"]))')" = 0 ]

cd "$WORK/ws"
GITHUB_TOKEN=$TOKEN run_pw run run rel.yml --run-id gh-1
check "run: exit 0" [ "$STATUS" -eq 0 ]
state >"$WORK/state.json"
check "release published" python3 -c "
import json; s=json.load(open('$WORK/state.json'))
r=[x for x in s['releases'] if x['tag_name']=='v1.0.0']
assert len(r)==1 and r[0]['draft'] is False, r
assert sorted(a['name'] for a in r[0]['assets'])==['SHA256SUMS.txt','app-linux-amd64.tar.gz'], r[0]['assets']
assert all(a['state']=='uploaded' for a in r[0]['assets'])
assert s['spec_errors']==[], s['spec_errors']
assert s['comments'][0]['body']=='https://github.example/octo/app/releases/tag/v1.0.0', s['comments']
"
rd="$WORK/ws/.pipewright/runs/gh-1"
check "result.json has the release id" contains "$rd/result.json" "release_id"
check "audit has the mutations" contains "$rd/audit.jsonl" "github.publish-release"
for file in "$WORK/run.out" "$WORK/run.err" "$rd"/*; do
	[ -f "$file" ] || continue
	check "token absent from $file" lacks "$file" "$TOKEN"
done

# a refused token: the error explains, and still holds no token
GITHUB_TOKEN=ghp_wrong_token_abcdef123 PIPEWRIGHT_LOG=trace run_pw bad run rel.yml --run-id gh-2
check "bad token: fails" [ "$STATUS" -ne 0 ]
check "bad token: explained" contains "$WORK/bad.err" "Bad credentials"
for file in "$WORK/bad.out" "$WORK/bad.err" "$WORK/ws/.pipewright/runs/gh-2"/*; do
	[ -f "$file" ] || continue
	check "wrong token absent from $file" lacks "$file" "ghp_wrong_token_abcdef123"
done
finish
