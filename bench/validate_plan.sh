#!/bin/sh
# (c) `validate` and `plan` of a 2,000-step pipeline. Goal: <= 50 ms each.
. "$(dirname "$0")/lib.sh"
N=${N:-2000}
{
	echo "version: 1"
	echo "name: big"
	echo "env: { A: b }"
	echo "steps:"
	i=0
	while [ $i -lt "$N" ]; do
		if [ $((i % 10)) -eq 0 ]; then
			echo "  - name: s$i"
			echo "    needs: []"
			echo "    command: echo step $i"
		else
			echo "  - name: s$i"
			echo "    needs: [s$((i - 1))]"
			echo "    timeout: 60"
			echo "    config: { command: [\"echo\", \"$i\"], working_directory: . }"
		fi
		i=$((i + 1))
	done
} >"$SCRATCH/big.yml"
v_ms=$(best_of 5 "$PW" validate "$SCRATCH/big.yml")
p_ms=$(best_of 5 "$PW" plan "$SCRATCH/big.yml")
echo "validate_plan: $N steps; validate ${v_ms} ms, plan ${p_ms} ms (goal <= 50 each)"
