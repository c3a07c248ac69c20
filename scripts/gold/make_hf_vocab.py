#!/usr/bin/python3
"""Writes test/fixtures/gold/hf-gpt2-vocab/: a tiny random GPT-2 with the real GPT-2 vocabulary (50257) and a
64-token context, in Hugging Face layout with float16 weights (1.6 MB), so `hydra eval` can run it on real
WikiText text tokenized with the GPT-2 tokenizer:

    /usr/bin/python3 scripts/gold/make_hf_vocab.py [OUT_DIR]
    npx hydra eval --model test/fixtures/gold/hf-gpt2-vocab --data ../shared/data/wikitext-2/test.txt --n-ctx 64
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import Gpt2, gpt2_init_  # noqa: E402
from make_hf_tiny import hf_config  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "hf-gpt2-vocab")
CFG = {"n_layer": 1, "n_head": 2, "n_embd": 16, "n_ctx": 64, "vocab_size": 50257, "dropout": 0.0, "tie": True}


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(2468)
    model = Gpt2(CFG)
    gpt2_init_(model, g, 0.02)
    state = {f"transformer.{n}": p.detach().numpy().astype(np.float16) for n, p in model.named_parameters()}
    write_safetensors(os.path.join(OUT, "model.safetensors"), state, {"format": "pt"})
    cfg = hf_config(CFG)
    cfg["torch_dtype"] = "float16"
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
