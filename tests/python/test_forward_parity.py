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


def test_c_api_errors_name_the_cause(tmp_path):
    if not _has_model_open():
        pytest.skip(f"{LIB} does not export sq_model_open yet")
    import numpy as np

    ref = compare.build_case(tmp_path, "llama_tied_mha", seed=5)
    lib = ctypes.CDLL(str(LIB))
    vp = ctypes.c_void_p
    for fn in ("sq_context_create", "sq_model_open", "sq_model_logits", "sq_model_perplexity"):
        getattr(lib, fn).restype = vp
    lib.sq_context_create.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.sq_model_open.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_char_p]
    lib.sq_model_logits.argtypes = [vp, vp, ctypes.c_size_t, vp, ctypes.c_size_t]
    lib.sq_model_perplexity.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_size_t)]
    lib.sq_error_code.argtypes = [vp]
    lib.sq_error_message.argtypes = [vp]
    lib.sq_error_message.restype = ctypes.c_char_p
    lib.sq_error_free.argtypes = [vp]
    lib.sq_model_free.argtypes = [vp]
    lib.sq_context_free.argtypes = [vp]

    def error_of(err):
        assert err, "expected an error"
        code, msg = lib.sq_error_code(err), lib.sq_error_message(err).decode()
        lib.sq_error_free(err)
        return code, msg

    ctx, model = vp(), vp()
    assert not lib.sq_context_create(ctypes.byref(ctx), b"cpu")
    try:
        assert not lib.sq_model_open(ctypes.byref(model), ctx, str(tmp_path / "llama_tied_mha").encode())
        tokens = np.asarray(ref["tokens"][:10], dtype=np.int32)
        small = np.zeros(10 * ref["vocab"] - 1, dtype=np.float32)
        code, msg = error_of(lib.sq_model_logits(model, tokens.ctypes.data, 10, small.ctypes.data, small.size))
        assert code == 1 and "capacity" in msg and str(10 * ref["vocab"]) in msg, msg
        bad = np.asarray([1, 2, ref["vocab"]], dtype=np.int32)
        big = np.zeros(3 * ref["vocab"], dtype=np.float32)
        code, msg = error_of(lib.sq_model_logits(model, bad.ctypes.data, 3, big.ctypes.data, big.size))
        assert code == 1 and "position 2" in msg, msg
        ppl, scored = ctypes.c_double(-1.0), ctypes.c_size_t(0)
        code, msg = error_of(lib.sq_model_perplexity(model, tokens.ctypes.data, 10, 16, 0, ctypes.byref(ppl),
                                                     ctypes.byref(scored)))
        assert code == 1 and "seq_len 16" in msg, msg
        assert ppl.value == -1.0  # untouched on failure
    finally:
        lib.sq_model_free(model)
        lib.sq_context_free(ctx)
