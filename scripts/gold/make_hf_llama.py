#!/usr/bin/python3
"""Writes test/fixtures/gold/hf-llama/: a tiny random Llama as Hugging Face's LlamaForCausalLM.save_pretrained lays
it out with a sharded index (3 shards), its own BPE tokenizer.json, a text, and PyTorch's loss on that text — for
`hydra eval` (see README.md here).

    /usr/bin/python3 scripts/gold/make_hf_llama.py [OUT_DIR]

The tokenizer is trained here (plain BPE over the Whitespace pre-tokenizer's words, 120 merges) and applied here by
our own BPE encoder, independently of the JavaScript library the engine uses; expected.json records the ids, so the
test shows both that the library tokenizes as this script does and that the model gives PyTorch's loss."""
import collections
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_torch import Llama, hf_config, hf_state, llama_init_, perturb_norms_  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "test", "fixtures", "gold", "hf-llama")
SOURCE = os.path.join(REPO, "examples", "data", "wikitext-tiny-train.txt")
N_CTX, MERGES, SEED = 32, 120, 2468
# The Whitespace pre-tokenizer's pattern; ASCII text, so Python's and JavaScript's \w agree.
WORDS = re.compile(r"\w+|[^\w\s]+", re.ASCII)


def make_text():
    raw = open(SOURCE, encoding="utf-8").read()[:6000]
    text = raw.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    return "".join(ch for ch in text if ch == "\n" or 32 <= ord(ch) < 127)


def train_bpe(words):
    counts = collections.Counter(words)
    seqs = {w: list(w) for w in counts}
    merges = []
    for _ in range(MERGES):
        pairs = collections.Counter()
        for w, s in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += counts[w]
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for w, s in seqs.items():
            seqs[w] = apply_merge(s, best)
    return merges


def apply_merge(s, pair):
    out, i = [], 0
    while i < len(s):
        if i + 1 < len(s) and (s[i], s[i + 1]) == pair:
            out.append(s[i] + s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return out


def encode_word(word, ranks):
    """HF BPE: repeatedly merge the adjacent pair of lowest rank (leftmost on a tie)."""
    s = list(word)
    while len(s) > 1:
        best = min(range(len(s) - 1), key=lambda i: (ranks.get((s[i], s[i + 1]), 1 << 30), i))
        if (s[best], s[best + 1]) not in ranks:
            break
        s = s[:best] + [s[best] + s[best + 1]] + s[best + 2:]
    return s


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    text = make_text()
    # HF tokenizers match added tokens ("<unk>", which WikiText text contains) before pre-tokenizing the rest.
    pieces = [p for p in re.split(r"(<unk>)", text) if p]
    words = [w for p in pieces if p != "<unk>" for w in WORDS.findall(p)]
    merges = train_bpe(words)
    vocab = {"<unk>": 0}
    for ch in sorted(set("".join(words))):
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    ranks = {m: r for r, m in enumerate(merges)}
    ids = [i for p in pieces for i in ([0] if p == "<unk>" else [vocab[t] for w in WORDS.findall(p) for t in encode_word(w, ranks)])]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    cfg = {"n_layer": 2, "n_head": 4, "n_kv_head": 2, "n_embd": 32, "head_dim": 8, "intermediate_size": 64,
           "n_ctx": N_CTX, "vocab_size": len(vocab), "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie": False}
    g = torch.Generator().manual_seed(SEED)
    model = Llama(cfg)
    llama_init_(model, g, 0.2)
    perturb_norms_(model, g)
    params = {n: p.detach().numpy().astype(np.float32) for n, p in model.named_parameters()}

    # Loss as `hydra eval` computes it: non-overlapping blocks of N_CTX, targets shifted by one, mean over all.
    n_blocks = (len(ids) - 1) // N_CTX
    seq = torch.tensor(ids[: n_blocks * N_CTX + 1])
    tokens = torch.stack([seq[b * N_CTX:(b + 1) * N_CTX] for b in range(n_blocks)])
    targets = torch.stack([seq[b * N_CTX + 1:(b + 1) * N_CTX + 1] for b in range(n_blocks)])
    m64 = Llama(cfg).double().eval()
    with torch.no_grad():
        for n, p in m64.named_parameters():
            p.copy_(torch.from_numpy(params[n].astype(np.float64)))
        logits = m64(tokens)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()

    state = hf_state(params)
    names = sorted(state)
    shards = [names[k::3] for k in range(3)]
    weight_map = {}
    for k, part in enumerate(shards):
        file = f"model-{k + 1:05d}-of-00003.safetensors"
        write_safetensors(os.path.join(OUT, file), {n: state[n] for n in part}, {"format": "pt"})
        weight_map.update({n: file for n in part})
    index = {"metadata": {"total_size": int(sum(a.nbytes for a in state.values()))}, "weight_map": dict(sorted(weight_map.items()))}
    files = {"model.safetensors.index.json": index, "config.json": hf_config(cfg), "tokenizer.json": tokenizer,
             "expected.json": {"n_ctx": N_CTX, "blocks": n_blocks, "loss": loss, "ids": ids,
                               "precision": "float64 computation from the float32 weights", "torch_version": torch.__version__}}
    for name, obj in files.items():
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, indent=None if name in ("tokenizer.json", "expected.json") else 2, sort_keys=name == "config.json")
            f.write("\n")
    with open(os.path.join(OUT, "text.txt"), "w") as f:
        f.write(text)
    print(json.dumps({"vocab": len(vocab), "tokens": len(ids), "blocks": n_blocks, "loss": loss}))


if __name__ == "__main__":
    main()
