"""quantize_layer: one weight matrix and its Hessian, as numpy arrays."""
import ctypes

import numpy as np

from ._core import NUMPY_DTYPES, _Handle
from ._errors import ERR_NOT_FOUND, StreamquantError, check
from ._lib import lib
from ._job import _option_text


class QuantizedLayer(_Handle):
    """The result of quantize_layer. Tensors by name (see sq_layer.h): codes, dequant, scales, zeros, g_idx,
    perm, lut, qweight, qzeros, lookup_table, scales_f16; the common ones are attributes."""

    _free = staticmethod(lib.sq_quantized_layer_free)

    def __init__(self, ptr):
        super().__init__(ptr)
        self.rows, self.cols = self.get_int("rows"), self.get_int("cols")
        self.bits, self.n_groups = self.get_int("bits"), self.get_int("n_groups")
        self.codes = self.tensor("codes")
        self.dequant = self.tensor("dequant")
        self.scales = self.tensor("scales", missing_ok=True)
        self.zeros = self.tensor("zeros", missing_ok=True)
        self.objective = self.get_double("objective")

    def get_int(self, key):
        out = ctypes.c_int64()
        check(lib.sq_quantized_layer_get_int(ctypes.byref(out), self.ptr, key.encode()))
        return out.value

    def get_double(self, key):
        out = ctypes.c_double()
        check(lib.sq_quantized_layer_get_double(ctypes.byref(out), self.ptr, key.encode()))
        return out.value

    def _shape(self, name, count):
        rows, cols, g, levels = self.rows, self.cols, self.n_groups, 1 << self.bits
        shapes = {"codes": (rows, cols), "dequant": (rows, cols), "scales": (g, rows), "scales_f16": (g, rows),
                  "zeros": (g, rows), "lut": (g * rows, levels), "lookup_table": (g * rows, levels),
                  "qweight": (cols * self.bits // 32, rows), "qzeros": (g, rows * self.bits // 32)}
        shape = shapes.get(name, (count,))
        return shape if int(np.prod(shape)) == count else (count,)

    def tensor(self, name, missing_ok=False):
        """Tensor `name` as a numpy array (None when missing_ok and the layer has no such tensor)."""
        dtype, count = ctypes.c_int32(), ctypes.c_size_t()
        try:
            check(lib.sq_quantized_layer_tensor_info(ctypes.byref(dtype), ctypes.byref(count), self.ptr, name.encode()))
        except StreamquantError as e:
            if missing_ok and e.code == ERR_NOT_FOUND:
                return None
            raise
        out = np.empty(count.value, dtype=NUMPY_DTYPES[dtype.value])
        check(lib.sq_quantized_layer_read(out.ctypes.data_as(ctypes.c_void_p), out.nbytes, self.ptr, name.encode()))
        return out.reshape(self._shape(name, count.value))


def quantize_layer(W, H=None, *, context=None, **options):
    """Quantize W [out_features, in_features] with the Hessian H [in, in] of its inputs (None for RTN).
    Options as in sq_layer.h (method, bits, group_size, sym, act_order, damp, ...); booleans are accepted."""
    w = np.ascontiguousarray(W, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"W must be 2-D [rows, cols]; got shape {w.shape}")
    h = None if H is None else np.ascontiguousarray(H, dtype=np.float32)
    opts = ctypes.c_void_p()
    check(lib.sq_layer_options_create(ctypes.byref(opts)))
    try:
        for key, value in options.items():
            check(lib.sq_layer_options_set(opts, key.encode(), _option_text(value).encode()))
        out = ctypes.c_void_p()
        fptr = ctypes.POINTER(ctypes.c_float)
        check(lib.sq_quantize_layer(ctypes.byref(out), context.ptr if context is not None else None,
                                    w.ctypes.data_as(fptr), w.shape[0], w.shape[1],
                                    None if h is None else h.ctypes.data_as(fptr), opts))
    finally:
        lib.sq_layer_options_free(opts)
    return QuantizedLayer(out.value)
