"""QuantEase through the CLI: plain QuantEase writes a GPTQ checkpoint; with outliers it needs the sq format
(the outliers travel as CSR payloads) and the GPTQ writer refuses it with a message that says why."""
import json

import pytest

from conftest import quantize_tiny

np = pytest.importorskip("numpy")
safetensors = pytest.importorskip("safetensors")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def quantize(tiny, out, *extra):
    return quantize_tiny(tiny, out, "--method", "quantease", "--sweeps", "4", *extra)


def test_plain_quantease_writes_gptq(tiny, tmp_path):
    proc = quantize(tiny, tmp_path / "out", "--bits", "4", "--group-size", "32", "--format", "gptq")
    assert proc.returncode == 0, proc.stderr
    tensors = safetensors_numpy.load_file(str(tmp_path / "out" / "model.safetensors"))
    assert tensors["model.layers.0.self_attn.q_proj.qweight"].dtype == np.int32


def test_outliers_travel_in_the_sq_format(tiny, tmp_path):
    out = tmp_path / "out"
    proc = quantize(tiny, out, "--bits", "3", "--group-size", "-1", "--format", "sq", "--outlier-fraction", "0.02",
                    "--outlier-structure", "unstructured", "--init", "gptq")
    assert proc.returncode == 0, proc.stderr
    with safetensors.safe_open(str(out / "model.safetensors"), "np") as f:
        meta = f.metadata()
        keys = set(f.keys())
    q = "model.layers.0.self_attn.q_proj"
    scheme = json.loads(meta[f"sq.scheme.{q}"])
    assert scheme["method"] == "quantease"
    assert scheme["outliers"] > 0
    for part in ("outlier_row_ptr", "outlier_col", "outlier_val"):
        assert f"{q}.sq.{part}" in keys


def test_gptq_format_refuses_outliers(tiny, tmp_path):
    proc = quantize(tiny, tmp_path / "out", "--bits", "3", "--group-size", "-1", "--format", "gptq",
                    "--outlier-fraction", "0.02")
    assert proc.returncode != 0
    assert "outliers" in proc.stderr and "sq" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_bad_option_is_named(tiny, tmp_path):
    proc = quantize(tiny, tmp_path / "out", "--sweeps", "0", "--format", "gptq")
    assert proc.returncode != 0
    assert "sweeps" in proc.stderr, proc.stderr


def test_damp_reaches_the_solver(tiny, tmp_path):
    # --damp sets the Hessian damping; a much larger value must change the codes the solver picks.
    outs = {}
    for damp in ("0.01", "1.0"):
        out = tmp_path / f"out-{damp}"
        proc = quantize(tiny, out, "--bits", "3", "--group-size", "-1", "--format", "gptq", "--damp", damp)
        assert proc.returncode == 0, proc.stderr
        outs[damp] = safetensors_numpy.load_file(str(out / "model.safetensors"))["model.layers.0.mlp.down_proj.qweight"]
    assert not np.array_equal(outs["0.01"], outs["1.0"])


def test_bad_damp_is_named(tiny, tmp_path):
    proc = quantize(tiny, tmp_path / "out", "--damp", "2", "--format", "gptq")
    assert proc.returncode != 0
    assert "damp" in proc.stderr and "[0, 1]" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
