"""Dynamic bit allocation on the tiny random model: calibrate-sensitivity gives finite alphas and is
deterministic for a seed; quantize --target-bpw feeds the DP's per-layer bits into the job, stays within the
budget, records the plan in the output, and the output opens for eval; an explicit --bit-plan is honoured."""
import json
import subprocess
import sys

import pytest

from conftest import CLI, SOURCE_DIR

np = pytest.importorskip("numpy")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

MAKE_TINY = SOURCE_DIR / "tools" / "make_tiny_model.py"
WORDS = ("the state union people nation congress year government world peace war law must our great "
         "america new work time free power public country years first economy strong future children").split()


def run(*args):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"streamquant {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not MAKE_TINY.exists():
        pytest.skip(f"{MAKE_TINY} is not in the tree")
    if not CLI.exists():
        pytest.skip(f"CLI not built at {CLI}")
    root = tmp_path_factory.mktemp("bitalloc")
    model = root / "model"
    subprocess.run([sys.executable, str(MAKE_TINY), str(model), "--layers", "2"], check=True)
    rng = np.random.default_rng(1)
    text = root / "text.txt"
    text.write_text(" ".join(rng.choice(WORDS, size=3000)) + "\n")
    calib = root / "calib.npy"
    config = json.loads((model / "config.json").read_text())
    np.save(calib, rng.integers(0, config["vocab_size"], size=4096, dtype=np.int32))
    alphas = root / "alphas.json"
    run("calibrate-sensitivity", model, "--text", text, "-o", alphas, "--seqlen", "64", "--max-tokens", "128",
        "--noise-levels", "0.05", "--seed", "3", "--threads", "1")
    return model, text, calib, alphas, config


def layer_names(config):
    names = []
    for b in range(config["num_hidden_layers"]):
        for n in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
            names.append(f"model.layers.{b}.{n}")
    return names


def test_sensitivity_is_finite_positive_and_deterministic(tiny, tmp_path):
    model, text, _, alphas, config = tiny
    doc = json.loads(alphas.read_text())
    assert [l["name"] for l in doc["layers"]] == layer_names(config)
    assert np.isfinite(doc["base_ppl"]) and doc["base_ppl"] > 1
    assert doc["tokens_scored"] == 2 * 63
    for l in doc["layers"]:
        assert np.isfinite(l["alpha"]) and np.isfinite(l["alpha_nll"])
        assert l["numel"] == l["rows"] * l["cols"] > 0
        assert len(l["dppl"]) == 1
        # One level: the least-squares slope through the origin is the increase over t.
        assert l["alpha"] == pytest.approx(l["dppl"][0] / 0.05, rel=1e-9, abs=1e-12)
    # A random model is not at a loss minimum, so the sign of alpha is not fixed here (on a trained model
    # the second-order term that antithetic noise leaves is positive); it must not be identically zero.
    assert any(abs(l["alpha"]) > 0 for l in doc["layers"])

    again = tmp_path / "again.json"
    run("calibrate-sensitivity", model, "--text", text, "-o", again, "--seqlen", "64", "--max-tokens", "128",
        "--noise-levels", "0.05", "--seed", "3", "--threads", "1")
    assert [l["alpha"] for l in json.loads(again.read_text())["layers"]] == [l["alpha"] for l in doc["layers"]]

    other = tmp_path / "other.json"
    run("calibrate-sensitivity", model, "--text", text, "-o", other, "--seqlen", "64", "--max-tokens", "128",
        "--noise-levels", "0.05", "--seed", "4", "--threads", "1")
    assert [l["alpha"] for l in json.loads(other.read_text())["layers"]] != [l["alpha"] for l in doc["layers"]]


def eval_ppl(model, text):
    out = run("eval", model, "--text", text, "--seqlen", "64", "--max-tokens", "256", "--json", "--threads", "1")
    return json.loads(out.stdout)["perplexity"]


