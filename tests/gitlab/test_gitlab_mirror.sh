# gitlab mirror with real git: bare repositories over file://, authenticated smart HTTP
# (git http-backend behind git_http_server.py, which requires the token) and ssh (a stand-in
# ssh program that checks the key and known_hosts it is given, then runs git-upload-pack).
# After each step the target's refs equal the source's; the tokens and the key appear in no
# console output, log, result.json, audit record or error, also when the push fails.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
HERE="$PW_SOURCE_DIR/tests/gitlab"
# Debian's interpreter: a version-manager shim in front of it costs a second per start
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$WORK/ws"
G() { git -c user.email=ci@example.test -c user.name=ci -c init.defaultBranch=main "$@"; }
refs() { git --git-dir="$1" for-each-ref --format='%(objectname) %(refname)' 'refs/heads/*' 'refs/tags/*'; }
same_refs() { [ "$(refs "$1")" = "$(refs "$2")" ] && [ -n "$(refs "$1")" ]; }

# the source: main and dev branches, an annotated and a light tag
G init -q "$WORK/work"
for i in 1 2 3; do
	echo "$i" >"$WORK/work/f$i"
	G -C "$WORK/work" add "f$i"
	G -C "$WORK/work" commit -qm "commit $i"
done
G -C "$WORK/work" tag -a v1.0.0 -m "release 1"
G -C "$WORK/work" branch dev HEAD~1
G -C "$WORK/work" tag light HEAD~2
G clone -q --bare "$WORK/work" "$WORK/src.git"
# a target that diverged: a stale branch and a main the source lacks
G clone -q --bare "$WORK/work" "$WORK/dst.git"
G -C "$WORK/work" checkout -qb stale HEAD~2
echo x >"$WORK/work/x"
G -C "$WORK/work" add x
G -C "$WORK/work" commit -qm "only on the target"
G -C "$WORK/work" push -q "$WORK/dst.git" stale stale:main --force
G -C "$WORK/work" checkout -q main

