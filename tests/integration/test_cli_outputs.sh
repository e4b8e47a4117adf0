# outputs.yml: key=value and multi-line outputs reach later steps.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example outputs.yml)
run_pw out run "$f" --run-id out-1
check "exit 0" [ "$STATUS" -eq 0 ]
check "single-line output" contains "$WORK/out.out" "release | releasing v1.4.2"
check "multi-line output (1)" contains "$WORK/out.out" "release | line one"
check "multi-line output (2)" contains "$WORK/out.out" "release | line two"
check "outputs in result.json" contains "$WORK/ws/.pipewright/runs/out-1/result.json" '"tag": "v1.4.2"'

# The outputs file: there, empty and private (0600) when each step starts, in memory when
# the machine has /dev/shm, handed from step to step only while it stays as made (emptied in
# between, also after a step that failed), and gone once the run is over.
mkdir -p "$WORK/of"
cat >"$WORK/of/p.yml" <<'EOF'
version: 1
steps:
  - name: one
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-one
      echo "$PIPEWRIGHT_OUTPUT" > path-one
      echo "k=v" >> "$PIPEWRIGHT_OUTPUT"
  - name: two
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-two
      echo "$PIPEWRIGHT_OUTPUT" > path-two
      [ "$PIPEWRIGHT_STEP_ONE_K" = v ] && echo seen > seen-two
      echo "left=behind" >> "$PIPEWRIGHT_OUTPUT"
      exit 3
    allow_failure: true
  - name: three
    when: always
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-three
      echo "$PIPEWRIGHT_OUTPUT" > path-three
      # replaced by a file of its own, as `mv` of a temporary file does
      echo "moved=yes" > "$PIPEWRIGHT_OUTPUT.new"
      mv "$PIPEWRIGHT_OUTPUT.new" "$PIPEWRIGHT_OUTPUT"
  - name: four
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-four
      echo "$PIPEWRIGHT_OUTPUT" > path-four
      [ "$PIPEWRIGHT_STEP_THREE_MOVED" = yes ] && echo seen > seen-four
      if env | grep -q '^PIPEWRIGHT_STEP_TWO_'; then echo leaked > leaked-four; fi
      chmod 644 "$PIPEWRIGHT_OUTPUT"
  - name: five
    command: |
      stat -c '%a %s' "$PIPEWRIGHT_OUTPUT" > info-five
      echo "$PIPEWRIGHT_OUTPUT" > path-five
EOF
run_pw of run "$WORK/of/p.yml" -w "$WORK/of" -j 1
check "outputs run exit 0" [ "$STATUS" -eq 0 ]
for n in one two three four five; do
	check "$n: the file exists, empty, mode 600" [ "$(cat "$WORK/of/info-$n")" = "600 0" ]
	check "$n: gone after the run" [ ! -e "$(cat "$WORK/of/path-$n")" ]
done
check "its value reached the next step" [ -f "$WORK/of/seen-two" ]
check "handed on while intact" [ "$(cat "$WORK/of/path-one")" = "$(cat "$WORK/of/path-two")" ]
check "a failed step's outputs are not kept" [ ! -e "$WORK/of/leaked-four" ]
check "a replaced file is read" [ -f "$WORK/of/seen-four" ]
check "a replaced file is not handed on" [ "$(cat "$WORK/of/path-three")" != "$(cat "$WORK/of/path-four")" ]
check "a file made readable to others is not handed on" \
	[ "$(cat "$WORK/of/path-four")" != "$(cat "$WORK/of/path-five")" ]
check "nothing of this run left in /dev/shm" sh -c "! ls /dev/shm 2>/dev/null | grep -q \"\$(basename \"\$(cat '$WORK/of/path-five')\")\""
# renamed and replaced by a symbolic link to its new name: read, but not handed on (the next
# step would write through the step's link), and the link is removed
cat >"$WORK/of/sym.yml" <<'EOF'
version: 1
steps:
  - name: a
    command: |
      echo "$PIPEWRIGHT_OUTPUT" > path-a
      mv "$PIPEWRIGHT_OUTPUT" "$PIPEWRIGHT_OUTPUT.away"
      ln -s "$PIPEWRIGHT_OUTPUT.away" "$PIPEWRIGHT_OUTPUT"
      echo "via=link" >> "$PIPEWRIGHT_OUTPUT"
  - name: b
    command: |
      echo "$PIPEWRIGHT_OUTPUT" > path-b
      if [ "$PIPEWRIGHT_STEP_A_VIA" = link ]; then echo seen > seen-b; fi
EOF
run_pw sym run "$WORK/of/sym.yml" -w "$WORK/of" -j 1
check "symlink run exit 0" [ "$STATUS" -eq 0 ]
check "outputs read through the link" [ -f "$WORK/of/seen-b" ]
check "a file behind a link is not handed on" [ "$(cat "$WORK/of/path-a")" != "$(cat "$WORK/of/path-b")" ]
check "the link is gone after the run" sh -c "p=\$(cat '$WORK/of/path-a'); [ ! -e \"\$p\" ] && [ ! -L \"\$p\" ]"
rm -f "$(cat "$WORK/of/path-a").away"
# replaced by a directory (with a file, a directory and a link out of it inside): removed
# with what is in it, never following the link; a tree too deep to remove is left with a
# warning that names it
mkdir -p "$WORK/of/keep" && echo kept >"$WORK/of/keep/file"
cat >"$WORK/of/dir.yml" <<'EOF'
version: 1
steps:
  - name: d
    command: |
      echo "$PIPEWRIGHT_OUTPUT" > path-d
      rm "$PIPEWRIGHT_OUTPUT"
      mkdir -p "$PIPEWRIGHT_OUTPUT/sub"
      touch "$PIPEWRIGHT_OUTPUT/f" "$PIPEWRIGHT_OUTPUT/sub/g"
      ln -s "$PIPEWRIGHT_WORKSPACE/keep" "$PIPEWRIGHT_OUTPUT/sub/out"
  - name: e
    command: echo "$PIPEWRIGHT_OUTPUT" > path-e
