"""LeanQuant (non-uniform LUT variant) from the LeanModels/LeanQuant reference (lean_quantizer.py) on CPU,
with streamquant's calibration samples and perplexity windows (see common.py).

Usage: python3 bench/peers/run_leanquant.py --src /path/to/peers --bits 4 [--seed 0] [--json-out F]
  (--src: the folder holding the LeanQuant checkout as LeanQuant/)
The LUT is per output row (the reference ignores --groupsize for the LUT variant), fitted by its
scikit-learn weighted k-means with importance diag(U)^-exponent. Settings follow streamquant's defaults
(exponent 4, damp 0.01, no act-order, true-sequential); --act-order/--damp 0.1 give the reference README's.
"""
import os
import types

# As the reference's llama.py does before anything loads OpenMP: its per-row k-means runs in a process pool,
# one scikit-learn fit per process, which is slow when each fit also starts its own OpenMP threads.
# (torch still gets --threads: common.load_model calls torch.set_num_threads.)
os.environ["OMP_NUM_THREADS"] = "1"

import torch  # noqa: E402

import common


def main():
    p = common.base_args(__doc__)
    p.add_argument("--src", required=True)
    p.add_argument("--damp", type=float, default=0.01)
    p.add_argument("--exponent", type=float, default=4.0)
    p.add_argument("--act-order", action="store_true")
    args = p.parse_args()
    common.add_peer_path(os.path.join(args.src, "LeanQuant"))
    torch.cuda.synchronize = lambda *a, **k: None  # the reference syncs the GPU after each layer
    import lean_quantizer
    import quant as lq_quant

    ref_args = types.SimpleNamespace(exponent=float(args.exponent), wbits=args.bits, kmeans_seed=0,
                                     offload_threshold=1 << 30, save_path=None)

    class Layer:
        def __init__(self, name, linear):
            self.l = lean_quantizer.LeanQuant(linear)
            self.l.quantizer = lq_quant.Quantizer()
            self.l.quantizer.configure(args.bits, perchannel=True, sym=False, mse=False)

        def add_batch(self, inp, out):
            self.l.add_batch(inp, out)

        def quantize(self):
            self.l.fasterquant(blocksize=128, percdamp=args.damp, groupsize=-1, actorder=args.act_order,
                               args=ref_args)
            self.l.free()

    def quantize(model, samples):
        common.quantize_sequential(model, samples, Layer, log=lambda *_: None)

    args.method = "leanquant"
    args.group_size = -1
    bpw = common.lut_bpw(args.model, args.bits, 2 ** args.bits, per_column=False)  # one fp16 table per row
    common.run(args, quantize, bpw, tool="LeanModels/LeanQuant",
               extra={"damp": args.damp, "act_order": args.act_order, "exponent": args.exponent})


if __name__ == "__main__":
    main()
