#!/bin/sh
# GitHub release with assets against the local fake GitHub (tests/github/fake_github.py, an API
# host and an upload host): `pipewright run` (create-or-get, draft, uploads verified, publish)
# against the same release made by hand with curl (create the draft, upload each file, publish:
# what a CI script does without a connector). Best of N alternating runs; ratio pipewright/curl.
. "$(dirname "$0")/lib.sh"
N=${N:-3}
ASSETS=${ASSETS:-10}
MIB=${MIB:-4}
D=$SCRATCH
SPEC=$ROOT/tests/specs/github/api.github.com.json.gz
[ -n "${PW_SPECS_DIR:-}" ] && SPEC=$PW_SPECS_DIR/github/api.github.com.json
TOKEN=ghp_bench_token_0123456789
mkfifo "$D/ctl"
python3 "$ROOT/tests/github/fake_github.py" --spec "$SPEC" --token "$TOKEN" <"$D/ctl" >"$D/server.out" &
exec 9>"$D/ctl" # the server stops when this closes
i=0
while ! grep -q READY "$D/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 400 ] || { echo "github_release: the fake GitHub did not start" >&2; exit 1; }
done
API="http://127.0.0.1:$(sed -n 's/^API //p' "$D/server.out")"
mkdir -p "$D/ws/dist"
i=0
while [ $i -lt "$ASSETS" ]; do
	head -c $((MIB * 1048576)) /dev/urandom >"$D/ws/dist/asset-$i.tar.gz"
	i=$((i + 1))
done
cat >"$D/ws/rel.yml" <<YML
version: 1
name: bench
secrets: [GITHUB_TOKEN]
steps:
  - name: release
    step_type: github
    config:
      action: create-release
      repository: octo/app
      base_url: $API
      tag: v1.0.0
      name: bench
      assets: [dist/*.tar.gz]
YML
cat >"$D/by_hand.sh" <<SH
set -e
H1="Authorization: Bearer $TOKEN"
H2="Accept: application/vnd.github+json"
H3="Expect:" # no 100-continue round trip (pipewright does not make one either)
rel=\$(curl -sf -H "\$H1" -H "\$H2" -X POST -d '{"tag_name":"v1.0.0","name":"bench","draft":true}' $API/repos/octo/app/releases)
id=\$(printf '%s' "\$rel" | grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*\$')
up=\$(printf '%s' "\$rel" | grep -o '"upload_url": *"[^{"]*' | sed 's/.*"//')
for f in $D/ws/dist/*.tar.gz; do
	curl -sf -H "\$H1" -H "\$H2" -H "\$H3" -H "Content-Type: application/gzip" --data-binary @"\$f" "\$up?name=\$(basename "\$f")" >/dev/null
done
curl -sf -H "\$H1" -H "\$H2" -X PATCH -d '{"draft":false}' $API/repos/octo/app/releases/\$id >/dev/null
SH
reset_cmd="curl -sf -X POST -d '{}' $API/_test/reset >/dev/null"
# check both ways work once
sh -c "$reset_cmd" && (cd "$D/ws" && GITHUB_TOKEN=$TOKEN "$PW" run rel.yml >/dev/null) ||
	{ echo "github_release: pipewright run failed" >&2; exit 1; }
sh -c "$reset_cmd" && sh "$D/by_hand.sh" || { echo "github_release: the curl script failed" >&2; exit 1; }
set -- $(best_pair "$N" "$reset_cmd; cd '$D/ws' && GITHUB_TOKEN=$TOKEN '$PW' run rel.yml" "$reset_cmd; sh '$D/by_hand.sh'")
echo "github release with $ASSETS assets of $MIB MiB: pipewright ${1} ms, curl by hand ${2} ms, ratio $(ratio "$1" "$2") (best of $N)"
