#!/usr/bin/python3
"""Writes test/fixtures/gold/tiny/: the engine gold test's model, batch and PyTorch's answers (see README.md here).

    /usr/bin/python3 scripts/gold/make_tiny.py [OUT_DIR]

Deterministic: fixed seeds, one thread; the recipe (float64 answers from float32 weights, 10 clipped AdamW steps)
is gold_fixture.py's, shared with make_llama_tiny.py."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gold_fixture import REPO, SEED_INIT, deterministic, make_batch, write_fixture  # noqa: E402
from gpt2_torch import Gpt2, gpt2_init_, perturb_  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "tiny")

CFG = {"n_layer": 2, "n_head": 2, "n_embd": 32, "n_ctx": 16, "vocab_size": 67, "dropout": 0.0, "tie": True}
B, T = 3, 13  # T < n_ctx on purpose: the last position rows of wpe get no gradient


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


def main():
    deterministic()
    g = torch.Generator().manual_seed(SEED_INIT)
    model32 = Gpt2(CFG)
    gpt2_init_(model32, g)
    perturb_(model32, g)
    tokens, targets = make_batch(CFG["vocab_size"], B, T)
    write_fixture(OUT, model32.eval(), tokens, targets, stored=lambda p: {f"transformer.{n}": a for n, a in p.items()},
                  config=hf_config(CFG), made_by="scripts/gold/make_tiny.py")


if __name__ == "__main__":
    main()
