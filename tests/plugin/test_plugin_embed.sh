# Embedding: installs pipewright into a temporary prefix, builds examples/embed/embed.c against
# the INSTALLED library through pkg-config (shared, then --static with only the archive
# present), and runs it: a connector and factory made as the seed's three steps describe,
# registered, and a pipeline that uses them run to success.
set -eu
: "${PW_SOURCE_DIR:?}" "${PW_BINARY_DIR:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-embed-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }
check() {
	desc=$1
	shift
	if "$@"; then ok; else bad "$desc"; fi
}
contains() { grep -qF -- "$2" "$1"; }

CFLAGS="-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror"
[ "${PW_SANITIZE:-OFF}" = "ON" ] && CFLAGS="$CFLAGS -fsanitize=address,undefined"

prefix="$WORK/prefix"
cmake --install "$PW_BINARY_DIR" --prefix "$prefix" >"$WORK/install.log" 2>&1
check "cmake --install" [ $? -eq 0 ]
pc=$(find "$prefix" -name pipewright.pc | head -n 1)
check "pipewright.pc installed" [ -n "$pc" ]
pcdir=$(dirname "$pc")
check "headers installed" [ -f "$prefix/include/pipewright.h" ]
check "plug-in header installed" [ -f "$prefix/include/pipewright/sys/plugin.h" ]
# installed elsewhere than the configure-time prefix: pipewright.pc finds its own prefix
pkg() { PKG_CONFIG_PATH="$pcdir" pkg-config "$@"; }
libdir=$(pkg --variable=libdir pipewright)
check "libdir inside the prefix (relocatable .pc)" [ -f "$libdir/libpipewright.a" ]

# shared library
set +e
cc $CFLAGS "$PW_SOURCE_DIR/examples/embed/embed.c" $(pkg --cflags --libs pipewright) -Wl,-rpath,"$libdir" \
	-o "$WORK/embed-shared" 2>"$WORK/cc-shared.err"
check "compiles against the shared library" [ $? -eq 0 ]
mkdir -p "$WORK/ws"
"$WORK/embed-shared" "$WORK/ws" >"$WORK/shared.out" 2>&1
check "shared: runs to success" [ $? -eq 0 ]
set -e
check "shared: custom connector ran" contains "$WORK/shared.out" "[custom-step] my-connector ran step custom-step: build the thing"
check "shared: built-in shell too" contains "$WORK/shared.out" "[shell-step] the shell connector is there too"
check "shared: statuses" contains "$WORK/shared.out" "custom-step: succeeded"
check "shared: linked to libpipewright.so" sh -c "ldd '$WORK/embed-shared' | grep -q 'libpipewright.so.1 => $libdir'"

# static: only the archive is there, --static brings the private dependencies
rm -f "$libdir"/libpipewright.so*
set +e
cc $CFLAGS "$PW_SOURCE_DIR/examples/embed/embed.c" $(pkg --static --cflags --libs pipewright) \
	-o "$WORK/embed-static" 2>"$WORK/cc-static.err"
check "compiles against the static library (pkg-config --static)" [ $? -eq 0 ]
[ -s "$WORK/cc-static.err" ] && cat "$WORK/cc-static.err" >&2
rm -rf "$WORK/ws"
mkdir -p "$WORK/ws"
"$WORK/embed-static" "$WORK/ws" >"$WORK/static.out" 2>&1
check "static: runs to success" [ $? -eq 0 ]
set -e
check "static: custom connector ran" contains "$WORK/static.out" "embedded run succeeded"
check "static: no libpipewright.so needed" sh -c "! ldd '$WORK/embed-static' | grep -q libpipewright"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
