"""The gold fixtures' recipe, shared by make_tiny.py (GPT-2) and make_llama_tiny.py (Llama): the training run whose
answers are recorded and the files a fixture folder holds (see README.md here).

Float32 initial weights; every expected value is computed in float64 from those float32 weights and saved cast to
float32 (the float32 PyTorch run is only a diagnostic, recorded in expected.json as `torch_float32_vs_float64`, to
show how close a correct float32 engine can get); 10 clipped AdamW steps on one batch."""
import copy
import json
import os

import numpy as np
import torch

from gpt2_torch import adamw
from safetensors_io import read_safetensors, write_safetensors

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED_INIT, SEED_BATCH = 1234, 5678
TRAIN = {"optimizer": "adamw", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-6, "weight_decay": 0.1,
         "decay_rule": "params with >= 2 dims decay; biases and LN weights do not",
         "clip_norm": 1.0, "steps": 10, "schedule": "constant lr, no warm-up", "batch": "the same batch every step"}


def deterministic():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def make_batch(vocab_size, B, T):
    seq = torch.randint(0, vocab_size, (B, T + 1), generator=torch.Generator().manual_seed(SEED_BATCH))
    return seq[:, :-1].contiguous(), seq[:, 1:].contiguous()


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


def _write_json(path, obj, **kw):
    with open(path, "w") as f:
        json.dump(obj, f, **kw)
        f.write("\n")


def write_fixture(out, model32, tokens, targets, *, stored, config, made_by, sort_config_keys=False):
    """Run the recipe on `model32` (float32, eval mode) and write the fixture folder `out`: model.safetensors (the
    initial weights under the names `stored(params)` gives them), config.json (`config`), batch.json,
    expected.safetensors (float64 logits, gradients and final weights cast to float32) and expected.json (losses,
    norms, the float32 diagnostic); then read the files back and compare bit for bit. Returns expected.json's data."""
    os.makedirs(out, exist_ok=True)
    B, T = tokens.shape
    gold = run(copy.deepcopy(model32).double(), tokens, targets)
    diag = run(model32, tokens, targets)

    params = {n: f32(p) for n, p in model32.named_parameters()}
    weights = stored(params)
    write_safetensors(os.path.join(out, "model.safetensors"), weights, {"format": "pt"})
    expected = {"logits": f32(gold["logits"])}
    expected.update({f"grad.{n}": f32(g) for n, g in gold["grads"].items()})
    expected.update({f"final.{n}": f32(p) for n, p in gold["final"].items()})
    write_safetensors(os.path.join(out, "expected.safetensors"), expected,
                      {"made_by": f"{made_by}, torch {torch.__version__}", "precision": "float64 cast to float32"})
    _write_json(os.path.join(out, "config.json"), config, indent=2, sort_keys=sort_config_keys)
    _write_json(os.path.join(out, "batch.json"), {"B": B, "T": T, "tokens": tokens.reshape(-1).tolist(),
                                                  "targets": targets.reshape(-1).tolist()})
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
    _write_json(os.path.join(out, "expected.json"), summary, indent=2)
    _check(out, weights, expected)
    print(out, json.dumps({k: summary[k] for k in ("loss", "grad_norm_step0")}), "norms", [round(n, 3) for n in gold["norms"]])
    print("  losses", [round(l, 4) for l in gold["losses"]], "float32 vs float64", json.dumps(diagnostics))
    return summary


def _check(out, weights, expected):
    """Read the files back and compare bit for bit with what was meant to be written."""
    _, model = read_safetensors(os.path.join(out, "model.safetensors"))
    _, exp = read_safetensors(os.path.join(out, "expected.safetensors"))
    assert sorted(model) == sorted(weights) and all(np.array_equal(model[n], a) for n, a in weights.items())
    assert sorted(exp) == sorted(expected) and all(np.array_equal(exp[n], a) for n, a in expected.items())
