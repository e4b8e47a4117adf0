# Shared helpers for benchmarks: a scratch dir, a millisecond clock, and the binary.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PW=${PW:-$ROOT/build/pipewright}
[ -x "$PW" ] || { echo "bench: build first (make build); $PW is missing" >&2; exit 1; }
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/pw-bench.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
now_ms() { date +%s%3N; }
# best_of N CMD...: the fastest of N runs, in ms (the least disturbed by other load)
best_of() {
	n=$1
	shift
	best=
	i=0
	while [ $i -lt "$n" ]; do
		t0=$(now_ms)
		"$@" >/dev/null 2>&1
		t1=$(now_ms)
		d=$((t1 - t0))
		if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
		i=$((i + 1))
	done
	echo "$best"
}
# time_once CMD...: one run, in ms
time_once() {
	t0=$(now_ms)
	"$@" >/dev/null 2>&1
	t1=$(now_ms)
	echo $((t1 - t0))
}
# best_pair N "CMD A" "CMD B": runs A and B alternately N times (so that load from elsewhere
# hits both alike) and prints "bestA bestB" in ms
best_pair() {
	n=$1
	a=$2
	b=$3
	ba=
	bb=
	i=0
	while [ $i -lt "$n" ]; do
		da=$(time_once sh -c "$a")
		db=$(time_once sh -c "$b")
		if [ -z "$ba" ] || [ "$da" -lt "$ba" ]; then ba=$da; fi
		if [ -z "$bb" ] || [ "$db" -lt "$bb" ]; then bb=$db; fi
		i=$((i + 1))
	done
	echo "$ba $bb"
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.2f}')" "$1" "$2"; }
