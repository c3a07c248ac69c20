#!/usr/bin/python3
"""Writes test/fixtures/gold/hf-tiny/: a tiny random GPT-2 as Hugging Face's GPT2LMHeadModel.save_pretrained lays
it out (see README.md here), for the loader test.

    /usr/bin/python3 scripts/gold/make_hf_tiny.py [OUT_DIR]

config.json is what transformers writes for GPT2Config(vocab_size=101, n_positions=32, n_embd=48, n_layer=2,
n_head=4) (sorted keys, HF's default dropouts 0.1 and bos/eos 50256 included). model.safetensors holds float32
parameters with the `transformer.` prefix plus the buffers older transformers versions saved — `h.{i}.attn.bias`
(the causal mask, BOOL (1,1,n_ctx,n_ctx)) and `h.{i}.attn.masked_bias` (scalar -1e4) — which a loader must skip.
model-f16.safetensors is the same model rounded to float16 (the mask stays BOOL). expected.json holds a fixed batch
and the mean cross-entropy of each file's weights, expected.safetensors their logits (B,T,V), all computed in
float64 in eval mode (no dropout)."""
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_torch import Gpt2, gpt2_init_, perturb_  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "hf-tiny")

CFG = {"n_layer": 2, "n_head": 4, "n_embd": 48, "n_ctx": 32, "vocab_size": 101, "dropout": 0.0, "tie": True}
B, T = 2, 32
SEED_INIT, SEED_BATCH = 4321, 8765
# Ten times GPT-2's init scale: logits far from uniform, so the loss and logits react to every weight a loader
# could misplace (at std 0.02 this tiny model's loss is within 0.2% of ln(vocab) whatever its weights).
INIT_STD = 0.2


def hf_config(cfg):
    """GPT2Config(...).save_pretrained's config.json (transformers 4.30 era, which still wrote n_ctx)."""
    return {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
        "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": cfg["n_ctx"], "n_embd": cfg["n_embd"],
        "n_head": cfg["n_head"], "n_inner": None, "n_layer": cfg["n_layer"], "n_positions": cfg["n_ctx"],
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "tie_word_embeddings": cfg["tie"], "torch_dtype": "float32", "transformers_version": "4.30.2",
        "use_cache": True, "vocab_size": cfg["vocab_size"],
    }


def hf_state(params, dtype):
    """{transformer.<name>: array} in `dtype`, plus the attention buffers old GPT2LMHeadModel checkpoints carry."""
    state = {f"transformer.{n}": a.astype(dtype) for n, a in params.items()}
    mask = np.tril(np.ones((CFG["n_ctx"], CFG["n_ctx"]), dtype=bool)).reshape(1, 1, CFG["n_ctx"], CFG["n_ctx"])
    for i in range(CFG["n_layer"]):
        state[f"transformer.h.{i}.attn.bias"] = mask
        state[f"transformer.h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=dtype)
    return state


def float64_forward(model, params, tokens, targets):
    """(logits as float32 numpy, mean cross-entropy) with `params` (numpy, any float dtype) loaded exactly into a
    float64 copy of `model`."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(torch.from_numpy(params[n].astype(np.float64)))
        logits, loss = m.loss(tokens, targets)
    return logits.to(torch.float32).numpy(), loss.item()


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(SEED_INIT)
    model = Gpt2(CFG)
    gpt2_init_(model, g, INIT_STD)
    perturb_(model, g)  # LayerNorm/bias values not all 1/0, so a loader mixing them up changes the loss
    params = {n: p.detach().numpy().astype(np.float32) for n, p in model.named_parameters()}
    half = {n: a.astype(np.float16) for n, a in params.items()}

    seq = torch.randint(0, CFG["vocab_size"], (B, T + 1), generator=torch.Generator().manual_seed(SEED_BATCH))
    tokens, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    logits, loss = float64_forward(model, params, tokens, targets)
    logits_f16, loss_f16 = float64_forward(model, half, tokens, targets)
    expected = {
        "B": B, "T": T, "tokens": tokens.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "loss": loss,
        "loss_f16": loss_f16,
        "precision": "float64 computation; loss/logits from model.safetensors (F32), loss_f16/logits_f16 from "
                     "model-f16.safetensors (its F16 values, exactly widened); logits saved cast to float32",
        "dropout": "none: eval mode (config.json carries HF's default pdrops 0.1; load with dropout 0 to compare)",
        "torch_version": torch.__version__,
    }
    write_safetensors(os.path.join(OUT, "model.safetensors"), hf_state(params, np.float32), {"format": "pt"})
    write_safetensors(os.path.join(OUT, "model-f16.safetensors"), hf_state(half, np.float16), {"format": "pt"})
    write_safetensors(os.path.join(OUT, "expected.safetensors"), {"logits": logits, "logits_f16": logits_f16},
                      {"made_by": f"scripts/gold/make_hf_tiny.py, torch {torch.__version__}"})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(hf_config(CFG), f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    for name, want in (("model.safetensors", params), ("model-f16.safetensors", half)):
        meta, got = read_safetensors(os.path.join(OUT, name))
        assert meta == {"format": "pt"} and all(np.array_equal(got[f"transformer.{n}"], a) for n, a in want.items())
    print(json.dumps({k: expected[k] for k in ("loss", "loss_f16")}))


if __name__ == "__main__":
    main()
