#!/bin/sh
# (a) 200 sequential shell steps of `true`: `pipewright run` vs GNU make running the same 200
# recipes, one after the other, in the same run. Goal: ratio <= 1.0. The two alternate
# ROUNDS times (default 41: this figure is small against the machine's noise); printed: the
# ratio of the best runs, the ratio of the medians, and the median of the per-round ratios.
. "$(dirname "$0")/lib.sh"
N=${N:-200}
{
	echo "version: 1"
	echo "steps:"
	i=0
	while [ $i -lt "$N" ]; do
		echo "  - { name: s$i, command: \"true\" }"
		i=$((i + 1))
	done
} >"$SCRATCH/steps.yml"
{
	printf 'all:'
	i=0
	while [ $i -lt "$N" ]; do printf ' s%d' $i; i=$((i + 1)); done
	printf '\n.PHONY: all'
	i=0
	while [ $i -lt "$N" ]; do printf ' s%d' $i; i=$((i + 1)); done
	printf '\n'
	i=0
	while [ $i -lt "$N" ]; do
		# the same recipe through the same shell as the pipeline's string command
		printf 's%d:\n\t@/bin/sh -c true\n' $i
		i=$((i + 1))
	done
} >"$SCRATCH/Makefile"
ROUNDS=${ROUNDS:-41}
set -- $(best_pair "$ROUNDS" "'$PW' run '$SCRATCH/steps.yml' -j 1 -q" "make -s -j1 -f '$SCRATCH/Makefile' -C '$SCRATCH'")
pw_ms=$1
make_ms=$2
echo "steps_vs_make: $N steps; pipewright ${pw_ms} ms, make ${make_ms} ms, ratio $(ratio "$pw_ms" "$make_ms") (goal <= 1.0); medians $3 / $4 ms, ratio $(ratio "$3" "$4"); median of the $ROUNDS paired ratios $5"
