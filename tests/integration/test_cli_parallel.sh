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
run_pw badj run "$f" -j zero
check "bad -j is a usage error" [ "$STATUS" -eq 3 ]
finish
