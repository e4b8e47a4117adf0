#!/bin/sh
# The whole test suite: format and banned-function checks, every CTest suite in a normal
# build, the core unit suites under valgrind memcheck, then the same suites built with
# AddressSanitizer and UndefinedBehaviorSanitizer.
# Servers a suite needs are started by that suite and stopped when it ends.
set -eu
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

sh scripts/check-format.sh
sh scripts/check-banned.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"
echo "== tests (release build)"
(cd build && ctest --output-on-failure -j "$JOBS")
echo "== core unit suites under valgrind memcheck"
sh scripts/valgrind.sh build

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPW_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"
echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$JOBS")
