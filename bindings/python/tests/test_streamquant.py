"""The Python bindings against libstreamquant: every call goes through the C ABI."""
import ctypes
import json

import numpy as np
import pytest

import streamquant as sq
from streamquant import _errors, _lib

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def calibration(model, n_seqs=4, seq_len=32):
    vocab = model.describe()["vocab_size"]
    return np.random.default_rng(0).integers(0, vocab, size=(n_seqs, seq_len), dtype=np.int32)


def dequantize_gptq(t, prefix, bits):
    """W [rows, cols] from the sink's packed tensors (qzeros hold the zero points themselves)."""
    qweight, qzeros, g_idx = t[prefix + ".qweight"], t[prefix + ".qzeros"], t[prefix + ".g_idx"]
    scales = t[prefix + ".scales"].astype(np.float32)
    per_word = 32 // bits
    mask = (1 << bits) - 1
    words = qweight.view(np.uint32)
    shifts = (np.arange(per_word, dtype=np.uint32) * bits)
    codes = ((words[:, None, :] >> shifts[None, :, None]) & mask).reshape(-1, words.shape[1])  # [cols, rows]
    zwords = qzeros.view(np.uint32)
    zeros = ((zwords[:, :, None] >> shifts[None, None, :]) & mask).reshape(zwords.shape[0], -1)  # [groups, rows]
    s = scales[g_idx]  # [cols, rows]
    z = zeros[g_idx].astype(np.float32)
    return (s * (codes.astype(np.float32) - z)).T


def test_version_matches_header(abi_layout):
    assert sq.version_number() == abi_layout["SQ_VERSION_NUMBER"]
    major, minor, patch = map(int, sq.version().split("."))
    assert major * 10000 + minor * 100 + patch == abi_layout["SQ_VERSION_NUMBER"]


def test_abi_layout_matches_header(abi_layout):
    assert ctypes.sizeof(ctypes.c_size_t) == abi_layout["sizeof_size_t"]
    assert ctypes.sizeof(ctypes.c_void_p) == abi_layout["sizeof_pointer"]
    assert ctypes.sizeof(_lib.PROGRESS_FN) == abi_layout["sizeof_sq_progress_fn"]
    assert ctypes.sizeof(_lib.SINK_FN) == abi_layout["sizeof_sq_tensor_sink_fn"]
    assert ctypes.sizeof(_lib.LOG_FN) == abi_layout["sizeof_sq_log_fn"]
    assert _lib.MAX_DIMS == abi_layout["SQ_MAX_DIMS"]
    for name in [k for k in abi_layout if k.startswith("SQ_ERR_") or k == "SQ_OK"]:
        assert getattr(_errors, name[3:]) == abi_layout[name], name
    from streamquant._core import DTYPES
    for code, dname in DTYPES.items():
        assert abi_layout["SQ_DTYPE_" + dname] == code


def test_open_lists_and_reads_tensors(tiny_model):
    with sq.Model(tiny_model) as model:
        tensors = {t.name: t for t in model.tensors()}
        config = json.loads((tiny_model / "config.json").read_text())
        q = tensors["model.layers.0.self_attn.q_proj.weight"]
        assert q.shape == (config["hidden_size"], config["hidden_size"]) and q.dtype == "F32"
        expected = safetensors_numpy.load_file(str(tiny_model / "model.safetensors"))
        np.testing.assert_array_equal(model.read(q.name), expected[q.name])
        with pytest.raises(sq.StreamquantError) as err:
            model.read("no.such.tensor")
        assert err.value.code == _errors.ERR_NOT_FOUND and "no.such.tensor" in err.value.message