pipeline() { # name, then config lines
	f="$WORK/ws/$1.yml"
	shift
	{
		printf 'version: 1\nname: mirror\nsecrets: [%s]\n' "${SECRETS:-}"
		[ -n "${PIPE_ENV:-}" ] && printf 'env: { PATH: "%s" }\n' "$PIPE_ENV"
		printf 'steps:\n  - name: mirror\n    step_type: gitlab\n    config:\n'
		for l in "$@"; do printf '      %s\n' "$l"; done
	} >"$f"
	sed -i '/^secrets: \[\]$/d' "$f"
	echo "$f"
}
rundir() { echo "$WORK/ws/.pipewright/runs/$1"; }
# no_leak RUN_ID OUT_PREFIX VALUE...: the values are in no output of that run
no_leak() {
	rd=$(rundir "$1")
	o=$2
	shift 2
	for v in "$@"; do
		for file in "$WORK/$o.out" "$WORK/$o.err" "$rd"/*.log "$rd/result.json" "$rd/audit.jsonl"; do
			[ -f "$file" ] || continue
			check "$o: secret absent from $(basename "$file")" lacks "$file" "$v"
		done
	done
}

# 1. file://: full mirror over a diverged target (force and prune are the defaults)
f=$(pipeline file "action: mirror" "source_repo: file://$WORK/src.git" "target_repo: file://$WORK/dst.git")
run_pw file run "$f" --run-id file-1
check "file mirror: exit 0" [ "$STATUS" -eq 0 ]
check "file mirror: refs equal" same_refs "$WORK/src.git" "$WORK/dst.git"
check "file mirror: stale branch pruned" [ -z "$(git --git-dir="$WORK/dst.git" for-each-ref refs/heads/stale)" ]
check "file mirror: git output in the log" contains "$(rundir file-1)/mirror.log" "refs/heads/dev:refs/heads/dev"
# main forced back to the source's, stale deleted; dev and both tags were there already
check "file mirror: refs_pushed output" contains "$(rundir file-1)/result.json" '"refs_pushed": "2"'
check "file mirror: refs_deleted output" contains "$(rundir file-1)/result.json" '"refs_deleted": "1"'
check "file mirror: commits output" contains "$(rundir file-1)/result.json" '"commits": "3"'
check "file mirror: bytes output" grep -Eq '"bytes": "[1-9][0-9]*"' "$(rundir file-1)/result.json"
check "file mirror: audited" contains "$(rundir file-1)/audit.jsonl" '"git-push"'
check "file mirror: bare copy removed" [ -z "$(ls -d "$(rundir file-1)"/mirror-* 2>/dev/null)" ]

# 2. again: nothing to push
run_pw file2 run "$f" --run-id file-2
check "second mirror: exit 0" [ "$STATUS" -eq 0 ]
check "second mirror: nothing pushed" contains "$(rundir file-2)/result.json" '"refs_pushed": "0"'
check "second mirror: all up to date" contains "$(rundir file-2)/result.json" '"refs_up_to_date": "4"'

# 3. one branch into an empty target; then a diverged branch without and with force
G init -q --bare "$WORK/one.git"
f=$(pipeline branch "action: mirror" "source_repo: $WORK/src.git" "target_repo: file://$WORK/one.git" "branch: dev")
run_pw branch run "$f" --run-id branch-1
check "branch mirror: exit 0" [ "$STATUS" -eq 0 ]
check "branch mirror: only dev" [ "$(git --git-dir="$WORK/one.git" for-each-ref --format='%(refname)')" = "refs/heads/dev" ]
check "branch mirror: dev equal" [ "$(git --git-dir="$WORK/one.git" rev-parse dev)" = "$(git --git-dir="$WORK/src.git" rev-parse dev)" ]
G -C "$WORK/work" push -q --force "$WORK/one.git" stale:dev
run_pw nf run "$f" --run-id branch-2
check "diverged, no force: fails" [ "$STATUS" -ne 0 ]
check "diverged, no force: hint" contains "$WORK/nf.out" "set force: true"
f=$(pipeline branchf "action: mirror" "source_repo: $WORK/src.git" "target_repo: file://$WORK/one.git" "branch: dev" "force: true")
run_pw bf run "$f" --run-id branch-3
check "diverged, force: exit 0" [ "$STATUS" -eq 0 ]
check "diverged, force: dev equal" [ "$(git --git-dir="$WORK/one.git" rev-parse dev)" = "$(git --git-dir="$WORK/src.git" rev-parse dev)" ]

# 4. smart HTTP with a token: the private source and the target both need it
TOKEN='glpat-Mirr0rT0ken_9xQz'
mkdir -p "$WORK/http"
G clone -q --bare "$WORK/src.git" "$WORK/http/src.git"
G init -q --bare "$WORK/http/dst.git"
"$PY" "$HERE/git_http_server.py" --root "$WORK/http" --token "$TOKEN" --log "$WORK/http.log" >"$WORK/http.port" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
for _ in $(seq 50); do grep -q PORT "$WORK/http.port" && break; sleep 0.1; done
PORT=$(sed -n 's/PORT //p' "$WORK/http.port")
URL="http://127.0.0.1:$PORT"
SECRETS="SOURCE_TOKEN, GITLAB_TOKEN"
f=$(pipeline http "action: mirror" "source_repo: $URL/src.git" "source_token_secret: SOURCE_TOKEN" "target_repo: $URL/dst.git")
SOURCE_TOKEN=$TOKEN GITLAB_TOKEN=$TOKEN PIPEWRIGHT_LOG=trace run_pw http run "$f" --run-id http-1
check "http mirror: exit 0" [ "$STATUS" -eq 0 ]
check "http mirror: refs equal" same_refs "$WORK/http/src.git" "$WORK/http/dst.git"
check "http mirror: the server authenticated git" contains "$WORK/http.log" '"auth": "ok"'
check "http mirror: the server saw receive-pack" contains "$WORK/http.log" 'git-receive-pack'
check "http mirror: token never in a URL" lacks "$WORK/http.log" '"token_in_url": true'
no_leak http-1 http "$TOKEN"
B64=$(printf 'oauth2:%s' "$TOKEN" | base64)
no_leak http-1 http "$B64"

# 5. a wrong token: the push fails with a hint, and the wrong token shows nowhere either
G init -q --bare "$WORK/http/dst2.git"
SECRETS="GITLAB_TOKEN"
f=$(pipeline wrong "action: mirror" "source_repo: file://$WORK/src.git" "target_repo: $URL/dst2.git")
WRONG='glpat-Wr0ngT0ken_Zz81'
GITLAB_TOKEN=$WRONG run_pw wrong run "$f" --run-id wrong-1
check "wrong token: fails" [ "$STATUS" -ne 0 ]
check "wrong token: says so" contains "$WORK/wrong.out" "refused the token"
check "wrong token: server refused it" contains "$WORK/http.log" '"auth": "bad"'
check "wrong token: nothing pushed" [ -z "$(refs "$WORK/http/dst2.git")" ]
no_leak wrong-1 wrong "$WRONG"
# no token at all: git must not prompt (no terminal), it fails at once
SECRETS=""
f=$(pipeline none "action: mirror" "source_repo: file://$WORK/src.git" "target_repo: $URL/dst2.git")
run_pw none run "$f" --run-id none-1
check "no token: fails" [ "$STATUS" -ne 0 ]
check "no token: hint names the secret keys" contains "$WORK/none.out" "target_token_secret"

# 6. credentials in the URL are refused before anything runs, without echoing them
f=$(pipeline inurl "action: mirror" "source_repo: file://$WORK/src.git" "target_repo: http://oauth2:$TOKEN@127.0.0.1:$PORT/dst.git")
run_pw inurl validate "$f"
check "password in URL: exit 2" [ "$STATUS" -eq 2 ]
check "password in URL: explained" contains "$WORK/inurl.err" "holds a password in its URL"
check "password in URL: not echoed" lacks "$WORK/inurl.err" "$TOKEN"
f=$(pipeline opt "action: mirror" "source_repo: --upload-pack=touch$WORK/pwned" "target_repo: file://$WORK/dst.git")
run_pw opt validate "$f"
check "option as a repository: exit 2" [ "$STATUS" -eq 2 ]
f=$(pipeline ext "action: mirror" "source_repo: 'ext::sh -c touch% $WORK/pwned'" "target_repo: file://$WORK/dst.git")
run_pw ext validate "$f"
check "ext:: transport: exit 2" [ "$STATUS" -eq 2 ]
check "nothing was run" [ ! -e "$WORK/pwned" ]

# 7. plan: the exact git commands and where credentials come from, never their values
SECRETS="SOURCE_TOKEN, GITLAB_TOKEN"
f=$(pipeline plan "action: mirror" "source_repo: $URL/src.git" "source_token_secret: SOURCE_TOKEN" "target_repo: $URL/dst.git")
SOURCE_TOKEN=$TOKEN GITLAB_TOKEN=$TOKEN run_pw plan plan "$f"
check "plan: exit 0" [ "$STATUS" -eq 0 ]
check "plan: clone command" contains "$WORK/plan.out" "git clone --bare -- $URL/src.git"
check "plan: push command" contains "$WORK/plan.out" "push --porcelain --prune -- $URL/dst.git"
check "plan: names the secret" contains "$WORK/plan.out" "secret GITLAB_TOKEN, given to git through GIT_ASKPASS"
check "plan: no token" lacks "$WORK/plan.out" "$TOKEN"

# 8. ssh: a stand-in ssh checks what git hands it (key file with the secret's content,
# strict host key checking against our known_hosts) and runs the git command locally
KEY='-----BEGIN OPENSSH PRIVATE KEY----- fake-key-material-Qq7Zr -----END OPENSSH PRIVATE KEY-----'
mkdir -p "$WORK/bin"
echo "example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTests" >"$WORK/ws/known_hosts"
cat >"$WORK/bin/ssh" <<EOF
#!/bin/sh
key= kh= strict=
while [ \$# -gt 2 ]; do
	case "\$1" in
	-i) key=\$2; shift ;;
	-o) case "\$2" in UserKnownHostsFile=*) kh=\${2#*=} ;; StrictHostKeyChecking=yes) strict=1 ;; esac; shift ;;
	-F|-p|-l) shift ;;
	esac
	shift
done
echo "key=\$key kh=\$kh strict=\$strict host=\$1" >>"$WORK/ssh.log"
[ "\$(cat "\$key")" = '$KEY' ] || { echo "ssh: wrong key" >&2; exit 255; }
[ "\$(stat -c %a "\$key")" = 600 ] || { echo "ssh: key file mode" >&2; exit 255; }
[ "\$kh" = "$WORK/ws/known_hosts" ] && [ -n "\$strict" ] || { echo "Host key verification failed." >&2; exit 255; }
exec sh -c "\$2"
EOF
chmod +x "$WORK/bin/ssh"
G init -q --bare "$WORK/sshdst.git"
SECRETS="DEPLOY_KEY"
PIPE_ENV="$WORK/bin:/usr/local/bin:/usr/bin:/bin"
f=$(pipeline ssh "action: mirror" "source_repo: example.test:$WORK/src.git" "target_repo: ssh://example.test$WORK/sshdst.git" "ssh_key_secret: DEPLOY_KEY" "known_hosts_file: known_hosts")
DEPLOY_KEY=$KEY run_pw ssh run "$f" --run-id ssh-1
check "ssh mirror: exit 0" [ "$STATUS" -eq 0 ]
check "ssh mirror: refs equal" same_refs "$WORK/src.git" "$WORK/sshdst.git"
check "ssh mirror: ssh was used twice" [ "$(grep -c 'strict=1 host=example.test' "$WORK/ssh.log")" -eq 2 ]
keyfile=$(sed -n 's/^key=\([^ ]*\) .*/\1/p' "$WORK/ssh.log" | head -n 1)
check "ssh mirror: key file removed after the step" [ -n "$keyfile" ] && [ ! -e "$keyfile" ]
no_leak ssh-1 ssh "fake-key-material-Qq7Zr"
PIPE_ENV=""
SECRETS=""
f=$(pipeline nokh "action: mirror" "source_repo: example.test:$WORK/src.git" "target_repo: file://$WORK/sshdst.git" "ssh_key_file: id_key")
run_pw nokh validate "$f"
check "ssh key without known_hosts: exit 2" [ "$STATUS" -eq 2 ]
check "ssh key without known_hosts: explained" contains "$WORK/nokh.err" "an SSH key needs known_hosts_file"
# under ASan/UBSan a report would also make a failing run look like the expected failure
check "no sanitizer report in any run" sh -c "! cat \"\$1\"/*.out \"\$1\"/*.err | grep -q Sanitizer" sh "$WORK"
finish
