"""Hostile inputs through the C API (libstreamquant.so via ctypes): every refusal is an sq_error with a specific
code and a message naming the file, tensor or option at fault; nothing crashes; and a failed quantize job
leaves no output directory behind. File-level safetensors corruption (truncation, offsets, overlaps, dtype and
shape mismatches) is covered by tests/unit/test_safetensors_hostile.cpp; these cases are model- and job-level."""
import ctypes
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import LIB, SOURCE_DIR

np = pytest.importorskip("numpy")
st_numpy = pytest.importorskip("safetensors.numpy")

MAKE_TINY = SOURCE_DIR / "tools" / "make_tiny_model.py"
SQ = {"INVALID_ARGUMENT": 1, "IO": 2, "FORMAT": 3, "UNSUPPORTED": 4, "NUMERIC": 6, "NOT_FOUND": 8, "STATE": 10}


class Api:
    """The few C API calls a quantize job needs; each returns None or (code, message)."""

    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        P = ctypes.c_void_p
        lib.sq_error_code.restype = ctypes.c_int32
        lib.sq_error_code.argtypes = [P]
        lib.sq_error_message.restype = ctypes.c_char_p
        lib.sq_error_message.argtypes = [P]
        lib.sq_error_free.argtypes = [P]
        for name, args in {"sq_context_create": [ctypes.POINTER(P), ctypes.c_char_p],
                           "sq_context_set_threads": [P, ctypes.c_int32],
                           "sq_model_open": [ctypes.POINTER(P), P, ctypes.c_char_p],
                           "sq_job_create": [ctypes.POINTER(P), P],
                           "sq_job_set_option": [P, ctypes.c_char_p, ctypes.c_char_p],
                           "sq_job_set_calibration_file": [P, ctypes.c_char_p],
                           "sq_job_set_checkpoint_dir": [P, ctypes.c_char_p, ctypes.c_int32],
                           "sq_job_step": [P, ctypes.POINTER(ctypes.c_int32)],
                           "sq_job_run": [P], "sq_job_write": [P, ctypes.c_char_p, ctypes.c_char_p]}.items():
            getattr(lib, name).restype = P
            getattr(lib, name).argtypes = args
        for name in ("sq_context_free", "sq_model_free", "sq_job_free"):
            getattr(lib, name).argtypes = [P]
            getattr(lib, name).restype = None
        self.lib = lib

    def _take(self, err):
        if not err:
            return None
        result = (self.lib.sq_error_code(err), self.lib.sq_error_message(err).decode())
        self.lib.sq_error_free(err)
        return result

    def quantize(self, model, calib, out, fmt="gptq", checkpoint=None, resume=False, steps=None, **options):
        """Open, configure, run and write; the first error as (code, message), or None. With `steps`, only that
        many blocks are run (into `checkpoint`) and nothing is written, as if the process had died."""
        lib, P = self.lib, ctypes.c_void_p
        ctx, mdl, job = P(), P(), P()
        try:
            for call in (lambda: lib.sq_context_create(ctypes.byref(ctx), b"cpu"),
                         lambda: lib.sq_context_set_threads(ctx, 2),
                         lambda: lib.sq_model_open(ctypes.byref(mdl), ctx, str(model).encode()),
                         lambda: lib.sq_job_create(ctypes.byref(job), mdl)):
                err = self._take(call())
                if err:
                    return err
            opts = {"method": "gptq", "bits": "4", "group_size": "32", "nsamples": "2", "seqlen": "16", **options}
            for k, v in opts.items():
                err = self._take(lib.sq_job_set_option(job, k.encode(), str(v).encode()))
                if err:
                    return err
            err = self._take(lib.sq_job_set_calibration_file(job, str(calib).encode()))
            if err:
                return err
            if checkpoint is not None:
                err = self._take(lib.sq_job_set_checkpoint_dir(job, str(checkpoint).encode(), int(resume)))
                if err:
                    return err
            if steps is not None:
                done = ctypes.c_int32(0)
                for _ in range(steps):
                    err = self._take(lib.sq_job_step(job, ctypes.byref(done)))
                    if err:
                        return err
                return None
            for call in (lambda: lib.sq_job_run(job), lambda: lib.sq_job_write(job, str(out).encode(), fmt.encode())):
                err = self._take(call())
                if err:
                    return err
            return None
        finally:
            lib.sq_job_free(job)
            lib.sq_model_free(mdl)
            lib.sq_context_free(ctx)