@pytest.mark.parametrize("fmt", ["gptq", "sq"])
def test_target_bpw_allocates_by_alpha(tiny, tmp_path, fmt):
    model, text, calib, alphas, config = tiny
    # Skewed alphas: the first block's layers are 1000x as sensitive as the second's.
    doc = json.loads(alphas.read_text())
    for l in doc["layers"]:
        l["alpha"] = 1000.0 if l["name"].startswith("model.layers.0.") else 1.0
    skewed = tmp_path / "skewed.json"
    skewed.write_text(json.dumps(doc))
    out = tmp_path / "out"
    target = 3.25
    run("quantize", model, "-o", out, "--calib", calib, "--nsamples", "4", "--seqlen", "32", "--threads", "1",
        "--method", "rtn", "--group-size", "32", "--format", fmt, "--target-bpw", target, "--sensitivity", skewed)
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    per_layer = qc["per_layer"]
    assert sorted(per_layer) == sorted(layer_names(config))
    bits0 = [per_layer[n]["bits"] for n in per_layer if n.startswith("model.layers.0.")]
    bits1 = [per_layer[n]["bits"] for n in per_layer if n.startswith("model.layers.1.")]
    assert min(bits0) > max(bits1), (bits0, bits1)
    # The budget holds, counted from the recorded choices with the stated formula.
    numel = {l["name"]: l["numel"] for l in doc["layers"]}
    cols = {l["name"]: l["cols"] for l in doc["layers"]}
    total = sum(numel[n] * (e["bits"] + (16 + e["bits"]) / 32) for n, e in per_layer.items())
    achieved = total / sum(numel.values())
    assert achieved <= target + 1e-9
    assert abs(qc["achieved_bpw"] - achieved) < 1e-9
    assert qc["target_bpw"] == target
    assert all(cols[n] % 32 == 0 for n in cols)
    if fmt == "gptq":
        tensors = safetensors_numpy.load_file(str(out / "model.safetensors"))
        for n, e in per_layer.items():
            assert tensors[f"{n}.qweight"].shape[0] == cols[n] * e["bits"] // 32
        assert any(k.startswith("+:^model\\.layers\\.") for k in qc["dynamic"])
    ppl = eval_ppl(out, text)
    assert np.isfinite(ppl) and ppl > 1


def test_target_bpw_with_higgs_picks_gaussian_grids(tiny, tmp_path):
    """HIGGS: the options are the 2/3/4-bit Gaussian grids (cost log2(n)/p + 16/group, t = the grid's MSE)."""
    model, text, calib, alphas, config = tiny
    doc = json.loads(alphas.read_text())
    for l in doc["layers"]:
        l["alpha"] = 1000.0 if l["name"].startswith("model.layers.0.") else 1.0
    skewed = tmp_path / "skewed.json"
    skewed.write_text(json.dumps(doc))
    out = tmp_path / "out"
    target = 3.0
    run("quantize", model, "-o", out, "--threads", "1", "--method", "higgs", "--hadamard-size", "32",
        "--group-size", "32", "--format", "sq", "--target-bpw", target, "--sensitivity", skewed)
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    per_layer = qc["per_layer"]
    bits0 = [per_layer[n]["bits"] for n in per_layer if n.startswith("model.layers.0.")]
    bits1 = [per_layer[n]["bits"] for n in per_layer if n.startswith("model.layers.1.")]
    assert set(bits0 + bits1) <= {2, 3, 4}
    assert min(bits0) > max(bits1), (bits0, bits1)
    for e in per_layer.values():
        assert e["bits_per_weight"] == pytest.approx(e["bits"] + 16 / 32)
    assert qc["achieved_bpw"] <= target + 1e-9
    ppl = eval_ppl(out, text)
    assert np.isfinite(ppl) and ppl > 1


