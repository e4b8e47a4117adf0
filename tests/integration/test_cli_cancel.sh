# cancel.yml: SIGINT, SIGTERM or SIGHUP to `pipewright run` stops the long step (its process group), runs the
# `always` step, and ends with exit status 130.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example cancel.yml)
for sig in INT TERM HUP; do
	"$PW_CLI" run "$f" --run-id "cancel-$sig" >"$WORK/c-$sig.out" 2>"$WORK/c-$sig.err" </dev/null &
	pid=$!
	i=0
	while ! grep -q "long | started" "$WORK/c-$sig.out" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -s "$sig" $pid
	set +e
	wait $pid
	STATUS=$?
	set -e
	check "SIG$sig: exit status 130" [ "$STATUS" -eq 130 ]
	check "SIG$sig: cleanup ran" contains "$WORK/c-$sig.out" "cleanup | cleanup after cancel"
	r="$WORK/ws/.pipewright/runs/cancel-$sig/result.json"
	check "SIG$sig: long cancelled" contains "$r" '"status": "cancelled"'
	check "SIG$sig: no process of the run left" no_run_process "cancel-$sig"
done
finish
