"""An independent reader of our GPTQ checkpoints, written from FORMATS.md with numpy + safetensors only: unpack
qweight / qzeros (LSB-first b-bit streams cut into int32 words), add 1 to v1 zeros, apply fp16 scales through
g_idx, and compare with the weights the library's own reader (sq_model_open on the output, as `eval` uses)
returns. Covers 2/3/4/8 bits, groups, per-channel and act-order (a non-trivial g_idx)."""
import ctypes
import json
import subprocess
import sys

import pytest

from conftest import CLI, LIB, SOURCE_DIR

np = pytest.importorskip("numpy")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

MAKE_TINY = SOURCE_DIR / "tools" / "make_tiny_model.py"


def unpack_stream(words, bits, count):
    """Values of a little-endian bit stream of `bits`-bit fields held in int32 words (last axis)."""
    as_bytes = words.astype("<i4").view(np.uint8).reshape(*words.shape[:-1], -1)
    stream = np.unpackbits(as_bytes, axis=-1, bitorder="little")
    fields = stream[..., : count * bits].reshape(*stream.shape[:-1], count, bits)
    return (fields.astype(np.int64) << np.arange(bits)).sum(axis=-1)


def dequantize_gptq(tensors, prefix, bits, v1):
    qweight = tensors[f"{prefix}.qweight"]           # [cols * bits / 32, rows]
    qzeros = tensors[f"{prefix}.qzeros"]             # [groups, rows * bits / 32]
    scales = tensors[f"{prefix}.scales"].astype(np.float32)  # [groups, rows]
    g_idx = tensors[f"{prefix}.g_idx"]               # [cols]
    rows = scales.shape[1]
    cols = qweight.shape[0] * 32 // bits
    codes = unpack_stream(np.ascontiguousarray(qweight.T), bits, cols)  # [rows, cols]
    zeros = unpack_stream(qzeros, bits, rows) + (1 if v1 else 0)        # [groups, rows]
    return (scales[g_idx].T * (codes - zeros[g_idx].T)).astype(np.float32)


def library_weight(out_dir, name, shape):
    lib = ctypes.CDLL(str(LIB))
    vp = ctypes.c_void_p
    for fn in ("sq_context_create", "sq_model_open", "sq_model_read_tensor_f32"):
        getattr(lib, fn).restype = vp
    lib.sq_context_create.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.sq_model_open.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_char_p]
    lib.sq_model_read_tensor_f32.argtypes = [vp, ctypes.c_char_p, vp, ctypes.c_size_t]
    lib.sq_model_free.argtypes = [vp]
    lib.sq_context_free.argtypes = [vp]
    ctx, model = vp(), vp()
    assert not lib.sq_context_create(ctypes.byref(ctx), b"cpu")
    try:
        assert not lib.sq_model_open(ctypes.byref(model), ctx, str(out_dir).encode())
        out = np.empty(shape, dtype=np.float32)
        assert not lib.sq_model_read_tensor_f32(model, name.encode(), out.ctypes.data, out.size)
        return out
    finally:
        lib.sq_model_free(model)
        lib.sq_context_free(ctx)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not CLI.exists() or not LIB.exists():
        pytest.skip("CLI or library not built")
    root = tmp_path_factory.mktemp("gptq_reader")
    model = root / "model"
    subprocess.run([sys.executable, str(MAKE_TINY), str(model)], check=True)
    config = json.loads((model / "config.json").read_text())
    calib = root / "calib.npy"
    np.save(calib, np.random.default_rng(1).integers(0, config["vocab_size"], size=2048, dtype=np.int32))
    return model, calib


@pytest.mark.parametrize("bits,group,act_order", [(4, 32, False), (3, -1, False), (2, 32, True), (8, 64, False)])
def test_numpy_reader_equals_the_library_reader(tiny, tmp_path, bits, group, act_order):
    model, calib = tiny
    out = tmp_path / "out"
    args = [str(CLI), "quantize", str(model), "-o", str(out), "--method", "gptq", "--bits", str(bits),
            "--group-size", str(group), "--calib", str(calib), "--nsamples", "4", "--seqlen", "32", "--threads", "1"]
    if act_order:
        args.append("--act-order")
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    v1 = qc["checkpoint_format"] == "gptq"
    tensors = safetensors_numpy.load_file(str(out / "model.safetensors"))
    prefixes = sorted(k[: -len(".qweight")] for k in tensors if k.endswith(".qweight"))
    assert prefixes
    for prefix in prefixes:
        mine = dequantize_gptq(tensors, prefix, bits, v1)
        theirs = library_weight(out, f"{prefix}.weight", mine.shape)
        # fp16 scale times a small integer is exact in fp32 either way: the two readers agree bit for bit.
        np.testing.assert_array_equal(mine, theirs, err_msg=prefix)
    if act_order:
        g_idx = tensors[f"{prefixes[0]}.g_idx"]
        assert not np.array_equal(g_idx, np.arange(g_idx.size) // group)  # the permuted grouping was exercised


def test_static_groups_keep_g_idx_in_column_order(tiny, tmp_path):
    """--static-groups with --act-order: groups are fitted on the original column order before the sweep, so
    g_idx is the plain column // group_size (as GPTQ's static_groups writes it) and the readers still agree."""
    model, calib = tiny
    out = tmp_path / "out"
    proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(out), "--method", "gptq", "--bits", "4",
                           "--group-size", "32", "--act-order", "--static-groups", "--calib", str(calib),
                           "--nsamples", "4", "--seqlen", "32", "--threads", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    v1 = json.loads((out / "config.json").read_text())["quantization_config"]["checkpoint_format"] == "gptq"
    tensors = safetensors_numpy.load_file(str(out / "model.safetensors"))
    prefixes = sorted(k[: -len(".qweight")] for k in tensors if k.endswith(".qweight"))
    assert prefixes
    for prefix in prefixes:
        g_idx = tensors[f"{prefix}.g_idx"]
        np.testing.assert_array_equal(g_idx, np.arange(g_idx.size) // 32, err_msg=prefix)
        mine = dequantize_gptq(tensors, prefix, 4, v1)
        np.testing.assert_array_equal(mine, library_weight(out, f"{prefix}.weight", mine.shape), err_msg=prefix)
