"""Version and Context."""
import ctypes

from ._errors import check
from ._lib import LOG_FN, lib

DTYPES = {0: "F32", 1: "F16", 2: "BF16", 3: "I32", 4: "I8", 5: "U8"}
NUMPY_DTYPES = {0: "<f4", 1: "<f2", 2: "<u2", 3: "<i4", 4: "i1", 5: "u1"}  # BF16 arrives as raw uint16 bits


def version():
    """The runtime library version, "MAJOR.MINOR.PATCH"."""
    return lib.sq_version().decode()


def version_number():
    return int(lib.sq_version_number())


def has_cuda():
    return bool(lib.sq_build_has_cuda())


class _Handle:
    """Owns one C object; closed by close(), by `with`, or when garbage collected."""

    _free = None

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def ptr(self):
        if not self._ptr:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def close(self):
        if self._ptr:
            type(self)._free(self._ptr)
            self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass


class Context(_Handle):
    """Where work runs: device "cpu" or "cuda:N", worker threads (0 = all), an optional log callback."""

    _free = staticmethod(lib.sq_context_free)

    def __init__(self, device="cpu", threads=0):
        out = ctypes.c_void_p()
        check(lib.sq_context_create(ctypes.byref(out), device.encode()))
        super().__init__(out.value)
        self._log_cb = None  # the ctypes thunk must live as long as the context uses it
        if threads:
            self.set_threads(threads)

    def set_threads(self, threads):
        check(lib.sq_context_set_threads(self.ptr, int(threads)))

    def set_memory_budget(self, nbytes):
        check(lib.sq_context_set_memory_budget(self.ptr, int(nbytes)))

    def set_matmul_precision(self, precision):
        """'fp32' (default), 'tf32' or 'bf16': arithmetic of a GPU context's calibration forward pass and Hessians."""
        check(lib.sq_context_set_matmul_precision(self.ptr, str(precision).encode()))

    def set_log(self, fn, min_level=1):
        """fn(level, message) receives each log line at or above min_level (0 debug .. 3 error); None silences."""
        if fn is None:
            check(lib.sq_context_set_log(self.ptr, LOG_FN(), int(min_level), None))
            self._log_cb = None
            return

        def thunk(level, message, _user):
            try:
                fn(level, message.decode("utf-8", "replace"))
            except Exception:  # a log line must never unwind through C
                pass

        cb = LOG_FN(thunk)
        check(lib.sq_context_set_log(self.ptr, cb, int(min_level), None))
        self._log_cb = cb

    @property
    def device(self):
        return lib.sq_context_device(self.ptr).decode()

    @property
    def device_memory_peak(self):
        """Most device memory (bytes) the backend has held at once; 0 on CPU."""
        return int(lib.sq_context_device_memory_peak(self.ptr))
