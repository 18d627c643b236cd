#!/usr/bin/env python3
"""Write a GGUF file of random blocks of every storage type the reader decodes, each followed by an F32
tensor '<type>.expected' holding what the `gguf` package's dequantizer makes of it. The unit test
GgufDequant.MatchesTheGgufPackage compares bit for bit when SQ_GGUF_CROSSCHECK names the file:

    python3 tests/scripts/make_gguf_crosscheck.py /tmp/crosscheck.gguf
    SQ_GGUF_CROSSCHECK=/tmp/crosscheck.gguf ./build/bin/sq_unit_tests --gtest_filter='GgufDequant*'
"""
import sys

try:
    import gguf
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"skip: {e}")
    sys.exit(0)

from gguf import GGMLQuantizationType as Q

# Byte offsets of the fp16 scale fields in each block: set to finite values so no NaN payloads appear.
HALF_FIELDS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q8_0: [0], Q.Q4_K: [0, 2], Q.Q6_K: [208]}


def main(path: str) -> None:
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(path, "llama")
    for qt in [Q.Q4_0, Q.Q4_1, Q.Q8_0, Q.Q4_K, Q.Q6_K, Q.BF16, Q.F16]:
        if qt in HALF_FIELDS:
            block, size = gguf.GGML_QUANT_SIZES[qt]
            n_blocks = 4 * 512 // block
            raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
            for off in HALF_FIELDS[qt]:
                halves = (rng.standard_normal(n_blocks) * 0.1).astype(np.float16)
                raw[:, off:off + 2] = halves.view(np.uint8).reshape(n_blocks, 2)
            raw = raw.reshape(4, -1)
        else:
            raw = gguf.quants.quantize(rng.standard_normal((4, 512)).astype(np.float32), qt)
        w.add_tensor(qt.name, raw, raw_dtype=qt)
        w.add_tensor(qt.name + ".expected", gguf.quants.dequantize(raw, qt).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gguf_crosscheck.gguf")