@pytest.fixture(scope="module")
def api():
    if not LIB.exists():
        pytest.skip(f"library not built at {LIB}")
    return Api(LIB)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    if not MAKE_TINY.exists():
        pytest.skip(f"{MAKE_TINY} is not in the tree")
    root = tmp_path_factory.mktemp("hostile")
    model = root / "model"
    subprocess.run([sys.executable, str(MAKE_TINY), str(model), "--layers", "1", "--hidden", "32", "--heads", "2",
                    "--kv-heads", "1"], check=True, stdout=subprocess.DEVNULL)
    vocab = json.loads((model / "config.json").read_text())["vocab_size"]
    calib = root / "calib.npy"
    np.save(calib, np.random.default_rng(0).integers(0, vocab, size=256, dtype=np.int32))
    return model, calib


def copy_model(base, dst):
    shutil.copytree(base[0], dst)
    return dst


def edit_tensors(model, fn):
    path = model / "model.safetensors"
    tensors = dict(st_numpy.load_file(str(path)))
    fn(tensors)
    st_numpy.save_file(tensors, str(path))


def expect(result, code, *fragments):
    assert result is not None, "expected an error, the call succeeded"
    got, message = result
    assert got == SQ[code], f"expected SQ_ERR_{code}, got {got}: {message}"
    for f in fragments:
        assert str(f) in message, f"'{f}' not in: {message}"


def test_baseline_quantizes(api, base, tmp_path):
    assert api.quantize(base[0], base[1], tmp_path / "out") is None
    assert (tmp_path / "out" / "model.safetensors").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weight_names_the_tensor(api, base, tmp_path, value):
    model = copy_model(base, tmp_path / "model")
    q = "model.layers.0.self_attn.q_proj.weight"

    def poison(t):
        t[q] = t[q].copy()
        t[q][3, 5] = value
    edit_tensors(model, poison)
    out = tmp_path / "out"
    expect(api.quantize(model, base[1], out), "NUMERIC", "model.layers.0.self_attn.q_proj.weight")
    assert not out.exists()


def test_zero_activations_give_a_usable_or_numeric_result(api, base, tmp_path):
    """All-zero embeddings make every Hessian zero (not positive definite): the job either handles the dead
    columns or refuses with SQ_ERR_NUMERIC; it never crashes or writes half an output."""
    model = copy_model(base, tmp_path / "model")
    edit_tensors(model, lambda t: t.__setitem__("model.embed_tokens.weight",
                                                np.zeros_like(t["model.embed_tokens.weight"])))
    out = tmp_path / "out"
    result = api.quantize(model, base[1], out)
    if result is None:
        assert (out / "model.safetensors").exists()
    else:
        expect(result, "NUMERIC")
        assert not out.exists()


def test_calibration_shorter_than_one_sample(api, base, tmp_path):
    calib = tmp_path / "short.npy"
    np.save(calib, np.arange(10, dtype=np.int32))
    out = tmp_path / "out"
    expect(api.quantize(base[0], calib, out, seqlen=16), "INVALID_ARGUMENT", "short.npy", "seqlen")
    assert not out.exists()


def test_token_out_of_vocab_range(api, base, tmp_path):
    calib = tmp_path / "oov.npy"
    tokens = np.zeros(256, dtype=np.int32)
    tokens[7] = 10_000_000
    np.save(calib, tokens)
    out = tmp_path / "out"
    expect(api.quantize(base[0], calib, out), "INVALID_ARGUMENT", "10000000")
    assert not out.exists()


def test_unknown_architecture(api, base, tmp_path):
    model = copy_model(base, tmp_path / "model")
    cfg = json.loads((model / "config.json").read_text())
    cfg["architectures"] = ["FrobnicatorForCausalLM"]
    (model / "config.json").write_text(json.dumps(cfg))
    expect(api.quantize(model, base[1], tmp_path / "out"), "UNSUPPORTED", "FrobnicatorForCausalLM")
    assert not (tmp_path / "out").exists()


def test_missing_tensor(api, base, tmp_path):
    model = copy_model(base, tmp_path / "model")
    name = "model.layers.0.mlp.down_proj.weight"
    edit_tensors(model, lambda t: t.pop(name))
    out = tmp_path / "out"
    result = api.quantize(model, base[1], out)
    expect(result, result[0] == SQ["FORMAT"] and "FORMAT" or "NOT_FOUND", name)
    assert not out.exists()


