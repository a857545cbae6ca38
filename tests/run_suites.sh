#!/usr/bin/env bash
# Runs every test binary in BUILD/tests, prints each suite's output and a
# total line, and exits non-zero when a suite fails, crashes, or prints no
# SUMMARY line. Skips are counted apart from passes.
#   usage: tests/run_suites.sh [BUILD] [SUITE...]
set -u
build=${1:-build}
shift || true
cd "$(dirname "$0")/.." || exit 1

if [ $# -gt 0 ]; then
    suites=()
    for s in "$@"; do suites+=("$build/tests/test_$s"); done
else
    suites=("$build"/tests/test_*)
fi

total_pass=0 total_fail=0 total_skip=0 bad_suites=()
start=$(date +%s)
for bin in "${suites[@]}"; do
    [ -x "$bin" ] || { echo "missing test binary $bin"; bad_suites+=("$bin"); continue; }
    name=$(basename "$bin")
    echo "=== $name"
    t0=$(date +%s)
    out=$("$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep '^SUMMARY ' | tail -n 1)
    if [ -z "$line" ]; then
        echo "!!! $name exited with status $rc and printed no SUMMARY line"
        bad_suites+=("$name")
        continue
    fi
    p=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
    s=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' <<<"$line")
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then bad_suites+=("$name"); fi
    echo "--- $name: $(($(date +%s) - t0)) s"
done

if [ -x "$build/tests/cxx_header" ]; then
    if "$build/tests/cxx_header"; then
        total_pass=$((total_pass + 1))
    else
        total_fail=$((total_fail + 1)); bad_suites+=("cxx_header")
    fi
fi

echo
echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped" \
     "($(($(date +%s) - start)) s)"
if [ ${#bad_suites[@]} -gt 0 ]; then
    echo "failing suites: ${bad_suites[*]}"
    exit 1
fi
exit 0
