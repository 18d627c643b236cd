"""ctypes access to sq_quantize_layer in libstreamquant.so (SQ_LIB), shared by the layer tests."""
import ctypes

import numpy as np

DTYPES = {0: np.float32, 1: np.uint16, 3: np.int32, 5: np.uint8}


class LayerLib:
    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        P = ctypes.c_void_p
        lib.sq_error_code.restype = ctypes.c_int32
        lib.sq_error_code.argtypes = [P]
        lib.sq_error_message.restype = ctypes.c_char_p
        lib.sq_error_message.argtypes = [P]
        lib.sq_error_free.argtypes = [P]
        for name, args in {
            "sq_context_create": [ctypes.POINTER(P), ctypes.c_char_p],
            "sq_context_set_threads": [P, ctypes.c_int32],
            "sq_layer_options_create": [ctypes.POINTER(P)],
            "sq_layer_options_set": [P, ctypes.c_char_p, ctypes.c_char_p],
            "sq_quantize_layer": [ctypes.POINTER(P), P, P, ctypes.c_size_t, ctypes.c_size_t, P, P],
            "sq_quantized_layer_get_int": [ctypes.POINTER(ctypes.c_int64), P, ctypes.c_char_p],
            "sq_quantized_layer_get_double": [ctypes.POINTER(ctypes.c_double), P, ctypes.c_char_p],
            "sq_quantized_layer_tensor_info": [ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_size_t), P,
                                               ctypes.c_char_p],
            "sq_quantized_layer_read": [P, ctypes.c_size_t, P, ctypes.c_char_p],
        }.items():
            fn = getattr(lib, name)
            fn.restype = P
            fn.argtypes = args
        for name in ("sq_context_free", "sq_layer_options_free", "sq_quantized_layer_free"):
            getattr(lib, name).argtypes = [P]
            getattr(lib, name).restype = None
        self.lib = lib
        self.ctx = P()
        self._check(lib.sq_context_create(ctypes.byref(self.ctx), b"cpu"))

    def set_threads(self, n):
        self._check(self.lib.sq_context_set_threads(self.ctx, n))

    def _check(self, err):
        if err:
            code = self.lib.sq_error_code(err)
            msg = self.lib.sq_error_message(err).decode()
            self.lib.sq_error_free(err)
            raise SqError(code, msg)

    def quantize(self, W, H=None, packed=False, **options):
        """Quantize W [rows, cols] with H (or None); returns a dict of tensors and properties.
        packed=True also reads the checkpoint tensors qweight, qzeros, lookup_table (flat)."""
        W = np.ascontiguousarray(W, dtype=np.float32)
        Hc = None if H is None else np.ascontiguousarray(H, dtype=np.float32)
        lib = self.lib
        opts = ctypes.c_void_p()
        self._check(lib.sq_layer_options_create(ctypes.byref(opts)))
        layer = ctypes.c_void_p()
        try:
            for k, v in options.items():
                if isinstance(v, bool):
                    v = "true" if v else "false"
                self._check(lib.sq_layer_options_set(opts, k.encode(), str(v).encode()))
            self._check(lib.sq_quantize_layer(ctypes.byref(layer), self.ctx, W.ctypes.data, W.shape[0], W.shape[1],
                                              None if Hc is None else Hc.ctypes.data, opts))
            out = {}
            for key in ("rows", "cols", "bits", "group_size", "n_groups", "sym", "grid"):
                v = ctypes.c_int64()
                self._check(lib.sq_quantized_layer_get_int(ctypes.byref(v), layer, key.encode()))
                out[key] = v.value
            for key in ("objective", "damp_used"):
                v = ctypes.c_double()
                self._check(lib.sq_quantized_layer_get_double(ctypes.byref(v), layer, key.encode()))
                out[key] = v.value
            names = ["codes", "dequant", "scales", "scales_f16", "zeros", "g_idx", "perm", "lut"]
            if packed:
                names += ["qweight", "qzeros", "lookup_table"]
            for name in names:
                dt, n = ctypes.c_int32(), ctypes.c_size_t()
                self._check(lib.sq_quantized_layer_tensor_info(ctypes.byref(dt), ctypes.byref(n), layer, name.encode()))
                arr = np.empty(n.value, dtype=DTYPES[dt.value])
                self._check(lib.sq_quantized_layer_read(arr.ctypes.data, arr.nbytes, layer, name.encode()))
                out[name] = arr
            rows, cols = out["rows"], out["cols"]
            out["codes"] = out["codes"].reshape(rows, cols)
            out["dequant"] = out["dequant"].reshape(rows, cols)
            for name in ("scales", "scales_f16", "zeros"):
                if out[name].size:
                    out[name] = out[name].reshape(out["n_groups"], rows)
            return out
        finally:
            lib.sq_quantized_layer_free(layer)
            lib.sq_layer_options_free(opts)


class SqError(Exception):
    def __init__(self, code, message):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
