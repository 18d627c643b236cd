"""streamquant's forward pass against Hugging Face transformers (float32, eager attention).

Builds tiny random models with bench/compare_transformers.py and requires logits within 1e-4 relative
(max |ours - ref| / max |ref|) and perplexity within 0.1%. Runs through libstreamquant.so when it exports
sq_model_open, else through the unit-test binary. Skips when torch or transformers is not installed.
"""
import ctypes
import importlib.util
import sys

import pytest

from conftest import BUILD_DIR, LIB, SOURCE_DIR

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
    return compare.compare(out, lib=str(LIB), unit_tests=str(UNIT_TESTS))


@pytest.mark.parametrize("case", list(compare.CASES))
def test_logits_match(results, case):
    r = results[case]
    assert r["logits_max_rel_diff"] <= compare.LOGITS_TOL, r


@pytest.mark.parametrize("case", list(compare.CASES))
def test_perplexity_matches(results, case):
    r = results[case]
    assert r["ppl_rel_diff"] <= compare.PPL_TOL, r
    assert r["tokens_scored"] == r["ref_tokens_scored"], r