def test_bad_path_raises_the_library_message(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(sq.StreamquantError) as err:
        sq.Model(missing)
    assert err.value.code in (_errors.ERR_IO, _errors.ERR_NOT_FOUND)
    assert str(missing) in err.value.message
    assert err.value.code_name.startswith("SQ_ERR_")


def test_job_streams_tensors_that_equal_the_written_output(tiny_model, tmp_path):
    model = sq.Model(tiny_model, sq.Context(threads=1))
    job = sq.Job(model, method="gptq", bits=4, group_size=32, sym=False)
    job.set_calibration_tokens(calibration(model))
    seen = []
    job.on_progress(lambda p: seen.append(p))
    streamed = dict(job.stream())
    n_blocks = model.describe()["num_blocks"]
    assert [p.done for p in seen] == list(range(1, n_blocks + 1))
    assert all(p.total == n_blocks and p.eta >= 0 for p in seen)
    prefixes = sorted({name.rsplit(".", 1)[0] for name in streamed})
    assert len(prefixes) == 7 * n_blocks  # q, k, v, o, gate, up, down in each block
    job.write(tmp_path / "out", "gptq")
    with sq.Model(tmp_path / "out") as quantized:
        for prefix in prefixes:
            assert streamed[prefix + ".qweight"].dtype == np.int32
            np.testing.assert_array_equal(dequantize_gptq(streamed, prefix, 4), quantized.read(prefix + ".weight"))


def test_cancel_from_progress_by_return_or_raise(tiny_model, tmp_path):
    model = sq.Model(tiny_model)
    job = sq.Job(model, method="rtn")
    job.set_calibration_tokens(calibration(model))
    calls = []
    job.on_progress(lambda p: calls.append(p) or True)
    with pytest.raises(sq.StreamquantError) as err:
        job.run()
    assert err.value.code == _errors.ERR_CANCELLED and len(calls) == 1
    with pytest.raises(sq.StreamquantError) as err:
        job.write(tmp_path / "out", "gptq")
    assert err.value.code == _errors.ERR_STATE

    class Stop(Exception):
        pass

    job2 = sq.Job(model, method="rtn")
    job2.set_calibration_tokens(calibration(model))
    job2.on_progress(lambda p: (_ for _ in ()).throw(Stop("user stop")))
    with pytest.raises(Stop) as stop:
        job2.run()
    assert isinstance(stop.value.__cause__, sq.StreamquantError)


def test_bad_option_names_the_option(tiny_model):
    model = sq.Model(tiny_model)
    with pytest.raises(sq.StreamquantError) as err:
        sq.Job(model, bits=5)
    assert err.value.code == _errors.ERR_INVALID_ARGUMENT and "bits" in err.value.message


def test_quantize_layer_returns_a_consistent_grid():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.05, size=(16, 64)).astype(np.float32)
    x = rng.normal(size=(256, 64)).astype(np.float32)
    h = 2.0 / len(x) * x.T @ x
    layer = sq.quantize_layer(w, h, bits=4, group_size=32, method="gptq")
    assert layer.codes.shape == (16, 64) and layer.codes.max() < 16
    g_idx = layer.tensor("g_idx")
    rebuilt = layer.scales[g_idx, :].T * (layer.codes.astype(np.float32) - layer.zeros[g_idx, :].T)
    np.testing.assert_allclose(rebuilt, layer.dequant, rtol=0, atol=1e-6)
    assert layer.objective > 0
    rtn = sq.quantize_layer(w, None, bits=4, group_size=32, method="rtn")
    # Round to nearest: within half a step of each weight's own grid (a little more: scales are fp16).
    step = rtn.scales[rtn.tensor("g_idx"), :].T
    assert np.all(np.abs(rtn.dequant - w) <= 0.55 * step)
    with pytest.raises(sq.StreamquantError) as err:
        sq.quantize_layer(w, None, method="gptq")
    assert err.value.code == _errors.ERR_INVALID_ARGUMENT


def test_tokenizer_and_perplexity(tiny_model):
    model = sq.Model(tiny_model)
    tok = model.tokenizer()
    text = "Hello, streamed quantization!"
    ids = tok.encode(text)
    assert ids and tok.decode(ids) == text
    assert sq.Tokenizer(tiny_model / "tokenizer.json").encode(text) == ids
    tokens = calibration(model, 1, 64).reshape(-1)
    ppl = sq.perplexity(model, tokens, seq_len=32)
    logits = model.logits(tokens[:32])
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(31), tokens[1:32]]
    logits2 = model.logits(tokens[32:64])
    s2 = logits2 - logits2.max(axis=1, keepdims=True)
    lp2 = s2 - np.log(np.exp(s2).sum(axis=1, keepdims=True))
    nll = np.concatenate([nll, -lp2[np.arange(31), tokens[33:64]]])
    assert ppl == pytest.approx(float(np.exp(nll.mean())), rel=1e-4)
