#!/bin/sh
# Runs every benchmark and prints one line per figure (copy them into docs/performance.md).
set -eu
dir=$(dirname "$0")
for b in steps_vs_make output_throughput validate_plan docker_vs_podman kubernetes_overhead mirror_vs_git \
	github_release aws_ecs_vs_cli; do
	sh "$dir/$b.sh"
done
