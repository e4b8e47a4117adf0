#!/bin/sh
# Runs the core unit suites (core, secrets, pipeline, runner, proc) under valgrind memcheck
# from a normal (non-sanitizer) build: any invalid access, use of uninitialised memory or
# definite/indirect leak fails. Children the suites start are not traced (they are /bin/sh and
# test programs, not pipewright).
# Usage: scripts/valgrind.sh [BUILD_DIR]   (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind: not installed (make deps installs it)" >&2
	exit 1
fi
export PW_SOURCE_DIR="$PWD"
export PW_BINARY_DIR="$PWD/$build"
export PW_CLI="$PWD/$build/pipewright"
# Cases that cannot pass under valgrind for reasons of the emulator, not of the code; each
# still runs in the normal and sanitizer builds:
#  - valgrind runs our spawn (clone with CLONE_VM|CLONE_VFORK, src/proc/proc.c) as a plain
#    fork, so a failure in the child before exec (chdir, execve) is not seen in the parent's
#    memory: the proc cases that expect "cannot run '...': No such file or directory" /
#    "Permission denied" / "Not a directory" (a missing program or working directory) see
#    exit 127; and execve's E2BIG (too_large_environment_is_explained) ends valgrind itself
#    in the child ("EXEC FAILED: I can't recover").
skip_cases="program_not_found_is_a_clear_error too_large_environment_is_explained \
program_not_executable_is_a_permission_error no_descriptors_or_children_left_behind \
working_directory_that_is_a_file_is_named missing_working_directory_is_named \
working_directory_descriptor_is_entered"

# cases SOURCE: the case names of a test program, minus skip_cases
cases() {
	for c in $(sed -nE 's/^(PW_TEST|PROC_TEST)\(([a-z0-9_]+)\).*/\2/p' "$1"); do
		case " $(echo $skip_cases) " in
		*" $c "*) ;;
		*) echo "$c" ;;
		esac
	done
}

# suite: binary under BUILD/tests, and the source whose cases are run ("-": all of them)
suites="core/test_connectors:- core/test_journal:- secrets/test_secrets:- pipeline/test_pipeline_load:- \
runner/test_runner:tests/runner/test_runner.c proc/test_proc:tests/proc/test_proc.c"
failed=""
for entry in $suites; do
	s=${entry%%:*}
	src=${entry#*:}
	bin="$build/tests/$s"
	name=$(basename "$s")
	args=""
	if [ "$src" != "-" ]; then
		args=$(cases "$src")
	fi
	if [ ! -x "$bin" ]; then
		echo "valgrind: $bin is not built" >&2
		failed="$failed $name"
		continue
	fi
	log="$build/valgrind-$name.log"
	echo "== valgrind $name"
	if valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--trace-children=no --track-origins=yes --num-callers=30 \
		--log-file="$log" "$bin" $args >"$build/valgrind-$name.out" 2>&1; then
		echo "$(tail -n 1 "$build/valgrind-$name.out"); $(grep -E "ERROR SUMMARY" "$log" | tail -n 1 | sed 's/^==[0-9]*== //')"
	else
		echo "valgrind: $name FAILED; memcheck report in $log, test output in $build/valgrind-$name.out" >&2
		grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$log" >&2 || true
		tail -n 20 "$build/valgrind-$name.out" >&2
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "valgrind: findings or failures in:$failed" >&2
	exit 1
fi
echo "valgrind: no findings"
