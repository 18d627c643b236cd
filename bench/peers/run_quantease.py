"""QuantEase (coordinate descent, optionally outlier-aware) from the linkedin/QuantEase reference
(method/quantease.py, method/quantease_outlier.py, method/quant.py) on CPU, with streamquant's calibration
samples and perplexity windows (see common.py).

Usage: python3 bench/peers/run_quantease.py --src /path/to/peers --bits 4 [--group-size -1]
         [--outlier 0.01 [--structure-outlier] [--fix-outlier-update]] [--num-iter 30] [--seed 0] [--json-out F]
  (--src: the folder holding the QuantEase checkout as QuantEase/)
Settings follow the reference README (30 iterations, true-sequential, per-row asymmetric min-max grid,
no act-order).
CPU blocker in the reference: fasterquant() times itself with torch.cuda.Event(enable_timing=True) and
torch.cuda.synchronize(), which fail without a GPU; both are replaced at run time by no-op stand-ins.
"""
import os

import torch

import common


class _NoGpuEvent:
    """Stands in for torch.cuda.Event in the reference's timing code on a CPU-only run."""

    def __init__(self, *a, **k):
        pass

    def record(self, *a, **k):
        pass

    def elapsed_time(self, _other):
        return 0.0


def load_fixed_outlier(path):
    """Two statements of the reference's QuantEaseOutlier.fasterquant (method/quantease_outlier.py, its only
    version) keep the outlier variant from quantizing anything, so as published it evaluates at FP16 perplexity:
      1. each column's coordinate-descent result is stored into P_hat (`P_hat[:, j] = u`) instead of W_hat, so the
         quantized part never moves from its start (W with the initial outliers zeroed) and W_hat + S == W;
      2. with that fixed, the update diverges to NaN within three iterations: the correction for the columns
         already updated in this pass (`XtX[:j, j]^T delta`) is not divided by XtX[j, j] as the rest of the
         one-dimensional optimum is (quantease.py divides the whole matrix by its diagonal up front).
    This loads the module with both statements corrected, in memory; the checkout stays untouched."""
    import sys
    import types
    import method  # the package, so the module's relative imports resolve
    with open(path) as f:
        src = f.read()
    fixes = [("                P_hat[:, j] = u\n", "                W_hat[:, j] = u\n"),
             ("u += torch.matmul(self.XtX[:j, j].t(), delta_W_hat[:j, :])",
              "u += torch.matmul(self.XtX[:j, j].t(), delta_W_hat[:j, :]) / Aq")]
    for old, new in fixes:
        if src.count(old) != 1:
            raise SystemExit(f"{path}: expected `{old.strip()}` once; the reference has changed")
        src = src.replace(old, new)
    module = types.ModuleType("method.quantease_outlier")
    module.__file__, module.__package__ = path, "method"
    sys.modules["method.quantease_outlier"] = module
    exec(compile(src, path, "exec"), module.__dict__)
    method.quantease_outlier = module


def main():
    p = common.base_args(__doc__)
    p.add_argument("--src", required=True)
    p.add_argument("--outlier", type=float, default=0.0)
    p.add_argument("--structure-outlier", action="store_true")
    p.add_argument("--num-iter", type=int, default=30)
    p.add_argument("--fix-outlier-update", action="store_true",
                   help="run quantease_outlier.py with its two update statements corrected (see load_fixed_outlier)")
    args = p.parse_args()
    common.add_peer_path(os.path.join(args.src, "QuantEase"))
    torch.cuda.Event = _NoGpuEvent
    torch.cuda.synchronize = lambda *a, **k: None
    if args.fix_outlier_update:
        load_fixed_outlier(os.path.join(args.src, "QuantEase", "method", "quantease_outlier.py"))
    from method.quant import Quantizer
    from method.quantease import QuantEase
    from method.quantease_outlier import QuantEaseOutlier

    class Layer:
        def __init__(self, name, linear):
            self.linear = linear
            if args.outlier > 0:
                self.q = QuantEaseOutlier(linear, num_iter=args.num_iter, outlier=args.outlier,
                                          structure_outlier=args.structure_outlier)
                self.q.quantizer = Quantizer()
                kw = {} if args.structure_outlier else {"outlier": args.outlier}
                self.q.quantizer.configure(args.bits, perchannel=True, sym=False, mse=False, **kw)
            else:
                self.q = QuantEase(linear, num_iter=args.num_iter)
                self.q.quantizer = Quantizer()
                self.q.quantizer.configure(args.bits, perchannel=True, sym=False, mse=False)

        def add_batch(self, inp, out):
            self.q.add_batch(inp, out)

        def quantize(self):
            self.q.fasterquant(group_size=args.group_size, static_groups=False, actorder=False)
            if args.outlier > 0:
                # QuantEaseOutlier leaves the layer untouched and keeps the quantized part W and the sparse part S;
                # the reference's model loop (modeling/model_quantizer_base.py) then sets the weight to W + S.
                self.linear.weight.data = (self.q.W + self.q.S).to(self.linear.weight.dtype)
            self.q.free()

    def quantize(model, samples):
        common.quantize_sequential(model, samples, Layer, log=lambda *_: None)

    args.method = "quantease" + ("-outlier" if args.outlier > 0 else "")
    if args.fix_outlier_update:
        args.tag = (args.tag + " " if args.tag else "") + "outlier update fixed"
    tool = "linkedin/QuantEase" + (" (update fixed)" if args.fix_outlier_update else "")
    bpw = common.affine_bpw(args.bits, args.group_size, cols=576)
    if args.outlier > 0:  # a sparse fp16 value + int16 column index per outlier (the paper counts ~0.16 bit at 1%)
        bpw += args.outlier * 32
    common.run(args, quantize, bpw, tool=tool,
               extra={"outlier": args.outlier, "structure_outlier": args.structure_outlier,
                      "num_iter": args.num_iter})


if __name__ == "__main__":
    main()
