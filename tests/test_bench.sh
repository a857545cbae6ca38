#!/usr/bin/env bash
# Smoke runs of the benchmarks in BUILD/bench on small sizes: the kernel
# benchmark on the CPU (with its CSV) and on CUDA, and the training step on
# CUDA and on the CPU. Each run must exit 0. A CUDA run either measures or,
# on a machine without a usable device, prints its "skipped: ... no CUDA
# device" line, which counts as a skip. Prints a SUMMARY line like the
# Check suites.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build_dir=$(dirname "$here")
bench=$build_dir/bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0

fail() { # name, reason; prints the run's output
    failed=$((failed + 1))
    echo "  FAILED: $1: $2"
    sed 's/^/    /' "$tmp/out"
}

# Runs a benchmark; returns 1 (after counting a failure) when it exits
# non-zero.
run() { # name, command...
    local name=$1
    shift
    "$@" >"$tmp/out" 2>&1
    local status=$?
    if [ "$status" -ne 0 ]; then
        fail "$name" "exit status $status"
        return 1
    fi
    return 0
}

# The kernel benchmark prints both ceilings and one line per op.
kernel_ops="embedding_forward embedding_backward layernorm_forward layernorm_backward
    matmul_forward.qkv matmul_backward.qkv matmul_forward.out_proj matmul_backward.out_proj
    matmul_forward.fc1 matmul_backward.fc1 matmul_forward.fc2 matmul_backward.fc2
    attention_forward attention_backward activation_forward activation_backward add
    gather_rows gather_rows_backward cosine_loss grad_norm adamw_update"

check_kernel_lines() { # name; checks $tmp/out
    local missing=""
    grep -q "^ceiling copy: [0-9.]* GB/s" "$tmp/out" || missing="$missing ceiling-copy"
    grep -q "^ceiling sgemm fp32: [0-9.]* [GT]FLOP/s" "$tmp/out" || missing="$missing ceiling-sgemm"
    for op in $kernel_ops; do
        grep -q "^${op} " "$tmp/out" || missing="$missing $op"
    done
    if grep -qiwE "nan|inf" "$tmp/out"; then missing="$missing (a NaN or infinite rate)"; fi
    if [ -n "$missing" ]; then
        fail "$1" "missing or bad lines:$missing"
        return 1
    fi
    return 0
}

# ---- kernels on the CPU ----------------------------------------------------
name="kernels --device cpu --quick --reps 1 --shape realistic"
if run "$name" "$bench/kernels" --device cpu --quick --reps 1 --shape realistic \
        --csv "$tmp/kernels.csv" && check_kernel_lines "$name"; then
    # a header, two or three ceilings, 22 ops
    rows=$(grep -c . "$tmp/kernels.csv")
    if [ "$rows" -ge 25 ] && head -n 1 "$tmp/kernels.csv" | grep -q "^op,shape,n,"; then
        passed=$((passed + 1))
        echo "  ok: $name"
    else
        fail "$name" "the CSV file has $rows lines or no header"
    fi
fi

# ---- CUDA runs: measure, or report the missing device ----------------------
cuda_run() { # name, check function, command...
    local name=$1 check=$2
    shift 2
    run "$name" "$@" || return
    if grep -q "^skipped: .*no CUDA device" "$tmp/out"; then
        skipped=$((skipped + 1))
        echo "  $(grep -m1 '^skipped:' "$tmp/out")"
    elif $check "$name"; then
        passed=$((passed + 1))
        echo "  ok: $name"
    fi
}

check_step_lines() { # name; checks $tmp/out
    if ! grep -q "ms/step median [0-9.]*" "$tmp/out"; then
        fail "$1" "no ms/step line"
        return 1
    fi
    return 0
}

step_env=(env)

cuda_run "kernels --device cuda --quick" check_kernel_lines \
    "$bench/kernels" --device cuda --quick --reps 2
cuda_run "step --device cuda" check_step_lines \
    "${step_env[@]}" "$bench/step" --device cuda --steps 1 --warmup 0 --pairs 8

# ---- the training step on the CPU ------------------------------------------
name="step --preset small --pairs 8 on the CPU"
if run "$name" "${step_env[@]}" "$bench/step" --preset small --pairs 8 --steps 1 --warmup 0 &&
        check_step_lines "$name"; then
    passed=$((passed + 1))
    echo "  ok: $name"
fi

echo "SUMMARY bench passed=$passed failed=$failed skipped=$skipped"
[ "$failed" -eq 0 ]
