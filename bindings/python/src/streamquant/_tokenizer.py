"""Tokenizer: Hugging Face tokenizer.json encode/decode."""
import ctypes

import numpy as np

from ._core import _Handle
from ._errors import check
from ._lib import lib


class Tokenizer(_Handle):
    _free = staticmethod(lib.sq_tokenizer_free)

    def __init__(self, path):
        out = ctypes.c_void_p()
        check(lib.sq_tokenizer_open(ctypes.byref(out), str(path).encode()))
        super().__init__(out.value)

    @classmethod
    def from_json(cls, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        out = ctypes.c_void_p()
        check(lib.sq_tokenizer_open_json(ctypes.byref(out), data, len(data)))
        return cls._wrap(out.value)

    @classmethod
    def _from_model(cls, model):
        out = ctypes.c_void_p()
        check(lib.sq_tokenizer_from_model(ctypes.byref(out), model.ptr))
        return cls._wrap(out.value)

    @classmethod
    def _wrap(cls, ptr):
        obj = cls.__new__(cls)
        _Handle.__init__(obj, ptr)
        return obj

    def encode(self, text, add_special=False):
        """Token ids of `text` (str or UTF-8 bytes) as a list of ints."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        count = ctypes.c_size_t()
        check(lib.sq_tokenizer_encode(self.ptr, data, len(data), int(add_special), None, 0, ctypes.byref(count)))
        ids = np.empty(count.value, dtype=np.int32)
        check(lib.sq_tokenizer_encode(self.ptr, data, len(data), int(add_special),
                                      ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), ids.size, ctypes.byref(count)))
        return ids.tolist()

    def decode(self, ids, skip_special=False):
        arr = np.ascontiguousarray(ids, dtype=np.int32).reshape(-1)
        ptr = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        length = ctypes.c_size_t()
        check(lib.sq_tokenizer_decode(self.ptr, ptr, arr.size, int(skip_special), None, 0, ctypes.byref(length)))
        buf = ctypes.create_string_buffer(length.value + 1)
        check(lib.sq_tokenizer_decode(self.ptr, ptr, arr.size, int(skip_special), buf, len(buf), ctypes.byref(length)))
        return buf.raw[:length.value].decode("utf-8")

    @property
    def vocab_size(self):
        return int(lib.sq_tokenizer_vocab_size(self.ptr))

    def token_to_id(self, token):
        out = ctypes.c_int32()
        check(lib.sq_tokenizer_token_to_id(self.ptr, token.encode(), ctypes.byref(out)))
        return out.value

    def id_to_token(self, token_id):
        token, special = ctypes.c_char_p(), ctypes.c_int32()
        check(lib.sq_tokenizer_id_to_token(self.ptr, int(token_id), ctypes.byref(token), ctypes.byref(special)))
        return token.value.decode("utf-8")