def test_bit_plan_file_is_honoured_and_changes_the_output(tiny, tmp_path):
    model, text, calib, _, config = tiny
    plan = {n: (2 if "mlp" in n else 8) for n in layer_names(config)}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    out = tmp_path / "planned"
    run("quantize", model, "-o", out, "--calib", calib, "--nsamples", "4", "--seqlen", "32", "--threads", "1",
        "--method", "gptq", "--group-size", "32", "--bit-plan", plan_file)
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert {n: e["bits"] for n, e in qc["per_layer"].items()} == plan
    for n, e in qc["per_layer"].items():
        assert 0 < e["rel_mse_rtn"] < 1
    tensors = safetensors_numpy.load_file(str(out / "model.safetensors"))
    h = config["hidden_size"]
    assert tensors["model.layers.0.self_attn.q_proj.qweight"].shape[0] == h * 8 // 32
    assert tensors["model.layers.0.mlp.up_proj.qweight"].shape[0] == h * 2 // 32
    assert np.isfinite(eval_ppl(out, text))

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model.layers.0.self_attn.qq_proj": 4}))
    proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(tmp_path / "bad_out"), "--calib", str(calib),
                           "--nsamples", "4", "--seqlen", "32", "--bit-plan", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "qq_proj" in proc.stderr


def test_target_bpw_needs_a_sensitivity_file(tiny, tmp_path):
    model, _, calib, _, _ = tiny
    proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(tmp_path / "o"), "--calib", str(calib),
                           "--nsamples", "4", "--seqlen", "32", "--target-bpw", "3"], capture_output=True, text=True)
    assert proc.returncode != 0 and "sensitivity_file" in proc.stderr


def test_plan_bits_restricts_the_widths_the_allocation_may_use(tiny, tmp_path):
    """--plan-bits 3,4,8: the DP never picks 2 bits, even where the alphas make 2 bits the cheapest choice."""
    model, _, calib, alphas, config = tiny
    doc = json.loads(alphas.read_text())
    for l in doc["layers"]:
        l["alpha"] = 1000.0 if l["name"].startswith("model.layers.0.") else 1e-6
    skewed = tmp_path / "skewed.json"
    skewed.write_text(json.dumps(doc))
    common = ["--calib", calib, "--nsamples", "4", "--seqlen", "32", "--threads", "1", "--method", "rtn",
              "--group-size", "32", "--target-bpw", "3.6", "--sensitivity", skewed]
    free = tmp_path / "free"
    run("quantize", model, "-o", free, *common)
    free_bits = {e["bits"] for e in json.loads((free / "config.json").read_text())["quantization_config"]["per_layer"].values()}
    assert 2 in free_bits, free_bits  # without the restriction the insensitive block goes to 2 bits
    held = tmp_path / "held"
    run("quantize", model, "-o", held, *common, "--plan-bits", "8,3,4")
    qc = json.loads((held / "config.json").read_text())["quantization_config"]
    assert {e["bits"] for e in qc["per_layer"].values()} <= {3, 4, 8}
    assert qc["plan_bits"] == [3, 4, 8]
    assert qc["achieved_bpw"] <= 3.6 + 1e-9

    for bad, word in (("3,5", "'5'"), ("x", "plan_bits")):
        proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(tmp_path / "bad"), *map(str, common),
                               "--plan-bits", bad], capture_output=True, text=True)
        assert proc.returncode != 0 and "plan_bits" in proc.stderr and word in proc.stderr, proc.stderr
    proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(tmp_path / "bad"), "--threads", "1",
                           "--method", "higgs", "--hadamard-size", "32", "--group-size", "32", "--format", "sq",
                           "--target-bpw", "3", "--sensitivity", str(skewed), "--plan-bits", "8"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "leaves no bit width" in proc.stderr, proc.stderr
    assert not (tmp_path / "bad").exists()
    proc = subprocess.run([str(CLI), "quantize", str(model), "-o", str(tmp_path / "bad"), *map(str, common[:-4]),
                           "--target-bpw", "3.1", "--sensitivity", str(skewed), "--plan-bits", "3,4"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "'target_bpw' (3.1) is below the cheapest plan" in proc.stderr, proc.stderr
    assert "plan_bits" in proc.stderr and not (tmp_path / "bad").exists()
