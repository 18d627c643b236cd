#!/usr/bin/env python3
"""Write a Llama-shaped model with random bf16 weights, streamed to disk, for speed and memory benchmarks at
real sizes (the weights are noise: perplexities mean nothing, timings and memory do).

    make_synthetic_llama.py OUT_DIR [--preset llama3-8b|llama3-70b-block|small] [--layers N] [--seed N]

Presets (Llama-3 shapes): llama3-8b = 32 blocks, hidden 4096, intermediate 14336, 32/8 heads, vocab 128256
(16 GB); llama3-70b-block = one block of Llama-3-70B (hidden 8192, intermediate 28672, 64/8 heads; 4.8 GB
with its embedding and head); small = a few-MB model of the same family for tests. OUT_DIR receives
config.json and model.safetensors, written tensor by tensor in chunks so memory stays small; no tokenizer
(calibrate with random token ids, e.g. a .npy of int32). Linear weights ~ N(0, 0.02) times a log-normal
per-input-channel scale (sigma 0.3), as in trained models; norms 1. Needs numpy only.
"""
import argparse
import json
import os
import pathlib
import struct
import sys

import numpy as np

PRESETS = {
    "llama3-8b": dict(layers=32, hidden=4096, intermediate=14336, heads=32, kv_heads=8, vocab=128256),
    "llama3-70b-block": dict(layers=1, hidden=8192, intermediate=28672, heads=64, kv_heads=8, vocab=128256),
    "small": dict(layers=2, hidden=256, intermediate=512, heads=4, kv_heads=2, vocab=1024),
}
CHUNK = 1 << 24  # values generated at once


def bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (inputs are finite)."""
    u = x.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def tensor_list(p):
    h, inter, hd = p["hidden"], p["intermediate"], p["hidden"] // p["heads"]
    q, kv = p["heads"] * hd, p["kv_heads"] * hd
    out = [("model.embed_tokens.weight", (p["vocab"], h), "embed")]
    for i in range(p["layers"]):
        pre = f"model.layers.{i}."
        out += [(pre + "input_layernorm.weight", (h,), "norm"),
                (pre + "self_attn.q_proj.weight", (q, h), "linear"),
                (pre + "self_attn.k_proj.weight", (kv, h), "linear"),
                (pre + "self_attn.v_proj.weight", (kv, h), "linear"),
                (pre + "self_attn.o_proj.weight", (h, q), "linear"),
                (pre + "post_attention_layernorm.weight", (h,), "norm"),
                (pre + "mlp.gate_proj.weight", (inter, h), "linear"),
                (pre + "mlp.up_proj.weight", (inter, h), "linear"),
                (pre + "mlp.down_proj.weight", (h, inter), "linear")]
    out += [("model.norm.weight", (h,), "norm"), ("lm_head.weight", (p["vocab"], h), "linear")]
    return out


def write_tensor(f, shape, kind, rng):
    if kind == "norm":
        f.write(bf16_bits(np.ones(shape, np.float32)).tobytes())
        return
    rows, cols = shape
    col_scale = (np.exp(rng.normal(0.0, 0.3, cols)) * 0.02).astype(np.float32) if kind == "linear" else np.float32(0.02)
    rows_per_chunk = max(1, CHUNK // cols)
    for r0 in range(0, rows, rows_per_chunk):
        n = min(rows_per_chunk, rows - r0)
        x = rng.standard_normal((n, cols), dtype=np.float32) * col_scale
        f.write(bf16_bits(np.ascontiguousarray(x, np.float32)).tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="llama3-8b")
    ap.add_argument("--layers", type=int, help="override the preset's block count")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    p = dict(PRESETS[a.preset])
    if a.layers is not None:
        if a.layers < 1:
            sys.exit("make_synthetic_llama: --layers must be >= 1")
        p["layers"] = a.layers
    out = pathlib.Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": p["hidden"],
              "intermediate_size": p["intermediate"], "num_hidden_layers": p["layers"],
              "num_attention_heads": p["heads"], "num_key_value_heads": p["kv_heads"],
              "head_dim": p["hidden"] // p["heads"], "vocab_size": p["vocab"], "rms_norm_eps": 1e-5,
              "rope_theta": 500000.0, "max_position_embeddings": 8192, "tie_word_embeddings": False,
              "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": 128001}
    tensors = tensor_list(p)
    header, offset = {}, 0
    for name, shape, _ in tensors:
        nbytes = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    rng = np.random.default_rng(a.seed)
    tmp = out / "model.safetensors.tmp"
    with open(tmp, "wb") as f:  # written under a temporary name, renamed when complete
        f.write(struct.pack("<Q", len(head)) + head)
        for name, shape, kind in tensors:
            write_tensor(f, shape, kind, rng)
    os.replace(tmp, out / "model.safetensors")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {out}: {p['layers']} blocks, {offset / 2**20:.1f} MiB of bf16 weights")


if __name__ == "__main__":
    main()
