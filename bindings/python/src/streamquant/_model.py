"""Model: open, list and read tensors, logits, perplexity."""
import ctypes
import json
from typing import NamedTuple, Tuple

import numpy as np

from ._core import DTYPES, Context, _Handle
from ._errors import check
from ._lib import MAX_DIMS, lib


class TensorInfo(NamedTuple):
    name: str
    dtype: str
    shape: Tuple[int, ...]


def _tokens_array(tokens):
    arr = np.ascontiguousarray(tokens, dtype=np.int32).reshape(-1)
    return arr, arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


class Model(_Handle):
    """An opened model (HF directory, .safetensors, .gguf, or a quantized output of this library)."""

    _free = staticmethod(lib.sq_model_free)

    def __init__(self, path, context=None):
        self.context = context if context is not None else Context()  # must outlive the model
        out = ctypes.c_void_p()
        check(lib.sq_model_open(ctypes.byref(out), self.context.ptr, str(path).encode()))
        super().__init__(out.value)

    @classmethod
    def open(cls, path, context=None):
        return cls(path, context)

    def tensors(self):
        """Every tensor's name, dtype name and shape ([out, in] for weights)."""
        result = []
        name, dtype, ndim = ctypes.c_char_p(), ctypes.c_int32(), ctypes.c_int32()
        dims = (ctypes.c_int64 * MAX_DIMS)()
        for i in range(lib.sq_model_tensor_count(self.ptr)):
            check(lib.sq_model_tensor_info(self.ptr, i, ctypes.byref(name), ctypes.byref(dtype), ctypes.byref(ndim),
                                           dims))
            result.append(TensorInfo(name.value.decode(), DTYPES.get(dtype.value, lib.sq_dtype_name(dtype.value).decode()),
                                     tuple(dims[:ndim.value])))
        return result

    def read(self, name):
        """Tensor `name` as a float32 array of its shape (quantized sources are dequantized)."""
        index = ctypes.c_size_t()
        check(lib.sq_model_find_tensor(self.ptr, name.encode(), ctypes.byref(index)))
        ndim = ctypes.c_int32()
        dims = (ctypes.c_int64 * MAX_DIMS)()
        check(lib.sq_model_tensor_info(self.ptr, index.value, None, None, ctypes.byref(ndim), dims))
        out = np.empty(tuple(dims[:ndim.value]), dtype=np.float32)
        check(lib.sq_model_read_tensor_f32(self.ptr, name.encode(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                           out.size))
        return out

    def describe(self):
        """The library's JSON description of the model, as a dict."""
        return json.loads(lib.sq_model_describe_json(self.ptr).decode())

    def save_hf(self, out_dir, dtype=-1):
        check(lib.sq_model_save_hf(self.ptr, str(out_dir).encode(), int(dtype)))

    def logits(self, tokens):
        arr, ptr = _tokens_array(tokens)
        vocab = self.describe()["vocab_size"]
        out = np.empty((arr.size, vocab), dtype=np.float32)
        check(lib.sq_model_logits(self.ptr, ptr, arr.size, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
        return out

    def perplexity(self, tokens, seq_len, max_tokens=0):
        """Perplexity over non-overlapping windows of seq_len tokens (see sq_eval.h)."""
        arr, ptr = _tokens_array(tokens)
        ppl, scored = ctypes.c_double(), ctypes.c_size_t()
        check(lib.sq_model_perplexity(self.ptr, ptr, arr.size, int(seq_len), int(max_tokens), ctypes.byref(ppl),
                                      ctypes.byref(scored)))
        return ppl.value

    def tokenizer(self):
        from ._tokenizer import Tokenizer
        return Tokenizer._from_model(self)


def perplexity(model, tokens, seq_len, max_tokens=0):
    return model.perplexity(tokens, seq_len, max_tokens)
