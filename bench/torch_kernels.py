#!/usr/bin/env python3
"""PyTorch's attention and LayerNorm on the GPU at bench/kernels' CUDA shapes.

The side-by-side numbers for bench/kernels --device cuda, in its line format:

- F.scaled_dot_product_attention in fp32 with is_causal=True, forward and
  backward, 8 heads of 64. The padded shape is 4096 texts x 77 tokens. For
  the packed shape (4096 texts of 8 to 12 tokens) the same texts are padded
  to the longest row, because PyTorch has no fp32 attention over packed rows
  of different lengths. One more line runs bf16, the precision of the fused
  flash and cuDNN kernels, for reference only.
- F.layer_norm over 512 channels, forward and backward, on the tokens of
  each shape (LayerNorm works on rows, so padding adds no work per token).
- The bandwidth ceiling, a device-to-device copy of 512 MiB, and the FLOP
  ceiling, a fp32 matrix product of 8192 x 8192 (TF32 off, the default).

GB/s and FLOP/s count the real tokens' work with bench/kernels' formulas,
so the rates compare the time each implementation takes for the same
useful work. Timing: after a warm-up that sizes K so a group lasts at least
2 ms, CUDA events time --reps groups of K back-to-back calls. Before each
group, writing 512 MiB flushes the L2 cache. Each line gives the median, min
and max time per call over the groups.

    python3 bench/torch_kernels.py [--reps N] [--shape realistic|padded|all]

Prints "skipped: torch_kernels: no CUDA device" and exits 0 when CUDA is
not available.
"""
import argparse
import contextlib
import statistics
import sys

import torch
import torch.nn.functional as F

C, NH, HS = 512, 8, 64
MIN_GROUP_SECONDS = 2e-3
MAX_CALLS_PER_GROUP = 100000
COPY_BYTES = 512 << 20
GEMM_N = 8192

# The rows of bench/kernels' CUDA shapes: (name, texts, min_len, max_len).
SHAPES = {
    "realistic": ("4096x8-12 packed", 4096, 8, 12),
    "padded": ("4096x77 padded", 4096, 77, 77),
}


def row_length(r, min_len, max_len):
    """Return the length of text r, mixed as bench/kernels' row_length does."""
    spread = max_len - min_len + 1
    return min_len + (((r * 2654435761) & 0xFFFFFFFF) >> 16) % spread


