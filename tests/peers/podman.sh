#!/bin/sh
# Starts or stops a private Podman API service (Docker-compatible Engine API) for the
# integration tests: private storage and socket under a state directory, runc, explicit ulimits.
#   tests/peers/podman.sh start [STATE_DIR]   -> STATE_DIR/socket, STATE_DIR/pid, STATE_DIR/env
#   tests/peers/podman.sh stop  [STATE_DIR]
# STATE_DIR defaults to $PW_PODMAN_STATE or /tmp/pipewright-podman-$(id -u). Installs nothing.
set -eu

cmd=${1:-}
state=${2:-${PW_PODMAN_STATE:-/tmp/pipewright-podman-$(id -u)}}

stop() {
	if [ -f "$state/pid" ]; then
		pid=$(cat "$state/pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	if [ -d "$state" ]; then
		# containers' overlay mounts and runc state live under here
		if command -v podman >/dev/null 2>&1 && [ -d "$state/storage" ]; then
			CONTAINERS_CONF="$state/containers.conf" podman --root "$state/storage" --runroot "$state/run" \
				--tmpdir "$state/tmp" system reset --force >/dev/null 2>&1 || true
		fi
		rm -rf "$state" 2>/dev/null || true
	fi
}

case "$cmd" in
start)
	for p in podman runc; do
		if ! command -v "$p" >/dev/null 2>&1; then
			echo "podman.sh: '$p' is not installed; run 'make deps' (it installs podman, runc, busybox-static, uidmap)" >&2
			exit 1
		fi
	done
	if [ ! -x /bin/busybox ] && [ ! -x /usr/bin/busybox ]; then
		echo "podman.sh: busybox (busybox-static) is not installed; run 'make deps'" >&2
		exit 1
	fi
	stop
	mkdir -p "$state/storage" "$state/run" "$state/tmp"
	cat >"$state/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
CONF
	sock="$state/podman.sock"
	CONTAINERS_CONF="$state/containers.conf" nohup podman --root "$state/storage" --runroot "$state/run" \
		--tmpdir "$state/tmp" system service --time=0 "unix://$sock" >"$state/service.log" 2>&1 &
	echo $! >"$state/pid"
	i=0
	while :; do
		if [ -S "$sock" ] && curl -fsS --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; then
			break
		fi
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
			echo "podman.sh: podman system service exited; its log:" >&2
			cat "$state/service.log" >&2
			exit 1
		fi
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "podman.sh: no answer on $sock after 30 s" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "$sock" >"$state/socket"
	{
		echo "DOCKER_HOST=unix://$sock"
		echo "CONTAINERS_CONF=$state/containers.conf"
		echo "PODMAN_ARGS=--root $state/storage --runroot $state/run --tmpdir $state/tmp"
	} >"$state/env"
	echo "podman.sh: Podman API service on unix://$sock (pid $(cat "$state/pid"))"
	;;
stop)
	stop
	echo "podman.sh: stopped"
	;;
*)
	echo "usage: $0 start|stop [STATE_DIR]" >&2
	exit 2
	;;
esac
