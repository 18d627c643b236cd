"""tools/make_synthetic_llama.py (the generator behind the GPU benchmarks at Llama-3 sizes): its small preset
is a valid model that the CLI quantizes from random calibration tokens, every tensor has the shape its
config implies, and the same seed gives the same bytes."""
import hashlib
import json
import struct
import subprocess
import sys

import pytest

from conftest import CLI, SOURCE_DIR

np = pytest.importorskip("numpy")
GEN = SOURCE_DIR / "tools" / "make_synthetic_llama.py"


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def make(out, *extra):
    subprocess.run([sys.executable, str(GEN), str(out), "--preset", "small", *extra], check=True, capture_output=True)


def test_shapes_follow_the_config_and_seed_is_reproducible(tmp_path):
    make(tmp_path / "a")
    make(tmp_path / "b")
    make(tmp_path / "c", "--seed", "1")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    h, inter, kv = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_key_value_heads"] * cfg["head_dim"]
    hdr = header(tmp_path / "a" / "model.safetensors")
    assert hdr["model.layers.1.self_attn.k_proj.weight"]["shape"] == [kv, h]
    assert hdr["model.layers.1.mlp.down_proj.weight"]["shape"] == [h, inter]
    assert hdr["lm_head.weight"]["shape"] == [cfg["vocab_size"], h]
    assert all(t["dtype"] == "BF16" for t in hdr.values())
    digest = lambda d: hashlib.sha256((tmp_path / d / "model.safetensors").read_bytes()).hexdigest()
    assert digest("a") == digest("b") != digest("c")
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_cli_quantizes_the_small_preset(tmp_path):
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    make(tmp_path / "m")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).integers(0, 1024, size=4096, dtype=np.int32))
    r = subprocess.run([str(CLI), "quantize", str(tmp_path / "m"), "-o", str(tmp_path / "q"), "--calib", str(calib),
                        "--nsamples", "4", "--seqlen", "64", "--threads", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "effective bits per weight" in r.stdout
