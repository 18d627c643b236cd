"""Locating libstreamquant and declaring the C ABI (include/streamquant/*.h) for ctypes."""
import ctypes
import ctypes.util
import os
import pathlib
import subprocess

# Opaque handles: every object crosses the boundary as a pointer.
c_error_p = ctypes.c_void_p

PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64, ctypes.c_double, ctypes.c_double,
                               ctypes.c_void_p)
SINK_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64),
                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)

MAX_DIMS = 8  # SQ_MAX_DIMS


def _candidates():
    """Where to look, in order: $STREAMQUANT_LIB (file or directory), pkg-config, the source tree's build/,
    then the system loader's search path."""
    env = os.environ.get("STREAMQUANT_LIB")
    if env:
        p = pathlib.Path(env)
        yield p / "libstreamquant.so" if p.is_dir() else p
        return  # an explicit choice is never silently replaced by another library
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "streamquant"], capture_output=True, text=True,
                                check=True).stdout.strip()
        if libdir:
            yield pathlib.Path(libdir) / "libstreamquant.so"
    except (OSError, subprocess.CalledProcessError):
        pass
    here = pathlib.Path(__file__).resolve()
    if len(here.parents) > 4:  # bindings/python/src/streamquant/_lib.py inside a source checkout
        yield here.parents[4] / "build" / "lib" / "libstreamquant.so"
    found = ctypes.util.find_library("streamquant")
    if found:
        yield pathlib.Path(found)


def _load():
    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_absolute() and not path.exists():
            continue
        try:
            return ctypes.CDLL(str(path))
        except OSError as e:
            tried[-1] += f" ({e})"
    raise ImportError("libstreamquant.so not found; set STREAMQUANT_LIB to the library file or its directory. "
                      "Tried: " + ", ".join(tried or ["nothing"]))


lib = _load()

P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
SZ = ctypes.c_size_t
I32 = ctypes.c_int32
I64 = ctypes.c_int64
STR = ctypes.c_char_p

_SIGNATURES = {
    # name: (restype, argtypes)
    "sq_version_number": (ctypes.c_uint32, []),
    "sq_version": (STR, []),
    "sq_error_code": (I32, [P]),
    "sq_error_message": (STR, [P]),
    "sq_error_free": (None, [P]),
    "sq_error_code_name": (STR, [I32]),
    "sq_dtype_name": (STR, [I32]),
    "sq_build_has_cuda": (I32, []),
    "sq_context_create": (P, [PP, STR]),
    "sq_context_free": (None, [P]),
    "sq_context_set_threads": (P, [P, I32]),
    "sq_context_set_log": (P, [P, LOG_FN, I32, P]),
    "sq_context_set_memory_budget": (P, [P, ctypes.c_uint64]),
    "sq_context_set_matmul_precision": (P, [P, ctypes.c_char_p]),
    "sq_context_device": (STR, [P]),
    "sq_context_device_memory_peak": (ctypes.c_uint64, [P]),
    "sq_model_open": (P, [PP, P, STR]),
    "sq_model_free": (None, [P]),
    "sq_model_tensor_count": (SZ, [P]),
    "sq_model_tensor_info": (P, [P, SZ, ctypes.POINTER(STR), ctypes.POINTER(I32), ctypes.POINTER(I32),
                                 ctypes.POINTER(I64)]),
    "sq_model_find_tensor": (P, [P, STR, ctypes.POINTER(SZ)]),
    "sq_model_read_tensor_f32": (P, [P, STR, ctypes.POINTER(ctypes.c_float), SZ]),
    "sq_model_describe_json": (STR, [P]),
    "sq_model_save_hf": (P, [P, STR, I32]),
    "sq_model_logits": (P, [P, ctypes.POINTER(I32), SZ, ctypes.POINTER(ctypes.c_float), SZ]),
    "sq_model_perplexity": (P, [P, ctypes.POINTER(I32), SZ, SZ, SZ, ctypes.POINTER(ctypes.c_double),
                                ctypes.POINTER(SZ)]),
    "sq_job_create": (P, [PP, P]),
    "sq_job_free": (None, [P]),
    "sq_job_set_option": (P, [P, STR, STR]),
    "sq_job_set_calibration_tokens": (P, [P, ctypes.POINTER(I32), SZ, SZ]),
    "sq_job_set_calibration_file": (P, [P, STR]),
    "sq_job_set_progress": (P, [P, PROGRESS_FN, P]),
    "sq_job_set_tensor_sink": (P, [P, SINK_FN, P]),
    "sq_job_set_checkpoint_dir": (P, [P, STR, I32]),
    "sq_job_step": (P, [P, ctypes.POINTER(I32)]),
    "sq_job_run": (P, [P]),
    "sq_job_progress": (P, [P, ctypes.POINTER(I64), ctypes.POINTER(I64)]),
    "sq_job_write": (P, [P, STR, STR]),
    "sq_layer_options_create": (P, [PP]),
    "sq_layer_options_free": (None, [P]),
    "sq_layer_options_set": (P, [P, STR, STR]),
    "sq_quantize_layer": (P, [PP, P, ctypes.POINTER(ctypes.c_float), SZ, SZ, ctypes.POINTER(ctypes.c_float), P]),
    "sq_quantized_layer_free": (None, [P]),
    "sq_quantized_layer_get_int": (P, [ctypes.POINTER(I64), P, STR]),
    "sq_quantized_layer_get_double": (P, [ctypes.POINTER(ctypes.c_double), P, STR]),
    "sq_quantized_layer_tensor_info": (P, [ctypes.POINTER(I32), ctypes.POINTER(SZ), P, STR]),
    "sq_quantized_layer_read": (P, [P, SZ, P, STR]),
    "sq_tokenizer_open": (P, [PP, STR]),
    "sq_tokenizer_open_json": (P, [PP, STR, SZ]),
    "sq_tokenizer_from_model": (P, [PP, P]),
    "sq_tokenizer_free": (None, [P]),
    "sq_tokenizer_encode": (P, [P, STR, SZ, I32, ctypes.POINTER(I32), SZ, ctypes.POINTER(SZ)]),
    "sq_tokenizer_decode": (P, [P, ctypes.POINTER(I32), SZ, I32, STR, SZ, ctypes.POINTER(SZ)]),
    "sq_tokenizer_vocab_size": (SZ, [P]),
    "sq_tokenizer_token_to_id": (P, [P, STR, ctypes.POINTER(I32)]),
    "sq_tokenizer_id_to_token": (P, [P, I32, ctypes.POINTER(STR), ctypes.POINTER(I32)]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
