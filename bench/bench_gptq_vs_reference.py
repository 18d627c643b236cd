"""Time the published GPTQ (IST-DASLab/gptq, GPTQ.fasterquant on PyTorch CPU) against streamquant's GPTQ
through the C ABI, on the same 4096 x 4096 layer and Hessian, with the same thread count.

  python bench/bench_gptq_vs_reference.py --ref /path/to/IST-DASLab-gptq --lib build/lib/libstreamquant.so

The reference repository is not part of this project: check it out anywhere and pass --ref.
Needs numpy and torch (CPU is enough).
"""
import argparse
import os
import pathlib
import sys
import time
import types

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
from sq_layer_ctypes import LayerLib  # noqa: E402


def make_problem(rows, cols, tokens=2048, rank=64, seed=42):
    """W and H = 2/N X^T X for X = Z + L R: correlated, like real activations."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((tokens, cols), dtype=np.float32)
    X += rng.standard_normal((tokens, rank), dtype=np.float32) @ (0.5 * rng.standard_normal((rank, cols), dtype=np.float32))
    H = (2.0 / tokens) * (X.T @ X)
    W = 0.02 * rng.standard_normal((rows, cols), dtype=np.float32)
    return W, H.astype(np.float32)


def load_reference(ref_dir):
    import torch
    # gptq.py imports transformers only to recognise its Conv1D layer type; a stand-in avoids the dependency.
    if "transformers" not in sys.modules:
        stub = types.ModuleType("transformers")
        stub.Conv1D = type("Conv1D", (), {})
        sys.modules["transformers"] = stub
    torch.cuda.synchronize = lambda *a, **k: None  # fasterquant calls it unconditionally
    sys.path.insert(0, str(ref_dir))
    import gptq as ref_gptq
    import quant as ref_quant
    return torch, ref_gptq, ref_quant


def time_reference(torch, ref_gptq, ref_quant, W, H, bits, group_size, act_order):
    layer = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer.weight.data = torch.from_numpy(W.copy())
    g = ref_gptq.GPTQ(layer)
    g.H = torch.from_numpy(H.copy())
    g.quantizer = ref_quant.Quantizer()
    g.quantizer.configure(bits, perchannel=True, sym=False, mse=False)
    t0 = time.perf_counter()
    g.fasterquant(blocksize=128, percdamp=0.01, groupsize=group_size, actorder=act_order)
    return time.perf_counter() - t0, layer.weight.data.numpy().copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default=os.environ.get("GPTQ_REF", "/tmp/gptq-ref"))
    ap.add_argument("--lib", default=os.environ.get("SQ_LIB", str(HERE.parent / "build" / "lib" / "libstreamquant.so")))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    torch, ref_gptq, ref_quant = load_reference(args.ref)
    torch.set_num_threads(args.threads)
    lib = LayerLib(args.lib)
    lib.set_threads(args.threads)
    W, H = make_problem(args.rows, args.cols)
    print(f"layer {args.rows} x {args.cols}, threads {args.threads}, torch {torch.__version__}")
    print(f"{'config':<22} {'reference s':>12} {'streamquant s':>14} {'ratio ref/ours':>15} {'agree@1e-4':>12}")
    for name, bits, group, act in [("4-bit per-channel", 4, -1, False), ("4-bit g128", 4, 128, False),
                                   ("4-bit g128 act-order", 4, 128, True), ("3-bit g128", 3, 128, False)]:
        ref_t, ours_t = [], []
        for _ in range(args.repeat):
            t, ref_q = time_reference(torch, ref_gptq, ref_quant, W, H, bits, group, act)
            ref_t.append(t)
            t0 = time.perf_counter()
            ours = lib.quantize(W, H, method="gptq", bits=bits, group_size=group, act_order=act, objective=False,
                                 scale_dtype="fp32")
            ours_t.append(time.perf_counter() - t0)
        # Scales can differ in the last bit (fp32 reductions in another order), so compare with a tolerance.
        same = np.mean(np.isclose(ours["dequant"], ref_q, rtol=1e-4, atol=0))
        r, o = min(ref_t), min(ours_t)
        print(f"{name:<22} {r:12.2f} {o:14.2f} {r / o:15.2f} {same:12.5f}", flush=True)


if __name__ == "__main__":
    main()
