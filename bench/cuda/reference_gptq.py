#!/usr/bin/env python3
"""The published GPTQ on a GPU, as the speed baseline for streamquant's CUDA backend: IST-DASLab/gptq's GPTQ class
(gptq.py) and Quantizer (quant.py) on PyTorch, driven the way that repository's llama.py drives them: the model in
fp16 on the host, one block at a time moved to the GPU, every calibration sequence through the block once per
true-sequential group with hooks feeding GPTQ.add_batch, fasterquant per layer, then the block's outputs.

    python3 bench/cuda/reference_gptq.py --src /path/to/IST-DASLab-gptq --model /tmp/l3-8b \\
        --calib /tmp/calib.npy [--nsamples 128] [--seqlen 2048] [--bits 4] [--group-size 128] [--blocks N]

--model is a synthetic Llama from tools/make_synthetic_llama.py, --calib the same int32 token file streamquant
is given (the first nsamples x seqlen ids, consecutive windows). The reference repository is not part of this
project: check it out anywhere and pass --src. Prints one JSON line: wall seconds per stage (load = moving
blocks to the GPU; forward = the calibration passes without the Hessian updates; hessian = GPTQ.add_batch,
synchronized around each call as streamquant's own timing is; quantize = fasterquant), the total, and
torch.cuda.max_memory_allocated. Needs torch, transformers and numpy. --device cpu runs the same steps on the
host (torch.cuda.synchronize, which the reference calls unconditionally, becomes a no-op), to check the plumbing
on a machine without a GPU; its timings mean nothing.
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "peers"))
import common  # noqa: E402  (bench/peers: block 0's input capture and the true-sequential groups)


def first_block_inputs(model, ids, dev):
    """Hidden states entering block 0, one sequence at a time (as the reference's llama.py collects them), and
    the keyword arguments the blocks get."""
    inps = torch.zeros((ids.shape[0], ids.shape[1], model.config.hidden_size), dtype=torch.float16, device=dev)
    kwargs = None
    for j in range(ids.shape[0]):
        x, kwargs = common.block_inputs(model, ids[j:j + 1].to(dev))
        inps[j] = x[0]
    return inps, kwargs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True, help="checkout of IST-DASLab/gptq")
    p.add_argument("--model", required=True)
    p.add_argument("--calib", required=True, help=".npy of int32 token ids")
    p.add_argument("--nsamples", type=int, default=128)
    p.add_argument("--seqlen", type=int, default=2048)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=128)
    p.add_argument("--damp", type=float, default=0.01)
    p.add_argument("--blocks", type=int, default=0, help="quantize only the first N blocks (0 = all)")
    p.add_argument("--device", default="cuda:0", help="cuda:N, or cpu for a plumbing check")
    args = p.parse_args()
    dev = torch.device(args.device)
    on_gpu = dev.type == "cuda"
    if not on_gpu:
        torch.cuda.synchronize = lambda *a, **k: None
    sys.path.insert(0, args.src)
    import gptq as ist_gptq
    import quant as ist_quant
    from transformers import LlamaForCausalLM
    ist_gptq.DEBUG = False

    t_start = time.time()
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float16)
    model.eval()
    model.config.use_cache = False
    tokens = np.load(args.calib).astype(np.int64)[: args.nsamples * args.seqlen]
    ids = torch.from_numpy(tokens.reshape(args.nsamples, args.seqlen))
    t_loaded = time.time()

    layers = model.model.layers
    for m in (model.model.embed_tokens, model.model.norm, model.model.rotary_emb, layers[0]):
        m.to(dev)
    with torch.no_grad():
        inps, kwargs = first_block_inputs(model, ids, dev)
    for m in (model.model.embed_tokens, model.model.norm, layers[0]):
        m.cpu()
    if on_gpu:
        torch.cuda.empty_cache()
    outs = torch.zeros_like(inps)
    times = {"load": 0.0, "forward": 0.0, "hessian": 0.0, "quantize": 0.0}

    def timed(key, fn):
        torch.cuda.synchronize()
        t0 = time.time()
        fn()
        torch.cuda.synchronize()
        times[key] += time.time() - t0

    def run_block(layer):  # every sequence through the block once; hooks add their Hessian time separately
        before = times["hessian"]
        torch.cuda.synchronize()
        t0 = time.time()
        for j in range(args.nsamples):
            out = layer(inps[j:j + 1], **kwargs)
            outs[j] = (out[0] if isinstance(out, tuple) else out)[0]  # [1, seqlen, hidden] -> [seqlen, hidden]
        torch.cuda.synchronize()
        times["forward"] += time.time() - t0 - (times["hessian"] - before)

    t_quant = time.time()
    with torch.no_grad():
        for i, layer in enumerate(layers[: args.blocks or None]):
            timed("load", lambda: layer.to(dev))
            mods = dict(layer.named_modules())
            for names in common.TRUE_SEQUENTIAL:
                g = {}
                for n in names:
                    g[n] = ist_gptq.GPTQ(mods[n])
                    g[n].quantizer = ist_quant.Quantizer()
                    g[n].quantizer.configure(args.bits, perchannel=True, sym=False, mse=False)
                hooks = [mods[n].register_forward_hook(
                    (lambda q: lambda _m, inp, out: timed("hessian", lambda: q.add_batch(inp[0].data, out.data)))(g[n]))
                    for n in names]
                run_block(layer)
                for h in hooks:
                    h.remove()
                for n in names:
                    timed("quantize", lambda: g[n].fasterquant(blocksize=128, percdamp=args.damp,
                                                               groupsize=args.group_size, actorder=False))
                    g[n].free()
            run_block(layer)
            layers[i] = layer.cpu()
            del layer
            if on_gpu:
                torch.cuda.empty_cache()
            inps, outs = outs, inps
            print(f"block {i} done, {time.time() - t_quant:.1f} s", file=sys.stderr, flush=True)
    total = time.time() - t_quant
    print(json.dumps({
        "tool": "IST-DASLab/gptq", "device": torch.cuda.get_device_name(dev) if on_gpu else "cpu",
        "torch": torch.__version__,
        "blocks": len(layers[: args.blocks or None]), "nsamples": args.nsamples, "seqlen": args.seqlen,
        "bits": args.bits, "group_size": args.group_size, "model_load_s": round(t_loaded - t_start, 2),
        "stage_seconds": {k: round(v, 2) for k, v in times.items()}, "quantize_total_s": round(total, 2),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if on_gpu else None}))


if __name__ == "__main__":
    main()
