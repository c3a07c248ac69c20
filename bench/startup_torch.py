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
import sys
import time

from torch_common import adamw, add_model_args, build_model, check_model_args, load_torch, model_config, train_step


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(p, n_ctx=1024, n_layer=24, n_head=16, n_embd=1024, batch=1, seq=128, dropout=0.1)
    return check_model_args(p, p.parse_args(argv))


def main(argv):
    started = time.time()
    a = parse_args(argv)
    torch = load_torch(a.threads)
    if torch is None:
        return 0
    imported = time.time()
    cfg = model_config(a, tie=True)
    t = {}
    model = build_model(torch, a, cfg, t)
    model.train()
    opt = adamw(model)
    seq = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=torch.Generator().manual_seed(a.seed + 1))
    loss_value = train_step(model, opt, seq)
    first_step = time.time()
    print(json.dumps({
        "threads": a.threads, "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "started": started, "imported": imported, "built": t["built"], "initialised": t["initialised"],
        "first_step": first_step, "loss": loss_value, "params": sum(p.numel() for p in model.parameters()),
        "config": dict(cfg, batch=a.batch, seq=a.seq),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
