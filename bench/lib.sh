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
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.2f}')" "$1" "$2"; }
