#!/usr/bin/env bash
# Installs libclipt into a temporary prefix with `make install`, then
# builds tests/install_program.c against the installed copy through
# pkg-config, once against the shared and once against the static library,
# and runs both. Prints a SUMMARY line like the Check suites.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build_dir=$(dirname "$here")
repo=$(cd "$here/../.." && pwd)
build=${build_dir#"$repo"/}
cd "$repo" || exit 1

if nm "$build/libclipt.a" 2>/dev/null | grep -q __asan_; then
    echo "skipped: install: the sanitizer build is not installed"
    echo "SUMMARY install passed=0 failed=0 skipped=1"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # name, command...
    local name=$1; shift
    if "$@" >"$tmp/log" 2>&1; then
        passed=$((passed + 1)); echo "  ok: $name"
    else
        failed=$((failed + 1)); echo "  FAILED: $name"; sed 's/^/    /' "$tmp/log"
    fi
}

check "make install PREFIX=$tmp/prefix" make -s install BUILD="$build" PREFIX="$tmp/prefix" -o lib
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
check "pkg-config finds clipt" pkg-config --exists clipt
cflags=$(pkg-config --cflags clipt)
check "build against the shared library" \
    sh -c "cc -std=c11 -Wall -Werror $cflags tests/install_program.c -o $tmp/shared \$(pkg-config --libs clipt)"
check "run against the shared library" \
    env LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/shared"
check "the program uses the installed libclipt.so" \
    sh -c "LD_LIBRARY_PATH=$tmp/prefix/lib ldd $tmp/shared | grep -q '$tmp/prefix/lib/libclipt.so'"
static_libs=$(pkg-config --static --libs clipt | sed 's/-lclipt//')
check "build against the static library" \
    sh -c "cc -std=c11 -Wall -Werror $cflags tests/install_program.c -o $tmp/static $tmp/prefix/lib/libclipt.a $static_libs"
check "run against the static library" "$tmp/static"
echo "SUMMARY install passed=$passed failed=$failed skipped=0"
[ "$failed" -eq 0 ]
