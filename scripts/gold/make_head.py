#!/usr/bin/python3
"""Writes test/fixtures/gold/head/: the fused LM head + cross-entropy's gold answers (see README.md here).

    /usr/bin/python3 scripts/gold/make_head.py [OUT_DIR]

The head alone, in float64 PyTorch: hidden states x (N, C) and a weight W (V, C), both float32 values; logits = x @ W^T,
mean cross-entropy over the targets that count (ignore_index -100; hydra-dl ignores any target < 0, written here as
-1). Saved: the inputs, the loss, dloss/dW and the hidden-state gradient dloss/dx, cast to float32. The shape is chosen
so that the engine's chunking matters: 111 rows (not a multiple of the chunk sizes the test uses), a vocabulary of 500.
Deterministic: fixed seed, one thread."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "head")

N, C, V = 111, 16, 500
SEED = 4321
IGNORED = [5, 50, 110]  # rows whose target is ignored


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(SEED)
    x32 = torch.randn(N, C, generator=g, dtype=torch.float32)
    w32 = (torch.randn(V, C, generator=g, dtype=torch.float32) * 0.5)
    targets = torch.randint(0, V, (N,), generator=g)
    for r in IGNORED:
        targets[r] = -100
    x = x32.to(torch.float64).requires_grad_(True)
    w = w32.to(torch.float64).requires_grad_(True)
    loss = F.cross_entropy(x @ w.t(), targets, ignore_index=-100)
    loss.backward()
    os.makedirs(OUT, exist_ok=True)
    f32 = lambda t: t.detach().to(torch.float32).numpy()  # noqa: E731
    write_safetensors(os.path.join(OUT, "head.safetensors"), {
        "x": f32(x), "weight": f32(w), "grad.x": f32(x.grad), "grad.weight": f32(w.grad),
    })
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"N": N, "C": C, "V": V, "loss": loss.item(),
                   "targets": [int(t) if t >= 0 else -1 for t in targets.tolist()]}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
