"""Shared harness for running reference quantizers on the same data as bench/run_smollm2_results.sh.

Everything that decides the numbers is taken from streamquant's own definitions so that the results are
comparable token for token:
  * tokenization: the model's tokenizer.json, no special tokens (as `streamquant quantize --calib TEXT`
    and `streamquant eval` do);
  * calibration: NSAMPLES windows of SEQLEN tokens at offsets rng() % (T - SEQLEN + 1) of a std::mt19937_64
    seeded with SEED (src/pipeline/calibration.hpp), reproduced bit-exactly below;
  * perplexity: non-overlapping windows of EVAL_SEQLEN tokens over the first EVAL_TOKENS tokens, every
    position but a window's last predicting the next token (src/model/forward.cpp).
The reference methods only supply the per-layer quantizer; the sequential block loop (true-sequential
groups q/k/v, o, gate/up, down -- the order streamquant uses too) is driven from here, because the
references' own loops are written against transformers APIs that no longer exist.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn

MASK64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64 (C++11), so the calibration offsets equal streamquant's."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & MASK64
        for i in range(1, 312):
            self.mt[i] = (6364136223846793005 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 62)) + i) & MASK64
        self.idx = 312

    def _twist(self):
        mt = self.mt
        for i in range(312):
            x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self.idx = 0

    def __call__(self):
        if self.idx >= 312:
            self._twist()
        y = self.mt[self.idx]
        self.idx += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


def encode_file(model_dir, path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(path, encoding="utf-8") as f:
        return tok.encode(f.read(), add_special_tokens=False).ids


def calibration_samples(stream, n, seqlen, seed):
    rng = MT19937_64(seed)
    n_offsets = len(stream) - seqlen + 1
    rows = []
    for _ in range(n):
        off = rng() % n_offsets
        rows.append(stream[off:off + seqlen])
    return torch.tensor(rows, dtype=torch.long)


def base_args(description):
    p = argparse.ArgumentParser(description=description)
    work = os.environ.get("PEERS_WORK", "bench/work/smollm2")
    p.add_argument("--model", default=os.path.join(work, "smollm2-135m"))
    p.add_argument("--calib", default=os.path.join(work, "sotu-calib.txt"))
    p.add_argument("--eval-texts", nargs="+", default=[os.path.join(work, "sotu-test.txt"),
                                                        os.path.join(work, "moby-dick.txt")])
    p.add_argument("--nsamples", type=int, default=16)
    p.add_argument("--seqlen", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-seqlen", type=int, default=512)
    p.add_argument("--eval-tokens", type=int, default=8192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=-1)
    p.add_argument("--method", default="gptq")
    p.add_argument("--json-out", default=None, help="append the result line to this file")
    p.add_argument("--tag", default="", help="free text stored with the result")
    p.add_argument("--smoke", action="store_true",
                   help="check that the reference runs: quantize block 0 only, 2 calibration samples, no evaluation")
    return p


def load_model(model_dir, threads):
    from transformers import LlamaForCausalLM
    torch.set_num_threads(threads)
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    model.config.use_cache = False
    return model


class _Stop(Exception):
    pass


@torch.no_grad()
def block_inputs(model, samples):
    """Hidden states entering block 0 and the keyword arguments the blocks are called with (model(samples) is
    run only up to block 0, so that block and the embedding must be where the samples are)."""
    captured = {}

    def grab(_module, args, kwargs):
        captured["x"] = args[0] if args else kwargs["hidden_states"]
        captured["kwargs"] = {k: v for k, v in kwargs.items() if k != "hidden_states"}
        raise _Stop

    h = model.model.layers[0].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        model(samples)
    except _Stop:
        pass
    finally:
        h.remove()
    return captured["x"], captured["kwargs"]


def call_block(layer, x, kwargs):
    out = layer(x, **kwargs)
    return out[0] if isinstance(out, tuple) else out


SMOKE_BLOCKS = 0  # > 0: quantize only this many blocks (set by --smoke)

TRUE_SEQUENTIAL = [["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"], ["self_attn.o_proj"],
                   ["mlp.up_proj", "mlp.gate_proj"], ["mlp.down_proj"]]


@torch.no_grad()
def quantize_sequential(model, samples, make_quantizer, log=print):
    """Block by block, group by group: collect each linear's inputs (the block fed with the already
    quantized blocks' outputs), hand them to make_quantizer(name, linear) -> object with add_batch(inp, out)
    and quantize(), then recompute the block's output with its quantized weights."""
    x, kwargs = block_inputs(model, samples)
    for i, layer in enumerate(model.model.layers[:SMOKE_BLOCKS or None]):
        mods = dict(layer.named_modules())
        for names in TRUE_SEQUENTIAL:
            qs = {n: make_quantizer(f"model.layers.{i}.{n}", mods[n]) for n in names}
            hooks = [mods[n].register_forward_hook(
                (lambda q: lambda _m, inp, out: q.add_batch(inp[0].data, out.data))(qs[n])) for n in names]
            call_block(layer, x, kwargs)
            for h in hooks:
                h.remove()
            for n in names:
                qs[n].quantize()
            del qs
        x = call_block(layer, x, kwargs)
        log(f"block {i} done")


