#!/usr/bin/env python3
"""Forward-pass parity of streamquant against Hugging Face transformers.

Builds tiny random Llama-family models (llama with llama3 RoPE scaling and GQA, llama tied / MHA,
qwen2 with q/k/v biases, qwen3 with q/k norms and a head_dim that is not hidden/heads, mistral with a
sliding window), saves each as a Hugging Face directory (float32 safetensors), runs transformers
(float32, eager attention) for the reference logits and the GPTQ-protocol perplexity, then runs
streamquant on the same files and tokens and compares:

  logits:     max |ours - ref| / max |ref|   must be <= 1e-4
  perplexity: |ours - ref| / ref             must be <= 1e-3

streamquant runs through libstreamquant.so (ctypes: sq_model_open + sq_model_logits/perplexity) when the
library exports sq_model_open, else through the unit-test binary's ForwardParity tests, which read the
same directories.

  python3 bench/compare_transformers.py --out /tmp/parity [--lib build/lib/libstreamquant.so]
                                        [--unit-tests build/bin/sq_unit_tests]
                                        [--gguf SmolLM2-135M-Instruct.Q4_1.gguf --text sotu-test.txt]
"""
import argparse
import ctypes
import json
import math
import os
import pathlib
import platform
import subprocess
import sys

import numpy as np

LOGITS_TOL = 1e-4
PPL_TOL = 1e-3

# name -> (architecture, config overrides). Shared: hidden 64, 3 layers, vocab 256.
CASES = {
    "llama3_rope_gqa": ("LlamaForCausalLM", dict(
        num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 512})),
    "llama_tied_mha": ("LlamaForCausalLM", dict(
        num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0, tie_word_embeddings=True)),
    "qwen2_bias_gqa": ("Qwen2ForCausalLM", dict(
        num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0, tie_word_embeddings=False)),
    "qwen3_qknorm_tied": ("Qwen3ForCausalLM", dict(
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, rope_theta=1000000.0,
        tie_word_embeddings=True, attention_bias=False)),
    "mistral_window": ("MistralForCausalLM", dict(
        num_attention_heads=4, num_key_value_heads=1, sliding_window=48, rope_theta=10000.0,
        tie_word_embeddings=False)),
}
SEQ_LEN = 128
STREAM_TOKENS = 3 * SEQ_LEN + 17   # the 17-token tail is dropped by the protocol
LOGITS_TOKENS = 200                # more than one 128-row attention tile


def build_case(out_dir: pathlib.Path, name: str, seed: int):
    """Create the model, save it, compute the reference; returns the reference dict."""
    import torch
    import transformers

    arch, overrides = CASES[name]
    cfg_cls = getattr(transformers, arch.replace("ForCausalLM", "Config"))
    model_cls = getattr(transformers, arch)
    cfg = cfg_cls(hidden_size=64, intermediate_size=160, num_hidden_layers=3, vocab_size=256,
                  max_position_embeddings=2048, rms_norm_eps=1e-5, **overrides)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = model_cls(cfg).float().eval()
    # transformers initializes norms to 1 and biases to 0, which would hide mistakes in either: draw
    # everything at random, with a 1/sqrt(fan_in) scale so activations stay O(1).
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.5 * torch.randn_like(p))
            elif "embed_tokens" in pname:
                p.copy_(0.3 * torch.randn_like(p))  # also the output matrix of tied models
            else:
                p.copy_(torch.randn_like(p) * (1.5 / math.sqrt(p.shape[1])))
    case_dir = out_dir / name
    model.save_pretrained(case_dir, safe_serialization=True)

    gen = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, cfg.vocab_size, (STREAM_TOKENS,), generator=gen)
    with torch.no_grad():
        logits = model(tokens[None, :LOGITS_TOKENS]).logits[0].float().numpy()
        # GPTQ's llama_eval: nsamples = numel // seqlen; loss = CE(shift_logits, shift_labels) (mean over
        # seqlen - 1 tokens); nll = loss * seqlen; ppl = exp(sum(nll) / (nsamples * seqlen)).
        nsamples = tokens.numel() // SEQ_LEN
        nlls = []
        for i in range(nsamples):
            batch = tokens[i * SEQ_LEN:(i + 1) * SEQ_LEN][None]
            lm_logits = model(batch).logits
            loss = torch.nn.functional.cross_entropy(lm_logits[0, :-1].float(), batch[0, 1:])
            nlls.append(loss.float() * SEQ_LEN)
        ppl = torch.exp(torch.stack(nlls).sum() / (nsamples * SEQ_LEN)).item()
    logits.astype("<f4").tofile(case_dir / "logits.f32")
    ref = {"architecture": arch, "tokens": tokens.tolist(), "logits_tokens": LOGITS_TOKENS, "seq_len": SEQ_LEN,
           "vocab": int(logits.shape[1]), "ppl": ppl, "tokens_scored": nsamples * (SEQ_LEN - 1),
           "transformers": transformers.__version__, "torch": torch.__version__}
    (case_dir / "reference.json").write_text(json.dumps(ref))
    return ref


