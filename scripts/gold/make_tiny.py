#!/usr/bin/python3
"""Writes test/fixtures/gold/tiny/: the engine gold test's model, batch and PyTorch's answers (see README.md here).

    /usr/bin/python3 scripts/gold/make_tiny.py [OUT_DIR]

Deterministic: fixed seeds, one thread. The initial weights are float32; every expected value is computed in float64
from those float32 weights and saved cast to float32 (the float32 PyTorch run is only a diagnostic, recorded in
expected.json as `torch_float32_vs_float64`, to show how close a correct float32 engine can get)."""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import Gpt2, adamw, gpt2_init_, perturb_  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "tiny")

CFG = {"n_layer": 2, "n_head": 2, "n_embd": 32, "n_ctx": 16, "vocab_size": 67, "dropout": 0.0, "tie": True}
B, T = 3, 13  # T < n_ctx on purpose: the last position rows of wpe get no gradient
SEED_INIT, SEED_BATCH = 1234, 5678
TRAIN = {"optimizer": "adamw", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.1,
         "decay_rule": "params with >= 2 dims decay; biases and LN weights do not",
         "clip_norm": 1.0, "steps": 10, "schedule": "constant lr, no warm-up", "batch": "the same batch every step"}


def hf_config(cfg):
    """One config.json for both readers: hydra-dl's Gpt2Config fields and Hugging Face's GPT2Config fields."""
    return {
        # hydra-dl Gpt2Config
        "n_layer": cfg["n_layer"], "n_head": cfg["n_head"], "n_embd": cfg["n_embd"], "n_ctx": cfg["n_ctx"],
        "vocab_size": cfg["vocab_size"], "dropout": cfg["dropout"], "tie": cfg["tie"],
        # Hugging Face GPT2Config
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
        "n_positions": cfg["n_ctx"], "n_inner": None, "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "resid_pdrop": cfg["dropout"], "embd_pdrop": cfg["dropout"], "attn_pdrop": 0.0,
        "scale_attn_weights": True, "tie_word_embeddings": cfg["tie"], "torch_dtype": "float32",
    }


def make_batch():
    g = torch.Generator().manual_seed(SEED_BATCH)
    seq = torch.randint(0, CFG["vocab_size"], (B, T + 1), generator=g)
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


def make_model():
    g = torch.Generator().manual_seed(SEED_INIT)
    model = Gpt2(CFG)
    gpt2_init_(model, g)
    perturb_(model, g)
    return model.eval()


def f32(t):
    return t.detach().to(torch.float32).numpy()


def run(model, tokens, targets):
    """Forward + backward at the initial weights, then TRAIN["steps"] clipped AdamW steps on the same batch."""
    model = copy.deepcopy(model)
    logits, loss = model.loss(tokens, targets)
    loss.backward()
    out = {"logits": logits.detach().clone(), "loss": loss.item(),
           "grads": {n: p.grad.detach().clone() for n, p in model.named_parameters()}}
    model.zero_grad(set_to_none=True)
    opt = adamw(model, TRAIN["lr"], tuple(TRAIN["betas"]), TRAIN["eps"], TRAIN["weight_decay"])
    losses, norms = [], []
    for _ in range(TRAIN["steps"]):
        opt.zero_grad(set_to_none=True)
        _, loss = model.loss(tokens, targets)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["clip_norm"]).item())
        losses.append(loss.item())  # computed before this step's update
        opt.step()
    out.update(losses=losses, norms=norms, final={n: p.detach().clone() for n, p in model.named_parameters()})
    return out


def rel_error(a, b):
    """max |a - b| / max |b| (the gold test's measure)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) or 1.0))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    tokens, targets = make_batch()
    model32 = make_model()
    gold = run(copy.deepcopy(model32).double(), tokens, targets)
    diag = run(model32, tokens, targets)

    params = {n: f32(p) for n, p in model32.named_parameters()}
    write_safetensors(os.path.join(OUT, "model.safetensors"), {f"transformer.{n}": a for n, a in params.items()},
                      {"format": "pt"})
    expected = {"logits": f32(gold["logits"])}
    expected.update({f"grad.{n}": f32(g) for n, g in gold["grads"].items()})
    expected.update({f"final.{n}": f32(p) for n, p in gold["final"].items()})
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected,
                      {"made_by": f"scripts/gold/make_tiny.py, torch {torch.__version__}", "precision": "float64 cast to float32"})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(hf_config(CFG), f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "batch.json"), "w") as f:
        json.dump({"B": B, "T": T, "tokens": tokens.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist()}, f)
        f.write("\n")
    diagnostics = {
        "logits": rel_error(f32(diag["logits"]), f32(gold["logits"])),
        "loss": abs(diag["loss"] - gold["loss"]) / gold["loss"],
        "grads_max": max(rel_error(f32(diag["grads"][n]), f32(g)) for n, g in gold["grads"].items()),
        "losses_max": max(abs(a - b) / b for a, b in zip(diag["losses"], gold["losses"])),
        "final_max": max(rel_error(f32(diag["final"][n]), f32(p)) for n, p in gold["final"].items()),
    }
    summary = {
        "precision": "float64 computation from the float32 weights in model.safetensors",
        "torch_version": torch.__version__,
        "loss": gold["loss"],
        "grad_norm_step0": gold["norms"][0],
        "train": dict(TRAIN, losses=gold["losses"], grad_norms_pre_clip=gold["norms"],
                      clipped_steps=sum(n > TRAIN["clip_norm"] for n in gold["norms"])),
        "torch_float32_vs_float64": diagnostics,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    check(OUT, params, expected)
    print(json.dumps({k: summary[k] for k in ("loss", "grad_norm_step0")}), json.dumps(summary["train"]["grad_norms_pre_clip"]))
    print("losses", summary["train"]["losses"])
    print("float32 vs float64", json.dumps(diagnostics))


def check(out, params, expected):
    """Read the files back and compare bit for bit with what was meant to be written."""
    _, model = read_safetensors(os.path.join(out, "model.safetensors"))
    _, exp = read_safetensors(os.path.join(out, "expected.safetensors"))
    assert sorted(model) == sorted(f"transformer.{n}" for n in params)
    assert all(np.array_equal(model[f"transformer.{n}"], a) for n, a in params.items())
    assert sorted(exp) == sorted(expected) and all(np.array_equal(exp[n], a) for n, a in expected.items())


if __name__ == "__main__":
    main()
