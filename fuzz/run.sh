#!/bin/sh
# Runs every libFuzzer target of a PW_FUZZ build for a bounded time, starting from the
# committed seed corpus. New interesting inputs go to BUILD/fuzz-corpus/<target> (not to the
# source tree); a crash or broken property is saved under BUILD/fuzz-artifacts/<target>/ and
# fails the run — fix the code and keep the input in fuzz/regressions/<target>/.
# Usage: fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]   (FUZZ_TARGETS="a b" runs only those)
set -eu
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
seconds=${2:-30}
targets="${FUZZ_TARGETS:-load mask shell_outputs suggest sigv4 docker_frames docker_json k8s_validators kubeconfig aws_answers azure_answers gcp_answers github_answers gitlab_answers exec_result}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=""
for t in $targets; do
	bin="$build/fuzz/fuzz_$t"
	work="$build/fuzz-corpus/$t"
	art="$build/fuzz-artifacts/$t"
	mkdir -p "$work" "$art"
	echo "== fuzz_$t (${seconds}s)"
	dict=""
	if [ -f "fuzz/$t.dict" ]; then
		dict="-dict=fuzz/$t.dict"
	fi
	set +e
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $dict "$work" "fuzz/corpus/$t" \
		>"$build/fuzz-$t.log" 2>&1
	rc=$?
	set -e
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+.*DONE' "$build/fuzz-$t.log" || true
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_$t: FAILED (exit $rc); see $build/fuzz-$t.log and $art/" >&2
		tail -n 40 "$build/fuzz-$t.log" >&2
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed" >&2
	exit 1
fi
echo "fuzz: no findings"
