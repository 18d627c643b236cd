// GPTQ bit packing (FORMATS.md): values form one little-endian bit stream of b-bit fields, least
// significant bits first, cut into int32 words. For b in {2,4,8} a word holds 32/b whole values; for
// b = 3, 32 values fill 3 words and values 10 and 21 straddle word boundaries.
//   qweight [cols*b/32, rows]: column n's stream runs along the input dimension k.
//   qzeros  [n_groups, rows*b/32]: group g's stream runs along the output dimension n.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sq {

// codes: row-major [rows, cols] (out, in). cols * bits must be a multiple of 32.
std::vector<int32_t> pack_qweight(const uint8_t* codes, int64_t rows, int64_t cols, int bits);
std::vector<uint8_t> unpack_qweight(const int32_t* qweight, int64_t rows, int64_t cols, int bits);

// values: row-major [n_groups, rows], each in [0, 2^bits) (callers apply the v1 "z - 1" convention).
std::vector<int32_t> pack_qzeros(const uint32_t* values, int64_t n_groups, int64_t rows, int bits);
std::vector<uint32_t> unpack_qzeros(const int32_t* qzeros, int64_t n_groups, int64_t rows, int bits);

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
