# retry.yml: retries, allow_failure, a failing step, on_failure and always.
set -e
. "$(dirname "$0")/lib.sh"
f=$(example retry.yml)
run_pw retry run "$f" --run-id retry-1
check "a failed step makes exit status 1" [ "$STATUS" -eq 1 ]
r="$WORK/ws/.pipewright/runs/retry-1/result.json"
status_of() {
	python3 -c "import json,sys; print({s['name']: s for s in json.load(open(sys.argv[1]))['steps']}[sys.argv[2]][sys.argv[3]])" "$r" "$1" "$2"
}
check "flaky succeeded" [ "$(status_of flaky status)" = succeeded ]
check "flaky took 2 attempts" [ "$(status_of flaky attempts)" = 2 ]
check "optional-check allowed to fail" [ "$(status_of optional-check status)" = allowed_failure ]
check "optional-check exit code kept" [ "$(status_of optional-check exit_code)" = 3 ]
check "broken failed" [ "$(status_of broken status)" = failed ]
check "broken exit code" [ "$(status_of broken exit_code)" = 7 ]
check "after-broken skipped" [ "$(status_of after-broken status)" = skipped ]
check "notify-failure ran" [ "$(status_of notify-failure status)" = succeeded ]
check "cleanup ran" [ "$(status_of cleanup status)" = succeeded ]
check "on_failure output" contains "$WORK/retry.out" "notify-failure | something failed"
check "never printed" lacks "$WORK/retry.out" "never printed"
check "first attempt's stderr shown" contains "$WORK/retry.out" "flaky | first attempt fails"
finish
