"""HIGGS and RTN end to end on the tiny model: data-free methods quantize with no calibration file and no
forward pass, the sq output opens for evaluation, and formats that cannot hold a rotated Gaussian layer say so."""
import json
import subprocess
import sys

import pytest

from conftest import CLI, SOURCE_DIR

np = pytest.importorskip("numpy")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

MAKE_TINY = SOURCE_DIR / "tools" / "make_tiny_model.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not MAKE_TINY.exists():
        pytest.skip(f"{MAKE_TINY} is not in the tree")
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    root = tmp_path_factory.mktemp("tiny_higgs")
    model = root / "model"
    # hidden 96 is not a power of two: with --hadamard-size 64 the rows are padded to 128.
    subprocess.run([sys.executable, str(MAKE_TINY), str(model), "--layers", "3", "--hidden", "96",
                    "--intermediate", "128", "--heads", "3", "--kv-heads", "1", "--head-dim", "32"], check=True)
    config = json.loads((model / "config.json").read_text())
    text = root / "eval.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 40)
    tokens = np.random.default_rng(0).integers(0, config["vocab_size"], size=4096, dtype=np.int32)
    calib = root / "calib.npy"
    np.save(calib, tokens)
    return model, config, text, calib


def quantize(model, out, *extra, check=True):
    args = [str(CLI), "quantize", str(model), "-o", str(out), "--threads", "1", *map(str, extra)]
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def perplexity(path, text):
    proc = subprocess.run([str(CLI), "eval", str(path), "--text", str(text), "--seqlen", "64", "--threads", "1",
                           "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["perplexity"]


@pytest.mark.parametrize("method,bits,grid_dim", [("higgs", 4, 2), ("higgs", 2, 2), ("higgs", 3, 1)])
def test_higgs_without_calibration_writes_an_sq_model_that_evaluates(tiny, tmp_path, method, bits, grid_dim):
    model, config, text, _ = tiny
    out = tmp_path / "out"
    proc = quantize(model, out, "--method", method, "--bits", bits, "--grid-dim", grid_dim, "--group-size", "32",
                    "--hadamard-size", "64", "--random-signs", "--rotation-seed", "3", "--format", "sq", "-v")
    layers = config["num_hidden_layers"]
    assert f"block {layers}/{layers}" in proc.stderr
    assert "data-free" not in proc.stderr  # no calibration was given, so none had to be ignored
    meta = json.loads(out.joinpath("model.safetensors").read_bytes()[8:8 + int.from_bytes(
        out.joinpath("model.safetensors").read_bytes()[:8], "little")])["__metadata__"]
    scheme = json.loads(meta["sq.scheme.model.layers.0.self_attn.q_proj"])
    assert scheme["grid"] == "gaussian"
    assert scheme["grid_dim"] == grid_dim and scheme["grid_points"] == 2 ** (bits * grid_dim)
    assert scheme["rotation"] == {"type": "hadamard", "size": 64, "random_signs": True, "seed": 3,
                                  "cols_padded": 128}
    assert scheme["n_groups"] == 128 // 32
    ppl_q = perplexity(out, text)
    ppl_fp = perplexity(model, text)
    assert np.isfinite(ppl_q) and ppl_q > 1.0
    assert ppl_q != ppl_fp  # the weights were replaced by their quantized form


def test_higgs_is_deterministic_and_resumable(tiny, tmp_path):
    model, _, _, _ = tiny
    a, b = tmp_path / "a", tmp_path / "b"
    quantize(model, a, "--method", "higgs", "--bits", "3", "--group-size", "64", "--hadamard-size", "64", "--format", "sq")
    ckpt = tmp_path / "ckpt"
    quantize(model, b, "--method", "higgs", "--bits", "3", "--group-size", "64", "--hadamard-size", "64", "--format", "sq",
             "--resume", "--checkpoint-dir", ckpt)
    assert json.loads((ckpt / "state.json").read_text())["next_block"] == 3
    assert not list(ckpt.glob("activations_*")), "a data-free job keeps no activations"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    # A second run on the finished checkpoint resumes at the end and writes the same bytes.
    c = tmp_path / "c"
    proc = quantize(model, c, "--method", "higgs", "--bits", "3", "--group-size", "64", "--hadamard-size", "64",
                    "--format", "sq", "--resume", "--checkpoint-dir", ckpt, "-v")
    assert "resuming" in proc.stderr
    assert (c / "model.safetensors").read_bytes() == (a / "model.safetensors").read_bytes()


def test_rtn_needs_no_calibration_and_ignores_it(tiny, tmp_path):
    model, _, _, calib = tiny
    plain, with_calib = tmp_path / "plain", tmp_path / "with_calib"
    quantize(model, plain, "--method", "rtn", "--bits", "4", "--group-size", "32")
    proc = quantize(model, with_calib, "--method", "rtn", "--bits", "4", "--group-size", "32", "--calib", calib, "-v")
    assert "data-free" in proc.stderr
    assert (plain / "model.safetensors").read_bytes() == (with_calib / "model.safetensors").read_bytes()


def test_methods_that_need_calibration_say_so(tiny, tmp_path):
    model, _, _, _ = tiny
    for method in ("gptq", "higgs-gptq"):
        proc = quantize(model, tmp_path / method, "--method", method, "--bits", "4", "--hadamard-size", "64",
                        "--group-size", "32", check=False)
        assert proc.returncode != 0
        assert "calibration" in proc.stderr and method in proc.stderr
        assert not (tmp_path / method).exists()


def test_higgs_gptq_writes_an_sq_model(tiny, tmp_path):
    model, _, text, calib = tiny
    out = tmp_path / "out"
    quantize(model, out, "--method", "higgs-gptq", "--bits", "4", "--group-size", "64", "--hadamard-size", "64",
             "--calib", calib, "--nsamples", "4", "--seqlen", "32", "--format", "sq")
    assert np.isfinite(perplexity(out, text))


def test_formats_without_rotation_refuse_higgs(tiny, tmp_path):
    model, _, _, _ = tiny
    for fmt in ("gptq", "lut"):
        proc = quantize(model, tmp_path / fmt, "--method", "higgs", "--bits", "4", "--group-size", "-1",
                        "--hadamard-size", "64", "--format", fmt, check=False)
        assert proc.returncode != 0
        assert "gaussian" in proc.stderr and "'sq'" in proc.stderr
        assert not (tmp_path / fmt).exists()
