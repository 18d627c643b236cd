#!/usr/bin/env python3
"""Write a small, deterministic, randomly initialised Hugging Face model directory for tests.

    make_tiny_model.py OUT_DIR [--arch llama|qwen2|qwen3|mistral] [--seed N] [--dtype f32|f16|bf16]
                       [--layers N] [--hidden H] [--shards K] [--tie | --no-tie]

OUT_DIR receives config.json, generation_config.json, model.safetensors (or K shards plus
model.safetensors.index.json), and a real tokenizer (tokenizer.json, tokenizer_config.json) taken from
the shared test data: Llama-2's for llama/mistral, Qwen's for qwen2/qwen3. vocab_size equals that
tokenizer's vocabulary including added tokens, so the embedding dominates the size: keep hidden small.

Weights: linear layers ~ N(0, 0.02) with a mild per-input-channel scale (log-normal, sigma 0.3) so that some
input channels matter more than others, as in trained models (this is what makes quantizer choices
visible); o_proj/down_proj scaled by 1/sqrt(2*layers) like GPT-2's residual init; norms 1 + N(0, 0.05);
Qwen2 q/k/v biases ~ N(0, 0.02). The same arguments give byte-identical files.

Needs numpy and the `safetensors` package; the tokenizer files are zstd-compressed and are unpacked with
the `zstd` command.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_TOKENIZERS = SOURCE_DIR.parent / "shared" / "data" / "tokenizers"

ARCHES = {
    # architecture class, model_type, tokenizer, rope_theta, rms_norm_eps, tie by default, bos, eos
    "llama": ("LlamaForCausalLM", "llama", "llama2", 10000.0, 1e-5, False, 1, 2),
    "mistral": ("MistralForCausalLM", "mistral", "llama2", 1000000.0, 1e-5, False, 1, 2),
    "qwen2": ("Qwen2ForCausalLM", "qwen2", "qwen3", 1000000.0, 1e-6, True, 151643, 151643),
    "qwen3": ("Qwen3ForCausalLM", "qwen3", "qwen3", 1000000.0, 1e-6, True, 151643, 151645),
}
TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def fail(msg):
    print(f"make_tiny_model: {msg}", file=sys.stderr)
    sys.exit(2)


def unzstd(path):
    if shutil.which("zstd") is None:
        fail("the `zstd` command is needed to unpack the tokenizer files (apt-get install zstd)")
    return subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout


def load_tokenizer(tok_dir):
    tok_json = unzstd(tok_dir / "tokenizer.json.zst")
    cfg_path = tok_dir / "tokenizer_config.json.zst"
    tok_cfg = unzstd(cfg_path) if cfg_path.exists() else None
    tok = json.loads(tok_json)
    ids = list(tok["model"]["vocab"].values()) + [t["id"] for t in tok.get("added_tokens", [])]
    return tok_json, tok_cfg, max(ids) + 1


def f32_to_bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (uint16); inputs here are finite."""
    u = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    u = u + 0x7FFF + ((u >> 16) & 1)
    return (u >> 16).astype("<u2")


