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


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--n-ctx", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=None, help="tokens per row (default n_ctx)")
    p.add_argument("--tie", action="store_true", help="tie the head to wte (default untied)")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--family", choices=("gpt2", "llama"), default="gpt2")
    p.add_argument("--n-kv-head", type=int, default=None, help="llama: key/value heads (default n_head)")
    p.add_argument("--intermediate", type=int, default=None, help="llama: SwiGLU width (default 4 * n_embd)")
    p.add_argument("--rope-theta", type=float, default=10000.0)
    a = p.parse_args(argv)
    for name in ("threads", "steps", "vocab", "n_ctx", "n_layer", "n_head", "n_embd", "batch"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(a, name)}")
    if a.warmup < 0:
        p.error(f"--warmup must be >= 0, got {a.warmup}")
    a.seq = a.seq or a.n_ctx
    if not 1 <= a.seq <= a.n_ctx:
        p.error(f"--seq must be in [1, n_ctx={a.n_ctx}], got {a.seq}")
    if not 0 <= a.dropout < 1:
        p.error(f"--dropout must be in [0, 1), got {a.dropout}")
    return a


def main(argv):
    a = parse_args(argv)
    # Thread counts must be in the environment before torch (and its BLAS/OpenMP) load.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    try:
        import torch
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "gold"))
        from gpt2_torch import Gpt2, adamw, gpt2_init_
        from llama_torch import Llama, llama_init_
    except Exception as e:  # ImportError, or a broken install raising something else
        print(json.dumps({"error": f"torch not available: {type(e).__name__}: {e}"}))
        return 0
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.family == "llama":
        cfg = {"n_layer": a.n_layer, "n_head": a.n_head, "n_kv_head": a.n_kv_head or a.n_head, "n_embd": a.n_embd,
               "head_dim": a.n_embd // a.n_head, "intermediate_size": a.intermediate or 4 * a.n_embd, "n_ctx": a.n_ctx,
               "vocab_size": a.vocab, "rope_theta": a.rope_theta, "rms_norm_eps": 1e-5, "tie": a.tie}
        model = Llama(cfg)
        llama_init_(model, torch.Generator().manual_seed(a.seed))
    else:
        cfg = {"n_layer": a.n_layer, "n_head": a.n_head, "n_embd": a.n_embd, "n_ctx": a.n_ctx, "vocab_size": a.vocab,
               "dropout": a.dropout, "tie": a.tie}
        model = Gpt2(cfg)
        gpt2_init_(model, torch.Generator().manual_seed(a.seed))
    model.train()
    opt = adamw(model, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    data = torch.Generator().manual_seed(a.seed + 1)

    def step():
        seq = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=data)
        opt.zero_grad(set_to_none=True)
        _, loss = model.loss(seq[:, :-1], seq[:, 1:])
        loss.backward()
        opt.step()
        return loss.item()

    losses, times = [], []
    load_before = os.getloadavg()[0]
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(step())
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
