# The command line's own mistakes: run ids that cannot be one, options without their value,
# a report format given twice or aimed at a directory, `help CMD`, `--version` with more, a
# workspace that is not there; and a report written beside its target through a new file,
# never through whatever is at a guessable name there.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example hello.yml)
runs="$WORK/ws/.pipewright/runs"

for id in 'a/b' '..' '-x' 'last' '' "$(printf 'r%.0s' $(seq 1 129))"; do
	run_pw badid run "$f" --run-id "$id"
	check "run id '$id': usage error" [ "$STATUS" -eq 3 ]
	check "run id '$id': says what an id may be" contains "$WORK/badid.err" "1 to 128 letters, digits, '-', '_' or '.', not starting with '.' or '-', and not 'last'"
done
check "no bad id ran anything" [ ! -d "$runs" ] || [ -z "$(ls "$runs")" ]

run_pw novalue run "$f" -w
check "run -w without a value: usage error" [ "$STATUS" -eq 3 ]
check "run -w without a value: said so" contains "$WORK/novalue.err" "pipewright run: -w needs a value"
run_pw twice run "$f" --report html="$WORK/a.html" --report html="$WORK/b.html"
check "a report format twice: usage error" [ "$STATUS" -eq 3 ]
check "a report format twice: said so" contains "$WORK/twice.err" "--report html= is given twice"
mkdir -p "$WORK/adir"
run_pw todir run "$f" --report junit="$WORK/adir" --run-id todir
check "a report into a directory: usage error" [ "$STATUS" -eq 3 ]
check "a report into a directory: said so" contains "$WORK/todir.err" "the junit report's file $WORK/adir is a directory"
check "a report into a directory: nothing ran" [ ! -e "$runs/todir" ]

run_pw ok run "$f" -q --run-id u1
check "a run for the reports" [ "$STATUS" -eq 0 ]
run_pw repnovalue report u1 -w "$WORK/ws" --html
check "report --html without a file: usage error" [ "$STATUS" -eq 3 ]
check "report --html without a file: said so" contains "$WORK/repnovalue.err" "pipewright report: --html needs a value"
run_pw repnone report u1 -w "$WORK/ws"
check "report without a format: usage error" [ "$STATUS" -eq 3 ]
check "report without a format: says what to give" contains "$WORK/repnone.err" "say which report to write: --html FILE, --junit FILE or --json FILE"
# a link at the name a temporary file would once have had is not written through
echo keep >"$WORK/target"
ln -s "$WORK/target" "$WORK/r.html.tmp"
run_pw rep report u1 -w "$WORK/ws" --html "$WORK/r.html"
check "report written" [ "$STATUS" -eq 0 ] && [ -s "$WORK/r.html" ]
check "report: a link beside it untouched" [ "$(cat "$WORK/target")" = keep ] && [ -L "$WORK/r.html.tmp" ]
check "report: no temporary file left" [ "$(ls "$WORK" | grep -c '^r\.html\.')" -eq 1 ]
check "report: readable as a created file is" [ "$(stat -c %a "$WORK/r.html")" = "$(touch "$WORK/probe"; stat -c %a "$WORK/probe")" ]

# what is at the target and is not a plain file is written into, never replaced: a pipe (as
# /dev/null or /dev/stdout would be), a link (its file gets the report)
mkfifo "$WORK/fifo"
cat "$WORK/fifo" >"$WORK/from-fifo" &
reader=$!
run_pw fifo report u1 -w "$WORK/ws" --json "$WORK/fifo"
wait "$reader"
check "report into a pipe: written" [ "$STATUS" -eq 0 ] && contains "$WORK/from-fifo" '"schema": "pipewright-report"'
check "report into a pipe: still a pipe" [ -p "$WORK/fifo" ]
echo old >"$WORK/real.json"
ln -s "$WORK/real.json" "$WORK/link.json"
run_pw link report u1 -w "$WORK/ws" --json "$WORK/link.json"
check "report through a link: still a link" [ -L "$WORK/link.json" ]
check "report through a link: its file has the report" contains "$WORK/real.json" '"schema": "pipewright-report"'

run_pw helprun help run
check "help run: exit 0" [ "$STATUS" -eq 0 ]
check "help run: run's help" contains "$WORK/helprun.out" "usage: pipewright run [FILE] [options]"
run_pw version --version extra
check "--version with more: usage error" [ "$STATUS" -eq 3 ]
run_pw noruns runs -w "$WORK/nonexistent"
check "runs in a workspace that is not there: error" [ "$STATUS" -eq 4 ]
check "runs in a workspace that is not there: said so" contains "$WORK/noruns.err" "workspace $WORK/nonexistent: No such file or directory"
finish