@torch.no_grad()
def perplexity(model, ids, seqlen, max_tokens):
    used = ids[:max_tokens] if max_tokens > 0 else ids
    windows = len(used) // seqlen
    total_nll, count = 0.0, 0
    for w in range(windows):
        t = torch.tensor([used[w * seqlen:(w + 1) * seqlen]], dtype=torch.long)
        logits = model(t).logits[0, :-1].float()
        nll = nn.functional.cross_entropy(logits, t[0, 1:], reduction="sum")
        total_nll += nll.item()
        count += seqlen - 1
    return math.exp(total_nll / count)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(args, quantize_fn, bpw, tool, extra=None):
    """Load, quantize with quantize_fn(model, samples) (timed), evaluate, print and store one JSON line."""
    global SMOKE_BLOCKS
    if args.smoke:
        SMOKE_BLOCKS, args.nsamples, args.eval_texts = 1, 2, []
    t0 = time.time()
    model = load_model(args.model, args.threads)
    stream = encode_file(args.model, args.calib)
    samples = calibration_samples(stream, args.nsamples, args.seqlen, args.seed)
    load_s = time.time() - t0
    t1 = time.time()
    if quantize_fn is not None:
        quantize_fn(model, samples)
    quant_s = time.time() - t1
    ppl = [perplexity(model, encode_file(args.model, p), args.eval_seqlen, args.eval_tokens) for p in args.eval_texts]
    row = {"tool": tool, "method": args.method, "bits": args.bits, "group_size": args.group_size, "bpw": bpw,
           "seed": args.seed, "ppl_sotu_test": ppl[0] if ppl else None, "ppl_moby_dick": ppl[1] if len(ppl) > 1 else None,
           "quant_wall_s": round(quant_s, 1), "load_s": round(load_s, 1), "peak_rss_mb": round(peak_rss_mb()),
           "threads": args.threads, "nsamples": args.nsamples, "seqlen": args.seqlen, "tag": args.tag}
    if extra:
        row.update(extra)
    line = json.dumps(row)
    print(line, flush=True)
    if args.json_out and not args.smoke:
        with open(args.json_out, "a") as f:
            f.write(line + "\n")
    return row


def add_peer_path(path):
    if path not in sys.path:
        sys.path.insert(0, path)


def affine_bpw(bits, group_size, cols=None):
    """Stored bits per weight of an affine grid: b-bit codes + an fp16 scale and a b-bit zero per group
    (per row when group_size is -1, amortised over `cols` columns)."""
    g = group_size if group_size > 0 else (cols or 1e9)
    return bits + (16 + bits) / g


def linear_shapes(model_dir):
    """(rows, cols) of one block's seven linear layers, from config.json (every block has the same)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    h, inter = c["hidden_size"], c["intermediate_size"]
    heads = c["num_attention_heads"]
    kv = c.get("num_key_value_heads", heads) * c.get("head_dim", h // heads)
    return [(h, h), (kv, h), (kv, h), (h, h), (inter, h), (inter, h), (h, inter)]


def lut_bpw(model_dir, code_bits, table_entries, per_column):
    """Stored bits per weight of lookup-table grids: code_bits per weight plus one table of table_entries fp16
    values per row (LeanQuant) or per input column (CLAQ), over the model's actual layer shapes."""
    shapes = linear_shapes(model_dir)
    weights = sum(r * c for r, c in shapes)
    tables = sum(c if per_column else r for r, c in shapes)
    return code_bits + tables * table_entries * 16 / weights


def claq_bpw(model_dir, bits, outlierorder=0.0):
    """CLAQ's storage: codes and one table of 2^b fp16 centroids per column. With outlierorder X (the reference's
    column mixed precision) a share of the columns has 4 bits and the rest floor(X): X < 3 gives share (X - 2) / 2
    at 4 bits and the rest 2, X >= 3 share X - 3 and the rest 3, for X bits on average."""
    if not outlierorder:
        return lut_bpw(model_dir, bits, 2 ** bits, per_column=True)
    low = 2 if outlierorder < 3 else 3
    share4 = (outlierorder - 2) / 2 if low == 2 else outlierorder - 3
    return lut_bpw(model_dir, outlierorder, share4 * 16 + (1 - share4) * 2 ** low, per_column=True)

