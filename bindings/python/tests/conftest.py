"""Fixtures: the tiny model and the header's ABI facts, taken from tests/bindings/run_all.sh's environment
(SQ_TINY_MODEL, SQ_ABI_LAYOUT) or made here when the suite runs on its own."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[3]
# Test the package in this tree, installed or not.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    env = os.environ.get("SQ_TINY_MODEL")
    if env:
        return pathlib.Path(env)
    out = tmp_path_factory.mktemp("tiny") / "model"
    proc = subprocess.run([sys.executable, str(SOURCE_DIR / "tools" / "make_tiny_model.py"), str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"tools/make_tiny_model.py could not make the tiny model: {proc.stderr.strip()}")
    return out


@pytest.fixture(scope="session")
def abi_layout(tmp_path_factory):
    """name -> int from tests/bindings/abi_layout.c (sizes and constants as the C compiler sees them)."""
    path = os.environ.get("SQ_ABI_LAYOUT")
    if not path:
        cc = os.environ.get("CC", "cc")
        if shutil.which(cc) is None:
            pytest.skip("no C compiler to build tests/bindings/abi_layout.c")
        exe = tmp_path_factory.mktemp("abi") / "abi_layout"
        subprocess.run([cc, "-std=c99", f"-I{SOURCE_DIR / 'include'}", str(SOURCE_DIR / "tests/bindings/abi_layout.c"),
                        "-o", str(exe)], check=True)
        path = exe.with_suffix(".txt")
        path.write_text(subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout)
    return {k: int(v) for k, v in (line.split() for line in pathlib.Path(path).read_text().splitlines())}
