#!/usr/bin/env python3
"""Stored bits per quantized weight of a streamquant output directory (gptq, lut or sq format).

sq: every payload's raw (pre-zstd) bytes of every quantized layer; gptq/lut: qweight, qzeros, scales,
lookup_table and g_idx bytes. Divided by the number of weights of those layers. Prints one number."""
import json
import struct
import sys
from pathlib import Path

DTYPE_BYTES = {"U8": 1, "I8": 1, "F16": 2, "BF16": 2, "I32": 4, "F32": 4, "I64": 8, "F64": 8}


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def effective_bits(out_dir):
    h = header(Path(out_dir) / "model.safetensors")
    meta = h.pop("__metadata__", {}) or {}
    stored = weights = 0
    schemes = [json.loads(v) for k, v in meta.items() if k.startswith("sq.scheme.")]
    if schemes:
        for s in schemes:
            stored += sum(p["raw_bytes"] for p in s["payloads"].values())
            weights += s["rows"] * s["cols"]
        return stored * 8 / weights
    bits = json.loads((Path(out_dir) / "config.json").read_text())["quantization_config"]["bits"]
    for name, t in h.items():
        prefix, _, part = name.rpartition(".")
        if part in ("qweight", "qzeros", "scales", "lookup_table", "g_idx"):
            n = 1
            for d in t["shape"]:
                n *= d
            stored += n * DTYPE_BYTES[t["dtype"]]
        if part == "qweight":
            weights += t["shape"][0] * 32 // bits * t["shape"][1]
    return stored * 8 / weights


if __name__ == "__main__":
    print(f"{effective_bits(sys.argv[1]):.4f}")
