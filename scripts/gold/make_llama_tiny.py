#!/usr/bin/python3
"""Writes test/fixtures/gold/llama-tiny/{tied,untied}/: the Llama gold test's models (grouped-query attention,
n_kv_head < n_head), batch and PyTorch's answers, in Hugging Face's LlamaForCausalLM layout (see README.md here).

    /usr/bin/python3 scripts/gold/make_llama_tiny.py [OUT_DIR]

Same recipe as make_tiny.py (GPT-2), gold_fixture.py's: float32 initial weights; every expected value computed in
float64 from them and saved cast to float32; 10 clipped AdamW steps on one batch."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gold_fixture import REPO, SEED_INIT, deterministic, make_batch, write_fixture  # noqa: E402
from llama_torch import Llama, hf_config, hf_state, llama_init_, perturb_norms_  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "llama-tiny")

# head_dim 8 (4 rotary pairs), 4 query heads over 2 kv heads; rope_theta 100 so the 13 positions turn by whole radians.
BASE = {"n_layer": 2, "n_head": 4, "n_kv_head": 2, "n_embd": 32, "head_dim": 8, "intermediate_size": 48, "n_ctx": 16,
        "vocab_size": 67, "rope_theta": 100.0, "rms_norm_eps": 1e-5}
B, T = 3, 13
# A larger init than HF's 0.02: at 0.02 this tiny model's logits are nearly uniform and its gradients tiny.
INIT_STD = 0.1


def make(cfg, out):
    g = torch.Generator().manual_seed(SEED_INIT)
    model32 = Llama(cfg)
    llama_init_(model32, g, INIT_STD)
    perturb_norms_(model32, g)
    tokens, targets = make_batch(cfg["vocab_size"], B, T)
    write_fixture(out, model32.eval(), tokens, targets, stored=hf_state, config=hf_config(cfg),
                  made_by="scripts/gold/make_llama_tiny.py", sort_config_keys=True)


def main():
    deterministic()
    for tie in (True, False):
        make(dict(BASE, tie=tie), os.path.join(OUT, "tied" if tie else "untied"))


if __name__ == "__main__":
    main()