def make_tensors(args, vocab):
    """Name -> float32 array, in the model's natural order, drawn from one seeded generator."""
    rng = np.random.default_rng(args.seed)
    h, inter, heads, kv, hd, layers = args.hidden, args.intermediate, args.heads, args.kv_heads, args.head_dim, args.layers
    resid_scale = 1.0 / np.sqrt(2.0 * layers)

    def linear(out_f, in_f, scale=1.0):
        col = np.exp(rng.normal(0.0, 0.3, size=(1, in_f)))
        return (rng.normal(0.0, 0.02, size=(out_f, in_f)) * col * scale).astype(np.float32)

    def norm(n):
        return (1.0 + rng.normal(0.0, 0.05, size=(n,))).astype(np.float32)

    def bias(n):
        return rng.normal(0.0, 0.02, size=(n,)).astype(np.float32)

    t = {"model.embed_tokens.weight": rng.normal(0.0, 0.02, size=(vocab, h)).astype(np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(h)
        t[p + "self_attn.q_proj.weight"] = linear(heads * hd, h)
        t[p + "self_attn.k_proj.weight"] = linear(kv * hd, h)
        t[p + "self_attn.v_proj.weight"] = linear(kv * hd, h)
        if args.arch == "qwen2":
            t[p + "self_attn.q_proj.bias"] = bias(heads * hd)
            t[p + "self_attn.k_proj.bias"] = bias(kv * hd)
            t[p + "self_attn.v_proj.bias"] = bias(kv * hd)
        if args.arch == "qwen3":
            t[p + "self_attn.q_norm.weight"] = norm(hd)
            t[p + "self_attn.k_norm.weight"] = norm(hd)
        t[p + "self_attn.o_proj.weight"] = linear(h, heads * hd, resid_scale)
        t[p + "post_attention_layernorm.weight"] = norm(h)
        t[p + "mlp.gate_proj.weight"] = linear(inter, h)
        t[p + "mlp.up_proj.weight"] = linear(inter, h)
        t[p + "mlp.down_proj.weight"] = linear(h, inter, resid_scale)
    t["model.norm.weight"] = norm(h)
    if not args.tie:
        t["lm_head.weight"] = linear(vocab, h)
    return t


def save_safetensors(path, tensors, dtype):
    """Write with the reference `safetensors` package; bfloat16 goes through its low-level serializer
    because numpy has no bfloat16 type."""
    import safetensors

    metadata = {"format": "pt"}
    if dtype != "bf16":
        from safetensors.numpy import save_file

        np_dtype = np.float32 if dtype == "f32" else np.float16
        save_file({k: np.ascontiguousarray(v.astype(np_dtype)) for k, v in tensors.items()}, str(path), metadata)
        return
    bits = {k: f32_to_bf16_bits(v).reshape(v.shape) for k, v in tensors.items()}
    if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.8
        specs = {k: safetensors.TensorSpec(dtype="bfloat16", shape=b.shape, data_ptr=b.ctypes.data, data_len=b.nbytes)
                 for k, b in bits.items()}
    else:  # older releases take raw bytes
        specs = {k: {"dtype": "bfloat16", "shape": list(b.shape), "data": b.tobytes()} for k, b in bits.items()}
    safetensors.serialize_file(specs, str(path), metadata=metadata)


def split_shards(names, tensors, k):
    """Split names (in order) into k consecutive, non-empty groups of roughly equal byte size."""
    if k > len(names):
        fail(f"--shards {k} is more than this model's {len(names)} tensors")
    total = sum(tensors[n].nbytes for n in names)
    groups, acc = [[]], 0
    for i, n in enumerate(names):
        shards_left = k - len(groups)
        # Open the next shard once this one holds its share, or when every remaining tensor is needed
        # to give each remaining shard one.
        if groups[-1] and shards_left and (acc >= total * len(groups) / k or len(names) - i == shards_left):
            groups.append([])
        groups[-1].append(n)
        acc += tensors[n].nbytes
    return groups


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--arch", choices=sorted(ARCHES), default="llama")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=sorted(TORCH_DTYPES), default="f32")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--intermediate", type=int, default=None, help="default: 2 * hidden")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=None, help="default: hidden / heads")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tie", action=argparse.BooleanOptionalAction, default=None,
                    help="tie lm_head to the embedding (default: yes for qwen2/qwen3, no for llama/mistral)")
    ap.add_argument("--tokenizers", type=pathlib.Path,
                    default=pathlib.Path(os.environ.get("SQ_SHARED_DIR", DEFAULT_TOKENIZERS.parents[1])) / "data" / "tokenizers")
    args = ap.parse_args(argv)

    arch_cls, model_type, tok_name, rope_theta, eps, tie_default, bos, eos = ARCHES[args.arch]
    args.tie = tie_default if args.tie is None else args.tie
    args.intermediate = args.intermediate or 2 * args.hidden
    if args.heads <= 0 or args.kv_heads <= 0 or args.heads % args.kv_heads:
        fail(f"--heads {args.heads} must be a positive multiple of --kv-heads {args.kv_heads}")
    if args.head_dim is None:
        if args.hidden % args.heads:
            fail(f"--hidden {args.hidden} is not divisible by --heads {args.heads}; pass --head-dim")
        args.head_dim = args.hidden // args.heads
    if args.head_dim % 2:
        fail(f"head_dim {args.head_dim} must be even for rotary embeddings")
    if min(args.layers, args.hidden, args.intermediate, args.shards) <= 0:
        fail("--layers, --hidden, --intermediate and --shards must be positive")

    tok_dir = args.tokenizers / tok_name
    if not (tok_dir / "tokenizer.json.zst").exists():
        fail(f"tokenizer not found at {tok_dir}/tokenizer.json.zst (set --tokenizers or SQ_SHARED_DIR)")
    tok_json, tok_cfg, vocab = load_tokenizer(tok_dir)

    config = {
        "architectures": [arch_cls],
        "model_type": model_type,
        "hidden_size": args.hidden,
        "intermediate_size": args.intermediate,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "head_dim": args.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 4096,
        "initializer_range": 0.02,
        "rms_norm_eps": eps,
        "rope_theta": rope_theta,
        "rope_scaling": None,
        "attention_dropout": 0.0,
        "tie_word_embeddings": args.tie,
        "vocab_size": vocab,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "torch_dtype": TORCH_DTYPES[args.dtype],
        "use_cache": True,
    }
    if args.arch == "llama":
        config.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
    if args.arch == "mistral":
        config.update(sliding_window=None)
    if args.arch in ("qwen2", "qwen3"):
        config.update(use_sliding_window=False, sliding_window=None, max_window_layers=args.layers)
    if args.arch == "qwen3":
        config.update(attention_bias=False)

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    tensors = make_tensors(args, vocab)
    names = list(tensors)
    if args.shards == 1:
        save_safetensors(out / "model.safetensors", tensors, args.dtype)
    else:
        weight_map, total = {}, 0
        for i, group in enumerate(split_shards(names, tensors, args.shards)):
            fname = f"model-{i + 1:05d}-of-{args.shards:05d}.safetensors"
            save_safetensors(out / fname, {n: tensors[n] for n in group}, args.dtype)
            weight_map.update({n: fname for n in group})
        elem = {"f32": 4, "f16": 2, "bf16": 2}[args.dtype]
        total = sum(v.size for v in tensors.values()) * elem
        write_json(out / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})

    write_json(out / "config.json", config)
    write_json(out / "generation_config.json", {"bos_token_id": bos, "eos_token_id": eos, "do_sample": False})
    (out / "tokenizer.json").write_bytes(tok_json)
    if tok_cfg is not None:
        (out / "tokenizer_config.json").write_bytes(tok_cfg)
    n_params = sum(v.size for v in tensors.values())
    print(f"wrote {out}: {args.arch}, {args.layers} layers, hidden {args.hidden}, vocab {vocab}, "
          f"{n_params} parameters, {args.dtype}, {args.shards} shard(s)")


if __name__ == "__main__":
    main()