class Timer:
    def __init__(self, reps):
        self.reps = reps
        self.flush = torch.empty(COPY_BYTES // 4, device="cuda")

    def group(self, fn, k):
        """Return the seconds of k back-to-back calls, from CUDA events."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(k):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e-3

    def time(self, fn):
        """Return (calls per group, median, min, max seconds per call)."""
        k = 1
        t = self.group(fn, k)
        while t < MIN_GROUP_SECONDS / 4 and k < MAX_CALLS_PER_GROUP:
            k = min(4 * k, MAX_CALLS_PER_GROUP)
            t = self.group(fn, k)
        k = max(1, min(MAX_CALLS_PER_GROUP, int(-(-k * MIN_GROUP_SECONDS // t))))
        per_call = []
        for _ in range(self.reps):
            self.flush.zero_()
            per_call.append(self.group(fn, k) / k)
        return k, statistics.median(per_call), min(per_call), max(per_call)


class Report:
    def __init__(self, copy_gbs, gemm_flops):
        self.copy_gbs = copy_gbs
        self.gemm_flops = gemm_flops

    @staticmethod
    def header():
        print(f"{'op':<24} {'shape':<18} {'N':>8} {'K':>6} {'median_us':>11} {'min_us':>11} "
              f"{'max_us':>11} {'GB/s':>8} {'%copy':>6} {'TFLOP/s':>8} {'%gemm':>6}")

    def line(self, op, shape, n, timing, nbytes, flops):
        k, med, lo, hi = timing
        gbs = nbytes / med / 1e9
        text = (f"{op:<24} {shape:<18} {n:>8} {k:>6} {med * 1e6:>11.1f} {lo * 1e6:>11.1f} "
                f"{hi * 1e6:>11.1f} {gbs:>8.1f} {100 * gbs / self.copy_gbs:>5.0f}%")
        if flops > 0:
            fps = flops / med
            text += f" {fps / 1e12:>8.2f} {100 * fps / self.gemm_flops:>5.0f}%"
        else:
            text += f" {'-':>8} {'-':>6}"
        print(text, flush=True)


def measure_ceilings(timer):
    src = torch.rand(COPY_BYTES // 4, device="cuda")
    dst = torch.empty_like(src)
    k, med, lo, hi = timer.time(lambda: dst.copy_(src))
    copy_gbs = 2 * COPY_BYTES / med / 1e9
    print(f"ceiling copy: {copy_gbs:.1f} GB/s read + write (min {2 * COPY_BYTES / hi / 1e9:.1f}, "
          f"max {2 * COPY_BYTES / lo / 1e9:.1f}): dst.copy_(src) of {COPY_BYTES >> 20} MiB")
    del src, dst
    a = torch.rand(GEMM_N, GEMM_N, device="cuda")
    b = torch.rand(GEMM_N, GEMM_N, device="cuda")
    out = torch.empty(GEMM_N, GEMM_N, device="cuda")
    flops = 2.0 * GEMM_N ** 3
    k, med, lo, hi = timer.time(lambda: torch.mm(a, b, out=out))
    print(f"ceiling sgemm fp32: {flops / med / 1e12:.2f} TFLOP/s (min {flops / hi / 1e12:.2f}, "
          f"max {flops / lo / 1e12:.2f}): torch.mm {GEMM_N}x{GEMM_N}x{GEMM_N}, TF32 "
          f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    return copy_gbs, flops / med


def pick_sdpa_backend(q, k, v, order):
    """Return (name, context manager factory) of the first SDPA backend in
    order that accepts these inputs, else of the math backend."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # torch before 2.3: the default dispatch
        return "default", contextlib.nullcontext
    for name in order:
        backend = getattr(SDPBackend, name.upper() + ("_ATTENTION" if name != "math" else ""),
                          None)
        if backend is None:
            continue
        try:
            with sdpa_kernel([backend]):
                F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return name, lambda b=backend: sdpa_kernel([b])
        except RuntimeError:
            continue
    return "math", lambda: sdpa_kernel([SDPBackend.MATH])


def bench_attention(timer, report, shape_name, lengths, dtype):
    """Time SDPA forward and backward on (B, NH, width, HS), where width is
    the longest row. fp32 tries the fused kernels that take it, and bf16
    prefers cuDNN's."""
    B, width = len(lengths), max(lengths)
    N = sum(lengths)
    pairs = NH * sum(n * (n + 1) // 2 for n in lengths)  # causal pairs of real tokens
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.rand(B, NH, width, HS, device="cuda", dtype=dtype, generator=gen)
               .requires_grad_() for _ in range(3))
    dout = torch.rand(B, NH, width, HS, device="cuda", dtype=dtype, generator=gen)
    order = (["efficient", "flash", "cudnn"] if dtype == torch.float32
             else ["cudnn", "flash", "efficient"])
    name, backend = pick_sdpa_backend(q, k, v, order)
    label = f"sdpa {'fp32' if dtype == torch.float32 else 'bf16'} {name}"
    size = torch.finfo(dtype).bits // 8  # bytes per q, k, v, out element; lse is fp32
    with backend(), torch.no_grad():
        fwd = timer.time(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    # bench/kernels' attention formulas: qkv in, out and lse out; q.k and p.v per pair
    report.line(f"{label} fwd", shape_name, N, fwd, 4 * N * C * size + (N * NH + B) * 4,
                4 * HS * pairs)
    with backend():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    bwd = timer.time(lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True))
    # dout, qkv, out, lse in, dqkv out; scores recomputed, dv, dp, dq, dk per pair
    report.line(f"{label} bwd", shape_name, N, bwd, 11 * N * C * size + (N * NH + B) * 4,
                10 * HS * pairs)


def bench_layernorm(timer, report, shape_name, N):
    """Time F.layer_norm forward and backward on (N, C)."""
    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.rand(N, C, device="cuda", generator=gen).requires_grad_()
    w = torch.rand(C, device="cuda", generator=gen).requires_grad_()
    b = torch.rand(C, device="cuda", generator=gen).requires_grad_()
    dout = torch.rand(N, C, device="cuda", generator=gen)
    with torch.no_grad():
        fwd = timer.time(lambda: F.layer_norm(x, (C,), w, b, 1e-5))
    # inp, weight, bias in; out, mean, rstd out
    report.line("layer_norm fwd", shape_name, N, fwd, (2 * N * C + 2 * N + 2 * C) * 4, 0)
    y = F.layer_norm(x, (C,), w, b, 1e-5)
    bwd = timer.time(lambda: torch.autograd.grad(y, (x, w, b), dout, retain_graph=True))
    # bench/kernels' bytes: dout, inp, mean, rstd, weight in, dinp, dweight,
    # dbias read and written. PyTorch writes the gradients without reading
    # them, so its real traffic is one (N, C) read less.
    report.line("layer_norm bwd", shape_name, N, bwd, (4 * N * C + 2 * N + 5 * C) * 4, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10, help="timed groups per op (default 10)")
    ap.add_argument("--shape", default="all", choices=["realistic", "padded", "all"])
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    if not torch.cuda.is_available():
        print("skipped: torch_kernels: no CUDA device")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch_kernels: torch {torch.__version__}, {torch.cuda.get_device_name()}, "
          f"cuDNN {torch.backends.cudnn.version()}")
    timer = Timer(args.reps)
    print(f"timing: {args.reps} groups per op of K back-to-back calls, K sized for groups of "
          f">= {MIN_GROUP_SECONDS * 1e3:.0f} ms, L2 flushed ({COPY_BYTES >> 20} MiB written) "
          f"before each group; times per call from CUDA events")
    report = Report(*measure_ceilings(timer))
    report.header()
    names = ["realistic", "padded"] if args.shape == "all" else [args.shape]
    for name in names:
        shape_name, texts, min_len, max_len = SHAPES[name]
        lengths = [row_length(r, min_len, max_len) for r in range(texts)]
        bench_attention(timer, report, shape_name, lengths, torch.float32)
        bench_attention(timer, report, shape_name, lengths, torch.bfloat16)
        bench_layernorm(timer, report, shape_name, sum(lengths))
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
