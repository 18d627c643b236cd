"""Device options through the CLI: --gpu-mem-budget is parsed as a size (and refused with the option's name
when it is not one), accepted and ignored on CPU, as is --gpu-matmul tf32, and --device cuda:N fails with a clear device error when
this build or machine has no such GPU. On a machine with a GPU and a CUDA build, the GPU run's output is
compared with the CPU run's (skipped elsewhere)."""
import json
import shutil
import subprocess

import pytest

from conftest import CLI, quantize_tiny as quantize

np = pytest.importorskip("numpy")


@pytest.mark.parametrize("bad", ["lots", "12X", "-3G", "0", "G"])
def test_bad_budget_names_the_option(tiny, tmp_path, bad):
    r = quantize(tiny, tmp_path / "out", "--gpu-mem-budget", bad)
    assert r.returncode == 1, r.stderr
    assert "--gpu-mem-budget" in r.stderr and bad in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_budget_below_the_minimum_is_refused(tiny, tmp_path):
    r = quantize(tiny, tmp_path / "out", "--gpu-mem-budget", "1M")
    assert r.returncode == 1
    assert "64 MiB" in r.stderr, r.stderr


def test_budget_is_accepted_and_ignored_on_cpu(tiny, tmp_path):
    a = quantize(tiny, tmp_path / "a", "--gpu-mem-budget", "24GiB")
    b = quantize(tiny, tmp_path / "b")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout
    assert "peak device memory" not in a.stderr


def test_matmul_precision_is_checked_and_ignored_on_cpu(tiny, tmp_path):
    bad = quantize(tiny, tmp_path / "bad", "--gpu-matmul", "fp16")
    assert bad.returncode != 0 and "--gpu-matmul" in bad.stderr, bad.stderr
    a = quantize(tiny, tmp_path / "a", "--gpu-matmul", "tf32")
    b = quantize(tiny, tmp_path / "b")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout


def has_gpu():
    version = subprocess.run([str(CLI), "--version"], capture_output=True, text=True).stdout
    if "CUDA backend: yes" not in version or shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def test_missing_gpu_is_a_device_error(tiny, tmp_path):
    if has_gpu():
        pytest.skip("a GPU is present: covered by test_gpu_run_matches_cpu")
    r = quantize(tiny, tmp_path / "out", "--device", "cuda:0")
    assert r.returncode == 1
    assert "SQ_ERR_DEVICE" in r.stderr or "cuda" in r.stderr.lower(), r.stderr
    assert not (tmp_path / "out").exists()


def test_gpu_run_matches_cpu(tiny, tmp_path):
    if not has_gpu():
        pytest.skip("no CUDA build or no GPU on this machine")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    cpu = quantize(tiny, tmp_path / "cpu")
    gpu = quantize(tiny, tmp_path / "gpu", "--device", "cuda:0", "--gpu-mem-budget", "2G")
    tf32 = quantize(tiny, tmp_path / "tf32", "--device", "cuda:0", "--gpu-matmul", "tf32")
    assert cpu.returncode == 0 and gpu.returncode == 0 and tf32.returncode == 0, cpu.stderr + gpu.stderr + tf32.stderr
    assert "peak device memory held" in gpu.stderr
    a = safetensors_numpy.load_file(str(next((tmp_path / "cpu").glob("*.safetensors"))))
    # fp32 on the GPU: codes identical but for near-ties; TF32 Hessians move more of them.
    for run, tolerance in (("gpu", 0.01), ("tf32", 0.05)):
        b = safetensors_numpy.load_file(str(next((tmp_path / run).glob("*.safetensors"))))
        assert a.keys() == b.keys()
        for name in a:
            if name.endswith(".qweight"):
                differ = np.mean(np.unpackbits(a[name].view(np.uint8) ^ b[name].view(np.uint8)) != 0)
                assert differ < tolerance, (run, name)


def test_stage_seconds_are_reported(tiny, tmp_path):
    r = quantize(tiny, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stderr.splitlines() if l.startswith("stage seconds: "))
    stages = json.loads(line[len("stage seconds: "):])
    assert list(stages) == ["load", "forward", "hessian", "cholesky", "sweep", "spool", "write"]
    assert all(v >= 0 for v in stages.values())
    assert stages["forward"] > 0 and stages["sweep"] > 0 and stages["write"] > 0
