"""Load a streamquant GPTQ-format output with Hugging Face transformers (GPTQModel kernels, CPU) and compare
its perplexity with `streamquant eval` on the same windows.

This is the "third-party loader" check of the GPTQ writer: transformers reads config.json's
quantization_config, GPTQModel unpacks qweight/qzeros/scales/g_idx with its own kernels, and the model runs in
PyTorch. Needs `pip install gptqmodel optimum` (pure Python on CPU; best in a virtual environment, since
GPTQModel pins recent numpy/pyarrow). Skips with a message when they are missing.

Usage: python3 bench/check_gptq_transformers.py QUANT_DIR TEXT [--sq build/bin/streamquant] [--seqlen 512]
       [--max-tokens 8192] [--dtype float32|bfloat16|float16] [--threads 2]
Prints both perplexities and their relative difference as one JSON line.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("quant_dir")
    p.add_argument("text")
    p.add_argument("--sq", default="build/bin/streamquant")
    p.add_argument("--seqlen", type=int, default=512)
    p.add_argument("--max-tokens", type=int, default=8192)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    try:
        import torch
        import gptqmodel  # noqa: F401  (transformers' GPTQ loader backend)
        import optimum  # noqa: F401
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(f"skipped: {e} (pip install gptqmodel optimum)")
        return 0
    import common  # bench/peers/common.py: the same tokenization and windows as the reference drivers

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(args.quant_dir, device_map="cpu", dtype=getattr(torch, args.dtype))
    model.eval()
    load_s = time.time() - t0
    kernel = type(model.model.layers[0].self_attn.q_proj).__name__
    ids = common.encode_file(args.quant_dir, args.text)
    with torch.no_grad():
        theirs = common.perplexity(model, ids, args.seqlen, args.max_tokens)
    out = subprocess.run([args.sq, "eval", args.quant_dir, "--text", args.text, "--seqlen", str(args.seqlen),
                          "--max-tokens", str(args.max_tokens), "--threads", str(args.threads), "--json"],
                         check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)["perplexity"]
    print(json.dumps({"quant_dir": args.quant_dir, "text": os.path.basename(args.text), "dtype": args.dtype,
                      "transformers_kernel": kernel, "ppl_transformers": theirs, "ppl_streamquant": ours,
                      "rel_diff": abs(theirs - ours) / ours, "load_s": round(load_s, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
