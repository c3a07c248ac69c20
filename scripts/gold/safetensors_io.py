"""Minimal safetensors writer/reader (numpy only; the `safetensors` package is not installed here).

Layout (huggingface/safetensors):
    [8 bytes]  N, little-endian u64
    [N bytes]  UTF-8 JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
               padded with trailing spaces so the byte buffer starts 8-byte aligned
    [rest]     the tensors' little-endian C-order bytes, contiguous, no gaps

Tensors are laid out as the safetensors library orders them: by element size, largest first, then by name. For a
file of one dtype that is plain sorted-name order; with mixed dtypes it keeps every tensor aligned to its size."""
import json
import struct

import numpy as np

DTYPE_NAMES = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
NAME_DTYPES = {v: k for k, v in DTYPE_NAMES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: numpy array}. metadata: {str: str} or None."""
    arrays = {}
    for name, value in tensors.items():
        a = np.asarray(value)
        if not a.flags.c_contiguous:
            a = a.copy(order="C")  # (not np.ascontiguousarray: it turns 0-d scalars into shape [1])
        if a.dtype not in DTYPE_NAMES:
            raise ValueError(f"tensor '{name}': dtype {a.dtype} not supported (supported: {sorted(DTYPE_NAMES.values())})")
        arrays[name] = a.astype(a.dtype.newbyteorder("<"), copy=False)
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header, offset = {}, 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors __metadata__ must map strings to strings")
        header["__metadata__"] = dict(metadata)
    for name in order:
        nbytes = arrays[name].nbytes
        header[name] = {"dtype": DTYPE_NAMES[arrays[name].dtype], "shape": list(arrays[name].shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].tobytes(order="C"))


def read_safetensors(path):
    """Returns (metadata, {name: numpy array}); checks the buffer is tiled exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = NAME_DTYPES[info["dtype"]].newbyteorder("<")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
        spans.append((begin, end))
    spans.sort()
    cursor = 0
    for begin, end in spans:
        if begin != cursor:
            raise ValueError(f"{path}: gap or overlap at byte {cursor}")
        cursor = end
    if cursor != len(data):
        raise ValueError(f"{path}: {len(data) - cursor} trailing bytes after the last tensor")
    return metadata, tensors
