"""CLAQ end to end on the tiny model: a fractional --bits target written in the sq format, its per-layer schemes
(column tables, reserved outliers, effective bits), and the errors for settings CLAQ cannot take."""
import json

import pytest

from test_quantize_e2e import quantize, stored_bits_per_weight, tiny  # noqa: F401  (tiny is a fixture)


def schemes_of(path):
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    return {k[len("sq.scheme."):]: json.loads(v) for k, v in header["__metadata__"].items() if k.startswith("sq.scheme.")}


def test_claq_fractional_bits_to_sq(tiny, tmp_path):  # noqa: F811
    model, calib, config = tiny
    out = tmp_path / "out"
    proc = quantize(model, calib, out, "--method", "claq", "--bits", "2.12", "--group-size", "-1", "--format", "sq")
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["method"] == "claq" and qc["target_bits"] == pytest.approx(2.12) and qc["bits"] == 4
    schemes = schemes_of(out / "model.safetensors")
    assert schemes, "no quantized layers in the output"
    for name, s in schemes.items():
        assert s["grid"] == "column-lut", name
        assert s["version"] == 2, name
        assert {"codes", "column_bits", "column_lut"} <= set(s["payloads"]), name
        # 2.12 bits: 2- and 4-bit columns; codes are stored at those widths.
        code_bits = 8 * s["payloads"]["codes"]["raw_bytes"] / (s["rows"] * s["cols"])
        assert code_bits == pytest.approx(2.12, abs=2.0 / s["cols"] + 8.0 / (s["rows"] * s["cols"])), name
        assert s["effective_bits"] > code_bits, name
        if s.get("outliers", 0):
            assert {"outlier_row_ptr", "outlier_col", "outlier_val"} <= set(s["payloads"]), name
    assert any(s.get("outliers", 0) > 0 for s in schemes.values()), "reservation kept no outlier anywhere"
    printed = float(proc.stdout.split("effective bits per weight:")[1].split()[0])
    assert printed == pytest.approx(stored_bits_per_weight(out / "model.safetensors", "sq"), abs=1e-4)


@pytest.mark.parametrize("extra,expected", [
    (["--method", "gptq", "--bits", "2.12", "--format", "sq"], "claq"),
    (["--method", "claq", "--bits", "3", "--group-size", "32", "--format", "sq"], "group_size"),
    (["--method", "claq", "--bits", "3", "--group-size", "-1", "--format", "gptq"], "column-lut"),
    (["--method", "claq", "--bits", "4.5", "--group-size", "-1", "--format", "sq"], "bits"),
])
def test_claq_bad_settings_are_named(tiny, tmp_path, extra, expected):  # noqa: F811
    model, calib, _ = tiny
    proc = quantize(model, calib, tmp_path / "out", *extra, check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