def build_gguf_case(out_dir: pathlib.Path, gguf_path: str, text_path: str, seq_len=512, windows=4,
                    logits_tokens=256):
    """A real model: transformers dequantizes the GGUF file itself (gguf package) and runs it in float32;
    streamquant reads the same file through its own GGUF reader. Tokens come from real text."""
    import torch
    import transformers

    d, f = os.path.split(os.path.abspath(gguf_path))
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                                              attn_implementation="eager").eval()
    text = pathlib.Path(text_path).read_text(encoding="utf-8")[:200_000]
    ids = tok(text, add_special_tokens=False)["input_ids"][:seq_len * windows + 31]
    tokens = torch.tensor(ids)
    with torch.no_grad():
        logits = model(tokens[None, :logits_tokens]).logits[0].float().numpy()
        nsamples = tokens.numel() // seq_len
        nlls = []
        for i in range(nsamples):
            batch = tokens[i * seq_len:(i + 1) * seq_len][None]
            loss = torch.nn.functional.cross_entropy(model(batch).logits[0, :-1].float(), batch[0, 1:])
            nlls.append(loss.float() * seq_len)
        ppl = torch.exp(torch.stack(nlls).sum() / (nsamples * seq_len)).item()
    case_dir = out_dir / "smollm2_135m_gguf"
    case_dir.mkdir(parents=True, exist_ok=True)
    logits.astype("<f4").tofile(case_dir / "logits.f32")
    ref = {"architecture": model.config.architectures[0] if model.config.architectures else "LlamaForCausalLM",
           "gguf": os.path.abspath(gguf_path), "text": os.path.abspath(text_path), "tokens": ids,
           "logits_tokens": logits_tokens, "seq_len": seq_len, "vocab": int(logits.shape[1]), "ppl": ppl,
           "tokens_scored": nsamples * (seq_len - 1), "transformers": transformers.__version__,
           "torch": torch.__version__}
    (case_dir / "reference.json").write_text(json.dumps(ref))
    return ref


def rel_diff(ours, ref):
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def run_ctypes(lib_path, case_dir: pathlib.Path, ref):
    lib = ctypes.CDLL(str(lib_path))
    lib.sq_error_message.restype = ctypes.c_char_p
    lib.sq_context_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
    lib.sq_model_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_char_p]
    for fn in ("sq_context_create", "sq_model_open", "sq_model_logits", "sq_model_perplexity"):
        getattr(lib, fn).restype = ctypes.c_void_p
    lib.sq_model_logits.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                    ctypes.c_size_t]
    lib.sq_model_perplexity.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_double),
                                        ctypes.POINTER(ctypes.c_size_t)]
    lib.sq_error_message.argtypes = [ctypes.c_void_p]
    lib.sq_model_free.argtypes = [ctypes.c_void_p]
    lib.sq_context_free.argtypes = [ctypes.c_void_p]

    def check(err):
        if err:
            raise RuntimeError(lib.sq_error_message(err).decode())

    ctx, model = ctypes.c_void_p(), ctypes.c_void_p()
    check(lib.sq_context_create(ctypes.byref(ctx), b"cpu"))
    try:
        check(lib.sq_model_open(ctypes.byref(model), ctx, str(case_dir).encode()))
        tokens = np.asarray(ref["tokens"], dtype=np.int32)
        n = ref["logits_tokens"]
        logits = np.zeros((n, ref["vocab"]), dtype=np.float32)
        check(lib.sq_model_logits(model, tokens.ctypes.data, n, logits.ctypes.data, logits.size))
        ppl, scored = ctypes.c_double(), ctypes.c_size_t()
        check(lib.sq_model_perplexity(model, tokens.ctypes.data, tokens.size, ref["seq_len"], 0, ctypes.byref(ppl),
                                      ctypes.byref(scored)))
        return logits, ppl.value, scored.value
    finally:
        lib.sq_model_free(model)
        lib.sq_context_free(ctx)


