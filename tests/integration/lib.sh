# Helpers for the CLI tests: a scratch workspace, running pipewright, and checks that
# count failures and print "N passed, N failed" at the end.
set -u
PASS=0
FAIL=0
: "${PW_CLI:?PW_CLI must point at the pipewright binary}"
: "${PW_SOURCE_DIR:?}"
EXAMPLES="$PW_SOURCE_DIR/examples"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-cli-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: passes when the command succeeds
check() {
	desc=$1
	shift
	if "$@"; then ok; else bad "$desc"; fi
}

# contains FILE TEXT / lacks FILE TEXT
contains() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }

# run_pw OUT_PREFIX ARGS...: runs pipewright, stdout to $WORK/OUT.out, stderr to OUT.err,
# exit status into $STATUS
run_pw() {
	out=$1
	shift
	set +e
	"$PW_CLI" "$@" >"$WORK/$out.out" 2>"$WORK/$out.err" </dev/null
	STATUS=$?
	set -e
}

# wait_for_text FILE TEXT: waits (up to 10 s) until FILE holds TEXT
wait_for_text() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# wait_for_file PATH: waits (up to 10 s) until PATH exists
wait_for_file() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# signal_and_wait SIG PID: sends SIG to the background process PID, its exit status into $STATUS
signal_and_wait() {
	kill -s "$1" "$2"
	set +e
	wait "$2"
	STATUS=$?
	set -e
}

# the workspace copy of an example
example() {
	mkdir -p "$WORK/ws"
	cp "$EXAMPLES/$1" "$WORK/ws/$1"
	echo "$WORK/ws/$1"
}

# the newest run directory of the workspace
last_run_dir() { ls -dt "$WORK/ws/.pipewright/runs/"*/ | head -n 1; }

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# no_process PATTERN: no process whose command line matches the extended regex remains
# (anchor it, and write it so that it does not match itself: '(^|/)slee[p] 60$' -- other
# tests run in parallel, and 'sleep 600' must not count)
no_process() { ! pgrep -f "$1" >/dev/null; }
# no_run_process RUN_ID: no process started for that run remains (every step's processes carry
# PIPEWRIGHT_RUN_ID in their environment); names what it finds
no_run_process() {
	for e in /proc/[0-9]*/environ; do
		if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qx "PIPEWRIGHT_RUN_ID=$1"; then
			echo "left behind by run $1: $({ tr '\0' ' ' <"${e%/environ}/cmdline"; } 2>/dev/null)" >&2
			return 1
		fi
	done
	return 0
}
