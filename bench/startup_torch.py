#!/usr/bin/python3
"""PyTorch peer of `npm run bench:startup`: the set-up of one GPT-2 up to its first training step, on the CPU.

    /usr/bin/python3 bench/startup_torch.py --threads 2 [model shape options]

Prints ONE JSON line on stdout with wall-clock timestamps (time.time(), seconds since the epoch), so the caller
can measure from the moment it started this process: imported (torch loaded), built (modules constructed, with
their default initialisation), initialised (GPT-2 init), first_step (zero_grad, forward, cross-entropy, backward,
AdamW step, loss read back). The model is scripts/gold/gpt2_torch.py's (hydra-dl's GPT-2 arithmetic).
If torch cannot be imported it prints {"error": "torch not available: <reason>"} and exits 0."""
import argparse
import json
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--n-ctx", type=int, default=1024)
    p.add_argument("--n-layer", type=int, default=24)
    p.add_argument("--n-head", type=int, default=16)
    p.add_argument("--n-embd", type=int, default=1024)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for name in ("threads", "vocab", "n_ctx", "n_layer", "n_head", "n_embd", "batch", "seq"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(a, name)}")
    if a.seq > a.n_ctx:
        p.error(f"--seq must be in [1, n_ctx={a.n_ctx}], got {a.seq}")
    return a


def main(argv):
    started = time.time()
    a = parse_args(argv)
    # Thread counts must be in the environment before torch (and its BLAS/OpenMP) load.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    try:
        import torch
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "gold"))
        from gpt2_torch import Gpt2, adamw, gpt2_init_
    except Exception as e:  # ImportError, or a broken install raising something else
        print(json.dumps({"error": f"torch not available: {type(e).__name__}: {e}"}))
        return 0
    torch.set_num_threads(a.threads)
    imported = time.time()
    cfg = {"n_layer": a.n_layer, "n_head": a.n_head, "n_embd": a.n_embd, "n_ctx": a.n_ctx, "vocab_size": a.vocab,
           "dropout": a.dropout, "tie": True}
    model = Gpt2(cfg)
    built = time.time()
    gpt2_init_(model, torch.Generator().manual_seed(a.seed))
    initialised = time.time()
    model.train()
    opt = adamw(model, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    seq = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=torch.Generator().manual_seed(a.seed + 1))
    opt.zero_grad(set_to_none=True)
    _, loss = model.loss(seq[:, :-1], seq[:, 1:])
    loss.backward()
    opt.step()
    loss_value = loss.item()
    first_step = time.time()
    print(json.dumps({
        "threads": a.threads, "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "started": started, "imported": imported, "built": built, "initialised": initialised, "first_step": first_step,
        "loss": loss_value, "params": sum(p.numel() for p in model.parameters()),
        "config": dict(cfg, batch=a.batch, seq=a.seq),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
