#!/usr/bin/python3
"""PyTorch side of `npm run bench:paper`: the grid trained one model after another, as a user would without Hydra.

    /usr/bin/python3 bench/paper_torch.py MANIFEST.json

The manifest (written by bench/paper.ts) gives the model shape, the threads, the AdamW and clipping settings and,
per model, its name, learning rate, B, T, steps and a file of int32 tokens (steps x B x T) followed by as many int32
targets: the very batches hydra-dl trains that model on. Each model is built, initialised (GPT-2 init, seeded) and
trained in turn: zero_grad, forward, mean cross-entropy, backward, clip_grad_norm_, AdamW step. The model is
scripts/gold/gpt2_torch.py's (hydra-dl's GPT-2 arithmetic, tied head). Prints ONE JSON line on stdout:
    {"torch_version", "threads", "seconds", "models": [{"name", "seconds", "train_seconds", "losses"}], ...}
where seconds run from after `import torch` to the last model's last step (build, init and training of every model).
Progress goes to stderr. If torch cannot be imported it prints {"error": "torch not available: <reason>"} and exits 0."""
import json
import os
import sys
import time


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        manifest = json.load(f)
    threads = int(manifest["threads"])
    # Thread counts must be in the environment before torch (and its BLAS/OpenMP) load.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "gold"))
        from gpt2_torch import Gpt2, adamw, gpt2_init_
    except Exception as e:  # ImportError, or a broken install raising something else
        print(json.dumps({"error": f"torch not available: {type(e).__name__}: {e}"}))
        return 0
    torch.set_num_threads(threads)
    cfg = dict(manifest["model"], tie=True)
    opt_cfg = manifest["optimizer"]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = []
    for m in manifest["models"]:
        start = time.perf_counter()
        B, T, steps = m["B"], m["T"], m["steps"]
        raw = open(m["tokens_file"], "rb").read()
        data = torch.frombuffer(bytearray(raw), dtype=torch.int32).to(torch.long).reshape(2, steps, B, T)
        torch.manual_seed(m["seed"])
        model = Gpt2(cfg)
        gpt2_init_(model, torch.Generator().manual_seed(m["seed"]))
        model.train()
        opt = adamw(model, lr=m["lr"], betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"], weight_decay=opt_cfg["weight_decay"])
        train_start = time.perf_counter()
        losses = []
        for s in range(steps):
            opt.zero_grad(set_to_none=True)
            _, loss = model.loss(data[0, s], data[1, s])
            loss.backward()
            if manifest["clip_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), manifest["clip_norm"])
            opt.step()
            losses.append(loss.item())
        end = time.perf_counter()
        results.append({"name": m["name"], "seconds": end - start, "train_seconds": end - train_start, "losses": losses})
        print(f"pytorch {m['name']}: {end - start:.1f} s, loss {losses[0]:.4f} -> {losses[-1]:.4f}", file=sys.stderr, flush=True)
        del model, opt
    print(json.dumps({
        "torch_version": torch.__version__, "threads": threads, "torch_threads": torch.get_num_threads(),
        "seconds": time.perf_counter() - t0, "models": results,
        "params": sum(p.numel() for p in Gpt2(cfg).parameters()),
        # the CPU is shared: a load average above the thread count means the figures are contended
        "load_avg_1m_before": load_before, "load_avg_1m_after": os.getloadavg()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