EOF
run_pw dir run "$WORK/of/dir.yml" -w "$WORK/of" -j 1
check "directory run exit 0" [ "$STATUS" -eq 0 ]
check "the directory is gone after the step" sh -c "p=\$(cat '$WORK/of/path-d'); [ ! -e \"\$p\" ] && [ ! -L \"\$p\" ]"
check "not handed on" [ "$(cat "$WORK/of/path-d")" != "$(cat "$WORK/of/path-e")" ]
check "the link in it was not followed" [ "$(cat "$WORK/of/keep/file")" = kept ]
check "no warning" lacks "$WORK/dir.err" "cannot remove"
cat >"$WORK/of/deep.yml" <<'EOF'
version: 1
steps:
  - name: deep
    command: |
      echo "$PIPEWRIGHT_OUTPUT" > path-deep
      rm "$PIPEWRIGHT_OUTPUT"
      mkdir -p "$PIPEWRIGHT_OUTPUT/$(seq -s / 1 40)"
EOF
run_pw deep run "$WORK/of/deep.yml" -w "$WORK/of" -j 1
deep=$(cat "$WORK/of/path-deep")
check "too deep: the run still succeeds" [ "$STATUS" -eq 0 ]
check "too deep: a warning names the path" contains "$WORK/deep.err" "cannot remove what the step left at its PIPEWRIGHT_OUTPUT path $deep"
case "$deep" in */pipewright-outputs-* | */.outputs-*) rm -rf "$deep" ;; esac
# Every earlier step's outputs are in a later step's environment: when together they pass
# the kernel's limit, the step that cannot start says so, and by how much, not that its
# command is wrong. (Three steps of 9,000 outputs of 84 bytes: over the 2 MiB that an 8 MiB
# stack limit allows.)
line='s/.*/K&=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv/'
{
	echo "version: 1"
	echo "steps:"
	for s in a b c; do
		echo "  - name: $s"
		echo "    command: seq 1 9000 | sed '$line' > \"\$PIPEWRIGHT_OUTPUT\""
	done
	echo "  - name: d"
	echo "    command: echo started > d-ran"
} >"$WORK/of/big.yml"
set +e
(ulimit -s 8192 && exec "$PW_CLI" run "$WORK/of/big.yml" -w "$WORK/of" -j 1 >"$WORK/big.out" 2>"$WORK/big.err" </dev/null)
STATUS=$?
set -e
check "too large an environment fails the run" [ "$STATUS" -eq 1 ]
check "the step did not start" [ ! -e "$WORK/of/d-ran" ]
check "the limit is named" contains "$WORK/big.err" "its arguments and environment (27"
check "so is the cause" contains "$WORK/big.err" "27000 of the variables"
check "not blamed on the command" lacks "$WORK/big.err" "config: command"
# a NUL byte: the line holding it is refused by its number, as a malformed line is, and
# fails the step; the text is not silently cut there
cat >"$WORK/of/nul.yml" <<'EOF'
version: 1
steps:
  - name: nul
    command: printf 'a=1\0b=2\nc=3\n' >> "$PIPEWRIGHT_OUTPUT"
  - name: bad
    command: printf 'a=1\nno equals sign\n' >> "$PIPEWRIGHT_OUTPUT"
    needs: []
EOF
run_pw nul run "$WORK/of/nul.yml" -w "$WORK/of" -j 1 --run-id nul-1
check "NUL: the step fails" [ "$STATUS" -eq 1 ]
check "NUL: the line is named" contains "$WORK/nul.out" "nul | pipewright: PIPEWRIGHT_OUTPUT line 1 holds a NUL byte"
check "NUL: refused as a line without '=' is" python3 -c "
import json, sys
s = {x['name']: x for x in json.load(open(sys.argv[1]))['steps']}
ok = all(s[n]['status'] == 'failed' and s[n]['exit_code'] == 1 and 'outputs_error' in s[n]['metadata']
         and 'outputs' not in s[n] for n in ('nul', 'bad'))
sys.exit(0 if ok else 1)" "$WORK/of/.pipewright/runs/nul-1/result.json"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	check "in memory (/dev/shm)" contains "$WORK/of/path-one" "/dev/shm/pipewright-outputs-"
fi

# a step name and key that spell another's (a + b_c, a_b + c): the step that needs both is told
mkdir -p "$WORK/col"
cat >"$WORK/col/p.yml" <<'YML'
version: 1
steps:
  - name: a
    command: echo b_c=from-a >> "$PIPEWRIGHT_OUTPUT"
    needs: []
  - name: a_b
    command: echo c=from-a_b >> "$PIPEWRIGHT_OUTPUT"
    needs: []
  - name: use
    needs: [a, a_b]
    command: echo "got $PIPEWRIGHT_STEP_A_B_C"
YML
run_pw col run "$WORK/col/p.yml" -j 1 --progress plain
check "clashing outputs: the run goes on" [ "$STATUS" -eq 0 ]
check "clashing outputs: the step is warned" contains "$WORK/col.err" "step=use runner: PIPEWRIGHT_STEP_A_B_C, the output 'c' of step 'a_b', replaces a value already given to this step"
check "clashing outputs: the later need's value" contains "$WORK/col.out" "use | got from-a_b"
finish
