#!/bin/sh
# Fails when library or tool code calls a function we do not use: unbounded copies and
# formatting, non-reentrant tokenizing, unchecked number parsing.
set -eu
cd "$(dirname "$0")/.."
pattern='(^|[^_a-zA-Z0-9.>])(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
if grep -rnE "$pattern" src include; then
	echo "check-banned: use bounded alternatives (snprintf, pw_buf, strtol with checks, strtok_r)" >&2
	exit 1
fi
echo "check-banned: no banned calls"