@pytest.mark.parametrize("change", ["method", "bits", "group_size", "model values", "calibration"])
def test_checkpoint_of_another_job_is_refused(api, base, tmp_path, change):
    """A checkpoint records a fingerprint of the model (config, tensor layout and sampled weight bytes), the
    options and the calibration tokens; resuming with anything different is SQ_ERR_STATE."""
    model, calib = base
    ckpt = tmp_path / "ckpt"
    assert api.quantize(model, calib, None, checkpoint=ckpt, steps=1) is None
    assert (ckpt / "state.json").exists()
    other_model, other_calib, options = model, calib, {}
    if change == "method":
        options["method"] = "rtn"
    elif change == "bits":
        options["bits"] = "3"
    elif change == "group_size":
        options["group_size"] = "16"
    elif change == "model values":  # same architecture and shapes, other weights
        other_model = copy_model(base, tmp_path / "other")
        edit_tensors(other_model, lambda t: t.__setitem__("model.norm.weight", t["model.norm.weight"] * 1.5))
    else:
        other_calib = tmp_path / "other.npy"
        np.save(other_calib, np.load(calib)[::-1].copy())
    out = tmp_path / "out"
    expect(api.quantize(other_model, other_calib, out, checkpoint=ckpt, resume=True, **options), "STATE",
           str(ckpt), "fingerprint")
    assert not out.exists()
    assert api.quantize(model, calib, out, checkpoint=ckpt, resume=True) is None, "the matching job still resumes"


def test_unknown_option_is_named(api, base, tmp_path):
    expect(api.quantize(base[0], base[1], tmp_path / "out", frobnicate="1"), "INVALID_ARGUMENT", "frobnicate")


def test_model_path_is_a_directory_of_junk(api, base, tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a model")
    (junk / "weights.bin").write_bytes(os.urandom(1024))
    expect(api.quantize(junk, base[1], tmp_path / "out"), "NOT_FOUND", str(junk))


def test_config_json_that_is_not_json(api, base, tmp_path):
    model = copy_model(base, tmp_path / "model")
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], ')
    expect(api.quantize(model, base[1], tmp_path / "out"), "FORMAT", "config.json")


def read_only_dir(tmp_path):
    """A directory this process cannot create entries in (chmod is not enough for root); None if none."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    probe = d / "sq_probe_dir"
    try:
        probe.mkdir()
    except OSError:
        return d
    probe.rmdir()
    return None


# Runs one quantize job in a child process (optionally with a file-size limit) and prints the result and what
# is left in the output's parent directory: the parent may be a mount that only the child can see.
CHILD = """
import os, pathlib, resource, signal, sys
sys.path.insert(0, sys.argv[1])
from test_hostile import Api
limit = int(sys.argv[6])
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
r = Api(sys.argv[2]).quantize(sys.argv[3], sys.argv[4], sys.argv[5])
print("RESULT", "OK" if r is None else f"{r[0]}|{r[1]}")
print("LEFT", sorted(os.listdir(pathlib.Path(sys.argv[5]).parent)))
"""


def quantize_in_child(base, out, fsize_limit=0, mount_opts=None):
    """(code, message, entries left beside `out`); with mount_opts, out's parent is a private tmpfs mounted
    with those options (needs `unshare`: skips when the namespace or the mount is not permitted)."""
    cmd = [sys.executable, "-c", CHILD, str(pathlib.Path(__file__).parent), str(LIB), str(base[0]), str(base[1]),
           str(out), str(fsize_limit)]
    if mount_opts:
        if shutil.which("unshare") is None:
            pytest.skip("unshare is not installed")
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
               f'mount -t tmpfs -o {mount_opts} tmpfs "$0" && exec "$@"', str(out.parent), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if mount_opts and proc.returncode != 0 and "RESULT" not in proc.stdout:
        pytest.skip(f"cannot mount a private tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("RESULT", "LEFT")))
    assert lines["RESULT"] != "OK", "the job should have failed"
    code, message = lines["RESULT"].split("|", 1)
    return int(code), message, eval(lines["LEFT"])  # a list literal printed by the child


def test_read_only_output_directory(api, base, tmp_path):
    parent = read_only_dir(tmp_path)
    if parent is not None:  # not root: a mode-0555 directory is enough
        out = parent / "out"
        expect(api.quantize(base[0], base[1], out), "IO", str(parent))
        assert not out.exists()
        return
    out = tmp_path / "ro" / "out"
    code, message, left = quantize_in_child(base, out, mount_opts="ro,size=1m")
    assert code == SQ["IO"], message
    assert str(out) in message and "Read-only" in message, message
    assert left == []


def test_disk_full_leaves_no_output(api, base, tmp_path):
    """RLIMIT_FSIZE: a write fails with EFBIG part-way through the output."""
    out = tmp_path / "out"
    code, message, left = quantize_in_child(base, out, fsize_limit=16 * 1024)
    assert code == SQ["IO"], message
    assert str(tmp_path) in message
    assert not out.exists()
    assert [n for n in left if n.startswith("out")] == [], "no temporary output left behind"


def test_full_file_system_leaves_no_output(api, base, tmp_path):
    """A 64 KiB tmpfs: a write fails with ENOSPC part-way through the output."""
    out = tmp_path / "small" / "out"
    code, message, left = quantize_in_child(base, out, mount_opts="size=64k")
    assert code == SQ["IO"], message
    assert str(out) in message, message
    assert left == [], "no temporary output left behind"
