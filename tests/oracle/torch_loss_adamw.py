#!/usr/bin/env python3
"""Writes tests/fixtures/loss_adamw_torch.txt: the training loss and its
gradient computed with F.cosine_similarity + F.mse_loss, and three AdamW
steps with gradient clipping computed with torch.optim.AdamW and
torch.nn.utils.clip_grad_norm_, for tests/test_loss.c and
tests/test_optimizer.c.

Run with a Python that has torch (any 2.x):
    python3 tests/oracle/torch_loss_adamw.py
Every number is printed with 9 significant digits (exact for float32)."""
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "loss_adamw_torch.txt")


def fmt(t):
    return " ".join("%.9g" % v for v in t.detach().reshape(-1).tolist())


lines = ["clipt-fixture loss-adamw 1", "torch %s" % torch.__version__]

# ---- loss: U texts, N pairs (a repeated pair, a pair of one text with
# itself, and a zero vector), lambda > 0
U, P, N, lam = 6, 10, 9, 0.7
E = torch.randn(U, P)
E[5] = 0.0                      # a zero embedding: the norm clamps at 1e-8
E0 = E.detach() + 0.1 * torch.randn(U, P)
a = torch.tensor([0, 1, 2, 3, 4, 0, 2, 5, 1])
b = torch.tensor([1, 2, 3, 4, 0, 1, 2, 3, 5])
target = torch.rand(N)
E.requires_grad_(True)
cos = F.cosine_similarity(E[a], E[b], dim=-1, eps=1e-8)
dist = ((target - cos) ** 2).mean()
reg = F.mse_loss(E, E0)
loss = dist + lam * reg
loss.backward()
lines += ["loss_dims %d %d %d %.9g" % (U, P, N, lam),
          "E " + fmt(E), "E0 " + fmt(E0),
          "a " + " ".join(map(str, a.tolist())), "b " + " ".join(map(str, b.tolist())),
          "target " + fmt(target), "cos " + fmt(cos),
          "losses %.9g %.9g %.9g" % (loss.item(), dist.item(), reg.item()),
          "dE " + fmt(E.grad)]

# ---- AdamW: a decayed "weight" and a non-decayed "bias", 3 steps with
# clipping at max_norm 1.0 (the gradients are scaled so clipping is active
# in step 1 and not in step 3)
w = torch.randn(4, 3, requires_grad=True)
bias = torch.randn(5, requires_grad=True)
w0, b0 = w.detach().clone(), bias.detach().clone()
opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1},
                         {"params": [bias], "weight_decay": 0.0}],
                        lr=0.01, betas=(0.9, 0.95), eps=1e-8, foreach=False)
# lr, beta1, beta2, eps, weight decay, max grad norm, steps
lines += ["adamw_hparams 0.01 0.9 0.95 1e-8 0.1 1.0 3",
          "w0 " + fmt(w0), "b0 " + fmt(b0)]
for step, scale in enumerate([3.0, 1.0, 0.05]):
    gw = torch.randn(4, 3) * scale
    gb = torch.randn(5) * scale
    w.grad, bias.grad = gw.clone(), gb.clone()
    norm = torch.nn.utils.clip_grad_norm_([w, bias], 1.0)
    opt.step()
    lines += ["step %d" % (step + 1), "gw " + fmt(gw), "gb " + fmt(gb),
              "norm %.9g" % norm.item(), "w " + fmt(w), "b " + fmt(bias)]

with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote", os.path.normpath(OUT))
