#!/usr/bin/python3
"""Independent check (numpy only, no transformers) that a directory written by saveHfGpt2 is what Hugging Face's
GPT2LMHeadModel.from_pretrained expects: config.json fields, model.safetensors metadata {"format": "pt"}, the
`transformer.`-prefixed names with GPT2's Conv1D (in, out) shapes, lm_head.weight only for untied heads, a
contiguous gap-free byte buffer, and finite float32 values.

    /usr/bin/python3 scripts/check_hf_layout.py DIR [--compare OTHER.safetensors]

--compare checks that every tensor equals the same-named tensor (prefix ignored) of another safetensors file
bit for bit. Exit status 0 when everything holds, 1 with a list of problems otherwise."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    spans.sort()
    return meta, tensors, spans, len(data), (8 + n) % 8


def expected_shapes(cfg):
    C, V, T, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C),
              "transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,)}
    for i in range(L):
        p = f"transformer.h.{i}."
        shapes.update({
            p + "ln_1.weight": (C,), p + "ln_1.bias": (C,), p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
            p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
            p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
            p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
            p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,),
        })
    if not cfg.get("tie_word_embeddings", True):
        shapes["lm_head.weight"] = (V, C)
    return shapes


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    d = argv[1]
    problems = []
    cfg = json.load(open(f"{d}/config.json"))
    for key, want in [("model_type", "gpt2"), ("architectures", ["GPT2LMHeadModel"]), ("activation_function", "gelu_new"),
                      ("layer_norm_epsilon", 1e-5)]:
        if cfg.get(key) != want:
            problems.append(f"config.json: {key} = {cfg.get(key)!r}, expected {want!r}")
    for key in ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size"]:
        if not isinstance(cfg.get(key), int):
            problems.append(f"config.json: {key} missing or not an integer")
    if problems:
        print("\n".join(problems))
        return 1
    meta, tensors, spans, data_len, misalign = read_safetensors(f"{d}/model.safetensors")
    if meta.get("format") != "pt":
        problems.append(f"__metadata__.format = {meta.get('format')!r}; transformers requires 'pt'")
    if misalign:
        problems.append("byte buffer does not start 8-byte aligned")
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            problems.append(f"{name}: starts at {begin}, previous tensor ended at {pos}")
        pos = end
    if pos != data_len:
        problems.append(f"byte buffer has {data_len - pos} unindexed trailing bytes")
    if [s[2] for s in spans] != sorted(tensors):
        problems.append("tensors are not stored in sorted-name order")
    want = expected_shapes(cfg)
    for name in sorted(set(want) - set(tensors)):
        problems.append(f"missing {name} {want[name]}")
    for name in sorted(set(tensors) - set(want)):
        problems.append(f"unexpected {name}")
    for name in sorted(set(want) & set(tensors)):
        t = tensors[name]
        if tuple(t.shape) != want[name]:
            problems.append(f"{name}: shape {tuple(t.shape)}, expected {want[name]}")
        if t.dtype != np.float32:
            problems.append(f"{name}: dtype {t.dtype}, expected float32")
        if not np.isfinite(t).all():
            problems.append(f"{name}: contains NaN or Inf")
    if "--compare" in argv:
        other = read_safetensors(argv[argv.index("--compare") + 1])[1]
        strip = lambda n: n[len("transformer."):] if n.startswith("transformer.") else n
        other = {strip(k): v for k, v in other.items()}
        for name, t in tensors.items():
            o = other.get(strip(name))
            if o is None or o.shape != t.shape or o.astype(np.float32).tobytes() != t.tobytes():
                problems.append(f"{name}: differs from --compare file")
    if problems:
        print("\n".join(problems))
        return 1
    n_params = sum(t.size for t in tensors.values())
    print(f"OK: {len(tensors)} tensors, {n_params} parameters, tie_word_embeddings={cfg.get('tie_word_embeddings', True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
