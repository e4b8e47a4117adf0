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
# hits both alike) and prints "bestA bestB medianA medianB" in ms
best_pair() {
	n=$1
	a=$2
	b=$3
	ta=
	tb=
	i=0
	while [ $i -lt "$n" ]; do
		ta="$ta $(time_once sh -c "$a")"
		tb="$tb $(time_once sh -c "$b")"
		i=$((i + 1))
	done
	echo "$(min_of $ta) $(min_of $tb) $(median_of $ta) $(median_of $tb)"
}
min_of() { printf '%s\n' "$@" | sort -n | head -n 1; }
median_of() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.2f}')" "$1" "$2"; }
