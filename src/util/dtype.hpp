// Storage dtypes (the SQ_DTYPE_* codes of the C API) and their properties.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "streamquant/sq_core.h"

namespace sq {

using DType = int32_t;  // one of SQ_DTYPE_*

// Bytes per element for plain dtypes; 0 for block-quantized ones (see block_size/block_bytes).
size_t dtype_size(DType t);
// For block-quantized GGUF types: elements per block and bytes per block. 1/dtype_size for plain types.
size_t dtype_block_elems(DType t);
size_t dtype_block_bytes(DType t);
// Bytes needed for `numel` elements, or throws SQ_ERR_FORMAT when numel is not a whole number of blocks.
size_t dtype_storage_bytes(DType t, uint64_t numel, const std::string& what);
const char* dtype_name(DType t);  // "F32", "BF16", "Q4_1", ...; "?" when unknown
bool dtype_is_float(DType t);     // F32, F16, BF16

// Convert `n` elements of a plain float dtype (F32/F16/BF16) to fp32.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);
// Convert fp32 to F32/F16/BF16 storage.
void convert_from_f32(DType t, const float* src, void* dst, size_t n);

}  // namespace sq
