#!/bin/sh
# Fails when a C source or header is not formatted with the checked-in .clang-format.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests examples bench -name '*.[ch]')
if ! command -v clang-format >/dev/null 2>&1; then
	echo "check-format: clang-format is not installed (make deps installs it)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! clang-format --dry-run -Werror $files; then
	echo "check-format: run 'make format' to fix the files above" >&2
	exit 1
fi
echo "check-format: $(echo "$files" | wc -w) files formatted"
