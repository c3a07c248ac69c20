"""What the PyTorch peers of the benches (bench/*_torch.py) share: the model-shape options and their checks, loading
torch with the thread count set before its BLAS starts, and building hydra-dl's GPT-2 or Llama from
scripts/gold/ (the same parameters and arithmetic as hydra-dl's) with its initialisation.

A script imports this module from its own folder (bench/ is on sys.path when a script there runs)."""
import json
import os
import sys

GOLD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "gold")


def add_model_args(p, *, n_ctx, n_layer, n_head, n_embd, batch, seq, dropout):
    """The shape options every peer takes; the defaults are the caller's (each bench has its own default model)."""
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--n-ctx", type=int, default=n_ctx)
    p.add_argument("--n-layer", type=int, default=n_layer)
    p.add_argument("--n-head", type=int, default=n_head)
    p.add_argument("--n-embd", type=int, default=n_embd)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--seq", type=int, default=seq, help="tokens per row (default n_ctx)" if seq is None else None)
    p.add_argument("--dropout", type=float, default=dropout)
    p.add_argument("--seed", type=int, default=0)


def add_llama_args(p):
    """`--family llama` and Llama's own shape options."""
    p.add_argument("--family", choices=("gpt2", "llama"), default="gpt2")
    p.add_argument("--n-kv-head", type=int, default=None, help="llama: key/value heads (default n_head)")
    p.add_argument("--intermediate", type=int, default=None, help="llama: SwiGLU width (default 4 * n_embd)")
    p.add_argument("--rope-theta", type=float, default=10000.0)


def check_model_args(p, a, positive=()):
    """Positive integers (the shape's and the caller's `positive`), seq in [1, n_ctx] (default n_ctx), dropout in
    [0, 1); errors name the option and the value."""
    for name in ("threads", "vocab", "n_ctx", "n_layer", "n_head", "n_embd", "batch", *positive):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(a, name)}")
    a.seq = a.seq or a.n_ctx
    if not 1 <= a.seq <= a.n_ctx:
        p.error(f"--seq must be in [1, n_ctx={a.n_ctx}], got {a.seq}")
    if not 0 <= a.dropout < 1:
        p.error(f"--dropout must be in [0, 1), got {a.dropout}")
    return a


def load_torch(threads):
    """torch with `threads` threads, or None after printing {"error": "torch not available: ..."} (the caller exits
    0: a missing torch is a missing column, not a failed bench). Thread counts must be in the environment before
    torch (and its BLAS/OpenMP) load."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch
        if GOLD_DIR not in sys.path:
            sys.path.insert(0, GOLD_DIR)
        import gpt2_torch  # noqa: F401  (checked here so a broken install is reported once, as unavailable)
        import llama_torch  # noqa: F401
    except Exception as e:  # ImportError, or a broken install raising something else
        print(json.dumps({"error": f"torch not available: {type(e).__name__}: {e}"}))
        return None
    torch.set_num_threads(threads)
    return torch


def model_config(a, tie):
    """The gold model's config from the options (`family` absent: GPT-2)."""
    if getattr(a, "family", "gpt2") == "llama":
        return {"n_layer": a.n_layer, "n_head": a.n_head, "n_kv_head": a.n_kv_head or a.n_head, "n_embd": a.n_embd,
                "head_dim": a.n_embd // a.n_head, "intermediate_size": a.intermediate or 4 * a.n_embd, "n_ctx": a.n_ctx,
                "vocab_size": a.vocab, "rope_theta": a.rope_theta, "rms_norm_eps": 1e-5, "tie": tie}
    return {"n_layer": a.n_layer, "n_head": a.n_head, "n_embd": a.n_embd, "n_ctx": a.n_ctx, "vocab_size": a.vocab,
            "dropout": a.dropout, "tie": tie}


def build_model(torch, a, cfg, timestamps=None):
    """The gold model of `cfg` (GPT-2 or Llama by `a.family`), initialised from `a.seed` as hydra-dl initialises.
    `timestamps`: a dict that gets 'built' (modules constructed) and 'initialised' (time.time())."""
    import time
    from gpt2_torch import Gpt2, gpt2_init_
    from llama_torch import Llama, llama_init_
    llama = getattr(a, "family", "gpt2") == "llama"
    model = Llama(cfg) if llama else Gpt2(cfg)
    if timestamps is not None:
        timestamps["built"] = time.time()
    (llama_init_ if llama else gpt2_init_)(model, torch.Generator().manual_seed(a.seed))
    if timestamps is not None:
        timestamps["initialised"] = time.time()
    return model


def train_step(model, opt, seq):
    """One training step on a (batch, T + 1) token batch: zero_grad, forward, mean cross-entropy, backward, AdamW;
    returns the loss."""
    opt.zero_grad(set_to_none=True)
    _, loss = model.loss(seq[:, :-1], seq[:, 1:])
    loss.backward()
    opt.step()
    return loss.item()


def adamw(model):
    """The benches' optimizer: AdamW lr 3e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0.1 on >= 2-dim parameters."""
    from gpt2_torch import adamw as gold_adamw
    return gold_adamw(model, lr=3e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
