#!/bin/sh
# (b) One step writing 1 GiB to stdout with a secret registered (masking on): throughput
# in MB/s and pipewright's peak RSS. Goals: >= 300 MB/s, <= 32 MiB.
. "$(dirname "$0")/lib.sh"
MB=${MB:-1024}
cat >"$SCRATCH/big.yml" <<YML
version: 1
secrets: [BENCH_SECRET]
steps:
  - name: big
    command: yes 'a typical log line of text with a number 12345 and some words' | head -c ${MB}M
YML
t0=$(now_ms)
BENCH_SECRET=never-appears-anywhere /usr/bin/time -f "%M" -o "$SCRATCH/rss" "$PW" run "$SCRATCH/big.yml" >/dev/null 2>&1
t1=$(now_ms)
ms=$((t1 - t0))
rss_kb=$(tail -n 1 "$SCRATCH/rss")
mbps=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / (int(sys.argv[2]) / 1000):.0f}')" "$MB" "$ms")
# the same bytes through a plain pipe, for scale
t0=$(now_ms)
yes 'a typical log line of text with a number 12345 and some words' | head -c "${MB}M" >/dev/null
t1=$(now_ms)
echo "output_throughput: ${MB} MiB in ${ms} ms = ${mbps} MB/s (goal >= 300); peak RSS $((rss_kb / 1024)) MiB (goal <= 32); plain pipe $((t1 - t0)) ms"
