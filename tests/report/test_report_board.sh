# The live board (`--progress tty`) driven in tmux: the screen captured while a step runs and
# after the run, at 80 columns and on a narrow terminal; frames redrawn in place (no copies
# in the scrollback); `--progress plain` and `auto` with CI set keep the prefixed lines.
set -e
. "$PW_SOURCE_DIR/tests/integration/lib.sh"
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (make deps)" >&2; exit 1; }
ARTIFACTS="${PW_BINARY_DIR:-$WORK}/test-artifacts"
mkdir -p "$ARTIFACTS" "$WORK/ws"
N=0
T="tmux -L pw-board-$$-$N -f /dev/null"
trap '$T kill-server 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM

f="$WORK/ws/board.yml"
cat >"$f" <<'EOF'
version: 1
name: board-demo
steps:
  - name: checkout
    command: echo "cloned 42 files"
  - name: compile
    needs: [checkout]
    command: |
      echo "compiling module 1 of 2"
      while [ ! -f gate ]; do sleep 0.05; done
      echo "compiling module 2 of 2 with a very long command line -O2 -Wall -Wextra -Werror -fno-omit-frame-pointer"
  - name: unit-tests-with-a-rather-long-name
    needs: [checkout]
    command: echo "3 tests passed"; echo "test_parse failed" >&2; exit 2
  - name: package
    needs: [compile]
    command: echo packaged
EOF

# session WIDTH HEIGHT ARGS...: runs pipewright in a new tmux window of that size; CI is
# unset there (a CI job sets it, and `--progress auto` is plain when it is set)
session() {
	w=$1
	h=$2
	shift 2
	rm -f "$WORK/ws/gate" "$WORK/done"
	$T kill-server 2>/dev/null || true
	N=$((N + 1)) # a new server per session
	T="tmux -L pw-board-$$-$N -f /dev/null"
	$T new-session -d -x "$w" -y "$h" \
		"cd '$WORK/ws' && env -u CI '$PW_CLI' run ${PIPELINE:-board.yml} -j 3 $*; echo EXIT=\$? > '$WORK/done'; sleep 60"
}
# wait_for REGEX: until the screen shows a match (grep -E; 10 s at most)
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		$T capture-pane -p >"$WORK/screen.txt" 2>/dev/null || true
		if grep -qE -- "$1" "$WORK/screen.txt"; then return 0; fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
