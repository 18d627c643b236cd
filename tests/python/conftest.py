"""Shared fixtures: where the build put the CLI and the library, and where the shared test data lives."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SQ_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SHARED_DIR = pathlib.Path(os.environ.get("SQ_SHARED_DIR", SOURCE_DIR.parent / "shared"))
BUILD_DIR = pathlib.Path(os.environ.get("SQ_BUILD_DIR", SOURCE_DIR / "build"))
CLI = pathlib.Path(os.environ.get("SQ_CLI", BUILD_DIR / "bin" / "streamquant"))
LIB = pathlib.Path(os.environ.get("SQ_LIB", BUILD_DIR / "lib" / "libstreamquant.so"))


def run_cli(*args, check=True):
    """Run the streamquant CLI; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"streamquant {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def cli():
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    return run_cli


def tiny_model_and_calib(root):
    """tools/make_tiny_model.py's default model under root/model and 4096 random calibration token ids
    (seed 0) in root/calib.npy; skips when the generator, the CLI or numpy is missing."""
    np = pytest.importorskip("numpy")
    make_tiny = SOURCE_DIR / "tools" / "make_tiny_model.py"
    if not make_tiny.exists():
        pytest.skip(f"{make_tiny} is not in the tree")
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    model = root / "model"
    subprocess.run([sys.executable, str(make_tiny), str(model)], check=True)
    config = json.loads((model / "config.json").read_text())
    calib = root / "calib.npy"
    np.save(calib, np.random.default_rng(0).integers(0, config["vocab_size"], size=4096, dtype=np.int32))
    return model, calib


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, calib) from tiny_model_and_calib, once per test module (a module may define its own `tiny`)."""
    return tiny_model_and_calib(tmp_path_factory.mktemp("tiny"))


def quantize_tiny(tiny, out, *extra):
    """`streamquant quantize` of the tiny model into out on 4 x 32 calibration tokens, one thread."""
    model, calib = tiny
    args = [str(CLI), "quantize", str(model), "-o", str(out), "--calib", str(calib), "--nsamples", "4",
            "--seqlen", "32", "--threads", "1", *map(str, extra)]
    return subprocess.run(args, capture_output=True, text=True)