def run_unit_tests(binary, out_dir: pathlib.Path):
    env = dict(os.environ, SQ_PARITY_DIR=str(out_dir))
    proc = subprocess.run([str(binary), "--gtest_filter=ForwardParity.*"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], file=sys.stderr)


def compare(out_dir: pathlib.Path, lib=None, unit_tests=None, names=None, gguf=None, text=None):
    """Build every case, run ours, return {name: result dict}."""
    names = names or list(CASES)
    refs = {name: build_case(out_dir, name, seed=100 + i) for i, name in enumerate(names)}
    if gguf:
        refs["smollm2_135m_gguf"] = build_gguf_case(out_dir, gguf, text)
    use_ctypes = lib is not None and pathlib.Path(lib).exists() and hasattr(ctypes.CDLL(str(lib)), "sq_model_open")
    if not use_ctypes:
        if unit_tests is None or not pathlib.Path(unit_tests).exists():
            raise RuntimeError("neither a libstreamquant.so with sq_model_open nor the unit-test binary is available")
        run_unit_tests(unit_tests, out_dir)
    results = {}
    for name, ref in refs.items():
        case_dir = out_dir / name
        expected = np.fromfile(case_dir / "logits.f32", dtype="<f4").reshape(ref["logits_tokens"], ref["vocab"])
        if use_ctypes:
            logits, ppl, scored = run_ctypes(lib, pathlib.Path(ref.get("gguf", case_dir)), ref)
            r = {"logits_max_rel_diff": rel_diff(logits, expected), "ppl": ppl, "tokens_scored": scored}
        else:
            ours_file = case_dir / "ours.json"
            if not ours_file.exists():
                raise RuntimeError(f"{name}: the unit tests wrote no {ours_file}")
            r = json.loads(ours_file.read_text())
        r.update(via="ctypes" if use_ctypes else "unit-tests", ref_ppl=ref["ppl"],
                 ppl_rel_diff=abs(r["ppl"] - ref["ppl"]) / ref["ppl"], ref_tokens_scored=ref["tokens_scored"])
        results[name] = r
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--lib", default=os.environ.get("SQ_LIB"))
    ap.add_argument("--unit-tests", default=None)
    ap.add_argument("--gguf", help="also compare a real GGUF model (e.g. SmolLM2-135M from tools/fetch_smollm2.sh)")
    ap.add_argument("--text", help="plain text to tokenize for the GGUF model's tokens (e.g. sotu-test.txt)")
    args = ap.parse_args()
    if args.gguf and not args.text:
        ap.error("--gguf needs --text")
    args.out.mkdir(parents=True, exist_ok=True)
    import torch
    import transformers
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    results = compare(args.out, args.lib, args.unit_tests, gguf=args.gguf, text=args.text)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"{'case':22} {'logits max rel':>15} {'ppl ours':>12} {'ppl ref':>12} {'ppl rel':>10} {'scored':>7}  via")
    ok = True
    for name, r in results.items():
        good = r["logits_max_rel_diff"] <= LOGITS_TOL and r["ppl_rel_diff"] <= PPL_TOL and \
            r["tokens_scored"] == r["ref_tokens_scored"]
        ok &= good
        print(f"{name:22} {r['logits_max_rel_diff']:15.3e} {r['ppl']:12.6f} {r['ref_ppl']:12.6f} "
              f"{r['ppl_rel_diff']:10.2e} {r['tokens_scored']:7d}  {r['via']}{'' if good else '  FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