wait_done() {
	i=0
	while [ ! -f "$WORK/done" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.2
	$T capture-pane -p -S -100 >"$WORK/screen.txt"
}
# widest FILE: the widest line's display columns (East Asian wide and full-width characters
# take two)
widest() { python3 -c 'import sys, unicodedata; print(max((sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")), default=0))' "$1"; }

# --- 80 columns
session 80 24 --progress tty
check "80: compile shown running" wait_for "compile"
check "80: compile running" sh -c "grep -E '^. compile +running' '$WORK/screen.txt' >/dev/null"
check "80: its latest log line" wait_for "compiling module 1 of 2"
check "80: finished step ok" sh -c "grep -E '^\+ checkout +ok +[0-9.]+s +cloned 42 files' '$WORK/screen.txt' >/dev/null"
check "80: failed step with its last line" wait_for "test_parse failed"
check "80: failed state" sh -c "grep -E '^x unit-tests-with-a-rather +failed' '$WORK/screen.txt' >/dev/null"
check "80: header counts" contains "$WORK/screen.txt" "board-demo  2/4 done  1 running  FAILED"
cp "$WORK/screen.txt" "$ARTIFACTS/board-running.txt"
check "80: no line wider than 79" [ "$(widest "$WORK/screen.txt")" -le 79 ]
touch "$WORK/ws/gate"
wait_done
cp "$WORK/screen.txt" "$ARTIFACTS/board-finished.txt"
# a picture of the finished board, colours included (the README shows it)
$T capture-pane -e -p -S -100 >"$WORK/screen-ansi.txt"
python3 "$PW_SOURCE_DIR/tests/report/ansi2html.py" "$WORK/screen-ansi.txt" "$WORK/board.html" "pipewright board"
check "board page has the steps" contains "$WORK/board.html" "unit-tests-with-a-rather"
check "board page keeps colours" contains "$WORK/board.html" "color:"
rm -f "$ARTIFACTS/board.png"
if command -v chromium >/dev/null; then
	prof=$(mktemp -d "$WORK/chrome.XXXXXX")
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$prof" \
		--screenshot="$ARTIFACTS/board.png" --window-size=720,470 "file://$WORK/board.html" >/dev/null 2>&1 || true
	check "board screenshot written" [ -s "$ARTIFACTS/board.png" ]
fi
check "80: exit status 1" contains "$WORK/done" "EXIT=1"
check "80: final header" contains "$WORK/screen.txt" "board-demo  4/4 done  0 running  FAILED"
check "80: compile ok" sh -c "grep -E '^\+ compile +ok' '$WORK/screen.txt' >/dev/null"
check "80: long log line cut with ..." sh -c "grep -E '^\+ compile .*compiling module 2 of 2 with .*\.\.\.$' '$WORK/screen.txt' >/dev/null"
check "80: package ok" sh -c "grep -E '^\+ package +ok' '$WORK/screen.txt' >/dev/null"
check "80: the failed step's log after the board" contains "$WORK/screen.txt" "--- unit-tests-with-a-rather-long-name failed; the end of its log:"
check "80: the summary" contains "$WORK/screen.txt" "summary (run "
check "80: frames redrawn in place (one header in the scrollback)" [ "$(grep -c '^board-demo ' "$WORK/screen.txt")" -eq 1 ]
check "80: step output not printed raw" lacks "$WORK/screen.txt" "checkout | cloned"
check "80: no line wider than 79" [ "$(widest "$WORK/screen.txt")" -le 79 ]

# --- narrow: 30 columns
session 30 20 --progress tty
check "30: running" wait_for '^. compile +running'
check "30: compile running" sh -c "grep -E '^. compile +running' '$WORK/screen.txt' >/dev/null"
check "30: no log lines on a narrow screen" lacks "$WORK/screen.txt" "compiling module"
check "30: no line wider than 29" [ "$(widest "$WORK/screen.txt")" -le 29 ]
touch "$WORK/ws/gate"
wait_done
check "30: final state" sh -c "grep -E '^\+ package +ok' '$WORK/screen.txt' >/dev/null"
check "30: one header" [ "$(grep -c '^4/4 ' "$WORK/screen.txt")" -eq 1 ]

# --- very narrow: 16 columns
session 16 20 --progress tty
check "16: running" wait_for '^compile running'
check "16: name and state only" sh -c "grep -E '^compile +running' '$WORK/screen.txt' >/dev/null || grep -E '^compi.* running' '$WORK/screen.txt' >/dev/null"
touch "$WORK/ws/gate"
wait_done
check "16: finished" contains "$WORK/done" "EXIT=1"

# --- plain on a terminal, and auto in CI
session 80 40 --progress plain
touch "$WORK/ws/gate"
wait_done
check "plain: prefixed lines" contains "$WORK/screen.txt" "checkout | -> started"
check "plain: output lines" contains "$WORK/screen.txt" "checkout | cloned 42 files"
check "plain: no board" lacks "$WORK/screen.txt" "board-demo  "
session 80 40 --progress auto
check "auto on a terminal: the board" wait_for "board-demo  "
touch "$WORK/ws/gate"
wait_done
$T kill-server 2>/dev/null || true
rm -f "$WORK/ws/gate" "$WORK/done"
N=$((N + 1))
T="tmux -L pw-board-$$-$N -f /dev/null"
$T new-session -d -x 80 -y 40 "cd '$WORK/ws' && touch gate && CI=true '$PW_CLI' run board.yml; echo EXIT=\$? > '$WORK/done'; sleep 60"
wait_done
check "auto with CI set: plain" contains "$WORK/screen.txt" "compile | -> started"

# --- wide characters (CJK, emoji) take two columns each: lines stay within the screen and
# the frames are still redrawn in place
cat >"$WORK/ws/wide.yml" <<'EOF'
version: 1
name: wide-demo
steps:
  - name: wide
    command: |
      echo "中文字符中文字符中文字符中文字符中文字符中文字符中文字符中文字符中文字符中文字符 🚀🚀🚀"
      while [ ! -f gate ]; do sleep 0.05; done
  - name: other
    needs: []
    command: echo "ＦＵＬＬ　ＷＩＤＴＨ ｔｅｘｔ ｔｈａｔ ｉｓ ｌｏｎｇｅｒ ｔｈａｎ ｔｈｅ ｓｃｒｅｅｎ ｉｓ ｗｉｄｅ"
EOF
PIPELINE=wide.yml session 80 24 --progress tty
check "wide: running" wait_for '^. wide +running'
check "wide: its line, cut" wait_for '^. wide +running .*中文字符.*\.\.\.$'
check "wide: no line wider than 79 columns" [ "$(widest "$WORK/screen.txt")" -le 79 ]
touch "$WORK/ws/gate"
wait_done
check "wide: finished" contains "$WORK/done" "EXIT=0"
check "wide: frames redrawn in place (one header)" [ "$(grep -c '^wide-demo ' "$WORK/screen.txt")" -eq 1 ]
check "wide: no line wider than 79 columns at the end" [ "$(widest "$WORK/screen.txt")" -le 79 ]

# --- plain on a terminal: a step's output cannot move the cursor over another step's lines
cat >"$WORK/ws/forge.yml" <<'EOF'
version: 1
name: forge
steps:
  - name: evil
    command: |
      printf '\rdeploy | ok\n'
      printf '\033[2K\rdeploy | deployed to prod\n'
      printf '\033]0;a title\007\033[1Aup\033[31mred\033[0m\n'
EOF
PIPELINE=forge.yml session 80 24 --progress plain --color never
wait_done
check "plain tty: done" contains "$WORK/done" "EXIT=0"
check "plain tty: no line forged" sh -c "! grep -E '^deploy \|' '$WORK/screen.txt'"
check "plain tty: the text under its own prefix" contains "$WORK/screen.txt" "evil | deploy | deployed to prod"
check "plain tty: cursor and title sequences dropped" contains "$WORK/screen.txt" "evil | upred"
check "plain tty: the log keeps what was printed" grep -q "$(printf '\033')\[2K" "$WORK"/ws/.pipewright/runs/*/evil.log

run_pw badprog run "$f" --progress fancy
check "--progress fancy: usage error" [ "$STATUS" -eq 3 ]
finish
