#!/bin/sh
# Installs, with apt-get, the Debian packages that building and testing pipewright need —
# only those missing — and says what it installs. Run as root (or through sudo).
set -eu

PACKAGES="gcc make cmake ninja-build pkg-config git ca-certificates openssl \
libyaml-dev libjansson-dev libcurl4-openssl-dev libssl-dev libarchive-dev \
python3 python3-yaml python3-jsonschema libxml2-utils clang-format time procps curl tmux \
clang libclang-rt-14-dev valgrind libmongoc-dev nodejs:node npm:npm \
podman runc busybox-static uidmap chromium"
# PACKAGE:COMMAND -- the command is enough: Node.js from another source (NodeSource, nvm)
# already brings npm, and Debian's npm package would conflict with it.

missing=""
for entry in $PACKAGES; do
	p=${entry%%:*}
	cmd=${entry#*:}
	if [ "$cmd" != "$entry" ] && command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all build and test packages are installed"
	exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
