#!/bin/sh
# A mirror of a repository with 10,000 commits (made with git fast-import): `pipewright run`
# of a gitlab `mirror` step vs the same by hand, `git clone --mirror` + `git push --mirror`
# (then removing the clone, as the step does), both over file:// into a fresh bare target,
# alternately, best of ROUNDS. Goal: ratio <= 1.1 (no overhead beyond git).
. "$(dirname "$0")/lib.sh"
COMMITS=${COMMITS:-10000}
ROUNDS=${ROUNDS:-3}
git -c init.defaultBranch=main init -q --bare "$SCRATCH/src.git"
# the fast-import stream: each commit rewrites one of 100 files; a tag every 1000 commits
awk -v n="$COMMITS" 'BEGIN {
	for (i = 1; i <= n; i++) {
		msg = "commit " i
		body = "line " i " of the benchmark repository\n"
		printf "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.test> %d +0000\n", i, 1700000000 + i
		printf "data %d\n%s\n", length(msg), msg
		printf "M 644 inline f%d.txt\ndata %d\n%s\n", i % 100, length(body), body
		if (i % 1000 == 0)
			printf "reset refs/tags/v%d\nfrom :%d\n\n", i / 1000, i
	}
}' | git --git-dir="$SCRATCH/src.git" fast-import --quiet
SRC="file://$SCRATCH/src.git"
cat >"$SCRATCH/mirror.yml" <<YML
version: 1
steps:
  - name: mirror
    step_type: gitlab
    config: { action: mirror, source_repo: "$SRC", target_repo: "file://$SCRATCH/pw.git" }
YML
mkdir -p "$SCRATCH/ws"
cp "$SCRATCH/mirror.yml" "$SCRATCH/ws/"
pw_cmd="rm -rf '$SCRATCH/pw.git' && git init -q --bare '$SCRATCH/pw.git' && cd '$SCRATCH/ws' && '$PW' run mirror.yml -q"
git_cmd="rm -rf '$SCRATCH/git.git' && git init -q --bare '$SCRATCH/git.git' && git clone -q --mirror '$SRC' '$SCRATCH/hand.git' && git --git-dir='$SCRATCH/hand.git' push -q --mirror 'file://$SCRATCH/git.git' && rm -rf '$SCRATCH/hand.git'"
set -- $(best_pair "$ROUNDS" "$pw_cmd" "$git_cmd")
pw_ms=$1
git_ms=$2
same=no
[ "$(git --git-dir="$SCRATCH/pw.git" for-each-ref)" = "$(git --git-dir="$SCRATCH/src.git" for-each-ref)" ] && same=yes
echo "mirror_vs_git: $COMMITS commits; pipewright ${pw_ms} ms, git clone --mirror + push --mirror ${git_ms} ms, ratio $(ratio "$pw_ms" "$git_ms") (goal <= 1.1); target refs equal the source's: $same"
