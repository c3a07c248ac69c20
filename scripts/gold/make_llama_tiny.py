#!/usr/bin/python3
"""Writes test/fixtures/gold/llama-tiny/{tied,untied}/: the Llama gold test's models (grouped-query attention,
n_kv_head < n_head), batch and PyTorch's answers, in Hugging Face's LlamaForCausalLM layout (see README.md here).

    /usr/bin/python3 scripts/gold/make_llama_tiny.py [OUT_DIR]

Same recipe as make_tiny.py (GPT-2): float32 initial weights; every expected value computed in float64 from them and
saved cast to float32; 10 clipped AdamW steps on one batch."""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import adamw  # noqa: E402
from llama_torch import Llama, hf_config, hf_state, llama_init_, perturb_norms_  # noqa: E402
from make_tiny import TRAIN, f32, rel_error, run  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "llama-tiny")

# head_dim 8 (4 rotary pairs), 4 query heads over 2 kv heads; rope_theta 100 so the 13 positions turn by whole radians.
BASE = {"n_layer": 2, "n_head": 4, "n_kv_head": 2, "n_embd": 32, "head_dim": 8, "intermediate_size": 48, "n_ctx": 16,
        "vocab_size": 67, "rope_theta": 100.0, "rms_norm_eps": 1e-5}
B, T = 3, 13
SEED_INIT, SEED_BATCH = 1234, 5678
# A larger init than HF's 0.02: at 0.02 this tiny model's logits are nearly uniform and its gradients tiny.
INIT_STD = 0.1


def make(cfg, out):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(SEED_INIT)
    model32 = Llama(cfg)
    llama_init_(model32, g, INIT_STD)
    perturb_norms_(model32, g)
    model32.eval()
    seq = torch.randint(0, cfg["vocab_size"], (B, T + 1), generator=torch.Generator().manual_seed(SEED_BATCH))
    tokens, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    gold = run(copy.deepcopy(model32).double(), tokens, targets)
    diag = run(model32, tokens, targets)

    params = {n: f32(p) for n, p in model32.named_parameters()}
    write_safetensors(os.path.join(out, "model.safetensors"), hf_state(params), {"format": "pt"})
    expected = {"logits": f32(gold["logits"])}
    expected.update({f"grad.{n}": f32(g) for n, g in gold["grads"].items()})
    expected.update({f"final.{n}": f32(p) for n, p in gold["final"].items()})
    write_safetensors(os.path.join(out, "expected.safetensors"), expected,
                      {"made_by": f"scripts/gold/make_llama_tiny.py, torch {torch.__version__}", "precision": "float64 cast to float32"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "batch.json"), "w") as f:
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
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    _, back = read_safetensors(os.path.join(out, "model.safetensors"))
    assert sorted(back) == sorted(hf_state(params)) and all(np.array_equal(back[k], a) for k, a in hf_state(params).items())
    print(out, json.dumps({k: summary[k] for k in ("loss", "grad_norm_step0")}), "norms", [round(n, 3) for n in gold["norms"]])
    print("  losses", [round(l, 4) for l in gold["losses"]], "float32 vs float64", json.dumps(diagnostics))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for tie in (True, False):
        make(dict(BASE, tie=tie), os.path.join(OUT, "tied" if tie else "untied"))


if __name__ == "__main__":
    main()
