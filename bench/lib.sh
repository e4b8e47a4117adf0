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
# best_pair N "CMD A" "CMD B": runs A and B alternately N times, A first in even rounds and B
# first in odd ones (so that load from elsewhere, and whatever the one before leaves behind,
# hits both alike), and prints "bestA bestB medianA medianB pairmedian" in ms, pairmedian
# being the median of the N ratios A/B of one round (the least noisy figure of the three)
best_pair() {
	n=$1
	a=$2
	b=$3
	ta=
	tb=
	i=0
	while [ $i -lt "$n" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			x=$(time_once sh -c "$a")
			y=$(time_once sh -c "$b")
		else
			y=$(time_once sh -c "$b")
			x=$(time_once sh -c "$a")
		fi
		ta="$ta $x"
		tb="$tb $y"
		i=$((i + 1))
	done
	echo "$(min_of $ta) $(min_of $tb) $(median_of $ta) $(median_of $tb) $(pair_median "$ta" "$tb")"
}
# pair_median "A1 A2 ..." "B1 B2 ...": the median of A_i / B_i, two decimals
pair_median() {
	python3 -c "import sys, statistics; a = sys.argv[1].split(); b = sys.argv[2].split(); print(f'{statistics.median(float(x) / max(float(y), 1e-9) for x, y in zip(a, b)):.2f}')" "$1" "$2"
}
min_of() { printf '%s\n' "$@" | sort -n | head -n 1; }
median_of() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.2f}')" "$1" "$2"; }
