"""End to end: quantize a tiny model with every method and format, read the outputs back, and check that an
interrupted --resume run produces the same bytes as an uninterrupted one."""
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

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
    root = tmp_path_factory.mktemp("tiny")
    model = root / "model"
    subprocess.run([sys.executable, str(MAKE_TINY), str(model)], check=True)
    config = json.loads((model / "config.json").read_text())
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, config["vocab_size"], size=4096, dtype=np.int32)
    calib = root / "calib.npy"
    np.save(calib, tokens)
    return model, calib, config


def quantize(model, calib, out, *extra, check=True):
    args = [str(CLI), "quantize", str(model), "-o", str(out), "--calib", str(calib), "--nsamples", "4",
            "--seqlen", "32", "--threads", "1", *map(str, extra)]
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.mark.parametrize("method,fmt", [("rtn", "gptq"), ("gptq", "gptq"), ("gptq", "sq"),
                                        ("leanquant", "lut"), ("leanquant", "sq"), ("leanquant-affine", "gptq")])
def test_quantize_writes_a_readable_output(tiny, tmp_path, method, fmt):
    model, calib, config = tiny
    out = tmp_path / "out"
    group = ["--group-size", "-1"] if fmt == "lut" else ["--group-size", "32"]
    proc = quantize(model, calib, out, "--method", method, "--bits", "4", "--format", fmt, *group)
    assert f"block {config['num_hidden_layers']}/{config['num_hidden_layers']}" in proc.stderr
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["quant_method"] == {"gptq": "gptq", "lut": "squeezellm", "sq": "streamquant"}[fmt]
    tensors = safetensors_numpy.load_file(str(out / "model.safetensors"))
    q = "model.layers.0.self_attn.q_proj"
    assert f"{q}.weight" not in tensors
    if fmt == "gptq":
        assert qc["checkpoint_format"] in ("gptq", "gptq_v2")
        assert tensors[f"{q}.qweight"].dtype == np.int32
        assert tensors[f"{q}.qweight"].shape == (config["hidden_size"] * 4 // 32, config["hidden_size"])
        assert tensors[f"{q}.scales"].dtype == np.float16
        assert (out / "quantize_config.json").exists()
    elif fmt == "lut":
        assert tensors[f"{q}.lookup_table"].shape == (config["hidden_size"], 16)
    else:
        assert tensors[f"{q}.sq.codes"].dtype == np.uint8
    assert "model.embed_tokens.weight" in tensors
    # Effective bits per weight, recomputed independently from the stored bytes of the quantized layers.
    printed = float(proc.stdout.split("effective bits per weight:")[1].split()[0])
    assert qc["effective_bits_per_weight"] == pytest.approx(printed, abs=1e-4)
    assert printed == pytest.approx(stored_bits_per_weight(out / "model.safetensors", fmt), abs=1e-4)


def stored_bits_per_weight(path, fmt):
    """8 * bytes of every tensor (and sq scheme) belonging to a quantized layer / weights those layers replace."""
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8:8 + header_len])
    meta = header.pop("__metadata__", {})
    size = {name: t["data_offsets"][1] - t["data_offsets"][0] for name, t in header.items()}
    if fmt == "sq":
        schemes = {k: json.loads(v) for k, v in meta.items() if k.startswith("sq.scheme.")}
        weights = sum(s["rows"] * s["cols"] for s in schemes.values())
        stored = sum(n for name, n in size.items() if ".sq." in name) + sum(len(meta[k]) for k in schemes)
        return 8 * stored / weights
    suffixes = (".qweight", ".qzeros", ".scales", ".g_idx", ".lookup_table")
    stored = sum(n for name, n in size.items() if name.endswith(suffixes))
    bits = json.loads((path.parent / "config.json").read_text())["quantization_config"]["bits"]
    weights = sum(n // 4 * 32 // bits for name, n in size.items() if name.endswith(".qweight"))  # int32 words
    return 8 * stored / weights


def test_resume_after_random_kills_gives_identical_bytes(tiny, tmp_path):
    """SIGKILL at seeded random points of a --resume run, then resume: the output is byte-identical to an
    uninterrupted run, and a killed run never leaves a partial output directory."""
    model, calib, config = tiny
    if config["num_hidden_layers"] < 2:
        pytest.skip("the tiny model needs at least two blocks to be interrupted between them")
    reference = tmp_path / "reference"
    started = time.monotonic()
    quantize(model, calib, reference, "--method", "gptq", "--format", "sq")
    duration = time.monotonic() - started
    expected = (reference / "model.safetensors").read_bytes()
    rng = random.Random(20261122)
    interrupted = trials = 0
    while interrupted < 10 and trials < 30:  # a loaded machine can finish a run before its kill point
        trial, trials = trials, trials + 1
        out, ckpt = tmp_path / f"out{trial}", tmp_path / f"ckpt{trial}"
        args = [str(CLI), "quantize", str(model), "-o", str(out), "--calib", str(calib), "--nsamples", "4",
                "--seqlen", "32", "--threads", "1", "--method", "gptq", "--format", "sq", "--resume",
                "--checkpoint-dir", str(ckpt)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.02, 0.8) * duration)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            interrupted += 1
        proc.wait()
        if out.exists():  # killed after the atomic rename: the output must be whole
            assert (out / "model.safetensors").read_bytes() == expected, f"trial {trial}: partial output"
            continue
        quantize(model, calib, out, "--method", "gptq", "--format", "sq", "--resume", "--checkpoint-dir", ckpt)
        assert (out / "model.safetensors").read_bytes() == expected, f"trial {trial}: resumed bytes differ"
    print(f"kill/resume: {interrupted} of {trials} runs interrupted, every resumed output byte-identical")
    assert interrupted >= 10, f"only {interrupted} of {trials} runs were interrupted"


def test_relative_model_path_copies_side_files(tiny, tmp_path):
    """A model opened by a relative path: side files (tokenizer_config.json, ...) are found and copied once."""
    model, calib, _ = tiny
    side = model / "tokenizer_config.json"
    side.write_text('{"model_max_length": 64}\n')
    out = tmp_path / "out"
    args = [str(CLI), "quantize", model.name, "-o", str(out), "--calib", str(calib), "--nsamples", "2", "--seqlen", "16",
            "--threads", "1", "--method", "rtn", "--group-size", "32"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=model.parent)
    assert proc.returncode == 0, proc.stderr
    assert (out / "tokenizer_config.json").read_text() == side.read_text()
