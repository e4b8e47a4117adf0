#!/bin/sh
# (d) Docker connector on Podman's API service, measured side by side in one run:
#   20 sequential trivial containers (`true`) through `pipewright run` vs 20 x `podman run --rm`
#   on the same engine and storage (both with no network) -- goal ratio <= 0.8;
#   log throughput of a container writing 256 MiB to stdout (MB/s) and pipewright's peak RSS.
# Starts its own private Podman service (tests/peers/podman.sh) and stops it afterwards.
. "$(dirname "$0")/lib.sh"
N=${N:-20}
MIB=${MIB:-256}
STATE="$SCRATCH/podman"
sh "$ROOT/tests/peers/podman.sh" start "$STATE" >/dev/null
trap 'sh "$ROOT/tests/peers/podman.sh" stop "$STATE" >/dev/null 2>&1; rm -rf "$SCRATCH"' EXIT INT TERM
export DOCKER_HOST="unix://$STATE/podman.sock"
export CONTAINERS_CONF="$STATE/containers.conf"
PODMAN="podman --root $STATE/storage --runroot $STATE/run --tmpdir $STATE/tmp"

# the test image, built through the connector's own build path
mkdir -p "$SCRATCH/ws/image"
cp "$(command -v busybox)" "$SCRATCH/ws/image/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n' >"$SCRATCH/ws/image/Dockerfile"
cat >"$SCRATCH/ws/image.yml" <<YML
version: 1
steps:
  - name: image
    step_type: docker
    config: { dockerfile: image/Dockerfile, build_context: image, keep_image: true, command: ["true"], network: none }
YML
"$PW" run "$SCRATCH/ws/image.yml" --run-id bench -q >/dev/null
IMAGE=pipewright/bench-image:latest

{
	echo "version: 1"
	echo "steps:"
	i=0
	while [ $i -lt "$N" ]; do
		echo "  - { name: c$i, step_type: docker, config: { image: \"$IMAGE\", pull: never, network: none, command: [\"true\"] } }"
		i=$((i + 1))
	done
} >"$SCRATCH/ws/trivial.yml"
podman_loop() {
	i=0
	while [ $i -lt "$N" ]; do
		$PODMAN run --rm --network none "$IMAGE" true
		i=$((i + 1))
	done
}
pw_ms=$(best_of 3 "$PW" run "$SCRATCH/ws/trivial.yml" -j 1 -q)
podman_ms=$(best_of 3 podman_loop)
echo "docker_vs_podman: $N containers; pipewright ${pw_ms} ms, podman run --rm ${podman_ms} ms, ratio $(ratio "$pw_ms" "$podman_ms") (goal <= 0.8)"

cat >"$SCRATCH/ws/logs.yml" <<YML
version: 1
steps:
  - name: logs
    step_type: docker
    config: { image: "$IMAGE", pull: never, network: none, command: "head -c $((MIB * 1024 * 1024)) /dev/zero | tr '\\\\0' x" }
YML
t0=$(now_ms)
/usr/bin/time -f %M -o "$SCRATCH/rss" "$PW" run "$SCRATCH/ws/logs.yml" -q >/dev/null 2>&1
t1=$(now_ms)
ms=$((t1 - t0))
rss_kb=$(tail -n 1 "$SCRATCH/rss")
mbs=$(python3 -c "import sys; print(f'{float(sys.argv[1]) * 1.048576 / (float(sys.argv[2]) / 1000):.0f}')" "$MIB" "$ms")
echo "docker_log_throughput: $MIB MiB from a container in ${ms} ms = ${mbs} MB/s; pipewright peak RSS $((rss_kb / 1024)) MiB"
$PODMAN rmi -f "$IMAGE" >/dev/null 2>&1 || true
