"""A tiny model made by tools/make_tiny_model.py (with the reference `safetensors` writer) goes through
`streamquant convert`, i.e. our reader and our SafetensorsWriter; the reference reader must then see the
same tensor names, shapes and values, bit for bit where the conversion is exact."""
import json
import os
import pathlib
import struct
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")
safetensors = pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402

from conftest import SHARED_DIR, SOURCE_DIR  # noqa: E402

MAKE_TINY = SOURCE_DIR / "tools" / "make_tiny_model.py"


@pytest.fixture(scope="module")
def convert_cli(cli):
    # The subcommands register themselves; the top-level help lists those this build has.
    proc = cli("--help", check=False)
    if "convert" not in proc.stdout:
        pytest.skip("this build's CLI has no `convert` subcommand (streamquant --help does not list it)")
    return cli


def make_tiny(out, *args):
    if not (SHARED_DIR / "data" / "tokenizers").is_dir():
        pytest.skip(f"shared tokenizers not found under {SHARED_DIR}/data/tokenizers")
    subprocess.run([sys.executable, str(MAKE_TINY), str(out), *map(str, args)], check=True,
                   capture_output=True, text=True, env={**os.environ, "SQ_SHARED_DIR": str(SHARED_DIR)})
    return out


def read_raw(path):
    """name -> (dtype, shape, bytes), parsed by hand so that BF16 works without torch."""
    data = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    return {k: (v["dtype"], tuple(v["shape"]), body[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}, n


def source_tensors(model_dir):
    out = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        out.update(read_raw(f)[0])
    return out


def as_f32(dtype, shape, raw):
    if dtype == "F32":
        return np.frombuffer(raw, "<f4").reshape(shape)
    if dtype == "F16":
        return np.frombuffer(raw, "<f2").astype(np.float32).reshape(shape)
    if dtype == "BF16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    raise AssertionError(f"unexpected dtype {dtype}")


def reference_read(path):
    with safe_open(str(path), framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


CASES = [
    # (arch, source dtype, shards, --dtype for convert, expected output dtype)
    ("llama", "f32", 1, "f32", "F32"),
    ("qwen2", "f16", 1, "f16", "F16"),
    ("qwen3", "bf16", 3, "f32", "F32"),
    ("mistral", "f32", 2, "f16", "F16"),
]


@pytest.mark.parametrize("arch,src_dtype,shards,out_dtype,st_dtype", CASES)
def test_convert_round_trip(convert_cli, tmp_path, arch, src_dtype, shards, out_dtype, st_dtype):
    src = make_tiny(tmp_path / "src", "--arch", arch, "--dtype", src_dtype, "--shards", shards, "--seed", 7)
    out = tmp_path / "out"
    convert_cli("convert", src, "-o", out, "--dtype", out_dtype)

    written = out / "model.safetensors"
    raw, header_len = read_raw(written)
    assert (8 + header_len) % 8 == 0, "data section must start 8-byte aligned"
    assert not [p.name for p in tmp_path.iterdir() if ".tmp." in p.name], "temporary outputs left behind"

    expected = source_tensors(src)
    got = reference_read(written)  # the reference reader accepts our file...
    assert sorted(got) == sorted(expected)
    for name, (dtype, shape, data) in expected.items():
        assert raw[name][0] == st_dtype, name
        assert got[name].shape == shape, name
        src_f32 = as_f32(dtype, shape, data)
        if st_dtype == "F32":
            # Widening F32/F16/BF16 to F32 is exact.
            want = src_f32
        else:
            # F16 -> F16 is a byte copy; F32 -> F16 rounds to nearest even, as numpy does.
            want = np.frombuffer(data, "<f2").reshape(shape) if dtype == "F16" else src_f32.astype(np.float16)
        assert got[name].dtype == want.dtype, name
        assert got[name].tobytes() == want.tobytes(), f"{name}: values differ"  # ...and sees identical bits

    config = json.loads((out / "config.json").read_text())
    src_config = json.loads((src / "config.json").read_text())
    for key in ("architectures", "hidden_size", "num_hidden_layers", "num_key_value_heads", "vocab_size",
                "tie_word_embeddings", "rope_theta"):
        assert config[key] == src_config[key], key
    assert (out / "tokenizer.json").read_bytes() == (src / "tokenizer.json").read_bytes()


def test_make_tiny_model_is_deterministic(tmp_path):
    a = make_tiny(tmp_path / "a", "--arch", "qwen3", "--dtype", "bf16", "--shards", "2", "--seed", "3")
    b = make_tiny(tmp_path / "b", "--arch", "qwen3", "--dtype", "bf16", "--shards", "2", "--seed", "3")
    c = make_tiny(tmp_path / "c", "--arch", "qwen3", "--dtype", "bf16", "--shards", "2", "--seed", "4")
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    assert (a / "model-00001-of-00002.safetensors").read_bytes() != (c / "model-00001-of-00002.safetensors").read_bytes()


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3", "mistral"])
def test_make_tiny_model_layout(tmp_path, arch):
    d = make_tiny(tmp_path / arch, "--arch", arch)
    cfg = json.loads((d / "config.json").read_text())
    tensors = reference_read(d / "model.safetensors")
    tok = json.loads((d / "tokenizer.json").read_text())
    vocab = max([*tok["model"]["vocab"].values(), *(t["id"] for t in tok["added_tokens"])]) + 1
    assert cfg["vocab_size"] == vocab
    assert cfg["num_key_value_heads"] < cfg["num_attention_heads"]
    h, hd = cfg["hidden_size"], cfg["head_dim"]
    assert tensors["model.embed_tokens.weight"].shape == (vocab, h)
    assert tensors["model.layers.1.self_attn.k_proj.weight"].shape == (cfg["num_key_value_heads"] * hd, h)
    assert tensors["model.layers.0.mlp.down_proj.weight"].shape == (h, cfg["intermediate_size"])
    assert ("lm_head.weight" in tensors) == (not cfg["tie_word_embeddings"])
    assert ("model.layers.0.self_attn.q_proj.bias" in tensors) == (arch == "qwen2")
    assert ("model.layers.0.self_attn.q_norm.weight" in tensors) == (arch == "qwen3")
    norm = tensors["model.norm.weight"]
    assert abs(float(norm.mean()) - 1.0) < 0.05
    q = tensors["model.layers.0.self_attn.q_proj.weight"]
    assert 0.01 < float(q.std()) < 0.04
