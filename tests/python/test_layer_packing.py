"""Packed checkpoint tensors from the C ABI (qweight, qzeros, fp16 scales, g_idx, lookup_table), decoded by
an independent numpy implementation of the FORMATS.md dequantization, equal the library's dequant exactly."""
import pathlib
import sys

import pytest

np = pytest.importorskip("numpy")
sys.path.insert(0, str(pathlib.Path(__file__).parent))
from conftest import LIB  # noqa: E402
from sq_layer_ctypes import LayerLib, SqError  # noqa: E402


@pytest.fixture(scope="module")
def lib():
    if not LIB.exists():
        pytest.skip(f"libstreamquant.so not built at {LIB}")
    return LayerLib(LIB)


def correlated_layer(seed, rows=64, cols=256, tokens=1024):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((tokens, cols)) @ (np.eye(cols) + 0.4 * rng.standard_normal((cols, cols)) / np.sqrt(cols)))
    X = (X * rng.uniform(0.2, 3.0, cols)).astype(np.float32)
    H = ((2.0 / tokens) * (X.T @ X)).astype(np.float32)
    W = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
    return W, H


def unpack_stream(words, count, bits):
    """Values [count, ...] from int32 words [count * bits / 32, ...]: one little-endian bit stream per
    trailing index, value k at stream bits [k * bits, k * bits + bits)."""
    u = words.astype(np.uint32).astype(np.uint64)
    out = np.zeros((count,) + words.shape[1:], dtype=np.int64)
    for k in range(count):
        pos = k * bits
        w, off = pos // 32, pos % 32
        v = u[w] >> np.uint64(off)
        if off + bits > 32:
            v |= u[w + 1] << np.uint64(32 - off)
        out[k] = (v & np.uint64((1 << bits) - 1)).astype(np.int64)
    return out


def dequant_gptq(qweight, qzeros, scales_f16, g_idx, rows, cols, bits, n_groups, v2):
    q = unpack_stream(qweight.reshape(cols * bits // 32, rows), cols, bits)           # [cols, rows]
    z = unpack_stream(qzeros.reshape(n_groups, rows * bits // 32).T, rows, bits).T     # [n_groups, rows]
    if not v2:
        z = z + 1
    s = scales_f16.reshape(n_groups, rows).view(np.float16).astype(np.float32)
    W = s[g_idx, :] * (q - z[g_idx, :]).astype(np.float32)                              # [cols, rows]
    return W.T


def dequant_lut(qweight, lookup_table, g_idx, rows, cols, bits):
    q = unpack_stream(qweight.reshape(cols * bits // 32, rows), cols, bits)           # [cols, rows]
    table = lookup_table.reshape(-1, 1 << bits)
    return table[g_idx[:, None] * rows + np.arange(rows)[None, :], q].T


CASES = [dict(method="gptq", bits=4, group_size=128), dict(method="gptq", bits=3, group_size=-1, act_order=True),
         dict(method="gptq", bits=2, group_size=64, sym=True), dict(method="leanquant-affine", bits=3, group_size=128),
         dict(method="rtn", bits=8, group_size=32), dict(method="gptq", bits=4, group_size=128, act_order=True)]


@pytest.mark.parametrize("fmt", ["gptq", "gptq_v2"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_affine_checkpoint_tensors_decode_to_dequant(lib, case, fmt):
    W, H = correlated_layer(seed=case["bits"] + 10 * (case["group_size"] > 0))
    try:
        out = lib.quantize(W, H, packed=True, checkpoint_format=fmt, **case)
    except SqError as e:
        # "gptq" (v1) cannot hold a zero point 0; the message must say so and name the way out.
        assert fmt == "gptq" and "gptq_v2" in e.message, e.message
        pytest.skip(f"layer has a zero point 0: {e.message}")
    rows, cols, bits, n_groups = out["rows"], out["cols"], out["bits"], out["n_groups"]
    assert out["qweight"].size == cols * bits // 32 * rows
    assert out["qzeros"].size == n_groups * rows * bits // 32
    # fp16 scales by default: the fp32 scales are fp16 values.
    np.testing.assert_array_equal(out["scales_f16"].view(np.float16).astype(np.float32), out["scales"])
    W_dec = dequant_gptq(out["qweight"], out["qzeros"], out["scales_f16"], out["g_idx"], rows, cols, bits, n_groups,
                         fmt == "gptq_v2")
    np.testing.assert_array_equal(W_dec.astype(np.float32).view(np.uint32), out["dequant"].view(np.uint32))
    if case.get("sym"):
        z = unpack_stream(out["qzeros"].reshape(n_groups, -1).T, rows, bits).T
        assert np.all(z == (1 << (bits - 1)) - (fmt == "gptq"))


@pytest.mark.parametrize("bits,group_size", [(3, -1), (4, 128), (2, -1)])
def test_lut_checkpoint_tensors_decode_to_dequant(lib, bits, group_size):
    W, H = correlated_layer(seed=40 + bits)
    out = lib.quantize(W, H, packed=True, method="leanquant", bits=bits, group_size=group_size)
    assert out["grid"] == 1 and out["qzeros"].size == 0 and out["scales"].size == 0
    assert out["lookup_table"].size == out["n_groups"] * out["rows"] * (1 << bits)
    W_dec = dequant_lut(out["qweight"], out["lookup_table"], out["g_idx"], out["rows"], out["cols"], bits)
    np.testing.assert_array_equal(W_dec.view(np.uint32), out["dequant"].view(np.uint32))


def test_unpackable_shapes_and_bad_format_are_explained(lib):
    W, H = correlated_layer(seed=3, rows=10, cols=40)  # 40 * 3 bits is not a multiple of 32
    out = lib.quantize(W, H, method="gptq", bits=4)     # the layer itself quantizes
    assert out["codes"].shape == (10, 40)
    with pytest.raises(SqError) as e:
        lib.quantize(W, H, packed=True, method="gptq", bits=3)
    assert "qweight" in e.value.message and "multiple of 32" in e.value.message
    with pytest.raises(SqError) as e:
        lib.quantize(W, H, checkpoint_format="gptq_v3")
    assert "checkpoint_format" in e.value.message
