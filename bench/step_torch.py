#!/usr/bin/python3
"""PyTorch peer of `npm run bench:step`: time full training steps of the same GPT-2 (or Llama) on the CPU.

    /usr/bin/python3 bench/step_torch.py --threads 1 [--steps 5] [--warmup 2] [model shape options]

One step = zero_grad, forward, mean cross-entropy, backward, AdamW step (lr 3e-4, weight decay 0.1 on >= 2-dim
parameters). The model is scripts/gold/gpt2_torch.py's, the same parameters and arithmetic as hydra-dl's GPT-2.
Default shape: GPT-mini (vocab 50257, n_ctx 256, 4 layers, 4 heads, n_embd 256, batch 8, T = n_ctx, untied head,
dropout 0). `--family llama` times scripts/gold/llama_torch.py's Llama instead (--n-kv-head, --intermediate,
--rope-theta; --tie ties its head). Prints ONE JSON line on stdout:
    {"threads", "step_s_median", "step_s_all", "tokens_per_s", "torch_version", "loss_first", "loss_last", ...}
(plus step_s_min, the config, the parameter count and the 1-minute load average before and after).
If torch cannot be imported it prints {"error": "torch not available: <reason>"} and exits 0."""
import argparse
import json
import os
import sys
import time

from torch_common import (adamw, add_llama_args, add_model_args, build_model, check_model_args, load_torch,
                          model_config, train_step)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_args(p, n_ctx=256, n_layer=4, n_head=4, n_embd=256, batch=8, seq=None, dropout=0.0)
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--tie", action="store_true", help="tie the head to wte (default untied)")
    add_llama_args(p)
    a = check_model_args(p, p.parse_args(argv), positive=("steps",))
    if a.warmup < 0:
        p.error(f"--warmup must be >= 0, got {a.warmup}")
    return a


def main(argv):
    a = parse_args(argv)
    torch = load_torch(a.threads)
    if torch is None:
        return 0
    torch.manual_seed(a.seed)
    cfg = model_config(a, tie=a.tie)
    model = build_model(torch, a, cfg)
    model.train()
    opt = adamw(model)
    data = torch.Generator().manual_seed(a.seed + 1)

    losses, times = [], []
    load_before = os.getloadavg()[0]
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(train_step(model, opt, torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=data)))
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    s = sorted(times)
    median = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    print(json.dumps({
        "threads": a.threads, "torch_threads": torch.get_num_threads(), "step_s_median": median,
        "step_s_min": s[0], "step_s_all": times,
        "tokens_per_s": a.batch * a.seq / median, "torch_version": torch.__version__,
        "loss_first": losses[0], "loss_last": losses[-1],
        "config": dict(cfg, batch=a.batch, seq=a.seq), "warmup": a.warmup, "steps": a.steps,
        "params": sum(p.numel() for p in model.parameters()),
        # the CPU is shared: a load average above the thread count means the figures are contended
        "load_avg_1m_before": load_before, "load_avg_1m_after": os.getloadavg()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
