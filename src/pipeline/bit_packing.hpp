// Dense bit streams of the project's own container (layer_codec.hpp): codes laid one after another, LSB first.
// (GPTQ's int32-word packing of qweight/qzeros lives in quant/pack.hpp.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sq {

// A dense LSB-first bit stream of b-bit values (the sq container's code payload); ceil(n*b/8) bytes.
std::vector<uint8_t> pack_bitstream(const uint8_t* values, size_t n, int bits);
std::vector<uint8_t> unpack_bitstream(const uint8_t* bytes, size_t nbytes, size_t n, int bits);

// The same stream with a width per column (CLAQ's adaptive precision): codes [rows, cols] row-major, element
// (r, k) takes widths[k] bits (1..8) right after element (r, k - 1); ceil(rows * sum(widths) / 8) bytes.
std::vector<uint8_t> pack_bitstream_columns(const uint8_t* codes, int64_t rows, int64_t cols, const uint8_t* widths);
std::vector<uint8_t> unpack_bitstream_columns(const uint8_t* bytes, size_t nbytes, int64_t rows, int64_t cols,
                                              const uint8_t* widths);
// Bytes of that stream.
size_t bitstream_columns_bytes(int64_t rows, int64_t cols, const uint8_t* widths);

}  // namespace sq
