#!/usr/bin/env python3
"""The training step of bench/step in PyTorch, for a side-by-side ratio.

One step: encode the batch's unique texts with transformers'
CLIPTextModelWithProjection, cosine similarity of each pair, loss
mean((target - cos)^2) + lambda * MSE(E, E0), backward, clip_grad_norm_(1.0),
AdamW (decay on weight matrices only, as libclipt does). Token rows are padded
to the longest row of the batch (PyTorch's best realistic setting) or to 77.

    build/bench/step --preset small --pairs 256 --write-batch /tmp/batch.txt
    python3 bench/torch_step.py --preset small --batch /tmp/batch.txt --threads 2

Prints one line per mode (eager and torch.compile, padded to the longest and
to 77) with the same fields as bench/step: ms/step median, texts/s, tokens/s
and peak resident memory.
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import CLIPTextConfig, CLIPTextModelWithProjection

PRESETS = {
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  intermediate_size=1024, projection_dim=256),
    "vit-b-32": dict(hidden_size=512, num_hidden_layers=12, num_attention_heads=8,
                     intermediate_size=2048, projection_dim=512),
}


def read_batch(path):
    with open(path) as f:
        assert f.readline().split() == ["clipt-step-batch", "1"], "not a bench/step batch file"
        U, T, N = map(int, f.readline().split())
        rows = []
        for _ in range(U):
            vals = list(map(int, f.readline().split()))
            rows.append(vals[1:vals[0] + 2])
        a, b, target = [], [], []
        for _ in range(N):
            x, y, t = f.readline().split()
            a.append(int(x)); b.append(int(y)); target.append(float(t))
    return rows, torch.tensor(a), torch.tensor(b), torch.tensor(target)


def pad(rows, width):
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    return ids


def make_model(preset, seed):
    torch.manual_seed(seed)
    cfg = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407,
                         **PRESETS[preset])
    model = CLIPTextModelWithProjection(cfg)
    model.train()
    return model


def run(model, ids, a, b, target, lam, steps, warmup, compiled):
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}], lr=1e-4)
    with torch.no_grad():
        E0 = model(input_ids=ids).text_embeds.detach() if lam > 0 else None

    def step():
        E = model(input_ids=ids).text_embeds
        cos = F.cosine_similarity(E[a], E[b], dim=-1, eps=1e-8)
        loss = ((target - cos) ** 2).mean()
        if E0 is not None:
            loss = loss + lam * F.mse_loss(E, E0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    fn = torch.compile(step) if compiled else step
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", required=True, help="batch file written by bench/step --write-batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lam", type=float, default=0.0, help="regulariser weight (default 0)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--modes", default="eager-longest,eager-77,compile-longest",
                    help="comma-separated: eager-longest, eager-77, compile-longest, compile-77")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows, a, b, target = read_batch(args.batch)
    real_tokens = sum(len(r) for r in rows)
    longest = max(len(r) for r in rows)
    print(f"torch {torch.__version__}, {args.threads} threads, {len(rows)} texts, {len(a)} pairs, "
          f"{real_tokens} real tokens, longest row {longest}")
    for mode in args.modes.split(","):
        kind, width = mode.split("-")
        width = longest if width == "longest" else 77
        model = make_model(args.preset, args.seed)
        ids = pad(rows, width)
        try:
            med, lo, hi = run(model, ids, a, b, target, args.lam, args.steps, args.warmup,
                              kind == "compile")
        except Exception as e:  # torch.compile needs a C++ toolchain and may fail
            print(f"pytorch step  preset {args.preset:<8} {mode:<16} failed: {type(e).__name__}: {e}")
            continue
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"pytorch step  preset {args.preset:<8} {mode:<16} ms/step median {med * 1e3:.1f} "
              f"(min {lo * 1e3:.1f}, max {hi * 1e3:.1f})  texts/s {len(rows) / med:.0f}  "
              f"tokens/s {real_tokens / med:.0f} (computed {len(rows) * width})  "
              f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
