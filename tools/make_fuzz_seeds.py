#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from real files, kept small.

    make_fuzz_seeds.py --cli build/bin/streamquant [--out fuzz/corpus] [--gguf PATH]

Seeds: a tiny Llama/Qwen model (tools/make_tiny_model.py) with its vocabulary cut to 64 rows so the files
stay a few KB; its two-shard form with model.safetensors.index.json; its quantized outputs in the gptq, lut
and sq formats (written by the CLI); a small GGUF written with the `gguf` package plus the first 64 KiB of
the SmolLM2 GGUF (tools/fetch_smollm2.sh) when it is cached; and the shared tokenizer.json files with the
vocabulary and merges cut to a few hundred entries. Multi-file inputs are joined with the separator of
fuzz/fuzz_common.hpp.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]
SEP = b"\n--SQ-PART--\n"
VOCAB = 64


def tiny(root, name, *extra):
    out = root / name
    subprocess.run([sys.executable, str(SOURCE_DIR / "tools" / "make_tiny_model.py"), str(out), "--layers", "1",
                    "--hidden", "32", "--heads", "2", "--kv-heads", "1", *extra], check=True, stdout=subprocess.DEVNULL)
    return out


def shrink(model, dst, shards=1):
    """Cut the vocabulary to VOCAB rows; write config.json and 1 or 2 safetensors files (+ index)."""
    dst.mkdir(parents=True)
    config = json.loads((model / "config.json").read_text())
    config["vocab_size"] = VOCAB
    tensors = {}
    for f in sorted(model.glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        if k in tensors:
            tensors[k] = np.ascontiguousarray(tensors[k][:VOCAB])
    (dst / "config.json").write_text(json.dumps(config, indent=1))
    if shards == 1:
        save_file(tensors, str(dst / "model.safetensors"))
        return dst
    names = sorted(tensors)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, half in enumerate(halves):
        fname = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({n: tensors[n] for n in half}, str(dst / fname))
        weight_map.update({n: fname for n in half})
    (dst / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))
    return dst


def trim_tokenizer(text, keep=300):
    doc = json.loads(text)
    model = doc.get("model", {})
    vocab = model.get("vocab", {})
    kept = {t: i for t, i in vocab.items() if i < keep}
    model["vocab"] = kept
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in kept and b in kept and a + b in kept:
            merges.append(m)
    model["merges"] = merges
    doc["added_tokens"] = [t for t in doc.get("added_tokens", [])][:8]
    return json.dumps(doc, ensure_ascii=False).encode()


def write_gguf(path, model):
    import gguf
    tensors = load_file(str(model / "model.safetensors"))
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("gpt2")
    tokens = [chr(ord("a") + i % 26) * (1 + i // 26) for i in range(VOCAB)]
    w.add_token_list(tokens)
    w.add_token_types([1] * VOCAB)
    w.add_token_merges(["a a", "b b"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    rename = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
              "lm_head.weight": "output.weight"}
    per_block = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                 "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                 "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for hf, gg in per_block.items():
        rename[f"model.layers.0.{hf}.weight"] = f"blk.0.{gg}.weight"
    qtypes = [gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.Q4_0]
    for i, (hf, gg) in enumerate(sorted(rename.items())):
        if hf not in tensors:
            continue
        a = tensors[hf].astype(np.float32)
        if a.ndim == 2:
            qt = qtypes[i % len(qtypes)]
            w.add_tensor(gg, gguf.quants.quantize(a, qt), raw_dtype=qt)
        else:
            w.add_tensor(gg, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", type=pathlib.Path, required=True)
    ap.add_argument("--out", type=pathlib.Path, default=SOURCE_DIR / "fuzz" / "corpus")
    ap.add_argument("--gguf", type=pathlib.Path, help="SmolLM2 .gguf (default: the tools/fetch_smollm2.sh cache)")
    args = ap.parse_args()
    shared = SOURCE_DIR.parent / "shared" / "data" / "tokenizers"
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    dirs = {t: out / t for t in ("safetensors", "model_files", "gguf", "tokenizer", "layer_codec", "quantized_reader")}
    for d in dirs.values():
        d.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for arch, dtype in (("llama", "f16"), ("qwen3", "f32")):
            big = tiny(root, f"{arch}-big", "--arch", arch, "--dtype", dtype)
            one = shrink(big, root / arch)
            two = shrink(big, root / f"{arch}-sharded", shards=2)
            (dirs["safetensors"] / f"{arch}.safetensors").write_bytes((one / "model.safetensors").read_bytes())
            parts = [(two / "config.json").read_bytes(), (two / "model.safetensors.index.json").read_bytes(),
                     (two / "model-00001-of-00002.safetensors").read_bytes(),
                     (two / "model-00002-of-00002.safetensors").read_bytes()]
            (dirs["model_files"] / f"{arch}-sharded").write_bytes(SEP.join(parts))
            (dirs["model_files"] / f"{arch}-config").write_bytes(parts[0])
        llama = root / "llama"
        write_gguf(dirs["gguf"] / "tiny.gguf", llama)
        gguf_path = args.gguf
        if gguf_path is None:
            found = sorted((pathlib.Path.home() / ".cache" / "streamquant").glob("**/*.gguf"))
            gguf_path = found[0] if found else None
        if gguf_path and gguf_path.exists():
            with open(gguf_path, "rb") as f:
                (dirs["gguf"] / "smollm2-head").write_bytes(f.read(64 * 1024))
        for name in ("llama2", "llama3", "qwen3"):
            src = shared / name / "tokenizer.json.zst"
            if src.exists():
                text = subprocess.run(["zstd", "-dc", str(src)], check=True, capture_output=True).stdout
                (dirs["tokenizer"] / name).write_bytes(trim_tokenizer(text))
        calib = root / "calib.npy"
        np.save(calib, np.random.default_rng(0).integers(0, VOCAB, size=512, dtype=np.int32))
        for method, fmt, group in (("gptq", "gptq", "16"), ("leanquant", "lut", "-1"), ("gptq", "sq", "16"),
                                   ("leanquant", "sq", "-1")):
            q = root / f"q-{method}-{fmt}"
            subprocess.run([str(args.cli), "quantize", str(llama), "-o", str(q), "--calib", str(calib), "--nsamples",
                            "2", "--seqlen", "16", "--threads", "1", "--method", method, "--format", fmt,
                            "--bits", "4", "--group-size", group], check=True, capture_output=True)
            st = (q / "model.safetensors").read_bytes()
            (dirs["quantized_reader"] / f"{method}-{fmt}").write_bytes(SEP.join([(q / "config.json").read_bytes(), st]))
            if fmt != "sq":
                continue
            header_len = int.from_bytes(st[:8], "little")
            header = json.loads(st[8:8 + header_len])
            data = st[8 + header_len:]
            for key, scheme in header.get("__metadata__", {}).items():
                if not key.startswith("sq.scheme."):
                    continue
                prefix = key[len("sq.scheme."):]
                parts = [scheme.encode()]
                for tname, info in header.items():
                    if tname.startswith(prefix + ".sq."):
                        b, e = info["data_offsets"]
                        parts += [tname[len(prefix) + 4:].encode(), data[b:e]]
                (dirs["layer_codec"] / f"{method}-{prefix.split('.')[-1]}").write_bytes(SEP.join(parts))
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {sum(1 for f in out.rglob('*') if f.is_file())} seeds, {total} bytes, under {out}")


if __name__ == "__main__":
    main()
