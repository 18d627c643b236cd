"""Relative weight error of quantized outputs against their source model, per linear-layer type.

For each quantized output directory: sum ||W - deq(W)||^2 / sum ||W||^2 over the block linear layers (all,
and per q/k/v/o/gate/up/down), reading both through the library (quantized layers are dequantized by the
same code `eval` uses). Used to tell a grid's weight error apart from its effect on perplexity.

Usage: PYTHONPATH=bindings/python/src STREAMQUANT_LIB=build/lib/libstreamquant.so \
       python3 bench/layer_mse.py SOURCE_MODEL QUANT_DIR [QUANT_DIR ...]
"""
import json
import sys

import numpy as np
import streamquant as sq

PARTS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def main():
    src = sq.Model.open(sys.argv[1])
    names = [t[0] for t in src.tensors() if t[0].endswith(".weight") and any(p in t[0] for p in PARTS)]
    ref = {n: src.read(n) for n in names}
    for d in sys.argv[2:]:
        q = sq.Model.open(d)
        err = dict.fromkeys(PARTS + ("all",), 0.0)
        norm = dict.fromkeys(PARTS + ("all",), 0.0)
        for n in names:
            part = next(p for p in PARTS if p in n)
            e = float(np.sum((ref[n] - q.read(n)) ** 2))
            s = float(np.sum(ref[n] ** 2))
            for k in (part, "all"):
                err[k] += e
                norm[k] += s
        print(json.dumps({"dir": d, **{k: round(err[k] / norm[k], 6) for k in err}}))


if __name__ == "__main__":
    main()
