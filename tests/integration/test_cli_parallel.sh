# parallel.yml: lint and unit overlap in time with -j 2 and not with -j 1.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example parallel.yml)
run_pw par run "$f" -j 2 --run-id par-2
check "exit 0" [ "$STATUS" -eq 0 ]
rd="$WORK/ws/.pipewright/runs/par-2"
overlap=$(python3 - "$rd/result.json" <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["steps"]}
def t(x):
    return datetime.datetime.strptime(x["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
a, b = s["lint"], s["unit"]
# overlapping intervals
print(1 if t(a) < t(b) + b["duration_ms"] and t(b) < t(a) + a["duration_ms"] else 0)
# package started after both ended
p = s["package"]
ok = t(p) >= max(t(a) + a["duration_ms"], t(b) + b["duration_ms"]) - 5
print(1 if ok else 0)
PY
)
check "lint and unit overlapped with -j 2" [ "$(echo "$overlap" | sed -n 1p)" = 1 ]
check "package waited for both" [ "$(echo "$overlap" | sed -n 2p)" = 1 ]
run_pw seq run "$f" -j 1 --run-id par-1
check "exit 0 with -j 1" [ "$STATUS" -eq 0 ]
seq=$(python3 - "$WORK/ws/.pipewright/runs/par-1/result.json" <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["steps"]}
def t(x):
    return datetime.datetime.strptime(x["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
a, b = s["lint"], s["unit"]
print(0 if t(a) < t(b) + b["duration_ms"] - 5 and t(b) < t(a) + a["duration_ms"] - 5 else 1)
PY
)
check "no overlap with -j 1" [ "$seq" = 1 ]
# a step that ends while a long one before it still runs gets its log (empty, it printed
# nothing) and its result entry then, not when the long one ends
cat >"$WORK/ws/long_first.yml" <<'YML'
version: 1
steps:
  - name: long
    command: sleep 3
  - name: quiet
    needs: []
    command: "true"
YML
"$PW_CLI" run "$WORK/ws/long_first.yml" -j 2 --run-id long-first >"$WORK/long.out" 2>&1 &
lpid=$!
i=0
while [ ! -f "$WORK/ws/.pipewright/runs/long-first/quiet.log" ] && [ $i -lt 20 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "quiet's empty log exists while long still runs" \
	sh -c "[ -f '$WORK/ws/.pipewright/runs/long-first/quiet.log' ] && kill -0 $lpid"
check "quiet's log is empty" [ ! -s "$WORK/ws/.pipewright/runs/long-first/quiet.log" ]
# step records are held for one write, but not for longer than the run's tick: both steps'
# starts and quiet's end are in the audit log while long still runs
au="$WORK/ws/.pipewright/runs/long-first/audit.jsonl"
wait_for_text "$au" '"step":"quiet","event":"step_end"'
check "audit has long's start while it runs" \
	sh -c "grep -qF '\"step\":\"long\",\"event\":\"step_start\"' '$au' && kill -0 $lpid"
check "audit has quiet's end while long runs" \
	sh -c "grep -qF '\"step\":\"quiet\",\"event\":\"step_end\"' '$au' && kill -0 $lpid"
wait $lpid
check "long-first exit 0" [ $? -eq 0 ]
check "long's log after the run" [ -f "$WORK/ws/.pipewright/runs/long-first/long.log" ]
run_pw badj run "$f" -j zero
check "bad -j is a usage error" [ "$STATUS" -eq 3 ]
finish
