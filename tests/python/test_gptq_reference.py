"""The library's GPTQ (through the C ABI) against a numpy model of the published algorithm."""
import itertools
import os
import pathlib
import sys

import pytest

np = pytest.importorskip("numpy")
sys.path.insert(0, str(pathlib.Path(__file__).parent))
from conftest import LIB  # noqa: E402
from reference_gptq import gptq, objective  # noqa: E402
from sq_layer_ctypes import LayerLib, SqError  # noqa: E402


@pytest.fixture(scope="module")
def lib():
    if not LIB.exists():
        pytest.skip(f"libstreamquant.so not built at {LIB}")
    return LayerLib(LIB)


def correlated_layer(seed, rows=96, cols=384, tokens=1536):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((tokens, cols)).astype(np.float32)
    A = (np.eye(cols) + 0.4 * rng.standard_normal((cols, cols)) / np.sqrt(cols)).astype(np.float32)
    X = (Z @ A) * rng.uniform(0.2, 3.0, cols).astype(np.float32)
    H = ((2.0 / tokens) * (X.T @ X)).astype(np.float32)
    W = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
    return W, H


CASES = [dict(bits=b, group_size=g, sym=s, act_order=a)
         for b, g, s, a in itertools.product([2, 3, 4, 8], [-1, 128], [False, True], [False, True])]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "b{bits}-g{group_size}-{s}-{a}".format(
    s="sym" if c["sym"] else "asym", a="act" if c["act_order"] else "seq", **c))
def test_codes_match_published_algorithm(lib, case):
    W, H = correlated_layer(seed=case["bits"] * 7 + (case["group_size"] > 0) + 2 * case["sym"] + 4 * case["act_order"])
    codes, Q, g_idx, scales, zeros = gptq(W, H, **case)
    # The published algorithm keeps fp32 scales until packing: compare with scale_dtype fp32.
    ours = lib.quantize(W, H, method="gptq", scale_dtype="fp32", **case)
    same = ours["codes"] == codes
    assert same.mean() >= 0.999, f"only {same.mean():.5f} of codes agree"
    if not same.all():
        # Differences may only be near-ties: the two dequantized values are one grid step apart.
        steps = np.abs(ours["dequant"] - Q)[~same]
        scale_at = ours["scales"][ours["g_idx"][None, :].repeat(W.shape[0], 0), np.arange(W.shape[0])[:, None]][~same]
        assert np.all(steps <= 1.01 * scale_at)
    np.testing.assert_array_equal(ours["g_idx"], g_idx)
    # Dequantized values are scale * (code - zero) of the same grids.
    np.testing.assert_allclose(ours["scales"], scales, rtol=1e-5, atol=0)
    np.testing.assert_array_equal(ours["zeros"], zeros)
    np.testing.assert_allclose(ours["dequant"][same], Q[same], rtol=1e-6, atol=1e-7)
    assert ours["objective"] == pytest.approx(objective(W, ours["dequant"], H), rel=1e-3)
    if case["act_order"]:
        np.testing.assert_array_equal(np.sort(ours["perm"]), np.arange(W.shape[1]))
    else:
        assert ours["perm"].size == 0


def test_static_groups_and_small_groups_match(lib):
    W, H = correlated_layer(seed=99, rows=64, cols=320)
    for case in (dict(bits=3, group_size=128, act_order=True, static_groups=True), dict(bits=4, group_size=32),
                 dict(bits=4, group_size=200, act_order=True)):
        codes, Q, g_idx, _, _ = gptq(W, H, **case)
        ours = lib.quantize(W, H, method="gptq", scale_dtype="fp32", **case)
        assert (ours["codes"] == codes).mean() >= 0.999, case
        np.testing.assert_array_equal(ours["g_idx"], g_idx)


def test_dead_inputs_are_zeroed_like_the_reference(lib):
    W, H = correlated_layer(seed=5, rows=32, cols=256)
    dead = [3, 100, 255]
    H[dead, :] = 0
    H[:, dead] = 0
    codes, Q, _, _, _ = gptq(W, H, bits=4, group_size=128)
    ours = lib.quantize(W, H, method="gptq", bits=4, group_size=128, scale_dtype="fp32")
    assert (ours["codes"] == codes).mean() >= 0.999
    assert np.all(ours["dequant"][:, dead] == 0)


def test_rtn_is_plain_rounding_and_worse_than_gptq(lib):
    W, H = correlated_layer(seed=11)
    rtn = lib.quantize(W, H, method="rtn", bits=3, group_size=128)
    g = lib.quantize(W, H, method="gptq", bits=3, group_size=128)
    # RTN: the grid of each group rounds W directly.
    for grp in range(rtn["n_groups"]):
        cols = slice(grp * 128, (grp + 1) * 128)
        s = rtn["scales"][grp][:, None]
        z = rtn["zeros"][grp][:, None]
        expect = np.clip(np.round(W[:, cols] / s) + z, 0, 7)
        np.testing.assert_array_equal(rtn["codes"][:, cols], expect.astype(np.uint8))
    assert g["objective"] < rtn["objective"]


def test_errors_are_clear(lib):
    W, H = correlated_layer(seed=3, rows=8, cols=64)
    with pytest.raises(SqError) as e:
        lib.quantize(W, H, bits=5)
    assert "bits must be 2, 3, 4 or 8; got 5" in e.value.message
    bad = W.copy()
    bad[2, 7] = np.nan
    with pytest.raises(SqError) as e:
        lib.quantize(bad, H)
    assert e.value.code == 6 and "W[2, 7] is NaN" in e.value.message
    with pytest.raises(SqError) as e:
        lib.quantize(W, None, method="gptq")
    assert e.value.code == 1 and "needs the Hessian" in e.value.message
