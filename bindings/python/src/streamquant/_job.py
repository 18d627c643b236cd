"""Job: the streaming quantization of a whole model, block by block."""
import ctypes
from typing import NamedTuple

import numpy as np

from ._core import NUMPY_DTYPES, _Handle
from ._errors import ERR_CANCELLED, StreamquantError, check
from ._lib import PROGRESS_FN, SINK_FN, lib


class Progress(NamedTuple):
    """Blocks done, block count, seconds elapsed, estimated seconds left (tqdm: n=done, total=total)."""
    done: int
    total: int
    elapsed: float
    eta: float


def _option_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Job(_Handle):
    """Quantize `model` (which must stay open) one transformer block at a time.

        job = Job(model, method="gptq", bits=4, group_size=128)
        job.set_calibration_tokens(tokens)                # [n_seqs, seq_len] ints, or set_calibration_file(path)
        job.on_progress(lambda p: print(p.done, p.total))  # return True (or raise) to cancel
        for name, array in job.stream(): ...                # packed tensors as each block finishes
        job.write("out", "gptq")
    """

    _free = staticmethod(lib.sq_job_free)

    def __init__(self, model, **options):
        out = ctypes.c_void_p()
        check(lib.sq_job_create(ctypes.byref(out), model.ptr))
        super().__init__(out.value)
        self.model = model  # keeps the model (and its context) alive as long as the job
        self._progress_cb = None
        self._progress_error = None
        self._sink_fn = None
        self._pending = []
        self._sink_cb = SINK_FN(self._on_tensor)
        check(lib.sq_job_set_tensor_sink(self.ptr, self._sink_cb, None))
        for key, value in options.items():
            self.set_option(key, value)

    def set_option(self, key, value):
        check(lib.sq_job_set_option(self.ptr, key.encode(), _option_text(value).encode()))

    def set_calibration_tokens(self, tokens):
        arr = np.ascontiguousarray(tokens, dtype=np.int32)
        if arr.ndim != 2:
            raise ValueError(f"calibration tokens must be 2-D [n_seqs, seq_len]; got shape {arr.shape}")
        check(lib.sq_job_set_calibration_tokens(self.ptr, arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                                arr.shape[0], arr.shape[1]))

    def set_calibration_file(self, path):
        check(lib.sq_job_set_calibration_file(self.ptr, str(path).encode()))

    def set_checkpoint_dir(self, path, resume=False):
        check(lib.sq_job_set_checkpoint_dir(self.ptr, str(path).encode(), int(bool(resume))))

    def on_progress(self, fn):
        """fn(Progress) after each block; a truthy return, or an exception, cancels the run."""
        if fn is None:
            self._progress_cb = None
            check(lib.sq_job_set_progress(self.ptr, PROGRESS_FN(), None))
            return

        def thunk(done, total, elapsed, eta, _user):
            try:
                return 1 if fn(Progress(done, total, elapsed, eta)) else 0
            except BaseException as e:  # never unwind through C: cancel, and re-raise after the call returns
                self._progress_error = e
                return 1

        self._progress_cb = PROGRESS_FN(thunk)
        check(lib.sq_job_set_progress(self.ptr, self._progress_cb, None))

    def on_tensor(self, fn):
        """fn(name, array) for each packed tensor as its block finishes (the array is a copy)."""
        self._sink_fn = fn

    def _on_tensor(self, name, dtype, ndim, dims, data, nbytes, _user):
        try:
            shape = tuple(dims[i] for i in range(ndim))
            raw = ctypes.string_at(data, nbytes) if nbytes else b""
            array = np.frombuffer(raw, dtype=NUMPY_DTYPES.get(dtype, "u1")).reshape(shape)
            item = (name.decode(), array)
            if self._sink_fn is not None:
                self._sink_fn(*item)
            else:
                self._pending.append(item)
        except BaseException as e:
            self._progress_error = self._progress_error or e

    def _call(self, fn, *args):
        self._progress_error = None
        try:
            check(fn(self.ptr, *args))
        except StreamquantError as e:
            user_error, self._progress_error = self._progress_error, None
            if user_error is not None and e.code == ERR_CANCELLED:
                raise user_error from e
            raise
        if self._progress_error is not None:
            user_error, self._progress_error = self._progress_error, None
            raise user_error

    def step(self):
        """Quantize one block; True when every block is done."""
        done = ctypes.c_int32()
        self._call(lib.sq_job_step, ctypes.byref(done))
        return bool(done.value)

    def run(self):
        """Quantize every remaining block."""
        self._call(lib.sq_job_run)

    def stream(self):
        """Run block by block, yielding (name, numpy array) for each packed tensor as soon as it exists."""
        saved, self._sink_fn = self._sink_fn, None
        try:
            done = self.progress.done == self.progress.total
            while not done:
                done = self.step()
                pending, self._pending = self._pending, []
                yield from pending
        finally:
            self._sink_fn = saved

    @property
    def progress(self):
        done, count = ctypes.c_int64(), ctypes.c_int64()
        check(lib.sq_job_progress(self.ptr, ctypes.byref(done), ctypes.byref(count)))
        return Progress(done.value, count.value, 0.0, 0.0)

    def write(self, out_dir, format="gptq"):
        """Write the finished job as "gptq", "lut" or "sq" (atomic)."""
        check(lib.sq_job_write(self.ptr, str(out_dir).encode(), format.encode()))
