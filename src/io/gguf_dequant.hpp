// Decoding of GGUF tensor storage (plain floats and llama.cpp's block-quantized types) to fp32.
// Blocks run along ne[0], the input dimension, so a row of a weight matrix is a whole number of blocks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "util/dtype.hpp"

namespace sq {

// Decode `n` elements of type `t` (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K or Q6_K) from `src` into
// `dst`. `n` must be a multiple of dtype_block_elems(t); `src` holds dtype_storage_bytes(t, n) bytes and
// needs no particular alignment. Other types give SQ_ERR_UNSUPPORTED.
void gguf_dequantize(DType t, const uint8_t* src, float* dst, size_t n);

}  // namespace sq
