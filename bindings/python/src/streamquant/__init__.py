"""streamquant: post-training quantization of LLMs, streamed one block at a time (ctypes bindings to the C ABI).

The library is found through $STREAMQUANT_LIB (the .so or its directory), pkg-config, the source tree's
build/lib, or the system loader path.
"""
from ._core import Context, has_cuda, version, version_number
from ._errors import StreamquantError
from ._job import Job, Progress
from ._layer import QuantizedLayer, quantize_layer
from ._model import Model, TensorInfo, perplexity
from ._tokenizer import Tokenizer

__all__ = ["Context", "Job", "Model", "Progress", "QuantizedLayer", "StreamquantError", "TensorInfo", "Tokenizer",
           "has_cuda", "perplexity", "quantize_layer", "version", "version_number"]
