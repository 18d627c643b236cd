"""streamquant's forward pass against Hugging Face transformers (float32, eager attention).

Builds tiny random models with bench/compare_transformers.py and requires logits within 1e-4 relative
(max |ours - ref| / max |ref|) and perplexity within 0.1%. Runs through libstreamquant.so when it exports
sq_model_open, else through the unit-test binary. Skips when torch or transformers is not installed.
With SQ_SMOLLM2_GGUF naming the SmolLM2-135M GGUF file (tools/fetch_smollm2.sh), the real model is
compared too, on State of the Union text (needs accelerate for transformers' GGUF loading).
"""
import ctypes
import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, LIB, SHARED_DIR, SOURCE_DIR

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed (pip install transformers)")


def _load_compare():
    path = SOURCE_DIR / "bench" / "compare_transformers.py"
    spec = importlib.util.spec_from_file_location("compare_transformers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compare = _load_compare()
UNIT_TESTS = BUILD_DIR / "bin" / "sq_unit_tests"


def _has_model_open():
    return LIB.exists() and hasattr(ctypes.CDLL(str(LIB)), "sq_model_open")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if not _has_model_open() and not UNIT_TESTS.exists():
        pytest.skip(f"neither {LIB} with sq_model_open nor {UNIT_TESTS} is built")
    out = tmp_path_factory.mktemp("parity")
    gguf, text = os.environ.get("SQ_SMOLLM2_GGUF"), None
    if gguf:
        pytest.importorskip("accelerate", reason="transformers needs accelerate to load GGUF files")
        text = out / "sotu-test.txt"
        with open(text, "wb") as f:
            subprocess.run(["zstd", "-d", "-c", str(SHARED_DIR / "data" / "text" / "sotu-test.txt.zst")], stdout=f,
                           check=True)
    return compare.compare(out, lib=str(LIB), unit_tests=str(UNIT_TESTS), gguf=gguf, text=str(text) if text else None)


CASES = list(compare.CASES) + ["smollm2_135m_gguf"]


def _result(results, case):
    if case not in results:
        pytest.skip("set SQ_SMOLLM2_GGUF to the SmolLM2-135M GGUF path to compare the real model")
    return results[case]


@pytest.mark.parametrize("case", CASES)
def test_logits_match(results, case):
    r = _result(results, case)
    assert r["logits_max_rel_diff"] <= compare.LOGITS_TOL, r


@pytest.mark.parametrize("case", CASES)
def test_perplexity_matches(results, case):
    r = _result(results, case)
    assert r["ppl_rel_diff"] <= compare.PPL_TOL, r
    assert r["tokens_scored"] == r["ref_tokens_scored"], r
