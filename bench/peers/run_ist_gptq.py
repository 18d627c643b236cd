"""RTN and GPTQ from the IST-DASLab/gptq reference (gptq.py, quant.py) on CPU, with streamquant's
calibration samples and perplexity windows (see common.py).

Usage: PYTHONPATH=bench/peers python3 bench/peers/run_ist_gptq.py --src /path/to/IST-DASLab-gptq \
         --method gptq --bits 4 --group-size 128 [--seed 0] [--json-out results.jsonl]
Settings match streamquant's defaults: asymmetric min-max grid, per-channel or per-group (fitted when the
sweep reaches the group, on the error-updated weights), no act-order, damp 0.01, block size 128,
true-sequential. RTN uses the reference's Quantizer per group on the original weights.
"""
import torch

import common


def main():
    p = common.base_args(__doc__)
    p.add_argument("--src", required=True, help="checkout of IST-DASLab/gptq")
    p.add_argument("--damp", type=float, default=0.01)
    args = p.parse_args()
    common.add_peer_path(args.src)
    # The reference calls torch.cuda.synchronize() after each layer; on a CPU-only run that is a no-op.
    torch.cuda.synchronize = lambda *a, **k: None
    import gptq as ist_gptq
    import quant as ist_quant
    ist_gptq.DEBUG = False

    def new_quantizer():
        q = ist_quant.Quantizer()
        q.configure(args.bits, perchannel=True, sym=False, mse=False)
        return q

    class GptqLayer:
        def __init__(self, name, linear):
            self.g = ist_gptq.GPTQ(linear)
            self.g.quantizer = new_quantizer()

        def add_batch(self, inp, out):
            self.g.add_batch(inp, out)

        def quantize(self):
            self.g.fasterquant(blocksize=128, percdamp=args.damp, groupsize=args.group_size, actorder=False)
            self.g.free()

    @torch.no_grad()
    def rtn(model, _samples):
        for layer in model.model.layers:
            for name, m in layer.named_modules():
                if not isinstance(m, torch.nn.Linear):
                    continue
                W = m.weight.data.float()
                g = args.group_size if args.group_size > 0 else W.shape[1]
                Q = torch.empty_like(W)
                for c in range(0, W.shape[1], g):
                    q = new_quantizer()
                    q.find_params(W[:, c:c + g], weight=True)
                    Q[:, c:c + g] = ist_quant.quantize(W[:, c:c + g], q.scale, q.zero, q.maxq)
                m.weight.data = Q.to(m.weight.dtype)

    def gptq(model, samples):
        common.quantize_sequential(model, samples, GptqLayer, log=lambda *_: None)

    fn = {"gptq": gptq, "rtn": rtn, "fp16": None}[args.method]
    bpw = 16 if args.method == "fp16" else common.affine_bpw(args.bits, args.group_size, cols=576)
    common.run(args, fn, bpw, tool="IST-DASLab/gptq")


if __name__ == "__main__":
    main()
