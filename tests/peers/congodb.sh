#!/bin/sh
# A MongoDB wire-protocol server for the tests: CongoDB from @push.rocks/smartmongo 2.2.0 (MIT, npm).
# Installs it once into DIR the offline-safe way (its light dependencies, then the package itself
# unpacked from `npm pack`: a plain `npm install` of it drags in a MongoDB server downloader that
# fails offline), then runs it on 127.0.0.1 with a free port: prints "PORT n" and "READY" on
# stdout; stops when its stdin closes.
# usage: congodb.sh DIR
set -eu
DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PKG="$DIR/node_modules/@push.rocks/smartmongo"
if [ ! -f "$PKG/package.json" ]; then
	mkdir -p "$DIR"
	cd "$DIR"
	[ -f package.json ] || npm init -y >/dev/null
	npm install --no-audit --no-fund --loglevel=error bson@7.3.4 mingo@7.2.7 @push.rocks/smartfs@1.5.0 \
		@push.rocks/smartpath@6.0.0 @push.rocks/smartpromise@4.2.3 @push.rocks/smartrx@3.0.10 >&2
	npm pack --loglevel=error @push.rocks/smartmongo@2.2.0 >&2
	mkdir -p "$PKG.tmp"
	tar xzf push.rocks-smartmongo-2.2.0.tgz -C "$PKG.tmp" --strip-components=1
	rm -rf "$PKG"
	mv "$PKG.tmp" "$PKG"
fi
exec node "$HERE/congodb_server.mjs" "$DIR"
