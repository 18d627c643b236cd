"""CLAQ (column-level k-means grids inside the GPTQ sweep, optional outlier-ordered column mixed precision)
from the fayuge/CLAQ reference (claq.py, quant.py) on CPU, with streamquant's calibration samples and
perplexity windows (see common.py).

Usage: python3 bench/peers/run_claq.py --src /path/to/peers --bits 4 [--outlierorder 3.12 (with --bits 3)] [--seed 0]
  (--src: the folder holding the CLAQ checkout as CLAQ/)
--outlierorder X (2 < X < 4) is the reference's column mixed precision: the share of columns with the most
weight outliers (|w| > 13 * mean|w|) gets 4 bits and the rest floor(X) bits, for X average bits.
CPU blockers in the reference: quant.py imports and calls sklearnex.patch_sklearn (Intel's accelerator for
scikit-learn, not installed here: a stand-in module that does nothing is registered, so plain scikit-learn
runs) and fasterquant() calls torch.cuda.synchronize() (replaced by a no-op). Its per-layer log file goes to
a temporary directory. Settings: damp 0.01, no act-order (streamquant's defaults; the README adds
--act-order), true-sequential.
"""
import os
import sys
import tempfile
import types

import torch

import common


def main():
    p = common.base_args(__doc__)
    p.add_argument("--src", required=True)
    p.add_argument("--outlierorder", type=float, default=0.0)
    p.add_argument("--damp", type=float, default=0.01)
    p.add_argument("--act-order", action="store_true")
    args = p.parse_args()
    common.add_peer_path(os.path.join(args.src, "CLAQ"))
    stub = types.ModuleType("sklearnex")
    stub.patch_sklearn = lambda *a, **k: None
    stub.config_context = lambda *a, **k: None
    sys.modules.setdefault("sklearnex", stub)
    torch.cuda.synchronize = lambda *a, **k: None
    import claq as ref_claq
    import quant as ref_quant
    logdir = tempfile.mkdtemp(prefix="claq-log-")

    class Layer:
        def __init__(self, name, linear):
            self.name = name
            self.c = ref_claq.CLAQ(linear)
            self.c.quantizer = ref_quant.Quantizer()

        def add_batch(self, inp, out):
            self.c.add_batch(inp, out)

        def quantize(self):
            self.c.fasterquant(args.bits, logdir, "None", self.name, 0, False, False, args.outlierorder, 0,
                               None, percdamp=args.damp, groupsize=-1, actorder=args.act_order)
            self.c.free()

    def quantize(model, samples):
        common.quantize_sequential(model, samples, Layer, log=lambda *_: None)

    args.method = "claq"
    args.group_size = -1
    avg_bits = args.outlierorder if args.outlierorder else args.bits
    args.bits = avg_bits  # the row's bits: the average, as streamquant's --bits 3.12 names the same mix
    bpw = common.claq_bpw(args.model, avg_bits, args.outlierorder)
    common.run(args, quantize, bpw, tool="fayuge/CLAQ",
               extra={"outlierorder": args.outlierorder, "avg_bits": avg_bits})


if __name__ == "__main__":
    main()
