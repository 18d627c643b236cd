#!/usr/bin/env python3
"""The floor (fewest operations over the peak rate) of quantizing one Llama block with GPTQ, per stage, for
the GPU targets: what no implementation can beat, so measured / floor is the gap left.

    bench/cuda/floor.py [--shape llama3-8b|llama3-70b] [--samples 128] [--seqlen 2048]
                        [--bf16-tflops 989] [--fp32-tflops 67] [--tf32-tflops 494] [--bandwidth-tbs 3.35]

Rates default to the NVIDIA H100 SXM datasheet (dense): replace them by the ceilings measured on the machine
(a large bf16 matrix product; a large device-to-device copy). Counted:
  forward   one pass through the block (every linear layer once, bf16 tensor cores) plus causal attention;
            an ideal true-sequential pipeline computes each quantized sub-layer once
  hessian   X^T X per linear group (N n^2 for the symmetric product), fp32 (or tf32)
  cholesky  potrf + potri + potrf of each group's Hessian: 4/3 n^3, fp32
  sweep     GPTQ's trailing updates, rows * cols^2 per layer, fp32
  bytes     the block's bf16 activations read and written once per sub-layer, weights read once
"""
import argparse

SHAPES = {
    "llama3-8b": dict(hidden=4096, inter=14336, heads=32, kv_heads=8),
    "llama3-70b": dict(hidden=8192, inter=28672, heads=64, kv_heads=8),
}


def floor(shape, samples, seqlen):
    h, inter = shape["hidden"], shape["inter"]
    hd = h // shape["heads"]
    q, kv = h, shape["kv_heads"] * hd
    n = samples * seqlen
    layers = {  # name: (rows = out features, cols = in features)
        "q": (q, h), "k": (kv, h), "v": (kv, h), "o": (h, q), "gate": (inter, h), "up": (inter, h), "down": (h, inter)}
    linear = sum(2 * n * r * c for r, c in layers.values())
    attention = samples * 2 * seqlen * seqlen * q  # causal QK^T and PV
    groups = [h, q, h, inter]  # in-features of QKV, O, GateUp, Down
    hessian = sum(n * g * g for g in groups)
    cholesky = sum(4 / 3 * g ** 3 for g in groups)
    sweep = sum(r * c * c for r, c in layers.values())
    act = 2 * n  # bytes per feature of bf16 activations
    bytes_moved = act * (2 * h + (q + 2 * kv) + 2 * q + 2 * h + 2 * inter * 2 + inter + h)
    bytes_moved += 2 * sum(r * c for r, c in layers.values())
    return dict(linear=linear, attention=attention, hessian=hessian, cholesky=cholesky, sweep=sweep,
                bytes=bytes_moved)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama3-8b")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=2048)
    ap.add_argument("--bf16-tflops", type=float, default=989.0)
    ap.add_argument("--tf32-tflops", type=float, default=494.0)
    ap.add_argument("--fp32-tflops", type=float, default=67.0)
    ap.add_argument("--bandwidth-tbs", type=float, default=3.35)
    a = ap.parse_args()
    f = floor(SHAPES[a.shape], a.samples, a.seqlen)
    bf16, tf32, fp32 = a.bf16_tflops * 1e12, a.tf32_tflops * 1e12, a.fp32_tflops * 1e12
    rows = [
        ("forward (linear, bf16)", f["linear"], f["linear"] / bf16),
        ("forward (attention, bf16)", f["attention"], f["attention"] / bf16),
        ("hessian (fp32)", f["hessian"], f["hessian"] / fp32),
        ("hessian (tf32, alternative)", f["hessian"], f["hessian"] / tf32),
        ("cholesky (fp32)", f["cholesky"], f["cholesky"] / fp32),
        ("gptq sweep (fp32)", f["sweep"], f["sweep"] / fp32),
    ]
    print(f"one {a.shape} block, {a.samples} x {a.seqlen} calibration tokens; rates: bf16 {a.bf16_tflops:g}, "
          f"tf32 {a.tf32_tflops:g}, fp32 {a.fp32_tflops:g} TFLOP/s, {a.bandwidth_tbs:g} TB/s")
    print(f"{'stage':30s} {'TFLOP':>10s} {'floor s':>10s}")
    for name, flops, t in rows:
        print(f"{name:30s} {flops / 1e12:10.2f} {t:10.4f}")
    compute = sum(t for name, _, t in rows if "alternative" not in name)
    memory = f["bytes"] / (a.bandwidth_tbs * 1e12)
    print(f"{'bytes moved (GB), time':30s} {f['bytes'] / 1e9:10.1f} {memory:10.4f}")
    print(f"floor per block: {max(compute, memory):.3f} s ({'compute' if compute >= memory else 'memory'}-bound); "
          f"x 32 blocks = {32 * max(compute, memory):.1f} s, x 80 blocks = {80 * max(compute, memory):.1f} s")


if __name__ == "__main__":
    main()
